/* SPDX-License-Identifier: BSD-3-Clause */
/* libembark: Embark (seed ch. 4) — encrypted traffic that cloud middleboxes can still process.
 *
 *   keys        a 32-byte master key in a 0600 file; subkeys derived with HKDF-SHA256
 *   PrefixMatch interval maps for addresses (128-bit) and ports (16-bit), EncryptValue
 *   rules       firewall rule text format, parser, encryption, a <=/>= first-match classifier
 *   transform   IPv4 -> encrypted IPv6 (and back), originals sealed in a Destination Option
 *   KeywordMatch BlindBox tokens, salts and the middlebox matcher; AES-SIV for URIs
 *
 * Every function that can fail on input returns an error code and, where given, writes a
 * message naming the culprit into err[errlen].  Nothing here logs key material. */
#ifndef EMBARK_H
#define EMBARK_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>

typedef unsigned __int128 embark_u128;

/* ---------- errors (packet-level errors are also counted per gateway) ---------- */
enum embark_err {
	EMBARK_OK = 0,
	EMBARK_E_MALFORMED,   /* not a well-formed packet of the expected kind */
	EMBARK_E_TRUNCATED,   /* shorter than its own length fields say */
	EMBARK_E_FRAGMENT,    /* IPv4 fragments are refused (reassemble before the gateway) */
	EMBARK_E_UNSUPPORTED, /* e.g. trailer too long to seal */
	EMBARK_E_TOO_BIG,     /* output buffer too small */
	EMBARK_E_NO_OPTION,   /* decrypt: no Embark destination option */
	EMBARK_E_TAMPERED,    /* decrypt: authentication of the option/payload failed */
	EMBARK_E_REWRITTEN,   /* decrypt: a field holds neither its encryption nor a pool value */
	EMBARK_E_CRYPTO,      /* OpenSSL failure */
	EMBARK_E_CONTENT,     /* decrypt: a web-cache content segment the caller cannot take */
	EMBARK_E_COUNT
};
const char *embark_strerror(int err);

/* ---------- keys ---------- */
#define EMBARK_MASTER_KEY_LEN 32
typedef struct embark_keys embark_keys;
/* Writes a fresh random key to path (mode 0600, refuses to overwrite). */
int embark_keygen_file(const char *path, char *err, size_t errlen);
/* Loads a key file; refuses files readable or writable by group/other. */
embark_keys *embark_keys_load(const char *path, char *err, size_t errlen);
embark_keys *embark_keys_from_master(const uint8_t master[EMBARK_MASTER_KEY_LEN]);
void embark_keys_free(embark_keys *keys); /* wipes */

/* ---------- PrefixMatch ---------- */
typedef struct {
	embark_u128 lo, hi;
} embark_range; /* inclusive */
typedef struct embark_pm embark_pm;
/* EncryptPrefixes over `bits`-wide values (128 or 16).  The interval values are random but
 * derived from the key and the endpoint set, so every gateway with the same key and rules
 * builds the same map.  prefix_len is raised when the rules need more distinct values. */
embark_pm *embark_pm_build(const embark_keys *keys, int bits, int prefix_len, const embark_range *ranges, size_t n,
			   char *err, size_t errlen);
void embark_pm_free(embark_pm *pm);
int embark_pm_prefix_len(const embark_pm *pm);
int embark_pm_bits(const embark_pm *pm);
size_t embark_pm_intervals(const embark_pm *pm);
size_t embark_pm_memory(const embark_pm *pm);
/* Ibar: the encrypted prefix of the interval holding v (binary search). */
uint64_t embark_pm_lookup(const embark_pm *pm, embark_u128 v);
/* The encrypted prefixes of range r, sorted, deduplicated; returns the count (may exceed
 * cap, in which case only cap are written). */
size_t embark_pm_encrypt_range(const embark_pm *pm, embark_range r, uint64_t *out, size_t cap);
/* An encrypted prefix as an inclusive range of encrypted values. */
embark_range embark_pm_prefix_range(const embark_pm *pm, uint64_t ibar);

