/* SPDX-License-Identifier: BSD-3-Clause */
/* Port driver registry, the port life cycle, and the ops of ethdev ports. */
#include "port.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/un.h>
#include <unistd.h>

#include <rte_errno.h>
#include <rte_bus_vdev.h>
#include <rte_dev.h>
#include <rte_ethdev.h>
#include <rte_mempool.h>
#include "e2/log.h"

E2_LOG_MODULE(port);

#define MAX_DRIVERS 16
#define RX_DESC 1024
#define TX_DESC 1024

static const struct e2_port_driver *drivers[MAX_DRIVERS]; /* filled before main() */
static size_t n_drivers;

void e2_port_driver_register(const struct e2_port_driver *drv)
{
	if (!drv->known_args) {
		fprintf(stderr, "e2d: port driver %s has no known_args table\n", drv->name);
		abort();
	}
	if (n_drivers < MAX_DRIVERS)
		drivers[n_drivers++] = drv;
}

const struct e2_port_driver *e2_port_driver_find(const char *name)
{
	for (size_t i = 0; i < n_drivers; i++)
		if (strcmp(drivers[i]->name, name) == 0)
			return drivers[i];
	return NULL;
}

size_t e2_port_driver_count(void)
{
	return n_drivers;
}

const struct e2_port_driver *e2_port_driver_at(size_t i)
{
	return i < n_drivers ? drivers[i] : NULL;
}

static int link_event(uint16_t port_id, enum rte_eth_event_type type, void *arg, void *ret)
{
	struct e2_port *p = arg;
	struct rte_eth_link link;

	if (rte_eth_link_get_nowait(port_id, &link) == 0)
		E2_INFO("port %s: link %s", p->name, link.link_status ? "up" : "down");
	return 0;
}

static int setup_ethdev(struct e2_port *p, struct rte_mempool *pool, char *err)
{
	struct rte_eth_conf conf = {0};
	struct rte_eth_dev_info info;
	int rc;

	rc = rte_eth_dev_info_get(p->port_id, &info);
	if (rc != 0) {
		snprintf(err, E2_ERR_MAX, "port %s: cannot read device info: %s", p->name, rte_strerror(-rc));
		return -1;
	}
	if (p->n_queues > info.max_rx_queues || p->n_queues > info.max_tx_queues) {
		snprintf(err, E2_ERR_MAX, "port %s: device supports at most %u rx / %u tx queues", p->name,
			 info.max_rx_queues, info.max_tx_queues);
		return -1;
	}
	if (*info.dev_flags & RTE_ETH_DEV_INTR_LSC)
		conf.intr_conf.lsc = 1;
	rc = rte_eth_dev_configure(p->port_id, p->n_queues, p->n_queues, &conf);
	if (rc != 0) {
		snprintf(err, E2_ERR_MAX, "port %s: configure failed: %s", p->name, rte_strerror(-rc));
		return -1;
	}
	uint16_t nb_rx = RX_DESC, nb_tx = TX_DESC;
	rte_eth_dev_adjust_nb_rx_tx_desc(p->port_id, &nb_rx, &nb_tx);
	for (uint16_t q = 0; q < p->n_queues; q++) {
		rc = rte_eth_rx_queue_setup(p->port_id, q, nb_rx, rte_eth_dev_socket_id(p->port_id), NULL, pool);
		if (rc == 0)
			rc = rte_eth_tx_queue_setup(p->port_id, q, nb_tx, rte_eth_dev_socket_id(p->port_id), NULL);
		if (rc != 0) {
			snprintf(err, E2_ERR_MAX, "port %s: queue %u setup failed: %s", p->name, q, rte_strerror(-rc));
			return -1;
		}
	}
	if (conf.intr_conf.lsc)
		rte_eth_dev_callback_register(p->port_id, RTE_ETH_EVENT_INTR_LSC, link_event, p);
	rc = rte_eth_dev_start(p->port_id);
	if (rc != 0) {
		snprintf(err, E2_ERR_MAX, "port %s: start failed: %s", p->name, rte_strerror(-rc));
		return -1;
	}
	rte_eth_promiscuous_enable(p->port_id);
	return 0;
}

