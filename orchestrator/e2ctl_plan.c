/* SPDX-License-Identifier: BSD-3-Clause */
/* `e2ctl plan`: descriptions in, IGraph + placement + interconnection out. */
#include "e2/mem.h"
#include "e2/num.h"
#include "e2/opts.h"
#include "e2/orch.h"
#include "e2ctl.h"

#include <stdlib.h>
#include <string.h>

static void plan_usage(FILE *out)
{
	fprintf(out,
		"usage: e2ctl plan --policy FILE --nfs FILE --hardware FILE [options]\n"
		"  --json               print the plan as JSON\n"
		"  --dot FILE           write a Graphviz picture (servers as clusters)\n"
		"  --algo e2|packing|random   placement algorithm (default e2)\n"
		"  --exact TIME         place with the exact MIP (CBC) within TIME, 0.001..86400 s (from the algorithm's\n"
		"                       placement; that one, with a warning, if no placement keeps every\n"
		"                       link within its target)\n"
		"  --target-util X      sizing headroom, 0.01..1 (default 0.8)\n"
		"  --split INSTANCE     show the incremental plan for an overload of INSTANCE\n"
		"  --threshold N        exceptions left before a split moves to the switch, 0..1000000 (default 16)\n"
		"  --withdraw INSTANCE  the operator stopped INSTANCE: add the lines that give its flows to\n"
		"                       running instances of its NF\n"
		"  --restore INSTANCE   the operator started INSTANCE again: add the lines that give them back\n"
		"  --drain INSTANCE     scaling in: new flows of INSTANCE to running instances of its NF, its\n"
		"                       own flows stay with it until they end\n"
		"  --launch INSTANCE    scaling out: a new instance split off INSTANCE, placed and wired, no\n"
		"                       flow to it yet (named as the NF's next instance)\n"
		"  --activate INSTANCE  new flows of the launched INSTANCE's half go to it; the flows its\n"
		"                       parent has stay there (migration avoidance)\n"
		"  --scale-out INSTANCE --launch, then --activate of the new instance\n"
		"  --remove INSTANCE    scaling in, done: the drained INSTANCE's VM goes, its cores are free\n"
		"                       (these repeat, and count in the order given)\n");
}

/* The library's warnings, worded as e2ctl has always worded them. */
static void plan_warn(void *arg, const struct e2_plan_warning *w)
{
	const enum e2_place_algo *algo = arg;
	if (w->what == E2_PLAN_EXACT_KEPT)
		fprintf(stderr, "e2ctl plan: warning: --exact: %s; keeping the %s placement\n", w->why,
			*algo == E2_PLACE_E2 ? "heuristic's" : "algorithm's");
	else
		fprintf(stderr,
			"e2ctl plan: warning: %d capacities (server links or the switch) are exceeded at the "
			"estimated rates; see the Servers section\n",
			w->capacities);
}

