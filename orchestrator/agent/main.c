/* SPDX-License-Identifier: BSD-3-Clause */
/* e2-agent: one per server. Keeps e2d and the server's NF VMs at what the controller's
 * ServerSpec says, reports what runs, and survives its own kill -9 without touching
 * traffic (README.md). */
#include "agent.h"

#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <nanomsg/nn.h>
#include <nanomsg/pubsub.h>
#include <poll.h>
#include <signal.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/eventfd.h>
#include <sys/file.h>
#include <sys/signalfd.h>
#include <sys/stat.h>
#include <sys/timerfd.h>
#include <unistd.h>

#include "e2/cmd.h"
#include "e2/ctlnames.h"
#include "e2/file.h"
#include "e2/log.h"
#include "e2/num.h"
#include "e2/opts.h"

E2_LOG_MODULE(main);

#ifndef E2_AGENT_E2D_DEFAULT
#define E2_AGENT_E2D_DEFAULT "e2d"
#endif
#ifndef E2_AGENT_IMAGES_DEFAULT
#define E2_AGENT_IMAGES_DEFAULT "images"
#endif
#define DEFAULT_E2D_ARGS "--no-huge --mbufs 4095 --log-level error"
#define TICK_MS 100
#define REPLY_TIMEOUT_MS 1000

#define ST(x) E2__CTL__INSTANCE_STATE__INSTANCE_##x

static void usage(FILE *f)
{
	fprintf(f,
		"usage: e2-agent --server NAME --listen URL --events URL --state DIR --nic IFACE [options]\n"
		"  --server NAME     this server's name (as the controller knows it)\n"
		"  --listen URL      REP socket for the controller's AgentRequests (tcp:// needs --key)\n"
		"  --events URL      PUB socket for AgentEvents (heartbeats, instance states, e2d events)\n"
		"  --key FILE        cluster key (0600): every message on --listen and --events is sealed\n"
		"                    and checked with it\n"
		"  --state DIR       agent.db, e2d.conf, e2d.log, e2d.ctl, consoles (created if missing)\n"
		"  --nic IFACE       the fabric NIC, e2d port `nic` (af_packet); a value starting with\n"
		"                    net_ is taken as the DPDK devargs (net_null0,no-rx=1 for tests)\n"
		"  --e2d PATH        the e2d binary (default %s)\n"
		"  --e2d-args 'ARGS' more e2d options (default '%s'); the agent sets --ctl,\n"
		"                    --config and --file-prefix itself\n"
		"  --images DIR      NF images: an instance's image NAME is DIR/NAME.vmlinuz, .initrd\n"
		"  --ready-timeout T how long a VM may take to say E2-READY (180s; 1s..1h)\n"
		"                    (default %s)\n"
		"  --libvirt URI     default qemu:///system\n"
		"  --hook URL        REP socket for e2-hook's notices (default ipc://$E2_RUN_DIR/agent-NAME.hook,\n"
		"                    E2_RUN_DIR default /run/e2)\n"
		"  --pidfile FILE    write the agent's pid here\n"
		"  --log SPEC        log levels: LEVEL or MODULE:LEVEL,... (modules main agent e2d_sup\n"
		"                    reconcile; levels off err warn info dbg)\n",
		E2_AGENT_E2D_DEFAULT, DEFAULT_E2D_ARGS, E2_AGENT_IMAGES_DEFAULT);
}

static int die(const char *fmt, ...) __attribute__((format(printf, 1, 2)));
static int die(const char *fmt, ...)
{
	va_list ap;
	va_start(ap, fmt);
	fputs("e2-agent: ", stderr);
	vfprintf(stderr, fmt, ap);
	fputc('\n', stderr);
	va_end(ap);
	exit(1);
}

static bool name_ok(const char *s, size_t max, const char *extra)
{
	size_t n = strlen(s);
	if (!n || n > max || s[0] == '-' || s[0] == '.')
		return false;
	for (const char *p = s; *p; p++)
		if (!((*p >= 'a' && *p <= 'z') || (*p >= 'A' && *p <= 'Z') || (*p >= '0' && *p <= '9') ||
		      strchr(extra, *p)))
			return false;
	return true;
}

struct opts {
	const char *server, *listen, *events, *key, *state, *nic, *e2d, *e2d_args, *images, *libvirt, *hook, *pidfile,
		*log, *ready_timeout;
};

