/* SPDX-License-Identifier: BSD-3-Clause */
/* The packet transform: byte-exact round trips, valid encrypted packets, counted errors for
 * fragments, malformed input and tampering, NAT restore from pools, and a leak test. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <cmocka.h>
#include <stdlib.h>

#include <openssl/core_names.h>
#include <openssl/evp.h>

#include "common.h"
#include "gw_internal.h"
#include "e2/bytes.h"

static embark_keys *K;
static const char *RULES = "deny src=10.0.0.0/8 dport=22\naccept proto=udp dst=192.168.0.0/16 dport=53\n"
			   "deny dst=8.8.8.0/24\n";
static const char *POOLS = "pool nat 198.51.100.0/28\n";

static embark_gw *make_gw(embark_keys *k, bool payload)
{
	char err[256];
	embark_ruleset rs;
	embark_poolset ps;
	assert_int_equal(embark_rules_parse(RULES, strlen(RULES), "r", &rs, err, sizeof err), 0);
	assert_int_equal(embark_pools_parse(POOLS, strlen(POOLS), "p", &ps, err, sizeof err), 0);
	embark_config cfg;
	embark_config_default(&cfg);
	cfg.encrypt_payload = payload;
	embark_gw *gw = embark_gw_new(k, &rs, &ps, &cfg, err, sizeof err);
	assert_non_null(gw);
	embark_ruleset_free(&rs);
	embark_poolset_free(&ps);
	return gw;
}

/* Checks the encrypted packet is well-formed IPv6 with a valid L4 checksum. */
static void check_ipv6(const uint8_t *o, size_t n)
{
	assert_true(n >= 48);
	assert_int_equal(o[0] >> 4, 6);
	assert_int_equal(e2_get_be16(o + 4) + 40, n);
	assert_int_equal(o[6], 60);
	size_t ext = ((size_t)o[41] + 1) * 8;
	assert_int_equal(o[42], 0x1E);
	uint8_t proto = o[40];
	const uint8_t *l4 = o + 40 + ext;
	size_t l4len = n - 40 - ext;
	if (proto == 6 || proto == 17) {
		uint32_t s = 0;
		for (int i = 8; i < 40; i += 2)
			s += e2_get_be16(o + i);
		s += (uint32_t)l4len + proto;
		assert_int_equal(test_csum(l4, l4len, s), 0);
	} else if (proto == 1) {
		assert_int_equal(test_csum(l4, l4len, 0), 0);
	}
}

static size_t random_packet(uint64_t *s, uint8_t *p)
{
	static const uint8_t protos[] = {6, 17, 1, 47};
	uint8_t proto = protos[rnd_below(s, 4)];
	size_t opt = 4 * rnd_below(s, 11) * (rnd(s) & 1);
	size_t pay = rnd_below(s, 4) == 0 ? 0 : rnd_below(s, 1400);
	size_t n = build_ipv4(s, p, proto, 0x0a000000 + rnd_below(s, 1 << 16), 0xc0a80000 + rnd_below(s, 300),
			      (uint16_t)rnd(s), (uint16_t)(rnd(s) & 1 ? 53 : rnd(s)), opt, pay, -1);
	size_t trailer = rnd_below(s, 4) == 0 ? rnd_below(s, 30) : 0; /* Ethernet padding */
	for (size_t i = 0; i < trailer; i++)
		p[n + i] = (uint8_t)rnd(s);
	return n + trailer;
}

static void test_roundtrip(void **st)
{
	(void)st;
	uint64_t s = 99;
	for (int mode = 0; mode < 2; mode++) {
		embark_gw *gw = make_gw(K, mode == 0);
		uint8_t in[2048], enc[2048 + EMBARK_MAX_OVERHEAD], dec[2048 + EMBARK_MAX_OVERHEAD];
		for (int i = 0; i < 3000; i++) {
			size_t n = random_packet(&s, in), en, dn;
			assert_int_equal(embark_encrypt_packet(gw, in, n, enc, sizeof enc, &en), EMBARK_OK);
			check_ipv6(enc, en);
			/* the classifier's view of the encrypted packet is the PrefixMatch encryption */
			embark_key5 k;
			assert_int_equal(embark_packet_key(enc, en, &k), EMBARK_OK);
			assert_int_equal(k.proto, in[9]);
			assert_int_equal(embark_decrypt_packet(gw, enc, en, dec, sizeof dec, &dn), EMBARK_OK);
			assert_int_equal(dn, n);
			assert_memory_equal(dec, in, n);
		}
		const uint64_t *c = embark_gw_counters(gw);
		for (int e = 1; e < EMBARK_E_COUNT; e++)
			assert_int_equal(c[e], 0);
		embark_gw_free(gw);
	}
}

