/* SPDX-License-Identifier: BSD-3-Clause */
/* nf ports: zero-copy vports for native NF processes (libe2nf, native-nf/).
 *
 * e2d is the DPDK primary (started with --native-nfs, so its memory lives in hugepage
 * files); an NF attaches as a DPDK secondary and maps the same packet buffers. Each
 * port is a pair of rte_rings e2d creates: to_nf (e2d enqueues, the NF dequeues) and
 * from_nf (the reverse). A burst moves mbuf pointers; no packet byte is copied.
 *
 * The NF finds the port through a unix SOCK_SEQPACKET socket at path=: it says hello
 * with its API version and name, e2d answers with what a secondary needs (the DPDK
 * file prefix, the pool and ring names, an lcore id of its own so that its mempool
 * cache is not also one of e2d's). The connection stays open while the NF runs: the NF
 * reports its load on it, and its closing (the NF exited or crashed) takes the link
 * down, which the monitor publishes. Native-nf/README.md describes the messages.
 *
 * When an NF goes away e2d frees what it can reach: the frames queued to the NF, the
 * frames it had queued back, and its mempool cache. Frames the NF held in its own
 * hands at that instant (at most a burst per port plus what it chose to keep) are
 * lost with it; e2d logs how many buffers it recovered. */
#include <errno.h>
#include <poll.h>
#include <pthread.h>
#include <stdarg.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/un.h>
#include <unistd.h>

#include <rte_eal.h>
#include <rte_errno.h>
#include <rte_lcore.h>
#include <rte_mbuf.h>
#include <rte_mempool.h>
#include <rte_pause.h>
#include <rte_ring.h>

#include "../port.h"
#include "e2/log.h"
#include "e2/num.h"

E2_LOG_MODULE(nf);

#define NF_API_VERSION 1 /* native-nf/include/e2/nf.h: E2NF_API_VERSION */
#define NF_MSG_MAX 512
#define NF_RING_DEFAULT 1024
/* NF processes take lcore ids from the top down; e2d's own threads get theirs from
 * the bottom up (rte_thread_register), so the two never share a mempool cache. */
#define NF_LCORE_FIRST (RTE_MAX_LCORE - 1)
#define NF_LCORES 64

static pthread_mutex_t lcore_lock = PTHREAD_MUTEX_INITIALIZER;
static bool lcore_taken[NF_LCORES];
static atomic_uint ring_serial;

struct nf_queue {
	_Alignas(RTE_CACHE_LINE_SIZE) atomic_uint busy;
};

struct nf_dev {
	struct e2_port *port;
	char path[sizeof(((struct sockaddr_un *)0)->sun_path)];
	struct rte_mempool *pool;
	struct rte_ring *to_nf, *from_nf;
	int listen_fd, conn_fd;
	atomic_bool ready, stop;
	struct nf_queue rxq, txq;
	pthread_t thread;
	/* control-thread side, written by the port's thread */
	atomic_uint load_permille;
	int lcore; /* -1 while none is lent */
	int nf_pid;
	char nf_name[64];
	atomic_uint_fast64_t attaches, departures, recovered;
	bool rings_abandoned;
};

static int lcore_take(void)
{
	int id = -1;
	pthread_mutex_lock(&lcore_lock);
	for (int i = 0; i < NF_LCORES && id < 0; i++)
		if (!lcore_taken[i]) {
			lcore_taken[i] = true;
			id = NF_LCORE_FIRST - i;
		}
	pthread_mutex_unlock(&lcore_lock);
	return id;
}

static void lcore_give_back(int id)
{
	pthread_mutex_lock(&lcore_lock);
	lcore_taken[NF_LCORE_FIRST - id] = false;
	pthread_mutex_unlock(&lcore_lock);
}

static void wait_idle(struct nf_queue *q)
{
	while (atomic_load_explicit(&q->busy, memory_order_seq_cst))
		rte_pause();
}

static inline bool enter(struct nf_dev *d, struct nf_queue *q)
{
	if (!atomic_load_explicit(&d->ready, memory_order_acquire))
		return false;
	atomic_store_explicit(&q->busy, 1, memory_order_seq_cst);
	if (likely(atomic_load_explicit(&d->ready, memory_order_seq_cst)))
		return true;
	atomic_store_explicit(&q->busy, 0, memory_order_release);
	return false;
}

