/* SPDX-License-Identifier: BSD-3-Clause */
/* The packet transform: IPv4 -> encrypted IPv6 and back (byte layout in gateway/README.md).
 *
 * Encrypt: addresses and ports become their PrefixMatch encryptions under the flow seed;
 * what of the original IPv4 header cannot be derived from the packet (options included),
 * the original ports and L4 checksum and any link-layer trailer are sealed with
 * AES-128-SIV into one Destination Option, together with the transport payload (unless
 * header-only), so one SIV covers everything.  Decrypt: authenticate, restore fields the
 * cloud left alone from the option, restore NAT-rewritten addresses from the pool table,
 * and rebuild the IPv4 packet.
 *
 * Both directions work on bursts: the AES work of every packet in a burst (flow seeds,
 * PRF_seed, S2V, CTR) is shared by a few EVP calls; one packet is a burst of one. */
#include "gw_internal.h"

#include <openssl/crypto.h>
#include <string.h>

#define MAX_TRAILER EMBARK_MAX_TRAILER

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
uint16_t embark_l4_csum(uint8_t proto, const uint8_t *src, const uint8_t *dst, bool v6, const uint8_t *l4, size_t len)
{
	uint32_t s = 0;
	if (proto != 1) {
		if (dst == src + (v6 ? 16 : 4)) {
			s = embark_csum_add(s, src, v6 ? 32 : 8); /* adjacent in the header */
		} else {
			s = embark_csum_add(s, src, v6 ? 16 : 4);
			s = embark_csum_add(s, dst, v6 ? 16 : 4);
		}
		s += (uint32_t)(len >> 16) + (uint32_t)(len & 0xffff) + proto;
	}
	s = embark_csum_add(s, l4, len);
	uint16_t c = embark_csum_fold(s);
	if (proto == 17 && c == 0)
		c = 0xffff;
	return c;
}

void embark_ipv4_csum(uint8_t *h, size_t hl)
{
	h[10] = h[11] = 0;
	e2_put_be16(h + 10, embark_csum_fold(embark_csum_add(0, h, hl)));
}

/* Associated data: the option's bytes up to the SIV (next header, lengths, flags, IHL,
 * nonce), the IPv4 total length (derived, never sent: a changed length fails), then the
 * transport header with the fields a NAT may rewrite (ports) or that are recomputed
 * (checksum) zeroed. */
static size_t build_aad(uint8_t *aad, const uint8_t *d6, size_t tl, const uint8_t *l4, const l4_info *li,
			const uint8_t *content_block)
{
	memcpy(aad, d6, SIV_OFF);
	e2_put_be16(aad + SIV_OFF, (uint16_t)tl);
	uint8_t *h = aad + SIV_OFF + 2;
	embark_copy(h, l4, li->hdr);
	if (li->ports)
		memset(h, 0, 4);
	if (li->csum_off >= 0)
		memset(h + li->csum_off, 0, 2);
	size_t n = SIV_OFF + 2 + li->hdr;
	if (content_block) { /* the packet's key binds the segment's place to its header */
		memcpy(aad + n, content_block, CB_LEN);
		n += CB_LEN;
	}
	return n;
}

void embark_cblock_write(uint8_t *b, const embark_content_info *ci, const uint8_t siv[16])
{
	memcpy(b, ci->seg.tag, EMBARK_CONTENT_TAG_LEN);
	b[8] = (uint8_t)(ci->seg.offset >> 32);
	e2_put_be32(b + 9, (uint32_t)ci->seg.offset);
	b[13] = (uint8_t)((ci->seg.last ? CB_LAST : 0) | (ci->cacheable ? CB_CACHEABLE : 0));
	uint32_t life = ci->cacheable ? ci->lifetime_s : 0;
	e2_put_be16(b + 14, (uint16_t)(life > 0xffff ? 0xffff : life));
	memcpy(b + 16, ci->uri_id, EMBARK_URI_ID_LEN);
	memcpy(b + 32, siv, EMBARK_CONTENT_SIV_LEN);
}

