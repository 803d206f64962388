/* SPDX-License-Identifier: BSD-3-Clause */
/* embark-proxy: an HTTP cache over ciphertext (README "HTTP proxy/cache over ciphertext",
 * part 4; the seed's Web Proxy of Table 4.3). It sits in the cloud chain between the
 * enterprise's gateways and never holds a key that opens anything: it caches the content
 * segments gateway B seals under a key of the request's URI alone, keyed by the URI's id
 * (the first 16 bytes of the encrypted URI that gateway A sends on the extension channel),
 * and answers a later request for the same URI by replaying them in the new connection as
 * frames under its own frame key (embark_frame_build), which gateway A verifies and opens.
 *
 * Per TCP flow it follows the handshake (the client is the SYN's sender; window scale and
 * timestamps of both ends), the server's next sequence number and the client's MACs. A
 * request packet the gateway marked waits for its records (mb_hold); its URI record gives
 * the id. Miss: the request goes on, and the content segments of the answer are stored
 * as they pass to the client (mb_cache). Hit: the request is dropped and the proxy is the
 * server from then on (mb_serve): the stored segments in the server's sequence space, then
 * a FIN; the client's packets of that connection go no further, nor do the server's. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <rte_mbuf.h>

#include "e2/bytes.h"
#include "e2/num.h"
#include "mb_cache.h"
#include "mb_nf.h"
#include "mb_serve.h"

#define TCP_FIN 0x01
#define TCP_SYN 0x02
#define TCP_RST 0x04
#define TCP_ACK 0x10
#define OUT_BATCH 32

enum prx_mode { PRX_PASS, PRX_SERVING, PRX_SERVED };

struct prx_flow {
	embark_u128 client; /* the SYN's source, as this proxy sees it (after any NAT) */
	uint16_t client_port;
	uint8_t mode; /* enum prx_mode */
	uint8_t in_port;
	bool server_next_set, wscale, ts;
	uint8_t client_wscale, server_wscale;
	uint32_t server_next, client_isn;
	uint32_t server_tsval, client_tsval;
	uint32_t label;
	uint8_t eth[12]; /* the client's frames' destination and source MACs */
	uint8_t client_addr[16], server_addr[16];
	uint8_t cport_be[2], sport_be[2];
	struct mb_cache_obj *obj; /* serving: the object, pinned in the proxy's cache */
	struct mb_serve serve;
};

/* A request's URI id, by the flow its record names (the flow as gateway A sent it: a NAT
 * before this proxy rewrites the packets, not the records; mb_hold pairs them). */
struct prx_req {
	uint8_t uri_id[EMBARK_URI_ID_LEN];
	uint32_t nonce;
	bool have;
};

struct prx {
	const char *frame_key_path;
	uint32_t flows_max, serving_max, objects_max;
	uint64_t cache_bytes;
	double idle_s;
	embark_framer *framer;
	struct mb_flows *flows, *reqs;
	struct mb_cache *cache;
	struct mb_flow_key *serving; /* the flows being served, for the timer */
	size_t n_serving;
	uint32_t nonce;
	uint64_t requests, plain_requests, hits, misses, miss_no_syn, no_serve_room, served, gave_up, abandoned;
	uint64_t frames_sent, frames_failed, hit_bytes, client_after_hit, server_after_hit;
	uint64_t seg_stored, seg_ignored, seg_dropped, objects_completed, passed, table_full;
};

/* The flow stops being served (done, given up, abandoned, expired): its object is unpinned. */
static void serve_end(struct prx *x, struct prx_flow *f)
{
	if (f->obj)
		mb_cache_unpin(x->cache, f->obj);
	f->obj = NULL;
}

static void prx_evict(void *ctx, void *val)
{
	struct prx_flow *f = val;
	if (f->mode == PRX_SERVING)
		serve_end(ctx, f);
}

/* The window the client's segment offers, in bytes. */
static uint64_t client_window(const struct prx_flow *f, const uint8_t *th)
{
	return (uint64_t)e2_get_be16(th + 14) << (f->wscale ? f->client_wscale : 0);
}

static int prx_opt(void *st, int c, const char *arg, struct e2_err *err)
{
	struct prx *x = st;
	switch (c) {
	case 'k': x->frame_key_path = arg; return 0;
	case 'f': return e2_num_u32("--flows", arg, 64, 1u << 24, &x->flows_max, err);
	case 'i': return e2_num_duration("--idle-timeout", arg, 1, 86400, &x->idle_s, err);
	case 'o': return e2_num_u32("--cache-objects", arg, 1, 1u << 22, &x->objects_max, err);
	case 'b': return e2_num_size("--cache-size", arg, 1 << 16, 1ull << 36, &x->cache_bytes, err);
	case 's': return e2_num_u32("--serving", arg, 1, 1u << 16, &x->serving_max, err);
	}
	e2_seterr(err, "unknown option");
	return -1;
}

