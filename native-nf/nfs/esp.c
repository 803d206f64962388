/* SPDX-License-Identifier: BSD-3-Clause */
/* AES-GCM for ESP (esp.h). */
#include "esp.h"

#include <limits.h>
#include <string.h>

#include <openssl/core_names.h>
#include <openssl/evp.h>
#include <openssl/params.h>

int esp_crypto_init(struct esp_crypto *c, bool encrypt, const uint8_t *key, int key_len, const uint8_t salt[4],
		    struct e2_err *err)
{
	const EVP_CIPHER *cipher = key_len == 16 ? EVP_aes_128_gcm() : key_len == 32 ? EVP_aes_256_gcm() : NULL;

	memset(c, 0, sizeof(*c));
	if (!cipher) {
		e2_seterr(err, "AES-GCM takes a 16- or 32-byte key, not %d bytes", key_len);
		return -1;
	}
	c->ctx = EVP_CIPHER_CTX_new();
	if (!c->ctx) {
		e2_seterr(err, "EVP_CIPHER_CTX_new failed");
		return -1;
	}
	int ok = encrypt ? EVP_EncryptInit_ex(c->ctx, cipher, NULL, NULL, NULL)
			 : EVP_DecryptInit_ex(c->ctx, cipher, NULL, NULL, NULL);
	ok = ok && EVP_CIPHER_CTX_ctrl(c->ctx, EVP_CTRL_GCM_SET_IVLEN, 4 + ESP_IV_LEN, NULL);
	ok = ok && (encrypt ? EVP_EncryptInit_ex(c->ctx, NULL, NULL, key, NULL)
			    : EVP_DecryptInit_ex(c->ctx, NULL, NULL, key, NULL));
	if (!ok) {
		e2_seterr(err, "OpenSSL refused the AES-%d-GCM set-up", key_len * 8);
		esp_crypto_fini(c);
		return -1;
	}
	memcpy(c->salt, salt, 4);
	c->encrypt = encrypt;
	return 0;
}

void esp_crypto_fini(struct esp_crypto *c)
{
	if (c->ctx)
		EVP_CIPHER_CTX_free(c->ctx); /* clears the key schedule */
	memset(c, 0, sizeof(*c));
}

static void nonce_of(const struct esp_crypto *c, const uint8_t iv[ESP_IV_LEN], uint8_t nonce[12])
{
	memcpy(nonce, c->salt, 4);
	memcpy(nonce + 4, iv, ESP_IV_LEN);
}

int esp_seal(struct esp_crypto *c, const uint8_t aad[ESP_HDR_LEN], const uint8_t iv[ESP_IV_LEN], uint8_t *data,
	     size_t len, uint8_t icv[ESP_ICV_LEN])
{
	uint8_t nonce[12];
	int outl;

	if (!c->encrypt || len > INT_MAX)
		return -1;
	nonce_of(c, iv, nonce);
	if (!EVP_EncryptInit_ex(c->ctx, NULL, NULL, NULL, nonce) ||
	    !EVP_EncryptUpdate(c->ctx, NULL, &outl, aad, ESP_HDR_LEN) ||
	    !EVP_EncryptUpdate(c->ctx, data, &outl, data, (int)len) ||
	    !EVP_EncryptFinal_ex(c->ctx, data + outl, &outl) ||
	    !EVP_CIPHER_CTX_ctrl(c->ctx, EVP_CTRL_GCM_GET_TAG, ESP_ICV_LEN, icv))
		return -1;
	return 0;
}

int esp_open(struct esp_crypto *c, const uint8_t aad[ESP_HDR_LEN], const uint8_t iv[ESP_IV_LEN], uint8_t *data,
	     size_t len, const uint8_t icv[ESP_ICV_LEN])
{
	uint8_t nonce[12];
	int outl;

	if (c->encrypt || len > INT_MAX)
		return -1;
	nonce_of(c, iv, nonce);
	OSSL_PARAM tag[2] = {
		OSSL_PARAM_construct_octet_string(OSSL_CIPHER_PARAM_AEAD_TAG, (void *)(uintptr_t)icv, ESP_ICV_LEN),
		OSSL_PARAM_construct_end()};
	if (!EVP_DecryptInit_ex(c->ctx, NULL, NULL, NULL, nonce) ||
	    !EVP_DecryptUpdate(c->ctx, NULL, &outl, aad, ESP_HDR_LEN) ||
	    !EVP_DecryptUpdate(c->ctx, data, &outl, data, (int)len) || !EVP_CIPHER_CTX_set_params(c->ctx, tag) ||
	    EVP_DecryptFinal_ex(c->ctx, data + outl, &outl) <= 0)
		return -1;
	return 0;
}
