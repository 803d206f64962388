/* SPDX-License-Identifier: BSD-3-Clause */
/* embark-gw's packet path and control requests without DPDK: two gateway cores back to
 * back (one encrypts, the other decrypts), epochs and their switch, reassembly into
 * KeywordMatch tokens and encrypted URIs, damaged packets, and the control messages. */
#include <errno.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cmocka.h>

#include "common.h"
#include "e2/bytes.h"
#include "embark_gw.pb-c.h"
#include "gwctl.h"
#include "gwcore.h"

#define SEC 1000000000ull

static const char RULES1[] = "deny id=ssh proto=tcp dst=10.1.0.0/16 dport=22\n"
			     "accept id=web proto=tcp dst=10.2.0.0/24 dport=80\n"
			     "deny id=udp proto=udp sport=1000-2000\n";
static const char RULES2[] = "deny id=ssh proto=tcp dst=10.1.0.0/16 dport=22\n"
			     "deny id=telnet proto=tcp dport=23\n"
			     "accept id=web proto=tcp dst=10.2.0.0/25 dport=80-90\n"
			     "deny id=net src=10.3.0.0/16\n";

static void parse_rules(const char *text, embark_ruleset *rs)
{
	char err[256];
	assert_int_equal(embark_rules_parse(text, strlen(text), "test", rs, err, sizeof err), 0);
}

static struct gwc_epoch *epoch_with(uint32_t id, uint8_t keyfill, const char *rules, const char *pools, bool payload)
{
	embark_ruleset rs = {0};
	embark_poolset ps = {0};
	embark_config cfg;
	struct e2_err err = {0};
	char msg[256];
	embark_config_default(&cfg);
	cfg.encrypt_payload = payload;
	if (rules)
		parse_rules(rules, &rs);
	if (pools)
		assert_int_equal(embark_pools_parse(pools, strlen(pools), "pools", &ps, msg, sizeof msg), 0);
	struct gwc_epoch *ep = gwc_epoch_new(id, test_keys(keyfill), &rs, &ps, &cfg, &err);
	assert_non_null(ep);
	embark_ruleset_free(&rs);
	embark_poolset_free(&ps);
	return ep;
}

static struct gwc_epoch *epoch(uint32_t id, uint8_t keyfill, const char *rules)
{
	return epoch_with(id, keyfill, rules, NULL, true);
}

/* What the control socket hands out for an epoch made with `pools` (NULL: none): its
 * encrypted rules (the return value, *text_len bytes) and pool values. */
static char *export_epoch(struct gwc_epoch *ep, const char *pools, embark_u128 **values, size_t *n, size_t *text_len)
{
	embark_poolset ps = {0};
	char msg[256], *text;
	size_t *pool_of;
	struct e2_err e = {0};
	if (pools)
		assert_int_equal(embark_pools_parse(pools, strlen(pools), "pools", &ps, msg, sizeof msg), 0);
	assert_int_equal(gwc_epoch_export(ep, &ps, &text, text_len, values, &pool_of, n, &e), 0);
	free(pool_of);
	embark_poolset_free(&ps);
	return text;
}

/* what the extension channel got */
struct sink {
	size_t records, uris;
	uint8_t flow[EXT_FLOW_ID_LEN];
	uint32_t epoch;
	embark_token_ct tok[1 << 16];
	uint64_t off[1 << 16];
	uint64_t salt0[1 << 16];
	size_t ntok;
	uint8_t uri[8][256];
	size_t uri_len[8];
	/* the packet each record names, and whether it said it was that packet's last */
	uint32_t nonce[64];
	bool last[64];
};

static void sink_emit(void *ctx, const struct ext_record *r)
{
	struct sink *s = ctx;
	if (s->records < 64) {
		s->nonce[s->records] = r->packet_nonce;
		s->last[s->records] = r->packet_last;
	}
	s->records++;
	memcpy(s->flow, r->flow, EXT_FLOW_ID_LEN);
	s->epoch = r->epoch;
	for (size_t i = 0; i < r->ntokens && s->ntok < (1 << 16); i++) {
		s->tok[s->ntok] = r->tokens[i];
		s->off[s->ntok] = r->offsets[i];
		s->salt0[s->ntok++] = r->salt0;
	}
	if (r->uri && s->uris < 8 && r->uri_len <= 256) {
		memcpy(s->uri[s->uris], r->uri, r->uri_len);
		s->uri_len[s->uris++] = r->uri_len;
	}
}

static struct gwc *core_tokens(struct gwc_epoch *first, struct sink *s, int km_mode)
{
	struct gwc_config cfg;
	struct e2_err err = {0};
	gwc_config_default(&cfg);
	cfg.km_mode = km_mode;
	cfg.flows = 1024;
	cfg.drain_ns = 10 * SEC;
	cfg.linger_ns = 1 * SEC;
	struct gwc *c = gwc_new(&cfg, first, s ? sink_emit : NULL, s, &err);
	assert_non_null(c);
	return c;
}

static struct gwc *core(struct gwc_epoch *first, struct sink *s)
{
	return core_tokens(first, s, EMBARK_TOKENS_WINDOW);
}

static uint64_t counter(struct gwc *c, enum gwc_counter k)
{
	return gwc_stats(c)->c[k];
}

/* A TCP segment with the given sequence number, flags and payload. */
static size_t tcp(uint8_t *p, uint32_t sip, uint32_t dip, uint16_t sport, uint16_t dport, uint32_t seq, uint8_t flags,
		  const void *data, size_t len)
{
	uint64_t s = seq | 1;
	size_t n = build_ipv4(&s, p, 6, sip, dip, sport, dport, 0, len, 0);
	size_t hl = 20, l4 = (size_t)(p[hl + 12] >> 4) * 4;
	memcpy(p + hl + l4, data, len);
	put32(p + hl + 4, seq);
	p[hl + 13] = flags;
	p[hl + 16] = p[hl + 17] = 0;
	uint32_t ps = (sip >> 16) + (sip & 0xffff) + (dip >> 16) + (dip & 0xffff) + 6 + (uint32_t)(n - hl);
	put16(p + hl + 16, test_csum(p + hl, n - hl, ps));
	return n;
}

static uint32_t label_of(const uint8_t *ip6)
{
	return (uint32_t)(ip6[1] & 15) << 16 | (uint32_t)ip6[2] << 8 | ip6[3];
}

/* One packet through a's outbound and b's inbound: returns the label; the result must be
 * the input byte for byte. */
static uint32_t through(struct gwc *a, struct gwc *b, const uint8_t *in, size_t len, uint64_t now)
{
	static uint8_t enc[4096], dec[4096];
	struct gwc_pkt p = {.in = in, .len = len, .out = enc, .cap = sizeof enc};
	gwc_outbound(a, &p, 1, now);
	assert_int_equal(p.rc, EMBARK_OK);
	struct gwc_pkt q = {.in = enc, .len = p.out_len, .out = dec, .cap = sizeof dec};
	gwc_inbound(b, &q, 1, now);
	assert_int_equal(q.rc, EMBARK_OK);
	assert_int_equal(q.out_len, len);
	assert_memory_equal(dec, in, len);
	return label_of(enc);
}

static void roundtrip(bool payload)
{
	struct gwc *a = core(epoch_with(1, 3, RULES1, NULL, payload), NULL);
	struct gwc *b = core(epoch_with(1, 3, RULES1, NULL, payload), NULL);
	uint64_t s = 77;
	enum { N = 300 };
	static uint8_t in[N][1600], enc[N][1800], dec[N][1800];
	struct gwc_pkt p[N], q[N];
	size_t len[N];
	for (int i = 0; i < N; i++) {
		uint8_t proto = (uint8_t[]){6, 17, 1, 47}[rnd_below(&s, 4)];
		len[i] = build_ipv4(&s, in[i], proto, 0x0a000000 | rnd_below(&s, 1 << 18),
				    0x0a020000 | rnd_below(&s, 300), (uint16_t)(1024 + rnd_below(&s, 2000)),
				    (uint16_t)rnd_below(&s, 100), 4 * rnd_below(&s, 3), rnd_below(&s, 1400), -1);
		in[i][20 + 13] &= (uint8_t)~0x07; /* no SYN/FIN/RST: flows stay */
		p[i] = (struct gwc_pkt){.in = in[i], .len = len[i], .out = enc[i], .cap = sizeof enc[i]};
	}
	gwc_outbound(a, p, N, SEC);
	for (int i = 0; i < N; i++) {
		assert_int_equal(p[i].rc, EMBARK_OK);
		assert_int_equal(label_of(enc[i]), 1);
		assert_int_equal(enc[i][0] >> 4, 6);
		q[i] = (struct gwc_pkt){.in = enc[i], .len = p[i].out_len, .out = dec[i], .cap = sizeof dec[i]};
	}
	gwc_inbound(b, q, N, SEC);
	for (int i = 0; i < N; i++) {
		assert_int_equal(q[i].rc, EMBARK_OK);
		assert_int_equal(q[i].out_len, len[i]);
		assert_memory_equal(dec[i], in[i], len[i]);
	}
	assert_int_equal(counter(a, GWC_CLOUD_TX_OK), N);
	assert_int_equal(counter(b, GWC_ENT_TX_OK), N);
	assert_int_equal(gwc_stats(a)->ep[1].encrypted, N);
	/* not IPv4 from the enterprise, not Embark from the cloud: dropped and counted */
	struct gwc_pkt bad = {.in = enc[0], .len = p[0].out_len, .out = dec[0], .cap = sizeof dec[0]};
	gwc_outbound(a, &bad, 1, SEC);
	assert_int_not_equal(bad.rc, EMBARK_OK);
	assert_int_equal(counter(a, GWC_ENT_NOT_IPV4), 1);
	bad = (struct gwc_pkt){.in = in[0], .len = len[0], .out = dec[0], .cap = sizeof dec[0]};
	gwc_inbound(b, &bad, 1, SEC);
	assert_int_not_equal(bad.rc, EMBARK_OK);
	assert_int_equal(counter(b, GWC_CLOUD_NOT_EMBARK), 1);
	gwc_free(a);
	gwc_free(b);
}

