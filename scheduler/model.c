/* SPDX-License-Identifier: BSD-3-Clause */
/* The Alpine MIP on a tree, built through CBC's C interface.
 *
 * Rate-flow formulation (README.md, "The model"): per module a binary Q_j (task head)
 * and a rate rho_j (root-equivalent packets per kilocycle of the task holding j).
 * Drops happen only at the input and at queues, so rho_j = rho_parent unless Q_j = 1.
 * Modules where no drop is allowed share their parent's rate variable, and modules
 * where a queue can never pay off have Q fixed, which keeps the model O(n) with
 * few binaries. No task-membership matrix is needed: CPU and throughput of every
 * class are linear in the rates, and a weighted-fair scheduler with cycle
 * accounting realises any feasible rate vector with shares equal to each task's
 * cycles. Products Q_j*rho (queue overhead) and W_jw*rho (multi-worker) are
 * linearised exactly with McCormick bounds, since one factor is binary. */
#include "alpine.h"

#include <errno.h>
#include <math.h>
#include <poll.h>
#include <signal.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include <Cbc_C_Interface.h>

typedef struct {
	const alp_graph *g;
	int n, K;
	const bool *slo_on;
	signed char *qfix; /* -1 free, 0 never a head, 1 always a head */
	bool *droppable;
	bool *nodrop;
	int *rep;  /* module whose rate variable j uses */
	int *seg;  /* nearest ancestor-or-self with qfix != 0 (worker segment) */
	int *rank; /* [nclasses] priority rank, 0 = lowest */
	int *H;    /* [n] highest rank visiting the module */
	int maxrank;
	int *rcol;  /* [n] rate column (root and droppable modules) */
	int *qcol;  /* [n] K == 1: Q column or -1 */
	int *ycol;  /* [n] K == 1: Q*rho column or -1 */
	int *acol;  /* [n*K] A_jw, K > 1 */
	int *wcol;  /* [n*K] W_jw, K > 1 */
	int *zcol;  /* [n*K] rho*W per segment head */
	int *yqcol; /* [n*K] A*rho per segment head */
	int ucol[64];
	double R, Rin; /* rate bound; offered load (INFINITY = saturating) */
	double qk;     /* queue cycles in kilocycles */
	int ncols;
	bool relax; /* LP relaxation: integers become continuous */
	Cbc_Model *m;
	/* row buffer */
	int rn;
	int *ri;
	double *rv;
	char diag[512];
} model;

#define ALP_MIN_SERVED 1e-4

static double kc(double cycles)
{
	return cycles / 1000.0;
}

static int add_col(model *md, double lb, double ub, double obj, bool integer)
{
	Cbc_addCol(md->m, "", lb, ub, obj, integer && !md->relax ? 1 : 0, 0, NULL, NULL);
	return md->ncols++;
}

static void row_begin(model *md)
{
	md->rn = 0;
}
static void row_add(model *md, int col, double v)
{
	if (col < 0 || v == 0)
		return;
	for (int i = 0; i < md->rn; i++)
		if (md->ri[i] == col) {
			md->rv[i] += v;
			return;
		}
	md->ri[md->rn] = col;
	md->rv[md->rn++] = v;
}
static void row_end(model *md, char sense, double rhs)
{
	Cbc_addRow(md->m, "", md->rn, md->ri, md->rv, sense, rhs);
}

static int rate_col(const model *md, int j)
{
	return md->rcol[md->rep[j]];
}

/* Q_j as a linear expression: adds coef*Q_j to the row, returns the constant part. */
static double row_add_Q(model *md, int j, double coef)
{
	if (md->qfix[j] == 1)
		return coef;
	if (md->qfix[j] == 0)
		return 0;
	if (md->K == 1)
		row_add(md, md->qcol[j], coef);
	else
		for (int w = 0; w < md->K; w++)
			row_add(md, md->acol[j * md->K + w], coef);
	return 0;
}

/* rho_j * Q_j (queue overhead at j) */
static void row_add_Qrho(model *md, int j, double coef)
{
	if (md->qfix[j] == 0 || j == md->g->root)
		return;
	if (md->K == 1) {
		if (md->qfix[j] == 1)
			row_add(md, rate_col(md, j), coef);
		else
			row_add(md, md->ycol[j], coef);
	} else
		for (int w = 0; w < md->K; w++)
			row_add(md, md->yqcol[j * md->K + w], coef);
}

static void mccormick(model *md, int prod, int bin, int rate, double R)
{
	/* prod = bin * rate, bin in {0,1}, rate in [0,R] */
	row_begin(md);
	row_add(md, prod, 1);
	row_add(md, bin, -R);
	row_end(md, 'L', 0);
	row_begin(md);
	row_add(md, prod, 1);
	row_add(md, rate, -1);
	row_end(md, 'L', 0);
	row_begin(md);
	row_add(md, prod, 1);
	row_add(md, rate, -1);
	row_add(md, bin, -R);
	row_end(md, 'G', -R);
}

