/* SPDX-License-Identifier: BSD-3-Clause */
/* hmatch: header match on up to 8 fields, each LEN (1..8) bytes at OFFset from the
 * start of the frame, optionally masked. Rules give a value per field and, for
 * wildcard rules, a mask per field; the highest-priority matching rule picks the
 * output gate, misses go to the default gate.
 *
 * Rules with the same mask share one rte_hash (tuple-space search), so the
 * common all-exact case costs one bulk lookup per batch. */
#include <arpa/inet.h>
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <rte_errno.h>
#include <rte_ether.h>
#include <rte_hash.h>
#include <rte_hash_crc.h>

#include "../module.h"
#include "e2/num.h"

#define MAX_FIELDS 8
#define MAX_GROUPS 16
/* With this many rules or fewer, comparing against each one beats a hash lookup. */
#define LINEAR_MAX 8

struct field {
	uint16_t offset;
	uint8_t len;
	uint8_t shift; /* 64 - 8 * len: the field out of the 8 bytes at its offset */
	uint64_t mask;
};

struct group {
	uint64_t mask[MAX_FIELDS];
	struct rte_hash *table;
	uint32_t n_rules;
	uint32_t max_priority;
};

struct linear_rule {
	uint64_t key[MAX_FIELDS];
	uint64_t mask[MAX_FIELDS];
	uint16_t gate;
	uint32_t priority;
};

struct hmatch {
	uint32_t n_fields;
	uint32_t n_rules;
	/* a copy of the rules, highest priority first, used while n_rules <= LINEAR_MAX */
	struct linear_rule linear[LINEAR_MAX];
	struct field fields[MAX_FIELDS];
	uint32_t n_groups; /* sorted by max_priority, highest first */
	struct group groups[MAX_GROUPS];
	uint32_t table_size;
	uint16_t default_gate;
	uint32_t key_len;
	uint32_t wide_end; /* a frame this long has 8 bytes at every field's offset */
	uint64_t misses;
};

static uint64_t len_mask(uint8_t len)
{
	return len == 8 ? UINT64_MAX : ((1ULL << (8 * len)) - 1);
}

static int parse_u64(const char *s, uint64_t *v)
{
	char *end;
	errno = 0;
	*v = strtoull(s, &end, 0);
	return (errno || end == s || *end || *s == '-') ? -1 : 0;
}

/* A field value: an integer, or a dotted IPv4 address / a MAC for 4- and 6-byte fields. */
static int parse_value(const char *s, uint8_t len, uint64_t *v)
{
	if (len == 4 && strchr(s, '.')) {
		struct in_addr a;
		if (inet_pton(AF_INET, s, &a) != 1)
			return -1;
		*v = ntohl(a.s_addr);
		return 0;
	}
	if (len == 6 && strchr(s, ':')) {
		struct rte_ether_addr a;
		if (rte_ether_unformat_addr(s, &a) != 0)
			return -1;
		*v = 0;
		for (int i = 0; i < 6; i++)
			*v = (*v << 8) | a.addr_bytes[i];
		return 0;
	}
	if (parse_u64(s, v) != 0)
		return -1;
	return (*v & ~len_mask(len)) ? -1 : 0;
}

static int parse_fields(struct hmatch *s, const char *spec, char *err)
{
	char buf[512], *save = NULL;

	if (!spec || !*spec) {
		snprintf(err, E2_ERR_MAX, "hmatch needs fields=OFF:LEN[/MASK],... (e.g. fields=12:2,23:1)");
		return -1;
	}
	snprintf(buf, sizeof(buf), "%s", spec);
	for (char *tok = strtok_r(buf, ",", &save); tok; tok = strtok_r(NULL, ",", &save)) {
		uint32_t off, len;
		struct field *f;
		char *colon = strchr(tok, ':'), *mask = colon ? strchr(colon, '/') : NULL;

		if (s->n_fields == MAX_FIELDS) {
			snprintf(err, E2_ERR_MAX, "at most %d fields", MAX_FIELDS);
			return -1;
		}
		if (colon)
			*colon = '\0';
		if (mask)
			*mask = '\0';
		bool bad = !colon || e2_num_u32("OFF", tok, 0, 1500, &off, NULL) ||
			   e2_num_u32("LEN", colon + 1, 1, 8, &len, NULL);
		if (colon)
			*colon = ':';
		if (mask)
			*mask = '/';
		if (bad) {
			snprintf(err, E2_ERR_MAX, "field '%s' is not OFF:LEN with OFF <= 1500 and LEN in 1..8", tok);
			return -1;
		}
		f = &s->fields[s->n_fields++];
		f->offset = (uint16_t)off;
		f->len = (uint8_t)len;
		f->shift = (uint8_t)(64 - 8 * len);
		f->mask = len_mask(f->len);
		if (f->offset + 8u > s->wide_end)
			s->wide_end = f->offset + 8u;
		if (mask && parse_value(mask + 1, f->len, &f->mask) != 0) {
			snprintf(err, E2_ERR_MAX, "field '%s': bad mask", tok);
			return -1;
		}
	}
	s->key_len = s->n_fields * sizeof(uint64_t);
	return 0;
}

