/* SPDX-License-Identifier: BSD-3-Clause */
/* libe2nf's runtime: the handshake with e2d, attaching to its memory as a DPDK
 * secondary, and the run-to-completion loop. */
#include <errno.h>
#include <poll.h>
#include <sched.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/un.h>
#include <time.h>
#include <unistd.h>

#include <rte_cycles.h>
#include <rte_eal.h>
#include <rte_errno.h>
#include <rte_lcore.h>
#include <rte_log.h>
#include <rte_mbuf.h>
#include <rte_mempool.h>
#include <rte_ring.h>

#include <pcap/pcap.h>

#include "e2/nf.h"
#include "e2/num.h"
#include "ethdev.h"

#define MSG_MAX 512
#define LOAD_REPORT_MS 500
#define OFFLINE_FRAME_MAX (UINT16_MAX - RTE_PKTMBUF_HEADROOM) /* an mbuf's data room is 16 bits */

struct nf_port {
	char path[108];
	int fd;
	struct rte_ring *to_nf, *from_nf;
	struct rte_mbuf *out[E2NF_BURST];
	unsigned n_out;
};

struct e2nf {
	char name[64];
	struct e2nf_config cfg;
	unsigned n_ports;
	struct nf_port ports[E2NF_PORTS_MAX];
	struct rte_mempool *pool;
	struct rte_mempool *jumbo_pool; /* offline: frames longer than a pool buffer */
	int ctl_fd;                     /* listening; -1: none */
	bool eal_up;
	volatile bool stop;
	int explicit_load; /* per mille, -1: measured */
	const struct e2nf_ops *ops;
	void *state;
	struct e2nf_counters c;
	/* offline (tests): pcap files instead of e2d */
	bool offline;
	pcap_t *dead;
	pcap_dumper_t *dump[E2NF_PORTS_MAX];
	uint64_t offline_now_ns;
	uint64_t offline_io_cycles; /* writing pcaps: not the NF's work */
	struct e2nf_ethdev *eth;    /* ethdev mode: DPDK NICs instead of e2d's rings */
};

static volatile sig_atomic_t signalled;

static void on_signal(int sig)
{
	(void)sig;
	signalled = 1;
}

/* "key=value" from a welcome message */
static int field(const char *msg, const char *key, char *out, size_t len)
{
	size_t klen = strlen(key);
	for (const char *p = msg; (p = strstr(p, key)); p += klen)
		if ((p == msg || p[-1] == ' ') && p[klen] == '=') {
			size_t n = strcspn(p + klen + 1, " \n");
			if (n >= len)
				return -1;
			memcpy(out, p + klen + 1, n);
			out[n] = '\0';
			return 0;
		}
	return -1;
}

/* The handshake on one port: hello, then welcome (or refused, with e2d's reason). */
static int greet(struct e2nf *nf, struct nf_port *p, char *welcome, struct e2_err *err)
{
	struct sockaddr_un a = {.sun_family = AF_UNIX};
	char msg[MSG_MAX];
	struct timeval tv = {.tv_sec = 5};

	if (strlen(p->path) >= sizeof(a.sun_path)) {
		e2_seterr(err, "port socket %s: path too long", p->path);
		return -1;
	}
	snprintf(a.sun_path, sizeof(a.sun_path), "%s", p->path);
	p->fd = socket(AF_UNIX, SOCK_SEQPACKET | SOCK_CLOEXEC, 0);
	if (p->fd < 0 || connect(p->fd, (struct sockaddr *)&a, sizeof(a)) != 0) {
		e2_seterr(err, "cannot connect to e2d's nf port at %s: %s (is the port added, e2d running?)", p->path,
			  strerror(errno));
		return -1;
	}
	setsockopt(p->fd, SOL_SOCKET, SO_RCVTIMEO, &tv, sizeof(tv));
	int n = snprintf(msg, sizeof(msg), "hello version=%d name=%s pid=%d", E2NF_API_VERSION, nf->name,
			 (int)getpid());
	if (send(p->fd, msg, (size_t)n, MSG_NOSIGNAL) != n) {
		e2_seterr(err, "%s: cannot send the handshake: %s", p->path, strerror(errno));
		return -1;
	}
	ssize_t got = recv(p->fd, welcome, MSG_MAX - 1, 0);
	if (got <= 0) {
		e2_seterr(err, "%s: e2d did not answer the handshake", p->path);
		return -1;
	}
	welcome[got] = '\0';
	if (strncmp(welcome, "welcome ", 8) != 0) {
		const char *why = strstr(welcome, "reason=");
		e2_seterr(err, "%s: e2d refused: %.300s", p->path, why ? why + 7 : welcome);
		return -1;
	}
	char v[16] = "?";
	int version = -1;
	if (field(welcome, "version", v, sizeof(v)) != 0 || e2_num_int("version", v, 0, 1 << 20, &version, NULL) != 0 ||
	    version != E2NF_API_VERSION) {
		e2_seterr(err, "%s: e2d answered with NF API version %s, this NF speaks %d", p->path, v,
			  E2NF_API_VERSION);
		return -1;
	}
	tv.tv_sec = 0;
	setsockopt(p->fd, SOL_SOCKET, SO_RCVTIMEO, &tv, sizeof(tv));
	return 0;
}

