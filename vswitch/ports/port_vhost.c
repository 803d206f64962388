/* SPDX-License-Identifier: BSD-3-Clause */
/* vhost-user ports: the NF side (a VM's virtio-net, or virtio-user in a process)
 * is the front-end. With client=1 e2d connects to a socket QEMU serves and
 * reconnects whenever it disappears, so either side can restart.
 *
 * The port drives librte_vhost itself rather than through the vhost PMD, as OVS
 * does: a burst is one rte_vhost_dequeue/enqueue_burst, without the PMD's
 * per-packet size bins and multicast counting (about a tenth of a core at 64 bytes).
 * e2d keeps its own port counters, so nothing is lost.
 *
 * Between two vhost ports whose port_in feeds the other's port_out directly, a worker
 * can skip librte_vhost's bursts (and the mbufs) altogether: `forward` copies each frame
 * once, from one guest's transmit buffer into the other's receive buffer
 * (vhost_direct.h). librte_vhost keeps the vhost-user protocol and the ring indexes: they
 * are taken before and given back after every such burst, so its own bursts (the
 * ordinary path, which a worker may take at any time instead) and the load monitor's
 * samples see where each ring stands. */
#include <assert.h>
#include <errno.h>
#include <limits.h>
#include <pthread.h>
#include <stdatomic.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/un.h>
#include <time.h>
#include <unistd.h>

#include <rte_common.h>
#include <rte_mbuf.h>
#include <rte_mempool.h>
#include <rte_pause.h>
#include <rte_vhost.h>

#include "../port.h"
#include "../port_gate.h"
#include "vhost_direct.h"
#include "e2/log.h"

E2_LOG_MODULE(vhost);

#define VHOST_QUEUES_MAX 8
#define VHOST_PORTS_MAX 128 /* as many as e2d has ports */

/* Offloads a guest could ask of us and that e2d does not perform: without them
 * the guest sends whole, checksummed frames and expects the same. */
#define VHOST_UNSUPPORTED_FEATURES                                                                                  \
	((1ULL << VIRTIO_NET_F_CSUM) | (1ULL << VIRTIO_NET_F_GUEST_CSUM) | (1ULL << VIRTIO_NET_F_HOST_TSO4) |       \
	 (1ULL << VIRTIO_NET_F_HOST_TSO6) | (1ULL << VIRTIO_NET_F_GUEST_TSO4) | (1ULL << VIRTIO_NET_F_GUEST_TSO6) | \
	 (1ULL << VIRTIO_NET_F_HOST_UFO) | (1ULL << VIRTIO_NET_F_GUEST_UFO) | (1ULL << VIRTIO_NET_F_HOST_ECN) |     \
	 (1ULL << VIRTIO_NET_F_GUEST_ECN))

/* The data path and the vhost-events thread meet at the port's gate (port_gate.h):
 * destroy_device closes it, so librte_vhost never tears down a ring in use. */
