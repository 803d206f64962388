/* SPDX-License-Identifier: BSD-3-Clause */
/* E2's placement search (seed §3.4.1, step 4), over "units": an NF instance, or all
 * the instances of an NF that cannot scale across servers (they move together).
 *
 * The objective is lexicographic: first the excess of the server links over their
 * targets (links are constraints: a placement within the targets beats any placement
 * beyond them), then the traffic crossing the switch. Every move and swap is evaluated
 * in O(1) from per-unit, per-server traffic sums (Fo, Fi), kept up to date as units
 * move.
 *
 *  - Kernighan-Lin proper: a pass moves or swaps the best unlocked unit(s) even when
 *    that makes things worse, locks them, and at the end keeps the best prefix of the
 *    sequence; passes repeat while one gains. A swap is tried only where a move alone
 *    would not fit the cores.
 *  - Group moves: a unit with its most connected neighbours (a chain segment), or an
 *    NF's instances on one server with theirs, move to another server at once; single
 *    moves cannot leave a start where every member would gain only with the others.
 *  - Restarts: the given placement, greedy affinity packings in depth-first, size and
 *    pipeline order, best-fit decreasing, and seeded random packings on small
 *    problems; the best result is kept.
 * A work budget (candidate evaluations) bounds the time on large IGraphs. */
#include "place_int.h"

#include <stdlib.h>
#include <string.h>

#define TOL 1e-9
#define NONE ((unsigned)-1)

struct gain {
	double e, c;
}; /* reductions: of link excess, of cross traffic */

static int gain_better(struct gain a, struct gain b)
{
	if (a.e > b.e + TOL)
		return 1;
	if (a.e < b.e - TOL)
		return 0;
	return a.c > b.c + TOL;
}

struct srch {
	struct e2_igraph *ig;
	const struct e2_rack *rack;
	unsigned n, m, S;
	unsigned *uof;          /* instance -> unit (NONE: external) */
	unsigned *mstart, *mem; /* members of each unit */
	int *cores, *at;
	double *wo;            /* m*m: traffic from unit u to unit v */
	double *To, *Ti;       /* all traffic out of / into a unit, external included */
	double *ext;           /* external traffic of a unit (always crosses) */
	unsigned *nstart, *nb; /* neighbour units */
	double *Fo, *Fi;       /* m*S: traffic from u to units on s / into u from units on s */
	int *freec;
	double *lin, *lout, *cap;
	double excess, cross;
	long budget;        /* candidate evaluations left */
	int big;            /* prune candidates that cannot gain */
	int until_feasible; /* stop once every link is within its target */
	int maxc;           /* the largest server's cores */
	/* scratch */
	unsigned *logu;
	int *logs;
	unsigned logn;
	char *locked;
};

static double over(double load, double cap)
{
	return load > cap + TOL ? load - cap : 0;
}

static double link_target(const struct e2_rack *rack)
{
	return rack->link_target > 0 && rack->link_target <= 1 ? rack->link_target : 1;
}

static void srch_free(struct srch *st)
{
	free(st->uof);
	free(st->mstart);
	free(st->mem);
	free(st->cores);
	free(st->at);
	free(st->wo);
	free(st->To);
	free(st->Ti);
	free(st->ext);
	free(st->nstart);
	free(st->nb);
	free(st->Fo);
	free(st->Fi);
	free(st->freec);
	free(st->lin);
	free(st->lout);
	free(st->cap);
	free(st->logu);
	free(st->logs);
	free(st->locked);
}

