/* SPDX-License-Identifier: BSD-3-Clause */
/* libFuzzer target: the HTTP request parser of e2nf-httplog/e2nf-urlclass on any bytes,
 * and the TCP segment locator on the same bytes as a frame. Properties: what it returns
 * points inside the input; a request's target is visible ASCII of bounded length; the
 * URL is at most HTTP_URL_MAX bytes with a lower-case host; and cutting the input
 * short never turns a request into garbage: every non-empty prefix of a request is a
 * request or partial, and a prefix that already is a request has the same line. */
#include "e2/fuzz.h"

#include <stdlib.h>
#include <string.h>

#include "../nfs/http_req.h"

static void check_inside(const uint8_t *p, size_t len, const char *s, size_t n)
{
	if (s && ((const uint8_t *)s < p || (const uint8_t *)s + n > p + len))
		abort();
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	struct http_req r, q;
	char url[HTTP_URL_MAX + 1];
	/* a copy of exactly size bytes, so that a read past the end is ASan's to see */
	uint8_t *p = malloc(size ? size : 1);

	if (!p)
		return 0;
	memcpy(p, data, size);
	enum http_req_status st = http_req_parse(p, size, &r);
	if (st == HTTP_REQ_OK) {
		check_inside(p, size, r.method, r.method_len);
		check_inside(p, size, r.target, r.target_len);
		check_inside(p, size, r.host, r.host_len);
		if (r.target_len == 0 || r.target_len > HTTP_TARGET_MAX || r.minor > 9)
			abort();
		for (size_t i = 0; i < r.target_len; i++)
			if (r.target[i] < 0x21 || r.target[i] > 0x7e)
				abort();
		size_t n = http_req_url(&r, url);
		if (n > HTTP_URL_MAX || strlen(url) != n)
			abort();
		const char *slash = strchr(url, '/');
		for (const char *c = url; *c && (!slash || c < slash); c++)
			if (*c >= 'A' && *c <= 'Z')
				abort();
		/* prefixes (a sample of lengths, to stay fast on big inputs) */
		for (size_t k = 1; k < size; k += 1 + k / 16) {
			enum http_req_status ps = http_req_parse(p, k, &q);
			if (ps != HTTP_REQ_OK && ps != HTTP_REQ_PARTIAL)
				abort();
			if (ps == HTTP_REQ_OK &&
			    (q.target_len != r.target_len || memcmp(q.target, r.target, r.target_len) != 0 ||
			     q.method_len != r.method_len))
				abort();
		}
	} else if (st == HTTP_REQ_NOT) {
		for (size_t k = 1; k < size && k < 16; k++) {
			enum http_req_status ps = http_req_parse(p, k, &q);
			if (ps != HTTP_REQ_NOT && ps != HTTP_REQ_PARTIAL)
				abort();
		}
	}
	struct http_tcp t;
	if (http_tcp_parse(p, size, &t) == 1)
		check_inside(p, size, (const char *)t.payload, t.payload_len);
	free(p);
	return 0;
}
