/* SPDX-License-Identifier: BSD-3-Clause */
/* Alpine benchmark: solve times for the seed's pipelines and binary trees (seed
 * Table 5.4, Fig. 5.10), tasks against the strawmen, predicted throughput gain.
 * Prints key=value lines; times are medians. The in-run reference for a solve
 * time is the semi-manual plan's solve (an LP over the same graph). */
#include "alpine.h"
#include "e2/num.h"
#include "e2/opts.h"

#include <math.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

static int cmp_d(const void *a, const void *b)
{
	double x = *(const double *)a, y = *(const double *)b;
	return (x > y) - (x < y);
}

static double median(double *v, int n)
{
	qsort(v, (size_t)n, sizeof(double), cmp_d);
	return n % 2 ? v[n / 2] : 0.5 * (v[n / 2 - 1] + v[n / 2]);
}

typedef struct {
	double solve_s, ref_s, mpps, semi_mpps, manual_mpps, gap;
	int tasks, semi_tasks, manual_tasks;
	const char *status;
} result;

static void run(const alp_graph *g, const alp_opts *o, int reps, result *r)
{
	double ts[16], rs[16];
	alp_plan *p = NULL;
	for (int i = 0; i < reps; i++) {
		alp_plan_free(p);
		p = alp_solve(g, o);
		ts[i] = p->solve_s;
		alp_plan *s = alp_strawman(g, "semi", o);
		rs[i] = s->solve_s;
		if (i == 0) {
			r->semi_mpps = s->mpps;
			r->semi_tasks = s->tasks;
		}
		alp_plan_free(s);
	}
	alp_plan *m = alp_strawman(g, "manual", o);
	r->manual_mpps = m->mpps;
	r->manual_tasks = m->tasks;
	alp_plan_free(m);
	r->solve_s = median(ts, reps);
	r->ref_s = median(rs, reps);
	r->mpps = p->mpps;
	r->tasks = p->tasks;
	r->status = alp_status_name(p->status);
	r->gap = p->status == ALP_FEASIBLE ? p->gap : 0;
	alp_plan_free(p);
}

static void print(const char *name, const result *r)
{
	printf("solve_s_%s=%.4f\n", name, r->solve_s);
	printf("solve_ratio_vs_lp_%s=%.2f\n", name, r->ref_s > 0 ? r->solve_s / r->ref_s : 0);
	printf("status_%s=%s\n", name, r->status);
	if (r->gap > 0)
		printf("gap_%s=%.4f\n", name, r->gap);
	printf("tasks_alpine_%s=%d\ntasks_semi_%s=%d\ntasks_manual_%s=%d\n", name, r->tasks, name, r->semi_tasks, name,
	       r->manual_tasks);
	printf("mpps_alpine_%s=%.3f\n", name, r->mpps);
	printf("gain_vs_manual_%s=%.3f\n", name, r->manual_mpps > 0 ? r->mpps / r->manual_mpps : 0);
	printf("gain_vs_semi_%s=%.3f\n", name, r->semi_mpps > 0 ? r->mpps / r->semi_mpps : 0);
	fflush(stdout);
}