static void srch_init(struct srch *st, struct e2_igraph *ig, const struct e2_rack *rack, double target)
{
	memset(st, 0, sizeof *st);
	st->ig = ig;
	st->rack = rack;
	st->n = ig->insts_count;
	st->S = rack->servers;
	unsigned n = st->n, S = st->S;
	st->uof = e2_xmalloc((n + 1) * sizeof *st->uof);
	unsigned m = 0;
	for (unsigned i = 0; i < n; i++) {
		st->uof[i] = NONE;
		if (!e2__is_nf(ig, i))
			continue;
		if (e2__grouped(ig, i))
			for (unsigned j = 0; j < i; j++)
				if (ig->insts[j].pnode == ig->insts[i].pnode) {
					st->uof[i] = st->uof[j];
					break;
				}
		if (st->uof[i] == NONE)
			st->uof[i] = m++;
	}
	st->m = m;
	st->mstart = e2_xcalloc(m + 1, sizeof *st->mstart);
	st->mem = e2_xcalloc(n + 1, sizeof *st->mem);
	st->cores = e2_xcalloc(m + 1, sizeof *st->cores);
	for (unsigned i = 0; i < n; i++)
		if (st->uof[i] != NONE) {
			st->mstart[st->uof[i] + 1]++;
			st->cores[st->uof[i]] += (int)ig->insts[i].cores;
		}
	for (unsigned u = 0; u < m; u++)
		st->mstart[u + 1] += st->mstart[u];
	unsigned *fill = e2_xcalloc(m + 1, sizeof *fill);
	for (unsigned i = 0; i < n; i++)
		if (st->uof[i] != NONE)
			st->mem[st->mstart[st->uof[i]] + fill[st->uof[i]]++] = i;
	free(fill);
	st->at = e2_xcalloc(m + 1, sizeof *st->at);
	st->wo = e2_xcalloc((size_t)m * m + 1, sizeof *st->wo);
	st->To = e2_xcalloc(m + 1, sizeof *st->To);
	st->Ti = e2_xcalloc(m + 1, sizeof *st->Ti);
	st->ext = e2_xcalloc(m + 1, sizeof *st->ext);
	for (unsigned e = 0; e < ig->edges_count; e++) {
		unsigned a = st->uof[ig->edges[e].from], b = st->uof[ig->edges[e].to];
		double r = ig->edges[e].rate_gbps;
		if (a != NONE)
			st->To[a] += r;
		if (b != NONE)
			st->Ti[b] += r;
		if (a != NONE && b != NONE && a != b)
			st->wo[(size_t)a * m + b] += r;
		else if (a != NONE && b == NONE)
			st->ext[a] += r;
		else if (b != NONE && a == NONE)
			st->ext[b] += r;
	}
	st->nstart = e2_xcalloc(m + 1, sizeof *st->nstart);
	unsigned cnt = 0;
	for (unsigned u = 0; u < m; u++)
		for (unsigned v = 0; v < m; v++)
			cnt += v != u && (st->wo[(size_t)u * m + v] > 0 || st->wo[(size_t)v * m + u] > 0);
	st->nb = e2_xcalloc(cnt + 1, sizeof *st->nb);
	cnt = 0;
	for (unsigned u = 0; u < m; u++) {
		st->nstart[u] = cnt;
		for (unsigned v = 0; v < m; v++)
			if (v != u && (st->wo[(size_t)u * m + v] > 0 || st->wo[(size_t)v * m + u] > 0))
				st->nb[cnt++] = v;
	}
	st->nstart[m] = cnt;
	st->Fo = e2_xcalloc((size_t)m * S + 1, sizeof *st->Fo);
	st->Fi = e2_xcalloc((size_t)m * S + 1, sizeof *st->Fi);
	st->freec = e2_xcalloc(S, sizeof *st->freec);
	st->lin = e2_xcalloc(S, sizeof *st->lin);
	st->lout = e2_xcalloc(S, sizeof *st->lout);
	st->cap = e2_xcalloc(S, sizeof *st->cap);
	for (unsigned s = 0; s < S; s++) {
		st->cap[s] = rack->nic_gbps[s] * (target > 0 ? target : link_target(rack));
		if ((int)rack->cores[s] > st->maxc)
			st->maxc = (int)rack->cores[s];
	}
	st->logu = e2_xcalloc(2 * (size_t)m + 2, sizeof *st->logu);
	st->logs = e2_xcalloc(2 * (size_t)m + 2, sizeof *st->logs);
	st->locked = e2_xcalloc(m + 1, 1);
	st->big = m > 24;
}

static double wsym(const struct srch *st, unsigned u, unsigned v)
{
	return st->wo[(size_t)u * st->m + v] + st->wo[(size_t)v * st->m + u];
}

/* Recomputes every derived quantity from at[] (at[u] may be -1: not placed). */
static void srch_sync(struct srch *st)
{
	unsigned m = st->m, S = st->S;
	memset(st->Fo, 0, (size_t)m * S * sizeof *st->Fo);
	memset(st->Fi, 0, (size_t)m * S * sizeof *st->Fi);
	for (unsigned s = 0; s < S; s++) {
		st->freec[s] = (int)st->rack->cores[s];
		st->lin[s] = st->lout[s] = 0;
	}
	st->cross = 0;
	for (unsigned u = 0; u < m; u++) {
		int a = st->at[u];
		if (a >= 0)
			st->freec[a] -= st->cores[u];
		for (unsigned j = st->nstart[u]; j < st->nstart[u + 1]; j++) {
			unsigned v = st->nb[j];
			int b = st->at[v];
			if (b >= 0) {
				st->Fo[(size_t)u * S + b] += st->wo[(size_t)u * m + v];
				st->Fi[(size_t)u * S + b] += st->wo[(size_t)v * m + u];
			}
		}
	}
	for (unsigned u = 0; u < m; u++) {
		int a = st->at[u];
		if (a < 0)
			continue;
		st->lout[a] += st->To[u] - st->Fo[(size_t)u * S + a];
		st->lin[a] += st->Ti[u] - st->Fi[(size_t)u * S + a];
		st->cross += st->ext[u];
		for (unsigned j = st->nstart[u]; j < st->nstart[u + 1]; j++) {
			unsigned v = st->nb[j];
			if (v > u && st->at[v] != a)
				st->cross += wsym(st, u, v);
		}
	}
	st->excess = 0;
	for (unsigned s = 0; s < S; s++)
		st->excess += over(st->lin[s], st->cap[s]) + over(st->lout[s], st->cap[s]);
}

/* Effect of moving u (on a) to b on the loads of a and b, given u's sums toward a and
 * b; updates the four loads in place and returns the cross-traffic change. */
