/* SPDX-License-Identifier: BSD-3-Clause */
/* Sealed channels (e2/chan.h): the envelope, its MAC, the replay window, key files, and
 * the nanomsg sockets that carry them. */
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <nanomsg/nn.h>
#include <nanomsg/pubsub.h>
#include <nanomsg/reqrep.h>
#include <openssl/core_names.h>
#include <openssl/crypto.h>
#include <openssl/evp.h>
#include <openssl/params.h>
#include <openssl/rand.h>
#include <pthread.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/un.h>
#include <time.h>
#include <unistd.h>

#include "e2/bytes.h"
#include "e2/chan.h"
#include "e2/log.h"
#include "e2/mem.h"
#include "e2ctl.pb-c.h"

E2_LOG_MODULE(chan);

#define MAC_LEN 32
/* "E2S1" | version | sender length | sender | boot | seq | time_ns | body length */
#define LAYOUT_HEAD_MAX (4 + 4 + 2 + E2_CHAN_SENDER_MAX + 8 + 8 + 8 + 4)
/* nanomsg drops (and closes the connection on) a message past NN_RCVMAXSIZE without a
 * word; a little above E2_CHAN_MSG_MAX, those just over the limit still reach open()
 * and are counted and logged as oversized. */
#define RECV_SLACK (64u << 10)
/* nanomsg's REQ resends an unanswered request after this long; a resent sealed request
 * is a replay the REP refuses, so resending is pushed out of any sensible timeout. */
#define REQ_RESEND_MS (24 * 3600 * 1000)
#define WARN_PER_SECOND 10

static const char *const refusal_names[E2_CHAN_REFUSALS] = {
	[E2_CHAN_OK] = "ok",
	[E2_CHAN_TRUNCATED] = "truncated",
	[E2_CHAN_OVERSIZED] = "oversized",
	[E2_CHAN_BAD_VERSION] = "bad_version",
	[E2_CHAN_BAD_SENDER] = "bad_sender",
	[E2_CHAN_NO_MAC] = "no_mac",
	[E2_CHAN_BAD_MAC] = "bad_mac",
	[E2_CHAN_REPLAYED] = "replayed",
	[E2_CHAN_STALE] = "stale",
};

const char *e2_chan_refusal_name(enum e2_chan_refusal r)
{
	if ((unsigned)r >= E2_CHAN_REFUSALS)
		return "unknown";
	return refusal_names[r];
}

static uint64_t realtime_ns(void)
{
	struct timespec ts;
	clock_gettime(CLOCK_REALTIME, &ts);
	return (uint64_t)ts.tv_sec * 1000000000ull + (uint64_t)ts.tv_nsec;
}

static uint64_t monotonic_ms(void)
{
	struct timespec ts;
	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (uint64_t)ts.tv_sec * 1000ull + (uint64_t)ts.tv_nsec / 1000000ull;
}

static bool sender_valid(const char *s, size_t len)
{
	if (len == 0 || len > E2_CHAN_SENDER_MAX)
		return false;
	for (size_t i = 0; i < len; i++) {
		char ch = s[i];
		if (!((ch >= 'a' && ch <= 'z') || (ch >= 'A' && ch <= 'Z') || (ch >= '0' && ch <= '9') || ch == '_' ||
		      ch == '.' || ch == ':' || ch == '-'))
			return false;
	}
	return true;
}

/* A sender name fit for a log line, whatever it holds. */
static void sender_printable(const char *s, char *out, size_t n)
{
	size_t j = 0;
	for (size_t i = 0; s[i] && j + 5 < n; i++) {
		unsigned char ch = (unsigned char)s[i];
		if (ch >= 0x20 && ch < 0x7f && ch != '\'' && ch != '\\')
			out[j++] = (char)ch;
		else
			j += (size_t)snprintf(out + j, n - j, "\\x%02x", ch);
	}
	out[j] = '\0';
}

/* ---- keys ---- */