static int start_eal(struct e2nf *nf, const char *welcome, struct e2_err *err)
{
	char prefix[128], lcore[16], lcores[64], loglevel[64];
	char *argv[16];
	int argc = 0;
	cpu_set_t allowed;

	if (field(welcome, "prefix", prefix, sizeof(prefix)) || field(welcome, "lcore", lcore, sizeof(lcore))) {
		e2_seterr(err, "e2d's welcome lacks prefix= or lcore=: %.200s", welcome);
		return -1;
	}
	if (nf->cfg.cpu >= 0) {
		snprintf(lcores, sizeof(lcores), "%s@%d", lcore, nf->cfg.cpu);
	} else {
		int lo = -1, hi = -1;
		sched_getaffinity(0, sizeof(allowed), &allowed);
		for (int c = 0; c < CPU_SETSIZE; c++)
			if (CPU_ISSET(c, &allowed)) {
				lo = lo < 0 ? c : lo;
				hi = c;
			}
		snprintf(lcores, sizeof(lcores), "%s@(%d-%d)", lcore, lo, hi);
	}
	snprintf(loglevel, sizeof(loglevel), "%s", nf->cfg.dpdk_log_level ? nf->cfg.dpdk_log_level : "error");
	argv[argc++] = nf->name;
	argv[argc++] = "--proc-type=secondary";
	argv[argc++] = "--file-prefix";
	argv[argc++] = prefix;
	argv[argc++] = "--lcores";
	argv[argc++] = lcores;
	argv[argc++] = "--no-pci";
	argv[argc++] = "--no-telemetry";
	argv[argc++] = "--log-level";
	argv[argc++] = loglevel;
	argv[argc] = NULL;
	if (rte_eal_init(argc, argv) < 0) {
		e2_seterr(err, "cannot attach to e2d's memory (DPDK prefix %s): %s", prefix, rte_strerror(rte_errno));
		return -1;
	}
	nf->eal_up = true;
	return 0;
}

static int find_rings(struct e2nf *nf, struct nf_port *p, const char *welcome, const char *prefix0, struct e2_err *err)
{
	char to[64], from[64], pool[64], prefix[128];

	if (field(welcome, "to_nf", to, sizeof(to)) || field(welcome, "from_nf", from, sizeof(from)) ||
	    field(welcome, "pool", pool, sizeof(pool)) || field(welcome, "prefix", prefix, sizeof(prefix))) {
		e2_seterr(err, "%s: e2d's welcome is incomplete: %.200s", p->path, welcome);
		return -1;
	}
	if (strcmp(prefix, prefix0) != 0) {
		e2_seterr(err, "%s belongs to another e2d (DPDK prefix %s, not %s)", p->path, prefix, prefix0);
		return -1;
	}
	p->to_nf = rte_ring_lookup(to);
	p->from_nf = rte_ring_lookup(from);
	if (!nf->pool)
		nf->pool = rte_mempool_lookup(pool);
	if (!p->to_nf || !p->from_nf || !nf->pool) {
		e2_seterr(err, "%s: e2d's rings %s/%s or pool %s are not in its memory", p->path, to, from, pool);
		return -1;
	}
	return 0;
}

