/* SPDX-License-Identifier: BSD-3-Clause */
/* e2nf-firewall: a stateful 5-tuple firewall as a native NF. New IPv4 flows are decided
 * by the first matching rule (DPDK rte_acl, a burst per lookup); the packets of an
 * allowed flow then pass both ways (connection tracking in an rte_hash) until the flow
 * has been idle for --idle-timeout. Frames from port 0 go out of port 1 and back.
 * The rule format is legacy-nf's (e2-firewall), IPv4 only. */
#include <arpa/inet.h>
#include <ctype.h>
#include <errno.h>
#include <getopt.h>
#include <netinet/in.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <rte_acl.h>
#include <rte_ether.h>
#include <rte_hash.h>
#include <rte_ip.h>
#include <rte_jhash.h>
#include <rte_mbuf.h>

#include "acl_rules.h"
#include "e2/file.h"
#include "e2/nf.h"
#include "e2/num.h"

/* --- connection tracking --- */

struct flow_key { /* the two ends in a fixed order, so both directions find it */
	uint32_t ip_lo, ip_hi;
	uint16_t port_lo, port_hi;
	uint8_t proto;
	uint8_t pad[3];
};

struct fw {
	struct fw_ruleset rs;
	struct rte_acl_ctx *acl;
	struct rte_hash *flows;
	uint64_t *last_seen; /* by the hash's position of the flow */
	uint64_t idle_ns;
	uint64_t allowed_new, allowed_tracked, dropped_rule, dropped_default, non_ip, malformed, table_full, expired;
	uint64_t *rule_hits;
};

static void flow_key_of(const struct fw_acl_key *k, struct flow_key *f)
{
	uint32_t s = k->src, d = k->dst;
	uint16_t sp = k->sport, dp = k->dport;
	memset(f, 0, sizeof(*f));
	f->proto = k->proto;
	if (s < d || (s == d && sp <= dp)) {
		f->ip_lo = s, f->port_lo = sp, f->ip_hi = d, f->port_hi = dp;
	} else {
		f->ip_lo = d, f->port_lo = dp, f->ip_hi = s, f->port_hi = sp;
	}
}

/* The IPv4 5-tuple of a frame: 1, 0 if not IPv4, -1 if truncated or malformed. */
static int key_of(const struct rte_mbuf *m, struct fw_acl_key *k)
{
	int off = e2nf_inner_offset(m);
	uint8_t buf[64];

	if (off < 0)
		return -1;
	const struct rte_ether_hdr *e = rte_pktmbuf_read(m, (uint32_t)off, sizeof(*e), buf);
	if (!e)
		return -1;
	if (e->ether_type != rte_cpu_to_be_16(RTE_ETHER_TYPE_IPV4))
		return 0;
	off += (int)sizeof(*e);
	const struct rte_ipv4_hdr *ip = rte_pktmbuf_read(m, (uint32_t)off, sizeof(*ip), buf);
	if (!ip || (ip->version_ihl >> 4) != 4 || (ip->version_ihl & 0xf) < 5)
		return -1;
	memset(k, 0, sizeof(*k));
	k->proto = ip->next_proto_id;
	k->src = ip->src_addr;
	k->dst = ip->dst_addr;
	bool first_fragment = (rte_be_to_cpu_16(ip->fragment_offset) & RTE_IPV4_HDR_OFFSET_MASK) == 0;
	if (first_fragment && (k->proto == IPPROTO_TCP || k->proto == IPPROTO_UDP || k->proto == IPPROTO_SCTP)) {
		const uint16_t *ports =
			rte_pktmbuf_read(m, (uint32_t)off + (ip->version_ihl & 0xf) * 4u, 4, buf + sizeof(buf) - 8);
		if (!ports)
			return -1;
		k->sport = ports[0];
		k->dport = ports[1];
	}
	return 1;
}

