/* SPDX-License-Identifier: BSD-3-Clause */
/* The per-worker scheduler tree. Leaves are tasks; inner nodes share the worker
 * between their children by strict priority, weighted fairness (stride
 * scheduling on cycles, packets or bits), round robin, or cap them with a rate
 * limit (token bucket on cycles, packets or bits per second). Alpine emits these
 * trees; `sched add/attach/del/show` builds them at run time. */
#ifndef E2D_SCHEDTREE_H
#define E2D_SCHEDTREE_H

#include <stdbool.h>
#include <stdint.h>

#include "module.h"

#define E2_SCHED_CHILDREN_MAX 64

enum e2_sched_policy {
	E2_SCHED_LEAF,
	E2_SCHED_PRIORITY,
	E2_SCHED_WEIGHTED_FAIR,
	E2_SCHED_ROUND_ROBIN,
	E2_SCHED_RATE_LIMIT
};
enum e2_sched_resource { E2_RES_CYCLES, E2_RES_PACKETS, E2_RES_BITS };

struct e2_sched_node {
	char name[E2_NAME_MAX];
	enum e2_sched_policy policy;
	enum e2_sched_resource resource; /* what weighted_fair shares / rate_limit counts */
	struct e2_sched_node *parent;
	uint32_t n_children;
	struct e2_sched_node *children[E2_SCHED_CHILDREN_MAX];
	uint32_t rr_next;
	uint64_t vtime; /* weighted_fair: pass of the last child run */

	/* as a child of its parent */
	uint32_t priority; /* under priority: lower numbers run first (BESS) */
	uint64_t share;    /* under weighted_fair */
	uint64_t pass;     /* stride-scheduling position */

	/* rate_limit */
	uint64_t limit; /* units per second; 0 = unlimited */
	uint64_t burst; /* bucket depth in units */
	double tokens;  /* may go negative: the overdraft of the last run */
	double tokens_per_tsc;
	uint64_t refill_ts;

	/* leaf */
	struct e2_module *task;
	uint64_t blocked_until; /* an idle task backs off until then */
	uint64_t idle_since;
	uint32_t backoff_us;

	/* accounting, for `sched show` and Alpine's checks */
	uint64_t cycles, packets, bits, runs;
};

struct e2_sched_usage {
	uint64_t cycles, packets, bits;
};

struct e2_sched_node *e2_sched_node_new(const char *name, enum e2_sched_policy policy);
void e2_sched_set_limit(struct e2_sched_node *n, uint64_t limit, uint64_t burst, uint64_t tsc_hz);
void e2_sched_node_free(struct e2_sched_node *n); /* and its subtree (tasks are not freed) */
int e2_sched_attach(struct e2_sched_node *parent, struct e2_sched_node *child, char *err);
void e2_sched_detach(struct e2_sched_node *child);
struct e2_sched_node *e2_sched_find(struct e2_sched_node *root, const char *name);
struct e2_sched_node *e2_sched_find_task(struct e2_sched_node *root, const struct e2_module *task);

/* The next leaf to run at `now` (TSC), or NULL when every task is blocked or
 * throttled; *wake is then the earliest TSC at which that may change. */
struct e2_sched_node *e2_sched_pick(struct e2_sched_node *root, uint64_t now, uint64_t *wake);
/* Charges a run of `leaf` to it and its ancestors. */
void e2_sched_account(struct e2_sched_node *leaf, const struct e2_sched_usage *u, uint64_t now, uint64_t tsc_hz,
		      uint32_t idle_spin_us, uint32_t max_backoff_us);

int e2_sched_parse_policy(const char *s, enum e2_sched_policy *out);
int e2_sched_parse_resource(const char *s, enum e2_sched_resource *out);
const char *e2_sched_policy_name(enum e2_sched_policy p);
const char *e2_sched_resource_name(enum e2_sched_resource r);

#endif
