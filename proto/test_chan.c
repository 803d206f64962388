/* SPDX-License-Identifier: BSD-3-Clause */
/* Sealed channels: envelopes against the documented layout, every refusal, key files, and
 * real nanomsg sockets on ipc:// (in a temporary directory) and tcp://127.0.0.1. */
#include <dirent.h>
#include <errno.h>
#include <netinet/in.h>
#include <poll.h>
#include <pthread.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/un.h>
#include <time.h>
#include <unistd.h>

#include <cmocka.h>
#include <nanomsg/nn.h>
#include <nanomsg/reqrep.h>
#include <openssl/evp.h>
#include <openssl/hmac.h>

#include "e2/bytes.h"
#include "e2/chan.h"
#include "e2/log.h"
#include "e2ctl.pb-c.h"

#define LONG_MS 10000 /* what a healthy exchange on a busy machine surely fits in */

static char tmpdir[] = "/tmp/e2-test-chan.XXXXXX";
static struct e2_chan_key key_a, key_b;

static uint64_t now_real(void)
{
	struct timespec ts;
	clock_gettime(CLOCK_REALTIME, &ts);
	return (uint64_t)ts.tv_sec * 1000000000ull + (uint64_t)ts.tv_nsec;
}

static int64_t clock_offset_ns;
static uint64_t now_shifted(void)
{
	return now_real() + (uint64_t)clock_offset_ns;
}

static void path_in_tmp(char *out, size_t n, const char *name)
{
	snprintf(out, n, "%s/%s", tmpdir, name);
}

static void write_file(const char *path, const void *data, size_t len, mode_t mode)
{
	FILE *f;
	unlink(path);
	f = fopen(path, "w");
	assert_non_null(f);
	assert_int_equal(fwrite(data, 1, len, f), len);
	fclose(f);
	assert_int_equal(chmod(path, mode), 0);
}

/* The MAC as chan.h documents it, computed here independently of chan.c. */
static void reference_mac(const struct e2_chan_key *key, uint32_t version, const char *sender, uint64_t boot,
			  uint64_t seq, uint64_t time_ns, const void *body, size_t body_len, uint8_t out[32])
{
	size_t slen = strlen(sender);
	size_t n = 4 + 4 + 2 + slen + 8 + 8 + 8 + 4 + body_len;
	uint8_t *buf = malloc(n), *p = buf;
	unsigned int out_len = 0;

	assert_non_null(buf);
	memcpy(p, "E2S1", 4);
	e2_put_be32(p + 4, version);
	e2_put_be16(p + 8, (uint16_t)slen);
	p += 10;
	memcpy(p, sender, slen);
	p += slen;
	e2_put_be64(p, boot);
	e2_put_be64(p + 8, seq);
	e2_put_be64(p + 16, time_ns);
	e2_put_be32(p + 24, (uint32_t)body_len);
	p += 28;
	if (body_len)
		memcpy(p, body, body_len);
	assert_non_null(HMAC(EVP_sha256(), key->bytes, (int)key->len, buf, n, out, &out_len));
	assert_int_equal(out_len, 32);
	free(buf);
}

struct env {
	uint32_t version;
	const char *sender;
	uint64_t boot, seq, time_ns;
	const char *body;
	const struct e2_chan_key *key; /* the MAC's, or NULL */
	int mac_len;                   /* -1: the MAC's own 32 bytes */
};

/* An envelope packed by hand (not through e2_chan_seal). */
static uint8_t *pack_env(const struct env *e, size_t *len)
{
	E2__Ctl__Sealed m = E2__CTL__SEALED__INIT;
	uint8_t mac[64] = {0};
	uint8_t *buf;

	m.version = e->version;
	m.sender = (char *)e->sender;
	m.boot = e->boot;
	m.seq = e->seq;
	m.time_ns = e->time_ns;
	m.body.data = (uint8_t *)e->body;
	m.body.len = strlen(e->body);
	if (e->key)
		reference_mac(e->key, e->version, e->sender, e->boot, e->seq, e->time_ns, e->body, strlen(e->body),
			      mac);
	m.mac.data = mac;
	m.mac.len = e->mac_len < 0 ? (e->key ? 32 : 0) : (size_t)e->mac_len;
	*len = e2__ctl__sealed__get_packed_size(&m);
	buf = malloc(*len + 1);
	assert_non_null(buf);
	e2__ctl__sealed__pack(&m, buf);
	return buf;
}

static struct env good_env(const struct e2_chan_key *key)
{
	return (struct env){.version = 1,
			    .sender = "agent:srv1",
			    .boot = 1000,
			    .seq = 1,
			    .time_ns = now_real(),
			    .body = "hello",
			    .key = key,
			    .mac_len = -1};
}

static enum e2_chan_refusal open_env(struct e2_chan_opener *o, const struct env *e)
{
	size_t len;
	uint8_t *buf = pack_env(e, &len);
	void *body = NULL;
	size_t body_len;
	struct e2_err err;
	enum e2_chan_refusal r = e2_chan_open(o, buf, len, &body, &body_len, NULL, &err);
	free(buf);
	free(body);
	return r;
}

static void seal(struct e2_chan_sealer *s, const char *body, uint8_t **out, size_t *len)
{
	struct e2_err err;
	void *p;
	assert_int_equal(e2_chan_seal(s, body, strlen(body), &p, len, &err), 0);
	*out = p;
}

static enum e2_chan_refusal open_buf(struct e2_chan_opener *o, const void *buf, size_t len, struct e2_err *err)
{
	void *body = NULL;
	size_t body_len;
	enum e2_chan_refusal r = e2_chan_open(o, buf, len, &body, &body_len, NULL, err);
	free(body);
	return r;
}

/* ---- names, keys ---- */

static void test_refusal_names(void **state)
{
	assert_string_equal(e2_chan_refusal_name(E2_CHAN_OK), "ok");
	assert_string_equal(e2_chan_refusal_name(E2_CHAN_TRUNCATED), "truncated");
	assert_string_equal(e2_chan_refusal_name(E2_CHAN_OVERSIZED), "oversized");
	assert_string_equal(e2_chan_refusal_name(E2_CHAN_BAD_VERSION), "bad_version");
	assert_string_equal(e2_chan_refusal_name(E2_CHAN_BAD_SENDER), "bad_sender");
	assert_string_equal(e2_chan_refusal_name(E2_CHAN_NO_MAC), "no_mac");
	assert_string_equal(e2_chan_refusal_name(E2_CHAN_BAD_MAC), "bad_mac");
	assert_string_equal(e2_chan_refusal_name(E2_CHAN_REPLAYED), "replayed");
	assert_string_equal(e2_chan_refusal_name(E2_CHAN_STALE), "stale");
	assert_string_equal(e2_chan_refusal_name(E2_CHAN_REFUSALS), "unknown");
}