int e2_chan_key_load(const char *path, struct e2_chan_key *key, struct e2_err *err)
{
	unsigned char buf[E2_CHAN_KEY_MAX + 1];
	size_t len = 0;
	struct stat st;
	int fd;

	memset(key, 0, sizeof(*key));
	/* O_NONBLOCK: a FIFO put in the key's place must not hang the daemon */
	fd = open(path, O_RDONLY | O_CLOEXEC | O_NOCTTY | O_NONBLOCK);
	if (fd < 0) {
		e2_seterr(err, "key file %s: cannot open: %s", path, strerror(errno));
		return -1;
	}
	/* checked on the descriptor read from, so that nothing can be swapped in between */
	if (fstat(fd, &st) != 0) {
		e2_seterr(err, "key file %s: cannot stat: %s", path, strerror(errno));
		goto fail;
	}
	if (!S_ISREG(st.st_mode)) {
		e2_seterr(err, "key file %s: not a regular file", path);
		goto fail;
	}
	if (st.st_uid != geteuid()) {
		e2_seterr(err, "key file %s: owned by uid %u, not by this user (uid %u)", path, (unsigned)st.st_uid,
			  (unsigned)geteuid());
		goto fail;
	}
	if (st.st_mode & 077) {
		e2_seterr(err, "key file %s: mode %04o lets group or others at it (it must be 0600 or 0400)", path,
			  (unsigned)(st.st_mode & 07777));
		goto fail;
	}
	for (;;) {
		ssize_t n = read(fd, buf + len, sizeof(buf) - len);
		if (n < 0 && errno == EINTR)
			continue;
		if (n < 0) {
			e2_seterr(err, "key file %s: cannot read: %s", path, strerror(errno));
			goto fail;
		}
		if (n == 0)
			break;
		len += (size_t)n;
		if (len == sizeof(buf))
			break;
	}
	close(fd);
	if (len > E2_CHAN_KEY_MAX) {
		e2_seterr(err, "key file %s: more than %u bytes of key", path, E2_CHAN_KEY_MAX);
		OPENSSL_cleanse(buf, sizeof(buf));
		return -1;
	}
	if (len < E2_CHAN_KEY_MIN) {
		e2_seterr(err, "key file %s: %zu bytes of key, at least %u are needed", path, len, E2_CHAN_KEY_MIN);
		OPENSSL_cleanse(buf, sizeof(buf));
		return -1;
	}
	memcpy(key->bytes, buf, len);
	key->len = len;
	OPENSSL_cleanse(buf, sizeof(buf));
	return 0;
fail:
	close(fd);
	return -1;
}

int e2_chan_key_create(const char *path, struct e2_err *err)
{
	unsigned char buf[E2_CHAN_KEY_MIN];
	size_t done = 0;
	int fd;

	if (RAND_bytes(buf, sizeof(buf)) != 1) {
		e2_seterr(err, "key file %s: no random bytes from OpenSSL", path);
		return -1;
	}
	fd = open(path, O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC | O_NOFOLLOW, 0600);
	if (fd < 0) {
		e2_seterr(err, "key file %s: cannot create: %s", path, strerror(errno));
		OPENSSL_cleanse(buf, sizeof(buf));
		return -1;
	}
	/* the umask may have taken the owner's read bit */
	if (fchmod(fd, 0600) != 0)
		goto fail;
	while (done < sizeof(buf)) {
		ssize_t n = write(fd, buf + done, sizeof(buf) - done);
		if (n < 0 && errno == EINTR)
			continue;
		if (n <= 0)
			goto fail;
		done += (size_t)n;
	}
	if (fsync(fd) != 0)
		goto fail;
	OPENSSL_cleanse(buf, sizeof(buf));
	if (close(fd) != 0) {
		e2_seterr(err, "key file %s: cannot write: %s", path, strerror(errno));
		unlink(path);
		return -1;
	}
	return 0;
fail:
	e2_seterr(err, "key file %s: cannot write: %s", path, strerror(errno));
	OPENSSL_cleanse(buf, sizeof(buf));
	close(fd);
	unlink(path);
	return -1;
}

/* ---- the MAC ---- */

static EVP_MAC *hmac_alg;
static pthread_once_t hmac_once = PTHREAD_ONCE_INIT;

static void hmac_fetch(void)
{
	hmac_alg = EVP_MAC_fetch(NULL, "HMAC", NULL);
}

/* The documented byte layout up to the body (which follows it under the MAC). */
static size_t layout_head(uint8_t *p, uint32_t version, const char *sender, uint64_t boot, uint64_t seq,
			  uint64_t time_ns, size_t body_len)
{
	static const uint8_t magic[4] = {'E', '2', 'S', '1'};
	size_t slen = strlen(sender);
	uint8_t *start = p;

	memcpy(p, magic, sizeof(magic));
	e2_put_be32(p + 4, version);
	e2_put_be16(p + 8, (uint16_t)slen);
	p += 10;
	for (size_t i = 0; i < slen; i++)
		*p++ = (uint8_t)sender[i];
	e2_put_be64(p, boot);
	e2_put_be64(p + 8, seq);
	e2_put_be64(p + 16, time_ns);
	e2_put_be32(p + 24, (uint32_t)body_len);
	p += 28;
	return (size_t)(p - start);
}

static int compute_mac(const struct e2_chan_key *key, uint32_t version, const char *sender, uint64_t boot, uint64_t seq,
		       uint64_t time_ns, const void *body, size_t body_len, uint8_t out[MAC_LEN])
{
	uint8_t head[LAYOUT_HEAD_MAX];
	size_t head_len;
	char digest[] = "SHA256";
	OSSL_PARAM params[] = {
		OSSL_PARAM_construct_utf8_string(OSSL_MAC_PARAM_DIGEST, digest, 0),
		OSSL_PARAM_construct_end(),
	};
	size_t out_len = 0;
	EVP_MAC_CTX *ctx;
	int ok;

	if (strlen(sender) > E2_CHAN_SENDER_MAX)
		return -1;
	head_len = layout_head(head, version, sender, boot, seq, time_ns, body_len);
	pthread_once(&hmac_once, hmac_fetch);
	if (!hmac_alg)
		return -1;
	ctx = EVP_MAC_CTX_new(hmac_alg);
	if (!ctx)
		return -1;
	ok = EVP_MAC_init(ctx, key->bytes, key->len, params) && EVP_MAC_update(ctx, head, head_len) &&
	     (body_len == 0 || EVP_MAC_update(ctx, body, body_len)) && EVP_MAC_final(ctx, out, &out_len, MAC_LEN) &&
	     out_len == MAC_LEN;
	EVP_MAC_CTX_free(ctx);
	return ok ? 0 : -1;
}

