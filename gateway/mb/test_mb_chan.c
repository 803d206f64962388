/* SPDX-License-Identifier: BSD-3-Clause */
/* The live extension channel: records published on a real e2chan PUB (as embark-gw
 * publishes them) reach the middlebox's subscriber whole, in order; a body that is not a
 * record is refused and counted; nothing waiting means no wait. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include <cmocka.h>

#include "e2/chan.h"
#include "mb_chan.h"

struct got {
	uint32_t epochs[16];
	size_t n;
	uint32_t last; /* of every record taken, kept or not */
};

static void take(void *ctx, struct mb_ext *x)
{
	struct got *g = ctx;
	if (g->n < 16)
		g->epochs[g->n++] = x->epoch;
	g->last = x->epoch;
}

static void publish_for(struct e2_chan *pub, uint32_t epoch, uint32_t nonce, bool last)
{
	uint64_t tok[2] = {5, 6}, off[2] = {0, 1};
	struct ext_record rec = {.epoch = epoch,
				 .flow = {1, 2, 3},
				 .salt0 = 9,
				 .tokens = tok,
				 .offsets = off,
				 .ntokens = 2,
				 .packet_nonce = nonce,
				 .packet_last = last};
	struct ext_codec *c = ext_codec_new();
	size_t len;
	struct e2_err err;
	const uint8_t *b = ext_record_encode(c, &rec, &len, &err);
	assert_non_null(b);
	assert_int_equal(e2_chan_send(pub, b, len, 1000, &err), 0);
	ext_codec_free(c);
}

static void publish(struct e2_chan *pub, uint32_t epoch)
{
	publish_for(pub, epoch, epoch, true);
}

struct waiting {
	struct mb_hold *h;
	size_t records, decided;
	bool late;
};

/* as the middlebox frame takes a record: its packet may go once its last record is in */
static void take_for_hold(void *ctx, struct mb_ext *x)
{
	struct waiting *w = ctx;
	w->records++;
	if (x->packet_last)
		mb_hold_record(w->h, x->packet_nonce, &x->key);
}

static void decided(void *ctx, void *item, unsigned port, struct mb_pkt *p, bool late)
{
	struct waiting *w = ctx;
	(void)item, (void)port, (void)p;
	w->decided++;
	w->late |= late;
}

static void sleep_ms(int ms)
{
	struct timespec ts = {0, ms * 1000000L};
	nanosleep(&ts, NULL);
}

