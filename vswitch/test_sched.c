/* The scheduler tree with real tasks: saturated sources (null ports) into sinks
 * on one worker; shares are read from the tree's own cycle accounting. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <string.h>
#include <unistd.h>

#include <cmocka.h>

#include "ctl.h"
#include "test_util.h"

static struct e2_dp dp;

#define ctl(...) test_ctl(&dp, __VA_ARGS__)

static struct e2_sched_node *node(const char *name)
{
	return e2_sched_find(dp.workers[0]->root, name);
}

static int setup(void **state)
{
	char err[E2_ERR_MAX];
	if (test_eal_init("e2-test-sched") != 0 || e2_dp_init(&dp, 8191, err) != 0)
		return -1;
	/* three saturated sources, each into its own sink */
	for (int i = 0; i < 3; i++) {
		if (ctl("port add n%d pmd devargs=net_null%d", i, i) || ctl("module add src%d port_in port=n%d", i, i) ||
		    ctl("module add sink%d sink", i) || ctl("connect src%d sink%d", i, i))
			return -1;
	}
	return e2_dp_worker_create(&dp, 0, -1, err);
}

static int teardown(void **state)
{
	test_dp_stop(&dp);
	return 0;
}

/* Resets the counters of the tree and lets it run; returns the seconds it ran. */
static double run_for(unsigned ms)
{
	e2_dp_pause(&dp);
	for (int i = 0; i < 3; i++) {
		char n[8];
		snprintf(n, sizeof(n), "src%d", i);
		struct e2_sched_node *l = node(n);
		for (struct e2_sched_node *x = l; x; x = x->parent)
			x->cycles = x->packets = x->bits = x->runs = 0;
	}
	uint64_t t0 = rte_rdtsc();
	e2_dp_resume(&dp);
	usleep(ms * 1000);
	e2_dp_pause(&dp);
	double secs = (double)(rte_rdtsc() - t0) / (double)rte_get_tsc_hz();
	e2_dp_resume(&dp);
	return secs;
}

static void test_weighted_fair_3_to_1(void **state)
{
	assert_int_equal(ctl("sched add wfq policy=weighted_fair resource=cycles"), 0);
	assert_int_equal(ctl("sched attach src0 parent=wfq share=3"), 0);
	assert_int_equal(ctl("sched attach src1 parent=wfq share=1"), 0);
	/* src2 stays under the root, round robin against wfq */
	run_for(1000);
	double a = (double)node("src0")->cycles, b = (double)node("src1")->cycles;
	double share = a / (a + b);
	print_message("weighted_fair 3:1 by cycles: src0 %.4f (target 0.75), error %.2f%%\n", share,
		      100 * (share - 0.75));
	/* the goal is 2 points; the bound leaves room for a preempted worker on a shared machine */
	assert_true(share > 0.72 && share < 0.78);
}

static void test_strict_priority(void **state)
{
	assert_int_equal(ctl("sched add prio policy=priority"), 0);
	/* lower numbers are more urgent, as in BESS */
	assert_int_equal(ctl("sched attach src0 parent=prio priority=1"), 0);
	assert_int_equal(ctl("sched attach src1 parent=prio priority=10"), 0);
	run_for(500);
	double hi = (double)node("src0")->cycles, lo = (double)node("src1")->cycles;
	print_message("priority: high %.0f cycles, low %.0f cycles\n", hi, lo);
	assert_true(lo < 0.01 * hi);
	/* flip the priorities at run time */
	assert_int_equal(ctl("sched set src1 priority=0"), 0);
	run_for(300);
	assert_true(node("src0")->cycles < 0.01 * node("src1")->cycles);
}

static void test_rate_limit_packets(void **state)
{
	assert_int_equal(ctl("sched add cap policy=rate_limit resource=packets limit=200000"), 0);
	assert_int_equal(ctl("sched attach src2 parent=cap"), 0);
	double secs = run_for(1000);
	double pps = (double)node("src2")->packets / secs;
	print_message("rate_limit 200000 pps: %.0f packets/s over %.3f s, error %.2f%%\n", pps, secs,
		      100 * (pps - 200000) / 200000);
	assert_true(pps > 194000 && pps < 206000);
}

static void test_bad_sched_requests(void **state)
{
	const char *bad[] = {
		"sched add x",                                   /* no policy */
		"sched add x policy=fifo",
		"sched add x policy=rate_limit",                 /* no limit */
		"sched add x policy=round_robin parent=nosuch",
		"sched add x policy=round_robin worker=9",
		"sched add x policy=round_robin limit=5",         /* limit on a non-rate_limit node */
		"sched add wfq policy=round_robin",              /* duplicate */
		"sched add src0 policy=round_robin",             /* a module's name */
		"sched add x policy=priority colour=red",
		"sched attach wfq parent=src0",                  /* under a task */
		"sched attach w0 parent=wfq",                    /* the root */
		"sched attach prio parent=prio",                 /* cycle */
		"sched attach nosuch parent=wfq",
		"sched attach src0",
		"sched set src0 share=0",
		"sched set cap resource=watts",
		"sched del w0",
		"sched del src0",
		"sched del nosuch",
		"sched frobnicate wfq",
	};
	for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++)
		if (ctl("%s", bad[i]) == 0)
			fail_msg("'%s' was accepted", bad[i]);
	/* a node with children cannot go; once empty it can */
	assert_int_not_equal(ctl("sched del prio"), 0);
	assert_int_equal(ctl("sched attach src0 parent=w0"), 0);
	assert_int_equal(ctl("sched attach src1 parent=w0"), 0);
	assert_int_equal(ctl("sched del prio"), 0);
	assert_int_equal(ctl("sched del wfq"), 0);
	E2__Dp__Request *req;
	char err[256];
	req = e2_ctl_parse_line("sched show", err, sizeof(err));
	E2__Dp__Response *r = e2_ctl_handle(&dp, req, NULL);
	assert_int_equal(r->code, 0);
	assert_true(r->n_result >= 5);
	e2__dp__response__free_unpacked(r, NULL);
	e2__dp__request__free_unpacked(req, NULL);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_weighted_fair_3_to_1),
		cmocka_unit_test(test_strict_priority),
		cmocka_unit_test(test_rate_limit_packets),
		cmocka_unit_test(test_bad_sched_requests),
	};
	return cmocka_run_group_tests(tests, setup, teardown);
}
