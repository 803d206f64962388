/* SPDX-License-Identifier: BSD-3-Clause */
/* `e2ctl plan`: descriptions in, IGraph + placement + interconnection out. */
#include "e2/num.h"
#include "e2/orch.h"
#include "e2ctl.h"

#include <getopt.h>
#include <jansson.h>
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
		"  --threshold N        exceptions left before a split moves to the switch, 0..1000000 (default 16)\n");
}

struct inputs {
	struct e2_policy *pol;
	struct e2_nf_catalog *nfs;
	struct e2_hardware *hw;
};

static int load_all(struct inputs *in, const char *pp, const char *np, const char *hp, struct e2_err *err)
{
	size_t len;
	char *buf;
	if (!(buf = e2_read_file(hp, 0, &len, err)))
		return -1;
	in->hw = e2_hardware_load(buf, len, hp, err);
	free(buf);
	if (!in->hw)
		return -1;
	if (!(buf = e2_read_file(np, 0, &len, err)))
		return -1;
	in->nfs = e2_nfs_load(buf, len, np, err);
	free(buf);
	if (!in->nfs)
		return -1;
	if (!(buf = e2_read_file(pp, 0, &len, err)))
		return -1;
	in->pol = e2_policy_load(buf, len, pp, err);
	free(buf);
	if (!in->pol)
		return -1;
	return 0;
}

static json_t *lines_json(const struct e2_lines *l)
{
	json_t *a = json_array();
	for (unsigned i = 0; i < l->n; i++)
		json_array_append_new(a, json_string(l->v[i]));
	return a;
}

