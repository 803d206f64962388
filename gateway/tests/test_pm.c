/* SPDX-License-Identifier: BSD-3-Clause */
/* PrefixMatch: interval map construction and the property that matters — classification
 * over ciphertext equals classification over plaintext — over thousands of random rule sets. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <cmocka.h>
#include <stdlib.h>

#include "common.h"

static embark_keys *K;

static void test_one_element_interval(void **st)
{
	(void)st;
	char err[256];
	embark_range r[] = {{13, 25}, {25, 27}};
	embark_pm *pm = embark_pm_build(K, 16, 8, r, 2, err, sizeof err);
	assert_non_null(pm);
	/* intervals: [0,12] [13,24] [25,25] [26,27] [28,max] */
	assert_int_equal(embark_pm_intervals(pm), 5);
	uint64_t out0 = embark_pm_lookup(pm, 0), a = embark_pm_lookup(pm, 13), b = embark_pm_lookup(pm, 25),
		 c = embark_pm_lookup(pm, 26), out1 = embark_pm_lookup(pm, 28);
	assert_int_equal(out0, out1); /* same set of prefixes (only P0): same value */
	assert_int_equal(embark_pm_lookup(pm, 24), a);
	assert_int_equal(embark_pm_lookup(pm, 27), c);
	assert_int_equal(embark_pm_lookup(pm, 0xffff), out0);
	assert_true(a != b && b != c && a != c && a != out0 && b != out0 && c != out0);
	uint64_t enc[8];
	assert_int_equal(embark_pm_encrypt_range(pm, r[0], enc, 8), 2);
	assert_true(enc[0] < enc[1]); /* sorted */
	assert_true((enc[0] == a && enc[1] == b) || (enc[0] == b && enc[1] == a));
	embark_pm_free(pm);
}

static void test_deterministic_map(void **st)
{
	(void)st;
	char err[256];
	embark_range r[] = {{100, 200}, {150, 300}, {1000, 1000}};
	embark_pm *a = embark_pm_build(K, 128, 16, r, 3, err, sizeof err);
	embark_pm *b = embark_pm_build(K, 128, 16, r, 3, err, sizeof err);
	embark_keys *k2 = test_keys(99);
	embark_pm *c = embark_pm_build(k2, 128, 16, r, 3, err, sizeof err);
	int differ = 0;
	for (embark_u128 v = 90; v < 1010; v++) {
		assert_int_equal(embark_pm_lookup(a, v), embark_pm_lookup(b, v));
		differ += embark_pm_lookup(a, v) != embark_pm_lookup(c, v);
	}
	assert_true(differ > 0);
	embark_pm_free(a);
	embark_pm_free(b);
	embark_pm_free(c);
	embark_keys_free(k2);
	/* encrypted address prefixes are never ::/8, fe80::/10 or ff00::/8 */
	embark_range many[3000];
	for (int i = 0; i < 3000; i++)
		many[i] = (embark_range){(embark_u128)i * 1000, (embark_u128)i * 1000 + 500};
	embark_pm *m = embark_pm_build(K, 128, 16, many, 3000, err, sizeof err);
	assert_non_null(m);
	for (int i = 0; i < 3000; i++) {
		uint64_t v = embark_pm_lookup(m, many[i].lo);
		assert_true((v >> 8) != 0 && (v >> 8) != 0xff && (v >> 6) != 0x3fa);
	}
	embark_pm_free(m);
}

static void test_bad_ranges(void **st)
{
	(void)st;
	char err[256];
	embark_range bad[] = {{5, 4}};
	assert_null(embark_pm_build(K, 16, 8, bad, 1, err, sizeof err));
	embark_range big[] = {{0, 0x10000}};
	assert_null(embark_pm_build(K, 16, 8, big, 1, err, sizeof err));
	assert_null(embark_pm_build(K, 32, 8, NULL, 0, err, sizeof err));
	assert_null(embark_pm_build(K, 16, 17, NULL, 0, err, sizeof err));
}

static void test_prefix_len_grows(void **st)
{
	(void)st;
	char err[256];
	embark_range r[400];
	for (int i = 0; i < 400; i++)
		r[i] = (embark_range){(embark_u128)i * 100, (embark_u128)i * 100 + 10};
	embark_pm *p = embark_pm_build(K, 16, 8, r, 400, err, sizeof err);
	assert_non_null(p);
	assert_true(embark_pm_prefix_len(p) > 8);
	/* every range still has its own distinct value */
	for (int i = 1; i < 400; i++)
		assert_true(embark_pm_lookup(p, r[i].lo) != embark_pm_lookup(p, r[i - 1].lo));
	embark_pm_free(p);
	embark_pm *q = embark_pm_build(K, 16, 8, NULL, 0, err, sizeof err);
	assert_int_equal(embark_pm_intervals(q), 1);
	embark_pm_free(q);
}

