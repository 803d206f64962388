/* SPDX-License-Identifier: BSD-3-Clause */
/* The scheduler tree: picking the next task and charging what it used. */
#include "schedtree.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <rte_cycles.h>

/* Stride scheduling: a child's pass advances by usage * STRIDE / share. */
#define STRIDE (1ULL << 20)

static const char *const policy_names[] = {"leaf", "priority", "weighted_fair", "round_robin", "rate_limit"};
static const char *const resource_names[] = {"cycles", "packets", "bits"};

const char *e2_sched_policy_name(enum e2_sched_policy p)
{
	return policy_names[p];
}

const char *e2_sched_resource_name(enum e2_sched_resource r)
{
	return resource_names[r];
}

int e2_sched_parse_policy(const char *s, enum e2_sched_policy *out)
{
	for (int i = 1; i < 5; i++)
		if (strcmp(s, policy_names[i]) == 0) {
			*out = (enum e2_sched_policy)i;
			return 0;
		}
	return -1;
}

int e2_sched_parse_resource(const char *s, enum e2_sched_resource *out)
{
	for (int i = 0; i < 3; i++)
		if (strcmp(s, resource_names[i]) == 0) {
			*out = (enum e2_sched_resource)i;
			return 0;
		}
	return -1;
}

void e2_sched_set_limit(struct e2_sched_node *n, uint64_t limit, uint64_t burst, uint64_t tsc_hz)
{
	n->limit = limit;
	/* default bucket: 10 ms worth, so the limit holds over short windows and a
	 * worker preempted for a few milliseconds does not lose its allowance */
	n->burst = burst ? burst : (limit / 100 ? limit / 100 : 1);
	n->tokens_per_tsc = (double)limit / (double)tsc_hz;
	n->tokens = (double)n->burst;
	n->refill_ts = rte_rdtsc();
}

struct e2_sched_node *e2_sched_node_new(const char *name, enum e2_sched_policy policy)
{
	struct e2_sched_node *n = calloc(1, sizeof(*n));
	if (!n)
		return NULL;
	snprintf(n->name, sizeof(n->name), "%s", name);
	n->policy = policy;
	n->share = 1;
	return n;
}

void e2_sched_detach(struct e2_sched_node *child)
{
	struct e2_sched_node *p = child->parent;
	if (!p)
		return;
	for (uint32_t i = 0; i < p->n_children; i++)
		if (p->children[i] == child) {
			memmove(&p->children[i], &p->children[i + 1], (p->n_children - i - 1) * sizeof(p->children[0]));
			p->n_children--;
			break;
		}
	if (p->rr_next >= p->n_children)
		p->rr_next = 0;
	child->parent = NULL;
}

void e2_sched_node_free(struct e2_sched_node *n)
{
	if (!n)
		return;
	while (n->n_children)
		e2_sched_node_free(n->children[0]);
	e2_sched_detach(n);
	free(n);
}

int e2_sched_attach(struct e2_sched_node *parent, struct e2_sched_node *child, char *err)
{
	if (parent->policy == E2_SCHED_LEAF) {
		snprintf(err, E2_ERR_MAX, "'%s' is a task; only policy nodes have children", parent->name);
		return -1;
	}
	if (parent->n_children == E2_SCHED_CHILDREN_MAX) {
		snprintf(err, E2_ERR_MAX, "'%s' already has %d children", parent->name, E2_SCHED_CHILDREN_MAX);
		return -1;
	}
	for (struct e2_sched_node *a = parent; a; a = a->parent)
		if (a == child) {
			snprintf(err, E2_ERR_MAX, "attaching '%s' under '%s' would make a cycle", child->name,
				 parent->name);
			return -1;
		}
	e2_sched_detach(child);
	child->parent = parent;
	child->pass = parent->vtime;
	uint32_t i = parent->n_children++;
	/* priority children stay sorted, lowest number (most urgent, as in BESS) first */
	while (parent->policy == E2_SCHED_PRIORITY && i > 0 && parent->children[i - 1]->priority > child->priority) {
		parent->children[i] = parent->children[i - 1];
		i--;
	}
	parent->children[i] = child;
	return 0;
}

struct e2_sched_node *e2_sched_find(struct e2_sched_node *root, const char *name)
{
	if (!root)
		return NULL;
	if (strcmp(root->name, name) == 0)
		return root;
	for (uint32_t i = 0; i < root->n_children; i++) {
		struct e2_sched_node *n = e2_sched_find(root->children[i], name);
		if (n)
			return n;
	}
	return NULL;
}

struct e2_sched_node *e2_sched_find_task(struct e2_sched_node *root, const struct e2_module *task)
{
	if (!root)
		return NULL;
	if (root->policy == E2_SCHED_LEAF && root->task == task)
		return root;
	for (uint32_t i = 0; i < root->n_children; i++) {
		struct e2_sched_node *n = e2_sched_find_task(root->children[i], task);
		if (n)
			return n;
	}
	return NULL;
}

