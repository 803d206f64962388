/* SPDX-License-Identifier: BSD-3-Clause */
/* Step 4 of seed §3.4.1: instance placement as graph partitioning.
 *
 * The starts: the seed's DFS bin-packing (link-aware for E2, as in the seed for the
 * "Packing" strawman), random placement; when a packing strands an instance although
 * the cores suffice, e2__place_feasible finds one that fits whatever the input order.
 * E2 then improves the start with place_search.c (Kernighan-Lin with tentative
 * sequences, group moves, restarts), asks the MIP when a link stays over its target,
 * and balances the links when they, not the cores, limit growth.
 * External ports are pinned to the switch: their traffic always crosses. */
#include "place_int.h"

#include <stdarg.h>
#include <stdlib.h>
#include <string.h>

#define EPS 1e-9

/* Cores v needs where it lands: its own, or its whole unplaced group's. */
static int need_cores(const struct e2_igraph *ig, unsigned v)
{
	if (!e2__grouped(ig, v))
		return (int)ig->insts[v].cores;
	int c = 0;
	for (unsigned i = 0; i < ig->insts_count; i++)
		if (ig->insts[i].pnode == ig->insts[v].pnode && ig->insts[i].server < 0)
			c += (int)ig->insts[i].cores;
	return c;
}

int e2_rack_from_hardware(struct e2_rack *rack, const struct e2_hardware *hw, struct e2_err *err)
{
	rack->servers = hw->servers_count;
	rack->cores = e2_xcalloc(rack->servers, sizeof *rack->cores);
	rack->nic_gbps = e2_xcalloc(rack->servers, sizeof *rack->nic_gbps);
	if (!rack->cores || !rack->nic_gbps) {
		e2_seterr(err, "out of memory");
		return -1;
	}
	for (unsigned s = 0; s < rack->servers; s++) {
		rack->cores[s] = hw->servers[s].cores - hw->servers[s].reserved_cores;
		rack->nic_gbps[s] = hw->servers[s].nic_gbps;
	}
	rack->switch_gbps = hw->fabric.capacity_gbps;
	rack->link_target = 0.8;
	rack->mip_fallback_s = 0;
	return 0;
}

void e2_rack_free(struct e2_rack *rack)
{
	free(rack->cores);
	free(rack->nic_gbps);
	rack->cores = NULL;
	rack->nic_gbps = NULL;
}

double e2_cross_server_gbps(const struct e2_igraph *ig)
{
	double sum = 0;
	for (unsigned e = 0; e < ig->edges_count; e++) {
		int a = ig->insts[ig->edges[e].from].server, b = ig->insts[ig->edges[e].to].server;
		if (a != b || a < 0)
			sum += ig->edges[e].rate_gbps;
	}
	return sum;
}

int e2_rack_loads(const struct e2_igraph *ig, const struct e2_rack *rack, struct e2_load *loads)
{
	memset(loads, 0, rack->servers * sizeof *loads);
	for (unsigned i = 0; i < ig->insts_count; i++) {
		int s = ig->insts[i].server;
		if (s >= 0 && (unsigned)s < rack->servers)
			loads[s].cores_used += ig->insts[i].cores;
	}
	for (unsigned e = 0; e < ig->edges_count; e++) {
		int a = ig->insts[ig->edges[e].from].server, b = ig->insts[ig->edges[e].to].server;
		double r = ig->edges[e].rate_gbps;
		if (a == b && a >= 0)
			continue;
		if (a >= 0)
			loads[a].nic_out_gbps += r;
		if (b >= 0)
			loads[b].nic_in_gbps += r;
	}
	int bad = 0;
	for (unsigned s = 0; s < rack->servers; s++)
		bad += (loads[s].cores_used > rack->cores[s]) + (loads[s].nic_in_gbps > rack->nic_gbps[s] + EPS) +
		       (loads[s].nic_out_gbps > rack->nic_gbps[s] + EPS);
	double cross = e2_cross_server_gbps(ig);
	bad += cross > rack->switch_gbps + EPS;
	for (unsigned i = 0; i < ig->insts_count; i++)
		bad += e2__is_nf(ig, i) && ig->insts[i].server < 0;
	return bad;
}

