/* SPDX-License-Identifier: BSD-3-Clause */
/* Worker threads: the run loop, the idle policy and the pause handshake. */
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

/* The idle policy (worker.h). A worker that finds nothing to do must come back before
 * any of its receive rings fills: a ring of N entries at R packets per us fills in N/R
 * us, so a nap is bounded by that over a safety factor, less what naps overshoot here
 * (measured as the worker runs), and a nap too short to be worth its wake-up is not
 * taken. The rate is the peak over recent 1 ms windows, decaying slowly, so traffic
 * that pauses for a moment finds the worker still on guard; only after a few hundred
 * milliseconds of silence do naps reach max_sleep_us, which sets what an idle e2d
 * costs. Ports cannot wake a worker (vhost kicks are off, see README), so a nap is the
 * only way to wait. */
static struct e2_idle_conf idle_default = {.mode = E2_IDLE_ADAPTIVE,
					   .quiet_us = E2_IDLE_ADAPTIVE_QUIET_US,
					   .max_sleep_us = E2_IDLE_ADAPTIVE_MAX_SLEEP_US,
					   .ring = E2_IDLE_RING_DEFAULT};

int e2_idle_parse_mode(const char *s, enum e2_idle_mode *out)
{
	static const struct {
		const char *name;
		enum e2_idle_mode mode;
	} modes[] = {{"adaptive", E2_IDLE_ADAPTIVE}, {"poll", E2_IDLE_POLL}, {"eager", E2_IDLE_EAGER}};
	for (size_t i = 0; i < sizeof(modes) / sizeof(modes[0]); i++)
		if (strcmp(s, modes[i].name) == 0) {
			*out = modes[i].mode;
			return 0;
		}
	return -1;
}

const char *e2_idle_mode_name(enum e2_idle_mode m)
{
	return m == E2_IDLE_POLL ? "poll" : m == E2_IDLE_EAGER ? "eager" : "adaptive";
}

struct e2_idle_conf e2_idle_defaults(enum e2_idle_mode m)
{
	struct e2_idle_conf c = {.mode = m, .ring = E2_IDLE_RING_DEFAULT};
	if (m == E2_IDLE_EAGER) {
		c.quiet_us = E2_IDLE_EAGER_QUIET_US;
		c.max_sleep_us = E2_IDLE_EAGER_MAX_SLEEP_US;
	} else {
		c.quiet_us = E2_IDLE_ADAPTIVE_QUIET_US;
		c.max_sleep_us = E2_IDLE_ADAPTIVE_MAX_SLEEP_US;
	}
	return c;
}

void e2_worker_set_idle(const struct e2_idle_conf *c)
{
	idle_default = *c;
}

struct e2_idle_conf e2_worker_idle(void)
{
	return idle_default;
}

void e2_idle_init(struct e2_idle_state *s, uint64_t now_us)
{
	*s = (struct e2_idle_state){.win_start_us = now_us, .overshoot_us = E2_IDLE_OVERSHOOT_INIT_US};
}

void e2_idle_count(struct e2_idle_state *s, uint64_t now_us, uint64_t packets)
{
	s->win_packets += packets;
	if (now_us < s->win_start_us + E2_IDLE_WINDOW_US)
		return;
	double elapsed = (double)(now_us - s->win_start_us);
	double windows = elapsed / E2_IDLE_WINDOW_US;
	double rate = (double)s->win_packets / elapsed;
	s->rate -= windows >= E2_IDLE_RATE_DECAY ? s->rate : s->rate * windows / E2_IDLE_RATE_DECAY;
	if (rate > s->rate)
		s->rate = rate;
	s->win_start_us = now_us;
	s->win_packets = 0;
}

uint32_t e2_idle_budget_us(const struct e2_idle_conf *c, const struct e2_idle_state *s)
{
	if (c->mode == E2_IDLE_POLL)
		return 0;
	double budget = c->max_sleep_us;
	if (c->mode == E2_IDLE_ADAPTIVE && s->rate > 0) {
		double fill_us = (double)c->ring / (s->rate * E2_IDLE_SAFETY);
		if (fill_us < budget)
			budget = fill_us;
	}
	return (uint32_t)budget;
}

uint32_t e2_idle_nap_us(const struct e2_idle_conf *c, const struct e2_idle_state *s, uint64_t quiet_us,
			uint64_t until_wake_us)
{
	if (c->mode == E2_IDLE_POLL || quiet_us < c->quiet_us)
		return 0;
	uint64_t want = e2_idle_budget_us(c, s);
	if (until_wake_us < want)
		want = until_wake_us;
	if (want == 0)
		return 0;
	/* ask for less by what naps overshoot, so that the nap ends when it should */
	double ask = (double)want - s->overshoot_us;
	if (c->mode == E2_IDLE_EAGER)
		return ask >= 1 ? (uint32_t)ask : 1;
	/* a nap shorter than its own wake-up costs more than polling on */
	return ask >= 1 ? (uint32_t)ask : 0;
}

