/* SPDX-License-Identifier: BSD-3-Clause */
/* libFuzzer targets for the three input parsers (one per build: FUZZ_POLICY,
 * FUZZ_NFS, FUZZ_HARDWARE). The policy target also runs what follows parsing —
 * reference checks, pcap-filter compilation, merging, sizing and the IGraph —
 * against fixed NF and hardware descriptions.
 *
 * The library has no printer for these formats, so the targets check determinism
 * (the same bytes load, and build, to the same result) and invariants:
 *   nfs:      what e2_nfs_load promises (re-checked here independently);
 *   hardware: servers expanded, unique, with usable cores; the switch can connect them;
 *   policy:   PGraph edges and rates consistent, each NF sized within its profile with
 *             enough capacity; IGraph instances per node tile the flow-ID space, every
 *             instance edge joins instances of its PGraph edge's nodes, and the
 *             instance edges of a PGraph edge carry its rate; all of it still true
 *             after splitting an instance. */
#include "e2/fuzz.h"
#include "e2/orch.h"

#include <math.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#if defined(FUZZ_NFS) || defined(FUZZ_HARDWARE)
static bool str_same(const char *a, const char *b)
{
	return a == b || (a && b && strcmp(a, b) == 0);
}
#endif

#if defined(FUZZ_NFS) || defined(FUZZ_POLICY)
static bool declared_port_attribute(const struct e2_nf *nf, const char *name)
{
	for (unsigned a = 0; a < nf->attributes_count; a++)
		if (strcmp(nf->attributes[a].name, name) == 0 && nf->attributes[a].method == E2_METHOD_PORT)
			return true;
	return false;
}

static void check_nf(const struct e2_nf *nf)
{
	unsigned inputs = 0;
	if (!nf->descriptor_id || nf->num_virtual_cpu < 1 || !(nf->gbps_per_core_ghz > 0) || nf->cps_count < 1 ||
	    (nf->vdu_profile && (nf->vdu_profile->min_number_of_instances < 1 ||
				 nf->vdu_profile->max_number_of_instances < nf->vdu_profile->min_number_of_instances)))
		abort();
	for (unsigned k = 0; k < nf->cps_count; k++) {
		const struct e2_cp *cp = &nf->cps[k];
		inputs += cp->role == E2_CP_INPUT;
		for (unsigned m = 0; m < k; m++)
			if (strcmp(nf->cps[m].name, cp->name) == 0)
				abort();
		if (cp->attribute && !declared_port_attribute(nf, cp->attribute))
			abort();
	}
	if (inputs == 0)
		abort();
}

static void check_nfs(const struct e2_nf_catalog *c)
{
	if (c->nfs_count < 1)
		abort();
	for (unsigned i = 0; i < c->nfs_count; i++) {
		check_nf(&c->nfs[i]);
		for (unsigned j = 0; j < i; j++)
			if (strcmp(c->nfs[j].descriptor_id, c->nfs[i].descriptor_id) == 0)
				abort();
	}
}
#endif

#ifdef FUZZ_NFS
static bool nf_same(const struct e2_nf *a, const struct e2_nf *b)
{
	if (!str_same(a->descriptor_id, b->descriptor_id) || a->nf_type != b->nf_type ||
	    a->num_virtual_cpu != b->num_virtual_cpu || a->affinity != b->affinity || a->mangling != b->mangling ||
	    a->gbps_per_core_ghz != b->gbps_per_core_ghz || a->cps_count != b->cps_count ||
	    a->attributes_count != b->attributes_count || !str_same(a->sw_image_data.name, b->sw_image_data.name) ||
	    (a->vdu_profile == NULL) != (b->vdu_profile == NULL) || e2_nf_across_servers(a) != e2_nf_across_servers(b))
		return false;
	for (unsigned k = 0; k < a->cps_count; k++)
		if (!str_same(a->cps[k].name, b->cps[k].name) || a->cps[k].role != b->cps[k].role ||
		    a->cps[k].order != b->cps[k].order || !str_same(a->cps[k].attribute, b->cps[k].attribute) ||
		    !str_same(a->cps[k].value, b->cps[k].value))
			return false;
	return true;
}
#endif