static void test_errors_counted(void **st)
{
	(void)st;
	embark_gw *gw = make_gw(K, true);
	uint64_t s = 5;
	uint8_t p[256], o[1024];
	size_t n = build_ipv4(&s, p, 6, 0x0a000001, 0x0a000002, 1000, 22, 0, 10, 'A'), on;
	uint8_t frag[256];
	memcpy(frag, p, n);
	put16(frag + 6, 0x2000); /* MF */
	assert_int_equal(embark_encrypt_packet(gw, frag, n, o, sizeof o, &on), EMBARK_E_FRAGMENT);
	put16(frag + 6, 0x0010); /* offset */
	assert_int_equal(embark_encrypt_packet(gw, frag, n, o, sizeof o, &on), EMBARK_E_FRAGMENT);
	assert_int_equal(embark_gw_counters(gw)[EMBARK_E_FRAGMENT], 2);
	assert_int_equal(embark_encrypt_packet(gw, p, 19, o, sizeof o, &on), EMBARK_E_TRUNCATED);
	assert_int_equal(embark_encrypt_packet(gw, p, n - 1, o, sizeof o, &on), EMBARK_E_TRUNCATED);
	uint8_t bad[256];
	memcpy(bad, p, n);
	bad[0] = 0x44; /* IHL 4 */
	assert_int_equal(embark_encrypt_packet(gw, bad, n, o, sizeof o, &on), EMBARK_E_MALFORMED);
	memcpy(bad, p, n);
	bad[20 + 12] = 0x10; /* TCP data offset 4 */
	assert_int_equal(embark_encrypt_packet(gw, bad, n, o, sizeof o, &on), EMBARK_E_MALFORMED);
	memcpy(bad, p, n);
	bad[0] = 0x65;
	assert_int_equal(embark_encrypt_packet(gw, bad, n, o, sizeof o, &on), EMBARK_E_MALFORMED);
	assert_int_equal(embark_encrypt_packet(gw, p, n, o, 40, &on), EMBARK_E_TOO_BIG);
	/* decrypt side */
	assert_int_equal(embark_decrypt_packet(gw, p, n, o, sizeof o, &on), EMBARK_E_MALFORMED);
	uint8_t v6[64] = {0x60, 0, 0, 0, 0, 8, 17, 64};
	assert_int_equal(embark_decrypt_packet(gw, v6, 48, o, sizeof o, &on), EMBARK_E_NO_OPTION);
	assert_int_equal(embark_decrypt_packet(gw, v6, 40, o, sizeof o, &on), EMBARK_E_TRUNCATED);
	embark_gw_free(gw);
}

static void test_tamper(void **st)
{
	(void)st;
	embark_gw *gw = make_gw(K, true);
	uint64_t s = 11;
	uint8_t p[512], e[1024], d[1024];
	size_t n = build_ipv4(&s, p, 17, 0x0a000005, 0xc0a80001, 4000, 53, 8, 40, 'x'), en, dn;
	assert_int_equal(embark_encrypt_packet(gw, p, n, e, sizeof e, &en), EMBARK_OK);
	size_t ext = ((size_t)e[41] + 1) * 8;
	uint64_t tampered = 0;
	for (size_t i = 40; i < en; i++) {
		if (i >= 40 + ext && i < 40 + ext + 4)
			continue; /* ports: checked below */
		if (i >= 40 + ext + 6 && i < 40 + ext + 8)
			continue; /* checksum: recomputed, not authenticated */
		uint8_t t[1024];
		memcpy(t, e, en);
		t[i] ^= 0x01;
		int rc = embark_decrypt_packet(gw, t, en, d, sizeof d, &dn);
		if (rc == EMBARK_OK)
			fail_msg("flipping byte %zu went unnoticed", i);
		tampered += rc == EMBARK_E_TAMPERED;
	}
	assert_true(tampered > 0);
	assert_int_equal(embark_gw_counters(gw)[EMBARK_E_TAMPERED], tampered);
	/* a rewritten (non-pool) address or port is refused */
	uint8_t t[1024];
	memcpy(t, e, en);
	t[20] ^= 0x80;
	assert_int_equal(embark_decrypt_packet(gw, t, en, d, sizeof d, &dn), EMBARK_E_REWRITTEN);
	memcpy(t, e, en);
	t[40 + ext + 1] ^= 1; /* source port */
	assert_int_equal(embark_decrypt_packet(gw, t, en, d, sizeof d, &dn), EMBARK_E_REWRITTEN);
	/* the wrong key */
	embark_keys *k2 = test_keys(200);
	embark_gw *other = make_gw(k2, true);
	assert_int_equal(embark_decrypt_packet(other, e, en, d, sizeof d, &dn), EMBARK_E_TAMPERED);
	embark_gw_free(other);
	embark_keys_free(k2);
	embark_gw_free(gw);
}

