/* SPDX-License-Identifier: BSD-3-Clause */
/* The web cache's store (mb_cache.h). Objects are allocated one by one (a pinned object
 * must not move) and found through an open-addressed table of pointers keyed by the URI id
 * (an AES-SIV output: its first bytes hash it already); eviction scans for the least
 * recently used unpinned object, which is rare next to lookups. Recording allocates per
 * segment: it runs on misses, a hit allocates nothing. */
#include "mb_cache.h"

#include <stdlib.h>
#include <string.h>

struct mb_cache {
	struct mb_cache_obj **t;
	size_t mask, max_objects, max_bytes;
	struct mb_cache_stats st;
};

struct mb_cache *mb_cache_new(size_t max_objects, size_t max_bytes)
{
	struct mb_cache *c = calloc(1, sizeof *c);
	size_t n = 16;
	while (n < 2 * max_objects)
		n <<= 1;
	if (!c || !(c->t = calloc(n, sizeof *c->t))) {
		free(c);
		return NULL;
	}
	c->mask = n - 1;
	c->max_objects = max_objects;
	c->max_bytes = max_bytes;
	return c;
}

static void obj_free(struct mb_cache *c, struct mb_cache_obj *o)
{
	for (size_t i = 0; i < o->nsegs; i++)
		free(o->segs[i].data);
	free(o->segs);
	c->st.bytes -= o->bytes;
	c->st.objects--;
	free(o);
}

void mb_cache_free(struct mb_cache *c)
{
	if (!c)
		return;
	for (size_t i = 0; i <= c->mask; i++)
		if (c->t[i])
			obj_free(c, c->t[i]);
	free(c->t);
	free(c);
}

static size_t slot_of(const struct mb_cache *c, const uint8_t id[EMBARK_URI_ID_LEN])
{
	uint64_t h;
	memcpy(&h, id, sizeof h);
	return (size_t)h & c->mask;
}

/* Linear probing with deletion by backward shift, so lookups stop at the first empty
 * slot. The slot of id, or of the empty slot where it would go. */
static size_t probe(const struct mb_cache *c, const uint8_t id[EMBARK_URI_ID_LEN])
{
	size_t i = slot_of(c, id);
	while (c->t[i] && memcmp(c->t[i]->uri_id, id, EMBARK_URI_ID_LEN) != 0)
		i = (i + 1) & c->mask;
	return i;
}

static struct mb_cache_obj *find(struct mb_cache *c, const uint8_t id[EMBARK_URI_ID_LEN])
{
	return c->t[probe(c, id)];
}

static void drop(struct mb_cache *c, struct mb_cache_obj *o)
{
	size_t i = probe(c, o->uri_id);
	obj_free(c, o);
	c->t[i] = NULL;
	for (size_t j = (i + 1) & c->mask; c->t[j]; j = (j + 1) & c->mask) {
		size_t home = slot_of(c, c->t[j]->uri_id);
		/* move j back into the hole at i unless its home lies in (i, j] */
		bool stays = i <= j ? (home > i && home <= j) : (home > i || home <= j);
		if (!stays) {
			c->t[i] = c->t[j];
			c->t[j] = NULL;
			i = j;
		}
	}
}

/* The least recently used unpinned object other than keep, or NULL. */
static struct mb_cache_obj *lru(struct mb_cache *c, const struct mb_cache_obj *keep)
{
	struct mb_cache_obj *best = NULL;
	for (size_t i = 0; i <= c->mask; i++) {
		struct mb_cache_obj *o = c->t[i];
		if (o && o != keep && !o->pins && (!best || o->used_at < best->used_at))
			best = o;
	}
	return best;
}

static struct mb_cache_obj *add(struct mb_cache *c, const uint8_t id[EMBARK_URI_ID_LEN], uint64_t now)
{
	if (c->st.objects >= c->max_objects) {
		struct mb_cache_obj *victim = lru(c, NULL);
		if (!victim)
			return NULL;
		drop(c, victim);
		c->st.evicted++;
	}
	struct mb_cache_obj *o = calloc(1, sizeof *o);
	if (!o)
		return NULL;
	c->t[probe(c, id)] = o;
	memcpy(o->uri_id, id, EMBARK_URI_ID_LEN);
	o->used_at = now;
	c->st.objects++;
	return o;
}

