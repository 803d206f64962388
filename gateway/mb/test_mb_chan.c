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
};

static void take(void *ctx, struct mb_ext *x)
{
	struct got *g = ctx;
	if (g->n < 16)
		g->epochs[g->n++] = x->epoch;
}

static void publish(struct e2_chan *pub, uint32_t epoch)
{
	uint8_t flow[MB_FLOW_ID_LEN] = {1, 2, 3};
	uint64_t tok[2] = {5, 6}, off[2] = {0, 1};
	size_t len;
	uint8_t *b = mb_ext_encode(epoch, flow, 9, tok, off, 2, NULL, 0, &len);
	struct e2_err err;
	assert_int_equal(e2_chan_send(pub, b, len, 1000, &err), 0);
	free(b);
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
	struct mb_chan *c = mb_chan_open(url, NULL, &err);
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
	sleep_ms(50);
	mb_chan_drain(c, take, &g, &refused);
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
	mb_chan_close(c);
	e2_chan_close(pub);
	rmdir(dir);
	assert_null(mb_chan_open("ipc:///nonexistent-dir/x.sock", "/nonexistent-key", &err));
}

int main(void)
{
	const struct CMUnitTest tests[] = {cmocka_unit_test(test_live)};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
