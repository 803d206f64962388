/* SPDX-License-Identifier: BSD-3-Clause */
/* e2-controller: owns E2's desired state (policies, NF and hardware descriptions, the
 * plan: instances, servers, e2d lines, fabric rules) and the observed state agents
 * report, both in SQLite (ctl_store.h), and brings the rack to the desired state.
 *
 * Two threads. The control thread answers e2ctl (REP on an ipc:// socket, mode 0600)
 * and does the planning, which can take seconds, so the agent thread never waits on
 * it. The agent thread follows every agent's events (one SUB socket connected to all),
 * marks agents alive by their heartbeats, and pushes each server's ServerSpec to its
 * agent (REQ) while the agent reports an older generation or runs instances it should
 * not. Agents reconcile idempotently (same generation: nothing happens), so a restart
 * of either side re-sends at most, and never duplicates. A mutex guards the shared
 * model and the store; nothing slow runs under it. */
#include <errno.h>
#include <inttypes.h>
#include <poll.h>
#include <stdarg.h>
#include <pthread.h>
#include <signal.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "ctl_store.h"
#include "e2/chan.h"
#include "e2/ctlnames.h"
#include "e2/fabric.h"
#include "e2/file.h"
#include "e2/log.h"
#include "e2/mem.h"
#include "e2/opts.h"
#include "e2/orch.h"
#include "e2ctl.pb-c.h"

E2_LOG_MODULE(controller);

#define ALIVE_NS (3ull * 1000000000ull)      /* a heartbeat within this: the agent is alive */
#define PUSH_RETRY_NS (2ull * 1000000000ull) /* after a failed push */
#define AGENT_CALL_MS 3000
#define TICK_MS 200

struct server {
	const char *name; /* the hardware description's */
	struct e2_chan *req;
	void *spec; /* desired ServerSpec, encoded */
	size_t spec_len;
	uint64_t gen_desired, gen_applied;
	uint64_t last_seen_ns, agent_boot, next_push_ns;
	bool seen, e2d_running, push_failing, extra_instances;
	uint32_t e2d_restarts;
};

struct instance {
	char name[64], server[48], nf[64], detail[256];
	uint32_t lo, hi;
	int state;
	uint64_t since_ns;
	double load;     /* the highest of its ports' (below); -1: not known */
	double sent_pps; /* what e2d sends it (its input ports' LOAD events); -1: not known */
	struct {
		char port[32]; /* "in", "out": e2d's port "<instance>.<port>" */
		double occupancy;
	} ports[4];
	bool stopped; /* by the operator: kept stopped in the specs */
};

struct controller {
	pthread_mutex_t mu;
	/* one re-plan at a time: e2ctl's requests and re-steering (the control thread) and
	 * scaling (the main thread, at once after its decision) */
	pthread_mutex_t plan_mu;
	struct ctl_store *store;
	struct e2_chan_key key;
	bool have_key;
	struct e2_hardware *hw;
	struct e2_nf_catalog *nfs;
	struct e2_fabric *fabric;
	struct server *servers;
	unsigned n_servers;
	struct instance *insts;
	unsigned n_insts;
	char **pipelines;
	unsigned n_pipelines;
	uint64_t generation;
	char *dot;
	/* the operator's stops and starts since the plan's base lines, one event a line
	 * ("withdraw mon.1", "restore mon.1"): what e2_resteer appends to the base */
	char *resteer;
	/* the control thread re-plans: RESTEER_CHECK when an instance came up (perhaps no
	 * change), RESTEER_COMMIT when the stopped set changed (the specs must say so) */
	unsigned resteer_wanted;
	/* scaling events decided and not yet planned ("launch fw.0", "activate fw.1", ...):
	 * the control thread re-plans with the log and these, and commits */
	char *scale_pending;
	/* per NF: its loads' recent past and what was last said of it (scaling decisions) */
	struct nf_watch {
		char nf[64];
		struct e2_autoscale st;
		char said[256];
		uint64_t decided_ns; /* the last scale-out decision */
		/* the launch being planned: one to activate as soon as it runs (cold), or a
		 * spare of the warm pool (kept idle until a scale-out takes it) */
		enum { LAUNCH_NONE, LAUNCH_COLD, LAUNCH_SPARE } launching;
		char cold[64];           /* the cold launch waiting to run, once known */
		uint64_t spare_retry_ns; /* a spare that could not be placed: not before */
		struct drain_watch {
			char name[64];
			uint64_t since_ns, idle_since_ns; /* its drain began; its load was 0 from */
		} drains[E2_NF_INSTANCES_MAX];            /* the instances draining */
		unsigned n_drains;
	} * watch;
	unsigned n_watch;
	struct e2_chan *ctl, *pub, *sub;
	const char *events_url;
};

enum { RESTEER_CHECK = 1, RESTEER_COMMIT = 2 };

static volatile sig_atomic_t stopping;

static void on_signal(int sig)
{
	(void)sig;
	stopping = 1;
}

static uint64_t now_ns(void)
{
	struct timespec ts;
	clock_gettime(CLOCK_REALTIME, &ts);
	return (uint64_t)ts.tv_sec * 1000000000ull + (uint64_t)ts.tv_nsec;
}

/* ---------------------------------------------------------------- events for e2ctl */

static void publish(struct controller *c, const char *server, const char *instance, const char *fmt, ...)
	__attribute__((format(printf, 4, 5)));
static void publish(struct controller *c, const char *server, const char *instance, const char *fmt, ...)
{
	char what[512];
	va_list ap;
	va_start(ap, fmt);
	vsnprintf(what, sizeof what, fmt, ap);
	va_end(ap);
	E2_INFO("%s", what);
	E2__Ctl__CtlEvent ev = E2__CTL__CTL_EVENT__INIT;
	ev.version = E2__CTL__VERSION__VERSION_CURRENT;
	ev.time_ns = now_ns();
	ev.server = (char *)(server ? server : "");
	ev.instance = (char *)(instance ? instance : "");
	ev.what = what;
	size_t len = e2__ctl__ctl_event__get_packed_size(&ev);
	uint8_t *buf = e2_xmalloc(len + 1);
	e2__ctl__ctl_event__pack(&ev, buf);
	struct e2_err err = {""};
	if (e2_chan_send(c->pub, buf, len, 0, &err) < 0)
		E2_DBG("event not published: %s", err.msg);
	free(buf);
}

/* ---------------------------------------------------------------- the model */

static struct server *server_by_name(struct controller *c, const char *name)
{
	for (unsigned i = 0; i < c->n_servers; i++)
		if (strcmp(c->servers[i].name, name) == 0)
			return &c->servers[i];
	return NULL;
}

static struct instance *inst_by_name(struct controller *c, const char *name)
{
	for (unsigned i = 0; i < c->n_insts; i++)
		if (strcmp(c->insts[i].name, name) == 0)
			return &c->insts[i];
	return NULL;
}

static void save_instance(struct controller *c, const struct instance *in)
{
	struct ctl_store_instance r = {
		.name = in->name,
		.server = in->server,
		.nf = in->nf,
		.detail = in->detail,
		.flow_lo = in->lo,
		.flow_hi = in->hi,
		.state = in->state,
		.since_ns = in->since_ns,
		.stopped_by_operator = in->stopped,
	};
	struct e2_err err = {""};
	if (ctl_store_put_instance(c->store, &r, &err) < 0)
		E2_ERR("%s", err.msg);
}

/* An agent's word on one instance (under the lock). */
static void observe(struct controller *c, const char *server, const E2__Ctl__InstanceStatus *st)
{
	struct instance *in = inst_by_name(c, st->name);
	if (!in) {
		/* the agent runs something we do not want: the next push removes it */
		struct server *s = server_by_name(c, server);
		if (s && st->state != E2__CTL__INSTANCE_STATE__INSTANCE_REMOVED)
			s->extra_instances = true;
		return;
	}
	if (strcmp(in->server, server) != 0)
		return; /* a leftover on the server it used to live on */
	/* (the load comes from e2d's events, not from the agent's report) */
	bool stopped = st->state == E2__CTL__INSTANCE_STATE__INSTANCE_STOPPED;
	if ((int)st->state == in->state && stopped == in->stopped)
		return;
	uint64_t was = in->since_ns;
	int from = in->state;
	in->state = (int)st->state;
	in->since_ns = st->since_ns ? st->since_ns : now_ns();
	snprintf(in->detail, sizeof in->detail, "%s", st->detail ? st->detail : "");
	if (stopped != in->stopped || in->state == E2__CTL__INSTANCE_STATE__INSTANCE_RUNNING) {
		/* the operator stopped it (virsh shutdown) or started it again (virsh start):
		 * from now on the specs say so, so no later apply undoes it, and its flows go
		 * to its siblings until it runs again (the control thread re-plans) */
		c->resteer_wanted |= stopped != in->stopped ? RESTEER_COMMIT : RESTEER_CHECK;
		in->stopped = stopped;
	}
	save_instance(c, in);
	double took = was && in->since_ns > was ? (double)(in->since_ns - was) / 1e9 : 0;
	publish(c, server, in->name, "%s on %s: %s -> %s after %.1f s%s%s", in->name, server,
		e2_instance_state_name(from), e2_instance_state_name(in->state), took, in->detail[0] ? ": " : "",
		in->detail);
}

static void observe_report(struct controller *c, struct server *s, const E2__Ctl__AgentReport *r)
{
	if (s->seen && r->boot != s->agent_boot)
		publish(c, s->name, NULL, "agent of %s restarted", s->name);
	if (s->seen && r->e2d_restarts > s->e2d_restarts)
		publish(c, s->name, NULL, "e2d on %s restarted (%" PRIu32 " restarts)", s->name, r->e2d_restarts);
	if (!s->seen || now_ns() - s->last_seen_ns > ALIVE_NS)
		publish(c, s->name, NULL, "agent of %s is alive", s->name);
	s->seen = true;
	s->agent_boot = r->boot;
	s->last_seen_ns = now_ns();
	s->e2d_running = r->e2d_running;
	s->e2d_restarts = r->e2d_restarts;
	s->gen_applied = r->generation;
	s->extra_instances = false;
	for (size_t i = 0; i < r->n_instances; i++)
		observe(c, s->name, r->instances[i]);
}

/* ---------------------------------------------------------------- planning */

struct doc {
	int64_t id;
	char *name, *yaml;
	struct e2_policy *pol;
};

struct docs {
	struct doc *v;
	unsigned n;
	char **deleted;
	unsigned n_deleted;
};

static int collect_doc(void *o, int64_t id, const char *name, const char *yaml)
{
	struct docs *d = o;
	d->v = e2_xrealloc(d->v, (d->n + 1) * sizeof *d->v);
	d->v[d->n++] = (struct doc){id, e2_xstrdup(name), e2_xstrdup(yaml), NULL};
	return 0;
}

