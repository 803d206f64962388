/* SPDX-License-Identifier: BSD-3-Clause */
/* Flow keys shared by flowhash and rangesplit: a chosen subset of the IPv4 or IPv6
 * 5-tuple, addresses optionally cut to a prefix, read from a frame into the key that
 * e2/flowid.h (common/) hashes into E2's flow ID, the one definition the controller
 * shares (see vswitch/README-modules.md, "Flow IDs").
 *
 * Proto is the IPv4 protocol or the IPv6 upper-layer header after the extension
 * headers. Frames that are neither IPv4 nor IPv6 (or too short for their IP header)
 * hash as if every field were 0 with IPv4 widths; fragments (first or later) take
 * ports 0, so they stay together. */
#ifndef E2D_FLOWKEY_H
#define E2D_FLOWKEY_H

#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <rte_byteorder.h>
#include <rte_ether.h>
#include <rte_ip.h>
#include <rte_mbuf.h>

#include "../module.h"
#include "e2/flowid.h"

/* Extension headers walked to find an IPv6 frame's upper-layer header; a longer chain
 * ends the walk (proto is then the header that was not walked, ports 0). */
#define E2_FLOW_IP6_EXT_MAX 8

struct e2_flow_fields {
	bool src, dst, proto, sport, dport;
	unsigned sel;                        /* the same as E2_FLOW_* bits, for e2_flow_hash() */
	uint32_t src_mask, dst_mask;         /* IPv4, network byte order */
	uint64_t src_mask6[2], dst_mask6[2]; /* IPv6, in frame byte order */
};

#define E2_FLOW_FIELDS_HELP "fields=F,... of src[/LEN4][:LEN6] dst[/LEN4][:LEN6] proto sport dport (all five)"

/* The first `len` bits set, as `n` bytes in network (frame) order. */
static inline void e2_flow_prefix_mask(unsigned long len, uint8_t *mask, size_t n)
{
	for (size_t i = 0; i<n; i++, len = len> 8 ? len - 8 : 0)
		mask[i] = (uint8_t)(len >= 8 ? 0xff : 0xff00 >> len);
}

/* Parses a decimal prefix length in [0, max] from s (the whole string). */
static inline int e2_flow_prefix_len(const char *s, unsigned long max, unsigned long *len)
{
	char *end;
	if (*s < '0' || *s > '9')
		return -1;
	*len = strtoul(s, &end, 10);
	return *end || *len > max ? -1 : 0;
}

/* "/LEN4", "/LEN4:LEN6" or "/:LEN6" after src or dst: IPv4 length 0..32 (32 if left
 * out), IPv6 length 0..128 (128 if left out). An IPv4 length never applies to IPv6. */
static inline int e2_flow_prefix_parse(const char *tok, const char *spec, uint32_t *mask4, uint64_t *mask6, char *err)
{
	unsigned long len4 = 32, len6 = 128;
	char buf[64];
	char *colon;

	if (spec) {
		if (strlen(spec) >= sizeof(buf)) {
			snprintf(err, E2_ERR_MAX, "field '%s/%.20s...': the prefix length is too long", tok, spec);
			return -1;
		}
		snprintf(buf, sizeof(buf), "%s", spec);
		colon = strchr(buf, ':');
		if (colon)
			*colon = '\0';
		if ((buf[0] || !colon) && e2_flow_prefix_len(buf, 32, &len4) != 0) {
			snprintf(err, E2_ERR_MAX,
				 "field '%s/%s': the IPv4 prefix length must be 0..32 (an IPv6 one goes after "
				 "':', as %s/24:64 or %s/:64)",
				 tok, spec, tok, tok);
			return -1;
		}
		if (colon && e2_flow_prefix_len(colon + 1, 128, &len6) != 0) {
			snprintf(err, E2_ERR_MAX, "field '%s/%s': the IPv6 prefix length after ':' must be 0..128", tok,
				 spec);
			return -1;
		}
	}
	e2_flow_prefix_mask(len4, (uint8_t *)mask4, sizeof(*mask4));
	e2_flow_prefix_mask(len6, (uint8_t *)mask6, 2 * sizeof(*mask6));
	return 0;
}

