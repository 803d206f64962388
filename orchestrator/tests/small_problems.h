/* SPDX-License-Identifier: BSD-3-Clause */
/* Random small placement problems and their exact optimum by exhaustive search, shared
 * by the placement property test (test_place_small.c) and bench/placement.
 *
 * A problem: 2-4 servers with 1-6 usable cores and 1-12 Gbps links; 1-3 pipelines of
 * 2-5 NFs each (1 or 2 vCPUs; some cannot scale across servers), chains or small DAGs
 * fed by one or two input ports and leaving through one or two output ports; at most 8
 * NF instances after sizing. Everything goes through the real loaders and sizing.
 *
 * The exhaustive search shares no code with the planner: every assignment of the NF
 * instances to servers, kept if it fits the cores, keeps the instances of an NF that
 * cannot scale across servers together and keeps every server link (in and out) within
 * link_target x nic_gbps; the least cross traffic (as e2_cross_server_gbps counts it)
 * wins. It also finds the largest scale (as e2_max_scale counts it) of any placement
 * within the cores, against which place_bound.c's upper bound is checked. */
#ifndef E2_SMALL_PROBLEMS_H
#define E2_SMALL_PROBLEMS_H

#include "e2/orch.h"
#include "../place_int.h"
#include "place_fixture.h"
#include "text_buf.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define SP_MAX_INSTS 8
#define SP_MAX_SERVERS 4

struct sp_problem {
	struct place_fixture f;
	char desc[256];
};

static uint64_t sp_rng;
static unsigned sp_rnd(unsigned n)
{
	sp_rng ^= sp_rng << 13;
	sp_rng ^= sp_rng >> 7;
	sp_rng ^= sp_rng << 17;
	return (unsigned)((sp_rng >> 11) % n);
}

static void sp_free(struct sp_problem *p)
{
	place_fixture_free(&p->f);
}

/* Problem number `seed` (a function of the seed alone). 0, or -1 when the draw is not
 * a small problem (sizing refuses it, or it needs more than SP_MAX_INSTS instances). */
