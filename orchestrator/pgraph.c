/* SPDX-License-Identifier: BSD-3-Clause */
/* Step 1 and 2 of seed §3.4.1: validate the pipelines against the NF and hardware
 * descriptions, merge them into one policy graph (one node per NF name), estimate
 * the rate on every edge and size every NF. */
#include "e2/orch.h"

#include <math.h>
#include <stdarg.h>
#include <stdlib.h>
#include <string.h>

#define DEFAULT_PIPELINE_GBPS 1.0
#define DEFAULT_MAX_INSTANCES 64

static const struct e2_nf *find_nf(const struct e2_nf_catalog *c, const char *id)
{
	for (unsigned i = 0; i < c->nfs_count; i++)
		if (strcmp(c->nfs[i].descriptor_id, id) == 0)
			return &c->nfs[i];
	return NULL;
}

static int has_port(const struct e2_hardware *hw, const char *port)
{
	for (unsigned i = 0; i < hw->fabric.external_ports_count; i++)
		if (strcmp(hw->fabric.external_ports[i], port) == 0)
			return 1;
	return 0;
}

static int node_index(const struct e2_pipeline *p, const char *name)
{
	for (unsigned i = 0; i < p->nodes_count; i++)
		if (strcmp(p->nodes[i].name, name) == 0)
			return (int)i;
	return -1;
}

static int pnode_find(const struct e2_pgraph *pg, const char *name)
{
	for (unsigned i = 0; i < pg->nodes_count; i++)
		if (strcmp(pg->nodes[i].name, name) == 0)
			return (int)i;
	return -1;
}

static const struct e2_attr_decl *find_attr(const struct e2_nf *nf, const char *name)
{
	for (unsigned i = 0; i < nf->attributes_count; i++)
		if (strcmp(nf->attributes[i].name, name) == 0)
			return &nf->attributes[i];
	return NULL;
}

void e2_pgraph_free(struct e2_pgraph *pg)
{
	if (!pg)
		return;
	for (unsigned i = 0; i < pg->nodes_count; i++) {
		free(pg->nodes[i].name);
		free(pg->nodes[i].port);
	}
	for (unsigned i = 0; i < pg->edges_count; i++) {
		free(pg->edges[i].filter);
		for (unsigned j = 0; j < pg->edges[i].attrs_count; j++)
			free(pg->edges[i].attrs[j]);
		free(pg->edges[i].attrs);
	}
	free(pg->nodes);
	free(pg->edges);
	free(pg);
}

/* Registers the pipeline's nodes in the PGraph, checking they agree with earlier
 * pipelines. map[i] receives the PGraph index of pipeline node i. */
static int merge_nodes(struct e2_pgraph *pg, const struct e2_pipeline *p, const struct e2_nf_catalog *nfs,
		       const struct e2_hardware *hw, unsigned *map, unsigned *uses, struct e2_err *err)
{
	for (unsigned i = 0; i < p->nodes_count; i++) {
		const struct e2_node_spec *n = &p->nodes[i];
		if (node_index(p, n->name) != (int)i) {
			e2_seterr(err, "pipeline '%s': node '%s' is declared twice", p->name, n->name);
			return -1;
		}
		if (strchr(n->name, '.') || strlen(n->name) > E2_NODE_NAME_MAX) {
			/* else two instances could share a name: port node "f.0" and NF f's first */
			e2_seterr(err,
				  "pipeline '%s': node name '%s' must have at most %d characters and no '.' "
				  "(instances are named NAME.N)",
				  p->name, n->name, E2_NODE_NAME_MAX);
			return -1;
		}
		if ((n->nf != NULL) == (n->port != NULL)) {
			e2_seterr(err, "pipeline '%s': node '%s' needs exactly one of 'nf' or 'port'", p->name,
				  n->name);
			return -1;
		}
		const struct e2_nf *nf = NULL;
		if (n->nf && !(nf = find_nf(nfs, n->nf))) {
			e2_seterr(err, "pipeline '%s': node '%s': unknown NF '%s' (not in the NF descriptions)",
				  p->name, n->name, n->nf);
			return -1;
		}
		if (n->port && !has_port(hw, n->port)) {
			e2_seterr(err,
				  "pipeline '%s': node '%s': unknown external port '%s' (not in the hardware "
				  "description)",
				  p->name, n->name, n->port);
			return -1;
		}
		int k = pnode_find(pg, n->name);
		if (k >= 0) {
			struct e2_pnode *old = &pg->nodes[k];
			if (old->nf != nf || (n->port && strcmp(old->port, n->port) != 0)) {
				e2_seterr(err,
					  "pipeline '%s': node '%s' disagrees with an earlier pipeline (%s %s there)",
					  p->name, n->name, old->nf ? "NF" : "port",
					  old->nf ? old->nf->descriptor_id : old->port);
				return -1;
			}
		} else {
			k = (int)pg->nodes_count++;
			pg->nodes = e2_xrealloc(pg->nodes, pg->nodes_count * sizeof *pg->nodes);
			memset(&pg->nodes[k], 0, sizeof pg->nodes[k]);
			pg->nodes[k].name = e2_xstrdup(n->name);
			pg->nodes[k].nf = nf;
			pg->nodes[k].port = n->port ? e2_xstrdup(n->port) : NULL;
		}
		map[i] = (unsigned)k;
		uses[k]++;
	}
	return 0;
}

