/* SPDX-License-Identifier: BSD-3-Clause */
/* Dispatch of control requests to the dataplane. Responses are built entirely
 * from malloc'd pieces so protobuf-c's free_unpacked releases them. */
#include "ctl.h"

#include <assert.h>
#include <errno.h>
#include <malloc.h>
#include <stdlib.h>
#include <string.h>

#include <rte_ethdev.h>

#include "e2/cmd_alloc.h"
#include "e2/cmd_ops.h"
#include "dp.h"
#include "e2/log.h"

_Static_assert(E2_CTL_NAME_MAX == E2_NAME_MAX, "one name limit for protocol and dataplane");

static struct e2_args to_args(size_t n, E2__Dp__Arg **v, struct e2_arg *storage)
{
	for (size_t i = 0; i < n; i++) {
		storage[i].key = v[i]->key;
		storage[i].value = v[i]->value ? v[i]->value : "";
	}
	return (struct e2_args){.n = n, .v = storage};
}

static E2__Dp__Arg **from_args(const struct e2_arg *v, size_t n)
{
	E2__Dp__Arg **out = ctl_calloc(n, sizeof(*out));
	for (size_t i = 0; i < n; i++) {
		out[i] = ctl_calloc(1, sizeof(**out));
		e2__dp__arg__init(out[i]);
		out[i]->key = ctl_strdup(v[i].key);
		out[i]->value = ctl_strdup(v[i].value);
	}
	return out;
}

static void add_ports(struct e2_dp *dp, E2__Dp__Response *r, const char *only)
{
	r->ports = ctl_calloc(E2_PORTS_MAX, sizeof(*r->ports));
	for (size_t i = 0; i < E2_PORTS_MAX; i++) {
		struct e2_port *p = dp->ports[i];
		E2__Dp__PortInfo *pi;
		if (!p || (only && *only && strcmp(only, p->name) != 0))
			continue;
		pi = ctl_calloc(1, sizeof(*pi));
		e2__dp__port_info__init(pi);
		pi->name = ctl_strdup(p->name);
		pi->driver = ctl_strdup(p->drv->name);
		pi->devargs = ctl_strdup(p->devargs);
		pi->port_id = p->port_id;
		pi->link_up = e2_port_link_up(p);
		pi->rx_packets = p->rx_packets;
		pi->rx_bytes = p->rx_bytes;
		pi->tx_packets = p->tx_packets;
		pi->tx_bytes = p->tx_bytes;
		pi->rx_drops = e2_port_rx_drops(p);
		pi->tx_drops = p->tx_drops;
		pi->native = p->native;
		pi->nsh_stripped = p->nsh_stripped;
		r->ports[r->n_ports++] = pi;
	}
}

static void add_modules(struct e2_dp *dp, E2__Dp__Response *r, const char *only)
{
	r->modules = ctl_calloc(E2_MODULES_MAX, sizeof(*r->modules));
	for (size_t i = 0; i < E2_MODULES_MAX; i++) {
		struct e2_module *m = dp->modules[i];
		E2__Dp__ModuleInfo *mi;
		if (!m || (only && *only && strcmp(only, m->name) != 0))
			continue;
		mi = ctl_calloc(1, sizeof(*mi));
		e2__dp__module_info__init(mi);
		mi->name = ctl_strdup(m->name);
		mi->mclass = ctl_strdup(m->cls->name);
		mi->n_args = m->create_args.n;
		mi->args = from_args(m->create_args.v, m->create_args.n);
		mi->packets = m->packets;
		mi->batches = m->batches;
		/* measured on a sample of the batches: scaled to all of them */
		mi->cycles = (uint64_t)(e2_cycles_per_packet(m) * (double)m->packets);
		mi->drops = m->drops;
		mi->cycles_per_packet = e2_cycles_per_packet(m);
		mi->worker = m->worker ? (int32_t)m->worker->id : -1;
		mi->ogates = ctl_calloc(m->n_ogates, sizeof(*mi->ogates));
		for (uint16_t g = 0; g < m->n_ogates; g++) {
			const struct e2_ogate *og = &m->ogates[g];
			E2__Dp__GateInfo *gi;
			if (!og->next && !og->packets)
				continue;
			gi = ctl_calloc(1, sizeof(*gi));
			e2__dp__gate_info__init(gi);
			gi->gate = g;
			gi->peer = ctl_strdup(og->next ? og->next->name : "");
			gi->peer_gate = og->next_igate;
			gi->packets = og->packets;
			gi->bytes = og->bytes;
			mi->ogates[mi->n_ogates++] = gi;
		}
		r->modules[r->n_modules++] = mi;
	}
}

