/* SPDX-License-Identifier: BSD-3-Clause */
/* embark-fw: a stateful firewall over Embark's encrypted rules, which works unchanged on
 * plaintext. A flow's first packet is classified with ≤/≥ comparisons only (libembark's
 * first-match classifier: PrefixMatch keeps ranges ranges), the decision is kept for the
 * flow, both directions, until it is idle for --idle-timeout.
 *
 * Epochs (embark-gw's rule updates and key rotations): an Embark packet names its epoch
 * in the IPv6 flow label, and is classified with that epoch's encrypted rules only, so
 * no packet meets a mix of two maps. `rules EPOCH FILE` (control) loads an epoch's rules
 * (the gateway's prepare step hands them out), `retire EPOCH` drops them; a packet of an
 * epoch with no rules loaded is dropped and counted. Plain IPv4 has no label: it goes by
 * the epoch loaded last. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "e2/num.h"
#include "mb_nf.h"

/* One epoch's rules. */
struct fw_rules {
	embark_ruleset rs;
	embark_classifier *cls;
	uint64_t *hits;
};

struct fw {
	const char *rules_path;
	uint32_t first_epoch;
	int default_action;
	uint32_t flows_max;
	double idle_s;
	struct mb_epochs epochs;
	struct mb_flows *flows;
	uint64_t allowed_new, allowed_tracked, denied_rule, denied_default, denied_tracked, table_full, unknown_epoch;
};

static void rules_clear(void *data)
{
	struct fw_rules *r = data;
	embark_classifier_free(r->cls);
	free(r->hits);
	embark_ruleset_free(&r->rs);
}

static int rules_load(void *ctx, void *data, const char *path, struct e2_err *err)
{
	char msg[512];
	struct fw_rules *r = data;
	(void)ctx;
	if (embark_rules_load(path, &r->rs, msg, sizeof(msg)) != 0) {
		e2_seterr(err, "%s", msg);
		return -1;
	}
	r->cls = embark_classifier_new(&r->rs);
	r->hits = calloc(r->rs.n + 1, sizeof(*r->hits));
	if (!r->cls || !r->hits) {
		e2_seterr(err, "no memory for the classifier");
		return -1;
	}
	return 0;
}

static int rules_describe(const void *data, char *buf, size_t len)
{
	const struct fw_rules *r = data;
	return snprintf(buf, len, "%zu rule lines", r->rs.n);
}

struct fw_flow {
	int action;
};

static int fw_opt(void *st, int c, const char *arg, struct e2_err *err)
{
	struct fw *fw = st;
	switch (c) {
	case 'r': fw->rules_path = arg; return 0;
	case 'e': return e2_num_u32("--epoch", arg, 1, UINT32_MAX, &fw->first_epoch, err);
	case 'd':
		if (!strcmp(arg, "accept") || !strcmp(arg, "deny")) {
			fw->default_action = strcmp(arg, "accept") ? EMBARK_DENY : EMBARK_ACCEPT;
			return 0;
		}
		e2_seterr(err, "--default: '%s' is neither accept nor deny", arg);
		return -1;
	case 'f': return e2_num_u32("--flows", arg, 64, 1u << 24, &fw->flows_max, err);
	case 'i': return e2_num_duration("--idle-timeout", arg, 1, 86400, &fw->idle_s, err);
	}
	e2_seterr(err, "unknown option");
	return -1;
}

static int fw_setup(void *st, bool check, struct e2_err *err)
{
	struct fw *fw = st;
	if (!fw->rules_path) {
		e2_seterr(err, "needs --rules FILE");
		return -1;
	}
	fw->epochs = (struct mb_epochs){.verb = "rules",
					.size = sizeof(struct fw_rules),
					.load = rules_load,
					.clear = rules_clear,
					.describe = rules_describe};
	if (mb_epochs_load(&fw->epochs, fw->first_epoch, fw->rules_path, err) != 0)
		return -1;
	if (check) {
		const struct fw_rules *r = mb_epochs_newest(&fw->epochs);
		printf("%s: %zu rule lines, default %s\n", fw->rules_path, r->rs.n,
		       fw->default_action == EMBARK_ACCEPT ? "accept" : "deny");
		return 0;
	}
	fw->flows = mb_flows_new(fw->flows_max, sizeof(struct fw_flow), (uint64_t)(fw->idle_s * 1e9));
	if (!fw->flows) {
		e2_seterr(err, "no memory for the flow table");
		return -1;
	}
	return 0;
}

/* The slot fw_pkt looks up first. */
static void fw_prefetch(void *st, unsigned port, const struct mb_pkt *p)
{
	struct fw *fw = st;
	(void)port;
	mb_flows_prefetch(fw->flows, &p->flow);
}