static void class_cpu_row(model *md, int a, double coef)
{
	const alp_graph *g = md->g;
	const alp_class *c = &g->classes[a];
	for (int i = 0; i < c->len; i++) {
		int j = c->path[i];
		/* queue overhead is scheduling cost, not the class's processing: counting
         * it would let idle queues "burn" cycles towards a ratio */
		row_add(md, rate_col(md, j), coef * c->fraction * kc(g->mods[j].cycles));
	}
}

static void class_rate_row(model *md, int a, double coef)
{
	const alp_class *c = &md->g->classes[a];
	row_add(md, rate_col(md, c->path[c->len - 1]), coef * c->fraction);
}

static void derive(model *md, const signed char *qforce)
{
	const alp_graph *g = md->g;
	int n = g->n, nc = g->nclasses;
	/* priority ranks: longest chain below a class */
	for (int a = 0; a < nc; a++)
		md->rank[a] = 0;
	bool *in_slo = e2_xcalloc((size_t)nc, sizeof(bool));
	for (bool changed = true; changed;) {
		changed = false;
		for (int s = 0; s < g->nslos; s++) {
			const alp_slo *o = &g->slos[s];
			if (!md->slo_on[s])
				continue;
			for (int i = 0; i < o->n; i++)
				in_slo[o->classes[i]] = true;
			if (o->kind != ALP_SLO_PRIORITY)
				continue;
			for (int i = 0; i < o->n; i++)
				for (int k = i + 1; k < o->n; k++)
					if (md->rank[o->classes[i]] < md->rank[o->classes[k]] + 1) {
						md->rank[o->classes[i]] = md->rank[o->classes[k]] + 1;
						changed = true;
					}
		}
	}
	md->maxrank = 0;
	for (int a = 0; a < nc; a++)
		if (md->rank[a] > md->maxrank)
			md->maxrank = md->rank[a];
	for (int j = 0; j < n; j++) {
		md->H[j] = 0;
		md->nodrop[j] = false;
		for (int a = 0; a < nc; a++)
			if (alp_class_visits(g, a, j)) {
				if (md->rank[a] > md->H[j])
					md->H[j] = md->rank[a];
				if (!in_slo[a])
					md->nodrop[j] = true; /* classes without SLOs are never dropped on purpose */
			}
		if (md->H[j] > 0)
			md->nodrop[j] = true; /* higher-priority traffic is served in full */
	}
	free(in_slo);
	for (int j = 0; j < n; j++) {
		const alp_module *mj = &g->mods[j];
		int p = mj->parent;
		if (qforce && qforce[j] >= 0)
			md->qfix[j] = qforce[j];
		else if (mj->schedulable)
			md->qfix[j] = 1;
		else if (p >= 0 && md->H[j] < md->H[p])
			md->qfix[j] = 1; /* lower-priority traffic must leave the higher task here */
		else if (g->lambda[j] <= 0)
			md->qfix[j] = 0;
		else if (md->K == 1 && md->nodrop[j])
			md->qfix[j] = 0; /* one worker: a queue without drops only costs */
		else
			md->qfix[j] = -1;
		if (j == g->root || mj->schedulable)
			md->qfix[j] = 1;
		md->droppable[j] = j != g->root && md->qfix[j] != 0 && !md->nodrop[j];
	}
	/* rep/seg in an order where parents come first: walk from the root */
	int *stack = e2_xmalloc((size_t)n * sizeof(int)), sp = 0;
	stack[sp++] = g->root;
	while (sp) {
		int j = stack[--sp];
		int p = g->mods[j].parent;
		md->rep[j] = (j == g->root || md->droppable[j]) ? j : md->rep[p];
		md->seg[j] = (md->qfix[j] != 0) ? j : md->seg[p];
		for (int c = 0; c < g->mods[j].nchildren; c++)
			stack[sp++] = g->mods[j].children[c];
	}
	free(stack);
}

static void model_free(model *md)
{
	if (md->m)
		Cbc_deleteModel(md->m);
	free(md->qfix);
	free(md->droppable);
	free(md->nodrop);
	free(md->rep);
	free(md->seg);
	free(md->rank);
	free(md->H);
	free(md->rcol);
	free(md->qcol);
	free(md->ycol);
	free(md->acol);
	free(md->wcol);
	free(md->zcol);
	free(md->yqcol);
	free(md->ri);
	free(md->rv);
}

/* Builds the model. mode 0: maximise throughput (small tie-break on tasks);
 * mode 3: the same as an LP relaxation;
 * mode 1: minimise tasks with throughput >= tmin; mode 2: feasibility only. */