/* ---- sealing ---- */

int e2_chan_sender_check(const char *sender, struct e2_err *err)
{
	if (sender && sender_valid(sender, strlen(sender)))
		return 0;
	char shown[4 * E2_CHAN_SENDER_MAX + 8];
	sender_printable(sender ? sender : "", shown, sizeof(shown));
	e2_seterr(err, "sender name '%s' is not 1..%u characters of [A-Za-z0-9_.:-]", shown, E2_CHAN_SENDER_MAX);
	return -1;
}

int e2_chan_sealer_init(struct e2_chan_sealer *s, const char *sender, const struct e2_chan_key *key, struct e2_err *err)
{
	/* Two sealers of one process (channels re-created, or several of one daemon) get
	 * distinct, increasing boots even within one clock tick. */
	static uint64_t last_boot;
	uint64_t boot, prev;

	memset(s, 0, sizeof(*s));
	if (e2_chan_sender_check(sender, err) != 0)
		return -1;
	if (key && (key->len < E2_CHAN_KEY_MIN || key->len > E2_CHAN_KEY_MAX)) {
		e2_seterr(err, "a key of %zu bytes (it must have %u..%u)", key->len, E2_CHAN_KEY_MIN, E2_CHAN_KEY_MAX);
		return -1;
	}
	boot = realtime_ns();
	prev = __atomic_load_n(&last_boot, __ATOMIC_RELAXED);
	do {
		if (boot <= prev)
			boot = prev + 1;
	} while (!__atomic_compare_exchange_n(&last_boot, &prev, boot, false, __ATOMIC_RELAXED, __ATOMIC_RELAXED));
	snprintf(s->sender, sizeof(s->sender), "%s", sender);
	s->boot = boot;
	s->seq = 0;
	s->key = key;
	return 0;
}

int e2_chan_seal(struct e2_chan_sealer *s, const void *body, size_t len, void **out, size_t *out_len,
		 struct e2_err *err)
{
	E2__Ctl__Sealed m = E2__CTL__SEALED__INIT;
	uint8_t mac[MAC_LEN];
	size_t packed;
	uint8_t *buf;

	*out = NULL;
	*out_len = 0;
	if (len > E2_CHAN_MSG_MAX) {
		e2_seterr(err, "a body of %zu bytes does not fit a sealed message (at most %u bytes)", len,
			  E2_CHAN_MSG_MAX);
		return -1;
	}
	m.version = E2__CTL__VERSION__VERSION_CURRENT;
	m.sender = s->sender;
	m.boot = s->boot;
	m.seq = s->seq + 1;
	m.time_ns = realtime_ns();
	m.body.len = len;
	m.body.data = (uint8_t *)(uintptr_t)body;
	if (s->key) {
		if (compute_mac(s->key, m.version, m.sender, m.boot, m.seq, m.time_ns, body, len, mac) != 0) {
			e2_seterr(err, "HMAC-SHA256 failed in OpenSSL");
			return -1;
		}
		m.mac.len = MAC_LEN;
		m.mac.data = mac;
	}
	packed = e2__ctl__sealed__get_packed_size(&m);
	if (packed > E2_CHAN_MSG_MAX) {
		e2_seterr(err, "a body of %zu bytes makes a sealed message of %zu bytes (at most %u)", len, packed,
			  E2_CHAN_MSG_MAX);
		return -1;
	}
	buf = e2_xmalloc(packed ? packed : 1);
	e2__ctl__sealed__pack(&m, buf);
	s->seq = m.seq;
	*out = buf;
	*out_len = packed;
	return 0;
}

/* ---- opening ---- */

struct sender_state {
	char name[E2_CHAN_SENDER_MAX + 1];
	uint64_t boot;
	uint64_t top;    /* highest sequence number taken in this boot */
	uint64_t window; /* bit i: top - i was taken */
	uint64_t heard;  /* the opener's tick when last accepted: the smallest is evicted */
};

struct e2_chan_opener {
	struct e2_chan_key key;
	bool keyed;
	uint64_t (*now_ns)(void);
	struct sender_state *senders;
	size_t n_senders, cap;
	uint64_t tick;
};

struct e2_chan_opener *e2_chan_opener_new(const struct e2_chan_key *key, uint64_t (*now_ns)(void))
{
	struct e2_chan_opener *o = e2_xcalloc(1, sizeof(*o));
	if (key) {
		o->key = *key;
		o->keyed = true;
	}
	o->now_ns = now_ns ? now_ns : realtime_ns;
	return o;
}

