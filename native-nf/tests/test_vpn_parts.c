/* SPDX-License-Identifier: BSD-3-Clause */
/* e2nf-vpn's and e2nf-meter's parts without DPDK: the SA configuration and its errors,
 * key files (mode, content, never echoed), the anti-replay window at its edges, AES-GCM
 * against RFC 4106-style vectors of its own making (round trip, every tampered bit
 * refused), and the meter's class configuration. */
#include <arpa/inet.h>
#include <fcntl.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cmocka.h>

#include "../nfs/esp.h"
#include "../nfs/meter_conf.h"
#include "../nfs/replay.h"
#include "../nfs/vpn_conf.h"

static struct vpn_conf conf;

static int parse(const char *text, struct e2_err *err)
{
	return vpn_conf_parse(text, strlen(text), "t.conf", "/etc/e2", &conf, err);
}

static void expect_refusal(const char *text, const char *want)
{
	struct e2_err err = {{0}};
	assert_int_equal(parse(text, &err), -1);
	if (!strstr(err.msg, want))
		fail_msg("'%s' refused with '%s', not '%s'", text, err.msg, want);
}

static void test_conf_ok(void **state)
{
	struct e2_err err;
	char printed[4096], again[4096];
	(void)state;
	assert_int_equal(parse("# two SAs\n"
			       "sa out spi=0x1001 peer=192.0.2.2 local=192.0.2.1 dst=10.0.2.0/24 key=@a.key\n"
			       "sa in spi=4097 peer=192.0.2.2 local=192.0.2.1 window=1024 key=@/k/b.key  # abs\n"
			       "unprotected pass\nnon-ip drop\n",
			       &err),
			 0);
	assert_int_equal(conf.n_sa, 2);
	assert_int_equal(conf.sa[0].dir, VPN_OUT);
	assert_int_equal(conf.sa[0].spi, 0x1001);
	assert_int_equal(conf.sa[0].prefix_len, 24);
	assert_string_equal(conf.sa[0].key_path, "/etc/e2/a.key");
	assert_string_equal(conf.sa[1].key_path, "/k/b.key");
	assert_int_equal(conf.sa[1].window, 1024);
	assert_int_equal(conf.sa[1].line, 3);
	assert_true(conf.unprotected_pass);
	assert_false(conf.non_ip_pass);
	vpn_conf_print(&conf, printed, sizeof(printed));
	assert_int_equal(vpn_conf_parse(printed, strlen(printed), "p", NULL, &conf, &err), 0);
	vpn_conf_print(&conf, again, sizeof(again));
	assert_string_equal(printed, again);
}

static void test_conf_refusals(void **state)
{
	(void)state;
	expect_refusal("", "t.conf: no 'sa' line");
	expect_refusal("sa\n", "t.conf:1: 'sa' is followed by 'out' or 'in'");
	expect_refusal("\n\nsa out spi=4096 peer=1.1.1.1 local=1.1.1.2 key=@k\n", "t.conf:3: sa out needs dst=NET/LEN");
	expect_refusal("sa in spi=4096 peer=1.1.1.1 key=@k\n", "t.conf:1: sa in needs local=");
	expect_refusal("sa in spi=4096 peer=1.1.1.1 local=1.1.1.2\n", "t.conf:1: sa in needs key=@FILE");
	expect_refusal("sa in spi=255 peer=1.1.1.1 local=1.1.1.2 key=@k\n", "t.conf:1: spi=255: out of range");
	expect_refusal("sa in spi=4096 peer=1.1.1.1 local=1.1.1.2 window=0 key=@k\n", "t.conf:1: window=0");
	expect_refusal("sa in spi=4096 peer=1.1.1.1 local=1.1.1.2 window=1025 key=@k\n", "t.conf:1: window=1025");
	expect_refusal("sa in spi=4096 peer=1.1.1.1 local=1.1.1.2 dst=1.0.0.0/8 key=@k\n", "t.conf:1: sa in takes");
	expect_refusal("sa out spi=4096 peer=1.1.1.1 local=1.1.1.2 dst=1.0.0.0/8 window=8 key=@k\n",
		       "t.conf:1: sa out takes");
	expect_refusal("sa out spi=4096 peer=1.1.1.1 local=1.1.1.2 dst=1.0.0.0 key=@k\n", "t.conf:1: dst: '1.0.0.0'");
	expect_refusal("sa in spi=4096 spi=4097 peer=1.1.1.1 local=1.1.1.2 key=@k\n", "t.conf:1: spi= given twice");
	expect_refusal("sa in spi=4096 peer=1.1.1.1 local=1.1.1.2 key=00112233\n", "t.conf:1: key takes @FILE");
	expect_refusal("sa in spi=4096 peer=1.1.1.1 local=1.1.1.2 key=@k oops\n", "t.conf:1: expected KEY=VALUE");
	expect_refusal("sa out spi=4096 peer=1.1.1.1 local=1.1.1.2 dst=1.0.0.0/8 key=@k\n"
		       "sa out spi=4097 peer=1.1.1.1 local=1.1.1.2 dst=1.2.0.0/8 key=@k\n",
		       "t.conf:2: dst 1.0.0.0/8 is already the selector of line 1");
	expect_refusal("non-ip maybe\n", "t.conf:1: expected");
	char nul[] = "sa\0in";
	struct e2_err err;
	assert_int_equal(vpn_conf_parse(nul, sizeof(nul) - 1, "t.conf", NULL, &conf, &err), -1);
	assert_non_null(strstr(err.msg, "NUL"));
}

