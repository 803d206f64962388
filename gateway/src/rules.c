/* SPDX-License-Identifier: BSD-3-Clause */
/* Firewall rule and pool text formats (documented in gateway/README.md). */
#include "internal.h"

#include "e2/file.h"

#include <arpa/inet.h>
#include <ctype.h>
#include <errno.h>
#include <stdlib.h>
#include <string.h>

#define V4MAPPED_BASE ((embark_u128)0xffff << 32)
#define ALL128 (~(embark_u128)0)

static embark_u128 prefix_mask(int host_bits)
{
	return host_bits >= 128 ? ALL128 : (((embark_u128)1 << host_bits) - 1);
}

/* One address: IPv4 -> v4-mapped, or IPv6.  Returns 0 on success. */
static int parse_ip(const char *s, embark_u128 *v, bool *is4)
{
	struct in_addr a4;
	struct in6_addr a6;
	if (inet_pton(AF_INET, s, &a4) == 1) {
		*v = embark_v4mapped(ntohl(a4.s_addr));
		*is4 = true;
		return 0;
	}
	if (inet_pton(AF_INET6, s, &a6) == 1) {
		*v = embark_load_u128(a6.s6_addr);
		*is4 = false;
		return 0;
	}
	return -1;
}

static int parse_uint(const char *s, uint64_t max, uint64_t *out)
{
	if (!*s)
		return -1;
	char *end;
	errno = 0;
	unsigned long long v = strtoull(s, &end, 0);
	if (errno || *end || v > max || *s == '-' || *s == '+' || isspace((unsigned char)*s))
		return -1;
	*out = v;
	return 0;
}

/* ADDR := any | IP | IP/len | IP-IP */
static int parse_addr(const char *s, embark_range *r, bool *any, char *why, size_t wl)
{
	char buf[128];
	if (strlen(s) >= sizeof buf) {
		snprintf(why, wl, "address too long");
		return -1;
	}
	strcpy(buf, s);
	*any = false;
	if (strcmp(buf, "any") == 0) {
		*any = true;
		*r = (embark_range){0, ALL128};
		return 0;
	}
	char *slash = strchr(buf, '/'), *dash = strchr(buf, '-');
	bool is4, is4b;
	if (slash) {
		*slash = 0;
		uint64_t len;
		if (parse_ip(buf, &r->lo, &is4)) {
			snprintf(why, wl, "bad address '%s'", buf);
			return -1;
		}
		if (parse_uint(slash + 1, is4 ? 32 : 128, &len)) {
			snprintf(why, wl, "bad prefix length '%s' (0..%d)", slash + 1, is4 ? 32 : 128);
			return -1;
		}
		int host = (int)((is4 ? 32 : 128) - len);
		embark_u128 m = prefix_mask(host);
		if (r->lo & m) {
			snprintf(why, wl, "'%s' has host bits set beyond /%d", s, (int)len);
			return -1;
		}
		r->hi = r->lo | m;
		return 0;
	}
	if (dash) {
		*dash = 0;
		if (parse_ip(buf, &r->lo, &is4) || parse_ip(dash + 1, &r->hi, &is4b)) {
			snprintf(why, wl, "bad address range '%s'", s);
			return -1;
		}
		if (is4 != is4b) {
			snprintf(why, wl, "range '%s' mixes IPv4 and IPv6", s);
			return -1;
		}
		if (r->lo > r->hi) {
			snprintf(why, wl, "range '%s' starts after it ends", s);
			return -1;
		}
		return 0;
	}
	if (parse_ip(buf, &r->lo, &is4)) {
		snprintf(why, wl, "bad address '%s'", buf);
		return -1;
	}
	r->hi = r->lo;
	return 0;
}

/* PORTS := any | N | N-M */
static int parse_ports(const char *s, embark_range *r, bool *any, char *why, size_t wl)
{
	*any = false;
	if (strcmp(s, "any") == 0) {
		*any = true;
		*r = (embark_range){0, 0xffff};
		return 0;
	}
	char buf[64];
	if (strlen(s) >= sizeof buf) {
		snprintf(why, wl, "port too long");
		return -1;
	}
	strcpy(buf, s);
	char *dash = strchr(buf, '-');
	uint64_t a, b;
	if (dash) {
		*dash = 0;
		if (parse_uint(buf, 0xffff, &a) || parse_uint(dash + 1, 0xffff, &b)) {
			snprintf(why, wl, "bad port range '%s' (ports are 0..65535)", s);
			return -1;
		}
		if (a > b) {
			snprintf(why, wl, "port range '%s' starts after it ends", s);
			return -1;
		}
	} else {
		if (parse_uint(buf, 0xffff, &a)) {
			snprintf(why, wl, "bad port '%s' (0..65535)", s);
			return -1;
		}
		b = a;
	}
	*r = (embark_range){a, b};
	return 0;
}

