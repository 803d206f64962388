/* SPDX-License-Identifier: BSD-3-Clause */
/* The TCP reassembler (lib/stream.c) on hand-made segments: what reaches on_stream (the
 * ordered bytes, their offsets, FIN) and what becomes of each frame (on_release). */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <string.h>

#include <cmocka.h>

#include "e2/nf_stream.h"

#define FRAMES 64

struct rec {
	uint8_t bytes[2][4096]; /* what was delivered, per direction */
	uint64_t len[2];
	unsigned fins[2], chunks, ends;
	enum e2_stream_end last_end;
	int fate[FRAMES + 1]; /* -1: not yet released */
	unsigned released[FRAMES + 1];
	unsigned order[FRAMES], n_order; /* frames in the order they were released */
	uint32_t last_id;
};

static struct rec R;

static void on_stream(void *ctx, const struct e2_stream_seg *seg)
{
	struct rec *r = ctx;
	assert_int_equal(seg->offset, r->len[seg->dir]); /* ordered, without gaps or repeats */
	assert_false(r->fins[seg->dir]);
	memcpy(r->bytes[seg->dir] + seg->offset, seg->data, seg->len);
	r->len[seg->dir] += seg->len;
	r->fins[seg->dir] += seg->fin;
	r->chunks++;
	r->last_id = seg->flow->id;
}

static void on_release(void *ctx, void *frame, enum e2_stream_fate fate, struct e2_stream_flow *flow)
{
	struct rec *r = ctx;
	unsigned i = (unsigned)(uintptr_t)frame;
	(void)flow;
	assert_true(i >= 1 && i <= FRAMES);
	r->released[i]++;
	r->fate[i] = (int)fate;
	r->order[r->n_order++] = i;
}

static void on_flow_end(void *ctx, struct e2_stream_flow *flow, enum e2_stream_end why)
{
	struct rec *r = ctx;
	(void)flow;
	r->ends++;
	r->last_end = why;
}

static struct e2_stream *mk(uint32_t flow_bytes, uint64_t total_bytes, unsigned held_frames, unsigned flows)
{
	struct e2_stream_cfg cfg = E2_STREAM_CFG_INIT;
	memset(&R, 0, sizeof(R));
	memset(R.fate, 0xff, sizeof(R.fate));
	cfg.max_flow_bytes = flow_bytes;
	cfg.max_total_bytes = total_bytes;
	cfg.max_held_frames = held_frames;
	cfg.max_flows = flows;
	cfg.idle_ns = 10;
	cfg.ctx = &R;
	cfg.on_stream = on_stream;
	cfg.on_release = on_release;
	cfg.on_flow_end = on_flow_end;
	struct e2_stream *s = e2_stream_create(&cfg, NULL);
	assert_non_null(s);
	return s;
}

static const char *TEXT = "0123456789abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ";
#define ISN 1000u

/* client port 40000+c -> server 80; data: TEXT[a, b) (or `data` if given) */
static void in(struct e2_stream *s, unsigned frame, unsigned c, bool to_server, uint8_t flags, uint32_t a, uint32_t b,
	       const char *data, uint64_t now)
{
	struct e2_stream_pkt p = {
		.t = {.saddr = 0x0a000001, .daddr = 0x0a000002, .sport = (uint16_t)(40000 + c), .dport = 80},
		.flags = flags,
		.data = (const uint8_t *)(data ? data : TEXT + a),
		.len = b - a,
		.frame = (void *)(uintptr_t)frame};
	p.seq = ISN + 1 + a;
	if (flags & E2_TCP_SYN)
		p.seq = ISN;
	if (!to_server) {
		p.t = (struct e2_stream_tuple){
			.saddr = 0x0a000002, .daddr = 0x0a000001, .sport = 80, .dport = (uint16_t)(40000 + c)};
		p.seq = (flags & E2_TCP_SYN) ? 7000 : 7001 + a;
	}
	e2_stream_input(s, &p, now);
}