static int model_build(model *md, const alp_graph *g, const bool *slo_on, const signed char *qforce, int mode,
		       double tmin)
{
	memset(md, 0, sizeof(*md));
	int n = g->n, K = g->workers;
	md->relax = mode == 3;
	if (mode == 3)
		mode = 0;
	md->g = g;
	md->n = n;
	md->K = K;
	md->slo_on = slo_on;
	md->qfix = e2_xcalloc((size_t)n, 1);
	md->droppable = e2_xcalloc((size_t)n, sizeof(bool));
	md->nodrop = e2_xcalloc((size_t)n, sizeof(bool));
	md->rep = e2_xcalloc((size_t)n, sizeof(int));
	md->seg = e2_xcalloc((size_t)n, sizeof(int));
	md->rank = e2_xcalloc((size_t)g->nclasses, sizeof(int));
	md->H = e2_xcalloc((size_t)n, sizeof(int));
	md->rcol = e2_xmalloc((size_t)n * sizeof(int));
	md->qcol = e2_xmalloc((size_t)n * sizeof(int));
	md->ycol = e2_xmalloc((size_t)n * sizeof(int));
	md->acol = e2_xmalloc((size_t)n * (size_t)K * sizeof(int));
	md->wcol = e2_xmalloc((size_t)n * (size_t)K * sizeof(int));
	md->zcol = e2_xmalloc((size_t)n * (size_t)K * sizeof(int));
	md->yqcol = e2_xmalloc((size_t)n * (size_t)K * sizeof(int));
	md->ri = e2_xmalloc((size_t)(4 * n * (K + 1) + 16) * sizeof(int));
	md->rv = e2_xmalloc((size_t)(4 * n * (K + 1) + 16) * sizeof(double));
	if (!md->qfix || !md->droppable || !md->nodrop || !md->rep || !md->seg || !md->rank || !md->H || !md->rcol ||
	    !md->qcol || !md->ycol || !md->acol || !md->wcol || !md->zcol || !md->yqcol || !md->ri || !md->rv) {
		snprintf(md->diag, sizeof(md->diag), "out of memory");
		return -1;
	}
	for (int i = 0; i < n; i++)
		md->rcol[i] = md->qcol[i] = md->ycol[i] = -1;
	for (int i = 0; i < n * K; i++)
		md->acol[i] = md->wcol[i] = md->zcol[i] = md->yqcol[i] = -1;
	derive(md, qforce);

	const alp_module *rootm = &g->mods[g->root];
	md->qk = kc(g->queue_cycles);
	md->Rin = g->input_mpps > 0 ? g->input_mpps / g->cpu_ghz : INFINITY;
	md->R = fmin(1.0 / kc(rootm->cycles), md->Rin);
	double R = md->R;
	if (md->maxrank > 0 && !isfinite(md->Rin)) {
		snprintf(md->diag, sizeof(md->diag),
			 "priority SLOs need a finite offered load: set input_mpps (with a saturating "
			 "input the higher class takes every cycle)");
		return -2;
	}
	if (md->maxrank > 0 && md->Rin > R * (1 + 1e-9)) {
		snprintf(md->diag, sizeof(md->diag),
			 "priority SLOs: the input module alone cannot keep up with input_mpps");
		return -2;
	}

	md->m = Cbc_newModel();
	Cbc_setLogLevel(md->m, 0);
	double eps = 0;
	if (mode == 0) {
		int nfree = 0;
		for (int j = 0; j < n; j++)
			nfree += md->qfix[j] == -1;
		eps = nfree ? 1e-4 * R / nfree : 0; /* << one task's worth of throughput */
	}
	/* rates */
	for (int j = 0; j < n; j++)
		if (j == g->root || md->droppable[j]) {
			double lb = 0;
			if (j == g->root && md->maxrank > 0)
				lb = md->Rin; /* served in full: the input task carries top-priority traffic */
			md->rcol[j] = add_col(md, lb, R, 0, false);
		}
	/* task heads */
	for (int j = 0; j < n; j++) {
		if (K == 1) {
			if (md->qfix[j] == -1)
				md->qcol[j] = add_col(md, 0, 1, mode == 1 ? 1 : eps, true);
			continue;
		}
		if (md->qfix[j] == 0)
			continue;
		for (int w = 0; w < K; w++) {
			double ub = (j == g->root && w != 0) ? 0 : 1;
			double lb = (j == g->root && w == 0) ? 1 : 0;
			md->acol[j * K + w] = add_col(md, lb, ub, mode == 1 ? 1 : eps, true);
		}
		row_begin(md);
		for (int w = 0; w < K; w++)
			row_add(md, md->acol[j * K + w], 1);
		row_end(md, md->qfix[j] == 1 ? 'E' : 'L', 1);
	}
	/* flow: rates only fall, and only at task heads */
	for (int j = 0; j < n; j++) {
		if (!md->droppable[j])
			continue;
		int rp = rate_col(md, g->mods[j].parent);
		row_begin(md);
		row_add(md, md->rcol[j], 1);
		row_add(md, rp, -1);
		row_end(md, 'L', 0);
		if (md->qfix[j] != 1) {
			row_begin(md);
			row_add(md, md->rcol[j], 1);
			row_add(md, rp, -1);
			double c = row_add_Q(md, j, R);
			row_end(md, 'G', -c);
		}
	}
	/* queue overhead products (K == 1) */
	if (K == 1)
		for (int j = 0; j < n; j++)
			if (md->qfix[j] == -1) {
				md->ycol[j] = add_col(md, 0, R, 0, false);
				mccormick(md, md->ycol[j], md->qcol[j], rate_col(md, j), R);
			}
	/* worker segments (K > 1) */
	if (K > 1) {
		int *stack = e2_xmalloc((size_t)n * sizeof(int)), sp = 0;
		stack[sp++] = g->root;
		while (sp) {
			int s = stack[--sp];
			for (int c = 0; c < g->mods[s].nchildren; c++)
				stack[sp++] = g->mods[s].children[c];
			if (md->qfix[s] == 0)
				continue;
			int ps = s == g->root ? -1 : md->seg[g->mods[s].parent];
			for (int w = 0; w < K; w++) {
				int a = md->acol[s * K + w];
				if (md->qfix[s] == 1) {
					md->wcol[s * K + w] = a;
				} else {
					int wc = add_col(md, 0, 1, 0, false);
					md->wcol[s * K + w] = wc;
					int pw = md->wcol[ps * K + w];
					/* Q_s = 1: W = A; Q_s = 0: W = W(parent segment) */
					row_begin(md);
					row_add(md, wc, 1);
					row_add(md, a, -1);
					row_end(md, 'G', 0);
					row_begin(md);
					row_add(md, wc, 1);
					row_add(md, a, -1);
					row_add_Q(md, s, 1);
					row_end(md, 'L', 1);
					row_begin(md);
					row_add(md, wc, 1);
					row_add(md, pw, -1);
					row_add_Q(md, s, 1);
					row_end(md, 'G', 0);
					row_begin(md);
					row_add(md, wc, 1);
					row_add(md, pw, -1);
					row_add_Q(md, s, -1);
					row_end(md, 'L', 0);
				}
				int z = add_col(md, 0, R, 0, false);
				md->zcol[s * K + w] = z;
				mccormick(md, z, md->wcol[s * K + w], rate_col(md, s), R);
				if (s != g->root) {
					if (md->qfix[s] == 1) {
						md->yqcol[s * K + w] = z;
					} else {
						int y = add_col(md, 0, R, 0, false);
						md->yqcol[s * K + w] = y;
						mccormick(md, y, a, rate_col(md, s), R);
					}
				}
			}
		}
		free(stack);
	}
	/* CPU budget per worker; a worker with spare cycles (u = 1) must not drop */
	double *segc = e2_xcalloc((size_t)n, sizeof(double));
	for (int j = 0; j < n; j++)
		segc[md->seg[j]] += kc(g->mods[j].cycles) * g->lambda[j];
	for (int w = 0; w < K; w++) {
		bool root_here = w == 0;
		bool may_idle = !(root_here && !isfinite(md->Rin)) && !(root_here && md->Rin > R * (1 + 1e-9));
		md->ucol[w] = may_idle ? add_col(md, 0, 1, 0, true) : -1;
		row_begin(md);
		if (K == 1) {
			for (int j = 0; j < n; j++) {
				row_add(md, rate_col(md, j), kc(g->mods[j].cycles) * g->lambda[j]);
				row_add_Qrho(md, j, md->qk * g->lambda[j]);
			}
		} else {
			for (int s = 0; s < n; s++)
				if (md->qfix[s] != 0) {
					row_add(md, md->zcol[s * K + w], segc[s]);
					if (s != g->root)
						row_add(md, md->yqcol[s * K + w], md->qk * g->lambda[s]);
				}
		}
		int save = md->rn;
		row_end(md, 'L', 1);
		md->rn = save; /* same expression, now >= 1 - u */
		row_add(md, md->ucol[w], 1);
		row_end(md, 'G', 1);
		if (md->ucol[w] < 0)
			continue;
		for (int j = 0; j < n; j++) {
			if (!md->droppable[j] && j != g->root)
				continue;
			if (j == g->root && (w != 0 || !isfinite(md->Rin)))
				continue; /* the input task lives on worker 0 */
			if (K > 1 && (md->acol[j * K + w] < 0 || md->qfix[j] == 0))
				continue;
			row_begin(md);
			double rhs = -R;
			row_add(md, md->rcol[j], 1);
			if (j == g->root) {
				rhs = md->Rin - R;
			} else {
				row_add(md, rate_col(md, g->mods[j].parent), -1);
			}
			row_add(md, md->ucol[w], -R);
			if (K > 1 && j != g->root) {
				row_add(md, md->acol[j * K + w], -R);
				rhs -= R;
			}
			row_end(md, 'G', rhs);
		}
	}
	free(segc);
	/* SLOs */
	for (int s = 0; s < g->nslos; s++) {
		const alp_slo *o = &g->slos[s];
		if (!slo_on[s] || o->kind == ALP_SLO_PRIORITY)
			continue;
		for (int i = 1; i < o->n; i++) {
			row_begin(md);
			if (o->kind == ALP_SLO_CPU) {
				class_cpu_row(md, o->classes[i], 1.0 / o->ratio[i]);
				class_cpu_row(md, o->classes[0], -1.0 / o->ratio[0]);
			} else {
				class_rate_row(md, o->classes[i], 1.0 / o->ratio[i]);
				class_rate_row(md, o->classes[0], -1.0 / o->ratio[0]);
			}
			row_end(md, 'E', 0);
		}
	}
	/* An SLO is not met by starving its classes: each class a ratio SLO names keeps
     * at least a small fraction of the rate the input could carry. */
	for (int s = 0; s < g->nslos; s++) {
		const alp_slo *o = &g->slos[s];
		if (!slo_on[s] || o->kind == ALP_SLO_PRIORITY)
			continue;
		for (int i = 0; i < o->n; i++) {
			row_begin(md);
			class_rate_row(md, o->classes[i], 1);
			row_end(md, 'G', ALP_MIN_SERVED * g->classes[o->classes[i]].fraction * R);
		}
	}
	/* objective: total throughput */
	row_begin(md);
	for (int a = 0; a < g->nclasses; a++)
		class_rate_row(md, a, 1);
	if (mode == 0) {
		for (int i = 0; i < md->rn; i++)
			Cbc_setObjCoeff(md->m, md->ri[i], -md->rv[i]);
	} else if (mode == 1) {
		row_end(md, 'G', tmin);
	}
	return 0;
}

