/* SPDX-License-Identifier: BSD-3-Clause */
/* Reconciliation: bring e2d to the spec's lines and the server's E2 domains to the
 * spec's instances, one slow step at a time, and the state machine that libvirt's
 * lifecycle events and the hook's notices drive. */
#include "agent.h"

#include <errno.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "e2/log.h"

E2_LOG_MODULE(reconcile);

#define IDLE_PASS_MS 5000u   /* a pass at least this often, even without a kick */
#define RETRY_MIN_MS 5000u   /* a failed start is tried again after this, doubling */
#define RETRY_MAX_MS 300000u /* up to five minutes */
#define CTL_TIMEOUT_MS 5000

#define ST(x) E2__CTL__INSTANCE_STATE__INSTANCE_##x

/* ---- libvirt connection ---- */

struct e2v_conn *agent_virt(struct agent *a, struct e2_err *err)
{
	pthread_mutex_lock(&a->lock);
	struct e2v_conn *c = a->virt;
	pthread_mutex_unlock(&a->lock);
	if (c)
		return c;
	c = e2v_connect(a->libvirt_uri, err);
	if (!c)
		return NULL;
	if (e2v_events_start(c, instance_event, a, err)) {
		e2v_disconnect(c);
		return NULL;
	}
	pthread_mutex_lock(&a->lock);
	a->virt = c;
	a->events_on = true;
	pthread_mutex_unlock(&a->lock);
	E2_INFO("connected to libvirt at %s", a->libvirt_uri);
	return c;
}

/* ---- the state machine ---- */

void instance_event(void *opaque, const char *instance, enum e2v_event ev, bool is_e2)
{
	struct agent *a = opaque;
	if (!is_e2)
		return; /* none of E2's business */
	if (ev != E2V_EVENT_STARTED && ev != E2V_EVENT_STOPPED && ev != E2V_EVENT_UNDEFINED && ev != E2V_EVENT_SHUTDOWN)
		return;
	pthread_mutex_lock(&a->lock);
	struct agent_inst *i = agent_inst_find(a, instance);
	if (i) {
		i->check = true;
		i->check_at_ms = 0;
		agent_wake(a);
	} else if (ev == E2V_EVENT_STARTED || ev == E2V_EVENT_DEFINED)
		agent_kick(a); /* maybe an orphan of this server: the worker looks */
	pthread_mutex_unlock(&a->lock);
}

/* Moves i to what its domain shows. Called with the lock held; drops it around libvirt.
 * Returns false when i may have gone meanwhile (the caller must look it up again). */
static bool observe(struct agent *a, const char *name)
{
	struct agent_inst *i = agent_inst_find(a, name);
	if (!i || i->busy || !a->virt)
		return true;
	struct e2v_conn *c = a->virt;
	enum e2v_off why = E2V_OFF_NOT;
	struct e2_err err;
	pthread_mutex_unlock(&a->lock);
	int run = e2v_state(c, name, &why, &err);
	pthread_mutex_lock(&a->lock);
	i = agent_inst_find(a, name);
	if (!i || i->busy)
		return false;
	inst_state st = i->state;
	if (run == 1) {
		if (st == ST(STOPPED) || st == ST(FAILED) || st == ST(PENDING)) {
			/* somebody started it (virsh start): it rejoins once ready */
			agent_stopped_set(a, name, false);
			agent_set_state(a, i, ST(STARTING), "virsh start");
			agent_kick(a);
		}
	} else if (run == 0) {
		if (why == E2V_OFF_SHUTDOWN) {
			if (st != ST(STOPPED)) {
				agent_stopped_set(a, name, true);
				agent_set_state(a, i, ST(STOPPED), "virsh shutdown");
			}
		} else if (st != ST(STOPPED) && st != ST(FAILED) && i->desired) {
			if (agent_is_stopped(a, name))
				agent_set_state(a, i, ST(STOPPED), "shut off (%s)", e2v_off_name(why));
			else {
				agent_set_state(a, i, ST(FAILED), "%s",
						why == E2V_OFF_DESTROYED ? "virsh destroy"
						: why == E2V_OFF_CRASHED ? "QEMU died (crashed)"
									 : "shut off");
				agent_kick(a); /* to be replaced */
			}
		}
	} else if (i->desired && st != ST(FAILED) && st != ST(PENDING) && !agent_is_stopped(a, name)) {
		agent_set_state(a, i, ST(FAILED), "domain gone (undefined)");
		agent_kick(a);
	}
	return true;
}

