/* SPDX-License-Identifier: BSD-3-Clause */
/* The model checker: reads a plan as E2D commands (not the solver's variables),
 * rebuilds the executed graph and scheduler trees, and finds the fluid equilibrium
 * of the hierarchical scheduler: priority nodes serve children in order, weighted
 * fair nodes share by water-filling, each task's demand is its cycles per packet
 * times the rate its upstream task delivers. From that it predicts per-class
 * throughput and CPU, and the SLO error of seed section 5.5.2. */
#include "alpine.h"

#include "e2/cmd.h"

#include <math.h>
#include <stdarg.h>
#include <stdlib.h>
#include <string.h>

typedef struct {
	char name[128];
	double cycles; /* kilocycles */
	bool sched;
	int parent, pgate, igate;
	int worker; /* task attach; -1 none */
	int snode;  /* sched parent node; -1 none */
	double share;
	long prio;
} cmod;

typedef enum { P_PRIO, P_WFQ, P_RR, P_RATE } policy;

typedef struct {
	char name[128];
	policy pol;
	int parent; /* node index or -1 */
	int worker;
	double share;
	long prio;
	double limit; /* rate_limit in cycles/s (fraction of a worker after scaling) */
} snode;

typedef struct {
	const alp_graph *g;
	const alp_graph *pg; /* the graph the plan executes, or NULL */
	int n, cap;
	cmod *m;
	int nn, ncap;
	snode *s;
	bool workers[64];
	int nworkers;
	char *err;
} ctx;

__attribute__((format(printf, 3, 4))) static int cerr(ctx *c, int line, const char *fmt, ...)
{
	va_list ap;
	va_start(ap, fmt);
	char buf[ALP_ERRLEN];
	vsnprintf(buf, sizeof(buf), fmt, ap);
	va_end(ap);
	if (line > 0)
		snprintf(c->err, ALP_ERRLEN, "plan line %d: %s", line, buf);
	else
		snprintf(c->err, ALP_ERRLEN, "plan: %s", buf);
	return -1;
}

static int find_mod(const ctx *c, const char *name)
{
	for (int i = 0; i < c->n; i++)
		if (strcmp(c->m[i].name, name) == 0)
			return i;
	return -1;
}

static int find_node(const ctx *c, const char *name)
{
	for (int i = 0; i < c->nn; i++)
		if (strcmp(c->s[i].name, name) == 0)
			return i;
	return -1;
}

static int add_mod(ctx *c, const char *name, double cycles, bool sched)
{
	if (c->n == c->cap) {
		int cap = c->cap ? c->cap * 2 : 64;
		cmod *m = e2_xrealloc(c->m, (size_t)cap * sizeof(*m));
		if (!m)
			return -1;
		c->m = m;
		c->cap = cap;
	}
	cmod *m = &c->m[c->n];
	memset(m, 0, sizeof(*m));
	snprintf(m->name, sizeof(m->name), "%s", name);
	m->cycles = cycles / 1000.0;
	m->sched = sched;
	m->parent = -1;
	m->worker = -1;
	m->snode = -1;
	return c->n++;
}

static bool parse_num(const char *s, double *out)
{
	if (!s)
		return false;
	char *end;
	*out = strtod(s, &end);
	return end != s && !*end && isfinite(*out);
}

/* A module's cost given as a cycles= argument of its `module add`: 1 with *cyc set, 0
 * when there is none, -1 when it is not a cost (the graph's range, [0, 1e9]). */
static int arg_cycles(const E2__Dp__ModuleCreate *mc, double *cyc, const char **text)
{
	for (size_t i = 0; i < mc->n_args; i++)
		if (strcmp(mc->args[i]->key, "cycles") == 0) {
			*text = mc->args[i]->value;
			return parse_num(*text, cyc) && *cyc >= 0 && *cyc <= 1e9 ? 1 : -1;
		}
	return 0;
}

/* The gate of a MODULE[:GATE] the plan names: the graph's gates are 0..4095 */
static int plan_gate(ctx *c, int ln, const E2__Dp__GateRef *g, int *gate)
{
	if (!g || g->gate > 4095)
		return cerr(c, ln, "bad gate");
	*gate = (int)g->gate;
	return 0;
}

/* A module the plan adds costs what the plan's graph says, else its cycles= argument;
 * a queue costs the graph's queue_cycles. */
static int apply_module_add(ctx *c, const E2__Dp__ModuleCreate *mc, int ln)
{
	const char *name = mc->name;
	if (find_mod(c, name) >= 0)
		return cerr(c, ln, "module '%s' already exists", name);
	if (strlen(name) >= 128)
		return cerr(c, ln, "module name too long");
	bool q = strcmp(mc->mclass, "queue") == 0;
	bool sched = q || alp_is_schedulable_class(mc->mclass);
	double cyc = c->g->queue_cycles;
	int pj = !q && c->pg ? alp_graph_find(c->pg, name) : -1;
	if (pj >= 0) {
		const alp_module *pm = &c->pg->mods[pj];
		if (pm->klass && strcmp(pm->klass, mc->mclass) != 0)
			return cerr(c, ln, "module '%s' is a '%s' here but a '%s' in the plan's graph", name,
				    mc->mclass, pm->klass);
		cyc = pm->cycles;
		sched = sched || pm->schedulable;
	} else if (!q) {
		const char *arg = NULL;
		int found = arg_cycles(mc, &cyc, &arg);
		if (found < 0)
			return cerr(c, ln, "module '%s': cycles=%s is not a cost in [0, 1e9]", name, arg);
		if (found == 0 && c->pg)
			return cerr(c, ln, "module '%s': unknown cost: the plan's graph has no such module", name);
		if (found == 0)
			return cerr(c, ln,
				    "module '%s': unknown cost: give the plan's graph, which has it "
				    "(alpine check --graph), or a cycles=N argument",
				    name);
	}
	return add_mod(c, name, cyc, sched) < 0 ? cerr(c, ln, "out of memory") : 0;
}

