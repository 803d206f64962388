/* SPDX-License-Identifier: BSD-3-Clause */
/* NSH (RFC 8300) over Ethernet, MD type 2, as used by nsh_push, nsh_pop, nsh_match,
 * tunnel_encap and tunnel_decap.
 *
 * Frame: outer Ethernet (EtherType 0x894F) | NSH base header | service path header |
 * MD type 2 TLVs | the original frame (next protocol 3, Ethernet).
 *
 * E2's attributes are TLVs of metadata class 0xFFF6 (the first class of RFC 8300's
 * experimental range) with the types below; README-modules.md has the table. */
#ifndef E2D_NSH_H
#define E2D_NSH_H

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <rte_byteorder.h>
#include <rte_ether.h>
#include <rte_mbuf.h>

#include "../module.h"

#define NSH_ETHERTYPE 0x894F
#define NSH_NP_IPV4 0x1
#define NSH_NP_IPV6 0x2
#define NSH_NP_ETHERNET 0x3
#define NSH_MD_TYPE_2 0x2
#define NSH_TTL_DEFAULT 63
#define NSH_BASE_LEN 8        /* base header + service path header */
#define NSH_MAX_LEN 252       /* the 6-bit length field counts 4-byte words */
#define NSH_TLV_MAX_VALUE 127 /* the 7-bit TLV length counts bytes */
#define NSH_MAX_TLVS 16
#define E2_NSH_CLASS 0xFFF6

struct nsh_tlv {
	uint16_t cls;
	uint8_t type;
	uint8_t len;
	uint8_t val[NSH_TLV_MAX_VALUE];
};

/* A parsed NSH header. */
struct nsh_info {
	uint8_t ttl, md_type, next_proto, si;
	uint32_t spi;
	uint16_t hdr_len; /* bytes of NSH, base header included */
	uint8_t n_tlvs;
	struct nsh_tlv tlvs[NSH_MAX_TLVS];
};

/* E2's named attributes: integers of `width` bytes (big-endian), or bytes (width 0).
 * Types 32..127 are free for any attribute, written tN=VALUE (bytes). */
struct nsh_attr {
	const char *name;
	uint8_t type;
	uint8_t width;
};
static const struct nsh_attr nsh_attrs[] = {
	{"safe", 1, 1},    /* 1: an IDS found the flow safe, 0: unsafe */
	{"url", 2, 0},     /* the URL of an HTTP request */
	{"tclass", 3, 2},  /* traffic class for scheduling */
	{"flow_id", 4, 4}, /* flow ID, as flowhash computes it */
	{"app", 5, 0},     /* application name from a classifier */
	{"verdict", 6, 1}, /* 0 pass, 1 drop, 2 inspect further */
	{NULL, 0, 0},
};
#define NSH_GENERIC_TYPE_MIN 32

/* Finds the attribute called `name` (named or tN); returns 0, or -1 if unknown. */
static inline int nsh_attr_lookup(const char *name, uint8_t *type, uint8_t *width)
{
	for (const struct nsh_attr *a = nsh_attrs; a->name; a++)
		if (strcmp(a->name, name) == 0) {
			*type = a->type;
			*width = a->width;
			return 0;
		}
	if (name[0] == 't' && name[1] >= '0' && name[1] <= '9') {
		char *end;
		unsigned long t = strtoul(name + 1, &end, 10);
		if (*end == '\0' && t >= NSH_GENERIC_TYPE_MIN && t <= 127) {
			*type = (uint8_t)t;
			*width = 0;
			return 0;
		}
	}
	return -1;
}

static inline int hexval(char c)
{
	return c >= '0' && c <= '9'   ? c - '0'
	       : c >= 'a' && c <= 'f' ? c - 'a' + 10
	       : c >= 'A' && c <= 'F' ? c - 'A' + 10
				      : -1;
}

/* Encodes attribute=value as a TLV: integers for named attributes with a width,
 * otherwise the bytes of the string, or of 0xHEX. Returns 0, or -1 with err. */
