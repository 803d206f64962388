/* SPDX-License-Identifier: BSD-3-Clause */
/* e2nf-meter's classes (meter_conf.h). */
#include "meter_conf.h"

#include <arpa/inet.h>
#include <netinet/in.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "e2/lines.h"
#include "e2/num.h"

static const char *const color_names[N_COLORS] = {"green", "yellow", "red"};

static int parse_net(const char *s, uint32_t *net, uint32_t *mask, uint8_t *plen_out)
{
	char addr[32];
	const char *slash = strchr(s, '/');
	uint32_t plen = 32;
	struct in_addr a;

	if ((slash ? (size_t)(slash - s) : strlen(s)) >= sizeof(addr))
		return -1;
	snprintf(addr, sizeof(addr), "%.*s", slash ? (int)(slash - s) : (int)strlen(s), s);
	if (inet_pton(AF_INET, addr, &a) != 1 || (slash && e2_num_u32("prefix length", slash + 1, 0, 32, &plen, NULL)))
		return -1;
	*mask = htonl(plen ? ~0u << (32 - plen) : 0);
	*net = a.s_addr & *mask;
	*plen_out = (uint8_t)plen;
	return 0;
}

static int parse_ports(const char *s, uint16_t *lo, uint16_t *hi)
{
	char buf[16];
	const char *dash = strchr(s, '-');
	uint32_t a, b;

	if (strlen(s) >= sizeof(buf))
		return -1;
	snprintf(buf, sizeof(buf), "%s", s);
	if (dash)
		buf[dash - s] = '\0';
	if (e2_num_u32("port", buf, 0, 65535, &a, NULL) ||
	    e2_num_u32("port", dash ? buf + (dash - s) + 1 : buf, 0, 65535, &b, NULL) || a > b)
		return -1;
	*lo = (uint16_t)a;
	*hi = (uint16_t)b;
	return 0;
}

static int parse_action(const char *s, struct meter_action *a, struct e2_err *err)
{
	memset(a, 0, sizeof(*a));
	if (!strcmp(s, "pass")) {
		a->kind = ACT_PASS;
	} else if (!strcmp(s, "drop")) {
		a->kind = ACT_DROP;
	} else if (!strncmp(s, "dscp:", 5)) {
		uint32_t v;
		if (e2_num_u32("dscp", s + 5, 0, 63, &v, err))
			return -1;
		a->kind = ACT_DSCP;
		a->dscp = (uint8_t)v;
	} else if (!strncmp(s, "tag:", 4)) {
		const char *colon = strchr(s + 4, ':');
		if (!colon || (size_t)(colon - (s + 4)) >= sizeof(a->attr_name) || !colon[1] ||
		    strlen(colon + 1) >= sizeof(a->text)) {
			e2_seterr(err, "tag takes tag:ATTR:VALUE (a value of 1..63 characters)");
			return -1;
		}
		snprintf(a->attr_name, sizeof(a->attr_name), "%.*s", (int)(colon - (s + 4)), s + 4);
		snprintf(a->text, sizeof(a->text), "%s", colon + 1);
		if (e2nf_attr(a->attr_name, &a->attr, err))
			return -1;
		if (a->attr.width) {
			uint64_t v, max = a->attr.width >= 8 ? UINT64_MAX : (1ull << (8 * a->attr.width)) - 1;
			if (e2_num_u64(a->attr_name, a->text, 0, max, &v, err))
				return -1;
			for (int i = a->attr.width - 1; i >= 0; i--, v >>= 8)
				a->value[i] = (uint8_t)(v & 0xff);
			a->value_len = a->attr.width;
		} else {
			a->value_len = strlen(a->text);
			memcpy(a->value, a->text, a->value_len);
		}
		a->kind = ACT_TAG;
	} else {
		e2_seterr(err, "an action is pass, drop, dscp:N or tag:ATTR:VALUE, not '%.40s'", s);
		return -1;
	}
	return 0;
}

