/* SPDX-License-Identifier: BSD-3-Clause */
/* Connection tracking and the firewall's packet path, on real frames. */
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <stdint.h>
#include <cmocka.h>

#include <arpa/inet.h>
#include <netinet/in.h>
#include <stdio.h>
#include <string.h>

#include "conntrack.h"
#include "firewall.h"

static struct fw_tuple tup(const char *src, uint16_t sport, const char *dst, uint16_t dport, uint8_t proto)
{
	struct fw_tuple t = {.family = 4, .proto = proto, .sport = sport, .dport = dport};
	inet_pton(AF_INET, src, t.src);
	inet_pton(AF_INET, dst, t.dst);
	return t;
}

static struct fw_tuple rev(struct fw_tuple t)
{
	struct fw_tuple r = t;
	memcpy(r.src, t.dst, 16);
	memcpy(r.dst, t.src, 16);
	r.sport = t.dport;
	r.dport = t.sport;
	return r;
}

static const struct ct_timeouts test_timeouts = {
	.tcp_syn = 1000, .tcp_established = 10000, .tcp_closing = 2000, .other = 5000};

static void tcp_handshake_and_both_directions(void **state)
{
	(void)state;
	struct conntrack ct;
	assert_int_equal(ct_init(&ct, 64, &test_timeouts), 0);
	struct fw_tuple c2s = tup("10.0.0.1", 40000, "10.0.0.2", 80, IPPROTO_TCP);
	/* A mid-stream packet of an unknown connection is invalid; a SYN is new. */
	assert_int_equal(ct_lookup(&ct, &c2s, CT_TCP_ACK, 0), CT_INVALID);
	assert_int_equal(ct_lookup(&ct, &c2s, CT_TCP_SYN | CT_TCP_ACK, 0), CT_INVALID);
	assert_int_equal(ct_lookup(&ct, &c2s, CT_TCP_SYN, 0), CT_NEW);
	assert_true(ct_insert(&ct, &c2s, 0));
	assert_int_equal(ct.used, 1);
	struct fw_tuple s2c = rev(c2s);
	assert_int_equal(ct_lookup(&ct, &s2c, CT_TCP_SYN | CT_TCP_ACK, 10), CT_PASS_ESTABLISHED);
	assert_int_equal(ct_lookup(&ct, &c2s, CT_TCP_ACK, 20), CT_PASS_ESTABLISHED);
	/* Established flows live for tcp_established, not tcp_syn. */
	assert_int_equal(ct_lookup(&ct, &c2s, CT_TCP_ACK, 9000), CT_PASS_ESTABLISHED);
	/* FIN shortens the timeout to tcp_closing. */
	assert_int_equal(ct_lookup(&ct, &s2c, CT_TCP_FIN | CT_TCP_ACK, 9100), CT_PASS_ESTABLISHED);
	assert_int_equal(ct_lookup(&ct, &c2s, CT_TCP_ACK, 12000), CT_INVALID);
	assert_int_equal(ct.used, 0);
	ct_free(&ct);
}

static void unanswered_syn_expires(void **state)
{
	(void)state;
	struct conntrack ct;
	assert_int_equal(ct_init(&ct, 64, &test_timeouts), 0);
	struct fw_tuple t = tup("10.0.0.1", 1234, "10.0.0.2", 22, IPPROTO_TCP);
	assert_true(ct_insert(&ct, &t, 0));
	assert_int_equal(ct_expire(&ct, 999), 0);
	assert_int_equal(ct_expire(&ct, 1001), 1);
	assert_int_equal(ct.used, 0);
	ct_free(&ct);
}

static void rst_forgets_the_flow(void **state)
{
	(void)state;
	struct conntrack ct;
	assert_int_equal(ct_init(&ct, 64, &test_timeouts), 0);
	struct fw_tuple t = tup("10.0.0.1", 1234, "10.0.0.2", 22, IPPROTO_TCP);
	assert_true(ct_insert(&ct, &t, 0));
	struct fw_tuple r = rev(t);
	assert_int_equal(ct_lookup(&ct, &r, CT_TCP_RST | CT_TCP_ACK, 5), CT_PASS_ESTABLISHED);
	assert_int_equal(ct.used, 0);
	assert_int_equal(ct_lookup(&ct, &t, CT_TCP_ACK, 6), CT_INVALID);
	ct_free(&ct);
}

