/* SPDX-License-Identifier: BSD-3-Clause */
/* Incremental Internet checksum updates (RFC 1624, eqn. 3: HC' = ~(~HC + ~m + m')) for
 * the NFs that rewrite header fields (NAT, load balancer). */
#ifndef E2NF_CSUM_H
#define E2NF_CSUM_H

#include <stdint.h>

static inline uint16_t csum_fold32(uint32_t s)
{
	s = (s & 0xffff) + (s >> 16);
	s = (s & 0xffff) + (s >> 16);
	return (uint16_t)s;
}

/* a 16-bit field of a checksummed header changed from old to new */
static inline void csum_replace16(uint16_t *sum, uint16_t old, uint16_t new)
{
	*sum = (uint16_t)~csum_fold32((uint32_t)(uint16_t) ~*sum + (uint16_t)~old + new);
}

/* a 32-bit field (an address) changed from old to new */
static inline void csum_replace32(uint16_t *sum, uint32_t old, uint32_t new)
{
	uint32_t s = (uint16_t) ~*sum;
	s += (uint16_t) ~(old >> 16) + (uint16_t)~old + (new >> 16) + (uint16_t) new;
	*sum = (uint16_t)~csum_fold32(s);
}

#endif
