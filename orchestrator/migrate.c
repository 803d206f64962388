/* SPDX-License-Identifier: BSD-3-Clause */
/* Migration avoidance (seed §3.4.4). Splitting instance A (flow range [X, Y)) at M:
 *
 *  phase 1: the switch (or upstream E2D) still sends all of [X, Y) to A's server;
 *           A's steering stage sends [M, Y) to the new instance A', except the flows
 *           A already holds (exceptions), which stay with A;
 *  phase 2: once the exceptions have fallen to a threshold, the two ranges and the
 *           remaining exceptions move upstream (switch rules or upstream E2D range
 *           splits), and A's steering stage is emptied.
 * No flow state ever moves, and a flow that started at A ends at A. */
#include "e2/orch.h"

#include <stdarg.h>
#include <stdlib.h>
#include <string.h>

static int same_flow(const struct e2_flow *a, const struct e2_flow *b, unsigned aff)
{
	return (!(aff & E2_AFF_SRC_IP) || a->src_ip == b->src_ip) &&
	       (!(aff & E2_AFF_DST_IP) || a->dst_ip == b->dst_ip) && (!(aff & E2_AFF_PROTO) || a->proto == b->proto) &&
	       (!(aff & E2_AFF_SRC_PORT) || a->src_port == b->src_port) &&
	       (!(aff & E2_AFF_DST_PORT) || a->dst_port == b->dst_port);
}

/* "src_ip=10.0.0.1 dst_port=80" for the affinity fields of a flow. */
static void flow_match(const struct e2_flow *f, unsigned aff, char *buf, size_t len)
{
	size_t used = 0;
	buf[0] = '\0';
#define ADD(...)                                                        \
	do {                                                            \
		int w_ = snprintf(buf + used, len - used, __VA_ARGS__); \
		if (w_ > 0 && (size_t)w_ < len - used)                  \
			used += (size_t)w_;                             \
	} while (0)
	if (aff & E2_AFF_SRC_IP)
		ADD("%ssrc_ip=%u.%u.%u.%u", used ? " " : "", f->src_ip >> 24, (f->src_ip >> 16) & 255,
		    (f->src_ip >> 8) & 255, f->src_ip & 255);
	if (aff & E2_AFF_DST_IP)
		ADD("%sdst_ip=%u.%u.%u.%u", used ? " " : "", f->dst_ip >> 24, (f->dst_ip >> 16) & 255,
		    (f->dst_ip >> 8) & 255, f->dst_ip & 255);
	if (aff & E2_AFF_PROTO)
		ADD("%sproto=%u", used ? " " : "", f->proto);
	if (aff & E2_AFF_SRC_PORT)
		ADD("%ssrc_port=%u", used ? " " : "", f->src_port);
	if (aff & E2_AFF_DST_PORT)
		ADD("%sdst_port=%u", used ? " " : "", f->dst_port);
#undef ADD
}

/* Exception rules match aggregates: each aggregate gets one rule. */
static int cmp_aggregate(const void *pa, const void *pb, void *ctx)
{
	const struct e2_split_plan *sp = ctx;
	const struct e2_flow *a = &sp->exceptions[*(const unsigned *)pa], *b = &sp->exceptions[*(const unsigned *)pb];
	unsigned aff = sp->affinity;
	uint64_t ka[3] = {(aff & E2_AFF_SRC_IP) ? a->src_ip : 0, (aff & E2_AFF_DST_IP) ? a->dst_ip : 0,
			  ((uint64_t)((aff & E2_AFF_PROTO) ? a->proto : 0) << 32) |
				  ((uint64_t)((aff & E2_AFF_SRC_PORT) ? a->src_port : 0) << 16) |
				  ((aff & E2_AFF_DST_PORT) ? a->dst_port : 0)};
	uint64_t kb[3] = {(aff & E2_AFF_SRC_IP) ? b->src_ip : 0, (aff & E2_AFF_DST_IP) ? b->dst_ip : 0,
			  ((uint64_t)((aff & E2_AFF_PROTO) ? b->proto : 0) << 32) |
				  ((uint64_t)((aff & E2_AFF_SRC_PORT) ? b->src_port : 0) << 16) |
				  ((aff & E2_AFF_DST_PORT) ? b->dst_port : 0)};
	for (int i = 0; i < 3; i++)
		if (ka[i] != kb[i])
			return ka[i] < kb[i] ? -1 : 1;
	return 0;
}

