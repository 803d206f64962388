/* SPDX-License-Identifier: BSD-3-Clause */
/* The stateful firewall's packet logic, independent of how frames arrive:
 * Ethernet frame -> 5-tuple -> conntrack -> rules. */
#ifndef E2_LEGACY_FIREWALL_H
#define E2_LEGACY_FIREWALL_H

#include <stddef.h>
#include <stdint.h>
#include "conntrack.h"
#include "fw_rules.h"

enum frame_kind { FRAME_IP, FRAME_NON_IP, FRAME_MALFORMED };

/* Extracts the 5-tuple and TCP flags of an Ethernet frame (one optional VLAN tag;
 * IPv4 and IPv6 with extension headers). Non-first fragments are FRAME_MALFORMED
 * because they carry no ports. */
enum frame_kind frame_parse(const uint8_t *frame, size_t len, struct fw_tuple *t, uint8_t *tcp_flags);

struct firewall_stats {
	uint64_t passed_established, allowed_new, dropped_rule, dropped_invalid, dropped_malformed, dropped_table_full,
		passed_non_ip, dropped_non_ip;
};

struct firewall {
	struct fw_ruleset rules; /* owned */
	struct conntrack ct;
	struct firewall_stats stats;
};

/* Takes ownership of `rules`. */
int firewall_init(struct firewall *fw, struct fw_ruleset *rules, uint32_t ct_capacity,
		  const struct ct_timeouts *timeouts);
void firewall_free(struct firewall *fw);

/* FW_ALLOW if the frame may be forwarded. */
enum fw_action firewall_check(struct firewall *fw, const uint8_t *frame, size_t len, uint64_t now_ms);

#endif
