/* SPDX-License-Identifier: BSD-3-Clause */
/* libe2nf's ethdev mode: the NF's ports are DPDK NICs instead of e2d's nf ports.
 *
 * In an NF VM they are the guest's virtio-net devices, bound to uio_pci_generic and
 * driven by DPDK's virtio PMD; their other ends are e2d's vhost-user ports, so the one
 * copy a packet costs is librte_vhost's at e2d and there is none here: the PMD hands
 * over the buffers it received into, and transmits the ones it is given. With no e2d
 * memory to attach to, the NF is the DPDK primary and packets live in a pool of its
 * own. The same code drives any other DPDK device (virtio-user, a physical NIC), which
 * is how a process on the host can stand in for the VM in tests. */
#include <sched.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <rte_eal.h>
#include <rte_errno.h>
#include <rte_ethdev.h>
#include <rte_lcore.h>
#include <rte_mbuf.h>
#include <rte_mempool.h>
#include <rte_pci.h>

#include "ethdev.h"

/* Rings of this size absorb a burst of TCP segments on a TCG guest that runs late. */
#define RX_DESC 512
#define TX_DESC 512
#define POOL_CACHE 256
#define EAL_ARGS_MAX (16 + 2 * E2NF_PORTS_MAX)

struct e2nf_ethdev {
	unsigned n_ports;
	uint16_t port_id[E2NF_PORTS_MAX];
	bool started[E2NF_PORTS_MAX];
	struct rte_mempool *pool;
};

/* A PCI address in DPDK's own spelling (0000:00:03.0), which is also its ethdev name. */
static bool pci_name(const char *spec, char *name, size_t len)
{
	struct rte_pci_addr addr;
	if (rte_pci_addr_parse(spec, &addr) != 0)
		return false;
	rte_pci_device_name(&addr, name, len);
	return true;
}

/* The pool holds every descriptor of every ring, a burst in hand per port and the
 * lcore's cache, rounded up to a power of two minus one (the ring's best size). */
static unsigned pool_size(unsigned n_ports)
{
	unsigned need = n_ports * (RX_DESC + TX_DESC + 2 * E2NF_BURST) + 2 * POOL_CACHE, n = 1;
	while (n - 1 < need)
		n <<= 1;
	return n - 1;
}

static int start_port(struct e2nf_ethdev *e, unsigned i, const char *spec, struct e2_err *err)
{
	const uint16_t pid = e->port_id[i];
	struct rte_eth_conf conf = {0};
	uint16_t nrx = RX_DESC, ntx = TX_DESC;
	int rc = rte_eth_dev_configure(pid, 1, 1, &conf);

	if (rc == 0)
		rc = rte_eth_dev_adjust_nb_rx_tx_desc(pid, &nrx, &ntx);
	if (rc == 0)
		rc = rte_eth_rx_queue_setup(pid, 0, nrx, (unsigned)rte_eth_dev_socket_id(pid), NULL, e->pool);
	if (rc == 0)
		rc = rte_eth_tx_queue_setup(pid, 0, ntx, (unsigned)rte_eth_dev_socket_id(pid), NULL);
	if (rc != 0) {
		e2_seterr(err, "port %u (%s): cannot set it up: %s", i, spec, rte_strerror(-rc));
		return -1;
	}
	/* A bump in the wire passes frames for any address; a device that filters nothing
	 * (virtio without a control queue) says it cannot, which is as good. */
	rte_eth_promiscuous_enable(pid);
	rc = rte_eth_dev_start(pid);
	if (rc != 0) {
		e2_seterr(err, "port %u (%s): cannot start it: %s", i, spec, rte_strerror(-rc));
		return -1;
	}
	e->started[i] = true;
	struct rte_eth_link link;
	rte_eth_link_get_nowait(pid, &link);
	fprintf(stderr, "e2nf: port %u is %s (%u rx, %u tx descriptors), link %s\n", i, spec, nrx, ntx,
		link.link_status ? "up" : "down (the switch has not attached yet)");
	return 0;
}

