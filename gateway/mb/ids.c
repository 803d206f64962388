/* SPDX-License-Identifier: BSD-3-Clause */
/* embark-ids: exact-keyword rules over KeywordMatch tokens (BlindBox, seed §4.3.1). The
 * gateway tokenizes every outbound TCP stream (8 bytes at every offset), encrypts each
 * token under its salt and sends them on the extension channel ahead of the packet that
 * carried them; the IDS keeps one matcher per flow (reset when the flow's salt0 changes)
 * and feeds it the tokens. A rule whose keyword's pieces all match at the right distances
 * alerts once per flow; with --drop the flow is dropped from then on, both ways.
 * It never sees the payload. What Snort does that this cannot: gateway/README.md.
 *
 * Keyword rules are per key, so per epoch (`rules EPOCH FILE`): a flow's tokens are
 * matched against the rules of the epoch their record names; a flow the gateway moves to
 * another epoch starts a new matcher under that epoch's rules. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "e2/file.h"
#include "e2/num.h"
#include "mb_nf.h"

#define ALERTS_PER_FLOW 8

struct ids_flow {
	embark_km_matcher *m;
	uint64_t salt0;
	uint32_t epoch; /* whose rules m holds */
	bool dropping;
	uint32_t alerted[ALERTS_PER_FLOW];
	unsigned n_alerted;
};

/* One epoch's keyword rules. */
struct ids_rules {
	embark_kw_rules rules;
	embark_km_ruleset *prepared; /* the epoch's flows' matchers share it */
	uint64_t *alerts_rule;
};

struct ids {
	const char *rules_path;
	bool drop;
	uint32_t first_epoch, flows_max;
	double idle_s;
	struct mb_epochs epochs;
	struct mb_flows *flows;
	uint64_t tokens, alerts, dropped_frames, flows_dropped, resets, table_full, passed, unknown_epoch;
};

static void rules_clear(void *data)
{
	struct ids_rules *r = data;
	embark_kw_rules_free(&r->rules);
	embark_km_ruleset_free(r->prepared); /* matchers still running keep it alive */
	r->prepared = NULL;
	free(r->alerts_rule);
}

static int rules_load(void *ctx, void *data, const char *path, struct e2_err *err)
{
	char msg[512];
	size_t len;
	struct ids_rules *r = data;
	(void)ctx;
	char *text = e2_read_file(path, 256u << 20, &len, err);
	if (!text)
		return -1;
	int rc = embark_kw_rules_parse(text, len, path, &r->rules, msg, sizeof(msg));
	free(text);
	if (rc != 0) {
		e2_seterr(err, "%s", msg);
		return -1;
	}
	r->alerts_rule = calloc(r->rules.rules + 1, sizeof(*r->alerts_rule));
	r->prepared = embark_km_ruleset_new(&r->rules);
	if (!r->alerts_rule || !r->prepared) {
		e2_seterr(err, "no memory for the rules");
		return -1;
	}
	return 0;
}

static int rules_describe(const void *data, char *buf, size_t len)
{
	const struct ids_rules *r = data;
	return snprintf(buf, len, "%zu keyword rules, %zu pieces", r->rules.rules, r->rules.n);
}

static int ids_opt(void *st, int c, const char *arg, struct e2_err *err)
{
	struct ids *d = st;
	switch (c) {
	case 'r': d->rules_path = arg; return 0;
	case 'e': return e2_num_u32("--epoch", arg, 1, UINT32_MAX, &d->first_epoch, err);
	case 'D': d->drop = true; return 0;
	case 'f': return e2_num_u32("--flows", arg, 64, 1u << 24, &d->flows_max, err);
	case 'i': return e2_num_duration("--idle-timeout", arg, 1, 86400, &d->idle_s, err);
	}
	e2_seterr(err, "unknown option");
	return -1;
}

static void free_flow(void *ctx, void *val)
{
	(void)ctx;
	struct ids_flow *f = val;
	embark_km_matcher_free(f->m);
	f->m = NULL;
}

