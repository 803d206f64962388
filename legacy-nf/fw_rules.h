/* SPDX-License-Identifier: BSD-3-Clause */
/* Firewall rule sets: a text format of 5-tuple rules, parsed into a first-match list.
 * The format is documented in legacy-nf/README.md. */
#ifndef E2_LEGACY_FW_RULES_H
#define E2_LEGACY_FW_RULES_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

enum fw_action { FW_DROP = 0, FW_ALLOW = 1 };

/* proto value meaning "any IP protocol" */
#define FW_PROTO_ANY (-1)

/* An address in either family; v4 addresses live in the first 4 bytes. */
struct fw_addr {
	uint8_t family; /* 0 = any, 4 or 6 */
	uint8_t prefix_len;
	uint8_t bytes[16];
};

struct fw_port_range {
	uint16_t lo, hi; /* 0..65535 means any */
};

struct fw_rule {
	enum fw_action action;
	int proto; /* IPPROTO_* or FW_PROTO_ANY */
	struct fw_addr src, dst;
	struct fw_port_range sport, dport;
	unsigned line; /* where it came from, for logs */
};

struct fw_ruleset {
	struct fw_rule *rules;
	size_t n_rules;
	enum fw_action default_action; /* for new flows no rule matches */
	enum fw_action non_ip_action;  /* ARP and other non-IP frames */
};

/* The 5-tuple of one packet (addresses in network byte order, ports in host order). */
struct fw_tuple {
	uint8_t family; /* 4 or 6 */
	uint8_t proto;
	uint16_t sport, dport;
	uint8_t src[16], dst[16];
};

/* Parses rule text of `len` bytes (need not be NUL-terminated). `origin` names the
 * source in error messages. On error returns -1 and writes "origin:LINE: what" into err. */
int fw_rules_parse(const char *text, size_t len, const char *origin, struct fw_ruleset *out, char *err, size_t err_len);

/* Reads and parses a rule file. */
int fw_rules_load(const char *path, struct fw_ruleset *out, char *err, size_t err_len);

void fw_rules_free(struct fw_ruleset *rs);

/* First matching rule's action, or the default action; *matched gets the rule or NULL. */
enum fw_action fw_rules_decide(const struct fw_ruleset *rs, const struct fw_tuple *t, const struct fw_rule **matched);

#endif