/* Hands CBC an incumbent partition (and worker assignment) to start from. */
static void model_set_start(model *md, const bool *head, const int *worker)
{
	int n = md->n, K = md->K, cnt = 0;
	int *idx = e2_xmalloc((size_t)n * (size_t)K * sizeof(int));
	double *val = e2_xmalloc((size_t)n * (size_t)K * sizeof(double));
	if (!idx || !val) {
		free(idx);
		free(val);
		return;
	}
	for (int j = 0; j < n; j++) {
		if (K == 1) {
			if (md->qcol[j] >= 0) {
				idx[cnt] = md->qcol[j];
				val[cnt++] = head[j] ? 1 : 0;
			}
			continue;
		}
		for (int w = 0; w < K; w++)
			if (md->acol[j * K + w] >= 0) {
				idx[cnt] = md->acol[j * K + w];
				val[cnt++] = (head[j] || md->qfix[j] == 1) && worker[j] == w ? 1 : 0;
			}
	}
	Cbc_setMIPStartI(md->m, cnt, idx, val);
	free(idx);
	free(val);
}

/* ---- solving under a watchdog: CBC runs in a child process ---- */

typedef struct {
	int status; /* 0 optimal, 1 stopped with solution, 2 infeasible, 3 no solution, 4 error */
	double obj, bound;
	int ncols;
	double *x;
} solve_result;

