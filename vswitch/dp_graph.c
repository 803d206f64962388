/* SPDX-License-Identifier: BSD-3-Clause */
/* The shape of the module graph. Packets run to completion: a module hands its
 * batch to the next one by a plain call, so a loop in the graph is unbounded
 * recursion on a worker's stack, and a long chain is a deep one. Every edge that
 * `connect` or `insert` adds is checked here first: the graph stays acyclic, and
 * no chain of calls grows beyond E2_GRAPH_DEPTH_MAX modules.
 *
 * A queue ends a chain of calls (its input enqueues, its task starts a new chain
 * on whichever worker runs it), so it bounds stack depth; it does not make a loop
 * acceptable: packets have no hop limit in e2d and would circle for ever. */
#include "dp.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>

_Static_assert(E2_MODULES_MAX <= 32767, "module slots fit the int16_t arrays below");

struct graph_walk {
	int16_t topo[E2_MODULES_MAX]; /* slots in an order where every edge goes forward */
	uint16_t n;
	uint16_t indeg[E2_MODULES_MAX];
	uint16_t up[E2_MODULES_MAX];  /* frames on the stack while the module emits */
	uint16_t run[E2_MODULES_MAX]; /* frames from the module's own call onward */
	int16_t via[E2_MODULES_MAX];  /* loop search: the slot we came from, -1 unseen */
	int16_t stack[E2_MODULES_MAX];
	uint16_t next_gate[E2_MODULES_MAX];
};

static bool is_task(const struct e2_module *m)
{
	return m->cls->run_task != NULL;
}

static uint16_t max16(uint16_t a, uint16_t b)
{
	return a > b ? a : b;
}

/* Frames a batch adds once handed to m: a task's input only enqueues. */
static uint16_t enter_depth(const struct graph_walk *w, const struct e2_module *m)
{
	return is_task(m) ? 1 : w->run[m->slot];
}

/* Kahn's order over the current graph (acyclic by construction), then the
 * deepest chain ending at each module (forward) and starting at it (backward). */
static void graph_measure(const struct e2_dp *dp, struct graph_walk *w)
{
	uint16_t head = 0;

	w->n = 0;
	for (size_t i = 0; i < E2_MODULES_MAX; i++) {
		w->indeg[i] = 0;
		w->up[i] = 1;
		w->run[i] = 1;
	}
	/* a second pass: an edge may point at a slot before or after its source's */
	for (size_t i = 0; i < E2_MODULES_MAX; i++) {
		const struct e2_module *m = dp->modules[i];
		for (uint16_t g = 0; m && g < m->n_ogates; g++)
			if (m->ogates[g].next)
				w->indeg[m->ogates[g].next->slot]++;
	}
	for (size_t i = 0; i < E2_MODULES_MAX; i++)
		if (dp->modules[i] && w->indeg[i] == 0)
			w->topo[w->n++] = (int16_t)i;
	while (head < w->n) {
		const struct e2_module *m = dp->modules[w->topo[head++]];
		uint16_t up = is_task(m) ? 1 : w->up[m->slot];
		w->up[m->slot] = up;
		for (uint16_t g = 0; g < m->n_ogates; g++) {
			const struct e2_module *s = m->ogates[g].next;
			if (!s)
				continue;
			if (!is_task(s))
				w->up[s->slot] = max16(w->up[s->slot], (uint16_t)(up + 1));
			if (--w->indeg[s->slot] == 0)
				w->topo[w->n++] = (int16_t)s->slot;
		}
	}
	for (int i = w->n - 1; i >= 0; i--) {
		const struct e2_module *m = dp->modules[w->topo[i]];
		for (uint16_t g = 0; g < m->n_ogates; g++)
			if (m->ogates[g].next)
				w->run[m->slot] =
					max16(w->run[m->slot], (uint16_t)(1 + enter_depth(w, m->ogates[g].next)));
	}
}

/* Depth-first from `from` along existing edges; true with w->via holding the
 * path back if `to` is reachable. */
