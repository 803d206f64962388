/* SPDX-License-Identifier: BSD-3-Clause */
#include <stdlib.h>
#include <string.h>

#include "url_categories.h"

static bool name_char(char c)
{
	return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') || c == '_' || c == '-';
}

int urlcat_find(const struct urlcat_set *s, const char *name)
{
	for (unsigned i = 0; i < s->n_cats; i++)
		if (strcmp(s->names[i], name) == 0)
			return (int)i;
	return -1;
}

/* One line, without comment and surrounding blanks, into r (r->line set). */
static int parse_line(struct urlcat_set *s, const char *l, size_t n, struct urlcat_rule *r, struct e2_err *err)
{
	size_t a = 0;

	while (a < n && l[a] != ' ' && l[a] != '\t')
		a++;
	size_t b = a;
	while (b < n && (l[b] == ' ' || l[b] == '\t'))
		b++;
	if (b == n) {
		e2_seterr(err, "expected 'CATEGORY PATTERN', got '%.*s'", (int)(n < 60 ? n : 60), l);
		return -1;
	}
	const char *pat = l + b;
	size_t plen = n - b;
	for (size_t k = 0; k < plen; k++)
		if (pat[k] == ' ' || pat[k] == '\t') {
			e2_seterr(err, "one pattern per line: '%.*s' follows it", (int)(plen - k < 40 ? plen - k : 40),
				  pat + k);
			return -1;
		}
	if (a > URLCAT_NAME_MAX) {
		e2_seterr(err, "category name longer than %d characters", URLCAT_NAME_MAX);
		return -1;
	}
	char name[URLCAT_NAME_MAX + 1];
	memcpy(name, l, a);
	name[a] = '\0';
	for (size_t k = 0; k < a; k++)
		if (!name_char(name[k])) {
			e2_seterr(err, "category '%s': only letters, digits, '_' and '-'", name);
			return -1;
		}
	if (strcmp(name, URLCAT_UNCATEGORIZED) == 0) {
		e2_seterr(err, "'%s' is reserved for URLs no rule matches", URLCAT_UNCATEGORIZED);
		return -1;
	}
	if (plen > HTTP_URL_MAX) {
		e2_seterr(err,
			  "pattern of %zu bytes: URLs are cut to %d bytes (the url attribute), so it could never match",
			  plen, HTTP_URL_MAX);
		return -1;
	}
	const char *slash = memchr(pat, '/', plen);
	size_t host_len = slash ? (size_t)(slash - pat) : plen;
	if (pat[0] == '.') {
		if (slash || plen < 2) {
			e2_seterr(err, "'%.*s': a host suffix (.example.com) has a name after the dot and no path",
				  (int)plen, pat);
			return -1;
		}
		r->kind = URLCAT_SUFFIX;
	} else {
		r->kind = slash ? URLCAT_PREFIX : URLCAT_HOST;
	}
	if (host_len == 0 || (r->kind == URLCAT_PREFIX && host_len == 0)) {
		e2_seterr(err, "'%.*s': a pattern starts with a host", (int)plen, pat);
		return -1;
	}
	for (size_t k = 0; k < plen; k++) {
		char c = pat[k];
		if ((unsigned char)c < 0x21 || (unsigned char)c > 0x7e) {
			e2_seterr(err, "pattern has a byte 0x%02x that no URL has", (unsigned char)c);
			return -1;
		}
		if (k < host_len && c >= 'A' && c <= 'Z')
			c = (char)(c - 'A' + 'a');
		if (k < host_len && c == ':') {
			e2_seterr(err, "'%.*s': no port in a pattern (URLs carry the host without it)", (int)plen, pat);
			return -1;
		}
		r->pat[k] = c;
	}
	r->pat[plen] = '\0';
	r->len = plen;
	int cat = urlcat_find(s, name);
	if (cat < 0) {
		if (s->n_cats == URLCAT_MAX) {
			e2_seterr(err, "more than %d categories", URLCAT_MAX);
			return -1;
		}
		cat = (int)s->n_cats++;
		memcpy(s->names[cat], name, a + 1);
	}
	r->cat = (unsigned)cat;
	return 0;
}

int urlcat_parse(const char *text, size_t len, const char *origin, struct urlcat_set *s, struct e2_err *err)
{
	size_t cap = 0, i = 0;
	unsigned line = 0;

	memset(s, 0, sizeof(*s));
	while (i < len) {
		const char *nl = memchr(text + i, '\n', len - i);
		size_t end = nl ? (size_t)(nl - text) : len, n;
		const char *l = text + i;
		line++;
		i = end + 1;
		n = end - (size_t)(l - text);
		const char *hash = memchr(l, '#', n);
		if (hash)
			n = (size_t)(hash - l);
		while (n && (l[0] == ' ' || l[0] == '\t'))
			l++, n--;
		while (n && (l[n - 1] == ' ' || l[n - 1] == '\t' || l[n - 1] == '\r'))
			n--;
		if (n == 0)
			continue;
		if (memchr(l, '\0', n)) {
			e2_seterr(err, "%s:%u: a NUL byte", origin, line);
			goto fail;
		}
		if (s->n == URLCAT_RULES_MAX) {
			e2_seterr(err, "%s:%u: more than %d rules", origin, line, URLCAT_RULES_MAX);
			goto fail;
		}
		if (s->n == cap) {
			cap = cap ? cap * 2 : 16;
			struct urlcat_rule *nr = realloc(s->rules, cap * sizeof(*nr));
			if (!nr) {
				e2_seterr(err, "%s:%u: out of memory", origin, line);
				goto fail;
			}
			s->rules = nr;
		}
		struct urlcat_rule *r = &s->rules[s->n];
		r->line = line;
		if (parse_line(s, l, n, r, err) != 0) {
			e2_err_context(err, "%s:%u", origin, line);
			goto fail;
		}
		s->n++;
	}
	if (s->n == 0) {
		e2_seterr(err, "%s: no rules (lines 'CATEGORY PATTERN')", origin);
		goto fail;
	}
	return 0;
fail:
	urlcat_free(s);
	return -1;
}

void urlcat_free(struct urlcat_set *s)
{
	free(s->rules);
	s->rules = NULL;
	s->n = 0;
}

int urlcat_match(const struct urlcat_set *s, const char *url, size_t len)
{
	const char *slash = memchr(url, '/', len);
	size_t host_len = slash ? (size_t)(slash - url) : len;

	for (unsigned i = 0; i < s->n; i++) {
		const struct urlcat_rule *r = &s->rules[i];
		switch (r->kind) {
		case URLCAT_HOST:
			if (host_len == r->len && memcmp(url, r->pat, r->len) == 0)
				return (int)r->cat;
			break;
		case URLCAT_SUFFIX:
			if ((host_len == r->len - 1 && memcmp(url, r->pat + 1, r->len - 1) == 0) ||
			    (host_len > r->len && memcmp(url + host_len - r->len, r->pat, r->len) == 0))
				return (int)r->cat;
			break;
		case URLCAT_PREFIX:
			if (len >= r->len && memcmp(url, r->pat, r->len) == 0)
				return (int)r->cat;
			break;
		}
	}
	return -1;
}
