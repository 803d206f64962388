/* SPDX-License-Identifier: BSD-3-Clause */
/* embark-bench: Embark micro-benchmarks, key=value lines, medians of RUNS runs.
 * Reference: ref_aes_ns, one AES-128 block through EVP on this machine, measured in the
 * same run; the *_per_aes lines divide by it so figures compare across machines. Times
 * are the thread's CPU time (other work on a shared machine does not count, though it
 * still slows the caches and clock); seed_* lines give the seed's figure (ch. 4) beside. */
#include <pthread.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "e2/opts.h"
#include "embark.h"
#include "gwcore.h"
#include "internal.h"

#define RUNS 9

/* The thread's CPU time: on a shared machine, time spent descheduled is not ours. */
static double now_ns(void)
{
	struct timespec t;
	clock_gettime(CLOCK_THREAD_CPUTIME_ID, &t);
	return (double)t.tv_sec * 1e9 + (double)t.tv_nsec;
}
static int cmp_d(const void *a, const void *b)
{
	double x = *(const double *)a, y = *(const double *)b;
	return x < y ? -1 : x > y;
}
static double median(double *v, int n)
{
	qsort(v, (size_t)n, sizeof *v, cmp_d);
	return v[n / 2];
}
static uint64_t rs_ = 0x9e3779b97f4a7c15ull;
static uint64_t rnd(void)
{
	rs_ ^= rs_ << 13;
	rs_ ^= rs_ >> 7;
	rs_ ^= rs_ << 17;
	return rs_;
}
static volatile uint64_t sink;

static embark_keys *bench_keys(void)
{
	uint8_t m[EMBARK_MASTER_KEY_LEN];
	for (int i = 0; i < EMBARK_MASTER_KEY_LEN; i++)
		m[i] = (uint8_t)(i * 13 + 1);
	return embark_keys_from_master(m);
}

/* n random firewall rules: source prefixes, destination ranges, port ranges. */
static void random_rules(embark_ruleset *rs, size_t n)
{
	rs->n = n;
	rs->v = calloc(n ? n : 1, sizeof *rs->v);
	for (size_t i = 0; i < n; i++) {
		embark_rule *r = &rs->v[i];
		snprintf(r->id, sizeof r->id, "r%zu", i);
		r->prio = (int64_t)i;
		r->action = (int)(rnd() & 1);
		r->proto = (rnd() & 1) ? 6 : EMBARK_PROTO_ANY;
		int len = 8 + (int)(rnd() % 25);
		uint32_t host = len == 32 ? 0 : 0xffffffffu >> len, a = (uint32_t)rnd() & ~host;
		r->src = (embark_range){embark_v4mapped(a), embark_v4mapped(a | host)};
		r->dst_any = rnd() % 3 == 0;
		uint32_t d = (uint32_t)rnd(), e = d + (uint32_t)(rnd() % 65536);
		if (e < d)
			e = d;
		r->dst = r->dst_any ? (embark_range){0, ~(embark_u128)0}
				    : (embark_range){embark_v4mapped(d), embark_v4mapped(e)};
		r->sport_any = true;
		r->sport = (embark_range){0, 0xffff};
		r->dport_any = rnd() % 2 == 0;
		uint16_t p = (uint16_t)rnd(), q = (uint16_t)(p + rnd() % 100);
		if (q < p)
			q = p;
		r->dport = r->dport_any ? (embark_range){0, 0xffff} : (embark_range){p, q};
	}
}

static double ref_aes_ns(void)
{
	static const uint8_t key[16] = {1};
	EVP_CIPHER_CTX *ctx = embark_ecb_ctx(key);
	uint8_t b[16] = {0};
	double v[RUNS];
	for (int r = 0; r < RUNS; r++) {
		double t0 = now_ns();
		for (int i = 0; i < 200000; i++)
			embark_ecb(ctx, b, b, 16);
		v[r] = (now_ns() - t0) / 200000;
	}
	sink += b[0];
	EVP_CIPHER_CTX_free(ctx);
	return median(v, RUNS);
}

/* n AES blocks as a dependent chain (what ref_aes_ns times), total ns. */
static double ref_aes_slice(int n)
{
	static const uint8_t key[16] = {1};
	static EVP_CIPHER_CTX *ctx;
	if (!ctx)
		ctx = embark_ecb_ctx(key);
	uint8_t b[16] = {0};
	double t0 = now_ns();
	for (int i = 0; i < n; i++)
		embark_ecb(ctx, b, b, 16);
	sink += b[0];
	return now_ns() - t0;
}

