/* SPDX-License-Identifier: BSD-3-Clause */
/* The web cache's view of one connection at the server's gateway (gwweb.h). */
#include "gwweb.h"

#include <openssl/crypto.h>
#include <openssl/rand.h>
#include <stdlib.h>
#include <string.h>

#include "http1.h"

#define WEB_REQS 16 /* requests sent and not yet answered (pipelining) */

enum { AT_HEAD, AT_BODY };

/* One direction's message framing: the head being gathered, or the body being passed. */
struct side {
	bool sync;     /* the first sequence number is known */
	uint32_t next; /* the next byte expected */
	int at;
	struct http1_body body;
	size_t head_len;
	uint8_t head[HTTP1_HEAD_MAX];
};

struct web_req {
	enum http1_method method;
	bool cacheable;
	uint8_t uri_id[EMBARK_URI_ID_LEN];
	embark_content *key; /* GETs only; kept until the slot is reused */
};

struct gw_web {
	bool broken;
	struct side req, resp;
	struct web_req q[WEB_REQS]; /* a ring: q[qh] is the oldest request not yet answered */
	unsigned qh, qn;
	/* the response being passed: where it began, its request's slot, what its head said */
	uint64_t off; /* response-direction bytes before resp.next */
	uint64_t start;
	unsigned slot;
	bool head_done, interim, cacheable;
	uint32_t lifetime_s;
	uint8_t tag[EMBARK_CONTENT_TAG_LEN];
};

struct gw_web *gw_web_new(void)
{
	return calloc(1, sizeof(struct gw_web));
}

void gw_web_free(struct gw_web *w)
{
	if (!w)
		return;
	for (unsigned i = 0; i < WEB_REQS; i++)
		embark_content_free(w->q[i].key);
	OPENSSL_clear_free(w, sizeof *w); /* heads held plaintext */
}

bool gw_web_broken(const struct gw_web *w)
{
	return w->broken;
}

void gw_web_client_syn(struct gw_web *w, uint32_t seq)
{
	w->req.sync = true;
	w->req.next = seq + 1;
}

bool gw_web_opened_by(const struct gw_web *w, uint32_t seq)
{
	return w->req.sync && w->req.next == seq + 1 && w->req.head_len == 0 && w->qn == 0;
}

void gw_web_server_syn(struct gw_web *w, uint32_t seq)
{
	w->resp.sync = true;
	w->resp.next = seq + 1;
}

static void stop(struct gw_web *w)
{
	w->broken = true;
	OPENSSL_cleanse(w->req.head, sizeof w->req.head);
	OPENSSL_cleanse(w->resp.head, sizeof w->resp.head);
}

/* In sequence: how many leading bytes of the segment were seen already (the rest is new),
 * or -1 if the segment is wholly old or leaves a gap (then following stops). */
static long in_order(struct gw_web *w, struct side *s, uint32_t seq, size_t n)
{
	if (!s->sync || w->broken || n == 0)
		return -1;
	int32_t d = (int32_t)(seq - s->next);
	if (d > 0) {
		stop(w);
		return -1;
	}
	if ((size_t) - (int64_t)d >= n)
		return -1;
	return -(long)d;
}

static void request_head(struct gw_web *w, const embark_keys *keys)
{
	struct http1_request r;
	uint8_t uri[HTTP1_HEAD_MAX];
	if (http1_parse_request(w->req.head, w->req.head_len, &r, uri, sizeof uri) != 0 || w->qn == WEB_REQS) {
		stop(w);
		return;
	}
	struct web_req *q = &w->q[(w->qh + w->qn) % WEB_REQS];
	embark_content_free(q->key);
	*q = (struct web_req){.method = r.method, .cacheable = r.cacheable};
	if (embark_uri_id(keys, uri, r.uri_len, q->uri_id) != 0 ||
	    (r.method == HTTP1_GET && !(q->key = embark_content_new(keys, q->uri_id)))) {
		OPENSSL_cleanse(uri, r.uri_len);
		stop(w);
		return;
	}
	OPENSSL_cleanse(uri, r.uri_len);
	w->qn++;
	http1_body_start(&w->req.body, r.body, r.length);
	w->req.at = r.body == HTTP1_BODY_NONE ? AT_HEAD : AT_BODY;
}