/* Parses "src/24:64,dst,proto" (NULL or empty: the whole 5-tuple). */
static inline int e2_flow_fields_parse(const char *spec, struct e2_flow_fields *f, char *err)
{
	char buf[128], *save = NULL;

	memset(f, 0, sizeof(*f));
	if (!spec || !*spec)
		spec = "src,dst,proto,sport,dport";
	if (strlen(spec) >= sizeof(buf)) {
		snprintf(err, E2_ERR_MAX, "fields=%.40s... is too long", spec);
		return -1;
	}
	snprintf(buf, sizeof(buf), "%s", spec);
	for (char *tok = strtok_r(buf, ",", &save); tok; tok = strtok_r(NULL, ",", &save)) {
		char *slash = strchr(tok, '/');
		bool *sel = NULL;
		uint32_t *mask = NULL;
		uint64_t *mask6 = NULL;

		if (slash)
			*slash = '\0';
		if (strcmp(tok, "src") == 0) {
			sel = &f->src;
			mask = &f->src_mask;
			mask6 = f->src_mask6;
		} else if (strcmp(tok, "dst") == 0) {
			sel = &f->dst;
			mask = &f->dst_mask;
			mask6 = f->dst_mask6;
		} else if (strcmp(tok, "proto") == 0) {
			sel = &f->proto;
		} else if (strcmp(tok, "sport") == 0) {
			sel = &f->sport;
		} else if (strcmp(tok, "dport") == 0) {
			sel = &f->dport;
		} else {
			snprintf(err, E2_ERR_MAX,
				 "unknown flow field '%s' (known: src[/LEN4][:LEN6] dst[/LEN4][:LEN6] proto sport "
				 "dport)",
				 tok);
			return -1;
		}
		if (slash && !mask) {
			snprintf(err, E2_ERR_MAX, "field '%s' takes no prefix length", tok);
			return -1;
		}
		if (*sel) {
			snprintf(err, E2_ERR_MAX, "flow field '%s' given twice", tok);
			return -1;
		}
		*sel = true;
		if (mask && e2_flow_prefix_parse(tok, slash ? slash + 1 : NULL, mask, mask6, err) != 0)
			return -1;
	}
	if (!f->src && !f->dst && !f->proto && !f->sport && !f->dport) {
		snprintf(err, E2_ERR_MAX, "fields= selects no field");
		return -1;
	}
	f->sel = (f->src ? E2_FLOW_SRC : 0) | (f->dst ? E2_FLOW_DST : 0) | (f->proto ? E2_FLOW_PROTO : 0) |
		 (f->sport ? E2_FLOW_SPORT : 0) | (f->dport ? E2_FLOW_DPORT : 0);
	return 0;
}

static inline bool e2_flow_has_ports(uint8_t proto)
{
	return proto == IPPROTO_TCP || proto == IPPROTO_UDP || proto == IPPROTO_SCTP;
}

static inline void e2_flow_ports_get(const struct rte_mbuf *m, uint32_t off, const struct e2_flow_fields *f,
				     struct e2_flow_key *k)
{
	uint16_t ports[2];
	const void *p = rte_pktmbuf_read(m, off, sizeof(ports), ports);
	if (p) {
		memcpy(ports, p, sizeof(ports)); /* p may be odd: frames need not start aligned */
		if (f->sport)
			k->sport = ports[0];
		if (f->dport)
			k->dport = ports[1];
	}
}

/* The IPv6 part of e2_flow_key_get. The walk stops at the first header that is not
 * hop-by-hop, routing, destination options or an atomic fragment (offset 0, M clear),
 * or that does not fit in the frame, or after E2_FLOW_IP6_EXT_MAX headers; proto is
 * that header's type. A real fragment ends the walk too, so every piece of a datagram
 * gets its fragment header's next header as proto and ports 0. */