static int ids_setup(void *st, bool check, struct e2_err *err)
{
	struct ids *d = st;
	if (!d->rules_path) {
		e2_seterr(err, "needs --rules FILE (embark-rules keywords output)");
		return -1;
	}
	d->epochs = (struct mb_epochs){.verb = "rules",
				       .size = sizeof(struct ids_rules),
				       .load = rules_load,
				       .clear = rules_clear,
				       .describe = rules_describe};
	if (mb_epochs_load(&d->epochs, d->first_epoch, d->rules_path, err) != 0)
		return -1;
	if (check) {
		char what[128];
		rules_describe(mb_epochs_newest(&d->epochs), what, sizeof what);
		printf("%s: %s\n", d->rules_path, what);
		return 0;
	}
	d->flows = mb_flows_new(d->flows_max, sizeof(struct ids_flow), (uint64_t)(d->idle_s * 1e9));
	if (!d->flows) {
		e2_seterr(err, "no memory for the flow table");
		return -1;
	}
	mb_flows_on_evict(d->flows, free_flow, NULL);
	return 0;
}

static void ids_alert(struct ids *d, struct ids_rules *r, struct ids_flow *f, uint32_t epoch, uint32_t rule,
		      uint64_t offset)
{
	for (unsigned a = 0; a < f->n_alerted; a++)
		if (f->alerted[a] == rule)
			return;
	if (f->n_alerted < ALERTS_PER_FLOW)
		f->alerted[f->n_alerted++] = rule;
	d->alerts++;
	if (rule < r->rules.rules)
		r->alerts_rule[rule]++;
	fprintf(stderr, "embark-ids: alert rule=%u epoch=%u stream_offset=%llu\n", rule, epoch,
		(unsigned long long)offset);
	if (d->drop && !f->dropping) {
		f->dropping = true;
		d->flows_dropped++;
	}
}

static void ids_ext(void *st, struct e2nf *nf, struct mb_ext *x, uint64_t now)
{
	struct ids *d = st;
	struct mb_flow_key k;
	bool fresh;
	(void)nf;
	if (!x->ntokens)
		return;
	struct ids_rules *r = x->epoch ? mb_epochs_get(&d->epochs, x->epoch) : mb_epochs_newest(&d->epochs);
	if (!r) {
		d->unknown_epoch++; /* tokens under a key we hold no rules for: nothing can match */
		return;
	}
	mb_flow_key(&x->key, &k, NULL);
	struct ids_flow *f = mb_flows_add(d->flows, &k, now, &fresh);
	if (!f) {
		d->table_full++;
		return;
	}
	if (f->m && f->epoch != x->epoch) {
		embark_km_matcher_free(f->m); /* the flow moved to another epoch, and key */
		f->m = NULL;
	}
	if (!f->m) {
		f->m = embark_km_matcher_new_shared(r->prepared, x->salt0);
		f->salt0 = x->salt0;
		f->epoch = x->epoch;
		if (!f->m)
			return;
	} else if (f->salt0 != x->salt0) {
		embark_km_matcher_reset(f->m, x->salt0);
		f->salt0 = x->salt0;
		d->resets++;
	}
	d->tokens += x->ntokens;
	embark_km_hit hit[64];
	embark_tokens_wire w;
	embark_tokens_wire_init(&w, x->token_wire, x->token_wire_len, x->runs, x->runs_len);
	while (w.next < w.n) {
		size_t nh = embark_km_match_wire(f->m, &w, hit, 64);
		for (size_t j = 0; j < nh; j++)
			ids_alert(d, r, f, x->epoch, hit[j].rule, hit[j].offset);
	}
}

static int ids_pkt(void *st, struct e2nf *nf, unsigned port, struct mb_pkt *p, uint64_t now)
{
	struct ids *d = st;
	(void)nf;
	struct ids_flow *f = mb_flows_find(d->flows, &p->flow, now);
	bool full = false;
	if ((f && f->dropping) || mb_flows_carry(d->flows, p, now, offsetof(struct ids_flow, dropping), &full)) {
		d->table_full += full;
		d->dropped_frames++;
		return MB_DROP;
	}
	d->passed++;
	return (int)(port ^ 1);
}

/* Dropping (--drop) decides packets by their tokens: a marked packet waits for them.
 * Alerting only decides nothing, so nothing waits. */
