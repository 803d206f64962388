/* SPDX-License-Identifier: BSD-3-Clause */
#include "firewall.h"

#include <netinet/in.h>
#include <string.h>
#include "e2/bytes.h"

#define ETHERTYPE_IPV4 0x0800
#define ETHERTYPE_IPV6 0x86dd
#define ETHERTYPE_VLAN 0x8100
#define ETHERTYPE_QINQ 0x88a8

/* Ports and flags of the L4 header at p (len bytes available). */
static enum frame_kind parse_l4(const uint8_t *p, size_t len, struct fw_tuple *t, uint8_t *tcp_flags)
{
	switch (t->proto) {
	case IPPROTO_TCP:
		if (len < 20)
			return FRAME_MALFORMED;
		*tcp_flags = p[13];
		/* fallthrough */
	case IPPROTO_UDP:
	case IPPROTO_SCTP:
		if (len < 8)
			return FRAME_MALFORMED;
		t->sport = e2_get_be16(p);
		t->dport = e2_get_be16(p + 2);
		break;
	case IPPROTO_ICMP:
	case IPPROTO_ICMPV6:
		/* Echo id as a port, request id on the source side and reply id on the
         * destination side, so a reply is the reverse of its request but a request
         * from the other end is a new flow of its own. */
		if (len >= 8) {
			uint8_t type = p[0];
			if (type == 8 || type == 128)
				t->sport = e2_get_be16(p + 4);
			else if (type == 0 || type == 129)
				t->dport = e2_get_be16(p + 4);
		}
		break;
	default: break;
	}
	return FRAME_IP;
}

static enum frame_kind parse_ipv4(const uint8_t *p, size_t len, struct fw_tuple *t, uint8_t *tcp_flags)
{
	if (len < 20 || p[0] >> 4 != 4)
		return FRAME_MALFORMED;
	size_t ihl = (size_t)(p[0] & 0x0f) * 4;
	if (ihl < 20 || ihl > len)
		return FRAME_MALFORMED;
	t->family = 4;
	t->proto = p[9];
	memcpy(t->src, p + 12, 4);
	memcpy(t->dst, p + 16, 4);
	if (e2_get_be16(p + 6) & 0x1fff) /* fragment offset: no L4 header here */
		return FRAME_MALFORMED;
	return parse_l4(p + ihl, len - ihl, t, tcp_flags);
}

static enum frame_kind parse_ipv6(const uint8_t *p, size_t len, struct fw_tuple *t, uint8_t *tcp_flags)
{
	if (len < 40 || p[0] >> 4 != 6)
		return FRAME_MALFORMED;
	t->family = 6;
	memcpy(t->src, p + 8, 16);
	memcpy(t->dst, p + 24, 16);
	uint8_t next = p[6];
	size_t off = 40;
	for (int hops = 0; hops < 8; hops++) {
		if (next == 0 || next == 43 || next == 60) { /* hop-by-hop, routing, dest opts */
			if (off + 8 > len)
				return FRAME_MALFORMED;
			next = p[off];
			off += ((size_t)p[off + 1] + 1) * 8;
		} else if (next == 44) { /* fragment header */
			if (off + 8 > len)
				return FRAME_MALFORMED;
			if (e2_get_be16(p + off + 2) & 0xfff8)
				return FRAME_MALFORMED;
			next = p[off];
			off += 8;
		} else {
			break;
		}
	}
	if (off > len || next == 0 || next == 43 || next == 60 || next == 44)
		return FRAME_MALFORMED;
	t->proto = next;
	return parse_l4(p + off, len - off, t, tcp_flags);
}

enum frame_kind frame_parse(const uint8_t *frame, size_t len, struct fw_tuple *t, uint8_t *tcp_flags)
{
	memset(t, 0, sizeof(*t));
	*tcp_flags = 0;
	if (len < 14)
		return FRAME_MALFORMED;
	size_t off = 12;
	uint16_t type = e2_get_be16(frame + off);
	for (int tags = 0; (type == ETHERTYPE_VLAN || type == ETHERTYPE_QINQ) && tags < 2; tags++) {
		off += 4;
		if (off + 2 > len)
			return FRAME_MALFORMED;
		type = e2_get_be16(frame + off);
	}
	off += 2;
	if (type == ETHERTYPE_IPV4)
		return parse_ipv4(frame + off, len - off, t, tcp_flags);
	if (type == ETHERTYPE_IPV6)
		return parse_ipv6(frame + off, len - off, t, tcp_flags);
	return FRAME_NON_IP;
}

int firewall_init(struct firewall *fw, struct fw_ruleset *rules, uint32_t ct_capacity,
		  const struct ct_timeouts *timeouts)
{
	memset(fw, 0, sizeof(*fw));
	if (ct_init(&fw->ct, ct_capacity, timeouts))
		return -1;
	fw->rules = *rules;
	memset(rules, 0, sizeof(*rules));
	return 0;
}

void firewall_free(struct firewall *fw)
{
	ct_free(&fw->ct);
	fw_rules_free(&fw->rules);
}

enum fw_action firewall_check(struct firewall *fw, const uint8_t *frame, size_t len, uint64_t now_ms)
{
	struct fw_tuple t;
	uint8_t flags;
	switch (frame_parse(frame, len, &t, &flags)) {
	case FRAME_NON_IP:
		if (fw->rules.non_ip_action == FW_ALLOW) {
			fw->stats.passed_non_ip++;
			return FW_ALLOW;
		}
		fw->stats.dropped_non_ip++;
		return FW_DROP;
	case FRAME_MALFORMED: fw->stats.dropped_malformed++; return FW_DROP;
	case FRAME_IP: break;
	}
	switch (ct_lookup(&fw->ct, &t, flags, now_ms)) {
	case CT_PASS_ESTABLISHED: fw->stats.passed_established++; return FW_ALLOW;
	case CT_INVALID: fw->stats.dropped_invalid++; return FW_DROP;
	case CT_NEW: break;
	}
	if (fw_rules_decide(&fw->rules, &t, NULL) != FW_ALLOW) {
		fw->stats.dropped_rule++;
		return FW_DROP;
	}
	if (!ct_insert(&fw->ct, &t, now_ms)) {
		fw->stats.dropped_table_full++;
		return FW_DROP;
	}
	fw->stats.allowed_new++;
	return FW_ALLOW;
}
