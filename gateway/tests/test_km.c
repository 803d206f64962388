/* SPDX-License-Identifier: BSD-3-Clause */
/* KeywordMatch: the matcher over encrypted tokens finds exactly the keywords the plaintext
 * contains; equal tokens never repeat a ciphertext; salt resets keep both sides in step;
 * AES-SIV URI encryption is deterministic and authenticated. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <cmocka.h>
#include <stdlib.h>

#include "common.h"

static embark_keys *K;

static bool plain_contains(const uint8_t *h, size_t hn, const char *kw, size_t kl)
{
	for (size_t i = 0; i + kl <= hn; i++)
		if (!memcmp(h + i, kw, kl))
			return true;
	return false;
}

static void run(int mode, size_t reset, uint64_t seed)
{
	static const char *words[] = {"PROJECT-BLUEBIRD", "confidential", "/etc/passwd",
				      "aaaaaaaaaaaa",     "password",     "the quick brown fox jumps"};
	size_t nw = sizeof words / sizeof *words;
	char *kw[8];
	size_t kl[8];
	for (size_t i = 0; i < nw; i++) {
		kw[i] = (char *)words[i];
		kl[i] = strlen(words[i]);
	}
	embark_kw_rules enc_rules, rules;
	assert_int_equal(embark_kw_rules_encrypt_mode(K, kw, kl, nw, mode, &enc_rules), 0);
	/* the middlebox gets them through the file format */
	char *fbuf, err[256];
	size_t flen;
	FILE *f = open_memstream(&fbuf, &flen);
	embark_kw_rules_write(f, &enc_rules);
	fclose(f);
	assert_int_equal(embark_kw_rules_parse(fbuf, flen, "kw.enc", &rules, err, sizeof err), 0);
	assert_int_equal(rules.n, enc_rules.n);
	assert_int_equal(rules.rules, nw);
	assert_memory_equal(rules.v, enc_rules.v, rules.n * sizeof *rules.v);
	free(fbuf);
	embark_kw_rules_free(&enc_rules);
	/* every trial's second matcher shares one ruleset, whose owner lets go halfway */
	embark_km_ruleset *shared = embark_km_ruleset_new(&rules);
	assert_non_null(shared);
	assert_true(embark_km_ruleset_pieces(shared) < rules.n); /* "aaaaaaaaaaaa"'s pieces are one */
	embark_km_matcher *keep = NULL;
	uint64_t s = seed;
	for (int trial = 0; trial < 40; trial++) {
		/* text: words and random filler separated by spaces, keywords sprinkled in */
		uint8_t text[6000];
		size_t n = 0;
		while (n < sizeof text - 64) {
			if (rnd_below(&s, 6) == 0) {
				const char *w = words[rnd_below(&s, (uint32_t)nw)];
				size_t wl = strlen(w);
				/* text is bytes, not a string */
				memcpy(text + n, w, wl); // NOLINT(bugprone-not-null-terminated-result)
				n += wl;
			} else {
				size_t l = 1 + rnd_below(&s, 9);
				for (size_t i = 0; i < l; i++)
					text[n++] = (uint8_t)('a' + rnd_below(&s, 3));
			}
			text[n++] = rnd_below(&s, 5) ? ' ' : '/';
		}
		embark_km_sender *snd = embark_km_sender_new(K, mode, reset);
		embark_km_matcher *m = embark_km_matcher_new(&rules, embark_km_salt0(snd));
		embark_km_matcher *m3 = embark_km_matcher_new(&rules, embark_km_salt0(snd));
		if (trial == 20) { /* a matcher made before the owner let go keeps the ruleset */
			keep = embark_km_matcher_new_shared(shared, embark_km_salt0(snd));
			embark_km_ruleset_free(shared);
			shared = NULL;
		}
		embark_km_matcher *m2 = shared ? embark_km_matcher_new_shared(shared, embark_km_salt0(snd)) : keep;
		if (!shared)
			embark_km_matcher_reset(m2, embark_km_salt0(snd));
		assert_non_null(m2);
		bool found[8] = {0};
		embark_token_ct ct[1024];
		uint64_t off[1024];
		size_t pos = 0;
		while (pos < n) {
			size_t chunk = 1 + rnd_below(&s, 700);
			if (chunk > n - pos)
				chunk = n - pos;
			uint64_t before = embark_km_salt0(snd);
			size_t k = embark_km_encrypt(snd, text + pos, chunk, ct, off, 1024);
			if (embark_km_salt0(snd) != before) {
				embark_km_matcher_reset(m, embark_km_salt0(snd));
				embark_km_matcher_reset(m2, embark_km_salt0(snd));
				embark_km_matcher_reset(m3, embark_km_salt0(snd));
			}
			/* m2 takes the chunk's tokens as runs, with room for few hits at a time,
			 * and reports what m reports token by token (the kept matcher's partial
			 * matches may span trials: hits are compared only while it is fresh) */
			embark_km_hit want[1024], got2[3];
			size_t nwant = 0, ngot = 0;
			for (size_t i = 0; i < k; i++) {
				uint32_t r[8];
				size_t got = embark_km_match(m, ct[i], off[i], r, 8);
				for (size_t j = 0; j < got; j++) {
					found[r[j]] = true;
					want[nwant++] = (embark_km_hit){r[j], (uint32_t)i, off[i]};
				}
			}
			for (size_t t = 0, fed; t < k; t += fed) {
				size_t h = embark_km_match_run(m2, ct + t, off + t, k - t, got2, 3, &fed);
				assert_true(fed > 0);
				for (size_t j = 0; j < h && m2 != keep; j++, ngot++) {
					assert_true(ngot < nwant);
					assert_int_equal(got2[j].rule, want[ngot].rule);
					assert_int_equal(got2[j].token + t, want[ngot].token);
				}
			}
			if (m2 != keep)
				assert_int_equal(ngot, nwant);
			/* m3 takes them in the wire form, as the IDS does, the same hits at the
			 * same offsets */
			static uint8_t wire[1024 * EMBARK_TOKEN_WIRE_LEN];
			static uint8_t runs[EMBARK_TOKEN_RUNS_MAX(1024)];
			size_t nruns = embark_tokens_pack(ct, off, k, wire, runs);
			assert_int_equal(embark_tokens_count(k * EMBARK_TOKEN_WIRE_LEN, runs, nruns), (long)k);
			embark_tokens_wire tw;
			embark_tokens_wire_init(&tw, wire, k * EMBARK_TOKEN_WIRE_LEN, runs, nruns);
			size_t n3 = 0;
			while (tw.next < tw.n) {
				size_t at = tw.next, h = embark_km_match_wire(m3, &tw, got2, 3);
				assert_true(tw.next > at);
				for (size_t j = 0; j < h; j++, n3++) {
					assert_true(n3 < nwant);
					assert_int_equal(got2[j].rule, want[n3].rule);
					assert_int_equal(got2[j].token, want[n3].token);
					assert_true(got2[j].offset == want[n3].offset);
				}
			}
			assert_int_equal(n3, nwant);
			pos += chunk;
		}
		for (size_t w = 0; w < nw; w++) {
			bool want = plain_contains(text, n, words[w], strlen(words[w]));
			/* every keyword here has a delimiter on both sides, so the delimiter
			 * mode's rules find them all too */
			if (want != found[w])
				fail_msg("trial %d: keyword '%s' plaintext %d, matcher %d", trial, words[w], want,
					 found[w]);
			if (found[w])
				assert_true(want); /* never a false match */
		}
		embark_km_matcher_free(m);
		embark_km_matcher_free(m3);
		if (m2 != keep)
			embark_km_matcher_free(m2);
		embark_km_sender_free(snd);
	}
	embark_km_matcher_free(keep); /* the ruleset's last reference */
	embark_kw_rules_free(&rules);
}

