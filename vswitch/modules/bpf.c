/* SPDX-License-Identifier: BSD-3-Clause */
/* bpf: pcap-filter classification. Each filter is a tcpdump expression bound to an
 * output gate; a packet leaves by the gate of the first filter it matches, filters
 * taken by descending priority, then in the order they were added; packets that match
 * none leave by the default gate.
 *
 * An expression is compiled by libpcap to classic BPF for Ethernet frames, converted
 * by DPDK to eBPF (rte_bpf_convert: the program takes a struct rte_mbuf pointer and
 * reads the frame with packet loads, so multi-segment and short frames are safe) and
 * run JIT-compiled when DPDK has a JIT for this CPU, else interpreted. */
#define ALLOW_EXPERIMENTAL_API 1

#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <pcap/pcap.h>
#include <rte_bpf.h>
#include <rte_errno.h>
#include <rte_malloc.h>

#include "../module.h"

#define MAX_FILTERS 32
#define EXPR_MAX 256

struct filter {
	struct rte_bpf *bpf;
	uint64_t (*jit)(void *); /* NULL: interpret */
	uint16_t gate;
	uint32_t priority;
	uint64_t seq; /* insertion order, breaks priority ties */
	uint64_t matches;
	char expr[EXPR_MAX];
};

struct bpf_mod {
	uint32_t n_filters; /* sorted: priority descending, then seq ascending */
	struct filter filters[MAX_FILTERS];
	uint16_t default_gate;
	bool use_jit;
	uint64_t next_seq;
	uint64_t misses;
};

/* DPDK 22.11's rte_bpf_convert turns classic indexed loads (`ldb [x + k]`, which
 * libpcap emits for anything past a variable-length IP header: tcp[...], icmp[...])
 * into eBPF LD_IND with source register 0 (classic A) instead of the register it maps
 * classic X to (R7), so the filter reads the wrong bytes. Point them at R7. Harmless
 * once DPDK is fixed (the register is R7 then). */
static void fix_indexed_loads(struct rte_bpf_prm *prm)
{
	struct ebpf_insn *ins = (struct ebpf_insn *)(uintptr_t)prm->ins;

	for (uint32_t i = 0; i < prm->nb_ins; i++)
		if (BPF_CLASS(ins[i].code) == BPF_LD && BPF_MODE(ins[i].code) == BPF_IND)
			ins[i].src_reg = EBPF_REG_7;
}

static bool is_small_jset(const struct ebpf_insn *in)
{
	return in->code == (BPF_JMP | BPF_JSET | BPF_K) && in->imm >= -128 && in->imm <= 127;
}

/* DPDK 22.11's x86 JIT miscompiles `jset reg, #imm` when imm fits in 8 bits (the jump
 * lands mid-instruction: libpcap emits these for tcp[tcpflags], ip[6] & 0x20 and the
 * like). Rewrite each as `mov32 r9, #imm; jset reg, r9` (r9 is unused by converted
 * programs) and relocate every jump. Returns 1 with a malloc()ed program in *res,
 * 0 if no instruction needs it, -1 if out of memory. */
static int expand_small_jsets(const struct rte_bpf_prm *prm, struct ebpf_insn **res, uint32_t *n_out)
{
	uint32_t n = prm->nb_ins, extra = 0, *start;
	struct ebpf_insn *out;

	for (uint32_t i = 0; i < n; i++)
		extra += is_small_jset(&prm->ins[i]);
	if (!extra)
		return 0;
	out = calloc(n + extra, sizeof(*out));
	start = calloc(n + 1, sizeof(*start)); /* where old instruction i's block begins */
	if (!out || !start) {
		free(out);
		free(start);
		return -1;
	}
	for (uint32_t i = 0, j = 0; i <= n; i++) {
		start[i] = j;
		j += i < n ? 1u + is_small_jset(&prm->ins[i]) : 0;
	}
	for (uint32_t i = 0; i < n; i++) {
		struct ebpf_insn in = prm->ins[i];
		uint32_t at = start[i];
		if (is_small_jset(&in)) {
			out[at++] = (struct ebpf_insn){
				.code = BPF_ALU | EBPF_MOV | BPF_K, .dst_reg = EBPF_REG_9, .imm = in.imm};
			in.code = BPF_JMP | BPF_JSET | BPF_X;
			in.src_reg = EBPF_REG_9;
			in.imm = 0;
		}
		if (BPF_CLASS(in.code) == BPF_JMP && BPF_OP(in.code) != EBPF_CALL && BPF_OP(in.code) != EBPF_EXIT) {
			int64_t target = (int64_t)i + in.off + 1;
			if (target >= 0 && target <= (int64_t)n)
				in.off = (int16_t)((int64_t)start[target] - at - 1);
		}
		out[at] = in;
	}
	free(start);
	*res = out;
	*n_out = n + extra;
	return 1;
}