struct vhost_dev {
	struct e2_port *port;
	char path[sizeof(((struct sockaddr_un *)0)->sun_path)];
	struct rte_mempool *pool;
	uint16_t n_queues;
	atomic_int vid; /* -1 while no front-end is attached */
	struct e2_gate ready;
	struct e2_gate_mark rxq[VHOST_QUEUES_MAX], txq[VHOST_QUEUES_MAX];
	/* The load monitor reads ring levels with librte_vhost calls that spin on a ring's
	 * lock. librte_vhost calls destroy_device with every ring lock held, and
	 * destroy_device takes registry.lock: a sample made under registry.lock could wait
	 * for the very thread that waits for it. So a sample counts itself in `sampling`
	 * and runs unlocked; destroy_connection (no ring lock held, called before
	 * librte_vhost frees the device) closes `sample_vid` and waits for the count. */
	int sample_vid; /* the device samples may name, -1 for none; under registry.lock */
	atomic_uint sampling;
	int last_queued; /* the last samples, kept when a ring is busy; control thread only */
	double last_fill;
	/* The single-copy path has a gate of its own. librte_vhost's message handler closes
	 * it before every message (the pre-message hook: a message may remap the guest's
	 * memory or move its rings) and it opens again after, with the new mappings. The
	 * handler must not wait for the `ready` gate instead: a worker inside
	 * rte_vhost_enqueue_burst may be waiting for a ring lock the handler holds. The
	 * path itself takes no lock of librte_vhost's. */
	bool direct_allowed; /* direct=1, the default */
	bool direct_refusal_logged;
	struct e2_gate direct;
	struct e2_gate_mark direct_rxq[VHOST_QUEUES_MAX], direct_txq[VHOST_QUEUES_MAX];
	struct vd_dev vd;
	struct vd_ring guest_rx[VHOST_QUEUES_MAX], guest_tx[VHOST_QUEUES_MAX];
	atomic_bool vring_ready[VHOST_QUEUES_MAX * 2]; /* as librte_vhost's vring_state_changed says */
	atomic_bool rarp_pending;                      /* librte_vhost announces a migrated guest on its next dequeue */
};

/* librte_vhost's callbacks name only a device id; this maps its socket path back to
 * our port. Touched by the control thread (open/close) and the vhost-events thread. */
static struct {
	pthread_mutex_t lock;
	struct vhost_dev *devs[VHOST_PORTS_MAX];
} registry = {.lock = PTHREAD_MUTEX_INITIALIZER};

static struct vhost_dev *find_locked(int vid)
{
	char path[PATH_MAX];

	if (rte_vhost_get_ifname(vid, path, sizeof(path)) != 0)
		return NULL;
	for (size_t i = 0; i < RTE_DIM(registry.devs); i++)
		if (registry.devs[i] && strcmp(registry.devs[i]->path, path) == 0)
			return registry.devs[i];
	return NULL;
}

/* Events thread, registry.lock held, the direct gate closed: opens it when the device
 * can take the single-copy path. */
static void direct_attach(struct vhost_dev *d, int vid)
{
	const char *why = NULL;

	if (!d->direct_allowed)
		return;
	if (vd_dev_attach(&d->vd, vid, &why) != 0) {
		if (!d->direct_refusal_logged)
			E2_INFO("port %s: no single-copy path: %s", d->port->name, why);
		d->direct_refusal_logged = true;
		return;
	}
	for (uint16_t q = 0; q < d->n_queues; q++) {
		vd_ring_attach(&d->guest_rx[q], vid, q * 2); /* a ring not set up stays unattached */
		vd_ring_attach(&d->guest_tx[q], vid, q * 2 + 1);
	}
	e2_gate_open(&d->direct);
}

/* ...and closes it, once no worker is inside. The indexes are librte_vhost's already
 * (given back after every burst). */
static void direct_detach(struct vhost_dev *d)
{
	if (!e2_gate_is_open(&d->direct))
		return;
	e2_gate_close(&d->direct);
	e2_gate_wait(d->direct_rxq, d->n_queues);
	e2_gate_wait(d->direct_txq, d->n_queues);
	vd_dev_detach(&d->vd);
}

static enum rte_vhost_msg_result direct_pre_msg(int vid, void *msg)
{
	(void)msg;
	pthread_mutex_lock(&registry.lock);
	struct vhost_dev *d = find_locked(vid);
	if (d && atomic_load(&d->vid) == vid)
		direct_detach(d);
	pthread_mutex_unlock(&registry.lock);
	return RTE_VHOST_MSG_RESULT_NOT_HANDLED;
}

/* The vhost-user message that asks the back-end to announce a migrated guest: a
 * message begins with its request code (the vhost-user specification). */
#define VHOST_USER_SEND_RARP 19

static enum rte_vhost_msg_result direct_post_msg(int vid, void *msg)
{
	uint32_t request;

