/* SPDX-License-Identifier: BSD-3-Clause */
/* Parsing the text form of control requests, used by the start-up configuration
 * file and by `e2ctl dp`. */
#include <ctype.h>
#include <errno.h>
#include <stdbool.h>
#include <stdlib.h>
#include <string.h>

#include "e2/cmd.h"
#include "e2/cmd_alloc.h"
#include "e2/cmd_ops.h"
#include "sched_words.h"

#define TOKENS_MAX 72

#define USAGE_TEXT(name, words, op, workers, usage) usage
const char e2_cmd_usage[] = E2_CMD_OPS(USAGE_TEXT);

/* Splits a line into words; "double quotes" group, backslash escapes inside them. */
static int tokenize(const char *line, char *buf, size_t buflen, char **tok, int max, char *err, size_t errlen)
{
	int n = 0;
	size_t o = 0;
	const char *p = line;

	for (;;) {
		while (*p == ' ' || *p == '\t' || *p == '\r' || *p == '\n')
			p++;
		if (!*p || *p == '#')
			break;
		if (n == max) {
			snprintf(err, errlen, "too many words (at most %d)", max);
			return -1;
		}
		tok[n++] = buf + o;
		bool quoted = false;
		while (*p && (quoted || !(*p == ' ' || *p == '\t' || *p == '\r' || *p == '\n'))) {
			if (*p == '"') {
				quoted = !quoted;
				p++;
				continue;
			}
			if (quoted && *p == '\\' && p[1])
				p++;
			if (o + 1 >= buflen) {
				snprintf(err, errlen, "line too long");
				return -1;
			}
			buf[o++] = *p++;
		}
		if (quoted) {
			snprintf(err, errlen, "unterminated quote");
			return -1;
		}
		buf[o++] = '\0';
	}
	return n;
}

static int parse_args(char **tok, int n, size_t *n_out, E2__Dp__Arg ***out, char *err, size_t errlen)
{
	*out = ctl_calloc((size_t)(n > 0 ? n : 1), sizeof(**out));
	*n_out = 0;
	for (int i = 0; i < n; i++) {
		char *eq = strchr(tok[i], '=');
		E2__Dp__Arg *a;
		if (!eq || eq == tok[i]) {
			snprintf(err, errlen, "'%s' is not KEY=VALUE", tok[i]);
			return -1;
		}
		a = ctl_calloc(1, sizeof(*a));
		e2__dp__arg__init(a);
		*eq = '\0';
		a->key = ctl_strdup(tok[i]);
		a->value = ctl_strdup(eq + 1);
		(*out)[(*n_out)++] = a;
	}
	return 0;
}

static int parse_gate(const char *s, E2__Dp__GateRef **out, char *err, size_t errlen)
{
	const char *colon = strrchr(s, ':');
	E2__Dp__GateRef *g = ctl_calloc(1, sizeof(*g));
	e2__dp__gate_ref__init(g);
	*out = g;
	if (colon) {
		char *end;
		errno = 0;
		unsigned long v = strtoul(colon + 1, &end, 10);
		if (errno || end == colon + 1 || *end || v > 65535 || colon[1] == '-') {
			snprintf(err, errlen, "'%s': gate must be a number (MODULE:GATE)", s);
			return -1;
		}
		g->gate = (uint32_t)v;
		g->module = strndup(s, (size_t)(colon - s));
		if (!g->module)
			abort();
	} else {
		g->module = ctl_strdup(s);
	}
	return 0;
}

static int want(int n, int lo, int hi, const char *usage, char *err, size_t errlen)
{
	if (n < lo || n > hi) {
		snprintf(err, errlen, "usage: %s", usage);
		return -1;
	}
	return 0;
}

#define NEW(type, init)                                 \
	({                                              \
		type *x_ = ctl_calloc(1, sizeof(type)); \
		init(x_);                               \
		x_;                                     \
	})

static void unknown_command(const char *word, char *err, size_t errlen)
{
	snprintf(err, errlen, "unknown command '%s'; commands are:\n%s", word, e2_cmd_usage);
}

/* Each parse_NAME reads the words of its line, t[0..n) (the command's own words
 * included, n at least their number), into its part of r; 0 or -1 with err. */