static int prx_setup(void *st, bool check, struct e2_err *err)
{
	struct prx *x = st;
	char msg[256];
	if (!x->frame_key_path) {
		e2_seterr(err,
			  "needs --frame-key FILE (the key file whose frame subkey gateway A's --frame-key holds)");
		return -1;
	}
	embark_keys *fk = embark_keys_load(x->frame_key_path, msg, sizeof msg);
	if (!fk) {
		e2_seterr(err, "--frame-key: %s", msg);
		return -1;
	}
	x->framer = embark_framer_new(fk);
	embark_keys_free(fk);
	if (!x->framer) {
		e2_seterr(err, "--frame-key %s: cannot set up its MAC", x->frame_key_path);
		return -1;
	}
	if (check) {
		printf("%s: a frame key; cache of %u objects, %llu bytes\n", x->frame_key_path, x->objects_max,
		       (unsigned long long)x->cache_bytes);
		return 0;
	}
	uint64_t idle = (uint64_t)(x->idle_s * 1e9);
	x->flows = mb_flows_new(x->flows_max, sizeof(struct prx_flow), idle);
	x->reqs = mb_flows_new(x->flows_max, sizeof(struct prx_req), idle);
	x->cache = mb_cache_new(x->objects_max, x->cache_bytes);
	x->serving = calloc(x->serving_max, sizeof(*x->serving));
	if (!x->flows || !x->reqs || !x->cache || !x->serving) {
		e2_seterr(err, "no memory for the flow tables or the cache");
		return -1;
	}
	mb_flows_on_evict(x->flows, prx_evict, x);
	return 0;
}

/* A request's URI record: its id kept for the packet that completes the request. */
static void prx_ext(void *st, struct e2nf *nf, struct mb_ext *e, uint64_t now)
{
	struct prx *x = st;
	(void)nf;
	if (!e->uri)
		return;
	if (!e->epoch || e->uri_len < EMBARK_URI_ID_LEN) {
		x->plain_requests++; /* a plain URI: this proxy caches content segments only */
		return;
	}
	x->requests++;
	struct mb_flow_key k;
	bool fresh;
	mb_flow_key(&e->key, &k, NULL);
	struct prx_req *r = mb_flows_add(x->reqs, &k, now, &fresh);
	if (!r) {
		x->table_full++;
		return;
	}
	memcpy(r->uri_id, e->uri, EMBARK_URI_ID_LEN);
	r->nonce = e->packet_nonce;
	r->have = true;
}

/* The options of a TCP header: window scale (SYN) and the timestamp value. */
static void tcp_options(const uint8_t *th, size_t len, int *wscale, bool *has_ts, uint32_t *tsval)
{
	size_t i = 20;
	while (i < len) {
		uint8_t kind = th[i];
		if (kind == 0)
			break;
		if (kind == 1) {
			i++;
			continue;
		}
		if (i + 1 >= len || th[i + 1] < 2 || i + th[i + 1] > len)
			break;
		if (kind == 3 && th[i + 1] == 3)
			*wscale = th[i + 2] > 14 ? 14 : th[i + 2];
		else if (kind == 8 && th[i + 1] == 10) {
			*has_ts = true;
			*tsval = e2_get_be32(th + i + 2);
		}
		i += th[i + 1];
	}
}

/* One frame of a served connection toward the client: the client's MACs swapped, IPv6
 * from server to client as this proxy sees them, the TCP header mb_serve asked for (with
 * timestamps when the connection has them: the server's last value echoing the client's),
 * and, for a segment, the stored content block and ciphertext. */