/* DFS for a cycle; on finding one, writes "a -> b -> a" into path. */
static int find_cycle(const struct e2_pipeline *p, const int *from, const int *to, unsigned v, int *color,
		      unsigned *stack, unsigned depth, char *path, size_t len)
{
	color[v] = 1;
	stack[depth] = v;
	for (unsigned e = 0; e < p->edges_count; e++) {
		if (from[e] != (int)v)
			continue;
		unsigned w = (unsigned)to[e];
		if (color[w] == 1) {
			size_t used = 0;
			unsigned start = 0;
			while (stack[start] != w)
				start++;
			for (unsigned i = start; i <= depth; i++)
				used += (size_t)snprintf(path + used, used < len ? len - used : 0, "%s -> ",
							 p->nodes[stack[i]].name);
			snprintf(path + (used < len ? used : len - 1), used < len ? len - used : 1, "%s",
				 p->nodes[w].name);
			return 1;
		}
		if (color[w] == 0 && find_cycle(p, from, to, w, color, stack, depth + 1, path, len))
			return 1;
	}
	color[v] = 2;
	return 0;
}

static char *join_filters(const char *a, const char *b)
{
	char *s = NULL;
	if (a && *a && b && *b) {
		if (asprintf(&s, "(%s) and (%s)", a, b) < 0)
			s = NULL;
	} else if (a && *a) {
		s = e2_xstrdup(a);
	} else if (b && *b) {
		s = e2_xstrdup(b);
	}
	return s;
}

/* Resolves the edge's derived-attribute terms against the source NF: port-method
 * terms select output connection points, metadata terms stay for E2D to match. */
static int resolve_attrs(const struct e2_pipeline *p, const struct e2_edge_spec *es, const struct e2_nf *src,
			 const unsigned *map, const struct e2_pgraph *pg, struct e2_pedge *pe, struct e2_err *err)
{
	pe->from_cps = 0;
	if (src) {
		for (unsigned c = 0; c < src->cps_count && c < 32; c++)
			if (src->cps[c].role == E2_CP_OUTPUT)
				pe->from_cps |= 1u << c;
		if (!pe->from_cps) {
			e2_seterr(err, "pipeline '%s', edge %s -> %s: NF '%s' has no output connection point", p->name,
				  es->from, es->to, src->descriptor_id);
			return -1;
		}
	}
	for (unsigned a = 0; a < es->attributes_count; a++) {
		char name[64], value[256];
		const char *term = es->attributes[a];
		if (e2_attr_term_parse(term, name, sizeof name, value, sizeof value) < 0) {
			e2_seterr(err,
				  "pipeline '%s', edge %s -> %s: bad attribute term '%s' (want 'name', '!name' or "
				  "'name=value')",
				  p->name, es->from, es->to, term);
			return -1;
		}
		if (!src) {
			e2_seterr(err,
				  "pipeline '%s', edge %s -> %s: attribute '%s' on an edge from an external port "
				  "(derived attributes come from NFs)",
				  p->name, es->from, es->to, name);
			return -1;
		}
		const struct e2_attr_decl *d = find_attr(src, name);
		if (d && d->method == E2_METHOD_PORT) {
			uint32_t keep = 0;
			for (unsigned c = 0; c < src->cps_count && c < 32; c++) {
				const struct e2_cp *cp = &src->cps[c];
				if (cp->role == E2_CP_OUTPUT && cp->attribute && strcmp(cp->attribute, name) == 0 &&
				    strcmp(cp->value ? cp->value : "true", value) == 0)
					keep |= 1u << c;
			}
			pe->from_cps &= keep;
			if (!pe->from_cps) {
				e2_seterr(err, "pipeline '%s', edge %s -> %s: no output port of NF '%s' carries %s=%s",
					  p->name, es->from, es->to, src->descriptor_id, name, value);
				return -1;
			}
			continue;
		}
		/* Metadata travels in-band, so any NF of the pipeline may have set it. */
		int declared = d != NULL;
		for (unsigned i = 0; i < p->nodes_count && !declared; i++) {
			const struct e2_nf *nf = pg->nodes[map[i]].nf;
			const struct e2_attr_decl *m = nf ? find_attr(nf, name) : NULL;
			declared = m && m->method == E2_METHOD_METADATA;
		}
		if (!declared) {
			e2_seterr(err,
				  "pipeline '%s', edge %s -> %s: attribute '%s' is not produced by NF '%s' nor carried "
				  "as metadata by any NF of the pipeline",
				  p->name, es->from, es->to, name, src->descriptor_id);
			return -1;
		}
		pe->attrs = e2_xrealloc(pe->attrs, (pe->attrs_count + 1) * sizeof *pe->attrs);
		char *t = NULL;
		if (asprintf(&t, "%s=%s", name, value) < 0)
			t = NULL;
		pe->attrs[pe->attrs_count++] = t;
	}
	return 0;
}