static double move_loads(const struct srch *st, unsigned u, double foa, double fia, double fob, double fib, double *ina,
			 double *outa, double *inb, double *outb)
{
	*outa += -(st->To[u] - foa) + fia;
	*ina += -(st->Ti[u] - fia) + foa;
	*outb += (st->To[u] - fob) - fib;
	*inb += (st->Ti[u] - fib) - fob;
	return (foa + fia) - (fob + fib);
}

static double pen2(const struct srch *st, int a, int b, double ina, double outa, double inb, double outb)
{
	return over(ina, st->cap[a]) + over(outa, st->cap[a]) + over(inb, st->cap[b]) + over(outb, st->cap[b]);
}

static struct gain eval_move(struct srch *st, unsigned u, int b)
{
	unsigned S = st->S;
	int a = st->at[u];
	const double *fo = &st->Fo[(size_t)u * S], *fi = &st->Fi[(size_t)u * S];
	double ina = st->lin[a], outa = st->lout[a], inb = st->lin[b], outb = st->lout[b];
	double before = pen2(st, a, b, ina, outa, inb, outb);
	double dc = move_loads(st, u, fo[a], fi[a], fo[b], fi[b], &ina, &outa, &inb, &outb);
	st->budget--;
	return (struct gain){before - pen2(st, a, b, ina, outa, inb, outb), -dc};
}

/* u (on a) to v's server b and v to a. */
static struct gain eval_swap(struct srch *st, unsigned u, unsigned v)
{
	unsigned S = st->S, m = st->m;
	int a = st->at[u], b = st->at[v];
	const double *fou = &st->Fo[(size_t)u * S], *fiu = &st->Fi[(size_t)u * S];
	const double *fov = &st->Fo[(size_t)v * S], *fiv = &st->Fi[(size_t)v * S];
	double ina = st->lin[a], outa = st->lout[a], inb = st->lin[b], outb = st->lout[b];
	double before = pen2(st, a, b, ina, outa, inb, outb);
	double dc = move_loads(st, u, fou[a], fiu[a], fou[b], fiu[b], &ina, &outa, &inb, &outb);
	double vu = st->wo[(size_t)v * m + u], uv = st->wo[(size_t)u * m + v];
	/* v moves b -> a, after u sits on b: its sums toward a lose u, toward b gain it */
	dc += move_loads(st, v, fov[b] + vu, fiv[b] + uv, fov[a] - vu, fiv[a] - uv, &inb, &outb, &ina, &outa);
	st->budget--;
	return (struct gain){before - pen2(st, a, b, ina, outa, inb, outb), -dc};
}

static void apply_move(struct srch *st, unsigned u, int b)
{
	unsigned S = st->S, m = st->m;
	int a = st->at[u];
	if (a == b)
		return;
	const double *fo = &st->Fo[(size_t)u * S], *fi = &st->Fi[(size_t)u * S];
	st->excess -= over(st->lin[a], st->cap[a]) + over(st->lout[a], st->cap[a]) + over(st->lin[b], st->cap[b]) +
		      over(st->lout[b], st->cap[b]);
	st->cross +=
		move_loads(st, u, fo[a], fi[a], fo[b], fi[b], &st->lin[a], &st->lout[a], &st->lin[b], &st->lout[b]);
	st->excess += over(st->lin[a], st->cap[a]) + over(st->lout[a], st->cap[a]) + over(st->lin[b], st->cap[b]) +
		      over(st->lout[b], st->cap[b]);
	for (unsigned j = st->nstart[u]; j < st->nstart[u + 1]; j++) {
		unsigned v = st->nb[j];
		double vu = st->wo[(size_t)v * m + u], uv = st->wo[(size_t)u * m + v];
		st->Fo[(size_t)v * S + a] -= vu;
		st->Fo[(size_t)v * S + b] += vu;
		st->Fi[(size_t)v * S + a] -= uv;
		st->Fi[(size_t)v * S + b] += uv;
	}
	st->freec[a] += st->cores[u];
	st->freec[b] -= st->cores[u];
	st->at[u] = b;
}

static void logged_move(struct srch *st, unsigned u, int b)
{
	st->logu[st->logn] = u;
	st->logs[st->logn++] = st->at[u];
	apply_move(st, u, b);
}

static void rollback(struct srch *st, unsigned to)
{
	while (st->logn > to) {
		st->logn--;
		apply_move(st, st->logu[st->logn], st->logs[st->logn]);
	}
}

/* A link over its target at server s? */
static int hot(const struct srch *st, int s)
{
	return st->lin[s] > st->cap[s] + TOL || st->lout[s] > st->cap[s] + TOL;
}

