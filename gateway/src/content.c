/* SPDX-License-Identifier: BSD-3-Clause */
/* Web-cache content sealing: a response's segments under a key of its URI alone
 * (README "HTTP proxy/cache over ciphertext", part 1). The key comes from the URI's id
 * (the SIV of its deterministic encryption), not the URI: a gateway that did not see the
 * request can still derive it from the id a segment carries. */
#include "internal.h"
#include "siv.h"

#include <openssl/core_names.h>
#include <openssl/crypto.h>
#include <stdint.h>
#include <string.h>

#define CONTENT_LABEL "embark-content-v1"
#define AD_LEN (3 + EMBARK_CONTENT_TAG_LEN + 8 + 4 + 1)

struct embark_content {
	embark_siv siv; /* under K_U */
};

static int content_key(const embark_keys *keys, const uint8_t uri_id[EMBARK_URI_ID_LEN], uint8_t out[32])
{
	EVP_MAC *alg = EVP_MAC_fetch(NULL, "HMAC", NULL);
	if (!alg)
		return -1;
	EVP_MAC_CTX *ctx = EVP_MAC_CTX_new(alg);
	EVP_MAC_free(alg);
	if (!ctx)
		return -1;
	OSSL_PARAM params[] = {
		OSSL_PARAM_construct_utf8_string(OSSL_MAC_PARAM_DIGEST, "SHA256", 0),
		OSSL_PARAM_construct_end(),
	};
	size_t out_len = 0;
	int ok = EVP_MAC_init(ctx, keys->content, sizeof keys->content, params) &&
		 EVP_MAC_update(ctx, (const uint8_t *)CONTENT_LABEL, strlen(CONTENT_LABEL)) &&
		 EVP_MAC_update(ctx, uri_id, EMBARK_URI_ID_LEN) && EVP_MAC_final(ctx, out, &out_len, 32) &&
		 out_len == 32;
	EVP_MAC_CTX_free(ctx);
	return ok ? 0 : -1;
}

embark_content *embark_content_new(const embark_keys *keys, const uint8_t uri_id[EMBARK_URI_ID_LEN])
{
	embark_content *c = OPENSSL_zalloc(sizeof *c);
	uint8_t k[32];
	if (!c)
		return NULL;
	if (content_key(keys, uri_id, k) || embark_siv_init(&c->siv, k)) {
		OPENSSL_cleanse(k, sizeof k);
		embark_content_free(c);
		return NULL;
	}
	OPENSSL_cleanse(k, sizeof k);
	return c;
}

void embark_content_free(embark_content *c)
{
	if (!c)
		return;
	embark_siv_free(&c->siv);
	OPENSSL_clear_free(c, sizeof *c);
}

/* "EC1" || tag || offset (BE64) || length (BE32) || last */
static void content_ad(const embark_content_seg *seg, size_t len, uint8_t ad[AD_LEN])
{
	ad[0] = 'E', ad[1] = 'C', ad[2] = '1';
	memcpy(ad + 3, seg->tag, EMBARK_CONTENT_TAG_LEN);
	uint8_t *p = ad + 3 + EMBARK_CONTENT_TAG_LEN;
	for (int i = 0; i < 8; i++)
		p[i] = (uint8_t)(seg->offset >> (56 - 8 * i));
	for (int i = 0; i < 4; i++)
		p[8 + i] = (uint8_t)(len >> (24 - 8 * i));
	p[12] = seg->last ? 1 : 0;
}

int embark_content_seal(embark_content *c, const embark_content_seg *seg, uint8_t *data, size_t len, uint8_t siv[16])
{
	if (len > UINT32_MAX)
		return -1;
	uint8_t ad[AD_LEN];
	content_ad(seg, len, ad);
	embark_siv_msg m = {.ad = ad, .ad_len = sizeof ad, .text = {{data, NULL}, {data, NULL}, {len, 0}}};
	if (embark_siv_seal(&c->siv, &m, 1))
		return -1;
	memcpy(siv, m.v, 16);
	return 0;
}

int embark_content_open(embark_content *c, const embark_content_seg *seg, uint8_t *data, size_t len,
			const uint8_t siv[16])
{
	if (len > UINT32_MAX)
		return -1;
	uint8_t ad[AD_LEN];
	content_ad(seg, len, ad);
	embark_siv_msg m = {.ad = ad, .ad_len = sizeof ad, .text = {{data, NULL}, {data, NULL}, {len, 0}}};
	memcpy(m.v, siv, 16);
	bool ok = false;
	if (embark_siv_open(&c->siv, &m, 1, &ok) || !ok) {
		OPENSSL_cleanse(data, len);
		return -1;
	}
	return 0;
}
