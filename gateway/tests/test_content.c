/* SPDX-License-Identifier: BSD-3-Clause */
/* Web-cache content sealing (embark_content_*): the per-URI key pinned by a known answer
 * (openssl mac, see below), the URI id as the SIV of the URI's deterministic encryption, segments bit for bit OpenSSL's AES-128-SIV under that key and
 * the documented associated data, equal inputs sealing equally in two objects, and every
 * change — a bit of the text or the SIV, the tag, the offset, the length, the last flag,
 * another URI, another master key — refused with the text wiped. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <cmocka.h>
#include <openssl/core_names.h>
#include <openssl/evp.h>
#include <openssl/params.h>
#include <stdio.h>
#include <stdlib.h>

#include "common.h"
#include "internal.h"
#include "openssl_siv.h"

static const char URI[] = "example.com/index.html";

static embark_content *content_of(const embark_keys *k, const char *uri)
{
	uint8_t id[EMBARK_URI_ID_LEN];
	assert_int_equal(embark_uri_id(k, (const uint8_t *)uri, strlen(uri), id), 0);
	return embark_content_new(k, id);
}

static embark_keys *counting_keys(void)
{
	uint8_t master[EMBARK_MASTER_KEY_LEN];
	for (int i = 0; i < EMBARK_MASTER_KEY_LEN; i++)
		master[i] = (uint8_t)i;
	return embark_keys_from_master(master);
}

static void hex_to(const char *hex, uint8_t *out, size_t n)
{
	for (size_t i = 0; i < n; i++) {
		char two[3] = {hex[2 * i], hex[2 * i + 1], 0}, *end;
		out[i] = (uint8_t)strtoul(two, &end, 16);
		assert_true(*end == 0);
	}
}

/* The documented construction, written out independently of content.c. */
static void reference_ad(const embark_content_seg *seg, size_t len, uint8_t ad[24])
{
	ad[0] = 'E', ad[1] = 'C', ad[2] = '1';
	memcpy(ad + 3, seg->tag, 8);
	for (int i = 0; i < 8; i++)
		ad[11 + i] = (uint8_t)(seg->offset >> (8 * (7 - i)));
	for (int i = 0; i < 4; i++)
		ad[19 + i] = (uint8_t)(len >> (8 * (3 - i)));
	ad[23] = seg->last;
}

/* The content subkey (HKDF label "content", pinned with test_embark_keys' others) and
 * K_U for the URI id 00 01 .. 0f, from:
 *   printf 'embark-content-v1\x00\x01...\x0f' |
 *     openssl mac -digest SHA256 -macopt hexkey:1552f6...068961 HMAC
 * and the id of a URI: the SIV of its encryption. */
static void test_key_known_answer(void **st)
{
	(void)st;
	embark_keys *k = counting_keys();
	assert_non_null(k);
	uint8_t want_sub[32], ku[32];
	hex_to("1552f62c286b7b507b7bd074a91f5b0bc526e03162d5615778ba844489068961", want_sub, 32);
	assert_memory_equal(k->content, want_sub, 32);
	hex_to("b2836811959b83610abdf50cd2f7fb17767331f66e75511a8cb027c2c2c6298c", ku, 32);
	uint8_t id[EMBARK_URI_ID_LEN], enc[sizeof URI + 16];
	for (int i = 0; i < EMBARK_URI_ID_LEN; i++)
		id[i] = (uint8_t)i;

	/* a segment sealed by content.c equals OpenSSL's AES-128-SIV under K_U */
	embark_content *c = embark_content_new(k, id);
	assert_non_null(c);
	embark_content_seg seg = {.tag = {1, 2, 3, 4, 5, 6, 7, 8}, .offset = 1448, .last = true};
	uint8_t text[] = "HTTP/1.1 200 OK\r\nContent-Length: 5\r\n\r\nhello", orig[sizeof text], v[16], ad[24],
		want_v[16], want_ct[sizeof text];
	memcpy(orig, text, sizeof text);
	assert_int_equal(embark_content_seal(c, &seg, text, sizeof text, v), 0);
	reference_ad(&seg, sizeof text, ad);
	openssl_siv(ku, ad, sizeof ad, orig, sizeof orig, want_v, want_ct);
	assert_memory_equal(v, want_v, 16);
	assert_memory_equal(text, want_ct, sizeof text);
	assert_int_equal(embark_content_open(c, &seg, text, sizeof text, v), 0);
	assert_memory_equal(text, orig, sizeof text);
	embark_content_free(c);

	assert_int_equal(embark_uri_id(k, (const uint8_t *)URI, strlen(URI), id), 0);
	assert_int_equal(embark_uri_encrypt(k, (const uint8_t *)URI, strlen(URI), enc), 0);
	assert_memory_equal(id, enc, EMBARK_URI_ID_LEN);
	embark_keys_free(k);
}

