/* SPDX-License-Identifier: BSD-3-Clause */
/* Rule text format: parsing, clear errors with line numbers, write/parse round trip, and
 * encrypted rule files that parse back and classify like the in-memory ones. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <cmocka.h>
#include <stdlib.h>

#include "common.h"

static const char *GOOD = "# campus firewall\n"
			  "deny  id=botnet prio=10 src=203.0.113.0/24\n"
			  "accept id=web proto=tcp dst=10.1.0.0-10.1.255.255 dport=80-443   # web\n"
			  "accept proto=udp dport=53\n"
			  "\n"
			  "deny id=v6 src=2001:db8::/32 prio=5\n"
			  "accept id=icmp proto=icmp sport=any\n"
			  "deny\n";

static void test_parse_good(void **st)
{
	(void)st;
	char err[512];
	embark_ruleset rs;
	assert_int_equal(embark_rules_parse(GOOD, strlen(GOOD), "good", &rs, err, sizeof err), 0);
	assert_int_equal(rs.n, 6);
	assert_string_equal(rs.v[0].id, "botnet");
	assert_int_equal(rs.v[0].action, EMBARK_DENY);
	assert_true(rs.v[0].src.lo == embark_v4mapped(0xcb007100) && rs.v[0].src.hi == embark_v4mapped(0xcb0071ff));
	assert_true(rs.v[0].dst_any);
	assert_int_equal(rs.v[1].proto, 6);
	assert_true(rs.v[1].dport.lo == 80 && rs.v[1].dport.hi == 443);
	assert_string_equal(rs.v[2].id, "L4");
	assert_int_equal(rs.v[2].prio, 4);
	assert_int_equal(rs.v[4].proto, 1);
	/* write and parse again: identical */
	char *buf;
	size_t len;
	FILE *f = open_memstream(&buf, &len);
	assert_int_equal(embark_rules_write(f, &rs, "round trip"), 0);
	fclose(f);
	embark_ruleset rs2;
	assert_int_equal(embark_rules_parse(buf, len, "rt", &rs2, err, sizeof err), 0);
	assert_int_equal(rs2.n, rs.n);
	for (size_t i = 0; i < rs.n; i++) {
		assert_string_equal(rs.v[i].id, rs2.v[i].id);
		assert_true(rs.v[i].src.lo == rs2.v[i].src.lo && rs.v[i].src.hi == rs2.v[i].src.hi);
		assert_true(rs.v[i].dst.lo == rs2.v[i].dst.lo && rs.v[i].dst.hi == rs2.v[i].dst.hi);
		assert_true(rs.v[i].dport.lo == rs2.v[i].dport.lo && rs.v[i].sport.hi == rs2.v[i].sport.hi);
		assert_int_equal(rs.v[i].prio, rs2.v[i].prio);
		assert_int_equal(rs.v[i].proto, rs2.v[i].proto);
	}
	free(buf);
	embark_ruleset_free(&rs2);
	embark_ruleset_free(&rs);
}

