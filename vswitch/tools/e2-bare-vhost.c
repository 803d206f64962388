/* SPDX-License-Identifier: BSD-3-Clause */
/* e2-bare-vhost: the physical-limit reference of bench/vswitch. It forwards between
 * two vhost-user devices with nothing but librte_vhost: a dequeue burst from one
 * device, an enqueue burst to the other, both directions, on one pinned lcore.
 * What e2d costs beyond this loop is what e2d itself adds.
 *
 *   e2-bare-vhost [EAL args: two lcores] -- [--report FILE] SOCK0 SOCK1
 *
 * It is the vhost-user client on both sockets, as e2d is in the bench, and sets up
 * librte_vhost as e2d's vhost port does (same disabled offloads, guest notifications
 * off, same mempool and burst size): otherwise the comparison measures settings,
 * not e2d.
 *
 * Cycles are counted exactly as e2d's worker counts them (worker.c): one TSC read
 * per direction, the end of one the start of the next; a direction that dequeued
 * packets adds its cycles to busy_cycles and its packets to pkts, one that did not
 * adds them to the idle cycles, and so do sleeps. SIGUSR1 zeroes the counters (the
 * start of the harness's window), SIGUSR2 writes
 *   busy_cycles=B pkts=P total_cycles=T drops=D
 * to the report file (T = busy + idle since the reset; D: frames taken from one guest
 * that the other had no room for, or that --direct found malformed, since the start,
 * never reset, so that a test can account for every frame). No other statistics.
 *
 * --direct: the single-copy path of ../shared/notes/vhost-limit.md (ports/vhost_direct.c,
 * the code e2d's vhost port runs), alone. The loop reads one guest's transmit ring and writes the other's receive
 * ring itself (split rings only): each frame is copied once, guest buffer to guest
 * buffer, with no mbuf in between. librte_vhost still speaks the vhost-user protocol
 * and owns the ring indexes whenever the loop is out of a device: it hands them over
 * at link up and after every message, and gets them back before the next message and
 * at link down (librte_vhost's own bursts are guarded by ring locks the loop does not
 * take, so it leaves a device while librte_vhost handles any message: a front-end
 * that allocates memory after start sends a new memory table). Dirty-page logging and
 * an IOMMU are not done: a device that negotiates them is refused at link up. */
#include <getopt.h>
#include <signal.h>
#include <stdatomic.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/prctl.h>
#include <sys/socket.h>
#include <sys/un.h>
#include <time.h>

#include <rte_cycles.h>
#include <rte_eal.h>
#include <rte_launch.h>
#include <rte_lcore.h>
#include <rte_mbuf.h>
#include <rte_pause.h>
#include <rte_vhost.h>

#include "../ports/vhost_direct.h"

/* e2d's values: E2_BATCH_MAX (module.h) and the pool of e2_dp_init (dp.c) with
 * e2d's default --mbufs. */
#define BURST 32
#define POOL_MBUFS 16383
#define POOL_CACHE 256
/* An idle back-off, doubling from 1 us: a full-load run never reaches it, it only keeps
 * the loop quiet before and after one (e2d's own idle policy is e2_idle_nap_us in vswitch/worker.c). */
#define MAX_SLEEP_US 250

/* The guest's rings of queue pair 0: it receives on 0 and transmits on 1. */
#define GUEST_RXQ 0
#define GUEST_TXQ 1

/* As e2d's vhost port (ports/port_vhost.c): offloads e2d does not perform, so the
 * front-end sends whole frames and no virtio-net header is parsed per packet. */
#define UNSUPPORTED_FEATURES                                                                                        \
	((1ULL << VIRTIO_NET_F_CSUM) | (1ULL << VIRTIO_NET_F_GUEST_CSUM) | (1ULL << VIRTIO_NET_F_HOST_TSO4) |       \
	 (1ULL << VIRTIO_NET_F_HOST_TSO6) | (1ULL << VIRTIO_NET_F_GUEST_TSO4) | (1ULL << VIRTIO_NET_F_GUEST_TSO6) | \
	 (1ULL << VIRTIO_NET_F_HOST_UFO) | (1ULL << VIRTIO_NET_F_GUEST_UFO) | (1ULL << VIRTIO_NET_F_HOST_ECN) |     \
	 (1ULL << VIRTIO_NET_F_GUEST_ECN))

