/* SPDX-License-Identifier: BSD-3-Clause */
#include "internal.h"

#include <errno.h>
#include <stdlib.h>
#include <string.h>

const char *embark_strerror(int err)
{
	switch (err) {
	case EMBARK_OK: return "ok";
	case EMBARK_E_MALFORMED: return "malformed packet";
	case EMBARK_E_TRUNCATED: return "truncated packet";
	case EMBARK_E_FRAGMENT: return "IPv4 fragment refused";
	case EMBARK_E_UNSUPPORTED: return "unsupported packet";
	case EMBARK_E_TOO_BIG: return "output too big";
	case EMBARK_E_NO_OPTION: return "no Embark option";
	case EMBARK_E_TAMPERED: return "authentication failed (tampered or wrong key)";
	case EMBARK_E_REWRITTEN: return "field rewritten to an unknown value";
	case EMBARK_E_CRYPTO: return "crypto library failure";
	default: return "unknown error";
	}
}

EVP_CIPHER_CTX *embark_ecb_ctx(const uint8_t key[16])
{
	EVP_CIPHER_CTX *ctx = EVP_CIPHER_CTX_new();
	if (!ctx)
		return NULL;
	if (EVP_EncryptInit_ex(ctx, EVP_aes_128_ecb(), NULL, key, NULL) != 1) {
		EVP_CIPHER_CTX_free(ctx);
		return NULL;
	}
	EVP_CIPHER_CTX_set_padding(ctx, 0);
	return ctx;
}

int embark_ecb(EVP_CIPHER_CTX *ctx, const uint8_t *in, uint8_t *out, size_t len)
{
	int outl;
	return EVP_EncryptUpdate(ctx, out, &outl, in, (int)len) == 1 ? 0 : -1;
}

uint32_t embark_csum_add(uint32_t sum, const uint8_t *p, size_t len)
{
	/* 32-bit big-endian words into a 64-bit accumulator: no carries lost, few iterations */
	uint64_t acc = sum;
	size_t i = 0;
	for (; i + 4 <= len; i += 4) {
		uint32_t w;
		memcpy(&w, p + i, 4);
		acc += __builtin_bswap32(w);
	}
	for (; i + 1 < len; i += 2)
		acc += (uint32_t)(p[i] << 8 | p[i + 1]);
	if (i < len)
		acc += (uint32_t)p[i] << 8;
	while (acc >> 16)
		acc = (acc & 0xffff) + (acc >> 16);
	return (uint32_t)acc;
}

uint16_t embark_csum_fold(uint32_t sum)
{
	while (sum >> 16)
		sum = (sum & 0xffff) + (sum >> 16);
	return (uint16_t)~sum;
}
