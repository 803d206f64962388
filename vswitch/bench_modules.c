/* SPDX-License-Identifier: BSD-3-Clause */
/* e2-bench-modules: micro-benchmarks of the flow, filter and scheduling modules with real mbufs and no
 * workers (packets are pushed into process_batch as a worker would, test_util.h's
 * push()), and of the scheduler tree with a real worker. One invocation is one run;
 * bench/e2d-modules repeats it and takes medians.
 *
 *   e2-bench-modules [--core N] [--sched-core N] [--seconds S] filter|flow|sched...
 *
 * filter  a bpf module ("tcp dst port 80 and src net 10.0.0.0/8", JIT and interpreter)
 *         against an hmatch doing the same match on IHL-5 frames; ns per packet
 * flow    flowhash + rangesplit tracking 10,000 flows against hash_split; Mpps (also
 *         the same with 10,000 IPv6 flows, flowhash_split_ipv6_mpps)
 * sched   two saturated tasks (null ports into sinks, the second's batches costlier) on
 *         one worker under weighted_fair 3:1 by cycles, under weighted round robin 3:1
 *         by batches (weighted_fair by packets: the reference) and under round_robin;
 *         the first task's share of the cycles
 *
 * Packets are allocated once and pushed again and again into a "hold" module that
 * hands them back, so the timing is the modules' own work plus the batch hand-off. */
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <rte_cycles.h>
#include <rte_tcp.h>
#include <rte_udp.h>

#include "ctl.h"
#include "e2/num.h"
#include "e2/opts.h"
#include "schedtree.h"
#include "test_util.h"
#include "worker.h"

#define FLOWS 10000
#define FILTER_PKTS 1024

/* "hold": a test-only end of the graph that keeps nothing: the harness owns the mbufs. */
static void hold_process(struct e2_ctx *ctx, struct e2_module *m, uint16_t igate, struct e2_batch *b)
{
	b->cnt = 0;
}

static const struct e2_module_class hold_class = {
	.name = "bench_hold",
	.help = "benchmark only: returns packets to the harness",
	.igates = 4,
	.args = E2_ARGS_NONE,
	.process_batch = hold_process,
};
E2_MODULE_REGISTER(hold_class)

struct opts {
	int core;       /* the core of the micro-benchmarks (the main thread) */
	int sched_core; /* the worker's core for the scheduler benchmark */
	double seconds; /* per micro-benchmark measurement */
	double sched_seconds;
};

static int eal_init(int core)
{
	char pfx[64], lcores[32];
	snprintf(pfx, sizeof(pfx), "e2-bench-modules-%d", (int)getpid());
	snprintf(lcores, sizeof(lcores), "0@%d", core);
	char *argv[] = {
		"e2-bench-modules", "--no-huge", "-m",          "512",   "--no-pci", "--no-shconf", "--no-telemetry",
		"--file-prefix",    pfx,         "--log-level", "error", "--lcores", lcores,        NULL};
	return rte_eal_init((int)(sizeof(argv) / sizeof(argv[0])) - 1, argv) < 0 ? -1 : 0;
}

static void die(const char *what)
{
	fprintf(stderr, "e2-bench-modules: %s\n", what);
	exit(1);
}

#define ctl(dp, ...)                                        \
	do {                                                \
		if (test_ctl(dp, __VA_ARGS__) != 0)         \
			die("a setup command was refused"); \
	} while (0)

/* An Ethernet/IPv4/TCP frame of 64 bytes (checksums are not looked at). */
static struct rte_mbuf *make_tcp(struct rte_mempool *pool, uint32_t src, uint32_t dst, uint16_t sport, uint16_t dport)
{
	struct rte_mbuf *m = make_udp(pool, "02:00:00:00:00:02", src, dst, sport, dport, 64);
	if (!m)
		die("out of mbufs");
	struct rte_ipv4_hdr *ip = rte_pktmbuf_mtod_offset(m, struct rte_ipv4_hdr *, sizeof(struct rte_ether_hdr));
	struct rte_tcp_hdr *tcp = (struct rte_tcp_hdr *)(ip + 1);
	ip->next_proto_id = IPPROTO_TCP;
	tcp->data_off = 0x50;
	tcp->tcp_flags = RTE_TCP_ACK_FLAG;
	return m;
}

