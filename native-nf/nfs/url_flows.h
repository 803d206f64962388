/* SPDX-License-Identifier: BSD-3-Clause */
/* The small flow table of e2nf-httplog and e2nf-urlclass: the URL of the last request
 * seen on a TCP connection, so that its later packets (both directions) carry the same
 * URL. Buckets of 4 ways; a full bucket forgets its least recently used connection, an
 * entry idle for URL_FLOW_IDLE_NS is gone. Never allocates per packet. */
#ifndef E2NF_URL_FLOWS_H
#define E2NF_URL_FLOWS_H

#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "http_req.h"

#define URL_FLOW_WAYS 4
#define URL_FLOW_IDLE_NS (60ull * 1000000000ull)

struct url_flow_key {
	uint32_t a, b; /* the lower (address, port) end first: one key for both directions */
	uint16_t pa, pb;
};

struct url_flow {
	struct url_flow_key key;
	uint64_t last_ns; /* 0: free */
	uint8_t len;
	int16_t cat; /* e2nf-urlclass: the URL's category (-1 none) */
	char url[HTTP_URL_MAX + 1];
};

struct url_flows {
	struct url_flow *e;
	uint32_t mask; /* buckets - 1 */
	uint64_t evicted;
};

static inline int url_flows_init(struct url_flows *t, uint32_t flows)
{
	uint32_t buckets = 1;

	while (buckets * URL_FLOW_WAYS < flows)
		buckets <<= 1;
	t->e = calloc((size_t)buckets * URL_FLOW_WAYS, sizeof(*t->e));
	t->mask = buckets - 1;
	t->evicted = 0;
	return t->e ? 0 : -1;
}

static inline void url_flows_free(struct url_flows *t)
{
	free(t->e);
	t->e = NULL;
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

static inline struct url_flow *url_flows_bucket(const struct url_flows *t, const struct url_flow_key *k)
{
	uint64_t h = ((uint64_t)k->a * 0x9E3779B97F4A7C15ull) ^ ((uint64_t)k->b * 0xC2B2AE3D27D4EB4Full) ^
		     (((uint64_t)k->pa << 16 | k->pb) * 0x165667B19E3779F9ull);
	h ^= h >> 29;
	return &t->e[((uint32_t)(h >> 32) & t->mask) * URL_FLOW_WAYS];
}

static inline bool url_flow_same(const struct url_flow_key *x, const struct url_flow_key *y)
{
	return x->a == y->a && x->b == y->b && x->pa == y->pa && x->pb == y->pb;
}

/* The connection's entry, or NULL; refreshes its time. */
static inline struct url_flow *url_flows_find(struct url_flows *t, const struct url_flow_key *k, uint64_t now)
{
	struct url_flow *b = url_flows_bucket(t, k);

	for (int i = 0; i < URL_FLOW_WAYS; i++)
		if (b[i].last_ns && url_flow_same(&b[i].key, k)) {
			if (now - b[i].last_ns > URL_FLOW_IDLE_NS) {
				b[i].last_ns = 0;
				return NULL;
			}
			b[i].last_ns = now ? now : 1;
			return &b[i];
		}
	return NULL;
}

static inline struct url_flow *url_flows_put(struct url_flows *t, const struct url_flow_key *k, const char *url,
					     size_t len, uint64_t now)
{
	struct url_flow *b = url_flows_bucket(t, k), *v = NULL;

	for (int i = 0; i < URL_FLOW_WAYS && !v; i++)
		if (b[i].last_ns && url_flow_same(&b[i].key, k))
			v = &b[i];
	for (int i = 0; i < URL_FLOW_WAYS && !v; i++)
		if (!b[i].last_ns || now - b[i].last_ns > URL_FLOW_IDLE_NS)
			v = &b[i];
	if (!v) {
		v = &b[0];
		for (int i = 1; i < URL_FLOW_WAYS; i++)
			if (b[i].last_ns < v->last_ns)
				v = &b[i];
		t->evicted++;
	}
	v->key = *k;
	v->last_ns = now ? now : 1;
	v->len = (uint8_t)len;
	v->cat = -1;
	memcpy(v->url, url, len);
	v->url[len] = '\0';
	return v;
}

static inline void url_flows_del(struct url_flows *t, const struct url_flow_key *k)
{
	struct url_flow *b = url_flows_bucket(t, k);

	for (int i = 0; i < URL_FLOW_WAYS; i++)
		if (b[i].last_ns && url_flow_same(&b[i].key, k))
			b[i].last_ns = 0;
}

#endif
