/* SPDX-License-Identifier: BSD-3-Clause */
#include "vhost_stub.h"

#include <errno.h>
#include <poll.h>
#include <pthread.h>
#include <stdatomic.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/un.h>
#include <time.h>
#include <unistd.h>

enum {
	GET_FEATURES = 1,
	GET_VRING_BASE = 11,
	GET_PROTOCOL_FEATURES = 15,
	GET_QUEUE_NUM = 17,
	GET_CONFIG = 24,
};
#define FLAG_VERSION 0x1u
#define FLAG_REPLY 0x4u
#define FLAG_NEED_REPLY 0x8u
#define VIRTIO_F_VERSION_1 (1ull << 32)

struct msg {
	uint32_t request, flags, size;
	uint8_t payload[4096];
} __attribute__((packed));

struct port {
	struct vhost_stub *owner;
	char path[108];
	pthread_t thread;
};

struct vhost_stub {
	atomic_int quit;
	atomic_uint sessions;
	unsigned n;
	struct port ports[];
};

/* Reads exactly len bytes, closing any file descriptors that come along. */
static int recv_all(int fd, void *buf, size_t len)
{
	size_t got = 0;
	while (got < len) {
		char cbuf[CMSG_SPACE(sizeof(int) * 8)];
		struct iovec iov = {(char *)buf + got, len - got};
		struct msghdr mh = {
			.msg_iov = &iov, .msg_iovlen = 1, .msg_control = cbuf, .msg_controllen = sizeof(cbuf)};
		ssize_t r = recvmsg(fd, &mh, MSG_CMSG_CLOEXEC);
		if (r <= 0)
			return -1;
		for (struct cmsghdr *c = CMSG_FIRSTHDR(&mh); c; c = CMSG_NXTHDR(&mh, c)) {
			if (c->cmsg_level == SOL_SOCKET && c->cmsg_type == SCM_RIGHTS) {
				size_t nfd = (c->cmsg_len - CMSG_LEN(0)) / sizeof(int);
				for (size_t i = 0; i < nfd; i++) {
					int f;
					memcpy(&f, CMSG_DATA(c) + i * sizeof(int), sizeof(int));
					close(f);
				}
			}
		}
		got += (size_t)r;
	}
	return 0;
}

static int reply(int fd, struct msg *m, const void *payload, uint32_t size)
{
	m->flags = FLAG_VERSION | FLAG_REPLY;
	m->size = size;
	if (payload != m->payload)
		memcpy(m->payload, payload, size);
	return send(fd, m, 12 + size, MSG_NOSIGNAL) == (ssize_t)12 + (ssize_t)size ? 0 : -1;
}

static int serve(struct vhost_stub *s, int fd)
{
	struct msg m;
	while (!atomic_load(&s->quit)) {
		struct pollfd p = {fd, POLLIN, 0};
		int pr = poll(&p, 1, 100);
		if (pr < 0 && errno != EINTR)
			return -1;
		if (pr <= 0)
			continue;
		if (recv_all(fd, &m, 12) || m.size > sizeof(m.payload) || (m.size && recv_all(fd, m.payload, m.size)))
			return -1;
		uint64_t u64 = 0;
		int rc = 0;
		switch (m.request) {
		case GET_FEATURES:
			u64 = VIRTIO_F_VERSION_1;
			rc = reply(fd, &m, &u64, 8);
			atomic_fetch_add(&s->sessions, 1);
			break;
		case GET_PROTOCOL_FEATURES:
		case GET_QUEUE_NUM:
			u64 = m.request == GET_QUEUE_NUM ? 1 : 0;
			rc = reply(fd, &m, &u64, 8);
			break;
		case GET_VRING_BASE: {
			uint32_t state[2] = {0, 0};
			if (m.size >= 4)
				memcpy(&state[0], m.payload, 4);
			rc = reply(fd, &m, state, 8);
			break;
		}
		case GET_CONFIG: rc = reply(fd, &m, m.payload, m.size); break;
		default:
			if (m.flags & FLAG_NEED_REPLY)
				rc = reply(fd, &m, &u64, 8);
			break;
		}
		if (rc)
			return -1;
	}
	return 0;
}

static void *port_thread(void *arg)
{
	struct port *p = arg;
	struct sockaddr_un sa = {.sun_family = AF_UNIX};
	memcpy(sa.sun_path, p->path, sizeof(p->path));
	while (!atomic_load(&p->owner->quit)) {
		int fd = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0);
		if (fd >= 0 && connect(fd, (struct sockaddr *)&sa, sizeof(sa)) == 0)
			serve(p->owner, fd);
		if (fd >= 0)
			close(fd);
		struct timespec ts = {0, 50 * 1000000};
		nanosleep(&ts, NULL);
	}
	return NULL;
}

struct vhost_stub *vhost_stub_start(const char *const *paths, unsigned n)
{
	struct vhost_stub *s = calloc(1, sizeof(*s) + n * sizeof(struct port));
	if (!s)
		return NULL;
	for (unsigned i = 0; i < n; i++) {
		struct port *p = &s->ports[i];
		p->owner = s;
		strncpy(p->path, paths[i], sizeof(p->path) - 1);
		if (pthread_create(&p->thread, NULL, port_thread, p)) {
			s->n = i;
			vhost_stub_stop(s);
			return NULL;
		}
	}
	s->n = n;
	return s;
}

unsigned vhost_stub_sessions(struct vhost_stub *s)
{
	return atomic_load(&s->sessions);
}

void vhost_stub_stop(struct vhost_stub *s)
{
	if (!s)
		return;
	atomic_store(&s->quit, 1);
	for (unsigned i = 0; i < s->n; i++)
		pthread_join(s->ports[i].thread, NULL);
	free(s);
}
