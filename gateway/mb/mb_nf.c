/* SPDX-License-Identifier: BSD-3-Clause */
/* The run loop shared by the Embark middleboxes (mb_nf.h). */
#include "mb_nf.h"

#include "e2/num.h"

#ifdef MB_HAVE_CHAN
#include "mb_chan.h"
#endif

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <rte_cycles.h>
#include <rte_ether.h>
#include <rte_mbuf.h>

struct runner {
	struct mb_nf *m;
	struct mb_chan *chan;
	struct mb_hold *hold;    /* records' flows by packet; packets waiting for their records */
	struct ext_codec *codec; /* decodes the records that come as frames */
	bool waits;              /* on a live channel, when --record-wait applies */
	struct e2nf *nf;
	uint64_t chan_now;
	uint64_t ip, non_ip, malformed, ext_records, ext_refused, ext_ignored;
	/* Cycles of the bursts that held only IPv4 (plain) or only IPv6 (Embark) packets,
	 * and those packets: what each kind costs this middlebox, measured in one process (a
	 * mixed capture's bursts alternate, so both see the same machine at the same time). */
	uint64_t v4_cycles, v4_packets, v6_cycles, v6_packets;
};

/* A record is taken; its packet, if this was its last record, may now be decided. */
static void take_record(struct runner *r, struct e2nf *nf, struct mb_ext *x, uint64_t now)
{
	r->ext_records++;
	r->m->ext(r->m->st, nf, x, now);
	if (r->hold && x->packet_last)
		mb_hold_record(r->hold, x->packet_nonce, &x->key);
}

static void decide(struct runner *r, struct e2nf *nf, unsigned port, struct rte_mbuf *mb, struct mb_pkt *p,
		   uint64_t now)
{
	unsigned nports = e2nf_n_ports(nf);
	if (r->hold)
		p->rec_flow = mb_hold_rec_flow(r->hold, p);
	int out = r->m->pkt(r->m->st, nf, port, p, now);
	if (out >= 0 && (unsigned)out < nports)
		e2nf_send(nf, (unsigned)out, mb);
	else
		e2nf_drop(nf, mb);
}

/* A held packet's turn (mb_hold_fn): decided as any other, records in or not. */
static void decide_held(void *ctx, void *item, unsigned port, struct mb_pkt *p, bool late)
{
	struct runner *r = ctx;
	(void)late; /* counted by mb_hold */
	decide(r, r->nf, port, item, p, r->chan_now);
}

static void drop_held(void *ctx, void *item, unsigned port, struct mb_pkt *p, bool late)
{
	struct runner *r = ctx;
	(void)port, (void)p, (void)late;
	e2nf_drop(r->nf, item);
}

static void release_held(struct runner *r, struct e2nf *nf, uint64_t now)
{
	if (!r->hold)
		return;
	r->nf = nf;
	r->chan_now = now;
	mb_hold_release(r->hold, now, decide_held, r);
}

#ifdef MB_HAVE_CHAN
static void chan_record(void *ctx, struct mb_ext *x)
{
	struct runner *r = ctx;
	take_record(r, r->nf, x, r->chan_now);
}

/* Records on the live channel are taken before the packets of each burst: the gateway
 * publishes a record before it sends the packet that made it. */
static void chan_drain(struct runner *r, struct e2nf *nf, uint64_t now)
{
	if (!r->chan)
		return;
	r->nf = nf;
	r->chan_now = now;
	mb_chan_drain(r->chan, chan_record, r, &r->ext_refused);
}
#endif

static void run_timer(struct e2nf *nf, void *state, uint64_t now)
{
	struct runner *r = state;
#ifdef MB_HAVE_CHAN
	chan_drain(r, nf, now);
#endif
	release_held(r, nf, now);
	if (r->m->tick)
		r->m->tick(r->m->st, nf, now);
}

/* What the first pass over a burst made of each frame. */
enum frame_kind { FRAME_BAD, FRAME_EXT, FRAME_NON_IP, FRAME_IP };

/* Up to E2NF_BURST frames in two passes: first every frame is parsed and the middlebox
 * fetches the state each will need (its flow slot), so the burst's cache misses overlap
 * instead of coming one after another; then each frame is decided in arrival order
 * (records included: a record before its packet is known when the packet is decided). */