/* Packets go in bursts of BURST, as a poll-mode worker receives them. Every SLICE bursts
 * the AES reference runs for REF_SLICE blocks, so reference and transform see the same
 * machine (it is shared): a run's ratio holds when other work slows both alike. */
enum { BURST = 32, SLICE = 100, REF_SLICE = 5000 };
typedef size_t (*burst_fn)(embark_gw *, embark_burst_pkt *, size_t);
static void timed_bursts(embark_gw *gw, burst_fn fn, uint8_t *const *ins, const size_t *lens, size_t nin, int pkts,
			 double *ns, double *ref, size_t *failed)
{
	static embark_burst_pkt bp[BURST];
	static uint8_t out[BURST][512];
	double t_work = 0, t_ref = 0;
	long refs = 0;
	int done = 0;
	while (done < pkts) {
		t_ref += ref_aes_slice(REF_SLICE);
		refs += REF_SLICE;
		double t0 = now_ns();
		for (int sl = 0; sl < SLICE && done < pkts; sl++, done += BURST) {
			for (int j = 0; j < BURST; j++) {
				size_t k = (size_t)(done + j) % nin;
				bp[j] = (embark_burst_pkt){
					.in = ins[k], .len = lens[k], .out = out[j], .cap = sizeof out[j]};
			}
			/* every result is checked: a refused packet would time the error path */
			*failed += BURST - fn(gw, bp, BURST);
		}
		t_work += now_ns() - t0;
	}
	sink += out[0][9];
	*ns = t_work / done;
	*ref = t_ref / (double)refs;
}

/* AES throughput: independent blocks in one EVP call (AES-NI pipelines them), per block.
 * ref_aes_ns above is a dependent chain, i.e. latency; an implementation that batches
 * blocks is bounded by this figure instead. */
static double ref_aes_throughput_ns(void)
{
	static const uint8_t key[16] = {1};
	enum { BLOCKS = 256 };
	static uint8_t in[BLOCKS * 16], out[BLOCKS * 16];
	EVP_CIPHER_CTX *ctx = embark_ecb_ctx(key);
	double v[RUNS];
	for (int r = 0; r < RUNS; r++) {
		double t0 = now_ns();
		for (int i = 0; i < 2000; i++) {
			in[i & 0xff] ^= out[0]; /* keep the compiler from hoisting the call */
			embark_ecb(ctx, in, out, sizeof in);
		}
		v[r] = (now_ns() - t0) / (2000.0 * BLOCKS);
	}
	sink += out[0];
	EVP_CIPHER_CTX_free(ctx);
	return median(v, RUNS);
}

static size_t tcp_packet(uint8_t *p, uint32_t sip, uint32_t dip, uint16_t sp, uint16_t dp, size_t pay)
{
	size_t n = 20 + 20 + pay;
	memset(p, 0, n);
	p[0] = 0x45;
	p[2] = (uint8_t)(n >> 8);
	p[3] = (uint8_t)n;
	p[8] = 64;
	p[9] = 6;
	for (int i = 0; i < 4; i++) {
		p[12 + i] = (uint8_t)(sip >> (24 - 8 * i));
		p[16 + i] = (uint8_t)(dip >> (24 - 8 * i));
	}
	p[20] = (uint8_t)(sp >> 8);
	p[21] = (uint8_t)sp;
	p[22] = (uint8_t)(dp >> 8);
	p[23] = (uint8_t)dp;
	p[32] = 0x50;
	for (size_t i = 0; i < pay; i++)
		p[40 + i] = (uint8_t)rnd();
	return n;
}

/* The gateway daemon's packet path on one core (gwcore: flow table, epoch, burst
 * transform; no DPI, no URIs, no NIC), 1500-byte TCP packets over 1024 flows, in bursts of
 * 32: Gbps of IPv4 bytes in, header-only (the seed's Fig. 4.5 setting) and with payloads. */