static void udp_is_new_then_tracked_until_idle(void **state)
{
	(void)state;
	struct conntrack ct;
	assert_int_equal(ct_init(&ct, 64, &test_timeouts), 0);
	struct fw_tuple q = tup("10.0.0.1", 5353, "8.8.8.8", 53, IPPROTO_UDP);
	assert_int_equal(ct_lookup(&ct, &q, 0, 0), CT_NEW);
	assert_true(ct_insert(&ct, &q, 0));
	struct fw_tuple a = rev(q);
	assert_int_equal(ct_lookup(&ct, &a, 0, 4000), CT_PASS_ESTABLISHED);
	assert_int_equal(ct_lookup(&ct, &a, 0, 8000), CT_PASS_ESTABLISHED); /* refreshed at 4000 */
	assert_int_equal(ct_lookup(&ct, &a, 0, 13001), CT_NEW);
	ct_free(&ct);
}

static void full_table_refuses_then_reclaims(void **state)
{
	(void)state;
	struct conntrack ct;
	assert_int_equal(ct_init(&ct, 16, &test_timeouts), 0); /* room for 12 */
	char ip[32];
	unsigned inserted = 0;
	for (unsigned i = 0; i < 20; i++) {
		snprintf(ip, sizeof(ip), "10.0.%u.%u", i / 250, i % 250 + 1);
		struct fw_tuple t = tup(ip, (uint16_t)(1000 + i), "10.1.0.1", 53, IPPROTO_UDP);
		inserted += ct_insert(&ct, &t, 0);
	}
	assert_int_equal(inserted, 12);
	assert_int_equal(ct.used, 12);
	/* Every inserted flow is still found in both directions despite collisions. */
	for (unsigned i = 0; i < 12; i++) {
		snprintf(ip, sizeof(ip), "10.0.%u.%u", i / 250, i % 250 + 1);
		struct fw_tuple t = tup(ip, (uint16_t)(1000 + i), "10.1.0.1", 53, IPPROTO_UDP);
		struct fw_tuple r = rev(t);
		assert_int_equal(ct_lookup(&ct, &r, 0, 1), CT_PASS_ESTABLISHED);
	}
	struct fw_tuple late = tup("10.9.9.9", 1, "10.1.0.1", 53, IPPROTO_UDP);
	assert_false(ct_insert(&ct, &late, 100));
	assert_true(ct_insert(&ct, &late, 6000)); /* the others expired */
	assert_int_equal(ct.used, 1);
	ct_free(&ct);
}

static void deletion_keeps_probe_chains_intact(void **state)
{
	(void)state;
	struct conntrack ct;
	assert_int_equal(ct_init(&ct, 1024, &test_timeouts), 0);
	char ip[32];
	/* Insert 600 flows at staggered times, expire half, check the rest still resolve. */
	for (unsigned i = 0; i < 600; i++) {
		snprintf(ip, sizeof(ip), "10.%u.%u.1", i / 200, i % 200);
		struct fw_tuple t = tup(ip, 7, "10.200.0.1", 9, IPPROTO_UDP);
		assert_true(ct_insert(&ct, &t, i % 2 ? 0 : 4000));
	}
	assert_int_equal(ct_expire(&ct, 5500), 300);
	for (unsigned i = 0; i < 600; i++) {
		snprintf(ip, sizeof(ip), "10.%u.%u.1", i / 200, i % 200);
		struct fw_tuple t = tup(ip, 7, "10.200.0.1", 9, IPPROTO_UDP);
		assert_int_equal(ct_lookup(&ct, &t, 0, 5500), i % 2 ? CT_NEW : CT_PASS_ESTABLISHED);
	}
	ct_free(&ct);
}

/* ---- whole frames through the firewall ---- */

static size_t build_frame(uint8_t *f, const char *src, uint16_t sport, const char *dst, uint16_t dport, uint8_t proto,
			  uint8_t tcp_flags, int vlan)
{
	memset(f, 0, 128);
	size_t off = 12;
	if (vlan) {
		f[off] = 0x81, f[off + 1] = 0x00, f[off + 3] = 7;
		off += 4;
	}
	f[off] = 0x08, f[off + 1] = 0x00;
	off += 2;
	uint8_t *ip = f + off;
	ip[0] = 0x45;
	ip[9] = proto;
	inet_pton(AF_INET, src, ip + 12);
	inet_pton(AF_INET, dst, ip + 16);
	uint8_t *l4 = ip + 20;
	l4[0] = (uint8_t)(sport >> 8), l4[1] = (uint8_t)sport;
	l4[2] = (uint8_t)(dport >> 8), l4[3] = (uint8_t)dport;
	l4[13] = tcp_flags;
	return off + 20 + 20;
}