static void run_rx_burst(struct runner *r, struct e2nf *nf, unsigned port, struct rte_mbuf **pkts, unsigned n,
			 uint64_t now)
{
	enum frame_kind kind[E2NF_BURST];
	struct mb_pkt parsed[E2NF_BURST];
	uint8_t *frames[E2NF_BURST];
	size_t lens[E2NF_BURST];
	uint64_t t0 = rte_rdtsc(), io0 = e2nf_io_cycles(nf);
	unsigned v4 = 0, v6 = 0;

	/* an Embark frame's transport header lies in its second cache line */
	for (unsigned i = 0; i < n; i++)
		__builtin_prefetch(rte_pktmbuf_mtod_offset(pkts[i], const uint8_t *, RTE_CACHE_LINE_SIZE));
	for (unsigned i = 0; i < n; i++) {
		struct rte_mbuf *mb = pkts[i];
		int off = e2nf_inner_offset(mb);
		kind[i] = FRAME_BAD;
		if (off < 0 || !rte_pktmbuf_is_contiguous(mb) || mb->data_len < (unsigned)off + RTE_ETHER_HDR_LEN)
			continue;
		frames[i] = rte_pktmbuf_mtod_offset(mb, uint8_t *, off);
		lens[i] = mb->data_len - (unsigned)off;
		int et = frames[i][12] << 8 | frames[i][13];
		if (et == MB_EXT_ETHERTYPE) {
			kind[i] = FRAME_EXT;
			continue;
		}
		int rc = mb_parse_l3(frames[i] + 14, lens[i] - 14, et, &parsed[i]);
		kind[i] = rc < 0 ? FRAME_BAD : rc > 0 ? FRAME_NON_IP : FRAME_IP;
		if (kind[i] == FRAME_IP && parsed[i].v6)
			v6++;
		else if (kind[i] == FRAME_IP)
			v4++;
		if (kind[i] == FRAME_IP && r->m->prefetch)
			r->m->prefetch(r->m->st, port, &parsed[i]);
	}
	if (r->m->prefetch2)
		for (unsigned i = 0; i < n; i++)
			if (kind[i] == FRAME_IP)
				r->m->prefetch2(r->m->st, port, &parsed[i], now);
	r->nf = nf; /* for decide_held, which mb_hold_admit may call */
	r->chan_now = now;
	for (unsigned i = 0; i < n; i++) {
		struct rte_mbuf *mb = pkts[i];
		switch (kind[i]) {
		case FRAME_BAD:
			r->malformed++;
			e2nf_drop(nf, mb);
			break;
		case FRAME_EXT: {
			struct mb_ext x;
			struct e2_err err;
			if (!r->m->ext) {
				r->ext_ignored++;
			} else if (mb_ext_decode(r->codec, frames[i] + 14, lens[i] - 14, &x, &err) != 0) {
				r->ext_refused++;
			} else {
				take_record(r, nf, &x, now);
			}
			e2nf_drop(nf, mb); /* the channel ends here */
			break;
		}
		case FRAME_NON_IP:
			r->non_ip++;
			e2nf_send(nf, port ^ 1, mb);
			break;
		case FRAME_IP:
			r->ip++;
			if (r->hold && mb_hold_admit(r->hold, &parsed[i], mb, port, now, decide_held, r))
				break; /* waits for its records */
			decide(r, nf, port, mb, &parsed[i], now);
			break;
		}
	}
	if (v4 + v6 == n && (!v4 || !v6)) {
		uint64_t dt = rte_rdtsc() - t0 - (e2nf_io_cycles(nf) - io0);
		if (v4) {
			r->v4_cycles += dt;
			r->v4_packets += v4;
		} else {
			r->v6_cycles += dt;
			r->v6_packets += v6;
		}
	}
}

static void run_rx(struct e2nf *nf, void *state, unsigned port, struct rte_mbuf **pkts, unsigned n)
{
	struct runner *r = state;
	uint64_t now = e2nf_now_ns(nf);
#ifdef MB_HAVE_CHAN
	chan_drain(r, nf, now);
#endif
	release_held(r, nf, now);
	for (unsigned i = 0; i < n; i += E2NF_BURST)
		run_rx_burst(r, nf, port, pkts + i, n - i < E2NF_BURST ? n - i : E2NF_BURST, now);
}

static int run_control(struct e2nf *nf, void *state, const char *line, char *reply, size_t len)
{
	struct runner *r = state;
	(void)nf;
	if (r->m->epochs) {
		int rc = mb_epochs_control(r->m->epochs, line, reply, len);
		if (rc <= 0)
			return rc;
	}
	if (r->m->control)
		return r->m->control(r->m->st, line, reply, len);
	if (r->m->epochs)
		snprintf(reply, len, "unknown command (%s EPOCH FILE, retire EPOCH, epochs)", r->m->epochs->verb);
	else
		snprintf(reply, len, "unknown command");
	return -1;
}