/* Random segments of every length class, each against OpenSSL under an HMAC key the test
 * computes itself, and opened again. */
static void test_matches_openssl(void **st)
{
	(void)st;
	enum { MAXT = 70000 };
	embark_keys *k = test_keys(9);
	assert_non_null(k);
	uint64_t s = 4242;
	static uint8_t pt[MAXT], ct[MAXT], ref[MAXT];
	static const size_t lens[] = {0, 1, 15, 16, 17, 31, 32, 33, 536, 1448, 1460, 4095, 4096, 8948, 65536, MAXT};
	for (size_t li = 0; li < sizeof lens / sizeof *lens; li++) {
		char uri[64];
		int ul = snprintf(uri, sizeof uri, "cdn.example/img/%zu.png", li);
		uint8_t ku[32];
		unsigned kl = 0;
		EVP_MAC *hm = EVP_MAC_fetch(NULL, "HMAC", NULL);
		EVP_MAC_CTX *hx = EVP_MAC_CTX_new(hm);
		OSSL_PARAM p[] = {OSSL_PARAM_construct_utf8_string("digest", "SHA256", 0), OSSL_PARAM_construct_end()};
		size_t outl = 0;
		assert_int_equal(EVP_MAC_init(hx, k->content, 32, p), 1);
		assert_int_equal(EVP_MAC_update(hx, (const uint8_t *)"embark-content-v1", 17), 1);
		uint8_t id[EMBARK_URI_ID_LEN];
		assert_int_equal(embark_uri_id(k, (const uint8_t *)uri, (size_t)ul, id), 0);
		assert_int_equal(EVP_MAC_update(hx, id, sizeof id), 1);
		assert_int_equal(EVP_MAC_final(hx, ku, &outl, 32), 1);
		kl = (unsigned)outl;
		assert_int_equal(kl, 32);
		EVP_MAC_CTX_free(hx);
		EVP_MAC_free(hm);

		size_t n = lens[li];
		for (size_t i = 0; i < n; i++)
			pt[i] = (uint8_t)rnd(&s);
		embark_content_seg seg = {.offset = rnd(&s), .last = rnd(&s) & 1};
		for (int i = 0; i < 8; i++)
			seg.tag[i] = (uint8_t)rnd(&s);
		memcpy(ct, pt, n);
		embark_content *c = embark_content_new(k, id);
		assert_non_null(c);
		uint8_t v[16], want_v[16], ad[24];
		assert_int_equal(embark_content_seal(c, &seg, ct, n, v), 0);
		reference_ad(&seg, n, ad);
		if (n) { /* OpenSSL's EVP refuses an empty text: only the round trip then */
			openssl_siv(ku, ad, sizeof ad, pt, n, want_v, ref);
			if (memcmp(v, want_v, 16) != 0 || memcmp(ct, ref, n) != 0)
				fail_msg("length %zu: differs from OpenSSL's AES-128-SIV", n);
		}
		assert_int_equal(embark_content_open(c, &seg, ct, n, v), 0);
		if (memcmp(ct, pt, n) != 0)
			fail_msg("length %zu: did not open to the plaintext", n);
		embark_content_free(c);
	}
	embark_keys_free(k);
}

/* Two gateways (two objects from two loads of one key) seal one segment alike: what lets
 * a cache store one copy. */