void embark_cblock_read(const uint8_t *b, embark_content_info *ci)
{
	memcpy(ci->seg.tag, b, EMBARK_CONTENT_TAG_LEN);
	ci->seg.offset = (uint64_t)b[8] << 32 | e2_get_be32(b + 9);
	ci->seg.last = b[13] & CB_LAST;
	ci->cacheable = b[13] & CB_CACHEABLE;
	ci->lifetime_s = e2_get_be16(b + 14);
	memcpy(ci->uri_id, b + 16, EMBARK_URI_ID_LEN);
	memcpy(ci->siv, b + 32, EMBARK_CONTENT_SIV_LEN);
	ci->present = true;
}

static int fail(embark_gw *gw, int err)
{
	gw->counters[err]++;
	return err;
}

typedef struct {
	l4_info li;
	size_t hl, tl, l4len, trailer, sealed, cb, ext, pad, total;
	uint8_t proto;
} enc_plan;

static int plan_encrypt(const uint8_t *in, size_t len, size_t cap, const embark_content_info *content, enc_plan *p)
{
	if (len < 20)
		return len && (in[0] >> 4) != 4 ? EMBARK_E_MALFORMED : EMBARK_E_TRUNCATED;
	if ((in[0] >> 4) != 4)
		return EMBARK_E_MALFORMED;
	p->hl = (size_t)(in[0] & 15) * 4;
	p->tl = e2_get_be16(in + 2);
	if (p->hl < 20 || p->tl < p->hl)
		return EMBARK_E_MALFORMED;
	if (p->tl > len)
		return EMBARK_E_TRUNCATED;
	if (e2_get_be16(in + 6) & 0x3fff)
		return EMBARK_E_FRAGMENT; /* MF or offset */
	p->trailer = len - p->tl;
	if (p->trailer > MAX_TRAILER)
		return EMBARK_E_UNSUPPORTED;
	p->proto = in[9];
	p->l4len = p->tl - p->hl;
	int rc = l4_parse(p->proto, in + p->hl, p->l4len, &p->li);
	if (rc)
		return rc;
	p->cb = 0;
	if (content) {
		if (p->proto != 6 || content->seg.offset > CB_OFFSET_MAX)
			return EMBARK_E_UNSUPPORTED;
		p->cb = CB_LEN;
	}
	p->sealed = HDR_SAVED(p->hl) + SEALED_EXTRA + p->trailer;
	size_t ext = 4 + OPT_FIXED + p->sealed + p->cb;
	p->pad = (8 - ext % 8) % 8;
	p->ext = ext + p->pad;
	p->total = 40 + p->ext + p->l4len;
	if (p->total > cap || p->ext + p->l4len > 0xffff)
		return EMBARK_E_TOO_BIG;
	return EMBARK_OK;
}

/* Writes everything but the SIV, the ciphertext and the transport checksum; leaves the
 * sealed plaintext in place for the SIV to encrypt. */