static void test_key_files(void **state)
{
	char path[256], made[256];
	unsigned char bytes[300];
	struct e2_chan_key k, k2;
	struct e2_err err;
	struct stat st;

	for (size_t i = 0; i < sizeof(bytes); i++)
		bytes[i] = (unsigned char)(i * 7 + 1);
	path_in_tmp(path, sizeof(path), "k");
	write_file(path, bytes, 32, 0600);
	assert_int_equal(e2_chan_key_load(path, &k, &err), 0);
	assert_int_equal(k.len, 32);
	assert_memory_equal(k.bytes, bytes, 32);

	assert_int_equal(chmod(path, 0400), 0);
	assert_int_equal(e2_chan_key_load(path, &k, &err), 0);

	assert_int_equal(chmod(path, 0644), 0);
	assert_int_equal(e2_chan_key_load(path, &k, &err), -1);
	assert_non_null(strstr(err.msg, path));
	assert_non_null(strstr(err.msg, "0644"));
	assert_int_equal(chmod(path, 0640), 0);
	assert_int_equal(e2_chan_key_load(path, &k, &err), -1);
	assert_non_null(strstr(err.msg, "0640"));

	write_file(path, bytes, 31, 0600);
	assert_int_equal(e2_chan_key_load(path, &k, &err), -1);
	assert_non_null(strstr(err.msg, path));
	assert_non_null(strstr(err.msg, "31 bytes"));

	write_file(path, bytes, E2_CHAN_KEY_MAX, 0600);
	assert_int_equal(e2_chan_key_load(path, &k, &err), 0);
	assert_int_equal(k.len, E2_CHAN_KEY_MAX);
	write_file(path, bytes, E2_CHAN_KEY_MAX + 1, 0600);
	assert_int_equal(e2_chan_key_load(path, &k, &err), -1);
	assert_non_null(strstr(err.msg, path));

	path_in_tmp(path, sizeof(path), "no-such-key");
	assert_int_equal(e2_chan_key_load(path, &k, &err), -1);
	assert_non_null(strstr(err.msg, path));
	assert_non_null(strstr(err.msg, strerror(ENOENT)));

	assert_int_equal(e2_chan_key_load(tmpdir, &k, &err), -1);
	assert_non_null(strstr(err.msg, "not a regular file"));

	path_in_tmp(made, sizeof(made), "made.key");
	unlink(made);
	assert_int_equal(e2_chan_key_create(made, &err), 0);
	assert_int_equal(stat(made, &st), 0);
	assert_int_equal(st.st_mode & 07777, 0600);
	assert_int_equal(st.st_size, 32);
	assert_int_equal(e2_chan_key_load(made, &k, &err), 0);
	assert_int_equal(e2_chan_key_create(made, &err), -1);
	assert_non_null(strstr(err.msg, made));
	assert_non_null(strstr(err.msg, strerror(EEXIST)));
	assert_int_equal(e2_chan_key_load(made, &k2, &err), 0);
	assert_memory_equal(k.bytes, k2.bytes, 32); /* not overwritten */
	unlink(made);
	path_in_tmp(path, sizeof(path), "k");
	unlink(path);
}

/* ---- envelopes ---- */

static void test_round_trip(void **state)
{
	for (int keyed = 0; keyed < 2; keyed++) {
		const struct e2_chan_key *key = keyed ? &key_a : NULL;
		struct e2_chan_sealer s;
		struct e2_chan_opener *o = e2_chan_opener_new(key, NULL);
		char sender[E2_CHAN_SENDER_MAX + 1];
		struct e2_err err;
		void *body;
		size_t body_len;
		uint8_t *buf;
		size_t len;

		assert_int_equal(e2_chan_sealer_init(&s, "controller", key, &err), 0);
		for (int i = 0; i < 3; i++) {
			const char *text = i == 1 ? "" : "a request";
			seal(&s, text, &buf, &len);
			assert_int_equal(s.seq, (uint64_t)i + 1);
			assert_int_equal(e2_chan_open(o, buf, len, &body, &body_len, sender, &err), E2_CHAN_OK);
			assert_int_equal(body_len, strlen(text));
			assert_memory_equal(body, text, body_len);
			assert_string_equal(sender, "controller");
			free(body);

			/* the MAC on the wire is the documented layout's */
			E2__Ctl__Sealed *m = e2__ctl__sealed__unpack(NULL, len, buf);
			assert_non_null(m);
			assert_int_equal(m->version, E2__CTL__VERSION__VERSION_CURRENT);
			assert_int_equal(m->boot, s.boot);
			if (keyed) {
				uint8_t want[32];
				reference_mac(key, m->version, m->sender, m->boot, m->seq, m->time_ns, m->body.data,
					      m->body.len, want);
				assert_int_equal(m->mac.len, 32);
				assert_memory_equal(m->mac.data, want, 32);
			} else {
				assert_int_equal(m->mac.len, 0);
			}
			e2__ctl__sealed__free_unpacked(m, NULL);
			free(buf);
		}
		e2_chan_opener_free(o);
	}
}

static void test_hand_packed(void **state)
{
	struct e2_chan_opener *o = e2_chan_opener_new(&key_a, NULL);
	struct e2_chan_opener *open_all = e2_chan_opener_new(NULL, NULL);
	struct env e = good_env(&key_a);

	assert_int_equal(open_env(o, &e), E2_CHAN_OK);

	e = good_env(&key_a);
	e.seq = 2;
	e.mac_len = 0;
	assert_int_equal(open_env(o, &e), E2_CHAN_NO_MAC);
	e.mac_len = 31;
	assert_int_equal(open_env(o, &e), E2_CHAN_BAD_MAC);
	e.mac_len = 33;
	assert_int_equal(open_env(o, &e), E2_CHAN_BAD_MAC);
	e.mac_len = -1;
	e.key = &key_b;
	assert_int_equal(open_env(o, &e), E2_CHAN_BAD_MAC);
	/* without a key the MAC is not looked at, whatever its shape */
	assert_int_equal(open_env(open_all, &e), E2_CHAN_OK);
	e.seq = 3;
	e.mac_len = 5;
	assert_int_equal(open_env(open_all, &e), E2_CHAN_OK);

	e = good_env(&key_a);
	e.seq = 4;
	e.version = 2;
	assert_int_equal(open_env(o, &e), E2_CHAN_BAD_VERSION);
	/* 0 is an absent version: cut short rather than another version */
	e.version = 0;
	assert_int_equal(open_env(o, &e), E2_CHAN_TRUNCATED);
	e.version = 1;
	e.time_ns = 0;
	assert_int_equal(open_env(o, &e), E2_CHAN_TRUNCATED);
	e.time_ns = now_real();
	e.boot = 0;
	assert_int_equal(open_env(o, &e), E2_CHAN_TRUNCATED);
	e.boot = 1000;
	e.version = 1;
	assert_int_equal(open_env(o, &e), E2_CHAN_OK);

	e2_chan_opener_free(o);
	e2_chan_opener_free(open_all);
}