static void test_parse_errors(void **st)
{
	(void)st;
	static const struct {
		const char *text, *expect;
	} cases[] = {
		{"allow src=1.2.3.4\n", "bad:1: expected 'accept' or 'deny'"},
		{"deny\ndeny src=1.2.3.4/33\n", "bad:2: src: bad prefix length"},
		{"deny src=1.2.3.4/24\n", "host bits set"},
		{"deny src=1.2.3.9-1.2.3.4\n", "starts after it ends"},
		{"deny src=1.2.3.4-2001:db8::1\n", "mixes IPv4 and IPv6"},
		{"deny dst=300.1.1.1\n", "dst: bad address"},
		{"deny dport=70000\n", "dport: bad port"},
		{"deny sport=90-80\n", "starts after it ends"},
		{"deny sport=-5\n", "bad port"},
		{"deny proto=xyz\n", "bad proto"},
		{"deny proto=256\n", "bad proto"},
		{"deny colour=red\n", "unknown key 'colour'"},
		{"deny src=1.2.3.4 src=1.2.3.5\n", "'src' given twice"},
		{"deny src\n", "expected key=value"},
		{"deny id=a/b\n", "bad id"},
		{"deny prio=x\n", "bad prio"},
		{"deny id=a prio=1 src=10.0.0.0/8\naccept id=b prio=1 src=10.1.0.0/16\n",
		 "bad:2: rule 'b' overlaps rule 'a' (line 1)"},
		{"deny id=a prio=1\naccept id=a prio=1 src=1.1.1.1\n", "already used at line 1"},
		{"deny id=a prio=1\ndeny id=a prio=2\n", "bad:2: rule id 'a' already used at line 1"},
		{"deny\0 src=1.1.1.1\n", "bad:1: NUL byte"},
	};
	for (size_t i = 0; i < sizeof cases / sizeof *cases; i++) {
		char err[512] = "";
		embark_ruleset rs = {0};
		size_t len = strlen(cases[i].text);
		if (strstr(cases[i].expect, "NUL"))
			len = 21;
		int rc = embark_rules_parse(cases[i].text, len, "bad", &rs, err, sizeof err);
		if (rc != -1 || !strstr(err, cases[i].expect))
			fail_msg("case %zu: rc %d, message '%s', wanted '%s'", i, rc, err, cases[i].expect);
		assert_null(rs.v);
	}
	/* same prio but disjoint: fine */
	const char *ok = "deny id=a prio=1 src=10.0.0.0/8\naccept id=b prio=1 src=11.0.0.0/8\n";
	char err[256];
	embark_ruleset rs;
	assert_int_equal(embark_rules_parse(ok, strlen(ok), "ok", &rs, err, sizeof err), 0);
	embark_ruleset_free(&rs);
	assert_int_equal(embark_rules_load("/nonexistent/rules.txt", &rs, err, sizeof err), -1);
	assert_non_null(strstr(err, "/nonexistent/rules.txt"));
}

static void test_encrypted_file_roundtrip(void **st)
{
	(void)st;
	char err[512];
	embark_keys *k = test_keys(3);
	embark_ruleset rs, enc, back;
	assert_int_equal(embark_rules_parse(GOOD, strlen(GOOD), "good", &rs, err, sizeof err), 0);
	embark_gw *gw = embark_gw_new(k, &rs, NULL, NULL, err, sizeof err);
	assert_non_null(gw);
	assert_int_equal(embark_rules_encrypt(gw, &rs, &enc, err, sizeof err), 0);
	char *buf;
	size_t len;
	FILE *f = open_memstream(&buf, &len);
	embark_rules_write(f, &enc, "enc");
	fclose(f);
	assert_int_equal(embark_rules_parse(buf, len, "enc", &back, err, sizeof err), 0);
	assert_int_equal(back.n, enc.n);
	embark_classifier *cp = embark_classifier_new(&rs), *ce = embark_classifier_new(&back);
	uint64_t s = 5;
	for (int i = 0; i < 20000; i++) {
		uint32_t pick[] = {0xcb007100, 0x0a010000, 0x0a01ff00, 0x08080808};
		embark_tuple4 t = {pick[rnd_below(&s, 4)] + rnd_below(&s, 256),
				   pick[rnd_below(&s, 4)] + rnd_below(&s, 256), (uint16_t)rnd_below(&s, 1000),
				   (uint16_t)(rnd_below(&s, 3) ? 53 + rnd_below(&s, 400) : rnd(&s)),
				   (uint8_t)(rnd_below(&s, 3) == 0 ? 1
					     : rnd_below(&s, 2)    ? 6
								   : 17)};
		bool ports = t.proto != 1;
		if (!ports)
			t.sport = t.dport = 0;
		embark_key5 kp = {embark_v4mapped(t.sip), embark_v4mapped(t.dip), t.sport, t.dport, t.proto, ports},
			    ke = kp;
		embark_encrypt_tuple(gw, &t, &ke.sip, &ke.dip, &ke.sport, &ke.dport);
		if (!ports)
			ke.sport = ke.dport = 0;
		const embark_rule *a = embark_classify(cp, &kp), *b = embark_classify(ce, &ke);
		assert_true(!a == !b);
		if (a)
			assert_string_equal(a->id, b->id);
	}
	embark_classifier_free(cp);
	embark_classifier_free(ce);
	free(buf);
	embark_ruleset_free(&rs);
	embark_ruleset_free(&enc);
	embark_ruleset_free(&back);
	embark_gw_free(gw);
	embark_keys_free(k);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_parse_good),
		cmocka_unit_test(test_parse_errors),
		cmocka_unit_test(test_encrypted_file_roundtrip),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
