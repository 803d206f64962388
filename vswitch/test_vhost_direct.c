/* SPDX-License-Identifier: BSD-3-Clause */
/* The single-copy path (ports/vhost_direct.c) against split rings laid out in memory as
 * a guest lays them out: frames in one or several pieces, behind indirect tables,
 * merged receive buffers, a receiver without room, descriptors a broken or hostile
 * guest could write, the EtherType a caller asks it to leave alone, and frames spread
 * over several receive rings by the caller's pick. The integration
 * test with real front-ends is test_vhost_direct.sh. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include "ports/vhost_direct.h"

#define RING 16
#define GPA_BASE 0x100000ULL
#define ARENA (1u << 20)
#define HDR 12 /* VIRTIO_F_VERSION_1: the header with num_buffers */

static uint8_t *arena;
static size_t arena_used;
static struct rte_vhost_memory *mem;

static void *take(size_t n)
{
	void *p = arena + arena_used;
	arena_used += (n + 63) & ~(size_t)63;
	assert_true(arena_used <= ARENA);
	return p;
}

static uint64_t gpa(const void *p)
{
	return GPA_BASE + (uint64_t)((const uint8_t *)p - arena);
}

/* One guest's side of the path: its device and one ring. */
struct side {
	struct vd_dev dev;
	struct vd_ring ring;
	uint16_t next_desc; /* descriptors handed out, in order */
};

static void side_init(struct side *s, uint64_t features)
{
	memset(s, 0, sizeof(*s));
	s->dev.mem = mem;
	s->dev.features = features | (1ULL << VIRTIO_F_VERSION_1);
	s->dev.hdr_len = HDR;
	s->dev.mrg = features & (1ULL << VIRTIO_NET_F_MRG_RXBUF);
	s->dev.in_order = features & (1ULL << VIRTIO_F_IN_ORDER);
	s->ring.vr.size = RING;
	s->ring.vr.desc = take(sizeof(struct vring_desc) * RING);
	s->ring.vr.avail = take(sizeof(struct vring_avail) + sizeof(uint16_t) * (RING + 1));
	s->ring.vr.used = take(sizeof(struct vring_used) + sizeof(struct vring_used_elem) * RING + 2);
	s->ring.vr.callfd = -1;
	s->ring.vr.kickfd = -1;
}

static int setup(void **state)
{
	(void)state;
	arena = aligned_alloc(4096, ARENA);
	memset(arena, 0, ARENA);
	arena_used = 0;
	mem = calloc(1, sizeof(*mem) + sizeof(struct rte_vhost_mem_region));
	mem->nregions = 1;
	mem->regions[0].guest_phys_addr = GPA_BASE;
	mem->regions[0].guest_user_addr = GPA_BASE;
	mem->regions[0].host_user_addr = (uint64_t)(uintptr_t)arena;
	mem->regions[0].size = ARENA;
	return 0;
}

static int teardown(void **state)
{
	(void)state;
	free(arena);
	free(mem);
	return 0;
}

static void post(struct side *s, uint16_t head)
{
	struct vring_avail *a = s->ring.vr.avail;
	a->ring[a->idx % RING] = head;
	__atomic_store_n(&a->idx, a->idx + 1, __ATOMIC_RELEASE);
}

/* A chain of buffers of the given lengths, all writable or all readable; its head. */
static uint16_t chain(struct side *s, bool write, const uint32_t *lens, int n, uint8_t **bufs)
{
	uint16_t head = s->next_desc;
	for (int i = 0; i < n; i++) {
		uint16_t d = s->next_desc++;
		bufs[i] = take(lens[i]);
		s->ring.vr.desc[d] = (struct vring_desc){
			.addr = gpa(bufs[i]),
			.len = lens[i],
			.flags = (uint16_t)((write ? VRING_DESC_F_WRITE : 0) | (i + 1 < n ? VRING_DESC_F_NEXT : 0)),
			.next = (uint16_t)(d + 1)};
	}
	return head;
}

