/* SPDX-License-Identifier: BSD-3-Clause */
/* e2nf-lb: an L4 load balancer as a native NF. Port 0 faces the clients, port 1 the
 * backends. A new flow to the virtual address (VIP:port) goes to the backend that a
 * consistent-hash table (Maglev's: every backend owns about 1/N of a prime-sized table,
 * and a change of backends moves few entries) gives for its 5-tuple; the flow is then
 * remembered (rte_hash), so that adding or removing other backends never moves it.
 * The destination address is rewritten to the backend's (DNAT) and, on the replies,
 * the source back to the VIP. Backends are added and removed on the control socket. */
#include <arpa/inet.h>
#include <getopt.h>
#include <netinet/in.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <rte_ether.h>
#include <rte_hash.h>
#include <rte_ip.h>
#include <rte_jhash.h>
#include <rte_mbuf.h>

#include "e2/csum.h"
#include "e2/file.h"
#include "e2/nf.h"
#include "e2/lines.h"
#include "e2/num.h"

#define BACKENDS_MAX 64
#define TABLE_SIZE 65537 /* prime: every backend's permutation covers the table */
#define NAME_MAX_LEN 32

struct backend {
	char name[NAME_MAX_LEN];
	uint32_t ip; /* network order */
	bool alive;
	uint64_t new_flows, packets;
};

struct flow_key {
	uint32_t client_ip;
	uint16_t client_port;
	uint8_t proto;
	uint8_t pad;
};

struct flow {
	uint8_t backend;
	uint64_t last_seen;
};

struct lb {
	uint32_t vip;      /* network order */
	uint16_t vip_port; /* network order */
	uint8_t proto;
	double timeout_s;
	struct backend be[BACKENDS_MAX];
	unsigned n_be;
	uint8_t table[TABLE_SIZE];
	bool table_empty;
	struct rte_hash *flows;
	struct flow *flow_data;
	uint64_t to_backend, to_client, new_flows, flows_moved, expired, passed, no_backend, table_full, rebuilds;
};

/* Maglev's population: each backend walks its own permutation of the table (offset and
 * skip from its name) and takes the next free slot, in turns, until the table is full. */
static void rebuild(struct lb *lb)
{
	static uint32_t next[BACKENDS_MAX], offset[BACKENDS_MAX], skip[BACKENDS_MAX];
	static bool taken[TABLE_SIZE];
	unsigned alive = 0, filled = 0;

	memset(taken, 0, sizeof(taken));
	for (unsigned i = 0; i < lb->n_be; i++) {
		size_t len = strlen(lb->be[i].name);
		offset[i] = rte_jhash(lb->be[i].name, (uint32_t)len, 0x9e3779b9) % TABLE_SIZE;
		skip[i] = rte_jhash(lb->be[i].name, (uint32_t)len, 0x7f4a7c15) % (TABLE_SIZE - 1) + 1;
		next[i] = 0;
		alive += lb->be[i].alive;
	}
	lb->table_empty = alive == 0;
	lb->rebuilds++;
	if (!alive)
		return;
	while (filled < TABLE_SIZE)
		for (unsigned i = 0; i < lb->n_be && filled < TABLE_SIZE; i++) {
			if (!lb->be[i].alive)
				continue;
			uint32_t slot;
			do
				slot = (uint32_t)((offset[i] + (uint64_t)next[i]++ * skip[i]) % TABLE_SIZE);
			while (taken[slot]);
			taken[slot] = true;
			lb->table[slot] = (uint8_t)i;
			filled++;
		}
}

static int find_backend(const struct lb *lb, const char *name)
{
	for (unsigned i = 0; i < lb->n_be; i++)
		if (!strcmp(lb->be[i].name, name))
			return (int)i;
	return -1;
}

