/* SPDX-License-Identifier: BSD-3-Clause */
/* e2-trafgen: a small DPDK traffic generator and sink for tests, the demo and
 * benchmarks. It sends UDP/IPv4 packets on one port at a fixed rate (or as fast
 * as it can) and counts what comes back on another, or measures round trips.
 *
 *   e2-trafgen [EAL args] -- --tx 0 --rx 1[,2...] [--rate PPS] [--count N] [--duration S]
 *              [--size BYTES] [--flows N] [--dst-mac MAC] [--ping N]
 *              [--new-flows-per-s R] [--lifetimes fixed|exp] [--random-tuples] [--flow-stats]
 *              [--interval-ms M] [--rate-steps PPS,PPS,... --step-s S]
 *   e2-trafgen [EAL args] -- --fwd --tx 0 --rx 1 [--duration S] [--idle-spin-us N]
 *              [--max-sleep-us N]
 *
 * Prints key=value lines: tx_packets (what the port accepted), tx_failed (what it
 * would not take: never sent, so never lost), rx_packets, of which rx_after_tx
 * arrived after sending stopped (the drain), lost (tx - rx: for the caller to
 * account for from the switch's counters), tx_mpps rx_mpps, and the round trip of every
 * packet that came back (rtt_us_p50 rtt_us_p99 rtt_us_max, in 0.1 us steps up to 10 ms);
 * with --ping rtt_us_median rtt_us_p99 rtt_us_min.
 *
 * The flow model. --flows N flows are active at any time; every packet goes to the next
 * one in turn, so each carries rate / N. Flow u (numbered from 0 as flows begin) is the
 * UDP 5-tuple 10.0.0.1 + u / 60000 : 1024 + u % 60000 -> 10.1.0.1 : 5001, so every flow
 * number is a distinct 5-tuple and the receiver recovers u from the headers alone.
 * Consecutive ports hash far more evenly than real traffic (CRC32C is linear: the low
 * bits of consecutive keys alternate), which would flatter a flow-ID range split; with
 * --random-tuples flow u is instead 10.0.A.B : P, where A.B and P are the 32 bits of a
 * fixed bijection of u (below 2^32), scattered as real addresses and ports are.
 * --new-flows-per-s R ends R flows a second and begins as many fresh ones in their
 * place (a new flow number, never reused): with --lifetimes fixed (the default) the
 * oldest flow ends, so every flow lives N / R s; with exp a random one does, so
 * lifetimes are exponential with that mean. The first N flows start with ages spread
 * evenly, so the mix is steady from the first second. --rate keeps its meaning: the
 * packet rate of all flows together. --rate-steps gives a rate per --step-s seconds
 * instead (a ramp; --duration defaults to the steps' total).
 *
 * --flow-stats (implied by several --rx ports, --new-flows-per-s and --interval-ms)
 * accounts every received packet to its flow and its port and adds: flows_started (flow
 * numbers sent), flows_received (of those, seen at least once), flows_broken (seen on
 * two or more ports: for a switch that should keep a flow on one instance, a migrated
 * connection), flows_untracked (beyond the 2^24 the table holds), and per receive port
 * P: portP_rx_packets, portP_rx_flows (distinct flows that arrived there).
 * --interval-ms M also prints, every M ms while sending, one line
 *   interval t_s=T unix_s=U tx_packets=N rx_packets=N flows_broken=N rtt_us_p50=X
 *            portP_packets=N portP_flows=N portP_flows_total=N ...
 * with counts over that interval (portP_flows: distinct flows that arrived on P in it;
 * portP_flows_total: distinct flows that have arrived on P since the start),
 * flows_broken cumulative, t_s since the start and unix_s the wall clock (to line the
 * intervals up with a switch reconfigured meanwhile); rtt_us_p50 is absent when nothing
 * came back in the interval.
 *
 * --rate paces bursts of 32 evenly. A generator that was descheduled catches up by at
 * most four bursts: sending the whole backlog at once (up to a millisecond's worth, as
 * it used to) offered bursts far above the rate asked for, which a 256-entry ring
 * refused (tx_failed) at a tenth of the switch's capacity.
 *
 * --fwd makes it an NF instead (the native NF of bench/nf-path): every frame received
 * on one port is sent out of the other unchanged, both ways, in bursts of up to 32, what
 * legacy-nf's e2-fwd does between two kernel NICs; a frame the other port will not take
 * is dropped, as e2-fwd drops what sendmmsg refuses. Idle, it keeps polling for
 * --idle-spin-us (default 0), then sleeps 1 us, 2 us, ... up to --max-sleep-us (default
 * 50) between polls, so it gives its core back as e2-fwd does by blocking in poll() as
 * soon as nothing is there (a forwarder that keeps polling shares a core with a busy
 * process badly: round trips of milliseconds). Runs until SIGINT/SIGTERM or --duration;
 * prints fwd_rx_0 fwd_tx_1 fwd_dropped_1 (port tx to port rx) and the same the other way. */
#include <signal.h>
#include <sys/prctl.h>
#include <time.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "e2/num.h"
#include "e2/opts.h"

#include <rte_cycles.h>
#include <rte_eal.h>
#include <rte_ethdev.h>
#include <rte_ether.h>
#include <rte_ip.h>
#include <rte_mbuf.h>
#include <rte_udp.h>

#define BURST 32
#define MAGIC 0xe2e2e2e2u