static double now_s(void)
{
	struct timespec ts;
	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (double)ts.tv_sec + (double)ts.tv_nsec * 1e-9;
}

static int write_all(int fd, const void *buf, size_t len)
{
	const char *p = buf;
	while (len) {
		ssize_t w = write(fd, p, len);
		if (w < 0 && errno == EINTR)
			continue;
		if (w <= 0)
			return -1;
		p += w;
		len -= (size_t)w;
	}
	return 0;
}

static void solve_child(Cbc_Model *m, int fd)
{
	Cbc_solve(m);
	int st;
	int ncols = Cbc_getNumCols(m);
	const double *x = Cbc_bestSolution(m);
	if (!x && Cbc_getNumIntegers(m) == 0 && Cbc_isProvenOptimal(m))
		x = Cbc_getColSolution(m); /* a pure LP never gets a MIP incumbent */
	if (Cbc_isProvenInfeasible(m))
		st = 2;
	else if (Cbc_isProvenOptimal(m) && x)
		st = 0;
	else if (x)
		st = 1;
	else if (Cbc_isAbandoned(m))
		st = 4;
	else
		st = 3;
	double hdr[3] = {(double)st, x ? Cbc_getObjValue(m) : 0, Cbc_getBestPossibleObjValue(m)};
	if (write_all(fd, hdr, sizeof(hdr)) == 0 && x)
		write_all(fd, x, (size_t)ncols * sizeof(double));
}

static int run_solver(model *md, double seconds, double gap, solve_result *res)
{
	memset(res, 0, sizeof(*res));
	res->ncols = md->ncols;
	if (seconds < 0.05)
		seconds = 0.05;
	/* CBC's own limit overshoots (root LP, cut rounds, heuristics): ask it for less
     * than the budget, and kill it when the budget is gone */
	Cbc_setMaximumSeconds(md->m, 0.7 * seconds);
	Cbc_setAllowableFractionGap(md->m, gap);
	const char *extra = getenv("ALPINE_CBC"); /* "name=value,..." for experiments */
	if (extra) {
		char buf[512];
		snprintf(buf, sizeof(buf), "%s", extra);
		char *save = NULL;
		for (char *kv = strtok_r(buf, ",", &save); kv; kv = strtok_r(NULL, ",", &save)) {
			char *eq = strchr(kv, '=');
			if (eq) {
				*eq = '\0';
				Cbc_setParameter(md->m, kv, eq + 1);
			}
		}
	}
	int fds[2];
	if (pipe(fds) < 0)
		return -1;
	fflush(NULL);
	pid_t pid = fork();
	if (pid < 0) {
		close(fds[0]);
		close(fds[1]);
		return -1;
	}
	if (pid == 0) {
		close(fds[0]);
		solve_child(md->m, fds[1]);
		close(fds[1]);
		_exit(0);
	}
	close(fds[1]);
	double deadline = now_s() + seconds + 0.5;
	size_t want = 3 * sizeof(double) + (size_t)md->ncols * sizeof(double), got = 0;
	char *buf = e2_xmalloc(want);
	bool killed = false;
	while (buf) {
		double left = deadline - now_s();
		if (left <= 0) {
			kill(pid, SIGKILL);
			killed = true;
			break;
		}
		struct pollfd pfd = {.fd = fds[0], .events = POLLIN};
		int pr = poll(&pfd, 1, (int)(left * 1000) + 1);
		if (pr < 0 && errno == EINTR)
			continue;
		if (pr <= 0)
			continue;
		ssize_t r = read(fds[0], buf + got, want - got);
		if (r < 0 && errno == EINTR)
			continue;
		if (r <= 0)
			break;
		got += (size_t)r;
		if (got == want)
			break;
	}
	close(fds[0]);
	int wst;
	while (waitpid(pid, &wst, 0) < 0 && errno == EINTR) {
	}
	if (!buf)
		return -1;
	if (killed || got < 3 * sizeof(double)) {
		free(buf);
		res->status = killed ? 3 : 4;
		return 0;
	}
	double hdr[3];
	memcpy(hdr, buf, sizeof(hdr));
	res->status = (int)hdr[0];
	res->obj = hdr[1];
	res->bound = hdr[2];
	if (got == want) {
		res->x = e2_xmalloc((size_t)md->ncols * sizeof(double));
		if (res->x)
			memcpy(res->x, buf + sizeof(hdr), (size_t)md->ncols * sizeof(double));
	} else if (res->status <= 1) {
		res->status = 4;
	}
	free(buf);
	return 0;
}

