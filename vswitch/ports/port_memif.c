/* SPDX-License-Identifier: BSD-3-Clause */
/* memif ports (shared-memory packet interface, as in VPP and DPDK): e2d is the
 * server by default; an NF process connects as client to the same socket and id.
 *
 * The packets go through DPDK's memif driver; its control channel goes through e2d's
 * relay (memif_relay.h), which closes the port's gate before the driver may unmap a
 * peer's rings, so a peer leaving under traffic never takes e2d down with it. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <rte_errno.h>
#include <rte_ethdev.h>

#include "../port.h"
#include "../port_gate.h"
#include "e2/log.h"
#include "memif_relay.h"

E2_LOG_MODULE(memif);

/* e2_port_open's bound on queues= (memif takes none: always 1) */
#define MEMIF_QUEUES_MAX 8

struct memif_dev {
	struct e2_port *port;
	struct memif_relay *relay;
	uint32_t id;
	struct e2_gate gate; /* open while the driver has a connection's rings mapped */
	struct e2_gate_mark rxq[MEMIF_QUEUES_MAX], txq[MEMIF_QUEUES_MAX];
};

static uint16_t memif_rx(struct e2_port *p, uint16_t queue, struct rte_mbuf **pkts, uint16_t n)
{
	struct memif_dev *d = p->dev;
	uint16_t got;

	if (!e2_gate_enter(&d->gate, &d->rxq[queue]))
		return 0;
	got = rte_eth_rx_burst(p->port_id, queue, pkts, n);
	e2_gate_leave(&d->rxq[queue]);
	return got;
}

static uint16_t memif_tx(struct e2_port *p, uint16_t queue, struct rte_mbuf **pkts, uint16_t n)
{
	struct memif_dev *d = p->dev;
	uint16_t sent;

	if (!e2_gate_enter(&d->gate, &d->txq[queue]))
		return 0;
	sent = rte_eth_tx_burst(p->port_id, queue, pkts, n);
	e2_gate_leave(&d->txq[queue]);
	return sent;
}

static bool memif_link_up(const struct e2_port *p)
{
	const struct memif_dev *d = p->dev;
	return e2_gate_is_open(&d->gate) && e2_ethdev_ops.link_up(p);
}

static void quiesce(void *ctx)
{
	struct memif_dev *d = ctx;
	e2_gate_close(&d->gate);
	e2_gate_wait(d->rxq, d->port->n_queues);
	e2_gate_wait(d->txq, d->port->n_queues);
}

static void up(void *ctx)
{
	struct memif_dev *d = ctx;
	e2_gate_open(&d->gate);
}

static void redial(void *ctx)
{
	struct memif_dev *d = ctx;
	int rc;

	/* the gate is shut (the connection ended), so no burst is in the device */
	rte_eth_dev_stop(d->port->port_id);
	rc = rte_eth_dev_start(d->port->port_id);
	if (rc != 0)
		E2_WARN("port %s: cannot restart the memif device to dial again: %s", d->port->name, rte_strerror(-rc));
}

static void memif_close(struct e2_port *p)
{
	struct memif_dev *d = p->dev;

	/* in this order: after leave the relay opens the gate no more; with the gate shut
	 * the driver may unmap; the relay's thread outlives the device it relays to */
	memif_relay_leave(d->relay, d->id);
	quiesce(d);
	e2_ethdev_ops.close(p);
	memif_relay_put(d->relay);
	free(d);
}

static uint64_t memif_rx_drops(const struct e2_port *p)
{
	return e2_ethdev_ops.rx_drops(p);
}

static const struct e2_port_ops memif_port_ops = {
	.rx = memif_rx,
	.tx = memif_tx,
	.link_up = memif_link_up,
	.rx_drops = memif_rx_drops,
	.close = memif_close,
};

static const char *const known[] = {"socket", "id", "role", NULL};

static int memif_open(struct e2_port *p, const struct e2_args *args, struct rte_mempool *pool, char *err)
{
	const char *sock = e2_args_get(args, "socket");
	const char *role = e2_args_get(args, "role");
	char pmd_path[128];
	struct memif_dev *d;
	uint64_t id;

	if (!sock || !*sock) {
		snprintf(err, E2_ERR_MAX, "memif port needs socket=PATH");
		return -1;
	}
	if (role && strcmp(role, "server") != 0 && strcmp(role, "client") != 0) {
		snprintf(err, E2_ERR_MAX, "memif role must be server or client, not '%s'", role);
		return -1;
	}
	if (e2_args_u64(args, "id", 0, 0, UINT32_MAX, &id, err) < 0)
		return -1;
	bool server = !role || strcmp(role, "server") == 0;
	e2_gate_setup();
	d = calloc(1, sizeof(*d));
	if (!d) {
		snprintf(err, E2_ERR_MAX, "out of memory");
		return -1;
	}
	d->port = p;
	d->id = (uint32_t)id;
	const struct memif_relay_port rp = {
		.name = p->name, .id = d->id, .ctx = d, .up = up, .quiesce = quiesce, .redial = server ? NULL : redial};
	d->relay = memif_relay_join(sock, server, &rp, pmd_path, sizeof(pmd_path), err);
	if (!d->relay) {
		free(d);
		return -1;
	}
	/* the driver sees only the relay's private socket */
	if ((size_t)snprintf(p->devargs, sizeof(p->devargs), "net_memif_%s,socket=%s,socket-abstract=no,id=%u,role=%s",
			     p->name, pmd_path, d->id, server ? "server" : "client") >= sizeof(p->devargs)) {
		snprintf(err, E2_ERR_MAX, "memif port arguments too long");
		goto fail;
	}
	p->dev = d;
	if (e2_port_ethdev_attach(p, pool, err) != 0)
		goto fail;
	p->ops = &memif_port_ops;
	/* what `list` shows: the socket the user named */
	snprintf(p->devargs, sizeof(p->devargs), "net_memif_%s,socket=%s,id=%u,role=%s", p->name, sock, d->id,
		 server ? "server" : "client");
	return 0;
fail:
	memif_relay_leave(d->relay, d->id);
	memif_relay_put(d->relay);
	p->dev = NULL;
	free(d);
	return -1;
}

static const struct e2_port_driver port_memif = {
	.name = "memif",
	.help = "memif port: socket=PATH [id=N] [role=server|client]",
	.known_args = known,
	.open = memif_open,
};
E2_PORT_DRIVER_REGISTER(port_memif)