static int open_ctl(struct e2nf *nf, struct e2_err *err)
{
	struct sockaddr_un a = {.sun_family = AF_UNIX};

	if (strlen(nf->cfg.ctl_path) >= sizeof(a.sun_path)) {
		e2_seterr(err, "control socket path %s is too long", nf->cfg.ctl_path);
		return -1;
	}
	snprintf(a.sun_path, sizeof(a.sun_path), "%s", nf->cfg.ctl_path);
	unlink(a.sun_path);
	nf->ctl_fd = socket(AF_UNIX, SOCK_SEQPACKET | SOCK_CLOEXEC | SOCK_NONBLOCK, 0);
	if (nf->ctl_fd < 0 || bind(nf->ctl_fd, (struct sockaddr *)&a, sizeof(a)) != 0 || listen(nf->ctl_fd, 4) != 0) {
		e2_seterr(err, "cannot listen on %s: %s", nf->cfg.ctl_path, strerror(errno));
		return -1;
	}
	return 0;
}

/* Offline: DPDK in ordinary memory in this process, a pool of our own, a pcap writer
 * per port. */
static int open_offline(struct e2nf *nf, struct e2_err *err)
{
	char prefix[64], mem[16] = "256";
	char *argv[] = {nf->name,      "--no-huge",      "-m",          mem,     "--no-pci",
			"--no-shconf", "--no-telemetry", "--log-level", "error", "--file-prefix",
			prefix,        "--lcores",       "0@(0-1023)",  NULL};
	snprintf(prefix, sizeof(prefix), "e2nf-offline-%d", (int)getpid());
	cpu_set_t allowed;
	static char lcores[32];
	int lo = -1, hi = -1;
	sched_getaffinity(0, sizeof(allowed), &allowed);
	for (int c = 0; c < CPU_SETSIZE; c++)
		if (CPU_ISSET(c, &allowed)) {
			lo = lo < 0 ? c : lo;
			hi = c;
		}
	snprintf(lcores, sizeof(lcores), "0@(%d-%d)", lo, hi);
	argv[12] = lcores;
	if (rte_eal_init(13, argv) < 0) {
		e2_seterr(err, "cannot start DPDK (offline): %s", rte_strerror(rte_errno));
		return -1;
	}
	nf->eal_up = true;
	nf->offline = true;
	nf->pool = rte_pktmbuf_pool_create("e2nf_offline", 8191, 256, 0, RTE_MBUF_DEFAULT_BUF_SIZE, 0);
	/* a capture can hold frames of up to 64 KiB (an extension record of a full segment's
	 * tokens is ~12 KB): they get whole buffers of their own, never a cut copy */
	nf->jumbo_pool =
		rte_pktmbuf_pool_create("e2nf_offline_jumbo", 255, 32, 0, RTE_PKTMBUF_HEADROOM + OFFLINE_FRAME_MAX, 0);
	nf->dead = pcap_open_dead(DLT_EN10MB, 65535);
	if (!nf->pool || !nf->jumbo_pool || !nf->dead) {
		e2_seterr(err, "offline: no memory for packet buffers");
		return -1;
	}
	for (unsigned i = 0; i < nf->n_ports; i++) {
		char path[4096];
		snprintf(path, sizeof(path), "%s/out%u.pcap", nf->cfg.offline_dir, i);
		nf->dump[i] = pcap_dump_open(nf->dead, path);
		if (!nf->dump[i]) {
			e2_seterr(err, "offline: cannot write %s: %s", path, pcap_geterr(nf->dead));
			return -1;
		}
	}
	return 0;
}

static int write_ready_file(struct e2nf *nf, struct e2_err *err)
{
	FILE *f = fopen(nf->cfg.ready_file, "w");
	bool ok = f && fprintf(f, "%d\n", (int)getpid()) > 0;
	if (f && fclose(f) != 0)
		ok = false;
	if (!ok)
		e2_seterr(err, "cannot write %s: %s", nf->cfg.ready_file, strerror(errno));
	return ok ? 0 : -1;
}

struct e2nf *e2nf_open(const struct e2nf_config *cfg, struct e2_err *err)
{
	struct e2nf *nf;
	char welcome[MSG_MAX], prefix0[128] = "";

