/* SPDX-License-Identifier: BSD-3-Clause */
/* Module class registry, argument helpers and batch utilities. */
#include "module.h"

#include <errno.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "e2/num.h"

#define MAX_CLASSES 64

/* Filled by constructors before main() and read-only afterwards. */
static const struct e2_module_class *classes[MAX_CLASSES];
static size_t n_classes;

int e2_meta_offset = -1;

int e2_meta_register(void)
{
	static const struct rte_mbuf_dynfield desc = {
		.name = "e2_pkt_meta",
		.size = sizeof(struct e2_pkt_meta),
		.align = __alignof__(struct e2_pkt_meta),
	};
	if (e2_meta_offset >= 0)
		return 0;
	e2_meta_offset = rte_mbuf_dynfield_register(&desc);
	return e2_meta_offset < 0 ? -1 : 0;
}

const char *const e2_args_any[] = {NULL};

void e2_module_class_register(const struct e2_module_class *cls)
{
	/* a descriptor without its argument table is a programming error: stop at start-up */
	if (!cls->args) {
		fprintf(stderr, "e2d: module class %s has no .args table\n", cls->name);
		abort();
	}
	for (const struct e2_cmd *c = cls->cmds; c && c->name; c++)
		if (!c->args) {
			fprintf(stderr, "e2d: command %s of module class %s has no .args table\n", c->name, cls->name);
			abort();
		}
	if (n_classes == MAX_CLASSES) {
		fprintf(stderr, "e2d: too many module classes, %s not registered\n", cls->name);
		return;
	}
	classes[n_classes++] = cls;
}

const struct e2_module_class *e2_module_class_find(const char *name)
{
	for (size_t i = 0; i < n_classes; i++)
		if (strcmp(classes[i]->name, name) == 0)
			return classes[i];
	return NULL;
}

size_t e2_module_class_count(void)
{
	return n_classes;
}

const struct e2_module_class *e2_module_class_at(size_t i)
{
	return i < n_classes ? classes[i] : NULL;
}

const char *e2_args_get(const struct e2_args *a, const char *key)
{
	for (size_t i = 0; a && i < a->n; i++)
		if (strcmp(a->v[i].key, key) == 0)
			return a->v[i].value;
	return NULL;
}

int e2_args_u64(const struct e2_args *a, const char *key, uint64_t def, uint64_t min, uint64_t max, uint64_t *out,
		char *err)
{
	const char *s = e2_args_get(a, key);
	struct e2_err e;

	if (s == NULL) {
		*out = def;
		return 1;
	}
	if (e2_num_u64(key, s, min, max, out, &e)) {
		snprintf(err, E2_ERR_MAX, "%s", e.msg);
		return -1;
	}
	return 0;
}

int e2_args_check_known(const struct e2_args *a, const char *const *known, char *err)
{
	for (size_t i = 0; a && i < a->n; i++) {
		bool ok = known == e2_args_any;
		for (size_t k = 0; !ok && known[k]; k++)
			if (strcmp(a->v[i].key, known[k]) == 0)
				ok = true;
		if (!ok && !known[0]) {
			snprintf(err, E2_ERR_MAX, "takes no arguments ('%s' given)", a->v[i].key);
			return -1;
		}
		if (!ok) {
			int off = snprintf(err, E2_ERR_MAX, "unknown argument '%s' (known:", a->v[i].key);
			for (size_t k = 0; known[k] && off < E2_ERR_MAX; k++)
				off += snprintf(err + off, E2_ERR_MAX - off, " %s", known[k]);
			if (off < E2_ERR_MAX)
				snprintf(err + off, E2_ERR_MAX - off, ")");
			return -1;
		}
		for (size_t j = 0; j < i; j++)
			if (strcmp(a->v[i].key, a->v[j].key) == 0) {
				snprintf(err, E2_ERR_MAX, "argument '%s' given twice", a->v[i].key);
				return -1;
			}
	}
	return 0;
}

void e2_result_add(struct e2_result *r, const char *key, const char *fmt, ...)
{
	va_list ap;
	size_t klen = strlen(key) + 1;
	int n;

	if (r->n == sizeof(r->v) / sizeof(r->v[0]) || r->used + klen >= sizeof(r->buf))
		return;
	memcpy(r->buf + r->used, key, klen);
	r->v[r->n].key = r->buf + r->used;
	r->used += klen;
	va_start(ap, fmt);
	n = vsnprintf(r->buf + r->used, sizeof(r->buf) - r->used, fmt, ap);
	va_end(ap);
	if (n < 0 || (size_t)n >= sizeof(r->buf) - r->used) {
		r->used -= klen;
		return;
	}
	r->v[r->n++].value = r->buf + r->used;
	r->used += (size_t)n + 1;
}

void e2_free_batch(struct e2_batch *b)
{
	rte_pktmbuf_free_bulk(b->pkts, b->cnt);
	b->cnt = 0;
}

void e2_emit_split(struct e2_ctx *ctx, struct e2_module *m, struct e2_batch *b, const uint16_t *gates)
{
	/* Most batches go to one gate: pass them on whole, without copying. */
	uint16_t first = gates[0];
	uint16_t i;

	for (i = 1; i < b->cnt && gates[i] == first; i++)
		;
	if (i == b->cnt) {
		e2_emit(ctx, m, first, b);
		return;
	}

	struct e2_batch out[E2_GATES_MAX + 1];
	uint16_t used[E2_GATES_MAX + 1];
	uint16_t n_used = 0;
	bool seen[E2_GATES_MAX + 1] = {false};

	for (i = 0; i < b->cnt; i++) {
		uint16_t g = gates[i] < m->n_ogates ? gates[i] : E2_GATES_MAX;
		if (!seen[g]) {
			seen[g] = true;
			out[g].cnt = 0;
			used[n_used++] = g;
		}
		out[g].pkts[out[g].cnt++] = b->pkts[i];
	}
	b->cnt = 0;
	/* Gates often meet again (a split's gates into one port_out): one batch on
	 * instead of one per gate, so the next module pays its per-batch cost (a
	 * device's transmit call) once. Each gate keeps its own counts. */
	const uint16_t taken = UINT16_MAX;
	for (i = 0; i < n_used; i++) {
		uint16_t g = used[i];
		if (g == taken)
			continue;
		if (g == E2_GATES_MAX || !m->ogates[g].next) {
			m->drops += out[g].cnt;
			e2_free_batch(&out[g]);
			continue;
		}
		struct e2_ogate *og = &m->ogates[g];
		struct e2_batch *to = &out[g];
		og->packets += to->cnt;
		og->bytes += e2_batch_bytes(to);
		for (uint16_t j = i + 1; j < n_used; j++) {
			uint16_t h = used[j];
			if (h == taken || h == E2_GATES_MAX || m->ogates[h].next != og->next ||
			    m->ogates[h].next_igate != og->next_igate)
				continue;
			m->ogates[h].packets += out[h].cnt;
			m->ogates[h].bytes += e2_batch_bytes(&out[h]);
			for (uint16_t k = 0; k < out[h].cnt; k++)
				to->pkts[to->cnt++] = out[h].pkts[k];
			out[h].cnt = 0;
			used[j] = taken;
		}
		e2_deliver(ctx, m, og, to);
	}
}
