/* SPDX-License-Identifier: BSD-3-Clause */
/* The single-copy path: see vhost_direct.h. A burst runs in phases, as librte_vhost
 * batches: every ring index and descriptor of the burst is asked for before any is used,
 * so that the loads of lines the other core wrote overlap instead of queueing. */
#include "vhost_direct.h"

#include <stdlib.h>
#include <string.h>
#include <sys/eventfd.h>

#include <rte_common.h>
#include <rte_memcpy.h>
#include <rte_prefetch.h>

int vd_dev_attach(struct vd_dev *d, int vid, const char **why)
{
	const uint64_t refused =
		(1ULL << VIRTIO_F_RING_PACKED) | (1ULL << VHOST_F_LOG_ALL) | (1ULL << VIRTIO_F_IOMMU_PLATFORM);

	memset(d, 0, sizeof(*d));
	if (rte_vhost_get_negotiated_features(vid, &d->features) != 0) {
		*why = "the device has no features yet";
		return -1;
	}
	if (d->features & refused) {
		*why = "it negotiated packed rings, dirty-page logging or an IOMMU";
		return -1;
	}
	d->mrg = d->features & (1ULL << VIRTIO_NET_F_MRG_RXBUF);
	d->in_order = d->features & (1ULL << VIRTIO_F_IN_ORDER);
	d->event_idx = d->features & (1ULL << VIRTIO_RING_F_EVENT_IDX);
	d->hdr_len = d->mrg || (d->features & (1ULL << VIRTIO_F_VERSION_1)) ? sizeof(struct virtio_net_hdr_mrg_rxbuf)
									    : sizeof(struct virtio_net_hdr);
	if (rte_vhost_get_mem_table(vid, &d->mem) != 0 || d->mem->nregions == 0) {
		free(d->mem);
		d->mem = NULL;
		*why = "its memory table is empty";
		return -1;
	}
	return 0;
}

void vd_dev_detach(struct vd_dev *d)
{
	free(d->mem);
	d->mem = NULL;
}

int vd_ring_attach(struct vd_ring *r, int vid, uint16_t vring)
{
	memset(r, 0, sizeof(*r));
	if (rte_vhost_get_vhost_vring(vid, vring, &r->vr) != 0 || !r->vr.desc || !r->vr.avail || !r->vr.used ||
	    !rte_is_power_of_2(r->vr.size) ||
	    rte_vhost_get_vring_base(vid, vring, &r->last_avail, &r->last_used) != 0) {
		memset(r, 0, sizeof(*r));
		return -1;
	}
	r->avail_seen = r->last_avail;
	return 0;
}

/* A buffer chain as the path copies into or out of it: a guest's has at most
 * CHAIN_SEGS_MAX pieces, a frame behind its private head one more (chain_after_head). */
#define CHAIN_SEGS_MAX 8
struct chain {
	uint8_t *p[CHAIN_SEGS_MAX + 1];
	uint32_t len[CHAIN_SEGS_MAX + 1];
	int n;
	uint32_t total;
};

/* Guest-physical to our address, trying the region of the last hit first (a guest's
 * rings and buffers mostly sit in one); NULL unless [gpa, gpa + len) is in one region. */
static inline uint8_t *guest_va(struct vd_dev *d, uint64_t gpa, uint32_t len)
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
static bool chain_get(struct vd_dev *d, const struct vd_ring *r, uint16_t head, bool write, struct chain *c)
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

/* The frame's EtherType (network order), which may sit in any piece of the chain; 0 for
 * a frame too short to have one. */
static uint16_t chain_ethertype(const struct chain *c, uint32_t hdr_len)
{
	uint8_t b[2];
	uint32_t off = hdr_len + 12;
	int got = 0;

	if (c->total < hdr_len + 14)
		return 0;
	for (int i = 0; i < c->n && got < 2; i++) {
		if (off >= c->len[i]) {
			off -= c->len[i];
			continue;
		}
		while (got < 2 && off < c->len[i])
			b[got++] = c->p[i][off++];
		off = 0; /* the rest starts the next piece */
	}
	uint16_t v;
	memcpy(&v, b, sizeof(v));
	return v;
}

/* After a burst moved a ring's used index, and a full fence put that index out before we
 * read the guest's wishes: interrupt the guest if it asked for it, as librte_vhost's
 * vhost_vring_call_split decides. librte_vhost's own call
 * (rte_vhost_vring_call) takes the ring lock, which its message handler may hold while
 * it waits for us to leave the device. */