/* Pushes all packets, batch by batch, into `module` until `seconds` have passed
 * (after one warm-up pass); returns TSC cycles per packet. */
static double drive(struct e2_dp *dp, const char *module, struct rte_mbuf **pkts, uint32_t n, double seconds)
{
	struct e2_module *m = e2_dp_module_find(dp, module);
	struct e2_batch b;
	uint64_t hz = rte_get_tsc_hz(), packets = 0, t0 = 0, stop = 0;

	for (int warm = 1; warm >= 0; warm--) {
		if (!warm) {
			t0 = rte_rdtsc();
			stop = t0 + (uint64_t)(seconds * (double)hz);
			packets = 0;
		}
		do {
			for (uint32_t i = 0; i < n; i += E2_BATCH_MAX) {
				b.cnt = (uint16_t)RTE_MIN((uint32_t)E2_BATCH_MAX, n - i);
				memcpy(b.pkts, pkts + i, b.cnt * sizeof(b.pkts[0]));
				/* as test_util.h's push(), without the name lookup */
				struct e2_ctx ctx = {.current = m, .ts = rte_rdtsc(), .measure = true};
				m->packets += b.cnt;
				m->measured_packets += b.cnt;
				m->batches++;
				m->cls->process_batch(&ctx, m, 0, &b);
				e2_charge(&ctx, NULL);
			}
			packets += n;
		} while (!warm && rte_rdtsc() < stop);
	}
	return (double)(rte_rdtsc() - t0) / (double)packets;
}

static uint64_t gate_packets(struct e2_dp *dp, const char *module, uint16_t gate)
{
	return e2_dp_module_find(dp, module)->ogates[gate].packets;
}

/* The integer in the value of the first result key starting with `key` (after `sub` in it, if given). */
static long query(struct e2_dp *dp, const char *module, const char *cmd, const char *key, const char *sub)
{
	static struct e2_result out;
	char err[E2_ERR_MAX];
	memset(&out, 0, sizeof(out));
	if (e2_dp_module_command(dp, module, cmd, &(struct e2_args){0}, &out, err) != 0)
		die(err);
	for (size_t i = 0; i < out.n; i++)
		if (strncmp(out.v[i].key, key, strlen(key)) == 0) {
			const char *v = sub ? strstr(out.v[i].value, sub) : out.v[i].value;
			return v ? strtol(v + (sub ? strlen(sub) : 0), NULL, 0) : -1;
		}
	return -1;
}

