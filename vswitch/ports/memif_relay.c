/* SPDX-License-Identifier: BSD-3-Clause */
/* The memif control-channel relay (memif_relay.h). One thread per socket path polls
 * the listening socket and both ends of every relayed connection. */
#include "memif_relay.h"

#include <errno.h>
#include <poll.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/eventfd.h>
#include <sys/socket.h>
#include <sys/un.h>
#include <time.h>
#include <unistd.h>

#include "../module.h"
#include "../port.h"
#include "e2/log.h"

E2_LOG_MODULE(memif);

#define RELAY_PORTS_MAX 16 /* interfaces on one socket */
#define RELAY_PAIRS_MAX 64 /* connections relayed at once, handshakes included */
#define MSG_MAX 256        /* a memif message is 128 bytes */
#define MSG_FDS_MAX 4      /* a message carries at most one */
#define RETRY_MS 200       /* client role: how often to try the server again */
#define REDIAL_MS 1000     /* client role: the pause before the driver dials again */

/* memif protocol 2.0: the message types the relay looks at (first 2 bytes) and
 * where INIT carries the interface id */
enum { MSG_INIT = 3, MSG_CONNECTED = 7, MSG_DISCONNECT = 8 };
#define MSG_SIZE 128 /* what the driver accepts */
#define INIT_ID_OFFSET 4

enum pair_state {
	PAIR_DIALING,  /* client role: the driver is in, the server not reached yet */
	PAIR_OPEN,     /* relaying */
	PAIR_DRAINING, /* the peer is gone; the driver's side waits for the driver to hang up */
	PAIR_LINGER,   /* server role: the peer left before the driver's hello; wait for it */
	PAIR_DEAD,     /* to be reaped by the thread */
};

struct pair {
	int peer_fd, pmd_fd;
	enum pair_state state;
	int port;       /* index in ports[] once INIT named it, else -1 */
	bool connected; /* this connection opened its port's gate */
	bool driver_spoke;
};

struct memif_relay {
	char path[sizeof(((struct sockaddr_un *)0)->sun_path)];
	char pmd_dir[64]; /* private (0700): only e2d reaches the driver */
	char pmd_path[sizeof(((struct sockaddr_un *)0)->sun_path)];
	bool server;
	int listen_fd, kick_fd;
	pthread_t thread;
	pthread_mutex_t lock;
	bool stop;
	unsigned refs;
	struct memif_relay_port ports[RELAY_PORTS_MAX];
	bool port_used[RELAY_PORTS_MAX];
	uint64_t redial_at[RELAY_PORTS_MAX]; /* client role: ms (monotonic) when, 0: not due */
	struct pair pairs[RELAY_PAIRS_MAX];
	unsigned n_pairs;
	struct memif_relay *next;
};

/* Every relay of this e2d, by path; touched only by the control thread. */
static struct memif_relay *relays;

static int unix_socket(const char *path, struct sockaddr_un *a)
{
	memset(a, 0, sizeof(*a));
	a->sun_family = AF_UNIX;
	snprintf(a->sun_path, sizeof(a->sun_path), "%s", path);
	return socket(AF_UNIX, SOCK_SEQPACKET | SOCK_CLOEXEC, 0);
}

static int dial(const char *path)
{
	struct sockaddr_un a;
	int fd = unix_socket(path, &a);

	if (fd >= 0 && connect(fd, (struct sockaddr *)&a, sizeof(a)) != 0) {
		close(fd);
		fd = -1;
	}
	return fd;
}

static int listen_on(const char *path, char *err)
{
	struct sockaddr_un a;
	int fd;

	if (e2_port_claim_socket_path(path, SOCK_SEQPACKET, "memif", err) != 0)
		return -1;
	fd = unix_socket(path, &a);
	if (fd < 0 || bind(fd, (struct sockaddr *)&a, sizeof(a)) != 0 || listen(fd, 8) != 0) {
		snprintf(err, E2_ERR_MAX, "cannot listen on memif socket %s: %s", path, strerror(errno));
		if (fd >= 0)
			close(fd);
		return -1;
	}
	return fd;
}