static void test_forged(void **state)
{
	struct e2_chan_sealer s, mallory;
	struct e2_chan_opener *o = e2_chan_opener_new(&key_a, NULL);
	struct e2_err err;
	uint8_t *buf, *copy;
	size_t len;

	assert_int_equal(e2_chan_sealer_init(&s, "controller", &key_a, &err), 0);
	assert_int_equal(e2_chan_sealer_init(&mallory, "controller", &key_b, &err), 0);

	seal(&mallory, "open the doors", &buf, &len);
	assert_int_equal(open_buf(o, buf, len, &err), E2_CHAN_BAD_MAC);
	assert_non_null(strstr(err.msg, "MAC"));
	free(buf);

	seal(&s, "body!", &buf, &len);
	copy = malloc(len);
	/* the body's last byte is the message's last before the MAC field (2 + 32 bytes) */
	memcpy(copy, buf, len);
	copy[len - 35] ^= 1;
	assert_int_equal(open_buf(o, copy, len, &err), E2_CHAN_BAD_MAC);
	/* a flipped MAC byte */
	memcpy(copy, buf, len);
	copy[len - 1] ^= 0x80;
	assert_int_equal(open_buf(o, copy, len, &err), E2_CHAN_BAD_MAC);
	/* a changed field, re-encoded: sequence number, boot, time, sender */
	for (int field = 0; field < 4; field++) {
		E2__Ctl__Sealed *m = e2__ctl__sealed__unpack(NULL, len, buf);
		char other[] = "agent:srv1";
		assert_non_null(m);
		char *own = m->sender;
		if (field == 0)
			m->seq += 1;
		else if (field == 1)
			m->boot += 1;
		else if (field == 2)
			m->time_ns += 1;
		else
			m->sender = other;
		size_t n = e2__ctl__sealed__get_packed_size(m);
		uint8_t *re = malloc(n);
		e2__ctl__sealed__pack(m, re);
		assert_int_equal(open_buf(o, re, n, &err), E2_CHAN_BAD_MAC);
		free(re);
		if (field == 3)
			m->sender = own; /* protobuf-c frees what it allocated */
		e2__ctl__sealed__free_unpacked(m, NULL);
	}
	/* nothing of the forgeries was recorded: the genuine one opens */
	assert_int_equal(open_buf(o, buf, len, &err), E2_CHAN_OK);
	free(copy);
	free(buf);
	e2_chan_opener_free(o);
}

static void test_replay(void **state)
{
	struct e2_chan_sealer s, s_new;
	struct e2_chan_opener *o = e2_chan_opener_new(&key_a, NULL);
	struct e2_err err;
	uint8_t *buf[80];
	size_t len[80];

	assert_int_equal(e2_chan_sealer_init(&s, "agent:srv1", &key_a, &err), 0);
	for (int i = 1; i < 80; i++)
		seal(&s, "x", &buf[i], &len[i]);

	/* the same bytes twice */
	assert_int_equal(open_buf(o, buf[1], len[1], &err), E2_CHAN_OK);
	assert_int_equal(open_buf(o, buf[1], len[1], &err), E2_CHAN_REPLAYED);
	assert_non_null(strstr(err.msg, "seen before"));

	/* reordered within the window: each taken once */
	const int order[] = {5, 3, 4, 2};
	for (size_t i = 0; i < 4; i++)
		assert_int_equal(open_buf(o, buf[order[i]], len[order[i]], &err), E2_CHAN_OK);
	for (size_t i = 0; i < 4; i++)
		assert_int_equal(open_buf(o, buf[order[i]], len[order[i]], &err), E2_CHAN_REPLAYED);

	/* the window's far edge: with 70 the newest, 7 is the oldest still taken */
	assert_int_equal(open_buf(o, buf[70], len[70], &err), E2_CHAN_OK);
	assert_int_equal(open_buf(o, buf[6], len[6], &err), E2_CHAN_REPLAYED);
	assert_non_null(strstr(err.msg, "behind the window"));
	assert_int_equal(open_buf(o, buf[7], len[7], &err), E2_CHAN_OK);
	assert_int_equal(open_buf(o, buf[7], len[7], &err), E2_CHAN_REPLAYED);
	assert_int_equal(open_buf(o, buf[69], len[69], &err), E2_CHAN_OK);

	/* a new boot of the same sender: its sequence restarts, the old boot is over */
	assert_int_equal(e2_chan_sealer_init(&s_new, "agent:srv1", &key_a, &err), 0);
	assert_true(s_new.boot > s.boot);
	uint8_t *nb;
	size_t nlen;
	seal(&s_new, "y", &nb, &nlen);
	assert_int_equal(open_buf(o, nb, nlen, &err), E2_CHAN_OK);
	assert_int_equal(open_buf(o, buf[71], len[71], &err), E2_CHAN_REPLAYED);
	assert_non_null(strstr(err.msg, "older"));
	free(nb);

	/* sequence number 0 is never sent: an envelope without one was cut short */
	struct env e = good_env(&key_a);
	e.sender = "hook:srv1";
	e.seq = 0;
	assert_int_equal(open_env(o, &e), E2_CHAN_TRUNCATED);
	e.seq = 1;
	assert_int_equal(open_env(o, &e), E2_CHAN_OK);

	for (int i = 1; i < 80; i++)
		free(buf[i]);
	e2_chan_opener_free(o);
}

