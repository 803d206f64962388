/* SPDX-License-Identifier: BSD-3-Clause */
/* rangesplit: flow-ID ranges -> output gates, with the flow tracker and exception
 * table that make up E2D's part of migration avoidance (seed §3.4.4).
 *
 * Each packet's flow ID (metadata flow_id, written upstream by flowhash) picks the
 * range [lo, hi) that holds it; IDs in no range go to the default gate. When tracking
 * is on (the default), every active flow (its exact key: the fields= subset of the
 * 5-tuple) is pinned to the gate its first packet took, and stays there until it has
 * been idle for idle_ms. The tracked flows behind a gate are F_old of that instance.
 *
 * A flow whose pinned gate differs from what the ranges now say is an "exception":
 * `split range=X-Y at=M new_gate=G` replaces [X,Y)->A with [X,M)->A and [M,Y)->G, so
 * flows of A with IDs in [M,Y) become exceptions and keep going to A while new flows
 * there go to G; the exceptions drain as those flows go idle. Idle flows are removed
 * lazily: a hit on an idle entry starts the flow afresh, and each batch sweeps a few
 * table slots (no timer thread).
 *
 * IPv4 keys (and keys without addresses) live in a table of 16-byte keys, IPv6 keys in
 * one of 40-byte keys, so IPv4 lookups cost what they did before IPv6; flows[] holds
 * the IPv4 table's slots, then the IPv6 table's (a slot is its key's position in its
 * table, plus capacity for IPv6). */
#include <arpa/inet.h>
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <rte_cycles.h>
#include <rte_errno.h>
#include <rte_hash.h>
#include <rte_hash_crc.h>
#include <rte_malloc.h>

#include "../module.h"
#include "flowkey.h"

#define MAX_RANGES 64
#define SWEEP_PER_BATCH 16

struct range {
	uint64_t lo, hi; /* [lo, hi) */
	uint16_t gate;
	uint64_t packets;
};

/* A tracked flow; its key is kept only in its table (flow_key()), so that two flows
 * share a cache line. */
struct flow {
	uint64_t last_tsc;
	uint64_t packets, bytes;
	uint32_t flow_id;
	uint16_t gate;
	bool in_use;
	bool exception;
};

struct rangesplit {
	struct e2_flow_fields fields;
	uint32_t bits;
	uint64_t space; /* 2^bits: flow IDs are in [0, space) */
	uint16_t default_gate;
	uint32_t n_ranges; /* sorted by lo, never overlapping */
	struct range ranges[MAX_RANGES];
	bool track;
	struct rte_hash *index[2]; /* [addr6]: flow key -> slot in flows[] (+ capacity for IPv6) */
	struct flow *flows;
	uint32_t capacity; /* per table */
	uint32_t slots;    /* capacity times the number of tables */
	uint64_t idle_tsc;
	uint32_t idle_ms;
	uint32_t sweep_pos;
	uint32_t n_flows, n_exceptions;
	uint32_t active[E2_GATES_MAX]; /* tracked flows pinned to each gate */
	uint64_t untracked, expired, no_range, forgotten;
};

static int range_find(const struct rangesplit *s, uint64_t id)
{
	uint32_t lo = 0, hi = s->n_ranges;
	while (lo < hi) {
		uint32_t mid = (lo + hi) / 2;
		if (id < s->ranges[mid].lo)
			hi = mid;
		else if (id >= s->ranges[mid].hi)
			lo = mid + 1;
		else
			return (int)mid;
	}
	return -1;
}

static uint16_t range_gate(const struct rangesplit *s, uint32_t id)
{
	int r = range_find(s, id);
	return r < 0 ? s->default_gate : s->ranges[r].gate;
}

/* The key of the flow in slot i of flows[] (a copy: its table may reuse the memory). */
static void flow_key(const struct rangesplit *s, uint32_t i, struct e2_flow_key *k)
{
	uint32_t t = i >= s->capacity;
	void *stored = NULL;

	memset(k, 0, sizeof(*k));
	if (rte_hash_get_key_with_position(s->index[t], (int32_t)(i - t * s->capacity), &stored) == 0)
		memcpy(k, stored, t ? E2_FLOW_KEY6_LEN : E2_FLOW_KEY4_LEN);
}