static inline int nsh_attr_encode(const char *name, const char *value, struct nsh_tlv *t, char *err)
{
	uint8_t width;

	memset(t, 0, sizeof(*t));
	t->cls = E2_NSH_CLASS;
	if (nsh_attr_lookup(name, &t->type, &width) != 0) {
		int off = snprintf(err, E2_ERR_MAX, "unknown attribute '%s' (known:", name);
		for (const struct nsh_attr *a = nsh_attrs; a->name && off < E2_ERR_MAX; a++)
			off += snprintf(err + off, E2_ERR_MAX - off, " %s", a->name);
		if (off < E2_ERR_MAX)
			snprintf(err + off, E2_ERR_MAX - off, ", or t32..t127)");
		return -1;
	}
	if (width) {
		char *end;
		unsigned long long v = strtoull(value, &end, 0);
		if (end == value || *end || value[0] == '-' || (width < 8 && v >> (8 * width))) {
			snprintf(err, E2_ERR_MAX, "%s=%s is not an integer of %u byte(s)", name, value, width);
			return -1;
		}
		t->len = width;
		for (int i = width - 1; i >= 0; i--, v >>= 8)
			t->val[i] = (uint8_t)v;
		return 0;
	}
	size_t n = strlen(value);
	if (value[0] == '0' && (value[1] == 'x' || value[1] == 'X')) {
		n -= 2;
		if (n == 0 || n % 2 || n / 2 > NSH_TLV_MAX_VALUE) {
			snprintf(err, E2_ERR_MAX, "%s=%s: hex needs an even number of digits, at most %d bytes", name,
				 value, NSH_TLV_MAX_VALUE);
			return -1;
		}
		for (size_t i = 0; i < n / 2; i++) {
			int hi = hexval(value[2 + 2 * i]), lo = hexval(value[3 + 2 * i]);
			if (hi < 0 || lo < 0) {
				snprintf(err, E2_ERR_MAX, "%s=%s is not hexadecimal", name, value);
				return -1;
			}
			t->val[i] = (uint8_t)(hi << 4 | lo);
		}
		t->len = (uint8_t)(n / 2);
		return 0;
	}
	if (n == 0 || n > NSH_TLV_MAX_VALUE) {
		snprintf(err, E2_ERR_MAX, "%s: value must be 1..%d bytes", name, NSH_TLV_MAX_VALUE);
		return -1;
	}
	memcpy(t->val, value, n);
	t->len = (uint8_t)n;
	return 0;
}

static inline uint16_t nsh_tlv_space(uint8_t len)
{
	return (uint16_t)(4 + ((len + 3u) & ~3u));
}

/* Parses the NSH header at p (avail bytes); returns 0, or -1 if malformed. TLVs beyond
 * NSH_MAX_TLVS make it malformed too: nothing may be lost silently. */
static inline int nsh_parse(const uint8_t *p, size_t avail, struct nsh_info *h)
{
	if (avail < NSH_BASE_LEN || (p[0] >> 6) != 0)
		return -1;
	h->ttl = (uint8_t)(((p[0] & 0xf) << 2) | (p[1] >> 6));
	h->hdr_len = (uint16_t)((p[1] & 0x3f) * 4);
	h->md_type = p[2] & 0xf;
	h->next_proto = p[3];
	h->spi = (uint32_t)p[4] << 16 | (uint32_t)p[5] << 8 | p[6];
	h->si = p[7];
	h->n_tlvs = 0;
	if (h->hdr_len < NSH_BASE_LEN || h->hdr_len > avail)
		return -1;
	if (h->md_type != NSH_MD_TYPE_2)
		return h->md_type == 1 && h->hdr_len == 24 ? 0 : -1;
	for (uint16_t off = NSH_BASE_LEN; off < h->hdr_len;) {
		struct nsh_tlv *t;
		uint8_t len;
		if (off + 4 > h->hdr_len || h->n_tlvs == NSH_MAX_TLVS)
			return -1;
		len = p[off + 3] & 0x7f;
		if (off + nsh_tlv_space(len) > h->hdr_len)
			return -1;
		t = &h->tlvs[h->n_tlvs++];
		t->cls = (uint16_t)(p[off] << 8 | p[off + 1]);
		t->type = p[off + 2];
		t->len = len;
		memcpy(t->val, p + off + 4, len);
		off = (uint16_t)(off + nsh_tlv_space(len));
	}
	return 0;
}