static void test_roundtrip_bursts(void **st)
{
	(void)st;
	roundtrip(true);
	roundtrip(false); /* header-only */
}

/* A cloud NAT rewrites the source to an encrypted pool value (and the port): the inbound
 * path gives back the pool's plain address; any other rewrite is refused and counted. */
static void test_nat_restore(void **st)
{
	(void)st;
	static const char pools[] = "pool nat 198.51.100.0/28\n";
	struct gwc_epoch *ea = epoch_with(1, 8, RULES1, pools, true);
	size_t tl, np;
	embark_u128 *pool;
	free(export_epoch(ea, pools, &pool, &np, &tl));
	assert_int_equal(np, 16);
	struct gwc *a = core(ea, NULL), *b = core(epoch_with(1, 8, RULES1, pools, true), NULL);
	uint8_t in[200], enc[400], dec[400];
	size_t n = tcp(in, 0x0a000005, 0x08080404, 4000, 443, 77, 0x18, "hello, world", 12);
	struct gwc_pkt p = {.in = in, .len = n, .out = enc, .cap = sizeof enc};
	gwc_outbound(a, &p, 1, SEC);
	assert_int_equal(p.rc, EMBARK_OK);
	size_t l4 = 40 + ((size_t)enc[41] + 1) * 8;
	for (int i = 0; i < 16; i++)
		enc[8 + i] = (uint8_t)(pool[3] >> (8 * (15 - i)));
	put16(enc + l4, 40000);
	struct gwc_pkt q = {.in = enc, .len = p.out_len, .out = dec, .cap = sizeof dec};
	gwc_inbound(b, &q, 1, SEC);
	assert_int_equal(q.rc, EMBARK_OK);
	uint32_t src = e2_get_be32(dec + 12);
	assert_true(src >= 0xc6336400 && src <= 0xc633640f);
	assert_int_equal(e2_get_be16(dec + 20), 40000);
	assert_memory_equal(dec + 16, in + 16, 4);
	assert_memory_equal(dec + 40, in + 40, 12);
	/* not a pool value: refused */
	enc[8 + 5] ^= 1;
	q = (struct gwc_pkt){.in = enc, .len = p.out_len, .out = dec, .cap = sizeof dec};
	gwc_inbound(b, &q, 1, SEC);
	assert_int_equal(q.rc, EMBARK_E_REWRITTEN);
	assert_int_equal(gwc_stats(b)->dec_err[EMBARK_E_REWRITTEN], 1);
	free(pool);
	gwc_free(a);
	gwc_free(b);
}

/* Two gateways of one enterprise (the seed's two sites) under one key with `pools`, and a
 * flow that a sent out: how its first packet looks in the cloud. */
struct two_sites {
	struct gwc *a, *b;
	embark_u128 *pool; /* the pools' values */
	uint8_t enc[600];  /* a's first packet, as the cloud got it */
	size_t enc_len;
	uint8_t src[16], dst[16], sport[2], dport[2]; /* its encrypted endpoints */
};

static size_t l4_of(const uint8_t *ip6)
{
	return 40 + ((size_t)ip6[41] + 1) * 8;
}

/* What a NAT or load balancer writes into an Embark packet's header. */
static void dress(uint8_t *ip6, const uint8_t src[16], const uint8_t dst[16], const uint8_t sport[2],
		  const uint8_t dport[2])
{
	size_t l4 = l4_of(ip6);
	memcpy(ip6 + 8, src, 16);
	memcpy(ip6 + 24, dst, 16);
	memcpy(ip6 + l4, sport, 2);
	memcpy(ip6 + l4 + 2, dport, 2);
}

static void two_sites(struct two_sites *t, uint8_t keyfill, const char *pools, uint32_t client, uint32_t server)
{
	size_t tl, np;
	uint8_t in[400];
	struct gwc_epoch *ea = epoch_with(1, keyfill, RULES1, pools, true);
	free(export_epoch(ea, pools, &t->pool, &np, &tl));
	t->a = core(ea, NULL);
	t->b = core(epoch_with(1, keyfill, RULES1, pools, true), NULL);
	size_t n = tcp(in, client, server, 4000, 443, 77, 0x18, "the request", 11);
	struct gwc_pkt p = {.in = in, .len = n, .out = t->enc, .cap = sizeof t->enc};
	gwc_outbound(t->a, &p, 1, SEC);
	assert_int_equal(p.rc, EMBARK_OK);
	t->enc_len = p.out_len;
	size_t l4 = l4_of(t->enc);
	memcpy(t->src, t->enc + 8, 16);
	memcpy(t->dst, t->enc + 24, 16);
	memcpy(t->sport, t->enc + l4, 2);
	memcpy(t->dport, t->enc + l4 + 2, 2);
}

static void two_sites_end(struct two_sites *t)
{
	free(t->pool);
	gwc_free(t->a);
	gwc_free(t->b);
}

/* One packet through a gateway's cloud side in: its rc. */
static int inbound(struct gwc *g, const uint8_t *enc, size_t len, uint8_t *out, size_t cap, size_t *out_len)
{
	struct gwc_pkt q = {.in = enc, .len = len, .out = out, .cap = cap};
	gwc_inbound(g, &q, 1, SEC);
	if (out_len)
		*out_len = q.out_len;
	return q.rc;
}

/* One packet from a gateway's enterprise side out: what leaves for the cloud. */
static size_t outbound(struct gwc *g, const uint8_t *in, size_t len, uint8_t *out, size_t cap)
{
	struct gwc_pkt p = {.in = in, .len = len, .out = out, .cap = cap};
	gwc_outbound(g, &p, 1, SEC);
	assert_int_equal(p.rc, EMBARK_OK);
	return p.out_len;
}

static void pool_value(embark_u128 v, uint8_t out[16])
{
	for (int i = 0; i < 16; i++)
		out[i] = (uint8_t)(v >> (8 * (15 - i)));
}

/* Through a cloud NAT and back between two gateways: the NAT gives the flow a pool value
 * and port; the far gateway restores the pool address, and its answers leave as the
 * reverse of what the NAT sent, so the NAT finds its mapping and writes back the encrypted
 * client endpoint; the near gateway, which sent the flow out, recognises that endpoint
 * and restores the client. Nothing else gets in that way. */
static void test_nat_answer(void **st)
{
	(void)st;
	static struct two_sites t;
	static uint8_t dec[600], in2[400], enc2[600], dec2[600], ref[400], other[400], enc3[600];
	const uint32_t client = 0x0a000005, server = 0x08080404;
	two_sites(&t, 9, "pool nat 198.51.100.0/28\n", client, server);
	/* the NAT: source -> pool value, port 40000; it keeps the encrypted client endpoint */
	uint8_t pool_enc[16], port_nat[2] = {40000 >> 8, 40000 & 255};
	pool_value(t.pool[5], pool_enc);
	dress(t.enc, pool_enc, t.dst, port_nat, t.dport);
	assert_int_equal(inbound(t.b, t.enc, t.enc_len, dec, sizeof dec, NULL), EMBARK_OK);
	uint32_t pool_ip = e2_get_be32(dec + 12);
	assert_true(pool_ip >= 0xc6336400 && pool_ip <= 0xc633640f);
	assert_int_equal(e2_get_be16(dec + 20), 40000);
	/* the server answers the pool address: it leaves b as the reverse of the NAT's packet */
	size_t n2 = tcp(in2, server, pool_ip, 443, 40000, 900, 0x18, "the answer!", 11);
	size_t len2 = outbound(t.b, in2, n2, enc2, sizeof enc2), l4b = l4_of(enc2);
	assert_memory_equal(enc2 + 8, t.dst, 16);
	assert_memory_equal(enc2 + 24, pool_enc, 16);
	assert_memory_equal(enc2 + l4b, t.dport, 2);
	assert_int_equal(e2_get_be16(enc2 + l4b + 2), 40000);
	assert_int_equal(counter(t.b, GWC_NAT_ANSWERS), 1);
	/* the NAT translates back; a restores the client */
	dress(enc2, t.dst, t.src, t.dport, t.sport);
	size_t got;
	assert_int_equal(inbound(t.a, enc2, len2, dec2, sizeof dec2, &got), EMBARK_OK);
	assert_int_equal(counter(t.a, GWC_NAT_ANSWERS), 1);
	size_t nr = tcp(ref, server, client, 443, 4000, 900, 0x18, "the answer!", 11);
	assert_int_equal(got, nr);
	assert_memory_equal(dec2, ref, nr); /* checksums included */
	/* another port in the same place: no flow of a's, refused */
	put16(enc2 + l4b, 444);
	assert_int_equal(inbound(t.a, enc2, len2, dec2, sizeof dec2, NULL), EMBARK_E_REWRITTEN);
	/* a packet b sealed for a destination that is no pool address, dressed as the answer:
	 * refused, though its header is the flow's */
	size_t n3 = tcp(other, server, 0x0a000063, 443, 40000, 5, 0x18, "not for you", 11);
	size_t len3 = outbound(t.b, other, n3, enc3, sizeof enc3);
	dress(enc3, t.dst, t.src, t.dport, t.sport);
	assert_int_equal(inbound(t.a, enc3, len3, dec2, sizeof dec2, NULL), EMBARK_E_REWRITTEN);
	assert_int_equal(counter(t.a, GWC_NAT_ANSWERS), 1);
	two_sites_end(&t);
}

