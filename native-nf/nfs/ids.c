/* SPDX-License-Identifier: BSD-3-Clause */
/* e2nf-ids: a stream IDS/IPS as a native NF. Snort-like content rules (ids_rules.h) are
 * matched over each TCP flow's ordered bytes, with scan state kept per flow direction
 * (ids_match.h), so a content split over segments is found. The ordered bytes come from
 * e2nf-reasm in front (its t64 attribute: this NF trusts it and reassembles nothing) or,
 * for frames without it or with --own-reassembly, from the same reassembler run here.
 * `drop` rules drop the frame that completes the content and every later frame of the
 * flow. Port 0 <-> port 1. */
#include <getopt.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <rte_mbuf.h>

#include "e2/file.h"
#include "e2/nf.h"
#include "e2/nf_stream.h"
#include "e2/num.h"
#include "ids_match.h"
#include "ids_rules.h"
#include "tcp_segment.h"

#define FIRED_MAX 8 /* rules remembered per flow as having alerted already */

struct ids_flow {
	uint32_t id; /* trusted mode: e2nf-reasm's flow in this slot */
	bool dropped;
	uint8_t n_fired;
	uint16_t fired[FIRED_MAX];
	uint64_t next_off[2];
	struct ids_scan sc[2];
};

struct ids {
	struct e2nf *nf;
	struct ids_ruleset rs;
	struct ids_engine *eng;
	struct e2nf_attr stream_attr;
	bool own_only;
	uint64_t depth[2]; /* bytes of each direction worth scanning: past it no rule can match */
	uint64_t stream_depth;
	struct e2_stream_cfg scfg;
	struct e2_stream *own;  /* created on the first frame that needs it */
	struct ids_flow *flows; /* trusted mode, by flow slot */
	unsigned n_flows;
	uint64_t *alerts_by_rule;
	uint64_t trusted, own_frames, chunks, bytes_scanned, alerts, dropped_frames, flows_dropped, not_tcp, malformed;
	uint64_t meta_bad, flows_replaced, gaps, bare_acks;
};

struct match_ctx {
	struct ids *ids;
	struct ids_flow *fl;
	unsigned dir;
	struct rte_mbuf *m;
	const struct e2_stream_flow *flow; /* own reassembly: the tuple is there */
};

static void out(struct ids *s, struct rte_mbuf *m)
{
	unsigned n = e2nf_n_ports(s->nf), port = m->port ^ 1u;
	e2nf_send(s->nf, port < n ? port : m->port, m);
}

static void on_match(void *ctx, unsigned rule, uint64_t end)
{
	struct match_ctx *mc = ctx;
	struct ids *s = mc->ids;
	const struct ids_rule *r = &s->rs.rules[rule];
	uint64_t start = end - r->content_len;
	if (start < r->offset || (r->depth && end > (uint64_t)r->offset + r->depth))
		return;
	for (unsigned i = 0; i < mc->fl->n_fired; i++)
		if (mc->fl->fired[i] == rule)
			return;
	struct e2_stream_tuple t;
	if (mc->flow) {
		t = mc->flow->client;
		if (mc->dir) {
			t.saddr = mc->flow->client.daddr, t.daddr = mc->flow->client.saddr;
			t.sport = mc->flow->client.dport, t.dport = mc->flow->client.sport;
		}
	} else {
		struct e2_stream_pkt p;
		if (e2nf_tcp_segment(mc->m, &p) != 1)
			return;
		t = p.t;
	}
	if (!ids_rule_header_matches(r, t.saddr, t.sport, t.daddr, t.dport))
		return;
	if (mc->fl->n_fired < FIRED_MAX)
		mc->fl->fired[mc->fl->n_fired++] = (uint16_t)rule;
	s->alerts++;
	s->alerts_by_rule[rule]++;
	if (r->action == IDS_DROP && !mc->fl->dropped) {
		mc->fl->dropped = true;
		s->flows_dropped++;
	}
	fprintf(stderr, "e2nf-ids: %s sid=%u msg=\"%s\" %u.%u.%u.%u:%u -> %u.%u.%u.%u:%u %s stream_offset=%llu\n",
		r->action == IDS_DROP ? "drop" : "alert", r->sid, r->msg, t.saddr >> 24, t.saddr >> 16 & 255,
		t.saddr >> 8 & 255, t.saddr & 255, t.sport, t.daddr >> 24, t.daddr >> 16 & 255, t.daddr >> 8 & 255,
		t.daddr & 255, t.dport, mc->dir ? "to_client" : "to_server", (unsigned long long)start);
}

