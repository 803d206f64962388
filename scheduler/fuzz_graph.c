/* SPDX-License-Identifier: BSD-3-Clause */
/* libFuzzer target: the Alpine JSON graph file and the E2D configuration importer.
 *
 * Invariants, and round trips through the library's JSON printer (alp_graph_print_json,
 * which writes the plan's graph for alpine check --graph):
 *   - a graph the JSON parser accepts is a tree with consistent parent, child and gate
 *     links, class paths from the root to an exit, class fractions summing to 1 and the
 *     derived per-module traffic (lambda, member) agreeing with the class paths;
 *   - parsing the same bytes twice gives the same graph;
 *   - the graph printed as JSON parses to the same graph (fractions up to rounding, as
 *     the parser normalises them), and that graph printed again parses to it too;
 *   - the same bytes read as an E2D configuration give consistent tree links, and a
 *     tree read that way, printed as JSON with one class per exit, parses back to the
 *     same modules and edges: the two readers agree. */
#include "e2/fuzz.h"
#include "alpine.h"

#include <jansson.h>
#include <math.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

static bool str_same(const char *a, const char *b)
{
	return a == b || (a && b && strcmp(a, b) == 0);
}

static bool close_enough(double a, double b)
{
	return fabs(a - b) <= 1e-12 * fmax(fabs(a), fabs(b));
}

/* ---- invariants ---- */

/* Tree links of a graph, finished or not: every upstream lists the module once among
 * its children, on its own output gate. */
static void check_links(const alp_graph *g)
{
	int edges = 0;
	for (int j = 0; j < g->n; j++) {
		const alp_module *m = &g->mods[j];
		if (!m->name || m->nchildren < 0)
			abort();
		edges += m->nchildren;
		for (int c = 0; c < m->nchildren; c++) {
			int k = m->children[c];
			if (k < 0 || k >= g->n || g->mods[k].parent != j)
				abort();
			for (int d = 0; d < c; d++)
				if (m->children[d] == k || g->mods[m->children[d]].pgate == g->mods[k].pgate)
					abort();
		}
		if (m->parent >= g->n || m->parent == j)
			abort();
	}
	int with_parent = 0;
	for (int j = 0; j < g->n; j++)
		with_parent += g->mods[j].parent >= 0;
	if (edges != with_parent)
		abort();
}

static void check_classes(const alp_graph *g)
{
	double total = 0;
	for (int a = 0; a < g->nclasses; a++) {
		const alp_class *c = &g->classes[a];
		if (c->len < 1 || c->path[0] != g->root || g->mods[c->path[c->len - 1]].nchildren != 0 ||
		    !(c->fraction > 0))
			abort();
		for (int i = 1; i < c->len; i++)
			if (g->mods[c->path[i]].parent != c->path[i - 1])
				abort();
		total += c->fraction;
	}
	if (fabs(total - 1) > 1e-9)
		abort();
	for (int j = 0; j < g->n; j++) {
		double lambda = 0;
		for (int a = 0; a < g->nclasses; a++) {
			bool on_path = false;
			for (int i = 0; i < g->classes[a].len; i++)
				on_path |= g->classes[a].path[i] == j;
			if (on_path != alp_class_visits(g, a, j))
				abort();
			lambda += on_path ? g->classes[a].fraction : 0;
		}
		if (fabs(lambda - g->lambda[j]) > 1e-9)
			abort();
	}
	if (fabs(g->lambda[g->root] - 1) > 1e-9)
		abort(); /* every class starts at the root */
}

static void check_slos(const alp_graph *g)
{
	for (int s = 0; s < g->nslos; s++) {
		const alp_slo *o = &g->slos[s];
		if (o->n < 2 || (o->kind == ALP_SLO_PRIORITY) != (o->ratio == NULL))
			abort();
		for (int i = 0; i < o->n; i++) {
			if (o->classes[i] < 0 || o->classes[i] >= g->nclasses)
				abort();
			if (o->ratio && !(o->ratio[i] > 0 && isfinite(o->ratio[i])))
				abort();
			for (int k = 0; k < i; k++)
				if (o->classes[k] == o->classes[i])
					abort();
		}
	}
}

static void check_finished(const alp_graph *g)
{
	if (g->n < 1 || g->root < 0 || g->root >= g->n || g->mods[g->root].parent != -1 ||
	    !g->mods[g->root].schedulable || g->workers < 1 || g->nclasses < 1)
		abort();
	check_links(g);
	for (int j = 0; j < g->n; j++)
		if (j != g->root && g->mods[j].parent < 0)
			abort(); /* one root */
	check_classes(g);
	check_slos(g);
}

/* ---- equality ---- */

static bool module_same(const alp_module *a, const alp_module *b)
{
	return str_same(a->name, b->name) && str_same(a->klass, b->klass) && str_same(a->args, b->args) &&
	       a->cycles == b->cycles && a->schedulable == b->schedulable && a->parent == b->parent &&
	       (a->parent < 0 || (a->pgate == b->pgate && a->igate == b->igate)) && a->nchildren == b->nchildren;
}

