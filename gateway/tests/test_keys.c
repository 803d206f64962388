/* SPDX-License-Identifier: BSD-3-Clause */
/* Key files: generated 0600, refused when group/other may read them or reached through a
 * symlink, bad content named; the derived subkeys pinned by known answers. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <cmocka.h>
#include <stdlib.h>
#include <sys/stat.h>
#include <unistd.h>

#include "common.h"
#include "internal.h"

static char dir[] = "/tmp/embark-keys-XXXXXX";

static void test_keygen_and_load(void **st)
{
	(void)st;
	char path[256], err[512];
	snprintf(path, sizeof path, "%s/k", dir);
	assert_int_equal(embark_keygen_file(path, err, sizeof err), 0);
	struct stat sb;
	assert_int_equal(stat(path, &sb), 0);
	assert_int_equal(sb.st_mode & 0777, 0600);
	embark_keys *k = embark_keys_load(path, err, sizeof err);
	assert_non_null(k);
	embark_keys_free(k);
	/* never overwrites */
	assert_int_equal(embark_keygen_file(path, err, sizeof err), -1);
	assert_non_null(strstr(err, path));
	/* refuses a group-readable key, naming the mode */
	chmod(path, 0640);
	assert_null(embark_keys_load(path, err, sizeof err));
	assert_non_null(strstr(err, "0640"));
	chmod(path, 0604);
	assert_null(embark_keys_load(path, err, sizeof err));
	unlink(path);
}

static void test_bad_key_files(void **st)
{
	(void)st;
	char path[256], err[512];
	snprintf(path, sizeof path, "%s/bad", dir);
	const char *bad[] = {"", "abc\n", "zz00000000000000000000000000000000000000000000000000000000000000\n",
			     "000000000000000000000000000000000000000000000000000000000000000000\n"};
	for (size_t i = 0; i < sizeof bad / sizeof *bad; i++) {
		FILE *f = fopen(path, "w");
		fputs(bad[i], f);
		fclose(f);
		chmod(path, 0600);
		err[0] = 0;
		assert_null(embark_keys_load(path, err, sizeof err));
		assert_non_null(strstr(err, "not an Embark key file"));
		unlink(path);
	}
	assert_null(embark_keys_load("/nonexistent/key", err, sizeof err));
	assert_null(embark_keys_load(dir, err, sizeof err)); /* a directory */
}

/* A key file must be opened as itself: a symlink could point a gateway at a key some
 * other user controls. */
static void test_symlink_refused(void **st)
{
	(void)st;
	char path[256], link[256], err[512];
	snprintf(path, sizeof path, "%s/real", dir);
	snprintf(link, sizeof link, "%s/link", dir);
	assert_int_equal(embark_keygen_file(path, err, sizeof err), 0);
	assert_int_equal(symlink(path, link), 0);
	err[0] = 0;
	assert_null(embark_keys_load(link, err, sizeof err));
	assert_non_null(strstr(err, link));
	embark_keys *k = embark_keys_load(path, err, sizeof err); /* the file itself is fine */
	assert_non_null(k);
	embark_keys_free(k);
	unlink(link);
	unlink(path);
}

static void hex_to(const char *hex, uint8_t *out, size_t n)
{
	for (size_t i = 0; i < n; i++) {
		char pair[3] = {hex[2 * i], hex[2 * i + 1], '\0'}, *end;
		unsigned long v = strtoul(pair, &end, 16);
		assert_true(end == pair + 2);
		out[i] = (uint8_t)v;
	}
}

/* Every key file and every encrypted rule set depends on these derivations: a changed
 * label, salt or digest would silently orphan them all. The expected values were
 * computed independently of this code, with OpenSSL's command line:
 *   openssl kdf -keylen LEN -kdfopt digest:SHA256 -kdfopt hexkey:000102..1f \
 *     -kdfopt salt:embark-v1 -kdfopt info:LABEL HKDF */
static void test_subkeys_known_answers(void **st)
{
	(void)st;
	uint8_t master[EMBARK_MASTER_KEY_LEN];
	for (int i = 0; i < EMBARK_MASTER_KEY_LEN; i++)
		master[i] = (uint8_t)i;
	embark_keys *k = embark_keys_from_master(master);
	assert_non_null(k);
	static const struct {
		const char *label, *hex;
		size_t offset, len;
	} want[] = {
		{"prefix", "685e383ce8e21d0b1ff5e21810fcb78d", offsetof(embark_keys, prefix), 16},
		{"seed", "8be2e0bc1e0450852ee4e82b517159a9", offsetof(embark_keys, seed), 16},
		{"suffix", "197f40d39186cfbd2d7678169915cf0c", offsetof(embark_keys, suffix), 16},
		{"option-siv", "f2cc7ee4473963bfe4db54d03708b64c7593ca66373934fcbd7e6a7548cb606a",
		 offsetof(embark_keys, opt), 32},
		{"pool", "0511493dece02ee4ae21e0e7917f556d", offsetof(embark_keys, pool), 16},
		{"keyword", "655b2523bbbfa5be481b078d8f5b8897", offsetof(embark_keys, kw), 16},
		{"uri", "435dedc422560de015effa2f60f19d3dac1df9cfcb9a9a07049826e6ff77aa71", offsetof(embark_keys, uri),
		 32},
		{"content", "1552f62c286b7b507b7bd074a91f5b0bc526e03162d5615778ba844489068961",
		 offsetof(embark_keys, content), 32},
		{"frame", "74a103d6f2794f3d2cf29613eb675b3c", offsetof(embark_keys, frame), 16},
	};
	for (size_t i = 0; i < sizeof want / sizeof *want; i++) {
		uint8_t expect[32];
		hex_to(want[i].hex, expect, want[i].len);
		if (memcmp((const uint8_t *)k + want[i].offset, expect, want[i].len) != 0)
			fail_msg("subkey '%s' differs from its known answer", want[i].label);
	}
	embark_keys_free(k);
}

int main(void)
{
	if (!mkdtemp(dir))
		return 1;
	const struct CMUnitTest tests[] = {cmocka_unit_test(test_keygen_and_load), cmocka_unit_test(test_bad_key_files),
					   cmocka_unit_test(test_symlink_refused),
					   cmocka_unit_test(test_subkeys_known_answers)};
	int rc = cmocka_run_group_tests(tests, NULL, NULL);
	rmdir(dir);
	return rc;
}
