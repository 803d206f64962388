/* SPDX-License-Identifier: BSD-3-Clause */
/* The web cache's store (mb_cache.c): an instance recorded segment by segment and served
 * once complete and fresh; retransmissions, responses joined midway, gaps, uncacheable
 * answers, a second instance while one is recorded or held; expiry; pins; the object and
 * byte bounds (least recently used first, never a pinned one); and lookups still right
 * after deletions among ids that share a home slot. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <cmocka.h>
#include <string.h>

#include "mb_cache.h"

#define SEC 1000000000ull

static uint8_t data[4096];

static embark_content_info seg(uint8_t id, uint8_t tag, uint64_t off, bool last, bool cacheable, uint32_t life)
{
	embark_content_info ci = {.seg = {.offset = off, .last = last}, .cacheable = cacheable, .lifetime_s = life};
	memset(ci.uri_id, id, sizeof ci.uri_id);
	memset(ci.seg.tag, tag, sizeof ci.seg.tag);
	ci.present = true;
	return ci;
}

static enum mb_cache_put_result put(struct mb_cache *c, embark_content_info ci, size_t len, uint64_t now)
{
	return mb_cache_put(c, &ci, data + ci.seg.offset % 1000, len, now);
}

static struct mb_cache_obj *get(struct mb_cache *c, uint8_t id, uint64_t now)
{
	uint8_t u[EMBARK_URI_ID_LEN];
	memset(u, id, sizeof u);
	return mb_cache_get(c, u, now);
}

static void test_record_and_serve(void **st)
{
	(void)st;
	struct mb_cache *c = mb_cache_new(16, 1 << 20);
	assert_int_equal(put(c, seg(1, 7, 0, false, false, 0), 100, SEC), MB_CACHE_STORED);
	assert_null(get(c, 1, SEC));                                                         /* not complete yet */
	assert_int_equal(put(c, seg(1, 7, 0, false, false, 0), 100, SEC), MB_CACHE_IGNORED); /* again */
	assert_int_equal(put(c, seg(1, 7, 100, false, false, 0), 100, SEC), MB_CACHE_STORED);
	assert_int_equal(put(c, seg(1, 7, 200, true, true, 10), 50, SEC), MB_CACHE_COMPLETED);
	struct mb_cache_obj *o = get(c, 1, 2 * SEC);
	assert_non_null(o);
	assert_int_equal(o->nsegs, 3);
	assert_int_equal(o->segs[2].ci.seg.offset, 200);
	assert_int_equal(o->segs[2].len, 50);
	assert_memory_equal(o->segs[1].data, data + 100, 100);
	assert_int_equal(mb_cache_stats(c)->bytes, 250);
	/* a second instance while a fresh one is held: ignored, even while pinned and stale */
	assert_int_equal(put(c, seg(1, 8, 0, false, false, 0), 100, 3 * SEC), MB_CACHE_IGNORED);
	assert_null(get(c, 1, 11 * SEC));                                                         /* expired */
	assert_int_equal(put(c, seg(1, 8, 0, false, false, 0), 100, 12 * SEC), MB_CACHE_IGNORED); /* pinned */
	mb_cache_unpin(c, o);
	assert_int_equal(put(c, seg(1, 8, 0, true, true, 5), 100, 12 * SEC), MB_CACHE_COMPLETED);
	assert_int_equal(mb_cache_stats(c)->expired, 1);
	o = get(c, 1, 13 * SEC);
	assert_non_null(o);
	assert_int_equal(o->tag[0], 8);
	mb_cache_unpin(c, o);
	mb_cache_free(c);
}

static void test_recordings_that_end(void **st)
{
	(void)st;
	struct mb_cache *c = mb_cache_new(16, 1 << 20);
	/* joined midway: nothing */
	assert_int_equal(put(c, seg(2, 1, 100, false, false, 0), 100, SEC), MB_CACHE_IGNORED);
	assert_int_equal(mb_cache_stats(c)->objects, 0);
	/* a gap */
	assert_int_equal(put(c, seg(2, 1, 0, false, false, 0), 100, SEC), MB_CACHE_STORED);
	assert_int_equal(put(c, seg(2, 1, 300, true, true, 9), 100, SEC), MB_CACHE_DROPPED);
	assert_int_equal(mb_cache_stats(c)->dropped_gap, 1);
	assert_int_equal(mb_cache_stats(c)->objects, 0);
	/* not cacheable, or no lifetime */
	assert_int_equal(put(c, seg(3, 1, 0, true, false, 0), 10, SEC), MB_CACHE_DROPPED);
	assert_int_equal(put(c, seg(3, 1, 0, true, true, 0), 10, SEC), MB_CACHE_DROPPED);
	assert_int_equal(mb_cache_stats(c)->dropped_uncacheable, 2);
	/* a new instance while one is recorded: it takes over from its start, not midway */
	assert_int_equal(put(c, seg(4, 1, 0, false, false, 0), 100, SEC), MB_CACHE_STORED);
	assert_int_equal(put(c, seg(4, 2, 100, false, false, 0), 100, SEC), MB_CACHE_IGNORED);
	assert_int_equal(put(c, seg(4, 2, 0, false, false, 0), 100, SEC), MB_CACHE_STORED);
	assert_int_equal(put(c, seg(4, 1, 100, true, true, 9), 100, SEC), MB_CACHE_IGNORED);
	assert_int_equal(put(c, seg(4, 2, 100, true, true, 9), 100, SEC), MB_CACHE_COMPLETED);
	struct mb_cache_obj *o = get(c, 4, SEC);
	assert_non_null(o);
	assert_int_equal(o->tag[0], 2);
	assert_int_equal(o->bytes, 200);
	assert_int_equal(mb_cache_stats(c)->bytes, 200);
	mb_cache_unpin(c, o);
	mb_cache_free(c);
}

