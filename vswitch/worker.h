/* SPDX-License-Identifier: BSD-3-Clause */
/* E2D workers: threads pinned to cores that run tasks (schedulable modules) in
 * the order their scheduler tree picks them. Idle tasks back off; a worker with
 * nothing to run spins for a short while, then sleeps, so an idle e2d costs
 * almost nothing. */
#ifndef E2D_WORKER_H
#define E2D_WORKER_H

#include <pthread.h>
#include <stdatomic.h>
#include <stdint.h>

#include "module.h"
#include "schedtree.h"

#define E2_TASKS_MAX 256
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
	uint32_t idle_spin_us, max_sleep_us;
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
