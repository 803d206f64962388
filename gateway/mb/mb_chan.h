/* SPDX-License-Identifier: BSD-3-Clause */
/* The extension channel live: a subscriber to embark-gw's --ext publisher (e2chan SUB,
 * sealed envelopes, a key for tcp://) whose records the middleboxes take as they take
 * the records that come as frames. */
#ifndef EMBARK_MB_CHAN_H
#define EMBARK_MB_CHAN_H

#include <stdint.h>

#include "mb.h"

struct mb_chan;
/* Subscribed to each of the n URLs (one per gateway that publishes); key_path may be NULL
 * (ipc:// only). */
struct mb_chan *mb_chan_open(const char *const *urls, size_t n, const char *key_path, struct e2_err *err);
/* Hands every record already waiting to fn, never waiting for more; records that do not
 * decode are counted in *refused. Returns how many were handed over. */
size_t mb_chan_drain(struct mb_chan *c, void (*fn)(void *ctx, struct mb_ext *x), void *ctx, uint64_t *refused);
void mb_chan_close(struct mb_chan *c);

#endif
