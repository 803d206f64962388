/* SPDX-License-Identifier: BSD-3-Clause */
/* HTTP/1.x request lines and the Host header, read in place from one TCP payload. */
#include <string.h>

#include "e2/num.h"
#include "http_req.h"

static const struct {
	const char *name;
	size_t len;
} methods[] = {
	{"GET", 3},   {"HEAD", 4},    {"POST", 4},    {"PUT", 3},   {"DELETE", 6},
	{"PATCH", 5}, {"OPTIONS", 7}, {"CONNECT", 7}, {"TRACE", 5},
};

static int lower(int c)
{
	return c >= 'A' && c <= 'Z' ? c + ('a' - 'A') : c;
}

static bool prefix_nocase(const uint8_t *p, size_t len, const char *word)
{
	size_t n = strlen(word);

	if (len < n)
		return false;
	for (size_t i = 0; i < n; i++)
		if (lower(p[i]) != word[i])
			return false;
	return true;
}

/* Reads the header lines after the request line, up to the end of the payload: only
 * Host matters; a payload cut inside the headers is not an error (the rest is in later
 * segments, which this parser does not see). */
static void parse_headers(const uint8_t *p, size_t len, struct http_req *r)
{
	size_t i = 0;

	while (i < len) {
		const uint8_t *nl = memchr(p + i, '\n', len - i);
		if (!nl)
			return;
		size_t end = (size_t)(nl - p), line_end = end;
		if (line_end > i && p[line_end - 1] == '\r')
			line_end--;
		if (line_end == i) {
			r->headers_complete = true;
			return;
		}
		if (!r->host && prefix_nocase(p + i, line_end - i, "host:")) {
			size_t v = i + 5, e = line_end;
			while (v < e && (p[v] == ' ' || p[v] == '\t'))
				v++;
			while (e > v && (p[e - 1] == ' ' || p[e - 1] == '\t'))
				e--;
			r->host = (const char *)p + v;
			r->host_len = e - v;
		}
		i = end + 1;
	}
}

enum http_req_status http_req_parse(const uint8_t *p, size_t len, struct http_req *r)
{
	static const char version[] = "HTTP/1.";
	size_t i, m;

	memset(r, 0, sizeof(*r));
	if (len == 0)
		return HTTP_REQ_NOT;
	for (m = 0; m < sizeof(methods) / sizeof(methods[0]); m++) {
		size_t n = methods[m].len;
		if (len > n && memcmp(p, methods[m].name, n) == 0 && p[n] == ' ')
			break;
	}
	if (m == sizeof(methods) / sizeof(methods[0])) {
		for (m = 0; m < sizeof(methods) / sizeof(methods[0]); m++)
			if (len <= methods[m].len && memcmp(p, methods[m].name, len) == 0)
				return HTTP_REQ_PARTIAL;
		return HTTP_REQ_NOT;
	}
	r->method = (const char *)p;
	r->method_len = methods[m].len;
	i = r->method_len + 1;

	size_t t = i;
	while (i < len && p[i] != ' ') {
		if (p[i] < 0x21 || p[i] > 0x7e || i - t >= HTTP_TARGET_MAX)
			return HTTP_REQ_BAD;
		i++;
	}
	if (i == len)
		return HTTP_REQ_PARTIAL;
	if (i == t)
		return HTTP_REQ_BAD;
	r->target = (const char *)p + t;
	r->target_len = i - t;
	i++;

	for (size_t k = 0; k < sizeof(version) - 1; k++, i++) {
		if (i == len)
			return HTTP_REQ_PARTIAL;
		if (p[i] != (uint8_t)version[k])
			return HTTP_REQ_BAD;
	}
	if (i == len)
		return HTTP_REQ_PARTIAL;
	if (p[i] < '0' || p[i] > '9')
		return HTTP_REQ_BAD;
	r->minor = (unsigned)(p[i++] - '0');
	if (i < len && p[i] == '\r')
		i++;
	if (i == len)
		return HTTP_REQ_PARTIAL;
	if (p[i] != '\n')
		return HTTP_REQ_BAD;
	i++;
	parse_headers(p + i, len - i, r);
	return HTTP_REQ_OK;
}