static struct e2_stream_stats stats(struct e2_stream *s)
{
	struct e2_stream_stats st;
	e2_stream_get_stats(s, &st);
	return st;
}

static void test_in_order_and_fin(void **state)
{
	(void)state;
	struct e2_stream *s = mk(1000, 100000, 64, 16);
	in(s, 1, 0, true, E2_TCP_SYN, 0, 0, NULL, 1);
	in(s, 2, 0, false, E2_TCP_SYN | E2_TCP_ACK, 0, 0, NULL, 1);
	in(s, 3, 0, true, E2_TCP_ACK, 0, 0, NULL, 1);
	in(s, 4, 0, true, E2_TCP_ACK, 0, 10, NULL, 1);
	in(s, 5, 0, true, E2_TCP_ACK, 10, 25, NULL, 1);
	in(s, 6, 0, false, E2_TCP_ACK, 0, 5, "hello", 1);
	in(s, 7, 0, true, E2_TCP_ACK | E2_TCP_FIN, 25, 30, NULL, 1);
	assert_int_equal(R.len[0], 30);
	assert_memory_equal(R.bytes[0], TEXT, 30);
	assert_int_equal(R.fins[0], 1);
	assert_memory_equal(R.bytes[1], "hello", 5);
	for (unsigned i = 1; i <= 3; i++)
		assert_int_equal(R.fate[i], E2_STREAM_PASS);
	for (unsigned i = 4; i <= 7; i++)
		assert_int_equal(R.fate[i], E2_STREAM_DELIVERED);
	assert_int_equal(R.ends, 0);
	in(s, 8, 0, false, E2_TCP_ACK | E2_TCP_FIN, 5, 5, NULL, 1); /* a bare FIN */
	assert_int_equal(R.fins[1], 1);
	assert_int_equal(R.fate[8], E2_STREAM_DELIVERED);
	assert_int_equal(R.ends, 1);
	assert_int_equal(R.last_end, E2_STREAM_END_CLOSED);
	in(s, 9, 0, true, E2_TCP_ACK, 0, 0, NULL, 1); /* the last ACK starts nothing */
	assert_int_equal(R.fate[9], E2_STREAM_PASS);
	struct e2_stream_stats st = stats(s);
	assert_int_equal(st.flows, 1);
	assert_int_equal(st.flows_closed, 1);
	assert_int_equal(st.flows_active, 0);
	assert_int_equal(st.midstream, 0);
	e2_stream_destroy(s);
}

static void test_out_of_order(void **state)
{
	(void)state;
	struct e2_stream *s = mk(1000, 100000, 64, 16);
	in(s, 1, 0, true, E2_TCP_SYN, 0, 0, NULL, 1);
	in(s, 2, 0, true, E2_TCP_ACK, 20, 30, NULL, 1);
	in(s, 3, 0, true, E2_TCP_ACK, 10, 20, NULL, 1);
	assert_int_equal(R.len[0], 0);
	assert_int_equal(R.fate[2], -1);
	assert_int_equal(stats(s).held_frames, 2);
	assert_int_equal(stats(s).held_bytes, 20);
	in(s, 4, 0, true, E2_TCP_ACK, 0, 10, NULL, 1);
	assert_int_equal(R.len[0], 30);
	assert_memory_equal(R.bytes[0], TEXT, 30);
	/* released in stream order */
	assert_int_equal(R.order[1], 4);
	assert_int_equal(R.order[2], 3);
	assert_int_equal(R.order[3], 2);
	struct e2_stream_stats st = stats(s);
	assert_int_equal(st.held_frames, 0);
	assert_int_equal(st.held_bytes, 0);
	assert_int_equal(st.out_of_order, 2);
	assert_int_equal(st.held_bytes_max, 20);
	e2_stream_destroy(s);
}

