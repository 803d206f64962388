/* SPDX-License-Identifier: BSD-3-Clause */
/* Flow affinity with real mbufs: flowhash's IDs against a bit-by-bit CRC32C (IPv4 and
 * IPv6, extension headers, fragments, truncated and multi-segment frames), range
 * splitting, refused commands that leave the graph unchanged, and migration avoidance
 * with 10,000 concurrent flows (seed §3.4.4) of IPv4, IPv6 and both mixed. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <unistd.h>

#include <cmocka.h>
#include <rte_cycles.h>
#include <rte_udp.h>

#include "ctl.h"
#include "e2/flowid.h"
#include "test_util.h"

#define N_FLOWS 10000
#define MAX_FLOWS 32768

static struct e2_dp dp;

#define ctl(...) test_ctl(&dp, __VA_ARGS__)

/* A module command without arguments; returns the integer value of `key` in its result. */
static long query(const char *module, const char *cmd, const char *key)
{
	static struct e2_result out;
	char err[E2_ERR_MAX];
	memset(&out, 0, sizeof(out));
	assert_int_equal(e2_dp_module_command(&dp, module, cmd, &(struct e2_args){0}, &out, err), 0);
	for (size_t i = 0; i < out.n; i++)
		if (strcmp(out.v[i].key, key) == 0)
			return strtol(out.v[i].value, NULL, 0);
	return -1;
}

/* "tally": test-only sink remembering the input gate of each flow's last packet. Flow i
 * is carried by packets with source address 10.0.0.0 + i, or 2001:db8::a00:0 + i for
 * IPv6 (the last 32 bits of the address). */
struct tally {
	uint32_t count[4];
	int8_t gate_of[MAX_FLOWS];
	uint32_t flow_id_of[MAX_FLOWS];
};

static void tally_process(struct e2_ctx *ctx, struct e2_module *m, uint16_t igate, struct e2_batch *b)
{
	struct tally *t = e2_priv(m);
	for (uint16_t i = 0; i < b->cnt; i++) {
		uint32_t buf, src = 0;
		const uint8_t *eth = rte_pktmbuf_read(b->pkts[i], 12, 2, &buf);
		bool ip6 = eth && eth[0] == 0x86 && eth[1] == 0xdd;
		const void *p = rte_pktmbuf_read(b->pkts[i], ip6 ? 34 : 26, 4, &buf);
		if (p) {
			memcpy(&src, p, sizeof(src)); /* the address is not 4-byte aligned in the frame */
			src = rte_be_to_cpu_32(src);
		}
		uint32_t f = src & 0xffffff;
		if (f < MAX_FLOWS) {
			t->gate_of[f] = (int8_t)igate;
			t->flow_id_of[f] = e2_meta(b->pkts[i])->flow_id;
		}
		t->count[igate]++;
	}
	e2_free_batch(b);
}

static const struct e2_module_class tally_class = {
	.name = "tally",
	.help = "test only",
	.igates = 4,
	.priv_size = sizeof(struct tally),
	.args = E2_ARGS_NONE,
	.process_batch = tally_process,
};
E2_MODULE_REGISTER(tally_class)

static struct tally *tally(void)
{
	return e2_priv(e2_dp_module_find(&dp, "t"));
}