/* ---- from a solution to a plan ---- */

static double colval(const solve_result *r, int col)
{
	return col < 0 ? 0 : r->x[col];
}

static void fill_plan(const model *md, const solve_result *r, alp_plan *p)
{
	const alp_graph *g = md->g;
	int n = g->n, K = md->K;
	p->tasks = 0;
	for (int j = 0; j < n; j++) {
		bool head;
		int w = 0;
		if (md->qfix[j] != -1 && K == 1)
			head = md->qfix[j] == 1;
		else if (K == 1)
			head = colval(r, md->qcol[j]) > 0.5;
		else {
			head = false;
			for (int k = 0; k < K; k++)
				if (md->acol[j * K + k] >= 0 && colval(r, md->acol[j * K + k]) > 0.5) {
					head = true;
					w = k;
				}
		}
		p->head[j] = head;
		p->worker[j] = w;
		p->level[j] = md->maxrank - md->H[j];
		p->rate[j] = fmax(0, colval(r, rate_col(md, j)));
		p->tasks += head;
	}
	p->nlevels = md->maxrank + 1;
	/* a module's task and its CPU */
	for (int j = 0; j < n; j++)
		p->share[j] = 0;
	for (int j = 0; j < n; j++) {
		int h = j;
		while (!p->head[h])
			h = g->mods[h].parent;
		p->share[h] += kc(g->mods[j].cycles) * g->lambda[j] * p->rate[j];
		if (j == h && j != g->root)
			p->share[h] += md->qk * g->lambda[j] * p->rate[j];
	}
	double t = 0;
	for (int a = 0; a < g->nclasses; a++) {
		const alp_class *c = &g->classes[a];
		t += c->fraction * p->rate[c->path[c->len - 1]];
	}
	p->mpps = t * g->cpu_ghz;
}

/* ---- driver ---- */

typedef struct {
	double start, limit;
} budget;

static double remaining(const budget *b)
{
	return b->limit - (now_s() - b->start);
}

/* Phase-1 feasibility of a subset of SLOs (for naming conflicts). 1 feasible, 0 not, -1 unknown */
static int feasible(const alp_graph *g, const bool *on, const signed char *qforce, double secs)
{
	model md;
	int rc = model_build(&md, g, on, qforce, 2, 0);
	if (rc == -2) {
		model_free(&md);
		return 0;
	}
	if (rc < 0) {
		model_free(&md);
		return -1;
	}
	solve_result r;
	int st = -1;
	if (run_solver(&md, secs, 1e-2, &r) == 0)
		st = r.status <= 1 ? 1 : r.status == 2 ? 0 : -1;
	free(r.x);
	model_free(&md);
	return st;
}