/* Room for len more bytes for o, evicting others; false if there is none. */
static bool room(struct mb_cache *c, struct mb_cache_obj *o, size_t len)
{
	while (c->st.bytes + len > c->max_bytes) {
		struct mb_cache_obj *victim = lru(c, o);
		if (!victim)
			return false;
		drop(c, victim);
		c->st.evicted++;
	}
	return true;
}

enum mb_cache_put_result mb_cache_put(struct mb_cache *c, const embark_content_info *ci, const uint8_t *data,
				      size_t len, uint64_t now)
{
	struct mb_cache_obj *o = find(c, ci->uri_id);
	bool same = o && memcmp(o->tag, ci->seg.tag, EMBARK_CONTENT_TAG_LEN) == 0;
	if (o && o->complete) {
		if (same || now < o->expires_at || o->pins || ci->seg.offset != 0)
			return MB_CACHE_IGNORED; /* a retransmission, or a fresh copy is held */
		drop(c, o);                      /* stale: this instance replaces it */
		c->st.expired++;
		o = NULL;
	} else if (o && !same) {
		if (ci->seg.offset != 0)
			return MB_CACHE_IGNORED;
		drop(c, o); /* a new instance began: the old recording is given up */
		c->st.dropped_gap++;
		o = NULL;
	}
	if (!o) {
		if (ci->seg.offset != 0)
			return MB_CACHE_IGNORED; /* joined midway */
		if (!(o = add(c, ci->uri_id, now)))
			return MB_CACHE_DROPPED;
		memcpy(o->tag, ci->seg.tag, EMBARK_CONTENT_TAG_LEN);
	}
	if (ci->seg.offset < o->next)
		return MB_CACHE_IGNORED; /* a retransmission */
	if (ci->seg.offset > o->next || len > UINT32_MAX) {
		drop(c, o);
		c->st.dropped_gap++;
		return MB_CACHE_DROPPED;
	}
	if (!room(c, o, len)) {
		drop(c, o);
		c->st.dropped_room++;
		return MB_CACHE_DROPPED;
	}
	if (o->nsegs == o->cap) {
		size_t cap = o->cap ? 2 * o->cap : 8;
		struct mb_cache_seg *s = realloc(o->segs, cap * sizeof *s);
		if (!s) {
			drop(c, o);
			c->st.dropped_room++;
			return MB_CACHE_DROPPED;
		}
		o->segs = s;
		o->cap = cap;
	}
	uint8_t *copy = malloc(len ? len : 1);
	if (!copy) {
		drop(c, o);
		c->st.dropped_room++;
		return MB_CACHE_DROPPED;
	}
	memcpy(copy, data, len);
	o->segs[o->nsegs++] = (struct mb_cache_seg){.ci = *ci, .len = (uint32_t)len, .data = copy};
	o->next += len;
	o->bytes += len;
	c->st.bytes += len;
	o->used_at = now;
	if (!ci->seg.last)
		return MB_CACHE_STORED;
	if (!ci->cacheable || ci->lifetime_s == 0) {
		drop(c, o);
		c->st.dropped_uncacheable++;
		return MB_CACHE_DROPPED;
	}
	o->complete = true;
	o->expires_at = now + (uint64_t)ci->lifetime_s * 1000000000ull;
	c->st.completed++;
	return MB_CACHE_COMPLETED;
}

struct mb_cache_obj *mb_cache_get(struct mb_cache *c, const uint8_t uri_id[EMBARK_URI_ID_LEN], uint64_t now)
{
	struct mb_cache_obj *o = find(c, uri_id);
	if (!o || !o->complete || now >= o->expires_at)
		return NULL;
	o->pins++;
	o->used_at = now;
	return o;
}

void mb_cache_unpin(struct mb_cache *c, struct mb_cache_obj *o)
{
	(void)c;
	if (o->pins)
		o->pins--;
}

const struct mb_cache_stats *mb_cache_stats(const struct mb_cache *c)
{
	return &c->st;
}
