/* SPDX-License-Identifier: BSD-3-Clause */
/* PrefixMatch EncryptPrefixes: the interval map (seed §4.2.2).
 *
 * Intervals are cut at every rule endpoint (lo and hi+1), so ranges sharing an endpoint
 * yield one-element intervals.  The set of ranges covering an interval is summarised by
 * the XOR of per-range 128-bit pseudo-random tags (duplicated ranges are merged first, so
 * equal sets give equal tags and different sets differ except with probability ~2^-100).
 * Intervals with equal sets get the same random prefix; different sets get distinct ones. */
#include "internal.h"

#include <openssl/sha.h>
#include <stdlib.h>
#include <string.h>

#define V4_BASE ((embark_u128)0xffff << 32)

static int cmp_u128(const void *a, const void *b)
{
	embark_u128 x = *(const embark_u128 *)a, y = *(const embark_u128 *)b;
	return x < y ? -1 : x > y;
}
static int cmp_range(const void *a, const void *b)
{
	const embark_range *x = a, *y = b;
	if (x->lo != y->lo)
		return x->lo < y->lo ? -1 : 1;
	return x->hi < y->hi ? -1 : x->hi > y->hi;
}
typedef struct {
	embark_u128 pos, tag;
} event;
static int cmp_event(const void *a, const void *b)
{
	return cmp_u128(a, b);
}
typedef struct {
	embark_u128 h;
	size_t idx;
} hidx;
static int cmp_hidx(const void *a, const void *b)
{
	const hidx *x = a, *y = b;
	if (x->h != y->h)
		return x->h < y->h ? -1 : 1;
	return x->idx < y->idx ? -1 : x->idx > y->idx;
}

/* Deterministic randomness: AES-128-CTR under the prefix key, IV bound to the map input. */
typedef struct {
	EVP_CIPHER_CTX *ctx;
	uint8_t buf[4096];
	size_t pos;
} stream;
static int stream_init(stream *s, const uint8_t key[16], const uint8_t iv[16])
{
	s->ctx = EVP_CIPHER_CTX_new();
	s->pos = sizeof s->buf;
	return s->ctx && EVP_EncryptInit_ex(s->ctx, EVP_aes_128_ctr(), NULL, key, iv) == 1 ? 0 : -1;
}
static uint64_t stream_u64(stream *s)
{
	if (s->pos + 8 > sizeof s->buf) {
		static const uint8_t zero[4096];
		int outl;
		EVP_EncryptUpdate(s->ctx, s->buf, &outl, zero, sizeof s->buf);
		s->pos = 0;
	}
	uint64_t v;
	memcpy(&v, s->buf + s->pos, 8);
	s->pos += 8;
	return v;
}
static void stream_free(stream *s)
{
	OPENSSL_cleanse(s->buf, sizeof s->buf);
	EVP_CIPHER_CTX_free(s->ctx);
}

/* Open-addressing set of used prefix values. */
static bool set_insert(uint64_t *tab, size_t cap, uint64_t v)
{
	uint64_t key = v + 1; /* 0 marks empty */
	size_t i = (size_t)((key * 0x9E3779B97F4A7C15ull) >> 20) & (cap - 1);
	while (tab[i]) {
		if (tab[i] == key)
			return false;
		i = (i + 1) & (cap - 1);
	}
	tab[i] = key;
	return true;
}

/* Encrypted addresses must look like ordinary unicast to NICs and routers (seed §4.1:
 * "encrypted packets never appear invalid"), so address prefixes avoid ::/8 (unspecified,
 * loopback, v4-mapped), fe80::/10 (link-local) and ff00::/8 (multicast). */
static bool special_v6(uint64_t prefix, int plen)
{
	if (plen < 10)
		return false;
	uint64_t top8 = prefix >> (plen - 8), top10 = prefix >> (plen - 10);
	return top8 == 0x00 || top8 == 0xff || top10 == 0x3fa;
}