static int setup(void **state)
{
	return test_dp_start(&dp, "e2-test-flow", 4095);
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

/* The reference: CRC32C over the bytes the definition lists, by common/'s portable
 * function (pinned there by golden vectors), not the inline one flowhash uses. */
static uint32_t crc32c_ref(const uint8_t *p, size_t n)
{
	return e2_crc32c(p, n);
}

/* The 16 bytes of 2001:db8::LAST (LAST in the last 32 bits). */
static void addr6(uint8_t *a, uint32_t last)
{
	static const uint8_t prefix[4] = {0x20, 0x01, 0x0d, 0xb8};
	uint32_t be = rte_cpu_to_be_32(last);
	memset(a, 0, 16);
	memcpy(a, prefix, 4);
	memcpy(a + 12, &be, 4);
}

/* The ID of an IPv6 flow over the whole 5-tuple (2001:db8::SRC -> 2001:db8::DST) as a
 * switch computes it: CRC32C of the 37 bytes src dst proto sport dport. */
static uint32_t ref_id6(uint32_t src, uint32_t dst, uint8_t proto, uint16_t sport, uint16_t dport)
{
	uint8_t b[37];
	uint16_t sp = rte_cpu_to_be_16(sport), dp_ = rte_cpu_to_be_16(dport);
	addr6(b, src);
	addr6(b + 16, dst);
	b[32] = proto;
	memcpy(b + 33, &sp, 2);
	memcpy(b + 35, &dp_, 2);
	return crc32c_ref(b, sizeof(b));
}

/* One IPv6 extension header: hop-by-hop, routing or destination options of
 * (len8 + 1) * 8 bytes, or a fragment header with the given offset and M flag. */
struct ext {
	uint8_t type, len8;
	uint16_t frag_off;
	bool more;
};

/* An Ethernet/IPv6/UDP frame 2001:db8::SRC -> 2001:db8::DST through the extension
 * headers ext[0..n); the last one's next header is last_next (normally UDP). Padded to
 * at least `len` bytes, or with `cut` exactly `len` bytes long (truncated). */
static struct rte_mbuf *make_udp6_ext(uint32_t src, uint32_t dst, uint16_t sport, uint16_t dport, const struct ext *ext,
				      int n, uint8_t last_next, uint16_t len, bool cut)
{
	uint8_t f[256] = {0};
	size_t o = 14 + sizeof(struct rte_ipv6_hdr);
	struct rte_ipv6_hdr *ip = (struct rte_ipv6_hdr *)(f + 14);

	f[0] = 0x02, f[5] = 0x01, f[12] = 0x86, f[13] = 0xdd;
	ip->vtc_flow = rte_cpu_to_be_32(0x60000000);
	ip->proto = n ? ext[0].type : IPPROTO_UDP;
	ip->hop_limits = 64;
	addr6(ip->src_addr, src);
	addr6(ip->dst_addr, dst);
	for (int i = 0; i < n; i++) {
		f[o] = i + 1 < n ? ext[i + 1].type : last_next;
		if (ext[i].type == IPPROTO_FRAGMENT) {
			uint16_t fd = rte_cpu_to_be_16((uint16_t)(ext[i].frag_off << 3 | ext[i].more));
			memcpy(f + o + 2, &fd, 2);
			o += 8;
		} else {
			f[o + 1] = ext[i].len8;
			o += (ext[i].len8 + 1u) * 8;
		}
	}
	struct rte_udp_hdr *udp = (struct rte_udp_hdr *)(f + o);
	udp->src_port = rte_cpu_to_be_16(sport);
	udp->dst_port = rte_cpu_to_be_16(dport);
	o += sizeof(*udp);
	size_t total = cut || o < len ? len : o;
	assert_true(total <= sizeof(f));
	ip->payload_len = rte_cpu_to_be_16((uint16_t)(total - 54));
	struct rte_mbuf *m = rte_pktmbuf_alloc(dp.pool);
	assert_non_null(m);
	memcpy(rte_pktmbuf_append(m, (uint16_t)total), f, total);
	return m;
}

static struct rte_mbuf *make_udp6(uint32_t src, uint32_t dst, uint16_t sport, uint16_t dport)
{
	return make_udp6_ext(src, dst, sport, dport, NULL, 0, IPPROTO_UDP, 70, false);
}

/* The same frame as m in two chained segments, the first `at` bytes long. */
static struct rte_mbuf *two_segments(struct rte_mbuf *m, uint16_t at)
{
	struct rte_mbuf *a = rte_pktmbuf_alloc(dp.pool), *b = rte_pktmbuf_alloc(dp.pool);
	assert_true(a && b && at < m->pkt_len);
	memcpy(rte_pktmbuf_append(a, at), rte_pktmbuf_mtod(m, uint8_t *), at);
	memcpy(rte_pktmbuf_append(b, (uint16_t)(m->pkt_len - at)), rte_pktmbuf_mtod_offset(m, uint8_t *, at),
	       m->pkt_len - at);
	assert_int_equal(rte_pktmbuf_chain(a, b), 0);
	rte_pktmbuf_free(m);
	return a;
}

/* Which address family the flows of send_flows() use: 4, 6, or 46 (odd flows IPv6). */
static int family = 4;

static bool flow_is6(uint32_t f)
{
	return family == 6 || (family == 46 && f % 2);
}

static uint32_t flow_src(uint32_t f)
{
	return 0x0a000000u + f;
}

static uint16_t flow_sport(uint32_t f)
{
	return (uint16_t)(1024 + f * 7);
}

/* The ID a switch would compute for flow f over the whole 5-tuple, 16 bits. */
static uint32_t expected_id(uint32_t f)
{
	uint8_t b[13];
	if (flow_is6(f))
		return ref_id6(flow_src(f), 0xc0a80001, IPPROTO_UDP, flow_sport(f), 80) & 0xffff;
	uint32_t src = rte_cpu_to_be_32(flow_src(f)), dst = rte_cpu_to_be_32(0xc0a80001);
	uint16_t sp = rte_cpu_to_be_16(flow_sport(f)), dp_ = rte_cpu_to_be_16(80);
	memcpy(b, &src, 4);
	memcpy(b + 4, &dst, 4);
	b[8] = IPPROTO_UDP;
	memcpy(b + 9, &sp, 2);
	memcpy(b + 11, &dp_, 2);
	return crc32c_ref(b, sizeof(b)) & 0xffff;
}

/* One packet for each flow in [first, first + n), pushed into `into` in batches. */
static void send_flows(const char *into, uint32_t first, uint32_t n)
{
	struct e2_batch b = {0};
	for (uint32_t f = first; f < first + n; f++) {
		b.pkts[b.cnt++] = flow_is6(f) ? make_udp6(flow_src(f), 0xc0a80001, flow_sport(f), 80)
					      : make_udp(dp.pool, "02:00:00:00:00:01", flow_src(f), 0xc0a80001,
							 flow_sport(f), 80, 60);
		if (b.cnt == E2_BATCH_MAX || f + 1 == first + n) {
			push(&dp, into, &b);
			b.cnt = 0;
		}
	}
}

static void test_flowhash_ids(void **state)
{
	static const uint8_t check[] = "123456789";
	assert_int_equal(crc32c_ref(check, 9), 0xE3069283u); /* the standard check value */

	assert_int_equal(ctl("module add fh flowhash bits=16"), 0);
	assert_int_equal(ctl("module add fh2 flowhash fields=dst,dport bits=32"), 0);
	assert_int_equal(ctl("module add fh3 flowhash fields=src/24 bits=8"), 0);
	assert_int_equal(ctl("module add t tally"), 0);
	assert_int_equal(ctl("module add t2 tally"), 0);
	assert_int_equal(ctl("module add t3 tally"), 0);
	assert_int_equal(ctl("connect fh t"), 0);
	assert_int_equal(ctl("connect fh2 t2"), 0);
	assert_int_equal(ctl("connect fh3 t3"), 0);
	send_flows("fh", 0, 200);
	send_flows("fh2", 0, 200);
	send_flows("fh3", 0, 200);
	struct tally *t = tally(), *t2 = e2_priv(e2_dp_module_find(&dp, "t2")),
		     *t3 = e2_priv(e2_dp_module_find(&dp, "t3"));
	uint32_t distinct = 0;
	for (uint32_t f = 0; f < 200; f++) {
		assert_int_equal(t->flow_id_of[f], expected_id(f));
		assert_true(t->flow_id_of[f] < 65536);
		distinct += f > 0 && t->flow_id_of[f] != t->flow_id_of[f - 1];
		/* wildcards: only dst and dport count, so every flow has one ID */
		assert_int_equal(t2->flow_id_of[f], t2->flow_id_of[0]);
		/* sources 10.0.0.0-10.0.0.199 share a /24 */
		assert_int_equal(t3->flow_id_of[f], t3->flow_id_of[0]);
		assert_true(t3->flow_id_of[f] < 256);
	}
	assert_true(distinct > 190);
	/* a frame that is not IPv4 hashes as all-zero fields: one stable ID */
	struct e2_batch b = {.cnt = 2};
	b.pkts[0] = make_udp(dp.pool, "02:00:00:00:00:01", 1, 2, 3, 4, 60);
	b.pkts[1] = make_udp(dp.pool, "02:00:00:00:00:01", 5, 6, 7, 8, 60);
	rte_pktmbuf_mtod(b.pkts[0], uint8_t *)[12] = 0x86;
	rte_pktmbuf_mtod(b.pkts[1], uint8_t *)[12] = 0x86;
	push(&dp, "fh", &b);
	assert_int_equal(t->count[0], 202);
	assert_int_equal(t->flow_id_of[1], t->flow_id_of[5]); /* the tally keys them by source 1 and 5 */

	/* the worked example of README-modules.md */
	assert_int_equal(ctl("module add fh4 flowhash bits=32"), 0);
	assert_int_equal(ctl("module add t4 tally"), 0);
	assert_int_equal(ctl("connect fh4 t4"), 0);
	b.cnt = 1;
	b.pkts[0] = make_udp(dp.pool, "02:00:00:00:00:01", 0x0a000001, 0xc0a80001, 1024, 80, 60);
	push(&dp, "fh4", &b);
	assert_int_equal(((struct tally *)e2_priv(e2_dp_module_find(&dp, "t4")))->flow_id_of[1], 0xeb405e55u);

	assert_int_not_equal(ctl("module add bad flowhash fields=src,port"), 0);
	assert_int_not_equal(ctl("module add bad flowhash fields=src/33"), 0);
	assert_int_not_equal(ctl("module add bad flowhash fields=proto/8"), 0);
	assert_int_not_equal(ctl("module add bad flowhash fields=src,src"), 0);
	assert_int_not_equal(ctl("module add bad flowhash fields=,"), 0);
	assert_int_not_equal(ctl("module add bad flowhash bits=0"), 0);
	assert_int_not_equal(ctl("module add bad flowhash bits=33"), 0);
	destroy_all();
}

static void test_rangesplit_ranges(void **state)
{
	assert_int_equal(ctl("module add fh flowhash bits=16"), 0);
	assert_int_equal(ctl("module add rs rangesplit bits=16 track=0 default=3"), 0);
	assert_int_equal(ctl("module add t tally"), 0);
	assert_int_equal(ctl("connect fh rs"), 0);
	for (int g = 0; g < 4; g++)
		assert_int_equal(ctl("connect rs:%d t:%d", g, g), 0);
	assert_int_equal(ctl("module cmd rs add range=0-20000 gate=0"), 0);
	assert_int_equal(ctl("module cmd rs add range=20000-40000 gate=1"), 0);
	assert_int_equal(ctl("module cmd rs add range=50000-65536 gate=2"), 0);
	/* refused, each naming the culprit; nothing changes */
	assert_int_not_equal(ctl("module cmd rs add range=39999-45000 gate=2"), 0);
	assert_int_not_equal(ctl("module cmd rs add range=0-65536 gate=2"), 0);
	assert_int_not_equal(ctl("module cmd rs add range=45000-45000 gate=2"), 0);
	assert_int_not_equal(ctl("module cmd rs add range=45000-70000 gate=2"), 0);
	assert_int_not_equal(ctl("module cmd rs add range=4x-5 gate=2"), 0);
	assert_int_not_equal(ctl("module cmd rs add range=-5 gate=2"), 0);
	assert_int_not_equal(ctl("module cmd rs add range=40000-45000 gate=64"), 0);
	assert_int_not_equal(ctl("module cmd rs add range=40000-45000"), 0);
	assert_int_not_equal(ctl("module cmd rs delete range=0-20001"), 0);
	assert_int_not_equal(ctl("module cmd rs split range=0-20001 at=5 new_gate=1"), 0);
	assert_int_not_equal(ctl("module cmd rs split range=0-20000 at=20000 new_gate=1"), 0);
	assert_int_not_equal(ctl("module cmd rs split range=0-20000 at=0 new_gate=1"), 0);
	assert_int_not_equal(ctl("module cmd rs split range=0-20000 at=100 new_gate=99"), 0);
	assert_int_not_equal(ctl("module cmd rs split range=0-20000 at=100"), 0);
	assert_int_not_equal(ctl("module add bad rangesplit bits=40"), 0);
	assert_int_not_equal(ctl("module add bad rangesplit flows=1"), 0);
	assert_int_not_equal(ctl("module add bad rangesplit fields=mac"), 0);
	assert_int_equal(query("rs", "stats", "ranges"), 3);

	send_flows("fh", 0, 2000);
	struct tally *t = tally();
	for (uint32_t f = 0; f < 2000; f++) {
		uint32_t id = expected_id(f);
		int want = id < 20000 ? 0 : id < 40000 ? 1 : id < 50000 ? 3 : 2;
		assert_int_equal(t->gate_of[f], want);
	}
	assert_int_equal(ctl("module cmd rs delete range=20000-40000"), 0);
	assert_int_equal(query("rs", "stats", "ranges"), 2);
	/* without tracking a split moves flows at once */
	assert_int_equal(ctl("module cmd rs split range=0-20000 at=10000 new_gate=1"), 0);
	send_flows("fh", 0, 2000);
	for (uint32_t f = 0; f < 2000; f++) {
		uint32_t id = expected_id(f);
		int want = id < 10000 ? 0 : id < 20000 ? 1 : id < 50000 ? 3 : 2;
		assert_int_equal(t->gate_of[f], want);
	}
	destroy_all();
}

/* Exact-flow overrides: pinned to a gate against the ranges, counted, gone when idle. */
static void test_rangesplit_pin(void **state)
{
	static struct e2_result out;
	char err[E2_ERR_MAX];

	assert_int_equal(ctl("module add fh flowhash bits=16"), 0);
	assert_int_equal(ctl("module add rs rangesplit bits=16 idle_ms=400"), 0);
	assert_int_equal(ctl("module add rs2 rangesplit fields=src,dst track=1"), 0);
	assert_int_equal(ctl("module add rs3 rangesplit track=0"), 0);
	assert_int_equal(ctl("module add t tally"), 0);
	assert_int_equal(ctl("connect fh rs"), 0);
	assert_int_equal(ctl("connect rs:0 t:0"), 0);
	assert_int_equal(ctl("connect rs:1 t:1"), 0);
	assert_int_equal(ctl("module cmd rs add range=0-65536 gate=0"), 0);
	assert_int_equal(
		ctl("module cmd rs pin src=10.0.0.5 dst=192.168.0.1 proto=17 sport=%u dport=80 gate=1", flow_sport(5)),
		0);
	assert_int_equal(query("rs", "exceptions", "exceptions"), 1);
	/* refused */
	assert_int_not_equal(ctl("module cmd rs pin src=10.0.0.5 dst=192.168.0.1 proto=17 sport=1 dport=80"), 0);
	assert_int_not_equal(ctl("module cmd rs pin src=10.0.0 dst=192.168.0.1 proto=17 sport=1 dport=80 gate=1"), 0);
	assert_int_not_equal(ctl("module cmd rs pin src=10.0.0.5 dst=192.168.0.1 proto=17 sport=70000 dport=80 gate=1"),
			     0);
	assert_int_not_equal(ctl("module cmd rs pin src=10.0.0.5 dst=192.168.0.1 proto=17 dport=80 gate=1"), 0);
	assert_int_not_equal(ctl("module cmd rs pin src=10.0.0.5 dst=192.168.0.1 proto=17 sport=1 dport=80 gate=64"),
			     0);
	assert_int_not_equal(
		ctl("module cmd rs pin src=10.0.0.5 dst=192.168.0.1 proto=17 sport=1 dport=80 gate=1 flow_id=65536"),
		0);
	assert_int_not_equal(ctl("module cmd rs2 pin src=10.0.0.5 dst=192.168.0.1 sport=1 gate=1"), 0);
	assert_int_not_equal(ctl("module cmd rs3 pin src=10.0.0.5 dst=192.168.0.1 proto=17 sport=1 dport=80 gate=1"),
			     0);
	assert_int_equal(query("rs", "exceptions", "exceptions"), 1);

	send_flows("fh", 0, 10);
	struct tally *t = tally();
	for (uint32_t f = 0; f < 10; f++)
		assert_int_equal(t->gate_of[f], f == 5 ? 1 : 0);
	/* the pinned flow's ID is the one flowhash computes, and its packets are counted */
	memset(&out, 0, sizeof(out));
	assert_int_equal(e2_dp_module_command(&dp, "rs", "rules", &(struct e2_args){0}, &out, err), 0);
	bool listed = false;
	char want[128];
	snprintf(want, sizeof(want), "flow_id=%u gate=1 packets=1 bytes=60", expected_id(5));
	for (size_t i = 0; i < out.n; i++)
		listed |= strcmp(out.v[i].key, "exception0") == 0 && strstr(out.v[i].value, want) != NULL;
	assert_true(listed);
	/* the exception expires once its flow is idle (eventually: a deadline, not a sleep) */
	assert_true(WAIT_UNTIL(query("rs", "exceptions", "exceptions") == 0, 20));
	send_flows("fh", 5, 1);
	assert_int_equal(t->gate_of[5], 0);
	destroy_all();
}

/* An instance is withdrawn: its range goes to another gate, and `forget` lets its
 * pinned flows follow the ranges at once instead of blackholing until idle. */
static void test_rangesplit_forget(void **state)
{
	(void)state;
	assert_int_equal(ctl("module add fh flowhash bits=16"), 0);
	assert_int_equal(ctl("module add rs rangesplit bits=16 idle_ms=60000"), 0);
	assert_int_equal(ctl("module add t tally"), 0);
	assert_int_equal(ctl("connect fh rs"), 0);
	assert_int_equal(ctl("connect rs:0 t:0"), 0);
	assert_int_equal(ctl("connect rs:1 t:1"), 0);
	assert_int_equal(ctl("module cmd rs add range=0-32768 gate=0"), 0);
	assert_int_equal(ctl("module cmd rs add range=32768-65536 gate=1"), 0);
	send_flows("fh", 0, 100);
	struct tally *t = tally();
	uint32_t on1 = 0;
	for (uint32_t f = 0; f < 100; f++)
		on1 += t->gate_of[f] == 1;
	assert_true(on1 > 10 && on1 < 90);
	assert_int_equal(query("rs", "flows", "gate1"), on1);
	/* gate 1's instance is gone: its range to gate 0; its flows stay pinned (exceptions) */
	assert_int_not_equal(ctl("module cmd rs move range=32768-65535 gate=0"), 0);
	assert_int_not_equal(ctl("module cmd rs move range=32768-65536"), 0);
	assert_int_not_equal(ctl("module cmd rs move range=32768-65536 gate=64"), 0);
	assert_int_equal(ctl("module cmd rs move range=32768-65536 gate=0"), 0);
	assert_int_equal(query("rs", "exceptions", "exceptions"), on1);
	assert_int_equal(query("rs", "stats", "ranges"), 2);
	send_flows("fh", 0, 100);
	for (uint32_t f = 0; f < 100; f++)
		assert_int_equal(t->gate_of[f], expected_id(f) >= 32768 ? 1 : 0);
	assert_int_equal(ctl("module cmd rs forget gate=1"), 0);
	assert_int_equal(query("rs", "exceptions", "exceptions"), 0);
	assert_int_equal(query("rs", "stats", "forgotten"), on1);
	assert_int_equal(query("rs", "stats", "expired"), 0);
	send_flows("fh", 0, 100);
	for (uint32_t f = 0; f < 100; f++)
		assert_int_equal(t->gate_of[f], 0);
	assert_int_equal(query("rs", "flows", "gate0"), 100);
	/* nothing pinned there: nothing forgotten; bad gates refused */
	assert_int_equal(ctl("module cmd rs forget gate=1"), 0);
	assert_int_equal(query("rs", "stats", "forgotten"), on1);
	assert_int_not_equal(ctl("module cmd rs forget"), 0);
	assert_int_not_equal(ctl("module cmd rs forget gate=64"), 0);
	assert_int_not_equal(ctl("module cmd rs forget gate=-1"), 0);
	destroy_all();
}

/* The ID module `fh` (bits=32) gives one frame, read back from tally `t` by its source. */
static uint32_t id_of(struct rte_mbuf *m, uint32_t src)
{
	struct e2_batch b = {.cnt = 1, .pkts = {m}};
	push(&dp, "fh", &b);
	return tally()->flow_id_of[src & 0xffffff];
}

static void test_flowhash_ipv6(void **state)
{
	assert_int_equal(ctl("module add fh flowhash bits=32"), 0);
	assert_int_equal(ctl("module add fh16 flowhash bits=16"), 0);
	assert_int_equal(ctl("module add fhp flowhash fields=src/24:64,dst bits=32"), 0);
	assert_int_equal(ctl("module add fhq flowhash fields=src/:64 bits=32"), 0);
	assert_int_equal(ctl("module add fhn flowhash fields=proto,sport,dport bits=32"), 0);
	const char *tallies[] = {"t", "t16", "tp", "tq", "tn"}, *hashers[] = {"fh", "fh16", "fhp", "fhq", "fhn"};
	struct tally *ts[5];
	for (int i = 0; i < 5; i++) {
		assert_int_equal(ctl("module add %s tally", tallies[i]), 0);
		assert_int_equal(ctl("connect %s %s", hashers[i], tallies[i]), 0);
		ts[i] = e2_priv(e2_dp_module_find(&dp, tallies[i]));
	}

	/* the worked example of README-modules.md */
	assert_int_equal(id_of(make_udp6(1, 2, 1024, 80), 1), ref_id6(1, 2, IPPROTO_UDP, 1024, 80));
	assert_int_equal(ref_id6(1, 2, IPPROTO_UDP, 1024, 80), 0xfe3c7b6cu);

	/* 200 flows, and each prefix: IPv6 /64 of the source ignores its last 64 bits, IPv4
	 * /24 its last 8; src/:64 keeps IPv4 sources whole */
	family = 6;
	for (int i = 1; i < 5; i++)
		send_flows(hashers[i], 0, 200);
	family = 4;
	send_flows("fhp", 1024, 200);
	send_flows("fhq", 1024, 200);
	uint32_t distinct = 0;
	for (uint32_t f = 0; f < 200; f++) {
		assert_int_equal(ts[1]->flow_id_of[f],
				 ref_id6(flow_src(f), 0xc0a80001, IPPROTO_UDP, flow_sport(f), 80) & 0xffff);
		distinct += f > 0 && ts[1]->flow_id_of[f] != ts[1]->flow_id_of[f - 1];
		assert_int_equal(ts[2]->flow_id_of[f], ts[2]->flow_id_of[0]);
		assert_int_equal(ts[3]->flow_id_of[f], ts[3]->flow_id_of[0]);
		assert_int_equal(ts[2]->flow_id_of[1024 + f], ts[2]->flow_id_of[1024]);
		assert_true(f == 0 || ts[3]->flow_id_of[1024 + f] != ts[3]->flow_id_of[1024 + f - 1]);
		/* without addresses an IPv6 flow keys like an IPv4 one */
		assert_int_not_equal(ts[4]->flow_id_of[f], 0);
	}
	assert_true(distinct > 190);
	/* the /64 cut against the reference: the masked 16 bytes, then dst */
	uint8_t b[32];
	addr6(b, 0);
	addr6(b + 16, 0xc0a80001);
	assert_int_equal(ts[2]->flow_id_of[0], crc32c_ref(b, sizeof(b)));
	/* without addresses, IPv6 flow 8 and an IPv4 flow with its ports share an ID */
	struct e2_batch b4 = {.cnt = 1};
	b4.pkts[0] = make_udp(dp.pool, "02:00:00:00:00:01", flow_src(9), 0xc0a80001, flow_sport(8), 80, 60);
	push(&dp, "fhn", &b4);
	assert_int_equal(ts[4]->flow_id_of[8], ts[4]->flow_id_of[9]);

	/* refused prefixes, each with its reason */
	const char *bad[] = {"src/33",
			     "src/24:129",
			     "src/24:",
			     "src/:",
			     "src/",
			     "src/x:64",
			     "src/24:64:1",
			     "src/-1",
			     "src/:-5",
			     "proto/:64",
			     "dst/:64x",
			     "src/ 8",
			     "src/:000000000000000000000000000000000000000000000000000000000000000000001"};
	for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++)
		assert_int_not_equal(ctl("module add bad flowhash fields=%s", bad[i]), 0);
	assert_int_equal(ctl("module add ok flowhash fields=src/0:0,dst/32:128"), 0);
	destroy_all();
}

