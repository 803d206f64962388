/* SPDX-License-Identifier: BSD-3-Clause */
/* The HTTP/1.x request parser e2nf-httplog and e2nf-urlclass share, and the URL both
 * make of a request (host + path, the value of the `url` attribute). Per packet: a
 * request whose request line does not fit in one TCP segment is reported as partial,
 * not reassembled. No DPDK here, so the unit tests and fuzzers take it alone. */
#ifndef E2NF_HTTP_REQ_H
#define E2NF_HTTP_REQ_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "e2/err.h"

/* The longest URL put in the `url` attribute. A frame without NSH gets its header in
 * the mbuf's 128 bytes of headroom: Ethernet 14 + NSH 8 + url TLV 4 + 92 leaves 10 for
 * the category TLV (tclass: 4 + 4) that e2nf-urlclass adds behind it. */
#define HTTP_URL_MAX 92
#define HTTP_TARGET_MAX 8192 /* a longer request target is refused, not truncated */

enum http_req_status {
	HTTP_REQ_OK,      /* request line complete (Host, if found, in host) */
	HTTP_REQ_NOT,     /* does not begin with a known method and a space */
	HTTP_REQ_PARTIAL, /* a valid beginning of a request line that the payload cuts short */
	HTTP_REQ_BAD,     /* a known method, then something no HTTP/1.x request line has */
};

struct http_req {
	const char *method, *target, *host; /* into the payload; host NULL if not seen */
	size_t method_len, target_len, host_len;
	unsigned minor; /* HTTP/1.minor */
	bool headers_complete;
};

enum http_req_status http_req_parse(const uint8_t *p, size_t len, struct http_req *r);

/* The request's URL, host (lower case, without :port; from an absolute-form target or
 * the Host header) then the path (origin-form target, or the path of an absolute-form
 * one), cut to HTTP_URL_MAX bytes. Writes a NUL; returns its length (0: no URL). */
size_t http_req_url(const struct http_req *r, char url[HTTP_URL_MAX + 1]);

/* A TCP segment in an Ethernet (+ optional 802.1Q) IPv4 frame. */
struct http_tcp {
	uint32_t saddr, daddr; /* network order */
	uint16_t sport, dport; /* host order */
	uint8_t flags;
	const uint8_t *payload;
	size_t payload_len;
};
/* 1 a TCP segment (first fragment or unfragmented), 0 anything else. */
int http_tcp_parse(const uint8_t *frame, size_t len, struct http_tcp *t);

/* The TCP ports an NF takes for HTTP (--http-port P, repeatable; none given: 80 and
 * 8080). */
#define HTTP_PORTS_MAX 16
struct http_ports {
	uint16_t v[HTTP_PORTS_MAX];
	unsigned n;
};
/* Adds --http-port's argument: 0, or -1 with err. */
int http_ports_add(struct http_ports *p, const char *arg, struct e2_err *err);
/* The defaults if none was added. */
void http_ports_default(struct http_ports *p);
bool http_ports_has(const struct http_ports *p, uint16_t port);

#define HTTP_TCP_FIN 0x01
#define HTTP_TCP_SYN 0x02
#define HTTP_TCP_RST 0x04

#endif