static void add_workers(struct e2_dp *dp, E2__Dp__Response *r)
{
	r->workers = ctl_calloc(E2_WORKERS_MAX, sizeof(*r->workers));
	for (size_t i = 0; i < E2_WORKERS_MAX; i++) {
		struct e2_worker *w = dp->workers[i];
		E2__Dp__WorkerInfo *wi;
		if (!w)
			continue;
		wi = ctl_calloc(1, sizeof(*wi));
		e2__dp__worker_info__init(wi);
		wi->id = w->id;
		wi->core = w->core;
		wi->busy_cycles = w->busy_cycles;
		wi->idle_cycles = w->idle_cycles;
		wi->packets = w->packets;
		wi->sleeps = w->sleeps;
		wi->tasks = ctl_calloc(w->n_tasks, sizeof(char *));
		for (uint32_t t = 0; t < w->n_tasks; t++)
			wi->tasks[wi->n_tasks++] = ctl_strdup(w->tasks[t]->name);
		r->workers[r->n_workers++] = wi;
	}
}

static void add_classes(E2__Dp__Response *r)
{
	size_t n = e2_module_class_count() + e2_port_driver_count();
	r->classes = ctl_calloc(n, sizeof(*r->classes));
	for (size_t i = 0; i < e2_module_class_count(); i++) {
		const struct e2_module_class *c = e2_module_class_at(i);
		E2__Dp__ClassInfo *ci = ctl_calloc(1, sizeof(*ci));
		size_t nc = 0;
		e2__dp__class_info__init(ci);
		ci->name = ctl_strdup(c->name);
		ci->help = ctl_strdup(c->help);
		ci->igates = c->igates;
		ci->ogates = c->ogates;
		for (const struct e2_cmd *k = c->cmds; k && k->name; k++)
			nc++;
		ci->commands = ctl_calloc(nc, sizeof(char *));
		for (const struct e2_cmd *k = c->cmds; k && k->name; k++) {
			char buf[256];
			snprintf(buf, sizeof(buf), "%s %s", k->name, k->help ? k->help : "");
			ci->commands[ci->n_commands++] = ctl_strdup(buf);
		}
		r->classes[r->n_classes++] = ci;
	}
	for (size_t i = 0; i < e2_port_driver_count(); i++) {
		const struct e2_port_driver *d = e2_port_driver_at(i);
		E2__Dp__ClassInfo *ci = ctl_calloc(1, sizeof(*ci));
		char buf[80];
		e2__dp__class_info__init(ci);
		snprintf(buf, sizeof(buf), "port:%s", d->name);
		ci->name = ctl_strdup(buf);
		ci->help = ctl_strdup(d->help);
		r->classes[r->n_classes++] = ci;
	}
}

static void add_result(E2__Dp__Response *r, const struct e2_result *res)
{
	r->result = from_args(res->v, res->n);
	r->n_result = res->n;
}

static E2__Dp__Response *new_response(void)
{
	E2__Dp__Response *r = ctl_calloc(1, sizeof(*r));
	e2__dp__response__init(r);
	r->version = E2_CTL_VERSION;
	return r;
}

static void set_error(E2__Dp__Response *r, int code, const char *err)
{
	r->code = code;
	r->error = ctl_strdup(err);
}

/* Each run_NAME executes a checked request on the dataplane, filling r; 0 or an errno
 * value with err (E2_ERR_MAX bytes). */

static int run_port_add(struct e2_dp *dp, const E2__Dp__Request *req, E2__Dp__Response *r, bool *shutdown, char *err)
{
	struct e2_arg storage[E2_CTL_ARGS_MAX];
	struct e2_args args = to_args(req->port_create->n_args, req->port_create->args, storage);
	return e2_dp_port_create(dp, req->port_create->name, req->port_create->driver, &args, err);
}

static int run_port_del(struct e2_dp *dp, const E2__Dp__Request *req, E2__Dp__Response *r, bool *shutdown, char *err)
{
	return e2_dp_port_destroy(dp, req->port_destroy->name, err);
}

static int run_module_add(struct e2_dp *dp, const E2__Dp__Request *req, E2__Dp__Response *r, bool *shutdown, char *err)
{
	struct e2_arg storage[E2_CTL_ARGS_MAX];
	struct e2_args args = to_args(req->module_create->n_args, req->module_create->args, storage);
	return e2_dp_module_create(dp, req->module_create->name, req->module_create->mclass, &args, err);
}