#define RX_PORTS_MAX 8
#define RATE_STEPS_MAX 256
/* flows whose arrivals are accounted for; later ones count in flows_untracked */
#define FLOW_STATS_MAX (1u << 24)
#define PORTS_PER_SRC 60000u

struct opts {
	uint32_t tx, rx;
	uint32_t rx_ports[RX_PORTS_MAX], n_rx;
	double new_flows_per_s;
	bool exp_lifetimes;
	bool flow_stats;
	bool random_tuples;
	uint32_t interval_ms;
	double rate_steps[RATE_STEPS_MAX];
	uint32_t n_steps;
	double step_s;
	double rate;     /* packets per second, 0 = as fast as possible */
	uint64_t count;  /* 0 = unlimited */
	double duration; /* seconds */
	uint32_t size;
	uint32_t flows;
	struct rte_ether_addr dst;
	uint32_t ping;
	double drain; /* seconds to wait for stragglers */
	bool fwd;     /* be a two-port forwarder (an NF) instead */
	uint32_t idle_spin_us, max_sleep_us;
};

/* Fits in a 64-byte frame after the Ethernet, IPv4 and UDP headers. */
struct stamp {
	uint32_t magic;
	uint32_t seq;
	uint64_t tsc;
} __attribute__((packed));

static volatile sig_atomic_t stopped;
static void on_signal(int s)
{
	stopped = 1;
}

static int port_init(uint16_t port, struct rte_mempool *pool)
{
	struct rte_eth_conf conf = {0};
	struct rte_eth_dev_info info;
	uint16_t nrx = 1024, ntx = 1024;
	/* virtio-user in server mode reconnects to a restarted back-end from its
	 * link-state interrupt, so ask for it wherever the device has one. */
	if (rte_eth_dev_info_get(port, &info) == 0 && (*info.dev_flags & RTE_ETH_DEV_INTR_LSC))
		conf.intr_conf.lsc = 1;
	if (rte_eth_dev_configure(port, 1, 1, &conf) != 0)
		return -1;
	rte_eth_dev_adjust_nb_rx_tx_desc(port, &nrx, &ntx);
	if (rte_eth_rx_queue_setup(port, 0, nrx, rte_eth_dev_socket_id(port), NULL, pool) != 0 ||
	    rte_eth_tx_queue_setup(port, 0, ntx, rte_eth_dev_socket_id(port), NULL) != 0 ||
	    rte_eth_dev_start(port) != 0)
		return -1;
	rte_eth_promiscuous_enable(port);
	return 0;
}

/* The flows in progress: slot i carries flow number slot_flow[i]; churn replaces them. */
struct flowgen {
	uint64_t *slot_flow;
	uint64_t next_flow; /* the next flow number to begin */
	uint64_t replaced;  /* flows ended and begun anew since the start */
	uint64_t oldest;    /* --lifetimes fixed: the slot whose flow ends next */
	uint64_t started;   /* flows that have sent a packet */
	uint8_t *slot_sent; /* whether slot i's flow has */
	uint64_t rng;
};

static uint64_t xorshift(uint64_t *x)
{
	*x ^= *x << 13;
	*x ^= *x >> 7;
	*x ^= *x << 17;
	return *x;
}

static int flowgen_init(struct flowgen *g, const struct opts *o)
{
	*g = (struct flowgen){.next_flow = o->flows, .rng = 0x9e3779b97f4a7c15ull};
	g->slot_flow = malloc(sizeof(*g->slot_flow) * o->flows);
	g->slot_sent = calloc(o->flows, 1);
	if (!g->slot_flow || !g->slot_sent)
		return -1;
	for (uint32_t i = 0; i < o->flows; i++)
		g->slot_flow[i] = i;
	return 0;
}

/* Ends and begins as many flows as the new-flow rate owes by `elapsed` seconds. */
static void flowgen_churn(struct flowgen *g, const struct opts *o, double elapsed)
{
	uint64_t due = (uint64_t)(elapsed * o->new_flows_per_s);
	for (; g->replaced < due; g->replaced++) {
		uint64_t slot = o->exp_lifetimes ? xorshift(&g->rng) % o->flows : g->oldest++ % o->flows;
		g->slot_flow[slot] = g->next_flow++;
		g->slot_sent[slot] = 0;
	}
}

/* The bijection of --random-tuples: multiply by odd constants, xor-shift by half the
 * width (its own inverse); undone in the reverse order with the inverses mod 2^32. */
#define SCRAMBLE_A 0x9e3779b1u
#define SCRAMBLE_B 0x85ebca6bu

static uint32_t inverse_mod32(uint32_t c)
{
	uint32_t inv = c; /* Newton's iteration doubles the correct low bits each step */
	for (int i = 0; i < 5; i++)
		inv *= 2 - c * inv;
	return inv;
}

static uint32_t scramble(uint32_t u)
{
	u *= SCRAMBLE_A;
	u ^= u >> 16;
	return u * SCRAMBLE_B;
}

static uint32_t unscramble(uint32_t v)
{
	v *= inverse_mod32(SCRAMBLE_B);
	v ^= v >> 16;
	return v * inverse_mod32(SCRAMBLE_A);
}