/* Adds (or revives) a backend; 0 or -1 with err. */
static int backend_add(struct lb *lb, const char *name, const char *addr, struct e2_err *err)
{
	struct in_addr a;
	if (strlen(name) >= NAME_MAX_LEN || !name[0]) {
		e2_seterr(err, "backend name '%.40s' must be 1..%d characters", name, NAME_MAX_LEN - 1);
		return -1;
	}
	if (inet_pton(AF_INET, addr, &a) != 1) {
		e2_seterr(err, "backend %s: '%.60s' is not an IPv4 address", name, addr);
		return -1;
	}
	int i = find_backend(lb, name);
	if (i >= 0 && lb->be[i].alive) {
		e2_seterr(err, "backend %s exists already", name);
		return -1;
	}
	if (i < 0) {
		if (lb->n_be == BACKENDS_MAX) {
			e2_seterr(err, "at most %d backends", BACKENDS_MAX);
			return -1;
		}
		i = (int)lb->n_be++;
	}
	lb->be[i] = (struct backend){.ip = a.s_addr, .alive = true};
	snprintf(lb->be[i].name, sizeof(lb->be[i].name), "%s", name);
	return 0;
}

static int parse_conf(const char *text, size_t len, const char *origin, struct lb *lb, struct e2_err *err)
{
	bool have_vip = false;

	lb->timeout_s = 300;
	struct e2_line_iter it;
	if (e2_line_iter_init(&it, text, len, origin, err))
		return -1;
	for (int more; (more = e2_line_iter_next(&it, 8, err)) != 0;) {
		if (more < 0)
			return -1;
		char **w = it.w;
		int n = it.n;
		unsigned lineno = it.lineno;

		if (!strcmp(w[0], "vip") && n == 4) {
			struct in_addr a;
			uint32_t port;
			if (inet_pton(AF_INET, w[1], &a) != 1) {
				e2_seterr(err, "%s:%u: '%.60s' is not an IPv4 address", origin, lineno, w[1]);
				return -1;
			}
			if (strcmp(w[2], "tcp") && strcmp(w[2], "udp")) {
				e2_seterr(err, "%s:%u: the VIP's protocol is tcp or udp, not '%.20s'", origin, lineno,
					  w[2]);
				return -1;
			}
			if (e2_num_u32("port", w[3], 1, 65535, &port, err)) {
				e2_err_context(err, "%s:%u", origin, lineno);
				return -1;
			}
			lb->vip = a.s_addr;
			lb->proto = w[2][0] == 't' ? IPPROTO_TCP : IPPROTO_UDP;
			lb->vip_port = rte_cpu_to_be_16((uint16_t)port);
			have_vip = true;
		} else if (!strcmp(w[0], "backend") && n == 3) {
			if (backend_add(lb, w[1], w[2], err)) {
				e2_err_context(err, "%s:%u", origin, lineno);
				return -1;
			}
		} else if (!strcmp(w[0], "timeout") && n == 2) {
			if (e2_num_duration("timeout", w[1], 1, 86400, &lb->timeout_s, err)) {
				e2_err_context(err, "%s:%u", origin, lineno);
				return -1;
			}
		} else {
			e2_seterr(err,
				  "%s:%u: expected 'vip ADDR tcp|udp PORT', 'backend NAME ADDR' or 'timeout SECONDS', "
				  "not '%.40s'%s",
				  origin, lineno, w[0], n > 1 ? " ..." : "");
			return -1;
		}
	}
	if (!have_vip) {
		e2_seterr(err, "%s: no 'vip ADDR tcp|udp PORT' line", origin);
		return -1;
	}
	return 0;
}

/* The frame's IPv4 header and L4 ports, if it is TCP/UDP of the VIP's protocol. */
static struct rte_ipv4_hdr *parse(struct lb *lb, struct rte_mbuf *m, uint16_t **ports, uint16_t **l4sum)
{
	int off = e2nf_inner_offset(m);
	if (off < 0 || m->nb_segs != 1 || (uint32_t)off + 14 + 20 > m->data_len)
		return NULL;
	uint8_t *d = rte_pktmbuf_mtod_offset(m, uint8_t *, off);
	if (((struct rte_ether_hdr *)d)->ether_type != rte_cpu_to_be_16(RTE_ETHER_TYPE_IPV4))
		return NULL;
	struct rte_ipv4_hdr *ip = (struct rte_ipv4_hdr *)(d + 14);
	unsigned ihl = (ip->version_ihl & 0xf) * 4u;
	unsigned l4len = lb->proto == IPPROTO_TCP ? 20 : 8;
	if (ip->next_proto_id != lb->proto || ihl < 20 || (uint32_t)off + 14 + ihl + l4len > m->data_len ||
	    (rte_be_to_cpu_16(ip->fragment_offset) & RTE_IPV4_HDR_OFFSET_MASK))
		return NULL;
	uint8_t *l4 = (uint8_t *)ip + ihl;
	*ports = (uint16_t *)l4;
	*l4sum = (uint16_t *)(l4 + (lb->proto == IPPROTO_TCP ? 16 : 6));
	if (lb->proto == IPPROTO_UDP && **l4sum == 0)
		*l4sum = NULL;
	return ip;
}

