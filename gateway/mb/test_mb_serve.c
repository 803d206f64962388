/* SPDX-License-Identifier: BSD-3-Clause */
/* Serving a cached object in a taken-over connection (mb_serve.c): whole segments at the
 * server's sequence numbers within the client's window, the FIN after them, go-back-N on
 * the timer with the timeout doubling and a give-up, a zero window probed, the client's
 * data and FIN acknowledged, sequence numbers wrapping. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <cmocka.h>
#include <string.h>

#include "mb_serve.h"

#define MS 1000000ull
#define ACK 0x10
#define FIN 0x01

static struct mb_cache_seg segs[3];
static struct mb_cache_obj obj = {.segs = segs, .nsegs = 3, .bytes = 2500, .complete = true};

static size_t next(struct mb_serve *s, uint64_t now, struct mb_serve_out *o)
{
	return mb_serve_next(s, now, o, 8);
}

static void test_window_fin_and_close(void **st)
{
	(void)st;
	struct mb_serve s;
	struct mb_serve_out o[8];
	const uint32_t iss = 0xfffffc00u; /* wraps inside the object */
	mb_serve_start(&s, &obj, iss, 777, 2100, 0);
	/* the window takes the first two segments (2000 bytes), not the third */
	assert_int_equal(next(&s, 0, o), 2);
	assert_int_equal(o[0].kind, MB_SERVE_SEG);
	assert_int_equal(o[0].seq, iss);
	assert_int_equal(o[0].ack, 777);
	assert_int_equal(o[1].seq, iss + 1000);
	assert_int_equal(o[1].flags, ACK);
	assert_int_equal(next(&s, 1 * MS, o), 0);
	/* the first acknowledged: the third (PSH) and the FIN go */
	mb_serve_client(&s, 777, 0, iss + 1000, 2100, ACK, 2 * MS);
	assert_int_equal(next(&s, 2 * MS, o), 2);
	assert_int_equal(o[0].seg, 2);
	assert_int_equal(o[0].seq, iss + 2000);
	assert_int_equal(o[0].flags, ACK | 0x08);
	assert_int_equal(o[1].kind, MB_SERVE_FIN);
	assert_int_equal(o[1].seq, iss + 2500);
	/* all and the FIN acknowledged; the client's FIN is acknowledged back; done */
	mb_serve_client(&s, 777, 0, iss + 2501, 65535, ACK, 3 * MS);
	assert_false(mb_serve_done(&s));
	mb_serve_client(&s, 777, 0, iss + 2501, 65535, ACK | FIN, 4 * MS);
	assert_int_equal(next(&s, 4 * MS, o), 1);
	assert_int_equal(o[0].kind, MB_SERVE_ACK);
	assert_int_equal(o[0].seq, iss + 2501);
	assert_int_equal(o[0].ack, 778);
	assert_true(mb_serve_done(&s));
}

static void test_loss_and_give_up(void **st)
{
	(void)st;
	struct mb_serve s;
	struct mb_serve_out o[8];
	mb_serve_start(&s, &obj, 1000, 5, 1 << 20, 0);
	assert_int_equal(next(&s, 0, o), 4); /* three segments and the FIN */
	/* the second was lost: the client acknowledges only the first */
	mb_serve_client(&s, 5, 0, 2000, 1 << 20, ACK, 10 * MS);
	assert_int_equal(next(&s, 100 * MS, o), 0); /* not before the timeout */
	assert_int_equal(next(&s, 211 * MS, o), 3); /* go back: 2nd, 3rd, FIN */
	assert_int_equal(o[0].seg, 1);
	assert_int_equal(o[2].kind, MB_SERVE_FIN);
	/* nothing more acknowledged: the timeout doubles each time, then it gives up */
	uint64_t t = 211 * MS, rto = 400 * MS;
	for (int i = 2; i <= MB_SERVE_RETRIES; i++) {
		assert_int_equal(next(&s, t + rto - 1, o), 0);
		t += rto;
		assert_int_equal(next(&s, t, o), 3);
		rto *= 2;
	}
	assert_int_equal(next(&s, t + rto, o), 0);
	assert_true(mb_serve_done(&s));
}

static void test_zero_window_and_client_data(void **st)
{
	(void)st;
	struct mb_serve s;
	struct mb_serve_out o[8];
	mb_serve_start(&s, &obj, 50, 9, 0, 0);
	assert_int_equal(next(&s, 0, o), 0);        /* a closed window */
	assert_int_equal(next(&s, 200 * MS, o), 1); /* a probe when the timer runs out */
	assert_int_equal(o[0].seg, 0);
	/* the client sends a new request (we cannot answer it): taken and acknowledged */
	mb_serve_client(&s, 9, 30, 50, 0, ACK, 210 * MS);
	assert_int_equal(next(&s, 210 * MS, o), 1);
	assert_int_equal(o[0].kind, MB_SERVE_ACK);
	assert_int_equal(o[0].ack, 39);
	/* a stray old segment: acknowledged where we are */
	mb_serve_client(&s, 1, 5, 50, 0, ACK, 220 * MS);
	assert_int_equal(next(&s, 220 * MS, o), 1);
	assert_int_equal(o[0].ack, 39);
	/* the window opens with the first acknowledged */
	mb_serve_client(&s, 39, 0, 1050, 4000, ACK, 230 * MS);
	assert_int_equal(next(&s, 230 * MS, o), 3); /* 2nd, 3rd, FIN */
	assert_int_equal(o[0].ack, 39);
}

/* The header a frame carries: ports, numbers, flags, window, the timestamp option laid
 * out as Linux lays it (NOP NOP TS), or none. */
static void test_header(void **st)
{
	(void)st;
	const uint8_t sport[2] = {0x1f, 0x90}, dport[2] = {0xc3, 0x51};
	const uint32_t ts[2] = {0x01020304, 0x0a0b0c0d};
	struct mb_serve_out o = {.kind = MB_SERVE_FIN, .seq = 0x11223344, .ack = 0x55667788, .flags = FIN | ACK};
	uint8_t h[MB_SERVE_HDR_MAX];
	static const uint8_t want[32] = {0x1f, 0x90, 0xc3, 0x51, 0x11, 0x22, 0x33, 0x44, 0x55, 0x66, 0x77,
					 0x88, 0x80, 0x11, 0xff, 0xff, 0,    0,    0,    0,    1,    1,
					 8,    10,   1,    2,    3,    4,    0x0a, 0x0b, 0x0c, 0x0d};
	assert_int_equal(mb_serve_header(&o, sport, dport, ts, h), 32);
	assert_memory_equal(h, want, 32);
	assert_int_equal(mb_serve_header(&o, sport, dport, NULL, h), 20);
	assert_int_equal(h[12], 0x50);
	assert_memory_equal(h, want, 12);
	assert_memory_equal(h + 13, want + 13, 7);
}

int main(void)
{
	for (int i = 0; i < 3; i++) {
		segs[i].ci.seg.offset = 1000u * (unsigned)i;
		segs[i].len = i < 2 ? 1000 : 500;
		segs[i].ci.seg.last = i == 2;
	}
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_window_fin_and_close),
		cmocka_unit_test(test_header),
		cmocka_unit_test(test_loss_and_give_up),
		cmocka_unit_test(test_zero_window_and_client_data),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