/* Extension headers, fragments, truncated and multi-segment IPv6 frames. */
static void test_flowhash_ipv6_headers(void **state)
{
	const uint8_t UDP = IPPROTO_UDP, HBH = IPPROTO_HOPOPTS, RT = IPPROTO_ROUTING, DST = IPPROTO_DSTOPTS,
		      FRAG = IPPROTO_FRAGMENT;
	const uint32_t D = 0xc0a80001;
	assert_int_equal(ctl("module add fh flowhash bits=32"), 0);
	assert_int_equal(ctl("module add t tally"), 0);
	assert_int_equal(ctl("connect fh t"), 0);

	/* the usual headers, and an atomic fragment, are walked to the ports */
	const struct ext chain[] = {{HBH, 0, 0, 0}, {DST, 1, 0, 0}, {RT, 2, 0, 0}, {FRAG, 0, 0, 0}, {DST, 0, 0, 0}};
	assert_int_equal(id_of(make_udp6_ext(1, D, 5000, 53, chain, 5, UDP, 60, false), 1),
			 ref_id6(1, D, UDP, 5000, 53));
	/* fragments: all pieces take their fragment header's next header and ports 0 */
	const struct ext first[] = {{HBH, 0, 0, 0}, {FRAG, 0, 0, true}, {DST, 0, 0, 0}};
	const struct ext middle[] = {{HBH, 0, 0, 0}, {FRAG, 0, 100, true}};
	const struct ext last[] = {{FRAG, 0, 185, false}};
	assert_int_equal(id_of(make_udp6_ext(2, D, 5000, 53, first, 3, UDP, 60, false), 2), ref_id6(2, D, DST, 0, 0));
	assert_int_equal(id_of(make_udp6_ext(3, D, 5000, 53, middle, 2, DST, 60, false), 3), ref_id6(3, D, DST, 0, 0));
	assert_int_equal(id_of(make_udp6_ext(4, D, 5000, 53, last, 1, UDP, 60, false), 4), ref_id6(4, D, UDP, 0, 0));
	/* at most 8 headers are walked; the 9th is the protocol then, without ports */
	struct ext many[9];
	for (int i = 0; i < 9; i++)
		many[i] = (struct ext){DST, 0, 0, 0};
	assert_int_equal(id_of(make_udp6_ext(5, D, 5000, 53, many, 8, UDP, 60, false), 5),
			 ref_id6(5, D, UDP, 5000, 53));
	assert_int_equal(id_of(make_udp6_ext(6, D, 5000, 53, many, 9, UDP, 60, false), 6), ref_id6(6, D, DST, 0, 0));
	/* other upper layers have no ports; AH is not walked (as for IPv4) */
	assert_int_equal(id_of(make_udp6_ext(7, D, 5000, 53, NULL, 0, UDP, 60, false), 7),
			 ref_id6(7, D, UDP, 5000, 53));
	const struct ext ah[] = {{HBH, 0, 0, 0}};
	assert_int_equal(id_of(make_udp6_ext(8, D, 5000, 53, ah, 1, IPPROTO_AH, 60, false), 8),
			 ref_id6(8, D, IPPROTO_AH, 0, 0));
	assert_int_equal(id_of(make_udp6_ext(9, D, 5000, 53, ah, 1, IPPROTO_ICMPV6, 60, false), 9),
			 ref_id6(9, D, IPPROTO_ICMPV6, 0, 0));

	/* truncated: inside an extension header (that header is the protocol), at the
	 * ports (ports 0), inside the IPv6 header (the non-IP ID: 13 zero bytes) */
	assert_int_equal(id_of(make_udp6_ext(10, D, 5000, 53, chain, 2, UDP, 14 + 40 + 8 + 2, true), 10),
			 ref_id6(10, D, DST, 0, 0));
	assert_int_equal(id_of(make_udp6_ext(11, D, 5000, 53, chain, 1, UDP, 14 + 40 + 8 + 2, true), 11),
			 ref_id6(11, D, UDP, 0, 0));
	uint8_t zeros[13] = {0};
	struct e2_batch b = {.cnt = 1};
	b.pkts[0] = make_udp6_ext(13, D, 5000, 53, NULL, 0, UDP, 14 + 39, true);
	push(&dp, "fh", &b);
	assert_int_equal(tally()->flow_id_of[13], crc32c_ref(zeros, sizeof(zeros)));
	/* a header length past the frame: the walk ends there, ports 0 */
	struct rte_mbuf *m = make_udp6_ext(14, D, 5000, 53, chain, 1, UDP, 70, false);
	rte_pktmbuf_mtod_offset(m, uint8_t *, 54 + 1)[0] = 255;
	assert_int_equal(id_of(m, 14), ref_id6(14, D, UDP, 0, 0));

	/* split in two segments anywhere: the same ID */
	for (unsigned at = 1; at < 60 + 8 * 4; at += 3) {
		m = make_udp6_ext(100 + at, D, 5000, 53, chain, 5, UDP, 60, false);
		assert_int_equal(id_of(two_segments(m, at), 100 + at), ref_id6(100 + at, D, UDP, 5000, 53));
	}
	destroy_all();
}

