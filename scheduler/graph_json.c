/* SPDX-License-Identifier: BSD-3-Clause */
/* The Alpine graph file (JSON, read and written with jansson). Format: README.md. */
#include "alpine.h"

#include "e2/file.h"

#include <errno.h>
#include <jansson.h>
#include <stdlib.h>
#include <string.h>

#define FAIL(...)                                       \
	do {                                            \
		snprintf(err, ALP_ERRLEN, __VA_ARGS__); \
		goto fail;                              \
	} while (0)

static int check_keys(json_t *obj, const char *what, const char *const *allowed, char *err)
{
	const char *key;
	json_t *v;
	json_object_foreach(obj, key, v)
	{
		bool ok = false;
		for (int i = 0; allowed[i]; i++)
			if (strcmp(key, allowed[i]) == 0)
				ok = true;
		if (!ok) {
			snprintf(err, ALP_ERRLEN, "%s: unknown key '%.60s'", what, key);
			return -1;
		}
	}
	return 0;
}

static int get_number(json_t *obj, const char *key, double *out, const char *what, char *err)
{
	json_t *v = json_object_get(obj, key);
	if (!v)
		return 0;
	if (!json_is_number(v)) {
		snprintf(err, ALP_ERRLEN, "%s: '%s' must be a number", what, key);
		return -1;
	}
	*out = json_number_value(v);
	return 0;
}

static int get_string(json_t *obj, const char *key, const char **out, const char *what, char *err)
{
	json_t *v = json_object_get(obj, key);
	if (!v)
		return 0;
	if (!json_is_string(v)) {
		snprintf(err, ALP_ERRLEN, "%s: '%s' must be a string", what, key);
		return -1;
	}
	*out = json_string_value(v);
	return 0;
}

static int parse_modules(alp_graph *g, json_t *mods, int imported, char *err)
{
	static const char *const keys[] = {"name", "cycles", "class", "args", "schedulable", NULL};
	if (!json_is_array(mods)) {
		snprintf(err, ALP_ERRLEN, "'modules' must be an array");
		return -1;
	}
	size_t i;
	json_t *m;
	char what[128], sub[ALP_ERRLEN];
	json_array_foreach(mods, i, m)
	{
		snprintf(what, sizeof(what), "modules[%zu]", i);
		if (!json_is_object(m)) {
			snprintf(err, ALP_ERRLEN, "%s must be an object", what);
			return -1;
		}
		if (check_keys(m, what, keys, err) < 0)
			return -1;
		const char *name = NULL, *klass = NULL, *args = NULL;
		double cycles = -1;
		if (get_string(m, "name", &name, what, err) < 0 || get_string(m, "class", &klass, what, err) < 0 ||
		    get_string(m, "args", &args, what, err) < 0 || get_number(m, "cycles", &cycles, what, err) < 0)
			return -1;
		if (!name) {
			snprintf(err, ALP_ERRLEN, "%s: 'name' is required", what);
			return -1;
		}
		json_t *sv = json_object_get(m, "schedulable");
		if (sv && !json_is_boolean(sv)) {
			snprintf(err, ALP_ERRLEN, "%s ('%s'): 'schedulable' must be true or false", what, name);
			return -1;
		}
		bool sched = json_is_true(sv); /* false when absent */
		if (!json_object_get(m, "cycles")) {
			snprintf(err, ALP_ERRLEN, "%s ('%s'): 'cycles' is required", what, name);
			return -1;
		}
		if (cycles < 0) {
			snprintf(err, ALP_ERRLEN, "%s ('%s'): negative cycles (%g)", what, name, cycles);
			return -1;
		}
		int idx = alp_graph_find(g, name);
		if (idx >= 0 && idx < imported && !json_object_get(m, "class")) {
			/* cost for a module that came from the E2D configuration */
			g->mods[idx].cycles = cycles;
			if (sched)
				g->mods[idx].schedulable = true;
			continue;
		}
		if (alp_graph_add_module(g, name, klass, args, cycles, sched, sub) < 0) {
			snprintf(err, ALP_ERRLEN, "%s: %s", what, sub);
			return -1;
		}
	}
	return 0;
}

/* "NAME[:GATE]" of an edge -> the name (in place) and the gate, 0..4095; -1 on a bad
 * gate. JSON names carry no quoting, so this is not e2d's language. */
