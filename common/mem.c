/* SPDX-License-Identifier: BSD-3-Clause */
#include "e2/mem.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

static void out_of_memory(size_t size)
{
	fprintf(stderr, "e2: out of memory (allocating %zu bytes)\n", size);
	abort();
}

/* A zero size is asked for as one byte, so that NULL always means failure. */
void *e2_xmalloc(size_t size)
{
	void *p = malloc(size ? size : 1);
	if (!p)
		out_of_memory(size);
	return p;
}

void *e2_xcalloc(size_t n, size_t size)
{
	void *p = calloc(n ? n : 1, size ? size : 1);
	if (!p)
		out_of_memory(n * size);
	return p;
}

void *e2_xrealloc(void *p, size_t size)
{
	void *q = realloc(p, size ? size : 1);
	if (!q)
		out_of_memory(size);
	return q;
}

char *e2_xstrdup(const char *s)
{
	char *d = strdup(s);
	if (!d)
		out_of_memory(strlen(s) + 1);
	return d;
}

char *e2_xstrndup(const char *s, size_t n)
{
	char *d = strndup(s, n);
	if (!d)
		out_of_memory(n + 1);
	return d;
}