static int parse_class(char **w, int n, const char *origin, unsigned lineno, struct meter_class *k, struct e2_err *err)
{
	enum {
		F_PROTO,
		F_FROM,
		F_TO,
		F_SPORT,
		F_DPORT,
		F_METER,
		F_CIR,
		F_PIR,
		F_CBS,
		F_EBS,
		F_PBS,
		F_PERFLOW,
		F_FLOWS,
		F_IDLE,
		F_GREEN,
		F_YELLOW,
		F_RED,
		N_F
	};
	static const char *const keys[N_F] = {"proto", "from", "to",    "sport",  "dport", "meter",
					      "cir",   "pir",  "cbs",   "ebs",    "pbs",   "per-flow",
					      "flows", "idle", "green", "yellow", "red"};
	bool seen[N_F] = {0};

	if (n < 1 || strlen(w[0]) >= sizeof(k->name) || strchr(w[0], '=')) {
		e2_seterr(err, "%s:%u: class takes a NAME (up to %zu characters) first", origin, lineno,
			  sizeof(k->name) - 1);
		return -1;
	}
	for (const char *p = w[0]; *p; p++)
		if (!(*p >= 'a' && *p <= 'z') && !(*p >= 'A' && *p <= 'Z') && !(*p >= '0' && *p <= '9') && *p != '_') {
			e2_seterr(err, "%s:%u: a class name has letters, digits and '_' only", origin, lineno);
			return -1;
		}
	*k = (struct meter_class){
		.proto = -1, .sport_hi = 65535, .dport_hi = 65535, .flows = 65536, .idle_s = 60, .line = lineno};
	snprintf(k->name, sizeof(k->name), "%s", w[0]);
	k->act[COLOR_RED].kind = ACT_DROP;
	for (int i = 1; i < n; i++) {
		char *eq = strchr(w[i], '=');
		int f = -1;
		if (eq) {
			*eq = '\0';
			for (int j = 0; j < N_F; j++)
				if (!strcmp(w[i], keys[j]))
					f = j;
		}
		if (f < 0) {
			e2_seterr(err,
				  "%s:%u: unknown '%.40s' (class takes proto= from= to= sport= dport= meter= cir= "
				  "pir= cbs= ebs= pbs= per-flow= flows= idle= green= yellow= red=)",
				  origin, lineno, w[i]);
			return -1;
		}
		if (seen[f]) {
			e2_seterr(err, "%s:%u: %s= given twice", origin, lineno, keys[f]);
			return -1;
		}
		seen[f] = true;
		const char *v = eq + 1;
		int bad = 0;
		double rate;
		uint64_t size;
		switch (f) {
		case F_PROTO: {
			uint32_t p;
			if (!strcmp(v, "tcp"))
				k->proto = IPPROTO_TCP;
			else if (!strcmp(v, "udp"))
				k->proto = IPPROTO_UDP;
			else if (!strcmp(v, "icmp"))
				k->proto = IPPROTO_ICMP;
			else if (!(bad = e2_num_u32("proto", v, 0, 255, &p, err)))
				k->proto = (int)p;
			break;
		}
		case F_FROM:
		case F_TO:
			if (parse_net(v, f == F_FROM ? &k->src : &k->dst, f == F_FROM ? &k->src_mask : &k->dst_mask,
				      f == F_FROM ? &k->src_len : &k->dst_len)) {
				e2_seterr(err, "%s:%u: %s: '%.60s' is not an IPv4 address or network", origin, lineno,
					  keys[f], v);
				return -1;
			}
			break;
		case F_SPORT:
		case F_DPORT:
			if (parse_ports(v, f == F_SPORT ? &k->sport_lo : &k->dport_lo,
					f == F_SPORT ? &k->sport_hi : &k->dport_hi)) {
				e2_seterr(err, "%s:%u: %s: '%.40s' is not a port or range LO-HI", origin, lineno,
					  keys[f], v);
				return -1;
			}
			break;
		case F_METER:
			if (strcmp(v, "srtcm") && strcmp(v, "trtcm")) {
				e2_seterr(err, "%s:%u: meter is srtcm (RFC 2697) or trtcm (RFC 2698), not '%.40s'",
					  origin, lineno, v);
				return -1;
			}
			k->kind = v[0] == 's' ? METER_SRTCM : METER_TRTCM;
			break;
		case F_CIR:
		case F_PIR:
			/* bits per second; at least one byte a second is what rte_meter can count */
			if (!(bad = e2_num_rate(keys[f], v, 8, 1e12, &rate, err)))
				*(f == F_CIR ? &k->cir : &k->pir) = (uint64_t)rate;
			break;
		case F_CBS:
		case F_EBS:
		case F_PBS:
			if (!(bad = e2_num_size(keys[f], v, 1, 1ull << 32, &size, err)))
				*(f == F_CBS ? &k->cbs : &k->ebs_pbs) = size;
			break;
		case F_PERFLOW: {
			int yes;
			if (!(bad = e2_num_bool("per-flow", v, &yes, err)))
				k->per_flow = yes;
			break;
		}
		case F_FLOWS: bad = e2_num_u32("flows", v, 8, METER_FLOWS_MAX, &k->flows, err); break;
		case F_IDLE: bad = e2_num_duration("idle", v, 1, 86400, &k->idle_s, err); break;
		default:
			bad = parse_action(v, &k->act[f - F_GREEN], err);
			if (bad)
				e2_err_context(err, "%s", keys[f]);
			break;
		}
		if (bad) {
			e2_err_context(err, "%s:%u", origin, lineno);
			return -1;
		}
	}
	const char *missing = !seen[F_METER]                           ? "meter=srtcm|trtcm"
			      : !seen[F_CIR]                           ? "cir=BITS/S"
			      : !seen[F_CBS]                           ? "cbs=BYTES"
			      : k->kind == METER_SRTCM && !seen[F_EBS] ? "ebs=BYTES"
			      : k->kind == METER_TRTCM && !seen[F_PIR] ? "pir=BITS/S"
			      : k->kind == METER_TRTCM && !seen[F_PBS] ? "pbs=BYTES"
								       : NULL;
	if (missing) {
		e2_seterr(err, "%s:%u: class %s needs %s", origin, lineno, k->name, missing);
		return -1;
	}
	if ((k->kind == METER_SRTCM && (seen[F_PIR] || seen[F_PBS])) || (k->kind == METER_TRTCM && seen[F_EBS])) {
		e2_seterr(err, "%s:%u: %s takes %s", origin, lineno, k->kind == METER_SRTCM ? "srtcm" : "trtcm",
			  k->kind == METER_SRTCM ? "cir= cbs= ebs=" : "cir= pir= cbs= pbs=");
		return -1;
	}
	if (k->kind == METER_TRTCM && k->pir < k->cir) {
		e2_seterr(err, "%s:%u: pir (%llu) is below cir (%llu) (RFC 2698: PIR >= CIR)", origin, lineno,
			  (unsigned long long)k->pir, (unsigned long long)k->cir);
		return -1;
	}
	if ((seen[F_FLOWS] || seen[F_IDLE]) && !k->per_flow) {
		e2_seterr(err, "%s:%u: %s= is for per-flow=yes classes", origin, lineno,
			  seen[F_FLOWS] ? "flows" : "idle");
		return -1;
	}
	return 0;
}

