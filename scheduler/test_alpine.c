/* SPDX-License-Identifier: BSD-3-Clause */
/* Unit tests: the seed's toy, each SLO kind, infeasible SLOs, multiple workers,
 * malformed inputs, the E2D importer and the plan reader. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>

#include <cmocka.h>

#include <math.h>

#include "test_util.h"

static alp_opts opts(void)
{
	alp_opts o;
	alp_opts_default(&o);
	o.time_limit_s = 30;
	return o;
}

static bool usable(const alp_plan *p)
{
	return p->status == ALP_OPTIMAL || p->status == ALP_FEASIBLE;
}

/* Seed Fig. 5.3: Alpine needs fewer tasks and predicts more throughput than the
 * manual (5.3b) and semi-manual (5.3c) strawmen, and all three meet the SLO. */
static void toy_beats_strawmen(void **state)
{
	(void)state;
	alp_graph *g = load_example("toy.json");
	assert_non_null(g);
	alp_opts o = opts();
	alp_plan *a = alp_solve(g, &o);
	alp_plan *s = alp_strawman(g, "semi", &o);
	alp_plan *m = alp_strawman(g, "manual", &o);
	alp_plan *r = alp_strawman(g, "rtc", &o);
	assert_int_equal(a->status, ALP_OPTIMAL);
	assert_true(usable(s) && usable(m) && usable(r));
	assert_int_equal(a->tasks, 2);
	assert_int_equal(s->tasks, 3);
	assert_int_equal(m->tasks, 3);
	assert_true(a->mpps > s->mpps * 1.02);
	assert_true(s->mpps > m->mpps * 1.02);
	assert_true(r->mpps > a->mpps);
	alp_check c;
	assert_true(check_plan(g, a, &c) < 0.01);
	assert_int_equal(c.tasks, 2);
	assert_true(fabs(c.total_mpps - a->mpps) < 0.01 * a->mpps);
	/* CPU split 3:1 */
	assert_true(fabs(c.cpu[0] / (c.cpu[0] + c.cpu[1]) - 0.75) < 0.005);
	alp_check_free(&c);
	assert_true(check_plan(g, s, &c) < 0.01);
	alp_check_free(&c);
	assert_true(check_plan(g, m, &c) < 0.01);
	alp_check_free(&c);
	/* run-to-completion ignores the SLO: the checker sees the error */
	assert_true(check_plan(g, r, &c) > 0.2);
	alp_check_free(&c);
	alp_plan_free(a);
	alp_plan_free(s);
	alp_plan_free(m);
	alp_plan_free(r);
	alp_graph_free(g);
}

static void priority_slo(void **state)
{
	(void)state;
	alp_graph *g = load_example("firewall_priority.json");
	assert_non_null(g);
	alp_opts o = opts();
	alp_plan *p = alp_solve(g, &o);
	assert_int_equal(p->status, ALP_OPTIMAL);
	size_t len;
	char *text = plan_text(p, &len);
	assert_non_null(strstr(text, "policy=priority"));
	assert_non_null(strstr(text, "module add q_sink queue"));
	free(text);
	alp_check c;
	assert_true(check_plan(g, p, &c) < 0.01);
	/* tc1 gets its whole offered load (7 of 14 Mpps) */
	assert_true(fabs(c.mpps[0] - 7.0) < 0.01);
	alp_check_free(&c);
	alp_plan_free(p);
	/* a priority SLO without a finite offered load is refused with a reason */
	g->input_mpps = 0;
	p = alp_solve(g, &o);
	assert_int_equal(p->status, ALP_INFEASIBLE);
	assert_non_null(strstr(p->diag, "input_mpps"));
	alp_plan_free(p);
	alp_graph_free(g);
}

static void cpu_and_rate_slos(void **state)
{
	(void)state;
	const char *names[] = {"firewall.json", "tproxy.json", "iprouter.json"};
	for (int i = 0; i < 3; i++) {
		alp_graph *g = load_example(names[i]);
		assert_non_null(g);
		alp_opts o = opts();
		alp_plan *p = alp_solve(g, &o);
		assert_int_equal(p->status, ALP_OPTIMAL);
		alp_plan *s = alp_strawman(g, "semi", &o);
		assert_true(p->tasks <= s->tasks);
		assert_true(p->mpps >= s->mpps * 0.999);
		alp_check c;
		assert_true(check_plan(g, p, &c) < 0.01);
		alp_check_free(&c);
		alp_plan_free(s);
		alp_plan_free(p);
		alp_graph_free(g);
	}
}

