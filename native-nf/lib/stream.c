/* SPDX-License-Identifier: BSD-3-Clause */
/* The TCP reassembler of include/e2/nf_stream.h. Flows live in a fixed table of slots
 * (chained hash by the unordered 5-tuple, an LRU list for idle ends and evictions);
 * frames ahead of a hole wait in a sorted list per direction of nodes from one pool. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "e2/nf_stream.h"

#define NIL UINT32_MAX
/* a segment this far from the next expected byte is not of this stream */
#define WINDOW_MAX (1 << 30)

struct node {
	uint64_t off;
	const uint8_t *data;
	void *frame;
	uint32_t len, skip, next;
	bool fin;
};

struct dir_state {
	uint64_t off_next; /* stream offset of the next byte to deliver */
	uint64_t fin_off;
	uint32_t seq_next; /* its sequence number */
	uint32_t held;     /* first node, by offset */
	uint32_t held_bytes, held_frames;
	bool started, fin_known, closed;
};

struct flow {
	struct e2_stream_flow pub;
	struct dir_state d[2];
	uint64_t last_seen;
	uint32_t hash_next, lru_prev, lru_next, held_prev, held_next;
	uint16_t gen;
	bool active, in_held_lru;
};

struct e2_stream {
	struct e2_stream_cfg cfg;
	struct flow *flows;
	uint8_t *user;
	uint32_t *buckets, bucket_mask;
	uint32_t free_flow;                /* free slots, through hash_next */
	uint32_t fresh_flows, fresh_nodes; /* never used yet, taken in order: memory is touched when needed */
	uint32_t lru_head, lru_tail;       /* most recently seen first */
	uint32_t held_head, held_tail;     /* flows holding frames, most recent first */
	struct node *nodes;
	uint32_t free_node;
	struct e2_stream_stats st;
};

/* --- lists --- */

#define LIST_UNLINK(s, idx, prev, next, head, tail)           \
	do {                                                  \
		struct flow *f_ = &(s)->flows[idx];           \
		if (f_->prev != NIL)                          \
			(s)->flows[f_->prev].next = f_->next; \
		else                                          \
			(s)->head = f_->next;                 \
		if (f_->next != NIL)                          \
			(s)->flows[f_->next].prev = f_->prev; \
		else                                          \
			(s)->tail = f_->prev;                 \
		f_->prev = f_->next = NIL;                    \
	} while (0)

#define LIST_PUSH(s, idx, prev, next, head, tail)           \
	do {                                                \
		struct flow *f_ = &(s)->flows[idx];         \
		f_->prev = NIL;                             \
		f_->next = (s)->head;                       \
		if ((s)->head != NIL)                       \
			(s)->flows[(s)->head].prev = (idx); \
		else                                        \
			(s)->tail = (idx);                  \
		(s)->head = (idx);                          \
	} while (0)

static uint32_t tuple_hash(const struct e2_stream_tuple *t)
{
	/* symmetric: both directions of a flow land in one bucket */
	uint64_t a = (uint64_t)t->saddr << 16 | t->sport, b = (uint64_t)t->daddr << 16 | t->dport;
	uint64_t x = (a < b ? a : b) * 0x9E3779B97F4A7C15ull ^ (a < b ? b : a);
	x ^= x >> 33;
	x *= 0xff51afd7ed558ccdull;
	x ^= x >> 33;
	x *= 0xc4ceb9fe1a85ec53ull;
	return (uint32_t)(x ^ (x >> 33));
}

static uint32_t ceil_pow2(uint32_t v)
{
	uint32_t p = 1;
	while (p < v)
		p <<= 1;
	return p;
}

