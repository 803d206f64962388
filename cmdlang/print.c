/* SPDX-License-Identifier: BSD-3-Clause */
/* Printing a request as one canonical line: the inverse of the parser. Each word is
 * written as short as the tokenizer allows (never longer than the line it was parsed
 * from), so a line the parser takes prints to one it takes again. */
#include <inttypes.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "e2/cmd.h"
#include "e2/cmd_ops.h"
#include "sched_words.h"

/* Characters the tokenizer reads as ends of words or quotes, and '#' where a word
 * starts (a comment): they can only be written inside "double quotes". */
static bool must_quote(const char *s, size_t i)
{
	char c = s[i];
	return c == ' ' || c == '\t' || c == '\r' || c == '\n' || c == '"' || (i == 0 && c == '#');
}

/* Inside quotes a backslash costs two characters, closing and opening again two: a
 * quoted stretch goes on over the characters up to the next one that must be quoted
 * when that is cheaper. */
static bool stay_quoted(const char *s, size_t i)
{
	unsigned backslashes = 0;
	for (; s[i]; i++) {
		if (must_quote(s, i))
			return backslashes < 2;
		backslashes += s[i] == '\\';
	}
	return false;
}

/* Writes s as (the rest of) a word; at_start: s starts the word, where '#' would
 * start a comment. */
static void put_text(FILE *out, const char *s, bool at_start)
{
	bool quoted = false;

	/* without backslashes, quoting the whole word costs no more and reads better */
	bool whole = !strchr(s, '\\');
	for (size_t i = 0; whole && s[i]; i++)
		if (must_quote(s, i) && (at_start || s[i] != '#')) {
			fputc('"', out);
			for (const char *c = s; *c; c++) {
				if (*c == '"')
					fputc('\\', out);
				fputc(*c, out);
			}
			fputc('"', out);
			return;
		}
	for (size_t i = 0; s[i]; i++) {
		if (must_quote(s, i) && (at_start || s[i] != '#')) {
			if (!quoted)
				fputc('"', out);
			quoted = true;
		} else if (quoted && !stay_quoted(s, i)) {
			fputc('"', out);
			quoted = false;
		}
		if (quoted && (s[i] == '"' || s[i] == '\\'))
			fputc('\\', out);
		fputc(s[i], out);
	}
	if (quoted)
		fputc('"', out);
}

static void put_word(FILE *out, const char *s)
{
	fputc(' ', out);
	if (!s || !*s)
		fputs("\"\"", out);
	else
		put_text(out, s, true);
}

/* KEY=VALUE as one word: the quotes, when the value needs them, go around the value
 * alone (filter="tcp dst port 80"), which reads as what it is; a key that needs
 * quoting itself quotes the whole word. */
static void put_kv(FILE *out, const char *key, const char *value)
{
	bool plain_key = *key && key[0] != '#' && !strchr(key, '\\');
	for (size_t i = 0; plain_key && key[i]; i++)
		plain_key = !must_quote(key, i);
	if (!plain_key) {
		char *kv;
		if (asprintf(&kv, "%s=%s", key, value) < 0)
			abort();
		put_word(out, kv);
		free(kv);
		return;
	}
	fprintf(out, " %s=", key);
	put_text(out, value, false);
}

static void put_args(FILE *out, size_t n, E2__Dp__Arg **a)
{
	for (size_t i = 0; i < n; i++)
		put_kv(out, a[i]->key ? a[i]->key : "", a[i]->value ? a[i]->value : "");
}

/* MODULE[:GATE]: the gate is written when it is not 0, or when the name has a colon
 * of its own (the parser splits at the last one). */
static void put_gate(FILE *out, const E2__Dp__GateRef *g)
{
	const char *module = g->module ? g->module : "";
	char *w;
	if (g->gate || strchr(module, ':')) {
		if (asprintf(&w, "%s:%u", module, g->gate) < 0)
			abort();
	} else {
		w = strdup(module);
		if (!w)
			abort();
	}
	put_word(out, w);
	free(w);
}

static int print_port_add(FILE *out, const E2__Dp__Request *r)
{
	put_word(out, r->port_create->name);
	put_word(out, r->port_create->driver);
	put_args(out, r->port_create->n_args, r->port_create->args);
	return 0;
}

static int print_port_del(FILE *out, const E2__Dp__Request *r)
{
	put_word(out, r->port_destroy->name);
	return 0;
}

static int print_module_add(FILE *out, const E2__Dp__Request *r)
{
	put_word(out, r->module_create->name);
	put_word(out, r->module_create->mclass);
	put_args(out, r->module_create->n_args, r->module_create->args);
	return 0;
}

static int print_module_del(FILE *out, const E2__Dp__Request *r)
{
	put_word(out, r->module_destroy->name);
	return 0;
}

static int print_module_cmd(FILE *out, const E2__Dp__Request *r)
{
	put_word(out, r->module_command->module);
	put_word(out, r->module_command->cmd);
	put_args(out, r->module_command->n_args, r->module_command->args);
	return 0;
}

static int print_connect(FILE *out, const E2__Dp__Request *r)
{
	if (!r->connect->from || !r->connect->to)
		return -1;
	put_gate(out, r->connect->from);
	put_gate(out, r->connect->to);
	return 0;
}

static int print_disconnect(FILE *out, const E2__Dp__Request *r)
{
	put_gate(out, r->disconnect);
	return 0;
}

static int print_insert(FILE *out, const E2__Dp__Request *r)
{
	if (!r->insert->at)
		return -1;
	put_gate(out, r->insert->at);
	put_word(out, r->insert->module);
	return 0;
}

