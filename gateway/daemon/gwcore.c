/* SPDX-License-Identifier: BSD-3-Clause */
/* embark-gw's packet path without DPDK (see gwcore.h and README.md "embark-gw"). */
#include "gwcore.h"

#include <openssl/crypto.h>
#include <openssl/evp.h>
#include <openssl/hmac.h>
#include <stdlib.h>
#include <string.h>

#include "gwweb.h"
#include "http1.h"
#include "internal.h"

#define LOAD(x) __atomic_load_n(&(x), __ATOMIC_RELAXED)
#define STORE(x, v) __atomic_store_n(&(x), (v), __ATOMIC_RELAXED)
#define BUMP(x, v) STORE(x, LOAD(x) + (v))

#define OOO_SEGS 16
#define OOO_BYTES (256u << 10)
#define HTTP_HEAD_MAX HTTP1_HEAD_MAX
#define CKEY_SLOTS 32   /* content keys kept: a page's objects are a few dozen URIs */
#define STREAM_ASKED 16 /* requests of a connection whose answers may still come */
#define KM_CHUNK 4096   /* a record holds the tokens of one chunk of a stream at most */

struct gwc_epoch {
	uint32_t id;
	embark_keys *keys;
	embark_gw *gw;
	embark_ruleset rules; /* plaintext copy, for export */
	char key_id[GWC_KEY_ID_LEN + 1];
	/* worker's */
	int state;          /* GWC_EP_PREPARED, _CURRENT or _DRAINING while live */
	uint64_t retire_at; /* when draining: retired then at the latest */
	uint64_t pinned;    /* flows pinned to it */
};

#define CLOUD_VIEW_LEN 36   /* two IPv6 addresses and two ports, as on the wire */
#define WEB_NONE UINT32_MAX /* ends gwc's web list */

struct seg {
	uint32_t seq, len;
	uint8_t *data;
};

enum { HTTP_HEAD, HTTP_BODY, HTTP_OFF };

struct stream {
	uint32_t next; /* next sequence number to deliver */
	bool started;
	uint64_t offset; /* stream offset of `next` */
	struct seg ooo[OOO_SEGS];
	size_t nooo, ooo_bytes;
	embark_km_sender *km;
	uint32_t km_epoch;
	int http;
	struct http1_body body; /* HTTP_BODY: the request body being passed over */
	size_t head_len;
	uint8_t head[HTTP_HEAD_MAX];
	/* the URI ids of the stream's last requests: what a content answer may name; and the
	 * instance (tag) each one's answer came as, once its first content opened */
	uint8_t asked[STREAM_ASKED][EMBARK_URI_ID_LEN];
	uint8_t asked_tag[STREAM_ASKED][EMBARK_CONTENT_TAG_LEN];
	bool asked_tagged[STREAM_ASKED];
	unsigned nasked;
};

struct flow {
	uint32_t a_ip, b_ip; /* canonical order: (a_ip, a_port) <= (b_ip, b_port) */
	uint16_t a_port, b_port;
	uint8_t proto;
	bool used;
	uint8_t fins;    /* bit 0: a sent FIN, bit 1: b sent FIN */
	uint8_t out_dir; /* outbound stream direction: 1 a->b, 2 b->a, 0 not yet known */
	uint32_t epoch;
	uint32_t next; /* chain, or free list; UINT32_MAX ends */
	uint64_t expire_at;
	struct stream *st;
	/* A cloud NAT's answers. At the gateway that sent a flow out, `cloud` is how its
	 * outbound packets look in the cloud (source, destination, ports), indexed by
	 * `cbuckets`: a NAT writes that source back as the destination of the answers, which
	 * no key recovers. At the far gateway, `nat_view` is how the NAT-translated packets
	 * arrived: the answers must leave looking like their reverse for the NAT to find its
	 * mapping. */
	bool in_cloud_index, natted, out_src_is_a;
	uint32_t cnext;
	struct gw_web *web;            /* content: the server here */
	uint32_t web_older, web_newer; /* its neighbours in gwc's web list; WEB_NONE ends */
	uint8_t cloud[CLOUD_VIEW_LEN], nat_view[CLOUD_VIEW_LEN];
};

struct gwc {
	struct gwc_config cfg;
	gwc_emit_fn *emit;
	void *emit_ctx;
	struct gwc_epoch *live[GWC_EPOCHS_LIVE];
	size_t cur; /* index in live of the current epoch */
	struct gwc_epoch *pending;
	uint32_t promote; /* an epoch id to make current, 0 = none */
	struct flow *flows;
	uint32_t *buckets, *cbuckets;
	uint32_t mask, free_head;
	size_t sweep;
	size_t streams;
	/* two token buffers: one is the pending record's while the next chunk fills the other */
	embark_token_ct tok[2][KM_CHUNK + EMBARK_TOKEN_LEN];
	uint64_t off[2][KM_CHUNK + EMBARK_TOKEN_LEN];
	unsigned tokbuf;
	/* the record not yet emitted (ext_out), the nonce of the packet being tokenized */
	struct ext_record pend;
	bool has_pend;
	uint32_t pkt_nonce;
	uint8_t pend_uri[HTTP_HEAD_MAX + 32];
	/* the flows with a gw_web, from the one silent longest to the latest one heard: the
	 * oldest is the one to stop following when all --web-flows are taken */
	size_t webs;
	uint32_t web_oldest, web_newest;
	unsigned cloud_mtu;
	embark_framer *framer;
	/* content keys the client's side opened segments with, by epoch and URI id */
	struct {
		uint32_t epoch;
		uint8_t uri_id[EMBARK_URI_ID_LEN];
		embark_content *key;
	} ckeys[CKEY_SLOTS];
	unsigned ckey_next;
	struct gwc_stats stats;
};

static const char *const counter_names[GWC_COUNTERS] = {
	[GWC_ENT_RX] = "ent_rx",
	[GWC_CLOUD_TX_OK] = "encrypted",
	[GWC_CLOUD_RX] = "cloud_rx",
	[GWC_ENT_TX_OK] = "decrypted",
	[GWC_ENT_NOT_IPV4] = "ent_not_ipv4",
	[GWC_CLOUD_NOT_EMBARK] = "cloud_not_embark",
	[GWC_UNKNOWN_EPOCH] = "unknown_epoch",
	[GWC_FLOWS_NEW] = "flows_new",
	[GWC_FLOWS_EXPIRED] = "flows_expired",
	[GWC_FLOW_TABLE_FULL] = "flow_table_full",
	[GWC_FLOWS_MOVED] = "flows_moved",
	[GWC_EPOCH_SWITCHES] = "epoch_switches",
	[GWC_EPOCHS_RETIRED] = "epochs_retired",
	[GWC_DPI_STREAMS] = "dpi_streams",
	[GWC_DPI_NO_ROOM] = "dpi_no_room",
	[GWC_REASM_HELD] = "reasm_held",
	[GWC_REASM_LOST] = "reasm_lost",
	[GWC_EXT_RECORDS] = "ext_records",
	[GWC_EXT_TOKENS] = "ext_tokens",
	[GWC_EXT_URIS] = "ext_uris",
	[GWC_EXT_UNSENT] = "ext_unsent",
	[GWC_TX_DROPPED] = "tx_dropped",
	[GWC_NAT_ANSWERS] = "nat_answers",
	[GWC_CONTENT_SEALED] = "content_sealed",
	[GWC_CONTENT_OPENED] = "content_opened",
	[GWC_CONTENT_REFUSED] = "content_refused",
	[GWC_WEB_FLOWS] = "web_flows",
	[GWC_WEB_NO_ROOM] = "web_no_room",
	[GWC_CONTENT_TOO_BIG] = "content_too_big",
	[GWC_FRAMES_TAKEN] = "frames_taken",
	[GWC_FRAMES_REFUSED] = "frames_refused",
	[GWC_CONTENT_UNASKED] = "content_unasked",
	[GWC_CONTENT_UNCHECKED] = "content_unchecked",
	[GWC_STREAMS_CLOSED] = "streams_closed",
	[GWC_WEB_EVICTED] = "web_evicted",
	[GWC_CONTENT_SPLICED] = "content_spliced",
};