static const char *const known[] = {"fields", "default", "size", NULL};

static int hmatch_init(struct e2_module *m, const struct e2_args *args, char *err)
{
	struct hmatch *s = e2_priv(m);
	uint64_t def, size;

	if (parse_fields(s, e2_args_get(args, "fields"), err) ||
	    e2_args_u64(args, "default", E2_GATES_MAX - 1, 0, E2_GATES_MAX - 1, &def, err) < 0 ||
	    e2_args_u64(args, "size", 4096, 16, 1 << 22, &size, err) < 0)
		return -1;
	s->default_gate = (uint16_t)def;
	s->table_size = (uint32_t)size;
	return 0;
}

static void hmatch_deinit(struct e2_module *m)
{
	struct hmatch *s = e2_priv(m);
	for (uint32_t g = 0; g < s->n_groups; g++)
		rte_hash_free(s->groups[g].table);
}

/* Extracts the masked fields of a frame's first data_len bytes; returns false if they
 * are too few. */
static inline __attribute__((always_inline)) bool extract(const struct hmatch *s, const uint8_t *data,
							  uint32_t data_len, uint64_t *key)
{
	/* Nearly every frame is long enough to read each field as one 8-byte load,
	 * shifted down: no per-length branch (the switch below cost most of the
	 * module's cycles at 64 bytes). */
	if (likely(data_len >= s->wide_end)) {
		for (uint32_t f = 0; f < s->n_fields; f++) {
			const struct field *fd = &s->fields[f];
			uint64_t w;
			memcpy(&w, data + fd->offset, 8);
			key[f] = (rte_be_to_cpu_64(w) >> fd->shift) & fd->mask;
		}
		return true;
	}
	for (uint32_t f = 0; f < s->n_fields; f++) {
		const struct field *fd = &s->fields[f];
		const uint8_t *p = data + fd->offset;
		uint64_t v = 0;
		if (unlikely(fd->offset + fd->len > data_len))
			return false;
		/* fields sit at any offset: memcpy is the defined unaligned load (one mov) */
		uint16_t v16;
		uint32_t v32;
		switch (fd->len) {
		case 1: v = p[0]; break;
		case 2:
			memcpy(&v16, p, 2);
			v = rte_be_to_cpu_16(v16);
			break;
		case 4:
			memcpy(&v32, p, 4);
			v = rte_be_to_cpu_32(v32);
			break;
		case 8:
			memcpy(&v, p, 8);
			v = rte_be_to_cpu_64(v);
			break;
		default:
			for (uint8_t i = 0; i < fd->len; i++)
				v = (v << 8) | p[i];
		}
		key[f] = v & fd->mask;
	}
	return true;
}

/* The first of the (at most LINEAR_MAX) rules a frame's fields match, or -1. */
static inline __attribute__((always_inline)) int linear_find(const struct hmatch *s, uint32_t n_rules,
							     uint32_t n_fields, const uint64_t *key)
{
	for (uint32_t r = 0; r < n_rules; r++) {
		const struct linear_rule *lr = &s->linear[r];
		uint64_t diff = 0;
		for (uint32_t f = 0; f < n_fields; f++)
			diff |= (key[f] & lr->mask[f]) ^ lr->key[f];
		if (!diff)
			return (int)r;
	}
	return -1;
}