static int parse_port_add(E2__Dp__Request *r, char **t, int n, char *err, size_t errlen)
{
	if (want(n, 4, TOKENS_MAX, "port add NAME DRIVER [KEY=VALUE...]", err, errlen))
		return -1;
	E2__Dp__PortCreate *c = NEW(E2__Dp__PortCreate, e2__dp__port_create__init);
	r->port_create = c;
	c->name = ctl_strdup(t[2]);
	c->driver = ctl_strdup(t[3]);
	return parse_args(t + 4, n - 4, &c->n_args, &c->args, err, errlen);
}

static int parse_port_del(E2__Dp__Request *r, char **t, int n, char *err, size_t errlen)
{
	if (want(n, 3, 3, "port del NAME", err, errlen))
		return -1;
	r->port_destroy = NEW(E2__Dp__Name, e2__dp__name__init);
	r->port_destroy->name = ctl_strdup(t[2]);
	return 0;
}

static int parse_module_add(E2__Dp__Request *r, char **t, int n, char *err, size_t errlen)
{
	if (want(n, 4, TOKENS_MAX, "module add NAME CLASS [KEY=VALUE...]", err, errlen))
		return -1;
	E2__Dp__ModuleCreate *c = NEW(E2__Dp__ModuleCreate, e2__dp__module_create__init);
	r->module_create = c;
	c->name = ctl_strdup(t[2]);
	c->mclass = ctl_strdup(t[3]);
	return parse_args(t + 4, n - 4, &c->n_args, &c->args, err, errlen);
}

static int parse_module_del(E2__Dp__Request *r, char **t, int n, char *err, size_t errlen)
{
	if (want(n, 3, 3, "module del NAME", err, errlen))
		return -1;
	r->module_destroy = NEW(E2__Dp__Name, e2__dp__name__init);
	r->module_destroy->name = ctl_strdup(t[2]);
	return 0;
}

static int parse_module_cmd(E2__Dp__Request *r, char **t, int n, char *err, size_t errlen)
{
	if (want(n, 4, TOKENS_MAX, "module cmd NAME COMMAND [KEY=VALUE...]", err, errlen))
		return -1;
	E2__Dp__ModuleCommand *c = NEW(E2__Dp__ModuleCommand, e2__dp__module_command__init);
	r->module_command = c;
	c->module = ctl_strdup(t[2]);
	c->cmd = ctl_strdup(t[3]);
	return parse_args(t + 4, n - 4, &c->n_args, &c->args, err, errlen);
}

static int parse_connect(E2__Dp__Request *r, char **t, int n, char *err, size_t errlen)
{
	if (want(n, 3, 3, "connect FROM[:OGATE] TO[:IGATE]", err, errlen))
		return -1;
	E2__Dp__Connect *c = NEW(E2__Dp__Connect, e2__dp__connect__init);
	r->connect = c;
	if (parse_gate(t[1], &c->from, err, errlen))
		return -1;
	return parse_gate(t[2], &c->to, err, errlen);
}

static int parse_disconnect(E2__Dp__Request *r, char **t, int n, char *err, size_t errlen)
{
	if (want(n, 2, 2, "disconnect FROM[:OGATE]", err, errlen))
		return -1;
	return parse_gate(t[1], &r->disconnect, err, errlen);
}

static int parse_insert(E2__Dp__Request *r, char **t, int n, char *err, size_t errlen)
{
	if (want(n, 3, 3, "insert FROM[:OGATE] MODULE", err, errlen))
		return -1;
	E2__Dp__Insert *c = NEW(E2__Dp__Insert, e2__dp__insert__init);
	r->insert = c;
	c->module = ctl_strdup(t[2]);
	return parse_gate(t[1], &c->at, err, errlen);
}