#ifdef FUZZ_HARDWARE
static void check_hardware(const struct e2_hardware *hw)
{
	const struct e2_switch *sw = &hw->fabric;
	if (hw->servers_count < 1 || !(sw->port_gbps > 0) || !(sw->capacity_gbps > 0) ||
	    sw->ports < hw->servers_count + sw->external_ports_count)
		abort();
	for (unsigned i = 0; i < hw->servers_count; i++) {
		const struct e2_server *s = &hw->servers[i];
		if (!s->name || s->count != 1 || s->reserved_cores < 1 || s->cores <= s->reserved_cores ||
		    !(s->ghz > 0) || !(s->nic_gbps > 0))
			abort();
		for (unsigned j = 0; j < i; j++)
			if (strcmp(hw->servers[j].name, s->name) == 0)
				abort();
	}
}

static bool hardware_same(const struct e2_hardware *a, const struct e2_hardware *b)
{
	if (a->servers_count != b->servers_count || a->fabric.ports != b->fabric.ports ||
	    a->fabric.capacity_gbps != b->fabric.capacity_gbps ||
	    a->fabric.external_ports_count != b->fabric.external_ports_count)
		return false;
	for (unsigned i = 0; i < a->servers_count; i++) {
		const struct e2_server *x = &a->servers[i], *y = &b->servers[i];
		if (!str_same(x->name, y->name) || x->cores != y->cores || x->reserved_cores != y->reserved_cores ||
		    x->ghz != y->ghz || x->nic_gbps != y->nic_gbps)
			return false;
	}
	return true;
}
#endif

#ifdef FUZZ_POLICY
static const char nfs_yaml[] =
	"nfs:\n"
	"  - { descriptor_id: ids, nf_type: native, sw_image_data: {name: i}, num_virtual_cpu: 1, gbps_per_core_ghz: 1,\n"
	"      affinity: [five_tuple], attributes: [{name: safe, method: port}, {name: url, method: metadata}],\n"
	"      connection_points: [{name: in, role: input}, {name: safe, role: output, attribute: safe, value: 'true'},\n"
	"                          {name: unsafe, role: output, attribute: safe, value: 'false'}] }\n"
	"  - { descriptor_id: fw, nf_type: legacy, sw_image_data: {name: f}, num_virtual_cpu: 2, gbps_per_core_ghz: 2,\n"
	"      affinity: [src_ip], vdu_profile: {min_number_of_instances: 1, max_number_of_instances: 8},\n"
	"      connection_points: [{name: in, role: input}, {name: out, role: output}] }\n";
static const char hw_yaml[] =
	"servers:\n  - { name: s, count: 4, cores: 16, ghz: 2.6, nic_gbps: 10 }\n"
	"switch: { ports: 16, external_ports: [ext0, ext1], port_gbps: 10, flow_table_entries: 2048 }\n";

static bool close_enough(double a, double b)
{
	return fabs(a - b) <= 1e-9 * fmax(1, fmax(fabs(a), fabs(b)));
}

#define SIZING_TARGET 0.8 /* e2_pgraph_build's default utilisation target */
#define DEFAULT_MAX_INSTANCES 64

static void check_pnode_sizing(const struct e2_pgraph *pg, const struct e2_pnode *n)
{
	if (!n->nf) {
		if (!n->port || n->instances != 1)
			abort();
		return;
	}
	const struct e2_nf *nf = n->nf;
	unsigned lo = nf->vdu_profile ? nf->vdu_profile->min_number_of_instances : 1;
	unsigned hi = nf->vdu_profile ? nf->vdu_profile->max_number_of_instances : DEFAULT_MAX_INSTANCES;
	double cap = nf->gbps_per_core_ghz * pg->ghz * nf->num_virtual_cpu * SIZING_TARGET;
	if (n->instances < lo || n->instances > hi || n->in_gbps > n->instances * cap * (1 + 1e-6) + 1e-9 * cap)
		abort();
}

