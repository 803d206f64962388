/* SPDX-License-Identifier: BSD-3-Clause */
/* The e2d control protocol: decoding, dispatch to the dataplane, the text form
 * shared by the start-up configuration file and `e2ctl dp`, and printing replies. */
#ifndef E2D_CTL_H
#define E2D_CTL_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>

#include "e2d.pb-c.h"

#define E2_CTL_VERSION 1
#define E2_CTL_MAX_MSG (1 << 20)
/* e2d reads requests up to this size so that an oversized one still gets its
 * error reply; past it nanomsg drops the message unread (the client times out). */
#define E2_CTL_RECV_MAX (64 << 20)
#define E2_CTL_NAME_MAX 64 /* names are shorter than this (E2_NAME_MAX) */
#define E2_CTL_ARGS_MAX 64

struct e2_dp;

/* Checks a decoded request for everything that does not need the dataplane's
 * state (version, operation present, names, argument shapes). 0 or errno + err. */
int e2_ctl_validate(const E2__Dp__Request *req, char *err, size_t errlen);

/* Decodes, validates and executes one request; always returns a response, which
 * the caller frees with e2__dp__response__free_unpacked(resp, NULL). */
E2__Dp__Response *e2_ctl_handle_bytes(struct e2_dp *dp, const uint8_t *buf, size_t len, bool *shutdown);
E2__Dp__Response *e2_ctl_handle(struct e2_dp *dp, const E2__Dp__Request *req, bool *shutdown);

/* Text form: one command per line ("port add vm0 vhost path=/tmp/s client=1").
 * Returns NULL with err filled for a bad line; an empty/comment line gives NULL
 * with err[0] == '\0'. Free with e2__dp__request__free_unpacked(req, NULL). */
E2__Dp__Request *e2_ctl_parse_line(const char *line, char *err, size_t errlen);
/* The usage text of the command language. */
extern const char e2_ctl_usage[];

/* Prints a response for a person to read. */
void e2_ctl_print(FILE *out, const E2__Dp__Request *req, const E2__Dp__Response *resp);

#endif
