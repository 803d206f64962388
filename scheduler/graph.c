/* SPDX-License-Identifier: BSD-3-Clause */
/* The dataflow graph: modules on a tree, traffic classes as root-to-exit paths. */
#include "alpine.h"

#include <math.h>
#include <stdarg.h>
#include <stdlib.h>
#include <string.h>

__attribute__((format(printf, 2, 3))) static void seterr(char *err, const char *fmt, ...)
{
	if (!err)
		return;
	va_list ap;
	va_start(ap, fmt);
	vsnprintf(err, ALP_ERRLEN, fmt, ap);
	va_end(ap);
}

alp_graph *alp_graph_new(void)
{
	alp_graph *g = e2_xcalloc(1, sizeof(*g));
	if (!g)
		return NULL;
	g->root = -1;
	g->workers = 1;
	g->cpu_ghz = 2.6;
	g->queue_cycles = 40;
	g->classifier_cycles = -1; /* derived from the class count unless set */
	return g;
}

void alp_graph_free(alp_graph *g)
{
	if (!g)
		return;
	for (int i = 0; i < g->n; i++) {
		free(g->mods[i].name);
		free(g->mods[i].klass);
		free(g->mods[i].args);
		free(g->mods[i].children);
	}
	free(g->mods);
	free(g->by_name);
	for (int i = 0; i < g->nclasses; i++) {
		free(g->classes[i].name);
		free(g->classes[i].path);
	}
	free(g->classes);
	for (int i = 0; i < g->nslos; i++) {
		free(g->slos[i].name);
		free(g->slos[i].classes);
		free(g->slos[i].ratio);
	}
	free(g->slos);
	free(g->lambda);
	free(g->member);
	free(g);
}

/* Names are looked up for every edge, path step and plan line: a hash keeps reading a
 * graph linear in its size (a scan made 4096 modules take 0.3 s, mostly strcmp). */
static unsigned name_hash(const char *s)
{
	unsigned h = 2166136261u; /* FNV-1a */
	for (; *s; s++)
		h = (h ^ (unsigned char)*s) * 16777619u;
	return h;
}

static void by_name_put(alp_graph *g, int i)
{
	unsigned mask = (unsigned)g->by_name_cap - 1, b = name_hash(g->mods[i].name) & mask;
	while (g->by_name[b] >= 0)
		b = (b + 1) & mask;
	g->by_name[b] = i;
}

static void by_name_grow(alp_graph *g)
{
	int cap = g->by_name_cap ? 2 * g->by_name_cap : 64;
	free(g->by_name);
	g->by_name = e2_xmalloc((size_t)cap * sizeof(int));
	g->by_name_cap = cap;
	for (int b = 0; b < cap; b++)
		g->by_name[b] = -1;
	for (int i = 0; i < g->n; i++)
		by_name_put(g, i);
}

int alp_graph_find(const alp_graph *g, const char *name)
{
	if (!g->by_name_cap)
		return -1;
	unsigned mask = (unsigned)g->by_name_cap - 1;
	for (unsigned b = name_hash(name) & mask; g->by_name[b] >= 0; b = (b + 1) & mask)
		if (strcmp(g->mods[g->by_name[b]].name, name) == 0)
			return g->by_name[b];
	return -1;
}

bool alp_is_schedulable_class(const char *klass)
{
	return klass && (strcmp(klass, "port_in") == 0 || strcmp(klass, "queue") == 0);
}

static bool valid_name(const char *s)
{
	if (!*s || strlen(s) > 200)
		return false;
	for (; *s; s++)
		if (!(*s == '_' || *s == '-' || *s == '.' || *s == '@' || (*s >= '0' && *s <= '9') ||
		      (*s >= 'a' && *s <= 'z') || (*s >= 'A' && *s <= 'Z')))
			return false;
	return true;
}

