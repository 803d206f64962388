/* SPDX-License-Identifier: BSD-3-Clause */
/* Plans: E2D commands (queues, workers, scheduler tree), a summary and a DOT picture. */
#include "alpine.h"

#include "e2/cmd.h"

#include <graphviz/cgraph.h>
#include <stdio.h>
#include <math.h>
#include <stdlib.h>
#include <string.h>

#define SHARE_SCALE 1000000.0 /* shares are integers in 1..SHARE_SCALE */

const char *alp_status_name(alp_status s)
{
	switch (s) {
	case ALP_OPTIMAL: return "optimal";
	case ALP_FEASIBLE: return "feasible";
	case ALP_INFEASIBLE: return "infeasible";
	case ALP_TIMEOUT: return "timeout";
	default: return "error";
	}
}

void alp_opts_default(alp_opts *o)
{
	o->time_limit_s = 60;
	o->gap = 1e-4;
	o->delta = 0;
	o->quiet = true;
}

alp_plan *alp_plan_new(const alp_graph *g, const alp_graph *base, const char *kind)
{
	alp_plan *p = e2_xcalloc(1, sizeof(*p));
	if (!p)
		return NULL;
	p->g = g;
	p->base = base;
	p->kind = e2_xstrdup(kind);
	size_t n = (size_t)g->n;
	p->head = e2_xcalloc(n, sizeof(bool));
	p->worker = e2_xcalloc(n, sizeof(int));
	p->level = e2_xcalloc(n, sizeof(int));
	p->rate = e2_xcalloc(n, sizeof(double));
	p->share = e2_xcalloc(n, sizeof(double));
	p->nlevels = 1;
	if (!p->kind || !p->head || !p->worker || !p->level || !p->rate || !p->share) {
		alp_plan_free(p);
		return NULL;
	}
	return p;
}

void alp_plan_free(alp_plan *p)
{
	if (!p)
		return;
	free(p->kind);
	free(p->head);
	free(p->worker);
	free(p->level);
	free(p->rate);
	free(p->share);
	alp_graph_free(p->owned);
	free(p);
}

static bool usable(const alp_plan *p)
{
	return p->status == ALP_OPTIMAL || p->status == ALP_FEASIBLE;
}

/* Name of the task module heading module j's task: the module itself when it is
 * schedulable, else the queue inserted before it. */
static void task_name(const alp_plan *p, int j, char *buf, size_t len)
{
	const alp_module *m = &p->g->mods[j];
	if (m->schedulable) {
		snprintf(buf, len, "%s", m->name);
		return;
	}
	snprintf(buf, len, "q_%s", m->name);
	/* a module of that name already exists: pick a name that does not */
	for (int k = 1; alp_graph_find(p->g, buf) >= 0 || alp_graph_find(p->base, buf) >= 0; k++)
		snprintf(buf, len, "q%d_%s", k, m->name);
}

static int task_of(const alp_plan *p, int j)
{
	while (!p->head[j])
		j = p->g->mods[j].parent;
	return j;
}

/* ---- e2d commands, built as requests and written by cmdlang's printer ---- */

static E2__Dp__Request *request(E2__Dp__Request__OpCase op)
{
	E2__Dp__Request *r = e2_xcalloc(1, sizeof(*r));
	e2__dp__request__init(r);
	r->version = E2_CTL_VERSION;
	r->op_case = op;
	return r;
}

static E2__Dp__GateRef *gate_ref(const char *module, int gate)
{
	E2__Dp__GateRef *g = e2_xcalloc(1, sizeof(*g));
	e2__dp__gate_ref__init(g);
	g->module = e2_xstrdup(module);
	g->gate = (uint32_t)gate;
	return g;
}

/* Writes the request's line and frees it. A request with no text form is a bug here. */
static void emit(FILE *f, E2__Dp__Request *r)
{
	char *line = e2_cmd_line(r);
	if (!line) {
		fprintf(stderr, "alpine: a plan command has no e2d text (operation %d)\n", (int)r->op_case);
		abort();
	}
	fprintf(f, "%s\n", line);
	free(line);
	e2__dp__request__free_unpacked(r, NULL);
}

/* module add NAME CLASS ARGS: ARGS is the graph's text of the module's arguments,
 * read as e2d reads them */