/* One message with the descriptors it carries; n <= 0: the other end left (or failed). */
static ssize_t recv_msg(int fd, uint8_t *buf, int *fds, int *n_fds)
{
	char ctl[CMSG_SPACE(sizeof(int) * MSG_FDS_MAX)];
	struct iovec iov = {.iov_base = buf, .iov_len = MSG_MAX};
	struct msghdr mh = {.msg_iov = &iov, .msg_iovlen = 1, .msg_control = ctl, .msg_controllen = sizeof(ctl)};
	ssize_t n = recvmsg(fd, &mh, MSG_CMSG_CLOEXEC | MSG_DONTWAIT);

	*n_fds = 0;
	if (n < 0)
		return (errno == EAGAIN || errno == EINTR) ? -EAGAIN : -1;
	for (struct cmsghdr *c = CMSG_FIRSTHDR(&mh); c; c = CMSG_NXTHDR(&mh, c)) {
		if (c->cmsg_level != SOL_SOCKET || c->cmsg_type != SCM_RIGHTS)
			continue;
		size_t k = (c->cmsg_len - CMSG_LEN(0)) / sizeof(int);
		for (size_t i = 0; i < k && *n_fds < MSG_FDS_MAX; i++)
			memcpy(&fds[(*n_fds)++], CMSG_DATA(c) + i * sizeof(int), sizeof(int));
	}
	if (mh.msg_flags & (MSG_TRUNC | MSG_CTRUNC))
		return -1; /* not a memif message; end the connection rather than pass half of it */
	return n;
}

static int send_msg(int fd, const uint8_t *buf, size_t len, const int *fds, int n_fds)
{
	char ctl[CMSG_SPACE(sizeof(int) * MSG_FDS_MAX)];
	struct iovec iov = {.iov_base = (void *)buf, .iov_len = len};
	struct msghdr mh = {.msg_iov = &iov, .msg_iovlen = 1};

	if (n_fds > 0) {
		memset(ctl, 0, sizeof(ctl));
		mh.msg_control = ctl;
		mh.msg_controllen = CMSG_SPACE(sizeof(int) * n_fds);
		struct cmsghdr *c = CMSG_FIRSTHDR(&mh);
		c->cmsg_level = SOL_SOCKET;
		c->cmsg_type = SCM_RIGHTS;
		c->cmsg_len = CMSG_LEN(sizeof(int) * n_fds);
		memcpy(CMSG_DATA(c), fds, sizeof(int) * n_fds);
	}
	/* a 128-byte message into a socket buffer the driver drains: never blocks long */
	return sendmsg(fd, &mh, MSG_NOSIGNAL) == (ssize_t)len ? 0 : -1;
}

static void close_fd(int *fd)
{
	if (*fd >= 0)
		close(*fd);
	*fd = -1;
}

static void kick(struct memif_relay *r)
{
	uint64_t one = 1;
	(void)!write(r->kick_fd, &one, sizeof(one));
}

/* The port's rings are about to go (or have gone): stop the worker first. */
static void pair_quiesce(struct memif_relay *r, struct pair *c)
{
	if (!c->connected)
		return;
	c->connected = false;
	const struct memif_relay_port *p = &r->ports[c->port];
	p->quiesce(p->ctx);
	E2_INFO("port %s: memif peer disconnecting", p->name);
}

static void pair_end(struct pair *c)
{
	close_fd(&c->peer_fd);
	close_fd(&c->pmd_fd);
	c->state = PAIR_DEAD;
}

static uint64_t now_ms(void)
{
	struct timespec ts;
	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (uint64_t)ts.tv_sec * 1000 + (uint64_t)ts.tv_nsec / 1000000;
}

/* DPDK's memif client sets up a connection only when its device starts: once the
 * driver has hung up (the server left or refused it), its port restarts the device,
 * a moment later so that a server refusing at once is not hammered. */
static void redial_later(struct memif_relay *r, const struct pair *c)
{
	if (!r->server && c->port >= 0)
		r->redial_at[c->port] = now_ms() + REDIAL_MS;
}

/* The server left: tell the driver as a server would, then wait for it to hang up
 * (it has unmapped and closed by then) before its device may start again. */
static bool tell_driver_server_left(struct memif_relay *r, struct pair *c)
{
	uint8_t msg[MSG_SIZE] = {0};
	const uint16_t type = MSG_DISCONNECT;

	if (r->server || c->port < 0 || c->pmd_fd < 0)
		return false;
	memcpy(msg, &type, sizeof(type));
	snprintf((char *)msg + 6, sizeof(msg) - 6, "the server left");
	if (send_msg(c->pmd_fd, msg, sizeof(msg), NULL, 0) != 0)
		return false;
	close_fd(&c->peer_fd);
	c->state = PAIR_DRAINING;
	return true;
}

static int port_by_id(const struct memif_relay *r, uint32_t id)
{
	for (int i = 0; i < RELAY_PORTS_MAX; i++)
		if (r->port_used[i] && r->ports[i].id == id)
			return i;
	return -1;
}

