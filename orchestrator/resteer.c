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

enum inst_state {
	ACTIVE,   /* takes its own piece (and perhaps others') */
	DOWN,     /* withdrawn: stopped by the operator */
	DRAINING, /* scaling in: no new flows, its flows stay until idle */
	LAUNCHED, /* scaling out: booting; its range is still inside its parent's */
	REMOVED,  /* scaled in: drained and gone */
};

/* What re-steering knows of one instance (room for the ones the events launch). */
struct inst_view {
	int owner;                 /* who serves its piece now; -1: no piece (ports, launched) */
	enum inst_state state;     /* see above */
	uint32_t lo, hi;           /* its piece as e2d's stages hold it */
	bool at_steer;             /* split at its parent's steering stage: stages upstream do not
				  know its piece, so it does not move (until phase 2 exists) */
	uint32_t made_lo, made_hi; /* the range its steering stage was made with */
	/* splits at an instance's own steering stages (its inputs no e2d stage distributes) */
	unsigned steer_next; /* the next gate free there (0 is the instance itself) */
	uint32_t steer_cut;  /* a point its ranges there are cut at already (a drained child's
				range came back as a range of its own); 0: none */
	unsigned steer_gate; /* a child split there: its gate at its parent's stages */
	uint32_t steer_cps;  /* a child split there: the parent's inputs it was split at */
	int parent;          /* a launched instance: who it was split off; -1: none */
};

struct resteer {
	struct e2_plan *p;
	const struct e2_igraph *ig;
	struct inst_view *in; /* per instance */
	char **steers;        /* "<stage> <lo> <hi>": ranges added to steering stages by us */
	size_t n_steers;
	int launched;      /* the instance the last launch made, or -1 */
	const char *event; /* what the lines being added carry out, said once per server */
	bool *told;        /* per server: the event's comment is there */
};

/* The comment naming the event, once per server, before its first line there. */
static void tell(struct resteer *r, int s)
{
	if (!r->told[s]) {
		e2_lines_add(&r->p->ic.e2d[s], "# re-steer: %s", r->event);
		r->told[s] = true;
	}
}

