/* SPDX-License-Identifier: BSD-3-Clause */
/* The HTTP request parser and URL of e2nf-httplog/e2nf-urlclass, the TCP segment
 * locator, and the category file: good, bad, cut short and oversized inputs. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include "../nfs/http_req.h"
#include "../nfs/url_categories.h"
#include "../nfs/url_flows.h"

static enum http_req_status parse(const char *s, struct http_req *r)
{
	return http_req_parse((const uint8_t *)s, strlen(s), r);
}

static void expect_url(const char *req, const char *want)
{
	struct http_req r;
	char url[HTTP_URL_MAX + 1];

	assert_int_equal(parse(req, &r), HTTP_REQ_OK);
	http_req_url(&r, url);
	assert_string_equal(url, want);
}

static void test_good(void **st)
{
	struct http_req r;
	(void)st;
	assert_int_equal(parse("GET /index.html HTTP/1.1\r\nHost: www.Example.com:8080\r\nAccept: */*\r\n\r\n", &r),
			 HTTP_REQ_OK);
	assert_int_equal(r.method_len, 3);
	assert_memory_equal(r.method, "GET", 3);
	assert_int_equal(r.target_len, 11);
	assert_memory_equal(r.host, "www.Example.com:8080", r.host_len);
	assert_int_equal(r.minor, 1);
	assert_true(r.headers_complete);
	expect_url("GET /index.html HTTP/1.1\r\nHost: www.Example.com:8080\r\n\r\n", "www.example.com/index.html");
	/* bare LF line ends, a case-insensitive header name, blanks around the value */
	expect_url("POST /a?b=1 HTTP/1.0\nhOsT: \t api.test \t\n\n", "api.test/a?b=1");
	/* absolute-form target: its host wins over a Host header */
	expect_url("GET http://Proxy.Example:81/x/y HTTP/1.1\r\nHost: other\r\n\r\n", "proxy.example/x/y");
	expect_url("GET http://h.example HTTP/1.1\r\n\r\n", "h.example");
	expect_url("GET http://h.example?q=1 HTTP/1.1\r\n\r\n", "h.example");
	expect_url("GET http://#Frag HTTP/1.1\r\n\r\n", "");
	/* no Host (HTTP/1.0): the path alone */
	expect_url("HEAD /only HTTP/1.0\r\n\r\n", "/only");
	expect_url("OPTIONS * HTTP/1.1\r\nHost: a.b\r\n\r\n", "a.b");
	expect_url("GET / HTTP/1.1\r\nHost: [2001:db8::1]:8080\r\n\r\n", "[2001:db8::1]/");
	/* a Host with bytes no host name has ends before them */
	struct http_req r2;
	char url[HTTP_URL_MAX + 1];
	static const char nul_host[] = "GET /p HTTP/1.1\r\nHost: a.b\0c/d\r\n\r\n";
	assert_int_equal(http_req_parse((const uint8_t *)nul_host, sizeof(nul_host) - 1, &r2), HTTP_REQ_OK);
	assert_int_equal(http_req_url(&r2, url), 5);
	assert_string_equal(url, "a.b/p");
	expect_url("GET /p HTTP/1.1\r\nHost: evil/x?y\r\n\r\n", "evil/p");
	/* only the first Host counts */
	expect_url("GET /p HTTP/1.1\r\nHost: one\r\nHost: two\r\n\r\n", "one/p");
	/* headers cut short: the request line is enough, the Host if it came */
	assert_int_equal(parse("GET /p HTTP/1.1\r\nUser-Agent: x\r\nHost: h\r\nAcc", &r), HTTP_REQ_OK);
	assert_false(r.headers_complete);
	assert_memory_equal(r.host, "h", 1);
	assert_int_equal(parse("DELETE /p HTTP/1.1\r\n", &r), HTTP_REQ_OK);
	assert_null(r.host);
}

