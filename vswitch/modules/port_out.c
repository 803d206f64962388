/* SPDX-License-Identifier: BSD-3-Clause */
/* port_out: transmits batches on a port; what the device will not take is
 * counted as the port's tx drops (a vhost peer that is absent or too slow). */
#include <stdio.h>

#include <rte_ether.h>

#include "../dp.h"
#include "nsh.h"
#include "port_out.h"

struct port_out {
	struct e2_port *port;
};

static const char *const known[] = {"port", NULL};

static int port_out_init(struct e2_module *m, const struct e2_args *args, char *err)
{
	struct port_out *s = e2_priv(m);
	const char *name = e2_args_get(args, "port");

	if (!name) {
		snprintf(err, E2_ERR_MAX, "port_out needs port=NAME");
		return -1;
	}
	s->port = e2_dp_port_find(m->dp, name);
	if (!s->port) {
		snprintf(err, E2_ERR_MAX, "no port named '%s'", name);
		return -1;
	}
	if (s->port->out_user) {
		snprintf(err, E2_ERR_MAX, "port '%s' already has an output module ('%s')", name,
			 s->port->out_user->name);
		return -1;
	}
	s->port->out_user = m;
	return 0;
}

static void port_out_deinit(struct e2_module *m)
{
	struct port_out *s = e2_priv(m);
	s->port->out_user = NULL;
}

/* Legacy and external ports never see E2's NSH metadata: strip it on the way out.
 * Only frames with the NSH EtherType are touched (a check in the first cache line).
 * Returns the bytes of the packets kept. */
static uint64_t strip_metadata(struct port_out *s, struct e2_module *m, struct e2_batch *b)
{
	uint16_t kept = 0;
	uint64_t bytes = 0;

	for (uint16_t i = 0; i < b->cnt; i++) {
		struct rte_mbuf *pkt = b->pkts[i];
		const struct rte_ether_hdr *e = rte_pktmbuf_mtod(pkt, const struct rte_ether_hdr *);
		if (likely(pkt->data_len < sizeof(*e) || e->ether_type != rte_cpu_to_be_16(NSH_ETHERTYPE))) {
			bytes += pkt->pkt_len;
			b->pkts[kept++] = pkt;
			continue;
		}
		struct rte_ether_hdr eth;
		struct nsh_info h;
		if (nsh_read(pkt, &eth, &h) == 1 && nsh_strip(pkt, &eth, &h) == 0) {
			s->port->nsh_stripped++;
			bytes += pkt->pkt_len;
			b->pkts[kept++] = pkt;
		} else {
			m->drops++; /* malformed NSH: not something a legacy NF should parse */
			rte_pktmbuf_free(pkt);
		}
	}
	b->cnt = kept;
	return bytes;
}

static void port_out_process(struct e2_ctx *ctx, struct e2_module *m, uint16_t igate, struct e2_batch *b)
{
	struct port_out *s = e2_priv(m);
	uint64_t bytes = 0;

	/* Lengths are read before tx: the device owns (and may free) what it accepts. */
	if (!s->port->native) {
		bytes = strip_metadata(s, m, b);
	} else {
		for (uint16_t i = 0; i < b->cnt; i++)
			bytes += b->pkts[i]->pkt_len;
	}
	uint16_t sent = e2_port_tx(s->port, 0, b->pkts, b->cnt);
	if (unlikely(sent < b->cnt)) {
		uint16_t lost = b->cnt - sent;
		for (uint16_t i = sent; i < b->cnt; i++)
			bytes -= b->pkts[i]->pkt_len;
		s->port->tx_drops += lost;
		m->drops += lost;
		rte_pktmbuf_free_bulk(&b->pkts[sent], lost);
	}
	s->port->tx_packets += sent;
	s->port->tx_bytes += bytes;
	b->cnt = 0;
}

static const struct e2_module_class port_out;

struct e2_port *e2_port_out_port(const struct e2_module *m)
{
	return m->cls == &port_out ? ((const struct port_out *)m->priv)->port : NULL;
}

static const struct e2_module_class port_out = {
	.name = "port_out",
	.help = "transmits to a port: port=NAME",
	.igates = 1,
	.ogates = 0,
	.priv_size = sizeof(struct port_out),
	.args = known,
	.init = port_out_init,
	.deinit = port_out_deinit,
	.process_batch = port_out_process,
};
E2_MODULE_REGISTER(port_out)