static void test_window_match(void **st)
{
	(void)st;
	run(EMBARK_TOKENS_WINDOW, 1 << 20, 17);
}
static void test_window_match_with_resets(void **st)
{
	(void)st;
	run(EMBARK_TOKENS_WINDOW, 900, 18);
}
static void test_delimiter_match(void **st)
{
	(void)st;
	run(EMBARK_TOKENS_DELIMITER, 1 << 20, 19);
	/* the names command lines give the modes */
	assert_int_equal(embark_tokens_mode("window"), EMBARK_TOKENS_WINDOW);
	assert_int_equal(embark_tokens_mode("delimiter"), EMBARK_TOKENS_DELIMITER);
	assert_int_equal(embark_tokens_mode("Window"), -1);
	assert_int_equal(embark_tokens_mode(""), -1);
}

static void test_no_repeats(void **st)
{
	(void)st;
	embark_km_sender *snd = embark_km_sender_new(K, EMBARK_TOKENS_WINDOW, 1 << 20);
	uint8_t text[4096];
	memset(text, 'A', sizeof text); /* the same token at every offset */
	embark_token_ct ct[4200];
	uint64_t off[4200];
	assert_int_equal(embark_km_encrypt(snd, text, sizeof text, ct, off, 4000), 0); /* cap too small */
	size_t k = embark_km_encrypt(snd, text, sizeof text, ct, off, 4200);
	assert_int_equal(k, sizeof text - 7);
	int dup = 0;
	for (size_t i = 1; i < k; i++)
		dup += ct[i] == ct[i - 1];
	assert_int_equal(dup, 0);
	for (size_t i = 0; i < k; i++)
		assert_true(ct[i] < ((uint64_t)1 << 40));
	/* one window 4089 times in a call (its tokens made in batches of 64 under one key
	 * load): a rule of exactly that window matches every one, in order */
	char *kw[1] = {"AAAAAAAA"};
	size_t kl[1] = {8};
	embark_kw_rules rules;
	assert_int_equal(embark_kw_rules_encrypt(K, kw, kl, 1, &rules), 0);
	embark_km_matcher *m = embark_km_matcher_new(&rules, embark_km_salt0(snd));
	size_t hits = 0;
	for (size_t t = 0, fed; t < k; t += fed) {
		embark_km_hit h[64];
		size_t nh = embark_km_match_run(m, ct + t, off + t, k - t, h, 64, &fed);
		for (size_t j = 0; j < nh; j++)
			assert_int_equal(h[j].token + t, hits++);
	}
	assert_int_equal(hits, k);
	embark_km_matcher_free(m);
	embark_kw_rules_free(&rules);
	embark_km_sender_free(snd);
	/* delimiter mode emits far fewer tokens */
	embark_km_sender *d = embark_km_sender_new(K, EMBARK_TOKENS_DELIMITER, 1 << 20);
	const char *sentence = "GET /index.html HTTP/1.1 Host: example.com confidential-data";
	size_t kd = embark_km_encrypt(d, (const uint8_t *)sentence, strlen(sentence), ct, off, 4200);
	assert_true(kd < strlen(sentence) - 7);
	embark_km_sender_free(d);
}