/* One Kernighan-Lin pass. Returns 1 if it kept an improving prefix. */
static int kl_pass(struct srch *st)
{
	unsigned m = st->m, S = st->S;
	memset(st->locked, 0, m);
	st->logn = 0;
	struct gain total = {0, 0}, best = {0, 0};
	unsigned best_len = 0, steps = 0, patience = st->big ? 10 : m + 1;
	while (st->budget > 0) {
		struct gain bg = {-1e300, -1e300};
		int bu = -1, bv = -1, bt = -1;
		/* the emptiest server: a move there prepares later gains */
		int empt = 0, anyhot_free = 0;
		for (unsigned s = 1; s < S; s++)
			if (st->freec[s] > st->freec[empt])
				empt = (int)s;
		for (unsigned s = 0; s < S; s++)
			anyhot_free |= hot(st, (int)s) && st->freec[s] > 0;
		for (unsigned u = 0; u < m; u++) {
			if (st->locked[u])
				continue;
			int a = st->at[u];
			const double *du_o = &st->Fo[(size_t)u * S], *du_i = &st->Fi[(size_t)u * S];
			int ahot = hot(st, a);
			if (st->big && st->excess > TOL && !ahot && !anyhot_free)
				goto swaps; /* repairing: only moves that touch a hot link */
			for (unsigned t = 0; t < S; t++) {
				if ((int)t == a || st->freec[t] < st->cores[u])
					continue;
				if (st->big && st->excess > TOL ? !ahot && !hot(st, (int)t)
								: st->big && (int)t != empt && du_o[t] + du_i[t] <= 0)
					continue;
				struct gain g = eval_move(st, u, (int)t);
				if (bu < 0 || gain_better(g, bg)) {
					bg = g;
					bu = (int)u;
					bv = -1;
					bt = (int)t;
				}
			}
swaps:
			for (unsigned v = u + 1; v < m; v++) {
				int b = st->at[v];
				if (st->locked[v] || b == a)
					continue;
				int cu = st->cores[u], cv = st->cores[v];
				if (st->freec[b] + cv < cu || st->freec[a] + cu < cv)
					continue;
				if (st->big && st->freec[b] >= cu && st->freec[a] >= cv)
					continue; /* two moves do it, tentatively */
				if (st->big &&
				    (st->excess > TOL
					     ? !ahot && !hot(st, b)
					     : du_o[b] + du_i[b] <= 0 &&
						       st->Fo[(size_t)v * S + a] + st->Fi[(size_t)v * S + a] <= 0))
					continue;
				struct gain g = eval_swap(st, u, v);
				if (bu < 0 || gain_better(g, bg)) {
					bg = g;
					bu = (int)u;
					bv = (int)v;
					bt = b;
				}
			}
		}
		if (bu < 0)
			break;
		int a = st->at[bu];
		logged_move(st, (unsigned)bu, bt);
		st->locked[bu] = 1;
		if (bv >= 0) {
			logged_move(st, (unsigned)bv, a);
			st->locked[bv] = 1;
		}
		total.e += bg.e;
		total.c += bg.c;
		steps++;
		if (gain_better(total, best)) {
			best = total;
			best_len = st->logn;
			steps = 0;
			if (st->until_feasible && st->excess <= TOL)
				break;
		} else if (steps > patience) {
			break;
		}
	}
	rollback(st, best_len);
	return best_len > 0;
}

/* Groups: from unit u, the units of u's NF on u's server (when `sibs`) or u alone,
 * grown by the unit most connected to the group; every prefix of 2+ units is tried
 * on every server where the group has traffic (and the emptiest). Applies the best
 * improving group move; returns 1 if it found one. */
#define GMAX 8

static int group_phase(struct srch *st)
{
	unsigned m = st->m, S = st->S;
	unsigned g[GMAX];
	double *conn = e2_xcalloc(m + 1, sizeof *conn);
	char *in = e2_xcalloc(m + 1, 1);
	int *tries = e2_xcalloc(S, sizeof *tries);
	struct gain best = {0, 0};
	unsigned best_g[GMAX], best_k = 0;
	int best_t = -1;
	for (unsigned u = 0; u < m && st->budget > 0; u++)
		for (int sibs = 0; sibs < 2; sibs++) {
			unsigned k = 0;
			int cores = 0;
			if (sibs) {
				unsigned pn = st->ig->insts[st->mem[st->mstart[u]]].pnode;
				for (unsigned v = 0; v < m && k < GMAX; v++)
					if (st->at[v] == st->at[u] && st->ig->insts[st->mem[st->mstart[v]]].pnode == pn)
						g[k++] = v;
				if (k < 2 || g[0] != u)
					continue; /* no siblings, or tried from the first of them */
			} else {
				g[k++] = u;
			}
			memset(in, 0, m);
			memset(conn, 0, m * sizeof *conn);
			for (unsigned i = 0; i < k; i++) {
				in[g[i]] = 1;
				cores += st->cores[g[i]];
			}
			for (unsigned i = 0; i < k; i++)
				for (unsigned j = st->nstart[g[i]]; j < st->nstart[g[i] + 1]; j++)
					conn[st->nb[j]] += wsym(st, g[i], st->nb[j]);
			for (;;) {
				if (k >= 2) {
					/* targets: servers the group talks to or sits on, and the emptiest */
					memset(tries, 0, S * sizeof *tries);
					int empt = 0;
					for (unsigned s = 1; s < S; s++)
						if (st->freec[s] > st->freec[empt])
							empt = (int)s;
					tries[empt] = 1;
					for (unsigned i = 0; i < k; i++) {
						tries[st->at[g[i]]] = 1;
						for (unsigned j = st->nstart[g[i]]; j < st->nstart[g[i] + 1]; j++)
							tries[st->at[st->nb[j]]] = 1;
					}
					for (unsigned t = 0; t < S; t++) {
						if (!tries[t])
							continue;
						int need = 0, moving = 0;
						for (unsigned i = 0; i < k; i++)
							if (st->at[g[i]] != (int)t) {
								need += st->cores[g[i]];
								moving++;
							}
						if (!moving || need > st->freec[t])
							continue;
						double e0 = st->excess, c0 = st->cross;
						unsigned mark = st->logn;
						for (unsigned i = 0; i < k; i++)
							logged_move(st, g[i], (int)t);
						struct gain gg = {e0 - st->excess, c0 - st->cross};
						rollback(st, mark);
						st->budget -= k;
						if (gain_better(gg, best)) {
							best = gg;
							best_k = k;
							best_t = (int)t;
							memcpy(best_g, g, k * sizeof *g);
						}
					}
				}
				if (k == GMAX)
					break;
				int nx = -1;
				for (unsigned v = 0; v < m; v++)
					if (!in[v] && conn[v] > 0 && (nx < 0 || conn[v] > conn[nx]))
						nx = (int)v;
				if (nx < 0 || cores + st->cores[nx] > st->maxc)
					break;
				g[k++] = (unsigned)nx;
				in[nx] = 1;
				cores += st->cores[nx];
				for (unsigned j = st->nstart[nx]; j < st->nstart[nx + 1]; j++)
					conn[st->nb[j]] += wsym(st, (unsigned)nx, st->nb[j]);
			}
		}
	free(conn);
	free(in);
	free(tries);
	if (best_t < 0)
		return 0;
	st->logn = 0;
	for (unsigned i = 0; i < best_k; i++)
		apply_move(st, best_g[i], best_t);
	return 1;
}

