/* SPDX-License-Identifier: BSD-3-Clause */
/* e2ctl apply | delete | status | graph | events: the running system, through
 * e2-controller's control socket (a sealed REQ channel, proto/e2ctl.proto).
 *
 * The controller is found with --controller URL, else $E2_CONTROLLER, else
 * ipc:///run/e2/controller.sock. Errors are `e2ctl: <message>`, exit 1. */
#include <errno.h>
#include <inttypes.h>
#include <signal.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include "e2/chan.h"
#include "e2/ctlnames.h"
#include "e2/file.h"
#include "e2/mem.h"
#include "e2/num.h"
#include "e2/opts.h"
#include "e2ctl.h"
#include "e2ctl.pb-c.h"

#define DEFAULT_CONTROLLER "ipc:///run/e2/controller.sock"
#define CALL_MS 60000 /* planning a big policy takes a while */

struct live_opts {
	const char *controller;
	const char *key;
};

static int die(const char *fmt, ...) __attribute__((format(printf, 1, 2)));
static int die(const char *fmt, ...)
{
	va_list ap;
	va_start(ap, fmt);
	fprintf(stderr, "e2ctl: ");
	vfprintf(stderr, fmt, ap);
	fputc('\n', stderr);
	va_end(ap);
	return 1;
}

static uint64_t now_ns(void)
{
	struct timespec ts;
	clock_gettime(CLOCK_REALTIME, &ts);
	return (uint64_t)ts.tv_sec * 1000000000ull + (uint64_t)ts.tv_nsec;
}

/* Sends q, returns the decoded response (code 0) or NULL having printed the error. */
static E2__Ctl__CtlResponse *call(const struct live_opts *o, E2__Ctl__CtlRequest *q)
{
	struct e2_err err = {""};
	struct e2_chan_key key;
	if (o->key && e2_chan_key_load(o->key, &key, &err) < 0) {
		die("%s", err.msg);
		return NULL;
	}
	char sender[E2_CHAN_SENDER_MAX + 1];
	snprintf(sender, sizeof sender, "e2ctl:%ld", (long)getpid());
	struct e2_chan *c = e2_chan_new(E2_CHAN_REQ, sender, o->key ? &key : NULL, &err);
	if (!c || e2_chan_connect(c, o->controller, &err) < 0) {
		die("%s: %s", o->controller, err.msg);
		e2_chan_close(c);
		return NULL;
	}
	q->version = E2__CTL__VERSION__VERSION_CURRENT;
	size_t len = e2__ctl__ctl_request__get_packed_size(q);
	uint8_t *buf = e2_xmalloc(len + 1);
	e2__ctl__ctl_request__pack(q, buf);
	void *rep = NULL;
	size_t rep_len = 0;
	int rc = e2_chan_call(c, buf, len, &rep, &rep_len, CALL_MS, &err);
	free(buf);
	e2_chan_close(c);
	if (rc < 0) {
		die("%s: %s (is e2-controller running?)", o->controller, err.msg);
		return NULL;
	}
	E2__Ctl__CtlResponse *r = e2__ctl__ctl_response__unpack(NULL, rep_len, rep);
	free(rep);
	if (!r) {
		die("%s: the controller's reply does not decode", o->controller);
		return NULL;
	}
	if (r->code) {
		die("%s", r->error);
		e2__ctl__ctl_response__free_unpacked(r, NULL);
		return NULL;
	}
	return r;
}