static int sp_make(struct sp_problem *p, uint64_t seed)
{
	static const char *affs[] = {"[five_tuple]", "[src_ip]", "[src_ip, dst_ip]", "[]"};
	struct e2_err err = {""};
	memset(p, 0, sizeof *p);
	sp_rng = 0x853c49e6748fea9bull ^ (seed + 1) * 0xda3e39cb94b95bdbull;
	for (int i = 0; i < 4; i++)
		sp_rnd(2);
	unsigned S = 2 + sp_rnd(3), pipes = 1 + sp_rnd(3);
	struct text_buf hw = {0}, nfs = {0}, pol = {0};
	text_printf(&hw, "servers:\n");
	size_t dl = 0;
	dl += (size_t)snprintf(p->desc + dl, sizeof p->desc - dl, "seed %llu: servers", (unsigned long long)seed);
	for (unsigned s = 0; s < S; s++) {
		unsigned cores = 1 + sp_rnd(6), nic = 1 + sp_rnd(12);
		text_printf(&hw, "  - { name: s%u, cores: %u, reserved_cores: 1, ghz: 1.0, nic_gbps: %u }\n", s,
			    cores + 1, nic);
		dl += (size_t)snprintf(p->desc + dl, sizeof p->desc - dl, " %uc/%ug", cores, nic);
	}
	text_printf(&hw, "switch:\n  ports: 32\n  external_ports: [in0, in1, in2, out0, out1, out2]\n  port_gbps: 40\n"
			 "  flow_table_entries: 100000\n");
	text_printf(&nfs, "nfs:\n");
	text_printf(&pol, "pipelines:\n");
	unsigned nf_id = 0;
	for (unsigned q = 0; q < pipes; q++) {
		unsigned n = 2 + sp_rnd(4), chain = sp_rnd(2), ins = 1 + (sp_rnd(4) == 0), outs = 1 + (sp_rnd(4) == 0);
		double rate = 0.5 + sp_rnd(12) / 2.0;
		dl += (size_t)snprintf(p->desc + dl, sizeof p->desc - dl, "; %s of %u at %.1f", chain ? "chain" : "dag",
				       n, rate);
		text_printf(&pol, "  - name: p%u\n    traffic_class: {rate_gbps: %.2f}\n    nodes:\n", q, rate);
		for (unsigned x = 0; x < ins; x++)
			text_printf(&pol, "      - {name: q%ui%u, port: in%u}\n", q, x, (q + x) % 3);
		for (unsigned x = 0; x < outs; x++)
			text_printf(&pol, "      - {name: q%uo%u, port: out%u}\n", q, x, (q + x) % 3);
		for (unsigned i = 0; i < n; i++) {
			unsigned cpu = 1 + (sp_rnd(4) == 0);
			int together = sp_rnd(8) == 0;
			text_printf(
				&nfs,
				"  - { descriptor_id: f%u, nf_type: native, sw_image_data: {name: x}, num_virtual_cpu: %u,\n"
				"      gbps_per_core_ghz: %.2f, affinity: %s,%s\n"
				"      connection_points: [{name: in, role: input}, {name: out, role: output}] }\n",
				nf_id + i, cpu, 1.0 + sp_rnd(16) / 4.0, affs[sp_rnd(4)],
				together ? " scaling: {scalable: true, across_servers: false}," : "");
			text_printf(&pol, "      - {name: q%un%u, nf: f%u}\n", q, i, nf_id + i);
		}
		text_printf(&pol, "    edges:\n");
		int *has_child = calloc(n, sizeof *has_child);
		for (unsigned x = 0; x < ins; x++)
			text_printf(&pol, "      - {from: q%ui%u, to: q%un0}\n", q, x, q);
		for (unsigned i = 1; i < n; i++) {
			unsigned a = chain ? i - 1 : sp_rnd(i);
			text_printf(&pol, "      - {from: q%un%u, to: q%un%u}\n", q, a, q, i);
			has_child[a] = 1;
			if (!chain && i >= 2 && sp_rnd(3) == 0) {
				unsigned b = sp_rnd(i);
				if (b != a) {
					text_printf(&pol, "      - {from: q%un%u, to: q%un%u, filter: 'udp'}\n", q, b,
						    q, i);
					has_child[b] = 1;
				}
			}
		}
		unsigned sinks = 0;
		for (unsigned i = 0; i < n; i++)
			sinks += !has_child[i];
		for (unsigned i = 0, k = 0; i < n; i++) /* every output port gets a sink */
			if (!has_child[i]) {
				for (unsigned x = 0; x < outs; x++)
					if (k % outs == x || (k == sinks - 1 && x >= sinks))
						text_printf(&pol, "      - {from: q%un%u, to: q%uo%u}\n", q, i, q, x);
				k++;
			}
		free(has_child);
		nf_id += n;
	}
	int rc = -1;
	p->f.hw = e2_hardware_load(hw.s, hw.n, "small-hw", &err);
	p->f.cat = e2_nfs_load(nfs.s, nfs.n, "small-nfs", &err);
	p->f.pol = e2_policy_load(pol.s, pol.n, "small-policy", &err);
	if (!p->f.hw || !p->f.cat || !p->f.pol) {
		fprintf(stderr, "small problem %llu does not load: %s\n%s\n%s\n%s\n", (unsigned long long)seed, err.msg,
			hw.s, nfs.s, pol.s);
		abort();
	}
	if (place_fixture_plan(&p->f, 0.8, &err) == 0 && nf_instance_count(p->f.ig) <= SP_MAX_INSTS) {
		rc = 0;
		dl += (size_t)snprintf(p->desc + dl, sizeof p->desc - dl, "; %u instances", nf_instance_count(p->f.ig));
	}
	free(hw.s);
	free(nfs.s);
	free(pol.s);
	return rc;
}

/* ---------------------------------------------------------------- exhaustive search */

struct sp_exh {
	const struct e2_igraph *ig;
	const struct e2_rack *rack;
	unsigned nf[SP_MAX_INSTS], k;
	int at[SP_MAX_INSTS];
	long free_cores[SP_MAX_SERVERS];
	double best, best_cores_only; /* -1: none */
	int best_at[SP_MAX_INSTS];
	double core_scale, best_scale; /* the cores' limit (placement-free); best over placements */
};