/* ---------- rules ---------- */
enum { EMBARK_ACCEPT = 0, EMBARK_DENY = 1 };
#define EMBARK_PROTO_ANY (-1)
#define EMBARK_ID_MAX 32
/* Lines of a rule file (an encrypted rule is several lines, one per prefix pair). */
#define EMBARK_RULE_LINES_MAX 1000000
#define EMBARK_KEYWORDS_MAX 100000
typedef struct {
	char id[EMBARK_ID_MAX];
	int64_t prio; /* lower matches first; ties: file order */
	int action;
	int proto;             /* 0..255 or EMBARK_PROTO_ANY */
	embark_range src, dst; /* 128-bit; IPv4 as ::ffff:a.b.c.d */
	embark_range sport, dport;
	bool src_any, dst_any, sport_any, dport_any;
	int line;
} embark_rule;
typedef struct {
	embark_rule *v;
	size_t n;
} embark_ruleset;
/* Parses the text format (gateway/README.md); `name` is used in messages. */
int embark_rules_parse(const char *text, size_t len, const char *name, embark_ruleset *out, char *err, size_t errlen);
int embark_rules_load(const char *path, embark_ruleset *out, char *err, size_t errlen);
void embark_ruleset_free(embark_ruleset *rs);
int embark_rules_write(FILE *f, const embark_ruleset *rs, const char *header_comment);

/* ---------- pools (NAT / load-balancer address pools) ---------- */
typedef struct {
	char name[EMBARK_ID_MAX];
	embark_range r;
	int line;
} embark_pool;
typedef struct {
	embark_pool *v;
	size_t n;
} embark_poolset;
int embark_pools_parse(const char *text, size_t len, const char *name, embark_poolset *out, char *err, size_t errlen);
int embark_pools_load(const char *path, embark_poolset *out, char *err, size_t errlen);
void embark_poolset_free(embark_poolset *ps);
#define EMBARK_POOL_MAX_ADDRS 65536

/* ---------- gateway: PrefixMatch maps + transform state ---------- */
typedef struct {
	int addr_prefix_len;  /* default 16 */
	int port_prefix_len;  /* default 8 */
	bool encrypt_payload; /* default true; false = header-only */
} embark_config;
void embark_config_default(embark_config *cfg);

typedef struct embark_gw embark_gw;
/* rules/pools may be NULL (no rules / no pools).  Copies what it needs. */
embark_gw *embark_gw_new(const embark_keys *keys, const embark_ruleset *rules, const embark_poolset *pools,
			 const embark_config *cfg, char *err, size_t errlen);
void embark_gw_free(embark_gw *gw);
const embark_pm *embark_gw_addr_pm(const embark_gw *gw);
const embark_pm *embark_gw_port_pm(const embark_gw *gw);

typedef struct {
	uint32_t sip, dip;
	uint16_t sport, dport;
	uint8_t proto;
} embark_tuple4;
/* seed = PRF_k(5-tuple); symmetric in the two endpoints so both directions agree. */
void embark_flow_seed(embark_gw *gw, const embark_tuple4 *t, uint8_t seed[16]);
/* EncryptValue for one address / port under a flow seed. */
embark_u128 embark_encrypt_addr(embark_gw *gw, const uint8_t seed[16], embark_u128 v);
uint16_t embark_encrypt_port(embark_gw *gw, const uint8_t seed[16], uint16_t port);
/* All four header values of a flow at once (one batched AES call). */
void embark_encrypt_tuple(embark_gw *gw, const embark_tuple4 *t, embark_u128 *esip, embark_u128 *edip, uint16_t *esport,
			  uint16_t *edport);
static inline embark_u128 embark_v4mapped(uint32_t a)
{
	return ((embark_u128)0xffff << 32) | a;
}