static void test_senders_bounded(void **state)
{
	struct e2_chan_opener *o = e2_chan_opener_new(NULL, NULL);
	char name[32];
	struct env e = good_env(NULL);

	e.sender = name;
	for (int i = 0; i < E2_CHAN_SENDERS_MAX; i++) {
		snprintf(name, sizeof(name), "e2ctl:%d", i);
		assert_int_equal(open_env(o, &e), E2_CHAN_OK);
	}
	/* e2ctl:0 speaks again, so e2ctl:1 is the longest silent when a new one comes */
	snprintf(name, sizeof(name), "e2ctl:0");
	e.seq = 2;
	assert_int_equal(open_env(o, &e), E2_CHAN_OK);
	e.seq = 1;
	snprintf(name, sizeof(name), "newcomer");
	assert_int_equal(open_env(o, &e), E2_CHAN_OK);
	/* e2ctl:0 is remembered, e2ctl:1 forgotten, the others remembered */
	snprintf(name, sizeof(name), "e2ctl:0");
	assert_int_equal(open_env(o, &e), E2_CHAN_REPLAYED);
	snprintf(name, sizeof(name), "e2ctl:2");
	assert_int_equal(open_env(o, &e), E2_CHAN_REPLAYED);
	snprintf(name, sizeof(name), "e2ctl:%d", E2_CHAN_SENDERS_MAX - 1);
	assert_int_equal(open_env(o, &e), E2_CHAN_REPLAYED);
	snprintf(name, sizeof(name), "e2ctl:1");
	assert_int_equal(open_env(o, &e), E2_CHAN_OK);
	e2_chan_opener_free(o);
}

static void test_truncated(void **state)
{
	struct e2_chan_sealer s;
	struct e2_chan_opener *o = e2_chan_opener_new(&key_a, NULL);
	struct e2_err err;
	uint8_t *buf;
	size_t len;

	assert_int_equal(e2_chan_sealer_init(&s, "agent:srv1", &key_a, &err), 0);
	seal(&s, "a body of some length, to be cut everywhere", &buf, &len);
	for (size_t n = 0; n < len; n++) {
		/* a copy of exactly n bytes, so that a read past it is ASan's to see */
		uint8_t *cut = malloc(n ? n : 1);
		memcpy(cut, buf, n);
		enum e2_chan_refusal r = open_buf(o, cut, n, &err);
		if (r != E2_CHAN_TRUNCATED && r != E2_CHAN_BAD_MAC && r != E2_CHAN_NO_MAC)
			fail_msg("a prefix of %zu of %zu bytes: %s (%s)", n, len, e2_chan_refusal_name(r), err.msg);
		/* without a key a prefix may decode (it is the MAC that makes it whole);
		 * it must not crash */
		struct e2_chan_opener *open_all = e2_chan_opener_new(NULL, NULL);
		(void)open_buf(open_all, cut, n, &err);
		e2_chan_opener_free(open_all);
		free(cut);
	}
	assert_int_equal(open_buf(o, buf, len, &err), E2_CHAN_OK);
	free(buf);
	e2_chan_opener_free(o);
}

static void test_oversized(void **state)
{
	struct e2_chan_sealer s;
	struct e2_chan_opener *o = e2_chan_opener_new(&key_a, NULL);
	struct e2_err err;
	size_t big = E2_CHAN_MSG_MAX + 1;
	uint8_t *buf = calloc(1, big);
	void *sealed, *body;
	size_t len, body_len;

	assert_int_equal(open_buf(o, buf, big, &err), E2_CHAN_OVERSIZED);
	assert_int_equal(e2_chan_sealer_init(&s, "controller", &key_a, &err), 0);
	assert_int_equal(e2_chan_seal(&s, buf, E2_CHAN_MSG_MAX, &sealed, &len, &err), -1);
	assert_non_null(strstr(err.msg, "bytes"));
	assert_int_equal(e2_chan_seal(&s, buf, big, &sealed, &len, &err), -1);
	assert_int_equal(s.seq, 0);
	/* what fits is sealed and opened */
	assert_int_equal(e2_chan_seal(&s, buf, E2_CHAN_MSG_MAX - 256, &sealed, &len, &err), 0);
	assert_true(len <= E2_CHAN_MSG_MAX);
	assert_int_equal(e2_chan_open(o, sealed, len, &body, &body_len, NULL, &err), E2_CHAN_OK);
	assert_int_equal(body_len, E2_CHAN_MSG_MAX - 256);
	free(body);
	free(sealed);
	free(buf);
	e2_chan_opener_free(o);
}

static void test_bad_sender(void **state)
{
	struct e2_chan_opener *o = e2_chan_opener_new(&key_a, NULL);
	struct e2_chan_opener *open_all = e2_chan_opener_new(NULL, NULL);
	struct e2_chan_sealer s;
	struct e2_err err;
	char long_name[E2_CHAN_SENDER_MAX + 2];
	const char *bad[] = {"", "a b", "x/y", "caf\xc3\xa9", "line\n", "semi;colon", long_name};

	memset(long_name, 'a', sizeof(long_name) - 1);
	long_name[sizeof(long_name) - 1] = '\0';
	for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
		struct env e = good_env(&key_a);
		e.sender = bad[i];
		assert_int_equal(open_env(o, &e), E2_CHAN_BAD_SENDER);
		e.key = NULL;
		assert_int_equal(open_env(open_all, &e), E2_CHAN_BAD_SENDER);
		assert_int_equal(e2_chan_sealer_init(&s, bad[i], NULL, &err), -1);
		assert_non_null(strstr(err.msg, "sender name"));
		assert_int_equal(e2_chan_sender_check(bad[i], &err), -1);
		assert_non_null(strstr(err.msg, "sender name"));
	}
	assert_int_equal(e2_chan_sender_check(NULL, &err), -1);
	long_name[E2_CHAN_SENDER_MAX] = '\0';
	struct env e = good_env(&key_a);
	e.sender = long_name;
	assert_int_equal(open_env(o, &e), E2_CHAN_OK);
	e.sender = "Az09_.:-";
	assert_int_equal(open_env(o, &e), E2_CHAN_OK);
	assert_int_equal(e2_chan_sealer_init(&s, long_name, NULL, &err), 0);
	assert_int_equal(e2_chan_sender_check(long_name, &err), 0);
	assert_int_equal(e2_chan_sender_check("Az09_.:-", &err), 0);
	e2_chan_opener_free(o);
	e2_chan_opener_free(open_all);
}

static void test_stale(void **state)
{
	struct e2_chan_opener *o = e2_chan_opener_new(&key_a, now_shifted);
	struct e2_chan_sealer s;
	struct e2_err err;
	uint8_t *buf;
	size_t len;
	const int64_t second = 1000000000;

	assert_int_equal(e2_chan_sealer_init(&s, "controller", &key_a, &err), 0);
	seal(&s, "now", &buf, &len);
	clock_offset_ns = 31 * second; /* the receiver's clock ahead */
	assert_int_equal(open_buf(o, buf, len, &err), E2_CHAN_STALE);
	assert_non_null(strstr(err.msg, "behind"));
	clock_offset_ns = -31 * second;
	assert_int_equal(open_buf(o, buf, len, &err), E2_CHAN_STALE);
	assert_non_null(strstr(err.msg, "ahead"));
	clock_offset_ns = 25 * second;
	assert_int_equal(open_buf(o, buf, len, &err), E2_CHAN_OK);
	clock_offset_ns = 0;
	free(buf);
	e2_chan_opener_free(o);
}

