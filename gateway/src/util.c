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
	case EMBARK_E_CONTENT: return "web-cache content segment refused";
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
