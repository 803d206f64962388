/* SPDX-License-Identifier: BSD-3-Clause */
/* e2-xcore: how far apart the host keeps our two cores, sampled while a benchmark runs.
 *
 *   e2-xcore [--cores A,B] [--seconds S] [--interval-ms M] [--far-ns N]
 *
 * Every M ms (50) a thread pinned to each core bounces one cache line between them
 * ROUNDS times and the round trip is timed. On these 2-vCPU guests it is ~70-110 ns in
 * some spells and ~420-490 ns in others, changing several times a second: the host
 * moves the vCPUs between cores that share a cache and cores that do not. A switch's
 * cycles per packet follow it, since its dearest loads are lines the traffic core wrote
 * (vswitch/README "Where the cycles go"). Prints key=value lines: samples taken, samples
 * missed (a thread not scheduled within 200 us: the other core stays undisturbed),
 * the median round trip and the share of samples above --far-ns (250).
 * The cost to the measured programs: ~5-30 us of each core per sample. */
#include <pthread.h>
#include <sched.h>
#include <stdatomic.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "e2/num.h"
#include "e2/opts.h"

#define ROUNDS 64
#define WAIT_NS 200000 /* how long one thread waits for the other to turn up */
#define SAMPLES_MAX 100000

struct shared {
	_Alignas(64) atomic_ulong line; /* the bounced line: even, the first core's turn */
	_Alignas(64) atomic_uint ready; /* sample number the second thread has reached */
	atomic_bool stop;
	int core_b;
	uint64_t start_ns, interval_ns; /* sample k is due at start + k * interval */
};

static uint64_t now_ns(void)
{
	struct timespec ts;
	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (uint64_t)ts.tv_sec * 1000000000u + (uint64_t)ts.tv_nsec;
}

static int pin(int core)
{
	cpu_set_t set;
	CPU_ZERO(&set);
	CPU_SET(core, &set);
	return pthread_setaffinity_np(pthread_self(), sizeof(set), &set);
}

/* Both sides give up a round trip after WAIT_NS, so a descheduled partner costs the
 * other core at most that much. */
static bool bounce(atomic_ulong *line, unsigned long base, int side)
{
	for (unsigned long i = 0; i < ROUNDS; i++) {
		unsigned long want = base + 2 * i + (unsigned long)side;
		uint64_t t0 = now_ns();
		/* the clock read only now and then: it would add to what is timed */
		for (unsigned spins = 1; atomic_load_explicit(line, memory_order_acquire) != want; spins++)
			if (spins % 256 == 0 && now_ns() - t0 > WAIT_NS)
				return false;
		atomic_store_explicit(line, want + 1, memory_order_release);
	}
	return true;
}

/* Both threads sleep to the same deadline, so neither spins long for the other. */
static void sleep_until(uint64_t ns)
{
	struct timespec ts = {.tv_sec = (time_t)(ns / 1000000000u), .tv_nsec = (long)(ns % 1000000000u)};
	while (clock_nanosleep(CLOCK_MONOTONIC, TIMER_ABSTIME, &ts, NULL) != 0)
		;
}

static void *second_core(void *arg)
{
	struct shared *s = arg;

	if (pin(s->core_b) != 0)
		return (void *)1;
	for (unsigned k = 1; !atomic_load(&s->stop); k++) {
		sleep_until(s->start_ns + k * s->interval_ns);
		atomic_store(&s->ready, k);
		bounce(&s->line, (unsigned long)k * 4 * ROUNDS, 1);
	}
	return NULL;
}

static int cmp_double(const void *a, const void *b)
{
	double x = *(const double *)a, y = *(const double *)b;
	return (x > y) - (x < y);
}

static int parse_cores(const char *arg, int *a, int *b, struct e2_err *e)
{
	char first[16];
	const char *comma = strchr(arg, ',');
	if (!comma || (size_t)(comma - arg) >= sizeof(first))
		return e2_seterr(e, "--cores=%.40s: two different cores A,B", arg), -1;
	snprintf(first, sizeof(first), "%.*s", (int)(comma - arg), arg);
	if (e2_num_int("--cores", first, 0, CPU_SETSIZE - 1, a, e) ||
	    e2_num_int("--cores", comma + 1, 0, CPU_SETSIZE - 1, b, e))
		return -1;
	if (*a == *b)
		return e2_seterr(e, "--cores=%.40s: two different cores A,B", arg), -1;
	return 0;
}