static void improve(struct srch *st)
{
	for (unsigned round = 0; round < 50 && st->budget > 0; round++) {
		unsigned passes = 0;
		while (passes++ < 30 && st->budget > 0 && !(st->until_feasible && st->excess <= TOL) && kl_pass(st))
			;
		if ((st->until_feasible && st->excess <= TOL) || !group_phase(st))
			break;
	}
}

/* ---------------------------------------------------------------- starts */

static uint64_t xs(uint64_t *s)
{
	*s ^= *s << 13;
	*s ^= *s >> 7;
	*s ^= *s << 17;
	return *s;
}

/* A unit's out-neighbours, last listed first: equal weights then leave in the order
 * this search has always visited them. */
static unsigned unit_out_edges(void *ctx, unsigned v, unsigned *to, double *weight)
{
	const struct srch *st = ctx;
	unsigned c = 0;
	for (unsigned j = st->nstart[v + 1]; j-- > st->nstart[v];) {
		unsigned x = st->nb[j];
		if (st->wo[(size_t)v * st->m + x] > 0) {
			to[c] = x;
			weight[c++] = st->wo[(size_t)v * st->m + x];
		}
	}
	return c;
}

/* Depth-first order of units from the external ports along traffic, heaviest first;
 * units no port reaches follow in index order. */
static void dfs_units(const struct srch *st, unsigned *order)
{
	struct e2_igraph *ig = st->ig;
	unsigned m = st->m, nroots = 0, max_out = 0;
	char *fed = e2_xcalloc(m + 1, 1);
	unsigned *roots = e2_xcalloc(2 * (size_t)m + 1, sizeof *roots);
	for (unsigned e = 0; e < ig->edges_count; e++)
		if (st->uof[ig->edges[e].from] == NONE && st->uof[ig->edges[e].to] != NONE)
			fed[st->uof[ig->edges[e].to]] = 1;
	for (unsigned u = 0; u < m; u++) /* roots: units fed by external ports, by index, then all */
		if (fed[u])
			roots[nroots++] = u;
	for (unsigned u = 0; u < m; u++) {
		roots[nroots++] = u;
		if (st->nstart[u + 1] - st->nstart[u] > max_out)
			max_out = st->nstart[u + 1] - st->nstart[u];
	}
	e2__dfs_order(m, roots, nroots, unit_out_edges, (void *)st, max_out, order);
	free(fed);
	free(roots);
}

/* Greedy affinity packing in the given unit order: each unit goes where it adds the
 * least (link excess, cross traffic) among servers with its cores, ties to the fuller
 * server. -1 if some unit finds no server. */
static int greedy_pack(struct srch *st, const unsigned *order)
{
	unsigned m = st->m, S = st->S;
	for (unsigned u = 0; u < m; u++)
		st->at[u] = -1;
	srch_sync(st);
	for (unsigned i = 0; i < m; i++) {
		unsigned u = order[i];
		int best = -1;
		double be = 0, bc = 0;
		for (unsigned t = 0; t < S; t++) {
			if (st->freec[t] < st->cores[u])
				continue;
			/* placing u on t: its traffic with placed units on other servers and the
             * external crosses; with units on t it stays */
			double in_t = st->lin[t] + st->Ti[u] - st->Fi[(size_t)u * S + t];
			double out_t = st->lout[t] + st->To[u] - st->Fo[(size_t)u * S + t];
			double e = over(in_t, st->cap[t]) + over(out_t, st->cap[t]) - over(st->lin[t], st->cap[t]) -
				   over(st->lout[t], st->cap[t]);
			double c = -(st->Fo[(size_t)u * S + t] + st->Fi[(size_t)u * S + t]);
			if (best < 0 || e < be - TOL ||
			    (e <= be + TOL && (c < bc - TOL || (c <= bc + TOL && st->freec[t] < st->freec[best])))) {
				best = (int)t;
				be = e;
				bc = c;
			}
		}
		if (best < 0)
			return -1;
		st->at[u] = best;
		srch_sync(st); /* simple and exact; starts are few */
	}
	return 0;
}