/* A frame of `len` bytes (EtherType `type`, a byte pattern from `seed`) spread over
 * pieces of `lens` (the first begins with the virtio-net header); posted. */
static void send_frame(struct side *tx, uint32_t len, uint16_t type, uint8_t seed, const uint32_t *lens, int n)
{
	uint8_t *bufs[8], frame[HDR + 2048];
	uint32_t total = 0, off = 0;

	for (int i = 0; i < n; i++)
		total += lens[i];
	assert_int_equal(total, HDR + len);
	memset(frame, 0xee, HDR); /* a header we must not copy */
	for (uint32_t i = 0; i < len; i++)
		frame[HDR + i] = (uint8_t)(seed + i);
	frame[HDR + 12] = (uint8_t)(type >> 8);
	frame[HDR + 13] = (uint8_t)type;
	post(tx, chain(tx, false, lens, n, bufs));
	for (int i = 0; i < n; i++) {
		memcpy(bufs[i], frame + off, lens[i]);
		off += lens[i];
	}
}

static void send_simple(struct side *tx, uint32_t len, uint16_t type, uint8_t seed)
{
	uint32_t l = HDR + len;
	send_frame(tx, len, type, seed, &l, 1);
}

static uint8_t *post_rx(struct side *rx, uint32_t len)
{
	uint8_t *b;
	post(rx, chain(rx, true, &len, 1, &b));
	return b;
}

static void check_frame(const uint8_t *buf, uint32_t len, uint16_t type, uint8_t seed)
{
	for (uint32_t i = 0; i < HDR; i++)
		if (i != 10) /* num_buffers: checked by the caller when it matters */
			assert_int_equal(buf[i], 0);
	for (uint32_t i = 0; i < len; i++) {
		uint8_t want = i == 12 ? (uint8_t)(type >> 8) : i == 13 ? (uint8_t)type : (uint8_t)(seed + i);
		if (buf[HDR + i] != want)
			fail_msg("byte %u of the frame: %u, want %u", i, buf[HDR + i], want);
	}
}

#define IPV4 0x0800
#define NSH 0x894f

static void test_frames_copied_once(void **state)
{
	(void)state;
	struct side a, b;
	struct vd_result r;
	side_init(&a, 0);
	side_init(&b, 0);
	send_simple(&a, 60, IPV4, 1);
	const uint32_t pieces[] = {HDR, 700, 800}; /* header alone, then the frame in two */
	send_frame(&a, 1500, IPV4, 2, pieces, 3);
	uint8_t *r0 = post_rx(&b, 2048), *r1 = post_rx(&b, 2048);

	vd_forward(&a.dev, &a.ring, &b.dev, &b.ring, 32, 0, &r);
	assert_int_equal(r.taken, 2);
	assert_int_equal(r.placed, 2);
	assert_int_equal(r.no_room + r.malformed, 0);
	assert_int_equal(r.bytes_placed, 1560);
	assert_false(r.stopped);
	check_frame(r0, 60, IPV4, 1);
	check_frame(r1, 1500, IPV4, 2);
	assert_int_equal(b.ring.vr.used->idx, 2);
	assert_int_equal(b.ring.vr.used->ring[0].len, HDR + 60);
	assert_int_equal(b.ring.vr.used->ring[1].len, HDR + 1500);
	assert_int_equal(a.ring.vr.used->idx, 2);
	assert_int_equal(a.ring.last_avail, 2);
	/* nothing more: nothing taken */
	vd_forward(&a.dev, &a.ring, &b.dev, &b.ring, 32, 0, &r);
	assert_int_equal(r.taken, 0);
}