static void relay_message(struct memif_relay *r, struct pair *c, bool from_peer)
{
	uint8_t buf[MSG_MAX];
	int fds[MSG_FDS_MAX], n_fds;
	ssize_t n = recv_msg(from_peer ? c->peer_fd : c->pmd_fd, buf, fds, &n_fds);

	if (n == -EAGAIN)
		return;
	if (c->state == PAIR_LINGER) { /* the driver's hello went out: now it may hear the end */
		for (int i = 0; i < n_fds; i++)
			close(fds[i]);
		pair_end(c);
		return;
	}
	if (c->state == PAIR_DRAINING) { /* the driver's last words to a peer that is gone */
		for (int i = 0; i < n_fds; i++)
			close(fds[i]);
		if (n <= 0) {
			redial_later(r, c);
			pair_end(c);
		}
		return;
	}
	/* Once up, anything from the peer may make the driver unmap; the driver itself
	 * hanging up already has (nothing to do then but stop polling). */
	if (from_peer || n <= 0)
		pair_quiesce(r, c);
	if (n >= 2) {
		uint16_t type;
		memcpy(&type, buf, sizeof(type));
		E2_DBG("memif socket %s: message %u (%zd bytes, %d fds) from the %s", r->path, type, n, n_fds,
		       from_peer ? "peer" : "driver");
		if (type == MSG_INIT && n >= INIT_ID_OFFSET + 4 && c->port < 0) {
			uint32_t id;
			memcpy(&id, buf + INIT_ID_OFFSET, sizeof(id));
			c->port = port_by_id(r, id); /* unknown: the driver refuses it itself */
		}
		c->driver_spoke |= !from_peer;
		if (send_msg(from_peer ? c->pmd_fd : c->peer_fd, buf, (size_t)n, fds, n_fds) != 0)
			n = -1;
		/* the server's CONNECTED: it has mapped the rings (we are the server, and
		 * the driver sent it) or is about to (we are the client, it is on its way) */
		if (n > 0 && type == MSG_CONNECTED && from_peer != r->server && c->port >= 0) {
			const struct memif_relay_port *p = &r->ports[c->port];
			c->connected = true;
			p->up(p->ctx);
			E2_INFO("port %s: memif peer connected", p->name);
		}
	}
	for (int i = 0; i < n_fds; i++)
		close(fds[i]);
	if (n < 2) {
		pair_quiesce(r, c);
		if (from_peer && tell_driver_server_left(r, c))
			return;
		/* DPDK 22.11's memif server, failing to send its hello on a connection it has
		 * just accepted, closes and frees it but leaves it registered with the EAL
		 * interrupt thread, which then panics on the closed descriptor: the driver's
		 * side stays open until the hello is out. */
		if (from_peer && r->server && !c->driver_spoke && c->pmd_fd >= 0) {
			close_fd(&c->peer_fd);
			c->state = PAIR_LINGER;
			return;
		}
		if (!from_peer)
			redial_later(r, c);
		pair_end(c);
	}
}

static struct pair *pair_new(struct memif_relay *r)
{
	if (r->n_pairs == RELAY_PAIRS_MAX)
		return NULL;
	struct pair *c = &r->pairs[r->n_pairs++];
	*c = (struct pair){.peer_fd = -1, .pmd_fd = -1, .state = PAIR_OPEN, .port = -1};
	return c;
}

static void accept_one(struct memif_relay *r)
{
	int fd = accept4(r->listen_fd, NULL, NULL, SOCK_CLOEXEC);
	struct pair *c;

	if (fd < 0)
		return;
	c = pair_new(r);
	if (!c) {
		E2_WARN("memif socket %s: %d connections at once; refusing another", r->path, RELAY_PAIRS_MAX);
		close(fd);
		return;
	}
	if (r->server) {
		c->peer_fd = fd;
		c->pmd_fd = dial(r->pmd_path);
		if (c->pmd_fd < 0) {
			E2_WARN("memif socket %s: the driver does not answer on %s", r->path, r->pmd_path);
			pair_end(c);
		}
	} else {
		c->pmd_fd = fd;
		c->state = PAIR_DIALING; /* the next loop dials the server */
	}
}

static void dial_server(struct memif_relay *r, struct pair *c)
{
	c->peer_fd = dial(r->path);
	if (c->peer_fd >= 0) {
		c->state = PAIR_OPEN;
		E2_INFO("memif socket %s: reached the server", r->path);
	}
}