int main(int argc, char **argv)
{
	static const struct option longs[] = {{"cores", required_argument, NULL, 'c'},
					      {"seconds", required_argument, NULL, 's'},
					      {"interval-ms", required_argument, NULL, 'i'},
					      {"far-ns", required_argument, NULL, 'f'},
					      {"help", no_argument, NULL, 'h'},
					      {NULL, 0, NULL, 0}};
	int core_a = 0, core_b = 1, c, bad = 0;
	double seconds = 1, far_ns = 250;
	uint32_t interval_ms = 50;
	struct e2_err e;

	while ((c = e2_opt_next(argc, argv, "", longs, &e)) != -1) {
		switch (c) {
		case 'c': bad = parse_cores(optarg, &core_a, &core_b, &e); break;
		case 's': bad = e2_num_duration("--seconds", optarg, 0.01, 3600, &seconds, &e); break;
		case 'i': bad = e2_num_u32("--interval-ms", optarg, 1, 10000, &interval_ms, &e); break;
		case 'f': bad = e2_num_duration("--far-ns", optarg, 1, 1e6, &far_ns, &e); break;
		case 'h':
			puts("usage: e2-xcore [--cores A,B (0,1)] [--seconds S (1)] [--interval-ms M (50)] "
			     "[--far-ns N (250)]");
			return 0;
		case E2_OPT_BAD: bad = -1; break;
		default: fprintf(stderr, "e2-xcore: option %d is not handled (a bug)\n", c); return 2;
		}
		if (bad) {
			fprintf(stderr, "e2-xcore: %s\n", e.msg);
			return 2;
		}
	}
	if (optind < argc) {
		fprintf(stderr, "e2-xcore: unexpected argument '%s'\n", argv[optind]);
		return 2;
	}

	static struct shared s;
	static double rtt[SAMPLES_MAX];
	pthread_t t;
	unsigned n = 0, missed = 0;

	s.core_b = core_b;
	s.interval_ns = (uint64_t)interval_ms * 1000000u;
	s.start_ns = now_ns();
	if (pin(core_a) != 0 || pthread_create(&t, NULL, second_core, &s) != 0) {
		fprintf(stderr, "e2-xcore: cannot run on cores %d and %d\n", core_a, core_b);
		return 1;
	}
	uint64_t end = s.start_ns + (uint64_t)(seconds * 1e9);
	for (unsigned k = 1; s.start_ns + k * s.interval_ns < end && n + missed < SAMPLES_MAX; k++) {
		sleep_until(s.start_ns + k * s.interval_ns);
		atomic_store(&s.line, (unsigned long)k * 4 * ROUNDS);
		uint64_t t0 = now_ns();
		bool met = true;
		while (atomic_load(&s.ready) != k)
			if (now_ns() - t0 > WAIT_NS) {
				met = false;
				break;
			}
		t0 = now_ns();
		if (met && bounce(&s.line, (unsigned long)k * 4 * ROUNDS, 0))
			rtt[n++] = (double)(now_ns() - t0) / ROUNDS;
		else
			missed++;
	}
	atomic_store(&s.stop, true);
	pthread_join(t, NULL);

	unsigned far = 0;
	for (unsigned i = 0; i < n; i++)
		far += rtt[i] > far_ns;
	qsort(rtt, n, sizeof(rtt[0]), cmp_double);
	printf("xcore_samples=%u\nxcore_missed=%u\n", n, missed);
	if (n) {
		printf("xcore_rtt_ns_median=%.1f\n", rtt[n / 2]);
		printf("xcore_far_pct=%.1f\n", 100.0 * far / n);
	} else {
		printf("xcore_rtt_ns_median=n/a\nxcore_far_pct=n/a\n");
	}
	return 0;
}
