/* SPDX-License-Identifier: BSD-3-Clause */
/* The bpf module with real mbufs: pcap-filter expressions compiled to eBPF, JIT and
 * interpreter, order and priority, refused expressions leave the filters unchanged. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <unistd.h>

#include <cmocka.h>
#include <pcap/pcap.h>

#include "ctl.h"
#include "test_util.h"

static struct e2_dp dp;

/* Runs one control command in text form; returns the response code. */
#define ctl(...) test_ctl(&dp, __VA_ARGS__)

static int setup(void **state)
{
	return test_dp_start(&dp, "e2-test-bpf", 4095);
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

static struct rte_mbuf *tcp(uint32_t src, uint32_t dst, uint16_t sport, uint16_t dport)
{
	struct rte_mbuf *m = make_udp(dp.pool, "02:00:00:00:00:01", src, dst, sport, dport, 60);
	rte_pktmbuf_mtod(m, uint8_t *)[23] = IPPROTO_TCP;
	return m;
}

/* Six packets, each meant for one class of the filters below. */
static void six_packets(struct e2_batch *b)
{
	b->cnt = 0;
	b->pkts[b->cnt++] = tcp(0x0a000001, 0xc0a80001, 1234, 80); /* tcp 80 from 10/8 */
	b->pkts[b->cnt++] = tcp(0x0b000001, 0xc0a80001, 1234, 80); /* tcp 80 from 11/8 */
	b->pkts[b->cnt++] = make_udp(dp.pool, "02:00:00:00:00:01", 0x0a000002, 0xc0a80001, 5, 53, 60);
	b->pkts[b->cnt++] = tcp(0x0a000001, 0xc0a80001, 1234, 443);                 /* tcp 443 */
	b->pkts[b->cnt++] = make_udp(dp.pool, "02:00:00:00:00:01", 1, 2, 5, 6, 60); /* nothing */
	b->pkts[b->cnt++] = make_udp(dp.pool, "02:00:00:00:00:01", 1, 2, 5, 6, 20); /* runt */
}

static void run_filters(bool jit)
{
	struct e2_batch b;
	assert_int_equal(ctl("module add f bpf default=0 jit=%d", jit), 0);
	assert_int_equal(ctl("module add c collect"), 0);
	for (int g = 0; g < 4; g++)
		assert_int_equal(ctl("connect f:%d c:%d", g, g), 0);
	assert_int_equal(ctl("module cmd f add filter=\"tcp dst port 80 and src net 10.0.0.0/8\" gate=1"), 0);
	assert_int_equal(ctl("module cmd f add filter=\"udp port 53\" gate=2"), 0);
	/* added last but with a higher priority: tried first, so tcp 80 from 10/8 goes to 3 */
	assert_int_equal(ctl("module cmd f add filter=tcp gate=3 priority=1"), 0);
	six_packets(&b);
	push(&dp, "f", &b);
	struct collect *c = collected(&dp, "c");
	assert_int_equal(c->n[3], 3); /* every tcp packet */
	assert_int_equal(c->n[2], 1);
	assert_int_equal(c->n[1], 0);
	assert_int_equal(c->n[0], 2);
	/* without the catch-all, order of addition decides among equal priorities */
	assert_int_equal(ctl("module cmd f delete gate=3"), 0);
	collect_reset(e2_dp_module_find(&dp, "c"));
	six_packets(&b);
	push(&dp, "f", &b);
	assert_int_equal(c->n[1], 1);
	assert_int_equal(c->n[2], 1);
	assert_int_equal(c->n[3], 0);
	assert_int_equal(c->n[0], 4);
	/* the JIT is used when asked for (x86-64 has one), the interpreter otherwise */
	struct e2_result out = {0};
	char err[E2_ERR_MAX];
	assert_int_equal(e2_dp_module_command(&dp, "f", "list", &(struct e2_args){0}, &out, err), 0);
	bool found = false;
	for (size_t i = 0; i < out.n; i++)
		if (strncmp(out.v[i].key, "gate", 4) == 0) {
			assert_non_null(strstr(out.v[i].value, jit ? "jit=1" : "jit=0"));
			found = true;
		}
	assert_true(found);
	destroy_all();
}

static void test_bpf_jit(void **state)
{
	run_filters(true);
}

static void test_bpf_interpreted(void **state)
{
	run_filters(false);
}

static void test_bpf_refuses_bad_input(void **state)
{
	struct e2_batch b;
	assert_int_equal(ctl("module add f bpf default=0"), 0);
	assert_int_equal(ctl("module add c collect"), 0);
	assert_int_equal(ctl("connect f:0 c:0"), 0);
	assert_int_equal(ctl("connect f:1 c:1"), 0);
	assert_int_equal(ctl("module cmd f add filter=udp gate=1"), 0);
	/* libpcap's message for a bad expression, a taken gate, missing or bad arguments */
	assert_int_not_equal(ctl("module cmd f add filter=\"tcp dst port eighty\" gate=2"), 0);
	assert_int_not_equal(ctl("module cmd f add filter=\"ip and (\" gate=2"), 0);
	assert_int_not_equal(ctl("module cmd f add filter=tcp gate=1"), 0);
	assert_int_not_equal(ctl("module cmd f add filter=tcp"), 0);
	assert_int_not_equal(ctl("module cmd f add gate=2"), 0);
	assert_int_not_equal(ctl("module cmd f add filter=tcp gate=64"), 0);
	assert_int_not_equal(ctl("module cmd f add filter=tcp gate=2 colour=red"), 0);
	assert_int_not_equal(ctl("module cmd f delete gate=5"), 0);
	assert_int_not_equal(ctl("module cmd f delete"), 0);
	assert_int_not_equal(ctl("module add g bpf default=99"), 0);
	assert_int_not_equal(ctl("module add g bpf jit=2"), 0);
	/* the running filter is unchanged: udp to 1, tcp to 0 */
	b.cnt = 0;
	b.pkts[b.cnt++] = make_udp(dp.pool, "02:00:00:00:00:01", 1, 2, 5, 6, 60);
	b.pkts[b.cnt++] = tcp(1, 2, 5, 6);
	push(&dp, "f", &b);
	assert_int_equal(collected(&dp, "c")->n[1], 1);
	assert_int_equal(collected(&dp, "c")->n[0], 1);
	destroy_all();
}

/* A filter reading past the first segment of a chained mbuf still sees the data. */
static void test_bpf_multiseg(void **state)
{
	struct e2_batch b;
	assert_int_equal(ctl("module add f bpf default=0"), 0);
	assert_int_equal(ctl("module add c collect"), 0);
	assert_int_equal(ctl("connect f:0 c:0"), 0);
	assert_int_equal(ctl("connect f:1 c:1"), 0);
	assert_int_equal(ctl("module cmd f add filter=\"udp dst port 4789\" gate=1"), 0);
	struct rte_mbuf *head = make_udp(dp.pool, "02:00:00:00:00:01", 1, 2, 5, 4789, 60);
	/* move everything from byte 30 on into a second segment */
	struct rte_mbuf *tail = rte_pktmbuf_alloc(dp.pool);
	uint8_t *t = (uint8_t *)rte_pktmbuf_append(tail, 30);
	memcpy(t, rte_pktmbuf_mtod_offset(head, uint8_t *, 30), 30);
	rte_pktmbuf_trim(head, 30);
	assert_int_equal(rte_pktmbuf_chain(head, tail), 0);
	b.cnt = 1;
	b.pkts[0] = head;
	push(&dp, "f", &b);
	assert_int_equal(collected(&dp, "c")->n[1], 1);
	destroy_all();
}

/* Everyday tcpdump expressions, including indexed loads past a variable IP header
 * (tcp[...], icmp[...]), all compile, load and give libpcap's answers. */
static void test_bpf_expressions(void **state)
{
	static const char *const ok[] = {
		"vlan and tcp",
		"ip6 and tcp",
		"arp",
		"icmp[icmptype] = icmp-echo",
		"ether broadcast",
		"len > 100",
		"net 10.0.0.0/8 and not port 22",
		"ip[2:2] > 40",
		"tcp portrange 1000-2000",
		"ip proto 47 or (udp and dst port 4789)",
		"ether proto 0x894f",
		"ether[14] & 0xc0 = 0",
	};
	struct e2_batch b;

	assert_int_equal(ctl("module add f bpf default=0"), 0);
	assert_int_equal(ctl("module add c collect"), 0);
	for (int g = 0; g < 4; g++)
		assert_int_equal(ctl("connect f:%d c:%d", g, g), 0);
	for (size_t i = 0; i < sizeof(ok) / sizeof(ok[0]); i++) {
		assert_int_equal(ctl("module cmd f add filter=\"%s\" gate=%zu", ok[i], 10 + i), 0);
		assert_int_equal(ctl("module cmd f delete gate=%zu", 10 + i), 0);
	}
	/* a SYN needs the TCP header found through the IP header length: give it options */
	assert_int_equal(ctl("module cmd f add filter=\"tcp[tcpflags] & tcp-syn != 0\" gate=1"), 0);
	assert_int_equal(ctl("module cmd f add filter=\"ip[2:2] > 60\" gate=2"), 0);
	b.cnt = 0;
	for (int k = 0; k < 3; k++) {
		struct rte_mbuf *m = tcp(1, 2, 5, 6);
		uint8_t *d = rte_pktmbuf_mtod(m, uint8_t *);
		d[14] = 0x46;                      /* IHL 6: 4 bytes of options, TCP header at 38 */
		d[38 + 13] = k == 0 ? 0x02 : 0x10; /* flags: SYN, or ACK */
		if (k == 2)
			d[16] = 0, d[17] = 100; /* total length 100 */
		b.pkts[b.cnt++] = m;
	}
	push(&dp, "f", &b);
	assert_int_equal(collected(&dp, "c")->n[1], 1);
	assert_int_equal(collected(&dp, "c")->n[2], 1);
	assert_int_equal(collected(&dp, "c")->n[0], 1);
	destroy_all();
}

/* JIT, interpreter and libpcap's own classic-BPF interpreter agree, expression by
 * expression, on a spread of frames (DPDK 22.11 needs bpf.c's rewrites for some of
 * these: small jset masks, indexed loads). */
static void test_bpf_agrees_with_libpcap(void **state)
{
	static const char *const exprs[] = {
		"tcp[tcpflags] & tcp-syn != 0",
		"tcp[tcpflags] & (tcp-syn|tcp-ack) = tcp-ack",
		"ip[1] & 0x7f != 0",
		"ip[6] & 0x20 = 0",
		"tcp dst port 80",
		"udp[0:2] > 1000 and udp[2:2] < 2000",
		"icmp[icmptype] = icmp-echo",
		"ip[6:2] & 0x1fff = 0 and not ip[8] & 0x80 != 0",
		"len > 70 or ether[0] & 1 != 0",
		"vlan and tcp",
		"ip[0] & 0xf > 5",
		"(ip[2:2] - 20) / 4 > 5",
		"ip[1] % 3 = 1",
		"ip[1] ^ 0x55 < 0x30",
		"tcp[13] = 0x12",
		"ip[8] < 64 and ip[9] != 17",
		"udp port 443 or tcp port 80",
		"ip[1] * 3 >= 200",
		"ip[4:2] >> 3 & 7 = 2",
	};
	uint64_t seed = 88172645463325252ULL;
	pcap_t *pcap = pcap_open_dead(DLT_EN10MB, 65535);

	assert_int_equal(ctl("module add j bpf default=0"), 0);
	assert_int_equal(ctl("module add i bpf default=0 jit=0"), 0);
	assert_int_equal(ctl("module add cj collect"), 0);
	assert_int_equal(ctl("module add ci collect"), 0);
	assert_int_equal(ctl("connect j:0 cj:0"), 0);
	assert_int_equal(ctl("connect j:1 cj:1"), 0);
	assert_int_equal(ctl("connect i:0 ci:0"), 0);
	assert_int_equal(ctl("connect i:1 ci:1"), 0);
	for (size_t e = 0; e < sizeof(exprs) / sizeof(exprs[0]); e++) {
		assert_int_equal(ctl("module cmd j add filter=\"%s\" gate=1", exprs[e]), 0);
		assert_int_equal(ctl("module cmd i add filter=\"%s\" gate=1", exprs[e]), 0);
		uint32_t hits = 0;
		struct bpf_program ref;
		assert_int_equal(pcap_compile(pcap, &ref, exprs[e], 1, PCAP_NETMASK_UNKNOWN), 0);
		for (int k = 0; k < 64; k++) {
			struct e2_batch bj = {.cnt = 1}, bi = {.cnt = 1};
			seed ^= seed << 13, seed ^= seed >> 7, seed ^= seed << 17;
			uint16_t len = (uint16_t)(20 + seed % 100);
			bj.pkts[0] = make_udp(dp.pool, "02:00:00:00:00:01", 1, 2, 3, 4, len);
			uint8_t *d = rte_pktmbuf_mtod(bj.pkts[0], uint8_t *);
			for (uint16_t b = 14; b < len; b++) /* random headers, mostly IPv4 */
				d[b] = (uint8_t)(seed >> ((b * 7) % 56));
			if (len > 34) {
				static const uint16_t ports[] = {80, 443, 1500, 1999};
				d[14] = (uint8_t)(0x45 + (seed & 1));
				d[23] = (uint8_t)((seed >> 8) % 3 == 0 ? 1 : (seed >> 8) % 3 == 1 ? 6 : 17);
				if ((seed >> 20) & 3) /* mostly unfragmented, so L4 filters see something */
					d[20] = d[21] = 0;
				uint16_t l4 = (uint16_t)(14 + (d[14] & 0xf) * 4);
				if (len >= l4 + 14) {
					uint16_t sp = ports[(seed >> 24) & 3], dport = ports[(seed >> 26) & 3];
					d[l4] = (uint8_t)(sp >> 8), d[l4 + 1] = (uint8_t)sp;
					d[l4 + 2] = (uint8_t)(dport >> 8), d[l4 + 3] = (uint8_t)dport;
					if (d[23] == 1)
						d[l4] = (seed >> 28) & 1 ? 8 : 0;
				}
			}
			if ((seed & 0xf) == 0)
				d[12] = 0x81, d[13] = 0;
			bi.pkts[0] = rte_pktmbuf_copy(bj.pkts[0], dp.pool, 0, UINT32_MAX);
			struct pcap_pkthdr h = {.caplen = len, .len = len};
			uint32_t before = collected(&dp, "cj")->n[1];
			bool want = pcap_offline_filter(&ref, &h, d) != 0; /* libpcap's own classic-BPF verdict */
			push(&dp, "j", &bj);
			push(&dp, "i", &bi);
			assert_int_equal(collected(&dp, "cj")->n[1], before + want);
			assert_int_equal(collected(&dp, "ci")->n[1], before + want);
		}
		hits = collected(&dp, "cj")->n[1];
		print_message("  %-50s %u/64\n", exprs[e], hits);
		pcap_freecode(&ref);
		assert_int_equal(ctl("module cmd j delete gate=1"), 0);
		assert_int_equal(ctl("module cmd i delete gate=1"), 0);
		collect_reset(e2_dp_module_find(&dp, "cj"));
		collect_reset(e2_dp_module_find(&dp, "ci"));
	}
	pcap_close(pcap);
	destroy_all();
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_bpf_jit),
		cmocka_unit_test(test_bpf_interpreted),
		cmocka_unit_test(test_bpf_refuses_bad_input),
		cmocka_unit_test(test_bpf_multiseg),
		cmocka_unit_test(test_bpf_expressions),
		cmocka_unit_test(test_bpf_agrees_with_libpcap),
	};
	return cmocka_run_group_tests(tests, setup, teardown);
}