static unsigned first_input_cp(const struct e2_nf *nf)
{
	unsigned best = 0;
	int found = 0;
	for (unsigned c = 0; c < nf->cps_count; c++)
		if (nf->cps[c].role == E2_CP_INPUT && (!found || nf->cps[c].order < nf->cps[best].order)) {
			best = c;
			found = 1;
		}
	return best;
}

static int add_pipeline_edges(struct e2_pgraph *pg, const struct e2_pipeline *p, const unsigned *map,
			      const unsigned *uses, struct e2_err *err)
{
	unsigned n = p->nodes_count, m = p->edges_count;
	int *from = e2_xcalloc(m, sizeof *from), *to = e2_xcalloc(m, sizeof *to);
	int *color = e2_xcalloc(n, sizeof *color);
	unsigned *stack = e2_xcalloc(n + 1, sizeof *stack), *indeg = e2_xcalloc(n, sizeof *indeg),
		 *order = e2_xcalloc(n, sizeof *order);
	double *inflow = e2_xcalloc(n, sizeof *inflow), *rate = e2_xcalloc(m, sizeof *rate);
	int rc = -1;
	struct e2_err ferr;

	const char *tcf = p->traffic_class.filter;
	if (e2_filter_check(tcf, &ferr) < 0) {
		e2_seterr(err, "pipeline '%s': traffic_class filter '%s' does not parse: %s", p->name, tcf, ferr.msg);
		goto out;
	}
	if (!(p->traffic_class.rate_gbps >= 0 && p->traffic_class.rate_gbps < 1e6)) {
		e2_seterr(err, "pipeline '%s': traffic_class rate_gbps must be between 0 and 1e6", p->name);
		goto out;
	}
	for (unsigned e = 0; e < m; e++) {
		const struct e2_edge_spec *es = &p->edges[e];
		from[e] = node_index(p, es->from);
		to[e] = node_index(p, es->to);
		if (from[e] < 0 || to[e] < 0) {
			e2_seterr(err, "pipeline '%s', edge %s -> %s: unknown node '%s'", p->name, es->from, es->to,
				  from[e] < 0 ? es->from : es->to);
			goto out;
		}
		if (from[e] == to[e]) {
			e2_seterr(err, "pipeline '%s', edge %s -> %s: a node cannot feed itself (cycle)", p->name,
				  es->from, es->to);
			goto out;
		}
		if (p->nodes[from[e]].port && p->nodes[to[e]].port) {
			e2_seterr(err, "pipeline '%s', edge %s -> %s: connects two external ports without any NF",
				  p->name, es->from, es->to);
			goto out;
		}
		if (e2_filter_check(es->filter, &ferr) < 0) {
			e2_seterr(err, "pipeline '%s', edge %s -> %s: filter '%s' does not parse: %s", p->name,
				  es->from, es->to, es->filter, ferr.msg);
			goto out;
		}
		if (es->rate_gbps && !(*es->rate_gbps >= 0 && *es->rate_gbps < 1e6)) {
			e2_seterr(err, "pipeline '%s', edge %s -> %s: rate_gbps must be between 0 and 1e6", p->name,
				  es->from, es->to);
			goto out;
		}
		indeg[to[e]]++;
	}
	char path[256];
	for (unsigned v = 0; v < n; v++)
		if (color[v] == 0 && find_cycle(p, from, to, v, color, stack, 0, path, sizeof path)) {
			e2_seterr(err, "pipeline '%s' is not a DAG: cycle %s", p->name, path);
			goto out;
		}
	/* Kahn's order for rate propagation; sources must be external ports. */
	unsigned head = 0, tail = 0, sources = 0;
	for (unsigned v = 0; v < n; v++)
		if (indeg[v] == 0) {
			if (!p->nodes[v].port) {
				e2_seterr(err,
					  "pipeline '%s': NF node '%s' has no incoming edge (traffic enters through "
					  "external ports)",
					  p->name, p->nodes[v].name);
				goto out;
			}
			order[tail++] = v;
			sources++;
		}
	while (head < tail) {
		unsigned v = order[head++];
		for (unsigned e = 0; e < m; e++)
			if (from[e] == (int)v && --indeg[to[e]] == 0)
				order[tail++] = (unsigned)to[e];
	}
	double total = p->traffic_class.rate_gbps > 0 ? p->traffic_class.rate_gbps : DEFAULT_PIPELINE_GBPS;
	for (unsigned i = 0; i < n; i++) {
		unsigned v = order[i];
		if (p->nodes[v].port && i < sources)
			inflow[v] = total / sources;
		double fixed = 0;
		unsigned implicit = 0;
		for (unsigned e = 0; e < m; e++)
			if (from[e] == (int)v) {
				if (p->edges[e].rate_gbps)
					fixed += *p->edges[e].rate_gbps;
				else
					implicit++;
			}
		double share = implicit ? fmax(0.0, inflow[v] - fixed) / implicit : 0;
		for (unsigned e = 0; e < m; e++)
			if (from[e] == (int)v) {
				rate[e] = p->edges[e].rate_gbps ? *p->edges[e].rate_gbps : share;
				inflow[to[e]] += rate[e];
			}
	}
	for (unsigned e = 0; e < m; e++) {
		const struct e2_edge_spec *es = &p->edges[e];
		unsigned a = map[from[e]], b = map[to[e]];
		pg->edges = e2_xrealloc(pg->edges, (pg->edges_count + 1) * sizeof *pg->edges);
		struct e2_pedge *pe = &pg->edges[pg->edges_count];
		memset(pe, 0, sizeof *pe);
		pe->from = a;
		pe->to = b;
		pe->rate_gbps = rate[e];
		pe->pipeline = p->name;
		/* A shared node sees several traffic classes, so its out-edges re-check the
         * class; at ingress the class selects the pipeline's traffic. */
		int need_class = pg->nodes[a].nf == NULL || uses[a] > 1;
		pe->filter = join_filters(need_class ? tcf : NULL, es->filter);
		pe->to_cp = pg->nodes[b].nf ? first_input_cp(pg->nodes[b].nf) : 0;
		pg->edges_count++;
		if (resolve_attrs(p, es, pg->nodes[a].nf, map, pg, pe, err) < 0)
			goto out;
	}
	/* A port node no edge uses was counted as an input and took a share of the
     * class's rate from the real inputs (sizing their NFs for less): refused,
     * after every other check. */
	for (unsigned v = 0; v < n; v++) {
		int used = 0;
		for (unsigned e = 0; e < m && !used; e++)
			used = from[e] == (int)v || to[e] == (int)v;
		if (!used && p->nodes[v].port) {
			e2_seterr(
				err,
				"pipeline '%s': port node '%s' (external port '%s') is not connected: no edge uses it",
				p->name, p->nodes[v].name, p->nodes[v].port);
			goto out;
		}
	}
	rc = 0;
out:
	free(from);
	free(to);
	free(color);
	free(stack);
	free(indeg);
	free(order);
	free(inflow);
	free(rate);
	return rc;
}

