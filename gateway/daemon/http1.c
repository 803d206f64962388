/* SPDX-License-Identifier: BSD-3-Clause */
/* HTTP/1.x framing (http1.h), after RFC 9112 §6 (message body length) and RFC 9111 §5.2
 * (Cache-Control), kept to what a gateway that may not change the bytes needs to know. */
#include "http1.h"

#include <string.h>
#include <strings.h>

#define SIZE_LINE_MAX 4096 /* a chunk-size line with its extensions */
#define CHUNK_MAX (1ull << 60)

static bool is_tchar(uint8_t ch)
{
	return ch > 32 && ch < 127 && !strchr("\"(),/:;<=>?@[\\]{}", ch);
}

static bool ieq(const uint8_t *a, size_t alen, const char *b)
{
	return alen == strlen(b) && strncasecmp((const char *)a, b, alen) == 0;
}

/* The next header line named name (without the colon) at or after *pos, its value trimmed;
 * false when there is none. The first line (request or status line) is never a header. */
static bool next_header(const uint8_t *head, size_t len, const char *name, size_t *pos, const uint8_t **v, size_t *vlen)
{
	size_t nl = strlen(name);
	for (size_t i = *pos; i + 1 < len; i++) {
		if (head[i] != '\n')
			continue;
		const uint8_t *line = head + i + 1;
		size_t rest = len - i - 1;
		if (rest > nl && line[nl] == ':' && strncasecmp((const char *)line, name, nl) == 0) {
			size_t s = nl + 1, e = s;
			while (e < rest && line[e] != '\r' && line[e] != '\n')
				e++;
			while (s < e && (line[s] == ' ' || line[s] == '\t'))
				s++;
			while (e > s && (line[e - 1] == ' ' || line[e - 1] == '\t'))
				e--;
			*v = line + s;
			*vlen = e - s;
			*pos = i + 1 + e;
			return true;
		}
	}
	return false;
}

static bool has_header(const uint8_t *head, size_t len, const char *name)
{
	size_t pos = 0, vlen;
	const uint8_t *v;
	return next_header(head, len, name, &pos, &v, &vlen);
}

/* Content-Length: every occurrence must be the same decimal number. 1 found, 0 absent,
 * -1 bad. */
static int content_length(const uint8_t *head, size_t len, uint64_t *out)
{
	size_t pos = 0, vlen;
	const uint8_t *v;
	int found = 0;
	while (next_header(head, len, "content-length", &pos, &v, &vlen)) {
		uint64_t n = 0;
		if (vlen == 0)
			return -1;
		for (size_t k = 0; k < vlen; k++) {
			if (v[k] < '0' || v[k] > '9' || n > (UINT64_MAX - 9) / 10)
				return -1;
			n = n * 10 + (uint64_t)(v[k] - '0');
		}
		if (found && n != *out)
			return -1;
		*out = n;
		found = 1;
	}
	return found;
}

/* Transfer-Encoding: 0 absent, 1 chunked is the last coding, 2 another coding is last. */
static int transfer_coding(const uint8_t *head, size_t len)
{
	size_t pos = 0, vlen;
	const uint8_t *v;
	int last = 0;
	while (next_header(head, len, "transfer-encoding", &pos, &v, &vlen)) {
		/* the last list element of the last header line */
		size_t e = vlen, s;
		while (e > 0 && (v[e - 1] == ' ' || v[e - 1] == '\t' || v[e - 1] == ','))
			e--;
		s = e;
		while (s > 0 && v[s - 1] != ',')
			s--;
		while (s < e && (v[s] == ' ' || v[s] == '\t'))
			s++;
		last = ieq(v + s, e - s, "chunked") ? 1 : 2;
	}
	return last;
}

/* Cache-Control directives of every Cache-Control line (RFC 9111 §5.2). */
struct cache_control {
	bool no_store, no_cache, private_, has_max_age, has_s_maxage;
	uint64_t max_age, s_maxage;
};

