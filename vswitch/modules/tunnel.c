/* SPDX-License-Identifier: BSD-3-Clause */
/* tunnel_encap / tunnel_decap: many graph edges multiplexed over one link between
 * servers, the edge identity carried as the NSH service path identifier (SPI).
 *
 * tunnel_encap has one input gate per edge (`edge igate=N spi=S`). A frame is wrapped
 * in NSH (RFC 8300, MD type 2, next protocol Ethernet) with the edge's SPI; a frame
 * that already carries NSH keeps its metadata TLVs and only gets the edge's SPI/SI.
 * The transport is either
 *   transport=eth        Ethernet (EtherType 0x894F) | NSH | frame, or
 *   transport=vxlan-gpe  Ethernet | IPv4 | UDP 4790 | VXLAN-GPE (next protocol NSH) |
 *                        NSH | frame, UDP source port from a hash of the inner headers;
 * Wireshark and tcpdump decode both.
 *
 * tunnel_decap recognises both transports, maps the SPI to an output gate
 * (`edge spi=S gate=G`; unknown SPIs and other frames go to the default gate) and
 * gives back the frame as it entered the tunnel: the bare frame when the NSH header
 * carries no TLVs, else NSH over Ethernet with the frame's own MACs, so metadata
 * reaches a native NF intact (nsh_pop removes it before a legacy one). */
#include <inttypes.h>
#include <stdio.h>
#include <string.h>

#include <arpa/inet.h>
#include <rte_hash_crc.h>
#include <rte_ip.h>
#include <rte_udp.h>

#include "../module.h"
#include "nsh.h"

#define VXLAN_GPE_PORT 4790
#define VXLAN_GPE_NP_NSH 0x4
#define GPE_OUTER_LEN (sizeof(struct rte_ether_hdr) + sizeof(struct rte_ipv4_hdr) + sizeof(struct rte_udp_hdr) + 8)
#define MAX_EDGES E2_GATES_MAX

enum transport { T_ETH, T_VXLAN_GPE };

struct edge {
	bool used;
	uint32_t spi;
	uint8_t si;
	uint64_t packets;
};

struct tunnel_encap {
	enum transport transport;
	struct rte_ether_addr dst_mac, src_mac;
	uint32_t src_ip, dst_ip; /* network byte order */
	uint32_t vni;
	struct edge edges[MAX_EDGES]; /* by input gate */
	uint64_t no_edge, malformed, no_room;
};

static int parse_mac(const struct e2_args *a, const char *key, const char *def, struct rte_ether_addr *mac, char *err)
{
	const char *v = e2_args_get(a, key);
	if (!v && !def) {
		snprintf(err, E2_ERR_MAX, "%s=MAC is needed", key);
		return -1;
	}
	if (rte_ether_unformat_addr(v ? v : def, mac) != 0) {
		snprintf(err, E2_ERR_MAX, "%s=%s is not a MAC address", key, v);
		return -1;
	}
	return 0;
}

static int parse_ip(const struct e2_args *a, const char *key, uint32_t *ip, char *err)
{
	const char *v = e2_args_get(a, key);
	struct in_addr in;
	if (!v) {
		snprintf(err, E2_ERR_MAX, "transport=vxlan-gpe needs %s=A.B.C.D", key);
		return -1;
	}
	if (inet_pton(AF_INET, v, &in) != 1) {
		snprintf(err, E2_ERR_MAX, "%s=%s is not an IPv4 address", key, v);
		return -1;
	}
	*ip = in.s_addr;
	return 0;
}

static const char *const encap_known[] = {"transport", "dst", "src", "src_ip", "dst_ip", "vni", NULL};

static int encap_init(struct e2_module *m, const struct e2_args *args, char *err)
{
	struct tunnel_encap *s = e2_priv(m);
	const char *t = e2_args_get(args, "transport");
	uint64_t vni;

	if (parse_mac(args, "dst", NULL, &s->dst_mac, err) ||
	    parse_mac(args, "src", "02:e2:00:00:00:00", &s->src_mac, err) ||
	    e2_args_u64(args, "vni", 0, 0, 0xffffff, &vni, err) < 0)
		return -1;
	s->vni = (uint32_t)vni;
	if (!t || strcmp(t, "eth") == 0) {
		s->transport = T_ETH;
		if (e2_args_get(args, "src_ip") || e2_args_get(args, "dst_ip") || e2_args_get(args, "vni")) {
			snprintf(err, E2_ERR_MAX, "src_ip, dst_ip and vni are for transport=vxlan-gpe");
			return -1;
		}
	} else if (strcmp(t, "vxlan-gpe") == 0) {
		s->transport = T_VXLAN_GPE;
		if (parse_ip(args, "src_ip", &s->src_ip, err) || parse_ip(args, "dst_ip", &s->dst_ip, err))
			return -1;
	} else {
		snprintf(err, E2_ERR_MAX, "transport=%s: use eth or vxlan-gpe", t);
		return -1;
	}
	return 0;
}

