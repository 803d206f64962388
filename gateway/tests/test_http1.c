/* SPDX-License-Identifier: BSD-3-Clause */
/* HTTP/1.x framing (daemon/http1.c): what requests name and how their bodies end, how
 * responses end and whether they may be cached, chunked bodies fed in every split, and the
 * refusals (not HTTP, uncertain lengths, malformed chunk coding). */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <cmocka.h>
#include <stdio.h>
#include <string.h>

#include "common.h"
#include "http1.h"

static int req(const char *head, struct http1_request *r, char *uri)
{
	static uint8_t buf[HTTP1_HEAD_MAX];
	int rc = http1_parse_request((const uint8_t *)head, strlen(head), r, buf, sizeof buf);
	if (rc == 0 && uri) {
		memcpy(uri, buf, r->uri_len);
		uri[r->uri_len] = 0;
	}
	return rc;
}

static void test_requests(void **st)
{
	(void)st;
	struct http1_request r;
	char uri[256];
	assert_int_equal(req("GET /a/b?c=1 HTTP/1.1\r\nHost: www.example\r\nAccept: */*\r\n\r\n", &r, uri), 0);
	assert_string_equal(uri, "www.example/a/b?c=1");
	assert_int_equal(r.method, HTTP1_GET);
	assert_int_equal(r.body, HTTP1_BODY_NONE);
	assert_true(r.cacheable);

	/* absolute form: the target without the scheme, Host ignored */
	assert_int_equal(req("GET http://proxy.example/x HTTP/1.0\r\nHost: other\r\n\r\n", &r, uri), 0);
	assert_string_equal(uri, "proxy.example/x");
	/* no Host: the path alone */
	assert_int_equal(req("GET /only HTTP/1.0\r\n\r\n", &r, uri), 0);
	assert_string_equal(uri, "/only");

	assert_int_equal(req("HEAD / HTTP/1.1\r\nHost: h\r\n\r\n", &r, uri), 0);
	assert_int_equal(r.method, HTTP1_HEAD);
	assert_false(r.cacheable);

	assert_int_equal(req("POST /up HTTP/1.1\r\nHost: h\r\ncontent-length: 40\r\n\r\n", &r, uri), 0);
	assert_int_equal(r.method, HTTP1_OTHER);
	assert_int_equal(r.body, HTTP1_BODY_LENGTH);
	assert_int_equal(r.length, 40);
	assert_false(r.cacheable);
	assert_int_equal(
		req("POST /up HTTP/1.1\r\nHost: h\r\nContent-Length: 7\r\nContent-Length: 7\r\n\r\n", &r, NULL), 0);
	assert_int_equal(r.length, 7);
	assert_int_equal(req("PUT /up HTTP/1.1\r\nTransfer-Encoding: gzip, chunked\r\n\r\n", &r, NULL), 0);
	assert_int_equal(r.body, HTTP1_BODY_CHUNKED);

	/* GETs a cache must not answer from a stored copy */
	assert_int_equal(req("GET / HTTP/1.1\r\nHost: h\r\nAuthorization: Basic eDp5\r\n\r\n", &r, NULL), 0);
	assert_false(r.cacheable);
	assert_int_equal(req("GET / HTTP/1.1\r\nHost: h\r\nRange: bytes=0-9\r\n\r\n", &r, NULL), 0);
	assert_false(r.cacheable);
	assert_int_equal(req("GET / HTTP/1.1\r\nHost: h\r\nCache-Control: max-age=0, no-store\r\n\r\n", &r, NULL), 0);
	assert_false(r.cacheable);

	/* refused: not HTTP/1.x, and every body whose end would be a guess */
	static const char *const bad[] = {
		"GET / HTTP/2.0\r\n\r\n",
		"GET /\r\n\r\n",
		" GET / HTTP/1.1\r\n\r\n",
		"G(T / HTTP/1.1\r\n\r\n",
		"GET  HTTP/1.1\r\n\r\n",
		"POST / HTTP/1.1\r\nContent-Length: 12a\r\n\r\n",
		"POST / HTTP/1.1\r\nContent-Length: \r\n\r\n",
		"POST / HTTP/1.1\r\nContent-Length: 5\r\nContent-Length: 6\r\n\r\n",
		"POST / HTTP/1.1\r\nContent-Length: 99999999999999999999999\r\n\r\n",
		"POST / HTTP/1.1\r\nTransfer-Encoding: chunked\r\nContent-Length: 5\r\n\r\n",
		"POST / HTTP/1.1\r\nTransfer-Encoding: chunked, gzip\r\n\r\n",
	};
	for (size_t i = 0; i < sizeof bad / sizeof *bad; i++)
		if (req(bad[i], &r, NULL) != -1)
			fail_msg("accepted: %s", bad[i]);
	/* a URI longer than the buffer */
	uint8_t small[8];
	const char *h = "GET /longer-than-eight HTTP/1.1\r\n\r\n";
	assert_int_equal(http1_parse_request((const uint8_t *)h, strlen(h), &r, small, sizeof small), -1);
}