static void bench_filter(struct e2_dp *dp, const struct opts *o)
{
	static struct rte_mbuf *pkts[FILTER_PKTS];
	double ns = 1e9 / (double)rte_get_tsc_hz();

	/* a quarter of the frames match; the others miss on the port, the source net, the protocol */
	for (uint32_t i = 0; i < FILTER_PKTS; i++) {
		uint32_t src = (i % 4 == 2 ? 0xc0a80000u : 0x0a000000u) + i, dst = 0xc0a80101u;
		uint16_t sport = (uint16_t)(1024 + i), dport = i % 4 == 1 ? 443 : 80;
		if (i % 4 == 3)
			pkts[i] = make_udp(dp->pool, "02:00:00:00:00:02", src, dst, sport, dport, 64);
		else
			pkts[i] = make_tcp(dp->pool, src, dst, sport, dport);
		if (!pkts[i])
			die("out of mbufs");
	}
	ctl(dp, "module add hold bench_hold");
	ctl(dp, "module add fjit bpf jit=1");
	ctl(dp, "module add fint bpf jit=0");
	for (int j = 0; j < 2; j++) {
		const char *f = j ? "fint" : "fjit";
		ctl(dp, "module cmd %s add filter=\"tcp dst port 80 and src net 10.0.0.0/8\" gate=1", f);
		ctl(dp, "connect %s:0 hold:0", f);
		ctl(dp, "connect %s:1 hold:1", f);
	}
	/* what the filter tests, as header fields of an IPv4 frame with a 20-byte header:
	 * EtherType, fragment offset 0 (ports only in the first fragment), protocol, source /8,
	 * destination port */
	ctl(dp, "module add hm hmatch fields=12:2,20:2/0x1fff,23:1,26:1,36:2 default=0");
	ctl(dp, "module cmd hm add values=0x0800,0,6,10,80 gate=1");
	ctl(dp, "connect hm:0 hold:2");
	ctl(dp, "connect hm:1 hold:3");

	/* interleaved, so a noisy neighbour hits all three alike */
	double jit = 0, interp = 0, hm = 0;
	for (int r = 0; r < 3; r++) {
		jit += drive(dp, "fjit", pkts, FILTER_PKTS, o->seconds / 3);
		interp += drive(dp, "fint", pkts, FILTER_PKTS, o->seconds / 3);
		hm += drive(dp, "hm", pkts, FILTER_PKTS, o->seconds / 3);
	}
	uint64_t a = gate_packets(dp, "fjit", 1), b = gate_packets(dp, "fint", 1), c = gate_packets(dp, "hm", 1);
	uint64_t ta = a + gate_packets(dp, "fjit", 0), tc = c + gate_packets(dp, "hm", 0);
	/* all three must take exactly the same quarter of the frames */
	int agree = ta && tc && a * 4 == ta && (b * 4 == b + gate_packets(dp, "fint", 0)) && c * 4 == tc;
	printf("bpf_filter_ns_per_pkt=%.2f\n", jit / 3 * ns);
	printf("bpf_interp_ns_per_pkt=%.2f\n", interp / 3 * ns);
	printf("hmatch_ns_per_pkt=%.2f\n", hm / 3 * ns);
	printf("bpf_jit=%ld\n", query(dp, "fjit", "list", "gate1", "jit="));
	printf("filter_results_agree=%d\n", agree);
	rte_pktmbuf_free_bulk(pkts, FILTER_PKTS);
	test_dp_clear(dp);
}

/* The IPv4 frame m made Ethernet/IPv6/UDP 2001:db8::SRC -> 2001:db8::DST (the IPv4
 * addresses in the last 32 bits), same ports, 78 bytes. */
static struct rte_mbuf *to_ipv6(struct rte_mbuf *m)
{
	const struct rte_ipv4_hdr *ip4 =
		rte_pktmbuf_mtod_offset(m, struct rte_ipv4_hdr *, sizeof(struct rte_ether_hdr));
	struct rte_ipv6_hdr ip6 = {.vtc_flow = rte_cpu_to_be_32(0x60000000), .proto = IPPROTO_UDP, .hop_limits = 64};
	struct rte_udp_hdr udp = *(const struct rte_udp_hdr *)(ip4 + 1);
	static const uint8_t prefix[4] = {0x20, 0x01, 0x0d, 0xb8};

	memcpy(ip6.src_addr, prefix, 4);
	memcpy(ip6.dst_addr, prefix, 4);
	memcpy(ip6.src_addr + 12, &ip4->src_addr, 4);
	memcpy(ip6.dst_addr + 12, &ip4->dst_addr, 4);
	ip6.payload_len = rte_cpu_to_be_16(sizeof(udp) + 16);
	if (!rte_pktmbuf_append(m, 78 - m->pkt_len))
		die("no room for an IPv6 frame");
	rte_pktmbuf_mtod(m, struct rte_ether_hdr *)->ether_type = rte_cpu_to_be_16(RTE_ETHER_TYPE_IPV6);
	memcpy(rte_pktmbuf_mtod_offset(m, void *, sizeof(struct rte_ether_hdr)), &ip6, sizeof(ip6));
	memcpy(rte_pktmbuf_mtod_offset(m, void *, sizeof(struct rte_ether_hdr) + sizeof(ip6)), &udp, sizeof(udp));
	return m;
}

