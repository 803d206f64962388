/* SPDX-License-Identifier: BSD-3-Clause */
/* When to scale: a load must hold for sustain_s (a spike does nothing), the hysteresis
 * between the two thresholds holds still, the cooldown and the instance bounds stop
 * actions and say so, unknown loads never scale in, and the pick is the most (out) or
 * least (in) loaded instance. Times are given, not slept. */
#include "helpers.h"

static struct e2_autoscale_knobs knobs(void)
{
	return (struct e2_autoscale_knobs){
		.out_above = 0.8, .in_below = 0.2, .sustain_s = 2, .cooldown_s = 30, .drain_s = 60, .min = 1, .max = 3};
}

static unsigned last_count; /* how many instances the last step's verdict was for */

static enum e2_autoscale_verdict step(const struct e2_autoscale_knobs *k, struct e2_autoscale *st, double t,
				      const double *l, unsigned n, unsigned *pick, char *why)
{
	unsigned count = 99;
	enum e2_autoscale_verdict v = e2_autoscale_step(k, st, t, l, n, pick, &count, why, 200);
	print_message("t=%5.1f -> %d x%u: %s\n", t, v, count, why);
	assert_int_equal(count, v == E2_AUTOSCALE_HOLD ? 0 : v == E2_AUTOSCALE_OUT ? 1 : count);
	last_count = count;
	return v;
}

static void out_after_sustained_load(void **state)
{
	(void)state;
	struct e2_autoscale_knobs k = knobs();
	struct e2_autoscale st = {0};
	unsigned pick = 99;
	char why[200];
	double calm[] = {0.5, 0.4}, hot[] = {0.5, 0.9}, spike[] = {0.95, 0.4};
	assert_int_equal(step(&k, &st, 0, calm, 2, &pick, why), E2_AUTOSCALE_HOLD);
	/* a spike shorter than sustain_s does nothing */
	assert_int_equal(step(&k, &st, 1, spike, 2, &pick, why), E2_AUTOSCALE_HOLD);
	assert_int_equal(step(&k, &st, 2.5, calm, 2, &pick, why), E2_AUTOSCALE_HOLD);
	assert_int_equal(step(&k, &st, 3.5, spike, 2, &pick, why), E2_AUTOSCALE_HOLD);
	assert_non_null(strstr(why, "for 0.0 s of 2.0 s"));
	assert_int_equal(step(&k, &st, 5, calm, 2, &pick, why), E2_AUTOSCALE_HOLD);
	/* held: out, the hot instance picked */
	assert_int_equal(step(&k, &st, 10, hot, 2, &pick, why), E2_AUTOSCALE_HOLD);
	assert_int_equal(step(&k, &st, 11, hot, 2, &pick, why), E2_AUTOSCALE_HOLD);
	assert_int_equal(step(&k, &st, 12, hot, 2, &pick, why), E2_AUTOSCALE_OUT);
	assert_int_equal(pick, 1);
	/* then the cooldown, whatever the load */
	double hot3[] = {0.9, 0.9, 0.9};
	assert_int_equal(step(&k, &st, 13, hot3, 3, &pick, why), E2_AUTOSCALE_HOLD);
	assert_int_equal(step(&k, &st, 20, hot3, 2, &pick, why), E2_AUTOSCALE_HOLD);
	assert_non_null(strstr(why, "cooling down"));
	assert_int_equal(step(&k, &st, 42.5, hot3, 2, &pick, why), E2_AUTOSCALE_OUT);
	/* at max: held, and said */
	assert_int_equal(step(&k, &st, 100, hot3, 3, &pick, why), E2_AUTOSCALE_HOLD);
	assert_int_equal(step(&k, &st, 103, hot3, 3, &pick, why), E2_AUTOSCALE_HOLD);
	assert_non_null(strstr(why, "max_number_of_instances (3)"));
}

