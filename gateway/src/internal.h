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
	uint8_t prefix[16]; /* interval-map randomness */
	uint8_t seed[16];   /* per-flow seed PRF */
	uint8_t suffix[16]; /* PRF_seed(v) */
	uint8_t opt[16];    /* AES-GCM of the destination option and payload */
	uint8_t pool[16];   /* suffixes of encrypted pool values */
	uint8_t kw[16];     /* KeywordMatch AES_k(t) */
	uint8_t uri[32];    /* AES-SIV for URIs */
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

/* AES-128-ECB context for key, or NULL. */
EVP_CIPHER_CTX *embark_ecb_ctx(const uint8_t key[16]);
int embark_ecb(EVP_CIPHER_CTX *ctx, const uint8_t *in, uint8_t *out, size_t len);

/* 16-bit one's-complement sum helpers */
uint32_t embark_csum_add(uint32_t sum, const uint8_t *p, size_t len);
uint16_t embark_csum_fold(uint32_t sum);

#endif
