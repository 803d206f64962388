/* SPDX-License-Identifier: BSD-3-Clause */
/* The Embark middleboxes' shared parts: address and URI list parsers (refusals name
 * FILE:LINE), the flow table, checksum updates against a full recomputation, packet
 * parsing of plain and Embark packets, extension records. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdio.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include "../tests/common.h"
#include "mb.h"

static int parse_addrs(const char *text, struct mb_addrs *a, struct e2_err *err)
{
	return mb_addrs_parse(text, strlen(text), "p.txt", NULL, a, err);
}

static void test_addrs_plain(void **state)
{
	struct mb_addrs a;
	struct e2_err err;
	(void)state;
	assert_int_equal(parse_addrs("# pools\npool nat 198.51.100.0/30\npool b 203.0.113.9\n", &a, &err), 0);
	assert_false(a.encrypted);
	assert_int_equal(a.n, 5);
	assert_true(a.v[0] == embark_v4mapped(0xc6336400));
	assert_true(a.v[3] == embark_v4mapped(0xc6336403));
	assert_true(a.v[4] == embark_v4mapped(0xcb007109));
	mb_addrs_free(&a);
}

static void test_addrs_encrypted(void **state)
{
	struct mb_addrs a;
	struct e2_err err;
	(void)state;
	assert_int_equal(parse_addrs("\n# values\n52e8000000000000000000000000e2e2\n"
				     "  11110000000000000000000000a0e2e2  \n",
				     &a, &err),
			 0);
	assert_true(a.encrypted);
	assert_int_equal(a.n, 2);
	assert_true(a.v[0] < a.v[1]); /* sorted */
	assert_true(embark_is_pool_value(a.v[0]));
	mb_addrs_free(&a);
}

static void test_addrs_named(void **state)
{
	struct mb_addrs a;
	struct e2_err err;
	const char *enc = "# values\nnat 52e8000000000000000000000000e2e2\n"
			  "web 52e9000000000000000000000001e2e2\nweb\t52e7000000000000000000000002e2e2\n";
	(void)state;
	assert_int_equal(mb_addrs_parse(enc, strlen(enc), "e.txt", NULL, &a, &err), 0); /* names ignored */
	assert_int_equal(a.n, 3);
	mb_addrs_free(&a);
	assert_int_equal(mb_addrs_parse(enc, strlen(enc), "e.txt", "web", &a, &err), 0);
	assert_int_equal(a.n, 2);
	assert_true(a.encrypted);
	assert_true(a.v[0] < a.v[1]);
	mb_addrs_free(&a);
	assert_int_equal(mb_addrs_parse(enc, strlen(enc), "e.txt", "lb", &a, &err), -1);
	assert_string_equal(err.msg, "e.txt: no pool named 'lb'");
	const char *bare = "52e8000000000000000000000000e2e2\n";
	assert_int_equal(mb_addrs_parse(bare, strlen(bare), "b.txt", "nat", &a, &err), -1);
	assert_non_null(strstr(err.msg, "b.txt:1: a value without its pool's name"));
	const char *plain = "pool nat 198.51.100.7\npool web 192.0.2.1-192.0.2.3\n";
	assert_int_equal(mb_addrs_parse(plain, strlen(plain), "p.txt", "web", &a, &err), 0);
	assert_int_equal(a.n, 3);
	assert_false(a.encrypted);
	mb_addrs_free(&a);
	assert_int_equal(mb_addrs_parse(plain, strlen(plain), "p.txt", "dns", &a, &err), -1);
	assert_string_equal(err.msg, "p.txt: no pool named 'dns'");
	/* a pool named "pool" in the encrypted format is not the plain format's keyword */
	const char *named_pool = "pool 52e8000000000000000000000000e2e2\nweb 52e9000000000000000000000001e2e2\n";
	assert_int_equal(mb_addrs_parse(named_pool, strlen(named_pool), "n.txt", "pool", &a, &err), 0);
	assert_int_equal(a.n, 1);
	assert_true(a.encrypted);
	mb_addrs_free(&a);
	const char *poolside = "poolside 52e8000000000000000000000000e2e2\n";
	assert_int_equal(mb_addrs_parse(poolside, strlen(poolside), "n.txt", "poolside", &a, &err), 0);
	assert_true(a.encrypted);
	mb_addrs_free(&a);
}