static void set_addr(struct rte_ipv4_hdr *ip, bool dst, uint32_t addr, uint16_t *l4sum)
{
	uint32_t old = dst ? ip->dst_addr : ip->src_addr;
	uint16_t sum = ip->hdr_checksum;
	e2_csum_replace32(&sum, old, addr);
	ip->hdr_checksum = sum;
	if (l4sum)
		e2_csum_replace32(l4sum, old, addr);
	if (dst)
		ip->dst_addr = addr;
	else
		ip->src_addr = addr;
}

static int pick(struct lb *lb, const struct rte_ipv4_hdr *ip, const uint16_t *ports, uint64_t now)
{
	struct flow_key k = {.client_ip = ip->src_addr, .client_port = ports[0], .proto = ip->next_proto_id};
	int pos = rte_hash_lookup(lb->flows, &k);
	if (pos >= 0) {
		struct flow *f = &lb->flow_data[pos];
		f->last_seen = now;
		if (lb->be[f->backend].alive)
			return f->backend;
		lb->flows_moved++; /* its backend is gone: the flow starts over on another */
	}
	if (lb->table_empty)
		return -1;
	uint32_t tuple[3] = {ip->src_addr, ip->dst_addr, (uint32_t)ports[0] << 16 | ports[1]};
	unsigned b = lb->table[rte_jhash_32b(tuple, 3, ip->next_proto_id) % TABLE_SIZE];
	if (pos < 0)
		pos = rte_hash_add_key(lb->flows, &k);
	if (pos >= 0)
		lb->flow_data[pos] = (struct flow){.backend = (uint8_t)b, .last_seen = now};
	else
		lb->table_full++; /* balanced all the same, but not kept on its backend */
	lb->new_flows++;
	lb->be[b].new_flows++;
	return (int)b;
}

static void lb_rx(struct e2nf *nf, void *state, unsigned port, struct rte_mbuf **pkts, unsigned n)
{
	struct lb *lb = state;
	uint64_t now = e2nf_now_ns(nf);

	for (unsigned i = 0; i < n; i++) {
		uint16_t *ports, *l4sum;
		struct rte_ipv4_hdr *ip = parse(lb, pkts[i], &ports, &l4sum);
		if (port == 0 && ip && ip->dst_addr == lb->vip && ports[1] == lb->vip_port) {
			int b = pick(lb, ip, ports, now);
			if (b < 0) {
				lb->no_backend++;
				e2nf_drop(nf, pkts[i]);
				continue;
			}
			lb->be[b].packets++;
			lb->to_backend++;
			set_addr(ip, true, lb->be[b].ip, l4sum);
		} else if (port == 1 && ip && ports[0] == lb->vip_port) {
			/* a reply from a backend (any backend ever configured) leaves as the VIP */
			bool from_backend = false;
			for (unsigned b = 0; b < lb->n_be && !from_backend; b++)
				from_backend = lb->be[b].ip == ip->src_addr;
			if (from_backend) {
				set_addr(ip, false, lb->vip, l4sum);
				lb->to_client++;
			} else {
				lb->passed++;
			}
		} else {
			lb->passed++;
		}
		e2nf_send(nf, port ^ 1, pkts[i]);
	}
}

static void lb_timer(struct e2nf *nf, void *state, uint64_t now)
{
	struct lb *lb = state;
	uint64_t idle = (uint64_t)(lb->timeout_s * 1e9);
	struct flow_key stale[256];
	unsigned n_stale;
	const void *key;
	void *data;

	(void)nf;
	do {
		uint32_t iter = 0;
		int32_t pos;
		n_stale = 0;
		while (n_stale < 256 && (pos = rte_hash_iterate(lb->flows, &key, &data, &iter)) >= 0)
			if (now - lb->flow_data[pos].last_seen > idle)
				memcpy(&stale[n_stale++], key, sizeof(stale[0]));
		for (unsigned i = 0; i < n_stale; i++)
			rte_hash_del_key(lb->flows, &stale[i]);
		lb->expired += n_stale;
	} while (n_stale == 256);
}

