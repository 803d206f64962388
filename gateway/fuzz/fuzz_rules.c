/* SPDX-License-Identifier: BSD-3-Clause */
/* libFuzzer: the rule, pool, keyword and encrypted-keyword parsers must reject or accept
 * any bytes cleanly.  What the two formats with a writer accept must round-trip:
 * parse -> write -> parse gives the same rules (every field but the line number) and
 * writing that again gives the same bytes.  Comparing only the two texts would miss a
 * writer that drops a field: the second parse would fill in the same default. */
#include "e2/fuzz.h"
#include <stdlib.h>
#include <string.h>

#include "embark.h"

typedef int (*writer)(FILE *f, const void *set);

/* The text `w` writes for `set`, in a malloc'd buffer. */
static char *write_text(writer w, const void *set, size_t *len)
{
	char *buf = NULL;
	FILE *f = open_memstream(&buf, len);
	if (!f || w(f, set) != 0)
		abort();
	fclose(f);
	return buf;
}

static int write_rules(FILE *f, const void *rs)
{
	return embark_rules_write(f, rs, NULL);
}
static int write_kw_rules(FILE *f, const void *kr)
{
	return embark_kw_rules_write(f, kr);
}

static bool range_same(embark_range a, embark_range b)
{
	return a.lo == b.lo && a.hi == b.hi;
}

static bool rule_same(const embark_rule *a, const embark_rule *b)
{
	return !strcmp(a->id, b->id) && a->prio == b->prio && a->action == b->action && a->proto == b->proto &&
	       range_same(a->src, b->src) && range_same(a->dst, b->dst) && range_same(a->sport, b->sport) &&
	       range_same(a->dport, b->dport) && a->src_any == b->src_any && a->dst_any == b->dst_any &&
	       a->sport_any == b->sport_any && a->dport_any == b->dport_any;
}

static void rules_round_trip(const embark_ruleset *rs)
{
	char err[512];
	size_t len, len2;
	char *text = write_text(write_rules, rs, &len);
	embark_ruleset back;
	if (embark_rules_parse(text, len, "fuzz-rt", &back, err, sizeof err) != 0 || back.n != rs->n)
		abort();
	for (size_t i = 0; i < rs->n; i++)
		if (!rule_same(&rs->v[i], &back.v[i]))
			abort();
	char *again = write_text(write_rules, &back, &len2);
	if (len2 != len || memcmp(again, text, len))
		abort();
	free(again);
	free(text);
	embark_ruleset_free(&back);
}

static void kw_rules_round_trip(const embark_kw_rules *kr)
{
	char err[512];
	size_t len, len2;
	char *text = write_text(write_kw_rules, kr, &len);
	embark_kw_rules back;
	if (embark_kw_rules_parse(text, len, "fuzz-rt", &back, err, sizeof err) != 0 || back.n != kr->n ||
	    back.rules != kr->rules || (kr->n && memcmp(back.v, kr->v, kr->n * sizeof *kr->v)))
		abort();
	char *again = write_text(write_kw_rules, &back, &len2);
	if (len2 != len || memcmp(again, text, len))
		abort();
	free(again);
	free(text);
	embark_kw_rules_free(&back);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	char err[512];
	embark_ruleset rs;
	if (embark_rules_parse((const char *)data, size, "fuzz", &rs, err, sizeof err) == 0) {
		rules_round_trip(&rs);
		embark_ruleset_free(&rs);
	}
	embark_poolset ps;
	if (embark_pools_parse((const char *)data, size, "fuzz", &ps, err, sizeof err) == 0)
		embark_poolset_free(&ps);
	char **kw;
	size_t *kl, n;
	if (embark_keywords_parse((const char *)data, size, "fuzz", &kw, &kl, &n, err, sizeof err) == 0)
		embark_keywords_free(kw, kl, n);
	embark_kw_rules kr;
	if (embark_kw_rules_parse((const char *)data, size, "fuzz", &kr, err, sizeof err) == 0) {
		kw_rules_round_trip(&kr);
		embark_kw_rules_free(&kr);
	}
	return 0;
}