static int parse_proto(const char *s, int *p)
{
	if (!strcmp(s, "any"))
		*p = EMBARK_PROTO_ANY;
	else if (!strcmp(s, "tcp"))
		*p = 6;
	else if (!strcmp(s, "udp"))
		*p = 17;
	else if (!strcmp(s, "icmp"))
		*p = 1;
	else {
		uint64_t v;
		if (parse_uint(s, 255, &v))
			return -1;
		*p = (int)v;
	}
	return 0;
}

static bool valid_id(const char *s)
{
	size_t n = strlen(s);
	if (n == 0 || n >= EMBARK_ID_MAX)
		return false;
	for (size_t i = 0; i < n; i++)
		if (!isalnum((unsigned char)s[i]) && !strchr("_.:-", s[i]))
			return false;
	return true;
}

static bool ranges_overlap(embark_range a, embark_range b)
{
	return a.lo <= b.hi && b.lo <= a.hi;
}
static bool rules_overlap(const embark_rule *a, const embark_rule *b)
{
	if (a->proto != EMBARK_PROTO_ANY && b->proto != EMBARK_PROTO_ANY && a->proto != b->proto)
		return false;
	return ranges_overlap(a->src, b->src) && ranges_overlap(a->dst, b->dst) && ranges_overlap(a->sport, b->sport) &&
	       ranges_overlap(a->dport, b->dport);
}

/* One field of a rule as a range, for the sweep below (0 src, 1 dst, 2 sport, 3 dport). */
static embark_range rule_field(const embark_rule *r, int f)
{
	return f == 0 ? r->src : f == 1 ? r->dst : f == 2 ? r->sport : r->dport;
}

static int cmp_u128(const void *x, const void *y)
{
	embark_u128 a = *(const embark_u128 *)x, b = *(const embark_u128 *)y;
	return a < b ? -1 : a > b;
}

struct sweep_ctx {
	const embark_rule *v;
	int field;
};
static int cmp_field_lo(const void *x, const void *y, void *cv)
{
	const struct sweep_ctx *c = cv;
	size_t a = *(const size_t *)x, b = *(const size_t *)y;
	embark_u128 la = rule_field(&c->v[a], c->field).lo, lb = rule_field(&c->v[b], c->field).lo;
	if (la != lb)
		return la < lb ? -1 : 1;
	return a < b ? -1 : a > b; /* file order: the earlier rule is named as the one overlapped */
}

/* The most of these rules whose ranges on field f share one point. */
static size_t field_depth(const embark_rule *v, const size_t *ix, size_t m, int f, embark_u128 *lo, embark_u128 *hi)
{
	for (size_t i = 0; i < m; i++) {
		lo[i] = rule_field(&v[ix[i]], f).lo;
		hi[i] = rule_field(&v[ix[i]], f).hi;
	}
	qsort(lo, m, sizeof *lo, cmp_u128);
	qsort(hi, m, sizeof *hi, cmp_u128);
	size_t depth = 0;
	for (size_t i = 0, j = 0; i < m; i++) {
		while (hi[j] < lo[i])
			j++; /* ranges are inclusive: one ending at lo[i] still holds it */
		if (i + 1 - j > depth)
			depth = i + 1 - j;
	}
	return depth;
}

/* Rules at one prio must not overlap (the match would depend on file order).  Comparing
 * every pair is quadratic: minutes for 100000 rules at one prio.  Two rules overlap only
 * if they overlap on every field, so sweep along the field where the fewest rules share a
 * point and compare each rule only with the rules still open on that field. */
