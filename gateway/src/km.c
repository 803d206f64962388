/* SPDX-License-Identifier: BSD-3-Clause */
/* KeywordMatch (BlindBox DPIEnc, seed §4.2.1): token encryption at the gateway and the
 * matcher a middlebox runs over encrypted tokens and encrypted rules. */
#include "internal.h"
#include "e2/num.h"

#include <openssl/crypto.h>
#include <openssl/rand.h>
#include <limits.h>
#include <stdlib.h>
#include <string.h>

#define CT_MASK ((((uint64_t)1) << 40) - 1)

static uint64_t mix64(uint64_t x)
{
	x ^= x >> 33;
	x *= 0xff51afd7ed558ccdull;
	x ^= x >> 33;
	x *= 0xc4ceb9fe1a85ec53ull;
	return x ^ (x >> 33);
}

/* AES(salt) mod 2^40 under the key ctx holds: a token's ciphertext. */
static embark_token_ct ct_under(EVP_CIPHER_CTX *ctx, uint64_t salt)
{
	uint8_t blk[16] = {0}, outb[16];
	for (int i = 0; i < 8; i++)
		blk[i] = (uint8_t)(salt >> (56 - 8 * i));
	int outl;
	EVP_EncryptUpdate(ctx, outb, &outl, blk, 16);
	uint64_t v = 0;
	for (int i = 0; i < 5; i++)
		v = v << 8 | outb[i];
	return v & CT_MASK;
}

/* AES_{key}(salt) mod 2^40, with tok_ctx re-keyed in place (no allocation). */
static embark_token_ct token_ct(EVP_CIPHER_CTX *tok_ctx, const uint8_t key[16], uint64_t salt)
{
	EVP_EncryptInit_ex(tok_ctx, NULL, NULL, key, NULL);
	return ct_under(tok_ctx, salt);
}

/* ---------------- sender ---------------- */
typedef struct {
	uint64_t tok;
	uint32_t count;
	bool used;
	uint8_t key[16];
} count_entry;

struct embark_km_sender {
	int mode;
	size_t reset_bytes, since_reset;
	uint64_t salt0, max_count;
	EVP_CIPHER_CTX *kctx, *tok_ctx;
	count_entry *tab;
	size_t cap, used;
	uint8_t carry[EMBARK_TOKEN_LEN - 1];
	size_t ncarry;
	uint64_t offset; /* stream offset of carry[0] */
};

embark_km_sender *embark_km_sender_new(const embark_keys *keys, int mode, size_t reset_bytes)
{
	embark_km_sender *s = calloc(1, sizeof *s);
	if (!s)
		return NULL;
	s->mode = mode;
	s->reset_bytes = reset_bytes ? reset_bytes : 1 << 16;
	s->cap = 64;
	while (s->cap < 2 * (s->reset_bytes < 32768 ? s->reset_bytes : 32768))
		s->cap <<= 1;
	s->tab = calloc(s->cap, sizeof *s->tab);
	s->kctx = embark_ecb_ctx(keys->kw);
	s->tok_ctx = embark_ecb_ctx(keys->kw); /* key replaced per token */
	/* salt0 random per sender: one gateway key serves all flows, salts must never repeat */
	if (!s->tab || !s->kctx || !s->tok_ctx || RAND_bytes((uint8_t *)&s->salt0, sizeof s->salt0) != 1) {
		embark_km_sender_free(s);
		return NULL;
	}
	s->salt0 >>= 2; /* headroom so salt0 + counts never wraps */
	return s;
}

void embark_km_sender_free(embark_km_sender *s)
{
	if (!s)
		return;
	EVP_CIPHER_CTX_free(s->kctx);
	EVP_CIPHER_CTX_free(s->tok_ctx);
	if (s->tab)
		OPENSSL_cleanse(s->tab, s->cap * sizeof *s->tab);
	free(s->tab);
	OPENSSL_cleanse(s, sizeof *s);
	free(s);
}

uint64_t embark_km_salt0(const embark_km_sender *s)
{
	return s->salt0;
}

static void sender_reset(embark_km_sender *s)
{
	s->salt0 += s->max_count + 1;
	s->max_count = 0;
	memset(s->tab, 0, s->cap * sizeof *s->tab);
	s->used = 0;
	s->since_reset = 0;
}

static count_entry *lookup_count(embark_km_sender *s, uint64_t tok)
{
	size_t i = (size_t)mix64(tok) & (s->cap - 1);
	while (s->tab[i].used && s->tab[i].tok != tok)
		i = (i + 1) & (s->cap - 1);
	count_entry *e = &s->tab[i];
	if (!e->used) {
		e->used = true;
		e->tok = tok;
		e->count = 0;
		uint8_t blk[16] = {0};
		memcpy(blk, &tok, 8);
		embark_ecb(s->kctx, blk, e->key, 16); /* AES_k(t), computed once per distinct token */
		s->used++;
	}
	return e;
}