/* Decides a burst, then sends in arrival order: a tracked flow or a non-IP frame does
 * not overtake the new flows that wait for the ACL. */
static void fw_rx(struct e2nf *nf, void *state, unsigned port, struct rte_mbuf **pkts, unsigned n)
{
	struct fw *fw = state;
	struct fw_acl_key keys[E2NF_BURST];
	const uint8_t *data[E2NF_BURST];
	uint32_t results[E2NF_BURST];
	bool pass[E2NF_BURST];
	unsigned todo[E2NF_BURST], n_todo = 0;
	unsigned out = port ^ 1;
	uint64_t now = e2nf_now_ns(nf);

	if (out >= e2nf_n_ports(nf))
		out = port;
	/* the burst's IPv4 frames are looked up in the flow table at once */
	struct flow_key fks[E2NF_BURST];
	const void *fk_ptrs[E2NF_BURST];
	int32_t positions[E2NF_BURST];
	unsigned ip_idx[E2NF_BURST], n_ip = 0;
	for (unsigned i = 0; i < n; i++) {
		int r = key_of(pkts[i], &keys[i]);
		if (r <= 0) {
			if (r < 0)
				fw->malformed++;
			else
				fw->non_ip++;
			pass[i] = r == 0 && fw->rs.non_ip_action == FW_ALLOW;
			continue;
		}
		flow_key_of(&keys[i], &fks[n_ip]);
		fk_ptrs[n_ip] = &fks[n_ip];
		ip_idx[n_ip++] = i;
	}
	if (n_ip)
		rte_hash_lookup_bulk(fw->flows, fk_ptrs, n_ip, positions);
	for (unsigned j = 0; j < n_ip; j++) {
		unsigned i = ip_idx[j];
		if (positions[j] >= 0) {
			fw->last_seen[positions[j]] = now;
			fw->allowed_tracked++;
			pass[i] = true;
			continue;
		}
		data[n_todo] = (const uint8_t *)&keys[i];
		todo[n_todo++] = i;
	}
	if (n_todo && fw->rs.n)
		rte_acl_classify(fw->acl, data, results, n_todo, 1);
	else
		memset(results, 0, sizeof(results));
	for (unsigned j = 0; j < n_todo; j++) {
		unsigned i = todo[j];
		int action = results[j] ? fw->rs.rules[results[j] - 1].action : fw->rs.default_action;
		if (results[j])
			fw->rule_hits[results[j] - 1]++;
		pass[i] = action == FW_ALLOW;
		if (!pass[i]) {
			if (results[j])
				fw->dropped_rule++;
			else
				fw->dropped_default++;
			continue;
		}
		struct flow_key fk;
		flow_key_of(&keys[i], &fk);
		int pos = rte_hash_add_key(fw->flows, &fk);
		if (pos >= 0)
			fw->last_seen[pos] = now;
		else
			fw->table_full++; /* allowed all the same; only its replies need a rule now */
		fw->allowed_new++;
	}
	for (unsigned i = 0; i < n; i++) {
		if (pass[i])
			e2nf_send(nf, out, pkts[i]);
		else
			e2nf_drop(nf, pkts[i]);
	}
}

static void fw_timer(struct e2nf *nf, void *state, uint64_t now)
{
	struct fw *fw = state;
	const void *key;
	void *data;
	uint32_t iter = 0;
	struct flow_key stale[256];
	unsigned n_stale;

	(void)nf;
	do {
		n_stale = 0;
		iter = 0;
		int32_t pos;
		while (n_stale < 256 && (pos = rte_hash_iterate(fw->flows, &key, &data, &iter)) >= 0)
			if (now - fw->last_seen[pos] > fw->idle_ns)
				memcpy(&stale[n_stale++], key, sizeof(stale[0]));
		for (unsigned i = 0; i < n_stale; i++)
			rte_hash_del_key(fw->flows, &stale[i]);
		fw->expired += n_stale;
	} while (n_stale == 256);
}