/* An e2d command for server s, after the event's comment. */
static void __attribute__((format(printf, 3, 4))) cmd(struct resteer *r, int s, const char *fmt, ...)
{
	char line[512];
	va_list ap;
	va_start(ap, fmt);
	vsnprintf(line, sizeof line, fmt, ap);
	va_end(ap);
	tell(r, s);
	e2_lines_cmd(&r->p->ic.e2d[s], "%s", line);
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

/* Whether instance `to`'s steering stage `stage` takes [lo, hi) already (the range it
 * was made with covers it, or we added it); if not, it is noted as added (the caller
 * adds it). */
/* The output ports of an NF edge's source that carry it: each has a stage distributing
 * the edge's PGraph edge (e2_edge_stage_name). */
static uint32_t stage_cps(const struct e2_igraph *ig, const struct e2_iedge *ed)
{
	const struct e2_nf *src = ig->pg->nodes[ig->insts[ed->from].pnode].nf;
	uint32_t cps = 0;
	for (unsigned c = 0; src && c < src->cps_count && c < 32; c++)
		if (src->cps[c].role == E2_CP_OUTPUT && (ig->pg->edges[ed->pedge].from_cps & (1u << c)))
			cps |= 1u << c;
	return cps;
}

static bool steer_has(struct resteer *r, unsigned to, const char *stage, uint32_t lo, uint32_t hi)
{
	if (r->in[to].made_lo <= lo && hi <= r->in[to].made_hi)
		return true;
	char key[256];
	snprintf(key, sizeof key, "%s %u %u", stage, lo, hi);
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
	if (r->in[x].at_steer || r->in[to].at_steer) {
		e2_seterr(err, "re-steer: '%s' was split at a steering stage: its range cannot move yet",
			  r->in[x].at_steer ? px->name : dst->name);
		return -1;
	}
	for (unsigned e = 0; e < ig->edges_count; e++) {
		const struct e2_iedge *ed = &ig->edges[e];
		if (ed->to != x)
			continue;
		unsigned cp = ig->pg->edges[ed->pedge].to_cp;
		char stage[192];
		snprintf(stage, sizeof stage, "%s.%s.steer.rs", dst->name, nf->cps[cp].name);
		if (!steer_has(r, to, stage, r->in[x].lo, r->in[x].hi))
			cmd(r, dst->server, "module cmd %s add range=%u-%u gate=0", stage, r->in[x].lo, r->in[x].hi);
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
		if (r->in[ed->from].state == LAUNCHED)
			continue; /* its lines come with its split */
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
		uint32_t cps = stage_cps(ig, ed);
		for (unsigned c = 0; c < 32; c++) {
			if (!(cps & (1u << c)))
				continue;
			char prefix[160];
			e2_edge_stage_name(ig, e, c, prefix, sizeof prefix);
			cmd(r, ig->insts[ed->from].server, "module cmd %s.split move range=%u-%u gate=%d", prefix,
			    r->in[x].lo, r->in[x].hi, g);
		}
	}
	r->in[x].owner = (int)to;
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
		uint32_t cps = fan > 1 ? stage_cps(ig, ed) : 0;
		for (unsigned c = 0; c < 32; c++) {
			if (!(cps & (1u << c)))
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
		if (ig->insts[s].pnode != ig->insts[x].pnode || r->in[s].state != ACTIVE || r->in[s].at_steer)
			continue;
		unsigned n = 0;
		for (unsigned q = 0; q < ig->insts_count; q++)
			n += r->in[q].owner == (int)s;
		if (best < 0 || n < best_n) {
			best = (int)s;
			best_n = n;
		}
	}
	return best;
}

/* Pieces held by withdrawn or draining instances go to running siblings, where there
 * are any. */
static int rehome(struct resteer *r, struct e2_err *err)
{
	for (unsigned x = 0; x < r->ig->insts_count; x++) {
		if (r->in[x].owner < 0 || r->in[r->in[x].owner].state == ACTIVE)
			continue;
		int to = least_loaded(r, x);
		if (to >= 0 && move_piece(r, x, (unsigned)to, err) < 0)
			return -1;
	}
	return 0;
}

/* Scale-out, first half: a new instance split off w's range (placed without moving any
 * other), its VM in the spec and its lines (ports, steering stage, outputs) appended;
 * no flow reaches it yet. */
static int launch(struct resteer *r, unsigned w, struct e2_err *err)
{
	struct e2_plan *p = r->p;
	int k = e2_igraph_split(p->ig, w, err);
	if (k < 0)
		return -1;
	if (e2_place_incremental(p->ig, &p->rack, (unsigned)k, err) < 0) {
		e2_err_context(err, "scale-out of '%s'", p->ig->insts[w].name);
		return -1;
	}
	const struct e2_inst *n = &p->ig->insts[k];
	r->in[k].owner = -1;
	r->in[k].state = LAUNCHED;
	r->in[k].at_steer = false;
	r->launched = k;
	r->in[k].lo = r->in[k].made_lo = n->range_lo;
	r->in[k].hi = r->in[k].made_hi = n->range_hi;
	r->in[k].steer_next = 1;
	r->in[k].parent = -1;
	e2_lines_add(&p->ic.e2d[n->server], "# re-steer: %s: %s on %s", r->event, n->name,
		     p->hw->servers[n->server].name);
	r->told[n->server] = true;
	e2_interconnect_add(&p->ic, p->ig, p->hw, (unsigned)k);
	return 0;
}

/* Scale-out, second half: new flows of the launched instance's half of its parent's
 * range go to it, at every stage that distributes to the parent (a `split`: the flows
 * the stage tracks stay where they are, seed §3.5's migration avoidance); where no stage
 * distributes (one instance behind, or a port the switch feeds), at the parent's own
 * steering stage. */
static int activate(struct resteer *r, unsigned k, struct e2_err *err)
{
	struct e2_plan *p = r->p;
	const struct e2_igraph *ig = p->ig;
	int par = -1;
	for (unsigned x = 0; x < ig->insts_count && par < 0; x++)
		if (x != k && ig->insts[x].pnode == ig->insts[k].pnode && r->in[x].owner == (int)x &&
		    r->in[x].lo < r->in[k].lo && r->in[x].hi == r->in[k].hi)
			par = (int)x;
	if (par < 0) {
		e2_seterr(err, "re-steer: the instance '%s' was split from is not running with its range",
			  ig->insts[k].name);
		return -1;
	}
	const struct e2_inst *a = &ig->insts[par];
	uint32_t lo = r->in[par].lo, mid = r->in[k].lo, hi = r->in[par].hi;
	const struct e2_nf *nf = ig->pg->nodes[a->pnode].nf;
	uint32_t steer_cps = 0; /* the parent's inputs that split at its steering stage */
	for (unsigned e = 0; e < ig->edges_count; e++) {
		const struct e2_iedge *ed = &ig->edges[e];
		if (ed->to != (unsigned)par)
			continue;
		unsigned fan, to_cp = ig->pg->edges[ed->pedge].to_cp;
		int g = gate_of(ig, ed->from, ed->pedge, k, &fan);
		if (!is_nf(ig, ed->from) || fan < 3 || g < 0 || r->in[ed->from].state == LAUNCHED) {
			steer_cps |= 1u << to_cp;
			continue;
		}
		const struct e2_inst *u = &ig->insts[ed->from];
		uint32_t cps = stage_cps(ig, ed);
		for (unsigned c = 0; c < 32; c++) {
			if (!(cps & (1u << c)))
				continue;
			char prefix[160], target[160];
			e2_edge_stage_name(ig, e, c, prefix, sizeof prefix);
			tell(r, u->server);
			e2_interconnect_target(&p->ic, ig, p->hw, u->server, k, to_cp, target, sizeof target);
			/* the new gate is wired before any range sends to it */
			cmd(r, u->server, "connect %s.split:%d %s", prefix, g, target);
			cmd(r, u->server, "module cmd %s.split split range=%u-%u at=%u new_gate=%d", prefix, lo, hi,
			    mid, g);
		}
	}
	unsigned gate = r->in[par].steer_next;
	for (unsigned cp = 0; cp < nf->cps_count && cp < 32; cp++) {
		if (!(steer_cps & (1u << cp)))
			continue;
		char target[160];
		tell(r, a->server);
		e2_interconnect_target(&p->ic, ig, p->hw, a->server, k, cp, target, sizeof target);
		cmd(r, a->server, "connect %s.%s.steer.rs:%u %s", a->name, nf->cps[cp].name, gate, target);
		if (r->in[par].steer_cut == mid)
			/* an earlier child's range came back as a range of its own: it moves
			 * (the flows the stage tracks stay, as with a split) */
			cmd(r, a->server, "module cmd %s.%s.steer.rs move range=%u-%u gate=%u", a->name,
			    nf->cps[cp].name, mid, hi, gate);
		else
			cmd(r, a->server, "module cmd %s.%s.steer.rs split range=%u-%u at=%u new_gate=%u", a->name,
			    nf->cps[cp].name, lo, hi, mid, gate);
		r->in[par].at_steer = r->in[k].at_steer = true;
	}
	if (steer_cps) {
		r->in[par].steer_next = gate + 1;
		r->in[k].steer_gate = gate;
		r->in[k].steer_cps = steer_cps;
	}
	r->in[k].parent = par;
	r->in[par].hi = mid;
	r->in[k].owner = (int)k;
	r->in[k].state = ACTIVE;
	return 0;
}

/* Scale-in of an instance split at its parent's steering stages: its range goes back to
 * the parent there (a `move`: the flows the stage tracks stay with it until idle) and
 * becomes the parent's again. */
static int drain_to_parent(struct resteer *r, unsigned k, struct e2_err *err)
{
	struct e2_plan *p = r->p;
	int par = r->in[k].parent;
	if (par < 0 || r->in[par].state != ACTIVE || r->in[par].hi != r->in[k].lo) {
		e2_seterr(err, "re-steer: cannot drain '%s' into '%s', which it was split off: that one is %s",
			  p->ig->insts[k].name, par < 0 ? "(none)" : p->ig->insts[par].name,
			  par < 0 ? "unknown" : "not running next to its range");
		return -1;
	}
	const struct e2_inst *a = &p->ig->insts[par];
	const struct e2_nf *nf = p->ig->pg->nodes[a->pnode].nf;
	for (unsigned cp = 0; cp < nf->cps_count && cp < 32; cp++)
		if (r->in[k].steer_cps & (1u << cp))
			cmd(r, a->server, "module cmd %s.%s.steer.rs move range=%u-%u gate=0", a->name,
			    nf->cps[cp].name, r->in[k].lo, r->in[k].hi);
	r->in[par].steer_cut = r->in[k].lo;
	r->in[par].hi = r->in[k].hi;
	p->ig->insts[par].range_hi = r->in[k].hi; /* a later launch splits the whole range again */
	r->in[k].owner = par;
	return 0;
}

/* Scale-in, done: the drained instance's flows that are left are forgotten (they follow
 * the ranges), its VM goes and its cores are free. */
static void remove_inst(struct resteer *r, unsigned k)
{
	struct e2_plan *p = r->p;
	const struct e2_igraph *ig = p->ig;
	int par = r->in[k].parent;
	if (r->in[k].steer_cps && par >= 0) {
		const struct e2_inst *a = &ig->insts[par];
		const struct e2_nf *nf = ig->pg->nodes[a->pnode].nf;
		for (unsigned cp = 0; cp < nf->cps_count && cp < 32; cp++)
			if (r->in[k].steer_cps & (1u << cp))
				cmd(r, a->server, "module cmd %s.%s.steer.rs forget gate=%u", a->name, nf->cps[cp].name,
				    r->in[k].steer_gate);
		/* the parent's range is whole again where no other child of it is active */
		bool children = false;
		for (unsigned x = 0; x < ig->insts_count; x++)
			children |= x != k && r->in[x].parent == par && r->in[x].steer_cps && r->in[x].state != REMOVED;
		r->in[par].at_steer = children;
	} else {
		forget(r, k);
	}
	r->in[k].state = REMOVED;
	p->ig->insts[k].removed = true;
	e2_lines_add(&p->ic.e2d[ig->insts[k].server], "# re-steer: %s: its ports stay, unused", r->event);
}

static const char *const op_names[] = {"withdraw", "restore", "drain", "launch", "activate", "remove"};

const char *e2_resteer_op_name(enum e2_resteer_op op)
{
	return (unsigned)op < sizeof op_names / sizeof op_names[0] ? op_names[op] : "?";
}

int e2_resteer_op_parse(const char *word, enum e2_resteer_op *op)
{
	for (unsigned i = 0; i < sizeof op_names / sizeof op_names[0]; i++)
		if (strcmp(word, op_names[i]) == 0) {
			*op = (enum e2_resteer_op)i;
			return 0;
		}
	return -1;
}

/* One event, its checks first: an event that does not fit the instance's state is refused. */
static int apply_event(struct resteer *r, const struct e2_resteer_event *ev, struct e2_err *err)
{
	const struct e2_igraph *ig = r->p->ig;
	/* no name: the instance the last launch made */
	int w = ev->inst ? e2_igraph_find(ig, ev->inst) : r->launched;
	if (w < 0 || !is_nf(ig, (unsigned)w)) {
		e2_seterr(err, "re-steer: no NF instance '%s' in the plan", ev->inst ? ev->inst : "(launched)");
		return -1;
	}
	static const enum inst_state needs[] = {
		[E2_RESTEER_WITHDRAW] = ACTIVE, [E2_RESTEER_RESTORE] = DOWN,      [E2_RESTEER_DRAIN] = ACTIVE,
		[E2_RESTEER_LAUNCH] = ACTIVE,   [E2_RESTEER_ACTIVATE] = LAUNCHED, [E2_RESTEER_REMOVE] = DRAINING,
	};
	static const char *const state_words[] = {"running", "withdrawn", "draining", "launched and not active",
						  "removed"};
	enum inst_state st = r->in[w].state;
	/* a draining instance may still be stopped by its operator */
	bool fits = st == needs[ev->op] || (ev->op == E2_RESTEER_WITHDRAW && st == DRAINING);
	if (!fits) {
		e2_seterr(err, "re-steer: cannot %s '%s': it is %s", e2_resteer_op_name(ev->op), ig->insts[w].name,
			  state_words[st]);
		return -1;
	}
	switch (ev->op) {
	case E2_RESTEER_WITHDRAW:
		r->in[w].state = DOWN;
		if (rehome(r, err) < 0)
			return -1;
		if (r->in[w].owner == w)
			/* nothing to move the range to: it stays, and the stage's counters show
			 * the packets the stopped instance's port cannot take */
			e2_lines_add(&r->p->ic.e2d[ig->insts[w].server],
				     "# re-steer: %s: no running instance of '%s' is left: its flows are dropped",
				     r->event, ig->pg->nodes[ig->insts[w].pnode].name);
		forget(r, (unsigned)w);
		return 0;
	case E2_RESTEER_RESTORE:
		r->in[w].state = ACTIVE;
		if (r->in[w].owner != w && move_piece(r, (unsigned)w, (unsigned)w, err) < 0)
			return -1;
		return rehome(r, err);
	case E2_RESTEER_DRAIN:
		/* its flows stay pinned where they are (no forget): they drain as they end */
		if (r->in[w].steer_cps && drain_to_parent(r, (unsigned)w, err) < 0)
			return -1;
		r->in[w].state = DRAINING;
		return rehome(r, err);
	case E2_RESTEER_REMOVE: remove_inst(r, (unsigned)w); return 0;
	case E2_RESTEER_LAUNCH:
		if (launch(r, (unsigned)w, err) < 0)
			return -1;
		if (ev->made && strcmp(ev->made, r->p->ig->insts[r->launched].name) != 0) {
			e2_seterr(err, "re-steer: the launch of '%s' made '%s', where the log says '%s'",
				  ig->insts[w].name, r->p->ig->insts[r->launched].name, ev->made);
			return -1;
		}
		return 0;
	case E2_RESTEER_ACTIVATE: return activate(r, (unsigned)w, err);
	}
	return 0;
}

int e2_resteer(struct e2_plan *p, const struct e2_resteer_event *ev, size_t n, struct e2_err *err)
{
	if (!p->has_ic) {
		e2_seterr(err, "re-steer: the plan has no interconnection");
		return -1;
	}
	size_t room = p->ig->insts_count + 1;
	for (size_t i = 0; i < n; i++)
		room += ev[i].op == E2_RESTEER_LAUNCH;
	struct resteer r = {.p = p, .ig = p->ig, .launched = -1};
	r.in = e2_xcalloc(room, sizeof *r.in);
	r.told = e2_xcalloc(p->ic.servers + 1, sizeof *r.told);
	for (unsigned x = 0; x < p->ig->insts_count; x++) {
		r.in[x].owner = is_nf(p->ig, x) ? (int)x : -1;
		r.in[x].lo = r.in[x].made_lo = p->ig->insts[x].range_lo;
		r.in[x].hi = r.in[x].made_hi = p->ig->insts[x].range_hi;
		r.in[x].steer_next = 1;
		r.in[x].parent = -1;
	}
	int rc = 0;
	for (size_t i = 0; i < n && rc == 0; i++) {
		char what[160];
		snprintf(what, sizeof what, "%s %s", e2_resteer_op_name(ev[i].op),
			 ev[i].inst        ? ev[i].inst
			 : r.launched >= 0 ? p->ig->insts[r.launched].name
					   : "(launched)");
		r.event = what;
		memset(r.told, 0, p->ic.servers * sizeof *r.told);
		r.ig = p->ig; /* a launch grows it */
		rc = apply_event(&r, &ev[i], err);
	}
	for (size_t i = 0; i < r.n_steers; i++)
		free(r.steers[i]);
	free(r.steers);
	free(r.in);
	free(r.told);
	return rc;
}