static void flow_remove(struct rangesplit *s, struct flow *f)
{
	uint32_t i = (uint32_t)(f - s->flows);
	struct e2_flow_key k;

	flow_key(s, i, &k);
	rte_hash_del_key(s->index[i >= s->capacity], &k);
	f->in_use = false;
	s->n_flows--;
	s->active[f->gate]--;
	if (f->exception)
		s->n_exceptions--;
	s->expired++;
}

/* Starts (or restarts, for an idle entry) tracking a flow on the gate the ranges give. */
static void flow_start(struct rangesplit *s, struct flow *f, uint32_t id, uint16_t gate, uint64_t now)
{
	if (f->in_use) {
		s->active[f->gate]--;
		if (f->exception)
			s->n_exceptions--;
		s->expired++;
	} else {
		s->n_flows++;
	}
	f->in_use = true;
	f->exception = false;
	f->flow_id = id;
	f->gate = gate;
	f->packets = f->bytes = 0;
	f->last_tsc = now;
	s->active[gate]++;
}

static void sweep(struct rangesplit *s, uint32_t slots, uint64_t now)
{
	for (uint32_t i = 0; i < slots; i++) {
		struct flow *f = &s->flows[s->sweep_pos];
		if (f->in_use && now - f->last_tsc > s->idle_tsc)
			flow_remove(s, f);
		if (++s->sweep_pos == s->slots)
			s->sweep_pos = 0;
	}
}

/* After the ranges change: which tracked flows now disagree with them. */
static void recount_exceptions(struct rangesplit *s)
{
	s->n_exceptions = 0;
	for (uint32_t i = 0; i < s->slots; i++) {
		struct flow *f = &s->flows[i];
		if (!f->in_use)
			continue;
		f->exception = f->gate != range_gate(s, f->flow_id);
		s->n_exceptions += f->exception;
	}
}

static const char *const known[] = {"bits", "fields", "default", "track", "idle_ms", "flows", NULL};

static int rangesplit_init(struct e2_module *m, const struct e2_args *args, char *err)
{
	struct rangesplit *s = e2_priv(m);
	uint64_t bits, def, track, idle_ms, cap;
	char name[RTE_HASH_NAMESIZE];

	if (e2_flow_fields_parse(e2_args_get(args, "fields"), &s->fields, err) ||
	    e2_args_u64(args, "bits", 16, 1, 32, &bits, err) < 0 ||
	    e2_args_u64(args, "default", 0, 0, E2_GATES_MAX - 1, &def, err) < 0 ||
	    e2_args_u64(args, "track", 1, 0, 1, &track, err) < 0 ||
	    e2_args_u64(args, "idle_ms", 10000, 1, 3600 * 1000, &idle_ms, err) < 0 ||
	    e2_args_u64(args, "flows", 65536, 64, 1 << 24, &cap, err) < 0)
		return -1;
	s->bits = (uint32_t)bits;
	s->space = 1ULL << bits;
	s->default_gate = (uint16_t)def;
	s->track = track != 0;
	s->idle_ms = (uint32_t)idle_ms;
	s->idle_tsc = idle_ms * rte_get_tsc_hz() / 1000;
	s->capacity = (uint32_t)cap;
	if (!s->track)
		return 0;
	/* without addresses in the key IPv6 flows have IPv4-sized keys: no IPv6 table */
	uint32_t tables = s->fields.src || s->fields.dst ? 2 : 1;
	bool failed = false;
	for (uint32_t t = 0; t < tables; t++) {
		snprintf(name, sizeof(name), "rs%u%p", t, (void *)m);
		struct rte_hash_parameters p = {
			.name = name,
			.entries = s->capacity,
			.key_len = t ? E2_FLOW_KEY6_LEN : E2_FLOW_KEY4_LEN,
			.hash_func = rte_hash_crc,
			.socket_id = SOCKET_ID_ANY,
		};
		s->index[t] = rte_hash_create(&p);
		failed |= !s->index[t];
	}
	s->slots = s->capacity * tables;
	s->flows = rte_zmalloc("rangesplit_flows", sizeof(struct flow) * s->slots, 64);
	if (failed || !s->flows) {
		snprintf(err, E2_ERR_MAX, "cannot allocate a flow table of %u flows: %s", s->slots,
			 rte_strerror(rte_errno));
		rte_hash_free(s->index[0]);
		rte_hash_free(s->index[1]);
		rte_free(s->flows);
		return -1;
	}
	return 0;
}

