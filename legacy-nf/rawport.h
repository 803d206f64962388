/* SPDX-License-Identifier: BSD-3-Clause */
/* Kernel NICs seen the legacy way: one AF_PACKET raw socket per interface, and a loop
 * that moves frames between two of them in batches. Frames carry a virtio_net header
 * (PACKET_VNET_HDR) so GSO/GRO super-frames and partial checksums are forwarded intact
 * instead of being dropped as oversized or corrupted. */
#ifndef E2_LEGACY_RAWPORT_H
#define E2_LEGACY_RAWPORT_H

#include <signal.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <net/if.h>

struct rawport {
	int fd;
	int ifindex;
	char name[IF_NAMESIZE];
	uint64_t rx, tx, tx_dropped, filtered;
};

/* Opens a promiscuous raw socket on `ifname`. */
int rawport_open(struct rawport *p, const char *ifname, char *err, size_t err_len);
void rawport_close(struct rawport *p);

/* Decides whether a frame that arrived on port `in_port` (0 or 1) goes out of the
 * other one. `now_ms` is a monotonic clock read once per batch. */
typedef bool (*bridge_filter_fn)(void *ctx, int in_port, const uint8_t *frame, size_t len, uint64_t now_ms);
/* Called every stats interval and once at the end. */
typedef void (*bridge_report_fn)(void *ctx, const struct rawport ports[2]);

struct bridge_opts {
	bridge_filter_fn filter; /* NULL: forward everything */
	bridge_report_fn report; /* NULL: no reports */
	void *ctx;
	unsigned stats_interval_ms;  /* 0: report only at the end */
	volatile sig_atomic_t *stop; /* loop ends when *stop becomes non-zero */
};

/* Forwards frames both ways until *stop is set. Returns 0, or -1 with err filled if a
 * port fails for good (e.g. the interface disappeared). */
int bridge_run(struct rawport ports[2], const struct bridge_opts *opts, char *err, size_t err_len);

uint64_t monotonic_ms(void);

#endif
