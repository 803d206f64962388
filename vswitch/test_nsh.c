/* SPDX-License-Identifier: BSD-3-Clause */
/* NSH metadata modules with real mbufs: the exact bytes nsh_push writes (RFC 8300,
 * MD type 2), updating a header in place, matching, popping back to the original frame,
 * malformed headers, refused configurations. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <unistd.h>

#include <cmocka.h>

#include "ctl.h"
#include "test_util.h"

static struct e2_dp dp;

#define ctl(...) test_ctl(&dp, __VA_ARGS__)

static int setup(void **state)
{
	return test_dp_start(&dp, "e2-test-nsh", 1023);
}

static int teardown(void **state)
{
	test_dp_stop(&dp);
	return 0;
}

static void destroy_all(void)
{
	assert_int_equal(test_dp_clear(&dp), 0); /* no packet buffer leaked */
}

#define take(name, gate, b) assert_true(collect_take(&dp, name, gate, b))

static void test_nsh_push_bytes(void **state)
{
	struct e2_batch b;
	uint8_t orig[60];
	assert_int_equal(ctl("module add p nsh_push spi=0x123456 si=254 safe=1 url=ab.cd/xyz"), 0);
	assert_int_equal(ctl("module add c collect"), 0);
	assert_int_equal(ctl("connect p c"), 0);
	b.cnt = 1;
	b.pkts[0] = make_udp(dp.pool, "02:00:00:00:00:01", 0x0a000001, 0x0a000002, 1000, 80, 60);
	memcpy(orig, rte_pktmbuf_mtod(b.pkts[0], void *), 60);
	push(&dp, "p", &b);
	take("c", 0, &b);
	assert_int_equal(b.cnt, 1);
	const uint8_t *d = rte_pktmbuf_mtod(b.pkts[0], const uint8_t *);
	/* NSH: 8 bytes + TLV safe (4+4) + TLV url (4+12) = 32 bytes = 8 words */
	static const uint8_t want[] = {
		0x89, 0x4f,                                     /* EtherType */
		0x0f, 0xc8, 0x02, 0x03,                         /* ver 0, TTL 63, len 8, MD type 2, next Ethernet */
		0x12, 0x34, 0x56, 0xfe,                         /* SPI, SI */
		0xff, 0xf6, 0x01, 0x01, 0x01, 0x00, 0x00, 0x00, /* class 0xFFF6, type 1 (safe), len 1, value 1 */
		0xff, 0xf6, 0x02, 0x09, 'a',  'b',  '.',  'c',  'd', '/', 'x', 'y', 'z', 0, 0, 0,
	};
	assert_int_equal(b.pkts[0]->pkt_len, 14 + 32 + 60);
	assert_memory_equal(d, orig, 12); /* outer MACs are the inner ones */
	assert_memory_equal(d + 12, want, sizeof(want));
	assert_memory_equal(d + 14 + 32, orig, 60);
	e2_free_batch(&b);
	destroy_all();
}

