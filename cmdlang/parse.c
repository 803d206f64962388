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

static int parse_sched(E2__Dp__Request *r, char **t, int n, char *err, size_t errlen)
{
	if (n < 2 || (strcmp(t[1], "show") != 0 && n < 3)) {
		snprintf(err, errlen, "usage: sched add|attach|set|del NAME [KEY=VALUE...] | sched show [worker=ID]");
		return -1;
	}
	E2__Dp__Sched *c = NEW(E2__Dp__Sched, e2__dp__sched__init);
	r->sched = c;
	c->op = ctl_strdup(t[1]);
	int first_arg = 2;
	if (strcmp(t[1], "show") != 0) {
		c->name = ctl_strdup(t[2]);
		first_arg = 3;
	}
	return parse_args(t + first_arg, n - first_arg, &c->n_args, &c->args, err, errlen);
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