/* Rule encryption: each rule becomes one rule per combination of encrypted prefixes. */
int embark_rules_encrypt(const embark_gw *gw, const embark_ruleset *in, embark_ruleset *out, char *err, size_t errlen);
/* Encrypted pool values (reserved suffix), sorted; *n set to the count. */
int embark_pools_encrypt(embark_gw *gw, embark_u128 **out, size_t *n);
/* The same, with each value's pool (an index into `pools`, which must be the set the
 * gateway was made with): grouped by pool in file order, sorted within a pool, so that a
 * NAT or load balancer can be given one pool's values (`NAME HEX` lines,
 * embark_pool_values_write). Both arrays malloc'd. */
int embark_pools_encrypt_named(embark_gw *gw, const embark_poolset *pools, embark_u128 **out, size_t **pool_of,
			       size_t *n);
/* Writes `NAME HEX` lines (after a `# header` line if header is not NULL). */
void embark_pool_values_write(FILE *f, const char *const *names, const embark_u128 *values, size_t n,
			      const char *header);
bool embark_is_pool_value(embark_u128 enc);
/* The same for an address as a packet carries it (16 bytes, network order). Exact: the
 * pool values' suffix is reserved, no other encrypted address ends in it. */
bool embark_is_pool_addr(const uint8_t addr[16]);

/* Packet transform (L3 packets, no link header).  Return EMBARK_OK or an error, which is
 * also counted in the gateway's counters. */
#define EMBARK_MAX_OVERHEAD 320
int embark_encrypt_packet(embark_gw *gw, const uint8_t *in, size_t len, uint8_t *out, size_t cap, size_t *out_len);
int embark_decrypt_packet(embark_gw *gw, const uint8_t *in, size_t len, uint8_t *out, size_t cap, size_t *out_len);
const uint64_t *embark_gw_counters(const embark_gw *gw); /* indexed by enum embark_err */
/* The same transforms over a burst: the AES work of all packets (flow seeds, PRF_seed,
 * the option's AES-SIV) is shared by a few EVP calls per up to 64 packets, which is
 * where the speed is. Each packet gets its own rc and out_len exactly as the one-packet
 * calls give them; in and out must not overlap. Returns how many succeeded. A gateway
 * object holds the cipher contexts and scratch of one worker: use one per thread. */
/* The answer to a flow that a cloud NAT or load balancer translated, at the gateway that
 * sent the flow out: the cloud wrote back the encrypted endpoints this gateway gave its
 * own flow, which no key recovers. The caller, which remembers how it encrypted its flows,
 * names what the packet must carry (cloud_*), the flow's own end (dst_*) and its peer
 * (peer_*); the packet must still authenticate, and each of its sealed ends must be the
 * flow's (source the peer, destination its own end, ports included) or a pool address,
 * at least one of them a pool address: a NAT's answer (destination), a load balancer's
 * (source: the backend), or both. It then carries the flow's peer as source and its own
 * end as destination; else it is refused as `rewritten`. */
typedef struct {
	uint8_t cloud_src[16], cloud_dst[16]; /* the packet's addresses */
	uint16_t cloud_sport, cloud_dport;    /* and ports (host order) */
	uint32_t peer_ip, dst_ip;             /* the flow's peer; its own end */
	uint16_t peer_port, dst_port;
} embark_nat_back;
typedef struct embark_content_info embark_content_info; /* below, with the web-cache content */
typedef struct {
	const uint8_t *in;
	size_t len;
	uint8_t *out;
	size_t cap;
	size_t out_len;                  /* set on success */
	int rc;                          /* EMBARK_OK or the error (also counted) */
	const embark_nat_back *nat_back; /* decrypt: a NAT's answer (above), or NULL */
	/* encrypt: a TCP payload to seal as this content segment instead of under the packet's
	 * key, or NULL. decrypt: where a content segment's place goes (its payload is then left
	 * sealed: embark_content_open_packet), or NULL to refuse content segments as
	 * EMBARK_E_CONTENT. */
	embark_content_info *content;
} embark_burst_pkt;
size_t embark_encrypt_burst(embark_gw *gw, embark_burst_pkt *pkts, size_t n);
/* The length the encryption of an IPv4 packet will have (as a content segment, or not),
 * 0 if it cannot be encrypted. */