int alp_graph_add_module(alp_graph *g, const char *name, const char *klass, const char *args, double cycles,
			 bool schedulable, char *err)
{
	if (!valid_name(name)) {
		seterr(err, "module name '%.60s' is not valid (letters, digits, _ - . @)", name);
		return -1;
	}
	if (g->n == ALP_MODULES_MAX) {
		seterr(err, "module '%s': more than %d modules", name, ALP_MODULES_MAX);
		return -1;
	}
	if (alp_graph_find(g, name) >= 0) {
		seterr(err, "module '%s' is defined twice", name);
		return -1;
	}
	if (!isfinite(cycles) || cycles < 0 || cycles > 1e9) {
		seterr(err, "module '%s': cycles must be a number in [0, 1e9], got %g", name, cycles);
		return -1;
	}
	if (g->n == g->cap) {
		int cap = g->cap ? 2 * g->cap : 16;
		alp_module *m = e2_xrealloc(g->mods, (size_t)cap * sizeof(*m));
		if (!m) {
			seterr(err, "out of memory");
			return -1;
		}
		g->mods = m;
		g->cap = cap;
	}
	alp_module *m = &g->mods[g->n];
	memset(m, 0, sizeof(*m));
	m->name = e2_xstrdup(name);
	m->klass = klass ? e2_xstrdup(klass) : NULL;
	m->args = args && *args ? e2_xstrdup(args) : NULL;
	m->cycles = cycles;
	m->schedulable = schedulable || alp_is_schedulable_class(klass);
	m->parent = -1;
	g->n++;
	if (2 * g->n > g->by_name_cap)
		by_name_grow(g);
	else
		by_name_put(g, g->n - 1);
	return g->n - 1;
}

int alp_graph_connect(alp_graph *g, int from, int ogate, int to, int igate, char *err)
{
	if (from < 0 || from >= g->n || to < 0 || to >= g->n) {
		seterr(err, "edge refers to an unknown module");
		return -1;
	}
	alp_module *f = &g->mods[from], *t = &g->mods[to];
	if (from == to) {
		seterr(err, "edge %s -> %s is a self-loop; Alpine needs a tree", f->name, t->name);
		return -1;
	}
	if (t->parent >= 0) {
		seterr(err, "module '%s' has two upstreams ('%s' and '%s'); Alpine needs a tree", t->name,
		       g->mods[t->parent].name, f->name);
		return -1;
	}
	for (int i = 0; i < f->nchildren; i++)
		if (g->mods[f->children[i]].pgate == ogate) {
			seterr(err, "output gate %s:%d is connected twice", f->name, ogate);
			return -1;
		}
	int *c = e2_xrealloc(f->children, (size_t)(f->nchildren + 1) * sizeof(int));
	if (!c) {
		seterr(err, "out of memory");
		return -1;
	}
	f->children = c;
	f->children[f->nchildren++] = to;
	t->parent = from;
	t->pgate = ogate;
	t->igate = igate;
	return 0;
}

bool alp_class_visits(const alp_graph *g, int cls, int mod)
{
	return g->member[(size_t)cls * (size_t)g->n + (size_t)mod] != 0;
}

static int check_slos(alp_graph *g, char *err)
{
	for (int s = 0; s < g->nslos; s++) {
		alp_slo *o = &g->slos[s];
		if (o->n < 2) {
			seterr(err, "SLO '%s' needs at least two classes", o->name);
			return -1;
		}
		for (int i = 0; i < o->n; i++) {
			for (int k = 0; k < i; k++)
				if (o->classes[k] == o->classes[i]) {
					seterr(err, "SLO '%s' names class '%s' twice", o->name,
					       g->classes[o->classes[i]].name);
					return -1;
				}
			if (o->ratio && (!isfinite(o->ratio[i]) || o->ratio[i] <= 0 || o->ratio[i] > 1e6)) {
				seterr(err, "SLO '%s': ratio %g is not in (0, 1e6]", o->name, o->ratio[i]);
				return -1;
			}
		}
	}
	/* A class may be in at most one ratio SLO of each kind? No: any mix is allowed,
     * but the priority relation must be acyclic. */
	int nc = g->nclasses;
	if (nc == 0)
		return 0;
	unsigned char *above = e2_xcalloc((size_t)nc * (size_t)nc, 1);
	if (!above) {
		seterr(err, "out of memory");
		return -1;
	}
	for (int s = 0; s < g->nslos; s++) {
		alp_slo *o = &g->slos[s];
		if (o->kind != ALP_SLO_PRIORITY)
			continue;
		for (int i = 0; i < o->n; i++)
			for (int k = i + 1; k < o->n; k++)
				above[(size_t)o->classes[i] * (size_t)nc + (size_t)o->classes[k]] = 1;
	}
	for (int k = 0; k < nc; k++) /* transitive closure (class counts are small) */
		for (int i = 0; i < nc; i++)
			if (above[(size_t)i * (size_t)nc + (size_t)k])
				for (int j = 0; j < nc; j++)
					if (above[(size_t)k * (size_t)nc + (size_t)j])
						above[(size_t)i * (size_t)nc + (size_t)j] = 1;
	for (int i = 0; i < nc; i++)
		if (above[(size_t)i * (size_t)nc + (size_t)i]) {
			seterr(err, "priority SLOs form a cycle through class '%s'", g->classes[i].name);
			free(above);
			return -1;
		}
	free(above);
	return 0;
}