static inline uint16_t nsh_len_of(const struct nsh_info *h)
{
	uint16_t n = NSH_BASE_LEN;
	for (uint8_t i = 0; i < h->n_tlvs; i++)
		n = (uint16_t)(n + nsh_tlv_space(h->tlvs[i].len));
	return n;
}

/* Writes h as an MD type 2 header (hdr_len is recomputed); returns its length. */
static inline uint16_t nsh_write(struct nsh_info *h, uint8_t *p)
{
	uint16_t off = NSH_BASE_LEN;

	h->hdr_len = nsh_len_of(h);
	h->md_type = NSH_MD_TYPE_2;
	p[0] = (uint8_t)((h->ttl >> 2) & 0xf);
	p[1] = (uint8_t)((h->ttl & 3) << 6 | (h->hdr_len / 4));
	p[2] = NSH_MD_TYPE_2;
	p[3] = h->next_proto;
	p[4] = (uint8_t)(h->spi >> 16);
	p[5] = (uint8_t)(h->spi >> 8);
	p[6] = (uint8_t)h->spi;
	p[7] = h->si;
	for (uint8_t i = 0; i < h->n_tlvs; i++) {
		const struct nsh_tlv *t = &h->tlvs[i];
		uint16_t space = nsh_tlv_space(t->len);
		p[off] = (uint8_t)(t->cls >> 8);
		p[off + 1] = (uint8_t)t->cls;
		p[off + 2] = t->type;
		p[off + 3] = t->len;
		memcpy(p + off + 4, t->val, t->len);
		memset(p + off + 4 + t->len, 0, space - 4u - t->len);
		off = (uint16_t)(off + space);
	}
	return off;
}

/* Adds t to h, replacing a TLV of the same class and type; returns -1 if h is full. */
static inline int nsh_set_tlv(struct nsh_info *h, const struct nsh_tlv *t)
{
	for (uint8_t i = 0; i < h->n_tlvs; i++)
		if (h->tlvs[i].cls == t->cls && h->tlvs[i].type == t->type) {
			h->tlvs[i] = *t;
			return 0;
		}
	if (h->n_tlvs == NSH_MAX_TLVS)
		return -1;
	h->tlvs[h->n_tlvs++] = *t;
	return 0;
}

/* The frame's outer Ethernet header and, if it is an NSH frame, its parsed header.
 * Returns 1 (NSH, h filled), 0 (not NSH) or -1 (NSH but malformed or truncated). */
static inline int nsh_read(const struct rte_mbuf *m, struct rte_ether_hdr *eth, struct nsh_info *h)
{
	uint8_t buf[NSH_MAX_LEN];
	const struct rte_ether_hdr *e = rte_pktmbuf_read(m, 0, sizeof(*e), eth);
	const uint8_t *p;
	size_t avail;

	if (!e)
		return 0;
	if (e != eth)
		*eth = *e;
	if (eth->ether_type != rte_cpu_to_be_16(NSH_ETHERTYPE))
		return 0;
	avail = RTE_MIN((size_t)(m->pkt_len - sizeof(*eth)), sizeof(buf));
	p = rte_pktmbuf_read(m, sizeof(*eth), (uint32_t)avail, buf);
	if (!p)
		return -1;
	return nsh_parse(p, avail, h) == 0 ? 1 : -1;
}

/* Replaces the first `old_len` bytes of the frame by outer Ethernet `eth` + NSH `h`.
 * Returns 0, or -1 (no headroom) leaving the frame unchanged. */
static inline int nsh_replace(struct rte_mbuf *m, uint16_t old_len, const struct rte_ether_hdr *eth, struct nsh_info *h)
{
	uint16_t need = (uint16_t)(sizeof(*eth) + nsh_len_of(h));
	uint8_t *p;

	if (need > old_len + rte_pktmbuf_headroom(m) || old_len > m->data_len)
		return -1;
	rte_pktmbuf_adj(m, old_len);
	p = (uint8_t *)rte_pktmbuf_prepend(m, need);
	memcpy(p, eth, sizeof(*eth));
	((struct rte_ether_hdr *)p)->ether_type = rte_cpu_to_be_16(NSH_ETHERTYPE);
	nsh_write(h, p + sizeof(*eth));
	return 0;
}

