/* SPDX-License-Identifier: BSD-3-Clause */
/* Frames a cloud proxy originates (README "HTTP proxy/cache over ciphertext", part 5).
 *
 * Layout: IPv6 (next header 60, hop limit 64, the flow's label) | Destination Options:
 * next header 6, length, option 0x1E, option length, flags (version 2 | frame [| content]),
 * zero, nonce (4), MAC (16) [, content block (48)], Pad1/PadN | TCP header | payload.
 * MAC = AES-CMAC(frame key, "EF1" || option bytes with the MAC zeroed || TCP header with
 * ports and checksum zeroed || payload length). */
#include "gw_internal.h"
#include "siv.h"

#include <openssl/crypto.h>
#include <string.h>

#define FRAME_OPT_FIXED (2 + NONCE_LEN + SIV_LEN) /* flags, zero, nonce, MAC */
#define MAC_OFF SIV_OFF

/* AES-CMAC (RFC 4493) in one CBC call per frame: the context stays keyed and keeps
 * chaining, and the first block of each message is XORed with the chain value the last
 * call left, which cancels it, so every message is CBC-MACed from a zero IV. OpenSSL's
 * EVP_MAC re-init, parameter lookups and several updates cost more than the ~8 AES blocks
 * of a frame's MAC (bench/embark-proxy). */
struct embark_framer {
	EVP_CIPHER_CTX *cbc;
	uint8_t k1[16], k2[16]; /* the CMAC subkeys */
	uint8_t chain[16];      /* the CBC state the last call left */
};

#define MAC_IN_MAX (3 + 256 + 60 + 2)

embark_framer *embark_framer_new(const embark_keys *k)
{
	static const uint8_t zero[16];
	_Static_assert(sizeof k->frame == 16, "the frame key is one AES-128 key");
	embark_framer *f = OPENSSL_zalloc(sizeof *f);
	int n = 0;
	if (!f || !(f->cbc = EVP_CIPHER_CTX_new()) ||
	    !EVP_EncryptInit_ex(f->cbc, EVP_aes_128_cbc(), NULL, k->frame, zero) ||
	    !EVP_CIPHER_CTX_set_padding(f->cbc, 0) || !EVP_EncryptUpdate(f->cbc, f->chain, &n, zero, 16) || n != 16) {
		embark_framer_free(f);
		return NULL;
	}
	/* chain = L = AES(0): the subkeys come from it, and it is the chain state now */
	embark_dbl(f->chain, f->k1);
	embark_dbl(f->k1, f->k2);
	return f;
}

void embark_framer_free(embark_framer *f)
{
	if (!f)
		return;
	EVP_CIPHER_CTX_free(f->cbc);
	OPENSSL_clear_free(f, sizeof *f);
}

static int cmac(embark_framer *f, uint8_t *msg, size_t len, uint8_t mac[16])
{
	uint8_t out[MAC_IN_MAX + 16];
	size_t nb = len ? (len + 15) / 16 : 1;
	const uint8_t *sub = f->k1;
	if (len % 16 || !len) {
		memset(msg + len, 0, nb * 16 - len);
		msg[len] = 0x80;
		sub = f->k2;
	}
	uint8_t *last = msg + (nb - 1) * 16;
	for (int i = 0; i < 16; i++) {
		last[i] ^= sub[i];
		msg[i] ^= f->chain[i]; /* (the same block when nb is 1: both apply) */
	}
	int n = 0;
	if (!EVP_EncryptUpdate(f->cbc, out, &n, msg, (int)(nb * 16)) || (size_t)n != nb * 16)
		return -1;
	memcpy(f->chain, out + (nb - 1) * 16, 16);
	memcpy(mac, f->chain, 16);
	return 0;
}

/* The MAC of a frame laid out in ext (the extension header, its MAC field ignored), tcp
 * and a payload of pay bytes. */
