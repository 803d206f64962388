/* SPDX-License-Identifier: BSD-3-Clause */
/* Test helpers shared by the gateway tests: a fixed-seed PRNG and packet builders. */
#ifndef EMBARK_TEST_COMMON_H
#define EMBARK_TEST_COMMON_H
#include "embark.h"
#include <stdint.h>
#include <string.h>

static inline uint64_t rnd(uint64_t *s)
{
	uint64_t x = *s;
	x ^= x << 13;
	x ^= x >> 7;
	x ^= x << 17;
	return *s = x;
}
static inline uint32_t rnd_below(uint64_t *s, uint32_t n)
{
	return (uint32_t)(rnd(s) % n);
}

static inline embark_keys *test_keys(uint8_t fill)
{
	uint8_t m[EMBARK_MASTER_KEY_LEN];
	for (int i = 0; i < EMBARK_MASTER_KEY_LEN; i++)
		m[i] = (uint8_t)(fill + i * 7);
	return embark_keys_from_master(m);
}

static inline void put16(uint8_t *p, uint16_t v)
{
	p[0] = (uint8_t)(v >> 8);
	p[1] = (uint8_t)v;
}
static inline void put32(uint8_t *p, uint32_t v)
{
	put16(p, (uint16_t)(v >> 16));
	put16(p + 2, (uint16_t)v);
}

static inline uint16_t test_csum(const uint8_t *p, size_t n, uint32_t s)
{
	for (size_t i = 0; i + 1 < n; i += 2)
		s += (uint32_t)(p[i] << 8 | p[i + 1]);
	if (n & 1)
		s += (uint32_t)p[n - 1] << 8;
	while (s >> 16)
		s = (s & 0xffff) + (s >> 16);
	return (uint16_t)~s;
}

/* Builds a random IPv4 packet of protocol proto (6, 17, 1 or other) with optional IP
 * options and payload bytes drawn from `fill` (or random if fill < 0). Returns length. */
static inline size_t build_ipv4(uint64_t *s, uint8_t *p, uint8_t proto, uint32_t sip, uint32_t dip, uint16_t sport,
				uint16_t dport, size_t optlen, size_t paylen, int fill)
{
	size_t hl = 20 + optlen, l4h = proto == 6 ? 20 + 4 * (rnd(s) & 1) : (proto == 17 || proto == 1) ? 8 : 0;
	size_t tl = hl + l4h + paylen;
	memset(p, 0, tl);
	p[0] = (uint8_t)(0x40 | hl / 4);
	p[1] = (uint8_t)rnd(s);
	put16(p + 2, (uint16_t)tl);
	put16(p + 4, (uint16_t)rnd(s));
	put16(p + 6, (rnd(s) & 1) ? 0x4000 : 0); /* DF sometimes */
	p[8] = (uint8_t)(1 + rnd_below(s, 255));
	p[9] = proto;
	put32(p + 12, sip);
	put32(p + 16, dip);
	for (size_t i = 0; i < optlen; i++)
		p[20 + i] = i == 0 ? 0x01 : (uint8_t)rnd(s); /* NOP + junk */
	put16(p + 10, test_csum(p, hl, 0));
	uint8_t *l4 = p + hl;
	for (size_t i = 0; i < l4h; i++)
		l4[i] = (uint8_t)rnd(s);
	for (size_t i = 0; i < paylen; i++)
		l4[l4h + i] = fill < 0 ? (uint8_t)rnd(s) : (uint8_t)(fill + i);
	if (proto == 6 || proto == 17) {
		put16(l4, sport);
		put16(l4 + 2, dport);
	}
	if (proto == 6)
		l4[12] = (uint8_t)((l4h / 4) << 4);
	if (proto == 17)
		put16(l4 + 4, (uint16_t)(8 + paylen));
	int co = proto == 6 ? 16 : proto == 17 ? 6 : proto == 1 ? 2 : -1;
	if (co >= 0) {
		l4[co] = l4[co + 1] = 0;
		uint32_t ps = 0;
		if (proto != 1) {
			ps += (sip >> 16) + (sip & 0xffff) + (dip >> 16) + (dip & 0xffff) + proto + (uint32_t)(tl - hl);
		}
		uint16_t c = test_csum(l4, tl - hl, ps);
		if (proto == 17 && (rnd(s) % 8) == 0)
			c = 0; /* UDP without checksum */
		put16(l4 + co, c);
	}
	return tl;
}
#endif