static int resp(const char *head, enum http1_method m, bool rc_ok, struct http1_response *r)
{
	return http1_parse_response((const uint8_t *)head, strlen(head), m, rc_ok, 60, r);
}

static void test_responses(void **st)
{
	(void)st;
	struct http1_response r;
	assert_int_equal(resp("HTTP/1.1 200 OK\r\nContent-Length: 1234\r\n\r\n", HTTP1_GET, true, &r), 0);
	assert_int_equal(r.status, 200);
	assert_int_equal(r.body, HTTP1_BODY_LENGTH);
	assert_int_equal(r.length, 1234);
	assert_true(r.cacheable);
	assert_int_equal(r.lifetime_s, 60); /* the default */
	/* the request decides too */
	assert_int_equal(resp("HTTP/1.1 200 OK\r\nContent-Length: 1\r\n\r\n", HTTP1_GET, false, &r), 0);
	assert_false(r.cacheable);

	struct {
		const char *head;
		bool cacheable;
		uint32_t life;
	} cc[] = {
		{"HTTP/1.1 200 OK\r\nCache-Control: public, max-age=3600\r\nContent-Length: 5\r\n\r\n", true, 3600},
		{"HTTP/1.1 200 OK\r\nCache-Control: max-age=\"90\"\r\nContent-Length: 5\r\n\r\n", true, 90},
		{"HTTP/1.1 200 OK\r\nCache-Control: max-age=100, s-maxage=30\r\nContent-Length: 5\r\n\r\n", true, 30},
		{"HTTP/1.1 200 OK\r\nCache-Control: max-age=100\r\nCache-Control: max-age=50\r\nContent-Length: 5\r\n\r\n",
		 true, 50},
		{"HTTP/1.1 200 OK\r\nCache-Control: max-age=99999999999999\r\nContent-Length: 5\r\n\r\n", true,
		 UINT32_MAX},
		{"HTTP/1.1 200 OK\r\nCache-Control: max-age=0\r\nContent-Length: 5\r\n\r\n", false, 0},
		{"HTTP/1.1 200 OK\r\nCache-Control: max-age=abc\r\nContent-Length: 5\r\n\r\n", false, 0},
		{"HTTP/1.1 200 OK\r\nCache-Control: no-store\r\nContent-Length: 5\r\n\r\n", false, 0},
		{"HTTP/1.1 200 OK\r\ncache-control: No-Cache\r\nContent-Length: 5\r\n\r\n", false, 0},
		{"HTTP/1.1 200 OK\r\nCache-Control: private=\"x, y\", max-age=9\r\nContent-Length: 5\r\n\r\n", false,
		 0},
		{"HTTP/1.1 200 OK\r\nCache-Control: community=\"no-store\"\r\nContent-Length: 5\r\n\r\n", true, 60},
		{"HTTP/1.1 200 OK\r\nPragma: no-cache\r\nContent-Length: 5\r\n\r\n", false, 0},
		{"HTTP/1.1 200 OK\r\nSet-Cookie: a=b\r\nContent-Length: 5\r\n\r\n", false, 0},
		{"HTTP/1.1 200 OK\r\nVary: Accept-Encoding\r\nContent-Length: 5\r\n\r\n", false, 0},
		{"HTTP/1.1 206 Partial Content\r\nContent-Range: bytes 0-4/10\r\nContent-Length: 5\r\n\r\n", false, 0},
		{"HTTP/1.1 404 Not Found\r\nContent-Length: 5\r\n\r\n", false, 0},
		{"HTTP/1.0 200 OK\r\n\r\n", false, 0}, /* ends with the connection: no last segment */
		{"HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n", true, 60},
	};
	for (size_t i = 0; i < sizeof cc / sizeof *cc; i++) {
		assert_int_equal(resp(cc[i].head, HTTP1_GET, true, &r), 0);
		if (r.cacheable != cc[i].cacheable || r.lifetime_s != cc[i].life)
			fail_msg("%s: cacheable %d lifetime %u, want %d %u", cc[i].head, r.cacheable, r.lifetime_s,
				 cc[i].cacheable, cc[i].life);
	}

	/* bodies (RFC 9112 §6.3) */
	assert_int_equal(resp("HTTP/1.1 200 OK\r\nContent-Length: 50\r\n\r\n", HTTP1_HEAD, true, &r), 0);
	assert_int_equal(r.body, HTTP1_BODY_NONE);
	assert_int_equal(resp("HTTP/1.1 204 No Content\r\n\r\n", HTTP1_GET, true, &r), 0);
	assert_int_equal(r.body, HTTP1_BODY_NONE);
	assert_int_equal(resp("HTTP/1.1 304 Not Modified\r\nContent-Length: 50\r\n\r\n", HTTP1_GET, true, &r), 0);
	assert_int_equal(r.body, HTTP1_BODY_NONE);
	assert_int_equal(resp("HTTP/1.1 100 Continue\r\n\r\n", HTTP1_OTHER, false, &r), 0);
	assert_true(r.interim);
	assert_int_equal(r.body, HTTP1_BODY_NONE);
	assert_int_equal(resp("HTTP/1.1 101 Switching Protocols\r\nUpgrade: websocket\r\n\r\n", HTTP1_GET, true, &r),
			 0);
	assert_true(r.upgrade);
	assert_false(r.interim);
	assert_int_equal(resp("HTTP/1.1 200 OK\r\nTransfer-Encoding: gzip\r\n\r\n", HTTP1_GET, true, &r), 0);
	assert_int_equal(r.body, HTTP1_BODY_CLOSE);
	assert_int_equal(
		resp("HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\nContent-Length: 9\r\n\r\n", HTTP1_GET, true, &r),
		0);
	assert_int_equal(r.body, HTTP1_BODY_CHUNKED);
	assert_int_equal(resp("HTTP/1.1 200 OK\r\nContent-Length: 0\r\n\r\n", HTTP1_GET, true, &r), 0);
	assert_int_equal(r.body, HTTP1_BODY_NONE);

	static const char *const bad[] = {
		"HTTP/2 200 OK\r\n\r\n",
		"HTTP/1.1 20 OK\r\n\r\n",
		"HTTP/1.1 2000 OK\r\n\r\n",
		"HTTP/1.1 099 Odd\r\n\r\n",
		"http/1.1 200 OK\r\n\r\n",
		"HTTP/1.1 200 OK\r\nContent-Length: 5x\r\n\r\n",
		"HTTP/1.1 200 OK\r\nContent-Length: 5\r\nContent-Length: 4\r\n\r\n",
	};
	for (size_t i = 0; i < sizeof bad / sizeof *bad; i++)
		if (resp(bad[i], HTTP1_GET, true, &r) != -1)
			fail_msg("accepted: %s", bad[i]);
}