struct e2_stream *e2_stream_create(const struct e2_stream_cfg *cfg, struct e2_err *err)
{
	if (!cfg->on_release || !cfg->on_stream) {
		e2_seterr(err, "stream: on_stream and on_release are required");
		return NULL;
	}
	if (cfg->max_flows < 1 || cfg->max_flows > (1u << E2_STREAM_SLOT_BITS)) {
		e2_seterr(err, "stream: max_flows must be 1..%u, not %u", 1u << E2_STREAM_SLOT_BITS, cfg->max_flows);
		return NULL;
	}
	if (cfg->max_held_frames < 1 || cfg->max_held_frames >= NIL) {
		e2_seterr(err, "stream: max_held_frames must be at least 1");
		return NULL;
	}
	struct e2_stream *s = calloc(1, sizeof(*s));
	if (!s) {
		e2_seterr(err, "stream: out of memory");
		return NULL;
	}
	s->cfg = *cfg;
	uint32_t nb = ceil_pow2(cfg->max_flows * 2u);
	s->flows = calloc(cfg->max_flows, sizeof(*s->flows));
	s->buckets = malloc(nb * sizeof(*s->buckets));
	s->nodes = calloc(cfg->max_held_frames, sizeof(*s->nodes));
	s->user = cfg->user_size ? calloc(cfg->max_flows, cfg->user_size) : NULL;
	if (!s->flows || !s->buckets || !s->nodes || (cfg->user_size && !s->user)) {
		e2_stream_destroy(s);
		e2_seterr(err, "stream: out of memory for %u flows", cfg->max_flows);
		return NULL;
	}
	s->bucket_mask = nb - 1;
	memset(s->buckets, 0xff, nb * sizeof(*s->buckets));
	s->free_flow = s->free_node = NIL;
	s->lru_head = s->lru_tail = s->held_head = s->held_tail = NIL;
	return s;
}

static uint32_t take_node(struct e2_stream *s)
{
	uint32_t n = s->free_node;
	if (n != NIL)
		s->free_node = s->nodes[n].next;
	else if (s->fresh_nodes < s->cfg.max_held_frames)
		n = s->fresh_nodes++;
	return n;
}

static void free_node(struct e2_stream *s, uint32_t n)
{
	s->nodes[n].next = s->free_node;
	s->free_node = n;
}

/* Releases every frame a direction holds. */
static void release_held(struct e2_stream *s, struct flow *f, unsigned dir, enum e2_stream_fate fate)
{
	struct dir_state *d = &f->d[dir];
	for (uint32_t n = d->held; n != NIL;) {
		uint32_t next = s->nodes[n].next;
		s->st.held_bytes -= s->nodes[n].len;
		s->st.held_frames--;
		s->cfg.on_release(s->cfg.ctx, s->nodes[n].frame, fate, &f->pub);
		free_node(s, n);
		n = next;
	}
	d->held = NIL;
	d->held_bytes = d->held_frames = 0;
}

static void update_held_lru(struct e2_stream *s, uint32_t idx)
{
	struct flow *f = &s->flows[idx];
	bool holds = f->d[0].held_frames || f->d[1].held_frames;
	if (f->in_held_lru)
		LIST_UNLINK(s, idx, held_prev, held_next, held_head, held_tail);
	f->in_held_lru = holds;
	if (holds)
		LIST_PUSH(s, idx, held_prev, held_next, held_head, held_tail);
}

static void end_flow(struct e2_stream *s, uint32_t idx, enum e2_stream_end why)
{
	struct flow *f = &s->flows[idx];
	enum e2_stream_fate fate = why == E2_STREAM_END_CLOSED ? E2_STREAM_PASS : E2_STREAM_DROP;
	for (unsigned dir = 0; dir < 2; dir++)
		release_held(s, f, dir, fate);
	if (f->in_held_lru)
		LIST_UNLINK(s, idx, held_prev, held_next, held_head, held_tail);
	f->in_held_lru = false;
	if (s->cfg.on_flow_end)
		s->cfg.on_flow_end(s->cfg.ctx, &f->pub, why);
	LIST_UNLINK(s, idx, lru_prev, lru_next, lru_head, lru_tail);
	uint32_t *pp = &s->buckets[tuple_hash(&f->pub.client) & s->bucket_mask];
	while (*pp != idx)
		pp = &s->flows[*pp].hash_next;
	*pp = f->hash_next;
	f->active = false;
	f->gen = (uint16_t)((f->gen + 1) & 0xfff);
	if (f->gen == 0)
		f->gen = 1;
	f->hash_next = s->free_flow;
	s->free_flow = idx;
	s->st.flows_active--;
	switch (why) {
	case E2_STREAM_END_CLOSED: s->st.flows_closed++; break;
	case E2_STREAM_END_RESET: s->st.flows_reset++; break;
	case E2_STREAM_END_IDLE: s->st.flows_expired++; break;
	case E2_STREAM_END_EVICTED: s->st.flows_evicted++; break;
	}
}

