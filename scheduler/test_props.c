/* SPDX-License-Identifier: BSD-3-Clause */
/* Property tests on random trees with random SLOs: every plan Alpine emits passes
 * the model checker with an SLO error below 1% and the throughput the solver
 * predicted; on one worker Alpine never uses more tasks than semi-manual; an
 * infeasible instance names SLOs that exist. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>

#include <cmocka.h>
#include <math.h>

#include "test_util.h"

static int solved, infeasible;

static void check_instance(alp_graph *g, const char *what)
{
	alp_opts o;
	alp_opts_default(&o);
	o.time_limit_s = 20;
	alp_plan *p = alp_solve(g, &o);
	if (p->status == ALP_INFEASIBLE) {
		infeasible++;
		bool named = strstr(p->diag, "infeasible even without") != NULL;
		for (int s = 0; s < g->nslos; s++) {
			char q[160];
			snprintf(q, sizeof(q), "'%s'", g->slos[s].name);
			named |= strstr(p->diag, q) != NULL;
		}
		if (!named) {
			fprintf(stderr, "%s: infeasible without naming an SLO: %s\n", what, p->diag);
			fail();
		}
		alp_plan_free(p);
		return;
	}
	if (p->status != ALP_OPTIMAL && p->status != ALP_FEASIBLE) {
		fprintf(stderr, "%s: status %s: %s\n", what, alp_status_name(p->status), p->diag);
		fail();
	}
	solved++;
	alp_check c;
	double e = check_plan(g, p, &c);
	if (e >= 0.01 || fabs(c.total_mpps - p->mpps) > 0.01 * fmax(p->mpps, 1e-9)) {
		fprintf(stderr, "%s: slo error %.4f%%, checker %.4f Mpps vs solver %.4f Mpps (%s)\n", what, e * 100,
			c.total_mpps, p->mpps, c.msg);
		size_t len;
		char *t = plan_text(p, &len);
		fprintf(stderr, "%s\n", t);
		free(t);
		fail();
	}
	alp_check_free(&c);
	alp_plan *s = alp_strawman(g, "semi", &o);
	if (s->status == ALP_OPTIMAL || s->status == ALP_FEASIBLE) {
		alp_check cs;
		if (check_plan(g, s, &cs) >= 0.01) {
			fprintf(stderr, "%s: semi-manual plan fails the checker\n", what);
			fail();
		}
		alp_check_free(&cs);
		if (g->workers == 1 && p->tasks > s->tasks) {
			fprintf(stderr, "%s: alpine %d tasks > semi-manual %d\n", what, p->tasks, s->tasks);
			fail();
		}
		if (p->mpps < s->mpps * 0.999) {
			fprintf(stderr, "%s: alpine %.4f Mpps < semi-manual %.4f\n", what, p->mpps, s->mpps);
			fail();
		}
	}
	alp_plan_free(s);
	alp_plan *m = alp_strawman(g, "manual", &o);
	if (m->status == ALP_OPTIMAL || m->status == ALP_FEASIBLE) {
		alp_check cm;
		if (check_plan(g, m, &cm) >= 0.01) {
			fprintf(stderr, "%s: manual plan fails the checker\n", what);
			fail();
		}
		alp_check_free(&cm);
	}
	alp_plan_free(m);
	alp_plan_free(p);
}

static void random_trees_one_worker(void **state)
{
	(void)state;
	char err[ALP_ERRLEN], what[64];
	solved = infeasible = 0;
	for (unsigned seed = 1; seed <= 80; seed++) {
		int n = 3 + (int)(seed * 7919 % 40);
		alp_graph *g = alp_gen_random_tree(n, seed, 1, err);
		if (!g) {
			fprintf(stderr, "seed %u: %s\n", seed, err);
			fail();
		}
		snprintf(what, sizeof(what), "random tree seed %u (%d modules)", seed, n);
		check_instance(g, what);
		alp_graph_free(g);
	}
	fprintf(stderr, "one worker: %d solved, %d infeasible\n", solved, infeasible);
	assert_true(solved >= 50);
}

static void random_trees_two_workers(void **state)
{
	(void)state;
	char err[ALP_ERRLEN], what[64];
	solved = infeasible = 0;
	for (unsigned seed = 101; seed <= 130; seed++) {
		int n = 3 + (int)(seed * 104729 % 12);
		alp_graph *g = alp_gen_random_tree(n, seed, 2, err);
		assert_non_null(g);
		snprintf(what, sizeof(what), "2-worker tree seed %u (%d modules)", seed, n);
		check_instance(g, what);
		alp_graph_free(g);
	}
	fprintf(stderr, "two workers: %d solved, %d infeasible\n", solved, infeasible);
	assert_true(solved >= 12);
}

static void binary_trees(void **state)
{
	(void)state;
	char err[ALP_ERRLEN], what[64];
	solved = infeasible = 0;
	for (int d = 1; d <= 7; d++)
		for (unsigned t = 0; t < 3; t++) {
			alp_graph *g = alp_gen_binary_tree(d, 77u * (unsigned)d + t, d >= 2 ? 2 : 1, err);
			assert_non_null(g);
			snprintf(what, sizeof(what), "binary tree depth %d trial %u", d, t);
			check_instance(g, what);
			alp_graph_free(g);
		}
	/* every class in one throughput SLO: queues everywhere are candidates */
	for (int d = 2; d <= 4; d++) {
		alp_graph *g = alp_gen_binary_tree(d, 5u + (unsigned)d, -1, err);
		assert_non_null(g);
		snprintf(what, sizeof(what), "dense binary tree depth %d", d);
		check_instance(g, what);
		alp_graph_free(g);
	}
	assert_int_equal(infeasible, 0);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(random_trees_one_worker),
		cmocka_unit_test(random_trees_two_workers),
		cmocka_unit_test(binary_trees),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
