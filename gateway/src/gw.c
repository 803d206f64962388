/* SPDX-License-Identifier: BSD-3-Clause */
/* Gateway state: the two PrefixMatch maps, EncryptValue, rule and pool encryption. */
#include "gw_internal.h"

#include <openssl/crypto.h>
#include <openssl/rand.h>
#include <stdlib.h>
#include <string.h>

void embark_config_default(embark_config *cfg)
{
	cfg->addr_prefix_len = 16;
	cfg->port_prefix_len = 8;
	cfg->encrypt_payload = true;
}

static int cmp_pool(const void *a, const void *b)
{
	const pool_entry *x = a, *y = b;
	return x->enc < y->enc ? -1 : x->enc > y->enc;
}

/* Ibar(a) || (AES_kpool(a) truncated, low 16 bits cleared) || e2e2 */
static embark_u128 pool_value(embark_gw *gw, embark_u128 plain)
{
	int sfx = 128 - embark_pm_prefix_len(gw->addr);
	embark_u128 mask = ((embark_u128)1 << sfx) - 1;
	uint8_t blk[16];
	embark_store_u128(blk, plain);
	embark_ecb(gw->pool_ctx, blk, blk, 16);
	embark_u128 ibar = embark_pm_lookup(gw->addr, plain);
	return ((embark_u128)ibar << sfx) | (embark_load_u128(blk) & mask & ~(embark_u128)0xffff) | EMBARK_POOL_MARK;
}

bool embark_pool_has(embark_gw *gw, embark_u128 plain)
{
	if (!gw->npool)
		return false;
	bool found;
	return embark_pool_lookup(gw, pool_value(gw, plain), &found) == plain && found;
}

embark_gw *embark_gw_new(const embark_keys *keys, const embark_ruleset *rules, const embark_poolset *pools,
			 const embark_config *cfg, char *err, size_t errlen)
{
	embark_gw *gw = calloc(1, sizeof *gw);
	if (!gw) {
		snprintf(err, errlen, "out of memory");
		return NULL;
	}
	if (cfg)
		gw->cfg = *cfg;
	else
		embark_config_default(&gw->cfg);
	size_t n = rules ? rules->n : 0;
	embark_range *ar = malloc((2 * n + 1) * sizeof *ar), *pr = malloc((2 * n + 1) * sizeof *pr);
	size_t na = 0, np = 0;
	if (!ar || !pr) {
		snprintf(err, errlen, "out of memory");
		goto fail;
	}
	for (size_t i = 0; i < n; i++) {
		const embark_rule *r = &rules->v[i];
		if (!r->src_any)
			ar[na++] = r->src;
		if (!r->dst_any)
			ar[na++] = r->dst;
		if (!r->sport_any)
			pr[np++] = r->sport;
		if (!r->dport_any)
			pr[np++] = r->dport;
	}
	gw->addr = embark_pm_build(keys, 128, gw->cfg.addr_prefix_len, ar, na, err, errlen);
	if (!gw->addr)
		goto fail;
	gw->port = embark_pm_build(keys, 16, gw->cfg.port_prefix_len, pr, np, err, errlen);
	if (!gw->port)
		goto fail;
	gw->addr_sfx = 128 - embark_pm_prefix_len(gw->addr);
	gw->port_sfx = 16 - embark_pm_prefix_len(gw->port);
	gw->seed_ctx = embark_ecb_ctx(keys->seed);
	gw->sfx_ctx = embark_ecb_ctx(keys->suffix);
	gw->pool_ctx = embark_ecb_ctx(keys->pool);
	if (!gw->seed_ctx || !gw->sfx_ctx || !gw->pool_ctx || embark_siv_init(&gw->siv, keys->opt) != 0 ||
	    RAND_bytes((uint8_t *)&gw->nonce, sizeof gw->nonce) != 1) {
		snprintf(err, errlen, "OpenSSL initialisation failed");
		goto fail;
	}
	if (pools && pools->n) {
		size_t total = 0;
		for (size_t i = 0; i < pools->n; i++)
			total += (size_t)(pools->v[i].r.hi - pools->v[i].r.lo + 1);
		gw->pool = malloc(total * sizeof *gw->pool);
		if (!gw->pool) {
			snprintf(err, errlen, "out of memory");
			goto fail;
		}
		for (size_t i = 0; i < pools->n; i++)
			for (embark_u128 a = pools->v[i].r.lo;; a++) {
				gw->pool[gw->npool++].plain = a;
				if (a == pools->v[i].r.hi)
					break;
			}
		for (size_t i = 0; i < gw->npool; i++)
			gw->pool[i].enc = pool_value(gw, gw->pool[i].plain);
		qsort(gw->pool, gw->npool, sizeof *gw->pool, cmp_pool);
		for (size_t i = 1; i < gw->npool; i++)
			if (gw->pool[i].enc == gw->pool[i - 1].enc) {
				snprintf(err, errlen,
					 "two pool addresses encrypt alike (astronomically unlikely; new key?)");
				goto fail;
			}
	}
	free(ar);
	free(pr);
	return gw;
fail:
	free(ar);
	free(pr);
	embark_gw_free(gw);
	return NULL;
}