static void test_no_room_is_a_counted_drop(void **state)
{
	(void)state;
	struct side a, b;
	struct vd_result r;
	side_init(&a, 0);
	side_init(&b, 0);
	for (int i = 0; i < 3; i++)
		send_simple(&a, 100, IPV4, (uint8_t)i);
	post_rx(&b, 2048);
	vd_forward(&a.dev, &a.ring, &b.dev, &b.ring, 32, 0, &r);
	assert_int_equal(r.taken, 3);
	assert_int_equal(r.placed, 1);
	assert_int_equal(r.no_room, 2);
	assert_int_equal(a.ring.vr.used->idx, 3); /* the sender gets every buffer back */
	assert_int_equal(b.ring.vr.used->idx, 1);

	/* a frame longer than the receiver's buffer, without merged buffers */
	send_simple(&a, 1500, IPV4, 9);
	post_rx(&b, 1024);
	vd_forward(&a.dev, &a.ring, &b.dev, &b.ring, 32, 0, &r);
	assert_int_equal(r.no_room, 1);
	assert_int_equal(b.ring.vr.used->idx, 1);
}

static void test_merged_receive_buffers(void **state)
{
	(void)state;
	struct side a, b;
	struct vd_result r;
	side_init(&a, 0);
	side_init(&b, 1ULL << VIRTIO_NET_F_MRG_RXBUF);
	send_simple(&a, 1500, IPV4, 7);
	uint8_t *b0 = post_rx(&b, 1024), *b1 = post_rx(&b, 1024);
	vd_forward(&a.dev, &a.ring, &b.dev, &b.ring, 32, 0, &r);
	assert_int_equal(r.placed, 1);
	assert_int_equal(b.ring.vr.used->idx, 2);
	assert_int_equal(b.ring.vr.used->ring[0].len, 1024);
	assert_int_equal(b.ring.vr.used->ring[1].len, HDR + 1500 - 1024);
	assert_int_equal(((struct virtio_net_hdr_mrg_rxbuf *)b0)->num_buffers, 2);
	uint8_t whole[HDR + 1500];
	memcpy(whole, b0, 1024);
	memcpy(whole + 1024, b1, HDR + 1500 - 1024);
	check_frame(whole, 1500, IPV4, 7);
}

static void test_indirect_table(void **state)
{
	(void)state;
	struct side a, b;
	struct vd_result r;
	side_init(&a, 0);
	side_init(&b, 0);
	struct vring_desc *tab = take(2 * sizeof(*tab));
	uint8_t *h = take(HDR), *f = take(64);
	memset(h, 0xee, HDR);
	for (int i = 0; i < 64; i++)
		f[i] = (uint8_t)(3 + i);
	f[12] = IPV4 >> 8;
	f[13] = IPV4 & 0xff;
	tab[0] = (struct vring_desc){.addr = gpa(h), .len = HDR, .flags = VRING_DESC_F_NEXT, .next = 1};
	tab[1] = (struct vring_desc){.addr = gpa(f), .len = 64};
	a.ring.vr.desc[0] =
		(struct vring_desc){.addr = gpa(tab), .len = 2 * sizeof(*tab), .flags = VRING_DESC_F_INDIRECT};
	post(&a, 0);
	uint8_t *rb = post_rx(&b, 2048);
	vd_forward(&a.dev, &a.ring, &b.dev, &b.ring, 32, 0, &r);
	assert_int_equal(r.placed, 1);
	check_frame(rb, 64, IPV4, 3);
}

/* What a broken or hostile guest can write: each is a counted drop, the frames around
 * it still pass, and nothing outside the guest's memory is touched. */