	if (cfg->n_ports == 0 || cfg->n_ports > E2NF_PORTS_MAX) {
		e2_seterr(err, "an NF has 1..%d ports, not %u", E2NF_PORTS_MAX, cfg->n_ports);
		return NULL;
	}
	nf = calloc(1, sizeof(*nf));
	if (!nf) {
		e2_seterr(err, "out of memory");
		return NULL;
	}
	nf->cfg = *cfg;
	nf->ctl_fd = -1;
	nf->explicit_load = -1;
	snprintf(nf->name, sizeof(nf->name), "%s", cfg->name ? cfg->name : "nf");
	nf->n_ports = cfg->n_ports;
	for (unsigned i = 0; i < nf->n_ports; i++) {
		nf->ports[i].fd = -1;
		snprintf(nf->ports[i].path, sizeof(nf->ports[i].path), "%s", cfg->ports[i]);
	}
	if (cfg->offline_dir) {
		if (cfg->ethdev) {
			e2_seterr(err, "--offline and --ethdev exclude each other");
			goto fail;
		}
		if (open_offline(nf, err) != 0)
			goto fail;
		goto opened;
	}
	if (cfg->ethdev) {
		nf->eth = e2nf_ethdev_open(nf->name, cfg, &nf->pool, &nf->eal_up, err);
		if (!nf->eth)
			goto fail;
		goto opened;
	}
	for (unsigned i = 0; i < nf->n_ports; i++) {
		struct nf_port *p = &nf->ports[i];
		if (greet(nf, p, welcome, err) != 0)
			goto fail;
		if (i == 0) {
			field(welcome, "prefix", prefix0, sizeof(prefix0));
			if (start_eal(nf, welcome, err) != 0)
				goto fail;
		}
		if (find_rings(nf, p, welcome, prefix0, err) != 0)
			goto fail;
	}
opened:
	if (cfg->ctl_path && open_ctl(nf, err) != 0)
		goto fail;
	struct sigaction sa = {.sa_handler = on_signal};
	sigaction(SIGTERM, &sa, NULL);
	sigaction(SIGINT, &sa, NULL);
	signal(SIGPIPE, SIG_IGN);
	if (cfg->ready_file && write_ready_file(nf, err) != 0)
		goto fail;
	return nf;
fail:
	e2nf_close(nf);
	return NULL;
}

static void dump_out(struct e2nf *nf, struct nf_port *p)
{
	uint64_t t0 = rte_rdtsc();
	pcap_dumper_t *d = nf->dump[p - nf->ports];
	for (unsigned i = 0; i < p->n_out; i++) {
		uint8_t buf[RTE_MBUF_DEFAULT_BUF_SIZE * 8];
		struct rte_mbuf *m = p->out[i];
		uint32_t len = RTE_MIN(m->pkt_len, (uint32_t)sizeof(buf));
		const uint8_t *data = rte_pktmbuf_read(m, 0, len, buf);
		struct pcap_pkthdr h = {.caplen = len, .len = m->pkt_len};
		h.ts.tv_sec = (time_t)(nf->offline_now_ns / 1000000000u);
		h.ts.tv_usec = (suseconds_t)(nf->offline_now_ns % 1000000000u / 1000u);
		pcap_dump((u_char *)d, &h, data);
	}
	rte_pktmbuf_free_bulk(p->out, p->n_out);
	nf->c.tx_packets += p->n_out;
	p->n_out = 0;
	nf->offline_io_cycles += rte_rdtsc() - t0;
}

static void flush(struct e2nf *nf, struct nf_port *p)
{
	if (nf->offline) {
		dump_out(nf, p);
		return;
	}
	unsigned sent = nf->eth ? e2nf_ethdev_tx(nf->eth, (unsigned)(p - nf->ports), p->out, p->n_out)
				: rte_ring_sp_enqueue_burst(p->from_nf, (void *const *)p->out, p->n_out, NULL);
	if (unlikely(sent < p->n_out)) {
		/* e2d (or the NIC) is not keeping up: what does not fit is dropped here, counted */
		rte_pktmbuf_free_bulk(p->out + sent, p->n_out - sent);
		nf->c.tx_full += p->n_out - sent;
	}
	nf->c.tx_packets += sent;
	p->n_out = 0;
}