/* a segment overlapping delivered bytes at its head, then held bytes at its tail */
static void test_overlap_head_and_tail(void **state)
{
	(void)state;
	struct e2_stream *s = mk(1000, 100000, 64, 16);
	in(s, 1, 0, true, E2_TCP_SYN, 0, 0, NULL, 1);
	in(s, 2, 0, true, E2_TCP_ACK, 0, 10, NULL, 1);
	in(s, 3, 0, true, E2_TCP_ACK, 18, 30, NULL, 1); /* held */
	in(s, 4, 0, true, E2_TCP_ACK, 5, 22, NULL, 1);  /* [5,10) delivered already, [18,22) held */
	assert_int_equal(R.fate[4], E2_STREAM_DELIVERED);
	assert_int_equal(R.fate[3], E2_STREAM_DELIVERED);
	assert_int_equal(R.len[0], 30);
	assert_memory_equal(R.bytes[0], TEXT, 30);
	assert_int_equal(R.chunks, 3); /* [0,10) [10,18) [18,30) */
	assert_int_equal(stats(s).conflicts, 0);
	e2_stream_destroy(s);
}

/* a held segment covered by a later one is released as a duplicate; one covering a later
 * one leaves it nothing */
static void test_overlap_cover(void **state)
{
	(void)state;
	struct e2_stream *s = mk(1000, 100000, 64, 16);
	in(s, 1, 0, true, E2_TCP_SYN, 0, 0, NULL, 1);
	in(s, 2, 0, true, E2_TCP_ACK, 12, 16, NULL, 1); /* held */
	in(s, 3, 0, true, E2_TCP_ACK, 10, 20, NULL, 1); /* covers it: it goes */
	assert_int_equal(R.fate[2], E2_STREAM_PASS);
	in(s, 4, 0, true, E2_TCP_ACK, 14, 18, NULL, 1); /* inside 3: nothing new */
	assert_int_equal(R.fate[4], E2_STREAM_PASS);
	in(s, 5, 0, true, E2_TCP_ACK, 0, 10, NULL, 1);
	assert_int_equal(R.len[0], 20);
	assert_memory_equal(R.bytes[0], TEXT, 20);
	assert_int_equal(R.fate[3], E2_STREAM_DELIVERED);
	assert_int_equal(stats(s).duplicates, 2);
	e2_stream_destroy(s);
}

/* first wins: a segment whose bytes disagree with held ones is dropped */
static void test_overlap_conflict(void **state)
{
	(void)state;
	struct e2_stream *s = mk(1000, 100000, 64, 16);
	in(s, 1, 0, true, E2_TCP_SYN, 0, 0, NULL, 1);
	in(s, 2, 0, true, E2_TCP_ACK, 10, 20, NULL, 1);        /* held: abcdefghij */
	in(s, 3, 0, true, E2_TCP_ACK, 5, 15, "56789XXXXX", 1); /* disagrees on [10,15) */
	assert_int_equal(R.fate[3], E2_STREAM_DROP);
	in(s, 4, 0, true, E2_TCP_ACK, 15, 25, "XXXXXklmno", 1); /* disagrees at its head */
	assert_int_equal(R.fate[4], E2_STREAM_DROP);
	in(s, 5, 0, true, E2_TCP_ACK, 0, 10, NULL, 1);
	assert_int_equal(R.len[0], 20);
	assert_memory_equal(R.bytes[0], TEXT, 20);
	assert_int_equal(stats(s).conflicts, 2);
	e2_stream_destroy(s);
}

static void test_retransmit(void **state)
{
	(void)state;
	struct e2_stream *s = mk(1000, 100000, 64, 16);
	in(s, 1, 0, true, E2_TCP_SYN, 0, 0, NULL, 1);
	in(s, 2, 0, true, E2_TCP_ACK, 0, 10, NULL, 1);
	in(s, 3, 0, true, E2_TCP_ACK, 0, 10, NULL, 1);
	in(s, 4, 0, true, E2_TCP_SYN, 0, 0, NULL, 1); /* the SYN again */
	assert_int_equal(R.fate[3], E2_STREAM_PASS);
	assert_int_equal(R.fate[4], E2_STREAM_PASS);
	assert_int_equal(R.len[0], 10);
	assert_int_equal(stats(s).retransmits, 1);
	e2_stream_destroy(s);
}