static const char toy_json_fmt[] =
	"{\"modules\":[{\"name\":\"in\",\"class\":\"port_in\",\"cycles\":20},"
	"{\"name\":\"A\",\"cycles\":60},{\"name\":\"B\",\"cycles\":250},{\"name\":\"C\",\"cycles\":250}],"
	"\"edges\":[[\"in\",\"A\"],[\"A:0\",\"B\"],[\"A:1\",\"C\"]],"
	"\"classes\":[{\"name\":\"tc1\",\"path\":[\"in\",\"A\",\"B\"]},{\"name\":\"tc2\",\"path\":[\"in\",\"A\",\"C\"]}],"
	"\"slos\":[%s]}";

static alp_graph *toy_with(const char *slos)
{
	char buf[2048], err[ALP_ERRLEN];
	snprintf(buf, sizeof(buf), toy_json_fmt, slos);
	alp_graph *g = parse_str(buf, err);
	if (!g)
		fprintf(stderr, "%s\n", err);
	return g;
}

static void infeasible_slos_are_named(void **state)
{
	(void)state;
	alp_opts o = opts();
	/* one SLO that cannot be met: A's shared cycles cap tc1:tc2 near 4.1 */
	alp_graph *g =
		toy_with("{\"name\":\"greedy\",\"kind\":\"cpu\",\"classes\":[\"tc1\",\"tc2\"],\"ratio\":[10,1]}");
	assert_non_null(g);
	alp_plan *p = alp_solve(g, &o);
	assert_int_equal(p->status, ALP_INFEASIBLE);
	assert_non_null(strstr(p->diag, "'greedy'"));
	alp_plan_free(p);
	alp_graph_free(g);
	/* two SLOs that are fine alone but conflict together */
	g = toy_with("{\"name\":\"even\",\"kind\":\"rate\",\"classes\":[\"tc1\",\"tc2\"],\"ratio\":[1,1]},"
		     "{\"name\":\"double\",\"kind\":\"rate\",\"classes\":[\"tc1\",\"tc2\"],\"ratio\":[2,1]}");
	assert_non_null(g);
	p = alp_solve(g, &o);
	assert_int_equal(p->status, ALP_INFEASIBLE);
	assert_non_null(strstr(p->diag, "'even'"));
	assert_non_null(strstr(p->diag, "'double'"));
	assert_non_null(strstr(p->diag, "conflict"));
	size_t len;
	char *text = plan_text(p, &len);
	assert_non_null(strstr(text, "# no plan"));
	assert_null(strstr(text, "sched add"));
	free(text);
	alp_plan_free(p);
	alp_graph_free(g);
}

static void multi_worker(void **state)
{
	(void)state;
	alp_graph *g = load_example("tproxy.json");
	assert_non_null(g);
	alp_opts o = opts();
	alp_plan *one = alp_solve(g, &o);
	g->workers = 2;
	alp_plan *two = alp_solve(g, &o);
	assert_true(usable(two));
	assert_true(two->mpps > one->mpps * 1.2);
	bool used[2] = {false, false};
	for (int j = 0; j < g->n; j++)
		if (two->head[j])
			used[two->worker[j]] = true;
	assert_true(used[0] && used[1]);
	alp_check c;
	assert_true(check_plan(g, two, &c) < 0.01);
	assert_true(fabs(c.total_mpps - two->mpps) < 0.01 * two->mpps);
	alp_check_free(&c);
	size_t len;
	char *text = plan_text(two, &len);
	assert_non_null(strstr(text, "worker add 1"));
	assert_non_null(strstr(text, "worker=1"));
	free(text);
	alp_plan_free(one);
	alp_plan_free(two);
	alp_graph_free(g);
}

static void expect_error(const char *json, const char *needle)
{
	char err[ALP_ERRLEN] = "";
	alp_graph *g = parse_str(json, err);
	if (g || !strstr(err, needle)) {
		fprintf(stderr, "input: %s\nerror: '%s' (wanted '%s')\n", json, err, needle);
		fail();
	}
}

