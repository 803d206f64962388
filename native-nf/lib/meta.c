/* SPDX-License-Identifier: BSD-3-Clause */
/* Metadata attributes as NSH (RFC 8300) MD type 2 TLVs, in place in the frame:
 * outer Ethernet (0x894F) | base + service path header | TLVs | inner frame.
 * The attribute table and class are e2d's (vswitch/modules/nsh.h, README-modules.md);
 * both sides must agree on them, byte for byte. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <rte_byteorder.h>
#include <rte_ether.h>
#include <rte_mbuf.h>

#include "e2/nf.h"

#define NSH_ETHERTYPE 0x894F
#define NSH_BASE_LEN 8
#define NSH_MD_TYPE_2 2
#define NSH_NP_ETHERNET 3
#define NSH_TTL 63
#define NSH_MAX_LEN 252 /* the 6-bit length counts 4-byte words */
#define NSH_MAX_TLVS 16
#define NSH_TLV_VALUE_MAX 127
#define E2_NSH_CLASS 0xFFF6
#define ETH_LEN 14

static const struct {
	const char *name;
	uint8_t type, width;
} attrs[] = {
	{"safe", 1, 1}, {"url", 2, 0}, {"tclass", 3, 2}, {"flow_id", 4, 4}, {"app", 5, 0}, {"verdict", 6, 1},
};

int e2nf_attr(const char *name, struct e2nf_attr *a, struct e2_err *err)
{
	for (size_t i = 0; i < sizeof(attrs) / sizeof(attrs[0]); i++)
		if (strcmp(attrs[i].name, name) == 0) {
			a->type = attrs[i].type;
			a->width = attrs[i].width;
			return 0;
		}
	if (name[0] == 't' && name[1] >= '1' && name[1] <= '9' && strlen(name) <= 4) {
		char *end;
		unsigned long t = strtoul(name + 1, &end, 10);
		if (*end == '\0' && t >= 32 && t <= 127) {
			a->type = (uint8_t)t;
			a->width = 0;
			return 0;
		}
	}
	e2_seterr(err, "unknown attribute '%.64s' (known: safe url tclass flow_id app verdict, or t32..t127)", name);
	return -1;
}

static inline uint16_t tlv_space(uint8_t len)
{
	return (uint16_t)(4 + ((len + 3u) & ~3u));
}

/* The NSH header of an NSH frame, if all of it is in the first segment, walked once:
 * it is validated and, on the way, the TLV of `type` found (*tlv: its offset in the
 * header, 0 if absent) and the TLVs counted. Returns the header's length, 0 for a frame
 * without NSH, -1 if malformed. One walk serves both the check and the lookup, so a
 * stream NF's get costs a pass over the few TLVs a frame carries, nothing more. */
static int nsh_walk(const struct rte_mbuf *m, uint8_t type, const uint8_t **nsh, int *tlv, unsigned *n_tlvs)
{
	const uint8_t *d = rte_pktmbuf_mtod(m, const uint8_t *);

	if (m->data_len < ETH_LEN || d[12] != (NSH_ETHERTYPE >> 8) || d[13] != (NSH_ETHERTYPE & 0xff))
		return 0;
	if (m->data_len < ETH_LEN + NSH_BASE_LEN)
		return -1;
	const uint8_t *p = d + ETH_LEN;
	int len = (p[1] & 0x3f) * 4;
	if ((p[0] >> 6) != 0 || (p[2] & 0xf) != NSH_MD_TYPE_2 || len < NSH_BASE_LEN || ETH_LEN + len > m->data_len)
		return -1;
	/* every TLV must fit: a header that lies about its TLVs is refused whole */
	unsigned n = 0;
	int found = 0;
	for (int off = NSH_BASE_LEN; off < len; n++) {
		if (off + 4 > len || n == NSH_MAX_TLVS)
			return -1;
		if (!found && p[off + 2] == type && p[off] == (E2_NSH_CLASS >> 8) &&
		    p[off + 1] == (E2_NSH_CLASS & 0xff))
			found = off;
		off += tlv_space(p[off + 3] & 0x7f);
		if (off > len)
			return -1;
	}
	*nsh = p;
	*tlv = found;
	*n_tlvs = n;
	return len;
}