static void test_hole_then_fill(void **state)
{
	(void)state;
	struct e2_stream *s = mk(1000, 100000, 64, 16);
	in(s, 1, 0, true, E2_TCP_SYN, 0, 0, NULL, 1);
	in(s, 2, 0, true, E2_TCP_ACK, 0, 5, NULL, 1);
	in(s, 3, 0, true, E2_TCP_ACK, 10, 15, NULL, 2);
	in(s, 4, 0, true, E2_TCP_ACK | E2_TCP_FIN, 20, 25, NULL, 3); /* FIN behind two holes */
	in(s, 5, 0, true, E2_TCP_ACK, 15, 20, NULL, 4);
	assert_int_equal(R.len[0], 5);
	in(s, 6, 0, true, E2_TCP_ACK, 5, 10, NULL, 5);
	assert_int_equal(R.len[0], 25);
	assert_memory_equal(R.bytes[0], TEXT, 25);
	assert_int_equal(R.fins[0], 1);
	for (unsigned i = 2; i <= 6; i++)
		assert_int_equal(R.fate[i], E2_STREAM_DELIVERED);
	in(s, 7, 0, true, E2_TCP_ACK, 25, 30, NULL, 6); /* past the FIN: not the stream's */
	assert_int_equal(R.fate[7], E2_STREAM_PASS);
	assert_int_equal(R.len[0], 25);
	e2_stream_destroy(s);
}

static void test_bounds_and_eviction(void **state)
{
	(void)state;
	/* per flow: 15 bytes held */
	struct e2_stream *s = mk(15, 24, 64, 16);
	in(s, 1, 0, true, E2_TCP_SYN, 0, 0, NULL, 1);
	in(s, 2, 0, true, E2_TCP_ACK, 10, 20, NULL, 1);
	in(s, 3, 0, true, E2_TCP_ACK, 30, 40, NULL, 1); /* 20 > 15 */
	assert_int_equal(R.fate[3], E2_STREAM_DROP);
	assert_int_equal(stats(s).dropped_flow_limit, 1);
	/* in total 24: another flow holding 15 more evicts the first's frames */
	in(s, 4, 1, true, E2_TCP_SYN, 0, 0, NULL, 2);
	in(s, 5, 1, true, E2_TCP_ACK, 10, 20, NULL, 2);
	assert_int_equal(R.fate[2], -1);
	in(s, 6, 1, true, E2_TCP_ACK, 20, 25, NULL, 3); /* 10 + 10 + 5 > 24 */
	assert_int_equal(R.fate[2], E2_STREAM_DROP);
	assert_int_equal(R.fate[6], -1);
	struct e2_stream_stats st = stats(s);
	assert_int_equal(st.evictions, 1);
	assert_int_equal(st.evicted_frames, 1);
	assert_int_equal(st.held_bytes, 15);
	/* the first flow goes on: the sender sends [10,20) again */
	in(s, 7, 0, true, E2_TCP_ACK, 0, 20, NULL, 4);
	assert_int_equal(R.len[0], 20);
	assert_int_equal(R.fate[5], -1);
	e2_stream_destroy(s);
	assert_int_equal(R.fate[5], E2_STREAM_DROP); /* destroying releases what is held */
	assert_int_equal(R.fate[6], E2_STREAM_DROP);
}