/* Greedy packing by cores only: best-fit decreasing (the fullest server that fits). */
static int bfd_pack(struct srch *st, const unsigned *by_size)
{
	unsigned m = st->m, S = st->S;
	for (unsigned s = 0; s < S; s++)
		st->freec[s] = (int)st->rack->cores[s];
	for (unsigned i = 0; i < m; i++) {
		unsigned u = by_size[i];
		int best = -1;
		for (unsigned t = 0; t < S; t++)
			if (st->freec[t] >= st->cores[u] && (best < 0 || st->freec[t] < st->freec[best]))
				best = (int)t;
		if (best < 0)
			return -1;
		st->at[u] = best;
		st->freec[best] -= st->cores[u];
	}
	return 0;
}

static int random_pack(struct srch *st, uint64_t seed)
{
	unsigned m = st->m, S = st->S;
	uint64_t r = seed * 0x9E3779B97F4A7C15ull + 0x1234567ull;
	unsigned *ord = e2_xmalloc((m + 1) * sizeof *ord);
	for (unsigned i = 0; i < m; i++)
		ord[i] = i;
	for (unsigned i = m; i > 1; i--) {
		unsigned j = (unsigned)(xs(&r) % i), t = ord[i - 1];
		ord[i - 1] = ord[j];
		ord[j] = t;
	}
	/* larger units first so that random order rarely strands them */
	for (unsigned i = 1; i < m; i++)
		for (unsigned j = i; j > 0 && st->cores[ord[j - 1]] < st->cores[ord[j]]; j--) {
			unsigned t = ord[j];
			ord[j] = ord[j - 1];
			ord[j - 1] = t;
		}
	for (unsigned s = 0; s < S; s++)
		st->freec[s] = (int)st->rack->cores[s];
	int rc = 0;
	unsigned *cand = e2_xmalloc(S * sizeof *cand);
	for (unsigned i = 0; i < m && rc == 0; i++) {
		unsigned u = ord[i], c = 0;
		for (unsigned t = 0; t < S; t++)
			if (st->freec[t] >= st->cores[u])
				cand[c++] = t;
		if (!c) {
			rc = -1;
			break;
		}
		st->at[u] = (int)cand[xs(&r) % c];
		st->freec[st->at[u]] -= st->cores[u];
	}
	free(cand);
	free(ord);
	return rc;
}

/* Units by cores, largest first; ties in the given order. */
static void by_size(const struct srch *st, const unsigned *base, unsigned *out)
{
	unsigned m = st->m;
	memcpy(out, base, m * sizeof *out);
	for (unsigned i = 1; i < m; i++)
		for (unsigned j = i; j > 0 && st->cores[out[j - 1]] < st->cores[out[j]]; j--) {
			unsigned t = out[j];
			out[j] = out[j - 1];
			out[j - 1] = t;
		}
}

/* ---------------------------------------------------------------- exact packing */

struct bt {
	const int *c;
	int *freec;
	int *at;
	unsigned m, S;
	long nodes;
};

static int bt_rec(struct bt *b, unsigned i)
{
	if (i == b->m)
		return 1;
	if (--b->nodes < 0)
		return -1;
	for (unsigned s = 0; s < b->S; s++) {
		if (b->freec[s] < b->c[i])
			continue;
		int dup = 0; /* servers with equal free cores are interchangeable */
		for (unsigned t = 0; t < s && !dup; t++)
			dup = b->freec[t] == b->freec[s];
		if (dup)
			continue;
		b->freec[s] -= b->c[i];
		b->at[i] = (int)s;
		int r = bt_rec(b, i + 1);
		b->freec[s] += b->c[i];
		if (r != 0)
			return r;
	}
	return 0;
}

static int cmp_int_desc(const void *x, const void *y)
{
	int a = *(const int *)x, b = *(const int *)y;
	return (a < b) - (a > b);
}

static void write_back(struct srch *st)
{
	for (unsigned i = 0; i < st->n; i++)
		st->ig->insts[i].server = st->uof[i] == NONE ? -1 : st->at[st->uof[i]];
}

static void read_in(struct srch *st)
{
	for (unsigned u = 0; u < st->m; u++)
		st->at[u] = st->ig->insts[st->mem[st->mstart[u]]].server;
}