embark_pm *embark_pm_build(const embark_keys *keys, int bits, int prefix_len, const embark_range *ranges, size_t n,
			   char *err, size_t errlen)
{
	if (bits != 128 && bits != 16) {
		snprintf(err, errlen, "PrefixMatch: value width must be 128 or 16 bits");
		return NULL;
	}
	int max_prefix = bits == 128 ? 64 : 16;
	if (prefix_len < 1 || prefix_len > max_prefix) {
		snprintf(err, errlen, "PrefixMatch: prefix_len %d out of range 1..%d", prefix_len, max_prefix);
		return NULL;
	}
	embark_u128 maxv = bits == 128 ? ~(embark_u128)0 : 0xffff;
	embark_pm *pm = calloc(1, sizeof *pm);
	embark_range *u = malloc((n ? n : 1) * sizeof *u);
	embark_u128 *cut = malloc((2 * n + 1) * sizeof *cut);
	event *starts = malloc((n ? n : 1) * sizeof *starts);
	event *ends = malloc((n ? n : 1) * sizeof *ends);
	hidx *hs = NULL;
	uint64_t *used = NULL, *cls_val = NULL;
	stream st = {0};
	if (!pm || !u || !cut || !starts || !ends)
		goto oom;
	pm->bits = bits;

	size_t nu = 0;
	for (size_t i = 0; i < n; i++) {
		if (ranges[i].lo > ranges[i].hi || ranges[i].hi > maxv) {
			snprintf(err, errlen, "PrefixMatch: range %zu is empty or out of the %d-bit domain", i, bits);
			goto fail;
		}
		u[nu++] = ranges[i];
	}
	qsort(u, nu, sizeof *u, cmp_range);
	size_t w = 0;
	for (size_t i = 0; i < nu; i++)
		if (w == 0 || cmp_range(&u[w - 1], &u[i]) != 0)
			u[w++] = u[i];
	nu = w;

	size_t nc = 0;
	cut[nc++] = 0;
	for (size_t i = 0; i < nu; i++) {
		cut[nc++] = u[i].lo;
		if (u[i].hi != maxv)
			cut[nc++] = u[i].hi + 1;
	}
	qsort(cut, nc, sizeof *cut, cmp_u128);
	w = 0;
	for (size_t i = 0; i < nc; i++)
		if (w == 0 || cut[w - 1] != cut[i])
			cut[w++] = cut[i];
	nc = w;

	/* IV = SHA-256 over the width and the cut points: same rules, same map. */
	uint8_t digest[SHA256_DIGEST_LENGTH];
	{
		EVP_MD_CTX *md = EVP_MD_CTX_new();
		uint8_t b = (uint8_t)bits;
		if (!md || EVP_DigestInit_ex(md, EVP_sha256(), NULL) != 1) {
			EVP_MD_CTX_free(md);
			goto crypto;
		}
		EVP_DigestUpdate(md, &b, 1);
		for (size_t i = 0; i < nc; i++) {
			uint8_t be[16];
			embark_store_u128(be, cut[i]);
			EVP_DigestUpdate(md, be, 16);
		}
		for (size_t i = 0; i < nu; i++) {
			uint8_t be[32];
			embark_store_u128(be, u[i].lo);
			embark_store_u128(be + 16, u[i].hi);
			EVP_DigestUpdate(md, be, 32);
		}
		EVP_DigestFinal_ex(md, digest, NULL);
		EVP_MD_CTX_free(md);
	}
	if (stream_init(&st, keys->prefix, digest) != 0)
		goto crypto;

	for (size_t i = 0; i < nu; i++) {
		embark_u128 tag = (embark_u128)stream_u64(&st) << 64 | stream_u64(&st);
		starts[i] = (event){u[i].lo, tag};
		ends[i] = (event){u[i].hi == maxv ? maxv : u[i].hi + 1, u[i].hi == maxv ? 0 : tag};
	}
	qsort(starts, nu, sizeof *starts, cmp_event);
	qsort(ends, nu, sizeof *ends, cmp_event);

	hs = malloc(nc * sizeof *hs);
	if (!hs)
		goto oom;
	embark_u128 h = 0;
	size_t si = 0, ei = 0;
	for (size_t i = 0; i < nc; i++) {
		while (si < nu && starts[si].pos == cut[i])
			h ^= starts[si++].tag;
		while (ei < nu && ends[ei].pos == cut[i])
			h ^= ends[ei++].tag;
		hs[i] = (hidx){h, i};
	}
	qsort(hs, nc, sizeof *hs, cmp_hidx);
	size_t classes = 0;
	size_t *cls_of = malloc(nc * sizeof *cls_of);
	if (!cls_of)
		goto oom;
	for (size_t i = 0; i < nc; i++) {
		if (i == 0 || hs[i].h != hs[i - 1].h)
			classes++;
		cls_of[hs[i].idx] = classes - 1;
	}

	int plen = prefix_len;
	while (plen < max_prefix && plen < 63 && ((uint64_t)1 << plen) < 2 * (uint64_t)classes)
		plen++;
	if (plen < 63 && ((uint64_t)1 << plen) < classes) {
		snprintf(err, errlen, "PrefixMatch: %zu interval classes do not fit %d bits", classes, plen);
		free(cls_of);
		goto fail;
	}
	pm->prefix_len = plen;
	uint64_t pmask = plen == 64 ? ~(uint64_t)0 : ((uint64_t)1 << plen) - 1;

	/* Distinct random values per class; in class order of first appearance on the axis
   * would leak nothing either, since classes are indexed by hash order. */
	cls_val = malloc((classes ? classes : 1) * sizeof *cls_val);
	if (!cls_val) {
		free(cls_of);
		goto oom;
	}
	if (plen <= 16 && ((uint64_t)1 << plen) < 2 * (uint64_t)classes) {
		/* Dense case (ports with many classes): a random partial permutation. */
		size_t space = (size_t)1 << plen;
		uint64_t *perm = malloc(space * sizeof *perm);
		if (!perm) {
			free(cls_of);
			goto oom;
		}
		for (size_t i = 0; i < space; i++)
			perm[i] = i;
		for (size_t i = 0; i < classes; i++) {
			size_t j = i + (size_t)(stream_u64(&st) % (space - i));
			uint64_t t = perm[i];
			perm[i] = perm[j];
			perm[j] = t;
			cls_val[i] = perm[i];
		}
		free(perm);
	} else {
		size_t cap = 16;
		while (cap < 2 * classes)
			cap <<= 1;
		used = calloc(cap, sizeof *used);
		if (!used) {
			free(cls_of);
			goto oom;
		}
		for (size_t i = 0; i < classes; i++) {
			uint64_t v;
			do
				v = stream_u64(&st) & pmask;
			while ((bits == 128 && special_v6(v, plen)) || !set_insert(used, cap, v));
			cls_val[i] = v;
		}
	}

	pm->m = nc;
	pm->lo = cut;
	cut = NULL;
	pm->ibar = malloc(nc * sizeof *pm->ibar);
	if (!pm->ibar) {
		free(cls_of);
		goto oom;
	}
	for (size_t i = 0; i < nc; i++)
		pm->ibar[i] = cls_val[cls_of[i]];
	free(cls_of);
	if (bits == 16) {
		pm->direct = malloc(65536 * sizeof *pm->direct);
		if (!pm->direct)
			goto oom;
		for (size_t i = 0, v = 0; v < 65536; v++) {
			while (i + 1 < nc && pm->lo[i + 1] <= v)
				i++;
			pm->direct[v] = (uint16_t)pm->ibar[i];
		}
	} else {
		pm->v4idx = malloc(65537 * sizeof *pm->v4idx);
		if (!pm->v4idx)
			goto oom;
		size_t i = 0;
		for (size_t b = 0; b <= 65536; b++) {
			embark_u128 v = b == 65536 ? V4_BASE + 0xffffffffu : V4_BASE + ((embark_u128)b << 16);
			while (i + 1 < nc && pm->lo[i + 1] <= v)
				i++;
			pm->v4idx[b] = (uint32_t)i;
		}
	}
	goto done;

oom:
	snprintf(err, errlen, "PrefixMatch: out of memory");
	goto fail;
crypto:
	snprintf(err, errlen, "PrefixMatch: crypto failure");
fail:
	embark_pm_free(pm);
	pm = NULL;
done:
	stream_free(&st);
	free(u);
	free(cut);
	free(starts);
	free(ends);
	free(hs);
	free(used);
	free(cls_val);
	return pm;
}

