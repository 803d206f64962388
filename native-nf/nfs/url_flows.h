/* SPDX-License-Identifier: BSD-3-Clause */
/* The small flow table of e2nf-httplog and e2nf-urlclass: the URL of the last request
 * seen on a TCP connection, so that its later packets (both directions) carry the same
 * URL. Buckets of 4 ways; a full bucket forgets its least recently used connection, an
 * entry idle for URL_FLOW_IDLE_NS is gone. A bucket's keys and times fill one cache
 * line, looked up on every packet; the URLs live apart and are read only on a hit.
 * Never allocates per packet. */
#ifndef E2NF_URL_FLOWS_H
#define E2NF_URL_FLOWS_H

#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "http_req.h"

#define URL_FLOW_WAYS 4
#define URL_FLOW_IDLE_NS (60ull * 1000000000ull)
#define URL_FLOW_TICK_SHIFT 20 /* times kept in units of 2^20 ns (about 1 ms) */

struct url_flow_key {
	uint32_t a, b; /* the lower (address, port) end first: one key for both directions */
	uint16_t pa, pb;
};

struct url_flow_bucket {
	struct url_flow_key key[URL_FLOW_WAYS];
	uint32_t tick[URL_FLOW_WAYS]; /* last seen; 0: free */
} __attribute__((aligned(64)));

struct url_flow {
	uint8_t len;
	int16_t cat; /* e2nf-urlclass: the URL's category (-1 none) */
	char url[HTTP_URL_MAX + 1];
};

struct url_flows {
	struct url_flow_bucket *b;
	struct url_flow *v; /* way w of bucket i: v[i * URL_FLOW_WAYS + w] */
	uint32_t mask;      /* buckets - 1 */
	uint64_t evicted;
};

static inline int url_flows_init(struct url_flows *t, uint32_t flows)
{
	uint32_t buckets = 1;

	while (buckets * URL_FLOW_WAYS < flows)
		buckets <<= 1;
	t->b = aligned_alloc(64, (size_t)buckets * sizeof(*t->b));
	t->v = calloc((size_t)buckets * URL_FLOW_WAYS, sizeof(*t->v));
	t->mask = buckets - 1;
	t->evicted = 0;
	if (!t->b || !t->v) {
		free(t->b);
		free(t->v);
		t->b = NULL;
		t->v = NULL;
		return -1;
	}
	memset(t->b, 0, (size_t)buckets * sizeof(*t->b));
	return 0;
}

static inline void url_flows_free(struct url_flows *t)
{
	free(t->b);
	free(t->v);
	t->b = NULL;
	t->v = NULL;
}

static inline struct url_flow_key url_flow_key(const struct http_tcp *s)
{
	struct url_flow_key k;

	if (s->saddr < s->daddr || (s->saddr == s->daddr && s->sport <= s->dport))
		k = (struct url_flow_key){s->saddr, s->daddr, s->sport, s->dport};
	else
		k = (struct url_flow_key){s->daddr, s->saddr, s->dport, s->sport};
	return k;
}

static inline uint32_t url_flows_index(const struct url_flows *t, const struct url_flow_key *k)
{
	uint64_t h = ((uint64_t)k->a * 0x9E3779B97F4A7C15ull) ^ ((uint64_t)k->b * 0xC2B2AE3D27D4EB4Full) ^
		     (((uint64_t)k->pa << 16 | k->pb) * 0x165667B19E3779F9ull);
	h ^= h >> 29;
	return (uint32_t)(h >> 32) & t->mask;
}

static inline bool url_flow_same(const struct url_flow_key *x, const struct url_flow_key *y)
{
	return x->a == y->a && x->b == y->b && x->pa == y->pa && x->pb == y->pb;
}

static inline uint32_t url_flow_tick(uint64_t now_ns)
{
	uint32_t t = (uint32_t)(now_ns >> URL_FLOW_TICK_SHIFT);
	return t ? t : 1;
}

static inline bool url_flow_idle(uint32_t tick, uint32_t now)
{
	return now - tick > (uint32_t)(URL_FLOW_IDLE_NS >> URL_FLOW_TICK_SHIFT);
}

/* The connection's entry, or NULL; refreshes its time. */
static inline struct url_flow *url_flows_find(struct url_flows *t, const struct url_flow_key *k, uint64_t now_ns)
{
	uint32_t i = url_flows_index(t, k), now = url_flow_tick(now_ns);
	struct url_flow_bucket *b = &t->b[i];

	for (int w = 0; w < URL_FLOW_WAYS; w++)
		if (b->tick[w] && url_flow_same(&b->key[w], k)) {
			if (url_flow_idle(b->tick[w], now)) {
				b->tick[w] = 0;
				return NULL;
			}
			b->tick[w] = now;
			return &t->v[i * URL_FLOW_WAYS + w];
		}
	return NULL;
}

static inline struct url_flow *url_flows_put(struct url_flows *t, const struct url_flow_key *k, const char *url,
					     size_t len, uint64_t now_ns)
{
	uint32_t i = url_flows_index(t, k), now = url_flow_tick(now_ns);
	struct url_flow_bucket *b = &t->b[i];
	int v = -1;

	for (int w = 0; w < URL_FLOW_WAYS && v < 0; w++)
		if (b->tick[w] && url_flow_same(&b->key[w], k))
			v = w;
	for (int w = 0; w < URL_FLOW_WAYS && v < 0; w++)
		if (!b->tick[w] || url_flow_idle(b->tick[w], now))
			v = w;
	if (v < 0) {
		v = 0;
		for (int w = 1; w < URL_FLOW_WAYS; w++)
			if (now - b->tick[w] > now - b->tick[v])
				v = w;
		t->evicted++;
	}
	b->key[v] = *k;
	b->tick[v] = now;
	struct url_flow *f = &t->v[i * URL_FLOW_WAYS + (uint32_t)v];
	f->len = (uint8_t)len;
	f->cat = -1;
	memcpy(f->url, url, len);
	f->url[len] = '\0';
	return f;
}

static inline void url_flows_del(struct url_flows *t, const struct url_flow_key *k)
{
	struct url_flow_bucket *b = &t->b[url_flows_index(t, k)];

	for (int w = 0; w < URL_FLOW_WAYS; w++)
		if (b->tick[w] && url_flow_same(&b->key[w], k))
			b->tick[w] = 0;
}

#endif
