/* SPDX-License-Identifier: BSD-3-Clause */
/* The load monitor (see monitor.h). Runs on the control thread only. */
#include "monitor.h"

#define LOAD_SMOOTH_S 1.0 /* the time constant of a port's load */

#include <errno.h>
#include <nanomsg/nn.h>
#include <nanomsg/pubsub.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include <rte_cycles.h>
#include <rte_ethdev.h>

#include "e2d.pb-c.h"

int e2_monitor_open(struct e2_monitor *m, const char *events_path, double high, double low, uint32_t interval_ms,
		    char *err)
{
	char url[256];

	memset(m, 0, sizeof(*m));
	m->pub = -1;
	if (!(low >= 0 && low < high && high <= 1)) {
		snprintf(err, E2_ERR_MAX, "overload thresholds must satisfy 0 <= low < high <= 1 (got %g, %g)", low,
			 high);
		return -1;
	}
	m->high = high;
	m->low = low;
	m->interval_ms = interval_ms ? interval_ms : 100;
	if (!events_path)
		return 0;
	unlink(events_path);
	m->pub = nn_socket(AF_SP, NN_PUB);
	snprintf(url, sizeof(url), "ipc://%s", events_path);
	mode_t old = umask(0077);
	int ep = m->pub >= 0 ? nn_bind(m->pub, url) : -1;
	umask(old);
	if (ep < 0) {
		snprintf(err, E2_ERR_MAX, "cannot publish events on %s: %s", url, nn_strerror(nn_errno()));
		if (m->pub >= 0)
			nn_close(m->pub);
		m->pub = -1;
		return -1;
	}
	chmod(events_path, 0600);
	return 0;
}

void e2_monitor_close(struct e2_monitor *m, const char *events_path)
{
	if (m->pub >= 0) {
		nn_close(m->pub);
		if (events_path)
			unlink(events_path);
	}
	m->pub = -1;
}

static struct e2_monitor_entry *entry(struct e2_monitor *m, const char *name, bool *fresh)
{
	struct e2_monitor_entry *free_slot = NULL;
	for (size_t i = 0; i < E2_MONITOR_MAX; i++) {
		if (m->e[i].name[0] && strcmp(m->e[i].name, name) == 0) {
			*fresh = false;
			return &m->e[i];
		}
		if (!m->e[i].name[0] && !free_slot)
			free_slot = &m->e[i];
	}
	if (free_slot) {
		memset(free_slot, 0, sizeof(*free_slot));
		snprintf(free_slot->name, sizeof(free_slot->name), "%s", name);
	}
	*fresh = true;
	return free_slot;
}

static void publish(struct e2_monitor *m, E2__Dp__Event__Kind kind, const struct e2_monitor_entry *e)
{
	E2__Dp__Event ev = E2__DP__EVENT__INIT;
	struct timespec ts;
	uint8_t buf[256];

	if (m->pub < 0)
		return;
	clock_gettime(CLOCK_REALTIME, &ts);
	ev.version = 1;
	ev.time_ns = (uint64_t)ts.tv_sec * 1000000000ull + (uint64_t)ts.tv_nsec;
	ev.kind = kind;
	ev.name = (char *)e->name;
	ev.occupancy = e->occupancy;
	ev.rate_pps = e->rate_pps;
	ev.delay_us = e->delay_us;
	ev.sent_pps = e->sent_pps;
	size_t len = e2__dp__event__get_packed_size(&ev);
	if (len > sizeof(buf))
		return;
	e2__dp__event__pack(&ev, buf);
	if (nn_send(m->pub, buf, len, NN_DONTWAIT) >= 0)
		m->published++;
}

/* Overload when occupancy rises above high; underload once it falls below low again. */
static void judge(struct e2_monitor *m, struct e2_monitor_entry *e)
{
	if (!e->overloaded && e->occupancy >= m->high) {
		e->overloaded = true;
		publish(m, E2__DP__EVENT__KIND__OVERLOAD, e);
	} else if (e->overloaded && e->occupancy <= m->low) {
		e->overloaded = false;
		publish(m, E2__DP__EVENT__KIND__UNDERLOAD, e);
	}
}

