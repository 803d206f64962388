/* SPDX-License-Identifier: BSD-3-Clause */
/* The e2d process: started in a session of its own (the agent's death must not take
 * it along), watched through a pidfd (which works for an adopted e2d too), restarted
 * with the same lines when it dies (with a back-off when it keeps dying), restarted with
 * new lines when the spec's lines are no continuation of the running ones. */
#include "agent.h"

#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <nanomsg/nn.h>
#include <nanomsg/reqrep.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/syscall.h>
#include <sys/wait.h>
#include <unistd.h>

#include "e2/cmd.h"
#include "e2/file.h"
#include "e2/log.h"

E2_LOG_MODULE(e2d_sup);

#define START_TIMEOUT_MS 60000u /* EAL start-up and the configuration, on a busy machine */
#define STOP_TIMEOUT_MS 10000u  /* after SIGTERM, before SIGKILL */
#define STABLE_MS 10000u        /* an e2d that lived this long resets the back-off */
#define BACKOFF_MAX_MS 30000u

static int pidfd_of(pid_t pid)
{
	return (int)syscall(SYS_pidfd_open, pid, 0);
}

/* Field 22 of /proc/PID/stat: when the process started, in clock ticks after boot. */
static uint64_t start_ticks_of(pid_t pid)
{
	char path[64], buf[1024];
	snprintf(path, sizeof(path), "/proc/%d/stat", (int)pid);
	FILE *f = fopen(path, "re");
	if (!f)
		return 0;
	size_t n = fread(buf, 1, sizeof(buf) - 1, f);
	fclose(f);
	buf[n] = '\0';
	char *p = strrchr(buf, ')'); /* the name may hold spaces and parentheses */
	if (!p)
		return 0;
	/* after ") " comes field 3 (state); starttime is field 22 */
	char *save = NULL, *word = strtok_r(p + 1, " ", &save);
	for (int field = 3; word && field < 22; field++)
		word = strtok_r(NULL, " ", &save);
	return word ? strtoull(word, NULL, 10) : 0;
}

/* Is /proc/PID/exe our e2d binary? A rebuilt binary shows as "PATH (deleted)": the
 * running e2d is still ours (an upgrade must not restart the dataplane). */
static bool runs_binary(pid_t pid, const char *binary)
{
	char link[64], exe[PATH_MAX], want[PATH_MAX];
	snprintf(link, sizeof(link), "/proc/%d/exe", (int)pid);
	ssize_t n = readlink(link, exe, sizeof(exe) - 1);
	if (n < 0 || !realpath(binary, want))
		return false;
	exe[n] = '\0';
	size_t w = strlen(want);
	return !strncmp(exe, want, w) && (exe[w] == '\0' || !strcmp(exe + w, " (deleted)"));
}

static int ctl_socket(const char *ctl_path, int timeout_ms)
{
	char url[2200];
	int s = nn_socket(AF_SP, NN_REQ);
	if (s < 0)
		return -1;
	nn_setsockopt(s, NN_SOL_SOCKET, NN_SNDTIMEO, &timeout_ms, sizeof(timeout_ms));
	nn_setsockopt(s, NN_SOL_SOCKET, NN_RCVTIMEO, &timeout_ms, sizeof(timeout_ms));
	snprintf(url, sizeof(url), "ipc://%s", ctl_path);
	if (nn_connect(s, url) < 0) {
		nn_close(s);
		return -1;
	}
	return s;
}

static int call(const char *ctl_path, const E2__Dp__Request *req, int timeout_ms, struct e2_err *err)
{
	struct stat st;
	if (stat(ctl_path, &st) || !S_ISSOCK(st.st_mode)) {
		e2_seterr(err, "e2d has no control socket at %s", ctl_path);
		return -1;
	}
	int s = ctl_socket(ctl_path, timeout_ms);
	if (s < 0) {
		e2_seterr(err, "cannot connect to e2d at %s: %s", ctl_path, nn_strerror(nn_errno()));
		return -1;
	}
	size_t len = e2__dp__request__get_packed_size(req);
	uint8_t *buf = malloc(len ? len : 1);
	int rc = -1;
	void *reply = NULL;
	if (!buf) {
		e2_seterr(err, "out of memory");
		goto out;
	}
	e2__dp__request__pack(req, buf);
	if (nn_send(s, buf, len, 0) < 0) {
		e2_seterr(err, "e2d takes no requests: %s", nn_strerror(nn_errno()));
		goto out;
	}
	int n = nn_recv(s, &reply, NN_MSG, 0);
	if (n < 0) {
		e2_seterr(err, "no answer from e2d within %d ms: %s", timeout_ms, nn_strerror(nn_errno()));
		goto out;
	}
	E2__Dp__Response *resp = e2__dp__response__unpack(NULL, (size_t)n, reply);
	if (!resp)
		e2_seterr(err, "e2d sent a malformed reply");
	else if (resp->code) {
		e2_seterr(err, "e2d refused it: %s", resp->error);
		rc = 1;
	} else
		rc = 0;
	if (resp)
		e2__dp__response__free_unpacked(resp, NULL);
out:
	if (reply)
		nn_freemsg(reply);
	free(buf);
	nn_close(s);
	return rc;
}

