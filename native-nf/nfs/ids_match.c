/* SPDX-License-Identifier: BSD-3-Clause */
/* Content matching for e2nf-ids (ids_match.h): Hyperscan streaming databases, one per
 * direction, or the portable Aho-Corasick DFAs (two per direction: case-sensitive
 * contents and caseless ones, the latter built on lower case and reading upper case as
 * lower). */
#include <ctype.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "ids_match.h"

#ifdef E2_HAVE_HYPERSCAN
#include <hs/hs.h>
#endif

#define NONE UINT32_MAX

struct ac {
	uint32_t *next;     /* n_states x 256 */
	uint32_t *out;      /* first pattern ending here, NONE */
	uint32_t *dict;     /* the nearest state down the failure chain with a pattern, NONE */
	uint32_t *pat_next; /* the next pattern ending in the same state */
	uint32_t *pat_rule;
	uint32_t n_states;
};

struct ids_engine {
	enum ids_matcher_kind kind;
	const struct ids_ruleset *rs;
	struct ac *ac[2][2]; /* [dir][caseless] */
#ifdef E2_HAVE_HYPERSCAN
	hs_database_t *db[2];
	hs_scratch_t *scratch;
#endif
};

static bool rule_in_dir(const struct ids_rule *r, unsigned dir)
{
	return r->flow_dir == IDS_FLOW_ANY || r->flow_dir == (int)dir;
}

bool ids_hyperscan_built(void)
{
#ifdef E2_HAVE_HYPERSCAN
	return true;
#else
	return false;
#endif
}

static void ac_free(struct ac *a)
{
	if (!a)
		return;
	free(a->next);
	free(a->out);
	free(a->dict);
	free(a->pat_next);
	free(a->pat_rule);
	free(a);
}

static struct ac *ac_build(const struct ids_ruleset *rs, unsigned dir, bool caseless, struct e2_err *err)
{
	size_t max_states = 1, n_pats = 0;
	for (unsigned i = 0; i < rs->n; i++)
		if (rule_in_dir(&rs->rules[i], dir) && rs->rules[i].nocase == caseless)
			max_states += rs->rules[i].content_len, n_pats++;
	if (n_pats == 0)
		return NULL;
	struct ac *a = calloc(1, sizeof(*a));
	uint32_t *fail = NULL, *queue = NULL;
	if (!a)
		goto oom;
	a->next = calloc(max_states * 256, sizeof(uint32_t));
	a->out = malloc(max_states * sizeof(uint32_t));
	a->dict = malloc(max_states * sizeof(uint32_t));
	a->pat_next = malloc(n_pats * sizeof(uint32_t));
	a->pat_rule = malloc(n_pats * sizeof(uint32_t));
	fail = calloc(max_states, sizeof(uint32_t));
	queue = malloc(max_states * sizeof(uint32_t));
	if (!a->next || !a->out || !a->dict || !a->pat_next || !a->pat_rule || !fail || !queue)
		goto oom;
	memset(a->out, 0xff, max_states * sizeof(uint32_t));
	memset(a->dict, 0xff, max_states * sizeof(uint32_t));
	a->n_states = 1;
	uint32_t p = 0;
	/* the trie: state 0 is the root, so 0 in a trie edge means none */
	for (unsigned i = 0; i < rs->n; i++) {
		const struct ids_rule *r = &rs->rules[i];
		if (!rule_in_dir(r, dir) || r->nocase != caseless)
			continue;
		uint32_t s = 0;
		for (uint32_t k = 0; k < r->content_len; k++) {
			uint8_t ch = caseless ? (uint8_t)tolower(r->content[k]) : r->content[k];
			if (!a->next[s * 256 + ch])
				a->next[s * 256 + ch] = a->n_states++;
			s = a->next[s * 256 + ch];
		}
		a->pat_rule[p] = i;
		a->pat_next[p] = a->out[s];
		a->out[s] = p++;
	}
	/* breadth first: failure links, dictionary links, missing edges from the failure state */
	uint32_t head = 0, tail = 0;
	for (unsigned ch = 0; ch < 256; ch++)
		if (a->next[ch])
			queue[tail++] = a->next[ch];
	while (head < tail) {
		uint32_t u = queue[head++];
		for (unsigned ch = 0; ch < 256; ch++) {
			uint32_t v = a->next[u * 256 + ch];
			if (v) {
				uint32_t fv = a->next[fail[u] * 256 + ch];
				fail[v] = fv;
				a->dict[v] = a->out[fv] != NONE ? fv : a->dict[fv];
				queue[tail++] = v;
			} else {
				a->next[u * 256 + ch] = a->next[fail[u] * 256 + ch];
			}
		}
	}
	if (caseless)
		for (uint32_t s = 0; s < a->n_states; s++)
			for (unsigned ch = 'A'; ch <= 'Z'; ch++)
				a->next[s * 256 + ch] = a->next[s * 256 + (ch | 0x20)];
	free(fail);
	free(queue);
	return a;
oom:
	free(fail);
	free(queue);
	ac_free(a);
	e2_seterr(err, "ids: out of memory for the Aho-Corasick automaton (%zu states)", max_states);
	return NULL;
}