void e2_monitor_poll(struct e2_monitor *m, struct e2_dp *dp)
{
	uint64_t now = rte_rdtsc();
	double dt = (double)(now - m->last_tsc) / (double)dp->tsc_hz;
	bool fresh;

	if (m->last_tsc && dt * 1000 < m->interval_ms)
		return;
	bool first = m->last_tsc == 0;
	m->last_tsc = now;
	for (size_t i = 0; i < E2_MONITOR_MAX; i++)
		m->e[i].seen = false;

	for (size_t i = 0; i < E2_PORTS_MAX; i++) {
		struct e2_port *p = dp->ports[i];
		struct e2_monitor_entry *e;
		if (!p || !(e = entry(m, p->name, &fresh)))
			continue;
		e->seen = true;
		bool up = e2_port_link_up(p);
		if (fresh || up != e->link_up) {
			e->link_up = up;
			if (!fresh || up)
				publish(m, up ? E2__DP__EVENT__KIND__LINK_UP : E2__DP__EVENT__KIND__LINK_DOWN, e);
		}
		int queued = e2_port_rx_queue_count(p, 0);
		e->occupancy = queued > 0 ? (double)queued / 1024.0 : 0;
		if (e->occupancy > 1)
			e->occupancy = 1;
		/* a port's load is its busiest ring: what waits for us, or what waits for the NF
		 * behind it (an NF VM that cannot keep up leaves its receive ring full) */
		double fill = e2_port_tx_fill(p, 0);
		if (fill > e->occupancy)
			e->occupancy = fill;
		e->rate_pps = fresh || first ? 0 : (double)(p->rx_packets - e->last_packets) / dt;
		e->last_packets = p->rx_packets;
		e->delay_us = e->rate_pps > 0 ? (queued > 0 ? queued : 0) / e->rate_pps * 1e6 : 0;
		/* what the NF behind is sent, over what it was sized for: the load of an NF
		 * (a VM's kernel empties its ring at any rate, then drops on its own); smoothed
		 * over about a second, as a 100 ms sample of a slow NF is a handful of packets */
		if (p->capacity_kbps && !fresh && !first) {
			double a = dt / (LOAD_SMOOTH_S + dt);
			e->sent_pps += a * ((double)(p->tx_packets - e->last_tx_packets) / dt - e->sent_pps);
			e->sent_kbps += a * ((double)(p->tx_bytes - e->last_bytes) * 8 / 1000 / dt - e->sent_kbps);
			double level = e->sent_kbps / (double)p->capacity_kbps;
			if (level > e->occupancy)
				e->occupancy = level > 1 ? 1 : level;
		}
		e->last_bytes = p->tx_bytes;
		e->last_tx_packets = p->tx_packets;
		if (fresh)
			e->load_band = -1;
		judge(m, e);
		/* band 0 is no traffic at all (less than a packet in two seconds): a drained
		 * instance is told apart from a quiet one */
		int band = e->sent_pps < 0.5 ? 0 : (int)(e->occupancy * 20 + 0.5);
		if (e->sent_pps >= 0.5 && band == 0)
			band = 1;
		if (p->capacity_kbps && !fresh && !first && band != e->load_band) {
			e->load_band = band;
			publish(m, E2__DP__EVENT__KIND__LOAD, e);
		}
	}
	/* every module that buffers packets (a queue) reports its occupancy */
	for (size_t i = 0; i < E2_MODULES_MAX; i++) {
		struct e2_module *mod = dp->modules[i];
		struct e2_monitor_entry *e;
		uint32_t used, capacity;
		if (!mod || !mod->cls->occupancy)
			continue;
		mod->cls->occupancy(mod, &used, &capacity);
		double occ = used, cap = capacity;
		if (cap <= 0 || !(e = entry(m, mod->name, &fresh)))
			continue;
		e->seen = true;
		uint64_t out = mod->n_ogates ? mod->ogates[0].packets : mod->packets;
		e->occupancy = occ / cap;
		e->rate_pps = fresh || first ? 0 : (double)(out - e->last_packets) / dt;
		e->last_packets = out;
		e->delay_us = e->rate_pps > 0 ? occ / e->rate_pps * 1e6 : 0;
		judge(m, e);
	}
	for (size_t i = 0; i < E2_MONITOR_MAX; i++)
		if (!m->e[i].seen)
			m->e[i].name[0] = '\0';
}