#define MODS \
	"\"modules\":[{\"name\":\"in\",\"class\":\"port_in\",\"cycles\":20},{\"name\":\"A\",\"cycles\":60},{\"name\":\"B\",\"cycles\":50}]"
#define CLS "\"classes\":[{\"name\":\"t\",\"path\":[\"in\",\"A\",\"B\"]}]"

static void malformed_graphs(void **state)
{
	(void)state;
	expect_error("{\"modules\": [}", "line 1");
	expect_error("{" MODS ",\"edges\":[[\"in\",\"A\"],[\"A\",\"B\"],[\"B:1\",\"A\"]]," CLS "}", "two upstreams");
	expect_error("{" MODS ",\"edges\":[[\"in\",\"A\"],[\"A\",\"B\"],[\"B\",\"in\"]]," CLS "}", "cycle");
	expect_error("{" MODS ",\"edges\":[[\"in\",\"A\"],[\"A\",\"X\"]]," CLS "}", "unknown module 'X'");
	expect_error("{\"modules\":[{\"name\":\"in\",\"class\":\"port_in\",\"cycles\":-3}],"
		     "\"classes\":[{\"name\":\"t\",\"path\":[\"in\"]}]}",
		     "negative cycles");
	expect_error("{" MODS ",\"edges\":[[\"in\",\"A\"],[\"in:1\",\"B\"]],"
		     "\"classes\":[{\"name\":\"t\",\"path\":[\"in\",\"A\",\"B\"]}]}",
		     "not a path");
	expect_error("{" MODS ",\"edges\":[[\"in\",\"A\"],[\"A\",\"B\"]],"
		     "\"classes\":[{\"name\":\"t\",\"path\":[\"in\",\"A\"]}]}",
		     "not an exit");
	expect_error("{" MODS ",\"edges\":[[\"in\",\"A\"],[\"A\",\"B\"]]," CLS ",\"typo\":1}", "unknown key 'typo'");
	expect_error("{" MODS ",\"edges\":[[\"in\",\"A\"],[\"A\",\"B\"]]," CLS
		     ",\"slos\":[{\"kind\":\"cpu\",\"classes\":[\"t\",\"u\"],\"ratio\":[1,1]}]}",
		     "classes");
	expect_error("{" MODS ",\"edges\":[[\"in\",\"A\"],[\"A\",\"B\"]]," CLS
		     ",\"slos\":[{\"kind\":\"fast\",\"classes\":[\"t\",\"t\"]}]}",
		     "unknown kind");
	expect_error("{" MODS ",\"edges\":[[\"in\",\"A\"]]," CLS "}", "two sources");
	expect_error("{\"modules\":[{\"name\":\"in\",\"cycles\":1},{\"name\":\"in\",\"cycles\":1}],"
		     "\"classes\":[{\"name\":\"t\",\"path\":[\"in\"]}]}",
		     "defined twice");
	expect_error("{\"workers\":0," MODS ",\"edges\":[[\"in\",\"A\"],[\"A\",\"B\"]]," CLS "}", "workers");
}

static void e2d_config_import(void **state)
{
	(void)state;
	alp_graph *g = load_example("firewall.json");
	assert_non_null(g);
	int wm = alp_graph_find(g, "wm");
	assert_true(wm >= 0);
	assert_true(g->mods[wm].cycles == 70);
	assert_string_equal(g->mods[wm].klass, "hmatch");
	assert_true(g->mods[alp_graph_find(g, "inc")].schedulable);
	alp_graph_free(g);
	/* errors carry line numbers */
	alp_graph *h = alp_graph_new();
	char err[ALP_ERRLEN];
	const char conf[] = "module add a port_in\nmodule add b bypass\nconnect a c\n";
	assert_int_equal(alp_e2d_import(h, conf, strlen(conf), err), -1);
	assert_non_null(strstr(err, "line 3"));
	assert_non_null(strstr(err, "'c'"));
	alp_graph_free(h);
}

