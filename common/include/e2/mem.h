/* SPDX-License-Identifier: BSD-3-Clause */
/* Memory for control-path code (parsers, planners, the state of daemons and tools).
 * Running out of memory there leaves nothing sensible to do, and a NULL passed on
 * unchecked is a crash somewhere else later; these stop the process at once with a
 * message instead (OVS's xmalloc does the same). Every input E2 reads is bounded (see
 * each part's limits), so reaching this means the machine itself is out of memory.
 * The packet path never allocates this way. */
#ifndef E2_MEM_H
#define E2_MEM_H

#include <stddef.h>

void *e2_xmalloc(size_t size);
void *e2_xcalloc(size_t n, size_t size);
void *e2_xrealloc(void *p, size_t size);
char *e2_xstrdup(const char *s);
char *e2_xstrndup(const char *s, size_t n);

#endif