static void test_keyword_file(void **st)
{
	(void)st;
	char err[256];
	char **kw;
	size_t *kl, n;
	const char *ok = "# c\nconfidential\n\\x90\\x90\\x90\\x90\\x90\\x90\\x90\\x90\nback\\\\slash!\n";
	assert_int_equal(embark_keywords_parse(ok, strlen(ok), "k", &kw, &kl, &n, err, sizeof err), 0);
	assert_int_equal(n, 3);
	assert_int_equal(kl[1], 8);
	assert_int_equal((uint8_t)kw[1][0], 0x90);
	assert_string_equal(kw[2], "back\\slash!");
	embark_keywords_free(kw, kl, n);
	assert_int_equal(embark_keywords_parse("short\n", 6, "k", &kw, &kl, &n, err, sizeof err), -1);
	assert_non_null(strstr(err, "k:1: keyword of 5 bytes"));
	assert_int_equal(embark_keywords_parse("ok\\qqqqqqqq\n", 12, "k", &kw, &kl, &n, err, sizeof err), -1);
	assert_non_null(strstr(err, "k:1: bad escape"));
	embark_kw_rules r;
	const char *bad[] = {"0 0 zz\n", "1 0 00000000000000000000000000000000\n",
			     "0 0 00000000000000000000000000000000\n0 0 00000000000000000000000000000000\n",
			     "0 0 00000000000000000000000000000000 x\n"};
	for (size_t i = 0; i < 4; i++) {
		err[0] = 0;
		assert_int_equal(embark_kw_rules_parse(bad[i], strlen(bad[i]), "kw.enc", &r, err, sizeof err), -1);
		assert_non_null(strstr(err, "kw.enc:"));
	}
}

static void test_uri_siv(void **st)
{
	(void)st;
	const char *uri = "http://example.com/some/long/path/that/spans/more/than/one/block?q=1";
	size_t n = strlen(uri);
	uint8_t a[256], b[256], back[256];
	assert_int_equal(embark_uri_encrypt(K, (const uint8_t *)uri, n, a), 0);
	assert_int_equal(embark_uri_encrypt(K, (const uint8_t *)uri, n, b), 0);
	assert_memory_equal(a, b, n + 16); /* deterministic: a cache can key on it */
	assert_false(plain_contains(a, n + 16, "example", 7));
	assert_int_equal(embark_uri_decrypt(K, a, n + 16, back), 0);
	assert_memory_equal(back, uri, n);
	a[20] ^= 1;
	assert_int_equal(embark_uri_decrypt(K, a, n + 16, back), -1);
	const char *uri2 = "http://example.com/some/long/path/that/spans/more/than/one/block?q=2";
	assert_int_equal(embark_uri_encrypt(K, (const uint8_t *)uri2, n, b), 0);
	assert_memory_not_equal(a, b, 16);
}

int main(void)
{
	K = test_keys(4);
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_window_match),    cmocka_unit_test(test_window_match_with_resets),
		cmocka_unit_test(test_delimiter_match), cmocka_unit_test(test_no_repeats),
		cmocka_unit_test(test_keyword_file),    cmocka_unit_test(test_uri_siv),
	};
	int rc = cmocka_run_group_tests(tests, NULL, NULL);
	embark_keys_free(K);
	return rc;
}