static void check_pgraph(const struct e2_pgraph *pg)
{
	if (pg->nodes_count < 1 || !(pg->ghz > 0))
		abort();
	for (unsigned i = 0; i < pg->nodes_count; i++) {
		double in = 0;
		for (unsigned e = 0; e < pg->edges_count; e++)
			if (pg->edges[e].to == i)
				in += pg->edges[e].rate_gbps;
		if (!isfinite(pg->nodes[i].in_gbps) || !close_enough(in, pg->nodes[i].in_gbps))
			abort();
		check_pnode_sizing(pg, &pg->nodes[i]);
	}
	for (unsigned e = 0; e < pg->edges_count; e++) {
		const struct e2_pedge *pe = &pg->edges[e];
		if (pe->from >= pg->nodes_count || pe->to >= pg->nodes_count || !pe->pipeline ||
		    !(pe->rate_gbps >= 0) || !isfinite(pe->rate_gbps))
			abort();
		const struct e2_nf *src = pg->nodes[pe->from].nf, *dst = pg->nodes[pe->to].nf;
		if (src && (pe->from_cps == 0 || (src->cps_count < 32 && pe->from_cps >> src->cps_count)))
			abort();
		if (dst && (pe->to_cp >= dst->cps_count || dst->cps[pe->to_cp].role != E2_CP_INPUT))
			abort();
	}
}

static int cmp_inst_range(const void *x, const void *y)
{
	const struct e2_inst *a = *(const struct e2_inst *const *)x, *b = *(const struct e2_inst *const *)y;
	return (a->range_lo > b->range_lo) - (a->range_lo < b->range_lo);
}

/* The instances of PGraph node p split [0, E2_FLOW_SPACE) into adjacent ranges. */
static void check_tiling(const struct e2_igraph *ig, unsigned p)
{
	const struct e2_inst **mine = malloc((ig->insts_count + 1) * sizeof *mine);
	unsigned n = 0;
	if (!mine)
		abort();
	for (unsigned i = 0; i < ig->insts_count; i++)
		if (ig->insts[i].pnode == p)
			mine[n++] = &ig->insts[i];
	if (n == 0 || (ig->pg->nodes[p].nf == NULL && n != 1))
		abort();
	qsort(mine, n, sizeof *mine, cmp_inst_range);
	uint32_t at = 0;
	for (unsigned k = 0; k < n; k++) {
		if (mine[k]->range_lo != at || mine[k]->range_hi <= at)
			abort();
		at = mine[k]->range_hi;
	}
	if (at != E2_FLOW_SPACE)
		abort();
	free(mine);
}

static void check_igraph(const struct e2_igraph *ig)
{
	const struct e2_pgraph *pg = ig->pg;
	for (unsigned i = 0; i < ig->insts_count; i++) {
		const struct e2_inst *in = &ig->insts[i];
		const struct e2_nf *nf = in->pnode < pg->nodes_count ? pg->nodes[in->pnode].nf : NULL;
		if (in->pnode >= pg->nodes_count || e2_igraph_find(ig, in->name) != (int)i ||
		    in->cores != (nf ? nf->num_virtual_cpu : 0u) || in->server != -1)
			abort();
	}
	for (unsigned p = 0; p < pg->nodes_count; p++)
		check_tiling(ig, p);
	double *carried = calloc(pg->edges_count + 1, sizeof *carried);
	if (!carried)
		abort();
	for (unsigned e = 0; e < ig->edges_count; e++) {
		const struct e2_iedge *ed = &ig->edges[e];
		if (ed->from >= ig->insts_count || ed->to >= ig->insts_count || ed->pedge >= pg->edges_count ||
		    ig->insts[ed->from].pnode != pg->edges[ed->pedge].from ||
		    ig->insts[ed->to].pnode != pg->edges[ed->pedge].to || !(ed->rate_gbps >= 0))
			abort();
		carried[ed->pedge] += ed->rate_gbps;
	}
	for (unsigned e = 0; e < pg->edges_count; e++)
		if (!close_enough(carried[e], pg->edges[e].rate_gbps))
			abort(); /* instance edges carry exactly their PGraph edge's traffic */
	free(carried);
}