static int parse_capture(E2__Dp__Request *r, char **t, int n, char *err, size_t errlen)
{
	bool stop = n >= 2 && strcmp(t[1], "stop") == 0;
	int at = stop ? 2 : 1;
	if (n <= at || (stop && n != 3)) {
		snprintf(
			err, errlen,
			"usage: capture MODULE[:OGATE]|PORT file=PATH [count=N] [seconds=S] | capture stop MODULE[:OGATE]|PORT");
		return -1;
	}
	E2__Dp__Capture *c = NEW(E2__Dp__Capture, e2__dp__capture__init);
	r->capture = c;
	c->stop = stop;
	if (parse_gate(t[at], &c->at, err, errlen))
		return -1;
	return parse_args(t + at + 1, n - at - 1, &c->n_args, &c->args, err, errlen);
}

static int parse_worker_add(E2__Dp__Request *r, char **t, int n, char *err, size_t errlen)
{
	if (want(n, 3, 4, "worker add ID [core=N]", err, errlen))
		return -1;
	E2__Dp__WorkerCreate *c = NEW(E2__Dp__WorkerCreate, e2__dp__worker_create__init);
	char *end;
	r->worker_create = c;
	c->core = -1;
	errno = 0;
	unsigned long id = strtoul(t[2], &end, 10);
	if (errno || *end || end == t[2] || id > 1023) {
		snprintf(err, errlen, "worker id '%s' is not a number below 1024", t[2]);
		return -1;
	}
	c->id = (uint32_t)id;
	if (n == 4) {
		long core;
		if (strncmp(t[3], "core=", 5) != 0 || (core = strtol(t[3] + 5, &end, 10), *end) || end == t[3] + 5 ||
		    core < 0 || core > 4095) {
			snprintf(err, errlen, "'%s' is not core=N", t[3]);
			return -1;
		}
		c->core = (int32_t)core;
	}
	return 0;
}

static int parse_task_attach(E2__Dp__Request *r, char **t, int n, char *err, size_t errlen)
{
	char *end;
	unsigned long w;
	if (want(n, 4, 4, "task attach MODULE worker=ID", err, errlen))
		return -1;
	if (strncmp(t[3], "worker=", 7) != 0 || (w = strtoul(t[3] + 7, &end, 10), *end) || end == t[3] + 7 ||
	    w > 1023) {
		snprintf(err, errlen, "'%s' is not worker=ID", t[3]);
		return -1;
	}
	r->task_attach = NEW(E2__Dp__TaskAttach, e2__dp__task_attach__init);
	r->task_attach->module = ctl_strdup(t[2]);
	r->task_attach->worker = (uint32_t)w;
	return 0;
}

static const char sched_usage[] = "usage: sched add|attach|set|del NAME [KEY=VALUE...] | sched show [worker=ID]";

/* The KEY=VALUE words of a sched command: each of them a known key, none twice (the
 * messages e2d gave when it read them). values[k] is then the value of known[k], or
 * NULL. */
static int sched_keys(char **t, int n, const char *const *known, const char **values, char *err, size_t errlen)
{
	for (int i = 0; i < n; i++) {
		char *eq = strchr(t[i], '=');
		if (!eq || eq == t[i]) {
			snprintf(err, errlen, "'%s' is not KEY=VALUE", t[i]);
			return -1;
		}
	}
	for (int i = 0; i < n; i++) {
		size_t klen = (size_t)(strchr(t[i], '=') - t[i]);
		size_t k = 0;
		while (known[k] && (strlen(known[k]) != klen || strncmp(t[i], known[k], klen) != 0))
			k++;
		if (!known[k] && !known[0]) {
			snprintf(err, errlen, "takes no arguments ('%.*s' given)", (int)klen, t[i]);
			return -1;
		}
		if (!known[k]) {
			int off = snprintf(err, errlen, "unknown argument '%.*s' (known:", (int)klen, t[i]);
			for (size_t m = 0; known[m] && off >= 0 && (size_t)off < errlen; m++)
				off += snprintf(err + off, errlen - (size_t)off, " %s", known[m]);
			if (off >= 0 && (size_t)off < errlen)
				snprintf(err + off, errlen - (size_t)off, ")");
			return -1;
		}
		if (values[k]) {
			snprintf(err, errlen, "argument '%s' given twice", known[k]);
			return -1;
		}
		values[k] = t[i] + klen + 1;
	}
	return 0;
}

