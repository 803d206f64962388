/* SPDX-License-Identifier: BSD-3-Clause */
/* Bytestreams for native NFs (seed §3.3, Fig. 3.6): a per-flow TCP reassembler, and the
 * metadata with which e2nf-reasm hands ordered stream chunks to the stream NFs behind it.
 *
 * The reassembler never copies payload: a chunk is a pointer into the frame that carried
 * it. Frames that arrive ahead of a hole are held (bounded per flow and in total) and
 * handed back, in stream order, once the hole is filled. Every frame given to
 * e2_stream_input comes back exactly once through on_release (at once, or later when
 * held), so the caller forwards or drops frames only there.
 *
 * Overlaps, first wins: bytes already delivered or held are never replaced. A segment
 * whose overlapping bytes equal what is held is trimmed to its new bytes (a held segment
 * it covers entirely is released as a duplicate); a segment whose overlapping bytes differ
 * from held ones is dropped (an inline IPS must not let the receiver see bytes it did not
 * inspect) and counted as a conflict. Each frame thus carries at most one chunk.
 *
 * IPv4 only: the tuple is compared as given (any byte order). Not thread-safe. The library
 * has no DPDK in it; frames are opaque `void *` to it. */
#ifndef E2_NF_STREAM_H
#define E2_NF_STREAM_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "e2/err.h"

/* TCP flags as in the header's byte 13 */
#define E2_TCP_FIN 0x01
#define E2_TCP_SYN 0x02
#define E2_TCP_RST 0x04
#define E2_TCP_ACK 0x10

struct e2_stream_tuple {
	uint32_t saddr, daddr;
	uint16_t sport, dport;
};

/* A TCP segment given to the reassembler. */
struct e2_stream_pkt {
	struct e2_stream_tuple t;
	uint32_t seq;
	uint8_t flags;       /* E2_TCP_* */
	const uint8_t *data; /* the TCP payload, inside the frame */
	uint32_t len;
	void *frame; /* the caller's handle, given back by on_release */
};

struct e2_stream_flow {
	uint32_t id;                   /* (generation << 20) | slot: dense, see E2_STREAM_SLOT */
	struct e2_stream_tuple client; /* as the client (dir 0) sends */
	void *user;                    /* cfg.user_size bytes of the caller's, zeroed at start */
};
#define E2_STREAM_SLOT_BITS 20
#define E2_STREAM_SLOT(id) ((id) & ((1u << E2_STREAM_SLOT_BITS) - 1))

/* A chunk of ordered stream bytes. */
struct e2_stream_seg {
	struct e2_stream_flow *flow;
	unsigned dir;        /* 0: client to server (SYN sender; midstream: the higher port), 1: back */
	uint64_t offset;     /* stream offset of data[0]: bytes of this direction before it */
	const uint8_t *data; /* inside the frame */
	uint32_t len;        /* 0 only for a bare FIN */
	uint32_t skip;       /* data - the frame's TCP payload: the overlap trimmed off its head */
	bool fin;            /* the direction's last byte (its FIN) */
	void *frame;
};

enum e2_stream_fate {
	E2_STREAM_DELIVERED, /* its chunk went to on_stream: forward it */
	E2_STREAM_PASS,      /* no new bytes (ACK, SYN, retransmission, duplicate, not TCP data): forward it */
	E2_STREAM_DROP,      /* dropped: over a memory bound, evicted, conflicting overlap, flow gone */
};

enum e2_stream_end { E2_STREAM_END_CLOSED, E2_STREAM_END_RESET, E2_STREAM_END_IDLE, E2_STREAM_END_EVICTED };

struct e2_stream_cfg {
	unsigned max_flows;       /* flows tracked at once (≤ 2^20; the least recently seen is evicted) */
	uint32_t max_flow_bytes;  /* bytes held per flow direction ahead of a hole */
	uint64_t max_total_bytes; /* bytes held over all flows */
	unsigned max_held_frames; /* frames held over all flows */
	uint64_t idle_ns;         /* a flow unseen this long ends (e2_stream_expire) */
	size_t user_size;         /* bytes of the caller's per flow (flow->user) */
	void *ctx;                /* given to the callbacks */
	void (*on_stream)(void *ctx, const struct e2_stream_seg *seg);
	void (*on_release)(void *ctx, void *frame, enum e2_stream_fate fate, struct e2_stream_flow *flow);
	/* after the flow's held frames were released and before its slot is reused; may be NULL */
	void (*on_flow_end)(void *ctx, struct e2_stream_flow *flow, enum e2_stream_end why);
};

