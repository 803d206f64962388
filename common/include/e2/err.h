/* SPDX-License-Identifier: BSD-3-Clause */
/* One error type for every part of E2: a message that names the culprit, to which each
 * caller on the way up may add its own context ("policy.yaml: pipeline 'p1': ...").
 * Functions that can fail take a `struct e2_err *` (which may be NULL) and fill it in. */
#ifndef E2_ERR_H
#define E2_ERR_H

#include <stddef.h>

#define E2_ERR_MSG_MAX 1024

struct e2_err {
	char msg[E2_ERR_MSG_MAX];
};

/* Formats a message into err (which may be NULL), replacing what was there. */
void e2_seterr(struct e2_err *err, const char *fmt, ...) __attribute__((format(printf, 2, 3)));

/* Puts "CONTEXT: " in front of the message already in err (which may be NULL); the
 * message is cut at E2_ERR_MSG_MAX - 1 bytes, keeping the context and the message's start. */
void e2_err_context(struct e2_err *err, const char *fmt, ...) __attribute__((format(printf, 2, 3)));

#endif