static void firewall_allows_replies_blocks_unsolicited(void **state)
{
	(void)state;
	struct fw_ruleset rs;
	char err[128];
	const char *rules = "allow tcp from 10.0.0.0/24 to any port 80\ndefault drop\n";
	assert_int_equal(fw_rules_parse(rules, strlen(rules), "t", &rs, err, sizeof(err)), 0);
	struct firewall fw;
	assert_int_equal(firewall_init(&fw, &rs, 256, &test_timeouts), 0);
	uint8_t f[128];
	size_t n;
	n = build_frame(f, "10.0.0.1", 40000, "10.0.1.2", 80, IPPROTO_TCP, CT_TCP_SYN, 0);
	assert_int_equal(firewall_check(&fw, f, n, 0), FW_ALLOW);
	n = build_frame(f, "10.0.1.2", 80, "10.0.0.1", 40000, IPPROTO_TCP, CT_TCP_SYN | CT_TCP_ACK,
			1); /* VLAN-tagged reply */
	assert_int_equal(firewall_check(&fw, f, n, 1), FW_ALLOW);
	/* The server may not open connections back to the client. */
	n = build_frame(f, "10.0.1.2", 5000, "10.0.0.1", 80, IPPROTO_TCP, CT_TCP_SYN, 0);
	assert_int_equal(firewall_check(&fw, f, n, 2), FW_DROP);
	n = build_frame(f, "10.0.0.1", 40001, "10.0.1.2", 81, IPPROTO_TCP, CT_TCP_SYN, 0);
	assert_int_equal(firewall_check(&fw, f, n, 3), FW_DROP);
	n = build_frame(f, "10.0.0.1", 40002, "10.0.1.2", 80, IPPROTO_TCP, CT_TCP_ACK, 0);
	assert_int_equal(firewall_check(&fw, f, n, 4), FW_DROP); /* no SYN seen */
	assert_int_equal(fw.stats.allowed_new, 1);
	assert_int_equal(fw.stats.passed_established, 1);
	assert_int_equal(fw.stats.dropped_rule, 2);
	assert_int_equal(fw.stats.dropped_invalid, 1);

	uint8_t arp[60] = {[12] = 0x08, [13] = 0x06};
	assert_int_equal(firewall_check(&fw, arp, sizeof(arp), 5), FW_ALLOW);
	assert_int_equal(firewall_check(&fw, arp, 10, 5), FW_DROP); /* runt */
	n = build_frame(f, "10.0.0.1", 40000, "10.0.1.2", 80, IPPROTO_TCP, CT_TCP_SYN, 0);
	assert_int_equal(firewall_check(&fw, f, 14 + 20 + 10, 6), FW_DROP); /* truncated TCP */
	f[14] = 0x4f;                                                       /* IHL beyond frame */
	assert_int_equal(firewall_check(&fw, f, 14 + 40, 6), FW_DROP);
	n = build_frame(f, "10.0.0.1", 40000, "10.0.1.2", 80, IPPROTO_TCP, CT_TCP_SYN, 0);
	f[14 + 6] = 0x00, f[14 + 7] = 0x10; /* fragment offset */
	assert_int_equal(firewall_check(&fw, f, n, 6), FW_DROP);
	assert_int_equal(fw.stats.dropped_malformed, 4);
	firewall_free(&fw);
}

static void ipv6_with_extension_header(void **state)
{
	(void)state;
	uint8_t f[128] = {[12] = 0x86, [13] = 0xdd};
	uint8_t *ip = f + 14;
	ip[0] = 0x60;
	ip[6] = 0; /* hop-by-hop first */
	inet_pton(AF_INET6, "2001:db8::1", ip + 8);
	inet_pton(AF_INET6, "2001:db8::2", ip + 24);
	uint8_t *hbh = ip + 40;
	hbh[0] = IPPROTO_UDP;
	hbh[1] = 0; /* 8 bytes */
	uint8_t *udp = hbh + 8;
	udp[0] = 0x13, udp[1] = 0x88, udp[2] = 0x00, udp[3] = 0x35;
	struct fw_tuple t;
	uint8_t flags;
	assert_int_equal(frame_parse(f, 14 + 40 + 8 + 8, &t, &flags), FRAME_IP);
	assert_int_equal(t.family, 6);
	assert_int_equal(t.proto, IPPROTO_UDP);
	assert_int_equal(t.sport, 5000);
	assert_int_equal(t.dport, 53);
	assert_int_equal(frame_parse(f, 14 + 40 + 4, &t, &flags), FRAME_MALFORMED);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(tcp_handshake_and_both_directions),
		cmocka_unit_test(unanswered_syn_expires),
		cmocka_unit_test(rst_forgets_the_flow),
		cmocka_unit_test(udp_is_new_then_tracked_until_idle),
		cmocka_unit_test(full_table_refuses_then_reclaims),
		cmocka_unit_test(deletion_keeps_probe_chains_intact),
		cmocka_unit_test(firewall_allows_replies_blocks_unsolicited),
		cmocka_unit_test(ipv6_with_extension_header),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