static int size_nodes(struct e2_pgraph *pg, const struct e2_hardware *hw, const struct e2_plan_opts *opts,
		      struct e2_err *err)
{
	double ghz = opts && opts->ghz > 0 ? opts->ghz : 0;
	unsigned max_cores = 0;
	for (unsigned s = 0; s < hw->servers_count; s++) {
		if (!(opts && opts->ghz > 0) && (ghz == 0 || hw->servers[s].ghz < ghz))
			ghz = hw->servers[s].ghz;
		unsigned usable = hw->servers[s].cores - hw->servers[s].reserved_cores;
		if (usable > max_cores)
			max_cores = usable;
	}
	double target =
		opts && opts->target_utilization > 0 && opts->target_utilization <= 1 ? opts->target_utilization : 0.8;
	pg->ghz = ghz;
	for (unsigned e = 0; e < pg->edges_count; e++)
		pg->nodes[pg->edges[e].to].in_gbps += pg->edges[e].rate_gbps;
	for (unsigned i = 0; i < pg->nodes_count; i++) {
		struct e2_pnode *n = &pg->nodes[i];
		if (!n->nf) {
			n->instances = 1;
			continue;
		}
		const struct e2_nf *nf = n->nf;
		if (nf->num_virtual_cpu > max_cores) {
			e2_seterr(err,
				  "demand cannot fit: NF '%s' (node '%s') needs %u vCPUs per instance but the largest "
				  "server has %u usable cores",
				  nf->descriptor_id, n->name, nf->num_virtual_cpu, max_cores);
			return -1;
		}
		double cap = nf->gbps_per_core_ghz * ghz * nf->num_virtual_cpu;
		double need = ceil(n->in_gbps / (cap * target) - 1e-9);
		unsigned lo = nf->vdu_profile ? nf->vdu_profile->min_number_of_instances : 1;
		unsigned hi = nf->vdu_profile ? nf->vdu_profile->max_number_of_instances : DEFAULT_MAX_INSTANCES;
		if (nf->scaling && !nf->scaling->scalable)
			hi = lo = 1;
		if (!e2_nf_across_servers(nf) && need * nf->num_virtual_cpu > max_cores) {
			e2_seterr(err,
				  "demand cannot fit: NF '%s' (node '%s') cannot scale across servers and needs %.0f "
				  "cores, but the largest server has %u usable cores",
				  nf->descriptor_id, n->name, need * nf->num_virtual_cpu, max_cores);
			return -1;
		}
		if (need > hi) {
			e2_seterr(err,
				  "demand cannot fit: NF '%s' (node '%s') needs %.0f instances for %.2f Gbps at "
				  "%.2f Gbps each, but allows at most %u",
				  nf->descriptor_id, n->name, need, n->in_gbps, cap * target, hi);
			return -1;
		}
		n->instances = need < lo ? lo : (unsigned)need;
	}
	return 0;
}