static void build(struct rte_mbuf *m, const struct opts *o, struct flowgen *g, uint64_t seq)
{
	uint16_t len = o->size < 64 ? 64 : o->size;
	uint8_t *d = (uint8_t *)rte_pktmbuf_append(m, (uint16_t)(len - RTE_ETHER_CRC_LEN));
	struct rte_ether_hdr *eth = (struct rte_ether_hdr *)d;
	struct rte_ipv4_hdr *ip = (struct rte_ipv4_hdr *)(eth + 1);
	struct rte_udp_hdr *udp = (struct rte_udp_hdr *)(ip + 1);
	struct stamp *st = (struct stamp *)(udp + 1);
	uint64_t slot = seq % o->flows, flow = g->slot_flow[slot];
	uint16_t l3 = (uint16_t)(len - RTE_ETHER_CRC_LEN - sizeof(*eth));

	memset(d, 0, len - RTE_ETHER_CRC_LEN);
	eth->dst_addr = o->dst;
	eth->src_addr = (struct rte_ether_addr){{0x02, 0xe2, 0, 0, 0, 1}};
	eth->ether_type = rte_cpu_to_be_16(RTE_ETHER_TYPE_IPV4);
	ip->version_ihl = 0x45;
	ip->total_length = rte_cpu_to_be_16(l3);
	ip->time_to_live = 64;
	ip->next_proto_id = IPPROTO_UDP;
	uint32_t v = scramble((uint32_t)flow);
	ip->src_addr = rte_cpu_to_be_32(o->random_tuples ? 0x0a000000u | v >> 16
							 : (uint32_t)(0x0a000001 + flow / PORTS_PER_SRC));
	ip->dst_addr = rte_cpu_to_be_32(0x0a010001);
	ip->hdr_checksum = rte_ipv4_cksum(ip);
	udp->src_port = rte_cpu_to_be_16(o->random_tuples ? (uint16_t)v : (uint16_t)(1024 + flow % PORTS_PER_SRC));
	udp->dst_port = rte_cpu_to_be_16(5001);
	udp->dgram_len = rte_cpu_to_be_16((uint16_t)(l3 - sizeof(*ip)));
	g->started += !g->slot_sent[slot];
	g->slot_sent[slot] = 1;
	st->magic = MAGIC;
	st->seq = (uint32_t)seq;
	st->tsc = rte_rdtsc();
}

static const struct stamp *stamp_of(struct rte_mbuf *m)
{
	size_t off = sizeof(struct rte_ether_hdr) + sizeof(struct rte_ipv4_hdr) + sizeof(struct rte_udp_hdr);
	if (m->data_len < off + sizeof(struct stamp))
		return NULL;
	const struct stamp *s = rte_pktmbuf_mtod_offset(m, const struct stamp *, off);
	return s->magic == MAGIC ? s : NULL;
}

/* The flow number of one of our packets, from its source address and port. */
static uint64_t flow_of(const struct opts *o, struct rte_mbuf *m)
{
	const struct rte_ipv4_hdr *ip =
		rte_pktmbuf_mtod_offset(m, const struct rte_ipv4_hdr *, sizeof(struct rte_ether_hdr));
	const struct rte_udp_hdr *udp = (const struct rte_udp_hdr *)(ip + 1);
	if (o->random_tuples)
		return unscramble((rte_be_to_cpu_32(ip->src_addr) & 0xffff) << 16 | rte_be_to_cpu_16(udp->src_port));
	uint64_t src = rte_be_to_cpu_32(ip->src_addr) - 0x0a000001u;
	return src * PORTS_PER_SRC + (uint64_t)(rte_be_to_cpu_16(udp->src_port) - 1024);
}

/* What arrived of each flow: the receive ports it came through (a bit per --rx index),
 * and the interval and port it was last counted in. */
struct flow_rx {
	uint32_t last_interval;
	uint8_t ports;
	uint8_t last_port;
};

struct flowstats {
	struct flow_rx *flows;
	uint64_t cap;
	uint64_t received, broken, untracked;
	uint64_t packets[RX_PORTS_MAX], distinct[RX_PORTS_MAX];
	uint64_t iv_packets[RX_PORTS_MAX], iv_flows[RX_PORTS_MAX];
	uint32_t interval; /* from 1: a zeroed entry was counted in no interval */
};

static int flowstats_grow(struct flowstats *fs, uint64_t need)
{
	uint64_t cap = fs->cap ? fs->cap : 4096;
	while (cap <= need)
		cap *= 2;
	if (cap > FLOW_STATS_MAX)
		cap = FLOW_STATS_MAX;
	struct flow_rx *f = realloc(fs->flows, sizeof(*f) * cap);
	if (!f)
		return -1;
	memset(f + fs->cap, 0, sizeof(*f) * (cap - fs->cap));
	fs->flows = f;
	fs->cap = cap;
	return 0;
}

static void flowstats_count(struct flowstats *fs, uint64_t flow, uint8_t idx)
{
	fs->packets[idx]++;
	fs->iv_packets[idx]++;
	if (flow >= fs->cap && (flow >= FLOW_STATS_MAX || flowstats_grow(fs, flow) != 0)) {
		fs->untracked++;
		return;
	}
	struct flow_rx *f = &fs->flows[flow];
	uint8_t bit = (uint8_t)(1u << idx);
	if (!(f->ports & bit)) {
		fs->received += !f->ports;
		fs->broken += f->ports && !(f->ports & (f->ports - 1)); /* its second port */
		fs->distinct[idx]++;
		f->ports |= bit;
	}
	if (f->last_interval != fs->interval || f->last_port != idx) {
		fs->iv_flows[idx]++;
		f->last_interval = fs->interval;
		f->last_port = idx;
	}
}