static void test_addrs_refused(void **state)
{
	static const struct {
		const char *text, *msg;
	} bad[] = {
		{"52e8000000000000000000000000e2e2\n52e8", "p.txt:2: expected 32 hex digits"},
		{"52e8000000000000000000000000e2e3\n", "p.txt:1: not an encrypted pool value"},
		{"52e8000000000000000000000000e2e2\n52e8000000000000000000000000e2e2\n", "listed twice"},
		{"# nothing\n", "no addresses"},
		{"pool a 10.0.0.0/24\npool b 10.0.0.5\n", "p.txt:2"},
		{"pool a 10.0.0.1/24\n", "host bits"},
		{"zz000000000000000000000000e2e2zz\n", "p.txt:1: expected 32 hex digits"},
	};
	(void)state;
	for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
		struct mb_addrs a;
		struct e2_err err = {0};
		assert_int_equal(parse_addrs(bad[i].text, &a, &err), -1);
		if (!strstr(err.msg, bad[i].msg))
			fail_msg("case %zu: '%s' lacks '%s'", i, err.msg, bad[i].msg);
		assert_null(a.v);
	}
	struct mb_addrs a;
	struct e2_err err;
	assert_int_equal(mb_addrs_parse("pool a 10.0.0.1\0", 16, "p.txt", NULL, &a, &err), -1);
	assert_non_null(strstr(err.msg, "NUL"));
}

static void test_uris(void **state)
{
	struct mb_uris u;
	struct e2_err err;
	const char *text = "# blocked\nexample.com/bad\n  \nenc 00112233445566778899aabbccddeeff4142\nb.org/x?y=1\n";
	(void)state;
	assert_int_equal(mb_uris_parse(text, strlen(text), "b.txt", &u, &err), 0);
	assert_int_equal(u.n, 3);
	assert_true(mb_uris_has(&u, (const uint8_t *)"example.com/bad", 15));
	assert_true(mb_uris_has(&u, (const uint8_t *)"b.org/x?y=1", 11));
	assert_false(mb_uris_has(&u, (const uint8_t *)"example.com/ba", 14));
	const uint8_t enc[] = {0x00, 0x11, 0x22, 0x33, 0x44, 0x55, 0x66, 0x77, 0x88,
			       0x99, 0xaa, 0xbb, 0xcc, 0xdd, 0xee, 0xff, 0x41, 0x42};
	assert_true(mb_uris_has(&u, enc, sizeof(enc)));
	mb_uris_free(&u);
	static const struct {
		const char *text, *msg;
	} bad[] = {
		{"a.com/x\nenc 0011\n", "b.txt:2: an encrypted URI"},
		{"enc 00112233445566778899aabbccddeeff41zz\n", "b.txt:1: not a hex digit"},
		{"a.com/\x01x\n", "b.txt:1: a URI has no spaces"},
		{"a b\n", "b.txt:1: a URI has no spaces"},
	};
	for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
		assert_int_equal(mb_uris_parse(bad[i].text, strlen(bad[i].text), "b.txt", &u, &err), -1);
		if (!strstr(err.msg, bad[i].msg))
			fail_msg("case %zu: '%s' lacks '%s'", i, err.msg, bad[i].msg);
	}
}

static int evicted;
static void on_evict(void *ctx, void *v)
{
	(void)v;
	assert_ptr_equal(ctx, &evicted);
	evicted++;
}

/* a block or a drop decided on the records' flow carries over to the NAT-rewritten one */
static void test_flows_carry(void **state)
{
	(void)state;
	struct flag {
		uint32_t other;
		bool set;
	};
	struct mb_flows *t = mb_flows_new(64, sizeof(struct flag), 1000);
	embark_key5 before = {.sip = 1, .dip = 2, .sport = 10, .dport = 20, .proto = 6, .has_ports = true};
	embark_key5 after = {.sip = 9, .dip = 2, .sport = 4000, .dport = 20, .proto = 6, .has_ports = true};
	struct mb_flow_key kb;
	struct mb_pkt p = {0};
	bool fresh, full;
	mb_flow_key(&before, &kb, NULL);
	mb_flow_key(&after, &p.flow, NULL);
	assert_false(mb_flows_carry(t, &p, 1, offsetof(struct flag, set), &full)); /* no records' flow */
	p.rec_flow = &kb;
	assert_false(mb_flows_carry(t, &p, 1, offsetof(struct flag, set), &full)); /* it has no state */
	struct flag *fb = mb_flows_add(t, &kb, 1, &fresh);
	assert_false(mb_flows_carry(t, &p, 1, offsetof(struct flag, set), &full)); /* not set there */
	fb->set = true;
	assert_true(mb_flows_carry(t, &p, 1, offsetof(struct flag, set), &full));
	assert_false(full);
	const struct flag *fa = mb_flows_find(t, &p.flow, 1);
	assert_non_null(fa);
	assert_true(fa->set);
	assert_int_equal(fa->other, 0);
	mb_flows_free(t);
}