static int apply_disconnect(ctx *c, const E2__Dp__GateRef *at, int ln)
{
	int og;
	if (plan_gate(c, ln, at, &og) < 0)
		return -1;
	int f = find_mod(c, at->module);
	if (f < 0)
		return cerr(c, ln, "unknown module '%s'", at->module);
	for (int i = 0; i < c->n; i++)
		if (c->m[i].parent == f && c->m[i].pgate == og) {
			c->m[i].parent = -1;
			return 0;
		}
	return cerr(c, ln, "gate %s:%d is not connected", at->module, og);
}

/* insert A:g Q  ==  A:g -> Q:0 -> the old target of A:g */
static int apply_insert(ctx *c, const E2__Dp__Insert *in, int ln)
{
	int og;
	if (plan_gate(c, ln, in->at, &og) < 0)
		return -1;
	int f = find_mod(c, in->at->module), q = find_mod(c, in->module);
	if (f < 0 || q < 0)
		return cerr(c, ln, "unknown module '%s'", f < 0 ? in->at->module : in->module);
	if (c->m[q].parent >= 0)
		return cerr(c, ln, "'%s' already has an upstream", in->module);
	int t = -1;
	for (int i = 0; i < c->n; i++)
		if (c->m[i].parent == f && c->m[i].pgate == og)
			t = i;
	if (t < 0)
		return cerr(c, ln, "gate %s:%d is not connected; nothing to insert into", in->at->module, og);
	c->m[q].parent = f;
	c->m[q].pgate = og;
	c->m[q].igate = 0;
	c->m[t].parent = q;
	c->m[t].pgate = 0;
	return 0;
}

static int apply_connect(ctx *c, const E2__Dp__Connect *cn, int ln)
{
	int og, ig;
	if (plan_gate(c, ln, cn->from, &og) < 0 || plan_gate(c, ln, cn->to, &ig) < 0)
		return -1;
	const char *from = cn->from->module, *to = cn->to->module;
	int f = find_mod(c, from), t = find_mod(c, to);
	if (f < 0 || t < 0)
		return cerr(c, ln, "unknown module '%s'", f < 0 ? from : to);
	if (c->m[t].parent >= 0)
		return cerr(c, ln, "'%s' already has an upstream", to);
	for (int i = 0; i < c->n; i++)
		if (c->m[i].parent == f && c->m[i].pgate == og)
			return cerr(c, ln, "gate %s:%d is already connected", from, og);
	c->m[t].parent = f;
	c->m[t].pgate = og;
	c->m[t].igate = ig;
	return 0;
}

static int apply_worker_add(ctx *c, const E2__Dp__WorkerCreate *wc, int ln)
{
	if (wc->id > 63)
		return cerr(c, ln, "worker id must be 0..63");
	int w = (int)wc->id;
	if (c->workers[w])
		return cerr(c, ln, "worker %d added twice", w);
	c->workers[w] = true;
	c->nworkers++;
	return 0;
}

static int apply_task_attach(ctx *c, const E2__Dp__TaskAttach *ta, int ln)
{
	int j = find_mod(c, ta->module);
	if (j < 0)
		return cerr(c, ln, "unknown module '%s'", ta->module);
	if (!c->m[j].sched)
		return cerr(c, ln, "'%s' is not schedulable (only port_in and queue modules are tasks)", ta->module);
	if (ta->worker > 63 || !c->workers[ta->worker])
		return cerr(c, ln, "task attach needs worker=ID of an added worker");
	c->m[j].worker = (int)ta->worker;
	return 0;
}

static int apply_sched_add(ctx *c, const E2__Dp__SchedAdd *sa, int ln)
{
	if (find_node(c, sa->name) >= 0 || strlen(sa->name) >= 128)
		return cerr(c, ln, "scheduler node '%s' already exists or bad name", sa->name);
	if (c->nn == c->ncap) {
		int cap = c->ncap ? c->ncap * 2 : 16;
		snode *s = e2_xrealloc(c->s, (size_t)cap * sizeof(*s));
		if (!s)
			return cerr(c, ln, "out of memory");
		c->s = s;
		c->ncap = cap;
	}
	snode *s = &c->s[c->nn];
	memset(s, 0, sizeof(*s));
	snprintf(s->name, sizeof(s->name), "%s", sa->name);
	switch (sa->policy) {
	case E2__DP__SCHED_POLICY__SCHED_PRIORITY: s->pol = P_PRIO; break;
	case E2__DP__SCHED_POLICY__SCHED_WEIGHTED_FAIR: s->pol = P_WFQ; break;
	case E2__DP__SCHED_POLICY__SCHED_ROUND_ROBIN: s->pol = P_RR; break;
	case E2__DP__SCHED_POLICY__SCHED_RATE_LIMIT: s->pol = P_RATE; break;
	default: return cerr(c, ln, "sched add needs policy=");
	}
	if (sa->resource && sa->resource != E2__DP__SCHED_RESOURCE__SCHED_CYCLES)
		return cerr(c, ln, "the checker models resource=cycles only");
	if (!sa->has_worker_case || sa->worker > 63 || !c->workers[sa->worker])
		return cerr(c, ln, "sched add needs worker=ID of an added worker");
	s->worker = (int)sa->worker;
	s->parent = -1;
	if (sa->has_parent_case) {
		s->parent = find_node(c, sa->parent);
		if (s->parent < 0)
			return cerr(c, ln, "unknown parent '%s'", sa->parent);
		if (c->s[s->parent].worker != s->worker)
			return cerr(c, ln, "parent '%s' is on another worker", sa->parent);
	}
	s->share = 1;
	if (sa->has_share_case && (s->share = sa->share) <= 0)
		return cerr(c, ln, "share must be positive");
	s->prio = sa->has_priority_case ? (long)sa->priority : 0;
	s->limit = INFINITY;
	if (s->pol == P_RATE) {
		if (!sa->has_limit_case)
			return cerr(c, ln, "rate_limit needs limit=cycles/s");
		s->limit = (double)sa->limit / (c->g->cpu_ghz * 1e9);
	}
	c->nn++;
	return 0;
}