/* The nonce counts per packet (and starts at random per gateway), so even byte-identical
 * packets seal differently; AES-SIV does not need it unique, see gateway/README.md. */
static void test_nonces(void **st)
{
	(void)st;
	embark_gw *a = make_gw(K, true), *b = make_gw(K, true);
	uint64_t s = 8;
	uint8_t p[256], e1[1024], e2[1024], e3[1024];
	size_t n = build_ipv4(&s, p, 6, 0x0a000001, 0x0a000002, 1000, 80, 0, 32, 'z'), l1, l2, l3;
	assert_int_equal(embark_encrypt_packet(a, p, n, e1, sizeof e1, &l1), EMBARK_OK);
	assert_int_equal(embark_encrypt_packet(a, p, n, e2, sizeof e2, &l2), EMBARK_OK);
	assert_int_equal(embark_encrypt_packet(b, p, n, e3, sizeof e3, &l3), EMBARK_OK);
	assert_int_equal(e2_get_be32(e2 + 46), e2_get_be32(e1 + 46) + 1);
	assert_memory_not_equal(e1 + 46, e3 + 46, 4);
	uint32_t n1 = 0, n2 = 0;
	assert_true(embark_packet_nonce(e1, l1, &n1) && embark_packet_nonce(e2, l2, &n2));
	assert_int_equal(n2, n1 + 1);
	assert_int_equal(n1, e2_get_be32(e1 + 46));
	assert_false(embark_packet_nonce(p, n, &n1));   /* the plain IPv4 packet */
	assert_false(embark_packet_nonce(e1, 49, &n1)); /* cut before the nonce's end */
	/* nonce and SIV differ, so the sealed part and the payload do too */
	assert_memory_not_equal(e1 + 50, e2 + 50, 16);
	assert_memory_not_equal(e1 + 66, e2 + 66, l1 - 66);
	/* header fields are per flow, not per packet: identical in both */
	assert_memory_equal(e1 + 8, e2 + 8, 32);
	embark_gw_free(a);
	embark_gw_free(b);
}

/* The burst calls give each packet what the one-packet calls give it: good and bad
 * packets mixed, more than one burst's worth. */
static void test_bursts(void **st)
{
	(void)st;
	embark_gw *one = make_gw(K, true), *many = make_gw(K, true);
	enum { N = 150 };
	static uint8_t in[N][2048], e1[N][2048 + EMBARK_MAX_OVERHEAD], eb[N][2048 + EMBARK_MAX_OVERHEAD],
		db[N][2048 + EMBARK_MAX_OVERHEAD];
	embark_burst_pkt bp[N];
	size_t len[N], l1[N];
	int rc1[N];
	uint64_t s = 4242;
	one->nonce = many->nonce = 7; /* same nonces: the same bytes */
	for (int i = 0; i < N; i++) {
		len[i] = random_packet(&s, in[i]);
		if (i % 7 == 3)
			put16(in[i] + 6, 0x2000); /* a fragment, refused */
		if (i % 11 == 5)
			len[i] = 19; /* truncated */
		rc1[i] = embark_encrypt_packet(one, in[i], len[i], e1[i], sizeof e1[i], &l1[i]);
		bp[i] = (embark_burst_pkt){.in = in[i], .len = len[i], .out = eb[i], .cap = sizeof eb[i]};
	}
	size_t good = 0;
	for (int i = 0; i < N; i++)
		good += rc1[i] == EMBARK_OK;
	assert_int_equal(embark_encrypt_burst(many, bp, N), good);
	for (int i = 0; i < N; i++) {
		assert_int_equal(bp[i].rc, rc1[i]);
		if (rc1[i] == EMBARK_OK) {
			assert_int_equal(bp[i].out_len, l1[i]);
			assert_memory_equal(eb[i], e1[i], l1[i]);
		}
	}
	/* decrypt the good ones in one burst, a few of them tampered */
	embark_burst_pkt dp[N];
	size_t nd = 0, want = 0;
	int src[N];
	for (int i = 0; i < N; i++) {
		if (rc1[i] != EMBARK_OK)
			continue;
		if (nd % 9 == 4)
			eb[i][40 + 12] ^= 4; /* a byte of the SIV */
		else
			want++;
		src[nd] = i;
		dp[nd++] = (embark_burst_pkt){.in = eb[i], .len = bp[i].out_len, .out = db[i], .cap = sizeof db[i]};
	}
	assert_int_equal(embark_decrypt_burst(many, dp, nd), want);
	for (size_t j = 0; j < nd; j++) {
		int i = src[j];
		if (j % 9 == 4) {
			assert_int_equal(dp[j].rc, EMBARK_E_TAMPERED);
			continue;
		}
		assert_int_equal(dp[j].rc, EMBARK_OK);
		assert_int_equal(dp[j].out_len, len[i]);
		assert_memory_equal(db[i], in[i], len[i]);
	}
	assert_int_equal(embark_gw_counters(many)[EMBARK_E_TAMPERED], nd - want);
	embark_gw_free(one);
	embark_gw_free(many);
}

