/* SPDX-License-Identifier: BSD-3-Clause */
#include "fw_rules.h"

#include <arpa/inet.h>
#include <errno.h>
#include <netinet/in.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "e2/file.h"

#define MAX_LINE 1024
#define MAX_TOKENS 12
#define MAX_RULES 100000

struct parse_ctx {
	const char *origin;
	unsigned line;
	char *err;
	size_t err_len;
};

__attribute__((format(printf, 2, 3))) static int fail(struct parse_ctx *pc, const char *fmt, ...)
{
	if (!pc->err || !pc->err_len)
		return -1;
	int n = snprintf(pc->err, pc->err_len, "%s:%u: ", pc->origin, pc->line);
	if (n < 0 || (size_t)n >= pc->err_len)
		return -1;
	va_list ap;
	va_start(ap, fmt);
	vsnprintf(pc->err + n, pc->err_len - (size_t)n, fmt, ap);
	va_end(ap);
	return -1;
}

static int parse_action(struct parse_ctx *pc, const char *tok, enum fw_action *out)
{
	if (!strcmp(tok, "allow") || !strcmp(tok, "accept") || !strcmp(tok, "pass")) {
		*out = FW_ALLOW;
		return 0;
	}
	if (!strcmp(tok, "drop") || !strcmp(tok, "deny")) {
		*out = FW_DROP;
		return 0;
	}
	return fail(pc, "unknown action '%s' (expected allow or drop)", tok);
}

static int parse_proto(struct parse_ctx *pc, const char *tok, int *out)
{
	static const struct {
		const char *name;
		int proto;
	} names[] = {
		{"ip", FW_PROTO_ANY},   {"any", FW_PROTO_ANY},     {"tcp", IPPROTO_TCP},   {"udp", IPPROTO_UDP},
		{"icmp", IPPROTO_ICMP}, {"icmp6", IPPROTO_ICMPV6}, {"sctp", IPPROTO_SCTP},
	};
	for (size_t i = 0; i < sizeof(names) / sizeof(names[0]); i++) {
		if (!strcmp(tok, names[i].name)) {
			*out = names[i].proto;
			return 0;
		}
	}
	char *end;
	errno = 0;
	long v = strtol(tok, &end, 10);
	if (tok[0] >= '0' && tok[0] <= '9' && !*end && !errno && v >= 0 && v <= 255) {
		*out = (int)v;
		return 0;
	}
	return fail(pc, "unknown protocol '%s' (expected ip, tcp, udp, icmp, icmp6, sctp or 0-255)", tok);
}

static int parse_uint(const char *s, unsigned long max, unsigned long *out)
{
	if (!*s || *s < '0' || *s > '9')
		return -1;
	char *end;
	errno = 0;
	unsigned long v = strtoul(s, &end, 10);
	if (*end || errno || v > max)
		return -1;
	*out = v;
	return 0;
}

static int parse_addr(struct parse_ctx *pc, const char *tok, struct fw_addr *out)
{
	memset(out, 0, sizeof(*out));
	if (!strcmp(tok, "any"))
		return 0;
	char buf[64];
	if (strlen(tok) >= sizeof(buf))
		return fail(pc, "address '%.40s...' is too long", tok);
	strcpy(buf, tok);
	char *slash = strchr(buf, '/');
	if (slash)
		*slash = '\0';
	if (inet_pton(AF_INET, buf, out->bytes) == 1) {
		out->family = 4;
		out->prefix_len = 32;
	} else if (inet_pton(AF_INET6, buf, out->bytes) == 1) {
		out->family = 6;
		out->prefix_len = 128;
	} else {
		return fail(pc,
			    "bad address '%s' (expected any, an IPv4 or IPv6 address, "
			    "optionally /prefix)",
			    tok);
	}
	if (slash) {
		unsigned long len;
		if (parse_uint(slash + 1, out->prefix_len, &len))
			return fail(pc, "bad prefix length in '%s' (0-%u)", tok, out->prefix_len);
		out->prefix_len = (uint8_t)len;
	}
	/* Clear host bits so "10.0.0.1/24" means the network it lies in. */
	for (unsigned bit = out->prefix_len; bit < 128; bit++)
		out->bytes[bit / 8] &= (uint8_t) ~(0x80u >> (bit % 8));
	return 0;
}