static void hmatch_process(struct e2_ctx *ctx, struct e2_module *m, uint16_t igate, struct e2_batch *b)
{
	struct hmatch *s = e2_priv(m);
	uint64_t raw[E2_BATCH_MAX][MAX_FIELDS];
	uint64_t keys[E2_BATCH_MAX][MAX_FIELDS];
	const void *kp[E2_BATCH_MAX];
	void *data[E2_BATCH_MAX];
	uint32_t best[E2_BATCH_MAX]; /* priority + 1 of the best match so far; 0 = none */
	uint16_t gates[E2_BATCH_MAX];
	uint64_t valid = 0;

	if (s->n_rules <= LINEAR_MAX) {
		const uint32_t n_rules = s->n_rules, n_fields = s->n_fields;
		uint64_t misses = 0;
		for (uint16_t i = 0; i < b->cnt; i++) {
			uint64_t key[MAX_FIELDS];
			uint16_t g = s->default_gate;
			bool hit = false;
			if (likely(extract(s, rte_pktmbuf_mtod(b->pkts[i], const uint8_t *), b->pkts[i]->data_len,
					   key))) {
				int r = linear_find(s, n_rules, n_fields, key);
				if (r >= 0) {
					g = s->linear[r].gate;
					hit = true;
				}
			}
			/* a rule may send to the default gate too: count what matched no rule */
			misses += !hit;
			gates[i] = g;
		}
		s->misses += misses;
		e2_emit_split(ctx, m, b, gates);
		return;
	}

	for (uint16_t i = 0; i < b->cnt; i++) {
		if (extract(s, rte_pktmbuf_mtod(b->pkts[i], const uint8_t *), b->pkts[i]->data_len, raw[i]))
			valid |= 1ULL << i;
		best[i] = 0;
		gates[i] = s->default_gate;
		kp[i] = keys[i];
	}
	for (uint32_t g = 0; g < s->n_groups; g++) {
		const struct group *gr = &s->groups[g];
		uint64_t hits = 0;
		for (uint16_t i = 0; i < b->cnt; i++)
			for (uint32_t f = 0; f < s->n_fields; f++)
				keys[i][f] = raw[i][f] & gr->mask[f];
		rte_hash_lookup_bulk_data(gr->table, kp, b->cnt, &hits, data);
		hits &= valid;
		while (hits) {
			unsigned i = (unsigned)__builtin_ctzll(hits);
			uintptr_t d = (uintptr_t)data[i];
			uint32_t prio = (uint32_t)(d >> 16) + 1;
			hits &= hits - 1;
			if (prio > best[i]) {
				best[i] = prio;
				gates[i] = (uint16_t)(d & 0xffff);
			}
		}
	}
	for (uint16_t i = 0; i < b->cnt; i++)
		s->misses += best[i] == 0;
	e2_emit_split(ctx, m, b, gates);
}

/* One frame in place (the single-copy path), decided as hmatch_process decides it. */
static inline int classify_one(struct hmatch *s, const struct e2_frame_head *fr)
{
	uint64_t raw[MAX_FIELDS];

	if (unlikely(!extract(s, fr->data, fr->head_len, raw))) {
		if (fr->head_len < fr->len)
			return -1; /* a field lies past the bytes we were shown */
		s->misses++;
		return s->default_gate;
	}
	if (s->n_rules <= LINEAR_MAX) {
		int r = linear_find(s, s->n_rules, s->n_fields, raw);
		if (r >= 0)
			return s->linear[r].gate;
		s->misses++;
		return s->default_gate;
	}
	uint32_t best = 0;
	uint16_t gate = s->default_gate;
	for (uint32_t g = 0; g < s->n_groups; g++) {
		const struct group *gr = &s->groups[g];
		uint64_t key[MAX_FIELDS] = {0};
		void *data;
		for (uint32_t f = 0; f < s->n_fields; f++)
			key[f] = raw[f] & gr->mask[f];
		if (rte_hash_lookup_data(gr->table, key, &data) >= 0) {
			uintptr_t d = (uintptr_t)data;
			uint32_t prio = (uint32_t)(d >> 16) + 1;
			if (prio > best) {
				best = prio;
				gate = (uint16_t)(d & 0xffff);
			}
		}
	}
	s->misses += best == 0;
	return gate;
}

static void hmatch_classify(struct e2_module *m, const struct e2_frame_head *const *frames, uint16_t n, int16_t *gates)
{
	struct hmatch *s = e2_priv(m);

	for (uint16_t i = 0; i < n; i++)
		gates[i] = (int16_t)classify_one(s, frames[i]);
}