/* Common options; returns optind or -1 (usage printed). */
static int parse_common(int argc, char **argv, struct live_opts *o, const char *usage_text, const struct option *extra,
			int (*on_extra)(int opt, const char *arg, void *), void *arg)
{
	o->controller = getenv("E2_CONTROLLER") ? getenv("E2_CONTROLLER") : DEFAULT_CONTROLLER;
	o->key = getenv("E2_KEY");
	struct option opts[16] = {
		{"controller", required_argument, NULL, 'C'},
		{"key", required_argument, NULL, 'K'},
		{"help", no_argument, NULL, 'h'},
	};
	int n = 3;
	for (int i = 0; extra && extra[i].name && n < 15; i++)
		opts[n++] = extra[i];
	optind = 1;
	int c;
	struct e2_err oerr;
	while ((c = e2_opt_next(argc, argv, "", opts, &oerr)) != -1) {
		if (c == E2_OPT_BAD) {
			fprintf(stderr, "e2ctl: %s\n", oerr.msg);
			return -1;
		}
		if (c == 'C')
			o->controller = optarg;
		else if (c == 'K')
			o->key = optarg;
		else if (c == 'h') {
			fputs(usage_text, stdout);
			exit(0);
		} else if (!on_extra || on_extra(c, optarg, arg) < 0) {
			fputs(usage_text, stderr);
			return -1;
		}
	}
	return optind;
}

#define COMMON_HELP                                                                                           \
	"  --controller URL   e2-controller's socket (default $E2_CONTROLLER, else " DEFAULT_CONTROLLER ")\n" \
	"  --key FILE         the shared key, for a tcp:// controller (default $E2_KEY)\n"

/* ---------------------------------------------------------------- apply */

struct apply_args {
	const char *nfs;
	double wait_s;
};

static int apply_extra(int opt, const char *arg, void *p)
{
	struct apply_args *a = p;
	struct e2_err err = {""};
	if (opt == 'n')
		a->nfs = arg;
	else if (opt == 'w') {
		if (e2_num_duration("--wait", arg, 0, 3600, &a->wait_s, &err) < 0) {
			fprintf(stderr, "e2ctl apply: %s\n", err.msg);
			return -1;
		}
	} else
		return -1;
	return 0;
}

/* Whether the change is in effect: every instance runs (or was stopped by the
 * operator) and every server whose agent is alive has applied the controller's latest
 * spec for it. Instances alone are not enough: a change that keeps every instance but
 * changes a server's e2d lines (e.g. a warm pool dropped) would be reported done while
 * that server is still about to restart its e2d. 1: yes, 0: not yet, -1: no answer. */
static int change_in_effect(const struct live_opts *o, unsigned *running, unsigned *total, unsigned *behind)
{
	E2__Ctl__CtlRequest q = E2__CTL__CTL_REQUEST__INIT;
	E2__Ctl__Empty empty = E2__CTL__EMPTY__INIT;
	q.op_case = E2__CTL__CTL_REQUEST__OP_STATUS;
	q.status = &empty;
	E2__Ctl__CtlResponse *r = call(o, &q);
	if (!r)
		return -1;
	*running = 0;
	*total = (unsigned)r->n_instances;
	*behind = 0;
	for (size_t i = 0; i < r->n_instances; i++)
		*running += r->instances[i]->state == E2__CTL__INSTANCE_STATE__INSTANCE_RUNNING ||
			    r->instances[i]->state == E2__CTL__INSTANCE_STATE__INSTANCE_STOPPED;
	for (size_t i = 0; i < r->n_servers; i++)
		*behind += r->servers[i]->agent_alive &&
			   r->servers[i]->generation_applied < r->servers[i]->generation_desired;
	e2__ctl__ctl_response__free_unpacked(r, NULL);
	return *running == *total && *behind == 0;
}

