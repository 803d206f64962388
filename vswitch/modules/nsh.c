/* SPDX-License-Identifier: BSD-3-Clause */
/* NSH metadata across NF boundaries (RFC 8300, MD type 2; see nsh.h):
 *   nsh_push   adds attribute TLVs (safe=1 url=...), wrapping a plain frame in outer
 *              Ethernet + NSH or updating the NSH header a frame already has;
 *   nsh_pop    removes outer Ethernet + NSH, so legacy and external ports never see it;
 *   nsh_match  sends a frame to the gate of the first rule whose attribute it carries
 *              (with the given value, if any), rules by descending priority, then in
 *              the order added; others to the default gate.
 * A malformed NSH frame is dropped by push and pop (counted) and unmatched by match. */
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "../module.h"
#include "nsh.h"

/* --- nsh_push ------------------------------------------------------------- */

struct nsh_push {
	uint8_t n_tlvs;
	struct nsh_tlv tlvs[NSH_MAX_TLVS];
	bool set_spi, set_si;
	uint32_t spi;
	uint8_t si;
	uint64_t pushed, updated, malformed, no_room, unsupported;
};

/* Builds a push configuration from spi=, si= and attribute=value arguments. */
static int push_config(struct nsh_push *c, const struct e2_args *a, char *err)
{
	uint64_t v;
	uint16_t len = NSH_BASE_LEN;

	memset(c, 0, sizeof(*c));
	c->si = 255;
	if (e2_args_u64(a, "spi", 0, 0, 0xffffff, &v, err) < 0)
		return -1;
	c->set_spi = e2_args_get(a, "spi") != NULL;
	c->spi = (uint32_t)v;
	if (e2_args_u64(a, "si", 255, 0, 255, &v, err) < 0)
		return -1;
	c->set_si = e2_args_get(a, "si") != NULL;
	c->si = (uint8_t)v;
	for (size_t i = 0; a && i < a->n; i++) {
		struct nsh_tlv t;
		if (strcmp(a->v[i].key, "spi") == 0 || strcmp(a->v[i].key, "si") == 0)
			continue;
		if (nsh_attr_encode(a->v[i].key, a->v[i].value, &t, err) != 0)
			return -1;
		for (uint8_t j = 0; j < c->n_tlvs; j++)
			if (c->tlvs[j].type == t.type) {
				snprintf(err, E2_ERR_MAX, "attribute '%s' given twice", a->v[i].key);
				return -1;
			}
		if (c->n_tlvs == NSH_MAX_TLVS) {
			snprintf(err, E2_ERR_MAX, "at most %d attributes", NSH_MAX_TLVS);
			return -1;
		}
		c->tlvs[c->n_tlvs++] = t;
		len = (uint16_t)(len + nsh_tlv_space(t.len));
	}
	/* A plain frame gets Ethernet + NSH in front, which must fit the mbuf headroom. */
	if (sizeof(struct rte_ether_hdr) + len > RTE_PKTMBUF_HEADROOM) {
		snprintf(err, E2_ERR_MAX, "the attributes need %u bytes of NSH; at most %u fit in front of a frame",
			 len, (unsigned)(RTE_PKTMBUF_HEADROOM - sizeof(struct rte_ether_hdr)));
		return -1;
	}
	return 0;
}

static int push_init(struct e2_module *m, const struct e2_args *args, char *err)
{
	return push_config(e2_priv(m), args, err);
}

