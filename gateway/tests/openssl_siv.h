/* SPDX-License-Identifier: BSD-3-Clause */
/* The reference the SIV tests hold libembark to: OpenSSL's own AES-128-SIV of one message
 * with one associated-data component. Include after cmocka.h. */
#ifndef EMBARK_TEST_OPENSSL_SIV_H
#define EMBARK_TEST_OPENSSL_SIV_H
#include <openssl/evp.h>
#include <stdint.h>

/* SIV into v, ciphertext into ct. OpenSSL's EVP refuses an empty text (n = 0). */
static inline void openssl_siv(const uint8_t key[32], const uint8_t *ad, size_t adl, const uint8_t *pt, size_t n,
			       uint8_t v[16], uint8_t *ct)
{
	EVP_CIPHER *c = EVP_CIPHER_fetch(NULL, "AES-128-SIV", NULL);
	EVP_CIPHER_CTX *x = EVP_CIPHER_CTX_new();
	int outl;
	assert_non_null(c);
	assert_non_null(x);
	assert_int_equal(EVP_EncryptInit_ex2(x, c, key, NULL, NULL), 1);
	assert_int_equal(EVP_EncryptUpdate(x, NULL, &outl, ad, (int)adl), 1);
	assert_int_equal(EVP_EncryptUpdate(x, ct, &outl, pt, (int)n), 1);
	assert_int_equal(EVP_EncryptFinal_ex(x, ct, &outl), 1);
	assert_int_equal(EVP_CIPHER_CTX_ctrl(x, EVP_CTRL_AEAD_GET_TAG, 16, v), 1);
	EVP_CIPHER_CTX_free(x);
	EVP_CIPHER_free(c);
}
#endif