size_t embark_encrypted_len(const uint8_t *in, size_t len, bool content);
size_t embark_decrypt_burst(embark_gw *gw, embark_burst_pkt *pkts, size_t n);
/* The nonce of an Embark packet's option (unique per packet of one gateway): what names
 * a packet for its extension records. False if pkt is no Embark packet. Not checked
 * against the SIV: a middlebox uses it only to pair a packet with its records. */
bool embark_packet_nonce(const uint8_t *pkt, size_t len, uint32_t *nonce);

/* ---------- classification (plain IPv4 or encrypted IPv6 packets alike) ---------- */
/* has_ports: TCP or UDP (and not a later fragment); rules that name ports match only these. */
typedef struct {
	embark_u128 sip, dip;
	uint16_t sport, dport;
	uint8_t proto;
	bool has_ports;
} embark_key5;
int embark_packet_key(const uint8_t *pkt, size_t len, embark_key5 *k);
typedef struct embark_classifier embark_classifier;
embark_classifier *embark_classifier_new(const embark_ruleset *rs);
void embark_classifier_free(embark_classifier *c);
/* First matching rule (by priority, then file order) or NULL. */
const embark_rule *embark_classify(const embark_classifier *c, const embark_key5 *k);

/* ---------- KeywordMatch (BlindBox DPIEnc) ---------- */
#define EMBARK_TOKEN_LEN 8
typedef uint64_t embark_token_ct; /* 40-bit ciphertext */
enum { EMBARK_TOKENS_WINDOW = 0, EMBARK_TOKENS_DELIMITER = 1 };
/* A token mode by its name on command lines ("window", "delimiter"), or -1. */
int embark_tokens_mode(const char *name);
typedef struct embark_km_sender embark_km_sender;
/* reset_bytes: salts are reset (new, larger salt0) every that many input bytes. */
embark_km_sender *embark_km_sender_new(const embark_keys *keys, int mode, size_t reset_bytes);
void embark_km_sender_free(embark_km_sender *s);
/* Tokenizes and encrypts the next chunk of a byte stream (tokens straddling chunks are
 * produced).  Writes each token's 40-bit ciphertext and stream offset; cap must be at least
 * len + 7 (else nothing is done and 0 returned).  Salts are reset (new, larger salt0) only
 * at the start of a call, so after each call the caller compares embark_km_salt0() with
 * its previous value and, if it changed, tells the matcher (embark_km_matcher_reset). */
size_t embark_km_encrypt(embark_km_sender *s, const uint8_t *data, size_t len, embark_token_ct *ct, uint64_t *offsets,
			 size_t cap);
uint64_t embark_km_salt0(const embark_km_sender *s);

/* Keyword rules encrypted for a middlebox: AES_k(piece) for each 8-byte piece. */
typedef struct {
	uint8_t enc[16];
	uint32_t rule;
	uint32_t rel;
} embark_kw_piece;
typedef struct {
	embark_kw_piece *v;
	size_t n;
	size_t rules;
} embark_kw_rules;
int embark_keywords_parse(const char *text, size_t len, const char *name, char ***kw, size_t **kwlen, size_t *n,
			  char *err, size_t errlen);
void embark_keywords_free(char **kw, size_t *kwlen, size_t n);
/* Pieces for window tokens (every keyword of 8 bytes or more, wherever it stands). */
int embark_kw_rules_encrypt(const embark_keys *keys, char *const *kw, const size_t *kwlen, size_t n,
			    embark_kw_rules *out);