static int cmp_u64(const void *a, const void *b)
{
	uint64_t x = *(const uint64_t *)a, y = *(const uint64_t *)b;
	return (x > y) - (x < y);
}

static int run_ping(const struct opts *o, struct flowgen *g, struct rte_mempool *pool)
{
	uint64_t hz = rte_get_tsc_hz();
	uint64_t *rtt = calloc(o->ping, sizeof(*rtt));
	if (!rtt) {
		fprintf(stderr, "e2-trafgen: out of memory for %u round-trip times\n", o->ping);
		return 1;
	}
	uint32_t got = 0, lost = 0;

	for (uint32_t i = 0; i < o->ping && !stopped; i++) {
		struct rte_mbuf *m = rte_pktmbuf_alloc(pool), *rx[BURST];
		if (!m)
			break;
		build(m, o, g, i);
		uint64_t t0 = rte_rdtsc();
		if (rte_eth_tx_burst(o->tx, 0, &m, 1) != 1) {
			rte_pktmbuf_free(m);
			lost++;
			continue;
		}
		bool back = false;
		for (uint32_t p = 0; !back && rte_rdtsc() - t0 < hz / 10; p = (p + 1) % o->n_rx) {
			uint16_t n = rte_eth_rx_burst((uint16_t)o->rx_ports[p], 0, rx, BURST);
			uint64_t now = rte_rdtsc();
			for (uint16_t k = 0; k < n; k++) {
				const struct stamp *s = stamp_of(rx[k]);
				if (s && s->seq == (uint32_t)i) {
					rtt[got++] = now - s->tsc;
					back = true;
				}
			}
			rte_pktmbuf_free_bulk(rx, n);
		}
		if (!back)
			lost++;
	}
	qsort(rtt, got, sizeof(*rtt), cmp_u64);
	printf("ping_sent=%u\nping_received=%u\nping_lost=%u\n", o->ping, got, lost);
	if (got) {
		double us = 1e6 / (double)hz;
		printf("rtt_us_min=%.3f\nrtt_us_median=%.3f\nrtt_us_p99=%.3f\n", (double)rtt[0] * us,
		       (double)rtt[got / 2] * us, (double)rtt[(got * 99) / 100] * us);
	}
	free(rtt);
	return got ? 0 : 1;
}

/* Round trips in 0.1 us steps up to 10 ms; longer ones in the last bucket. */
#define RTT_BUCKETS 100001u
#define RTT_STEP_US 0.1

/* The value (us) below which `fraction` of the counted round trips lie. */
static double rtt_quantile(const uint32_t *hist, uint64_t total, double fraction)
{
	uint64_t want = (uint64_t)((double)total * fraction), seen = 0;
	for (uint32_t i = 0; i < RTT_BUCKETS; i++) {
		seen += hist[i];
		if (seen > want)
			return (i + 1) * RTT_STEP_US;
	}
	return RTT_BUCKETS * RTT_STEP_US;
}

/* The packet rate at `elapsed` seconds: --rate, or the step of --rate-steps. */
static double rate_at(const struct opts *o, double elapsed)
{
	if (!o->n_steps)
		return o->rate;
	uint64_t step = (uint64_t)(elapsed / o->step_s);
	return o->rate_steps[step < o->n_steps ? step : o->n_steps - 1];
}

static void print_interval(const struct opts *o, struct flowstats *fs, double t, uint64_t tx, uint64_t rx,
			   const uint32_t *hist, uint64_t timed)
{
	struct timespec now;
	clock_gettime(CLOCK_REALTIME, &now);
	printf("interval t_s=%.3f unix_s=%.6f tx_packets=%llu rx_packets=%llu flows_broken=%llu", t,
	       (double)now.tv_sec + (double)now.tv_nsec / 1e9, (unsigned long long)tx, (unsigned long long)rx,
	       (unsigned long long)fs->broken);
	if (timed)
		printf(" rtt_us_p50=%.1f", rtt_quantile(hist, timed, 0.5));
	for (uint32_t i = 0; i < o->n_rx; i++) {
		printf(" port%u_packets=%llu port%u_flows=%llu port%u_flows_total=%llu", o->rx_ports[i],
		       (unsigned long long)fs->iv_packets[i], o->rx_ports[i], (unsigned long long)fs->iv_flows[i],
		       o->rx_ports[i], (unsigned long long)fs->distinct[i]);
		fs->iv_packets[i] = fs->iv_flows[i] = 0;
	}
	printf("\n");
	fflush(stdout);
	fs->interval++;
}