const uint8_t *e2nf_meta_find(const struct rte_mbuf *m, const struct e2nf_attr *a, int *len)
{
	const uint8_t *p;
	int at;
	unsigned n;
	int hlen = nsh_walk(m, a->type, &p, &at, &n);

	if (hlen <= 0 || !at) {
		*len = hlen < 0 ? -1 : 0;
		return NULL;
	}
	*len = p[at + 3] & 0x7f;
	return p + at + 4;
}

int e2nf_meta_get(const struct rte_mbuf *m, const struct e2nf_attr *a, void *buf, size_t len)
{
	int vlen;
	const uint8_t *v = e2nf_meta_find(m, a, &vlen);

	if (v)
		memcpy(buf, v, (size_t)vlen < len ? (size_t)vlen : len);
	return vlen;
}

int e2nf_meta_get_u64(const struct rte_mbuf *m, const struct e2nf_attr *a, uint64_t *v)
{
	uint8_t b[NSH_TLV_VALUE_MAX];
	int n = e2nf_meta_get(m, a, b, sizeof(b));

	if (n <= 0)
		return n;
	if (n > 8)
		return -1;
	*v = 0;
	for (int i = 0; i < n; i++)
		*v = *v << 8 | b[i];
	return 1;
}

int e2nf_inner_offset(const struct rte_mbuf *m)
{
	const uint8_t *p;
	int at;
	unsigned n;
	int hlen = nsh_walk(m, 0, &p, &at, &n);

	if (hlen <= 0)
		return hlen;
	return p[3] == NSH_NP_ETHERNET ? ETH_LEN + hlen : -1;
}

/* The general case, an attribute whose value changes its TLV's size: the header is
 * rebuilt as the old TLVs but `type`, then `type` = val, aside, then the frame's front is
 * moved by the difference. (Also correct for the cases e2nf_meta_set does in place.) */
static int meta_rebuild(struct rte_mbuf *m, const struct e2nf_attr *a, const void *val, size_t len, const uint8_t *old,
			int old_len)
{
	uint8_t hdr[ETH_LEN + NSH_MAX_LEN];
	uint16_t off = NSH_BASE_LEN;
	unsigned n_tlvs = 0;
	const uint8_t *d = rte_pktmbuf_mtod(m, const uint8_t *);

	memcpy(hdr, d, 12); /* the outer MACs: the frame's own */
	hdr[12] = NSH_ETHERTYPE >> 8;
	hdr[13] = NSH_ETHERTYPE & 0xff;
	uint8_t *p = hdr + ETH_LEN;
	if (old_len > 0) {
		memcpy(p, old, NSH_BASE_LEN);
		for (int o = NSH_BASE_LEN; o < old_len;) {
			uint16_t sp = tlv_space(old[o + 3] & 0x7f);
			if (!(((old[o] << 8) | old[o + 1]) == E2_NSH_CLASS && old[o + 2] == a->type)) {
				memcpy(p + off, old + o, sp);
				off = (uint16_t)(off + sp);
				n_tlvs++;
			}
			o += sp;
		}
	} else {
		memset(p, 0, NSH_BASE_LEN);
		p[0] = (NSH_TTL >> 2) & 0xf;
		p[1] = (uint8_t)((NSH_TTL & 3) << 6);
		p[3] = NSH_NP_ETHERNET;
		p[7] = 255; /* service index; path 0 */
	}
	uint16_t sp = tlv_space((uint8_t)len);
	if (off + sp > NSH_MAX_LEN || n_tlvs == NSH_MAX_TLVS)
		return -1;
	p[off] = E2_NSH_CLASS >> 8;
	p[off + 1] = E2_NSH_CLASS & 0xff;
	p[off + 2] = a->type;
	p[off + 3] = (uint8_t)len;
	memcpy(p + off + 4, val, len);
	memset(p + off + 4 + len, 0, sp - 4u - len);
	off = (uint16_t)(off + sp);
	p[1] = (uint8_t)((p[1] & 0xc0) | (off / 4));
	p[2] = (uint8_t)((p[2] & 0xf0) | NSH_MD_TYPE_2);

	/* a frame without NSH keeps its whole Ethernet header inside (next protocol 3) */
	unsigned old_front = old_len > 0 ? (unsigned)(ETH_LEN + old_len) : 0;
	unsigned new_front = ETH_LEN + off;
	if (new_front > old_front && new_front - old_front > rte_pktmbuf_headroom(m))
		return -1;
	if (new_front > old_front)
		rte_pktmbuf_prepend(m, (uint16_t)(new_front - old_front));
	else if (new_front < old_front)
		rte_pktmbuf_adj(m, (uint16_t)(old_front - new_front));
	memcpy(rte_pktmbuf_mtod(m, uint8_t *), hdr, new_front);
	return 0;
}