static void test_flows(void **state)
{
	(void)state;
	struct mb_flows *t = mb_flows_new(64, sizeof(uint64_t), 1000);
	mb_flows_on_evict(t, on_evict, &evicted);
	embark_key5 k = {.sip = 1, .dip = 2, .sport = 10, .dport = 20, .proto = 6, .has_ports = true};
	embark_key5 r = {.sip = 2, .dip = 1, .sport = 20, .dport = 10, .proto = 6, .has_ports = true};
	struct mb_flow_key fk, fr;
	bool sw, fresh;
	mb_flow_key(&k, &fk, &sw);
	assert_false(sw);
	mb_flow_key(&r, &fr, &sw);
	assert_true(sw);
	assert_memory_equal(&fk, &fr, sizeof(fk)); /* both directions: one flow */
	uint64_t *v = mb_flows_add(t, &fk, 100, &fresh);
	assert_non_null(v);
	assert_true(fresh);
	*v = 42;
	v = mb_flows_add(t, &fr, 500, &fresh);
	assert_false(fresh);
	assert_int_equal(*v, 42);
	/* a peek (the prefetch passes' hint) finds without refreshing */
	assert_ptr_equal(mb_flows_peek(t, &fk, 1400), v);
	assert_non_null(mb_flows_find(t, &fk, 1500)); /* seen at 500: alive until 1500 */
	assert_null(mb_flows_peek(t, &fk, 2600));
	assert_null(mb_flows_find(t, &fk, 2600)); /* idle since 1500 */
	/* fill the table: 64 flows fit, expired ones are reused */
	size_t added = 0;
	for (uint32_t i = 0; i < 200; i++) {
		embark_key5 x = k;
		x.sport = (uint16_t)(1000 + i);
		mb_flow_key(&x, &fk, NULL);
		if (mb_flows_add(t, &fk, 3000, &fresh))
			added++;
	}
	assert_true(added >= 64 && added <= 128);
	assert_int_equal(mb_flows_count(t, 3000), added);
	for (uint32_t i = 0; i < 10; i++) {
		embark_key5 x = k;
		x.sport = (uint16_t)(5000 + i);
		mb_flow_key(&x, &fk, NULL);
		assert_non_null(mb_flows_add(t, &fk, 9000, &fresh));
	}
	assert_true(evicted >= 1);
	mb_flows_free(t);
}

static uint16_t csum_full(const uint8_t *b, size_t len, uint32_t s)
{
	for (size_t i = 0; i + 1 < len; i += 2)
		s += (uint32_t)(b[i] << 8 | b[i + 1]);
	if (len & 1)
		s += (uint32_t)b[len - 1] << 8;
	while (s >> 16)
		s = (s & 0xffff) + (s >> 16);
	return (uint16_t)~s;
}

/* An IPv4 TCP packet with correct checksums. */
static size_t make_v4(uint8_t *p)
{
	memset(p, 0, 60);
	p[0] = 0x45;
	p[3] = 44;
	p[8] = 64;
	p[9] = 6;
	static const uint8_t addrs[] = {0x0a, 0x00, 0x00, 0x01, 0xc0, 0x00, 0x02, 0x07};
	memcpy(p + 12, addrs, sizeof addrs);
	uint16_t c = csum_full(p, 20, 0);
	p[10] = (uint8_t)(c >> 8), p[11] = (uint8_t)c;
	uint8_t *t = p + 20;
	static const uint8_t ports[] = {0x30, 0x39, 0x00, 0x50};
	memcpy(t, ports, sizeof ports);
	t[12] = 0x50;
	t[20] = 'G', t[21] = 'E', t[22] = 'T';
	return 44;
}

static uint16_t tcp_csum_v4(const uint8_t *p)
{
	uint8_t ph[12] = {0};
	memcpy(ph, p + 12, 8);
	ph[9] = 6;
	ph[11] = 24;
	uint32_t s = 0;
	for (int i = 0; i < 12; i += 2)
		s += (uint32_t)(ph[i] << 8 | ph[i + 1]);
	return csum_full(p + 20, 24, s);
}

