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

#define FW_EPOCHS 4
#define FW_LABEL_MASK 0xfffffu

struct fw_epoch {
	uint32_t id;     /* 0: free */
	uint64_t loaded; /* order of loading: plain traffic follows the newest */
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
	struct fw_epoch ep[FW_EPOCHS];
	uint64_t loads;
	struct mb_flows *flows;
	uint64_t allowed_new, allowed_tracked, denied_rule, denied_default, denied_tracked, table_full, unknown_epoch;
};

static void epoch_free(struct fw_epoch *e)
{
	embark_classifier_free(e->cls);
	free(e->hits);
	embark_ruleset_free(&e->rs);
	memset(e, 0, sizeof(*e));
}

/* Loads `path` as epoch `id` (replacing it, or taking a free slot); nothing changes on
 * failure. */
static int epoch_load(struct fw *fw, uint32_t id, const char *path, struct e2_err *err)
{
	char msg[512];
	struct fw_epoch e = {.id = id};
	if (embark_rules_load(path, &e.rs, msg, sizeof(msg)) != 0) {
		e2_seterr(err, "%s", msg);
		return -1;
	}
	e.cls = embark_classifier_new(&e.rs);
	e.hits = calloc(e.rs.n + 1, sizeof(*e.hits));
	if (!e.cls || !e.hits) {
		epoch_free(&e);
		e2_seterr(err, "no memory for the classifier");
		return -1;
	}
	struct fw_epoch *slot = NULL;
	for (int i = 0; i < FW_EPOCHS && !slot; i++)
		if (fw->ep[i].id == id)
			slot = &fw->ep[i];
	for (int i = 0; i < FW_EPOCHS && !slot; i++)
		if (!fw->ep[i].id)
			slot = &fw->ep[i];
	if (!slot) {
		epoch_free(&e);
		e2_seterr(err, "%d epochs loaded already: retire one first", FW_EPOCHS);
		return -1;
	}
	epoch_free(slot);
	e.loaded = ++fw->loads;
	*slot = e;
	return 0;
}

static struct fw_epoch *epoch_of(struct fw *fw, const struct mb_pkt *p)
{
	struct fw_epoch *best = NULL;
	uint32_t label = p->v6 ? (uint32_t)(p->l3[1] & 15) << 16 | (uint32_t)p->l3[2] << 8 | p->l3[3] : 0;
	for (int i = 0; i < FW_EPOCHS; i++) {
		struct fw_epoch *e = &fw->ep[i];
		if (!e->id)
			continue;
		if (p->v6 && (e->id & FW_LABEL_MASK) == label)
			return e;
		if (!p->v6 && (!best || e->loaded > best->loaded))
			best = e;
	}
	return best;
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
	if (epoch_load(fw, fw->first_epoch, fw->rules_path, err) != 0)
		return -1;
	if (check) {
		printf("%s: %zu rule lines, default %s\n", fw->rules_path, fw->ep[0].rs.n,
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
		struct fw_epoch *e = epoch_of(fw, p);
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
	for (int ei = 0; ei < FW_EPOCHS; ei++) {
		const struct fw_epoch *e = &fw->ep[ei];
		char pre[24] = "";
		if (!e->id)
			continue;
		if (e->id != fw->first_epoch)
			snprintf(pre, sizeof(pre), "epoch%u_", e->id);
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

static int fw_control(void *st, const char *line, char *reply, size_t len)
{
	struct fw *fw = st;
	char buf[4200], *save = NULL;
	snprintf(buf, sizeof buf, "%s", line);
	const char *cmd = strtok_r(buf, " \t", &save), *a1 = strtok_r(NULL, " \t", &save),
		   *a2 = strtok_r(NULL, " \t", &save), *more = strtok_r(NULL, " \t", &save);
	uint32_t id = 0;
	struct e2_err err;
	if (cmd && !strcmp(cmd, "rules") && a1 && a2 && !more) {
		if (e2_num_u32("EPOCH", a1, 1, UINT32_MAX, &id, &err) != 0 || epoch_load(fw, id, a2, &err) != 0) {
			snprintf(reply, len, "refused, nothing changed: %s", err.msg);
			return -1;
		}
		snprintf(reply, len, "epoch %u: rules from %s", id, a2);
		return 0;
	}
	if (cmd && !strcmp(cmd, "retire") && a1 && !a2) {
		if (e2_num_u32("EPOCH", a1, 1, UINT32_MAX, &id, &err) != 0) {
			snprintf(reply, len, "%s", err.msg);
			return -1;
		}
		for (int i = 0; i < FW_EPOCHS; i++)
			if (fw->ep[i].id == id) {
				epoch_free(&fw->ep[i]);
				snprintf(reply, len, "epoch %u retired", id);
				return 0;
			}
		snprintf(reply, len, "no epoch %u", id);
		return -1;
	}
	if (cmd && !strcmp(cmd, "epochs") && !a1) {
		int o = 0;
		reply[0] = 0;
		for (int i = 0; i < FW_EPOCHS && o >= 0 && (size_t)o < len; i++)
			if (fw->ep[i].id)
				o += snprintf(reply + o, len - (size_t)o, "%sepoch %u: %zu rule lines", o ? "; " : "",
					      fw->ep[i].id, fw->ep[i].rs.n);
		return 0;
	}
	snprintf(reply, len, "unknown command (rules EPOCH FILE, retire EPOCH, epochs)");
	return -1;
}

static void fw_fini(void *st)
{
	struct fw *fw = st;
	mb_flows_free(fw->flows);
	for (int i = 0; i < FW_EPOCHS; i++)
		epoch_free(&fw->ep[i]);
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
		.control = fw_control,
		.fini = fw_fini,
		.ports = 2,
		.st = &fw,
	};
	return mb_nf_main(&m, argc, argv);
}
