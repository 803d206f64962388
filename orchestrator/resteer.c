/* SPDX-License-Identifier: BSD-3-Clause */
/* Re-steering around instances the operator stopped (`virsh shutdown`) and started
 * again, as E2D commands appended to a placed plan's own lines.
 *
 * Each NF instance's flow range is a "piece". The plan's lines give every piece to its
 * own instance; withdrawing instance W hands each piece W holds to a running sibling
 * (same policy node; the one holding fewest pieces), restoring W gives W its own piece
 * back. Pieces are never merged or cut, so each is always one exact range in every
 * distributing rangesplit stage and moves with one `move` there: no moment without a
 * route. A withdrawn instance's pinned flows are forgotten (its state died with it);
 * when a piece comes back to a restored instance, the flows pinned to the sibling that
 * served it meanwhile stay there until idle, so no connection is moved twice.
 *
 * The lines only ever grow (an event appends, nothing is taken back), so the agent
 * applies them to a running e2d one by one, without a restart. */
#include "e2/orch.h"

#include <stdarg.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "e2/mem.h"

struct resteer {
	struct e2_plan *p;
	const struct e2_igraph *ig;
	int *owner;    /* per instance: who serves its piece now */
	bool *down;    /* per instance: withdrawn */
	char **steers; /* "<stage> <piece>": pieces added to a steering stage by us */
	size_t n_steers;
	const char *event; /* what the lines being added carry out, said once per server */
	bool *told;        /* per server: the event's comment is there */
};

/* An e2d command for server s, after a comment naming the event it belongs to. */
static void __attribute__((format(printf, 3, 4))) cmd(struct resteer *r, int s, const char *fmt, ...)
{
	char line[512];
	va_list ap;
	va_start(ap, fmt);
	vsnprintf(line, sizeof line, fmt, ap);
	va_end(ap);
	struct e2_lines *l = &r->p->ic.e2d[s];
	if (!r->told[s]) {
		e2_lines_add(l, "# re-steer: %s", r->event);
		r->told[s] = true;
	}
	e2_lines_cmd(l, "%s", line);
}

static bool is_nf(const struct e2_igraph *ig, unsigned x)
{
	return ig->pg->nodes[ig->insts[x].pnode].nf != NULL;
}

/* The edge from `from` over PGraph edge `pedge` to `to`, and its gate in the stage that
 * distributes them (edges are numbered in IGraph order, as interconnect.c does). */
static int gate_of(const struct e2_igraph *ig, unsigned from, unsigned pedge, unsigned to, unsigned *fan)
{
	int gate = -1;
	unsigned j = 0;
	for (unsigned e = 0; e < ig->edges_count; e++) {
		const struct e2_iedge *ed = &ig->edges[e];
		if (ed->from != from || ed->pedge != pedge)
			continue;
		if (ed->to == to)
			gate = (int)j;
		j++;
	}
	*fan = j;
	return gate;
}

static bool steer_has(struct resteer *r, const char *stage, unsigned piece)
{
	char key[256];
	snprintf(key, sizeof key, "%s %u", stage, piece);
	for (size_t i = 0; i < r->n_steers; i++)
		if (strcmp(r->steers[i], key) == 0)
			return true;
	r->steers = e2_xrealloc(r->steers, (r->n_steers + 1) * sizeof *r->steers);
	r->steers[r->n_steers++] = e2_xstrdup(key);
	return false;
}

/* Piece `x` from its owner to `to`: `to` accepts the range on every input it arrives
 * at, then every stage that distributes to x's node sends the range to `to`. */
static int move_piece(struct resteer *r, unsigned x, unsigned to, struct e2_err *err)
{
	const struct e2_igraph *ig = r->ig;
	const struct e2_inst *px = &ig->insts[x], *dst = &ig->insts[to];
	const struct e2_nf *nf = ig->pg->nodes[dst->pnode].nf;
	for (unsigned e = 0; e < ig->edges_count; e++) {
		const struct e2_iedge *ed = &ig->edges[e];
		if (ed->to != x)
			continue;
		unsigned cp = ig->pg->edges[ed->pedge].to_cp;
		char stage[192];
		snprintf(stage, sizeof stage, "%s.%s.steer.rs", dst->name, nf->cps[cp].name);
		if (to != x && !steer_has(r, stage, x))
			cmd(r, dst->server, "module cmd %s add range=%u-%u gate=0", stage, px->range_lo, px->range_hi);
	}
	for (unsigned e = 0; e < ig->edges_count; e++) {
		const struct e2_iedge *ed = &ig->edges[e];
		if (ed->to != x)
			continue;
		unsigned fan;
		int g = gate_of(ig, ed->from, ed->pedge, to, &fan);
		if (fan < 2) {
			e2_seterr(err, "re-steer: '%s' is the only instance behind '%s'", px->name,
				  ig->insts[ed->from].name);
			return -1;
		}
		if (!is_nf(ig, ed->from)) {
			/* the fabric switch splits this port's traffic by hash range: e2d cannot */
			e2_seterr(err,
				  "re-steer: the switch distributes port '%s' to '%s': only the fabric could move it",
				  ig->pg->nodes[ig->insts[ed->from].pnode].port, px->name);
			return -1;
		}
		if (g < 0) {
			e2_seterr(err, "re-steer: '%s' reaches '%s' but not '%s'", ig->insts[ed->from].name, px->name,
				  dst->name);
			return -1;
		}
		const struct e2_nf *src = ig->pg->nodes[ig->insts[ed->from].pnode].nf;
		for (unsigned c = 0; c < src->cps_count && c < 32; c++) {
			if (src->cps[c].role != E2_CP_OUTPUT || !(ig->pg->edges[ed->pedge].from_cps & (1u << c)))
				continue;
			char prefix[160];
			e2_edge_stage_name(ig, e, c, prefix, sizeof prefix);
			cmd(r, ig->insts[ed->from].server, "module cmd %s.split move range=%u-%u gate=%d", prefix,
			    px->range_lo, px->range_hi, g);
		}
	}
	r->owner[x] = (int)to;
	return 0;
}