/* Values clustered so that random packets hit rule endpoints often. */
static uint32_t pick_addr(uint64_t *s)
{
	static const uint32_t bases[] = {0x0a000000, 0x0a000100, 0xc0a80000, 0x08080808, 0xffffff00, 0};
	return bases[rnd_below(s, 6)] + rnd_below(s, 600) - 40;
}
static uint16_t pick_port(uint64_t *s)
{
	static const uint16_t bases[] = {0, 80, 443, 1024, 65500, 53};
	return (uint16_t)(bases[rnd_below(s, 6)] + rnd_below(s, 40));
}

static void random_rule(uint64_t *s, embark_rule *r, int i)
{
	memset(r, 0, sizeof *r);
	snprintf(r->id, sizeof r->id, "r%d", i);
	r->prio = i;
	r->action = (int)(rnd(s) & 1);
	int pk = (int)rnd_below(s, 4);
	r->proto = pk == 0 ? EMBARK_PROTO_ANY : pk == 1 ? 6 : pk == 2 ? 17 : 1;
	embark_range *ar[2] = {&r->src, &r->dst};
	bool *aany[2] = {&r->src_any, &r->dst_any};
	for (int k = 0; k < 2; k++) {
		int kind = (int)rnd_below(s, 4);
		uint32_t a = pick_addr(s);
		if (kind == 0) {
			*aany[k] = true;
			*ar[k] = (embark_range){0, ~(embark_u128)0};
		} else if (kind == 1) {
			int len = 20 + (int)rnd_below(s, 13);
			uint32_t m = len == 32 ? 0 : (0xffffffffu >> len);
			*ar[k] = (embark_range){embark_v4mapped(a & ~m), embark_v4mapped(a | m)};
		} else if (kind == 2) {
			uint32_t b = a + rnd_below(s, 300);
			if (b < a)
				b = a;
			*ar[k] = (embark_range){embark_v4mapped(a), embark_v4mapped(b)};
		} else
			*ar[k] = (embark_range){embark_v4mapped(a), embark_v4mapped(a)};
	}
	embark_range *pr[2] = {&r->sport, &r->dport};
	bool *pany[2] = {&r->sport_any, &r->dport_any};
	for (int k = 0; k < 2; k++) {
		int kind = (int)rnd_below(s, 3);
		uint16_t a = pick_port(s);
		if (kind == 0) {
			*pany[k] = true;
			*pr[k] = (embark_range){0, 0xffff};
		} else if (kind == 1) {
			uint32_t b = a + rnd_below(s, 30);
			if (b > 0xffff)
				b = 0xffff;
			*pr[k] = (embark_range){a, b};
		} else
			*pr[k] = (embark_range){a, a};
	}
}