struct dev {
	char path[sizeof(((struct sockaddr_un *)0)->sun_path)];
	atomic_int vid;
	atomic_bool ready;
	/* --direct only, set up by new_device before `ready` */
	struct vd_dev vd;
	struct vd_ring rx, tx; /* the guest's receive and transmit rings */
};

static struct dev devs[2];
static struct rte_mempool *pool;
static const char *report_path;
static bool direct;

/* Set by signal handlers, read by the forwarding loop: no locks anywhere. */
static volatile sig_atomic_t stop, reset_req, report_req;

/* The forwarding loop and destroy_device (vhost-events thread) meet here, as in e2d:
 * the loop marks itself inside the devices and re-checks `ready`; destroy_device
 * clears `ready` and waits until the loop is outside, so no ring is torn down under
 * a burst. One flag per round of both directions. */
static atomic_int in_burst;

static void on_signal(int s)
{
	if (s == SIGUSR1)
		reset_req = 1;
	else if (s == SIGUSR2)
		report_req = 1;
	else
		stop = 1;
}

static struct dev *dev_of(int vid)
{
	char path[sizeof(devs[0].path)];

	if (rte_vhost_get_ifname(vid, path, sizeof(path)) != 0)
		return NULL;
	for (int i = 0; i < 2; i++)
		if (strcmp(devs[i].path, path) == 0)
			return &devs[i];
	return NULL;
}

static int direct_attach(struct dev *d, int vid)
{
	const char *why = "its rings are not set up";

	if (vd_dev_attach(&d->vd, vid, &why) != 0 || vd_ring_attach(&d->rx, vid, GUEST_RXQ) != 0 ||
	    vd_ring_attach(&d->tx, vid, GUEST_TXQ) != 0) {
		fprintf(stderr, "e2-bare-vhost: %s: no --direct: %s\n", d->path, why);
		vd_dev_detach(&d->vd);
		return -1;
	}
	return 0;
}

/* The loop is out of every device once `ready` is down and in_burst is clear. */
static void quiesce(struct dev *d)
{
	atomic_store(&d->ready, false);
	while (atomic_load(&in_burst))
		rte_pause();
}

/* --direct: librte_vhost keeps the ring indexes of a device the loop is not in. */
static void direct_detach(struct dev *d, int vid)
{
	if (!d->vd.mem)
		return;
	vd_ring_give(&d->rx, vid, GUEST_RXQ);
	vd_ring_give(&d->tx, vid, GUEST_TXQ);
	vd_dev_detach(&d->vd);
}

/* --direct: a running device gets messages that remap its memory or move its rings
 * (a front-end that allocates memory after start sends a new memory table).
 * librte_vhost guards its own bursts with the rings' locks; the loop takes none, so
 * it leaves the device before librte_vhost handles any message, and comes back
 * after it with the new mappings. A message that fails has no `post`: the device
 * then stays paused until the next one. */
static enum rte_vhost_msg_result direct_pre(int vid, void *msg)
{
	struct dev *d = dev_of(vid);

	(void)msg;
	if (d && atomic_load(&d->vid) == vid && d->vd.mem) {
		quiesce(d);
		direct_detach(d, vid);
	}
	return RTE_VHOST_MSG_RESULT_NOT_HANDLED;
}

static enum rte_vhost_msg_result direct_post(int vid, void *msg)
{
	struct dev *d = dev_of(vid);

	(void)msg;
	if (d && atomic_load(&d->vid) == vid && !d->vd.mem && direct_attach(d, vid) == 0)
		atomic_store(&d->ready, true);
	return RTE_VHOST_MSG_RESULT_NOT_HANDLED;
}

static const struct rte_vhost_user_extern_ops direct_ops = {
	.pre_msg_handle = direct_pre,
	.post_msg_handle = direct_post,
};

static int new_device(int vid)
{
	struct dev *d = dev_of(vid);

	if (!d || atomic_load(&d->vid) >= 0)
		return -1; /* a second front-end on one socket */
	if (direct && (direct_attach(d, vid) != 0 || rte_vhost_extern_callback_register(vid, &direct_ops, NULL) != 0)) {
		direct_detach(d, vid);
		return -1;
	}
	/* we poll: the front-end need not kick us on every burst */
	for (uint16_t i = 0; i < rte_vhost_get_vring_num(vid); i++)
		rte_vhost_enable_guest_notification(vid, i, 0);
	atomic_store(&d->vid, vid);
	atomic_store(&d->ready, true);
	fprintf(stderr, "e2-bare-vhost: %s: link up\n", d->path);
	return 0;
}

