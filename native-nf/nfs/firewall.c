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

#include "e2/file.h"
#include "e2/nf.h"
#include "e2/num.h"

#define RULES_MAX 65536
#define LINE_MAX_LEN 1024

enum { ACT_DROP = 0, ACT_ALLOW = 1 };

struct rule {
	int action;
	int proto;         /* -1: any */
	uint32_t src, dst; /* host order */
	uint8_t src_len, dst_len;
	uint16_t sport_lo, sport_hi, dport_lo, dport_hi;
	unsigned line;
};

struct ruleset {
	struct rule *rules;
	unsigned n;
	int default_action, non_ip_action;
};

/* --- the rule file --- */

static int parse_action(const char *w, int *out)
{
	if (!strcmp(w, "allow") || !strcmp(w, "accept") || !strcmp(w, "pass"))
		*out = ACT_ALLOW;
	else if (!strcmp(w, "drop") || !strcmp(w, "deny"))
		*out = ACT_DROP;
	else
		return -1;
	return 0;
}

static int parse_proto(const char *w, int *out, struct e2_err *err)
{
	static const struct {
		const char *name;
		int proto;
	} names[] = {{"ip", -1},
		     {"any", -1},
		     {"tcp", IPPROTO_TCP},
		     {"udp", IPPROTO_UDP},
		     {"sctp", IPPROTO_SCTP},
		     {"icmp", IPPROTO_ICMP}};
	for (size_t i = 0; i < sizeof(names) / sizeof(names[0]); i++)
		if (!strcmp(w, names[i].name)) {
			*out = names[i].proto;
			return 0;
		}
	if (!strcmp(w, "icmp6")) {
		e2_seterr(err, "icmp6: IPv6 rules are not supported by e2nf-firewall (IPv4 only)");
		return -1;
	}
	uint32_t v;
	if (isdigit((unsigned char)w[0]) && e2_num_u32("protocol", w, 0, 255, &v, NULL) == 0) {
		*out = (int)v;
		return 0;
	}
	e2_seterr(err, "unknown protocol '%.40s' (ip, any, tcp, udp, sctp, icmp or 0-255)", w);
	return -1;
}

static int parse_addr(const char *w, uint32_t *addr, uint8_t *len, struct e2_err *err)
{
	char buf[64];
	const char *slash = strchr(w, '/');
	uint32_t plen = 32;

	if (!strcmp(w, "any")) {
		*addr = 0;
		*len = 0;
		return 0;
	}
	if (strchr(w, ':')) {
		e2_seterr(err, "%.60s: IPv6 rules are not supported by e2nf-firewall (IPv4 only)", w);
		return -1;
	}
	if (strlen(w) >= sizeof(buf)) {
		e2_seterr(err, "address '%.40s...' is too long", w);
		return -1;
	}
	snprintf(buf, sizeof(buf), "%.*s", slash ? (int)(slash - w) : (int)strlen(w), w);
	struct in_addr a;
	if (inet_pton(AF_INET, buf, &a) != 1) {
		e2_seterr(err, "'%.60s' is not an IPv4 address (or any)", buf);
		return -1;
	}
	if (slash && e2_num_u32("prefix length", slash + 1, 0, 32, &plen, err) != 0)
		return -1;
	*addr = ntohl(a.s_addr) & (plen ? ~0u << (32 - plen) : 0);
	*len = (uint8_t)plen;
	return 0;
}

static int parse_ports(const char *w, uint16_t *lo, uint16_t *hi, struct e2_err *err)
{
	char a[16];
	const char *dash = strchr(w, '-');
	uint32_t l, h;

	if (!strcmp(w, "any")) {
		*lo = 0;
		*hi = 65535;
		return 0;
	}
	if (!dash) {
		if (e2_num_u32("port", w, 0, 65535, &l, err) != 0)
			return -1;
		*lo = *hi = (uint16_t)l;
		return 0;
	}
	if ((size_t)(dash - w) >= sizeof(a)) {
		e2_seterr(err, "port range '%.40s' is not N-M", w);
		return -1;
	}
	snprintf(a, sizeof(a), "%.*s", (int)(dash - w), w);
	if (e2_num_u32("port", a, 0, 65535, &l, err) || e2_num_u32("port", dash + 1, 0, 65535, &h, err))
		return -1;
	if (l > h) {
		e2_seterr(err, "port range %u-%u is empty", l, h);
		return -1;
	}
	*lo = (uint16_t)l;
	*hi = (uint16_t)h;
	return 0;
}

