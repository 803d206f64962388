/* SPDX-License-Identifier: BSD-3-Clause */
/* queue: decouples its upstream from its downstream. Pushing enqueues into a
 * lock-free ring; the queue's own task dequeues and runs the downstream, so the
 * two halves can run on different workers. Overflow is counted as drops. */
#include <stdio.h>

#include <rte_errno.h>
#include <rte_ring.h>

#include "../dp.h"

struct queue {
	struct rte_ring *ring;
	uint64_t enq_drops;
};

static const char *const known[] = {"size", NULL};

static int queue_init(struct e2_module *m, const struct e2_args *args, char *err)
{
	struct queue *s = e2_priv(m);
	uint64_t size;
	char rname[RTE_RING_NAMESIZE];

	if (e2_args_u64(args, "size", 1024, 64, 1 << 20, &size, err) < 0)
		return -1;
	if (size & (size - 1)) {
		snprintf(err, E2_ERR_MAX, "queue size=%llu must be a power of two", (unsigned long long)size);
		return -1;
	}
	snprintf(rname, sizeof(rname), "e2q_%p", (void *)m);
	/* Multi-producer: several upstream tasks on different workers may push. */
	s->ring = rte_ring_create(rname, (unsigned)size, SOCKET_ID_ANY, RING_F_SC_DEQ | RING_F_EXACT_SZ);
	if (!s->ring) {
		snprintf(err, E2_ERR_MAX, "cannot create a ring of %llu entries: %s", (unsigned long long)size,
			 rte_strerror(rte_errno));
		return -1;
	}
	return 0;
}

static void queue_deinit(struct e2_module *m)
{
	struct queue *s = e2_priv(m);
	void *pkt;

	while (rte_ring_dequeue(s->ring, &pkt) == 0)
		rte_pktmbuf_free(pkt);
	rte_ring_free(s->ring);
}

static void queue_process(struct e2_ctx *ctx, struct e2_module *m, uint16_t igate, struct e2_batch *b)
{
	struct queue *s = e2_priv(m);
	unsigned n = rte_ring_enqueue_burst(s->ring, (void **)b->pkts, b->cnt, NULL);

	if (unlikely(n < b->cnt)) {
		s->enq_drops += b->cnt - n;
		m->drops += b->cnt - n;
		rte_pktmbuf_free_bulk(&b->pkts[n], b->cnt - n);
	}
	b->cnt = 0;
}

static uint32_t queue_run(struct e2_ctx *ctx, struct e2_module *m)
{
	struct queue *s = e2_priv(m);
	struct e2_batch b;

	b.cnt = (uint16_t)rte_ring_dequeue_burst(s->ring, (void **)b.pkts, E2_BATCH_MAX, NULL);
	if (b.cnt == 0)
		return 0;
	uint32_t n = b.cnt;
	e2_emit(ctx, m, 0, &b);
	return n;
}

static void queue_stats(struct e2_module *m, struct e2_result *out)
{
	struct queue *s = e2_priv(m);
	e2_result_add(out, "occupancy", "%u", rte_ring_count(s->ring));
	e2_result_add(out, "capacity", "%u", rte_ring_get_capacity(s->ring));
	e2_result_add(out, "enqueue_drops", "%llu", (unsigned long long)s->enq_drops);
}

static void queue_occupancy(const struct e2_module *m, uint32_t *used, uint32_t *capacity)
{
	const struct queue *s = (const struct queue *)m->priv;
	*used = rte_ring_count(s->ring);
	*capacity = rte_ring_get_capacity(s->ring);
}

static int cmd_occupancy(struct e2_module *m, const struct e2_args *a, struct e2_result *out, char *err)
{
	queue_stats(m, out);
	return 0;
}

static const struct e2_cmd queue_cmds[] = {
	{.name = "stats",
	 .help = "occupancy, capacity and enqueue drops",
	 .thread_safe = true,
	 .args = E2_ARGS_NONE,
	 .fn = cmd_occupancy},
	{0},
};

static const struct e2_module_class queue = {
	.name = "queue",
	.help = "a ring between two tasks: [size=POW2 (1024)]; a task",
	.igates = 1,
	.ogates = 1,
	.priv_size = sizeof(struct queue),
	.args = known,
	.init = queue_init,
	.deinit = queue_deinit,
	.process_batch = queue_process,
	.run_task = queue_run,
	.stats = queue_stats,
	.occupancy = queue_occupancy,
	.cmds = queue_cmds,
};
E2_MODULE_REGISTER(queue)