/* The value given for key, or NULL (not given, or not a key of this command). */
static const char *value_of(const char *const *known, const char **values, const char *key)
{
	for (size_t k = 0; known[k]; k++)
		if (strcmp(known[k], key) == 0)
			return values[k];
	return NULL;
}

/* A number setting if given: 1 (given, *out set), 0 (not given) or -1 with err. */
static int sched_number(const char *const *known, const char **values, const char *key, uint64_t *out, char *err,
			size_t errlen)
{
	const char *text = value_of(known, values, key);
	if (!text)
		return 0;
	return e2_cmd_sched_number(key, text, out, err, errlen) ? -1 : 1;
}

/* The settings of a node, read in the order e2d read them. */
struct settings {
	int has_share, has_priority, has_limit, has_burst;
	uint64_t share, priority, limit, burst;
	E2__Dp__SchedResource resource;
};

static int read_settings(const char *const *known, const char **values, struct settings *s, char *err, size_t errlen)
{
	const char *res = value_of(known, values, "resource");
	if ((s->has_share = sched_number(known, values, "share", &s->share, err, errlen)) < 0 ||
	    (s->has_priority = sched_number(known, values, "priority", &s->priority, err, errlen)) < 0 ||
	    (s->has_limit = sched_number(known, values, "limit", &s->limit, err, errlen)) < 0 ||
	    (s->has_burst = sched_number(known, values, "burst", &s->burst, err, errlen)) < 0)
		return -1;
	s->resource = res ? e2_cmd_resource_of(res) : E2__DP__SCHED_RESOURCE__SCHED_RESOURCE_UNSPECIFIED;
	if (res && !s->resource) {
		snprintf(err, errlen, "resource=%s: use cycles, packets or bits", res);
		return -1;
	}
	return 0;
}

/* Sets a message's has_X oneof (case `given`) and its field when s has X. */
#define TAKE(msg, s, x, given)                           \
	do {                                             \
		if ((s)->has_##x) {                      \
			(msg)->has_##x##_case = (given); \
			(msg)->x = (s)->x;               \
		}                                        \
	} while (0)

static int parse_sched_add(E2__Dp__Request *r, char **t, int n, char *err, size_t errlen)
{
	static const char *const known[] = {"policy",   "parent", "worker", "share", "priority",
					    "resource", "limit",  "burst",  NULL};
	const char *values[8] = {0};
	struct settings s;
	uint64_t worker;
	int has_worker;
	if (n < 3) {
		snprintf(err, errlen, "%s", sched_usage);
		return -1;
	}
	E2__Dp__SchedAdd *c = NEW(E2__Dp__SchedAdd, e2__dp__sched_add__init);
	r->sched_add = c;
	c->name = ctl_strdup(t[2]);
	if (sched_keys(t + 3, n - 3, known, values, err, errlen) || read_settings(known, values, &s, err, errlen) ||
	    (has_worker = sched_number(known, values, "worker", &worker, err, errlen)) < 0)
		return -1;
	const char *policy = value_of(known, values, "policy");
	if (!policy || !(c->policy = e2_cmd_policy_of(policy))) {
		snprintf(err, errlen, "sched add needs policy=priority|weighted_fair|round_robin|rate_limit");
		return -1;
	}
	const char *parent = value_of(known, values, "parent");
	if (parent) {
		c->has_parent_case = E2__DP__SCHED_ADD__HAS_PARENT_PARENT;
		c->parent = ctl_strdup(parent);
	}
	if (has_worker) {
		c->has_worker_case = E2__DP__SCHED_ADD__HAS_WORKER_WORKER;
		c->worker = (uint32_t)worker;
	}
	TAKE(c, &s, share, E2__DP__SCHED_ADD__HAS_SHARE_SHARE);
	TAKE(c, &s, priority, E2__DP__SCHED_ADD__HAS_PRIORITY_PRIORITY);
	TAKE(c, &s, limit, E2__DP__SCHED_ADD__HAS_LIMIT_LIMIT);
	TAKE(c, &s, burst, E2__DP__SCHED_ADD__HAS_BURST_BURST);
	c->resource = s.resource;
	return 0;
}