static void push_process(struct e2_ctx *ctx, struct e2_module *m, uint16_t igate, struct e2_batch *b)
{
	struct nsh_push *s = e2_priv(m);
	uint16_t gates[E2_BATCH_MAX];

	for (uint16_t i = 0; i < b->cnt; i++) {
		struct rte_mbuf *pkt = b->pkts[i];
		struct rte_ether_hdr eth;
		struct nsh_info h;
		uint16_t old_len = 0;
		int r = nsh_read(pkt, &eth, &h);

		gates[i] = 0;
		if (r < 0) {
			s->malformed++;
			gates[i] = UINT16_MAX; /* dropped */
			continue;
		}
		if (r == 0) {
			h.ttl = NSH_TTL_DEFAULT;
			h.next_proto = NSH_NP_ETHERNET;
			h.spi = s->spi;
			h.si = s->si;
			h.n_tlvs = 0;
		} else {
			if (h.md_type != NSH_MD_TYPE_2) {
				s->unsupported++;
				continue;
			}
			old_len = (uint16_t)(sizeof(eth) + h.hdr_len);
			if (s->set_spi)
				h.spi = s->spi;
			if (s->set_si)
				h.si = s->si;
		}
		bool full = false;
		for (uint8_t t = 0; t < s->n_tlvs; t++)
			full |= nsh_set_tlv(&h, &s->tlvs[t]) != 0;
		if (full || nsh_len_of(&h) > NSH_MAX_LEN || nsh_replace(pkt, old_len, &eth, &h) != 0) {
			s->no_room++;
			gates[i] = UINT16_MAX;
			continue;
		}
		if (r == 0)
			s->pushed++;
		else
			s->updated++;
	}
	e2_emit_split(ctx, m, b, gates);
}

static void push_stats(struct e2_module *m, struct e2_result *out)
{
	struct nsh_push *s = e2_priv(m);
	e2_result_add(out, "pushed", "%" PRIu64, s->pushed);
	e2_result_add(out, "updated", "%" PRIu64, s->updated);
	e2_result_add(out, "malformed", "%" PRIu64, s->malformed);
	e2_result_add(out, "no_room", "%" PRIu64, s->no_room);
	e2_result_add(out, "md_type1_passed", "%" PRIu64, s->unsupported);
}

static int push_cmd_set(struct e2_module *m, const struct e2_args *a, struct e2_result *out, char *err)
{
	struct nsh_push *s = e2_priv(m), c;
	if (push_config(&c, a, err) != 0)
		return -1;
	c.pushed = s->pushed;
	c.updated = s->updated;
	c.malformed = s->malformed;
	c.no_room = s->no_room;
	c.unsupported = s->unsupported;
	*s = c;
	return 0;
}

static int push_cmd_stats(struct e2_module *m, const struct e2_args *a, struct e2_result *out, char *err)
{
	push_stats(m, out);
	return 0;
}

static const struct e2_cmd push_cmds[] = {
	/* attribute names are the keys: push_config checks them */
	{.name = "set",
	 .help = "[spi=N] [si=N] [ATTR=VALUE...]: replaces the whole configuration",
	 .args = E2_ARGS_ANY,
	 .fn = push_cmd_set},
	{.name = "stats", .help = "counters", .args = E2_ARGS_NONE, .fn = push_cmd_stats},
	{0},
};

static const struct e2_module_class nsh_push_class = {
	.name = "nsh_push",
	.help = "adds NSH MD-type-2 attribute TLVs: [spi=N (0)] [si=N (255)] [safe=0|1] [url=BYTES] [tclass=N] "
		"[flow_id=N] [app=BYTES] [verdict=N] [t32..t127=BYTES|0xHEX]",
	.igates = 1,
	.ogates = 1,
	.priv_size = sizeof(struct nsh_push),
	.args = E2_ARGS_ANY,
	.init = push_init,
	.process_batch = push_process,
	.stats = push_stats,
	.cmds = push_cmds,
};
E2_MODULE_REGISTER(nsh_push_class)

/* --- nsh_pop -------------------------------------------------------------- */

struct nsh_pop {
	uint64_t popped, malformed;
};

static int pop_init(struct e2_module *m, const struct e2_args *args, char *err)
{
	return 0;
}

static void pop_process(struct e2_ctx *ctx, struct e2_module *m, uint16_t igate, struct e2_batch *b)
{
	struct nsh_pop *s = e2_priv(m);
	uint16_t gates[E2_BATCH_MAX];

	for (uint16_t i = 0; i < b->cnt; i++) {
		struct rte_ether_hdr eth;
		struct nsh_info h;
		int r = nsh_read(b->pkts[i], &eth, &h);
		gates[i] = 0;
		if (r == 0)
			continue;
		if (r < 0 || nsh_strip(b->pkts[i], &eth, &h) != 0) {
			s->malformed++;
			gates[i] = UINT16_MAX;
			continue;
		}
		s->popped++;
	}
	e2_emit_split(ctx, m, b, gates);
}