	memcpy(&request, msg, sizeof(request));
	pthread_mutex_lock(&registry.lock);
	struct vhost_dev *d = find_locked(vid);
	if (d && atomic_load(&d->vid) == vid && e2_gate_is_open(&d->ready)) {
		if (request == VHOST_USER_SEND_RARP)
			atomic_store(&d->rarp_pending, true); /* dequeue makes it: take that path once */
		direct_attach(d, vid);
	}
	pthread_mutex_unlock(&registry.lock);
	return RTE_VHOST_MSG_RESULT_NOT_HANDLED;
}

static const struct rte_vhost_user_extern_ops direct_msg_ops = {
	.pre_msg_handle = direct_pre_msg,
	.post_msg_handle = direct_post_msg,
};

static int new_device(int vid)
{
	pthread_mutex_lock(&registry.lock);
	struct vhost_dev *d = find_locked(vid);
	if (d && e2_gate_is_open(&d->ready)) {
		E2_WARN("port %s: a second front-end connected to %s; refused", d->port->name, d->path);
		d = NULL;
	} else if (d) {
		/* e2d polls: the front-end need not kick us */
		for (uint16_t i = 0; i < rte_vhost_get_vring_num(vid); i++)
			rte_vhost_enable_guest_notification(vid, i, 0);
		atomic_store(&d->vid, vid);
		d->sample_vid = vid;
		e2_gate_open(&d->ready);
		if (d->direct_allowed && rte_vhost_extern_callback_register(vid, &direct_msg_ops, NULL) == 0)
			direct_attach(d, vid);
		E2_INFO("port %s: link up%s", d->port->name, e2_gate_is_open(&d->direct) ? " (single-copy path)" : "");
	}
	pthread_mutex_unlock(&registry.lock);
	return d ? 0 : -1;
}

static void destroy_device(int vid)
{
	pthread_mutex_lock(&registry.lock);
	struct vhost_dev *d = find_locked(vid);
	if (d && atomic_load(&d->vid) == vid) {
		direct_detach(d);
		e2_gate_close(&d->ready);
		e2_gate_wait(d->rxq, d->n_queues);
		e2_gate_wait(d->txq, d->n_queues);
		atomic_store(&d->vid, -1);
		for (size_t i = 0; i < RTE_DIM(d->vring_ready); i++)
			atomic_store(&d->vring_ready[i], false);
		E2_INFO("port %s: link down", d->port->name);
	}
	pthread_mutex_unlock(&registry.lock);
}

/* librte_vhost is about to free the device: no sample may still be reading it. */
static void destroy_connection(int vid)
{
	pthread_mutex_lock(&registry.lock);
	struct vhost_dev *d = find_locked(vid);
	if (d && atomic_load(&d->vid) < 0) /* a connection that never ran leaves no ring state */
		for (size_t i = 0; i < RTE_DIM(d->vring_ready); i++)
			atomic_store(&d->vring_ready[i], false);
	if (d && d->sample_vid == vid) {
		d->sample_vid = -1;
		/* a sample needs no lock to finish, only its ring's lock, which nobody
		 * holds for long now that the device is stopped */
		while (atomic_load(&d->sampling))
			rte_pause();
	}
	pthread_mutex_unlock(&registry.lock);
}

/* librte_vhost checks a ring's state on every burst of its own; the single-copy path
 * checks what this keeps. */
static int vring_state_changed(int vid, uint16_t queue, int enable)
{
	pthread_mutex_lock(&registry.lock);
	struct vhost_dev *d = find_locked(vid);
	int cur = d ? atomic_load(&d->vid) : -1;
	if (d && queue < RTE_DIM(d->vring_ready) && (cur == vid || cur < 0))
		atomic_store(&d->vring_ready[queue], enable != 0);
	pthread_mutex_unlock(&registry.lock);
	return 0;
}

static const struct rte_vhost_device_ops vhost_ops = {
	.new_device = new_device,
	.destroy_device = destroy_device,
	.vring_state_changed = vring_state_changed,
	.destroy_connection = destroy_connection,
};