static int run_load(const struct opts *o, struct flowgen *g, struct rte_mempool *pool)
{
	uint64_t hz = rte_get_tsc_hz(), start = rte_rdtsc(), end_tx, next = start;
	double cur_rate = rate_at(o, 0);
	uint64_t gap = cur_rate > 0 ? (uint64_t)((double)hz * BURST / cur_rate) : 0;
	uint64_t seq = 0, tx = 0, rx = 0, rx_bytes = 0, tx_fail = 0, last_rx = 0, drain_from = start;
	uint64_t rx_at_tx_end = 0, timed = 0, rtt_max = 0;
	uint64_t iv_tsc = o->interval_ms ? hz * o->interval_ms / 1000 : 0, next_iv = start + iv_tsc;
	uint64_t iv_tx = 0, iv_rx = 0, iv_timed = 0;
	struct rte_mbuf *pkts[BURST], *in[BURST];
	uint32_t *hist = calloc(RTT_BUCKETS, sizeof(*hist));
	uint32_t *iv_hist = iv_tsc ? calloc(RTT_BUCKETS, sizeof(*iv_hist)) : NULL;
	uint64_t tsc_per_step = (uint64_t)((double)hz * RTT_STEP_US / 1e6);
	struct flowstats fs = {.interval = 1};

	if (!hist || !tsc_per_step || (iv_tsc && !iv_hist) || (o->flow_stats && flowstats_grow(&fs, o->flows) != 0)) {
		fprintf(stderr, "e2-trafgen: out of memory for the round-trip histogram and the flow table\n");
		free(hist);
		free(iv_hist);
		free(fs.flows);
		return 1;
	}

	end_tx = o->duration > 0 ? start + (uint64_t)(o->duration * (double)hz) : UINT64_MAX;
	for (;;) {
		uint64_t now = rte_rdtsc();
		bool sending = !stopped && now < end_tx && (o->count == 0 || seq < o->count);
		if (sending && (o->new_flows_per_s > 0 || o->n_steps)) {
			double elapsed = (double)(now - start) / (double)hz;
			if (o->new_flows_per_s > 0)
				flowgen_churn(g, o, elapsed);
			double r = rate_at(o, elapsed);
			if (r != cur_rate) {
				cur_rate = r;
				gap = (uint64_t)((double)hz * BURST / r);
				next = now;
			}
		}
		if (sending && now >= next) {
			uint16_t want = BURST;
			if (o->count && o->count - seq < want)
				want = (uint16_t)(o->count - seq);
			if (rte_pktmbuf_alloc_bulk(pool, pkts, want) == 0) {
				for (uint16_t i = 0; i < want; i++)
					build(pkts[i], o, g, seq + i);
				uint16_t sent = rte_eth_tx_burst(o->tx, 0, pkts, want);
				tx += sent;
				tx_fail += want - sent;
				seq += want;
				if (sent < want)
					rte_pktmbuf_free_bulk(&pkts[sent], want - sent);
			}
			next = gap ? next + gap : now;
			if (gap && next + 4 * gap < now)
				next = now - 4 * gap; /* fell behind: catch up by four bursts at most */
		}
		/* Empty the receive rings before sending again (a few bursts at most each), so
		 * a sender that was descheduled catches up on what arrived meanwhile. */
		uint16_t got = 0;
		for (uint32_t p = 0; p < o->n_rx; p++) {
			uint16_t n, port_got = 0;
			do {
				n = rte_eth_rx_burst((uint16_t)o->rx_ports[p], 0, in, BURST);
				uint64_t arrived = n ? rte_rdtsc() : 0;
				for (uint16_t i = 0; i < n; i++) {
					const struct stamp *st = stamp_of(in[i]);
					if (!st)
						continue;
					rx++;
					rx_bytes += in[i]->pkt_len;
					uint64_t rtt = arrived > st->tsc ? arrived - st->tsc : 0;
					uint64_t b = rtt / tsc_per_step;
					hist[b < RTT_BUCKETS ? b : RTT_BUCKETS - 1]++;
					if (iv_hist) {
						iv_hist[b < RTT_BUCKETS ? b : RTT_BUCKETS - 1]++;
						iv_timed++;
					}
					timed++;
					if (rtt > rtt_max)
						rtt_max = rtt;
					if (o->flow_stats)
						flowstats_count(&fs, flow_of(o, in[i]), (uint8_t)p);
				}
				rte_pktmbuf_free_bulk(in, n);
				port_got += n;
			} while (n == BURST && port_got < 8 * BURST);
			got += port_got;
		}
		if (got)
			last_rx = now;
		if (iv_tsc && sending && now >= next_iv) {
			print_interval(o, &fs, (double)(now - start) / (double)hz, tx - iv_tx, rx - iv_rx, iv_hist,
				       iv_timed);
			iv_tx = tx;
			iv_rx = rx;
			iv_timed = 0;
			memset(iv_hist, 0, RTT_BUCKETS * sizeof(*iv_hist));
			next_iv += iv_tsc;
			if (next_iv < now)
				next_iv = now + iv_tsc;
		}
		/* After sending, wait until everything came back or nothing has for `drain` s. */
		if (!sending && (rx >= tx || now - (last_rx > drain_from ? last_rx : drain_from) >
						     (uint64_t)(o->drain * (double)hz)))
			break;
		if (sending) {
			drain_from = now;
			rx_at_tx_end = rx;
		}
	}
	double secs = (double)(rte_rdtsc() - start) / (double)hz;
	double tx_secs = o->duration > 0 ? o->duration : secs;
	printf("tx_packets=%llu\nrx_packets=%llu\nrx_after_tx=%llu\nlost=%lld\ntx_failed=%llu\n",
	       (unsigned long long)tx, (unsigned long long)rx, (unsigned long long)(rx - rx_at_tx_end),
	       (long long)(tx - rx), (unsigned long long)tx_fail);
	printf("tx_mpps=%.3f\nrx_mpps=%.3f\nrx_gbps=%.3f\n", (double)tx / tx_secs / 1e6, (double)rx / tx_secs / 1e6,
	       (double)rx_bytes * 8 / tx_secs / 1e9);
	if (timed)
		printf("rtt_us_p50=%.1f\nrtt_us_p99=%.1f\nrtt_us_max=%.1f\n", rtt_quantile(hist, timed, 0.5),
		       rtt_quantile(hist, timed, 0.99), (double)rtt_max * 1e6 / (double)hz);
	if (o->flow_stats) {
		printf("flows_started=%llu\nflows_received=%llu\nflows_broken=%llu\nflows_untracked=%llu\n",
		       (unsigned long long)g->started, (unsigned long long)fs.received, (unsigned long long)fs.broken,
		       (unsigned long long)fs.untracked);
		for (uint32_t i = 0; i < o->n_rx; i++)
			printf("port%u_rx_packets=%llu\nport%u_rx_flows=%llu\n", o->rx_ports[i],
			       (unsigned long long)fs.packets[i], o->rx_ports[i], (unsigned long long)fs.distinct[i]);
	}
	free(hist);
	free(iv_hist);
	free(fs.flows);
	return 0;
}