static void test_hostile_descriptors(void **state)
{
	(void)state;
	struct side a, b;
	struct vd_result r;
	side_init(&a, 0);
	side_init(&b, 0);
	struct vring_desc *d = a.ring.vr.desc;
	send_simple(&a, 64, IPV4, 1); /* desc 0 */
	/* 1: outside guest memory */
	d[1] = (struct vring_desc){.addr = GPA_BASE + ARENA + 4096, .len = 100};
	post(&a, 1);
	/* 2: straddles the region's end */
	d[2] = (struct vring_desc){.addr = GPA_BASE + ARENA - 10, .len = 100};
	post(&a, 2);
	/* 3: a loop */
	d[3] = (struct vring_desc){.addr = GPA_BASE, .len = 100, .flags = VRING_DESC_F_NEXT, .next = 3};
	post(&a, 3);
	/* 4: writable, on a transmit ring */
	d[4] = (struct vring_desc){.addr = GPA_BASE, .len = 100, .flags = VRING_DESC_F_WRITE};
	post(&a, 4);
	/* a head beyond the table */
	post(&a, RING + 5);
	/* 5: an indirect table of a length that is no table */
	d[5] = (struct vring_desc){.addr = GPA_BASE, .len = 7, .flags = VRING_DESC_F_INDIRECT};
	post(&a, 5);
	/* 6: shorter than the virtio-net header */
	d[6] = (struct vring_desc){.addr = GPA_BASE, .len = 4};
	post(&a, 6);
	a.next_desc = 7;
	send_simple(&a, 64, IPV4, 2);
	uint8_t *r0 = post_rx(&b, 2048), *r1 = post_rx(&b, 2048);
	vd_forward(&a.dev, &a.ring, &b.dev, &b.ring, 32, 0, &r);
	assert_int_equal(r.taken, 9);
	assert_int_equal(r.malformed, 7);
	assert_int_equal(r.placed, 2);
	check_frame(r0, 64, IPV4, 1);
	check_frame(r1, 64, IPV4, 2);

	/* a receive buffer outside memory: the frame finds no room, nothing is written */
	send_simple(&a, 64, IPV4, 3);
	b.ring.vr.desc[b.next_desc] =
		(struct vring_desc){.addr = GPA_BASE + ARENA, .len = 2048, .flags = VRING_DESC_F_WRITE};
	post(&b, b.next_desc++);
	vd_forward(&a.dev, &a.ring, &b.dev, &b.ring, 32, 0, &r);
	assert_int_equal(r.no_room, 1);
	assert_int_equal(b.ring.vr.used->idx, 2);

	/* an avail index that claims more than the ring holds: nothing is taken */
	a.ring.vr.avail->idx = (uint16_t)(a.ring.last_avail + RING + 1);
	vd_forward(&a.dev, &a.ring, &b.dev, &b.ring, 32, 0, &r);
	assert_int_equal(r.taken, 0);
}

/* Frames of the EtherType asked for stay in the ring, with all after them, for the
 * caller's own path; also when the EtherType straddles two pieces. */
static void test_stop_ethertype(void **state)
{
	(void)state;
	struct side a, b;
	struct vd_result r;
	side_init(&a, 0);
	side_init(&b, 0);
	send_simple(&a, 64, IPV4, 1);
	const uint32_t split[] = {HDR + 13, 51}; /* the EtherType's second byte in piece 2 */
	send_frame(&a, 64, NSH, 2, split, 2);
	send_simple(&a, 64, IPV4, 3);
	for (int i = 0; i < 3; i++)
		post_rx(&b, 2048);
	vd_forward(&a.dev, &a.ring, &b.dev, &b.ring, 32, __builtin_bswap16(NSH), &r);
	assert_int_equal(r.taken, 1);
	assert_int_equal(r.placed, 1);
	assert_true(r.stopped);
	assert_int_equal(a.ring.last_avail, 1);
	assert_int_equal(a.ring.vr.used->idx, 1);
	vd_forward(&a.dev, &a.ring, &b.dev, &b.ring, 32, __builtin_bswap16(NSH), &r);
	assert_int_equal(r.taken, 0);
	assert_true(r.stopped);
	/* without the stop the NSH frame passes like any other */
	vd_forward(&a.dev, &a.ring, &b.dev, &b.ring, 32, 0, &r);
	assert_int_equal(r.placed, 2);
}

/* pick's view of each frame, for the test to check. */
struct picked {
	int calls, n;
	uint8_t *rewrite; /* a guest buffer rewritten while pick runs, as a hostile guest would */
	uint32_t rewrite_len;
	uint32_t head_len[8], len[8];
	uint8_t first[8][VD_HEAD_MIN];
};