/* Indices of one exception per aggregate (caller frees). */
static unsigned *unique_aggregates(struct e2_split_plan *sp, unsigned *count)
{
	unsigned *idx = e2_xcalloc(sp->exceptions_count + 1, sizeof *idx), n = 0;
	for (unsigned i = 0; i < sp->exceptions_count; i++)
		idx[i] = i;
	qsort_r(idx, sp->exceptions_count, sizeof *idx, cmp_aggregate, sp);
	for (unsigned i = 0; i < sp->exceptions_count; i++)
		if (i == 0 || cmp_aggregate(&idx[i - 1], &idx[i], sp) != 0)
			idx[n++] = idx[i];
	*count = n;
	return idx;
}

static const char *server_name(const struct e2_split_plan *sp, int s)
{
	return s >= 0 && (unsigned)s < sp->hw->servers_count ? sp->hw->servers[s].name : "fabric";
}

static unsigned first_input(const struct e2_nf *nf)
{
	for (unsigned c = 0; c < nf->cps_count; c++)
		if (nf->cps[c].role == E2_CP_INPUT)
			return c;
	return 0;
}

static void emit_phase2(const struct e2_igraph *ig, struct e2_split_plan *sp)
{
	const struct e2_inst *a = &ig->insts[sp->old_inst], *b = &ig->insts[sp->new_inst];
	const struct e2_nf *nf = ig->pg->nodes[a->pnode].nf;
	unsigned cp = first_input(nf);
	unsigned spi_a = 1 + sp->old_inst * 32 + cp, spi_b = 1 + sp->new_inst * 32 + cp;
	char fields[96], m[200];
	e2_affinity_str(sp->affinity, fields, sizeof fields);
	e2_lines_free(&sp->sw);
	unsigned naggr;
	unsigned *aggr = unique_aggregates(sp, &naggr);
	/* one tunnel towards the new instance per server; phase 1 made A's */
	char *encap_made = e2_xcalloc(sp->hw->servers_count + 1, 1);
	int keep_steer = 0;
	if (a->server >= 0 && a->server != b->server)
		encap_made[a->server] = 1;
	for (unsigned e = 0; e < ig->edges_count; e++) {
		const struct e2_iedge *ed = &ig->edges[e];
		if (ed->to != sp->old_inst)
			continue;
		const struct e2_inst *u = &ig->insts[ed->from];
		const struct e2_pnode *pu = &ig->pg->nodes[u->pnode];
		if (!pu->nf) {
			e2_lines_add(&sp->sw,
				     "switch: rule add priority=100 in_port=%s hash=%s range=%u-%u "
				     "action=encap:spi=%u,output:%s",
				     pu->port, fields, sp->lo, sp->mid, spi_a, server_name(sp, a->server));
			e2_lines_add(&sp->sw,
				     "switch: rule add priority=100 in_port=%s hash=%s range=%u-%u "
				     "action=encap:spi=%u,output:%s",
				     pu->port, fields, sp->mid, sp->hi, spi_b, server_name(sp, b->server));
			for (unsigned x = 0; x < naggr; x++) {
				flow_match(&sp->exceptions[aggr[x]], sp->affinity, m, sizeof m);
				e2_lines_add(
					&sp->sw,
					"switch: rule add priority=150 in_port=%s %s action=encap:spi=%u,output:%s",
					pu->port, m, spi_a, server_name(sp, a->server));
			}
			e2_lines_add(&sp->sw, "switch: rule del priority=100 in_port=%s hash=%s range=%u-%u", pu->port,
				     fields, sp->lo, sp->hi);
			continue;
		}
		for (unsigned c = 0; c < pu->nf->cps_count && c < 32; c++) {
			if (!(ig->pg->edges[ed->pedge].from_cps & (1u << c)))
				continue;
			char stage[160];
			e2_edge_stage_name(ig, e, c, stage, sizeof stage);
			const char *srv = server_name(sp, u->server);
			/* gates of the range split follow the order of its edges; the new one is last */
			unsigned gates = 0;
			for (unsigned x = 0; x < ig->edges_count; x++) {
				const struct e2_iedge *o = &ig->edges[x];
				if (o->from == ed->from && o->pedge == ed->pedge && o->to != sp->new_inst)
					gates++;
			}
			if (gates <= 1) { /* u sends straight to A: there is no range split to update */
				keep_steer = 1;
				e2_lines_add(&sp->sw,
					     "# e2d %s: %s feeds %s without a range split; the split stays at %s's "
					     "steering stage",
					     srv, u->name, a->name, a->name);
				continue;
			}
			char target[96];
			if (u->server == b->server) {
				snprintf(target, sizeof target, "%s.%s.steer", b->name, nf->cps[cp].name);
			} else {
				snprintf(target, sizeof target, "encap.%u", spi_b);
				if (u->server >= 0 && !encap_made[u->server]) {
					char mac[24], own[24];
					encap_made[u->server] = 1;
					e2_server_mac(b->server, mac, sizeof mac);
					e2_server_mac(u->server, own, sizeof own);
					e2_lines_cmd_for(&sp->sw, srv, "module add encap.%u tunnel_encap dst=%s src=%s",
							 spi_b, mac, own);
					e2_lines_cmd_for(&sp->sw, srv, "module cmd encap.%u edge igate=0 spi=%u", spi_b,
							 spi_b);
					e2_lines_cmd_for(&sp->sw, srv, "connect encap.%u nic.out", spi_b);
				}
			}
			/* the new gate is wired before any range sends to it; the split keeps the
             * flows this stage already tracks for A on A (its exceptions) */
			e2_lines_cmd_for(&sp->sw, srv, "connect %s.split:%u %s", stage, gates, target);
			e2_lines_cmd_for(&sp->sw, srv, "module cmd %s.split split range=%u-%u at=%u new_gate=%u", stage,
					 sp->lo, sp->hi, sp->mid, gates);
		}
	}
	if (keep_steer)
		e2_lines_add(&sp->sw, "# e2d %s: %s.%s.steer keeps the split for the feeders above",
			     server_name(sp, a->server), a->name, nf->cps[cp].name);
	else
		e2_lines_add(&sp->sw,
			     "# e2d %s: %s.%s.steer.rs may keep its split: only %s's exceptions reach it in [%u,%u)",
			     server_name(sp, a->server), a->name, nf->cps[cp].name, a->name, sp->mid, sp->hi);
	free(aggr);
	free(encap_made);
}

