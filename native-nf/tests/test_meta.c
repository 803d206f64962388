/* SPDX-License-Identifier: BSD-3-Clause */
/* Metadata attributes on real mbufs (DPDK in ordinary memory, no e2d): the bytes an
 * NF writes are RFC 8300 MD type 2 TLVs of class 0xFFF6, as e2d's nsh_match reads them
 * (the end-to-end test checks that e2d matches them). */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <string.h>
#include <unistd.h>

#include <cmocka.h>
#include <rte_eal.h>
#include <rte_mbuf.h>

#include "e2/nf.h"

static struct rte_mempool *pool;

static const uint8_t frame[] = {
	0x02, 0,    0,    0,    0, 0x02, 0x02, 0, 0,  0,  0, 0x01, 0x08, 0x00,                    /* Ethernet */
	0x45, 0,    0,    28,   0, 0,    0,    0, 64, 17, 0, 0,    10,   0,    0, 1, 10, 0, 0, 2, /* IPv4 */
	0x30, 0x39, 0x00, 0x50, 0, 8,    0,    0,                                                 /* UDP */
};

static struct rte_mbuf *make(void)
{
	struct rte_mbuf *m = rte_pktmbuf_alloc(pool);
	assert_non_null(m);
	memcpy(rte_pktmbuf_append(m, sizeof(frame)), frame, sizeof(frame));
	return m;
}

static struct e2nf_attr attr(const char *name)
{
	struct e2nf_attr a;
	struct e2_err err;
	assert_int_equal(e2nf_attr(name, &a, &err), 0);
	return a;
}

static void test_lookup(void **st)
{
	struct e2nf_attr a;
	struct e2_err err;
	(void)st;
	assert_int_equal(e2nf_attr("flow_id", &a, &err), 0);
	assert_int_equal(a.type, 4);
	assert_int_equal(a.width, 4);
	assert_int_equal(e2nf_attr("t40", &a, &err), 0);
	assert_int_equal(a.type, 40);
	assert_int_equal(e2nf_attr("t31", &a, &err), -1);
	assert_int_equal(e2nf_attr("t128", &a, &err), -1);
	assert_int_equal(e2nf_attr("colour", &a, &err), -1);
	assert_non_null(strstr(err.msg, "colour"));
}

static void test_plain_frame(void **st)
{
	struct rte_mbuf *m = make();
	struct e2nf_attr safe = attr("safe");
	uint64_t v;
	(void)st;
	assert_int_equal(e2nf_inner_offset(m), 0);
	assert_int_equal(e2nf_meta_get_u64(m, &safe, &v), 0);
	rte_pktmbuf_free(m);
}

static void test_set_pushes_nsh(void **st)
{
	struct rte_mbuf *m = make();
	struct e2nf_attr safe = attr("safe"), url = attr("url");
	uint64_t v = 0;
	char buf[64];
	(void)st;
	assert_int_equal(e2nf_meta_set_u64(m, &safe, 1), 0);
	const uint8_t *d = rte_pktmbuf_mtod(m, const uint8_t *);
	/* outer MACs are the frame's, EtherType NSH, base header: ttl 63, length 3 words,
	 * MD type 2, next protocol Ethernet, SPI 0, SI 255; one TLV 0xFFF6/1, 1 byte */
	static const uint8_t want[] = {0x89, 0x4f, 0x0f, 0xc4, 0x02, 0x03, 0, 0, 0,
				       0xff, 0xff, 0xf6, 0x01, 0x01, 0x01, 0, 0, 0};
	assert_memory_equal(d, frame, 12);
	assert_memory_equal(d + 12, want, sizeof(want));
	assert_int_equal(e2nf_inner_offset(m), 14 + 16);
	assert_memory_equal(d + 30, frame, sizeof(frame));
	assert_int_equal(m->pkt_len, sizeof(frame) + 30);
	assert_int_equal(e2nf_meta_get_u64(m, &safe, &v), 1);
	assert_int_equal(v, 1);

	/* a second attribute, then replacing the first: both kept, one TLV each */
	assert_int_equal(e2nf_meta_set(m, &url, "example.com/x", 13), 0);
	assert_int_equal(e2nf_meta_set_u64(m, &safe, 0), 0);
	assert_int_equal(e2nf_meta_get(m, &url, buf, sizeof(buf)), 13);
	assert_memory_equal(buf, "example.com/x", 13);
	assert_int_equal(e2nf_meta_get_u64(m, &safe, &v), 1);
	assert_int_equal(v, 0);
	assert_int_equal(m->pkt_len, sizeof(frame) + 14 + 8 + 8 + 20);
	assert_memory_equal(rte_pktmbuf_mtod_offset(m, uint8_t *, e2nf_inner_offset(m)), frame, sizeof(frame));
	rte_pktmbuf_free(m);
}