static inline void write_tlv(uint8_t *t, uint8_t type, const void *val, size_t len, uint16_t sp)
{
	t[0] = E2_NSH_CLASS >> 8;
	t[1] = E2_NSH_CLASS & 0xff;
	t[2] = type;
	t[3] = (uint8_t)len;
	memcpy(t + 4, val, len);
	memset(t + 4 + len, 0, sp - 4u - len);
}

/* Three cheap cases before the general one, because a stage that marks every frame
 * (e2nf-reasm) pays this per packet: the attribute is there with a TLV of the same size
 * (its value is overwritten where it is); the frame has NSH without it (the headroom
 * grows by one TLV and only the outer Ethernet and NSH header move down); the frame has
 * no NSH (outer Ethernet, base header and TLV are written straight into the headroom).
 * None builds the header aside. */
int e2nf_meta_set(struct rte_mbuf *m, const struct e2nf_attr *a, const void *val, size_t len)
{
	const uint8_t *old = NULL;
	int at = 0;
	unsigned n_tlvs = 0;

	if (len == 0 || len > NSH_TLV_VALUE_MAX || (a->width && len != a->width) || m->data_len < ETH_LEN)
		return -1;
	int old_len = nsh_walk(m, a->type, &old, &at, &n_tlvs);
	if (old_len < 0)
		return -1;
	uint16_t sp = tlv_space((uint8_t)len);
	if (at) {
		if (tlv_space(old[at + 3] & 0x7f) != sp)
			return meta_rebuild(m, a, val, len, old, old_len);
		write_tlv((uint8_t *)(uintptr_t)old + at, a->type, val, len, sp);
		return 0;
	}
	if (old_len > 0) {
		if (old_len + sp > NSH_MAX_LEN || n_tlvs == NSH_MAX_TLVS || sp > rte_pktmbuf_headroom(m))
			return -1;
		uint8_t *d = (uint8_t *)rte_pktmbuf_prepend(m, sp);
		memmove(d, d + sp, ETH_LEN + (size_t)old_len);
		uint8_t *p = d + ETH_LEN;
		write_tlv(p + old_len, a->type, val, len, sp);
		p[1] = (uint8_t)((p[1] & 0xc0) | ((old_len + sp) / 4));
		return 0;
	}
	/* a frame without NSH keeps its whole Ethernet header inside (next protocol 3) */
	uint16_t front = (uint16_t)(ETH_LEN + NSH_BASE_LEN + sp);
	if (front > rte_pktmbuf_headroom(m))
		return -1;
	uint8_t *d = (uint8_t *)rte_pktmbuf_prepend(m, front);
	memcpy(d, d + front, 12); /* the outer MACs: the frame's own */
	d[12] = NSH_ETHERTYPE >> 8;
	d[13] = NSH_ETHERTYPE & 0xff;
	uint8_t *p = d + ETH_LEN;
	p[0] = (NSH_TTL >> 2) & 0xf;
	p[1] = (uint8_t)(((NSH_TTL & 3) << 6) | ((NSH_BASE_LEN + sp) / 4));
	p[2] = NSH_MD_TYPE_2;
	p[3] = NSH_NP_ETHERNET;
	p[4] = p[5] = p[6] = 0; /* service path 0 */
	p[7] = 255;             /* service index */
	write_tlv(p + NSH_BASE_LEN, a->type, val, len, sp);
	return 0;
}

int e2nf_meta_set_u64(struct rte_mbuf *m, const struct e2nf_attr *a, uint64_t v)
{
	uint8_t b[8];

	if (!a->width || (a->width < 8 && v >> (8 * a->width)))
		return -1;
	for (int i = a->width - 1; i >= 0; i--, v >>= 8)
		b[i] = (uint8_t)v;
	return e2nf_meta_set(m, a, b, a->width);
}