/* Compiles expr into a loaded eBPF program; returns NULL with err filled. */
static struct rte_bpf *compile(const char *expr, char *err)
{
	struct bpf_program cbpf;
	struct rte_bpf_prm *prm;
	struct rte_bpf *bpf;
	pcap_t *pcap = pcap_open_dead(DLT_EN10MB, 65535);

	if (!pcap) {
		snprintf(err, E2_ERR_MAX, "libpcap: cannot open a dead handle");
		return NULL;
	}
	if (pcap_compile(pcap, &cbpf, expr, 1, PCAP_NETMASK_UNKNOWN) != 0) {
		snprintf(err, E2_ERR_MAX, "filter \"%s\": %s", expr, pcap_geterr(pcap));
		pcap_close(pcap);
		return NULL;
	}
	pcap_close(pcap);
	prm = rte_bpf_convert(&cbpf);
	pcap_freecode(&cbpf);
	if (!prm) {
		snprintf(err, E2_ERR_MAX, "filter \"%s\": cannot convert to eBPF: %s", expr, rte_strerror(rte_errno));
		return NULL;
	}
	fix_indexed_loads(prm);
	struct ebpf_insn *expanded = NULL;
	uint32_t n_ins = 0;
	int x = expand_small_jsets(prm, &expanded, &n_ins);
	if (x < 0) {
		rte_free(prm);
		snprintf(err, E2_ERR_MAX, "filter \"%s\": out of memory", expr);
		return NULL;
	}
	if (x > 0) {
		struct rte_bpf_prm p2 = *prm;
		p2.ins = expanded;
		p2.nb_ins = n_ins;
		bpf = rte_bpf_load(&p2);
		free(expanded);
	} else {
		bpf = rte_bpf_load(prm);
	}
	rte_free(prm);
	if (!bpf)
		snprintf(err, E2_ERR_MAX, "filter \"%s\": eBPF load failed: %s", expr, rte_strerror(rte_errno));
	return bpf;
}

static int filter_cmp(const void *a, const void *b)
{
	const struct filter *x = a, *y = b;
	if (x->priority != y->priority)
		return x->priority > y->priority ? -1 : 1;
	return (x->seq > y->seq) - (x->seq < y->seq);
}

static void set_jit(struct bpf_mod *s)
{
	for (uint32_t i = 0; i < s->n_filters; i++) {
		struct filter *f = &s->filters[i];
		struct rte_bpf_jit jit = {0};
		f->jit = NULL;
		if (s->use_jit && rte_bpf_get_jit(f->bpf, &jit) == 0)
			f->jit = jit.func;
	}
}

static const char *const known[] = {"default", "jit", NULL};

static int bpf_init(struct e2_module *m, const struct e2_args *args, char *err)
{
	struct bpf_mod *s = e2_priv(m);
	uint64_t def, jit;

	if (e2_args_u64(args, "default", 0, 0, E2_GATES_MAX - 1, &def, err) < 0 ||
	    e2_args_u64(args, "jit", 1, 0, 1, &jit, err) < 0)
		return -1;
	s->default_gate = (uint16_t)def;
	s->use_jit = jit != 0;
	return 0;
}

static void bpf_deinit(struct e2_module *m)
{
	struct bpf_mod *s = e2_priv(m);
	for (uint32_t i = 0; i < s->n_filters; i++)
		rte_bpf_destroy(s->filters[i].bpf);
	s->n_filters = 0;
}

static void bpf_process(struct e2_ctx *ctx, struct e2_module *m, uint16_t igate, struct e2_batch *b)
{
	struct bpf_mod *s = e2_priv(m);
	uint16_t gates[E2_BATCH_MAX];
	void *pending[E2_BATCH_MAX];
	uint16_t idx[E2_BATCH_MAX];
	uint64_t rc[E2_BATCH_MAX];
	uint32_t n = b->cnt;

	for (uint16_t i = 0; i < b->cnt; i++) {
		gates[i] = s->default_gate;
		pending[i] = b->pkts[i];
		idx[i] = i;
	}
	/* Each filter sees only the packets no earlier filter took. */
	for (uint32_t f = 0; f < s->n_filters && n > 0; f++) {
		struct filter *fl = &s->filters[f];
		uint32_t left = 0;
		if (fl->jit) {
			for (uint32_t i = 0; i < n; i++)
				rc[i] = fl->jit(pending[i]);
		} else {
			rte_bpf_exec_burst(fl->bpf, pending, rc, n);
		}
		for (uint32_t i = 0; i < n; i++) {
			if (rc[i]) {
				gates[idx[i]] = fl->gate;
				fl->matches++;
			} else {
				pending[left] = pending[i];
				idx[left++] = idx[i];
			}
		}
		n = left;
	}
	s->misses += n;
	e2_emit_split(ctx, m, b, gates);
}

static const char *const add_keys[] = {"filter", "gate", "priority", NULL};