void instance_check(struct agent *a, const char *name)
{
	pthread_mutex_lock(&a->lock);
	observe(a, name);
	pthread_mutex_unlock(&a->lock);
}

/* ---- e2d lines ---- */

static bool is_prefix(const struct strv *p, const struct strv *of)
{
	if (p->n > of->n)
		return false;
	for (size_t k = 0; k < p->n; k++)
		if (strcmp(p->v[k], of->v[k]))
			return false;
	return true;
}

static bool same_lines(const struct strv *x, const struct strv *y)
{
	return x->n == y->n && is_prefix(x, y);
}

static void refused(struct agent *a, uint64_t gen, struct e2_err *err)
{
	pthread_mutex_lock(&a->lock);
	if (!a->quit) {
		a->lines_refused_gen = gen;
		snprintf(a->lines_refused, sizeof(a->lines_refused), "generation %llu refused: %s",
			 (unsigned long long)gen, err->msg);
		snprintf(err->msg, sizeof(err->msg), "%s", a->lines_refused);
		struct e2_err e;
		if (store_put_refused(a->db, gen, a->lines_refused, &e))
			E2_ERR("%s", e.msg);
	}
	pthread_mutex_unlock(&a->lock);
}

/* 0 when e2d has exactly the desired lines. */
static int reconcile_lines(struct agent *a, struct e2_err *err)
{
	pthread_mutex_lock(&a->lock);
	uint64_t gen = a->spec ? a->spec->generation : 0;
	if (gen && a->lines_refused_gen == gen) {
		e2_seterr(err, "%s", a->lines_refused);
		pthread_mutex_unlock(&a->lock);
		return -1;
	}
	struct strv want;
	agent_desired_lines(a, &want);
	bool up = e2d_is_up(a);
	pid_t pid = a->sup.pid;
	struct strv have = {0};
	for (size_t k = 0; k < a->lines.n; k++)
		strv_push(&have, a->lines.v[k]);
	pthread_mutex_unlock(&a->lock);

	int rc = 0;
	if (same_lines(&have, &want))
		goto out;
	if (!up) {
		e2_seterr(err, "e2d is not up: its lines wait");
		rc = -1;
		goto out;
	}
	if (!is_prefix(&have, &want)) {
		E2_INFO("the spec's e2d lines do not continue the running ones (%zu lines, %zu wanted): restarting "
			"e2d with them",
			have.n, want.n);
		rc = e2d_restart_with(a, &want, err);
		if (rc)
			refused(a, gen, err);
		goto out;
	}
	for (size_t k = have.n; k < want.n; k++) {
		int sent = e2d_command(a->ctl_path, want.v[k], CTL_TIMEOUT_MS, err);
		if (sent) {
			if (sent == E2D_REFUSED)
				refused(a, gen, err);
			rc = -1;
			break;
		}
		pthread_mutex_lock(&a->lock);
		/* only if the e2d that took it still runs: a restarted one has e2d.conf's lines */
		bool same = e2d_is_up(a) && a->sup.pid == pid;
		if (same) {
			strv_push(&a->lines, want.v[k]);
			struct e2_err e;
			if (store_put_lines(a->db, &a->lines, &e) || agent_write_conf(a, &a->lines, &e))
				E2_ERR("%s", e.msg);
		}
		pthread_mutex_unlock(&a->lock);
		if (!same) {
			e2_seterr(err, "e2d restarted while lines were applied");
			rc = -1;
			break;
		}
		E2_INFO("e2d line applied: %s", want.v[k]);
	}
out:
	strv_free(&want);
	strv_free(&have);
	return rc;
}

/* ---- instances ---- */

/* Lock not held: the probe boots a guest for up to 8 s. Only the worker calls it. */
static enum e2v_accel accel_for(struct agent *a, struct e2v_conn *c, const char *image)
{
	pthread_mutex_lock(&a->lock);
	enum e2v_accel acc = a->accel;
	pthread_mutex_unlock(&a->lock);
	if (acc != E2V_ACCEL_AUTO)
		return acc;
	acc = e2v_accel_from_env();
	if (acc == E2V_ACCEL_AUTO) {
		E2_INFO("probing whether KVM runs guests here (set E2_ACCEL=kvm|tcg to skip)");
		acc = e2v_probe_accel(c, image, a->state_dir, 8000);
	}
	E2_INFO("guests run under %s", acc == E2V_ACCEL_KVM ? "KVM" : "TCG");
	pthread_mutex_lock(&a->lock);
	a->accel = acc;
	pthread_mutex_unlock(&a->lock);
	return acc;
}