static int lb_control(struct e2nf *nf, void *state, const char *line, char *reply, size_t len)
{
	struct lb *lb = state;
	char cmd[16], name[64], addr[64];
	struct e2_err err;
	int n = sscanf(line, "backend %15s %63s %63s", cmd, name, addr);

	(void)nf;
	if (n == 3 && !strcmp(cmd, "add")) {
		if (backend_add(lb, name, addr, &err)) {
			snprintf(reply, len, "%s", err.msg);
			return -1;
		}
		rebuild(lb);
		snprintf(reply, len, "backend %s added\n", name);
		return 0;
	}
	if (n == 2 && !strcmp(cmd, "del")) {
		int i = find_backend(lb, name);
		if (i < 0 || !lb->be[i].alive) {
			snprintf(reply, len, "no backend %.60s", name);
			return -1;
		}
		lb->be[i].alive = false;
		rebuild(lb);
		snprintf(reply, len, "backend %s removed\n", name);
		return 0;
	}
	if (!strcmp(line, "backends")) {
		size_t off = 0;
		reply[0] = '\0';
		for (unsigned i = 0; i < lb->n_be && off < len; i++) {
			char a[INET_ADDRSTRLEN];
			inet_ntop(AF_INET, &lb->be[i].ip, a, sizeof(a));
			off += (size_t)snprintf(reply + off, len - off, "%s %s %s new_flows=%llu packets=%llu\n",
						lb->be[i].name, a, lb->be[i].alive ? "up" : "removed",
						(unsigned long long)lb->be[i].new_flows,
						(unsigned long long)lb->be[i].packets);
		}
		return 0;
	}
	snprintf(reply, len, "unknown command '%.60s' (backend add NAME ADDR, backend del NAME, backends)", line);
	return -1;
}

static void lb_counters(struct e2nf *nf, void *state, char *buf, size_t len)
{
	const struct lb *lb = state;
	(void)nf;
	int off = snprintf(
		buf, len,
		"to_backend=%llu\nto_client=%llu\nnew_flows=%llu\nflows=%d\nflows_moved=%llu\n"
		"flows_expired=%llu\npassed=%llu\nno_backend=%llu\nflow_table_full=%llu\ntable_rebuilds=%llu\n",
		(unsigned long long)lb->to_backend, (unsigned long long)lb->to_client,
		(unsigned long long)lb->new_flows, rte_hash_count(lb->flows), (unsigned long long)lb->flows_moved,
		(unsigned long long)lb->expired, (unsigned long long)lb->passed, (unsigned long long)lb->no_backend,
		(unsigned long long)lb->table_full, (unsigned long long)lb->rebuilds);
	for (unsigned i = 0; i < lb->n_be && off > 0 && (size_t)off < len; i++)
		off += snprintf(buf + off, len - (size_t)off, "backend_%s_new_flows=%llu\nbackend_%s_packets=%llu\n",
				lb->be[i].name, (unsigned long long)lb->be[i].new_flows, lb->be[i].name,
				(unsigned long long)lb->be[i].packets);
}

static void usage(FILE *f)
{
	fprintf(f,
		"NAME\n"
		"    e2nf-lb - L4 load balancer with consistent hashing and flow affinity, a native E2 NF\n"
		"SYNOPSIS\n"
		"    e2nf-lb --config FILE --port CLIENT_SOCK --port BACKEND_SOCK [options]\n"
		"    e2nf-lb --config FILE --check\n"
		"DESCRIPTION\n"
		"    A new TCP or UDP flow from port 0 to the VIP goes to the backend a Maglev table of\n"
		"    %d entries gives for its 5-tuple; the flow keeps that backend (whatever backends\n"
		"    come or go) until idle for the timeout, or until its backend is removed. Its\n"
		"    destination address becomes the backend's; replies from a backend's VIP port get\n"
		"    the VIP back as their source. Everything else passes between the ports unchanged.\n"
		"CONFIGURATION (one directive per line, # comments; errors say FILE:LINE)\n"
		"    vip A.B.C.D tcp|udp PORT        the virtual service (required)\n"
		"    backend NAME A.B.C.D            a backend (up to %d)\n"
		"    timeout SECONDS                 forget a flow idle this long (default 300)\n"
		"CONTROL (--ctl SOCK)\n"
		"    backend add NAME A.B.C.D   backend del NAME   backends   stats   version\n"
		"OPTIONS\n"
		"    --config FILE       the configuration (required)\n"
		"    --check             check the configuration and exit\n"
		"    --flows N           flow table size (default 65536)\n" E2NF_OPTIONS_HELP
		"    --help              this text\n"
		"COUNTERS (`stats` on --ctl, and at exit)\n"
		"    to_backend to_client new_flows flows flows_moved flows_expired passed no_backend\n"
		"    flow_table_full table_rebuilds backend_NAME_new_flows backend_NAME_packets, and\n"
		"    libe2nf's (rx_packets, cycles_per_packet, ...)\n",
		TABLE_SIZE, BACKENDS_MAX);
}

