/* SPDX-License-Identifier: BSD-3-Clause */
/* e2nf-firewall's rule file and its rte_acl form. */
#include "acl_rules.h"

#include <arpa/inet.h>
#include <ctype.h>
#include <netinet/in.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <rte_acl.h>
#include <rte_errno.h>

#include "e2/lines.h"
#include "e2/num.h"

/* --- the rule file --- */

static int parse_action(const char *w, int *out)
{
	if (!strcmp(w, "allow") || !strcmp(w, "accept") || !strcmp(w, "pass"))
		*out = FW_ALLOW;
	else if (!strcmp(w, "drop") || !strcmp(w, "deny"))
		*out = FW_DROP;
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
static int parse_rule(char **w, int n, struct fw_rule *r, struct e2_err *err)
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

int fw_rules_parse(const char *text, size_t len, const char *origin, struct fw_ruleset *rs, struct e2_err *err)
{
	size_t cap = 0;

	*rs = (struct fw_ruleset){.default_action = FW_DROP, .non_ip_action = FW_ALLOW};
	struct e2_line_iter it;
	if (e2_line_iter_init(&it, text, len, origin, err))
		return -1;
	for (int more; (more = e2_line_iter_next(&it, 16, err)) != 0;) {
		if (more < 0)
			goto fail;
		char **w = it.w;
		int n = it.n;
		unsigned lineno = it.lineno;

		if (!strcmp(w[0], "default") || !strcmp(w[0], "non-ip")) {
			int *target = w[0][0] == 'd' ? &rs->default_action : &rs->non_ip_action;
			if (n != 2 || parse_action(w[1], target) != 0) {
				e2_seterr(err, "%s:%u: '%s' takes one action: allow or drop", origin, lineno, w[0]);
				goto fail;
			}
			continue;
		}
		if (rs->n == FW_RULES_MAX) {
			e2_seterr(err, "%s:%u: more than %d rules", origin, lineno, FW_RULES_MAX);
			goto fail;
		}
		if (rs->n == cap) {
			cap = cap ? cap * 2 : 64;
			struct fw_rule *nr = realloc(rs->rules, cap * sizeof(*nr));
			if (!nr) {
				e2_seterr(err, "%s: out of memory", origin);
				goto fail;
			}
			rs->rules = nr;
		}
		struct fw_rule *r = &rs->rules[rs->n];
		*r = (struct fw_rule){.line = lineno};
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

/* --- the ACL --- */

enum { F_PROTO, F_SRC, F_DST, F_SPORT, F_DPORT, N_FIELDS };

static const struct rte_acl_field_def acl_fields[N_FIELDS] = {
	{.type = RTE_ACL_FIELD_TYPE_BITMASK,
	 .size = 1,
	 .field_index = F_PROTO,
	 .input_index = 0,
	 .offset = offsetof(struct fw_acl_key, proto)},
	{.type = RTE_ACL_FIELD_TYPE_MASK,
	 .size = 4,
	 .field_index = F_SRC,
	 .input_index = 1,
	 .offset = offsetof(struct fw_acl_key, src)},
	{.type = RTE_ACL_FIELD_TYPE_MASK,
	 .size = 4,
	 .field_index = F_DST,
	 .input_index = 2,
	 .offset = offsetof(struct fw_acl_key, dst)},
	{.type = RTE_ACL_FIELD_TYPE_RANGE,
	 .size = 2,
	 .field_index = F_SPORT,
	 .input_index = 3,
	 .offset = offsetof(struct fw_acl_key, sport)},
	{.type = RTE_ACL_FIELD_TYPE_RANGE,
	 .size = 2,
	 .field_index = F_DPORT,
	 .input_index = 3,
	 .offset = offsetof(struct fw_acl_key, dport)},
};

RTE_ACL_RULE_DEF(acl_rule, N_FIELDS);

/* Tables live in e2d's shared memory under the NF's name: an instance that crashed
 * left them there, and the next instance of the same name frees them first. */
struct rte_acl_ctx *fw_acl_build(const struct fw_ruleset *rs, const char *nf_name, struct e2_err *err)
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
		const struct fw_rule *r = &rs->rules[i];
		struct acl_rule a = {0};
		/* the first rule in the file wins: rte_acl picks the highest priority */
		a.data = (struct rte_acl_rule_data){
			.category_mask = 1, .priority = (int32_t)(FW_RULES_MAX - i), .userdata = i + 1};
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
