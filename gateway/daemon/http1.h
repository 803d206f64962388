/* SPDX-License-Identifier: BSD-3-Clause */
/* HTTP/1.x message framing on one direction of a reassembled connection: what a request
 * names and where requests and responses begin and end. The gateway needs it for the
 * encrypted URIs (seed §4.4) and for the web cache's content segments (README "HTTP
 * proxy/cache over ciphertext"): which response bytes answer which request, and whether
 * that response may be cached. Pure parsing, no allocation; heads are passed whole (up to
 * and including the empty line), bodies byte by byte in any split. */
#ifndef EMBARK_HTTP1_H
#define EMBARK_HTTP1_H
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#define HTTP1_HEAD_MAX 8192 /* a longer head ends parsing of its direction */

enum http1_method { HTTP1_GET, HTTP1_HEAD, HTTP1_OTHER };

/* How a message's body is delimited. */
enum http1_body_kind {
	HTTP1_BODY_NONE,    /* no body */
	HTTP1_BODY_LENGTH,  /* Content-Length bytes */
	HTTP1_BODY_CHUNKED, /* chunked transfer coding, then trailers */
	HTTP1_BODY_CLOSE,   /* until the connection closes (responses only) */
};

struct http1_request {
	enum http1_method method;
	enum http1_body_kind body;
	uint64_t length; /* HTTP1_BODY_LENGTH */
	bool cacheable;  /* GET without Authorization, Range or Cache-Control: no-store */
	size_t uri_len;  /* host + path (absolute-form: the target without "http://") */
};

/* A request head. uri (cap bytes) receives host + path, uri_len its length. 0, or -1
 * when it is not an HTTP/1.x request, its body cannot be delimited (a transfer coding
 * other than chunked last, both Transfer-Encoding and Content-Length, a bad length) or
 * the URI does not fit. */
int http1_parse_request(const uint8_t *head, size_t len, struct http1_request *req, uint8_t *uri, size_t cap);

/* Gathers a head from a byte stream into head (HTTP1_HEAD_MAX bytes, *len of them taken so
 * far), up to and including its empty line: how many bytes of p it took. *status: 1 the
 * head is complete, 0 more is needed, -1 it is longer than HTTP1_HEAD_MAX (the direction
 * cannot be followed). */
size_t http1_head_feed(uint8_t *head, size_t *len, const uint8_t *p, size_t n, int *status);

struct http1_response {
	unsigned status;
	enum http1_body_kind body;
	uint64_t length;     /* HTTP1_BODY_LENGTH */
	bool interim;        /* 1xx other than 101: the final response to the same request follows */
	bool upgrade;        /* 101: the connection leaves HTTP */
	bool cacheable;      /* see http1_parse_response */
	uint32_t lifetime_s; /* when cacheable: s-maxage, else max-age, else the default given */
};

/* A response head to a request made with method and cacheability req_cacheable.
 * cacheable: a 200 to a cacheable request, delimited by length or chunks, without
 * Set-Cookie, Vary, Cache-Control no-store / no-cache / private or max-age=0, Pragma:
 * no-cache. 0, or -1 when it is not an HTTP/1.x response or its body cannot be delimited. */
int http1_parse_response(const uint8_t *head, size_t len, enum http1_method method, bool req_cacheable,
			 uint32_t default_lifetime_s, struct http1_response *resp);

/* A body being passed over. */
struct http1_body {
	enum http1_body_kind kind;
	uint64_t left; /* LENGTH: bytes still to come; CHUNKED: of the current chunk's data */
	int state;     /* CHUNKED: where in the coding */
	bool any_digit;
	size_t line; /* CHUNKED: bytes of the current size or trailer line, bounded */
};

void http1_body_start(struct http1_body *b, enum http1_body_kind kind, uint64_t length);
/* Takes up to n bytes of the body; returns how many belong to it. *status: 0 the body goes
 * on, 1 it ended (the bytes after the returned count begin the next message), -1 the
 * chunked coding is malformed. HTTP1_BODY_CLOSE takes everything and never ends. */
size_t http1_body_feed(struct http1_body *b, const uint8_t *p, size_t n, int *status);
#endif
