/* SPDX-License-Identifier: BSD-3-Clause */
/* The packet transform: IPv4 -> encrypted IPv6 and back (byte layout in gateway/README.md).
 *
 * Encrypt: addresses and ports become their PrefixMatch encryptions under the flow seed;
 * the original IPv4 header (options included), the original ports and L4 checksum and any
 * link-layer trailer are sealed with AES-128-GCM into one Destination Option; the transport
 * payload is encrypted in place by the same GCM stream, so one tag covers everything.
 * Decrypt: authenticate, restore fields the cloud left alone from the option, restore
 * NAT-rewritten addresses from the pool table, and rebuild the IPv4 packet. */
#include "gw_internal.h"

#include <openssl/core_names.h>
#include <openssl/crypto.h>
#include <openssl/params.h>
#include <string.h>

#define OPT_TYPE 0x1E      /* RFC 4727 experimental; top bits 00 = skip if unrecognised */
#define OPT_VERSION 0x10   /* high nibble of the flags byte */
#define OPT_F_PAYLOAD 0x01 /* payload encrypted in place */
#define NONCE_LEN 12
#define TAG_LEN 16
#define MAX_TRAILER 128
#define OPT_FIXED (2 + NONCE_LEN + TAG_LEN) /* flags, hl, nonce, tag */
#define SEALED_EXTRA 6                      /* original ports (4) + original L4 checksum (2) */

typedef struct {
	size_t hdr;   /* transport header bytes left in clear (ports encrypted) */
	int csum_off; /* offset of the L4 checksum, or -1 */
	bool ports;
} l4_info;

static int l4_parse(uint8_t proto, const uint8_t *l4, size_t len, l4_info *li)
{
	*li = (l4_info){0, -1, false};
	switch (proto) {
	case 6:
		if (len < 20)
			return EMBARK_E_MALFORMED;
		li->hdr = (size_t)(l4[12] >> 4) * 4;
		if (li->hdr < 20 || li->hdr > len)
			return EMBARK_E_MALFORMED;
		li->csum_off = 16;
		li->ports = true;
		return EMBARK_OK;
	case 17:
		if (len < 8)
			return EMBARK_E_MALFORMED;
		li->hdr = 8;
		li->csum_off = 6;
		li->ports = true;
		return EMBARK_OK;
	case 1:
		if (len < 8)
			return EMBARK_E_MALFORMED;
		li->hdr = 8; /* type, code, checksum, id/seq: the rest (incl. quoted headers) is sealed */
		li->csum_off = 2;
		return EMBARK_OK;
	default: return EMBARK_OK;
	}
}

/* L4 checksum over an IPv6 (v6=true) or IPv4 pseudo header. */
static uint16_t l4_csum(uint8_t proto, const uint8_t *src, const uint8_t *dst, bool v6, const uint8_t *l4, size_t len)
{
	uint32_t s = 0;
	if (proto != 1) {
		s = embark_csum_add(s, src, v6 ? 16 : 4);
		s = embark_csum_add(s, dst, v6 ? 16 : 4);
		s += (uint32_t)(len >> 16) + (uint32_t)(len & 0xffff) + proto;
	}
	s = embark_csum_add(s, l4, len);
	uint16_t c = embark_csum_fold(s);
	if (proto == 17 && c == 0)
		c = 0xffff;
	return c;
}

static void ipv4_csum(uint8_t *h, size_t hl)
{
	h[10] = h[11] = 0;
	e2_put_be16(h + 10, embark_csum_fold(embark_csum_add(0, h, hl)));
}

/* Associated data: the option's fixed bytes, then the transport header with the fields a
 * NAT may rewrite (ports) or that are recomputed (checksum) zeroed. */
static size_t build_aad(uint8_t *aad, const uint8_t *d6, const uint8_t *l4, const l4_info *li)
{
	memcpy(aad, d6, 6);
	memcpy(aad + 6, l4, li->hdr);
	if (li->ports)
		memset(aad + 6, 0, 4);
	if (li->csum_off >= 0)
		memset(aad + 6 + li->csum_off, 0, 2);
	return 6 + li->hdr;
}

static int fail(embark_gw *gw, int err)
{
	gw->counters[err]++;
	return err;
}