static int run_fwd(const struct opts *o)
{
	const uint16_t port[2] = {o->tx, o->rx};
	uint64_t rx[2] = {0, 0}, tx[2] = {0, 0}, dropped[2] = {0, 0};
	uint64_t hz = rte_get_tsc_hz(), us = hz / 1000000, last = rte_rdtsc();
	uint64_t end = o->duration > 0 ? last + (uint64_t)(o->duration * (double)hz) : UINT64_MAX;
	uint32_t nap = 1;
	struct rte_mbuf *pkts[BURST];

	/* sleep as precisely as asked: the default 50 us timer slack would dominate */
	prctl(PR_SET_TIMERSLACK, 1000UL, 0, 0, 0);
	while (!stopped) {
		uint32_t moved = 0;
		for (int i = 0; i < 2; i++) {
			uint16_t n = rte_eth_rx_burst(port[i], 0, pkts, BURST);
			if (!n)
				continue;
			uint16_t sent = rte_eth_tx_burst(port[1 - i], 0, pkts, n);
			rx[i] += n;
			tx[1 - i] += sent;
			if (sent < n) {
				dropped[1 - i] += n - sent;
				rte_pktmbuf_free_bulk(&pkts[sent], n - sent);
			}
			moved += n;
		}
		uint64_t now = rte_rdtsc();
		if (now >= end)
			break;
		if (moved) {
			last = now;
			nap = 1;
		} else if (now - last < us * o->idle_spin_us) {
			rte_pause();
		} else {
			struct timespec ts = {.tv_sec = 0, .tv_nsec = (long)nap * 1000};
			nanosleep(&ts, NULL);
			nap = nap * 2 > o->max_sleep_us ? o->max_sleep_us : nap * 2;
		}
	}
	printf("fwd_rx_0=%llu\nfwd_tx_1=%llu\nfwd_dropped_1=%llu\n", (unsigned long long)rx[0],
	       (unsigned long long)tx[1], (unsigned long long)dropped[1]);
	printf("fwd_rx_1=%llu\nfwd_tx_0=%llu\nfwd_dropped_0=%llu\n", (unsigned long long)rx[1],
	       (unsigned long long)tx[0], (unsigned long long)dropped[0]);
	return 0;
}

/* --rx N[,N...]: the receive ports, distinct; the first is the one --fwd and --ping use. */
static int parse_rx(const char *arg, struct opts *o, struct e2_err *e)
{
	char buf[128], *save = NULL;
	if (strlen(arg) >= sizeof(buf))
		return e2_seterr(e, "--rx=%.40s...: too long", arg), -1;
	strcpy(buf, arg);
	o->n_rx = 0;
	for (char *t = strtok_r(buf, ",", &save); t; t = strtok_r(NULL, ",", &save)) {
		uint32_t p;
		if (o->n_rx == RX_PORTS_MAX)
			return e2_seterr(e, "--rx=%.40s: at most %d ports", arg, RX_PORTS_MAX), -1;
		if (e2_num_u32("--rx", t, 0, RTE_MAX_ETHPORTS - 1, &p, e) != 0)
			return -1;
		for (uint32_t i = 0; i < o->n_rx; i++)
			if (o->rx_ports[i] == p)
				return e2_seterr(e, "--rx=%.40s: port %u twice", arg, p), -1;
		o->rx_ports[o->n_rx++] = p;
	}
	if (!o->n_rx)
		return e2_seterr(e, "--rx=%.40s: no port", arg), -1;
	o->rx = o->rx_ports[0];
	return 0;
}

/* --rate-steps R,R,...: packet rates as --rate takes them, each above 0. */
static int parse_steps(const char *arg, struct opts *o, struct e2_err *e)
{
	char buf[4096], *save = NULL;
	if (strlen(arg) >= sizeof(buf))
		return e2_seterr(e, "--rate-steps: longer than %zu characters", sizeof(buf) - 1), -1;
	strcpy(buf, arg);
	o->n_steps = 0;
	for (char *t = strtok_r(buf, ",", &save); t; t = strtok_r(NULL, ",", &save)) {
		if (o->n_steps == RATE_STEPS_MAX)
			return e2_seterr(e, "--rate-steps: at most %d steps", RATE_STEPS_MAX), -1;
		if (e2_num_rate("--rate-steps", t, 1, 1e9, &o->rate_steps[o->n_steps], e) != 0)
			return -1;
		o->n_steps++;
	}
	if (!o->n_steps)
		return e2_seterr(e, "--rate-steps=%.40s: no rate", arg), -1;
	return 0;
}