static void test_nsh_update_match_pop(void **state)
{
	struct e2_batch b;
	uint8_t orig[3][60];
	assert_int_equal(ctl("module add p1 nsh_push url=example.com"), 0);
	assert_int_equal(ctl("module add p2 nsh_push safe=1 tclass=5"), 0);
	assert_int_equal(ctl("module add mt nsh_match default=0"), 0);
	assert_int_equal(ctl("module add pop nsh_pop"), 0);
	assert_int_equal(ctl("module add c collect"), 0);
	assert_int_equal(ctl("module add c2 collect"), 0);
	assert_int_equal(ctl("connect p1 c:0"), 0);
	assert_int_equal(ctl("connect p2 c:1"), 0);
	for (int g = 0; g < 3; g++)
		assert_int_equal(ctl("connect mt:%d c2:%d", g, g), 0);
	assert_int_equal(ctl("connect pop c2:3"), 0);
	assert_int_equal(ctl("module cmd mt add attr=safe value=1 gate=1 priority=1"), 0);
	assert_int_equal(ctl("module cmd mt add attr=url gate=2"), 0);
	assert_int_equal(ctl("module cmd mt add attr=t40 value=0xbeef gate=1"), 0);

	/* frame 0 plain; frame 1 url only; frame 2 url, then safe=1 and tclass added in place */
	for (int i = 0; i < 3; i++) {
		struct rte_mbuf *m = make_udp(dp.pool, "02:00:00:00:00:01", 1, 2, (uint16_t)i, 80, 60);
		memcpy(orig[i], rte_pktmbuf_mtod(m, void *), 60);
		b.cnt = 1;
		b.pkts[0] = m;
		if (i > 0)
			push(&dp, "p1", &b);
		if (i == 2) {
			take("c", 0, &b);
			push(&dp, "p2", &b);
			/* pushing again replaces a value rather than adding a second safe TLV */
			assert_int_equal(ctl("module cmd p2 set safe=1"), 0);
			take("c", 1, &b);
			push(&dp, "p2", &b);
			take("c", 1, &b);
			assert_int_equal(b.pkts[0]->pkt_len, 14 + 8 + 16 + 8 + 8 + 60);
		} else if (i == 1) {
			take("c", 0, &b);
		}
		push(&dp, "mt", &b);
	}
	struct collect *c2 = collected(&dp, "c2");
	assert_int_equal(c2->n[0], 1);
	assert_int_equal(c2->n[2], 1);
	assert_int_equal(c2->n[1], 1);
	/* gate 1 has frame 2: its inner UDP source port sits after 14 + 40 bytes of headers */
	assert_int_equal(rte_be_to_cpu_16(*rte_pktmbuf_mtod_offset(c2->pkts[1][0], uint16_t *, 14 + 40 + 34)), 2);

	/* pop gives back the original frames, and leaves a plain one alone */
	for (int g = 0; g < 3; g++) {
		take("c2", g, &b);
		push(&dp, "pop", &b);
	}
	assert_int_equal(c2->n[3], 3);
	for (int k = 0; k < 3; k++) {
		struct rte_mbuf *m = c2->pkts[3][k];
		uint16_t sport = rte_be_to_cpu_16(*rte_pktmbuf_mtod_offset(m, uint16_t *, 34));
		assert_int_equal(m->pkt_len, 60);
		assert_memory_equal(rte_pktmbuf_mtod(m, void *), orig[sport], 60);
	}

	/* refused: nothing changes */
	assert_int_not_equal(ctl("module add bad nsh_push colour=red"), 0);
	assert_int_not_equal(ctl("module add bad nsh_push safe=256"), 0);
	assert_int_not_equal(ctl("module add bad nsh_push safe=yes"), 0);
	assert_int_not_equal(ctl("module add bad nsh_push t31=x"), 0);
	assert_int_not_equal(ctl("module add bad nsh_push t40=0xabc"), 0);
	assert_int_not_equal(ctl("module add bad nsh_push t40=0xzz"), 0);
	assert_int_not_equal(ctl("module add bad nsh_push spi=0x1000000"), 0);
	assert_int_not_equal(ctl("module add bad nsh_push url=%0120d", 0), 0);
	assert_int_not_equal(ctl("module add bad nsh_pop x=1"), 0);
	assert_int_not_equal(ctl("module cmd p2 set safe=2 url="), 0);
	assert_int_not_equal(ctl("module cmd mt add attr=safe value=1 gate=3"), 0);
	assert_int_not_equal(ctl("module cmd mt add attr=nosuch gate=3"), 0);
	assert_int_not_equal(ctl("module cmd mt add attr=safe value=0"), 0);
	assert_int_not_equal(ctl("module cmd mt add attr=safe value=0 gate=64"), 0);
	assert_int_not_equal(ctl("module cmd mt delete attr=safe value=0"), 0);
	assert_int_equal(ctl("module cmd mt delete attr=url"), 0);
	assert_int_not_equal(ctl("module cmd mt delete attr=url"), 0);
	collect_reset(e2_dp_module_find(&dp, "c2"));
	destroy_all();
}

