/* SPDX-License-Identifier: BSD-3-Clause */
/* embark-fw: a stateful firewall over Embark's encrypted rules, which works unchanged on
 * plaintext. A flow's first packet is classified with ≤/≥ comparisons only (libembark's
 * first-match classifier: PrefixMatch keeps ranges ranges), the decision is kept for the
 * flow, both directions, until it is idle for --idle-timeout. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "e2/num.h"
#include "mb_nf.h"

struct fw {
	const char *rules_path;
	int default_action;
	uint32_t flows_max;
	double idle_s;
	embark_ruleset rs;
	embark_classifier *cls;
	struct mb_flows *flows;
	uint64_t *hits;
	uint64_t allowed_new, allowed_tracked, denied_rule, denied_default, denied_tracked, table_full;
};

struct fw_flow {
	int action;
};

static int fw_opt(void *st, int c, const char *arg, struct e2_err *err)
{
	struct fw *fw = st;
	switch (c) {
	case 'r': fw->rules_path = arg; return 0;
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
	char msg[512];
	if (!fw->rules_path) {
		e2_seterr(err, "needs --rules FILE");
		return -1;
	}
	if (embark_rules_load(fw->rules_path, &fw->rs, msg, sizeof(msg)) != 0) {
		e2_seterr(err, "%s", msg);
		return -1;
	}
	if (check) {
		printf("%s: %zu rule lines, default %s\n", fw->rules_path, fw->rs.n,
		       fw->default_action == EMBARK_ACCEPT ? "accept" : "deny");
		return 0;
	}
	fw->cls = embark_classifier_new(&fw->rs);
	fw->flows = mb_flows_new(fw->flows_max, sizeof(struct fw_flow), (uint64_t)(fw->idle_s * 1e9));
	fw->hits = calloc(fw->rs.n + 1, sizeof(*fw->hits));
	if (!fw->cls || !fw->flows || !fw->hits) {
		e2_seterr(err, "no memory for the classifier or the flow table");
		return -1;
	}
	return 0;
}

static int fw_pkt(void *st, struct e2nf *nf, unsigned port, struct mb_pkt *p, uint64_t now)
{
	struct fw *fw = st;
	struct mb_flow_key k;
	bool fresh;
	(void)nf;
	mb_flow_key(&p->key, &k, NULL);
	struct fw_flow *f = mb_flows_add(fw->flows, &k, now, &fresh);
	int action;
	if (f && !fresh) {
		action = f->action;
		if (action == EMBARK_ACCEPT)
			fw->allowed_tracked++;
		else
			fw->denied_tracked++;
	} else {
		const embark_rule *r = embark_classify(fw->cls, &p->key);
		action = r ? r->action : fw->default_action;
		if (r)
			fw->hits[r - fw->rs.v]++;
		if (action == EMBARK_ACCEPT)
			fw->allowed_new++;
		else if (r)
			fw->denied_rule++;
		else
			fw->denied_default++;
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
			 "denied_tracked=%llu\nflow_table_full=%llu\n",
			 (unsigned long long)fw->allowed_new, (unsigned long long)fw->allowed_tracked,
			 (unsigned long long)fw->denied_rule, (unsigned long long)fw->denied_default,
			 (unsigned long long)fw->denied_tracked, (unsigned long long)fw->table_full);
	/* one line per rule id: an encrypted rule is several lines sharing its id */
	for (size_t i = 0; i < fw->rs.n && o > 0 && (size_t)o < len; i++) {
		if (i && !strcmp(fw->rs.v[i].id, fw->rs.v[i - 1].id))
			continue;
		uint64_t h = 0;
		for (size_t j = i; j < fw->rs.n && !strcmp(fw->rs.v[j].id, fw->rs.v[i].id); j++)
			h += fw->hits[j];
		o += snprintf(buf + o, len - (size_t)o, "rule_%s_hits=%llu\n", fw->rs.v[i].id, (unsigned long long)h);
	}
	return 0;
}

static void fw_fini(void *st)
{
	struct fw *fw = st;
	embark_classifier_free(fw->cls);
	mb_flows_free(fw->flows);
	free(fw->hits);
	embark_ruleset_free(&fw->rs);
}

static const struct option fw_opts[] = {{"rules", required_argument, NULL, 'r'},
					{"default", required_argument, NULL, 'd'},
					{"flows", required_argument, NULL, 'f'},
					{"idle-timeout", required_argument, NULL, 'i'},
					{NULL, 0, NULL, 0}};

int main(int argc, char **argv)
{
	static struct fw fw = {.default_action = EMBARK_DENY, .flows_max = 65536, .idle_s = 120};
	struct mb_nf m = {
		.name = "embark-fw",
		.usage = "NAME\n"
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
			 "    --check       load the rules, print how many, exit\n"
			 "COUNTERS\n"
			 "    allowed_new allowed_tracked denied_rule denied_default denied_tracked\n"
			 "    flow_table_full rule_ID_hits, ip_frames non_ip malformed, and libe2nf's\n",
		.opts = fw_opts,
		.opt = fw_opt,
		.setup = fw_setup,
		.pkt = fw_pkt,
		.counters = fw_counters,
		.fini = fw_fini,
		.ports = 2,
		.st = &fw,
	};
	return mb_nf_main(&m, argc, argv);
}
