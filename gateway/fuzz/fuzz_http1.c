/* SPDX-License-Identifier: BSD-3-Clause */
/* libFuzzer: HTTP/1.x framing (daemon/http1.c) and the server-side gateway's view of a
 * connection built on it (daemon/gwweb.c). The first byte picks what the rest is: a
 * request head, a response head (method and the request's cacheability from the byte),
 * a body of each kind fed in pieces the byte's bits size, or (low bits 3, bit 2 set) a
 * client stream and a server stream fed to gwweb in pieces, some resent or skipped: a
 * segment it sends as content lies inside what the server sent, with a key. Whatever the input: a URI
 * within its buffer and equal to a prefix-free copy of input bytes, lifetimes only on
 * cacheable responses, a body never taking more than it is given, and a chunked body
 * fed in pieces ending where it ends when fed whole. */
#include "e2/fuzz.h"
#include <stdlib.h>
#include <string.h>

#include "gwweb.h"
#include "http1.h"

static void check(int ok)
{
	if (!ok)
		abort();
}

/* Feeds p[0..n) in pieces of `piece` bytes; the count the body took, status in *st. */
static size_t feed(enum http1_body_kind kind, uint64_t length, const uint8_t *p, size_t n, size_t piece, int *st)
{
	struct http1_body b;
	http1_body_start(&b, kind, length);
	size_t pos = 0;
	*st = 0;
	while (pos < n) {
		size_t k = piece < n - pos ? piece : n - pos;
		size_t took = http1_body_feed(&b, p + pos, k, st);
		check(took <= k);
		pos += took;
		if (*st != 0)
			break;
		check(took == k);
	}
	return pos;
}

static void web(uint8_t sel, const uint8_t *p, size_t n)
{
	static embark_keys *keys;
	if (!keys) {
		uint8_t m[EMBARK_MASTER_KEY_LEN] = {4, 2};
		if (!(keys = embark_keys_from_master(m)))
			abort();
	}
	/* the client's bytes up to the first 0xff, the server's after it */
	const uint8_t *cut = memchr(p, 0xff, n);
	size_t cn = cut ? (size_t)(cut - p) : n / 2, sn = n - cn - (cut ? 1 : 0);
	const uint8_t *c = p, *s = p + n - sn;
	struct gw_web *w = gw_web_new();
	if (!w)
		abort();
	gw_web_client_syn(w, 1000);
	gw_web_server_syn(w, 0xfffffff0u);
	size_t piece = 1 + (sel >> 3), cs = 0, ss = 0;
	uint64_t fed = 0;
	while (cs < cn || ss < sn) {
		if (cs < cn) {
			size_t k = piece < cn - cs ? piece : cn - cs;
			gw_web_request(w, keys, 1001 + (uint32_t)cs, c + cs, k);
			cs += k;
		}
		if (ss < sn) {
			size_t k = piece < sn - ss ? piece : sn - ss;
			embark_content_info ci;
			uint32_t seq = 0xfffffff1u + (uint32_t)ss;
			if (gw_web_response(w, seq, s + ss, k, 60, &ci)) {
				check(ci.key != NULL);
				check(ci.seg.offset + k <= ss + k && ss + k <= sn);
			}
			fed = ss + k;
			/* now and then the same bytes again (a retransmission): never content */
			if ((s[ss] & 0x3f) == 0x3f)
				check(!gw_web_response(w, seq, s + ss, k, 60, &ci));
			ss += k;
		}
	}
	(void)fed;
	gw_web_free(w);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	if (size < 1)
		return 0;
	uint8_t sel = data[0];
	const uint8_t *p = data + 1;
	size_t n = size - 1;
	switch (sel & 3) {
	case 0: {
		static uint8_t uri[HTTP1_HEAD_MAX];
		struct http1_request r;
		size_t cap = sel & 4 ? 16 : sizeof uri;
		if (http1_parse_request(p, n, &r, uri, cap) == 0) {
			check(r.uri_len <= cap && r.uri_len <= n);
			check(!r.cacheable || r.method == HTTP1_GET);
			check(r.body != HTTP1_BODY_CLOSE);
		}
		break;
	}
	case 1: {
		struct http1_response r;
		enum http1_method m = (enum http1_method)((sel >> 2) % 3);
		if (http1_parse_response(p, n, m, sel & 0x10, 60, &r) == 0) {
			check(r.status >= 100 && r.status <= 999);
			check(r.cacheable || r.lifetime_s == 0);
			check(!r.cacheable || r.status == 200);
			check(m != HTTP1_HEAD || r.body == HTTP1_BODY_NONE);
		}
		break;
	}
	case 3:
		if (sel & 4) {
			web(sel, p, n);
			break;
		}
		/* fall through */
	default: {
		int whole_st, st;
		size_t whole = feed(HTTP1_BODY_CHUNKED, 0, p, n, n ? n : 1, &whole_st);
		size_t split = feed(HTTP1_BODY_CHUNKED, 0, p, n, 1 + (sel >> 2), &st);
		if (whole_st == 1 || st == 1)
			check(whole_st == st && whole == split);
		if (whole_st == -1)
			check(st == -1);
		uint64_t len = sel >> 2;
		size_t took = feed(HTTP1_BODY_LENGTH, len, p, n, 3, &st);
		check(took == (len < n ? len : n));
		break;
	}
	}
	return 0;
}
