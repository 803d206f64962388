/* SPDX-License-Identifier: BSD-3-Clause */
/* Plans for people (text), programs (JSON via jansson) and pictures (DOT via cgraph). */
#include "e2/orch.h"

#include <graphviz/cgraph.h>
#include <jansson.h>
#include <stdarg.h>
#include <stdlib.h>
#include <string.h>

static const char *server_of(const struct e2_hardware *hw, int s)
{
	return s >= 0 && (unsigned)s < hw->servers_count ? hw->servers[s].name : "switch";
}

static const char *filter_text(const struct e2_igraph *ig, const struct e2_iedge *ed, char *buf, size_t len)
{
	const struct e2_pedge *pe = &ig->pg->edges[ed->pedge];
	size_t used = (size_t)snprintf(buf, len, "%s", pe->filter ? pe->filter : "");
	for (unsigned a = 0; a < pe->attrs_count && used < len; a++)
		used += (size_t)snprintf(buf + used, len - used, "%s[%s]", used ? " " : "", pe->attrs[a]);
	const struct e2_inst *d = &ig->insts[ed->to];
	if (ed->distributed && used < len)
		snprintf(buf + used, len - used, "%sflow_id in [%u,%u)", used ? " " : "", d->range_lo, d->range_hi);
	return buf;
}

static void print_split(FILE *out, const struct e2_plan *p)
{
	const struct e2_split_plan *sp = &p->split;
	const struct e2_inst *a = &p->ig->insts[sp->old_inst], *b = &p->ig->insts[sp->new_inst];
	fprintf(out, "\nSplit of %s: new instance %s on %s (incremental placement, nothing else moves)\n", a->name,
		b->name, p->hw->servers[b->server].name);
	fprintf(out,
		"Phase 1, E2D on %s (once %s's own ports and steering stage exist; E2D's flow tracker "
		"keeps %s's flows as exceptions):\n",
		p->hw->servers[a->server].name, b->name, a->name);
	for (unsigned i = 0; i < sp->e2d.n; i++)
		fprintf(out, "  %s\n", sp->e2d.v[i]);
	fprintf(out, "Phase 2, once at most %u exceptions remain:\n", p->threshold);
	for (unsigned i = 0; i < sp->sw.n; i++)
		fprintf(out, "  %s\n", sp->sw.v[i]);
}

static void print_graphs(FILE *out, const struct e2_igraph *ig, const struct e2_hardware *hw,
			 const struct e2_rack *rack, const struct e2_interconnect *ic)
{
	const struct e2_pgraph *pg = ig->pg;
	fprintf(out, "PGraph: %u nodes, %u edges\n", pg->nodes_count, pg->edges_count);
	for (unsigned i = 0; i < pg->nodes_count; i++) {
		const struct e2_pnode *n = &pg->nodes[i];
		if (n->nf)
			fprintf(out, "  %-14s NF %-12s load %7.2f Gbps -> %u instance%s\n", n->name,
				n->nf->descriptor_id, n->in_gbps, n->instances, n->instances == 1 ? "" : "s");
		else
			fprintf(out, "  %-14s port %s\n", n->name, n->port);
	}
	fprintf(out, "\nIGraph: %u instances, %u edges\n", ig->insts_count, ig->edges_count);
	for (unsigned i = 0; i < ig->insts_count; i++) {
		const struct e2_inst *in = &ig->insts[i];
		if (!pg->nodes[in->pnode].nf)
			continue;
		fprintf(out, "  %-16s on %-10s %u core%s  load %6.2f / %6.2f Gbps  flows [%u,%u)\n", in->name,
			server_of(hw, in->server), in->cores, in->cores == 1 ? " " : "s", e2_igraph_inst_load(ig, i),
			in->capacity_gbps, in->range_lo, in->range_hi);
	}
	fprintf(out, "\nEdges:\n");
	for (unsigned e = 0; e < ig->edges_count; e++) {
		const struct e2_iedge *ed = &ig->edges[e];
		char f[700];
		int a = ig->insts[ed->from].server, b = ig->insts[ed->to].server;
		fprintf(out, "  %-16s -> %-16s %7.3f Gbps %s %s\n", ig->insts[ed->from].name, ig->insts[ed->to].name,
			ed->rate_gbps, (a != b || a < 0) ? "switch" : "local ", filter_text(ig, ed, f, sizeof f));
	}
	struct e2_load *loads = e2_xcalloc(rack->servers, sizeof *loads);
	e2_rack_loads(ig, rack, loads);
	fprintf(out, "\nServers:\n");
	for (unsigned s = 0; s < rack->servers; s++)
		if (loads[s].cores_used || loads[s].nic_in_gbps > 0 || loads[s].nic_out_gbps > 0)
			fprintf(out, "  %-10s cores %3u/%-3u  link in %7.2f out %7.2f / %.1f Gbps\n",
				hw->servers[s].name, loads[s].cores_used, rack->cores[s], loads[s].nic_in_gbps,
				loads[s].nic_out_gbps, rack->nic_gbps[s]);
	free(loads);
	fprintf(out, "\ncross_server_gbps=%.3f  (switch capacity %.1f Gbps)  max_scale=%.3f\n",
		e2_cross_server_gbps(ig), rack->switch_gbps, e2_max_scale(ig, rack));
	if (!ic)
		return;
	fprintf(out, "\nSwitch rules (%u of %u flow-table entries):\n", ic->switch_entries,
		hw->fabric.flow_table_entries);
	for (unsigned i = 0; i < ic->sw.n; i++)
		fprintf(out, "  %s\n", ic->sw.v[i]);
	for (unsigned s = 0; s < ic->servers; s++) {
		if (ic->e2d[s].n <= 5)
			continue; /* only the fixed nic/decap preamble: nothing placed here */
		fprintf(out, "\nE2D on %s:\n", hw->servers[s].name);
		for (unsigned i = 0; i < ic->e2d[s].n; i++)
			fprintf(out, "  %s\n", ic->e2d[s].v[i]);
	}
}