static int collect_deleted(void *o, const char *name)
{
	struct docs *d = o;
	d->deleted = e2_xrealloc(d->deleted, (d->n_deleted + 1) * sizeof *d->deleted);
	d->deleted[d->n_deleted++] = e2_xstrdup(name);
	return 0;
}

static void docs_free(struct docs *d)
{
	for (unsigned i = 0; i < d->n; i++) {
		free(d->v[i].name);
		free(d->v[i].yaml);
		e2_policy_free(d->v[i].pol);
	}
	for (unsigned i = 0; i < d->n_deleted; i++)
		free(d->deleted[i]);
	free(d->v);
	free(d->deleted);
}

static bool is_deleted(const struct docs *d, const char *name)
{
	for (unsigned i = 0; i < d->n_deleted; i++)
		if (d->deleted[i] && strcmp(d->deleted[i], name) == 0)
			return true;
	return false;
}

/* The desired policy: every document's pipelines, a later document's replacing an
 * earlier one's of the same name, the deleted ones left out. The pipelines are shallow
 * copies: *out's array is the only thing to free. `used[i]` tells whether document i
 * still gives a pipeline. */
static int compose(struct docs *d, struct e2_policy *out, bool *used, struct e2_err *err)
{
	out->pipelines = NULL;
	out->pipelines_count = 0;
	for (unsigned i = 0; i < d->n; i++) {
		if (!d->v[i].pol) {
			d->v[i].pol = e2_policy_load(d->v[i].yaml, strlen(d->v[i].yaml), d->v[i].name, err);
			if (!d->v[i].pol)
				return -1;
		}
		used[i] = false;
	}
	for (unsigned i = 0; i < d->n; i++)
		for (unsigned p = 0; p < d->v[i].pol->pipelines_count; p++) {
			const struct e2_pipeline *pl = &d->v[i].pol->pipelines[p];
			bool later = false;
			for (unsigned j = i + 1; j < d->n && !later; j++)
				for (unsigned q = 0; q < d->v[j].pol->pipelines_count && !later; q++)
					later = strcmp(d->v[j].pol->pipelines[q].name, pl->name) == 0;
			if (later || is_deleted(d, pl->name))
				continue;
			used[i] = true;
			out->pipelines =
				e2_xrealloc(out->pipelines, (out->pipelines_count + 1) * sizeof *out->pipelines);
			out->pipelines[out->pipelines_count++] = *pl;
		}
	return 0;
}

/* What an apply or a delete computes, before it is stored. */
struct outcome {
	uint64_t generation;
	void **specs;
	size_t *spec_lens;
	char **rules;
	size_t n_rules;
	char *dot;
	struct instance *insts;
	unsigned n_insts;
	char **pipelines;
	unsigned n_pipelines;
	char *resteer;     /* the event log the lines carry out */
	char *resteer_new; /* its events this plan added, for the operator */
};

static void outcome_free(struct outcome *o, unsigned n_servers)
{
	for (unsigned i = 0; o->specs && i < n_servers; i++)
		free(o->specs[i]);
	free(o->specs);
	free(o->spec_lens);
	for (size_t i = 0; i < o->n_rules; i++)
		free(o->rules[i]);
	free(o->rules);
	free(o->dot);
	free(o->insts);
	for (unsigned i = 0; i < o->n_pipelines; i++)
		free(o->pipelines[i]);
	free(o->pipelines);
	free(o->resteer);
	free(o->resteer_new);
}

/* An instance as the planner sees it, snapshotted under the lock. */
struct inst_view {
	char name[64];
	bool stopped, running;
};

/* Reads log (lines "OP NAME", OP one of e2_resteer_op_name's words) into events that
 * point into log, which the caller keeps; NULL on a line it does not know (nothing is
 * then trusted of it). */
static struct e2_resteer_event *parse_log(char *log, size_t *n)
{
	size_t lines = 1;
	for (const char *q = log; *q; q++)
		lines += *q == '\n';
	struct e2_resteer_event *ev = e2_xcalloc(lines + 1, sizeof *ev);
	*n = 0;
	for (char *save = NULL, *l = strtok_r(log, "\n", &save); l; l = strtok_r(NULL, "\n", &save)) {
		char *sp = strchr(l, ' ');
		if (sp)
			*sp = '\0';
		if (!sp || !sp[1] || e2_resteer_op_parse(l, &ev[*n].op) < 0) {
			free(ev);
			return NULL;
		}
		/* "launch PARENT MADE" */
		char *made = strchr(sp + 1, ' ');
		if (made) {
			*made++ = '\0';
			if (ev[*n].op != E2_RESTEER_LAUNCH || !*made || strchr(made, ' ')) {
				free(ev);
				return NULL;
			}
			ev[*n].made = made;
		}
		ev[(*n)++].inst = sp + 1;
	}
	return ev;
}

static bool withdrawn_by(const struct e2_resteer_event *ev, size_t n, const char *name)
{
	bool w = false;
	for (size_t i = 0; i < n; i++)
		if (strcmp(ev[i].inst, name) == 0)
			w = ev[i].op == E2_RESTEER_WITHDRAW;
	return w;
}

/* The events that bring the plan's instances to what the operator did: an instance is
 * withdrawn while it is stopped, and stays so after a start until it runs. On top of
 * the log when `restitch` (the same base), from none otherwise (a new base). Adds
 * them to the plan's lines and to o; *added says whether any is new. */
static int resteer_plan(struct e2_plan *p, const char *log, bool restitch, const struct inst_view *v, size_t nv,
			struct outcome *o, bool *added, struct e2_err *err)
{
	char *copy = e2_xstrdup(log ? log : "");
	size_t n_old = 0;
	struct e2_resteer_event *old = parse_log(copy, &n_old);
	if (!old) {
		E2_WARN("the stored re-steer log does not parse: starting afresh");
		old = e2_xcalloc(1, sizeof *old);
		n_old = 0;
		restitch = false;
	}
	size_t n = restitch ? n_old : 0;
	struct e2_resteer_event *ev = e2_xcalloc(n + p->ig->insts_count + 1, sizeof *ev);
	memcpy(ev, old, n * sizeof *ev);
	size_t first_new = n;
	for (unsigned x = 0; x < p->ig->insts_count; x++) {
		const struct e2_inst *in = &p->ig->insts[x];
		const struct inst_view *iv = NULL;
		for (size_t k = 0; k < nv && !iv; k++)
			if (strcmp(v[k].name, in->name) == 0)
				iv = &v[k];
		if (!p->ig->pg->nodes[in->pnode].nf || !iv)
			continue;
		bool want = iv->stopped || (withdrawn_by(old, n_old, in->name) && !iv->running);
		if (want != withdrawn_by(ev, n, in->name))
			ev[n++] = (struct e2_resteer_event){.inst = in->name,
							    .op = want ? E2_RESTEER_WITHDRAW : E2_RESTEER_RESTORE};
	}
	*added = n > first_new;
	unsigned base = p->ig->insts_count, launches = 0;
	int rc = e2_resteer(p, ev, n, err);
	if (rc == 0) {
		char *text = NULL, *news = NULL;
		size_t len = 0, nlen = 0;
		FILE *f = open_memstream(&text, &len), *g = open_memstream(&news, &nlen);
		for (size_t i = 0; f && g && i < n; i++) {
			const char *op = e2_resteer_op_name(ev[i].op);
			/* each launch adds one instance at the end of the IGraph, in order */
			if (ev[i].op == E2_RESTEER_LAUNCH)
				fprintf(f, "%s %s %s\n", op, ev[i].inst, p->ig->insts[base + launches++].name);
			else
				fprintf(f, "%s %s\n", op, ev[i].inst);
			if (i >= first_new)
				fprintf(g, "%s%s %s", i > first_new ? ", " : "", op, ev[i].inst);
		}
		if (f)
			fclose(f);
		if (g)
			fclose(g);
		o->resteer = text ? text : e2_xstrdup("");
		o->resteer_new = news ? news : e2_xstrdup("");
	}
	free(ev);
	free(old);
	free(copy);
	return rc;
}

/* Plans `pol` (may have no pipelines: then nothing runs) into o. stopped: names. */
static int plan_outcome(struct controller *c, const struct e2_policy *pol, const struct e2_nf_catalog *nfs,
			const struct inst_view *views, size_t n_views, const char *log, bool restitch, bool *resteered,
			struct outcome *o, struct e2_err *err)
{
	*resteered = false;
	unsigned ns = c->hw->servers_count;
	o->specs = e2_xcalloc(ns, sizeof *o->specs);
	o->spec_lens = e2_xcalloc(ns, sizeof *o->spec_lens);
	o->pipelines = e2_xcalloc(pol->pipelines_count + 1, sizeof *o->pipelines);
	for (unsigned i = 0; i < pol->pipelines_count; i++)
		o->pipelines[o->n_pipelines++] = e2_xstrdup(pol->pipelines[i].name);
	if (pol->pipelines_count == 0) {
		for (unsigned s = 0; s < ns; s++) {
			E2__Ctl__ServerSpec spec = E2__CTL__SERVER_SPEC__INIT;
			spec.server = c->hw->servers[s].name;
			spec.generation = o->generation;
			o->spec_lens[s] = e2__ctl__server_spec__get_packed_size(&spec);
			o->specs[s] = e2_xmalloc(o->spec_lens[s] + 1);
			e2__ctl__server_spec__pack(&spec, o->specs[s]);
		}
		o->dot = e2_xstrdup("digraph e2 {\n}\n");
		o->resteer = e2_xstrdup("");
		return 0;
	}
	struct e2_plan_inputs in = {.pol = pol, .nfs = nfs, .hw = c->hw};
	struct e2_plan *p = e2_plan_build(&in, NULL, err);
	if (!p)
		return -1;
	struct e2_err rerr = {""};
	if (resteer_plan(p, log, restitch, views, n_views, o, resteered, &rerr) < 0) {
		e2_plan_free(p);
		if (restitch) {
			e2_seterr(err, "%s", rerr.msg);
			return -1;
		}
		/* a new base the stopped instances cannot be re-steered on: the plan as it is */
		publish(c, NULL, NULL, "flows of stopped instances stay where the plan puts them: %s", rerr.msg);
		if (!(p = e2_plan_build(&in, NULL, err)))
			return -1;
		o->resteer = e2_xstrdup("");
		*resteered = false;
	}
	/* the operator's stopped instances stay stopped in the specs */
	char **stopped = e2_xcalloc(n_views + 1, sizeof *stopped);
	size_t n_stopped = 0;
	for (size_t k = 0; k < n_views; k++)
		if (views[k].stopped)
			stopped[n_stopped++] = (char *)views[k].name;
	for (unsigned s = 0; s < ns; s++)
		if (e2_deploy_spec(p, s, o->generation, stopped, n_stopped, &o->specs[s], &o->spec_lens[s], err) < 0) {
			free(stopped);
			e2_plan_free(p);
			return -1;
		}
	free(stopped);
	o->rules = e2_xcalloc(p->ic.sw.n + 1, sizeof *o->rules);
	for (unsigned i = 0; i < p->ic.sw.n; i++)
		if (p->ic.sw.v[i][0] != '#')
			o->rules[o->n_rules++] = e2_xstrdup(p->ic.sw.v[i]);
	o->insts = e2_xcalloc(p->ig->insts_count + 1, sizeof *o->insts);
	for (unsigned x = 0; x < p->ig->insts_count; x++) {
		const struct e2_inst *i = &p->ig->insts[x];
		const struct e2_nf *nf = p->ig->pg->nodes[i->pnode].nf;
		if (!nf || i->server < 0 || i->removed)
			continue;
		struct instance *in2 = &o->insts[o->n_insts++];
		snprintf(in2->name, sizeof in2->name, "%s", i->name);
		snprintf(in2->server, sizeof in2->server, "%s", c->hw->servers[i->server].name);
		snprintf(in2->nf, sizeof in2->nf, "%s", nf->descriptor_id);
		in2->lo = i->range_lo;
		in2->hi = i->range_hi;
		in2->state = E2__CTL__INSTANCE_STATE__INSTANCE_PENDING;
		in2->since_ns = now_ns();
		in2->load = in2->sent_pps = -1; /* until e2d says */
	}
	char *dot = NULL;
	size_t dot_len = 0;
	FILE *f = open_memstream(&dot, &dot_len);
	if (f) {
		struct e2_err e2 = {""};
		if (e2_plan_dot(f, p, &e2) < 0)
			E2_WARN("no picture of the plan: %s", e2.msg);
		fclose(f);
	}
	o->dot = dot;
	e2_plan_free(p);
	return 0;
}