const char *gwc_counter_name(enum gwc_counter c)
{
	return (unsigned)c < GWC_COUNTERS ? counter_names[c] : "?";
}

void gwc_config_default(struct gwc_config *cfg)
{
	*cfg = (struct gwc_config){
		.flows = 65536,
		.idle_ns = 120ull * 1000000000ull,
		.linger_ns = 2ull * 1000000000ull,
		.drain_ns = 30ull * 1000000000ull,
		.dpi = true,
		.uri = true,
		.dpi_flows = 128,
		.km_reset_bytes = 2048,
		.km_mode = EMBARK_TOKENS_WINDOW,
		.web_flows = 128,
	};
}

/* ---------------- epochs ---------------- */

embark_keys *gwc_keys_copy(const embark_keys *keys)
{
	return embark_keys_from_master(keys->master);
}

void gwc_key_id(const embark_keys *keys, char out[GWC_KEY_ID_LEN + 1])
{
	static const char label[] = "embark-gw key id";
	uint8_t mac[32];
	unsigned len = sizeof mac;
	if (!HMAC(EVP_sha256(), keys->master, EMBARK_MASTER_KEY_LEN, (const uint8_t *)label, sizeof label - 1, mac,
		  &len))
		memset(mac, 0, sizeof mac);
	for (int i = 0; i < GWC_KEY_ID_LEN / 2; i++) {
		out[2 * i] = "0123456789abcdef"[mac[i] >> 4];
		out[2 * i + 1] = "0123456789abcdef"[mac[i] & 15];
	}
	out[GWC_KEY_ID_LEN] = '\0';
	OPENSSL_cleanse(mac, sizeof mac);
}

struct gwc_epoch *gwc_epoch_new(uint32_t id, embark_keys *keys, const embark_ruleset *rules,
				const embark_poolset *pools, const embark_config *cfg, struct e2_err *err)
{
	struct gwc_epoch *ep = calloc(1, sizeof *ep);
	char msg[256] = "";
	if (!ep) {
		embark_keys_free(keys);
		e2_seterr(err, "out of memory");
		return NULL;
	}
	ep->id = id;
	ep->keys = keys;
	gwc_key_id(keys, ep->key_id);
	if (rules && rules->n) {
		ep->rules.v = malloc(rules->n * sizeof *rules->v);
		if (!ep->rules.v) {
			e2_seterr(err, "out of memory");
			goto fail;
		}
		memcpy(ep->rules.v, rules->v, rules->n * sizeof *rules->v);
		ep->rules.n = rules->n;
	}
	ep->gw = embark_gw_new(keys, rules, pools, cfg, msg, sizeof msg);
	if (!ep->gw) {
		e2_seterr(err, "%s", msg);
		goto fail;
	}
	return ep;
fail:
	gwc_epoch_free(ep);
	return NULL;
}

void gwc_epoch_free(struct gwc_epoch *ep)
{
	if (!ep)
		return;
	embark_gw_free(ep->gw);
	embark_keys_free(ep->keys);
	embark_ruleset_free(&ep->rules);
	free(ep);
}

uint32_t gwc_epoch_id(const struct gwc_epoch *ep)
{
	return ep->id;
}

size_t gwc_epoch_rules(const struct gwc_epoch *ep)
{
	return ep->rules.n;
}

const char *gwc_epoch_key_id(const struct gwc_epoch *ep)
{
	return ep->key_id;
}

int gwc_epoch_export(struct gwc_epoch *ep, const embark_poolset *ps, char **rules_text, size_t *rules_len,
		     embark_u128 **pools, size_t **pool_of, size_t *npools, struct e2_err *err)
{
	char msg[256] = "";
	embark_ruleset enc = {0};
	*rules_text = NULL;
	*pools = NULL;
	*pool_of = NULL;
	if (embark_rules_encrypt(ep->gw, &ep->rules, &enc, msg, sizeof msg) != 0) {
		e2_seterr(err, "encrypting the rules: %s", msg);
		return -1;
	}
	FILE *f = open_memstream(rules_text, rules_len);
	char head[96];
	snprintf(head, sizeof head, "embark-gw epoch %u", ep->id);
	if (!f || embark_rules_write(f, &enc, head) != 0 || fclose(f) != 0) {
		embark_ruleset_free(&enc);
		free(*rules_text);
		*rules_text = NULL;
		e2_seterr(err, "writing the encrypted rules failed");
		return -1;
	}
	embark_ruleset_free(&enc);
	if (embark_pools_encrypt_named(ep->gw, ps, pools, pool_of, npools) != 0) {
		free(*rules_text);
		*rules_text = NULL;
		e2_seterr(err, "out of memory");
		return -1;
	}
	return 0;
}

/* ---------------- the table ---------------- */

struct gwc *gwc_new(const struct gwc_config *cfg, struct gwc_epoch *first, gwc_emit_fn *emit, void *emit_ctx,
		    struct e2_err *err)
{
	struct gwc *c = calloc(1, sizeof *c);
	if (!c) {
		gwc_epoch_free(first);
		e2_seterr(err, "out of memory");
		return NULL;
	}
	c->cfg = *cfg;
	size_t n = 64;
	while (n < cfg->flows && n < (1u << 26))
		n <<= 1;
	c->cfg.flows = n;
	c->mask = (uint32_t)(n - 1);
	c->flows = calloc(n, sizeof *c->flows);
	c->buckets = malloc(n * sizeof *c->buckets);
	c->cbuckets = malloc(n * sizeof *c->cbuckets);
	c->web_oldest = c->web_newest = WEB_NONE;
	if (!c->flows || !c->buckets || !c->cbuckets) {
		free(c->flows);
		free(c->buckets);
		free(c->cbuckets);
		free(c);
		gwc_epoch_free(first);
		e2_seterr(err, "out of memory for %zu flows", n);
		return NULL;
	}
	for (size_t i = 0; i < n; i++) {
		c->buckets[i] = c->cbuckets[i] = UINT32_MAX;
		c->flows[i].next = i + 1 < n ? (uint32_t)(i + 1) : UINT32_MAX;
	}
	c->free_head = 0;
	c->emit = emit;
	c->emit_ctx = emit_ctx;
	c->live[0] = first;
	first->state = GWC_EP_CURRENT;
	c->cur = 0;
	struct gwc_epoch_stats *es = &c->stats.ep[first->id % GWC_EPOCH_SLOTS];
	memcpy(es->key_id, first->key_id, sizeof es->key_id);
	es->rules = (uint32_t)first->rules.n;
	STORE(es->state, GWC_EP_CURRENT);
	STORE(es->id, first->id);
	STORE(c->stats.current_epoch, first->id);
	return c;
}

static void stream_free(struct gwc *c, struct stream *st)
{
	if (!st)
		return;
	for (size_t i = 0; i < st->nooo; i++)
		free(st->ooo[i].data);
	embark_km_sender_free(st->km);
	OPENSSL_cleanse(st->head, sizeof st->head);
	free(st);
	c->streams--;
}

void gwc_free(struct gwc *c)
{
	if (!c)
		return;
	for (size_t i = 0; i <= c->mask; i++)
		if (c->flows[i].used) {
			stream_free(c, c->flows[i].st);
			gw_web_free(c->flows[i].web);
		}
	for (size_t i = 0; i < CKEY_SLOTS; i++)
		embark_content_free(c->ckeys[i].key);
	embark_framer_free(c->framer);
	for (size_t i = 0; i < GWC_EPOCHS_LIVE; i++)
		gwc_epoch_free(c->live[i]);
	gwc_epoch_free(__atomic_exchange_n(&c->pending, NULL, __ATOMIC_ACQ_REL));
	free(c->flows);
	free(c->buckets);
	free(c->cbuckets);
	free(c);
}

struct gwc_stats *gwc_stats(struct gwc *c)
{
	return &c->stats;
}

static void note_prepared(struct gwc *c, const struct gwc_epoch *ep)
{
	struct gwc_epoch_stats *es = &c->stats.ep[ep->id % GWC_EPOCH_SLOTS];
	STORE(es->id, 0);
	memcpy(es->key_id, ep->key_id, sizeof es->key_id);
	STORE(es->rules, (uint32_t)ep->rules.n);
	STORE(es->encrypted, 0);
	STORE(es->decrypted, 0);
	STORE(es->flows, 0);
	STORE(es->state, GWC_EP_PREPARED);
	STORE(es->id, ep->id);
}

