/* SPDX-License-Identifier: BSD-3-Clause */
/* The relay's follower of nanomsg ipc framing: real byte streams as nanomsg writes them,
 * cut at every offset, two clients back to back with no hang-up between, and junk. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <string.h>

#include <cmocka.h>

#include "sp_follow.h"

/* What the relay would do: each NF connection's bytes, and the refusals. */
struct trace {
	uint8_t conn[4][256];
	size_t len[4];
	int conns; /* connections opened */
	int open;  /* index of the open one, -1 if none */
	int bad;
};

static void record(void *ctx, enum sp_event ev, const uint8_t *data, size_t n)
{
	struct trace *t = ctx;
	switch (ev) {
	case SP_NEW_CLIENT:
		assert_true(t->conns < 4);
		t->open = t->conns++;
		break;
	case SP_PASS:
		assert_true(t->open >= 0); /* bytes only ever go to a connection a greeting opened */
		assert_true(t->len[t->open] + n <= sizeof(t->conn[0]));
		memcpy(t->conn[t->open] + t->len[t->open], data, n);
		t->len[t->open] += n;
		break;
	case SP_BAD:
		assert_non_null(data);
		t->bad++;
		t->open = -1;
		break;
	}
}

static size_t greeting(uint8_t *p)
{
	const uint8_t g[8] = {0, 'S', 'P', 0, 0x30, 0x10, 0, 0}; /* REQ */
	memcpy(p, g, 8);
	return 8;
}

static size_t message_of(uint8_t *p, const uint8_t *body, size_t n)
{
	p[0] = 1;
	for (int k = 0; k < 8; k++)
		p[1 + k] = (uint8_t)((uint64_t)n >> (56 - 8 * k));
	memcpy(p + 9, body, n);
	return 9 + n;
}

static size_t message(uint8_t *p, const char *body)
{
	return message_of(p, (const uint8_t *)body, strlen(body));
}

/* feeds the stream in two parts cut at `cut`, so no offset is special */
static void feed_cut(struct trace *t, const uint8_t *s, size_t n, size_t cut)
{
	memset(t, 0, sizeof(*t));
	t->open = -1;
	struct sp_follow f;
	sp_follow_init(&f);
	sp_follow_feed(&f, s, cut, record, t);
	sp_follow_feed(&f, s + cut, n - cut, record, t);
}

/* connection i got exactly these bytes */
static void assert_conn(const struct trace *t, int i, const uint8_t *bytes, size_t len)
{
	assert_true(i < t->conns);
	assert_int_equal(t->len[i], len);
	assert_memory_equal(t->conn[i], bytes, len);
}

static void one_client_passes_unchanged(void **state)
{
	(void)state;
	uint8_t s[128];
	size_t n = greeting(s);
	n += message(s + n, "status");
	n += message(s + n, "");
	n += message(s + n, "rules");
	for (size_t cut = 0; cut <= n; cut++) {
		struct trace t;
		feed_cut(&t, s, n, cut);
		assert_int_equal(t.conns, 1);
		assert_int_equal(t.bad, 0);
		assert_conn(&t, 0, s, n);
	}
}

static void next_greeting_is_a_new_connection(void **state)
{
	(void)state;
	uint8_t s[128];
	size_t a = greeting(s);
	a += message(s + a, "status");
	size_t n = a + greeting(s + a);
	n += message(s + n, "rules --send");
	for (size_t cut = 0; cut <= n; cut++) {
		struct trace t;
		feed_cut(&t, s, n, cut);
		assert_int_equal(t.conns, 2);
		assert_int_equal(t.bad, 0);
		assert_conn(&t, 0, s, a);
		assert_conn(&t, 1, s + a, n - a);
	}
}

static void greeting_bytes_inside_a_body_are_body(void **state)
{
	(void)state;
	uint8_t s[128];
	const uint8_t body[] = {'x', 0, 'S', 'P', 0, 0x30, 0x10, 0, 0, 'y', 0}; /* not a string */
	size_t n = greeting(s);
	n += message_of(s + n, body, sizeof(body));
	struct trace t;
	feed_cut(&t, s, n, n / 2);
	assert_int_equal(t.conns, 1);
	assert_conn(&t, 0, s, n);
}

static void junk_is_refused_until_a_greeting(void **state)
{
	(void)state;
	uint8_t s[128];
	size_t n = greeting(s);
	n += message(s + n, "status");
	s[n++] = 7;                                          /* no such message type */
	const uint8_t false_start[] = {0, 'S', 'X', 0, 'S'}; /* then the real greeting */
	memcpy(s + n, false_start, sizeof(false_start));
	n += sizeof(false_start);
	size_t b = n;
	n += greeting(s + n);
	n += message(s + n, "status");
	for (size_t cut = 0; cut <= n; cut++) {
		struct trace t;
		feed_cut(&t, s, n, cut);
		assert_int_equal(t.bad, 1);
		assert_int_equal(t.conns, 2);
		assert_conn(&t, 1, s + b, n - b);
	}
}

static void a_stream_must_start_with_a_greeting(void **state)
{
	(void)state;
	uint8_t s[64] = "GET / HTTP/1.0\r\n";
	size_t n = strlen((char *)s);
	size_t b = n;
	n += greeting(s + n);
	struct trace t;
	feed_cut(&t, s, n, 3);
	assert_int_equal(t.bad, 1);
	assert_int_equal(t.conns, 1);
	assert_conn(&t, 0, s + b, n - b);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(one_client_passes_unchanged),
		cmocka_unit_test(next_greeting_is_a_new_connection),
		cmocka_unit_test(greeting_bytes_inside_a_body_are_body),
		cmocka_unit_test(junk_is_refused_until_a_greeting),
		cmocka_unit_test(a_stream_must_start_with_a_greeting),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
