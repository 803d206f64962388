/* SPDX-License-Identifier: BSD-3-Clause */
/* e2nf-reasm: the bytestream stage (seed §3.3, Fig. 3.6). It reassembles every TCP flow
 * once (lib/stream.c) and sends each frame on in stream order, its new bytes described
 * in the `t64` stream attribute (flow id, stream offset, where the chunk sits in the
 * frame, its length, direction, FIN; with --flow-id-attr also `flow_id`), so that the stream NFs
 * behind it read ordered bytes without reassembling. Frames ahead of a hole wait here
 * (bounded); frames are never copied. Port 0 <-> port 1. */
#include <getopt.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <rte_mbuf.h>

#include "e2/nf.h"
#include "e2/nf_stream.h"
#include "e2/num.h"
#include "tcp_segment.h"

struct reasm {
	struct e2nf *nf;
	struct e2_stream *s;
	struct e2nf_attr stream_attr, flow_attr;
	bool flow_id_attr;
	uint64_t not_tcp, malformed, meta_failed, chunks, bare_acks;
};

static void out(struct reasm *r, struct rte_mbuf *m)
{
	unsigned n = e2nf_n_ports(r->nf);
	unsigned port = m->port ^ 1u;
	e2nf_send(r->nf, port < n ? port : m->port, m);
}

static void mark(struct reasm *r, struct rte_mbuf *m, const struct e2nf_stream_meta *meta)
{
	uint8_t b[E2NF_STREAM_META_LEN];
	e2nf_stream_meta_encode(meta, b);
	if (e2nf_meta_set(m, &r->stream_attr, b, sizeof(b)) != 0 ||
	    (r->flow_id_attr && !(meta->flags & E2NF_STREAM_F_NOFLOW) &&
	     e2nf_meta_set_u64(m, &r->flow_attr, meta->flow_id) != 0))
		r->meta_failed++;
}

static void on_stream(void *ctx, const struct e2_stream_seg *seg)
{
	struct reasm *r = ctx;
	struct rte_mbuf *m = seg->frame;
	int inner = e2nf_inner_offset(m);
	const uint8_t *start = rte_pktmbuf_mtod(m, const uint8_t *) + (inner > 0 ? inner : 0);
	struct e2nf_stream_meta meta = {
		.flow_id = seg->flow->id,
		.offset = seg->offset,
		.at = (uint16_t)(seg->data - start),
		.len = (uint16_t)seg->len,
		.flags = (uint8_t)((seg->dir ? E2NF_STREAM_F_DIR : 0) | (seg->fin ? E2NF_STREAM_F_FIN : 0) |
				   (seg->offset == 0 ? E2NF_STREAM_F_START : 0)),
	};
	r->chunks++;
	mark(r, m, &meta);
}

static void on_release(void *ctx, void *frame, enum e2_stream_fate fate, struct e2_stream_flow *flow)
{
	struct reasm *r = ctx;
	struct rte_mbuf *m = frame;
	if (fate == E2_STREAM_DROP) {
		e2nf_drop(r->nf, m);
		return;
	}
	if (fate == E2_STREAM_PASS) {
		struct e2nf_stream_meta meta = {.flow_id = flow ? flow->id : 0,
						.flags = flow ? 0 : E2NF_STREAM_F_NOFLOW};
		mark(r, m, &meta);
	}
	out(r, m);
}

/* The burst is parsed first and its flows prefetched (their lookups' cache misses then
 * overlap), then each frame goes on or in, in the order it came. */
static void reasm_rx(struct e2nf *nf, void *state, unsigned port, struct rte_mbuf **pkts, unsigned n)
{
	struct reasm *r = state;
	uint64_t now = e2nf_now_ns(nf);
	struct e2_stream_pkt seg[E2NF_BURST];
	const struct e2_stream_pkt *in[E2NF_BURST];
	bool is_seg[E2NF_BURST];

	for (unsigned k = 0; k < n; k += E2NF_BURST) {
		unsigned b = n - k < E2NF_BURST ? n - k : E2NF_BURST, n_in = 0;
		for (unsigned i = 0; i < b; i++) {
			struct rte_mbuf *m = pkts[k + i];
			struct e2_stream_pkt *p = &seg[i];
			m->port = (uint16_t)port;
			int t = e2nf_tcp_segment(m, p);
			is_seg[i] = false;
			if (t <= 0) {
				if (t < 0)
					r->malformed++;
				else
					r->not_tcp++;
				continue;
			}
			/* a bare ACK moves no stream and starts none: it goes on as it is, unmarked */
			if (p->len == 0 && !(p->flags & (E2_TCP_SYN | E2_TCP_FIN | E2_TCP_RST))) {
				r->bare_acks++;
				continue;
			}
			p->frame = m;
			is_seg[i] = true;
			in[n_in++] = p;
		}
		e2_stream_prefetch(r->s, in, n_in);
		for (unsigned i = 0; i < b; i++) {
			if (is_seg[i])
				e2_stream_input(r->s, &seg[i], now);
			else
				out(r, pkts[k + i]);
		}
	}
}

static void reasm_timer(struct e2nf *nf, void *state, uint64_t now)
{
	struct reasm *r = state;
	(void)nf;
	e2_stream_expire(r->s, now);
}

static void reasm_counters(struct e2nf *nf, void *state, char *buf, size_t len)
{
	struct reasm *r = state;
	(void)nf;
	snprintf(buf, len, "chunks=%llu\nbare_acks=%llu\nnot_tcp=%llu\nmalformed=%llu\nmeta_failed=%llu\n",
		 (unsigned long long)r->chunks, (unsigned long long)r->bare_acks, (unsigned long long)r->not_tcp,
		 (unsigned long long)r->malformed, (unsigned long long)r->meta_failed);
	e2_stream_format_stats(r->s, "", buf, len);
}

