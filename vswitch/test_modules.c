/* SPDX-License-Identifier: BSD-3-Clause */
/* The module framework and every module, with real mbufs and real DPDK ports
 * (null and ring virtual devices), driven through the control API. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <unistd.h>

#include <cmocka.h>

#include "ctl.h"
#include "test_util.h"

static struct e2_dp dp;

/* Control commands in text form, as in a configuration file (see test_util.h). */
#define ctl(...) test_ctl(&dp, __VA_ARGS__)

static void fill(struct e2_batch *b, unsigned n, uint32_t dst_ip, uint16_t sport_base)
{
	b->cnt = 0;
	for (unsigned i = 0; i < n; i++)
		b->pkts[b->cnt++] =
			make_udp(dp.pool, "02:00:00:00:00:01", 0x0a000001, dst_ip, (uint16_t)(sport_base + i), 80, 60);
}

static int setup(void **state)
{
	return test_dp_start(&dp, "e2-test-modules", 8191);
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

static void test_hmatch_exact(void **state)
{
	struct e2_batch b;
	assert_int_equal(ctl("module add hm hmatch fields=12:2,23:1 default=0"), 0);
	assert_int_equal(ctl("module add c collect"), 0);
	assert_int_equal(ctl("connect hm:0 c:0"), 0);
	assert_int_equal(ctl("connect hm:1 c:1"), 0);
	assert_int_equal(ctl("module cmd hm add values=0x0800,17 gate=1"), 0);
	fill(&b, 8, 0x0a010203, 1000);
	/* make two packets TCP: they miss */
	rte_pktmbuf_mtod(b.pkts[3], uint8_t *)[23] = 6;
	rte_pktmbuf_mtod(b.pkts[5], uint8_t *)[23] = 6;
	push(&dp, "hm", &b);
	assert_int_equal(collected(&dp, "c")->n[1], 6);
	assert_int_equal(collected(&dp, "c")->n[0], 2);
	/* misses count what matched no rule, also when a rule sends to the default gate */
	assert_int_equal(ctl("module cmd hm delete values=0x0800,17"), 0);
	assert_int_equal(ctl("module cmd hm add values=0x0800,17 gate=0"), 0);
	struct e2_module *hm = e2_dp_module_find(&dp, "hm");
	struct e2_result before = {0}, after = {0};
	hm->cls->stats(hm, &before);
	fill(&b, 8, 0x0a010203, 1000);
	rte_pktmbuf_mtod(b.pkts[3], uint8_t *)[23] = 6;
	push(&dp, "hm", &b);
	hm->cls->stats(hm, &after);
	for (size_t i = 0; i < after.n; i++)
		if (strcmp(after.v[i].key, "misses") == 0)
			assert_int_equal(strtoll(after.v[i].value, NULL, 10) - strtoll(before.v[i].value, NULL, 10), 1);
	/* bad rules are refused */
	assert_int_not_equal(ctl("module cmd hm add values=0x0800 gate=1"), 0);
	assert_int_not_equal(ctl("module cmd hm add values=0x10000,17 gate=1"), 0);
	assert_int_not_equal(ctl("module cmd hm add values=0x0800,17"), 0);
	assert_int_not_equal(ctl("module cmd hm add values=0x0800,17 gate=99"), 0);
	assert_int_not_equal(ctl("module cmd hm nosuch"), 0);
	assert_int_not_equal(ctl("module add hm2 hmatch fields=12:9"), 0);
	assert_int_not_equal(ctl("module add hm2 hmatch"), 0);
	destroy_all();
}

/* A field read in one 8-byte load when the frame is long enough, byte by byte when it
 * ends near the field: the same keys either way, and a frame too short for a field
 * goes to the default gate. */
static void test_hmatch_frame_edges(void **state)
{
	struct e2_batch b;
	assert_int_equal(ctl("module add hm hmatch fields=12:2,58:2,6:8/0xffffff0000000000 default=0"), 0);
	assert_int_equal(ctl("module add c collect"), 0);
	assert_int_equal(ctl("connect hm:0 c:0"), 0);
	assert_int_equal(ctl("connect hm:1 c:1"), 0);
	assert_int_equal(ctl("module cmd hm add values=0x0800,0xabcd,0x0200000000000000 gate=1"), 0);
	fill(&b, 6, 0x0a010203, 1000);
	for (unsigned i = 0; i < b.cnt; i++) {
		assert_int_equal(b.pkts[i]->data_len, 60);
		uint8_t *d = rte_pktmbuf_mtod(b.pkts[i], uint8_t *);
		d[58] = 0xab, d[59] = 0xcd;
		d[6] = 0x02; /* the source MAC's first byte */
	}
	rte_pktmbuf_trim(b.pkts[1], 1); /* 59 bytes: field 58:2 is cut, default gate */
	for (unsigned i = 2; i < 6; i++)
		assert_non_null(rte_pktmbuf_append(b.pkts[i], 8)); /* 68 bytes: the 8-byte loads */
	rte_pktmbuf_mtod(b.pkts[3], uint8_t *)[59] = 0xce;         /* a miss in the long form */
	rte_pktmbuf_mtod(b.pkts[4], uint8_t *)[9] = 0x77;          /* under the mask's zeros: still a hit */
	rte_pktmbuf_mtod(b.pkts[5], uint8_t *)[6] = 0x03;          /* under the mask's ones: a miss */
	push(&dp, "hm", &b);
	struct collect *c = collected(&dp, "c");
	assert_int_equal(c->n[1], 3); /* frames 0 (60 bytes), 2 and 4 (68) */
	assert_int_equal(c->n[0], 3); /* 1 (cut), 3 and 5 (misses) */
	assert_int_equal(c->pkts[1][0]->data_len, 60);
	assert_int_equal(c->pkts[1][1]->data_len, 68);
	assert_int_equal(c->pkts[0][0]->data_len, 59);
	destroy_all();
}

static void test_hmatch_wildcard_priority(void **state)
{
	struct e2_batch b;
	uint32_t dst[5] = {0x0a010203, 0x0a010909, 0x0a090909, 0x0b000001, 0x0a010203};
	assert_int_equal(ctl("module add hm hmatch fields=30:4 default=0"), 0);
	assert_int_equal(ctl("module add c collect"), 0);
	for (int g = 0; g < 4; g++)
		assert_int_equal(ctl("connect hm:%d c:%d", g, g), 0);
	assert_int_equal(ctl("module cmd hm add values=10.1.0.0 masks=255.255.0.0 gate=1 priority=1"), 0);
	assert_int_equal(ctl("module cmd hm add values=10.1.2.3 gate=2 priority=5"), 0);
	assert_int_equal(ctl("module cmd hm add values=10.0.0.0 masks=255.0.0.0 gate=3 priority=0"), 0);
	b.cnt = 0;
	for (int i = 0; i < 5; i++)
		b.pkts[b.cnt++] = make_udp(dp.pool, "02:00:00:00:00:01", 1, dst[i], 1, 2, 60);
	/* a runt frame cannot match and goes to the default gate */
	b.pkts[b.cnt++] = make_udp(dp.pool, "02:00:00:00:00:01", 1, 2, 1, 2, 20);
	push(&dp, "hm", &b);
	struct collect *c = collected(&dp, "c");
	assert_int_equal(c->n[2], 2);
	assert_int_equal(c->n[1], 1);
	assert_int_equal(c->n[3], 1);
	assert_int_equal(c->n[0], 2);
	assert_int_equal(ctl("module cmd hm delete values=10.1.2.3"), 0);
	assert_int_not_equal(ctl("module cmd hm delete values=10.1.2.3"), 0);
	collect_reset(e2_dp_module_find(&dp, "c"));
	fill(&b, 1, 0x0a010203, 1);
	push(&dp, "hm", &b);
	assert_int_equal(c->n[1], 1);
	destroy_all();
}

/* Past a handful of rules hmatch switches from linear search to hash tables:
 * the same rules must give the same answers either way. */
static void test_hmatch_many_rules(void **state)
{
	struct e2_batch b;
	assert_int_equal(ctl("module add hm hmatch fields=30:4 default=0"), 0);
	assert_int_equal(ctl("module add c collect"), 0);
	for (int g = 0; g < 4; g++)
		assert_int_equal(ctl("connect hm:%d c:%d", g, g), 0);
	assert_int_equal(ctl("module cmd hm add values=10.1.0.0 masks=255.255.0.0 gate=1 priority=1"), 0);
	for (int i = 0; i < 100; i++)
		assert_int_equal(ctl("module cmd hm add values=10.2.0.%d gate=%d priority=5", i, 2 + i % 2), 0);
	b.cnt = 0;
	for (int i = 0; i < 30; i++)
		b.pkts[b.cnt++] = make_udp(dp.pool, "02:00:00:00:00:01", 1, 0x0a020000u + (uint32_t)i, 1, 2, 60);
	b.pkts[b.cnt++] = make_udp(dp.pool, "02:00:00:00:00:01", 1, 0x0a010505, 1, 2, 60);
	b.pkts[b.cnt++] = make_udp(dp.pool, "02:00:00:00:00:01", 1, 0x0a030303, 1, 2, 60);
	push(&dp, "hm", &b);
	struct collect *c = collected(&dp, "c");
	assert_int_equal(c->n[2], 15);
	assert_int_equal(c->n[3], 15);
	assert_int_equal(c->n[1], 1);
	assert_int_equal(c->n[0], 1);
	/* back under the limit: linear again, same answers */
	for (int i = 0; i < 95; i++)
		assert_int_equal(ctl("module cmd hm delete values=10.2.0.%d", i), 0);
	collect_reset(e2_dp_module_find(&dp, "c"));
	b.cnt = 0;
	b.pkts[b.cnt++] = make_udp(dp.pool, "02:00:00:00:00:01", 1, 0x0a020061, 1, 2, 60); /* .97 */
	b.pkts[b.cnt++] = make_udp(dp.pool, "02:00:00:00:00:01", 1, 0x0a020001, 1, 2, 60); /* deleted */
	b.pkts[b.cnt++] = make_udp(dp.pool, "02:00:00:00:00:01", 1, 0x0a010505, 1, 2, 60);
	push(&dp, "hm", &b);
	assert_int_equal(c->n[3], 1);
	assert_int_equal(c->n[0], 1);
	assert_int_equal(c->n[1], 1);
	destroy_all();
}

static void test_l2fwd(void **state)
{
	struct e2_batch b;
	assert_int_equal(ctl("module add l2 l2fwd default=2"), 0);
	assert_int_equal(ctl("module add c collect"), 0);
	for (int g = 0; g < 3; g++)
		assert_int_equal(ctl("connect l2:%d c:%d", g, g), 0);
	assert_int_equal(ctl("module cmd l2 add mac=02:00:00:00:00:01 gate=1"), 0);
	assert_int_not_equal(ctl("module cmd l2 add mac=02:00:00:00:01 gate=1"), 0);
	b.cnt = 0;
	b.pkts[b.cnt++] = make_udp(dp.pool, "02:00:00:00:00:01", 1, 2, 1, 2, 60);
	b.pkts[b.cnt++] = make_udp(dp.pool, "02:00:00:00:00:09", 1, 2, 1, 2, 60);
	b.pkts[b.cnt++] = make_udp(dp.pool, "02:00:00:00:00:01", 1, 2, 1, 2, 60);
	push(&dp, "l2", &b);
	assert_int_equal(collected(&dp, "c")->n[1], 2);
	assert_int_equal(collected(&dp, "c")->n[2], 1);
	destroy_all();
}

static void test_splits(void **state)
{
	struct e2_batch b;
	assert_int_equal(ctl("module add rr rr_split gates=3"), 0);
	assert_int_equal(ctl("module add hs hash_split gates=4"), 0);
	assert_int_equal(ctl("module add c collect"), 0);
	assert_int_equal(ctl("module add c2 collect"), 0);
	for (int g = 0; g < 3; g++)
		assert_int_equal(ctl("connect rr:%d c:%d", g, g), 0);
	for (int g = 0; g < 4; g++)
		assert_int_equal(ctl("connect hs:%d c2:%d", g, g), 0);
	assert_int_not_equal(ctl("connect rr:3 c:3"), 0);
	fill(&b, 30, 1, 0);
	push(&dp, "rr", &b);
	for (int g = 0; g < 3; g++)
		assert_int_equal(collected(&dp, "c")->n[g], 10);

	/* 64 flows, 4 packets each: every flow stays on one gate, and all gates get some */
	int gate_of[64];
	for (int round = 0; round < 4; round++) {
		for (int half = 0; half < 2; half++) {
			fill(&b, 32, 0x0a000009, (uint16_t)(half * 32));
			push(&dp, "hs", &b);
		}
	}
	struct collect *c2 = collected(&dp, "c2");
	int per_gate_total = 0;
	for (int f = 0; f < 64; f++)
		gate_of[f] = -1;
	for (int g = 0; g < 4; g++) {
		assert_true(c2->n[g] > 0);
		per_gate_total += (int)c2->n[g];
		for (uint32_t i = 0; i < c2->n[g]; i++) {
			const struct rte_udp_hdr *u =
				rte_pktmbuf_mtod_offset(c2->pkts[g][i], const struct rte_udp_hdr *, 34);
			int f = rte_be_to_cpu_16(u->src_port);
			assert_true(gate_of[f] == -1 || gate_of[f] == g);
			gate_of[f] = g;
		}
	}
	assert_int_equal(per_gate_total, 256);
	destroy_all();
}

/* Gates that lead to the same module and input gate hand it one batch, not one each;
 * every gate still counts its own packets and bytes, and an unconnected gate drops. */
static void test_split_gates_meet_again(void **state)
{
	struct e2_batch b;
	assert_int_equal(ctl("module add rr rr_split gates=4"), 0);
	assert_int_equal(ctl("module add c collect"), 0);
	assert_int_equal(ctl("connect rr:0 c:0"), 0);
	assert_int_equal(ctl("connect rr:1 c:1"), 0);
	assert_int_equal(ctl("connect rr:2 c:0"), 0); /* gate 3 unconnected */
	fill(&b, 32, 1, 0);
	uint32_t len = b.pkts[0]->pkt_len;
	push(&dp, "rr", &b);
	struct e2_module *rr = e2_dp_module_find(&dp, "rr"), *c = e2_dp_module_find(&dp, "c");
	assert_int_equal(collected(&dp, "c")->n[0], 16);
	assert_int_equal(collected(&dp, "c")->n[1], 8);
	assert_int_equal(c->batches, 2); /* gates 0 and 2 together, gate 1 alone */
	assert_int_equal(c->packets, 24);
	for (int g = 0; g < 3; g++) {
		assert_int_equal(rr->ogates[g].packets, 8);
		assert_int_equal(rr->ogates[g].bytes, 8 * len);
	}
	assert_int_equal(rr->drops, 8);
	/* gate 0's packets first, then gate 2's, each in arrival order */
	struct collect *col = collected(&dp, "c");
	for (uint32_t i = 0; i < 16; i++) {
		const struct rte_udp_hdr *u = rte_pktmbuf_mtod_offset(col->pkts[0][i], const struct rte_udp_hdr *, 34);
		uint32_t want = i < 8 ? i * 4 : (i - 8) * 4 + 2;
		assert_int_equal(rte_be_to_cpu_16(u->src_port), want);
	}
	destroy_all();
	assert_int_equal(rte_mempool_in_use_count(dp.pool), 0);
}

static void test_unconnected_gate_drops(void **state)
{
	struct e2_batch b;
	assert_int_equal(ctl("module add rr rr_split gates=2"), 0);
	assert_int_equal(ctl("module add c collect"), 0);
	assert_int_equal(ctl("connect rr:0 c:0"), 0);
	fill(&b, 10, 1, 0);
	push(&dp, "rr", &b);
	struct e2_module *rr = e2_dp_module_find(&dp, "rr");
	assert_int_equal(collected(&dp, "c")->n[0], 5);
	assert_int_equal(rr->drops, 5);
	assert_int_equal(rr->ogates[0].packets, 5);
	assert_true(rr->cycles > 0);
	assert_int_equal(rte_mempool_in_use_count(dp.pool), 5);
	destroy_all();
	assert_int_equal(rte_mempool_in_use_count(dp.pool), 0);
}

static void test_queue(void **state)
{
	struct e2_batch b;
	assert_int_equal(ctl("module add q queue size=64"), 0);
	assert_int_not_equal(ctl("module add q2 queue size=100"), 0);
	assert_int_equal(ctl("module add c collect"), 0);
	assert_int_equal(ctl("connect q c"), 0);
	for (int i = 0; i < 4; i++) {
		fill(&b, 25, 1, 0);
		push(&dp, "q", &b);
	}
	struct e2_module *q = e2_dp_module_find(&dp, "q");
	assert_int_equal(q->drops, 36);
	struct e2_ctx ctx = {.current = q};
	uint32_t total = 0, n;
	while ((n = q->cls->run_task(&ctx, q)) > 0)
		total += n;
	assert_int_equal(total, 64);
	assert_int_equal(collected(&dp, "c")->n[0], 64);
	destroy_all();
}

static void test_insert_queue_on_edge(void **state)
{
	struct e2_batch b;
	assert_int_equal(ctl("module add rr rr_split gates=1"), 0);
	assert_int_equal(ctl("module add c collect"), 0);
	assert_int_equal(ctl("connect rr:0 c:2"), 0);
	assert_int_equal(ctl("module add q queue size=64"), 0);
	assert_int_not_equal(ctl("insert rr:1 q"), 0); /* gate out of range / unconnected */
	assert_int_not_equal(ctl("insert rr:0 c"), 0); /* c is connected already */
	assert_int_not_equal(ctl("insert rr:0 rr"), 0);
	assert_int_equal(ctl("insert rr:0 q"), 0);
	fill(&b, 10, 1, 0);
	push(&dp, "rr", &b);
	struct e2_module *q = e2_dp_module_find(&dp, "q");
	struct e2_ctx ctx = {.current = q};
	assert_int_equal(q->cls->run_task(&ctx, q), 10);
	/* the queue forwards to the old target, on the old input gate */
	assert_int_equal(collected(&dp, "c")->n[2], 10);
	assert_int_not_equal(ctl("insert rr:0 q"), 0); /* q is in use now */
	destroy_all();
}

static void test_ports_ring_loopback(void **state)
{
	struct e2_batch b;
	/* a ring vdev hands back on rx what it was given on tx */
	assert_int_equal(ctl("port add r0 pmd devargs=net_ring0"), 0);
	assert_int_not_equal(ctl("port add r0 pmd devargs=net_ring1"), 0);
	assert_int_not_equal(ctl("port add r1 pmd devargs=0000:00:01.0"), 0);
	assert_int_not_equal(ctl("port add r1 nosuch"), 0);
	assert_int_not_equal(ctl("port add r1 vhost"), 0);
	assert_int_not_equal(ctl("port add r1 pmd devargs=net_ring0"), 0);
	assert_int_equal(ctl("module add out port_out port=r0"), 0);
	assert_int_not_equal(ctl("module add out2 port_out port=r0"), 0);
	assert_int_not_equal(ctl("module add in9 port_in port=nosuch"), 0);
	assert_int_equal(ctl("module add in port_in port=r0"), 0);
	assert_int_equal(ctl("module add c collect"), 0);
	assert_int_equal(ctl("connect in c"), 0);
	assert_int_not_equal(ctl("port del r0"), 0); /* in use */
	fill(&b, 20, 1, 0);
	push(&dp, "out", &b);
	struct e2_module *in = e2_dp_module_find(&dp, "in");
	struct e2_ctx ctx = {.current = in};
	assert_int_equal(in->cls->run_task(&ctx, in), 20);
	assert_int_equal(collected(&dp, "c")->n[0], 20);
	struct e2_port *p = e2_dp_port_find(&dp, "r0");
	assert_int_equal(p->tx_packets, 20);
	assert_int_equal(p->rx_packets, 20);
	assert_int_equal(p->rx_bytes, 20 * 60);
	destroy_all();
}

/* NSH metadata reaches native ports as it is; every other port gets the plain frame. */
static void test_legacy_ports_never_see_nsh(void **state)
{
	struct e2_batch b;
	assert_int_equal(ctl("port add legacy pmd devargs=net_ring5"), 0);
	assert_int_equal(ctl("port add native pmd devargs=net_ring6 native=1"), 0);
	assert_int_not_equal(ctl("port add bad pmd devargs=net_ring7 native=2"), 0);
	assert_int_equal(ctl("module add tag nsh_push safe=1"), 0);
	assert_int_equal(ctl("module add split rr_split gates=2"), 0);
	assert_int_equal(ctl("module add to_legacy port_out port=legacy"), 0);
	assert_int_equal(ctl("module add to_native port_out port=native"), 0);
	assert_int_equal(ctl("module add from_legacy port_in port=legacy"), 0);
	assert_int_equal(ctl("module add from_native port_in port=native"), 0);
	assert_int_equal(ctl("module add c collect"), 0);
	assert_int_equal(ctl("connect tag split"), 0);
	assert_int_equal(ctl("connect split:0 to_legacy"), 0);
	assert_int_equal(ctl("connect split:1 to_native"), 0);
	assert_int_equal(ctl("connect from_legacy c:0"), 0);
	assert_int_equal(ctl("connect from_native c:1"), 0);
	fill(&b, 10, 1, 0);
	push(&dp, "tag", &b);
	struct e2_ctx ctx = {0};
	struct e2_module *fl = e2_dp_module_find(&dp, "from_legacy"), *fn = e2_dp_module_find(&dp, "from_native");
	assert_int_equal(fl->cls->run_task(&ctx, fl), 5);
	assert_int_equal(fn->cls->run_task(&ctx, fn), 5);
	struct collect *c = collected(&dp, "c");
	for (int i = 0; i < 5; i++) {
		const struct rte_ether_hdr *l = rte_pktmbuf_mtod(c->pkts[0][i], const struct rte_ether_hdr *);
		const struct rte_ether_hdr *n = rte_pktmbuf_mtod(c->pkts[1][i], const struct rte_ether_hdr *);
		assert_int_equal(rte_be_to_cpu_16(l->ether_type), RTE_ETHER_TYPE_IPV4);
		assert_int_equal(c->pkts[0][i]->pkt_len, 60);
		assert_int_equal(rte_be_to_cpu_16(n->ether_type), 0x894F);
	}
	assert_int_equal(e2_dp_port_find(&dp, "legacy")->nsh_stripped, 5);
	assert_int_equal(e2_dp_port_find(&dp, "native")->nsh_stripped, 0);
	destroy_all();
}

/* Every packet the source produced is somewhere: in a sink, counted as dropped, or
 * still in the queue. Read with the workers paused, so the counters stand still. */
static void assert_books_balance(const char *const *sinks, size_t n_sinks)
{
	e2_dp_pause(&dp);
	struct e2_module *in = e2_dp_module_find(&dp, "in"), *q = e2_dp_module_find(&dp, "q");
	uint32_t held = 0, capacity = 0;
	uint64_t sunk = 0;
	q->cls->occupancy(q, &held, &capacity);
	for (size_t i = 0; i < n_sinks; i++)
		sunk += e2_dp_module_find(&dp, sinks[i])->packets;
	uint64_t produced = e2_dp_port_find(&dp, "n0")->rx_packets;
	print_message("produced %llu = sunk %llu + dropped %llu + queued %llu\n", (unsigned long long)produced,
		      (unsigned long long)sunk, (unsigned long long)in->drops + q->drops, (unsigned long long)held);
	assert_int_equal(in->packets, produced);
	assert_int_equal(q->packets, produced - in->drops);
	assert_int_equal(produced, sunk + in->drops + q->drops + held);
	e2_dp_resume(&dp);
}

static void test_worker_runs_tasks(void **state)
{
	char err[E2_ERR_MAX];
	static const char *const sinks[] = {"s", "s2"};
	/* the null PMD produces packets on every receive: a free traffic source */
	assert_int_equal(ctl("port add n0 pmd devargs=net_null0"), 0);
	assert_int_equal(ctl("module add in port_in port=n0"), 0);
	assert_int_equal(ctl("module add q queue"), 0);
	assert_int_equal(ctl("module add s sink"), 0);
	assert_int_equal(ctl("module add s2 sink"), 0);
	assert_int_equal(ctl("connect in q"), 0);
	assert_int_equal(ctl("connect q s"), 0);
	assert_int_equal(e2_dp_worker_create(&dp, 0, -1, err), 0);
	assert_int_equal(e2_dp_worker_create(&dp, 0, -1, err), 0);    /* the same again: no-op */
	assert_int_not_equal(e2_dp_worker_create(&dp, 0, 0, err), 0); /* another core: refused */
	assert_int_equal(e2_dp_worker_create(&dp, 1, -1, err), 0);
	assert_int_equal(ctl("task attach q worker=1"), 0);
	assert_int_not_equal(ctl("task attach s worker=1"), 0);
	assert_int_not_equal(ctl("task attach q worker=7"), 0);
	struct e2_module *s = e2_dp_module_find(&dp, "s"), *s2 = e2_dp_module_find(&dp, "s2");
	assert_true(WAIT_UNTIL(s->packets > 0, 10));
	assert_books_balance(sinks, 2);
	/* change the graph again and again while both workers move packets: each new
	 * path carries traffic, and the books balance after every change */
	for (int round = 0; round < 20; round++) {
		struct e2_module *to = round % 2 ? s : s2;
		uint64_t before = to->packets;
		assert_int_equal(ctl("disconnect q"), 0);
		assert_int_equal(ctl("connect q %s", to->name), 0);
		assert_true(WAIT_UNTIL(to->packets > before, 10));
		assert_books_balance(sinks, 2);
	}
	destroy_all();
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_hmatch_exact),
		cmocka_unit_test(test_hmatch_frame_edges),
		cmocka_unit_test(test_hmatch_wildcard_priority),
		cmocka_unit_test(test_hmatch_many_rules),
		cmocka_unit_test(test_l2fwd),
		cmocka_unit_test(test_splits),
		cmocka_unit_test(test_split_gates_meet_again),
		cmocka_unit_test(test_unconnected_gate_drops),
		cmocka_unit_test(test_queue),
		cmocka_unit_test(test_insert_queue_on_edge),
		cmocka_unit_test(test_ports_ring_loopback),
		cmocka_unit_test(test_legacy_ports_never_see_nsh),
		cmocka_unit_test(test_worker_runs_tasks),
	};
	return cmocka_run_group_tests(tests, setup, teardown);
}