int e2ctl_apply(int argc, char **argv)
{
	static const char help[] =
		"usage: e2ctl apply POLICY.yaml [--nfs NFS.yaml] [--wait TIME]\n"
		"  adds the policy's pipelines to the running system (replacing pipelines of the same name)\n"
		"  --nfs FILE         NF descriptions that replace the controller's\n"
		"  --wait TIME        then wait until every instance runs and every live server has applied\n"
		"                     the change (e.g. 120s)\n" COMMON_HELP;
	static const struct option extra[] = {
		{"nfs", required_argument, NULL, 'n'},
		{"wait", required_argument, NULL, 'w'},
		{NULL, 0, NULL, 0},
	};
	struct live_opts o;
	struct apply_args a = {0};
	int i = parse_common(argc, argv, &o, help, extra, apply_extra, &a);
	if (i < 0)
		return 2;
	if (argc - i != 1) {
		fputs(help, stderr);
		return 2;
	}
	struct e2_err err = {""};
	size_t len;
	char *yaml = e2_read_file(argv[i], 64u << 20, &len, &err);
	if (!yaml)
		return die("%s", err.msg);
	char *nfs = NULL;
	if (a.nfs && !(nfs = e2_read_file(a.nfs, 64u << 20, &len, &err))) {
		free(yaml);
		return die("%s", err.msg);
	}
	E2__Ctl__PolicyApply pa = E2__CTL__POLICY_APPLY__INIT;
	pa.name = (char *)argv[i];
	pa.yaml = yaml;
	if (nfs) {
		pa.nfs_name = (char *)a.nfs;
		pa.nfs_yaml = nfs;
	}
	E2__Ctl__CtlRequest q = E2__CTL__CTL_REQUEST__INIT;
	q.op_case = E2__CTL__CTL_REQUEST__OP_APPLY;
	q.apply = &pa;
	uint64_t t0 = now_ns();
	E2__Ctl__CtlResponse *r = call(&o, &q);
	free(yaml);
	free(nfs);
	if (!r)
		return 1;
	printf("%s\n", r->message);
	e2__ctl__ctl_response__free_unpacked(r, NULL);
	if (a.wait_s > 0) {
		unsigned running = 0, total = 0, behind = 0;
		int rc;
		while ((rc = change_in_effect(&o, &running, &total, &behind)) == 0 &&
		       (double)(now_ns() - t0) / 1e9 < a.wait_s)
			usleep(200000);
		if (rc < 0)
			return 1;
		if (!rc) {
			fprintf(stderr, "e2ctl: %u of %u instances running after %.0f s", running, total, a.wait_s);
			if (behind)
				fprintf(stderr, "; %u server(s) have not applied the change yet", behind);
			fputc('\n', stderr);
			return 1;
		}
		printf("all %u instances running after %.1f s\n", total, (double)(now_ns() - t0) / 1e9);
	}
	return 0;
}

/* ---------------------------------------------------------------- delete */

int e2ctl_delete(int argc, char **argv)
{
	static const char help[] = "usage: e2ctl delete PIPELINE\n"
				   "  removes one pipeline; instances no pipeline needs are removed\n" COMMON_HELP;
	struct live_opts o;
	int i = parse_common(argc, argv, &o, help, NULL, NULL, NULL);
	if (i < 0)
		return 2;
	if (argc - i != 1) {
		fputs(help, stderr);
		return 2;
	}
	E2__Ctl__Name name = E2__CTL__NAME__INIT;
	name.name = argv[i];
	E2__Ctl__CtlRequest q = E2__CTL__CTL_REQUEST__INIT;
	q.op_case = E2__CTL__CTL_REQUEST__OP_REMOVE;
	q.remove = &name;
	E2__Ctl__CtlResponse *r = call(&o, &q);
	if (!r)
		return 1;
	printf("%s\n", r->message);
	e2__ctl__ctl_response__free_unpacked(r, NULL);
	return 0;
}

/* ---------------------------------------------------------------- status */

