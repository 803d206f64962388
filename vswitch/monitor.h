/* SPDX-License-Identifier: BSD-3-Clause */
/* Load monitor: every interval, the control thread reads each port's and each
 * queue's occupancy and rate and publishes link up/down and overload/underload
 * (with hysteresis) as e2.dp.Event messages on a nanomsg PUB socket; a port given a
 * capacity also says its load (LOAD) whenever it moves by a twentieth. */
#ifndef E2D_MONITOR_H
#define E2D_MONITOR_H

#include <stdbool.h>
#include <stdint.h>

#include "dp.h"

#define E2_MONITOR_MAX 256

struct e2_monitor_entry {
	char name[E2_NAME_MAX];
	bool seen, link_up, overloaded;
	uint64_t last_packets, last_bytes, last_tx_packets;
	double sent_pps, sent_kbps; /* a port with a capacity: what it sends, smoothed */
	double occupancy, rate_pps, delay_us;
	int load_band; /* a port with a capacity: the twentieth of it last said (LOAD); -1: none yet */
};

struct e2_monitor {
	int pub;          /* nanomsg PUB socket, -1 if none */
	double high, low; /* overload above high, underload again below low */
	uint32_t interval_ms;
	uint64_t last_tsc;
	uint64_t published;
	struct e2_monitor_entry e[E2_MONITOR_MAX];
};

int e2_monitor_open(struct e2_monitor *m, const char *events_path, double high, double low, uint32_t interval_ms,
		    char *err);
void e2_monitor_close(struct e2_monitor *m, const char *events_path);
/* Samples and publishes if the interval has passed; cheap to call often. */
void e2_monitor_poll(struct e2_monitor *m, struct e2_dp *dp);

#endif