static void test_classification_equivalence(void **st)
{
	(void)st;
	uint64_t s = 0x1234567887654321ull;
	char err[256];
	long packets = 0, matched = 0;
	for (int set = 0; set < 2000; set++) {
		embark_ruleset rs = {0};
		rs.n = 1 + rnd_below(&s, 25);
		rs.v = calloc(rs.n, sizeof *rs.v);
		for (size_t i = 0; i < rs.n; i++)
			random_rule(&s, &rs.v[i], (int)i);
		embark_config cfg;
		embark_config_default(&cfg);
		cfg.port_prefix_len = 1 + (int)rnd_below(&s, 8);
		embark_gw *gw = embark_gw_new(K, &rs, NULL, &cfg, err, sizeof err);
		assert_non_null(gw);
		embark_ruleset enc;
		assert_int_equal(embark_rules_encrypt(gw, &rs, &enc, err, sizeof err), 0);
		embark_classifier *cp = embark_classifier_new(&rs), *ce = embark_classifier_new(&enc);
		for (int p = 0; p < 60; p++) {
			embark_tuple4 t;
			/* sometimes aim exactly at a rule endpoint */
			const embark_rule *r = &rs.v[rnd_below(&s, (uint32_t)rs.n)];
			int proto_pick = (int)rnd_below(&s, 3);
			t.proto = proto_pick == 0 ? 6 : proto_pick == 1 ? 17 : 1;
			if (rnd(&s) & 1) { /* a packet inside rule r */
				if (r->proto != EMBARK_PROTO_ANY)
					t.proto = (uint8_t)r->proto;
				t.sip = r->src_any ? pick_addr(&s)
						   : (uint32_t)(r->src.lo +
								rnd(&s) % (uint64_t)(r->src.hi - r->src.lo + 1));
				t.dip = r->dst_any ? pick_addr(&s)
						   : (uint32_t)(r->dst.lo +
								rnd(&s) % (uint64_t)(r->dst.hi - r->dst.lo + 1));
				t.sport = (uint16_t)(r->sport.lo + rnd(&s) % (uint64_t)(r->sport.hi - r->sport.lo + 1));
				t.dport = (uint16_t)(r->dport.lo + rnd(&s) % (uint64_t)(r->dport.hi - r->dport.lo + 1));
				if (t.proto != 6 && t.proto != 17)
					t.sport = t.dport = 0;
				goto classify;
			}
			t.sip = (rnd(&s) & 1) && !r->src_any ? (uint32_t)((rnd(&s) & 1) ? r->src.lo : r->src.hi)
							     : pick_addr(&s);
			t.dip = (rnd(&s) & 1) && !r->dst_any ? (uint32_t)((rnd(&s) & 1) ? r->dst.lo : r->dst.hi)
							     : pick_addr(&s);
			t.sport = t.proto == 1 ? 0
				  : (rnd(&s) & 1)
					  ? (uint16_t)((rnd(&s) & 1) ? r->sport.lo : r->sport.hi + (rnd(&s) & 1))
					  : pick_port(&s);
			t.dport = t.proto == 1 ? 0
				  : (rnd(&s) & 1)
					  ? (uint16_t)((rnd(&s) & 1) ? r->dport.lo - (rnd(&s) & 1) : r->dport.hi)
					  : pick_port(&s);
classify:;
			embark_key5 kp = {embark_v4mapped(t.sip),
					  embark_v4mapped(t.dip),
					  t.sport,
					  t.dport,
					  t.proto,
					  t.proto != 1};
			embark_key5 ke = {0};
			ke.proto = t.proto;
			ke.has_ports = kp.has_ports;
			embark_encrypt_tuple(gw, &t, &ke.sip, &ke.dip, &ke.sport, &ke.dport);
			if (!ke.has_ports)
				ke.sport = ke.dport = 0;
			const embark_rule *mp = embark_classify(cp, &kp), *me = embark_classify(ce, &ke);
			if (!mp != !me || (mp && strcmp(mp->id, me->id))) {
				fail_msg("set %d packet %d: plaintext rule %s, ciphertext rule %s", set, p,
					 mp ? mp->id : "none", me ? me->id : "none");
			}
			packets++;
			matched += mp != NULL;
		}
		embark_classifier_free(cp);
		embark_classifier_free(ce);
		embark_ruleset_free(&enc);
		embark_ruleset_free(&rs);
		embark_gw_free(gw);
	}
	print_message("%ld packets over 2000 rule sets, %ld matched a rule\n", packets, matched);
	assert_true(matched > packets / 5);
}

typedef struct {
	embark_u128 enc_ip;
	uint16_t enc_port;
	uint32_t ip;
	uint16_t port;
} nat_row;
static int cmp_row(const void *a, const void *b)
{
	const nat_row *x = a, *y = b;
	if (x->enc_ip != y->enc_ip)
		return x->enc_ip < y->enc_ip ? -1 : 1;
	return x->enc_port < y->enc_port ? -1 : x->enc_port > y->enc_port;
}

static void test_flow_properties(void **st)
{
	(void)st;
	char err[256];
	embark_gw *gw = embark_gw_new(K, NULL, NULL, NULL, err, sizeof err);
	assert_non_null(gw);
	embark_tuple4 t = {0x0a000001, 0x08080808, 5555, 80, 6};
	embark_u128 a1, b1, a2, b2;
	uint16_t p1, q1, p2, q2;
	embark_encrypt_tuple(gw, &t, &a1, &b1, &p1, &q1);
	embark_encrypt_tuple(gw, &t, &a2, &b2, &p2, &q2);
	assert_true(a1 == a2 && b1 == b2 && p1 == p2 && q1 == q2); /* deterministic within a flow */
	/* reverse direction: same seed, so each endpoint encrypts the same way */
	embark_tuple4 rev = {t.dip, t.sip, t.dport, t.sport, 6};
	embark_encrypt_tuple(gw, &rev, &a2, &b2, &p2, &q2);
	assert_true(a2 == b1 && b2 == a1 && p2 == q1 && q2 == p1);
	/* the single-value API agrees with the batched one */
	uint8_t seed[16];
	embark_flow_seed(gw, &t, seed);
	assert_true(embark_encrypt_addr(gw, seed, embark_v4mapped(t.sip)) == a1);
	assert_int_equal(embark_encrypt_port(gw, seed, t.sport), p1);
	/* across flows the same address encrypts differently */
	enum { N = 2000 };
	embark_u128 *v = malloc(N * sizeof *v);
	for (int i = 0; i < N; i++) {
		embark_tuple4 u = t;
		u.sport = (uint16_t)(1000 + i);
		embark_u128 x, y;
		uint16_t sp, dp;
		embark_encrypt_tuple(gw, &u, &x, &y, &sp, &dp);
		v[i] = x;
		assert_false(embark_is_pool_value(x));
	}
	for (int i = 0; i < N; i++)
		for (int j = i + 1; j < N; j++)
			assert_true(v[i] != v[j]);
	free(v);
	embark_gw_free(gw);
}

