/* SPDX-License-Identifier: BSD-3-Clause */
/* rr_split and hash_split: spread packets over N output gates.
 * rr_split rotates per packet; hash_split keeps each flow (IPv4 5-tuple, else the
 * MAC pair) on one gate. */
#include <stdio.h>
#include <string.h>

#include <rte_ether.h>
#include <rte_hash_crc.h>
#include <rte_ip.h>
#include <rte_tcp.h>
#include <rte_udp.h>

#include "../module.h"

struct split {
	uint32_t n_gates;
	uint32_t next;
};

static const char *const known[] = {"gates", NULL};

static int split_init(struct e2_module *m, const struct e2_args *args, char *err)
{
	struct split *s = e2_priv(m);
	uint64_t n;

	if (e2_args_u64(args, "gates", 2, 1, E2_GATES_MAX, &n, err) < 0)
		return -1;
	s->n_gates = (uint32_t)n;
	m->n_ogates = (uint16_t)n;
	return 0;
}

static void rr_process(struct e2_ctx *ctx, struct e2_module *m, uint16_t igate, struct e2_batch *b)
{
	struct split *s = e2_priv(m);
	uint16_t gates[E2_BATCH_MAX];

	for (uint16_t i = 0; i < b->cnt; i++) {
		gates[i] = (uint16_t)s->next;
		if (++s->next == s->n_gates)
			s->next = 0;
	}
	e2_emit_split(ctx, m, b, gates);
}

/* The hash of a frame's first data_len bytes (its 5-tuple, else its MACs). */
static inline uint32_t flow_hash(const uint8_t *data, uint32_t data_len)
{
	const struct rte_ether_hdr *eth = (const struct rte_ether_hdr *)data;
	uint32_t h = 0;

	if (data_len >= sizeof(*eth) + sizeof(struct rte_ipv4_hdr) &&
	    eth->ether_type == rte_cpu_to_be_16(RTE_ETHER_TYPE_IPV4)) {
		const struct rte_ipv4_hdr *ip = (const struct rte_ipv4_hdr *)(eth + 1);
		uint32_t ihl = (ip->version_ihl & 0xf) * 4u;
		h = rte_hash_crc_4byte(ip->src_addr, h);
		h = rte_hash_crc_4byte(ip->dst_addr, h);
		h = rte_hash_crc_1byte(ip->next_proto_id, h);
		if ((ip->next_proto_id == IPPROTO_TCP || ip->next_proto_id == IPPROTO_UDP) &&
		    data_len >= sizeof(*eth) + ihl + 4 && !(ip->fragment_offset & rte_cpu_to_be_16(0x1fff))) {
			const uint8_t *l4 = (const uint8_t *)ip + ihl;
			uint32_t ports;
			memcpy(&ports, l4, 4);
			h = rte_hash_crc_4byte(ports, h);
		}
		return h;
	}
	return rte_hash_crc(eth, 2 * RTE_ETHER_ADDR_LEN, 0);
}

static void hash_process(struct e2_ctx *ctx, struct e2_module *m, uint16_t igate, struct e2_batch *b)
{
	struct split *s = e2_priv(m);
	uint16_t gates[E2_BATCH_MAX];

	for (uint16_t i = 0; i < b->cnt; i++)
		gates[i] = (uint16_t)(((uint64_t)flow_hash(rte_pktmbuf_mtod(b->pkts[i], const uint8_t *),
							   b->pkts[i]->data_len) *
				       s->n_gates) >>
				      32);
	e2_emit_split(ctx, m, b, gates);
}

/* Frames in place (the single-copy path), decided as the batch functions decide them. */
static void rr_classify(struct e2_module *m, const struct e2_frame_head *const *frames, uint16_t n, int16_t *gates)
{
	struct split *s = e2_priv(m);

	for (uint16_t i = 0; i < n; i++) {
		gates[i] = (int16_t)s->next;
		if (++s->next == s->n_gates)
			s->next = 0;
	}
}

static void hash_classify(struct e2_module *m, const struct e2_frame_head *const *frames, uint16_t n, int16_t *gates)
{
	const struct split *s = e2_priv(m);

	/* the frame's first 78 bytes hold the hash's fields wherever the frame has them
	 * (IHL ≤ 60), and a head holds 128 unless it is the whole frame */
	for (uint16_t i = 0; i < n; i++)
		gates[i] = (int16_t)(((uint64_t)flow_hash(frames[i]->data, frames[i]->head_len) * s->n_gates) >> 32);
}

static const struct e2_module_class rr_split = {
	.name = "rr_split",
	.help = "round-robin over output gates, packet by packet: [gates=N (2)]",
	.igates = 1,
	.ogates = E2_GATES_MAX,
	.priv_size = sizeof(struct split),
	.args = known,
	.init = split_init,
	.process_batch = rr_process,
	.classify = rr_classify,
};
E2_MODULE_REGISTER(rr_split)

static const struct e2_module_class hash_split = {
	.name = "hash_split",
	.help = "spreads flows over output gates by a CRC32 hash of the IPv4 5-tuple (else the MACs): [gates=N (2)]",
	.igates = 1,
	.ogates = E2_GATES_MAX,
	.priv_size = sizeof(struct split),
	.args = known,
	.init = split_init,
	.process_batch = hash_process,
	.classify = hash_classify,
};
E2_MODULE_REGISTER(hash_split)