/* Where an instance's own initrd (its instance_files) lives: beside its console log. */
static void instance_initrd_path(const struct agent *a, const char *name, char *out, size_t len)
{
	snprintf(out, len, "%s/%s.initrd", a->state_dir, name);
}

int agent_instance_initrd(struct agent *a, const char *name, struct e2_err *err)
{
	char image[PATH_MAX + 64], files[256], initrd[PATH_MAX];
	pthread_mutex_lock(&a->lock);
	const E2__Ctl__Instance *in = agent_spec_instance(a, name);
	if (!in || !in->instance_files[0]) {
		pthread_mutex_unlock(&a->lock);
		return 0;
	}
	snprintf(image, sizeof(image), "%s/%s", a->images, in->image);
	snprintf(files, sizeof(files), "%s", in->instance_files);
	instance_initrd_path(a, name, initrd, sizeof(initrd));
	pthread_mutex_unlock(&a->lock);
	if (e2v_instance_initrd(image, files, initrd, NULL, err)) {
		e2_err_context(err, "instance %s", name);
		return -1;
	}
	return 0;
}

/* Creates the domain of a desired instance (lock not held; i is marked busy). */
static int create(struct agent *a, struct e2v_conn *c, const char *name, struct e2_err *err)
{
	pthread_mutex_lock(&a->lock);
	const E2__Ctl__Instance *in = agent_spec_instance(a, name);
	if (!in) {
		pthread_mutex_unlock(&a->lock);
		e2_seterr(err, "instance %s is no longer in the spec", name);
		return -1;
	}
	/* copied out: the spec may be replaced while the VM boots */
	char image[PATH_MAX + 64], nf[256], args[1024], log[PATH_MAX], files[256], initrd[PATH_MAX], ctl_sock[128],
		cmdline[160];
	struct e2v_port ports[E2V_MAX_PORTS];
	char pnames[E2V_MAX_PORTS][64], psocks[E2V_MAX_PORTS][256];
	unsigned n_ports = in->n_ports > E2V_MAX_PORTS ? E2V_MAX_PORTS : (unsigned)in->n_ports;
	snprintf(image, sizeof(image), "%s/%s", a->images, in->image);
	snprintf(nf, sizeof(nf), "%s", in->command);
	snprintf(args, sizeof(args), "%s", in->args);
	snprintf(log, sizeof(log), "%s/%s.console", a->state_dir, name);
	snprintf(files, sizeof(files), "%s", in->instance_files);
	snprintf(ctl_sock, sizeof(ctl_sock), "%s", in->control_socket);
	snprintf(cmdline, sizeof(cmdline), "e2.ctl=%s", in->control);
	instance_initrd_path(a, name, initrd, sizeof(initrd));
	for (unsigned k = 0; k < n_ports; k++) {
		snprintf(pnames[k], sizeof(pnames[k]), "%s", in->ports[k]->name);
		snprintf(psocks[k], sizeof(psocks[k]), "%s", in->ports[k]->socket);
		ports[k] = (struct e2v_port){.name = pnames[k], .socket_path = psocks[k]};
	}
	struct e2v_nf_spec spec = {.instance = name,
				   .image = image,
				   .nf = nf[0] ? nf : NULL,
				   .nf_args = args[0] ? args : NULL,
				   .vcpus = in->vcpus,
				   .memory_mib = in->memory_mib,
				   .ports = ports,
				   .n_ports = n_ports,
				   .serial_log = log,
				   .server = a->server,
				   .initrd = files[0] ? initrd : NULL,
				   .control_socket = ctl_sock[0] ? ctl_sock : NULL,
				   .extra_cmdline = ctl_sock[0] ? cmdline : NULL};
	pthread_mutex_unlock(&a->lock);
	/* made again for every start: the files may have changed (a new key) */
	if (files[0] && agent_instance_initrd(a, name, err))
		return -1;
	if (e2v_spec_check(&spec, err))
		return -1;
	enum e2v_accel acc = accel_for(a, c, image);
	return e2v_start(c, &spec, acc, a->ready_timeout_ms, err);
}