static int parse_ports(struct parse_ctx *pc, const char *tok, struct fw_port_range *out)
{
	if (!strcmp(tok, "any")) {
		*out = (struct fw_port_range){0, 65535};
		return 0;
	}
	char buf[32];
	if (strlen(tok) >= sizeof(buf))
		return fail(pc, "bad port '%.20s...'", tok);
	strcpy(buf, tok);
	char *dash = strchr(buf, '-');
	if (dash)
		*dash = '\0';
	unsigned long lo, hi;
	if (parse_uint(buf, 65535, &lo) || (dash && parse_uint(dash + 1, 65535, &hi)))
		return fail(pc, "bad port '%s' (expected N or N-M with 0 <= N <= M <= 65535, or any)", tok);
	if (!dash)
		hi = lo;
	if (lo > hi)
		return fail(pc, "empty port range '%s' (%lu > %lu)", tok, lo, hi);
	*out = (struct fw_port_range){(uint16_t)lo, (uint16_t)hi};
	return 0;
}

/* ACTION PROTO from ADDR [port P] to ADDR [port P] */
static int parse_rule(struct parse_ctx *pc, char **tok, int n, struct fw_rule *r)
{
	memset(r, 0, sizeof(*r));
	r->line = pc->line;
	r->sport = r->dport = (struct fw_port_range){0, 65535};
	if (parse_action(pc, tok[0], &r->action))
		return -1;
	if (n < 2)
		return fail(pc, "missing protocol after '%s'", tok[0]);
	if (parse_proto(pc, tok[1], &r->proto))
		return -1;
	int i = 2;
	bool has_ports = false;
	for (int side = 0; side < 2; side++) {
		const char *kw = side ? "to" : "from";
		if (i >= n)
			return fail(pc, "missing '%s ADDRESS'", kw);
		if (strcmp(tok[i], kw))
			return fail(pc, "expected '%s' but found '%s'", kw, tok[i]);
		if (++i >= n)
			return fail(pc, "missing address after '%s'", kw);
		if (parse_addr(pc, tok[i++], side ? &r->dst : &r->src))
			return -1;
		if (i < n && !strcmp(tok[i], "port")) {
			if (++i >= n)
				return fail(pc, "missing port after 'port'");
			if (parse_ports(pc, tok[i++], side ? &r->dport : &r->sport))
				return -1;
			has_ports = true;
		}
	}
	if (i < n)
		return fail(pc, "unexpected '%s' after the rule", tok[i]);
	if (has_ports && r->proto != IPPROTO_TCP && r->proto != IPPROTO_UDP && r->proto != IPPROTO_SCTP)
		return fail(pc, "ports need protocol tcp, udp or sctp");
	if (r->src.family && r->dst.family && r->src.family != r->dst.family)
		return fail(pc, "rule mixes IPv4 and IPv6 addresses");
	uint8_t fam = r->src.family ? r->src.family : r->dst.family;
	if (fam == 6 && r->proto == IPPROTO_ICMP)
		return fail(pc, "icmp is IPv4 only; use icmp6 with IPv6 addresses");
	if (fam == 4 && r->proto == IPPROTO_ICMPV6)
		return fail(pc, "icmp6 is IPv6 only; use icmp with IPv4 addresses");
	return 0;
}