static void run_counters(struct e2nf *nf, void *state, char *buf, size_t len)
{
	struct runner *r = state;
	(void)nf;
	int o = snprintf(buf, len,
			 "ip_frames=%llu\nnon_ip=%llu\nmalformed=%llu\next_records=%llu\next_refused=%llu\n"
			 "ext_ignored=%llu\nipv4_burst_packets=%llu\nipv4_burst_cycles=%llu\n"
			 "ipv6_burst_packets=%llu\nipv6_burst_cycles=%llu\n",
			 (unsigned long long)r->ip, (unsigned long long)r->non_ip, (unsigned long long)r->malformed,
			 (unsigned long long)r->ext_records, (unsigned long long)r->ext_refused,
			 (unsigned long long)r->ext_ignored, (unsigned long long)r->v4_packets,
			 (unsigned long long)r->v4_cycles, (unsigned long long)r->v6_packets,
			 (unsigned long long)r->v6_cycles);
	if (o > 0 && (size_t)o < len && r->waits) {
		const struct mb_hold_stats *h = mb_hold_stats(r->hold);
		o += snprintf(buf + o, len - (size_t)o,
			      "held=%llu\nheld_released=%llu\nrecord_late=%llu\nhold_overflow=%llu\nholding=%zu\n"
			      "hold_wait_max_us=%llu\n",
			      (unsigned long long)h->held, (unsigned long long)h->released, (unsigned long long)h->late,
			      (unsigned long long)h->overflow, mb_hold_count(r->hold),
			      (unsigned long long)(h->wait_max_ns / 1000));
	}
	if (o > 0 && (size_t)o < len && r->m->counters)
		r->m->counters(r->m->st, buf + o, len - (size_t)o);
}

/* The frame's own options beside the middlebox's: --check, --ext, --chan-key. */
#define MB_EXT_URLS_MAX 8

enum { OPT_CHECK = 0x4d01, OPT_EXT, OPT_CHAN_KEY, OPT_RECORD_WAIT };

struct args {
	struct mb_nf *m;
	bool check;
	const char *ext_urls[MB_EXT_URLS_MAX], *chan_key;
	size_t n_ext;
	uint32_t record_wait_ms;
	bool record_wait_set;
};

static int handle_option(int c, const char *arg, void *ctx, struct e2_err *err)
{
	struct args *a = ctx;
	switch (c) {
	case OPT_CHECK: a->check = true; return 1;
	case OPT_EXT:
		if (a->n_ext == MB_EXT_URLS_MAX) {
			e2_seterr(err, "--ext: at most %d gateways", MB_EXT_URLS_MAX);
			return -1;
		}
		a->ext_urls[a->n_ext++] = arg;
		return 1;
	case OPT_CHAN_KEY: a->chan_key = arg; return 1;
	case OPT_RECORD_WAIT:
		a->record_wait_set = true;
		return e2_num_u32("--record-wait", arg, 0, 10000, &a->record_wait_ms, err) ? -1 : 1;
	}
	return a->m->opt(a->m->st, c, arg, err) ? -1 : 1;
}

/* e2nf_args' --help takes no context; set just before it runs, read only by print_usage */
static const struct mb_nf *usage_of;

static void print_usage(FILE *out)
{
	fputs(usage_of->usage, out);
	if (usage_of->ext)
		fputs("EXTENSION CHANNEL\n"
		      "    Records come as EtherType 0x88b5 frames on either port, or live with\n"
		      "    --ext URL (embark-gw's --ext publisher; --chan-key FILE for tcp://; one\n"
		      "    --ext per gateway that publishes, up to 8),\n"
		      "    taken before each burst's packets and every millisecond.\n"
		      "    --record-wait MS  on --ext, a packet the gateway marked as having made\n"
		      "                  records waits for its last one, MS at most (0: never waits),\n"
		      "                  and its flow's later packets behind it. Default: 50 where\n"
		      "                  records decide packets (embark-parental, embark-ids --drop),\n"
		      "                  else no waiting unless given. Counters held, held_released,\n"
		      "                  record_late, hold_overflow, holding, hold_wait_max_us\n",
		      out);
	fputs("LIBE2NF OPTIONS\n" E2NF_OPTIONS_HELP, out);
}

