/* SPDX-License-Identifier: BSD-3-Clause */
/* E2's flow ID: what e2d's flowhash computes for every packet and what the controller
 * computes when it splits a flow range between instances. Both call e2_flow_hash()
 * below, so they cannot drift apart; a hardware switch can compute the same:
 *
 *   flow_id = CRC32C(selected fields, in the order src dst proto sport dport, each in
 *             network byte order after masking) & (2^bits - 1)
 *
 * Addresses are 4 bytes for IPv4 and 16 for IPv6. CRC32C is the Castagnoli CRC (iSCSI,
 * SCTP): reflected polynomial 0x82F63B78, initial value 0xFFFFFFFF, final XOR
 * 0xFFFFFFFF. common/test_common.c pins it with golden vectors. */
#ifndef E2_FLOWID_H
#define E2_FLOWID_H

#include <arpa/inet.h>
#include <stddef.h>
#include <stdint.h>

#if defined(__SSE4_2__)
#include <nmmintrin.h>
#elif defined(__ARM_FEATURE_CRC32)
#include <arm_acle.h>
#endif

/* Which fields a flow ID covers (the controller's affinity bits are the same). */
enum e2_flow_field {
	E2_FLOW_SRC = 1,
	E2_FLOW_DST = 2,
	E2_FLOW_PROTO = 4,
	E2_FLOW_SPORT = 8,
	E2_FLOW_DPORT = 16,
	E2_FLOW_ALL = 31,
};

/* Every field in network byte order; fields not selected are 0. The first
 * E2_FLOW_KEY4_LEN bytes are the whole key unless addr6 is set, so IPv4 keys stay
 * compact (e2d's rangesplit keeps them in a table of 16-byte keys). */
struct e2_flow_key {
	uint16_t sport, dport;
	uint8_t proto;
	uint8_t addr6; /* 1: the addresses are IPv6 ones (only if src or dst is selected) */
	uint8_t pad[2];
	union {
		struct {
			uint32_t src, dst;
		} a4;
		struct {
			uint64_t src[2], dst[2]; /* the 16 address bytes in frame order */
		} a6;
	};
};

#define E2_FLOW_KEY4_LEN (offsetof(struct e2_flow_key, a4) + 2 * sizeof(uint32_t))
#define E2_FLOW_KEY6_LEN sizeof(struct e2_flow_key)
_Static_assert(E2_FLOW_KEY4_LEN == 16 && E2_FLOW_KEY6_LEN == 40, "flow key layout");

/* CRC32C of n bytes, continuing from crc, without the initial or final inversion: the
 * portable definition, and the fallback where the CPU has no CRC32C instruction. */
uint32_t e2_crc32c_sw(uint32_t crc, const void *p, size_t n);

/* The standard CRC32C of n bytes (check value: "123456789" -> 0xE3069283). */
uint32_t e2_crc32c(const void *p, size_t n);

/* One step of CRC32C over a value's bytes in memory order (low byte first on the
 * little-endian hosts E2 runs on, which is the frame's order for fields stored in
 * network byte order). Inline, with the CPU's instruction where it has one: e2d calls
 * these for every packet. */
#if defined(__SSE4_2__)
static inline uint32_t e2_crc32c_u8(uint32_t c, uint8_t v)
{
	return _mm_crc32_u8(c, v);
}
static inline uint32_t e2_crc32c_u16(uint32_t c, uint16_t v)
{
	return _mm_crc32_u16(c, v);
}
static inline uint32_t e2_crc32c_u32(uint32_t c, uint32_t v)
{
	return _mm_crc32_u32(c, v);
}
static inline uint32_t e2_crc32c_u64(uint32_t c, uint64_t v)
{
	return (uint32_t)_mm_crc32_u64(c, v);
}
#elif defined(__ARM_FEATURE_CRC32)
static inline uint32_t e2_crc32c_u8(uint32_t c, uint8_t v)
{
	return __crc32cb(c, v);
}
static inline uint32_t e2_crc32c_u16(uint32_t c, uint16_t v)
{
	return __crc32ch(c, v);
}
static inline uint32_t e2_crc32c_u32(uint32_t c, uint32_t v)
{
	return __crc32cw(c, v);
}
static inline uint32_t e2_crc32c_u64(uint32_t c, uint64_t v)
{
	return __crc32cd(c, v);
}
#else
static inline uint32_t e2_crc32c_u8(uint32_t c, uint8_t v)
{
	return e2_crc32c_sw(c, &v, 1);
}
static inline uint32_t e2_crc32c_u16(uint32_t c, uint16_t v)
{
	return e2_crc32c_sw(c, &v, 2);
}
static inline uint32_t e2_crc32c_u32(uint32_t c, uint32_t v)
{
	return e2_crc32c_sw(c, &v, 4);
}
static inline uint32_t e2_crc32c_u64(uint32_t c, uint64_t v)
{
	return e2_crc32c_sw(c, &v, 8);
}
#endif

/* The flow hash of a key whose unselected fields may hold anything: only the fields in
 * `sel` (E2_FLOW_* bits) are hashed. Mask it to the flow ID space's bits. */
static inline uint32_t e2_flow_hash(const struct e2_flow_key *k, unsigned sel)
{
	uint32_t c = 0xFFFFFFFFu;

	if (__builtin_expect(k->addr6, 0)) {
		if (sel & E2_FLOW_SRC)
			c = e2_crc32c_u64(e2_crc32c_u64(c, k->a6.src[0]), k->a6.src[1]);
		if (sel & E2_FLOW_DST)
			c = e2_crc32c_u64(e2_crc32c_u64(c, k->a6.dst[0]), k->a6.dst[1]);
	} else {
		if (sel & E2_FLOW_SRC)
			c = e2_crc32c_u32(c, k->a4.src);
		if (sel & E2_FLOW_DST)
			c = e2_crc32c_u32(c, k->a4.dst);
	}
	if (sel & E2_FLOW_PROTO)
		c = e2_crc32c_u8(c, k->proto);
	if (sel & E2_FLOW_SPORT)
		c = e2_crc32c_u16(c, k->sport);
	if (sel & E2_FLOW_DPORT)
		c = e2_crc32c_u16(c, k->dport);
	return c ^ 0xFFFFFFFFu;
}

/* The IPv4 key of a flow given in host byte order (how the controller holds flows). */
static inline struct e2_flow_key e2_flow_key4(uint32_t src, uint32_t dst, uint8_t proto, uint16_t sport, uint16_t dport)
{
	struct e2_flow_key k = {0};
	k.a4.src = htonl(src);
	k.a4.dst = htonl(dst);
	k.proto = proto;
	k.sport = htons(sport);
	k.dport = htons(dport);
	return k;
}

#endif