int meter_conf_parse(const char *text, size_t len, const char *origin, struct meter_conf *c, struct e2_err *err)
{

	memset(c, 0, sizeof(*c));
	c->default_pass = true;
	struct e2_line_iter it;
	if (e2_line_iter_init(&it, text, len, origin, err))
		return -1;
	for (int more; (more = e2_line_iter_next(&it, 24, err)) != 0;) {
		if (more < 0)
			return -1;
		char **w = it.w;
		int n = it.n;
		unsigned lineno = it.lineno;

		if (!strcmp(w[0], "class")) {
			if (c->n == METER_CLASSES_MAX) {
				e2_seterr(err, "%s:%u: more than %u classes", origin, lineno, METER_CLASSES_MAX);
				return -1;
			}
			if (parse_class(w + 1, n - 1, origin, lineno, &c->cls[c->n], err))
				return -1;
			for (unsigned i = 0; i < c->n; i++)
				if (!strcmp(c->cls[i].name, c->cls[c->n].name)) {
					e2_seterr(err, "%s:%u: class %s is already defined on line %u", origin, lineno,
						  c->cls[i].name, c->cls[i].line);
					return -1;
				}
			c->n++;
		} else if (!strcmp(w[0], "default") && n == 2 && (!strcmp(w[1], "pass") || !strcmp(w[1], "drop"))) {
			c->default_pass = !strcmp(w[1], "pass");
		} else {
			e2_seterr(err,
				  "%s:%u: expected 'class NAME KEY=VALUE...' or 'default pass|drop', not '%.40s'%s",
				  origin, lineno, w[0], n > 1 ? " ..." : "");
			return -1;
		}
	}
	if (c->n == 0) {
		e2_seterr(err, "%s: no 'class' line (nothing to meter)", origin);
		return -1;
	}
	return 0;
}