struct e2_pgraph *e2_pgraph_build(const struct e2_policy *pol, const struct e2_nf_catalog *nfs,
				  const struct e2_hardware *hw, const struct e2_plan_opts *opts, struct e2_err *err)
{
	struct e2_pgraph *pg = e2_xcalloc(1, sizeof *pg);
	unsigned total_nodes = 0;
	for (unsigned i = 0; i < pol->pipelines_count; i++)
		total_nodes += pol->pipelines[i].nodes_count;
	unsigned *uses = e2_xcalloc(total_nodes + 1, sizeof *uses);
	unsigned **maps = e2_xcalloc(pol->pipelines_count, sizeof *maps);
	int ok = 1;
	for (unsigned i = 0; i < pol->pipelines_count && ok; i++) {
		const struct e2_pipeline *p = &pol->pipelines[i];
		for (unsigned j = 0; j < i; j++)
			if (strcmp(pol->pipelines[j].name, p->name) == 0) {
				e2_seterr(err, "pipeline '%s' is declared twice", p->name);
				ok = 0;
			}
		maps[i] = e2_xcalloc(p->nodes_count + 1, sizeof **maps);
		if (ok && merge_nodes(pg, p, nfs, hw, maps[i], uses, err) < 0)
			ok = 0;
	}
	for (unsigned i = 0; i < pol->pipelines_count && ok; i++)
		if (add_pipeline_edges(pg, &pol->pipelines[i], maps[i], uses, err) < 0)
			ok = 0;
	if (ok && size_nodes(pg, hw, opts, err) < 0)
		ok = 0;
	for (unsigned i = 0; i < pol->pipelines_count; i++)
		free(maps[i]);
	free(maps);
	free(uses);
	if (!ok) {
		e2_pgraph_free(pg);
		return NULL;
	}
	return pg;
}