bool gwc_offer(struct gwc *c, struct gwc_epoch *ep)
{
	struct gwc_epoch *expected = NULL;
	if (LOAD(c->pending))
		return false;
	note_prepared(c, ep);
	return __atomic_compare_exchange_n(&c->pending, &expected, ep, false, __ATOMIC_RELEASE, __ATOMIC_RELAXED);
}

bool gwc_offer_taken(struct gwc *c)
{
	return __atomic_load_n(&c->pending, __ATOMIC_ACQUIRE) == NULL;
}

struct gwc_epoch *gwc_withdraw(struct gwc *c)
{
	return __atomic_exchange_n(&c->pending, NULL, __ATOMIC_ACQ_REL);
}

bool gwc_promote(struct gwc *c, uint32_t id)
{
	uint32_t expected = 0;
	return __atomic_compare_exchange_n(&c->promote, &expected, id, false, __ATOMIC_RELEASE, __ATOMIC_RELAXED);
}

uint32_t gwc_current(struct gwc *c)
{
	return __atomic_load_n(&c->stats.current_epoch, __ATOMIC_ACQUIRE);
}

static struct gwc_epoch_stats *ep_stats(struct gwc *c, uint32_t id)
{
	return &c->stats.ep[id % GWC_EPOCH_SLOTS];
}

static void retire(struct gwc *c, size_t i)
{
	struct gwc_epoch *ep = c->live[i];
	for (size_t k = 0; k < CKEY_SLOTS; k++) /* keys of a retired epoch go with it */
		if (c->ckeys[k].key && c->ckeys[k].epoch == ep->id) {
			embark_content_free(c->ckeys[k].key);
			c->ckeys[k].key = NULL;
		}
	STORE(ep_stats(c, ep->id)->state, GWC_EP_RETIRED);
	c->live[i] = NULL;
	gwc_epoch_free(ep);
	BUMP(c->stats.c[GWC_EPOCHS_RETIRED], 1);
}

/* A prepared epoch takes a free live slot; a previously prepared one goes, and if all slots
 * are taken the oldest draining epoch is retired now (its flows move on). */
static void install(struct gwc *c, struct gwc_epoch *ep)
{
	size_t slot = GWC_EPOCHS_LIVE;
	for (size_t i = 0; i < GWC_EPOCHS_LIVE; i++)
		if (c->live[i] && c->live[i]->state == GWC_EP_PREPARED)
			retire(c, i);
	for (size_t i = 0; i < GWC_EPOCHS_LIVE && slot == GWC_EPOCHS_LIVE; i++)
		if (!c->live[i])
			slot = i;
	if (slot == GWC_EPOCHS_LIVE) {
		size_t oldest = GWC_EPOCHS_LIVE;
		for (size_t i = 0; i < GWC_EPOCHS_LIVE; i++)
			if (i != c->cur && (oldest == GWC_EPOCHS_LIVE || c->live[i]->id < c->live[oldest]->id))
				oldest = i;
		retire(c, oldest);
		slot = oldest;
	}
	ep->state = GWC_EP_PREPARED;
	c->live[slot] = ep;
	STORE(ep_stats(c, ep->id)->state, GWC_EP_PREPARED);
}

static void promote(struct gwc *c, uint32_t id, uint64_t now)
{
	size_t slot = GWC_EPOCHS_LIVE;
	for (size_t i = 0; i < GWC_EPOCHS_LIVE; i++)
		if (c->live[i] && c->live[i]->id == id && c->live[i]->state == GWC_EP_PREPARED)
			slot = i;
	if (slot == GWC_EPOCHS_LIVE)
		return; /* not prepared (any more): nothing to do */
	struct gwc_epoch *old = c->live[c->cur];
	old->state = GWC_EP_DRAINING;
	old->retire_at = now + c->cfg.drain_ns;
	STORE(ep_stats(c, old->id)->state, GWC_EP_DRAINING);
	c->live[slot]->state = GWC_EP_CURRENT;
	c->cur = slot;
	STORE(ep_stats(c, id)->state, GWC_EP_CURRENT);
	__atomic_store_n(&c->stats.current_epoch, id, __ATOMIC_RELEASE);
	BUMP(c->stats.c[GWC_EPOCH_SWITCHES], 1);
}

static uint32_t flow_hash(uint32_t a, uint32_t b, uint16_t ap, uint16_t bp, uint8_t proto)
{
	uint64_t x = ((uint64_t)a << 32 | b) * 0x9e3779b97f4a7c15ull;
	x ^= ((uint64_t)ap << 24 | (uint64_t)bp << 8 | proto) * 0xc2b2ae3d27d4eb4full;
	x ^= x >> 31;
	x *= 0xff51afd7ed558ccdull;
	return (uint32_t)(x ^ (x >> 29));
}

static uint32_t cloud_hash(const uint8_t v[CLOUD_VIEW_LEN])
{
	uint64_t x = 0x84222325cbf29ce4ull;
	for (size_t i = 0; i < CLOUD_VIEW_LEN; i += 4)
		x = (x ^ e2_get_be32(v + i)) * 0x100000001b3ull;
	x ^= x >> 29;
	x *= 0xbf58476d1ce4e5b9ull;
	return (uint32_t)(x ^ (x >> 32));
}

static void cloud_unindex(struct gwc *c, uint32_t idx)
{
	struct flow *f = &c->flows[idx];
	if (!f->in_cloud_index)
		return;
	uint32_t *link = &c->cbuckets[cloud_hash(f->cloud) & c->mask];
	while (*link != idx)
		link = &c->flows[*link].cnext;
	*link = f->cnext;
	f->in_cloud_index = false;
}

/* Records how an outbound packet of flow idx looks in the cloud (it changes only when
 * the flow moves to another epoch). */
static void cloud_index(struct gwc *c, uint32_t idx, const uint8_t v[CLOUD_VIEW_LEN])
{
	struct flow *f = &c->flows[idx];
	if (f->in_cloud_index && memcmp(f->cloud, v, CLOUD_VIEW_LEN) == 0)
		return;
	cloud_unindex(c, idx);
	memcpy(f->cloud, v, CLOUD_VIEW_LEN);
	uint32_t h = cloud_hash(v) & c->mask;
	f->cnext = c->cbuckets[h];
	c->cbuckets[h] = idx;
	f->in_cloud_index = true;
}

static struct flow *cloud_find(struct gwc *c, const uint8_t v[CLOUD_VIEW_LEN], uint64_t now)
{
	for (uint32_t i = c->cbuckets[cloud_hash(v) & c->mask]; i != UINT32_MAX; i = c->flows[i].cnext)
		if (memcmp(c->flows[i].cloud, v, CLOUD_VIEW_LEN) == 0)
			return c->flows[i].expire_at > now ? &c->flows[i] : NULL;
	return NULL;
}

/* The cloud view of an Embark TCP/UDP packet (false for other packets); reversed: as
 * the packet going the other way would carry it. */
static bool cloud_view(const uint8_t *ip6, size_t len, bool reversed, uint8_t v[CLOUD_VIEW_LEN], uint8_t **l4)
{
	if (len < 48 || (ip6[40] != 6 && ip6[40] != 17))
		return false;
	size_t off = 40 + ((size_t)ip6[41] + 1) * 8;
	if (len < off + 8)
		return false;
	const uint8_t *p = ip6 + off;
	memcpy(v, ip6 + (reversed ? 24 : 8), 16);
	memcpy(v + 16, ip6 + (reversed ? 8 : 24), 16);
	memcpy(v + 32, p + (reversed ? 2 : 0), 2);
	memcpy(v + 34, p + (reversed ? 0 : 2), 2);
	if (l4)
		*l4 = (uint8_t *)p;
	return true;
}