static void print_action(const struct meter_action *a, char *buf, size_t len)
{
	switch (a->kind) {
	case ACT_PASS: snprintf(buf, len, "pass"); break;
	case ACT_DROP: snprintf(buf, len, "drop"); break;
	case ACT_DSCP: snprintf(buf, len, "dscp:%u", a->dscp); break;
	case ACT_TAG: snprintf(buf, len, "tag:%s:%s", a->attr_name, a->text); break;
	}
}

void meter_conf_print(const struct meter_conf *c, char *buf, size_t len)
{
	size_t off = 0;
#define PUT(...)                                                                    \
	do {                                                                        \
		if (off < len)                                                      \
			off += (size_t)snprintf(buf + off, len - off, __VA_ARGS__); \
	} while (0)
	if (len)
		buf[0] = '\0';
	for (unsigned i = 0; i < c->n; i++) {
		const struct meter_class *k = &c->cls[i];
		char a[INET_ADDRSTRLEN];
		PUT("class %s", k->name);
		if (k->proto >= 0)
			PUT(" proto=%d", k->proto);
		inet_ntop(AF_INET, &k->src, a, sizeof(a));
		PUT(" from=%s/%u", a, k->src_len);
		inet_ntop(AF_INET, &k->dst, a, sizeof(a));
		PUT(" to=%s/%u sport=%u-%u dport=%u-%u", a, k->dst_len, k->sport_lo, k->sport_hi, k->dport_lo,
		    k->dport_hi);
		if (k->kind == METER_SRTCM)
			PUT(" meter=srtcm cir=%llu cbs=%llu ebs=%llu", (unsigned long long)k->cir,
			    (unsigned long long)k->cbs, (unsigned long long)k->ebs_pbs);
		else
			PUT(" meter=trtcm cir=%llu pir=%llu cbs=%llu pbs=%llu", (unsigned long long)k->cir,
			    (unsigned long long)k->pir, (unsigned long long)k->cbs, (unsigned long long)k->ebs_pbs);
		if (k->per_flow)
			PUT(" per-flow=yes flows=%u idle=%.17g", k->flows, k->idle_s);
		for (int col = 0; col < N_COLORS; col++) {
			char act[128];
			print_action(&k->act[col], act, sizeof(act));
			PUT(" %s=%s", color_names[col], act);
		}
		PUT("\n");
	}
	PUT("default %s\n", c->default_pass ? "pass" : "drop");
#undef PUT
}
