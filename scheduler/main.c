/* SPDX-License-Identifier: BSD-3-Clause */
/* alpine: plan, check and strawman commands (see README.md). */
#include "alpine.h"

#include "e2/file.h"
#include "e2/num.h"
#include "e2/opts.h"

#include <stdlib.h>
#include <string.h>

static void usage(FILE *f)
{
	fprintf(f,
		"usage: alpine plan GRAPH [--workers N] [--time-limit S] [--delta D] [--out FILE] [--dot FILE]\n"
		"                         [--graph-out FILE] [--summary]\n"
		"       alpine check GRAPH PLAN [--graph PLANGRAPH]\n"
		"       alpine strawman {manual|semi|rtc} GRAPH [--workers N] [--out FILE] [--dot FILE] [--graph-out FILE]\n"
		"exit status: 0 plan found (optimal or feasible), 1 bad input, 2 infeasible, 3 timeout/error,\n"
		"             4 check found an SLO error of 1%% or more\n");
}

static int output_failed(const struct e2_err *e, struct e2_out *outs, int n)
{
	fprintf(stderr, "alpine: %s\n", e->msg);
	for (int i = 0; i < n; i++)
		e2_out_abort(&outs[i]);
	return 3;
}

/* Outputs go through temporary files renamed into place, never over the graph read; all
 * are opened before any is written, so that one refused leaves none written. The plan's
 * graph (--graph-out) is what `alpine check --graph` reads. */
static int emit(alp_plan *p, const char *graph, const char *out, const char *dot, const char *graph_out, bool summary)
{
	const char *const inputs[] = {graph};
	enum { PLAN, DOT, GRAPH, NOUT };
	struct e2_out o[NOUT] = {0};
	struct e2_err e;
	bool usable = p->status == ALP_OPTIMAL || p->status == ALP_FEASIBLE;
	char *json = NULL, err[ALP_ERRLEN];
	if (graph_out && usable &&
	    !(json = alp_graph_print_json(
		      p->g, "the graph an alpine plan executes: alpine check GRAPH PLAN --graph THIS", err))) {
		fprintf(stderr, "alpine: %s: %s\n", graph_out, err);
		return 3;
	}
	if (e2_out_open(&o[PLAN], out ? out : "-", inputs, 1, &e) < 0 ||
	    (dot && usable && e2_out_open(&o[DOT], dot, inputs, 1, &e) < 0) ||
	    (json && e2_out_open(&o[GRAPH], graph_out, inputs, 1, &e) < 0)) {
		free(json);
		return output_failed(&e, o, NOUT);
	}
	alp_plan_write_e2d(p, o[PLAN].f);
	if (e2_out_commit(&o[PLAN], &e) < 0) {
		free(json);
		return output_failed(&e, o, NOUT);
	}
	if (summary || out)
		alp_plan_write_summary(p, out ? stdout : stderr);
	if (o[DOT].f) {
		if (alp_plan_write_dot(p, o[DOT].f) < 0) {
			fprintf(stderr, "alpine: %s: cannot write the picture\n", dot);
			free(json);
			for (int i = 0; i < NOUT; i++)
				e2_out_abort(&o[i]);
			return 3;
		}
		if (e2_out_commit(&o[DOT], &e) < 0) {
			free(json);
			return output_failed(&e, o, NOUT);
		}
	}
	if (json) {
		fprintf(o[GRAPH].f, "%s\n", json);
		free(json);
		if (e2_out_commit(&o[GRAPH], &e) < 0)
			return output_failed(&e, o, NOUT);
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
	if (e2_opt_asks_help(argc, argv)) {
		usage(stdout);
		return 0;
	}
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
	const char *graph = argv[ai++], *planfile = NULL, *out = NULL, *dot = NULL, *graph_out = NULL,
		   *plan_graph = NULL;
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
		else if (strcmp(a, "--graph-out") == 0 && has && !planfile)
			graph_out = argv[++ai];
		else if (strcmp(a, "--graph") == 0 && has && planfile)
			plan_graph = argv[++ai];
		else if (strcmp(a, "--graph-out") == 0 || strcmp(a, "--graph") == 0) {
			fprintf(stderr,
				"alpine: %s %s: plan and strawman write the plan's graph (--graph-out FILE), "
				"check reads it (--graph FILE)\n",
				cmd, a);
			return 1;
		} else if (strcmp(a, "--summary") == 0)
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
	/* one file for two outputs would hold only the last; the plan goes to standard
	 * output without --out */
	const char *plan_out = planfile ? NULL : out ? out : "-";
	const char *outputs[][2] = {{out ? "--out" : "the plan", plan_out}, {"--dot", dot}, {"--graph-out", graph_out}};
	for (int i = 0; i < 3; i++)
		for (int k = i + 1; k < 3; k++) {
			const char *a = outputs[i][1], *b = outputs[k][1];
			if (!a || !b || (strcmp(a, b) != 0 && !e2_same_file(a, b)))
				continue;
			if (strcmp(b, "-") == 0)
				fprintf(stderr, "alpine: %s and %s both go to standard output\n", outputs[i][0],
					outputs[k][0]);
			else
				fprintf(stderr, "alpine: %s and %s are the same file '%s'\n", outputs[i][0],
					outputs[k][0], b);
			return 1;
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
		alp_graph *pg = NULL;
		if (plan_graph && !(pg = alp_graph_load(plan_graph, err))) {
			fprintf(stderr, "alpine: %s: %s\n", plan_graph, err);
			free(text);
			alp_graph_free(g);
			return 1;
		}
		alp_check c;
		if (alp_check_plan(g, pg, text, len, &c, err) < 0) {
			if (plan_graph)
				fprintf(stderr, "alpine: %s, graph %s: %s\n", planfile, plan_graph, err);
			else
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
		alp_graph_free(pg);
		free(text);
	} else {
		alp_plan *p = kind ? alp_strawman(g, kind, &o) : alp_solve(g, &o);
		if (!p) {
			fprintf(stderr, "alpine: out of memory\n");
			rc = 3;
		} else {
			rc = emit(p, graph, out, dot, graph_out, summary);
			alp_plan_free(p);
		}
	}
	alp_graph_free(g);
	return rc;
}