static void rangesplit_deinit(struct e2_module *m)
{
	struct rangesplit *s = e2_priv(m);
	rte_hash_free(s->index[0]);
	rte_hash_free(s->index[1]);
	rte_free(s->flows);
}

/* For a batch with IPv6 keys: looks each key up in its table; pos[i] is the key's slot
 * in flows[], or negative. */
static void lookup_mixed(const struct rangesplit *s, const struct e2_flow_key *keys, uint16_t n, int32_t *pos)
{
	const void *kp[2][E2_BATCH_MAX];
	uint16_t at[2][E2_BATCH_MAX], cnt[2] = {0, 0};
	int32_t p[E2_BATCH_MAX];

	for (uint16_t i = 0; i < n; i++) {
		uint8_t t = keys[i].addr6;
		at[t][cnt[t]] = i;
		kp[t][cnt[t]++] = &keys[i];
	}
	for (uint8_t t = 0; t < 2; t++) {
		if (!cnt[t])
			continue;
		rte_hash_lookup_bulk(s->index[t], kp[t], cnt[t], p);
		for (uint16_t j = 0; j < cnt[t]; j++)
			pos[at[t][j]] = p[j] < 0 ? p[j] : p[j] + (int32_t)(t * s->capacity);
	}
}

/* Adds a key (or finds it, if there) in its table: its slot in flows[], or -1 when the
 * table is full. */
static int32_t slot_add(struct rangesplit *s, const struct e2_flow_key *k)
{
	struct rte_hash *h = s->index[k->addr6];
	int32_t pos = rte_hash_add_key(h, k);

	if (pos < 0)
		return -1;
	if ((uint32_t)pos >= s->capacity) { /* rte_hash may hold a few more than asked */
		rte_hash_del_key(h, k);
		return -1;
	}
	return pos + (int32_t)(k->addr6 * s->capacity);
}

static void rangesplit_process(struct e2_ctx *ctx, struct e2_module *m, uint16_t igate, struct e2_batch *b)
{
	struct rangesplit *s = e2_priv(m);
	uint16_t gates[E2_BATCH_MAX];
	struct e2_flow_key keys[E2_BATCH_MAX];
	const void *kp[E2_BATCH_MAX];
	int32_t pos[E2_BATCH_MAX];
	uint8_t any6 = 0;
	uint64_t now;

	for (uint16_t i = 0; i < b->cnt; i++) {
		uint32_t id = e2_meta(b->pkts[i])->flow_id;
		int r = id < s->space ? range_find(s, id) : -1;
		if (r < 0) {
			gates[i] = s->default_gate;
			s->no_range++;
		} else {
			gates[i] = s->ranges[r].gate;
			s->ranges[r].packets++;
		}
	}
	if (!s->track) {
		e2_emit_split(ctx, m, b, gates);
		return;
	}
	for (uint16_t i = 0; i < b->cnt; i++) {
		e2_flow_key_get(b->pkts[i], &s->fields, &keys[i]);
		kp[i] = &keys[i];
		any6 |= keys[i].addr6;
	}
	if (likely(!any6)) /* IPv4 slots are the IPv4 table's positions */
		rte_hash_lookup_bulk(s->index[0], kp, b->cnt, pos);
	else
		lookup_mixed(s, keys, b->cnt, pos);
	now = rte_rdtsc();
	for (uint16_t i = 0; i < b->cnt; i++) {
		struct flow *f;
		if (pos[i] < 0) {
			/* new flow (or one added earlier in this batch: add returns its slot) */
			pos[i] = slot_add(s, &keys[i]);
			if (unlikely(pos[i] < 0)) {
				s->untracked++;
				continue;
			}
			f = &s->flows[pos[i]];
			if (!f->in_use)
				flow_start(s, f, e2_meta(b->pkts[i])->flow_id, gates[i], now);
		} else {
			f = &s->flows[pos[i]];
			if (unlikely(now - f->last_tsc > s->idle_tsc))
				flow_start(s, f, e2_meta(b->pkts[i])->flow_id, gates[i], now);
		}
		gates[i] = f->gate;
		f->last_tsc = now;
		f->packets++;
		f->bytes += b->pkts[i]->pkt_len;
	}
	sweep(s, SWEEP_PER_BATCH, now);
	e2_emit_split(ctx, m, b, gates);
}