void e2_chan_opener_free(struct e2_chan_opener *o)
{
	if (!o)
		return;
	OPENSSL_cleanse(&o->key, sizeof(o->key));
	free(o->senders);
	free(o);
}

static struct sender_state *sender_find(struct e2_chan_opener *o, const char *name)
{
	for (size_t i = 0; i < o->n_senders; i++)
		if (strcmp(o->senders[i].name, name) == 0)
			return &o->senders[i];
	return NULL;
}

/* Whether (boot, seq) would be taken from st; what it is otherwise, in err. */
static bool replay_check(const struct sender_state *st, uint64_t boot, uint64_t seq, struct e2_err *err)
{
	if (!st || boot > st->boot)
		return true;
	if (boot < st->boot) {
		e2_seterr(err,
			  "boot %llu is older than the newest seen, %llu (a replay, or two senders under one name)",
			  (unsigned long long)boot, (unsigned long long)st->boot);
		return false;
	}
	if (seq > st->top)
		return true;
	if (st->top - seq >= E2_CHAN_WINDOW) {
		e2_seterr(err, "sequence number %llu is behind the window (newest %llu)", (unsigned long long)seq,
			  (unsigned long long)st->top);
		return false;
	}
	if (st->window & (1ull << (st->top - seq))) {
		e2_seterr(err, "sequence number %llu of boot %llu was seen before", (unsigned long long)seq,
			  (unsigned long long)boot);
		return false;
	}
	return true;
}

static void replay_record(struct e2_chan_opener *o, struct sender_state *st, const char *name, uint64_t boot,
			  uint64_t seq)
{
	if (!st) {
		if (o->n_senders == E2_CHAN_SENDERS_MAX) {
			size_t oldest = 0;
			for (size_t i = 1; i < o->n_senders; i++)
				if (o->senders[i].heard < o->senders[oldest].heard)
					oldest = i;
			st = &o->senders[oldest];
		} else {
			if (o->n_senders == o->cap) {
				o->cap = o->cap ? o->cap * 2 : 8;
				if (o->cap > E2_CHAN_SENDERS_MAX)
					o->cap = E2_CHAN_SENDERS_MAX;
				o->senders = e2_xrealloc(o->senders, o->cap * sizeof(*o->senders));
			}
			st = &o->senders[o->n_senders++];
		}
		snprintf(st->name, sizeof(st->name), "%s", name);
		st->boot = boot;
		st->top = seq;
		st->window = 1;
	} else if (boot > st->boot) {
		st->boot = boot;
		st->top = seq;
		st->window = 1;
	} else if (seq > st->top) {
		uint64_t shift = seq - st->top;
		st->window = shift >= E2_CHAN_WINDOW ? 1 : (st->window << shift) | 1;
		st->top = seq;
	} else {
		st->window |= 1ull << (st->top - seq);
	}
	st->heard = ++o->tick;
}

/* e2_chan_open, also giving the sender a refused message claims to be from (when it
 * decoded far enough to have a valid one; else ""). */