static int encrypt_layout(embark_gw *gw, const uint8_t *in, uint8_t *o, const enc_plan *p, const embark_tuple_enc *e,
			  const embark_content_info *content, uint8_t *aad, embark_siv_msg *m)
{
	const uint8_t *l4 = in + p->hl;
	o[0] = (uint8_t)(0x60 | in[1] >> 4);
	o[1] = (uint8_t)(in[1] << 4);
	o[2] = o[3] = 0;
	e2_put_be16(o + 4, (uint16_t)(p->ext + p->l4len));
	o[6] = 60;
	o[7] = in[8];
	embark_store_u128(o + 8, e->sip);
	embark_store_u128(o + 24, e->dip);

	uint8_t *d = o + 40;
	d[0] = p->proto;
	d[1] = (uint8_t)(p->ext / 8 - 1);
	d[2] = OPT_TYPE;
	d[3] = (uint8_t)(OPT_FIXED + p->sealed + p->cb);
	bool enc_payload = gw->cfg.encrypt_payload && !content;
	d[4] = OPT_VERSION | (content ? OPT_F_CONTENT : enc_payload ? OPT_F_PAYLOAD : 0);
	d[5] = (uint8_t)p->hl;
	e2_put_be32(d + NONCE_OFF, gw->nonce++);
	uint8_t *ct = d + SEALED_OFF, *padp = ct + p->sealed + p->cb;
	if (p->pad == 1)
		padp[0] = 0; /* Pad1 */
	else if (p->pad > 1) {
		padp[0] = 1;
		padp[1] = (uint8_t)(p->pad - 2);
		memset(padp + 2, 0, p->pad - 2);
	} /* PadN */

	/* sealed plaintext: TOS | ID, flags+offset, TTL | header checksum, addresses, options |
	 * ports | L4 checksum | trailer */
	size_t hs = HDR_SAVED(p->hl);
	ct[0] = in[1];
	memcpy(ct + 1, in + 4, 5);
	embark_copy(ct + 6, in + 10, p->hl - 10);
	memset(ct + hs, 0, SEALED_EXTRA);
	if (p->li.ports)
		memcpy(ct + hs, l4, 4);
	if (p->li.csum_off >= 0)
		memcpy(ct + hs + 4, l4 + p->li.csum_off, 2);
	embark_copy(ct + hs + SEALED_EXTRA, in + p->tl, p->trailer);

	uint8_t *ol4 = d + p->ext;
	embark_copy(ol4, l4, p->li.hdr);
	/* written now, read by the checksum much later: no store-forwarding stall there */
	if (p->li.ports) {
		e2_put_be16(ol4, e->sport);
		e2_put_be16(ol4 + 2, e->dport);
	}
	if (p->li.csum_off >= 0)
		ol4[p->li.csum_off] = ol4[p->li.csum_off + 1] = 0;
	size_t pay = p->l4len - p->li.hdr;
	if (!enc_payload)
		embark_copy(ol4 + p->li.hdr, l4 + p->li.hdr, pay);
	int rc = EMBARK_OK;
	if (content) {
		uint8_t csiv[EMBARK_CONTENT_SIV_LEN] = {0};
		if (embark_content_seal(content->key, &content->seg, ol4 + p->li.hdr, pay, csiv) != 0)
			rc = EMBARK_E_CRYPTO;
		embark_cblock_write(ct + p->sealed, content, csiv);
	}

	m->ad = aad;
	m->ad_len = build_aad(aad, d, p->tl, l4, &p->li, content ? ct + p->sealed : NULL);
	m->text = (embark_siv_text){{ct, l4 + p->li.hdr}, {ct, ol4 + p->li.hdr}, {p->sealed, enc_payload ? pay : 0}};
	return rc;
}

static void encrypt_finish(uint8_t *o, const enc_plan *p, const uint8_t v[16])
{
	uint8_t *d = o + 40, *ol4 = d + p->ext;
	memcpy(d + SIV_OFF, v, SIV_LEN);
	if (p->li.csum_off >= 0)
		e2_put_be16(ol4 + p->li.csum_off, embark_l4_csum(p->proto, o + 8, o + 24, true, ol4, p->l4len));
}

static size_t encrypt_chunk(embark_gw *gw, embark_burst_pkt *pk, size_t n)
{
	enc_plan plan[EMBARK_SIV_BURST];
	embark_tuple4 t[EMBARK_SIV_BURST];
	embark_tuple_enc e[EMBARK_SIV_BURST];
	embark_siv_msg m[EMBARK_SIV_BURST];
	uint8_t live[EMBARK_SIV_BURST];
	size_t nl = 0;
	for (size_t i = 0; i < n; i++) {
		enc_plan *p = &plan[nl];
		pk[i].rc = pk[i].content && !pk[i].content->key
				   ? EMBARK_E_UNSUPPORTED
				   : plan_encrypt(pk[i].in, pk[i].len, pk[i].cap, pk[i].content, p);
		if (pk[i].rc) {
			fail(gw, pk[i].rc);
			continue;
		}
		const uint8_t *in = pk[i].in, *l4 = in + p->hl;
		t[nl] = (embark_tuple4){e2_get_be32(in + 12), e2_get_be32(in + 16), p->li.ports ? e2_get_be16(l4) : 0,
					p->li.ports ? e2_get_be16(l4 + 2) : 0, p->proto};
		live[nl++] = (uint8_t)i;
	}
	embark_encrypt_tuples(gw, t, nl, e);
	int lrc[EMBARK_SIV_BURST];
	for (size_t j = 0; j < nl; j++)
		lrc[j] = encrypt_layout(gw, pk[live[j]].in, pk[live[j]].out, &plan[j], &e[j], pk[live[j]].content,
					gw->aad[j], &m[j]);
	bool crypto_ok = embark_siv_seal(&gw->siv, m, nl) == 0;
	size_t ok = 0;
	for (size_t j = 0; j < nl; j++) {
		embark_burst_pkt *x = &pk[live[j]];
		if (!crypto_ok || lrc[j]) {
			OPENSSL_cleanse(x->out, plan[j].total);
			x->rc = fail(gw, EMBARK_E_CRYPTO);
			continue;
		}
		encrypt_finish(x->out, &plan[j], m[j].v);
		x->out_len = plan[j].total;
		ok++;
	}
	return ok;
}

