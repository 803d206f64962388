/* SPDX-License-Identifier: BSD-3-Clause */
/* Rule parsing and matching. */
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <stdint.h>
#include <cmocka.h>

#include <arpa/inet.h>
#include <netinet/in.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "fw_rules.h"

static int parse(const char *text, struct fw_ruleset *rs, char *err, size_t n)
{
	return fw_rules_parse(text, strlen(text), "t.rules", rs, err, n);
}

static struct fw_tuple tuple4(const char *src, uint16_t sport, const char *dst, uint16_t dport, uint8_t proto)
{
	struct fw_tuple t = {.family = 4, .proto = proto, .sport = sport, .dport = dport};
	assert_int_equal(inet_pton(AF_INET, src, t.src), 1);
	assert_int_equal(inet_pton(AF_INET, dst, t.dst), 1);
	return t;
}

static void parses_full_format(void **state)
{
	(void)state;
	const char *text = "# web server behind the firewall\n"
			   "default drop\n"
			   "non-ip allow\n"
			   "\n"
			   "allow tcp from 10.0.0.0/24 to 10.0.1.5 port 80      # http\n"
			   "allow udp from any port 53 to any\n"
			   "drop  tcp from any to any port 6000-6063\n"
			   "allow icmp from any to any\n"
			   "allow icmp6 from fe80::/10 to any\n"
			   "\tallow 47 from 192.0.2.1 to 192.0.2.2\r\n"
			   "deny ip from any to any";
	struct fw_ruleset rs;
	char err[256];
	assert_int_equal(parse(text, &rs, err, sizeof(err)), 0);
	assert_int_equal(rs.n_rules, 7);
	assert_int_equal(rs.default_action, FW_DROP);
	assert_int_equal(rs.non_ip_action, FW_ALLOW);
	const struct fw_rule *r = &rs.rules[0];
	assert_int_equal(r->action, FW_ALLOW);
	assert_int_equal(r->proto, IPPROTO_TCP);
	assert_int_equal(r->src.family, 4);
	assert_int_equal(r->src.prefix_len, 24);
	assert_int_equal(r->dst.prefix_len, 32);
	assert_int_equal(r->dport.lo, 80);
	assert_int_equal(r->dport.hi, 80);
	assert_int_equal(r->sport.lo, 0);
	assert_int_equal(r->sport.hi, 65535);
	assert_int_equal(r->line, 5);
	assert_int_equal(rs.rules[2].dport.lo, 6000);
	assert_int_equal(rs.rules[2].dport.hi, 6063);
	assert_int_equal(rs.rules[4].src.family, 6);
	assert_int_equal(rs.rules[5].proto, 47);
	assert_int_equal(rs.rules[5].line, 10);
	assert_int_equal(rs.rules[6].proto, FW_PROTO_ANY);
	assert_int_equal(rs.rules[6].action, FW_DROP);
	fw_rules_free(&rs);
}

static void empty_text_is_default_drop(void **state)
{
	(void)state;
	struct fw_ruleset rs;
	char err[64];
	assert_int_equal(parse("", &rs, err, sizeof(err)), 0);
	assert_int_equal(rs.n_rules, 0);
	assert_int_equal(rs.default_action, FW_DROP);
	struct fw_tuple t = tuple4("1.2.3.4", 1, "5.6.7.8", 2, IPPROTO_UDP);
	assert_int_equal(fw_rules_decide(&rs, &t, NULL), FW_DROP);
	fw_rules_free(&rs);
}

static void expect_error(const char *text, const char *fragment)
{
	struct fw_ruleset rs;
	char err[256] = "";
	if (parse(text, &rs, err, sizeof(err)) == 0)
		fail_msg("accepted bad rules: %s", text);
	if (!strstr(err, fragment))
		fail_msg("error for '%s' is '%s', expected it to contain '%s'", text, err, fragment);
}

static void rejects_bad_input_with_line_numbers(void **state)
{
	(void)state;
	expect_error("allow tcp from any to any\nallw tcp from any to any\n", "t.rules:2: unknown action 'allw'");
	expect_error("allow tcpp from any to any", "t.rules:1: unknown protocol 'tcpp'");
	expect_error("allow tcp from any", "missing 'to ADDRESS'");
	expect_error("allow tcp to any", "expected 'from' but found 'to'");
	expect_error("allow tcp from 10.0.0.300 to any", "bad address '10.0.0.300'");
	expect_error("allow tcp from 10.0.0.0/33 to any", "bad prefix length");
	expect_error("allow tcp from 10.0.0.0/ to any", "bad prefix length");
	expect_error("allow tcp from any to any port 70000", "bad port '70000'");
	expect_error("allow tcp from any to any port 90-80", "empty port range");
	expect_error("allow tcp from any to any port", "missing port");
	expect_error("allow icmp from any to any port 1", "ports need protocol");
	expect_error("allow tcp from 10.0.0.1 to ::1", "mixes IPv4 and IPv6");
	expect_error("allow icmp from ::1 to any", "icmp is IPv4 only");
	expect_error("allow tcp from any to any extra", "unexpected 'extra'");
	expect_error("default", "takes exactly one action");
	expect_error("default maybe", "unknown action 'maybe'");
	expect_error("allow", "missing protocol");
	expect_error("allow 256 from any to any", "unknown protocol '256'");
	expect_error("allow -1 from any to any", "unknown protocol '-1'");
	expect_error("\n\n\nallow tcp from any to any port -5", "t.rules:4: bad port");
	char nul[] = "allow tcp from any to any\n\0";
	struct fw_ruleset rs;
	char err[128];
	assert_int_equal(fw_rules_parse(nul, sizeof(nul) - 1, "t.rules", &rs, err, sizeof(err)), -1);
	assert_non_null(strstr(err, "t.rules:2: NUL byte"));
	char longline[2000];
	memset(longline, 'a', sizeof(longline) - 1);
	longline[sizeof(longline) - 1] = '\0';
	expect_error(longline, "line too long");
}

