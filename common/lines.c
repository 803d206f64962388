/* SPDX-License-Identifier: BSD-3-Clause */
#include <errno.h>
#include <stdlib.h>
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

void e2_line_iter_stream(struct e2_line_iter *it, FILE *f, const char *origin)
{
	*it = (struct e2_line_iter){.stream = f, .origin = origin};
}

void e2_line_iter_fini(struct e2_line_iter *it)
{
	free(it->sbuf);
	it->sbuf = NULL;
	it->scap = 0;
}

/* Line it->lineno, ll bytes at start, into it->w: 1 with words, 0 without, -1 refused. */
static int split(struct e2_line_iter *it, const char *start, size_t ll, int max_words, struct e2_err *err)
{
	char *save = NULL;
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
	return it->n > 0;
}

int e2_line_iter_next(struct e2_line_iter *it, int max_words, struct e2_err *err)
{
	if (max_words > E2_LINE_WORDS_MAX)
		max_words = E2_LINE_WORDS_MAX;
	for (;;) {
		const char *start;
		size_t ll;
		if (it->stream) {
			errno = 0;
			ssize_t r = getline(&it->sbuf, &it->scap, it->stream);
			if (r <= 0) {
				if (ferror(it->stream)) {
					e2_seterr(err, "%s: cannot read: %s", it->origin,
						  strerror(errno ? errno : EIO));
					return -1;
				}
				return 0;
			}
			start = it->sbuf;
			ll = (size_t)r - (it->sbuf[r - 1] == '\n');
			it->lineno++;
			if (memchr(start, '\0', ll)) {
				e2_seterr(err, "%s:%u: contains a NUL byte (not a text line)", it->origin, it->lineno);
				return -1;
			}
		} else {
			if (it->pos >= it->len)
				return 0;
			start = it->text + it->pos;
			const char *nl = memchr(start, '\n', it->len - it->pos);
			ll = nl ? (size_t)(nl - start) : it->len - it->pos;
			it->pos += ll + 1;
			it->lineno++;
		}
		int rc = split(it, start, ll, max_words, err);
		if (rc)
			return rc;
	}
}