/* After a callback: what it sent leaves now, not with the next burst. */
static void flush_all(struct e2nf *nf)
{
	for (unsigned o = 0; o < nf->n_ports; o++)
		if (nf->ports[o].n_out)
			flush(nf, &nf->ports[o]);
}

void e2nf_send(struct e2nf *nf, unsigned port, struct rte_mbuf *m)
{
	struct nf_port *p = &nf->ports[port < nf->n_ports ? port : 0];
	if (unlikely(port >= nf->n_ports)) {
		e2nf_drop(nf, m);
		return;
	}
	p->out[p->n_out++] = m;
	if (p->n_out == E2NF_BURST)
		flush(nf, p);
}

void e2nf_drop(struct e2nf *nf, struct rte_mbuf *m)
{
	nf->c.drops++;
	rte_pktmbuf_free(m);
}

struct rte_mempool *e2nf_pool(const struct e2nf *nf)
{
	return nf->pool;
}

unsigned e2nf_n_ports(const struct e2nf *nf)
{
	return nf->n_ports;
}

const char *e2nf_name(const struct e2nf *nf)
{
	return nf->name;
}

void e2nf_report_load(struct e2nf *nf, double load)
{
	nf->explicit_load = load <= 0 ? 0 : load >= 1 ? 1000 : (int)(load * 1000);
}

uint64_t e2nf_io_cycles(const struct e2nf *nf)
{
	return nf->offline_io_cycles;
}

void e2nf_get_counters(const struct e2nf *nf, struct e2nf_counters *c)
{
	*c = nf->c;
}

void e2nf_format_counters(struct e2nf *nf, char *buf, size_t len)
{
	const struct e2nf_counters *c = &nf->c;
	int n = snprintf(buf, len,
			 "nf=%s\nrx_packets=%llu\nrx_bursts=%llu\ntx_packets=%llu\ntx_full=%llu\ndrops=%llu\n"
			 "polls=%llu\nsleeps=%llu\nbusy_share=%.3f\ncycles_per_packet=%.1f\ntsc_hz=%llu\n",
			 nf->name, (unsigned long long)c->rx_packets, (unsigned long long)c->rx_bursts,
			 (unsigned long long)c->tx_packets, (unsigned long long)c->tx_full,
			 (unsigned long long)c->drops, (unsigned long long)c->polls, (unsigned long long)c->sleeps,
			 c->cycles ? (double)c->busy_cycles / (double)c->cycles : 0.0,
			 c->rx_packets ? (double)c->busy_cycles / (double)c->rx_packets : 0.0,
			 (unsigned long long)(nf->eal_up ? rte_get_tsc_hz() : 0));
	if (n > 0 && (size_t)n < len && nf->ops && nf->ops->counters)
		nf->ops->counters(nf, nf->state, buf + n, len - (size_t)n);
}

/* The control socket: one client at a time, a line in, a reply out. */
static void serve_ctl(struct e2nf *nf)
{
	char line[MSG_MAX], reply[4096];
	int fd = accept4(nf->ctl_fd, NULL, NULL, SOCK_CLOEXEC);
	if (fd < 0)
		return;
	struct timeval tv = {.tv_sec = 1};
	setsockopt(fd, SOL_SOCKET, SO_RCVTIMEO, &tv, sizeof(tv));
	ssize_t n;
	while ((n = recv(fd, line, sizeof(line) - 1, 0)) > 0) {
		line[n] = '\0';
		line[strcspn(line, "\n")] = '\0';
		reply[0] = '\0';
		if (strcmp(line, "stats") == 0)
			e2nf_format_counters(nf, reply, sizeof(reply));
		else if (strcmp(line, "version") == 0)
			snprintf(reply, sizeof(reply), "api_version=%d\n", E2NF_API_VERSION);
		else if (!nf->ops->control || nf->ops->control(nf, nf->state, line, reply, sizeof(reply)) != 0) {
			if (!reply[0])
				snprintf(reply, sizeof(reply), "error: unknown command '%.100s' (stats, version)\n",
					 line);
		}
		send(fd, reply, strlen(reply) ? strlen(reply) : 1, MSG_NOSIGNAL);
	}
	close(fd);
}

/* Messages from e2d between bursts: `bye` (the port is going), or the socket closing
 * (e2d exited). Either ends the run; the rings are not touched again. */