int e2__place_feasible(struct e2_igraph *ig, const struct e2_rack *rack, struct e2_err *err)
{
	struct srch st;
	srch_init(&st, ig, rack, 0);
	unsigned m = st.m, S = st.S;
	/* only the unplaced units are packed, into what the placed ones leave */
	read_in(&st);
	int *freec = e2_xcalloc(S, sizeof *freec);
	for (unsigned s = 0; s < S; s++)
		freec[s] = (int)rack->cores[s];
	unsigned *todo = e2_xcalloc(m + 1, sizeof *todo), k = 0;
	long need = 0, have = 0;
	int largest = -1, maxfree = 0;
	for (unsigned u = 0; u < m; u++) {
		if (st.at[u] >= 0 && (unsigned)st.at[u] < S) {
			freec[st.at[u]] -= st.cores[u];
			continue;
		}
		todo[k++] = u;
		need += st.cores[u];
		if (largest < 0 || st.cores[u] > st.cores[largest])
			largest = (int)u;
	}
	for (unsigned s = 0; s < S; s++) {
		have += freec[s] > 0 ? freec[s] : 0;
		if (freec[s] > maxfree)
			maxfree = freec[s];
	}
	int rc = -1;
	if (k == 0) {
		rc = 0;
		goto out;
	}
	/* sorted by size; the exact search works on that order */
	for (unsigned i = 1; i < k; i++)
		for (unsigned j = i; j > 0 && st.cores[todo[j - 1]] < st.cores[todo[j]]; j--) {
			unsigned t = todo[j];
			todo[j] = todo[j - 1];
			todo[j - 1] = t;
		}
	const char *why = NULL;
	const struct e2_inst *big = &ig->insts[st.mem[st.mstart[largest]]];
	int big_grouped =
		st.mstart[largest + 1] - st.mstart[largest] > 1 || e2__grouped(ig, st.mem[st.mstart[largest]]);
	if (need > have) {
		/* name the NF that needs the most */
		unsigned worst = 0;
		long worst_c = -1;
		for (unsigned p = 0; p < ig->pg->nodes_count; p++) {
			long c = 0;
			for (unsigned i = 0; i < ig->insts_count; i++)
				if (ig->insts[i].pnode == p && ig->insts[i].server < 0 && e2__is_nf(ig, i))
					c += ig->insts[i].cores;
			if (c > worst_c) {
				worst_c = c;
				worst = p;
			}
		}
		char first[64] = "", last[64] = "";
		for (unsigned i = 0; i < ig->insts_count; i++)
			if (ig->insts[i].pnode == worst && ig->insts[i].server < 0) {
				if (!first[0])
					snprintf(first, sizeof first, "%s", ig->insts[i].name);
				snprintf(last, sizeof last, "%s", ig->insts[i].name);
			}
		e2_seterr(err,
			  "demand cannot fit: the NF instances need %ld cores but the rack has %ld free (the most: "
			  "'%s', %ld cores in %s..%s)",
			  need, have, ig->pg->nodes[worst].name, worst_c, first, last);
		goto out;
	}
	if (st.cores[largest] > maxfree) {
		e2_seterr(err,
			  "demand cannot fit: instance '%s' needs %d cores%s but the largest server has %d free "
			  "(%ld free cores left in the rack)",
			  big->name, st.cores[largest],
			  big_grouped ? " (with its group: the NF cannot scale across servers)" : "", maxfree, have);
		goto out;
	}
	/* best-fit decreasing */
	int *f2 = e2_xcalloc(S, sizeof *f2);
	memcpy(f2, freec, S * sizeof *f2);
	int ok = 1;
	for (unsigned i = 0; i < k && ok; i++) {
		unsigned u = todo[i];
		int best = -1;
		for (unsigned t = 0; t < S; t++)
			if (f2[t] >= st.cores[u] && (best < 0 || f2[t] < f2[best]))
				best = (int)t;
		if (best < 0)
			ok = 0;
		else {
			st.at[u] = best;
			f2[best] -= st.cores[u];
		}
	}
	free(f2);
	if (ok) {
		rc = 0;
		goto out;
	}
	/* exact: every packing, up to a node limit */
	int *c = e2_xcalloc(k, sizeof *c), *bat = e2_xcalloc(k, sizeof *bat), *f3 = e2_xcalloc(S, sizeof *f3);
	for (unsigned i = 0; i < k; i++)
		c[i] = st.cores[todo[i]];
	memcpy(f3, freec, S * sizeof *f3);
	struct bt b = {c, f3, bat, k, S, 2000000 / (S > 4 ? S * S / 16 : 1)}; /* some 0.1 s at most */
	int r = bt_rec(&b, 0);
	if (r == 1) {
		for (unsigned i = 0; i < k; i++)
			st.at[todo[i]] = bat[i];
		rc = 0;
	} else if (r == 0) {
		why = "no assignment of the instances to servers fits their cores";
	}
	free(c);
	free(bat);
	free(f3);
	if (rc == 0 || why) {
		if (why) {
			char sizes[160] = "", frees[160] = "";
			size_t used = 0;
			int *cs = e2_xcalloc(k, sizeof *cs);
			for (unsigned i = 0; i < k; i++)
				cs[i] = st.cores[todo[i]];
			qsort(cs, k, sizeof *cs, cmp_int_desc);
			for (unsigned i = 0; i < k && used < sizeof sizes - 8; i++)
				used += (size_t)snprintf(sizes + used, sizeof sizes - used, "%s%d", i ? " " : "",
							 cs[i]);
			free(cs);
			qsort(freec, S, sizeof *freec, cmp_int_desc);
			used = 0;
			for (unsigned s = 0; s < S && used < sizeof frees - 8; s++)
				used += (size_t)snprintf(frees + used, sizeof frees - used, "%s%d", s ? " " : "",
							 freec[s]);
			e2_seterr(err, "demand cannot fit: %s (instances of %s cores; servers with %s free)", why,
				  sizes, frees);
		}
		goto out;
	}
	/* the node limit: the MIP, on cores alone, decides */
	{
		write_back(&st);
		struct e2_rack loose = *rack;
		loose.nic_gbps = e2_xmalloc(S * sizeof *loose.nic_gbps);
		for (unsigned s = 0; s < S; s++)
			loose.nic_gbps[s] = 1e12;
		struct e2_err merr;
		double tl = e2__mip_fallback_s(rack);
		int mr = tl > 0 ? e2_place_mip(ig, &loose, tl, NULL, NULL, &merr) : -1;
		free(loose.nic_gbps);
		if (mr == 0) {
			read_in(&st);
			rc = 0;
		} else {
			e2_seterr(
				err,
				"demand cannot fit: no packing of %u instances into %u servers found (%ld cores needed, "
				"%ld free)%s%s",
				k, S, need, have, tl > 0 ? "; MIP: " : "", tl > 0 ? merr.msg : "");
		}
	}
out:
	if (rc == 0)
		write_back(&st);
	free(freec);
	free(todo);
	srch_free(&st);
	return rc;
}

