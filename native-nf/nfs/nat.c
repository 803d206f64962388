/* SPDX-License-Identifier: BSD-3-Clause */
/* e2nf-nat: source NAT (masquerading) as a native NF. Port 0 is the inside, port 1 the
 * outside. A TCP, UDP or ICMP echo flow from an inside host gets an external port of
 * its own (one mapping per inside address, port and protocol: endpoint-independent),
 * found again by an rte_hash on the way out and by the external port alone on the way
 * in; a mapping idle for its protocol's timeout is freed and its port reused. */
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

enum { P_TCP, P_UDP, P_ICMP, N_PROTOS };
static const char *const proto_names[N_PROTOS] = {"tcp", "udp", "icmp"};

struct nat_conf {
	uint32_t external; /* network order */
	uint32_t inside_net, inside_mask;
	uint16_t port_lo, port_hi;
	double timeout_s[N_PROTOS];
};

struct out_key {
	uint32_t ip;
	uint16_t port;
	uint8_t proto;
	uint8_t pad;
};

struct mapping {
	uint32_t ip;   /* inside address, network order */
	uint16_t port; /* inside port (or ICMP id), network order */
	bool used;
	uint64_t last_seen;
};

struct nat {
	struct nat_conf c;
	struct rte_hash *out;
	unsigned n_ports;
	struct mapping *maps[N_PROTOS]; /* by external port - port_lo */
	uint16_t *free_ports[N_PROTOS]; /* a stack of free offsets */
	unsigned n_free[N_PROTOS];
	uint64_t translated_out, translated_in, new_mappings, expired, exhausted, no_mapping, untranslatable,
		not_inside, non_ip;
};

/* --- configuration --- */

static int parse_conf(const char *text, size_t len, const char *origin, struct nat_conf *c, struct e2_err *err)
{
	bool have_external = false;

	*c = (struct nat_conf){.port_lo = 20000, .port_hi = 29999, .timeout_s = {300, 30, 30}};
	struct e2_line_iter it;
	if (e2_line_iter_init(&it, text, len, origin, err))
		return -1;
	for (int more; (more = e2_line_iter_next(&it, 8, err)) != 0;) {
		if (more < 0)
			return -1;
		char **w = it.w;
		int n = it.n;
		unsigned lineno = it.lineno;

		struct in_addr a;
		if (!strcmp(w[0], "external") && n == 2) {
			if (inet_pton(AF_INET, w[1], &a) != 1) {
				e2_seterr(err, "%s:%u: '%.60s' is not an IPv4 address", origin, lineno, w[1]);
				return -1;
			}
			c->external = a.s_addr;
			have_external = true;
		} else if (!strcmp(w[0], "inside") && n == 2) {
			char addr[64];
			const char *slash = strchr(w[1], '/');
			uint32_t plen = 32;
			snprintf(addr, sizeof(addr), "%.*s", slash ? (int)(slash - w[1]) : 63, w[1]);
			if (inet_pton(AF_INET, addr, &a) != 1 ||
			    (slash && e2_num_u32("prefix length", slash + 1, 0, 32, &plen, NULL) != 0)) {
				e2_seterr(err, "%s:%u: '%.60s' is not an IPv4 network (A.B.C.D/LEN)", origin, lineno,
					  w[1]);
				return -1;
			}
			c->inside_mask = htonl(plen ? ~0u << (32 - plen) : 0);
			c->inside_net = a.s_addr & c->inside_mask;
		} else if (!strcmp(w[0], "ports") && n == 2) {
			uint32_t lo, hi;
			char *dash = strchr(w[1], '-');
			if (!dash) {
				e2_seterr(err, "%s:%u: ports takes a range LO-HI", origin, lineno);
				return -1;
			}
			*dash = '\0';
			if (e2_num_u32("ports", w[1], 1024, 65535, &lo, err) ||
			    e2_num_u32("ports", dash + 1, 1024, 65535, &hi, err)) {
				e2_err_context(err, "%s:%u", origin, lineno);
				return -1;
			}
			if (lo > hi) {
				e2_seterr(err, "%s:%u: port range %u-%u is empty", origin, lineno, lo, hi);
				return -1;
			}
			c->port_lo = (uint16_t)lo;
			c->port_hi = (uint16_t)hi;
		} else if (!strcmp(w[0], "timeout") && n == 3) {
			int p = -1;
			for (int i = 0; i < N_PROTOS; i++)
				if (!strcmp(w[1], proto_names[i]))
					p = i;
			if (p < 0) {
				e2_seterr(err, "%s:%u: timeout is for tcp, udp or icmp, not '%.40s'", origin, lineno,
					  w[1]);
				return -1;
			}
			if (e2_num_duration("timeout", w[2], 1, 86400, &c->timeout_s[p], err)) {
				e2_err_context(err, "%s:%u", origin, lineno);
				return -1;
			}
		} else {
			e2_seterr(err,
				  "%s:%u: expected 'external ADDR', 'inside NET/LEN', 'ports LO-HI' or "
				  "'timeout tcp|udp|icmp SECONDS', not '%.40s'%s",
				  origin, lineno, w[0], n > 1 ? " ..." : "");
			return -1;
		}
	}
	if (!have_external) {
		e2_seterr(err, "%s: no 'external ADDR' line (the address inside hosts are translated to)", origin);
		return -1;
	}
	return 0;
}