size_t embark_encrypt_burst(embark_gw *gw, embark_burst_pkt *pk, size_t n)
{
	size_t ok = 0;
	for (size_t i = 0; i < n; i += EMBARK_SIV_BURST)
		ok += encrypt_chunk(gw, pk + i, n - i < EMBARK_SIV_BURST ? n - i : EMBARK_SIV_BURST);
	return ok;
}

size_t embark_encrypted_len(const uint8_t *in, size_t len, bool content)
{
	embark_content_info ci = {0}; /* only planned, never sealed */
	enc_plan p;
	return plan_encrypt(in, len, SIZE_MAX, content ? &ci : NULL, &p) == EMBARK_OK ? p.total : 0;
}

int embark_encrypt_packet(embark_gw *gw, const uint8_t *in, size_t len, uint8_t *out, size_t cap, size_t *out_len)
{
	embark_burst_pkt p = {.in = in, .len = len, .out = out, .cap = cap};
	embark_encrypt_burst(gw, &p, 1);
	if (p.rc == EMBARK_OK)
		*out_len = p.out_len;
	return p.rc;
}

typedef struct {
	l4_info li;
	size_t hl, ext, l4len, sealed, trailer, total;
	uint8_t proto;
	bool content;
} dec_plan;

static int plan_decrypt(const uint8_t *in, size_t len, size_t cap, dec_plan *p)
{
	if (len < 40)
		return len && (in[0] >> 4) != 6 ? EMBARK_E_MALFORMED : EMBARK_E_TRUNCATED;
	if ((in[0] >> 4) != 6)
		return EMBARK_E_MALFORMED;
	size_t pl = e2_get_be16(in + 4);
	if (40 + pl > len)
		return EMBARK_E_TRUNCATED;
	if (in[6] != 60 || pl < 8)
		return EMBARK_E_NO_OPTION;
	const uint8_t *d = in + 40;
	size_t ext = ((size_t)d[1] + 1) * 8;
	if (ext > pl)
		return EMBARK_E_TRUNCATED;
	if (d[2] != OPT_TYPE)
		return EMBARK_E_NO_OPTION;
	size_t optdata = d[3], hl = d[5];
	p->content = d[4] & OPT_F_CONTENT;
	size_t cb = p->content ? CB_LEN : 0;
	if (4 + optdata > ext || (d[4] & 0xf0) != OPT_VERSION || hl < 20 || hl > 60 || hl % 4 ||
	    optdata < OPT_FIXED + HDR_SAVED(hl) + SEALED_EXTRA + cb ||
	    (p->content && ((d[4] & OPT_F_PAYLOAD) || d[0] != 6 || (d[4 + optdata - CB_LEN + 13] & ~3))))
		return EMBARK_E_TAMPERED;
	p->sealed = optdata - OPT_FIXED - cb;
	p->trailer = p->sealed - HDR_SAVED(hl) - SEALED_EXTRA;
	if (p->trailer > MAX_TRAILER)
		return EMBARK_E_TAMPERED;
	/* Padding is not sealed, so it must be exactly the canonical Pad1/PadN. */
	size_t pad = ext - 4 - optdata;
	const uint8_t *padp = d + 4 + optdata;
	if (pad >= 8 || (pad == 1 && padp[0] != 0) || (pad > 1 && (padp[0] != 1 || padp[1] != pad - 2)))
		return EMBARK_E_TAMPERED;
	for (size_t i = 2; i < pad; i++)
		if (padp[i])
			return EMBARK_E_TAMPERED;
	p->proto = d[0];
	p->hl = hl;
	p->ext = ext;
	p->l4len = pl - ext;
	if (hl + p->l4len > 0xffff)
		return EMBARK_E_TAMPERED; /* no IPv4 packet encrypts to this */
	p->total = hl + p->l4len + p->trailer;
	if (p->total > cap)
		return EMBARK_E_TOO_BIG;
	return l4_parse(p->proto, d + ext, p->l4len, &p->li);
}