int alp_graph_finish(alp_graph *g, char *err)
{
	if (g->n == 0) {
		seterr(err, "the graph has no modules");
		return -1;
	}
	if (g->workers < 1 || g->workers > 64) {
		seterr(err, "workers must be in 1..64, got %d", g->workers);
		return -1;
	}
	if (!isfinite(g->cpu_ghz) || g->cpu_ghz <= 0 || g->cpu_ghz > 100) {
		seterr(err, "cpu_ghz must be in (0, 100]");
		return -1;
	}
	if (!isfinite(g->queue_cycles) || g->queue_cycles < 0 || g->queue_cycles > 1e6) {
		seterr(err, "queue_cycles must be in [0, 1e6]");
		return -1;
	}
	if (!isfinite(g->input_mpps) || g->input_mpps < 0 || g->input_mpps > 1e6) {
		seterr(err, "input_mpps must be in [0, 1e6] (0 = saturating)");
		return -1;
	}
	g->root = -1;
	for (int i = 0; i < g->n; i++)
		if (g->mods[i].parent < 0) {
			if (g->root >= 0) {
				seterr(err, "two sources: '%s' and '%s' have no upstream; Alpine needs one root",
				       g->mods[g->root].name, g->mods[i].name);
				return -1;
			}
			g->root = i;
		}
	if (g->root < 0) {
		seterr(err, "the graph has a cycle (no module without an upstream)");
		return -1;
	}
	/* every module must reach the root: otherwise a cycle hangs off the tree */
	for (int i = 0; i < g->n; i++) {
		int steps = 0, j = i;
		while (j != g->root && steps <= g->n) {
			j = g->mods[j].parent;
			steps++;
		}
		if (j != g->root) {
			seterr(err, "module '%s' is on a cycle; Alpine needs a tree", g->mods[i].name);
			return -1;
		}
	}
	g->mods[g->root].schedulable = true;
	if (g->mods[g->root].cycles <= 0) {
		seterr(err, "root module '%s' must have positive cycles", g->mods[g->root].name);
		return -1;
	}
	if (g->nclasses == 0) {
		seterr(err, "no traffic classes");
		return -1;
	}
	if (g->classifier_cycles < 0)
		g->classifier_cycles = 40 + 12 * log2((double)g->nclasses + 1);
	double total = 0;
	for (int a = 0; a < g->nclasses; a++) {
		alp_class *c = &g->classes[a];
		for (int b = 0; b < a; b++)
			if (strcmp(g->classes[b].name, c->name) == 0) {
				seterr(err, "class '%s' is defined twice", c->name);
				return -1;
			}
		if (!isfinite(c->fraction) || c->fraction <= 0 || c->fraction > 1e9) {
			seterr(err, "class '%s': fraction must be positive", c->name);
			return -1;
		}
		if (c->len < 1 || c->path[0] != g->root) {
			seterr(err, "class '%s' is not a path: it must start at the root '%s'", c->name,
			       g->mods[g->root].name);
			return -1;
		}
		for (int i = 1; i < c->len; i++)
			if (g->mods[c->path[i]].parent != c->path[i - 1]) {
				seterr(err, "class '%s' is not a path: no edge %s -> %s", c->name,
				       g->mods[c->path[i - 1]].name, g->mods[c->path[i]].name);
				return -1;
			}
		if (g->mods[c->path[c->len - 1]].nchildren != 0) {
			seterr(err, "class '%s' is not a source-to-exit path: '%s' is not an exit", c->name,
			       g->mods[c->path[c->len - 1]].name);
			return -1;
		}
		total += c->fraction;
	}
	for (int a = 0; a < g->nclasses; a++)
		g->classes[a].fraction /= total;
	free(g->lambda);
	free(g->member);
	g->lambda = e2_xcalloc((size_t)g->n, sizeof(double));
	g->member = e2_xcalloc((size_t)g->n * (size_t)g->nclasses, 1);
	if (!g->lambda || !g->member) {
		seterr(err, "out of memory");
		return -1;
	}
	for (int a = 0; a < g->nclasses; a++)
		for (int i = 0; i < g->classes[a].len; i++) {
			int j = g->classes[a].path[i];
			g->lambda[j] += g->classes[a].fraction;
			g->member[(size_t)a * (size_t)g->n + (size_t)j] = 1;
		}
	return check_slos(g, err);
}