double e2_max_scale(const struct e2_igraph *ig, const struct e2_rack *rack)
{
	double best = 1e300;
	double *in = e2_xcalloc(ig->insts_count, sizeof *in);
	for (unsigned e = 0; e < ig->edges_count; e++)
		in[ig->edges[e].to] += ig->edges[e].rate_gbps;
	for (unsigned i = 0; i < ig->insts_count; i++)
		if (e2__is_nf(ig, i) && in[i] > EPS && ig->insts[i].capacity_gbps / in[i] < best)
			best = ig->insts[i].capacity_gbps / in[i];
	free(in);
	struct e2_load *loads = e2_xcalloc(rack->servers, sizeof *loads);
	e2_rack_loads(ig, rack, loads);
	for (unsigned s = 0; s < rack->servers; s++) {
		if (loads[s].nic_in_gbps > EPS && rack->nic_gbps[s] / loads[s].nic_in_gbps < best)
			best = rack->nic_gbps[s] / loads[s].nic_in_gbps;
		if (loads[s].nic_out_gbps > EPS && rack->nic_gbps[s] / loads[s].nic_out_gbps < best)
			best = rack->nic_gbps[s] / loads[s].nic_out_gbps;
	}
	free(loads);
	double cross = e2_cross_server_gbps(ig);
	if (cross > EPS && rack->switch_gbps / cross < best)
		best = rack->switch_gbps / cross;
	return best;
}

/* ---------------------------------------------------------------- search state */

struct adj {
	unsigned edge;
	unsigned other;
	int out;
};

struct kl {
	struct e2_igraph *ig;
	const struct e2_rack *rack;
	unsigned n, S;
	int *free_cores;     /* per server */
	double *nin, *nout;  /* per server link */
	unsigned *adj_start; /* CSR over incident edges */
	struct adj *adj;
	/* scratch for tentative moves */
	unsigned *touched;
	unsigned touched_count;
	double *save_in, *save_out;
	char *mark;
};

static void kl_free(struct kl *k)
{
	free(k->free_cores);
	free(k->nin);
	free(k->nout);
	free(k->adj_start);
	free(k->adj);
	free(k->touched);
	free(k->save_in);
	free(k->save_out);
	free(k->mark);
}

static void kl_init(struct kl *k, struct e2_igraph *ig, const struct e2_rack *rack)
{
	memset(k, 0, sizeof *k);
	k->ig = ig;
	k->rack = rack;
	k->n = ig->insts_count;
	k->S = rack->servers;
	unsigned n = k->n, S = k->S;
	k->free_cores = e2_xcalloc(S, sizeof *k->free_cores);
	k->nin = e2_xcalloc(S, sizeof *k->nin);
	k->nout = e2_xcalloc(S, sizeof *k->nout);
	k->touched = e2_xcalloc(S, sizeof *k->touched);
	k->save_in = e2_xcalloc(S, sizeof *k->save_in);
	k->save_out = e2_xcalloc(S, sizeof *k->save_out);
	k->mark = e2_xcalloc(S, 1);
	for (unsigned s = 0; s < S; s++)
		k->free_cores[s] = (int)rack->cores[s];
	k->adj_start = e2_xcalloc(n + 1, sizeof *k->adj_start);
	for (unsigned e = 0; e < ig->edges_count; e++) {
		k->adj_start[ig->edges[e].from + 1]++;
		k->adj_start[ig->edges[e].to + 1]++;
	}
	for (unsigned i = 0; i < n; i++)
		k->adj_start[i + 1] += k->adj_start[i];
	k->adj = e2_xcalloc(2 * (size_t)ig->edges_count + 1, sizeof *k->adj);
	unsigned *fill = e2_xcalloc(n + 1, sizeof *fill);
	for (unsigned e = 0; e < ig->edges_count; e++) {
		unsigned a = ig->edges[e].from, b = ig->edges[e].to;
		k->adj[k->adj_start[a] + fill[a]++] = (struct adj){e, b, 1};
		k->adj[k->adj_start[b] + fill[b]++] = (struct adj){e, a, 0};
	}
	free(fill);
}

