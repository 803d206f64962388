/* SPDX-License-Identifier: BSD-3-Clause */
/* libFuzzer target: rule text of any shape must parse or fail cleanly, and a parsed rule
 * set must decide packets correctly.
 *
 * Input: rule text, then optionally a NUL byte and an Ethernet frame (the parser refuses
 * NUL bytes, so the first one is a natural split and plain rule files stay valid inputs).
 * The matcher is asked about the frame's 5-tuple and about tuples built from each rule:
 * its own addresses, ports and protocol, and the same with one address bit flipped just
 * inside or just outside a prefix, or a port just outside its range. So it is reached even
 * when the frame is not IP, and right at the edges where a matcher goes wrong. For every
 * tuple:
 *   - the verdict is allow or drop, and is the action of the rule reported as matched,
 *     or the default action when none is;
 *   - the matched rule is the first one an independent, bit-by-bit matcher here picks;
 *   - a rule's own tuple, also with a host bit flipped, is matched by that rule or an
 *     earlier one;
 *   - the rule set printed in the documented format and parsed again gives the same rules
 *     and the same verdicts.
 * A fresh firewall (empty connection table) must give the frame the verdict the rules
 * give its tuple (or drop it as malformed / invalid TCP, or apply the non-IP action), and
 * pass the same frame again once it allowed it. */
#include "e2/fuzz.h"
#include <arpa/inet.h>
#include <netinet/in.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "firewall.h"
#include "fw_rules.h"

/* ---- an independent matcher: one address bit at a time ---- */

static bool bit(const uint8_t *bytes, unsigned i)
{
	return bytes[i / 8] >> (7 - i % 8) & 1;
}

static bool ref_addr_match(const struct fw_addr *a, const struct fw_tuple *t, const uint8_t *bytes)
{
	if (a->family == 0)
		return true;
	if (a->family != t->family)
		return false;
	for (unsigned i = 0; i < a->prefix_len; i++)
		if (bit(a->bytes, i) != bit(bytes, i))
			return false;
	return true;
}

static bool ref_match(const struct fw_rule *r, const struct fw_tuple *t)
{
	return (r->proto == FW_PROTO_ANY || r->proto == t->proto) && ref_addr_match(&r->src, t, t->src) &&
	       ref_addr_match(&r->dst, t, t->dst) && r->sport.lo <= t->sport && t->sport <= r->sport.hi &&
	       r->dport.lo <= t->dport && t->dport <= r->dport.hi;
}

/* Index of the first rule matching t, or n_rules. */
static size_t ref_first(const struct fw_ruleset *rs, const struct fw_tuple *t)
{
	size_t i = 0;
	while (i < rs->n_rules && !ref_match(&rs->rules[i], t))
		i++;
	return i;
}

/* Checks one decision; returns the index of the matched rule (n_rules: none). */
static size_t check_decide(const struct fw_ruleset *rs, const struct fw_tuple *t)
{
	const struct fw_rule *m = NULL;
	enum fw_action a = fw_rules_decide(rs, t, &m);
	if (a != FW_ALLOW && a != FW_DROP)
		abort();
	size_t idx = m ? (size_t)(m - rs->rules) : rs->n_rules;
	if (m && (idx >= rs->n_rules || a != m->action))
		abort();
	if (!m && a != rs->default_action)
		abort();
	if (idx != ref_first(rs, t) || fw_rules_decide(rs, t, NULL) != a)
		abort();
	return idx;
}

/* ---- printing in the documented format ---- */

static const char *action_word(enum fw_action a)
{
	return a == FW_ALLOW ? "allow" : "drop";
}

static void print_addr(FILE *f, const struct fw_addr *a)
{
	char buf[INET6_ADDRSTRLEN];
	if (!a->family) {
		fputs("any", f);
		return;
	}
	if (!inet_ntop(a->family == 4 ? AF_INET : AF_INET6, a->bytes, buf, sizeof(buf)))
		abort();
	fprintf(f, "%s/%u", buf, a->prefix_len);
}

static void print_ports(FILE *f, const struct fw_port_range *p)
{
	if (p->lo != 0 || p->hi != 65535)
		fprintf(f, " port %u-%u", p->lo, p->hi);
}

static void print_rule(FILE *f, const struct fw_rule *r)
{
	fprintf(f, "%s ", action_word(r->action));
	if (r->proto == FW_PROTO_ANY)
		fputs("ip", f);
	else
		fprintf(f, "%d", r->proto);
	fputs(" from ", f);
	print_addr(f, &r->src);
	print_ports(f, &r->sport);
	fputs(" to ", f);
	print_addr(f, &r->dst);
	print_ports(f, &r->dport);
	fputc('\n', f);
}

static char *print_ruleset(const struct fw_ruleset *rs, size_t *len)
{
	char *text = NULL;
	FILE *f = open_memstream(&text, len);
	if (!f)
		abort();
	fprintf(f, "default %s\nnon-ip %s\n", action_word(rs->default_action), action_word(rs->non_ip_action));
	for (size_t i = 0; i < rs->n_rules; i++)
		print_rule(f, &rs->rules[i]);
	fclose(f);
	return text;
}

static bool addr_same(const struct fw_addr *a, const struct fw_addr *b)
{
	return a->family == b->family && a->prefix_len == b->prefix_len && !memcmp(a->bytes, b->bytes, 16);
}

static bool rule_same(const struct fw_rule *a, const struct fw_rule *b)
{
	return a->action == b->action && a->proto == b->proto && addr_same(&a->src, &b->src) &&
	       addr_same(&a->dst, &b->dst) && a->sport.lo == b->sport.lo && a->sport.hi == b->sport.hi &&
	       a->dport.lo == b->dport.lo && a->dport.hi == b->dport.hi;
}

