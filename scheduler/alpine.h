/* SPDX-License-Identifier: BSD-3-Clause */
/* Alpine: dataflow graph + traffic classes + SLOs -> queues, tasks and a scheduler
 * tree for E2D, chosen by a mixed-integer program solved with COIN-OR CBC.
 *
 * Units inside the library: cycles are kilocycles (k) and rates are packets per
 * kilocycle of one worker, so a worker's capacity is 1 and numbers stay near 1 for
 * the solver. Mpps = rate * cpu_ghz. See README.md for the model and formats. */
#ifndef E2_ALPINE_H
#define E2_ALPINE_H

#include <stdbool.h>
#include <stddef.h>
#include <stdio.h>

#include "e2/mem.h"

#define ALP_ERRLEN 512
/* Limits of a graph; past them it is refused, so a model never grows without bound
 * (the seed's largest graphs have 511 modules and a dozen classes). */
#define ALP_MODULES_MAX 4096
#define ALP_CLASSES_MAX 1024

typedef struct alp_module {
	char *name;
	char *klass;      /* E2D module class (port_in, port_out, queue, ...); may be NULL */
	char *args;       /* E2D "key=value ..." args for `module add`; may be NULL */
	double cycles;    /* cycles per packet */
	bool schedulable; /* heads a task by type (port_in, queue) */
	int parent;       /* upstream module, -1 for the root */
	int pgate, igate; /* gates of the edge parent:pgate -> this:igate */
	int nchildren;
	int *children;
} alp_module;

typedef struct alp_class {
	char *name;
	int len;
	int *path;       /* module indices, root first, exit last */
	double fraction; /* share of the offered load (normalised over classes) */
} alp_class;

typedef enum { ALP_SLO_PRIORITY, ALP_SLO_CPU, ALP_SLO_RATE } alp_slo_kind;

typedef struct alp_slo {
	char *name;
	alp_slo_kind kind;
	int n;
	int *classes;  /* priority: highest first */
	double *ratio; /* cpu/rate: target proportions; NULL for priority */
} alp_slo;

typedef struct alp_graph {
	int n, cap;
	alp_module *mods;
	int *by_name;    /* module index by name hash (open addressing; -1 free) */
	int by_name_cap; /* a power of two, at least twice n */
	int nclasses;
	alp_class *classes;
	int nslos;
	alp_slo *slos;
	int root;
	int workers;
	double cpu_ghz;           /* clock of a worker, for Mpps figures */
	double queue_cycles;      /* cost of a queue per packet (enqueue+dequeue+scheduling) */
	double classifier_cycles; /* cost of the manual strawman's up-front classifier */
	double input_mpps;        /* offered load; 0 = saturating */
	/* derived by alp_graph_finish() */
	double *lambda;        /* [n] fraction of input packets visiting a module */
	unsigned char *member; /* [nclasses * n] class a visits module j */
} alp_graph;

/* ---- graph ---- */
alp_graph *alp_graph_new(void);
void alp_graph_free(alp_graph *g);
int alp_graph_find(const alp_graph *g, const char *name);
int alp_graph_add_module(alp_graph *g, const char *name, const char *klass, const char *args, double cycles,
			 bool schedulable, char *err);
/* edge "from[:gate]" -> "to[:gate]" by indices */
int alp_graph_connect(alp_graph *g, int from, int ogate, int to, int igate, char *err);
/* Checks tree shape, class paths, SLO references; derives lambda/member. */
int alp_graph_finish(alp_graph *g, char *err);
bool alp_class_visits(const alp_graph *g, int cls, int mod);
bool alp_is_schedulable_class(const char *klass);

/* Alpine input file (JSON). `base_dir` resolves a relative "e2d_config". */
alp_graph *alp_graph_load(const char *path, char *err);
alp_graph *alp_graph_parse(const char *text, size_t len, const char *base_dir, char *err);
/* The graph as an Alpine graph file that alp_graph_parse reads back to the same graph:
 * every module and edge listed (never "e2d_config"), derived defaults written out.
 * `comment` (may be NULL) goes in its "comment" key. Returns text to free(), or NULL
 * with err set (a string that is not UTF-8, out of memory). */
char *alp_graph_print_json(const alp_graph *g, const char *comment, char *err);
/* Reads `module add` / `connect` lines of an E2D configuration into g (modules
 * get cycles from `cycles=` args, or 0 if the Alpine file sets them later). */
int alp_e2d_import(alp_graph *g, const char *text, size_t len, char *err);