/* Odd first bytes to destination 1, even to 0, 0x77 stops the burst. */
static void pick_by_first_byte(void *arg, const struct vd_head *heads, uint16_t n, uint16_t *dst)
{
	struct picked *p = arg;
	p->calls++;
	if (p->rewrite)
		memset(p->rewrite, 0x77, p->rewrite_len);
	for (uint16_t i = 0; i < n; i++) {
		assert_true(p->n < 8);
		p->head_len[p->n] = heads[i].head_len;
		p->len[p->n] = heads[i].len;
		memcpy(p->first[p->n], heads[i].data,
		       heads[i].head_len < VD_HEAD_MIN ? heads[i].head_len : VD_HEAD_MIN);
		p->n++;
		dst[i] = heads[i].data[0] == 0x77 ? VD_PICK_STOP : heads[i].data[0] & 1;
	}
}

/* Frames spread over two receive rings by pick, in ring order on each; pick sees a
 * frame's first bytes in one piece whether or not the guest sent them in one; a full
 * ring is that destination's drop alone; VD_PICK_STOP leaves the frame and the rest. */
static void test_pick_spreads_over_destinations(void **state)
{
	(void)state;
	struct side a, b, c;
	struct vd_result r;
	struct picked p = {0};
	side_init(&a, 0);
	side_init(&b, 0);
	side_init(&c, 0);
	send_simple(&a, 64, IPV4, 2);               /* to b */
	const uint32_t hdr_apart[] = {HDR, 30, 34}; /* the header alone, the frame in two */
	send_frame(&a, 64, IPV4, 3, hdr_apart, 3);  /* to c */
	const uint32_t long_split[] = {HDR + 100, 200};
	send_frame(&a, 300, IPV4, 4, long_split, 2); /* to b; pick gets 128 bytes gathered */
	send_simple(&a, 64, IPV4, 5);                /* to c, which has no room left */
	send_simple(&a, 64, IPV4, 0x77);             /* stops the burst */
	send_simple(&a, 64, IPV4, 6);
	uint8_t *rb[2] = {post_rx(&b, 2048), post_rx(&b, 2048)};
	uint8_t *rc = post_rx(&c, 2048);
	struct vd_dest dests[2] = {{.dev = &b.dev, .ring = &b.ring}, {.dev = &c.dev, .ring = &c.ring}};
	/* the guest rewrites the first frame's head (to bytes that would stop the burst)
	 * while pick decides: the frame still goes where its head said, with that head */
	p.rewrite = arena + (a.ring.vr.desc[0].addr - GPA_BASE) + HDR;
	p.rewrite_len = 20;
	vd_forward_to(&a.dev, &a.ring, dests, 2, 32, 0, pick_by_first_byte, &p, &r);
	p.rewrite = NULL;
	assert_int_equal(r.taken, 4);
	assert_true(r.stopped);
	assert_int_equal(r.placed, 3);
	assert_int_equal(r.no_room, 1);
	assert_int_equal(r.bytes_taken, 64 + 64 + 300 + 64);
	assert_int_equal(dests[0].placed, 2);
	assert_int_equal(dests[0].bytes_placed, 64 + 300);
	assert_int_equal(dests[1].placed, 1);
	assert_int_equal(dests[1].no_room, 1);
	assert_int_equal(b.ring.vr.used->idx, 2);
	assert_int_equal(c.ring.vr.used->idx, 1);
	assert_int_equal(a.ring.vr.used->idx, 4);
	check_frame(rb[0], 64, IPV4, 2);
	check_frame(rb[1], 300, IPV4, 4);
	check_frame(rc, 64, IPV4, 3);
	/* what pick saw, in one call: whole short frames, 128 gathered bytes of the long
	 * one, and the frames up to the end of the burst (the stop is the path's to apply) */
	assert_int_equal(p.calls, 1);
	assert_int_equal(p.n, 6);
	assert_int_equal(p.head_len[1], 64);
	assert_int_equal(p.head_len[2], VD_HEAD_MIN);
	assert_int_equal(p.len[2], 300);
	for (int f = 1; f <= 2; f++)
		for (uint32_t i = 14; i < p.head_len[f]; i++)
			assert_int_equal(p.first[f][i], (uint8_t)(f + 2 + i));
	/* the stopped frame is offered again, first */
	p.n = 0;
	p.calls = 0;
	post_rx(&b, 2048);
	vd_forward_to(&a.dev, &a.ring, dests, 2, 32, 0, pick_by_first_byte, &p, &r);
	assert_int_equal(r.taken, 0);
	assert_true(r.stopped);
	assert_int_equal(p.n, 2);
	assert_int_equal(p.first[0][0], 0x77);
}