/* Recomputes every derived quantity from the current servers of all instances. */
static void kl_sync(struct kl *k)
{
	struct e2_igraph *ig = k->ig;
	for (unsigned s = 0; s < k->S; s++) {
		k->free_cores[s] = (int)k->rack->cores[s];
		k->nin[s] = k->nout[s] = 0;
	}
	for (unsigned i = 0; i < k->n; i++)
		if (ig->insts[i].server >= 0)
			k->free_cores[ig->insts[i].server] -= (int)ig->insts[i].cores;
	for (unsigned e = 0; e < ig->edges_count; e++) {
		int a = ig->insts[ig->edges[e].from].server, b = ig->insts[ig->edges[e].to].server;
		if (a == b && a >= 0)
			continue;
		if (a >= 0)
			k->nout[a] += ig->edges[e].rate_gbps;
		if (b >= 0)
			k->nin[b] += ig->edges[e].rate_gbps;
	}
}

static double link_cap(const struct kl *k, unsigned s)
{
	double t = k->rack->link_target > 0 && k->rack->link_target <= 1 ? k->rack->link_target : 1;
	return k->rack->nic_gbps[s] * t;
}

static void touch(struct kl *k, int s)
{
	if (s < 0 || k->mark[s])
		return;
	k->mark[s] = 1;
	k->save_in[s] = k->nin[s];
	k->save_out[s] = k->nout[s];
	k->touched[k->touched_count++] = (unsigned)s;
}

/* Moves u's link contributions (not D or cores) to server `to`. */
static void link_move(struct kl *k, unsigned u, int to)
{
	struct e2_igraph *ig = k->ig;
	int from = ig->insts[u].server;
	for (unsigned j = k->adj_start[u]; j < k->adj_start[u + 1]; j++) {
		const struct adj *a = &k->adj[j];
		double r = ig->edges[a->edge].rate_gbps;
		int so = ig->insts[a->other].server;
		int src_old = a->out ? from : so, dst_old = a->out ? so : from;
		int src_new = a->out ? to : so, dst_new = a->out ? so : to;
		touch(k, src_old);
		touch(k, dst_old);
		touch(k, src_new);
		touch(k, dst_new);
		if (src_old != dst_old || src_old < 0) {
			if (src_old >= 0)
				k->nout[src_old] -= r;
			if (dst_old >= 0)
				k->nin[dst_old] -= r;
		}
		if (src_new != dst_new || src_new < 0) {
			if (src_new >= 0)
				k->nout[src_new] += r;
			if (dst_new >= 0)
				k->nin[dst_new] += r;
		}
	}
	ig->insts[u].server = to;
}

/* A change is allowed if no touched link ends above capacity, unless it was
 * already there and does not get worse. */
static int links_ok(struct kl *k)
{
	int ok = 1;
	for (unsigned i = 0; i < k->touched_count; i++) {
		unsigned s = k->touched[i];
		double cap = link_cap(k, s) + EPS;
		if ((k->nin[s] > cap && k->nin[s] > k->save_in[s] + EPS) ||
		    (k->nout[s] > cap && k->nout[s] > k->save_out[s] + EPS))
			ok = 0;
	}
	return ok;
}

static void untouch(struct kl *k)
{
	for (unsigned i = 0; i < k->touched_count; i++)
		k->mark[k->touched[i]] = 0;
	k->touched_count = 0;
}

/* Squared excess over a link's target: convex, so spreading an unavoidable excess
 * evenly (the best bottleneck) scores better than piling it on one link. */
static double over(double load, double cap)
{
	return load > cap ? (load - cap) * (load - cap) : 0;
}

/* Would moving u to b (and v to u's server, when v is given) keep every link
 * within the rule of links_ok? *delta_over receives the change in total link
 * overload. Leaves everything as it was. */
