/* SPDX-License-Identifier: BSD-3-Clause */
/* Configuration texts read a line at a time: "#" starts a comment, words are separated by
 * blanks, lines without words are skipped. The one walker every line-oriented rule and
 * configuration format shares, so each refuses the same bad input with the same words. */
#ifndef E2_LINES_H
#define E2_LINES_H

#include <stddef.h>
#include <stdio.h>

#include "e2/err.h"

#define E2_LINE_MAX 1024 /* characters of a line, its newline not counted */
#define E2_LINE_WORDS_MAX 32

struct e2_line_iter {
	const char *text, *origin;
	size_t len, pos;
	FILE *stream; /* the stream form: lines read as they come */
	char *sbuf;
	size_t scap;
	unsigned lineno; /* of the line e2_line_iter_next returned last, counted from 1 */
	int n;           /* its words */
	char *w[E2_LINE_WORDS_MAX];
	char buf[E2_LINE_MAX + 1];
};

/* Starts walking text (len bytes; it need not end in a newline nor be NUL-terminated).
 * origin names it in messages, as "ORIGIN:LINE: ...". Refuses a text holding a NUL byte
 * (not a text file): -1 with err set. */
int e2_line_iter_init(struct e2_line_iter *it, const char *text, size_t len, const char *origin, struct e2_err *err);

/* The same over a stream, a line read at a time (a co-process gets each answer before it
 * writes the next line); a line holding a NUL byte is refused by e2_line_iter_next.
 * e2_line_iter_fini frees the line buffer. */
void e2_line_iter_stream(struct e2_line_iter *it, FILE *f, const char *origin);
void e2_line_iter_fini(struct e2_line_iter *it);

/* The next line with words, split into it->w[0 .. it->n - 1] (pointers into it->buf,
 * valid until the next call): 1; 0 at the end of the text; -1 with err set for a line
 * longer than E2_LINE_MAX or with more than max_words words (at most E2_LINE_WORDS_MAX),
 * and in the stream form for a NUL byte or a read error. */
int e2_line_iter_next(struct e2_line_iter *it, int max_words, struct e2_err *err);

#endif
