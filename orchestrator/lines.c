/* SPDX-License-Identifier: BSD-3-Clause */
/* Lists of plan lines. The e2d commands among them are built through cmdlang, the
 * one reader and writer of e2d's language: what the plan shows is the printer's
 * canonical line of a request the parser took, so a plan never holds a line e2d
 * would refuse to read. */
#include "e2/orch.h"

#include <stdarg.h>
#include <stdlib.h>
#include <string.h>

static void append(struct e2_lines *l, char *text, E2__Dp__Request *req)
{
	if (l->n == l->cap) {
		l->cap = l->cap ? l->cap * 2 : 16;
		l->v = e2_xrealloc(l->v, l->cap * sizeof *l->v);
		l->req = e2_xrealloc(l->req, l->cap * sizeof *l->req);
	}
	l->v[l->n] = text;
	l->req[l->n++] = req;
}

__attribute__((format(printf, 1, 0))) static char *format(const char *fmt, va_list ap)
{
	char *s = NULL;
	if (vasprintf(&s, fmt, ap) < 0)
		abort();
	return s;
}

void e2_lines_add(struct e2_lines *l, const char *fmt, ...)
{
	va_list ap;
	va_start(ap, fmt);
	char *s = format(fmt, ap);
	va_end(ap);
	append(l, s, NULL);
}

/* The request of a line the planner wrote, and its canonical text in *text. */
static E2__Dp__Request *command(const char *line, char **text)
{
	char err[1024];
	E2__Dp__Request *req = e2_cmd_parse(line, err, sizeof err);
	if (!req) {
		fprintf(stderr, "e2orch: the plan's e2d line '%s' does not parse: %s\n", line,
			err[0] ? err : "not a command");
		abort();
	}
	*text = e2_cmd_line(req);
	if (!*text) {
		fprintf(stderr, "e2orch: the plan's e2d line '%s' has no canonical text\n", line);
		abort();
	}
	return req;
}

void e2_lines_cmd(struct e2_lines *l, const char *fmt, ...)
{
	va_list ap;
	va_start(ap, fmt);
	char *line = format(fmt, ap);
	va_end(ap);
	char *text;
	E2__Dp__Request *req = command(line, &text);
	free(line);
	append(l, text, req);
}

void e2_lines_cmd_for(struct e2_lines *l, const char *server, const char *fmt, ...)
{
	va_list ap;
	va_start(ap, fmt);
	char *line = format(fmt, ap);
	va_end(ap);
	char *text, *shown;
	E2__Dp__Request *req = command(line, &text);
	free(line);
	if (asprintf(&shown, "e2d %s: %s", server, text) < 0)
		abort();
	free(text);
	append(l, shown, req);
}

void e2_lines_free(struct e2_lines *l)
{
	for (unsigned i = 0; i < l->n; i++) {
		free(l->v[i]);
		if (l->req[i])
			e2__dp__request__free_unpacked(l->req[i], NULL);
	}
	free(l->v);
	free(l->req);
	l->v = NULL;
	l->req = NULL;
	l->n = l->cap = 0;
}
