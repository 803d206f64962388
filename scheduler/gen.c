/* SPDX-License-Identifier: BSD-3-Clause */
/* Synthetic graphs for tests and benchmarks: the seed's binary trees (Fig. 5.9/5.10)
 * and random trees, with random SLOs chosen inside the reachable range. */
#include "alpine.h"

#include <math.h>
#include <stdlib.h>
#include <string.h>

static double urand(unsigned *s)
{
	return (double)rand_r(s) / ((double)RAND_MAX + 1.0);
}

static int add_class(alp_graph *g, int leaf, int idx)
{
	int len = 0;
	for (int j = leaf; j >= 0; j = g->mods[j].parent)
		len++;
	alp_class *c = &g->classes[g->nclasses++];
	char name[32];
	snprintf(name, sizeof(name), "c%d", idx);
	c->name = e2_xstrdup(name);
	c->path = e2_xmalloc((size_t)len * sizeof(int));
	if (!c->name || !c->path)
		return -1;
	c->len = len;
	for (int j = leaf, i = len - 1; j >= 0; j = g->mods[j].parent)
		c->path[i--] = j;
	c->fraction = 1;
	return 0;
}

/* Cycles class a spends with no drops, and the least it can spend when it is
 * dropped right where the model allows (below the last module that a class
 * without SLOs also visits). */
static void class_costs(const alp_graph *g, int a, const bool *in_slo, double *full, double *least)
{
	*full = *least = 0;
	const alp_class *c = &g->classes[a];
	int firstdrop = c->len;
	for (int i = 0; i < c->len; i++) {
		int j = c->path[i];
		*full += g->mods[j].cycles;
		bool free_class = false;
		for (int b = 0; b < g->nclasses; b++)
			free_class |= alp_class_visits(g, b, j) && !in_slo[b];
		if (free_class || i == 0)
			firstdrop = c->len;
		else if (firstdrop == c->len)
			firstdrop = i;
	}
	for (int i = 0; i < firstdrop && i < c->len; i++)
		*least += g->mods[c->path[i]].cycles;
}

/* One throughput SLO over every class with random ratios 1..4: every module may
 * need a queue, the hardest case for the MIP. */
static int add_dense_slo(alp_graph *g, unsigned *seed, char *err)
{
	if (alp_graph_finish(g, err) < 0)
		return -1;
	g->slos = e2_xcalloc(1, sizeof(alp_slo));
	if (!g->slos)
		return -1;
	alp_slo *o = &g->slos[g->nslos++];
	o->name = e2_xstrdup("all");
	o->kind = ALP_SLO_RATE;
	o->n = g->nclasses;
	o->classes = e2_xmalloc((size_t)o->n * sizeof(int));
	o->ratio = e2_xmalloc((size_t)o->n * sizeof(double));
	if (!o->name || !o->classes || !o->ratio)
		return -1;
	for (int a = 0; a < o->n; a++) {
		o->classes[a] = a;
		o->ratio[a] = 1 + floor(urand(seed) * 4);
	}
	return alp_graph_finish(g, err);
}

/* Adds nslos SLOs over disjoint random pairs of classes. kinds: bit 0 cpu, bit 1
 * rate, bit 2 priority. */
static int add_slos(alp_graph *g, int nslos, int kinds, unsigned *seed, char *err)
{
	if (nslos < 0)
		return add_dense_slo(g, seed, err);
	if (alp_graph_finish(g, err) < 0)
		return -1;
	g->slos = e2_xcalloc((size_t)nslos + 1, sizeof(alp_slo));
	bool *used = e2_xcalloc((size_t)g->nclasses, sizeof(bool));
	if (!g->slos || !used) {
		free(used);
		return -1;
	}
	int npairs = 0;
	int(*pairs)[2] = e2_xcalloc((size_t)nslos + 1, sizeof(*pairs));
	if (!pairs) {
		free(used);
		return -1;
	}
	for (int s = 0; s < nslos && 2 * (s + 1) <= g->nclasses; s++) {
		int a, b;
		do
			a = (int)(urand(seed) * g->nclasses);
		while (used[a]);
		used[a] = true;
		do
			b = (int)(urand(seed) * g->nclasses);
		while (used[b]);
		used[b] = true;
		pairs[npairs][0] = a;
		pairs[npairs++][1] = b;
	}
	for (int s = 0; s < npairs; s++) {
		int a = pairs[s][0], b = pairs[s][1];
		alp_slo *o = &g->slos[g->nslos++];
		char name[32];
		snprintf(name, sizeof(name), "s%d", s);
		o->name = e2_xstrdup(name);
		o->n = 2;
		o->classes = e2_xmalloc(2 * sizeof(int));
		o->ratio = e2_xmalloc(2 * sizeof(double));
		if (!o->name || !o->classes || !o->ratio) {
			free(used);
			free(pairs);
			return -1;
		}
		o->classes[0] = a;
		o->classes[1] = b;
		int k;
		do
			k = (int)(urand(seed) * 3);
		while (!(kinds & (1 << k)));
		if (k == 2) {
			o->kind = ALP_SLO_PRIORITY;
			free(o->ratio);
			o->ratio = NULL;
			if (g->input_mpps <= 0)
				g->input_mpps = 0.3 * g->cpu_ghz / (g->mods[g->root].cycles / 1000.0);
		} else if (k == 1) {
			o->kind = ALP_SLO_RATE;
			o->ratio[0] = 1 + floor(urand(seed) * 4);
			o->ratio[1] = 1 + floor(urand(seed) * 4);
		} else {
			o->kind = ALP_SLO_CPU;
			double fa, la, fb, lb;
			class_costs(g, a, used, &fa, &la);
			class_costs(g, b, used, &fb, &lb);
			double wa = g->classes[a].fraction, wb = g->classes[b].fraction;
			/* reachable a/b cpu ratio, roughly: [la*wa / (fb*wb), fa*wa / (lb*wb)] */
			double lo = log(la * wa / (fb * wb)), hi = log(fa * wa / (lb * wb));
			double x = exp(lo + (0.3 + 0.4 * urand(seed)) * (hi - lo));
			o->ratio[0] = fmax(0.01, round(x * 100) / 100);
			o->ratio[1] = 1;
		}
	}
	free(pairs);
	free(used);
	return alp_graph_finish(g, err);
}

