/* E2D ports. Every port is a DPDK ethdev; a port driver only knows how to turn
 * the user's arguments into devargs for a virtual device (vhost-user,
 * virtio-user, memif) or pass them through (any PMD, for external and test ports). */
#ifndef E2D_PORT_H
#define E2D_PORT_H

#include <stdbool.h>
#include <stdint.h>

#include "module.h"

#define E2_DEVARGS_MAX 512

struct e2_port_driver {
	const char *name;
	const char *help;
	const char *const *known_args;
	/* Writes the vdev devargs for a port named `name`; returns 0 or -1 with err. */
	int (*devargs)(const char *name, const struct e2_args *args, char *out, size_t len, char *err);
};

void e2_port_driver_register(const struct e2_port_driver *drv);
const struct e2_port_driver *e2_port_driver_find(const char *name);
size_t e2_port_driver_count(void);
const struct e2_port_driver *e2_port_driver_at(size_t i);

#define E2_PORT_DRIVER_REGISTER(desc) \
	__attribute__((constructor)) static void e2_register_port_##desc(void) \
	{ \
		e2_port_driver_register(&desc); \
	}

struct e2_port {
	char name[E2_NAME_MAX];
	const struct e2_port_driver *drv;
	char devargs[E2_DEVARGS_MAX];
	char devname[E2_NAME_MAX];
	uint16_t port_id;
	uint16_t n_queues;
	bool native;                     /* may carry NSH metadata; others never see it */
	struct e2_module *in_users[8];   /* port_in module per rx queue */
	struct e2_module *out_user;      /* the single port_out module */
	struct e2_args args;             /* as created, for `list` */
	/* written by the worker that owns the queue */
	uint64_t rx_packets, rx_bytes, tx_packets, tx_bytes, tx_drops;
	uint64_t nsh_stripped;
	/* baseline of the device's own counters, so `reset` works */
	uint64_t rx_drops_base;
	bool up_logged;
};

struct rte_mempool;
/* Probes the vdev, configures and starts it. */
struct e2_port *e2_port_open(const char *name, const struct e2_port_driver *drv,
			     const struct e2_args *args, struct rte_mempool *pool, char *err);
void e2_port_close(struct e2_port *p);
bool e2_port_link_up(const struct e2_port *p);
uint64_t e2_port_rx_drops(const struct e2_port *p);

#endif