/* A cloud load balancer: the client sends to the VIP, the LB writes a backend's pool value
 * as destination; the far gateway restores the backend, and sends its answers as the
 * reverse of what arrived (source the pool value), so the LB finds its flow and writes the
 * VIP back as source; the near gateway takes that as its flow's answer and gives the
 * client the VIP as source (the sealed source, the backend, is a pool address). */
static void test_lb_answer(void **st)
{
	(void)st;
	static struct two_sites t;
	static uint8_t dec[600], in2[400], enc2[600], dec2[600], ref[400], in3[400], enc3[600];
	const uint32_t client = 0x0a000005, vip = 0x08080404;
	two_sites(&t, 10, "pool web 198.51.100.0/28\n", client, vip);
	uint8_t backend_enc[16];
	pool_value(t.pool[7], backend_enc);
	dress(t.enc, t.src, backend_enc, t.sport, t.dport); /* the LB picks a backend */
	assert_int_equal(inbound(t.b, t.enc, t.enc_len, dec, sizeof dec, NULL), EMBARK_OK);
	uint32_t backend = e2_get_be32(dec + 16);
	assert_true(backend >= 0xc6336400 && backend <= 0xc633640f);
	assert_int_equal(e2_get_be16(dec + 22), 443);
	/* the backend answers the client: it leaves b as the reverse of what arrived */
	size_t n2 = tcp(in2, backend, client, 443, 4000, 900, 0x18, "the answer!", 11);
	size_t len2 = outbound(t.b, in2, n2, enc2, sizeof enc2), l4b = l4_of(enc2);
	assert_memory_equal(enc2 + 8, backend_enc, 16);
	assert_memory_equal(enc2 + 24, t.src, 16);
	assert_memory_equal(enc2 + l4b, t.dport, 2);
	assert_memory_equal(enc2 + l4b + 2, t.sport, 2);
	assert_int_equal(counter(t.b, GWC_NAT_ANSWERS), 1);
	/* the LB writes the VIP back; a gives the client the answer from the VIP */
	dress(enc2, t.dst, t.src, t.dport, t.sport);
	size_t got;
	assert_int_equal(inbound(t.a, enc2, len2, dec2, sizeof dec2, &got), EMBARK_OK);
	assert_int_equal(counter(t.a, GWC_NAT_ANSWERS), 1);
	size_t nr = tcp(ref, vip, client, 443, 4000, 900, 0x18, "the answer!", 11);
	assert_int_equal(got, nr);
	assert_memory_equal(dec2, ref, nr); /* checksums included */
	/* the backend's packet to another port of the client, dressed as the answer: refused */
	size_t n3 = tcp(in3, backend, client, 443, 4001, 5, 0x18, "not for you", 11);
	size_t len3 = outbound(t.b, in3, n3, enc3, sizeof enc3);
	dress(enc3, t.dst, t.src, t.dport, t.sport);
	assert_int_equal(inbound(t.a, enc3, len3, dec2, sizeof dec2, NULL), EMBARK_E_REWRITTEN);
	assert_int_equal(counter(t.a, GWC_NAT_ANSWERS), 1);
	two_sites_end(&t);
}

/* A NAT and a load balancer in one chain: both ends of the answer are pool addresses. */
static void test_nat_lb_answer(void **st)
{
	(void)st;
	static struct two_sites t;
	static uint8_t dec[600], in2[400], enc2[600], dec2[600], ref[400];
	const uint32_t client = 0x0a000005, vip = 0x08080404;
	two_sites(&t, 11, "pool nat 198.51.100.0/28\npool web 198.51.100.16/28\n", client, vip);
	uint8_t nat_enc[16], backend_enc[16], port_nat[2] = {40000 >> 8, 40000 & 255};
	pool_value(t.pool[3], nat_enc);          /* the first pool's: nat */
	pool_value(t.pool[16 + 4], backend_enc); /* the second's: web */
	dress(t.enc, nat_enc, backend_enc, port_nat, t.dport);
	assert_int_equal(inbound(t.b, t.enc, t.enc_len, dec, sizeof dec, NULL), EMBARK_OK);
	uint32_t nat_ip = e2_get_be32(dec + 12), backend = e2_get_be32(dec + 16);
	assert_true(nat_ip >= 0xc6336400 && nat_ip <= 0xc633640f);
	assert_true(backend >= 0xc6336410 && backend <= 0xc633641f);
	size_t n2 = tcp(in2, backend, nat_ip, 443, 40000, 900, 0x18, "the answer!", 11);
	size_t len2 = outbound(t.b, in2, n2, enc2, sizeof enc2), l4b = l4_of(enc2);
	assert_memory_equal(enc2 + 8, backend_enc, 16);
	assert_memory_equal(enc2 + 24, nat_enc, 16);
	assert_int_equal(e2_get_be16(enc2 + l4b + 2), 40000);
	/* the LB writes the VIP back as source, the NAT the client as destination */
	dress(enc2, t.dst, t.src, t.dport, t.sport);
	size_t got;
	assert_int_equal(inbound(t.a, enc2, len2, dec2, sizeof dec2, &got), EMBARK_OK);
	size_t nr = tcp(ref, vip, client, 443, 4000, 900, 0x18, "the answer!", 11);
	assert_int_equal(got, nr);
	assert_memory_equal(dec2, ref, nr);
	two_sites_end(&t);
}

static void test_damaged(void **st)
{
	(void)st;
	struct gwc *a = core(epoch(1, 5, RULES1), NULL), *b = core(epoch(1, 5, RULES1), NULL);
	struct gwc *other = core(epoch(1, 6, RULES1), NULL); /* another key */
	uint8_t in[200], enc[400], dec[400], bad[400];
	size_t len = tcp(in, 0x0a000001, 0x0a020001, 40000, 80, 1000, 0x18, "GET / HTTP/1.1\r\n\r\n", 18);
	struct gwc_pkt p = {.in = in, .len = len, .out = enc, .cap = sizeof enc};
	gwc_outbound(a, &p, 1, SEC);
	assert_int_equal(p.rc, EMBARK_OK);
	uint64_t tampered = 0, truncated = 0;
	for (size_t i = 8; i < p.out_len; i++) {
		if (i >= 40 + 48 + 16 && i < 40 + 48 + 18)
			continue; /* the TCP checksum: recomputed, not authenticated */
		memcpy(bad, enc, p.out_len);
		bad[i] ^= 0x10;
		memset(dec, 0xa5, sizeof dec);
		struct gwc_pkt q = {.in = bad, .len = p.out_len, .out = dec, .cap = sizeof dec};
		gwc_inbound(b, &q, 1, SEC);
		/* an address flip is "rewritten", a length flip truncated or malformed, the rest
		 * tampered: never a decrypted packet */
		assert_int_not_equal(q.rc, EMBARK_OK);
		for (size_t k = 0; k < sizeof dec; k++)
			assert_true(dec[k] == 0xa5 || dec[k] == 0);
	}
	for (size_t cut = 1; cut < 60; cut += 7) {
		struct gwc_pkt q = {.in = enc, .len = p.out_len - cut, .out = dec, .cap = sizeof dec};
		gwc_inbound(b, &q, 1, SEC);
		assert_int_not_equal(q.rc, EMBARK_OK);
	}
	struct gwc_pkt q = {.in = enc, .len = p.out_len, .out = dec, .cap = sizeof dec};
	gwc_inbound(other, &q, 1, SEC);
	assert_int_equal(q.rc, EMBARK_E_TAMPERED);
	for (int i = 0; i < EMBARK_E_COUNT; i++) {
		tampered += i == EMBARK_E_TAMPERED ? gwc_stats(b)->dec_err[i] : 0;
		truncated += i == EMBARK_E_TRUNCATED ? gwc_stats(b)->dec_err[i] : 0;
	}
	assert_true(tampered > 50);
	assert_true(truncated >= 8);
	assert_int_equal(counter(b, GWC_ENT_TX_OK), 0);
	gwc_free(a);
	gwc_free(b);
	gwc_free(other);
}

/* classification of what left under epoch `ep` with that epoch's encrypted rules must be
 * what its plaintext rules say of the packet that went in */
static void check_classified(struct gwc_epoch *ep, const char *plain_rules, const uint8_t *in, size_t inlen,
			     const uint8_t *out, size_t outlen)
{
	static char *last_text;
	static embark_ruleset enc, plain;
	static embark_classifier *ce, *cp;
	static const struct gwc_epoch *last;
	if (last != ep || !ep) {
		embark_classifier_free(ce);
		embark_classifier_free(cp);
		embark_ruleset_free(&enc);
		embark_ruleset_free(&plain);
		free(last_text);
		last = ep;
		ce = cp = NULL;
		last_text = NULL;
		if (!ep)
			return;
		char err[256];
		size_t tl, np;
		embark_u128 *pools;
		last_text = export_epoch((struct gwc_epoch *)ep, NULL, &pools, &np, &tl);
		free(pools);
		assert_int_equal(embark_rules_parse(last_text, tl, "enc", &enc, err, sizeof err), 0);
		parse_rules(plain_rules, &plain);
		ce = embark_classifier_new(&enc);
		cp = embark_classifier_new(&plain);
	}
	embark_key5 kp, ke;
	assert_int_equal(embark_packet_key(in, inlen, &kp), EMBARK_OK);
	assert_int_equal(embark_packet_key(out, outlen, &ke), EMBARK_OK);
	const embark_rule *a = embark_classify(cp, &kp), *b = embark_classify(ce, &ke);
	assert_true((a == NULL) == (b == NULL));
	if (a)
		assert_string_equal(a->id, b->id);
}