static void test_keys(void **state)
{
	uint8_t key[VPN_KEY_MAX], salt[VPN_SALT_LEN];
	struct e2_err err;
	char path[] = "/tmp/test_vpn_keyXXXXXX";
	const char *hex = "000102030405060708090a0b0c0d0e0fA0B1C2D3\n";
	(void)state;

	assert_int_equal(vpn_parse_key(hex, strlen(hex), key, salt), 16);
	assert_int_equal(key[15], 0x0f);
	assert_int_equal(salt[0], 0xa0);
	assert_int_equal(salt[3], 0xd3);
	assert_int_equal(vpn_parse_key(hex, 39, key, salt), -1); /* one digit short */
	assert_int_equal(vpn_parse_key("zz0102030405060708090a0b0c0d0e0fa0b1c2d3", 40, key, salt), -1);

	int fd = mkstemp(path);
	assert_true(fd >= 0);
	assert_int_equal(write(fd, hex, strlen(hex)), (ssize_t)strlen(hex));
	close(fd);
	assert_int_equal(chmod(path, 0600), 0);
	assert_int_equal(vpn_load_key(path, key, salt, &err), 16);
	assert_int_equal(chmod(path, 0640), 0);
	assert_int_equal(vpn_load_key(path, key, salt, &err), -1);
	assert_non_null(strstr(err.msg, "mode 0640"));
	assert_null(strstr(err.msg, "0a0b0c"));
	assert_int_equal(chmod(path, 0600), 0);
	fd = open(path, O_WRONLY | O_TRUNC);
	assert_int_equal(write(fd, "not a key but a secret\n", 23), 23);
	close(fd);
	assert_int_equal(vpn_load_key(path, key, salt, &err), -1);
	assert_null(strstr(err.msg, "secret")); /* content is never echoed */
	unlink(path);
	assert_int_equal(vpn_load_key("/tmp", key, salt, &err), -1);
}

static void test_replay_edges(void **state)
{
	struct replay_window w;
	(void)state;
	for (uint32_t size = 1; size <= REPLAY_WINDOW_MAX; size = size < 64 ? size * 2 : size + 64) {
		replay_init(&w, size);
		assert_int_equal(replay_check(&w, 0), REPLAY_ZERO);
		assert_int_equal(replay_check(&w, 1), REPLAY_NEW);
		replay_update(&w, 1);
		assert_int_equal(replay_check(&w, 1), REPLAY_SEEN);
		/* jump far: the window follows, the old number is now too old */
		replay_update(&w, 5000);
		assert_int_equal(replay_check(&w, 5000), REPLAY_SEEN);
		assert_int_equal(replay_check(&w, 1), REPLAY_TOO_OLD);
		/* the window's last slot is still in, one further out is not */
		assert_int_equal(replay_check(&w, 5000 - size + 1), size == 1 ? REPLAY_SEEN : REPLAY_NEW);
		assert_int_equal(replay_check(&w, 5000 - size), REPLAY_TOO_OLD);
		if (size > 1) {
			replay_update(&w, 5000 - size + 1);
			assert_int_equal(replay_check(&w, 5000 - size + 1), REPLAY_SEEN);
		}
		/* nothing in between was marked by the jump */
		for (uint32_t s = 5000 - size + 2; s < 5000; s++)
			assert_int_equal(replay_check(&w, s), REPLAY_NEW);
		/* moving by one word and by less than one: old marks never alias new numbers */
		for (uint32_t s = 5001; s < 5000 + 3 * REPLAY_WINDOW_MAX; s += 7) {
			assert_int_equal(replay_check(&w, s), REPLAY_NEW);
			replay_update(&w, s);
			assert_int_equal(replay_check(&w, s), REPLAY_SEEN);
			if (size > 7 && s > 5001)
				assert_int_equal(replay_check(&w, s - 1), REPLAY_NEW);
		}
	}
	/* the last sequence number a sender may use */
	replay_init(&w, 64);
	replay_update(&w, UINT32_MAX - 1);
	assert_int_equal(replay_check(&w, UINT32_MAX), REPLAY_NEW);
	replay_update(&w, UINT32_MAX);
	assert_int_equal(replay_check(&w, UINT32_MAX), REPLAY_SEEN);
	assert_int_equal(replay_check(&w, UINT32_MAX - 1), REPLAY_SEEN);
	assert_int_equal(replay_check(&w, UINT32_MAX - 64), REPLAY_TOO_OLD);
	assert_int_equal(replay_check(&w, UINT32_MAX - 63), REPLAY_NEW);
}

