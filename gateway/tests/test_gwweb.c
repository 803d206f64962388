/* SPDX-License-Identifier: BSD-3-Clause */
/* The server-side gateway's view of an HTTP connection for the web cache (daemon/gwweb.c):
 * which response segments go out as content, with which place and URI; persistent and
 * pipelined connections, interim responses, HEAD and POST, chunked bodies, heads over
 * several segments, retransmissions, and gaps or strays that stop the following. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <cmocka.h>
#include <stdio.h>
#include <string.h>

#include "common.h"
#include "gwweb.h"

static embark_keys *K;
static uint32_t cseq, sseq; /* the next client and server sequence numbers */

static struct gw_web *conn(void)
{
	struct gw_web *w = gw_web_new();
	assert_non_null(w);
	cseq = 0xfffffff0u; /* both directions wrap */
	sseq = 0xffffff00u;
	gw_web_client_syn(w, cseq++);
	gw_web_server_syn(w, sseq++);
	return w;
}

static void request(struct gw_web *w, const char *text)
{
	size_t n = strlen(text);
	gw_web_request(w, K, cseq, (const uint8_t *)text, n);
	cseq += (uint32_t)n;
}

/* The next n bytes of the server's stream: whether they go out as content. */
static bool response(struct gw_web *w, const char *text, size_t n, embark_content_info *ci)
{
	bool c = gw_web_response(w, sseq, (const uint8_t *)text, n, 0, ci);
	sseq += (uint32_t)n;
	return c;
}

static void check_uri(const embark_content_info *ci, const char *uri)
{
	uint8_t id[EMBARK_URI_ID_LEN];
	assert_int_equal(embark_uri_id(K, (const uint8_t *)uri, strlen(uri), id), 0);
	assert_memory_equal(ci->uri_id, id, sizeof id);
	/* the key is the URI's: a segment it seals opens under a key made from the id alone */
	embark_content *other = embark_content_new(K, id);
	uint8_t data[5] = "hello", v[16];
	assert_int_equal(embark_content_seal(ci->key, &ci->seg, data, sizeof data, v), 0);
	assert_int_equal(embark_content_open(other, &ci->seg, data, sizeof data, v), 0);
	assert_memory_equal(data, "hello", 5);
	embark_content_free(other);
}

static char body[8192];

static void test_persistent_connection(void **st)
{
	(void)st;
	struct gw_web *w = conn();
	request(w, "GET /a.png HTTP/1.1\r\nHost: img.example\r\n");
	request(w, "\r\n");
	char head[] = "HTTP/1.1 200 OK\r\nCache-Control: max-age=60\r\nContent-Length: 3000\r\n\r\n";
	char stream[4096];
	int hl = snprintf(stream, sizeof stream, "%s%.3000s", head, body);
	assert_int_equal(hl, (int)strlen(head) + 3000);
	embark_content_info ci[4];
	size_t cut[] = {0, 1000, 2000, 3000, (size_t)hl};
	for (int k = 0; k < 4; k++) {
		assert_true(response(w, stream + cut[k], cut[k + 1] - cut[k], &ci[k]));
		assert_int_equal(ci[k].seg.offset, cut[k]);
		assert_int_equal(ci[k].seg.last, k == 3);
		assert_true(ci[k].cacheable);
		assert_int_equal(ci[k].lifetime_s, 60);
		assert_memory_equal(ci[k].seg.tag, ci[0].seg.tag, EMBARK_CONTENT_TAG_LEN);
	}
	check_uri(&ci[0], "img.example/a.png");

	/* the next request: a new instance from offset 0, a chunked answer with trailers that
	 * says nothing of caching (not cacheable without a default lifetime) */
	request(w, "GET /b HTTP/1.1\r\nHost: img.example\r\n\r\n");
	const char *r2 = "HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n5\r\nhello\r\n0\r\nX: y\r\n\r\n";
	embark_content_info c2;
	assert_true(response(w, r2, 30, &c2));
	assert_int_equal(c2.seg.offset, 0);
	assert_false(c2.seg.last);
	assert_memory_not_equal(c2.seg.tag, ci[0].seg.tag, EMBARK_CONTENT_TAG_LEN);
	check_uri(&c2, "img.example/b");
	/* a retransmission of those bytes: ordinary, nothing moves */
	sseq -= 30;
	assert_false(response(w, r2, 30, &c2));
	assert_true(response(w, r2 + 30, strlen(r2) - 30, &c2));
	assert_int_equal(c2.seg.offset, 30);
	assert_true(c2.seg.last);
	assert_false(c2.cacheable);
	assert_false(gw_web_broken(w));
	gw_web_free(w);
}