int main(int argc, char **argv)
{
	static const char usage[] = "usage: alpine-bench [DIR [MAXDEPTH (3 to 16) [DENSE_MAX (3 to 12)]]]\n";
	const char *dir = argc > 1 ? argv[1] : "examples/alpine";
	int maxdepth = 9, dense_max = 7;
	struct e2_err e = {.msg = ""};
	if (e2_opt_asks_help(argc, argv)) {
		fputs(usage, stdout);
		return 0;
	}
	if (argc > 4 || dir[0] == '-' || (argc > 2 && e2_num_int("MAXDEPTH", argv[2], 3, 16, &maxdepth, &e)) ||
	    (argc > 3 && e2_num_int("DENSE_MAX", argv[3], 3, 12, &dense_max, &e))) {
		fprintf(stderr, "%s%s%s", usage, e.msg, *e.msg ? "\n" : "");
		return 2;
	}
	alp_opts o;
	alp_opts_default(&o);
	o.time_limit_s = 120;
	char err[ALP_ERRLEN], path[4096];
	const char *pipes[] = {"iprouter", "firewall", "tproxy", "toy"};
	double gm = 0, gs = 0;
	int np = 0;
	for (int i = 0; i < 4; i++) {
		snprintf(path, sizeof(path), "%s/%s.json", dir, pipes[i]);
		alp_graph *g = alp_graph_load(path, err);
		if (!g) {
			fprintf(stderr, "alpine-bench: %s: %s\n", path, err);
			return 1;
		}
		result r;
		run(g, &o, 5, &r);
		print(pipes[i], &r);
		if (i < 3) {
			gm += log(r.mpps / r.manual_mpps);
			gs += log(r.mpps / r.semi_mpps);
			np++;
		}
		alp_graph_free(g);
	}
	/* the same pipelines on two workers (seed Fig. 5.7) */
	for (int i = 0; i < 3; i++) {
		snprintf(path, sizeof(path), "%s/%s.json", dir, pipes[i]);
		alp_graph *g = alp_graph_load(path, err);
		if (!g)
			return 1;
		g->workers = 2;
		result r;
		run(g, &o, 3, &r);
		char name[64];
		snprintf(name, sizeof(name), "%s_2w", pipes[i]);
		print(name, &r);
		alp_graph_free(g);
	}
	printf("gain_vs_manual_pipelines_geomean=%.3f\n", exp(gm / np));
	printf("gain_vs_semi_pipelines_geomean=%.3f\n", exp(gs / np));
	for (int d = 1; d <= maxdepth; d++) {
		/* the seed's trials: several random SLO sets per depth; report medians */
		int trials = d >= 8 ? 3 : 5;
		double ts[8], rs[8], gms[8], gss[8], ta[8], tsm[8], tm[8];
		const char *status = "optimal";
		for (int t = 0; t < trials; t++) {
			alp_graph *g = alp_gen_binary_tree(d, 1000u * (unsigned)d + (unsigned)t, 2, err);
			if (!g) {
				fprintf(stderr, "alpine-bench: depth %d: %s\n", d, err);
				return 1;
			}
			result r;
			run(g, &o, 1, &r);
			ts[t] = r.solve_s;
			rs[t] = r.ref_s;
			gms[t] = r.manual_mpps > 0 ? r.mpps / r.manual_mpps : 0;
			gss[t] = r.semi_mpps > 0 ? r.mpps / r.semi_mpps : 0;
			ta[t] = r.tasks;
			tsm[t] = r.semi_tasks;
			tm[t] = r.manual_tasks;
			if (strcmp(r.status, "optimal") != 0)
				status = r.status;
			alp_graph_free(g);
		}
		char name[32];
		snprintf(name, sizeof(name), "depth_%d", d);
		result m = {.solve_s = median(ts, trials),
			    .ref_s = median(rs, trials),
			    .status = status,
			    .tasks = (int)median(ta, trials),
			    .semi_tasks = (int)median(tsm, trials),
			    .manual_tasks = (int)median(tm, trials)};
		printf("solve_s_%s=%.4f\n", name, m.solve_s);
		printf("solve_ratio_vs_lp_%s=%.2f\n", name, m.ref_s > 0 ? m.solve_s / m.ref_s : 0);
		printf("status_%s=%s\n", name, m.status);
		printf("modules_%s=%d\n", name, (1 << (d + 1)) - 1);
		printf("tasks_alpine_%s=%d\ntasks_semi_%s=%d\ntasks_manual_%s=%d\n", name, m.tasks, name, m.semi_tasks,
		       name, m.manual_tasks);
		printf("gain_vs_manual_%s=%.3f\n", name, median(gms, trials));
		printf("gain_vs_semi_%s=%.3f\n", name, median(gss, trials));
		fflush(stdout);
	}
	/* worst case: one throughput SLO over every class, so every module is a queue
     * candidate (not the seed's setting; shows where the MIP gets hard) */
	for (int d = 3; d <= dense_max; d++) {
		alp_graph *g = alp_gen_binary_tree(d, 5u + (unsigned)d, -1, err);
		if (!g)
			return 1;
		o.time_limit_s = 60;
		result r;
		run(g, &o, 1, &r);
		char name[32];
		snprintf(name, sizeof(name), "dense_depth_%d", d);
		print(name, &r);
		alp_graph_free(g);
	}
	return 0;
}