static bool contains(const uint8_t *h, size_t hn, const uint8_t *needle, size_t nn)
{
	for (size_t i = 0; i + nn <= hn; i++)
		if (!memcmp(h + i, needle, nn))
			return true;
	return false;
}

static void test_nat_restore(void **st)
{
	(void)st;
	embark_gw *gw = make_gw(K, true);
	embark_u128 *pool;
	size_t np;
	assert_int_equal(embark_pools_encrypt(gw, &pool, &np), 0);
	uint64_t s = 3;
	for (int proto_i = 0; proto_i < 3; proto_i++) {
		uint8_t proto = proto_i == 0 ? 6 : proto_i == 1 ? 17 : 1;
		uint8_t p[512], e[1024], d[1024];
		size_t n = build_ipv4(&s, p, proto, 0x0a000005, 0x08080404, 4000, 443, 0, 100, 'n'), en, dn;
		assert_int_equal(embark_encrypt_packet(gw, p, n, e, sizeof e, &en), EMBARK_OK);
		/* a cloud NAT rewrites the source to pool value #3 and port 40000, then the ttl drops */
		size_t ext = ((size_t)e[41] + 1) * 8;
		uint8_t *a = e + 8;
		for (int i = 15; i >= 0; i--)
			a[15 - i] = (uint8_t)(pool[3] >> (8 * i));
		if (proto != 1)
			put16(e + 40 + ext, 40000);
		e[7] -= 1;
		assert_int_equal(embark_decrypt_packet(gw, e, en, d, sizeof d, &dn), EMBARK_OK);
		assert_int_equal(dn, n);
		uint32_t src = (uint32_t)d[12] << 24 | (uint32_t)d[13] << 16 | (uint32_t)d[14] << 8 | d[15];
		assert_true(src >= 0xc6336400 && src <= 0xc633640f); /* 198.51.100.0/28 */
		assert_memory_equal(d + 16, p + 16, 4);              /* destination untouched */
		assert_int_equal(d[8], p[8] - 1);
		assert_int_equal(test_csum(d, 20, 0), 0); /* IPv4 header checksum valid */
		if (proto != 1)
			assert_int_equal(e2_get_be16(d + 20), 40000);
		size_t l4h = proto == 6 ? (size_t)(p[20 + 12] >> 4) * 4 : 8;
		assert_memory_equal(d + 20 + l4h, p + 20 + l4h, n - 20 - l4h); /* payload restored */
		if (proto == 6 || proto == 17) {
			uint32_t ps = 0;
			for (int i = 12; i < 20; i += 2)
				ps += e2_get_be16(d + i);
			ps += (uint32_t)(n - 20) + proto;
			assert_int_equal(test_csum(d + 20, n - 20, ps), 0);
		}
	}
	free(pool);
	embark_gw_free(gw);
}

static void test_leak(void **st)
{
	(void)st;
	embark_gw *gw = make_gw(K, true);
	uint64_t s = 1234;
	int port_equal = 0, total_ports = 0;
	for (int i = 0; i < 2000; i++) {
		uint8_t p[2048], e[4096];
		uint32_t sip = 0x0a000000 + rnd_below(&s, 1 << 20), dip = 0xc0a80000 + rnd_below(&s, 1 << 16);
		uint16_t sp = (uint16_t)rnd(&s), dp = (uint16_t)rnd(&s);
		uint8_t proto = i % 3 == 0 ? 6 : i % 3 == 1 ? 17 : 1;
		size_t n = build_ipv4(&s, p, proto, sip, dip, sp, dp, 4 * rnd_below(&s, 3), 64 + rnd_below(&s, 600),
				      -1),
		       en;
		/* an ICMP error quoting the original header would leak addresses if left in clear */
		assert_int_equal(embark_encrypt_packet(gw, p, n, e, sizeof e, &en), EMBARK_OK);
		uint8_t a4[4], m16[16] = {[10] = 0xff, [11] = 0xff};
		put32(a4, sip);
		assert_false(contains(e, en, a4, 4));
		put32(a4, dip);
		assert_false(contains(e, en, a4, 4));
		put32(m16 + 12, sip);
		assert_false(contains(e, en, m16, 16));
		size_t hl = (size_t)(p[0] & 15) * 4, l4h = proto == 6 ? (size_t)(p[hl + 12] >> 4) * 4 : 8;
		for (size_t off = hl + l4h; off + 8 <= n; off += 8)
			assert_false(contains(e, en, p + off, 8));
		if (proto != 1) {
			size_t ext = ((size_t)e[41] + 1) * 8;
			total_ports += 2;
			port_equal += e2_get_be16(e + 40 + ext) == sp;
			port_equal += e2_get_be16(e + 40 + ext + 2) == dp;
		}
	}
	/* ports are 16-bit: equality by chance is allowed, systematic equality is not */
	assert_true(port_equal < total_ports / 100);
	embark_gw_free(gw);
}

