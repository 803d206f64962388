/* SPDX-License-Identifier: BSD-3-Clause */
/* Control operations on the workers' scheduler trees. */
#include <errno.h>
#include <stdio.h>

#include "dp.h"

/* Finds a node (or a task's leaf) by name in any worker's tree. */
static struct e2_sched_node *find_node(struct e2_dp *dp, const char *name, struct e2_worker **wout)
{
	for (size_t i = 0; i < E2_WORKERS_MAX; i++) {
		struct e2_worker *w = dp->workers[i];
		struct e2_sched_node *n = w ? e2_sched_find(w->root, name) : NULL;
		if (n) {
			if (wout)
				*wout = w;
			return n;
		}
	}
	return NULL;
}

static void apply_params(struct e2_dp *dp, struct e2_sched_node *n, const struct e2_sched_params *p)
{
	if (p->has_share)
		n->share = p->share;
	if (p->has_priority)
		n->priority = (uint32_t)p->priority;
	if (p->has_resource)
		n->resource = p->resource;
	if (p->has_limit || p->has_burst)
		e2_sched_set_limit(n, p->has_limit ? p->limit : n->limit, p->has_burst ? p->burst : 0, dp->tsc_hz);
}

static int check_fits(struct e2_sched_node *n, const struct e2_sched_params *p, char *err)
{
	if ((p->has_limit || p->has_burst) && n->policy != E2_SCHED_RATE_LIMIT) {
		snprintf(err, E2_ERR_MAX, "limit= and burst= apply to rate_limit nodes; '%s' is %s", n->name,
			 e2_sched_policy_name(n->policy));
		return -1;
	}
	if (p->has_resource && n->policy != E2_SCHED_RATE_LIMIT && n->policy != E2_SCHED_WEIGHTED_FAIR) {
		snprintf(err, E2_ERR_MAX, "resource= applies to weighted_fair and rate_limit nodes");
		return -1;
	}
	return 0;
}

static void show(struct e2_sched_node *n, const char *path, struct e2_result *out)
{
	char p[512];
	uint64_t parent_cycles = n->parent ? n->parent->cycles : n->cycles;
	snprintf(p, sizeof(p), "%s%s%s", path, *path ? "/" : "", n->name);
	e2_result_add(out, p,
		      "policy=%s share=%llu priority=%u resource=%s limit=%llu cycles=%llu packets=%llu bits=%llu "
		      "cpu_share_of_parent=%.4f",
		      e2_sched_policy_name(n->policy), (unsigned long long)n->share, n->priority,
		      e2_sched_resource_name(n->resource), (unsigned long long)n->limit, (unsigned long long)n->cycles,
		      (unsigned long long)n->packets, (unsigned long long)n->bits,
		      parent_cycles ? (double)n->cycles / (double)parent_cycles : 0.0);
	for (uint32_t i = 0; i < n->n_children; i++)
		show(n->children[i], p, out);
}

/* What the worker's idle policy has learnt, read while it runs: each figure is one aligned
 * word, so a reading is at worst a moment old. */
static void show_idle(const struct e2_worker *w, struct e2_result *out)
{
	char key[E2_NAME_MAX + 8];
	struct e2_idle_state s = w->idle_state;
	snprintf(key, sizeof(key), "w%u:idle", w->id);
	e2_result_add(out, key,
		      "mode=%s spin_us=%u max_sleep_us=%u ring=%u rate_mpps=%.3f nap_bound_us=%u overshoot_us=%.1f "
		      "naps=%llu",
		      e2_idle_mode_name(w->idle.mode), w->idle.quiet_us, w->idle.max_sleep_us, w->idle.ring, s.rate,
		      e2_idle_budget_us(&w->idle, &s), s.overshoot_us, (unsigned long long)w->sleeps);
}

void e2_dp_sched_show(struct e2_dp *dp, const uint32_t *worker, struct e2_result *out)
{
	for (size_t i = 0; i < E2_WORKERS_MAX; i++)
		if (dp->workers[i] && (!worker || dp->workers[i]->id == *worker)) {
			show(dp->workers[i]->root, "", out);
			show_idle(dp->workers[i], out);
		}
}