static uint64_t delta_seconds(const uint8_t *v, size_t n, bool *ok)
{
	uint64_t x = 0;
	if (n >= 2 && v[0] == '"' && v[n - 1] == '"')
		v++, n -= 2;
	*ok = n > 0;
	for (size_t i = 0; i < n; i++) {
		if (v[i] < '0' || v[i] > '9') {
			*ok = false;
			return 0;
		}
		x = x > UINT32_MAX ? x : x * 10 + (uint64_t)(v[i] - '0'); /* saturates (§1.2.2) */
	}
	return x;
}

static void cache_control(const uint8_t *head, size_t len, const char *name, struct cache_control *cc)
{
	size_t pos = 0, vlen;
	const uint8_t *v;
	while (next_header(head, len, name, &pos, &v, &vlen)) {
		size_t i = 0;
		while (i < vlen) {
			while (i < vlen && (v[i] == ' ' || v[i] == '\t' || v[i] == ','))
				i++;
			size_t ns = i;
			while (i < vlen && is_tchar(v[i]))
				i++;
			const uint8_t *dname = v + ns;
			size_t dlen = i - ns, as = i, alen = 0;
			if (i < vlen && v[i] == '=') {
				as = ++i;
				bool quoted = i < vlen && v[i] == '"';
				if (quoted)
					for (i++; i < vlen && v[i] != '"'; i++)
						;
				while (i < vlen && v[i] != ',')
					i++;
				alen = i - as;
				while (alen && (v[as + alen - 1] == ' ' || v[as + alen - 1] == '\t'))
					alen--;
			}
			while (i < vlen && v[i] != ',')
				i++; /* anything unexpected up to the next directive */
			bool ok;
			if (ieq(dname, dlen, "no-store"))
				cc->no_store = true;
			else if (ieq(dname, dlen, "no-cache"))
				cc->no_cache = true;
			else if (ieq(dname, dlen, "private"))
				cc->private_ = true;
			else if (ieq(dname, dlen, "max-age")) {
				uint64_t x = delta_seconds(v + as, alen, &ok);
				if (!ok)
					cc->no_cache = true; /* a malformed lifetime: treat as stale (§4.2.1) */
				else if (!cc->has_max_age || x < cc->max_age)
					cc->max_age = x;
				cc->has_max_age = true;
			} else if (ieq(dname, dlen, "s-maxage")) {
				uint64_t x = delta_seconds(v + as, alen, &ok);
				if (!ok)
					cc->no_cache = true;
				else if (!cc->has_s_maxage || x < cc->s_maxage)
					cc->s_maxage = x;
				cc->has_s_maxage = true;
			}
		}
	}
}

int http1_parse_request(const uint8_t *h, size_t len, struct http1_request *req, uint8_t *uri, size_t cap)
{
	memset(req, 0, sizeof *req);
	size_t i = 0;
	while (i < len && is_tchar(h[i]))
		i++;
	if (i == 0 || i >= len || h[i] != ' ')
		return -1;
	req->method = ieq(h, i, "GET") ? HTTP1_GET : ieq(h, i, "HEAD") ? HTTP1_HEAD : HTTP1_OTHER;
	size_t ts = ++i;
	while (i < len && h[i] != ' ' && h[i] != '\r' && h[i] != '\n')
		i++;
	size_t te = i;
	if (te == ts || len - i < 9 || memcmp(h + i, " HTTP/1.", 8) != 0)
		return -1;
	const uint8_t *target = h + ts;
	size_t tlen = te - ts, ulen = 0;
	if (tlen > 7 && strncasecmp((const char *)target, "http://", 7) == 0) {
		if (tlen - 7 > cap)
			return -1;
		memcpy(uri, target + 7, tlen - 7);
		ulen = tlen - 7;
	} else {
		size_t pos = 0, hostlen = 0;
		const uint8_t *host = NULL;
		next_header(h, len, "host", &pos, &host, &hostlen);
		if (hostlen + tlen > cap)
			return -1;
		if (host)
			memcpy(uri, host, hostlen);
		memcpy(uri + hostlen, target, tlen);
		ulen = hostlen + tlen;
	}
	req->uri_len = ulen;

	int te_kind = transfer_coding(h, len);
	int cl = content_length(h, len, &req->length);
	if (cl < 0 || te_kind == 2 || (te_kind && cl)) /* a request's length must be certain (§6.3) */
		return -1;
	req->body = te_kind ? HTTP1_BODY_CHUNKED : cl && req->length ? HTTP1_BODY_LENGTH : HTTP1_BODY_NONE;

	struct cache_control cc = {0};
	cache_control(h, len, "cache-control", &cc);
	req->cacheable = req->method == HTTP1_GET && !has_header(h, len, "authorization") &&
			 !has_header(h, len, "range") && !cc.no_store;
	return 0;
}