static void names_free(char **v, size_t n)
{
	for (size_t i = 0; i < n; i++)
		free(v[i]);
	free(v);
}

/* Stores an outcome and makes it the model (under the lock). */
static int commit_outcome(struct controller *c, struct outcome *o, struct e2_err *err)
{
	struct ctl_store *st = c->store;
	char gen[32];
	snprintf(gen, sizeof gen, "%" PRIu64, o->generation);
	for (unsigned s = 0; s < c->n_servers; s++)
		if (ctl_store_put_spec(st, c->servers[s].name, o->generation, o->specs[s], o->spec_lens[s], err) < 0)
			return -1;
	if (ctl_store_set_rules(st, o->rules, o->n_rules, err) < 0 || ctl_store_set(st, "generation", gen, err) < 0 ||
	    ctl_store_set(st, "dot", o->dot ? o->dot : "", err) < 0 ||
	    ctl_store_set(st, "resteer", o->resteer ? o->resteer : "", err) < 0)
		return -1;
	/* instances: keep what agents told us of those that stay where they were */
	for (unsigned i = 0; i < o->n_insts; i++) {
		struct instance *old = inst_by_name(c, o->insts[i].name);
		if (old && strcmp(old->server, o->insts[i].server) == 0) {
			uint32_t lo = o->insts[i].lo, hi = o->insts[i].hi;
			o->insts[i] = *old;
			o->insts[i].lo = lo;
			o->insts[i].hi = hi;
		}
	}
	for (unsigned i = 0; i < c->n_insts; i++) {
		bool stays = false;
		for (unsigned j = 0; j < o->n_insts && !stays; j++)
			stays = strcmp(o->insts[j].name, c->insts[i].name) == 0;
		if (!stays && ctl_store_drop_instance(st, c->insts[i].name, err) < 0)
			return -1;
	}
	free(c->insts);
	c->insts = o->insts;
	c->n_insts = o->n_insts;
	o->insts = NULL;
	for (unsigned i = 0; i < c->n_insts; i++)
		save_instance(c, &c->insts[i]);
	for (unsigned s = 0; s < c->n_servers; s++) {
		free(c->servers[s].spec);
		c->servers[s].spec = o->specs[s];
		c->servers[s].spec_len = o->spec_lens[s];
		c->servers[s].gen_desired = o->generation;
		c->servers[s].next_push_ns = 0;
		o->specs[s] = NULL;
	}
	c->generation = o->generation;
	free(c->dot);
	c->dot = o->dot;
	o->dot = NULL;
	free(c->resteer);
	c->resteer = o->resteer;
	o->resteer = NULL;
	names_free(c->pipelines, c->n_pipelines);
	c->pipelines = o->pipelines;
	c->n_pipelines = o->n_pipelines;
	o->pipelines = NULL;
	o->n_pipelines = 0;
	return 0;
}

static void program_fabric(struct controller *c, char *const *rules, size_t n)
{
	if (!c->fabric)
		return;
	struct e2_err err = {""};
	uint64_t t0 = now_ns();
	if (e2_fabric_replace(c->fabric, (const char *const *)rules, n, &err) < 0)
		publish(c, NULL, NULL, "fabric: %s", err.msg);
	else
		E2_INFO("fabric: %zu rules in place (%.1f ms)", n, (double)(now_ns() - t0) / 1e6);
}

static void inst_views(struct controller *c, struct inst_view **out, size_t *n)
{
	*out = e2_xcalloc(c->n_insts + 1, sizeof **out);
	for (unsigned i = 0; i < c->n_insts; i++) {
		snprintf((*out)[i].name, sizeof(*out)[i].name, "%s", c->insts[i].name);
		(*out)[i].stopped = c->insts[i].stopped;
		(*out)[i].running = c->insts[i].state == E2__CTL__INSTANCE_STATE__INSTANCE_RUNNING;
	}
	*n = c->n_insts;
}

/* apply (doc != NULL), delete (pipeline != NULL, not ""), or neither: the same policies
 * again, re-steered around the instances the operator stopped or started since (1 when
 * that changes nothing, unless pipeline is "": the stopped set changed, commit). */
static int change_policy_locked(struct controller *c, const char *doc_name, const char *doc_yaml, const char *nfs_name,
				const char *nfs_yaml, const char *pipeline, char *msg, size_t msg_len,
				struct e2_err *err);

static int change_policy(struct controller *c, const char *doc_name, const char *doc_yaml, const char *nfs_name,
			 const char *nfs_yaml, const char *pipeline, char *msg, size_t msg_len, struct e2_err *err)
{
	pthread_mutex_lock(&c->plan_mu);
	int rc = change_policy_locked(c, doc_name, doc_yaml, nfs_name, nfs_yaml, pipeline, msg, msg_len, err);
	pthread_mutex_unlock(&c->plan_mu);
	return rc;
}

static int change_policy_locked(struct controller *c, const char *doc_name, const char *doc_yaml, const char *nfs_name,
				const char *nfs_yaml, const char *pipeline, char *msg, size_t msg_len,
				struct e2_err *err)
{
	struct e2_nf_catalog *new_nfs = NULL;
	if (nfs_yaml && *nfs_yaml) {
		new_nfs = e2_nfs_load(nfs_yaml, strlen(nfs_yaml), nfs_name && *nfs_name ? nfs_name : "nfs", err);
		if (!new_nfs)
			return -1;
	}
	struct docs d = {0};
	struct inst_view *views;
	size_t n_views;
	bool restitch = !doc_yaml && (!pipeline || !*pipeline), resteered = false;
	bool must_commit = restitch && pipeline;
	if (restitch)
		pipeline = NULL;
	pthread_mutex_lock(&c->mu);
	int rc = ctl_store_policies(c->store, collect_doc, &d, err);
	if (rc == 0)
		rc = ctl_store_deleted(c->store, collect_deleted, &d, err);
	uint64_t gen = c->generation + 1;
	inst_views(c, &views, &n_views);
	/* the scaling decided since rides on a re-plan of the same policies only */
	char *scaling = e2_xstrdup(restitch && c->scale_pending ? c->scale_pending : "");
	char *log = NULL;
	if (asprintf(&log, "%s%s", c->resteer ? c->resteer : "", scaling) < 0)
		log = NULL;
	pthread_mutex_unlock(&c->mu);
	struct e2_policy pol = {0};
	struct outcome o = {.generation = gen};
	bool *used = NULL;
	bool found = false, already = false;
	if (rc < 0)
		goto out;
	if (restitch && (d.n == 0 || !c->nfs)) {
		/* a database rebuilt from the agents knows no policy: nothing to plan from */
		if (n_views)
			E2_WARN("no re-steering before the policies are applied again");
		rc = 1;
		goto out;
	}
	if (restitch) {
		/* the same documents */
	} else if (doc_yaml) {
		collect_doc(&d, INT64_MAX, doc_name, doc_yaml);
		/* applying a pipeline brings it back if it was deleted */
		for (unsigned i = 0; i < d.n_deleted; i++) {
			struct e2_err e2 = {""};
			struct e2_policy *np = e2_policy_load(doc_yaml, strlen(doc_yaml), doc_name, &e2);
			for (unsigned p = 0; np && p < np->pipelines_count; p++)
				if (strcmp(np->pipelines[p].name, d.deleted[i]) == 0) {
					free(d.deleted[i]);
					d.deleted[i] = NULL;
					break;
				}
			e2_policy_free(np);
		}
	} else {
		already = is_deleted(&d, pipeline);
		collect_deleted(&d, pipeline);
	}
	used = e2_xcalloc(d.n + 1, sizeof *used);
	if ((rc = compose(&d, &pol, used, err)) < 0)
		goto out;
	if (pipeline) {
		for (unsigned i = 0; i < d.n && !found; i++)
			for (unsigned p = 0; p < d.v[i].pol->pipelines_count && !found; p++)
				found = strcmp(d.v[i].pol->pipelines[p].name, pipeline) == 0;
		if (!found || already) {
			e2_seterr(err, "no pipeline '%s' is applied", pipeline);
			rc = -1;
			goto out;
		}
	}
	if (!new_nfs && !c->nfs && pol.pipelines_count) {
		e2_seterr(err, "the controller has no NF descriptions yet: apply with --nfs FILE");
		rc = -1;
		goto out;
	}
	rc = plan_outcome(c, &pol, new_nfs ? new_nfs : c->nfs, views, n_views, log, restitch, &resteered, &o, err);
	if (rc < 0)
		goto out;
	if (restitch && !resteered && !must_commit && !*scaling) {
		rc = 1;
		goto out;
	}