static void parse_options(int argc, char **argv, struct opts *o)
{
	static const struct option longopts[] = {
		{"server", required_argument, NULL, 's'}, {"listen", required_argument, NULL, 'l'},
		{"events", required_argument, NULL, 'e'}, {"key", required_argument, NULL, 'k'},
		{"state", required_argument, NULL, 'S'},  {"nic", required_argument, NULL, 'n'},
		{"e2d", required_argument, NULL, 'd'},    {"e2d-args", required_argument, NULL, 'a'},
		{"images", required_argument, NULL, 'i'}, {"libvirt", required_argument, NULL, 'v'},
		{"hook", required_argument, NULL, 'H'},   {"pidfile", required_argument, NULL, 'p'},
		{"log", required_argument, NULL, 'L'},    {"ready-timeout", required_argument, NULL, 'R'},
		{"help", no_argument, NULL, 'h'},         {NULL, 0, NULL, 0},
	};
	*o = (struct opts){.e2d = E2_AGENT_E2D_DEFAULT,
			   .e2d_args = DEFAULT_E2D_ARGS,
			   .images = E2_AGENT_IMAGES_DEFAULT,
			   .libvirt = "qemu:///system"};
	int c;
	struct e2_err err = {""};
	while ((c = e2_opt_next(argc, argv, "h", longopts, &err)) != -1) {
		switch (c) {
		case 's': o->server = optarg; break;
		case 'l': o->listen = optarg; break;
		case 'e': o->events = optarg; break;
		case 'k': o->key = optarg; break;
		case 'S': o->state = optarg; break;
		case 'n': o->nic = optarg; break;
		case 'd': o->e2d = optarg; break;
		case 'a': o->e2d_args = optarg; break;
		case 'i': o->images = optarg; break;
		case 'v': o->libvirt = optarg; break;
		case 'H': o->hook = optarg; break;
		case 'p': o->pidfile = optarg; break;
		case 'L': o->log = optarg; break;
		case 'R': o->ready_timeout = optarg; break;
		case 'h': usage(stdout); exit(0);
		case E2_OPT_BAD: die("%s", err.msg);
		default: die("option %d is not handled (a bug)", c);
		}
	}
	if (optind < argc)
		die("unexpected argument '%s' (see --help)", argv[optind]);
	const char *missing = !o->server   ? "--server"
			      : !o->listen ? "--listen"
			      : !o->events ? "--events"
			      : !o->state  ? "--state"
			      : !o->nic    ? "--nic"
					   : NULL;
	if (missing)
		die("%s is required (see --help)", missing);
	/* the sender name "agent:NAME" must fit E2_CHAN_SENDER_MAX */
	if (!name_ok(o->server, E2_CHAN_SENDER_MAX - 6, "_.-"))
		die("--server '%s': 1-%d of A-Z a-z 0-9 _ . - (not starting with . or -)", o->server,
		    E2_CHAN_SENDER_MAX - 6);
}

/* ---- requests ---- */

static bool is_tcp(const char *url)
{
	return !strncmp(url, "tcp://", 6);
}

