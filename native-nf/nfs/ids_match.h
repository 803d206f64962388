/* SPDX-License-Identifier: BSD-3-Clause */
/* e2nf-ids's content matching over streams: per flow direction a scan state that carries
 * across chunks, so a content split over several segments is found. Hyperscan in
 * streaming mode when built with it (E2_HYPERSCAN), else (or with IDS_MATCHER_AC) an
 * Aho-Corasick automaton whose per-flow state is one state number per automaton. */
#ifndef E2NF_IDS_MATCH_H
#define E2NF_IDS_MATCH_H

#include <stdbool.h>
#include <stdint.h>

#include "e2/err.h"
#include "ids_rules.h"

enum ids_matcher_kind { IDS_MATCHER_BEST, IDS_MATCHER_HYPERSCAN, IDS_MATCHER_AC };

struct ids_engine;

struct ids_scan {
	void *hs;       /* Hyperscan's stream */
	uint32_t ac[2]; /* the automata's states: case-sensitive, caseless */
	uint64_t base;  /* stream offset of the first byte scanned */
	bool open;
};

/* rule: index in the rule set; end: stream offset just past the matched content */
typedef void (*ids_match_fn)(void *ctx, unsigned rule, uint64_t end);

/* Direction d's patterns: the rules whose flow option is d or any. */
struct ids_engine *ids_engine_build(const struct ids_ruleset *rs, enum ids_matcher_kind kind, struct e2_err *err);
void ids_engine_free(struct ids_engine *e);
const char *ids_engine_name(const struct ids_engine *e);
bool ids_hyperscan_built(void);
/* Scans the next bytes of direction dir, which begin at stream offset off. */
void ids_scan_bytes(struct ids_engine *e, unsigned dir, struct ids_scan *s, const uint8_t *data, uint32_t len,
		    uint64_t off, ids_match_fn fn, void *ctx);
void ids_scan_close(struct ids_engine *e, struct ids_scan *s);

#endif