struct lb_args {
	struct e2nf_conf_args conf;
	uint32_t n_flows;
};

static int lb_option(int c, const char *arg, void *ctx, struct e2_err *err)
{
	struct lb_args *a = ctx;
	if (c == 'n')
		return e2_num_u32("--flows", arg, 64, 1u << 24, &a->n_flows, err) ? -1 : 1;
	return e2nf_conf_option(c, arg, &a->conf, err);
}

int main(int argc, char **argv)
{
	struct e2nf_config cfg = E2NF_CONFIG_INIT("lb");
	static const struct option own[] = {
		E2NF_CONF_OPTIONS, {"flows", required_argument, NULL, 'n'}, {NULL, 0, NULL, 0}};
	struct lb_args args = {.n_flows = 65536};
	struct e2_err err;
	int exit_now = e2nf_args(argc, argv, "e2nf-lb", &cfg, own, lb_option, &args, usage);
	if (exit_now >= 0)
		return exit_now;
	if (!args.conf.path) {
		fprintf(stderr, "e2nf-lb: needs --config FILE (see --help)\n");
		return 2;
	}
	const char *conf_path = args.conf.path;
	bool check = args.conf.check;
	uint32_t n_flows = args.n_flows;
	static struct lb lb;
	size_t len;
	char *text = e2nf_read_text("e2nf-lb", "configuration", conf_path, 1u << 20, &len);
	if (!text)
		return 2;
	int rc = parse_conf(text, len, conf_path, &lb, &err);
	free(text);
	if (rc != 0) {
		fprintf(stderr, "e2nf-lb: %s\n", err.msg);
		return 2;
	}
	if (check) {
		printf("%s: %u backends\n", conf_path, lb.n_be);
		return 0;
	}
	if (cfg.n_ports != 2) {
		fprintf(stderr, "e2nf-lb: needs two --port (clients, then backends)\n");
		return 2;
	}
	cfg.timer_ms = 1000;
	struct e2nf *nf = e2nf_open(&cfg, &err);
	if (!nf) {
		fprintf(stderr, "e2nf-lb: %s\n", err.msg);
		return 1;
	}
	/* in e2d's shared memory under the NF's name: a crashed instance's table is freed by
	 * the next one of the same name */
	char hname[RTE_HASH_NAMESIZE];
	snprintf(hname, sizeof(hname), "lb:%s", e2nf_name(nf));
	struct rte_hash *old = rte_hash_find_existing(hname);
	if (old)
		rte_hash_free(old);
	struct rte_hash_parameters hp = {.name = hname,
					 .entries = n_flows,
					 .key_len = sizeof(struct flow_key),
					 .hash_func = rte_jhash,
					 .socket_id = SOCKET_ID_ANY};
	lb.flows = rte_hash_create(&hp);
	lb.flow_data = calloc(n_flows + 1, sizeof(*lb.flow_data));
	if (!lb.flows || !lb.flow_data) {
		fprintf(stderr, "e2nf-lb: no memory for %u flows\n", n_flows);
		e2nf_close(nf);
		return 1;
	}
	rebuild(&lb);
	const struct e2nf_ops ops = {.rx = lb_rx, .timer = lb_timer, .control = lb_control, .counters = lb_counters};
	rc = e2nf_run(nf, &ops, &lb);
	char stats[8192];
	e2nf_format_counters(nf, stats, sizeof(stats));
	fputs(stats, stdout);
	fflush(stdout);
	rte_hash_free(lb.flows);
	e2nf_close(nf);
	free(lb.flow_data);
	return rc < 0 ? 1 : 0;
}