static void test_epoch_switch(void **st)
{
	(void)st;
	struct gwc *a = core(epoch(1, 9, RULES1), NULL), *b = core(epoch(1, 9, RULES1), NULL);
	uint8_t pkt[300], enc[600];
	uint64_t now = SEC;
	/* flow 1 starts under epoch 1 */
	size_t n = tcp(pkt, 0x0a000001, 0x0a020005, 40001, 80, 100, 0x02, "", 0);
	assert_int_equal(through(a, b, pkt, n, now), 1);
	/* step 1 on both: prepared. Nothing is encrypted under it yet */
	struct gwc_epoch *ea = epoch(2, 9, RULES2), *eb = epoch(2, 9, RULES2);
	struct gwc_epoch *ea_view = ea;
	assert_true(gwc_offer(a, ea));
	assert_false(gwc_offer(a, eb)); /* one offer at a time */
	assert_true(gwc_offer(b, eb));
	gwc_poll(a, now);
	gwc_poll(b, now);
	assert_true(gwc_offer_taken(a));
	assert_int_equal(gwc_current(a), 1);
	n = tcp(pkt, 0x0a000002, 0x0a020006, 40002, 80, 100, 0x02, "", 0);
	assert_int_equal(through(a, b, pkt, n, now), 1);
	/* step 2, on a only: new flows under 2, which b decrypts (prepared) and answers under 2 */
	assert_true(gwc_promote(a, 2));
	gwc_poll(a, now);
	assert_int_equal(gwc_current(a), 2);
	n = tcp(pkt, 0x0a000003, 0x0a020007, 40003, 80, 100, 0x02, "", 0);
	assert_int_equal(through(a, b, pkt, n, now), 2);
	n = tcp(pkt, 0x0a020007, 0x0a000003, 80, 40003, 500, 0x12, "", 0);
	assert_int_equal(through(b, a, pkt, n, now), 2);
	/* the flows that started under 1 stay there, in both directions */
	n = tcp(pkt, 0x0a000001, 0x0a020005, 40001, 80, 101, 0x10, "x", 1);
	assert_int_equal(through(a, b, pkt, n, now), 1);
	n = tcp(pkt, 0x0a020005, 0x0a000001, 80, 40001, 900, 0x10, "y", 1);
	assert_int_equal(through(b, a, pkt, n, now), 1);
	/* every packet is classified under its epoch's map only, many flows */
	uint64_t s = 5;
	for (int i = 0; i < 400; i++) {
		uint32_t dip = (i & 1 ? 0x0a020000 : 0x0a010000) | rnd_below(&s, 256);
		uint16_t dport = (uint16_t[]){22, 23, 80, 85, 443}[rnd_below(&s, 5)];
		uint32_t sip = (i & 2 ? 0x0a030000 : 0x0a000000) | rnd_below(&s, 256);
		n = tcp(pkt, sip, dip, (uint16_t)(30000 + i), dport, 1, 0x10, "z", 1);
		struct gwc_pkt p = {.in = pkt, .len = n, .out = enc, .cap = sizeof enc};
		gwc_outbound(a, &p, 1, now);
		assert_int_equal(p.rc, EMBARK_OK);
		assert_int_equal(label_of(enc), 2);
		check_classified(ea_view, RULES2, pkt, n, enc, p.out_len);
	}
	check_classified(NULL, NULL, NULL, 0, NULL, 0);
	struct gwc_stats *sa = gwc_stats(a);
	assert_int_equal(sa->ep[1].encrypted + sa->ep[2].encrypted, counter(a, GWC_CLOUD_TX_OK));
	assert_int_equal(sa->ep[1].state, GWC_EP_DRAINING);
	/* drained: epoch 1 retired, its flow moves to 2 (deterministically: all at once) */
	now += 11 * SEC;
	gwc_poll(a, now);
	assert_int_equal(sa->ep[1].state, GWC_EP_RETIRED);
	n = tcp(pkt, 0x0a000001, 0x0a020005, 40001, 80, 102, 0x10, "x", 1);
	struct gwc_pkt p = {.in = pkt, .len = n, .out = enc, .cap = sizeof enc};
	gwc_outbound(a, &p, 1, now);
	assert_int_equal(label_of(enc), 2);
	assert_int_equal(counter(a, GWC_FLOWS_MOVED), 1);
	/* a packet of the retired epoch from the cloud is dropped and counted */
	n = tcp(pkt, 0x0a020005, 0x0a000001, 80, 40001, 901, 0x10, "y", 1);
	p = (struct gwc_pkt){.in = pkt, .len = n, .out = enc, .cap = sizeof enc};
	gwc_outbound(b, &p, 1, now); /* b still has 1 (never switched) */
	assert_int_equal(label_of(enc), 1);
	uint8_t dec[600];
	struct gwc_pkt q = {.in = enc, .len = p.out_len, .out = dec, .cap = sizeof dec};
	gwc_inbound(a, &q, 1, now);
	assert_int_not_equal(q.rc, EMBARK_OK);
	assert_int_equal(counter(a, GWC_UNKNOWN_EPOCH), 1);
	gwc_free(a);
	gwc_free(b);
}

static void test_prepared_replaced_and_drain_early(void **st)
{
	(void)st;
	struct gwc *a = core(epoch(1, 2, RULES1), NULL);
	uint64_t now = SEC;
	assert_true(gwc_offer(a, epoch(2, 2, RULES2)));
	gwc_poll(a, now);
	assert_true(gwc_offer(a, epoch(3, 2, RULES1)));
	gwc_poll(a, now);
	assert_int_equal(gwc_stats(a)->ep[2].state, GWC_EP_RETIRED); /* replaced while prepared */
	assert_false(gwc_promote(a, 3) && (gwc_poll(a, now), gwc_current(a) != 3));
	assert_int_equal(gwc_current(a), 3);
	/* no flow was pinned to 1: it goes once the linger time is up, before the drain time */
	gwc_poll(a, now + SEC / 2);
	assert_int_equal(gwc_stats(a)->ep[1].state, GWC_EP_DRAINING);
	gwc_poll(a, now + 2 * SEC);
	assert_int_equal(gwc_stats(a)->ep[1].state, GWC_EP_RETIRED);
	/* promoting an epoch that is not prepared changes nothing */
	assert_true(gwc_promote(a, 7));
	gwc_poll(a, now + 3 * SEC);
	assert_int_equal(gwc_current(a), 3);
	gwc_free(a);
}

static bool kw_found_mode(struct sink *s, const char *keyword, uint8_t keyfill, int mode)
{
	char *kw[1] = {(char *)keyword};
	size_t kl[1] = {strlen(keyword)};
	embark_kw_rules rules = {0};
	embark_keys *k = test_keys(keyfill);
	assert_int_equal(embark_kw_rules_encrypt_mode(k, kw, kl, 1, mode, &rules), 0);
	embark_keys_free(k);
	embark_km_matcher *m = embark_km_matcher_new(&rules, s->ntok ? s->salt0[0] : 0);
	bool found = false;
	for (size_t i = 0; i < s->ntok; i++) {
		if (i && s->salt0[i] != s->salt0[i - 1])
			embark_km_matcher_reset(m, s->salt0[i]);
		uint32_t r[4];
		if (embark_km_match(m, s->tok[i], s->off[i], r, 4))
			found = true;
	}
	embark_km_matcher_free(m);
	embark_kw_rules_free(&rules);
	return found;
}

static bool kw_found(struct sink *s, const char *keyword, uint8_t keyfill)
{
	return kw_found_mode(s, keyword, keyfill, EMBARK_TOKENS_WINDOW);
}