static void test_bounds(void **st)
{
	(void)st;
	/* bytes: a second object evicts the least recently used one, unless it is pinned */
	struct mb_cache *c = mb_cache_new(16, 1000);
	assert_int_equal(put(c, seg(1, 1, 0, true, true, 60), 600, SEC), MB_CACHE_COMPLETED);
	struct mb_cache_obj *o = get(c, 1, SEC);
	assert_int_equal(put(c, seg(2, 1, 0, true, true, 60), 600, 2 * SEC), MB_CACHE_DROPPED);
	assert_int_equal(mb_cache_stats(c)->dropped_room, 1);
	mb_cache_unpin(c, o);
	assert_int_equal(put(c, seg(2, 1, 0, true, true, 60), 600, 3 * SEC), MB_CACHE_COMPLETED);
	assert_null(get(c, 1, 3 * SEC));
	assert_int_equal(mb_cache_stats(c)->evicted, 1);
	assert_int_equal(mb_cache_stats(c)->bytes, 600);
	mb_cache_free(c);
	/* objects: the third evicts the one used longest ago */
	c = mb_cache_new(2, 1 << 20);
	assert_int_equal(put(c, seg(1, 1, 0, true, true, 60), 10, 1 * SEC), MB_CACHE_COMPLETED);
	assert_int_equal(put(c, seg(2, 1, 0, true, true, 60), 10, 2 * SEC), MB_CACHE_COMPLETED);
	mb_cache_unpin(c, get(c, 1, 3 * SEC)); /* 1 used last */
	assert_int_equal(put(c, seg(3, 1, 0, true, true, 60), 10, 4 * SEC), MB_CACHE_COMPLETED);
	assert_null(get(c, 2, 4 * SEC));
	o = get(c, 1, 4 * SEC);
	assert_non_null(o);
	mb_cache_unpin(c, o);
	mb_cache_free(c);
}

/* Ids that share their first 8 bytes share a home slot: deleting among them must leave
 * every other one findable (backward-shift deletion). */
static void test_shared_home_slots(void **st)
{
	(void)st;
	struct mb_cache *c = mb_cache_new(64, 1 << 20);
	for (int i = 0; i < 40; i++) {
		embark_content_info ci = seg(0, 1, 0, true, true, 60);
		ci.uri_id[15] = (uint8_t)i;
		ci.uri_id[0] = (uint8_t)(i % 3); /* three home slots, chains interleaved */
		assert_int_equal(mb_cache_put(c, &ci, data, 10, SEC), MB_CACHE_COMPLETED);
	}
	/* replace every fourth by a new instance after expiry: each is deleted and re-added */
	for (int i = 0; i < 40; i += 4) {
		embark_content_info ci = seg(0, 2, 0, true, true, 60);
		ci.uri_id[15] = (uint8_t)i;
		ci.uri_id[0] = (uint8_t)(i % 3);
		assert_int_equal(mb_cache_put(c, &ci, data, 10, 100 * SEC), MB_CACHE_COMPLETED);
	}
	for (int i = 0; i < 40; i++) {
		uint8_t u[EMBARK_URI_ID_LEN] = {0};
		u[15] = (uint8_t)i;
		u[0] = (uint8_t)(i % 3);
		struct mb_cache_obj *o = mb_cache_get(c, u, 100 * SEC);
		if (i % 4 == 0) {
			assert_non_null(o);
			assert_int_equal(o->tag[0], 2);
			mb_cache_unpin(c, o);
		} else {
			assert_null(o); /* expired at 61 s */
		}
	}
	assert_int_equal(mb_cache_stats(c)->objects, 40);
	mb_cache_free(c);
}

int main(void)
{
	for (size_t i = 0; i < sizeof data; i++)
		data[i] = (uint8_t)(i * 7);
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_record_and_serve),
		cmocka_unit_test(test_recordings_that_end),
		cmocka_unit_test(test_bounds),
		cmocka_unit_test(test_shared_home_slots),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
