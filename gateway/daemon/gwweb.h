/* SPDX-License-Identifier: BSD-3-Clause */
/* One HTTP connection as the gateway on its server's side (B) follows it for the web
 * cache (README "HTTP proxy/cache over ciphertext", part 2): the requests that reach the
 * server, each GET's URI id and content key, and the responses coming back, so that each
 * response segment that lies inside one response to a GET goes out as a content segment
 * with its place (tag, offset, last, cacheability). Both directions are followed in
 * sequence order only: a retransmission is left alone (it goes out ordinary), a gap
 * stops the following for good (everything after goes out ordinary), as does anything
 * the HTTP/1.x framing cannot delimit. No packet is held or changed. */
#ifndef EMBARK_GWWEB_H
#define EMBARK_GWWEB_H
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "embark.h"

struct gw_web;

struct gw_web *gw_web_new(void);
void gw_web_free(struct gw_web *w); /* NULL is fine */
/* The client's SYN and the server's SYN-ACK: where each direction's bytes begin. */
void gw_web_client_syn(struct gw_web *w, uint32_t seq);
void gw_web_server_syn(struct gw_web *w, uint32_t seq);
/* Whether following began at a client SYN of sequence number seq and no request byte has
 * come since (that SYN again is a retransmission, not a new connection). */
bool gw_web_opened_by(const struct gw_web *w, uint32_t seq);
/* A segment of the client's bytes (as decrypted, on its way to the server). keys: the
 * epoch the flow is pinned to, for the URI ids and content keys. */
void gw_web_request(struct gw_web *w, const embark_keys *keys, uint32_t seq, const uint8_t *p, size_t n);
/* A segment of the server's bytes, before it is encrypted: true when it is to go out as a
 * content segment, ci then filled (its key belongs to w and stays valid until the next
 * gw_web_request or gw_web_free). default_lifetime_s: for cacheable responses that do not
 * say (0: only those that say are cacheable). */
bool gw_web_response(struct gw_web *w, uint32_t seq, const uint8_t *p, size_t n, uint32_t default_lifetime_s,
		     embark_content_info *ci);
/* Following stopped (a gap, an undelimitable message, too many requests waiting). */
bool gw_web_broken(const struct gw_web *w);
#endif
