/* SPDX-License-Identifier: BSD-3-Clause */
/* An upper bound on what any placement can achieve, for IGraphs too large for the MIP
 * (bench/placement's 220 instances on 24 servers: CBC's relaxation of place_mip.c
 * proves nothing there).
 *
 * What a server keeps local depends only on which instances it holds. Relax that to
 * how many of each NF it holds (its "pattern"): for a PGraph edge A->B, a server with
 * alpha As and beta Bs keeps at most h(alpha, beta) of that edge's traffic, the lesser
 * of (the alpha largest, over A instances, of each one's beta heaviest edges to Bs)
 * and the same seen from B. Exact for an edge that distributes evenly (Fig. 3.3(b,c)),
 * an overestimate for direct ones (3.3(d)). Then the rack is a choice of one pattern
 * per server, within the cores, that uses every instance once: a Lagrangian relaxation
 * of the counts (prices pi per instance of each NF) gives, for any pi,
 *     local <= servers * max_pattern (h(pattern) - pi . pattern) + pi . counts,
 * and a subgradient descent on pi makes it small. Every pi gives a valid bound, so the
 * number of steps trades only tightness for time. */
#include "place_int.h"

#include <math.h>
#include <stdlib.h>
#include <string.h>

struct bound_edge {
	unsigned a, b; /* NF indices */
	double *h;     /* (cap+1)^2, [alpha][beta] */
};

struct bound {
	unsigned K, cap, E;
	unsigned *count, *cores;
	struct bound_edge *edges;
	unsigned *at, *at_start; /* edges whose later NF is k: at[at_start[k] .. at_start[k+1]) */
	double *rest;            /* per depth: the most the NFs from there on can still add */
	double *pi;
	unsigned *cnt, *best;
	double best_val;
};

/* The pattern of largest h - pi . pattern, by depth-first enumeration with pruning. */
static void enumerate(struct bound *c, unsigned k, unsigned cores_left, double val)
{
	if (val + c->rest[k] <= c->best_val)
		return;
	if (k == c->K) {
		c->best_val = val;
		memcpy(c->best, c->cnt, c->K * sizeof *c->cnt);
		return;
	}
	unsigned most = cores_left / c->cores[k];
	if (most > c->count[k])
		most = c->count[k];
	for (unsigned x = 0; x <= most; x++) {
		c->cnt[k] = x;
		double v = val - c->pi[k] * x;
		for (unsigned j = c->at_start[k]; j < c->at_start[k + 1]; j++) {
			const struct bound_edge *e = &c->edges[c->at[j]];
			v += e->h[c->cnt[e->a] * (c->cap + 1) + c->cnt[e->b]];
		}
		enumerate(c, k + 1, cores_left - x * c->cores[k], v);
	}
	c->cnt[k] = 0;
}

static int cmp_desc(const void *pa, const void *pb)
{
	double a = *(const double *)pa, b = *(const double *)pb;
	return (a < b) - (a > b);
}

struct peer {
	unsigned other;
	double w;
};

static int cmp_peer(const void *pa, const void *pb)
{
	const struct peer *a = pa, *b = pb;
	return (a->other > b->other) - (a->other < b->other);
}

/* One side of an edge's table: tab[alpha][beta] = the alpha largest, over this side's
 * instances, of the sum of each one's beta heaviest IGraph edges of PGraph edge pe
 * (parallel edges to the same instance counted as one). */
static void side_table(const struct e2_igraph *ig, unsigned pe, const int *local, unsigned count, int from_side,
		       unsigned cap, double *tab)
{
	unsigned *deg = e2_xcalloc(count + 1, sizeof *deg), *start = e2_xcalloc(count + 2, sizeof *start);
	for (unsigned e = 0; e < ig->edges_count; e++)
		if (ig->edges[e].pedge == pe)
			deg[local[from_side ? ig->edges[e].from : ig->edges[e].to]]++;
	for (unsigned i = 0; i < count; i++)
		start[i + 1] = start[i] + deg[i];
	struct peer *pr = e2_xcalloc(start[count] + 1, sizeof *pr);
	double *w = e2_xcalloc(start[count] + 1, sizeof *w), *sum = e2_xcalloc(count + 1, sizeof *sum);
	memset(deg, 0, count * sizeof *deg);
	for (unsigned e = 0; e < ig->edges_count; e++)
		if (ig->edges[e].pedge == pe) {
			unsigned i = (unsigned)local[from_side ? ig->edges[e].from : ig->edges[e].to];
			pr[start[i] + deg[i]++] =
				(struct peer){from_side ? ig->edges[e].to : ig->edges[e].from, ig->edges[e].rate_gbps};
		}
	for (unsigned i = 0; i < count; i++) {
		struct peer *p = pr + start[i];
		qsort(p, deg[i], sizeof *p, cmp_peer);
		unsigned d = 0;
		for (unsigned j = 0; j < deg[i]; j++) {
			if (d > 0 && p[j].other == p[d - 1].other)
				p[d - 1].w += p[j].w;
			else
				p[d++] = p[j];
		}
		deg[i] = d;
		for (unsigned j = 0; j < d; j++)
			w[start[i] + j] = p[j].w;
		qsort(w + start[i], deg[i], sizeof *w, cmp_desc);
	}
	for (unsigned beta = 0; beta <= cap; beta++) {
		for (unsigned i = 0; i < count; i++) {
			sum[i] = 0;
			for (unsigned j = 0; j < beta && j < deg[i]; j++)
				sum[i] += w[start[i] + j];
		}
		qsort(sum, count, sizeof *sum, cmp_desc);
		double acc = 0;
		for (unsigned alpha = 0; alpha <= cap; alpha++) {
			tab[alpha * (cap + 1) + beta] = acc;
			if (alpha < count)
				acc += sum[alpha];
		}
	}
	free(deg);
	free(start);
	free(pr);
	free(w);
	free(sum);
}

