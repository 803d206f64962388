/* SPDX-License-Identifier: BSD-3-Clause */
/* E2D module API: what a module class implements and what it may call.
 *
 * A module class is a static const descriptor registered by E2_MODULE_REGISTER.
 * Instances form a graph: each output gate ("ogate") connects to one input gate
 * ("igate") of another instance. Packets travel in batches of up to E2_BATCH_MAX,
 * pushed run-to-completion from a task (port input, queue) to the end of the graph.
 */
#ifndef E2D_MODULE_H
#define E2D_MODULE_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <rte_mbuf.h>
#include <rte_mbuf_dyn.h>

#define E2_BATCH_MAX 32
#define E2_CLASSIFY_HEAD 128 /* see struct e2_frame_head */
#define E2_GATES_MAX 64
#define E2_NAME_MAX 64
#define E2_ERR_MAX 256

struct e2_batch {
	uint16_t cnt;
	struct rte_mbuf *pkts[E2_BATCH_MAX];
};

/* A frame as a classifier sees it on the single-copy path (e2_module_class.classify):
 * its first bytes, in the guest's buffer where they lie in one piece. */
struct e2_frame_head {
	const uint8_t *data;
	uint32_t head_len; /* bytes at data: at least E2_CLASSIFY_HEAD, or the whole frame */
	uint32_t len;      /* the frame's length */
};

/* Per-packet metadata carried in an mbuf dynamic field (registered at start-up).
 * Undefined until a module sets it: readers come after writers in the graph. */
struct e2_pkt_meta {
	uint32_t flow_id; /* flow hash for affinity, set by a flow-hash module */
	uint16_t tclass;  /* traffic class for scheduling/accounting */
	uint16_t flags;
};
extern int e2_meta_offset;
static inline struct e2_pkt_meta *e2_meta(struct rte_mbuf *m)
{
	return RTE_MBUF_DYNFIELD(m, e2_meta_offset, struct e2_pkt_meta *);
}
int e2_meta_register(void);

/* Arguments of create requests and module commands: key=value strings. */
struct e2_arg {
	const char *key;
	const char *value;
};
struct e2_args {
	size_t n;
	const struct e2_arg *v;
};
const char *e2_args_get(const struct e2_args *a, const char *key);
/* Each returns 0 (found and valid), 1 (absent: *out = def) or -1 (invalid; err filled). */
int e2_args_u64(const struct e2_args *a, const char *key, uint64_t def, uint64_t min, uint64_t max, uint64_t *out,
		char *err);
/* Refuses a key not in `known` (naming the known ones) and a key given twice; 0 or -1. */
int e2_args_check_known(const struct e2_args *a, const char *const *known, char *err);

/* The keys a module class's create arguments, or a command's arguments, may have.
 * e2d checks them before init or the command runs, so no class can forget to:
 *   .args = E2_ARGS("size", "default")   these keys, each at most once
 *   .args = E2_ARGS_NONE                 no arguments
 *   .args = E2_ARGS_ANY                  keys are data (attribute names); the class checks
 * A class or command without .args is refused at registration. */
#define E2_ARGS(...) ((const char *const[]){__VA_ARGS__, NULL})
#define E2_ARGS_NONE ((const char *const[]){NULL})
extern const char *const e2_args_any[];
#define E2_ARGS_ANY e2_args_any

/* Results of module commands, returned to the client as key=value pairs. */
struct e2_result {
	size_t n;
	struct e2_arg v[64];
	char buf[8192];
	size_t used;
};
void e2_result_add(struct e2_result *r, const char *key, const char *fmt, ...) __attribute__((format(printf, 3, 4)));

struct e2_module;
struct e2_worker;

/* Per-module cycles are measured on one batch in E2_MEASURE_EVERY of each task (two
 * TSC reads per graph edge cost ~40 cycles each here: several percent of a short
 * pipeline if paid on every batch); cycles per packet = cycles / measured_packets. */
#define E2_MEASURE_EVERY 16

/* Execution context of the worker running the current task; used for cycle accounting. */
struct e2_ctx {
	uint64_t ts;               /* TSC when the currently running module started being charged */
	struct e2_module *current; /* module being charged */
	struct e2_worker *worker;
	bool measure; /* this batch's modules are charged their cycles */
};

struct e2_cmd {
	const char *name;
	const char *help;
	/* Commands run with all workers paused unless thread_safe is set. */
	bool thread_safe;
	const char *const *args; /* see E2_ARGS */
	int (*fn)(struct e2_module *m, const struct e2_args *args, struct e2_result *out, char *err);
};

struct e2_dp;

