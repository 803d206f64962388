/* SPDX-License-Identifier: BSD-3-Clause */
/* Allocation for building protobuf messages on the control path: a few bytes at a
 * time, so running out of memory there leaves nothing sensible to do but abort. */
#ifndef E2_CMD_ALLOC_H
#define E2_CMD_ALLOC_H

#include <stdlib.h>
#include <string.h>

static inline char *ctl_strdup(const char *s)
{
	char *d = strdup(s ? s : "");
	if (!d)
		abort();
	return d;
}

static inline void *ctl_calloc(size_t n, size_t size)
{
	void *p = calloc(n ? n : 1, size);
	if (!p)
		abort();
	return p;
}

#endif