static void scan(struct ids *s, struct ids_flow *fl, unsigned dir, const uint8_t *data, uint32_t len, uint64_t off,
		 struct rte_mbuf *m, const struct e2_stream_flow *flow)
{
	struct match_ctx mc = {.ids = s, .fl = fl, .dir = dir, .m = m, .flow = flow};
	if (off >= s->depth[dir])
		return;
	if (off + len > s->depth[dir])
		len = (uint32_t)(s->depth[dir] - off);
	s->chunks++;
	s->bytes_scanned += len;
	ids_scan_bytes(s->eng, dir, &fl->sc[dir], data, len, off, on_match, &mc);
}

/* --- own reassembly --- */

static void own_stream(void *ctx, const struct e2_stream_seg *seg)
{
	struct ids *s = ctx;
	struct ids_flow *fl = seg->flow->user;
	if (!fl->dropped && seg->len)
		scan(s, fl, seg->dir, seg->data, seg->len, seg->offset, seg->frame, seg->flow);
}

static void own_release(void *ctx, void *frame, enum e2_stream_fate fate, struct e2_stream_flow *flow)
{
	struct ids *s = ctx;
	struct rte_mbuf *m = frame;
	if (fate == E2_STREAM_DROP) {
		e2nf_drop(s->nf, m);
		return;
	}
	if (flow && ((struct ids_flow *)flow->user)->dropped) {
		s->dropped_frames++;
		e2nf_drop(s->nf, m);
		return;
	}
	out(s, m);
}

static void own_flow_end(void *ctx, struct e2_stream_flow *flow, enum e2_stream_end why)
{
	struct ids *s = ctx;
	struct ids_flow *fl = flow->user;
	(void)why;
	ids_scan_close(s->eng, &fl->sc[0]);
	ids_scan_close(s->eng, &fl->sc[1]);
}

static void own_input(struct ids *s, struct rte_mbuf *m, uint64_t now)
{
	struct e2_stream_pkt p;
	int k = e2nf_tcp_segment(m, &p);
	if (k <= 0) {
		if (k < 0)
			s->malformed++;
		else
			s->not_tcp++;
		out(s, m);
		return;
	}
	if (!s->own) {
		struct e2_err err;
		s->own = e2_stream_create(&s->scfg, &err);
		if (!s->own) {
			fprintf(stderr, "e2nf-ids: %s\n", err.msg);
			e2nf_stop(s->nf);
			e2nf_drop(s->nf, m);
			return;
		}
	}
	s->own_frames++;
	p.frame = m;
	e2_stream_input(s->own, &p, now);
}

/* --own-reassembly: the burst parsed first and its flows prefetched, as e2nf-reasm does
 * (the baseline gets the same help as the shared stage), then in order as own_input. */