/* Appends the host, lower case and without a port; returns the new length. */
static size_t put_host(char *url, size_t n, const char *h, size_t hlen)
{
	size_t e = hlen;

	if (hlen && h[0] == '[') { /* an IPv6 literal: the port is after the bracket */
		const char *b = memchr(h, ']', hlen);
		if (b)
			e = (size_t)(b - h) + 1;
	} else {
		const char *c = memchr(h, ':', hlen);
		if (c)
			e = (size_t)(c - h);
	}
	/* the Host header is the client's text: it ends at the first byte no host name has,
	 * so that the URL's host is always everything before its first '/' */
	for (size_t k = 0; k < e && n < HTTP_URL_MAX; k++) {
		unsigned char c = (unsigned char)h[k];
		if (c < 0x21 || c > 0x7e || c == '/' || c == '?' || c == '#')
			break;
		url[n++] = (char)lower(c);
	}
	return n;
}

size_t http_req_url(const struct http_req *r, char url[HTTP_URL_MAX + 1])
{
	const char *path = r->target, *host = r->host;
	size_t path_len = r->target_len, host_len = r->host_len, n = 0;

	if (prefix_nocase((const uint8_t *)r->target, r->target_len, "http://")) {
		const char *a = r->target + 7;
		size_t alen = r->target_len - 7, k = 0;
		while (k < alen && a[k] != '/' && a[k] != '?' && a[k] != '#')
			k++;
		host = a;
		host_len = k;
		path = a + k;
		path_len = alen - k;
	}
	if (path_len && path[0] != '/') {
		/* "*" (OPTIONS), an authority (CONNECT), an absolute URL without a path: the
		 * URL is the host alone, so the host is always all before the first '/' */
		path_len = 0;
	}
	if (host)
		n = put_host(url, n, host, host_len);
	for (size_t k = 0; k < path_len && n < HTTP_URL_MAX; k++)
		url[n++] = path[k];
	url[n] = '\0';
	return n;
}

int http_tcp_parse(const uint8_t *f, size_t len, struct http_tcp *t)
{
	size_t off = 14;

	if (len < off)
		return 0;
	uint16_t type = (uint16_t)(f[12] << 8 | f[13]);
	if (type == 0x8100) {
		if (len < off + 4)
			return 0;
		type = (uint16_t)(f[16] << 8 | f[17]);
		off += 4;
	}
	if (type != 0x0800 || len < off + 20)
		return 0;
	const uint8_t *ip = f + off;
	size_t ihl = (size_t)(ip[0] & 0xf) * 4, total = (size_t)(ip[2] << 8 | ip[3]);
	if ((ip[0] >> 4) != 4 || ihl < 20 || total < ihl || off + total > len || ip[9] != 6)
		return 0;
	if ((ip[6] & 0x1f) || ip[7]) /* a later fragment: no TCP header */
		return 0;
	const uint8_t *tcp = ip + ihl;
	if (total < ihl + 20)
		return 0;
	size_t doff = (size_t)(tcp[12] >> 4) * 4;
	if (doff < 20 || ihl + doff > total)
		return 0;
	memcpy(&t->saddr, ip + 12, 4);
	memcpy(&t->daddr, ip + 16, 4);
	t->sport = (uint16_t)(tcp[0] << 8 | tcp[1]);
	t->dport = (uint16_t)(tcp[2] << 8 | tcp[3]);
	t->flags = tcp[13];
	t->payload = tcp + doff;
	t->payload_len = total - ihl - doff;
	return 1;
}

int http_ports_add(struct http_ports *p, const char *arg, struct e2_err *err)
{
	uint32_t v;
	if (e2_num_u32("--http-port", arg, 1, 65535, &v, err) != 0)
		return -1;
	if (p->n == HTTP_PORTS_MAX) {
		e2_seterr(err, "--http-port: at most %d ports", HTTP_PORTS_MAX);
		return -1;
	}
	p->v[p->n++] = (uint16_t)v;
	return 0;
}

void http_ports_default(struct http_ports *p)
{
	if (p->n == 0) {
		p->v[p->n++] = 80;
		p->v[p->n++] = 8080;
	}
}

bool http_ports_has(const struct http_ports *p, uint16_t port)
{
	for (unsigned i = 0; i < p->n; i++)
		if (p->v[i] == port)
			return true;
	return false;
}