/* Replaces the first old_len bytes of the frame by hdr[0..len); -1 if it cannot. */
static int replace_head(struct rte_mbuf *m, uint16_t old_len, const uint8_t *hdr, uint16_t len)
{
	if (old_len > m->data_len || len > old_len + rte_pktmbuf_headroom(m))
		return -1;
	rte_pktmbuf_adj(m, old_len);
	memcpy(rte_pktmbuf_prepend(m, len), hdr, len);
	return 0;
}

static uint16_t build_gpe_outer(const struct tunnel_encap *s, uint8_t *p, const struct rte_mbuf *m, uint16_t inner_len,
				uint16_t nsh_len)
{
	struct rte_ether_hdr *eth = (struct rte_ether_hdr *)p;
	struct rte_ipv4_hdr *ip = (struct rte_ipv4_hdr *)(eth + 1);
	struct rte_udp_hdr *udp = (struct rte_udp_hdr *)(ip + 1);
	uint8_t *gpe = (uint8_t *)(udp + 1);
	uint64_t inner[5] = {0}; /* the inner Ethernet + IPv4 headers, aligned for the CRC */
	uint32_t n = RTE_MIN(34u, m->pkt_len);
	const void *ih = rte_pktmbuf_read(m, 0, n, inner);
	/* source port entropy, so switches spread the tunnel over their paths (RFC 7348) */
	uint32_t h;
	if (ih && ih != inner)
		memcpy(inner, ih, n);
	h = rte_hash_crc(inner, sizeof(inner), 0);
	uint16_t udp_len = (uint16_t)(sizeof(*udp) + 8 + nsh_len + inner_len);

	eth->dst_addr = s->dst_mac;
	eth->src_addr = s->src_mac;
	eth->ether_type = rte_cpu_to_be_16(RTE_ETHER_TYPE_IPV4);
	memset(ip, 0, sizeof(*ip));
	ip->version_ihl = RTE_IPV4_VHL_DEF;
	ip->total_length = rte_cpu_to_be_16((uint16_t)(sizeof(*ip) + udp_len));
	ip->fragment_offset = rte_cpu_to_be_16(RTE_IPV4_HDR_DF_FLAG);
	ip->time_to_live = 64;
	ip->next_proto_id = IPPROTO_UDP;
	ip->src_addr = s->src_ip;
	ip->dst_addr = s->dst_ip;
	ip->hdr_checksum = rte_ipv4_cksum(ip);
	udp->src_port = rte_cpu_to_be_16((uint16_t)(49152 + h % 16384));
	udp->dst_port = rte_cpu_to_be_16(VXLAN_GPE_PORT);
	udp->dgram_len = rte_cpu_to_be_16(udp_len);
	udp->dgram_cksum = 0; /* optional for IPv4 */
	gpe[0] = 0x0c;        /* flags: I (VNI valid) and P (next protocol present) */
	gpe[1] = gpe[2] = 0;
	gpe[3] = VXLAN_GPE_NP_NSH;
	gpe[4] = (uint8_t)(s->vni >> 16);
	gpe[5] = (uint8_t)(s->vni >> 8);
	gpe[6] = (uint8_t)s->vni;
	gpe[7] = 0;
	return (uint16_t)GPE_OUTER_LEN;
}