static int check_prio_group(embark_ruleset *rs, size_t *ix, size_t m, const char *name, char *err, size_t errlen)
{
	if (m < 2)
		return 0;
	embark_u128 *lo = malloc(m * sizeof *lo), *hi = malloc(m * sizeof *hi);
	size_t *open = malloc(m * sizeof *open);
	if (!lo || !hi || !open) {
		free(lo), free(hi), free(open);
		snprintf(err, errlen, "%s: out of memory", name);
		return -1;
	}
	struct sweep_ctx c = {rs->v, 0};
	size_t best = SIZE_MAX;
	for (int f = 0; f < 4; f++) {
		size_t d = field_depth(rs->v, ix, m, f, lo, hi);
		if (d < best)
			best = d, c.field = f;
	}
	qsort_r(ix, m, sizeof *ix, cmp_field_lo, &c);
	int rc = 0;
	size_t nopen = 0;
	for (size_t i = 0; i < m && !rc; i++) {
		const embark_rule *b = &rs->v[ix[i]];
		embark_u128 at = rule_field(b, c.field).lo;
		size_t keep = 0;
		for (size_t k = 0; k < nopen; k++)
			if (rule_field(&rs->v[open[k]], c.field).hi >= at)
				open[keep++] = open[k];
		nopen = keep;
		for (size_t k = 0; k < nopen && !rc; k++) {
			const embark_rule *o = &rs->v[open[k]];
			/* name the later line as the culprit, the earlier as what it clashes with */
			const embark_rule *first = o->line < b->line ? o : b, *later = first == o ? b : o;
			if (strcmp(first->id, later->id) == 0) {
				if (first->action != later->action) {
					snprintf(err, errlen,
						 "%s:%d: rule id '%s' already used at line %d with another action",
						 name, later->line, later->id, first->line);
					rc = -1;
				}
			} else if (rules_overlap(first, later)) {
				snprintf(
					err, errlen,
					"%s:%d: rule '%s' overlaps rule '%s' (line %d) at the same prio %lld; give them different prios",
					name, later->line, later->id, first->id, first->line, (long long)first->prio);
				rc = -1;
			}
		}
		open[nopen++] = ix[i];
	}
	free(lo), free(hi), free(open);
	return rc;
}

static int cmp_prio_idx(const void *x, const void *y, void *rsv)
{
	const embark_rule *v = rsv;
	size_t a = *(const size_t *)x, b = *(const size_t *)y;
	if (v[a].prio != v[b].prio)
		return v[a].prio < v[b].prio ? -1 : 1;
	return a < b ? -1 : a > b;
}

/* Splits text into lines, calling fn(line, lineno).  Rejects NUL bytes. */
typedef int (*line_fn)(char *line, int lineno, void *arg, char *err, size_t errlen);
static int for_each_line(const char *text, size_t len, const char *name, line_fn fn, void *arg, char *err,
			 size_t errlen)
{
	if (memchr(text, 0, len)) {
		size_t off = (size_t)((const char *)memchr(text, 0, len) - text);
		int ln = 1;
		for (size_t i = 0; i < off; i++)
			ln += text[i] == '\n';
		snprintf(err, errlen, "%s:%d: NUL byte in text file", name, ln);
		return -1;
	}
	char *copy = malloc(len + 1);
	if (!copy) {
		snprintf(err, errlen, "%s: out of memory", name);
		return -1;
	}
	memcpy(copy, text, len);
	copy[len] = 0;
	int lineno = 0, rc = 0;
	char *p = copy;
	for (;;) {
		lineno++;
		char *nl = strchr(p, '\n');
		if (nl)
			*nl = 0;
		char *hash = strchr(p, '#');
		if (hash)
			*hash = 0;
		char inner[512];
		rc = fn(p, lineno, arg, inner, sizeof inner);
		if (rc) {
			snprintf(err, errlen, "%s:%d: %s", name, lineno, inner);
			break;
		}
		if (!nl)
			break;
		p = nl + 1;
	}
	free(copy);
	return rc;
}