static void pop_stats(struct e2_module *m, struct e2_result *out)
{
	struct nsh_pop *s = e2_priv(m);
	e2_result_add(out, "popped", "%" PRIu64, s->popped);
	e2_result_add(out, "malformed", "%" PRIu64, s->malformed);
}

static const struct e2_module_class nsh_pop_class = {
	.name = "nsh_pop",
	.help = "removes outer Ethernet + NSH (other frames pass unchanged; malformed NSH is dropped)",
	.igates = 1,
	.ogates = 1,
	.priv_size = sizeof(struct nsh_pop),
	.args = E2_ARGS_NONE,
	.init = pop_init,
	.process_batch = pop_process,
	.stats = pop_stats,
};
E2_MODULE_REGISTER(nsh_pop_class)

/* --- nsh_match ------------------------------------------------------------ */

#define MATCH_RULES_MAX 64

struct match_rule {
	struct nsh_tlv want; /* type, and value if has_value */
	bool has_value;
	uint16_t gate;
	uint32_t priority;
	uint64_t seq, matches;
	char text[160];
};

/* A rule as the packet path reads it: all rules' tests share two cache lines.
 * Values of up to 8 bytes compare as one masked 64-bit word. */
struct match_test {
	uint64_t val64, mask64;
	uint8_t type, len;
	bool has_value, short_value;
	uint16_t gate;
};

/* The common frame carries one TLV: if it is the top rule's, that rule decides and the
 * header length alone proves the frame well formed. TLV header and a value of up to 4
 * bytes are one 8-byte word; `space` is the whole header's length for that TLV. */
struct match_first {
	uint64_t pattern, mask;
	uint16_t hdr_len; /* 0: no shortcut (no rules, or a value longer than 4 bytes) */
};

struct nsh_match {
	uint32_t n_rules; /* priority descending, then seq ascending */
	uint16_t default_gate;
	struct match_first first;
	struct match_test tests[MATCH_RULES_MAX]; /* compiled from rules[], same order */
	uint64_t hits[MATCH_RULES_MAX];           /* per test, folded into rules[] on change */
	uint64_t misses, not_nsh;
	struct match_rule rules[MATCH_RULES_MAX];
	uint64_t next_seq;
};

/* Rules change only while the worker is paused: fold the packet path's counters in,
 * then let the caller reorder rules[], then compile again. */
static void fold_hits(struct nsh_match *s)
{
	for (uint32_t i = 0; i < s->n_rules; i++) {
		s->rules[i].matches += s->hits[i];
		s->hits[i] = 0;
	}
}

static void compile_first(struct nsh_match *s)
{
	uint8_t pat[8] = {E2_NSH_CLASS >> 8, E2_NSH_CLASS & 0xff}, msk[8] = {0xff, 0xff, 0xff};
	const struct match_rule *r = &s->rules[0];

	memset(&s->first, 0, sizeof(s->first));
	if (!s->n_rules || !r->has_value || r->want.len > 4)
		return; /* presence-only rules accept any length: the general scan decides */
	pat[2] = r->want.type;
	pat[3] = r->want.len;
	msk[3] = 0x7f; /* the length's top bit is not part of it */
	memcpy(pat + 4, r->want.val, r->want.len);
	memset(msk + 4, 0xff, r->want.len);
	memcpy(&s->first.pattern, pat, 8);
	memcpy(&s->first.mask, msk, 8);
	s->first.hdr_len = (uint16_t)(NSH_BASE_LEN + nsh_tlv_space(r->want.len));
}