/* A light view of an NSH frame's TLVs, pointing into the frame (no copies), for the
 * per-packet matching path. Same validation as nsh_parse. */
struct nsh_view {
	uint8_t n;
	uint8_t type[NSH_MAX_TLVS], len[NSH_MAX_TLVS];
	uint16_t cls[NSH_MAX_TLVS];
	const uint8_t *val[NSH_MAX_TLVS];
};

/* Returns 1 (an MD type 2 NSH frame whose headers sit in the first segment, v filled),
 * 0 (not NSH) or -1 (malformed, or headers not contiguous: use nsh_read). */
static inline int nsh_view(const struct rte_mbuf *m, struct nsh_view *v)
{
	const uint8_t *d = rte_pktmbuf_mtod(m, const uint8_t *), *p;
	uint16_t hdr_len;

	if (unlikely(m->data_len < sizeof(struct rte_ether_hdr) + NSH_BASE_LEN))
		return m->data_len >= sizeof(struct rte_ether_hdr) && d[12] == 0x89 && d[13] == 0x4f ? -1 : 0;
	if (d[12] != 0x89 || d[13] != 0x4f)
		return 0;
	p = d + sizeof(struct rte_ether_hdr);
	hdr_len = (uint16_t)((p[1] & 0x3f) * 4);
	if ((p[0] >> 6) != 0 || (p[2] & 0xf) != NSH_MD_TYPE_2 || hdr_len < NSH_BASE_LEN ||
	    hdr_len > m->data_len - sizeof(struct rte_ether_hdr))
		return -1;
	v->n = 0;
	for (uint16_t off = NSH_BASE_LEN; off < hdr_len;) {
		uint8_t len;
		if (off + 4 > hdr_len || v->n == NSH_MAX_TLVS)
			return -1;
		len = p[off + 3] & 0x7f;
		if (off + nsh_tlv_space(len) > hdr_len)
			return -1;
		v->cls[v->n] = (uint16_t)(p[off] << 8 | p[off + 1]);
		v->type[v->n] = p[off + 2];
		v->len[v->n] = len;
		v->val[v->n++] = p + off + 4;
		off = (uint16_t)(off + nsh_tlv_space(len));
	}
	return 1;
}

/* Finds the value of TLV (cls, type) in h. */
static inline const struct nsh_tlv *nsh_find(const struct nsh_info *h, uint16_t cls, uint8_t type)
{
	for (uint8_t i = 0; i < h->n_tlvs; i++)
		if (h->tlvs[i].cls == cls && h->tlvs[i].type == type)
			return &h->tlvs[i];
	return NULL;
}

/* Removes outer Ethernet + NSH, leaving the inner frame (Ethernet next protocol), or
 * the outer MACs with an IPv4/IPv6 EtherType before an IP packet. Returns 0 or -1. */
static inline int nsh_strip(struct rte_mbuf *m, const struct rte_ether_hdr *eth, const struct nsh_info *h)
{
	uint16_t outer = (uint16_t)(sizeof(*eth) + h->hdr_len);
	struct rte_ether_hdr e = *eth;

	if (outer > m->data_len)
		return -1;
	switch (h->next_proto) {
	case NSH_NP_ETHERNET: rte_pktmbuf_adj(m, outer); return 0;
	case NSH_NP_IPV4:
	case NSH_NP_IPV6:
		rte_pktmbuf_adj(m, h->hdr_len);
		e.ether_type =
			rte_cpu_to_be_16(h->next_proto == NSH_NP_IPV4 ? RTE_ETHER_TYPE_IPV4 : RTE_ETHER_TYPE_IPV6);
		memcpy(rte_pktmbuf_mtod(m, void *), &e, sizeof(e));
		return 0;
	default: return -1;
	}
}

#endif