/* Feeds body (then trailing bytes that are not the body's) in pieces cut at the given
 * random points; returns the body bytes taken, or -1 on a coding error. */
static long feed_split(enum http1_body_kind kind, uint64_t length, const char *bytes, size_t n, uint64_t *s, int *final)
{
	struct http1_body b;
	http1_body_start(&b, kind, length);
	size_t pos = 0;
	int status = 0;
	while (pos < n) {
		size_t piece = s ? 1 + rnd_below(s, 9) : 1;
		if (piece > n - pos)
			piece = n - pos;
		size_t took = http1_body_feed(&b, (const uint8_t *)bytes + pos, piece, &status);
		assert_true(took <= piece);
		pos += took;
		if (status < 0) {
			*final = -1;
			return -1;
		}
		if (status == 1)
			break;
		assert_int_equal(took, piece);
	}
	*final = status;
	return (long)pos;
}

/* Heads gathered from a stream in pieces: complete at the empty line and not a byte
 * later (the body's first bytes stay for the caller), even when the CRLFCRLF is split
 * between pieces; longer than HTTP1_HEAD_MAX refused. */
static void test_head_feed(void **st)
{
	(void)st;
	static uint8_t head[HTTP1_HEAD_MAX];
	static const char msg[] = "GET /a HTTP/1.1\r\nHost: h\r\n\r\nBODY";
	size_t hl = strlen(msg) - 4;
	for (size_t cut = 1; cut < hl; cut++) {
		size_t len = 0;
		int status;
		size_t took = http1_head_feed(head, &len, (const uint8_t *)msg, cut, &status);
		assert_int_equal(took, cut);
		assert_int_equal(status, 0);
		took = http1_head_feed(head, &len, (const uint8_t *)msg + cut, strlen(msg) - cut, &status);
		assert_int_equal(status, 1);
		assert_int_equal(took, hl - cut);
		assert_int_equal(len, hl);
		assert_memory_equal(head, msg, hl);
	}
	static uint8_t big[HTTP1_HEAD_MAX + 10];
	memset(big, 'x', sizeof big);
	size_t len = 0;
	int status;
	http1_head_feed(head, &len, big, sizeof big, &status);
	assert_int_equal(status, -1);
	assert_int_equal(len, HTTP1_HEAD_MAX);
}

