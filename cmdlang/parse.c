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

#define TOKENS_MAX 72

const char e2_cmd_usage[] =
	"  port add NAME DRIVER [KEY=VALUE...]     drivers: vhost virtio_user memif pmd\n"
	"  port del NAME\n"
	"  module add NAME CLASS [KEY=VALUE...]    see `classes`\n"
	"  module del NAME\n"
	"  module cmd NAME COMMAND [KEY=VALUE...]\n"
	"  connect FROM[:OGATE] TO[:IGATE]\n"
	"  disconnect FROM[:OGATE]\n"
	"  insert FROM[:OGATE] MODULE              put MODULE on that edge, atomically\n"
	"  capture MODULE[:OGATE]|PORT file=PATH [count=N] [seconds=S] [snaplen=N]\n"
	"  capture stop MODULE[:OGATE]|PORT\n"
	"  worker add ID [core=N]\n"
	"  task attach MODULE worker=ID\n"
	"  sched add NAME policy=priority|weighted_fair|round_robin|rate_limit [parent=NODE|worker=ID]\n"
	"        [share=W] [priority=P] [resource=cycles|packets|bits] [limit=PER_SECOND] [burst=N]\n"
	"  sched attach NAME parent=NODE [share=W] [priority=P]      (NAME: a node or a task module)\n"
	"  sched set NAME [share=W] [priority=P] [limit=N] [burst=N] [resource=R]\n"
	"  sched del NAME    sched show [worker=ID]\n"
	"  stats [NAME] [reset]\n"
	"  list | classes | ping | shutdown\n";

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