static void compile_rules(struct nsh_match *s)
{
	compile_first(s);
	for (uint32_t i = 0; i < s->n_rules; i++) {
		const struct match_rule *r = &s->rules[i];
		struct match_test *t = &s->tests[i];
		memset(t, 0, sizeof(*t));
		t->type = r->want.type;
		t->len = r->want.len;
		t->has_value = r->has_value;
		t->gate = r->gate;
		t->short_value = r->has_value && r->want.len <= 8;
		if (t->short_value) {
			memcpy(&t->val64, r->want.val, r->want.len);
			t->mask64 = r->want.len == 8 ? UINT64_MAX : (1ULL << (8 * r->want.len)) - 1;
		}
	}
}

static int match_init(struct e2_module *m, const struct e2_args *args, char *err)
{
	struct nsh_match *s = e2_priv(m);
	uint64_t def;
	if (e2_args_u64(args, "default", 0, 0, E2_GATES_MAX - 1, &def, err) < 0)
		return -1;
	s->default_gate = (uint16_t)def;
	return 0;
}

/* The common case, without building a view: an NSH header in the first segment is
 * scanned in place for each rule. Returns 1 (NSH; *k is the matching rule or n_rules),
 * 0 (not NSH) or -1 (malformed or split: the general path decides). */
static inline int match_in_place(const struct nsh_match *s, const struct rte_mbuf *pkt, uint32_t *k)
{
	const uint8_t *d = rte_pktmbuf_mtod(pkt, const uint8_t *), *p;
	uint64_t decided = 0; /* rules whose attribute TLV was already seen (the first one counts) */
	uint32_t best = s->n_rules;
	uint16_t hdr_len;

	if (unlikely(pkt->data_len < sizeof(struct rte_ether_hdr) + NSH_BASE_LEN))
		return -1;
	if (d[12] != 0x89 || d[13] != 0x4f)
		return 0;
	p = d + sizeof(struct rte_ether_hdr);
	hdr_len = (uint16_t)((p[1] & 0x3f) * 4);
	if (unlikely((p[0] >> 6) != 0 || (p[2] & 0xf) != NSH_MD_TYPE_2 || hdr_len < NSH_BASE_LEN ||
		     hdr_len > pkt->data_len - sizeof(struct rte_ether_hdr)))
		return -1;
	/* 8-byte loads of a value stay inside the segment's data */
	const uint8_t *load_end = d + pkt->data_len - 8;
	if (hdr_len == s->first.hdr_len && p + NSH_BASE_LEN <= load_end) {
		uint64_t w;
		memcpy(&w, p + NSH_BASE_LEN, 8);
		if (((w ^ s->first.pattern) & s->first.mask) == 0) {
			*k = 0;
			return 1;
		}
	}
	/* one pass: validate every TLV (as the general parser does) and match as we go */
	for (uint16_t off = NSH_BASE_LEN, n = 0; off < hdr_len; n++) {
		if (unlikely(off + 4 > hdr_len || n == NSH_MAX_TLVS))
			return -1;
		const uint8_t *tlv = p + off;
		uint8_t len = tlv[3] & 0x7f;
		if (unlikely(off + nsh_tlv_space(len) > hdr_len))
			return -1;
		if ((uint16_t)(tlv[0] << 8 | tlv[1]) == E2_NSH_CLASS)
			for (uint32_t r = 0; r < best; r++) {
				const struct match_test *t = &s->tests[r];
				if (tlv[2] != t->type || (decided >> r) & 1)
					continue;
				decided |= 1ULL << r;
				bool hit;
				if (!t->has_value) {
					hit = true;
				} else if (len != t->len) {
					hit = false;
				} else if (likely(t->short_value && tlv + 4 <= load_end)) {
					uint64_t v;
					memcpy(&v, tlv + 4, 8);
					hit = ((v ^ t->val64) & t->mask64) == 0;
				} else {
					hit = memcmp(tlv + 4, s->rules[r].want.val, len) == 0;
				}
				if (hit)
					best = r;
			}
		off = (uint16_t)(off + nsh_tlv_space(len));
	}
	*k = best;
	return 1;
}

/* Frames the in-place matcher leaves (headers split over segments, or malformed): the
 * view, or the copying parser, decides. Returns the rule matched, n_rules for no rule,
 * or -1 for a frame that is not (valid) NSH. Kept out of line: it is rare. */
