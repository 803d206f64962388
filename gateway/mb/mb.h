/* SPDX-License-Identifier: BSD-3-Clause */
/* What the Embark middleboxes (embark-fw, -nat, -lb, -parental, -ids) share: a frame's
 * 5-tuple whether it is plain IPv4 or Embark IPv6 (so one binary serves both), the places
 * a NAT or load balancer rewrites, a flow table keyed on the symmetric 5-tuple, address
 * lists (plain pools or encrypted pool values) and URI lists, and the extension-channel
 * records that arrive as frames of their own (EtherType MB_EXT_ETHERTYPE). No DPDK here
 * but in mb_frame_of; the parsers are plain C for the tests and fuzzers. */
#ifndef EMBARK_MB_H
#define EMBARK_MB_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "e2/err.h"
#include "embark.h"
#include "ext_record.h"

/* Extension-channel records carried as frames (IEEE local experimental EtherType 1):
 * Ethernet header, then one serialized e2.embark.ExtRecord. */
#define MB_EXT_ETHERTYPE 0x88b5

/* Symmetric flow key: the two ends in a fixed order, and the key's hash (computed once,
 * with the key; equal keys have equal hashes, so comparing whole keys stays right). */
struct mb_flow_key {
	embark_u128 a, b;
	uint16_t pa, pb;
	uint8_t proto;
	uint8_t pad[3];
	uint64_t hash;
};
void mb_flow_key(const embark_key5 *k, struct mb_flow_key *f, bool *swapped);

/* A parsed frame: L3 bytes and the places a header rewrite touches. */
struct mb_pkt {
	uint8_t *l3;
	size_t l3_len;
	bool v6;         /* Embark IPv6 (else IPv4) */
	embark_key5 key; /* addresses as 128-bit (IPv4 mapped) */
	uint8_t *saddr;  /* 4 or 16 bytes in the frame */
	uint8_t *daddr;
	uint8_t *ports;   /* sport, dport; NULL without ports */
	uint8_t *l4_csum; /* TCP/UDP checksum; NULL if none (or UDP checksum 0 on IPv4) */
	uint8_t *l4;      /* transport header */
	size_t l4_len;
	/* the flow key of `key` as parsed (a rewrite changes `key`, not this): computed once
	 * for a middlebox's prefetch and its decision */
	struct mb_flow_key flow;
	/* set when deciding: the flow this packet's extension records named, if that is not
	 * `flow` (a NAT between the gateway and here rewrote the packet; mb_hold) */
	const struct mb_flow_key *rec_flow;
	/* the gateway marked it as having made extension records (flow label bit 19), and
	 * the option's nonce that names it in them */
	bool marked;
	uint32_t nonce;
};
/* Parses the L3 packet at l3: 0 ok, -1 malformed/truncated, 1 not IP. */
int mb_parse_l3(uint8_t *l3, size_t len, int ethertype, struct mb_pkt *p);

/* Rewrites: the address or port in place with incremental checksum updates. addr is 4
 * bytes (IPv4) or 16 (IPv6), network order. */
void mb_set_addr(struct mb_pkt *p, bool dst, const uint8_t *addr);
void mb_set_port(struct mb_pkt *p, bool dst, uint16_t port_be);
/* An address as the packet holds it: 16 bytes (IPv6), or the IPv4-mapped value's last 4. */
void mb_addr_bytes(bool v6, embark_u128 v, uint8_t out[16]);
/* Starts fetching, for writing, the transport checksum a rewrite updates: on an Embark
 * frame it lies past the 48-byte option, in the frame's second cache line. */
static inline void mb_pkt_prefetch_rewrite(const struct mb_pkt *p)
{
	if (p->l4_csum)
		__builtin_prefetch(p->l4_csum, 1);
}

/* An open-addressing flow table with per-entry state of `val_size` bytes; entries unseen
 * for idle_ns are reused. */
struct mb_flows;
struct mb_flows *mb_flows_new(size_t cap, size_t val_size, uint64_t idle_ns);
void mb_flows_free(struct mb_flows *t);
/* The flow's state, or NULL. */
void *mb_flows_find(struct mb_flows *t, const struct mb_flow_key *k, uint64_t now);
/* Finds or adds (zeroed state, *fresh set); NULL when full. */
void *mb_flows_add(struct mb_flows *t, const struct mb_flow_key *k, uint64_t now, bool *fresh);
size_t mb_flows_count(const struct mb_flows *t, uint64_t now);
/* Starts fetching the slot a lookup of k probes first (a hint: nothing changes). */
void mb_flows_prefetch(const struct mb_flows *t, const struct mb_flow_key *k);
/* The same by the key's hash alone (mb_flow_key's `hash`). */
void mb_flows_prefetch_hash(const struct mb_flows *t, uint64_t hash);
/* The live flow's state without touching it (no refresh, no expiry): for hints. */
const void *mb_flows_peek(const struct mb_flows *t, const struct mb_flow_key *k, uint64_t now);
/* fn(ctx, state) is called with an expired entry's state before the entry is reused, and
 * on free. */