/* Pieces for the gateway's token mode: with EMBARK_TOKENS_DELIMITER, the windows a
 * delimiter-token sender makes inside each keyword, so a keyword with a delimiter (or the
 * stream's edge) on both sides is always found, and one inside a longer word with none at
 * either end is not. -1 for a keyword shorter than 8 bytes or no memory. */
int embark_kw_rules_encrypt_mode(const embark_keys *keys, char *const *kw, const size_t *kwlen, size_t n, int mode,
				 embark_kw_rules *out);
void embark_kw_rules_free(embark_kw_rules *r);
/* Writes / reads the file format of `embark-rules keywords` (what a middlebox loads). */
int embark_kw_rules_write(FILE *f, const embark_kw_rules *r);
int embark_kw_rules_parse(const char *text, size_t len, const char *name, embark_kw_rules *out, char *err,
			  size_t errlen);
/* A ruleset: keyword rules prepared for matching (distinct pieces, each with its key
 * schedule), shared by the matchers of many flows. Reference-counted: each matcher made
 * from it holds a reference, so the owner may free it while flows still match; one thread
 * uses a ruleset and its matchers (the key schedules are OpenSSL contexts). */
typedef struct embark_km_ruleset embark_km_ruleset;
embark_km_ruleset *embark_km_ruleset_new(const embark_kw_rules *rules);
void embark_km_ruleset_free(embark_km_ruleset *set);           /* drops the caller's reference */
size_t embark_km_ruleset_pieces(const embark_km_ruleset *set); /* distinct pieces */
typedef struct embark_km_matcher embark_km_matcher;
embark_km_matcher *embark_km_matcher_new_shared(embark_km_ruleset *set, uint64_t salt0);
/* A matcher with a ruleset of its own. */
embark_km_matcher *embark_km_matcher_new(const embark_kw_rules *rules, uint64_t salt0);
void embark_km_matcher_free(embark_km_matcher *m);
void embark_km_matcher_reset(embark_km_matcher *m, uint64_t salt0);
/* Feeds one token; returns the number of rules that completed a match ending with it and
 * writes their indexes to rules_out (<= cap, at most 64). */
size_t embark_km_match(embark_km_matcher *m, embark_token_ct ct, uint64_t offset, uint32_t *rules_out, size_t cap);
/* Feeds a run of tokens (a record's); writes each completed rule and the index of the
 * token that completed it. Stops early, before a token whose hits might not fit, so every
 * hit is reported: *fed says how many tokens were taken; call again with the rest. */
typedef struct {
	uint32_t rule, token; /* the token that completed the rule: its index in the run fed */
	uint64_t offset;      /* and its stream offset */
} embark_km_hit;
size_t embark_km_match_run(embark_km_matcher *m, const embark_token_ct *ct, const uint64_t *offsets, size_t n,
			   embark_km_hit *hits, size_t cap, size_t *fed);

/* The wire form of a run of tokens (the extension channel's records): each token as 5
 * big-endian bytes; the offsets as runs of consecutive offsets, each run two LEB128
 * varints — its start less the previous run's end (zigzag: any order is kept) and its
 * count. Window tokens come one per byte, so a segment's tokens are one run; a delimiter
 * sender's come in short runs (one word's windows), and bytes the reader walks itself
 * cost a few cycles each where protobuf-c's packed varints cost tens (ExtRecord v3). */
#define EMBARK_TOKEN_WIRE_LEN 5
#define EMBARK_TOKEN_RUNS_MAX(n) ((n)*20) /* bytes of runs for n tokens, at most */
/* wire: room for n * EMBARK_TOKEN_WIRE_LEN bytes; runs: EMBARK_TOKEN_RUNS_MAX(n). Returns
 * the length of the runs. Order is kept exactly. */
size_t embark_tokens_pack(const embark_token_ct *tokens, const uint64_t *offsets, size_t n, uint8_t *wire,
			  uint8_t *runs);
