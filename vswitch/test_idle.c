/* SPDX-License-Identifier: BSD-3-Clause */
/* The idle policy's arithmetic (worker.h), apart from any clock: how long a worker
 * may nap at a given rate, ring and overshoot, how the rate estimate rises and decays,
 * and how the overshoot estimate follows the naps. No DPDK, no threads. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>

#include <cmocka.h>

#include "worker.h"

static struct e2_idle_conf adaptive(uint32_t ring)
{
	struct e2_idle_conf c = e2_idle_defaults(E2_IDLE_ADAPTIVE);
	c.ring = ring;
	return c;
}

/* A state that has seen `rate` packets per us and naps overshooting by `overshoot` us. */
static struct e2_idle_state state(double rate, double overshoot)
{
	struct e2_idle_state s;
	e2_idle_init(&s, 0);
	s.rate = rate;
	s.overshoot_us = overshoot;
	return s;
}

static void test_modes(void **unused)
{
	enum e2_idle_mode m;
	const char *names[] = {"adaptive", "poll", "eager"};
	for (size_t i = 0; i < 3; i++) {
		assert_int_equal(e2_idle_parse_mode(names[i], &m), 0);
		assert_string_equal(e2_idle_mode_name(m), names[i]);
	}
	assert_int_not_equal(e2_idle_parse_mode("Poll", &m), 0);
	assert_int_not_equal(e2_idle_parse_mode("", &m), 0);
	assert_int_not_equal(e2_idle_parse_mode("adaptive ", &m), 0);

	struct e2_idle_conf a = e2_idle_defaults(E2_IDLE_ADAPTIVE), e = e2_idle_defaults(E2_IDLE_EAGER);
	assert_int_equal(a.quiet_us, E2_IDLE_ADAPTIVE_QUIET_US);
	assert_int_equal(a.max_sleep_us, E2_IDLE_ADAPTIVE_MAX_SLEEP_US);
	assert_int_equal(a.ring, E2_IDLE_RING_DEFAULT);
	assert_int_equal(e.quiet_us, E2_IDLE_EAGER_QUIET_US);
	assert_true(e.quiet_us < a.quiet_us);
	/* an unconfigured worker is adaptive */
	assert_int_equal(e2_worker_idle().mode, E2_IDLE_ADAPTIVE);
}

static void test_poll_never_naps(void **unused)
{
	struct e2_idle_conf c = e2_idle_defaults(E2_IDLE_POLL);
	struct e2_idle_state s = state(0, 0);
	assert_int_equal(e2_idle_budget_us(&c, &s), 0);
	assert_int_equal(e2_idle_nap_us(&c, &s, 10000000, UINT64_MAX), 0);
}

static void test_quiet_first(void **unused)
{
	struct e2_idle_conf c = adaptive(256);
	struct e2_idle_state s = state(0, 15);
	/* polls on until quiet_us without a packet */
	assert_int_equal(e2_idle_nap_us(&c, &s, c.quiet_us - 1, UINT64_MAX), 0);
	/* then, with no traffic seen, naps max_sleep_us less what naps overshoot */
	assert_int_equal(e2_idle_nap_us(&c, &s, c.quiet_us, UINT64_MAX), c.max_sleep_us - 15);
	/* a throttled task due sooner shortens the nap */
	assert_int_equal(e2_idle_nap_us(&c, &s, c.quiet_us, 100), 85);
	/* one due too soon for a nap to pay: poll on */
	assert_int_equal(e2_idle_nap_us(&c, &s, c.quiet_us, 15), 0);
	assert_int_equal(e2_idle_nap_us(&c, &s, c.quiet_us, 0), 0);
}

static void test_ring_bounds_nap(void **unused)
{
	struct e2_idle_conf c = adaptive(256);
	/* 1 Mpps into 256 entries: full in 256 us, a nap may take a quarter of that */
	struct e2_idle_state s = state(1.0, 15);
	assert_int_equal(e2_idle_budget_us(&c, &s), 256 / E2_IDLE_SAFETY);
	assert_int_equal(e2_idle_nap_us(&c, &s, c.quiet_us, UINT64_MAX), 256 / E2_IDLE_SAFETY - 15);
	/* a ring four times larger allows naps four times longer */
	c.ring = 1024;
	assert_int_equal(e2_idle_budget_us(&c, &s), 1024 / E2_IDLE_SAFETY);
	/* 10 Mpps into 256: 6 us of room, less than a nap overshoots: poll on */
	c.ring = 256;
	s.rate = 10;
	assert_int_equal(e2_idle_budget_us(&c, &s), 6);
	assert_int_equal(e2_idle_nap_us(&c, &s, c.quiet_us, UINT64_MAX), 0);
	/* a trickle: capped by max_sleep_us */
	s.rate = 0.001;
	assert_int_equal(e2_idle_budget_us(&c, &s), c.max_sleep_us);
}

/* Whatever the rate, ring and overshoot, a nap as asked plus its usual overshoot fills
 * at most 1/E2_IDLE_SAFETY of the ring. */
static void test_nap_never_fills_ring(void **unused)
{
	srand(7);
	for (int i = 0; i < 100000; i++) {
		struct e2_idle_conf c = adaptive(16u << (rand() % 12));
		c.max_sleep_us = 1 + (uint32_t)(rand() % 100000);
		double rate = (double)(rand() % 1000000) / 1e4; /* 0..100 packets per us */
		struct e2_idle_state s = state(rate, (double)(rand() % 200));
		uint32_t nap = e2_idle_nap_us(&c, &s, c.quiet_us, UINT64_MAX);
		assert_true(nap <= c.max_sleep_us);
		if (nap)
			assert_true(((double)nap + s.overshoot_us) * rate * E2_IDLE_SAFETY <= (double)c.ring + 1e-6);
	}
}