/* --- commands ------------------------------------------------------------ */

/* "X-Y": the half-open range [X, Y) within [0, 2^bits). */
static int parse_range(const struct rangesplit *s, const char *v, uint64_t *lo, uint64_t *hi, char *err)
{
	const char *orig = v;
	char *end;
	if (!v) {
		snprintf(err, E2_ERR_MAX, "range=X-Y needed (half-open [X,Y) within [0,%" PRIu64 "))", s->space);
		return -1;
	}
	if (*v == '-')
		goto bad;
	*lo = strtoull(v, &end, 0);
	if (end == v || *end != '-' || end[1] == '-')
		goto bad;
	v = end + 1;
	*hi = strtoull(v, &end, 0);
	if (end == v || *end)
		goto bad;
	if (*lo >= *hi || *hi > s->space) {
		snprintf(err, E2_ERR_MAX, "range=%" PRIu64 "-%" PRIu64 " must have X < Y <= 2^%u = %" PRIu64, *lo, *hi,
			 s->bits, s->space);
		return -1;
	}
	return 0;
bad:
	snprintf(err, E2_ERR_MAX, "range=%s is not X-Y with non-negative integers", orig);
	return -1;
}

static int range_cmp(const void *a, const void *b)
{
	const struct range *x = a, *y = b;
	return (x->lo > y->lo) - (x->lo < y->lo);
}

static int exact_range(const struct rangesplit *s, uint64_t lo, uint64_t hi, char *err)
{
	for (uint32_t i = 0; i < s->n_ranges; i++)
		if (s->ranges[i].lo == lo && s->ranges[i].hi == hi)
			return (int)i;
	snprintf(err, E2_ERR_MAX, "no range %" PRIu64 "-%" PRIu64 " (ranges must be named exactly as added)", lo, hi);
	return -1;
}

static void ranges_changed(struct rangesplit *s)
{
	qsort(s->ranges, s->n_ranges, sizeof(s->ranges[0]), range_cmp);
	if (s->track)
		recount_exceptions(s);
}

static int cmd_add(struct e2_module *m, const struct e2_args *a, struct e2_result *out, char *err)
{
	struct rangesplit *s = e2_priv(m);
	uint64_t lo, hi, gate;

	if (parse_range(s, e2_args_get(a, "range"), &lo, &hi, err) ||
	    e2_args_u64(a, "gate", 0, 0, E2_GATES_MAX - 1, &gate, err) != 0) {
		if (!e2_args_get(a, "gate") && e2_args_get(a, "range"))
			snprintf(err, E2_ERR_MAX, "add needs gate=N");
		return -1;
	}
	for (uint32_t i = 0; i < s->n_ranges; i++)
		if (lo < s->ranges[i].hi && s->ranges[i].lo < hi) {
			snprintf(err, E2_ERR_MAX,
				 "range %" PRIu64 "-%" PRIu64 " overlaps range %" PRIu64 "-%" PRIu64 " (gate %u)", lo,
				 hi, s->ranges[i].lo, s->ranges[i].hi, s->ranges[i].gate);
			return -1;
		}
	if (s->n_ranges == MAX_RANGES) {
		snprintf(err, E2_ERR_MAX, "at most %d ranges", MAX_RANGES);
		return -1;
	}
	s->ranges[s->n_ranges++] = (struct range){.lo = lo, .hi = hi, .gate = (uint16_t)gate};
	ranges_changed(s);
	return 0;
}

