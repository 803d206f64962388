/* SPDX-License-Identifier: BSD-3-Clause */
/* Strawmen of seed section 5.5.2, emitted in the same plan format:
 *   rtc    - no queues at all, SLOs ignored;
 *   semi   - a queue at every branch, rates/weights solved;
 *   manual - a classifier behind the input and one queue per class, each class's
 *            pipeline cloned behind its queue; weights solved for the SLOs. */
#include "alpine.h"

#include <stdlib.h>
#include <string.h>

static alp_plan *fail_plan(const alp_graph *g, const char *kind, const char *msg)
{
	alp_plan *p = alp_plan_new(g, g, kind);
	if (p) {
		p->status = ALP_ERROR;
		snprintf(p->diag, sizeof(p->diag), "%s", msg);
	}
	return p;
}

static alp_plan *rtc(const alp_graph *g, const alp_opts *o)
{
	signed char *q = e2_xmalloc((size_t)g->n);
	if (!q)
		return NULL;
	for (int j = 0; j < g->n; j++)
		q[j] = 0; /* schedulable modules stay task heads (forced in the model) */
	alp_graph shallow = *g;
	shallow.nslos = 0;
	alp_plan *p = alp_solve_fixed(&shallow, o, q, "rtc");
	free(q);
	if (p)
		p->g = p->base = g;
	return p;
}

static alp_plan *semi(const alp_graph *g, const alp_opts *o)
{
	signed char *q = e2_xmalloc((size_t)g->n);
	if (!q)
		return NULL;
	for (int j = 0; j < g->n; j++) {
		int par = g->mods[j].parent;
		q[j] = (par >= 0 && g->mods[par].nchildren > 1) ? 1 : 0;
	}
	alp_plan *p = alp_solve_fixed(g, o, q, "semi");
	free(q);
	return p;
}

static alp_graph *manual_graph(const alp_graph *g, signed char **qout, char *err)
{
	alp_graph *m = alp_graph_new();
	signed char *q = NULL;
	char name[600];
	if (!m)
		return NULL;
	m->workers = g->workers;
	m->cpu_ghz = g->cpu_ghz;
	m->queue_cycles = g->queue_cycles;
	m->classifier_cycles = g->classifier_cycles;
	m->input_mpps = g->input_mpps;
	const alp_module *r = &g->mods[g->root];
	if (alp_graph_add_module(m, r->name, r->klass, r->args, r->cycles, true, err) < 0)
		goto fail;
	int cls = alp_graph_add_module(m, "alpine_cls", "classifier", NULL, g->classifier_cycles, false, err);
	if (cls < 0 || alp_graph_connect(m, 0, 0, cls, 0, err) < 0)
		goto fail;
	m->classes = e2_xcalloc((size_t)g->nclasses, sizeof(alp_class));
	if (!m->classes)
		goto fail;
	for (int a = 0; a < g->nclasses; a++) {
		const alp_class *c = &g->classes[a];
		if (c->len < 2) {
			snprintf(err, ALP_ERRLEN, "class '%s' ends at the input: nothing to classify", c->name);
			goto fail;
		}
		alp_class *mc = &m->classes[m->nclasses++];
		mc->name = e2_xstrdup(c->name);
		mc->fraction = c->fraction;
		mc->path = e2_xcalloc((size_t)c->len + 1, sizeof(int));
		if (!mc->name || !mc->path)
			goto fail;
		mc->path[mc->len++] = 0;
		mc->path[mc->len++] = cls;
		int prev = cls, pgate = a;
		for (int i = 1; i < c->len; i++) {
			const alp_module *om = &g->mods[c->path[i]];
			snprintf(name, sizeof(name), "%s__%s", om->name, c->name);
			int k = alp_graph_add_module(m, name, om->klass, om->args, om->cycles, false, err);
			if (k < 0 || alp_graph_connect(m, prev, pgate, k, om->igate, err) < 0)
				goto fail;
			mc->path[mc->len++] = k;
			prev = k;
			pgate = 0;
			if (i + 1 < c->len)
				pgate = g->mods[c->path[i + 1]].pgate;
		}
	}
	m->slos = e2_xcalloc((size_t)g->nslos + 1, sizeof(alp_slo));
	if (!m->slos)
		goto fail;
	for (int s = 0; s < g->nslos; s++) {
		const alp_slo *o = &g->slos[s];
		alp_slo *d = &m->slos[m->nslos++];
		d->name = e2_xstrdup(o->name);
		d->kind = o->kind;
		d->n = o->n;
		d->classes = e2_xmalloc((size_t)o->n * sizeof(int));
		if (!d->name || !d->classes)
			goto fail;
		memcpy(d->classes, o->classes, (size_t)o->n * sizeof(int));
		if (o->ratio) {
			d->ratio = e2_xmalloc((size_t)o->n * sizeof(double));
			if (!d->ratio)
				goto fail;
			memcpy(d->ratio, o->ratio, (size_t)o->n * sizeof(double));
		}
	}
	if (alp_graph_finish(m, err) < 0)
		goto fail;
	q = e2_xmalloc((size_t)m->n);
	if (!q)
		goto fail;
	for (int j = 0; j < m->n; j++)
		q[j] = (m->mods[j].parent == cls) ? 1 : 0;
	*qout = q;
	return m;
fail:
	alp_graph_free(m);
	return NULL;
}

static alp_plan *manual(const alp_graph *g, const alp_opts *o)
{
	char err[ALP_ERRLEN] = "out of memory";
	signed char *q = NULL;
	alp_graph *m = manual_graph(g, &q, err);
	if (!m)
		return fail_plan(g, "manual", err);
	alp_plan *p = alp_solve_fixed(m, o, q, "manual");
	free(q);
	if (!p) {
		alp_graph_free(m);
		return NULL;
	}
	p->owned = m;
	p->base = g;
	return p;
}

alp_plan *alp_strawman(const alp_graph *g, const char *kind, const alp_opts *o)
{
	if (strcmp(kind, "rtc") == 0)
		return rtc(g, o);
	if (strcmp(kind, "semi") == 0)
		return semi(g, o);
	if (strcmp(kind, "manual") == 0)
		return manual(g, o);
	return fail_plan(g, kind, "unknown strawman (manual, semi or rtc)");
}