static void test_eager(void **unused)
{
	struct e2_idle_conf c = e2_idle_defaults(E2_IDLE_EAGER);
	struct e2_idle_state s = state(10, 15);
	/* naps at once, as long as allowed whatever the rate, and at least 1 us */
	assert_int_equal(e2_idle_budget_us(&c, &s), c.max_sleep_us);
	assert_int_equal(e2_idle_nap_us(&c, &s, 0, UINT64_MAX), c.max_sleep_us - 15);
	assert_int_equal(e2_idle_nap_us(&c, &s, 0, 2), 1);
	assert_int_equal(e2_idle_nap_us(&c, &s, 0, 0), 0);
}

static void test_rate_estimate(void **unused)
{
	struct e2_idle_state s;
	e2_idle_init(&s, 1000);
	assert_true(s.overshoot_us == E2_IDLE_OVERSHOOT_INIT_US);
	/* within a window nothing is estimated yet */
	e2_idle_count(&s, 1500, 500);
	assert_true(s.rate == 0);
	/* 1000 packets over one window: 1 per us */
	e2_idle_count(&s, 1000 + E2_IDLE_WINDOW_US, 500);
	assert_true(s.rate > 0.999 && s.rate < 1.001);
	/* a faster window raises it at once */
	e2_idle_count(&s, 1000 + 2 * E2_IDLE_WINDOW_US, 4 * E2_IDLE_WINDOW_US);
	assert_true(s.rate > 3.999 && s.rate < 4.001);
	/* silence lowers it slowly: halved after ~89 windows, not after one */
	uint64_t t = 1000 + 2 * E2_IDLE_WINDOW_US;
	e2_idle_count(&s, t += E2_IDLE_WINDOW_US, 0);
	assert_true(s.rate > 3.9);
	for (int i = 1; i < 89; i++)
		e2_idle_count(&s, t += E2_IDLE_WINDOW_US, 0);
	assert_true(s.rate > 1.95 && s.rate < 2.05);
	/* a window that spans a long silence (the worker napped through it) forgets it all */
	e2_idle_count(&s, t += (uint64_t)E2_IDLE_RATE_DECAY * E2_IDLE_WINDOW_US, 0);
	assert_true(s.rate == 0);
}

static void test_overshoot_tracks_naps(void **unused)
{
	struct e2_idle_conf c = adaptive(256);
	struct e2_idle_state s = state(0, E2_IDLE_OVERSHOOT_INIT_US);
	/* naps that overshoot by 0..99 us, evenly: the estimate settles near the 75th percentile */
	for (int i = 0; i < 40000; i++)
		e2_idle_note_nap(&c, &s, 100, 100 + (uint64_t)(i * 37 % 100));
	assert_true(s.overshoot_us > 70 && s.overshoot_us < 80);
	/* one nap the host held for 10 ms moves it no more than any other */
	double before = s.overshoot_us;
	e2_idle_note_nap(&c, &s, 100, 10100);
	assert_true(s.overshoot_us <= before + 0.75);
	/* a nap that ended early counts as no overshoot */
	for (int i = 0; i < 1000; i++)
		e2_idle_note_nap(&c, &s, 100, 50);
	assert_true(s.overshoot_us == 0);
	/* on a host where every nap is late, it stops at half of max_sleep_us, so that an idle
	 * worker still naps (and measures) */
	for (int i = 0; i < 100000; i++)
		e2_idle_note_nap(&c, &s, 100, 100000);
	assert_true(s.overshoot_us == c.max_sleep_us / 2.0);
	assert_int_equal(e2_idle_nap_us(&c, &s, c.quiet_us, UINT64_MAX), c.max_sleep_us / 2);
}

/* A nap too short to take: a throttled task due within what naps overshoot runs early
 * instead of being spun for; never while polling or within the quiet window. */
static void test_early_poll(void **unused)
{
	struct e2_idle_conf c = adaptive(256);
	struct e2_idle_state s = state(0, 15);
	assert_int_equal(e2_idle_early_us(&c, &s, c.quiet_us - 1), 0);
	assert_int_equal(e2_idle_early_us(&c, &s, c.quiet_us), 16);
	/* exactly where e2_idle_nap_us declines to nap, the early poll takes over */
	assert_int_equal(e2_idle_nap_us(&c, &s, c.quiet_us, 15), 0);
	assert_true(15 <= e2_idle_early_us(&c, &s, c.quiet_us));
	struct e2_idle_conf p = e2_idle_defaults(E2_IDLE_POLL);
	assert_int_equal(e2_idle_early_us(&p, &s, 10000000), 0);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_modes),
		cmocka_unit_test(test_poll_never_naps),
		cmocka_unit_test(test_quiet_first),
		cmocka_unit_test(test_ring_bounds_nap),
		cmocka_unit_test(test_nap_never_fills_ring),
		cmocka_unit_test(test_eager),
		cmocka_unit_test(test_rate_estimate),
		cmocka_unit_test(test_overshoot_tracks_naps),
		cmocka_unit_test(test_early_poll),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