static int cmd_delete(struct e2_module *m, const struct e2_args *a, struct e2_result *out, char *err)
{
	struct rangesplit *s = e2_priv(m);
	uint64_t lo, hi;
	int r;

	if (parse_range(s, e2_args_get(a, "range"), &lo, &hi, err) || (r = exact_range(s, lo, hi, err)) < 0)
		return -1;
	s->ranges[r] = s->ranges[--s->n_ranges];
	ranges_changed(s);
	return 0;
}

/* One range to another gate in place (no moment without the range, as delete + add
 * would leave): new flows of the range go to G, tracked ones stay where they are. */
static int cmd_move(struct e2_module *m, const struct e2_args *a, struct e2_result *out, char *err)
{
	struct rangesplit *s = e2_priv(m);
	uint64_t lo, hi, gate;
	int r;

	if (parse_range(s, e2_args_get(a, "range"), &lo, &hi, err) || (r = exact_range(s, lo, hi, err)) < 0)
		return -1;
	if (e2_args_u64(a, "gate", 0, 0, E2_GATES_MAX - 1, &gate, err) != 0) {
		if (!e2_args_get(a, "gate"))
			snprintf(err, E2_ERR_MAX, "move needs gate=G");
		return -1;
	}
	s->ranges[r].gate = (uint16_t)gate;
	ranges_changed(s);
	return 0;
}

static int sweep_all(struct rangesplit *s)
{
	if (s->track)
		sweep(s, s->slots, rte_rdtsc());
	return 0;
}

/* The instance behind a gate is gone (stopped by its operator, or failed): the flows
 * pinned there lost their state with it, so keeping them pinned would only send them
 * into a dead port until they go idle. They start afresh by the ranges instead. */
static int cmd_forget(struct e2_module *m, const struct e2_args *a, struct e2_result *out, char *err)
{
	struct rangesplit *s = e2_priv(m);
	uint64_t gate;

	if (e2_args_u64(a, "gate", 0, 0, E2_GATES_MAX - 1, &gate, err) != 0) {
		if (!e2_args_get(a, "gate"))
			snprintf(err, E2_ERR_MAX, "forget needs gate=G");
		return -1;
	}
	uint32_t n = 0;
	for (uint32_t i = 0; s->track && i < s->slots && s->active[gate]; i++) {
		struct flow *f = &s->flows[i];
		if (f->in_use && f->gate == gate) {
			flow_remove(s, f);
			s->expired--;
			n++;
		}
	}
	s->forgotten += n;
	e2_result_add(out, "forgotten", "%u", n);
	return 0;
}

static void report_flows(struct rangesplit *s, struct e2_result *out)
{
	e2_result_add(out, "exceptions", "%u", s->n_exceptions);
	e2_result_add(out, "flows", "%u", s->n_flows);
}

static int cmd_split(struct e2_module *m, const struct e2_args *a, struct e2_result *out, char *err)
{
	struct rangesplit *s = e2_priv(m);
	uint64_t lo, hi, at, gate;
	int r;

	if (parse_range(s, e2_args_get(a, "range"), &lo, &hi, err) || (r = exact_range(s, lo, hi, err)) < 0)
		return -1;
	if (e2_args_u64(a, "at", 0, lo + 1, hi - 1, &at, err) != 0 ||
	    e2_args_u64(a, "new_gate", 0, 0, E2_GATES_MAX - 1, &gate, err) != 0) {
		if (!e2_args_get(a, "at") || !e2_args_get(a, "new_gate"))
			snprintf(err, E2_ERR_MAX, "split needs at=M (X < M < Y) and new_gate=G");
		return -1;
	}
	if (s->n_ranges == MAX_RANGES) {
		snprintf(err, E2_ERR_MAX, "at most %d ranges", MAX_RANGES);
		return -1;
	}
	s->ranges[r].hi = at;
	s->ranges[s->n_ranges++] = (struct range){.lo = at, .hi = hi, .gate = (uint16_t)gate};
	sweep_all(s);
	ranges_changed(s);
	report_flows(s, out);
	return 0;
}