/* Parses values= and masks= of a rule into masked key and mask arrays. */
static int parse_rule(struct hmatch *s, const struct e2_args *a, uint64_t *key, uint64_t *mask, char *err)
{
	const char *vals = e2_args_get(a, "values"), *masks = e2_args_get(a, "masks");
	char vbuf[512], mbuf[512], *vs = NULL, *ms = NULL, *vt, *mt = NULL;
	uint32_t f = 0;

	if (!vals) {
		snprintf(err, E2_ERR_MAX, "rule needs values=V1,...,V%u (one per field)", s->n_fields);
		return -1;
	}
	snprintf(vbuf, sizeof(vbuf), "%s", vals);
	snprintf(mbuf, sizeof(mbuf), "%s", masks ? masks : "");
	vt = strtok_r(vbuf, ",", &vs);
	if (masks)
		mt = strtok_r(mbuf, ",", &ms);
	for (; vt; vt = strtok_r(NULL, ",", &vs), f++) {
		if (f == s->n_fields) {
			snprintf(err, E2_ERR_MAX, "more values than the %u fields", s->n_fields);
			return -1;
		}
		if (parse_value(vt, s->fields[f].len, &key[f]) != 0) {
			snprintf(err, E2_ERR_MAX, "value '%s' does not fit field %u (%u bytes)", vt, f,
				 s->fields[f].len);
			return -1;
		}
		mask[f] = s->fields[f].mask;
		if (masks) {
			uint64_t mv;
			if (!mt || parse_value(mt, s->fields[f].len, &mv) != 0) {
				snprintf(err, E2_ERR_MAX, "masks= needs one valid mask per field (field %u)", f);
				return -1;
			}
			mask[f] &= mv;
			mt = strtok_r(NULL, ",", &ms);
		}
		key[f] &= mask[f];
	}
	if (f != s->n_fields) {
		snprintf(err, E2_ERR_MAX, "%u values given for %u fields", f, s->n_fields);
		return -1;
	}
	if (masks && mt) {
		snprintf(err, E2_ERR_MAX, "more masks than fields");
		return -1;
	}
	return 0;
}

static struct group *find_group(struct hmatch *s, const uint64_t *mask)
{
	for (uint32_t g = 0; g < s->n_groups; g++)
		if (memcmp(s->groups[g].mask, mask, s->n_fields * sizeof(uint64_t)) == 0)
			return &s->groups[g];
	return NULL;
}

static int group_cmp(const void *a, const void *b)
{
	const struct group *x = a, *y = b;
	return (x->max_priority < y->max_priority) - (x->max_priority > y->max_priority);
}

static int linear_cmp(const void *a, const void *b)
{
	const struct linear_rule *x = a, *y = b;
	return (x->priority < y->priority) - (x->priority > y->priority);
}

/* Recomputes the rule count and, for small rule sets, the linear copy. */
static void rebuild_linear(struct hmatch *s)
{
	uint32_t n = 0;

	for (uint32_t g = 0; g < s->n_groups; g++)
		n += s->groups[g].n_rules;
	s->n_rules = n;
	if (n > LINEAR_MAX)
		return;
	n = 0;
	for (uint32_t g = 0; g < s->n_groups; g++) {
		const void *key;
		void *data;
		uint32_t it = 0;
		while (rte_hash_iterate(s->groups[g].table, &key, &data, &it) >= 0 && n < LINEAR_MAX) {
			struct linear_rule *lr = &s->linear[n++];
			memcpy(lr->key, key, s->key_len);
			memcpy(lr->mask, s->groups[g].mask, s->key_len);
			lr->gate = (uint16_t)((uintptr_t)data & 0xffff);
			lr->priority = (uint32_t)((uintptr_t)data >> 16);
		}
	}
	qsort(s->linear, n, sizeof(s->linear[0]), linear_cmp);
}

static const char *const rule_keys[] = {"values", "masks", "gate", "priority", NULL};

