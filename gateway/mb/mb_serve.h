/* SPDX-License-Identifier: BSD-3-Clause */
/* Serving a cached object in a connection embark-proxy took over on a hit (README "HTTP
 * proxy/cache over ciphertext", part 4): the object's segments at the server's sequence
 * numbers (the server's ISN + 1 + what the server had sent), whole — each is sealed as it
 * came, so none can be cut — within the client's window, then a FIN; go-back-N from the
 * first unacknowledged segment when the retransmission timer runs out (doubling from
 * 200 ms, up to 8 times, then giving up); the client's ACKs, window, data and FIN drive
 * it, and its data and FIN are acknowledged. No packets here: it says what to send. */
#ifndef EMBARK_MB_SERVE_H
#define EMBARK_MB_SERVE_H
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "mb_cache.h"

#define MB_SERVE_RTO_NS 200000000ull /* the first retransmission timeout */
#define MB_SERVE_RETRIES 8

enum mb_serve_kind {
	MB_SERVE_SEG, /* segment `seg` of the object, its data */
	MB_SERVE_FIN, /* FIN | ACK after the object */
	MB_SERVE_ACK, /* a bare ACK (of the client's data or FIN) */
};

struct mb_serve_out {
	enum mb_serve_kind kind;
	size_t seg;
	uint32_t seq, ack;
	uint8_t flags; /* TCP flags */
};

struct mb_serve {
	const struct mb_cache_obj *obj;
	uint32_t iss;      /* sequence number of the object's first byte */
	uint32_t rcv_next; /* the client's next byte: what every segment acknowledges */
	uint64_t total;    /* the object's length */
	uint64_t una, nxt; /* object offsets; total + 1 once the FIN is sent / acknowledged */
	size_t nxt_seg;    /* the segment that starts at nxt */
	uint64_t wnd;      /* the client's window in bytes */
	uint64_t rto, deadline;
	unsigned retries;
	bool ack_due;    /* the client sent data or a FIN since the last segment */
	bool client_fin; /* the client's FIN is in (rcv_next counts it) */
	bool gave_up;
};

/* After the client's request: the server's next sequence number, the client's next one
 * and its window (bytes, its scale applied). */
void mb_serve_start(struct mb_serve *s, const struct mb_cache_obj *o, uint32_t iss, uint32_t rcv_next, uint64_t wnd,
		    uint64_t now_ns);
/* A segment from the client: sequence number, payload length, ACK number (if flags has
 * ACK), window in bytes, flags. */
void mb_serve_client(struct mb_serve *s, uint32_t seq, size_t len, uint32_t ack, uint64_t wnd, uint8_t flags,
		     uint64_t now_ns);
/* What to send now, at most cap. */
size_t mb_serve_next(struct mb_serve *s, uint64_t now_ns, struct mb_serve_out *out, size_t cap);
/* The TCP header of what out says to send, from the server's port to the client's
 * (network order), window 65535, with a timestamp option (ts[0] the value, ts[1] the echo)
 * when ts is not NULL; the checksum left 0. Its length: 20, or 32 with timestamps. */
#define MB_SERVE_HDR_MAX 32
size_t mb_serve_header(const struct mb_serve_out *out, const uint8_t sport[2], const uint8_t dport[2],
		       const uint32_t *ts, uint8_t hdr[MB_SERVE_HDR_MAX]);
/* Everything sent and acknowledged and the client's FIN in, or given up. */
bool mb_serve_done(const struct mb_serve *s);
#endif
