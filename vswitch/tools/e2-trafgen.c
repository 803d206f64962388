/* SPDX-License-Identifier: BSD-3-Clause */
/* e2-trafgen: a small DPDK traffic generator and sink for tests, the demo and
 * benchmarks. It sends UDP/IPv4 packets on one port at a fixed rate (or as fast
 * as it can) and counts what comes back on another, or measures round trips.
 *
 *   e2-trafgen [EAL args] -- --tx 0 --rx 1 [--rate PPS] [--count N] [--duration S]
 *              [--size BYTES] [--flows N] [--dst-mac MAC] [--ping N]
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
#include <getopt.h>
#include <signal.h>
#include <sys/prctl.h>
#include <time.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "e2/num.h"

#include <rte_cycles.h>
#include <rte_eal.h>
#include <rte_ethdev.h>
#include <rte_ether.h>
#include <rte_ip.h>
#include <rte_mbuf.h>
#include <rte_udp.h>

#define BURST 32
#define MAGIC 0xe2e2e2e2u

struct opts {
	uint32_t tx, rx;
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

static void build(struct rte_mbuf *m, const struct opts *o, uint64_t seq)
{
	uint16_t len = o->size < 64 ? 64 : o->size;
	uint8_t *d = (uint8_t *)rte_pktmbuf_append(m, (uint16_t)(len - RTE_ETHER_CRC_LEN));
	struct rte_ether_hdr *eth = (struct rte_ether_hdr *)d;
	struct rte_ipv4_hdr *ip = (struct rte_ipv4_hdr *)(eth + 1);
	struct rte_udp_hdr *udp = (struct rte_udp_hdr *)(ip + 1);
	struct stamp *st = (struct stamp *)(udp + 1);
	uint32_t flow = (uint32_t)(seq % o->flows);
	uint16_t l3 = (uint16_t)(len - RTE_ETHER_CRC_LEN - sizeof(*eth));

	memset(d, 0, len - RTE_ETHER_CRC_LEN);
	eth->dst_addr = o->dst;
	eth->src_addr = (struct rte_ether_addr){{0x02, 0xe2, 0, 0, 0, 1}};
	eth->ether_type = rte_cpu_to_be_16(RTE_ETHER_TYPE_IPV4);
	ip->version_ihl = 0x45;
	ip->total_length = rte_cpu_to_be_16(l3);
	ip->time_to_live = 64;
	ip->next_proto_id = IPPROTO_UDP;
	ip->src_addr = rte_cpu_to_be_32(0x0a000001 + (flow >> 16));
	ip->dst_addr = rte_cpu_to_be_32(0x0a010001);
	ip->hdr_checksum = rte_ipv4_cksum(ip);
	udp->src_port = rte_cpu_to_be_16((uint16_t)(1024 + (flow & 0xffff) % 60000));
	udp->dst_port = rte_cpu_to_be_16(5001);
	udp->dgram_len = rte_cpu_to_be_16((uint16_t)(l3 - sizeof(*ip)));
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

static int cmp_u64(const void *a, const void *b)
{
	uint64_t x = *(const uint64_t *)a, y = *(const uint64_t *)b;
	return (x > y) - (x < y);
}

static int run_ping(const struct opts *o, struct rte_mempool *pool)
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
		build(m, o, i);
		uint64_t t0 = rte_rdtsc();
		if (rte_eth_tx_burst(o->tx, 0, &m, 1) != 1) {
			rte_pktmbuf_free(m);
			lost++;
			continue;
		}
		bool back = false;
		while (!back && rte_rdtsc() - t0 < hz / 10) {
			uint16_t n = rte_eth_rx_burst(o->rx, 0, rx, BURST);
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

static int run_load(const struct opts *o, struct rte_mempool *pool)
{
	uint64_t hz = rte_get_tsc_hz(), start = rte_rdtsc(), end_tx, next = start;
	uint64_t gap = o->rate > 0 ? (uint64_t)((double)hz * BURST / o->rate) : 0;
	uint64_t seq = 0, tx = 0, rx = 0, rx_bytes = 0, tx_fail = 0, last_rx = 0, drain_from = start;
	uint64_t rx_at_tx_end = 0, timed = 0, rtt_max = 0;
	struct rte_mbuf *pkts[BURST], *in[BURST];
	uint32_t *hist = calloc(RTT_BUCKETS, sizeof(*hist));
	uint64_t tsc_per_step = (uint64_t)((double)hz * RTT_STEP_US / 1e6);

	if (!hist || !tsc_per_step) {
		fprintf(stderr, "e2-trafgen: out of memory for the round-trip histogram\n");
		free(hist);
		return 1;
	}

	end_tx = o->duration > 0 ? start + (uint64_t)(o->duration * (double)hz) : UINT64_MAX;
	for (;;) {
		uint64_t now = rte_rdtsc();
		bool sending = !stopped && now < end_tx && (o->count == 0 || seq < o->count);
		if (sending && now >= next) {
			uint16_t want = BURST;
			if (o->count && o->count - seq < want)
				want = (uint16_t)(o->count - seq);
			if (rte_pktmbuf_alloc_bulk(pool, pkts, want) == 0) {
				for (uint16_t i = 0; i < want; i++)
					build(pkts[i], o, seq + i);
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
		/* Empty the receive ring before sending again (a few bursts at most), so a
		 * sender that was descheduled catches up on what arrived meanwhile. */
		uint16_t n, got = 0;
		do {
			n = rte_eth_rx_burst(o->rx, 0, in, BURST);
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
				timed++;
				if (rtt > rtt_max)
					rtt_max = rtt;
			}
			rte_pktmbuf_free_bulk(in, n);
			got += n;
		} while (n == BURST && got < 8 * BURST);
		if (got)
			last_rx = now;
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
	free(hist);
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