static void test_live(void **state)
{
	(void)state;
	char dir[] = "/tmp/embark-mb-chan.XXXXXX", url[128];
	assert_non_null(mkdtemp(dir));
	snprintf(url, sizeof(url), "ipc://%s/ext.sock", dir);
	struct e2_err err;
	struct e2_chan *pub = e2_chan_new(E2_CHAN_PUB, "embark-gw", NULL, &err);
	assert_non_null(pub);
	assert_int_equal(e2_chan_bind(pub, url, &err), 0);
	const char *urls[] = {url};
	struct mb_chan *c = mb_chan_open(urls, 1, NULL, &err);
	assert_non_null(c);
	struct got g = {0};
	uint64_t refused = 0;
	/* a subscriber misses what is published before it has joined: wait for it */
	for (int i = 0; i < 500 && g.n == 0; i++) {
		publish(pub, 1);
		sleep_ms(10);
		mb_chan_drain(c, take, &g, &refused);
	}
	assert_true(g.n >= 1);
	/* Probes published before the one heard may still be on their way (a busy machine
	 * once delivered one after a 50 ms wait): publish a marker and drain up to it; one
	 * publisher's records arrive in order, so nothing older can come after it. */
	publish(pub, 99);
	for (int i = 0; i < 500 && g.last != 99; i++) {
		g.n = 0;
		sleep_ms(10);
		mb_chan_drain(c, take, &g, &refused);
	}
	assert_int_equal(g.last, 99);
	g.n = 0;
	publish(pub, 2);
	publish(pub, 3);
	assert_int_equal(e2_chan_send(pub, "\xff\xff\xff", 3, 1000, &err), 0);
	publish(pub, 4);
	for (int i = 0; i < 500 && g.n < 3; i++) {
		sleep_ms(10);
		mb_chan_drain(c, take, &g, &refused);
	}
	assert_int_equal(g.n, 3);
	assert_int_equal(g.epochs[0], 2);
	assert_int_equal(g.epochs[1], 3);
	assert_int_equal(g.epochs[2], 4);
	assert_int_equal(refused, 1);
	assert_int_equal(mb_chan_drain(c, take, &g, &refused), 0); /* nothing waits: returns */

	/* The race: the packet comes first. It waits while only its first record is in, and
	 * is decided (not late) once its last one comes over the channel. */
	struct mb_hold *h = mb_hold_new(8, 10ull * 1000000000u);
	struct waiting w = {.h = h};
	uint8_t l3[64] = {0x60, 0x08, 0x00, 0x01, [6] = 60, [46] = 0, 0, 0x12, 0x34};
	struct mb_pkt p = {.l3 = l3, .l3_len = sizeof l3, .v6 = true, .marked = true, .nonce = 0x1234};
	embark_key5 k = {.sip = 1, .dip = 2, .sport = 3, .dport = 4, .proto = 6, .has_ports = true};
	mb_flow_key(&k, &p.flow, NULL);
	assert_true(mb_hold_admit(h, &p, l3, 0, 0, decided, &w));
	for (int r = 0; r < 2; r++) {
		bool last = r == 1;
		publish_for(pub, 1, 0x1234, last);
		for (int i = 0; i < 500 && w.records <= (size_t)r; i++) {
			sleep_ms(10);
			mb_chan_drain(c, take_for_hold, &w, &refused);
		}
		mb_hold_release(h, 1 + (uint64_t)r, decided, &w);
		assert_int_equal(w.records, r + 1);
		assert_int_equal(w.decided, last ? 1 : 0);
	}
	assert_false(w.late);
	assert_int_equal(mb_hold_stats(h)->released, 1);
	mb_hold_free(h);
	mb_chan_close(c);
	e2_chan_close(pub);
	rmdir(dir);
	const char *nowhere[] = {"ipc:///nonexistent-dir/x.sock"};
	assert_null(mb_chan_open(nowhere, 1, "/nonexistent-key", &err));
}

/* Two gateways publish (each its own site's records): one subscriber hears both. Each
 * needs a name of its own (embark-gw --name): the subscriber's replay check keeps one
 * boot per name, so of two gateways under one name it would take only the one that
 * started last, once it had heard it. */
static void test_two_gateways(void **state)
{
	(void)state;
	char dir[] = "/tmp/embark-mb-chan.XXXXXX", url[2][128];
	assert_non_null(mkdtemp(dir));
	struct e2_err err;
	struct e2_chan *pub[2];
	for (int i = 0; i < 2; i++) {
		snprintf(url[i], sizeof(url[i]), "ipc://%s/ext%d.sock", dir, i);
		char name[32];
		snprintf(name, sizeof(name), "embark-gw-%c", 'a' + i);
		pub[i] = e2_chan_new(E2_CHAN_PUB, name, NULL, &err);
		assert_non_null(pub[i]);
		assert_int_equal(e2_chan_bind(pub[i], url[i], &err), 0);
	}
	const char *urls[] = {url[0], url[1]};
	struct mb_chan *c = mb_chan_open(urls, 2, NULL, &err);
	assert_non_null(c);
	struct got g = {0};
	uint64_t refused = 0;
	bool heard[2] = {false, false};
	for (int i = 0; i < 500 && !(heard[0] && heard[1]); i++) {
		publish(pub[0], 10);
		publish(pub[1], 20);
		sleep_ms(10);
		g.n = 0;
		mb_chan_drain(c, take, &g, &refused);
		for (size_t k = 0; k < g.n; k++)
			heard[g.epochs[k] == 20] = true;
	}
	assert_true(heard[0] && heard[1]);
	assert_int_equal(refused, 0);
	mb_chan_close(c);
	for (int i = 0; i < 2; i++)
		e2_chan_close(pub[i]);
	char sock[160];
	for (int i = 0; i < 2; i++) {
		snprintf(sock, sizeof sock, "%s/ext%d.sock", dir, i);
		unlink(sock);
	}
	rmdir(dir);
}

int main(void)
{
	const struct CMUnitTest tests[] = {cmocka_unit_test(test_live), cmocka_unit_test(test_two_gateways)};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