/* Seed §4.7.2: (4.6) equal 5-tuples give equal Enc(SIP, SP); (4.7) equal Enc(SIP, SP)
 * only for equal (SIP, SP) — checked over many flows sharing few addresses and ports. */
static void test_nat_properties(void **st)
{
	(void)st;
	char err[256];
	embark_ruleset rs = {0};
	assert_int_equal(
		embark_rules_parse("deny src=10.0.0.0/30\naccept sport=100-102\n", 42, "t", &rs, err, sizeof err), 0);
	embark_gw *gw = embark_gw_new(K, &rs, NULL, NULL, err, sizeof err);
	assert_non_null(gw);
	uint64_t s = 77;
	enum { N = 50000 };
	nat_row *rows = malloc(N * sizeof *rows);
	for (int i = 0; i < N; i++) {
		embark_tuple4 t = {0x0a000000 + rnd_below(&s, 4), 0x08080800 + rnd_below(&s, 4),
				   (uint16_t)(100 + rnd_below(&s, 4)), (uint16_t)(80 + rnd_below(&s, 3)), 6};
		embark_u128 es, ed;
		uint16_t esp, edp;
		embark_encrypt_tuple(gw, &t, &es, &ed, &esp, &edp);
		embark_u128 es2, ed2;
		uint16_t esp2, edp2;
		embark_encrypt_tuple(gw, &t, &es2, &ed2, &esp2, &edp2);
		assert_true(es == es2 && esp == esp2); /* (4.6) */
		rows[i] = (nat_row){es, esp, t.sip, t.sport};
		(void)ed;
		(void)edp;
	}
	qsort(rows, N, sizeof *rows, cmp_row);
	for (int i = 1; i < N; i++)
		if (rows[i].enc_ip == rows[i - 1].enc_ip && rows[i].enc_port == rows[i - 1].enc_port) /* (4.7) */
			assert_true(rows[i].ip == rows[i - 1].ip && rows[i].port == rows[i - 1].port);
	free(rows);
	embark_gw_free(gw);
	embark_ruleset_free(&rs);
}

static void test_pools(void **st)
{
	(void)st;
	char err[256];
	embark_poolset ps = {0};
	const char *txt = "pool nat 198.51.100.0/28\npool lb 203.0.113.7\n";
	assert_int_equal(embark_pools_parse(txt, strlen(txt), "p", &ps, err, sizeof err), 0);
	assert_int_equal(ps.n, 2);
	embark_gw *gw = embark_gw_new(K, NULL, &ps, NULL, err, sizeof err);
	assert_non_null(gw);
	embark_u128 *v;
	size_t n;
	assert_int_equal(embark_pools_encrypt(gw, &v, &n), 0);
	assert_int_equal(n, 17);
	for (size_t i = 0; i < n; i++) {
		assert_true(embark_is_pool_value(v[i]));
		if (i)
			assert_true(v[i] > v[i - 1]);
	}
	free(v);
	embark_gw_free(gw);
	embark_poolset_free(&ps);
	const char *bad[] = {"pool a 10.0.0.0/8\n",
			     "pool a 1.2.3.4\npool b 1.2.3.0/29\n",
			     "pool a\n",
			     "pool a any\n",
			     "pol a 1.2.3.4\n",
			     "pool a 1.2.3.4 x\n",
			     "pool a 2001:db8::1\n"};
	for (size_t i = 0; i < sizeof bad / sizeof *bad; i++) {
		err[0] = 0;
		if (embark_pools_parse(bad[i], strlen(bad[i]), "p", &ps, err, sizeof err) != -1)
			fail_msg("accepted: %s", bad[i]);
		assert_true(strncmp(err, "p:", 2) == 0);
	}
}

int main(void)
{
	K = test_keys(1);
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_one_element_interval),
		cmocka_unit_test(test_deterministic_map),
		cmocka_unit_test(test_bad_ranges),
		cmocka_unit_test(test_prefix_len_grows),
		cmocka_unit_test(test_classification_equivalence),
		cmocka_unit_test(test_flow_properties),
		cmocka_unit_test(test_nat_properties),
		cmocka_unit_test(test_pools),
	};
	int rc = cmocka_run_group_tests(tests, NULL, NULL);
	embark_keys_free(K);
	return rc;
}