static __attribute__((noinline)) int32_t match_slow(const struct nsh_match *s, const struct rte_mbuf *pkt)
{
	struct nsh_view v;
	int r = nsh_view(pkt, &v);
	uint32_t k;

	if (unlikely(r < 0)) {
		struct rte_ether_hdr eth;
		static __thread struct nsh_info h;
		r = nsh_read(pkt, &eth, &h) == 1 ? 1 : 0;
		v.n = 0;
		for (uint8_t t = 0; r == 1 && t < h.n_tlvs; t++, v.n++) {
			v.cls[t] = h.tlvs[t].cls;
			v.type[t] = h.tlvs[t].type;
			v.len[t] = h.tlvs[t].len;
			v.val[t] = h.tlvs[t].val;
		}
	}
	if (r != 1)
		return -1;
	for (k = 0; k < s->n_rules; k++) {
		const struct match_rule *rule = &s->rules[k];
		uint8_t t;
		for (t = 0; t < v.n && !(v.type[t] == rule->want.type && v.cls[t] == E2_NSH_CLASS); t++)
			;
		if (t < v.n && (!rule->has_value ||
				(v.len[t] == rule->want.len && memcmp(v.val[t], rule->want.val, v.len[t]) == 0)))
			break;
	}
	return (int32_t)k;
}

static void match_process(struct e2_ctx *ctx, struct e2_module *m, uint16_t igate, struct e2_batch *b)
{
	struct nsh_match *s = e2_priv(m);
	const uint32_t n_rules = s->n_rules;
	uint16_t gates[E2_BATCH_MAX];
	/* per batch, in registers and the stack rather than the module's counters:
	 * [rule] hits, [n_rules] misses, [n_rules + 1] frames without NSH */
	uint16_t count[MATCH_RULES_MAX + 2];

	memset(count, 0, (n_rules + 2) * sizeof(count[0]));
	for (uint16_t i = 0; i < b->cnt; i++) {
		uint32_t k;
		int fast = match_in_place(s, b->pkts[i], &k);
		if (unlikely(fast != 1)) {
			int32_t slow = fast == 0 ? -1 : match_slow(s, b->pkts[i]);
			k = slow < 0 ? n_rules + 1 : (uint32_t)slow;
		}
		gates[i] = k < n_rules ? s->tests[k].gate : s->default_gate;
		count[k]++;
	}
	for (uint32_t k = 0; k < n_rules; k++)
		s->hits[k] += count[k];
	s->misses += count[n_rules];
	s->not_nsh += count[n_rules + 1];
	e2_emit_split(ctx, m, b, gates);
}

static int rule_cmp(const void *a, const void *b)
{
	const struct match_rule *x = a, *y = b;
	if (x->priority != y->priority)
		return x->priority > y->priority ? -1 : 1;
	return (x->seq > y->seq) - (x->seq < y->seq);
}

/* attr=NAME [value=V]: the TLV to look for. */
static int parse_match(const struct e2_args *a, struct match_rule *r, char *err)
{
	const char *attr = e2_args_get(a, "attr"), *value = e2_args_get(a, "value");
	uint8_t width;

	memset(r, 0, sizeof(*r));
	if (!attr) {
		snprintf(err, E2_ERR_MAX, "needs attr=NAME [value=V]");
		return -1;
	}
	if (value) {
		if (nsh_attr_encode(attr, value, &r->want, err) != 0)
			return -1;
		r->has_value = true;
		snprintf(r->text, sizeof(r->text), "%s=%s", attr, value);
	} else if (nsh_attr_lookup(attr, &r->want.type, &width) != 0) {
		nsh_attr_encode(attr, "", &r->want, err); /* for its message listing the attributes */
		return -1;
	} else {
		snprintf(r->text, sizeof(r->text), "%s present", attr);
	}
	return 0;
}

static bool same_match(const struct match_rule *x, const struct match_rule *y)
{
	return x->want.type == y->want.type && x->has_value == y->has_value &&
	       (!x->has_value || (x->want.len == y->want.len && memcmp(x->want.val, y->want.val, x->want.len) == 0));
}