static uint64_t fuzz_clock(void)
{
	return 1700000000000000000ull;
}

/* The fuzzer's seeds are written by a script of their own (fuzz_corpus/make_chan_seeds.py,
 * Python's hmac): a second implementation of the layout, which chan.c must agree with. */
static void test_seeds_of_another_implementation(void **state)
{
	static const struct {
		const char *name;
		enum e2_chan_refusal want;
	} seeds[] = {
		{"good", E2_CHAN_OK},
		{"good-empty-body", E2_CHAN_OK},
		{"good-far-seq", E2_CHAN_OK},
		{"no-mac", E2_CHAN_NO_MAC},
		{"other-key", E2_CHAN_BAD_MAC},
		{"short-mac", E2_CHAN_BAD_MAC},
		{"version-2", E2_CHAN_BAD_VERSION},
		{"bad-sender", E2_CHAN_BAD_SENDER},
		{"stale", E2_CHAN_STALE},
		{"no-seq", E2_CHAN_TRUNCATED},
		{"empty", E2_CHAN_TRUNCATED},
	};
	struct e2_chan_key fuzz_key = {.len = 32};
	struct e2_chan_opener *o;
	struct e2_err err;

	memcpy(fuzz_key.bytes, "e2 fuzz key, 32 bytes at least..", 32);
	o = e2_chan_opener_new(&fuzz_key, fuzz_clock);
	for (size_t i = 0; i < sizeof(seeds) / sizeof(seeds[0]); i++) {
		char path[4096];
		uint8_t buf[256];
		snprintf(path, sizeof(path), "%s/%s", E2_CHAN_SEEDS, seeds[i].name);
		FILE *f = fopen(path, "rb");
		assert_non_null(f);
		size_t n = fread(buf, 1, sizeof(buf), f);
		fclose(f);
		enum e2_chan_refusal r = open_buf(o, buf, n, &err);
		if (r != seeds[i].want)
			fail_msg("seed %s: %s, not %s (%s)", seeds[i].name, e2_chan_refusal_name(r),
				 e2_chan_refusal_name(seeds[i].want), err.msg);
	}
	e2_chan_opener_free(o);
}

/* ---- channels ---- */

static int free_tcp_port(void)
{
	struct sockaddr_in sa = {.sin_family = AF_INET, .sin_addr.s_addr = htonl(INADDR_LOOPBACK)};
	socklen_t sl = sizeof(sa);
	int fd = socket(AF_INET, SOCK_STREAM, 0);
	assert_true(fd >= 0);
	assert_int_equal(bind(fd, (struct sockaddr *)&sa, sizeof(sa)), 0);
	assert_int_equal(getsockname(fd, (struct sockaddr *)&sa, &sl), 0);
	close(fd);
	return ntohs(sa.sin_port);
}

/* Binds c on tcp://127.0.0.1 on a free port (another process may grab the port between
 * the probe and the bind: then another). */
static void bind_tcp(struct e2_chan *c, char *url, size_t n)
{
	struct e2_err err;
	for (int attempt = 0; attempt < 20; attempt++) {
		snprintf(url, n, "tcp://127.0.0.1:%d", free_tcp_port());
		if (e2_chan_bind(c, url, &err) == 0)
			return;
	}
	fail_msg("no free tcp port: %s", err.msg);
}

static void endpoint(const char *transport, const char *name, char *url, size_t n)
{
	snprintf(url, n, "ipc://%s/%s.sock", tmpdir, name);
	(void)transport;
}

static void request_reply(const struct e2_chan_key *key, const char *transport)
{
	struct e2_chan *rep, *req;
	char url[300], sender[E2_CHAN_SENDER_MAX + 1];
	struct e2_err err;
	void *body;
	size_t len;

	rep = e2_chan_new(E2_CHAN_REP, "agent:srv1", key, &err);
	req = e2_chan_new(E2_CHAN_REQ, "controller", key, &err);
	assert_non_null(rep);
	assert_non_null(req);
	if (strcmp(transport, "tcp") == 0) {
		bind_tcp(rep, url, sizeof(url));
	} else {
		struct stat st;
		endpoint(transport, key ? "rr-key" : "rr", url, sizeof(url));
		assert_int_equal(e2_chan_bind(rep, url, &err), 0);
		assert_int_equal(stat(url + 6, &st), 0);
		assert_true(S_ISSOCK(st.st_mode));
		assert_int_equal(st.st_mode & 07777, 0600);
	}
	assert_int_equal(e2_chan_connect(req, url, &err), 0);
	for (int i = 0; i < 3; i++) {
		char q[32], a[32];
		snprintf(q, sizeof(q), "question %d", i);
		snprintf(a, sizeof(a), "answer %d", i);
		assert_int_equal(e2_chan_send(req, q, strlen(q), LONG_MS, &err), 0);
		assert_int_equal(e2_chan_recv(rep, &body, &len, sender, LONG_MS, &err), 0);
		assert_int_equal(len, strlen(q));
		assert_memory_equal(body, q, len);
		assert_string_equal(sender, "controller");
		free(body);
		assert_int_equal(e2_chan_send(rep, a, strlen(a), LONG_MS, &err), 0);
		assert_int_equal(e2_chan_recv(req, &body, &len, sender, LONG_MS, &err), 0);
		assert_memory_equal(body, a, len);
		assert_string_equal(sender, "agent:srv1");
		free(body);
	}
	assert_int_equal(e2_chan_counters(req)->sent, 3);
	assert_int_equal(e2_chan_counters(req)->received, 3);
	assert_int_equal(e2_chan_counters(rep)->sent, 3);
	assert_int_equal(e2_chan_counters(rep)->received, 3);
	for (int r = 0; r < E2_CHAN_REFUSALS; r++)
		assert_int_equal(e2_chan_counters(rep)->refused[r], 0);
	/* a REP with no request in hand has nothing to reply to */
	assert_int_equal(e2_chan_send(rep, "x", 1, 100, &err), -1);
	assert_non_null(strstr(err.msg, "no request"));
	e2_chan_close(req);
	e2_chan_close(rep);
	if (strcmp(transport, "ipc") == 0)
		assert_int_equal(access(url + 6, F_OK), -1); /* the socket file went with it */
}

static void test_reqrep_ipc(void **state)
{
	request_reply(NULL, "ipc");
	request_reply(&key_a, "ipc");
}