int http1_parse_response(const uint8_t *h, size_t len, enum http1_method method, bool req_cacheable,
			 uint32_t default_lifetime_s, struct http1_response *r)
{
	memset(r, 0, sizeof *r);
	/* HTTP/1.x SP 3DIGIT */
	if (len < 12 || memcmp(h, "HTTP/1.", 7) != 0 || h[7] < '0' || h[7] > '9' || h[8] != ' ')
		return -1;
	for (int k = 9; k < 12; k++)
		if (h[k] < '0' || h[k] > '9')
			return -1;
	if (len > 12 && h[12] != ' ' && h[12] != '\r' && h[12] != '\n')
		return -1;
	r->status = (unsigned)((h[9] - '0') * 100 + (h[10] - '0') * 10 + (h[11] - '0'));
	if (r->status < 100)
		return -1;
	r->upgrade = r->status == 101;
	r->interim = r->status < 200 && !r->upgrade;

	int te_kind = transfer_coding(h, len);
	int cl = content_length(h, len, &r->length);
	if (method == HTTP1_HEAD || r->status < 200 || r->status == 204 || r->status == 304)
		r->body = HTTP1_BODY_NONE;
	else if (te_kind) /* Transfer-Encoding overrides Content-Length (§6.3) */
		r->body = te_kind == 1 ? HTTP1_BODY_CHUNKED : HTTP1_BODY_CLOSE;
	else if (cl < 0)
		return -1;
	else if (cl)
		r->body = r->length ? HTTP1_BODY_LENGTH : HTTP1_BODY_NONE;
	else
		r->body = HTTP1_BODY_CLOSE;
	if (r->body != HTTP1_BODY_LENGTH)
		r->length = 0;

	struct cache_control cc = {0};
	cache_control(h, len, "cache-control", &cc);
	struct cache_control pragma = {0};
	cache_control(h, len, "pragma", &pragma);
	uint64_t life = cc.has_s_maxage ? cc.s_maxage : cc.has_max_age ? cc.max_age : default_lifetime_s;
	r->cacheable = req_cacheable && r->status == 200 &&
		       (r->body == HTTP1_BODY_LENGTH || r->body == HTTP1_BODY_CHUNKED || r->body == HTTP1_BODY_NONE) &&
		       !cc.no_store && !cc.no_cache && !cc.private_ && !pragma.no_cache &&
		       !has_header(h, len, "set-cookie") && !has_header(h, len, "vary") && life > 0;
	r->lifetime_s = r->cacheable ? (uint32_t)(life > UINT32_MAX ? UINT32_MAX : life) : 0;
	return 0;
}

enum { C_SIZE, C_EXT, C_SIZE_LF, C_DATA, C_DATA_CR, C_DATA_LF, C_TRAILER_START, C_TRAILER, C_END_LF };

void http1_body_start(struct http1_body *b, enum http1_body_kind kind, uint64_t length)
{
	memset(b, 0, sizeof *b);
	b->kind = kind;
	b->left = kind == HTTP1_BODY_LENGTH ? length : 0;
	b->state = C_SIZE;
}

static int hexval(uint8_t c)
{
	return c >= '0' && c <= '9'   ? c - '0'
	       : c >= 'a' && c <= 'f' ? c - 'a' + 10
	       : c >= 'A' && c <= 'F' ? c - 'A' + 10
				      : -1;
}