/* The domains of this server that libvirt knows, with whether each runs. */
struct dom {
	char name[AGENT_NAME_MAX + 1];
	int running; /* 1, 0, or -1 gone */
};

static int list_mine(struct agent *a, struct e2v_conn *c, struct dom **out, size_t *n, struct e2_err *err)
{
	char **names;
	*out = NULL;
	*n = 0;
	int k = e2v_list(c, &names, err);
	if (k < 0)
		return -1;
	struct dom *d = calloc((size_t)k + 1, sizeof(*d));
	for (int j = 0; d && j < k; j++) {
		char server[AGENT_NAME_MAX + 1];
		struct e2_err e;
		if (e2v_server_of(c, names[j], server, sizeof(server), &e) != 1 || strcmp(server, a->server) ||
		    strlen(names[j]) > AGENT_NAME_MAX)
			continue; /* another server's, or gone meanwhile */
		snprintf(d[*n].name, sizeof(d[*n].name), "%s", names[j]);
		d[*n].running = e2v_is_running(c, names[j], &e);
		(*n)++;
	}
	e2v_names_free(names);
	*out = d;
	return d ? 0 : -1;
}

static const struct dom *dom_find(const struct dom *d, size_t n, const char *name)
{
	for (size_t k = 0; k < n; k++)
		if (!strcmp(d[k].name, name))
			return &d[k];
	return NULL;
}

/* Waits for a running domain to say it is ready (after virsh start, or adopted mid-boot). */
static void rejoin(struct agent *a, struct e2v_conn *c, const char *name, const char *why)
{
	char log[PATH_MAX];
	snprintf(log, sizeof(log), "%s/%s.console", a->state_dir, name);
	uint64_t t0 = agent_mono_ms();
	struct e2_err err;
	int rc = e2v_wait_ready(c, name, log, a->ready_timeout_ms, &err);
	pthread_mutex_lock(&a->lock);
	struct agent_inst *i = agent_inst_find(a, name);
	if (i) {
		i->busy = false;
		if (rc == 0)
			agent_set_state(a, i, ST(RUNNING), "%s: ready in %.1f s", why,
					(double)(agent_mono_ms() - t0) / 1000.0);
		else {
			agent_set_state(a, i, ST(FAILED), "%s", err.msg);
			observe(a, name);
		}
	}
	pthread_mutex_unlock(&a->lock);
}