static void encap_process(struct e2_ctx *ctx, struct e2_module *m, uint16_t igate, struct e2_batch *b)
{
	struct tunnel_encap *s = e2_priv(m);
	struct edge *e = igate < MAX_EDGES ? &s->edges[igate] : NULL;
	uint16_t gates[E2_BATCH_MAX];

	if (unlikely(!e || !e->used)) {
		s->no_edge += b->cnt;
		m->drops += b->cnt;
		e2_free_batch(b);
		return;
	}
	for (uint16_t i = 0; i < b->cnt; i++) {
		struct rte_mbuf *pkt = b->pkts[i];
		uint8_t hdr[GPE_OUTER_LEN + NSH_MAX_LEN];
		struct rte_ether_hdr eth;
		struct nsh_info h;
		uint16_t old_len = 0, len = 0, nsh_len;
		int r = nsh_read(pkt, &eth, &h);

		gates[i] = UINT16_MAX;
		if (r < 0 || (r == 1 && h.md_type != NSH_MD_TYPE_2)) {
			s->malformed++;
			continue;
		}
		if (r == 0) {
			h.ttl = NSH_TTL_DEFAULT;
			h.next_proto = NSH_NP_ETHERNET;
			h.n_tlvs = 0;
		} else {
			old_len = (uint16_t)(sizeof(eth) + h.hdr_len);
		}
		h.spi = e->spi;
		h.si = e->si;
		nsh_len = nsh_len_of(&h);
		if (s->transport == T_ETH) {
			struct rte_ether_hdr *o = (struct rte_ether_hdr *)hdr;
			o->dst_addr = s->dst_mac;
			o->src_addr = s->src_mac;
			o->ether_type = rte_cpu_to_be_16(NSH_ETHERTYPE);
			len = sizeof(*o);
		} else {
			len = build_gpe_outer(s, hdr, pkt, (uint16_t)(pkt->pkt_len - old_len), nsh_len);
		}
		len = (uint16_t)(len + nsh_write(&h, hdr + len));
		if (replace_head(pkt, old_len, hdr, len) != 0) {
			s->no_room++;
			continue;
		}
		gates[i] = 0;
		e->packets++;
	}
	e2_emit_split(ctx, m, b, gates);
}

static int encap_cmd_edge(struct e2_module *m, const struct e2_args *a, struct e2_result *out, char *err)
{
	struct tunnel_encap *s = e2_priv(m);
	uint64_t igate, spi, si;

	if (e2_args_u64(a, "si", 255, 0, 255, &si, err) < 0)
		return -1;
	if (e2_args_u64(a, "igate", 0, 0, MAX_EDGES - 1, &igate, err) != 0 ||
	    e2_args_u64(a, "spi", 0, 0, 0xffffff, &spi, err) != 0) {
		if (!e2_args_get(a, "igate") || !e2_args_get(a, "spi"))
			snprintf(err, E2_ERR_MAX, "edge needs igate=N and spi=S");
		return -1;
	}
	for (uint32_t g = 0; g < MAX_EDGES; g++)
		if (g != igate && s->edges[g].used && s->edges[g].spi == spi) {
			snprintf(err, E2_ERR_MAX, "spi %" PRIu64 " is already the edge on igate %u", spi, g);
			return -1;
		}
	s->edges[igate] = (struct edge){.used = true, .spi = (uint32_t)spi, .si = (uint8_t)si};
	return 0;
}

static int encap_cmd_edge_del(struct e2_module *m, const struct e2_args *a, struct e2_result *out, char *err)
{
	struct tunnel_encap *s = e2_priv(m);
	uint64_t igate;

	if (e2_args_u64(a, "igate", 0, 0, MAX_EDGES - 1, &igate, err) != 0) {
		if (!e2_args_get(a, "igate"))
			snprintf(err, E2_ERR_MAX, "edge_del needs igate=N");
		return -1;
	}
	if (!s->edges[igate].used) {
		snprintf(err, E2_ERR_MAX, "no edge on igate %" PRIu64, igate);
		return -1;
	}
	s->edges[igate].used = false;
	return 0;
}

static void encap_stats(struct e2_module *m, struct e2_result *out)
{
	struct tunnel_encap *s = e2_priv(m);
	e2_result_add(out, "no_edge", "%" PRIu64, s->no_edge);
	e2_result_add(out, "malformed", "%" PRIu64, s->malformed);
	e2_result_add(out, "no_room", "%" PRIu64, s->no_room);
	for (uint32_t g = 0; g < MAX_EDGES; g++)
		if (s->edges[g].used) {
			char key[24];
			snprintf(key, sizeof(key), "igate%u", g);
			e2_result_add(out, key, "spi=%u si=%u packets=%" PRIu64, s->edges[g].spi, s->edges[g].si,
				      s->edges[g].packets);
		}
}

static const struct e2_cmd encap_cmds[] = {
	{.name = "edge",
	 .help = "igate=N spi=S [si=N (255)]: packets entering igate N carry SPI S",
	 .args = E2_ARGS("igate", "spi", "si"),
	 .fn = encap_cmd_edge},
	{.name = "edge_del", .help = "igate=N", .args = E2_ARGS("igate"), .fn = encap_cmd_edge_del},
	{0},
};