static void own_burst(struct ids *s, unsigned port, struct rte_mbuf **pkts, unsigned n, uint64_t now)
{
	struct e2_stream_pkt seg[E2NF_BURST];
	const struct e2_stream_pkt *in[E2NF_BURST];
	bool is_seg[E2NF_BURST];

	for (unsigned k = 0; k < n; k += E2NF_BURST) {
		unsigned b = n - k < E2NF_BURST ? n - k : E2NF_BURST, n_in = 0;
		for (unsigned i = 0; i < b; i++) {
			struct rte_mbuf *m = pkts[k + i];
			m->port = (uint16_t)port;
			int t = e2nf_tcp_segment(m, &seg[i]);
			is_seg[i] = t > 0;
			if (t < 0)
				s->malformed++;
			else if (t == 0)
				s->not_tcp++;
			else {
				seg[i].frame = m;
				in[n_in++] = &seg[i];
			}
		}
		e2_stream_prefetch(s->own, in, n_in);
		for (unsigned i = 0; i < b; i++) {
			if (!is_seg[i]) {
				out(s, pkts[k + i]);
				continue;
			}
			s->own_frames++;
			e2_stream_input(s->own, &seg[i], now);
		}
	}
}

/* --- trusting e2nf-reasm --- */

static void trusted_input(struct ids *s, struct rte_mbuf *m, const uint8_t *b)
{
	struct e2nf_stream_meta meta;
	e2nf_stream_meta_decode(b, &meta);
	s->trusted++;
	if (meta.flags & E2NF_STREAM_F_NOFLOW) {
		out(s, m);
		return;
	}
	struct ids_flow *fl = &s->flows[E2_STREAM_SLOT(meta.flow_id) % s->n_flows];
	if (fl->id != meta.flow_id) {
		if (fl->id)
			s->flows_replaced++;
		ids_scan_close(s->eng, &fl->sc[0]);
		ids_scan_close(s->eng, &fl->sc[1]);
		memset(fl, 0, sizeof(*fl));
		fl->id = meta.flow_id;
	}
	if (!fl->dropped && meta.len) {
		unsigned dir = meta.flags & E2NF_STREAM_F_DIR ? 1 : 0;
		/* e2nf_meta_get found the attribute, so the NSH header is whole: its length and
		 * next protocol (Ethernet) say where the inner frame is without a second walk */
		const uint8_t *d = rte_pktmbuf_mtod(m, const uint8_t *);
		uint32_t inner = 14u + (d[15] & 0x3fu) * 4u;
		if (d[17] != 3 || inner + meta.at + meta.len > m->data_len) {
			s->meta_bad++;
			out(s, m);
			return;
		}
		const uint8_t *data = d + inner + meta.at;
		uint32_t len = meta.len;
		uint64_t off = meta.offset;
		if (fl->sc[dir].open && off != fl->next_off[dir]) {
			if (off < fl->next_off[dir]) { /* bytes scanned already: the rest only */
				uint64_t old = fl->next_off[dir] - off;
				if (old >= len)
					len = 0;
				else
					data += old, len -= (uint32_t)old, off += old;
			} else { /* bytes that never came here: matching starts again */
				s->gaps++;
				ids_scan_close(s->eng, &fl->sc[dir]);
			}
		}
		if (len) {
			scan(s, fl, dir, data, len, off, m, NULL);
			fl->next_off[dir] = off + len;
		}
	}
	if (meta.flags & E2NF_STREAM_F_FIN) /* the direction's last byte: its scan state goes now */
		ids_scan_close(s->eng, &fl->sc[meta.flags & E2NF_STREAM_F_DIR ? 1 : 0]);
	if (fl->dropped) {
		s->dropped_frames++;
		e2nf_drop(s->nf, m);
		return;
	}
	out(s, m);
}

static void ids_rx(struct e2nf *nf, void *state, unsigned port, struct rte_mbuf **pkts, unsigned n)
{
	struct ids *s = state;
	uint64_t now = e2nf_now_ns(nf);
	if (s->own_only) { /* created at start */
		own_burst(s, port, pkts, n, now);
		return;
	}
	for (unsigned i = 0; i < n; i++) {
		struct rte_mbuf *m = pkts[i];
		m->port = (uint16_t)port;
		if (!s->own_only) {
			int k;
			const uint8_t *b = e2nf_meta_find(m, &s->stream_attr, &k);
			if (b && k == E2NF_STREAM_META_LEN) {
				trusted_input(s, m, b);
				continue;
			}
			if (k != 0)
				s->meta_bad++;
			/* e2nf-reasm does not mark bare ACKs: unless this NF reassembles some flows
			 * itself (whose drops must hold for ACKs too), they go on untouched */
			struct e2_stream_pkt p;
			if (!s->own && e2nf_tcp_segment(m, &p) == 1 && p.len == 0 &&
			    !(p.flags & (E2_TCP_SYN | E2_TCP_FIN | E2_TCP_RST))) {
				s->bare_acks++;
				out(s, m);
				continue;
			}
		}
		own_input(s, m, now);
	}
}