static void sp_leaf(struct sp_exh *x)
{
	const struct e2_igraph *ig = x->ig;
	int *srv = calloc(ig->insts_count, sizeof *srv);
	for (unsigned i = 0; i < ig->insts_count; i++)
		srv[i] = -1;
	for (unsigned j = 0; j < x->k; j++)
		srv[x->nf[j]] = x->at[j];
	double in[SP_MAX_SERVERS] = {0}, out[SP_MAX_SERVERS] = {0}, cross = 0;
	for (unsigned e = 0; e < ig->edges_count; e++) {
		int a = srv[ig->edges[e].from], b = srv[ig->edges[e].to];
		double r = ig->edges[e].rate_gbps;
		if (a == b && a >= 0)
			continue;
		cross += r;
		if (a >= 0)
			out[a] += r;
		if (b >= 0)
			in[b] += r;
	}
	free(srv);
	int links_ok = 1;
	for (unsigned s = 0; s < x->rack->servers; s++) {
		double cap = x->rack->nic_gbps[s] * x->rack->link_target;
		links_ok &= in[s] <= cap * (1 + 1e-12) + 1e-12 && out[s] <= cap * (1 + 1e-12) + 1e-12;
	}
	if (x->best_cores_only < 0 || cross < x->best_cores_only)
		x->best_cores_only = cross;
	double scale = x->core_scale;
	for (unsigned s = 0; s < x->rack->servers; s++) {
		if (in[s] > 0 && x->rack->nic_gbps[s] / in[s] < scale)
			scale = x->rack->nic_gbps[s] / in[s];
		if (out[s] > 0 && x->rack->nic_gbps[s] / out[s] < scale)
			scale = x->rack->nic_gbps[s] / out[s];
	}
	if (cross > 0 && x->rack->switch_gbps / cross < scale)
		scale = x->rack->switch_gbps / cross;
	if (scale > x->best_scale)
		x->best_scale = scale;
	if (links_ok && (x->best < 0 || cross < x->best)) {
		x->best = cross;
		memcpy(x->best_at, x->at, sizeof x->at);
	}
}

static void sp_rec(struct sp_exh *x, unsigned j)
{
	if (j == x->k) {
		sp_leaf(x);
		return;
	}
	unsigned i = x->nf[j];
	long c = x->ig->insts[i].cores;
	for (unsigned s = 0; s < x->rack->servers; s++) {
		if (x->free_cores[s] < c)
			continue;
		int ok = 1;
		for (unsigned q = 0; q < j && ok; q++)
			if (must_group(x->ig, i) && x->ig->insts[x->nf[q]].pnode == x->ig->insts[i].pnode &&
			    x->at[q] != (int)s)
				ok = 0;
		if (!ok)
			continue;
		x->at[j] = (int)s;
		x->free_cores[s] -= c;
		sp_rec(x, j + 1);
		x->free_cores[s] += c;
	}
}

/* The least cross traffic over every placement within cores and links (-1: none), and
 * over those within cores alone (*cores_only, -1: none); the largest scale of those
 * within the cores (*best_scale, 0: none). */
static double sp_optimum(const struct e2_igraph *ig, const struct e2_rack *rack, double *cores_only, double *best_scale)
{
	struct sp_exh x;
	memset(&x, 0, sizeof x);
	x.ig = ig;
	x.rack = rack;
	x.best = x.best_cores_only = -1;
	x.core_scale = 1e300;
	for (unsigned i = 0; i < ig->insts_count; i++) {
		double in = 0;
		for (unsigned e = 0; e < ig->edges_count; e++)
			in += ig->edges[e].to == i ? ig->edges[e].rate_gbps : 0;
		if (ig->pg->nodes[ig->insts[i].pnode].nf && in > 1e-9 && ig->insts[i].capacity_gbps / in < x.core_scale)
			x.core_scale = ig->insts[i].capacity_gbps / in;
	}
	for (unsigned i = 0; i < ig->insts_count; i++)
		if (ig->pg->nodes[ig->insts[i].pnode].nf)
			x.nf[x.k++] = i;
	for (unsigned s = 0; s < rack->servers; s++)
		x.free_cores[s] = rack->cores[s];
	sp_rec(&x, 0);
	if (cores_only)
		*cores_only = x.best_cores_only;
	if (best_scale)
		*best_scale = x.best_scale;
	return x.best;
}