static void test_reqrep_tcp(void **state)
{
	request_reply(&key_a, "tcp");
}

static void publish_subscribe(const struct e2_chan_key *key, const char *transport)
{
	struct e2_chan *pub, *sub;
	char url[300], sender[E2_CHAN_SENDER_MAX + 1];
	struct e2_err err;
	void *body;
	size_t len;
	int synced = 0;

	pub = e2_chan_new(E2_CHAN_PUB, "agent:srv1", key, &err);
	sub = e2_chan_new(E2_CHAN_SUB, "controller", key, &err);
	assert_non_null(pub);
	assert_non_null(sub);
	if (strcmp(transport, "tcp") == 0)
		bind_tcp(pub, url, sizeof(url));
	else
		endpoint(transport, key ? "ps-key" : "ps", url, sizeof(url));
	if (strcmp(transport, "tcp") != 0)
		assert_int_equal(e2_chan_bind(pub, url, &err), 0);
	assert_int_equal(e2_chan_connect(sub, url, &err), 0);
	assert_int_equal(e2_chan_fd(pub), -1);
	assert_true(e2_chan_fd(sub) >= 0);
	/* a subscriber hears only what is published once it is connected */
	time_t give_up = time(NULL) + 60;
	while (!synced && time(NULL) < give_up) {
		assert_int_equal(e2_chan_send(pub, "sync", 4, LONG_MS, &err), 0);
		if (e2_chan_recv(sub, &body, &len, sender, 50, &err) == 0) {
			synced = 1;
			free(body);
		} else {
			assert_int_equal(errno, ETIMEDOUT);
		}
	}
	assert_true(synced);
	/* the rest of the sync messages, if any, then the real ones, in order */
	for (int i = 0; i < 5; i++) {
		char m[16];
		snprintf(m, sizeof(m), "event %d", i);
		assert_int_equal(e2_chan_send(pub, m, strlen(m), LONG_MS, &err), 0);
	}
	for (int i = 0; i < 5;) {
		char m[16];
		assert_int_equal(e2_chan_recv(sub, &body, &len, sender, LONG_MS, &err), 0);
		assert_string_equal(sender, "agent:srv1");
		if (len == 4 && memcmp(body, "sync", 4) == 0) {
			free(body);
			continue;
		}
		snprintf(m, sizeof(m), "event %d", i);
		assert_int_equal(len, strlen(m));
		assert_memory_equal(body, m, len);
		free(body);
		i++;
	}
	for (int r = 0; r < E2_CHAN_REFUSALS; r++)
		assert_int_equal(e2_chan_counters(sub)->refused[r], 0);
	assert_int_equal(e2_chan_send(sub, "x", 1, 10, &err), -1);
	assert_int_equal(e2_chan_recv(pub, &body, &len, sender, 10, &err), -1);
	e2_chan_close(sub);
	e2_chan_close(pub);
}

static void test_pubsub(void **state)
{
	publish_subscribe(NULL, "ipc");
	publish_subscribe(&key_a, "ipc");
	publish_subscribe(&key_a, "tcp");
}

static void test_endpoints_refused(void **state)
{
	struct e2_chan *c, *other;
	struct e2_err err;
	char url[300], path[256];
	struct stat st;

	assert_null(e2_chan_new(E2_CHAN_REP, "bad name", NULL, &err));
	assert_non_null(strstr(err.msg, "sender name"));

	c = e2_chan_new(E2_CHAN_REP, "agent:srv1", NULL, &err);
	assert_non_null(c);
	assert_int_equal(e2_chan_bind(c, "tcp://127.0.0.1:9", &err), -1);
	assert_non_null(strstr(err.msg, "need a key"));
	assert_int_equal(e2_chan_connect(c, "tcp://127.0.0.1:9", &err), -1);
	assert_non_null(strstr(err.msg, "need a key"));
	assert_int_equal(e2_chan_bind(c, "ws://127.0.0.1:9", &err), -1);

	/* a stale socket file (its listener gone) is replaced */
	endpoint("ipc", "stale", url, sizeof(url));
	{
		struct sockaddr_un sa = {.sun_family = AF_UNIX};
		int fd = socket(AF_UNIX, SOCK_STREAM, 0);
		snprintf(sa.sun_path, sizeof(sa.sun_path), "%s", url + 6);
		unlink(sa.sun_path);
		assert_int_equal(bind(fd, (struct sockaddr *)&sa, sizeof(sa)), 0);
		assert_int_equal(listen(fd, 1), 0);
		close(fd);
	}
	assert_int_equal(chmod(url + 6, 0777), 0);
	assert_int_equal(e2_chan_bind(c, url, &err), 0);
	assert_int_equal(stat(url + 6, &st), 0);
	assert_int_equal(st.st_mode & 07777, 0600);

	/* one somebody listens on is not */
	other = e2_chan_new(E2_CHAN_REP, "agent:srv2", NULL, &err);
	assert_non_null(other);
	assert_int_equal(e2_chan_bind(other, url, &err), -1);
	assert_non_null(strstr(err.msg, "another process listens"));
	assert_non_null(strstr(err.msg, url + 6));
	/* nor is a file that is not a socket */
	path_in_tmp(path, sizeof(path), "plain");
	write_file(path, "x", 1, 0600);
	snprintf(url, sizeof(url), "ipc://%s", path);
	assert_int_equal(e2_chan_bind(other, url, &err), -1);
	assert_non_null(strstr(err.msg, "not a socket"));
	assert_int_equal(access(path, F_OK), 0);
	unlink(path);
	e2_chan_close(other);
	e2_chan_close(c);
}

/* Sends raw bytes to a REP channel, as anyone who can reach the socket could: from a
 * REQ socket of their own, as a REQ replaces a request not yet sent by the next one. */
static int raw_send(const char *url, const void *buf, size_t len)
{
	int tmo = LONG_MS, sock = nn_socket(AF_SP, NN_REQ);
	assert_true(sock >= 0);
	nn_setsockopt(sock, NN_SOL_SOCKET, NN_SNDTIMEO, &tmo, sizeof(tmo));
	assert_true(nn_connect(sock, url) >= 0);
	assert_int_equal(nn_send(sock, buf, len, 0), (int)len);
	return sock;
}

static uint64_t refused_total(const struct e2_chan_counters *n)
{
	uint64_t sum = 0;
	for (int r = 0; r < E2_CHAN_REFUSALS; r++)
		sum += n->refused[r];
	return sum;
}