static int name_gate(char *s, int *gate)
{
	*gate = 0;
	char *c = strchr(s, ':');
	if (!c)
		return 0;
	*c = '\0';
	char *end;
	errno = 0;
	long v = strtol(c + 1, &end, 10);
	if (errno || end == c + 1 || *end || v < 0 || v > 4095)
		return -1;
	*gate = (int)v;
	return 0;
}

static int parse_edges(alp_graph *g, json_t *edges, char *err)
{
	if (!json_is_array(edges)) {
		snprintf(err, ALP_ERRLEN, "'edges' must be an array of [\"FROM[:GATE]\", \"TO[:GATE]\"]");
		return -1;
	}
	size_t i;
	json_t *e;
	char sub[ALP_ERRLEN];
	json_array_foreach(edges, i, e)
	{
		if (!json_is_array(e) || json_array_size(e) != 2 || !json_is_string(json_array_get(e, 0)) ||
		    !json_is_string(json_array_get(e, 1))) {
			snprintf(err, ALP_ERRLEN, "edges[%zu] must be [\"FROM[:GATE]\", \"TO[:GATE]\"]", i);
			return -1;
		}
		char a[256], b[256];
		snprintf(a, sizeof(a), "%s", json_string_value(json_array_get(e, 0)));
		snprintf(b, sizeof(b), "%s", json_string_value(json_array_get(e, 1)));
		int og, ig;
		if (name_gate(a, &og) < 0 || name_gate(b, &ig) < 0) {
			snprintf(err, ALP_ERRLEN, "edges[%zu]: bad gate number", i);
			return -1;
		}
		int f = alp_graph_find(g, a), t = alp_graph_find(g, b);
		if (f < 0 || t < 0) {
			snprintf(err, ALP_ERRLEN, "edges[%zu]: unknown module '%.100s'", i, f < 0 ? a : b);
			return -1;
		}
		if (alp_graph_connect(g, f, og, t, ig, sub) < 0) {
			snprintf(err, ALP_ERRLEN, "edges[%zu]: %s", i, sub);
			return -1;
		}
	}
	return 0;
}

static int class_index(const alp_graph *g, const char *name)
{
	for (int a = 0; a < g->nclasses; a++)
		if (strcmp(g->classes[a].name, name) == 0)
			return a;
	return -1;
}

static int parse_classes(alp_graph *g, json_t *cls, char *err)
{
	static const char *const keys[] = {"name", "path", "fraction", NULL};
	if (!json_is_array(cls) || json_array_size(cls) == 0) {
		snprintf(err, ALP_ERRLEN, "'classes' must be a non-empty array");
		return -1;
	}
	if (json_array_size(cls) > ALP_CLASSES_MAX) {
		snprintf(err, ALP_ERRLEN, "%zu classes; at most %d", json_array_size(cls), ALP_CLASSES_MAX);
		return -1;
	}
	g->classes = e2_xcalloc(json_array_size(cls), sizeof(alp_class));
	if (!g->classes)
		return -1;
	size_t i;
	json_t *c;
	char what[128];
	json_array_foreach(cls, i, c)
	{
		snprintf(what, sizeof(what), "classes[%zu]", i);
		if (!json_is_object(c) || check_keys(c, what, keys, err) < 0) {
			if (!json_is_object(c))
				snprintf(err, ALP_ERRLEN, "%s must be an object", what);
			return -1;
		}
		const char *name = NULL;
		double frac = 1;
		if (get_string(c, "name", &name, what, err) < 0 || get_number(c, "fraction", &frac, what, err) < 0)
			return -1;
		if (!name || !*name) {
			snprintf(err, ALP_ERRLEN, "%s: 'name' is required", what);
			return -1;
		}
		json_t *path = json_object_get(c, "path");
		if (!json_is_array(path) || json_array_size(path) == 0) {
			snprintf(err, ALP_ERRLEN, "class '%s': 'path' must be a list of module names", name);
			return -1;
		}
		if (json_array_size(path) > ALP_MODULES_MAX) {
			snprintf(err, ALP_ERRLEN, "class '%s': a path of %zu modules; at most %d", name,
				 json_array_size(path), ALP_MODULES_MAX);
			return -1;
		}
		alp_class *k = &g->classes[g->nclasses++];
		k->name = e2_xstrdup(name);
		k->fraction = frac;
		k->path = e2_xcalloc(json_array_size(path), sizeof(int));
		if (!k->name || !k->path)
			return -1;
		size_t j;
		json_t *p;
		json_array_foreach(path, j, p)
		{
			int idx = json_is_string(p) ? alp_graph_find(g, json_string_value(p)) : -1;
			if (idx < 0) {
				snprintf(err, ALP_ERRLEN, "class '%s': path[%zu] is not a known module name", name, j);
				return -1;
			}
			k->path[k->len++] = idx;
		}
	}
	return 0;
}

