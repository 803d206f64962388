/* SPDX-License-Identifier: BSD-3-Clause */
/* Helpers for e2d's tests: DPDK started without hugepages or PCI, a dataplane
 * with no workers (tests drive tasks themselves), packet builders, and a
 * "collect" module that keeps what it receives per input gate. */
#ifndef E2D_TEST_UTIL_H
#define E2D_TEST_UTIL_H

#include <rte_cycles.h>
#include <rte_eal.h>
#include <rte_ether.h>
#include <rte_ip.h>
#include <rte_udp.h>

#include <stdarg.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "ctl.h"
#include "dp.h"

#define COLLECT_MAX 4096

struct collect {
	uint32_t n[4];
	struct rte_mbuf *pkts[4][COLLECT_MAX];
};

static inline void collect_process(struct e2_ctx *ctx, struct e2_module *m, uint16_t igate, struct e2_batch *b)
{
	struct collect *c = e2_priv(m);
	for (uint16_t i = 0; i < b->cnt; i++) {
		if (c->n[igate] < COLLECT_MAX)
			c->pkts[igate][c->n[igate]++] = b->pkts[i];
		else
			rte_pktmbuf_free(b->pkts[i]);
	}
	b->cnt = 0;
}

static inline void collect_reset(struct e2_module *m)
{
	struct collect *c = e2_priv(m);
	for (int g = 0; g < 4; g++) {
		rte_pktmbuf_free_bulk(c->pkts[g], c->n[g]);
		c->n[g] = 0;
	}
}

static inline void collect_deinit(struct e2_module *m)
{
	collect_reset(m);
}

static const struct e2_module_class collect_class = {
	.name = "collect",
	.help = "test only: keeps packets per input gate",
	.igates = 4,
	.ogates = 0,
	.priv_size = sizeof(struct collect),
	.args = E2_ARGS_NONE,
	.process_batch = collect_process,
	.deinit = collect_deinit,
};
E2_MODULE_REGISTER(collect_class)

static inline int test_eal_init(const char *prefix)
{
	char pfx[64];
	snprintf(pfx, sizeof(pfx), "%s-%d", prefix, (int)getpid());
	char *argv[] = {
		"test",          "--no-huge", "-m",          "512",   "--no-pci", "--no-shconf", "--no-telemetry",
		"--file-prefix", pfx,         "--log-level", "error", "-l",       "0",           NULL};
	return rte_eal_init((int)(sizeof(argv) / sizeof(argv[0])) - 1, argv) < 0 ? -1 : 0;
}

/* An Ethernet/IPv4/UDP frame of `len` bytes. */
static inline struct rte_mbuf *make_udp(struct rte_mempool *pool, const char *dst_mac, uint32_t src_ip, uint32_t dst_ip,
					uint16_t sport, uint16_t dport, uint16_t len)
{
	struct rte_mbuf *m = rte_pktmbuf_alloc(pool);
	if (!m)
		return NULL;
	uint8_t *d = (uint8_t *)rte_pktmbuf_append(m, len);
	memset(d, 0, len);
	struct rte_ether_hdr *eth = (struct rte_ether_hdr *)d;
	struct rte_ipv4_hdr *ip = (struct rte_ipv4_hdr *)(eth + 1);
	struct rte_udp_hdr *udp = (struct rte_udp_hdr *)(ip + 1);
	rte_ether_unformat_addr(dst_mac, &eth->dst_addr);
	eth->ether_type = rte_cpu_to_be_16(RTE_ETHER_TYPE_IPV4);
	ip->version_ihl = 0x45;
	ip->total_length = rte_cpu_to_be_16((uint16_t)(len - sizeof(*eth)));
	ip->next_proto_id = IPPROTO_UDP;
	ip->src_addr = rte_cpu_to_be_32(src_ip);
	ip->dst_addr = rte_cpu_to_be_32(dst_ip);
	udp->src_port = rte_cpu_to_be_16(sport);
	udp->dst_port = rte_cpu_to_be_16(dport);
	return m;
}

/* Pushes a batch into module `name`'s input gate (push: gate 0) as a worker would. */
static inline void push_to(struct e2_dp *dp, const char *name, uint16_t igate, struct e2_batch *b)
{
	struct e2_module *m = e2_dp_module_find(dp, name);
	struct e2_ctx ctx = {.current = m, .ts = rte_rdtsc(), .measure = true};
	m->packets += b->cnt;
	m->measured_packets += b->cnt;
	m->batches++;
	m->cls->process_batch(&ctx, m, igate, b);
	e2_charge(&ctx, NULL);
}

static inline void push(struct e2_dp *dp, const char *name, struct e2_batch *b)
{
	push_to(dp, name, 0, b);
}

static inline struct collect *collected(struct e2_dp *dp, const char *name)
{
	return e2_priv(e2_dp_module_find(dp, name));
}

