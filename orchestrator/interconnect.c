/* SPDX-License-Identifier: BSD-3-Clause */
/* Seed §3.4.2: turn a placed IGraph into E2D configuration lines (one list per
 * server, the same commands as `e2ctl dp ...`, checked against a live e2d by
 * tests/test_plan_e2d.sh) and fabric switch rules.
 *
 * Per NF instance: one vhost vport per connection point; in front of each input a
 * steering stage (`flowhash` + `rangesplit` holding the instance's own range), so a
 * later split is one `split` command there. Per output port: an optional `bpf`
 * classifier (one rule per outgoing PGraph edge), optional `nsh_match` stages for
 * metadata attributes, and a `flowhash` + `rangesplit` distribution stage when an edge
 * fans out to several instances. Traffic to another server leaves through a
 * `tunnel_encap` (NSH, the edge's SPI) on the `nic` port and enters the peer through
 * its `tunnel_decap` demultiplexer. */
#include "e2/orch.h"

#include <stdarg.h>
#include <stdlib.h>
#include <string.h>

/* The tunnel identity (NSH service path) of an instance's input port. */
static unsigned spi_of(unsigned inst, unsigned cp)
{
	return 1 + inst * 32 + cp;
}

/* Gate of the decap demultiplexer left unconnected: unknown SPIs are dropped there. */
#define DECAP_DROP_GATE 63

/* What the lines made so far hold (kept in struct e2_interconnect, so that instances
 * added later, e2_interconnect_add, reuse tunnels and decap gates): an encap module per
 * (destination instance, source server, cp), a decap rule per (instance, cp), the next
 * free decap gate per server. Indexed by instance first, so that they only grow. */
struct ic_state {
	const struct e2_igraph *ig;
	const struct e2_hardware *hw;
	struct e2_interconnect *out;
};

static char *encap_made(struct ic_state *st, unsigned dest, int s, unsigned cp)
{
	return &st->out->encap_made[((size_t)dest * st->out->servers + (unsigned)s) * 32 + cp];
}

static char *decap_made(struct ic_state *st, unsigned dest, unsigned cp)
{
	return &st->out->decap_made[(size_t)dest * 32 + cp];
}

/* Room for every instance of the IGraph (which grows by splits). */
static void ic_grow(struct e2_interconnect *ic, unsigned insts)
{
	if (insts <= ic->insts_room)
		return;
	unsigned room = insts * 2;
	ic->encap_made = e2_xrealloc(ic->encap_made, (size_t)room * ic->servers * 32);
	memset(ic->encap_made + (size_t)ic->insts_room * ic->servers * 32, 0,
	       (size_t)(room - ic->insts_room) * ic->servers * 32);
	ic->decap_made = e2_xrealloc(ic->decap_made, (size_t)room * 32);
	memset(ic->decap_made + (size_t)ic->insts_room * 32, 0, (size_t)(room - ic->insts_room) * 32);
	ic->insts_room = room;
}

static const char *cp_name(const struct e2_igraph *ig, unsigned inst, unsigned cp)
{
	const struct e2_nf *nf = ig->pg->nodes[ig->insts[inst].pnode].nf;
	return nf ? nf->cps[cp].name : "port";
}

/* Where packets for (dest, cp) go from server s: a local port_out or a tunnel. */
static void dest_target(struct ic_state *st, int s, unsigned dest, unsigned cp, char *buf, size_t len)
{
	const struct e2_igraph *ig = st->ig;
	const struct e2_inst *d = &ig->insts[dest];
	struct e2_lines *l = &st->out->e2d[s];
	if (d->server == s) {
		snprintf(buf, len, "%s.%s.steer", d->name, cp_name(ig, dest, cp));
		return;
	}
	unsigned spi = spi_of(dest, cp);
	snprintf(buf, len, "encap.%u", spi);
	if (!*encap_made(st, dest, s, cp)) {
		char mac[24], own[24];
		*encap_made(st, dest, s, cp) = 1;
		e2_server_mac(d->server, mac, sizeof mac);
		e2_server_mac(s, own, sizeof own);
		e2_lines_cmd(l, "module add encap.%u tunnel_encap dst=%s src=%s", spi, mac, own);
		e2_lines_cmd(l, "module cmd encap.%u edge igate=0 spi=%u", spi, spi);
		e2_lines_cmd(l, "connect encap.%u nic.out", spi);
	}
	if (d->server >= 0 && !*decap_made(st, dest, cp)) {
		*decap_made(st, dest, cp) = 1;
		struct e2_lines *r = &st->out->e2d[d->server];
		unsigned g = st->out->decap_gate[d->server]++;
		e2_lines_cmd(r, "module cmd decap edge spi=%u gate=%u", spi, g);
		e2_lines_cmd(r, "connect decap:%u %s.%s.steer", g, d->name, cp_name(ig, dest, cp));
	}
}