static int parse_slos(alp_graph *g, json_t *slos, char *err)
{
	static const char *const keys[] = {"name", "kind", "classes", "ratio", NULL};
	if (!json_is_array(slos)) {
		snprintf(err, ALP_ERRLEN, "'slos' must be an array");
		return -1;
	}
	g->slos = e2_xcalloc(json_array_size(slos) + 1, sizeof(alp_slo));
	if (!g->slos)
		return -1;
	size_t i;
	json_t *s;
	char what[160];
	json_array_foreach(slos, i, s)
	{
		snprintf(what, sizeof(what), "slos[%zu]", i);
		if (!json_is_object(s)) {
			snprintf(err, ALP_ERRLEN, "%s must be an object", what);
			return -1;
		}
		if (check_keys(s, what, keys, err) < 0)
			return -1;
		const char *name = NULL, *kind = NULL;
		if (get_string(s, "name", &name, what, err) < 0 || get_string(s, "kind", &kind, what, err) < 0)
			return -1;
		alp_slo *o = &g->slos[g->nslos++];
		char defname[32];
		snprintf(defname, sizeof(defname), "slo%zu", i);
		o->name = e2_xstrdup(name ? name : defname);
		if (!o->name)
			return -1;
		snprintf(what, sizeof(what), "SLO '%.100s'", o->name);
		if (!kind) {
			snprintf(err, ALP_ERRLEN, "%s: 'kind' is required (priority, cpu or rate)", what);
			return -1;
		}
		if (strcmp(kind, "priority") == 0)
			o->kind = ALP_SLO_PRIORITY;
		else if (strcmp(kind, "cpu") == 0)
			o->kind = ALP_SLO_CPU;
		else if (strcmp(kind, "rate") == 0 || strcmp(kind, "throughput") == 0)
			o->kind = ALP_SLO_RATE;
		else {
			snprintf(err, ALP_ERRLEN, "%s: unknown kind '%.40s' (priority, cpu or rate)", what, kind);
			return -1;
		}
		json_t *cl = json_object_get(s, "classes");
		if (!json_is_array(cl) || json_array_size(cl) < 2 || json_array_size(cl) > (size_t)g->nclasses) {
			snprintf(err, ALP_ERRLEN, "%s: 'classes' must list at least two known classes", what);
			return -1;
		}
		o->n = (int)json_array_size(cl);
		o->classes = e2_xcalloc((size_t)o->n, sizeof(int));
		if (!o->classes)
			return -1;
		for (int k = 0; k < o->n; k++) {
			json_t *c = json_array_get(cl, (size_t)k);
			int idx = json_is_string(c) ? class_index(g, json_string_value(c)) : -1;
			if (idx < 0) {
				snprintf(err, ALP_ERRLEN, "%s: classes[%d] is not a known class", what, k);
				return -1;
			}
			o->classes[k] = idx;
		}
		json_t *r = json_object_get(s, "ratio");
		if (o->kind == ALP_SLO_PRIORITY) {
			if (r) {
				snprintf(err, ALP_ERRLEN,
					 "%s: a priority SLO takes no 'ratio' (classes are listed highest first)",
					 what);
				return -1;
			}
			continue;
		}
		if (!json_is_array(r) || json_array_size(r) != (size_t)o->n) {
			snprintf(err, ALP_ERRLEN, "%s: 'ratio' must have one number per class", what);
			return -1;
		}
		o->ratio = e2_xcalloc((size_t)o->n, sizeof(double));
		if (!o->ratio)
			return -1;
		for (int k = 0; k < o->n; k++) {
			json_t *v = json_array_get(r, (size_t)k);
			if (!json_is_number(v)) {
				snprintf(err, ALP_ERRLEN, "%s: ratio[%d] must be a number", what, k);
				return -1;
			}
			o->ratio[k] = json_number_value(v);
		}
	}
	return 0;
}