void e2_stream_destroy(struct e2_stream *s)
{
	if (!s)
		return;
	if (s->flows && s->buckets && s->nodes)
		while (s->lru_head != NIL)
			end_flow(s, s->lru_head, E2_STREAM_END_EVICTED);
	free(s->flows);
	free(s->buckets);
	free(s->nodes);
	free(s->user);
	free(s);
}

static uint32_t lookup(struct e2_stream *s, const struct e2_stream_tuple *t, uint32_t h, unsigned *dir)
{
	for (uint32_t i = s->buckets[h & s->bucket_mask]; i != NIL; i = s->flows[i].hash_next) {
		const struct e2_stream_tuple *c = &s->flows[i].pub.client;
		if (c->saddr == t->saddr && c->daddr == t->daddr && c->sport == t->sport && c->dport == t->dport) {
			*dir = 0;
			return i;
		}
		if (c->saddr == t->daddr && c->daddr == t->saddr && c->sport == t->dport && c->dport == t->sport) {
			*dir = 1;
			return i;
		}
	}
	return NIL;
}

void e2_stream_prefetch(const struct e2_stream *s, const struct e2_stream_pkt *const *p, unsigned n)
{
	uint32_t h[64];

	for (unsigned k = 0; k < n; k += 64) {
		unsigned m = n - k < 64 ? n - k : 64;
		for (unsigned i = 0; i < m; i++) {
			h[i] = tuple_hash(&p[k + i]->t) & s->bucket_mask;
			__builtin_prefetch(&s->buckets[h[i]]);
		}
		/* the buckets' first flows: the bucket loads above overlap, these wait on them */
		for (unsigned i = 0; i < m; i++) {
			uint32_t f = s->buckets[h[i]];
			if (f != NIL) {
				__builtin_prefetch(&s->flows[f].pub);
				__builtin_prefetch(&s->flows[f].hash_next);
			}
		}
	}
}

static uint32_t new_flow(struct e2_stream *s, const struct e2_stream_pkt *p, uint32_t h, unsigned *dir, uint64_t now)
{
	if (s->free_flow == NIL && s->fresh_flows == s->cfg.max_flows)
		end_flow(s, s->lru_tail, E2_STREAM_END_EVICTED);
	uint32_t idx = s->free_flow;
	struct flow *f;
	if (idx != NIL) {
		f = &s->flows[idx];
		s->free_flow = f->hash_next;
	} else {
		idx = s->fresh_flows++;
		f = &s->flows[idx];
		f->gen = 1;
		f->pub.user = s->user ? s->user + (size_t)idx * s->cfg.user_size : NULL;
	}
	void *user = f->pub.user;
	uint16_t gen = f->gen;
	memset(f, 0, sizeof(*f));
	f->gen = gen;
	f->pub.user = user;
	if (user)
		memset(user, 0, s->cfg.user_size);
	f->pub.id = (uint32_t)gen << E2_STREAM_SLOT_BITS | idx;
	/* the client: the SYN's sender; without a SYN, the end with the higher port */
	bool src_is_client;
	if (p->flags & E2_TCP_SYN)
		src_is_client = !(p->flags & E2_TCP_ACK);
	else
		src_is_client = p->t.sport > p->t.dport;
	if (!(p->flags & E2_TCP_SYN))
		s->st.midstream++;
	f->pub.client = p->t;
	if (!src_is_client) {
		f->pub.client.saddr = p->t.daddr, f->pub.client.daddr = p->t.saddr;
		f->pub.client.sport = p->t.dport, f->pub.client.dport = p->t.sport;
	}
	*dir = src_is_client ? 0 : 1;
	f->d[0].held = f->d[1].held = NIL;
	f->held_prev = f->held_next = NIL;
	f->active = true;
	f->last_seen = now;
	f->hash_next = s->buckets[h & s->bucket_mask];
	s->buckets[h & s->bucket_mask] = idx;
	LIST_PUSH(s, idx, lru_prev, lru_next, lru_head, lru_tail);
	s->st.flows++;
	s->st.flows_active++;
	return idx;
}