static void test_nsh_malformed(void **state)
{
	struct e2_batch b;
	assert_int_equal(ctl("module add p nsh_push safe=1"), 0);
	assert_int_equal(ctl("module add pop nsh_pop"), 0);
	assert_int_equal(ctl("module add mt nsh_match default=2"), 0);
	assert_int_equal(ctl("module add c collect"), 0);
	assert_int_equal(ctl("connect p c:0"), 0);
	assert_int_equal(ctl("connect pop c:1"), 0);
	assert_int_equal(ctl("connect mt:2 c:2"), 0);
	assert_int_equal(ctl("module cmd mt add attr=safe gate=0"), 0);
	/* NSH EtherType with: a length past the frame; a TLV running past the header;
	 * version 1; a runt */
	static const uint8_t bad[][12] = {
		{0x89, 0x4f, 0x0f, 0xff, 0x02, 0x03, 0, 0, 1, 0xff},
		{0x89, 0x4f, 0x0f, 0xc3, 0x02, 0x03, 0, 0, 1, 0xff, 0xff, 0xf6},
		{0x89, 0x4f, 0x4f, 0xc2, 0x02, 0x03, 0, 0, 1, 0xff},
	};
	const char *mods[] = {"p", "pop", "mt"};
	for (int k = 0; k < 3; k++) {
		b.cnt = 0;
		for (int i = 0; i < 3; i++) {
			struct rte_mbuf *m = make_udp(dp.pool, "02:00:00:00:00:01", 1, 2, 3, 4, 60);
			memcpy(rte_pktmbuf_mtod_offset(m, uint8_t *, 12), bad[i], sizeof(bad[i]));
			if (i == 1) /* TLV of length 127 inside a 12-byte header */
				rte_pktmbuf_mtod(m, uint8_t *)[14 + 8 + 3] = 127;
			b.pkts[b.cnt++] = m;
		}
		struct rte_mbuf *runt = make_udp(dp.pool, "02:00:00:00:00:01", 1, 2, 3, 4, 16);
		memcpy(rte_pktmbuf_mtod_offset(runt, uint8_t *, 12), bad[0], 4);
		b.pkts[b.cnt++] = runt;
		push(&dp, mods[k], &b);
	}
	struct collect *c = collected(&dp, "c");
	assert_int_equal(c->n[0], 0); /* push drops them */
	assert_int_equal(c->n[1], 0); /* pop drops them */
	assert_int_equal(c->n[2], 4); /* match: no attribute, default gate */
	assert_int_equal(e2_dp_module_find(&dp, "p")->drops, 4);
	destroy_all();
}

/* An NSH header split over two segments is still matched, popped and updated. */
static void test_nsh_multiseg(void **state)
{
	struct e2_batch b;
	assert_int_equal(ctl("module add p nsh_push safe=1 url=abc"), 0);
	assert_int_equal(ctl("module add mt nsh_match default=0"), 0);
	assert_int_equal(ctl("module add pop nsh_pop"), 0);
	assert_int_equal(ctl("module add c collect"), 0);
	assert_int_equal(ctl("connect p c:0"), 0);
	assert_int_equal(ctl("connect mt:0 c:1"), 0);
	assert_int_equal(ctl("connect mt:1 c:2"), 0);
	assert_int_equal(ctl("connect pop c:3"), 0);
	assert_int_equal(ctl("module cmd mt add attr=url value=abc gate=1"), 0);
	b.cnt = 1;
	b.pkts[0] = make_udp(dp.pool, "02:00:00:00:00:01", 1, 2, 3, 4, 60);
	push(&dp, "p", &b);
	take("c", 0, &b);
	/* move everything from byte 20 (inside the NSH header) into a second segment */
	struct rte_mbuf *head = b.pkts[0], *tail = rte_pktmbuf_alloc(dp.pool);
	uint16_t rest = (uint16_t)(head->pkt_len - 20);
	memcpy(rte_pktmbuf_append(tail, rest), rte_pktmbuf_mtod_offset(head, void *, 20), rest);
	rte_pktmbuf_trim(head, rest);
	assert_int_equal(rte_pktmbuf_chain(head, tail), 0);
	push(&dp, "mt", &b);
	struct collect *c = collected(&dp, "c");
	assert_int_equal(c->n[2], 1);
	/* pop and push need the headers in the first segment: they drop, and count it */
	take("c", 2, &b);
	push(&dp, "pop", &b);
	assert_int_equal(c->n[3], 0);
	assert_int_equal(e2_dp_module_find(&dp, "pop")->drops, 1);
	destroy_all();
}