struct e2nf_ethdev *e2nf_ethdev_open(const char *name, const struct e2nf_config *cfg, struct rte_mempool **pool,
				     bool *eal_up, struct e2_err *err)
{
	char *argv[EAL_ARGS_MAX + 1];
	char lcores[64], prefix[64], loglevel[64], dev[E2NF_PORTS_MAX][64];
	int argc = 0;
	bool any_pci = false;

	*eal_up = false;
	struct e2nf_ethdev *e = calloc(1, sizeof(*e));
	if (!e) {
		e2_seterr(err, "out of memory");
		return NULL;
	}
	e->n_ports = cfg->n_ports;
	if (cfg->cpu >= 0) {
		snprintf(lcores, sizeof(lcores), "0@%d", cfg->cpu);
	} else {
		cpu_set_t allowed;
		int lo = -1, hi = -1;
		sched_getaffinity(0, sizeof(allowed), &allowed);
		for (int c = 0; c < CPU_SETSIZE; c++)
			if (CPU_ISSET(c, &allowed)) {
				lo = lo < 0 ? c : lo;
				hi = c;
			}
		snprintf(lcores, sizeof(lcores), "0@(%d-%d)", lo, hi);
	}
	/* In memory: no files to leave behind, and several such NFs side by side on a host.
	 * One file per segment list, not per page: a virtio-user port shares all of the NF's
	 * memory with its vhost-user peer in at most 8 regions, and an NF's tables (the
	 * firewall's rte_acl, rte_hash) take more pages after the ports started. */
	snprintf(prefix, sizeof(prefix), "e2nf-eth-%d", (int)getpid());
	snprintf(loglevel, sizeof(loglevel), "%s", cfg->dpdk_log_level ? cfg->dpdk_log_level : "error");
	argv[argc++] = (char *)name;
	argv[argc++] = "--in-memory";
	argv[argc++] = "--single-file-segments";
	argv[argc++] = "--file-prefix";
	argv[argc++] = prefix;
	argv[argc++] = "--lcores";
	argv[argc++] = lcores;
	argv[argc++] = "--no-telemetry";
	argv[argc++] = "--log-level";
	argv[argc++] = loglevel;
	for (unsigned i = 0; i < cfg->n_ports; i++) {
		const char *spec = cfg->ports[i];
		if (pci_name(spec, dev[i], sizeof(dev[i]))) {
			argv[argc++] = "-a";
			argv[argc++] = (char *)spec;
			any_pci = true;
		} else {
			/* a virtual device's devargs: its name is what comes before the first comma */
			size_t n = strcspn(spec, ",");
			if (n == 0 || n >= sizeof(dev[i])) {
				e2_seterr(err, "port %u: '%s' is neither a PCI address nor a DPDK virtual device", i,
					  spec);
				goto fail;
			}
			snprintf(dev[i], sizeof(dev[i]), "%.*s", (int)n, spec);
			argv[argc++] = "--vdev";
			argv[argc++] = (char *)spec;
		}
	}
	if (!any_pci)
		argv[argc++] = "--no-pci";
	argv[argc] = NULL;
	if (rte_eal_init(argc, argv) < 0) {
		e2_seterr(err,
			  "cannot start DPDK for the NF's NICs: %s (free hugepages? a NIC bound to "
			  "uio_pci_generic?)",
			  rte_strerror(rte_errno));
		goto fail;
	}
	*eal_up = true;
	for (unsigned i = 0; i < cfg->n_ports; i++)
		if (rte_eth_dev_get_port_by_name(dev[i], &e->port_id[i]) != 0) {
			e2_seterr(err, "port %u: DPDK found no NIC %s (not bound to uio_pci_generic, or no PMD for it)",
				  i, cfg->ports[i]);
			goto fail;
		}
	e->pool = rte_pktmbuf_pool_create("e2nf_eth", pool_size(cfg->n_ports), POOL_CACHE, 0, RTE_MBUF_DEFAULT_BUF_SIZE,
					  (int)rte_socket_id());
	if (!e->pool) {
		e2_seterr(err, "no memory for %u packet buffers: %s", pool_size(cfg->n_ports), rte_strerror(rte_errno));
		goto fail;
	}
	for (unsigned i = 0; i < cfg->n_ports; i++)
		if (start_port(e, i, cfg->ports[i], err) != 0)
			goto fail;
	*pool = e->pool;
	return e;
fail:
	e2nf_ethdev_close(e);
	return NULL;
}

unsigned e2nf_ethdev_rx(struct e2nf_ethdev *e, unsigned port, struct rte_mbuf **pkts, unsigned n)
{
	return rte_eth_rx_burst(e->port_id[port], 0, pkts, (uint16_t)n);
}

unsigned e2nf_ethdev_tx(struct e2nf_ethdev *e, unsigned port, struct rte_mbuf **pkts, unsigned n)
{
	return rte_eth_tx_burst(e->port_id[port], 0, pkts, (uint16_t)n);
}

void e2nf_ethdev_close(struct e2nf_ethdev *e)
{
	if (!e)
		return;
	for (unsigned i = 0; i < e->n_ports; i++)
		if (e->started[i]) {
			rte_eth_dev_stop(e->port_id[i]);
			rte_eth_dev_close(e->port_id[i]);
		}
	if (e->pool)
		rte_mempool_free(e->pool);
	free(e);
}
