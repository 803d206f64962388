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

/* The option's layout (gateway/README.md "Packet transform"), shared by transform.c and
 * frame.c */
#define OPT_TYPE 0x1E      /* RFC 4727 experimental; top bits 00 = skip if unrecognised */
#define OPT_VERSION 0x20   /* high nibble of the flags byte */
#define OPT_F_PAYLOAD 0x01 /* payload encrypted in place */
#define OPT_F_CONTENT 0x02 /* a web-cache content segment: payload sealed under its URI's key */
#define OPT_F_FRAME 0x04   /* a frame a cloud proxy originated (frame.c): a MAC, no sealed header */
#define NONCE_LEN 4
#define SIV_LEN 16
#define NONCE_OFF 6 /* in the extension header */
#define SIV_OFF (NONCE_OFF + NONCE_LEN)
#define SEALED_OFF (SIV_OFF + SIV_LEN)
#define OPT_FIXED (2 + NONCE_LEN + SIV_LEN) /* flags, hl, nonce, SIV */
#define HDR_SAVED(hl) ((hl)-4)              /* IPv4 header less version/IHL, length, protocol */
#define SEALED_EXTRA 6                      /* original ports (4) + original L4 checksum (2) */
/* The content block, after the sealed bytes: tag (8), offset (5), flags (1: last,
 * cacheable), lifetime in seconds (2, saturating), URI id (16), content SIV (16). 48
 * bytes, so that a common packet's extension header stays a multiple of 8 (96 bytes). */
#define CB_LEN EMBARK_CONTENT_BLOCK
#define CB_LAST 0x01
#define CB_CACHEABLE 0x02
#define CB_OFFSET_MAX ((1ull << 40) - 1)
_Static_assert(16 + EMBARK_URI_ID_LEN + EMBARK_CONTENT_SIV_LEN == CB_LEN, "the content block's layout");

uint16_t embark_l4_csum(uint8_t proto, const uint8_t *src, const uint8_t *dst, bool v6, const uint8_t *l4, size_t len);
void embark_ipv4_csum(uint8_t *h, size_t hl);
void embark_cblock_write(uint8_t *b, const embark_content_info *ci, const uint8_t siv[16]);
void embark_cblock_read(const uint8_t *b, embark_content_info *ci);

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