static void test_reassembly(void **st)
{
	(void)st;
	static struct sink s;
	memset(&s, 0, sizeof s);
	struct gwc *a = core(epoch(1, 4, RULES1), &s);
	/* two requests on one connection, the first with a body; the keyword straddles
	 * segments; segments come out of order and some twice */
	static const char stream[] = "POST /upload HTTP/1.1\r\nHost: files.example\r\nContent-Length: 40\r\n\r\n"
				     "body with secret-plan-omega inside it..."
				     "GET /next/page?q=1 HTTP/1.1\r\nhost:  www.example  \r\n\r\n";
	size_t total = strlen(stream);
	assert_int_equal(total, 66 + 40 + 53);
	uint8_t pkt[400], enc[600];
	uint32_t isn = 0xfffffff0; /* sequence numbers wrap inside the stream */
	size_t n = tcp(pkt, 0x0a000001, 0x0a020001, 40000, 80, isn, 0x02, "", 0);
	struct gwc_pkt p = {.in = pkt, .len = n, .out = enc, .cap = sizeof enc};
	gwc_outbound(a, &p, 1, SEC);
	size_t cuts[] = {0, 30, 75, 90, 100, 130, total};
	int order[] = {0, 2, 1, 1, 3, 5, 4, 0, 5};
	for (size_t i = 0; i < sizeof order / sizeof *order; i++) {
		int k = order[i];
		n = tcp(pkt, 0x0a000001, 0x0a020001, 40000, 80, isn + 1 + (uint32_t)cuts[k], 0x18, stream + cuts[k],
			cuts[k + 1] - cuts[k]);
		p = (struct gwc_pkt){.in = pkt, .len = n, .out = enc, .cap = sizeof enc};
		size_t rec0 = s.records;
		gwc_outbound(a, &p, 1, SEC);
		assert_int_equal(p.rc, EMBARK_OK);
		/* a packet that made records is marked (flow label bit 19, the epoch intact), and
		 * its records name it by its nonce, the last one saying so; a segment held for a
		 * gap made none and is not marked */
		uint32_t nonce = 0;
		assert_true(embark_packet_nonce(enc, p.out_len, &nonce));
		uint32_t label = (uint32_t)(enc[1] & 15) << 16 | (uint32_t)enc[2] << 8 | enc[3];
		assert_int_equal(label & GWC_LABEL_MASK, 1);
		assert_int_equal(!!(label & GWC_LABEL_RECORDS), s.records > rec0);
		for (size_t j = rec0; j < s.records; j++) {
			assert_int_equal(s.nonce[j], nonce);
			assert_int_equal(s.last[j], j == s.records - 1);
		}
	}
	/* an overlapping retransmission delivers nothing new */
	n = tcp(pkt, 0x0a000001, 0x0a020001, 40000, 80, isn + 1 + 20, 0x18, stream + 20, 50);
	p = (struct gwc_pkt){.in = pkt, .len = n, .out = enc, .cap = sizeof enc};
	gwc_outbound(a, &p, 1, SEC);
	assert_true(counter(a, GWC_REASM_HELD) >= 2);
	/* every byte once, in order: window tokens at offsets 0 .. total - 8 */
	assert_int_equal(s.ntok, total - 7);
	for (size_t i = 0; i < s.ntok; i++)
		assert_int_equal(s.off[i], i);
	assert_true(kw_found(&s, "secret-plan-omega", 4));
	assert_false(kw_found(&s, "not-in-the-stream", 4));
	/* the records name the flow as the cloud sees it */
	assert_memory_equal(s.flow, enc + 8, 32);
	assert_int_equal(s.epoch, 1);
	/* both URIs, host + path, deterministic (the same request gives the same bytes) */
	assert_int_equal(s.uris, 2);
	embark_keys *k = test_keys(4);
	const char *want[2] = {"files.example/upload", "www.example/next/page?q=1"};
	for (int i = 0; i < 2; i++) {
		uint8_t plain[256];
		assert_int_equal(s.uri_len[i], strlen(want[i]) + 16);
		assert_int_equal(embark_uri_decrypt(k, s.uri[i], s.uri_len[i], plain), 0);
		assert_memory_equal(plain, want[i], strlen(want[i]));
		uint8_t again[256];
		assert_int_equal(embark_uri_encrypt(k, (const uint8_t *)want[i], strlen(want[i]), again), 0);
		assert_memory_equal(again, s.uri[i], s.uri_len[i]);
	}
	embark_keys_free(k);
	/* the reply direction gives no tokens (only what leaves the enterprise) */
	size_t before = s.ntok;
	n = tcp(pkt, 0x0a020001, 0x0a000001, 80, 40000, 7, 0x18, "HTTP/1.1 200 OK\r\n\r\nconfidential", 31);
	p = (struct gwc_pkt){.in = pkt, .len = n, .out = enc, .cap = sizeof enc};
	gwc_outbound(a, &p, 1, SEC);
	assert_int_equal(s.ntok, before);
	/* RST: the flow is forgotten after the linger time, its stream freed */
	n = tcp(pkt, 0x0a000001, 0x0a020001, 40000, 80, isn + 1 + (uint32_t)total, 0x04, "", 0);
	p = (struct gwc_pkt){.in = pkt, .len = n, .out = enc, .cap = sizeof enc};
	gwc_outbound(a, &p, 1, SEC);
	for (int i = 0; i < 64; i++)
		gwc_poll(a, 3 * SEC);
	assert_int_equal(gwc_stats(a)->flows_active, 0);
	gwc_free(a);
}

/* A chunked request body is passed over by its chunk sizes (split across segments), so
 * the next request of the connection still gets its URI; a request whose length would be
 * a guess (Transfer-Encoding and Content-Length both) ends URI extraction there. */
static void test_chunked_request_body(void **st)
{
	(void)st;
	static struct sink s;
	memset(&s, 0, sizeof s);
	struct gwc *a = core(epoch(1, 4, RULES1), &s);
	static const char stream[] = "POST /form HTTP/1.1\r\nHost: h.example\r\nTransfer-Encoding: chunked\r\n\r\n"
				     "4\r\nGET \r\n12;x=1\r\n/fake HTTP/1.1\r\n\r\n\r\n0\r\n\r\n"
				     "GET /after HTTP/1.1\r\nHost: h.example\r\n\r\n"
				     "PUT /x HTTP/1.1\r\nTransfer-Encoding: chunked\r\nContent-Length: 3\r\n\r\n"
				     "GET /never HTTP/1.1\r\nHost: h.example\r\n\r\n";
	size_t total = strlen(stream);
	uint8_t pkt[600], enc[800];
	uint32_t isn = 1000;
	size_t n = tcp(pkt, 0x0a000001, 0x0a020001, 40001, 80, isn, 0x02, "", 0);
	struct gwc_pkt p = {.in = pkt, .len = n, .out = enc, .cap = sizeof enc};
	gwc_outbound(a, &p, 1, SEC);
	for (size_t off = 0; off < total; off += 37) {
		size_t len = total - off < 37 ? total - off : 37;
		n = tcp(pkt, 0x0a000001, 0x0a020001, 40001, 80, isn + 1 + (uint32_t)off, 0x18, stream + off, len);
		p = (struct gwc_pkt){.in = pkt, .len = n, .out = enc, .cap = sizeof enc};
		gwc_outbound(a, &p, 1, SEC);
		assert_int_equal(p.rc, EMBARK_OK);
	}
	embark_keys *k = test_keys(4);
	const char *want[] = {"h.example/form", "h.example/after"};
	assert_int_equal(s.uris, 2);
	for (int i = 0; i < 2; i++) {
		uint8_t plain[256];
		assert_int_equal(embark_uri_decrypt(k, s.uri[i], s.uri_len[i], plain), 0);
		assert_int_equal(s.uri_len[i], strlen(want[i]) + 16);
		assert_memory_equal(plain, want[i], strlen(want[i]));
	}
	embark_keys_free(k);
	gwc_free(a);
}

static struct gwc *core_content(struct gwc_epoch *first, bool content)
{
	struct gwc_config cfg;
	struct e2_err err = {0};
	gwc_config_default(&cfg);
	cfg.flows = 1024;
	cfg.content = content;
	struct gwc *c = gwc_new(&cfg, first, NULL, NULL, &err);
	assert_non_null(c);
	return c;
}

/* A connection from client cl:port to server sv:80 through a (client side) and b, its
 * request sent: handshake (client ISN 100, server ISN sisn) and the request at 101. */
/* Gateway A (its records to s) and gateway B, in content mode, cfg's limits otherwise. */
static void content_pair(struct gwc_config *cfg, struct sink *s, struct gwc **a, struct gwc **b)
{
	struct e2_err err = {0};
	memset(s, 0, sizeof *s);
	cfg->content = true;
	*a = gwc_new(cfg, epoch(1, 4, RULES1), sink_emit, s, &err);
	*b = gwc_new(cfg, epoch(1, 4, RULES1), NULL, NULL, &err);
	assert_non_null(*a);
	assert_non_null(*b);
}

static void http_open(struct gwc *a, struct gwc *b, uint32_t cl, uint32_t sv, uint16_t port, uint32_t sisn,
		      const char *req)
{
	static uint8_t in[2000];
	size_t n = tcp(in, cl, sv, port, 80, 100, 0x02, "", 0);
	through(a, b, in, n, SEC);
	n = tcp(in, sv, cl, 80, port, sisn, 0x12, "", 0);
	through(b, a, in, n, SEC);
	n = tcp(in, cl, sv, port, 80, 101, 0x18, req, strlen(req));
	through(a, b, in, n, SEC);
}

/* A connection that ended (a FIN each way, or a RST) gives its stream (gateway A: URIs,
 * tokens) and its web following (gateway B: content) back at once: 20 connections one
 * after another through gateways with room for 4 each all get their URI out and are all
 * followed, within the linger time, though they take turns on 3 client ports (a SYN on a
 * closed connection's ports starts a new one); 4 left open still hold theirs: a fifth open one finds
 * no stream at A, while B gives it the web following of the connection silent longest. */
static void test_closed_connections_give_back_state(void **st)
{
	(void)st;
	static struct sink s;
	struct gwc_config cfg;
	struct gwc *a, *b;
	gwc_config_default(&cfg);
	cfg.flows = 1024;
	cfg.dpi_flows = 4;
	cfg.web_flows = 4;
	content_pair(&cfg, &s, &a, &b);
	static uint8_t in[2000];
	const char *req = "GET /p HTTP/1.1\r\nHost: h.example\r\n\r\n";
	uint32_t cl = 0x0a000001, sv = 0x0a020001;
	for (uint16_t i = 0; i < 20; i++) {
		uint16_t port = (uint16_t)(41000 + i % 3); /* ports used again soon after a close */
		http_open(a, b, cl, sv, port, 7000, req);
		size_t n = tcp(in, sv, cl, 80, port, 7001, 0x11, "", 0); /* the server's FIN */
		through(b, a, in, n, SEC);
		uint8_t flags = i % 2 ? 0x04 : 0x11; /* the client's FIN, or a RST */
		n = tcp(in, cl, sv, port, 80, 101 + (uint32_t)strlen(req), flags, "", 0);
		through(a, b, in, n, SEC);
	}
	assert_int_equal(counter(a, GWC_EXT_URIS), 20);
	assert_int_equal(counter(a, GWC_DPI_NO_ROOM), 0);
	assert_int_equal(counter(b, GWC_WEB_NO_ROOM), 0);
	assert_int_equal(counter(b, GWC_WEB_FLOWS), 20);
	assert_int_equal(counter(a, GWC_STREAMS_CLOSED), 20);
	assert_int_equal(counter(b, GWC_STREAMS_CLOSED), 20);
	for (uint16_t i = 0; i < 4; i++)
		http_open(a, b, cl, sv, (uint16_t)(42000 + i), 7000, req);
	/* the first one speaks again (an ACK), so the second is now the one silent longest */
	size_t n = tcp(in, cl, sv, 42000, 80, 101 + (uint32_t)strlen(req), 0x10, "", 0);
	through(a, b, in, n, SEC);
	http_open(a, b, cl, sv, 42004, 7000, req);
	assert_int_equal(counter(a, GWC_EXT_URIS), 24);
	assert_int_equal(counter(a, GWC_DPI_NO_ROOM), 1);
	/* B makes room: the connection silent longest stops being followed */
	assert_int_equal(counter(b, GWC_WEB_NO_ROOM), 0);
	assert_int_equal(counter(b, GWC_WEB_EVICTED), 1);
	assert_int_equal(counter(b, GWC_WEB_FLOWS), 25);
	/* which one: the answers to 42000 and 42004 go as content, 42001's ordinary */
	static const char resp[] = "HTTP/1.1 200 OK\r\nCache-Control: max-age=30\r\nContent-Length: 5\r\n\r\nhello";
	static uint8_t enc[2400];
	for (uint16_t port = 42000; port <= 42004; port += 4) {
		n = tcp(in, sv, cl, 80, port, 7001, 0x18, resp, sizeof resp - 1);
		outbound(b, in, n, enc, sizeof enc);
		assert_int_equal(enc[44] & 0x03, 0x02);
	}
	n = tcp(in, sv, cl, 80, 42001, 7001, 0x18, resp, sizeof resp - 1);
	outbound(b, in, n, enc, sizeof enc);
	assert_int_equal(enc[44] & 0x03, 0x01);
	gwc_free(a);
	gwc_free(b);
}

