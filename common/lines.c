/* SPDX-License-Identifier: BSD-3-Clause */
#include <string.h>

#include "e2/lines.h"

int e2_line_iter_init(struct e2_line_iter *it, const char *text, size_t len, const char *origin, struct e2_err *err)
{
	*it = (struct e2_line_iter){.text = text, .len = len, .origin = origin};
	if (len && memchr(text, '\0', len)) {
		e2_seterr(err, "%s: contains a NUL byte (not a text file)", origin);
		return -1;
	}
	return 0;
}

int e2_line_iter_next(struct e2_line_iter *it, int max_words, struct e2_err *err)
{
	if (max_words > E2_LINE_WORDS_MAX)
		max_words = E2_LINE_WORDS_MAX;
	while (it->pos < it->len) {
		const char *start = it->text + it->pos;
		const char *nl = memchr(start, '\n', it->len - it->pos);
		size_t ll = nl ? (size_t)(nl - start) : it->len - it->pos;
		char *save = NULL;

		it->lineno++;
		it->pos += ll + 1;
		if (ll > E2_LINE_MAX) {
			e2_seterr(err, "%s:%u: line longer than %d characters", it->origin, it->lineno, E2_LINE_MAX);
			return -1;
		}
		memcpy(it->buf, start, ll);
		it->buf[ll] = '\0';
		it->buf[strcspn(it->buf, "#")] = '\0';
		it->n = 0;
		for (char *t = strtok_r(it->buf, " \t\r", &save); t; t = strtok_r(NULL, " \t\r", &save)) {
			if (it->n == max_words) {
				e2_seterr(err, "%s:%u: too many words (at most %d)", it->origin, it->lineno, max_words);
				return -1;
			}
			it->w[it->n++] = t;
		}
		if (it->n)
			return 1;
	}
	return 0;
}