/* How long a stage keeps a silent flow where it is: as long as the NF behind keeps its
 * state, so no flow it knows is ever handed to an instance that does not. */
static unsigned flow_idle_ms(const struct e2_nf *nf)
{
	double s = nf && nf->flow_timeout_s > 0 ? nf->flow_timeout_s : E2_FLOW_TIMEOUT_S;
	return (unsigned)(s * 1000);
}

/* A flowhash + rangesplit stage feeding every destination edge by its flow range. */
static void emit_split(struct ic_state *st, int s, const char *stage, const char *prefix, const unsigned *edges,
		       unsigned n)
{
	const struct e2_igraph *ig = st->ig;
	struct e2_lines *l = &st->out->e2d[s];
	char fields[96];
	e2_affinity_e2d(ig->insts[ig->edges[edges[0]].to].hash_fields, fields, sizeof fields);
	e2_lines_cmd(l, "module add %s.hash flowhash fields=%s bits=%u", prefix, fields, E2_FLOW_BITS);
	e2_lines_cmd(l, "module add %s.split rangesplit fields=%s bits=%u flows=%u idle_ms=%u", prefix, fields,
		     E2_FLOW_BITS, E2_STAGE_FLOWS,
		     flow_idle_ms(ig->pg->nodes[ig->insts[ig->edges[edges[0]].to].pnode].nf));
	e2_lines_cmd(l, "connect %s %s.hash", stage, prefix);
	e2_lines_cmd(l, "connect %s.hash %s.split", prefix, prefix);
	for (unsigned j = 0; j < n; j++) {
		const struct e2_iedge *ed = &ig->edges[edges[j]];
		const struct e2_inst *d = &ig->insts[ed->to];
		char target[160];
		dest_target(st, s, ed->to, ig->pg->edges[ed->pedge].to_cp, target, sizeof target);
		e2_lines_cmd(l, "module cmd %s.split add range=%u-%u gate=%u", prefix, d->range_lo, d->range_hi, j);
		e2_lines_cmd(l, "connect %s.split:%u %s", prefix, j, target);
	}
}

/* Pass 1: the instance's vports and the modules around them. */
static void emit_ports(struct ic_state *st, unsigned i)
{
	const struct e2_igraph *ig = st->ig;
	const struct e2_inst *in = &ig->insts[i];
	const struct e2_nf *nf = ig->pg->nodes[in->pnode].nf;
	struct e2_lines *l = &st->out->e2d[in->server];
	e2_lines_add(l, "# %s: NF %s (%s), %u core(s), flow range [%u,%u)", in->name, nf->descriptor_id,
		     nf->nf_type == E2_NF_NATIVE ? "native" : "legacy", in->cores, in->range_lo, in->range_hi);
	for (unsigned c = 0; c < nf->cps_count; c++) {
		const char *cp = nf->cps[c].name;
		if (nf->cps[c].role == E2_CP_INPUT)
			/* what the instance was sized for: e2d's monitor says its load against it */
			e2_lines_cmd(l, "port add %s.%s vhost path=/var/run/e2/%s.%s.sock client=1 capacity_kbps=%.0f",
				     in->name, cp, in->name, cp, in->capacity_gbps * 1e6);
		else
			e2_lines_cmd(l, "port add %s.%s vhost path=/var/run/e2/%s.%s.sock client=1", in->name, cp,
				     in->name, cp);
		if (nf->cps[c].role == E2_CP_INPUT) {
			/* every input goes through a steering stage, so a later split only adds rules */
			char fields[96];
			e2_affinity_e2d(in->hash_fields, fields, sizeof fields);
			e2_lines_cmd(l, "module add %s.%s.out port_out port=%s.%s", in->name, cp, in->name, cp);
			e2_lines_cmd(l, "module add %s.%s.steer flowhash fields=%s bits=%u", in->name, cp, fields,
				     E2_FLOW_BITS);
			e2_lines_cmd(l, "module add %s.%s.steer.rs rangesplit fields=%s bits=%u flows=%u idle_ms=%u",
				     in->name, cp, fields, E2_FLOW_BITS, E2_STAGE_FLOWS, flow_idle_ms(nf));
			e2_lines_cmd(l, "module cmd %s.%s.steer.rs add range=%u-%u gate=0", in->name, cp, in->range_lo,
				     in->range_hi);
			e2_lines_cmd(l, "connect %s.%s.steer %s.%s.steer.rs", in->name, cp, in->name, cp);
			e2_lines_cmd(l, "connect %s.%s.steer.rs:0 %s.%s.out", in->name, cp, in->name, cp);
		} else
			e2_lines_cmd(l, "module add %s.%s.in port_in port=%s.%s", in->name, cp, in->name, cp);
	}
}