/* A client's SYN sent again (its SYN-ACK was slow or lost) is the same connection: one
 * stream at A, one web following at B, and the request after it still gets its URI and
 * is followed; the same ports' SYN after the request is a new connection. */
static void test_retransmitted_syn_keeps_state(void **st)
{
	(void)st;
	static struct sink s;
	struct gwc_config cfg;
	struct gwc *a, *b;
	gwc_config_default(&cfg);
	content_pair(&cfg, &s, &a, &b);
	static uint8_t in[2000];
	const char *req = "GET /again HTTP/1.1\r\nHost: h.example\r\n\r\n";
	uint32_t cl = 0x0a000001, sv = 0x0a020001;
	size_t n = tcp(in, cl, sv, 43000, 80, 100, 0x02, "", 0);
	for (int i = 0; i < 3; i++)
		through(a, b, in, n, SEC);
	assert_int_equal(counter(a, GWC_DPI_STREAMS), 1);
	assert_int_equal(counter(b, GWC_WEB_FLOWS), 1);
	http_open(a, b, cl, sv, 43000, 9000, req); /* the SYN once more, then the request */
	assert_int_equal(counter(a, GWC_DPI_STREAMS), 1);
	assert_int_equal(counter(b, GWC_WEB_FLOWS), 1);
	assert_int_equal(counter(a, GWC_EXT_URIS), 1);
	/* after the request, a SYN on the ports is another connection */
	http_open(a, b, cl, sv, 43000, 9500, req);
	assert_int_equal(counter(a, GWC_DPI_STREAMS), 2);
	assert_int_equal(counter(b, GWC_WEB_FLOWS), 2);
	assert_int_equal(counter(a, GWC_EXT_URIS), 2);
	gwc_free(a);
	gwc_free(b);
}

/* A content segment of `uri` sealed as a holder of the pairs' key (test_keys(7), epoch 1)
 * seals it, as a cloud that held the key could (none does): instance tag, offset and
 * payload, in the flow sv:80 -> cl:port at seq. Its length; the frame in enc. */
static size_t sealed_segment(const char *uri, const char tag[EMBARK_CONTENT_TAG_LEN], uint64_t offset, uint32_t cl,
			     uint32_t sv, uint16_t port, uint32_t seq, const char *payload, uint8_t *enc, size_t cap)
{
	embark_keys *k = test_keys(7);
	char msg[256];
	embark_ruleset rs;
	assert_int_equal(embark_rules_parse(RULES1, strlen(RULES1), "r", &rs, msg, sizeof msg), 0);
	embark_gw *g = embark_gw_new(k, &rs, NULL, NULL, msg, sizeof msg);
	embark_content_info ci = {.seg = {.offset = offset}};
	memcpy(ci.seg.tag, tag, EMBARK_CONTENT_TAG_LEN);
	assert_int_equal(embark_uri_id(k, (const uint8_t *)uri, strlen(uri), ci.uri_id), 0);
	ci.key = embark_content_new(k, ci.uri_id);
	static uint8_t in[2000];
	size_t n = tcp(in, sv, cl, 80, port, seq, 0x18, payload, strlen(payload));
	embark_burst_pkt bp = {.in = in, .len = n, .out = enc, .cap = cap, .content = &ci};
	embark_encrypt_burst(g, &bp, 1);
	assert_int_equal(bp.rc, EMBARK_OK);
	enc[3] = 1; /* epoch 1's label */
	embark_content_free(ci.key);
	embark_gw_free(g);
	embark_ruleset_free(&rs);
	embark_keys_free(k);
	return bp.out_len;
}

/* One answer keeps one instance: a connection that asked for a URI twice takes two
 * instances of it, one per request, and refuses a third; each instance's later segments
 * still open. */
static void test_one_answer_one_instance(void **st)
{
	(void)st;
	struct gwc *a = core_content(epoch(1, 7, RULES1), true), *b = core_content(epoch(1, 7, RULES1), true);
	const uint32_t cl = 0x0a090001, sv = 0x0a020005;
	static const char req[] = "GET /pic.png HTTP/1.1\r\nHost: www.example\r\n\r\n";
	static uint8_t in[2000], enc[2400], dec[2400];
	size_t dn, en;
	http_open(a, b, cl, sv, 40020, 5000, req);
	size_t n = tcp(in, cl, sv, 40020, 80, 101 + (uint32_t)strlen(req), 0x18, req, strlen(req));
	through(a, b, in, n, SEC); /* the same URI again, pipelined */
	static const struct {
		const char *tag;
		uint64_t offset;
		int rc;
	} segs[] = {{"instnc1", 1500, EMBARK_OK},
		    {"instnc2", 1500, EMBARK_OK},
		    {"instnc3", 3000, EMBARK_E_CONTENT},
		    {"instnc1", 3000, EMBARK_OK},
		    {"instnc2", 3000, EMBARK_OK}};
	for (size_t i = 0; i < sizeof segs / sizeof segs[0]; i++) {
		en = sealed_segment("www.example/pic.png", segs[i].tag, segs[i].offset, cl, sv, 40020, 5001, "bytes",
				    enc, sizeof enc);
		assert_int_equal(inbound(a, enc, en, dec, sizeof dec, &dn), segs[i].rc);
	}
	assert_int_equal(counter(a, GWC_CONTENT_OPENED), 4);
	assert_int_equal(counter(a, GWC_CONTENT_SPLICED), 1);
	assert_int_equal(counter(a, GWC_CONTENT_UNASKED), 0);
	gwc_free(a);
	gwc_free(b);
}

/* Web-cache content through two gateways (README "HTTP proxy/cache over ciphertext"):
 * the server's gateway B sends the answer to a GET as content segments, the client's
 * gateway A opens them byte for byte; a segment that would not fit the cloud MTU as
 * content and an answer to a POST go out ordinary; a changed
 * content payload and a gateway without content mode refuse, counted. */
static void test_content_through_gateways(void **st)
{
	(void)st;
	struct gwc *a = core_content(epoch(1, 7, RULES1), true), *b = core_content(epoch(1, 7, RULES1), true);
	struct gwc *plain_a = core_content(epoch(1, 7, RULES1), false);
	const uint32_t cl = 0x0a090001, sv = 0x0a020005;
	static uint8_t in[2000], enc[2400], dec[2400];
	size_t n, en, dn;
	static const char req[] = "GET /pic.png HTTP/1.1\r\nHost: www.example\r\n\r\n";
	http_open(a, b, cl, sv, 40010, 5000, req);
	assert_int_equal(counter(b, GWC_WEB_FLOWS), 1);

	static char resp[3000];
	int hl = snprintf(resp, sizeof resp,
			  "HTTP/1.1 200 OK\r\nCache-Control: max-age=30\r\nContent-Length: 2000\r\n\r\n");
	for (int i = 0; i < 2000; i++)
		resp[hl + i] = (char)('A' + i % 26);
	size_t total = (size_t)hl + 2000, off = 0;
	uint32_t seq = 5001;
	while (off < total) {
		size_t len = total - off < 1000 ? total - off : 1000;
		n = tcp(in, sv, cl, 80, 40010, seq, 0x18, resp + off, len);
		/* the first segment would not fit a cloud MTU of its length + 100 as content
		 * (+ 116): it goes ordinary */
		gwc_set_cloud_mtu(b, off == 0 ? (unsigned)n + 100 : (unsigned)n + 116);
		en = outbound(b, in, n, enc, sizeof enc);
		assert_int_equal(enc[44] & 0x03, off == 0 ? 0x01 : 0x02); /* payload-encrypted or content */
		if (off == 1000) {
			/* the same segment, its payload changed in the cloud: refused at A */
			static uint8_t bad[2400];
			memcpy(bad, enc, en);
			bad[en - 1] ^= 0x20;
			assert_int_equal(inbound(a, bad, en, dec, sizeof dec, &dn), EMBARK_E_CONTENT);
			/* and a gateway without content mode takes none */
			assert_int_equal(inbound(plain_a, enc, en, dec, sizeof dec, &dn), EMBARK_E_CONTENT);
		}
		assert_int_equal(inbound(a, enc, en, dec, sizeof dec, &dn), EMBARK_OK);
		assert_int_equal(dn, n);
		assert_memory_equal(dec, in, n);
		off += len;
		seq += (uint32_t)len;
	}
	/* a segment sealed right, in the right flow, but naming a URI the connection did not
	 * ask for; then one of the asked URI, but another instance than its answer came as (a
	 * cache splicing two instances into one answer) */
	en = sealed_segment("www.example/other", "ttttttt", 0, cl, sv, 40010, seq, "stranger", enc, sizeof enc);
	assert_int_equal(inbound(a, enc, en, dec, sizeof dec, &dn), EMBARK_E_CONTENT);
	assert_int_equal(counter(a, GWC_CONTENT_UNASKED), 1);
	en = sealed_segment("www.example/pic.png", "sssssss", 1500, cl, sv, 40010, seq, "spliced!", enc, sizeof enc);
	assert_int_equal(inbound(a, enc, en, dec, sizeof dec, &dn), EMBARK_E_CONTENT);
	assert_int_equal(counter(a, GWC_CONTENT_SPLICED), 1);
	assert_int_equal(counter(a, GWC_CONTENT_UNASKED), 1);
	assert_int_equal(counter(b, GWC_CONTENT_SEALED), 2);
	assert_int_equal(counter(b, GWC_CONTENT_TOO_BIG), 1);
	assert_int_equal(counter(a, GWC_CONTENT_OPENED), 2);
	assert_int_equal(counter(a, GWC_CONTENT_REFUSED), 3);
	assert_int_equal(counter(plain_a, GWC_CONTENT_REFUSED), 1);
	assert_int_equal(gwc_stats(a)->dec_err[EMBARK_E_CONTENT], 3);
	assert_int_equal(counter(a, GWC_CONTENT_UNCHECKED), 0);

	/* a POST on the same connection: its answer goes out ordinary */
	static const char post[] = "POST /form HTTP/1.1\r\nHost: www.example\r\nContent-Length: 3\r\n\r\na=b";
	n = tcp(in, cl, sv, 40010, 80, 101 + (uint32_t)strlen(req), 0x18, post, strlen(post));
	through(a, b, in, n, SEC);
	static const char ans[] = "HTTP/1.1 204 No Content\r\n\r\n";
	n = tcp(in, sv, cl, 80, 40010, seq, 0x18, ans, strlen(ans));
	en = outbound(b, in, n, enc, sizeof enc);
	assert_int_equal(enc[44] & 0x02, 0);
	assert_int_equal(inbound(a, enc, en, dec, sizeof dec, &dn), EMBARK_OK);
	assert_int_equal(counter(b, GWC_CONTENT_SEALED), 2);
	gwc_free(a);
	gwc_free(b);
	gwc_free(plain_a);
}

