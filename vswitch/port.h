/* SPDX-License-Identifier: BSD-3-Clause */
/* E2D ports. Most ports are DPDK ethdevs: a port driver turns the user's arguments
 * into devargs for a virtual device (virtio-user, memif) or passes them through (any
 * PMD, for external and test ports). A driver may instead run its own device (`open`):
 * vhost-user ports use librte_vhost directly, as OVS does, which spares every burst
 * the vhost PMD's per-packet statistics. Modules reach either kind through e2_port_rx/tx. */
#ifndef E2D_PORT_H
#define E2D_PORT_H

#include <stdbool.h>
#include <stdint.h>

#include "module.h"

#define E2_DEVARGS_MAX 512

struct e2_port;
struct rte_mempool;

/* The most output ports one direct forward spreads frames over. */
#define E2_PORT_FWD_DESTS_MAX 4

/* What a direct forward did (e2_port_ops.forward). */
struct e2_port_fwd {
	uint16_t taken;                     /* frames taken from the input port: the rest of these fields */
	uint16_t placed;                    /* ... handed to an output port's peer */
	uint16_t no_room;                   /* ... dropped: the peer had no room (a tx drop, as tx would count it) */
	uint16_t malformed;                 /* ... dropped: what the input's peer sent was not a frame */
	uint64_t bytes_taken, bytes_placed; /* of the frames not malformed, and of those placed */
	bool stopped;                       /* stopped before a frame left for rx */
	/* each output port's share of placed, no_room and bytes_placed */
	uint16_t to_placed[E2_PORT_FWD_DESTS_MAX], to_no_room[E2_PORT_FWD_DESTS_MAX];
	uint64_t to_bytes_placed[E2_PORT_FWD_DESTS_MAX];
};

/* A direct forward's choice of output ports for a burst, from the frames' first bytes:
 * sets dst[i] to an index into the output ports, or to anything ≥ their count to leave
 * frames[i] and the rest of the burst for rx. */
typedef void (*e2_port_pick_fn)(void *arg, const struct e2_frame_head *frames, uint16_t n, uint16_t *dst);

/* What a port does once open; ethdev ports share one set (port.c). */
struct e2_port_ops {
	/* rx/tx run on the worker that owns the queue; tx takes the packets it accepts */
	uint16_t (*rx)(struct e2_port *p, uint16_t queue, struct rte_mbuf **pkts, uint16_t n);
	uint16_t (*tx)(struct e2_port *p, uint16_t queue, struct rte_mbuf **pkts, uint16_t n);
	/* Optional, on the worker that owns rx queue `queue` of p and tx queue 0 of every
	 * port in to[] (distinct ports of the same driver, n_to ≤ E2_PORT_FWD_DESTS_MAX):
	 * moves up to n frames from p's peer straight to the peers of to[], with no mbuf
	 * (vhost-user: one copy instead of two). Each frame goes to to[0], or where pick
	 * says if pick is set (called once a burst). Frames of EtherType stop_ethertype (network order; 0: none)
	 * and those after them are left for rx. false: not now (the caller takes rx and
	 * tx), with nothing moved. */
	bool (*forward)(struct e2_port *p, uint16_t queue, struct e2_port *const *to, uint16_t n_to, uint16_t n,
			uint16_t stop_ethertype, e2_port_pick_fn pick, void *arg, struct e2_port_fwd *res);
	/* the rest run on the control thread */
	bool (*link_up)(const struct e2_port *p);
	int (*rx_queue_count)(const struct e2_port *p, uint16_t queue); /* < 0: unknown */
	uint64_t (*rx_drops)(const struct e2_port *p);                  /* since open */
	/* how full the peer's receive ring is (0..1: what we sent it and it has not taken),
	 * which says how busy the NF behind the port is; < 0: unknown */
	double (*tx_fill)(const struct e2_port *p, uint16_t queue);
	void (*close)(struct e2_port *p);
};