static uint32_t ac_scan(const struct ac *a, uint32_t s, const uint8_t *d, uint32_t len, uint64_t off, ids_match_fn fn,
			void *ctx)
{
	for (uint32_t i = 0; i < len; i++) {
		s = a->next[s * 256 + d[i]];
		for (uint32_t t = a->out[s] != NONE ? s : a->dict[s]; t != NONE; t = a->dict[t])
			for (uint32_t p = a->out[t]; p != NONE; p = a->pat_next[p])
				fn(ctx, a->pat_rule[p], off + i + 1);
	}
	return s;
}

#ifdef E2_HAVE_HYPERSCAN
static hs_database_t *hs_build(const struct ids_ruleset *rs, unsigned dir, struct e2_err *err)
{
	unsigned n = 0;
	char **exprs = calloc(rs->n ? rs->n : 1, sizeof(char *));
	unsigned *flags = calloc(rs->n ? rs->n : 1, sizeof(unsigned)),
		 *ids = calloc(rs->n ? rs->n : 1, sizeof(unsigned));
	hs_database_t *db = NULL;
	if (!exprs || !flags || !ids) {
		e2_seterr(err, "ids: out of memory");
		goto out;
	}
	for (unsigned i = 0; i < rs->n; i++) {
		const struct ids_rule *r = &rs->rules[i];
		if (!rule_in_dir(r, dir))
			continue;
		/* every byte as \xHH: the content is a literal, whatever it holds */
		exprs[n] = malloc(r->content_len * 4 + 1);
		if (!exprs[n]) {
			e2_seterr(err, "ids: out of memory");
			goto out;
		}
		for (uint32_t k = 0; k < r->content_len; k++)
			snprintf(exprs[n] + k * 4, 5, "\\x%02x", r->content[k]);
		flags[n] = r->nocase ? HS_FLAG_CASELESS : 0;
		ids[n++] = i;
	}
	if (n == 0)
		goto out;
	hs_compile_error_t *ce = NULL;
	if (hs_compile_multi((const char *const *)exprs, flags, ids, n, HS_MODE_STREAM, NULL, &db, &ce) != HS_SUCCESS) {
		e2_seterr(err, "ids: Hyperscan refused the contents: %s", ce ? ce->message : "?");
		hs_free_compile_error(ce);
		db = NULL;
	}
out:
	for (unsigned i = 0; exprs && i < rs->n; i++)
		free(exprs[i]);
	free(exprs);
	free(flags);
	free(ids);
	return db;
}
#endif