static enum e2_chan_refusal open_envelope(struct e2_chan_opener *o, const void *buf, size_t len, void **body,
					  size_t *body_len, char *sender, char *claimed, struct e2_err *err)
{
	enum e2_chan_refusal r = E2_CHAN_OK;
	E2__Ctl__Sealed *m;
	size_t slen;

	if (body) {
		*body = NULL;
		*body_len = 0;
	}
	if (sender)
		sender[0] = '\0';
	claimed[0] = '\0';
	if (len > E2_CHAN_MSG_MAX) {
		e2_seterr(err, "a message of %zu bytes (at most %u)", len, E2_CHAN_MSG_MAX);
		return E2_CHAN_OVERSIZED;
	}
	m = e2__ctl__sealed__unpack(NULL, len, buf);
	if (!m) {
		e2_seterr(err, "%zu bytes that do not decode as a sealed envelope", len);
		return E2_CHAN_TRUNCATED;
	}
	/* proto3 reads an absent field as 0, and every sealer sets these: a message
	 * without one was cut short (or never was an envelope) */
	const char *absent = !m->version   ? "version"
			     : !m->boot    ? "boot"
			     : !m->seq     ? "seq"
			     : !m->time_ns ? "time_ns"
					   : NULL;
	if (absent) {
		e2_seterr(err, "%zu bytes of envelope without its %s", len, absent);
		r = E2_CHAN_TRUNCATED;
		goto out;
	}
	if (m->version != E2__CTL__VERSION__VERSION_CURRENT) {
		e2_seterr(err, "envelope version %u, this side speaks %u", m->version,
			  (unsigned)E2__CTL__VERSION__VERSION_CURRENT);
		r = E2_CHAN_BAD_VERSION;
		goto out;
	}
	slen = strlen(m->sender);
	if (!sender_valid(m->sender, slen)) {
		char shown[4 * E2_CHAN_SENDER_MAX + 8];
		char cut[E2_CHAN_SENDER_MAX + 1];
		snprintf(cut, sizeof(cut), "%s", m->sender);
		sender_printable(cut, shown, sizeof(shown));
		e2_seterr(err, "sender name '%s%s' is not 1..%u characters of [A-Za-z0-9_.:-]", shown,
			  slen > E2_CHAN_SENDER_MAX ? "..." : "", E2_CHAN_SENDER_MAX);
		r = E2_CHAN_BAD_SENDER;
		goto out;
	}
	memcpy(claimed, m->sender, slen + 1);
	if (o->keyed) {
		uint8_t want[MAC_LEN];
		if (m->mac.len == 0) {
			e2_seterr(err, "no MAC on a channel with a key");
			r = E2_CHAN_NO_MAC;
			goto out;
		}
		if (m->mac.len != MAC_LEN) {
			e2_seterr(err, "a MAC of %zu bytes (HMAC-SHA256 has %u)", m->mac.len, MAC_LEN);
			r = E2_CHAN_BAD_MAC;
			goto out;
		}
		if (compute_mac(&o->key, m->version, m->sender, m->boot, m->seq, m->time_ns, m->body.data, m->body.len,
				want) != 0) {
			e2_seterr(err, "HMAC-SHA256 failed in OpenSSL");
			r = E2_CHAN_BAD_MAC;
			goto out;
		}
		if (CRYPTO_memcmp(want, m->mac.data, MAC_LEN) != 0) {
			e2_seterr(err, "the MAC does not verify (another key, or the message was changed)");
			r = E2_CHAN_BAD_MAC;
			goto out;
		}
	}
	uint64_t now = o->now_ns();
	uint64_t off = m->time_ns > now ? m->time_ns - now : now - m->time_ns;
	if (off > E2_CHAN_STALE_NS) {
		e2_seterr(err, "sealed %.1f s %s this clock (at most %.0f s apart)", (double)off / 1e9,
			  m->time_ns > now ? "ahead of" : "behind", (double)E2_CHAN_STALE_NS / 1e9);
		r = E2_CHAN_STALE;
		goto out;
	}
	struct sender_state *st = sender_find(o, m->sender);
	if (!replay_check(st, m->boot, m->seq, err)) {
		r = E2_CHAN_REPLAYED;
		goto out;
	}
	replay_record(o, st, m->sender, m->boot, m->seq);
	if (body) {
		*body = e2_xmalloc(m->body.len ? m->body.len : 1);
		if (m->body.len)
			memcpy(*body, m->body.data, m->body.len);
		*body_len = m->body.len;
	}
	if (sender)
		memcpy(sender, m->sender, slen + 1);
out:
	e2__ctl__sealed__free_unpacked(m, NULL);
	return r;
}

enum e2_chan_refusal e2_chan_open(struct e2_chan_opener *o, const void *buf, size_t len, void **body, size_t *body_len,
				  char *sender, struct e2_err *err)
{
	char claimed[E2_CHAN_SENDER_MAX + 1];
	return open_envelope(o, buf, len, body, body_len, sender, claimed, err);
}

/* ---- channels ---- */

struct endpoint {
	char *url;
	bool bound;
	/* an ipc:// socket file this channel created: removed at close if still the same */
	char *ipc_path;
	dev_t dev;
	ino_t ino;
};

struct e2_chan {
	enum e2_chan_kind kind;
	int sock;
	struct e2_chan_key key;
	bool keyed;
	struct e2_chan_sealer sealer;
	struct e2_chan_opener *opener;
	struct e2_chan_counters counters;
	struct endpoint *eps;
	size_t n_eps;
	char label[160]; /* for log lines: sender and first endpoint */
	enum e2_chan_refusal last_refusal;
	char last_refusal_msg[E2_ERR_MSG_MAX];
	uint64_t warn_second; /* WARN lines are limited per second */
	unsigned warn_count;
	uint64_t warn_suppressed;
};

static int nn_protocol(enum e2_chan_kind kind)
{
	switch (kind) {
	case E2_CHAN_REQ: return NN_REQ;
	case E2_CHAN_REP: return NN_REP;
	case E2_CHAN_PUB: return NN_PUB;
	case E2_CHAN_SUB: return NN_SUB;
	}
	return -1;
}

static const char *kind_name(enum e2_chan_kind kind)
{
	static const char *const names[] = {"REQ", "REP", "PUB", "SUB"};
	return (unsigned)kind < 4 ? names[kind] : "?";
}