int e2d_command(const char *ctl_path, const char *line, int timeout_ms, struct e2_err *err)
{
	char msg[1024];
	E2__Dp__Request *req = e2_cmd_parse(line, msg, sizeof(msg));
	if (!req) {
		if (!msg[0])
			return 0; /* blank or comment */
		e2_seterr(err, "'%s': %s", line, msg);
		return E2D_REFUSED;
	}
	int rc = call(ctl_path, req, timeout_ms, err);
	e2__dp__request__free_unpacked(req, NULL);
	if (rc)
		e2_err_context(err, "'%s'", line);
	return rc > 0 ? E2D_REFUSED : rc;
}

int e2d_ping(const char *ctl_path, int timeout_ms)
{
	struct e2_err err;
	return e2d_command(ctl_path, "ping", timeout_ms, &err);
}

bool e2d_is_up(const struct agent *a)
{
	return a->sup.phase == E2D_UP;
}

static void set_phase(struct agent *a, enum e2d_phase p)
{
	a->sup.phase = p;
	a->sup.phase_ms = agent_mono_ms();
}

static void save(struct agent *a)
{
	struct store_e2d row = {.pid = a->sup.phase == E2D_DOWN || a->sup.phase == E2D_BACKOFF ? 0 : a->sup.pid,
				.start_ticks = a->sup.start_ticks,
				.restarts = a->sup.restarts};
	struct e2_err err;
	if (store_put_e2d(a->db, &row, &err))
		E2_ERR("%s", err.msg);
}

static void forget(struct agent *a)
{
	if (a->sup.pidfd >= 0)
		close(a->sup.pidfd);
	a->sup.pidfd = -1;
	a->sup.pid = 0;
	a->sup.child = false;
}

/* fork + exec: a session of its own, output to STATE/e2d.log, no inherited fds. */
static void spawn(struct agent *a)
{
	char prefix[96];
	snprintf(prefix, sizeof(prefix), "e2a-%s", a->server);
	const char *argv[64];
	size_t n = 0;
	argv[n++] = a->e2d_path;
	argv[n++] = "--ctl";
	argv[n++] = a->ctl_path;
	argv[n++] = "--config";
	argv[n++] = a->conf_path;
	argv[n++] = "--file-prefix";
	argv[n++] = prefix;
	argv[n++] = "--pidfile"; /* for operators and scripts; the agent has the pidfd */
	argv[n++] = a->e2d_pidfile;
	for (size_t k = 0; k < a->e2d_args.n && n < 63; k++)
		argv[n++] = a->e2d_args.v[k];
	argv[n] = NULL;

	unlink(a->ctl_path); /* a dead e2d's socket must not look like a live one */
	int log = open(a->log_path, O_WRONLY | O_CREAT | O_APPEND | O_CLOEXEC, 0600);
	pid_t pid = fork();
	if (pid == 0) {
		setsid();
		int null = open("/dev/null", O_RDONLY);
		dup2(null, 0);
		if (log >= 0) {
			dup2(log, 1);
			dup2(log, 2);
		}
		sigset_t none;
		sigemptyset(&none);
		sigprocmask(SIG_SETMASK, &none, NULL);
		signal(SIGPIPE, SIG_DFL);
		signal(SIGTERM, SIG_DFL);
		signal(SIGINT, SIG_DFL);
		for (int fd = 3; fd < 1024; fd++)
			close(fd);
		execv(a->e2d_path, (char *const *)argv);
		fprintf(stderr, "e2-agent: cannot run %s: %s\n", a->e2d_path, strerror(errno));
		_exit(127);
	}
	if (log >= 0)
		close(log);
	if (pid < 0) {
		E2_ERR("cannot fork for e2d: %s", strerror(errno));
		a->sup.restart_at_ms = agent_mono_ms() + 1000;
		set_phase(a, E2D_BACKOFF);
		return;
	}
	a->sup.pid = pid;
	a->sup.child = true;
	a->sup.pidfd = pidfd_of(pid);
	a->sup.start_ticks = start_ticks_of(pid);
	a->sup.started_ms = agent_mono_ms();
	set_phase(a, E2D_STARTING);
	save(a);
	E2_INFO("e2d started (pid %d, %zu lines)", (int)pid, a->lines.n);
}