int mb_nf_main(struct mb_nf *m, int argc, char **argv)
{
	struct option opts[E2NF_OWN_OPTIONS_MAX + 1];
	struct e2nf_config cfg = E2NF_CONFIG_INIT(m->name);
	struct e2_err err;
	struct args a = {.m = m, .record_wait_ms = 50};
	size_t n_own = 0;

	cfg.name = m->name + (strncmp(m->name, "embark-", 7) ? 0 : 7);
	while (m->opts[n_own].name && n_own < E2NF_OWN_OPTIONS_MAX - 4)
		n_own++;
	memcpy(opts, m->opts, n_own * sizeof(*opts));
	opts[n_own] = (struct option){"check", no_argument, NULL, OPT_CHECK};
	opts[n_own + 1] = (struct option){"ext", required_argument, NULL, OPT_EXT};
	opts[n_own + 2] = (struct option){"chan-key", required_argument, NULL, OPT_CHAN_KEY};
	opts[n_own + 3] = (struct option){"record-wait", required_argument, NULL, OPT_RECORD_WAIT};
	opts[n_own + 4] = (struct option){NULL, 0, NULL, 0};
	usage_of = m;
	int rc = e2nf_args(argc, argv, m->name, &cfg, opts, handle_option, &a, print_usage);
	if (rc >= 0)
		return rc;
	bool check = a.check;
	bool ext_url = a.n_ext > 0;
	if (m->setup(m->st, check, &err) != 0) {
		fprintf(stderr, "%s: %s\n", m->name, err.msg);
		return 2;
	}
	if (check) {
		if (m->fini)
			m->fini(m->st);
		return 0;
	}
	if (ext_url && !m->ext) {
		fprintf(stderr, "%s: takes no extension records (--ext)\n", m->name);
		return 2;
	}
	if (cfg.n_ports != m->ports) {
		fprintf(stderr, "%s: needs %u --port (see --help)\n", m->name, m->ports);
		return 2;
	}
	if (ext_url || m->tick)
		cfg.timer_ms = 1; /* records arriving while no packets do are taken all the same */
	struct e2nf *nf = e2nf_open(&cfg, &err);
	if (!nf) {
		fprintf(stderr, "%s: %s\n", m->name, err.msg);
		return 1;
	}
	struct runner r = {.m = m};
	struct e2nf_ops ops = {.rx = run_rx, .counters = run_counters, .control = run_control};
	if (m->tick)
		ops.timer = run_timer;
	if (m->ext) {
		/* Which flow each packet's records named (a NAT before this middlebox rewrites the
		 * packet, not its records) is kept for any middlebox that takes records; waiting for
		 * them only on a live channel, where they can come late. */
		bool decides = m->waits_for_records && m->waits_for_records(m->st);
		r.waits = ext_url && a.record_wait_ms && (decides || a.record_wait_set);
		r.hold = mb_hold_new(1024, r.waits ? (uint64_t)a.record_wait_ms * 1000000u : 0);
		r.codec = ext_codec_new();
		if (r.codec) /* the IDS matches tokens straight from the wire form */
			ext_codec_wire_only(r.codec);
		if (!r.hold || !r.codec) {
			fprintf(stderr, "%s: no memory for the hold queue or the record decoder\n", m->name);
			mb_hold_free(r.hold);
			ext_codec_free(r.codec);
			e2nf_close(nf);
			return 1;
		}
	}
	if (ext_url) {
#ifdef MB_HAVE_CHAN
		r.chan = mb_chan_open(a.ext_urls, a.n_ext, a.chan_key, &err);
		if (!r.chan) {
			fprintf(stderr, "%s: --ext: %s\n", m->name, err.msg);
			mb_hold_free(r.hold);
			ext_codec_free(r.codec);
			e2nf_close(nf);
			return 2;
		}
		ops.timer = run_timer;
#else
		fprintf(stderr, "%s: built without e2chan: no --ext\n", m->name);
		mb_hold_free(r.hold);
		ext_codec_free(r.codec);
		e2nf_close(nf);
		return 2;
#endif
	}
	rc = e2nf_run(nf, &ops, &r);
#ifdef MB_HAVE_CHAN
	mb_chan_close(r.chan);
#endif
	/* packets still waiting go back before the ports close: dropped, counted as drops */
	r.nf = nf;
	mb_hold_flush(r.hold, drop_held, &r);
	static char stats[65536];
	e2nf_format_counters(nf, stats, sizeof(stats));
	fputs(stats, stdout);
	fflush(stdout);
	mb_hold_free(r.hold);
	ext_codec_free(r.codec);
	e2nf_close(nf);
	if (m->fini)
		m->fini(m->st);
	return rc < 0 ? 1 : 0;
}