struct view {
	struct rte_ipv4_hdr *ip;
	uint16_t *port;  /* the port (or ICMP id) NAT rewrites: source out, destination in */
	uint16_t *l4sum; /* NULL: a UDP datagram without checksum */
	bool l4_pseudo;  /* the L4 checksum covers the addresses (TCP, UDP) */
	int proto;
};

/* Finds what NAT rewrites in a frame; 1, 0 (not IPv4: passes), -1 (not translatable). */
static int view_of(struct rte_mbuf *m, bool outbound, struct view *v)
{
	int off = e2nf_inner_offset(m);
	if (off < 0 || m->nb_segs != 1 || (uint32_t)off + 14 + 20 > m->data_len)
		return -1;
	uint8_t *d = rte_pktmbuf_mtod_offset(m, uint8_t *, off);
	if (((struct rte_ether_hdr *)d)->ether_type != rte_cpu_to_be_16(RTE_ETHER_TYPE_IPV4))
		return 0;
	v->ip = (struct rte_ipv4_hdr *)(d + 14);
	unsigned ihl = (v->ip->version_ihl & 0xf) * 4u;
	uint8_t *l4 = (uint8_t *)v->ip + ihl;
	if (ihl < 20 || (uint32_t)off + 14 + ihl + 8 > m->data_len ||
	    (rte_be_to_cpu_16(v->ip->fragment_offset) & (RTE_IPV4_HDR_OFFSET_MASK | RTE_IPV4_HDR_MF_FLAG)))
		return -1; /* fragments are not translated */
	switch (v->ip->next_proto_id) {
	case IPPROTO_TCP:
		if ((uint32_t)off + 14 + ihl + 20 > m->data_len)
			return -1;
		v->proto = P_TCP;
		v->port = (uint16_t *)(l4 + (outbound ? 0 : 2));
		v->l4sum = (uint16_t *)(l4 + 16);
		v->l4_pseudo = true;
		return 1;
	case IPPROTO_UDP:
		v->proto = P_UDP;
		v->port = (uint16_t *)(l4 + (outbound ? 0 : 2));
		v->l4sum = *(uint16_t *)(l4 + 6) ? (uint16_t *)(l4 + 6) : NULL;
		v->l4_pseudo = true;
		return 1;
	case IPPROTO_ICMP:
		/* echo request out, echo reply in: the identifier plays the port */
		if (l4[0] != (outbound ? 8 : 0))
			return -1;
		v->proto = P_ICMP;
		v->port = (uint16_t *)(l4 + 4);
		v->l4sum = (uint16_t *)(l4 + 2);
		v->l4_pseudo = false;
		return 1;
	default: return -1;
	}
}

/* The IP header follows a 14-byte Ethernet header: its addresses are only 2-byte
 * aligned, so they are reached as members of the packed header, never by pointer. */
