/* SPDX-License-Identifier: BSD-3-Clause */
/* The e2d side of the control protocol: decoding and dispatch to the dataplane
 * (the language itself, text and checks, is e2/cmd.h). */
#ifndef E2D_CTL_H
#define E2D_CTL_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>

#include "e2/cmd.h"

/* e2d reads requests up to this size so that an oversized one still gets its
 * error reply; past it nanomsg drops the message unread (the client times out). */
#define E2_CTL_RECV_MAX (64 << 20)

struct e2_dp;

/* Decodes, validates and executes one request; always returns a response, which
 * the caller frees with e2__dp__response__free_unpacked(resp, NULL). */
E2__Dp__Response *e2_ctl_handle_bytes(struct e2_dp *dp, const uint8_t *buf, size_t len, bool *shutdown);
E2__Dp__Response *e2_ctl_handle(struct e2_dp *dp, const E2__Dp__Request *req, bool *shutdown);

#endif