static int check_spec(struct agent *a, const E2__Ctl__ServerSpec *s, struct e2_err *err)
{
	if (strcmp(s->server, a->server)) {
		e2_seterr(err, "the spec is for server '%s'; this agent runs '%s'", s->server, a->server);
		return EINVAL;
	}
	if (s->n_instances > AGENT_MAX_INSTANCES) {
		e2_seterr(err, "%zu instances: at most %d per server", s->n_instances, AGENT_MAX_INSTANCES);
		return EINVAL;
	}
	for (size_t k = 0; k < s->n_instances; k++) {
		const E2__Ctl__Instance *in = s->instances[k];
		if (!name_ok(in->name, AGENT_NAME_MAX, "_.-")) {
			e2_seterr(err, "instance name '%s': 1-%d of A-Z a-z 0-9 _ . -", in->name, AGENT_NAME_MAX);
			return EINVAL;
		}
		for (size_t j = 0; j < k; j++)
			if (!strcmp(s->instances[j]->name, in->name)) {
				e2_seterr(err, "instance %s is listed twice", in->name);
				return EINVAL;
			}
		if (!name_ok(in->image, 128, "_.-")) {
			e2_seterr(err, "instance %s: image name '%s': A-Z a-z 0-9 _ . -", in->name, in->image);
			return EINVAL;
		}
		const char *files = in->instance_files;
		if (files[0] && !e2_path_ok(files, 255, NULL)) {
			e2_seterr(err,
				  "instance %s: instance_files '%s': an absolute path of at most 255 of A-Z a-z "
				  "0-9 _ . - /, without ..",
				  in->name, files);
			return EINVAL;
		}
		if (!in->control[0] != !in->control_socket[0] ||
		    (in->control[0] &&
		     (!e2_path_ok(in->control, 100, NULL) || !e2_path_ok(in->control_socket, 107, NULL)))) {
			e2_seterr(
				err,
				"instance %s: control '%s' and control_socket '%s': both or neither, absolute "
				"paths of A-Z a-z 0-9 _ . - / without .. (the guest's at most 100 bytes, the server's 107)",
				in->name, in->control, in->control_socket);
			return EINVAL;
		}
		if (in->n_ports > E2V_MAX_PORTS) {
			e2_seterr(err, "instance %s: %zu ports (at most %d)", in->name, in->n_ports, E2V_MAX_PORTS);
			return EINVAL;
		}
		for (size_t j = 0; j < in->n_ports; j++)
			if (strlen(in->ports[j]->name) > 32 || strlen(in->ports[j]->socket) > 107) {
				e2_seterr(err, "instance %s: port name or socket path too long", in->name);
				return EINVAL;
			}
	}
	for (size_t k = 0; k < s->n_e2d_lines; k++) {
		const char *line = s->e2d_lines[k];
		char msg[1024];
		if (strpbrk(line, "\n\r")) {
			e2_seterr(err, "e2d line %zu holds a line break", k + 1);
			return EINVAL;
		}
		E2__Dp__Request *req = e2_cmd_parse(line, msg, sizeof(msg));
		if (req)
			e2__dp__request__free_unpacked(req, NULL);
		else if (msg[0]) {
			e2_seterr(err, "e2d line %zu '%s': %s", k + 1, line, msg);
			return EINVAL;
		}
	}
	return 0;
}

/* Takes the spec as desired (stored before anything acts on it). Lock held. */
static int apply_spec(struct agent *a, E2__Ctl__ServerSpec *s, struct e2_err *err)
{
	int code = check_spec(a, s, err);
	if (code)
		return code;
	size_t len = e2__ctl__server_spec__get_packed_size(s);
	uint8_t *bytes = malloc(len ? len : 1);
	if (!bytes) {
		e2_seterr(err, "out of memory");
		return ENOMEM;
	}
	e2__ctl__server_spec__pack(s, bytes);
	if (a->spec) {
		if (s->generation < a->spec->generation) {
			e2_seterr(err, "generation %llu is older than the one this agent has (%llu)",
				  (unsigned long long)s->generation, (unsigned long long)a->spec->generation);
			free(bytes);
			return ESTALE;
		}
		if (s->generation == a->spec->generation) {
			bool same = len == a->spec_len && !memcmp(bytes, a->spec_bytes, len);
			free(bytes);
			if (same)
				return 0; /* already had: nothing changes */
			e2_seterr(err, "generation %llu was received before with other content",
				  (unsigned long long)s->generation);
			return EINVAL;
		}
	}
	if (store_put_spec(a->db, bytes, len, err)) {
		free(bytes);
		return EIO;
	}
	E2__Ctl__ServerSpec *copy = e2__ctl__server_spec__unpack(NULL, len, bytes);
	if (!copy) {
		free(bytes);
		e2_seterr(err, "out of memory");
		return ENOMEM;
	}
	if (a->spec)
		e2__ctl__server_spec__free_unpacked(a->spec, NULL);
	free(a->spec_bytes);
	a->spec = copy;
	a->spec_bytes = bytes;
	a->spec_len = len;
	for (size_t k = 0; k < a->n_inst; k++)
		a->inst[k].desired = false;
	for (size_t k = 0; k < copy->n_instances; k++) {
		bool known = agent_inst_find(a, copy->instances[k]->name) != NULL;
		struct agent_inst *i = agent_inst_add(a, copy->instances[k]->name);
		if (!i)
			continue;
		i->desired = true;
		if (!known)
			agent_set_state(a, i, ST(PENDING), "in generation %llu", (unsigned long long)copy->generation);
	}
	E2_INFO("generation %llu stored: %zu instances, %zu e2d lines", (unsigned long long)copy->generation,
		copy->n_instances, copy->n_e2d_lines);
	agent_kick(a);
	return 0;
}