static int rule_line(char *line, int lineno, void *arg, char *err, size_t errlen)
{
	embark_ruleset *rs = arg;
	char *save, *tok = strtok_r(line, " \t\r\v\f", &save);
	if (!tok)
		return 0;
	embark_rule r = {.proto = EMBARK_PROTO_ANY,
			 .line = lineno,
			 .prio = lineno,
			 .src = {0, ALL128},
			 .dst = {0, ALL128},
			 .sport = {0, 0xffff},
			 .dport = {0, 0xffff},
			 .src_any = true,
			 .dst_any = true,
			 .sport_any = true,
			 .dport_any = true};
	snprintf(r.id, sizeof r.id, "L%d", lineno);
	if (!strcmp(tok, "accept"))
		r.action = EMBARK_ACCEPT;
	else if (!strcmp(tok, "deny"))
		r.action = EMBARK_DENY;
	else {
		snprintf(err, errlen, "expected 'accept' or 'deny', got '%.40s'", tok);
		return -1;
	}
	unsigned seen = 0;
	static const char *keys[] = {"id", "prio", "proto", "src", "dst", "sport", "dport"};
	while ((tok = strtok_r(NULL, " \t\r\v\f", &save))) {
		char *eq = strchr(tok, '=');
		if (!eq) {
			snprintf(err, errlen, "expected key=value, got '%.40s'", tok);
			return -1;
		}
		*eq = 0;
		const char *val = eq + 1;
		int k = -1;
		for (int i = 0; i < 7; i++)
			if (!strcmp(tok, keys[i]))
				k = i;
		if (k < 0) {
			snprintf(err, errlen, "unknown key '%.40s' (known: id prio proto src dst sport dport)", tok);
			return -1;
		}
		if (seen & (1u << k)) {
			snprintf(err, errlen, "'%s' given twice", tok);
			return -1;
		}
		seen |= 1u << k;
		char why[256];
		uint64_t u;
		switch (k) {
		case 0:
			if (!valid_id(val)) {
				snprintf(err, errlen, "bad id '%.40s' (1..%d of A-Z a-z 0-9 _ . : -)", val,
					 EMBARK_ID_MAX - 1);
				return -1;
			}
			strcpy(r.id, val);
			break;
		case 1:
			if (parse_uint(val, (uint64_t)1 << 40, &u)) {
				snprintf(err, errlen, "bad prio '%.40s' (0..2^40)", val);
				return -1;
			}
			r.prio = (int64_t)u;
			break;
		case 2:
			if (parse_proto(val, &r.proto)) {
				snprintf(err, errlen, "bad proto '%.40s' (tcp, udp, icmp, any or 0..255)", val);
				return -1;
			}
			break;
		case 3:
		case 4:
			if (parse_addr(val, k == 3 ? &r.src : &r.dst, k == 3 ? &r.src_any : &r.dst_any, why,
				       sizeof why)) {
				snprintf(err, errlen, "%s: %s", keys[k], why);
				return -1;
			}
			break;
		default:
			if (parse_ports(val, k == 5 ? &r.sport : &r.dport, k == 5 ? &r.sport_any : &r.dport_any, why,
					sizeof why)) {
				snprintf(err, errlen, "%s: %s", keys[k], why);
				return -1;
			}
		}
	}
	if (rs->n == EMBARK_RULE_LINES_MAX) {
		snprintf(err, errlen, "more than %d rule lines", EMBARK_RULE_LINES_MAX);
		return -1;
	}
	if ((rs->n & (rs->n - 1)) == 0) { /* 0, 1, 2, 4 ...: doubling keeps loading linear */
		embark_rule *nv = realloc(rs->v, (rs->n ? 2 * rs->n : 1) * sizeof *nv);
		if (!nv) {
			snprintf(err, errlen, "out of memory");
			return -1;
		}
		rs->v = nv;
	}
	rs->v[rs->n++] = r;
	return 0;
}

static int cmp_id(const void *x, const void *y, void *v)
{
	const embark_rule *r = v;
	size_t a = *(const size_t *)x, b = *(const size_t *)y;
	int c = strcmp(r[a].id, r[b].id);
	return c ? c : (a < b ? -1 : a > b);
}