int e2_split_begin(const struct e2_igraph *ig, const struct e2_hardware *hw, unsigned old_inst, unsigned new_inst,
		   const struct e2_flow *active, unsigned active_count, unsigned threshold, struct e2_split_plan *sp,
		   struct e2_err *err)
{
	memset(sp, 0, sizeof *sp);
	if (old_inst >= ig->insts_count || new_inst >= ig->insts_count) {
		e2_seterr(err, "split plan: no such instance");
		return -1;
	}
	const struct e2_inst *a = &ig->insts[old_inst], *b = &ig->insts[new_inst];
	const struct e2_nf *nf = ig->pg->nodes[a->pnode].nf;
	if (!nf || a->pnode != b->pnode || a->range_hi != b->range_lo) {
		e2_seterr(err, "split plan: '%s' was not split from '%s'", b->name, a->name);
		return -1;
	}
	sp->old_inst = old_inst;
	sp->new_inst = new_inst;
	sp->lo = a->range_lo;
	sp->mid = a->range_hi;
	sp->hi = b->range_hi;
	sp->threshold = threshold;
	sp->hw = hw;
	sp->affinity = a->hash_fields ? a->hash_fields : E2_AFF_FIVE_TUPLE;
	sp->exceptions = e2_xcalloc(active_count + 1, sizeof *sp->exceptions);
	for (unsigned i = 0; i < active_count; i++) {
		uint32_t id = e2_flow_id(&active[i], sp->affinity);
		if (id < sp->mid || id >= sp->hi)
			continue;
		/* every flow is kept, not one per aggregate: an aggregate stays pinned
         * while any of its flows is still active */
		sp->exceptions[sp->exceptions_count++] = active[i];
	}
	unsigned cp = first_input(nf);
	const char *cpn = nf->cps[cp].name;
	unsigned spi_b = 1 + new_inst * 32 + cp;
	e2_lines_add(&sp->e2d,
		     "# split %s [%u,%u) at %u: %s keeps [%u,%u) and its %u active flows above %u; %s on %s "
		     "takes new flows in [%u,%u)",
		     a->name, sp->lo, sp->hi, sp->mid, a->name, sp->lo, sp->mid, sp->exceptions_count, sp->mid, b->name,
		     server_name(sp, b->server), sp->mid, sp->hi);
	/* gate 1 of A's steering stage is wired first, then the range split at M: E2D's flow
     * tracker keeps every flow A already holds on gate 0 (the exceptions) */
	if (a->server == b->server) {
		e2_lines_cmd(&sp->e2d, "connect %s.%s.steer.rs:1 %s.%s.steer", a->name, cpn, b->name, cpn);
	} else {
		char mac[24], own[24];
		e2_server_mac(b->server, mac, sizeof mac);
		e2_server_mac(a->server, own, sizeof own);
		e2_lines_cmd(&sp->e2d, "module add encap.%u tunnel_encap dst=%s src=%s", spi_b, mac, own);
		e2_lines_cmd(&sp->e2d, "module cmd encap.%u edge igate=0 spi=%u", spi_b, spi_b);
		e2_lines_cmd(&sp->e2d, "connect encap.%u nic.out", spi_b);
		e2_lines_cmd(&sp->e2d, "connect %s.%s.steer.rs:1 encap.%u", a->name, cpn, spi_b);
	}
	e2_lines_cmd(&sp->e2d, "module cmd %s.%s.steer.rs split range=%u-%u at=%u new_gate=1", a->name, cpn, sp->lo,
		     sp->hi, sp->mid);
	e2_lines_cmd(&sp->e2d, "module cmd %s.%s.steer.rs exceptions", a->name, cpn);
	/* Phase 2 is written when the exceptions have drained (e2_split_flow_ended);
     * without a flow list it is shown now, as the plan for later. */
	if (!active || sp->exceptions_count <= threshold)
		emit_phase2(ig, sp);
	if (active && sp->exceptions_count <= threshold)
		sp->on_switch = 1;
	return 0;
}