/* What `ch` refused so far, by reason, into the report (malloc'd, freed with it). */
static void add_refusals(E2__Ctl__AgentReport *r, const struct e2_chan *ch)
{
	const struct e2_chan_counters *c = e2_chan_counters(ch);
	r->refused = calloc(E2_CHAN_REFUSALS, sizeof(*r->refused));
	for (int k = 1; r->refused && k < E2_CHAN_REFUSALS; k++) {
		E2__Ctl__RefusalCount *rc = malloc(sizeof(*rc));
		if (!rc)
			break;
		e2__ctl__refusal_count__init(rc);
		rc->reason = strdup(e2_chan_refusal_name((enum e2_chan_refusal)k));
		rc->count = c->refused[k];
		r->refused[r->n_refused++] = rc;
	}
}

/* with_spec: the answer to `report` also carries the spec, for a controller that
 * rebuilds its database from the agents */
static void reply(struct agent *a, struct e2_chan *ch, int code, const char *error, bool with_spec)
{
	E2__Ctl__AgentResponse resp = E2__CTL__AGENT_RESPONSE__INIT;
	resp.version = E2__CTL__VERSION__VERSION_CURRENT;
	resp.code = code;
	resp.error = (char *)(error ? error : "");
	pthread_mutex_lock(&a->lock);
	resp.report = agent_report(a);
	if (resp.report && with_spec && a->spec_bytes)
		resp.report->spec = e2__ctl__server_spec__unpack(NULL, a->spec_len, a->spec_bytes);
	pthread_mutex_unlock(&a->lock);
	if (resp.report)
		add_refusals(resp.report, ch);
	size_t len = e2__ctl__agent_response__get_packed_size(&resp);
	uint8_t *buf = malloc(len ? len : 1);
	struct e2_err err;
	if (buf) {
		e2__ctl__agent_response__pack(&resp, buf);
		if (e2_chan_send(ch, buf, len, REPLY_TIMEOUT_MS, &err))
			E2_WARN("reply not sent: %s", err.msg);
	}
	free(buf);
	if (resp.report)
		e2__ctl__agent_report__free_unpacked(resp.report, NULL);
}

static void on_request(struct agent *a, struct e2_chan *rep)
{
	void *body;
	size_t len;
	char sender[E2_CHAN_SENDER_MAX + 1];
	struct e2_err err = {""};
	if (e2_chan_recv(rep, &body, &len, sender, 0, &err))
		return; /* refused (counted and logged by the channel), or nothing after all */
	E2__Ctl__AgentRequest *req = e2__ctl__agent_request__unpack(NULL, len, body);
	free(body);
	int code = 0;
	if (!req) {
		e2_seterr(&err, "not an AgentRequest");
		code = EPROTO;
	} else if (req->version != E2__CTL__VERSION__VERSION_CURRENT) {
		e2_seterr(&err, "request version %u; this agent speaks %d", req->version,
			  E2__CTL__VERSION__VERSION_CURRENT);
		code = EPROTO;
	} else {
		pthread_mutex_lock(&a->lock);
		switch (req->op_case) {
		case E2__CTL__AGENT_REQUEST__OP_APPLY:
			code = apply_spec(a, req->apply, &err);
			if (code)
				E2_WARN("spec from %s refused: %s", sender, err.msg);
			break;
		case E2__CTL__AGENT_REQUEST__OP_REPORT: break;
		case E2__CTL__AGENT_REQUEST__OP_START: {
			struct agent_inst *i =
				agent_spec_instance(a, req->start->name) ? agent_inst_find(a, req->start->name) : NULL;
			if (!i) {
				e2_seterr(&err, "no instance %s in the spec", req->start->name);
				code = ENOENT;
				break;
			}
			i->start_requested = true;
			agent_stopped_set(a, i->name, false);
			E2_INFO("%s asks to start %s", sender, i->name);
			agent_kick(a);
			break;
		}
		default: e2_seterr(&err, "request has no operation (or one this agent does not know)"); code = EINVAL;
		}
		pthread_mutex_unlock(&a->lock);
	}
	bool with_spec = req && req->op_case == E2__CTL__AGENT_REQUEST__OP_REPORT;
	if (req)
		e2__ctl__agent_request__free_unpacked(req, NULL);
	reply(a, rep, code, code ? err.msg : NULL, with_spec);
}