static void destroy_device(int vid)
{
	struct dev *d = dev_of(vid);

	if (!d || atomic_load(&d->vid) != vid)
		return;
	quiesce(d);
	/* librte_vhost tells the front-end where its rings stopped */
	direct_detach(d, vid);
	atomic_store(&d->vid, -1);
	fprintf(stderr, "e2-bare-vhost: %s: link down\n", d->path);
}

static const struct rte_vhost_device_ops ops = {
	.new_device = new_device,
	.destroy_device = destroy_device,
};

/* One burst from `from`'s transmit ring to `to`'s receive ring; returns the frames
 * taken (forwarded, or dropped for want of room as a dequeue+enqueue would, or
 * malformed: those two added to *drops). */
static uint16_t direct_burst(struct dev *from, struct dev *to, uint64_t *drops)
{
	struct vd_result r;

	vd_forward(&from->vd, &from->tx, &to->vd, &to->rx, BURST, 0, &r);
	*drops += r.no_room + r.malformed;
	return r.taken;
}

static void sleep_us(uint32_t us)
{
	struct timespec ts = {.tv_sec = us / 1000000, .tv_nsec = (long)(us % 1000000) * 1000};
	nanosleep(&ts, NULL);
}

/* Written whole under a temporary name, so the harness never reads half a line. */
static void report(uint64_t busy, uint64_t idle, uint64_t pkts, uint64_t drops)
{
	char tmp[4096];
	FILE *f;

	if (!report_path)
		return;
	snprintf(tmp, sizeof(tmp), "%s.tmp", report_path);
	f = fopen(tmp, "w");
	if (!f)
		return;
	fprintf(f, "busy_cycles=%llu pkts=%llu total_cycles=%llu drops=%llu\n", (unsigned long long)busy,
		(unsigned long long)pkts, (unsigned long long)(busy + idle), (unsigned long long)drops);
	if (fclose(f) == 0)
		rename(tmp, report_path);
}

static int forward(void *arg)
{
	struct rte_mbuf *pkts[BURST];
	uint64_t busy = 0, idle = 0, npkts = 0, drops = 0;
	uint32_t nap = 1;

	(void)arg;
	/* Sleep as precisely as asked, as e2d's worker does. */
	prctl(PR_SET_TIMERSLACK, 1000UL, 0, 0, 0);
	uint64_t now = rte_rdtsc();
	while (!stop) {
		if (reset_req) {
			reset_req = 0;
			busy = idle = npkts = 0;
		}
		if (report_req) {
			report_req = 0;
			report(busy, idle, npkts, drops);
			now = rte_rdtsc(); /* the file write is outside any window */
		}
		atomic_store(&in_burst, 1);
		if (!atomic_load(&devs[0].ready) || !atomic_load(&devs[1].ready)) {
			/* Nothing to forward: sleep, as an idle e2d worker does, so that a
			 * reference left waiting does not take a shared core. */
			atomic_store_explicit(&in_burst, 0, memory_order_release);
			sleep_us(nap);
			nap = nap * 2 > MAX_SLEEP_US ? MAX_SLEEP_US : nap * 2;
			uint64_t woke = rte_rdtsc();
			idle += woke - now;
			now = woke;
			continue;
		}
		/* While both devices are up: busy-poll, never sleep. */
		nap = 1;
		for (int dir = 0; dir < 2; dir++) {
			int from = atomic_load_explicit(&devs[dir].vid, memory_order_relaxed);
			int to = atomic_load_explicit(&devs[!dir].vid, memory_order_relaxed);
			uint16_t n;
			if (direct) {
				n = direct_burst(&devs[dir], &devs[!dir], &drops);
			} else if ((n = rte_vhost_dequeue_burst(from, GUEST_TXQ, pool, pkts, BURST)) != 0) {
				drops += n - rte_vhost_enqueue_burst(to, GUEST_RXQ, pkts, n);
				/* enqueue copied what it took into the guest's buffers; the
				 * rest is dropped: either way every mbuf goes back */
				rte_pktmbuf_free_bulk(pkts, n);
			}
			uint64_t end = rte_rdtsc();
			if (n) {
				busy += end - now;
				npkts += n;
			} else {
				idle += end - now;
			}
			now = end;
		}
		atomic_store_explicit(&in_burst, 0, memory_order_release);
	}
	return 0;
}