static void decrypt_wipe(uint8_t *out, const dec_plan *p, uint8_t *sealed)
{
	OPENSSL_cleanse(out, p->hl + p->l4len);
	OPENSSL_cleanse(sealed, p->sealed);
}

/* After authentication: the IPv4 header from the sealed part, and the tuple it held. */
static void decrypt_header(uint8_t *out, const dec_plan *p, const uint8_t *s, embark_tuple4 *t)
{
	out[0] = (uint8_t)(0x40 | p->hl / 4);
	out[1] = s[0];
	e2_put_be16(out + 2, (uint16_t)(p->hl + p->l4len));
	memcpy(out + 4, s + 1, 5);
	out[9] = p->proto;
	embark_copy(out + 10, s + 6, p->hl - 10);
	const uint8_t *oports = s + HDR_SAVED(p->hl);
	*t = (embark_tuple4){e2_get_be32(out + 12), e2_get_be32(out + 16), p->li.ports ? e2_get_be16(oports) : 0,
			     p->li.ports ? e2_get_be16(oports + 2) : 0, p->proto};
}

static bool restore_addr(embark_gw *gw, embark_u128 seen, uint8_t *field)
{
	bool found;
	embark_u128 plain = embark_pool_lookup(gw, seen, &found);
	if (!found || (plain >> 32) != 0xffff)
		return false;
	e2_put_be32(field, (uint32_t)plain);
	return true;
}

/* Restores what the cloud left alone, maps NAT pool values back; EMBARK_OK or REWRITTEN. */
static int decrypt_finish(embark_gw *gw, const uint8_t *in, uint8_t *out, const dec_plan *p, const uint8_t *s,
			  const embark_tuple_enc *e)
{
	uint8_t *ol4 = out + p->hl;
	const uint8_t *oports = s + HDR_SAVED(p->hl), *ocsum = oports + 4;
	embark_u128 csip = embark_load_u128(in + 8), cdip = embark_load_u128(in + 24);
	bool rewritten = false, src_pool = false, dst_pool = false;
	if (csip != e->sip) {
		if (!restore_addr(gw, csip, out + 12))
			return EMBARK_E_REWRITTEN;
		rewritten = src_pool = true;
	}
	if (cdip != e->dip) {
		if (!restore_addr(gw, cdip, out + 16))
			return EMBARK_E_REWRITTEN;
		rewritten = dst_pool = true;
	}
	if (p->li.ports) {
		/* A port that is not its own encryption is accepted only beside a pool address: it
		 * was chosen by the NAT from its (plaintext) port range. */
		uint16_t csp = e2_get_be16(ol4), cdp = e2_get_be16(ol4 + 2);
		if (csp == e->sport)
			memcpy(ol4, oports, 2);
		else if (src_pool)
			rewritten = true;
		else
			return EMBARK_E_REWRITTEN;
		if (cdp == e->dport)
			memcpy(ol4 + 2, oports + 2, 2);
		else if (dst_pool)
			rewritten = true;
		else
			return EMBARK_E_REWRITTEN;
	}
	bool ttl_changed = in[7] != out[8];
	if (ttl_changed)
		out[8] = in[7];
	if (rewritten || ttl_changed)
		embark_ipv4_csum(out, p->hl);
	if (p->li.csum_off >= 0) {
		if (rewritten && !(p->proto == 17 && e2_get_be16(ocsum) == 0)) {
			ol4[p->li.csum_off] = ol4[p->li.csum_off + 1] = 0;
			e2_put_be16(ol4 + p->li.csum_off,
				    embark_l4_csum(p->proto, out + 12, out + 16, false, ol4, p->l4len));
		} else {
			memcpy(ol4 + p->li.csum_off, ocsum, 2);
		}
	}
	embark_copy(out + p->hl + p->l4len, s + HDR_SAVED(p->hl) + SEALED_EXTRA, p->trailer);
	return EMBARK_OK;
}

/* A NAT's answer (embark_nat_back): the header the caller vouches for replaces the
 * comparison with the sealed tuple's encryption. */
