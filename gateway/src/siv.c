/* SPDX-License-Identifier: BSD-3-Clause */
/* AES-128-SIV (RFC 5297) laid out across a burst; see siv.h for why. */
#include "siv.h"

#include "internal.h"

#include <openssl/crypto.h>
#include <stdint.h>
#include <string.h>

void embark_dbl(const uint8_t in[16], uint8_t out[16])
{
	uint8_t carry = in[0] >> 7;
	for (int i = 0; i < 15; i++)
		out[i] = (uint8_t)(in[i] << 1 | in[i + 1] >> 7);
	out[15] = (uint8_t)(in[15] << 1) ^ (uint8_t)(carry * 0x87);
}

typedef uint8_t block __attribute__((vector_size(16))); /* one register, no stack round trip */

static inline void xor16(uint8_t *out, const uint8_t *a, const uint8_t *b)
{
	block x, y;
	memcpy(&x, a, 16);
	memcpy(&y, b, 16);
	x ^= y;
	memcpy(out, &x, 16);
}

int embark_siv_init(embark_siv *s, const uint8_t key[32])
{
	memset(s, 0, sizeof *s);
	s->mac = embark_ecb_ctx(key);
	s->ctr = embark_ecb_ctx(key + 16);
	uint8_t l[16] = {0};
	if (!s->mac || !s->ctr || embark_ecb(s->mac, l, l, 16) != 0)
		return -1;
	embark_dbl(l, s->sub1);
	embark_dbl(s->sub1, s->sub2);
	/* CMAC of the zero block: one complete block, so AES(0 ^ sub1) */
	uint8_t z[16];
	if (embark_ecb(s->mac, s->sub1, z, 16) != 0)
		return -1;
	embark_dbl(z, s->d0);
	OPENSSL_cleanse(l, sizeof l);
	OPENSSL_cleanse(z, sizeof z);
	return 0;
}

void embark_siv_free(embark_siv *s)
{
	EVP_CIPHER_CTX_free(s->mac);
	EVP_CIPHER_CTX_free(s->ctr);
	OPENSSL_cleanse(s, sizeof *s);
}

/* A CMAC input: up to two pieces, and optionally 16 bytes XORed into its last 16 bytes
 * (S2V's "xorend"; the input is then at least 16 bytes long). */
typedef struct {
	const uint8_t *p[2];
	size_t len[2];
	const uint8_t *xorend;
} cmac_in;

/* Bytes [off, off + 16) of an input, fewer at its end; the count. No xorend here. */
static size_t gather(const cmac_in *m, size_t off, uint8_t blk[16])
{
	size_t total = m->len[0] + m->len[1], n = total - off < 16 ? total - off : 16;
	if (off + n <= m->len[0]) {
		embark_copy(blk, m->p[0] + off, n);
	} else {
		size_t got = off < m->len[0] ? m->len[0] - off : 0;
		embark_copy(blk, m->p[0] + off, got);
		embark_copy(blk + got, m->p[1] + (off + got - m->len[0]), n - got);
	}
	return n;
}

/* Where block `step` of a CMAC input comes from: the input itself when the block lies
 * whole inside one piece, else a copy staged beforehand. The last two blocks (padding,
 * subkey, xorend) and the one straddling the pieces are staged, all before the first AES
 * call, so the lockstep loop below only does whole-block loads. */
typedef struct {
	size_t nb, straddle, got; /* got: bytes in the last block */
	uint8_t last[32];         /* the last two blocks */
	uint8_t mid[16];
} cmac_plan;

/* Byte-wise staging only; xorend and the subkey are applied later, in a separate pass, so
 * no wide load reads bytes that narrow stores have just written (a store-forwarding
 * stall). */
static void cmac_prepare(const cmac_in *in, cmac_plan *p)
{
	size_t total = in->len[0] + in->len[1];
	p->nb = total ? (total + 15) / 16 : 1;
	p->straddle = in->len[0] % 16 && in->len[1] && in->len[0] / 16 + 2 < p->nb ? in->len[0] / 16 : SIZE_MAX;
	if (p->straddle != SIZE_MAX)
		gather(in, 16 * p->straddle, p->mid);
	if (p->nb >= 2)
		gather(in, 16 * (p->nb - 2), p->last);
	p->got = total ? gather(in, 16 * (p->nb - 1), p->last + 16) : 0;
	if (p->got < 16) {
		p->last[16 + p->got] = 0x80;
		memset(p->last + 16 + p->got + 1, 0, 15 - p->got);
	}
}