static void emit_module_add(FILE *f, const char *name, const char *klass, const char *args)
{
	char *line, err[512];
	if (asprintf(&line, "module add x x %s", args ? args : "") < 0)
		abort();
	E2__Dp__Request *r = e2_cmd_parse(line, err, sizeof(err));
	if (!r) {
		fprintf(stderr, "alpine: module '%s': arguments '%s': %s\n", name, args ? args : "", err);
		abort();
	}
	free(line);
	free(r->module_create->name);
	free(r->module_create->mclass);
	r->module_create->name = e2_xstrdup(name);
	r->module_create->mclass = e2_xstrdup(klass);
	emit(f, r);
}

static void emit_connect(FILE *f, const char *from, int ogate, const char *to, int igate)
{
	E2__Dp__Request *r = request(E2__DP__REQUEST__OP_CONNECT);
	r->connect = e2_xcalloc(1, sizeof(*r->connect));
	e2__dp__connect__init(r->connect);
	r->connect->from = gate_ref(from, ogate);
	r->connect->to = gate_ref(to, igate);
	emit(f, r);
}

static void emit_disconnect(FILE *f, const char *from, int ogate)
{
	E2__Dp__Request *r = request(E2__DP__REQUEST__OP_DISCONNECT);
	r->disconnect = gate_ref(from, ogate);
	emit(f, r);
}

static void emit_insert(FILE *f, const char *from, int ogate, const char *module)
{
	E2__Dp__Request *r = request(E2__DP__REQUEST__OP_INSERT);
	r->insert = e2_xcalloc(1, sizeof(*r->insert));
	e2__dp__insert__init(r->insert);
	r->insert->at = gate_ref(from, ogate);
	r->insert->module = e2_xstrdup(module);
	emit(f, r);
}

static void emit_worker_add(FILE *f, int w)
{
	E2__Dp__Request *r = request(E2__DP__REQUEST__OP_WORKER_CREATE);
	r->worker_create = e2_xcalloc(1, sizeof(*r->worker_create));
	e2__dp__worker_create__init(r->worker_create);
	r->worker_create->id = (uint32_t)w;
	/* no core: an existing worker keeps its core; the operator pins new ones */
	r->worker_create->core = -1;
	emit(f, r);
}

static void emit_task_attach(FILE *f, const char *module, int w)
{
	E2__Dp__Request *r = request(E2__DP__REQUEST__OP_TASK_ATTACH);
	r->task_attach = e2_xcalloc(1, sizeof(*r->task_attach));
	e2__dp__task_attach__init(r->task_attach);
	r->task_attach->module = e2_xstrdup(module);
	r->task_attach->worker = (uint32_t)w;
	emit(f, r);
}

/* sched add NAME policy=POLICY [parent=PARENT] worker=W [priority=P], by cycles for
 * weighted fair nodes */
static void emit_sched_add(FILE *f, const char *name, E2__Dp__SchedPolicy policy, const char *parent, int w,
			   int priority)
{
	E2__Dp__Request *r = request(E2__DP__REQUEST__OP_SCHED_ADD);
	E2__Dp__SchedAdd *c = e2_xcalloc(1, sizeof(*c));
	e2__dp__sched_add__init(c);
	r->sched_add = c;
	c->name = e2_xstrdup(name);
	c->policy = policy;
	if (policy == E2__DP__SCHED_POLICY__SCHED_WEIGHTED_FAIR)
		c->resource = E2__DP__SCHED_RESOURCE__SCHED_CYCLES;
	if (parent) {
		c->has_parent_case = E2__DP__SCHED_ADD__HAS_PARENT_PARENT;
		c->parent = e2_xstrdup(parent);
	}
	c->has_worker_case = E2__DP__SCHED_ADD__HAS_WORKER_WORKER;
	c->worker = (uint32_t)w;
	if (priority >= 0) {
		c->has_priority_case = E2__DP__SCHED_ADD__HAS_PRIORITY_PRIORITY;
		c->priority = (uint32_t)priority;
	}
	emit(f, r);
}

static void emit_sched_attach(FILE *f, const char *name, const char *parent, long share)
{
	E2__Dp__Request *r = request(E2__DP__REQUEST__OP_SCHED_ATTACH);
	E2__Dp__SchedAttach *c = e2_xcalloc(1, sizeof(*c));
	e2__dp__sched_attach__init(c);
	r->sched_attach = c;
	c->name = e2_xstrdup(name);
	c->parent = e2_xstrdup(parent);
	c->has_share_case = E2__DP__SCHED_ATTACH__HAS_SHARE_SHARE;
	c->share = (uint32_t)share;
	emit(f, r);
}