static void test_gcm(void **state)
{
	static const uint8_t key128[16] = {1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11, 12, 13, 14, 15, 16};
	static const uint8_t key256[32] = {0x42};
	static const uint8_t salt[4] = {0xde, 0xad, 0xbe, 0xef};
	const uint8_t aad[8] = {0, 0, 0x10, 0x01, 0, 0, 0, 7}, iv[8] = {0, 0, 0, 0, 0, 0, 0, 7};
	uint8_t data[300], plain[300], icv[16];
	struct esp_crypto enc, dec, wrong;
	struct e2_err err;
	(void)state;

	for (unsigned i = 0; i < sizeof(plain); i++)
		plain[i] = (uint8_t)(i * 7);
	for (int k = 0; k < 2; k++) {
		const uint8_t *key = k ? key256 : key128;
		int len = k ? 32 : 16;
		assert_int_equal(esp_crypto_init(&enc, true, key, len, salt, &err), 0);
		assert_int_equal(esp_crypto_init(&dec, false, key, len, salt, &err), 0);
		for (size_t n = 0; n <= sizeof(plain); n += 37) {
			memcpy(data, plain, n);
			assert_int_equal(esp_seal(&enc, aad, iv, data, n, icv), 0);
			if (n >= 16)
				assert_memory_not_equal(data, plain, n);
			uint8_t sealed[300], sealed_icv[16];
			memcpy(sealed, data, n);
			memcpy(sealed_icv, icv, 16);
			assert_int_equal(esp_open(&dec, aad, iv, data, n, icv), 0);
			assert_memory_equal(data, plain, n);
			/* every bit of ciphertext, ICV, header and IV matters */
			for (size_t bit = 0; bit < (n + 16 + 16) * 8; bit += 13) {
				uint8_t a2[8], iv2[8], c2[300], t2[16];
				memcpy(a2, aad, 8);
				memcpy(iv2, iv, 8);
				memcpy(c2, sealed, n);
				memcpy(t2, sealed_icv, 16);
				size_t byte = bit / 8;
				uint8_t *p = byte < n        ? &c2[byte]
					     : byte < n + 16 ? &t2[byte - n]
					     : byte < n + 24 ? &a2[byte - n - 16]
							     : &iv2[byte - n - 24];
				*p ^= (uint8_t)(1u << (bit % 8));
				assert_int_equal(esp_open(&dec, a2, iv2, c2, n, t2), -1);
			}
			/* the same bytes open again afterwards: a failure leaves the context usable */
			memcpy(data, sealed, n);
			assert_int_equal(esp_open(&dec, aad, iv, data, n, sealed_icv), 0);
		}
		/* the same key with another salt is another key */
		uint8_t salt2[4] = {0xde, 0xad, 0xbe, 0xee};
		assert_int_equal(esp_crypto_init(&wrong, false, key, len, salt2, &err), 0);
		memcpy(data, plain, 64);
		assert_int_equal(esp_seal(&enc, aad, iv, data, 64, icv), 0);
		assert_int_equal(esp_open(&wrong, aad, iv, data, 64, icv), -1);
		/* an encrypting context does not decrypt, nor the other way round */
		assert_int_equal(esp_open(&enc, aad, iv, data, 64, icv), -1);
		assert_int_equal(esp_seal(&dec, aad, iv, data, 64, icv), -1);
		esp_crypto_fini(&wrong);
		esp_crypto_fini(&enc);
		esp_crypto_fini(&dec);
	}
	assert_int_equal(esp_crypto_init(&enc, true, key128, 24, salt, &err), -1);
}