void mb_flows_on_evict(struct mb_flows *t, void (*fn)(void *ctx, void *val), void *ctx);
/* A decision taken on the flow a packet's records named carries over to the packet's own
 * flow when a NAT on the way rewrote it (p->rec_flow): if that flow's state has the bool at
 * flag_off set (blocked, dropping), the packet's flow gets it too and true is returned
 * (*full: no entry could be made for it; the packet is decided so all the same). */
bool mb_flows_carry(struct mb_flows *t, const struct mb_pkt *p, uint64_t now, size_t flag_off, bool *full);

/* Address lists: `pool NAME ADDRS` lines (plain, embark's pool format) expanded to their
 * addresses, or an encrypted pool file (`NAME HEX` lines as embark-rules --pools-out and
 * embark-gwctl --pools-out write them, or bare 32-hex-digit values). `pool` not NULL:
 * only that pool's addresses (none: refused). Addresses come back as 128-bit values (IPv4
 * mapped). */
struct mb_addrs {
	embark_u128 *v;
	size_t n;
	bool encrypted;
};
int mb_addrs_parse(const char *text, size_t len, const char *origin, const char *pool, struct mb_addrs *out,
		   struct e2_err *err);
int mb_addrs_load(const char *path, const char *pool, struct mb_addrs *out, struct e2_err *err);
void mb_addrs_free(struct mb_addrs *a);

/* URI lists: a plain URI per line (host + path, as the gateway extracts them), or with
 * `enc ` in front the hex of its encryption (embark-mb-prep uris). Sorted for search. */
struct mb_uri {
	uint8_t *b;
	size_t len;
};
struct mb_uris {
	struct mb_uri *v;
	size_t n;
};
int mb_uris_parse(const char *text, size_t len, const char *origin, struct mb_uris *out, struct e2_err *err);
int mb_uris_load(const char *path, struct mb_uris *out, struct e2_err *err);
bool mb_uris_has(const struct mb_uris *u, const uint8_t *b, size_t len);
void mb_uris_free(struct mb_uris *u);

/* Per-epoch state (a firewall's rules, a NAT's pool values, an IDS's keywords, a
 * blocklist): embark-gw's rule updates and key rotations change all of them, and the
 * gateway labels every Embark packet with its epoch (the IPv6 flow label, the epoch mod
 * 2^19), so a middlebox decides each packet by that epoch's state only and nothing meets
 * a mix of two maps. Plain IPv4 has no label: it goes by the epoch loaded last. At most
 * MB_EPOCHS are loaded (the gateway keeps current, prepared and two draining). */
#define MB_EPOCHS 4
#define MB_LABEL_MASK 0x7ffffu
/* Flow label bit 19: the packet made extension records, published before it was sent
 * (gwcore.h GWC_LABEL_RECORDS). */
#define MB_LABEL_RECORDS 0x80000u

struct mb_epochs {
	/* set by the middlebox before the first load */
	const char *verb; /* the control word that loads an epoch: rules, pools, ... */
	size_t size;      /* of one epoch's state, which mb_epochs allocates */
	/* fills data (zeroed) from path: 0, or -1 with err; clear is then called all the same */
	int (*load)(void *ctx, void *data, const char *path, struct e2_err *err);
	void (*clear)(void *data);                                /* frees what load put in data (not data itself) */
	int (*describe)(const void *data, char *buf, size_t len); /* "12 rule lines" */
	void *ctx;
	/* the loaded epochs; id 0: a free slot */
	struct {
		uint32_t id;
		uint64_t loaded; /* order of loading */
		void *data;
	} e[MB_EPOCHS];
	uint64_t loads;
};
/* Loads `path` as epoch `id`, replacing what that epoch had; refused (nothing changes)
 * if the file is bad or MB_EPOCHS other epochs are loaded. */
int mb_epochs_load(struct mb_epochs *s, uint32_t id, const char *path, struct e2_err *err);
/* The state an Embark packet's label names, or for plain IPv4 the newest; NULL: none. */
void *mb_epochs_of(const struct mb_epochs *s, const struct mb_pkt *p);
/* The state of epoch `id` (an extension record's epoch), or NULL. */
void *mb_epochs_get(const struct mb_epochs *s, uint32_t id);
/* The newest state (plain traffic, plain records). */
void *mb_epochs_newest(const struct mb_epochs *s);
/* The epoch control words: `VERB EPOCH FILE`, `retire EPOCH`, `epochs`. 0 done, -1
 * refused (why in reply), 1 not one of them. */