static uint16_t ethdev_rx(struct e2_port *p, uint16_t queue, struct rte_mbuf **pkts, uint16_t n)
{
	return rte_eth_rx_burst(p->port_id, queue, pkts, n);
}

static uint16_t ethdev_tx(struct e2_port *p, uint16_t queue, struct rte_mbuf **pkts, uint16_t n)
{
	return rte_eth_tx_burst(p->port_id, queue, pkts, n);
}

static bool ethdev_link_up(const struct e2_port *p)
{
	struct rte_eth_link link;
	return rte_eth_link_get_nowait(p->port_id, &link) == 0 && link.link_status;
}

static int ethdev_rx_queue_count(const struct e2_port *p, uint16_t queue)
{
	return rte_eth_rx_queue_count(p->port_id, queue);
}

static uint64_t ethdev_rx_drops(const struct e2_port *p)
{
	struct rte_eth_stats st;
	if (rte_eth_stats_get(p->port_id, &st) != 0)
		return 0;
	return st.imissed + st.rx_nombuf;
}

static void ethdev_close(struct e2_port *p)
{
	rte_eth_dev_callback_unregister(p->port_id, RTE_ETH_EVENT_INTR_LSC, link_event, p);
	rte_eth_dev_stop(p->port_id);
	rte_eth_dev_close(p->port_id);
	rte_eal_hotplug_remove("vdev", p->devname);
}

const struct e2_port_ops e2_ethdev_ops = {
	.rx = ethdev_rx,
	.tx = ethdev_tx,
	.link_up = ethdev_link_up,
	.rx_queue_count = ethdev_rx_queue_count,
	.rx_drops = ethdev_rx_drops,
	.close = ethdev_close,
};

int e2_port_ethdev_attach(struct e2_port *p, struct rte_mempool *pool, char *err)
{
	int rc;

	/* The device name is the devargs up to the first comma. */
	snprintf(p->devname, sizeof(p->devname), "%.*s", (int)strcspn(p->devargs, ","), p->devargs);
	if (rte_eth_dev_get_port_by_name(p->devname, &p->port_id) == 0) {
		snprintf(err, E2_ERR_MAX, "device %s is already in use", p->devname);
		return -1;
	}
	/* DPDK's ethdev table is fixed at build time (Debian's: 32); say so, not "no memory" */
	if (rte_eth_dev_count_total() >= RTE_MAX_ETHPORTS) {
		snprintf(err, E2_ERR_MAX,
			 "DPDK allows at most %d ethdev ports (pmd, virtio_user and memif ports) and all are in use",
			 RTE_MAX_ETHPORTS);
		return -1;
	}
	rc = rte_dev_probe(p->devargs);
	if (rc != 0) {
		snprintf(err, E2_ERR_MAX, "cannot create device '%s': %s (see e2d's log for the driver's reason)",
			 p->devargs, rte_strerror(-rc));
		return -1;
	}
	if (rte_eth_dev_get_port_by_name(p->devname, &p->port_id) != 0) {
		snprintf(err, E2_ERR_MAX, "device %s was created but is not an ethernet port", p->devname);
		rte_eal_hotplug_remove("vdev", p->devname);
		return -1;
	}
	if (setup_ethdev(p, pool, err) != 0) {
		rte_eth_dev_close(p->port_id);
		rte_eal_hotplug_remove("vdev", p->devname);
		return -1;
	}
	p->ops = &e2_ethdev_ops;
	return 0;
}

static int open_ethdev(struct e2_port *p, const struct e2_args *args, struct rte_mempool *pool, char *err)
{
	if (p->drv->devargs(p->name, args, p->devargs, sizeof(p->devargs), err) != 0)
		return -1;
	return e2_port_ethdev_attach(p, pool, err);
}

