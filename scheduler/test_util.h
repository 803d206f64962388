/* SPDX-License-Identifier: BSD-3-Clause */
/* Helpers shared by the Alpine tests. */
#ifndef E2_ALPINE_TEST_UTIL_H
#define E2_ALPINE_TEST_UTIL_H

#include "alpine.h"

#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

static inline char *plan_text(const alp_plan *p, size_t *len)
{
	char *buf = NULL;
	FILE *f = open_memstream(&buf, len);
	if (!f)
		return NULL;
	alp_plan_write_e2d(p, f);
	fclose(f);
	return buf;
}

static inline bool same_check(const alp_check *a, const alp_check *b)
{
	size_t nc = (size_t)a->nclasses * sizeof(double);
	return a->nclasses == b->nclasses && a->tasks == b->tasks && a->queues == b->queues &&
	       a->total_mpps == b->total_mpps && a->max_error == b->max_error && !memcmp(a->mpps, b->mpps, nc) &&
	       !memcmp(a->cpu, b->cpu, nc) && strcmp(a->msg, b->msg) == 0;
}

/* The checker again on text, with the plan's graph pg: the same figures as `want`, or
 * false with the reason printed. */
static inline bool check_again(const alp_graph *g, const alp_graph *pg, const char *text, size_t len,
			       const alp_check *want, const char *how)
{
	char err[ALP_ERRLEN];
	alp_check again;
	if (alp_check_plan(g, pg, text, len, &again, err) < 0) {
		fprintf(stderr, "checker (%s): %s\n--- plan ---\n%s\n", how, err, text);
		return false;
	}
	bool same = same_check(want, &again);
	if (!same)
		fprintf(stderr, "checker (%s): other figures (%.6f Mpps, not %.6f)\n--- plan ---\n%s\n", how,
			again.total_mpps, want->total_mpps, text);
	alp_check_free(&again);
	return same;
}

/* Runs the model checker on a plan, with the graph the plan executes; returns the max
 * SLO error (or 99 on a checker error, with the message printed). The plan's graph as
 * `alpine --graph-out` writes it and `alpine check --graph` reads it back must give the
 * same figures, and so must no plan graph at all when the plan does not rewrite g. */
static inline double check_plan(const alp_graph *g, const alp_plan *p, alp_check *out)
{
	size_t len;
	char *text = plan_text(p, &len);
	char err[ALP_ERRLEN];
	if (!text)
		return 99;
	if (alp_check_plan(g, p->g, text, len, out, err) < 0) {
		fprintf(stderr, "checker: %s\n--- plan ---\n%s\n", err, text);
		free(text);
		return 99;
	}
	char *json = alp_graph_print_json(p->g, NULL, err);
	alp_graph *back = json ? alp_graph_parse(json, strlen(json), NULL, err) : NULL;
	bool ok = back && check_again(g, back, text, len, out, "the plan's graph read back");
	if (!back)
		fprintf(stderr, "the plan's graph does not read back: %s\n%s\n", err, json ? json : "");
	if (ok && p->g == g)
		ok = check_again(g, NULL, text, len, out, "without the plan's graph");
	alp_graph_free(back);
	free(json);
	free(text);
	return ok ? out->max_error : 99;
}

static inline alp_graph *load_example(const char *name)
{
	const char *src = getenv("E2_SOURCE_DIR");
	char path[4096], err[ALP_ERRLEN];
	snprintf(path, sizeof(path), "%s/examples/alpine/%s", src ? src : "..", name);
	alp_graph *g = alp_graph_load(path, err);
	if (!g)
		fprintf(stderr, "%s: %s\n", path, err);
	return g;
}

static inline alp_graph *parse_str(const char *json, char *err)
{
	return alp_graph_parse(json, strlen(json), NULL, err);
}

#endif
