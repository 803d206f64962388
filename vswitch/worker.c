/* SPDX-License-Identifier: BSD-3-Clause */
/* Worker threads: the run loop, adaptive sleep and the pause handshake. */
#include "worker.h"

#include <errno.h>
#include <sched.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/prctl.h>
#include <time.h>

#include <rte_cycles.h>
#include <rte_errno.h>
#include <rte_lcore.h>
#include <rte_pause.h>
#include "e2/log.h"

E2_LOG_MODULE(worker);

static void sleep_us(uint32_t us)
{
	struct timespec ts = {.tv_sec = us / 1000000, .tv_nsec = (long)(us % 1000000) * 1000};
	nanosleep(&ts, NULL);
}

/* Parks the worker between rounds while the control thread changes the graph. */
static void honour_pause(struct e2_worker *w)
{
	atomic_store_explicit(&w->paused, 1, memory_order_release);
	while (atomic_load_explicit(&w->pause_req, memory_order_acquire) &&
	       !atomic_load_explicit(&w->stop, memory_order_relaxed))
		sleep_us(5);
	atomic_store_explicit(&w->paused, 0, memory_order_release);
}

/* Bytes a task emitted so far, for bit-rate limits and accounting. */
static inline uint64_t emitted_bytes(const struct e2_module *t)
{
	return t->n_ogates ? t->ogates[0].bytes : 0;
}

static void *worker_main(void *arg)
{
	struct e2_worker *w = arg;
	struct e2_ctx ctx = {.worker = w};
	uint64_t us = w->tsc_hz / 1000000;
	uint64_t last_work = rte_rdtsc();
	uint32_t sleep_for = 1;

	/* Sleep as precisely as asked: the default 50 us timer slack would dominate. */
	prctl(PR_SET_TIMERSLACK, 1000UL, 0, 0, 0);
	if (rte_thread_register() != 0)
		E2_WARN("worker %u: no DPDK lcore id (%s); mempool caches disabled", w->id, rte_strerror(rte_errno));

	/* One TSC read per round: a task's end is the next round's start. */
	uint64_t now = rte_rdtsc();
	while (!atomic_load_explicit(&w->stop, memory_order_relaxed)) {
		/* seq_cst, as the store to `parked` after a nap: with e2_worker_pause's store and
		 * load, one of the two sides always sees the other (Dekker) */
		if (atomic_load_explicit(&w->pause_req, memory_order_seq_cst)) {
			honour_pause(w);
			now = rte_rdtsc();
			continue;
		}
		uint64_t wake = UINT64_MAX;
		struct e2_sched_node *leaf = e2_sched_pick(w->root, now, &wake);

		w->rounds++;
		if (leaf) {
			struct e2_module *t = leaf->task;
			uint64_t bytes0 = emitted_bytes(t);
			ctx.measure = (t->measure_tick++ & (E2_MEASURE_EVERY - 1)) == 0;
			ctx.current = t;
			ctx.ts = now;
			uint32_t done = t->cls->run_task(&ctx, t);
			uint64_t end = rte_rdtsc();
			if (ctx.measure) {
				ctx.current->cycles += end - ctx.ts;
				t->measured_packets += done;
			}
			struct e2_sched_usage u = {
				.cycles = end - now, .packets = done, .bits = (emitted_bytes(t) - bytes0) * 8};
			e2_sched_account(leaf, &u, end, w->tsc_hz, w->idle_spin_us, w->max_sleep_us);
			if (done) {
				w->busy_cycles += u.cycles;
				w->packets += done;
				last_work = end;
				sleep_for = 1;
			} else {
				w->idle_cycles += u.cycles;
			}
			now = end;
			continue;
		}
		/* Nothing may run now: tasks are idle or throttled. */
		if (now - last_work < us * w->idle_spin_us && wake - now < us * w->idle_spin_us) {
			rte_pause();
			now = rte_rdtsc();
			continue;
		}
		uint64_t until_wake = wake == UINT64_MAX ? UINT64_MAX : (wake - now) / us + 1;
		uint32_t nap = sleep_for;
		if (until_wake < nap)
			nap = (uint32_t)until_wake;
		if (now - last_work < us * w->idle_spin_us) {
			/* a throttled task will be runnable soon: wait for it without sleeping */
			rte_delay_us_block(nap);
		} else {
			atomic_store_explicit(&w->parked, 1, memory_order_seq_cst);
			sleep_us(nap);
			atomic_store_explicit(&w->parked, 0, memory_order_seq_cst);
			w->sleeps++;
			if (sleep_for < w->max_sleep_us)
				sleep_for = sleep_for * 2 > w->max_sleep_us ? w->max_sleep_us : sleep_for * 2;
		}
		uint64_t woke = rte_rdtsc();
		w->idle_cycles += woke - now;
		now = woke;
	}
	rte_thread_unregister();
	return NULL;
}