static void refill(struct e2_sched_node *n, uint64_t now)
{
	/* A worker that is not pinned can move to a CPU whose TSC reads a little
	 * behind; an unsigned difference would then wrap and fill the bucket. */
	if (now <= n->refill_ts)
		return;
	n->tokens += (double)(now - n->refill_ts) * n->tokens_per_tsc;
	n->refill_ts = now;
	if (n->tokens > (double)n->burst)
		n->tokens = (double)n->burst;
}

static inline void note_wake(uint64_t *wake, uint64_t t)
{
	if (t < *wake)
		*wake = t;
}

struct e2_sched_node *e2_sched_pick(struct e2_sched_node *n, uint64_t now, uint64_t *wake)
{
	struct e2_sched_node *leaf = NULL;

	switch (n->policy) {
	case E2_SCHED_LEAF:
		if (n->blocked_until > now) {
			note_wake(wake, n->blocked_until);
			return NULL;
		}
		return n;
	case E2_SCHED_RATE_LIMIT:
		if (n->limit) {
			refill(n, now);
			if (n->tokens < 0) {
				/* time until the bucket is back to zero */
				note_wake(wake, now + (uint64_t)(-n->tokens / n->tokens_per_tsc) + 1);
				return NULL;
			}
		}
		/* fall through: the children of a rate limit take turns */
	case E2_SCHED_ROUND_ROBIN:
		/* picked once per batch: wrap by comparison, not by division */
		for (uint32_t k = 0, i = n->rr_next; k < n->n_children && !leaf; k++) {
			if (i >= n->n_children)
				i = 0;
			leaf = e2_sched_pick(n->children[i], now, wake);
			i++;
			if (leaf)
				n->rr_next = i < n->n_children ? i : 0;
		}
		return leaf;
	case E2_SCHED_PRIORITY: {
		/* children are kept sorted by priority, most urgent first */
		for (uint32_t i = 0; i < n->n_children && !leaf; i++)
			leaf = e2_sched_pick(n->children[i], now, wake);
		return leaf;
	}
	case E2_SCHED_WEIGHTED_FAIR: {
		/* the runnable child with the smallest pass */
		struct e2_sched_node *best = NULL;
		struct e2_sched_node *best_leaf = NULL;
		for (uint32_t i = 0; i < n->n_children; i++) {
			struct e2_sched_node *c = n->children[i];
			if (best && c->pass >= best->pass)
				continue;
			struct e2_sched_node *l = e2_sched_pick(c, now, wake);
			if (l) {
				best = c;
				best_leaf = l;
			}
		}
		if (best && best->pass < n->vtime)
			best->pass = n->vtime; /* back from idle: no credit for the time away */
		return best_leaf;
	}
	}
	return NULL;
}

static uint64_t usage_of(const struct e2_sched_usage *u, enum e2_sched_resource r)
{
	return r == E2_RES_CYCLES ? u->cycles : r == E2_RES_PACKETS ? u->packets : u->bits;
}

void e2_sched_account(struct e2_sched_node *leaf, const struct e2_sched_usage *u, uint64_t now, uint64_t tsc_hz,
		      uint32_t idle_spin_us, uint32_t max_backoff_us)
{
	/* An idle task keeps being polled for idle_spin_us, then backs off
	 * exponentially, so it neither adds latency to a trickle nor steals
	 * cycles from busy siblings for long. */
	if (u->packets) {
		leaf->idle_since = 0;
		leaf->backoff_us = 0;
	} else {
		if (!leaf->idle_since)
			leaf->idle_since = now;
		if (now - leaf->idle_since > tsc_hz / 1000000 * idle_spin_us) {
			leaf->backoff_us = leaf->backoff_us ? leaf->backoff_us * 2 : 1;
			if (leaf->backoff_us > max_backoff_us)
				leaf->backoff_us = max_backoff_us;
			leaf->blocked_until = now + tsc_hz / 1000000 * leaf->backoff_us;
		}
	}
	for (struct e2_sched_node *n = leaf; n; n = n->parent) {
		n->cycles += u->cycles;
		n->packets += u->packets;
		n->bits += u->bits;
		n->runs++;
		struct e2_sched_node *p = n->parent;
		if (n->policy == E2_SCHED_RATE_LIMIT && n->limit)
			n->tokens -= (double)usage_of(u, n->resource);
		if (p && p->policy == E2_SCHED_WEIGHTED_FAIR) {
			p->vtime = n->pass;
			n->pass += usage_of(u, p->resource) * STRIDE / (n->share ? n->share : 1);
		}
	}
}