static int change_eval(struct kl *k, unsigned u, int b, int v, double *delta_over)
{
	int a = k->ig->insts[u].server;
	untouch(k);
	link_move(k, u, b);
	if (v >= 0)
		link_move(k, (unsigned)v, a);
	int ok = links_ok(k);
	double d = 0;
	for (unsigned i = 0; i < k->touched_count; i++) {
		unsigned s = k->touched[i];
		double cap = link_cap(k, s);
		d += over(k->nin[s], cap) + over(k->nout[s], cap) - over(k->save_in[s], cap) -
		     over(k->save_out[s], cap);
	}
	if (delta_over)
		*delta_over = d;
	if (v >= 0)
		link_move(k, (unsigned)v, b);
	link_move(k, u, a);
	for (unsigned i = 0; i < k->touched_count; i++) { /* exact values: no drift */
		k->nin[k->touched[i]] = k->save_in[k->touched[i]];
		k->nout[k->touched[i]] = k->save_out[k->touched[i]];
	}
	untouch(k);
	return ok;
}

static int change_ok(struct kl *k, unsigned u, int b, int v)
{
	return change_eval(k, u, b, v, NULL);
}

static void change_apply(struct kl *k, unsigned u, int b, int v)
{
	int a = k->ig->insts[u].server;
	untouch(k);
	link_move(k, u, b);
	if (v >= 0)
		link_move(k, (unsigned)v, a);
	untouch(k);
}

/* ---------------------------------------------------------------- starts */

static uint64_t next_rand(uint64_t *s)
{
	*s ^= *s << 13;
	*s ^= *s >> 7;
	*s ^= *s << 17;
	return *s;
}

struct out_edge {
	unsigned to, pos;
	double w;
};

/* Heaviest first, then as listed: a total order, so any qsort gives the same result. */
static int cmp_out_edge(const void *pa, const void *pb)
{
	const struct out_edge *a = pa, *b = pb;
	if (a->w != b->w)
		return a->w < b->w ? 1 : -1;
	return (a->pos > b->pos) - (a->pos < b->pos);
}

unsigned e2__dfs_order(unsigned n, const unsigned *roots, unsigned nroots, e2__out_edges_fn next, void *ctx,
		       unsigned max_out, unsigned *order)
{
	char *seen = e2_xcalloc(n + 1, 1);
	unsigned *to = e2_xcalloc(max_out + 1, sizeof *to);
	double *w = e2_xcalloc(max_out + 1, sizeof *w);
	struct out_edge *out = e2_xcalloc(max_out + 1, sizeof *out);
	size_t cap = (size_t)n + 16, top = 0;
	unsigned *stack = e2_xmalloc(cap * sizeof *stack), count = 0;
	for (unsigned r = 0; r < nroots; r++) {
		if (seen[roots[r]])
			continue;
		stack[top++] = roots[r];
		while (top) {
			unsigned v = stack[--top];
			if (seen[v])
				continue;
			seen[v] = 1;
			order[count++] = v;
			unsigned k = next(ctx, v, to, w), c = 0;
			for (unsigned i = 0; i < k; i++)
				if (!seen[to[i]]) {
					out[c] = (struct out_edge){to[i], c, w[i]};
					c++;
				}
			qsort(out, c, sizeof *out, cmp_out_edge);
			if (top + c > cap) {
				cap = 2 * (top + c);
				stack = e2_xrealloc(stack, cap * sizeof *stack);
			}
			for (unsigned j = c; j-- > 0;) /* the heaviest on top */
				stack[top++] = out[j].to;
		}
	}
	free(seen);
	free(to);
	free(w);
	free(out);
	free(stack);
	return count;
}

static unsigned instance_out_edges(void *ctx, unsigned v, unsigned *to, double *weight)
{
	const struct kl *k = ctx;
	unsigned c = 0;
	for (unsigned j = k->adj_start[v]; j < k->adj_start[v + 1]; j++)
		if (k->adj[j].out) {
			to[c] = k->adj[j].other;
			weight[c++] = k->ig->edges[k->adj[j].edge].rate_gbps;
		}
	return c;
}

