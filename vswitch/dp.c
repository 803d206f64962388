/* SPDX-License-Identifier: BSD-3-Clause */
/* Operations on the dataplane state. Each validates everything first and only
 * then changes state (with the workers paused when they could see the change),
 * so a refused request leaves the running graph exactly as it was. */
#include "dp.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <rte_errno.h>
#include <rte_cycles.h>
#include <rte_malloc.h>
#include <rte_mbuf.h>
#include <rte_mempool.h>

static bool valid_name(const char *name, char *err)
{
	size_t n = strlen(name);
	if (n == 0 || n >= E2_NAME_MAX) {
		snprintf(err, E2_ERR_MAX, "name must have 1 to %d characters", E2_NAME_MAX - 1);
		return false;
	}
	for (size_t i = 0; i < n; i++) {
		char c = name[i];
		if (!((c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') || c == '_' ||
		      c == '-' || c == '.')) {
			snprintf(err, E2_ERR_MAX, "name '%s' may only contain letters, digits, '_', '-' and '.'", name);
			return false;
		}
	}
	return true;
}

int e2_dp_init(struct e2_dp *dp, unsigned n_mbufs, char *err)
{
	memset(dp, 0, sizeof(*dp));
	dp->tsc_hz = rte_get_tsc_hz();
	dp->idle_spin_us = 200;
	dp->max_sleep_us = 250;
	if (e2_meta_register() != 0) {
		snprintf(err, E2_ERR_MAX, "cannot register the mbuf metadata field: %s", rte_strerror(rte_errno));
		return -1;
	}
	dp->pool =
		rte_pktmbuf_pool_create("e2d_pool", n_mbufs, 256, 0, RTE_MBUF_DEFAULT_BUF_SIZE, (int)rte_socket_id());
	if (!dp->pool) {
		snprintf(err, E2_ERR_MAX, "cannot allocate %u packet buffers: %s", n_mbufs, rte_strerror(rte_errno));
		return -1;
	}
	return 0;
}

void e2_dp_fini(struct e2_dp *dp)
{
	for (size_t i = 0; i < E2_WORKERS_MAX; i++) {
		e2_worker_stop(dp->workers[i]);
		dp->workers[i] = NULL;
	}
	/* Modules first (they hold ports), downstream order does not matter once workers stopped. */
	for (size_t i = 0; i < E2_MODULES_MAX; i++) {
		struct e2_module *m = dp->modules[i];
		if (!m)
			continue;
		if (m->cls->deinit)
			m->cls->deinit(m);
		free((void *)m->create_args.v);
		rte_free(m);
		dp->modules[i] = NULL;
	}
	for (size_t i = 0; i < E2_PORTS_MAX; i++) {
		e2_port_close(dp->ports[i]);
		dp->ports[i] = NULL;
	}
	rte_mempool_free(dp->pool);
	dp->pool = NULL;
}

struct e2_port *e2_dp_port_find(struct e2_dp *dp, const char *name)
{
	for (size_t i = 0; i < E2_PORTS_MAX; i++)
		if (dp->ports[i] && strcmp(dp->ports[i]->name, name) == 0)
			return dp->ports[i];
	return NULL;
}

struct e2_module *e2_dp_module_find(struct e2_dp *dp, const char *name)
{
	for (size_t i = 0; i < E2_MODULES_MAX; i++)
		if (dp->modules[i] && strcmp(dp->modules[i]->name, name) == 0)
			return dp->modules[i];
	return NULL;
}

struct e2_worker *e2_dp_worker_find(struct e2_dp *dp, uint32_t id)
{
	for (size_t i = 0; i < E2_WORKERS_MAX; i++)
		if (dp->workers[i] && dp->workers[i]->id == id)
			return dp->workers[i];
	return NULL;
}

void e2_dp_pause(struct e2_dp *dp)
{
	dp->pauses++;
	for (size_t i = 0; i < E2_WORKERS_MAX; i++)
		if (dp->workers[i])
			e2_worker_pause(dp->workers[i]);
}

void e2_dp_resume(struct e2_dp *dp)
{
	__atomic_store_n(&dp->graph_gen, dp->graph_gen + 1, __ATOMIC_RELEASE);
	for (size_t i = 0; i < E2_WORKERS_MAX; i++)
		if (dp->workers[i])
			e2_worker_resume(dp->workers[i]);
}

struct e2_args e2_args_dup(const struct e2_args *a)
{
	struct e2_args out = {0};
	size_t bytes = 0;
	char *p;
	struct e2_arg *v;

	if (!a || a->n == 0)
		return out;
	for (size_t i = 0; i < a->n; i++)
		bytes += strlen(a->v[i].key) + strlen(a->v[i].value) + 2;
	v = malloc(a->n * sizeof(*v) + bytes);
	if (!v)
		return out;
	p = (char *)(v + a->n);
	for (size_t i = 0; i < a->n; i++) {
		v[i].key = strcpy(p, a->v[i].key);
		p += strlen(p) + 1;
		v[i].value = strcpy(p, a->v[i].value);
		p += strlen(p) + 1;
	}
	out.n = a->n;
	out.v = v;
	return out;
}

int e2_dp_port_create(struct e2_dp *dp, const char *name, const char *driver, const struct e2_args *args, char *err)
{
	const struct e2_port_driver *drv;
	struct e2_port *p;
	size_t slot;

	if (!valid_name(name, err))
		return EINVAL;
	if (e2_dp_port_find(dp, name)) {
		snprintf(err, E2_ERR_MAX, "port '%s' already exists", name);
		return EEXIST;
	}
	drv = e2_port_driver_find(driver);
	if (!drv) {
		int off = snprintf(err, E2_ERR_MAX, "unknown port driver '%s' (known:", driver);
		for (size_t i = 0; i < e2_port_driver_count() && off < E2_ERR_MAX; i++)
			off += snprintf(err + off, E2_ERR_MAX - off, " %s", e2_port_driver_at(i)->name);
		if (off < E2_ERR_MAX)
			snprintf(err + off, E2_ERR_MAX - off, ")");
		return EINVAL;
	}
	for (slot = 0; slot < E2_PORTS_MAX && dp->ports[slot]; slot++)
		;
	if (slot == E2_PORTS_MAX) {
		snprintf(err, E2_ERR_MAX, "too many ports (at most %d)", E2_PORTS_MAX);
		return ENOSPC;
	}
	p = e2_port_open(name, drv, args, dp->pool, err);
	if (!p)
		return EINVAL;
	p->args = e2_args_dup(args);
	dp->ports[slot] = p;
	return 0;
}

int e2_dp_port_destroy(struct e2_dp *dp, const char *name, char *err)
{
	struct e2_port *p = e2_dp_port_find(dp, name);

	if (!p) {
		snprintf(err, E2_ERR_MAX, "no port named '%s'", name);
		return ENOENT;
	}
	for (size_t q = 0; q < 8; q++)
		if (p->in_users[q]) {
			snprintf(err, E2_ERR_MAX, "port '%s' is used by module '%s'; destroy it first", name,
				 p->in_users[q]->name);
			return EBUSY;
		}
	if (p->out_user) {
		snprintf(err, E2_ERR_MAX, "port '%s' is used by module '%s'; destroy it first", name,
			 p->out_user->name);
		return EBUSY;
	}
	for (size_t i = 0; i < E2_PORTS_MAX; i++)
		if (dp->ports[i] == p)
			dp->ports[i] = NULL;
	e2_port_close(p);
	return 0;
}

int e2_dp_module_create(struct e2_dp *dp, const char *name, const char *clsname, const struct e2_args *args, char *err)
{
	const struct e2_module_class *cls;
	struct e2_module *m;
	size_t slot;

	if (!valid_name(name, err))
		return EINVAL;
	if (e2_dp_module_find(dp, name)) {
		snprintf(err, E2_ERR_MAX, "module '%s' already exists", name);
		return EEXIST;
	}
	cls = e2_module_class_find(clsname);
	if (!cls) {
		int off = snprintf(err, E2_ERR_MAX, "unknown module class '%s' (known:", clsname);
		for (size_t i = 0; i < e2_module_class_count() && off < E2_ERR_MAX; i++)
			off += snprintf(err + off, E2_ERR_MAX - off, " %s", e2_module_class_at(i)->name);
		if (off < E2_ERR_MAX)
			snprintf(err + off, E2_ERR_MAX - off, ")");
		return EINVAL;
	}
	for (slot = 0; slot < E2_MODULES_MAX && dp->modules[slot]; slot++)
		;
	if (slot == E2_MODULES_MAX) {
		snprintf(err, E2_ERR_MAX, "too many modules (at most %d)", E2_MODULES_MAX);
		return ENOSPC;
	}
	char why[E2_ERR_MAX];
	if (e2_args_check_known(args, cls->args, why)) {
		snprintf(err, E2_ERR_MAX, "%s: %.200s", cls->name, why);
		return EINVAL;
	}
	m = rte_zmalloc("e2_module", sizeof(*m) + cls->priv_size, 64);
	if (!m) {
		snprintf(err, E2_ERR_MAX, "out of memory");
		return ENOMEM;
	}
	snprintf(m->name, sizeof(m->name), "%s", name);
	m->cls = cls;
	m->dp = dp;
	m->slot = (uint16_t)slot;
	m->n_ogates = cls->ogates;
	/* init may touch ports shared with workers (port_in claims its port): pause. */
	e2_dp_pause(dp);
	int rc = cls->init ? cls->init(m, args, err) : 0;
	if (rc != 0) {
		e2_dp_resume(dp);
		rte_free(m);
		return rc > 0 ? rc : EINVAL;
	}
	m->create_args = e2_args_dup(args);
	dp->modules[slot] = m;
	if (cls->run_task) {
		struct e2_worker *w = e2_dp_worker_find(dp, 0);
		for (size_t i = 0; !w && i < E2_WORKERS_MAX; i++)
			w = dp->workers[i];
		if (w)
			e2_worker_add_task(w, m);
	}
	e2_dp_resume(dp);
	return 0;
}

static void unlink_gate(struct e2_ogate *g)
{
	if (g->next)
		g->next->igate_refs--;
	g->next = NULL;
	g->next_igate = 0;
}

int e2_dp_module_destroy(struct e2_dp *dp, const char *name, char *err)
{
	struct e2_module *m = e2_dp_module_find(dp, name);

	if (!m) {
		snprintf(err, E2_ERR_MAX, "no module named '%s'", name);
		return ENOENT;
	}
	e2_dp_pause(dp);
	for (size_t i = 0; i < E2_MODULES_MAX; i++) {
		struct e2_module *u = dp->modules[i];
		if (!u)
			continue;
		for (uint16_t g = 0; g < u->n_ogates; g++)
			if (u->ogates[g].next == m)
				unlink_gate(&u->ogates[g]);
		if (u == m)
			dp->modules[i] = NULL;
	}
	for (uint16_t g = 0; g < m->n_ogates; g++)
		unlink_gate(&m->ogates[g]);
	if (m->worker)
		e2_worker_remove_task(m->worker, m);
	if (m->cls->deinit)
		m->cls->deinit(m);
	e2_dp_resume(dp);
	free((void *)m->create_args.v);
	rte_free(m);
	return 0;
}

static int ogate_out_of_range(const struct e2_module *m, uint32_t ogate, char *err)
{
	if (m->n_ogates == 0)
		snprintf(err, E2_ERR_MAX, "module '%s' (%s) has no output gates", m->name, m->cls->name);
	else
		snprintf(err, E2_ERR_MAX, "module '%s' (%s) has output gates 0..%u; %u is out of range", m->name,
			 m->cls->name, m->n_ogates - 1u, ogate);
	return EINVAL;
}

int e2_dp_connect(struct e2_dp *dp, const char *from, uint32_t ogate, const char *to, uint32_t igate, char *err)
{
	struct e2_module *a = e2_dp_module_find(dp, from), *b = e2_dp_module_find(dp, to);

	if (!a || !b) {
		snprintf(err, E2_ERR_MAX, "no module named '%s'", !a ? from : to);
		return ENOENT;
	}
	if (ogate >= a->n_ogates)
		return ogate_out_of_range(a, ogate, err);
	if (igate >= b->cls->igates) {
		snprintf(err, E2_ERR_MAX, "module '%s' (%s) has %u input gates; %u is out of range", to, b->cls->name,
			 b->cls->igates, igate);
		return EINVAL;
	}
	if (a->ogates[ogate].next) {
		snprintf(err, E2_ERR_MAX, "output gate %s:%u is already connected to %s:%u; disconnect it first", from,
			 ogate, a->ogates[ogate].next->name, a->ogates[ogate].next_igate);
		return EBUSY;
	}
	int rc = e2_graph_check_connect(dp, a, ogate, b, err);
	if (rc)
		return rc;
	e2_dp_pause(dp);
	a->ogates[ogate].next_igate = (uint16_t)igate;
	a->ogates[ogate].next = b;
	b->igate_refs++;
	e2_dp_resume(dp);
	return 0;
}

int e2_dp_insert(struct e2_dp *dp, const char *from, uint32_t ogate, const char *module, char *err)
{
	struct e2_module *a = e2_dp_module_find(dp, from), *q = e2_dp_module_find(dp, module);

	if (!a || !q) {
		snprintf(err, E2_ERR_MAX, "no module named '%s'", !a ? from : module);
		return ENOENT;
	}
	if (ogate >= a->n_ogates || !a->ogates[ogate].next) {
		snprintf(err, E2_ERR_MAX, "output gate %s:%u is not connected; nothing to insert into", from, ogate);
		return EINVAL;
	}
	if (q == a || a->ogates[ogate].next == q) {
		snprintf(err, E2_ERR_MAX, "'%s' cannot be inserted after itself", module);
		return EINVAL;
	}
	if (q->cls->igates < 1 || q->n_ogates < 1) {
		snprintf(err, E2_ERR_MAX, "'%s' (%s) needs an input and an output gate to sit on an edge", module,
			 q->cls->name);
		return EINVAL;
	}
	if (q->ogates[0].next || q->igate_refs) {
		snprintf(err, E2_ERR_MAX, "'%s' is already connected; insert takes a module fresh from 'module add'",
			 module);
		return EBUSY;
	}
	int rc = e2_graph_check_insert(dp, a, ogate, q, err);
	if (rc)
		return rc;
	e2_dp_pause(dp);
	q->ogates[0].next = a->ogates[ogate].next;
	q->ogates[0].next_igate = a->ogates[ogate].next_igate;
	a->ogates[ogate].next = q;
	a->ogates[ogate].next_igate = 0;
	q->igate_refs++;
	e2_dp_resume(dp);
	return 0;
}

int e2_dp_bypass(struct e2_dp *dp, const char *module, char *err)
{
	struct e2_module *q = e2_dp_module_find(dp, module), *up = NULL;
	uint16_t up_gate = 0;

	if (!q) {
		snprintf(err, E2_ERR_MAX, "no module named '%s'", module);
		return ENOENT;
	}
	for (size_t i = 0; i < E2_MODULES_MAX; i++) {
		struct e2_module *u = dp->modules[i];
		for (uint16_t g = 0; u && g < u->n_ogates; g++)
			if (u->ogates[g].next == q) {
				if (up) {
					snprintf(err, E2_ERR_MAX, "'%s' has several upstream edges", module);
					return EINVAL;
				}
				up = u;
				up_gate = g;
			}
	}
	if (!up || q->n_ogates < 1 || !q->ogates[0].next) {
		snprintf(err, E2_ERR_MAX, "'%s' does not sit on an edge", module);
		return EINVAL;
	}
	e2_dp_pause(dp);
	up->ogates[up_gate].next = q->ogates[0].next;
	up->ogates[up_gate].next_igate = q->ogates[0].next_igate;
	q->ogates[0].next = NULL;
	q->igate_refs--;
	e2_dp_resume(dp);
	return e2_dp_module_destroy(dp, module, err);
}

int e2_dp_capture(struct e2_dp *dp, const char *at, uint32_t gate, bool stop, const struct e2_args *args,
		  struct e2_result *out, char *err)
{
	struct e2_module *m = e2_dp_module_find(dp, at);
	struct e2_port *p = m ? NULL : e2_dp_port_find(dp, at);
	char name[E2_NAME_MAX];
	int rc;

	if (!m && !p) {
		snprintf(err, E2_ERR_MAX, "no module or port named '%s'", at);
		return ENOENT;
	}
	if (p) {
		/* a port: what e2d receives from it, i.e. what its port_in emits */
		m = p->in_users[0];
		gate = 0;
		if (!m) {
			snprintf(err, E2_ERR_MAX, "port '%s' has no port_in module to capture from", at);
			return EINVAL;
		}
	}
	if ((size_t)snprintf(name, sizeof(name), "cap.%s.%u", m->name, gate) >= sizeof(name)) {
		snprintf(err, E2_ERR_MAX, "module name '%s' is too long to capture from", m->name);
		return EINVAL;
	}
	struct e2_module *cap = e2_dp_module_find(dp, name);
	if (stop) {
		if (!cap) {
			snprintf(err, E2_ERR_MAX, "no capture running on %s:%u", m->name, gate);
			return ENOENT;
		}
		struct e2_args none = {0};
		e2_dp_module_command(dp, name, "stop", &none, out, err);
		return e2_dp_bypass(dp, name, err);
	}
	if (!cap) {
		if (gate >= m->n_ogates || !m->ogates[gate].next) {
			snprintf(err, E2_ERR_MAX, "output gate %s:%u is not connected: no packets to capture", m->name,
				 gate);
			return EINVAL;
		}
		if ((rc = e2_dp_module_create(dp, name, "capture", NULL, err)) != 0)
			return rc;
		if ((rc = e2_dp_insert(dp, m->name, gate, name, err)) != 0) {
			char ignore[E2_ERR_MAX];
			e2_dp_module_destroy(dp, name, ignore);
			return rc;
		}
	}
	rc = e2_dp_module_command(dp, name, "start", args, out, err);
	if (rc && !cap) {
		char ignore[E2_ERR_MAX];
		e2_dp_bypass(dp, name, ignore); /* refused: leave the graph as it was */
	}
	if (!rc)
		e2_result_add(out, "capture", "%s", name);
	return rc;
}

int e2_dp_disconnect(struct e2_dp *dp, const char *from, uint32_t ogate, char *err)
{
	struct e2_module *a = e2_dp_module_find(dp, from);

	if (!a) {
		snprintf(err, E2_ERR_MAX, "no module named '%s'", from);
		return ENOENT;
	}
	if (ogate >= a->n_ogates)
		return ogate_out_of_range(a, ogate, err);
	if (!a->ogates[ogate].next) {
		snprintf(err, E2_ERR_MAX, "output gate %s:%u is not connected", from, ogate);
		return ENOENT;
	}
	e2_dp_pause(dp);
	unlink_gate(&a->ogates[ogate]);
	e2_dp_resume(dp);
	return 0;
}

int e2_dp_module_command(struct e2_dp *dp, const char *module, const char *cmd, const struct e2_args *args,
			 struct e2_result *out, char *err)
{
	struct e2_module *m = e2_dp_module_find(dp, module);
	const struct e2_cmd *c = NULL;
	int rc;

	if (!m) {
		snprintf(err, E2_ERR_MAX, "no module named '%s'", module);
		return ENOENT;
	}
	for (const struct e2_cmd *i = m->cls->cmds; i && i->name; i++)
		if (strcmp(i->name, cmd) == 0)
			c = i;
	if (!c) {
		int off = snprintf(err, E2_ERR_MAX, "module class %s has no command '%s' (has:", m->cls->name, cmd);
		for (const struct e2_cmd *i = m->cls->cmds; i && i->name && off < E2_ERR_MAX; i++)
			off += snprintf(err + off, E2_ERR_MAX - off, " %s", i->name);
		if (off < E2_ERR_MAX)
			snprintf(err + off, E2_ERR_MAX - off, ")");
		return EINVAL;
	}
	char why[E2_ERR_MAX];
	if (e2_args_check_known(args, c->args, why)) {
		snprintf(err, E2_ERR_MAX, "%s %s: %.200s", m->cls->name, c->name, why);
		return EINVAL;
	}
	if (!c->thread_safe)
		e2_dp_pause(dp);
	rc = c->fn(m, args, out, err);
	if (!c->thread_safe)
		e2_dp_resume(dp);
	return rc < 0 ? EINVAL : rc;
}

int e2_dp_worker_create(struct e2_dp *dp, uint32_t id, int core, char *err)
{
	size_t slot;
	struct e2_worker *w;

	struct e2_worker *old = e2_dp_worker_find(dp, id);
	if (old) {
		/* the same worker again (or with no core given) is not an error: plans
		 * and configurations can be applied on top of a running e2d */
		if (core < 0 || old->core == core)
			return 0;
		snprintf(err, E2_ERR_MAX, "worker %u already exists on core %d", id, old->core);
		return EEXIST;
	}
	if (core >= CPU_SETSIZE || core < -1) {
		snprintf(err, E2_ERR_MAX, "core %d does not exist", core);
		return EINVAL;
	}
	if (core >= 0) {
		cpu_set_t allowed;
		if (sched_getaffinity(0, sizeof(allowed), &allowed) == 0 && !CPU_ISSET(core, &allowed)) {
			snprintf(err, E2_ERR_MAX, "core %d is not available to e2d", core);
			return EINVAL;
		}
		/* two polling workers pinned to one core take turns by the scheduler's
		 * time slice, and both collapse to a trickle */
		for (size_t i = 0; i < E2_WORKERS_MAX; i++)
			if (dp->workers[i] && dp->workers[i]->core == core) {
				snprintf(err, E2_ERR_MAX, "core %d is already used by worker %u", core,
					 dp->workers[i]->id);
				return EBUSY;
			}
	}
	for (slot = 0; slot < E2_WORKERS_MAX && dp->workers[slot]; slot++)
		;
	if (slot == E2_WORKERS_MAX) {
		snprintf(err, E2_ERR_MAX, "too many workers (at most %d)", E2_WORKERS_MAX);
		return ENOSPC;
	}
	w = e2_worker_start(id, core, dp->tsc_hz, dp->idle_spin_us, dp->max_sleep_us, err);
	if (!w)
		return EINVAL;
	/* Tasks created before any worker existed start running now. */
	bool first = true;
	for (size_t i = 0; i < E2_WORKERS_MAX; i++)
		if (dp->workers[i])
			first = false;
	e2_worker_pause(w);
	dp->workers[slot] = w;
	if (first)
		for (size_t i = 0; i < E2_MODULES_MAX; i++)
			if (dp->modules[i] && dp->modules[i]->cls->run_task && !dp->modules[i]->worker)
				e2_worker_add_task(w, dp->modules[i]);
	e2_worker_resume(w);
	return 0;
}

int e2_dp_task_attach(struct e2_dp *dp, const char *module, uint32_t worker, char *err)
{
	struct e2_module *m = e2_dp_module_find(dp, module);
	struct e2_worker *w = e2_dp_worker_find(dp, worker);
	int rc;

	if (!m) {
		snprintf(err, E2_ERR_MAX, "no module named '%s'", module);
		return ENOENT;
	}
	if (!m->cls->run_task) {
		snprintf(err, E2_ERR_MAX, "module '%s' (%s) is not schedulable; only port_in and queue are tasks",
			 module, m->cls->name);
		return EINVAL;
	}
	if (!w) {
		snprintf(err, E2_ERR_MAX, "no worker %u", worker);
		return ENOENT;
	}
	if (m->worker == w)
		return 0;
	if (w->n_tasks == E2_TASKS_MAX) {
		snprintf(err, E2_ERR_MAX, "worker %u already runs %d tasks", worker, E2_TASKS_MAX);
		return ENOSPC;
	}
	e2_dp_pause(dp);
	if (m->worker)
		e2_worker_remove_task(m->worker, m);
	rc = e2_worker_add_task(w, m);
	e2_dp_resume(dp);
	return rc;
}

void e2_dp_reset_stats(struct e2_dp *dp, const char *name)
{
	e2_dp_pause(dp);
	for (size_t i = 0; i < E2_MODULES_MAX; i++) {
		struct e2_module *m = dp->modules[i];
		if (!m || (name && *name && strcmp(name, m->name) != 0))
			continue;
		m->packets = m->batches = m->cycles = m->drops = m->measured_packets = 0;
		for (uint16_t g = 0; g < m->n_ogates; g++)
			m->ogates[g].packets = m->ogates[g].bytes = 0;
	}
	for (size_t i = 0; i < E2_PORTS_MAX; i++) {
		struct e2_port *p = dp->ports[i];
		if (!p || (name && *name && strcmp(name, p->name) != 0))
			continue;
		p->rx_packets = p->rx_bytes = p->tx_packets = p->tx_bytes = p->tx_drops = 0;
		p->rx_drops_base = 0;
		p->rx_drops_base = e2_port_rx_drops(p);
	}
	for (size_t i = 0; i < E2_WORKERS_MAX; i++) {
		struct e2_worker *w = dp->workers[i];
		if (w && (!name || !*name))
			w->busy_cycles = w->idle_cycles = w->sleeps = w->rounds = w->packets = 0;
	}
	e2_dp_resume(dp);
}