void alp_plan_write_e2d(const alp_plan *p, FILE *f)
{
	const alp_graph *g = p->g, *base = p->base;
	fprintf(f, "# E2D scheduling configuration by alpine (%s plan, %s)\n", p->kind, alp_status_name(p->status));
	if (!usable(p)) {
		fprintf(f, "# no plan: %s\n", p->diag);
		return;
	}
	fprintf(f, "# %d tasks, predicted %.3f Mpps on %d worker(s)\n", p->tasks, p->mpps, g->workers);
	/* modules of a rewritten graph (manual strawman): their costs and the classes' new
	 * paths are in the graph the plan executes, written beside the plan */
	if (g != base)
		fprintf(f, "# rewrites the graph: check it with the plan's graph (--graph-out, then --graph)\n");
	for (int j = 0; j < g->n; j++) {
		const alp_module *m = &g->mods[j];
		if (alp_graph_find(base, m->name) >= 0)
			continue;
		emit_module_add(f, m->name, m->klass ? m->klass : "bypass", m->args);
	}
	for (int j = 0; j < g->n; j++) {
		const alp_module *m = &g->mods[j];
		if (m->parent < 0)
			continue;
		const alp_module *pm = &g->mods[m->parent];
		int bj = alp_graph_find(base, m->name);
		if (bj >= 0) {
			const alp_module *bm = &base->mods[bj];
			if (bm->parent >= 0 && strcmp(base->mods[bm->parent].name, pm->name) == 0 &&
			    bm->pgate == m->pgate && bm->igate == m->igate)
				continue;
		}
		int bp = alp_graph_find(base, pm->name);
		if (bp >= 0)
			for (int c = 0; c < base->mods[bp].nchildren; c++)
				if (base->mods[base->mods[bp].children[c]].pgate == m->pgate)
					emit_disconnect(f, pm->name, m->pgate);
		emit_connect(f, pm->name, m->pgate, m->name, m->igate);
	}
	/* queues on edges */
	for (int j = 0; j < g->n; j++) {
		const alp_module *m = &g->mods[j];
		if (!p->head[j] || m->schedulable)
			continue;
		char q[300];
		task_name(p, j, q, sizeof(q));
		emit_module_add(f, q, "queue", "size=1024");
		/* e2d puts the queue on the live edge atomically: no packet is lost */
		emit_insert(f, g->mods[m->parent].name, m->pgate, q);
	}
	/* workers, scheduler trees, tasks */
	for (int w = 0; w < g->workers; w++) {
		bool any = false;
		bool used[64] = {false};
		double maxs[64] = {0};
		for (int j = 0; j < g->n; j++)
			if (p->head[j] && p->worker[j] == w) {
				any = true;
				int L = p->level[j] < 64 ? p->level[j] : 63;
				used[L] = true;
				if (p->share[j] > maxs[L])
					maxs[L] = p->share[j];
			}
		emit_worker_add(f, w);
		if (!any)
			continue;
		bool prio = p->nlevels > 1;
		char node[64], parent[64];
		if (prio) {
			snprintf(node, sizeof(node), "w%d_prio", w);
			emit_sched_add(f, node, E2__DP__SCHED_POLICY__SCHED_PRIORITY, NULL, w, -1);
		}
		for (int L = 0; L < 64; L++) {
			if (!used[L] || (!prio && L > 0))
				continue;
			if (prio) {
				snprintf(node, sizeof(node), "w%d_l%d", w, L);
				snprintf(parent, sizeof(parent), "w%d_prio", w);
				emit_sched_add(f, node, E2__DP__SCHED_POLICY__SCHED_WEIGHTED_FAIR, parent, w, L);
			} else {
				snprintf(node, sizeof(node), "w%d_wfq", w);
				emit_sched_add(f, node, E2__DP__SCHED_POLICY__SCHED_WEIGHTED_FAIR, NULL, w, -1);
			}
		}
		for (int j = 0; j < g->n; j++) {
			if (!p->head[j] || p->worker[j] != w)
				continue;
			int L = prio ? (p->level[j] < 64 ? p->level[j] : 63) : 0;
			double s = maxs[L] > 0 ? p->share[j] / maxs[L] * SHARE_SCALE : SHARE_SCALE;
			long share = lround(s);
			if (share < 1)
				share = 1;
			char q[300];
			task_name(p, j, q, sizeof(q));
			emit_task_attach(f, q, w);
			if (prio)
				snprintf(parent, sizeof(parent), "w%d_l%d", w, L);
			else
				snprintf(parent, sizeof(parent), "w%d_wfq", w);
			emit_sched_attach(f, q, parent, share);
		}
	}
}