static int socket_open(enum e2_chan_kind kind, struct e2_err *err)
{
	int maxsz = (int)(E2_CHAN_MSG_MAX + RECV_SLACK);
	int s = nn_socket(AF_SP, nn_protocol(kind));

	if (s < 0) {
		e2_seterr(err, "cannot create a nanomsg %s socket: %s", kind_name(kind), nn_strerror(nn_errno()));
		return -1;
	}
	if (kind != E2_CHAN_PUB && nn_setsockopt(s, NN_SOL_SOCKET, NN_RCVMAXSIZE, &maxsz, sizeof(maxsz)) < 0)
		goto fail;
	if (kind == E2_CHAN_SUB && nn_setsockopt(s, NN_SUB, NN_SUB_SUBSCRIBE, "", 0) < 0)
		goto fail;
	if (kind == E2_CHAN_REQ) {
		int ivl = REQ_RESEND_MS;
		if (nn_setsockopt(s, NN_REQ, NN_REQ_RESEND_IVL, &ivl, sizeof(ivl)) < 0)
			goto fail;
	}
	return s;
fail:
	e2_seterr(err, "cannot set up a nanomsg %s socket: %s", kind_name(kind), nn_strerror(nn_errno()));
	nn_close(s);
	return -1;
}

struct e2_chan *e2_chan_new(enum e2_chan_kind kind, const char *sender, const struct e2_chan_key *key,
			    struct e2_err *err)
{
	struct e2_chan *c;

	if (nn_protocol(kind) < 0) {
		e2_seterr(err, "no channel kind %d", (int)kind);
		return NULL;
	}
	c = e2_xcalloc(1, sizeof(*c));
	c->kind = kind;
	if (key) {
		c->key = *key;
		c->keyed = true;
	}
	if (e2_chan_sealer_init(&c->sealer, sender, c->keyed ? &c->key : NULL, err) != 0) {
		free(c);
		return NULL;
	}
	c->sock = socket_open(kind, err);
	if (c->sock < 0) {
		free(c);
		return NULL;
	}
	c->opener = e2_chan_opener_new(c->keyed ? &c->key : NULL, NULL);
	snprintf(c->label, sizeof(c->label), "%s %s", kind_name(kind), c->sealer.sender);
	return c;
}

static bool url_is(const char *url, const char *scheme)
{
	return strncmp(url, scheme, strlen(scheme)) == 0;
}

/* Makes way for binding path: a socket file nobody listens on goes, anything else stays
 * and is refused. */
static int ipc_claim(const char *path, struct e2_err *err)
{
	struct sockaddr_un sa = {.sun_family = AF_UNIX};
	struct stat st;
	int fd, rc, saved;

	if (strlen(path) >= sizeof(sa.sun_path)) {
		e2_seterr(err, "socket path %s is longer than %zu bytes", path, sizeof(sa.sun_path) - 1);
		return -1;
	}
	if (lstat(path, &st) != 0) {
		if (errno == ENOENT)
			return 0;
		e2_seterr(err, "%s: %s", path, strerror(errno));
		return -1;
	}
	if (!S_ISSOCK(st.st_mode)) {
		e2_seterr(err, "%s exists and is not a socket; not removed", path);
		return -1;
	}
	memcpy(sa.sun_path, path, strlen(path) + 1);
	fd = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0);
	if (fd < 0) {
		e2_seterr(err, "%s: cannot test whether it is in use: %s", path, strerror(errno));
		return -1;
	}
	rc = connect(fd, (struct sockaddr *)&sa, sizeof(sa));
	saved = errno;
	close(fd);
	if (rc == 0) {
		e2_seterr(err, "%s: another process listens on it", path);
		return -1;
	}
	if (saved != ECONNREFUSED) {
		e2_seterr(err, "%s: cannot test whether it is in use: %s", path, strerror(saved));
		return -1;
	}
	if (unlink(path) != 0 && errno != ENOENT) {
		e2_seterr(err, "%s: cannot remove the stale socket: %s", path, strerror(errno));
		return -1;
	}
	E2_INFO("removed the stale socket %s", path);
	return 0;
}

static int endpoint_add(struct e2_chan *c, struct endpoint *ep, struct e2_err *err)
{
	int id;

	if (!ep->bound) {
		if (nn_connect(c->sock, ep->url) < 0) {
			e2_seterr(err, "cannot connect to %s: %s", ep->url, nn_strerror(nn_errno()));
			return -1;
		}
		return 0;
	}
	if (!url_is(ep->url, "ipc://")) {
		if (nn_bind(c->sock, ep->url) < 0) {
			e2_seterr(err, "cannot bind %s: %s", ep->url, nn_strerror(nn_errno()));
			return -1;
		}
		return 0;
	}
	const char *path = ep->url + strlen("ipc://");
	struct stat st;
	if (ipc_claim(path, err) != 0)
		return -1;
	/* the socket file is born without group or other access, not chmod'ed into it */
	mode_t old = umask(0077);
	id = nn_bind(c->sock, ep->url);
	int saved = nn_errno();
	umask(old);
	if (id < 0) {
		e2_seterr(err, "cannot bind %s: %s", ep->url, nn_strerror(saved));
		return -1;
	}
	if (chmod(path, 0600) != 0 || stat(path, &st) != 0) {
		e2_seterr(err, "%s: cannot make it mode 0600: %s", path, strerror(errno));
		nn_shutdown(c->sock, id);
		return -1;
	}
	free(ep->ipc_path);
	ep->ipc_path = e2_xstrdup(path);
	ep->dev = st.st_dev;
	ep->ino = st.st_ino;
	return 0;
}