void gw_web_request(struct gw_web *w, const embark_keys *keys, uint32_t seq, const uint8_t *p, size_t n)
{
	long skip = in_order(w, &w->req, seq, n);
	if (skip < 0)
		return;
	p += skip;
	n -= (size_t)skip;
	w->req.next += (uint32_t)n;
	while (n && !w->broken) {
		size_t took;
		if (w->req.at == AT_BODY) {
			int status;
			took = http1_body_feed(&w->req.body, p, n, &status);
			if (status < 0)
				stop(w);
			else if (status == 1)
				w->req.at = AT_HEAD;
		} else {
			int status;
			took = http1_head_feed(w->req.head, &w->req.head_len, p, n, &status);
			if (status < 0) {
				stop(w);
				return;
			}
			if (status > 0) {
				request_head(w, keys);
				OPENSSL_cleanse(w->req.head, w->req.head_len);
				w->req.head_len = 0;
			}
		}
		p += took;
		n -= took;
	}
}

/* The response whose head just completed, to the request at the front. */
static void response_head(struct gw_web *w, uint32_t default_lifetime_s)
{
	struct web_req *q = &w->q[w->slot];
	struct http1_response r;
	if (http1_parse_response(w->resp.head, w->resp.head_len, q->method, q->cacheable, default_lifetime_s, &r) !=
		    0 ||
	    r.upgrade) {
		stop(w);
		return;
	}
	w->head_done = true;
	w->interim = r.interim;
	w->cacheable = r.cacheable;
	w->lifetime_s = r.lifetime_s;
	http1_body_start(&w->resp.body, r.body, r.length);
	w->resp.at = r.body == HTTP1_BODY_NONE ? AT_HEAD : AT_BODY;
}

/* A response ended (its head, if interim, or its body). */
static void response_end(struct gw_web *w)
{
	if (!w->interim) {
		w->qh = (w->qh + 1) % WEB_REQS;
		w->qn--;
	}
	w->resp.at = AT_HEAD;
	w->head_done = false;
}

bool gw_web_response(struct gw_web *w, uint32_t seq, const uint8_t *p, size_t n, uint32_t default_lifetime_s,
		     embark_content_info *ci)
{
	long skip = in_order(w, &w->resp, seq, n);
	if (skip < 0)
		return false;
	/* a retransmission that also carries new bytes: the new bytes are followed, the
	 * segment goes out ordinary (its first bytes went out before) */
	bool plain = skip > 0;
	p += skip;
	n -= (size_t)skip;
	uint64_t seg_off = w->off;
	w->resp.next += (uint32_t)n;
	w->off += n;

	bool straddles = false, ended = false;
	unsigned slot = w->slot;
	size_t i = 0;
	while (i < n && !w->broken) {
		if (ended) /* a response ended inside the segment and another begins */
			straddles = true;
		ended = false;
		if (w->resp.at == AT_HEAD && w->resp.head_len == 0 && !w->head_done) {
			if (w->qn == 0) { /* an answer to no request we saw */
				stop(w);
				break;
			}
			w->start = seg_off + i;
			w->slot = w->qh;
			w->interim = w->cacheable = false;
			w->lifetime_s = 0;
			if (i == 0)
				slot = w->slot;
			if (RAND_bytes(w->tag, sizeof w->tag) != 1)
				stop(w);
		}
		if (w->resp.at == AT_BODY) {
			int status;
			i += http1_body_feed(&w->resp.body, p + i, n - i, &status);
			if (status < 0) {
				stop(w);
			} else if (status == 1) {
				response_end(w);
				ended = true;
			}
		} else {
			int status;
			i += http1_head_feed(w->resp.head, &w->resp.head_len, p + i, n - i, &status);
			if (status < 0)
				stop(w);
			if (status > 0) {
				response_head(w, default_lifetime_s);
				OPENSSL_cleanse(w->resp.head, w->resp.head_len);
				w->resp.head_len = 0;
				if (!w->broken && w->resp.at == AT_HEAD) { /* no body: the head was all of it */
					response_end(w);
					ended = true;
				}
			}
		}
	}
	if (w->broken || plain || straddles)
		return false;
	/* the segment lies in one response: the one that began at w->start (or, if it just
	 * ended, the one whose request sat in `slot`) */
	struct web_req *q = &w->q[slot];
	if (!q->key || w->interim)
		return false;
	memset(ci, 0, sizeof *ci);
	ci->key = q->key;
	memcpy(ci->uri_id, q->uri_id, sizeof ci->uri_id);
	memcpy(ci->seg.tag, w->tag, sizeof w->tag);
	ci->seg.offset = seg_off - w->start;
	ci->seg.last = ended;
	ci->cacheable = w->cacheable && (ended || w->head_done);
	ci->lifetime_s = ci->cacheable ? w->lifetime_s : 0;
	return true;
}