int e2ctl_plan(int argc, char **argv)
{
	static const struct option opts[] = {
		{"policy", required_argument, 0, 'p'},   {"nfs", required_argument, 0, 'n'},
		{"hardware", required_argument, 0, 'w'}, {"json", no_argument, 0, 'j'},
		{"dot", required_argument, 0, 'd'},      {"algo", required_argument, 0, 'a'},
		{"exact", required_argument, 0, 'x'},    {"target-util", required_argument, 0, 'u'},
		{"split", required_argument, 0, 's'},    {"threshold", required_argument, 0, 't'},
		{"help", no_argument, 0, 'h'},           {0, 0, 0, 0},
	};
	const char *pp = NULL, *np = NULL, *hp = NULL, *dot = NULL, *split = NULL;
	int json = 0;
	double exact = 0;
	unsigned threshold = 16;
	enum e2_place_algo algo = E2_PLACE_E2;
	struct e2_plan_opts po = {.target_utilization = 0.8};
	int c;
	optind = 1;
	while ((c = getopt_long(argc, argv, "", opts, NULL)) != -1) {
		struct e2_err e;
		int bad = 0;
		switch (c) {
		case 'p': pp = optarg; break;
		case 'n': np = optarg; break;
		case 'w': hp = optarg; break;
		case 'j': json = 1; break;
		case 'd': dot = optarg; break;
		case 's': split = optarg; break;
		case 'a':
			if (!strcmp(optarg, "e2"))
				algo = E2_PLACE_E2;
			else if (!strcmp(optarg, "packing"))
				algo = E2_PLACE_PACKING;
			else if (!strcmp(optarg, "random"))
				algo = E2_PLACE_RANDOM;
			else {
				fprintf(stderr, "e2ctl plan: --algo wants e2, packing or random, not '%s'\n", optarg);
				return 2;
			}
			break;
		case 'x': bad = e2_num_duration("--exact", optarg, 0.001, 86400, &exact, &e); break;
		case 'u': bad = e2_num_double("--target-util", optarg, 0.01, 1, &po.target_utilization, &e); break;
		case 't': bad = e2_num_u32("--threshold", optarg, 0, 1000000, &threshold, &e); break;
		case 'h': plan_usage(stdout); return 0;
		default: plan_usage(stderr); return 2;
		}
		if (bad) {
			fprintf(stderr, "e2ctl plan: %s\n", e.msg);
			return 2;
		}
	}
	if (!pp || !np || !hp || optind != argc) {
		plan_usage(stderr);
		return 2;
	}
	struct e2_err err = {""};
	struct inputs in = {0};
	struct e2_pgraph *pg = NULL;
	struct e2_igraph *ig = NULL;
	struct e2_rack rack = {0};
	struct e2_interconnect ic = {0};
	struct e2_split_plan sp;
	int have_ic = 0, have_split = 0, rc = 1;
	memset(&sp, 0, sizeof sp);

	if (load_all(&in, pp, np, hp, &err) < 0)
		goto fail;
	if (!(pg = e2_pgraph_build(in.pol, in.nfs, in.hw, &po, &err)))
		goto fail;
	if (!(ig = e2_igraph_build(pg, &err)))
		goto fail;
	if (e2_rack_from_hardware(&rack, in.hw, &err) < 0)
		goto fail;
	int placed = e2_place(ig, &rack, algo, 1, &err) == 0;
	if (!placed) {
		if (exact <= 0)
			goto fail;
		/* --exact: the MIP decides, from no start */
		for (unsigned i = 0; i < ig->insts_count; i++)
			ig->insts[i].server = -1;
	}
	if (exact > 0) {
		int *heur = e2_xcalloc(ig->insts_count + 1, sizeof *heur);
		for (unsigned i = 0; i < ig->insts_count; i++)
			heur[i] = ig->insts[i].server;
		int mip = e2_place_mip(ig, &rack, exact, NULL, NULL, &err);
		if (mip < 0 && placed) {
			/* no placement within every link target (or none found in time): the
             * heuristic's, which fits the cores, with the warning below */
			fprintf(stderr, "e2ctl plan: warning: --exact: %s; keeping the %s placement\n", err.msg,
				algo == E2_PLACE_E2 ? "heuristic's" : "algorithm's");
			for (unsigned i = 0; i < ig->insts_count; i++)
				ig->insts[i].server = heur[i];
		}
		free(heur);
		if (mip < 0 && !placed)
			goto fail;
	}
	{
		struct e2_load *loads = e2_xcalloc(rack.servers, sizeof *loads);
		int over = e2_rack_loads(ig, &rack, loads);
		free(loads);
		if (over)
			fprintf(stderr,
				"e2ctl plan: warning: %d capacities (server links or the switch) are exceeded at the "
				"estimated rates; see the Servers section\n",
				over);
	}
	if (split) {
		int old = e2_igraph_find(ig, split);
		if (old < 0) {
			snprintf(err.msg, sizeof err.msg, "--split: no instance '%s' in the IGraph", split);
			goto fail;
		}
		int added = e2_igraph_split(ig, (unsigned)old, &err);
		if (added < 0 || e2_place_incremental(ig, &rack, (unsigned)added, &err) < 0)
			goto fail;
		if (e2_split_begin(ig, in.hw, (unsigned)old, (unsigned)added, NULL, 0, threshold, &sp, &err) < 0)
			goto fail;
		have_split = 1;
	}
	if (e2_interconnect_plan(ig, in.hw, &ic, &err) < 0)
		goto fail;
	have_ic = 1;
	if (dot) {
		const char *const inputs[] = {pp, np, hp};
		struct e2_out o;
		if (e2_out_open(&o, dot, inputs, 3, &err) < 0)
			goto fail;
		if (e2_plan_dot(o.f, ig, in.hw, &err) < 0) {
			e2_out_abort(&o);
			goto fail;
		}
		if (e2_out_commit(&o, &err) < 0)
			goto fail;
	}
	if (json) {
		char *s = e2_plan_json(ig, in.hw, &rack, &ic);
		json_t *root = json_loads(s, 0, NULL);
		free(s);
		if (have_split)
			json_object_set_new(root, "split",
					    json_pack("{s:s, s:s, s:s, s:[i,i,i], s:o, s:o}", "instance",
						      ig->insts[sp.old_inst].name, "new_instance",
						      ig->insts[sp.new_inst].name, "server",
						      in.hw->servers[ig->insts[sp.new_inst].server].name, "range",
						      (int)sp.lo, (int)sp.mid, (int)sp.hi, "phase1_e2d",
						      lines_json(&sp.e2d), "phase2", lines_json(&sp.sw)));
		s = json_dumps(root, JSON_INDENT(2) | JSON_PRESERVE_ORDER);
		puts(s);
		free(s);
		json_decref(root);
	} else {
		e2_plan_print_text(stdout, ig, in.hw, &rack, &ic);
		if (have_split) {
			const struct e2_inst *a = &ig->insts[sp.old_inst], *b = &ig->insts[sp.new_inst];
			printf("\nSplit of %s: new instance %s on %s (incremental placement, nothing else moves)\n",
			       a->name, b->name, in.hw->servers[b->server].name);
			printf("Phase 1, E2D on %s (once %s's own ports and steering stage exist; E2D's flow tracker "
			       "keeps %s's flows as exceptions):\n",
			       in.hw->servers[a->server].name, b->name, a->name);
			for (unsigned i = 0; i < sp.e2d.n; i++)
				printf("  %s\n", sp.e2d.v[i]);
			printf("Phase 2, once at most %u exceptions remain:\n", threshold);
			for (unsigned i = 0; i < sp.sw.n; i++)
				printf("  %s\n", sp.sw.v[i]);
		}
	}
	rc = 0;
fail:
	if (rc)
		fprintf(stderr, "e2ctl plan: %s\n", err.msg);
	if (have_split)
		e2_split_free(&sp);
	if (have_ic)
		e2_interconnect_free(&ic);
	e2_rack_free(&rack);
	e2_igraph_free(ig);
	e2_pgraph_free(pg);
	e2_policy_free(in.pol);
	e2_nfs_free(in.nfs);
	e2_hardware_free(in.hw);
	return rc;
}