static int gw_path(const embark_keys *k, bool quick)
{
	enum { NF = 1024 };
	static uint8_t big[NF][1500], out[BURST][1700];
	static size_t bl[NF];
	for (int i = 0; i < NF; i++)
		bl[i] = tcp_packet(big[i], 0x0a000000u | (uint32_t)(rnd() & 0xffff), (uint32_t)rnd(), (uint16_t)rnd(),
				   80, 1460);
	for (int payload = 0; payload < 2; payload++) {
		embark_config cfg;
		struct gwc_config gc;
		struct e2_err e = {0};
		embark_config_default(&cfg);
		cfg.encrypt_payload = payload;
		gwc_config_default(&gc);
		gc.dpi = gc.uri = false;
		struct gwc_epoch *ep = gwc_epoch_new(1, gwc_keys_copy(k), NULL, NULL, &cfg, &e);
		struct gwc *c = ep ? gwc_new(&gc, ep, NULL, NULL, &e) : NULL;
		if (!c) {
			fprintf(stderr, "embark-bench: %s\n", e.msg);
			return -1;
		}
		int pkts = quick ? 8192 : 65536;
		double v[RUNS];
		struct gwc_pkt gp[BURST];
		for (int r = 0; r < RUNS; r++) {
			double bytes = 0, t0 = now_ns();
			for (int done = 0; done < pkts; done += BURST) {
				for (int j = 0; j < BURST; j++) {
					size_t i = (size_t)(done + j) % NF;
					gp[j] = (struct gwc_pkt){
						.in = big[i], .len = bl[i], .out = out[j], .cap = sizeof out[j]};
					bytes += (double)bl[i];
				}
				gwc_outbound(c, gp, BURST, 1);
				for (int j = 0; j < BURST; j++)
					if (gp[j].rc != EMBARK_OK) {
						fprintf(stderr,
							"embark-bench: a packet of the gateway workload failed\n");
						return -1;
					}
			}
			v[r] = bytes * 8 / (now_ns() - t0); /* bits per ns = Gbps */
		}
		sink += out[0][9];
		printf("%s=%.2f\n", payload ? "gw_gbps_1500_payload" : "gw_gbps_1500", median(v, RUNS));
		if (!payload)
			printf("seed_gw_gbps_1500=9.8\n");
		gwc_free(c);
	}
	return 0;
}

/* The gateway with DPI on (seed §4.5: "With DPI enabled ... throughput dropped to 240Mbps
 * per core"): KeywordMatch tokens for every outbound byte, payloads encrypted, full
 * segments of HTTP-like text over 64 flows in sequence, in bursts of 32. The tokens are
 * made but not published (the channel's encoding and sending are not timed); each run
 * has a gateway of its own, since a stream is tokenized once. Window tokens (one per
 * byte, what exact keyword rules anywhere need) and delimiter tokens (BlindBox's cheaper
 * mode: only windows at a word's edge). */