static void deliver(struct e2_stream *s, struct flow *f, unsigned dir, uint64_t off, const uint8_t *data, uint32_t len,
		    uint32_t skip, bool fin, void *frame)
{
	struct dir_state *d = &f->d[dir];
	fin = fin && d->fin_known && off + len == d->fin_off;
	struct e2_stream_seg seg = {.flow = &f->pub,
				    .dir = dir,
				    .offset = off,
				    .data = data,
				    .len = len,
				    .skip = skip,
				    .fin = fin,
				    .frame = frame};
	s->cfg.on_stream(s->cfg.ctx, &seg);
	d->off_next += len;
	d->seq_next += len;
	s->st.delivered_bytes += len;
	if (fin)
		d->closed = true;
	s->cfg.on_release(s->cfg.ctx, frame, E2_STREAM_DELIVERED, &f->pub);
}

/* Delivers the held frames that now follow the delivered bytes. */
static void drain(struct e2_stream *s, struct flow *f, unsigned dir)
{
	struct dir_state *d = &f->d[dir];
	while (d->held != NIL && s->nodes[d->held].off == d->off_next && !d->closed) {
		uint32_t n = d->held;
		struct node nd = s->nodes[n];
		d->held = nd.next;
		d->held_bytes -= nd.len;
		d->held_frames--;
		s->st.held_bytes -= nd.len;
		s->st.held_frames--;
		free_node(s, n);
		deliver(s, f, dir, nd.off, nd.data, nd.len, nd.skip, nd.fin, nd.frame);
	}
	if (d->closed)
		release_held(s, f, dir, E2_STREAM_PASS); /* a bare FIN node left over, or bytes past it */
}

/* Makes room for `len` more held bytes and one frame by evicting the frames of the flows
 * that held theirs the longest; false if only flow `self` is left to evict. */
static bool make_room(struct e2_stream *s, uint32_t self, uint32_t len)
{
	while (s->st.held_bytes + len > s->cfg.max_total_bytes || s->st.held_frames >= s->cfg.max_held_frames) {
		uint32_t victim = s->held_tail;
		if (victim == NIL || victim == self)
			return false;
		struct flow *v = &s->flows[victim];
		s->st.evicted_frames += v->d[0].held_frames + v->d[1].held_frames;
		s->st.evictions++;
		release_held(s, v, 0, E2_STREAM_DROP);
		release_held(s, v, 1, E2_STREAM_DROP);
		update_held_lru(s, victim);
	}
	return true;
}