/* ACTION PROTO from ADDR [port PORTS] to ADDR [port PORTS] */
static int parse_rule(char **w, int n, struct rule *r, struct e2_err *err)
{
	int i = 2;

	if (parse_action(w[0], &r->action) != 0) {
		e2_seterr(
			err,
			"'%.40s' is not a rule (allow|drop PROTO from ADDR [port P] to ADDR [port P], default, non-ip)",
			w[0]);
		return -1;
	}
	if (n < 2 || parse_proto(w[1], &r->proto, err) != 0) {
		if (n < 2)
			e2_seterr(err, "a rule needs a protocol after '%s'", w[0]);
		return -1;
	}
	r->sport_hi = r->dport_hi = 65535;
	for (int side = 0; side < 2; side++) {
		const char *kw = side ? "to" : "from";
		if (i >= n || strcmp(w[i], kw) != 0) {
			e2_seterr(err, "expected '%s' %s", kw,
				  i < n ? "here, not that word" : "before the end of the line");
			return -1;
		}
		if (++i >= n) {
			e2_seterr(err, "'%s' needs an address (or any)", kw);
			return -1;
		}
		if (parse_addr(w[i], side ? &r->dst : &r->src, side ? &r->dst_len : &r->src_len, err) != 0)
			return -1;
		i++;
		if (i < n && !strcmp(w[i], "port")) {
			if (r->proto != IPPROTO_TCP && r->proto != IPPROTO_UDP && r->proto != IPPROTO_SCTP) {
				e2_seterr(err, "ports only go with tcp, udp or sctp");
				return -1;
			}
			if (++i >= n) {
				e2_seterr(err, "'port' needs N, N-M or any");
				return -1;
			}
			if (parse_ports(w[i], side ? &r->dport_lo : &r->sport_lo, side ? &r->dport_hi : &r->sport_hi,
					err) != 0)
				return -1;
			i++;
		}
	}
	if (i < n) {
		e2_seterr(err, "unexpected '%.40s' after the rule", w[i]);
		return -1;
	}
	return 0;
}

static int parse_rules(const char *text, size_t len, const char *origin, struct ruleset *rs, struct e2_err *err)
{
	unsigned lineno = 0;
	size_t cap = 0;

	*rs = (struct ruleset){.default_action = ACT_DROP, .non_ip_action = ACT_ALLOW};
	if (memchr(text, '\0', len)) {
		e2_seterr(err, "%s: contains a NUL byte (not a text file)", origin);
		return -1;
	}
	for (size_t pos = 0; pos < len;) {
		const char *nl = memchr(text + pos, '\n', len - pos);
		size_t ll = nl ? (size_t)(nl - (text + pos)) : len - pos;
		char line[LINE_MAX_LEN + 1], *w[16], *save = NULL;
		int n = 0;

		lineno++;
		if (ll > LINE_MAX_LEN) {
			e2_seterr(err, "%s:%u: line longer than %d characters", origin, lineno, LINE_MAX_LEN);
			goto fail;
		}
		memcpy(line, text + pos, ll);
		line[ll] = '\0';
		pos += ll + 1;
		line[strcspn(line, "#")] = '\0';
		for (char *t = strtok_r(line, " \t\r", &save); t; t = strtok_r(NULL, " \t\r", &save)) {
			if (n == 16) {
				e2_seterr(err, "%s:%u: too many words for a rule", origin, lineno);
				goto fail;
			}
			w[n++] = t;
		}
		if (n == 0)
			continue;
		if (!strcmp(w[0], "default") || !strcmp(w[0], "non-ip")) {
			int *target = w[0][0] == 'd' ? &rs->default_action : &rs->non_ip_action;
			if (n != 2 || parse_action(w[1], target) != 0) {
				e2_seterr(err, "%s:%u: '%s' takes one action: allow or drop", origin, lineno, w[0]);
				goto fail;
			}
			continue;
		}
		if (rs->n == RULES_MAX) {
			e2_seterr(err, "%s:%u: more than %d rules", origin, lineno, RULES_MAX);
			goto fail;
		}
		if (rs->n == cap) {
			cap = cap ? cap * 2 : 64;
			struct rule *nr = realloc(rs->rules, cap * sizeof(*nr));
			if (!nr) {
				e2_seterr(err, "%s: out of memory", origin);
				goto fail;
			}
			rs->rules = nr;
		}
		struct rule *r = &rs->rules[rs->n];
		*r = (struct rule){.line = lineno};
		if (parse_rule(w, n, r, err) != 0) {
			e2_err_context(err, "%s:%u", origin, lineno);
			goto fail;
		}
		rs->n++;
	}
	return 0;
fail:
	free(rs->rules);
	rs->rules = NULL;
	return -1;
}

