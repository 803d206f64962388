/* SPDX-License-Identifier: BSD-3-Clause */
/* e2-hook: libvirt's QEMU hook (/etc/libvirt/hooks/qemu), called by libvirtd as
 *
 *   qemu DOMAIN OP SUBOP EXTRA        with the domain's XML on stdin
 *
 * For a domain with E2 metadata it tells the server's e2-agent (a HookNotice on the
 * agent's ipc:// hook socket) and returns; every other domain is none of E2's business.
 *
 * libvirtd waits for its hooks and a non-zero exit of `prepare` or `start` aborts the
 * domain's start, so this program never fails a domain: whatever goes wrong (no agent,
 * an agent that does not answer, bad XML) is logged and the exit status is 0. It never
 * calls libvirt (libvirt documents that a hook calling back deadlocks) and bounds every
 * step, about a second in all. libvirt runs hooks with a scrubbed environment, so the
 * defaults are what a deployment uses; the variables are for tests:
 *
 *   E2_RUN_DIR         where agents' hook sockets are (/run/e2): agent-SERVER.hook
 *   E2_HOOK_TIMEOUT_MS the agent's answer (800, 1..1000)
 *   E2_HOOK_LOG        the log file (/run/e2/e2-hook.log; "-" for stderr) */
#include <errno.h>
#include <fcntl.h>
#include <poll.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <signal.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/un.h>
#include <time.h>
#include <unistd.h>

#include "e2/chan.h"
#include "e2/num.h"
#include "e2ctl.pb-c.h"
#include "e2virt.h"

#define XML_MAX (4u << 20)    /* read at most this much of stdin; the rest is drained */
#define STDIN_DEADLINE_MS 500 /* libvirt writes the XML at once; never wait longer */
#define LOG_ROTATE (1u << 20) /* the log is moved to .1 beyond this */
#define NAME_MAX_LEN 64

static FILE *log_file;

static void say(const char *fmt, ...) __attribute__((format(printf, 1, 2)));
static void say(const char *fmt, ...)
{
	if (!log_file)
		return;
	struct timespec ts;
	clock_gettime(CLOCK_REALTIME, &ts);
	struct tm tm;
	gmtime_r(&ts.tv_sec, &tm);
	char when[32];
	strftime(when, sizeof when, "%Y-%m-%dT%H:%M:%S", &tm);
	fprintf(log_file, "%s.%03ldZ|e2-hook[%ld]|", when, ts.tv_nsec / 1000000, (long)getpid());
	va_list ap;
	va_start(ap, fmt);
	vfprintf(log_file, fmt, ap);
	va_end(ap);
	fputc('\n', log_file);
	fflush(log_file);
}

static void open_log(void)
{
	const char *path = getenv("E2_HOOK_LOG");
	if (!path)
		path = "/run/e2/e2-hook.log";
	if (strcmp(path, "-") == 0) {
		log_file = stderr;
		return;
	}
	struct stat sb;
	if (stat(path, &sb) == 0 && sb.st_size > (off_t)LOG_ROTATE) {
		char old[4096];
		snprintf(old, sizeof old, "%s.1", path);
		rename(path, old);
	}
	int fd = open(path, O_WRONLY | O_CREAT | O_APPEND | O_CLOEXEC, 0600);
	log_file = fd >= 0 ? fdopen(fd, "a") : NULL;
	if (!log_file)
		log_file = stderr; /* libvirt keeps a hook's stderr in its own log */
}

static long long ms_now(void)
{
	struct timespec ts;
	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (long long)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

/* All of stdin up to XML_MAX bytes (the rest is read and dropped, so libvirt's write
 * never fails), within STDIN_DEADLINE_MS. */
static char *read_stdin(size_t *len, bool *cut)
{
	size_t cap = 64 * 1024, n = 0;
	char *buf = malloc(cap + 1);
	*cut = false;
	if (!buf)
		return NULL;
	long long end = ms_now() + STDIN_DEADLINE_MS;
	int fl = fcntl(0, F_GETFL);
	if (fl >= 0)
		fcntl(0, F_SETFL, fl | O_NONBLOCK);
	for (;;) {
		long long left = end - ms_now();
		if (left <= 0) {
			*cut = true;
			break;
		}
		struct pollfd p = {.fd = 0, .events = POLLIN};
		if (poll(&p, 1, (int)left) <= 0)
			continue;
		char sink[65536];
		char *dst = n < XML_MAX ? buf + n : sink;
		size_t room = n < XML_MAX ? cap - n : sizeof sink;
		ssize_t r = read(0, dst, room);
		if (r == 0)
			break;
		if (r < 0) {
			if (errno == EAGAIN || errno == EINTR)
				continue;
			break;
		}
		if (n >= XML_MAX) {
			*cut = true;
			continue;
		}
		n += (size_t)r;
		if (n == cap && cap < XML_MAX) {
			cap = cap * 2 > XML_MAX ? XML_MAX : cap * 2;
			char *bigger = realloc(buf, cap + 1);
			if (!bigger)
				break;
			buf = bigger;
		}
	}
	buf[n] = 0;
	*len = n;
	return buf;
}

/* The last resort if some step hangs anyway: libvirt must get its answer. */
static void on_alarm(int sig)
{
	(void)sig;
	_exit(0);
}

/* Whether anything listens on the unix socket: a stale socket file (an agent that died)
 * refuses at once, where a nanomsg connect would retry until the deadline. */
static bool listening(const char *path)
{
	struct sockaddr_un a = {.sun_family = AF_UNIX};
	if (strlen(path) >= sizeof a.sun_path)
		return true; /* let nanomsg say what is wrong */
	memcpy(a.sun_path, path, strlen(path) + 1);
	int fd = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0);
	if (fd < 0)
		return true;
	bool ok = connect(fd, (struct sockaddr *)&a, sizeof a) == 0 || errno != ECONNREFUSED;
	close(fd);
	return ok;
}