static int gw_dpi(const embark_keys *k, bool quick)
{
	enum { NF = 64, PER = 16, N = NF * PER };
	static uint8_t pk[N][1500], out[BURST][1700];
	static size_t plen[N];
	static const char *const words[] = {
		"GET",     "/index.html",  "Host:", "example.com", "User-Agent:", "Mozilla/5.0", "Accept:", "text/html",
		"Cookie:", "session=8f2a", "value", "the",         "and",         "account",     "report"};
	for (int f = 0; f < NF; f++) {
		uint32_t sip = 0x0a000000u | (uint32_t)(rnd() & 0xffff), dip = (uint32_t)rnd(), seq = 1000;
		uint16_t sp = (uint16_t)(1024 + rnd() % 60000);
		for (int j = 0; j < PER; j++) {
			int i = j * NF + f; /* flows interleaved, each in order */
			plen[i] = tcp_packet(pk[i], sip, dip, sp, 80, 1460);
			for (size_t o = 0; o < 1460;) {
				const char *w = words[rnd() % (sizeof words / sizeof *words)];
				for (size_t c = 0; w[c] && o < 1460; c++)
					pk[i][40 + o++] = (uint8_t)w[c];
				if (o < 1460)
					pk[i][40 + o++] = ' ';
			}
			for (int b = 0; b < 4; b++)
				pk[i][24 + b] = (uint8_t)(seq >> (24 - 8 * b));
			seq += 1460;
		}
	}
	static const struct {
		int mode;
		const char *name;
	} modes[] = {{EMBARK_TOKENS_WINDOW, "window"}, {EMBARK_TOKENS_DELIMITER, "delimiter"}};
	for (size_t m = 0; m < 2; m++) {
		double v[RUNS], tokens_per_byte = 0;
		for (int r = 0; r < RUNS; r++) {
			embark_config cfg;
			struct gwc_config gc;
			struct e2_err e = {0};
			embark_config_default(&cfg);
			gwc_config_default(&gc);
			gc.uri = false;
			gc.dpi = true;
			gc.km_mode = modes[m].mode;
			gc.dpi_flows = NF;
			struct gwc_epoch *ep = gwc_epoch_new(1, gwc_keys_copy(k), NULL, NULL, &cfg, &e);
			struct gwc *c = ep ? gwc_new(&gc, ep, NULL, NULL, &e) : NULL;
			if (!c) {
				fprintf(stderr, "embark-bench: %s\n", e.msg);
				return -1;
			}
			struct gwc_pkt gp[BURST];
			int n = quick ? N / 4 : N;
			double bytes = 0, payload = 0, t0 = now_ns();
			for (int done = 0; done < n; done += BURST) {
				for (int j = 0; j < BURST; j++) {
					gp[j] = (struct gwc_pkt){.in = pk[done + j],
								 .len = plen[done + j],
								 .out = out[j],
								 .cap = sizeof out[j]};
					bytes += (double)plen[done + j];
					payload += (double)(plen[done + j] - 40);
				}
				gwc_outbound(c, gp, BURST, 1);
				for (int j = 0; j < BURST; j++)
					if (gp[j].rc != EMBARK_OK) {
						fprintf(stderr, "embark-bench: a packet of the DPI workload failed\n");
						return -1;
					}
			}
			v[r] = bytes * 8 / (now_ns() - t0);
			tokens_per_byte = (double)gwc_stats(c)->c[GWC_EXT_TOKENS] / payload;
			gwc_free(c);
			if (tokens_per_byte <= 0) {
				fprintf(stderr, "embark-bench: the DPI workload made no tokens\n");
				return -1;
			}
		}
		printf("gw_gbps_dpi_%s=%.3f\ngw_dpi_tokens_per_byte_%s=%.2f\n", modes[m].name, median(v, RUNS),
		       modes[m].name, tokens_per_byte);
	}
	printf("seed_gw_gbps_dpi=0.24\n");
	return 0;
}

/* A stand-in for the seed's empirical traces (m57 patents, ICTF 2010: not available
 * here): packet sizes bimodal as enterprise traces are, by count 45 % ACK-sized (40-64
 * bytes of IPv4), 15 % between 100 and 1000, 40 % 1500; 4096 packets over 1024 flows. */
enum { TRACE_N = 4096, TRACE_FLOWS = 1024 };
static uint8_t trace_pkt[TRACE_N][1500];
static size_t trace_len[TRACE_N];

static void trace_make(void)
{
	uint32_t sip[TRACE_FLOWS], dip[TRACE_FLOWS];
	uint16_t sp[TRACE_FLOWS];
	for (int f = 0; f < TRACE_FLOWS; f++) {
		sip[f] = 0x0a000000u | (uint32_t)(rnd() & 0xffff);
		dip[f] = (uint32_t)rnd();
		sp[f] = (uint16_t)(1024 + rnd() % 60000);
	}
	for (int i = 0; i < TRACE_N; i++) {
		int f = (int)(rnd() % TRACE_FLOWS);
		unsigned pick = (unsigned)(rnd() % 100);
		size_t pay = pick < 45 ? (size_t)(rnd() % 25) : pick < 60 ? 60 + (size_t)(rnd() % 901) : 1460;
		trace_len[i] = tcp_packet(trace_pkt[i], sip[f], dip[f], sp[f], 443, pay);
	}
}

/* Gbps of IPv4 bytes the gateway's outbound path takes on this thread (CPU time), the
 * trace workload from packet `from`, count packets. */
static double trace_gbps(struct gwc *c, int from, int count)
{
	static __thread uint8_t out[BURST][1700];
	struct gwc_pkt gp[BURST];
	double bytes = 0, t0 = now_ns();
	for (int done = 0; done < count; done += BURST) {
		for (int j = 0; j < BURST; j++) {
			int i = (from + done + j) % TRACE_N;
			gp[j] = (struct gwc_pkt){
				.in = trace_pkt[i], .len = trace_len[i], .out = out[j], .cap = sizeof out[j]};
			bytes += (double)trace_len[i];
		}
		gwc_outbound(c, gp, BURST, 1);
		for (int j = 0; j < BURST; j++)
			if (gp[j].rc != EMBARK_OK)
				return -1;
	}
	return bytes * 8 / (now_ns() - t0);
}