static void usage(FILE *o)
{
	fputs("NAME\n"
	      "    e2nf-reasm - TCP reassembly once, for the stream NFs behind it (native NF)\n"
	      "SYNOPSIS\n"
	      "    e2nf-reasm --port SOCK --port SOCK [options]\n"
	      "    e2nf-reasm [options] --check\n"
	      "DESCRIPTION\n"
	      "    Reassembles every TCP flow (IPv4) and sends each frame on, port 0 <-> port 1, in\n"
	      "    stream order. Each TCP frame carries the NSH attribute t64 (flow id, stream offset,\n"
	      "    where its new bytes sit in the frame and how many, direction, FIN), so the stream\n"
	      "    NFs behind it (e2nf-ids) do no reassembly of their own. Frames ahead of\n"
	      "    a hole wait here until it is filled, bounded per flow and in total: past a bound the\n"
	      "    newest frame of the flow is dropped, or the frames of the flow that has held its\n"
	      "    frames the longest are (evictions), as if lost, for the sender to send again.\n"
	      "    Overlaps: the first bytes win; a segment that disagrees with held bytes is dropped\n"
	      "    (conflicts). Non-TCP frames and bare ACKs (no payload, no SYN, FIN or RST: they\n"
	      "    move no stream) pass unmarked; a flow's idle time counts from its last other frame.\n"
	      "OPTIONS\n"
	      "    --flows N           flows tracked at once (default 65536, at most 1048576); the\n"
	      "                        stream NFs behind need --flows at least as large\n"
	      "    --flow-bytes N      bytes held per flow direction ahead of a hole (default 262144)\n"
	      "    --total-bytes N     bytes held in all (default 67108864)\n"
	      "    --held-frames N     frames held in all (default 32768)\n"
	      "    --idle-timeout S    a flow unseen this long is forgotten (default 120)\n"
	      "    --flow-id-attr      also put the flow id in the attribute flow_id (for e2d's nsh_match\n"
	      "                        or NFs that want only that; t64 carries it anyway): one more\n"
	      "                        rewrite of the NSH header per frame\n"
	      "    --check             check the options, print them, exit\n" E2NF_OPTIONS_HELP
	      "    --help              this text\n"
	      "COUNTERS\n"
	      "    chunks bare_acks not_tcp malformed meta_failed segments delivered_bytes in_order out_of_order\n"
	      "    retransmits duplicates overlaps conflicts flows flows_active flows_closed flows_reset\n"
	      "    flows_expired flows_evicted midstream held_frames held_bytes held_bytes_max\n"
	      "    dropped_flow_limit dropped_window evictions evicted_frames, and libe2nf's\n",
	      o);
}

struct reasm_args {
	struct e2_stream_cfg *scfg;
	struct reasm *r;
	bool check;
};

static int reasm_option(int c, const char *arg, void *ctx, struct e2_err *err)
{
	struct reasm_args *a = ctx;
	switch (c) {
	case 'c': a->check = true; return 1;
	case 'F': a->r->flow_id_attr = true; return 1;
	default: return e2nf_stream_option(c, arg, a->scfg, err);
	}
}

int main(int argc, char **argv)
{
	struct e2nf_config cfg = E2NF_CONFIG_INIT("reasm");
	struct e2_stream_cfg scfg = E2_STREAM_CFG_INIT;
	struct reasm r = {0};
	struct e2_err err;
	static const struct option own[] = {{"check", no_argument, NULL, 'c'},
					    E2NF_STREAM_OPTIONS,
					    {"flow-id-attr", no_argument, NULL, 'F'},
					    {NULL, 0, NULL, 0}};
	struct reasm_args args = {.scfg = &scfg, .r = &r};
	int exit_now = e2nf_args(argc, argv, "e2nf-reasm", &cfg, own, reasm_option, &args, usage);
	if (exit_now >= 0)
		return exit_now;
	bool check = args.check;
	if (check) {
		printf("flows=%u\nflow_bytes=%u\ntotal_bytes=%llu\nheld_frames=%u\nidle_timeout_s=%llu\n",
		       scfg.max_flows, scfg.max_flow_bytes, (unsigned long long)scfg.max_total_bytes,
		       scfg.max_held_frames, (unsigned long long)(scfg.idle_ns / 1000000000ull));
		return 0;
	}
	if (cfg.n_ports == 0) {
		fprintf(stderr, "e2nf-reasm: needs --port SOCK (two: in and out)\n");
		return 2;
	}
	if (e2nf_attr(E2NF_STREAM_ATTR, &r.stream_attr, &err) || e2nf_attr("flow_id", &r.flow_attr, &err))
		goto bad;
	scfg.ctx = &r;
	scfg.on_stream = on_stream;
	scfg.on_release = on_release;
	r.s = e2_stream_create(&scfg, &err);
	if (!r.s)
		goto bad;
	cfg.timer_ms = 1000;
	r.nf = e2nf_open(&cfg, &err);
	if (!r.nf) {
		fprintf(stderr, "e2nf-reasm: %s\n", err.msg);
		e2_stream_destroy(r.s);
		return 1;
	}
	const struct e2nf_ops ops = {.rx = reasm_rx, .timer = reasm_timer, .counters = reasm_counters};
	int rc = e2nf_run(r.nf, &ops, &r);
	char stats[4096];
	e2nf_format_counters(r.nf, stats, sizeof(stats));
	fputs(stats, stdout);
	fflush(stdout);
	e2_stream_destroy(r.s); /* frames still held go back to the pool */
	e2nf_close(r.nf);
	return rc < 0 ? 1 : 0;
bad:
	fprintf(stderr, "e2nf-reasm: %s\n", err.msg);
	return 2;
}