struct e2_module_class {
	const char *name;
	const char *help;
	uint16_t igates; /* number of input gates (0 for sources) */
	uint16_t ogates; /* maximum number of output gates */
	size_t priv_size;
	const char *const *args; /* the create arguments: see E2_ARGS */
	int (*init)(struct e2_module *m, const struct e2_args *args, char *err);
	void (*deinit)(struct e2_module *m);
	void (*process_batch)(struct e2_ctx *ctx, struct e2_module *m, uint16_t igate, struct e2_batch *b);
	/* Schedulable classes have run_task: returns the number of packets it handled. */
	uint32_t (*run_task)(struct e2_ctx *ctx, struct e2_module *m);
	/* Optional, for classes whose choice of output gate rests on a frame's first bytes
	 * alone (and the module's own tables): the single-copy path between vhost ports
	 * (port_in.c) calls it instead of process_batch, on the worker, for frames still in
	 * the guests' buffers. Sets gates[i] to the ogate frames[i] takes, or to -1 when its
	 * first bytes do not settle it (the frame then takes the ordinary path, and may be
	 * shown to the module again there). The caller counts packets, batches and the gates;
	 * the class counts anything else it keeps. */
	void (*classify)(struct e2_module *m, const struct e2_frame_head *const *frames, uint16_t n, int16_t *gates);
	/* Optional extra statistics for `stats`. */
	void (*stats)(struct e2_module *m, struct e2_result *out);
	/* Classes that buffer packets (queues) report how full they are, for the load
	 * monitor; called from the control thread while workers run. */
	void (*occupancy)(const struct e2_module *m, uint32_t *used, uint32_t *capacity);
	const struct e2_cmd *cmds; /* terminated by an entry with name == NULL */
};

struct e2_ogate {
	struct e2_module *next;
	uint16_t next_igate;
	uint64_t packets;
	uint64_t bytes;
};

struct e2_module {
	char name[E2_NAME_MAX];
	const struct e2_module_class *cls;
	struct e2_dp *dp;
	struct e2_worker *worker; /* for tasks: the worker running it, else NULL */
	uint16_t n_ogates;
	uint16_t igate_refs; /* how many ogates point at this module */
	uint16_t slot;       /* its index in the dataplane's module table */
	struct e2_ogate ogates[E2_GATES_MAX];
	/* written only by the worker that runs the module's packets */
	uint64_t packets, batches, cycles, drops;
	uint64_t measured_packets;  /* the packets `cycles` were measured on */
	uint32_t measure_tick;      /* tasks: which batch is measured next */
	struct e2_args create_args; /* kept for `list` */
	__attribute__((aligned(64))) unsigned char priv[];
};

static inline void *e2_priv(struct e2_module *m)
{
	return m->priv;
}

/* --- registration ------------------------------------------------------ */
void e2_module_class_register(const struct e2_module_class *cls);
const struct e2_module_class *e2_module_class_find(const char *name);
size_t e2_module_class_count(void);
const struct e2_module_class *e2_module_class_at(size_t i);

#define E2_MODULE_REGISTER(desc)                                          \
	__attribute__((constructor)) static void e2_register_##desc(void) \
	{                                                                 \
		e2_module_class_register(&desc);                          \
	}

/* --- the packet path ---------------------------------------------------- */
void e2_free_batch(struct e2_batch *b);

/* Charges the cycles since ctx->ts to the running module, then makes `next` the running one. */
static inline void e2_charge(struct e2_ctx *ctx, struct e2_module *next)
{
	uint64_t now = rte_rdtsc();
	if (ctx->current)
		ctx->current->cycles += now - ctx->ts;
	ctx->ts = now;
	ctx->current = next;
}

/* Hands a batch to the module an ogate of m leads to (the gate's counters are the
 * caller's to keep). */
static inline void e2_deliver(struct e2_ctx *ctx, struct e2_module *m, const struct e2_ogate *g, struct e2_batch *b)
{
	struct e2_module *next = g->next;

	next->packets += b->cnt;
	next->batches++;
	if (unlikely(ctx->measure)) {
		next->measured_packets += b->cnt;
		e2_charge(ctx, next);
		next->cls->process_batch(ctx, next, g->next_igate, b);
		e2_charge(ctx, m);
	} else {
		next->cls->process_batch(ctx, next, g->next_igate, b);
	}
}

/* Sends a batch of `bytes` bytes out of ogate, for callers that summed the lengths
 * already (port_in); the batch belongs to the callee afterwards. */
static inline void e2_emit_sized(struct e2_ctx *ctx, struct e2_module *m, uint16_t ogate, struct e2_batch *b,
				 uint64_t bytes)
{
	struct e2_ogate *g;

	if (unlikely(b->cnt == 0))
		return;
	if (unlikely(ogate >= m->n_ogates || m->ogates[ogate].next == NULL)) {
		m->drops += b->cnt;
		e2_free_batch(b);
		return;
	}
	g = &m->ogates[ogate];
	g->packets += b->cnt;
	g->bytes += bytes;
	e2_deliver(ctx, m, g, b);
}

/* Sends a batch out of ogate; the batch belongs to the callee afterwards. */
static inline uint64_t e2_batch_bytes(const struct e2_batch *b)
{
	uint64_t bytes = 0;

	for (uint16_t i = 0; i < b->cnt; i++)
		bytes += b->pkts[i]->pkt_len;
	return bytes;
}

static inline void e2_emit(struct e2_ctx *ctx, struct e2_module *m, uint16_t ogate, struct e2_batch *b)
{
	e2_emit_sized(ctx, m, ogate, b, e2_batch_bytes(b));
}

/* Module cycles per packet, from the measured batches. */
static inline double e2_cycles_per_packet(const struct e2_module *m)
{
	return m->measured_packets ? (double)m->cycles / (double)m->measured_packets : 0;
}

/* Splits a batch by a per-packet gate number (gate >= n_ogates drops). Gates that lead
 * to the same module and input gate pass their packets on together, in one batch. */
void e2_emit_split(struct e2_ctx *ctx, struct e2_module *m, struct e2_batch *b, const uint16_t *gates);

#endif
