/* SPDX-License-Identifier: BSD-3-Clause */
/* e2nf-ids's rule parser (good rules and the FILE:LINE of bad ones) and its matchers on
 * contents split over scans. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <string.h>

#include <cmocka.h>

#include "../nfs/ids_match.h"
#include "../nfs/ids_rules.h"

static int parse(const char *text, struct ids_ruleset *rs, struct e2_err *err)
{
	return ids_rules_parse(text, strlen(text), "r.rules", rs, err);
}

static void test_good_rules(void **state)
{
	(void)state;
	struct ids_ruleset rs;
	struct e2_err err = {{0}};
	const char *text =
		"# comment\n"
		"\n"
		"alert tcp any any -> 192.0.2.0/24 80 (msg:\"a \\\"quoted\\\" \\; msg\"; content:\"GET |2f 41|x\"; nocase; "
		"offset:2; depth:30; flow:to_server,established; sid:10; rev:3;)\r\n"
		"  drop tcp 10.0.0.1 1024: <> any :100 (content:\"a\\|b\\\\\"; sid:11; flow: to_client;)\n"
		"alert tcp 10.0.0.0/8 1:2 -> 0.0.0.0/0 any (content:\"|00 ff|\"; sid:12;)";
	assert_int_equal(parse(text, &rs, &err), 0);
	assert_int_equal(rs.n, 3);
	const struct ids_rule *r = &rs.rules[0];
	assert_int_equal(r->action, IDS_ALERT);
	assert_int_equal(r->line, 3);
	assert_string_equal(r->msg, "a \"quoted\" ; msg");
	assert_int_equal(r->content_len, 7);
	assert_memory_equal(r->content, "GET /Ax", 7);
	assert_true(r->nocase);
	assert_int_equal(r->offset, 2);
	assert_int_equal(r->depth, 30);
	assert_int_equal(r->flow_dir, IDS_TO_SERVER);
	assert_int_equal(r->sid, 10);
	assert_int_equal(r->dst, 0xc0000200);
	assert_int_equal(r->dst_mask, 0xffffff00);
	assert_int_equal(r->dport_lo, 80);
	assert_int_equal(r->dport_hi, 80);
	assert_true(ids_rule_header_matches(r, 1, 2, 0xc0000201, 80));
	assert_false(ids_rule_header_matches(r, 1, 2, 0xc0000301, 80));
	assert_false(ids_rule_header_matches(r, 0xc0000201, 80, 1, 2)); /* -> is one way */
	r = &rs.rules[1];
	assert_int_equal(r->action, IDS_DROP);
	assert_int_equal(r->content_len, 4);
	assert_memory_equal(r->content, "a|b\\", 4);
	assert_int_equal(r->sport_lo, 1024);
	assert_int_equal(r->sport_hi, 65535);
	assert_int_equal(r->dport_lo, 0);
	assert_int_equal(r->dport_hi, 100);
	assert_int_equal(r->flow_dir, IDS_TO_CLIENT);
	assert_true(ids_rule_header_matches(r, 5, 50, 0x0a000001, 2000)); /* <> either way */
	r = &rs.rules[2];
	assert_int_equal(r->content_len, 2);
	assert_int_equal(r->content[1], 0xff);
	assert_int_equal(r->flow_dir, IDS_FLOW_ANY);
	ids_rules_free(&rs);
}

