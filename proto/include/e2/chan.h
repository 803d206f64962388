/* SPDX-License-Identifier: BSD-3-Clause */
/* Sealed channels: E2's daemons talk protobuf-c over nanomsg, every message inside a
 * `Sealed` envelope (proto/e2ctl.proto) that names its sender, the sender's boot, a
 * sequence number and the time, and on a channel with a key carries an HMAC-SHA256
 * (OpenSSL) of all of them. A receiver refuses, counts and logs what is truncated,
 * oversized, of another version, unauthenticated, replayed or stale, and hands on only
 * the rest; a refused message changes nothing and gets no reply.
 *
 * The HMAC covers this byte layout (all integers big-endian), not the protobuf encoding:
 *   "E2S1" | version u32 | sender length u16 | sender | boot u64 | seq u64 |
 *   time_ns u64 | body length u32 | body
 *
 * Replay: per sender, messages of a boot older than the newest seen are refused; within
 * a boot, a sliding window of 64 sequence numbers (as IPsec's) takes reordered ones once.
 * Stale: time_ns more than E2_CHAN_STALE_NS away from the receiver's clock.
 * tcp:// endpoints need a key; ipc:// endpoints get mode 0600 and may go without. */
#ifndef E2_CHAN_H
#define E2_CHAN_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "e2/err.h"

#define E2_CHAN_KEY_MIN 32         /* bytes of key at least */
#define E2_CHAN_KEY_MAX 256        /* and at most */
#define E2_CHAN_SENDER_MAX 63      /* characters of a sender name: [A-Za-z0-9_.:-] */
#define E2_CHAN_MSG_MAX (4u << 20) /* a sealed message of more bytes is refused unread */
#define E2_CHAN_STALE_NS (30ull * 1000000000ull)
#define E2_CHAN_WINDOW 64
#define E2_CHAN_SENDERS_MAX 1024 /* senders remembered; the longest silent is forgotten */

struct e2_chan_key {
	unsigned char bytes[E2_CHAN_KEY_MAX];
	size_t len;
};

/* Reads a key file: its whole content is the key (E2_CHAN_KEY_MIN..MAX bytes). The file
 * must be a regular file owned by the caller's user with no group or other access
 * (0600 or 0400); anything else is refused, naming the file and what is wrong. */
int e2_chan_key_load(const char *path, struct e2_chan_key *key, struct e2_err *err);

/* Writes a fresh random key (OpenSSL RAND_bytes, 32 bytes) to path with mode 0600,
 * refusing to overwrite an existing file. For `ci/rack up` and first installs. */
int e2_chan_key_create(const char *path, struct e2_err *err);

enum e2_chan_refusal {
	E2_CHAN_OK = 0,
	E2_CHAN_TRUNCATED,   /* does not decode as a Sealed envelope */
	E2_CHAN_OVERSIZED,   /* more than E2_CHAN_MSG_MAX bytes */
	E2_CHAN_BAD_VERSION, /* envelope version is not the current one */
	E2_CHAN_BAD_SENDER,  /* empty, too long, or characters outside the set above */
	E2_CHAN_NO_MAC,      /* the channel has a key and the message carries no MAC */
	E2_CHAN_BAD_MAC,     /* the MAC does not verify */
	E2_CHAN_REPLAYED,    /* an old boot, or a sequence number seen or left behind */
	E2_CHAN_STALE,       /* time_ns too far from now */
	E2_CHAN_REFUSALS     /* how many kinds there are */
};
const char *e2_chan_refusal_name(enum e2_chan_refusal r); /* "truncated", "bad_mac", ... */

struct e2_chan_counters {
	uint64_t sent, received;            /* sealed and sent; opened and handed on */
	uint64_t refused[E2_CHAN_REFUSALS]; /* [E2_CHAN_OK] unused */
	uint64_t timeouts;                  /* sends or receives that timed out */
};

/* ---- envelopes, without sockets (what the fuzzer and the tests drive) ---- */