void e2_stream_input(struct e2_stream *s, const struct e2_stream_pkt *p, uint64_t now)
{
	uint32_t h = tuple_hash(&p->t);
	unsigned dir;
	s->st.segments++;
	uint32_t idx = lookup(s, &p->t, h, &dir);
	if (idx == NIL) {
		/* an ACK or a RST does not start a flow */
		if ((p->flags & E2_TCP_RST) || (p->len == 0 && !(p->flags & (E2_TCP_SYN | E2_TCP_FIN)))) {
			s->cfg.on_release(s->cfg.ctx, p->frame, E2_STREAM_PASS, NULL);
			return;
		}
		idx = new_flow(s, p, h, &dir, now);
	} else if (idx != s->lru_head) {
		LIST_UNLINK(s, idx, lru_prev, lru_next, lru_head, lru_tail);
		LIST_PUSH(s, idx, lru_prev, lru_next, lru_head, lru_tail);
	}
	struct flow *f = &s->flows[idx];
	struct dir_state *d = &f->d[dir];
	f->last_seen = now;
	if (p->flags & E2_TCP_RST) {
		s->cfg.on_release(s->cfg.ctx, p->frame, E2_STREAM_PASS, &f->pub);
		end_flow(s, idx, E2_STREAM_END_RESET);
		return;
	}
	uint32_t seq = p->seq;
	if (p->flags & E2_TCP_SYN)
		seq++;
	if (!d->started) {
		d->started = true;
		d->seq_next = seq;
	}
	bool fin = p->flags & E2_TCP_FIN;
	const uint8_t *data = p->data;
	uint32_t len = p->len, skip = 0;
	if ((len == 0 && !fin) || d->closed) {
		s->cfg.on_release(s->cfg.ctx, p->frame, E2_STREAM_PASS, &f->pub);
		return;
	}
	int32_t rel = (int32_t)(seq - d->seq_next);
	if (rel > WINDOW_MAX || rel < -WINDOW_MAX) {
		s->st.dropped_window++;
		s->cfg.on_release(s->cfg.ctx, p->frame, E2_STREAM_DROP, &f->pub);
		return;
	}
	int64_t soff = (int64_t)d->off_next + rel;
	if (soff < 0) { /* bytes from before the first one seen (a flow picked up midstream) */
		uint64_t before = (uint64_t)-soff;
		if (before >= len) {
			s->st.retransmits++;
			s->cfg.on_release(s->cfg.ctx, p->frame, E2_STREAM_PASS, &f->pub);
			return;
		}
		data += before, skip += (uint32_t)before, len -= (uint32_t)before, soff = 0;
	}
	uint64_t off = (uint64_t)soff, end = off + len;
	/* the stream ends at the first FIN; bytes past it are nobody's */
	if (fin && !d->fin_known) {
		d->fin_known = true;
		d->fin_off = end;
	}
	if (d->fin_known && end > d->fin_off) {
		len = off < d->fin_off ? (uint32_t)(d->fin_off - off) : 0;
		end = off + len;
	}
	fin = fin && d->fin_known && end == d->fin_off;
	if (off < d->off_next) {
		uint64_t old = d->off_next - off;
		if (old >= len) {
			if (fin && d->off_next == d->fin_off) {
				deliver(s, f, dir, d->off_next, data + len, 0, skip + len, true, p->frame);
				goto done;
			}
			s->st.retransmits++;
			s->cfg.on_release(s->cfg.ctx, p->frame, E2_STREAM_PASS, &f->pub);
			return;
		}
		s->st.overlaps++;
		data += old, skip += (uint32_t)old, len -= (uint32_t)old, off = d->off_next;
	}
	/* the held frames this one overlaps must agree with it, byte for byte */
	for (uint32_t n = d->held; n != NIL; n = s->nodes[n].next) {
		const struct node *nd = &s->nodes[n];
		if (nd->off + nd->len <= off)
			continue;
		if (nd->off >= end)
			break;
		uint64_t lo = nd->off > off ? nd->off : off, hi = nd->off + nd->len < end ? nd->off + nd->len : end;
		if (memcmp(data + (lo - off), nd->data + (lo - nd->off), hi - lo) != 0) {
			s->st.conflicts++;
			s->cfg.on_release(s->cfg.ctx, p->frame, E2_STREAM_DROP, &f->pub);
			return;
		}
	}
	/* first wins: keep only the bytes no held frame has; a held frame inside this one goes */
	uint32_t *pp = &d->held;
	while (*pp != NIL) {
		struct node *nd = &s->nodes[*pp];
		uint64_t nend = nd->off + nd->len;
		if (nend <= off) {
			if (len == 0 && nd->len == 0) { /* the same bare FIN again */
				s->st.duplicates++;
				s->cfg.on_release(s->cfg.ctx, p->frame, E2_STREAM_PASS, &f->pub);
				return;
			}
			pp = &nd->next;
			continue;
		}
		if (nd->off >= end)
			break;
		s->st.overlaps++;
		if (nd->off <= off) {
			uint32_t t = (uint32_t)(nend - off);
			if (t >= len) {
				if (fin)
					nd->fin = true;
				s->st.duplicates++;
				s->cfg.on_release(s->cfg.ctx, p->frame, E2_STREAM_PASS, &f->pub);
				return;
			}
			data += t, skip += t, len -= t, off = nend;
			pp = &nd->next;
			continue;
		}
		if (nend >= end) {
			if (fin && nend == end)
				nd->fin = true;
			fin = false;
			len = (uint32_t)(nd->off - off);
			end = nd->off;
			break;
		}
		uint32_t n = *pp;
		*pp = nd->next;
		d->held_bytes -= nd->len;
		d->held_frames--;
		s->st.held_bytes -= nd->len;
		s->st.held_frames--;
		s->st.duplicates++;
		s->cfg.on_release(s->cfg.ctx, nd->frame, E2_STREAM_PASS, &f->pub);
		free_node(s, n);
	}
	if (off == d->off_next) {
		s->st.in_order++;
		deliver(s, f, dir, off, data, len, skip, fin, p->frame);
		goto done;
	}
	/* ahead of a hole: held, within the bounds */
	s->st.out_of_order++;
	if (d->held_bytes + len > s->cfg.max_flow_bytes) {
		s->st.dropped_flow_limit++;
		s->cfg.on_release(s->cfg.ctx, p->frame, E2_STREAM_DROP, &f->pub);
		return;
	}
	if (!make_room(s, idx, len)) {
		s->st.dropped_flow_limit++;
		s->cfg.on_release(s->cfg.ctx, p->frame, E2_STREAM_DROP, &f->pub);
		return;
	}
	/* eviction touched other flows only: pp is still where this one goes */
	uint32_t n = take_node(s);
	s->nodes[n] = (struct node){
		.off = off, .data = data, .frame = p->frame, .len = len, .skip = skip, .fin = fin, .next = *pp};
	*pp = n;
	d->held_bytes += len;
	d->held_frames++;
	s->st.held_bytes += len;
	s->st.held_frames++;
	if (s->st.held_bytes > s->st.held_bytes_max)
		s->st.held_bytes_max = s->st.held_bytes;
	update_held_lru(s, idx);
	return;
done:
	drain(s, f, dir);
	update_held_lru(s, idx);
	if (f->d[0].closed && f->d[1].closed)
		end_flow(s, idx, E2_STREAM_END_CLOSED);
}