/* One content segment through the burst call (encrypt: ci names it; decrypt: ci receives
 * its place). */
static int content_xform(embark_gw *gw, bool enc, const uint8_t *in, size_t n, uint8_t *out, size_t cap,
			 size_t *out_len, embark_content_info *ci)
{
	embark_burst_pkt b = {.in = in, .len = n, .out = out, .cap = cap, .content = ci};
	if (enc)
		embark_encrypt_burst(gw, &b, 1);
	else
		embark_decrypt_burst(gw, &b, 1);
	*out_len = b.out_len;
	return b.rc;
}

/* Web-cache content segments (README "HTTP proxy/cache over ciphertext", part 3): the
 * payload sealed under the URI's key with its place in the option; byte-exact after the
 * decrypt and embark_content_open_packet; the same segment in two connections carries
 * the same payload bytes and content SIV (what a cache replays); the block is bound to
 * the header by the packet's SIV; refusals. */
static void test_content_segments(void **st)
{
	(void)st;
	embark_gw *gw = make_gw(K, true);
	static const char uri[] = "www.example/logo.png";
	uint8_t id[EMBARK_URI_ID_LEN], other_id[EMBARK_URI_ID_LEN];
	assert_int_equal(embark_uri_id(K, (const uint8_t *)uri, strlen(uri), id), 0);
	assert_int_equal(embark_uri_id(K, (const uint8_t *)"www.example/logo.gif", 20, other_id), 0);
	embark_content *key = embark_content_new(K, id);
	embark_content *other_key = embark_content_new(K, other_id);
	assert_non_null(key);
	assert_non_null(other_key);
	uint64_t s = 31;
	uint8_t p1[1600], p2[1600], e1[1800], e2[1800], d[1800];
	/* one response segment (server port 80) to two clients */
	size_t n1 = build_ipv4(&s, p1, 6, 0xc0a80001, 0x0a000005, 80, 40001, 0, 1200, 'a');
	size_t n2 = build_ipv4(&s, p2, 6, 0xc0a80001, 0x0a000077, 80, 51234, 4, 1200, 'a');
	embark_content_info ci = {.key = key,
				  .seg = {.tag = {9, 8, 7, 6, 5, 4, 3, 2}, .offset = 2896, .last = false},
				  .cacheable = true,
				  .lifetime_s = 300};
	memcpy(ci.uri_id, id, sizeof id);
	size_t en1, en2, dn;
	assert_int_equal(content_xform(gw, true, p1, n1, e1, sizeof e1, &en1, &ci), EMBARK_OK);
	assert_int_equal(content_xform(gw, true, p2, n2, e2, sizeof e2, &en2, &ci), EMBARK_OK);
	check_ipv6(e1, en1);
	check_ipv6(e2, en2);
	size_t ext1 = ((size_t)e1[41] + 1) * 8, ext2 = ((size_t)e2[41] + 1) * 8;
	assert_int_equal(e1[44] & 0x03, 0x02); /* content, not the packet-key payload flag */
	size_t hdr1 = (size_t)(e1[40 + ext1 + 12] >> 4) * 4, hdr2 = (size_t)(e2[40 + ext2 + 12] >> 4) * 4;
	const uint8_t *pay1 = e1 + 40 + ext1 + hdr1, *pay2 = e2 + 40 + ext2 + hdr2;
	assert_int_equal(en1 - 40 - ext1 - hdr1, 1200);
	assert_memory_not_equal(pay1, p1 + n1 - 1200, 1200);
	/* the same bytes in both connections; the block's SIV too */
	assert_memory_equal(pay1, pay2, 1200);
	const uint8_t *cb1 = e1 + 40 + 4 + (size_t)e1[43] - 48, *cb2 = e2 + 40 + 4 + (size_t)e2[43] - 48;
	assert_memory_equal(cb1, cb2, 48);
	/* 116 bytes more than the IPv4 packet (68 + the block) for a common packet; the
	 * planned length is the length */
	assert_int_equal(en1, n1 + 116);
	assert_int_equal(embark_encrypted_len(p1, n1, true), en1);
	assert_int_equal(embark_encrypted_len(p1, n1, false), n1 + 68);

	/* a gateway not taking content refuses it, counted */
	uint64_t refused = embark_gw_counters(gw)[EMBARK_E_CONTENT];
	assert_int_equal(embark_decrypt_packet(gw, e1, en1, d, sizeof d, &dn), EMBARK_E_CONTENT);
	assert_int_equal(embark_gw_counters(gw)[EMBARK_E_CONTENT], refused + 1);
	/* one that does: the place, then the payload under the URI's key */
	embark_content_info got;
	memset(&got, 0, sizeof got);
	assert_int_equal(content_xform(gw, false, e1, en1, d, sizeof d, &dn, &got), EMBARK_OK);
	assert_true(got.present);
	assert_int_equal(dn, n1);
	assert_memory_equal(got.seg.tag, ci.seg.tag, 8);
	assert_int_equal(got.seg.offset, 2896);
	assert_false(got.seg.last);
	assert_memory_equal(got.uri_id, id, sizeof id);
	assert_true(got.cacheable);
	assert_int_equal(got.lifetime_s, 300);
	assert_memory_equal(d, p1, n1 - 1200); /* headers restored, checksum the original one */
	uint8_t d_again[1800];
	memcpy(d_again, d, dn);
	assert_int_equal(embark_content_open_packet(other_key, &got, d_again, dn), -1);
	for (size_t i = n1 - 1200; i < n1; i++)
		if (d_again[i])
			fail_msg("a payload opened under another URI's key was not wiped");
	assert_int_equal(embark_content_open_packet(key, &got, d, dn), 0);
	assert_memory_equal(d, p1, n1);
	/* an ordinary packet through a caller that takes content: not present */
	size_t on;
	assert_int_equal(embark_encrypt_packet(gw, p1, n1, e2, sizeof e2, &on), EMBARK_OK);
	got.present = true;
	assert_int_equal(content_xform(gw, false, e2, on, d, sizeof d, &dn, &got), EMBARK_OK);
	assert_false(got.present);

	/* every byte of the option's content block is under the packet's SIV; a payload byte is
	 * under the content SIV only (the decrypt passes it, the opening refuses it) */
	for (size_t i = 0; i < 48; i++) {
		uint8_t t[1800];
		memcpy(t, e1, en1);
		t[cb1 - e1 + i] ^= 0x10;
		int rc = content_xform(gw, false, t, en1, d, sizeof d, &dn, &got);
		if (rc != EMBARK_E_TAMPERED)
			fail_msg("content block byte %zu changed: %s", i, embark_strerror(rc));
	}
	uint8_t t[1800];
	memcpy(t, e1, en1);
	t[pay1 - e1 + 700] ^= 1;
	assert_int_equal(content_xform(gw, false, t, en1, d, sizeof d, &dn, &got), EMBARK_OK);
	assert_int_equal(embark_content_open_packet(key, &got, d, dn), -1);
	/* the payload flag beside the content flag */
	memcpy(t, e1, en1);
	t[44] |= 0x01;
	assert_int_equal(content_xform(gw, false, t, en1, d, sizeof d, &dn, &got), EMBARK_E_TAMPERED);

	/* not TCP, no key, an offset beyond 48 bits: refused on encrypt */
	size_t un = build_ipv4(&s, p2, 17, 0xc0a80001, 0x0a000005, 53, 4000, 0, 100, 'u');
	assert_int_equal(content_xform(gw, true, p2, un, e2, sizeof e2, &en2, &ci), EMBARK_E_UNSUPPORTED);
	embark_content_info far = ci;
	far.seg.offset = 1ull << 40;
	assert_int_equal(content_xform(gw, true, p1, n1, e2, sizeof e2, &en2, &far), EMBARK_E_UNSUPPORTED);
	far = ci;
	far.key = NULL;
	assert_int_equal(content_xform(gw, true, p1, n1, e2, sizeof e2, &en2, &far), EMBARK_E_UNSUPPORTED);
	embark_content_free(key);
	embark_content_free(other_key);
	embark_gw_free(gw);
}