static int run_module_del(struct e2_dp *dp, const E2__Dp__Request *req, E2__Dp__Response *r, bool *shutdown, char *err)
{
	return e2_dp_module_destroy(dp, req->module_destroy->name, err);
}

static int run_module_cmd(struct e2_dp *dp, const E2__Dp__Request *req, E2__Dp__Response *r, bool *shutdown, char *err)
{
	struct e2_arg storage[E2_CTL_ARGS_MAX];
	struct e2_result *res = ctl_calloc(1, sizeof(*res));
	struct e2_args args = to_args(req->module_command->n_args, req->module_command->args, storage);
	int rc = e2_dp_module_command(dp, req->module_command->module, req->module_command->cmd, &args, res, err);
	if (!rc)
		add_result(r, res);
	free(res);
	return rc;
}

static int run_connect(struct e2_dp *dp, const E2__Dp__Request *req, E2__Dp__Response *r, bool *shutdown, char *err)
{
	return e2_dp_connect(dp, req->connect->from->module, req->connect->from->gate, req->connect->to->module,
			     req->connect->to->gate, err);
}

static int run_disconnect(struct e2_dp *dp, const E2__Dp__Request *req, E2__Dp__Response *r, bool *shutdown, char *err)
{
	return e2_dp_disconnect(dp, req->disconnect->module, req->disconnect->gate, err);
}

static int run_insert(struct e2_dp *dp, const E2__Dp__Request *req, E2__Dp__Response *r, bool *shutdown, char *err)
{
	return e2_dp_insert(dp, req->insert->at->module, req->insert->at->gate, req->insert->module, err);
}

static int run_capture(struct e2_dp *dp, const E2__Dp__Request *req, E2__Dp__Response *r, bool *shutdown, char *err)
{
	struct e2_arg storage[E2_CTL_ARGS_MAX];
	struct e2_result *res = ctl_calloc(1, sizeof(*res));
	struct e2_args args = to_args(req->capture->n_args, req->capture->args, storage);
	int rc = e2_dp_capture(dp, req->capture->at->module, req->capture->at->gate, req->capture->stop, &args, res,
			       err);
	if (!rc)
		add_result(r, res);
	free(res);
	return rc;
}

static int run_worker_add(struct e2_dp *dp, const E2__Dp__Request *req, E2__Dp__Response *r, bool *shutdown, char *err)
{
	return e2_dp_worker_create(dp, req->worker_create->id, req->worker_create->core, err);
}

static int run_task_attach(struct e2_dp *dp, const E2__Dp__Request *req, E2__Dp__Response *r, bool *shutdown, char *err)
{
	return e2_dp_task_attach(dp, req->task_attach->module, req->task_attach->worker, err);
}

static enum e2_sched_policy policy_of(E2__Dp__SchedPolicy p)
{
	switch (p) {
	case E2__DP__SCHED_POLICY__SCHED_PRIORITY: return E2_SCHED_PRIORITY;
	case E2__DP__SCHED_POLICY__SCHED_WEIGHTED_FAIR: return E2_SCHED_WEIGHTED_FAIR;
	case E2__DP__SCHED_POLICY__SCHED_ROUND_ROBIN: return E2_SCHED_ROUND_ROBIN;
	default: return E2_SCHED_RATE_LIMIT; /* e2_cmd_check took no other */
	}
}

/* The settings of a request; resource UNSPECIFIED is "not given". */
static struct e2_sched_params params_of(bool has_share, uint32_t share, bool has_priority, uint32_t priority,
					E2__Dp__SchedResource resource, bool has_limit, uint64_t limit, bool has_burst,
					uint64_t burst)
{
	struct e2_sched_params p = {
		.has_share = has_share,
		.share = share,
		.has_priority = has_priority,
		.priority = priority,
		.has_limit = has_limit,
		.limit = limit,
		.has_burst = has_burst,
		.burst = burst,
		.has_resource = resource != E2__DP__SCHED_RESOURCE__SCHED_RESOURCE_UNSPECIFIED,
	};
	switch (resource) {
	case E2__DP__SCHED_RESOURCE__SCHED_PACKETS: p.resource = E2_RES_PACKETS; break;
	case E2__DP__SCHED_RESOURCE__SCHED_BITS: p.resource = E2_RES_BITS; break;
	default: p.resource = E2_RES_CYCLES; break;
	}
	return p;
}