/* One instance that should run: create, replace or adopt it. Lock not held. */
static void reconcile_one(struct agent *a, struct e2v_conn *c, const char *name, const struct dom *d)
{
	if (d && d->running < 0)
		d = NULL; /* undefined since it was listed */
	pthread_mutex_lock(&a->lock);
	struct agent_inst *i = agent_inst_find(a, name);
	if (!i || i->busy) {
		pthread_mutex_unlock(&a->lock);
		return;
	}
	inst_state st = i->state;
	bool stopped = agent_is_stopped(a, name) && !i->start_requested;
	uint64_t now = agent_mono_ms();

	if (d && d->running == 1) {
		if (st == ST(RUNNING)) {
			pthread_mutex_unlock(&a->lock);
			return;
		}
		/* adopted without a record, or started by somebody: ready? */
		/* off in the records but running: somebody started it (the event may not have
		 * been looked at yet) */
		bool started = st == ST(STOPPED) || st == ST(FAILED) ||
			       (st == ST(STARTING) && !strcmp(i->detail, "virsh start"));
		const char *why = started ? "virsh start" : "adopted";
		agent_stopped_set(a, name, false);
		if (st != ST(STARTING))
			agent_set_state(a, i, ST(STARTING), "%s", why);
		i->busy = true;
		i->start_requested = false;
		pthread_mutex_unlock(&a->lock);
		rejoin(a, c, name, why);
		return;
	}
	if (stopped) {
		if (st != ST(STOPPED))
			agent_set_state(a, i, ST(STOPPED), "%s", d ? "stopped by the operator" : "stopped (no domain)");
		pthread_mutex_unlock(&a->lock);
		return;
	}
	if (d && d->running == 0 && st != ST(FAILED)) {
		/* off while the agent was away: the reason decides (shut down: leave it off) */
		bool gone = !observe(a, name);
		i = agent_inst_find(a, name);
		if (gone || !i || i->state == ST(STOPPED) || i->busy) {
			pthread_mutex_unlock(&a->lock);
			return;
		}
		if (i->state != ST(FAILED) && !i->start_requested)
			agent_set_state(a, i, ST(FAILED), "shut off");
		st = i->state;
	}
	if (i->retry_at_ms > now && !i->start_requested) {
		pthread_mutex_unlock(&a->lock);
		return;
	}
	/* create it, or replace it (same name and ports) */
	bool replace = d != NULL;
	uint64_t failed_since = i->since_ns;
	char was[sizeof(i->detail)];
	snprintf(was, sizeof(was), "%s", i->detail);
	i->busy = true;
	i->start_requested = false;
	agent_set_state(a, i, ST(STARTING), replace ? "replacing (%s)" : "creating", was);
	pthread_mutex_unlock(&a->lock);

	struct e2_err err = {""};
	uint64_t t0 = agent_mono_ms();
	int rc = 0;
	if (replace && e2v_remove(c, name, &err))
		rc = -1;
	if (rc == 0)
		rc = create(a, c, name, &err);
	double took = (double)(agent_mono_ms() - t0) / 1000.0;

	pthread_mutex_lock(&a->lock);
	i = agent_inst_find(a, name);
	if (i) {
		i->busy = false;
		if (rc == 0) {
			i->failures = 0;
			i->retry_at_ms = 0;
			if (replace && st == ST(FAILED))
				agent_set_state(a, i, ST(RUNNING),
						"replaced in %.1f s after %s (%.1f s since it failed)", took, was,
						(double)(agent_now_ns() - failed_since) / 1e9);
			else
				agent_set_state(a, i, ST(RUNNING), "started in %.1f s", took);
		} else {
			unsigned delay = RETRY_MIN_MS << (i->failures < 6 ? i->failures : 6);
			if (delay > RETRY_MAX_MS)
				delay = RETRY_MAX_MS;
			i->failures++;
			i->retry_at_ms = agent_mono_ms() + delay;
			agent_set_state(a, i, ST(FAILED), "%s (try %u; again in %u s)", err.msg, i->failures,
					delay / 1000);
		}
	}
	pthread_mutex_unlock(&a->lock);
}

/* 0 when every desired instance is where the spec wants it. */
/* 1 when a spec newer than generation gen came while orphans went (its lines first:
 * see worker_main), else 0 or -1. */
