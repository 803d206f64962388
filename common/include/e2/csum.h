/* SPDX-License-Identifier: BSD-3-Clause */
/* Incremental Internet checksum updates (RFC 1624, eqn. 3: HC' = ~(~HC + ~m + m')) for
 * whatever rewrites header fields in place: NATs, load balancers, meters (DSCP), the
 * Embark middleboxes (16-byte addresses). */
#ifndef E2_CSUM_H
#define E2_CSUM_H

#include <stddef.h>
#include <stdint.h>

#include "e2/bytes.h"

static inline uint16_t e2_csum_fold32(uint32_t s)
{
	s = (s & 0xffff) + (s >> 16);
	s = (s & 0xffff) + (s >> 16);
	return (uint16_t)s;
}

/* The same for a 16-bit field, the sum and the values in one byte order (either). */
static inline void e2_csum_replace16(uint16_t *sum, uint16_t old, uint16_t new)
{
	*sum = (uint16_t)~e2_csum_fold32((uint32_t)(uint16_t) ~*sum + (uint16_t)~old + new);
}

/* ... and for a 32-bit field (an IPv4 address). */
static inline void e2_csum_replace32(uint16_t *sum, uint32_t old, uint32_t new)
{
	uint32_t s = (uint16_t) ~*sum;
	s += (uint16_t) ~(old >> 16) + (uint16_t)~old + (new >> 16) + (uint16_t) new;
	*sum = (uint16_t)~e2_csum_fold32(s);
}

/* The 16-bit checksum at csum (network order) after `len` bytes (even) changed from old
 * to new, a 32-bit word at a time (the one's-complement sum of 16-bit words is the folded
 * sum of 32-bit ones): an IPv6 address is four steps, not eight. Inline: it is on the
 * per-packet path of every rewriting NF. */
static inline void e2_csum_replace(uint8_t csum[2], const uint8_t *old, const uint8_t *new, size_t len)
{
	uint64_t s = (uint16_t)~e2_get_be16(csum);
	size_t i = 0;
	for (; i + 3 < len; i += 4)
		s += (uint32_t)~e2_get_be32(old + i) + (uint64_t)e2_get_be32(new + i);
	for (; i + 1 < len; i += 2)
		s += (uint16_t)~e2_get_be16(old + i) + (uint32_t)e2_get_be16(new + i);
	s = (s & 0xffffffff) + (s >> 32);
	s = (s & 0xffffffff) + (s >> 32);
	s = (s & 0xffff) + (s >> 16);
	s = (s & 0xffff) + (s >> 16);
	s = (s & 0xffff) + (s >> 16);
	uint16_t r = (uint16_t)~s;
	csum[0] = (uint8_t)(r >> 8);
	csum[1] = (uint8_t)r;
}

#endif