/* The number of tokens the wire form holds, or -1 if it is malformed (a length not a
 * multiple of 5, a varint cut short or past 64 bits, an empty run, counts that do not
 * add up to the tokens, an offset past 2^64). */
long embark_tokens_count(size_t wire_len, const uint8_t *runs, size_t runs_len);
/* Writes the tokens and offsets (room for embark_tokens_count() of each). */
void embark_tokens_unpack(const uint8_t *wire, size_t wire_len, const uint8_t *runs, size_t runs_len,
			  embark_token_ct *tokens, uint64_t *offsets);
/* A record's tokens fed to a matcher straight from their wire form: no array of tokens or
 * offsets is written; an offset is worked out from the runs only for a token that is one
 * of the rules' pieces. Init with a wire form embark_tokens_count() accepted. */
typedef struct {
	const uint8_t *wire, *runs;
	size_t n, runs_len;
	size_t next; /* the next token to feed */
	/* the run the last offset was found in: its first token, start and count, and where
	 * the next run's bytes begin */
	size_t run_first, runs_pos;
	uint64_t run_start, run_count;
} embark_tokens_wire;
void embark_tokens_wire_init(embark_tokens_wire *w, const uint8_t *wire, size_t wire_len, const uint8_t *runs,
			     size_t runs_len);
/* As embark_km_match_run, from w->next on: stops before a token whose hits might not fit,
 * w->next then names it (== w->n when all are fed); a hit's token indexes the record. */
size_t embark_km_match_wire(embark_km_matcher *m, embark_tokens_wire *w, embark_km_hit *hits, size_t cap);

/* Deterministic authenticated encryption of whole URIs (AES-SIV, RFC 5297).
 * Output is 16 bytes longer than the input. */
int embark_uri_encrypt(const embark_keys *keys, const uint8_t *uri, size_t len, uint8_t *out);
int embark_uri_decrypt(const embark_keys *keys, const uint8_t *in, size_t len, uint8_t *uri);

/* A URI's id: the SIV of its deterministic encryption above (the first 16 bytes of
 * embark_uri_encrypt's output), which the cloud sees in the extension records anyway. */
#define EMBARK_URI_ID_LEN 16
int embark_uri_id(const embark_keys *keys, const uint8_t *uri, size_t len, uint8_t id[EMBARK_URI_ID_LEN]);

/* Web-cache content (README "HTTP proxy/cache over ciphertext"): a response's segments
 * sealed under a key of its request's URI alone, so that a cache can replay them in
 * another connection and a gateway of the enterprise can still open them. AES-128-SIV;
 * the segment's place (instance tag, offset, length, last) is its associated data and the
 * SIV its MAC. */
#define EMBARK_CONTENT_TAG_LEN 8
#define EMBARK_CONTENT_SIV_LEN 16
typedef struct embark_content embark_content;
typedef struct {
	uint8_t tag[EMBARK_CONTENT_TAG_LEN]; /* the response instance, drawn by the sealer */
	uint64_t offset;                     /* the segment's first byte in the response */
	bool last;                           /* the segment ends the response */
} embark_content_seg;
/* K_U = HMAC-SHA256(content subkey, "embark-content-v1" || uri_id); NULL on a crypto error */
embark_content *embark_content_new(const embark_keys *keys, const uint8_t uri_id[EMBARK_URI_ID_LEN]);
void embark_content_free(embark_content *c); /* wipes */
/* In place; writes the segment's SIV. 0, or -1 (crypto error). */
int embark_content_seal(embark_content *c, const embark_content_seg *seg, uint8_t *data, size_t len,
			uint8_t siv[EMBARK_CONTENT_SIV_LEN]);
/* In place; 0, or -1 when the segment is not authentic under this URI and place (data
 * is then wiped) or on a crypto error. */
int embark_content_open(embark_content *c, const embark_content_seg *seg, uint8_t *data, size_t len,
			const uint8_t siv[EMBARK_CONTENT_SIV_LEN]);
/* A content segment's place as a packet's option carries it (README "HTTP proxy/cache over
 * ciphertext", part 3). */
