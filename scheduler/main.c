/* SPDX-License-Identifier: BSD-3-Clause */
/* alpine: plan, check and strawman commands (see README.md). */
#include "alpine.h"

#include "e2/file.h"
#include "e2/num.h"

#include <stdlib.h>
#include <string.h>

static void usage(FILE *f)
{
	fprintf(f,
		"usage: alpine plan GRAPH [--workers N] [--time-limit S] [--delta D] [--out FILE] [--dot FILE] [--summary]\n"
		"       alpine check GRAPH PLAN\n"
		"       alpine strawman {manual|semi|rtc} GRAPH [--workers N] [--out FILE] [--dot FILE]\n"
		"exit status: 0 plan found (optimal or feasible), 1 bad input, 2 infeasible, 3 timeout/error,\n"
		"             4 check found an SLO error of 1%% or more\n");
}

/* Outputs go through a temporary file renamed into place, never over the graph read. */
static int emit(alp_plan *p, const char *graph, const char *out, const char *dot, bool summary)
{
	const char *const inputs[] = {graph};
	struct e2_out o;
	struct e2_err e;
	if (e2_out_open(&o, out ? out : "-", inputs, 1, &e) < 0) {
		fprintf(stderr, "alpine: %s\n", e.msg);
		return 3;
	}
	alp_plan_write_e2d(p, o.f);
	if (e2_out_commit(&o, &e) < 0) {
		fprintf(stderr, "alpine: %s\n", e.msg);
		return 3;
	}
	if (summary || out)
		alp_plan_write_summary(p, out ? stdout : stderr);
	if (dot && (p->status == ALP_OPTIMAL || p->status == ALP_FEASIBLE)) {
		if (e2_out_open(&o, dot, inputs, 1, &e) < 0) {
			fprintf(stderr, "alpine: %s\n", e.msg);
			return 3;
		}
		if (alp_plan_write_dot(p, o.f) < 0) {
			fprintf(stderr, "alpine: %s: cannot write the picture\n", dot);
			e2_out_abort(&o);
			return 3;
		}
		if (e2_out_commit(&o, &e) < 0) {
			fprintf(stderr, "alpine: %s\n", e.msg);
			return 3;
		}
	}
	switch (p->status) {
	case ALP_OPTIMAL:
	case ALP_FEASIBLE: return 0;
	case ALP_INFEASIBLE: fprintf(stderr, "alpine: infeasible: %s\n", p->diag); return 2;
	default: fprintf(stderr, "alpine: %s: %s\n", alp_status_name(p->status), p->diag); return 3;
	}
}

int main(int argc, char **argv)
{
	if (argc < 3) {
		usage(stderr);
		return 1;
	}
	const char *cmd = argv[1];
	int ai = 2;
	const char *kind = NULL;
	if (strcmp(cmd, "strawman") == 0) {
		kind = argv[ai++];
		if (ai >= argc) {
			usage(stderr);
			return 1;
		}
	} else if (strcmp(cmd, "plan") != 0 && strcmp(cmd, "check") != 0) {
		usage(stderr);
		return 1;
	}
	const char *graph = argv[ai++], *planfile = NULL, *out = NULL, *dot = NULL;
	if (strcmp(cmd, "check") == 0) {
		if (ai >= argc) {
			usage(stderr);
			return 1;
		}
		planfile = argv[ai++];
	}
	int workers = 0;
	bool summary = false;
	alp_opts o;
	alp_opts_default(&o);
	for (; ai < argc; ai++) {
		const char *a = argv[ai];
		bool has = ai + 1 < argc;
		struct e2_err e;
		int bad = 0;
		if (strcmp(a, "--workers") == 0 && has)
			bad = e2_num_int("--workers", argv[++ai], 1, 64, &workers, &e);
		else if (strcmp(a, "--time-limit") == 0 && has)
			bad = e2_num_duration("--time-limit", argv[++ai], 0.001, 86400, &o.time_limit_s, &e);
		else if (strcmp(a, "--delta") == 0 && has)
			bad = e2_num_double("--delta", argv[++ai], 0, 0.999999, &o.delta, &e);
		else if (strcmp(a, "--out") == 0 && has)
			out = argv[++ai];
		else if (strcmp(a, "--dot") == 0 && has)
			dot = argv[++ai];
		else if (strcmp(a, "--summary") == 0)
			summary = true;
		else {
			fprintf(stderr, "alpine: unknown option '%s'\n", a);
			usage(stderr);
			return 1;
		}
		if (bad) {
			fprintf(stderr, "alpine: %s\n", e.msg);
			return 1;
		}
	}
	char err[ALP_ERRLEN];
	alp_graph *g = alp_graph_load(graph, err);
	if (!g) {
		fprintf(stderr, "alpine: %s: %s\n", graph, err);
		return 1;
	}
	if (workers)
		g->workers = workers;
	int rc;
	if (planfile) {
		size_t len;
		struct e2_err rerr;
		char *text = e2_read_file(planfile, 0, &len, &rerr);
		if (!text) {
			fprintf(stderr, "alpine: %s\n", rerr.msg);
			alp_graph_free(g);
			return 1;
		}
		alp_check c;
		if (alp_check_plan(g, text, len, &c, err) < 0) {
			fprintf(stderr, "alpine: %s: %s\n", planfile, err);
			rc = 1;
		} else {
			printf("tasks=%d\nqueues=%d\npredicted_mpps=%.4f\n", c.tasks, c.queues, c.total_mpps);
			for (int a = 0; a < g->nclasses; a++)
				printf("class %s: mpps=%.4f cpu=%.2f%%\n", g->classes[a].name, c.mpps[a],
				       c.cpu[a] * 100);
			for (int s = 0; s < g->nslos; s++)
				printf("slo %s: error=%.4f%%\n", g->slos[s].name, c.slo_error[s] * 100);
			if (c.msg[0])
				printf("note: %s\n", c.msg);
			printf("max_slo_error=%.4f%%\n", c.max_error * 100);
			rc = c.max_error < 0.01 ? 0 : 4;
			alp_check_free(&c);
		}
		free(text);
	} else {
		alp_plan *p = kind ? alp_strawman(g, kind, &o) : alp_solve(g, &o);
		if (!p) {
			fprintf(stderr, "alpine: out of memory\n");
			rc = 3;
		} else {
			rc = emit(p, graph, out, dot, summary);
			alp_plan_free(p);
		}
	}
	alp_graph_free(g);
	return rc;
}