static int apply_sched_attach(ctx *c, const E2__Dp__SchedAttach *sa, int ln)
{
	int j = find_mod(c, sa->name);
	if (j < 0 || !c->m[j].sched)
		return cerr(c, ln, "'%s' is not a task", sa->name);
	int pn = sa->parent && *sa->parent ? find_node(c, sa->parent) : -1;
	if (pn < 0)
		return cerr(c, ln, "sched attach needs parent= of an existing node");
	c->m[j].snode = pn;
	c->m[j].share = 1;
	if (sa->has_share_case && (c->m[j].share = sa->share) <= 0)
		return cerr(c, ln, "share must be positive");
	c->m[j].prio = sa->has_priority_case ? (long)sa->priority : 0;
	return 0;
}

/* One command of the plan, as e2d would run it on the graph. */
static int apply(ctx *c, const E2__Dp__Request *r, const char *line, int ln)
{
	switch (r->op_case) {
	case E2__DP__REQUEST__OP_PORT_CREATE:
	case E2__DP__REQUEST__OP_MODULE_COMMAND: return 0; /* no effect on the model */
	case E2__DP__REQUEST__OP_MODULE_CREATE: return apply_module_add(c, r->module_create, ln);
	case E2__DP__REQUEST__OP_DISCONNECT: return apply_disconnect(c, r->disconnect, ln);
	case E2__DP__REQUEST__OP_INSERT: return apply_insert(c, r->insert, ln);
	case E2__DP__REQUEST__OP_CONNECT: return apply_connect(c, r->connect, ln);
	case E2__DP__REQUEST__OP_WORKER_CREATE: return apply_worker_add(c, r->worker_create, ln);
	case E2__DP__REQUEST__OP_TASK_ATTACH: return apply_task_attach(c, r->task_attach, ln);
	case E2__DP__REQUEST__OP_SCHED_ADD: return apply_sched_add(c, r->sched_add, ln);
	case E2__DP__REQUEST__OP_SCHED_ATTACH: return apply_sched_attach(c, r->sched_attach, ln);
	default: break;
	}
	/* e2d takes it, but a plan has no business with it (module del, stats, ...) */
	return cerr(c, ln, "unknown or malformed command '%.*s'", (int)strcspn(line, " \t"), line);
}

/* ---- fluid equilibrium ---- */

typedef struct {
	int nt;
	int *head;  /* task -> head module */
	int *ptask; /* upstream task or -1 */
	double *C;  /* kilocycles per root packet */
	double *D;  /* demand (fraction of a worker) */
	double *A;  /* allocation */
} tasks;

typedef struct {
	int item; /* node index, or ~task */
	double w, dem;
	long prio;
} child;

static void alloc_node(const ctx *c, tasks *t, int node, double cap, const double *ndem, const int *kids,
		       const int *start);

static void alloc_item(const ctx *c, tasks *t, const child *k, double cap, const double *ndem, const int *kids,
		       const int *start)
{
	if (k->item < 0) {
		int ti = ~k->item;
		t->A[ti] = fmin(t->D[ti], cap);
	} else {
		alloc_node(c, t, k->item, cap, ndem, kids, start);
	}
}

static int cmp_prio(const void *a, const void *b)
{
	const child *x = a, *y = b;
	return (x->prio > y->prio) - (x->prio < y->prio);
}

static int cmp_ratio(const void *a, const void *b)
{
	const child *x = a, *y = b;
	double rx = x->dem / x->w, ry = y->dem / y->w;
	return (rx > ry) - (rx < ry);
}

/* kids: items grouped per node, start[node]..start[node+1]; node index nn = worker roots */
static void alloc_node(const ctx *c, tasks *t, int node, double cap, const double *ndem, const int *kids,
		       const int *start)
{
	int nk = start[node + 1] - start[node];
	if (nk == 0)
		return;
	policy pol = node < c->nn ? c->s[node].pol : P_RR;
	if (pol == P_RATE)
		cap = fmin(cap, c->s[node].limit);
	child *ch = e2_xmalloc((size_t)nk * sizeof(child));
	if (!ch)
		return;
	for (int i = 0; i < nk; i++) {
		int it = kids[start[node] + i];
		ch[i].item = it;
		if (it < 0) {
			ch[i].dem = t->D[~it];
			ch[i].w = c->m[t->head[~it]].share;
			ch[i].prio = c->m[t->head[~it]].prio;
		} else {
			ch[i].dem = ndem[it];
			ch[i].w = c->s[it].share;
			ch[i].prio = c->s[it].prio;
		}
		if (pol == P_RR || pol == P_RATE)
			ch[i].w = 1;
	}
	if (pol == P_PRIO) {
		qsort(ch, (size_t)nk, sizeof(child), cmp_prio);
		for (int i = 0; i < nk; i++) {
			double give = fmin(ch[i].dem, cap);
			alloc_item(c, t, &ch[i], give, ndem, kids, start);
			cap -= give;
			if (cap < 0)
				cap = 0;
		}
	} else {
		/* water-filling by weight */
		qsort(ch, (size_t)nk, sizeof(child), cmp_ratio);
		double wsum = 0;
		for (int i = 0; i < nk; i++)
			wsum += ch[i].w;
		for (int i = 0; i < nk; i++) {
			double fair = cap * ch[i].w / wsum;
			double give = fmin(ch[i].dem, fair);
			alloc_item(c, t, &ch[i], give, ndem, kids, start);
			cap -= give;
			wsum -= ch[i].w;
			if (cap < 0)
				cap = 0;
		}
	}
	free(ch);
}