static uint16_t vhost_rx(struct e2_port *p, uint16_t queue, struct rte_mbuf **pkts, uint16_t n)
{
	struct vhost_dev *d = p->dev;
	struct e2_gate_mark *q = &d->rxq[queue];
	uint16_t got;

	if (!e2_gate_enter(&d->ready, q))
		return 0;
	/* the guest's transmit ring of pair `queue` */
	got = rte_vhost_dequeue_burst(atomic_load_explicit(&d->vid, memory_order_relaxed), queue * 2 + 1, d->pool, pkts,
				      n);
	e2_gate_leave(q);
	return got;
}

/* Returns what enqueue copied to the pool. The mbufs of a vhost dequeue (what e2d
 * forwards between vhost ports) are plain: one segment, direct, not shared, all from
 * one pool. Those go back in one bulk put, which reads only the first cache line of
 * each and is inlined here (rte_pktmbuf_free_bulk: a call into librte_mbuf, per mbuf
 * its generic checks, its lcore id through __tls_get_addr: 3-4 % of the worker at 64
 * bytes). Anything else takes the general path. */
static inline void free_sent(struct rte_mbuf **pkts, uint16_t n)
{
	if (unlikely(n == 0))
		return;
	struct rte_mempool *pool = pkts[0]->pool;
	for (uint16_t i = 0; i < n; i++) {
		const struct rte_mbuf *m = pkts[i];
		if (unlikely(m->pool != pool || m->nb_segs != 1 || !RTE_MBUF_DIRECT(m) ||
			     rte_mbuf_refcnt_read(m) != 1)) {
			rte_pktmbuf_free_bulk(pkts, n);
			return;
		}
	}
	rte_mempool_put_bulk(pool, (void **)pkts, n);
}

static uint16_t vhost_tx(struct e2_port *p, uint16_t queue, struct rte_mbuf **pkts, uint16_t n)
{
	struct vhost_dev *d = p->dev;
	struct e2_gate_mark *q = &d->txq[queue];
	uint16_t sent;

	if (!e2_gate_enter(&d->ready, q))
		return 0;
	sent = rte_vhost_enqueue_burst(atomic_load_explicit(&d->vid, memory_order_relaxed), queue * 2, pkts, n);
	e2_gate_leave(q);
	/* enqueue copied the frames into the guest's buffers */
	free_sent(pkts, sent);
	return sent;
}

static_assert(E2_PORT_FWD_DESTS_MAX == VD_DESTS_MAX, "port.h and vhost_direct.h agree on the destinations");
/* pick is handed on as it is: the path's frame heads are the modules' */
static_assert(sizeof(struct vd_head) == sizeof(struct e2_frame_head) &&
		      offsetof(struct vd_head, data) == offsetof(struct e2_frame_head, data) &&
		      offsetof(struct vd_head, head_len) == offsetof(struct e2_frame_head, head_len) &&
		      offsetof(struct vd_head, len) == offsetof(struct e2_frame_head, len),
	      "struct vd_head is struct e2_frame_head");