int e2ctl_plan(int argc, char **argv)
{
	static const struct option opts[] = {
		{"policy", required_argument, 0, 'p'},
		{"nfs", required_argument, 0, 'n'},
		{"hardware", required_argument, 0, 'w'},
		{"json", no_argument, 0, 'j'},
		{"dot", required_argument, 0, 'd'},
		{"algo", required_argument, 0, 'a'},
		{"exact", required_argument, 0, 'x'},
		{"target-util", required_argument, 0, 'u'},
		{"split", required_argument, 0, 's'},
		{"threshold", required_argument, 0, 't'},
		{"withdraw", required_argument, 0, 'W'},
		{"restore", required_argument, 0, 'R'},
		{"drain", required_argument, 0, 'D'},
		{"launch", required_argument, 0, 'L'},
		{"activate", required_argument, 0, 'A'},
		{"scale-out", required_argument, 0, 'O'},
		{"remove", required_argument, 0, 'X'},
		{"help", no_argument, 0, 'h'},
		{0, 0, 0, 0},
	};
	const char *pp = NULL, *np = NULL, *hp = NULL, *dot = NULL;
	int json = 0;
	enum e2_place_algo algo = E2_PLACE_E2;
	struct e2_plan_opts po = {
		.target_utilization = 0.8, .seed = 1, .threshold = 16, .warn = plan_warn, .warn_arg = &algo};
	/* every option could be one or (--scale-out) two: no more events than that */
	struct e2_resteer_event *events = e2_xcalloc(2 * (size_t)argc + 1, sizeof *events);
	po.resteer = events;
	int c;
	struct e2_err oerr;
	optind = 1;
	while ((c = e2_opt_next(argc, argv, "", opts, &oerr)) != -1) {
		struct e2_err e;
		int bad = 0;
		switch (c) {
		case 'p': pp = optarg; break;
		case 'n': np = optarg; break;
		case 'w': hp = optarg; break;
		case 'j': json = 1; break;
		case 'd': dot = optarg; break;
		case 's': po.split = optarg; break;
		case 'W':
			events[po.resteer_count++] =
				(struct e2_resteer_event){.inst = optarg, .op = E2_RESTEER_WITHDRAW};
			break;
		case 'R':
			events[po.resteer_count++] =
				(struct e2_resteer_event){.inst = optarg, .op = E2_RESTEER_RESTORE};
			break;
		case 'D':
			events[po.resteer_count++] = (struct e2_resteer_event){.inst = optarg, .op = E2_RESTEER_DRAIN};
			break;
		case 'L':
			events[po.resteer_count++] = (struct e2_resteer_event){.inst = optarg, .op = E2_RESTEER_LAUNCH};
			break;
		case 'A':
			events[po.resteer_count++] =
				(struct e2_resteer_event){.inst = optarg, .op = E2_RESTEER_ACTIVATE};
			break;
		case 'X':
			events[po.resteer_count++] = (struct e2_resteer_event){.inst = optarg, .op = E2_RESTEER_REMOVE};
			break;
		case 'O':
			events[po.resteer_count++] = (struct e2_resteer_event){.inst = optarg, .op = E2_RESTEER_LAUNCH};
			/* the new instance's name is known once the launch is planned */
			events[po.resteer_count++] = (struct e2_resteer_event){.inst = NULL, .op = E2_RESTEER_ACTIVATE};
			break;
		case 'a':
			if (!strcmp(optarg, "e2"))
				algo = E2_PLACE_E2;
			else if (!strcmp(optarg, "packing"))
				algo = E2_PLACE_PACKING;
			else if (!strcmp(optarg, "random"))
				algo = E2_PLACE_RANDOM;
			else {
				fprintf(stderr, "e2ctl plan: --algo wants e2, packing or random, not '%s'\n", optarg);
				free(events);
				return 2;
			}
			break;
		case 'x': bad = e2_num_duration("--exact", optarg, 0.001, 86400, &po.exact_s, &e); break;
		case 'u': bad = e2_num_double("--target-util", optarg, 0.01, 1, &po.target_utilization, &e); break;
		case 't': bad = e2_num_u32("--threshold", optarg, 0, 1000000, &po.threshold, &e); break;
		case 'h':
			plan_usage(stdout);
			free(events);
			return 0;
		case E2_OPT_BAD: e = oerr, bad = -1; break;
		default:
			fprintf(stderr, "e2ctl plan: option %d is not handled (a bug)\n", c);
			free(events);
			return 2;
		}
		if (bad) {
			fprintf(stderr, "e2ctl plan: %s\n", e.msg);
			free(events);
			return 2;
		}
	}
	if (!pp || !np || !hp || optind != argc) {
		plan_usage(stderr);
		free(events);
		return 2;
	}
	po.algo = algo;
	struct e2_err err = {""};
	const struct e2_plan_inputs in = {.policy_path = pp, .nfs_path = np, .hardware_path = hp};
	struct e2_plan *p = e2_plan_build(&in, &po, &err);
	int rc = 1;
	if (!p)
		goto fail;
	if (dot) {
		const char *const inputs[] = {pp, np, hp};
		struct e2_out o;
		if (e2_out_open(&o, dot, inputs, 3, &err) < 0)
			goto fail;
		if (e2_plan_dot(o.f, p, &err) < 0) {
			e2_out_abort(&o);
			goto fail;
		}
		if (e2_out_commit(&o, &err) < 0)
			goto fail;
	}
	if (json) {
		char *s = e2_plan_json(p);
		puts(s);
		free(s);
	} else {
		e2_plan_print_text(stdout, p);
	}
	rc = 0;
fail:
	if (rc)
		fprintf(stderr, "e2ctl plan: %s\n", err.msg);
	e2_plan_free(p);
	free(events);
	return rc;
}