struct e2_worker *e2_worker_start(uint32_t id, int core, uint64_t tsc_hz, uint32_t idle_spin_us, uint32_t max_sleep_us,
				  char *err)
{
	struct e2_worker *w = calloc(1, sizeof(*w));
	pthread_attr_t attr;
	int rc;

	if (!w) {
		snprintf(err, E2_ERR_MAX, "out of memory");
		return NULL;
	}
	w->id = id;
	w->core = core;
	w->tsc_hz = tsc_hz;
	w->idle_spin_us = idle_spin_us;
	w->max_sleep_us = max_sleep_us ? max_sleep_us : 1;
	char root_name[E2_NAME_MAX];
	snprintf(root_name, sizeof(root_name), "w%u", id);
	w->root = e2_sched_node_new(root_name, E2_SCHED_ROUND_ROBIN);
	if (!w->root) {
		free(w);
		snprintf(err, E2_ERR_MAX, "out of memory");
		return NULL;
	}
	pthread_attr_init(&attr);
	pthread_attr_setstacksize(&attr, E2_WORKER_STACK);
	if (core >= 0) {
		cpu_set_t set;
		CPU_ZERO(&set);
		CPU_SET(core, &set);
		pthread_attr_setaffinity_np(&attr, sizeof(set), &set);
	}
	rc = pthread_create(&w->thread, &attr, worker_main, w);
	pthread_attr_destroy(&attr);
	if (rc != 0) {
		snprintf(err, E2_ERR_MAX, "cannot start worker %u on core %d: %s", id, core, strerror(rc));
		e2_sched_node_free(w->root);
		free(w);
		return NULL;
	}
	char tname[16];
	snprintf(tname, sizeof(tname), "e2d-w%u", id);
	pthread_setname_np(w->thread, tname);
	return w;
}

void e2_worker_stop(struct e2_worker *w)
{
	if (!w)
		return;
	atomic_store(&w->stop, 1);
	pthread_join(w->thread, NULL);
	e2_sched_node_free(w->root);
	free(w);
}

void e2_worker_pause(struct e2_worker *w)
{
	if (w->pause_depth++ > 0)
		return;
	/* A worker asleep between rounds is at a safe point: waiting for it to wake (up to its
	 * longest nap) made every graph change on an idle e2d cost ~250 us. */
	atomic_store_explicit(&w->pause_req, 1, memory_order_seq_cst);
	while (!atomic_load_explicit(&w->paused, memory_order_acquire) &&
	       !atomic_load_explicit(&w->parked, memory_order_seq_cst))
		sched_yield();
}

void e2_worker_resume(struct e2_worker *w)
{
	if (--w->pause_depth > 0)
		return;
	atomic_store_explicit(&w->pause_req, 0, memory_order_release);
	while (atomic_load_explicit(&w->paused, memory_order_acquire))
		sched_yield();
}

int e2_worker_add_task(struct e2_worker *w, struct e2_module *m)
{
	char err[E2_ERR_MAX];
	struct e2_sched_node *leaf;

	if (w->n_tasks == E2_TASKS_MAX || w->root->n_children == E2_SCHED_CHILDREN_MAX)
		return ENOSPC;
	leaf = e2_sched_node_new(m->name, E2_SCHED_LEAF);
	if (!leaf)
		return ENOMEM;
	leaf->task = m;
	if (e2_sched_attach(w->root, leaf, err) != 0) {
		free(leaf);
		return ENOSPC;
	}
	w->tasks[w->n_tasks++] = m;
	m->worker = w;
	return 0;
}

void e2_worker_remove_task(struct e2_worker *w, struct e2_module *m)
{
	e2_sched_node_free(e2_sched_find_task(w->root, m));
	for (uint32_t i = 0; i < w->n_tasks; i++)
		if (w->tasks[i] == m) {
			memmove(&w->tasks[i], &w->tasks[i + 1], (w->n_tasks - i - 1) * sizeof(w->tasks[0]));
			w->n_tasks--;
			break;
		}
	m->worker = NULL;
}