static void send_frame(struct prx *x, struct e2nf *nf, struct prx_flow *f, const struct mb_serve_out *o)
{
	uint8_t tcp[MB_SERVE_HDR_MAX];
	uint32_t ts[2] = {f->server_tsval, f->client_tsval};
	size_t tl = mb_serve_header(o, f->sport_be, f->cport_be, f->ts ? ts : NULL, tcp);
	embark_frame fr = {.label = f->label, .nonce = ++x->nonce, .tcp = tcp, .tcp_len = tl};
	memcpy(fr.src, f->server_addr, 16);
	memcpy(fr.dst, f->client_addr, 16);
	if (o->kind == MB_SERVE_SEG) {
		const struct mb_cache_seg *g = &f->obj->segs[o->seg];
		fr.content = &g->ci;
		fr.payload = g->data;
		fr.payload_len = g->len;
	}
	struct rte_mbuf *m = rte_pktmbuf_alloc(e2nf_pool(nf));
	if (!m) {
		x->frames_failed++; /* the serve's timer sends it again */
		return;
	}
	uint8_t *d = rte_pktmbuf_mtod(m, uint8_t *);
	size_t room = rte_pktmbuf_tailroom(m), len;
	if (room < 14 || embark_frame_build(x->framer, &fr, d + 14, room - 14, &len) != EMBARK_OK) {
		x->frames_failed++;
		rte_pktmbuf_free(m);
		return;
	}
	memcpy(d, f->eth + 6, 6);
	memcpy(d + 6, f->eth, 6);
	d[12] = 0x86;
	d[13] = 0xdd;
	m->data_len = (uint16_t)(14 + len);
	m->pkt_len = 14 + len;
	if (o->kind == MB_SERVE_SEG)
		x->hit_bytes += fr.payload_len;
	x->frames_sent++;
	e2nf_send(nf, f->in_port, m);
}

/* Sends what the serve of flow f has to send now; ends the serve when it is done. */
static void serve_step(struct prx *x, struct e2nf *nf, struct prx_flow *f, uint64_t now)
{
	struct mb_serve_out out[OUT_BATCH];
	size_t n;
	while ((n = mb_serve_next(&f->serve, now, out, OUT_BATCH)) > 0) {
		for (size_t i = 0; i < n; i++)
			send_frame(x, nf, f, &out[i]);
		if (n < OUT_BATCH)
			break;
	}
	if (mb_serve_done(&f->serve)) {
		if (f->serve.gave_up)
			x->gave_up++;
		else
			x->served++;
		serve_end(x, f);
		f->mode = PRX_SERVED;
	}
}

static bool start_serving(struct prx *x, struct e2nf *nf, struct prx_flow *f, const struct mb_pkt *p,
			  struct mb_cache_obj *o, uint32_t rcv_next, uint64_t wnd, uint64_t now)
{
	if (x->n_serving == x->serving_max) {
		x->no_serve_room++;
		mb_cache_unpin(x->cache, o);
		return false;
	}
	x->serving[x->n_serving++] = p->flow;
	f->mode = PRX_SERVING;
	f->obj = o;
	mb_serve_start(&f->serve, o, f->server_next, rcv_next, wnd, now);
	serve_step(x, nf, f, now);
	return true;
}

/* The client's packet that completes a request: its URI id, if its record is in. */
static const struct prx_req *request_of(struct prx *x, const struct mb_pkt *p, uint64_t now)
{
	uint32_t nonce;
	if (!mb_pkt_nonce(p, &nonce))
		return NULL;
	struct prx_req *r = mb_flows_find(x->reqs, p->rec_flow ? p->rec_flow : &p->flow, now);
	if (!r || !r->have || r->nonce != nonce)
		return NULL;
	r->have = false;
	return r;
}