static void test_chunked(void **st)
{
	(void)st;
	static const char body[] = "5\r\nhello\r\n"
				   "1A;name=\"v;x\"\r\nabcdefghijklmnopqrstuvwxyz\r\n"
				   "0\r\nExpires: never\r\nX-T: 1\r\n\r\n";
	static const char after[] = "HTTP/1.1 200 OK\r\n";
	char stream[sizeof body + sizeof after];
	snprintf(stream, sizeof stream, "%s%s", body, after);
	size_t blen = strlen(body), n = strlen(stream);
	uint64_t s = 17;
	int status;
	/* byte by byte, then 200 random splits: the body ends exactly where it ends */
	assert_int_equal(feed_split(HTTP1_BODY_CHUNKED, 0, stream, n, NULL, &status), (long)blen);
	assert_int_equal(status, 1);
	for (int t = 0; t < 200; t++) {
		assert_int_equal(feed_split(HTTP1_BODY_CHUNKED, 0, stream, n, &s, &status), (long)blen);
		assert_int_equal(status, 1);
	}
	/* bare LF line ends, no trailers, upper-case hex */
	static const char lf[] = "A\nabcdefghij\n0\n\nNEXT";
	assert_int_equal(feed_split(HTTP1_BODY_CHUNKED, 0, lf, strlen(lf), NULL, &status), (long)strlen(lf) - 4);
	assert_int_equal(status, 1);
	/* a body not yet ended */
	assert_int_equal(feed_split(HTTP1_BODY_CHUNKED, 0, "5\r\nhel", 6, NULL, &status), 6);
	assert_int_equal(status, 0);

	static const char *const bad[] = {
		"x\r\n",                /* no size */
		"\r\n",                 /* empty size */
		"5\r\nhelloX\r\n",      /* data not followed by CRLF */
		"5\rXhello\r\n",        /* CR without LF */
		"0\r\n\rX",             /* the last CRLF broken */
		"1000000000000000\r\n", /* 2^60: too large */
	};
	for (size_t i = 0; i < sizeof bad / sizeof *bad; i++) {
		feed_split(HTTP1_BODY_CHUNKED, 0, bad[i], strlen(bad[i]), NULL, &status);
		if (status != -1)
			fail_msg("accepted chunk coding: %s", bad[i]);
	}
	/* a size line with endless extensions */
	static char longext[6000];
	memset(longext, 'e', sizeof longext);
	longext[0] = '5', longext[1] = ';';
	feed_split(HTTP1_BODY_CHUNKED, 0, longext, sizeof longext, NULL, &status);
	assert_int_equal(status, -1);

	/* length-delimited and none */
	assert_int_equal(feed_split(HTTP1_BODY_LENGTH, 10, "0123456789NEXT", 14, &s, &status), 10);
	assert_int_equal(status, 1);
	struct http1_body b;
	http1_body_start(&b, HTTP1_BODY_NONE, 0);
	assert_int_equal(http1_body_feed(&b, (const uint8_t *)"x", 1, &status), 0);
	assert_int_equal(status, 1);
	http1_body_start(&b, HTTP1_BODY_CLOSE, 0);
	assert_int_equal(http1_body_feed(&b, (const uint8_t *)"xyz", 3, &status), 3);
	assert_int_equal(status, 0);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_requests),
		cmocka_unit_test(test_responses),
		cmocka_unit_test(test_chunked),
		cmocka_unit_test(test_head_feed),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