/* The second pass: S2V's xorend over the last 16 bytes of the input (which sit at
 * last[got .. got + 16)), then the CMAC subkey on the last block. */
static void cmac_finish_plan(const embark_siv *s, const cmac_in *in, cmac_plan *p)
{
	if (in->xorend)
		xor16(p->last + p->got, p->last + p->got, in->xorend);
	xor16(p->last + 16, p->last + 16, p->got == 16 ? s->sub1 : s->sub2);
}

static const uint8_t *cmac_block(const cmac_in *in, const cmac_plan *p, size_t step)
{
	if (step + 2 >= p->nb)
		return p->last + 16 * (step + 2 - p->nb);
	if (step == p->straddle)
		return p->mid;
	size_t off = 16 * step;
	return off < in->len[0] ? in->p[0] + off : in->p[1] + (off - in->len[0]);
}

/* CMAC of n inputs whose blocks were staged (cmac_prepare) a while ago: block j of every
 * chain that is that long goes into one ECB call. */
static int cmac_run(const embark_siv *s, const cmac_in *in, cmac_plan *plan, size_t n, uint8_t (*tag)[16])
{
	uint8_t buf[EMBARK_SIV_BURST][16];
	uint8_t idx[EMBARK_SIV_BURST];
	size_t steps = 0;
	bool uniform = true;
	for (size_t i = 0; i < n; i++) {
		cmac_finish_plan(s, &in[i], &plan[i]);
		steps = plan[i].nb > steps ? plan[i].nb : steps;
		uniform &= plan[i].nb == plan[0].nb;
	}
	if (uniform) {
		/* the usual burst, all chains alike: each chain's state stays in its slot */
		int rc = 0;
		for (size_t step = 0; step < steps && rc == 0; step++) {
			for (size_t i = 0; i < n; i++) {
				const uint8_t *blk = cmac_block(&in[i], &plan[i], step);
				if (step)
					xor16(buf[i], blk, buf[i]);
				else
					memcpy(buf[i], blk, 16);
			}
			rc = embark_ecb(s->mac, buf[0], buf[0], 16 * n);
		}
		memcpy(tag, buf, 16 * n);
		return rc;
	}
	for (size_t i = 0; i < n; i++)
		memset(tag[i], 0, 16);
	int rc = 0;
	for (size_t step = 0; step < steps && rc == 0; step++) {
		size_t k = 0;
		for (size_t i = 0; i < n; i++) {
			if (plan[i].nb <= step)
				continue;
			xor16(buf[k], cmac_block(&in[i], &plan[i], step), tag[i]);
			idx[k++] = (uint8_t)i;
		}
		rc = embark_ecb(s->mac, buf[0], buf[0], 16 * k);
		for (size_t j = 0; j < k; j++)
			memcpy(tag[idx[j]], buf[j], 16);
	}
	return rc;
}

/* S2V with one associated-data component: the SIV of each message into v[i]. The texts
 * are staged before the associated data is MACed, so their narrow staging stores are long
 * done when the text chains load them. */
static int s2v_batch(const embark_siv *s, const embark_siv_msg *m, size_t n, uint8_t (*v)[16])
{
	cmac_in ad[EMBARK_SIV_BURST], tx[EMBARK_SIV_BURST];
	cmac_plan adp[EMBARK_SIV_BURST], txp[EMBARK_SIV_BURST];
	uint8_t d[EMBARK_SIV_BURST][16], t[EMBARK_SIV_BURST][16];
	bool short_text = false;
	if (n == 0)
		return 0;
	for (size_t i = 0; i < n; i++) {
		const embark_siv_text *x = &m[i].text;
		ad[i] = (cmac_in){{m[i].ad, NULL}, {m[i].ad_len, 0}, NULL};
		cmac_prepare(&ad[i], &adp[i]);
		tx[i] = (cmac_in){{x->src[0], x->src[1]}, {x->len[0], x->len[1]}, d[i]};
		if (x->len[0] + x->len[1] >= 16)
			cmac_prepare(&tx[i], &txp[i]);
		else
			short_text = true;
	}
	if (cmac_run(s, ad, adp, n, d) != 0)
		return -1;
	for (size_t i = 0; i < n; i++)
		xor16(d[i], d[i], s->d0);
	for (size_t i = 0; short_text && i < n; i++) {
		const embark_siv_text *x = &m[i].text;
		if (x->len[0] + x->len[1] >= 16)
			continue;
		/* short text: embark_dbl(D) xor (text || 10*), one block */
		cmac_in whole = {{x->src[0], x->src[1]}, {x->len[0], x->len[1]}, NULL};
		size_t got = gather(&whole, 0, t[i]);
		t[i][got] = 0x80;
		memset(t[i] + got + 1, 0, 15 - got);
		uint8_t dd[16];
		embark_dbl(d[i], dd);
		xor16(t[i], t[i], dd);
		tx[i] = (cmac_in){{t[i], NULL}, {16, 0}, NULL};
		cmac_prepare(&tx[i], &txp[i]);
	}
	return cmac_run(s, tx, txp, n, v);
}