static void first_match_wins(void **state)
{
	(void)state;
	struct fw_ruleset rs;
	char err[128];
	assert_int_equal(parse("drop tcp from any to 10.0.1.5 port 22\n"
			       "allow tcp from 10.0.0.0/8 to any\n"
			       "allow udp from any port 53 to 10.0.0.0/16 port 1024-65535\n"
			       "default drop\n",
			       &rs, err, sizeof(err)),
			 0);
	const struct fw_rule *m;
	struct fw_tuple t = tuple4("10.9.9.9", 40000, "10.0.1.5", 22, IPPROTO_TCP);
	assert_int_equal(fw_rules_decide(&rs, &t, &m), FW_DROP);
	assert_int_equal(m->line, 1);
	t = tuple4("10.9.9.9", 40000, "10.0.1.5", 80, IPPROTO_TCP);
	assert_int_equal(fw_rules_decide(&rs, &t, &m), FW_ALLOW);
	assert_int_equal(m->line, 2);
	t = tuple4("11.0.0.1", 40000, "10.0.1.5", 80, IPPROTO_TCP);
	assert_int_equal(fw_rules_decide(&rs, &t, &m), FW_DROP);
	assert_null(m);
	t = tuple4("8.8.8.8", 53, "10.0.200.1", 5353, IPPROTO_UDP);
	assert_int_equal(fw_rules_decide(&rs, &t, NULL), FW_ALLOW);
	t = tuple4("8.8.8.8", 53, "10.1.0.1", 5353, IPPROTO_UDP);
	assert_int_equal(fw_rules_decide(&rs, &t, NULL), FW_DROP);
	t = tuple4("8.8.8.8", 53, "10.0.0.1", 999, IPPROTO_UDP);
	assert_int_equal(fw_rules_decide(&rs, &t, NULL), FW_DROP);
	fw_rules_free(&rs);
}

static void prefixes_and_families(void **state)
{
	(void)state;
	struct fw_ruleset rs;
	char err[128];
	assert_int_equal(parse("allow ip from 10.1.2.3/20 to any\n" /* host bits cleared */
			       "allow ip from 2001:db8::/33 to any\n"
			       "allow ip from 0.0.0.0/0 to 192.0.2.7\n",
			       &rs, err, sizeof(err)),
			 0);
	struct fw_tuple t = tuple4("10.1.15.255", 1, "1.1.1.1", 1, IPPROTO_UDP);
	assert_int_equal(fw_rules_decide(&rs, &t, NULL), FW_ALLOW);
	t = tuple4("10.1.16.0", 1, "1.1.1.1", 1, IPPROTO_UDP);
	assert_int_equal(fw_rules_decide(&rs, &t, NULL), FW_DROP);
	t = tuple4("203.0.113.9", 1, "192.0.2.7", 1, IPPROTO_TCP);
	assert_int_equal(fw_rules_decide(&rs, &t, NULL), FW_ALLOW);
	struct fw_tuple t6 = {.family = 6, .proto = IPPROTO_TCP};
	inet_pton(AF_INET6, "2001:db8:7fff::1", t6.src);
	assert_int_equal(fw_rules_decide(&rs, &t6, NULL), FW_ALLOW);
	inet_pton(AF_INET6, "2001:db8:8000::1", t6.src);
	assert_int_equal(fw_rules_decide(&rs, &t6, NULL), FW_DROP);
	/* A v4 rule never matches a v6 packet, even for 0.0.0.0/0. */
	inet_pton(AF_INET6, "::c000:207", t6.dst);
	assert_int_equal(fw_rules_decide(&rs, &t6, NULL), FW_DROP);
	fw_rules_free(&rs);
}

static void loads_files_and_reports_missing(void **state)
{
	(void)state;
	char path[] = "/tmp/e2-fw-rules-XXXXXX";
	int fd = mkstemp(path);
	assert_true(fd >= 0);
	const char *text = "allow tcp from any to any port 80\nbogus\n";
	assert_int_equal(write(fd, text, strlen(text)), (ssize_t)strlen(text));
	close(fd);
	struct fw_ruleset rs;
	char err[256];
	assert_int_equal(fw_rules_load(path, &rs, err, sizeof(err)), -1);
	char want[300];
	snprintf(want, sizeof(want), "%s:2: unknown action 'bogus'", path);
	assert_int_equal(strncmp(err, want, strlen(want)), 0);
	unlink(path);
	assert_int_equal(fw_rules_load(path, &rs, err, sizeof(err)), -1);
	assert_non_null(strstr(err, "cannot open"));
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(parses_full_format),
		cmocka_unit_test(empty_text_is_default_drop),
		cmocka_unit_test(rejects_bad_input_with_line_numbers),
		cmocka_unit_test(first_match_wins),
		cmocka_unit_test(prefixes_and_families),
		cmocka_unit_test(loads_files_and_reports_missing),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