/* The printed rule set, parsed again; it must be the same rule set. */
static void reparse(const struct fw_ruleset *rs, struct fw_ruleset *back)
{
	char err[256];
	size_t len;
	char *text = print_ruleset(rs, &len);
	if (fw_rules_parse(text, len, "printed", back, err, sizeof(err)) != 0)
		abort();
	free(text);
	if (back->n_rules != rs->n_rules || back->default_action != rs->default_action ||
	    back->non_ip_action != rs->non_ip_action)
		abort();
	for (size_t i = 0; i < rs->n_rules; i++)
		if (!rule_same(&rs->rules[i], &back->rules[i]))
			abort();
}

/* ---- tuples ---- */

/* A tuple inside rule r: its addresses (an any side takes the other side's family),
 * the low ends of its port ranges, its protocol (TCP for "any"). */
static struct fw_tuple rule_tuple(const struct fw_rule *r)
{
	struct fw_tuple t = {.family = r->src.family ? r->src.family : r->dst.family};
	if (!t.family)
		t.family = 4;
	t.proto = r->proto == FW_PROTO_ANY ? IPPROTO_TCP : (uint8_t)r->proto;
	t.sport = r->sport.lo;
	t.dport = r->dport.lo;
	memcpy(t.src, r->src.bytes, 16);
	memcpy(t.dst, r->dst.bytes, 16);
	return t;
}

static size_t check_tuple(const struct fw_ruleset *rs, const struct fw_ruleset *back, const struct fw_tuple *t)
{
	size_t idx = check_decide(rs, t);
	if (check_decide(back, t) != idx)
		abort();
	return idx;
}

static void flip(uint8_t *bytes, unsigned i)
{
	bytes[i / 8] ^= (uint8_t)(0x80u >> (i % 8));
}

/* Rule i's tuple and its variants at the edges of the rule's prefixes and ranges. */
static void check_rule_tuples(const struct fw_ruleset *rs, const struct fw_ruleset *back, size_t i)
{
	const struct fw_rule *r = &rs->rules[i];
	struct fw_tuple t = rule_tuple(r), v;
	if (check_tuple(rs, back, &t) > i)
		abort(); /* a rule must match its own tuple */
	const struct fw_addr *sides[2] = {&r->src, &r->dst};
	for (int side = 0; side < 2; side++) {
		const struct fw_addr *a = sides[side];
		unsigned bits = a->family == 4 ? 32 : 128;
		if (!a->family)
			continue;
		if (a->prefix_len > 0) { /* the last bit of the prefix: now outside it */
			v = t;
			flip(side ? v.dst : v.src, a->prefix_len - 1u);
			check_tuple(rs, back, &v);
		}
		if (a->prefix_len < bits) { /* the first host bit: still inside */
			v = t;
			flip(side ? v.dst : v.src, a->prefix_len);
			if (check_tuple(rs, back, &v) > i)
				abort();
		}
	}
	const struct fw_port_range *ports[2] = {&r->sport, &r->dport};
	for (int side = 0; side < 2; side++) {
		uint16_t *port = side ? &v.dport : &v.sport;
		v = t;
		if (ports[side]->lo > 0) {
			*port = (uint16_t)(ports[side]->lo - 1);
			check_tuple(rs, back, &v);
		}
		if (ports[side]->hi < 65535) {
			*port = (uint16_t)(ports[side]->hi + 1);
			check_tuple(rs, back, &v);
		}
	}
}

/* A fresh firewall on the (re-parsed) rules against the frame. */
static void check_firewall(struct fw_ruleset *rules, const uint8_t *frame, size_t len)
{
	struct firewall fw;
	struct ct_timeouts to = ct_default_timeouts();
	struct fw_tuple t;
	uint8_t flags;
	enum fw_action want;
	enum frame_kind kind = frame_parse(frame, len, &t, &flags);
	if (kind == FRAME_NON_IP)
		want = rules->non_ip_action;
	else if (kind == FRAME_MALFORMED)
		want = FW_DROP;
	else if (t.proto == IPPROTO_TCP && (flags & (CT_TCP_SYN | CT_TCP_ACK | CT_TCP_RST)) != CT_TCP_SYN)
		want = FW_DROP; /* only a SYN may start a TCP flow */
	else
		want = fw_rules_decide(rules, &t, NULL);
	if (firewall_init(&fw, rules, 64, &to) != 0)
		abort();
	if (firewall_check(&fw, frame, len, 1000) != want)
		abort();
	if (kind == FRAME_IP && want == FW_ALLOW && firewall_check(&fw, frame, len, 1001) != FW_ALLOW)
		abort(); /* the flow is tracked now */
	firewall_free(&fw);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	const uint8_t *nul = memchr(data, '\0', size);
	size_t text_len = nul ? (size_t)(nul - data) : size;
	const uint8_t *frame = nul ? nul + 1 : data + size;
	size_t frame_len = (size_t)(data + size - frame);
	struct fw_ruleset rs, back;
	char err[256];

	if (fw_rules_parse((const char *)data, text_len, "fuzz", &rs, err, sizeof(err)) != 0)
		return 0;
	reparse(&rs, &back);
	struct fw_tuple t;
	uint8_t flags;
	if (frame_parse(frame, frame_len, &t, &flags) == FRAME_IP)
		check_tuple(&rs, &back, &t);
	for (size_t i = 0; i < rs.n_rules; i++)
		check_rule_tuples(&rs, &back, i);
	check_firewall(&back, frame, frame_len);
	fw_rules_free(&rs);
	return 0;
}