/* Unplaced NF instances in depth-first order from the external ports along out-edges,
 * heaviest first; then from those the ports do not reach, by index. */
static unsigned dfs_order(struct kl *k, unsigned *order)
{
	struct e2_igraph *ig = k->ig;
	unsigned n = k->n, nroots = 0, max_out = 0, count = 0;
	unsigned *roots = e2_xcalloc(2 * (size_t)n + 1, sizeof *roots), *all = e2_xcalloc(n + 1, sizeof *all);
	for (unsigned i = 0; i < n; i++)
		if (!e2__is_nf(ig, i))
			roots[nroots++] = i;
	for (unsigned i = 0; i < n; i++)
		if (e2__is_nf(ig, i) && ig->insts[i].server < 0)
			roots[nroots++] = i;
	for (unsigned i = 0; i < n; i++)
		if (k->adj_start[i + 1] - k->adj_start[i] > max_out)
			max_out = k->adj_start[i + 1] - k->adj_start[i];
	unsigned reached = e2__dfs_order(n, roots, nroots, instance_out_edges, k, max_out, all);
	for (unsigned i = 0; i < reached; i++) /* placed ones are passed through, not packed */
		if (e2__is_nf(ig, all[i]) && ig->insts[all[i]].server < 0)
			order[count++] = all[i];
	free(roots);
	free(all);
	return count;
}

static int no_fit(struct kl *k, unsigned inst, struct e2_err *err)
{
	long total = 0;
	for (unsigned s = 0; s < k->S; s++)
		total += k->free_cores[s] > 0 ? k->free_cores[s] : 0;
	e2_seterr(err,
		  "demand cannot fit: instance '%s' needs %d cores%s but no server has them free (%ld free "
		  "cores left in the rack)",
		  k->ig->insts[inst].name, need_cores(k->ig, inst),
		  e2__grouped(k->ig, inst) ? " (with its group: the NF cannot scale across servers)" : "", total);
	return -1;
}

static void place_with_group(struct kl *k, unsigned v, unsigned s, int link_aware)
{
	for (unsigned i = 0; i < k->n; i++) {
		if (i != v && !(e2__grouped(k->ig, v) && k->ig->insts[i].pnode == k->ig->insts[v].pnode &&
				k->ig->insts[i].server < 0))
			continue;
		if (link_aware)
			change_apply(k, i, (int)s, -1);
		else
			k->ig->insts[i].server = (int)s;
		k->free_cores[s] -= (int)k->ig->insts[i].cores;
	}
}

/* Next-fit bin packing in DFS order. link_aware: a bin is also full when the
 * instance would push its link over the target (E2's start; the strawman ignores
 * links, as in the seed's "Packing"). */
static int pack(struct kl *k, int link_aware, struct e2_err *err)
{
	unsigned *order = e2_xcalloc(k->n + 1, sizeof *order);
	unsigned m = dfs_order(k, order);
	unsigned s = 0;
	int rc = 0;
	for (unsigned i = 0; i < m && rc == 0; i++) {
		unsigned v = order[i];
		if (k->ig->insts[v].server >= 0)
			continue; /* placed with its group */
		int c = need_cores(k->ig, v);
		unsigned tries = 0;
		while (tries < k->S && (k->free_cores[s] < c || (link_aware && !change_ok(k, v, (int)s, -1)))) {
			s = (s + 1) % k->S; /* next fit, wrapping once */
			tries++;
		}
		if (tries == k->S) { /* links full everywhere: cores decide */
			tries = 0;
			while (k->free_cores[s] < c && tries++ < k->S)
				s = (s + 1) % k->S;
		}
		if (k->free_cores[s] < c) {
			rc = no_fit(k, v, err);
			break;
		}
		place_with_group(k, v, s, link_aware);
	}
	free(order);
	return rc;
}