int mb_epochs_control(struct mb_epochs *s, const char *line, char *reply, size_t len);
void mb_epochs_fini(struct mb_epochs *s);
/* The epoch label an Embark packet carries (0 for IPv4). */
static inline uint32_t mb_pkt_label(const struct mb_pkt *p)
{
	return p->v6 ? ((uint32_t)(p->l3[1] & 15) << 16 | (uint32_t)p->l3[2] << 8 | p->l3[3]) & MB_LABEL_MASK : 0;
}
/* Whether the gateway marked the packet as having made extension records. */
static inline bool mb_pkt_has_records(const struct mb_pkt *p)
{
	return p->marked;
}

/* The live channel's race. embark-gw publishes a packet's extension records before it
 * sends the packet, but the two travel different ways (nanomsg vs e2d's rings), so a
 * record can come after its packet. The gateway marks a packet that made records (flow
 * label bit 19) and every record names its packet (option nonce) and says whether it is
 * that packet's last, so a middlebox that decides on records holds a marked packet until
 * its last record is in, or wait_ns at most (then it goes on undecided by them, `late`),
 * and a flow's later packets behind it, in order. At most cap packets wait: beyond that
 * the oldest goes on as late (`overflow`). */
struct mb_hold;
struct mb_hold_stats {
	uint64_t held, released, late, overflow, wait_max_ns;
};
/* A packet's turn: `late` if its records did not come in time. */
typedef void mb_hold_fn(void *ctx, void *item, unsigned port, struct mb_pkt *p, bool late);
/* wait_ns 0: nothing ever waits; the records' flows are still kept (mb_hold_rec_flow). */
struct mb_hold *mb_hold_new(size_t cap, uint64_t wait_ns);
/* Hands everything still waiting to fn, as late (before the ports close). */
void mb_hold_flush(struct mb_hold *h, mb_hold_fn *fn, void *ctx);
/* Frees; nothing may be waiting (mb_hold_flush). */
void mb_hold_free(struct mb_hold *h);
/* Before a packet is decided: true if it must wait (h keeps item and a copy of p, whose
 * pointers into the frame must stay valid), false to decide it now. May let the oldest
 * waiting packet go through fn when full. */
bool mb_hold_admit(struct mb_hold *h, struct mb_pkt *p, void *item, unsigned port, uint64_t now, mb_hold_fn *fn,
		   void *ctx);
/* The last record of the packet with this nonce is in (after the record was taken); the
 * flow it named is kept for mb_hold_rec_flow. */
void mb_hold_record(struct mb_hold *h, uint32_t nonce, const embark_key5 *rec_key);
/* The flow a marked packet's records named (its last record is in), if not the packet's
 * own flow: what a middlebox decided on the records' flow holds for this one too. */
const struct mb_flow_key *mb_hold_rec_flow(const struct mb_hold *h, const struct mb_pkt *p);
/* Lets go, in arrival order per flow, every packet whose records are in or whose wait is
 * over. */
void mb_hold_release(struct mb_hold *h, uint64_t now, mb_hold_fn *fn, void *ctx);
size_t mb_hold_count(const struct mb_hold *h);
const struct mb_hold_stats *mb_hold_stats(const struct mb_hold *h);
/* The option nonce of a marked packet; false if it is not one. */
static inline bool mb_pkt_nonce(const struct mb_pkt *p, uint32_t *nonce)
{
	*nonce = p->nonce;
	return p->marked;
}

/* An extension record taken from a frame's payload (after the Ethernet header) or the
 * channel: the record as ext_record_decode gives it (its tokens, offsets and URI in the
 * codec's buffers until the codec's next record) and the flow it names as a 5-tuple. */
struct mb_ext {
	uint32_t epoch;
	embark_key5 key; /* the flow as the cloud sees it */
	uint64_t salt0;
	size_t ntokens;
	const uint64_t *tokens, *offsets; /* NULL from a wire-only codec (the runner's) */
	const uint8_t *token_wire;        /* the wire form, always (embark_tokens_wire_init) */
	size_t token_wire_len, runs_len;
	const uint8_t *runs;
	const uint8_t *uri; /* NULL if none */
	size_t uri_len;
	uint32_t packet_nonce; /* the packet that made the record (its option nonce) */
	bool packet_last;      /* the last record it made: the packet may be decided */
};
int mb_ext_decode(struct ext_codec *c, const uint8_t *b, size_t len, struct mb_ext *x, struct e2_err *err);
/* The 37-byte flow id of a 5-tuple (addresses 16 bytes each, ports, proto). */
void mb_flow_id(const embark_key5 *k, uint8_t out[EXT_FLOW_ID_LEN]);

#endif