static int parse_sched_attach(E2__Dp__Request *r, char **t, int n, char *err, size_t errlen)
{
	static const char *const known[] = {"parent", "share", "priority", NULL};
	const char *values[3] = {0};
	struct settings s;
	if (n < 3) {
		snprintf(err, errlen, "%s", sched_usage);
		return -1;
	}
	E2__Dp__SchedAttach *c = NEW(E2__Dp__SchedAttach, e2__dp__sched_attach__init);
	r->sched_attach = c;
	c->name = ctl_strdup(t[2]);
	if (sched_keys(t + 3, n - 3, known, values, err, errlen) || read_settings(known, values, &s, err, errlen))
		return -1;
	const char *parent = value_of(known, values, "parent");
	if (parent)
		c->parent = ctl_strdup(parent);
	TAKE(c, &s, share, E2__DP__SCHED_ATTACH__HAS_SHARE_SHARE);
	TAKE(c, &s, priority, E2__DP__SCHED_ATTACH__HAS_PRIORITY_PRIORITY);
	return 0;
}

static int parse_sched_set(E2__Dp__Request *r, char **t, int n, char *err, size_t errlen)
{
	static const char *const known[] = {"share", "priority", "limit", "burst", "resource", NULL};
	const char *values[5] = {0};
	struct settings s;
	if (n < 3) {
		snprintf(err, errlen, "%s", sched_usage);
		return -1;
	}
	E2__Dp__SchedSet *c = NEW(E2__Dp__SchedSet, e2__dp__sched_set__init);
	r->sched_set = c;
	c->name = ctl_strdup(t[2]);
	if (sched_keys(t + 3, n - 3, known, values, err, errlen) || read_settings(known, values, &s, err, errlen))
		return -1;
	TAKE(c, &s, share, E2__DP__SCHED_SET__HAS_SHARE_SHARE);
	TAKE(c, &s, priority, E2__DP__SCHED_SET__HAS_PRIORITY_PRIORITY);
	TAKE(c, &s, limit, E2__DP__SCHED_SET__HAS_LIMIT_LIMIT);
	TAKE(c, &s, burst, E2__DP__SCHED_SET__HAS_BURST_BURST);
	c->resource = s.resource;
	return 0;
}

static int parse_sched_del(E2__Dp__Request *r, char **t, int n, char *err, size_t errlen)
{
	static const char *const known[] = {NULL};
	const char *values[1] = {0};
	if (n < 3) {
		snprintf(err, errlen, "%s", sched_usage);
		return -1;
	}
	r->sched_del = NEW(E2__Dp__Name, e2__dp__name__init);
	r->sched_del->name = ctl_strdup(t[2]);
	return sched_keys(t + 3, n - 3, known, values, err, errlen);
}

static int parse_sched_show(E2__Dp__Request *r, char **t, int n, char *err, size_t errlen)
{
	static const char *const known[] = {"worker", NULL};
	const char *values[1] = {0};
	uint64_t worker;
	int has_worker;
	E2__Dp__SchedShow *c = NEW(E2__Dp__SchedShow, e2__dp__sched_show__init);
	r->sched_show = c;
	if (sched_keys(t + 2, n - 2, known, values, err, errlen) ||
	    (has_worker = sched_number(known, values, "worker", &worker, err, errlen)) < 0)
		return -1;
	if (has_worker) {
		c->has_worker_case = E2__DP__SCHED_SHOW__HAS_WORKER_WORKER;
		c->worker = (uint32_t)worker;
	}
	return 0;
}

/* "sched" with no operation of the table after it */
static void sched_unknown(char **t, int n, char *err, size_t errlen)
{
	if (n < 3)
		snprintf(err, errlen, "%s", sched_usage);
	else
		snprintf(err, errlen, "unknown sched operation '%s' (add, attach, set, del, show)", t[1]);
}

static int parse_stats(E2__Dp__Request *r, char **t, int n, char *err, size_t errlen)
{
	if (want(n, 1, 3, "stats [NAME] [reset]", err, errlen))
		return -1;
	r->stats = NEW(E2__Dp__Stats, e2__dp__stats__init);
	bool named = false;
	for (int i = 1; i < n; i++) {
		if (strcmp(t[i], "reset") == 0) {
			r->stats->reset = true;
		} else if (!named && *t[i]) {
			r->stats->name = ctl_strdup(t[i]);
			named = true;
		} else {
			snprintf(err, errlen, "usage: stats [NAME] [reset]");
			return -1;
		}
	}
	return 0;
}

