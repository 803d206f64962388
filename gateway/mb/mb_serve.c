/* SPDX-License-Identifier: BSD-3-Clause */
/* A cached object served over TCP in a taken-over connection (mb_serve.h). */
#include "mb_serve.h"

#include <string.h>

#include "e2/bytes.h"

#define TCP_FIN 0x01
#define TCP_PSH 0x08
#define TCP_ACK 0x10

void mb_serve_start(struct mb_serve *s, const struct mb_cache_obj *o, uint32_t iss, uint32_t rcv_next, uint64_t wnd,
		    uint64_t now)
{
	memset(s, 0, sizeof *s);
	s->obj = o;
	s->iss = iss;
	s->rcv_next = rcv_next;
	s->total = o->bytes;
	s->wnd = wnd;
	s->rto = MB_SERVE_RTO_NS;
	s->deadline = now + s->rto;
}

/* The first segment at or after offset off (a segment boundary, or nsegs past the end):
 * the segments are in offset order, so a search, not a walk, on every ACK of a long object. */
static size_t seg_at(const struct mb_serve *s, uint64_t off)
{
	size_t lo = 0, hi = s->obj->nsegs;
	while (lo < hi) {
		size_t mid = lo + (hi - lo) / 2;
		if (s->obj->segs[mid].ci.seg.offset < off)
			lo = mid + 1;
		else
			hi = mid;
	}
	return lo;
}

void mb_serve_client(struct mb_serve *s, uint32_t seq, size_t len, uint32_t ack, uint64_t wnd, uint8_t flags,
		     uint64_t now)
{
	if (flags & TCP_ACK) {
		uint64_t off = (uint32_t)(ack - s->iss); /* bytes (and the FIN) acknowledged */
		if (off > s->una && off <= s->nxt) {
			s->una = off;
			s->retries = 0;
			s->rto = MB_SERVE_RTO_NS;
			s->deadline = now + s->rto;
		}
		s->wnd = wnd;
	}
	/* the client's bytes in order (a new request we cannot answer, or its FIN): taken and
	 * acknowledged, so that it does not resend them while the object goes out */
	if (seq == s->rcv_next && (len || (flags & TCP_FIN))) {
		s->rcv_next += (uint32_t)len;
		if ((flags & TCP_FIN) && !s->client_fin) {
			s->rcv_next++;
			s->client_fin = true;
		}
		s->ack_due = true;
	} else if (len || (flags & TCP_FIN)) {
		s->ack_due = true; /* old or out of order: say where we are */
	}
}

size_t mb_serve_next(struct mb_serve *s, uint64_t now, struct mb_serve_out *out, size_t cap)
{
	size_t n = 0;
	if (s->gave_up || cap == 0)
		return 0;
	if (s->una < s->nxt && now >= s->deadline) {
		if (++s->retries > MB_SERVE_RETRIES) {
			s->gave_up = true;
			return 0;
		}
		s->nxt = s->una; /* go back N */
		s->rto *= 2;
		s->deadline = now + s->rto;
	}
	if (s->nxt_seg >= s->obj->nsegs || s->obj->segs[s->nxt_seg].ci.seg.offset != s->nxt)
		s->nxt_seg = seg_at(s, s->nxt); /* gone back (go-back-N): find where */
	while (n < cap && s->nxt_seg < s->obj->nsegs) {
		const struct mb_cache_seg *g = &s->obj->segs[s->nxt_seg];
		uint64_t end = g->ci.seg.offset + g->len;
		/* within the window; a zero window still lets one segment out when the timer
		 * runs out with nothing in flight (a probe) */
		bool probe = s->una == s->nxt && now >= s->deadline;
		if (end - s->una > s->wnd && !probe)
			break;
		bool last = s->nxt_seg + 1 == s->obj->nsegs;
		out[n++] = (struct mb_serve_out){.kind = MB_SERVE_SEG,
						 .seg = s->nxt_seg,
						 .seq = s->iss + (uint32_t)g->ci.seg.offset,
						 .ack = s->rcv_next,
						 .flags = (uint8_t)(TCP_ACK | (last ? TCP_PSH : 0))};
		if (s->una == s->nxt)
			s->deadline = now + s->rto;
		s->nxt = end;
		s->nxt_seg++;
		s->ack_due = false;
		if (probe)
			break;
	}
	if (n < cap && s->nxt == s->total) {
		out[n++] = (struct mb_serve_out){.kind = MB_SERVE_FIN,
						 .seq = s->iss + (uint32_t)s->total,
						 .ack = s->rcv_next,
						 .flags = TCP_FIN | TCP_ACK};
		if (s->una == s->nxt)
			s->deadline = now + s->rto;
		s->nxt = s->total + 1;
		s->ack_due = false;
	}
	if (n < cap && s->ack_due) {
		out[n++] = (struct mb_serve_out){
			.kind = MB_SERVE_ACK, .seq = s->iss + (uint32_t)s->nxt, .ack = s->rcv_next, .flags = TCP_ACK};
		s->ack_due = false;
	}
	return n;
}

bool mb_serve_done(const struct mb_serve *s)
{
	return s->gave_up || (s->una == s->total + 1 && s->client_fin && !s->ack_due);
}

size_t mb_serve_header(const struct mb_serve_out *out, const uint8_t sport[2], const uint8_t dport[2],
		       const uint32_t *ts, uint8_t hdr[MB_SERVE_HDR_MAX])
{
	size_t len = ts ? 32 : 20;
	memset(hdr, 0, len);
	memcpy(hdr, sport, 2);
	memcpy(hdr + 2, dport, 2);
	e2_put_be32(hdr + 4, out->seq);
	e2_put_be32(hdr + 8, out->ack);
	hdr[12] = (uint8_t)(len / 4 << 4);
	hdr[13] = out->flags;
	e2_put_be16(hdr + 14, 0xffff);
	if (ts) {
		hdr[20] = hdr[21] = 1; /* NOP NOP: the value on a 4-byte boundary */
		hdr[22] = 8;
		hdr[23] = 10;
		e2_put_be32(hdr + 24, ts[0]);
		e2_put_be32(hdr + 28, ts[1]);
	}
	return len;
}