double e2__link_excess(const struct e2_igraph *ig, const struct e2_rack *rack)
{
	unsigned S = rack->servers;
	double *in = e2_xcalloc(S, sizeof *in), *out = e2_xcalloc(S, sizeof *out), x = 0;
	for (unsigned e = 0; e < ig->edges_count; e++) {
		int a = ig->insts[ig->edges[e].from].server, b = ig->insts[ig->edges[e].to].server;
		if (a == b && a >= 0)
			continue;
		if (a >= 0)
			out[a] += ig->edges[e].rate_gbps;
		if (b >= 0)
			in[b] += ig->edges[e].rate_gbps;
	}
	for (unsigned s = 0; s < S; s++) {
		double cap = rack->nic_gbps[s] * link_target(rack);
		x += over(in[s], cap) + over(out[s], cap);
	}
	free(in);
	free(out);
	return x;
}

double e2__mip_fallback_s(const struct e2_rack *rack)
{
	return rack->mip_fallback_s == 0 ? 2.0 : rack->mip_fallback_s;
}

double e2__place_search(struct e2_igraph *ig, const struct e2_rack *rack, double target, int flags, long budget)
{
	struct srch st;
	srch_init(&st, ig, rack, target);
	int restarts = flags & E2__SEARCH_RESTARTS;
	st.until_feasible = (flags & E2__SEARCH_UNTIL_FEASIBLE) != 0;
	unsigned m = st.m;
	if (m == 0) {
		srch_free(&st);
		return 0;
	}
	st.budget = budget;
	int *best = e2_xmalloc(m * sizeof *best), *tried = e2_xmalloc(8 * (size_t)m * sizeof *tried);
	unsigned ntried = 0;
	double be = 0, bc = 0;
	int have = 0;
	unsigned *dfs = e2_xmalloc(m * sizeof *dfs), *ord = e2_xmalloc(m * sizeof *ord),
		 *idx = e2_xmalloc(m * sizeof *idx);
	dfs_units(&st, dfs);
	for (unsigned u = 0; u < m; u++)
		idx[u] = u;
	unsigned randoms = m <= 40 ? 8 : 0;
	for (unsigned k = 0; k < (restarts ? 6 + randoms : 1); k++) {
		if (k > 0 && st.budget <= 0)
			break;
		int ok;
		switch (k) {
		case 0:
			read_in(&st);
			ok = 1;
			break;
		case 1: ok = greedy_pack(&st, dfs) == 0; break;
		case 2:
			by_size(&st, dfs, ord);
			ok = greedy_pack(&st, ord) == 0;
			break;
		case 3: ok = greedy_pack(&st, idx) == 0; break;
		case 4:
			by_size(&st, dfs, ord);
			ok = bfd_pack(&st, ord) == 0;
			break;
		case 5:
			by_size(&st, idx, ord);
			ok = bfd_pack(&st, ord) == 0;
			break;
		default: ok = random_pack(&st, k) == 0; break;
		}
		if (!ok)
			continue;
		/* the same start twice gives the same result */
		int dup = 0;
		for (unsigned t = 0; t < ntried && !dup && t < 8; t++)
			dup = !memcmp(tried + (size_t)t * m, st.at, m * sizeof *st.at);
		if (dup)
			continue;
		if (ntried < 8)
			memcpy(tried + (size_t)ntried++ * m, st.at, m * sizeof *st.at);
		srch_sync(&st);
		improve(&st);
		srch_sync(&st); /* exact figures, no drift */
		if (!have || st.excess < be - TOL || (st.excess <= be + TOL && st.cross < bc - TOL)) {
			have = 1;
			be = st.excess;
			bc = st.cross;
			memcpy(best, st.at, m * sizeof *best);
		}
	}
	if (have) {
		memcpy(st.at, best, m * sizeof *best);
		write_back(&st);
	}
	free(best);
	free(tried);
	free(dfs);
	free(ord);
	free(idx);
	srch_free(&st);
	return be;
}