int e2ctl_status(int argc, char **argv)
{
	static const char help[] = "usage: e2ctl status\n"
				   "  servers (agent alive, e2d, generations), instances (server, state, load, flow\n"
				   "  range) and pipelines of the running system\n" COMMON_HELP;
	struct live_opts o;
	int i = parse_common(argc, argv, &o, help, NULL, NULL, NULL);
	if (i < 0)
		return 2;
	if (argc != i) {
		fputs(help, stderr);
		return 2;
	}
	E2__Ctl__CtlRequest q = E2__CTL__CTL_REQUEST__INIT;
	E2__Ctl__Empty empty = E2__CTL__EMPTY__INIT;
	q.op_case = E2__CTL__CTL_REQUEST__OP_STATUS;
	q.status = &empty;
	E2__Ctl__CtlResponse *r = call(&o, &q);
	if (!r)
		return 1;
	uint64_t now = now_ns();
	printf("servers:\n");
	for (size_t k = 0; k < r->n_servers; k++) {
		const E2__Ctl__ServerStatus *s = r->servers[k];
		char seen[64] = "never seen";
		if (s->last_seen_ns)
			snprintf(seen, sizeof seen, "seen %.1f s ago", (double)(now - s->last_seen_ns) / 1e9);
		printf("  %-12s agent %-5s (%s)  e2d %-7s restarts %-3" PRIu32 " generation %" PRIu64 "/%" PRIu64 "\n",
		       s->name, s->agent_alive ? "alive" : "DOWN", seen, s->e2d_running ? "running" : "down",
		       s->e2d_restarts, s->generation_applied, s->generation_desired);
	}
	printf("instances:\n");
	for (size_t k = 0; k < r->n_instances; k++) {
		const E2__Ctl__InstanceStatus *in = r->instances[k];
		char load[16] = "-"; /* none reported yet */
		if (in->load >= 0)
			snprintf(load, sizeof load, "%.2f", in->load);
		printf("  %-16s %-12s %-12s %-9s %7.1f s  load %-4s  flows [%" PRIu32 ",%" PRIu32 ")%s%s\n", in->name,
		       in->nf, in->server, e2_instance_state_name(in->state),
		       in->since_ns ? (double)(now - in->since_ns) / 1e9 : 0.0, load, in->flow_lo, in->flow_hi,
		       in->detail[0] ? "  " : "", in->detail);
	}
	printf("pipelines:");
	for (size_t k = 0; k < r->n_pipelines; k++)
		printf(" %s", r->pipelines[k]);
	printf("\n");
	e2__ctl__ctl_response__free_unpacked(r, NULL);
	return 0;
}

/* ---------------------------------------------------------------- graph */

struct graph_args {
	const char *dot, *png;
};

static int graph_extra(int opt, const char *arg, void *p)
{
	struct graph_args *g = p;
	if (opt == 'd')
		g->dot = arg;
	else if (opt == 'p')
		g->png = arg;
	else
		return -1;
	return 0;
}

int e2ctl_graph(int argc, char **argv)
{
	static const char help[] = "usage: e2ctl graph [--dot FILE] [--png FILE]\n"
				   "  the live IGraph, servers as clusters (Graphviz); DOT on stdout by default;\n"
				   "  --png runs Graphviz's `dot`\n" COMMON_HELP;
	static const struct option extra[] = {
		{"dot", required_argument, NULL, 'd'},
		{"png", required_argument, NULL, 'p'},
		{NULL, 0, NULL, 0},
	};
	struct live_opts o;
	struct graph_args g = {0};
	int i = parse_common(argc, argv, &o, help, extra, graph_extra, &g);
	if (i < 0)
		return 2;
	if (argc != i) {
		fputs(help, stderr);
		return 2;
	}
	E2__Ctl__CtlRequest q = E2__CTL__CTL_REQUEST__INIT;
	E2__Ctl__Empty empty = E2__CTL__EMPTY__INIT;
	q.op_case = E2__CTL__CTL_REQUEST__OP_GRAPH;
	q.graph = &empty;
	E2__Ctl__CtlResponse *r = call(&o, &q);
	if (!r)
		return 1;
	int rc = 0;
	struct e2_err err = {""};
	if (!g.dot && !g.png)
		fputs(r->dot, stdout);
	if (g.dot) {
		struct e2_out out;
		if (e2_out_open(&out, g.dot, NULL, 0, &err) < 0 || fputs(r->dot, out.f) < 0 ||
		    e2_out_commit(&out, &err) < 0)
			rc = die("%s", err.msg);
	}
	if (g.png && rc == 0) {
		char tmp[] = "/tmp/e2ctl-graph.XXXXXX";
		int fd = mkstemp(tmp);
		FILE *f = fd >= 0 ? fdopen(fd, "w") : NULL;
		if (!f || fputs(r->dot, f) < 0 || fclose(f) != 0) {
			rc = die("%s: %s", tmp, strerror(errno));
		} else {
			pid_t pid = fork();
			if (pid == 0) {
				execlp("dot", "dot", "-Tpng", "-o", g.png, tmp, (char *)NULL);
				fprintf(stderr, "e2ctl: cannot run Graphviz's dot: %s\n", strerror(errno));
				_exit(127);
			}
			int st = 0;
			if (pid < 0 || waitpid(pid, &st, 0) < 0 || !WIFEXITED(st) || WEXITSTATUS(st) != 0)
				rc = die("dot -Tpng -o %s failed", g.png);
		}
		unlink(tmp);
	}
	e2__ctl__ctl_response__free_unpacked(r, NULL);
	return rc;
}