static int fw_pkt(void *st, struct e2nf *nf, unsigned port, struct mb_pkt *p, uint64_t now)
{
	struct fw *fw = st;
	const struct mb_flow_key *k = &p->flow;
	bool fresh;
	(void)nf;
	struct fw_flow *f = mb_flows_find(fw->flows, k, now);
	int action;
	if (f) {
		action = f->action;
		if (action == EMBARK_ACCEPT)
			fw->allowed_tracked++;
		else
			fw->denied_tracked++;
	} else {
		struct fw_rules *e = mb_epochs_of(&fw->epochs, p);
		if (!e) {
			fw->unknown_epoch++;
			return MB_DROP; /* decided by no rules: not remembered */
		}
		const embark_rule *r = embark_classify(e->cls, &p->key);
		action = r ? r->action : fw->default_action;
		if (r)
			e->hits[r - e->rs.v]++;
		if (action == EMBARK_ACCEPT)
			fw->allowed_new++;
		else if (r)
			fw->denied_rule++;
		else
			fw->denied_default++;
		f = mb_flows_add(fw->flows, k, now, &fresh);
		if (f)
			f->action = action;
		else
			fw->table_full++; /* decided packet by packet from now on */
	}
	return action == EMBARK_ACCEPT ? (int)(port ^ 1) : MB_DROP;
}

static int fw_counters(void *st, char *buf, size_t len)
{
	struct fw *fw = st;
	int o = snprintf(buf, len,
			 "allowed_new=%llu\nallowed_tracked=%llu\ndenied_rule=%llu\ndenied_default=%llu\n"
			 "denied_tracked=%llu\nflow_table_full=%llu\nunknown_epoch=%llu\n",
			 (unsigned long long)fw->allowed_new, (unsigned long long)fw->allowed_tracked,
			 (unsigned long long)fw->denied_rule, (unsigned long long)fw->denied_default,
			 (unsigned long long)fw->denied_tracked, (unsigned long long)fw->table_full,
			 (unsigned long long)fw->unknown_epoch);
	/* one line per rule id (an encrypted rule is several lines sharing its id); the
	 * epoch given by --epoch unprefixed, the others as epochN_rule_ID_hits */
	for (int ei = 0; ei < MB_EPOCHS; ei++) {
		const struct fw_rules *e = fw->epochs.e[ei].data;
		char pre[24] = "";
		if (!e)
			continue;
		if (fw->epochs.e[ei].id != fw->first_epoch)
			snprintf(pre, sizeof(pre), "epoch%u_", fw->epochs.e[ei].id);
		for (size_t i = 0; i < e->rs.n && o > 0 && (size_t)o < len; i++) {
			if (i && !strcmp(e->rs.v[i].id, e->rs.v[i - 1].id))
				continue;
			uint64_t h = 0;
			for (size_t j = i; j < e->rs.n && !strcmp(e->rs.v[j].id, e->rs.v[i].id); j++)
				h += e->hits[j];
			o += snprintf(buf + o, len - (size_t)o, "%srule_%s_hits=%llu\n", pre, e->rs.v[i].id,
				      (unsigned long long)h);
		}
	}
	return 0;
}

static void fw_fini(void *st)
{
	struct fw *fw = st;
	mb_flows_free(fw->flows);
	mb_epochs_fini(&fw->epochs);
}

static const struct option fw_opts[] = {
	{"rules", required_argument, NULL, 'r'},        {"default", required_argument, NULL, 'd'},
	{"epoch", required_argument, NULL, 'e'},        {"flows", required_argument, NULL, 'f'},
	{"idle-timeout", required_argument, NULL, 'i'}, {NULL, 0, NULL, 0}};

int main(int argc, char **argv)
{
	static struct fw fw = {.first_epoch = 1, .default_action = EMBARK_DENY, .flows_max = 65536, .idle_s = 120};
	struct mb_nf m = {
		.name = "embark-fw",
		.usage =
			"NAME\n"
			"    embark-fw - stateful firewall over Embark-encrypted traffic (or plaintext)\n"
			"SYNOPSIS\n"
			"    embark-fw --rules FILE [--default accept|deny] --port P0 --port P1 [options]\n"
			"DESCRIPTION\n"
			"    Frames from port 0 leave by port 1 and back. A flow's first packet is decided by\n"
			"    the first rule that matches it (prio, then file order), else by --default (deny);\n"
			"    the decision holds for the flow, both ways, until it is idle --idle-timeout.\n"
			"    Rules are gateway/README.md's format: the plain file for IPv4 traffic, the file\n"
			"    embark-rules encrypt (or embark-gwctl) writes for Embark IPv6 traffic; matching\n"
			"    uses only <= and >=. Non-IP frames pass; malformed frames are dropped.\n"
			"OPTIONS\n"
			"    --rules FILE  --default accept|deny  --flows N (65536)  --idle-timeout S (120)\n"
			"    --epoch N     the epoch --rules belong to (1): an Embark packet is classified by\n"
			"                  the rules of the epoch in its flow label, none loaded: dropped\n"
			"    --check       load the rules, print how many, exit\n"
			"CONTROL (--ctl, or offline DIR/control)\n"
			"    rules EPOCH FILE   load (or replace) an epoch's rules; refused: nothing changes\n"
			"    retire EPOCH       drop an epoch's rules      epochs   list them\n"
			"COUNTERS\n"
			"    allowed_new allowed_tracked denied_rule denied_default denied_tracked\n"
			"    flow_table_full unknown_epoch rule_ID_hits epochN_rule_ID_hits, ip_frames non_ip malformed, and libe2nf's\n",
		.opts = fw_opts,
		.opt = fw_opt,
		.setup = fw_setup,
		.pkt = fw_pkt,
		.prefetch = fw_prefetch,
		.counters = fw_counters,
		.epochs = &fw.epochs,
		.fini = fw_fini,
		.ports = 2,
		.st = &fw,
	};
	return mb_nf_main(&m, argc, argv);
}
