/* SPDX-License-Identifier: BSD-3-Clause */
#include "conntrack.h"

#include <netinet/in.h>
#include <stdlib.h>
#include <string.h>

static uint64_t mix64(uint64_t h)
{
	h ^= h >> 33;
	h *= 0xff51afd7ed558ccdULL;
	h ^= h >> 33;
	h *= 0xc4ceb9fe1a85ec53ULL;
	h ^= h >> 33;
	return h;
}

static uint64_t endpoint_hash(const uint8_t *addr, uint16_t port)
{
	uint64_t a, b;
	memcpy(&a, addr, 8);
	memcpy(&b, addr + 8, 8);
	return mix64(a ^ mix64(b ^ ((uint64_t)port << 1)));
}

/* Direction-independent: both directions of a flow land in the same chain. */
static uint32_t flow_hash(const struct fw_tuple *t)
{
	uint64_t a = endpoint_hash(t->src, t->sport), b = endpoint_hash(t->dst, t->dport);
	return (uint32_t)mix64((a + b) ^ ((a ^ b) << 1) ^ (((uint64_t)t->proto << 56) | t->family));
}

static bool same_dir(const struct fw_tuple *a, const struct fw_tuple *b)
{
	return a->family == b->family && a->proto == b->proto && a->sport == b->sport && a->dport == b->dport &&
	       !memcmp(a->src, b->src, 16) && !memcmp(a->dst, b->dst, 16);
}

static bool reverse_dir(const struct fw_tuple *a, const struct fw_tuple *b)
{
	return a->family == b->family && a->proto == b->proto && a->sport == b->dport && a->dport == b->sport &&
	       !memcmp(a->src, b->dst, 16) && !memcmp(a->dst, b->src, 16);
}

int ct_init(struct conntrack *ct, uint32_t capacity, const struct ct_timeouts *timeouts)
{
	uint32_t cap = 16;
	while (cap < capacity && cap < (1u << 30))
		cap <<= 1;
	ct->slots = calloc(cap, sizeof(*ct->slots));
	if (!ct->slots)
		return -1;
	ct->mask = cap - 1;
	ct->used = 0;
	ct->next_reclaim_ms = 0;
	ct->timeouts = timeouts ? *timeouts : ct_default_timeouts();
	return 0;
}

void ct_free(struct conntrack *ct)
{
	free(ct->slots);
	ct->slots = NULL;
	ct->used = 0;
}

static uint64_t timeout_of(const struct conntrack *ct, enum ct_state st)
{
	switch (st) {
	case CT_TCP_SYN_SENT: return ct->timeouts.tcp_syn;
	case CT_TCP_ESTABLISHED: return ct->timeouts.tcp_established;
	case CT_TCP_CLOSING: return ct->timeouts.tcp_closing;
	default: return ct->timeouts.other;
	}
}

static bool expired(const struct conntrack *ct, const struct ct_entry *e, uint64_t now_ms)
{
	return now_ms > e->last_seen_ms && now_ms - e->last_seen_ms > timeout_of(ct, e->state);
}

/* Backward-shift deletion for linear probing. */
static void remove_at(struct conntrack *ct, uint32_t i)
{
	uint32_t hole = i;
	for (uint32_t j = (i + 1) & ct->mask; ct->slots[j].state != CT_FREE; j = (j + 1) & ct->mask) {
		uint32_t home = flow_hash(&ct->slots[j].orig) & ct->mask;
		/* Move j into the hole unless its home lies cyclically in (hole, j]. */
		bool home_after_hole = hole <= j ? (home > hole && home <= j) : (home > hole || home <= j);
		if (!home_after_hole) {
			ct->slots[hole] = ct->slots[j];
			hole = j;
		}
	}
	ct->slots[hole].state = CT_FREE;
	ct->used--;
}

/* Index of the flow's slot (either direction), or -1. *reply says which direction. */
static int64_t find(const struct conntrack *ct, const struct fw_tuple *t, bool *reply)
{
	for (uint32_t i = flow_hash(t) & ct->mask, n = 0; n <= ct->mask; i = (i + 1) & ct->mask, n++) {
		const struct ct_entry *e = &ct->slots[i];
		if (e->state == CT_FREE)
			return -1;
		if (same_dir(&e->orig, t)) {
			*reply = false;
			return i;
		}
		if (reverse_dir(&e->orig, t)) {
			*reply = true;
			return i;
		}
	}
	return -1;
}

enum ct_verdict ct_lookup(struct conntrack *ct, const struct fw_tuple *t, uint8_t tcp_flags, uint64_t now_ms)
{
	bool reply = false;
	int64_t idx = find(ct, t, &reply);
	if (idx >= 0 && expired(ct, &ct->slots[idx], now_ms)) {
		remove_at(ct, (uint32_t)idx);
		idx = -1;
	}
	if (idx < 0) {
		if (t->proto == IPPROTO_TCP && (tcp_flags & (CT_TCP_SYN | CT_TCP_ACK | CT_TCP_RST)) != CT_TCP_SYN)
			return CT_INVALID;
		return CT_NEW;
	}
	struct ct_entry *e = &ct->slots[idx];
	e->last_seen_ms = now_ms;
	if (t->proto == IPPROTO_TCP) {
		if (tcp_flags & CT_TCP_RST) {
			remove_at(ct, (uint32_t)idx); /* let the RST through, forget the flow */
		} else if (tcp_flags & CT_TCP_FIN) {
			e->state = CT_TCP_CLOSING;
		} else if (e->state == CT_TCP_SYN_SENT && reply) {
			e->state = CT_TCP_ESTABLISHED;
		}
	}
	return CT_PASS_ESTABLISHED;
}

uint32_t ct_expire(struct conntrack *ct, uint64_t now_ms)
{
	uint32_t freed = 0;
	for (uint32_t i = 0; i <= ct->mask; i++) {
		/* After a backward shift slot i holds a new entry: look at it again. */
		while (ct->slots[i].state != CT_FREE && expired(ct, &ct->slots[i], now_ms)) {
			remove_at(ct, i);
			freed++;
		}
	}
	return freed;
}

bool ct_insert(struct conntrack *ct, const struct fw_tuple *t, uint64_t now_ms)
{
	bool reply;
	int64_t idx = find(ct, t, &reply);
	if (idx >= 0) {
		ct->slots[idx].last_seen_ms = now_ms;
		return true;
	}
	/* Keep the load at most 3/4 so probe chains stay short. */
	uint32_t limit = (ct->mask + 1) / 4 * 3;
	if (ct->used + 1 > limit) {
		if (now_ms < ct->next_reclaim_ms)
			return false;
		ct->next_reclaim_ms = now_ms + 1000;
		ct_expire(ct, now_ms);
		if (ct->used + 1 > limit)
			return false;
	}
	uint32_t i = flow_hash(t) & ct->mask;
	while (ct->slots[i].state != CT_FREE)
		i = (i + 1) & ct->mask;
	ct->slots[i] = (struct ct_entry){
		.orig = *t,
		.state = t->proto == IPPROTO_TCP ? CT_TCP_SYN_SENT : CT_OTHER,
		.last_seen_ms = now_ms,
	};
	ct->used++;
	return true;
}
