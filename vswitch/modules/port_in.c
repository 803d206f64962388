/* SPDX-License-Identifier: BSD-3-Clause */
/* port_in: the task that receives a burst from one rx queue of a port.
 *
 * When it feeds a port_out directly, that port_out has no other input and both ports'
 * driver can forward between them (vhost-user: guest to guest, one copy), the frames
 * skip the mbufs: the port moves them and the two modules count them as if they had
 * passed through (one batch each; the cycles are port_in's). Anything else on the edge
 * (a capture, a module put in between) takes the ordinary path, and so do frames
 * port_out would have to change (NSH metadata for a port that must not see it). */
#include <stdio.h>

#include <rte_byteorder.h>

#include "../dp.h"
#include "nsh.h"
#include "port_out.h"

struct port_in {
	struct e2_port *port;
	uint16_t queue;
	uint64_t direct_packets; /* received and handed on by the port's forward, since create */
};

static const char *const known[] = {"port", "queue", NULL};

static int port_in_init(struct e2_module *m, const struct e2_args *args, char *err)
{
	struct port_in *s = e2_priv(m);
	const char *name = e2_args_get(args, "port");
	uint64_t q;

	if (!name) {
		snprintf(err, E2_ERR_MAX, "port_in needs port=NAME");
		return -1;
	}
	s->port = e2_dp_port_find(m->dp, name);
	if (!s->port) {
		snprintf(err, E2_ERR_MAX, "no port named '%s'", name);
		return -1;
	}
	if (e2_args_u64(args, "queue", 0, 0, s->port->n_queues - 1, &q, err) < 0)
		return -1;
	if (s->port->in_users[q]) {
		snprintf(err, E2_ERR_MAX, "rx queue %llu of port '%s' is already read by module '%s'",
			 (unsigned long long)q, name, s->port->in_users[q]->name);
		return -1;
	}
	s->queue = (uint16_t)q;
	s->port->in_users[q] = m;
	return 0;
}

static void port_in_deinit(struct e2_module *m)
{
	struct port_in *s = e2_priv(m);
	s->port->in_users[s->queue] = NULL;
}

/* The port this task's frames may go to directly, or NULL. */
static inline struct e2_port *direct_peer(struct e2_module *m, const struct port_in *s)
{
	if (!s->port->ops->forward || m->n_ogates == 0)
		return NULL;
	struct e2_module *next = m->ogates[0].next;
	if (!next || next->igate_refs != 1)
		return NULL;
	struct e2_port *to = e2_port_out_port(next);
	return to && to->ops == s->port->ops ? to : NULL;
}

/* Returns the frames taken, or -1 if the port could not forward now. */
static int run_direct(struct e2_module *m, struct port_in *s, struct e2_port *to)
{
	struct e2_module *out = m->ogates[0].next;
	/* port_out strips NSH metadata for a port that must not see it: such frames take
	 * the ordinary path */
	uint16_t stop = to->native ? 0 : rte_cpu_to_be_16(NSH_ETHERTYPE);
	struct e2_port_fwd r;

	if (!s->port->ops->forward(s->port, s->queue, to, E2_BATCH_MAX, stop, &r) || (r.taken == 0 && r.stopped))
		return -1;
	if (r.taken == 0)
		return 0;
	/* a malformed frame is received and dropped here (librte_vhost's dequeue would have
	 * skipped it uncounted); its length is unknown */
	uint16_t received = r.taken - r.malformed;
	s->port->rx_packets += r.taken;
	s->port->rx_bytes += r.bytes_taken;
	m->drops += r.malformed;
	m->packets += r.taken;
	m->batches++;
	s->direct_packets += received;
	if (received) {
		m->ogates[0].packets += received;
		m->ogates[0].bytes += r.bytes_taken;
		out->packets += received;
		out->batches++;
		out->drops += r.no_room;
		to->tx_packets += r.placed;
		to->tx_bytes += r.bytes_placed;
		to->tx_drops += r.no_room;
	}
	return r.taken;
}

static uint32_t port_in_run(struct e2_ctx *ctx, struct e2_module *m)
{
	struct port_in *s = e2_priv(m);
	struct e2_batch b;
	uint64_t bytes = 0;
	struct e2_port *to = direct_peer(m, s);

	if (to) {
		int n = run_direct(m, s, to);
		if (n >= 0)
			return (uint32_t)n;
	}

	b.cnt = e2_port_rx(s->port, s->queue, b.pkts, E2_BATCH_MAX);
	if (b.cnt == 0)
		return 0;
	/* Metadata is not cleared here: it sits in the mbuf's second cache line, and
	 * every module that reads a field is placed after the module that sets it. */
	for (uint16_t i = 0; i < b.cnt; i++)
		bytes += b.pkts[i]->pkt_len;
	s->port->rx_packets += b.cnt;
	s->port->rx_bytes += bytes;
	m->packets += b.cnt;
	m->batches++;
	uint32_t n = b.cnt;
	e2_emit_sized(ctx, m, 0, &b, bytes);
	return n;
}

static void port_in_stats(struct e2_module *m, struct e2_result *out)
{
	const struct port_in *s = e2_priv(m);
	e2_result_add(out, "direct_packets", "%llu", (unsigned long long)s->direct_packets);
}

static const struct e2_module_class port_in = {
	.name = "port_in",
	.help = "receives from a port: port=NAME [queue=N]; a task",
	.igates = 0,
	.ogates = 1,
	.priv_size = sizeof(struct port_in),
	.args = known,
	.init = port_in_init,
	.deinit = port_in_deinit,
	.run_task = port_in_run,
	.stats = port_in_stats,
};
E2_MODULE_REGISTER(port_in)