void e2d_init(struct agent *a)
{
	struct store_e2d row;
	struct e2_err err;
	a->sup.pidfd = -1;
	if (store_get_e2d(a->db, &row, &err))
		E2_ERR("%s", err.msg);
	a->sup.restarts = row.restarts;
	pid_t pid = (pid_t)row.pid;
	if (pid > 0 && kill(pid, 0) == 0 && start_ticks_of(pid) == row.start_ticks && runs_binary(pid, a->e2d_path)) {
		if (e2d_ping(a->ctl_path, 2000) == 0) {
			a->sup.pid = pid;
			a->sup.pidfd = pidfd_of(pid);
			a->sup.start_ticks = row.start_ticks;
			a->sup.started_ms = agent_mono_ms();
			set_phase(a, E2D_UP);
			E2_INFO("adopted the running e2d (pid %d, %zu lines)", (int)pid, a->lines.n);
			return;
		}
		/* ours, but deaf: a new one must take its socket */
		E2_WARN("e2d (pid %d) does not answer on %s: killing it", (int)pid, a->ctl_path);
		kill(pid, SIGKILL);
		for (int k = 0; k < 100 && kill(pid, 0) == 0; k++)
			usleep(50000);
	} else if (pid > 0)
		E2_INFO("the recorded e2d (pid %d) is gone: starting one", (int)pid);
	if (agent_write_conf(a, &a->lines, &err))
		E2_ERR("%s", err.msg);
	spawn(a);
}

static void finish_request(struct agent *a, int rc, const char *why)
{
	a->sup.req_active = false;
	a->sup.req_rc = rc;
	snprintf(a->sup.req_err, sizeof(a->sup.req_err), "%s", why ? why : "");
	a->sup.done_seq = a->sup.req_seq;
	pthread_cond_broadcast(&a->cond);
}

/* The last lines of e2d.log, for an error message. */
static void log_tail(const struct agent *a, char *out, size_t len)
{
	size_t n;
	struct e2_err err;
	char *text = e2_read_file_tail(a->log_path, 4096, &n, &err);
	out[0] = '\0';
	if (!text)
		return;
	while (n && text[n - 1] == '\n')
		text[--n] = '\0';
	char *p = text + n;
	for (int lines = 0; p > text && lines < 3; p--)
		if (p[-1] == '\n')
			lines++;
	snprintf(out, len, "%s", *p == '\n' ? p + 1 : p);
	for (char *q = out; *q; q++)
		if (*q == '\n')
			*q = '|';
	free(text);
}

void e2d_on_exit(struct agent *a)
{
	int status = 0;
	if (a->sup.child && waitpid(a->sup.pid, &status, WNOHANG) <= 0)
		status = -1;
	char how[64];
	if (status == -1 || !a->sup.child)
		snprintf(how, sizeof(how), "exited");
	else if (WIFSIGNALED(status))
		snprintf(how, sizeof(how), "was killed by signal %d", WTERMSIG(status));
	else
		snprintf(how, sizeof(how), "exited with status %d", WEXITSTATUS(status));
	pid_t pid = a->sup.pid;
	enum e2d_phase was = a->sup.phase;
	forget(a);
	struct e2_err err;

	if (was == E2D_STOPPING) { /* asked to: start it on the requested lines */
		E2_INFO("e2d (pid %d) stopped for new lines", (int)pid);
		strv_free(&a->lines);
		for (size_t k = 0; k < a->sup.req_lines.n; k++)
			strv_push(&a->lines, a->sup.req_lines.v[k]);
		if (agent_write_conf(a, &a->lines, &err))
			E2_ERR("%s", err.msg);
		a->sup.after_crash = false;
		spawn(a);
		return;
	}
	if (was == E2D_STARTING && a->sup.req_active) {
		/* it refused the new lines: back to the ones it had */
		char tail[600];
		log_tail(a, tail, sizeof(tail));
		E2_ERR("e2d %s at start with the new lines: %s; going back to the previous lines", how, tail);
		struct strv old = {0};
		if (store_get_lines(a->db, &old, &err) == 0) {
			strv_free(&a->lines);
			a->lines = old;
		}
		if (agent_write_conf(a, &a->lines, &err))
			E2_ERR("%s", err.msg);
		char why[900];
		snprintf(why, sizeof(why), "e2d %s with the new lines: %s", how, tail);
		finish_request(a, -1, why);
		spawn(a);
		return;
	}
	/* it died on its own */
	uint64_t lived = agent_mono_ms() - a->sup.started_ms;
	a->sup.restarts++;
	if (lived >= STABLE_MS)
		a->sup.backoff_ms = 0;
	else
		a->sup.backoff_ms = a->sup.backoff_ms ? a->sup.backoff_ms * 2 : 500;
	if (a->sup.backoff_ms > BACKOFF_MAX_MS)
		a->sup.backoff_ms = BACKOFF_MAX_MS;
	char tail[600];
	log_tail(a, tail, sizeof(tail));
	E2_WARN("e2d (pid %d) %s after %.1f s (restart %u, in %u ms); its log ends: %s", (int)pid, how,
		(double)lived / 1000.0, a->sup.restarts, a->sup.backoff_ms, tail);
	a->sup.after_crash = true;
	a->sup.restart_at_ms = agent_mono_ms() + a->sup.backoff_ms;
	set_phase(a, E2D_BACKOFF);
	save(a);
	if (a->sup.backoff_ms == 0)
		e2d_tick(a);
}

