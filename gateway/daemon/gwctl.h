/* SPDX-License-Identifier: BSD-3-Clause */
/* embark-gw's control requests (daemon/embark_gw.proto): status, rule update, key update,
 * activate. A refused request changes nothing. */
#ifndef EMBARK_GWCTL_H
#define EMBARK_GWCTL_H

#include <stddef.h>
#include <stdint.h>

#include "gwcore.h"

struct gwctl;
/* keys, rules and pools are what the current epoch of core was built from (copied; keys
 * stay the caller's). wait_ms: how long an activation waits for the worker to switch
 * (0: not at all, the caller runs gwc_poll itself). */
struct gwctl *gwctl_new(struct gwc *core, const embark_keys *keys, const embark_ruleset *rules,
			const embark_poolset *pools, const embark_config *cfg, uint32_t first_epoch, int wait_ms);
void gwctl_free(struct gwctl *ctl);

/* Decodes one request, acts, and encodes the response (malloc'd, *out). Never fails to
 * produce a response; a request that does not decode gets code EPROTO. */
void gwctl_handle(struct gwctl *ctl, const uint8_t *req, size_t len, uint8_t **out, size_t *out_len);

#endif