static void test_parse_rewrite(void **state)
{
	uint8_t p[64];
	size_t len = make_v4(p);
	(void)state;
	p[36] = p[37] = 0;
	uint16_t c = tcp_csum_v4(p);
	p[36] = (uint8_t)(c >> 8), p[37] = (uint8_t)c;
	struct mb_pkt pk;
	assert_int_equal(mb_parse_l3(p, len, 0x0800, &pk), 0);
	assert_false(pk.v6);
	assert_int_equal(pk.key.sport, 12345);
	assert_int_equal(pk.key.dport, 80);
	assert_true(pk.key.sip == embark_v4mapped(0x0a000001));
	struct mb_flow_key fk;
	mb_flow_key(&pk.key, &fk, NULL);
	assert_memory_equal(&pk.flow, &fk, sizeof(fk)); /* the parse's flow key, hash included */
	mb_set_addr(&pk, false, (const uint8_t *)"\xc6\x33\x64\x05");
	mb_set_port(&pk, false, 0x204e);          /* 20000 in network order on little endian */
	assert_int_equal(csum_full(p, 20, 0), 0); /* header checksum still right */
	uint16_t stored = (uint16_t)(p[36] << 8 | p[37]);
	p[36] = p[37] = 0;
	assert_int_equal(stored, tcp_csum_v4(p));
	/* refusals */
	assert_int_equal(mb_parse_l3(p, 30, 0x0800, &pk), -1);
	assert_int_equal(mb_parse_l3(p, len, 0x86dd, &pk), -1); /* IPv4 bytes as IPv6 */
	assert_int_equal(mb_parse_l3(p, len, 0x0806, &pk), 1);
}