static bool e2d_let_go(struct e2nf *nf)
{
	for (unsigned i = 0; i < nf->n_ports; i++) {
		char msg[MSG_MAX];
		ssize_t n = recv(nf->ports[i].fd, msg, sizeof(msg) - 1, MSG_DONTWAIT);
		if (n == 0 || (n < 0 && errno != EAGAIN && errno != EWOULDBLOCK && errno != EINTR))
			return true;
		if (n > 0 && strncmp(msg, "bye", 3) == 0)
			return true;
	}
	return false;
}

static void report_load(struct e2nf *nf, uint64_t busy, uint64_t total)
{
	char msg[64];
	int permille = nf->explicit_load >= 0 ? nf->explicit_load : total ? (int)(busy * 1000 / total) : 0;
	int n = snprintf(msg, sizeof(msg), "load permille=%d", permille);
	for (unsigned i = 0; i < nf->n_ports; i++)
		send(nf->ports[i].fd, msg, (size_t)n, MSG_NOSIGNAL | MSG_DONTWAIT);
}

static inline uint64_t now_ns(void)
{
	struct timespec ts;
	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (uint64_t)ts.tv_sec * 1000000000ull + (uint64_t)ts.tv_nsec;
}

/* The next line "SECONDS COMMAND" of an offline control script: its time in ns (cmd
 * filled), or UINT64_MAX at the end. */
static uint64_t next_command(FILE *script, char *cmd, size_t len)
{
	char line[MSG_MAX];
	double at;

	while (script && fgets(line, sizeof(line), script)) {
		size_t n = strcspn(line, " \t\n");
		if (!n || !line[n] || line[n] == '\n')
			continue;
		line[n] = '\0';
		if (e2_num_double("control time", line, 0, 1e9, &at, NULL) != 0)
			continue;
		const char *rest = line + n + 1;
		rest += strspn(rest, " \t");
		snprintf(cmd, len, "%s", rest);
		cmd[strcspn(cmd, "\n")] = '\0';
		return (uint64_t)(at * 1e9);
	}
	return UINT64_MAX;
}

/* Offline: frames from every port's pcap in timestamp order, bursts of consecutive
 * frames of one port, timers on the capture's clock. */