static void bench_flow(struct e2_dp *dp, const struct opts *o)
{
	static struct rte_mbuf *pkts[FLOWS];
	double hz = (double)rte_get_tsc_hz();

	for (uint32_t i = 0; i < FLOWS; i++)
		if (!(pkts[i] = make_udp(dp->pool, "02:00:00:00:00:02", 0x0a000000u + i, 0xc0a80001u,
					 (uint16_t)(1024 + i * 7), 80, 64)))
			die("out of mbufs");
	ctl(dp, "module add hold bench_hold");
	ctl(dp, "module add fh flowhash bits=16");
	ctl(dp, "module add rs rangesplit bits=16 track=1 flows=65536");
	ctl(dp, "module cmd rs add range=0-32768 gate=0");
	ctl(dp, "module cmd rs add range=32768-65536 gate=1");
	ctl(dp, "connect fh rs");
	ctl(dp, "connect rs:0 hold:0");
	ctl(dp, "connect rs:1 hold:1");
	ctl(dp, "module add hs hash_split gates=2");
	ctl(dp, "connect hs:0 hold:2");
	ctl(dp, "connect hs:1 hold:3");
	/* the same graph for the IPv6 frames, so each tracker holds one family */
	ctl(dp, "module add fh6 flowhash bits=16");
	ctl(dp, "module add rs6 rangesplit bits=16 track=1 flows=65536");
	ctl(dp, "module cmd rs6 add range=0-32768 gate=0");
	ctl(dp, "module cmd rs6 add range=32768-65536 gate=1");
	ctl(dp, "connect fh6 rs6");
	ctl(dp, "connect rs6:0 hold:0");
	ctl(dp, "connect rs6:1 hold:1");

	double split = 0, hs = 0, split6 = 0;
	for (int r = 0; r < 3; r++) {
		split += drive(dp, "fh", pkts, FLOWS, o->seconds / 3);
		hs += drive(dp, "hs", pkts, FLOWS, o->seconds / 3);
	}
	/* then the same flows as IPv6 frames (the pool holds one set of frames) */
	for (uint32_t i = 0; i < FLOWS; i++)
		to_ipv6(pkts[i]);
	for (int r = 0; r < 3; r++)
		split6 += drive(dp, "fh6", pkts, FLOWS, o->seconds / 3);
	printf("flowhash_split_mpps=%.3f\n", hz / (split / 3) / 1e6);
	printf("hash_split_mpps=%.3f\n", hz / (hs / 3) / 1e6);
	printf("flows_tracked=%ld\n", query(dp, "rs", "exceptions", "flows", NULL));
	printf("flowhash_split_ipv6_mpps=%.3f\n", hz / (split6 / 3) / 1e6);
	printf("flows_tracked_ipv6=%ld\n", query(dp, "rs6", "exceptions", "flows", NULL));
	rte_pktmbuf_free_bulk(pkts, FLOWS);
	test_dp_clear(dp);
}

/* What the two tasks used over one measurement. */
struct sched_use {
	double cycles[2], runs[2], packets[2];
};