static int parse_log_set(E2__Dp__Request *r, char **t, int n, char *err, size_t errlen)
{
	if (want(n, 3, 3, "log set LEVEL|MODULE:LEVEL,...", err, errlen))
		return -1;
	r->log_set = NEW(E2__Dp__LogSet, e2__dp__log_set__init);
	r->log_set->spec = ctl_strdup(t[2]);
	return 0;
}

static int parse_log_show(E2__Dp__Request *r, char **t, int n, char *err, size_t errlen)
{
	if (want(n, 2, 2, "log show", err, errlen))
		return -1;
	r->log_show = NEW(E2__Dp__Empty, e2__dp__empty__init);
	return 0;
}

/* list, classes, ping and shutdown are a word alone: anything after it makes the
 * line an unknown command */
static int parse_word_alone(E2__Dp__Empty **field, char **t, int n, char *err, size_t errlen)
{
	if (n != 1) {
		unknown_command(t[0], err, errlen);
		return -1;
	}
	*field = NEW(E2__Dp__Empty, e2__dp__empty__init);
	return 0;
}

static int parse_list(E2__Dp__Request *r, char **t, int n, char *err, size_t errlen)
{
	return parse_word_alone(&r->list, t, n, err, errlen);
}

static int parse_classes(E2__Dp__Request *r, char **t, int n, char *err, size_t errlen)
{
	return parse_word_alone(&r->list_classes, t, n, err, errlen);
}

static int parse_ping(E2__Dp__Request *r, char **t, int n, char *err, size_t errlen)
{
	return parse_word_alone(&r->ping, t, n, err, errlen);
}

static int parse_shutdown(E2__Dp__Request *r, char **t, int n, char *err, size_t errlen)
{
	return parse_word_alone(&r->shutdown, t, n, err, errlen);
}

struct parse_op {
	const char *words;
	E2__Dp__Request__OpCase op;
	int (*parse)(E2__Dp__Request *r, char **t, int n, char *err, size_t errlen);
};

#define PARSE_ROW(name, words, op, workers, usage) {words, E2__DP__REQUEST__OP_##op, parse_##name},
static const struct parse_op parse_ops[] = {E2_CMD_OPS(PARSE_ROW)};

/* Whether the line's words t[0..n) start with words ("module add"). */
static bool starts_with(const char *words, char **t, int n)
{
	for (int i = 0; *words; i++) {
		size_t len = strcspn(words, " ");
		if (i == n || strncmp(t[i], words, len) != 0 || t[i][len])
			return false;
		words += len;
		words += *words == ' ';
	}
	return true;
}

E2__Dp__Request *e2_cmd_parse(const char *line, char *err, size_t errlen)
{
	char buf[8192];
	char *t[TOKENS_MAX];
	int n;
	const struct parse_op *op = NULL;

	err[0] = '\0';
	if (strlen(line) >= sizeof(buf)) {
		snprintf(err, errlen, "line too long (at most %zu characters)", sizeof(buf) - 1);
		return NULL;
	}
	n = tokenize(line, buf, sizeof(buf), t, TOKENS_MAX, err, errlen);
	if (n <= 0)
		return NULL;
	for (size_t i = 0; i < sizeof(parse_ops) / sizeof(parse_ops[0]) && !op; i++)
		if (starts_with(parse_ops[i].words, t, n))
			op = &parse_ops[i];
	if (!op) {
		if (strcmp(t[0], "sched") == 0)
			sched_unknown(t, n, err, errlen);
		else
			unknown_command(t[0], err, errlen);
		return NULL;
	}
	E2__Dp__Request *r = NEW(E2__Dp__Request, e2__dp__request__init);
	r->version = E2_CTL_VERSION;
	r->op_case = op->op;
	if (op->parse(r, t, n, err, errlen) != 0) {
		if (!err[0])
			snprintf(err, errlen, "invalid command");
		e2__dp__request__free_unpacked(r, NULL);
		return NULL;
	}
	return r;
}
