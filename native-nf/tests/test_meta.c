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
	assert_int_equal(e2nf_inner_offset(m), -1);
	assert_int_equal(e2nf_meta_set_u64(m, &safe, 1), -1);
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
		cmocka_unit_test(test_lookup),
		cmocka_unit_test(test_plain_frame),
		cmocka_unit_test(test_set_pushes_nsh),
		cmocka_unit_test(test_refusals),
	};
	int rc = cmocka_run_group_tests(tests, NULL, NULL);
	rte_mempool_free(pool);
	char dir[4096];
	snprintf(dir, sizeof(dir), "%s", rte_eal_get_runtime_dir());
	rte_eal_cleanup();
	rmdir(dir);
	return rc;
}
