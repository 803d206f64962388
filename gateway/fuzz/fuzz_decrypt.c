/* SPDX-License-Identifier: BSD-3-Clause */
/* libFuzzer: the decrypt path (and encrypt, to reach deep into decrypt past the tag).
 * The first byte selects:
 *   even: decrypt the rest as received from the cloud.  Without the key the fuzzer cannot
 *         forge a packet, so anything accepted must at least be a consistent IPv4 packet
 *         that survives its own encrypt -> decrypt round trip.
 *   odd:  bytes 1-2 (little endian) and 3 are a position and a mask, the rest an IPv4
 *         packet: encrypt it, require a byte-exact round trip, flip the masked bits of the
 *         byte at that position of the ciphertext and decrypt again.  The flipped packet
 *         must be refused unless the byte lies outside what Embark authenticates (see
 *         may_change below); a crash or a broken property aborts. */
#include "e2/fuzz.h"
#include <stdlib.h>
#include <string.h>

#include "embark.h"
#include "gw_internal.h"
#include "e2/bytes.h"

#define IP6_HDR 40
#define TAMPER_HDR 4

static embark_gw *gw;
static embark_u128 *pool_values; /* what a cloud NAT may legitimately write into an address */
static size_t n_pool_values;

static void setup(void)
{
	uint8_t m[EMBARK_MASTER_KEY_LEN] = {1, 2, 3};
	embark_keys *k = embark_keys_from_master(m);
	char err[256];
	embark_ruleset rs;
	embark_poolset ps;
	const char *r = "deny src=10.0.0.0/8 dport=22\naccept dst=192.168.1.0/24 sport=1000-2000\n";
	const char *p = "pool nat 198.51.100.0/30\n";
	if (!k || embark_rules_parse(r, strlen(r), "r", &rs, err, sizeof err) ||
	    embark_pools_parse(p, strlen(p), "p", &ps, err, sizeof err))
		abort();
	gw = embark_gw_new(k, &rs, &ps, NULL, err, sizeof err);
	if (!gw || embark_pools_encrypt(gw, &pool_values, &n_pool_values) != 0)
		abort();
	embark_keys_free(k);
	embark_ruleset_free(&rs);
	embark_poolset_free(&ps);
}

static bool is_pool_value(embark_u128 v)
{
	for (size_t i = 0; i < n_pool_values; i++)
		if (pool_values[i] == v)
			return true;
	return false;
}

/* Offset of the L4 checksum in a transport header of protocol proto, or -1: the fields
 * the decrypt restores from the sealed copy instead of trusting the cloud's. */
static int l4_csum_offset(uint8_t proto)
{
	switch (proto) {
	case 6: return 16;
	case 17: return 6;
	case 1: return 2;
	default: return -1;
	}
}

/* How a decrypt may react to the bits `mask` flipped in byte `pos` of the genuine
 * ciphertext e (layout in gateway/README.md): */
enum verdict {
	MUST_REFUSE,  /* authenticated, or checked against its own encryption */
	SAME_OUTPUT,  /* not used by decrypt: IPv6 traffic class and flow label, the L4 checksum */
	NEW_TTL,      /* the hop limit: a router's change becomes the IPv4 TTL */
	POOL_ADDRESS, /* an address: accepted only if it now holds a known NAT pool value */
};

static enum verdict may_change(const uint8_t *e, size_t en, size_t pos, uint8_t mask)
{
	if (pos == 0)
		return mask & 0xf0 ? MUST_REFUSE : SAME_OUTPUT; /* version | traffic class */
	if (pos <= 3)
		return SAME_OUTPUT;
	if (pos == 7)
		return NEW_TTL;
	if (pos >= 8 && pos < IP6_HDR)
		return POOL_ADDRESS;
	size_t l4 = IP6_HDR + ((size_t)e[IP6_HDR + 1] + 1) * 8;
	int c = l4_csum_offset(e[IP6_HDR]);
	if (c >= 0 && (pos == l4 + (size_t)c || pos == l4 + (size_t)c + 1) && pos < en)
		return SAME_OUTPUT;
	return MUST_REFUSE;
}