static int cmd_exceptions(struct e2_module *m, const struct e2_args *a, struct e2_result *out, char *err)
{
	struct rangesplit *s = e2_priv(m);
	sweep_all(s);
	report_flows(s, out);
	return 0;
}

static int cmd_flows(struct e2_module *m, const struct e2_args *a, struct e2_result *out, char *err)
{
	struct rangesplit *s = e2_priv(m);
	sweep_all(s);
	report_flows(s, out);
	for (uint16_t g = 0; g < E2_GATES_MAX; g++)
		if (s->active[g]) {
			char key[16];
			snprintf(key, sizeof(key), "gate%u", g);
			e2_result_add(out, key, "%u", s->active[g]);
		}
	return 0;
}

/* An IPv4 or IPv6 literal for src= or dst=, masked as flowhash masks it; src and dst
 * must be of one family. */
static int parse_addr(const struct rangesplit *s, const char *name, const char *v, struct e2_flow_key *k, char *err)
{
	bool is_src = name[0] == 's', v6 = strchr(v, ':') != NULL;
	uint64_t a6[2];
	uint32_t a4;

	if (inet_pton(v6 ? AF_INET6 : AF_INET, v, v6 ? (void *)a6 : (void *)&a4) != 1) {
		snprintf(err, E2_ERR_MAX, "%s=%s is not an IPv4 or IPv6 address", name, v);
		return -1;
	}
	if (!is_src && s->fields.src && k->addr6 != v6) {
		snprintf(err, E2_ERR_MAX, "src= and dst= must both be IPv4 or both IPv6 (dst=%s)", v);
		return -1;
	}
	k->addr6 = v6;
	if (v6) {
		const uint64_t *mask = is_src ? s->fields.src_mask6 : s->fields.dst_mask6;
		uint64_t *a = is_src ? k->a6.src : k->a6.dst;
		a[0] = a6[0] & mask[0];
		a[1] = a6[1] & mask[1];
	} else if (is_src) {
		k->a4.src = a4 & s->fields.src_mask;
	} else {
		k->a4.dst = a4 & s->fields.dst_mask;
	}
	return 0;
}

/* Parses the fields= subset of a 5-tuple from src= dst= proto= sport= dport= into a key
 * (network byte order); every selected field is needed, others are refused. */
static int parse_flow(const struct rangesplit *s, const struct e2_args *a, struct e2_flow_key *k, char *err)
{
	static const char *const names[] = {"src", "dst", "proto", "sport", "dport"};
	const bool sel[] = {s->fields.src, s->fields.dst, s->fields.proto, s->fields.sport, s->fields.dport};

	memset(k, 0, sizeof(*k));
	for (int i = 0; i < 5; i++) {
		const char *v = e2_args_get(a, names[i]);
		if (!sel[i]) {
			if (v) {
				snprintf(err, E2_ERR_MAX, "%s= is not one of this module's flow fields", names[i]);
				return -1;
			}
			continue;
		}
		if (!v) {
			snprintf(err, E2_ERR_MAX, "the flow needs %s=", names[i]);
			return -1;
		}
		if (i < 2) {
			if (parse_addr(s, names[i], v, k, err) != 0)
				return -1;
		} else {
			uint64_t n;
			if (e2_args_u64(a, names[i], 0, 0, i == 2 ? 255 : 65535, &n, err) < 0)
				return -1;
			if (i == 2)
				k->proto = (uint8_t)n;
			else if (i == 3)
				k->sport = rte_cpu_to_be_16((uint16_t)n);
			else
				k->dport = rte_cpu_to_be_16((uint16_t)n);
		}
	}
	return 0;
}