static void test_refusals_counted(void **state)
{
	struct e2_chan *rep;
	struct e2_chan_sealer s, mallory;
	struct e2_err err;
	char url[300], sender[E2_CHAN_SENDER_MAX + 1], logpath[256];
	uint8_t *a, *b, *forged, *old;
	size_t a_len, b_len, forged_len, old_len, got_len;
	void *got;
	int raw[7];
	FILE *log;

	path_in_tmp(logpath, sizeof(logpath), "log");
	log = fopen(logpath, "w+");
	assert_non_null(log);
	e2_log_set_sink(log);

	rep = e2_chan_new(E2_CHAN_REP, "agent:srv1", &key_a, &err);
	assert_non_null(rep);
	endpoint("ipc", "refusals", url, sizeof(url));
	assert_int_equal(e2_chan_bind(rep, url, &err), 0);
	assert_int_equal(e2_chan_sealer_init(&s, "controller", &key_a, &err), 0);
	assert_int_equal(e2_chan_sealer_init(&mallory, "controller", &key_b, &err), 0);
	seal(&s, "first", &a, &a_len);
	seal(&s, "second", &b, &b_len);
	seal(&mallory, "forged", &forged, &forged_len);
	struct env e = good_env(&key_a);
	e.sender = "controller";
	e.time_ns -= 3600ull * 1000000000ull;
	e.seq = 99;
	e.boot = s.boot;
	old = pack_env(&e, &old_len);

	raw[0] = raw_send(url, a, a_len);
	assert_int_equal(e2_chan_recv(rep, &got, &got_len, sender, LONG_MS, &err), 0);
	assert_memory_equal(got, "first", 5);
	free(got);
	raw[1] = raw_send(url, "garbage\xff\xff\xff", 10);
	raw[2] = raw_send(url, forged, forged_len);
	raw[3] = raw_send(url, a, a_len);
	raw[4] = raw_send(url, old, old_len);
	uint8_t *big = calloc(1, E2_CHAN_MSG_MAX + 100);
	raw[5] = raw_send(url, big, E2_CHAN_MSG_MAX + 100);
	free(big);
	raw[6] = raw_send(url, b, b_len);
	/* seven senders, no order among them: receive until the good one and all five
	 * refusals are in */
	bool second = false;
	time_t give_up = time(NULL) + 60;
	while ((!second || refused_total(e2_chan_counters(rep)) < 5) && time(NULL) < give_up) {
		if (e2_chan_recv(rep, &got, &got_len, sender, 100, &err) == 0) {
			assert_false(second);
			assert_memory_equal(got, "second", 6);
			free(got);
			second = true;
		}
	}
	assert_true(second);
	const struct e2_chan_counters *n = e2_chan_counters(rep);
	assert_int_equal(n->received, 2);
	assert_int_equal(n->refused[E2_CHAN_TRUNCATED], 1);
	assert_int_equal(n->refused[E2_CHAN_BAD_MAC], 1);
	assert_int_equal(n->refused[E2_CHAN_REPLAYED], 1);
	assert_int_equal(n->refused[E2_CHAN_STALE], 1);
	assert_int_equal(n->refused[E2_CHAN_OVERSIZED], 1);
	assert_int_equal(n->refused[E2_CHAN_NO_MAC] + n->refused[E2_CHAN_BAD_VERSION] + n->refused[E2_CHAN_BAD_SENDER],
			 0);

	/* nothing more comes: a timeout, counted */
	uint64_t timeouts = n->timeouts;
	assert_int_equal(e2_chan_recv(rep, &got, &got_len, sender, 50, &err), -1);
	assert_int_equal(errno, ETIMEDOUT);
	assert_non_null(strstr(err.msg, "timed out after 50 ms"));
	assert_int_equal(n->timeouts, timeouts + 1);

	/* every refusal was logged with its name, and the sender where it was known */
	char text[8192];
	fflush(log);
	rewind(log);
	size_t got_text = fread(text, 1, sizeof(text) - 1, log);
	text[got_text] = '\0';
	e2_log_set_sink(NULL);
	fclose(log);
	assert_non_null(strstr(text, "|WARN|"));
	assert_non_null(strstr(text, "refused (truncated)"));
	assert_non_null(strstr(text, "refused (bad_mac) a message from 'controller'"));
	assert_non_null(strstr(text, "refused (replayed) a message from 'controller'"));
	assert_non_null(strstr(text, "refused (stale)"));
	assert_non_null(strstr(text, "refused (oversized)"));

	for (int i = 0; i < 7; i++)
		nn_close(raw[i]);
	e2_chan_close(rep);
	free(a);
	free(b);
	free(forged);
	free(old);
	unlink(logpath);
}

/* A REP server that answers its first request late, on the main thread's word. */
struct late_server {
	struct e2_chan *rep;
	pthread_mutex_t lock;
	pthread_cond_t cond;
	int go; /* set once the first call has timed out */
	int failures;
	char first[64], second[64];
};

static void *late_serve(void *arg)
{
	struct late_server *ls = arg;
	struct e2_err err;
	void *body;
	size_t len;

	if (e2_chan_recv(ls->rep, &body, &len, NULL, 60000, &err) != 0) {
		ls->failures++;
		return NULL;
	}
	snprintf(ls->first, sizeof(ls->first), "%.*s", (int)len, (char *)body);
	free(body);
	pthread_mutex_lock(&ls->lock);
	while (!ls->go)
		pthread_cond_wait(&ls->cond, &ls->lock);
	pthread_mutex_unlock(&ls->lock);
	/* the late reply: nobody may take it for the answer to the next call */
	if (e2_chan_send(ls->rep, "late reply", 10, LONG_MS, &err) != 0)
		ls->failures++;
	if (e2_chan_recv(ls->rep, &body, &len, NULL, 60000, &err) != 0) {
		ls->failures++;
		return NULL;
	}
	snprintf(ls->second, sizeof(ls->second), "%.*s", (int)len, (char *)body);
	free(body);
	if (e2_chan_send(ls->rep, "second reply", 12, LONG_MS, &err) != 0)
		ls->failures++;
	return NULL;
}