static void checker_rejects_bad_plans(void **state)
{
	(void)state;
	alp_graph *g = load_example("toy.json");
	assert_non_null(g);
	alp_check c;
	char err[ALP_ERRLEN];
	const char *bad[][2] = {
		{"connect A:1 nowhere\n", "unknown module"},
		{"worker add 0 core=0\n", "not attached"},
		{"module add q queue\ndisconnect A\nconnect A q\nconnect q B\nworker add 0 core=0\ntask attach in worker=0\n",
		 "'q' carries traffic but is not attached"},
		{"frobnicate\n", "line 1"},
		{"worker add 0 core=0\ntask attach A worker=0\n", "not schedulable"},
		{"worker add 0 core=0\nconnect B in\n", "cycle"},
		{"worker add 0 core=0\nconnect C B\n", "already has an upstream"},
		/* a module the plan adds costs what the plan's graph or its cycles= says */
		{"module add x bypass\n", "unknown cost"},
		{"module add x bypass cycles=-5\n", "cycles=-5 is not a cost"},
		{"module add x bypass cycles=nan\n", "cycles=nan is not a cost"},
		{"module add x bypass cycles=2e9\n", "not a cost"},
		{"#@module x cycles=5\nmodule add x bypass\n", "line 1: '#@' annotations are no longer read"},
		{"  #@class tc1 path=in,A,B\n", "no longer read"},
	};
	for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
		int rc = alp_check_plan(g, NULL, bad[i][0], strlen(bad[i][0]), &c, err);
		if (rc == 0 || !strstr(err, bad[i][1])) {
			fprintf(stderr, "plan %zu: rc %d err '%s' (wanted '%s')\n", i, rc, err, bad[i][1]);
			fail();
		}
	}
	alp_graph_free(g);
}

/* Checks plan text against toy.json and the plan's graph pg; 0, or -1 with err set. */
static int check_with(const alp_graph *g, const alp_graph *pg, const char *text, char *err)
{
	alp_check c;
	int rc = alp_check_plan(g, pg, text, strlen(text), &c, err);
	alp_check_free(&c);
	return rc;
}

static void expect_refusal(const alp_graph *g, const alp_graph *pg, const char *text, const char *want)
{
	char err[ALP_ERRLEN];
	if (check_with(g, pg, text, err) == 0 || !strstr(err, want)) {
		fprintf(stderr, "wanted a refusal with '%s', got '%s'\n", want, err);
		fail();
	}
}

/* The manual strawman adds modules and reroutes the classes: the checker takes their
 * costs and paths from the plan's graph only, and refuses a graph that is not the
 * plan's. */
static void checker_reads_the_plans_graph(void **state)
{
	(void)state;
	alp_graph *g = load_example("toy.json");
	assert_non_null(g);
	alp_opts o = opts();
	alp_plan *m = alp_strawman(g, "manual", &o);
	assert_true(usable(m) && m->g != g);
	size_t len;
	char *text = plan_text(m, &len), err[ALP_ERRLEN];
	assert_null(strstr(text, "#@"));
	assert_int_equal(check_with(g, m->g, text, err), 0);
	/* without it, or with the starting graph in its place, the added modules have no cost */
	expect_refusal(g, NULL, text, "module 'alpine_cls': unknown cost: give the plan's graph");
	expect_refusal(g, g, text, "module 'alpine_cls': unknown cost: the plan's graph has no such module");
	/* the plan's graph written and read back is the same graph to the checker */
	char *json = alp_graph_print_json(m->g, "a comment", err);
	assert_non_null(json);
	assert_null(strstr(json, "e2d_config"));
	alp_graph *pg = parse_str(json, err);
	assert_non_null(pg);
	assert_int_equal(check_with(g, pg, text, err), 0);
	/* a shared module that costs something else: not this graph's plan graph */
	int in = alp_graph_find(pg, "in");
	pg->mods[in].cycles += 1;
	expect_refusal(g, pg, text, "module 'in' costs 20 cycles in the graph but 21 in the plan's graph");
	pg->mods[in].cycles -= 1;
	/* an added module of another class than the plan adds */
	int cls = alp_graph_find(pg, "alpine_cls");
	free(pg->mods[cls].klass);
	pg->mods[cls].klass = strdup("bpf");
	expect_refusal(g, pg, text, "module 'alpine_cls' is a 'classifier' here but a 'bpf' in the plan's graph");
	/* classes that are not the graph's */
	char *name = pg->classes[1].name;
	pg->classes[1].name = strdup("tc9");
	expect_refusal(g, pg, text, "the plan's graph has no class 'tc2'");
	free(pg->classes[1].name);
	pg->classes[1].name = name;
	alp_graph_free(pg);
	free(json);
	/* a class the plan's graph sends through a module the plan does not add */
	char *cut = strstr(text, "module add B__tc1 ");
	assert_non_null(cut);
	*cut = '\0';
	expect_refusal(g, m->g, text,
		       "class 'tc1': the plan's graph sends it through 'B__tc1', which the plan does not add");
	free(text);
	alp_plan_free(m);
	alp_graph_free(g);
}