static uint16_t nf_rx(struct e2_port *p, uint16_t queue, struct rte_mbuf **pkts, uint16_t n)
{
	struct nf_dev *d = p->dev;
	unsigned got;

	(void)queue;
	if (!enter(d, &d->rxq))
		return 0;
	got = rte_ring_dequeue_burst(d->from_nf, (void **)pkts, n, NULL);
	atomic_store_explicit(&d->rxq.busy, 0, memory_order_release);
	return (uint16_t)got;
}

static uint16_t nf_tx(struct e2_port *p, uint16_t queue, struct rte_mbuf **pkts, uint16_t n)
{
	struct nf_dev *d = p->dev;
	unsigned sent;

	(void)queue;
	if (!enter(d, &d->txq))
		return 0;
	/* the NF owns the frames from here: pointers move, bytes stay where they are */
	sent = rte_ring_enqueue_burst(d->to_nf, (void *const *)pkts, n, NULL);
	atomic_store_explicit(&d->txq.busy, 0, memory_order_release);
	return (uint16_t)sent;
}

static bool nf_link_up(const struct e2_port *p)
{
	const struct nf_dev *d = p->dev;
	return atomic_load(&d->ready);
}

/* The monitor's occupancy of this port: the fuller of the two rings, or the load the
 * NF reports of itself (per mille of its core), whichever is higher, on a 1024 scale. */
static int nf_rx_queue_count(const struct e2_port *p, uint16_t queue)
{
	const struct nf_dev *d = p->dev;
	unsigned n = RTE_MAX(rte_ring_count(d->to_nf), rte_ring_count(d->from_nf));
	unsigned cap = rte_ring_get_capacity(d->to_nf);
	unsigned from_load = atomic_load(&d->load_permille) * cap / 1000;

	(void)queue;
	return (int)((uint64_t)RTE_MAX(n, from_load) * 1024 / (cap ? cap : 1));
}

static uint64_t nf_rx_drops(const struct e2_port *p)
{
	(void)p;
	return 0; /* what the NF could not hand back, it counts itself */
}

static unsigned drain(struct rte_ring *r)
{
	void *objs[64];
	unsigned n, total = 0;

	while ((n = rte_ring_dequeue_burst(r, objs, RTE_DIM(objs), NULL)) > 0) {
		rte_pktmbuf_free_bulk((struct rte_mbuf **)objs, n);
		total += n;
	}
	return total;
}

/* The NF is gone (or is being let go): no worker touches the rings any more, what
 * they hold and what its mempool cache holds goes back to the pool. */
static void detach(struct nf_dev *d, const char *why, bool clean)
{
	atomic_store(&d->ready, false);
	wait_idle(&d->rxq);
	wait_idle(&d->txq);
	unsigned queued = drain(d->to_nf) + drain(d->from_nf);
	rte_ring_reset(d->to_nf);
	rte_ring_reset(d->from_nf);
	unsigned back = queued;
	if (d->lcore >= 0) {
		struct rte_mempool_cache *c = rte_mempool_default_cache(d->pool, (unsigned)d->lcore);
		if (c) {
			back += c->len;
			rte_mempool_cache_flush(c, d->pool);
		}
		lcore_give_back(d->lcore);
		d->lcore = -1;
	}
	atomic_fetch_add(&d->recovered, back);
	atomic_fetch_add(&d->departures, 1);
	atomic_store(&d->load_permille, 0);
	if (d->conn_fd >= 0)
		close(d->conn_fd);
	d->conn_fd = -1;
	E2_LOG_AT(clean ? E2_LOG_INFO : E2_LOG_WARN,
		  "port %s: link down: NF '%s' (pid %d) %s; %u buffers back to the pool (%u were queued)",
		  d->port->name, d->nf_name, d->nf_pid, why, back, queued);
}