static bool modules_same(const alp_graph *a, const alp_graph *b)
{
	if (a->n != b->n)
		return false;
	for (int j = 0; j < a->n; j++)
		if (!module_same(&a->mods[j], &b->mods[j]))
			return false;
	return true;
}

/* exact: fractions compared bit for bit (same input), else up to rounding */
static bool graph_same(const alp_graph *a, const alp_graph *b, bool exact)
{
	if (!modules_same(a, b) || a->root != b->root || a->workers != b->workers || a->cpu_ghz != b->cpu_ghz ||
	    a->queue_cycles != b->queue_cycles || a->classifier_cycles != b->classifier_cycles ||
	    a->input_mpps != b->input_mpps || a->nclasses != b->nclasses || a->nslos != b->nslos)
		return false;
	for (int c = 0; c < a->nclasses; c++) {
		const alp_class *x = &a->classes[c], *y = &b->classes[c];
		if (!str_same(x->name, y->name) || x->len != y->len ||
		    memcmp(x->path, y->path, (size_t)x->len * sizeof(int)) ||
		    !(exact ? x->fraction == y->fraction : close_enough(x->fraction, y->fraction)))
			return false;
	}
	for (int s = 0; s < a->nslos; s++) {
		const alp_slo *x = &a->slos[s], *y = &b->slos[s];
		if (!str_same(x->name, y->name) || x->kind != y->kind || x->n != y->n ||
		    memcmp(x->classes, y->classes, (size_t)x->n * sizeof(int)) ||
		    (x->ratio == NULL) != (y->ratio == NULL) ||
		    (x->ratio && memcmp(x->ratio, y->ratio, (size_t)x->n * sizeof(double))))
			return false;
	}
	return true;
}

/* The library's printer, whose output alpine check --graph reads back: NULL when a
 * string is not UTF-8 (an E2D configuration's arguments may hold any bytes). */
static char *print_graph(const alp_graph *g)
{
	char err[ALP_ERRLEN];
	return alp_graph_print_json(g, NULL, err);
}

/* ---- the two readers ---- */

static void fuzz_json(const char *text, size_t size)
{
	char err[ALP_ERRLEN];
	alp_graph *g = alp_graph_parse(text, size, NULL, err);
	if (!g)
		return;
	check_finished(g);
	alp_graph *again = alp_graph_parse(text, size, NULL, err);
	if (!again || !graph_same(g, again, true))
		abort();
	alp_graph_free(again);
	char *printed = print_graph(g);
	if (printed) {
		alp_graph *back = alp_graph_parse(printed, strlen(printed), NULL, err);
		if (!back || !graph_same(g, back, false))
			abort();
		check_finished(back);
		char *reprinted = print_graph(back);
		alp_graph *back2 = reprinted ? alp_graph_parse(reprinted, strlen(reprinted), NULL, err) : NULL;
		if (!back2 || !graph_same(back, back2, false))
			abort();
		alp_graph_free(back2);
		free(reprinted);
		alp_graph_free(back);
		free(printed);
	}
	alp_graph_free(g);
}

/* One class per exit of an imported tree, so that it can be finished. */
static int add_exit_classes(alp_graph *g)
{
	int root = -1;
	for (int j = 0; j < g->n; j++)
		if (g->mods[j].parent < 0)
			root = root < 0 ? j : -2;
	if (root < 0 || g->n > 256)
		return -1;
	g->classes = calloc((size_t)g->n, sizeof(alp_class));
	if (!g->classes)
		abort();
	for (int j = 0; j < g->n; j++) {
		if (g->mods[j].nchildren)
			continue;
		int len = 0, path[257];
		for (int k = j; k >= 0 && len <= g->n; k = g->mods[k].parent)
			path[len++] = k;
		if (len > g->n || path[len - 1] != root)
			return -1; /* a cycle hangs off the tree */
		alp_class *c = &g->classes[g->nclasses];
		char name[32];
		snprintf(name, sizeof(name), "c%d", g->nclasses++);
		c->name = strdup(name);
		c->path = malloc((size_t)len * sizeof(int));
		if (!c->name || !c->path)
			abort();
		for (int i = 0; i < len; i++)
			c->path[i] = path[len - 1 - i];
		c->len = len;
		c->fraction = 1;
	}
	return 0;
}

static void fuzz_e2d(const char *text, size_t size)
{
	char err[ALP_ERRLEN];
	alp_graph *h = alp_graph_new();
	if (!h)
		abort();
	if (alp_e2d_import(h, text, size, err) == 0) {
		check_links(h);
		if (add_exit_classes(h) == 0 && alp_graph_finish(h, err) == 0) {
			check_finished(h);
			char *printed = print_graph(h);
			if (printed) {
				alp_graph *back = alp_graph_parse(printed, strlen(printed), NULL, err);
				if (!back || !graph_same(h, back, false))
					abort();
				alp_graph_free(back);
				free(printed);
			}
		}
	}
	alp_graph_free(h);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	static bool seeded;
	if (!seeded) {
		/* jansson seeds its hash tables at random; which keys a lookup compares then
         * varies, and libFuzzer learns from those comparisons: fix it so runs repeat */
		json_object_seed(1);
		seeded = true;
	}
	fuzz_json((const char *)data, size);
	fuzz_e2d((const char *)data, size);
	return 0;
}
