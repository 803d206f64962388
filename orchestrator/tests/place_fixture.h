/* SPDX-License-Identifier: BSD-3-Clause */
/* What the placement tests (test_place.c, test_place_small.c, small_problems.h) share:
 * a problem planned up to its IGraph, and the capacities a placement must respect,
 * counted here independently of the planner. */
#ifndef E2_ORCH_TEST_PLACE_FIXTURE_H
#define E2_ORCH_TEST_PLACE_FIXTURE_H

#include "e2/orch.h"

#include <stdlib.h>
#include <string.h>

struct place_fixture {
	struct e2_nf_catalog *cat;
	struct e2_hardware *hw;
	struct e2_policy *pol;
	struct e2_plan *plan; /* up to the IGraph: the tests place it */
	struct e2_igraph *ig; /* the plan's */
	struct e2_rack *rack; /* the plan's */
};

/* Plans the fixture's loaded inputs up to the IGraph (target_utilization 0: the
 * planner's default). 0, or -1 with err. */
static inline int place_fixture_plan(struct place_fixture *f, double target_utilization, struct e2_err *err)
{
	const struct e2_plan_inputs in = {.pol = f->pol, .nfs = f->cat, .hw = f->hw};
	const struct e2_plan_opts po = {.target_utilization = target_utilization, .stop = E2_PLAN_IGRAPH};
	if (!(f->plan = e2_plan_build(&in, &po, err)))
		return -1;
	f->ig = f->plan->ig;
	f->rack = &f->plan->rack;
	return 0;
}

/* Loads the three YAML texts and plans them. 0, or -1 with err (what was loaded stays
 * in f for place_fixture_free). */
static inline int place_fixture_load(struct place_fixture *f, const char *nfs, size_t nfs_len, const char *hw,
				     size_t hw_len, const char *pol, size_t pol_len, double target_utilization,
				     struct e2_err *err)
{
	memset(f, 0, sizeof *f);
	if (!(f->cat = e2_nfs_load(nfs, nfs_len, "nfs.yaml", err)) ||
	    !(f->hw = e2_hardware_load(hw, hw_len, "hw.yaml", err)) ||
	    !(f->pol = e2_policy_load(pol, pol_len, "policy.yaml", err)))
		return -1;
	return place_fixture_plan(f, target_utilization, err);
}

static inline void place_fixture_free(struct place_fixture *f)
{
	e2_plan_free(f->plan);
	e2_policy_free(f->pol);
	e2_hardware_free(f->hw);
	e2_nfs_free(f->cat);
	memset(f, 0, sizeof *f);
}

static inline void unplace(struct e2_igraph *ig)
{
	for (unsigned i = 0; i < ig->insts_count; i++)
		ig->insts[i].server = -1;
}

static inline int is_nf_instance(const struct e2_igraph *ig, unsigned i)
{
	return ig->pg->nodes[ig->insts[i].pnode].nf != NULL;
}

static inline unsigned nf_instance_count(const struct e2_igraph *ig)
{
	unsigned n = 0;
	for (unsigned i = 0; i < ig->insts_count; i++)
		n += is_nf_instance(ig, i);
	return n;
}

/* Instance i belongs to an NF that cannot scale across servers: all its instances share one. */
static inline int must_group(const struct e2_igraph *ig, unsigned i)
{
	const struct e2_nf *nf = ig->pg->nodes[ig->insts[i].pnode].nf;
	return nf && !e2_nf_across_servers(nf);
}

/* Does the placement in ig keep every NF instance on a server, the groups together,
 * the cores, and every server link (in and out) within link_target x nic_gbps, up to
 * cap x (1 + rel) + abs? */
static inline int placement_fits(const struct e2_igraph *ig, const struct e2_rack *rack, double rel, double abs)
{
	unsigned S = rack->servers;
	long *cores = calloc(S + 1, sizeof *cores);
	double *in = calloc(S + 1, sizeof *in), *out = calloc(S + 1, sizeof *out);
	int ok = 1;
	for (unsigned i = 0; i < ig->insts_count && ok; i++) {
		int s = ig->insts[i].server;
		if (!is_nf_instance(ig, i))
			continue;
		if (s < 0 || (unsigned)s >= S) {
			ok = 0;
			break;
		}
		cores[s] += ig->insts[i].cores;
		for (unsigned j = 0; j < i && ok; j++)
			if (must_group(ig, i) && ig->insts[j].pnode == ig->insts[i].pnode && ig->insts[j].server != s)
				ok = 0;
	}
	for (unsigned e = 0; e < ig->edges_count && ok; e++) {
		int a = ig->insts[ig->edges[e].from].server, b = ig->insts[ig->edges[e].to].server;
		if (a == b && a >= 0)
			continue;
		if (a >= 0)
			out[a] += ig->edges[e].rate_gbps;
		if (b >= 0)
			in[b] += ig->edges[e].rate_gbps;
	}
	for (unsigned s = 0; s < S && ok; s++) {
		double cap = rack->nic_gbps[s] * rack->link_target * (1 + rel) + abs;
		if (cores[s] > (long)rack->cores[s] || in[s] > cap || out[s] > cap)
			ok = 0;
	}
	free(cores);
	free(in);
	free(out);
	return ok;
}

#endif