static inline void e2_flow_key_get6(const struct rte_mbuf *m, const struct e2_flow_fields *f, struct e2_flow_key *k)
{
	uint8_t hdr[sizeof(struct rte_ipv6_hdr)];
	const struct rte_ipv6_hdr *ip = rte_pktmbuf_read(m, sizeof(struct rte_ether_hdr), sizeof(hdr), hdr);
	uint32_t off = sizeof(struct rte_ether_hdr) + sizeof(*ip);
	uint8_t proto;
	bool ports = true;

	if (unlikely(!ip))
		return;
	if (f->src || f->dst) {
		uint64_t a[4];
		/* src_addr and dst_addr are adjacent */
		memcpy(a, (const uint8_t *)ip + offsetof(struct rte_ipv6_hdr, src_addr), sizeof(a));
		k->addr6 = 1;
		k->a6.src[0] = a[0] & f->src_mask6[0];
		k->a6.src[1] = a[1] & f->src_mask6[1];
		k->a6.dst[0] = a[2] & f->dst_mask6[0];
		k->a6.dst[1] = a[3] & f->dst_mask6[1];
	}
	if (!f->proto && !f->sport && !f->dport)
		return;
	proto = ip->proto;
	for (int n = 0;; n++) {
		uint8_t ext_buf[4];
		const uint8_t *ext;

		if (proto != IPPROTO_HOPOPTS && proto != IPPROTO_ROUTING && proto != IPPROTO_DSTOPTS &&
		    proto != IPPROTO_FRAGMENT)
			break;
		ext = n < E2_FLOW_IP6_EXT_MAX ? rte_pktmbuf_read(m, off, sizeof(ext_buf), ext_buf) : NULL;
		if (!ext) {
			ports = false;
			break;
		}
		if (proto == IPPROTO_FRAGMENT) {
			uint16_t frag_data;
			memcpy(&frag_data, ext + 2, sizeof(frag_data));
			proto = ext[0];
			if (frag_data & rte_cpu_to_be_16(RTE_IPV6_FRAG_USED_MASK)) {
				ports = false;
				break;
			}
			off += RTE_IPV6_FRAG_HDR_SIZE;
		} else {
			proto = ext[0];
			off += (ext[1] + 1u) * 8;
		}
	}
	if (f->proto)
		k->proto = proto;
	if ((f->sport || f->dport) && ports && e2_flow_has_ports(proto))
		e2_flow_ports_get(m, off, f, k);
}

static inline void e2_flow_key_get(const struct rte_mbuf *m, const struct e2_flow_fields *f, struct e2_flow_key *k)
{
	uint8_t hdr[sizeof(struct rte_ether_hdr) + sizeof(struct rte_ipv4_hdr)];
	const struct rte_ether_hdr *eth = rte_pktmbuf_read(m, 0, sizeof(hdr), hdr);
	const struct rte_ipv4_hdr *ip;

	memset(k, 0, sizeof(*k));
	if (unlikely(!eth))
		return;
	if (unlikely(eth->ether_type != rte_cpu_to_be_16(RTE_ETHER_TYPE_IPV4))) {
		if (eth->ether_type == rte_cpu_to_be_16(RTE_ETHER_TYPE_IPV6))
			e2_flow_key_get6(m, f, k);
		return;
	}
	ip = (const struct rte_ipv4_hdr *)(eth + 1);
	k->a4.src = ip->src_addr & f->src_mask;
	k->a4.dst = ip->dst_addr & f->dst_mask;
	if (f->proto)
		k->proto = ip->next_proto_id;
	if ((f->sport || f->dport) && e2_flow_has_ports(ip->next_proto_id) &&
	    !(ip->fragment_offset & rte_cpu_to_be_16(RTE_IPV4_HDR_MF_FLAG | RTE_IPV4_HDR_OFFSET_MASK)))
		e2_flow_ports_get(m, sizeof(*eth) + (ip->version_ihl & 0xf) * 4u, f, k);
}

#endif