/* Sum of the 16-bit words of an IPv4 header: 0xffff when its checksum is right. */
static bool ipv4_csum_ok(const uint8_t *h, size_t hl)
{
	uint32_t s = 0;
	for (size_t i = 0; i + 1 < hl; i += 2)
		s += e2_get_be16(h + i);
	while (s >> 16)
		s = (s & 0xffff) + (s >> 16);
	return s == 0xffff;
}

static void check_tampered(uint8_t *e, size_t en, const uint8_t *pkt, size_t n, size_t pos, uint8_t mask)
{
	static uint8_t d[4096 + 2 * EMBARK_MAX_OVERHEAD];
	size_t dn;
	enum verdict v = may_change(e, en, pos, mask);
	e[pos] ^= mask;
	int rc = embark_decrypt_packet(gw, e, en, d, sizeof d, &dn);
	if (rc != EMBARK_OK) {
		if (v == SAME_OUTPUT || v == NEW_TTL)
			abort(); /* a harmless change was refused */
		return;
	}
	switch (v) {
	case MUST_REFUSE: abort();
	case SAME_OUTPUT:
		if (dn != n || memcmp(d, pkt, n))
			abort();
		break;
	case NEW_TTL: {
		size_t hl = (size_t)(pkt[0] & 15) * 4;
		if (dn != n || d[8] != e[7] || !ipv4_csum_ok(d, hl) || memcmp(d, pkt, 8) || d[9] != pkt[9] ||
		    memcmp(d + 12, pkt + 12, n - 12))
			abort();
		break;
	}
	case POOL_ADDRESS: {
		size_t a = pos < 24 ? 8 : 24;
		if (!is_pool_value(embark_load_u128(e + a)))
			abort();
		break;
	}
	}
}

/* Anything decrypt accepts must be an IPv4 packet (its total length within the output,
 * the rest a sealed link trailer) that encrypts and decrypts back to itself. */
static void check_accepted(const uint8_t *d, size_t dn)
{
	static uint8_t e[4096 + 2 * EMBARK_MAX_OVERHEAD], again[4096 + 4 * EMBARK_MAX_OVERHEAD];
	size_t en, an;
	if (dn < 20 || d[0] >> 4 != 4 || e2_get_be16(d + 2) > dn)
		abort();
	if (embark_encrypt_packet(gw, d, dn, e, sizeof e, &en) != EMBARK_OK ||
	    embark_decrypt_packet(gw, e, en, again, sizeof again, &an) != EMBARK_OK || an != dn || memcmp(again, d, dn))
		abort();
}

/* The gateway starts its nonces at a random value and counts up per packet. Here every
 * input starts from the same nonce, so that it encrypts to the same bytes whenever and
 * wherever it runs: a failing input replays alone, and two runs with one seed agree. */
static void reset_nonce(void)
{
	gw->nonce = 0xe2000000u;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	if (!gw)
		setup();
	reset_nonce();
	if (size < 1 || size > 4096)
		return 0;
	static uint8_t e[4096 + EMBARK_MAX_OVERHEAD], d[4096 + 2 * EMBARK_MAX_OVERHEAD];
	size_t en, dn;
	embark_key5 k;
	if ((data[0] & 1) == 0) {
		if (embark_decrypt_packet(gw, data + 1, size - 1, d, sizeof d, &dn) == EMBARK_OK)
			check_accepted(d, dn);
		embark_packet_key(data + 1, size - 1, &k);
		return 0;
	}
	if (size < TAMPER_HDR)
		return 0;
	size_t pos = data[1] | (size_t)data[2] << 8;
	uint8_t mask = data[3];
	const uint8_t *pkt = data + TAMPER_HDR;
	size_t n = size - TAMPER_HDR;
	if (embark_encrypt_packet(gw, pkt, n, e, sizeof e, &en) != EMBARK_OK)
		return 0;
	embark_packet_key(e, en, &k);
	if (embark_decrypt_packet(gw, e, en, d, sizeof d, &dn) != EMBARK_OK || dn != n || memcmp(d, pkt, n))
		abort();
	if (mask && en)
		check_tampered(e, en, pkt, n, pos % en, mask);
	return 0;
}