/* The hook waits for the answer (briefly): answer first, look at the domain later. */
static void on_hook(struct agent *a, struct e2_chan *hook)
{
	void *body;
	size_t len;
	char sender[E2_CHAN_SENDER_MAX + 1];
	struct e2_err err;
	if (e2_chan_recv(hook, &body, &len, sender, 0, &err))
		return;
	E2__Ctl__HookNotice *n = e2__ctl__hook_notice__unpack(NULL, len, body);
	free(body);
	if (!n) {
		reply(a, hook, EPROTO, "not a HookNotice", false);
		return;
	}
	const char *name = n->instance[0] ? n->instance : n->domain;
	bool mine = !n->server[0] || !strcmp(n->server, a->server);
	/* libvirt boots the domain once the hook returns: an instance's own files go into its
	 * initrd before that, so an operator's `virsh start` boots them as they are now (a
	 * new key, new rules). A start of the worker's own made them a moment ago. */
	bool prepare = mine && !strcmp(n->op, "prepare") && !strcmp(n->subop, "begin");
	if (prepare) {
		pthread_mutex_lock(&a->lock);
		const struct agent_inst *w = agent_inst_find(a, name);
		prepare = !(w && w->busy);
		pthread_mutex_unlock(&a->lock);
	}
	if (prepare && agent_instance_initrd(a, name, &err))
		E2_WARN("hook: %s: %s (it boots with the files of its last start)", name, err.msg);
	reply(a, hook, 0, NULL, false);
	E2_INFO("hook: %s %s %s %s (server %s)", n->domain, n->op, n->subop, n->extra, n->server);
	pthread_mutex_lock(&a->lock);
	struct agent_inst *i = mine ? agent_inst_find(a, name) : NULL;
	if (i) {
		i->check = true;
		/* libvirt finishes the operation once the hook has returned */
		i->check_at_ms = agent_mono_ms() + 300;
	} else if (!strcmp(n->op, "started") || !strcmp(n->op, "reconnect"))
		agent_kick(a); /* unknown here: maybe an orphan of this server */
	pthread_mutex_unlock(&a->lock);
	e2__ctl__hook_notice__free_unpacked(n, NULL);
}

static void on_e2d_event(struct agent *a, int sub)
{
	void *buf;
	int n;
	while ((n = nn_recv(sub, &buf, NN_MSG, NN_DONTWAIT)) >= 0) {
		E2__Dp__Event *ev = e2__dp__event__unpack(NULL, (size_t)n, buf);
		nn_freemsg(buf);
		if (!ev)
			continue;
		E2__Ctl__AgentEvent out = E2__CTL__AGENT_EVENT__INIT;
		out.kind = E2__CTL__AGENT_EVENT_KIND__AGENT_E2D_EVENT;
		out.e2d_kind = (char *)e2_dp_event_kind_name(ev->kind);
		out.e2d_name = ev->name;
		out.occupancy = ev->occupancy;
		out.rate_pps = ev->rate_pps;
		out.delay_us = ev->delay_us;
		out.sent_pps = ev->sent_pps;
		E2_DBG("e2d: %s %s", out.e2d_kind, out.e2d_name);
		pthread_mutex_lock(&a->lock);
		agent_publish(a, &out);
		pthread_mutex_unlock(&a->lock);
		e2__dp__event__free_unpacked(ev, NULL);
	}
}

/* Instances whose domains are due for a look. */
static void run_checks(struct agent *a)
{
	struct strv due = {0};
	uint64_t now = agent_mono_ms();
	pthread_mutex_lock(&a->lock);
	for (size_t k = 0; k < a->n_inst; k++)
		if (a->inst[k].check && a->inst[k].check_at_ms <= now) {
			a->inst[k].check = false;
			strv_push(&due, a->inst[k].name);
		}
	pthread_mutex_unlock(&a->lock);
	for (size_t k = 0; k < due.n; k++)
		instance_check(a, due.v[k]);
	strv_free(&due);
}

/* ---- start-up ---- */

static int load_instance(void *opaque, const struct store_instance *row)
{
	struct agent *a = opaque;
	struct agent_inst *i = agent_inst_add(a, row->name);
	if (i) {
		i->state = (inst_state)row->state;
		i->since_ns = row->since_ns;
		snprintf(i->detail, sizeof(i->detail), "%s", row->detail);
		i->desired = agent_spec_instance(a, row->name) != NULL;
	}
	return 0;
}