static int frame_mac(embark_framer *f, const uint8_t *ext, size_t ext_len, const uint8_t *tcp, size_t tcp_len,
		     size_t pay, uint8_t mac[16])
{
	uint8_t m[MAC_IN_MAX + 16] = {'E', 'F', '1'};
	if (ext_len > 256 || tcp_len > 60 || tcp_len < 20)
		return -1;
	uint8_t *opt = m + 3, *th = opt + ext_len;
	memcpy(opt, ext, ext_len);
	memset(opt + MAC_OFF, 0, SIV_LEN);
	memcpy(th, tcp, tcp_len);
	memset(th, 0, 4);      /* ports */
	memset(th + 16, 0, 2); /* checksum */
	e2_put_be16(th + tcp_len, (uint16_t)pay);
	return cmac(f, m, 3 + ext_len + tcp_len + 2, mac);
}

int embark_frame_build(embark_framer *f, const embark_frame *fr, uint8_t *out, size_t cap, size_t *out_len)
{
	bool content = fr->content != NULL;
	size_t pay = content ? fr->payload_len : 0;
	if (fr->tcp_len < 20 || fr->tcp_len > 60 || fr->tcp_len % 4 || (size_t)(fr->tcp[12] >> 4) * 4 != fr->tcp_len ||
	    (content && !fr->payload))
		return EMBARK_E_MALFORMED;
	size_t optdata = FRAME_OPT_FIXED + (content ? CB_LEN : 0);
	size_t ext = (4 + optdata + 7) / 8 * 8, pad = ext - 4 - optdata;
	size_t total = 40 + ext + fr->tcp_len + pay;
	if (total > cap || total - 40 > 0xffff)
		return EMBARK_E_TOO_BIG;
	memset(out, 0, 40 + ext);
	out[0] = 0x60;
	out[1] = (uint8_t)(fr->label >> 16 & 0x0f);
	e2_put_be16(out + 2, (uint16_t)fr->label);
	e2_put_be16(out + 4, (uint16_t)(total - 40));
	out[6] = 60;
	out[7] = 64;
	memcpy(out + 8, fr->src, 16);
	memcpy(out + 24, fr->dst, 16);
	uint8_t *d = out + 40;
	d[0] = 6;
	d[1] = (uint8_t)(ext / 8 - 1);
	d[2] = OPT_TYPE;
	d[3] = (uint8_t)optdata;
	d[4] = OPT_VERSION | OPT_F_FRAME | (content ? OPT_F_CONTENT : 0);
	e2_put_be32(d + NONCE_OFF, fr->nonce);
	if (content)
		embark_cblock_write(d + SEALED_OFF, fr->content, fr->content->siv);
	uint8_t *padp = d + 4 + optdata;
	if (pad == 1)
		padp[0] = 0;
	else if (pad > 1)
		padp[0] = 1, padp[1] = (uint8_t)(pad - 2);
	uint8_t *l4 = d + ext;
	memcpy(l4, fr->tcp, fr->tcp_len);
	if (pay)
		memcpy(l4 + fr->tcp_len, fr->payload, pay);
	if (frame_mac(f, d, ext, l4, fr->tcp_len, pay, d + MAC_OFF) != 0)
		return EMBARK_E_CRYPTO;
	l4[16] = l4[17] = 0;
	e2_put_be16(l4 + 16, embark_l4_csum(6, out + 8, out + 24, true, l4, fr->tcp_len + pay));
	*out_len = total;
	return EMBARK_OK;
}

bool embark_packet_content(const uint8_t *pkt, size_t len, embark_content_info *ci, const uint8_t **payload,
			   size_t *payload_len)
{
	if (len < 48 || pkt[0] >> 4 != 6 || pkt[6] != 60 || pkt[42] != OPT_TYPE || !(pkt[44] & OPT_F_CONTENT))
		return false;
	const uint8_t *d = pkt + 40;
	size_t pl = e2_get_be16(pkt + 4), ext = ((size_t)d[1] + 1) * 8, optdata = d[3];
	if (40 + pl > len || ext + 20 > pl || 4 + optdata > ext || optdata < SEALED_OFF - 4 + CB_LEN || d[0] != 6)
		return false;
	const uint8_t *l4 = d + ext;
	size_t th = (size_t)(l4[12] >> 4) * 4;
	if (th < 20 || ext + th > pl)
		return false;
	memset(ci, 0, sizeof *ci);
	embark_cblock_read(d + 4 + optdata - CB_LEN, ci);
	*payload = l4 + th;
	*payload_len = pl - ext - th;
	return true;
}