static void test_refusals(void **st)
{
	struct rte_mbuf *m = make();
	struct e2nf_attr safe = attr("safe"), t = attr("t33");
	char big[200] = {0};
	(void)st;
	assert_int_equal(e2nf_meta_set_u64(m, &safe, 256), -1); /* one byte wide */
	assert_int_equal(e2nf_meta_set(m, &t, big, 128), -1);   /* TLV values are at most 127 bytes */
	assert_int_equal(m->pkt_len, sizeof(frame));
	/* as many TLVs as the headroom holds (128 bytes: outer Ethernet, base header and
	 * 13 one-byte TLVs), then refusals that leave the frame as it was */
	unsigned ok = 0;
	for (unsigned i = 32; i < 49; i++) {
		struct e2nf_attr a = {.type = (uint8_t)i};
		ok += e2nf_meta_set(m, &a, "x", 1) == 0;
	}
	assert_int_equal(ok, (RTE_PKTMBUF_HEADROOM - 14 - 8) / 8);
	assert_memory_equal(rte_pktmbuf_mtod_offset(m, uint8_t *, e2nf_inner_offset(m)), frame, sizeof(frame));
	/* a header that claims more than the frame holds is malformed, not read past */
	uint8_t *d = rte_pktmbuf_mtod(m, uint8_t *);
	d[15] = (uint8_t)((d[15] & 0xc0) | 0x3f);
	uint64_t v;
	assert_int_equal(e2nf_meta_get_u64(m, &safe, &v), -1);
	int len = 0;
	assert_null(e2nf_meta_find(m, &safe, &len));
	assert_int_equal(len, -1);
	assert_int_equal(e2nf_inner_offset(m), -1);
	assert_int_equal(e2nf_meta_set_u64(m, &safe, 1), -1);
	rte_pktmbuf_free(m);
}

/* a frame whose headroom is `room` bytes */
static struct rte_mbuf *make_room(uint16_t room)
{
	struct rte_mbuf *m = rte_pktmbuf_alloc(pool);
	assert_non_null(m);
	m->data_off = room;
	memcpy(rte_pktmbuf_append(m, sizeof(frame)), frame, sizeof(frame));
	return m;
}

/* the same value length again: the TLV is overwritten where it is, nothing moves, the
 * other attributes stay as they were */
static void test_rewrite_in_place(void **st)
{
	struct rte_mbuf *m = make();
	struct e2nf_attr safe = attr("safe"), fid = attr("flow_id"), t = attr("t64");
	uint8_t v17[17], got[24];
	uint64_t v = 0;
	(void)st;
	memset(v17, 0xa5, sizeof(v17));
	assert_int_equal(e2nf_meta_set_u64(m, &safe, 1), 0);
	assert_int_equal(e2nf_meta_set(m, &t, v17, sizeof(v17)), 0);
	assert_int_equal(e2nf_meta_set_u64(m, &fid, 0x01020304), 0);
	const uint8_t *before = rte_pktmbuf_mtod(m, const uint8_t *);
	uint32_t len = m->pkt_len;
	uint8_t hdr[64];
	memcpy(hdr, before, sizeof(hdr));
	for (unsigned i = 0; i < sizeof(v17); i++)
		v17[i] = (uint8_t)i;
	assert_int_equal(e2nf_meta_set(m, &t, v17, sizeof(v17)), 0);
	assert_ptr_equal(rte_pktmbuf_mtod(m, const uint8_t *), before);
	assert_int_equal(m->pkt_len, len);
	/* an 18-byte value fits the 17-byte one's 24-byte TLV: also in place, padded */
	uint8_t v18[18];
	memset(v18, 0x3c, sizeof(v18));
	assert_int_equal(e2nf_meta_set(m, &t, v18, sizeof(v18)), 0);
	assert_ptr_equal(rte_pktmbuf_mtod(m, const uint8_t *), before);
	assert_int_equal(m->pkt_len, len);
	assert_int_equal(e2nf_meta_get(m, &t, got, sizeof(got)), 18);
	assert_memory_equal(got, v18, 18);
	assert_int_equal(before[14 + 8 + 8 + 3], 18);
	assert_int_equal(before[14 + 8 + 8 + 4 + 18], 0);
	assert_int_equal(before[14 + 8 + 8 + 4 + 19], 0);
	/* only the TLV's bytes changed */
	assert_memory_equal(before, hdr, 14 + 8 + 8 + 3);
	assert_memory_equal(before + 14 + 8 + 8 + 24, hdr + 14 + 8 + 8 + 24, 64 - (14 + 8 + 8 + 24));
	assert_int_equal(e2nf_meta_get_u64(m, &safe, &v), 1);
	assert_int_equal(v, 1);
	assert_int_equal(e2nf_meta_get_u64(m, &fid, &v), 1);
	assert_int_equal(v, 0x01020304);
	assert_memory_equal(rte_pktmbuf_mtod_offset(m, uint8_t *, e2nf_inner_offset(m)), frame, sizeof(frame));
	rte_pktmbuf_free(m);
}

