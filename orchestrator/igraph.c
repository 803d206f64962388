/* SPDX-License-Identifier: BSD-3-Clause */
/* Step 3 of seed §3.4.1: expand the PGraph into an instance graph with distribution
 * stages that respect affinity (Fig. 3.3), and split instances on overload. */
#include "e2/orch.h"

#include <stdarg.h>
#include <stdlib.h>
#include <string.h>

static unsigned add_inst(struct e2_igraph *ig, unsigned pnode)
{
	if (ig->insts_count == ig->insts_cap) {
		ig->insts_cap = ig->insts_cap ? ig->insts_cap * 2 : 16;
		ig->insts = e2_xrealloc(ig->insts, ig->insts_cap * sizeof *ig->insts);
	}
	const struct e2_pnode *pn = &ig->pg->nodes[pnode];
	unsigned k = ig->insts_count++;
	struct e2_inst *in = &ig->insts[k];
	memset(in, 0, sizeof *in);
	in->pnode = pnode;
	in->server = -1;
	in->range_lo = 0;
	in->range_hi = E2_FLOW_SPACE;
	if (pn->nf) {
		snprintf(in->name, sizeof in->name, "%s.%u", pn->name, ig->next_index[pnode]++);
		in->cores = pn->nf->num_virtual_cpu;
		in->capacity_gbps = pn->nf->gbps_per_core_ghz * ig->pg->ghz * pn->nf->num_virtual_cpu;
	} else {
		snprintf(in->name, sizeof in->name, "%s", pn->name);
	}
	return k;
}

static void add_edge(struct e2_igraph *ig, unsigned from, unsigned to, unsigned pedge, double rate, int dist)
{
	if (ig->edges_count == ig->edges_cap) {
		ig->edges_cap = ig->edges_cap ? ig->edges_cap * 2 : 32;
		ig->edges = e2_xrealloc(ig->edges, ig->edges_cap * sizeof *ig->edges);
	}
	ig->edges[ig->edges_count++] = (struct e2_iedge){
		.from = from,
		.to = to,
		.pedge = pedge,
		.rate_gbps = rate,
		.distributed = dist,
	};
}

static void set_range(struct e2_inst *in, unsigned k, unsigned n)
{
	in->range_lo = (uint32_t)((uint64_t)E2_FLOW_SPACE * k / n);
	in->range_hi = (uint32_t)((uint64_t)E2_FLOW_SPACE * (k + 1) / n);
}

int e2_affinity_implies(const struct e2_pgraph *pg, unsigned up, unsigned down)
{
	const struct e2_nf *a = pg->nodes[up].nf, *b = pg->nodes[down].nf;
	if (!a || !b || a->mangling)
		return 0;
	/* Only a node fed by `up` alone sees each of its flows at one upstream instance. */
	for (unsigned e = 0; e < pg->edges_count; e++)
		if (pg->edges[e].to == down && pg->edges[e].from != up)
			return 0;
	if (b->affinity == 0)
		return 1;
	/* Grouping by a subset of B's fields keeps every B-aggregate at one A instance. */
	return a->affinity != 0 && (a->affinity & ~b->affinity) == 0;
}

static uint32_t overlap(const struct e2_inst *x, const struct e2_inst *y)
{
	uint32_t lo = x->range_lo > y->range_lo ? x->range_lo : y->range_lo;
	uint32_t hi = x->range_hi < y->range_hi ? x->range_hi : y->range_hi;
	return hi > lo ? hi - lo : 0;
}

/* The fields whose flow ID a node's ranges are defined over: its own affinity,
 * or its upstream's when Fig. 3.3(d) applies (followed to the root). */
static unsigned hash_fields(const struct e2_pgraph *pg, unsigned v, unsigned depth)
{
	const struct e2_nf *nf = pg->nodes[v].nf;
	if (!nf)
		return 0;
	for (unsigned e = 0; e < pg->edges_count && depth < pg->nodes_count; e++)
		if (pg->edges[e].to == v && e2_affinity_implies(pg, pg->edges[e].from, v))
			return hash_fields(pg, pg->edges[e].from, depth + 1);
	return nf->affinity ? nf->affinity : E2_AFF_FIVE_TUPLE;
}

