/* SPDX-License-Identifier: BSD-3-Clause */
/* embark-gw's packet path without DPDK: epochs (a key + rule set + PrefixMatch maps each),
 * the flow table that pins every flow to one epoch, outbound encryption, inbound
 * decryption, TCP reassembly of outbound streams for KeywordMatch tokens and HTTP URIs,
 * and counters. One worker thread calls gwc_outbound/gwc_inbound/gwc_poll; a control
 * thread may call gwc_offer and read gwc_stats at any time. Protocol in README.md. */
#ifndef EMBARK_GWCORE_H
#define EMBARK_GWCORE_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "e2/err.h"
#include "embark.h"
#include "ext_record.h"

#define GWC_EPOCHS_LIVE 4  /* the current epoch and up to three draining ones */
#define GWC_EPOCH_SLOTS 64 /* per-epoch counters kept for the last 64 epochs */
/* The IPv6 flow label: the epoch mod 2^19 in bits 0-18; bit 19 marks a packet that made
 * extension records (published before it is sent: a middlebox that gets it first holds it
 * until its last record is in). */
#define GWC_LABEL_MASK 0x7ffffu
#define GWC_LABEL_RECORDS 0x80000u
#define GWC_KEY_ID_LEN 16 /* hex digits */

struct gwc_epoch;

/* Builds an epoch: takes ownership of keys (freed on failure too). rules/pools may be
 * NULL. Nothing is installed. */
struct gwc_epoch *gwc_epoch_new(uint32_t id, embark_keys *keys, const embark_ruleset *rules,
				const embark_poolset *pools, const embark_config *cfg, struct e2_err *err);
void gwc_epoch_free(struct gwc_epoch *ep);
uint32_t gwc_epoch_id(const struct gwc_epoch *ep);
size_t gwc_epoch_rules(const struct gwc_epoch *ep);
const char *gwc_epoch_key_id(const struct gwc_epoch *ep);
/* The epoch's encrypted rules in the text format (malloc'd) and pool values with their
 * pools (indexes into ps, the set the epoch was made with; embark_pools_encrypt_named). */
int gwc_epoch_export(struct gwc_epoch *ep, const embark_poolset *ps, char **rules_text, size_t *rules_len,
		     embark_u128 **pools, size_t **pool_of, size_t *npools, struct e2_err *err);

/* A copy of keys (wiped when freed, as every key object). */
embark_keys *gwc_keys_copy(const embark_keys *keys);
/* A key's public id: the first 8 bytes of HMAC-SHA256(master, "embark-gw key id"), hex. */
void gwc_key_id(const embark_keys *keys, char out[GWC_KEY_ID_LEN + 1]);

/* What goes out on the extension channel (ext_record.h). */
typedef void gwc_emit_fn(void *ctx, const struct ext_record *rec);

struct gwc_config {
	size_t flows;          /* flow table entries */
	uint64_t idle_ns;      /* a flow silent this long is forgotten */
	uint64_t linger_ns;    /* after RST or both FINs */
	uint64_t drain_ns;     /* an epoch replaced this long ago is retired */
	bool dpi;              /* KeywordMatch tokens of outbound TCP streams */
	bool uri;              /* encrypted URIs of HTTP requests */
	size_t dpi_flows;      /* streams reassembled at once */
	size_t km_reset_bytes; /* KeywordMatch salt reset interval */
	int km_mode;           /* EMBARK_TOKENS_WINDOW or _DELIMITER */
	/* Web-cache content (README "HTTP proxy/cache over ciphertext"): as the server's
	 * gateway, responses to GETs go out as content segments; as the client's, content
	 * segments are opened. Both ends of a gateway pair must have it. */
	bool content;
	uint32_t content_lifetime_s; /* for cacheable responses that do not say; 0: none */
	size_t web_flows;            /* connections followed at once on the server's side */
};
void gwc_config_default(struct gwc_config *cfg);

