/* SPDX-License-Identifier: BSD-3-Clause */
/* libFuzzer target: e2nf-ids's rule text of any shape parses or is refused with
 * "origin:LINE: what"; a parsed rule set's Aho-Corasick matcher, fed the input's bytes
 * in two scans split anywhere, reports exactly the (rule, end) pairs a plain search of
 * each content finds. */
#include "e2/fuzz.h"

#include <ctype.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "../nfs/ids_match.h"
#include "../nfs/ids_rules.h"

struct hits {
	unsigned *count; /* by rule x end */
	size_t len;
	unsigned total;
};

static void on_hit(void *ctx, unsigned rule, uint64_t end)
{
	struct hits *h = ctx;
	if (end < 1 || end > h->len)
		abort();
	h->count[rule * (h->len + 1) + end]++;
	h->total++;
}

static bool same_at(const struct ids_rule *r, const uint8_t *d)
{
	for (uint32_t k = 0; k < r->content_len; k++) {
		uint8_t a = d[k], b = r->content[k];
		if (r->nocase ? tolower(a) != tolower(b) : a != b)
			return false;
	}
	return true;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	struct ids_ruleset rs;
	struct e2_err err = {{0}};
	if (ids_rules_parse((const char *)data, size, "fuzz", &rs, &err) != 0) {
		if (strncmp(err.msg, "fuzz:", 5) != 0 || rs.n != 0 || rs.rules)
			abort();
		return 0;
	}
	size_t total = 0;
	for (unsigned i = 0; i < rs.n; i++) {
		const struct ids_rule *r = &rs.rules[i];
		if (r->content_len == 0 || r->content_len > IDS_CONTENT_MAX || r->sid == 0 ||
		    (r->depth && r->depth < r->content_len) || r->sport_lo > r->sport_hi || r->dport_lo > r->dport_hi)
			abort();
		for (unsigned j = 0; j < i; j++)
			if (rs.rules[j].sid == r->sid)
				abort();
		total += r->content_len;
	}
	if (rs.n == 0 || total > 4096 || rs.n > 64) {
		ids_rules_free(&rs);
		return 0;
	}
	struct ids_engine *e = ids_engine_build(&rs, IDS_MATCHER_AC, &err);
	if (!e)
		abort();
	struct hits got = {.len = size}, want = {.len = size};
	got.count = calloc(rs.n * (size + 1), sizeof(unsigned));
	want.count = calloc(rs.n * (size + 1), sizeof(unsigned));
	if (!got.count || !want.count)
		abort();
	for (unsigned dir = 0; dir < 2; dir++) {
		struct ids_scan sc = {0};
		size_t cut = size ? data[0] % (size + 1) : 0;
		memset(got.count, 0, rs.n * (size + 1) * sizeof(unsigned));
		memset(want.count, 0, rs.n * (size + 1) * sizeof(unsigned));
		ids_scan_bytes(e, dir, &sc, data, (uint32_t)cut, 0, on_hit, &got);
		ids_scan_bytes(e, dir, &sc, data + cut, (uint32_t)(size - cut), cut, on_hit, &got);
		ids_scan_close(e, &sc);
		for (unsigned i = 0; i < rs.n; i++) {
			const struct ids_rule *r = &rs.rules[i];
			if (r->flow_dir != IDS_FLOW_ANY && r->flow_dir != (int)dir)
				continue;
			for (size_t at = 0; at + r->content_len <= size; at++)
				if (same_at(r, data + at))
					want.count[i * (size + 1) + at + r->content_len]++;
		}
		if (memcmp(got.count, want.count, rs.n * (size + 1) * sizeof(unsigned)) != 0)
			abort();
	}
	free(got.count);
	free(want.count);
	ids_engine_free(e);
	ids_rules_free(&rs);
	return 0;
}