void e2d_tick(struct agent *a)
{
	uint64_t now = agent_mono_ms();
	struct e2_err err;
	/* a restart with new lines, asked for by the worker */
	if (a->sup.req_seq != a->sup.done_seq && !a->sup.req_active) {
		a->sup.req_active = true;
		switch (a->sup.phase) {
		case E2D_UP:
		case E2D_STARTING:
			E2_INFO("stopping e2d (pid %d) to start it with new lines", (int)a->sup.pid);
			kill(a->sup.pid, SIGTERM);
			set_phase(a, E2D_STOPPING);
			break;
		case E2D_DOWN:
		case E2D_BACKOFF:
			strv_free(&a->lines);
			for (size_t k = 0; k < a->sup.req_lines.n; k++)
				strv_push(&a->lines, a->sup.req_lines.v[k]);
			if (agent_write_conf(a, &a->lines, &err))
				E2_ERR("%s", err.msg);
			a->sup.after_crash = false;
			spawn(a);
			break;
		case E2D_STOPPING: break;
		}
	}
	switch (a->sup.phase) {
	case E2D_BACKOFF:
		if (now >= a->sup.restart_at_ms) {
			if (agent_write_conf(a, &a->lines, &err))
				E2_ERR("%s", err.msg);
			spawn(a);
		}
		break;
	case E2D_STOPPING:
		if (now - a->sup.phase_ms > STOP_TIMEOUT_MS && a->sup.pid > 0) {
			E2_WARN("e2d (pid %d) did not stop within %u ms: SIGKILL", (int)a->sup.pid, STOP_TIMEOUT_MS);
			kill(a->sup.pid, SIGKILL);
			a->sup.phase_ms = now;
		}
		break;
	case E2D_STARTING: {
		struct stat st;
		if (stat(a->ctl_path, &st) == 0 && S_ISSOCK(st.st_mode)) {
			/* the socket appears once the configuration is in: a ping is quick */
			pthread_mutex_unlock(&a->lock);
			int rc = e2d_ping(a->ctl_path, 1000);
			pthread_mutex_lock(&a->lock);
			if (a->sup.phase != E2D_STARTING)
				break;
			if (rc == 0) {
				set_phase(a, E2D_UP);
				E2_INFO("e2d up (pid %d) in %.1f s with %zu lines", (int)a->sup.pid,
					(double)(agent_mono_ms() - a->sup.started_ms) / 1000.0, a->lines.n);
				if (store_put_lines(a->db, &a->lines, &err))
					E2_ERR("%s", err.msg);
				if (a->sup.req_active)
					finish_request(a, 0, NULL);
				if (a->sup.after_crash) {
					a->sup.after_crash = false;
					agent_publish_report(a, E2__CTL__AGENT_EVENT_KIND__AGENT_E2D_RESTARTED);
				}
				agent_kick(a); /* ports may be back: let the worker look */
				break;
			}
		}
		if (now - a->sup.phase_ms > START_TIMEOUT_MS) {
			E2_ERR("e2d (pid %d) not up within %u ms: SIGKILL", (int)a->sup.pid, START_TIMEOUT_MS);
			kill(a->sup.pid, SIGKILL);
			a->sup.phase_ms = now;
		}
		break;
	}
	case E2D_UP:
	case E2D_DOWN: break;
	}
}

int e2d_restart_with(struct agent *a, const struct strv *lines, struct e2_err *err)
{
	pthread_mutex_lock(&a->lock);
	strv_free(&a->sup.req_lines);
	for (size_t k = 0; k < lines->n; k++)
		strv_push(&a->sup.req_lines, lines->v[k]);
	uint64_t seq = ++a->sup.req_seq;
	agent_wake(a);
	while (a->sup.done_seq < seq && !a->quit)
		pthread_cond_wait(&a->cond, &a->lock);
	int rc = a->quit ? -1 : a->sup.req_rc;
	if (rc)
		e2_seterr(err, "%s", a->quit ? "the agent is stopping" : a->sup.req_err);
	pthread_mutex_unlock(&a->lock);
	return rc;
}