/* Frames a cloud proxy originates (README "HTTP proxy/cache over ciphertext", part 5): a
 * content segment taken without keys from a packet as it passed, replayed in a frame with
 * the proxy's own TCP header, opens at the gateway to the server's bytes; the MAC covers
 * the option and the TCP header but the ports and checksum (a NAT rewrites those, and the
 * addresses); another frame key, a payload without content and a changed payload fail. */
/* A frame's MAC as RFC 4493 AES-CMAC computes it, by OpenSSL's own CMAC over the bytes the
 * README names: "EF1", the option with its MAC zeroed, the TCP header with ports and
 * checksum zeroed, the payload length (libembark computes it otherwise: one CBC call). */
static void check_frame_mac(const embark_keys *fk, const uint8_t *f, size_t fn)
{
	size_t ext = ((size_t)f[41] + 1) * 8, th = (size_t)(f[40 + ext + 12] >> 4) * 4;
	uint8_t m[400] = {'E', 'F', '1'}, mac[16];
	size_t len = 0, out = 0;
	memcpy(m + 3, f + 40, ext);
	memset(m + 3 + SIV_OFF, 0, 16);
	memcpy(m + 3 + ext, f + 40 + ext, th);
	memset(m + 3 + ext, 0, 4);
	memset(m + 3 + ext + 16, 0, 2);
	len = 3 + ext + th;
	put16(m + len, (uint16_t)(fn - 40 - ext - th));
	len += 2;
	EVP_MAC *alg = EVP_MAC_fetch(NULL, "CMAC", NULL);
	EVP_MAC_CTX *ctx = EVP_MAC_CTX_new(alg);
	OSSL_PARAM params[] = {OSSL_PARAM_construct_utf8_string("cipher", "AES-128-CBC", 0),
			       OSSL_PARAM_construct_end()};
	assert_true(EVP_MAC_init(ctx, fk->frame, 16, params) && EVP_MAC_update(ctx, m, len) &&
		    EVP_MAC_final(ctx, mac, &out, sizeof mac));
	assert_int_equal(out, 16);
	assert_memory_equal(f + 40 + SIV_OFF, mac, 16);
	EVP_MAC_CTX_free(ctx);
	EVP_MAC_free(alg);
}