static void test_call_timeout(void **state)
{
	struct late_server ls = {.lock = PTHREAD_MUTEX_INITIALIZER, .cond = PTHREAD_COND_INITIALIZER};
	struct e2_chan *req;
	struct e2_err err;
	char url[300];
	pthread_t t;
	void *reply;
	size_t len;

	ls.rep = e2_chan_new(E2_CHAN_REP, "agent:srv1", &key_a, &err);
	req = e2_chan_new(E2_CHAN_REQ, "controller", &key_a, &err);
	assert_non_null(ls.rep);
	assert_non_null(req);
	bind_tcp(ls.rep, url, sizeof(url));
	assert_int_equal(e2_chan_connect(req, url, &err), 0);
	assert_int_equal(pthread_create(&t, NULL, late_serve, &ls), 0);

	/* the server holds its reply: the call times out */
	assert_int_equal(e2_chan_call(req, "first", 5, &reply, &len, 300, &err), -1);
	assert_int_equal(errno, ETIMEDOUT);
	assert_non_null(strstr(err.msg, "no reply within 300 ms"));
	assert_int_equal(e2_chan_counters(req)->timeouts, 1);
	pthread_mutex_lock(&ls.lock);
	ls.go = 1;
	pthread_cond_signal(&ls.cond);
	pthread_mutex_unlock(&ls.lock);

	/* the next call gets its own reply, never the late one */
	assert_int_equal(e2_chan_call(req, "second", 6, &reply, &len, 60000, &err), 0);
	assert_int_equal(len, 12);
	assert_memory_equal(reply, "second reply", 12);
	free(reply);
	pthread_join(t, NULL);
	assert_int_equal(ls.failures, 0);
	assert_string_equal(ls.first, "first");
	assert_string_equal(ls.second, "second");
	assert_int_equal(e2_chan_counters(req)->sent, 2);
	assert_int_equal(e2_chan_counters(req)->received, 1);
	for (int r = 0; r < E2_CHAN_REFUSALS; r++) {
		assert_int_equal(e2_chan_counters(req)->refused[r], 0);
		assert_int_equal(e2_chan_counters(ls.rep)->refused[r], 0);
	}
	/* a call on anything but a REQ is refused */
	assert_int_equal(e2_chan_call(ls.rep, "x", 1, &reply, &len, 10, &err), -1);
	e2_chan_close(req);
	e2_chan_close(ls.rep);
}

/* A REQ takes one reply per request: when that reply is refused, the wait ends there. */
static void test_refused_reply(void **state)
{
	struct e2_chan *req;
	struct e2_chan_sealer mallory;
	struct e2_err err;
	char url[300];
	void *msg = NULL, *reply, *forged;
	size_t len, forged_len;
	int tmo = LONG_MS, rep = nn_socket(AF_SP, NN_REP);

	req = e2_chan_new(E2_CHAN_REQ, "controller", &key_a, &err);
	assert_non_null(req);
	assert_true(rep >= 0);
	nn_setsockopt(rep, NN_SOL_SOCKET, NN_RCVTIMEO, &tmo, sizeof(tmo));
	endpoint("ipc", "refused-reply", url, sizeof(url));
	assert_true(nn_bind(rep, url) >= 0);
	assert_int_equal(e2_chan_connect(req, url, &err), 0);
	assert_int_equal(e2_chan_send(req, "q", 1, LONG_MS, &err), 0);
	assert_true(nn_recv(rep, &msg, NN_MSG, 0) > 0);
	nn_freemsg(msg);
	assert_int_equal(e2_chan_sealer_init(&mallory, "agent:srv1", &key_b, &err), 0);
	assert_int_equal(e2_chan_seal(&mallory, "a", 1, &forged, &forged_len, &err), 0);
	assert_int_equal(nn_send(rep, forged, forged_len, 0), (int)forged_len);
	free(forged);
	assert_int_equal(e2_chan_recv(req, &reply, &len, NULL, 60000, &err), -1);
	assert_int_equal(errno, EPROTO);
	assert_non_null(strstr(err.msg, "reply was refused (bad_mac)"));
	assert_int_equal(e2_chan_counters(req)->refused[E2_CHAN_BAD_MAC], 1);
	assert_int_equal(e2_chan_counters(req)->timeouts, 0);
	nn_close(rep);
	e2_chan_close(req);
	unlink(url + 6);
}

static void test_fd_polls(void **state)
{
	struct e2_chan *rep, *req;
	struct e2_err err;
	char url[300];
	void *body;
	size_t len;

	rep = e2_chan_new(E2_CHAN_REP, "agent:srv1", NULL, &err);
	req = e2_chan_new(E2_CHAN_REQ, "hook:srv1", NULL, &err);
	endpoint("ipc", "fd", url, sizeof(url));
	assert_int_equal(e2_chan_bind(rep, url, &err), 0);
	assert_int_equal(e2_chan_connect(req, url, &err), 0);
	struct pollfd p = {.fd = e2_chan_fd(rep), .events = POLLIN};
	assert_true(p.fd >= 0);
	assert_int_equal(poll(&p, 1, 0), 0);
	assert_int_equal(e2_chan_send(req, "ping", 4, LONG_MS, &err), 0);
	assert_int_equal(poll(&p, 1, 60000), 1);
	assert_int_equal(e2_chan_recv(rep, &body, &len, NULL, 0, &err), 0);
	free(body);
	e2_chan_close(req);
	e2_chan_close(rep);
	e2_chan_close(NULL);
}

static int setup(void **state)
{
	if (!mkdtemp(tmpdir))
		return -1;
	for (size_t i = 0; i < 32; i++) {
		key_a.bytes[i] = (unsigned char)(0xa0 + i);
		key_b.bytes[i] = (unsigned char)(0xb0 + i);
	}
	key_a.len = key_b.len = 32;
	return 0;
}

/* What a failed test left behind goes too. */
static int teardown(void **state)
{
	DIR *d = opendir(tmpdir);
	struct dirent *de;
	char path[512];

	while (d && (de = readdir(d)))
		if (strcmp(de->d_name, ".") && strcmp(de->d_name, "..")) {
			snprintf(path, sizeof(path), "%s/%s", tmpdir, de->d_name);
			unlink(path);
		}
	if (d)
		closedir(d);
	return rmdir(tmpdir);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_refusal_names),
		cmocka_unit_test(test_key_files),
		cmocka_unit_test(test_round_trip),
		cmocka_unit_test(test_hand_packed),
		cmocka_unit_test(test_forged),
		cmocka_unit_test(test_replay),
		cmocka_unit_test(test_senders_bounded),
		cmocka_unit_test(test_truncated),
		cmocka_unit_test(test_oversized),
		cmocka_unit_test(test_bad_sender),
		cmocka_unit_test(test_stale),
		cmocka_unit_test(test_seeds_of_another_implementation),
		cmocka_unit_test(test_reqrep_ipc),
		cmocka_unit_test(test_reqrep_tcp),
		cmocka_unit_test(test_pubsub),
		cmocka_unit_test(test_endpoints_refused),
		cmocka_unit_test(test_refusals_counted),
		cmocka_unit_test(test_call_timeout),
		cmocka_unit_test(test_refused_reply),
		cmocka_unit_test(test_fd_polls),
	};
	return cmocka_run_group_tests(tests, setup, teardown);
}
