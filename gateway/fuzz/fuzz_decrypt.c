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
 *         may_change below); a crash or a broken property aborts.
 * Both also run the parsers of what else comes from the cloud on the same bytes: a
 * decrypt that takes content segments (and the opening of what it accepts), the keyless
 * reading of a content segment, and a cloud proxy's frame (web cache, README "HTTP
 * proxy/cache over ciphertext"), whose results must lie inside the input; and with bit 1
 * set an odd input is a frame instead: the rest as its TCP header and payload, built,
 * opened back alike, then the masked byte flipped: refused unless it is one the MAC
 * leaves to a NAT (addresses, ports, checksum, the payload the content SIV covers). */
#include "e2/fuzz.h"
#include <stdlib.h>
#include <string.h>

#include "embark.h"
#include "gw_internal.h"
#include "e2/bytes.h"

#define IP6_HDR 40
#define TAMPER_HDR 4

static embark_gw *gw;
static embark_framer *framer;
static embark_content *ckey;     /* a content key a packet may name */
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
	uint8_t id[EMBARK_URI_ID_LEN] = {7};
	framer = embark_framer_new(k);
	ckey = embark_content_new(k, id);
	if (!framer || !ckey)
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

static void check_within(const uint8_t *p, size_t n, const uint8_t *in, size_t len)
{
	if (p < in || n > len || p + n > in + len)
		abort();
}

/* The other parsers of cloud input on the same bytes. */
static void cloud_parsers(const uint8_t *in, size_t len)
{
	static uint8_t d[4096 + 2 * EMBARK_MAX_OVERHEAD];
	embark_content_info ci;
	const uint8_t *pay;
	size_t pn;
	if (embark_packet_content(in, len, &ci, &pay, &pn))
		check_within(pay, pn, in, len);
	embark_burst_pkt b = {.in = in, .len = len, .out = d, .cap = sizeof d, .content = &ci};
	embark_decrypt_burst(gw, &b, 1);
	if (b.rc == EMBARK_OK && ci.present && embark_content_open_packet(ckey, &ci, d, b.out_len) == 0)
		abort(); /* content under a key no packet here was sealed with */
	embark_frame_in fi;
	if (embark_frame_open(framer, in, len, &fi) == EMBARK_OK) {
		check_within(fi.tcp, fi.tcp_len, in, len);
		check_within(fi.payload, fi.payload_len, in, len);
	}
}

/* A frame built from the input (TCP header, payload, content block fields), opened back,
 * then one byte flipped. */
static void frame_roundtrip(const uint8_t *data, size_t size)
{
	static uint8_t f[4096 + 2 * EMBARK_MAX_OVERHEAD], t[4096 + 2 * EMBARK_MAX_OVERHEAD];
	if (size < TAMPER_HDR + 20)
		return;
	size_t pos = data[1] | (size_t)data[2] << 8;
	uint8_t mask = data[3];
	uint8_t tcp[60];
	const uint8_t *p = data + TAMPER_HDR;
	size_t n = size - TAMPER_HDR;
	size_t th = 20 + 4 * (size_t)(p[12] >> 4 & 7) % 44;
	if (th > n || th > sizeof tcp)
		return;
	memcpy(tcp, p, th);
	tcp[12] = (uint8_t)((th / 4) << 4 | (tcp[12] & 0x0f));
	embark_content_info ci = {.present = true, .seg = {.offset = p[0], .last = p[1] & 1}, .cacheable = p[2] & 1};
	memcpy(ci.uri_id, p, EMBARK_URI_ID_LEN < n ? EMBARK_URI_ID_LEN : n);
	embark_frame fr = {.label = p[3], .nonce = p[4], .tcp = tcp, .tcp_len = th};
	memcpy(fr.src, p, 16);
	memcpy(fr.dst, p + 4, 16);
	bool content = data[0] & 4;
	if (content) {
		fr.content = &ci;
		fr.payload = p + th;
		fr.payload_len = n - th;
	}
	size_t fn;
	if (embark_frame_build(framer, &fr, f, sizeof f, &fn) != EMBARK_OK)
		return;
	embark_frame_in in;
	if (embark_frame_open(framer, f, fn, &in) != EMBARK_OK || in.tcp_len != th || in.content.present != content ||
	    (content && (in.payload_len != n - th || memcmp(in.payload, p + th, n - th))))
		abort();
	if (!mask)
		return;
	size_t at = pos % fn, l4 = 40 + ((size_t)f[41] + 1) * 8;
	memcpy(t, f, fn);
	t[at] ^= mask;
	/* what the MAC leaves out: the IPv6 header (a NAT's addresses; length and version are
	 * checked), ports and checksum, the payload */
	bool free_byte = at < 40 ? at != 0 && at != 4 && at != 5 && at != 6
				 : at >= l4 && (at < l4 + 4 || at == l4 + 16 || at == l4 + 17 || at >= l4 + th);
	int rc = embark_frame_open(framer, t, fn, &in);
	if (!free_byte && rc == EMBARK_OK && !(at == 0 && (t[0] >> 4) == 6))
		abort();
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
		cloud_parsers(data + 1, size - 1);
		return 0;
	}
	if (data[0] & 2) {
		frame_roundtrip(data, size);
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
	cloud_parsers(e, en);
	return 0;
}