bool embark_is_frame(const uint8_t *pkt, size_t len)
{
	return len >= 48 && pkt[0] >> 4 == 6 && pkt[6] == 60 && pkt[42] == OPT_TYPE && (pkt[44] & OPT_F_FRAME);
}

int embark_frame_open(embark_framer *f, const uint8_t *pkt, size_t len, embark_frame_in *in)
{
	memset(in, 0, sizeof *in);
	if (len < 48)
		return EMBARK_E_TRUNCATED;
	if (pkt[0] >> 4 != 6)
		return EMBARK_E_MALFORMED;
	size_t pl = e2_get_be16(pkt + 4);
	if (40 + pl > len)
		return EMBARK_E_TRUNCATED;
	const uint8_t *d = pkt + 40;
	if (pkt[6] != 60 || d[2] != OPT_TYPE || !(d[4] & OPT_F_FRAME))
		return EMBARK_E_NO_OPTION;
	size_t ext = ((size_t)d[1] + 1) * 8;
	bool content = d[4] & OPT_F_CONTENT;
	size_t optdata = FRAME_OPT_FIXED + (content ? CB_LEN : 0);
	if (ext + 20 > pl)
		return EMBARK_E_TRUNCATED;
	if (d[0] != 6 || (d[4] & 0xf0) != OPT_VERSION || (d[4] & OPT_F_PAYLOAD) || d[5] != 0 || d[3] != optdata ||
	    ext != (4 + optdata + 7) / 8 * 8)
		return EMBARK_E_TAMPERED;
	const uint8_t *l4 = d + ext;
	size_t l4len = pl - ext, th = (size_t)(l4[12] >> 4) * 4;
	if (th < 20 || th > l4len)
		return EMBARK_E_MALFORMED;
	size_t pay = l4len - th;
	if (pay && !content)
		return EMBARK_E_TAMPERED; /* a proxy sends nothing but cached content */
	uint8_t mac[16];
	if (frame_mac(f, d, ext, l4, th, pay, mac) != 0)
		return EMBARK_E_CRYPTO;
	if (CRYPTO_memcmp(mac, d + MAC_OFF, 16) != 0)
		return EMBARK_E_TAMPERED;
	/* the padding is covered by the MAC: nothing to check beyond it */
	in->tcp = l4;
	in->tcp_len = th;
	in->payload = l4 + th;
	in->payload_len = pay;
	if (content)
		embark_cblock_read(d + SEALED_OFF, &in->content);
	return EMBARK_OK;
}

int embark_frame_to_ipv4(const embark_frame_in *in, uint32_t sip, uint32_t dip, uint16_t sport, uint16_t dport,
			 uint8_t *out, size_t cap, size_t *out_len)
{
	size_t tl = 20 + in->tcp_len + in->payload_len;
	if (tl > cap || tl > 0xffff)
		return EMBARK_E_TOO_BIG;
	memset(out, 0, 20);
	out[0] = 0x45;
	e2_put_be16(out + 2, (uint16_t)tl);
	out[6] = 0x40; /* DF */
	out[8] = 64;
	out[9] = 6;
	e2_put_be32(out + 12, sip);
	e2_put_be32(out + 16, dip);
	embark_ipv4_csum(out, 20);
	uint8_t *l4 = out + 20;
	memcpy(l4, in->tcp, in->tcp_len);
	memcpy(l4 + in->tcp_len, in->payload, in->payload_len);
	e2_put_be16(l4, sport);
	e2_put_be16(l4 + 2, dport);
	l4[16] = l4[17] = 0;
	e2_put_be16(l4 + 16, embark_l4_csum(6, out + 12, out + 16, false, l4, tl - 20));
	*out_len = tl;
	return EMBARK_OK;
}