static void xor_run(const embark_siv_text *x, size_t off, const uint8_t *ks, size_t len)
{
	for (int k = 0; k < 2 && len; k++) {
		if (off >= x->len[k]) {
			off -= x->len[k];
			continue;
		}
		size_t n = x->len[k] - off < len ? x->len[k] - off : len;
		const uint8_t *src = x->src[k] + off;
		uint8_t *dst = x->dst[k] + off;
		size_t i = 0;
		for (; i + 8 <= n; i += 8) {
			uint64_t a, b;
			memcpy(&a, src + i, 8);
			memcpy(&b, ks + i, 8);
			a ^= b;
			memcpy(dst + i, &a, 8);
		}
		for (; i < n; i++)
			dst[i] = src[i] ^ ks[i];
		ks += n;
		len -= n;
		off = 0;
	}
}

/* CTR under K2 from Q = V with bits 63 and 31 cleared, 128-bit big-endian counter; the
 * keystream of many messages shares each ECB call. */
static int ctr_batch(const embark_siv *s, const embark_siv_msg *m, size_t n)
{
	uint8_t ks[EMBARK_SIV_KS_BLOCKS * 16];
	struct {
		size_t msg, off, len;
	} runs[EMBARK_SIV_KS_BLOCKS];
	size_t i = 0, off = 0;
	int rc = 0;
	while (i < n && rc == 0) {
		size_t nb = 0, nr = 0;
		while (i < n && nb < EMBARK_SIV_KS_BLOCKS) {
			size_t total = m[i].text.len[0] + m[i].text.len[1];
			if (off >= total) {
				i++;
				off = 0;
				continue;
			}
			embark_u128 q = embark_load_u128(m[i].v) & ~((embark_u128)1 << 63 | (embark_u128)1 << 31);
			embark_u128 ctr = q + off / 16;
			size_t want = (total - off + 15) / 16,
			       take = want < EMBARK_SIV_KS_BLOCKS - nb ? want : EMBARK_SIV_KS_BLOCKS - nb;
			for (size_t j = 0; j < take; j++)
				embark_store_u128(ks + 16 * (nb + j), ctr + j);
			size_t bytes = take * 16 < total - off ? take * 16 : total - off;
			runs[nr].msg = i;
			runs[nr].off = off;
			runs[nr++].len = bytes;
			nb += take;
			off += bytes;
		}
		if (nb == 0)
			break;
		rc = embark_ecb(s->ctr, ks, ks, 16 * nb);
		const uint8_t *p = ks;
		for (size_t r = 0; r < nr && rc == 0; r++) {
			xor_run(&m[runs[r].msg].text, runs[r].off, p, runs[r].len);
			p += (runs[r].len + 15) / 16 * 16;
		}
	}
	return rc;
}

int embark_siv_seal(embark_siv *s, embark_siv_msg *m, size_t n)
{
	uint8_t v[EMBARK_SIV_BURST][16];
	if (n > EMBARK_SIV_BURST || s2v_batch(s, m, n, v) != 0)
		return -1;
	for (size_t i = 0; i < n; i++)
		memcpy(m[i].v, v[i], 16);
	return ctr_batch(s, m, n);
}

int embark_siv_open(embark_siv *s, embark_siv_msg *m, size_t n, bool *ok)
{
	if (n > EMBARK_SIV_BURST || ctr_batch(s, m, n) != 0)
		return -1;
	if (n == 0)
		return 0;
	embark_siv_msg plain[EMBARK_SIV_BURST];
	for (size_t i = 0; i < n; i++) {
		plain[i] = m[i];
		plain[i].text.src[0] = m[i].text.dst[0];
		plain[i].text.src[1] = m[i].text.dst[1];
	}
	uint8_t v[EMBARK_SIV_BURST][16];
	if (s2v_batch(s, plain, n, v) != 0)
		return -1;
	for (size_t i = 0; i < n; i++)
		ok[i] = CRYPTO_memcmp(v[i], m[i].v, 16) == 0;
	return 0;
}