/* Pass 2: what leaves each output port (every module it names exists by now). */
static void emit_wiring(struct ic_state *st, unsigned i, unsigned *scratch)
{
	const struct e2_igraph *ig = st->ig;
	const struct e2_inst *in = &ig->insts[i];
	const struct e2_nf *nf = ig->pg->nodes[in->pnode].nf;
	int s = in->server;
	struct e2_lines *l = &st->out->e2d[s];
	for (unsigned c = 0; c < nf->cps_count && c < 32; c++) {
		if (nf->cps[c].role != E2_CP_OUTPUT)
			continue;
		const char *cp = nf->cps[c].name;
		/* PGraph edges leaving through this port, in order */
		unsigned groups = 0;
		unsigned *pedges = scratch;
		for (unsigned e = 0; e < ig->edges_count; e++) {
			const struct e2_iedge *ed = &ig->edges[e];
			if (ed->from != i || !(ig->pg->edges[ed->pedge].from_cps & (1u << c)))
				continue;
			unsigned g = 0;
			while (g < groups && pedges[g] != ed->pedge)
				g++;
			if (g == groups)
				pedges[groups++] = ed->pedge;
		}
		if (!groups) {
			e2_lines_add(l, "# %s.%s: no edge leaves this port", in->name, cp);
			continue;
		}
		int classify = groups > 1 || ig->pg->edges[pedges[0]].filter;
		char head[128];
		snprintf(head, sizeof head, "%s.%s.in", in->name, cp);
		if (classify) {
			e2_lines_cmd(l, "module add %s.%s.cls bpf", in->name, cp);
			e2_lines_cmd(l, "connect %s %s.%s.cls", head, in->name, cp);
		}
		unsigned *edges = scratch + groups;
		for (unsigned g = 0; g < groups; g++) {
			const struct e2_pedge *pe = &ig->pg->edges[pedges[g]];
			char stage[192];
			if (classify) {
				char q[600];
				e2_quote(q, sizeof q, pe->filter ? pe->filter : "");
				e2_lines_cmd(l, "module cmd %s.%s.cls add filter=%s gate=%u", in->name, cp, q, g);
				snprintf(stage, sizeof stage, "%s.%s.cls:%u", in->name, cp, g);
			} else {
				snprintf(stage, sizeof stage, "%s", head);
			}
			for (unsigned a = 0; a < pe->attrs_count; a++) {
				char name[64], value[256], q[300];
				if (e2_attr_term_parse(pe->attrs[a], name, sizeof name, value, sizeof value) < 0)
					continue;
				/* E2D's NSH attributes carry 1/0 where policies say true/false */
				e2_quote(q, sizeof q,
					 strcmp(value, "true") == 0    ? "1"
					 : strcmp(value, "false") == 0 ? "0"
								       : value);
				e2_lines_cmd(l, "module add %s.%s.e%u.md%u nsh_match default=1", in->name, cp, g, a);
				e2_lines_cmd(l, "module cmd %s.%s.e%u.md%u add attr=%s value=%s gate=0", in->name, cp,
					     g, a, name, q);
				e2_lines_cmd(l, "connect %s %s.%s.e%u.md%u", stage, in->name, cp, g, a);
				snprintf(stage, sizeof stage, "%s.%s.e%u.md%u:0", in->name, cp, g, a);
			}
			unsigned n = 0;
			for (unsigned e = 0; e < ig->edges_count; e++)
				if (ig->edges[e].from == i && ig->edges[e].pedge == pedges[g])
					edges[n++] = e;
			if (n == 1) {
				char target[160];
				dest_target(st, s, ig->edges[edges[0]].to, pe->to_cp, target, sizeof target);
				e2_lines_cmd(l, "connect %s %s", stage, target);
			} else {
				char prefix[128];
				snprintf(prefix, sizeof prefix, "%s.%s.e%u", in->name, cp, g);
				emit_split(st, s, stage, prefix, edges, n);
			}
		}
	}
}