/* A gateway for the trace workload: header-only (payload false), as gw_gbps_1500, or with
 * payloads encrypted (embark_config_default's mode, the daemon's default). */
static struct gwc *gw_for_bench(const embark_keys *k, bool payload)
{
	embark_config cfg;
	struct gwc_config gc;
	struct e2_err e = {0};
	embark_config_default(&cfg);
	cfg.encrypt_payload = payload;
	gwc_config_default(&gc);
	gc.dpi = gc.uri = false;
	struct gwc_epoch *ep = gwc_epoch_new(1, gwc_keys_copy(k), NULL, NULL, &cfg, &e);
	struct gwc *c = ep ? gwc_new(&gc, ep, NULL, NULL, &e) : NULL;
	if (!c)
		fprintf(stderr, "embark-bench: %s\n", e.msg);
	return c;
}

struct core_run {
	const embark_keys *k;
	int count;
	double gbps;        /* < 0: failed */
	double start, stop; /* the timed part, wall-clock ns */
};

static double wall_ns(void)
{
	struct timespec t;
	clock_gettime(CLOCK_MONOTONIC, &t);
	return (double)t.tv_sec * 1e9 + (double)t.tv_nsec;
}

static void *core_main(void *arg)
{
	struct core_run *r = arg;
	struct gwc *c = gw_for_bench(r->k, false);
	r->gbps = -1;
	/* the flows set up first (a pass over the trace), as in gw_gbps_trace's runs */
	if (c && trace_gbps(c, 0, TRACE_N) >= 0) {
		r->start = wall_ns();
		r->gbps = trace_gbps(c, 0, r->count);
		r->stop = wall_ns();
	}
	if (c)
		gwc_free(c);
	return NULL;
}

/* The trace workload on one core (gw_gbps_trace, the seed's Fig. 4.5: 9.6 Gbps a core),
 * then on 1..n cores at once, one gateway object per thread as the daemon has one per
 * worker (gw_gbps_cores_<n>, Fig. 4.6: the sum of the threads' rates over their own CPU
 * time, and _wall: all bytes over the wall-clock time, which the machine's other work
 * and too few cores lower). */
static int gw_trace(const embark_keys *k, bool quick)
{
	trace_make();
	int pkts = quick ? 16384 : 131072;
	double v[RUNS], vp[RUNS];
	for (int payload = 0; payload < 2; payload++) {
		struct gwc *c = gw_for_bench(k, payload);
		if (!c)
			return -1;
		for (int r = 0; r < RUNS; r++)
			if (((payload ? vp : v)[r] = trace_gbps(c, r * 997, pkts)) < 0) {
				fprintf(stderr, "embark-bench: a packet of the trace workload failed\n");
				return -1;
			}
		gwc_free(c);
	}
	double avg = 0;
	for (int i = 0; i < TRACE_N; i++)
		avg += (double)trace_len[i] / TRACE_N;
	printf("gw_gbps_trace=%.2f\nseed_gw_gbps_trace=9.6\ngw_gbps_trace_payload=%.2f\n", median(v, RUNS),
	       median(vp, RUNS));
	printf("gw_trace_note=synthetic stand-in for the seed's traces: 45%% ACK-sized, 15%% 100-1000 B, 40%% 1500 B "
	       "(mean %.0f B of IPv4), header-only\n",
	       avg);
	long ncpu = sysconf(_SC_NPROCESSORS_ONLN);
	int most = ncpu < 1 ? 1 : ncpu > 4 ? 4 : (int)ncpu;
	for (int n = 1; n <= most; n++) {
		double sum[RUNS], wall[RUNS];
		int runs = quick ? 1 : 3;
		for (int r = 0; r < runs; r++) {
			struct core_run cr[4];
			pthread_t th[4];
			for (int t = 0; t < n; t++) {
				cr[t] = (struct core_run){.k = k, .count = pkts};
				if (pthread_create(&th[t], NULL, core_main, &cr[t]) != 0)
					return -1;
			}
			double bits = 0, start = 0, stop = 0;
			sum[r] = 0;
			for (int t = 0; t < n; t++) {
				pthread_join(th[t], NULL);
				if (cr[t].gbps < 0)
					return -1;
				sum[r] += cr[t].gbps;
				start = t == 0 || cr[t].start < start ? cr[t].start : start;
				stop = cr[t].stop > stop ? cr[t].stop : stop;
			}
			for (int i = 0; i < pkts; i++)
				bits += (double)trace_len[i % TRACE_N] * 8;
			/* from the first thread's timed start to the last one's end */
			wall[r] = bits * n / (stop - start);
		}
		printf("gw_gbps_cores_%d=%.2f\ngw_gbps_cores_%d_wall=%.2f\n", n, median(sum, runs), n,
		       median(wall, runs));
	}
	printf("seed_gw_gbps_cores_4=9.7\n");
	return 0;
}