static void say(int fd, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
static void say(int fd, const char *fmt, ...)
{
	char msg[NF_MSG_MAX];
	va_list ap;
	va_start(ap, fmt);
	int n = vsnprintf(msg, sizeof(msg), fmt, ap);
	va_end(ap);
	if (n > 0)
		(void)send(fd, msg, (size_t)RTE_MIN(n, (int)sizeof(msg) - 1), MSG_NOSIGNAL);
}

/* "hello version=1 name=NAME pid=PID": the first message of an NF. */
static int parse_hello(char *msg, unsigned *version, char *name, size_t name_len, int *pid)
{
	char *save = NULL, *tok = strtok_r(msg, " \n", &save);
	bool have_version = false;

	if (!tok || strcmp(tok, "hello") != 0)
		return -1;
	*pid = 0;
	snprintf(name, name_len, "?");
	while ((tok = strtok_r(NULL, " \n", &save))) {
		char *eq = strchr(tok, '=');
		if (!eq)
			return -1;
		*eq = '\0';
		if (strcmp(tok, "version") == 0) {
			*version = (unsigned)strtoul(eq + 1, NULL, 10);
			have_version = true;
		} else if (strcmp(tok, "name") == 0) {
			snprintf(name, name_len, "%s", eq + 1);
		} else if (strcmp(tok, "pid") == 0) {
			*pid = (int)strtol(eq + 1, NULL, 10);
		}
	}
	return have_version ? 0 : -1;
}

static void handshake(struct nf_dev *d, int fd)
{
	char msg[NF_MSG_MAX], name[64];
	unsigned version = 0;
	int pid;
	struct timeval tv = {.tv_sec = 2};

	setsockopt(fd, SOL_SOCKET, SO_RCVTIMEO, &tv, sizeof(tv));
	ssize_t n = recv(fd, msg, sizeof(msg) - 1, 0);
	if (n <= 0) {
		close(fd);
		return;
	}
	msg[n] = '\0';
	if (parse_hello(msg, &version, name, sizeof(name), &pid) != 0) {
		say(fd, "refused version=%d reason=expected 'hello version=N name=NAME pid=PID'", NF_API_VERSION);
		close(fd);
		return;
	}
	if (version != NF_API_VERSION) {
		say(fd, "refused version=%d reason=this e2d speaks version %d of the NF API, not %u", NF_API_VERSION,
		    NF_API_VERSION, version);
		E2_WARN("port %s: NF '%s' speaks NF API version %u, e2d %d: refused", d->port->name, name, version,
			NF_API_VERSION);
		close(fd);
		return;
	}
	if (d->conn_fd >= 0) {
		say(fd, "refused version=%d reason=port %s is in use by NF '%s' (pid %d)", NF_API_VERSION,
		    d->port->name, d->nf_name, d->nf_pid);
		close(fd);
		return;
	}
	int lcore = lcore_take();
	if (lcore < 0) {
		say(fd, "refused version=%d reason=more than %d NF processes are attached", NF_API_VERSION, NF_LCORES);
		close(fd);
		return;
	}
	const char *dir = rte_eal_get_runtime_dir();
	const char *prefix = strrchr(dir, '/') ? strrchr(dir, '/') + 1 : dir;
	/* the kernel's word for who is at the other end, over the NF's own */
	struct ucred cred;
	socklen_t cred_len = sizeof(cred);
	if (getsockopt(fd, SOL_SOCKET, SO_PEERCRED, &cred, &cred_len) == 0)
		pid = cred.pid;
	d->conn_fd = fd;
	d->lcore = lcore;
	d->nf_pid = pid;
	snprintf(d->nf_name, sizeof(d->nf_name), "%s", name);
	tv.tv_sec = 0;
	setsockopt(fd, SOL_SOCKET, SO_RCVTIMEO, &tv, sizeof(tv));
	atomic_fetch_add(&d->attaches, 1);
	atomic_store(&d->ready, true);
	say(fd, "welcome version=%d port=%s prefix=%s pool=%s to_nf=%s from_nf=%s lcore=%d", NF_API_VERSION,
	    d->port->name, prefix, d->pool->name, d->to_nf->name, d->from_nf->name, lcore);
	E2_INFO("port %s: link up: NF '%s' (pid %d) attached", d->port->name, d->nf_name, pid);
}

static void on_message(struct nf_dev *d, char *msg)
{
	uint32_t permille;
	if (strcmp(msg, "bye") == 0)
		detach(d, "left", true);
	else if (strncmp(msg, "load permille=", 14) == 0 &&
		 e2_num_u32("permille", msg + 14, 0, 1000, &permille, NULL) == 0)
		atomic_store(&d->load_permille, permille);
	else
		E2_DBG("port %s: NF '%s' said something unknown: %.60s", d->port->name, d->nf_name, msg);
}

/* One thread per nf port: accepts its NF, watches it, and cleans up after it. It
 * sleeps in poll(); nothing here is on the packet path. */
static void *nf_thread(void *arg)
{
	struct nf_dev *d = arg;

	while (!atomic_load(&d->stop)) {
		struct pollfd fds[2] = {{.fd = d->listen_fd, .events = POLLIN}, {.fd = d->conn_fd, .events = POLLIN}};
		if (poll(fds, d->conn_fd >= 0 ? 2 : 1, 100) <= 0)
			continue;
		if (fds[0].revents & POLLIN) {
			int fd = accept(d->listen_fd, NULL, NULL);
			if (fd >= 0)
				handshake(d, fd);
		}
		if (d->conn_fd >= 0 && (fds[1].revents & (POLLIN | POLLHUP | POLLERR))) {
			char msg[NF_MSG_MAX];
			ssize_t n = recv(d->conn_fd, msg, sizeof(msg) - 1, MSG_DONTWAIT);
			if (n > 0) {
				msg[n] = '\0';
				on_message(d, msg);
			} else if (n == 0 || (errno != EAGAIN && errno != EINTR)) {
				detach(d, "went away", false);
			}
		}
	}
	return NULL;
}

/* At `port del` or e2d's exit a connected NF is told to let go of the rings, and the
 * rings are freed only once it has (its socket closes). An NF that does not answer
 * keeps its rings: freeing memory a live process still polls would be worse. */
static void nf_close(struct e2_port *p)
{
	struct nf_dev *d = p->dev;

	atomic_store(&d->stop, true);
	pthread_join(d->thread, NULL);
	close(d->listen_fd);
	unlink(d->path);
	if (d->conn_fd >= 0) {
		say(d->conn_fd, "bye");
		struct pollfd pf = {.fd = d->conn_fd, .events = POLLIN};
		bool gone = false;
		for (int i = 0; i < 20 && !gone; i++) {
			char msg[NF_MSG_MAX];
			if (poll(&pf, 1, 100) > 0) {
				ssize_t n = recv(d->conn_fd, msg, sizeof(msg), MSG_DONTWAIT);
				gone = n == 0 || (n < 0 && errno != EAGAIN && errno != EINTR);
			}
		}
		if (!gone) {
			E2_WARN("port %s: NF '%s' (pid %d) did not let go of its rings within 2 s; they are not freed",
				p->name, d->nf_name, d->nf_pid);
			d->rings_abandoned = true;
		}
		detach(d, gone ? "let go" : "did not answer", gone);
	}
	if (!d->rings_abandoned) {
		rte_ring_free(d->to_nf);
		rte_ring_free(d->from_nf);
	}
	free(d);
}

static const struct e2_port_ops nf_port_ops = {
	.rx = nf_rx,
	.tx = nf_tx,
	.link_up = nf_link_up,
	.rx_queue_count = nf_rx_queue_count,
	.rx_drops = nf_rx_drops,
	.close = nf_close,
};

/* Secondaries can attach only to a primary whose memory is in files (e2d --native-nfs). */
static bool memory_is_shared(void)
{
	char path[PATH_MAX];
	snprintf(path, sizeof(path), "%s/config", rte_eal_get_runtime_dir());
	return rte_eal_process_type() == RTE_PROC_PRIMARY && rte_eal_has_hugepages() && access(path, F_OK) == 0;
}

static int listen_on(const char *path, char *err)
{
	struct sockaddr_un a = {.sun_family = AF_UNIX};
	int fd;

	if (e2_port_claim_socket_path(path, SOCK_SEQPACKET, "nf", err) != 0)
		return -1;
	fd = socket(AF_UNIX, SOCK_SEQPACKET | SOCK_CLOEXEC, 0);
	if (fd < 0) {
		snprintf(err, E2_ERR_MAX, "socket: %s", strerror(errno));
		return -1;
	}
	snprintf(a.sun_path, sizeof(a.sun_path), "%s", path);
	mode_t old = umask(0077);
	int rc = bind(fd, (struct sockaddr *)&a, sizeof(a));
	umask(old);
	if (rc != 0 || listen(fd, 4) != 0) {
		snprintf(err, E2_ERR_MAX, "cannot listen on %s: %s", path, strerror(errno));
		close(fd);
		return -1;
	}
	return fd;
}

static const char *const known[] = {"path", "size", NULL};

static int nf_open(struct e2_port *p, const struct e2_args *args, struct rte_mempool *pool, char *err)
{
	const char *path = e2_args_get(args, "path");
	uint64_t size;
	char name[RTE_RING_NAMESIZE];
	struct nf_dev *d;

	if (!path || !*path) {
		snprintf(err, E2_ERR_MAX, "nf port needs path=SOCKET (where its NF process connects)");
		return -1;
	}
	if (strlen(path) >= sizeof(d->path)) {
		snprintf(err, E2_ERR_MAX, "nf socket path is longer than %zu bytes", sizeof(d->path) - 1);
		return -1;
	}
	if (e2_args_u64(args, "size", NF_RING_DEFAULT, 64, 1 << 16, &size, err) < 0)
		return -1;
	if (size & (size - 1)) {
		snprintf(err, E2_ERR_MAX, "nf port size=%llu is not a power of two", (unsigned long long)size);
		return -1;
	}
	if (p->n_queues != 1) {
		snprintf(err, E2_ERR_MAX, "nf ports have one queue");
		return -1;
	}
	if (!memory_is_shared()) {
		snprintf(err, E2_ERR_MAX,
			 "nf ports need e2d --native-nfs (NF processes map e2d's packet buffers from hugepage files)");
		return -1;
	}
	d = calloc(1, sizeof(*d));
	if (!d) {
		snprintf(err, E2_ERR_MAX, "out of memory");
		return -1;
	}
	snprintf(d->path, sizeof(d->path), "%s", path);
	d->port = p;
	d->pool = pool;
	d->conn_fd = -1;
	d->lcore = -1;
	unsigned serial = atomic_fetch_add(&ring_serial, 1);
	snprintf(name, sizeof(name), "e2nf%u.to", serial);
	d->to_nf = rte_ring_create(name, (unsigned)size, (int)rte_socket_id(), RING_F_SC_DEQ);
	snprintf(name, sizeof(name), "e2nf%u.from", serial);
	d->from_nf = rte_ring_create(name, (unsigned)size, (int)rte_socket_id(), RING_F_SP_ENQ | RING_F_SC_DEQ);
	if (!d->to_nf || !d->from_nf) {
		snprintf(err, E2_ERR_MAX, "cannot create the rings of nf port %s: %s", p->name,
			 rte_strerror(rte_errno));
		goto fail;
	}
	d->listen_fd = listen_on(d->path, err);
	if (d->listen_fd < 0)
		goto fail;
	if (pthread_create(&d->thread, NULL, nf_thread, d) != 0) {
		snprintf(err, E2_ERR_MAX, "cannot start the thread of nf port %s", p->name);
		close(d->listen_fd);
		unlink(d->path);
		goto fail;
	}
	snprintf(p->devargs, sizeof(p->devargs), "nf,path=%s,size=%llu", path, (unsigned long long)size);
	snprintf(p->devname, sizeof(p->devname), "nf:%s", p->name);
	p->dev = d;
	p->ops = &nf_port_ops;
	return 0;
fail:
	rte_ring_free(d->to_nf);
	rte_ring_free(d->from_nf);
	free(d);
	return -1;
}

static const struct e2_port_driver port_nfring = {
	.name = "nf",
	.help = "zero-copy port for a native NF process (libe2nf; needs e2d --native-nfs): path=SOCK "
		"[size=RING_SLOTS]",
	.known_args = known,
	.open = nf_open,
};
E2_PORT_DRIVER_REGISTER(port_nfring)