	pthread_mutex_lock(&c->mu);
	rc = ctl_store_begin(c->store, err);
	if (rc == 0 && doc_yaml)
		rc = ctl_store_add_policy(c->store, doc_name, doc_yaml, err);
	for (unsigned i = 0; rc == 0 && i < d.n; i++)
		if (!used[i] && d.v[i].id != INT64_MAX)
			rc = ctl_store_drop_policy(c->store, d.v[i].id, err); /* nothing of it is left */
	if (rc == 0 && doc_yaml)
		for (unsigned p = 0; rc == 0 && p < d.v[d.n - 1].pol->pipelines_count; p++)
			rc = ctl_store_set_deleted(c->store, d.v[d.n - 1].pol->pipelines[p].name, false, err);
	if (rc == 0 && pipeline)
		rc = ctl_store_set_deleted(c->store, pipeline, true, err);
	if (rc == 0 && new_nfs)
		rc = ctl_store_set(c->store, "nfs", nfs_yaml, err);
	if (rc == 0)
		rc = commit_outcome(c, &o, err);
	if (rc == 0)
		rc = ctl_store_commit(c->store, err);
	if (rc < 0) {
		ctl_store_rollback(c->store);
		pthread_mutex_unlock(&c->mu);
		goto out;
	}
	if (new_nfs) {
		e2_nfs_free(c->nfs);
		c->nfs = new_nfs;
		new_nfs = NULL;
	}
	if (*scaling) {
		/* planned and stored: no longer pending (judge_loads adds none meanwhile) */
		free(c->scale_pending);
		c->scale_pending = NULL;
	}
	size_t off =
		(size_t)snprintf(msg, msg_len, "generation %" PRIu64 ": %u pipeline(s), %u instance(s):", c->generation,
				 c->n_pipelines, c->n_insts);
	for (unsigned i = 0; i < c->n_insts && off < msg_len; i++)
		off += (size_t)snprintf(msg + off, msg_len - off, " %s@%s", c->insts[i].name, c->insts[i].server);
	if (restitch && *scaling)
		snprintf(msg, msg_len, "generation %" PRIu64 ": scaling: %.*s%s%s", c->generation,
			 (int)strcspn(scaling, "\n"), scaling, resteered ? "; flows re-steered: " : "", o.resteer_new);
	else if (restitch)
		snprintf(msg, msg_len, "generation %" PRIu64 ": %s%s", c->generation,
			 resteered ? "flows re-steered: " : "the operator's stopped instances", o.resteer_new);
	else if (resteered && off < msg_len)
		snprintf(msg + off, msg_len - off, "; stopped instances' flows re-steered: %s", o.resteer_new);
	pthread_mutex_unlock(&c->mu);
	publish(c, NULL, NULL, "%s", msg);
	program_fabric(c, o.rules, o.n_rules);
out:
	outcome_free(&o, c->n_servers);
	free(pol.pipelines);
	free(used);
	if (rc != 0 && *scaling) {
		/* a scaling step that cannot be planned is not tried again and again */
		pthread_mutex_lock(&c->mu);
		free(c->scale_pending);
		c->scale_pending = NULL;
		for (unsigned i = 0; i < c->n_watch; i++)
			c->watch[i].launching = LAUNCH_NONE; /* no launch was made */
		pthread_mutex_unlock(&c->mu);
		publish(c, NULL, NULL, "scaling: %.*s: not done: %s", (int)strcspn(scaling, "\n"), scaling,
			rc < 0 ? err->msg : "no policy to plan it on");
	}
	free(scaling);
	free(views);
	free(log);
	docs_free(&d);
	e2_nfs_free(new_nfs);
	return rc;
}

/* ---------------------------------------------------------------- e2ctl requests */

static void reply(struct controller *c, E2__Ctl__CtlResponse *r)
{
	r->version = E2__CTL__VERSION__VERSION_CURRENT;
	size_t len = e2__ctl__ctl_response__get_packed_size(r);
	uint8_t *buf = e2_xmalloc(len + 1);
	e2__ctl__ctl_response__pack(r, buf);
	struct e2_err err = {""};
	if (e2_chan_send(c->ctl, buf, len, 2000, &err) < 0)
		E2_WARN("reply to e2ctl: %s", err.msg);
	free(buf);
}

static void answer_status(struct controller *c, E2__Ctl__CtlResponse *r)
{
	uint64_t now = now_ns();
	pthread_mutex_lock(&c->mu);
	r->n_servers = c->n_servers;
	r->servers = e2_xcalloc(c->n_servers + 1, sizeof *r->servers);
	for (unsigned i = 0; i < c->n_servers; i++) {
		const struct server *s = &c->servers[i];
		E2__Ctl__ServerStatus *ss = e2_xmalloc(sizeof *ss);
		e2__ctl__server_status__init(ss);
		ss->name = e2_xstrdup(s->name);
		ss->agent_alive = s->seen && now - s->last_seen_ns < ALIVE_NS;
		ss->last_seen_ns = s->last_seen_ns;
		ss->e2d_running = s->e2d_running;
		ss->e2d_restarts = s->e2d_restarts;
		ss->generation_desired = s->gen_desired;
		ss->generation_applied = s->gen_applied;
		r->servers[i] = ss;
	}
	r->n_instances = c->n_insts;
	r->instances = e2_xcalloc(c->n_insts + 1, sizeof *r->instances);
	for (unsigned i = 0; i < c->n_insts; i++) {
		const struct instance *in = &c->insts[i];
		E2__Ctl__InstanceStatus *is = e2_xmalloc(sizeof *is);
		e2__ctl__instance_status__init(is);
		is->name = e2_xstrdup(in->name);
		is->server = e2_xstrdup(in->server);
		is->nf = e2_xstrdup(in->nf);
		is->state = (E2__Ctl__InstanceState)in->state;
		is->since_ns = in->since_ns;
		is->load = in->load;
		is->detail = e2_xstrdup(in->detail);
		is->flow_lo = in->lo;
		is->flow_hi = in->hi;
		r->instances[i] = is;
	}
	r->n_pipelines = c->n_pipelines;
	r->pipelines = e2_xcalloc(c->n_pipelines + 1, sizeof *r->pipelines);
	for (unsigned i = 0; i < c->n_pipelines; i++)
		r->pipelines[i] = e2_xstrdup(c->pipelines[i]);
	pthread_mutex_unlock(&c->mu);
}

static void free_status(E2__Ctl__CtlResponse *r)
{
	for (size_t i = 0; i < r->n_servers; i++) {
		free(r->servers[i]->name);
		free(r->servers[i]);
	}
	free(r->servers);
	for (size_t i = 0; i < r->n_instances; i++) {
		free(r->instances[i]->name);
		free(r->instances[i]->server);
		free(r->instances[i]->nf);
		free(r->instances[i]->detail);
		free(r->instances[i]);
	}
	free(r->instances);
	for (size_t i = 0; i < r->n_pipelines; i++)
		free(r->pipelines[i]);
	free(r->pipelines);
}

static void handle_ctl(struct controller *c, const void *body, size_t len, const char *sender)
{
	E2__Ctl__CtlResponse r = E2__CTL__CTL_RESPONSE__INIT;
	E2__Ctl__CtlRequest *q = e2__ctl__ctl_request__unpack(NULL, len, body);
	char msg[8192] = "";
	struct e2_err err = {""};
	if (!q) {
		r.code = EPROTO;
		r.error = (char *)"the request does not decode";
	} else if (q->version != E2__CTL__VERSION__VERSION_CURRENT) {
		r.code = EPROTO;
		snprintf(msg, sizeof msg, "protocol version %" PRIu32 ", this controller speaks %d", q->version,
			 E2__CTL__VERSION__VERSION_CURRENT);
		r.error = msg;
	} else {
		switch (q->op_case) {
		case E2__CTL__CTL_REQUEST__OP_APPLY:
			E2_INFO("%s: apply %s", sender, q->apply->name);
			if (change_policy(c, q->apply->name[0] ? q->apply->name : "policy", q->apply->yaml,
					  q->apply->nfs_name, q->apply->nfs_yaml, NULL, msg, sizeof msg, &err) < 0) {
				r.code = EINVAL;
				r.error = err.msg;
			} else
				r.message = msg;
			break;
		case E2__CTL__CTL_REQUEST__OP_REMOVE:
			E2_INFO("%s: delete %s", sender, q->remove->name);
			if (change_policy(c, NULL, NULL, NULL, NULL, q->remove->name, msg, sizeof msg, &err) < 0) {
				r.code = ENOENT;
				r.error = err.msg;
			} else
				r.message = msg;
			break;
		case E2__CTL__CTL_REQUEST__OP_STATUS: answer_status(c, &r); break;
		case E2__CTL__CTL_REQUEST__OP_GRAPH:
			pthread_mutex_lock(&c->mu);
			r.dot = e2_xstrdup(c->dot ? c->dot : "digraph e2 {\n}\n");
			pthread_mutex_unlock(&c->mu);
			break;
		case E2__CTL__CTL_REQUEST__OP_EVENTS: r.events_url = (char *)c->events_url; break;
		default: r.code = EINVAL; r.error = (char *)"no operation in the request";
		}
	}
	reply(c, &r);
	if (q && q->op_case == E2__CTL__CTL_REQUEST__OP_STATUS)
		free_status(&r);
	if (q && q->op_case == E2__CTL__CTL_REQUEST__OP_GRAPH)
		free(r.dot);
	e2__ctl__ctl_request__free_unpacked(q, NULL);
}

static void *ctl_thread(void *arg)
{
	struct controller *c = arg;
	while (!stopping) {
		void *body = NULL;
		size_t len = 0;
		char sender[E2_CHAN_SENDER_MAX + 1];
		struct e2_err err = {""};
		int got = e2_chan_recv(c->ctl, &body, &len, sender, TICK_MS, &err);
		if (got < 0 && errno != ETIMEDOUT)
			E2_DBG("control socket: %s", err.msg);
		if (got == 0) {
			handle_ctl(c, body, len, sender);
			free(body);
		}
		pthread_mutex_lock(&c->mu);
		unsigned resteer = c->resteer_wanted;
		c->resteer_wanted = 0;
		pthread_mutex_unlock(&c->mu);
		if (resteer) {
			char msg[1024];
			uint64_t t0 = now_ns();
			int rc = change_policy(c, NULL, NULL, NULL, NULL, resteer & RESTEER_COMMIT ? "" : NULL, msg,
					       sizeof msg, &err);
			if (rc < 0)
				publish(c, NULL, NULL, "re-steering failed: %s", err.msg);
			else if (rc == 0)
				E2_INFO("re-steer planned in %.1f ms", (double)(now_ns() - t0) / 1e6);
		}
	}
	return NULL;
}