static void test_deterministic(void **st)
{
	(void)st;
	embark_keys *k1 = test_keys(3), *k2 = test_keys(3);
	embark_content *a = content_of(k1, URI);
	embark_content *b = content_of(k2, URI);
	assert_non_null(a);
	assert_non_null(b);
	embark_content_seg seg = {.tag = "instanc", .offset = 0, .last = false};
	uint8_t x[300], y[300], vx[16], vy[16];
	for (size_t i = 0; i < sizeof x; i++)
		x[i] = y[i] = (uint8_t)(i * 31);
	assert_int_equal(embark_content_seal(a, &seg, x, sizeof x, vx), 0);
	assert_int_equal(embark_content_seal(b, &seg, y, sizeof y, vy), 0);
	assert_memory_equal(vx, vy, 16);
	assert_memory_equal(x, y, sizeof x);
	/* b opens a's segment */
	assert_int_equal(embark_content_open(b, &seg, x, sizeof x, vx), 0);
	assert_int_equal(x[1], 31);
	embark_content_free(a);
	embark_content_free(b);
	embark_keys_free(k1);
	embark_keys_free(k2);
}

static bool all_zero(const uint8_t *p, size_t n)
{
	for (size_t i = 0; i < n; i++)
		if (p[i])
			return false;
	return true;
}

enum change { BIT_TEXT, BIT_SIV, TAG, OFFSET, SHORTER, LAST, OTHER_URI, OTHER_KEY, N_CHANGES };
static const char *const change_name[] = {"a text bit", "a SIV bit",     "the tag", "the offset",
					  "the length", "the last flag", "the URI", "the master key"};

static void test_every_change_refused(void **st)
{
	(void)st;
	embark_keys *k = test_keys(5), *other = test_keys(6);
	embark_content *c = content_of(k, URI);
	embark_content *c_uri = content_of(k, "example.com/index.htm");
	embark_content *c_key = content_of(other, URI);
	assert_non_null(c);
	assert_non_null(c_uri);
	assert_non_null(c_key);
	uint64_t s = 99;
	for (int change = 0; change < N_CHANGES; change++) {
		for (int trial = 0; trial < 40; trial++) {
			uint8_t data[200], v[16];
			size_t n = 1 + rnd_below(&s, sizeof data);
			for (size_t i = 0; i < n; i++)
				data[i] = (uint8_t)(rnd(&s) | 1); /* no zero byte: a wipe shows */
			embark_content_seg seg = {.offset = rnd_below(&s, 1u << 30), .last = trial & 1};
			memset(seg.tag, trial, sizeof seg.tag);
			assert_int_equal(embark_content_seal(c, &seg, data, n, v), 0);
			embark_content *opener = c;
			size_t open_len = n;
			switch (change) {
			case BIT_TEXT: data[rnd_below(&s, (uint32_t)n)] ^= (uint8_t)(1u << rnd_below(&s, 8)); break;
			case BIT_SIV: v[rnd_below(&s, 16)] ^= (uint8_t)(1u << rnd_below(&s, 8)); break;
			case TAG: seg.tag[rnd_below(&s, 8)] ^= 0x40; break;
			case OFFSET: seg.offset += 1 + rnd_below(&s, 2000); break;
			case SHORTER:
				if (n == 1)
					continue;
				open_len = n - 1;
				break;
			case LAST: seg.last = !seg.last; break;
			case OTHER_URI: opener = c_uri; break;
			case OTHER_KEY: opener = c_key; break;
			}
			if (embark_content_open(opener, &seg, data, open_len, v) == 0)
				fail_msg("a change of %s was accepted (trial %d)", change_name[change], trial);
			if (!all_zero(data, open_len))
				fail_msg("a change of %s left the text unwiped", change_name[change]);
		}
	}
	embark_content_free(c);
	embark_content_free(c_uri);
	embark_content_free(c_key);
	embark_keys_free(k);
	embark_keys_free(other);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_key_known_answer),
		cmocka_unit_test(test_matches_openssl),
		cmocka_unit_test(test_deterministic),
		cmocka_unit_test(test_every_change_refused),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