void e2_stream_expire(struct e2_stream *s, uint64_t now)
{
	while (s->lru_tail != NIL && s->flows[s->lru_tail].last_seen + s->cfg.idle_ns <= now)
		end_flow(s, s->lru_tail, E2_STREAM_END_IDLE);
}

void e2_stream_get_stats(const struct e2_stream *s, struct e2_stream_stats *st)
{
	*st = s->st;
}

void e2_stream_format_stats(const struct e2_stream *s, const char *prefix, char *buf, size_t len)
{
	const struct e2_stream_stats *t = &s->st;
#define F(name)                 \
	{                       \
#name, &t->name \
	}
	const struct {
		const char *name;
		const uint64_t *v;
	} f[] = {F(segments),      F(delivered_bytes), F(in_order),           F(out_of_order),
		 F(retransmits),   F(duplicates),      F(overlaps),           F(conflicts),
		 F(flows),         F(flows_active),    F(flows_closed),       F(flows_reset),
		 F(flows_expired), F(flows_evicted),   F(midstream),          F(held_frames),
		 F(held_bytes),    F(held_bytes_max),  F(dropped_flow_limit), F(dropped_window),
		 F(evictions),     F(evicted_frames)};
#undef F
	size_t at = strlen(buf);
	for (size_t i = 0; i < sizeof(f) / sizeof(f[0]) && at < len; i++) {
		int n = snprintf(buf + at, len - at, "%s%s=%llu\n", prefix, f[i].name, (unsigned long long)*f[i].v);
		if (n < 0)
			break;
		at += (size_t)n;
	}
}

void e2nf_stream_meta_encode(const struct e2nf_stream_meta *m, uint8_t out[E2NF_STREAM_META_LEN])
{
	for (int i = 0; i < 4; i++)
		out[i] = (uint8_t)(m->flow_id >> (24 - 8 * i));
	for (int i = 0; i < 8; i++)
		out[4 + i] = (uint8_t)(m->offset >> (56 - 8 * i));
	out[12] = (uint8_t)(m->at >> 8), out[13] = (uint8_t)m->at;
	out[14] = (uint8_t)(m->len >> 8), out[15] = (uint8_t)m->len;
	out[16] = m->flags;
}

void e2nf_stream_meta_decode(const uint8_t in[E2NF_STREAM_META_LEN], struct e2nf_stream_meta *m)
{
	m->flow_id = (uint32_t)in[0] << 24 | (uint32_t)in[1] << 16 | (uint32_t)in[2] << 8 | in[3];
	m->offset = 0;
	for (int i = 0; i < 8; i++)
		m->offset = m->offset << 8 | in[4 + i];
	m->at = (uint16_t)(in[12] << 8 | in[13]);
	m->len = (uint16_t)(in[14] << 8 | in[15]);
	m->flags = in[16];
}