static void ring_call(const struct vd_dev *d, struct vd_ring *r)
{
	if (r->vr.callfd < 0)
		return;
	if (d->event_idx) {
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
	uint16_t id[VD_BURST_MAX * 2];
	uint32_t len[VD_BURST_MAX * 2];
	uint16_t n;     /* heads used by frames placed so far */
	uint16_t avail; /* heads the guest offers from last_avail on */
	uint16_t known; /* heads read (and prefetched) ahead into id[] */
};

/* Copies one frame (the transmit chain less its virtio-net header) into the next
 * receive buffers; returns false, taking none, if it could not place the frame. */
static bool frame_put(struct vd_dev *to, struct vd_ring *rx, struct rx_fill *f, const struct chain *src, uint32_t skip)
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
				memset(hdr, 0, sizeof(struct virtio_net_hdr_mrg_rxbuf)); /* two stores, no call */
			else
				memset(hdr, 0, to->hdr_len);
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

/* Copies the frame's first bytes (after `skip`: VD_HEAD_MIN of them, or all) into buf;
 * returns how many. */
static uint32_t chain_copy_head(const struct chain *c, uint32_t skip, uint8_t *buf)
{
	uint32_t want = RTE_MIN(c->total - skip, (uint32_t)VD_HEAD_MIN), off = skip, got = 0;
	int i = 0;

	while (i < c->n && off >= c->len[i])
		off -= c->len[i++];
	for (; i < c->n && got < want; i++, off = 0) {
		uint32_t n = RTE_MIN(c->len[i] - off, want - got);
		rte_memcpy(buf + got, c->p[i] + off, n);
		got += n;
	}
	return got;
}

/* The frame as the destination gets it when a pick decided on its head: the private copy
 * of the head, then the guest's bytes after it. */
static void chain_after_head(struct chain *out, uint8_t *head, uint32_t head_len, const struct chain *c, uint32_t skip)
{
	uint32_t off = skip + head_len;
	int i = 0;

	out->p[0] = head;
	out->len[0] = head_len;
	out->n = 1;
	out->total = head_len;
	while (i < c->n && off >= c->len[i])
		off -= c->len[i++];
	for (; i < c->n; i++, off = 0) {
		out->p[out->n] = c->p[i] + off;
		out->len[out->n++] = c->len[i] - off;
		out->total += c->len[i] - off;
	}
}

/* The used ring's entries [from, from + n) and its index, for writing. */
static inline void used_prefetch(const struct vd_ring *r, uint16_t from, uint16_t n)
{
	const uint16_t mask = r->vr.size - 1;

	const uint16_t per_line = RTE_CACHE_LINE_SIZE / sizeof(struct vring_used_elem);
	const struct vring_used_elem *e = NULL;

	__builtin_prefetch(&r->vr.used->idx, 1, 3);
	for (uint16_t k = 0; k < n; k += per_line) {
		e = &r->vr.used->ring[(uint16_t)(from + k) & mask];
		__builtin_prefetch(e, 1, 3);
	}
	/* entries need not start on a line: the last may lie one line past the last step */
	const struct vring_used_elem *last = &r->vr.used->ring[(uint16_t)(from + n - 1) & mask];
	if (n && (uintptr_t)last / RTE_CACHE_LINE_SIZE != (uintptr_t)e / RTE_CACHE_LINE_SIZE)
		__builtin_prefetch(last, 1, 3);
}

/* The avail ring's next entries, up to `most`, as far as the guest had written them when
 * we last read its index; false if that was none. Their addresses need nothing read from
 * the guest now, so every ring's are asked for at a burst's start, beside the index: the
 * index and the entries then come in one wait instead of two, for all the burst's rings
 * at once. Entries not yet written are left alone: the guest may be writing them (when it,
 * not the switch, sets the pace), and taking its lines would slow it. */
static inline bool avail_prefetch(const struct vd_ring *r, uint16_t most)
{
	const uint16_t mask = r->vr.size - 1;
	uint16_t n = (uint16_t)(r->avail_seen - r->last_avail);

	if (n == 0 || n > r->vr.size)
		return false;
	n = RTE_MIN(n, most);
	rte_prefetch0(&r->vr.avail->ring[r->last_avail & mask]);
	rte_prefetch0(&r->vr.avail->ring[(uint16_t)(r->last_avail + n - 1) & mask]);
	return true;
}

/* Reads which receive buffers a ring offers, and asks for the first `want` of them. */
static void fill_start(struct rx_fill *f, struct vd_ring *rx, uint16_t want)
{
	const uint16_t rx_mask = rx->vr.size - 1;
	uint16_t rx_avail = __atomic_load_n(&rx->vr.avail->idx, __ATOMIC_ACQUIRE);

	rx->avail_seen = rx_avail;
	f->n = 0;
	f->avail = (uint16_t)(rx_avail - rx->last_avail);
	if (f->avail > rx->vr.size)
		f->avail = 0;
	f->known = RTE_MIN(f->avail, want);
	for (uint16_t k = 0; k < f->known; k++) {
		f->id[k] = rx->vr.avail->ring[(uint16_t)(rx->last_avail + k) & rx_mask];
		rte_prefetch0(&rx->vr.desc[f->id[k] & rx_mask]);
	}
	used_prefetch(rx, rx->last_used, f->known);
}

/* Hands the filled receive buffers to the guest (its call comes after the burst's fence). */
static void fill_publish(const struct rx_fill *f, struct vd_ring *rx)
{
	const uint16_t rx_mask = rx->vr.size - 1;

	if (!f->n)
		return;
	for (uint16_t k = 0; k < f->n; k++) {
		volatile struct vring_used_elem *u = &rx->vr.used->ring[(uint16_t)(rx->last_used + k) & rx_mask];
		u->id = f->id[k];
		u->len = f->len[k];
	}
	rx->last_avail += f->n;
	rx->last_used += f->n;
	__atomic_store_n(&rx->vr.used->idx, rx->last_used, __ATOMIC_RELEASE);
}

/* Both entry points: inlined into each, so that the one-destination path without pick
 * pays nothing for the other. */
static inline __attribute__((always_inline)) void forward(struct vd_dev *from, struct vd_ring *tx,
							  struct vd_dest *dests, uint16_t n_dests, uint16_t max,
							  uint16_t stop_ethertype, vd_pick_fn pick, void *arg,
							  struct vd_result *res)
{
	const uint16_t tx_mask = tx->vr.size - 1;
	const uint16_t most = RTE_MIN(max, VD_BURST_MAX);

	memset(res, 0, sizeof(*res));
	for (uint16_t j = 0; j < n_dests; j++)
		dests[j].placed = dests[j].no_room = 0, dests[j].bytes_placed = 0;
	if (most == 0)
		return;
	/* With frames known to wait, the receive rings' index and entries are asked for now:
	 * an empty poll asks for nothing of the guests' lines. */
	if (avail_prefetch(tx, most))
		for (uint16_t j = 0; j < n_dests; j++) {
			rte_prefetch0(&dests[j].ring->vr.avail->idx);
			avail_prefetch(dests[j].ring, most);
		}
	uint16_t avail = __atomic_load_n(&tx->vr.avail->idx, __ATOMIC_ACQUIRE);
	uint16_t n = (uint16_t)(avail - tx->last_avail);

	tx->avail_seen = avail;
	if (n == 0 || n > tx->vr.size)
		return; /* nothing, or a guest that lies about its ring */
	n = RTE_MIN(n, most);
	uint16_t tx_id[VD_BURST_MAX];
	struct chain src[VD_BURST_MAX];
	bool ok[VD_BURST_MAX];
	for (uint16_t i = 0; i < n; i++) {
		tx_id[i] = tx->vr.avail->ring[(uint16_t)(tx->last_avail + i) & tx_mask];
		rte_prefetch0(&tx->vr.desc[tx_id[i] & tx_mask]);
	}
	/* in order, only the last entry is written (below) */
	if (from->in_order)
		used_prefetch(tx, (uint16_t)(tx->last_used + n - 1), 1);
	else
		used_prefetch(tx, tx->last_used, n);
	struct rx_fill f[VD_DESTS_MAX];
	for (uint16_t j = 0; j < n_dests; j++)
		fill_start(&f[j], dests[j].ring, n);
	/* The receive buffers are not asked for ahead of the copies: a write prefetch takes
	 * lines the receiving guest still holds while it is still at work (refilling, freeing
	 * what it sent), and in a far spell the guest then ran ~30 % slower than e2d gained
	 * (bench/vswitch A/B, vswitch/README "The receive buffers, not prefetched"). */
	for (uint16_t i = 0; i < n; i++) {
		ok[i] = chain_get(from, tx, tx_id[i], false, &src[i]) && src[i].total > from->hdr_len;
		if (ok[i])
			rte_prefetch0(src[i].p[0] + (src[i].len[0] > from->hdr_len ? from->hdr_len : 0));
	}
	/* Every frame is decided before any is copied: the loads of the frames' first lines
	 * (the other core's) then follow each other and overlap, where a decision between
	 * two copies would wait for its line alone. */
	uint16_t dst[VD_BURST_MAX];
	struct vd_head heads[VD_BURST_MAX];
	/* The classifiers decide on a private copy of each frame's first bytes, and that copy
	 * is what the destination gets: a guest that rewrites its buffer in between cannot
	 * send a frame where its new bytes would not have gone. */
	uint8_t head_buf[VD_BURST_MAX][VD_HEAD_MIN];
	uint16_t head_of[VD_BURST_MAX], head_at[VD_BURST_MAX], n_heads = 0;
	for (uint16_t i = 0; i < n; i++) {
		if (!ok[i])
			continue;
		if (stop_ethertype && chain_ethertype(&src[i], from->hdr_len) == stop_ethertype) {
			n = i; /* this frame and the rest stay for the caller */
			res->stopped = true;
			break;
		}
		dst[i] = 0;
		if (pick) {
			struct vd_head *h = &heads[n_heads];
			h->data = head_buf[n_heads];
			h->head_len = chain_copy_head(&src[i], from->hdr_len, head_buf[n_heads]);
			h->len = src[i].total - from->hdr_len;
			head_at[i] = n_heads;
			head_of[n_heads++] = i;
		}
	}
	if (pick && n_heads) {
		uint16_t pd[VD_BURST_MAX];
		pick(arg, heads, n_heads, pd);
		for (uint16_t k = 0; k < n_heads; k++) {
			if (pd[k] >= n_dests) { /* VD_PICK_STOP, or nowhere we know */
				n = head_of[k];
				res->stopped = true;
				break;
			}
			dst[head_of[k]] = pd[k];
		}
	}
	for (uint16_t i = 0; i < n; i++) {
		if (!ok[i]) {
			res->malformed++;
			continue;
		}
		uint32_t len = src[i].total - from->hdr_len;
		struct vd_dest *d = &dests[dst[i]];
		const struct chain *frame = &src[i];
		uint32_t skip = from->hdr_len;
		struct chain decided;
		if (pick) {
			chain_after_head(&decided, head_buf[head_at[i]], heads[head_at[i]].head_len, &src[i],
					 from->hdr_len);
			frame = &decided;
			skip = 0;
		}
		res->bytes_taken += len;
		if (frame_put(d->dev, d->ring, &f[dst[i]], frame, skip)) {
			d->placed++;
			d->bytes_placed += len;
		} else {
			d->no_room++;
		}
	}
	res->taken = n;
	if (n) {
		/* In order, the last chain's entry stands for the batch (virtio 1.1, "in-order
		 * use of descriptors"): one line of the used ring written instead of up to four. */
		for (uint16_t i = from->in_order ? n - 1 : 0; i < n; i++) {
			volatile struct vring_used_elem *u =
				&tx->vr.used->ring[(uint16_t)(tx->last_used + i) & tx_mask];
			u->id = tx_id[i];
			u->len = 0;
		}
		tx->last_avail += n;
		tx->last_used += n;
		__atomic_store_n(&tx->vr.used->idx, tx->last_used, __ATOMIC_RELEASE);
	}
	bool may_call = n && tx->vr.callfd >= 0;
	for (uint16_t j = 0; j < n_dests; j++) {
		fill_publish(&f[j], dests[j].ring);
		may_call |= f[j].n && dests[j].ring->vr.callfd >= 0;
		res->placed += dests[j].placed;
		res->no_room += dests[j].no_room;
		res->bytes_placed += dests[j].bytes_placed;
	}
	if (!may_call)
		return;
	/* One fence puts every ring's used index out before any guest's wishes are read: with
	 * the vCPUs far apart each fence waits ~1000 cycles for the lines it drains. */
	rte_atomic_thread_fence(__ATOMIC_SEQ_CST);
	if (n)
		ring_call(from, tx);
	for (uint16_t j = 0; j < n_dests; j++)
		if (f[j].n)
			ring_call(dests[j].dev, dests[j].ring);
}

void vd_forward(struct vd_dev *from, struct vd_ring *tx, struct vd_dev *to, struct vd_ring *rx, uint16_t max,
		uint16_t stop_ethertype, struct vd_result *res)
{
	struct vd_dest d = {.dev = to, .ring = rx};

	forward(from, tx, &d, 1, max, stop_ethertype, NULL, NULL, res);
}

void vd_forward_to(struct vd_dev *from, struct vd_ring *tx, struct vd_dest *dests, uint16_t n_dests, uint16_t max,
		   uint16_t stop_ethertype, vd_pick_fn pick, void *arg, struct vd_result *res)
{
	if (n_dests == 0 || n_dests > VD_DESTS_MAX) {
		memset(res, 0, sizeof(*res));
		return;
	}
	forward(from, tx, dests, n_dests, max, stop_ethertype, pick, arg, res);
}