static void ids_timer(struct e2nf *nf, void *state, uint64_t now)
{
	struct ids *s = state;
	(void)nf;
	if (s->own)
		e2_stream_expire(s->own, now);
}

static void ids_counters(struct e2nf *nf, void *state, char *buf, size_t len)
{
	struct ids *s = state;
	(void)nf;
	size_t at = (size_t)snprintf(
		buf, len,
		"matcher_%s=1\nrules=%u\ntrusted_frames=%llu\nown_frames=%llu\nchunks=%llu\nbytes_scanned=%llu\n"
		"alerts=%llu\ndropped_frames=%llu\nflows_dropped=%llu\nnot_tcp=%llu\nmalformed=%llu\nmeta_bad=%llu\n"
		"flows_replaced=%llu\ngaps=%llu\nbare_acks=%llu\n",
		ids_engine_name(s->eng), s->rs.n, (unsigned long long)s->trusted, (unsigned long long)s->own_frames,
		(unsigned long long)s->chunks, (unsigned long long)s->bytes_scanned, (unsigned long long)s->alerts,
		(unsigned long long)s->dropped_frames, (unsigned long long)s->flows_dropped,
		(unsigned long long)s->not_tcp, (unsigned long long)s->malformed, (unsigned long long)s->meta_bad,
		(unsigned long long)s->flows_replaced, (unsigned long long)s->gaps, (unsigned long long)s->bare_acks);
	for (unsigned i = 0; i < s->rs.n && at < len; i++)
		at += (size_t)snprintf(buf + at, len - at, "alerts_sid_%u=%llu\n", s->rs.rules[i].sid,
				       (unsigned long long)s->alerts_by_rule[i]);
	if (s->own && at < len)
		e2_stream_format_stats(s->own, "reasm_", buf, len);
}