void embark_pm_free(embark_pm *pm)
{
	if (!pm)
		return;
	free(pm->lo);
	free(pm->ibar);
	free(pm->direct);
	free(pm->v4idx);
	free(pm);
}

int embark_pm_prefix_len(const embark_pm *pm)
{
	return pm->prefix_len;
}
int embark_pm_bits(const embark_pm *pm)
{
	return pm->bits;
}
size_t embark_pm_intervals(const embark_pm *pm)
{
	return pm->m;
}
size_t embark_pm_memory(const embark_pm *pm)
{
	return sizeof *pm + pm->m * (sizeof *pm->lo + sizeof *pm->ibar) +
	       (pm->direct ? 65536 * sizeof *pm->direct : 0) + (pm->v4idx ? 65537 * sizeof *pm->v4idx : 0);
}

static size_t find(const embark_pm *pm, embark_u128 v)
{
	/* last i with lo[i] <= v; lo[0] == 0 so it exists */
	size_t lo = 0, n = pm->m;
	while (n > 1) {
		size_t half = n / 2;
		lo = pm->lo[lo + half] <= v ? lo + half : lo;
		n -= half;
	}
	return lo;
}

uint64_t embark_pm_lookup(const embark_pm *pm, embark_u128 v)
{
	return embark_pm_find(pm, v);
}

static int cmp_u64(const void *a, const void *b)
{
	uint64_t x = *(const uint64_t *)a, y = *(const uint64_t *)b;
	return x < y ? -1 : x > y;
}

size_t embark_pm_encrypt_range(const embark_pm *pm, embark_range r, uint64_t *out, size_t cap)
{
	size_t a = find(pm, r.lo), b = find(pm, r.hi);
	/* Collect, sort, dedupe into a scratch copy so `cap` only limits what is written. */
	size_t k = b - a + 1;
	uint64_t *tmp = malloc(k * sizeof *tmp);
	if (!tmp)
		return 0;
	for (size_t i = 0; i < k; i++)
		tmp[i] = pm->ibar[a + i];
	qsort(tmp, k, sizeof *tmp, cmp_u64);
	size_t w = 0;
	for (size_t i = 0; i < k; i++)
		if (w == 0 || tmp[w - 1] != tmp[i])
			tmp[w++] = tmp[i];
	for (size_t i = 0; i < w && i < cap; i++)
		out[i] = tmp[i];
	free(tmp);
	return w;
}

embark_range embark_pm_prefix_range(const embark_pm *pm, uint64_t ibar)
{
	int sfx = pm->bits - pm->prefix_len;
	embark_u128 base = (embark_u128)ibar << sfx;
	embark_u128 mask = sfx == 0 ? 0 : (sfx == 128 ? ~(embark_u128)0 : (((embark_u128)1 << sfx) - 1));
	return (embark_range){base, base | mask};
}