int embark_encrypt_packet(embark_gw *gw, const uint8_t *in, size_t len, uint8_t *out, size_t cap, size_t *out_len)
{
	if (len < 20)
		return fail(gw, len && (in[0] >> 4) != 4 ? EMBARK_E_MALFORMED : EMBARK_E_TRUNCATED);
	if ((in[0] >> 4) != 4)
		return fail(gw, EMBARK_E_MALFORMED);
	size_t hl = (size_t)(in[0] & 15) * 4, tl = e2_get_be16(in + 2);
	if (hl < 20 || tl < hl)
		return fail(gw, EMBARK_E_MALFORMED);
	if (tl > len)
		return fail(gw, EMBARK_E_TRUNCATED);
	if (e2_get_be16(in + 6) & 0x3fff)
		return fail(gw, EMBARK_E_FRAGMENT); /* MF or offset */
	size_t trailer = len - tl;
	if (trailer > MAX_TRAILER)
		return fail(gw, EMBARK_E_UNSUPPORTED);
	uint8_t proto = in[9];
	const uint8_t *l4 = in + hl;
	size_t l4len = tl - hl;
	l4_info li;
	int rc = l4_parse(proto, l4, l4len, &li);
	if (rc)
		return fail(gw, rc);

	size_t sealed = hl + SEALED_EXTRA + trailer;
	size_t optdata = OPT_FIXED + sealed;
	size_t ext = 4 + optdata, pad = (8 - ext % 8) % 8;
	ext += pad;
	size_t total = 40 + ext + l4len;
	if (total > cap || 40 + ext + l4len - 40 > 0xffff)
		return fail(gw, EMBARK_E_TOO_BIG);

	embark_tuple4 t = {e2_get_be32(in + 12), e2_get_be32(in + 16), li.ports ? e2_get_be16(l4) : 0,
			   li.ports ? e2_get_be16(l4 + 2) : 0, proto};
	embark_u128 esip, edip;
	uint16_t esp, edp;
	embark_encrypt_tuple(gw, &t, &esip, &edip, &esp, &edp);

	uint8_t *o = out;
	o[0] = (uint8_t)(0x60 | in[1] >> 4);
	o[1] = (uint8_t)(in[1] << 4);
	o[2] = o[3] = 0;
	e2_put_be16(o + 4, (uint16_t)(ext + l4len));
	o[6] = 60;
	o[7] = in[8];
	embark_store_u128(o + 8, esip);
	embark_store_u128(o + 24, edip);

	uint8_t *d = o + 40;
	d[0] = proto;
	d[1] = (uint8_t)(ext / 8 - 1);
	d[2] = OPT_TYPE;
	d[3] = (uint8_t)optdata;
	d[4] = OPT_VERSION | (gw->cfg.encrypt_payload ? OPT_F_PAYLOAD : 0);
	d[5] = (uint8_t)hl;
	uint8_t *nonce = d + 6, *ct = nonce + NONCE_LEN, *tag = ct + sealed;
	uint8_t *padp = tag + TAG_LEN;
	if (pad == 1)
		padp[0] = 0; /* Pad1 */
	else if (pad > 1) {
		padp[0] = 1;
		padp[1] = (uint8_t)(pad - 2);
		memset(padp + 2, 0, pad - 2);
	} /* PadN */

	/* Plaintext of the sealed part, assembled in the output (then encrypted in place). */
	memcpy(ct, in, hl);
	memset(ct + hl, 0, SEALED_EXTRA);
	if (li.ports)
		memcpy(ct + hl, l4, 4);
	if (li.csum_off >= 0)
		memcpy(ct + hl + 4, l4 + li.csum_off, 2);
	memcpy(ct + hl + SEALED_EXTRA, in + tl, trailer);

	uint8_t *ol4 = d + ext;
	memcpy(ol4, l4, li.hdr);
	bool enc_payload = gw->cfg.encrypt_payload;
	if (!enc_payload)
		memcpy(ol4 + li.hdr, l4 + li.hdr, l4len - li.hdr);

	EVP_CIPHER_CTX *g = gw->gcm_enc;
	int outl;
	uint8_t aad[6 + 60];
	size_t aadlen = build_aad(aad, d, l4, &li);
	OSSL_PARAM tagp[2] = {OSSL_PARAM_construct_octet_string(OSSL_CIPHER_PARAM_AEAD_TAG, tag, TAG_LEN),
			      OSSL_PARAM_construct_end()};
	OSSL_PARAM ivp[2] = {
		OSSL_PARAM_construct_octet_string(OSSL_CIPHER_PARAM_AEAD_TLS1_GET_IV_GEN, nonce, NONCE_LEN),
		OSSL_PARAM_construct_end()};
	if (EVP_CIPHER_CTX_get_params(g, ivp) != 1 || EVP_EncryptUpdate(g, NULL, &outl, aad, (int)aadlen) != 1 ||
	    EVP_EncryptUpdate(g, ct, &outl, ct, (int)sealed) != 1 ||
	    (enc_payload && l4len > li.hdr &&
	     EVP_EncryptUpdate(g, ol4 + li.hdr, &outl, l4 + li.hdr, (int)(l4len - li.hdr)) != 1) ||
	    EVP_EncryptFinal_ex(g, tag, &outl) != 1 || EVP_CIPHER_CTX_get_params(g, tagp) != 1) {
		OPENSSL_cleanse(out, total);
		return fail(gw, EMBARK_E_CRYPTO);
	}

	if (li.ports) {
		e2_put_be16(ol4, esp);
		e2_put_be16(ol4 + 2, edp);
	}
	if (li.csum_off >= 0) {
		ol4[li.csum_off] = ol4[li.csum_off + 1] = 0;
		e2_put_be16(ol4 + li.csum_off, l4_csum(proto, o + 8, o + 24, true, ol4, l4len));
	}
	*out_len = total;
	return EMBARK_OK;
}