uint32_t e2_idle_early_us(const struct e2_idle_conf *c, const struct e2_idle_state *s, uint64_t quiet_us)
{
	if (c->mode == E2_IDLE_POLL || quiet_us < c->quiet_us)
		return 0;
	return (uint32_t)s->overshoot_us + 1;
}

void e2_idle_note_nap(const struct e2_idle_conf *c, struct e2_idle_state *s, uint32_t asked_us, uint64_t took_us)
{
	/* a quantile tracker (75th percentile): a nap the host delayed by milliseconds moves
	 * it by no more than any other nap, so one bad moment does not stop the naps */
	double excess = took_us > asked_us ? (double)(took_us - asked_us) : 0;
	s->overshoot_us += excess > s->overshoot_us ? 0.75 : -0.25;
	if (s->overshoot_us < 0)
		s->overshoot_us = 0;
	/* capped, so that an idle worker keeps napping (and measuring) on a slow host */
	if (s->overshoot_us > c->max_sleep_us / 2.0)
		s->overshoot_us = c->max_sleep_us / 2.0;
}

static void *worker_main(void *arg)
{
	struct e2_worker *w = arg;
	struct e2_ctx ctx = {.worker = w};
	uint64_t us = w->tsc_hz / 1000000;
	uint64_t last_work = rte_rdtsc();
	uint64_t window = us * E2_IDLE_WINDOW_US, window_end = last_work + window, window_packets = 0;

	/* Sleep as precisely as asked: the default 50 us timer slack would dominate a nap. */
	prctl(PR_SET_TIMERSLACK, 1UL, 0, 0, 0);
	if (rte_thread_register() != 0)
		E2_WARN("worker %u: no DPDK lcore id (%s); mempool caches disabled", w->id, rte_strerror(rte_errno));
	e2_idle_init(&w->idle_state, last_work / us);
	uint32_t backoff_cap = e2_idle_budget_us(&w->idle, &w->idle_state);

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
		/* the rate estimate, and with it how long a task may be left unpolled, once a window */
		if (now >= window_end) {
			e2_idle_count(&w->idle_state, now / us, window_packets);
			window_packets = 0;
			window_end = now + window;
			backoff_cap = e2_idle_budget_us(&w->idle, &w->idle_state);
		}
		uint64_t wake = UINT64_MAX;
		struct e2_sched_node *leaf = e2_sched_pick(w->root, now, &wake);
		uint32_t nap = 0;
		if (!leaf) {
			/* Nothing may run now: tasks are idle or throttled. */
			uint64_t quiet = (now - last_work) / us;
			uint64_t until_wake = wake == UINT64_MAX ? UINT64_MAX : (wake - now) / us;
			nap = e2_idle_nap_us(&w->idle, &w->idle_state, quiet, until_wake);
			/* Too short a nap: the task due soonest is run now rather than spun for (on
			 * a host whose naps overshoot by 50 us that spin was most of an idle
			 * worker's CPU). Picking as of its wake runs it no more than that early. */
			if (!nap && until_wake <= e2_idle_early_us(&w->idle, &w->idle_state, quiet)) {
				uint64_t unused_wake = UINT64_MAX; /* the next round picks afresh */
				leaf = e2_sched_pick(w->root, wake, &unused_wake);
			}
		}

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
			e2_sched_account(leaf, &u, end, w->tsc_hz, w->idle.quiet_us, backoff_cap);
			if (done) {
				w->busy_cycles += u.cycles;
				w->packets += done;
				window_packets += done;
				last_work = end;
			} else {
				w->idle_cycles += u.cycles;
			}
			now = end;
			continue;
		}
		if (!nap) {
			rte_pause();
			now = rte_rdtsc();
			continue;
		}
		atomic_store_explicit(&w->parked, 1, memory_order_seq_cst);
		sleep_us(nap);
		atomic_store_explicit(&w->parked, 0, memory_order_seq_cst);
		uint64_t woke = rte_rdtsc();
		e2_idle_note_nap(&w->idle, &w->idle_state, nap, (woke - now) / us);
		w->sleeps++;
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
	w->idle = idle_default;
	w->idle.quiet_us = idle_spin_us;
	w->idle.max_sleep_us = max_sleep_us ? max_sleep_us : 1;
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