static void load_state(struct agent *a)
{
	struct e2_err err;
	uint8_t *bytes;
	size_t len;
	if (store_get_spec(a->db, &bytes, &len, &a->applied_generation, &err))
		die("%s", err.msg);
	if (bytes) {
		a->spec = e2__ctl__server_spec__unpack(NULL, len, bytes);
		if (!a->spec)
			die("%s: the stored spec does not decode; move the file away to start afresh", a->db_path);
		a->spec_bytes = bytes;
		a->spec_len = len;
	}
	if (store_get_refused(a->db, &a->lines_refused_gen, a->lines_refused, sizeof(a->lines_refused), &err) ||
	    store_get_lines(a->db, &a->lines, &err) || store_get_stopped(a->db, &a->stopped, &err) ||
	    store_each_instance(a->db, load_instance, a, &err))
		die("%s", err.msg);
	for (size_t k = 0; a->spec && k < a->spec->n_instances; k++) {
		struct agent_inst *i = agent_inst_add(a, a->spec->instances[k]->name);
		if (i)
			i->desired = true;
	}
	if (a->lines.n == 0)
		strv_push(&a->lines, a->nic_line);
	E2_INFO("state: generation %llu applied%s, %zu e2d lines, %zu instances, %zu stopped by the operator",
		(unsigned long long)a->applied_generation, a->spec ? "" : " (no spec yet)", a->lines.n, a->n_inst,
		a->stopped.n);
}

static void split_args(const char *s, struct strv *out)
{
	char *copy = strdup(s), *save = NULL;
	for (char *w = strtok_r(copy, " \t", &save); w; w = strtok_r(NULL, " \t", &save))
		strv_push(out, w);
	free(copy);
}

static struct e2_chan *open_chan(struct agent *a, enum e2_chan_kind kind, const char *url, bool keyed, const char *what)
{
	struct e2_err err;
	if (is_tcp(url) && !keyed)
		die("%s %s: a tcp:// endpoint needs --key", what, url);
	struct e2_chan *c = e2_chan_new(kind, a->sender, keyed ? &a->key : NULL, &err);
	if (!c || e2_chan_bind(c, url, &err))
		die("%s %s: %s", what, url, err.msg);
	return c;
}

static int take_lock(const char *state_dir)
{
	char path[2100];
	snprintf(path, sizeof(path), "%s/agent.lock", state_dir);
	int fd = open(path, O_RDWR | O_CREAT | O_CLOEXEC, 0600);
	if (fd < 0)
		die("%s: %s", path, strerror(errno));
	if (flock(fd, LOCK_EX | LOCK_NB)) {
		char pid[32] = "";
		ssize_t n = pread(fd, pid, sizeof(pid) - 1, 0);
		pid[n > 0 ? n : 0] = '\0';
		pid[strcspn(pid, "\n")] = '\0';
		die("another e2-agent (pid %s) uses %s", pid[0] ? pid : "?", state_dir);
	}
	char buf[32];
	int n = snprintf(buf, sizeof(buf), "%d\n", (int)getpid());
	if (ftruncate(fd, 0) || pwrite(fd, buf, (size_t)n, 0) != n)
		die("%s: %s", path, strerror(errno));
	return fd; /* held until the process ends */
}