void e2_edge_stage_name(const struct e2_igraph *ig, unsigned e, unsigned cp, char *buf, size_t len)
{
	const struct e2_iedge *ed = &ig->edges[e];
	unsigned g = 0, seen[64], groups = 0;
	for (unsigned x = 0; x < ig->edges_count; x++) {
		const struct e2_iedge *o = &ig->edges[x];
		if (o->from != ed->from || !(ig->pg->edges[o->pedge].from_cps & (1u << cp)))
			continue;
		unsigned k = 0;
		while (k < groups && seen[k] != o->pedge)
			k++;
		if (k == groups && groups < 64)
			seen[groups++] = o->pedge;
		if (o->pedge == ed->pedge) {
			g = k;
			break;
		}
	}
	snprintf(buf, len, "%s.%s.e%u", ig->insts[ed->from].name, cp_name(ig, ed->from, cp), g);
}

static int need_action(const struct e2_hardware *hw, const char *action, struct e2_err *err)
{
	if (!hw->fabric.actions_count)
		return 0;
	for (unsigned i = 0; i < hw->fabric.actions_count; i++)
		if (strcmp(hw->fabric.actions[i], action) == 0)
			return 0;
	e2_seterr(err, "switch: the plan needs action '%s', which the hardware description does not list", action);
	return -1;
}

static int emit_switch(struct ic_state *st, struct e2_err *err)
{
	const struct e2_igraph *ig = st->ig;
	struct e2_interconnect *out = st->out;
	unsigned entries = 0;
	for (unsigned s = 0; s < st->hw->servers_count; s++) {
		e2_lines_add(&out->sw, "rule add priority=10 tunnel_dst=%s action=output:%s", st->hw->servers[s].name,
			     st->hw->servers[s].name);
		entries++;
	}
	if (need_action(st->hw, "output", err) < 0)
		return -1;
	for (unsigned x = 0; x < ig->insts_count; x++) {
		const struct e2_pnode *pn = &ig->pg->nodes[ig->insts[x].pnode];
		if (pn->nf)
			continue;
		int egress = 0;
		for (unsigned e = 0; e < ig->edges_count; e++)
			egress |= ig->edges[e].to == x;
		if (egress) {
			if (need_action(st->hw, "decap", err) < 0)
				return -1;
			e2_lines_add(&out->sw, "rule add priority=200 spi=%u action=decap,output:%s", spi_of(x, 0),
				     pn->port);
			entries++;
		}
		unsigned prio = 100;
		for (unsigned p = 0; p < ig->pg->edges_count; p++) {
			const struct e2_pedge *pe = &ig->pg->edges[p];
			if (pe->from != ig->insts[x].pnode)
				continue;
			char q[600];
			e2_quote(q, sizeof q, pe->filter ? pe->filter : "");
			unsigned fan = 0;
			for (unsigned e = 0; e < ig->edges_count; e++)
				fan += ig->edges[e].from == x && ig->edges[e].pedge == p;
			for (unsigned e = 0; e < ig->edges_count; e++) {
				const struct e2_iedge *ed = &ig->edges[e];
				if (ed->from != x || ed->pedge != p)
					continue;
				const struct e2_inst *d = &ig->insts[ed->to];
				const char *srv = d->server >= 0 ? st->hw->servers[d->server].name : "?";
				if (need_action(st->hw, "encap", err) < 0)
					return -1;
				if (fan > 1) {
					if (need_action(st->hw, "hash_range", err) < 0)
						return -1;
					char fields[96];
					e2_affinity_str(d->hash_fields, fields, sizeof fields);
					e2_lines_add(&out->sw,
						     "rule add priority=%u in_port=%s filter=%s hash=%s range=%u-%u "
						     "action=encap:spi=%u,output:%s",
						     prio, pn->port, q, fields, d->range_lo, d->range_hi,
						     spi_of(ed->to, pe->to_cp), srv);
					entries += e2_range_prefixes(d->range_lo, d->range_hi);
				} else {
					e2_lines_add(
						&out->sw,
						"rule add priority=%u in_port=%s filter=%s action=encap:spi=%u,output:%s",
						prio, pn->port, q, spi_of(ed->to, pe->to_cp), srv);
					entries++;
				}
				/* the receiving server demultiplexes this VNI to the instance */
				if (d->server >= 0 && !*decap_made(st, ed->to, pe->to_cp)) {
					*decap_made(st, ed->to, pe->to_cp) = 1;
					struct e2_lines *r = &out->e2d[d->server];
					unsigned g = out->decap_gate[d->server]++;
					e2_lines_cmd(r, "module cmd decap edge spi=%u gate=%u",
						     spi_of(ed->to, pe->to_cp), g);
					e2_lines_cmd(r, "connect decap:%u %s.%s.steer", g, d->name,
						     cp_name(ig, ed->to, pe->to_cp));
				}
			}
			if (prio > 11)
				prio--;
		}
	}
	out->switch_entries = entries;
	if (entries > st->hw->fabric.flow_table_entries) {
		e2_seterr(err, "switch flow table: the plan needs %u entries but the switch has %u", entries,
			  st->hw->fabric.flow_table_entries);
		return -1;
	}
	return 0;
}

