/* Flow keys shared by flowhash and rangesplit: a chosen subset of the IPv4 5-tuple,
 * addresses optionally cut to a prefix, and the flow hash a hardware switch can also
 * compute (see vswitch/README-modules.md, "Flow IDs"):
 *
 *   flow_id = CRC32C(selected fields, in the order src dst proto sport dport, each in
 *             network byte order after masking) & (2^bits - 1)
 *
 * CRC32C is the Castagnoli CRC (iSCSI, SCTP): reflected polynomial 0x82F63B78,
 * initial value 0xFFFFFFFF, final XOR 0xFFFFFFFF. Frames that are not IPv4 hash as if
 * every field were 0; fragments (first or later) take ports 0, so they stay together. */
#ifndef E2D_FLOWKEY_H
#define E2D_FLOWKEY_H

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <rte_byteorder.h>
#include <rte_ether.h>
#include <rte_hash_crc.h>
#include <rte_ip.h>
#include <rte_mbuf.h>

#include "../module.h"

/* Every field in network byte order; fields not selected are 0. */
struct e2_flow_key {
	uint32_t src, dst;
	uint16_t sport, dport;
	uint8_t proto;
	uint8_t pad[3];
};

struct e2_flow_fields {
	bool src, dst, proto, sport, dport;
	uint32_t src_mask, dst_mask; /* network byte order */
};

#define E2_FLOW_FIELDS_HELP "fields=F,... of src[/LEN] dst[/LEN] proto sport dport (all five)"

/* Parses "src/24,dst,proto" (NULL or empty: the whole 5-tuple). */
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
		unsigned long len = 32;
		bool *sel = NULL;
		uint32_t *mask = NULL;

		if (slash) {
			char *end;
			*slash = '\0';
			len = strtoul(slash + 1, &end, 10);
			if (end == slash + 1 || *end || len > 32) {
				snprintf(err, E2_ERR_MAX, "field '%s/%s': prefix length must be 0..32", tok, slash + 1);
				return -1;
			}
		}
		if (strcmp(tok, "src") == 0) {
			sel = &f->src;
			mask = &f->src_mask;
		} else if (strcmp(tok, "dst") == 0) {
			sel = &f->dst;
			mask = &f->dst_mask;
		} else if (strcmp(tok, "proto") == 0) {
			sel = &f->proto;
		} else if (strcmp(tok, "sport") == 0) {
			sel = &f->sport;
		} else if (strcmp(tok, "dport") == 0) {
			sel = &f->dport;
		} else {
			snprintf(err, E2_ERR_MAX, "unknown flow field '%s' (known: src[/LEN] dst[/LEN] proto sport dport)",
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
		if (mask)
			*mask = rte_cpu_to_be_32(len == 0 ? 0 : UINT32_MAX << (32 - len));
	}
	if (!f->src && !f->dst && !f->proto && !f->sport && !f->dport) {
		snprintf(err, E2_ERR_MAX, "fields= selects no field");
		return -1;
	}
	return 0;
}

static inline void e2_flow_key_get(const struct rte_mbuf *m, const struct e2_flow_fields *f,
				   struct e2_flow_key *k)
{
	uint8_t hdr[sizeof(struct rte_ether_hdr) + sizeof(struct rte_ipv4_hdr)];
	const struct rte_ether_hdr *eth = rte_pktmbuf_read(m, 0, sizeof(hdr), hdr);
	const struct rte_ipv4_hdr *ip;

	memset(k, 0, sizeof(*k));
	if (unlikely(!eth || eth->ether_type != rte_cpu_to_be_16(RTE_ETHER_TYPE_IPV4)))
		return;
	ip = (const struct rte_ipv4_hdr *)(eth + 1);
	k->src = ip->src_addr & f->src_mask;
	k->dst = ip->dst_addr & f->dst_mask;
	if (f->proto)
		k->proto = ip->next_proto_id;
	if ((f->sport || f->dport) &&
	    (ip->next_proto_id == IPPROTO_TCP || ip->next_proto_id == IPPROTO_UDP ||
	     ip->next_proto_id == IPPROTO_SCTP) &&
	    !(ip->fragment_offset & rte_cpu_to_be_16(RTE_IPV4_HDR_MF_FLAG | RTE_IPV4_HDR_OFFSET_MASK))) {
		uint16_t ports_buf[2];
		const uint16_t *ports = rte_pktmbuf_read(m, sizeof(*eth) + (ip->version_ihl & 0xf) * 4u,
							 sizeof(ports_buf), ports_buf);
		if (ports) {
			if (f->sport)
				k->sport = ports[0];
			if (f->dport)
				k->dport = ports[1];
		}
	}
}

/* rte_hash_crc_* compute CRC32C without the final inversion; the caller's init and
 * the final XOR make it the standard CRC32C over the selected bytes. */
static inline uint32_t e2_flow_hash(const struct e2_flow_key *k, const struct e2_flow_fields *f)
{
	uint32_t c = 0xFFFFFFFFu;

	if (f->src)
		c = rte_hash_crc_4byte(k->src, c);
	if (f->dst)
		c = rte_hash_crc_4byte(k->dst, c);
	if (f->proto)
		c = rte_hash_crc_1byte(k->proto, c);
	if (f->sport)
		c = rte_hash_crc_2byte(k->sport, c);
	if (f->dport)
		c = rte_hash_crc_2byte(k->dport, c);
	return c ^ 0xFFFFFFFFu;
}

#endif