/* Every stage that distributes to w stops remembering w's flows. */
static void forget(struct resteer *r, unsigned w)
{
	const struct e2_igraph *ig = r->ig;
	for (unsigned e = 0; e < ig->edges_count; e++) {
		const struct e2_iedge *ed = &ig->edges[e];
		unsigned fan;
		if (ed->to != w || !is_nf(ig, ed->from))
			continue;
		int g = gate_of(ig, ed->from, ed->pedge, w, &fan);
		const struct e2_nf *src = ig->pg->nodes[ig->insts[ed->from].pnode].nf;
		for (unsigned c = 0; fan > 1 && c < src->cps_count && c < 32; c++) {
			if (src->cps[c].role != E2_CP_OUTPUT || !(ig->pg->edges[ed->pedge].from_cps & (1u << c)))
				continue;
			char prefix[160];
			e2_edge_stage_name(ig, e, c, prefix, sizeof prefix);
			cmd(r, ig->insts[ed->from].server, "module cmd %s.split forget gate=%d", prefix, g);
		}
	}
}

/* The running sibling of x holding fewest pieces (lowest index on a tie), or -1. */
static int least_loaded(const struct resteer *r, unsigned x)
{
	const struct e2_igraph *ig = r->ig;
	int best = -1;
	unsigned best_n = 0;
	for (unsigned s = 0; s < ig->insts_count; s++) {
		if (ig->insts[s].pnode != ig->insts[x].pnode || r->down[s])
			continue;
		unsigned n = 0;
		for (unsigned q = 0; q < ig->insts_count; q++)
			n += r->owner[q] == (int)s;
		if (best < 0 || n < best_n) {
			best = (int)s;
			best_n = n;
		}
	}
	return best;
}

/* Pieces held by withdrawn instances go to running siblings, where there are any. */
static int rehome(struct resteer *r, struct e2_err *err)
{
	for (unsigned x = 0; x < r->ig->insts_count; x++) {
		if (r->owner[x] < 0 || !r->down[r->owner[x]])
			continue;
		int to = least_loaded(r, x);
		if (to >= 0 && move_piece(r, x, (unsigned)to, err) < 0)
			return -1;
	}
	return 0;
}

int e2_resteer(struct e2_plan *p, const struct e2_resteer_event *ev, size_t n, struct e2_err *err)
{
	if (!p->has_ic) {
		e2_seterr(err, "re-steer: the plan has no interconnection");
		return -1;
	}
	const struct e2_igraph *ig = p->ig;
	struct resteer r = {.p = p, .ig = ig};
	r.owner = e2_xcalloc(ig->insts_count + 1, sizeof *r.owner);
	r.down = e2_xcalloc(ig->insts_count + 1, sizeof *r.down);
	r.told = e2_xcalloc(p->ic.servers + 1, sizeof *r.told);
	for (unsigned x = 0; x < ig->insts_count; x++)
		r.owner[x] = is_nf(ig, x) ? (int)x : -1;
	int rc = 0;
	for (size_t i = 0; i < n && rc == 0; i++) {
		int w = e2_igraph_find(ig, ev[i].inst);
		if (w < 0 || !is_nf(ig, (unsigned)w)) {
			e2_seterr(err, "re-steer: no NF instance '%s' in the plan", ev[i].inst);
			rc = -1;
			break;
		}
		bool withdraw = ev[i].op == E2_RESTEER_WITHDRAW;
		if (r.down[w] == withdraw) {
			e2_seterr(err, "re-steer: '%s' is %s", ev[i].inst,
				  withdraw ? "withdrawn already" : "not withdrawn");
			rc = -1;
			break;
		}
		char what[160];
		snprintf(what, sizeof what, "%s %s", withdraw ? "withdraw" : "restore", ev[i].inst);
		r.event = what;
		memset(r.told, 0, p->ic.servers * sizeof *r.told);
		r.down[w] = withdraw;
		if (withdraw) {
			rc = rehome(&r, err);
			if (rc == 0 && r.owner[w] == w)
				/* nothing to move the range to: it stays, and the stage's counters
				 * show the packets the stopped instance's port cannot take */
				e2_lines_add(
					&p->ic.e2d[ig->insts[w].server],
					"# re-steer: %s: no running instance of '%s' is left: its flows are dropped",
					what, ig->pg->nodes[ig->insts[w].pnode].name);
			if (rc == 0)
				forget(&r, (unsigned)w);
		} else {
			if (r.owner[w] != w)
				rc = move_piece(&r, (unsigned)w, (unsigned)w, err);
			if (rc == 0)
				rc = rehome(&r, err);
		}
	}
	for (size_t i = 0; i < r.n_steers; i++)
		free(r.steers[i]);
	free(r.steers);
	free(r.owner);
	free(r.down);
	free(r.told);
	return rc;
}
