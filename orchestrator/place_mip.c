/* SPDX-License-Identifier: BSD-3-Clause */
/* The exact reference: placement as a MIP solved by COIN-OR CBC.
 *
 *   x[v,s] in {0,1}     instance v runs on server s           sum_s x[v,s] = 1
 *   in[e,s] >= x[to,s] - x[from,s]   (edge e enters server s's link)
 *   out[e,s] >= x[from,s] - x[to,s]  (edge e leaves server s's link)
 *   sum_v cores_v x[v,s] <= cores_s
 *   sum_e r_e in[e,s] + external traffic into s  <= nic_s * link_target  (and out)
 *   minimise sum_e r_e sum_s in[e,s]   (+ the external traffic, a constant)
 * Parallel edges between the same ordered pair are merged first. The heuristic's
 * placement, if complete, is handed to CBC as a MIP start, and if it fits every
 * capacity the answer is never worse than it. Exact to 1e-9 Gbps (the objective is
 * scaled under CBC's cutoff increment); no CBC preprocessing (it aborts on some). */
#include "place_int.h"

#include <Cbc_C_Interface.h>
#include <stdarg.h>
#include <stdlib.h>
#include <string.h>

struct pair {
	unsigned from, to;
	double rate;
};

#define OBJ_SCALE 1e4 /* objective units per Gbps (see the tolerances below) */

/* Cores, and one server for the instances of an NF that cannot scale across servers. */
static int start_fits_cores(const struct e2_igraph *ig, const struct e2_rack *rack)
{
	long *used = e2_xcalloc(rack->servers, sizeof *used);
	int ok = 1;
	for (unsigned v = 0; v < ig->insts_count && ok; v++) {
		const struct e2_nf *d = ig->pg->nodes[ig->insts[v].pnode].nf;
		int s = ig->insts[v].server;
		if (!d)
			continue;
		if (s < 0 || (unsigned)s >= rack->servers) {
			ok = 0;
			break;
		}
		used[s] += ig->insts[v].cores;
		for (unsigned w = 0; w < v && !e2_nf_across_servers(d); w++)
			if (ig->insts[w].pnode == ig->insts[v].pnode && ig->insts[w].server != s)
				ok = 0;
	}
	for (unsigned s = 0; s < rack->servers && ok; s++)
		ok = used[s] <= (long)rack->cores[s];
	free(used);
	return ok;
}