static void test_not_and_bad(void **st)
{
	struct http_req r;
	(void)st;
	assert_int_equal(parse("", &r), HTTP_REQ_NOT);
	assert_int_equal(parse("\x16\x03\x01\x02\x00", &r), HTTP_REQ_NOT); /* TLS */
	assert_int_equal(parse("HTTP/1.1 200 OK\r\n", &r), HTTP_REQ_NOT);  /* a response */
	assert_int_equal(parse("get / HTTP/1.1\r\n", &r), HTTP_REQ_NOT);
	assert_int_equal(parse("GETX / HTTP/1.1\r\n", &r), HTTP_REQ_NOT);
	assert_int_equal(parse("GET  / HTTP/1.1\r\n", &r), HTTP_REQ_BAD); /* empty target */
	assert_int_equal(parse("GET /a\tb HTTP/1.1\r\n", &r), HTTP_REQ_BAD);
	assert_int_equal(parse("GET / HTTP/2.0\r\n", &r), HTTP_REQ_BAD);
	assert_int_equal(parse("GET / HTTP/1.x\r\n", &r), HTTP_REQ_BAD);
	assert_int_equal(parse("GET / HTTP/1.1 \r\n", &r), HTTP_REQ_BAD);
	assert_int_equal(parse("GET / HTTP/1.1\rX", &r), HTTP_REQ_BAD);
	assert_int_equal(parse("GET /\x80 HTTP/1.1\r\n", &r), HTTP_REQ_BAD);
}

static void test_partial(void **st)
{
	static const char full[] = "GET /some/path HTTP/1.1\r\n";
	struct http_req r;
	(void)st;
	/* every cut inside the request line (its final LF included) is partial */
	for (size_t n = 1; n < sizeof(full) - 1; n++)
		assert_int_equal(http_req_parse((const uint8_t *)full, n, &r), HTTP_REQ_PARTIAL);
	assert_int_equal(http_req_parse((const uint8_t *)full, sizeof(full) - 1, &r), HTTP_REQ_OK);
	assert_int_equal(parse("OPTI", &r), HTTP_REQ_PARTIAL);
	assert_int_equal(parse("CONNECT", &r), HTTP_REQ_PARTIAL);
}

static void test_huge(void **st)
{
	size_t n = HTTP_TARGET_MAX + 100;
	char *s = malloc(n + 64);
	struct http_req r;
	char url[HTTP_URL_MAX + 1];
	(void)st;
	assert_non_null(s);
	/* a target just under the limit parses; the URL is cut to the attribute's size */
	strcpy(s, "GET /");
	memset(s + 5, 'a', HTTP_TARGET_MAX - 1);
	strcpy(s + 4 + HTTP_TARGET_MAX, " HTTP/1.1\r\nHost: h.example\r\n\r\n");
	assert_int_equal(parse(s, &r), HTTP_REQ_OK);
	assert_int_equal(r.target_len, HTTP_TARGET_MAX);
	assert_int_equal(http_req_url(&r, url), HTTP_URL_MAX);
	assert_int_equal(strlen(url), HTTP_URL_MAX);
	assert_memory_equal(url, "h.example/aaa", 13);
	/* one more byte of target is refused, not truncated */
	strcpy(s, "GET /");
	memset(s + 5, 'a', HTTP_TARGET_MAX);
	strcpy(s + 5 + HTTP_TARGET_MAX, " HTTP/1.1\r\n\r\n");
	assert_int_equal(parse(s, &r), HTTP_REQ_BAD);
	/* a huge Host: cut too */
	strcpy(s, "GET /x HTTP/1.1\r\nHost: ");
	memset(s + 23, 'b', 300);
	strcpy(s + 323, "\r\n\r\n");
	assert_int_equal(parse(s, &r), HTTP_REQ_OK);
	assert_int_equal(http_req_url(&r, url), HTTP_URL_MAX);
	assert_int_equal(url[HTTP_URL_MAX - 1], 'b');
	free(s);
}