/* ---------------------------------------------------------------- agents */

/* An instance's load is its busiest port's: what e2d sends it over what it was sized
 * for, or the fill of a ring between them. */
static void port_load(struct instance *in, const char *port, double occupancy)
{
	const unsigned n = sizeof in->ports / sizeof in->ports[0];
	unsigned k = 0;
	while (k < n && in->ports[k].port[0] && strcmp(in->ports[k].port, port) != 0)
		k++;
	if (k == n)
		return; /* more ports than an NF here has: the first ones tell */
	snprintf(in->ports[k].port, sizeof in->ports[k].port, "%s", port);
	in->ports[k].occupancy = occupancy;
	in->load = 0;
	for (unsigned j = 0; j < n && in->ports[j].port[0]; j++)
		if (in->ports[j].occupancy > in->load)
			in->load = in->ports[j].occupancy;
}

static void handle_agent_event(struct controller *c, const void *body, size_t len, const char *sender)
{
	E2__Ctl__AgentEvent *ev = e2__ctl__agent_event__unpack(NULL, len, body);
	if (!ev || ev->version != E2__CTL__VERSION__VERSION_CURRENT) {
		E2_WARN("%s: an agent event that does not decode, or of another version", sender);
		e2__ctl__agent_event__free_unpacked(ev, NULL);
		return;
	}
	char want[E2_CHAN_SENDER_MAX + 1];
	snprintf(want, sizeof want, "agent:%s", ev->server);
	pthread_mutex_lock(&c->mu);
	struct server *s = server_by_name(c, ev->server);
	if (!s || strcmp(want, sender) != 0) {
		/* an agent speaks only for its own server */
		E2_WARN("%s: event for server '%s' refused", sender, ev->server);
	} else {
		switch (ev->kind) {
		case E2__CTL__AGENT_EVENT_KIND__AGENT_HEARTBEAT:
			if (ev->report)
				observe_report(c, s, ev->report);
			break;
		case E2__CTL__AGENT_EVENT_KIND__AGENT_INSTANCE_STATE:
			s->last_seen_ns = now_ns();
			if (ev->instance)
				observe(c, s->name, ev->instance);
			break;
		case E2__CTL__AGENT_EVENT_KIND__AGENT_E2D_RESTARTED:
			publish(c, s->name, NULL, "e2d on %s restarted by its agent", s->name);
			break;
		case E2__CTL__AGENT_EVENT_KIND__AGENT_E2D_EVENT: {
			/* a port or queue named after an instance ("fw.0.in") tells its load */
			for (unsigned i = 0; i < c->n_insts; i++) {
				size_t n = strlen(c->insts[i].name);
				if (strncmp(ev->e2d_name, c->insts[i].name, n) == 0 && ev->e2d_name[n] == '.') {
					port_load(&c->insts[i], ev->e2d_name + n + 1, ev->occupancy);
					if (strcmp(ev->e2d_kind, "load") == 0)
						c->insts[i].sent_pps = ev->sent_pps;
				}
			}
			/* a level is a measurement, not news: the decisions it leads to are */
			if (strcmp(ev->e2d_kind, "load") != 0)
				publish(c, s->name, NULL, "e2d on %s: %s %s (occupancy %.2f, %.0f pps)", s->name,
					ev->e2d_kind, ev->e2d_name, ev->occupancy, ev->rate_pps);
			break;
		}
		default: break;
		}
	}
	pthread_mutex_unlock(&c->mu);
	e2__ctl__agent_event__free_unpacked(ev, NULL);
}

/* Sends server s its spec; called without the lock (the call may take seconds). */
static void push(struct controller *c, struct server *s, const void *spec, size_t spec_len, uint64_t gen)
{
	E2__Ctl__ServerSpec *sp = e2__ctl__server_spec__unpack(NULL, spec_len, spec);
	if (!sp)
		return;
	E2__Ctl__AgentRequest q = E2__CTL__AGENT_REQUEST__INIT;
	q.version = E2__CTL__VERSION__VERSION_CURRENT;
	q.op_case = E2__CTL__AGENT_REQUEST__OP_APPLY;
	q.apply = sp;
	size_t len = e2__ctl__agent_request__get_packed_size(&q);
	uint8_t *buf = e2_xmalloc(len + 1);
	e2__ctl__agent_request__pack(&q, buf);
	e2__ctl__server_spec__free_unpacked(sp, NULL);
	void *rep = NULL;
	size_t rep_len = 0;
	struct e2_err err = {""};
	int rc = e2_chan_call(s->req, buf, len, &rep, &rep_len, AGENT_CALL_MS, &err);
	free(buf);
	E2__Ctl__AgentResponse *r = rc == 0 ? e2__ctl__agent_response__unpack(NULL, rep_len, rep) : NULL;
	free(rep);
	pthread_mutex_lock(&c->mu);
	if (!r || r->code != 0) {
		if (!s->push_failing)
			publish(c, s->name, NULL, "agent of %s: generation %" PRIu64 " not applied: %s", s->name, gen,
				r        ? r->error
				: rc < 0 ? err.msg
					 : "the reply does not decode");
		s->push_failing = true;
		s->next_push_ns = now_ns() + PUSH_RETRY_NS;
	} else {
		if (s->push_failing)
			publish(c, s->name, NULL, "agent of %s takes generation %" PRIu64 " now", s->name, gen);
		s->push_failing = false;
		if (r->report)
			observe_report(c, s, r->report);
		/* the agent reconciles in the background; its reports say when it is done */
		s->next_push_ns = now_ns() + PUSH_RETRY_NS;
	}
	pthread_mutex_unlock(&c->mu);
	e2__ctl__agent_response__free_unpacked(r, NULL);
}

/* An instance scaling made, and where it stands, as the event log tells it. */
struct scaled {
	char name[64], parent[64]; /* and the instance it was split off */
	enum { SCALED_LAUNCHED, SCALED_ACTIVE, SCALED_DRAINING, SCALED_REMOVED } st;
};

/* The instances of NF nf that scaling made (log: the committed events, then the pending
 * ones), at most max. */
static unsigned scaled_of(const struct controller *c, const char *nf, struct scaled *out, unsigned max)
{
	char *log = NULL;
	if (asprintf(&log, "%s%s", c->resteer ? c->resteer : "", c->scale_pending ? c->scale_pending : "") < 0)
		return 0;
	unsigned n = 0;
	for (char *save = NULL, *l = strtok_r(log, "\n", &save); l; l = strtok_r(NULL, "\n", &save)) {
		char op[16], a[64], b[64];
		int words = sscanf(l, "%15s %63s %63s", op, a, b);
		if (words == 3 && strcmp(op, "launch") == 0) {
			const struct instance *par = inst_by_name((struct controller *)c, a);
			if (par && strcmp(par->nf, nf) == 0 && n < max) {
				snprintf(out[n].name, sizeof out[n].name, "%s", b);
				snprintf(out[n].parent, sizeof out[n].parent, "%s", a);
				out[n++].st = SCALED_LAUNCHED;
			}
			continue;
		}
		for (unsigned i = 0; words == 2 && i < n; i++)
			if (strcmp(out[i].name, a) == 0) {
				if (strcmp(op, "activate") == 0)
					out[i].st = SCALED_ACTIVE;
				else if (strcmp(op, "drain") == 0)
					out[i].st = SCALED_DRAINING;
				else if (strcmp(op, "remove") == 0)
					out[i].st = SCALED_REMOVED;
			}
	}
	free(log);
	return n;
}

static const struct scaled *scaled_named(const struct scaled *v, unsigned n, const char *name)
{
	for (unsigned i = 0; i < n; i++)
		if (strcmp(v[i].name, name) == 0)
			return &v[i];
	return NULL;
}

