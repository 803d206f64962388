/* SPDX-License-Identifier: BSD-3-Clause */
/* Tunnels with real mbufs: several edges multiplexed over one link and demultiplexed
 * by SPI, over Ethernet and VXLAN-GPE; frames and NSH metadata arrive intact; the
 * wire format decodes in tcpdump; refused commands change nothing. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <unistd.h>

#include <cmocka.h>

#include "ctl.h"
#include "test_util.h"

#define EDGES 8

static struct e2_dp dp;
static char dir[64];

#define ctl(...) test_ctl(&dp, __VA_ARGS__)

static int setup(void **state)
{
	snprintf(dir, sizeof(dir), "/tmp/e2-test-tunnel-XXXXXX");
	if (!mkdtemp(dir))
		return -1;
	return test_dp_start(&dp, "e2-test-tunnel", 1023);
}

static int teardown(void **state)
{
	char cmd[128];
	test_dp_stop(&dp);
	snprintf(cmd, sizeof(cmd), "rm -rf %s", dir);
	return system(cmd) == 0 ? 0 : -1;
}

static void destroy_all(void)
{
	assert_int_equal(test_dp_clear(&dp), 0); /* no packet buffer leaked */
}

#define take(name, gate, b) assert_true(collect_take(&dp, name, gate, b))

/* The graph: edge e (input gate e of te) carries SPI 1000 + e; odd edges carry NSH
 * metadata (safe=1, t40=edge) pushed by "p<e>". The link goes into collect "wire";
 * td demultiplexes SPI 1000 + e to gate e % 4 of collect "out", e / 4 telling them apart. */
static void build(const char *encap_args)
{
	assert_int_equal(ctl("module add te tunnel_encap %s", encap_args), 0);
	assert_int_equal(ctl("module add td tunnel_decap default=3"), 0);
	assert_int_equal(ctl("module add wire collect"), 0);
	assert_int_equal(ctl("connect te wire"), 0);
	for (int e = 0; e < EDGES; e++) {
		assert_int_equal(ctl("module cmd te edge igate=%d spi=%d", e, 1000 + e), 0);
		if (e < 3)
			assert_int_equal(ctl("module cmd td edge spi=%d gate=%d", 1000 + e, e), 0);
	}
}

/* Sends 2 frames on each edge, returns them (as sent) in orig[edge][k]. */
static void send_edges(uint8_t orig[EDGES][2][80])
{
	for (int e = 0; e < EDGES; e++) {
		struct e2_batch b = {.cnt = 2};
		for (int k = 0; k < 2; k++) {
			b.pkts[k] = make_udp(dp.pool, "02:00:00:00:00:01", 0x0a000000u + (uint32_t)e, 0x0a000100,
					     (uint16_t)k, 80, 80);
			memcpy(orig[e][k], rte_pktmbuf_mtod(b.pkts[k], void *), 80);
		}
		if (e % 2) {
			char name[8];
			snprintf(name, sizeof(name), "p%d", e);
			assert_int_equal(ctl("module add %s nsh_push safe=1 t40=0x%02x", name, e), 0);
			assert_int_equal(ctl("module add c%s collect", name), 0);
			assert_int_equal(ctl("connect %s c%s", name, name), 0);
			push(&dp, name, &b);
			char cname[8];
			snprintf(cname, sizeof(cname), "c%s", name);
			take(cname, 0, &b);
		}
		push_to(&dp, "te", (uint16_t)e, &b);
	}
}