static const char usage[] =
	"usage: e2-trafgen EAL-ARGS -- [options]\n"
	"  --tx N, --rx N[,N...]   ports to send on and receive from (0, 1); up to 8 receive ports\n"
	"  --rate PPS              0..1e9 packets per second, k/M/G suffixes (0: as fast as possible)\n"
	"  --count N               packets to send (0: no limit)\n"
	"  --duration T            0..86400 s, or with ms/s/m/h (1 s when neither count nor ping is given)\n"
	"  --size N                frame size, 64..1518 (64)\n"
	"  --flows N               concurrent UDP flows, 1..16777216 (1)\n"
	"  --new-flows-per-s R     0..1e7 flows a second end and as many new ones begin (0)\n"
	"  --lifetimes fixed|exp   which flow ends: the oldest (each lives flows/R s) or a random one\n"
	"  --random-tuples         flows' addresses and ports scattered, not consecutive\n"
	"  --flow-stats            per-flow accounting of what arrives, per receive port\n"
	"  --interval-ms M         1..60000: a line of counts every M ms while sending\n"
	"  --rate-steps R,R,...    packet rates, one per --step-s S (0.001..86400 s), up to 256\n"
	"  --dst-mac MAC           destination MAC (02:e2:00:00:00:02)\n"
	"  --ping N                N round trips, reporting latency\n"
	"  --drain T               time to wait for stragglers, 0..3600 s (1)\n"
	"  --fwd                   forward between the two ports instead (an NF)\n"
	"  --idle-spin-us N        0..1000000 (0); --max-sleep-us N: 1..1000000 (50)\n"
	"  --help                  this text\n";