int embark_rules_parse(const char *text, size_t len, const char *name, embark_ruleset *out, char *err, size_t errlen)
{
	embark_ruleset rs = {0};
	if (for_each_line(text, len, name, rule_line, &rs, err, errlen)) {
		embark_ruleset_free(&rs);
		return -1;
	}
	/* Lines sharing an id are one logical rule (encrypted rule files expand rules); they
   * must agree on prio and action.  Different rules at one prio must not overlap, or the
   * match would depend on file order silently. */
	size_t *idx = malloc((rs.n ? rs.n : 1) * sizeof *idx);
	if (!idx) {
		embark_ruleset_free(&rs);
		snprintf(err, errlen, "%s: out of memory", name);
		return -1;
	}
	for (size_t i = 0; i < rs.n; i++)
		idx[i] = i;
	qsort_r(idx, rs.n, sizeof *idx, cmp_prio_idx, rs.v);
	int rc = 0;
	for (size_t g = 0; g < rs.n && !rc;) {
		size_t e = g;
		while (e < rs.n && rs.v[idx[e]].prio == rs.v[idx[g]].prio)
			e++;
		rc = check_prio_group(&rs, idx + g, e - g, name, err, errlen);
		g = e;
	}
	/* ids used at two different prios */
	if (!rc) {
		for (size_t i = 0; i < rs.n && !rc; i++)
			idx[i] = i;
		/* sort by id via insertion into a simple hash would be faster; rules files are small
     * relative to the O(n log n) sort used here */
		qsort_r(idx, rs.n, sizeof *idx, cmp_id, rs.v);
		for (size_t i = 1; i < rs.n; i++) {
			const embark_rule *a = &rs.v[idx[i - 1]], *b = &rs.v[idx[i]];
			if (strcmp(a->id, b->id) == 0 && (a->prio != b->prio || a->action != b->action)) {
				const embark_rule *later = a->line > b->line ? a : b, *first = later == a ? b : a;
				snprintf(err, errlen, "%s:%d: rule id '%s' already used at line %d with another %s",
					 name, later->line, later->id, first->line,
					 a->prio != b->prio ? "prio or action" : "action");
				rc = -1;
				break;
			}
		}
	}
	free(idx);
	if (rc) {
		embark_ruleset_free(&rs);
		return -1;
	}
	*out = rs;
	return 0;
}

int embark_rules_load(const char *path, embark_ruleset *out, char *err, size_t errlen)
{
	char *text;
	size_t len;
	struct e2_err rerr;
	if (!(text = e2_read_file(path, 0, &len, &rerr))) {
		snprintf(err, errlen, "%s", rerr.msg);
		return -1;
	}
	int rc = embark_rules_parse(text, len, path, out, err, errlen);
	free(text);
	return rc;
}

void embark_ruleset_free(embark_ruleset *rs)
{
	free(rs->v);
	rs->v = NULL;
	rs->n = 0;
}

static void fmt_addr(char *out, size_t ol, embark_range r, bool any)
{
	if (any) {
		snprintf(out, ol, "any");
		return;
	}
	char a[INET6_ADDRSTRLEN], b[INET6_ADDRSTRLEN];
	bool v4 = (r.lo >> 32) == 0xffff && (r.hi >> 32) == 0xffff;
	uint8_t be[16];
	embark_store_u128(be, r.lo);
	if (v4)
		inet_ntop(AF_INET, be + 12, a, sizeof a);
	else
		inet_ntop(AF_INET6, be, a, sizeof a);
	if (r.lo == r.hi) {
		snprintf(out, ol, "%s", a);
		return;
	}
	embark_u128 size_m1 = r.hi - r.lo;
	if ((size_m1 & (size_m1 + 1)) == 0 && (r.lo & size_m1) == 0) {
		int host = 0;
		while (host < 128 && ((size_m1 >> host) & 1))
			host++;
		snprintf(out, ol, "%s/%d", a, (v4 ? 32 : 128) - host);
		return;
	}
	embark_store_u128(be, r.hi);
	if (v4)
		inet_ntop(AF_INET, be + 12, b, sizeof b);
	else
		inet_ntop(AF_INET6, be, b, sizeof b);
	snprintf(out, ol, "%s-%s", a, b);
}

static void fmt_ports(char *out, size_t ol, embark_range r, bool any)
{
	if (any)
		snprintf(out, ol, "any");
	else if (r.lo == r.hi)
		snprintf(out, ol, "%u", (unsigned)r.lo);
	else
		snprintf(out, ol, "%u-%u", (unsigned)r.lo, (unsigned)r.hi);
}

int embark_rules_write(FILE *f, const embark_ruleset *rs, const char *header_comment)
{
	if (header_comment)
		fprintf(f, "# %s\n", header_comment);
	for (size_t i = 0; i < rs->n; i++) {
		const embark_rule *r = &rs->v[i];
		char s[128], d[128], sp[32], dp[32], pr[8];
		fmt_addr(s, sizeof s, r->src, r->src_any);
		fmt_addr(d, sizeof d, r->dst, r->dst_any);
		fmt_ports(sp, sizeof sp, r->sport, r->sport_any);
		fmt_ports(dp, sizeof dp, r->dport, r->dport_any);
		if (r->proto == EMBARK_PROTO_ANY)
			snprintf(pr, sizeof pr, "any");
		else
			snprintf(pr, sizeof pr, "%d", r->proto);
		fprintf(f, "%s id=%s prio=%lld proto=%s src=%s dst=%s sport=%s dport=%s\n",
			r->action == EMBARK_DENY ? "deny" : "accept", r->id, (long long)r->prio, pr, s, d, sp, dp);
	}
	return ferror(f) ? -1 : 0;
}