int e2_split_flow_ended(const struct e2_igraph *ig, struct e2_split_plan *sp, const struct e2_flow *f)
{
	for (unsigned i = 0; i < sp->exceptions_count; i++)
		if (same_flow(&sp->exceptions[i], f, E2_AFF_FIVE_TUPLE)) {
			sp->exceptions[i] = sp->exceptions[--sp->exceptions_count];
			break;
		}
	if (!sp->on_switch && sp->exceptions_count <= sp->threshold) {
		emit_phase2(ig, sp); /* with the exceptions that remain */
		sp->on_switch = 1;
		return 1;
	}
	return 0;
}

unsigned e2_split_route(const struct e2_igraph *ig, const struct e2_split_plan *sp, const struct e2_flow *f)
{
	(void)ig;
	for (unsigned i = 0; i < sp->exceptions_count; i++)
		if (same_flow(&sp->exceptions[i], f, sp->affinity))
			return sp->old_inst;
	uint32_t id = e2_flow_id(f, sp->affinity);
	return id >= sp->mid && id < sp->hi ? sp->new_inst : sp->old_inst;
}

void e2_split_free(struct e2_split_plan *sp)
{
	free(sp->exceptions);
	sp->exceptions = NULL;
	e2_lines_free(&sp->e2d);
	e2_lines_free(&sp->sw);
}
