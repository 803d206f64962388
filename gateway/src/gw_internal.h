/* SPDX-License-Identifier: BSD-3-Clause */
/* The gateway object, shared by gw.c and transform.c. */
#ifndef EMBARK_GW_INTERNAL_H
#define EMBARK_GW_INTERNAL_H
#include "internal.h"
#include "siv.h"

/* Low 16 bits of every encrypted pool address; ordinary encryptions never end in it. */
#define EMBARK_POOL_MARK 0xE2E2u

/* Destination option bounds (layout in gateway/README.md) */
#define EMBARK_MAX_TRAILER 128
#define EMBARK_CONTENT_BLOCK 48                             /* a content segment's place in the option (transform.c) */
#define EMBARK_AAD_MAX (10 + 2 + 60 + EMBARK_CONTENT_BLOCK) /* option bytes, length, L4 header, content block */
#define EMBARK_SEALED_MAX (60 - 4 + 6 + EMBARK_MAX_TRAILER) /* header, ports, checksum, trailer */

typedef struct {
	embark_u128 enc, plain;
} pool_entry;

struct embark_gw {
	embark_config cfg;
	embark_pm *addr, *port;
	int addr_sfx, port_sfx;                        /* suffix bits of each map's encryptions */
	EVP_CIPHER_CTX *seed_ctx, *sfx_ctx, *pool_ctx; /* AES-128-ECB, reused on every packet */
	embark_siv siv;                                /* the option's AEAD, keys set once */
	pool_entry *pool;                              /* sorted by enc */
	size_t npool;
	uint32_t nonce; /* next packet's nonce: random start, +1 per packet */
	/* Per-burst scratch (a gateway object serves one worker): associated data, and the
	 * decrypted sealed part of each packet. */
	uint8_t aad[EMBARK_SIV_BURST][EMBARK_AAD_MAX];
	uint8_t sealed[EMBARK_SIV_BURST][EMBARK_SEALED_MAX];
	uint64_t counters[EMBARK_E_COUNT];
};

typedef struct {
	embark_u128 sip, dip;
	uint16_t sport, dport;
} embark_tuple_enc;
/* EncryptValue of the four header values of n flows, AES work shared by all of them. */
void embark_encrypt_tuples(embark_gw *gw, const embark_tuple4 *t, size_t n, embark_tuple_enc *e);

embark_u128 embark_pool_lookup(const embark_gw *gw, embark_u128 enc, bool *found);
bool embark_pool_has(embark_gw *gw, embark_u128 plain); /* is it one of the pools' addresses */
#endif