static void test_held_frames_bound(void **state)
{
	(void)state;
	struct e2_stream *s = mk(1000, 100000, 2, 16);
	in(s, 1, 0, true, E2_TCP_SYN, 0, 0, NULL, 1);
	in(s, 2, 0, true, E2_TCP_ACK, 10, 11, NULL, 1);
	in(s, 3, 0, true, E2_TCP_ACK, 12, 13, NULL, 1);
	in(s, 4, 0, true, E2_TCP_ACK, 14, 15, NULL, 1);
	assert_int_equal(R.fate[4], E2_STREAM_DROP);
	in(s, 5, 1, true, E2_TCP_SYN, 0, 0, NULL, 1);
	in(s, 6, 1, true, E2_TCP_ACK, 14, 15, NULL, 1); /* another flow's frame evicts flow 0's */
	assert_int_equal(R.fate[2], E2_STREAM_DROP);
	assert_int_equal(R.fate[3], E2_STREAM_DROP);
	assert_int_equal(R.fate[6], -1);
	assert_int_equal(stats(s).evicted_frames, 2);
	e2_stream_destroy(s);
}

static void test_flow_table_rst_idle(void **state)
{
	(void)state;
	struct e2_stream *s = mk(1000, 100000, 64, 2);
	in(s, 1, 0, true, E2_TCP_SYN, 0, 0, NULL, 1);
	in(s, 2, 0, true, E2_TCP_ACK, 10, 20, NULL, 1); /* held */
	in(s, 3, 0, true, E2_TCP_RST, 0, 0, NULL, 2);
	assert_int_equal(R.fate[2], E2_STREAM_DROP);
	assert_int_equal(R.fate[3], E2_STREAM_PASS);
	assert_int_equal(R.last_end, E2_STREAM_END_RESET);
	/* two slots: a third flow evicts the least recently seen */
	in(s, 4, 1, true, E2_TCP_SYN, 0, 0, NULL, 3);
	in(s, 5, 2, true, E2_TCP_SYN, 0, 0, NULL, 4);
	in(s, 6, 1, true, E2_TCP_ACK, 0, 3, NULL, 5);
	uint32_t id1 = R.last_id;
	in(s, 7, 3, true, E2_TCP_SYN, 0, 0, NULL, 6);
	assert_int_equal(R.last_end, E2_STREAM_END_EVICTED);
	assert_int_equal(stats(s).flows_evicted, 1);
	in(s, 8, 1, true, E2_TCP_ACK, 3, 6, NULL, 7); /* flow 1 survived, same id */
	assert_int_equal(R.last_id, id1);
	assert_int_equal(R.len[0], 6);
	/* idle 10 ns: all gone by 100 */
	e2_stream_expire(s, 100);
	assert_int_equal(stats(s).flows_active, 0);
	assert_int_equal(stats(s).flows_expired, 2);
	/* a new flow in a reused slot has another id */
	R.len[0] = 0;
	in(s, 9, 1, true, E2_TCP_SYN, 0, 0, NULL, 200);
	in(s, 10, 1, true, E2_TCP_ACK, 0, 1, NULL, 200);
	assert_int_not_equal(R.last_id, id1);
	e2_stream_destroy(s);
}

static void test_midstream_direction(void **state)
{
	(void)state;
	struct e2_stream *s = mk(1000, 100000, 64, 16);
	/* no SYN: the higher port is the client; the server speaks first here */
	in(s, 1, 0, false, E2_TCP_ACK, 0, 5, "hello", 1);
	assert_int_equal(R.len[1], 5);
	assert_int_equal(R.len[0], 0);
	assert_int_equal(stats(s).midstream, 1);
	/* bytes from before the first seen: passed, or their new tail delivered */
	struct e2_stream_pkt p = {.t = {.saddr = 0x0a000002, .daddr = 0x0a000001, .sport = 80, .dport = 40000},
				  .seq = 7001 - 3,
				  .flags = E2_TCP_ACK,
				  .data = (const uint8_t *)"xyzhello",
				  .len = 3,
				  .frame = (void *)(uintptr_t)2};
	e2_stream_input(s, &p, 1);
	assert_int_equal(R.fate[2], E2_STREAM_PASS);
	p.len = 8 + 2, p.data = (const uint8_t *)"xyzhello!!", p.frame = (void *)(uintptr_t)3;
	e2_stream_input(s, &p, 1);
	assert_int_equal(R.fate[3], E2_STREAM_DELIVERED);
	assert_int_equal(R.len[1], 7);
	assert_memory_equal(R.bytes[1], "hello!!", 7);
	e2_stream_destroy(s);
}