static void name_conflict(const alp_graph *g, const signed char *qforce, const budget *b, alp_plan *p)
{
	bool *on = e2_xmalloc((size_t)g->nslos * sizeof(bool));
	if (!on)
		return;
	for (int s = 0; s < g->nslos; s++)
		on[s] = true;
	/* deletion filter: drop every SLO whose removal keeps the set infeasible; what is
     * left is a minimal conflicting set */
	bool exact = true;
	for (int s = 0; s < g->nslos; s++) {
		double left = remaining(b);
		if (left <= 0.1) {
			exact = false;
			break;
		}
		on[s] = false;
		int f = feasible(g, on, qforce, fmin(left, 10));
		if (f != 0)
			on[s] = true; /* needed for the conflict (or unknown: keep it) */
		if (f < 0)
			exact = false;
	}
	int cnt = 0;
	for (int s = 0; s < g->nslos; s++)
		cnt += on[s];
	char *d = p->diag;
	size_t cap = sizeof(p->diag);
	int off;
	if (cnt == 0)
		off = snprintf(d, cap, "infeasible even without SLOs");
	else if (cnt == 1)
		off = snprintf(d, cap, "SLO cannot be met on this graph:");
	else
		off = snprintf(d, cap, "%s SLOs conflict (removing any one of them makes the rest feasible):",
			       exact ? "these" : "possibly these");
	for (int s = 0; s < g->nslos && off > 0 && (size_t)off < cap; s++)
		if (on[s])
			off += snprintf(d + off, cap - (size_t)off, " '%s'", g->slos[s].name);
	if (cnt == 1 && off > 0 && (size_t)off < cap) {
		for (int s = 0; s < g->nslos; s++)
			if (on[s] && g->slos[s].kind == ALP_SLO_CPU)
				snprintf(d + off, cap - (size_t)off,
					 " (cycles of modules shared with other classes bound the reachable ratio)");
			else if (on[s] && g->slos[s].kind == ALP_SLO_PRIORITY)
				snprintf(d + off, cap - (size_t)off,
					 " (the higher classes' offered load does not fit the workers)");
	}
	free(on);
}

static alp_plan *solve(const alp_graph *g, const alp_opts *o, const signed char *qforce, const char *kind,
		       const alp_plan *start);

alp_plan *alp_solve_fixed(const alp_graph *g, const alp_opts *o, const signed char *qforce, const char *kind)
{
	return solve(g, o, qforce, kind, NULL);
}

static alp_plan *alp_solve_start(const alp_graph *g, const alp_opts *o, const alp_plan *start)
{
	return solve(g, o, NULL, "alpine", start);
}

static alp_plan *solve(const alp_graph *g, const alp_opts *o, const signed char *qforce, const char *kind,
		       const alp_plan *start)
{
	alp_plan *p = alp_plan_new(g, g, kind);
	if (!p)
		return NULL;
	budget b = {now_s(), o->time_limit_s};
	bool *on = e2_xmalloc((size_t)(g->nslos + 1) * sizeof(bool));
	for (int s = 0; s < g->nslos; s++)
		on[s] = true;
	model md;
	int rc = model_build(&md, g, on, qforce, 0, 0);
	if (rc < 0) {
		p->status = rc == -2 ? ALP_INFEASIBLE : ALP_ERROR;
		snprintf(p->diag, sizeof(p->diag), "%s", md.diag);
		model_free(&md);
		free(on);
		p->solve_s = now_s() - b.start;
		return p;
	}
	bool lexi = false;
	for (int j = 0; j < g->n; j++)
		lexi |= md.qfix[j] == -1;
	if (g->workers > 1)
		lexi = true;
	double share1 = lexi && o->delta > 0 ? 0.6 : 1.0;
	if (start) {
		model_set_start(&md, start->head, start->worker);
	} else if (g->workers == 1 && !qforce) {
		/* start from the semi-manual partition: a queue at every branch */
		bool *semi = e2_xcalloc((size_t)g->n, sizeof(bool));
		int *w0 = e2_xcalloc((size_t)g->n, sizeof(int));
		if (semi && w0) {
			for (int j = 0; j < g->n; j++) {
				int par = g->mods[j].parent;
				semi[j] = par >= 0 && g->mods[par].nchildren > 1;
			}
			model_set_start(&md, semi, w0);
		}
		free(semi);
		free(w0);
	}
	solve_result r1;
	if (run_solver(&md, remaining(&b) * share1, o->gap, &r1) < 0) {
		p->status = ALP_ERROR;
		snprintf(p->diag, sizeof(p->diag), "could not start the solver");
		model_free(&md);
		free(on);
		return p;
	}
	if (r1.status == 2 || r1.status == 3 || r1.status == 4 || !r1.x) {
		p->status = r1.status == 2 ? ALP_INFEASIBLE : r1.status == 3 ? ALP_TIMEOUT : ALP_ERROR;
		if (r1.status == 2)
			name_conflict(g, qforce, &b, p);
		else
			snprintf(p->diag, sizeof(p->diag), "%s",
				 r1.status == 3 ? "time limit reached before any plan was found"
						: "the solver gave up (numerical trouble)");
		free(r1.x);
		model_free(&md);
		free(on);
		p->solve_s = now_s() - b.start;
		return p;
	}
	fill_plan(&md, &r1, p);
	if (getenv("ALPINE_VERBOSE"))
		fprintf(stderr, "alpine: phase 1 (throughput): status %d, %.3f s, %d tasks, %d columns\n", r1.status,
			now_s() - b.start, p->tasks, md.ncols);
	double tstar = -r1.obj;
	double gap1 = r1.status == 0 ? 0 : fabs(r1.bound - r1.obj) / fmax(1e-12, fabs(r1.obj));
	p->status = r1.status == 0 ? ALP_OPTIMAL : ALP_FEASIBLE;
	p->gap = gap1;
	/* throughput as the model sees it, without the tie-break term */
	double t1 = p->mpps / g->cpu_ghz;
	free(r1.x);
	int tasks1 = p->tasks;
	model_free(&md);
	if (lexi && o->delta > 0 && remaining(&b) > 0.05) {
		model m2;
		double tmin = (1 - o->delta) * t1;
		if (tstar <= 0)
			tmin = 0;
		if (model_build(&m2, g, on, qforce, 1, tmin) == 0) {
			model_set_start(&m2, p->head, p->worker);
			solve_result r2;
			if (run_solver(&m2, remaining(&b), 1e-9, &r2) == 0 && r2.x && r2.status <= 1) {
				alp_plan *p2 = alp_plan_new(g, g, kind);
				fill_plan(&m2, &r2, p2);
				if (getenv("ALPINE_VERBOSE"))
					fprintf(stderr, "alpine: phase 2 (tasks): status %d, %.3f s, %d tasks\n",
						r2.status, now_s() - b.start, p2->tasks);
				if (p2->tasks <= tasks1) {
					/* keep phase 2's plan */
					memcpy(p->head, p2->head, (size_t)g->n * sizeof(bool));
					memcpy(p->worker, p2->worker, (size_t)g->n * sizeof(int));
					memcpy(p->rate, p2->rate, (size_t)g->n * sizeof(double));
					memcpy(p->share, p2->share, (size_t)g->n * sizeof(double));
					p->tasks = p2->tasks;
					p->mpps = p2->mpps;
				}
				if (r2.status != 0 && p->status == ALP_OPTIMAL) {
					p->status = ALP_FEASIBLE;
					p->gap = fabs(r2.bound - r2.obj) / fmax(1e-12, fabs(r2.obj));
				}
				alp_plan_free(p2);
			} else if (p->status == ALP_OPTIMAL) {
				p->status = ALP_FEASIBLE; /* throughput optimal, task count not proven */
			}
			free(r2.x);
		}
		model_free(&m2);
	}
	free(on);
	p->solve_s = now_s() - b.start;
	return p;
}