static void test_ext(void **state)
{
	(void)state;
	embark_key5 k = {.sip = (embark_u128)0x52e8 << 112 | 7, .dip = 9, .sport = 4000, .dport = 80, .proto = 6};
	uint8_t id[EXT_FLOW_ID_LEN];
	mb_flow_id(&k, id);
	uint64_t tok[3] = {1, 2, 0xffffffffffull}, off[3] = {0, 1, 2};
	struct ext_record rec = {.epoch = 3,
				 .salt0 = 77,
				 .tokens = tok,
				 .offsets = off,
				 .ntokens = 3,
				 .uri = (const uint8_t *)"uri-bytes",
				 .uri_len = 9,
				 .packet_nonce = 0xfedcba98u,
				 .packet_last = true};
	memcpy(rec.flow, id, EXT_FLOW_ID_LEN);
	struct ext_codec *enc = ext_codec_new(), *dec = ext_codec_new();
	size_t len;
	struct e2_err err;
	const uint8_t *b = ext_record_encode(enc, &rec, &len, &err);
	assert_non_null(b);
	struct mb_ext x;
	assert_int_equal(mb_ext_decode(dec, b, len, &x, &err), 0);
	assert_int_equal(x.epoch, 3);
	assert_true(x.key.sip == k.sip && x.key.dip == k.dip);
	assert_int_equal(x.key.sport, 4000);
	assert_int_equal(x.salt0, 77);
	assert_int_equal(x.ntokens, 3);
	assert_true(x.tokens[2] == 0xffffffffffull);
	assert_memory_equal(x.uri, "uri-bytes", 9);
	assert_true(x.packet_nonce == 0xfedcba98u && x.packet_last);
	/* truncated or damaged records are refused */
	size_t refused = 0;
	for (size_t cut = 0; cut < len; cut++)
		refused += mb_ext_decode(dec, b, cut, &x, &err) != 0;
	assert_true(refused >= 1);
	assert_int_equal(mb_ext_decode(dec, (const uint8_t *)"\xff\xff\xff", 3, &x, &err), -1);
	rec.uri = NULL;
	rec.uri_len = 0;
	rec.packet_last = false;
	b = ext_record_encode(enc, &rec, &len, &err);
	assert_non_null(b);
	uint8_t *v1 = malloc(len);
	memcpy(v1, b, len);
	v1[1] = 1; /* version field (tag 1 varint): 1, the varint arrays' version */
	assert_int_equal(mb_ext_decode(dec, v1, len, &x, &err), -1);
	assert_non_null(strstr(err.msg, "version"));
	free(v1);
	/* a decoder's buffers are reused: a large record, then a small one, both whole */
	static uint64_t many_t[5000], many_o[5000];
	for (size_t i = 0; i < 5000; i++) {
		many_t[i] = i * 7919 % 0xffffffffffull;
		many_o[i] = 100 + i;
	}
	rec.tokens = many_t;
	rec.offsets = many_o;
	rec.ntokens = 5000;
	b = ext_record_encode(enc, &rec, &len, &err);
	assert_int_equal(mb_ext_decode(dec, b, len, &x, &err), 0);
	assert_int_equal(x.ntokens, 5000);
	assert_memory_equal(x.tokens, many_t, sizeof many_t);
	assert_memory_equal(x.offsets, many_o, sizeof many_o);
	/* a wire-only decoder (the middleboxes') gives the same tokens in their wire form */
	struct ext_codec *wdec = ext_codec_new();
	ext_codec_wire_only(wdec);
	assert_int_equal(mb_ext_decode(wdec, b, len, &x, &err), 0);
	assert_true(x.ntokens == 5000 && !x.tokens && !x.offsets);
	static uint64_t wt[5000], wo[5000];
	assert_int_equal(embark_tokens_count(x.token_wire_len, x.runs, x.runs_len), 5000);
	embark_tokens_unpack(x.token_wire, x.token_wire_len, x.runs, x.runs_len, wt, wo);
	assert_memory_equal(wt, many_t, sizeof many_t);
	assert_memory_equal(wo, many_o, sizeof many_o);
	ext_codec_free(wdec);
	rec.tokens = tok;
	rec.offsets = off;
	rec.ntokens = 3;
	b = ext_record_encode(enc, &rec, &len, &err);
	assert_int_equal(mb_ext_decode(dec, b, len, &x, &err), 0);
	assert_int_equal(x.ntokens, 3);
	assert_true(x.tokens[2] == 0xffffffffffull && x.offsets[2] == 2 && !x.uri);
	ext_codec_free(enc);
	ext_codec_free(dec);
	/* the wire form: offsets in runs, order kept, one run for consecutive offsets; a run
	 * is (start - the previous run's end, zigzag; count), each a varint */
	uint64_t t5[5] = {5, 4, 3, 2, 1}, o5[5] = {10, 11, 12, 3, 13}, got_t[5], got_o[5];
	uint8_t wire[5 * EMBARK_TOKEN_WIRE_LEN], runs[EMBARK_TOKEN_RUNS_MAX(5)];
	size_t nr = embark_tokens_pack(t5, o5, 5, wire, runs);
	static const uint8_t want_runs[6] = {20, 3, 19, 1, 18, 1}; /* 10+3, 3+1 (13 back: -10), 13+1 */
	assert_int_equal(nr, 6);
	assert_memory_equal(runs, want_runs, 6);
	assert_int_equal(embark_tokens_count(sizeof wire, runs, nr), 5);
	embark_tokens_unpack(wire, sizeof wire, runs, nr, got_t, got_o);
	assert_memory_equal(got_t, t5, sizeof t5);
	assert_memory_equal(got_o, o5, sizeof o5);
	/* malformed: counts that do not add up, a cut token, a cut varint, an empty run, a run
	 * past 2^64, a varint past 64 bits */
	runs[1] = 4;
	assert_int_equal(embark_tokens_count(sizeof wire, runs, nr), -1);
	runs[1] = 3;
	assert_int_equal(embark_tokens_count(sizeof wire - 1, runs, nr), -1);
	assert_int_equal(embark_tokens_count(sizeof wire, runs, nr - 1), -1);
	static const uint8_t cont[3] = {20, 5, 0x80}, empty[4] = {2, 0, 2, 5}, past[2] = {3, 5}, last[2] = {9, 5},
			     wide[11] = {0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0x02, 5};
	assert_int_equal(embark_tokens_count(sizeof wire, cont, 3), -1);
	assert_int_equal(embark_tokens_count(sizeof wire, empty, 4), -1);
	assert_int_equal(embark_tokens_count(sizeof wire, past, 2), -1); /* from 2^64 - 2 */
	assert_int_equal(embark_tokens_count(sizeof wire, last, 2), 5);  /* ends at 2^64 - 1 */
	assert_int_equal(embark_tokens_count(sizeof wire, wide, sizeof wide), -1);
	assert_int_equal(embark_tokens_count(0, NULL, 0), 0);
	/* any offsets round-trip: runs, jumps both ways, the edges of 64 bits */
	static uint64_t rt[1000], ro[1000], gt[1000], go[1000];
	static uint8_t rw[1000 * EMBARK_TOKEN_WIRE_LEN], rr[EMBARK_TOKEN_RUNS_MAX(1000)];
	uint64_t seed = 12345;
	for (int trial = 0; trial < 50; trial++) {
		size_t n = 1 + (size_t)(trial * 37 % 1000);
		for (size_t i = 0; i < n; i++) {
			seed = seed * 6364136223846793005ull + 1442695040888963407ull;
			rt[i] = seed >> 24;
			ro[i] = i && seed % 4 ? ro[i - 1] + 1 : seed % 3 ? seed >> (seed % 64) : UINT64_MAX - seed % 3;
		}
		size_t rlen = embark_tokens_pack(rt, ro, n, rw, rr);
		assert_true(rlen <= EMBARK_TOKEN_RUNS_MAX(n));
		assert_int_equal(embark_tokens_count(n * EMBARK_TOKEN_WIRE_LEN, rr, rlen), (long)n);
		embark_tokens_unpack(rw, n * EMBARK_TOKEN_WIRE_LEN, rr, rlen, gt, go);
		assert_memory_equal(gt, rt, n * sizeof rt[0]);
		assert_memory_equal(go, ro, n * sizeof ro[0]);
	}
}

/* The epoch set: a loader that takes the "file name" as its data (a name starting with
 * "bad" is refused), so the test sees exactly which epoch's data a packet gets. */