void e2_plan_print_text(FILE *out, const struct e2_plan *p)
{
	print_graphs(out, p->ig, p->hw, &p->rack, p->has_ic ? &p->ic : NULL);
	if (p->has_split)
		print_split(out, p);
}

static json_t *lines_json(const struct e2_lines *l)
{
	json_t *a = json_array();
	for (unsigned i = 0; i < l->n; i++)
		json_array_append_new(a, json_string(l->v[i]));
	return a;
}

static json_t *split_json(const struct e2_plan *p)
{
	const struct e2_split_plan *sp = &p->split;
	const struct e2_inst *a = &p->ig->insts[sp->old_inst], *b = &p->ig->insts[sp->new_inst];
	return json_pack("{s:s, s:s, s:s, s:[i,i,i], s:o, s:o}", "instance", a->name, "new_instance", b->name, "server",
			 p->hw->servers[b->server].name, "range", (int)sp->lo, (int)sp->mid, (int)sp->hi, "phase1_e2d",
			 lines_json(&sp->e2d), "phase2", lines_json(&sp->sw));
}

char *e2_plan_json(const struct e2_plan *p)
{
	const struct e2_igraph *ig = p->ig;
	const struct e2_hardware *hw = p->hw;
	const struct e2_rack *rack = &p->rack;
	const struct e2_interconnect *ic = p->has_ic ? &p->ic : NULL;
	const struct e2_pgraph *pg = ig->pg;
	json_t *root = json_object();
	json_t *insts = json_array(), *edges = json_array(), *servers = json_array();
	for (unsigned i = 0; i < ig->insts_count; i++) {
		const struct e2_inst *in = &ig->insts[i];
		const struct e2_pnode *pn = &pg->nodes[in->pnode];
		if (!pn->nf)
			continue;
		json_array_append_new(insts, json_pack("{s:s, s:s, s:s, s:s?, s:i, s:f, s:f, s:[i,i]}", "id", in->name,
						       "nf", pn->nf->descriptor_id, "node", pn->name, "server",
						       in->server >= 0 ? server_of(hw, in->server) : NULL, "cores",
						       (int)in->cores, "load_gbps", e2_igraph_inst_load(ig, i),
						       "capacity_gbps", in->capacity_gbps, "flow_range",
						       (int)in->range_lo, (int)in->range_hi));
	}
	for (unsigned e = 0; e < ig->edges_count; e++) {
		const struct e2_iedge *ed = &ig->edges[e];
		const struct e2_pedge *pe = &pg->edges[ed->pedge];
		json_t *attrs = json_array();
		for (unsigned a = 0; a < pe->attrs_count; a++)
			json_array_append_new(attrs, json_string(pe->attrs[a]));
		json_t *o = json_pack("{s:s, s:s, s:f, s:s?, s:o, s:s, s:b}", "from", ig->insts[ed->from].name, "to",
				      ig->insts[ed->to].name, "rate_gbps", ed->rate_gbps, "filter", pe->filter,
				      "attributes", attrs, "pipeline", pe->pipeline, "distributed", ed->distributed);
		if (ed->distributed)
			json_object_set_new(
				o, "flow_range",
				json_pack("[i,i]", (int)ig->insts[ed->to].range_lo, (int)ig->insts[ed->to].range_hi));
		json_array_append_new(edges, o);
	}
	struct e2_load *loads = e2_xcalloc(rack->servers, sizeof *loads);
	e2_rack_loads(ig, rack, loads);
	for (unsigned s = 0; s < rack->servers; s++) {
		json_t *o = json_pack("{s:s, s:i, s:i, s:f, s:f, s:f}", "name", hw->servers[s].name, "cores_used",
				      (int)loads[s].cores_used, "cores", (int)rack->cores[s], "nic_in_gbps",
				      loads[s].nic_in_gbps, "nic_out_gbps", loads[s].nic_out_gbps, "nic_gbps",
				      rack->nic_gbps[s]);
		if (ic && s < ic->servers)
			json_object_set_new(o, "e2d", lines_json(&ic->e2d[s]));
		json_array_append_new(servers, o);
	}
	free(loads);
	json_object_set_new(root, "instances", insts);
	json_object_set_new(root, "edges", edges);
	json_object_set_new(root, "cross_server_gbps", json_real(e2_cross_server_gbps(ig)));
	json_object_set_new(root, "max_scale", json_real(e2_max_scale(ig, rack)));
	json_object_set_new(root, "servers", servers);
	if (ic) {
		json_object_set_new(root, "switch_rules", lines_json(&ic->sw));
		json_object_set_new(root, "switch_entries", json_integer(ic->switch_entries));
	}
	if (p->has_split)
		json_object_set_new(root, "split", split_json(p));
	char *s = json_dumps(root, JSON_INDENT(2) | JSON_PRESERVE_ORDER);
	json_decref(root);
	return s;
}