struct ids_engine *ids_engine_build(const struct ids_ruleset *rs, enum ids_matcher_kind kind, struct e2_err *err)
{
	struct ids_engine *e = calloc(1, sizeof(*e));
	if (!e) {
		e2_seterr(err, "ids: out of memory");
		return NULL;
	}
	e->rs = rs;
	if (kind == IDS_MATCHER_BEST)
		kind = ids_hyperscan_built() ? IDS_MATCHER_HYPERSCAN : IDS_MATCHER_AC;
	e->kind = kind;
	if (kind == IDS_MATCHER_HYPERSCAN) {
#ifdef E2_HAVE_HYPERSCAN
		for (unsigned d = 0; d < 2; d++) {
			struct e2_err e2 = {{0}};
			e->db[d] = hs_build(rs, d, &e2);
			if (!e->db[d] && e2.msg[0]) {
				if (err)
					*err = e2;
				goto fail;
			}
			if (e->db[d] && hs_alloc_scratch(e->db[d], &e->scratch) != HS_SUCCESS) {
				e2_seterr(err, "ids: Hyperscan: no memory for scratch space");
				goto fail;
			}
		}
		return e;
#else
		e2_seterr(err, "ids: built without Hyperscan (E2_HYPERSCAN=OFF or libhs not found)");
		goto fail;
#endif
	}
	for (unsigned d = 0; d < 2; d++)
		for (unsigned c = 0; c < 2; c++) {
			struct e2_err e2 = {{0}};
			e->ac[d][c] = ac_build(rs, d, c == 1, &e2);
			if (!e->ac[d][c] && e2.msg[0]) {
				if (err)
					*err = e2;
				goto fail;
			}
		}
	return e;
fail:
	ids_engine_free(e);
	return NULL;
}

void ids_engine_free(struct ids_engine *e)
{
	if (!e)
		return;
	for (unsigned d = 0; d < 2; d++) {
		for (unsigned c = 0; c < 2; c++)
			ac_free(e->ac[d][c]);
#ifdef E2_HAVE_HYPERSCAN
		if (e->db[d])
			hs_free_database(e->db[d]);
#endif
	}
#ifdef E2_HAVE_HYPERSCAN
	if (e->scratch)
		hs_free_scratch(e->scratch);
#endif
	free(e);
}

const char *ids_engine_name(const struct ids_engine *e)
{
	return e->kind == IDS_MATCHER_HYPERSCAN ? "hyperscan" : "aho-corasick";
}

#ifdef E2_HAVE_HYPERSCAN
struct hs_ctx {
	ids_match_fn fn;
	void *ctx;
	uint64_t base;
};

static int on_hs_match(unsigned id, unsigned long long from, unsigned long long to, unsigned flags, void *ctx)
{
	struct hs_ctx *h = ctx;
	(void)from, (void)flags;
	h->fn(h->ctx, id, h->base + to);
	return 0;
}
#endif

void ids_scan_bytes(struct ids_engine *e, unsigned dir, struct ids_scan *s, const uint8_t *data, uint32_t len,
		    uint64_t off, ids_match_fn fn, void *ctx)
{
	if (!s->open) {
		s->open = true;
		s->base = off;
		s->ac[0] = s->ac[1] = 0;
		s->hs = NULL;
#ifdef E2_HAVE_HYPERSCAN
		if (e->kind == IDS_MATCHER_HYPERSCAN && e->db[dir]) {
			hs_stream_t *st = NULL;
			if (hs_open_stream(e->db[dir], 0, &st) == HS_SUCCESS)
				s->hs = st;
		}
#endif
	}
	if (len == 0)
		return;
#ifdef E2_HAVE_HYPERSCAN
	if (e->kind == IDS_MATCHER_HYPERSCAN) {
		if (s->hs) {
			struct hs_ctx h = {.fn = fn, .ctx = ctx, .base = s->base};
			hs_scan_stream(s->hs, (const char *)data, len, 0, e->scratch, on_hs_match, &h);
		}
		return;
	}
#endif
	for (unsigned c = 0; c < 2; c++)
		if (e->ac[dir][c])
			s->ac[c] = ac_scan(e->ac[dir][c], s->ac[c], data, len, off, fn, ctx);
}

void ids_scan_close(struct ids_engine *e, struct ids_scan *s)
{
#ifdef E2_HAVE_HYPERSCAN
	if (s->hs)
		hs_close_stream(s->hs, e->scratch, NULL, NULL);
#else
	(void)e;
#endif
	s->hs = NULL;
	s->open = false;
}