enum gwc_counter {
	GWC_ENT_RX,
	GWC_CLOUD_TX_OK,
	GWC_CLOUD_RX,
	GWC_ENT_TX_OK,
	GWC_ENT_NOT_IPV4,     /* non-IPv4 frames from the enterprise: never forwarded */
	GWC_CLOUD_NOT_EMBARK, /* not an IPv6 packet with an Embark option */
	GWC_UNKNOWN_EPOCH,    /* flow label names no live epoch */
	GWC_FLOWS_NEW,
	GWC_FLOWS_EXPIRED,
	GWC_FLOW_TABLE_FULL, /* flow not pinned: it follows the current epoch */
	GWC_FLOWS_MOVED,     /* pinned to an epoch that was retired: moved to the current one */
	GWC_EPOCH_SWITCHES,
	GWC_EPOCHS_RETIRED,
	GWC_DPI_STREAMS,
	GWC_DPI_NO_ROOM, /* more streams than dpi_flows: this one gets no tokens */
	GWC_REASM_HELD,  /* out-of-order segments held for reassembly */
	GWC_REASM_LOST,  /* out-of-order segments the buffer had no room for */
	GWC_EXT_RECORDS,
	GWC_EXT_TOKENS,
	GWC_EXT_URIS,
	GWC_EXT_UNSENT,        /* records the extension channel did not take */
	GWC_TX_DROPPED,        /* a port did not take a packet */
	GWC_NAT_ANSWERS,       /* answers to a flow a cloud NAT translated, taken back (both ends) */
	GWC_CONTENT_SEALED,    /* response segments sent as content (the server's gateway) */
	GWC_CONTENT_OPENED,    /* content segments opened (the client's gateway) */
	GWC_CONTENT_REFUSED,   /* content segments that did not open, or came with content off */
	GWC_WEB_FLOWS,         /* connections followed for content */
	GWC_WEB_NO_ROOM,       /* more than web_flows at once: this one's answers go out ordinary */
	GWC_CONTENT_TOO_BIG,   /* answer segments sent ordinary: as content they exceed the cloud MTU */
	GWC_FRAMES_TAKEN,      /* frames a cloud proxy originated, taken (see gwc_set_framer) */
	GWC_FRAMES_REFUSED,    /* refused: no frame key, a bad MAC, an unknown flow, content that does not open */
	GWC_CONTENT_UNASKED,   /* content (segment or frame) naming a URI its connection did not ask for: refused */
	GWC_CONTENT_UNCHECKED, /* content taken in a connection whose requests were not followed */
	GWC_STREAMS_CLOSED,    /* connections that ended (RST, a FIN each way): stream and web state given back */
	GWC_WEB_EVICTED,       /* web connections dropped, silent longest, to make room for a new one */
	GWC_CONTENT_SPLICED,   /* content of another instance of a URI than its response began with: refused */
	GWC_COUNTERS
};
const char *gwc_counter_name(enum gwc_counter c);

struct gwc_epoch_stats {
	uint32_t id;    /* written last; 0 = unused slot (epochs count from 1) */
	int state;      /* GWC_EP_* */
	uint32_t rules; /* written by the control side */
	char key_id[GWC_KEY_ID_LEN + 1];
	uint64_t encrypted, decrypted, flows;
};
enum { GWC_EP_FREE, GWC_EP_PREPARED, GWC_EP_CURRENT, GWC_EP_DRAINING, GWC_EP_RETIRED };

/* Written by the worker only (relaxed atomics); read from anywhere. */
struct gwc_stats {
	uint64_t c[GWC_COUNTERS];
	uint64_t enc_err[EMBARK_E_COUNT], dec_err[EMBARK_E_COUNT];
	uint32_t current_epoch;
	uint64_t flows_active;
	struct gwc_epoch_stats ep[GWC_EPOCH_SLOTS];
};

struct gwc;
/* first becomes the current epoch (owned from now on). */
struct gwc *gwc_new(const struct gwc_config *cfg, struct gwc_epoch *first, gwc_emit_fn *emit, void *emit_ctx,
		    struct e2_err *err);
void gwc_free(struct gwc *c);
struct gwc_stats *gwc_stats(struct gwc *c);

/* Control side, step 1 of a switch: hands ep to the worker, which installs it at its next
 * gwc_poll as *prepared*: packets from the cloud labelled with it are decrypted (a peer
 * gateway may already send under it), nothing is encrypted under it yet. A previously
 * prepared epoch is dropped. Returns false (ep not taken) if another offer is pending. */
bool gwc_offer(struct gwc *c, struct gwc_epoch *ep);
/* True once the worker has taken the last offer. */
bool gwc_offer_taken(struct gwc *c);
/* Takes back an offer the worker has not taken yet (NULL if it has). */
struct gwc_epoch *gwc_withdraw(struct gwc *c);
/* Step 2: the prepared epoch `id` becomes current at the worker's next gwc_poll: new flows
 * are pinned to it; flows pinned to the old one stay there until they end or the old
 * epoch's drain time is up. False if a promotion is still pending. */
bool gwc_promote(struct gwc *c, uint32_t id);
/* The current epoch, as the worker last set it. */
uint32_t gwc_current(struct gwc *c);

/* Before the worker starts: the cloud port's MTU (IPv6 bytes), which content segments must
 * fit (they are 48 bytes longer than ordinary ones); 0 = no limit. */
void gwc_set_cloud_mtu(struct gwc *c, unsigned mtu);
/* Before the worker starts: the key of a cloud proxy's frames (owned from now on; NULL:
 * frames are refused). A frame is taken only in a TCP flow this gateway sent out. */
void gwc_set_framer(struct gwc *c, embark_framer *framer);
/* Worker: counts what the caller dropped before the core saw it. */
void gwc_count(struct gwc *c, enum gwc_counter which, uint64_t n);
/* Worker: installs an offered epoch, retires drained ones, forgets idle flows. */
void gwc_poll(struct gwc *c, uint64_t now_ns);

/* A packet for the burst calls: L3 bytes in, L3 bytes out. verdict is EMBARK_OK when out
 * is to be sent; anything else is dropped (and counted). */
struct gwc_pkt {
	const uint8_t *in;
	size_t len;
	uint8_t *out;
	size_t cap;
	size_t out_len;
	int rc;
};
/* Enterprise -> cloud: IPv4 in, Embark IPv6 out (flow label = epoch). */
void gwc_outbound(struct gwc *c, struct gwc_pkt *p, size_t n, uint64_t now_ns);
/* Cloud -> enterprise: Embark IPv6 in, the original IPv4 out. */
void gwc_inbound(struct gwc *c, struct gwc_pkt *p, size_t n, uint64_t now_ns);

#endif