/* a value that needs another TLV size: the header grows (or shrinks) around it, the
 * other TLVs and the inner frame unchanged */
static void test_resize(void **st)
{
	struct rte_mbuf *m = make();
	struct e2nf_attr safe = attr("safe"), url = attr("url"), fid = attr("flow_id");
	char buf[128];
	uint64_t v = 0;
	(void)st;
	assert_int_equal(e2nf_meta_set_u64(m, &safe, 1), 0);
	assert_int_equal(e2nf_meta_set(m, &url, "a.b/c", 5), 0);
	assert_int_equal(e2nf_meta_set_u64(m, &fid, 7), 0);
	assert_int_equal(m->pkt_len, sizeof(frame) + 14 + 8 + 8 + 12 + 8);
	const char *longer = "www.example.com/a/rather/longer/path?with=a&query=string";
	assert_int_equal(e2nf_meta_set(m, &url, longer, strlen(longer)), 0);
	assert_int_equal(m->pkt_len, sizeof(frame) + 14 + 8 + 8 + 8 + 4 + ((strlen(longer) + 3) & ~3u));
	assert_int_equal(e2nf_meta_get(m, &url, buf, sizeof(buf)), (int)strlen(longer));
	assert_memory_equal(buf, longer, strlen(longer));
	assert_int_equal(e2nf_meta_set(m, &url, "x", 1), 0);
	assert_int_equal(m->pkt_len, sizeof(frame) + 14 + 8 + 8 + 8 + 8);
	assert_int_equal(e2nf_meta_get(m, &url, buf, sizeof(buf)), 1);
	assert_int_equal(buf[0], 'x');
	assert_int_equal(e2nf_meta_get_u64(m, &safe, &v), 1);
	assert_int_equal(v, 1);
	assert_int_equal(e2nf_meta_get_u64(m, &fid, &v), 1);
	assert_int_equal(v, 7);
	assert_int_equal(e2nf_inner_offset(m), 14 + 8 + 8 + 8 + 8);
	assert_memory_equal(rte_pktmbuf_mtod_offset(m, uint8_t *, e2nf_inner_offset(m)), frame, sizeof(frame));
	rte_pktmbuf_free(m);
}

/* pushing and growing need headroom for exactly what they add; without it the frame
 * is left as it was, and a rewrite in place needs none */
static void test_headroom_limits(void **st)
{
	struct e2nf_attr safe = attr("safe"), fid = attr("flow_id"), url = attr("url");
	uint64_t v = 0;
	(void)st;
	struct rte_mbuf *m = make_room(14 + 8 + 8 - 1);
	assert_int_equal(e2nf_meta_set_u64(m, &safe, 1), -1);
	assert_int_equal(m->pkt_len, sizeof(frame));
	assert_memory_equal(rte_pktmbuf_mtod(m, uint8_t *), frame, sizeof(frame));
	rte_pktmbuf_free(m);

	m = make_room(14 + 8 + 8 + 8 - 1);
	assert_int_equal(e2nf_meta_set_u64(m, &safe, 1), 0);
	assert_int_equal(rte_pktmbuf_headroom(m), 7);
	const uint8_t *front = rte_pktmbuf_mtod(m, const uint8_t *);
	uint8_t hdr[30];
	memcpy(hdr, front, sizeof(hdr));
	assert_int_equal(e2nf_meta_set_u64(m, &fid, 9), -1); /* 8 more bytes, 7 there */
	assert_int_equal(m->pkt_len, sizeof(frame) + 30);
	assert_memory_equal(rte_pktmbuf_mtod(m, uint8_t *), hdr, sizeof(hdr));
	assert_int_equal(e2nf_meta_set(m, &url, "example.com", 11), -1); /* 16 more */
	assert_int_equal(e2nf_meta_get(m, &url, hdr, sizeof(hdr)), 0);
	assert_int_equal(e2nf_meta_set_u64(m, &safe, 0), 0); /* in place */
	assert_ptr_equal(rte_pktmbuf_mtod(m, const uint8_t *), front);
	assert_int_equal(e2nf_meta_get_u64(m, &safe, &v), 1);
	assert_int_equal(v, 0);
	rte_pktmbuf_free(m);

	m = make_room(14 + 8 + 8);
	assert_int_equal(e2nf_meta_set_u64(m, &safe, 1), 0);
	assert_int_equal(rte_pktmbuf_headroom(m), 0);
	assert_int_equal(e2nf_meta_set_u64(m, &fid, 9), -1);
	assert_int_equal(e2nf_meta_get_u64(m, &safe, &v), 1);
	assert_memory_equal(rte_pktmbuf_mtod_offset(m, uint8_t *, e2nf_inner_offset(m)), frame, sizeof(frame));
	rte_pktmbuf_free(m);
}

