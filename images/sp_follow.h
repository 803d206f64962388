/* SPDX-License-Identifier: BSD-3-Clause */
/* Follows one direction of a nanomsg ipc:// byte stream (its "sipc" framing): an 8-byte
 * greeting (\0 S P \0, protocol id, 2 reserved bytes), then messages, each a type byte
 * (1), an 8-byte big-endian length and the body.
 *
 * e2-vport-relay reads it on the host-to-NF direction of a virtio-serial port. QEMU takes
 * a new host client as soon as the last one hangs up, and the guest can miss that hang-up
 * between two polls; a greeting where a message should start is then the only sign of a
 * new client, who needs a connection to the NF of its own (nanomsg aborts on a greeting
 * in the middle of a stream). Bytes that are neither are refused, so a broken host client
 * cannot crash the NF either; after them the follower waits for the next greeting. */
#ifndef E2_SP_FOLLOW_H
#define E2_SP_FOLLOW_H

#include <stddef.h>
#include <stdint.h>

enum sp_event {
	SP_PASS,       /* pass these bytes to the NF connection */
	SP_NEW_CLIENT, /* a greeting starts: close the NF connection, open a fresh one */
	SP_BAD,        /* not nanomsg framing: close the NF connection; bytes are dropped until a greeting */
};

/* n bytes for SP_PASS; for SP_BAD, data is a reason (a string) and n is 0 */
typedef void sp_event_fn(void *ctx, enum sp_event ev, const uint8_t *data, size_t n);

struct sp_follow {
	enum { SP_GREETING, SP_TYPE, SP_LENGTH, SP_BODY, SP_JUNK } state;
	unsigned got; /* bytes of the greeting or length seen (or of the magic, in SP_JUNK) */
	uint8_t part[8];
	uint64_t left; /* body bytes still to pass */
	uint64_t messages;
	uint64_t clients;
};

/* A follower at the start of a stream: the first bytes must be a greeting. */
void sp_follow_init(struct sp_follow *f);

/* Feeds the next n bytes of the stream; fn hears, in order, what to do with them. */
void sp_follow_feed(struct sp_follow *f, const uint8_t *buf, size_t n, sp_event_fn *fn, void *ctx);

#endif