struct e2_chan_sealer {
	char sender[E2_CHAN_SENDER_MAX + 1];
	uint64_t boot;                 /* CLOCK_REALTIME ns at init */
	uint64_t seq;                  /* of the last message sealed */
	const struct e2_chan_key *key; /* NULL: no MAC */
};

/* 0 if sender is a valid name (above), else -1 with the reason in err: for a daemon's
 * option that names its channels, checked before any channel is made. */
int e2_chan_sender_check(const char *sender, struct e2_err *err);

/* sender must be a valid name (above); key may be NULL. */
int e2_chan_sealer_init(struct e2_chan_sealer *s, const char *sender, const struct e2_chan_key *key,
			struct e2_err *err);

/* The next envelope around body, in a malloc'd buffer (*out, *out_len). */
int e2_chan_seal(struct e2_chan_sealer *s, const void *body, size_t len, void **out, size_t *out_len,
		 struct e2_err *err);

struct e2_chan_opener;
/* key NULL: MACs are not required (and not checked). now_ns NULL: CLOCK_REALTIME. */
struct e2_chan_opener *e2_chan_opener_new(const struct e2_chan_key *key, uint64_t (*now_ns)(void));
void e2_chan_opener_free(struct e2_chan_opener *o);

/* Checks an envelope; on E2_CHAN_OK gives its body (malloc'd copy, *body_len bytes, to
 * free) and its sender (NUL-terminated, E2_CHAN_SENDER_MAX + 1 bytes), and records the
 * sequence number. On a refusal nothing is recorded and err says what was wrong. */
enum e2_chan_refusal e2_chan_open(struct e2_chan_opener *o, const void *buf, size_t len, void **body, size_t *body_len,
				  char *sender, struct e2_err *err);

/* ---- channels: a nanomsg socket that seals what it sends and opens what it receives ---- */

enum e2_chan_kind {
	E2_CHAN_REQ, /* sends requests, receives one reply each */
	E2_CHAN_REP, /* receives requests, replies to the last one received */
	E2_CHAN_PUB,
	E2_CHAN_SUB, /* subscribed to everything */
};

struct e2_chan;

/* A socket of `kind` that seals as `sender` under key (NULL: no MAC, refused for tcp://
 * URLs). Endpoints are added with e2_chan_bind / e2_chan_connect. */
struct e2_chan *e2_chan_new(enum e2_chan_kind kind, const char *sender, const struct e2_chan_key *key,
			    struct e2_err *err);

/* Binding an ipc:// URL removes a stale socket file nobody listens on, refuses one
 * somebody does, and leaves the new one with mode 0600. A tcp:// URL needs a key. */
int e2_chan_bind(struct e2_chan *c, const char *url, struct e2_err *err);
int e2_chan_connect(struct e2_chan *c, const char *url, struct e2_err *err);

/* Sends body sealed; timeout_ms < 0 waits for ever. */
int e2_chan_send(struct e2_chan *c, const void *body, size_t len, int timeout_ms, struct e2_err *err);

/* Receives the next message that opens, refusing (counting, logging at WARN) the others,
 * within timeout_ms (< 0: for ever). Returns 0 with *body (malloc'd) and sender set, or
 * -1 with err ("timed out after N ms" when nothing good came: check with errno ==
 * ETIMEDOUT). */
int e2_chan_recv(struct e2_chan *c, void **body, size_t *len, char *sender, int timeout_ms, struct e2_err *err);

/* REQ: send, then receive the reply, all within timeout_ms. After a timeout the socket
 * is re-created on the same endpoints, so a late reply cannot answer the next call. */
int e2_chan_call(struct e2_chan *c, const void *req, size_t req_len, void **reply, size_t *reply_len, int timeout_ms,
		 struct e2_err *err);

/* A file descriptor that polls readable when a message may be received (NN_RCVFD), or -1. */
int e2_chan_fd(const struct e2_chan *c);

const struct e2_chan_counters *e2_chan_counters(const struct e2_chan *c);

/* Closes the socket; an ipc:// socket file it bound is removed. NULL is fine. */
void e2_chan_close(struct e2_chan *c);

#endif
