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

static void *worker_main(void *arg)
{
	struct e2_worker *w = arg;
	struct e2_ctx ctx = {.worker = w};
	uint64_t idle_since = 0, spin_cycles = w->tsc_hz / 1000000 * w->idle_spin_us;
	uint32_t sleep_for = 1;

	/* Sleep as precisely as asked: the default 50 us timer slack would dominate. */
	prctl(PR_SET_TIMERSLACK, 1000UL, 0, 0, 0);
	if (rte_thread_register() != 0)
		fprintf(stderr, "e2d: worker %u: no DPDK lcore id (%s); mempool caches disabled\n",
			w->id, rte_strerror(rte_errno));

	while (!atomic_load_explicit(&w->stop, memory_order_relaxed)) {
		uint32_t done = 0;
		uint64_t start;

		if (atomic_load_explicit(&w->pause_req, memory_order_acquire)) {
			honour_pause(w);
			continue;
		}
		start = rte_rdtsc();
		for (uint32_t i = 0; i < w->n_tasks; i++) {
			struct e2_module *t = w->tasks[i];
			ctx.current = t;
			ctx.ts = rte_rdtsc();
			done += t->cls->run_task(&ctx, t);
			e2_charge(&ctx, NULL);
		}
		w->rounds++;
		if (done) {
			w->busy_cycles += ctx.ts - start;
			idle_since = 0;
			sleep_for = 1;
			continue;
		}
		uint64_t now = rte_rdtsc();
		w->idle_cycles += now - start;
		if (idle_since == 0)
			idle_since = now;
		if (now - idle_since < spin_cycles) {
			rte_pause();
			continue;
		}
		sleep_us(sleep_for);
		w->sleeps++;
		if (sleep_for < w->max_sleep_us)
			sleep_for = sleep_for * 2 > w->max_sleep_us ? w->max_sleep_us : sleep_for * 2;
	}
	rte_thread_unregister();
	return NULL;
}

struct e2_worker *e2_worker_start(uint32_t id, int core, uint64_t tsc_hz, uint32_t idle_spin_us,
				  uint32_t max_sleep_us, char *err)
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
	pthread_attr_init(&attr);
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
	free(w);
}

void e2_worker_pause(struct e2_worker *w)
{
	atomic_store_explicit(&w->pause_req, 1, memory_order_release);
	while (!atomic_load_explicit(&w->paused, memory_order_acquire))
		sched_yield();
}

void e2_worker_resume(struct e2_worker *w)
{
	atomic_store_explicit(&w->pause_req, 0, memory_order_release);
	while (atomic_load_explicit(&w->paused, memory_order_acquire))
		sched_yield();
}

int e2_worker_add_task(struct e2_worker *w, struct e2_module *m)
{
	if (w->n_tasks == E2_TASKS_MAX)
		return ENOSPC;
	w->tasks[w->n_tasks++] = m;
	m->worker = w;
	return 0;
}

void e2_worker_remove_task(struct e2_worker *w, struct e2_module *m)
{
	for (uint32_t i = 0; i < w->n_tasks; i++)
		if (w->tasks[i] == m) {
			memmove(&w->tasks[i], &w->tasks[i + 1], (w->n_tasks - i - 1) * sizeof(w->tasks[0]));
			w->n_tasks--;
			break;
		}
	m->worker = NULL;
}