/* A scaling event for the control thread's next re-plan (under the lock). */
static void scale(struct controller *c, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
static void scale(struct controller *c, const char *fmt, ...)
{
	char line[160];
	va_list ap;
	va_start(ap, fmt);
	vsnprintf(line, sizeof line, fmt, ap);
	va_end(ap);
	char *next = NULL;
	if (asprintf(&next, "%s%s\n", c->scale_pending ? c->scale_pending : "", line) < 0)
		return;
	free(c->scale_pending);
	c->scale_pending = next;
}

static struct nf_watch *watch_of(struct controller *c, const char *nf)
{
	for (unsigned i = 0; i < c->n_watch; i++)
		if (strcmp(c->watch[i].nf, nf) == 0)
			return &c->watch[i];
	c->watch = e2_xrealloc(c->watch, (c->n_watch + 1) * sizeof *c->watch);
	struct nf_watch *w = &c->watch[c->n_watch++];
	memset(w, 0, sizeof *w);
	snprintf(w->nf, sizeof w->nf, "%s", nf);
	return w;
}

/* An instance scaling launched is a spare of the warm pool unless it is the cold launch
 * a scale-out waits for (after a restart of the controller, without a pool, every
 * launched instance is taken for one). */
static bool is_spare(const struct nf_watch *w, const struct e2_autoscale_knobs *k, const struct scaled *s)
{
	return s->st == SCALED_LAUNCHED && k->warm_pool > 0 && strcmp(w->cold, s->name) != 0;
}

/* The newest launch in the log was planned: a cold one is remembered by name. */
static void note_launch(struct nf_watch *w, const struct scaled *sc, unsigned n_sc)
{
	if (w->launching == LAUNCH_NONE)
		return;
	for (unsigned i = n_sc; i-- > 0;)
		if (sc[i].st == SCALED_LAUNCHED) {
			if (w->launching == LAUNCH_COLD)
				snprintf(w->cold, sizeof w->cold, "%s", sc[i].name);
			break;
		}
	w->launching = LAUNCH_NONE;
}

/* Activates launched instance `in` (its half of its parent's range: new flows only). */
static void activate(struct controller *c, struct nf_watch *w, const struct instance *in, const char *how)
{
	uint64_t now = now_ns();
	scale(c, "activate %s", in->name);
	/* the cooldown counts from here: the new instance takes new flows only */
	w->st.last_action = (double)now / 1e9;
	if (strcmp(w->cold, in->name) == 0)
		w->cold[0] = '\0';
	publish(c, NULL, in->name,
		"scaling %s: %s active (%s), %.2f s after the decision: new flows of its range go to it", w->nf,
		in->name, how, w->decided_ns ? (double)(now - w->decided_ns) / 1e9 : 0.0);
}

/* The drain record of instance name, made when first seen (after a restart of the
 * controller a drain is timed afresh: never shorter). */
static struct drain_watch *drain_of(struct nf_watch *w, const char *name, uint64_t now)
{
	for (unsigned i = 0; i < w->n_drains; i++)
		if (strcmp(w->drains[i].name, name) == 0)
			return &w->drains[i];
	if (w->n_drains == E2_NF_INSTANCES_MAX)
		return NULL;
	struct drain_watch *d = &w->drains[w->n_drains++];
	snprintf(d->name, sizeof d->name, "%s", name);
	d->since_ns = now;
	d->idle_since_ns = 0;
	return d;
}

static void drain_done(struct nf_watch *w, struct drain_watch *d)
{
	*d = w->drains[--w->n_drains];
}

/* A scaled instance under way: a cold launch now running -> activated; draining ones
 * idle (or past drain_s) -> removed, the youngest first (an instance split off another
 * drained into it: its parent's steering stage goes with the parent). Returns whether
 * one is under way (then nothing else is decided for the NF). Under the lock. */
static bool scaling_under_way(struct controller *c, struct nf_watch *w, const struct e2_autoscale_knobs *k,
			      const struct scaled *sc, unsigned n_sc)
{
	uint64_t now = now_ns();
	for (unsigned i = 0; i < n_sc; i++) {
		struct instance *in = inst_by_name(c, sc[i].name);
		if (sc[i].st == SCALED_LAUNCHED && !is_spare(w, k, &sc[i])) {
			if (in && in->state == E2__CTL__INSTANCE_STATE__INSTANCE_RUNNING)
				activate(c, w, in, "cold: booted for it");
			return true;
		}
	}
	/* records of drains the log no longer has (a new policy's plan starts afresh) go */
	for (unsigned d = 0; d < w->n_drains;) {
		const struct scaled *s = scaled_named(sc, n_sc, w->drains[d].name);
		if (!s || s->st != SCALED_DRAINING)
			drain_done(w, &w->drains[d]);
		else
			d++;
	}
	bool under_way = false, older_wait = false;
	for (unsigned i = n_sc; i-- > 0;) {
		if (sc[i].st != SCALED_DRAINING)
			continue;
		under_way = true;
		struct drain_watch *d = drain_of(w, sc[i].name, now);
		if (!d)
			continue;
		const struct instance *in = inst_by_name(c, sc[i].name);
		bool idle = !in || (in->sent_pps >= 0 && in->sent_pps < 0.5);
		d->idle_since_ns = idle ? (d->idle_since_ns ? d->idle_since_ns : now) : 0;
		double drained_s = d->idle_since_ns ? (double)(now - d->idle_since_ns) / 1e9 : 0;
		double draining_s = (double)(now - d->since_ns) / 1e9;
		if (older_wait || (drained_s < k->sustain_s && draining_s < k->drain_s)) {
			older_wait = true;
			continue;
		}
		scale(c, "remove %s", sc[i].name);
		w->st.last_action = (double)now / 1e9;
		publish(c, NULL, sc[i].name, "scaling %s: %s removed: %s", w->nf, sc[i].name,
			drained_s >= k->sustain_s ? "no traffic reaches it any more"
						  : "drain_s is over (the flows it still had end)");
		drain_done(w, d);
	}
	return under_way;
}

/* sc[k] can drain: scaling made it, it is active, and every active instance split off it
 * drains too (going[j] for sc[j]): an instance split at its parent's steering stage
 * drains into that parent, which must still take flows. */
static bool drainable(const struct scaled *sc, unsigned n_sc, unsigned k, const bool *going)
{
	if (sc[k].st != SCALED_ACTIVE)
		return false;
	for (unsigned j = 0; j < n_sc; j++)
		if (sc[j].st == SCALED_ACTIVE && !going[j] && strcmp(sc[j].parent, sc[k].name) == 0)
			return false;
	return true;
}

/* The warm pool: fewer spares than the NF wants -> one more, split off its busiest
 * active instance (a spare takes that instance's upper half when a scale-out of it
 * comes; one spare per parent, as a launch halves the parent's range once), while only
 * the plan's instances run (so the first scale-out from there is warm, later ones cold
 * until scaling is back). A spare that cannot be placed is tried again after
 * cooldown_s. Under the lock. */
static void fill_pool(struct controller *c, struct nf_watch *w, const struct e2_autoscale_knobs *k,
		      const struct scaled *sc, unsigned n_sc, const char *const *names, const double *loads, unsigned n)
{
	unsigned spares = 0, taken = 0;
	for (unsigned i = 0; i < n_sc; i++) {
		spares += is_spare(w, k, &sc[i]);
		taken += sc[i].st == SCALED_ACTIVE || sc[i].st == SCALED_DRAINING;
	}
	uint64_t now = now_ns();
	/* refilled once scaling is back to the plan's instances: a spare splits its parent's
	 * range as it is at its launch, and a scale-in gives that range back whole */
	if (spares >= k->warm_pool || taken || now < w->spare_retry_ns || !n)
		return;
	unsigned busiest = 0;
	for (unsigned i = 1; i < n; i++)
		if (loads[i] > loads[busiest])
			busiest = i;
	for (unsigned i = 0; i < n_sc; i++)
		if (is_spare(w, k, &sc[i]) && strcmp(sc[i].parent, names[busiest]) == 0)
			return;
	scale(c, "launch %s", names[busiest]);
	w->launching = LAUNCH_SPARE;
	w->spare_retry_ns = now + (uint64_t)(k->cooldown_s * 1e9);
	publish(c, NULL, NULL, "scaling %s: a spare for the warm pool (%u of %u), split off %s", w->nf, spares + 1,
		k->warm_pool, names[busiest]);
}

/* Scaling decisions from the instances' loads (e2d's LOAD, OVERLOAD and UNDERLOAD events
 * of the instances' input ports: the bit rate sent to the instance over what the plan
 * sized it for, or the fill of a ring where that is more), per NF with its description's
 * knobs (e2_autoscale_step), carried out as events of the log (resteer.c): out = launch
 * (split off the busiest instance), then activate once it runs; in = drain of as many
 * instances as the load allows (the least busy ones scaling made), then remove each once
 * no traffic reaches it (or drain_s is over). Only instances scaling made are taken back: the plan's own are sized for the
 * policy's rates. One change per NF at a time. Under the lock. */
static void judge_loads(struct controller *c)
{
	if (!c->nfs || (c->scale_pending && *c->scale_pending))
		return; /* the last decision is being planned */
	double now = (double)now_ns() / 1e9;
	for (unsigned f = 0; f < c->nfs->nfs_count; f++) {
		const struct e2_nf *nf = &c->nfs->nfs[f];
		struct scaled sc[E2_NF_INSTANCES_MAX];
		unsigned n_sc = scaled_of(c, nf->descriptor_id, sc, E2_NF_INSTANCES_MAX);
		double loads[E2_NF_INSTANCES_MAX];
		const char *names[E2_NF_INSTANCES_MAX];
		unsigned n = 0, planned = 0;
		for (unsigned i = 0; i < c->n_insts && n < E2_NF_INSTANCES_MAX; i++) {
			const struct instance *in = &c->insts[i];
			if (strcmp(in->nf, nf->descriptor_id) != 0)
				continue;
			const struct scaled *s = scaled_named(sc, n_sc, in->name);
			planned += s == NULL;
			if (!in->stopped && in->state == E2__CTL__INSTANCE_STATE__INSTANCE_RUNNING &&
			    (!s || s->st == SCALED_ACTIVE)) {
				names[n] = in->name;
				loads[n++] = in->load;
			}
		}
		struct e2_autoscale_knobs k;
		char why[200];
		if (!n || e2_autoscale_knobs(nf, &k, why, sizeof why) < 0)
			continue;
		struct nf_watch *w = watch_of(c, nf->descriptor_id);
		note_launch(w, sc, n_sc);
		if (scaling_under_way(c, w, &k, sc, n_sc))
			continue;
		/* scaling in only takes back what scaling out added */
		if (k.min < planned)
			k.min = planned;
		unsigned pick = 0, count = 0;
		enum e2_autoscale_verdict v =
			e2_autoscale_step(&k, &w->st, now, loads, n, &pick, &count, why, sizeof why);
		char said[256] = "";
		if (v == E2_AUTOSCALE_OUT) {
			w->decided_ns = now_ns();
			/* a spare split off the busy instance takes over at once (warm); else one
			 * boots for it (cold) */
			const struct instance *spare = NULL;
			for (unsigned i = 0; i < n_sc && !spare; i++)
				if (is_spare(w, &k, &sc[i]) && strcmp(sc[i].parent, names[pick]) == 0)
					spare = inst_by_name(c, sc[i].name);
			if (spare && spare->state == E2__CTL__INSTANCE_STATE__INSTANCE_RUNNING) {
				activate(c, w, spare, "warm: a spare of the pool");
			} else if (spare) {
				/* still booting: it is the one, activated once it runs */
				snprintf(w->cold, sizeof w->cold, "%s", spare->name);
			} else {
				scale(c, "launch %s", names[pick]);
				w->launching = LAUNCH_COLD;
			}
			snprintf(said, sizeof said, "scaling %s: one more instance, split off %s (%s): %s",
				 nf->descriptor_id, names[pick], spare ? "warm" : "cold", why);
		} else if (v == E2_AUTOSCALE_IN) {
			/* count of the instances scaling made, the least busy first, an instance
			 * after those split off it (it drains after them, into its parent) */
			bool going[E2_NF_INSTANCES_MAX] = {false}; /* by sc[] */
			int sc_of[E2_NF_INSTANCES_MAX];            /* names[i] is sc[sc_of[i]], or -1 */
			for (unsigned i = 0; i < n; i++) {
				const struct scaled *s = scaled_named(sc, n_sc, names[i]);
				sc_of[i] = s ? (int)(s - sc) : -1;
			}
			char list[160] = "";
			unsigned taken = 0;
			while (taken < count) {
				int take = -1;
				for (unsigned i = 0; i < n; i++)
					if (sc_of[i] >= 0 && !going[sc_of[i]] &&
					    drainable(sc, n_sc, (unsigned)sc_of[i], going) &&
					    (take < 0 || loads[i] < loads[take]))
						take = (int)i;
				if (take < 0)
					break;
				going[sc_of[take]] = true;
				scale(c, "drain %s", names[take]);
				size_t at = strlen(list);
				snprintf(list + at, sizeof list - at, "%s%s", taken ? ", " : "", names[take]);
				pick = taken++ ? pick : (unsigned)take;
			}
			if (taken == 0)
				snprintf(said, sizeof said, "scaling %s: %s, but no instance scaling made can drain",
					 nf->descriptor_id, why);
			else if (taken == 1)
				snprintf(said, sizeof said, "scaling %s: one fewer instance, %s drains: %s",
					 nf->descriptor_id, list, why);
			else
				snprintf(said, sizeof said, "scaling %s: %u fewer instances, %s drain: %s",
					 nf->descriptor_id, taken, list, why);
		} else if (strstr(why, "number of instances") || strstr(why, "number_of_instances")) {
			snprintf(said, sizeof said, "scaling %s: %s", nf->descriptor_id, why);
		}
		/* a decision every time; a bound once, until something else is said */
		if (said[0] && (v != E2_AUTOSCALE_HOLD || strcmp(said, w->said) != 0))
			publish(c, NULL, v == E2_AUTOSCALE_HOLD ? NULL : names[pick], "%s", said);
		if (said[0] || v != E2_AUTOSCALE_HOLD)
			snprintf(w->said, sizeof w->said, "%s", said);
		if (v == E2_AUTOSCALE_HOLD)
			fill_pool(c, w, &k, sc, n_sc, names, loads, n);
	}
}

static void tick(struct controller *c)
{
	pthread_mutex_lock(&c->mu);
	judge_loads(c);
	bool scaling = c->scale_pending && *c->scale_pending;
	pthread_mutex_unlock(&c->mu);
	if (scaling) {
		/* planned and pushed in this tick: a warm scale-out is a re-plan and a push */
		char msg[1024];
		struct e2_err err = {""};
		uint64_t t0 = now_ns();
		if (change_policy(c, NULL, NULL, NULL, NULL, "", msg, sizeof msg, &err) == 0)
			E2_INFO("scaling planned in %.1f ms", (double)(now_ns() - t0) / 1e6);
	}
	for (unsigned i = 0; i < c->n_servers; i++) {
		struct server *s = &c->servers[i];
		pthread_mutex_lock(&c->mu);
		uint64_t now = now_ns();
		bool alive = s->seen && now - s->last_seen_ns < ALIVE_NS;
		bool due = s->req && s->spec && alive && now >= s->next_push_ns &&
			   (s->gen_applied != s->gen_desired || s->extra_instances);
		void *spec = NULL;
		size_t len = s->spec_len;
		uint64_t gen = s->gen_desired;
		if (due) {
			spec = e2_xmalloc(len + 1);
			memcpy(spec, s->spec, len);
		}
		pthread_mutex_unlock(&c->mu);
		if (due) {
			push(c, s, spec, len, gen);
			free(spec);
		}
	}
}

static void agent_loop(struct controller *c)
{
	uint64_t last_tick = 0;
	while (!stopping) {
		struct pollfd pfd = {.fd = e2_chan_fd(c->sub), .events = POLLIN};
		poll(&pfd, 1, TICK_MS);
		for (int k = 0; k < 64; k++) {
			void *body = NULL;
			size_t len = 0;
			char sender[E2_CHAN_SENDER_MAX + 1];
			struct e2_err err = {""};
			if (e2_chan_recv(c->sub, &body, &len, sender, 0, &err) < 0)
				break;
			handle_agent_event(c, body, len, sender);
			free(body);
		}
		if (now_ns() - last_tick >= TICK_MS * 1000000ull) {
			tick(c);
			last_tick = now_ns();
		}
	}
}

/* ---------------------------------------------------------------- start */

/* Whether every server's spec keeps stopped exactly the instances the operator stopped. */
static bool stopped_in_specs(struct controller *c)
{
	for (unsigned s = 0; s < c->n_servers; s++) {
		E2__Ctl__ServerSpec *sp =
			c->servers[s].spec
				? e2__ctl__server_spec__unpack(NULL, c->servers[s].spec_len, c->servers[s].spec)
				: NULL;
		unsigned want = 0;
		for (unsigned i = 0; i < c->n_insts; i++)
			want += c->insts[i].stopped && strcmp(c->insts[i].server, c->servers[s].name) == 0;
		bool same = sp ? sp->n_stopped == want : want == 0;
		for (size_t k = 0; sp && same && k < sp->n_stopped; k++) {
			struct instance *in = inst_by_name(c, sp->stopped[k]);
			same = in && in->stopped;
		}
		e2__ctl__server_spec__free_unpacked(sp, NULL);
		if (!same)
			return false;
	}
	return true;
}

static int load_spec(void *o, const char *server, uint64_t generation, const void *spec, size_t len)
{
	struct controller *c = o;
	struct server *s = server_by_name(c, server);
	if (!s) {
		E2_WARN("stored spec for server '%s', which the hardware description no longer has", server);
		return 0;
	}
	s->spec = e2_xmalloc(len + 1);
	memcpy(s->spec, spec, len);
	s->spec_len = len;
	s->gen_desired = generation;
	return 0;
}

static int load_instance(void *o, const struct ctl_store_instance *r)
{
	struct controller *c = o;
	c->insts = e2_xrealloc(c->insts, (c->n_insts + 1) * sizeof *c->insts);
	struct instance *in = &c->insts[c->n_insts++];
	memset(in, 0, sizeof *in);
	snprintf(in->name, sizeof in->name, "%s", r->name);
	snprintf(in->server, sizeof in->server, "%s", r->server);
	snprintf(in->nf, sizeof in->nf, "%s", r->nf);
	snprintf(in->detail, sizeof in->detail, "%s", r->detail ? r->detail : "");
	in->lo = r->flow_lo;
	in->hi = r->flow_hi;
	in->state = r->state;
	in->since_ns = r->since_ns;
	in->stopped = r->stopped_by_operator;
	in->load = in->sent_pps = -1; /* until e2d says */
	return 0;
}

static int load_pipeline_names(struct controller *c, struct e2_err *err)
{
	struct docs d = {0};
	if (ctl_store_policies(c->store, collect_doc, &d, err) < 0 ||
	    ctl_store_deleted(c->store, collect_deleted, &d, err) < 0) {
		docs_free(&d);
		return -1;
	}
	struct e2_policy pol = {0};
	bool *used = e2_xcalloc(d.n + 1, sizeof *used);
	int rc = compose(&d, &pol, used, err);
	for (unsigned i = 0; rc == 0 && i < pol.pipelines_count; i++) {
		c->pipelines = e2_xrealloc(c->pipelines, (c->n_pipelines + 1) * sizeof *c->pipelines);
		c->pipelines[c->n_pipelines++] = e2_xstrdup(pol.pipelines[i].name);
	}
	free(pol.pipelines);
	free(used);
	docs_free(&d);
	return rc;
}

static int collect_rule(void *o, const char *rule)
{
	struct docs *d = o; /* reused as a list of strings */
	return collect_deleted(d, rule);
}

/* A description from its file (stored, replacing the stored one) or from the store. */
static char *description(struct controller *c, const char *key, const char *path, struct e2_err *err)
{
	if (path) {
		size_t len;
		char *text = e2_read_file(path, 64u << 20, &len, err);
		if (!text)
			return NULL;
		if (ctl_store_set(c->store, key, text, err) < 0) {
			free(text);
			return NULL;
		}
		return text;
	}
	struct e2_err e2 = {""};
	char *text = ctl_store_get(c->store, key, &e2);
	if (!text)
		e2_seterr(err, "no %s description: give --%s FILE (it is kept in the database)", key, key);
	return text;
}

static void usage(FILE *f)
{
	fprintf(f, "usage: e2-controller [--db FILE] [--init | --rebuild] [--ctl URL] [--events URL]\n"
		   "                     [--hardware FILE] [--nfs FILE] [--key FILE] [--pidfile FILE] [--log SPEC]\n"
		   "  --db FILE        the SQLite database (default /var/lib/e2/controller.db)\n"
		   "  --init           create the database (refused if it exists)\n"
		   "  --rebuild        set a damaged or missing database aside and rebuild it from what the\n"
		   "                   agents run (policies must be applied again)\n"
		   "  --ctl URL        e2ctl's socket (default ipc:///run/e2/controller.sock, mode 0600)\n"
		   "  --events URL     events for `e2ctl events` (default ipc:///run/e2/controller.events)\n"
		   "  --hardware FILE  the hardware description (kept in the database)\n"
		   "  --nfs FILE       the NF descriptions (kept; `e2ctl apply --nfs` replaces them)\n"
		   "  --key FILE       the shared key for tcp:// agents (a 0600 file)\n"
		   "  --log SPEC       log levels, e.g. info or controller:dbg\n");
}

/* Asks every agent for its report and spec, and makes them the desired state. */
static int rebuild_from_agents(struct controller *c, struct e2_err *err)
{
	uint64_t max_gen = 0;
	unsigned got = 0;
	for (unsigned i = 0; i < c->n_servers; i++) {
		struct server *s = &c->servers[i];
		if (!s->req)
			continue;
		E2__Ctl__AgentRequest q = E2__CTL__AGENT_REQUEST__INIT;
		E2__Ctl__Empty empty = E2__CTL__EMPTY__INIT;
		q.version = E2__CTL__VERSION__VERSION_CURRENT;
		q.op_case = E2__CTL__AGENT_REQUEST__OP_REPORT;
		q.report = &empty;
		size_t len = e2__ctl__agent_request__get_packed_size(&q);
		uint8_t *buf = e2_xmalloc(len + 1);
		e2__ctl__agent_request__pack(&q, buf);
		void *rep = NULL;
		size_t rep_len = 0;
		struct e2_err e2 = {""};
		int rc = e2_chan_call(s->req, buf, len, &rep, &rep_len, AGENT_CALL_MS * 2, &e2);
		free(buf);
		E2__Ctl__AgentResponse *r = rc == 0 ? e2__ctl__agent_response__unpack(NULL, rep_len, rep) : NULL;
		free(rep);
		if (!r || !r->report || !r->report->spec) {
			E2_WARN("rebuild: no report from the agent of %s: %s", s->name, rc < 0 ? e2.msg : "no spec");
			e2__ctl__agent_response__free_unpacked(r, NULL);
			continue;
		}
		const E2__Ctl__ServerSpec *sp = r->report->spec;
		size_t sl = e2__ctl__server_spec__get_packed_size(sp);
		s->spec = e2_xmalloc(sl + 1);
		e2__ctl__server_spec__pack(sp, s->spec);
		s->spec_len = sl;
		s->gen_desired = sp->generation;
		max_gen = sp->generation > max_gen ? sp->generation : max_gen;
		for (size_t k = 0; k < sp->n_instances; k++) {
			struct ctl_store_instance in = {.name = sp->instances[k]->name,
							.server = s->name,
							.nf = sp->instances[k]->nf,
							.detail = "rebuilt from the agent",
							.flow_lo = sp->instances[k]->flow_lo,
							.flow_hi = sp->instances[k]->flow_hi,
							.state = E2__CTL__INSTANCE_STATE__INSTANCE_PENDING,
							.since_ns = now_ns()};
			load_instance(c, &in);
		}
		if (ctl_store_put_spec(c->store, s->name, sp->generation, s->spec, sl, err) < 0) {
			e2__ctl__agent_response__free_unpacked(r, NULL);
			return -1;
		}
		observe_report(c, s, r->report);
		got++;
		e2__ctl__agent_response__free_unpacked(r, NULL);
	}
	for (unsigned i = 0; i < c->n_insts; i++)
		save_instance(c, &c->insts[i]);
	c->generation = max_gen;
	char gen[32];
	snprintf(gen, sizeof gen, "%" PRIu64, max_gen);
	if (ctl_store_set(c->store, "generation", gen, err) < 0)
		return -1;
	E2_WARN("rebuilt from %u of %u agents: %u instances at generation %" PRIu64
		"; the policies are not known until applied again",
		got, c->n_servers, c->n_insts, max_gen);
	return 0;
}

int main(int argc, char **argv)
{
	const char *db = "/var/lib/e2/controller.db", *ctl_url = "ipc:///run/e2/controller.sock",
		   *events_url = "ipc:///run/e2/controller.events", *hw_path = NULL, *nfs_path = NULL, *key_path = NULL,
		   *pidfile = NULL, *log_spec = NULL;
	bool init = false, rebuild = false;
	static const struct option opts[] = {
		{"db", required_argument, NULL, 'd'},      {"init", no_argument, NULL, 'I'},
		{"rebuild", no_argument, NULL, 'R'},       {"ctl", required_argument, NULL, 'c'},
		{"events", required_argument, NULL, 'e'},  {"hardware", required_argument, NULL, 'w'},
		{"nfs", required_argument, NULL, 'n'},     {"key", required_argument, NULL, 'k'},
		{"pidfile", required_argument, NULL, 'p'}, {"log", required_argument, NULL, 'l'},
		{"help", no_argument, NULL, 'h'},          {NULL, 0, NULL, 0},
	};
	int o;
	struct e2_err oerr;
	while ((o = e2_opt_next(argc, argv, "", opts, &oerr)) != -1) {
		switch (o) {
		case 'd': db = optarg; break;
		case 'I': init = true; break;
		case 'R': rebuild = true; break;
		case 'c': ctl_url = optarg; break;
		case 'e': events_url = optarg; break;
		case 'w': hw_path = optarg; break;
		case 'n': nfs_path = optarg; break;
		case 'k': key_path = optarg; break;
		case 'p': pidfile = optarg; break;
		case 'l': log_spec = optarg; break;
		case 'h': usage(stdout); return 0;
		case E2_OPT_BAD: fprintf(stderr, "e2-controller: %s\n", oerr.msg); return 2;
		default: fprintf(stderr, "e2-controller: option %d is not handled (a bug)\n", o); return 2;
		}
	}
	if (optind < argc) {
		fprintf(stderr, "e2-controller: unexpected argument '%s'\n", argv[optind]);
		usage(stderr);
		return 2;
	}
	if (init && rebuild) {
		fprintf(stderr, "e2-controller: --init and --rebuild exclude each other\n");
		return 2;
	}
	struct e2_err err = {""};
	if (log_spec && e2_log_set(log_spec, &err) < 0) {
		fprintf(stderr, "e2-controller: --log: %s\n", err.msg);
		return 2;
	}
	struct controller c = {0};
	pthread_mutex_init(&c.mu, NULL);
	pthread_mutex_init(&c.plan_mu, NULL);
	c.events_url = events_url;
	if (key_path) {
		if (e2_chan_key_load(key_path, &c.key, &err) < 0) {
			fprintf(stderr, "e2-controller: %s\n", err.msg);
			return 1;
		}
		c.have_key = true;
	}
	if (rebuild && access(db, F_OK) == 0) {
		char aside[600];
		snprintf(aside, sizeof aside, "%s.broken-%ld", db, (long)time(NULL));
		if (rename(db, aside) < 0) {
			fprintf(stderr, "e2-controller: %s: cannot set it aside: %s\n", db, strerror(errno));
			return 1;
		}
		for (const char *sfx = "-wal"; sfx; sfx = strcmp(sfx, "-wal") == 0 ? "-shm" : NULL) {
			char a[600], b[700];
			snprintf(a, sizeof a, "%s%s", db, sfx);
			snprintf(b, sizeof b, "%s%s", aside, sfx);
			rename(a, b);
		}
		E2_WARN("%s set aside as %s", db, aside);
	}
	c.store = ctl_store_open(db, init || rebuild ? CTL_STORE_CREATE : CTL_STORE_EXISTING, &err);
	if (!c.store) {
		fprintf(stderr, "e2-controller: %s%s\n", err.msg,
			init || rebuild ? ""
					: "; start with --init to create a database, or --rebuild to rebuild it from "
					  "the agents");
		return 1;
	}
	char *hw_text = description(&c, "hardware", hw_path, &err);
	if (!hw_text) {
		fprintf(stderr, "e2-controller: %s\n", err.msg);
		return 1;
	}
	/* NF descriptions may come later, with the first `e2ctl apply --nfs` */
	struct e2_err nerr = {""};
	char *nfs_text = description(&c, "nfs", nfs_path, &nerr);
	if (!nfs_text && nfs_path) {
		fprintf(stderr, "e2-controller: %s\n", nerr.msg);
		return 1;
	}
	c.hw = e2_hardware_load(hw_text, strlen(hw_text), hw_path ? hw_path : "hardware (stored)", &err);
	if (c.hw && nfs_text)
		c.nfs = e2_nfs_load(nfs_text, strlen(nfs_text), nfs_path ? nfs_path : "nfs (stored)", &err);
	free(hw_text);
	bool nfs_bad = nfs_text && !c.nfs;
	free(nfs_text);
	if (!c.hw || nfs_bad) {
		fprintf(stderr, "e2-controller: %s\n", err.msg);
		return 1;
	}
	c.n_servers = c.hw->servers_count;
	c.servers = e2_xcalloc(c.n_servers, sizeof *c.servers);
	for (unsigned i = 0; i < c.n_servers; i++)
		c.servers[i].name = c.hw->servers[i].name;

	/* sockets: e2ctl's, the events for e2ctl, one SUB for all agents, a REQ per agent */
	const struct e2_chan_key *key = c.have_key ? &c.key : NULL;
	c.ctl = e2_chan_new(E2_CHAN_REP, "controller", NULL, &err);
	if (!c.ctl || e2_chan_bind(c.ctl, ctl_url, &err) < 0) {
		fprintf(stderr, "e2-controller: %s: %s\n", ctl_url, err.msg);
		return 1;
	}
	c.pub = e2_chan_new(E2_CHAN_PUB, "controller", NULL, &err);
	if (!c.pub || e2_chan_bind(c.pub, events_url, &err) < 0) {
		fprintf(stderr, "e2-controller: %s: %s\n", events_url, err.msg);
		return 1;
	}
	c.sub = e2_chan_new(E2_CHAN_SUB, "controller", key, &err);
	if (!c.sub) {
		fprintf(stderr, "e2-controller: %s\n", err.msg);
		return 1;
	}
	for (unsigned i = 0; i < c.n_servers; i++) {
		const struct e2_server *hs = &c.hw->servers[i];
		if (!hs->agent) {
			E2_WARN("server %s names no agent: its part of a plan is kept, not deployed", hs->name);
			continue;
		}
		c.servers[i].req = e2_chan_new(E2_CHAN_REQ, "controller", key, &err);
		if (!c.servers[i].req || e2_chan_connect(c.servers[i].req, hs->agent, &err) < 0 ||
		    e2_chan_connect(c.sub, hs->agent_events, &err) < 0) {
			fprintf(stderr, "e2-controller: server %s: %s\n", hs->name, err.msg);
			return 1;
		}
	}

	if (rebuild) {
		if (rebuild_from_agents(&c, &err) < 0) {
			fprintf(stderr, "e2-controller: %s\n", err.msg);
			return 1;
		}
	} else {
		char *gen = ctl_store_get(c.store, "generation", &err);
		c.generation = gen ? strtoull(gen, NULL, 10) : 0;
		free(gen);
		c.dot = ctl_store_get(c.store, "dot", &err);
		c.resteer = ctl_store_get(c.store, "resteer", &err);
		/* a stop or start seen but not yet planned when the controller died */
		c.resteer_wanted = stopped_in_specs(&c) ? RESTEER_CHECK : RESTEER_COMMIT;
		if (ctl_store_specs(c.store, load_spec, &c, &err) < 0 ||
		    ctl_store_instances(c.store, load_instance, &c, &err) < 0 || load_pipeline_names(&c, &err) < 0) {
			fprintf(stderr, "e2-controller: %s\n", err.msg);
			return 1;
		}
	}
	if (c.hw->fabric.driver && strcmp(c.hw->fabric.driver, "none") != 0) {
		c.fabric = e2_fabric_open(c.hw, &err);
		if (!c.fabric) {
			fprintf(stderr, "e2-controller: fabric: %s\n", err.msg);
			return 1;
		}
		struct docs rules = {0};
		if (ctl_store_rules(c.store, collect_rule, &rules, &err) == 0 && rules.n_deleted)
			program_fabric(&c, rules.deleted, rules.n_deleted);
		docs_free(&rules);
	}
	if (pidfile) {
		FILE *pf = fopen(pidfile, "w");
		if (!pf || fprintf(pf, "%ld\n", (long)getpid()) < 0 || fclose(pf) != 0) {
			fprintf(stderr, "e2-controller: %s: %s\n", pidfile, strerror(errno));
			return 1;
		}
	}
	struct sigaction sa = {.sa_handler = on_signal};
	sigaction(SIGINT, &sa, NULL);
	sigaction(SIGTERM, &sa, NULL);
	signal(SIGPIPE, SIG_IGN);
	E2_INFO("started: %u servers, %u instances, generation %" PRIu64 ", e2ctl on %s", c.n_servers, c.n_insts,
		c.generation, ctl_url);

	pthread_t ct;
	pthread_create(&ct, NULL, ctl_thread, &c);
	agent_loop(&c);
	pthread_join(ct, NULL);

	E2_INFO("stopping");
	e2_chan_close(c.ctl);
	e2_chan_close(c.pub);
	e2_chan_close(c.sub);
	for (unsigned i = 0; i < c.n_servers; i++) {
		e2_chan_close(c.servers[i].req);
		free(c.servers[i].spec);
	}
	free(c.servers);
	free(c.insts);
	free(c.dot);
	free(c.resteer);
	free(c.scale_pending);
	free(c.watch);
	names_free(c.pipelines, c.n_pipelines);
	e2_fabric_close(c.fabric);
	ctl_store_close(c.store);
	e2_nfs_free(c.nfs);
	e2_hardware_free(c.hw);
	if (pidfile)
		unlink(pidfile);
	return 0;
}
