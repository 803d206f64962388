/* SPDX-License-Identifier: BSD-3-Clause */
/* The single-copy path between two vhost-user guests (../shared/notes/vhost-limit.md):
 * a burst of frames goes from one guest's transmit ring straight into another guest's
 * receive ring, each copied once, guest buffer to guest buffer, with no mbuf between.
 * librte_vhost copies twice (guest -> mbuf -> guest); at 1500 bytes one copy costs about
 * half of two (vswitch/README, "One copy instead of two").
 *
 * Split rings only. A device that negotiated packed rings, dirty-page logging or an
 * IOMMU cannot take this path (vd_dev_attach refuses it and says why).
 *
 * The caller owns the exclusion. librte_vhost keeps speaking the vhost-user protocol and
 * owns the rings whenever no vd_forward runs on them: the caller hands the ring indexes
 * over (vd_ring_take), gives them back (vd_ring_give), keeps librte_vhost's own bursts off
 * a ring while vd_forward runs on it, and re-attaches after every vhost-user message,
 * which may remap the guest's memory or move its rings. Used by e2d's vhost port and by
 * bench/vswitch's reference e2-bare-vhost --direct. */
#ifndef E2D_VHOST_DIRECT_H
#define E2D_VHOST_DIRECT_H

#include <stdbool.h>
#include <stdint.h>

#include <rte_branch_prediction.h>
#include <rte_vhost.h>

/* the most frames one vd_forward moves */
#define VD_BURST_MAX 32

/* What the path needs of one device: where its memory is, how its frames are framed. */
struct vd_dev {
	struct rte_vhost_memory *mem; /* NULL: not attached */
	uint64_t features;
	uint32_t hdr_len; /* the virtio-net header before every frame */
	bool mrg, in_order, event_idx;
	uint32_t hint; /* the memory region of the last translation */
};

/* One split ring as the path drives it; indexes are free-running, as the guest's. */
struct vd_ring {
	struct rte_vhost_vring vr; /* vr.desc == NULL: not attached */
	uint16_t last_avail, last_used;
	/* the guest's avail index when we last read it: the entries before it are written
	 * and stay put until we use them, so asking for them early takes no line the guest
	 * is writing (only a hint; a stale value costs a wasted prefetch) */
	uint16_t avail_seen;
	uint16_t signalled_used; /* the used index of the last call into the guest */
	bool signalled_valid;
};

/* 0, or -1 with *why set (a static string). Frees nothing it did not allocate. */
int vd_dev_attach(struct vd_dev *d, int vid, const char **why);
void vd_dev_detach(struct vd_dev *d);
/* Maps vring `vring` of device `vid` and takes its indexes from librte_vhost; -1 if the
 * ring is not set up (no addresses yet, or a size that is not a power of two). */
int vd_ring_attach(struct vd_ring *r, int vid, uint16_t vring);
static inline bool vd_ring_attached(const struct vd_ring *r)
{
	return r->vr.desc != NULL;
}
/* The indexes, from librte_vhost (after its own bursts) and back to it (so that its
 * bursts, its ring-level queries and the front-end's GET_VRING_BASE see where the ring
 * stands). Neither takes a lock: the caller's exclusion covers them. */
static inline void vd_ring_take(struct vd_ring *r, int vid, uint16_t vring)
{
	uint16_t used = r->last_used;

	rte_vhost_get_vring_base(vid, vring, &r->last_avail, &r->last_used);
	/* librte_vhost's bursts moved the ring and called the guest as they saw fit: our
	 * record of the last call is stale, so the next burst calls whatever it says */
	if (unlikely(r->last_used != used))
		r->signalled_valid = false;
}
static inline void vd_ring_give(const struct vd_ring *r, int vid, uint16_t vring)
{
	rte_vhost_set_vring_base(vid, vring, r->last_avail, r->last_used);
}

struct vd_result {
	uint16_t taken;        /* frames taken from the transmit ring: the rest of these fields */
	uint16_t placed;       /* ... put in a receive ring */
	uint16_t no_room;      /* ... dropped: no receive buffers, or too few for the frame */
	uint16_t malformed;    /* ... dropped: a bad index, a loop, a buffer outside guest memory */
	uint64_t bytes_taken;  /* frame bytes (no virtio-net header) of the frames not malformed */
	uint64_t bytes_placed; /* ... of the frames placed */
	bool stopped;          /* the burst stopped before a frame it had to leave in the ring */
};

/* Moves up to `max` (≤ VD_BURST_MAX) frames from `from`'s transmit ring `tx` to `to`'s
 * receive ring `rx`, and calls either guest if it asked to be told. A frame whose
 * EtherType is stop_ethertype (network order; 0: none) and everything after it stay in
 * the transmit ring (res->stopped), for a caller that must treat such frames its own way.
 * A guest may rewrite its rings under us: every descriptor is read once, every index
 * checked, and what does not hold up is a counted drop, never a crash. */
void vd_forward(struct vd_dev *from, struct vd_ring *tx, struct vd_dev *to, struct vd_ring *rx, uint16_t max,
		uint16_t stop_ethertype, struct vd_result *res);

/* The same to one of several receive rings, frame by frame. */
#define VD_DESTS_MAX 4
/* pick's answer for a frame that must stay in the ring, with everything after it */
#define VD_PICK_STOP UINT16_MAX
/* pick sees at least this many of a frame's first bytes in one piece, or all of them */
#define VD_HEAD_MIN 128

/* A frame's first bytes, for pick: head_len of them at data (no virtio-net header), of
 * a frame len bytes long. */
struct vd_head {
	const uint8_t *data;
	uint32_t head_len, len;
};

/* Where a burst's frames go: dst[i] = an index into the destinations, or VD_PICK_STOP
 * (or any index past them) for a frame that must stay, with the rest. Called once per
 * burst with the frames about to be taken, in ring order (malformed frames and those
 * stopped for stop_ethertype are not shown); frames before the first stop are taken. */
typedef void (*vd_pick_fn)(void *arg, const struct vd_head *heads, uint16_t n, uint16_t *dst);

struct vd_dest {
	struct vd_dev *dev;
	struct vd_ring *ring;
	uint16_t placed, no_room; /* out: this destination's share of the result */
	uint64_t bytes_placed;
};

/* With pick NULL every frame goes to dests[0]. The destinations must be distinct rings. */
void vd_forward_to(struct vd_dev *from, struct vd_ring *tx, struct vd_dest *dests, uint16_t n_dests, uint16_t max,
		   uint16_t stop_ethertype, vd_pick_fn pick, void *arg, struct vd_result *res);

#endif