static int match_cmd_add(struct e2_module *m, const struct e2_args *a, struct e2_result *out, char *err)
{
	struct nsh_match *s = e2_priv(m);
	struct match_rule r;
	uint64_t gate, prio;

	if (parse_match(a, &r, err) || e2_args_u64(a, "priority", 0, 0, UINT32_MAX, &prio, err) < 0)
		return -1;
	if (e2_args_u64(a, "gate", 0, 0, E2_GATES_MAX - 1, &gate, err) != 0) {
		if (!e2_args_get(a, "gate"))
			snprintf(err, E2_ERR_MAX, "add needs gate=N");
		return -1;
	}
	for (uint32_t i = 0; i < s->n_rules; i++)
		if (same_match(&s->rules[i], &r)) {
			snprintf(err, E2_ERR_MAX, "a rule for %s exists already (gate %u)", r.text, s->rules[i].gate);
			return -1;
		}
	if (s->n_rules == MATCH_RULES_MAX) {
		snprintf(err, E2_ERR_MAX, "at most %d rules", MATCH_RULES_MAX);
		return -1;
	}
	r.gate = (uint16_t)gate;
	r.priority = (uint32_t)prio;
	r.seq = s->next_seq++;
	fold_hits(s);
	s->rules[s->n_rules++] = r;
	qsort(s->rules, s->n_rules, sizeof(s->rules[0]), rule_cmp);
	compile_rules(s);
	return 0;
}

static int match_cmd_delete(struct e2_module *m, const struct e2_args *a, struct e2_result *out, char *err)
{
	struct nsh_match *s = e2_priv(m);
	struct match_rule r;

	if (parse_match(a, &r, err))
		return -1;
	for (uint32_t i = 0; i < s->n_rules; i++)
		if (same_match(&s->rules[i], &r)) {
			fold_hits(s);
			memmove(&s->rules[i], &s->rules[i + 1], (s->n_rules - i - 1) * sizeof(r));
			s->n_rules--;
			compile_rules(s);
			return 0;
		}
	snprintf(err, E2_ERR_MAX, "no rule for %s", r.text);
	return -1;
}

static void match_stats(struct e2_module *m, struct e2_result *out)
{
	struct nsh_match *s = e2_priv(m);
	e2_result_add(out, "rules", "%u", s->n_rules);
	e2_result_add(out, "misses", "%" PRIu64, s->misses);
	e2_result_add(out, "not_nsh", "%" PRIu64, s->not_nsh);
	for (uint32_t i = 0; i < s->n_rules && i < 48; i++) {
		char key[16];
		snprintf(key, sizeof(key), "rule%u", i);
		e2_result_add(out, key, "%s gate=%u priority=%u matches=%" PRIu64, s->rules[i].text, s->rules[i].gate,
			      s->rules[i].priority, s->rules[i].matches + s->hits[i]);
	}
}

static int match_cmd_list(struct e2_module *m, const struct e2_args *a, struct e2_result *out, char *err)
{
	match_stats(m, out);
	return 0;
}

static const struct e2_cmd match_cmds[] = {
	{.name = "add",
	 .help = "attr=NAME [value=V] gate=N [priority=P (0)]",
	 .args = E2_ARGS("attr", "value", "gate", "priority"),
	 .fn = match_cmd_add},
	{.name = "delete", .help = "attr=NAME [value=V]", .args = E2_ARGS("attr", "value"), .fn = match_cmd_delete},
	{.name = "list",
	 .help = "rules in evaluation order with match counts",
	 .args = E2_ARGS_NONE,
	 .fn = match_cmd_list},
	{0},
};

static const struct e2_module_class nsh_match_class = {
	.name = "nsh_match",
	.help = "NSH attribute -> gate: [default=GATE (0)]",
	.igates = 1,
	.ogates = E2_GATES_MAX,
	.priv_size = sizeof(struct nsh_match),
	.args = E2_ARGS("default"),
	.init = match_init,
	.process_batch = match_process,
	.stats = match_stats,
	.cmds = match_cmds,
};
E2_MODULE_REGISTER(nsh_match_class)