static bool name_ok(const char *s)
{
	if (!*s)
		return false;
	for (; *s; s++)
		if (!((*s >= 'a' && *s <= 'z') || (*s >= 'A' && *s <= 'Z') || (*s >= '0' && *s <= '9') || *s == '-' ||
		      *s == '_' || *s == '.'))
			return false;
	return true;
}

int main(int argc, char **argv)
{
	if (argc == 2 && strcmp(argv[1], "--version") == 0) {
		printf("e2-hook 1\n"); /* how `libvirt-hooks/install` recognises its own hook */
		return 0;
	}
	if (argc != 5) {
		fprintf(stderr, "usage: qemu DOMAIN OP SUBOP EXTRA < DOMAIN.xml\n"
				"  libvirt's QEMU hook for E2 (libvirt-hooks/README.md); libvirtd calls it\n");
		return 2;
	}
	long long t0 = ms_now();
	signal(SIGALRM, on_alarm);
	alarm(2); /* stdin (0.5 s) and the agent (at most 5 s, 0.8 s by default) are bounded too */
	open_log();
	const char *domain = argv[1], *op = argv[2], *subop = argv[3], *extra = argv[4];
	size_t len = 0;
	bool cut = false;
	char *xml = read_stdin(&len, &cut);
	char instance[NAME_MAX_LEN + 1] = "", server[NAME_MAX_LEN + 1] = "";
	struct e2_err err = {""};
	int is_e2 =
		xml && !cut ? e2v_metadata_parse(xml, len, instance, sizeof instance, server, sizeof server, &err) : -1;
	free(xml);
	if (is_e2 == 0)
		return 0; /* not ours: nothing logged, nothing waited for */
	if (is_e2 < 0) {
		/* an E2 domain cannot be told from this XML; no agent to tell either way */
		say("%s %s %s: domain XML unusable (%s)", domain, op, subop,
		    cut ? "more than 4 MiB, or not all of it within 0.5 s" : err.msg);
		return 0;
	}
	if (server[0] && !name_ok(server)) {
		say("%s %s %s: server name '%s' in the metadata is not a name", domain, op, subop, server);
		return 0;
	}

	int timeout_ms = 800;
	const char *t = getenv("E2_HOOK_TIMEOUT_MS");
	if (t && e2_num_int("E2_HOOK_TIMEOUT_MS", t, 1, 1000, &timeout_ms, &err) < 0) {
		say("%s; using 800 ms", err.msg);
		timeout_ms = 800;
	}
	const char *run = getenv("E2_RUN_DIR");
	char path[4096], url[4200];
	snprintf(path, sizeof path, "%s/agent%s%s.hook", run && *run ? run : "/run/e2", server[0] ? "-" : "", server);
	snprintf(url, sizeof url, "ipc://%s", path);
	if (access(path, F_OK) != 0) {
		say("%s %s %s: no agent at %s (%s); nothing told", domain, op, subop, path, strerror(errno));
		return 0;
	}
	if (!listening(path)) {
		say("%s %s %s: no agent listens at %s (a stale socket); nothing told", domain, op, subop, path);
		return 0;
	}

	E2__Ctl__HookNotice n = E2__CTL__HOOK_NOTICE__INIT;
	n.version = E2__CTL__VERSION__VERSION_CURRENT;
	n.domain = (char *)domain;
	n.op = (char *)op;
	n.subop = (char *)subop;
	n.extra = (char *)extra;
	n.instance = instance;
	n.server = server;
	uint8_t buf[4096 + 5 * 4096];
	size_t blen = e2__ctl__hook_notice__get_packed_size(&n);
	if (blen > sizeof buf) {
		say("%s %s %s: arguments too long to tell", domain, op, subop);
		return 0;
	}
	e2__ctl__hook_notice__pack(&n, buf);
	/* one sender per process: hooks of different domains may run side by side, and an
	 * agent remembers each sender's newest boot */
	char sender[E2_CHAN_SENDER_MAX + 1];
	snprintf(sender, sizeof sender, "hook:%.32s:%ld", server[0] ? server : "local", (long)getpid());
	struct e2_chan *c = e2_chan_new(E2_CHAN_REQ, sender, NULL, &err);
	void *reply = NULL;
	size_t reply_len = 0;
	int rc = -1;
	if (c && e2_chan_connect(c, url, &err) == 0)
		rc = e2_chan_call(c, buf, blen, &reply, &reply_len, timeout_ms, &err);
	e2_chan_close(c);
	E2__Ctl__AgentResponse *r = rc == 0 ? e2__ctl__agent_response__unpack(NULL, reply_len, reply) : NULL;
	free(reply);
	if (rc < 0)
		say("%s %s %s %s: agent at %s did not take it: %s (%lld ms)", domain, op, subop, extra, path, err.msg,
		    ms_now() - t0);
	else if (!r || r->code)
		say("%s %s %s %s: agent refused it: %s", domain, op, subop, extra, r ? r->error : "bad answer");
	else
		say("%s %s %s %s: told the agent of %s (%lld ms)", domain, op, subop, extra,
		    server[0] ? server : "this host", ms_now() - t0);
	e2__ctl__agent_response__free_unpacked(r, NULL);
	return 0;
}
