/* SPDX-License-Identifier: BSD-3-Clause */
/* e2-vport-relay: inside an NF VM, joins a virtio-serial port (a libvirt <channel>, whose
 * host end is a unix socket) to the NF's own control socket (a unix stream socket: nanomsg
 * ipc://), so that an operator on the host drives the NF as if it ran there:
 * `embark-gwctl --ctl ipc://HOST.sock status`.
 *
 *   e2-vport-relay PORT-NAME SOCKET-PATH
 *
 * One host client is one connection to SOCKET-PATH: the relay connects when the host
 * client's nanomsg greeting arrives and closes when the host hangs up (the port then polls
 * POLLHUP) or when the next client's greeting comes first (sp_follow.h says why), so
 * every host client starts with a fresh nanomsg handshake. Messages pass unchanged; the
 * NF's own checks (and its channel key, if any) apply. */
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <poll.h>
#include <signal.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/un.h>
#include <time.h>
#include <unistd.h>

#include "sp_follow.h"

static void nap_ms(long ms)
{
	struct timespec ts = {ms / 1000, (ms % 1000) * 1000000L};
	nanosleep(&ts, NULL);
}

/* /dev/vportNpM of the port named `name` (the kernel's /sys/class/virtio-ports/.../name). */
static bool find_port(const char *name, char *dev, size_t len)
{
	DIR *d = opendir("/sys/class/virtio-ports");
	if (!d)
		return false;
	bool found = false;
	for (struct dirent *e; !found && (e = readdir(d));) {
		if (e->d_name[0] == '.')
			continue;
		char path[512], got[256] = "";
		snprintf(path, sizeof(path), "/sys/class/virtio-ports/%s/name", e->d_name);
		FILE *f = fopen(path, "r");
		if (!f)
			continue;
		if (fgets(got, sizeof(got), f))
			got[strcspn(got, "\n")] = '\0';
		fclose(f);
		if (!strcmp(got, name)) {
			snprintf(dev, len, "/dev/%s", e->d_name);
			found = true;
		}
	}
	closedir(d);
	return found;
}

static int connect_nf(const char *path)
{
	struct sockaddr_un a = {.sun_family = AF_UNIX};
	snprintf(a.sun_path, sizeof(a.sun_path), "%s", path);
	for (int tries = 0; tries < 50; tries++) { /* the NF may still be starting */
		int s = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0);
		if (s < 0)
			return -1;
		if (connect(s, (struct sockaddr *)&a, sizeof(a)) == 0)
			return s;
		close(s);
		nap_ms(100);
	}
	return -1;
}

static bool write_all(int fd, const char *b, size_t n)
{
	while (n) {
		ssize_t w = write(fd, b, n);
		if (w < 0 && errno == EINTR)
			continue;
		if (w <= 0)
			return false;
		b += w;
		n -= (size_t)w;
	}
	return true;
}

/* The NF connection of the current host client, and how its bytes are followed. */
struct relay {
	const char *nf_path;
	int nf; /* -1: none (not yet connected, or the NF hung up) */
	struct sp_follow follow;
};

static void close_nf(struct relay *r)
{
	if (r->nf >= 0)
		close(r->nf);
	r->nf = -1;
}

static void on_host_bytes(void *ctx, enum sp_event ev, const uint8_t *data, size_t n)
{
	struct relay *r = ctx;
	switch (ev) {
	case SP_NEW_CLIENT:
		if (r->nf >= 0) /* the guest did not see the last client hang up */
			fprintf(stderr, "e2-vport-relay: a new host client without a hang-up: new NF connection\n");
		close_nf(r);
		r->nf = connect_nf(r->nf_path);
		if (r->nf < 0)
			fprintf(stderr, "e2-vport-relay: cannot connect to %s: %s\n", r->nf_path, strerror(errno));
		break;
	case SP_PASS:
		if (r->nf >= 0 && !write_all(r->nf, (const char *)data, n))
			close_nf(r); /* the NF went away: the rest of this client's bytes are dropped */
		break;
	case SP_BAD:
		fprintf(stderr, "e2-vport-relay: host client refused: %s\n", (const char *)data);
		close_nf(r);
		break;
	}
}

/* With no host client the port polls POLLHUP at once, so poll() cannot wait for one; the
 * driver raises SIGIO when the host end connects (O_ASYNC), which we take blocked, with
 * sigtimedwait. The second's timeout only bounds a missed signal. */
static void wait_for_host(const sigset_t *sigio)
{
	const struct timespec second = {1, 0};
	(void)sigtimedwait(sigio, NULL, &second);
}

int main(int argc, char **argv)
{
	static const char usage[] = "usage: e2-vport-relay PORT-NAME SOCKET-PATH\n";
	if (argc == 2 && (!strcmp(argv[1], "--help") || !strcmp(argv[1], "-h"))) {
		fputs(usage, stdout);
		return 0;
	}
	if (argc != 3) {
		fputs(usage, stderr);
		return 2;
	}
	char dev[300];
	for (int tries = 0; !find_port(argv[1], dev, sizeof(dev)); tries++) {
		if (tries == 100) {
			fprintf(stderr, "e2-vport-relay: no virtio-serial port named %s\n", argv[1]);
			return 1;
		}
		nap_ms(100);
	}
	int port = open(dev, O_RDWR | O_CLOEXEC);
	if (port < 0) {
		fprintf(stderr, "e2-vport-relay: %s: %s\n", dev, strerror(errno));
		return 1;
	}
	fprintf(stderr, "e2-vport-relay: %s (%s) <-> %s\n", argv[1], dev, argv[2]);
	sigset_t sigio;
	sigemptyset(&sigio);
	sigaddset(&sigio, SIGIO);
	sigprocmask(SIG_BLOCK, &sigio, NULL);
	int fl = fcntl(port, F_GETFL);
	if (fcntl(port, F_SETOWN, getpid()) != 0 || fl < 0 || fcntl(port, F_SETFL, fl | O_ASYNC) != 0)
		fprintf(stderr, "e2-vport-relay: no SIGIO from %s (%s): checking for a host client every second\n", dev,
			strerror(errno));
	struct relay r = {.nf_path = argv[2], .nf = -1};
	sp_follow_init(&r.follow);
	for (;;) {
		struct pollfd q[2] = {{.fd = port, .events = POLLIN}, {.fd = r.nf, .events = POLLIN}};
		if (poll(q, r.nf >= 0 ? 2 : 1, -1) < 0) {
			if (errno == EINTR)
				continue;
			return 1;
		}
		if (q[0].revents & POLLIN) {
			uint8_t buf[16384];
			ssize_t n = read(port, buf, sizeof(buf));
			if (n > 0)
				sp_follow_feed(&r.follow, buf, (size_t)n, on_host_bytes, &r);
		} else if (q[0].revents & (POLLHUP | POLLERR)) {
			/* no host client (any more): the next one starts from a greeting */
			close_nf(&r);
			sp_follow_init(&r.follow);
			wait_for_host(&sigio);
			continue;
		}
		if (r.nf >= 0 && (q[1].revents & (POLLIN | POLLHUP | POLLERR))) {
			char buf[16384];
			ssize_t n = read(r.nf, buf, sizeof(buf));
			if (n < 0 && (errno == EINTR || errno == EAGAIN))
				continue;
			if (n <= 0 || !write_all(port, buf, (size_t)n))
				close_nf(&r); /* the NF hung up: what the client still sends is dropped */
		}
	}
}