static int cmd_add(struct e2_module *m, const struct e2_args *a, struct e2_result *out, char *err)
{
	struct hmatch *s = e2_priv(m);
	uint64_t key[MAX_FIELDS], mask[MAX_FIELDS], gate, prio;
	struct group *gr;

	if (parse_rule(s, a, key, mask, err) || e2_args_u64(a, "gate", 0, 0, E2_GATES_MAX - 1, &gate, err) < 0 ||
	    e2_args_u64(a, "priority", 0, 0, 65535, &prio, err) < 0)
		return -1;
	if (!e2_args_get(a, "gate")) {
		snprintf(err, E2_ERR_MAX, "add needs gate=N");
		return -1;
	}
	gr = find_group(s, mask);
	if (!gr) {
		char name[RTE_HASH_NAMESIZE];
		if (s->n_groups == MAX_GROUPS) {
			snprintf(err, E2_ERR_MAX, "at most %d distinct masks", MAX_GROUPS);
			return -1;
		}
		snprintf(name, sizeof(name), "hm%p_%u", (void *)m, s->n_groups);
		struct rte_hash_parameters p = {
			.name = name,
			.entries = s->table_size,
			.key_len = s->key_len,
			.hash_func = rte_hash_crc,
			.socket_id = SOCKET_ID_ANY,
		};
		struct rte_hash *t = rte_hash_create(&p);
		if (!t) {
			snprintf(err, E2_ERR_MAX, "cannot create a rule table: %s", rte_strerror(rte_errno));
			return -1;
		}
		gr = &s->groups[s->n_groups++];
		memset(gr, 0, sizeof(*gr));
		memcpy(gr->mask, mask, s->n_fields * sizeof(uint64_t));
		gr->table = t;
	}
	bool existed = rte_hash_lookup(gr->table, key) >= 0;
	if (rte_hash_add_key_data(gr->table, key, (void *)(uintptr_t)((prio << 16) | gate)) != 0) {
		snprintf(err, E2_ERR_MAX, "rule table is full (size=%u)", s->table_size);
		return -1;
	}
	if (!existed)
		gr->n_rules++;
	if (prio > gr->max_priority)
		gr->max_priority = (uint32_t)prio;
	qsort(s->groups, s->n_groups, sizeof(s->groups[0]), group_cmp);
	rebuild_linear(s);
	return 0;
}

static int cmd_delete(struct e2_module *m, const struct e2_args *a, struct e2_result *out, char *err)
{
	struct hmatch *s = e2_priv(m);
	uint64_t key[MAX_FIELDS], mask[MAX_FIELDS];
	struct group *gr;

	if (parse_rule(s, a, key, mask, err))
		return -1;
	gr = find_group(s, mask);
	if (!gr || rte_hash_del_key(gr->table, key) < 0) {
		snprintf(err, E2_ERR_MAX, "no such rule");
		return -1;
	}
	if (--gr->n_rules == 0) {
		rte_hash_free(gr->table);
		*gr = s->groups[--s->n_groups];
		qsort(s->groups, s->n_groups, sizeof(s->groups[0]), group_cmp);
	}
	rebuild_linear(s);
	return 0;
}

static int cmd_clear(struct e2_module *m, const struct e2_args *a, struct e2_result *out, char *err)
{
	struct hmatch *s = e2_priv(m);
	hmatch_deinit(m);
	s->n_groups = 0;
	s->n_rules = 0;
	return 0;
}

static void hmatch_stats(struct e2_module *m, struct e2_result *out)
{
	struct hmatch *s = e2_priv(m);
	e2_result_add(out, "rules", "%u", s->n_rules);
	e2_result_add(out, "masks", "%u", s->n_groups);
	e2_result_add(out, "misses", "%llu", (unsigned long long)s->misses);
}

static int cmd_stats(struct e2_module *m, const struct e2_args *a, struct e2_result *out, char *err)
{
	hmatch_stats(m, out);
	return 0;
}

static const struct e2_cmd hmatch_cmds[] = {
	{.name = "add", .help = "values=V,.. [masks=M,..] gate=N [priority=P]", .args = rule_keys, .fn = cmd_add},
	{.name = "delete", .help = "values=V,.. [masks=M,..]", .args = E2_ARGS("values", "masks"), .fn = cmd_delete},
	{.name = "clear", .help = "remove every rule", .args = E2_ARGS_NONE, .fn = cmd_clear},
	{.name = "stats", .help = "rules, masks, misses", .thread_safe = true, .args = E2_ARGS_NONE, .fn = cmd_stats},
	{0},
};

static const struct e2_module_class hmatch = {
	.name = "hmatch",
	.help = "exact/wildcard header match: fields=OFF:LEN[/MASK],... [default=GATE] [size=N]",
	.igates = 1,
	.ogates = E2_GATES_MAX,
	.priv_size = sizeof(struct hmatch),
	.args = known,
	.init = hmatch_init,
	.deinit = hmatch_deinit,
	.process_batch = hmatch_process,
	.classify = hmatch_classify,
	.stats = hmatch_stats,
	.cmds = hmatch_cmds,
};
E2_MODULE_REGISTER(hmatch)