static int run_offline(struct e2nf *nf, const struct e2nf_ops *ops, void *state)
{
	pcap_t *in[E2NF_PORTS_MAX] = {0};
	struct pcap_pkthdr *hdr[E2NF_PORTS_MAX];
	const u_char *data[E2NF_PORTS_MAX];
	bool have[E2NF_PORTS_MAX] = {0};
	char errbuf[PCAP_ERRBUF_SIZE];
	uint64_t next_timer = 0, start = rte_rdtsc();
	int rc = 0;
	/* DIR/control: lines "SECONDS COMMAND", given to ops->control when the capture's
	 * clock reaches SECONDS; the replies go to DIR/control.out */
	char path[4096], reply[4096];
	snprintf(path, sizeof(path), "%s/control", nf->cfg.offline_dir);
	FILE *script = fopen(path, "r");
	snprintf(path, sizeof(path), "%s/control.out", nf->cfg.offline_dir);
	FILE *replies = script ? fopen(path, "w") : NULL;
	uint64_t next_cmd = UINT64_MAX;
	char cmd[MSG_MAX];
	next_cmd = next_command(script, cmd, sizeof(cmd));

	for (unsigned i = 0; i < nf->n_ports; i++) {
		in[i] = pcap_open_offline(nf->ports[i].path, errbuf);
		if (!in[i]) {
			fprintf(stderr, "%s: %s\n", nf->name, errbuf);
			rc = -1;
			goto out;
		}
		have[i] = pcap_next_ex(in[i], &hdr[i], &data[i]) == 1;
	}
	while (!nf->stop && !signalled) {
		int port = -1;
		uint64_t t = UINT64_MAX;
		for (unsigned i = 0; i < nf->n_ports; i++) {
			uint64_t ti = have[i] ? (uint64_t)hdr[i]->ts.tv_sec * 1000000000u +
							(uint64_t)hdr[i]->ts.tv_usec * 1000u
					      : 0;
			if (have[i] && ti < t) {
				t = ti;
				port = (int)i;
			}
		}
		if (port < 0)
			break;
		nf->offline_now_ns = t;
		while (next_cmd <= t) {
			reply[0] = '\0';
			if (!ops->control || ops->control(nf, state, cmd, reply, sizeof(reply)) != 0)
				fprintf(replies, "error: %s: %s\n", cmd, reply[0] ? reply : "refused");
			else
				fprintf(replies, "%s: %s", cmd, reply);
			next_cmd = next_command(script, cmd, sizeof(cmd));
		}
		if (nf->cfg.timer_ms && ops->timer && t >= next_timer) {
			if (next_timer)
				ops->timer(nf, state, t);
			next_timer = t + (uint64_t)nf->cfg.timer_ms * 1000000u;
		}
		struct rte_mbuf *pkts[E2NF_BURST];
		unsigned n = 0;
		/* a burst: this port's frames up to the next frame of another port */
		while (n < E2NF_BURST && have[port]) {
			uint32_t len = hdr[port]->caplen;
			struct rte_mempool *from = len <= rte_pktmbuf_data_room_size(nf->pool) - RTE_PKTMBUF_HEADROOM
							   ? nf->pool
							   : nf->jumbo_pool;
			struct rte_mbuf *m = len <= OFFLINE_FRAME_MAX ? rte_pktmbuf_alloc(from) : NULL;
			char *d = m ? rte_pktmbuf_append(m, (uint16_t)len) : NULL;
			if (!d) {
				fprintf(stderr, "%s: offline: frame of %u bytes does not fit a buffer (at most %u)\n",
					nf->name, len, OFFLINE_FRAME_MAX);
				rte_pktmbuf_free(m);
				rc = -1;
				goto out;
			}
			memcpy(d, data[port], len);
			pkts[n++] = m;
			have[port] = pcap_next_ex(in[port], &hdr[port], &data[port]) == 1;
			bool other_first = false;
			uint64_t tp = have[port] ? (uint64_t)hdr[port]->ts.tv_sec * 1000000000u +
							   (uint64_t)hdr[port]->ts.tv_usec * 1000u
						 : UINT64_MAX;
			for (unsigned i = 0; i < nf->n_ports; i++)
				if ((int)i != port && have[i] &&
				    (uint64_t)hdr[i]->ts.tv_sec * 1000000000u + (uint64_t)hdr[i]->ts.tv_usec * 1000u <
					    tp)
					other_first = true;
			/* and the burst ends where a timer falls due, so timers run on time */
			if (other_first || (nf->cfg.timer_ms && ops->timer && next_timer && tp >= next_timer) ||
			    tp >= next_cmd)
				break;
		}
		/* busy: the NF's callback, not reading or writing the captures */
		uint64_t t0 = rte_rdtsc(), io0 = nf->offline_io_cycles;
		nf->c.rx_packets += n;
		nf->c.rx_bursts++;
		ops->rx(nf, state, (unsigned)port, pkts, n);
		flush_all(nf);
		nf->c.busy_cycles += rte_rdtsc() - t0 - (nf->offline_io_cycles - io0);
	}
out:
	if (script)
		fclose(script);
	if (replies)
		fclose(replies);
	nf->c.cycles = rte_rdtsc() - start;
	for (unsigned i = 0; i < nf->n_ports; i++)
		if (in[i])
			pcap_close(in[i]);
	return rc;
}

uint64_t e2nf_now_ns(const struct e2nf *nf)
{
	return nf->offline ? nf->offline_now_ns : now_ns();
}

void e2nf_stop(struct e2nf *nf)
{
	nf->stop = true;
}