/* An exact-flow override: the flow goes to gate G until it has been idle idle_ms. */
static int cmd_pin(struct e2_module *m, const struct e2_args *a, struct e2_result *out, char *err)
{
	struct rangesplit *s = e2_priv(m);
	struct e2_flow_key key;
	uint64_t gate, id;
	int32_t pos;

	if (!s->track) {
		snprintf(err, E2_ERR_MAX, "pin needs flow tracking (track=1)");
		return -1;
	}
	if (parse_flow(s, a, &key, err))
		return -1;
	if (e2_args_u64(a, "gate", 0, 0, E2_GATES_MAX - 1, &gate, err) != 0) {
		if (!e2_args_get(a, "gate"))
			snprintf(err, E2_ERR_MAX, "pin needs gate=G");
		return -1;
	}
	/* the flow's ID as flowhash computes it over the same fields, unless given */
	if (e2_args_u64(a, "flow_id", e2_flow_hash(&key, s->fields.sel) & (uint32_t)(s->space - 1), 0, s->space - 1,
			&id, err) < 0)
		return -1;
	pos = slot_add(s, &key);
	if (pos < 0) {
		snprintf(err, E2_ERR_MAX, "the %s flow table is full (flows=%u)", key.addr6 ? "IPv6" : "IPv4",
			 s->capacity);
		return -1;
	}
	struct flow *f = &s->flows[pos];
	if (f->in_use) {
		s->active[f->gate]--;
		s->active[gate]++;
		f->gate = (uint16_t)gate;
		f->flow_id = (uint32_t)id;
		f->last_tsc = rte_rdtsc();
	} else {
		flow_start(s, f, (uint32_t)id, (uint16_t)gate, rte_rdtsc());
	}
	s->n_exceptions -= f->exception;
	f->exception = f->gate != range_gate(s, f->flow_id);
	s->n_exceptions += f->exception;
	e2_result_add(out, "flow_id", "%" PRIu64, id);
	e2_result_add(out, "exception", "%d", f->exception);
	return 0;
}

/* Ternary (TCAM) entries for [lo, hi): the aligned power-of-two blocks that tile it. */
static uint32_t prefixes(uint64_t lo, uint64_t hi)
{
	uint32_t n = 0;
	while (lo < hi) {
		uint64_t size = lo ? (lo & -lo) : (1ULL << 32);
		while (lo + size > hi)
			size >>= 1;
		lo += size;
		n++;
	}
	return n;
}

static void format_key(const struct rangesplit *s, const struct e2_flow_key *k, char *buf, size_t len)
{
	char src[INET6_ADDRSTRLEN], dst[INET6_ADDRSTRLEN];
	int af = k->addr6 ? AF_INET6 : AF_INET;

	inet_ntop(af, k->addr6 ? (const void *)k->a6.src : (const void *)&k->a4.src, src, sizeof(src));
	inet_ntop(af, k->addr6 ? (const void *)k->a6.dst : (const void *)&k->a4.dst, dst, sizeof(dst));
	snprintf(buf, len, "src=%s dst=%s proto=%u sport=%u dport=%u", src, dst, k->proto, rte_be_to_cpu_16(k->sport),
		 rte_be_to_cpu_16(k->dport));
}

/* What a switch would need to take over: the ranges (and their TCAM cost) and the
 * remaining exceptions as exact rules, which must rank above the ranges. */
static int cmd_rules(struct e2_module *m, const struct e2_args *a, struct e2_result *out, char *err)
{
	struct rangesplit *s = e2_priv(m);
	uint64_t max;
	uint32_t tcam = 0, listed = 0;

	if (e2_args_u64(a, "max", 16, 0, 40, &max, err) < 0)
		return -1;
	sweep_all(s);
	for (uint32_t i = 0; i < s->n_ranges; i++) {
		const struct range *r = &s->ranges[i];
		char key[24];
		uint32_t p = prefixes(r->lo, r->hi);
		tcam += p;
		snprintf(key, sizeof(key), "range%u", i);
		e2_result_add(out, key, "%" PRIu64 "-%" PRIu64 " gate=%u prefixes=%u", r->lo, r->hi, r->gate, p);
	}
	e2_result_add(out, "exceptions", "%u", s->n_exceptions);
	e2_result_add(out, "switch_entries", "%u", tcam + s->n_exceptions);
	for (uint32_t i = 0; s->track && i < s->slots && listed < max; i++) {
		const struct flow *f = &s->flows[i];
		struct e2_flow_key fk;
		char key[24], val[160];
		if (!f->in_use || !f->exception)
			continue;
		flow_key(s, i, &fk);
		format_key(s, &fk, val, sizeof(val));
		snprintf(key, sizeof(key), "exception%u", listed++);
		e2_result_add(out, key, "%s flow_id=%u gate=%u packets=%" PRIu64 " bytes=%" PRIu64, val, f->flow_id,
			      f->gate, f->packets, f->bytes);
	}
	return 0;
}