/* Puts a cloud view on an encrypted packet, its TCP/UDP checksum recomputed. */
static void cloud_rewrite(uint8_t *ip6, size_t len, uint8_t *l4, const uint8_t v[CLOUD_VIEW_LEN])
{
	memcpy(ip6 + 8, v, 32);
	memcpy(l4, v + 32, 4);
	size_t l4len = len - (size_t)(l4 - ip6);
	size_t csum_off = ip6[40] == 6 ? 16 : 6;
	if (l4len < csum_off + 2)
		return;
	l4[csum_off] = l4[csum_off + 1] = 0;
	uint64_t sum = (uint64_t)l4len + ip6[40];
	for (size_t i = 8; i < 40; i += 2)
		sum += e2_get_be16(ip6 + i);
	for (size_t i = 0; i + 1 < l4len; i += 2)
		sum += e2_get_be16(l4 + i);
	if (l4len & 1)
		sum += (uint64_t)l4[l4len - 1] << 8;
	while (sum >> 16)
		sum = (sum & 0xffff) + (sum >> 16);
	uint16_t cs = (uint16_t)~sum;
	if (cs == 0 && ip6[40] == 17)
		cs = 0xffff;
	e2_put_be16(l4 + csum_off, cs);
}

static void web_unlink(struct gwc *c, struct flow *f)
{
	*(f->web_older == WEB_NONE ? &c->web_oldest : &c->flows[f->web_older].web_newer) = f->web_newer;
	*(f->web_newer == WEB_NONE ? &c->web_newest : &c->flows[f->web_newer].web_older) = f->web_older;
}

/* The flow goes to the web list's newest end (a new web connection, or a packet of one). */
static void web_link_newest(struct gwc *c, struct flow *f)
{
	uint32_t idx = (uint32_t)(f - c->flows);
	f->web_older = c->web_newest;
	f->web_newer = WEB_NONE;
	*(c->web_newest == WEB_NONE ? &c->web_oldest : &c->flows[c->web_newest].web_newer) = idx;
	c->web_newest = idx;
}

/* The flow stops being followed as a web connection (closed, expired, evicted). */
static void web_drop(struct gwc *c, struct flow *f)
{
	if (!f->web)
		return;
	gw_web_free(f->web);
	f->web = NULL;
	web_unlink(c, f);
	c->webs--;
}

/* What the flow's current TCP connection held goes: its outbound stream (gateway A: URIs,
 * tokens) and its following as a web connection (gateway B: content). */
static void flow_forget_connection(struct gwc *c, struct flow *f)
{
	stream_free(c, f->st);
	f->st = NULL;
	web_drop(c, f);
}

/* A flow sent out from here, by its two ends: this side's (the source of what left) and the
 * peer's. What comes back from the cloud for it goes from the peer to this end. */
struct flow_ends {
	uint32_t own_ip, peer_ip;
	uint16_t own_port, peer_port;
};
static struct flow_ends flow_ends(const struct flow *f)
{
	bool a_out = f->out_src_is_a;
	return (struct flow_ends){.own_ip = a_out ? f->a_ip : f->b_ip,
				  .peer_ip = a_out ? f->b_ip : f->a_ip,
				  .own_port = a_out ? f->a_port : f->b_port,
				  .peer_port = a_out ? f->b_port : f->a_port};
}

static void flow_remove(struct gwc *c, uint32_t idx)
{
	struct flow *f = &c->flows[idx];
	uint32_t *link = &c->buckets[flow_hash(f->a_ip, f->b_ip, f->a_port, f->b_port, f->proto) & c->mask];
	while (*link != idx)
		link = &c->flows[*link].next;
	*link = f->next;
	cloud_unindex(c, idx);
	for (size_t i = 0; i < GWC_EPOCHS_LIVE; i++)
		if (c->live[i] && c->live[i]->id == f->epoch && c->live[i]->pinned)
			c->live[i]->pinned--;
	flow_forget_connection(c, f);
	memset(f, 0, sizeof *f);
	f->next = c->free_head;
	c->free_head = idx;
	BUMP(c->stats.c[GWC_FLOWS_EXPIRED], 1);
	STORE(c->stats.flows_active, LOAD(c->stats.flows_active) - 1);
}

void gwc_set_framer(struct gwc *c, embark_framer *framer)
{
	embark_framer_free(c->framer);
	c->framer = framer;
}

void gwc_set_cloud_mtu(struct gwc *c, unsigned mtu)
{
	c->cloud_mtu = mtu;
}

void gwc_count(struct gwc *c, enum gwc_counter which, uint64_t n)
{
	BUMP(c->stats.c[which], n);
}

void gwc_poll(struct gwc *c, uint64_t now)
{
	struct gwc_epoch *ep = __atomic_exchange_n(&c->pending, NULL, __ATOMIC_ACQ_REL);
	if (ep)
		install(c, ep);
	uint32_t id = __atomic_exchange_n(&c->promote, 0, __ATOMIC_ACQ_REL);
	if (id)
		promote(c, id, now);
	/* an epoch is retired when its drain time is up, or earlier once no flow is pinned to
	 * it any more and a linger time has passed (packets still in the cloud) */
	for (size_t i = 0; i < GWC_EPOCHS_LIVE; i++) {
		struct gwc_epoch *e = c->live[i];
		if (!e || e->state != GWC_EP_DRAINING)
			continue;
		uint64_t switched = e->retire_at - c->cfg.drain_ns;
		if (now >= e->retire_at || (!e->pinned && now >= switched + c->cfg.linger_ns))
			retire(c, i);
	}
	for (int k = 0; k < 64; k++) {
		uint32_t idx = (uint32_t)(c->sweep++ & c->mask);
		if (c->flows[idx].used && c->flows[idx].expire_at <= now)
			flow_remove(c, idx);
	}
}

/* ---------------- packets ---------------- */

struct tuple {
	uint32_t sip, dip;
	uint16_t sport, dport;
	uint8_t proto;
	uint8_t tcp_flags;
	uint32_t seq;
	const uint8_t *payload;
	size_t payload_len;
};

/* The 5-tuple of an IPv4 packet (ports only on a TCP/UDP first fragment); false if not
 * IPv4 at all. */
static bool parse_v4(const uint8_t *p, size_t len, struct tuple *t)
{
	memset(t, 0, sizeof *t);
	if (len < 20 || (p[0] >> 4) != 4)
		return false;
	size_t ihl = (size_t)(p[0] & 15) * 4, tot = e2_get_be16(p + 2);
	if (ihl < 20 || tot < ihl || tot > len)
		return false;
	t->proto = p[9];
	t->sip = e2_get_be32(p + 12);
	t->dip = e2_get_be32(p + 16);
	if (e2_get_be16(p + 6) & 0x3fff)
		return true;
	const uint8_t *l4 = p + ihl;
	size_t l4len = tot - ihl;
	if ((t->proto == 6 && l4len >= 20) || (t->proto == 17 && l4len >= 8)) {
		t->sport = e2_get_be16(l4);
		t->dport = e2_get_be16(l4 + 2);
	}
	if (t->proto == 6 && l4len >= 20) {
		size_t doff = (size_t)(l4[12] >> 4) * 4;
		t->seq = e2_get_be32(l4 + 4);
		t->tcp_flags = l4[13];
		if (doff >= 20 && doff <= l4len) {
			t->payload = l4 + doff;
			t->payload_len = l4len - doff;
		}
	}
	return true;
}

static bool canon_swap(const struct tuple *t)
{
	return t->sip > t->dip || (t->sip == t->dip && t->sport > t->dport);
}

static struct gwc_epoch *live_by_id(struct gwc *c, uint32_t id)
{
	for (size_t i = 0; i < GWC_EPOCHS_LIVE; i++)
		if (c->live[i] && c->live[i]->id == id)
			return c->live[i];
	return NULL;
}

static struct gwc_epoch *live_by_label(struct gwc *c, uint32_t label)
{
	for (size_t i = 0; i < GWC_EPOCHS_LIVE; i++)
		if (c->live[i] && (c->live[i]->id & GWC_LABEL_MASK) == label)
			return c->live[i];
	return NULL;
}

/* The flow of t, created and pinned to `pin` (or the current epoch) if new. NULL when the
 * table is full. */