/* Moves what collect module `name` got on `gate` into b; false if it got more than a
 * batch (nothing is moved then). */
static inline bool collect_take(struct e2_dp *dp, const char *name, int gate, struct e2_batch *b)
{
	struct collect *c = collected(dp, name);
	if (c->n[gate] > E2_BATCH_MAX)
		return false;
	b->cnt = (uint16_t)c->n[gate];
	memcpy(b->pkts, c->pkts[gate], b->cnt * sizeof(b->pkts[0]));
	c->n[gate] = 0;
	return true;
}

/* Starts DPDK and a dataplane with no workers (tests drive tasks themselves). */
static inline int test_dp_start(struct e2_dp *dp, const char *prefix, unsigned mbufs)
{
	char err[E2_ERR_MAX];
	if (test_eal_init(prefix) != 0)
		return -1;
	if (e2_dp_init(dp, mbufs, err) != 0) {
		fprintf(stderr, "%s\n", err);
		return -1;
	}
	return 0;
}

static inline void test_dp_stop(struct e2_dp *dp)
{
	e2_dp_fini(dp);
	rte_eal_cleanup();
}

/* Removes every module, port and worker, leaving an empty dataplane; returns the
 * packet buffers still in use (0 unless something leaked). */
static inline unsigned test_dp_clear(struct e2_dp *dp)
{
	char err[E2_ERR_MAX];
	for (size_t i = 0; i < E2_MODULES_MAX; i++)
		if (dp->modules[i])
			e2_dp_module_destroy(dp, dp->modules[i]->name, err);
	for (size_t i = 0; i < E2_PORTS_MAX; i++)
		if (dp->ports[i])
			e2_dp_port_destroy(dp, dp->ports[i]->name, err);
	for (size_t i = 0; i < E2_WORKERS_MAX; i++) {
		e2_worker_stop(dp->workers[i]);
		dp->workers[i] = NULL;
	}
	return rte_mempool_in_use_count(dp->pool);
}

/* Deadline polls instead of sleep-then-assert: a shared, busy machine can stall any
 * thread for many milliseconds, so tests wait for a condition, never for a time.
 * WAIT_UNTIL evaluates `cond` every millisecond for up to `secs` seconds and is
 * true when it held. */
static inline double test_secs_since(uint64_t tsc0)
{
	return (double)(rte_rdtsc() - tsc0) / (double)rte_get_tsc_hz();
}
#define WAIT_UNTIL(cond, secs)                                                     \
	({                                                                         \
		uint64_t wait_t0_ = rte_rdtsc();                                   \
		bool wait_ok_;                                                     \
		while (!(wait_ok_ = (cond)) && test_secs_since(wait_t0_) < (secs)) \
			usleep(1000);                                              \
		wait_ok_;                                                          \
	})

/* Checks that need an outside tool (tcpdump, tshark). Without the tool a test still runs
 * its other checks, then marks itself skipped (cmocka's skip()), and main() returns
 * test_exit_status(), 77 when anything was skipped, which CTest reports as a skip
 * (SKIP_RETURN_CODE 77): a missing tool never passes silently. ci/setup installs them. */
static inline bool test_have_tool(const char *tool)
{
	char cmd[128];
	snprintf(cmd, sizeof(cmd), "command -v %s >/dev/null 2>&1", tool);
	return system(cmd) == 0;
}
static inline int *test_tool_skips(void)
{
	static int n;
	return &n;
}
/* Call last in a test (after its clean-up): skip() leaves the test at once. */
#define TEST_SKIP_WITHOUT(tool)                                                        \
	do {                                                                           \
		if (!test_have_tool(tool)) {                                           \
			print_message("%s not installed: its checks skipped\n", tool); \
			(*test_tool_skips())++;                                        \
			skip();                                                        \
		}                                                                      \
	} while (0)
static inline int test_exit_status(int failed)
{
	return failed ? failed : *test_tool_skips() ? 77 : 0;
}

/* Runs one control command in its text form against dp, as e2d would; returns the
 * response code (0 = accepted) and prints the error of a refusal. */
__attribute__((format(printf, 2, 3))) static inline int test_ctl(struct e2_dp *dp, const char *fmt, ...)
{
	char line[1024], err[512];
	va_list ap;
	va_start(ap, fmt);
	vsnprintf(line, sizeof(line), fmt, ap);
	va_end(ap);
	E2__Dp__Request *req = e2_cmd_parse(line, err, sizeof(err));
	if (!req) {
		fprintf(stderr, "  parse error: %s: %s\n", line, err);
		return -1;
	}
	E2__Dp__Response *r = e2_ctl_handle(dp, req, NULL);
	int code = r->code;
	if (code)
		fprintf(stderr, "  %s -> %s\n", line, r->error);
	e2__dp__response__free_unpacked(r, NULL);
	e2__dp__request__free_unpacked(req, NULL);
	return code;
}

#endif