/* node demand bottom-up: node parents are added before children, so walk backwards */
static void node_demands(const ctx *c, const tasks *t, double *ndem)
{
	for (int i = 0; i <= c->nn + 64; i++)
		ndem[i] = 0;
	for (int ti = 0; ti < t->nt; ti++) {
		const cmod *m = &c->m[t->head[ti]];
		if (m->snode >= 0)
			ndem[m->snode] += t->D[ti];
	}
	for (int i = c->nn - 1; i >= 0; i--) {
		double d = ndem[i];
		if (c->s[i].pol == P_RATE)
			d = fmin(d, c->s[i].limit);
		ndem[i] = d;
		if (c->s[i].parent >= 0)
			ndem[c->s[i].parent] += d;
	}
}

static int equilibrium(const ctx *c, tasks *t, double Rin, double *rate)
{
	int nn = c->nn, items = t->nt + nn;
	/* children lists; pseudo node nn + w is worker w's implicit round-robin root */
	int nodes = nn + 64;
	int *start = e2_xcalloc((size_t)nodes + 1, sizeof(int));
	int *kids = e2_xmalloc((size_t)(items + 1) * sizeof(int));
	int *fill = e2_xcalloc((size_t)nodes, sizeof(int));
	double *ndem = e2_xcalloc((size_t)nodes + 1, sizeof(double));
	if (!start || !kids || !fill || !ndem) {
		free(start);
		free(kids);
		free(fill);
		free(ndem);
		return -1;
	}
#define PARENT_OF_TASK(ti) (c->m[t->head[ti]].snode >= 0 ? c->m[t->head[ti]].snode : nn + c->m[t->head[ti]].worker)
#define PARENT_OF_NODE(i) (c->s[i].parent >= 0 ? c->s[i].parent : nn + c->s[i].worker)
	for (int ti = 0; ti < t->nt; ti++)
		start[PARENT_OF_TASK(ti) + 1]++;
	for (int i = 0; i < nn; i++)
		start[PARENT_OF_NODE(i) + 1]++;
	for (int i = 0; i < nodes; i++)
		start[i + 1] += start[i];
	for (int ti = 0; ti < t->nt; ti++) {
		int pn = PARENT_OF_TASK(ti);
		kids[start[pn] + fill[pn]++] = ~ti;
	}
	for (int i = 0; i < nn; i++) {
		int pn = PARENT_OF_NODE(i);
		kids[start[pn] + fill[pn]++] = i;
	}
	for (int ti = 0; ti < t->nt; ti++)
		rate[ti] = INFINITY;
	int it;
	for (it = 0; it < 5000; it++) {
		for (int ti = 0; ti < t->nt; ti++) {
			double up = t->ptask[ti] < 0 ? Rin : rate[t->ptask[ti]];
			t->D[ti] = t->C[ti] > 0 ? t->C[ti] * up : 0;
			if (!isfinite(t->D[ti]))
				t->D[ti] = INFINITY;
			t->A[ti] = 0;
		}
		node_demands(c, t, ndem);
		for (int w = 0; w < 64; w++) {
			int pn = nn + w;
			double d = 0;
			for (int k = start[pn]; k < start[pn + 1]; k++)
				d += kids[k] < 0 ? t->D[~kids[k]] : ndem[kids[k]];
			ndem[pn] = d;
			alloc_node(c, t, pn, 1.0, ndem, kids, start);
		}
		double change = 0, scale = 0;
		for (int ti = 0; ti < t->nt; ti++) {
			double up = t->ptask[ti] < 0 ? Rin : rate[t->ptask[ti]];
			double r = t->C[ti] > 0 ? t->A[ti] / t->C[ti] : up;
			if (r > up)
				r = up;
			/* Jacobi steps can cycle (shares rounded to integers make a task's
             * demand straddle its fair share): damp them after a while */
			if (it > 100 && isfinite(r) && isfinite(rate[ti]))
				r = 0.5 * (r + rate[ti]);
			if (isfinite(r) && isfinite(rate[ti]))
				change = fmax(change, fabs(r - rate[ti]));
			else if (isfinite(r) != isfinite(rate[ti]))
				change = INFINITY;
			rate[ti] = r;
			if (isfinite(r))
				scale = fmax(scale, r);
		}
		if (change <= 1e-12 * fmax(scale, 1e-9))
			break;
		/* rounded shares can leave the iteration circling in a tiny band around
         * the equilibrium; a band of 1e-6 is far below the 1% SLO tolerance */
		if (it > 2000 && change <= 1e-6 * fmax(scale, 1e-9))
			break;
	}
	free(start);
	free(kids);
	free(fill);
	free(ndem);
	return it < 5000 ? 0 : -1;
#undef PARENT_OF_TASK
#undef PARENT_OF_NODE
}

/* ---- exact equilibrium for the usual tree shapes ----
 * Per worker: a weighted-fair (or round-robin) root over tasks, or a priority
 * root over such groups or single tasks. Within a group with water level theta a
 * task runs at min(upstream rate, share * theta / cycles), computed parents
 * first, so the group's consumption is monotone in theta: bisect it. Groups are
 * served in priority order; workers are swept until the rates settle. */

typedef struct {
	int ntasks;
	int *task; /* tasks in an order where upstream tasks come first */
	double *w;
} group;

static int task_depth(const ctx *c, const tasks *t, int ti)
{
	int d = 0;
	for (int j = t->head[ti]; j >= 0; j = c->m[j].parent)
		d++;
	return d;
}

static double group_eval(const tasks *t, const group *gr, double theta, double Rin, double *rate)
{
	double sum = 0;
	for (int i = 0; i < gr->ntasks; i++) {
		int ti = gr->task[i];
		double up = t->ptask[ti] < 0 ? Rin : rate[t->ptask[ti]];
		double r = t->C[ti] > 0 ? fmin(up, gr->w[i] * theta / t->C[ti]) : up;
		rate[ti] = r; /* tasks later in the group read it */
		if (t->C[ti] > 0)
			sum += t->C[ti] * r;
	}
	return sum;
}

#define LOOSE (-(1 << 30)) /* the worker's tasks outside any scheduler node */