static int prx_pkt(void *st, struct e2nf *nf, unsigned port, struct mb_pkt *p, uint64_t now)
{
	struct prx *x = st;
	int on = (int)(port ^ 1);
	if (!p->v6 || p->key.proto != 6 || p->l4_len < 20) {
		x->passed++;
		return on;
	}
	const uint8_t *th = p->l4;
	size_t thl = (size_t)(th[12] >> 4) * 4;
	if (thl < 20 || thl > p->l4_len) {
		x->passed++;
		return on;
	}
	uint32_t seq = e2_get_be32(th + 4), ack = e2_get_be32(th + 8);
	uint8_t flags = th[13];
	size_t plen = p->l4_len - thl;
	int wscale = -1;
	bool has_ts = false;
	uint32_t tsval = 0;
	tcp_options(th, thl, &wscale, &has_ts, &tsval);

	struct prx_flow *f;
	if ((flags & (TCP_SYN | TCP_ACK)) == TCP_SYN) {
		bool fresh;
		f = mb_flows_add(x->flows, &p->flow, now, &fresh);
		if (!f) {
			x->table_full++;
			return on;
		}
		if (!fresh && f->mode != PRX_PASS && seq == f->client_isn)
			return MB_DROP; /* the SYN again of a connection this proxy answers */
		if (!fresh && f->mode == PRX_SERVING) {
			/* a new connection on the same ports: the client gave up the old one */
			serve_end(x, f);
			x->abandoned++;
		}
		memset(f, 0, sizeof *f); /* a new connection, though the ports were used before */
		f->client_isn = seq;
		f->client = p->key.sip;
		f->client_port = p->key.sport;
		f->in_port = (uint8_t)port;
		f->client_wscale = (uint8_t)(wscale < 0 ? 0 : wscale);
		f->wscale = wscale >= 0;
		f->ts = has_ts;
		f->client_tsval = tsval;
		f->label = mb_pkt_label(p) & MB_LABEL_MASK;
		memcpy(f->client_addr, p->saddr, 16);
		memcpy(f->server_addr, p->daddr, 16);
		memcpy(f->cport_be, p->ports, 2);
		memcpy(f->sport_be, p->ports + 2, 2);
		memcpy(f->eth, p->l3 - 14, 12);
		x->passed++;
		return on;
	}
	f = mb_flows_find(x->flows, &p->flow, now);
	if (!f) {
		x->passed++;
		return on;
	}
	bool from_client = p->key.sip == f->client && p->key.sport == f->client_port;
	if (f->mode != PRX_PASS) {
		if (!from_client) {
			x->server_after_hit++;
			return MB_DROP;
		}
		x->client_after_hit++;
		if (has_ts)
			f->client_tsval = tsval;
		if (f->mode == PRX_SERVING) {
			mb_serve_client(&f->serve, seq, plen, ack, client_window(f, th), flags, now);
			serve_step(x, nf, f, now);
		}
		return MB_DROP;
	}
	if (!from_client) {
		if ((flags & (TCP_SYN | TCP_ACK)) == (TCP_SYN | TCP_ACK)) {
			f->server_next = seq + 1;
			f->server_next_set = true;
			f->wscale = f->wscale && wscale >= 0;
			f->server_wscale = (uint8_t)(wscale < 0 ? 0 : wscale);
			f->ts = f->ts && has_ts;
		} else if (f->server_next_set && !(flags & (TCP_SYN | TCP_RST))) {
			uint32_t end = seq + (uint32_t)plen + (flags & TCP_FIN ? 1 : 0);
			if ((int32_t)(end - f->server_next) > 0)
				f->server_next = end;
		}
		if (has_ts)
			f->server_tsval = tsval;
		embark_content_info ci;
		const uint8_t *data;
		size_t dlen;
		if (plen && embark_packet_content(p->l3, p->l3_len, &ci, &data, &dlen)) {
			switch (mb_cache_put(x->cache, &ci, data, dlen, now)) {
			case MB_CACHE_STORED: x->seg_stored++; break;
			case MB_CACHE_COMPLETED:
				x->seg_stored++;
				x->objects_completed++;
				break;
			case MB_CACHE_IGNORED: x->seg_ignored++; break;
			case MB_CACHE_DROPPED: x->seg_dropped++; break;
			}
		}
		x->passed++;
		return on;
	}
	memcpy(f->eth, p->l3 - 14, 12);
	if (has_ts)
		f->client_tsval = tsval;
	const struct prx_req *r = plen ? request_of(x, p, now) : NULL;
	if (r) {
		struct mb_cache_obj *o = mb_cache_get(x->cache, r->uri_id, now);
		if (!o) {
			x->misses++;
		} else if (!f->server_next_set || (flags & (TCP_FIN | TCP_RST))) {
			x->miss_no_syn++; /* no sequence space to answer in */
			mb_cache_unpin(x->cache, o);
		} else {
			if (start_serving(x, nf, f, p, o, seq + (uint32_t)plen, client_window(f, th), now)) {
				x->hits++;
				return MB_DROP;
			}
		}
	}
	x->passed++;
	return on;
}

/* Retransmissions and the rest of each object, on the timer. */
static void prx_tick(void *st, struct e2nf *nf, uint64_t now)
{
	struct prx *x = st;
	for (size_t i = 0; i < x->n_serving;) {
		struct prx_flow *f = mb_flows_find(x->flows, &x->serving[i], now);
		if (f && f->mode == PRX_SERVING)
			serve_step(x, nf, f, now);
		if (!f || f->mode != PRX_SERVING) {
			x->serving[i] = x->serving[--x->n_serving];
			continue;
		}
		i++;
	}
}

/* A request is answered from the cache only once its record is in: it waits for it. */
static bool prx_waits(void *st)
{
	(void)st;
	return true;
}