static void rangesplit_stats(struct e2_module *m, struct e2_result *out)
{
	struct rangesplit *s = e2_priv(m);
	e2_result_add(out, "ranges", "%u", s->n_ranges);
	e2_result_add(out, "flows", "%u", s->n_flows);
	e2_result_add(out, "exceptions", "%u", s->n_exceptions);
	e2_result_add(out, "expired", "%" PRIu64, s->expired);
	e2_result_add(out, "untracked", "%" PRIu64, s->untracked);
	e2_result_add(out, "no_range", "%" PRIu64, s->no_range);
	e2_result_add(out, "forgotten", "%" PRIu64, s->forgotten);
}

static int cmd_stats(struct e2_module *m, const struct e2_args *a, struct e2_result *out, char *err)
{
	rangesplit_stats(m, out);
	return 0;
}

static const struct e2_cmd rangesplit_cmds[] = {
	{.name = "add",
	 .help = "range=X-Y gate=G: flow IDs in [X,Y) to G; overlaps are refused",
	 .args = E2_ARGS("range", "gate"),
	 .fn = cmd_add},
	{.name = "delete", .help = "range=X-Y (exactly as added)", .args = E2_ARGS("range"), .fn = cmd_delete},
	{.name = "move",
	 .help = "range=X-Y gate=G: new flows of [X,Y) to G (exactly as added); tracked ones stay",
	 .args = E2_ARGS("range", "gate"),
	 .fn = cmd_move},
	{.name = "split",
	 .help = "range=X-Y at=M new_gate=G: [X,M) keeps its gate, new flows in [M,Y) go to G, active ones stay",
	 .args = E2_ARGS("range", "at", "new_gate"),
	 .fn = cmd_split},
	{.name = "pin",
	 .help = "src=A dst=B proto=P sport=S dport=D (the fields= ones) gate=G [flow_id=N]: exact-flow override "
		 "until idle",
	 .args = E2_ARGS("src", "dst", "proto", "sport", "dport", "gate", "flow_id"),
	 .fn = cmd_pin},
	{.name = "forget",
	 .help = "gate=G: untrack the flows pinned to G (its instance is gone); they follow the ranges again",
	 .args = E2_ARGS("gate"),
	 .fn = cmd_forget},
	{.name = "exceptions",
	 .help = "remaining exceptions and tracked flows",
	 .args = E2_ARGS_NONE,
	 .fn = cmd_exceptions},
	{.name = "flows", .help = "tracked flows per gate (F_old)", .args = E2_ARGS_NONE, .fn = cmd_flows},
	{.name = "rules",
	 .help = "[max=N (16)]: switch rules for the ranges and the remaining exceptions",
	 .args = E2_ARGS("max"),
	 .fn = cmd_rules},
	{.name = "stats", .help = "counters", .args = E2_ARGS_NONE, .fn = cmd_stats},
	{0},
};

static const struct e2_module_class rangesplit = {
	.name = "rangesplit",
	.help = "flow-ID ranges to gates with flow affinity: [bits=N (16)] [" E2_FLOW_FIELDS_HELP
		"] [default=GATE (0)] [track=0|1 (1)] [idle_ms=T (10000)] [flows=CAPACITY (65536)]",
	.igates = 1,
	.ogates = E2_GATES_MAX,
	.priv_size = sizeof(struct rangesplit),
	.args = known,
	.init = rangesplit_init,
	.deinit = rangesplit_deinit,
	.process_batch = rangesplit_process,
	.stats = rangesplit_stats,
	.cmds = rangesplit_cmds,
};
E2_MODULE_REGISTER(rangesplit)