static void test_meter_conf(void **state)
{
	static struct meter_conf mc, again;
	struct e2_err err;
	char printed[8192], printed2[8192];
	const char *ok =
		"class a proto=udp from=10.0.0.0/8 to=192.0.2.1 sport=1-1023 dport=53 meter=srtcm "
		"cir=10M cbs=16k ebs=32k green=tag:t40:fast yellow=dscp:10 red=drop\n"
		"class b meter=trtcm cir=1M pir=2M cbs=1500 pbs=3000 per-flow=yes flows=100 idle=90s red=pass\n"
		"default drop\n";
	(void)state;
	assert_int_equal(meter_conf_parse(ok, strlen(ok), "m.conf", &mc, &err), 0);
	assert_int_equal(mc.n, 2);
	assert_int_equal(mc.cls[0].cir, 10000000);
	assert_int_equal(mc.cls[0].cbs, 16384);
	assert_int_equal(mc.cls[0].dport_lo, 53);
	assert_int_equal(mc.cls[0].sport_hi, 1023);
	assert_int_equal(mc.cls[0].dst_len, 32);
	assert_int_equal(mc.cls[0].act[COLOR_GREEN].kind, ACT_TAG);
	assert_int_equal(mc.cls[0].act[COLOR_YELLOW].dscp, 10);
	assert_true(mc.cls[1].per_flow);
	assert_true(mc.cls[1].idle_s == 90);
	assert_true(mc.cls[0].idle_s == 60);
	assert_int_equal(mc.cls[1].act[COLOR_RED].kind, ACT_PASS);
	assert_false(mc.default_pass);
	assert_true(meter_class_matches(&mc.cls[0], 17, htonl(0x0a010203), htonl(0xc0000201), 1000, 53));
	assert_false(meter_class_matches(&mc.cls[0], 17, htonl(0x0b010203), htonl(0xc0000201), 1000, 53));
	assert_false(meter_class_matches(&mc.cls[0], 17, htonl(0x0a010203), htonl(0xc0000201), 1024, 53));
	assert_false(meter_class_matches(&mc.cls[0], 6, htonl(0x0a010203), htonl(0xc0000201), 1000, 53));
	meter_conf_print(&mc, printed, sizeof(printed));
	assert_int_equal(meter_conf_parse(printed, strlen(printed), "p", &again, &err), 0);
	meter_conf_print(&again, printed2, sizeof(printed2));
	assert_string_equal(printed, printed2);

	static const struct {
		const char *text, *want;
	} bad[] = {
		{"class a meter=srtcm cir=1M cbs=1k\n", "m.conf:1: class a needs ebs=BYTES"},
		{"class a meter=srtcm cir=1M cbs=1k ebs=1k pir=2M\n", "m.conf:1: srtcm takes"},
		{"\nclass a meter=trtcm cir=1M pir=2M cbs=1k pbs=1k ebs=1k\n", "m.conf:2: trtcm takes"},
		{"class a meter=trtcm cir=1M pir=2M cbs=1k\n", "m.conf:1: class a needs pbs=BYTES"},
		{"class a cir=1M\n", "m.conf:1: class a needs meter="},
		{"class a meter=wfq\n", "m.conf:1: meter is srtcm"},
		{"class a-b meter=srtcm\n", "m.conf:1: a class name"},
		{"class a sport=9-1 meter=srtcm cir=1M cbs=1k ebs=1k\n", "m.conf:1: sport: '9-1'"},
		{"class a cir=0 meter=srtcm cbs=1k ebs=1k\n", "m.conf:1: cir=0"},
		{"class a meter=srtcm cir=1M cbs=0 ebs=1k\n", "m.conf:1: cbs=0"},
		{"class a meter=srtcm cir=1M cbs=1k ebs=1k green=tag:safe:300\n", "m.conf:1: green: safe=300"},
		{"class a meter=srtcm cir=1M cbs=1k ebs=1k bogus=1\n", "m.conf:1: unknown 'bogus'"},
		{"class\n", "m.conf:1: class takes a NAME"},
	};
	for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
		assert_int_equal(meter_conf_parse(bad[i].text, strlen(bad[i].text), "m.conf", &mc, &err), -1);
		if (!strstr(err.msg, bad[i].want))
			fail_msg("'%s' refused with '%s', not '%s'", bad[i].text, err.msg, bad[i].want);
	}
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_conf_ok), cmocka_unit_test(test_conf_refusals),
		cmocka_unit_test(test_keys),    cmocka_unit_test(test_replay_edges),
		cmocka_unit_test(test_gcm),     cmocka_unit_test(test_meter_conf),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