static int cmd_add(struct e2_module *m, const struct e2_args *a, struct e2_result *out, char *err)
{
	struct bpf_mod *s = e2_priv(m);
	const char *expr = e2_args_get(a, "filter");
	uint64_t gate, prio;
	struct rte_bpf *bpf;
	struct filter *f;

	if (e2_args_u64(a, "gate", 0, 0, E2_GATES_MAX - 1, &gate, err) < 0 ||
	    e2_args_u64(a, "priority", 0, 0, UINT32_MAX, &prio, err) < 0)
		return -1;
	if (!expr || !e2_args_get(a, "gate")) {
		snprintf(err, E2_ERR_MAX, "add needs filter=\"EXPRESSION\" and gate=N");
		return -1;
	}
	if (strlen(expr) >= EXPR_MAX) {
		snprintf(err, E2_ERR_MAX, "filter is longer than %d characters", EXPR_MAX - 1);
		return -1;
	}
	if (s->n_filters == MAX_FILTERS) {
		snprintf(err, E2_ERR_MAX, "at most %d filters", MAX_FILTERS);
		return -1;
	}
	for (uint32_t i = 0; i < s->n_filters; i++)
		if (s->filters[i].gate == gate) {
			snprintf(err, E2_ERR_MAX, "gate %llu already has filter \"%s\" (delete it first)",
				 (unsigned long long)gate, s->filters[i].expr);
			return -1;
		}
	bpf = compile(expr, err);
	if (!bpf)
		return -1;
	f = &s->filters[s->n_filters++];
	memset(f, 0, sizeof(*f));
	f->bpf = bpf;
	f->gate = (uint16_t)gate;
	f->priority = (uint32_t)prio;
	f->seq = s->next_seq++;
	snprintf(f->expr, sizeof(f->expr), "%s", expr);
	qsort(s->filters, s->n_filters, sizeof(s->filters[0]), filter_cmp);
	set_jit(s);
	return 0;
}

static int cmd_delete(struct e2_module *m, const struct e2_args *a, struct e2_result *out, char *err)
{
	struct bpf_mod *s = e2_priv(m);
	uint64_t gate;

	if (e2_args_u64(a, "gate", 0, 0, E2_GATES_MAX - 1, &gate, err) != 0) {
		if (!e2_args_get(a, "gate"))
			snprintf(err, E2_ERR_MAX, "delete needs gate=N");
		return -1;
	}
	for (uint32_t i = 0; i < s->n_filters; i++) {
		if (s->filters[i].gate != gate)
			continue;
		rte_bpf_destroy(s->filters[i].bpf);
		memmove(&s->filters[i], &s->filters[i + 1], (s->n_filters - i - 1) * sizeof(s->filters[0]));
		s->n_filters--;
		return 0;
	}
	snprintf(err, E2_ERR_MAX, "no filter on gate %llu", (unsigned long long)gate);
	return -1;
}

static int cmd_clear(struct e2_module *m, const struct e2_args *a, struct e2_result *out, char *err)
{
	bpf_deinit(m);
	return 0;
}

static void bpf_stats(struct e2_module *m, struct e2_result *out)
{
	struct bpf_mod *s = e2_priv(m);
	e2_result_add(out, "filters", "%u", s->n_filters);
	e2_result_add(out, "misses", "%llu", (unsigned long long)s->misses);
	for (uint32_t i = 0; i < s->n_filters; i++) {
		const struct filter *f = &s->filters[i];
		char key[32];
		snprintf(key, sizeof(key), "gate%u", f->gate);
		e2_result_add(out, key, "priority=%u matches=%llu jit=%d filter=\"%s\"", f->priority,
			      (unsigned long long)f->matches, f->jit != NULL, f->expr);
	}
}

static int cmd_list(struct e2_module *m, const struct e2_args *a, struct e2_result *out, char *err)
{
	bpf_stats(m, out);
	return 0;
}

static const struct e2_cmd bpf_cmds[] = {
	{.name = "add",
	 .help = "filter=\"EXPR\" gate=N [priority=P (0)]: first match wins, higher priority first",
	 .args = add_keys,
	 .fn = cmd_add},
	{.name = "delete", .help = "gate=N", .args = E2_ARGS("gate"), .fn = cmd_delete},
	{.name = "clear", .help = "remove every filter", .args = E2_ARGS_NONE, .fn = cmd_clear},
	{.name = "list", .help = "filters in evaluation order with match counts", .args = E2_ARGS_NONE, .fn = cmd_list},
	{0},
};

static const struct e2_module_class bpf_class = {
	.name = "bpf",
	.help = "pcap-filter classifier, one gate per filter: [default=GATE (0)] [jit=0|1 (1)]",
	.igates = 1,
	.ogates = E2_GATES_MAX,
	.priv_size = sizeof(struct bpf_mod),
	.args = known,
	.init = bpf_init,
	.deinit = bpf_deinit,
	.process_batch = bpf_process,
	.stats = bpf_stats,
	.cmds = bpf_cmds,
};
E2_MODULE_REGISTER(bpf_class)
