/* SPDX-License-Identifier: BSD-3-Clause */
/* Private to libembark. */
#ifndef EMBARK_INTERNAL_H
#define EMBARK_INTERNAL_H
#include "embark.h"
#include <openssl/evp.h>
#include <string.h>
#include "e2/bytes.h"

struct embark_keys {
	uint8_t master[EMBARK_MASTER_KEY_LEN];
	uint8_t prefix[16];  /* interval-map randomness */
	uint8_t seed[16];    /* per-flow seed PRF */
	uint8_t suffix[16];  /* PRF_seed(v) */
	uint8_t opt[32];     /* AES-128-SIV (K1 || K2) of the destination option and payload */
	uint8_t pool[16];    /* suffixes of encrypted pool values */
	uint8_t kw[16];      /* KeywordMatch AES_k(t) */
	uint8_t uri[32];     /* AES-SIV for URIs */
	uint8_t content[32]; /* HMAC key of the per-URI content keys (web cache) */
	uint8_t frame[16];   /* AES-CMAC of a cloud proxy's frames (a key file of the proxy's own) */
};

static inline embark_u128 embark_load_u128(const uint8_t *p)
{
	uint64_t hi, lo;
	memcpy(&hi, p, 8);
	memcpy(&lo, p + 8, 8);
	return (embark_u128)__builtin_bswap64(hi) << 64 | __builtin_bswap64(lo);
}
static inline void embark_store_u128(uint8_t *p, embark_u128 v)
{
	uint64_t hi = __builtin_bswap64((uint64_t)(v >> 64)), lo = __builtin_bswap64((uint64_t)v);
	memcpy(p, &hi, 8);
	memcpy(p + 8, &lo, 8);
}

/* memcpy for the short, variable lengths of packet headers, with fixed-size (possibly
 * overlapping) moves instead of a library call; dst and src must not overlap. */
static inline void embark_copy(uint8_t *dst, const uint8_t *src, size_t n)
{
	if (n > 64) {
		memcpy(dst, src, n);
	} else if (n >= 16) {
		memcpy(dst, src, 16);
		if (n > 32) {
			memcpy(dst + 16, src + 16, 16);
			if (n > 48)
				memcpy(dst + 32, src + 32, 16);
		}
		memcpy(dst + n - 16, src + n - 16, 16);
	} else if (n >= 8) {
		memcpy(dst, src, 8);
		memcpy(dst + n - 8, src + n - 8, 8);
	} else if (n >= 4) {
		memcpy(dst, src, 4);
		memcpy(dst + n - 4, src + n - 4, 4);
	} else if (n >= 2) {
		memcpy(dst, src, 2);
		memcpy(dst + n - 2, src + n - 2, 2);
	} else if (n) {
		dst[0] = src[0];
	}
}

struct embark_pm {
	int bits, prefix_len;
	size_t m;        /* intervals */
	embark_u128 *lo; /* lower bound of interval i, ascending, lo[0] == 0 */
	uint64_t *ibar;  /* encrypted prefix of interval i */
	/* Speed-ups, both derived from lo/ibar: 16-bit maps are a direct table; 128-bit maps
	 * index the IPv4-mapped region by its top 16 bits so the search covers few intervals. */
	uint16_t *direct; /* bits == 16: ibar of every value */
	uint32_t *v4idx;  /* bits == 128: interval holding ::ffff:(b << 16), b = 0..65536 */
};

/* embark_pm_lookup, inline for the per-packet path */
static inline uint64_t embark_pm_find(const embark_pm *pm, embark_u128 v)
{
	if (pm->direct)
		return pm->direct[(uint16_t)v];
	size_t a = 0, n = pm->m;
	if (pm->v4idx && (v >> 32) == 0xffff) {
		/* intervals after `a` start inside the v4-mapped region: 64-bit compares suffice */
		size_t b = (size_t)((v >> 16) & 0xffff);
		a = pm->v4idx[b];
		n = pm->v4idx[b + 1] - a + 1;
		uint64_t x = (uint64_t)v;
		while (n > 1) {
			size_t half = n / 2;
			a = (uint64_t)pm->lo[a + half] <= x ? a + half : a;
			n -= half;
		}
		return pm->ibar[a];
	}
	/* last i with lo[i] <= v; lo[0] == 0 so it exists */
	while (n > 1) {
		size_t half = n / 2;
		a = pm->lo[a + half] <= v ? a + half : a;
		n -= half;
	}
	return pm->ibar[a];
}

/* AES-128-ECB context for key, or NULL. */
EVP_CIPHER_CTX *embark_ecb_ctx(const uint8_t key[16]);
int embark_ecb(EVP_CIPHER_CTX *ctx, const uint8_t *in, uint8_t *out, size_t len);

/* 16-bit one's-complement sum helpers (inline: per packet on the hot path) */
static inline uint32_t embark_csum_add(uint32_t sum, const uint8_t *p, size_t len)
{
	/* The one's-complement sum does not care about byte order (RFC 1071 §2(B)): add
	 * native 32-bit halves of 64-bit words, fold, and swap once at the end. */
	uint64_t acc = 0;
	size_t i = 0;
	for (; i + 8 <= len; i += 8) {
		uint64_t w;
		memcpy(&w, p + i, 8);
		acc += (w & 0xffffffffu) + (w >> 32);
	}
	for (; i + 2 <= len; i += 2) {
		uint16_t h;
		memcpy(&h, p + i, 2);
		acc += h;
	}
	if (i < len) {
		uint8_t last[2] = {p[i], 0};
		uint16_t h;
		memcpy(&h, last, 2);
		acc += h;
	}
	while (acc >> 16)
		acc = (acc & 0xffff) + (acc >> 16);
#if __BYTE_ORDER__ == __ORDER_LITTLE_ENDIAN__
	acc = __builtin_bswap16((uint16_t)acc);
#endif
	acc += sum;
	while (acc >> 16)
		acc = (acc & 0xffff) + (acc >> 16);
	return (uint32_t)acc;
}

static inline uint16_t embark_csum_fold(uint32_t sum)
{
	while (sum >> 16)
		sum = (sum & 0xffff) + (sum >> 16);
	return (uint16_t)~sum;
}

#endif