/* Only the thread frees pairs (compacting the array), so what it polled stays valid. */
static void reap(struct memif_relay *r)
{
	unsigned j = 0;
	for (unsigned i = 0; i < r->n_pairs; i++)
		if (r->pairs[i].state != PAIR_DEAD)
			r->pairs[j++] = r->pairs[i];
	r->n_pairs = j;
}

static void *relay_thread(void *arg)
{
	struct memif_relay *r = arg;
	struct pollfd pfd[2 + 2 * RELAY_PAIRS_MAX];
	int owner[2 + 2 * RELAY_PAIRS_MAX]; /* pair index, -1: ours */

	pthread_mutex_lock(&r->lock);
	while (!r->stop) {
		unsigned n = 0;
		bool dialing = false;

		reap(r);
		pfd[n] = (struct pollfd){.fd = r->kick_fd, .events = POLLIN};
		owner[n++] = -1;
		pfd[n] = (struct pollfd){.fd = r->listen_fd, .events = POLLIN};
		owner[n++] = -1;
		for (unsigned i = 0; i < r->n_pairs; i++) {
			const struct pair *c = &r->pairs[i];
			dialing |= c->state == PAIR_DIALING;
			if (c->peer_fd >= 0) {
				pfd[n] = (struct pollfd){.fd = c->peer_fd, .events = POLLIN};
				owner[n++] = (int)i;
			}
			if (c->pmd_fd >= 0) {
				pfd[n] = (struct pollfd){.fd = c->pmd_fd, .events = POLLIN};
				owner[n++] = (int)i;
			}
		}
		int timeout = dialing ? RETRY_MS : -1;
		uint64_t now = now_ms();
		for (int i = 0; i < RELAY_PORTS_MAX; i++)
			if (r->redial_at[i]) {
				int wait = r->redial_at[i] > now ? (int)(r->redial_at[i] - now) : 0;
				timeout = timeout < 0 || wait < timeout ? wait : timeout;
			}
		pthread_mutex_unlock(&r->lock);
		int ready = poll(pfd, n, timeout);
		pthread_mutex_lock(&r->lock);
		if (r->stop)
			break;
		if (ready > 0 && (pfd[0].revents & POLLIN)) {
			uint64_t v;
			(void)!read(r->kick_fd, &v, sizeof(v));
		}
		if (ready > 0 && (pfd[1].revents & POLLIN))
			accept_one(r);
		for (unsigned k = 2; ready > 0 && k < n; k++) {
			struct pair *c = &r->pairs[owner[k]];
			/* a pair the port's leave ended, or that hung up while we polled */
			if (!pfd[k].revents || c->state == PAIR_DEAD ||
			    (pfd[k].fd != c->peer_fd && pfd[k].fd != c->pmd_fd))
				continue;
			relay_message(r, c, pfd[k].fd == c->peer_fd);
		}
		for (unsigned i = 0; i < r->n_pairs; i++)
			if (r->pairs[i].state == PAIR_DIALING)
				dial_server(r, &r->pairs[i]);
		now = now_ms();
		for (int i = 0; i < RELAY_PORTS_MAX; i++)
			if (r->redial_at[i] && r->redial_at[i] <= now) {
				r->redial_at[i] = 0;
				if (r->port_used[i] && r->ports[i].redial)
					r->ports[i].redial(r->ports[i].ctx);
			}
	}
	pthread_mutex_unlock(&r->lock);
	return NULL;
}

static void relay_free(struct memif_relay *r)
{
	for (unsigned i = 0; i < r->n_pairs; i++)
		pair_end(&r->pairs[i]);
	close_fd(&r->listen_fd);
	close_fd(&r->kick_fd);
	if (r->server)
		unlink(r->path);
	if (*r->pmd_dir) {
		unlink(r->pmd_path);
		rmdir(r->pmd_dir);
	}
	pthread_mutex_destroy(&r->lock);
	free(r);
}

static struct memif_relay *relay_new(const char *path, bool server, char *err)
{
	struct memif_relay *r = calloc(1, sizeof(*r));