struct e2_igraph *e2_igraph_build(const struct e2_pgraph *pg, struct e2_err *err)
{
	struct e2_igraph *ig = e2_xcalloc(1, sizeof *ig);
	ig->pg = pg;
	ig->next_index = e2_xcalloc(pg->nodes_count + 1, sizeof *ig->next_index);
	unsigned *base = e2_xcalloc(pg->nodes_count + 1, sizeof *base);
	for (unsigned i = 0; i < pg->nodes_count; i++) {
		base[i] = ig->insts_count;
		unsigned n = pg->nodes[i].instances ? pg->nodes[i].instances : 1;
		for (unsigned j = 0; j < n; j++) {
			unsigned k = add_inst(ig, i); /* may move ig->insts */
			set_range(&ig->insts[k], j, n);
			ig->insts[k].hash_fields = hash_fields(pg, i, 0);
		}
	}
	for (unsigned e = 0; e < pg->edges_count; e++) {
		const struct e2_pedge *pe = &pg->edges[e];
		unsigned a = pe->from, b = pe->to;
		unsigned na = pg->nodes[a].instances, nb = pg->nodes[b].instances;
		double r = pe->rate_gbps;
		if (!pg->nodes[b].nf || nb == 1) {
			for (unsigned i = 0; i < na; i++)
				add_edge(ig, base[a] + i, base[b], e, r / na, 0);
		} else if (!pg->nodes[a].nf) {
			for (unsigned j = 0; j < nb; j++)
				add_edge(ig, base[a], base[b] + j, e, r / nb, 1);
		} else if (e2_affinity_implies(pg, a, b)) {
			/* Fig. 3.3(d): B's ranges live in A's flow-ID space, so each A instance
             * feeds only the B instances whose range overlaps its own. */
			for (unsigned i = 0; i < na; i++) {
				const struct e2_inst *ai = &ig->insts[base[a] + i];
				unsigned fan = 0;
				for (unsigned j = 0; j < nb; j++)
					fan += overlap(ai, &ig->insts[base[b] + j]) > 0;
				for (unsigned j = 0; j < nb; j++) {
					uint32_t ov = overlap(ai, &ig->insts[base[b] + j]);
					if (ov)
						add_edge(ig, base[a] + i, base[b] + j, e, r * ov / E2_FLOW_SPACE,
							 fan > 1);
				}
			}
		} else {
			for (unsigned i = 0; i < na; i++)
				for (unsigned j = 0; j < nb; j++)
					add_edge(ig, base[a] + i, base[b] + j, e, r / na / nb, 1);
		}
	}
	free(base);
	(void)err;
	return ig;
}

void e2_igraph_free(struct e2_igraph *ig)
{
	if (!ig)
		return;
	free(ig->insts);
	free(ig->edges);
	free(ig->next_index);
	free(ig);
}

int e2_igraph_find(const struct e2_igraph *ig, const char *name)
{
	for (unsigned i = 0; i < ig->insts_count; i++)
		if (strcmp(ig->insts[i].name, name) == 0)
			return (int)i;
	return -1;
}

double e2_igraph_inst_load(const struct e2_igraph *ig, unsigned inst)
{
	double in = 0, out = 0;
	for (unsigned e = 0; e < ig->edges_count; e++) {
		if (ig->edges[e].to == inst)
			in += ig->edges[e].rate_gbps;
		if (ig->edges[e].from == inst)
			out += ig->edges[e].rate_gbps;
	}
	return ig->pg->nodes[ig->insts[inst].pnode].nf ? in : out;
}

int e2_igraph_split(struct e2_igraph *ig, unsigned inst, struct e2_err *err)
{
	if (inst >= ig->insts_count) {
		e2_seterr(err, "split: no instance #%u", inst);
		return -1;
	}
	struct e2_inst *old = &ig->insts[inst];
	const struct e2_pnode *pn = &ig->pg->nodes[old->pnode];
	if (!pn->nf) {
		e2_seterr(err, "split: '%s' is an external port, not an NF instance", old->name);
		return -1;
	}
	const struct e2_nf *nf = pn->nf;
	unsigned hi = nf->vdu_profile ? nf->vdu_profile->max_number_of_instances : 64;
	if (nf->scaling && !nf->scaling->scalable)
		hi = 1;
	unsigned have = 0;
	for (unsigned i = 0; i < ig->insts_count; i++)
		have += ig->insts[i].pnode == old->pnode && !ig->insts[i].removed;
	if (have >= hi) {
		e2_seterr(err, "split: NF '%s' of '%s' already has %u instances (max_number_of_instances %u%s)",
			  nf->descriptor_id, old->name, have, hi, hi == 1 ? ", not scalable" : "");
		return -1;
	}
	if (old->range_hi - old->range_lo < 2) {
		e2_seterr(err, "split: flow range of '%s' is a single flow ID", old->name);
		return -1;
	}
	uint32_t lo = old->range_lo, mid = lo + (old->range_hi - lo) / 2, top = old->range_hi;
	unsigned k = add_inst(ig, old->pnode);
	old = &ig->insts[inst]; /* add_inst may have moved the array */
	old->range_hi = mid;
	ig->insts[k].range_lo = mid;
	ig->insts[k].hash_fields = old->hash_fields;
	ig->insts[k].range_hi = top;
	unsigned n = ig->edges_count;
	for (unsigned e = 0; e < n; e++) {
		struct e2_iedge ed = ig->edges[e];
		if (ed.to != inst && ed.from != inst)
			continue;
		ig->edges[e].rate_gbps = ed.rate_gbps / 2;
		if (ed.to == inst)
			add_edge(ig, ed.from, k, ed.pedge, ed.rate_gbps / 2, 1);
		else
			add_edge(ig, k, ed.to, ed.pedge, ed.rate_gbps / 2, ed.distributed);
		if (ed.to == inst)
			ig->edges[e].distributed = 1;
	}
	return (int)k;
}