static int place_random(struct kl *k, uint64_t seed, struct e2_err *err)
{
	uint64_t st = seed * 0x9E3779B97F4A7C15ull + 1;
	unsigned *cand = e2_xcalloc(k->S, sizeof *cand);
	for (unsigned v = 0; v < k->n; v++) {
		if (!e2__is_nf(k->ig, v) || k->ig->insts[v].server >= 0)
			continue;
		unsigned c = 0;
		int need = need_cores(k->ig, v);
		for (unsigned s = 0; s < k->S; s++)
			if (k->free_cores[s] >= need)
				cand[c++] = s;
		if (!c) {
			free(cand);
			return no_fit(k, v, err);
		}
		place_with_group(k, v, cand[next_rand(&st) % c], 0);
	}
	free(cand);
	return 0;
}

/* Budgets of the search, in candidate evaluations (some 50 ns each): small problems
 * (up to 40 movable units) get room for every restart, a 100-instance IGraph a few
 * milliseconds in all. */
static long search_budget(const struct e2_igraph *ig)
{
	unsigned nf = 0;
	for (unsigned i = 0; i < ig->insts_count; i++)
		nf += e2__is_nf(ig, i);
	return nf <= 40 ? 400000L : 25000L;
}
/* each balancing round: enough for a 220-instance rack to find its way under the new target */
#define BALANCE_BUDGET(m) (400L * (m))
/* Balancing may add this much cross traffic (relative) for a less loaded bottleneck. */
#define BALANCE_SLACK 0.02

static double max_util(const struct e2_igraph *ig, const struct e2_rack *rack)
{
	struct e2_load *loads = e2_xcalloc(rack->servers, sizeof *loads);
	e2_rack_loads(ig, rack, loads);
	double u = 0;
	for (unsigned s = 0; s < rack->servers; s++) {
		double x =
			(loads[s].nic_in_gbps > loads[s].nic_out_gbps ? loads[s].nic_in_gbps : loads[s].nic_out_gbps) /
			rack->nic_gbps[s];
		if (x > u)
			u = x;
	}
	free(loads);
	return u;
}

/* When a server link, not a core, is what limits growth: the search again with the
 * link target just under the busiest link, as long as it brings every link under it
 * and the cross traffic stays within BALANCE_SLACK of what it was. */
static void balance(struct e2_igraph *ig, const struct e2_rack *rack, double start_cross)
{
	double *in = e2_xcalloc(ig->insts_count + 1, sizeof *in), core_scale = 1e300;
	for (unsigned e = 0; e < ig->edges_count; e++)
		in[ig->edges[e].to] += ig->edges[e].rate_gbps;
	for (unsigned i = 0; i < ig->insts_count; i++)
		if (e2__is_nf(ig, i) && in[i] > EPS && ig->insts[i].capacity_gbps / in[i] < core_scale)
			core_scale = ig->insts[i].capacity_gbps / in[i];
	free(in);
	int *saved = e2_xmalloc((ig->insts_count + 1) * sizeof *saved),
	    *good = e2_xmalloc((ig->insts_count + 1) * sizeof *good);
	double base = e2_cross_server_gbps(ig), reached = 0;
	double step = 0.9;
	for (unsigned i = 0; i < ig->insts_count; i++)
		good[i] = ig->insts[i].server;
	for (unsigned round = 0; round < 60; round++) {
		double u = max_util(ig, rack);
		if (u <= EPS || 1 / u >= core_scale)
			break;
		for (unsigned i = 0; i < ig->insts_count; i++)
			saved[i] = ig->insts[i].server;
		double x = e2__place_search(ig, rack, u * step, E2__SEARCH_UNTIL_FEASIBLE,
					    BALANCE_BUDGET(ig->insts_count));
		if (x > EPS || max_util(ig, rack) > u - 1e-6) {
			for (unsigned i = 0; i < ig->insts_count; i++)
				ig->insts[i].server = saved[i];
			if (step > 0.985)
				break;
			step = 0.99; /* a smaller step before giving up */
			continue;
		}
		reached = max_util(ig, rack);
		double c = e2_cross_server_gbps(ig);
		if (c <= base * (1 + BALANCE_SLACK) + EPS && c <= start_cross + EPS)
			for (unsigned i = 0; i < ig->insts_count; i++) /* the best balance within the slack so far */
				good[i] = ig->insts[i].server;
	}
	/* then the least cross traffic under the bottleneck reached */
	if (reached > 0) {
		e2__place_search(ig, rack, reached, 0, search_budget(ig));
		double c = e2_cross_server_gbps(ig);
		if (c > base * (1 + BALANCE_SLACK) + EPS || c > start_cross + EPS) /* too dear */
			for (unsigned i = 0; i < ig->insts_count; i++)
				ig->insts[i].server = good[i];
	}
	free(saved);
	free(good);
}

