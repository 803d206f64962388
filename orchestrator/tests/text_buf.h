/* SPDX-License-Identifier: BSD-3-Clause */
/* A growing text buffer, for the YAML that tests/small_problems.h and
 * bench_placement.c generate and feed to the real loaders. */
#ifndef E2_ORCH_TEST_TEXT_BUF_H
#define E2_ORCH_TEST_TEXT_BUF_H

#include "e2/mem.h"

#include <stdarg.h>
#include <stdio.h>

struct text_buf {
	char *s; /* NUL-terminated once anything is printed */
	size_t n, cap;
};

static inline void text_printf(struct text_buf *b, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
static inline void text_printf(struct text_buf *b, const char *fmt, ...)
{
	for (;;) {
		va_list ap;
		va_start(ap, fmt);
		int w = vsnprintf(b->s ? b->s + b->n : NULL, b->s ? b->cap - b->n : 0, fmt, ap);
		va_end(ap);
		if (b->s && (size_t)w < b->cap - b->n) {
			b->n += (size_t)w;
			return;
		}
		b->cap = b->cap * 2 + (size_t)w + 256;
		b->s = e2_xrealloc(b->s, b->cap);
	}
}

#endif