static int frees;
/* an epoch's state: the file name it came from */
static int fake_load(void *ctx, void *data, const char *path, struct e2_err *err)
{
	(void)ctx;
	if (!strncmp(path, "bad", 3)) {
		e2_seterr(err, "%s:1: not a list", path);
		return -1;
	}
	snprintf(data, 32, "%s", path);
	return 0;
}
static void fake_clear(void *data)
{
	if (*(char *)data)
		frees++; /* a failed load leaves nothing to clear */
}
static int fake_describe(const void *data, char *buf, size_t len)
{
	return snprintf(buf, len, "from %s", (const char *)data);
}

static void test_epochs(void **state)
{
	struct mb_epochs s = {
		.verb = "pools", .size = 32, .load = fake_load, .clear = fake_clear, .describe = fake_describe};
	struct e2_err err;
	char reply[512];
	uint8_t v6[48] = {0x60, 0x00, 0x00, 0x02}; /* flow label 2 */
	uint8_t v4[20] = {0x45};
	struct mb_pkt p6 = {.l3 = v6, .v6 = true}, p4 = {.l3 = v4};
	(void)state;
	frees = 0;
	assert_int_equal(mb_epochs_load(&s, 1, "one", &err), 0);
	assert_null(mb_epochs_of(&s, &p6));
	assert_string_equal(mb_epochs_of(&s, &p4), "one");
	assert_int_equal(mb_epochs_control(&s, "pools 2 two", reply, sizeof reply), 0);
	assert_string_equal(reply, "epoch 2: pools from two");
	assert_string_equal(mb_epochs_of(&s, &p6), "two");
	assert_string_equal(mb_epochs_of(&s, &p4), "two"); /* plain follows the newest */
	assert_string_equal(mb_epochs_get(&s, 1), "one");
	assert_string_equal(mb_epochs_get(&s, 2 + (1u << 19)), "two"); /* labels are mod 2^19 */
	v6[1] = 0x08; /* bit 19: the packet made records; the epoch is still 2 */
	assert_string_equal(mb_epochs_of(&s, &p6), "two");
	v6[1] = 0;
	/* refusals change nothing */
	assert_int_equal(mb_epochs_control(&s, "pools 2 bad-file", reply, sizeof reply), -1);
	assert_non_null(strstr(reply, "refused, nothing changed: bad-file:1"));
	assert_string_equal(mb_epochs_get(&s, 2), "two");
	assert_int_equal(mb_epochs_control(&s, "pools 0 x", reply, sizeof reply), -1);
	assert_int_equal(mb_epochs_control(&s, "pools 3", reply, sizeof reply), -1);
	assert_int_equal(mb_epochs_control(&s, "retire 9", reply, sizeof reply), -1);
	assert_int_equal(mb_epochs_control(&s, "rules 3 x", reply, sizeof reply), 1); /* not ours */
	/* replacing an epoch frees what it had */
	assert_int_equal(mb_epochs_load(&s, 2, "two-b", &err), 0);
	assert_int_equal(frees, 1);
	assert_string_equal(mb_epochs_of(&s, &p6), "two-b");
	assert_int_equal(mb_epochs_load(&s, 3, "three", &err), 0);
	assert_int_equal(mb_epochs_load(&s, 4, "four", &err), 0);
	assert_int_equal(mb_epochs_load(&s, 5, "five", &err), -1); /* four loaded */
	assert_non_null(strstr(err.msg, "retire one first"));
	assert_int_equal(mb_epochs_control(&s, "epochs", reply, sizeof reply), 0);
	assert_string_equal(reply, "epoch 1: from one; epoch 2: from two-b; epoch 3: from three; epoch 4: from four");
	assert_int_equal(mb_epochs_control(&s, "retire 2", reply, sizeof reply), 0);
	assert_null(mb_epochs_of(&s, &p6));
	assert_string_equal(mb_epochs_of(&s, &p4), "four");
	assert_int_equal(mb_epochs_load(&s, 5, "five", &err), 0);
	mb_epochs_fini(&s);
	assert_int_equal(frees, 1 + 1 + 4);
}

/* ---- packets waiting for their records (mb_hold) ---- */

struct fake_frame {
	uint8_t l3[64];
	struct mb_pkt p;
	int id;
};

