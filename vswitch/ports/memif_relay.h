/* SPDX-License-Identifier: BSD-3-Clause */
/* The memif control-channel relay. DPDK 22.11's memif driver tears a connection down
 * (unmaps the peer's memory) from the interrupt thread the moment the peer leaves,
 * with nothing to hold off a burst already inside those rings: a peer that exits under
 * traffic crashes the process that polls. So e2d keeps the user's memif socket itself
 * and relays each control connection, message by message (file descriptors and all),
 * to the driver on a private socket. Once a connection is up, whatever the peer does
 * next (a message, leaving) is held until the port has closed its gate to the worker;
 * only then does the driver see it. Packets never pass through the relay. */
#ifndef E2D_MEMIF_RELAY_H
#define E2D_MEMIF_RELAY_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

struct memif_relay;

/* What the relay tells a port: `up` once the driver has a connection (the rings are
 * mapped), `quiesce` before the driver may unmap them (returns once no burst is in),
 * and in the client role `redial` once the driver has hung up an ended connection
 * (restart the device: DPDK's memif client dials only when its device starts). All
 * run on the relay's thread. */
struct memif_relay_port {
	const char *name; /* for the log */
	uint32_t id;      /* the memif interface id on the socket */
	void *ctx;
	void (*up)(void *ctx);
	void (*quiesce)(void *ctx);
	void (*redial)(void *ctx);
};

/* Joins the relay of socket `path` (creating it for the first port on that path; ports
 * on one socket share it and must share the role). `server`: e2d serves the socket,
 * else it connects to it. Writes the private socket the driver must use to `pmd_path`.
 * Returns NULL with err. */
struct memif_relay *memif_relay_join(const char *path, bool server, const struct memif_relay_port *port, char *pmd_path,
				     size_t pmd_path_len, char *err);
/* Before the port's device stops: the peer's connection is closed; the driver's side is
 * left for the driver to close, so the two never tear down the same rings at once. */
void memif_relay_leave(struct memif_relay *r, uint32_t id);
/* After the device is closed: drops the port's reference (the last one stops the relay). */
void memif_relay_put(struct memif_relay *r);

#endif