static struct flow *flow_get(struct gwc *c, const struct tuple *t, uint64_t now, struct gwc_epoch *pin, bool *is_new)
{
	bool sw = canon_swap(t);
	uint32_t a = sw ? t->dip : t->sip, b = sw ? t->sip : t->dip;
	uint16_t ap = sw ? t->dport : t->sport, bp = sw ? t->sport : t->dport;
	uint32_t h = flow_hash(a, b, ap, bp, t->proto) & c->mask;
	*is_new = false;
	for (uint32_t i = c->buckets[h]; i != UINT32_MAX; i = c->flows[i].next) {
		struct flow *f = &c->flows[i];
		if (f->a_ip == a && f->b_ip == b && f->a_port == ap && f->b_port == bp && f->proto == t->proto) {
			if (f->expire_at > now)
				return f;
			flow_remove(c, i); /* expired: a new flow with the same tuple */
			break;
		}
	}
	if (c->free_head == UINT32_MAX) {
		BUMP(c->stats.c[GWC_FLOW_TABLE_FULL], 1);
		return NULL;
	}
	uint32_t idx = c->free_head;
	struct flow *f = &c->flows[idx];
	c->free_head = f->next;
	memset(f, 0, sizeof *f);
	*f = (struct flow){.a_ip = a, .b_ip = b, .a_port = ap, .b_port = bp, .proto = t->proto, .used = true};
	struct gwc_epoch *ep = pin ? pin : c->live[c->cur];
	f->epoch = ep->id;
	ep->pinned++;
	BUMP(ep_stats(c, ep->id)->flows, 1);
	f->expire_at = now + c->cfg.idle_ns;
	f->next = c->buckets[h];
	c->buckets[h] = idx;
	*is_new = true;
	BUMP(c->stats.c[GWC_FLOWS_NEW], 1);
	STORE(c->stats.flows_active, LOAD(c->stats.flows_active) + 1);
	return f;
}

/* A SYN that opens the connection being followed again (a retransmission: its sequence
 * number, and no byte after it yet, at either gateway) changes nothing. */
static bool syn_repeats(const struct flow *f, const struct tuple *t)
{
	const struct stream *st = f->st;
	if (f->fins || (f->out_dir & 4) || (!st && !f->web))
		return false;
	if (st && !(st->started && st->offset == 0 && st->nooo == 0 && st->next == t->seq + 1))
		return false;
	return !f->web || gw_web_opened_by(f->web, t->seq);
}

static void flow_touch(struct gwc *c, struct flow *f, const struct tuple *t, uint64_t now)
{
	if (f->expire_at != UINT64_MAX)
		f->expire_at = now + c->cfg.idle_ns;
	if (f->web && c->web_newest != (uint32_t)(f - c->flows)) {
		web_unlink(c, f);
		web_link_newest(c, f);
	}
	if (t->proto != 6)
		return;
	if ((t->tcp_flags & 0x12) == 0x02 && (f->fins || f->st || f->web || (f->out_dir & 4)) && !syn_repeats(f, t)) {
		/* a SYN: a new connection on a flow's ports (a client reusing its port soon after
		 * a close), followed afresh; the old one's stream and web following go */
		flow_forget_connection(c, f);
		f->fins = 0;
		f->out_dir = 0;
	}
	if (t->tcp_flags & 0x04) /* RST */
		f->fins = 3;
	else if (t->tcp_flags & 0x01)
		f->fins |= canon_swap(t) ? 2 : 1;
	if (f->fins == 3)
		f->expire_at = now + c->cfg.linger_ns;
}

/* A TCP connection that has ended (RST, or a FIN each way) gives back its stream and its
 * following as a web connection at once, not when the flow expires: a client opening
 * connections one after another would otherwise fill --dpi-flows and --web-flows within
 * the linger time and leave the next connections without URIs or content. Called once
 * the packet that ended it was handled. Later segments of the flow (retransmissions)
 * are not followed again. */
static void flow_release_if_closed(struct gwc *c, struct flow *f)
{
	if (f->fins != 3 || (!f->st && !f->web))
		return;
	flow_forget_connection(c, f);
	f->out_dir |= 4;
	BUMP(c->stats.c[GWC_STREAMS_CLOSED], 1);
}

/* ---------------- reassembly, KeywordMatch, HTTP ---------------- */

/* Records go out one behind: which record is a packet's last is known only when the
 * packet's stream work is done, and the last one says so (packet_last), so a middlebox
 * that holds the packet knows when all of its records are in. */
static void ext_out(struct gwc *c, const struct ext_record *rec)
{
	if (c->has_pend && c->emit)
		c->emit(c->emit_ctx, &c->pend);
	c->pend = *rec;
	c->pend.packet_nonce = c->pkt_nonce;
	c->pend.packet_last = false;
	if (rec->uri) {
		memcpy(c->pend_uri, rec->uri, rec->uri_len);
		c->pend.uri = c->pend_uri;
	}
	if (rec->ntokens)
		c->tokbuf ^= 1; /* the next chunk's tokens go to the other buffer */
	c->has_pend = true;
}

/* The packet's stream work is done: its last record goes out. True if it made any. */
static bool ext_packet_done(struct gwc *c)
{
	if (!c->has_pend)
		return false;
	c->has_pend = false;
	c->pend.packet_last = true;
	if (c->emit)
		c->emit(c->emit_ctx, &c->pend);
	return true;
}

static void emit_tokens(struct gwc *c, struct stream *st, const struct gwc_epoch *ep, const uint8_t flow[37],
			const uint8_t *data, size_t len)
{
	while (len) {
		size_t n = len < KM_CHUNK ? len : KM_CHUNK;
		embark_token_ct *tok = c->tok[c->tokbuf];
		uint64_t *off = c->off[c->tokbuf];
		size_t k = embark_km_encrypt(st->km, data, n, tok, off, KM_CHUNK + EMBARK_TOKEN_LEN);
		if (k) {
			struct ext_record rec = {.epoch = ep->id,
						 .salt0 = embark_km_salt0(st->km),
						 .tokens = tok,
						 .offsets = off,
						 .ntokens = k};
			memcpy(rec.flow, flow, EXT_FLOW_ID_LEN);
			ext_out(c, &rec);
			BUMP(c->stats.c[GWC_EXT_RECORDS], 1);
			BUMP(c->stats.c[GWC_EXT_TOKENS], k);
		}
		data += n;
		len -= n;
	}
}

/* A complete request head: emits host + path, encrypted, and sets up the body skip.
 * Returns false if this is not HTTP/1.x or its body cannot be delimited (the stream is
 * then left alone). */
static bool http_request(struct gwc *c, struct stream *st, const struct gwc_epoch *ep, const uint8_t flow[37])
{
	struct http1_request req;
	uint8_t uri[HTTP_HEAD_MAX], enc[HTTP_HEAD_MAX + 16];
	if (http1_parse_request(st->head, st->head_len, &req, uri, sizeof uri) != 0)
		return false;
	if (embark_uri_encrypt(ep->keys, uri, req.uri_len, enc) == 0) {
		unsigned slot = st->nasked++ % STREAM_ASKED;
		memcpy(st->asked[slot], enc, EMBARK_URI_ID_LEN);
		st->asked_tagged[slot] = false;
		struct ext_record rec = {.epoch = ep->id, .uri = enc, .uri_len = req.uri_len + 16};
		memcpy(rec.flow, flow, EXT_FLOW_ID_LEN);
		if (st->km)
			rec.salt0 = embark_km_salt0(st->km);
		ext_out(c, &rec);
		BUMP(c->stats.c[GWC_EXT_RECORDS], 1);
		BUMP(c->stats.c[GWC_EXT_URIS], 1);
	}
	OPENSSL_cleanse(uri, req.uri_len);
	http1_body_start(&st->body, req.body, req.length);
	return true;
}