static int endpoint_new(struct e2_chan *c, const char *url, bool bound, struct e2_err *err)
{
	const char *verb = bound ? "bind" : "connect to";

	if (!url_is(url, "ipc://") && !url_is(url, "tcp://") && !url_is(url, "inproc://")) {
		e2_seterr(err, "cannot %s %s: only ipc://, tcp:// and inproc:// endpoints", verb, url);
		return -1;
	}
	if (url_is(url, "tcp://") && !c->keyed) {
		e2_seterr(err, "cannot %s %s: tcp:// endpoints need a key", verb, url);
		return -1;
	}
	struct endpoint ep = {.url = e2_xstrdup(url), .bound = bound};
	if (endpoint_add(c, &ep, err) != 0) {
		free(ep.url);
		return -1;
	}
	c->eps = e2_xrealloc(c->eps, (c->n_eps + 1) * sizeof(*c->eps));
	c->eps[c->n_eps++] = ep;
	if (c->n_eps == 1)
		snprintf(c->label, sizeof(c->label), "%s %s %s %s", kind_name(c->kind), c->sealer.sender,
			 bound ? "on" : "to", url);
	return 0;
}

int e2_chan_bind(struct e2_chan *c, const char *url, struct e2_err *err)
{
	return endpoint_new(c, url, true, err);
}

int e2_chan_connect(struct e2_chan *c, const char *url, struct e2_err *err)
{
	return endpoint_new(c, url, false, err);
}

static void endpoint_unlink(struct endpoint *ep)
{
	struct stat st;

	if (!ep->ipc_path)
		return;
	/* only if it is still ours: another process may have taken the path over */
	if (lstat(ep->ipc_path, &st) == 0 && st.st_dev == ep->dev && st.st_ino == ep->ino)
		unlink(ep->ipc_path);
	free(ep->ipc_path);
	ep->ipc_path = NULL;
}

/* A fresh socket on the same endpoints: what the old one had queued or awaited is gone. */
static int chan_recreate(struct e2_chan *c, struct e2_err *err)
{
	int s = socket_open(c->kind, err);
	if (s < 0)
		return -1;
	nn_close(c->sock);
	for (size_t i = 0; i < c->n_eps; i++)
		endpoint_unlink(&c->eps[i]);
	c->sock = s;
	for (size_t i = 0; i < c->n_eps; i++)
		if (endpoint_add(c, &c->eps[i], err) != 0) {
			e2_err_context(err, "re-creating the %s socket", kind_name(c->kind));
			return -1;
		}
	return 0;
}

int e2_chan_send(struct e2_chan *c, const void *body, size_t len, int timeout_ms, struct e2_err *err)
{
	void *buf;
	size_t n;
	int tmo = timeout_ms < 0 ? -1 : timeout_ms;

	if (c->kind == E2_CHAN_SUB) {
		e2_seterr(err, "%s: a SUB channel does not send", c->label);
		errno = ENOTSUP;
		return -1;
	}
	if (e2_chan_seal(&c->sealer, body, len, &buf, &n, err) != 0) {
		errno = EMSGSIZE;
		return -1;
	}
	nn_setsockopt(c->sock, NN_SOL_SOCKET, NN_SNDTIMEO, &tmo, sizeof(tmo));
	int rc = nn_send(c->sock, buf, n, 0);
	int e = nn_errno();
	free(buf);
	if (rc < 0) {
		if (e == ETIMEDOUT || e == EAGAIN) {
			c->counters.timeouts++;
			e2_seterr(err, "%s: send timed out after %d ms (no peer took it)", c->label, timeout_ms);
			errno = ETIMEDOUT;
		} else if (e == EFSM) {
			e2_seterr(err, "%s: no request to reply to", c->label);
			errno = EFSM;
		} else {
			e2_seterr(err, "%s: cannot send: %s", c->label, nn_strerror(e));
			errno = e;
		}
		return -1;
	}
	c->counters.sent++;
	c->last_refusal = E2_CHAN_OK;
	return 0;
}

static void warn_refusal(struct e2_chan *c, enum e2_chan_refusal r, const char *claimed, const char *why)
{
	uint64_t second = monotonic_ms() / 1000;

	if (second != c->warn_second) {
		if (c->warn_suppressed)
			E2_WARN("%s: %llu more refused messages not logged", c->label,
				(unsigned long long)c->warn_suppressed);
		c->warn_second = second;
		c->warn_count = 0;
		c->warn_suppressed = 0;
	}
	if (c->warn_count >= WARN_PER_SECOND) {
		c->warn_suppressed++;
		return;
	}
	c->warn_count++;
	if (*claimed)
		E2_WARN("%s: refused (%s) a message from '%s': %s", c->label, e2_chan_refusal_name(r), claimed, why);
	else
		E2_WARN("%s: refused (%s) a message: %s", c->label, e2_chan_refusal_name(r), why);
}

