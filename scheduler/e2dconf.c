/* SPDX-License-Identifier: BSD-3-Clause */
/* Importing a graph from an E2D configuration: its `module add` and `connect` lines,
 * read by cmdlang's parser, e2d's own. */
#include "alpine.h"

#include <stdlib.h>
#include <string.h>

#include "e2/cmd.h"

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

/* The arguments of a module other than cycles=, as the text e2d reads back: the
 * printer's canonical words. NULL with err when they are too long to keep. */
static char *module_args(const E2__Dp__ModuleCreate *mc, double *cycles, int lineno, char *err)
{
	E2__Dp__ModuleCreate rest = *mc;
	E2__Dp__Arg **kept = e2_xcalloc(mc->n_args + 1, sizeof(*kept));
	E2__Dp__Request r;
	rest.name = rest.mclass = "x";
	rest.args = kept;
	rest.n_args = 0;
	*cycles = 0;
	for (size_t i = 0; i < mc->n_args; i++) {
		const E2__Dp__Arg *arg = mc->args[i];
		if (strcmp(arg->key, "cycles") == 0) {
			char *end;
			*cycles = strtod(arg->value, &end);
			if (end == arg->value || *end) {
				snprintf(err, ALP_ERRLEN, "e2d config line %d: bad cycles '%s'", lineno, arg->value);
				free(kept);
				return NULL;
			}
			continue;
		}
		kept[rest.n_args++] = mc->args[i];
	}
	e2__dp__request__init(&r);
	r.version = E2_CTL_VERSION;
	r.op_case = E2__DP__REQUEST__OP_MODULE_CREATE;
	r.module_create = &rest;
	char *line = e2_cmd_line(&r);
	free(kept);
	if (!line)
		abort();
	/* "module add x x" and the arguments after it */
	const char *text = line + strlen("module add x x");
	text += *text == ' ';
	if (strlen(text) >= 3000) {
		snprintf(err, ALP_ERRLEN, "e2d config line %d: arguments too long", lineno);
		free(line);
		return NULL;
	}
	char *args = e2_xstrdup(text);
	free(line);
	return args;
}

/* Gates of a graph are 0..4095 (alp_graph_connect's range) */
static bool gate_ok(const E2__Dp__GateRef *g)
{
	return g && g->gate <= 4095;
}

int alp_e2d_import(alp_graph *g, const char *text, size_t len, char *err)
{
	line_iter it = {.p = text, .end = text + len};
	bool bad;
	char sub[ALP_ERRLEN];
	while (next_line(&it, err, &bad)) {
		if (bad)
			return -1;
		E2__Dp__Request *r = e2_cmd_parse(it.buf, sub, sizeof(sub));
		if (!r && sub[0]) {
			snprintf(err, ALP_ERRLEN, "e2d config line %d: %s", it.lineno, sub);
			return -1;
		}
		if (!r)
			continue; /* empty or a comment */
		int rc = 0;
		if (r->op_case == E2__DP__REQUEST__OP_MODULE_CREATE) {
			const E2__Dp__ModuleCreate *mc = r->module_create;
			double cycles;
			char *args = module_args(mc, &cycles, it.lineno, err);
			if (!args) {
				rc = -1;
			} else if (alp_graph_add_module(g, mc->name, mc->mclass, args, cycles, false, sub) < 0) {
				snprintf(err, ALP_ERRLEN, "e2d config line %d: %s", it.lineno, sub);
				rc = -1;
			}
			free(args);
		} else if (r->op_case == E2__DP__REQUEST__OP_CONNECT) {
			const E2__Dp__Connect *c = r->connect;
			int f = -1, t = -1;
			if (!gate_ok(c->from) || !gate_ok(c->to)) {
				snprintf(err, ALP_ERRLEN, "e2d config line %d: bad gate number", it.lineno);
				rc = -1;
			} else if ((f = alp_graph_find(g, c->from->module)) < 0 ||
				   (t = alp_graph_find(g, c->to->module)) < 0) {
				snprintf(err, ALP_ERRLEN, "e2d config line %d: unknown module '%s'", it.lineno,
					 f < 0 ? c->from->module : c->to->module);
				rc = -1;
			} else if (alp_graph_connect(g, f, (int)c->from->gate, t, (int)c->to->gate, sub) < 0) {
				snprintf(err, ALP_ERRLEN, "e2d config line %d: %s", it.lineno, sub);
				rc = -1;
			}
		}
		/* port add, worker add, task attach, module cmd ...: not part of the graph */
		e2__dp__request__free_unpacked(r, NULL);
		if (rc < 0)
			return -1;
	}
	return 0;
}