alp_graph *alp_graph_parse(const char *text, size_t len, const char *base_dir, char *err)
{
	static const char *const keys[] = {"workers",    "cpu_ghz",    "queue_cycles", "classifier_cycles",
					   "input_mpps", "e2d_config", "modules",      "edges",
					   "classes",    "slos",       "comment",      NULL};
	json_error_t jerr;
	err[0] = '\0';
	json_t *root = json_loadb(text, len, JSON_REJECT_DUPLICATES, &jerr);
	alp_graph *g = NULL;
	if (!root) {
		snprintf(err, ALP_ERRLEN, "line %d, column %d: %s", jerr.line, jerr.column, jerr.text);
		return NULL;
	}
	g = alp_graph_new();
	if (!g)
		FAIL("out of memory");
	if (!json_is_object(root))
		FAIL("the top level must be a JSON object");
	if (check_keys(root, "top level", keys, err) < 0)
		goto fail;
	json_t *w = json_object_get(root, "workers");
	if (w) {
		if (!json_is_integer(w) || json_integer_value(w) < 1 || json_integer_value(w) > 64)
			FAIL("'workers' must be an integer in 1..64");
		g->workers = (int)json_integer_value(w);
	}
	if (get_number(root, "cpu_ghz", &g->cpu_ghz, "top level", err) < 0 ||
	    get_number(root, "queue_cycles", &g->queue_cycles, "top level", err) < 0 ||
	    get_number(root, "classifier_cycles", &g->classifier_cycles, "top level", err) < 0 ||
	    get_number(root, "input_mpps", &g->input_mpps, "top level", err) < 0)
		goto fail;
	if (json_object_get(root, "classifier_cycles") && g->classifier_cycles < 0)
		FAIL("'classifier_cycles' must not be negative");
	const char *conf = NULL;
	if (get_string(root, "e2d_config", &conf, "top level", err) < 0)
		goto fail;
	if (conf) {
		if (!base_dir)
			FAIL("'e2d_config' is not allowed here");
		char path[4096];
		if (conf[0] == '/')
			snprintf(path, sizeof(path), "%s", conf);
		else
			snprintf(path, sizeof(path), "%s/%s", base_dir, conf);
		size_t clen;
		char sub[ALP_ERRLEN];
		struct e2_err rerr;
		char *ctext = e2_read_file(path, 0, &clen, &rerr);
		if (!ctext)
			FAIL("e2d_config: %s", rerr.msg);
		int rc = alp_e2d_import(g, ctext, clen, sub);
		free(ctext);
		if (rc < 0)
			FAIL("%s: %s", conf, sub);
	}
	json_t *mods = json_object_get(root, "modules");
	if (mods && parse_modules(g, mods, g->n, err) < 0)
		goto fail;
	json_t *edges = json_object_get(root, "edges");
	if (edges && parse_edges(g, edges, err) < 0)
		goto fail;
	json_t *cls = json_object_get(root, "classes");
	if (!cls)
		FAIL("'classes' is required");
	if (parse_classes(g, cls, err) < 0)
		goto fail;
	json_t *slos = json_object_get(root, "slos");
	if (slos && parse_slos(g, slos, err) < 0)
		goto fail;
	if (alp_graph_finish(g, err) < 0)
		goto fail;
	json_decref(root);
	return g;
fail:
	if (!err[0])
		snprintf(err, ALP_ERRLEN, "out of memory");
	json_decref(root);
	alp_graph_free(g);
	return NULL;
}

alp_graph *alp_graph_load(const char *path, char *err)
{
	size_t len;
	err[0] = '\0';
	struct e2_err rerr;
	char *text = e2_read_file(path, 0, &len, &rerr);
	if (!text) {
		snprintf(err, ALP_ERRLEN, "%s", rerr.msg);
		return NULL;
	}
	char dir[4096];
	snprintf(dir, sizeof(dir), "%s", path);
	char *slash = strrchr(dir, '/');
	if (slash)
		*slash = '\0';
	else
		snprintf(dir, sizeof(dir), ".");
	alp_graph *g = alp_graph_parse(text, len, dir, err);
	free(text);
	return g;
}

/* ---- the printer: what the parser reads, modules and edges listed in full ---- */

/* Takes a reference to v (which may be NULL: jansson reports it as a failure). */
static bool put(json_t *obj, const char *key, json_t *v)
{
	return json_object_set_new(obj, key, v) == 0;
}