static void fw_counters(struct e2nf *nf, void *state, char *buf, size_t len)
{
	const struct fw *fw = state;
	int off = snprintf(buf, len,
			   "allowed_new=%llu\nallowed_tracked=%llu\ndropped_rule=%llu\ndropped_default=%llu\n"
			   "non_ip=%llu\nmalformed=%llu\nflows=%d\nflows_expired=%llu\nflow_table_full=%llu\n",
			   (unsigned long long)fw->allowed_new, (unsigned long long)fw->allowed_tracked,
			   (unsigned long long)fw->dropped_rule, (unsigned long long)fw->dropped_default,
			   (unsigned long long)fw->non_ip, (unsigned long long)fw->malformed, rte_hash_count(fw->flows),
			   (unsigned long long)fw->expired, (unsigned long long)fw->table_full);
	(void)nf;
	for (unsigned i = 0; i < fw->rs.n && off > 0 && (size_t)off < len; i++)
		off += snprintf(buf + off, len - (size_t)off, "rule_line%u_hits=%llu\n", fw->rs.rules[i].line,
				(unsigned long long)fw->rule_hits[i]);
}

static void usage(FILE *f)
{
	fprintf(f, "NAME\n"
		   "    e2nf-firewall - stateful IPv4 5-tuple firewall, a native E2 NF\n"
		   "SYNOPSIS\n"
		   "    e2nf-firewall --rules FILE --port SOCK --port SOCK [options]\n"
		   "    e2nf-firewall --rules FILE --check\n"
		   "DESCRIPTION\n"
		   "    Frames from port 0 leave by port 1 and back. A packet of a tracked flow passes; the\n"
		   "    first packet of a new flow is decided by the first rule that matches it (DPDK\n"
		   "    rte_acl), or by the default; an allowed flow is tracked, both directions, until it\n"
		   "    has been idle for --idle-timeout. Frames that are not IPv4 follow `non-ip`.\n"
		   "RULES (legacy-nf's e2-firewall format, IPv4 only)\n"
		   "    default allow|drop              new flows no rule matches (drop)\n"
		   "    non-ip allow|drop               ARP, IPv6 and other non-IPv4 frames (allow)\n"
		   "    allow|drop PROTO from ADDR [port PORTS] to ADDR [port PORTS]\n"
		   "    PROTO: ip|any|tcp|udp|sctp|icmp|0-255   ADDR: any|A.B.C.D[/LEN]\n"
		   "    PORTS: N|N-M|any (tcp, udp, sctp only); # starts a comment. Errors say FILE:LINE.\n"
		   "OPTIONS\n"
		   "    --rules FILE        the rule file (required)\n"
		   "    --check             parse and compile the rules, print how many, exit\n"
		   "    --flows N           flow table size (default 65536)\n"
		   "    --idle-timeout S    forget a flow idle this long (default 120 s)\n" E2NF_OPTIONS_HELP
		   "    --help              this text\n"
		   "COUNTERS (`stats` on --ctl, and at exit)\n"
		   "    allowed_new allowed_tracked dropped_rule dropped_default non_ip malformed flows\n"
		   "    flows_expired flow_table_full rule_lineN_hits, and libe2nf's (rx_packets,\n"
		   "    cycles_per_packet, ...)\n");
}

struct fw_args {
	const char *rules_path;
	bool check;
	uint32_t n_flows;
	double idle_s;
};

static int fw_option(int c, const char *arg, void *ctx, struct e2_err *err)
{
	struct fw_args *a = ctx;
	switch (c) {
	case 'r': a->rules_path = arg; return 1;
	case 'c': a->check = true; return 1;
	case 'f': return e2_num_u32("--flows", arg, 64, 1u << 24, &a->n_flows, err) ? -1 : 1;
	case 'i': return e2_num_duration("--idle-timeout", arg, 1, 86400, &a->idle_s, err) ? -1 : 1;
	default: return 0;
	}
}