static bool is_delim(uint8_t c)
{
	return !((c >= '0' && c <= '9') || (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || c >= 0x80);
}

size_t embark_km_encrypt(embark_km_sender *s, const uint8_t *data, size_t len, embark_token_ct *ct, uint64_t *offsets,
			 size_t cap)
{
	if (cap < len + EMBARK_TOKEN_LEN - 1)
		return 0;
	/* Salts change only between calls, so the caller can tell the matcher exactly when. */
	if (s->since_reset >= s->reset_bytes || 2 * (s->used + len + EMBARK_TOKEN_LEN) > s->cap) {
		if (2 * (len + EMBARK_TOKEN_LEN) > s->cap) {
			size_t ncap = s->cap;
			while (2 * (len + EMBARK_TOKEN_LEN) > ncap)
				ncap <<= 1;
			count_entry *t = calloc(ncap, sizeof *t);
			if (!t)
				return 0;
			OPENSSL_cleanse(s->tab, s->cap * sizeof *s->tab);
			free(s->tab);
			s->tab = t;
			s->cap = ncap;
		}
		sender_reset(s);
	}
	/* window over carry || data */
	size_t n = s->ncarry + len, out = 0;
	uint8_t win[EMBARK_TOKEN_LEN];
	for (size_t i = 0; i + EMBARK_TOKEN_LEN <= n; i++) {
		for (size_t j = 0; j < EMBARK_TOKEN_LEN; j++) {
			size_t k = i + j;
			win[j] = k < s->ncarry ? s->carry[k] : data[k - s->ncarry];
		}
		if (s->mode == EMBARK_TOKENS_DELIMITER) {
			uint8_t prev = i == 0 ? 0 : (i - 1 < s->ncarry ? s->carry[i - 1] : data[i - 1 - s->ncarry]);
			bool starts = (s->offset + i == 0) || is_delim(prev) || is_delim(win[0]);
			size_t after = i + EMBARK_TOKEN_LEN;
			bool ends = after == n ||
				    is_delim(after < s->ncarry ? s->carry[after] : data[after - s->ncarry]) ||
				    is_delim(win[EMBARK_TOKEN_LEN - 1]);
			if (!starts && !ends)
				continue;
		}
		uint64_t tok;
		memcpy(&tok, win, 8);
		count_entry *e = lookup_count(s, tok);
		ct[out] = token_ct(s->tok_ctx, e->key, s->salt0 + e->count);
		offsets[out] = s->offset + i;
		out++;
		e->count++;
		if (e->count > s->max_count)
			s->max_count = e->count;
	}
	/* keep the last 7 bytes for tokens that straddle calls */
	size_t keep = n < EMBARK_TOKEN_LEN - 1 ? n : EMBARK_TOKEN_LEN - 1;
	uint8_t nc[EMBARK_TOKEN_LEN - 1];
	for (size_t j = 0; j < keep; j++) {
		size_t k = n - keep + j;
		nc[j] = k < s->ncarry ? s->carry[k] : data[k - s->ncarry];
	}
	memcpy(s->carry, nc, keep);
	s->offset += n - keep;
	s->ncarry = keep;
	s->since_reset += len;
	OPENSSL_cleanse(win, sizeof win);
	return out;
}

/* ---------------- keyword rules ---------------- */
static int hexv(int c)
{
	if (c >= '0' && c <= '9')
		return c - '0';
	if (c >= 'a' && c <= 'f')
		return c - 'a' + 10;
	if (c >= 'A' && c <= 'F')
		return c - 'A' + 10;
	return -1;
}

int embark_keywords_parse(const char *text, size_t len, const char *name, char ***kwp, size_t **kwlenp, size_t *np,
			  char *err, size_t errlen)
{
	char **kw = NULL;
	size_t *kl = NULL, n = 0;
	int line = 0;
	size_t pos = 0;
	while (pos < len) {
		line++;
		size_t end = pos;
		while (end < len && text[end] != '\n')
			end++;
		size_t e = end;
		if (e > pos && text[e - 1] == '\r')
			e--;
		if (e > pos && text[pos] != '#') {
			char *buf = calloc(1, e - pos + 1);
			if (!buf) {
				snprintf(err, errlen, "%s: out of memory", name);
				goto fail;
			}
			size_t bl = 0;
			for (size_t i = pos; i < e; i++) {
				if (text[i] == '\0') {
					free(buf);
					snprintf(err, errlen,
						 "%s:%d: NUL byte in text file (write a zero byte as \\x00)", name,
						 line);
					goto fail;
				}
				if (text[i] == '\\') {
					if (i + 1 < e && text[i + 1] == '\\') {
						buf[bl++] = '\\';
						i++;
						continue;
					}
					if (i + 3 < e && text[i + 1] == 'x' && hexv(text[i + 2]) >= 0 &&
					    hexv(text[i + 3]) >= 0) {
						buf[bl++] = (char)(hexv(text[i + 2]) << 4 | hexv(text[i + 3]));
						i += 3;
						continue;
					}
					free(buf);
					snprintf(err, errlen, "%s:%d: bad escape (use \\\\ or \\xHH)", name, line);
					goto fail;
				}
				buf[bl++] = text[i];
			}
			if (bl < EMBARK_TOKEN_LEN || bl > 1024) {
				free(buf);
				snprintf(err, errlen, "%s:%d: keyword of %zu bytes; keywords need 8..1024 bytes", name,
					 line, bl);
				goto fail;
			}
			if (n == EMBARK_KEYWORDS_MAX) {
				free(buf);
				snprintf(err, errlen, "%s:%d: more than %d keywords", name, line, EMBARK_KEYWORDS_MAX);
				goto fail;
			}
			if ((n & (n - 1)) == 0) { /* 0, 1, 2, 4 ...: doubling keeps loading linear */
				size_t cap = n ? 2 * n : 1;
				char **nkw = realloc(kw, cap * sizeof *nkw);
				size_t *nkl = nkw ? realloc(kl, cap * sizeof *nkl) : NULL;
				if (nkw)
					kw = nkw;
				if (nkl)
					kl = nkl;
				if (!nkw || !nkl) {
					free(buf);
					snprintf(err, errlen, "%s: out of memory", name);
					goto fail;
				}
			}
			kw[n] = buf;
			kl[n] = bl;
			n++;
		}
		pos = end + 1;
	}
	*kwp = kw;
	*kwlenp = kl;
	*np = n;
	return 0;
fail:
	embark_keywords_free(kw, kl, n);
	return -1;
}

void embark_keywords_free(char **kw, size_t *kwlen, size_t n)
{
	for (size_t i = 0; i < n && kw; i++) {
		OPENSSL_cleanse(kw[i], kwlen[i]);
		free(kw[i]);
	}
	free(kw);
	free(kwlen);
}

/* The windows of a keyword its rule matches on, as offsets. Window tokens: 8-byte pieces
 * at 0, 8, 16, ... and one ending at the keyword's end. Delimiter tokens: every window the
 * sender makes inside the keyword when a delimiter stands on both sides of it (those that
 * start or end at a delimiter, or at the keyword's edge), so a delimited keyword is found
 * whatever its inside. Returns the number written (at most len - 7). */
static size_t kw_pieces(const char *kw, size_t len, int mode, uint32_t *rel)
{
	size_t n = 0;
	if (mode == EMBARK_TOKENS_DELIMITER) {
		for (size_t i = 0; i + EMBARK_TOKEN_LEN <= len; i++) {
			size_t after = i + EMBARK_TOKEN_LEN;
			bool starts = i == 0 || is_delim((uint8_t)kw[i - 1]) || is_delim((uint8_t)kw[i]);
			bool ends = after == len || is_delim((uint8_t)kw[after]) || is_delim((uint8_t)kw[after - 1]);
			if (starts || ends)
				rel[n++] = (uint32_t)i;
		}
		return n;
	}
	for (size_t off = 0;; off += EMBARK_TOKEN_LEN) {
		if (off + EMBARK_TOKEN_LEN > len)
			off = len - EMBARK_TOKEN_LEN;
		rel[n++] = (uint32_t)off;
		if (off + EMBARK_TOKEN_LEN >= len)
			return n;
	}
}

int embark_kw_rules_encrypt_mode(const embark_keys *keys, char *const *kw, const size_t *kwlen, size_t n, int mode,
				 embark_kw_rules *out)
{
	size_t total = 0, longest = 0;
	for (size_t i = 0; i < n; i++) {
		if (kwlen[i] < EMBARK_TOKEN_LEN)
			return -1;
		total += kwlen[i] - EMBARK_TOKEN_LEN + 1;
		longest = kwlen[i] > longest ? kwlen[i] : longest;
	}
	EVP_CIPHER_CTX *ctx = embark_ecb_ctx(keys->kw);
	embark_kw_rules r = {0};
	r.v = calloc(total ? total : 1, sizeof *r.v);
	uint32_t *rel = malloc((longest + 1) * sizeof *rel);
	if (!ctx || !r.v || !rel) {
		EVP_CIPHER_CTX_free(ctx);
		free(r.v);
		free(rel);
		return -1;
	}
	for (size_t i = 0; i < n; i++) {
		size_t np = kw_pieces(kw[i], kwlen[i], mode, rel);
		for (size_t j = 0; j < np; j++) {
			uint8_t blk[16] = {0};
			memcpy(blk, kw[i] + rel[j], EMBARK_TOKEN_LEN);
			embark_kw_piece *p = &r.v[r.n++];
			embark_ecb(ctx, blk, p->enc, 16);
			p->rule = (uint32_t)i;
			p->rel = rel[j];
			OPENSSL_cleanse(blk, sizeof blk);
		}
	}
	r.rules = n;
	EVP_CIPHER_CTX_free(ctx);
	free(rel);
	*out = r;
	return 0;
}

int embark_kw_rules_encrypt(const embark_keys *keys, char *const *kw, const size_t *kwlen, size_t n,
			    embark_kw_rules *out)
{
	return embark_kw_rules_encrypt_mode(keys, kw, kwlen, n, EMBARK_TOKENS_WINDOW, out);
}

int embark_kw_rules_write(FILE *f, const embark_kw_rules *r)
{
	fprintf(f, "# embark encrypted keywords: rule piece-offset AES_k(piece)\n");
	for (size_t i = 0; i < r->n; i++) {
		fprintf(f, "%u %u ", r->v[i].rule, r->v[i].rel);
		for (int j = 0; j < 16; j++)
			fprintf(f, "%02x", r->v[i].enc[j]);
		fputc('\n', f);
	}
	return ferror(f) ? -1 : 0;
}

/* Lines "rule offset hex32"; rules numbered 0.. in order, pieces of a rule contiguous with
 * increasing offsets (as embark_kw_rules_encrypt produces them). */
int embark_kw_rules_parse(const char *text, size_t len, const char *name, embark_kw_rules *out, char *err,
			  size_t errlen)
{
	embark_kw_rules r = {0};
	size_t cap = 0, pos = 0;
	int line = 0;
	while (pos < len) {
		line++;
		size_t end = pos;
		while (end < len && text[end] != '\n')
			end++;
		char buf[128];
		size_t l = end - pos;
		if (l && text[pos] != '#') {
			if (l >= sizeof buf)
				goto bad;
			memcpy(buf, text + pos, l);
			buf[l] = 0;
			uint32_t rule, rel;
			char *save, *w_rule = strtok_r(buf, " \t", &save), *w_rel = strtok_r(NULL, " \t", &save);
			char *hex = strtok_r(NULL, " \t", &save);
			if (!w_rule || !w_rel || !hex || strtok_r(NULL, " \t", &save) || strlen(hex) != 32 ||
			    e2_num_u32("rule", w_rule, 0, UINT32_MAX - 1, &rule, NULL) ||
			    e2_num_u32("offset", w_rel, 0, UINT32_MAX, &rel, NULL))
				goto bad;
			embark_kw_piece p = {.rule = rule, .rel = rel};
			for (int j = 0; j < 16; j++) {
				int hi = hexv(hex[2 * j]), lo = hexv(hex[2 * j + 1]);
				if (hi < 0 || lo < 0)
					goto bad;
				p.enc[j] = (uint8_t)(hi << 4 | lo);
			}
			bool first = r.n == 0, same = !first && r.v[r.n - 1].rule == rule;
			if ((first && rule != 0) || (!first && !same && rule != r.v[r.n - 1].rule + 1) ||
			    (same && rel <= r.v[r.n - 1].rel) || (!same && rel != 0)) {
				snprintf(
					err, errlen,
					"%s:%d: pieces out of order (rules numbered from 0, offsets increasing from 0)",
					name, line);
				goto fail;
			}
			if (r.n == cap) {
				cap = cap ? 2 * cap : 64;
				embark_kw_piece *nv = realloc(r.v, cap * sizeof *nv);
				if (!nv) {
					snprintf(err, errlen, "%s: out of memory", name);
					goto fail;
				}
				r.v = nv;
			}
			r.v[r.n++] = p;
			r.rules = rule + 1;
		}
		pos = end + 1;
	}
	*out = r;
	return 0;
bad:
	snprintf(err, errlen, "%s:%d: expected 'RULE OFFSET 32-hex-digits'", name, line);
fail:
	embark_kw_rules_free(&r);
	return -1;
}

void embark_kw_rules_free(embark_kw_rules *r)
{
	free(r->v);
	r->v = NULL;
	r->n = r->rules = 0;
}

/* ---------------- matcher ---------------- */
/* A ruleset is what every flow's matcher shares: the distinct rule pieces, each with its
 * AES key schedule made once (a token's expected value is AES_{AES_k(piece)}(salt), and
 * OpenSSL charges 110-150 ns to load a new key where one block under a loaded key costs ~20
 * ns; a matcher recomputes every piece's value at each salt reset, every ~2 KB of a
 * stream), and the pieces' order within rules. A matcher holds only the flow's counters,
 * expected values and partial matches. */
typedef struct {
	uint32_t ptok, rule, piece;
} use; /* piece j of rule uses ptoken */

struct embark_km_ruleset {
	unsigned refs;        /* the owner's and one per matcher; one thread uses a ruleset */
	EVP_CIPHER_CTX **ctx; /* per ptoken: ECB under the piece's AES_k(piece) */
	size_t npt;
	use *uses; /* sorted by ptok */
	size_t nuses;
	size_t *use_start;            /* per ptok: first index in uses (npt + 1 entries) */
	uint32_t *rel;                /* per piece index in rules->v order */
	size_t *piece_base;           /* per rule: index of its first piece */
	uint32_t *npieces, *rel_last; /* per rule */
	size_t nrules;
};

typedef struct {
	uint64_t count;
	embark_token_ct expect;
	int32_t next;
} ptoken;
typedef struct {
	uint64_t start;
	uint32_t next;
} cand;
#define MAX_CANDS 8
typedef struct {
	uint32_t ncand;
	cand c[MAX_CANDS];
} rule_state;

struct embark_km_matcher {
	embark_km_ruleset *set;
	uint64_t salt0;
	ptoken *pt;
	rule_state *rs;
	int32_t *bucket; /* chained hash on expect; mostly empty, so most tokens cost one load */
	size_t nbucket;
};

/* AES_{piece's key}(salt) mod 2^40 under the prepared schedule. */
static embark_token_ct piece_ct(const embark_km_ruleset *set, size_t i, uint64_t salt)
{
	return ct_under(set->ctx[i], salt);
}

static int cmp_use(const void *a, const void *b)
{
	const use *x = a, *y = b;
	if (x->ptok != y->ptok)
		return x->ptok < y->ptok ? -1 : 1;
	return x->rule < y->rule ? -1 : x->rule > y->rule;
}

embark_km_ruleset *embark_km_ruleset_new(const embark_kw_rules *rules)
{
	embark_km_ruleset *set = calloc(1, sizeof *set);
	if (!set)
		return NULL;
	set->refs = 1;
	set->ctx = calloc(rules->n + 1, sizeof *set->ctx);
	set->uses = calloc(rules->n + 1, sizeof *set->uses);
	set->use_start = calloc(rules->n + 2, sizeof *set->use_start);
	set->rel = calloc(rules->n + 1, sizeof *set->rel);
	set->piece_base = calloc(rules->rules + 1, sizeof *set->piece_base);
	set->npieces = calloc(rules->rules + 1, sizeof *set->npieces);
	set->rel_last = calloc(rules->rules + 1, sizeof *set->rel_last);
	/* dedupe pieces into ptokens (quadratic-free: via a temporary hash on enc) */
	size_t hcap = 16;
	while (hcap < 2 * rules->n)
		hcap <<= 1;
	int64_t *h = malloc(hcap * sizeof *h);
	const uint8_t **enc = calloc(rules->n + 1, sizeof *enc);
	if (!set->ctx || !set->uses || !set->use_start || !set->rel || !set->piece_base || !set->npieces ||
	    !set->rel_last || !h || !enc)
		goto fail;
	set->nrules = rules->rules;
	for (size_t i = 0; i < hcap; i++)
		h[i] = -1;
	uint32_t prev_rule = UINT32_MAX, piece = 0;
	for (size_t i = 0; i < rules->n; i++) {
		const embark_kw_piece *p = &rules->v[i];
		uint64_t hv;
		memcpy(&hv, p->enc, 8);
		size_t b = (size_t)mix64(hv) & (hcap - 1);
		while (h[b] >= 0 && memcmp(enc[h[b]], p->enc, 16))
			b = (b + 1) & (hcap - 1);
		if (h[b] < 0) {
			set->ctx[set->npt] = embark_ecb_ctx(p->enc);
			if (!set->ctx[set->npt])
				goto fail;
			enc[set->npt] = p->enc;
			h[b] = (int64_t)set->npt++;
		}
		if (p->rule != prev_rule) {
			piece = 0;
			prev_rule = p->rule;
			set->piece_base[p->rule] = i;
		}
		set->uses[set->nuses++] = (use){(uint32_t)h[b], p->rule, piece++};
		set->rel[i] = p->rel;
		set->npieces[p->rule] = piece;
		set->rel_last[p->rule] = p->rel;
	}
	free(h);
	free(enc);
	qsort(set->uses, set->nuses, sizeof *set->uses, cmp_use);
	for (size_t i = 0, u = 0; i <= set->npt; i++) {
		while (u < set->nuses && set->uses[u].ptok < i)
			u++;
		set->use_start[i] = u;
	}
	return set;
fail:
	free(h);
	free(enc);
	embark_km_ruleset_free(set);
	return NULL;
}

void embark_km_ruleset_free(embark_km_ruleset *set)
{
	if (!set || --set->refs)
		return;
	for (size_t i = 0; set->ctx && i < set->npt; i++)
		EVP_CIPHER_CTX_free(set->ctx[i]); /* frees and cleanses the key schedule */
	free(set->ctx);
	free(set->uses);
	free(set->use_start);
	free(set->rel);
	free(set->piece_base);
	free(set->npieces);
	free(set->rel_last);
	free(set);
}

size_t embark_km_ruleset_pieces(const embark_km_ruleset *set)
{
	return set->npt;
}

/* Tokens are AES outputs, uniform in their low bits: no mixing needed (and nobody can aim
 * tokens at one bucket without the keys). */
static size_t bucket_of(const embark_km_matcher *m, embark_token_ct c)
{
	return (size_t)c & (m->nbucket - 1);
}
static void bucket_insert(embark_km_matcher *m, size_t i)
{
	size_t b = bucket_of(m, m->pt[i].expect);
	m->pt[i].next = m->bucket[b];
	m->bucket[b] = (int32_t)i;
}
static void bucket_remove(embark_km_matcher *m, size_t i)
{
	int32_t *pp = &m->bucket[bucket_of(m, m->pt[i].expect)];
	while (*pp >= 0 && (size_t)*pp != i)
		pp = &m->pt[*pp].next;
	if (*pp >= 0)
		*pp = m->pt[i].next;
}

void embark_km_matcher_reset(embark_km_matcher *m, uint64_t salt0)
{
	m->salt0 = salt0;
	for (size_t b = 0; b < m->nbucket; b++)
		m->bucket[b] = -1;
	for (size_t i = 0; i < m->set->npt; i++) {
		m->pt[i].count = 0;
		m->pt[i].expect = piece_ct(m->set, i, salt0);
		bucket_insert(m, i);
	}
}

embark_km_matcher *embark_km_matcher_new_shared(embark_km_ruleset *set, uint64_t salt0)
{
	embark_km_matcher *m = calloc(1, sizeof *m);
	if (!m)
		return NULL;
	m->set = set;
	set->refs++;
	m->pt = calloc(set->npt + 1, sizeof *m->pt);
	m->rs = calloc(set->nrules + 1, sizeof *m->rs);
	m->nbucket = 64;
	while (m->nbucket < 4 * set->npt)
		m->nbucket <<= 1;
	m->bucket = malloc(m->nbucket * sizeof *m->bucket);
	if (!m->pt || !m->rs || !m->bucket) {
		embark_km_matcher_free(m);
		return NULL;
	}
	embark_km_matcher_reset(m, salt0);
	return m;
}

embark_km_matcher *embark_km_matcher_new(const embark_kw_rules *rules, uint64_t salt0)
{
	embark_km_ruleset *set = embark_km_ruleset_new(rules);
	if (!set)
		return NULL;
	embark_km_matcher *m = embark_km_matcher_new_shared(set, salt0);
	embark_km_ruleset_free(set); /* the matcher holds the last reference */
	return m;
}

void embark_km_matcher_free(embark_km_matcher *m)
{
	if (!m)
		return;
	embark_km_ruleset_free(m->set);
	free(m->pt);
	free(m->rs);
	free(m->bucket);
	free(m);
}

static inline int32_t find_piece(const embark_km_matcher *m, embark_token_ct c)
{
	int32_t i = m->bucket[bucket_of(m, c)];
	while (i >= 0 && m->pt[i].expect != c)
		i = m->pt[i].next;
	return i;
}

/* Piece i's token came at offset: advance its counter, then the partial matches of the
 * rules that use it. Kept out of line: a hit is the rare case, and inlined into the probe
 * loop it cost that loop ~2 % (registers) in bench/embark-mb --ids-ref. */
static __attribute__((noinline)) size_t piece_seen(embark_km_matcher *m, int32_t i, uint64_t offset, uint32_t token,
						   embark_km_hit *hits, size_t cap)
{
	const embark_km_ruleset *set = m->set;
	/* advance this token's counter: the next occurrence carries salt0 + count */
	bucket_remove(m, (size_t)i);
	m->pt[i].count++;
	m->pt[i].expect = piece_ct(set, (size_t)i, m->salt0 + m->pt[i].count);
	bucket_insert(m, (size_t)i);

	size_t found = 0;
	for (size_t u = set->use_start[i]; u < set->use_start[i + 1]; u++) {
		const use *us = &set->uses[u];
		rule_state *r = &m->rs[us->rule];
		uint32_t npieces = set->npieces[us->rule], rel_last = set->rel_last[us->rule];
		uint32_t rel = set->rel[set->piece_base[us->rule] + us->piece];
		if (offset < rel)
			continue;
		uint64_t start = offset - rel;
		/* drop stale candidates */
		uint32_t w = 0;
		for (uint32_t k = 0; k < r->ncand; k++)
			if (r->c[k].start + rel_last >= offset)
				r->c[w++] = r->c[k];
		r->ncand = w;
		bool done = false;
		if (us->piece == 0) {
			if (npieces == 1)
				done = true;
			else if (r->ncand < MAX_CANDS)
				r->c[r->ncand++] = (cand){start, 1};
		} else {
			for (uint32_t k = 0; k < r->ncand; k++)
				if (r->c[k].start == start && r->c[k].next == us->piece) {
					if (++r->c[k].next == npieces) {
						done = true;
						r->c[k] = r->c[--r->ncand];
					}
					break;
				}
		}
		if (done && found < cap)
			hits[found++] = (embark_km_hit){us->rule, token, offset};
	}
	return found;
}

size_t embark_km_match(embark_km_matcher *m, embark_token_ct c, uint64_t offset, uint32_t *rules_out, size_t cap)
{
	embark_km_hit hits[64];
	size_t fed, k = embark_km_match_run(m, &c, &offset, 1, hits, cap < 64 ? cap : 64, &fed);
	for (size_t j = 0; j < k; j++)
		rules_out[j] = hits[j].rule;
	return k;
}

/* The loop of both token forms: probe each token from *t on, feed a piece's to its rules,
 * stop before a token whose hits might not fit (*t then names it; the caller takes these
 * hits and feeds the rest). Token k is read at tokens + k * STRIDE by token_at, its offset
 * by offset_at(src, k); inlined into each caller with its own pair and stride, so neither
 * pays for an indirect call, and the token pointer moves as a pointer. */
static inline __attribute__((always_inline)) size_t
feed_tokens(embark_km_matcher *m, const uint8_t *tokens, size_t stride, embark_token_ct (*token_at)(const uint8_t *),
	    uint64_t (*offset_at)(void *, size_t), void *src, size_t *t, size_t n, embark_km_hit *hits, size_t cap)
{
	size_t nh = 0, k = *t;
	for (const uint8_t *p = tokens + k * stride; k < n; k++, p += stride) {
		int32_t i = find_piece(m, token_at(p));
		if (i < 0)
			continue;
		size_t uses = m->set->use_start[i + 1] - m->set->use_start[i];
		if (nh && nh + uses > cap)
			break;
		nh += piece_seen(m, i, offset_at(src, k), (uint32_t)k, hits + nh, cap - nh);
	}
	*t = k;
	return nh;
}

static inline embark_token_ct array_token(const uint8_t *p)
{
	return *(const embark_token_ct *)(const void *)p;
}
static inline uint64_t array_offset(void *offsets, size_t k)
{
	return ((const uint64_t *)offsets)[k];
}

size_t embark_km_match_run(embark_km_matcher *m, const embark_token_ct *ct, const uint64_t *offsets, size_t n,
			   embark_km_hit *hits, size_t cap, size_t *fed)
{
	*fed = 0;
	return feed_tokens(m, (const uint8_t *)ct, sizeof *ct, array_token, array_offset, (void *)offsets, fed, n, hits,
			   cap);
}

/* LEB128, as protobuf's varints: 7 bits a byte, low first. */
static size_t put_varint(uint8_t *p, uint64_t v)
{
	size_t n = 0;
	for (; v >= 0x80; v >>= 7)
		p[n++] = (uint8_t)(v | 0x80);
	p[n++] = (uint8_t)v;
	return n;
}

static bool get_varint(const uint8_t *p, size_t len, size_t *pos, uint64_t *v)
{
	uint64_t x = 0;
	for (unsigned shift = 0; *pos < len && shift < 64; shift += 7) {
		uint8_t b = p[(*pos)++];
		if (shift == 63 && b > 1)
			return false; /* past 64 bits */
		x |= (uint64_t)(b & 0x7f) << shift;
		if (!(b & 0x80)) {
			*v = x;
			return true;
		}
	}
	return false;
}

/* A run after one that ended at *prev_end, which then becomes this one's end. */
static size_t put_run(uint8_t *p, uint64_t start, uint64_t count, uint64_t *prev_end)
{
	uint64_t d = start - *prev_end; /* modulo 2^64, zigzag: a jump back is small too */
	size_t n = put_varint(p, d << 1 ^ -(d >> 63));
	n += put_varint(p + n, count);
	*prev_end = start + count;
	return n;
}

/* The run after one that ended at prev_end (the offset after its last; 0 before the first). */
static bool get_run(const uint8_t *p, size_t len, size_t *pos, uint64_t prev_end, uint64_t *start, uint64_t *count)
{
	uint64_t zz;
	if (!get_varint(p, len, pos, &zz) || !get_varint(p, len, pos, count))
		return false;
	*start = prev_end + ((zz >> 1) ^ -(zz & 1)); /* modulo 2^64 */
	return true;
}

void embark_tokens_wire_init(embark_tokens_wire *w, const uint8_t *wire, size_t wire_len, const uint8_t *runs,
			     size_t runs_len)
{
	*w = (embark_tokens_wire){
		.wire = wire, .runs = runs, .n = wire_len / EMBARK_TOKEN_WIRE_LEN, .runs_len = runs_len};
	if (!get_run(runs, runs_len, &w->runs_pos, 0, &w->run_start, &w->run_count))
		w->run_count = UINT64_MAX; /* none (no tokens): never walked */
}

/* Token t's offset in the record `src` (an embark_tokens_wire); t never goes back, so the
 * walk over the runs is shared by a record's hits (a record of window tokens is one run). */
static uint64_t wire_offset(void *src, size_t t)
{
	embark_tokens_wire *w = src;
	uint64_t start, count;
	while (t - w->run_first >= w->run_count && w->runs_pos < w->runs_len &&
	       get_run(w->runs, w->runs_len, &w->runs_pos, w->run_start + w->run_count, &start, &count)) {
		w->run_first += w->run_count;
		w->run_start = start;
		w->run_count = count;
	}
	return w->run_start + (t - w->run_first);
}

static inline embark_token_ct wire_token(const uint8_t *p)
{
	return (uint64_t)p[0] << 32 | (uint64_t)p[1] << 24 | (uint64_t)p[2] << 16 | (uint64_t)p[3] << 8 | p[4];
}
size_t embark_km_match_wire(embark_km_matcher *m, embark_tokens_wire *w, embark_km_hit *hits, size_t cap)
{
	return feed_tokens(m, w->wire, EMBARK_TOKEN_WIRE_LEN, wire_token, wire_offset, w, &w->next, w->n, hits, cap);
}

/* ---------------- URIs: AES-SIV ---------------- */
static int siv(const embark_keys *keys, int enc, const uint8_t *in, size_t len, uint8_t *out, uint8_t *tag)
{
	EVP_CIPHER *c = EVP_CIPHER_fetch(NULL, "AES-128-SIV", NULL);
	EVP_CIPHER_CTX *ctx = EVP_CIPHER_CTX_new();
	int ok = c && ctx && EVP_CipherInit_ex(ctx, c, NULL, keys->uri, NULL, enc) == 1;
	int outl;
	if (ok && !enc)
		ok = EVP_CIPHER_CTX_ctrl(ctx, EVP_CTRL_AEAD_SET_TAG, 16, tag) == 1;
	if (ok)
		ok = EVP_CipherUpdate(ctx, out, &outl, in, (int)len) == 1;
	if (ok)
		ok = EVP_CipherFinal_ex(ctx, out + outl, &outl) == 1;
	if (ok && enc)
		ok = EVP_CIPHER_CTX_ctrl(ctx, EVP_CTRL_AEAD_GET_TAG, 16, tag) == 1;
	EVP_CIPHER_CTX_free(ctx);
	EVP_CIPHER_free(c);
	return ok ? 0 : -1;
}

int embark_uri_encrypt(const embark_keys *keys, const uint8_t *uri, size_t len, uint8_t *out)
{
	return siv(keys, 1, uri, len, out + 16, out);
}

int embark_uri_id(const embark_keys *keys, const uint8_t *uri, size_t len, uint8_t id[EMBARK_URI_ID_LEN])
{
	uint8_t *ct = malloc(len ? len : 1);
	if (!ct)
		return -1;
	int rc = siv(keys, 1, uri, len, ct, id);
	free(ct);
	return rc;
}

int embark_uri_decrypt(const embark_keys *keys, const uint8_t *in, size_t len, uint8_t *uri)
{
	if (len < 16)
		return -1;
	uint8_t tag[16];
	memcpy(tag, in, 16);
	int rc = siv(keys, 0, in + 16, len - 16, uri, tag);
	if (rc)
		OPENSSL_cleanse(uri, len - 16);
	return rc;
}

int embark_tokens_mode(const char *name)
{
	return !strcmp(name, "window")      ? EMBARK_TOKENS_WINDOW
	       : !strcmp(name, "delimiter") ? EMBARK_TOKENS_DELIMITER
					    : -1;
}

size_t embark_tokens_pack(const embark_token_ct *tokens, const uint64_t *offsets, size_t n, uint8_t *wire,
			  uint8_t *runs)
{
	size_t len = 0;
	uint64_t start = 0, count = 0, prev_end = 0;
	for (size_t i = 0; i < n; i++) {
		uint64_t t = tokens[i];
		for (int k = EMBARK_TOKEN_WIRE_LEN - 1; k >= 0; k--, t >>= 8)
			wire[i * EMBARK_TOKEN_WIRE_LEN + (size_t)k] = (uint8_t)t;
		/* (a run that ends at 2^64 - 1 is not continued by offset 0) */
		if (count && offsets[i] == start + count && offsets[i] != 0) {
			count++;
			continue;
		}
		if (count)
			len += put_run(runs + len, start, count, &prev_end);
		start = offsets[i];
		count = 1;
	}
	if (count)
		len += put_run(runs + len, start, count, &prev_end);
	return len;
}

long embark_tokens_count(size_t wire_len, const uint8_t *runs, size_t runs_len)
{
	if (wire_len % EMBARK_TOKEN_WIRE_LEN || wire_len / EMBARK_TOKEN_WIRE_LEN > (size_t)LONG_MAX)
		return -1;
	uint64_t total = 0, start = 0, count = 0, n = wire_len / EMBARK_TOKEN_WIRE_LEN;
	for (size_t pos = 0; pos < runs_len;) {
		if (!get_run(runs, runs_len, &pos, start + count, &start, &count))
			return -1;
		/* the run's last offset fits in 64 bits; a count past n could wrap total */
		if (!count || count - 1 > UINT64_MAX - start || count > n)
			return -1;
		total += count;
		if (total > n)
			return -1;
	}
	return total == n ? (long)total : -1;
}

void embark_tokens_unpack(const uint8_t *wire, size_t wire_len, const uint8_t *runs, size_t runs_len,
			  embark_token_ct *tokens, uint64_t *offsets)
{
	size_t n = wire_len / EMBARK_TOKEN_WIRE_LEN, i = 0;
	for (size_t t = 0; t < n; t++, wire += EMBARK_TOKEN_WIRE_LEN)
		tokens[t] = wire_token(wire);
	uint64_t start = 0, count = 0;
	for (size_t pos = 0; pos < runs_len && get_run(runs, runs_len, &pos, start + count, &start, &count);)
		for (uint64_t k = 0; k < count && i < n; k++)
			offsets[i++] = start + k;
}