static void set(void *obj, const char *k, const char *v)
{
	agsafeset(obj, (char *)k, (char *)v, "");
}

int e2_plan_dot(FILE *out, const struct e2_plan *p, struct e2_err *err)
{
	const struct e2_igraph *ig = p->ig;
	const struct e2_hardware *hw = p->hw;
	Agraph_t *g = agopen("igraph", Agdirected, NULL);
	if (!g) {
		if (err)
			snprintf(err->msg, sizeof err->msg, "cgraph: cannot create a graph");
		return -1;
	}
	set(g, "rankdir", "LR");
	Agnode_t **nodes = e2_xcalloc(ig->insts_count + 1, sizeof *nodes);
	Agraph_t **clusters = e2_xcalloc(hw->servers_count + 1, sizeof *clusters);
	for (unsigned i = 0; i < ig->insts_count; i++) {
		const struct e2_inst *in = &ig->insts[i];
		Agraph_t *where = g;
		if (in->server >= 0 && (unsigned)in->server < hw->servers_count) {
			if (!clusters[in->server]) {
				char name[80];
				snprintf(name, sizeof name, "cluster_%s", hw->servers[in->server].name);
				clusters[in->server] = agsubg(g, name, 1);
				set(clusters[in->server], "label", hw->servers[in->server].name);
				set(clusters[in->server], "style", "rounded");
			}
			where = clusters[in->server];
		}
		nodes[i] = agnode(where, (char *)in->name, 1);
		if (!ig->pg->nodes[in->pnode].nf)
			set(nodes[i], "shape", "cds");
		else
			set(nodes[i], "shape", "box");
	}
	for (unsigned e = 0; e < ig->edges_count; e++) {
		const struct e2_iedge *ed = &ig->edges[e];
		char name[32], label[800], f[700];
		snprintf(name, sizeof name, "e%u", e);
		Agedge_t *edge = agedge(g, nodes[ed->from], nodes[ed->to], name, 1);
		snprintf(label, sizeof label, "%.2f Gbps\n%s", ed->rate_gbps, filter_text(ig, ed, f, sizeof f));
		set(edge, "label", label);
		int a = ig->insts[ed->from].server, b = ig->insts[ed->to].server;
		if (a != b || a < 0)
			set(edge, "style", "dashed");
	}
	int rc = agwrite(g, out) == EOF ? -1 : 0;
	agclose(g);
	free(nodes);
	free(clusters);
	if (rc < 0 && err)
		snprintf(err->msg, sizeof err->msg, "cgraph: cannot write the graph");
	return rc;
}