void embark_gw_free(embark_gw *gw)
{
	if (!gw)
		return;
	embark_pm_free(gw->addr);
	embark_pm_free(gw->port);
	EVP_CIPHER_CTX_free(gw->seed_ctx);
	EVP_CIPHER_CTX_free(gw->sfx_ctx);
	EVP_CIPHER_CTX_free(gw->pool_ctx);
	embark_siv_free(&gw->siv);
	free(gw->pool);
	OPENSSL_cleanse(gw, sizeof *gw);
	free(gw);
}

const embark_pm *embark_gw_addr_pm(const embark_gw *gw)
{
	return gw->addr;
}
const embark_pm *embark_gw_port_pm(const embark_gw *gw)
{
	return gw->port;
}
const uint64_t *embark_gw_counters(const embark_gw *gw)
{
	return gw->counters;
}

/* The seed PRF's input: the 5-tuple with its endpoints in canonical order, so both
 * directions of a connection share a seed. */
static void seed_block(const embark_tuple4 *t, uint8_t b[16])
{
	uint32_t ia = t->sip, ib = t->dip;
	uint16_t pa = t->sport, pb = t->dport;
	if (ia > ib || (ia == ib && pa > pb)) {
		ia = t->dip;
		ib = t->sip;
		pa = t->dport;
		pb = t->sport;
	}
	e2_put_be32(b, ia);
	e2_put_be32(b + 4, ib);
	e2_put_be16(b + 8, pa);
	e2_put_be16(b + 10, pb);
	b[12] = t->proto;
	b[13] = 'E';
	b[14] = 'm';
	b[15] = 1;
}

void embark_flow_seed(embark_gw *gw, const embark_tuple4 *t, uint8_t seed[16])
{
	uint8_t b[16];
	seed_block(t, b);
	embark_ecb(gw->seed_ctx, b, seed, 16);
}

static inline embark_u128 compose_addr(const embark_gw *gw, embark_u128 v, const uint8_t *prf)
{
	int sfx = gw->addr_sfx;
	embark_u128 mask = ((embark_u128)1 << sfx) - 1;
	embark_u128 e = ((embark_u128)embark_pm_find(gw->addr, v) << sfx) | (embark_load_u128(prf) & mask);
	if ((e & 0xffff) == EMBARK_POOL_MARK)
		e ^= 1; /* keep the pool suffix reserved */
	return e;
}

static inline uint16_t compose_port(const embark_gw *gw, uint16_t p, const uint8_t *prf)
{
	int sfx = gw->port_sfx;
	uint32_t mask = (1u << sfx) - 1;
	return (uint16_t)((embark_pm_find(gw->port, p) << sfx) | (e2_get_be16(prf + 14) & mask));
}

static inline void addr_block(uint8_t *b, const uint8_t seed[16], embark_u128 v)
{
	embark_store_u128(b, v ^ embark_load_u128(seed));
}
static inline void port_block(uint8_t *b, const uint8_t seed[16], uint16_t p)
{
	/* addresses never have the top bit set as v4-mapped; domain separation */
	embark_store_u128(b, embark_load_u128(seed) ^ ((embark_u128)0x80 << 120 | p));
}

