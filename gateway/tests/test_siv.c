/* SPDX-License-Identifier: BSD-3-Clause */
/* The burst AES-SIV of the Embark option: RFC 5297's own test vector, then bit-for-bit
 * agreement with OpenSSL's AES-128-SIV on random bursts (associated data and texts of
 * every length class: short, one block, multiples, split across two pieces, longer
 * than one keystream call), and refusal of every single-bit change. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <cmocka.h>
#include <ctype.h>
#include <openssl/evp.h>
#include <stdlib.h>

#include "common.h"
#include "openssl_siv.h"
#include "siv.h"

static unsigned nibble(char c)
{
	assert_true(isxdigit((unsigned char)c));
	return c <= '9' ? (unsigned)(c - '0') : (unsigned)((c | 0x20) - 'a' + 10);
}

static void hex_to(const char *hex, uint8_t *out, size_t n)
{
	for (size_t i = 0; i < n; i++)
		out[i] = (uint8_t)(nibble(hex[2 * i]) << 4 | nibble(hex[2 * i + 1]));
}

/* RFC 5297 appendix A.1 (deterministic authenticated encryption, one AD component). */
static void test_rfc5297_vector(void **st)
{
	(void)st;
	uint8_t key[32], ad[24], pt[14], want[30], ct[14];
	hex_to("fffefdfcfbfaf9f8f7f6f5f4f3f2f1f0f0f1f2f3f4f5f6f7f8f9fafbfcfdfeff", key, 32);
	hex_to("101112131415161718191a1b1c1d1e1f2021222324252627", ad, 24);
	hex_to("112233445566778899aabbccddee", pt, 14);
	hex_to("85632d07c6e8f37f950acd320a2ecc9340c02b9690c4dc04daef7f6afe5c", want, 30);
	embark_siv s;
	assert_int_equal(embark_siv_init(&s, key), 0);
	embark_siv_msg m = {.ad = ad, .ad_len = sizeof ad, .text = {{pt, NULL}, {ct, NULL}, {sizeof pt, 0}}};
	assert_int_equal(embark_siv_seal(&s, &m, 1), 0);
	assert_memory_equal(m.v, want, 16);
	assert_memory_equal(ct, want + 16, 14);
	uint8_t back[14];
	bool ok = false;
	m.text = (embark_siv_text){{ct, NULL}, {back, NULL}, {sizeof ct, 0}};
	assert_int_equal(embark_siv_open(&s, &m, 1, &ok), 0);
	assert_true(ok);
	assert_memory_equal(back, pt, sizeof pt);
	embark_siv_free(&s);
}

static size_t pick_len(uint64_t *s, size_t longest)
{
	static const size_t classes[] = {0, 14, 15, 16, 21, 30, 31, 32, 47, 63};
	if (rnd_below(s, 3) == 0)
		return classes[rnd_below(s, sizeof classes / sizeof *classes)];
	return rnd_below(s, (uint32_t)longest + 1);
}

static void test_matches_openssl(void **st)
{
	(void)st;
	enum { MAXT = 6000 };
	uint64_t s = 77;
	uint8_t key[32];
	for (int i = 0; i < 32; i++)
		key[i] = (uint8_t)rnd(&s);
	embark_siv siv;
	assert_int_equal(embark_siv_init(&siv, key), 0);
	static uint8_t ad[EMBARK_SIV_BURST][100], pt[EMBARK_SIV_BURST][MAXT], ct[EMBARK_SIV_BURST][MAXT],
		back[EMBARK_SIV_BURST][MAXT], ref[MAXT];
	for (int round = 0; round < 200; round++) {
		size_t n = 1 + rnd_below(&s, EMBARK_SIV_BURST);
		embark_siv_msg m[EMBARK_SIV_BURST];
		size_t adl[EMBARK_SIV_BURST], split[EMBARK_SIV_BURST], len[EMBARK_SIV_BURST];
		for (size_t i = 0; i < n; i++) {
			/* OpenSSL's EVP layer drops empty updates, so it cannot express an empty AD
			 * component or text; the option never has either */
			adl[i] = 1 + pick_len(&s, sizeof ad[i] - 1);
			/* now and then a text longer than one keystream call */
			len[i] = round % 10 == 0 && i == 0 ? 4500 + rnd_below(&s, 1000) : 1 + pick_len(&s, 300);
			split[i] = rnd_below(&s, 2) ? rnd_below(&s, (uint32_t)len[i] + 1) : len[i];
			for (size_t j = 0; j < adl[i]; j++)
				ad[i][j] = (uint8_t)rnd(&s);
			for (size_t j = 0; j < len[i]; j++)
				pt[i][j] = (uint8_t)rnd(&s);
			/* the two pieces need not be adjacent: the second goes to the other end */
			size_t rest = len[i] - split[i];
			uint8_t *p1 = pt[i] + MAXT - rest;
			memmove(p1, pt[i] + split[i], rest);
			m[i] = (embark_siv_msg){.ad = ad[i],
						.ad_len = adl[i],
						.text = {{pt[i], p1}, {ct[i], ct[i] + MAXT - rest}, {split[i], rest}}};
		}
		assert_int_equal(embark_siv_seal(&siv, m, n), 0);
		for (size_t i = 0; i < n; i++) {
			size_t rest = len[i] - split[i];
			uint8_t whole[MAXT], v[16];
			memcpy(whole, pt[i], split[i]);
			memcpy(whole + split[i], pt[i] + MAXT - rest, rest);
			openssl_siv(key, ad[i], adl[i], whole, len[i], v, ref);
			assert_memory_equal(m[i].v, v, 16);
			if (split[i])
				assert_memory_equal(ct[i], ref, split[i]);
			if (rest)
				assert_memory_equal(ct[i] + MAXT - rest, ref + split[i], rest);
			m[i].text = (embark_siv_text){
				{ct[i], ct[i] + MAXT - rest}, {back[i], back[i] + MAXT - rest}, {split[i], rest}};
		}
		/* open: a few messages get one bit flipped in their SIV, AD or ciphertext */
		bool flipped[EMBARK_SIV_BURST], ok[EMBARK_SIV_BURST];
		for (size_t i = 0; i < n; i++) {
			flipped[i] = rnd_below(&s, 4) == 0;
			if (!flipped[i])
				continue;
			size_t where = rnd_below(&s, 3), bit = rnd_below(&s, 8);
			if (where == 1)
				ad[i][rnd_below(&s, (uint32_t)adl[i])] ^= (uint8_t)(1 << bit);
			else if (where == 2 && split[i])
				ct[i][rnd_below(&s, (uint32_t)split[i])] ^= (uint8_t)(1 << bit);
			else
				m[i].v[rnd_below(&s, 16)] ^= (uint8_t)(1 << bit);
		}
		assert_int_equal(embark_siv_open(&siv, m, n, ok), 0);
		for (size_t i = 0; i < n; i++) {
			assert_int_equal(ok[i], !flipped[i]);
			if (flipped[i])
				continue;
			size_t rest = len[i] - split[i];
			if (split[i])
				assert_memory_equal(back[i], pt[i], split[i]);
			if (rest)
				assert_memory_equal(back[i] + MAXT - rest, pt[i] + MAXT - rest, rest);
		}
	}
	embark_siv_free(&siv);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_rfc5297_vector),
		cmocka_unit_test(test_matches_openssl),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
