/* SPDX-License-Identifier: BSD-3-Clause */
/* E2D configuration lines: the tokenizer shared by the graph importer and the plan
 * checker, and the importer itself (`module add` and `connect` lines). */
#include "alpine.h"

#include <ctype.h>
#include <errno.h>
#include <stdlib.h>
#include <string.h>

int alp_split_line(char *line, alp_line *out)
{
	out->ntok = 0;
	char *p = line;
	for (;;) {
		while (*p && isspace((unsigned char)*p))
			p++;
		if (!*p || *p == '#')
			break;
		if (out->ntok == ALP_MAXTOK)
			return -1;
		out->tok[out->ntok++] = p;
		while (*p && !isspace((unsigned char)*p))
			p++;
		if (*p)
			*p++ = '\0';
	}
	return out->ntok;
}

const char *alp_kv(const alp_line *l, int from, const char *key)
{
	size_t k = strlen(key);
	for (int i = from; i < l->ntok; i++)
		if (strncmp(l->tok[i], key, k) == 0 && l->tok[i][k] == '=')
			return l->tok[i] + k + 1;
	return NULL;
}

int alp_name_gate(char *s, int *gate)
{
	*gate = 0;
	char *c = strchr(s, ':');
	if (!c)
		return 0;
	*c = '\0';
	char *end;
	errno = 0;
	long v = strtol(c + 1, &end, 10);
	if (errno || end == c + 1 || *end || v < 0 || v > 4095)
		return -1;
	*gate = (int)v;
	return 0;
}

/* Iterates over the lines of a buffer that need not be NUL-terminated. */
typedef struct {
	const char *p, *end;
	int lineno;
	char buf[4096];
} line_iter;

static bool next_line(line_iter *it, char *err, bool *too_long)
{
	*too_long = false;
	if (it->p >= it->end)
		return false;
	const char *nl = memchr(it->p, '\n', (size_t)(it->end - it->p));
	size_t len = nl ? (size_t)(nl - it->p) : (size_t)(it->end - it->p);
	it->lineno++;
	if (len >= sizeof(it->buf)) {
		*too_long = true;
		snprintf(err, ALP_ERRLEN, "line %d: longer than %zu bytes", it->lineno, sizeof(it->buf) - 1);
	} else {
		memcpy(it->buf, it->p, len);
		it->buf[len] = '\0';
		if (memchr(it->buf, '\0', len)) {
			*too_long = true;
			snprintf(err, ALP_ERRLEN, "line %d: contains a NUL byte", it->lineno);
		}
	}
	it->p += len + (nl ? 1 : 0);
	return true;
}

int alp_e2d_import(alp_graph *g, const char *text, size_t len, char *err)
{
	line_iter it = {.p = text, .end = text + len};
	bool bad;
	char sub[ALP_ERRLEN];
	while (next_line(&it, err, &bad)) {
		if (bad)
			return -1;
		alp_line l;
		if (alp_split_line(it.buf, &l) < 0) {
			snprintf(err, ALP_ERRLEN, "e2d config line %d: too many words", it.lineno);
			return -1;
		}
		if (l.ntok >= 2 && strcmp(l.tok[0], "module") == 0 && strcmp(l.tok[1], "add") == 0) {
			if (l.ntok < 4) {
				snprintf(err, ALP_ERRLEN, "e2d config line %d: 'module add NAME CLASS ...' expected",
					 it.lineno);
				return -1;
			}
			double cycles = 0;
			char args[3000] = "";
			size_t used = 0;
			for (int i = 4; i < l.ntok; i++) {
				if (strncmp(l.tok[i], "cycles=", 7) == 0) {
					char *end;
					cycles = strtod(l.tok[i] + 7, &end);
					if (end == l.tok[i] + 7 || *end) {
						snprintf(err, ALP_ERRLEN, "e2d config line %d: bad cycles '%s'",
							 it.lineno, l.tok[i] + 7);
						return -1;
					}
					continue;
				}
				int w = snprintf(args + used, sizeof(args) - used, "%s%s", used ? " " : "", l.tok[i]);
				if (w < 0 || (size_t)w >= sizeof(args) - used) {
					snprintf(err, ALP_ERRLEN, "e2d config line %d: arguments too long", it.lineno);
					return -1;
				}
				used += (size_t)w;
			}
			if (alp_graph_add_module(g, l.tok[2], l.tok[3], args, cycles, false, sub) < 0) {
				snprintf(err, ALP_ERRLEN, "e2d config line %d: %s", it.lineno, sub);
				return -1;
			}
		} else if (l.ntok >= 1 && strcmp(l.tok[0], "connect") == 0) {
			if (l.ntok != 3) {
				snprintf(err, ALP_ERRLEN,
					 "e2d config line %d: 'connect FROM[:OGATE] TO[:IGATE]' expected", it.lineno);
				return -1;
			}
			int og, ig;
			if (alp_name_gate(l.tok[1], &og) < 0 || alp_name_gate(l.tok[2], &ig) < 0) {
				snprintf(err, ALP_ERRLEN, "e2d config line %d: bad gate number", it.lineno);
				return -1;
			}
			int f = alp_graph_find(g, l.tok[1]), t = alp_graph_find(g, l.tok[2]);
			if (f < 0 || t < 0) {
				snprintf(err, ALP_ERRLEN, "e2d config line %d: unknown module '%s'", it.lineno,
					 f < 0 ? l.tok[1] : l.tok[2]);
				return -1;
			}
			if (alp_graph_connect(g, f, og, t, ig, sub) < 0) {
				snprintf(err, ALP_ERRLEN, "e2d config line %d: %s", it.lineno, sub);
				return -1;
			}
		}
		/* port add, worker add, task attach, module cmd ...: not part of the graph */
	}
	return 0;
}