/* An Embark-looking packet of flow `flow`: the option's nonce, the records mark. */
static void fake_frame(struct fake_frame *f, int id, unsigned flow, uint32_t nonce, bool marked)
{
	memset(f, 0, sizeof(*f));
	f->id = id;
	f->l3[0] = 0x60;
	f->l3[1] = marked ? 0x08 : 0x00;
	f->l3[3] = 1; /* epoch 1 */
	f->l3[6] = 60;
	f->l3[46] = (uint8_t)(nonce >> 24), f->l3[47] = (uint8_t)(nonce >> 16);
	f->l3[48] = (uint8_t)(nonce >> 8), f->l3[49] = (uint8_t)nonce;
	f->p.l3 = f->l3;
	f->p.l3_len = sizeof f->l3;
	f->p.v6 = true;
	f->p.marked = marked; /* as mb_parse_l3 sets them from the bytes above */
	f->p.nonce = nonce;
	embark_key5 k = {.sip = 100 + flow, .dip = 7, .sport = 1000, .dport = 80, .proto = 6, .has_ports = true};
	mb_flow_key(&k, &f->p.flow, NULL);
}

struct decided {
	int id[16];
	bool late[16];
	size_t n;
};

static void note_decided(void *ctx, void *item, unsigned port, struct mb_pkt *p, bool late)
{
	struct decided *d = ctx;
	const struct fake_frame *f = item;
	assert_int_equal(port, 1);
	assert_ptr_equal(p->l3, f->l3); /* the copy still points into the frame */
	d->id[d->n] = f->id;
	d->late[d->n++] = late;
}

static void test_hold(void **state)
{
	(void)state;
	const uint64_t ms = 1000000, wait = 50 * ms;
	struct mb_hold *h = mb_hold_new(4, wait);
	struct decided d = {0};
	struct fake_frame f[10];
	uint32_t nonce;
	/* the flow the records name: the packets' own flow 1 (no NAT on the way) */
	embark_key5 rec_key = {.sip = 101, .dip = 7, .sport = 1000, .dport = 80, .proto = 6, .has_ports = true};
	assert_non_null(h);

	/* unmarked, or marked with its last record in already: decided at once */
	fake_frame(&f[0], 0, 1, 5, false);
	assert_false(mb_hold_admit(h, &f[0].p, &f[0], 1, 0, note_decided, &d));
	fake_frame(&f[1], 1, 1, 6, true);
	assert_true(mb_pkt_nonce(&f[1].p, &nonce) && nonce == 6);
	mb_hold_record(h, 6, &rec_key);
	assert_false(mb_hold_admit(h, &f[1].p, &f[1], 1, 0, note_decided, &d));
	mb_hold_record(h, 6 + 4096, &rec_key); /* a later nonce in the same slot does not count for 7 or 6 */
	fake_frame(&f[2], 2, 1, 6, true);
	assert_true(mb_hold_admit(h, &f[2].p, &f[2], 1, 0, note_decided, &d));
	mb_hold_record(h, 6, &rec_key);
	mb_hold_release(h, 0, note_decided, &d);
	assert_int_equal(d.n, 1);
	d.n = 0;

	/* the record after its packet: the packet waits, its flow's next packet behind it,
	 * another flow passes; the record comes, both go in order */
	fake_frame(&f[3], 3, 2, 10, true);
	fake_frame(&f[4], 4, 2, 11, false);
	fake_frame(&f[5], 5, 3, 12, false);
	assert_true(mb_hold_admit(h, &f[3].p, &f[3], 1, 1 * ms, note_decided, &d));
	assert_true(mb_hold_admit(h, &f[4].p, &f[4], 1, 2 * ms, note_decided, &d));
	assert_false(mb_hold_admit(h, &f[5].p, &f[5], 1, 2 * ms, note_decided, &d));
	mb_hold_release(h, 3 * ms, note_decided, &d);
	assert_int_equal(d.n, 0);
	assert_int_equal(mb_hold_count(h), 2);
	mb_hold_record(h, 10, &rec_key);
	mb_hold_release(h, 4 * ms, note_decided, &d);
	assert_int_equal(d.n, 2);
	assert_true(d.id[0] == 3 && d.id[1] == 4 && !d.late[0] && !d.late[1]);
	assert_int_equal(mb_hold_count(h), 0);
	d.n = 0;

	/* a record that never comes: the packet goes on late after the wait, and a packet of
	 * its flow whose own record is in waits behind it all the same */
	fake_frame(&f[6], 6, 4, 20, true);
	fake_frame(&f[7], 7, 4, 21, true);
	mb_hold_record(h, 21, &rec_key);
	assert_true(mb_hold_admit(h, &f[6].p, &f[6], 1, 10 * ms, note_decided, &d));
	assert_true(mb_hold_admit(h, &f[7].p, &f[7], 1, 11 * ms, note_decided, &d));
	mb_hold_release(h, 10 * ms + wait - 1, note_decided, &d);
	assert_int_equal(d.n, 0);
	mb_hold_release(h, 10 * ms + wait, note_decided, &d);
	assert_int_equal(d.n, 2);
	assert_true(d.id[0] == 6 && d.late[0] && d.id[1] == 7 && !d.late[1]);
	d.n = 0;

	/* full: the oldest goes on as late to make room */
	for (int i = 0; i < 5; i++) {
		fake_frame(&f[i], i, 10 + (unsigned)i, 100 + (uint32_t)i, true);
		assert_true(mb_hold_admit(h, &f[i].p, &f[i], 1, 100 * ms, note_decided, &d));
	}
	assert_int_equal(d.n, 1);
	assert_true(d.id[0] == 0 && d.late[0]);
	assert_int_equal(mb_hold_count(h), 4);
	const struct mb_hold_stats *st = mb_hold_stats(h);
	assert_int_equal(st->overflow, 1);
	assert_int_equal(st->late, 2);
	assert_int_equal(st->released, 4);
	assert_int_equal(st->held, 10);
	assert_true(st->wait_max_ns == wait);
	/* flushed with packets waiting: each handed back, as late */
	d.n = 0;
	mb_hold_flush(h, note_decided, &d);
	assert_int_equal(d.n, 4);
	assert_true(d.late[0] && d.late[3]);
	assert_int_equal(mb_hold_count(h), 0);
	mb_hold_free(h);

	/* the records' flow, kept by nonce: none when it is the packet's own; the flow as it
	 * left the gateway when a NAT rewrote the packet since; none for an unmarked packet.
	 * With wait_ns 0 nothing waits, the flows are kept all the same. */
	h = mb_hold_new(4, 0);
	fake_frame(&f[0], 0, 1, 300, true);
	mb_hold_record(h, 300, &rec_key);
	assert_null(mb_hold_rec_flow(h, &f[0].p));
	fake_frame(&f[1], 1, 9, 301, true);
	assert_false(mb_hold_admit(h, &f[1].p, &f[1], 1, 0, note_decided, &d));
	assert_null(mb_hold_rec_flow(h, &f[1].p)); /* its record is not in */
	mb_hold_record(h, 301, &rec_key);
	const struct mb_flow_key *rf = mb_hold_rec_flow(h, &f[1].p);
	assert_non_null(rf);
	assert_true(rf->hash == f[0].p.flow.hash && rf->a == f[0].p.flow.a && rf->pa == f[0].p.flow.pa);
	fake_frame(&f[2], 2, 9, 301, false);
	assert_null(mb_hold_rec_flow(h, &f[2].p));
	mb_hold_free(h);

	/* not marked: no nonce */
	assert_false(mb_pkt_nonce(&f[2].p, &nonce));
}