static int prx_counters(void *st, char *buf, size_t len)
{
	struct prx *x = st;
	const struct mb_cache_stats *c = mb_cache_stats(x->cache);
	snprintf(
		buf, len,
		"requests=%llu\nplain_requests=%llu\nhits=%llu\nmisses=%llu\nmiss_no_syn=%llu\nno_serve_room=%llu\n"
		"serving=%zu\nserved=%llu\ngave_up=%llu\nabandoned=%llu\nframes_sent=%llu\nframes_failed=%llu\nhit_bytes=%llu\n"
		"client_after_hit=%llu\nserver_after_hit=%llu\nsegments_stored=%llu\nsegments_ignored=%llu\n"
		"segments_dropped=%llu\nobjects_completed=%llu\ncache_objects=%llu\ncache_bytes=%llu\n"
		"cache_evicted=%llu\ncache_expired=%llu\npassed=%llu\nflow_table_full=%llu\n",
		(unsigned long long)x->requests, (unsigned long long)x->plain_requests, (unsigned long long)x->hits,
		(unsigned long long)x->misses, (unsigned long long)x->miss_no_syn, (unsigned long long)x->no_serve_room,
		x->n_serving, (unsigned long long)x->served, (unsigned long long)x->gave_up,
		(unsigned long long)x->abandoned, (unsigned long long)x->frames_sent,
		(unsigned long long)x->frames_failed, (unsigned long long)x->hit_bytes,
		(unsigned long long)x->client_after_hit, (unsigned long long)x->server_after_hit,
		(unsigned long long)x->seg_stored, (unsigned long long)x->seg_ignored,
		(unsigned long long)x->seg_dropped, (unsigned long long)x->objects_completed,
		(unsigned long long)c->objects, (unsigned long long)c->bytes, (unsigned long long)c->evicted,
		(unsigned long long)c->expired, (unsigned long long)x->passed, (unsigned long long)x->table_full);
	return 0;
}

static void prx_fini(void *st)
{
	struct prx *x = st;
	mb_flows_free(x->flows); /* unpins what is being served */
	mb_flows_free(x->reqs);
	mb_cache_free(x->cache);
	free(x->serving);
	embark_framer_free(x->framer);
}

static const struct option prx_opts[] = {{"frame-key", required_argument, NULL, 'k'},
					 {"flows", required_argument, NULL, 'f'},
					 {"idle-timeout", required_argument, NULL, 'i'},
					 {"cache-objects", required_argument, NULL, 'o'},
					 {"cache-size", required_argument, NULL, 'b'},
					 {"serving", required_argument, NULL, 's'},
					 {NULL, 0, NULL, 0}};

int main(int argc, char **argv)
{
	static struct prx x = {
		.flows_max = 65536, .idle_s = 300, .objects_max = 1024, .cache_bytes = 64ull << 20, .serving_max = 256};
	struct mb_nf m = {
		.name = "embark-proxy",
		.usage = "NAME\n"
			 "    embark-proxy - HTTP cache over Embark ciphertext\n"
			 "SYNOPSIS\n"
			 "    embark-proxy --frame-key FILE --ext URL --port P0 --port P1 [options]\n"
			 "DESCRIPTION\n"
			 "    Stores the content segments an embark-gw --content seals (answers to GETs it may\n"
			 "    cache) by the encrypted URI's id as they pass toward the client, and answers a\n"
			 "    later request for that URI itself: the request is dropped and the stored segments\n"
			 "    go to the client in the connection's own sequence space as frames under the frame\n"
			 "    key, which the client's gateway (embark-gw --content --frame-key FILE) verifies and\n"
			 "    opens. URIs come from the client's gateway's extension channel (--ext). Frames\n"
			 "    go port 0 <-> 1; a served connection's packets go no further.\n"
			 "OPTIONS\n"
			 "    --frame-key FILE  a key file of the proxy's own (embark-keygen), 0600; its frame\n"
			 "                  subkey MACs the frames (never the enterprise's key)\n"
			 "    --cache-objects N (1024)  --cache-size BYTES (64M)  --serving N (256 answered at once)\n"
			 "    --flows N (65536)  --idle-timeout S (300)  --check\n"
			 "COUNTERS\n"
			 "    requests plain_requests hits misses miss_no_syn no_serve_room serving served gave_up\n"
			 "    abandoned (a new connection on the ports of one being answered)\n"
			 "    frames_sent frames_failed hit_bytes client_after_hit server_after_hit\n"
			 "    segments_stored segments_ignored segments_dropped objects_completed cache_objects\n"
			 "    cache_bytes cache_evicted cache_expired passed flow_table_full, and libe2nf's\n",
		.opts = prx_opts,
		.opt = prx_opt,
		.setup = prx_setup,
		.pkt = prx_pkt,
		.ext = prx_ext,
		.waits_for_records = prx_waits,
		.tick = prx_tick,
		.counters = prx_counters,
		.fini = prx_fini,
		.ports = 2,
		.st = &x,
	};
	return mb_nf_main(&m, argc, argv);
}