static bool vhost_forward(struct e2_port *p, uint16_t queue, struct e2_port *const *to_ports, uint16_t n_to, uint16_t n,
			  uint16_t stop_ethertype, e2_port_pick_fn pick, void *arg, struct e2_port_fwd *res)
{
	struct vhost_dev *from = p->dev;
	struct e2_gate_mark *in = &from->direct_rxq[queue];
	struct vd_ring *tx = &from->guest_tx[queue];
	struct vd_dest dests[VD_DESTS_MAX];
	int to_vid[VD_DESTS_MAX];
	uint16_t entered = 0;
	bool ok = false;

	if (n_to == 0 || n_to > VD_DESTS_MAX)
		return false;
	/* librte_vhost announces a migrated guest inside its dequeue: the caller's takes it */
	if (unlikely(atomic_load_explicit(&from->rarp_pending, memory_order_relaxed))) {
		atomic_store(&from->rarp_pending, false);
		return false;
	}
	if (!e2_gate_enter(&from->direct, in))
		return false;
	for (; entered < n_to; entered++) {
		struct vhost_dev *to = to_ports[entered]->dev;
		if (!e2_gate_enter(&to->direct, &to->direct_txq[0]))
			goto out;
		if (unlikely(!vd_ring_attached(&to->guest_rx[0]) ||
			     !atomic_load_explicit(&to->vring_ready[0], memory_order_relaxed))) {
			e2_gate_leave(&to->direct_txq[0]);
			goto out;
		}
		dests[entered] = (struct vd_dest){.dev = &to->vd, .ring = &to->guest_rx[0]};
		to_vid[entered] = atomic_load_explicit(&to->vid, memory_order_relaxed);
	}
	if (likely(vd_ring_attached(tx) &&
		   atomic_load_explicit(&from->vring_ready[queue * 2 + 1], memory_order_relaxed))) {
		int from_vid = atomic_load_explicit(&from->vid, memory_order_relaxed);
		struct vd_result r;
		/* librte_vhost's bursts may have moved the indexes since our last */
		vd_ring_take(tx, from_vid, queue * 2 + 1);
		for (uint16_t j = 0; j < n_to; j++)
			vd_ring_take(dests[j].ring, to_vid[j], 0);
		if (n_to == 1 && !pick) { /* the plain pair: the path built for it */
			vd_forward(&from->vd, tx, dests[0].dev, dests[0].ring, n, stop_ethertype, &r);
			dests[0].placed = r.placed;
			dests[0].no_room = r.no_room;
			dests[0].bytes_placed = r.bytes_placed;
		} else {
			vd_forward_to(&from->vd, tx, dests, n_to, n, stop_ethertype, (vd_pick_fn)pick, arg, &r);
		}
		if (r.taken)
			vd_ring_give(tx, from_vid, queue * 2 + 1);
		*res = (struct e2_port_fwd){.taken = r.taken,
					    .placed = r.placed,
					    .no_room = r.no_room,
					    .malformed = r.malformed,
					    .bytes_taken = r.bytes_taken,
					    .bytes_placed = r.bytes_placed,
					    .stopped = r.stopped};
		for (uint16_t j = 0; j < n_to; j++) {
			if (dests[j].placed)
				vd_ring_give(dests[j].ring, to_vid[j], 0);
			res->to_placed[j] = dests[j].placed;
			res->to_no_room[j] = dests[j].no_room;
			res->to_bytes_placed[j] = dests[j].bytes_placed;
		}
		ok = true;
	}
out:
	while (entered)
		e2_gate_leave(&((struct vhost_dev *)to_ports[--entered]->dev)->direct_txq[0]);
	e2_gate_leave(in);
	return ok;
}

static bool vhost_link_up(const struct e2_port *p)
{
	const struct vhost_dev *d = p->dev;
	return e2_gate_is_open(&d->ready);
}

/* A sample of a ring the worker is inside of would spin on the lock the worker holds,
 * for the rest of our time slice if the worker was preempted there (the control thread
 * may share its core). Let the worker finish its burst and look again; after a few
 * tries give up and keep the last sample. Only the control thread samples. */
static bool ring_free(const struct e2_gate_mark *q)
{
	const struct timespec nap = {.tv_nsec = 50 * 1000};

	for (int i = 0; i < 4; i++) {
		if (!atomic_load_explicit(&q->busy, memory_order_acquire))
			return true;
		nanosleep(&nap, NULL);
	}
	return false;
}

/* The device a sample may read, counted in `sampling` until sample_end; -1: none. */
static int sample_begin(struct vhost_dev *d, uint16_t queue)
{
	int vid = -1;

	pthread_mutex_lock(&registry.lock);
	if (e2_gate_is_open(&d->ready) && queue < d->n_queues && d->sample_vid == atomic_load(&d->vid)) {
		vid = d->sample_vid;
		atomic_fetch_add(&d->sampling, 1);
	}
	pthread_mutex_unlock(&registry.lock);
	return vid;
}