/* A real Embark packet: mb_parse_l3 finds the gateway's mark and the option's nonce. */
static void test_parse_mark(void **state)
{
	(void)state;
	char err[256];
	embark_ruleset rs = {0};
	embark_poolset ps = {0};
	embark_config cfg;
	embark_config_default(&cfg);
	embark_keys *k = test_keys(3);
	embark_gw *gw = embark_gw_new(k, &rs, &ps, &cfg, err, sizeof err);
	assert_non_null(gw);
	uint64_t seed = 1;
	uint8_t plain[128], enc[512];
	size_t n = build_ipv4(&seed, plain, 6, 0x0a000001, 0x0a000002, 1000, 80, 0, 20, 'x'), len;
	for (int i = 0; i < 2; i++)
		assert_int_equal(embark_encrypt_packet(gw, plain, n, enc, sizeof enc, &len), EMBARK_OK);
	uint32_t nonce;
	assert_true(embark_packet_nonce(enc, len, &nonce));
	struct mb_pkt p;
	assert_int_equal(mb_parse_l3(enc, len, 0x86dd, &p), 0);
	assert_false(mb_pkt_has_records(&p)); /* not marked: nothing to wait for */
	enc[1] |= MB_LABEL_RECORDS >> 16;
	assert_int_equal(mb_parse_l3(enc, len, 0x86dd, &p), 0);
	uint32_t got = 0;
	assert_true(mb_pkt_has_records(&p) && mb_pkt_nonce(&p, &got));
	assert_int_equal(got, nonce);
	embark_gw_free(gw);
	embark_keys_free(k);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_addrs_plain),   cmocka_unit_test(test_addrs_encrypted),
		cmocka_unit_test(test_addrs_refused), cmocka_unit_test(test_addrs_named),
		cmocka_unit_test(test_uris),          cmocka_unit_test(test_flows),
		cmocka_unit_test(test_flows_carry),   cmocka_unit_test(test_parse_rewrite),
		cmocka_unit_test(test_ext),           cmocka_unit_test(test_epochs),
		cmocka_unit_test(test_hold),          cmocka_unit_test(test_parse_mark),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