static int print_capture(FILE *out, const E2__Dp__Request *r)
{
	const E2__Dp__Capture *c = r->capture;
	/* "capture stop X" stops X: a capture at a module named "stop" (gate 0) or a stop
	 * with arguments has no text form */
	if (!c->at || (c->stop && c->n_args) ||
	    (!c->stop && !c->at->gate && c->at->module && strcmp(c->at->module, "stop") == 0))
		return -1;
	if (c->stop)
		fputs(" stop", out);
	put_gate(out, c->at);
	put_args(out, c->n_args, c->args);
	return 0;
}

static int print_worker_add(FILE *out, const E2__Dp__Request *r)
{
	fprintf(out, " %u", r->worker_create->id);
	if (r->worker_create->core >= 0)
		fprintf(out, " core=%d", r->worker_create->core);
	return 0;
}

static int print_task_attach(FILE *out, const E2__Dp__Request *r)
{
	put_word(out, r->task_attach->module);
	fprintf(out, " worker=%u", r->task_attach->worker);
	return 0;
}

/* KEY=VALUE as one word (the value quoted if it needs to be) */
static void put_key(FILE *out, const char *key, const char *value)
{
	put_kv(out, key, value ? value : "");
}

/* A node's settings, each when given; -1 for a resource with no word. */
static int put_settings(FILE *out, bool has_share, uint32_t share, bool has_priority, uint32_t priority,
			E2__Dp__SchedResource resource, bool has_limit, uint64_t limit, bool has_burst, uint64_t burst)
{
	if (has_share)
		fprintf(out, " share=%u", share);
	if (has_priority)
		fprintf(out, " priority=%u", priority);
	if (resource) {
		const char *word = e2_cmd_resource_word(resource);
		if (!word)
			return -1;
		fprintf(out, " resource=%s", word);
	}
	if (has_limit)
		fprintf(out, " limit=%" PRIu64, limit);
	if (has_burst)
		fprintf(out, " burst=%" PRIu64, burst);
	return 0;
}

static int print_sched_add(FILE *out, const E2__Dp__Request *r)
{
	const E2__Dp__SchedAdd *c = r->sched_add;
	const char *policy = e2_cmd_policy_word(c->policy);
	if (!policy)
		return -1;
	put_word(out, c->name);
	fprintf(out, " policy=%s", policy);
	if (c->has_parent_case)
		put_key(out, "parent", c->parent);
	if (c->has_worker_case)
		fprintf(out, " worker=%u", c->worker);
	return put_settings(out, c->has_share_case, c->share, c->has_priority_case, c->priority, c->resource,
			    c->has_limit_case, c->limit, c->has_burst_case, c->burst);
}

static int print_sched_attach(FILE *out, const E2__Dp__Request *r)
{
	const E2__Dp__SchedAttach *c = r->sched_attach;
	put_word(out, c->name);
	if (c->parent && *c->parent)
		put_key(out, "parent", c->parent);
	return put_settings(out, c->has_share_case, c->share, c->has_priority_case, c->priority,
			    E2__DP__SCHED_RESOURCE__SCHED_RESOURCE_UNSPECIFIED, false, 0, false, 0);
}

static int print_sched_set(FILE *out, const E2__Dp__Request *r)
{
	const E2__Dp__SchedSet *c = r->sched_set;
	put_word(out, c->name);
	return put_settings(out, c->has_share_case, c->share, c->has_priority_case, c->priority, c->resource,
			    c->has_limit_case, c->limit, c->has_burst_case, c->burst);
}

static int print_sched_del(FILE *out, const E2__Dp__Request *r)
{
	put_word(out, r->sched_del->name);
	return 0;
}

static int print_sched_show(FILE *out, const E2__Dp__Request *r)
{
	if (r->sched_show->has_worker_case)
		fprintf(out, " worker=%u", r->sched_show->worker);
	return 0;
}

static int print_stats(FILE *out, const E2__Dp__Request *r)
{
	const char *name = r->stats->name;
	/* a port or module named "reset" has no text form: the word asks for a reset */
	if (name && strcmp(name, "reset") == 0)
		return -1;
	if (name && *name)
		put_word(out, name);
	if (r->stats->reset)
		fputs(" reset", out);
	return 0;
}

static int print_log_set(FILE *out, const E2__Dp__Request *r)
{
	put_word(out, r->log_set->spec);
	return 0;
}

/* list, classes, ping, shutdown, log show: the words say it all */
static int print_word_alone(FILE *out, const E2__Dp__Request *r)
{
	return 0;
}

#define print_list print_word_alone
#define print_classes print_word_alone
#define print_ping print_word_alone
#define print_shutdown print_word_alone
#define print_log_show print_word_alone

/* Each print_NAME writes what follows the command's words, each word with its
 * leading space; -1 when the request has no text form. */
struct print_op {
	const char *words;
	E2__Dp__Request__OpCase op;
	int (*print)(FILE *out, const E2__Dp__Request *r);
};

#define PRINT_ROW(name, words, op, workers, usage) {words, E2__DP__REQUEST__OP_##op, print_##name},
static const struct print_op print_ops[] = {E2_CMD_OPS(PRINT_ROW)};

static int print_request(FILE *out, const E2__Dp__Request *r)
{
	for (size_t i = 0; i < sizeof(print_ops) / sizeof(print_ops[0]); i++)
		if (print_ops[i].op == r->op_case) {
			fputs(print_ops[i].words, out);
			return print_ops[i].print(out, r);
		}
	return -1;
}

char *e2_cmd_line(const E2__Dp__Request *req)
{
	char *line = NULL;
	size_t len = 0;
	FILE *out = open_memstream(&line, &len);

	if (!out)
		abort();
	int rc = print_request(out, req);
	if (fclose(out) != 0)
		abort();
	if (rc) {
		free(line);
		return NULL;
	}
	return line;
}