static void check_delivery(uint8_t orig[EDGES][2][80])
{
	struct e2_batch b;
	struct collect *out;

	assert_int_equal(ctl("module add out collect"), 0);
	for (int g = 0; g < 4; g++)
		assert_int_equal(ctl("connect td:%d out:%d", g, g), 0);
	assert_int_equal(ctl("module add pop nsh_pop"), 0);
	assert_int_equal(ctl("module add plain collect"), 0);
	assert_int_equal(ctl("connect pop plain"), 0);
	take("wire", 0, &b);
	assert_int_equal(b.cnt, 2 * EDGES);
	push(&dp, "td", &b);
	out = collected(&dp, "out");
	assert_int_equal(out->n[0], 2);
	assert_int_equal(out->n[1], 2);
	assert_int_equal(out->n[2], 2);
	assert_int_equal(out->n[3], 2 * (EDGES - 3)); /* SPIs td does not know */
	for (int g = 0; g < 3; g++) {
		for (int k = 0; k < 2; k++) {
			struct rte_mbuf *m = out->pkts[g][k];
			const uint8_t *d = rte_pktmbuf_mtod(m, const uint8_t *);
			if (g % 2 == 0) { /* no metadata: the bare frame */
				assert_int_equal(m->pkt_len, 80);
				assert_memory_equal(d, orig[g][k], 80);
				continue;
			}
			/* metadata: NSH over Ethernet with the frame's MACs, TLVs intact */
			assert_int_equal(m->pkt_len, 14 + 8 + 8 + 8 + 80);
			assert_memory_equal(d, orig[g][k], 12);
			assert_int_equal(d[12] << 8 | d[13], 0x894f);
			static const uint8_t tlvs[] = {0xff, 0xf6, 1, 1, 1, 0, 0, 0, 0xff, 0xf6, 40, 1, 1, 0, 0, 0};
			assert_memory_equal(d + 22, tlvs, sizeof(tlvs));
			assert_memory_equal(d + 38, orig[g][k], 80);
		}
		take("out", g, &b);
		push(&dp, "pop", &b);
	}
	struct collect *plain = collected(&dp, "plain");
	assert_int_equal(plain->n[0], 6);
	for (uint32_t i = 0; i < 6; i++) {
		const uint8_t *d = rte_pktmbuf_mtod(plain->pkts[0][i], const uint8_t *);
		int e = d[29], k = d[35];
		assert_int_equal(plain->pkts[0][i]->pkt_len, 80);
		assert_memory_equal(d, orig[e][k], 80);
	}
}

static void test_tunnel_eth(void **state)
{
	uint8_t orig[EDGES][2][80];
	build("dst=02:00:00:00:00:aa src=02:00:00:00:00:bb");
	send_edges(orig);
	struct collect *wire = collected(&dp, "wire");
	assert_int_equal(wire->n[0], 2 * EDGES);
	for (uint32_t i = 0; i < wire->n[0]; i++) {
		const uint8_t *d = rte_pktmbuf_mtod(wire->pkts[0][i], const uint8_t *);
		static const uint8_t macs[] = {2, 0, 0, 0, 0, 0xaa, 2, 0, 0, 0, 0, 0xbb, 0x89, 0x4f};
		uint32_t spi = (uint32_t)d[18] << 16 | d[19] << 8 | d[20];
		assert_memory_equal(d, macs, sizeof(macs));
		assert_int_equal(spi, 1000 + i / 2); /* edge order */
		assert_int_equal(d[21], 255);
	}
	check_delivery(orig);
	destroy_all();
}