/* pin and rules with IPv6 flows: literals parsed, masked as flowhash does, printed back. */
static void test_rangesplit_pin_ipv6(void **state)
{
	static struct e2_result out;
	char err[E2_ERR_MAX];

	family = 6;
	assert_int_equal(ctl("module add fh flowhash bits=16"), 0);
	assert_int_equal(ctl("module add rs rangesplit bits=16"), 0);
	assert_int_equal(ctl("module add rs2 rangesplit fields=src/:64"), 0);
	assert_int_equal(ctl("module add t tally"), 0);
	assert_int_equal(ctl("connect fh rs"), 0);
	assert_int_equal(ctl("connect rs:0 t:0"), 0);
	assert_int_equal(ctl("connect rs:1 t:1"), 0);
	assert_int_equal(ctl("module cmd rs add range=0-65536 gate=0"), 0);
	assert_int_equal(ctl("module cmd rs pin src=2001:db8::a00:5 dst=2001:db8::c0a8:1 proto=17 sport=%u dport=80 "
			     "gate=1",
			     flow_sport(5)),
			 0);
	/* a v4 flow with the same last 32 bits is another flow */
	assert_int_equal(
		ctl("module cmd rs pin src=10.0.0.5 dst=192.168.0.1 proto=17 sport=%u dport=80 gate=1", flow_sport(5)),
		0);
	assert_int_equal(query("rs", "exceptions", "exceptions"), 2);
	assert_int_not_equal(ctl("module cmd rs pin src=10.0.0.5 dst=2001:db8::1 proto=17 sport=1 dport=80 gate=1"), 0);
	assert_int_not_equal(ctl("module cmd rs pin src=2001:db8::1 dst=10.0.0.5 proto=17 sport=1 dport=80 gate=1"), 0);
	assert_int_not_equal(ctl("module cmd rs pin src=2001:db8:::1 dst=2001:db8::1 proto=17 sport=1 dport=80 gate=1"),
			     0);
	assert_int_not_equal(ctl("module cmd rs pin src=2001:db8::g dst=2001:db8::1 proto=17 sport=1 dport=80 gate=1"),
			     0);
	/* the pinned source /64 of rs2 takes in any address of 2001:db8::/64 */
	assert_int_equal(ctl("module cmd rs2 pin src=2001:db8::ffff:ffff gate=3 flow_id=7"), 0);
	assert_int_equal(query("rs", "exceptions", "exceptions"), 2);

	send_flows("fh", 0, 10);
	struct tally *t = tally();
	for (uint32_t f = 0; f < 10; f++)
		assert_int_equal(t->gate_of[f], f == 5 ? 1 : 0);
	memset(&out, 0, sizeof(out));
	assert_int_equal(e2_dp_module_command(&dp, "rs", "rules", &(struct e2_args){0}, &out, err), 0);
	int listed = 0;
	char want6[160], want4[160];
	snprintf(want6, sizeof(want6),
		 "src=2001:db8::a00:5 dst=2001:db8::c0a8:1 proto=17 sport=%u dport=80 flow_id=%u gate=1 packets=1 "
		 "bytes=70",
		 flow_sport(5), expected_id(5));
	snprintf(want4, sizeof(want4),
		 "src=10.0.0.5 dst=192.168.0.1 proto=17 sport=%u dport=80 flow_id=", flow_sport(5));
	for (size_t i = 0; i < out.n; i++)
		if (strncmp(out.v[i].key, "exception", 9) == 0)
			listed += strcmp(out.v[i].value, want6) == 0 ? 1 : strstr(out.v[i].value, want4) ? 2 : 0;
	assert_int_equal(listed, 3);
	memset(&out, 0, sizeof(out));
	assert_int_equal(e2_dp_module_command(&dp, "rs2", "rules", &(struct e2_args){0}, &out, err), 0);
	listed = 0;
	for (size_t i = 0; i < out.n; i++)
		listed += strcmp(out.v[i].key, "exception0") == 0 &&
			  strncmp(out.v[i].value, "src=2001:db8:: dst=:: proto=0", 29) == 0;
	assert_int_equal(listed, 1);
	family = 4;
	destroy_all();
}