int main(int argc, char **argv)
{
	struct e2nf_config cfg = E2NF_CONFIG_INIT("firewall");
	static const struct option own[] = {{"rules", required_argument, NULL, 'r'},
					    {"check", no_argument, NULL, 'c'},
					    {"flows", required_argument, NULL, 'f'},
					    {"idle-timeout", required_argument, NULL, 'i'},
					    {NULL, 0, NULL, 0}};
	struct fw_args args = {.n_flows = 65536, .idle_s = 120};
	struct e2_err err;
	int exit_now = e2nf_args(argc, argv, "e2nf-firewall", &cfg, own, fw_option, &args, usage);
	if (exit_now >= 0)
		return exit_now;
	const char *rules_path = args.rules_path;
	bool check = args.check;
	uint32_t n_flows = args.n_flows;
	double idle_s = args.idle_s;
	if (!rules_path) {
		fprintf(stderr, "e2nf-firewall: needs --rules FILE (see --help)\n");
		return 2;
	}
	static struct fw fw;
	size_t len;
	char *text = e2nf_read_text("e2nf-firewall", "rules", rules_path, 64u << 20, &len);
	if (!text)
		return 2;
	int rc = fw_rules_parse(text, len, rules_path, &fw.rs, &err);
	free(text);
	if (rc != 0) {
		fprintf(stderr, "e2nf-firewall: %s\n", err.msg);
		return 2;
	}
	if (check) {
		printf("%s: %u rules, default %s, non-ip %s\n", rules_path, fw.rs.n,
		       fw.rs.default_action == FW_ALLOW ? "allow" : "drop",
		       fw.rs.non_ip_action == FW_ALLOW ? "allow" : "drop");
		free(fw.rs.rules);
		return 0;
	}
	if (cfg.n_ports != 2) {
		fprintf(stderr, "e2nf-firewall: needs two --port (inside and outside)\n");
		return 2;
	}
	cfg.timer_ms = 1000;
	struct e2nf *nf = e2nf_open(&cfg, &err);
	if (!nf) {
		fprintf(stderr, "e2nf-firewall: %s\n", err.msg);
		return 1;
	}
	char hname[RTE_HASH_NAMESIZE];
	snprintf(hname, sizeof(hname), "fwh:%s", e2nf_name(nf));
	struct rte_hash *old = rte_hash_find_existing(hname);
	if (old)
		rte_hash_free(old);
	struct rte_hash_parameters hp = {.name = hname,
					 .entries = n_flows,
					 .key_len = sizeof(struct flow_key),
					 .hash_func = rte_jhash,
					 .socket_id = SOCKET_ID_ANY};
	fw.flows = rte_hash_create(&hp);
	fw.last_seen = calloc(n_flows + 1, sizeof(*fw.last_seen));
	fw.rule_hits = calloc(fw.rs.n + 1, sizeof(*fw.rule_hits));
	fw.idle_ns = (uint64_t)(idle_s * 1e9);
	fw.acl = fw_acl_build(&fw.rs, e2nf_name(nf), &err);
	if (!fw.flows || !fw.last_seen || !fw.rule_hits || !fw.acl) {
		fprintf(stderr, "e2nf-firewall: %s\n", fw.acl ? "no memory for the flow table" : err.msg);
		e2nf_close(nf);
		return 1;
	}
	const struct e2nf_ops ops = {.rx = fw_rx, .timer = fw_timer, .counters = fw_counters};
	rc = e2nf_run(nf, &ops, &fw);
	char stats[8192];
	e2nf_format_counters(nf, stats, sizeof(stats));
	fputs(stats, stdout);
	fflush(stdout);
	rte_acl_free(fw.acl);
	rte_hash_free(fw.flows);
	e2nf_close(nf);
	free(fw.last_seen);
	free(fw.rule_hits);
	free(fw.rs.rules);
	return rc < 0 ? 1 : 0;
}