struct embark_content_info {
	embark_content *key;                 /* encrypt: the URI's key */
	embark_content_seg seg;              /* offset below 2^48 */
	uint8_t uri_id[EMBARK_URI_ID_LEN];   /* the URI whose key seals it (embark_uri_id) */
	bool cacheable;                      /* the sealing gateway's reading of the response's headers */
	uint32_t lifetime_s;                 /* when cacheable; the option carries up to 65535 */
	uint8_t siv[EMBARK_CONTENT_SIV_LEN]; /* decrypt: the segment's SIV */
	bool present;                        /* decrypt: the packet was a content segment */
};
/* Opens the payload of a decrypted IPv4 TCP packet that was a content segment (ci as the
 * decrypt gave it) in place, and recomputes its TCP checksum. 0, or -1 (the payload is
 * then wiped: the packet must not be sent on). */
int embark_content_open_packet(embark_content *key, const embark_content_info *ci, uint8_t *pkt, size_t len);

/* Frames a cloud proxy originates (README "HTTP proxy/cache over ciphertext", part 5): a
 * TCP segment in a flow's cloud view, with a cached content segment or none, under an
 * AES-CMAC of a frame key (the "frame" subkey of a key file of its own, which the
 * enterprise gives the proxy: never the enterprise's key). The MAC covers the option
 * (content block included), the TCP header but its ports and checksum (a cloud NAT
 * rewrites those, and the addresses) and the payload's length; the payload itself is
 * authenticated by its content SIV when the gateway opens it. */
typedef struct embark_framer embark_framer;
embark_framer *embark_framer_new(const embark_keys *frame_keys); /* NULL on a crypto error */
void embark_framer_free(embark_framer *f);
typedef struct {
	uint8_t src[16], dst[16]; /* the frame's addresses: the flow's ends as the cloud sees them */
	uint32_t label;           /* IPv6 flow label: the flow's epoch, as its packets carry it */
	uint32_t nonce;
	const uint8_t *tcp; /* the TCP header (ports as the cloud sees them; checksum ignored) */
	size_t tcp_len;
	const embark_content_info *content; /* a content segment (present) or NULL */
	const uint8_t *payload;             /* its ciphertext as cached; NULL without content */
	size_t payload_len;
} embark_frame;
int embark_frame_build(embark_framer *f, const embark_frame *fr, uint8_t *out, size_t cap, size_t *out_len);
/* Without keys (a proxy storing what passes): an Embark packet's content block and its
 * payload (the content ciphertext). False when it is no content segment. Not checked. */
bool embark_packet_content(const uint8_t *pkt, size_t len, embark_content_info *ci, const uint8_t **payload,
			   size_t *payload_len);
/* An Embark packet that is a proxy's frame (not checked). */
bool embark_is_frame(const uint8_t *pkt, size_t len);
typedef struct {
	const uint8_t *tcp; /* into the packet */
	size_t tcp_len;
	const uint8_t *payload;
	size_t payload_len;
	embark_content_info content; /* present when it carries a content segment */
} embark_frame_in;
/* Verifies and parses a frame: EMBARK_OK, or EMBARK_E_TAMPERED (a bad MAC, or a payload
 * that is no content segment), _MALFORMED / _TRUNCATED / _NO_OPTION. */
int embark_frame_open(embark_framer *f, const uint8_t *pkt, size_t len, embark_frame_in *in);
/* The IPv4 packet a verified frame stands for between a flow's plaintext ends (the
 * gateway's flow table gives them): TOS 0, ID 0, DF, TTL 64, the frame's TCP header with
 * these ports, its payload (still content ciphertext: embark_content_open_packet next). */
int embark_frame_to_ipv4(const embark_frame_in *in, uint32_t sip, uint32_t dip, uint16_t sport, uint16_t dport,
			 uint8_t *out, size_t cap, size_t *out_len);

#endif
