/* SPDX-License-Identifier: BSD-3-Clause */
/* AES-128-SIV (RFC 5297) over a burst of messages at once, private to libembark.
 *
 * The result is bit for bit OpenSSL's "AES-128-SIV" with one associated-data component
 * (test_embark_siv checks that on random inputs), but the work is laid out across the
 * burst: step j of every message's CMAC chain goes into one AES-128-ECB call, and the CTR
 * keystream of the whole burst is one more. OpenSSL's per-message AEAD calls cost more
 * than the AES itself for packet-sized messages; this way a burst of 32 headers costs a
 * handful of EVP calls. The only primitive is AES through EVP (AES-NI where present). */
#ifndef EMBARK_SIV_H
#define EMBARK_SIV_H
#include "internal.h"

#define EMBARK_SIV_BURST 64      /* messages per call at most */
#define EMBARK_SIV_KS_BLOCKS 256 /* keystream blocks per ECB call */

typedef struct {
	EVP_CIPHER_CTX *mac, *ctr;  /* AES-128-ECB under K1 (S2V/CMAC) and K2 (CTR) */
	uint8_t sub1[16], sub2[16]; /* CMAC subkeys of K1 */
	uint8_t d0[16];             /* dbl(CMAC_K1(0^128)): the first S2V step, constant */
} embark_siv;

/* A byte string made of up to two pieces (a packet's sealed header and its payload are
 * not adjacent). dst: where the CTR output of each piece goes (may equal src). */
typedef struct {
	const uint8_t *src[2];
	uint8_t *dst[2];
	size_t len[2];
} embark_siv_text;

typedef struct {
	const uint8_t *ad; /* the one associated-data component */
	size_t ad_len;
	embark_siv_text text;
	uint8_t v[16]; /* seal: written; open: the received SIV */
} embark_siv_msg;

/* RFC 5297 dbl() (RFC 4493's subkey step): multiplication by x in GF(2^128), big-endian. */
void embark_dbl(const uint8_t in[16], uint8_t out[16]);

int embark_siv_init(embark_siv *s, const uint8_t key[32]);
void embark_siv_free(embark_siv *s);
/* Computes each message's SIV and encrypts its text (src -> dst). 0 or -1 (crypto). */
int embark_siv_seal(embark_siv *s, embark_siv_msg *m, size_t n);
/* Decrypts each text (src -> dst) under its received SIV, then recomputes the SIV over
 * the plaintext in dst; ok[i] tells whether message i is authentic (constant-time
 * compare). A forged message's dst holds garbage the caller must wipe. */
int embark_siv_open(embark_siv *s, embark_siv_msg *m, size_t n, bool *ok);
#endif