double e2__local_traffic_bound(const struct e2_igraph *ig, const struct e2_rack *rack, unsigned steps)
{
	const struct e2_pgraph *pg = ig->pg;
	struct bound c = {0};
	for (unsigned s = 0; s < rack->servers; s++)
		c.cap = rack->cores[s] > c.cap ? rack->cores[s] : c.cap; /* unequal servers: all as the largest */
	unsigned cap = c.cap, side = cap + 1;
	int *nfidx = e2_xmalloc((pg->nodes_count + 1) * sizeof *nfidx);
	for (unsigned i = 0; i < pg->nodes_count; i++)
		nfidx[i] = pg->nodes[i].nf ? (int)c.K++ : -1;
	c.count = e2_xcalloc(c.K + 1, sizeof *c.count);
	c.cores = e2_xcalloc(c.K + 1, sizeof *c.cores);
	for (unsigned k = 0; k < c.K; k++)
		c.cores[k] = 1; /* an NF without instances still divides */
	int *local = e2_xmalloc((ig->insts_count + 1) * sizeof *local);
	for (unsigned v = 0; v < ig->insts_count; v++) {
		int k = nfidx[ig->insts[v].pnode];
		local[v] = k >= 0 ? (int)c.count[k]++ : -1;
		if (k >= 0)
			c.cores[k] = ig->insts[v].cores ? ig->insts[v].cores : 1;
	}
	c.edges = e2_xcalloc(pg->edges_count + 1, sizeof *c.edges);
	unsigned *later = e2_xcalloc(pg->edges_count + 1, sizeof *later);
	double *ta = e2_xmalloc(side * side * sizeof *ta), *tb = e2_xmalloc(side * side * sizeof *tb);
	for (unsigned pe = 0; pe < pg->edges_count; pe++) {
		int a = nfidx[pg->edges[pe].from], b = nfidx[pg->edges[pe].to];
		if (a < 0 || b < 0)
			continue; /* external traffic crosses wherever the NF is */
		struct bound_edge *be = &c.edges[c.E];
		be->a = (unsigned)a;
		be->b = (unsigned)b;
		be->h = e2_xmalloc(side * side * sizeof *be->h);
		side_table(ig, pe, local, c.count[a], 1, cap, ta);
		side_table(ig, pe, local, c.count[b], 0, cap, tb);
		for (unsigned x = 0; x <= cap; x++)
			for (unsigned y = 0; y <= cap; y++)
				be->h[x * side + y] = fmin(ta[x * side + y], tb[y * side + x]);
		later[c.E++] = a > b ? (unsigned)a : (unsigned)b;
	}
	free(ta);
	free(tb);
	c.at = e2_xcalloc(c.E + 1, sizeof *c.at);
	c.at_start = e2_xcalloc(c.K + 2, sizeof *c.at_start);
	for (unsigned k = 0, n = 0; k < c.K; k++) {
		c.at_start[k] = n;
		for (unsigned e = 0; e < c.E; e++)
			if (later[e] == k)
				c.at[n++] = e;
		c.at_start[k + 1] = n;
	}
	c.rest = e2_xcalloc(c.K + 1, sizeof *c.rest);
	c.pi = e2_xcalloc(c.K + 1, sizeof *c.pi);
	c.cnt = e2_xcalloc(c.K + 1, sizeof *c.cnt);
	c.best = e2_xcalloc(c.K + 1, sizeof *c.best);
	double *g = e2_xcalloc(c.K + 1, sizeof *g);
	/* The first prices: what the current placement, if complete, keeps local per
	 * instance; its local traffic is also the target of the steps (Polyak's rule). */
	double known = 0;
	int complete = 1;
	for (unsigned v = 0; v < ig->insts_count; v++)
		complete &= local[v] < 0 || ig->insts[v].server >= 0;
	for (unsigned e = 0; e < ig->edges_count && complete; e++) {
		const struct e2_iedge *ed = &ig->edges[e];
		int a = nfidx[ig->insts[ed->from].pnode], b = nfidx[ig->insts[ed->to].pnode];
		if (a >= 0 && b >= 0 && ig->insts[ed->from].server == ig->insts[ed->to].server) {
			known += ed->rate_gbps;
			c.pi[a] += ed->rate_gbps / 2 / c.count[a];
			c.pi[b] += ed->rate_gbps / 2 / c.count[b];
		}
	}
	double best = HUGE_VAL, mu = 1;
	unsigned stale = 0;
	for (unsigned it = 0; it < steps || it == 0; it++) {
		c.rest[c.K] = 0;
		for (unsigned k = c.K; k-- > 0;) {
			unsigned most = cap / c.cores[k] < c.count[k] ? cap / c.cores[k] : c.count[k];
			double r = c.pi[k] < 0 ? -c.pi[k] * most : 0;
			for (unsigned j = c.at_start[k]; j < c.at_start[k + 1]; j++)
				r += c.edges[c.at[j]].h[cap * side + cap];
			c.rest[k] = c.rest[k + 1] + r;
		}
		c.best_val = 0; /* the empty server */
		memset(c.best, 0, c.K * sizeof *c.best);
		enumerate(&c, 0, cap, 0);
		double ub = rack->servers * c.best_val, norm = 0;
		for (unsigned k = 0; k < c.K; k++) {
			ub += c.pi[k] * c.count[k];
			g[k] = (double)c.count[k] - (double)rack->servers * c.best[k];
			norm += g[k] * g[k];
		}
		if (ub < best) {
			best = ub;
			stale = 0;
		} else if (++stale >= 8) {
			mu /= 2;
			stale = 0;
		}
		if (norm < 1e-12 || best - known <= 1e-9 * (known + 1))
			break; /* pi is optimal, or the bound meets a placement */
		double t = mu * (ub - known) / norm;
		for (unsigned k = 0; k < c.K; k++)
			c.pi[k] -= t * g[k];
	}
	for (unsigned e = 0; e < c.E; e++)
		free(c.edges[e].h);
	free(c.edges);
	free(later);
	free(c.at);
	free(c.at_start);
	free(c.rest);
	free(c.pi);
	free(c.cnt);
	free(c.best);
	free(c.count);
	free(c.cores);
	free(g);
	free(local);
	free(nfidx);
	return best;
}