static const struct e2_module_class tunnel_encap = {
	.name = "tunnel_encap",
	.help = "edges (input gates) -> one link, edge = NSH SPI: dst=MAC [src=MAC] [transport=eth|vxlan-gpe "
		"src_ip=A dst_ip=B [vni=N]]",
	.igates = MAX_EDGES,
	.ogates = 1,
	.priv_size = sizeof(struct tunnel_encap),
	.args = encap_known,
	.init = encap_init,
	.process_batch = encap_process,
	.stats = encap_stats,
	.cmds = encap_cmds,
};
E2_MODULE_REGISTER(tunnel_encap)

/* --- tunnel_decap ---------------------------------------------------------- */

struct decap_edge {
	uint32_t spi;
	uint16_t gate;
	uint64_t packets;
};

struct tunnel_decap {
	uint32_t n_edges;
	struct decap_edge edges[MAX_EDGES];
	uint16_t default_gate;
	uint64_t not_tunnel, unknown_spi, malformed;
};

static int decap_init(struct e2_module *m, const struct e2_args *args, char *err)
{
	struct tunnel_decap *s = e2_priv(m);
	uint64_t def;
	if (e2_args_u64(args, "default", 0, 0, E2_GATES_MAX - 1, &def, err) < 0)
		return -1;
	s->default_gate = (uint16_t)def;
	return 0;
}

/* Bytes before the NSH header of a tunnel frame: 14 (eth) or the VXLAN-GPE outer
 * headers; 0 if the frame is not a tunnel frame. */
static uint16_t tunnel_outer_len(const struct rte_mbuf *m)
{
	uint8_t buf[GPE_OUTER_LEN + 40];
	const struct rte_ether_hdr *eth = rte_pktmbuf_read(m, 0, sizeof(*eth), buf);
	const struct rte_ipv4_hdr *ip;
	const struct rte_udp_hdr *udp;
	const uint8_t *gpe;
	uint16_t ihl;

	if (!eth)
		return 0;
	if (eth->ether_type == rte_cpu_to_be_16(NSH_ETHERTYPE))
		return sizeof(*eth);
	if (eth->ether_type != rte_cpu_to_be_16(RTE_ETHER_TYPE_IPV4))
		return 0;
	ip = rte_pktmbuf_read(m, sizeof(*eth), sizeof(*ip), buf + sizeof(*eth));
	if (!ip || ip->next_proto_id != IPPROTO_UDP || (ip->fragment_offset & rte_cpu_to_be_16(0x3fff)))
		return 0;
	ihl = (uint16_t)((ip->version_ihl & 0xf) * 4);
	udp = rte_pktmbuf_read(m, sizeof(*eth) + ihl, sizeof(*udp) + 8, buf + 34);
	if (!udp || udp->dst_port != rte_cpu_to_be_16(VXLAN_GPE_PORT))
		return 0;
	gpe = (const uint8_t *)(udp + 1);
	if (!(gpe[0] & 0x04) || gpe[3] != VXLAN_GPE_NP_NSH)
		return 0;
	return (uint16_t)(sizeof(*eth) + ihl + sizeof(*udp) + 8);
}

static void decap_process(struct e2_ctx *ctx, struct e2_module *m, uint16_t igate, struct e2_batch *b)
{
	struct tunnel_decap *s = e2_priv(m);
	uint16_t gates[E2_BATCH_MAX];

	for (uint16_t i = 0; i < b->cnt; i++) {
		struct rte_mbuf *pkt = b->pkts[i];
		uint16_t outer = tunnel_outer_len(pkt);
		uint8_t buf[NSH_MAX_LEN];
		const uint8_t *p;
		struct nsh_info h;
		uint32_t avail, e;

		gates[i] = s->default_gate;
		if (!outer) {
			s->not_tunnel++;
			continue;
		}
		avail = RTE_MIN(pkt->pkt_len - outer, (uint32_t)sizeof(buf));
		p = rte_pktmbuf_read(pkt, outer, avail, buf);
		if (!p || nsh_parse(p, avail, &h) != 0 || h.next_proto != NSH_NP_ETHERNET ||
		    outer + h.hdr_len + sizeof(struct rte_ether_hdr) > pkt->data_len) {
			s->malformed++;
			gates[i] = UINT16_MAX;
			continue;
		}
		for (e = 0; e < s->n_edges && s->edges[e].spi != h.spi; e++)
			;
		if (e == s->n_edges) {
			s->unknown_spi++;
			continue;
		}
		if (h.n_tlvs == 0 || h.md_type != NSH_MD_TYPE_2) {
			rte_pktmbuf_adj(pkt, (uint16_t)(outer + h.hdr_len));
		} else {
			/* keep NSH, behind an Ethernet header with the frame's own MACs */
			uint8_t *d = rte_pktmbuf_mtod(pkt, uint8_t *);
			struct rte_ether_hdr eth;
			memcpy(&eth, d + outer + h.hdr_len, 12);
			eth.ether_type = rte_cpu_to_be_16(NSH_ETHERTYPE);
			d = (uint8_t *)rte_pktmbuf_adj(pkt, (uint16_t)(outer - sizeof(eth)));
			memcpy(d, &eth, sizeof(eth));
		}
		gates[i] = s->edges[e].gate;
		s->edges[e].packets++;
	}
	e2_emit_split(ctx, m, b, gates);
}