static size_t make_frame(uint8_t *f, bool vlan, uint16_t frag, const char *payload)
{
	size_t o = 0, pl = strlen(payload);
	memset(f, 0, 14);
	f[12] = 0x08;
	o = 14;
	if (vlan) {
		f[12] = 0x81;
		f[13] = 0x00;
		f[14] = 0;
		f[15] = 5;
		f[16] = 0x08;
		f[17] = 0;
		o = 18;
	}
	uint8_t *ip = f + o;
	memset(ip, 0, 40);
	ip[0] = 0x45;
	ip[2] = (uint8_t)((40 + pl) >> 8);
	ip[3] = (uint8_t)(40 + pl);
	ip[6] = (uint8_t)(frag >> 8);
	ip[7] = (uint8_t)frag;
	ip[9] = 6;
	static const uint8_t addrs[8] = {10, 0, 0, 1, 10, 0, 0, 2};
	memcpy(ip + 12, addrs, sizeof(addrs));
	ip[20] = 0x9c;
	ip[21] = 0x40;
	ip[23] = 80;
	ip[32] = 0x50;
	ip[33] = 0x18;
	for (size_t i = 0; i < pl; i++)
		ip[40 + i] = (uint8_t)payload[i];
	return o + 40 + pl;
}

static void test_tcp(void **st)
{
	uint8_t f[256];
	struct http_tcp t;
	(void)st;
	size_t n = make_frame(f, false, 0, "GET / HTTP/1.1\r\n\r\n");
	assert_int_equal(http_tcp_parse(f, n, &t), 1);
	assert_int_equal(t.sport, 40000);
	assert_int_equal(t.dport, 80);
	assert_int_equal(t.payload_len, 18);
	assert_memory_equal(t.payload, "GET", 3);
	n = make_frame(f, true, 0, "xy");
	assert_int_equal(http_tcp_parse(f, n, &t), 1);
	assert_int_equal(t.payload_len, 2);
	/* cut frames, later fragments, a TCP header length past the packet */
	n = make_frame(f, false, 0, "xy");
	for (size_t k = 0; k < n - 2; k++)
		assert_int_equal(http_tcp_parse(f, k, &t), 0);
	n = make_frame(f, false, 0x0010, "xy");
	assert_int_equal(http_tcp_parse(f, n, &t), 0);
	n = make_frame(f, false, 0, "");
	f[14 + 32] = 0xf0;
	assert_int_equal(http_tcp_parse(f, n, &t), 0);
}

static void test_flows(void **st)
{
	struct url_flows ft;
	struct http_tcp a = {.saddr = 1, .daddr = 2, .sport = 1000, .dport = 80};
	struct http_tcp b = {.saddr = 2, .daddr = 1, .sport = 80, .dport = 1000};
	(void)st;
	assert_int_equal(url_flows_init(&ft, 64), 0);
	struct url_flow_key ka = url_flow_key(&a), kb = url_flow_key(&b);
	url_flows_put(&ft, &ka, "h/x", 3, 5);
	const struct url_flow *f = url_flows_find(&ft, &kb, 10); /* the reply direction */
	assert_non_null(f);
	assert_string_equal(f->url, "h/x");
	assert_null(url_flows_find(&ft, &ka, 10 + URL_FLOW_IDLE_NS + (2ull << URL_FLOW_TICK_SHIFT)));
	/* more connections than the table: the oldest go, the newest stay */
	for (uint16_t p = 0; p < 1000; p++) {
		struct http_tcp c = {.saddr = 7, .daddr = 8, .sport = p, .dport = 80};
		struct url_flow_key k = url_flow_key(&c);
		url_flows_put(&ft, &k, "n", 1, (uint64_t)(100 + p) << URL_FLOW_TICK_SHIFT);
	}
	assert_true(ft.evicted > 0);
	struct http_tcp last = {.saddr = 7, .daddr = 8, .sport = 999, .dport = 80};
	struct url_flow_key kl = url_flow_key(&last);
	assert_non_null(url_flows_find(&ft, &kl, 1100ull << URL_FLOW_TICK_SHIFT));
	url_flows_del(&ft, &kl);
	assert_null(url_flows_find(&ft, &kl, 1100ull << URL_FLOW_TICK_SHIFT));
	url_flows_free(&ft);
}

static int cats(const char *text, struct urlcat_set *s, struct e2_err *err)
{
	return urlcat_parse(text, strlen(text), "cats.conf", s, err);
}

