/* SPDX-License-Identifier: BSD-3-Clause */
/* e2nf-firewall's rules: legacy-nf's text format (IPv4 only), parsed into a first-match
 * list and compiled into a DPDK rte_acl context whose priorities keep that order. */
#ifndef E2NF_ACL_RULES_H
#define E2NF_ACL_RULES_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "e2/err.h"

#define FW_RULES_MAX 65536

enum { FW_DROP = 0, FW_ALLOW = 1 };

struct fw_rule {
	int action;
	int proto;         /* -1: any */
	uint32_t src, dst; /* host order */
	uint8_t src_len, dst_len;
	uint16_t sport_lo, sport_hi, dport_lo, dport_hi;
	unsigned line;
};

struct fw_ruleset {
	struct fw_rule *rules;
	unsigned n;
	int default_action, non_ip_action;
};

/* What rte_acl reads of a packet, addresses and ports in network byte order. */
struct fw_acl_key {
	uint8_t proto;
	uint8_t pad[3];
	uint32_t src, dst;
	uint16_t sport, dport;
};

struct rte_acl_ctx;

/* Parses rule text of len bytes (need not end in NUL); errors say "origin:LINE: what".
 * Returns 0, or -1 with nothing to free. */
int fw_rules_parse(const char *text, size_t len, const char *origin, struct fw_ruleset *rs, struct e2_err *err);
/* Compiles the rules into an ACL named after `name` (replacing one of that name left
 * in DPDK's memory); classifying a key gives the 1-based index of the first matching
 * rule, or 0. NULL with err on failure. */
struct rte_acl_ctx *fw_acl_build(const struct fw_ruleset *rs, const char *name, struct e2_err *err);

#endif