struct e2_port *e2_port_open(const char *name, const struct e2_port_driver *drv, const struct e2_args *args,
			     struct rte_mempool *pool, char *err)
{
	struct e2_port *p;
	uint64_t queues;
	int rc;

	/* every driver's: native=1 (the port's NF speaks E2's native API: NSH metadata) and
	 * capacity_kbps=N (the rate the NF behind was sized for: the monitor's load) */
	struct e2_arg own[64];
	struct e2_args drv_args = {.n = 0, .v = own};
	uint64_t native, capacity_kbps;
	for (size_t i = 0; args && i < args->n && i < 64; i++)
		if (strcmp(args->v[i].key, "native") != 0 && strcmp(args->v[i].key, "capacity_kbps") != 0)
			own[drv_args.n++] = args->v[i];
	if (e2_args_u64(args, "native", 0, 0, 1, &native, err) < 0 ||
	    e2_args_u64(args, "capacity_kbps", 0, 0, UINT64_C(1) << 40, &capacity_kbps, err) < 0)
		return NULL;
	if (e2_args_check_known(&drv_args, drv->known_args, err) != 0)
		return NULL;
	args = &drv_args;
	if (e2_args_u64(args, "queues", 1, 1, 8, &queues, err) < 0)
		return NULL;
	p = calloc(1, sizeof(*p));
	if (!p) {
		snprintf(err, E2_ERR_MAX, "out of memory");
		return NULL;
	}
	snprintf(p->name, sizeof(p->name), "%s", name);
	p->drv = drv;
	p->n_queues = (uint16_t)queues;
	p->native = native;
	p->capacity_kbps = capacity_kbps;
	p->port_id = E2_PORT_NO_ETHDEV;
	rc = drv->open ? drv->open(p, args, pool, err) : open_ethdev(p, args, pool, err);
	if (rc != 0) {
		free(p);
		return NULL;
	}
	return p;
}

void e2_port_close(struct e2_port *p)
{
	if (!p)
		return;
	p->ops->close(p);
	free((void *)p->args.v);
	free(p);
}

int e2_port_claim_socket_path(const char *path, int type, const char *what, char *err)
{
	struct sockaddr_un a = {.sun_family = AF_UNIX};
	struct stat st;

	if (strlen(path) >= sizeof(a.sun_path)) {
		snprintf(err, E2_ERR_MAX, "%s socket path is longer than %zu bytes", what, sizeof(a.sun_path) - 1);
		return -1;
	}
	if (lstat(path, &st) != 0)
		return 0;
	bool stale = false;
	if (S_ISSOCK(st.st_mode)) {
		int probe = socket(AF_UNIX, type | SOCK_CLOEXEC, 0);
		snprintf(a.sun_path, sizeof(a.sun_path), "%s", path);
		stale = probe >= 0 && connect(probe, (struct sockaddr *)&a, sizeof(a)) != 0 && errno == ECONNREFUSED;
		if (probe >= 0)
			close(probe);
	}
	if (!stale) {
		snprintf(err, E2_ERR_MAX, "%s exists already and is in use or not a socket", path);
		return -1;
	}
	if (unlink(path) != 0) {
		snprintf(err, E2_ERR_MAX, "cannot remove the stale %s socket %s: %s", what, path, strerror(errno));
		return -1;
	}
	E2_INFO("removed stale %s socket %s (nobody listened on it)", what, path);
	return 0;
}

bool e2_port_link_up(const struct e2_port *p)
{
	return p->ops->link_up(p);
}

uint64_t e2_port_rx_drops(const struct e2_port *p)
{
	return p->ops->rx_drops(p) - p->rx_drops_base;
}

double e2_port_tx_fill(const struct e2_port *p, uint16_t queue)
{
	return p->ops->tx_fill ? p->ops->tx_fill(p, queue) : -1;
}

int e2_port_rx_queue_count(const struct e2_port *p, uint16_t queue)
{
	return p->ops->rx_queue_count ? p->ops->rx_queue_count(p, queue) : -1;
}