struct e2_port_driver {
	const char *name;
	const char *help;
	const char *const *known_args;
	/* Ethdev drivers: writes the vdev devargs for a port named `name`; 0 or -1 with err. */
	int (*devargs)(const char *name, const struct e2_args *args, char *out, size_t len, char *err);
	/* Own-device drivers instead: set p->ops and p->dev, describe the device in
	 * p->devargs; 0 or -1 with err (and nothing left behind). */
	int (*open)(struct e2_port *p, const struct e2_args *args, struct rte_mempool *pool, char *err);
};

void e2_port_driver_register(const struct e2_port_driver *drv);
const struct e2_port_driver *e2_port_driver_find(const char *name);
size_t e2_port_driver_count(void);
const struct e2_port_driver *e2_port_driver_at(size_t i);

#define E2_PORT_DRIVER_REGISTER(desc)                                          \
	__attribute__((constructor)) static void e2_register_port_##desc(void) \
	{                                                                      \
		e2_port_driver_register(&desc);                                \
	}

struct e2_port {
	char name[E2_NAME_MAX];
	const struct e2_port_driver *drv;
	char devargs[E2_DEVARGS_MAX];
	char devname[E2_NAME_MAX];
	const struct e2_port_ops *ops;
	void *dev;        /* the own-device driver's state */
	uint16_t port_id; /* ethdev ports; E2_PORT_NO_ETHDEV otherwise */
	uint16_t n_queues;
	bool native;                   /* may carry NSH metadata; others never see it */
	uint64_t capacity_kbps;        /* what the NF behind may take (the plan's sizing); 0: unknown */
	struct e2_module *in_users[8]; /* port_in module per rx queue */
	struct e2_module *out_user;    /* the single port_out module */
	struct e2_args args;           /* as created, for `list` */
	/* written by the worker that owns the queue */
	uint64_t rx_packets, rx_bytes, tx_packets, tx_bytes, tx_drops;
	uint64_t nsh_stripped;
	/* baseline of the device's own counters, so `reset` works */
	uint64_t rx_drops_base;
	bool up_logged;
};

#define E2_PORT_NO_ETHDEV UINT16_MAX

/* Opens the device (probes, configures and starts an ethdev). */
struct e2_port *e2_port_open(const char *name, const struct e2_port_driver *drv, const struct e2_args *args,
			     struct rte_mempool *pool, char *err);
void e2_port_close(struct e2_port *p);
/* For own-device drivers that run an ethdev underneath (memif): probes p->devargs,
 * configures and starts the device, and sets p->port_id, p->devname and p->ops to
 * e2_ethdev_ops, whose functions such a driver may wrap. */
int e2_port_ethdev_attach(struct e2_port *p, struct rte_mempool *pool, char *err);
extern const struct e2_port_ops e2_ethdev_ops;
/* For drivers that serve a unix socket: 0 if path is free, or was a socket file nobody
 * listens on (what a killed server leaves behind; removed); else -1 and why in err.
 * type is the socket's (SOCK_STREAM, SOCK_SEQPACKET); what names it in messages. */
int e2_port_claim_socket_path(const char *path, int type, const char *what, char *err);
bool e2_port_link_up(const struct e2_port *p);
uint64_t e2_port_rx_drops(const struct e2_port *p);
int e2_port_rx_queue_count(const struct e2_port *p, uint16_t queue);
double e2_port_tx_fill(const struct e2_port *p, uint16_t queue);

static inline uint16_t e2_port_rx(struct e2_port *p, uint16_t queue, struct rte_mbuf **pkts, uint16_t n)
{
	return p->ops->rx(p, queue, pkts, n);
}

static inline uint16_t e2_port_tx(struct e2_port *p, uint16_t queue, struct rte_mbuf **pkts, uint16_t n)
{
	return p->ops->tx(p, queue, pkts, n);
}

#endif