static int start_dev(struct dev *d, const char *path)
{
	if (strlen(path) >= sizeof(d->path)) {
		fprintf(stderr, "e2-bare-vhost: socket path %s is too long\n", path);
		return -1;
	}
	snprintf(d->path, sizeof(d->path), "%s", path);
	atomic_init(&d->vid, -1);
	if (rte_vhost_driver_register(d->path, RTE_VHOST_USER_CLIENT | RTE_VHOST_USER_NET_COMPLIANT_OL_FLAGS) != 0 ||
	    rte_vhost_driver_disable_features(d->path, UNSUPPORTED_FEATURES) != 0 ||
	    rte_vhost_driver_callback_register(d->path, &ops) != 0 || rte_vhost_driver_start(d->path) != 0) {
		fprintf(stderr, "e2-bare-vhost: cannot start vhost-user on %s\n", path);
		return -1;
	}
	return 0;
}

int main(int argc, char **argv)
{
	static const struct option lo[] = {{"report", 1, NULL, 'r'}, {"direct", 0, NULL, 'd'}, {NULL, 0, NULL, 0}};
	struct sigaction sa = {.sa_handler = on_signal};
	int n, c, rc = 1;
	unsigned fwd_lcore;

	/* Before the EAL starts: a reset or report must never kill us (SIGUSR's default). */
	sigaction(SIGUSR1, &sa, NULL);
	sigaction(SIGUSR2, &sa, NULL);
	sigaction(SIGTERM, &sa, NULL);
	sigaction(SIGINT, &sa, NULL);
	n = rte_eal_init(argc, argv);
	if (n < 0) {
		fprintf(stderr, "e2-bare-vhost: cannot start DPDK\n");
		return 2;
	}
	argc -= n;
	argv += n;
	optind = 1;
	while ((c = getopt_long(argc, argv, "", lo, NULL)) != -1) {
		if (c == 'd') {
			direct = true;
			continue;
		}
		if (c != 'r') {
			fprintf(stderr, "usage: e2-bare-vhost [EAL args] -- [--report FILE] [--direct] SOCK0 SOCK1\n");
			goto out_eal;
		}
		report_path = optarg;
	}
	if (argc - optind != 2) {
		fprintf(stderr, "usage: e2-bare-vhost [EAL args] -- [--report FILE] [--direct] SOCK0 SOCK1\n");
		goto out_eal;
	}
	fwd_lcore = rte_get_next_lcore(-1, 1, 0);
	if (fwd_lcore >= RTE_MAX_LCORE) {
		fprintf(stderr, "e2-bare-vhost: needs a second lcore to forward on (e.g. --lcores 0@1,1@1)\n");
		goto out_eal;
	}
	/* --direct copies guest to guest: no mbufs */
	if (!direct)
		pool = rte_pktmbuf_pool_create("bare_pool", POOL_MBUFS, POOL_CACHE, 0, RTE_MBUF_DEFAULT_BUF_SIZE,
					       (int)rte_socket_id());
	if (!direct && !pool) {
		fprintf(stderr, "e2-bare-vhost: cannot allocate %u packet buffers\n", POOL_MBUFS);
		goto out_eal;
	}
	if (start_dev(&devs[0], argv[optind]) != 0)
		goto out_pool;
	if (start_dev(&devs[1], argv[optind + 1]) != 0) {
		rte_vhost_driver_unregister(devs[0].path);
		goto out_pool;
	}
	rte_eal_remote_launch(forward, NULL, fwd_lcore);
	/* The main lcore only waits, asleep: rte_eal_wait_lcore would spin on the
	 * forwarder's core. */
	while (!stop)
		sleep_us(100000);
	rte_eal_wait_lcore(fwd_lcore);
	/* The forwarder is out of the devices for good: destroy_device will not wait. */
	rte_vhost_driver_unregister(devs[0].path);
	rte_vhost_driver_unregister(devs[1].path);
	rc = 0;
out_pool:
	rte_mempool_free(pool);
out_eal:
	rte_eal_cleanup();
	return rc;
}
