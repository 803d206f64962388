/* SPDX-License-Identifier: BSD-3-Clause */
/* The gateway object, shared by gw.c and transform.c. */
#ifndef EMBARK_GW_INTERNAL_H
#define EMBARK_GW_INTERNAL_H
#include "internal.h"

/* Low 16 bits of every encrypted pool address; ordinary encryptions never end in it. */
#define EMBARK_POOL_MARK 0xE2E2u

typedef struct {
	embark_u128 enc, plain;
} pool_entry;

struct embark_gw {
	embark_config cfg;
	embark_pm *addr, *port;
	EVP_CIPHER_CTX *seed_ctx, *sfx_ctx, *pool_ctx; /* AES-128-ECB, reused on every packet */
	EVP_CIPHER_CTX *gcm_enc, *gcm_dec;             /* AES-128-GCM, key set once */
	pool_entry *pool;                              /* sorted by enc */
	size_t npool;
	uint8_t nonce_base[12];
	uint64_t counters[EMBARK_E_COUNT];
};

embark_u128 embark_pool_lookup(const embark_gw *gw, embark_u128 enc, bool *found);
#endif