static int decap_cmd_edge(struct e2_module *m, const struct e2_args *a, struct e2_result *out, char *err)
{
	struct tunnel_decap *s = e2_priv(m);
	uint64_t spi, gate;

	if (e2_args_u64(a, "spi", 0, 0, 0xffffff, &spi, err) != 0 ||
	    e2_args_u64(a, "gate", 0, 0, E2_GATES_MAX - 1, &gate, err) != 0) {
		if (!e2_args_get(a, "spi") || !e2_args_get(a, "gate"))
			snprintf(err, E2_ERR_MAX, "edge needs spi=S and gate=G");
		return -1;
	}
	for (uint32_t e = 0; e < s->n_edges; e++)
		if (s->edges[e].spi == spi) {
			snprintf(err, E2_ERR_MAX, "spi %" PRIu64 " already goes to gate %u (edge_del it first)", spi,
				 s->edges[e].gate);
			return -1;
		}
	if (s->n_edges == MAX_EDGES) {
		snprintf(err, E2_ERR_MAX, "at most %d edges", MAX_EDGES);
		return -1;
	}
	s->edges[s->n_edges++] = (struct decap_edge){.spi = (uint32_t)spi, .gate = (uint16_t)gate};
	return 0;
}

static int decap_cmd_edge_del(struct e2_module *m, const struct e2_args *a, struct e2_result *out, char *err)
{
	struct tunnel_decap *s = e2_priv(m);
	uint64_t spi;

	if (e2_args_u64(a, "spi", 0, 0, 0xffffff, &spi, err) != 0) {
		if (!e2_args_get(a, "spi"))
			snprintf(err, E2_ERR_MAX, "edge_del needs spi=S");
		return -1;
	}
	for (uint32_t e = 0; e < s->n_edges; e++)
		if (s->edges[e].spi == spi) {
			s->edges[e] = s->edges[--s->n_edges];
			return 0;
		}
	snprintf(err, E2_ERR_MAX, "no edge with spi %" PRIu64, spi);
	return -1;
}

static void decap_stats(struct e2_module *m, struct e2_result *out)
{
	struct tunnel_decap *s = e2_priv(m);
	e2_result_add(out, "not_tunnel", "%" PRIu64, s->not_tunnel);
	e2_result_add(out, "unknown_spi", "%" PRIu64, s->unknown_spi);
	e2_result_add(out, "malformed", "%" PRIu64, s->malformed);
	for (uint32_t e = 0; e < s->n_edges; e++) {
		char key[24];
		snprintf(key, sizeof(key), "spi%u", s->edges[e].spi);
		e2_result_add(out, key, "gate=%u packets=%" PRIu64, s->edges[e].gate, s->edges[e].packets);
	}
}

static const struct e2_cmd decap_cmds[] = {
	{.name = "edge",
	 .help = "spi=S gate=G: tunnel packets with SPI S leave by gate G",
	 .args = E2_ARGS("spi", "gate"),
	 .fn = decap_cmd_edge},
	{.name = "edge_del", .help = "spi=S", .args = E2_ARGS("spi"), .fn = decap_cmd_edge_del},
	{0},
};

static const struct e2_module_class tunnel_decap = {
	.name = "tunnel_decap",
	.help = "one link -> edges by NSH SPI (NSH over Ethernet or VXLAN-GPE): [default=GATE (0)]",
	.igates = 1,
	.ogates = E2_GATES_MAX,
	.priv_size = sizeof(struct tunnel_decap),
	.args = E2_ARGS("default"),
	.init = decap_init,
	.process_batch = decap_process,
	.stats = decap_stats,
	.cmds = decap_cmds,
};
E2_MODULE_REGISTER(tunnel_decap)