/* ---- pools: "pool NAME ADDRS" ---- */
static int pool_line(char *line, int lineno, void *arg, char *err, size_t errlen)
{
	embark_poolset *ps = arg;
	char *save, *tok = strtok_r(line, " \t\r\v\f", &save);
	if (!tok)
		return 0;
	if (strcmp(tok, "pool")) {
		snprintf(err, errlen, "expected 'pool NAME ADDRESSES', got '%.40s'", tok);
		return -1;
	}
	char *name = strtok_r(NULL, " \t\r\v\f", &save), *addrs = strtok_r(NULL, " \t\r\v\f", &save);
	if (!name || !addrs) {
		snprintf(err, errlen, "expected 'pool NAME ADDRESSES'");
		return -1;
	}
	if (strtok_r(NULL, " \t\r\v\f", &save)) {
		snprintf(err, errlen, "trailing text after the addresses");
		return -1;
	}
	if (!valid_id(name)) {
		snprintf(err, errlen, "bad pool name '%.40s'", name);
		return -1;
	}
	embark_pool p = {.line = lineno};
	strcpy(p.name, name);
	bool any;
	char why[256];
	if (parse_addr(addrs, &p.r, &any, why, sizeof why)) {
		snprintf(err, errlen, "%s", why);
		return -1;
	}
	if (any) {
		snprintf(err, errlen, "a pool cannot be 'any'");
		return -1;
	}
	if ((p.r.lo >> 32) != 0xffff || (p.r.hi >> 32) != 0xffff) {
		snprintf(err, errlen, "pool '%s' must be IPv4 (the enterprise side of the gateway is IPv4)", p.name);
		return -1;
	}
	embark_u128 total = p.r.hi - p.r.lo + 1;
	for (size_t i = 0; i < ps->n; i++) {
		if (!strcmp(ps->v[i].name, p.name)) {
			snprintf(err, errlen, "pool '%s' is already defined at line %d", p.name, ps->v[i].line);
			return -1;
		}
		if (ranges_overlap(ps->v[i].r, p.r)) {
			snprintf(err, errlen, "pool '%s' overlaps pool '%s' (line %d)", p.name, ps->v[i].name,
				 ps->v[i].line);
			return -1;
		}
		total += ps->v[i].r.hi - ps->v[i].r.lo + 1;
	}
	if (p.r.hi - p.r.lo >= EMBARK_POOL_MAX_ADDRS || total > EMBARK_POOL_MAX_ADDRS) {
		snprintf(err, errlen, "pools hold more than %d addresses in total", EMBARK_POOL_MAX_ADDRS);
		return -1;
	}
	embark_pool *nv = realloc(ps->v, (ps->n + 1) * sizeof *nv);
	if (!nv) {
		snprintf(err, errlen, "out of memory");
		return -1;
	}
	ps->v = nv;
	ps->v[ps->n++] = p;
	return 0;
}

int embark_pools_parse(const char *text, size_t len, const char *name, embark_poolset *out, char *err, size_t errlen)
{
	embark_poolset ps = {0};
	if (for_each_line(text, len, name, pool_line, &ps, err, errlen)) {
		embark_poolset_free(&ps);
		return -1;
	}
	*out = ps;
	return 0;
}

int embark_pools_load(const char *path, embark_poolset *out, char *err, size_t errlen)
{
	char *text;
	size_t len;
	struct e2_err rerr;
	if (!(text = e2_read_file(path, 0, &len, &rerr))) {
		snprintf(err, errlen, "%s", rerr.msg);
		return -1;
	}
	int rc = embark_pools_parse(text, len, path, out, err, errlen);
	free(text);
	return rc;
}

void embark_poolset_free(embark_poolset *ps)
{
	free(ps->v);
	ps->v = NULL;
	ps->n = 0;
}