static void http_feed(struct gwc *c, struct stream *st, const struct gwc_epoch *ep, const uint8_t flow[37],
		      const uint8_t *data, size_t len)
{
	while (len && st->http != HTTP_OFF) {
		if (st->http == HTTP_BODY) {
			int status;
			size_t n = http1_body_feed(&st->body, data, len, &status);
			data += n;
			len -= n;
			st->http = status < 0 ? HTTP_OFF : status ? HTTP_HEAD : HTTP_BODY;
			continue;
		}
		int status;
		size_t n = http1_head_feed(st->head, &st->head_len, data, len, &status);
		if (status < 0) {
			st->http = HTTP_OFF;
			return;
		}
		data += n;
		len -= n;
		if (status > 0) {
			bool ok = http_request(c, st, ep, flow);
			OPENSSL_cleanse(st->head, st->head_len);
			st->head_len = 0;
			st->http = !ok ? HTTP_OFF : st->body.kind == HTTP1_BODY_NONE ? HTTP_HEAD : HTTP_BODY;
		}
	}
}

static void deliver(struct gwc *c, struct stream *st, const struct gwc_epoch *ep, const uint8_t flow[37],
		    const uint8_t *data, size_t len)
{
	if (c->cfg.dpi && st->km)
		emit_tokens(c, st, ep, flow, data, len);
	if (c->cfg.uri)
		http_feed(c, st, ep, flow, data, len);
	st->next += (uint32_t)len;
	st->offset += len;
}

static int32_t seq_diff(uint32_t a, uint32_t b)
{
	return (int32_t)(a - b);
}

/* One outbound TCP segment into its stream, in sequence order. */
static void stream_segment(struct gwc *c, struct flow *f, const struct gwc_epoch *ep, const struct tuple *t,
			   const uint8_t flow[37])
{
	struct stream *st = f->st;
	if (!st) {
		if (c->streams >= c->cfg.dpi_flows) {
			BUMP(c->stats.c[GWC_DPI_NO_ROOM], 1);
			f->out_dir |= 4; /* asked once per flow */
			return;
		}
		st = calloc(1, sizeof *st);
		if (!st)
			return;
		c->streams++;
		f->st = st;
		BUMP(c->stats.c[GWC_DPI_STREAMS], 1);
	}
	if (c->cfg.dpi && (!st->km || st->km_epoch != ep->id)) {
		/* a flow moved to another epoch (maybe another key) gets a new sender; its next
		 * record carries the new salt0 */
		embark_km_sender_free(st->km);
		st->km = embark_km_sender_new(ep->keys, c->cfg.km_mode, c->cfg.km_reset_bytes);
		st->km_epoch = ep->id;
	}
	if (!st->started) {
		st->started = true;
		st->next = t->seq + ((t->tcp_flags & 0x02) ? 1 : 0);
	}
	const uint8_t *data = t->payload;
	size_t len = t->payload_len;
	uint32_t seq = t->seq + ((t->tcp_flags & 0x02) ? 1 : 0);
	if (!len)
		return;
	int32_t d = seq_diff(seq, st->next);
	if (d > 0) {
		/* a gap: hold the segment (a copy) until the gap is filled */
		if (st->nooo == OOO_SEGS || st->ooo_bytes + len > OOO_BYTES) {
			BUMP(c->stats.c[GWC_REASM_LOST], 1);
			return;
		}
		for (size_t i = 0; i < st->nooo; i++)
			if (st->ooo[i].seq == seq && st->ooo[i].len >= len)
				return;
		uint8_t *copy = malloc(len);
		if (!copy)
			return;
		memcpy(copy, data, len);
		st->ooo[st->nooo++] = (struct seg){.seq = seq, .len = (uint32_t)len, .data = copy};
		st->ooo_bytes += len;
		BUMP(c->stats.c[GWC_REASM_HELD], 1);
		return;
	}
	if ((size_t) - (int64_t)d >= len)
		return; /* all of it delivered already */
	deliver(c, st, ep, flow, data + (size_t) - (int64_t)d, len - (size_t) - (int64_t)d);
	/* whatever held segment now continues the stream */
	for (bool more = true; more;) {
		more = false;
		for (size_t i = 0; i < st->nooo; i++) {
			struct seg *s = &st->ooo[i];
			int32_t sd = seq_diff(s->seq, st->next);
			if (sd > 0)
				continue;
			if ((int64_t)s->len > -(int64_t)sd)
				deliver(c, st, ep, flow, s->data + (size_t) - (int64_t)sd,
					s->len - (size_t) - (int64_t)sd);
			st->ooo_bytes -= s->len;
			free(s->data);
			*s = st->ooo[--st->nooo];
			more = true;
			break;
		}
	}
}

/* The flow as the cloud sees it: from the encrypted packet's header. */
static void flow_id_of(const uint8_t *ip6, size_t len, uint8_t id[EXT_FLOW_ID_LEN])
{
	memcpy(id, ip6 + 8, 32);
	size_t l4 = 40 + ((size_t)ip6[41] + 1) * 8;
	if (l4 + 4 <= len)
		memcpy(id + 32, ip6 + l4, 4);
	else
		memset(id + 32, 0, 4);
	id[36] = ip6[40];
}

/* ---------------- web-cache content ---------------- */

/* The key of a URI id under an epoch, made once and kept for the next segments. */
static embark_content *content_key(struct gwc *c, const struct gwc_epoch *ep, const uint8_t id[EMBARK_URI_ID_LEN])
{
	for (size_t k = 0; k < CKEY_SLOTS; k++)
		if (c->ckeys[k].key && c->ckeys[k].epoch == ep->id &&
		    memcmp(c->ckeys[k].uri_id, id, EMBARK_URI_ID_LEN) == 0)
			return c->ckeys[k].key;
	unsigned k = c->ckey_next++ % CKEY_SLOTS;
	embark_content_free(c->ckeys[k].key);
	c->ckeys[k].key = embark_content_new(ep->keys, id);
	c->ckeys[k].epoch = ep->id;
	memcpy(c->ckeys[k].uri_id, id, EMBARK_URI_ID_LEN);
	return c->ckeys[k].key;
}

enum { SLOT_UNASKED = -1, SLOT_SPLICED = -2 };

/* The request (its slot in st->asked) whose answer a content segment is part of: one for
 * its URI whose answer came as this segment's instance, else the oldest one for its URI
 * whose answer has not begun. One response keeps one instance: a cache cannot splice two
 * instances of a URI, each segment authentic, into one answer (README "HTTP proxy/cache
 * over ciphertext", part 1). A URI asked twice on a connection has two slots, so two
 * instances may come. */
static int asked_slot(const struct stream *st, const embark_content_info *ci)
{
	unsigned n = st->nasked < STREAM_ASKED ? st->nasked : STREAM_ASKED;
	int fresh = SLOT_UNASKED, other = SLOT_UNASKED;
	for (unsigned r = st->nasked - n; r != st->nasked; r++) {
		unsigned i = r % STREAM_ASKED;
		if (memcmp(st->asked[i], ci->uri_id, EMBARK_URI_ID_LEN) != 0)
			continue;
		if (!st->asked_tagged[i]) {
			if (fresh < 0)
				fresh = (int)i;
		} else if (memcmp(st->asked_tag[i], ci->seg.tag, EMBARK_CONTENT_TAG_LEN) == 0) {
			return (int)i;
		} else {
			other = SLOT_SPLICED;
		}
	}
	return fresh >= 0 ? fresh : other;
}

/* A content segment (or a proxy's content frame) from the cloud in flow f, opened in place:
 * it must name a URI the connection asked for and keep its answer's instance, where this
 * gateway followed the connection's requests (its stream: room permitting, URIs on; else
 * it is taken unchecked, counted), and open under its URI's key. false: refused. */
static bool content_open(struct gwc *c, struct flow *f, const struct gwc_epoch *ep, const embark_content_info *ci,
			 uint8_t *pkt, size_t len)
{
	struct stream *st = f ? f->st : NULL;
	int slot = SLOT_UNASKED;
	if (st && st->nasked) {
		slot = asked_slot(st, ci);
		if (slot < 0) {
			BUMP(c->stats.c[slot == SLOT_SPLICED ? GWC_CONTENT_SPLICED : GWC_CONTENT_UNASKED], 1);
			return false;
		}
	} else {
		BUMP(c->stats.c[GWC_CONTENT_UNCHECKED], 1);
	}
	embark_content *key = content_key(c, ep, ci->uri_id);
	if (!key || embark_content_open_packet(key, ci, pkt, len) != 0)
		return false;
	if (slot >= 0 && !st->asked_tagged[slot]) { /* only an authentic segment names the instance */
		memcpy(st->asked_tag[slot], ci->seg.tag, EMBARK_CONTENT_TAG_LEN);
		st->asked_tagged[slot] = true;
	}
	return true;
}