/* Runs the worker for `seconds` with fresh counters; returns what src0 and src1 used. */
static struct sched_use sched_measure(struct e2_dp *dp, double seconds)
{
	struct e2_sched_node *root = dp->workers[0]->root;
	struct sched_use u;
	e2_dp_pause(dp);
	for (int i = 0; i < 2; i++) {
		char n[8];
		snprintf(n, sizeof(n), "src%d", i);
		for (struct e2_sched_node *x = e2_sched_find(root, n); x; x = x->parent)
			x->cycles = x->packets = x->bits = x->runs = 0;
	}
	e2_dp_resume(dp);
	usleep((useconds_t)(seconds * 1e6));
	e2_dp_pause(dp);
	for (int i = 0; i < 2; i++) {
		const struct e2_sched_node *x = e2_sched_find(root, i ? "src1" : "src0");
		u.cycles[i] = (double)x->cycles;
		u.runs[i] = (double)x->runs;
		u.packets[i] = (double)x->packets;
	}
	e2_dp_resume(dp);
	return u;
}

static double share_of(const struct sched_use *u)
{
	return u->cycles[0] + u->cycles[1] > 0 ? u->cycles[0] / (u->cycles[0] + u->cycles[1]) : 0;
}

/* Two saturated tasks on one worker, the first to get 3/4 of the worker's cycles. Their
 * batches cost different amounts: src0's frames go straight to a sink, src1's are wrapped
 * in NSH and unwrapped again first, so a scheduler that counts turns rather than cycles
 * misses the target. Three schedulers, one after the other:
 *   round_robin                      one turn each (cannot reach 3:1 by design);
 *   weighted_fair resource=packets   the reference: weighted round robin 3:1 by batches,
 *                                    what a scheduler without cycle accounting does (every
 *                                    run of a saturated null-port task is one full batch,
 *                                    so 3:1 in packets is 3 turns of src0 per turn of src1;
 *                                    wrr_batch_ratio checks it);
 *   weighted_fair resource=cycles    e2d's cycle accounting. */
static void bench_sched(struct e2_dp *dp, const struct opts *o)
{
	char err[E2_ERR_MAX];
	for (int i = 0; i < 2; i++) {
		ctl(dp, "port add n%d pmd devargs=net_null%d", i, i);
		ctl(dp, "module add src%d port_in port=n%d", i, i);
		ctl(dp, "module add sink%d sink", i);
	}
	ctl(dp, "connect src0 sink0");
	ctl(dp, "module add push1 nsh_push safe=1 url=http://www.example.com/");
	ctl(dp, "module add pop1 nsh_pop");
	ctl(dp, "connect src1 push1");
	ctl(dp, "connect push1 pop1");
	ctl(dp, "connect pop1 sink1");
	if (e2_dp_worker_create(dp, 0, o->sched_core, err) != 0)
		die(err);
	/* both tasks under the worker's round-robin root */
	struct sched_use rr = sched_measure(dp, o->sched_seconds);
	ctl(dp, "sched add wrr policy=weighted_fair resource=packets");
	ctl(dp, "sched attach src0 parent=wrr share=3");
	ctl(dp, "sched attach src1 parent=wrr share=1");
	struct sched_use wrr = sched_measure(dp, o->sched_seconds);
	ctl(dp, "sched add wfq policy=weighted_fair resource=cycles");
	ctl(dp, "sched attach src0 parent=wfq share=3");
	ctl(dp, "sched attach src1 parent=wfq share=1");
	ctl(dp, "sched del wrr");
	struct sched_use wfq = sched_measure(dp, o->sched_seconds);
	double s_rr = share_of(&rr), s_wrr = share_of(&wrr), s_wfq = share_of(&wfq);
	printf("wfq_share=%.4f\n", s_wfq);
	printf("wrr_share=%.4f\n", s_wrr);
	printf("rr_share=%.4f\n", s_rr);
	printf("sched_share_error_pct=%.3f\n", 100 * fabs(s_wfq - 0.75));
	printf("wrr_share_error_pct=%.3f\n", 100 * fabs(s_wrr - 0.75));
	printf("rr_share_error_pct=%.3f\n", 100 * fabs(s_rr - 0.75));
	/* the reference does what it is designed to: 3 batches of src0 per batch of src1 */
	printf("wrr_batch_ratio=%.3f\n", wrr.runs[1] > 0 ? wrr.runs[0] / wrr.runs[1] : 0);
	printf("wrr_pkts_per_batch=%.2f\n",
	       wrr.runs[0] + wrr.runs[1] > 0 ? (wrr.packets[0] + wrr.packets[1]) / (wrr.runs[0] + wrr.runs[1]) : 0);
	/* what makes the difference: src1's batches cost more (measured under round robin,
	 * where both run alike) */
	double c0 = rr.runs[0] > 0 ? rr.cycles[0] / rr.runs[0] : 0, c1 = rr.runs[1] > 0 ? rr.cycles[1] / rr.runs[1] : 0;
	printf("sched_cycles_per_batch_a=%.0f\n", c0);
	printf("sched_cycles_per_batch_b=%.0f\n", c1);
	printf("sched_batch_cost_ratio=%.3f\n", c0 > 0 ? c1 / c0 : 0);
	test_dp_clear(dp);
}