static bool ids_waits(void *st)
{
	const struct ids *d = st;
	return d->drop;
}

static int ids_counters(void *st, char *buf, size_t len)
{
	struct ids *d = st;
	int o = snprintf(buf, len,
			 "tokens=%llu\nalerts=%llu\nflows_dropped=%llu\ndropped_frames=%llu\npassed=%llu\n"
			 "salt_resets=%llu\nflow_table_full=%llu\nunknown_epoch=%llu\n",
			 (unsigned long long)d->tokens, (unsigned long long)d->alerts,
			 (unsigned long long)d->flows_dropped, (unsigned long long)d->dropped_frames,
			 (unsigned long long)d->passed, (unsigned long long)d->resets,
			 (unsigned long long)d->table_full, (unsigned long long)d->unknown_epoch);
	/* the --epoch rules unprefixed, the others as epochN_alerts_ruleI */
	for (int ei = 0; ei < MB_EPOCHS; ei++) {
		const struct ids_rules *r = d->epochs.e[ei].data;
		char pre[24] = "";
		if (!r)
			continue;
		if (d->epochs.e[ei].id != d->first_epoch)
			snprintf(pre, sizeof(pre), "epoch%u_", d->epochs.e[ei].id);
		for (size_t i = 0; i < r->rules.rules && o > 0 && (size_t)o < len; i++)
			o += snprintf(buf + o, len - (size_t)o, "%salerts_rule%zu=%llu\n", pre, i,
				      (unsigned long long)r->alerts_rule[i]);
	}
	return 0;
}

static void ids_fini(void *st)
{
	struct ids *d = st;
	mb_flows_free(d->flows);
	mb_epochs_fini(&d->epochs);
}

static const struct option ids_opts[] = {
	{"rules", required_argument, NULL, 'r'}, {"drop", no_argument, NULL, 'D'},
	{"flows", required_argument, NULL, 'f'}, {"idle-timeout", required_argument, NULL, 'i'},
	{"epoch", required_argument, NULL, 'e'}, {NULL, 0, NULL, 0}};

int main(int argc, char **argv)
{
	static struct ids d = {.first_epoch = 1, .flows_max = 65536, .idle_s = 300};
	struct mb_nf m = {
		.name = "embark-ids",
		.usage = "NAME\n"
			 "    embark-ids - exact-keyword IDS over KeywordMatch tokens\n"
			 "SYNOPSIS\n"
			 "    embark-ids --rules FILE [--drop] --port P0 --port P1 [options]\n"
			 "DESCRIPTION\n"
			 "    Extension-channel frames (EtherType 0x88b5) carry each flow's encrypted tokens;\n"
			 "    a keyword of FILE (embark-rules keywords output) found in a flow alerts once per\n"
			 "    flow (stderr, alerts_ruleN); with --drop the flow is then dropped both ways.\n"
			 "    Other frames go port 0 <-> 1. No regular expressions, no payload access.\n"
			 "OPTIONS\n"
			 "    --rules FILE  --drop  --flows N (65536)  --idle-timeout S (300)  --check\n"
			 "    --epoch N     the epoch --rules belong to (1): tokens are matched against the\n"
			 "                  rules of the epoch their record names (keywords are per key)\n"
			 "CONTROL (--ctl, or offline DIR/control)\n"
			 "    rules EPOCH FILE   load (or replace) an epoch's keyword rules; refused: nothing changes\n"
			 "    retire EPOCH       drop an epoch's rules      epochs   list them\n"
			 "COUNTERS\n"
			 "    tokens alerts flows_dropped dropped_frames passed salt_resets flow_table_full\n"
			 "    unknown_epoch alerts_ruleN epochE_alerts_ruleN, ext_records ext_refused ip_frames\n"
			 "    non_ip malformed, and libe2nf's\n",
		.opts = ids_opts,
		.opt = ids_opt,
		.setup = ids_setup,
		.pkt = ids_pkt,
		.ext = ids_ext,
		.waits_for_records = ids_waits,
		.counters = ids_counters,
		.epochs = &d.epochs,
		.fini = ids_fini,
		.ports = 2,
		.st = &d,
	};
	return mb_nf_main(&m, argc, argv);
}
