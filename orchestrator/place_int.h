/* SPDX-License-Identifier: BSD-3-Clause */
/* Internal to the placement code (place.c, place_search.c). */
#ifndef E2_PLACE_INT_H
#define E2_PLACE_INT_H

#include "e2/orch.h"

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

#endif