/* Room for a new web connection when all are taken: the one silent longest goes (the
 * web list's oldest). Most often that is a connection a cloud cache answered: the server
 * saw its handshake but never its request, and nothing closes it here before the
 * server's own timeout. Its answers, if any come, go out ordinary. */
static void web_evict_idlest(struct gwc *c)
{
	web_drop(c, &c->flows[c->web_oldest]);
	BUMP(c->stats.c[GWC_WEB_EVICTED], 1);
}

/* A decrypted packet from the cloud, at the server's side: a new connection to a server
 * here gets followed (room permitting), a request segment is read. */
static void web_inbound(struct gwc *c, struct flow *f, const struct gwc_epoch *ep, const struct tuple *t)
{
	if ((t->tcp_flags & 0x12) == 0x02 && !f->web) { /* a new connection (flow_touch) */
		if (c->webs && c->webs >= c->cfg.web_flows)
			web_evict_idlest(c);
		if (c->webs >= c->cfg.web_flows || !(f->web = gw_web_new())) {
			BUMP(c->stats.c[GWC_WEB_NO_ROOM], 1);
			return;
		}
		c->webs++;
		web_link_newest(c, f);
		BUMP(c->stats.c[GWC_WEB_FLOWS], 1);
		gw_web_client_syn(f->web, t->seq);
	} else if (f->web && t->payload_len) {
		gw_web_request(f->web, ep->keys, t->seq, t->payload, t->payload_len);
	}
}

/* A packet from the server here, before it is encrypted: true if it goes as content. */
static bool web_outbound(struct gwc *c, struct flow *f, const struct gwc_pkt *p, const struct tuple *t,
			 embark_content_info *ci)
{
	if (!f->web)
		return false;
	if ((t->tcp_flags & 0x12) == 0x12) {
		gw_web_server_syn(f->web, t->seq);
		return false;
	}
	if (!t->payload_len ||
	    !gw_web_response(f->web, t->seq, t->payload, t->payload_len, c->cfg.content_lifetime_s, ci))
		return false;
	if (c->cloud_mtu && embark_encrypted_len(p->in, p->len, true) > c->cloud_mtu) {
		BUMP(c->stats.c[GWC_CONTENT_TOO_BIG], 1);
		return false;
	}
	return true;
}

/* A frame a cloud proxy originated in a flow sent out from here: the original packet it
 * stands for, from the flow table's ends and the frame's TCP header and content. */
static int frame_inbound(struct gwc *c, struct gwc_pkt *p, struct gwc_epoch *ep, uint64_t now)
{
	embark_frame_in in;
	uint8_t v[CLOUD_VIEW_LEN];
	struct flow *f;
	int rc = !c->framer ? EMBARK_E_TAMPERED : embark_frame_open(c->framer, p->in, p->len, &in);
	if (rc == EMBARK_OK &&
	    (!cloud_view(p->in, p->len, true, v, NULL) || !(f = cloud_find(c, v, now)) || f->proto != 6))
		rc = EMBARK_E_REWRITTEN; /* no flow of ours */
	if (rc == EMBARK_OK) {
		struct flow_ends e = flow_ends(f);
		rc = embark_frame_to_ipv4(&in, e.peer_ip, e.own_ip, e.peer_port, e.own_port, p->out, p->cap,
					  &p->out_len);
		if (rc == EMBARK_OK && in.content.present && !content_open(c, f, ep, &in.content, p->out, p->out_len))
			rc = EMBARK_E_CONTENT;
		struct tuple t;
		if (rc == EMBARK_OK && parse_v4(p->out, p->out_len, &t)) {
			flow_touch(c, f, &t, now); /* a proxy's FIN ends the connection too */
			flow_release_if_closed(c, f);
		}
	}
	BUMP(c->stats.c[rc == EMBARK_OK ? GWC_FRAMES_TAKEN : GWC_FRAMES_REFUSED], 1);
	if (rc != EMBARK_OK)
		BUMP(c->stats.dec_err[rc], 1);
	else
		BUMP(c->stats.c[GWC_ENT_TX_OK], 1);
	return rc;
}

/* ---------------- bursts ---------------- */

#define BURST_MAX 64

/* The outbound TCP segments of a burst into their streams (KeywordMatch tokens, URIs), in
 * the direction each flow first left in; a packet whose records are out is marked. */
static void outbound_streams(struct gwc *c, struct gwc_pkt *pk, const struct tuple *t, struct flow **fl,
			     struct gwc_epoch **ep, size_t m)
{
	for (size_t i = 0; i < m; i++) {
		struct flow *f = fl[i];
		if (!f || pk[i].rc != EMBARK_OK || t[i].proto != 6 || (f->out_dir & 4))
			continue;
		uint8_t dir = canon_swap(&t[i]) ? 2 : 1;
		if (!(f->out_dir & 3))
			f->out_dir |= dir;
		if ((f->out_dir & 3) != dir)
			continue; /* the other direction of a flow that left here first */
		uint8_t id[EXT_FLOW_ID_LEN];
		flow_id_of(pk[i].out, pk[i].out_len, id);
		if (!embark_packet_nonce(pk[i].out, pk[i].out_len, &c->pkt_nonce))
			continue; /* cannot be: the gateway made it */
		stream_segment(c, f, ep[i], &t[i], id);
		if (ext_packet_done(c) && c->emit)
			pk[i].out[1] |= (uint8_t)(GWC_LABEL_RECORDS >> 16);
	}
}

void gwc_outbound(struct gwc *c, struct gwc_pkt *p, size_t n, uint64_t now)
{
	for (size_t base = 0; base < n; base += BURST_MAX) {
		size_t m = n - base < BURST_MAX ? n - base : BURST_MAX;
		struct gwc_pkt *pk = p + base;
		struct tuple t[BURST_MAX];
		struct flow *fl[BURST_MAX];
		struct gwc_epoch *ep[BURST_MAX];
		BUMP(c->stats.c[GWC_ENT_RX], m);
		for (size_t i = 0; i < m; i++) {
			fl[i] = NULL;
			ep[i] = NULL;
			if (!parse_v4(pk[i].in, pk[i].len, &t[i])) {
				pk[i].rc = EMBARK_E_MALFORMED;
				BUMP(c->stats.c[GWC_ENT_NOT_IPV4], 1);
				continue;
			}
			bool is_new;
			fl[i] = flow_get(c, &t[i], now, NULL, &is_new);
			ep[i] = c->live[c->cur];
			if (fl[i]) {
				struct gwc_epoch *pinned = live_by_id(c, fl[i]->epoch);
				if (!pinned) {
					/* its epoch was retired: the flow moves to the current one */
					fl[i]->epoch = ep[i]->id;
					ep[i]->pinned++;
					BUMP(c->stats.c[GWC_FLOWS_MOVED], 1);
				} else {
					ep[i] = pinned;
				}
				flow_touch(c, fl[i], &t[i], now);
			}
		}
		embark_content_info ci[BURST_MAX];
		bool is_content[BURST_MAX] = {false};
		if (c->cfg.content)
			for (size_t i = 0; i < m; i++)
				if (fl[i] && t[i].proto == 6)
					is_content[i] = web_outbound(c, fl[i], &pk[i], &t[i], &ci[i]);
		/* one library burst per live epoch among these packets */
		for (size_t e = 0; e < GWC_EPOCHS_LIVE; e++) {
			struct gwc_epoch *E = c->live[e];
			if (!E)
				continue;
			embark_burst_pkt b[BURST_MAX];
			size_t idx[BURST_MAX], k = 0;
			for (size_t i = 0; i < m; i++)
				if (ep[i] == E) {
					b[k] = (embark_burst_pkt){.in = pk[i].in,
								  .len = pk[i].len,
								  .out = pk[i].out,
								  .cap = pk[i].cap,
								  .content = is_content[i] ? &ci[i] : NULL};
					idx[k++] = i;
				}
			if (!k)
				continue;
			embark_encrypt_burst(E->gw, b, k);
			uint64_t ok = 0;
			uint32_t label = E->id & GWC_LABEL_MASK;
			for (size_t j = 0; j < k; j++) {
				struct gwc_pkt *q = &pk[idx[j]];
				q->rc = b[j].rc;
				q->out_len = b[j].out_len;
				if (q->rc != EMBARK_OK) {
					BUMP(c->stats.enc_err[q->rc], 1);
					continue;
				}
				ok++;
				if (b[j].content)
					BUMP(c->stats.c[GWC_CONTENT_SEALED], 1);
				/* the epoch in the flow label: not authenticated, and need not be: a
				 * wrong label only selects keys under which the SIV fails */
				q->out[1] = (uint8_t)((q->out[1] & 0xf0) | (label >> 16));
				q->out[2] = (uint8_t)(label >> 8);
				q->out[3] = (uint8_t)label;
				struct flow *f = fl[idx[j]];
				uint8_t v[CLOUD_VIEW_LEN], *l4;
				if (!f || !cloud_view(q->out, q->out_len, false, v, &l4))
					continue;
				if (f->natted) {
					/* an answer to a NAT-translated flow: as the NAT's packets came, reversed */
					uint8_t back[CLOUD_VIEW_LEN];
					memcpy(back, f->nat_view + 16, 16);
					memcpy(back + 16, f->nat_view, 16);
					memcpy(back + 32, f->nat_view + 34, 2);
					memcpy(back + 34, f->nat_view + 32, 2);
					cloud_rewrite(q->out, q->out_len, l4, back);
					BUMP(c->stats.c[GWC_NAT_ANSWERS], 1);
				} else {
					cloud_index(c, (uint32_t)(f - c->flows), v);
					f->out_src_is_a = !canon_swap(&t[idx[j]]);
				}
			}
			BUMP(c->stats.c[GWC_CLOUD_TX_OK], ok);
			BUMP(ep_stats(c, E->id)->encrypted, ok);
		}
		if (c->cfg.dpi || c->cfg.uri)
			outbound_streams(c, pk, t, fl, ep, m);
		for (size_t i = 0; i < m; i++)
			if (fl[i])
				flow_release_if_closed(c, fl[i]);
	}
}