static int match(const struct urlcat_set *s, const char *url)
{
	return urlcat_match(s, url, strlen(url));
}

static void expect_refused(const char *text, const char *msg)
{
	struct urlcat_set s;
	struct e2_err err;

	assert_int_equal(cats(text, &s, &err), -1);
	if (!strstr(err.msg, msg))
		fail_msg("refusal '%s' lacks '%s'", err.msg, msg);
}

static void test_categories(void **st)
{
	struct urlcat_set s;
	struct e2_err err;
	(void)st;
	int rc = cats("# news and video\n"
		      "video  example.com/video/   # a path prefix\n"
		      "news\t.News.Example  \r\n"
		      "\n"
		      "shop www.shop.test\n"
		      "video .tube.test\n",
		      &s, &err);
	if (rc)
		fail_msg("%s", err.msg);
	assert_int_equal(s.n, 4);
	assert_int_equal(s.n_cats, 3);
	assert_string_equal(s.names[0], "video");
	assert_int_equal(s.rules[1].line, 3);
	assert_int_equal(urlcat_find(&s, "shop"), 2);
	assert_int_equal(match(&s, "example.com/video/cat.mp4"), 0);
	assert_int_equal(match(&s, "example.com/videos"), -1);
	assert_int_equal(match(&s, "news.example/today"), 1);
	assert_int_equal(match(&s, "a.b.news.example"), 1);
	assert_int_equal(match(&s, "xnews.example/"), -1);
	assert_int_equal(match(&s, "www.shop.test/cart"), 2);
	assert_int_equal(match(&s, "shop.test/cart"), -1);
	assert_int_equal(match(&s, "m.tube.test/"), 0);
	/* a suffix matches host names, never the path */
	assert_int_equal(match(&s, "evil.test/x.tube.test"), -1);
	urlcat_free(&s);

	expect_refused("", "cats.conf: no rules");
	expect_refused("# only a comment\n\n", "cats.conf: no rules");
	expect_refused("video\n", "cats.conf:1: expected 'CATEGORY PATTERN'");
	expect_refused("ok a.b\nvideo a.b c.d\n", "cats.conf:2: one pattern per line");
	expect_refused("a\n\nvi/deo a.b\n", "cats.conf:1:");
	expect_refused("ok a.b\n\nvi/deo a.b\n", "cats.conf:3: category 'vi/deo'");
	expect_refused("uncategorized a.b\n", "cats.conf:1: 'uncategorized' is reserved");
	expect_refused("x .\n", "cats.conf:1: '.': a host suffix");
	expect_refused("x .a.b/c\n", "cats.conf:1: '.a.b/c': a host suffix");
	expect_refused("x /path\n", "cats.conf:1: '/path': a pattern starts with a host");
	expect_refused("x a.b:80/p\n", "cats.conf:1: 'a.b:80/p': no port");
	expect_refused("x a.b/\x01\n", "cats.conf:1: pattern has a byte 0x01");
	expect_refused("a123456789012345678901234567890123 a.b\n", "cats.conf:1: category name longer");
	char big[300] = "x a.b/";
	memset(big + 6, 'p', 200);
	big[206] = '\0';
	expect_refused(big, "cats.conf:1: pattern of 204 bytes");
	char many[URLCAT_MAX * 16 + 64] = "";
	for (int i = 0; i <= URLCAT_MAX; i++)
		sprintf(many + strlen(many), "c%d h%d\n", i, i);
	expect_refused(many, "cats.conf:65: more than 64 categories");
	struct urlcat_set s2;
	assert_int_equal(urlcat_parse("ok a.b\nx\0y c\n", 13, "f", &s2, &err), -1);
	assert_string_equal(err.msg, "f:2: a NUL byte");
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_good),       cmocka_unit_test(test_not_and_bad), cmocka_unit_test(test_partial),
		cmocka_unit_test(test_huge),       cmocka_unit_test(test_tcp),         cmocka_unit_test(test_flows),
		cmocka_unit_test(test_categories),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