/* Pushes one frame tagged by `nsh_push TAGS` (optionally cut right after its NSH
 * header) through matcher mt and checks which of collect c's gates 0..3 it reached. */
static void expect_gate(const char *tags, int trimmed, int want)
{
	struct e2_batch b = {.cnt = 1};
	uint32_t before[4];
	struct collect *c = collected(&dp, "c");
	memcpy(before, c->n, sizeof(before));
	assert_int_equal(ctl("module add p nsh_push %s", tags), 0);
	assert_int_equal(ctl("module add pc collect"), 0);
	assert_int_equal(ctl("connect p pc"), 0);
	b.pkts[0] = make_udp(dp.pool, "02:00:00:00:00:01", 1, 2, 3, 4, 60);
	push(&dp, "p", &b);
	take("pc", 0, &b);
	assert_int_equal(ctl("module del p"), 0);
	assert_int_equal(ctl("module del pc"), 0);
	if (trimmed) { /* the frame ends where the NSH header does */
		const uint8_t *d = rte_pktmbuf_mtod(b.pkts[0], const uint8_t *);
		uint16_t nsh_len = (uint16_t)((d[15] & 0x3f) * 4);
		rte_pktmbuf_trim(b.pkts[0], (uint16_t)(b.pkts[0]->pkt_len - 14 - nsh_len));
	}
	push(&dp, "mt", &b);
	for (int g = 0; g < 4; g++)
		if (c->n[g] != before[g] + (g == want))
			fail_msg("%s (trimmed=%d): gate %d got %u packets, expected %d", tags, trimmed, g,
				 c->n[g] - before[g], g == want);
}

/* Values of every length match exactly: short ones (one masked word) and long ones,
 * a short value at the very end of a frame (no bytes after it to over-read), one TLV
 * (the top rule's shortcut) or several (the full scan, priorities deciding). */
static void test_nsh_match_values(void **state)
{
	const char *tags[] = {"url=abcdefghijkl", "url=abcdefgh", "url=abcdefghijkX",    "url=abcdefg",
			      "safe=1",           "safe=0",       "safe=1 url=abcdefgh", "url=abcdefgh safe=1"};
	/* rules in evaluation order: url=abcdefghijkl, url=abcdefgh, safe=1 */
	const int want[] = {1, 2, 0, 0, 3, 0, 2, 2};
	/* then safe=1 first (priority 5): its one-TLV frames take the shortcut */
	const int want_safe_first[] = {1, 2, 0, 0, 3, 0, 3, 3};
	const size_t n = sizeof(tags) / sizeof(tags[0]);

	assert_int_equal(ctl("module add mt nsh_match default=0"), 0);
	assert_int_equal(ctl("module add c collect"), 0);
	for (int g = 0; g < 4; g++)
		assert_int_equal(ctl("connect mt:%d c:%d", g, g), 0);
	assert_int_equal(ctl("module cmd mt add attr=url value=abcdefghijkl gate=1"), 0);
	assert_int_equal(ctl("module cmd mt add attr=url value=abcdefgh gate=2"), 0);
	assert_int_equal(ctl("module cmd mt add attr=safe value=1 gate=3"), 0);
	for (size_t k = 0; k < n; k++)
		for (int trimmed = 0; trimmed < 2; trimmed++)
			expect_gate(tags[k], trimmed, want[k]);
	assert_int_equal(ctl("module cmd mt delete attr=safe value=1"), 0);
	assert_int_equal(ctl("module cmd mt add attr=safe value=1 gate=3 priority=5"), 0);
	for (size_t k = 0; k < n; k++)
		for (int trimmed = 0; trimmed < 2; trimmed++)
			expect_gate(tags[k], trimmed, want_safe_first[k]);
	destroy_all();
}