/* E2's steps 2 and 3 from a complete placement: the search (Kernighan-Lin, group
 * moves, restarts); when a link stays over its target, the MIP decides (on problems of
 * up to 1,000 instance-server pairs, within e2_rack.mip_fallback_s) whether any
 * placement keeps them all within, and the search continues from its answer; then,
 * when links rather than cores limit growth, balancing. */
static void improve_all(struct e2_igraph *ig, const struct e2_rack *rack)
{
	double c0 = e2_cross_server_gbps(ig);
	double excess = e2__place_search(ig, rack, 0, E2__SEARCH_RESTARTS, search_budget(ig));
	double tl = e2__mip_fallback_s(rack);
	unsigned nf = 0;
	for (unsigned i = 0; i < ig->insts_count; i++)
		nf += e2__is_nf(ig, i);
	if (excess > EPS && tl > 0 && (size_t)nf * rack->servers <= 1000) {
		int *saved = e2_xmalloc((ig->insts_count + 1) * sizeof *saved);
		for (unsigned i = 0; i < ig->insts_count; i++)
			saved[i] = ig->insts[i].server;
		struct e2_err merr;
		if (e2_place_mip(ig, rack, tl, NULL, NULL, &merr) == 0 && e2__link_excess(ig, rack) <= EPS) {
			e2__place_search(ig, rack, 0, 0, search_budget(ig));
		} else {
			for (unsigned i = 0; i < ig->insts_count; i++)
				ig->insts[i].server = saved[i];
		}
		free(saved);
	}
	balance(ig, rack, c0);
}

/* A start that fits the cores whatever the input order: the algorithm's own packing,
 * and when that strands an instance, e2__place_feasible. */
static int start(struct e2_igraph *ig, const struct e2_rack *rack, enum e2_place_algo algo, uint64_t seed,
		 struct e2_err *err)
{
	int *saved = e2_xmalloc((ig->insts_count + 1) * sizeof *saved);
	for (unsigned i = 0; i < ig->insts_count; i++)
		saved[i] = ig->insts[i].server;
	struct kl k;
	kl_init(&k, ig, rack);
	kl_sync(&k);
	int e2 = algo == E2_PLACE_E2 || algo == E2_PLACE_E2_START;
	int rc = algo == E2_PLACE_RANDOM ? place_random(&k, seed, err) : pack(&k, e2, err);
	kl_free(&k);
	if (rc < 0) {
		for (unsigned i = 0; i < ig->insts_count; i++)
			ig->insts[i].server = saved[i];
		rc = e2__place_feasible(ig, rack, err);
	}
	free(saved);
	return rc;
}

int e2_place(struct e2_igraph *ig, const struct e2_rack *rack, enum e2_place_algo algo, uint64_t seed,
	     struct e2_err *err)
{
	if (rack->servers == 0) {
		e2_seterr(err, "no servers");
		return -1;
	}
	for (unsigned i = 0; i < ig->insts_count; i++)
		if (!e2__is_nf(ig, i))
			ig->insts[i].server = -1;
	int rc = start(ig, rack, algo, seed, err);
	if (rc == 0 && algo == E2_PLACE_E2)
		improve_all(ig, rack);
	return rc;
}