static bool igraph_same(const struct e2_igraph *a, const struct e2_igraph *b)
{
	if (a->insts_count != b->insts_count || a->edges_count != b->edges_count)
		return false;
	for (unsigned i = 0; i < a->insts_count; i++) {
		const struct e2_inst *x = &a->insts[i], *y = &b->insts[i];
		if (strcmp(x->name, y->name) || x->pnode != y->pnode || x->range_lo != y->range_lo ||
		    x->range_hi != y->range_hi || x->hash_fields != y->hash_fields ||
		    x->capacity_gbps != y->capacity_gbps)
			return false;
	}
	for (unsigned e = 0; e < a->edges_count; e++) {
		const struct e2_iedge *x = &a->edges[e], *y = &b->edges[e];
		if (x->from != y->from || x->to != y->to || x->pedge != y->pedge || x->rate_gbps != y->rate_gbps ||
		    x->distributed != y->distributed)
			return false;
	}
	return true;
}

/* Splits the first NF instance (what e2ctl plan --split does) and checks again. */
static void check_split(struct e2_igraph *ig)
{
	struct e2_err err = {{0}};
	for (unsigned i = 0; i < ig->insts_count; i++) {
		if (!ig->pg->nodes[ig->insts[i].pnode].nf)
			continue;
		unsigned before = ig->insts_count;
		int k = e2_igraph_split(ig, i, &err);
		if (k < 0 ? err.msg[0] == '\0' : (unsigned)k != before || ig->insts_count != before + 1)
			abort();
		check_igraph(ig);
		return;
	}
}

static void fuzz_policy(const char *data, size_t size)
{
	static struct e2_nf_catalog *nfs;
	static struct e2_hardware *hw;
	struct e2_err err = {{0}};
	if (!nfs) {
		nfs = e2_nfs_load(nfs_yaml, strlen(nfs_yaml), "nfs", &err);
		hw = e2_hardware_load(hw_yaml, strlen(hw_yaml), "hw", &err);
		if (!nfs || !hw)
			abort();
		check_nfs(nfs);
	}
	struct e2_policy *p = e2_policy_load(data, size, "fuzz", &err);
	if (!p)
		return;
	const struct e2_plan_inputs in = {.pol = p, .nfs = nfs, .hw = hw};
	const struct e2_plan_opts po = {.stop = E2_PLAN_IGRAPH};
	struct e2_plan *a = e2_plan_build(&in, &po, &err);
	if (a) {
		check_pgraph(a->pg);
		/* the same input plans the same way */
		struct e2_plan *b = e2_plan_build(&in, &po, &err);
		if (!b || b->pg->nodes_count != a->pg->nodes_count || b->pg->edges_count != a->pg->edges_count ||
		    !igraph_same(a->ig, b->ig))
			abort();
		check_igraph(a->ig);
		check_split(a->ig);
		e2_plan_free(b);
		e2_plan_free(a);
	} else if (err.msg[0] == '\0') {
		abort(); /* a refusal must say why */
	} else {
		/* only the PGraph may refuse: an IGraph follows from any PGraph */
		struct e2_pgraph *pg = e2_pgraph_build(p, nfs, hw, NULL, &err);
		if (pg)
			abort();
	}
	e2_policy_free(p);
}
#endif

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	const char *text = (const char *)data;
	if (size > 1 << 16)
		return 0;
#if defined(FUZZ_POLICY)
	fuzz_policy(text, size);
#elif defined(FUZZ_NFS)
	struct e2_err err;
	struct e2_nf_catalog *c = e2_nfs_load(text, size, "fuzz", &err), *again;
	if (c) {
		check_nfs(c);
		again = e2_nfs_load(text, size, "fuzz", &err);
		if (!again || again->nfs_count != c->nfs_count)
			abort();
		for (unsigned i = 0; i < c->nfs_count; i++)
			if (!nf_same(&c->nfs[i], &again->nfs[i]))
				abort();
		e2_nfs_free(again);
		e2_nfs_free(c);
	}
#elif defined(FUZZ_HARDWARE)
	struct e2_err err;
	struct e2_hardware *hw = e2_hardware_load(text, size, "fuzz", &err), *again;
	if (hw) {
		check_hardware(hw);
		again = e2_hardware_load(text, size, "fuzz", &err);
		if (!again || !hardware_same(hw, again))
			abort();
		e2_hardware_free(again);
		e2_hardware_free(hw);
	}
#endif
	return 0;
}
