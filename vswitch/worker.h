/* SPDX-License-Identifier: BSD-3-Clause */
/* E2D workers: threads pinned to cores that run tasks (schedulable modules) in
 * the order their scheduler tree picks them. Idle tasks back off; a worker with
 * nothing to run waits as its idle policy says (--idle): polls on, or sleeps
 * between polls for no longer than its receive rings can hold what arrives. */
#ifndef E2D_WORKER_H
#define E2D_WORKER_H

#include <pthread.h>
#include <stdatomic.h>
#include <stdint.h>

#include "module.h"
#include "schedtree.h"

#define E2_TASKS_MAX 256

/* How a worker with nothing to do waits. */
enum e2_idle_mode {
	E2_IDLE_ADAPTIVE, /* naps, each short enough that no ring overflows at the recent rate */
	E2_IDLE_POLL,     /* never sleeps: the lowest latency, a whole core */
	E2_IDLE_EAGER,    /* naps as soon as and as long as allowed: the least CPU */
};

struct e2_idle_conf {
	enum e2_idle_mode mode;
	uint32_t quiet_us;     /* no packet for this long before the first nap */
	uint32_t max_sleep_us; /* the longest nap */
	uint32_t ring;         /* adaptive: the smallest receive ring, in packets, a nap must not fill */
};

/* The defaults of each mode (e2d --help lists them). */
#define E2_IDLE_ADAPTIVE_QUIET_US 1000
#define E2_IDLE_ADAPTIVE_MAX_SLEEP_US 1000
#define E2_IDLE_EAGER_QUIET_US 0
#define E2_IDLE_EAGER_MAX_SLEEP_US 1000
/* virtio's default queue size (QEMU, virtio-user): the smallest ring a port is likely to have */
#define E2_IDLE_RING_DEFAULT 256
/* A nap may leave unpolled at most 1/E2_IDLE_SAFETY of a ring's room at the recent rate:
 * the rest absorbs naps that overshoot (a busy host), arrivals burstier than their mean,
 * and a port whose share of the worker's rate is all of it. */
#define E2_IDLE_SAFETY 4
/* The arrival rate is measured over windows this long; its estimate keeps the peak and
 * decays by 1/E2_IDLE_RATE_DECAY a window, so it halves in ~90 ms of silence. */
#define E2_IDLE_WINDOW_US 1000
#define E2_IDLE_RATE_DECAY 128
/* How much longer than asked a nap lasts before the first is measured: Linux's default
 * timer slack, larger than this machine kind's ~15 us with the slack at 1 ns. */
#define E2_IDLE_OVERSHOOT_INIT_US 50.0

/* What the adaptive policy has learnt; written by its worker only. */
struct e2_idle_state {
	uint64_t win_start_us, win_packets;
	double rate;         /* packets per us: the peak of recent windows, decaying */
	double overshoot_us; /* a nap's usual excess over what it asked (its 75th percentile) */
};

int e2_idle_parse_mode(const char *s, enum e2_idle_mode *out);
const char *e2_idle_mode_name(enum e2_idle_mode m);
/* The mode's defaults for quiet_us, max_sleep_us and ring. */
struct e2_idle_conf e2_idle_defaults(enum e2_idle_mode m);
/* Every worker started from now on waits this way (e2d sets it from its flags before
 * starting any worker); e2_worker_start's idle_spin_us and max_sleep_us override its
 * quiet_us and max_sleep_us. Default: adaptive with its defaults. */
void e2_worker_set_idle(const struct e2_idle_conf *c);
struct e2_idle_conf e2_worker_idle(void);

/* The policy's arithmetic, apart from the clock so that it can be tested. */
void e2_idle_init(struct e2_idle_state *s, uint64_t now_us);
/* Counts packets handled at now_us and closes the rate window when it is over. */
void e2_idle_count(struct e2_idle_state *s, uint64_t now_us, uint64_t packets);
/* The longest a worker may leave its rings unpolled (us); 0 for poll. Also the cap on
 * an idle task's back-off. */
uint32_t e2_idle_budget_us(const struct e2_idle_conf *c, const struct e2_idle_state *s);
/* How long to nap (us) after quiet_us without a packet when the next throttled task is
 * due in until_wake_us (UINT64_MAX: none); 0: keep polling. */
uint32_t e2_idle_nap_us(const struct e2_idle_conf *c, const struct e2_idle_state *s, uint64_t quiet_us,
			uint64_t until_wake_us);
/* How far ahead (us) a worker that is due to nap but finds the nap too short to take may
 * run a throttled task instead of spinning until it is due: what naps overshoot here
 * (an early poll costs less than the spin, and a nap would have run it that late
 * anyway); 0 for poll and within the quiet window. */
uint32_t e2_idle_early_us(const struct e2_idle_conf *c, const struct e2_idle_state *s, uint64_t quiet_us);
/* A nap that asked for asked_us took took_us. */
void e2_idle_note_nap(const struct e2_idle_conf *c, struct e2_idle_state *s, uint32_t asked_us, uint64_t took_us);
/* Each worker thread's stack, fixed rather than taken from ulimit -s: the graph's
 * depth limit (E2_GRAPH_DEPTH_MAX in dp.h) is chosen against it. */
#define E2_WORKER_STACK (8u << 20)

struct e2_worker {
	uint32_t id;
	int core; /* -1: not pinned */
	pthread_t thread;
	atomic_int stop;
	atomic_int pause_req;
	atomic_int paused;
	/* asleep between rounds: at a safe point already, and it looks at pause_req before
	 * anything else when it wakes, so a pause need not wait out its nap */
	atomic_int parked;
	int pause_depth; /* control thread only: nested pauses release at zero */
	struct e2_idle_conf idle;
	struct e2_idle_state idle_state; /* written by the worker */
	uint64_t tsc_hz;
	/* changed only while paused */
	uint32_t n_tasks;
	struct e2_module *tasks[E2_TASKS_MAX];
	struct e2_sched_node *root; /* round robin "wID" unless reconfigured */
	/* written by the worker */
	uint64_t busy_cycles, idle_cycles, sleeps, rounds;
	uint64_t packets; /* handled by its tasks */
};

struct e2_worker *e2_worker_start(uint32_t id, int core, uint64_t tsc_hz, uint32_t idle_spin_us, uint32_t max_sleep_us,
				  char *err);
void e2_worker_stop(struct e2_worker *w);
void e2_worker_pause(struct e2_worker *w);
void e2_worker_resume(struct e2_worker *w);
/* Call only while the worker is paused (or not running). */
int e2_worker_add_task(struct e2_worker *w, struct e2_module *m);
void e2_worker_remove_task(struct e2_worker *w, struct e2_module *m);

#endif