/* ---------------------------------------------------------------- events */

static volatile sig_atomic_t events_stop;

static void on_sigint(int sig)
{
	(void)sig;
	events_stop = 1;
}

struct events_args {
	double for_s;
};

static int events_extra(int opt, const char *arg, void *p)
{
	struct events_args *e = p;
	struct e2_err err = {""};
	if (opt != 'f' || e2_num_duration("--for", arg, 0.001, 86400, &e->for_s, &err) < 0) {
		if (err.msg[0])
			fprintf(stderr, "e2ctl events: %s\n", err.msg);
		return -1;
	}
	return 0;
}

int e2ctl_events(int argc, char **argv)
{
	static const char help[] = "usage: e2ctl events [--for TIME]\n"
				   "  follows the running system's events (instances, agents, e2d load and links)\n"
				   "  until interrupted, or for TIME\n" COMMON_HELP;
	static const struct option extra[] = {
		{"for", required_argument, NULL, 'f'},
		{NULL, 0, NULL, 0},
	};
	struct live_opts o;
	struct events_args ea = {0};
	int i = parse_common(argc, argv, &o, help, extra, events_extra, &ea);
	if (i < 0)
		return 2;
	if (argc != i) {
		fputs(help, stderr);
		return 2;
	}
	E2__Ctl__CtlRequest q = E2__CTL__CTL_REQUEST__INIT;
	E2__Ctl__Empty empty = E2__CTL__EMPTY__INIT;
	q.op_case = E2__CTL__CTL_REQUEST__OP_EVENTS;
	q.events = &empty;
	E2__Ctl__CtlResponse *r = call(&o, &q);
	if (!r)
		return 1;
	struct e2_err err = {""};
	struct e2_chan *sub = e2_chan_new(E2_CHAN_SUB, "e2ctl", NULL, &err);
	if (!sub || e2_chan_connect(sub, r->events_url, &err) < 0) {
		int rc = die("%s: %s", r->events_url, err.msg);
		e2__ctl__ctl_response__free_unpacked(r, NULL);
		e2_chan_close(sub);
		return rc;
	}
	e2__ctl__ctl_response__free_unpacked(r, NULL);
	signal(SIGINT, on_sigint);
	signal(SIGTERM, on_sigint);
	setvbuf(stdout, NULL, _IOLBF, 0);
	uint64_t end = ea.for_s > 0 ? now_ns() + (uint64_t)(ea.for_s * 1e9) : UINT64_MAX;
	while (!events_stop && now_ns() < end) {
		void *body = NULL;
		size_t len = 0;
		char sender[E2_CHAN_SENDER_MAX + 1];
		if (e2_chan_recv(sub, &body, &len, sender, 200, &err) < 0)
			continue;
		E2__Ctl__CtlEvent *ev = e2__ctl__ctl_event__unpack(NULL, len, body);
		free(body);
		if (!ev)
			continue;
		time_t t = (time_t)(ev->time_ns / 1000000000ull);
		struct tm tm;
		gmtime_r(&t, &tm);
		char when[32];
		strftime(when, sizeof when, "%H:%M:%S", &tm);
		printf("%s.%03u %s\n", when, (unsigned)(ev->time_ns / 1000000ull % 1000), ev->what);
		e2__ctl__ctl_event__free_unpacked(ev, NULL);
	}
	e2_chan_close(sub);
	return 0;
}