static void test_tunnel_vxlan_gpe(void **state)
{
	uint8_t orig[EDGES][2][80];
	char f[128], cmd[512];

	build("dst=02:00:00:00:00:aa transport=vxlan-gpe src_ip=192.0.2.1 dst_ip=192.0.2.2 vni=42");
	send_edges(orig);
	struct collect *wire = collected(&dp, "wire");
	assert_int_equal(wire->n[0], 2 * EDGES);
	for (uint32_t i = 0; i < wire->n[0]; i++) {
		struct rte_mbuf *m = wire->pkts[0][i];
		struct rte_ipv4_hdr *ip = rte_pktmbuf_mtod_offset(m, struct rte_ipv4_hdr *, 14);
		struct rte_udp_hdr *udp = (struct rte_udp_hdr *)(ip + 1);
		const uint8_t *gpe = (const uint8_t *)(udp + 1);
		uint16_t ck = ip->hdr_checksum;
		ip->hdr_checksum = 0;
		assert_int_equal(rte_ipv4_cksum(ip), ck);
		ip->hdr_checksum = ck;
		assert_int_equal(rte_be_to_cpu_16(ip->total_length), m->pkt_len - 14);
		assert_int_equal(rte_be_to_cpu_16(udp->dgram_len), m->pkt_len - 34);
		assert_int_equal(rte_be_to_cpu_16(udp->dst_port), 4790);
		assert_int_equal(ip->dst_addr, rte_cpu_to_be_32(0xc0000202));
		assert_int_equal(gpe[3], 4);
		assert_int_equal(gpe[6], 42);
		assert_int_equal((uint32_t)gpe[12] << 16 | gpe[13] << 8 | gpe[14], 1000 + i / 2);
	}
	/* what tcpdump makes of it: VXLAN-GPE carrying NSH carrying the frame */
	bool have_tools = test_have_tool("tcpdump") && test_have_tool("tshark");
	if (have_tools) {
		assert_int_equal(ctl("module add cap capture"), 0);
		assert_int_equal(ctl("module add sink2 collect"), 0);
		assert_int_equal(ctl("connect cap sink2"), 0);
		snprintf(f, sizeof(f), "%s/gpe.pcap", dir);
		assert_int_equal(ctl("module cmd cap start file=%s count=%d", f, 2 * EDGES), 0);
		struct e2_batch b;
		take("wire", 0, &b);
		push(&dp, "cap", &b);
		struct collect *s2 = collected(&dp, "sink2");
		memcpy(wire->pkts[0], s2->pkts[0], s2->n[0] * sizeof(void *));
		wire->n[0] = s2->n[0];
		s2->n[0] = 0;
		snprintf(
			cmd, sizeof(cmd),
			"tcpdump -r %s -nn -v 2>/dev/null > %s/gpe.txt && "
			"grep -c '192.0.2.1.[0-9]* > 192.0.2.2.4790: VXLAN-GPE, flags \\[IP\\], vni 42' %s/gpe.txt | grep -qx 16 && "
			"grep -c 'NSH, .*service-path-id 0x0003e[89], service-index 0xff' %s/gpe.txt | grep -qx 4",
			f, dir, dir, dir);
		/* Wireshark: VNI, SPI per edge, E2's TLV types on the odd edges */
		char ts[512];
		snprintf(
			ts, sizeof(ts),
			"tshark -r %s -T fields -e vxlan.vni -e nsh.spi -e nsh.metadatatype 2>/dev/null > %s/ts.txt && "
			"grep -c '^42.100[0246].$' %s/ts.txt | grep -qx 8 && "
			"grep -c '^42.100[1357].1,40$' %s/ts.txt | grep -qx 8",
			f, dir, dir, dir);
		assert_int_equal(system(ts), 0);
		if (getenv("E2_KEEP_PCAP")) {
			char cp[256];
			snprintf(cp, sizeof(cp), "cp %s %s", f, getenv("E2_KEEP_PCAP"));
			assert_int_equal(system(cp), 0);
		}
		if (system(cmd) != 0) {
			snprintf(cmd, sizeof(cmd), "tcpdump -r %s -nn -v 2>&1 | head -12 >&2", f);
			assert_int_equal(system(cmd), 0);
			fail_msg("tcpdump does not decode VXLAN-GPE + NSH as expected (output above)");
		}
	}
	check_delivery(orig);
	destroy_all();
	/* the delivery checks above ran; the decode checks did not */
	TEST_SKIP_WITHOUT("tcpdump");
	TEST_SKIP_WITHOUT("tshark");
}