static int run_sched_add(struct e2_dp *dp, const E2__Dp__Request *req, E2__Dp__Response *r, bool *shutdown, char *err)
{
	const E2__Dp__SchedAdd *c = req->sched_add;
	struct e2_sched_params p = params_of(c->has_share_case, c->share, c->has_priority_case, c->priority,
					     c->resource, c->has_limit_case, c->limit, c->has_burst_case, c->burst);
	return e2_dp_sched_add(dp, c->name, policy_of(c->policy), c->has_parent_case ? c->parent : NULL,
			       c->has_worker_case ? &c->worker : NULL, &p, err);
}

static int run_sched_attach(struct e2_dp *dp, const E2__Dp__Request *req, E2__Dp__Response *r, bool *shutdown,
			    char *err)
{
	const E2__Dp__SchedAttach *c = req->sched_attach;
	struct e2_sched_params p = params_of(c->has_share_case, c->share, c->has_priority_case, c->priority,
					     E2__DP__SCHED_RESOURCE__SCHED_RESOURCE_UNSPECIFIED, false, 0, false, 0);
	return e2_dp_sched_attach(dp, c->name, c->parent, &p, err);
}

static int run_sched_set(struct e2_dp *dp, const E2__Dp__Request *req, E2__Dp__Response *r, bool *shutdown, char *err)
{
	const E2__Dp__SchedSet *c = req->sched_set;
	struct e2_sched_params p = params_of(c->has_share_case, c->share, c->has_priority_case, c->priority,
					     c->resource, c->has_limit_case, c->limit, c->has_burst_case, c->burst);
	return e2_dp_sched_set(dp, c->name, &p, err);
}

static int run_sched_del(struct e2_dp *dp, const E2__Dp__Request *req, E2__Dp__Response *r, bool *shutdown, char *err)
{
	return e2_dp_sched_del(dp, req->sched_del->name, err);
}

static int run_sched_show(struct e2_dp *dp, const E2__Dp__Request *req, E2__Dp__Response *r, bool *shutdown, char *err)
{
	struct e2_result *res = ctl_calloc(1, sizeof(*res));
	e2_dp_sched_show(dp, req->sched_show->has_worker_case ? &req->sched_show->worker : NULL, res);
	add_result(r, res);
	free(res);
	return 0;
}

static int run_stats(struct e2_dp *dp, const E2__Dp__Request *req, E2__Dp__Response *r, bool *shutdown, char *err)
{
	const char *name = req->stats->name;
	if (name && *name && !e2_dp_port_find(dp, name) && !e2_dp_module_find(dp, name)) {
		snprintf(err, E2_ERR_MAX, "no port or module named '%s'", name);
		return ENOENT;
	}
	add_ports(dp, r, name);
	add_modules(dp, r, name);
	if (!name || !*name)
		add_workers(dp, r);
	/* module-specific counters, e.g. queue occupancy */
	struct e2_result *res = ctl_calloc(1, sizeof(*res));
	for (size_t i = 0; i < E2_MODULES_MAX; i++) {
		struct e2_module *m = dp->modules[i];
		if (m && m->cls->stats && (!name || !*name || strcmp(name, m->name) == 0)) {
			struct e2_result one = {0};
			m->cls->stats(m, &one);
			for (size_t k = 0; k < one.n; k++)
				e2_result_add(res, m->name, "%s=%s", one.v[k].key, one.v[k].value);
		}
	}
	/* buffers out of the pool (in rings, queues, NFs' rings) and bytes malloc has
	 * handed out and not had back (all arenas): a leak shows as growth of either,
	 * while the process's RSS also moves with stacks and allocator free lists */
	if (!name || !*name) {
		struct mallinfo2 mi = mallinfo2();
		e2_result_add(res, "e2d", "mbufs_in_use=%u mbufs_total=%u heap_in_use=%zu",
			      rte_mempool_in_use_count(dp->pool), dp->pool->size, mi.uordblks + mi.hblkhd);
	}
	add_result(r, res);
	free(res);
	if (req->stats->reset)
		e2_dp_reset_stats(dp, name);
	return 0;
}

static int run_list(struct e2_dp *dp, const E2__Dp__Request *req, E2__Dp__Response *r, bool *shutdown, char *err)
{
	add_ports(dp, r, NULL);
	add_modules(dp, r, NULL);
	add_workers(dp, r);
	return 0;
}

