/* SPDX-License-Identifier: BSD-3-Clause */
/* AES-GCM for ESP (RFC 4106) through OpenSSL 3's EVP: one cipher context per SA, keyed
 * once; each packet only sets its nonce (salt || explicit IV), so nothing is allocated
 * per packet. The AAD is the ESP header (SPI, sequence number: 8 bytes, no ESN). */
#ifndef E2NF_ESP_H
#define E2NF_ESP_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "e2/err.h"

#define ESP_HDR_LEN 8 /* SPI, sequence number */
#define ESP_IV_LEN 8
#define ESP_ICV_LEN 16

struct evp_cipher_ctx_st;

struct esp_crypto {
	struct evp_cipher_ctx_st *ctx;
	uint8_t salt[4];
	bool encrypt;
};

/* key_len 16 or 32. Returns 0, or -1 with err (never naming the key). */
int esp_crypto_init(struct esp_crypto *c, bool encrypt, const uint8_t *key, int key_len, const uint8_t salt[4],
		    struct e2_err *err);
void esp_crypto_fini(struct esp_crypto *c);

/* Encrypts data[0..len) in place and writes the ICV. aad is the 8-byte ESP header. */
int esp_seal(struct esp_crypto *c, const uint8_t aad[ESP_HDR_LEN], const uint8_t iv[ESP_IV_LEN], uint8_t *data,
	     size_t len, uint8_t icv[ESP_ICV_LEN]);
/* Decrypts data[0..len) in place if the ICV authenticates header, IV and data:
 * 0, or -1 (tampered, or wrong key: data is then garbage and must not be used). */
int esp_open(struct esp_crypto *c, const uint8_t aad[ESP_HDR_LEN], const uint8_t iv[ESP_IV_LEN], uint8_t *data,
	     size_t len, const uint8_t icv[ESP_ICV_LEN]);

#endif