static int decrypt_nat_back(embark_gw *gw, const uint8_t *in, uint8_t *out, const dec_plan *p, const uint8_t *s,
			    const embark_nat_back *nb)
{
	uint8_t *ol4 = out + p->hl;
	const uint8_t *oports = s + HDR_SAVED(p->hl);
	if (!p->li.ports || memcmp(in + 8, nb->cloud_src, 16) != 0 || memcmp(in + 24, nb->cloud_dst, 16) != 0 ||
	    e2_get_be16(ol4) != nb->cloud_sport || e2_get_be16(ol4 + 2) != nb->cloud_dport)
		return EMBARK_E_REWRITTEN;
	/* Each sealed end is the flow's own (the peer as source, this side's end as
	 * destination) or a pool address the cloud wrote for it: a NAT's pool address as
	 * destination, a load balancer's backend as source, or both in a chain of the two. */
	uint32_t ssrc = e2_get_be32(out + 12), sdst = e2_get_be32(out + 16);
	bool src_pool = embark_pool_has(gw, (embark_u128)0xffff << 32 | ssrc);
	bool dst_pool = embark_pool_has(gw, (embark_u128)0xffff << 32 | sdst);
	bool src_own = ssrc == nb->peer_ip && e2_get_be16(oports) == nb->peer_port;
	bool dst_own = sdst == nb->dst_ip && e2_get_be16(oports + 2) == nb->dst_port;
	if (!(src_own || src_pool) || !(dst_own || dst_pool) || !(src_pool || dst_pool))
		return EMBARK_E_REWRITTEN;
	/* to the flow's own end, not the NAT's pool address; from the address the client sent
	 * to, not the load balancer's backend */
	e2_put_be32(out + 12, nb->peer_ip);
	e2_put_be16(ol4, nb->peer_port);
	e2_put_be32(out + 16, nb->dst_ip);
	e2_put_be16(ol4 + 2, nb->dst_port);
	out[8] = in[7];
	embark_ipv4_csum(out, p->hl);
	if (p->li.csum_off >= 0) {
		ol4[p->li.csum_off] = ol4[p->li.csum_off + 1] = 0;
		if (!(p->proto == 17 && e2_get_be16(oports + 4) == 0)) /* UDP without a checksum stays so */
			e2_put_be16(ol4 + p->li.csum_off,
				    embark_l4_csum(p->proto, out + 12, out + 16, false, ol4, p->l4len));
	}
	embark_copy(out + p->hl + p->l4len, s + HDR_SAVED(p->hl) + SEALED_EXTRA, p->trailer);
	return EMBARK_OK;
}

