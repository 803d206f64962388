/* SPDX-License-Identifier: BSD-3-Clause */
/* The planning chain in one place: descriptions -> PGraph -> IGraph -> placement ->
 * split -> interconnection, each stage's output owned by one struct e2_plan. */
#include "e2/orch.h"

#include <stdlib.h>
#include <string.h>

static char *read_input(const char *path, const char *what, size_t *len, struct e2_err *err)
{
	if (!path) {
		e2_seterr(err, "no %s description given", what);
		return NULL;
	}
	return e2_read_file(path, 0, len, err);
}

static int load_inputs(struct e2_plan *p, const struct e2_plan_inputs *in, struct e2_err *err)
{
	size_t len;
	char *buf;
	/* hardware first, then NFs, then policy: the order e2ctl plan reports errors in */
	if (!in->hw) {
		if (!(buf = read_input(in->hardware_path, "hardware", &len, err)))
			return -1;
		p->own_hw = e2_hardware_load(buf, len, in->hardware_path, err);
		free(buf);
		if (!p->own_hw)
			return -1;
	}
	p->hw = in->hw ? in->hw : p->own_hw;
	if (!in->nfs) {
		if (!(buf = read_input(in->nfs_path, "NF", &len, err)))
			return -1;
		p->own_nfs = e2_nfs_load(buf, len, in->nfs_path, err);
		free(buf);
		if (!p->own_nfs)
			return -1;
	}
	p->nfs = in->nfs ? in->nfs : p->own_nfs;
	if (!in->pol) {
		if (!(buf = read_input(in->policy_path, "policy", &len, err)))
			return -1;
		p->own_pol = e2_policy_load(buf, len, in->policy_path, err);
		free(buf);
		if (!p->own_pol)
			return -1;
	}
	p->pol = in->pol ? in->pol : p->own_pol;
	return 0;
}

static void warn(const struct e2_plan_opts *o, const struct e2_plan_warning *w)
{
	if (o->warn)
		o->warn(o->warn_arg, w);
}

/* The algorithm's placement, then (exact_s > 0) the MIP's. */
static int place(struct e2_plan *p, const struct e2_plan_opts *o, struct e2_err *err)
{
	struct e2_igraph *ig = p->ig;
	int placed = e2_place(ig, &p->rack, o->algo, o->seed, err) == 0;
	if (!placed) {
		if (o->exact_s <= 0)
			return -1;
		/* the MIP decides, from no start */
		for (unsigned i = 0; i < ig->insts_count; i++)
			ig->insts[i].server = -1;
	}
	if (o->exact_s > 0) {
		int *heur = e2_xcalloc(ig->insts_count + 1, sizeof *heur);
		for (unsigned i = 0; i < ig->insts_count; i++)
			heur[i] = ig->insts[i].server;
		int mip = e2_place_mip(ig, &p->rack, o->exact_s, NULL, NULL, err);
		if (mip < 0 && placed) {
			/* no placement within every link target (or none found in time): the
			 * algorithm's, which fits the cores, with a warning */
			struct e2_plan_warning w = {.what = E2_PLAN_EXACT_KEPT, .why = err->msg};
			warn(o, &w);
			for (unsigned i = 0; i < ig->insts_count; i++)
				ig->insts[i].server = heur[i];
		}
		free(heur);
		if (mip < 0 && !placed)
			return -1;
	}
	struct e2_load *loads = e2_xcalloc(p->rack.servers, sizeof *loads);
	int over = e2_rack_loads(ig, &p->rack, loads);
	free(loads);
	if (over) {
		struct e2_plan_warning w = {.what = E2_PLAN_OVER_CAPACITY, .capacities = over};
		warn(o, &w);
	}
	return 0;
}

/* Splits the instance named o->split and places the new one incrementally. */
static int split(struct e2_plan *p, const struct e2_plan_opts *o, struct e2_err *err)
{
	int old = e2_igraph_find(p->ig, o->split);
	if (old < 0) {
		/* named as e2ctl plan's option, which is where the name comes from */
		e2_seterr(err, "--split: no instance '%s' in the IGraph", o->split);
		return -1;
	}
	int added = e2_igraph_split(p->ig, (unsigned)old, err);
	if (added < 0 || e2_place_incremental(p->ig, &p->rack, (unsigned)added, err) < 0)
		return -1;
	if (e2_split_begin(p->ig, p->hw, (unsigned)old, (unsigned)added, NULL, 0, o->threshold, &p->split, err) < 0)
		return -1;
	p->has_split = 1;
	p->threshold = o->threshold;
	return 0;
}

struct e2_plan *e2_plan_build(const struct e2_plan_inputs *in, const struct e2_plan_opts *opts, struct e2_err *err)
{
	static const struct e2_plan_opts defaults;
	const struct e2_plan_opts *o = opts ? opts : &defaults;
	struct e2_err scratch;
	if (!err) /* the MIP's message feeds a warning: keep it somewhere */
		err = &scratch;
	struct e2_plan *p = e2_xcalloc(1, sizeof *p);
	if (load_inputs(p, in, err) < 0)
		goto fail;
	if (!(p->pg = e2_pgraph_build(p->pol, p->nfs, p->hw, o, err)))
		goto fail;
	if (!(p->ig = e2_igraph_build(p->pg, err)))
		goto fail;
	if (e2_rack_from_hardware(&p->rack, p->hw, err) < 0)
		goto fail;
	if (o->stop == E2_PLAN_IGRAPH)
		return p;
	if (place(p, o, err) < 0)
		goto fail;
	if (o->split && split(p, o, err) < 0)
		goto fail;
	if (o->stop == E2_PLAN_PLACED)
		return p;
	if (e2_interconnect_plan(p->ig, p->hw, &p->ic, err) < 0)
		goto fail;
	p->has_ic = 1;
	if (o->resteer_count && e2_resteer(p, o->resteer, o->resteer_count, err) < 0)
		goto fail;
	return p;
fail:
	e2_plan_free(p);
	return NULL;
}

void e2_plan_free(struct e2_plan *p)
{
	if (!p)
		return;
	if (p->has_split)
		e2_split_free(&p->split);
	if (p->has_ic)
		e2_interconnect_free(&p->ic);
	e2_rack_free(&p->rack);
	e2_igraph_free(p->ig);
	e2_pgraph_free(p->pg);
	e2_policy_free(p->own_pol);
	e2_nfs_free(p->own_nfs);
	e2_hardware_free(p->own_hw);
	free(p);
}