int e2_dp_sched_add(struct e2_dp *dp, const char *name, enum e2_sched_policy policy, const char *parent,
		    const uint32_t *worker, const struct e2_sched_params *p, char *err)
{
	uint32_t wid = worker ? *worker : 0;
	struct e2_worker *w = NULL;
	struct e2_sched_node *par, *n;

	if (find_node(dp, name, NULL) || e2_dp_module_find(dp, name)) {
		snprintf(err, E2_ERR_MAX, "'%s' is already a scheduler node or a module", name);
		return EEXIST;
	}
	if (parent) {
		par = find_node(dp, parent, &w);
		if (!par) {
			snprintf(err, E2_ERR_MAX, "no scheduler node '%s'", parent);
			return ENOENT;
		}
		if (worker && w->id != wid) {
			snprintf(err, E2_ERR_MAX, "parent '%s' is on worker %u, not %llu", parent, w->id,
				 (unsigned long long)wid);
			return EINVAL;
		}
	} else {
		w = e2_dp_worker_find(dp, wid);
		if (!w) {
			snprintf(err, E2_ERR_MAX, "no worker %llu", (unsigned long long)wid);
			return ENOENT;
		}
		par = w->root;
	}
	if (par->policy == E2_SCHED_LEAF || par->n_children == E2_SCHED_CHILDREN_MAX) {
		snprintf(err, E2_ERR_MAX, "'%s' cannot take another child", par->name);
		return EINVAL;
	}
	n = e2_sched_node_new(name, policy);
	if (!n) {
		snprintf(err, E2_ERR_MAX, "out of memory");
		return ENOMEM;
	}
	if (check_fits(n, p, err)) {
		e2_sched_node_free(n);
		return EINVAL;
	}
	if (policy == E2_SCHED_RATE_LIMIT && !p->has_limit) {
		e2_sched_node_free(n);
		snprintf(err, E2_ERR_MAX, "a rate_limit node needs limit=UNITS_PER_SECOND");
		return EINVAL;
	}
	apply_params(dp, n, p);
	e2_dp_pause(dp);
	e2_sched_attach(par, n, err);
	e2_dp_resume(dp);
	return 0;
}

/* The node or task's leaf called name, and its worker; NULL with err if none. */
static struct e2_sched_node *existing(struct e2_dp *dp, const char *name, struct e2_worker **w, char *err)
{
	struct e2_sched_node *n = find_node(dp, name, w);
	if (!n)
		snprintf(err, E2_ERR_MAX, "no scheduler node or task '%s'", name);
	return n;
}

int e2_dp_sched_attach(struct e2_dp *dp, const char *name, const char *parent, const struct e2_sched_params *p,
		       char *err)
{
	struct e2_worker *w = NULL, *pw = NULL;
	struct e2_sched_node *n = existing(dp, name, &w, err), *par;

	if (!n)
		return ENOENT;
	if (!parent || !(par = find_node(dp, parent, &pw))) {
		snprintf(err, E2_ERR_MAX, "sched attach needs parent=NODE (an existing node)");
		return ENOENT;
	}
	if (pw != w) {
		snprintf(err, E2_ERR_MAX,
			 "'%s' is on worker %u and '%s' on worker %u; move the task first "
			 "(task attach)",
			 name, w->id, parent, pw->id);
		return EINVAL;
	}
	if (n == w->root) {
		snprintf(err, E2_ERR_MAX, "'%s' is the root of worker %u", name, w->id);
		return EINVAL;
	}
	if (par->policy == E2_SCHED_LEAF || par->n_children == E2_SCHED_CHILDREN_MAX) {
		snprintf(err, E2_ERR_MAX, "'%s' cannot take another child", par->name);
		return EINVAL;
	}
	for (struct e2_sched_node *x = par; x; x = x->parent)
		if (x == n) {
			snprintf(err, E2_ERR_MAX, "attaching '%s' under '%s' would make a cycle", name, parent);
			return EINVAL;
		}
	e2_dp_pause(dp);
	apply_params(dp, n, p);
	int rc = e2_sched_attach(par, n, err);
	e2_dp_resume(dp);
	return rc ? EINVAL : 0;
}

int e2_dp_sched_set(struct e2_dp *dp, const char *name, const struct e2_sched_params *p, char *err)
{
	struct e2_worker *w = NULL;
	struct e2_sched_node *n = existing(dp, name, &w, err);

	if (!n)
		return ENOENT;
	if (check_fits(n, p, err))
		return EINVAL;
	e2_dp_pause(dp);
	apply_params(dp, n, p);
	/* a priority change reorders the parent's children */
	if (p->has_priority && n->parent && n->parent->policy == E2_SCHED_PRIORITY)
		e2_sched_attach(n->parent, n, err);
	e2_dp_resume(dp);
	return 0;
}

int e2_dp_sched_del(struct e2_dp *dp, const char *name, char *err)
{
	struct e2_worker *w = NULL;
	struct e2_sched_node *n = existing(dp, name, &w, err);

	if (!n)
		return ENOENT;
	if (n == w->root || n->policy == E2_SCHED_LEAF) {
		snprintf(err, E2_ERR_MAX, "'%s' is %s; only policy nodes can be deleted", name,
			 n == w->root ? "a worker's root" : "a task (destroy the module instead)");
		return EINVAL;
	}
	if (n->n_children) {
		snprintf(err, E2_ERR_MAX, "'%s' still has %u children; attach them elsewhere first", name,
			 n->n_children);
		return EBUSY;
	}
	e2_dp_pause(dp);
	e2_sched_node_free(n);
	e2_dp_resume(dp);
	return 0;
}
