/* SPDX-License-Identifier: BSD-3-Clause */
/* The web cache's store, for embark-proxy (README "HTTP proxy/cache over ciphertext",
 * part 4): objects by URI id, each one instance of a response recorded segment by segment
 * as it passed to a client (the content block and the ciphertext, read without keys),
 * complete once its last segment is in with no gap and its last segment says it may be
 * cached, fresh for the lifetime that segment gives. Segments are kept as they came: the
 * content SIV seals each one, so a hit replays exactly these. Bounded in objects and bytes;
 * the least recently used objects go first. An object being served is pinned. */
#ifndef EMBARK_MB_CACHE_H
#define EMBARK_MB_CACHE_H
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "embark.h"

struct mb_cache;

struct mb_cache_seg {
	embark_content_info ci; /* the block: tag, offset, last, lifetime, URI id, SIV */
	uint32_t len;
	uint8_t *data; /* the content ciphertext */
};

struct mb_cache_obj {
	uint8_t uri_id[EMBARK_URI_ID_LEN];
	uint8_t tag[EMBARK_CONTENT_TAG_LEN];
	bool complete;
	uint64_t next;       /* recording: the offset the next segment must start at */
	uint64_t expires_at; /* complete: fresh until then */
	uint64_t used_at;
	uint32_t pins;
	struct mb_cache_seg *segs;
	size_t nsegs, cap;
	size_t bytes;
};

enum mb_cache_put_result {
	MB_CACHE_STORED,    /* a segment of an instance being recorded */
	MB_CACHE_COMPLETED, /* its last segment: the object can be served now */
	MB_CACHE_IGNORED,   /* a retransmission, a response joined midway, another instance
			       while a fresh one is held */
	MB_CACHE_DROPPED,   /* the recording ended: a gap, not cacheable, no room */
};

struct mb_cache_stats {
	uint64_t objects, bytes; /* now */
	uint64_t completed, dropped_gap, dropped_uncacheable, dropped_room, evicted, expired;
};

struct mb_cache *mb_cache_new(size_t max_objects, size_t max_bytes);
void mb_cache_free(struct mb_cache *c);
/* A content segment on its way to a client (ci as embark_packet_content read it). */
enum mb_cache_put_result mb_cache_put(struct mb_cache *c, const embark_content_info *ci, const uint8_t *data,
				      size_t len, uint64_t now_ns);
/* The complete, fresh object of a URI id, pinned (mb_cache_unpin when served), or NULL. */
struct mb_cache_obj *mb_cache_get(struct mb_cache *c, const uint8_t uri_id[EMBARK_URI_ID_LEN], uint64_t now_ns);
void mb_cache_unpin(struct mb_cache *c, struct mb_cache_obj *o);
const struct mb_cache_stats *mb_cache_stats(const struct mb_cache *c);
#endif