double e2__max_scale_bound(const struct e2_igraph *ig, const struct e2_rack *rack, unsigned steps)
{
	double ext_in = 0, ext_out = 0, ext_only = 0, internal = 0, best = HUGE_VAL;
	double *in = e2_xcalloc(ig->insts_count + 1, sizeof *in);
	for (unsigned e = 0; e < ig->edges_count; e++) {
		const struct e2_iedge *ed = &ig->edges[e];
		int fa = e2__is_nf(ig, ed->from), ta = e2__is_nf(ig, ed->to);
		in[ed->to] += ed->rate_gbps;
		if (fa && ta)
			internal += ed->rate_gbps;
		else if (ta)
			ext_in += ed->rate_gbps;
		else if (fa)
			ext_out += ed->rate_gbps;
		else
			ext_only += ed->rate_gbps;
	}
	/* the cores: fixed by the sizing, wherever the instances are */
	for (unsigned v = 0; v < ig->insts_count; v++)
		if (e2__is_nf(ig, v) && in[v] > 1e-12 && ig->insts[v].capacity_gbps / in[v] < best)
			best = ig->insts[v].capacity_gbps / in[v];
	free(in);
	double crossing = fmax(0, internal - e2__local_traffic_bound(ig, rack, steps)), nic = 0;
	for (unsigned s = 0; s < rack->servers; s++)
		nic += rack->nic_gbps[s];
	/* the busiest link carries at least the average: at scale x, x * (all traffic into
	 * servers) <= the sum of the links (and the same out) */
	if (ext_in + crossing > 1e-12)
		best = fmin(best, nic / (ext_in + crossing));
	if (ext_out + crossing > 1e-12)
		best = fmin(best, nic / (ext_out + crossing));
	double sw = ext_in + ext_out + ext_only + crossing;
	if (sw > 1e-12)
		best = fmin(best, rack->switch_gbps / sw);
	return best;
}