int main(int argc, char **argv)
{
	struct opts o = {.core = 0, .sched_core = -1, .seconds = 0.6, .sched_seconds = 2.0};
	static const struct option longopts[] = {
		{"core", required_argument, NULL, 'c'},    {"sched-core", required_argument, NULL, 'w'},
		{"seconds", required_argument, NULL, 's'}, {"sched-seconds", required_argument, NULL, 'S'},
		{"help", no_argument, NULL, 'h'},          {NULL, 0, NULL, 0}};
	int c, bad = 0;
	struct e2_err e;
	while ((c = e2_opt_next(argc, argv, "", longopts, &e)) != -1) {
		switch (c) {
		case 'c': bad = e2_num_int("--core", optarg, 0, 4095, &o.core, &e); break;
		case 'w': bad = e2_num_int("--sched-core", optarg, 0, 4095, &o.sched_core, &e); break;
		case 's': bad = e2_num_duration("--seconds", optarg, 0.01, 3600, &o.seconds, &e); break;
		case 'S': bad = e2_num_duration("--sched-seconds", optarg, 0.01, 3600, &o.sched_seconds, &e); break;
		case 'h':
			puts("usage: e2-bench-modules [--core N] [--sched-core N] [--seconds S] [--sched-seconds S]\n"
			     "                        filter|flow|sched...\n"
			     "  filter  bpf (JIT, interpreter) against hmatch on one match; ns per packet\n"
			     "  flow    flowhash + rangesplit over 10,000 flows against hash_split; Mpps\n"
			     "  sched   the scheduler tree's shares of two saturated tasks\n"
			     "  bench/e2d-modules repeats it and takes medians");
			return 0;
		case E2_OPT_BAD: bad = -1; break;
		default: fprintf(stderr, "e2-bench-modules: option %d is not handled (a bug)\n", c); return 2;
		}
		if (bad) {
			fprintf(stderr, "e2-bench-modules: %s\n", e.msg);
			return 2;
		}
	}
	if (optind == argc) {
		fprintf(stderr, "e2-bench-modules: name at least one of filter, flow, sched\n");
		return 2;
	}
	if (o.sched_core < 0)
		o.sched_core = o.core;
	struct e2_dp dp;
	char err[E2_ERR_MAX];
	if (eal_init(o.core) != 0 || e2_dp_init(&dp, 16383, err) != 0)
		die("cannot start DPDK or the dataplane");
	for (int i = optind; i < argc; i++) {
		if (strcmp(argv[i], "filter") == 0)
			bench_filter(&dp, &o);
		else if (strcmp(argv[i], "flow") == 0)
			bench_flow(&dp, &o);
		else if (strcmp(argv[i], "sched") == 0)
			bench_sched(&dp, &o);
		else
			die("unknown benchmark (filter, flow, sched)");
		fflush(stdout);
	}
	test_dp_stop(&dp);
	return 0;
}