/* A plan from the LP relaxation: queues exactly where the relaxed rates drop, then
 * the LP with that partition fixed. Cheap, usually close to optimal, and a start
 * (and fallback) for the MIP. One worker only. */
static alp_plan *rounding_plan(const alp_graph *g, const alp_opts *o, double secs, double *bound)
{
	if (g->workers != 1)
		return NULL;
	bool *on = e2_xmalloc((size_t)(g->nslos + 1) * sizeof(bool));
	signed char *q = e2_xmalloc((size_t)g->n);
	alp_plan *p = NULL;
	model md;
	if (!on || !q)
		goto out;
	for (int s = 0; s < g->nslos; s++)
		on[s] = true;
	if (model_build(&md, g, on, NULL, 3, 0) < 0) {
		model_free(&md);
		goto out;
	}
	solve_result r;
	if (run_solver(&md, secs, 1e-9, &r) == 0 && r.x && r.status <= 1) {
		*bound = -r.obj * g->cpu_ghz; /* no plan beats the relaxation */
		for (int j = 0; j < g->n; j++) {
			int par = g->mods[j].parent;
			if (md.qfix[j] != -1)
				q[j] = md.qfix[j];
			else
				q[j] = colval(&r, rate_col(&md, j)) <
				       colval(&r, rate_col(&md, par)) * (1 - 1e-7) - 1e-12;
		}
		alp_opts o2 = *o;
		o2.time_limit_s = secs;
		p = alp_solve_fixed(g, &o2, q, "alpine");
		if (p && p->status != ALP_OPTIMAL && p->status != ALP_FEASIBLE) {
			alp_plan_free(p);
			p = NULL;
		}
	}
	free(r.x);
	model_free(&md);
out:
	free(on);
	free(q);
	return p;
}

alp_plan *alp_solve_model(const alp_graph *g, const alp_opts *o)
{
	double t0 = now_s();
	double bound = INFINITY;
	alp_plan *round = rounding_plan(g, o, fmax(0.5, 0.1 * o->time_limit_s), &bound);
	alp_opts o1 = *o;
	o1.time_limit_s = fmax(0.1, o->time_limit_s - (now_s() - t0));
	alp_plan *p = alp_solve_start(g, &o1, round);
	/* An "infeasible" from CBC cut short by its clock (the root LP stopped early
	 * reports an infeasible relaxation) is disproved by the rounded plan in hand. */
	if (p && round &&
	    (p->status == ALP_TIMEOUT || p->status == ALP_ERROR || p->status == ALP_INFEASIBLE ||
	     (p->status == ALP_FEASIBLE && p->mpps < round->mpps * (1 - 1e-9)))) {
		/* the MIP ran out of time without beating the relaxation's plan */
		round->status = ALP_FEASIBLE;
		/* proven gap against the LP relaxation (its tie-break term is negligible) */
		round->gap = isfinite(bound) ? fmax(0, bound - round->mpps) / fmax(bound, 1e-12) : 1;
		if (p->status == ALP_FEASIBLE)
			round->gap = fmin(round->gap, p->gap);
		snprintf(round->diag, sizeof(round->diag),
			 "time limit: the MIP did not beat the plan rounded from its LP relaxation");
		alp_plan_free(p);
		p = round;
		round = NULL;
	}
	alp_plan_free(round);
	if (p)
		p->solve_s = now_s() - t0;
	return p;
}