/* Random frames, many shaped like NSH or VXLAN-GPE + NSH, through every NSH-reading
 * module: nothing crashes, nothing leaks, every frame is either passed on or dropped. */
static void test_nsh_random_frames(void **state)
{
	assert_int_equal(ctl("module add p nsh_push safe=1 url=x"), 0);
	assert_int_equal(ctl("module add pop nsh_pop"), 0);
	assert_int_equal(ctl("module add mt nsh_match"), 0);
	assert_int_equal(ctl("module add td tunnel_decap"), 0);
	assert_int_equal(ctl("module add te tunnel_encap dst=02:00:00:00:00:01"), 0);
	assert_int_equal(ctl("module add s sink"), 0);
	assert_int_equal(ctl("module cmd mt add attr=safe gate=0"), 0);
	assert_int_equal(ctl("module cmd td edge spi=1 gate=0"), 0);
	assert_int_equal(ctl("module cmd te edge igate=0 spi=1"), 0);
	const char *mods[] = {"p", "pop", "mt", "td", "te"};
	uint64_t seed = 0x2545F4914F6CDD1DULL, sent = 0;
	for (int round = 0; round < 200; round++) {
		for (int k = 0; k < 5; k++) {
			struct e2_batch b = {0};
			char conn[64];
			snprintf(conn, sizeof(conn), "connect %s s", mods[k]);
			if (round == 0)
				assert_int_equal(ctl("%s", conn), 0);
			for (int i = 0; i < 8; i++) {
				seed ^= seed << 13, seed ^= seed >> 7, seed ^= seed << 17;
				uint16_t len = (uint16_t)(1 + seed % 300);
				struct rte_mbuf *m = rte_pktmbuf_alloc(dp.pool);
				uint8_t *d = (uint8_t *)rte_pktmbuf_append(m, len);
				uint64_t x = seed;
				for (uint16_t j = 0; j < len; j++) {
					x = x * 6364136223846793005ULL + 1442695040888963407ULL;
					d[j] = (uint8_t)(x >> 56);
				}
				if (len > 22 && (seed & 3) != 0) {
					d[12] = 0x89, d[13] = 0x4f, d[14] &= 0x3f; /* NSH version 0 */
					d[16] = (d[16] & 0xf0) | 2;                /* MD type 2 */
					if (seed & 4)
						d[15] = (uint8_t)((d[15] & 0xc0) | ((len - 14) / 4 & 0x3f));
				}
				if (len > 70 && (seed & 24) == 8) { /* VXLAN-GPE to port 4790 */
					d[12] = 0x08, d[13] = 0, d[14] = 0x45, d[23] = 17, d[20] = d[21] = 0;
					d[36] = 0x12, d[37] = 0xb6, d[42] |= 0x04, d[45] = 4, d[50] &= 0x3f;
				}
				b.pkts[b.cnt++] = m;
			}
			sent += b.cnt;
			push(&dp, mods[k], &b);
		}
	}
	uint64_t out = e2_dp_module_find(&dp, "s")->packets, dropped = 0;
	for (int k = 0; k < 5; k++)
		dropped += e2_dp_module_find(&dp, mods[k])->drops;
	assert_int_equal(out + dropped, sent);
	assert_true(out > 0 && dropped > 0);
	destroy_all();
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_nsh_push_bytes),   cmocka_unit_test(test_nsh_update_match_pop),
		cmocka_unit_test(test_nsh_malformed),    cmocka_unit_test(test_nsh_multiseg),
		cmocka_unit_test(test_nsh_match_values), cmocka_unit_test(test_nsh_random_frames),
	};
	return cmocka_run_group_tests(tests, setup, teardown);
}