static int reconcile_instances(struct agent *a, uint64_t gen, struct e2_err *err)
{
	pthread_mutex_lock(&a->lock);
	size_t n_want = a->spec ? a->spec->n_instances : 0;
	bool have_records = a->n_inst > 0;
	pthread_mutex_unlock(&a->lock);
	struct e2v_conn *c = agent_virt(a, err);
	if (!c) {
		if (n_want == 0 && !have_records)
			return 0; /* nothing to run and nothing known: libvirt may stay away */
		e2_err_context(err, "libvirt");
		return -1;
	}
	struct dom *doms;
	size_t n_doms;
	if (list_mine(a, c, &doms, &n_doms, err))
		return -1;

	/* orphans: E2 domains of this server the spec does not list */
	for (size_t k = 0; k < n_doms; k++) {
		pthread_mutex_lock(&a->lock);
		bool wanted = agent_spec_instance(a, doms[k].name) != NULL;
		struct agent_inst *i = agent_inst_add(a, doms[k].name);
		if (wanted || !i || i->busy) {
			pthread_mutex_unlock(&a->lock);
			continue;
		}
		i->busy = true;
		uint64_t now_gen = a->spec ? a->spec->generation : 0;
		pthread_mutex_unlock(&a->lock);
		struct e2_err e;
		int rc = e2v_remove(c, doms[k].name, &e);
		pthread_mutex_lock(&a->lock);
		i = agent_inst_find(a, doms[k].name);
		if (i) {
			i->busy = false;
			if (rc == 0) {
				char initrd[PATH_MAX];
				instance_initrd_path(a, doms[k].name, initrd, sizeof(initrd));
				unlink(initrd); /* its keys go with it */
				agent_set_state(a, i, ST(REMOVED), "not in the spec (generation %llu)",
						(unsigned long long)now_gen);
				agent_inst_remove(a, i);
			} else
				E2_ERR("cannot remove %s: %s", doms[k].name, e.msg);
		}
		pthread_mutex_unlock(&a->lock);
	}
	/* records of instances neither desired nor present */
	pthread_mutex_lock(&a->lock);
	for (size_t k = 0; k < a->n_inst;) {
		struct agent_inst *i = &a->inst[k];
		if (!i->desired && !i->busy && !dom_find(doms, n_doms, i->name)) {
			agent_set_state(a, i, ST(REMOVED), "not in the spec");
			agent_inst_remove(a, i);
		} else
			k++;
	}
	/* removing a VM takes a while: a spec that came meanwhile has lines not applied yet */
	if (a->spec && a->spec->generation != gen) {
		pthread_mutex_unlock(&a->lock);
		free(doms);
		return 1;
	}
	struct strv names = {0};
	for (size_t k = 0; a->spec && k < a->spec->n_instances; k++)
		strv_push(&names, a->spec->instances[k]->name);
	pthread_mutex_unlock(&a->lock);

	/* one at a time: at most one VM boots */
	for (size_t k = 0; k < names.n; k++) {
		pthread_mutex_lock(&a->lock);
		bool quit = a->quit;
		pthread_mutex_unlock(&a->lock);
		if (quit)
			break;
		reconcile_one(a, c, names.v[k], dom_find(doms, n_doms, names.v[k]));
	}
	free(doms);

	int rc = 0;
	pthread_mutex_lock(&a->lock);
	for (size_t k = 0; k < names.n; k++) {
		struct agent_inst *i = agent_inst_find(a, names.v[k]);
		if (!i || (i->state != ST(RUNNING) && i->state != ST(STOPPED))) {
			e2_seterr(err, "instance %s is %s%s%s", names.v[k],
				  i ? e2_instance_state_name((int)i->state) : "missing", i && i->detail[0] ? ": " : "",
				  i ? i->detail : "");
			rc = -1;
			break;
		}
	}
	pthread_mutex_unlock(&a->lock);
	strv_free(&names);
	return rc;
}

void *worker_main(void *arg)
{
	struct agent *a = arg;
	pthread_mutex_lock(&a->lock);
	for (;;) {
		if (!a->work && !a->quit) {
			struct timespec ts;
			clock_gettime(CLOCK_REALTIME, &ts);
			ts.tv_sec += IDLE_PASS_MS / 1000;
			pthread_cond_timedwait(&a->cond, &a->lock, &ts);
		}
		if (a->quit)
			break;
		a->work = false;
		if (!a->spec)
			continue;
		uint64_t gen = a->spec->generation;
		a->worker_busy = true;
		pthread_mutex_unlock(&a->lock);

		struct e2_err err = {""};
		/* instances even when the lines wait: orphans go, running VMs are watched */
		int rc = reconcile_lines(a, &err);
		/* a newer spec came meanwhile (here or while orphans went): its lines first, or a
		 * new VM would wait for vhost-user ports its e2d does not have yet (QEMU starts
		 * only once they connect) */
		pthread_mutex_lock(&a->lock);
		bool newer = a->spec && a->spec->generation != gen;
		pthread_mutex_unlock(&a->lock);
		if (newer) {
			pthread_mutex_lock(&a->lock);
			a->worker_busy = false;
			a->work = true;
			continue;
		}
		struct e2_err ierr = {""};
		int irc = reconcile_instances(a, gen, &ierr);
		if (irc == 1) {
			pthread_mutex_lock(&a->lock);
			a->worker_busy = false;
			a->work = true;
			continue;
		}
		if (irc && rc == 0) {
			rc = -1;
			err = ierr;
		}

		pthread_mutex_lock(&a->lock);
		a->worker_busy = false;
		if (rc == 0 && a->spec && a->spec->generation == gen && a->applied_generation != gen) {
			a->applied_generation = gen;
			struct e2_err e;
			if (store_put_applied_generation(a->db, gen, &e))
				E2_ERR("%s", e.msg);
			E2_INFO("generation %llu applied in full", (unsigned long long)gen);
			a->last_error[0] = '\0';
		} else if (rc && strcmp(a->last_error, err.msg)) {
			snprintf(a->last_error, sizeof(a->last_error), "%s", err.msg);
			E2_WARN("generation %llu not applied yet: %s", (unsigned long long)gen, err.msg);
		}
	}
	pthread_mutex_unlock(&a->lock);
	return NULL;
}
