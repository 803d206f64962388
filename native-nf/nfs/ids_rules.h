/* SPDX-License-Identifier: BSD-3-Clause */
/* e2nf-ids's rules: a subset of Snort's rule language, content rules over TCP streams.
 *   alert|drop tcp SRC SPORT ->|<> DST DPORT (msg:"..."; content:"..."; nocase;
 *                                            offset:N; depth:N; flow:to_server|to_client; sid:N;)
 * SRC/DST: any, A.B.C.D or A.B.C.D/LEN; SPORT/DPORT: any, N, N:M, :M or N:. The content
 * takes |41 42| hex bytes and \" \; \\ escapes. One content per rule, sid required and
 * unique; offset and depth count from the start of the stream in that direction. */
#ifndef E2NF_IDS_RULES_H
#define E2NF_IDS_RULES_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "e2/err.h"

#define IDS_RULES_MAX 4096
#define IDS_CONTENT_MAX 1024
#define IDS_MSG_MAX 128

enum { IDS_ALERT = 0, IDS_DROP = 1 };
enum { IDS_FLOW_ANY = -1, IDS_TO_SERVER = 0, IDS_TO_CLIENT = 1 };

struct ids_rule {
	int action;
	uint32_t src, src_mask, dst, dst_mask; /* host order */
	uint16_t sport_lo, sport_hi, dport_lo, dport_hi;
	bool bidirectional;
	int flow_dir;
	bool nocase;
	uint32_t offset, depth; /* depth 0: to the end of the stream */
	uint32_t sid;
	unsigned line;
	uint32_t content_len;
	uint8_t content[IDS_CONTENT_MAX];
	char msg[IDS_MSG_MAX];
};

struct ids_ruleset {
	struct ids_rule *rules;
	unsigned n;
};

/* Parses the whole text; on error returns -1 with "ORIGIN:LINE: problem" and rs empty. */
int ids_rules_parse(const char *text, size_t len, const char *origin, struct ids_ruleset *rs, struct e2_err *err);
void ids_rules_free(struct ids_ruleset *rs);

/* Does the rule's header take a packet from (saddr, sport) to (daddr, dport)? host order */
bool ids_rule_header_matches(const struct ids_rule *r, uint32_t saddr, uint16_t sport, uint32_t daddr, uint16_t dport);

#endif