/* builds the groups of worker w; false if its tree has another shape */
static bool worker_groups(const ctx *c, const tasks *t, int w, group *gs, int *ngs, int *order)
{
	int root = -1, nroots = 0;
	for (int i = 0; i < c->nn; i++)
		if (c->s[i].worker == w && c->s[i].parent < 0) {
			root = i;
			nroots++;
		}
	bool loose = false; /* tasks attached to the worker outside any node */
	for (int ti = 0; ti < t->nt; ti++)
		if (c->m[t->head[ti]].worker == w && c->m[t->head[ti]].snode < 0)
			loose = true;
	if (nroots > 1 || (nroots == 1 && loose))
		return false;
	for (int i = 0; i < c->nn; i++)
		if (c->s[i].worker == w && c->s[i].pol == P_RATE)
			return false;
	/* groups: item ids are node index or ~task; order by priority */
	int items[4096], nitems = 0;
	long prios[4096];
	if (nroots == 0 || c->s[root].pol != P_PRIO) {
		items[nitems] = nroots ? root : LOOSE;
		prios[nitems++] = 0;
	} else {
		int kids = 0;
		for (int i = 0; i < c->nn; i++)
			kids += c->s[i].parent == root;
		for (int ti = 0; ti < t->nt; ti++)
			kids += c->m[t->head[ti]].snode == root;
		if (kids > 4096)
			return false;
		for (int i = 0; i < c->nn && nitems < 4096; i++)
			if (c->s[i].parent == root) {
				if (c->s[i].pol == P_PRIO)
					return false;
				items[nitems] = i;
				prios[nitems++] = c->s[i].prio;
			}
		for (int ti = 0; ti < t->nt && nitems < 4096; ti++)
			if (c->m[t->head[ti]].snode == root) {
				items[nitems] = ~ti;
				prios[nitems++] = c->m[t->head[ti]].prio;
			}
	}
	/* sort items by priority (stable insertion sort) */
	for (int i = 1; i < nitems; i++)
		for (int k = i; k > 0 && prios[k] < prios[k - 1]; k--) {
			long p = prios[k];
			prios[k] = prios[k - 1];
			prios[k - 1] = p;
			int x = items[k];
			items[k] = items[k - 1];
			items[k - 1] = x;
		}
	*ngs = 0;
	for (int i = 0; i < nitems; i++) {
		group *gr = &gs[(*ngs)++];
		gr->ntasks = 0;
		int node = items[i];
		for (int k = 0; k < t->nt; k++) {
			int ti = order[k];
			const cmod *m = &c->m[t->head[ti]];
			if (m->worker != w)
				continue;
			bool in = node == LOOSE ? m->snode < 0 : node < 0 ? ti == ~node : m->snode == node;
			if (!in)
				continue;
			gr->task[gr->ntasks] = ti;
			gr->w[gr->ntasks++] = (node >= 0 && c->s[node].pol == P_WFQ) ? m->share : 1;
		}
		/* nested nodes under this group are not handled here */
		if (node >= 0)
			for (int k = 0; k < c->nn; k++)
				if (c->s[k].parent == node)
					return false;
	}
	return true;
}

static int equilibrium_groups(const ctx *c, tasks *t, double Rin, double *rate)
{
	int nt = t->nt;
	int *order = e2_xmalloc((size_t)(nt + 1) * sizeof(int));
	int *depth = e2_xmalloc((size_t)(nt + 1) * sizeof(int));
	group *gs = e2_xcalloc((size_t)nt + 2, sizeof(group));
	int *tbuf = e2_xmalloc((size_t)(nt + 1) * (size_t)(nt + 2) * sizeof(int));
	double *wbuf = e2_xmalloc((size_t)(nt + 1) * (size_t)(nt + 2) * sizeof(double));
	double *prev = e2_xmalloc((size_t)(nt + 1) * sizeof(double));
	double *step = e2_xcalloc((size_t)nt + 1, sizeof(double));
	double alpha = 1; /* share of each sweep's step that is taken */
	int rc = 1;
	if (!order || !depth || !gs || !tbuf || !wbuf || !prev || !step)
		goto out;
	for (int i = 0; i < nt; i++) {
		order[i] = i;
		depth[i] = task_depth(c, t, i);
	}
	for (int i = 1; i < nt; i++) /* by depth: upstream tasks first */
		for (int k = i; k > 0 && depth[order[k]] < depth[order[k - 1]]; k--) {
			int x = order[k];
			order[k] = order[k - 1];
			order[k - 1] = x;
		}
	for (int i = 0; i < nt + 2; i++) {
		gs[i].task = tbuf + (size_t)i * (size_t)(nt + 1);
		gs[i].w = wbuf + (size_t)i * (size_t)(nt + 1);
	}
	for (int w = 0; w < 64; w++) {
		int ng;
		if (!worker_groups(c, t, w, gs, &ng, order))
			goto out;
	}
	for (int i = 0; i < nt; i++)
		rate[i] = INFINITY;
	for (int sweep = 0; sweep < 200; sweep++) {
		memcpy(prev, rate, (size_t)nt * sizeof(double));
		for (int w = 0; w < 64; w++) {
			int ng;
			worker_groups(c, t, w, gs, &ng, order);
			double cap = 1;
			for (int gi = 0; gi < ng; gi++) {
				group *gr = &gs[gi];
				if (gr->ntasks == 0)
					continue;
				double full = group_eval(t, gr, INFINITY, Rin, rate);
				if (full <= cap) {
					cap -= full;
					continue;
				}
				double lo = 0, hi = 1;
				for (int k = 0; k < 400 && group_eval(t, gr, hi, Rin, rate) < cap; k++)
					hi *= 2;
				for (int k = 0; k < 200; k++) {
					double mid = 0.5 * (lo + hi);
					if (group_eval(t, gr, mid, Rin, rate) < cap)
						lo = mid;
					else
						hi = mid;
				}
				group_eval(t, gr, hi, Rin, rate);
				cap = 0;
			}
		}
		double change = 0, scale = 0, turn = 0;
		for (int i = 0; i < nt; i++) {
			if (isfinite(rate[i]))
				scale = fmax(scale, rate[i]);
			if (isfinite(rate[i]) != isfinite(prev[i]))
				change = INFINITY;
			else if (isfinite(rate[i]))
				change = fmax(change, fabs(rate[i] - prev[i]));
			double d = isfinite(rate[i]) && isfinite(prev[i]) ? rate[i] - prev[i] : 0;
			turn += d * step[i];
			step[i] = d;
		}
		/* workers feeding each other can keep circling in a band set by the
         * rounded shares; 1e-5 of the rate is far below the 1% SLO tolerance */
		if (change <= 1e-12 * fmax(scale, 1e-9) || (sweep > 50 && change <= 1e-5 * scale)) {
			rc = 0;
			goto out;
		}
		/* A task that outranks its own upstream on a worker takes cycles in proportion
         * to the upstream's rate, which then gets fewer: the plain sweep overshoots
         * and circles, or diverges, around the equilibrium. Each time the step turns
         * back, take half as much of it. */
		if (turn < 0)
			alpha /= 2;
		if (alpha < 1)
			for (int i = 0; i < nt; i++)
				if (isfinite(rate[i]) && isfinite(prev[i]))
					rate[i] = prev[i] + alpha * step[i];
	}
	rc = -1;
out:
	free(order);
	free(depth);
	free(gs);
	free(tbuf);
	free(wbuf);
	free(prev);
	free(step);
	return rc; /* 1: shape not handled here */
}