embark_u128 embark_encrypt_addr(embark_gw *gw, const uint8_t seed[16], embark_u128 v)
{
	uint8_t b[16];
	addr_block(b, seed, v);
	embark_ecb(gw->sfx_ctx, b, b, 16);
	return compose_addr(gw, v, b);
}

uint16_t embark_encrypt_port(embark_gw *gw, const uint8_t seed[16], uint16_t port)
{
	uint8_t b[16];
	port_block(b, seed, port);
	embark_ecb(gw->sfx_ctx, b, b, 16);
	return compose_port(gw, port, b);
}

void embark_encrypt_tuples(embark_gw *gw, const embark_tuple4 *t, size_t n, embark_tuple_enc *e)
{
	/* Two ECB calls for the whole burst: every flow seed, then every PRF_seed input. */
	enum { CHUNK = 64 };
	uint8_t seed[CHUNK * 16], b[CHUNK * 64];
	for (size_t base = 0; base < n; base += CHUNK) {
		size_t k = n - base < CHUNK ? n - base : CHUNK;
		for (size_t i = 0; i < k; i++)
			seed_block(&t[base + i], seed + 16 * i);
		embark_ecb(gw->seed_ctx, seed, seed, 16 * k);
		for (size_t i = 0; i < k; i++) {
			const embark_tuple4 *x = &t[base + i];
			uint8_t *bi = b + 64 * i, *si = seed + 16 * i;
			addr_block(bi, si, embark_v4mapped(x->sip));
			addr_block(bi + 16, si, embark_v4mapped(x->dip));
			port_block(bi + 32, si, x->sport);
			port_block(bi + 48, si, x->dport);
		}
		embark_ecb(gw->sfx_ctx, b, b, 64 * k);
		for (size_t i = 0; i < k; i++) {
			const embark_tuple4 *x = &t[base + i];
			embark_tuple_enc *o = &e[base + i];
			const uint8_t *bi = b + 64 * i;
			o->sip = compose_addr(gw, embark_v4mapped(x->sip), bi);
			o->dip = compose_addr(gw, embark_v4mapped(x->dip), bi + 16);
			o->sport = compose_port(gw, x->sport, bi + 32);
			o->dport = compose_port(gw, x->dport, bi + 48);
		}
	}
}

void embark_encrypt_tuple(embark_gw *gw, const embark_tuple4 *t, embark_u128 *esip, embark_u128 *edip, uint16_t *esport,
			  uint16_t *edport)
{
	embark_tuple_enc e;
	embark_encrypt_tuples(gw, t, 1, &e);
	*esip = e.sip;
	*edip = e.dip;
	*esport = e.sport;
	*edport = e.dport;
}

bool embark_is_pool_value(embark_u128 enc)
{
	return (enc & 0xffff) == EMBARK_POOL_MARK;
}

bool embark_is_pool_addr(const uint8_t addr[16])
{
	return embark_is_pool_value(embark_load_u128(addr));
}

embark_u128 embark_pool_lookup(const embark_gw *gw, embark_u128 enc, bool *found)
{
	size_t lo = 0, hi = gw->npool;
	while (lo < hi) {
		size_t mid = (lo + hi) / 2;
		if (gw->pool[mid].enc < enc)
			lo = mid + 1;
		else
			hi = mid;
	}
	*found = lo < gw->npool && gw->pool[lo].enc == enc;
	return *found ? gw->pool[lo].plain : 0;
}

int embark_pools_encrypt(embark_gw *gw, embark_u128 **out, size_t *n)
{
	*out = malloc((gw->npool ? gw->npool : 1) * sizeof **out);
	if (!*out)
		return -1;
	for (size_t i = 0; i < gw->npool; i++)
		(*out)[i] = gw->pool[i].enc;
	*n = gw->npool;
	return 0;
}