int e2_place_improve(struct e2_igraph *ig, const struct e2_rack *rack, struct e2_err *err)
{
	if (rack->servers == 0) {
		e2_seterr(err, "no servers");
		return -1;
	}
	for (unsigned i = 0; i < ig->insts_count; i++) {
		if (!e2__is_nf(ig, i)) {
			ig->insts[i].server = -1;
		} else if (ig->insts[i].server < 0 || (unsigned)ig->insts[i].server >= rack->servers) {
			e2_seterr(err, "improve: instance '%s' is not placed", ig->insts[i].name);
			return -1;
		}
	}
	improve_all(ig, rack);
	return 0;
}

int e2_place_incremental(struct e2_igraph *ig, const struct e2_rack *rack, unsigned inst, struct e2_err *err)
{
	unsigned S = rack->servers;
	int *free_cores = e2_xcalloc(S, sizeof *free_cores);
	double *score = e2_xcalloc(S, sizeof *score), *nin = e2_xcalloc(S, sizeof *nin),
	       *nout = e2_xcalloc(S, sizeof *nout);
	for (unsigned s = 0; s < S; s++)
		free_cores[s] = (int)rack->cores[s];
	for (unsigned i = 0; i < ig->insts_count; i++)
		if (i != inst && ig->insts[i].server >= 0 && !ig->insts[i].removed)
			free_cores[ig->insts[i].server] -= (int)ig->insts[i].cores;
	ig->insts[inst].server = -1;
	for (unsigned e = 0; e < ig->edges_count; e++) {
		const struct e2_iedge *ed = &ig->edges[e];
		int a = ig->insts[ed->from].server, b = ig->insts[ed->to].server;
		if (ed->from == inst || ed->to == inst) {
			unsigned other = ed->from == inst ? ed->to : ed->from;
			int so = ig->insts[other].server;
			if (so >= 0 && e2__is_nf(ig, other))
				score[so] += ed->rate_gbps;
			continue;
		}
		if (a == b && a >= 0)
			continue;
		if (a >= 0)
			nout[a] += ed->rate_gbps;
		if (b >= 0)
			nin[b] += ed->rate_gbps;
	}
	int best = -1, best_fallback = -1, only = -1;
	double best_score = -1, best_fb = -1;
	if (e2__grouped(ig, inst))
		for (unsigned i = 0; i < ig->insts_count && only < 0; i++)
			if (i != inst && ig->insts[i].pnode == ig->insts[inst].pnode)
				only = ig->insts[i].server;
	for (unsigned t = 0; t < S; t++) {
		if (free_cores[t] < (int)ig->insts[inst].cores || (only >= 0 && (int)t != only))
			continue;
		/* link use if the new instance lands on t */
		double in_t = nin[t], out_t = nout[t];
		int ok = 1;
		for (unsigned e = 0; e < ig->edges_count && ok; e++) {
			const struct e2_iedge *ed = &ig->edges[e];
			if (ed->from != inst && ed->to != inst)
				continue;
			unsigned other = ed->from == inst ? ed->to : ed->from;
			int so = ig->insts[other].server;
			if (so == (int)t)
				continue;
			if (ed->to == inst)
				in_t += ed->rate_gbps;
			else
				out_t += ed->rate_gbps;
		}
		ok = in_t <= rack->nic_gbps[t] + EPS && out_t <= rack->nic_gbps[t] + EPS;
		double sc = score[t] + 1e-6 * free_cores[t]; /* ties: the emptier server */
		if (ok && sc > best_score) {
			best_score = sc;
			best = (int)t;
		}
		if (sc > best_fb) {
			best_fb = sc;
			best_fallback = (int)t;
		}
	}
	free(free_cores);
	free(score);
	free(nin);
	free(nout);
	if (best < 0)
		best = best_fallback; /* cores exist but every link is full: relieve the core anyway */
	if (best < 0) {
		if (only >= 0)
			e2_seterr(err,
				  "demand cannot fit: new instance '%s' must join its NF's server (no scaling across "
				  "servers) but that server has no %u free cores",
				  ig->insts[inst].name, ig->insts[inst].cores);
		else
			e2_seterr(err, "demand cannot fit: no server has %u free cores for new instance '%s'",
				  ig->insts[inst].cores, ig->insts[inst].name);
		return -1;
	}
	ig->insts[inst].server = best;
	return 0;
}