static size_t decrypt_chunk(embark_gw *gw, embark_burst_pkt *pk, size_t n)
{
	dec_plan plan[EMBARK_SIV_BURST];
	embark_siv_msg m[EMBARK_SIV_BURST];
	embark_tuple4 t[EMBARK_SIV_BURST];
	embark_tuple_enc e[EMBARK_SIV_BURST];
	bool auth[EMBARK_SIV_BURST];
	uint8_t live[EMBARK_SIV_BURST];
	size_t nl = 0;
	for (size_t i = 0; i < n; i++) {
		dec_plan *p = &plan[nl];
		pk[i].rc = plan_decrypt(pk[i].in, pk[i].len, pk[i].cap, p);
		if (pk[i].rc) {
			fail(gw, pk[i].rc);
			continue;
		}
		if (p->content && !pk[i].content) {
			pk[i].rc = fail(gw, EMBARK_E_CONTENT);
			continue;
		}
		const uint8_t *d = pk[i].in + 40, *l4 = d + p->ext;
		uint8_t *ol4 = pk[i].out + p->hl;
		size_t pay = p->l4len - p->li.hdr;
		bool enc_payload = d[4] & OPT_F_PAYLOAD;
		embark_copy(ol4, l4, enc_payload ? p->li.hdr : p->l4len);
		m[nl].ad = gw->aad[nl];
		m[nl].ad_len = build_aad(gw->aad[nl], d, p->hl + p->l4len, l4, &p->li,
					 p->content ? d + SEALED_OFF + p->sealed : NULL);
		m[nl].text = (embark_siv_text){{d + SEALED_OFF, l4 + p->li.hdr},
					       {gw->sealed[nl], ol4 + p->li.hdr},
					       {p->sealed, enc_payload ? pay : 0}};
		memcpy(m[nl].v, d + SIV_OFF, SIV_LEN);
		live[nl++] = (uint8_t)i;
	}
	bool crypto_ok = embark_siv_open(&gw->siv, m, nl, auth) == 0;
	uint8_t slot[EMBARK_SIV_BURST]; /* authentic packets: their index among the live ones */
	size_t na = 0;
	for (size_t j = 0; j < nl; j++) {
		embark_burst_pkt *x = &pk[live[j]];
		if (!crypto_ok || !auth[j]) {
			decrypt_wipe(x->out, &plan[j], gw->sealed[j]);
			x->rc = fail(gw, crypto_ok ? EMBARK_E_TAMPERED : EMBARK_E_CRYPTO);
			continue;
		}
		decrypt_header(x->out, &plan[j], gw->sealed[j], &t[na]);
		slot[na++] = (uint8_t)j;
	}
	embark_encrypt_tuples(gw, t, na, e);
	size_t ok = 0;
	for (size_t k = 0; k < na; k++) {
		size_t j = slot[k];
		embark_burst_pkt *x = &pk[live[j]];
		x->rc = x->nat_back ? decrypt_nat_back(gw, x->in, x->out, &plan[j], gw->sealed[j], x->nat_back)
				    : decrypt_finish(gw, x->in, x->out, &plan[j], gw->sealed[j], &e[k]);
		if (x->rc) {
			decrypt_wipe(x->out, &plan[j], gw->sealed[j]);
			fail(gw, x->rc);
			continue;
		}
		x->out_len = plan[j].total;
		if (x->content) {
			x->content->present = false;
			if (plan[j].content)
				embark_cblock_read(x->in + 40 + SEALED_OFF + plan[j].sealed, x->content);
		}
		ok++;
	}
	for (size_t j = 0; j < nl; j++) /* the scratch outlives the call: wipe what it held */
		OPENSSL_cleanse(gw->sealed[j], plan[j].sealed);
	return ok;
}

size_t embark_decrypt_burst(embark_gw *gw, embark_burst_pkt *pk, size_t n)
{
	size_t ok = 0;
	for (size_t i = 0; i < n; i += EMBARK_SIV_BURST)
		ok += decrypt_chunk(gw, pk + i, n - i < EMBARK_SIV_BURST ? n - i : EMBARK_SIV_BURST);
	return ok;
}

int embark_decrypt_packet(embark_gw *gw, const uint8_t *in, size_t len, uint8_t *out, size_t cap, size_t *out_len)
{
	embark_burst_pkt p = {.in = in, .len = len, .out = out, .cap = cap};
	embark_decrypt_burst(gw, &p, 1);
	if (p.rc == EMBARK_OK)
		*out_len = p.out_len;
	return p.rc;
}

bool embark_packet_nonce(const uint8_t *pkt, size_t len, uint32_t *nonce)
{
	const size_t opt = 40; /* the Destination Options header right after the IPv6 header */
	if (len < opt + NONCE_OFF + NONCE_LEN || pkt[0] >> 4 != 6 || pkt[6] != 60 || pkt[opt + 2] != OPT_TYPE)
		return false;
	*nonce = e2_get_be32(pkt + opt + NONCE_OFF);
	return true;
}

int embark_content_open_packet(embark_content *key, const embark_content_info *ci, uint8_t *pkt, size_t len)
{
	if (!ci->present || len < 20 || pkt[0] >> 4 != 4 || pkt[9] != 6)
		return -1;
	size_t hl = (size_t)(pkt[0] & 15) * 4, tl = e2_get_be16(pkt + 2);
	l4_info li;
	if (hl < 20 || tl < hl || tl > len || l4_parse(6, pkt + hl, tl - hl, &li) != EMBARK_OK)
		return -1;
	uint8_t *l4 = pkt + hl;
	size_t pay = tl - hl - li.hdr;
	if (embark_content_open(key, &ci->seg, l4 + li.hdr, pay, ci->siv) != 0)
		return -1;
	l4[li.csum_off] = l4[li.csum_off + 1] = 0;
	e2_put_be16(l4 + li.csum_off, embark_l4_csum(6, pkt + 12, pkt + 16, false, l4, tl - hl));
	return 0;
}