/* ---- driver ---- */

static int class_index(const alp_graph *g, const char *name)
{
	for (int a = 0; a < g->nclasses; a++)
		if (strcmp(g->classes[a].name, name) == 0)
			return a;
	return -1;
}

/* The plan's graph must be the graph of this plan on this graph: the same input and
 * classes, and the same costs for the modules both have (the starting graph's are the
 * ones used). */
static int check_plan_graph(ctx *c)
{
	const alp_graph *g = c->g, *pg = c->pg;
	if (strcmp(pg->mods[pg->root].name, g->mods[g->root].name) != 0)
		return cerr(c, 0, "the plan's graph starts at '%s', not at the graph's input '%s'",
			    pg->mods[pg->root].name, g->mods[g->root].name);
	for (int a = 0; a < g->nclasses; a++)
		if (class_index(pg, g->classes[a].name) < 0)
			return cerr(c, 0, "the plan's graph has no class '%s'", g->classes[a].name);
	for (int a = 0; a < pg->nclasses; a++)
		if (class_index(g, pg->classes[a].name) < 0)
			return cerr(c, 0, "the plan's graph has a class '%s' that the graph has not",
				    pg->classes[a].name);
	for (int j = 0; j < g->n; j++) {
		int k = alp_graph_find(pg, g->mods[j].name);
		if (k >= 0 && pg->mods[k].cycles != g->mods[j].cycles)
			return cerr(c, 0, "module '%s' costs %g cycles in the graph but %g in the plan's graph",
				    g->mods[j].name, g->mods[j].cycles, pg->mods[k].cycles);
	}
	return 0;
}

/* Each class's path, root first, as the executed graph runs it. */
static int build_paths(ctx *c, int **paths, int *plen)
{
	const alp_graph *g = c->g;
	for (int a = 0; a < g->nclasses; a++) {
		const alp_class *cl = &g->classes[a];
		/* the plan's graph says where the plan sends the class */
		const alp_graph *src = c->pg ? c->pg : g;
		const alp_class *route = c->pg ? &src->classes[class_index(src, cl->name)] : cl;
		int *orig = e2_xmalloc((size_t)route->len * sizeof(int)), olen = 0;
		if (!orig)
			return cerr(c, 0, "out of memory");
		for (int i = 0; i < route->len; i++) {
			const char *name = src->mods[route->path[i]].name;
			int j = find_mod(c, name);
			if (j < 0) {
				free(orig);
				return cerr(
					c, 0,
					"class '%s': the plan's graph sends it through '%s', which the plan does not add",
					cl->name, name);
			}
			orig[olen++] = j;
		}
		/* walk up from the exit to the root: the executed path, queues included */
		if (olen == 0) {
			free(orig);
			return cerr(c, 0, "class '%s': empty path", cl->name);
		}
		int *p = e2_xmalloc((size_t)(c->n + 1) * sizeof(int)), n = 0;
		if (!p) {
			free(orig);
			return cerr(c, 0, "out of memory");
		}
		int oi = olen - 1;
		for (int j = orig[olen - 1]; j >= 0 && n <= c->n; j = c->m[j].parent) {
			p[n++] = j;
			if (oi >= 0 && j == orig[oi])
				oi--;
			else if (j < g->n || (c->pg && alp_graph_find(c->pg, c->m[j].name) >= 0)) {
				/* between the modules of its path, only what the plan adds that its
				 * graph does not name: the queues */
				free(orig);
				free(p);
				return cerr(c, 0, "class '%s': the plan reroutes it through '%s'", cl->name,
					    c->m[j].name);
			}
		}
		if (oi >= 0 || n == 0 || c->m[p[n - 1]].parent >= 0 || p[n - 1] != orig[0]) {
			free(orig);
			free(p);
			return cerr(c, 0, "class '%s': the plan breaks its path from the input to its exit", cl->name);
		}
		for (int i = 0; i < n / 2; i++) {
			int x = p[i];
			p[i] = p[n - 1 - i];
			p[n - 1 - i] = x;
		}
		paths[a] = p;
		plen[a] = n;
		free(orig);
	}
	return 0;
}

void alp_check_free(alp_check *c)
{
	if (!c)
		return;
	free(c->mpps);
	free(c->cpu);
	free(c->slo_error);
	memset(c, 0, sizeof(*c));
}