int embark_pools_encrypt_named(embark_gw *gw, const embark_poolset *pools, embark_u128 **out, size_t **pool_of,
			       size_t *n)
{
	*out = malloc((gw->npool ? gw->npool : 1) * sizeof **out);
	*pool_of = malloc((gw->npool ? gw->npool : 1) * sizeof **pool_of);
	if (!*out || !*pool_of) {
		free(*out);
		free(*pool_of);
		*out = NULL;
		*pool_of = NULL;
		return -1;
	}
	size_t k = 0;
	/* gw->pool is sorted by value: one pass per pool keeps each pool's values sorted */
	for (size_t p = 0; p < pools->n; p++)
		for (size_t i = 0; i < gw->npool; i++)
			if (gw->pool[i].plain >= pools->v[p].r.lo && gw->pool[i].plain <= pools->v[p].r.hi) {
				(*out)[k] = gw->pool[i].enc;
				(*pool_of)[k++] = p;
			}
	*n = k;
	return 0;
}

void embark_pool_values_write(FILE *f, const char *const *names, const embark_u128 *values, size_t n,
			      const char *header)
{
	if (header)
		fprintf(f, "# %s\n", header);
	for (size_t i = 0; i < n; i++)
		fprintf(f, "%s %016llx%016llx\n", names[i], (unsigned long long)(values[i] >> 64),
			(unsigned long long)values[i]);
}

#define EMBARK_MAX_EXPANDED 4000000

int embark_rules_encrypt(const embark_gw *gw, const embark_ruleset *in, embark_ruleset *out, char *err, size_t errlen)
{
	embark_ruleset rs = {0};
	size_t cap = 0;
	size_t na = embark_pm_intervals(gw->addr) + 1, np = embark_pm_intervals(gw->port) + 1;
	uint64_t *s = malloc(na * 8), *d = malloc(na * 8), *sp = malloc(np * 8), *dp = malloc(np * 8);
	if (!s || !d || !sp || !dp)
		goto oom;
	for (size_t i = 0; i < in->n; i++) {
		const embark_rule *r = &in->v[i];
		size_t ns = r->src_any ? 1 : embark_pm_encrypt_range(gw->addr, r->src, s, na);
		size_t nd = r->dst_any ? 1 : embark_pm_encrypt_range(gw->addr, r->dst, d, na);
		size_t nsp = r->sport_any ? 1 : embark_pm_encrypt_range(gw->port, r->sport, sp, np);
		size_t ndp = r->dport_any ? 1 : embark_pm_encrypt_range(gw->port, r->dport, dp, np);
		if (!ns || !nd || !nsp || !ndp)
			goto oom; /* a real range always covers an interval */
		double total = (double)ns * nd * nsp * ndp;
		if (total + rs.n > EMBARK_MAX_EXPANDED) {
			snprintf(err, errlen, "rule '%s' (line %d) expands to %.0f encrypted rules; limit %d in total",
				 r->id, r->line, total, EMBARK_MAX_EXPANDED);
			goto fail;
		}
		for (size_t a = 0; a < ns; a++)
			for (size_t b = 0; b < nd; b++)
				for (size_t c = 0; c < nsp; c++)
					for (size_t e = 0; e < ndp; e++) {
						if (rs.n == cap) {
							cap = cap ? 2 * cap : 64;
							embark_rule *nv = realloc(rs.v, cap * sizeof *nv);
							if (!nv)
								goto oom;
							rs.v = nv;
						}
						embark_rule x = *r;
						if (!r->src_any)
							x.src = embark_pm_prefix_range(gw->addr, s[a]);
						if (!r->dst_any)
							x.dst = embark_pm_prefix_range(gw->addr, d[b]);
						if (!r->sport_any)
							x.sport = embark_pm_prefix_range(gw->port, sp[c]);
						if (!r->dport_any)
							x.dport = embark_pm_prefix_range(gw->port, dp[e]);
						rs.v[rs.n++] = x;
					}
	}
	free(s);
	free(d);
	free(sp);
	free(dp);
	*out = rs;
	return 0;
oom:
	snprintf(err, errlen, "out of memory");
fail:
	free(s);
	free(d);
	free(sp);
	free(dp);
	embark_ruleset_free(&rs);
	return -1;
}