static void rewrite(struct view *v, bool dst, uint32_t new_addr, uint16_t new_port)
{
	uint32_t old_addr = dst ? v->ip->dst_addr : v->ip->src_addr;
	uint16_t old_port = *v->port;
	uint16_t sum = v->ip->hdr_checksum;
	e2_csum_replace32(&sum, old_addr, new_addr);
	v->ip->hdr_checksum = sum;
	if (dst)
		v->ip->dst_addr = new_addr;
	else
		v->ip->src_addr = new_addr;
	*v->port = new_port;
	if (v->l4sum) {
		if (v->l4_pseudo)
			e2_csum_replace32(v->l4sum, old_addr, new_addr);
		e2_csum_replace16(v->l4sum, old_port, new_port);
	}
}

/* known: the mapping's offset from a bulk lookup, or -1 to look (and allocate) here */
static int map_out(struct nat *nat, struct view *v, uint64_t now, int known)
{
	struct out_key k = {.ip = v->ip->src_addr, .port = *v->port, .proto = (uint8_t)v->proto};
	void *data;
	unsigned off;

	if (known >= 0) {
		off = (unsigned)known;
	} else if (rte_hash_lookup_data(nat->out, &k, &data) >= 0) {
		off = (unsigned)(uintptr_t)data; /* an earlier packet of this burst made it */
	} else {
		if (!nat->n_free[v->proto]) {
			nat->exhausted++;
			return -1;
		}
		off = nat->free_ports[v->proto][--nat->n_free[v->proto]];
		if (rte_hash_add_key_data(nat->out, &k, (void *)(uintptr_t)off) < 0) {
			nat->free_ports[v->proto][nat->n_free[v->proto]++] = (uint16_t)off;
			nat->exhausted++;
			return -1;
		}
		nat->maps[v->proto][off] = (struct mapping){.ip = k.ip, .port = k.port, .used = true};
		nat->new_mappings++;
	}
	nat->maps[v->proto][off].last_seen = now;
	rewrite(v, false, nat->c.external, rte_cpu_to_be_16((uint16_t)(nat->c.port_lo + off)));
	return 0;
}

static int map_in(struct nat *nat, struct view *v, uint64_t now)
{
	unsigned port = rte_be_to_cpu_16(*v->port);
	if (v->ip->dst_addr != nat->c.external || port < nat->c.port_lo || port > nat->c.port_hi)
		return -1;
	struct mapping *mp = &nat->maps[v->proto][port - nat->c.port_lo];
	if (!mp->used)
		return -1;
	mp->last_seen = now;
	rewrite(v, true, mp->ip, mp->port);
	return 0;
}

static void nat_rx(struct e2nf *nf, void *state, unsigned port, struct rte_mbuf **pkts, unsigned n)
{
	struct nat *nat = state;
	uint64_t now = e2nf_now_ns(nf);
	bool outbound = port == 0;
	struct view views[E2NF_BURST];
	int kind[E2NF_BURST];
	/* outbound: the burst's mappings are looked up at once */
	struct out_key keys[E2NF_BURST];
	const void *key_ptrs[E2NF_BURST];
	void *found[E2NF_BURST];
	unsigned which[E2NF_BURST], n_keys = 0;
	int known[E2NF_BURST];
	uint64_t hits = 0;

	for (unsigned i = 0; i < n; i++) {
		kind[i] = view_of(pkts[i], outbound, &views[i]);
		known[i] = -1;
		if (kind[i] == 1 && outbound && (views[i].ip->src_addr & nat->c.inside_mask) == nat->c.inside_net) {
			keys[n_keys] = (struct out_key){
				.ip = views[i].ip->src_addr, .port = *views[i].port, .proto = (uint8_t)views[i].proto};
			key_ptrs[n_keys] = &keys[n_keys];
			which[n_keys++] = i;
		}
	}
	if (n_keys)
		rte_hash_lookup_bulk_data(nat->out, key_ptrs, n_keys, &hits, found);
	for (unsigned j = 0; j < n_keys; j++)
		if (hits >> j & 1)
			known[which[j]] = (int)(uintptr_t)found[j];
	for (unsigned i = 0; i < n; i++) {
		struct view *v = &views[i];
		if (kind[i] == 0) {
			nat->non_ip++;
			e2nf_send(nf, port ^ 1, pkts[i]);
			continue;
		}
		if (kind[i] < 0) {
			nat->untranslatable++;
			e2nf_drop(nf, pkts[i]);
			continue;
		}
		if (outbound && (v->ip->src_addr & nat->c.inside_mask) != nat->c.inside_net) {
			nat->not_inside++;
			e2nf_drop(nf, pkts[i]);
			continue;
		}
		if (outbound ? map_out(nat, v, now, known[i]) : map_in(nat, v, now)) {
			if (!outbound)
				nat->no_mapping++;
			e2nf_drop(nf, pkts[i]);
			continue;
		}
		if (outbound)
			nat->translated_out++;
		else
			nat->translated_in++;
		e2nf_send(nf, port ^ 1, pkts[i]);
	}
}