static void test_bad_rules(void **state)
{
	(void)state;
	static const struct {
		const char *text, *want;
	} bad[] = {
		{"alert tcp any any -> any 80 (content:\"x\"; sid:1;)\nlog tcp any any -> any 80 (content:\"x\"; sid:2;)",
		 "r.rules:2: action 'log' is not alert or drop"},
		{"alert ip any any -> any 80 (content:\"x\"; sid:1;)", "r.rules:1: protocol 'ip': only tcp"},
		{"alert tcp any any -> any 80 content:\"x\"; sid:1;", "r.rules:1: missing options in parentheses"},
		{"alert tcp any any -> any 80 (content:\"x\"; sid:1;", "r.rules:1: missing closing parenthesis"},
		{"alert tcp any any -> any 80 (content:\"x\"; sid:1;) junk", "r.rules:1: text after the closing"},
		{"alert tcp any any -> any 80 (content:\"x\" sid:1;)",
		 "r.rules:1: content: text after the closing quote"},
		{"alert tcp any any -> any 80 (content:\"x\"; sid:1)",
		 "r.rules:1: option 'sid:1)' does not end with ;"},
		{"alert tcp any any -> any 80 (content:x; sid:1;)", "r.rules:1: content must be in double quotes"},
		{"alert tcp any any -> any 80 (content:\"\"; sid:1;)", "r.rules:1: empty content"},
		{"alert tcp any any -> any 80 (content:\"|zz|\"; sid:1;)", "r.rules:1: content: only hex digits"},
		{"alert tcp any any -> any 80 (content:\"a\\nb\"; sid:1;)", "r.rules:1: content: unknown escape"},
		{"alert tcp any any -> any 80 (content:!\"a\"; sid:1;)", "r.rules:1: negated content"},
		{"alert tcp any any -> any 80 (content:\"a\"; content:\"b\"; sid:1;)",
		 "r.rules:1: one content per rule"},
		{"alert tcp any any -> any 80 (nocase; content:\"a\"; sid:1;)", "r.rules:1: nocase takes no value"},
		{"alert tcp any any -> any 80 (offset:1; content:\"a\"; sid:1;)",
		 "r.rules:1: offset must follow content"},
		{"alert tcp any any -> any 80 (content:\"a\"; depth:-1; sid:1;)", "r.rules:1: depth takes a number"},
		{"alert tcp any any -> any 80 (content:\"a\"; flow:established,to_both; sid:1;)",
		 "r.rules:1: flow 'to_both' is not supported"},
		{"alert tcp any any -> any 80 (content:\"a\"; sid:0;)", "r.rules:1: sid takes a number above 0"},
		{"alert tcp any any -> any 80 (content:\"a\"; sid:1; sid:2;)",
		 "r.rules:1: sid takes a number above 0, once"},
		{"alert tcp any any -> any 80 (msg:\"m\";)", "r.rules:1: a rule needs a content"},
		{"alert tcp $HOME_NET any -> any 80 (content:\"a\"; sid:1;)", "r.rules:1: '$HOME_NET' is not an IPv4"},
		{"alert tcp 10.0.0.0/33 any -> any 80 (content:\"a\"; sid:1;)", "r.rules:1: bad prefix length"},
		{"alert tcp any 70000 -> any 80 (content:\"a\"; sid:1;)", "r.rules:1: '70000' is not a port"},
		{"alert tcp any 9:8 -> any 80 (content:\"a\"; sid:1;)", "r.rules:1: port range '9:8' is empty"},
		{"alert tcp any : -> any 80 (content:\"a\"; sid:1;)", "r.rules:1: ':' is not a port"},
		{"alert tcp any any <- any 80 (content:\"a\"; sid:1;)", "r.rules:1: direction '<-' is not"},
		{"alert tcp any any -> any", "r.rules:1: missing destination port"},
		{"alert", "r.rules:1: missing protocol"},
	};
	for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
		struct ids_ruleset rs;
		struct e2_err err = {{0}};
		int rc = parse(bad[i].text, &rs, &err);
		if (rc != -1 || strncmp(err.msg, bad[i].want, strlen(bad[i].want)) != 0)
			fail_msg("rule %zu: got rc=%d '%s', want '%s'", i, rc, err.msg, bad[i].want);
		assert_int_equal(rs.n, 0);
		assert_null(rs.rules);
	}
}

struct hits {
	unsigned n;
	unsigned rule[16];
	uint64_t end[16];
};

static void on_hit(void *ctx, unsigned rule, uint64_t end)
{
	struct hits *h = ctx;
	if (h->n < 16) {
		h->rule[h->n] = rule;
		h->end[h->n] = end;
	}
	h->n++;
}

static void split_scans(enum ids_matcher_kind kind)
{
	struct ids_ruleset rs;
	struct e2_err err = {{0}};
	const char *text = "alert tcp any any -> any any (content:\"KEYWORD\"; sid:1;)\n"
			   "alert tcp any any -> any any (content:\"secret\"; nocase; flow:to_server; sid:2;)\n"
			   "alert tcp any any -> any any (content:\"|00 01|\"; flow:to_client; sid:3;)\n";
	assert_int_equal(parse(text, &rs, &err), 0);
	struct ids_engine *e = ids_engine_build(&rs, kind, &err);
	if (!e && kind == IDS_MATCHER_HYPERSCAN && !ids_hyperscan_built()) {
		ids_rules_free(&rs);
		skip();
	}
	assert_non_null(e);
	struct ids_scan sc = {0};
	struct hits h = {0};
	/* "xxKEYW" "OR" "D..SeCrEt" at stream offset 100 onwards, to the server */
	ids_scan_bytes(e, 0, &sc, (const uint8_t *)"xxKEYW", 6, 100, on_hit, &h);
	ids_scan_bytes(e, 0, &sc, (const uint8_t *)"OR", 2, 106, on_hit, &h);
	assert_int_equal(h.n, 0);
	ids_scan_bytes(e, 0, &sc, (const uint8_t *)"D..SeCrEt\x00\x01", 11, 108, on_hit, &h);
	assert_int_equal(h.n, 2);
	assert_int_equal(h.rule[0], 0);
	assert_int_equal(h.end[0], 109);
	assert_int_equal(h.rule[1], 1);
	assert_int_equal(h.end[1], 117);
	ids_scan_close(e, &sc);
	/* to the client: no caseless secret, but the hex */
	memset(&h, 0, sizeof(h));
	ids_scan_bytes(e, 1, &sc, (const uint8_t *)"secret\x00", 7, 0, on_hit, &h);
	ids_scan_bytes(e, 1, &sc, (const uint8_t *)"\x01", 1, 7, on_hit, &h);
	assert_int_equal(h.n, 1);
	assert_int_equal(h.rule[0], 2);
	assert_int_equal(h.end[0], 8);
	ids_scan_close(e, &sc);
	ids_engine_free(e);
	ids_rules_free(&rs);
}

static void test_ac_split(void **state)
{
	(void)state;
	split_scans(IDS_MATCHER_AC);
}

static void test_hyperscan_split(void **state)
{
	(void)state;
	split_scans(IDS_MATCHER_HYPERSCAN);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_good_rules),
		cmocka_unit_test(test_bad_rules),
		cmocka_unit_test(test_ac_split),
		cmocka_unit_test(test_hyperscan_split),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