static int task_of(const ctx *c, int j)
{
	while (j >= 0 && !c->m[j].sched)
		j = c->m[j].parent;
	return j;
}

/* effective priority comparison of two tasks on the same worker: <0 if a is
 * strictly preferred, >0 if b, 0 if they meet at a weighted or round-robin node */
static int chain(const ctx *c, int mod, int *out)
{
	int tmp[80], n = 0;
	tmp[n++] = ~mod;
	for (int s = c->m[mod].snode; s >= 0 && n < 79; s = c->s[s].parent)
		tmp[n++] = s;
	for (int i = 0; i < n; i++)
		out[i] = tmp[n - 1 - i]; /* root first */
	return n;
}

static long item_prio(const ctx *c, int item)
{
	return item < 0 ? c->m[~item].prio : c->s[item].prio;
}

static int prio_cmp(const ctx *c, int ma, int mb)
{
	int pa[80], pb[80];
	int na = chain(c, ma, pa), nb = chain(c, mb, pb);
	int i = 0;
	while (i < na && i < nb && pa[i] == pb[i])
		i++;
	if (i == 0 || i >= na || i >= nb)
		return 0; /* different roots: the worker's implicit round robin */
	int lca = pa[i - 1];
	if (c->s[lca].pol != P_PRIO)
		return 0;
	long xa = item_prio(c, pa[i]), xb = item_prio(c, pb[i]);
	return (xa > xb) - (xa < xb);
}