E2__Dp__Request *e2_cmd_parse(const char *line, char *err, size_t errlen)
{
	char buf[8192];
	char *t[TOKENS_MAX];
	int n;
	E2__Dp__Request *r;
	int rc = -1;

	err[0] = '\0';
	if (strlen(line) >= sizeof(buf)) {
		snprintf(err, errlen, "line too long (at most %zu characters)", sizeof(buf) - 1);
		return NULL;
	}
	n = tokenize(line, buf, sizeof(buf), t, TOKENS_MAX, err, errlen);
	if (n <= 0)
		return NULL;
	r = NEW(E2__Dp__Request, e2__dp__request__init);
	r->version = E2_CTL_VERSION;

	if (n >= 2 && strcmp(t[0], "port") == 0 && strcmp(t[1], "add") == 0) {
		if (want(n, 4, TOKENS_MAX, "port add NAME DRIVER [KEY=VALUE...]", err, errlen))
			goto out;
		E2__Dp__PortCreate *c = NEW(E2__Dp__PortCreate, e2__dp__port_create__init);
		r->op_case = E2__DP__REQUEST__OP_PORT_CREATE;
		r->port_create = c;
		c->name = ctl_strdup(t[2]);
		c->driver = ctl_strdup(t[3]);
		rc = parse_args(t + 4, n - 4, &c->n_args, &c->args, err, errlen);
	} else if (n >= 2 && strcmp(t[0], "port") == 0 && strcmp(t[1], "del") == 0) {
		if (want(n, 3, 3, "port del NAME", err, errlen))
			goto out;
		r->op_case = E2__DP__REQUEST__OP_PORT_DESTROY;
		r->port_destroy = NEW(E2__Dp__Name, e2__dp__name__init);
		r->port_destroy->name = ctl_strdup(t[2]);
		rc = 0;
	} else if (n >= 2 && strcmp(t[0], "module") == 0 && strcmp(t[1], "add") == 0) {
		if (want(n, 4, TOKENS_MAX, "module add NAME CLASS [KEY=VALUE...]", err, errlen))
			goto out;
		E2__Dp__ModuleCreate *c = NEW(E2__Dp__ModuleCreate, e2__dp__module_create__init);
		r->op_case = E2__DP__REQUEST__OP_MODULE_CREATE;
		r->module_create = c;
		c->name = ctl_strdup(t[2]);
		c->mclass = ctl_strdup(t[3]);
		rc = parse_args(t + 4, n - 4, &c->n_args, &c->args, err, errlen);
	} else if (n >= 2 && strcmp(t[0], "module") == 0 && strcmp(t[1], "del") == 0) {
		if (want(n, 3, 3, "module del NAME", err, errlen))
			goto out;
		r->op_case = E2__DP__REQUEST__OP_MODULE_DESTROY;
		r->module_destroy = NEW(E2__Dp__Name, e2__dp__name__init);
		r->module_destroy->name = ctl_strdup(t[2]);
		rc = 0;
	} else if (n >= 2 && strcmp(t[0], "module") == 0 && strcmp(t[1], "cmd") == 0) {
		if (want(n, 4, TOKENS_MAX, "module cmd NAME COMMAND [KEY=VALUE...]", err, errlen))
			goto out;
		E2__Dp__ModuleCommand *c = NEW(E2__Dp__ModuleCommand, e2__dp__module_command__init);
		r->op_case = E2__DP__REQUEST__OP_MODULE_COMMAND;
		r->module_command = c;
		c->module = ctl_strdup(t[2]);
		c->cmd = ctl_strdup(t[3]);
		rc = parse_args(t + 4, n - 4, &c->n_args, &c->args, err, errlen);
	} else if (strcmp(t[0], "connect") == 0) {
		if (want(n, 3, 3, "connect FROM[:OGATE] TO[:IGATE]", err, errlen))
			goto out;
		E2__Dp__Connect *c = NEW(E2__Dp__Connect, e2__dp__connect__init);
		r->op_case = E2__DP__REQUEST__OP_CONNECT;
		r->connect = c;
		rc = parse_gate(t[1], &c->from, err, errlen);
		if (!rc)
			rc = parse_gate(t[2], &c->to, err, errlen);
	} else if (strcmp(t[0], "insert") == 0) {
		if (want(n, 3, 3, "insert FROM[:OGATE] MODULE", err, errlen))
			goto out;
		E2__Dp__Insert *c = NEW(E2__Dp__Insert, e2__dp__insert__init);
		r->op_case = E2__DP__REQUEST__OP_INSERT;
		r->insert = c;
		c->module = ctl_strdup(t[2]);
		rc = parse_gate(t[1], &c->at, err, errlen);
	} else if (strcmp(t[0], "capture") == 0) {
		bool stop = n >= 2 && strcmp(t[1], "stop") == 0;
		int at = stop ? 2 : 1;
		if (n <= at || (stop && n != 3)) {
			snprintf(
				err, errlen,
				"usage: capture MODULE[:OGATE]|PORT file=PATH [count=N] [seconds=S] | capture stop MODULE[:OGATE]|PORT");
			goto out;
		}
		E2__Dp__Capture *c = NEW(E2__Dp__Capture, e2__dp__capture__init);
		r->op_case = E2__DP__REQUEST__OP_CAPTURE;
		r->capture = c;
		c->stop = stop;
		rc = parse_gate(t[at], &c->at, err, errlen);
		if (!rc)
			rc = parse_args(t + at + 1, n - at - 1, &c->n_args, &c->args, err, errlen);
	} else if (strcmp(t[0], "disconnect") == 0) {
		if (want(n, 2, 2, "disconnect FROM[:OGATE]", err, errlen))
			goto out;
		r->op_case = E2__DP__REQUEST__OP_DISCONNECT;
		rc = parse_gate(t[1], &r->disconnect, err, errlen);
	} else if (n >= 2 && strcmp(t[0], "worker") == 0 && strcmp(t[1], "add") == 0) {
		if (want(n, 3, 4, "worker add ID [core=N]", err, errlen))
			goto out;
		E2__Dp__WorkerCreate *c = NEW(E2__Dp__WorkerCreate, e2__dp__worker_create__init);
		char *end;
		r->op_case = E2__DP__REQUEST__OP_WORKER_CREATE;
		r->worker_create = c;
		c->core = -1;
		errno = 0;
		unsigned long id = strtoul(t[2], &end, 10);
		if (errno || *end || end == t[2] || id > 1023) {
			snprintf(err, errlen, "worker id '%s' is not a number below 1024", t[2]);
			goto out;
		}
		c->id = (uint32_t)id;
		if (n == 4) {
			long core;
			if (strncmp(t[3], "core=", 5) != 0 || (core = strtol(t[3] + 5, &end, 10), *end) ||
			    end == t[3] + 5 || core < 0 || core > 4095) {
				snprintf(err, errlen, "'%s' is not core=N", t[3]);
				goto out;
			}
			c->core = (int32_t)core;
		}
		rc = 0;
	} else if (n >= 2 && strcmp(t[0], "task") == 0 && strcmp(t[1], "attach") == 0) {
		char *end;
		unsigned long w;
		if (want(n, 4, 4, "task attach MODULE worker=ID", err, errlen))
			goto out;
		if (strncmp(t[3], "worker=", 7) != 0 || (w = strtoul(t[3] + 7, &end, 10), *end) || end == t[3] + 7 ||
		    w > 1023) {
			snprintf(err, errlen, "'%s' is not worker=ID", t[3]);
			goto out;
		}
		r->op_case = E2__DP__REQUEST__OP_TASK_ATTACH;
		r->task_attach = NEW(E2__Dp__TaskAttach, e2__dp__task_attach__init);
		r->task_attach->module = ctl_strdup(t[2]);
		r->task_attach->worker = (uint32_t)w;
		rc = 0;
	} else if (strcmp(t[0], "sched") == 0) {
		if (n < 2 || (strcmp(t[1], "show") != 0 && n < 3)) {
			snprintf(err, errlen,
				 "usage: sched add|attach|set|del NAME [KEY=VALUE...] | sched show [worker=ID]");
			goto out;
		}
		E2__Dp__Sched *c = NEW(E2__Dp__Sched, e2__dp__sched__init);
		r->op_case = E2__DP__REQUEST__OP_SCHED;
		r->sched = c;
		c->op = ctl_strdup(t[1]);
		int first_arg = 2;
		if (strcmp(t[1], "show") != 0) {
			c->name = ctl_strdup(t[2]);
			first_arg = 3;
		}
		rc = parse_args(t + first_arg, n - first_arg, &c->n_args, &c->args, err, errlen);
	} else if (strcmp(t[0], "stats") == 0) {
		if (want(n, 1, 3, "stats [NAME] [reset]", err, errlen))
			goto out;
		r->op_case = E2__DP__REQUEST__OP_STATS;
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
				goto out;
			}
		}
		rc = 0;
	} else if (n == 1 && (strcmp(t[0], "list") == 0 || strcmp(t[0], "classes") == 0 || strcmp(t[0], "ping") == 0 ||
			      strcmp(t[0], "shutdown") == 0)) {
		E2__Dp__Empty *e = NEW(E2__Dp__Empty, e2__dp__empty__init);
		if (t[0][0] == 'l') {
			r->op_case = E2__DP__REQUEST__OP_LIST;
			r->list = e;
		} else if (t[0][0] == 'c') {
			r->op_case = E2__DP__REQUEST__OP_LIST_CLASSES;
			r->list_classes = e;
		} else if (t[0][0] == 'p') {
			r->op_case = E2__DP__REQUEST__OP_PING;
			r->ping = e;
		} else {
			r->op_case = E2__DP__REQUEST__OP_SHUTDOWN;
			r->shutdown = e;
		}
		rc = 0;
	} else {
		snprintf(err, errlen, "unknown command '%s'; commands are:\n%s", t[0], e2_cmd_usage);
	}
out:
	if (rc != 0) {
		if (!err[0])
			snprintf(err, errlen, "invalid command");
		e2__dp__request__free_unpacked(r, NULL);
		return NULL;
	}
	return r;
}
