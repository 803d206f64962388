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
 * --direct: the single-copy path of ../shared/notes/vhost-limit.md, to measure what it
 * would buy. The loop reads one guest's transmit ring and writes the other's receive
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

/* --direct: one split ring as the loop drives it; indexes are free-running. */
struct ring {
	struct rte_vhost_vring vr;
	uint16_t last_avail, last_used;
	uint16_t signalled_used;
	bool signalled_valid;
};

struct dev {
	char path[sizeof(((struct sockaddr_un *)0)->sun_path)];
	atomic_int vid;
	atomic_bool ready;
	/* --direct only, set up by new_device before `ready` */
	struct rte_vhost_memory *mem;
	uint64_t features;
	uint32_t hdr_len;
	bool mrg, in_order;
	uint32_t hint;      /* the memory region of the last translation */
	struct ring rx, tx; /* the guest's receive and transmit rings */
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

static int ring_attach(int vid, uint16_t q, struct ring *r)
{
	memset(r, 0, sizeof(*r));
	if (rte_vhost_get_vhost_vring(vid, q, &r->vr) != 0 || !r->vr.desc || !r->vr.avail || !r->vr.used ||
	    !rte_is_power_of_2(r->vr.size))
		return -1;
	return rte_vhost_get_vring_base(vid, q, &r->last_avail, &r->last_used);
}

static int direct_attach(struct dev *d, int vid)
{
	const uint64_t refused =
		(1ULL << VIRTIO_F_RING_PACKED) | (1ULL << VHOST_F_LOG_ALL) | (1ULL << VIRTIO_F_IOMMU_PLATFORM);

	if (rte_vhost_get_negotiated_features(vid, &d->features) != 0 || (d->features & refused)) {
		fprintf(stderr, "e2-bare-vhost: %s: --direct needs split rings without logging or IOMMU\n", d->path);
		return -1;
	}
	d->mrg = d->features & (1ULL << VIRTIO_NET_F_MRG_RXBUF);
	d->in_order = d->features & (1ULL << VIRTIO_F_IN_ORDER);
	d->hdr_len = d->mrg || (d->features & (1ULL << VIRTIO_F_VERSION_1)) ? sizeof(struct virtio_net_hdr_mrg_rxbuf)
									    : sizeof(struct virtio_net_hdr);
	d->hint = 0;
	if (rte_vhost_get_mem_table(vid, &d->mem) != 0 || d->mem->nregions == 0 ||
	    ring_attach(vid, GUEST_RXQ, &d->rx) != 0 || ring_attach(vid, GUEST_TXQ, &d->tx) != 0) {
		fprintf(stderr, "e2-bare-vhost: %s: cannot map the rings for --direct\n", d->path);
		free(d->mem);
		d->mem = NULL;
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
	if (!d->mem)
		return;
	rte_vhost_set_vring_base(vid, GUEST_RXQ, d->rx.last_avail, d->rx.last_used);
	rte_vhost_set_vring_base(vid, GUEST_TXQ, d->tx.last_avail, d->tx.last_used);
	free(d->mem);
	d->mem = NULL;
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
	if (d && atomic_load(&d->vid) == vid && d->mem) {
		quiesce(d);
		direct_detach(d, vid);
	}
	return RTE_VHOST_MSG_RESULT_NOT_HANDLED;
}

static enum rte_vhost_msg_result direct_post(int vid, void *msg)
{
	struct dev *d = dev_of(vid);

	(void)msg;
	if (d && atomic_load(&d->vid) == vid && !d->mem && direct_attach(d, vid) == 0)
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

/* A buffer chain as the loop copies into or out of it. */
#define CHAIN_SEGS_MAX 8
struct chain {
	uint8_t *p[CHAIN_SEGS_MAX];
	uint32_t len[CHAIN_SEGS_MAX];
	int n;
	uint32_t total;
};

/* Guest-physical to our address, trying the region of the last hit first (a guest's
 * rings and buffers mostly sit in one); NULL unless [gpa, gpa + len) is in one region. */
static inline uint8_t *guest_va(struct dev *d, uint64_t gpa, uint32_t len)
{
	const struct rte_vhost_mem_region *r = &d->mem->regions[d->hint];

	if (unlikely(gpa - r->guest_phys_addr >= r->size)) {
		uint32_t i;
		for (i = 0; i < d->mem->nregions; i++)
			if (gpa - d->mem->regions[i].guest_phys_addr < d->mem->regions[i].size)
				break;
		if (i == d->mem->nregions)
			return NULL;
		d->hint = i;
		r = &d->mem->regions[i];
	}
	if (unlikely(len > r->guest_phys_addr + r->size - gpa))
		return NULL;
	return (uint8_t *)(uintptr_t)(gpa - r->guest_phys_addr + r->host_user_addr);
}

/* The buffers of the chain at `head`, all writable (a receive chain) or all readable;
 * false for anything malformed: a bad index, a loop, a buffer outside guest memory or
 * across two regions, nested indirection, too many pieces. Each descriptor is read
 * once into a local, since the guest may be rewriting it. */
static bool chain_get(struct dev *d, const struct ring *r, uint16_t head, bool write, struct chain *c)
{
	const volatile struct vring_desc *tab = r->vr.desc;
	uint32_t tab_size = r->vr.size, idx = head;

	c->n = 0;
	c->total = 0;
	if (idx >= tab_size)
		return false;
	struct vring_desc first = tab[idx];
	if (first.flags & VRING_DESC_F_INDIRECT) {
		if (first.len == 0 || first.len % sizeof(struct vring_desc) != 0)
			return false;
		tab = (const volatile struct vring_desc *)guest_va(d, first.addr, first.len);
		if (!tab)
			return false;
		tab_size = first.len / sizeof(struct vring_desc);
		idx = 0;
	}
	for (uint32_t hops = 0;; hops++) {
		if (idx >= tab_size || hops >= tab_size || c->n == CHAIN_SEGS_MAX)
			return false;
		struct vring_desc dsc = tab[idx];
		if ((dsc.flags & VRING_DESC_F_INDIRECT) || !(dsc.flags & VRING_DESC_F_WRITE) != !write)
			return false;
		uint8_t *p = guest_va(d, dsc.addr, dsc.len);
		if (!p)
			return false;
		c->p[c->n] = p;
		c->len[c->n++] = dsc.len;
		c->total += dsc.len;
		if (!(dsc.flags & VRING_DESC_F_NEXT))
			return true;
		idx = dsc.next;
	}
}

/* After a burst moved a ring's used index: interrupt the guest if it asked for it
 * (as librte_vhost's vhost_vring_call_split decides). */
static void ring_call(const struct dev *d, struct ring *r)
{
	if (r->vr.callfd < 0)
		return;
	rte_atomic_thread_fence(__ATOMIC_SEQ_CST); /* the index is out before we read its wishes */
	if (d->features & (1ULL << VIRTIO_RING_F_EVENT_IDX)) {
		uint16_t event = *(volatile uint16_t *)&r->vr.avail->ring[r->vr.size];
		bool call = !r->signalled_valid || vring_need_event(event, r->last_used, r->signalled_used);
		r->signalled_used = r->last_used;
		r->signalled_valid = true;
		if (call)
			eventfd_write(r->vr.callfd, 1);
	} else if (!(*(volatile uint16_t *)&r->vr.avail->flags & VRING_AVAIL_F_NO_INTERRUPT)) {
		eventfd_write(r->vr.callfd, 1);
	}
}

/* The receive buffers a burst fills, in order: ids and lengths for the used ring. */
struct rx_fill {
	uint16_t id[BURST * 2];
	uint32_t len[BURST * 2];
	uint16_t n;     /* heads used by frames placed so far */
	uint16_t avail; /* heads the guest offers from last_avail on */
	uint16_t known; /* heads read (and prefetched) ahead into id[] */
};

/* Copies one frame (the transmit chain less its virtio-net header) into the next
 * receive buffers; returns false, taking none, if it could not place the frame. */
static bool frame_put(struct dev *to, struct ring *rx, struct rx_fill *f, const struct chain *src, uint32_t skip)
{
	struct chain dst;
	uint16_t heads = 0;
	uint8_t *hdr = NULL;
	int si = 0;
	uint32_t soff = skip;

	while (si < src->n && soff >= src->len[si])
		soff -= src->len[si++];
	for (;;) {
		uint16_t k = f->n + heads;
		if (k >= f->avail || k >= RTE_DIM(f->id))
			return false;
		uint16_t head = k < f->known ? f->id[k]
					     : rx->vr.avail->ring[(uint16_t)(rx->last_avail + k) & (rx->vr.size - 1)];
		if (!chain_get(to, rx, head, true, &dst) || dst.len[0] < to->hdr_len)
			return false;
		int di = 0;
		uint32_t doff = 0;
		if (!hdr) {
			hdr = dst.p[0];
			if (to->hdr_len == sizeof(struct virtio_net_hdr_mrg_rxbuf))
				memset(hdr, 0, sizeof(struct virtio_net_hdr_mrg_rxbuf));
			else
				memset(hdr, 0, sizeof(struct virtio_net_hdr));
			doff = to->hdr_len;
		}
		uint32_t written = doff;
		while (si < src->n && di < dst.n) {
			uint32_t n = RTE_MIN(src->len[si] - soff, dst.len[di] - doff);
			rte_memcpy(dst.p[di] + doff, src->p[si] + soff, n);
			written += n;
			soff += n;
			doff += n;
			if (soff == src->len[si])
				si++, soff = 0;
			if (doff == dst.len[di])
				di++, doff = 0;
		}
		f->id[k] = head;
		f->len[k] = written;
		heads++;
		if (si == src->n)
			break;
		if (!to->mrg)
			return false; /* the frame is longer than the guest's buffer */
	}
	if (to->mrg)
		((struct virtio_net_hdr_mrg_rxbuf *)hdr)->num_buffers = heads;
	f->n += heads;
	return true;
}

/* One burst from `from`'s transmit ring to `to`'s receive ring; returns the frames
 * taken (forwarded, or dropped for want of room as a dequeue+enqueue would, or
 * malformed: those two added to *drops). In
 * phases, as librte_vhost batches: every index and descriptor of the burst is asked
 * for before any is used, so that the loads of lines the other core wrote overlap. */
static uint16_t direct_burst(struct dev *from, struct dev *to, uint64_t *drops)
{
	struct ring *tx = &from->tx, *rx = &to->rx;
	const uint16_t tx_mask = tx->vr.size - 1, rx_mask = rx->vr.size - 1;
	uint16_t avail = __atomic_load_n(&tx->vr.avail->idx, __ATOMIC_ACQUIRE);
	uint16_t n = (uint16_t)(avail - tx->last_avail);

	if (n == 0 || n > tx->vr.size)
		return 0; /* nothing, or a guest that lies about its ring */
	if (n > BURST)
		n = BURST;
	uint16_t tx_id[BURST];
	struct chain src[BURST];
	bool ok[BURST];
	for (uint16_t i = 0; i < n; i++) {
		tx_id[i] = tx->vr.avail->ring[(uint16_t)(tx->last_avail + i) & tx_mask];
		rte_prefetch0(&tx->vr.desc[tx_id[i] & tx_mask]);
	}
	struct rx_fill f;
	uint16_t rx_avail = __atomic_load_n(&rx->vr.avail->idx, __ATOMIC_ACQUIRE);
	f.n = 0;
	f.avail = (uint16_t)(rx_avail - rx->last_avail);
	if (f.avail > rx->vr.size)
		f.avail = 0;
	f.known = RTE_MIN(f.avail, n);
	for (uint16_t k = 0; k < f.known; k++) {
		f.id[k] = rx->vr.avail->ring[(uint16_t)(rx->last_avail + k) & rx_mask];
		rte_prefetch0(&rx->vr.desc[f.id[k] & rx_mask]);
	}
	for (uint16_t i = 0; i < n; i++) {
		ok[i] = chain_get(from, tx, tx_id[i], false, &src[i]) && src[i].total > from->hdr_len;
		if (ok[i])
			rte_prefetch0(src[i].p[0] + (src[i].len[0] > from->hdr_len ? from->hdr_len : 0));
	}
	/* the first receive buffers, for writing: their lines are on their way while the
	 * copies before them run */
	for (uint16_t k = 0; k < f.known; k++) {
		struct vring_desc dsc = ((const volatile struct vring_desc *)rx->vr.desc)[f.id[k] & rx_mask];
		if (!(dsc.flags & VRING_DESC_F_INDIRECT)) {
			uint8_t *p = guest_va(to, dsc.addr, dsc.len);
			if (p)
				__builtin_prefetch(p, 1, 3); /* rte_prefetch0_write is experimental in 22.11 */
		}
	}
	for (uint16_t i = 0; i < n; i++)
		if (!ok[i] || !frame_put(to, rx, &f, &src[i], from->hdr_len))
			(*drops)++;
	/* In order, the last chain's entry stands for the batch (virtio 1.1, "in-order use of descriptors"): one
	 * line of the used ring written instead of up to four. */
	for (uint16_t i = from->in_order ? n - 1 : 0; i < n; i++) {
		volatile struct vring_used_elem *u = &tx->vr.used->ring[(uint16_t)(tx->last_used + i) & tx_mask];
		u->id = tx_id[i];
		u->len = 0;
	}
	tx->last_avail += n;
	tx->last_used += n;
	__atomic_store_n(&tx->vr.used->idx, tx->last_used, __ATOMIC_RELEASE);
	ring_call(from, tx);
	if (f.n) {
		for (uint16_t k = 0; k < f.n; k++) {
			volatile struct vring_used_elem *u =
				&rx->vr.used->ring[(uint16_t)(rx->last_used + k) & rx_mask];
			u->id = f.id[k];
			u->len = f.len[k];
		}
		rx->last_avail += f.n;
		rx->last_used += f.n;
		__atomic_store_n(&rx->vr.used->idx, rx->last_used, __ATOMIC_RELEASE);
		ring_call(to, rx);
	}
	return n;
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
	pool = rte_pktmbuf_pool_create("bare_pool", POOL_MBUFS, POOL_CACHE, 0, RTE_MBUF_DEFAULT_BUF_SIZE,
				       (int)rte_socket_id());
	if (!pool) {
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