int alp_check_plan(const alp_graph *g, const alp_graph *plan_graph, const char *text, size_t len, alp_check *out,
		   char *err)
{
	memset(out, 0, sizeof(*out));
	ctx c = {.g = g, .pg = plan_graph, .err = err};
	int rc = -1;
	int **paths = NULL, *plen = NULL;
	tasks t = {0};
	double *rate = NULL;
	int *taskidx = NULL;
	err[0] = '\0';
	if (plan_graph && check_plan_graph(&c) < 0)
		goto done;
	for (int j = 0; j < g->n; j++) {
		const alp_module *m = &g->mods[j];
		if (add_mod(&c, m->name, m->cycles, m->schedulable) < 0)
			goto done;
	}
	for (int j = 0; j < g->n; j++) {
		c.m[j].parent = g->mods[j].parent;
		c.m[j].pgate = g->mods[j].pgate;
		c.m[j].igate = g->mods[j].igate;
	}
	/* commands */
	{
		const char *p = text, *end = text + len;
		int ln = 0;
		while (p < end) {
			const char *nl = memchr(p, '\n', (size_t)(end - p));
			size_t l = nl ? (size_t)(nl - p) : (size_t)(end - p);
			ln++;
			char buf[4096];
			if (l >= sizeof(buf)) {
				cerr(&c, ln, "line too long");
				goto done;
			}
			memcpy(buf, p, l);
			buf[l] = '\0';
			p += l + 1;
			if (memchr(buf, '\0', l)) {
				cerr(&c, ln, "NUL byte");
				goto done;
			}
			/* plans once carried costs and class paths in comments that e2d skips;
			 * read as comments they would leave the check quietly wrong */
			if (strncmp(buf + strspn(buf, " \t"), "#@", 2) == 0) {
				cerr(&c, ln,
				     "'#@' annotations are no longer read: the costs and class paths of the modules "
				     "a plan adds come from the plan's graph (alpine plan|strawman --graph-out FILE, "
				     "then alpine check --graph FILE)");
				goto done;
			}
			char perr[ALP_ERRLEN];
			E2__Dp__Request *r = e2_cmd_parse(buf, perr, sizeof(perr));
			if (!r && perr[0]) {
				/* the parser lists every command after this; the word is enough here */
				const char *w = buf + strspn(buf, " \t\r");
				if (strncmp(perr, "unknown command ", 16) == 0)
					cerr(&c, ln, "unknown or malformed command '%.*s'", (int)strcspn(w, " \t\r"),
					     w);
				else
					cerr(&c, ln, "%s", perr);
				goto done;
			}
			if (!r)
				continue; /* empty or a comment */
			int arc = apply(&c, r, buf + strspn(buf, " \t\r"), ln);
			e2__dp__request__free_unpacked(r, NULL);
			if (arc < 0)
				goto done;
		}
	}
	/* the executed graph must still be a tree rooted at the input */
	for (int j = 0; j < c.n; j++) {
		int steps = 0, k = j;
		while (c.m[k].parent >= 0 && steps <= c.n) {
			k = c.m[k].parent;
			steps++;
		}
		if (steps > c.n) {
			cerr(&c, 0, "the plan creates a cycle through '%s'", c.m[j].name);
			goto done;
		}
	}
	if (c.m[g->root].parent >= 0) {
		cerr(&c, 0, "the input module '%s' got an upstream", g->mods[g->root].name);
		goto done;
	}
	paths = e2_xcalloc((size_t)g->nclasses, sizeof(int *));
	plen = e2_xcalloc((size_t)g->nclasses, sizeof(int));
	if (!paths || !plen || build_paths(&c, paths, plen) < 0)
		goto done;
	/* traffic per module (root-equivalent fraction) */
	double *lam = e2_xcalloc((size_t)c.n, sizeof(double));
	taskidx = e2_xmalloc((size_t)c.n * sizeof(int));
	if (!lam || !taskidx) {
		free(lam);
		goto done;
	}
	for (int a = 0; a < g->nclasses; a++)
		for (int i = 0; i < plen[a]; i++)
			lam[paths[a][i]] += g->classes[a].fraction;
	t.head = e2_xmalloc((size_t)c.n * sizeof(int));
	t.ptask = e2_xmalloc((size_t)c.n * sizeof(int));
	t.C = e2_xcalloc((size_t)c.n, sizeof(double));
	t.D = e2_xcalloc((size_t)c.n, sizeof(double));
	t.A = e2_xcalloc((size_t)c.n, sizeof(double));
	rate = e2_xcalloc((size_t)c.n, sizeof(double));
	if (!t.head || !t.ptask || !t.C || !t.D || !t.A || !rate) {
		free(lam);
		goto done;
	}
	for (int j = 0; j < c.n; j++) {
		taskidx[j] = -1;
		if (c.m[j].sched && lam[j] > 0) {
			if (c.m[j].worker < 0) {
				free(lam);
				cerr(&c, 0, "task '%s' carries traffic but is not attached to a worker", c.m[j].name);
				goto done;
			}
			if (c.m[j].snode >= 0 && c.s[c.m[j].snode].worker != c.m[j].worker) {
				free(lam);
				cerr(&c, 0, "task '%s' is attached to worker %d but scheduled on worker %d",
				     c.m[j].name, c.m[j].worker, c.s[c.m[j].snode].worker);
				goto done;
			}
			taskidx[j] = t.nt;
			t.head[t.nt++] = j;
		}
	}
	for (int ti = 0; ti < t.nt; ti++) {
		int h = t.head[ti];
		int up = c.m[h].parent >= 0 ? task_of(&c, c.m[h].parent) : -1;
		t.ptask[ti] = up >= 0 ? taskidx[up] : -1;
	}
	for (int j = 0; j < c.n; j++) {
		int h = task_of(&c, j);
		if (h >= 0 && taskidx[h] >= 0)
			t.C[taskidx[h]] += c.m[j].cycles * lam[j];
	}
	free(lam);
	double Rin = g->input_mpps > 0 ? g->input_mpps / g->cpu_ghz : INFINITY;
	int eq = equilibrium_groups(&c, &t, Rin, rate);
	if (eq > 0)
		eq = equilibrium(&c, &t, Rin, rate);
	if (eq < 0) {
		cerr(&c, 0, "the scheduler model did not converge");
		goto done;
	}
	/* per class */
	out->nclasses = g->nclasses;
	out->mpps = e2_xcalloc((size_t)g->nclasses, sizeof(double));
	out->cpu = e2_xcalloc((size_t)g->nclasses, sizeof(double));
	out->slo_error = e2_xcalloc((size_t)g->nslos + 1, sizeof(double));
	if (!out->mpps || !out->cpu || !out->slo_error)
		goto done;
	int workers_used = c.nworkers > 0 ? c.nworkers : 1;
	for (int a = 0; a < g->nclasses; a++) {
		double f = g->classes[a].fraction;
		for (int i = 0; i < plen[a]; i++) {
			int j = paths[a][i];
			double r = rate[taskidx[task_of(&c, j)]];
			if (j >= g->n && c.m[j].sched)
				continue; /* inserted queues: scheduling overhead, not class work */
			out->cpu[a] += f * c.m[j].cycles * r / workers_used;
		}
		int ex = paths[a][plen[a] - 1];
		out->mpps[a] = f * rate[taskidx[task_of(&c, ex)]] * g->cpu_ghz;
		out->total_mpps += out->mpps[a];
	}
	for (int j = 0; j < c.n; j++) {
		out->tasks += taskidx[j] >= 0;
		out->queues += j >= g->n && c.m[j].sched;
	}
	/* SLO errors */
	for (int s = 0; s < g->nslos; s++) {
		const alp_slo *o = &g->slos[s];
		double e = 0;
		if (o->kind == ALP_SLO_PRIORITY) {
			for (int i = 0; i < o->n; i++)
				for (int k = i + 1; k < o->n; k++) {
					int hi = o->classes[i], lo = o->classes[k];
					double offered = g->classes[hi].fraction * Rin * g->cpu_ghz;
					if (isfinite(offered) && offered > 0)
						e = fmax(e, (offered - out->mpps[hi]) / offered);
					/* structure: tasks serving lo but not hi lose to tasks serving hi */
					for (int x = 0; x < t.nt; x++)
						for (int y = 0; y < t.nt; y++) {
							int hx = t.head[x], hy = t.head[y];
							bool x_hi = false, y_lo = false, y_hi = false;
							for (int i2 = 0; i2 < plen[hi]; i2++) {
								x_hi |= task_of(&c, paths[hi][i2]) == hx;
								y_hi |= task_of(&c, paths[hi][i2]) == hy;
							}
							for (int i2 = 0; i2 < plen[lo]; i2++)
								y_lo |= task_of(&c, paths[lo][i2]) == hy;
							if (!x_hi || !y_lo || y_hi || c.m[hx].worker != c.m[hy].worker)
								continue;
							if (prio_cmp(&c, hx, hy) >= 0) {
								e = fmax(e, 1.0);
								snprintf(
									out->msg, sizeof(out->msg),
									"SLO '%s': task %s (class %s) is not above task %s (class %s)",
									o->name, c.m[hx].name, g->classes[hi].name,
									c.m[hy].name, g->classes[lo].name);
							}
						}
				}
		} else {
			double tot = 0, ptot = 0;
			for (int i = 0; i < o->n; i++) {
				int a = o->classes[i];
				tot += o->kind == ALP_SLO_CPU ? out->cpu[a] : out->mpps[a];
				ptot += o->ratio[i];
			}
			for (int i = 0; i < o->n; i++) {
				int a = o->classes[i];
				double v = o->kind == ALP_SLO_CPU ? out->cpu[a] : out->mpps[a];
				double got = tot > 0 ? v / tot : 1.0 / o->n;
				e += fabs(got - o->ratio[i] / ptot);
			}
		}
		out->slo_error[s] = e;
		if (e > out->max_error)
			out->max_error = e;
	}
	rc = 0;
done:
	if (paths)
		for (int a = 0; a < g->nclasses; a++)
			free(paths[a]);
	free(paths);
	free(plen);
	free(t.head);
	free(t.ptask);
	free(t.C);
	free(t.D);
	free(t.A);
	free(rate);
	free(taskidx);
	free(c.m);
	free(c.s);
	if (rc < 0)
		alp_check_free(out);
	return rc;
}
