/* SPDX-License-Identifier: BSD-3-Clause */
/* Packets that wait for their extension records (mb.h, "The live channel's race").
 *
 * A packet waits when the gateway marked it as having made records whose last one has not
 * arrived, or when an earlier packet of its flow waits (a flow's packets leave in the
 * order they came). Records are matched to packets by the packet's option nonce, not by
 * flow: a NAT before this middlebox changes the flow, never the nonce. */
#include <stdlib.h>
#include <string.h>

#include "mb.h"

#define DONE_SLOTS 4096 /* the gateway's nonce is a counter: 4096 recent ones never collide */

struct held {
	void *item;
	unsigned port;
	uint64_t since;
	struct mb_pkt p;
};

struct hold_flow {
	uint32_t held; /* this flow's packets in the queue */
	uint32_t gen;  /* the release scan that kept one of them */
};

struct mb_hold {
	size_t cap, n;
	uint64_t wait_ns;
	uint32_t gen;
	struct held *q; /* arrival order */
	struct mb_flows *flows;
	/* packets whose last record is in: 1 << 32 | nonce, and the flow the records named */
	struct {
		uint64_t tag;
		struct mb_flow_key flow;
	} done[DONE_SLOTS];
	struct mb_hold_stats stats;
};

struct mb_hold *mb_hold_new(size_t cap, uint64_t wait_ns)
{
	struct mb_hold *h = calloc(1, sizeof(*h));
	if (!h)
		return NULL;
	h->cap = cap;
	h->wait_ns = wait_ns;
	if (!wait_ns)
		return h; /* nothing waits: only the records' flows are kept */
	h->q = calloc(cap, sizeof(*h->q));
	/* a flow's entry is needed only while it has packets here, at most wait_ns */
	h->flows = mb_flows_new(cap * 4, sizeof(struct hold_flow), wait_ns + 1000000000ull);
	if (!h->q || !h->flows) {
		mb_hold_free(h);
		return NULL;
	}
	return h;
}

void mb_hold_flush(struct mb_hold *h, mb_hold_fn *fn, void *ctx)
{
	for (size_t i = 0; h && i < h->n; i++)
		fn(ctx, h->q[i].item, h->q[i].port, &h->q[i].p, true);
	if (h)
		h->n = 0;
}

void mb_hold_free(struct mb_hold *h)
{
	if (!h)
		return;
	free(h->q);
	mb_flows_free(h->flows);
	free(h);
}

static bool is_done(const struct mb_hold *h, uint32_t nonce)
{
	return h->done[nonce % DONE_SLOTS].tag == (1ull << 32 | nonce);
}

void mb_hold_record(struct mb_hold *h, uint32_t nonce, const embark_key5 *rec_key)
{
	h->done[nonce % DONE_SLOTS].tag = 1ull << 32 | nonce;
	mb_flow_key(rec_key, &h->done[nonce % DONE_SLOTS].flow, NULL);
}

const struct mb_flow_key *mb_hold_rec_flow(const struct mb_hold *h, const struct mb_pkt *p)
{
	if (!p->marked || !is_done(h, p->nonce))
		return NULL;
	const struct mb_flow_key *f = &h->done[p->nonce % DONE_SLOTS].flow;
	return memcmp(f, &p->flow, sizeof(*f)) ? f : NULL; /* compared as the flow table does */
}

static void let_go(struct mb_hold *h, struct held *e, bool late, uint64_t now, mb_hold_fn *fn, void *ctx)
{
	struct hold_flow *f = mb_flows_find(h->flows, &e->p.flow, now);
	if (f && f->held)
		f->held--;
	uint64_t waited = now > e->since ? now - e->since : 0;
	if (waited > h->stats.wait_max_ns)
		h->stats.wait_max_ns = waited;
	if (late)
		h->stats.late++;
	else
		h->stats.released++;
	fn(ctx, e->item, e->port, &e->p, late);
}

bool mb_hold_admit(struct mb_hold *h, struct mb_pkt *p, void *item, unsigned port, uint64_t now, mb_hold_fn *fn,
		   void *ctx)
{
	if (!h->wait_ns)
		return false;
	bool waits = p->marked && !is_done(h, p->nonce);
	if (!h->n && !waits)
		return false; /* nothing held: the common case costs the mark's test */
	struct hold_flow *f = h->n ? mb_flows_find(h->flows, &p->flow, now) : NULL;
	if (!waits && !(f && f->held))
		return false;
	if (h->n == h->cap) {
		/* full: the oldest goes on undecided by its records, as if its wait were over */
		struct held head = h->q[0];
		memmove(h->q, h->q + 1, (h->n - 1) * sizeof(*h->q));
		h->n--;
		h->stats.overflow++;
		let_go(h, &head, true, now, fn, ctx);
		f = mb_flows_find(h->flows, &p->flow, now);
		if (!waits && !(f && f->held))
			return false;
	}
	if (!f) {
		bool fresh;
		f = mb_flows_add(h->flows, &p->flow, now, &fresh);
		if (!f) {
			h->stats.overflow++;
			return false;
		}
	}
	f->held++;
	h->q[h->n++] = (struct held){.item = item, .port = port, .since = now, .p = *p};
	h->stats.held++;
	return true;
}

void mb_hold_release(struct mb_hold *h, uint64_t now, mb_hold_fn *fn, void *ctx)
{
	if (!h->n)
		return;
	uint32_t gen = ++h->gen;
	size_t w = 0, n = h->n;
	for (size_t r = 0; r < n; r++) {
		struct held e = h->q[r];
		struct hold_flow *f = mb_flows_find(h->flows, &e.p.flow, now);
		bool behind = f && f->gen == gen; /* an earlier packet of its flow stays */
		bool ready = !e.p.marked || is_done(h, e.p.nonce);
		bool late = !ready && now - e.since >= h->wait_ns;
		if (!behind && (ready || late)) {
			let_go(h, &e, late, now, fn, ctx);
			continue;
		}
		if (f)
			f->gen = gen;
		h->q[w++] = e;
	}
	h->n = w;
}

size_t mb_hold_count(const struct mb_hold *h)
{
	return h->n;
}

const struct mb_hold_stats *mb_hold_stats(const struct mb_hold *h)
{
	return &h->stats;
}