/* a header as e2d's nsh_push writes it (another class's TLV first, a service path):
 * appending keeps it, the path and the foreign TLV byte for byte */
static void test_append_keeps_header(void **st)
{
	struct rte_mbuf *m = rte_pktmbuf_alloc(pool);
	struct e2nf_attr t = attr("t64");
	uint8_t v17[17], got[17];
	static const uint8_t nsh[] = {
		0x02, 0,    0,    0,    0,    0x09, 0x02, 0,    0, 0, 0, 0x08, 0x89, 0x4f, /* outer Ethernet */
		0x0f, 0xc4, 0x02, 0x03, 0x00, 0x01, 0x02, 0xfe, /* base: path 0x102, index 254 */
		0x12, 0x34, 0x05, 0x04, 0xde, 0xad, 0xbe, 0xef, /* class 0x1234's TLV */
	};
	(void)st;
	assert_non_null(m);
	uint8_t *d = (uint8_t *)rte_pktmbuf_append(m, (uint16_t)(sizeof(nsh) + sizeof(frame)));
	memcpy(d, nsh, sizeof(nsh));
	d[15] = (uint8_t)((d[15] & 0xc0) | 4); /* 16 bytes: base header and one 8-byte TLV */
	memcpy(d + sizeof(nsh), frame, sizeof(frame));
	memset(v17, 0x5a, sizeof(v17));
	assert_int_equal(e2nf_inner_offset(m), (int)sizeof(nsh));
	assert_int_equal(e2nf_meta_set(m, &t, v17, sizeof(v17)), 0);
	d = rte_pktmbuf_mtod(m, uint8_t *);
	assert_int_equal(d[15] & 0x3f, 10);
	assert_memory_equal(d, nsh, 15);
	assert_memory_equal(d + 16, nsh + 16, sizeof(nsh) - 16);
	assert_int_equal(e2nf_meta_get(m, &t, got, sizeof(got)), 17);
	assert_memory_equal(got, v17, sizeof(v17));
	/* found in place: the value's bytes in the frame, not a copy */
	int len = 0;
	const uint8_t *at = e2nf_meta_find(m, &t, &len);
	assert_int_equal(len, 17);
	assert_ptr_equal(at, d + 14 + 16 + 4);
	struct e2nf_attr other = attr("url");
	assert_null(e2nf_meta_find(m, &other, &len));
	assert_int_equal(len, 0);
	assert_int_equal(e2nf_inner_offset(m), (int)sizeof(nsh) + 24);
	assert_memory_equal(d + e2nf_inner_offset(m), frame, sizeof(frame));
	rte_pktmbuf_free(m);
}

int main(void)
{
	char prefix[64];
	snprintf(prefix, sizeof(prefix), "--file-prefix=nfmeta%d", (int)getpid());
	char *eal[] = {"test_nf_meta",   "--no-huge",         "-m",   "64", "--no-pci", "--no-shconf",
		       "--no-telemetry", "--log-level=error", prefix, NULL};
	if (rte_eal_init(9, eal) < 0)
		return 1;
	pool = rte_pktmbuf_pool_create("meta", 255, 0, 0, RTE_MBUF_DEFAULT_BUF_SIZE, 0);
	if (!pool)
		return 1;
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_lookup),           cmocka_unit_test(test_plain_frame),
		cmocka_unit_test(test_set_pushes_nsh),   cmocka_unit_test(test_refusals),
		cmocka_unit_test(test_rewrite_in_place), cmocka_unit_test(test_resize),
		cmocka_unit_test(test_headroom_limits),  cmocka_unit_test(test_append_keeps_header),
	};
	int rc = cmocka_run_group_tests(tests, NULL, NULL);
	rte_mempool_free(pool);
	char dir[4096];
	snprintf(dir, sizeof(dir), "%s", rte_eal_get_runtime_dir());
	rte_eal_cleanup();
	rmdir(dir);
	return rc;
}