static bool append(json_t *arr, json_t *v)
{
	return json_array_append_new(arr, v) == 0;
}

static json_t *end_ref(const char *name, int gate)
{
	char buf[300];
	snprintf(buf, sizeof(buf), "%s:%d", name, gate);
	return json_string(buf);
}

static json_t *name_list(const alp_graph *g, const int *idx, int n, bool classes)
{
	json_t *a = json_array();
	for (int i = 0; a && i < n; i++)
		if (!append(a, json_string(classes ? g->classes[idx[i]].name : g->mods[idx[i]].name))) {
			json_decref(a);
			return NULL;
		}
	return a;
}

static bool print_modules(const alp_graph *g, json_t *root)
{
	json_t *mods = json_array();
	if (!put(root, "modules", mods))
		return false;
	json_t *edges = json_array();
	if (!put(root, "edges", edges))
		return false;
	for (int j = 0; j < g->n; j++) {
		const alp_module *m = &g->mods[j];
		json_t *o = json_object();
		if (!append(mods, o) || !put(o, "name", json_string(m->name)) ||
		    (m->klass && !put(o, "class", json_string(m->klass))) ||
		    (m->args && !put(o, "args", json_string(m->args))) || !put(o, "cycles", json_real(m->cycles)) ||
		    !put(o, "schedulable", json_boolean(m->schedulable)))
			return false;
	}
	for (int j = 0; j < g->n; j++) {
		const alp_module *m = &g->mods[j];
		if (m->parent < 0)
			continue;
		json_t *e = json_array();
		if (!append(edges, e) || !append(e, end_ref(g->mods[m->parent].name, m->pgate)) ||
		    !append(e, end_ref(m->name, m->igate)))
			return false;
	}
	return true;
}

static bool print_classes(const alp_graph *g, json_t *root)
{
	json_t *cls = json_array();
	if (!put(root, "classes", cls))
		return false;
	for (int a = 0; a < g->nclasses; a++) {
		const alp_class *c = &g->classes[a];
		json_t *o = json_object();
		if (!append(cls, o) || !put(o, "name", json_string(c->name)) ||
		    !put(o, "path", name_list(g, c->path, c->len, false)) ||
		    !put(o, "fraction", json_real(c->fraction)))
			return false;
	}
	return true;
}

static bool print_slos(const alp_graph *g, json_t *root)
{
	static const char *const kinds[] = {
		[ALP_SLO_PRIORITY] = "priority", [ALP_SLO_CPU] = "cpu", [ALP_SLO_RATE] = "rate"};
	json_t *slos = json_array();
	if (!put(root, "slos", slos))
		return false;
	for (int s = 0; s < g->nslos; s++) {
		const alp_slo *o = &g->slos[s];
		json_t *j = json_object();
		if (!append(slos, j) || !put(j, "name", json_string(o->name)) ||
		    !put(j, "kind", json_string(kinds[o->kind])) ||
		    !put(j, "classes", name_list(g, o->classes, o->n, true)))
			return false;
		if (!o->ratio)
			continue;
		json_t *r = json_array();
		if (!put(j, "ratio", r))
			return false;
		for (int i = 0; i < o->n; i++)
			if (!append(r, json_real(o->ratio[i])))
				return false;
	}
	return true;
}

char *alp_graph_print_json(const alp_graph *g, const char *comment, char *err)
{
	json_t *root = json_object();
	char *text = NULL;
	bool ok = root && (!comment || put(root, "comment", json_string(comment))) &&
		  put(root, "workers", json_integer(g->workers)) && put(root, "cpu_ghz", json_real(g->cpu_ghz)) &&
		  put(root, "queue_cycles", json_real(g->queue_cycles)) &&
		  put(root, "classifier_cycles", json_real(g->classifier_cycles)) &&
		  put(root, "input_mpps", json_real(g->input_mpps)) && print_modules(g, root) &&
		  print_classes(g, root) && print_slos(g, root);
	/* jansson refuses a string that is not UTF-8 (an E2D configuration's arguments may
	 * hold any bytes) the same way it reports running out of memory */
	if (ok)
		text = json_dumps(root, JSON_INDENT(2));
	if (!text)
		snprintf(err, ALP_ERRLEN, "the graph has a name or argument that is not UTF-8 text, or memory ran out");
	json_decref(root);
	return text;
}