static size_t chunked_feed(struct http1_body *b, const uint8_t *p, size_t n, int *status)
{
	size_t i = 0;
	*status = 0;
	while (i < n) {
		uint8_t ch = p[i];
		switch (b->state) {
		case C_SIZE: {
			int d = hexval(ch);
			if (d >= 0) {
				if (b->left >= CHUNK_MAX >> 4)
					goto bad;
				b->left = b->left << 4 | (uint64_t)d;
				b->any_digit = true;
			} else if (!b->any_digit) {
				goto bad;
			} else if (ch == ';' || ch == ' ' || ch == '\t') {
				b->state = C_EXT;
			} else if (ch == '\r') {
				b->state = C_SIZE_LF;
			} else if (ch == '\n') {
				b->state = b->left ? C_DATA : C_TRAILER_START;
				b->line = 0;
			} else {
				goto bad;
			}
			if (b->state <= C_EXT && ++b->line > SIZE_LINE_MAX)
				goto bad;
			i++;
			break;
		}
		case C_EXT:
			if (ch == '\r')
				b->state = C_SIZE_LF;
			else if (ch == '\n') {
				b->state = b->left ? C_DATA : C_TRAILER_START;
				b->line = 0;
			} else if (++b->line > SIZE_LINE_MAX)
				goto bad;
			i++;
			break;
		case C_SIZE_LF:
			if (ch != '\n')
				goto bad;
			b->state = b->left ? C_DATA : C_TRAILER_START;
			b->line = 0;
			i++;
			break;
		case C_DATA: {
			size_t take = n - i < b->left ? n - i : (size_t)b->left;
			b->left -= take;
			i += take;
			if (!b->left)
				b->state = C_DATA_CR;
			break;
		}
		case C_DATA_CR:
			if (ch == '\r')
				b->state = C_DATA_LF;
			else if (ch == '\n')
				b->state = C_SIZE, b->any_digit = false;
			else
				goto bad;
			i++;
			break;
		case C_DATA_LF:
			if (ch != '\n')
				goto bad;
			b->state = C_SIZE;
			b->any_digit = false;
			i++;
			break;
		case C_TRAILER_START:
			i++;
			if (ch == '\r') {
				b->state = C_END_LF;
			} else if (ch == '\n') {
				*status = 1;
				return i;
			} else {
				b->state = C_TRAILER;
				if (++b->line > HTTP1_HEAD_MAX)
					goto bad;
			}
			break;
		case C_TRAILER:
			i++;
			if (ch == '\n')
				b->state = C_TRAILER_START;
			else if (++b->line > HTTP1_HEAD_MAX)
				goto bad;
			break;
		case C_END_LF:
			if (ch != '\n')
				goto bad;
			*status = 1;
			return i + 1;
		}
	}
	return i;
bad:
	*status = -1;
	return i;
}

size_t http1_head_feed(uint8_t *head, size_t *len, const uint8_t *p, size_t n, int *status)
{
	size_t i = 0;
	*status = 0;
	while (i < n && *status == 0) {
		if (*len == HTTP1_HEAD_MAX) {
			*status = -1;
			break;
		}
		head[(*len)++] = p[i++];
		if (*len >= 4 && memcmp(head + *len - 4, "\r\n\r\n", 4) == 0)
			*status = 1;
	}
	return i;
}

size_t http1_body_feed(struct http1_body *b, const uint8_t *p, size_t n, int *status)
{
	*status = 0;
	switch (b->kind) {
	case HTTP1_BODY_NONE: *status = 1; return 0;
	case HTTP1_BODY_LENGTH: {
		size_t take = n < b->left ? n : (size_t)b->left;
		b->left -= take;
		*status = b->left == 0;
		return take;
	}
	case HTTP1_BODY_CHUNKED: return chunked_feed(b, p, n, status);
	case HTTP1_BODY_CLOSE: return n;
	}
	return 0;
}
