/* SPDX-License-Identifier: BSD-3-Clause */
/* Control operations on the workers' scheduler trees. */
#include <errno.h>
#include <stdio.h>
#include <string.h>

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

/* Reads share/priority/limit/burst/resource; validates everything before changing anything. */
struct params {
	uint64_t share, priority, limit, burst;
	enum e2_sched_resource resource;
	bool has_share, has_priority, has_limit, has_burst, has_resource;
};

static int read_params(const struct e2_args *a, struct params *p, char *err)
{
	const char *res = e2_args_get(a, "resource");
	int rc;

	memset(p, 0, sizeof(*p));
	if ((rc = e2_args_u64(a, "share", 1, 1, 1000000, &p->share, err)) < 0)
		return -1;
	p->has_share = rc == 0;
	if ((rc = e2_args_u64(a, "priority", 0, 0, 1000000, &p->priority, err)) < 0)
		return -1;
	p->has_priority = rc == 0;
	if ((rc = e2_args_u64(a, "limit", 0, 1, UINT64_MAX / 2, &p->limit, err)) < 0)
		return -1;
	p->has_limit = rc == 0;
	if ((rc = e2_args_u64(a, "burst", 0, 1, UINT64_MAX / 2, &p->burst, err)) < 0)
		return -1;
	p->has_burst = rc == 0;
	if (res) {
		if (e2_sched_parse_resource(res, &p->resource) != 0) {
			snprintf(err, E2_ERR_MAX, "resource=%s: use cycles, packets or bits", res);
			return -1;
		}
		p->has_resource = true;
	}
	return 0;
}

static void apply_params(struct e2_dp *dp, struct e2_sched_node *n, const struct params *p)
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

static int check_fits(struct e2_sched_node *n, const struct params *p, char *err)
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

static const char *const add_keys[] = {"policy",   "parent", "worker", "share", "priority",
				       "resource", "limit",  "burst",  NULL};
static const char *const attach_keys[] = {"parent", "share", "priority", NULL};
static const char *const set_keys[] = {"share", "priority", "limit", "burst", "resource", NULL};

int e2_dp_sched(struct e2_dp *dp, const char *op, const char *name, const struct e2_args *a, struct e2_result *out,
		char *err)
{
	struct params p;
	struct e2_worker *w = NULL;

	if (strcmp(op, "show") == 0) {
		static const char *const k[] = {"worker", NULL};
		uint64_t id;
		int has;
		if (e2_args_check_known(a, k, err) || (has = e2_args_u64(a, "worker", 0, 0, 1023, &id, err)) < 0)
			return EINVAL;
		for (size_t i = 0; i < E2_WORKERS_MAX; i++)
			if (dp->workers[i] && (has == 1 || dp->workers[i]->id == id))
				show(dp->workers[i]->root, "", out);
		return 0;
	}
	if (strcmp(op, "add") == 0) {
		const char *pol = e2_args_get(a, "policy"), *parent = e2_args_get(a, "parent");
		enum e2_sched_policy policy;
		struct e2_sched_node *par, *n;
		uint64_t wid;

		if (e2_args_check_known(a, add_keys, err) || read_params(a, &p, err) ||
		    e2_args_u64(a, "worker", 0, 0, 1023, &wid, err) < 0)
			return EINVAL;
		if (!pol || e2_sched_parse_policy(pol, &policy) != 0) {
			snprintf(err, E2_ERR_MAX,
				 "sched add needs policy=priority|weighted_fair|round_robin|rate_limit");
			return EINVAL;
		}
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
			if (e2_args_get(a, "worker") && w->id != wid) {
				snprintf(err, E2_ERR_MAX, "parent '%s' is on worker %u, not %llu", parent, w->id,
					 (unsigned long long)wid);
				return EINVAL;
			}
		} else {
			w = e2_dp_worker_find(dp, (uint32_t)wid);
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
		if (check_fits(n, &p, err)) {
			e2_sched_node_free(n);
			return EINVAL;
		}
		if (policy == E2_SCHED_RATE_LIMIT && !p.has_limit) {
			e2_sched_node_free(n);
			snprintf(err, E2_ERR_MAX, "a rate_limit node needs limit=UNITS_PER_SECOND");
			return EINVAL;
		}
		apply_params(dp, n, &p);
		e2_dp_pause(dp);
		e2_sched_attach(par, n, err);
		e2_dp_resume(dp);
		return 0;
	}
	struct e2_sched_node *n = find_node(dp, name, &w);
	if (!n) {
		snprintf(err, E2_ERR_MAX, "no scheduler node or task '%s'", name);
		return ENOENT;
	}
	if (strcmp(op, "attach") == 0) {
		const char *parent = e2_args_get(a, "parent");
		struct e2_worker *pw = NULL;
		struct e2_sched_node *par;
		if (e2_args_check_known(a, attach_keys, err) || read_params(a, &p, err))
			return EINVAL;
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
		apply_params(dp, n, &p);
		int rc = e2_sched_attach(par, n, err);
		e2_dp_resume(dp);
		return rc ? EINVAL : 0;
	}
	if (strcmp(op, "set") == 0) {
		if (e2_args_check_known(a, set_keys, err) || read_params(a, &p, err) || check_fits(n, &p, err))
			return EINVAL;
		e2_dp_pause(dp);
		apply_params(dp, n, &p);
		/* a priority change reorders the parent's children */
		if (p.has_priority && n->parent && n->parent->policy == E2_SCHED_PRIORITY)
			e2_sched_attach(n->parent, n, err);
		e2_dp_resume(dp);
		return 0;
	}
	if (strcmp(op, "del") == 0) {
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
	snprintf(err, E2_ERR_MAX, "unknown sched operation '%s' (add, attach, set, del, show)", op);
	return EINVAL;
}