static int parse_line(struct parse_ctx *pc, char *line, struct fw_ruleset *rs, size_t *cap)
{
	char *hash = strchr(line, '#');
	if (hash)
		*hash = '\0';
	char *tok[MAX_TOKENS];
	int n = 0;
	for (char *save = NULL, *t = strtok_r(line, " \t\r\v\f", &save); t; t = strtok_r(NULL, " \t\r\v\f", &save)) {
		if (n == MAX_TOKENS)
			return fail(pc, "too many words (a rule has at most %d)", MAX_TOKENS - 1);
		tok[n++] = t;
	}
	if (n == 0)
		return 0;
	if (!strcmp(tok[0], "default") || !strcmp(tok[0], "non-ip")) {
		if (n != 2)
			return fail(pc, "'%s' takes exactly one action (allow or drop)", tok[0]);
		return parse_action(pc, tok[1], !strcmp(tok[0], "default") ? &rs->default_action : &rs->non_ip_action);
	}
	if (rs->n_rules == MAX_RULES)
		return fail(pc, "too many rules (limit %d)", MAX_RULES);
	if (rs->n_rules == *cap) {
		size_t ncap = *cap ? *cap * 2 : 16;
		struct fw_rule *nr = realloc(rs->rules, ncap * sizeof(*nr));
		if (!nr)
			return fail(pc, "out of memory");
		rs->rules = nr;
		*cap = ncap;
	}
	if (parse_rule(pc, tok, n, &rs->rules[rs->n_rules]))
		return -1;
	rs->n_rules++;
	return 0;
}

int fw_rules_parse(const char *text, size_t len, const char *origin, struct fw_ruleset *out, char *err, size_t err_len)
{
	struct parse_ctx pc = {.origin = origin ? origin : "rules", .err = err, .err_len = err_len};
	struct fw_ruleset rs = {.default_action = FW_DROP, .non_ip_action = FW_ALLOW};
	size_t cap = 0;
	char line[MAX_LINE + 1];
	size_t pos = 0;
	if (err && err_len)
		err[0] = '\0';
	while (pos < len) {
		pc.line++;
		const char *start = text + pos;
		const char *nl = memchr(start, '\n', len - pos);
		size_t llen = nl ? (size_t)(nl - start) : len - pos;
		pos += llen + (nl ? 1 : 0);
		if (llen > MAX_LINE) {
			fail(&pc, "line too long (more than %d characters)", MAX_LINE);
			goto bad;
		}
		if (memchr(start, '\0', llen)) {
			fail(&pc, "NUL byte in rule text");
			goto bad;
		}
		memcpy(line, start, llen);
		line[llen] = '\0';
		if (parse_line(&pc, line, &rs, &cap))
			goto bad;
	}
	*out = rs;
	return 0;
bad:
	free(rs.rules);
	return -1;
}

int fw_rules_load(const char *path, struct fw_ruleset *out, char *err, size_t err_len)
{
	struct e2_err rerr;
	size_t len;
	char *text = e2_read_file(path, 0, &len, &rerr);
	if (!text) {
		snprintf(err, err_len, "%s", rerr.msg);
		return -1;
	}
	int rc = fw_rules_parse(text, len, path, out, err, err_len);
	free(text);
	return rc;
}

void fw_rules_free(struct fw_ruleset *rs)
{
	free(rs->rules);
	rs->rules = NULL;
	rs->n_rules = 0;
}

static bool addr_match(const struct fw_addr *a, uint8_t family, const uint8_t *bytes)
{
	if (!a->family)
		return true;
	if (a->family != family)
		return false;
	unsigned full = a->prefix_len / 8, rest = a->prefix_len % 8;
	if (memcmp(a->bytes, bytes, full))
		return false;
	if (rest) {
		uint8_t mask = (uint8_t)(0xffu << (8 - rest));
		if ((bytes[full] & mask) != a->bytes[full])
			return false;
	}
	return true;
}

static bool rule_match(const struct fw_rule *r, const struct fw_tuple *t)
{
	if (r->proto != FW_PROTO_ANY && r->proto != t->proto)
		return false;
	if (!addr_match(&r->src, t->family, t->src) || !addr_match(&r->dst, t->family, t->dst))
		return false;
	return t->sport >= r->sport.lo && t->sport <= r->sport.hi && t->dport >= r->dport.lo && t->dport <= r->dport.hi;
}

enum fw_action fw_rules_decide(const struct fw_ruleset *rs, const struct fw_tuple *t, const struct fw_rule **matched)
{
	for (size_t i = 0; i < rs->n_rules; i++) {
		if (rule_match(&rs->rules[i], t)) {
			if (matched)
				*matched = &rs->rules[i];
			return rs->rules[i].action;
		}
	}
	if (matched)
		*matched = NULL;
	return rs->default_action;
}