void gwc_inbound(struct gwc *c, struct gwc_pkt *p, size_t n, uint64_t now)
{
	for (size_t base = 0; base < n; base += BURST_MAX) {
		size_t m = n - base < BURST_MAX ? n - base : BURST_MAX;
		struct gwc_pkt *pk = p + base;
		struct gwc_epoch *ep[BURST_MAX];
		BUMP(c->stats.c[GWC_CLOUD_RX], m);
		for (size_t i = 0; i < m; i++) {
			ep[i] = NULL;
			const uint8_t *q = pk[i].in;
			if (pk[i].len < 48 || (q[0] >> 4) != 6 || q[6] != 60) {
				pk[i].rc = EMBARK_E_NO_OPTION;
				BUMP(c->stats.c[GWC_CLOUD_NOT_EMBARK], 1);
				continue;
			}
			uint32_t label = ((uint32_t)(q[1] & 15) << 16 | (uint32_t)q[2] << 8 | q[3]) & GWC_LABEL_MASK;
			ep[i] = live_by_label(c, label);
			if (!ep[i]) {
				pk[i].rc = EMBARK_E_TAMPERED;
				BUMP(c->stats.c[GWC_UNKNOWN_EPOCH], 1);
			} else if (embark_is_frame(q, pk[i].len)) {
				pk[i].rc = frame_inbound(c, &pk[i], ep[i], now);
				ep[i] = NULL; /* done: not for the decrypt */
			}
		}
		for (size_t e = 0; e < GWC_EPOCHS_LIVE; e++) {
			struct gwc_epoch *E = c->live[e];
			if (!E)
				continue;
			embark_burst_pkt b[BURST_MAX];
			embark_content_info cin[BURST_MAX];
			size_t idx[BURST_MAX], k = 0;
			for (size_t i = 0; i < m; i++)
				if (ep[i] == E) {
					b[k] = (embark_burst_pkt){.in = pk[i].in,
								  .len = pk[i].len,
								  .out = pk[i].out,
								  .cap = pk[i].cap,
								  .content = c->cfg.content ? &cin[k] : NULL};
					idx[k++] = i;
				}
			if (!k)
				continue;
			embark_decrypt_burst(E->gw, b, k);
			/* A NAT's answer fails as rewritten: its destination is the encrypted
			 * endpoint of a flow sent out from here, which the cloud index finds. */
			embark_nat_back nb[BURST_MAX];
			embark_burst_pkt rb[BURST_MAX];
			size_t ridx[BURST_MAX], nr = 0;
			for (size_t j = 0; j < k; j++) {
				uint8_t v[CLOUD_VIEW_LEN];
				struct flow *f;
				if (b[j].rc != EMBARK_E_REWRITTEN || !cloud_view(b[j].in, b[j].len, true, v, NULL) ||
				    !(f = cloud_find(c, v, now)))
					continue;
				/* the answer goes to the source of the packets the view was taken from */
				nb[nr] = (embark_nat_back){.cloud_sport = e2_get_be16(v + 34),
							   .cloud_dport = e2_get_be16(v + 32)};
				memcpy(nb[nr].cloud_src, v + 16, 16);
				memcpy(nb[nr].cloud_dst, v, 16);
				struct flow_ends ends = flow_ends(f);
				nb[nr].dst_ip = ends.own_ip;
				nb[nr].dst_port = ends.own_port;
				nb[nr].peer_ip = ends.peer_ip;
				nb[nr].peer_port = ends.peer_port;
				rb[nr] = b[j];
				rb[nr].nat_back = &nb[nr];
				ridx[nr++] = j;
			}
			if (nr) {
				embark_decrypt_burst(E->gw, rb, nr);
				for (size_t r = 0; r < nr; r++)
					if (rb[r].rc == EMBARK_OK) {
						b[ridx[r]].rc = EMBARK_OK;
						b[ridx[r]].out_len = rb[r].out_len;
						BUMP(c->stats.c[GWC_NAT_ANSWERS], 1);
					}
			}
			uint64_t ok = 0;
			for (size_t j = 0; j < k; j++) {
				struct gwc_pkt *q = &pk[idx[j]];
				q->rc = b[j].rc;
				q->out_len = b[j].out_len;
				/* replies leave under the epoch their flow came in with */
				struct tuple t;
				bool is_new = false;
				struct flow *f = NULL;
				if (q->rc == EMBARK_OK && parse_v4(q->out, q->out_len, &t))
					f = flow_get(c, &t, now, E, &is_new);
				if (q->rc == EMBARK_OK && b[j].content && b[j].content->present) {
					if (content_open(c, f, E, b[j].content, q->out, q->out_len))
						BUMP(c->stats.c[GWC_CONTENT_OPENED], 1);
					else
						q->rc = EMBARK_E_CONTENT;
				}
				if (q->rc != EMBARK_OK) {
					BUMP(c->stats.dec_err[q->rc], 1);
					if (q->rc == EMBARK_E_CONTENT)
						BUMP(c->stats.c[GWC_CONTENT_REFUSED], 1);
					continue;
				}
				ok++;
				if (f) {
					flow_touch(c, f, &t, now);
					if (c->cfg.content && t.proto == 6)
						web_inbound(c, f, E, &t);
					flow_release_if_closed(c, f);
					/* translated by a cloud NAT (its source a pool value) or
					 * load balancer (its destination a backend's pool value):
					 * its answers must look like the reverse of what arrived */
					uint8_t v[CLOUD_VIEW_LEN];
					bool pool_src = embark_is_pool_addr(q->in + 8);
					bool pool_dst = embark_is_pool_addr(q->in + 24);
					if (!f->in_cloud_index && (pool_src || pool_dst) &&
					    cloud_view(q->in, q->len, false, v, NULL)) {
						memcpy(f->nat_view, v, CLOUD_VIEW_LEN);
						f->natted = true;
					}
				}
			}
			BUMP(c->stats.c[GWC_ENT_TX_OK], ok);
			BUMP(ep_stats(c, E->id)->decrypted, ok);
		}
	}
}