int main(int argc, char **argv)
{
	struct opts o;
	struct e2_err err;
	parse_options(argc, argv, &o);
	if (o.log && e2_log_set(o.log, &err))
		die("--log: %s", err.msg);

	static struct agent a;
	snprintf(a.server, sizeof(a.server), "%s", o.server);
	snprintf(a.sender, sizeof(a.sender), "agent:%s", o.server);
	if (mkdir(o.state, 0755) && errno != EEXIST)
		die("--state %s: %s", o.state, strerror(errno));
	if (!realpath(o.state, a.state_dir))
		die("--state %s: %s", o.state, strerror(errno));
	snprintf(a.db_path, sizeof(a.db_path), "%s/agent.db", a.state_dir);
	snprintf(a.conf_path, sizeof(a.conf_path), "%s/e2d.conf", a.state_dir);
	snprintf(a.ctl_path, sizeof(a.ctl_path), "%s/e2d.ctl", a.state_dir);
	snprintf(a.log_path, sizeof(a.log_path), "%s/e2d.log", a.state_dir);
	snprintf(a.e2d_pidfile, sizeof(a.e2d_pidfile), "%s/e2d.pid", a.state_dir);
	if (strlen(a.ctl_path) + strlen(".events") > 107)
		die("--state %s: too long a path for e2d's sockets (%s.events must fit 107 characters)", o.state,
		    a.ctl_path);
	if (access(o.e2d, X_OK))
		die("--e2d %s: %s", o.e2d, strerror(errno));
	snprintf(a.e2d_path, sizeof(a.e2d_path), "%s", o.e2d);
	split_args(o.e2d_args, &a.e2d_args);
	a.ready_timeout_ms = AGENT_READY_TIMEOUT_MS;
	if (o.ready_timeout) {
		double secs;
		struct e2_err terr = {""};
		if (e2_num_duration("--ready-timeout", o.ready_timeout, 1, 3600, &secs, &terr))
			die("%s", terr.msg);
		a.ready_timeout_ms = (unsigned)(secs * 1000);
	}
	if (!realpath(o.images, a.images))
		snprintf(a.images, sizeof(a.images), "%s", o.images); /* may appear later */
	snprintf(a.libvirt_uri, sizeof(a.libvirt_uri), "%s", o.libvirt);
	if (!strncmp(o.nic, "net_", 4))
		snprintf(a.nic_line, sizeof(a.nic_line), "port add nic pmd devargs=%s native=1", o.nic);
	else if (name_ok(o.nic, 15, "_.:-"))
		snprintf(a.nic_line, sizeof(a.nic_line), "port add nic pmd devargs=net_af_packet_nic,iface=%s native=1",
			 o.nic);
	else
		die("--nic '%s': an interface name (1-15 of A-Z a-z 0-9 _ . : -) or DPDK devargs net_...", o.nic);
	char msg[1024];
	E2__Dp__Request *nic_req = e2_cmd_parse(a.nic_line, msg, sizeof(msg));
	if (!nic_req)
		die("--nic '%s': %s", o.nic, msg);
	e2__dp__request__free_unpacked(nic_req, NULL);
	snprintf(a.listen_url, sizeof(a.listen_url), "%s", o.listen);
	snprintf(a.events_url, sizeof(a.events_url), "%s", o.events);
	if (o.hook)
		snprintf(a.hook_url, sizeof(a.hook_url), "%s", o.hook);
	else {
		const char *run = getenv("E2_RUN_DIR");
		run = run && *run ? run : "/run/e2";
		if (mkdir(run, 0755) && errno != EEXIST)
			die("E2_RUN_DIR %s: %s", run, strerror(errno));
		snprintf(a.hook_url, sizeof(a.hook_url), "ipc://%s/agent-%s.hook", run, a.server);
	}
	if (strncmp(a.hook_url, "ipc://", 6))
		die("--hook %s: the hook talks over ipc:// only", a.hook_url);
	if (o.key) {
		if (e2_chan_key_load(o.key, &a.key, &err))
			die("--key: %s", err.msg);
		a.have_key = true;
	}
	a.boot = agent_now_ns();
	a.accel = E2V_ACCEL_AUTO;

	umask(0077);
	int lock_fd = take_lock(a.state_dir);
	(void)lock_fd;
	a.db = store_open(a.db_path, a.server, &err);
	if (!a.db)
		die("%s", err.msg);

	a.inst = calloc(AGENT_MAX_INSTANCES, sizeof(*a.inst));
	if (!a.inst)
		die("out of memory");
	pthread_mutex_init(&a.lock, NULL);
	pthread_cond_init(&a.cond, NULL);
	a.wake_fd = eventfd(0, EFD_CLOEXEC | EFD_NONBLOCK);
	signal(SIGPIPE, SIG_IGN);
	sigset_t sigs;
	sigemptyset(&sigs);
	sigaddset(&sigs, SIGTERM);
	sigaddset(&sigs, SIGINT);
	sigprocmask(SIG_BLOCK, &sigs, NULL); /* before any thread: they inherit it */
	int sig_fd = signalfd(-1, &sigs, SFD_CLOEXEC);
	int tick_fd = timerfd_create(CLOCK_MONOTONIC, TFD_CLOEXEC | TFD_NONBLOCK);
	struct itimerspec its = {{0, TICK_MS * 1000000L}, {0, TICK_MS * 1000000L}};
	timerfd_settime(tick_fd, 0, &its, NULL);

	struct e2_chan *rep = open_chan(&a, E2_CHAN_REP, a.listen_url, a.have_key, "--listen");
	a.pub = open_chan(&a, E2_CHAN_PUB, a.events_url, a.have_key, "--events");
	struct e2_chan *hook = open_chan(&a, E2_CHAN_REP, a.hook_url, false, "--hook");
	int sub = nn_socket(AF_SP, NN_SUB);
	char sub_url[2200];
	snprintf(sub_url, sizeof(sub_url), "ipc://%s.events", a.ctl_path);
	if (sub < 0 || nn_setsockopt(sub, NN_SUB, NN_SUB_SUBSCRIBE, "", 0) < 0 || nn_connect(sub, sub_url) < 0)
		die("cannot subscribe to e2d's events at %s: %s", sub_url, nn_strerror(nn_errno()));
	int sub_fd = -1;
	size_t fdsz = sizeof(sub_fd);
	nn_getsockopt(sub, NN_SOL_SOCKET, NN_RCVFD, &sub_fd, &fdsz);

	if (o.pidfile) {
		FILE *f = fopen(o.pidfile, "w");
		if (!f)
			die("--pidfile %s: %s", o.pidfile, strerror(errno));
		fprintf(f, "%d\n", (int)getpid());
		fclose(f);
	}

	pthread_mutex_lock(&a.lock);
	load_state(&a);
	e2d_init(&a);
	a.work = true;
	pthread_mutex_unlock(&a.lock);
	E2_INFO("server %s: requests on %s, events on %s, hook on %s, state in %s", a.server, a.listen_url,
		a.events_url, a.hook_url, a.state_dir);

	pthread_t worker;
	if (pthread_create(&worker, NULL, worker_main, &a))
		die("cannot start the worker thread");

	unsigned ticks = 0;
	for (;;) {
		struct pollfd p[8];
		int n = 0;
		p[n++] = (struct pollfd){.fd = sig_fd, .events = POLLIN};
		p[n++] = (struct pollfd){.fd = a.wake_fd, .events = POLLIN};
		p[n++] = (struct pollfd){.fd = tick_fd, .events = POLLIN};
		p[n++] = (struct pollfd){.fd = e2_chan_fd(rep), .events = POLLIN};
		p[n++] = (struct pollfd){.fd = e2_chan_fd(hook), .events = POLLIN};
		p[n++] = (struct pollfd){.fd = sub_fd, .events = POLLIN};
		pthread_mutex_lock(&a.lock);
		int pidfd = a.sup.pidfd;
		pthread_mutex_unlock(&a.lock);
		if (pidfd >= 0)
			p[n++] = (struct pollfd){.fd = pidfd, .events = POLLIN};
		if (poll(p, (nfds_t)n, -1) < 0) {
			if (errno == EINTR)
				continue;
			die("poll: %s", strerror(errno));
		}
		if (p[0].revents)
			break;
		uint64_t count;
		if (p[1].revents && read(a.wake_fd, &count, sizeof(count)) < 0) {
			/* already drained */
		}
		bool tick = false;
		if (p[2].revents && read(tick_fd, &count, sizeof(count)) == sizeof(count))
			tick = true;
		if (p[3].revents)
			on_request(&a, rep);
		if (p[4].revents)
			on_hook(&a, hook);
		if (p[5].revents)
			on_e2d_event(&a, sub);
		pthread_mutex_lock(&a.lock);
		if (pidfd >= 0 && n == 7 && p[6].revents && a.sup.pidfd == pidfd)
			e2d_on_exit(&a);
		if (tick || p[1].revents)
			e2d_tick(&a);
		if (tick && ++ticks % (1000 / TICK_MS) == 0)
			agent_publish_report(&a, E2__CTL__AGENT_EVENT_KIND__AGENT_HEARTBEAT);
		pthread_mutex_unlock(&a.lock);
		if (tick || p[1].revents)
			run_checks(&a);
	}

	/* SIGTERM: e2d and the VMs stay; an agent upgrade must not touch traffic */
	E2_INFO("stopping; e2d (pid %d) and the VMs keep running", (int)a.sup.pid);
	pthread_mutex_lock(&a.lock);
	a.quit = true;
	pthread_cond_broadcast(&a.cond);
	bool busy = a.worker_busy;
	pthread_mutex_unlock(&a.lock);
	e2_chan_close(rep);
	e2_chan_close(hook);
	nn_close(sub);
	if (o.pidfile)
		unlink(o.pidfile);
	if (busy) {
		/* mid-boot of a VM: the next agent adopts it; waiting could take minutes */
		E2_INFO("a VM is being started: left to the next agent to adopt");
		pthread_mutex_lock(&a.lock);
		e2_chan_close(a.pub);
		_exit(0);
	}
	pthread_join(worker, NULL);
	e2_chan_close(a.pub);
	if (a.virt)
		e2v_disconnect(a.virt);
	store_close(a.db);
	return 0;
}