static const char usage[] =
	"usage: e2-trafgen EAL-ARGS -- [options]\n"
	"  --tx N, --rx N          ports to send on and receive from (0, 1)\n"
	"  --rate PPS              0..1e9 packets per second, k/M/G suffixes (0: as fast as possible)\n"
	"  --count N               packets to send (0: no limit)\n"
	"  --duration T            0..86400 s, or with ms/s/m/h (1 s when neither count nor ping is given)\n"
	"  --size N                frame size, 64..1518 (64)\n"
	"  --flows N               distinct UDP flows, 1..16777216 (1)\n"
	"  --dst-mac MAC           destination MAC (02:e2:00:00:00:02)\n"
	"  --ping N                N round trips, reporting latency\n"
	"  --drain T               time to wait for stragglers, 0..3600 s (1)\n"
	"  --fwd                   forward between the two ports instead (an NF)\n"
	"  --idle-spin-us N        0..1000000 (0); --max-sleep-us N: 1..1000000 (50)\n";

int main(int argc, char **argv)
{
	struct opts o = {.tx = 0,
			 .rx = 1,
			 .size = 64,
			 .flows = 1,
			 .duration = 0,
			 .drain = 1.0,
			 .dst = {{0x02, 0xe2, 0, 0, 0, 2}},
			 .idle_spin_us = 0,
			 .max_sleep_us = 50};
	static const struct option lo[] = {
		{"tx", 1, NULL, 't'},           {"rx", 1, NULL, 'r'},       {"rate", 1, NULL, 'R'},
		{"count", 1, NULL, 'c'},        {"duration", 1, NULL, 'd'}, {"size", 1, NULL, 's'},
		{"flows", 1, NULL, 'f'},        {"dst-mac", 1, NULL, 'm'},  {"ping", 1, NULL, 'p'},
		{"drain", 1, NULL, 'D'},        {"fwd", 0, NULL, 'F'},      {"idle-spin-us", 1, NULL, 'I'},
		{"max-sleep-us", 1, NULL, 'M'}, {NULL, 0, NULL, 0},
	};
	int n = rte_eal_init(argc, argv), c;

	if (n < 0) {
		fprintf(stderr, "e2-trafgen: cannot start DPDK\n");
		return 2;
	}
	argc -= n;
	argv += n;
	struct e2_err e;
	while ((c = getopt_long(argc, argv, "", lo, NULL)) != -1) {
		int bad = 0;
		switch (c) {
		case 't': bad = e2_num_u32("--tx", optarg, 0, RTE_MAX_ETHPORTS - 1, &o.tx, &e); break;
		case 'r': bad = e2_num_u32("--rx", optarg, 0, RTE_MAX_ETHPORTS - 1, &o.rx, &e); break;
		case 'R': bad = e2_num_rate("--rate", optarg, 0, 1e9, &o.rate, &e); break;
		case 'c': bad = e2_num_u64("--count", optarg, 0, UINT64_MAX, &o.count, &e); break;
		case 'd': bad = e2_num_duration("--duration", optarg, 0, 86400, &o.duration, &e); break;
		case 's': bad = e2_num_u32("--size", optarg, 64, 1518, &o.size, &e); break;
		case 'f': bad = e2_num_u32("--flows", optarg, 1, 1u << 24, &o.flows, &e); break;
		case 'p': bad = e2_num_u32("--ping", optarg, 0, 100000000, &o.ping, &e); break;
		case 'D': bad = e2_num_duration("--drain", optarg, 0, 3600, &o.drain, &e); break;
		case 'F': o.fwd = true; break;
		case 'I': bad = e2_num_u32("--idle-spin-us", optarg, 0, 1000000, &o.idle_spin_us, &e); break;
		case 'M': bad = e2_num_u32("--max-sleep-us", optarg, 1, 1000000, &o.max_sleep_us, &e); break;
		case 'm':
			if (rte_ether_unformat_addr(optarg, &o.dst) != 0)
				bad = (e2_seterr(&e, "--dst-mac=%.40s: not a MAC address (02:e2:00:00:00:02)", optarg),
				       -1);
			break;
		default: fprintf(stderr, "%s", usage); return 2;
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
	if (o.fwd && o.tx == o.rx) {
		fprintf(stderr, "e2-trafgen: --fwd needs two ports (--tx and --rx differ)\n");
		return 2;
	}
	if (!o.count && o.duration <= 0 && !o.ping && !o.fwd)
		o.duration = 1;
	signal(SIGINT, on_signal);
	signal(SIGTERM, on_signal);
	struct rte_mempool *pool =
		rte_pktmbuf_pool_create("tg", 8191, 256, 0, RTE_MBUF_DEFAULT_BUF_SIZE, (int)rte_socket_id());
	if (!pool || o.tx >= rte_eth_dev_count_avail() || o.rx >= rte_eth_dev_count_avail()) {
		fprintf(stderr, "e2-trafgen: need ports %u and %u (have %u) and memory\n", o.tx, o.rx,
			rte_eth_dev_count_avail());
		return 2;
	}
	if (port_init(o.tx, pool) != 0 || (o.rx != o.tx && port_init(o.rx, pool) != 0)) {
		fprintf(stderr, "e2-trafgen: cannot start ports\n");
		return 2;
	}
	/* vhost-user links come up asynchronously: wait until both are up (5 s at most). */
	for (int i = 0; i < 500; i++) {
		struct rte_eth_link a, b;
		rte_eth_link_get_nowait(o.tx, &a);
		rte_eth_link_get_nowait(o.rx, &b);
		if (a.link_status && b.link_status)
			break;
		rte_delay_ms(10);
	}
	int rc = o.fwd ? run_fwd(&o) : o.ping ? run_ping(&o, pool) : run_load(&o, pool);
	rte_eth_dev_stop(o.tx);
	if (o.rx != o.tx)
		rte_eth_dev_stop(o.rx);
	rte_eal_cleanup();
	return rc;
}