static void test_meta_roundtrip(void **state)
{
	(void)state;
	struct e2nf_stream_meta a = {.flow_id = 0x12345678,
				     .offset = 0x0102030405060708ull,
				     .at = 66,
				     .len = 1400,
				     .flags = E2NF_STREAM_F_DIR | E2NF_STREAM_F_FIN},
				b;
	uint8_t buf[E2NF_STREAM_META_LEN];
	e2nf_stream_meta_encode(&a, buf);
	assert_int_equal(buf[0], 0x12);
	assert_int_equal(buf[4], 0x01);
	e2nf_stream_meta_decode(buf, &b);
	assert_int_equal(b.flow_id, a.flow_id);
	assert_int_equal(b.offset, a.offset);
	assert_int_equal(b.at, a.at);
	assert_int_equal(b.len, a.len);
	assert_int_equal(b.flags, a.flags);
}

/* prefetching a burst (more packets than it takes at once, flows known and unknown,
 * both directions) changes nothing: no frame released, no counter moved, and the burst
 * then goes in as it would have */
static void test_prefetch_burst(void **state)
{
	(void)state;
	struct e2_stream *s = mk(1000, 100000, 64, 16);
	in(s, 1, 0, true, E2_TCP_SYN, 0, 0, NULL, 1);
	in(s, 2, 0, false, E2_TCP_SYN | E2_TCP_ACK, 0, 0, NULL, 1);
	struct e2_stream_pkt p[100];
	const struct e2_stream_pkt *burst[100];
	for (unsigned i = 0; i < 100; i++) {
		bool to_server = i % 2 == 0;
		uint16_t c = (uint16_t)(40000 + i % 3);
		p[i] = (struct e2_stream_pkt){
			.t = {.saddr = 0x0a000001, .daddr = 0x0a000002, .sport = c, .dport = 80},
			.flags = E2_TCP_ACK,
		};
		if (!to_server)
			p[i].t = (struct e2_stream_tuple){
				.saddr = 0x0a000002, .daddr = 0x0a000001, .sport = 80, .dport = c};
		burst[i] = &p[i];
	}
	struct e2_stream_stats before = stats(s);
	e2_stream_prefetch(s, burst, 100);
	e2_stream_prefetch(s, burst, 0);
	struct e2_stream_stats after = stats(s);
	assert_memory_equal(&before, &after, sizeof(before));
	assert_int_equal(R.n_order, 2);
	in(s, 3, 0, true, E2_TCP_ACK, 0, 10, NULL, 1);
	assert_int_equal(R.len[0], 10);
	assert_memory_equal(R.bytes[0], TEXT, 10);
	e2_stream_destroy(s);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_in_order_and_fin),      cmocka_unit_test(test_out_of_order),
		cmocka_unit_test(test_overlap_head_and_tail), cmocka_unit_test(test_overlap_cover),
		cmocka_unit_test(test_overlap_conflict),      cmocka_unit_test(test_retransmit),
		cmocka_unit_test(test_hole_then_fill),        cmocka_unit_test(test_bounds_and_eviction),
		cmocka_unit_test(test_held_frames_bound),     cmocka_unit_test(test_flow_table_rst_idle),
		cmocka_unit_test(test_midstream_direction),   cmocka_unit_test(test_meta_roundtrip),
		cmocka_unit_test(test_prefetch_burst),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
