/* SPDX-License-Identifier: BSD-3-Clause */
/* libFuzzer target: e2nf-urlclass's category file of any shape parses or is refused
 * with "origin:LINE: what" (or "origin: no rules"). A parsed file printed back as
 * `CATEGORY PATTERN` lines parses to the same rules, and every rule matches a URL made
 * from its own pattern (some rule does, the first-matching one at or before it). */
#include "e2/fuzz.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "../nfs/url_categories.h"

static const char *kind_url(const struct urlcat_rule *r, char *buf)
{
	switch (r->kind) {
	case URLCAT_SUFFIX: snprintf(buf, HTTP_URL_MAX + 1, "x%s/p", r->pat); break;
	case URLCAT_HOST: snprintf(buf, HTTP_URL_MAX + 1, "%s/p", r->pat); break;
	case URLCAT_PREFIX: snprintf(buf, HTTP_URL_MAX + 1, "%s", r->pat); break;
	}
	return buf;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	struct urlcat_set s, t;
	struct e2_err err;

	if (urlcat_parse((const char *)data, size, "fuzz", &s, &err) != 0) {
		if (strncmp(err.msg, "fuzz:", 5) != 0)
			abort();
		return 0;
	}
	if (s.n == 0 || s.n_cats == 0 || s.n_cats > URLCAT_MAX)
		abort();
	size_t cap = (size_t)s.n * (URLCAT_NAME_MAX + HTTP_URL_MAX + 3) + 1, o = 0;
	char *text = malloc(cap);
	if (!text)
		abort();
	for (unsigned i = 0; i < s.n; i++) {
		const struct urlcat_rule *r = &s.rules[i];
		char url[HTTP_URL_MAX + 1];
		if (r->cat >= s.n_cats || r->len != strlen(r->pat) || r->len > HTTP_URL_MAX)
			abort();
		o += (size_t)snprintf(text + o, cap - o, "%s %s\n", s.names[r->cat], r->pat);
		kind_url(r, url);
		if (strlen(url) <= HTTP_URL_MAX && r->len + 3 <= HTTP_URL_MAX && urlcat_match(&s, url, strlen(url)) < 0)
			abort();
	}
	if (urlcat_parse(text, o, "printed", &t, &err) != 0)
		abort();
	if (t.n != s.n || t.n_cats != s.n_cats)
		abort();
	for (unsigned i = 0; i < s.n; i++)
		if (t.rules[i].kind != s.rules[i].kind || t.rules[i].cat != s.rules[i].cat ||
		    strcmp(t.rules[i].pat, s.rules[i].pat) != 0 || t.rules[i].line != i + 1)
			abort();
	for (unsigned i = 0; i < s.n_cats; i++)
		if (strcmp(t.names[i], s.names[i]) != 0)
			abort();
	free(text);
	urlcat_free(&s);
	urlcat_free(&t);
	return 0;
}
