/* SPDX-License-Identifier: BSD-3-Clause */
/* Any DPDK virtual device by its devargs: null, ring, pcap, tap, af_packet...
 * Used for external links and for tests. */
#include <stdio.h>
#include <string.h>

#include "../port.h"

static const char *const known[] = {"devargs", "queues", NULL};

static int pmd_devargs(const char *name, const struct e2_args *args, char *out, size_t len, char *err)
{
	const char *d = e2_args_get(args, "devargs");

	if (!d || !*d) {
		snprintf(err, E2_ERR_MAX, "pmd port needs devargs=DRIVER[,k=v...] (e.g. net_null0, net_tap0,iface=t0)");
		return -1;
	}
	if (strncmp(d, "net_", 4) != 0) {
		snprintf(err, E2_ERR_MAX, "devargs '%s' must name a virtual device (net_...); PCI devices are not used",
			 d);
		return -1;
	}
	if ((size_t)snprintf(out, len, "%s", d) >= len) {
		snprintf(err, E2_ERR_MAX, "devargs too long");
		return -1;
	}
	return 0;
}

static const struct e2_port_driver port_pmd = {
	.name = "pmd",
	.help = "any DPDK virtual device: devargs=net_null0|net_ring0|net_pcap0,rx_pcap=..|net_tap0,iface=..|net_af_packet0,iface=..",
	.known_args = known,
	.devargs = pmd_devargs,
};
E2_PORT_DRIVER_REGISTER(port_pmd)