int embark_decrypt_packet(embark_gw *gw, const uint8_t *in, size_t len, uint8_t *out, size_t cap, size_t *out_len)
{
	if (len < 40)
		return fail(gw, len && (in[0] >> 4) != 6 ? EMBARK_E_MALFORMED : EMBARK_E_TRUNCATED);
	if ((in[0] >> 4) != 6)
		return fail(gw, EMBARK_E_MALFORMED);
	size_t pl = e2_get_be16(in + 4);
	if (40 + pl > len)
		return fail(gw, EMBARK_E_TRUNCATED);
	if (in[6] != 60 || pl < 8)
		return fail(gw, EMBARK_E_NO_OPTION);
	const uint8_t *d = in + 40;
	size_t ext = ((size_t)d[1] + 1) * 8;
	if (ext > pl)
		return fail(gw, EMBARK_E_TRUNCATED);
	if (d[2] != OPT_TYPE)
		return fail(gw, EMBARK_E_NO_OPTION);
	size_t optdata = d[3], hl = d[5];
	if (4 + optdata > ext || (d[4] & 0xf0) != OPT_VERSION || hl < 20 || hl > 60 || hl % 4 ||
	    optdata < OPT_FIXED + hl + SEALED_EXTRA)
		return fail(gw, EMBARK_E_TAMPERED);
	size_t sealed = optdata - OPT_FIXED, trailer = sealed - hl - SEALED_EXTRA;
	if (trailer > MAX_TRAILER)
		return fail(gw, EMBARK_E_TAMPERED);
	/* Padding is not sealed, so it must be exactly the canonical Pad1/PadN. */
	size_t pad = ext - 4 - optdata;
	const uint8_t *padp = d + 4 + optdata;
	if (pad >= 8 || (pad == 1 && padp[0] != 0) || (pad > 1 && (padp[0] != 1 || padp[1] != pad - 2)))
		return fail(gw, EMBARK_E_TAMPERED);
	for (size_t i = 2; i < pad; i++)
		if (padp[i])
			return fail(gw, EMBARK_E_TAMPERED);
	uint8_t proto = d[0];
	const uint8_t *l4 = d + ext;
	size_t l4len = pl - ext;
	size_t total = hl + l4len + trailer;
	if (total > cap)
		return fail(gw, EMBARK_E_TOO_BIG);
	l4_info li;
	int rc = l4_parse(proto, l4, l4len, &li);
	if (rc)
		return fail(gw, rc);
	bool enc_payload = d[4] & OPT_F_PAYLOAD;

	/* Sealed part goes to scratch; the payload straight to its place in the output. */
	uint8_t sbuf[60 + SEALED_EXTRA + MAX_TRAILER];
	const uint8_t *nonce = d + 6, *ct = nonce + NONCE_LEN, *tag = ct + sealed;
	uint8_t *ol4 = out + hl;
	memcpy(ol4, l4, l4len);
	EVP_CIPHER_CTX *g = gw->gcm_dec;
	int outl;
	uint8_t aad[6 + 60];
	size_t aadlen = build_aad(aad, d, l4, &li);
	uint8_t tagc[TAG_LEN];
	memcpy(tagc, tag, TAG_LEN);
	OSSL_PARAM tagp[2] = {OSSL_PARAM_construct_octet_string(OSSL_CIPHER_PARAM_AEAD_TAG, tagc, TAG_LEN),
			      OSSL_PARAM_construct_end()};
	if (EVP_CipherInit_ex2(g, NULL, NULL, nonce, 0, NULL) != 1 ||
	    EVP_DecryptUpdate(g, NULL, &outl, aad, (int)aadlen) != 1 ||
	    EVP_DecryptUpdate(g, sbuf, &outl, ct, (int)sealed) != 1 ||
	    (enc_payload && l4len > li.hdr &&
	     EVP_DecryptUpdate(g, ol4 + li.hdr, &outl, l4 + li.hdr, (int)(l4len - li.hdr)) != 1) ||
	    EVP_CIPHER_CTX_set_params(g, tagp) != 1 || EVP_DecryptFinal_ex(g, sbuf, &outl) != 1) {
		OPENSSL_cleanse(out, hl + l4len);
		OPENSSL_cleanse(sbuf, sizeof sbuf);
		return fail(gw, EMBARK_E_TAMPERED);
	}
	/* The sealed IPv4 header must describe this packet. */
	if ((sbuf[0] >> 4) != 4 || (size_t)(sbuf[0] & 15) * 4 != hl || sbuf[9] != proto ||
	    e2_get_be16(sbuf + 2) != hl + l4len) {
		OPENSSL_cleanse(out, hl + l4len);
		OPENSSL_cleanse(sbuf, sizeof sbuf);
		return fail(gw, EMBARK_E_MALFORMED);
	}
	memcpy(out, sbuf, hl);
	const uint8_t *oports = sbuf + hl, *ocsum = sbuf + hl + 4;

	embark_tuple4 t = {e2_get_be32(sbuf + 12), e2_get_be32(sbuf + 16), li.ports ? e2_get_be16(oports) : 0,
			   li.ports ? e2_get_be16(oports + 2) : 0, proto};
	embark_u128 esip, edip;
	uint16_t esp, edp;
	embark_encrypt_tuple(gw, &t, &esip, &edip, &esp, &edp);
	embark_u128 csip = embark_load_u128(in + 8), cdip = embark_load_u128(in + 24);
	bool rewritten = false, src_pool = false, dst_pool = false;
	if (csip != esip) {
		bool found;
		embark_u128 plain = embark_pool_lookup(gw, csip, &found);
		if (!found || (plain >> 32) != 0xffff)
			goto rewritten_err;
		uint32_t a = (uint32_t)plain;
		uint8_t *f = out + 12;
		f[0] = (uint8_t)(a >> 24);
		f[1] = (uint8_t)(a >> 16);
		f[2] = (uint8_t)(a >> 8);
		f[3] = (uint8_t)a;
		rewritten = src_pool = true;
	}
	if (cdip != edip) {
		bool found;
		embark_u128 plain = embark_pool_lookup(gw, cdip, &found);
		if (!found || (plain >> 32) != 0xffff)
			goto rewritten_err;
		uint32_t a = (uint32_t)plain;
		uint8_t *f = out + 16;
		f[0] = (uint8_t)(a >> 24);
		f[1] = (uint8_t)(a >> 16);
		f[2] = (uint8_t)(a >> 8);
		f[3] = (uint8_t)a;
		rewritten = dst_pool = true;
	}
	if (li.ports) {
		/* A port that is not its own encryption is accepted only beside a pool address: it
     * was chosen by the NAT from its (plaintext) port range. */
		uint16_t csp = e2_get_be16(ol4), cdp = e2_get_be16(ol4 + 2);
		if (csp == esp)
			memcpy(ol4, oports, 2);
		else if (src_pool)
			rewritten = true;
		else
			goto rewritten_err;
		if (cdp == edp)
			memcpy(ol4 + 2, oports + 2, 2);
		else if (dst_pool)
			rewritten = true;
		else
			goto rewritten_err;
	}
	bool ttl_changed = in[7] != sbuf[8];
	if (ttl_changed)
		out[8] = in[7];
	if (rewritten || ttl_changed)
		ipv4_csum(out, hl);
	if (li.csum_off >= 0) {
		if (rewritten && !(proto == 17 && e2_get_be16(ocsum) == 0)) {
			ol4[li.csum_off] = ol4[li.csum_off + 1] = 0;
			e2_put_be16(ol4 + li.csum_off, l4_csum(proto, out + 12, out + 16, false, ol4, l4len));
		} else {
			memcpy(ol4 + li.csum_off, ocsum, 2);
		}
	}
	memcpy(out + hl + l4len, sbuf + hl + SEALED_EXTRA, trailer);
	OPENSSL_cleanse(sbuf, sizeof sbuf);
	*out_len = total;
	return EMBARK_OK;

rewritten_err:
	OPENSSL_cleanse(out, hl + l4len);
	OPENSSL_cleanse(sbuf, sizeof sbuf);
	return fail(gw, EMBARK_E_REWRITTEN);
}
