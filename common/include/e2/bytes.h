/* SPDX-License-Identifier: BSD-3-Clause */
/* Big-endian (network order) fields at any alignment, the one way outside DPDK code
 * (e2d's modules use DPDK's rte_be_to_cpu_* on aligned headers). */
#ifndef E2_BYTES_H
#define E2_BYTES_H

#include <stdint.h>

static inline uint16_t e2_get_be16(const uint8_t *p)
{
	return (uint16_t)(p[0] << 8 | p[1]);
}

static inline uint32_t e2_get_be32(const uint8_t *p)
{
	return (uint32_t)p[0] << 24 | (uint32_t)p[1] << 16 | (uint32_t)p[2] << 8 | p[3];
}

static inline uint64_t e2_get_be64(const uint8_t *p)
{
	return (uint64_t)e2_get_be32(p) << 32 | e2_get_be32(p + 4);
}

static inline void e2_put_be16(uint8_t *p, uint16_t v)
{
	p[0] = (uint8_t)(v >> 8);
	p[1] = (uint8_t)v;
}

static inline void e2_put_be32(uint8_t *p, uint32_t v)
{
	e2_put_be16(p, (uint16_t)(v >> 16));
	e2_put_be16(p + 2, (uint16_t)v);
}

static inline void e2_put_be64(uint8_t *p, uint64_t v)
{
	e2_put_be32(p, (uint32_t)(v >> 32));
	e2_put_be32(p + 4, (uint32_t)v);
}

#endif
