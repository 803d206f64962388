/* SPDX-License-Identifier: BSD-3-Clause */
/* The state of one e2d: its ports, module instances and workers, and the
 * operations the control API and the start-up configuration perform on them.
 * Every function here runs on the control thread; the workers only run tasks. */
#ifndef E2D_DP_H
#define E2D_DP_H

#include "module.h"
#include "port.h"
#include "worker.h"

#define E2_MODULES_MAX 1024
#define E2_PORTS_MAX 128
#define E2_WORKERS_MAX 16
/* The longest chain of modules one batch may be handed along by calls (a queue
 * starts a new chain). The deepest frame is a splitting module's (E2_GATES_MAX + 1
 * batches on the stack), so 128 of them need under 3 MiB of a worker's stack. */
#define E2_GRAPH_DEPTH_MAX 128
_Static_assert(E2_GRAPH_DEPTH_MAX *((E2_GATES_MAX + 1) * sizeof(struct e2_batch) + 2048) < E2_WORKER_STACK / 2,
	       "a worker's stack holds the deepest chain twice over");

struct rte_mempool;

struct e2_dp {
	struct rte_mempool *pool;
	uint64_t tsc_hz;
	struct e2_port *ports[E2_PORTS_MAX];
	struct e2_module *modules[E2_MODULES_MAX];
	struct e2_worker *workers[E2_WORKERS_MAX];
	uint32_t idle_spin_us; /* how long a worker spins with no traffic before it sleeps */
	uint32_t max_sleep_us; /* longest sleep of an idle worker */
	uint64_t pauses;       /* times the workers were paused: a read-only request pauses none */
	/* Bumped by every e2_dp_resume, while the workers are still paused: the graph only
	 * changes between a pause and its resume, so a worker's view of it (port_in's
	 * single-copy route) made under one value holds until the value moves. */
	uint64_t graph_gen;
};

int e2_dp_init(struct e2_dp *dp, unsigned n_mbufs, char *err);
void e2_dp_fini(struct e2_dp *dp);

struct e2_port *e2_dp_port_find(struct e2_dp *dp, const char *name);
struct e2_module *e2_dp_module_find(struct e2_dp *dp, const char *name);
struct e2_worker *e2_dp_worker_find(struct e2_dp *dp, uint32_t id);

/* Each returns 0 or a positive errno value with err filled; on error nothing changed. */
int e2_dp_port_create(struct e2_dp *dp, const char *name, const char *driver, const struct e2_args *args, char *err);
int e2_dp_port_destroy(struct e2_dp *dp, const char *name, char *err);
int e2_dp_module_create(struct e2_dp *dp, const char *name, const char *cls, const struct e2_args *args, char *err);
int e2_dp_module_destroy(struct e2_dp *dp, const char *name, char *err);
int e2_dp_connect(struct e2_dp *dp, const char *from, uint32_t ogate, const char *to, uint32_t igate, char *err);
int e2_dp_insert(struct e2_dp *dp, const char *from, uint32_t ogate, const char *module, char *err);
/* Takes a module that sits on one edge out of it, atomically, and destroys it. */
int e2_dp_bypass(struct e2_dp *dp, const char *module, char *err);
/* Starts (or stops) copying the packets of a gate, or of a port's input, to a pcap file. */
int e2_dp_capture(struct e2_dp *dp, const char *at, uint32_t gate, bool stop, const struct e2_args *args,
		  struct e2_result *out, char *err);
int e2_dp_disconnect(struct e2_dp *dp, const char *from, uint32_t ogate, char *err);
int e2_dp_module_command(struct e2_dp *dp, const char *module, const char *cmd, const struct e2_args *args,
			 struct e2_result *out, char *err);
int e2_dp_worker_create(struct e2_dp *dp, uint32_t id, int core, char *err);
int e2_dp_task_attach(struct e2_dp *dp, const char *module, uint32_t worker, char *err);
void e2_dp_reset_stats(struct e2_dp *dp, const char *name);
/* A scheduler node's settings as a request gives them: has_X says X was given (the
 * others keep their default, or the node's value). Ranges are the control protocol's
 * (e2/cmd.h checks them). */
struct e2_sched_params {
	bool has_share, has_priority, has_limit, has_burst, has_resource;
	uint64_t share, limit, burst;
	uint32_t priority;
	enum e2_sched_resource resource;
};
/* Scheduler-tree operations. add puts a node under parent (NULL: the root of worker,
 * or of worker 0 when worker is NULL too). */
int e2_dp_sched_add(struct e2_dp *dp, const char *name, enum e2_sched_policy policy, const char *parent,
		    const uint32_t *worker, const struct e2_sched_params *p, char *err);
int e2_dp_sched_attach(struct e2_dp *dp, const char *name, const char *parent, const struct e2_sched_params *p,
		       char *err);
int e2_dp_sched_set(struct e2_dp *dp, const char *name, const struct e2_sched_params *p, char *err);
int e2_dp_sched_del(struct e2_dp *dp, const char *name, char *err);
/* The tree of every worker (worker NULL) or of one, a line per node. */
void e2_dp_sched_show(struct e2_dp *dp, const uint32_t *worker, struct e2_result *out);

/* Whether an edge (connect) or a module put on an edge (insert) keeps the graph
 * acyclic and its call chains within E2_GRAPH_DEPTH_MAX: 0, or ELOOP (the loop is
 * named in err), E2BIG or ENOMEM. */
int e2_graph_check_connect(const struct e2_dp *dp, const struct e2_module *a, uint32_t ogate, const struct e2_module *b,
			   char *err);
int e2_graph_check_insert(const struct e2_dp *dp, const struct e2_module *a, uint32_t ogate, const struct e2_module *q,
			  char *err);

/* Brings every worker to a safe point (between tasks) and holds it there. */
void e2_dp_pause(struct e2_dp *dp);
void e2_dp_resume(struct e2_dp *dp);

/* Copies args into one allocation owned by the caller (free() it). */
struct e2_args e2_args_dup(const struct e2_args *a);

#endif