#define IDLE_MS 800

static uint64_t ms_since(uint64_t tsc)
{
	return (rte_rdtsc() - tsc) * 1000 / rte_get_tsc_hz();
}

/* Every old flow with an ID in [M, Y) is an exception, and none other. */
static long old_exceptions(uint32_t first, uint32_t n, uint32_t m)
{
	long e = 0;
	for (uint32_t f = first; f < first + n; f++)
		e += expected_id(f) >= m;
	return e;
}

static void migration_avoidance(int fam)
{
	const uint32_t M = 32768;
	struct tally *t;

	family = fam;
	assert_int_equal(ctl("module add fh flowhash bits=16"), 0);
	assert_int_equal(ctl("module add rs rangesplit bits=16 idle_ms=%d flows=%d", IDLE_MS, MAX_FLOWS), 0);
	assert_int_equal(ctl("module add t tally"), 0);
	assert_int_equal(ctl("connect fh rs"), 0);
	assert_int_equal(ctl("connect rs:0 t:0"), 0); /* instance A */
	assert_int_equal(ctl("connect rs:1 t:1"), 0); /* instance B */
	assert_int_equal(ctl("module cmd rs add range=0-65536 gate=0"), 0);
	t = tally();

	/* 10,000 concurrent flows, all to A */
	send_flows("fh", 0, N_FLOWS);
	assert_int_equal(t->count[0], N_FLOWS);
	assert_int_equal(query("rs", "flows", "gate0"), N_FLOWS);
	assert_int_equal(query("rs", "exceptions", "exceptions"), 0);

	/* split at M: the old flows above M become exceptions */
	long expect_exc = old_exceptions(0, N_FLOWS, M);
	assert_true(expect_exc > N_FLOWS / 3);
	assert_int_equal(ctl("module cmd rs split range=0-65536 at=%u new_gate=1", M), 0);
	assert_int_equal(query("rs", "exceptions", "exceptions"), expect_exc);
	assert_int_equal(query("rs", "rules", "switch_entries"), 2 + expect_exc);
	/* a split range cannot overlap anything afterwards either */
	assert_int_not_equal(ctl("module cmd rs add range=30000-40000 gate=2"), 0);

	/* every later packet of every old flow still reaches A; new flows split at M */
	uint64_t t0 = rte_rdtsc();
	send_flows("fh", 0, N_FLOWS);
	send_flows("fh", N_FLOWS, N_FLOWS);
	for (uint32_t f = 0; f < N_FLOWS; f++)
		assert_int_equal(t->gate_of[f], 0);
	uint32_t to_b = 0;
	for (uint32_t f = N_FLOWS; f < 2 * N_FLOWS; f++) {
		assert_int_equal(t->gate_of[f], expected_id(f) >= M ? 1 : 0);
		to_b += t->gate_of[f] == 1;
	}
	assert_true(to_b > N_FLOWS / 3);
	assert_int_equal(query("rs", "exceptions", "exceptions"), expect_exc);
	assert_int_equal(query("rs", "flows", "gate1"), to_b);

	/* the exceptions drain as old flows end: keep the first half alive, let the rest go idle */
	usleep(IDLE_MS * 1000 * 2 / 5);
	if (ms_since(t0) < IDLE_MS * 9 / 10) {
		uint64_t t1 = rte_rdtsc();
		send_flows("fh", 0, N_FLOWS / 2);
		for (uint32_t f = 0; f < N_FLOWS / 2; f++)
			assert_int_equal(t->gate_of[f], 0);
		usleep(IDLE_MS * 1000 * 4 / 5);
		long left = query("rs", "exceptions", "exceptions");
		if (ms_since(t1) < IDLE_MS * 9 / 10)
			assert_int_equal(left, old_exceptions(0, N_FLOWS / 2, M));
		else
			print_message("machine too slow to check the partial drain (%ld left)\n", left);
		assert_true(left < expect_exc);
	} else {
		print_message("machine too slow to check the partial drain\n");
	}
	assert_true(WAIT_UNTIL(query("rs", "exceptions", "exceptions") == 0 && query("rs", "exceptions", "flows") == 0,
			       20));
	assert_true(query("rs", "stats", "expired") >= 2 * N_FLOWS);

	/* ended flows start afresh by the ranges: old IDs above M now reach B */
	send_flows("fh", 0, N_FLOWS);
	for (uint32_t f = 0; f < N_FLOWS; f++)
		assert_int_equal(t->gate_of[f], expected_id(f) >= M ? 1 : 0);
	destroy_all();
	family = 4;
}

static void test_migration_avoidance(void **state)
{
	migration_avoidance(4);
}

static void test_migration_avoidance_ipv6(void **state)
{
	migration_avoidance(6);
}

/* IPv4 and IPv6 flows side by side: two tables behind one tracker. */
static void test_migration_avoidance_mixed(void **state)
{
	migration_avoidance(46);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_flowhash_ids),
		cmocka_unit_test(test_rangesplit_ranges),
		cmocka_unit_test(test_rangesplit_pin),
		cmocka_unit_test(test_rangesplit_forget),
		cmocka_unit_test(test_migration_avoidance),
		cmocka_unit_test(test_flowhash_ipv6),
		cmocka_unit_test(test_flowhash_ipv6_headers),
		cmocka_unit_test(test_rangesplit_pin_ipv6),
		cmocka_unit_test(test_migration_avoidance_ipv6),
		cmocka_unit_test(test_migration_avoidance_mixed),
	};
	return cmocka_run_group_tests(tests, setup, teardown);
}