/* Does the placement in ig fit cores, groups and links (as sp_optimum counts them)? */
static int sp_fits(const struct e2_igraph *ig, const struct e2_rack *rack)
{
	return placement_fits(ig, rack, 1e-12, 1e-12);
}

static int sp_fits_cores(const struct e2_igraph *ig, const struct e2_rack *rack)
{
	struct e2_rack loose = *rack;
	loose.link_target = 1e300;
	return sp_fits(ig, &loose);
}

/* One problem through the heuristic and through the MIP (as `e2ctl plan --exact` runs
 * them: the heuristic's placement as the MIP's start, none if it refused; no MIP when
 * mip_seconds <= 0). */
struct sp_result {
	int made;                   /* sp_make succeeded */
	double opt, opt_cores_only; /* exhaustive; -1: none */
	int refused;                /* heuristic said "cannot fit" */
	int fits, fits_cores;       /* its placement */
	double heur;
	double gap_pct;     /* over opt, when both exist */
	double best_scale;  /* exhaustive, within the cores (0: nothing fits) */
	double scale_bound; /* e2__max_scale_bound */
	double max_local;   /* exhaustive: the most traffic any placement within the cores keeps local */
	double local_bound; /* e2__local_traffic_bound */
	int exact_rc;
	double exact;
	char msg[512];
};

static void sp_run(uint64_t seed, double mip_seconds, struct sp_result *r)
{
	struct sp_problem p;
	memset(r, 0, sizeof *r);
	r->opt = r->opt_cores_only = -1;
	if (sp_make(&p, seed) < 0) {
		sp_free(&p);
		return;
	}
	r->made = 1;
	struct e2_igraph *ig = p.f.ig;
	r->opt = sp_optimum(ig, p.f.rack, &r->opt_cores_only, &r->best_scale);
	struct e2_err err = {""};
	for (unsigned i = 0; i < ig->insts_count; i++)
		ig->insts[i].server = -1;
	if (e2_place(ig, p.f.rack, E2_PLACE_E2, 1, &err) < 0) {
		r->refused = 1;
		snprintf(r->msg, sizeof r->msg, "%s", err.msg);
		for (unsigned i = 0; i < ig->insts_count; i++)
			ig->insts[i].server = -1;
	} else {
		r->fits = sp_fits(ig, p.f.rack);
		r->fits_cores = sp_fits_cores(ig, p.f.rack);
		r->heur = e2_cross_server_gbps(ig);
		if (r->opt > 0 && r->fits)
			r->gap_pct = 100 * (r->heur - r->opt) / r->opt;
	}
	r->scale_bound = e2__max_scale_bound(ig, p.f.rack, 30);
	r->local_bound = e2__local_traffic_bound(ig, p.f.rack, 30);
	r->max_local = -1;
	if (r->opt_cores_only >= 0) { /* everything not crossing stays local */
		r->max_local = -r->opt_cores_only;
		for (unsigned e = 0; e < ig->edges_count; e++)
			r->max_local += ig->edges[e].rate_gbps;
	}
	if (mip_seconds <= 0) { /* no MIP */
		snprintf(r->msg + strlen(r->msg), sizeof r->msg - strlen(r->msg), "%s[%s]", r->msg[0] ? " " : "",
			 p.desc);
		sp_free(&p);
		return;
	}
	r->exact_rc = e2_place_mip(ig, p.f.rack, mip_seconds, NULL, NULL, &err);
	r->exact = r->exact_rc == 0 ? e2_cross_server_gbps(ig) : -1;
	if (r->exact_rc == 0 && !sp_fits(ig, p.f.rack))
		r->exact = -2; /* the MIP's placement exceeds a capacity */
	if (r->exact_rc < 0 && !r->refused)
		snprintf(r->msg, sizeof r->msg, "%s", err.msg);
	snprintf(r->msg + strlen(r->msg), sizeof r->msg - strlen(r->msg), "%s[%s]", r->msg[0] ? " " : "", p.desc);
	sp_free(&p);
}

#endif
