/* SPDX-License-Identifier: BSD-3-Clause */
/* e2nf-urlclass's category file: `CATEGORY PATTERN` lines, first match in file order.
 * PATTERN is a host suffix (`.example.com`: example.com and every name under it), an
 * exact host (`www.example.com`), or a host + path prefix (`example.com/video/`). URLs
 * are those of http_req_url: host lower case without port, then the path. */
#ifndef E2NF_URL_CATEGORIES_H
#define E2NF_URL_CATEGORIES_H

#include <stddef.h>

#include "e2/err.h"
#include "http_req.h"

#define URLCAT_MAX 64 /* categories */
#define URLCAT_NAME_MAX 31
#define URLCAT_RULES_MAX 65536
#define URLCAT_UNCATEGORIZED "uncategorized" /* reserved: URLs no rule matches */

enum urlcat_kind { URLCAT_SUFFIX, URLCAT_HOST, URLCAT_PREFIX };

struct urlcat_rule {
	enum urlcat_kind kind;
	unsigned cat, line;
	size_t len;
	char pat[HTTP_URL_MAX + 1]; /* lower-case host part */
};

struct urlcat_set {
	struct urlcat_rule *rules;
	unsigned n, n_cats;
	char names[URLCAT_MAX][URLCAT_NAME_MAX + 1];
};

/* Parses len bytes of text (need not end in NUL); errors say "origin:LINE: what".
 * Returns 0, or -1 with nothing to free. */
int urlcat_parse(const char *text, size_t len, const char *origin, struct urlcat_set *s, struct e2_err *err);
void urlcat_free(struct urlcat_set *s);
/* The category (index into names) of the first rule matching url, or -1. */
int urlcat_match(const struct urlcat_set *s, const char *url, size_t len);
/* The category named name, or -1. */
int urlcat_find(const struct urlcat_set *s, const char *name);

#endif
