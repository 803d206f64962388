/* SPDX-License-Identifier: BSD-3-Clause */
/* Internal to the placement code (place.c, place_search.c), and the references that
 * bench/placement and the tests measure it against (place_bound.c). */
#ifndef E2_PLACE_INT_H
#define E2_PLACE_INT_H

#include "e2/orch.h"

/* An NF instance, not an external port (ports are pinned to the switch). */
static inline int e2__is_nf(const struct e2_igraph *ig, unsigned i)
{
	return ig->pg->nodes[ig->insts[i].pnode].nf != NULL;
}

/* An instance of an NF that cannot scale across servers: all of them share one. */
static inline int e2__grouped(const struct e2_igraph *ig, unsigned i)
{
	const struct e2_nf *nf = ig->pg->nodes[ig->insts[i].pnode].nf;
	return nf && !e2_nf_across_servers(nf);
}

/* Places every unplaced NF instance on some server with the cores it needs, whatever
 * the input order: best-fit decreasing, then an exhaustive packing search (servers
 * with equal free cores are interchangeable), then the MIP (cores alone) within its
 * time limit. Links are ignored. 0, or -1 with the reason in err: the total cores,
 * the largest instance against the largest server, or that no packing exists. */
int e2__place_feasible(struct e2_igraph *ig, const struct e2_rack *rack, struct e2_err *err);

/* Improves a complete placement: Kernighan-Lin passes (tentative sequences of moves
 * and swaps, the best prefix kept), moves of connected groups, and with `restarts` the
 * same from other packings (E2__SEARCH_RESTARTS); with E2__SEARCH_UNTIL_FEASIBLE it
 * stops as soon as every link is within its target; lexicographically the least link excess over the targets
 * (nic x target, or the rack's link_target when target is 0), then the least cross
 * traffic. Never ends worse than the given placement. Deterministic; budget bounds the
 * candidate evaluations. Returns the link excess of the placement it leaves in ig. */
enum { E2__SEARCH_RESTARTS = 1, E2__SEARCH_UNTIL_FEASIBLE = 2 };
double e2__place_search(struct e2_igraph *ig, const struct e2_rack *rack, double target, int flags, long budget);

/* Total excess of the server links over their targets (Gbps), and cores exceeded. */
double e2__link_excess(const struct e2_igraph *ig, const struct e2_rack *rack);

/* The time limit of the MIP when the heuristic needs it (the rack's, or the default). */
double e2__mip_fallback_s(const struct e2_rack *rack);

/* Depth-first order over nodes 0..n-1, as both packings use it: from each of `roots`
 * in turn (skipping those already reached), along the out-edges `next` lists, the
 * heaviest first, equal weights in the order listed (whatever the C library's qsort).
 * next(ctx, v, to, weight) writes v's out-neighbours (at most max_out) and returns how
 * many. Writes the nodes reached to `order` in visiting order; returns their number. */
typedef unsigned (*e2__out_edges_fn)(void *ctx, unsigned v, unsigned *to, double *weight);
unsigned e2__dfs_order(unsigned n, const unsigned *roots, unsigned nroots, e2__out_edges_fn next, void *ctx,
		       unsigned max_out, unsigned *order);

/* At least what any placement of ig on rack keeps inside servers, between NF instances
 * (Gbps): a Lagrangian bound over per-server counts of each NF's instances, improved
 * by `steps` subgradient steps (any number gives a valid bound; about 100 make it
 * tight to a few percent on bench/placement's graphs). Starts from ig's placement
 * when it is complete. Exponential in the NFs per server: meant for a few NFs. */
double e2__local_traffic_bound(const struct e2_igraph *ig, const struct e2_rack *rack, unsigned steps);

/* An upper bound on e2_max_scale over every placement of ig on rack: the cores' limit
 * (fixed by sizing), and the average server link and the switch with at least the
 * crossing traffic e2__local_traffic_bound leaves. */
double e2__max_scale_bound(const struct e2_igraph *ig, const struct e2_rack *rack, unsigned steps);

#endif