static void usage(FILE *o)
{
	fputs("NAME\n"
	      "    e2nf-ids - content rules over TCP streams, alert or drop (native NF)\n"
	      "SYNOPSIS\n"
	      "    e2nf-ids --rules FILE --port SOCK --port SOCK [options]\n"
	      "    e2nf-ids --rules FILE --check\n"
	      "DESCRIPTION\n"
	      "    Matches Snort-like content rules over each TCP flow's ordered bytes, keeping the\n"
	      "    match state per flow direction so that a content split over segments (in any\n"
	      "    arrival order) is found. Behind e2nf-reasm it trusts the stream attribute (t64)\n"
	      "    that e2nf-reasm puts on each frame and reassembles nothing; frames without it\n"
	      "    (or all, with --own-reassembly) go through the same reassembler here. An alert\n"
	      "    is logged on stderr and counted (alerts_sid_N), once per rule and flow direction;\n"
	      "    a drop rule also drops that frame and every later frame of its flow, both ways.\n"
	      "    Port 0 <-> port 1.\n"
	      "RULES (one per line; # comments)\n"
	      "    alert|drop tcp SRC SPORT ->|<> DST DPORT (msg:\"..\"; content:\"..\"; [nocase;]\n"
	      "        [offset:N;] [depth:N;] [flow:to_server|to_client[,established];] sid:N; [rev:N;])\n"
	      "    SRC/DST any, A.B.C.D or A.B.C.D/LEN; ports any, N, N:M, :M, N:. Content may hold\n"
	      "    |41 42| hex bytes and \\\" \\; \\\\ escapes; one content per rule; offset and depth\n"
	      "    count from the start of the stream in that direction. Not done: variables, lists,\n"
	      "    negation, pcre, several contents (distance, within), http_* buffers, byte_test,\n"
	      "    flowbits, thresholds, other protocols.\n"
	      "OPTIONS\n"
	      "    --rules FILE        the rules (required)\n"
	      "    --check             parse and compile the rules, print how many, exit\n"
	      "    --own-reassembly    reassemble here even if frames carry e2nf-reasm's attribute\n"
	      "    --matcher M         hyperscan (default when built with it) or ac (Aho-Corasick)\n"
	      "    --stream-depth N    scan no more than the first N bytes of each direction of a flow\n"
	      "                        (as Snort's flow_depth, Suricata's reassembly depth; default 0:\n"
	      "                        all). A direction whose rules all have a depth is scanned only as\n"
	      "                        far as the deepest reaches, whatever N\n"
	      "    --flows N           flows at once (default 65536; at least e2nf-reasm's --flows)\n"
	      "    --flow-bytes N, --total-bytes N, --held-frames N, --idle-timeout S\n"
	      "                        the own reassembler's bounds, as e2nf-reasm's\n" E2NF_OPTIONS_HELP
	      "    --help              this text\n"
	      "COUNTERS\n"
	      "    matcher_NAME rules trusted_frames own_frames chunks bytes_scanned alerts\n"
	      "    dropped_frames flows_dropped not_tcp malformed meta_bad flows_replaced gaps bare_acks\n"
	      "    alerts_sid_N, reasm_* (own reassembler), and libe2nf's\n",
	      o);
}

struct ids_args {
	struct ids *s;
	enum ids_matcher_kind kind;
	const char *rules_path;
	bool check;
};

static int ids_option(int c, const char *arg, void *ctx, struct e2_err *err)
{
	struct ids_args *a = ctx;
	switch (c) {
	case 'c': a->check = true; return 1;
	case 'o': a->s->own_only = true; return 1;
	case 'r': a->rules_path = arg; return 1;
	case 'm':
		if (strcmp(arg, "hyperscan") == 0)
			a->kind = IDS_MATCHER_HYPERSCAN;
		else if (strcmp(arg, "ac") == 0)
			a->kind = IDS_MATCHER_AC;
		else {
			e2_seterr(err, "--matcher is hyperscan or ac, not '%s'", arg);
			return -1;
		}
		return 1;
	case 'd': return e2_num_u64("--stream-depth", arg, 0, UINT64_MAX / 2, &a->s->stream_depth, err) ? -1 : 1;
	default: return e2nf_stream_option(c, arg, &a->s->scfg, err);
	}
}