/* --- the ACL: what rte_acl reads of a packet, in network byte order --- */

struct acl_key {
	uint8_t proto;
	uint8_t pad[3];
	uint32_t src, dst;
	uint16_t sport, dport;
};

enum { F_PROTO, F_SRC, F_DST, F_SPORT, F_DPORT, N_FIELDS };

static const struct rte_acl_field_def acl_fields[N_FIELDS] = {
	{.type = RTE_ACL_FIELD_TYPE_BITMASK,
	 .size = 1,
	 .field_index = F_PROTO,
	 .input_index = 0,
	 .offset = offsetof(struct acl_key, proto)},
	{.type = RTE_ACL_FIELD_TYPE_MASK,
	 .size = 4,
	 .field_index = F_SRC,
	 .input_index = 1,
	 .offset = offsetof(struct acl_key, src)},
	{.type = RTE_ACL_FIELD_TYPE_MASK,
	 .size = 4,
	 .field_index = F_DST,
	 .input_index = 2,
	 .offset = offsetof(struct acl_key, dst)},
	{.type = RTE_ACL_FIELD_TYPE_RANGE,
	 .size = 2,
	 .field_index = F_SPORT,
	 .input_index = 3,
	 .offset = offsetof(struct acl_key, sport)},
	{.type = RTE_ACL_FIELD_TYPE_RANGE,
	 .size = 2,
	 .field_index = F_DPORT,
	 .input_index = 3,
	 .offset = offsetof(struct acl_key, dport)},
};

RTE_ACL_RULE_DEF(acl_rule, N_FIELDS);

/* Tables live in e2d's shared memory under the NF's name: an instance that crashed
 * left them there, and the next instance of the same name frees them first. */
static struct rte_acl_ctx *build_acl(const struct ruleset *rs, const char *nf_name, struct e2_err *err)
{
	char name[RTE_ACL_NAMESIZE];
	snprintf(name, sizeof(name), "fwa:%s", nf_name);
	struct rte_acl_ctx *old = rte_acl_find_existing(name);
	if (old)
		rte_acl_free(old);
	struct rte_acl_param prm = {.name = name,
				    .socket_id = SOCKET_ID_ANY,
				    .rule_size = RTE_ACL_RULE_SZ(N_FIELDS),
				    .max_rule_num = rs->n ? rs->n : 1};
	struct rte_acl_ctx *ctx = rte_acl_create(&prm);
	if (!ctx) {
		e2_seterr(err, "cannot create the ACL: %s", rte_strerror(rte_errno));
		return NULL;
	}
	for (unsigned i = 0; i < rs->n; i++) {
		const struct rule *r = &rs->rules[i];
		struct acl_rule a = {0};
		/* the first rule in the file wins: rte_acl picks the highest priority */
		a.data = (struct rte_acl_rule_data){
			.category_mask = 1, .priority = (int32_t)(RULES_MAX - i), .userdata = i + 1};
		a.field[F_PROTO].value.u8 = r->proto < 0 ? 0 : (uint8_t)r->proto;
		a.field[F_PROTO].mask_range.u8 = r->proto < 0 ? 0 : 0xff;
		a.field[F_SRC].value.u32 = r->src;
		a.field[F_SRC].mask_range.u32 = r->src_len;
		a.field[F_DST].value.u32 = r->dst;
		a.field[F_DST].mask_range.u32 = r->dst_len;
		a.field[F_SPORT].value.u16 = r->sport_lo;
		a.field[F_SPORT].mask_range.u16 = r->sport_hi;
		a.field[F_DPORT].value.u16 = r->dport_lo;
		a.field[F_DPORT].mask_range.u16 = r->dport_hi;
		if (rte_acl_add_rules(ctx, (const struct rte_acl_rule *)&a, 1) != 0) {
			e2_seterr(err, "line %u: the ACL refused the rule", r->line);
			rte_acl_free(ctx);
			return NULL;
		}
	}
	struct rte_acl_config cfg = {.num_categories = 1, .num_fields = N_FIELDS};
	memcpy(cfg.defs, acl_fields, sizeof(acl_fields));
	if (rs->n && rte_acl_build(ctx, &cfg) != 0) {
		e2_seterr(err, "cannot build the ACL of %u rules", rs->n);
		rte_acl_free(ctx);
		return NULL;
	}
	return ctx;
}