void alp_plan_write_summary(const alp_plan *p, FILE *f)
{
	const alp_graph *g = p->g;
	fprintf(f, "plan: %s\nstatus: %s", p->kind, alp_status_name(p->status));
	if (p->status == ALP_FEASIBLE)
		fprintf(f, " (gap %.3g%%)", p->gap * 100);
	fprintf(f, "\nsolve time: %.3f s\n", p->solve_s);
	if (p->diag[0])
		fprintf(f, "note: %s\n", p->diag);
	if (!usable(p))
		return;
	fprintf(f, "tasks: %d on %d worker(s)\npredicted throughput: %.3f Mpps\n", p->tasks, g->workers, p->mpps);
	for (int j = 0; j < g->n; j++) {
		if (!p->head[j])
			continue;
		char q[300];
		task_name(p, j, q, sizeof(q));
		fprintf(f, "task %s: worker %d, level %d, cpu %.2f%%, %.3f Mpps in; modules:", q, p->worker[j],
			p->level[j], p->share[j] * 100, p->rate[j] * g->lambda[j] * g->cpu_ghz);
		for (int k = 0; k < g->n; k++)
			if (task_of(p, k) == j)
				fprintf(f, " %s", g->mods[k].name);
		fprintf(f, "\n");
	}
	for (int a = 0; a < g->nclasses; a++) {
		const alp_class *c = &g->classes[a];
		fprintf(f, "class %s: %.3f Mpps\n", c->name, c->fraction * p->rate[c->path[c->len - 1]] * g->cpu_ghz);
	}
}

int alp_plan_write_dot(const alp_plan *p, FILE *f)
{
	const alp_graph *g = p->g;
	if (!usable(p))
		return -1;
	Agraph_t *G = agopen("alpine", Agdirected, NULL);
	if (!G)
		return -1;
	agattr(G, AGRAPH, "rankdir", "LR");
	Agnode_t **nodes = e2_xcalloc((size_t)g->n, sizeof(*nodes));
	Agnode_t **queues = e2_xcalloc((size_t)g->n, sizeof(*queues));
	if (!nodes || !queues) {
		free(nodes);
		free(queues);
		agclose(G);
		return -1;
	}
	agattr(G, AGNODE, "shape", "box");
	agattr(G, AGRAPH, "label", "");
	agattr(G, AGRAPH, "style", "");
	for (int j = 0; j < g->n; j++) {
		if (!p->head[j])
			continue;
		char cname[320], label[400], q[300];
		task_name(p, j, q, sizeof(q));
		snprintf(cname, sizeof(cname), "cluster_%s", q);
		Agraph_t *sub = agsubg(G, cname, 1);
		snprintf(label, sizeof(label), "task %s (worker %d, cpu %.1f%%)", q, p->worker[j], p->share[j] * 100);
		agset(sub, "label", label);
		agset(sub, "style", "dashed");
		if (!g->mods[j].schedulable) {
			queues[j] = agnode(sub, q, 1);
			agsafeset(queues[j], "shape", "cds", "");
		}
		for (int k = 0; k < g->n; k++)
			if (task_of(p, k) == j) {
				nodes[k] = agnode(sub, g->mods[k].name, 1);
				snprintf(label, sizeof(label), "%s\\n%g cyc", g->mods[k].name, g->mods[k].cycles);
				agsafeset(nodes[k], "label", label, "");
			}
	}
	for (int j = 0; j < g->n; j++) {
		int par = g->mods[j].parent;
		if (par < 0)
			continue;
		if (queues[j]) {
			agedge(G, nodes[par], queues[j], NULL, 1);
			agedge(G, queues[j], nodes[j], NULL, 1);
		} else {
			agedge(G, nodes[par], nodes[j], NULL, 1);
		}
	}
	int rc = agwrite(G, f) == EOF ? -1 : 0;
	agclose(G);
	free(nodes);
	free(queues);
	return rc;
}