int main(int argc, char **argv)
{
	struct e2nf_config cfg = E2NF_CONFIG_INIT("ids");
	struct ids s = {.scfg = E2_STREAM_CFG_INIT};
	struct e2_err err;
	int rc = 1;
	static const struct option own[] = {{"check", no_argument, NULL, 'c'},
					    E2NF_STREAM_OPTIONS,
					    {"rules", required_argument, NULL, 'r'},
					    {"own-reassembly", no_argument, NULL, 'o'},
					    {"matcher", required_argument, NULL, 'm'},
					    {"stream-depth", required_argument, NULL, 'd'},
					    {NULL, 0, NULL, 0}};
	struct ids_args args = {.s = &s, .kind = IDS_MATCHER_BEST};
	int exit_now = e2nf_args(argc, argv, "e2nf-ids", &cfg, own, ids_option, &args, usage);
	if (exit_now >= 0)
		return exit_now;
	s.n_flows = s.scfg.max_flows;
	enum ids_matcher_kind kind = args.kind;
	const char *rules_path = args.rules_path;
	bool check = args.check;
	if (!rules_path) {
		fprintf(stderr, "e2nf-ids: needs --rules FILE (see --help)\n");
		return 2;
	}
	size_t len;
	char *text = e2_read_file(rules_path, 64u << 20, &len, &err);
	if (!text)
		goto bad;
	int pr = ids_rules_parse(text, len, rules_path, &s.rs, &err);
	free(text);
	if (pr)
		goto bad;
	s.eng = ids_engine_build(&s.rs, kind, &err);
	if (!s.eng)
		goto bad;
	for (unsigned d = 0; d < 2; d++) {
		/* a direction whose rules all have a depth is scanned no further than the deepest */
		uint64_t deepest = 0;
		for (unsigned i = 0; i < s.rs.n; i++) {
			const struct ids_rule *r = &s.rs.rules[i];
			if (r->flow_dir != IDS_FLOW_ANY && r->flow_dir != (int)d)
				continue;
			uint64_t reach = r->depth ? (uint64_t)r->offset + r->depth : UINT64_MAX;
			deepest = reach > deepest ? reach : deepest;
		}
		s.depth[d] = s.stream_depth && s.stream_depth < deepest ? s.stream_depth : deepest;
	}
	if (check) {
		printf("rules=%u\nmatcher=%s\n", s.rs.n, ids_engine_name(s.eng));
		for (unsigned d = 0; d < 2; d++)
			if (s.depth[d] == UINT64_MAX)
				printf("%s_depth=all\n", d ? "to_client" : "to_server");
			else
				printf("%s_depth=%llu\n", d ? "to_client" : "to_server",
				       (unsigned long long)s.depth[d]);
		rc = 0;
		goto done;
	}
	if (cfg.n_ports == 0) {
		fprintf(stderr, "e2nf-ids: needs --port SOCK (two: in and out)\n");
		rc = 2;
		goto done;
	}
	s.alerts_by_rule = calloc(s.rs.n ? s.rs.n : 1, sizeof(uint64_t));
	s.flows = calloc(s.n_flows, sizeof(*s.flows));
	if (!s.alerts_by_rule || !s.flows || e2nf_attr(E2NF_STREAM_ATTR, &s.stream_attr, &err)) {
		fprintf(stderr, "e2nf-ids: out of memory\n");
		goto done;
	}
	s.scfg.ctx = &s;
	s.scfg.user_size = sizeof(struct ids_flow);
	s.scfg.on_stream = own_stream;
	s.scfg.on_release = own_release;
	s.scfg.on_flow_end = own_flow_end;
	if (s.own_only && !(s.own = e2_stream_create(&s.scfg, &err))) {
		fprintf(stderr, "e2nf-ids: %s\n", err.msg);
		goto done;
	}
	cfg.timer_ms = 1000;
	s.nf = e2nf_open(&cfg, &err);
	if (!s.nf) {
		fprintf(stderr, "e2nf-ids: %s\n", err.msg);
		e2_stream_destroy(s.own); /* holds no frame yet */
		goto done;
	}
	const struct e2nf_ops ops = {.rx = ids_rx, .timer = ids_timer, .counters = ids_counters};
	rc = e2nf_run(s.nf, &ops, &s) < 0 ? 1 : 0;
	char stats[16384];
	e2nf_format_counters(s.nf, stats, sizeof(stats));
	fputs(stats, stdout);
	fflush(stdout);
	e2_stream_destroy(s.own);
	e2nf_close(s.nf);
done:
	if (s.flows)
		for (unsigned i = 0; i < s.n_flows; i++) {
			ids_scan_close(s.eng, &s.flows[i].sc[0]);
			ids_scan_close(s.eng, &s.flows[i].sc[1]);
		}
	free(s.flows);
	free(s.alerts_by_rule);
	ids_engine_free(s.eng);
	ids_rules_free(&s.rs);
	return rc;
bad:
	fprintf(stderr, "e2nf-ids: %s\n", err.msg);
	ids_rules_free(&s.rs);
	return 2;
}