int e2_interconnect_plan(const struct e2_igraph *ig, const struct e2_hardware *hw, struct e2_interconnect *out,
			 struct e2_err *err)
{
	memset(out, 0, sizeof *out);
	for (unsigned i = 0; i < ig->insts_count; i++) {
		const struct e2_inst *in = &ig->insts[i];
		if (ig->pg->nodes[in->pnode].nf && (in->server < 0 || (unsigned)in->server >= hw->servers_count)) {
			e2_seterr(err, "interconnect: instance '%s' is not placed", in->name);
			return -1;
		}
	}
	out->servers = hw->servers_count;
	out->e2d = e2_xcalloc(out->servers, sizeof *out->e2d);
	out->decap_gate = e2_xcalloc(out->servers + 1, sizeof *out->decap_gate);
	ic_grow(out, ig->insts_count + 1);
	struct ic_state st = {.ig = ig, .hw = hw, .out = out};
	for (unsigned s = 0; s < out->servers; s++) {
		struct e2_lines *l = &out->e2d[s];
		e2_lines_add(l, "# server %s: the agent has created port 'nic' on the fabric link",
			     hw->servers[s].name);
		e2_lines_cmd(l, "module add nic.in port_in port=nic");
		e2_lines_cmd(l, "module add nic.out port_out port=nic");
		e2_lines_cmd(l, "module add decap tunnel_decap default=%u", DECAP_DROP_GATE);
		e2_lines_cmd(l, "connect nic.in decap");
	}
	unsigned *scratch = e2_xcalloc(2 * (size_t)ig->edges_count + 2, sizeof *scratch);
	for (unsigned i = 0; i < ig->insts_count; i++)
		if (ig->pg->nodes[ig->insts[i].pnode].nf)
			emit_ports(&st, i);
	for (unsigned i = 0; i < ig->insts_count; i++)
		if (ig->pg->nodes[ig->insts[i].pnode].nf)
			emit_wiring(&st, i, scratch);
	free(scratch);
	int rc = emit_switch(&st, err);
	if (rc < 0)
		e2_interconnect_free(out);
	return rc;
}

void e2_interconnect_add(struct e2_interconnect *ic, const struct e2_igraph *ig, const struct e2_hardware *hw,
			 unsigned inst)
{
	ic_grow(ic, ig->insts_count);
	struct ic_state st = {.ig = ig, .hw = hw, .out = ic};
	unsigned *scratch = e2_xcalloc(2 * (size_t)ig->edges_count + 2, sizeof *scratch);
	emit_ports(&st, inst);
	emit_wiring(&st, inst, scratch);
	free(scratch);
}

void e2_interconnect_target(struct e2_interconnect *ic, const struct e2_igraph *ig, const struct e2_hardware *hw,
			    int server, unsigned dest, unsigned cp, char *buf, size_t len)
{
	ic_grow(ic, ig->insts_count);
	struct ic_state st = {.ig = ig, .hw = hw, .out = ic};
	dest_target(&st, server, dest, cp, buf, len);
}

void e2_interconnect_free(struct e2_interconnect *ic)
{
	for (unsigned s = 0; s < ic->servers && ic->e2d; s++)
		e2_lines_free(&ic->e2d[s]);
	free(ic->e2d);
	ic->e2d = NULL;
	free(ic->encap_made);
	free(ic->decap_made);
	free(ic->decap_gate);
	ic->encap_made = ic->decap_made = NULL;
	ic->decap_gate = NULL;
	ic->insts_room = 0;
	e2_lines_free(&ic->sw);
	ic->servers = 0;
}