#define E2_STREAM_CFG_INIT                                                                      \
	{                                                                                       \
		.max_flows = 65536, .max_flow_bytes = 256 * 1024, .max_total_bytes = 64u << 20, \
		.max_held_frames = 32768, .idle_ns = 120ull * 1000000000u                       \
	}

/* The command-line options of a stream NF's reassembly limits (--flows, --flow-bytes,
 * --total-bytes, --held-frames, --idle-timeout SECONDS), for an e2nf_args table and
 * handler: e2nf_stream_option sets cfg from option c: 1 handled, 0 not one of these,
 * -1 bad. */
#define E2NF_STREAM_OPTIONS                                                                                   \
	{"flows", required_argument, NULL, 'f'}, {"flow-bytes", required_argument, NULL, 'b'},                \
		{"total-bytes", required_argument, NULL, 't'}, {"held-frames", required_argument, NULL, 'H'}, \
	{                                                                                                     \
		"idle-timeout", required_argument, NULL, 'i'                                                  \
	}
int e2nf_stream_option(int c, const char *arg, struct e2_stream_cfg *cfg, struct e2_err *err);

struct e2_stream_stats {
	uint64_t segments, delivered_bytes, in_order, out_of_order, retransmits, duplicates, overlaps, conflicts;
	uint64_t flows, flows_active, flows_closed, flows_reset, flows_expired, flows_evicted, midstream;
	uint64_t held_frames, held_bytes, held_bytes_max, dropped_flow_limit, dropped_window, evictions;
	uint64_t evicted_frames;
};

struct e2_stream;

struct e2_stream *e2_stream_create(const struct e2_stream_cfg *cfg, struct e2_err *err);
/* Ends every flow: held frames are released as drops. */
void e2_stream_destroy(struct e2_stream *s);
/* One segment; its frame comes back through on_release (now or later). */
void e2_stream_input(struct e2_stream *s, const struct e2_stream_pkt *p, uint64_t now_ns);
/* For a caller with a burst: fetches into the cache what e2_stream_input reads first for
 * each packet's flow (its hash bucket, then its entry), for all n before the first goes
 * in, so that the cache misses of a burst overlap instead of following one another.
 * Changes nothing; the packets are then put in one by one, in order, as without it. */
void e2_stream_prefetch(const struct e2_stream *s, const struct e2_stream_pkt *const *p, unsigned n);
/* Ends the flows idle for cfg.idle_ns. */
void e2_stream_expire(struct e2_stream *s, uint64_t now_ns);
void e2_stream_get_stats(const struct e2_stream *s, struct e2_stream_stats *st);
/* The counters as `key=value` lines with a prefix ("reasm_"), appended to buf. */
void e2_stream_format_stats(const struct e2_stream *s, const char *prefix, char *buf, size_t len);

/* --- what e2nf-reasm tells the stream NFs behind it ---
 * Every TCP frame that leaves e2nf-reasm carries the attribute `t64` (E2NF_STREAM_ATTR)
 * of E2NF_STREAM_META_LEN bytes, big-endian: flow id (4), stream offset of the chunk
 * (8), at: where the chunk begins, counted from the inner frame's first byte
 * (e2nf_inner_offset), so that a stream NF need not parse IP and TCP (2), len (2),
 * flags (1: dir, fin, the direction's first chunk, no flow). len 0: nothing new for a
 * stream NF (an ACK, a retransmission, a frame of no flow). With --flow-id-attr it also
 * carries `flow_id` for NFs (or e2d's nsh_match) that only want that. A flow id is dense: E2_STREAM_SLOT(id) is below
 * e2nf-reasm's --flows, so a stream NF keeps its per-flow state in an array by slot and
 * knows a new flow in that slot by the id changing. */
#define E2NF_STREAM_ATTR "t64"
#define E2NF_STREAM_META_LEN 17
#define E2NF_STREAM_F_DIR 0x01
#define E2NF_STREAM_F_FIN 0x02
#define E2NF_STREAM_F_START 0x04
#define E2NF_STREAM_F_NOFLOW 0x08

struct e2nf_stream_meta {
	uint32_t flow_id;
	uint64_t offset;
	uint16_t at, len;
	uint8_t flags;
};

void e2nf_stream_meta_encode(const struct e2nf_stream_meta *m, uint8_t out[E2NF_STREAM_META_LEN]);
void e2nf_stream_meta_decode(const uint8_t in[E2NF_STREAM_META_LEN], struct e2nf_stream_meta *m);

#endif