static void sample_end(struct vhost_dev *d)
{
	atomic_fetch_sub(&d->sampling, 1);
}

static int vhost_rx_queue_count(const struct e2_port *p, uint16_t queue)
{
	struct vhost_dev *d = p->dev;
	int vid = sample_begin(d, queue);

	if (vid < 0)
		return d->last_queued = -1;
	/* the guest's transmit ring of pair `queue` */
	if (ring_free(&d->rxq[queue]))
		d->last_queued = (int)rte_vhost_rx_queue_count(vid, queue * 2 + 1);
	sample_end(d);
	return d->last_queued;
}

/* The guest's receive ring (vring queue*2): the buffers it has posted and we have not
 * filled are free; the rest hold packets it has not taken yet. */
static double vhost_tx_fill(const struct e2_port *p, uint16_t queue)
{
	struct vhost_dev *d = p->dev;
	struct rte_vhost_vring vr;
	int vid = sample_begin(d, queue);

	if (vid < 0)
		return d->last_fill = -1;
	if (rte_vhost_get_vhost_vring(vid, queue * 2, &vr) != 0 || !vr.size) {
		d->last_fill = -1;
	} else if (ring_free(&d->txq[queue])) {
		uint16_t avail = rte_vhost_avail_entries(vid, queue * 2);
		d->last_fill = avail >= vr.size ? 0 : 1.0 - (double)avail / vr.size;
	}
	sample_end(d);
	return d->last_fill;
}

static uint64_t vhost_rx_drops(const struct e2_port *p)
{
	(void)p;
	return 0; /* what the guest could not place in a full ring, it counts itself */
}

static void unregister(struct vhost_dev *d)
{
	pthread_mutex_lock(&registry.lock);
	for (size_t i = 0; i < RTE_DIM(registry.devs); i++)
		if (registry.devs[i] == d)
			registry.devs[i] = NULL;
	pthread_mutex_unlock(&registry.lock);
}

static void vhost_close(struct e2_port *p)
{
	struct vhost_dev *d = p->dev;

	/* Detaches a connected front-end first (destroy_device runs, so d stays registered
	 * until then); not under the registry lock, which the callbacks take. */
	rte_vhost_driver_unregister(d->path);
	unregister(d);
	free(d);
}

static const struct e2_port_ops vhost_port_ops = {
	.rx = vhost_rx,
	.tx = vhost_tx,
	.forward = vhost_forward,
	.link_up = vhost_link_up,
	.rx_queue_count = vhost_rx_queue_count,
	.rx_drops = vhost_rx_drops,
	.tx_fill = vhost_tx_fill,
	.close = vhost_close,
};

/* librte_vhost only logs why a server socket cannot bind: say it to the user. */
static bool server_path_unusable(const char *path, char *err)
{
	char dir[sizeof(((struct sockaddr_un *)0)->sun_path)];
	struct stat st;

	if (lstat(path, &st) == 0)
		return e2_port_claim_socket_path(path, SOCK_STREAM, "vhost-user", err) != 0;
	snprintf(dir, sizeof(dir), "%s", path);
	char *slash = strrchr(dir, '/');
	if (slash && slash != dir) {
		*slash = '\0';
		if (stat(dir, &st) != 0 || !S_ISDIR(st.st_mode)) {
			snprintf(err, E2_ERR_MAX, "directory %s of the vhost socket does not exist", dir);
			return true;
		}
	}
	return false;
}

static const char *const known[] = {"path", "client", "queues", "direct", NULL};

