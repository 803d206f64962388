/* SPDX-License-Identifier: BSD-3-Clause */
/* libe2nf's ethdev mode (private to the library): the NF's ports are DPDK NICs. */
#ifndef E2NF_ETHDEV_H
#define E2NF_ETHDEV_H

#include <stdbool.h>

#include "e2/nf.h"

struct e2nf_ethdev;

/* Starts DPDK as the primary process (in-memory, hugepages), probes cfg->ports as
 * devices, makes a pool of its own (*pool) and starts every port with one queue each
 * way. *eal_up says whether DPDK was started (to be cleaned up even on failure). */
struct e2nf_ethdev *e2nf_ethdev_open(const char *name, const struct e2nf_config *cfg, struct rte_mempool **pool,
				     bool *eal_up, struct e2_err *err);
unsigned e2nf_ethdev_rx(struct e2nf_ethdev *e, unsigned port, struct rte_mbuf **pkts, unsigned n);
/* Returns how many of pkts the NIC took; the rest are still the caller's. */
unsigned e2nf_ethdev_tx(struct e2nf_ethdev *e, unsigned port, struct rte_mbuf **pkts, unsigned n);
/* Stops and closes the ports and frees the pool (before DPDK is cleaned up). */
void e2nf_ethdev_close(struct e2nf_ethdev *e);

#endif