static void test_proxy_frames(void **st)
{
	(void)st;
	embark_gw *gw = make_gw(K, true);
	embark_keys *fk = test_keys(77), *other_fk = test_keys(78);
	embark_framer *fr = embark_framer_new(fk), *other = embark_framer_new(other_fk);
	assert_non_null(fr);
	assert_non_null(other);
	static const char uri[] = "cdn.example/app.js";
	uint8_t id[EMBARK_URI_ID_LEN];
	assert_int_equal(embark_uri_id(K, (const uint8_t *)uri, strlen(uri), id), 0);
	embark_content *key = embark_content_new(K, id);
	uint64_t s = 5;
	uint8_t p[1600], e[1800], f[1800], d[1800];
	size_t n = build_ipv4(&s, p, 6, 0xc0a80001, 0x0a000005, 80, 40001, 0, 900, 'j'), en, fn, dn;
	embark_content_info ci = {.key = key, .seg = {.tag = "abcdefg", .offset = 4000, .last = true}};
	memcpy(ci.uri_id, id, sizeof id);
	assert_int_equal(content_xform(gw, true, p, n, e, sizeof e, &en, &ci), EMBARK_OK);
	/* what the proxy keeps: the block and the ciphertext, read without keys */
	embark_content_info kept;
	const uint8_t *cpay;
	size_t clen;
	assert_true(embark_packet_content(e, en, &kept, &cpay, &clen));
	assert_int_equal(clen, 900);
	assert_int_equal(kept.seg.offset, 4000);
	assert_true(kept.seg.last);
	assert_memory_equal(kept.uri_id, id, sizeof id);
	uint8_t plain_copy[1600];
	memcpy(plain_copy, p, n);
	assert_false(embark_packet_content(plain_copy, n, &kept, &cpay, &clen)); /* IPv4: none */
	assert_true(embark_packet_content(e, en, &kept, &cpay, &clen));

	/* the proxy's own TCP header for another connection: seq, ack, flags, window */
	uint8_t tcp[20] = {0};
	put16(tcp, 0x1234);
	put16(tcp + 2, 0x5678);
	put32(tcp + 4, 0xabcdef01);
	put32(tcp + 8, 0x11223344);
	tcp[12] = 5 << 4;
	tcp[13] = 0x18;
	put16(tcp + 14, 501);
	embark_frame frame = {.label = 0x12345,
			      .nonce = 9,
			      .tcp = tcp,
			      .tcp_len = 20,
			      .content = &kept,
			      .payload = cpay,
			      .payload_len = clen};
	memset(frame.src, 0xaa, 16);
	memset(frame.dst, 0xbb, 16);
	assert_int_equal(embark_frame_build(fr, &frame, f, sizeof f, &fn), EMBARK_OK);
	check_ipv6(f, fn);
	check_frame_mac(fk, f, fn);
	assert_true(embark_is_frame(f, fn));
	assert_false(embark_is_frame(e, en));
	/* a gateway's ordinary decrypt does not take it */
	assert_int_equal(embark_decrypt_packet(gw, f, fn, d, sizeof d, &dn), EMBARK_E_TAMPERED);

	embark_frame_in in;
	assert_int_equal(embark_frame_open(fr, f, fn, &in), EMBARK_OK);
	assert_true(in.content.present);
	assert_int_equal(in.payload_len, 900);
	assert_int_equal(embark_frame_to_ipv4(&in, 0xc0a80001, 0x0a000005, 80, 40001, d, sizeof d, &dn), EMBARK_OK);
	assert_int_equal(embark_content_open_packet(key, &in.content, d, dn), 0);
	assert_int_equal(dn, 20 + 20 + 900);
	assert_memory_equal(d + 40, p + n - 900, 900);     /* the server's bytes */
	assert_int_equal(e2_get_be32(d + 24), 0xabcdef01); /* the proxy's sequence number */
	assert_int_equal(test_csum(d, 20, 0), 0);

	/* what the MAC covers: every byte of the option and TCP header but ports and checksum */
	size_t ext = ((size_t)f[41] + 1) * 8;
	for (size_t i = 40; i < 40 + ext + 20; i++) {
		size_t t4 = i - 40 - ext;
		bool free_field = i >= 40 + ext && (t4 < 4 || t4 == 16 || t4 == 17);
		uint8_t t[1800];
		memcpy(t, f, fn);
		t[i] ^= 0x08;
		int rc = embark_frame_open(fr, t, fn, &in);
		if (free_field ? rc != EMBARK_OK : rc == EMBARK_OK)
			fail_msg("frame byte %zu flipped: %s", i, embark_strerror(rc));
	}
	/* addresses (a NAT's) are free too; the payload is the content SIV's to check */
	uint8_t t[1800];
	memcpy(t, f, fn);
	t[9] ^= 1;
	t[fn - 1] ^= 1;
	assert_int_equal(embark_frame_open(fr, t, fn, &in), EMBARK_OK);
	assert_int_equal(embark_frame_to_ipv4(&in, 1, 2, 3, 4, d, sizeof d, &dn), EMBARK_OK);
	assert_int_equal(embark_content_open_packet(key, &in.content, d, dn), -1);
	/* another frame key */
	assert_int_equal(embark_frame_open(other, f, fn, &in), EMBARK_E_TAMPERED);
	/* a bare segment (an ACK, a FIN) carries nothing, and may not */
	frame.content = NULL;
	assert_int_equal(embark_frame_build(fr, &frame, f, sizeof f, &fn), EMBARK_OK);
	assert_int_equal(fn, 40 + 32 + 20);
	check_frame_mac(fk, f, fn);
	/* the MAC of each frame is its own: many frames one after another, of other lengths
	 * (a 32-byte TCP header), each as OpenSSL's CMAC has it */
	uint8_t tcp32[32] = {0};
	memcpy(tcp32, tcp, 20);
	tcp32[12] = 8 << 4;
	tcp32[20] = tcp32[21] = 1;
	tcp32[22] = 8;
	tcp32[23] = 10;
	for (uint32_t i = 0; i < 20; i++) {
		embark_frame g = frame;
		g.nonce = i;
		g.tcp = i % 2 ? tcp32 : tcp;
		g.tcp_len = i % 2 ? 32 : 20;
		if (i % 3 == 0) {
			g.content = &kept;
			g.payload = cpay;
			g.payload_len = clen;
		}
		uint8_t h[1800];
		size_t hn;
		assert_int_equal(embark_frame_build(fr, &g, h, sizeof h, &hn), EMBARK_OK);
		check_frame_mac(fk, h, hn);
		assert_int_equal(embark_frame_open(fr, h, hn, &in), EMBARK_OK);
	}
	assert_int_equal(embark_frame_open(fr, f, fn, &in), EMBARK_OK);
	assert_false(in.content.present);
	uint8_t longer[1800];
	memcpy(longer, f, fn);
	memset(longer + fn, 'x', 10);
	put16(longer + 4, (uint16_t)(fn + 10 - 40));
	assert_int_equal(embark_frame_open(fr, longer, fn + 10, &in), EMBARK_E_TAMPERED);
	assert_int_equal(embark_frame_open(fr, f, 47, &in), EMBARK_E_TRUNCATED);
	embark_content_free(key);
	embark_framer_free(fr);
	embark_framer_free(other);
	embark_keys_free(fk);
	embark_keys_free(other_fk);
	embark_gw_free(gw);
}

int main(void)
{
	K = test_keys(9);
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_roundtrip),    cmocka_unit_test(test_errors_counted),
		cmocka_unit_test(test_tamper),       cmocka_unit_test(test_nat_restore),
		cmocka_unit_test(test_leak),         cmocka_unit_test(test_nonces),
		cmocka_unit_test(test_bursts),       cmocka_unit_test(test_content_segments),
		cmocka_unit_test(test_proxy_frames),
	};
	int rc = cmocka_run_group_tests(tests, NULL, NULL);
	embark_keys_free(K);
	return rc;
}
