/* SPDX-License-Identifier: BSD-3-Clause */
/* e2-vport-relay: inside an NF VM, joins a virtio-serial port (a libvirt <channel>, whose
 * host end is a unix socket) to the NF's own control socket (a unix stream socket: nanomsg
 * ipc://), so that an operator on the host drives the NF as if it ran there:
 * `embark-gwctl --ctl ipc://HOST.sock status`.
 *
 *   e2-vport-relay PORT-NAME SOCKET-PATH
 *
 * One host connection is one connection to SOCKET-PATH: the relay connects when the host
 * sends its first bytes and closes when the host hangs up (the port then polls POLLHUP),
 * so every host client starts with a fresh nanomsg handshake. Bytes pass unchanged; the
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

/* Copies one chunk from `from` to `to`: false at EOF or on an error. */
static bool pass(int from, int to)
{
	char buf[16384];
	ssize_t n = read(from, buf, sizeof(buf));
	if (n < 0 && (errno == EINTR || errno == EAGAIN))
		return true;
	return n > 0 && write_all(to, buf, (size_t)n);
}

int main(int argc, char **argv)
{
	if (argc != 3) {
		fprintf(stderr, "usage: e2-vport-relay PORT-NAME SOCKET-PATH\n");
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
	/* With no host client the port polls POLLHUP at once, so poll() cannot wait for one;
	 * the driver raises SIGIO when the host end connects (O_ASYNC), which we take blocked,
	 * with sigtimedwait. The second's timeout only bounds a missed signal. */
	sigset_t sigio;
	sigemptyset(&sigio);
	sigaddset(&sigio, SIGIO);
	sigprocmask(SIG_BLOCK, &sigio, NULL);
	int fl = fcntl(port, F_GETFL);
	if (fcntl(port, F_SETOWN, getpid()) != 0 || fl < 0 || fcntl(port, F_SETFL, fl | O_ASYNC) != 0)
		fprintf(stderr, "e2-vport-relay: no SIGIO from %s (%s): checking for a host client every second\n", dev,
			strerror(errno));
	for (;;) {
		/* wait for a host client's first bytes */
		struct pollfd p = {.fd = port, .events = POLLIN};
		if (poll(&p, 1, -1) < 0) {
			if (errno == EINTR)
				continue;
			return 1;
		}
		if (!(p.revents & POLLIN)) {
			const struct timespec second = {1, 0};
			(void)sigtimedwait(&sigio, NULL, &second);
			continue;
		}
		int nf = connect_nf(argv[2]);
		if (nf < 0) {
			fprintf(stderr, "e2-vport-relay: cannot connect to %s: %s\n", argv[2], strerror(errno));
			nap_ms(1000);
			continue;
		}
		bool host_gone = false;
		for (;;) {
			struct pollfd q[2] = {{.fd = port, .events = POLLIN}, {.fd = nf, .events = POLLIN}};
			if (poll(q, 2, -1) < 0) {
				if (errno == EINTR)
					continue;
				break;
			}
			if ((q[0].revents & POLLIN) && !pass(port, nf))
				break;
			if ((q[1].revents & (POLLIN | POLLHUP)) && !pass(nf, port))
				break;
			if ((q[0].revents & POLLHUP) && !(q[0].revents & POLLIN)) {
				host_gone = true;
				break;
			}
		}
		close(nf);
		/* the NF hung up first: drop what this host client still sends until it goes */
		while (!host_gone) {
			struct pollfd q = {.fd = port, .events = POLLIN};
			if (poll(&q, 1, -1) < 0 && errno != EINTR)
				break;
			if (q.revents & POLLHUP)
				host_gone = true;
			else if (q.revents & POLLIN) {
				char sink[4096];
				if (read(port, sink, sizeof(sink)) < 0 && errno != EINTR && errno != EAGAIN)
					host_gone = true;
			}
		}
	}
}
