/* SPDX-License-Identifier: BSD-3-Clause */
/* The TCP segment in a frame, for the stream NFs (e2nf-reasm, e2nf-ids): IPv4, past an
 * NSH header if there is one, payload bounded by the IP total length (not the padding). */
#ifndef E2NF_TCP_SEGMENT_H
#define E2NF_TCP_SEGMENT_H

#include <netinet/in.h>

#include <rte_byteorder.h>
#include <rte_ether.h>
#include <rte_ip.h>
#include <rte_mbuf.h>
#include <rte_tcp.h>

#include "e2/nf.h"
#include "e2/nf_stream.h"

/* 1: a TCP segment (p filled, addresses and ports in host order); 0: not TCP over
 * IPv4, or a fragment; -1: truncated or malformed. Only the first mbuf segment is read. */
static inline int e2nf_tcp_segment(const struct rte_mbuf *m, struct e2_stream_pkt *p)
{
	int off = e2nf_inner_offset(m);
	if (off < 0)
		return -1;
	const uint8_t *d = rte_pktmbuf_mtod(m, const uint8_t *);
	uint32_t dl = m->data_len;
	if ((uint32_t)off + sizeof(struct rte_ether_hdr) > dl)
		return -1;
	const struct rte_ether_hdr *e = (const struct rte_ether_hdr *)(d + off);
	if (e->ether_type != rte_cpu_to_be_16(RTE_ETHER_TYPE_IPV4))
		return 0;
	uint32_t ip_at = (uint32_t)off + sizeof(*e);
	if (ip_at + sizeof(struct rte_ipv4_hdr) > dl)
		return -1;
	const struct rte_ipv4_hdr *ip = (const struct rte_ipv4_hdr *)(d + ip_at);
	uint32_t ihl = (ip->version_ihl & 0xf) * 4u, tot = rte_be_to_cpu_16(ip->total_length);
	if ((ip->version_ihl >> 4) != 4 || ihl < 20 || tot < ihl || ip_at + tot > dl)
		return -1;
	if (ip->next_proto_id != IPPROTO_TCP ||
	    (rte_be_to_cpu_16(ip->fragment_offset) & (RTE_IPV4_HDR_OFFSET_MASK | RTE_IPV4_HDR_MF_FLAG)))
		return 0;
	if (tot < ihl + sizeof(struct rte_tcp_hdr))
		return -1;
	const struct rte_tcp_hdr *t = (const struct rte_tcp_hdr *)(d + ip_at + ihl);
	uint32_t thl = (t->data_off >> 4) * 4u;
	if (thl < 20 || ihl + thl > tot)
		return -1;
	p->t.saddr = rte_be_to_cpu_32(ip->src_addr);
	p->t.daddr = rte_be_to_cpu_32(ip->dst_addr);
	p->t.sport = rte_be_to_cpu_16(t->src_port);
	p->t.dport = rte_be_to_cpu_16(t->dst_port);
	p->seq = rte_be_to_cpu_32(t->sent_seq);
	p->flags = t->tcp_flags;
	p->data = d + ip_at + ihl + thl;
	p->len = tot - ihl - thl;
	return 1;
}

#endif
