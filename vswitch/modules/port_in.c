/* SPDX-License-Identifier: BSD-3-Clause */
/* port_in: the task that receives a burst from one rx queue of a port. */
#include <stdio.h>

#include "../dp.h"

struct port_in {
	struct e2_port *port;
	uint16_t queue;
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

static uint32_t port_in_run(struct e2_ctx *ctx, struct e2_module *m)
{
	struct port_in *s = e2_priv(m);
	struct e2_batch b;
	uint64_t bytes = 0;

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
};
E2_MODULE_REGISTER(port_in)