/* A cloud proxy's frames (README "HTTP proxy/cache over ciphertext", part 5) at the
 * client's gateway: a content segment that passed once, replayed by the "proxy" in a frame
 * of a second connection with its own TCP header, comes out as the server's bytes in that
 * connection; refused without a frame key, under another one, and in a flow A never sent. */
static void test_proxy_frames_at_gateway(void **st)
{
	(void)st;
	struct gwc *a = core_content(epoch(1, 7, RULES1), true), *b = core_content(epoch(1, 7, RULES1), true);
	embark_keys *fk = test_keys(90), *wrong = test_keys(91);
	embark_framer *proxy = embark_framer_new(fk), *bad_proxy = embark_framer_new(wrong);
	const uint32_t cl = 0x0a090001, sv = 0x0a020005;
	static uint8_t in[2000], enc[2400], dec[2400], frame[2400];
	size_t n, en, dn, fn;
	/* connection 1 fetches the object: its answer passes as a content segment */
	static const char req[] = "GET /obj HTTP/1.1\r\nHost: www.example\r\n\r\n";
	http_open(a, b, cl, sv, 40020, 7000, req);
	static const char resp[] = "HTTP/1.1 200 OK\r\nContent-Length: 12\r\n\r\ncached bytes";
	n = tcp(in, sv, cl, 80, 40020, 7001, 0x18, resp, strlen(resp));
	en = outbound(b, in, n, enc, sizeof enc);
	embark_content_info kept;
	const uint8_t *cpay;
	size_t clen;
	assert_true(embark_packet_content(enc, en, &kept, &cpay, &clen));
	static uint8_t stored[2000];
	memcpy(stored, cpay, clen);

	/* connection 2 asks for it (the request never reaches the server: the proxy takes
	 * it) and the proxy answers from its store in connection 2's view */
	n = tcp(in, cl, sv, 40021, 80, 500, 0x02, "", 0);
	size_t sn = outbound(a, in, n, enc, sizeof enc); /* the SYN as the cloud sees it */
	static uint8_t req_enc[2400];
	size_t rn = tcp(in, cl, sv, 40021, 80, 501, 0x18, req, strlen(req));
	outbound(a, in, rn, req_enc, sizeof req_enc);
	uint8_t tcph[20] = {0};
	size_t l4 = l4_of(enc);
	memcpy(tcph, enc + l4 + 2, 2); /* reversed: from the server's port to the client's */
	memcpy(tcph + 2, enc + l4, 2);
	put32(tcph + 4, 9001);
	put32(tcph + 8, 501 + (uint32_t)strlen(req));
	tcph[12] = 5 << 4;
	tcph[13] = 0x18;
	put16(tcph + 14, 65000);
	embark_frame fr = {.label = label_of(enc),
			   .nonce = 1,
			   .tcp = tcph,
			   .tcp_len = 20,
			   .content = &kept,
			   .payload = stored,
			   .payload_len = clen};
	memcpy(fr.src, enc + 24, 16);
	memcpy(fr.dst, enc + 8, 16);
	(void)sn;
	struct gwc *no_key = core_content(epoch(1, 7, RULES1), true);
	assert_int_equal(embark_frame_build(proxy, &fr, frame, sizeof frame, &fn), EMBARK_OK);
	assert_int_equal(inbound(no_key, frame, fn, dec, sizeof dec, &dn), EMBARK_E_TAMPERED);
	gwc_set_framer(a, embark_framer_new(fk));
	assert_int_equal(inbound(a, frame, fn, dec, sizeof dec, &dn), EMBARK_OK);
	assert_int_equal(dn, 40 + clen);
	assert_int_equal(e2_get_be32(dec + 12), sv); /* from the server */
	assert_int_equal(e2_get_be32(dec + 16), cl);
	assert_int_equal(e2_get_be16(dec + 20), 80);
	assert_int_equal(e2_get_be16(dec + 22), 40021); /* to connection 2's client port */
	assert_int_equal(e2_get_be32(dec + 24), 9001);
	assert_memory_equal(dec + 40, resp, clen);
	/* another frame key; a flow A never sent (connection 1's ports on another address) */
	size_t bn;
	static uint8_t badframe[2400];
	assert_int_equal(embark_frame_build(bad_proxy, &fr, badframe, sizeof badframe, &bn), EMBARK_OK);
	assert_int_equal(inbound(a, badframe, bn, dec, sizeof dec, &dn), EMBARK_E_TAMPERED);
	fr.src[15] ^= 1;
	assert_int_equal(embark_frame_build(proxy, &fr, badframe, sizeof badframe, &bn), EMBARK_OK);
	assert_int_equal(inbound(a, badframe, bn, dec, sizeof dec, &dn), EMBARK_E_REWRITTEN);
	fr.src[15] ^= 1;
	/* connection 3 asked for another URI: the object is not its answer */
	n = tcp(in, cl, sv, 40022, 80, 800, 0x02, "", 0);
	outbound(a, in, n, enc, sizeof enc);
	memcpy(tcph, enc + l4 + 2, 2);
	memcpy(tcph + 2, enc + l4, 2);
	static const char other[] = "GET /different HTTP/1.1\r\nHost: www.example\r\n\r\n";
	n = tcp(in, cl, sv, 40022, 80, 801, 0x18, other, strlen(other));
	outbound(a, in, n, req_enc, sizeof req_enc);
	memcpy(fr.src, enc + 24, 16);
	memcpy(fr.dst, enc + 8, 16);
	assert_int_equal(embark_frame_build(proxy, &fr, badframe, sizeof badframe, &bn), EMBARK_OK);
	assert_int_equal(inbound(a, badframe, bn, dec, sizeof dec, &dn), EMBARK_E_CONTENT);
	assert_int_equal(counter(a, GWC_CONTENT_UNASKED), 1);
	assert_int_equal(counter(a, GWC_CONTENT_UNCHECKED), 0);
	assert_int_equal(counter(a, GWC_FRAMES_TAKEN), 1);
	assert_int_equal(counter(a, GWC_FRAMES_REFUSED), 3);
	assert_int_equal(counter(no_key, GWC_FRAMES_REFUSED), 1);
	embark_framer_free(proxy);
	embark_framer_free(bad_proxy);
	embark_keys_free(fk);
	embark_keys_free(wrong);
	gwc_free(a);
	gwc_free(b);
	gwc_free(no_key);
}

/* embark-gw --tokens delimiter: only windows at a word's edge, far fewer than one a byte;
 * a keyword between delimiters is still found, one inside a word is not */
static void test_delimiter_tokens(void **st)
{
	(void)st;
	static struct sink s;
	memset(&s, 0, sizeof s);
	struct gwc *a = core_tokens(epoch(1, 4, RULES1), &s, EMBARK_TOKENS_DELIMITER);
	static const char stream[] = "GET /report HTTP/1.1\r\nHost: intranet.example\r\nX-Note: "
				     "the secret-plan-omega draft, notsecretlyyet\r\n\r\n";
	size_t total = strlen(stream);
	uint8_t pkt[400], enc[600];
	size_t n = tcp(pkt, 0x0a000001, 0x0a020001, 40001, 80, 100, 0x02, "", 0);
	struct gwc_pkt p = {.in = pkt, .len = n, .out = enc, .cap = sizeof enc};
	gwc_outbound(a, &p, 1, SEC);
	n = tcp(pkt, 0x0a000001, 0x0a020001, 40001, 80, 101, 0x18, stream, total);
	p = (struct gwc_pkt){.in = pkt, .len = n, .out = enc, .cap = sizeof enc};
	gwc_outbound(a, &p, 1, SEC);
	assert_int_equal(p.rc, EMBARK_OK);
	assert_true(s.ntok > 0 && s.ntok < (total - 7) * 3 / 4);
	for (size_t i = 1; i < s.ntok; i++)
		assert_true(s.off[i] > s.off[i - 1]);
	assert_true(kw_found_mode(&s, "secret-plan-omega", 4, EMBARK_TOKENS_DELIMITER));
	assert_true(kw_found_mode(&s, "intranet.example", 4, EMBARK_TOKENS_DELIMITER));
	assert_false(kw_found_mode(&s, "secretly", 4, EMBARK_TOKENS_DELIMITER)); /* deep inside "notsecretlyyet" */
	/* rules made for window tokens miss what falls between word edges */
	assert_false(kw_found(&s, "secret-plan-omega", 4));
	gwc_free(a);
}