static void test_tunnel_refusals(void **state)
{
	struct e2_batch b;
	assert_int_equal(ctl("module add te tunnel_encap dst=02:00:00:00:00:aa"), 0);
	assert_int_equal(ctl("module add td tunnel_decap"), 0);
	assert_int_equal(ctl("module add c collect"), 0);
	assert_int_equal(ctl("connect te c:0"), 0);
	assert_int_equal(ctl("connect td:0 c:1"), 0);
	assert_int_equal(ctl("connect td:1 c:2"), 0);
	assert_int_equal(ctl("module cmd te edge igate=0 spi=7"), 0);
	assert_int_equal(ctl("module cmd td edge spi=7 gate=1"), 0);
	assert_int_not_equal(ctl("module add x tunnel_encap"), 0);
	assert_int_not_equal(ctl("module add x tunnel_encap dst=nonsense"), 0);
	assert_int_not_equal(ctl("module add x tunnel_encap dst=02:00:00:00:00:aa transport=gre"), 0);
	assert_int_not_equal(ctl("module add x tunnel_encap dst=02:00:00:00:00:aa transport=vxlan-gpe"), 0);
	assert_int_not_equal(
		ctl("module add x tunnel_encap dst=02:00:00:00:00:aa transport=vxlan-gpe src_ip=1.2.3 dst_ip=1.2.3.4"),
		0);
	assert_int_not_equal(ctl("module add x tunnel_encap dst=02:00:00:00:00:aa vni=3"), 0);
	assert_int_not_equal(ctl("module cmd te edge igate=1 spi=7"), 0);
	assert_int_not_equal(ctl("module cmd te edge igate=64 spi=8"), 0);
	assert_int_not_equal(ctl("module cmd te edge igate=1 spi=0x1000000"), 0);
	assert_int_not_equal(ctl("module cmd te edge igate=1"), 0);
	assert_int_not_equal(ctl("module cmd te edge_del igate=5"), 0);
	assert_int_not_equal(ctl("module cmd td edge spi=7 gate=2"), 0);
	assert_int_not_equal(ctl("module cmd td edge spi=8 gate=64"), 0);
	assert_int_not_equal(ctl("module cmd td edge spi=8"), 0);
	assert_int_not_equal(ctl("module cmd td edge_del spi=8"), 0);
	/* unchanged: spi 7 still goes through; an igate without an edge drops */
	b.cnt = 1;
	b.pkts[0] = make_udp(dp.pool, "02:00:00:00:00:01", 1, 2, 3, 4, 60);
	push_to(&dp, "te", 1, &b);
	assert_int_equal(e2_dp_module_find(&dp, "te")->drops, 1);
	b.cnt = 1;
	b.pkts[0] = make_udp(dp.pool, "02:00:00:00:00:01", 1, 2, 3, 4, 60);
	push_to(&dp, "te", 0, &b);
	take("c", 0, &b);
	/* plus a frame that is not a tunnel frame, and one with a broken NSH header */
	b.pkts[b.cnt++] = make_udp(dp.pool, "02:00:00:00:00:01", 1, 2, 3, 4, 60);
	struct rte_mbuf *broken = make_udp(dp.pool, "02:00:00:00:00:01", 1, 2, 3, 4, 60);
	rte_pktmbuf_mtod(broken, uint8_t *)[12] = 0x89;
	rte_pktmbuf_mtod(broken, uint8_t *)[13] = 0x4f;
	b.pkts[b.cnt++] = broken;
	push(&dp, "td", &b);
	assert_int_equal(collected(&dp, "c")->n[2], 1);
	assert_int_equal(collected(&dp, "c")->n[1], 1);
	assert_int_equal(e2_dp_module_find(&dp, "td")->drops, 1);
	assert_int_equal(ctl("module cmd te edge_del igate=0"), 0);
	assert_int_equal(ctl("module cmd td edge_del spi=7"), 0);
	destroy_all();
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_tunnel_eth),
		cmocka_unit_test(test_tunnel_vxlan_gpe),
		cmocka_unit_test(test_tunnel_refusals),
	};
	return test_exit_status(cmocka_run_group_tests(tests, setup, teardown));
}