int e2_place_mip(struct e2_igraph *ig, const struct e2_rack *rack, double time_limit_s, int *proven_optimal,
		 double *bound_gbps, struct e2_err *err)
{
	unsigned n = ig->insts_count, S = rack->servers;
	int *col = e2_xmalloc((n + 1) * sizeof *col); /* instance -> first x column, -1 if external */
	unsigned nf = 0;
	for (unsigned v = 0; v < n; v++)
		col[v] = ig->pg->nodes[ig->insts[v].pnode].nf ? (int)(nf++ * S) : -1;
	if (nf * S > 20000) {
		free(col);
		e2_seterr(err, "MIP reference: %u instances x %u servers is too large for an exact solve", nf, S);
		return -1;
	}
	struct pair *pairs = e2_xcalloc(ig->edges_count + 1, sizeof *pairs);
	unsigned np = 0;
	double *ext_in = e2_xcalloc(n, sizeof *ext_in), *ext_out = e2_xcalloc(n, sizeof *ext_out);
	for (unsigned e = 0; e < ig->edges_count; e++) {
		const struct e2_iedge *ed = &ig->edges[e];
		if (col[ed->from] < 0 && col[ed->to] >= 0) {
			ext_in[ed->to] += ed->rate_gbps;
			continue;
		}
		if (col[ed->to] < 0) {
			if (col[ed->from] >= 0)
				ext_out[ed->from] += ed->rate_gbps;
			continue;
		}
		unsigned p = 0;
		while (p < np && !(pairs[p].from == ed->from && pairs[p].to == ed->to))
			p++;
		if (p == np)
			pairs[np++] = (struct pair){ed->from, ed->to, 0};
		pairs[p].rate += ed->rate_gbps;
	}

	Cbc_Model *m = Cbc_newModel();
	Cbc_setLogLevel(m, 0);
	Cbc_setMaximumSeconds(m, time_limit_s);
	/* Exact to 1e-9 Gbps: CBC prunes a node whose bound is within its cutoff increment
     * (1e-5 by default) of the incumbent, and returned a placement 8.5e-6 Gbps above
     * the optimum. Setting the increment lower makes CBC 2.10 abort (an
     * assertion in ClpNonLinearCost, tests/small_problems.h seed 701936), so the
     * objective is scaled by OBJ_SCALE instead: the default increment is then 1e-9 Gbps. */
	Cbc_setAllowableGap(m, 1e-11);
	Cbc_setAllowableFractionGap(m, 1e-12);
	/* CBC 2.10's preprocessing aborts the process on some of these models (an assertion
     * in OsiClpSolverInterface::crunch, seed 501979); they are small enough without */
	Cbc_setParameter(m, "preprocess", "off");
	Cbc_setObjSense(m, 1);
	/* Identical servers are interchangeable: the k-th instance may only use the
     * first k+1 servers, which removes symmetric copies of every solution. */
	int identical = 1;
	for (unsigned s = 1; s < S; s++)
		identical &= rack->cores[s] == rack->cores[0] && rack->nic_gbps[s] == rack->nic_gbps[0];
	char name[32];
	double ext_total = 0;
	for (unsigned v = 0; v < n; v++)
		ext_total += ext_in[v] + ext_out[v];
	for (unsigned v = 0, k = 0; v < n; v++) {
		if (col[v] < 0)
			continue;
		for (unsigned s = 0; s < S; s++) {
			snprintf(name, sizeof name, "x_%u_%u", v, s);
			Cbc_addCol(m, name, 0, identical && s > k ? 0 : 1, 0, 1, 0, NULL, NULL);
		}
		k++;
	}
	unsigned ybase = nf * S; /* in[p,s] then out[p,s] per pair */
	for (unsigned p = 0; p < np; p++)
		for (unsigned s = 0; s < S; s++) {
			snprintf(name, sizeof name, "in_%u_%u", p, s);
			Cbc_addCol(m, name, 0, 1, pairs[p].rate * OBJ_SCALE, 0, 0, NULL, NULL);
			snprintf(name, sizeof name, "out_%u_%u", p, s);
			Cbc_addCol(m, name, 0, 1, 0, 0, 0, NULL, NULL);
		}
	int idx[3];
	double coef[3];
	for (unsigned v = 0; v < n; v++) {
		if (col[v] < 0)
			continue;
		int *cols = e2_xmalloc(S * sizeof *cols);
		double *ones = e2_xmalloc(S * sizeof *ones);
		for (unsigned s = 0; s < S; s++) {
			cols[s] = col[v] + (int)s;
			ones[s] = 1;
		}
		snprintf(name, sizeof name, "assign_%u", v);
		Cbc_addRow(m, name, (int)S, cols, ones, 'E', 1);
		free(cols);
		free(ones);
	}
	for (unsigned p = 0; p < np; p++)
		for (unsigned s = 0; s < S; s++) {
			int yin = (int)(ybase + 2 * (p * S + s)), yout = yin + 1;
			int xf = col[pairs[p].from] + (int)s, xt = col[pairs[p].to] + (int)s;
			idx[0] = yin;
			idx[1] = xt;
			idx[2] = xf;
			coef[0] = 1;
			coef[1] = -1;
			coef[2] = 1;
			Cbc_addRow(m, "lin", 3, idx, coef, 'G', 0);
			idx[0] = yout;
			idx[1] = xf;
			idx[2] = xt;
			Cbc_addRow(m, "lout", 3, idx, coef, 'G', 0);
		}
	/* instances of an NF that cannot scale across servers share one server */
	for (unsigned v = 0; v < n; v++) {
		const struct e2_nf *d = ig->pg->nodes[ig->insts[v].pnode].nf;
		if (col[v] < 0 || !d || e2_nf_across_servers(d))
			continue;
		unsigned lead = 0;
		while (ig->insts[lead].pnode != ig->insts[v].pnode)
			lead++;
		for (unsigned s = 0; s < S && lead != v; s++) {
			idx[0] = col[v] + (int)s;
			idx[1] = col[lead] + (int)s;
			coef[0] = 1;
			coef[1] = -1;
			Cbc_addRow(m, "together", 2, idx, coef, 'E', 0);
		}
	}
	unsigned maxnz = nf + 2 * np + 1;
	int *cols = e2_xmalloc(maxnz * sizeof *cols);
	double *vals = e2_xmalloc(maxnz * sizeof *vals);
	for (unsigned s = 0; s < S; s++) {
		int k = 0;
		for (unsigned v = 0; v < n; v++)
			if (col[v] >= 0) {
				cols[k] = col[v] + (int)s;
				vals[k++] = ig->insts[v].cores;
			}
		Cbc_addRow(m, "cores", k, cols, vals, 'L', rack->cores[s]);
		for (int dir = 0; dir < 2; dir++) {
			k = 0;
			for (unsigned v = 0; v < n; v++) {
				double r = dir ? ext_out[v] : ext_in[v];
				if (col[v] >= 0 && r > 0) {
					cols[k] = col[v] + (int)s;
					vals[k++] = r;
				}
			}
			for (unsigned p = 0; p < np; p++) {
				cols[k] = (int)(ybase + 2 * (p * S + s)) + dir;
				vals[k++] = pairs[p].rate;
			}
			double target = rack->link_target > 0 && rack->link_target <= 1 ? rack->link_target : 1;
			Cbc_addRow(m, dir ? "nic_out" : "nic_in", k, cols, vals, 'L', rack->nic_gbps[s] * target);
		}
	}
	/* MIP start from the current placement when it is complete. */
	int complete = 1;
	for (unsigned v = 0; v < n; v++)
		complete &= col[v] < 0 || ig->insts[v].server >= 0;
	unsigned ncols = ybase + 2 * np * S;
	if (complete && ncols) {
		int *si = e2_xmalloc(ncols * sizeof *si);
		double *sv = e2_xmalloc(ncols * sizeof *sv);
		for (unsigned c = 0; c < ncols; c++) {
			si[c] = (int)c;
			sv[c] = 0;
		}
		for (unsigned v = 0; v < n; v++)
			if (col[v] >= 0)
				sv[col[v] + ig->insts[v].server] = 1;
		for (unsigned p = 0; p < np; p++) {
			int a = ig->insts[pairs[p].from].server, b = ig->insts[pairs[p].to].server;
			if (a != b) {
				sv[ybase + 2 * (p * S + (unsigned)b)] = 1;
				sv[ybase + 2 * (p * S + (unsigned)a) + 1] = 1;
			}
		}
		Cbc_setMIPStartI(m, (int)ncols, si, sv);
		free(si);
		free(sv);
	}
	/* the start, if it fits every capacity, is what the answer must not be worse than */
	int *start_at = NULL;
	double start_cost = 0;
	if (complete && e2__link_excess(ig, rack) <= 1e-9 && start_fits_cores(ig, rack)) {
		start_at = e2_xmalloc((n + 1) * sizeof *start_at);
		for (unsigned v = 0; v < n; v++)
			start_at[v] = ig->insts[v].server;
		start_cost = e2_cross_server_gbps(ig);
	}
	Cbc_solve(m);
	int rc = 0;
	const double *sol = Cbc_bestSolution(m);
	if (!sol || Cbc_isProvenInfeasible(m)) {
		e2_seterr(err, "MIP reference: %s",
			  Cbc_isProvenInfeasible(m) ? "no placement satisfies cores and links"
						    : "no solution within the time limit");
		rc = -1;
	} else {
		for (unsigned v = 0; v < n; v++) {
			if (col[v] < 0)
				continue;
			for (unsigned s = 0; s < S; s++)
				if (sol[col[v] + (int)s] > 0.5)
					ig->insts[v].server = (int)s;
		}
		if (start_at && e2_cross_server_gbps(ig) > start_cost)
			for (unsigned v = 0; v < n; v++)
				ig->insts[v].server = start_at[v];
		if (proven_optimal)
			*proven_optimal = Cbc_isProvenOptimal(m);
		if (bound_gbps)
			*bound_gbps = ext_total +
				      (Cbc_isProvenOptimal(m) ? Cbc_getObjValue(m) : Cbc_getBestPossibleObjValue(m)) /
					      OBJ_SCALE;
	}
	Cbc_deleteModel(m);
	free(start_at);
	free(cols);
	free(vals);
	free(col);
	free(pairs);
	free(ext_in);
	free(ext_out);
	return rc;
}