	if (!r) {
		snprintf(err, E2_ERR_MAX, "out of memory");
		return NULL;
	}
	r->listen_fd = r->kick_fd = -1;
	r->server = server;
	pthread_mutex_init(&r->lock, NULL);
	if (strlen(path) >= sizeof(r->path)) {
		snprintf(err, E2_ERR_MAX, "memif socket path is longer than %zu bytes", sizeof(r->path) - 1);
		goto fail;
	}
	snprintf(r->path, sizeof(r->path), "%s", path);
	const char *tmp = getenv("TMPDIR");
	if ((size_t)snprintf(r->pmd_dir, sizeof(r->pmd_dir), "%s/e2d-memif-XXXXXX", tmp && *tmp ? tmp : "/tmp") >=
		    sizeof(r->pmd_dir) ||
	    !mkdtemp(r->pmd_dir)) {
		snprintf(err, E2_ERR_MAX, "cannot make a private directory for the memif driver's socket: %s",
			 strerror(errno));
		*r->pmd_dir = '\0';
		goto fail;
	}
	snprintf(r->pmd_path, sizeof(r->pmd_path), "%s/driver.sock", r->pmd_dir);
	r->listen_fd = listen_on(server ? r->path : r->pmd_path, err);
	if (r->listen_fd < 0)
		goto fail;
	r->kick_fd = eventfd(0, EFD_CLOEXEC | EFD_NONBLOCK);
	if (r->kick_fd < 0) {
		snprintf(err, E2_ERR_MAX, "eventfd: %s", strerror(errno));
		goto fail;
	}
	if (pthread_create(&r->thread, NULL, relay_thread, r) != 0) {
		snprintf(err, E2_ERR_MAX, "cannot start the memif relay thread");
		goto fail;
	}
	pthread_setname_np(r->thread, "e2d-memif");
	return r;
fail:
	/* relay_free must not unlink a public path that was never ours */
	r->server = r->server && r->listen_fd >= 0;
	relay_free(r);
	return NULL;
}

struct memif_relay *memif_relay_join(const char *path, bool server, const struct memif_relay_port *port, char *pmd_path,
				     size_t pmd_path_len, char *err)
{
	struct memif_relay *r;
	int slot = -1;

	for (r = relays; r; r = r->next)
		if (strcmp(r->path, path) == 0)
			break;
	if (r && r->server != server) {
		snprintf(err, E2_ERR_MAX, "memif socket %s is used by another port as %s", path,
			 r->server ? "server" : "client");
		return NULL;
	}
	if (!r) {
		r = relay_new(path, server, err);
		if (!r)
			return NULL;
		r->next = relays;
		relays = r;
	}
	pthread_mutex_lock(&r->lock);
	for (int i = 0; i < RELAY_PORTS_MAX; i++) {
		if (r->port_used[i] && r->ports[i].id == port->id) {
			snprintf(err, E2_ERR_MAX, "memif socket %s: id %u is already port '%s'", path, port->id,
				 r->ports[i].name);
			slot = -2;
			break;
		}
		if (!r->port_used[i] && slot == -1)
			slot = i;
	}
	if (slot == -1)
		snprintf(err, E2_ERR_MAX, "memif socket %s: at most %d ports", path, RELAY_PORTS_MAX);
	if (slot >= 0) {
		r->ports[slot] = *port;
		r->port_used[slot] = true;
		r->redial_at[slot] = 0;
		r->refs++;
	}
	pthread_mutex_unlock(&r->lock);
	if (slot < 0) {
		if (r->refs == 0)
			memif_relay_put(r);
		return NULL;
	}
	snprintf(pmd_path, pmd_path_len, "%s", r->pmd_path);
	return r;
}

void memif_relay_leave(struct memif_relay *r, uint32_t id)
{
	pthread_mutex_lock(&r->lock);
	int port = port_by_id(r, id);
	for (unsigned i = 0; port >= 0 && i < r->n_pairs; i++) {
		struct pair *c = &r->pairs[i];
		if (c->port != port || c->state == PAIR_DEAD)
			continue;
		c->connected = false; /* the port has closed its gate itself */
		close_fd(&c->peer_fd);
		c->state = c->pmd_fd >= 0 ? PAIR_DRAINING : PAIR_DEAD;
		c->port = -1;
	}
	if (port >= 0) {
		r->port_used[port] = false;
		r->redial_at[port] = 0;
	}
	pthread_mutex_unlock(&r->lock);
	kick(r);
}

void memif_relay_put(struct memif_relay *r)
{
	if (r->refs > 0 && --r->refs > 0)
		return;
	for (struct memif_relay **pp = &relays; *pp; pp = &(*pp)->next)
		if (*pp == r) {
			*pp = r->next;
			break;
		}
	pthread_mutex_lock(&r->lock);
	r->stop = true;
	pthread_mutex_unlock(&r->lock);
	kick(r);
	pthread_join(r->thread, NULL);
	relay_free(r);
}