int e2_chan_recv(struct e2_chan *c, void **body, size_t *len, char *sender, int timeout_ms, struct e2_err *err)
{
	uint64_t deadline = timeout_ms < 0 ? UINT64_MAX : monotonic_ms() + (uint64_t)timeout_ms;

	*body = NULL;
	*len = 0;
	if (c->kind == E2_CHAN_PUB) {
		e2_seterr(err, "%s: a PUB channel does not receive", c->label);
		errno = ENOTSUP;
		return -1;
	}
	for (;;) {
		int tmo = -1;
		if (deadline != UINT64_MAX) {
			uint64_t now = monotonic_ms();
			tmo = now >= deadline ? 0 : (int)(deadline - now);
		}
		nn_setsockopt(c->sock, NN_SOL_SOCKET, NN_RCVTIMEO, &tmo, sizeof(tmo));
		void *msg = NULL;
		int n = nn_recv(c->sock, &msg, NN_MSG, 0);
		if (n < 0) {
			int e = nn_errno();
			if (e == ETIMEDOUT || e == EAGAIN) {
				c->counters.timeouts++;
				e2_seterr(err, "%s: timed out after %d ms", c->label, timeout_ms);
				errno = ETIMEDOUT;
			} else if (e == EFSM && c->last_refusal != E2_CHAN_OK) {
				/* a REQ takes one reply per request, and it was refused */
				e2_seterr(err, "%s: the reply was refused (%s): %s", c->label,
					  e2_chan_refusal_name(c->last_refusal), c->last_refusal_msg);
				errno = EPROTO;
			} else if (e == EFSM) {
				e2_seterr(err, "%s: no request outstanding to receive a reply to", c->label);
				errno = EFSM;
			} else {
				e2_seterr(err, "%s: cannot receive: %s", c->label, nn_strerror(e));
				errno = e;
			}
			return -1;
		}
		char claimed[E2_CHAN_SENDER_MAX + 1];
		struct e2_err why;
		enum e2_chan_refusal r = open_envelope(c->opener, msg, (size_t)n, body, len, sender, claimed, &why);
		nn_freemsg(msg);
		if (r == E2_CHAN_OK) {
			c->counters.received++;
			c->last_refusal = E2_CHAN_OK;
			return 0;
		}
		c->counters.refused[r]++;
		c->last_refusal = r;
		snprintf(c->last_refusal_msg, sizeof(c->last_refusal_msg), "%s", why.msg);
		warn_refusal(c, r, claimed, why.msg);
	}
}

int e2_chan_call(struct e2_chan *c, const void *req, size_t req_len, void **reply, size_t *reply_len, int timeout_ms,
		 struct e2_err *err)
{
	uint64_t start = monotonic_ms();
	char sender[E2_CHAN_SENDER_MAX + 1];
	struct e2_err why;
	int rc;

	*reply = NULL;
	*reply_len = 0;
	if (c->kind != E2_CHAN_REQ) {
		e2_seterr(err, "%s: only a REQ channel calls", c->label);
		errno = ENOTSUP;
		return -1;
	}
	rc = e2_chan_send(c, req, req_len, timeout_ms, err);
	if (rc == 0) {
		int left = -1;
		if (timeout_ms >= 0) {
			uint64_t spent = monotonic_ms() - start;
			left = spent >= (uint64_t)timeout_ms ? 0 : timeout_ms - (int)spent;
		}
		rc = e2_chan_recv(c, reply, reply_len, sender, left, err);
		if (rc != 0 && errno == ETIMEDOUT)
			e2_seterr(err, "%s: no reply within %d ms", c->label, timeout_ms);
	}
	if (rc != 0 && errno == ETIMEDOUT) {
		if (chan_recreate(c, &why) != 0) {
			E2_ERR("%s: %s", c->label, why.msg);
			if (err) {
				char was[E2_ERR_MSG_MAX];
				snprintf(was, sizeof(was), "%s", err->msg);
				e2_seterr(err, "%s; and then: %s", was, why.msg);
			}
		}
		errno = ETIMEDOUT;
	}
	return rc;
}

int e2_chan_fd(const struct e2_chan *c)
{
	int fd = -1;
	size_t sz = sizeof(fd);

	if (!c || c->kind == E2_CHAN_PUB)
		return -1;
	if (nn_getsockopt(c->sock, NN_SOL_SOCKET, NN_RCVFD, &fd, &sz) < 0)
		return -1;
	return fd;
}

const struct e2_chan_counters *e2_chan_counters(const struct e2_chan *c)
{
	return &c->counters;
}

void e2_chan_close(struct e2_chan *c)
{
	if (!c)
		return;
	if (c->sock >= 0)
		nn_close(c->sock);
	for (size_t i = 0; i < c->n_eps; i++) {
		endpoint_unlink(&c->eps[i]);
		free(c->eps[i].url);
	}
	free(c->eps);
	e2_chan_opener_free(c->opener);
	OPENSSL_cleanse(&c->key, sizeof(c->key));
	free(c);
}