int main(int argc, char **argv)
{
	static const char usage[] = "usage: embark-bench [--quick]   (--quick: rule sets up to 10,000, fewer runs)\n";
	if (e2_opt_asks_help(argc, argv)) {
		fputs(usage, stdout);
		return 0;
	}
	if (argc > 2 || (argc == 2 && strcmp(argv[1], "--quick") != 0)) {
		fprintf(stderr, "embark-bench: unexpected argument '%s'\n%s", argv[argc > 2 ? 2 : 1], usage);
		return 2;
	}
	bool quick = argc > 1;
	embark_keys *k = bench_keys();
	char err[256];
	double aes = ref_aes_ns();
	printf("ref_aes_ns=%.1f\n", aes);
	printf("ref_aes_throughput_ns_per_block=%.2f\n", ref_aes_throughput_ns());
	static const size_t counts[] = {0, 1000, 10000, 100000};
	enum { NV = 4096, NP = 1024 };
	embark_u128 *vals = malloc(NV * sizeof *vals);
	for (int i = 0; i < NV; i++)
		vals[i] = embark_v4mapped((uint32_t)rnd());
	for (size_t c = 0; c < 4; c++) {
		size_t n = counts[c];
		if (quick && n > 10000)
			continue;
		embark_ruleset rs;
		random_rules(&rs, n);
		embark_config cfg;
		embark_config_default(&cfg);
		cfg.encrypt_payload = false; /* header-only, as in seed Fig. 4.7 */
		embark_gw *gw = embark_gw_new(k, &rs, NULL, &cfg, err, sizeof err);
		if (!gw) {
			fprintf(stderr, "embark-bench: %s\n", err);
			return 1;
		}
		const embark_pm *ap = embark_gw_addr_pm(gw), *pp = embark_gw_port_pm(gw);
		uint8_t seed[16] = {7};
		double v[RUNS];
		int iters = 100000;
		for (int r = 0; r < RUNS; r++) {
			double t0 = now_ns();
			embark_u128 acc = 0;
			for (int i = 0; i < iters; i++)
				acc ^= embark_encrypt_addr(gw, seed, vals[i & (NV - 1)]);
			v[r] = (now_ns() - t0) / iters;
			sink += (uint64_t)acc;
		}
		double pm_ns = median(v, RUNS);
		printf("pm_encrypt_ns_%zu=%.1f\n", n, pm_ns);
		printf("pm_encrypt_per_aes_%zu=%.2f\n", n, pm_ns / aes);
		printf("pm_memory_mb_%zu=%.3f\n", n, (double)(embark_pm_memory(ap) + embark_pm_memory(pp)) / 1e6);
		printf("pm_intervals_%zu=%zu\npm_prefix_len_%zu=%d\n", n, embark_pm_intervals(ap), n,
		       embark_pm_prefix_len(ap));

		/* header-only transform of 64-byte TCP packets over many flows */
		static uint8_t pk[NP][128];
		static size_t pl[NP];
		for (int i = 0; i < NP; i++)
			pl[i] = tcp_packet(pk[i], (uint32_t)rnd(), (uint32_t)rnd(), (uint16_t)rnd(), (uint16_t)rnd(),
					   24);
		static uint8_t *pkp[NP], enc[NP][256], *encp[NP];
		static size_t encl[NP];
		int pkts = 102400;
		size_t failed = 0;
		double ratio[RUNS];
		for (int i = 0; i < NP; i++) {
			pkp[i] = pk[i];
			encp[i] = enc[i];
		}
		for (int r = 0; r < RUNS; r++) {
			double ns, ref;
			timed_bursts(gw, embark_encrypt_burst, pkp, pl, NP, pkts, &ns, &ref, &failed);
			v[r] = 1e3 / ns; /* packets per microsecond = Mpps */
			ratio[r] = ns / ref;
		}
		if (failed) {
			fprintf(stderr, "embark-bench: a packet of the transform workload did not encrypt\n");
			return 1;
		}
		double mpps = median(v, RUNS);
		printf("transform_mpps_%zu=%.2f\n", n, mpps);
		if (n == 0 || n == 10000)
			printf("seed_transform_mpps_%zu=%s\n", n, n == 0 ? "3.0" : "1.5");
		printf("transform_ns_per_pkt_per_aes_%zu=%.1f\n", n, median(ratio, RUNS));
		for (int i = 0; i < NP; i++)
			if (embark_encrypt_packet(gw, pk[i], pl[i], enc[i], sizeof enc[i], &encl[i]) != EMBARK_OK)
				failed++;
		if (n == 0) {
			/* bytes the transform adds to the benchmark's 64-byte packet (20-byte IPv4
			 * header, 20-byte TCP header, 24 bytes of payload) */
			printf("bytes_overhead_per_pkt=%zu\nseed_bytes_overhead_per_pkt=20\n", encl[0] - pl[0]);
		}
		if (n == 10000) {
			/* PrefixMatch decryption: what the gateway does to get a packet's original
			 * values back (authenticate and decrypt the option, rebuild the IPv4 header,
			 * re-encrypt the 5-tuple to see what the cloud rewrote), per packet */
			for (int r = 0; r < RUNS; r++) {
				double ns, ref;
				timed_bursts(gw, embark_decrypt_burst, encp, encl, NP, pkts, &ns, &ref, &failed);
				v[r] = ns;
				ratio[r] = ns / ref;
			}
			if (failed) {
				fprintf(stderr, "embark-bench: a packet of the decrypt workload did not decrypt\n");
				return 1;
			}
			printf("pm_decrypt_ns=%.1f\nseed_pm_decrypt_ns=128\n", median(v, RUNS));
			printf("pm_decrypt_per_aes=%.2f\n", median(ratio, RUNS));
		}
		embark_gw_free(gw);
		embark_ruleset_free(&rs);
	}

	/* KeywordMatch: window tokenisation + encryption of a byte stream */
	{
		enum { LEN = 1 << 16 };
		uint8_t *text = malloc(LEN);
		for (int i = 0; i < LEN; i++)
			text[i] = (uint8_t)('a' + rnd() % 26);
		embark_token_ct *ct = malloc((LEN + 8) * sizeof *ct);
		uint64_t *off = malloc((LEN + 8) * sizeof *off);
		double v[RUNS];
		for (int r = 0; r < RUNS; r++) {
			embark_km_sender *s = embark_km_sender_new(k, EMBARK_TOKENS_WINDOW, 1 << 20);
			double t0 = now_ns();
			size_t got = 0;
			for (int i = 0; i < LEN; i += 1460)
				got += embark_km_encrypt(s, text + i, LEN - i < 1460 ? (size_t)(LEN - i) : 1460, ct,
							 off, LEN + 8);
			v[r] = (now_ns() - t0) / LEN;
			sink += got;
			embark_km_sender_free(s);
		}
		double km = median(v, RUNS);
		printf("km_encrypt_ns_per_byte=%.1f\nkm_encrypt_per_aes=%.2f\n", km, km / aes);

		static const size_t rule_counts[] = {100, 1000, 10000};
		embark_km_sender *s = embark_km_sender_new(k, EMBARK_TOKENS_WINDOW, 1 << 20);
		size_t ntok = embark_km_encrypt(s, text, LEN, ct, off, LEN + 8);
		for (size_t c = 0; c < 3; c++) {
			size_t nr = rule_counts[c];
			char **kw = malloc(nr * sizeof *kw);
			size_t *kl = malloc(nr * sizeof *kl);
			for (size_t i = 0; i < nr; i++) {
				kl[i] = 8 + rnd() % 17;
				kw[i] = malloc(kl[i]);
				for (size_t j = 0; j < kl[i]; j++)
					kw[i][j] = (char)('a' + rnd() % 26);
			}
			embark_kw_rules rules;
			embark_kw_rules_encrypt(k, kw, kl, nr, &rules);
			double vr[RUNS];
			for (int r = 0; r < RUNS; r++) {
				embark_km_matcher *m = embark_km_matcher_new(&rules, embark_km_salt0(s));
				embark_km_hit hits[64];
				double t0 = now_ns();
				for (size_t i = 0, fed; i < ntok; i += fed)
					sink += embark_km_match_run(m, ct + i, off + i, ntok - i, hits, 64, &fed);
				v[r] = (now_ns() - t0) / (double)ntok;
				/* a salt reset recomputes every distinct piece's next token */
				t0 = now_ns();
				for (int i = 0; i < 10; i++)
					embark_km_matcher_reset(m, embark_km_salt0(s) + (uint64_t)i);
				vr[r] = (now_ns() - t0) / 10 / (double)rules.n;
				embark_km_matcher_free(m);
			}
			printf("km_match_ns_per_token_%zu=%.1f\n", nr, median(v, RUNS));
			printf("km_reset_ns_per_piece_%zu=%.1f\n", nr, median(vr, RUNS));
			embark_kw_rules_free(&rules);
			for (size_t i = 0; i < nr; i++)
				free(kw[i]);
			free(kw);
			free(kl);
		}
		embark_km_sender_free(s);
		free(text);
		free(ct);
		free(off);
	}

	/* A firewall over plaintext IPv4 vs over Embark IPv6: same parser, same classifier. */
	{
		embark_ruleset rs, enc;
		const char *ex = getenv("EMBARK_BENCH_RULES");
		if (!ex || embark_rules_load(ex, &rs, err, sizeof err))
			random_rules(&rs, 100);
		embark_gw *gw = embark_gw_new(k, &rs, NULL, NULL, err, sizeof err);
		if (!gw || embark_rules_encrypt(gw, &rs, &enc, err, sizeof err)) {
			fprintf(stderr, "embark-bench: %s\n", err);
			return 1;
		}
		embark_classifier *cp = embark_classifier_new(&rs), *ce = embark_classifier_new(&enc);
		static uint8_t plain[NP][128], encp[NP][512];
		static size_t pn[NP], en[NP];
		for (int i = 0; i < NP; i++) {
			/* destinations drawn from the rules so that matches are spread over the rule set */
			const embark_rule *r = &rs.v[rnd() % rs.n];
			uint32_t src = (uint32_t)(r->src.lo + (rnd() % (uint64_t)(r->src.hi - r->src.lo + 1)));
			pn[i] = tcp_packet(
				plain[i], rnd() % 2 ? src : (uint32_t)rnd(), (uint32_t)rnd(), (uint16_t)rnd(),
				(uint16_t)(r->dport.lo + rnd() % (uint64_t)(r->dport.hi - r->dport.lo + 1)), 24);
			if (embark_encrypt_packet(gw, plain[i], pn[i], encp[i], sizeof encp[i], &en[i]) != 0) {
				fprintf(stderr, "embark-bench: packet %d of the workload did not encrypt\n", i);
				return 1;
			}
		}
		double vp[RUNS], ve[RUNS];
		int pkts = quick ? 30000 : 100000;
		for (int r = 0; r < RUNS; r++) {
			embark_key5 key;
			double t0 = now_ns();
			for (int i = 0; i < pkts; i++) {
				embark_packet_key(plain[i & (NP - 1)], pn[i & (NP - 1)], &key);
				sink += (uintptr_t)embark_classify(cp, &key);
			}
			vp[r] = pkts / ((now_ns() - t0) / 1e3);
			t0 = now_ns();
			for (int i = 0; i < pkts; i++) {
				embark_packet_key(encp[i & (NP - 1)], en[i & (NP - 1)], &key);
				sink += (uintptr_t)embark_classify(ce, &key);
			}
			ve[r] = pkts / ((now_ns() - t0) / 1e3);
		}
		double p = median(vp, RUNS), e = median(ve, RUNS);
		printf("classify_rules=%zu\nclassify_enc_rules=%zu\n", rs.n, enc.n);
		printf("classify_plain_mpps=%.2f\nclassify_enc_mpps=%.2f\nclassify_enc_vs_plain=%.2f\n", p, e, e / p);
		embark_classifier_free(cp);
		embark_classifier_free(ce);
		embark_ruleset_free(&enc);
		embark_ruleset_free(&rs);
		embark_gw_free(gw);
	}
	if (gw_path(k, quick) != 0 || gw_trace(k, quick) != 0 || gw_dpi(k, quick) != 0)
		return 1;
	free(vals);
	embark_keys_free(k);
	return 0;
}