alp_graph *alp_gen_binary_tree(int depth, unsigned seed, int nslos, char *err)
{
	if (depth < 1 || depth > 14) {
		snprintf(err, ALP_ERRLEN, "depth must be 1..14");
		return NULL;
	}
	alp_graph *g = alp_graph_new();
	if (!g)
		return NULL;
	int n = (1 << (depth + 1)) - 1;
	char name[32];
	for (int i = 0; i < n; i++) {
		bool leaf = i >= n / 2;
		double cyc = i == 0 ? 60 : leaf ? 200 + floor(urand(&seed) * 400) : 20 + floor(urand(&seed) * 60);
		snprintf(name, sizeof(name), i == 0 ? "in" : "m%d", i);
		if (alp_graph_add_module(g, name,
					 i == 0 ? "port_in"
					 : leaf ? "port_out"
						: "bypass",
					 NULL, cyc, false, err) < 0)
			goto fail;
		if (i > 0 && alp_graph_connect(g, (i - 1) / 2, (i - 1) % 2, i, 0, err) < 0)
			goto fail;
	}
	g->classes = e2_xcalloc((size_t)n / 2 + 1, sizeof(alp_class));
	if (!g->classes)
		goto fail;
	for (int i = n / 2; i < n; i++)
		if (add_class(g, i, i - n / 2) < 0)
			goto fail;
	if (add_slos(g, nslos, 3, &seed, err) < 0)
		goto fail;
	return g;
fail:
	alp_graph_free(g);
	return NULL;
}

alp_graph *alp_gen_random_tree(int nmods, unsigned seed, int workers, char *err)
{
	if (nmods < 2 || nmods > 5000) {
		snprintf(err, ALP_ERRLEN, "nmods must be 2..5000");
		return NULL;
	}
	alp_graph *g = alp_graph_new();
	if (!g)
		return NULL;
	g->workers = workers;
	char name[32];
	for (int i = 0; i < nmods; i++) {
		snprintf(name, sizeof(name), i == 0 ? "in" : "m%d", i);
		double cyc = i == 0 ? 40 + floor(urand(&seed) * 60) : 10 + floor(urand(&seed) * 400);
		if (alp_graph_add_module(g, name, i == 0 ? "port_in" : "bypass", NULL, cyc, false, err) < 0)
			goto fail;
		if (i == 0)
			continue;
		int p;
		do
			p = (int)(urand(&seed) * i);
		while (g->mods[p].nchildren >= 3);
		if (alp_graph_connect(g, p, g->mods[p].nchildren, i, 0, err) < 0)
			goto fail;
	}
	g->classes = e2_xcalloc((size_t)nmods, sizeof(alp_class));
	if (!g->classes)
		goto fail;
	int k = 0;
	for (int i = 0; i < nmods; i++)
		if (g->mods[i].nchildren == 0) {
			if (add_class(g, i, k++) < 0)
				goto fail;
			g->classes[k - 1].fraction = 1 + floor(urand(&seed) * 3);
		}
	if (urand(&seed) < 0.3)
		g->input_mpps = (0.5 + urand(&seed)) * g->cpu_ghz / 1.0; /* ~1 Mpps per GHz */
	int nslos = 1 + (int)(urand(&seed) * 2);
	int kinds = 3;
	if (g->input_mpps > 0 && urand(&seed) < 0.5)
		kinds = 7;
	if (add_slos(g, nslos, kinds, &seed, err) < 0)
		goto fail;
	return g;
fail:
	alp_graph_free(g);
	return NULL;
}