int e2nf_run(struct e2nf *nf, const struct e2nf_ops *ops, void *state)
{
	const uint64_t hz = rte_get_tsc_hz();
	const uint64_t housekeeping = hz / 1000; /* sockets and timers: once a millisecond */
	const uint64_t spin = hz / 1000000 * nf->cfg.idle_spin_us;
	const uint64_t timer_period = hz / 1000 * nf->cfg.timer_ms;
	uint64_t start = rte_rdtsc(), last_house = start, next_timer = start + timer_period;
	uint64_t idle_since = 0, last_report = start, busy_at_report = 0;
	unsigned sleep_us = 1;
	int rc = 0;

	nf->ops = ops;
	nf->state = state;
	if (nf->offline)
		return run_offline(nf, ops, state);
	while (!nf->stop && !signalled) {
		bool any = false;
		for (unsigned i = 0; i < nf->n_ports; i++) {
			struct rte_mbuf *pkts[E2NF_BURST];
			unsigned n = nf->eth ? e2nf_ethdev_rx(nf->eth, i, pkts, E2NF_BURST)
					     : rte_ring_sc_dequeue_burst(nf->ports[i].to_nf, (void **)pkts, E2NF_BURST,
									 NULL);
			nf->c.polls++;
			if (!n)
				continue;
			uint64_t t0 = rte_rdtsc();
			any = true;
			nf->c.rx_packets += n;
			nf->c.rx_bursts++;
			ops->rx(nf, state, i, pkts, n);
			flush_all(nf);
			nf->c.busy_cycles += rte_rdtsc() - t0;
		}
		uint64_t now = rte_rdtsc();
		if (any) {
			idle_since = 0;
			sleep_us = 1;
		} else if (!idle_since) {
			idle_since = now;
		} else if (now - idle_since >= spin) {
			/* idle: give the core back, longer each time up to max_sleep_us */
			struct timespec ts = {.tv_nsec = (long)sleep_us * 1000};
			nanosleep(&ts, NULL);
			nf->c.sleeps++;
			sleep_us = sleep_us * 2 > nf->cfg.max_sleep_us ? nf->cfg.max_sleep_us : sleep_us * 2;
			now = rte_rdtsc();
		}
		if (now - last_house < housekeeping)
			continue;
		last_house = now;
		if (timer_period && ops->timer && now >= next_timer) {
			uint64_t t0 = rte_rdtsc();
			ops->timer(nf, state, now_ns());
			flush_all(nf); /* what the timer sent (packets an NF held) */
			next_timer = now + timer_period;
			nf->c.busy_cycles += rte_rdtsc() - t0;
		}
		if (nf->ctl_fd >= 0)
			serve_ctl(nf);
		if (!nf->eth && e2d_let_go(nf)) {
			rc = 1;
			break;
		}
		if (!nf->eth && now - last_report >= hz / 1000 * LOAD_REPORT_MS) {
			report_load(nf, nf->c.busy_cycles - busy_at_report, now - last_report);
			busy_at_report = nf->c.busy_cycles;
			last_report = now;
		}
		nf->c.cycles = now - start;
	}
	nf->c.cycles = rte_rdtsc() - start;
	return rc;
}

void e2nf_close(struct e2nf *nf)
{
	if (!nf)
		return;
	/* Every buffer goes back first: once e2d hears from one port that the NF is gone, it
	 * flushes the NF's mempool cache, which the NF must no longer be touching. */
	for (unsigned i = 0; i < nf->n_ports; i++) {
		struct nf_port *p = &nf->ports[i];
		if (p->n_out)
			rte_pktmbuf_free_bulk(p->out, p->n_out);
		p->n_out = 0;
	}
	/* bye, then the socket closing: the rings are e2d's again */
	for (unsigned i = 0; i < nf->n_ports; i++)
		if (nf->ports[i].fd >= 0) {
			if (!nf->offline)
				send(nf->ports[i].fd, "bye", 3, MSG_NOSIGNAL | MSG_DONTWAIT);
			close(nf->ports[i].fd);
		}
	if (nf->ctl_fd >= 0) {
		close(nf->ctl_fd);
		unlink(nf->cfg.ctl_path);
	}
	for (unsigned i = 0; i < nf->n_ports; i++)
		if (nf->dump[i])
			pcap_dump_close(nf->dump[i]);
	if (nf->dead)
		pcap_close(nf->dead);
	if (nf->offline) {
		rte_mempool_free(nf->pool);
		rte_mempool_free(nf->jumbo_pool);
	}
	e2nf_ethdev_close(nf->eth);
	if (nf->cfg.ready_file)
		unlink(nf->cfg.ready_file);
	if (nf->eal_up) {
		/* offline or with NICs, DPDK's runtime directory is this process's own: it goes too */
		char dir[4096];
		snprintf(dir, sizeof(dir), "%s", rte_eal_get_runtime_dir());
		rte_eal_cleanup();
		if (nf->offline || nf->cfg.ethdev)
			rmdir(dir);
	}
	free(nf);
}