static void in_only_when_all_are_low(void **state)
{
	(void)state;
	struct e2_autoscale_knobs k = knobs();
	struct e2_autoscale st = {0};
	unsigned pick = 99;
	char why[200];
	double mixed[] = {0.1, 0.5, 0.05}, low[] = {0.1, 0.15, 0.05}, unknown[] = {0.1, -1, 0.05};
	assert_int_equal(step(&k, &st, 0, mixed, 3, &pick, why), E2_AUTOSCALE_HOLD);
	assert_int_equal(step(&k, &st, 5, mixed, 3, &pick, why), E2_AUTOSCALE_HOLD);
	/* one unknown load: no scale-in */
	assert_int_equal(step(&k, &st, 6, unknown, 3, &pick, why), E2_AUTOSCALE_HOLD);
	assert_int_equal(step(&k, &st, 9, unknown, 3, &pick, why), E2_AUTOSCALE_HOLD);
	assert_int_equal(step(&k, &st, 10, low, 3, &pick, why), E2_AUTOSCALE_HOLD);
	assert_int_equal(step(&k, &st, 12, low, 3, &pick, why), E2_AUTOSCALE_IN);
	assert_int_equal(pick, 2);
	/* at min: held */
	double one[] = {0.01};
	assert_int_equal(step(&k, &st, 50, one, 1, &pick, why), E2_AUTOSCALE_HOLD);
	assert_int_equal(step(&k, &st, 60, one, 1, &pick, why), E2_AUTOSCALE_HOLD);
	assert_non_null(strstr(why, "least number of instances (1)"));
	/* between the thresholds nothing happens however long it lasts */
	double mid[] = {0.5, 0.5};
	for (double t = 100; t < 400; t += 10)
		assert_int_equal(step(&k, &st, t, mid, 2, &pick, why), E2_AUTOSCALE_HOLD);
	/* nothing known, nothing done */
	assert_int_equal(step(&k, &st, 500, NULL, 0, &pick, why), E2_AUTOSCALE_HOLD);
}

/* Scaling in looks at the whole load on one instance fewer: four instances at 0.25 each
 * (1.0 in all, 0.33 on three) come down to two at 0.5 in one step, not further (1.0 on
 * one); never below min. */
static void in_when_the_load_fits_in_fewer(void **state)
{
	(void)state;
	struct e2_autoscale_knobs k = knobs();
	k.in_below = 0.6;
	k.max = 6;
	struct e2_autoscale st = {0};
	unsigned pick = 99;
	char why[200];
	double four[] = {0.25, 0.3, 0.2, 0.25}, three[] = {0.33, 0.34, 0.33}, two[] = {0.5, 0.5};
	assert_int_equal(step(&k, &st, 0, four, 4, &pick, why), E2_AUTOSCALE_HOLD);
	assert_int_equal(step(&k, &st, 2, four, 4, &pick, why), E2_AUTOSCALE_IN);
	assert_int_equal(pick, 2);
	assert_int_equal(last_count, 2);
	assert_non_null(strstr(why, "load on one instance fewer 0.33 below 0.60"));
	assert_int_equal(step(&k, &st, 40, three, 3, &pick, why), E2_AUTOSCALE_HOLD);
	assert_int_equal(step(&k, &st, 42, three, 3, &pick, why), E2_AUTOSCALE_IN);
	assert_int_equal(last_count, 1);
	for (double t = 80; t < 400; t += 10)
		assert_int_equal(step(&k, &st, t, two, 2, &pick, why), E2_AUTOSCALE_HOLD);
	/* 1.2 in all: 1.2 on two is 0.6, not below: three stay of six */
	double six[] = {0.2, 0.2, 0.2, 0.2, 0.2, 0.2};
	struct e2_autoscale st2 = {0};
	assert_int_equal(step(&k, &st2, 0, six, 6, &pick, why), E2_AUTOSCALE_HOLD);
	assert_int_equal(step(&k, &st2, 2, six, 6, &pick, why), E2_AUTOSCALE_IN);
	assert_int_equal(last_count, 3);
	/* nearly nothing: down to min, not below */
	double idle[] = {0.01, 0, 0.02, 0, 0};
	k.min = 2;
	struct e2_autoscale st3 = {0};
	assert_int_equal(step(&k, &st3, 0, idle, 5, &pick, why), E2_AUTOSCALE_HOLD);
	assert_int_equal(step(&k, &st3, 2, idle, 5, &pick, why), E2_AUTOSCALE_IN);
	assert_int_equal(last_count, 3);
}

static void knobs_from_descriptions(void **state)
{
	(void)state;
	struct e2_nf_catalog *nfs = load_nfs_file("live/nfs.yaml");
	struct e2_autoscale_knobs k;
	char why[160];
	/* the firewall's own knobs, the forwarder's defaults */
	assert_int_equal(e2_autoscale_knobs(&nfs->nfs[0], &k, why, sizeof why), 0);
	assert_true(k.out_above == 0.8 && k.in_below == 0.5 && k.sustain_s == 3 && k.cooldown_s == 10 &&
		    k.drain_s == 30);
	assert_int_equal(k.min, 1);
	assert_int_equal(k.max, 4);
	assert_int_equal(e2_autoscale_knobs(&nfs->nfs[1], &k, why, sizeof why), 0);
	assert_true(k.out_above == 0.8 && k.in_below == 0.6 && k.sustain_s == 2 && k.cooldown_s == 30 &&
		    k.drain_s == 60);
	e2_nfs_free(nfs);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(out_after_sustained_load),
		cmocka_unit_test(in_only_when_all_are_low),
		cmocka_unit_test(in_when_the_load_fits_in_fewer),
		cmocka_unit_test(knobs_from_descriptions),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