static int vhost_open(struct e2_port *p, const struct e2_args *args, struct rte_mempool *pool, char *err)
{
	const char *path = e2_args_get(args, "path");
	uint64_t client, queues, direct;
	struct vhost_dev *d;
	size_t slot;

	if (!path || !*path) {
		snprintf(err, E2_ERR_MAX, "vhost port needs path=SOCKET");
		return -1;
	}
	if (e2_args_u64(args, "client", 0, 0, 1, &client, err) < 0 ||
	    e2_args_u64(args, "queues", 1, 1, VHOST_QUEUES_MAX, &queues, err) < 0 ||
	    e2_args_u64(args, "direct", 1, 0, 1, &direct, err) < 0)
		return -1;
	e2_gate_setup();
	d = calloc(1, sizeof(*d));
	if (!d) {
		snprintf(err, E2_ERR_MAX, "out of memory");
		return -1;
	}
	if (strlen(path) >= sizeof(d->path)) {
		snprintf(err, E2_ERR_MAX, "vhost socket path is longer than %zu bytes", sizeof(d->path) - 1);
		free(d);
		return -1;
	}
	snprintf(d->path, sizeof(d->path), "%s", path);
	if (!client && server_path_unusable(d->path, err)) {
		free(d);
		return -1;
	}
	d->port = p;
	d->pool = pool;
	d->n_queues = (uint16_t)queues;
	d->direct_allowed = direct;
	atomic_init(&d->vid, -1);
	d->sample_vid = -1;

	pthread_mutex_lock(&registry.lock);
	for (slot = 0; slot < RTE_DIM(registry.devs); slot++)
		if (registry.devs[slot] && strcmp(registry.devs[slot]->path, d->path) == 0)
			break;
	if (slot < RTE_DIM(registry.devs)) {
		pthread_mutex_unlock(&registry.lock);
		snprintf(err, E2_ERR_MAX, "socket %s is already used by port '%s'", path,
			 registry.devs[slot]->port->name);
		free(d);
		return -1;
	}
	for (slot = 0; slot < RTE_DIM(registry.devs) && registry.devs[slot]; slot++)
		;
	if (slot == RTE_DIM(registry.devs)) {
		pthread_mutex_unlock(&registry.lock);
		snprintf(err, E2_ERR_MAX, "too many vhost ports");
		free(d);
		return -1;
	}
	registry.devs[slot] = d;
	pthread_mutex_unlock(&registry.lock);

	uint64_t flags = RTE_VHOST_USER_NET_COMPLIANT_OL_FLAGS | (client ? RTE_VHOST_USER_CLIENT : 0);
	if (rte_vhost_driver_register(d->path, flags) != 0) {
		snprintf(err, E2_ERR_MAX, "cannot %s vhost-user socket %s (exists already, or a bad directory?)",
			 client ? "use" : "create", path);
		unregister(d);
		free(d);
		return -1;
	}
	if (rte_vhost_driver_disable_features(d->path, VHOST_UNSUPPORTED_FEATURES) != 0 ||
	    rte_vhost_driver_callback_register(d->path, &vhost_ops) != 0 || rte_vhost_driver_start(d->path) != 0) {
		snprintf(err, E2_ERR_MAX, "cannot start vhost-user on %s (see e2d's log)", path);
		rte_vhost_driver_unregister(d->path);
		unregister(d);
		free(d);
		return -1;
	}
	snprintf(p->devargs, sizeof(p->devargs), "vhost-user,path=%s,client=%llu,queues=%llu,direct=%llu", path,
		 (unsigned long long)client, (unsigned long long)queues, (unsigned long long)direct);
	snprintf(p->devname, sizeof(p->devname), "vhost:%s", p->name);
	p->dev = d;
	p->ops = &vhost_port_ops;
	return 0;
}

static const struct e2_port_driver port_vhost = {
	.name = "vhost",
	.help = "vhost-user port for a VM or virtio-user process: path=SOCK [client=0|1] [queues=N] [direct=0|1]"
		" (direct: frames to another vhost port copied once, guest to guest; default 1)",
	.known_args = known,
	.open = vhost_open,
};
E2_PORT_DRIVER_REGISTER(port_vhost)