static int run_classes(struct e2_dp *dp, const E2__Dp__Request *req, E2__Dp__Response *r, bool *shutdown, char *err)
{
	add_classes(r);
	return 0;
}

static int run_ping(struct e2_dp *dp, const E2__Dp__Request *req, E2__Dp__Response *r, bool *shutdown, char *err)
{
	return 0;
}

static int run_log_set(struct e2_dp *dp, const E2__Dp__Request *req, E2__Dp__Response *r, bool *shutdown, char *err)
{
	struct e2_err e;
	if (e2_log_set(req->log_set->spec, &e)) {
		snprintf(err, E2_ERR_MAX, "%s", e.msg);
		return EINVAL;
	}
	return 0;
}

/* One result per log module: its name and level. */
static int run_log_show(struct e2_dp *dp, const E2__Dp__Request *req, E2__Dp__Response *r, bool *shutdown, char *err)
{
	/* modules register before main() and never leave: the count cannot change here */
	size_t n = e2_log_modules(NULL, 0);
	struct e2_log_module **mods = ctl_calloc(n ? n : 1, sizeof(*mods));
	n = e2_log_modules(mods, n);
	r->result = ctl_calloc(n ? n : 1, sizeof(*r->result));
	for (size_t i = 0; i < n; i++) {
		E2__Dp__Arg *a = ctl_calloc(1, sizeof(*a));
		e2__dp__arg__init(a);
		a->key = ctl_strdup(mods[i]->name);
		a->value = ctl_strdup(e2_log_level_name(e2_log_level_of(mods[i])));
		r->result[r->n_result++] = a;
	}
	free(mods);
	return 0;
}

static int run_shutdown(struct e2_dp *dp, const E2__Dp__Request *req, E2__Dp__Response *r, bool *shutdown, char *err)
{
	if (shutdown)
		*shutdown = true;
	return 0;
}

/* e2d's half of the operations table (e2/cmd_ops.h) */
struct run_op {
	E2__Dp__Request__OpCase op;
	int (*run)(struct e2_dp *dp, const E2__Dp__Request *req, E2__Dp__Response *r, bool *shutdown, char *err);
	bool may_pause;
};

#define MAY_PAUSE true
#define NEVER_PAUSES false
#define RUN_ROW(name, words, op, workers, usage) {E2__DP__REQUEST__OP_##op, run_##name, workers},
static const struct run_op run_ops[] = {E2_CMD_OPS(RUN_ROW)};

E2__Dp__Response *e2_ctl_handle(struct e2_dp *dp, const E2__Dp__Request *req, bool *shutdown)
{
	E2__Dp__Response *r = new_response();
	char err[E2_ERR_MAX] = "";
	int rc = e2_cmd_check(req, err, sizeof(err));

	if (rc) {
		set_error(r, rc, err);
		return r;
	}
	r->tsc_hz = dp->tsc_hz;
	/* e2_cmd_check took only operations of the table */
	for (size_t i = 0; i < sizeof(run_ops) / sizeof(run_ops[0]); i++) {
		if (run_ops[i].op != req->op_case)
			continue;
		uint64_t pauses = dp->pauses;
		rc = run_ops[i].run(dp, req, r, shutdown, err);
		/* a read-only request leaves traffic alone (debug builds check the table) */
		assert(run_ops[i].may_pause || dp->pauses == pauses);
		(void)pauses;
		break;
	}
	if (rc)
		set_error(r, rc, err);
	return r;
}

E2__Dp__Response *e2_ctl_handle_bytes(struct e2_dp *dp, const uint8_t *buf, size_t len, bool *shutdown)
{
	E2__Dp__Request *req;
	E2__Dp__Response *r;

	if (len > E2_CTL_MAX_MSG) {
		r = new_response();
		char msg[128];
		snprintf(msg, sizeof(msg), "request of %zu bytes is larger than the limit of %d bytes (1 MiB)", len,
			 E2_CTL_MAX_MSG);
		set_error(r, EMSGSIZE, msg);
		return r;
	}
	req = e2__dp__request__unpack(NULL, len, buf);
	if (!req) {
		r = new_response();
		set_error(r, EBADMSG, "request is not a valid e2.dp.Request message (malformed or truncated)");
		return r;
	}
	r = e2_ctl_handle(dp, req, shutdown);
	e2__dp__request__free_unpacked(req, NULL);
	return r;
}