static bool reaches(const struct e2_dp *dp, struct graph_walk *w, const struct e2_module *from,
		    const struct e2_module *to)
{
	int sp = 0;

	for (size_t i = 0; i < E2_MODULES_MAX; i++)
		w->via[i] = -1;
	w->via[from->slot] = (int16_t)from->slot;
	w->stack[sp] = (int16_t)from->slot;
	w->next_gate[sp++] = 0;
	while (sp > 0) {
		const struct e2_module *m = dp->modules[w->stack[sp - 1]];
		if (m == to)
			return true;
		if (w->next_gate[sp - 1] >= m->n_ogates) {
			sp--;
			continue;
		}
		const struct e2_module *s = m->ogates[w->next_gate[sp - 1]++].next;
		if (!s || w->via[s->slot] >= 0)
			continue;
		w->via[s->slot] = (int16_t)m->slot;
		w->stack[sp] = (int16_t)s->slot;
		w->next_gate[sp++] = 0;
	}
	return false;
}

/* "a -> b -> c -> a": the loop the edge a -> b would close, b reaching a; a long
 * one is shortened in the middle. */
static void name_loop(const struct e2_dp *dp, const struct graph_walk *w, const struct e2_module *a,
		      const struct e2_module *b, char *out, size_t len)
{
	int16_t path[E2_MODULES_MAX];
	int n = 0;
	size_t o;

	for (int16_t s = (int16_t)a->slot; n < E2_MODULES_MAX; s = w->via[s]) {
		path[n++] = s;
		if (s == (int16_t)b->slot)
			break;
	}
	/* path runs backwards: a, ..., b */
	o = (size_t)snprintf(out, len, "%s", a->name);
	for (int i = n - 1; i >= 0 && o < len; i--) {
		if (n > 8 && i == n - 4) {
			o += (size_t)snprintf(out + o, len - o, " -> ... (%d more)", n - 7);
			i = 3;
		}
		o += (size_t)snprintf(out + o, len - o, " -> %s", dp->modules[path[i]]->name);
	}
}

static struct graph_walk *walk_new(char *err)
{
	struct graph_walk *w = malloc(sizeof(*w));
	if (!w)
		snprintf(err, E2_ERR_MAX, "out of memory checking the graph");
	return w;
}

int e2_graph_check_connect(const struct e2_dp *dp, const struct e2_module *a, uint32_t ogate, const struct e2_module *b,
			   char *err)
{
	struct graph_walk *w = walk_new(err);
	char loop[E2_ERR_MAX / 2 + 32];
	int rc = 0;

	if (!w)
		return ENOMEM;
	if (a == b || reaches(dp, w, b, a)) {
		if (a == b)
			snprintf(loop, sizeof(loop), "%s -> %s", a->name, a->name);
		else
			name_loop(dp, w, a, b, loop, sizeof(loop));
		snprintf(err, E2_ERR_MAX, "connect %s:%u %s would close a loop (%s); the module graph must be acyclic",
			 a->name, ogate, b->name, loop);
		rc = ELOOP;
		goto out;
	}
	graph_measure(dp, w);
	unsigned depth = (unsigned)w->up[a->slot] + enter_depth(w, b);
	if (depth > E2_GRAPH_DEPTH_MAX) {
		snprintf(err, E2_ERR_MAX,
			 "connect %s:%u %s would make a chain of %u modules called one from the next (at most %d); "
			 "put a queue in it",
			 a->name, ogate, b->name, depth, E2_GRAPH_DEPTH_MAX);
		rc = E2BIG;
	}
out:
	free(w);
	return rc;
}

int e2_graph_check_insert(const struct e2_dp *dp, const struct e2_module *a, uint32_t ogate, const struct e2_module *q,
			  char *err)
{
	const struct e2_module *next = a->ogates[ogate].next;
	struct graph_walk *w = walk_new(err);
	unsigned depth;
	int rc = 0;

	if (!w)
		return ENOMEM;
	/* q is fresh (no edges), so putting it on an edge cannot close a loop */
	graph_measure(dp, w);
	if (is_task(q))
		depth = max16((uint16_t)(w->up[a->slot] + 1), (uint16_t)(1 + enter_depth(w, next)));
	else
		depth = (unsigned)w->up[a->slot] + 1 + enter_depth(w, next);
	if (depth > E2_GRAPH_DEPTH_MAX) {
		snprintf(err, E2_ERR_MAX,
			 "insert %s:%u %s would make a chain of %u modules called one from the next (at most %d)",
			 a->name, ogate, q->name, depth, E2_GRAPH_DEPTH_MAX);
		rc = E2BIG;
	}
	free(w);
	return rc;
}