/* ---------------- control requests ---------------- */

static char dir[64];

static const char *file(const char *name, const char *text, mode_t mode)
{
	static char path[8][128];
	static int next;
	char *p = path[next++ % 8];
	snprintf(p, 128, "%s/%s", dir, name);
	FILE *f = fopen(p, "w");
	assert_non_null(f);
	fputs(text, f);
	fclose(f);
	chmod(p, mode);
	return p;
}

static E2__Embark__Response *call(struct gwctl *ctl, const E2__Embark__Request *rq)
{
	size_t len = e2__embark__request__get_packed_size(rq);
	uint8_t *buf = malloc(len + 1), *out;
	size_t olen;
	e2__embark__request__pack(rq, buf);
	gwctl_handle(ctl, buf, len, &out, &olen);
	free(buf);
	E2__Embark__Response *r = e2__embark__response__unpack(NULL, olen, out);
	free(out);
	assert_non_null(r);
	assert_int_equal(r->version, 1);
	return r;
}

static E2__Embark__Response *rules_req(struct gwctl *ctl, const char *path, const char *key_id, bool activate)
{
	E2__Embark__Request rq = E2__EMBARK__REQUEST__INIT;
	E2__Embark__RuleUpdate u = E2__EMBARK__RULE_UPDATE__INIT;
	rq.version = 1;
	rq.op_case = E2__EMBARK__REQUEST__OP_RULES;
	rq.rules = &u;
	u.rules_path = (char *)path;
	u.key_id = (char *)key_id;
	u.activate = activate;
	return call(ctl, &rq);
}

static void test_control(void **st)
{
	(void)st;
	snprintf(dir, sizeof dir, "/tmp/test_gwcore.XXXXXX");
	assert_non_null(mkdtemp(dir));
	embark_keys *keys = test_keys(11);
	embark_ruleset rs = {0};
	parse_rules(RULES1, &rs);
	embark_config cfg;
	embark_config_default(&cfg);
	struct gwc *c = core(epoch(1, 11, RULES1), NULL);
	struct gwctl *ctl = gwctl_new(c, keys, &rs, NULL, &cfg, 1, 0);
	assert_non_null(ctl);
	char key_id[GWC_KEY_ID_LEN + 1];
	gwc_key_id(keys, key_id);

	E2__Embark__Request rq = E2__EMBARK__REQUEST__INIT;
	E2__Embark__Empty empty = E2__EMBARK__EMPTY__INIT;
	rq.version = 1;
	rq.op_case = E2__EMBARK__REQUEST__OP_STATUS;
	rq.status = &empty;
	E2__Embark__Response *r = call(ctl, &rq);
	assert_int_equal(r->code, 0);
	assert_int_equal(r->epoch, 1);
	assert_int_equal(r->n_epochs, 1);
	assert_string_equal(r->epochs[0]->key_id, key_id);
	assert_string_equal(r->epochs[0]->state, "current");
	assert_true(r->n_counters > GWC_COUNTERS);
	e2__embark__response__free_unpacked(r, NULL);

	/* refused, nothing changed: bad rules, another key's id, a key file others can read,
	 * an unknown epoch to activate, a wrong version, bytes that do not decode */
	r = rules_req(ctl, file("bad.txt", "accept src=1.2.3.4/24\n", 0600), NULL, true);
	assert_int_equal(r->code, EINVAL);
	assert_non_null(strstr(r->error, "host bits"));
	assert_true(!r->enc_rules || !*r->enc_rules);
	e2__embark__response__free_unpacked(r, NULL);
	r = rules_req(ctl, file("r2.txt", RULES2, 0600), "00112233445566ff", true);
	assert_int_equal(r->code, EKEYREJECTED);
	e2__embark__response__free_unpacked(r, NULL);
	E2__Embark__KeyUpdate ku = E2__EMBARK__KEY_UPDATE__INIT;
	ku.key_path = (char *)file("k644", "000102030405060708090a0b0c0d0e0f000102030405060708090a0b0c0d0e0f\n", 0644);
	ku.activate = true;
	E2__Embark__Request kq = E2__EMBARK__REQUEST__INIT;
	kq.version = 1;
	kq.op_case = E2__EMBARK__REQUEST__OP_KEY;
	kq.key = &ku;
	r = call(ctl, &kq);
	assert_int_equal(r->code, EINVAL);
	assert_non_null(strstr(r->error, "0600"));
	assert_null(strstr(r->error, "000102030405")); /* never the key */
	e2__embark__response__free_unpacked(r, NULL);
	E2__Embark__Activate act = E2__EMBARK__ACTIVATE__INIT;
	E2__Embark__Request aq = E2__EMBARK__REQUEST__INIT;
	aq.version = 1;
	aq.op_case = E2__EMBARK__REQUEST__OP_ACTIVATE;
	aq.activate = &act;
	act.epoch = 2;
	r = call(ctl, &aq);
	assert_int_equal(r->code, ENOENT);
	e2__embark__response__free_unpacked(r, NULL);
	rq.version = 2;
	r = call(ctl, &rq);
	assert_int_equal(r->code, EPROTO);
	e2__embark__response__free_unpacked(r, NULL);
	rq.version = 1;
	uint8_t junk[] = {0xff, 0xff, 0xff, 0x01, 0x02}, *out;
	size_t olen;
	gwctl_handle(ctl, junk, sizeof junk, &out, &olen);
	r = e2__embark__response__unpack(NULL, olen, out);
	free(out);
	assert_int_equal(r->code, EPROTO);
	e2__embark__response__free_unpacked(r, NULL);
	gwc_poll(c, SEC);
	assert_int_equal(gwc_current(c), 1);
	assert_int_equal(counter(c, GWC_EPOCH_SWITCHES), 0);

	/* prepare: the encrypted rules of the new epoch come back; activate switches */
	r = rules_req(ctl, file("r2.txt", RULES2, 0600), key_id, false);
	assert_int_equal(r->code, 0);
	assert_int_equal(r->epoch, 2);
	assert_non_null(r->enc_rules);
	assert_non_null(strstr(r->enc_rules, "id=telnet"));
	e2__embark__response__free_unpacked(r, NULL);
	gwc_poll(c, SEC);
	assert_int_equal(gwc_current(c), 1);
	r = call(ctl, &aq);
	assert_int_equal(r->code, 0);
	e2__embark__response__free_unpacked(r, NULL);
	gwc_poll(c, SEC);
	assert_int_equal(gwc_current(c), 2);
	/* a key update: a new epoch under the new key with the rules of epoch 2 */
	char hex[65];
	for (int i = 0; i < 64; i++)
		hex[i] = "0123456789abcdef"[(i * 5) % 16];
	hex[64] = '\0';
	char line[80];
	snprintf(line, sizeof line, "%s\n", hex);
	ku.key_path = (char *)file("k600", line, 0600);
	r = call(ctl, &kq);
	assert_int_equal(r->code, 0);
	assert_int_equal(r->epoch, 3);
	assert_non_null(strstr(r->enc_rules, "id=telnet"));
	e2__embark__response__free_unpacked(r, NULL);
	gwc_poll(c, SEC);
	assert_int_equal(gwc_current(c), 3);
	r = call(ctl, &rq);
	assert_int_equal(r->epoch, 3);
	bool saw_new_key = false;
	for (size_t i = 0; i < r->n_epochs; i++)
		if (r->epochs[i]->epoch == 3)
			saw_new_key = strcmp(r->epochs[i]->key_id, key_id) != 0;
	assert_true(saw_new_key);
	e2__embark__response__free_unpacked(r, NULL);
	/* the old key's id is refused now */
	r = rules_req(ctl, file("r1.txt", RULES1, 0600), key_id, true);
	assert_int_equal(r->code, EKEYREJECTED);
	e2__embark__response__free_unpacked(r, NULL);

	gwctl_free(ctl);
	gwc_free(c);
	embark_ruleset_free(&rs);
	embark_keys_free(keys);
	char cmd[128];
	snprintf(cmd, sizeof cmd, "rm -rf %s", dir);
	assert_int_equal(system(cmd), 0);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_roundtrip_bursts),
		cmocka_unit_test(test_nat_restore),
		cmocka_unit_test(test_nat_answer),
		cmocka_unit_test(test_lb_answer),
		cmocka_unit_test(test_nat_lb_answer),
		cmocka_unit_test(test_damaged),
		cmocka_unit_test(test_epoch_switch),
		cmocka_unit_test(test_prepared_replaced_and_drain_early),
		cmocka_unit_test(test_reassembly),
		cmocka_unit_test(test_chunked_request_body),
		cmocka_unit_test(test_closed_connections_give_back_state),
		cmocka_unit_test(test_retransmitted_syn_keeps_state),
		cmocka_unit_test(test_content_through_gateways),
		cmocka_unit_test(test_one_answer_one_instance),
		cmocka_unit_test(test_proxy_frames_at_gateway),
		cmocka_unit_test(test_delimiter_tokens),
		cmocka_unit_test(test_control),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