/* ---- plans ---- */
typedef enum { ALP_OPTIMAL, ALP_FEASIBLE, ALP_INFEASIBLE, ALP_TIMEOUT, ALP_ERROR } alp_status;
const char *alp_status_name(alp_status s);

typedef struct alp_plan {
	const alp_graph *g;    /* graph the plan executes (the input, or a strawman's rewrite) */
	const alp_graph *base; /* the operator's graph (== g except for the manual strawman) */
	char *kind;            /* "alpine", "semi", "manual", "rtc" */
	alp_status status;
	double gap; /* relative MIP gap when FEASIBLE */
	double solve_s;
	bool *head;  /* [g->n] module heads a task (queue inserted unless schedulable) */
	int *worker; /* [g->n] worker of each task head */
	int *level;  /* [g->n] priority level of each task head (0 = highest) */
	int nlevels;
	double *rate;  /* [g->n] predicted rate (packets/kcycle, root-equivalent) */
	double *share; /* [g->n] predicted CPU of each task head (fraction of a worker) */
	int tasks;
	double mpps;      /* predicted total throughput */
	char diag[1024];  /* infeasible: the conflicting SLOs; otherwise notes */
	alp_graph *owned; /* a rewritten graph the plan owns (manual strawman) */
} alp_plan;

typedef struct alp_opts {
	double time_limit_s; /* whole plan, both phases and diagnosis; default 60 */
	double gap;          /* accepted relative gap; default 1e-4 */
	double delta;        /* > 0: second solve for fewest tasks within (1-delta) of the best
                           * throughput; default 0: one solve, throughput first with a
                           * tie-break on tasks */
	bool quiet;
} alp_opts;
void alp_opts_default(alp_opts *o);

alp_plan *alp_plan_new(const alp_graph *g, const alp_graph *base, const char *kind);
void alp_plan_free(alp_plan *p);

/* Solves; never returns NULL except on out-of-memory. Check p->status. The model
 * first; if it finds no plan in time, the semi-manual strawman (solve.c). */
alp_plan *alp_solve(const alp_graph *g, const alp_opts *o);

/* The model alone: the MIP, started from (and falling back on) the plan rounded from
 * its LP relaxation. ALP_TIMEOUT when neither gave a plan in time. */
alp_plan *alp_solve_model(const alp_graph *g, const alp_opts *o);

/* Solves with a fixed partition where qforce[j] >= 0 (strawmen); NULL = free. */
alp_plan *alp_solve_fixed(const alp_graph *g, const alp_opts *o, const signed char *qforce, const char *kind);

/* Strawmen: "manual", "semi", "rtc" */
alp_plan *alp_strawman(const alp_graph *g, const char *kind, const alp_opts *o);

/* Output */
void alp_plan_write_e2d(const alp_plan *p, FILE *f);
void alp_plan_write_summary(const alp_plan *p, FILE *f);
int alp_plan_write_dot(const alp_plan *p, FILE *f);

/* ---- model checker (independent of the solver) ---- */
typedef struct alp_check {
	int nclasses;
	double *mpps; /* [nclasses] predicted throughput per class */
	double *cpu;  /* [nclasses] predicted fraction of all workers' cycles */
	double total_mpps;
	double *slo_error; /* [nslos] seed section 5.5.2 error (priority: shortfall) */
	double max_error;
	int tasks;
	int queues;
	char msg[1024];
} alp_check;
/* Reads a plan in E2D command form, applied to g (the graph before the plan), and
 * predicts per-class throughput and CPU. plan_graph is the graph the plan executes
 * (alp_plan.g, or that graph read back from `alpine plan|strawman --graph-out`): the
 * costs of the modules the plan adds and the class paths come from it. NULL: the plan
 * adds no module but queues and modules with a cycles= argument, and the classes keep
 * g's paths. Returns 0, or -1 with err set (the plan does not fit the graphs). */
int alp_check_plan(const alp_graph *g, const alp_graph *plan_graph, const char *plan_text, size_t len, alp_check *out,
		   char *err);
void alp_check_free(alp_check *c);

/* ---- generators for tests and benchmarks ---- */
/* nslos >= 0: that many SLOs over disjoint random pairs of classes; nslos < 0: one
 * throughput SLO over all classes (every module may need a queue). */
alp_graph *alp_gen_binary_tree(int depth, unsigned seed, int nslos, char *err);
alp_graph *alp_gen_random_tree(int nmods, unsigned seed, int workers, char *err);

#endif