int main(int argc, char **argv)
{
	struct opts o = {.tx = 0,
			 .rx = 1,
			 .rx_ports = {1},
			 .n_rx = 1,
			 .size = 64,
			 .flows = 1,
			 .duration = 0,
			 .drain = 1.0,
			 .dst = {{0x02, 0xe2, 0, 0, 0, 2}},
			 .idle_spin_us = 0,
			 .max_sleep_us = 50};
	static const struct option lo[] = {
		{"tx", 1, NULL, 't'},
		{"rx", 1, NULL, 'r'},
		{"rate", 1, NULL, 'R'},
		{"count", 1, NULL, 'c'},
		{"duration", 1, NULL, 'd'},
		{"size", 1, NULL, 's'},
		{"flows", 1, NULL, 'f'},
		{"dst-mac", 1, NULL, 'm'},
		{"ping", 1, NULL, 'p'},
		{"drain", 1, NULL, 'D'},
		{"fwd", 0, NULL, 'F'},
		{"idle-spin-us", 1, NULL, 'I'},
		{"max-sleep-us", 1, NULL, 'M'},
		{"new-flows-per-s", 1, NULL, 'N'},
		{"lifetimes", 1, NULL, 'L'},
		{"flow-stats", 0, NULL, 'S'},
		{"random-tuples", 0, NULL, 'X'},
		{"interval-ms", 1, NULL, 'i'},
		{"rate-steps", 1, NULL, 'T'},
		{"step-s", 1, NULL, 'P'},
		{"help", 0, NULL, 'h'},
		{NULL, 0, NULL, 0},
	};
	int n = rte_eal_init(argc, argv), c;

	if (n < 0) {
		fprintf(stderr, "e2-trafgen: cannot start DPDK\n");
		return 2;
	}
	argc -= n;
	argv += n;
	struct e2_err e;
	while ((c = e2_opt_next(argc, argv, "", lo, &e)) != -1) {
		int bad = 0;
		switch (c) {
		case 't': bad = e2_num_u32("--tx", optarg, 0, RTE_MAX_ETHPORTS - 1, &o.tx, &e); break;
		case 'r': bad = parse_rx(optarg, &o, &e); break;
		case 'R': bad = e2_num_rate("--rate", optarg, 0, 1e9, &o.rate, &e); break;
		case 'c': bad = e2_num_u64("--count", optarg, 0, UINT64_MAX, &o.count, &e); break;
		case 'd': bad = e2_num_duration("--duration", optarg, 0, 86400, &o.duration, &e); break;
		case 's': bad = e2_num_u32("--size", optarg, 64, 1518, &o.size, &e); break;
		case 'f': bad = e2_num_u32("--flows", optarg, 1, 1u << 24, &o.flows, &e); break;
		case 'p': bad = e2_num_u32("--ping", optarg, 0, 100000000, &o.ping, &e); break;
		case 'D': bad = e2_num_duration("--drain", optarg, 0, 3600, &o.drain, &e); break;
		case 'F': o.fwd = true; break;
		case 'h': fputs(usage, stdout); return 0;
		case 'N': bad = e2_num_rate("--new-flows-per-s", optarg, 0, 1e7, &o.new_flows_per_s, &e); break;
		case 'L':
			if (strcmp(optarg, "fixed") == 0 || strcmp(optarg, "exp") == 0)
				o.exp_lifetimes = optarg[0] == 'e';
			else
				bad = (e2_seterr(&e, "--lifetimes=%.40s: fixed or exp", optarg), -1);
			break;
		case 'S': o.flow_stats = true; break;
		case 'X': o.random_tuples = true; break;
		case 'i': bad = e2_num_u32("--interval-ms", optarg, 1, 60000, &o.interval_ms, &e); break;
		case 'T': bad = parse_steps(optarg, &o, &e); break;
		case 'P': bad = e2_num_duration("--step-s", optarg, 0.001, 86400, &o.step_s, &e); break;
		case 'I': bad = e2_num_u32("--idle-spin-us", optarg, 0, 1000000, &o.idle_spin_us, &e); break;
		case 'M': bad = e2_num_u32("--max-sleep-us", optarg, 1, 1000000, &o.max_sleep_us, &e); break;
		case 'm':
			if (rte_ether_unformat_addr(optarg, &o.dst) != 0)
				bad = (e2_seterr(&e, "--dst-mac=%.40s: not a MAC address (02:e2:00:00:00:02)", optarg),
				       -1);
			break;
		case E2_OPT_BAD: bad = -1; break;
		default: fprintf(stderr, "e2-trafgen: option %d is not handled (a bug)\n", c); return 2;
		}
		if (bad) {
			fprintf(stderr, "e2-trafgen: %s\n", e.msg);
			return 2;
		}
	}
	if (optind < argc) {
		fprintf(stderr, "e2-trafgen: unexpected argument '%s'\n%s", argv[optind], usage);
		return 2;
	}
	if (o.n_steps && o.step_s <= 0) {
		fprintf(stderr, "e2-trafgen: --rate-steps needs --step-s\n");
		return 2;
	}
	if (o.step_s > 0 && !o.n_steps) {
		fprintf(stderr, "e2-trafgen: --step-s needs --rate-steps\n");
		return 2;
	}
	if (o.n_steps && o.rate > 0) {
		fprintf(stderr, "e2-trafgen: --rate and --rate-steps exclude each other\n");
		return 2;
	}
	if (o.fwd && (o.n_rx > 1 || o.new_flows_per_s > 0 || o.flow_stats || o.interval_ms || o.n_steps)) {
		fprintf(stderr, "e2-trafgen: --fwd takes one --rx port and no flow or rate options\n");
		return 2;
	}
	if (o.n_steps && !o.count && o.duration <= 0)
		o.duration = o.step_s * o.n_steps;
	o.flow_stats |= o.n_rx > 1 || o.new_flows_per_s > 0 || o.interval_ms > 0;
	if (o.fwd && o.tx == o.rx) {
		fprintf(stderr, "e2-trafgen: --fwd needs two ports (--tx and --rx differ)\n");
		return 2;
	}
	if (!o.count && o.duration <= 0 && !o.ping && !o.fwd)
		o.duration = 1;
	signal(SIGINT, on_signal);
	signal(SIGTERM, on_signal);
	struct rte_mempool *pool = rte_pktmbuf_pool_create("tg", 8191 + 2048 * o.n_rx, 256, 0,
							   RTE_MBUF_DEFAULT_BUF_SIZE, (int)rte_socket_id());
	bool ports_ok = o.tx < rte_eth_dev_count_avail();
	for (uint32_t i = 0; i < o.n_rx; i++)
		ports_ok &= o.rx_ports[i] < rte_eth_dev_count_avail();
	if (!pool || !ports_ok) {
		fprintf(stderr, "e2-trafgen: need ports %u and %u%s (have %u) and memory\n", o.tx, o.rx,
			o.n_rx > 1 ? ",..." : "", rte_eth_dev_count_avail());
		return 2;
	}
	bool started_ok = port_init((uint16_t)o.tx, pool) == 0;
	for (uint32_t i = 0; i < o.n_rx && started_ok; i++)
		if (o.rx_ports[i] != o.tx)
			started_ok = port_init((uint16_t)o.rx_ports[i], pool) == 0;
	if (!started_ok) {
		fprintf(stderr, "e2-trafgen: cannot start ports\n");
		return 2;
	}
	struct flowgen gen;
	if (flowgen_init(&gen, &o) != 0) {
		fprintf(stderr, "e2-trafgen: out of memory for %u flows\n", o.flows);
		return 2;
	}
	/* vhost-user links come up asynchronously: wait until all are up (5 s at most). */
	for (int i = 0; i < 500; i++) {
		struct rte_eth_link l;
		rte_eth_link_get_nowait((uint16_t)o.tx, &l);
		bool up = l.link_status;
		for (uint32_t p = 0; p < o.n_rx; p++) {
			rte_eth_link_get_nowait((uint16_t)o.rx_ports[p], &l);
			up &= l.link_status;
		}
		if (up)
			break;
		rte_delay_ms(10);
	}
	int rc = o.fwd ? run_fwd(&o) : o.ping ? run_ping(&o, &gen, pool) : run_load(&o, &gen, pool);
	rte_eth_dev_stop((uint16_t)o.tx);
	for (uint32_t i = 0; i < o.n_rx; i++)
		if (o.rx_ports[i] != o.tx)
			rte_eth_dev_stop((uint16_t)o.rx_ports[i]);
	free(gen.slot_flow);
	free(gen.slot_sent);
	rte_eal_cleanup();
	return rc;
}
