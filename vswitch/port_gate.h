/* SPDX-License-Identifier: BSD-3-Clause */
/* A gate between the worker's bursts on a device and the thread that tears the
 * device down (librte_vhost's events thread, the memif control relay): a burst marks
 * its queue busy and re-checks that the gate is open; closing the gate waits for
 * busy queues, so no ring is unmapped under a burst.
 *
 * Marking and re-checking needs a full fence between the two (a store, then a load of
 * another line); paid on every burst, that fence waits for the copies' stores to drain
 * (~40 % of vhost_rx's samples at 64 bytes). With membarrier(2) the closing side pays
 * instead: it makes every thread of e2d execute a full fence between its store of
 * `open` and its loads of `busy`, so a burst needs only a compiler barrier (the
 * asymmetric fence of userspace RCU). Without membarrier, the fence stays on the burst. */
#ifndef E2D_PORT_GATE_H
#define E2D_PORT_GATE_H

#include <stdatomic.h>
#include <stdbool.h>

#include <rte_branch_prediction.h>
#include <rte_common.h>

/* one per queue and direction, on its own line: only its worker writes it */
struct e2_gate_mark {
	_Alignas(RTE_CACHE_LINE_SIZE) atomic_uint busy;
};

struct e2_gate {
	atomic_bool open;
};

/* Once, before the first burst through any gate (drivers call it from `open`). */
void e2_gate_setup(void);
/* true when bursts need no fence of their own (set once by e2_gate_setup) */
extern bool e2_gate_asymmetric;

static inline bool e2_gate_enter(struct e2_gate *g, struct e2_gate_mark *m)
{
	if (!atomic_load_explicit(&g->open, memory_order_acquire))
		return false;
	if (likely(e2_gate_asymmetric)) {
		atomic_store_explicit(&m->busy, 1, memory_order_relaxed);
		atomic_signal_fence(memory_order_seq_cst); /* e2_gate_close fences for us */
	} else {
		atomic_store_explicit(&m->busy, 1, memory_order_seq_cst);
	}
	if (likely(atomic_load_explicit(&g->open, memory_order_seq_cst)))
		return true;
	atomic_store_explicit(&m->busy, 0, memory_order_release);
	return false;
}

static inline void e2_gate_leave(struct e2_gate_mark *m)
{
	atomic_store_explicit(&m->busy, 0, memory_order_release);
}

static inline bool e2_gate_is_open(const struct e2_gate *g)
{
	return atomic_load(&g->open);
}

static inline void e2_gate_open(struct e2_gate *g)
{
	atomic_store(&g->open, true);
}

/* Closes the gate: a burst that enters after this sees it shut... */
void e2_gate_close(struct e2_gate *g);
/* ...and one that entered before has left once this returns. Never from a worker (it
 * would wait for itself). */
void e2_gate_wait(const struct e2_gate_mark *marks, unsigned n);

#endif