static void nat_timer(struct e2nf *nf, void *state, uint64_t now)
{
	struct nat *nat = state;
	(void)nf;
	for (int p = 0; p < N_PROTOS; p++) {
		uint64_t idle = (uint64_t)(nat->c.timeout_s[p] * 1e9);
		for (unsigned off = 0; off < nat->n_ports; off++) {
			struct mapping *mp = &nat->maps[p][off];
			if (!mp->used || now - mp->last_seen <= idle)
				continue;
			struct out_key k = {.ip = mp->ip, .port = mp->port, .proto = (uint8_t)p};
			rte_hash_del_key(nat->out, &k);
			mp->used = false;
			nat->free_ports[p][nat->n_free[p]++] = (uint16_t)off;
			nat->expired++;
		}
	}
}

static void nat_counters(struct e2nf *nf, void *state, char *buf, size_t len)
{
	const struct nat *nat = state;
	(void)nf;
	snprintf(buf, len,
		 "translated_out=%llu\ntranslated_in=%llu\nnew_mappings=%llu\nmappings=%d\nmappings_expired=%llu\n"
		 "ports_exhausted=%llu\ninbound_no_mapping=%llu\nuntranslatable=%llu\nnot_inside=%llu\nnon_ip=%llu\n"
		 "free_ports_tcp=%u\nfree_ports_udp=%u\nfree_ports_icmp=%u\n",
		 (unsigned long long)nat->translated_out, (unsigned long long)nat->translated_in,
		 (unsigned long long)nat->new_mappings, rte_hash_count(nat->out), (unsigned long long)nat->expired,
		 (unsigned long long)nat->exhausted, (unsigned long long)nat->no_mapping,
		 (unsigned long long)nat->untranslatable, (unsigned long long)nat->not_inside,
		 (unsigned long long)nat->non_ip, nat->n_free[P_TCP], nat->n_free[P_UDP], nat->n_free[P_ICMP]);
}

static void usage(FILE *f)
{
	fprintf(f, "NAME\n"
		   "    e2nf-nat - source NAT (masquerading) for IPv4, a native E2 NF\n"
		   "SYNOPSIS\n"
		   "    e2nf-nat --config FILE --port INSIDE_SOCK --port OUTSIDE_SOCK [options]\n"
		   "    e2nf-nat --config FILE --check\n"
		   "DESCRIPTION\n"
		   "    TCP, UDP and ICMP echo from inside hosts (port 0) leave by port 1 from the external\n"
		   "    address and a port allocated to that inside address and port (the same for every\n"
		   "    destination); replies to it are translated back. Mappings idle longer than their\n"
		   "    protocol's timeout are freed. Fragments, other protocols and unsolicited inbound\n"
		   "    packets are dropped and counted; frames that are not IPv4 pass.\n"
		   "CONFIGURATION (one directive per line, # comments; errors say FILE:LINE)\n"
		   "    external A.B.C.D                the address inside hosts appear as (required)\n"
		   "    inside A.B.C.D/LEN              the inside sources to translate (default: any)\n"
		   "    ports LO-HI                     external ports, 1024-65535 (default 20000-29999)\n"
		   "    timeout tcp|udp|icmp SECONDS    idle time before a mapping is freed (300/30/30)\n"
		   "OPTIONS\n"
		   "    --config FILE       the configuration (required)\n"
		   "    --check             check the configuration and exit\n" E2NF_OPTIONS_HELP
		   "    --help              this text\n"
		   "COUNTERS (`stats` on --ctl, and at exit)\n"
		   "    translated_out translated_in new_mappings mappings mappings_expired ports_exhausted\n"
		   "    inbound_no_mapping untranslatable not_inside non_ip free_ports_{tcp,udp,icmp}, and\n"
		   "    libe2nf's (rx_packets, cycles_per_packet, ...)\n");
}