/* --- connection tracking --- */

struct flow_key { /* the two ends in a fixed order, so both directions find it */
	uint32_t ip_lo, ip_hi;
	uint16_t port_lo, port_hi;
	uint8_t proto;
	uint8_t pad[3];
};

struct fw {
	struct ruleset rs;
	struct rte_acl_ctx *acl;
	struct rte_hash *flows;
	uint64_t *last_seen; /* by the hash's position of the flow */
	uint64_t idle_ns;
	uint64_t allowed_new, allowed_tracked, dropped_rule, dropped_default, non_ip, malformed, table_full, expired;
	uint64_t *rule_hits;
};

static void flow_key_of(const struct acl_key *k, struct flow_key *f)
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
static int key_of(const struct rte_mbuf *m, struct acl_key *k)
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
	struct acl_key keys[E2NF_BURST];
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
			pass[i] = r == 0 && fw->rs.non_ip_action == ACT_ALLOW;
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
		pass[i] = action == ACT_ALLOW;
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

int main(int argc, char **argv)
{
	struct option opts[E2NF_OPTIONS_N + 6];
	struct e2nf_config cfg = E2NF_CONFIG_INIT("firewall");
	const char *rules_path = NULL;
	bool check = false;
	uint32_t n_flows = 65536;
	double idle_s = 120;
	struct e2_err err;
	int c;

	memcpy(opts, e2nf_options, sizeof(e2nf_options));
	opts[E2NF_OPTIONS_N + 0] = (struct option){"rules", required_argument, NULL, 'r'};
	opts[E2NF_OPTIONS_N + 1] = (struct option){"check", no_argument, NULL, 'c'};
	opts[E2NF_OPTIONS_N + 2] = (struct option){"flows", required_argument, NULL, 'f'};
	opts[E2NF_OPTIONS_N + 3] = (struct option){"idle-timeout", required_argument, NULL, 'i'};
	opts[E2NF_OPTIONS_N + 4] = (struct option){"help", no_argument, NULL, 'h'};
	opts[E2NF_OPTIONS_N + 5] = (struct option){NULL, 0, NULL, 0};
	while ((c = getopt_long(argc, argv, "h", opts, NULL)) != -1) {
		int r = e2nf_option(c, optarg, &cfg, &err);
		if (r == 0) {
			switch (c) {
			case 'r': rules_path = optarg; break;
			case 'c': check = true; break;
			case 'f': r = e2_num_u32("--flows", optarg, 64, 1u << 24, &n_flows, &err) ? -1 : 1; break;
			case 'i':
				r = e2_num_duration("--idle-timeout", optarg, 1, 86400, &idle_s, &err) ? -1 : 1;
				break;
			case 'h': usage(stdout); return 0;
			default: usage(stderr); return 2;
			}
		}
		if (r < 0) {
			fprintf(stderr, "e2nf-firewall: %s\n", err.msg);
			return 2;
		}
	}
	if (optind != argc || !rules_path) {
		fprintf(stderr, "e2nf-firewall: %s (see --help)\n",
			optind != argc ? "unexpected argument" : "needs --rules FILE");
		return 2;
	}
	static struct fw fw;
	size_t len;
	char *text = e2_read_file(rules_path, 64u << 20, &len, &err);
	if (!text) {
		fprintf(stderr, "e2nf-firewall: rules %s\n", err.msg);
		return 2;
	}
	int rc = parse_rules(text, len, rules_path, &fw.rs, &err);
	free(text);
	if (rc != 0) {
		fprintf(stderr, "e2nf-firewall: %s\n", err.msg);
		return 2;
	}
	if (check) {
		printf("%s: %u rules, default %s, non-ip %s\n", rules_path, fw.rs.n,
		       fw.rs.default_action == ACT_ALLOW ? "allow" : "drop",
		       fw.rs.non_ip_action == ACT_ALLOW ? "allow" : "drop");
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
	fw.acl = build_acl(&fw.rs, e2nf_name(nf), &err);
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