static void test_pipelined_and_methods(void **st)
{
	(void)st;
	struct gw_web *w = conn();
	/* GET, POST with a body, HEAD, GET, all sent before any answer */
	request(w, "GET /1 HTTP/1.1\r\nHost: h\r\n\r\n"
		   "POST /form HTTP/1.1\r\nHost: h\r\nContent-Length: 11\r\n\r\nGET /x HTTP"
		   "HEAD /2 HTTP/1.1\r\nHost: h\r\n\r\n"
		   "GET /3 HTTP/1.1\r\nHost: h\r\n\r\n");
	embark_content_info ci;
	/* answer 1 whole, and the start of the POST's answer in the same segment: ordinary */
	const char *a = "HTTP/1.1 200 OK\r\nContent-Length: 2\r\n\r\nokHTTP/1.1 201 Created\r\n";
	assert_false(response(w, a, strlen(a), &ci));
	/* the POST's answer goes on: no key, ordinary */
	const char *b = "Content-Length: 0\r\n\r\n";
	assert_false(response(w, b, strlen(b), &ci));
	/* the HEAD's answer: a head alone, of a request that is not a GET: ordinary */
	const char *c = "HTTP/1.1 200 OK\r\nContent-Length: 999\r\n\r\n";
	assert_false(response(w, c, strlen(c), &ci));
	/* an interim answer, then the final one for /3 */
	const char *d = "HTTP/1.1 100 Continue\r\n\r\n";
	assert_false(response(w, d, strlen(d), &ci));
	const char *e = "HTTP/1.1 200 OK\r\nSet-Cookie: s=1\r\nContent-Length: 4\r\n\r\nabcd";
	assert_true(response(w, e, strlen(e), &ci));
	assert_true(ci.seg.last);
	assert_int_equal(ci.seg.offset, 0);
	assert_false(ci.cacheable); /* Set-Cookie */
	check_uri(&ci, "h/3");
	/* an answer to no request: following stops */
	assert_false(response(w, e, strlen(e), &ci));
	assert_true(gw_web_broken(w));
	gw_web_free(w);
}

static void test_long_head_and_default_lifetime(void **st)
{
	(void)st;
	struct gw_web *w = conn();
	request(w, "GET /big HTTP/1.1\r\nHost: h\r\n\r\n");
	char head[2100];
	int hl = snprintf(head, sizeof head, "HTTP/1.1 200 OK\r\nX-Pad: %01900d\r\nContent-Length: 10\r\n\r\n", 0);
	embark_content_info ci;
	/* the head's first 1000 bytes: content, not yet known to be cacheable */
	assert_true(gw_web_response(w, sseq, (const uint8_t *)head, 1000, 120, &ci));
	sseq += 1000;
	assert_false(ci.cacheable);
	assert_true(gw_web_response(w, sseq, (const uint8_t *)head + 1000, (size_t)hl - 1000, 120, &ci));
	sseq += (uint32_t)hl - 1000;
	assert_true(ci.cacheable);
	assert_int_equal(ci.lifetime_s, 120); /* the default given */
	assert_false(ci.seg.last);
	assert_true(gw_web_response(w, sseq, (const uint8_t *)body, 10, 120, &ci));
	sseq += 10;
	assert_true(ci.seg.last);
	assert_int_equal(ci.seg.offset, (uint64_t)hl);
	gw_web_free(w);
}

static void test_gaps_stop(void **st)
{
	(void)st;
	embark_content_info ci;
	/* a gap in the answers */
	struct gw_web *w = conn();
	request(w, "GET /g HTTP/1.1\r\nHost: h\r\n\r\n");
	const char *r = "HTTP/1.1 200 OK\r\nContent-Length: 100\r\n\r\n";
	assert_true(response(w, r, strlen(r), &ci));
	sseq += 10; /* ten bytes never seen */
	assert_false(response(w, body, 20, &ci));
	assert_true(gw_web_broken(w));
	assert_false(response(w, body, 20, &ci));
	gw_web_free(w);
	/* a gap in the requests */
	w = conn();
	cseq += 5;
	request(w, "GET /g HTTP/1.1\r\nHost: h\r\n\r\n");
	assert_true(gw_web_broken(w));
	assert_false(response(w, r, strlen(r), &ci));
	gw_web_free(w);
	/* a request whose length would be a guess */
	w = conn();
	request(w, "POST / HTTP/1.1\r\nContent-Length: 3\r\nTransfer-Encoding: chunked\r\n\r\n");
	assert_true(gw_web_broken(w));
	gw_web_free(w);
	/* nothing before the SYNs */
	w = gw_web_new();
	gw_web_request(w, K, 1, (const uint8_t *)"GET / HTTP/1.1\r\n\r\n", 18);
	assert_false(gw_web_response(w, 1, (const uint8_t *)r, strlen(r), 0, &ci));
	gw_web_free(w);
}

int main(void)
{
	K = test_keys(21);
	for (size_t i = 0; i < sizeof body; i++)
		body[i] = (char)('a' + i % 26);
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_persistent_connection),
		cmocka_unit_test(test_pipelined_and_methods),
		cmocka_unit_test(test_long_head_and_default_lifetime),
		cmocka_unit_test(test_gaps_stop),
	};
	int rc = cmocka_run_group_tests(tests, NULL, NULL);
	embark_keys_free(K);
	return rc;
}