int main(int argc, char **argv)
{
	struct e2nf_config cfg = E2NF_CONFIG_INIT("nat");
	static const struct option own[] = {E2NF_CONF_OPTIONS, {NULL, 0, NULL, 0}};
	struct e2nf_conf_args args = {0};
	struct e2_err err;
	int exit_now = e2nf_args(argc, argv, "e2nf-nat", &cfg, own, e2nf_conf_option, &args, usage);
	if (exit_now >= 0)
		return exit_now;
	if (!args.path) {
		fprintf(stderr, "e2nf-nat: needs --config FILE (see --help)\n");
		return 2;
	}
	const char *conf_path = args.path;
	bool check = args.check;
	static struct nat nat;
	size_t len;
	char *text = e2nf_read_text("e2nf-nat", "configuration", conf_path, 1u << 20, &len);
	if (!text)
		return 2;
	int rc = parse_conf(text, len, conf_path, &nat.c, &err);
	free(text);
	if (rc != 0) {
		fprintf(stderr, "e2nf-nat: %s\n", err.msg);
		return 2;
	}
	nat.n_ports = nat.c.port_hi - nat.c.port_lo + 1u;
	if (check) {
		char ext[INET_ADDRSTRLEN];
		inet_ntop(AF_INET, &nat.c.external, ext, sizeof(ext));
		printf("%s: external %s, %u ports per protocol\n", conf_path, ext, nat.n_ports);
		return 0;
	}
	if (cfg.n_ports != 2) {
		fprintf(stderr, "e2nf-nat: needs two --port (inside, then outside)\n");
		return 2;
	}
	cfg.timer_ms = 1000;
	struct e2nf *nf = e2nf_open(&cfg, &err);
	if (!nf) {
		fprintf(stderr, "e2nf-nat: %s\n", err.msg);
		return 1;
	}
	/* in e2d's shared memory under the NF's name: a crashed instance's table is freed by
	 * the next one of the same name */
	char hname[RTE_HASH_NAMESIZE];
	snprintf(hname, sizeof(hname), "nat:%s", e2nf_name(nf));
	struct rte_hash *old = rte_hash_find_existing(hname);
	if (old)
		rte_hash_free(old);
	struct rte_hash_parameters hp = {.name = hname,
					 .entries = nat.n_ports * N_PROTOS,
					 .key_len = sizeof(struct out_key),
					 .hash_func = rte_jhash,
					 .socket_id = SOCKET_ID_ANY};
	nat.out = rte_hash_create(&hp);
	bool ok = nat.out != NULL;
	for (int p = 0; p < N_PROTOS && ok; p++) {
		nat.maps[p] = calloc(nat.n_ports, sizeof(struct mapping));
		nat.free_ports[p] = calloc(nat.n_ports, sizeof(uint16_t));
		ok = nat.maps[p] && nat.free_ports[p];
		/* the lowest port is handed out first */
		for (unsigned i = 0; ok && i < nat.n_ports; i++)
			nat.free_ports[p][i] = (uint16_t)(nat.n_ports - 1 - i);
		nat.n_free[p] = nat.n_ports;
	}
	if (!ok) {
		fprintf(stderr, "e2nf-nat: no memory for %u mappings\n", nat.n_ports * N_PROTOS);
		e2nf_close(nf);
		return 1;
	}
	const struct e2nf_ops ops = {.rx = nat_rx, .timer = nat_timer, .counters = nat_counters};
	rc = e2nf_run(nf, &ops, &nat);
	char stats[4096];
	e2nf_format_counters(nf, stats, sizeof(stats));
	fputs(stats, stdout);
	fflush(stdout);
	rte_hash_free(nat.out);
	e2nf_close(nf);
	for (int p = 0; p < N_PROTOS; p++) {
		free(nat.maps[p]);
		free(nat.free_ports[p]);
	}
	return rc < 0 ? 1 : 0;
}
