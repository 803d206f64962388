/* SPDX-License-Identifier: BSD-3-Clause */
/* capture: a pass-through (1 in, 1 out) that, once started, also copies packets to a
 * pcap file (libpcap's dump format, readable by tcpdump -r and Wireshark) until it
 * has written count= packets or seconds= have passed; traffic never stops. Insert it
 * on any edge (disconnect A:g; connect A:g cap; connect cap B) or after a port_in.
 *
 * Writing happens on the worker that runs the packets, through stdio buffering: fine
 * for debugging, not for long captures at line rate. The file is complete (closed)
 * as soon as the bound is reached, or on stop. */
#include <errno.h>
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/time.h>

#include <pcap/pcap.h>
#include <rte_cycles.h>

#include "../module.h"
#include "e2/num.h"

#define SNAP_MAX 65535

struct capture {
	pcap_t *dead;
	pcap_dumper_t *dumper; /* non-NULL while capturing */
	uint64_t limit;        /* packets; 0: no count bound */
	uint64_t deadline_tsc; /* 0: no time bound */
	uint32_t snaplen;
	uint64_t written, seen;
	bool done; /* the last capture ended by reaching its bound */
	char file[256];
	uint8_t buf[SNAP_MAX]; /* a multi-segment packet is made contiguous here */
};

static int capture_init(struct e2_module *m, const struct e2_args *args, char *err)
{
	return 0;
}

static void finish(struct capture *s)
{
	if (s->dumper) {
		pcap_dump_close(s->dumper);
		s->dumper = NULL;
	}
	if (s->dead) {
		pcap_close(s->dead);
		s->dead = NULL;
	}
}

static void capture_deinit(struct e2_module *m)
{
	finish(e2_priv(m));
}

static void capture_process(struct e2_ctx *ctx, struct e2_module *m, uint16_t igate, struct e2_batch *b)
{
	struct capture *s = e2_priv(m);

	if (unlikely(s->dumper != NULL)) {
		struct timeval tv;
		gettimeofday(&tv, NULL);
		if (s->deadline_tsc && rte_rdtsc() >= s->deadline_tsc) {
			finish(s);
			s->done = true;
		}
		for (uint16_t i = 0; i < b->cnt && s->dumper; i++) {
			struct rte_mbuf *pkt = b->pkts[i];
			uint32_t caplen = RTE_MIN(pkt->pkt_len, s->snaplen);
			struct pcap_pkthdr h = {.ts = tv, .caplen = caplen, .len = pkt->pkt_len};
			const u_char *data = rte_pktmbuf_read(pkt, 0, caplen, s->buf);
			s->seen++;
			if (!data)
				continue;
			pcap_dump((u_char *)s->dumper, &h, data);
			if (++s->written == s->limit) {
				finish(s);
				s->done = true;
			}
		}
	}
	e2_emit(ctx, m, 0, b);
}

static void report(struct capture *s, struct e2_result *out)
{
	e2_result_add(out, "state", "%s", s->dumper ? "capturing" : s->done ? "done" : "idle");
	e2_result_add(out, "file", "%s", s->file);
	e2_result_add(out, "written", "%" PRIu64, s->written);
}

static int cmd_start(struct e2_module *m, const struct e2_args *a, struct e2_result *out, char *err)
{
	struct capture *s = e2_priv(m);
	const char *file = e2_args_get(a, "file"), *secs = e2_args_get(a, "seconds");
	uint64_t count, snaplen;
	double seconds = 0;

	if (e2_args_u64(a, "count", 0, 1, UINT64_MAX, &count, err) < 0 ||
	    e2_args_u64(a, "snaplen", SNAP_MAX, 14, SNAP_MAX, &snaplen, err) < 0)
		return -1;
	if (secs) {
		struct e2_err e;
		if (e2_num_duration("seconds", secs, 1e-3, 86400, &seconds, &e)) {
			snprintf(err, E2_ERR_MAX, "%s", e.msg);
			return -1;
		}
	}
	if (!file || !*file) {
		snprintf(err, E2_ERR_MAX, "start needs file=PATH");
		return -1;
	}
	if (strlen(file) >= sizeof(s->file)) {
		snprintf(err, E2_ERR_MAX, "file name longer than %zu characters", sizeof(s->file) - 1);
		return -1;
	}
	if (!count && !secs) {
		snprintf(err, E2_ERR_MAX, "start needs a bound: count=N and/or seconds=S");
		return -1;
	}
	if (s->dumper) {
		snprintf(err, E2_ERR_MAX, "already capturing to %s (stop first)", s->file);
		return -1;
	}
	pcap_t *dead = pcap_open_dead(DLT_EN10MB, (int)snaplen);
	if (!dead) {
		snprintf(err, E2_ERR_MAX, "libpcap: cannot open a dead handle");
		return -1;
	}
	pcap_dumper_t *d = pcap_dump_open(dead, file);
	if (!d) {
		snprintf(err, E2_ERR_MAX, "cannot write %s: %s", file, pcap_geterr(dead));
		pcap_close(dead);
		return -1;
	}
	finish(s);
	s->dead = dead;
	s->dumper = d;
	s->limit = count;
	s->snaplen = (uint32_t)snaplen;
	s->deadline_tsc = secs ? rte_rdtsc() + (uint64_t)(seconds * (double)rte_get_tsc_hz()) : 0;
	s->written = s->seen = 0;
	s->done = false;
	snprintf(s->file, sizeof(s->file), "%s", file);
	report(s, out);
	return 0;
}

static int cmd_stop(struct e2_module *m, const struct e2_args *a, struct e2_result *out, char *err)
{
	struct capture *s = e2_priv(m);
	finish(s);
	report(s, out);
	return 0;
}

static int cmd_status(struct e2_module *m, const struct e2_args *a, struct e2_result *out, char *err)
{
	struct capture *s = e2_priv(m);
	/* a time bound that passed with no traffic since: the capture is over */
	if (s->dumper && s->deadline_tsc && rte_rdtsc() >= s->deadline_tsc) {
		finish(s);
		s->done = true;
	}
	report(s, out);
	return 0;
}

static void capture_stats(struct e2_module *m, struct e2_result *out)
{
	report(e2_priv(m), out);
}

static const struct e2_cmd capture_cmds[] = {
	{.name = "start",
	 .help = "file=PATH [count=N] [seconds=S] [snaplen=N (65535)]: at least one bound",
	 .args = E2_ARGS("file", "count", "seconds", "snaplen"),
	 .fn = cmd_start},
	{.name = "stop", .help = "close the file now", .args = E2_ARGS_NONE, .fn = cmd_stop},
	{.name = "status", .help = "state, file, packets written", .args = E2_ARGS_NONE, .fn = cmd_status},
	{0},
};

static const struct e2_module_class capture = {
	.name = "capture",
	.help = "pass-through that copies packets to a pcap file on `start`",
	.igates = 1,
	.ogates = 1,
	.priv_size = sizeof(struct capture),
	.args = E2_ARGS_NONE,
	.init = capture_init,
	.deinit = capture_deinit,
	.process_batch = capture_process,
	.stats = capture_stats,
	.cmds = capture_cmds,
};
E2_MODULE_REGISTER(capture)