/* In order: one used entry stands for the burst (the last chain's id). */
static void test_in_order_used_entry(void **state)
{
	(void)state;
	struct side a, b;
	struct vd_result r;
	side_init(&a, 1ULL << VIRTIO_F_IN_ORDER);
	side_init(&b, 0);
	for (int i = 0; i < 4; i++) {
		send_simple(&a, 64, IPV4, (uint8_t)i);
		post_rx(&b, 2048);
	}
	a.ring.vr.used->ring[0].id = 0xffff;
	vd_forward(&a.dev, &a.ring, &b.dev, &b.ring, 32, 0, &r);
	assert_int_equal(r.placed, 4);
	assert_int_equal(a.ring.vr.used->idx, 4);
	assert_int_equal(a.ring.vr.used->ring[3].id, 3);
	assert_int_equal(a.ring.vr.used->ring[0].id, 0xffff); /* not written */
}

/* max bounds the burst; the ring's free-running indexes wrap. */
static void test_burst_bound_and_wrap(void **state)
{
	(void)state;
	struct side a, b;
	struct vd_result r;
	side_init(&a, 0);
	side_init(&b, 0);
	uint32_t l = HDR + 64;
	uint8_t *tbuf, *rbuf;
	uint16_t th = chain(&a, false, &l, 1, &tbuf);
	uint32_t rl = 2048;
	uint16_t rh = chain(&b, true, &rl, 1, &rbuf);
	memset(tbuf, 0, l);
	/* indexes just before the wrap, as after 65530 frames */
	a.ring.last_avail = a.ring.last_used = a.ring.vr.avail->idx = a.ring.vr.used->idx = 65530;
	b.ring.last_avail = b.ring.last_used = b.ring.vr.avail->idx = b.ring.vr.used->idx = 65530;
	uint64_t placed = 0;
	for (int round = 0; round < 4; round++) {
		for (int i = 0; i < 5; i++) {
			post(&a, th); /* the same buffer again: it is copied before the next */
			post(&b, rh);
		}
		while (a.ring.last_avail != a.ring.vr.avail->idx) {
			vd_forward(&a.dev, &a.ring, &b.dev, &b.ring, 2, 0, &r);
			assert_true(r.taken >= 1 && r.taken <= 2);
			placed += r.placed;
		}
	}
	assert_int_equal(placed, 20);
	assert_int_equal(a.ring.vr.used->idx, (uint16_t)(65530 + 20));
	assert_int_equal(b.ring.vr.used->idx, (uint16_t)(65530 + 20));
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test_setup_teardown(test_frames_copied_once, setup, teardown),
		cmocka_unit_test_setup_teardown(test_no_room_is_a_counted_drop, setup, teardown),
		cmocka_unit_test_setup_teardown(test_merged_receive_buffers, setup, teardown),
		cmocka_unit_test_setup_teardown(test_indirect_table, setup, teardown),
		cmocka_unit_test_setup_teardown(test_hostile_descriptors, setup, teardown),
		cmocka_unit_test_setup_teardown(test_stop_ethertype, setup, teardown),
		cmocka_unit_test_setup_teardown(test_pick_spreads_over_destinations, setup, teardown),
		cmocka_unit_test_setup_teardown(test_in_order_used_entry, setup, teardown),
		cmocka_unit_test_setup_teardown(test_burst_bound_and_wrap, setup, teardown),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