static void dot_output(void **state)
{
	(void)state;
	alp_graph *g = load_example("toy.json");
	alp_opts o = opts();
	alp_plan *p = alp_solve(g, &o);
	char *buf = NULL;
	size_t len;
	FILE *f = open_memstream(&buf, &len);
	assert_int_equal(alp_plan_write_dot(p, f), 0);
	fclose(f);
	assert_non_null(strstr(buf, "cluster_q_C"));
	assert_non_null(strstr(buf, "digraph"));
	free(buf);
	alp_plan_free(p);
	alp_graph_free(g);
}

/* A hard instance under a short time limit still yields a usable plan that passes
 * the checker (the watchdog and the fallbacks), and says how good it is. */
static void time_limit_gives_a_plan(void **state)
{
	(void)state;
	char err[ALP_ERRLEN];
	alp_graph *g = alp_gen_binary_tree(7, 12, -1, err);
	assert_non_null(g);
	alp_opts o = opts();
	o.time_limit_s = 1;
	alp_plan *p = alp_solve(g, &o);
	assert_true(usable(p));
	if (p->status == ALP_FEASIBLE)
		assert_true(p->gap >= 0 && p->gap <= 1);
	alp_check c;
	assert_true(check_plan(g, p, &c) < 0.01);
	alp_check_free(&c);
	alp_plan_free(p);
	alp_graph_free(g);
}

/* A module already named like the queue Alpine would insert. */
static void queue_names_do_not_collide(void **state)
{
	(void)state;
	alp_graph *g = toy_with("{\"kind\":\"cpu\",\"classes\":[\"tc1\",\"tc2\"],\"ratio\":[3,1]}");
	assert_non_null(g);
	alp_graph_free(g);
	char err[ALP_ERRLEN];
	g = parse_str("{\"modules\":[{\"name\":\"in\",\"class\":\"port_in\",\"cycles\":20},"
		      "{\"name\":\"A\",\"cycles\":60},{\"name\":\"C\",\"cycles\":250},"
		      "{\"name\":\"q_C\",\"cycles\":250}],"
		      "\"edges\":[[\"in\",\"A\"],[\"A:0\",\"q_C\"],[\"A:1\",\"C\"]],"
		      "\"classes\":[{\"name\":\"tc1\",\"path\":[\"in\",\"A\",\"q_C\"]},"
		      "{\"name\":\"tc2\",\"path\":[\"in\",\"A\",\"C\"]}],"
		      "\"slos\":[{\"kind\":\"cpu\",\"classes\":[\"tc1\",\"tc2\"],\"ratio\":[3,1]}]}",
		      err);
	assert_non_null(g);
	alp_opts o = opts();
	alp_plan *p = alp_solve(g, &o);
	assert_int_equal(p->status, ALP_OPTIMAL);
	size_t len;
	char *text = plan_text(p, &len);
	assert_non_null(strstr(text, "module add q1_C queue"));
	free(text);
	alp_check c;
	assert_true(check_plan(g, p, &c) < 0.01);
	alp_check_free(&c);
	alp_plan_free(p);
	alp_graph_free(g);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(toy_beats_strawmen),
		cmocka_unit_test(priority_slo),
		cmocka_unit_test(cpu_and_rate_slos),
		cmocka_unit_test(infeasible_slos_are_named),
		cmocka_unit_test(multi_worker),
		cmocka_unit_test(malformed_graphs),
		cmocka_unit_test(e2d_config_import),
		cmocka_unit_test(checker_rejects_bad_plans),
		cmocka_unit_test(checker_reads_the_plans_graph),
		cmocka_unit_test(dot_output),
		cmocka_unit_test(time_limit_gives_a_plan),
		cmocka_unit_test(queue_names_do_not_collide),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
