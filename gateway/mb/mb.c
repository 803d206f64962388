/* SPDX-License-Identifier: BSD-3-Clause */
/* Shared parts of the Embark middleboxes (mb.h). */
#include "mb.h"

#include <arpa/inet.h>
#include <ctype.h>
#include <endian.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>

#include "e2/bytes.h"
#include "e2/csum.h"
#include "e2/file.h"

#define MB_FILE_MAX (64u << 20)

static embark_u128 load128(const uint8_t *p)
{
	uint64_t hi, lo;
	memcpy(&hi, p, 8);
	memcpy(&lo, p + 8, 8);
	return (embark_u128)be64toh(hi) << 64 | be64toh(lo);
}

static void store128(uint8_t *p, embark_u128 v)
{
	uint64_t hi = htobe64((uint64_t)(v >> 64)), lo = htobe64((uint64_t)v);
	memcpy(p, &hi, 8);
	memcpy(p + 8, &lo, 8);
}

void mb_addr_bytes(bool v6, embark_u128 v, uint8_t out[16])
{
	if (v6) {
		store128(out, v);
	} else {
		uint32_t a = htonl((uint32_t)v);
		memcpy(out, &a, 4);
	}
}

int mb_parse_l3(uint8_t *l3, size_t len, int ethertype, struct mb_pkt *p)
{
	memset(p, 0, sizeof(*p));
	if (ethertype != 0x0800 && ethertype != 0x86dd)
		return 1;
	if (embark_packet_key(l3, len, &p->key) != EMBARK_OK)
		return -1;
	p->l3 = l3;
	p->v6 = (l3[0] >> 4) == 6;
	if ((ethertype == 0x86dd) != p->v6)
		return -1;
	size_t off, end;
	if (p->v6) {
		p->saddr = l3 + 8;
		p->daddr = l3 + 24;
		p->marked = (l3[1] & (MB_LABEL_RECORDS >> 16)) && embark_packet_nonce(l3, len, &p->nonce);
		end = 40 + (size_t)e2_get_be16(l3 + 4);
		off = 40;
		uint8_t nh = l3[6];
		while (nh == 0 || nh == 43 || nh == 60) { /* embark_packet_key checked the lengths */
			nh = l3[off];
			off += ((size_t)l3[off + 1] + 1) * 8;
		}
	} else {
		p->saddr = l3 + 12;
		p->daddr = l3 + 16;
		off = (size_t)(l3[0] & 15) * 4;
		end = e2_get_be16(l3 + 2);
	}
	p->l3_len = end;
	p->l4 = l3 + off;
	p->l4_len = end - off;
	if (p->key.has_ports) {
		p->ports = p->l4;
		if (p->key.proto == 6 && p->l4_len >= 20)
			p->l4_csum = p->l4 + 16;
		else if (p->key.proto == 17 && p->l4_len >= 8 && (p->v6 || e2_get_be16(p->l4 + 6) != 0))
			p->l4_csum = p->l4 + 6;
	}
	mb_flow_key(&p->key, &p->flow, NULL);
	return 0;
}

void mb_set_addr(struct mb_pkt *p, bool dst, const uint8_t *addr)
{
	uint8_t *where = dst ? p->daddr : p->saddr;
	size_t n = p->v6 ? 16 : 4;
	if (p->l4_csum)
		e2_csum_replace(p->l4_csum, where, addr, n);
	if (!p->v6)
		e2_csum_replace(p->l3 + 10, where, addr, n);
	memcpy(where, addr, n);
	embark_u128 v = p->v6 ? load128(addr) : embark_v4mapped(e2_get_be32(addr));
	if (dst)
		p->key.dip = v;
	else
		p->key.sip = v;
}

void mb_set_port(struct mb_pkt *p, bool dst, uint16_t port_be)
{
	if (!p->ports)
		return;
	uint8_t *where = p->ports + (dst ? 2 : 0);
	uint8_t nb[2];
	memcpy(nb, &port_be, 2);
	if (p->l4_csum)
		e2_csum_replace(p->l4_csum, where, nb, 2);
	memcpy(where, nb, 2);
	if (dst)
		p->key.dport = ntohs(port_be);
	else
		p->key.sport = ntohs(port_be);
}

void mb_flow_key(const embark_key5 *k, struct mb_flow_key *f, bool *swapped)
{
	bool sw = k->sip > k->dip || (k->sip == k->dip && k->sport > k->dport);
	memset(f, 0, sizeof(*f));
	f->proto = k->proto;
	f->a = sw ? k->dip : k->sip;
	f->b = sw ? k->sip : k->dip;
	f->pa = sw ? k->dport : k->sport;
	f->pb = sw ? k->sport : k->dport;
	uint64_t h = 0x9e3779b97f4a7c15ull;
	const uint64_t *w = (const void *)f;
	for (size_t i = 0; i < offsetof(struct mb_flow_key, hash) / 8; i++) {
		h ^= w[i];
		h *= 0xff51afd7ed558ccdull;
		h ^= h >> 32;
	}
	f->hash = h;
	if (swapped)
		*swapped = sw;
}

/* --- flow table --- */

struct mb_flows {
	size_t cap, mask, val_size, slot_size;
	uint64_t idle_ns;
	void (*evict)(void *ctx, void *val);
	void *evict_ctx;
	uint8_t *slots; /* slot_head, then the value */
};
struct slot_head {
	uint64_t last_seen; /* 0: never used */
	struct mb_flow_key key;
};

static struct slot_head *slot_at(const struct mb_flows *t, size_t i)
{
	return (struct slot_head *)(void *)(t->slots + i * t->slot_size);
}

struct mb_flows *mb_flows_new(size_t cap, size_t val_size, uint64_t idle_ns)
{
	struct mb_flows *t = calloc(1, sizeof(*t));
	if (!t)
		return NULL;
	size_t n = 16;
	while (n < cap * 2)
		n <<= 1;
	t->cap = n;
	t->mask = n - 1;
	t->val_size = val_size;
	t->slot_size = (sizeof(struct slot_head) + val_size + 15) & ~(size_t)15;
	t->idle_ns = idle_ns;
	/* a table of 65536 flows is ~15 MB: on 4 KiB pages nearly every lookup misses the TLB,
	 * so ask for transparent huge pages (the kernel may say no; then it only costs time) */
	size_t bytes = (n * t->slot_size + (2u << 20) - 1) & ~(size_t)((2u << 20) - 1);
	if (posix_memalign((void **)&t->slots, 2u << 20, bytes) != 0) {
		free(t);
		return NULL;
	}
	madvise(t->slots, bytes, MADV_HUGEPAGE);
	memset(t->slots, 0, n * t->slot_size);
	return t;
}

void mb_flows_on_evict(struct mb_flows *t, void (*fn)(void *ctx, void *val), void *ctx)
{
	t->evict = fn;
	t->evict_ctx = ctx;
}

bool mb_flows_carry(struct mb_flows *t, const struct mb_pkt *p, uint64_t now, size_t flag_off, bool *full)
{
	*full = false;
	if (!p->rec_flow)
		return false;
	const uint8_t *rf = mb_flows_find(t, p->rec_flow, now);
	if (!rf || !*(const bool *)(rf + flag_off))
		return false;
	bool fresh;
	uint8_t *f = mb_flows_add(t, &p->flow, now, &fresh);
	if (f)
		*(bool *)(f + flag_off) = true;
	else
		*full = true;
	return true;
}

void mb_flows_free(struct mb_flows *t)
{
	if (t && t->evict)
		for (size_t i = 0; i < t->cap; i++)
			if (slot_at(t, i)->last_seen)
				t->evict(t->evict_ctx, slot_at(t, i) + 1);
	if (t)
		free(t->slots);
	free(t);
}

static size_t flow_hash(const struct mb_flow_key *k)
{
	return (size_t)k->hash;
}

static bool live(const struct mb_flows *t, const struct slot_head *s, uint64_t now)
{
	/* a clock behind the entry's (captures merged out of order) is no expiry */
	return s->last_seen && (now < s->last_seen - 1 || now - (s->last_seen - 1) <= t->idle_ns);
}

/* Probing stops at a never-used slot; an expired slot is a tombstone to reuse. */
static void *lookup(struct mb_flows *t, const struct mb_flow_key *k, uint64_t now, bool add, bool *fresh)
{
	size_t i = flow_hash(k) & t->mask, reuse = SIZE_MAX;
	for (size_t probes = 0; probes < t->cap; probes++, i = (i + 1) & t->mask) {
		struct slot_head *s = slot_at(t, i);
		if (!s->last_seen) {
			if (reuse == SIZE_MAX)
				reuse = i;
			break;
		}
		if (!live(t, s, now)) {
			if (reuse == SIZE_MAX)
				reuse = i;
			continue;
		}
		if (!memcmp(&s->key, k, sizeof(*k))) {
			s->last_seen = now + 1;
			if (fresh)
				*fresh = false;
			return s + 1;
		}
	}
	if (!add || reuse == SIZE_MAX)
		return NULL;
	struct slot_head *s = slot_at(t, reuse);
	if (s->last_seen && t->evict)
		t->evict(t->evict_ctx, s + 1);
	s->key = *k;
	s->last_seen = now + 1;
	memset(s + 1, 0, t->val_size);
	*fresh = true;
	return s + 1;
}

void *mb_flows_find(struct mb_flows *t, const struct mb_flow_key *k, uint64_t now)
{
	return lookup(t, k, now, false, NULL);
}

void *mb_flows_add(struct mb_flows *t, const struct mb_flow_key *k, uint64_t now, bool *fresh)
{
	return lookup(t, k, now, true, fresh);
}

void mb_flows_prefetch_hash(const struct mb_flows *t, uint64_t hash)
{
	const uint8_t *s = (const uint8_t *)slot_at(t, (size_t)hash & t->mask);
	__builtin_prefetch(s);
	__builtin_prefetch(s + t->slot_size - 1); /* a slot may straddle two lines */
}

void mb_flows_prefetch(const struct mb_flows *t, const struct mb_flow_key *k)
{
	mb_flows_prefetch_hash(t, k->hash);
}

const void *mb_flows_peek(const struct mb_flows *t, const struct mb_flow_key *k, uint64_t now)
{
	size_t i = flow_hash(k) & t->mask;
	for (size_t probes = 0; probes < t->cap; probes++, i = (i + 1) & t->mask) {
		const struct slot_head *s = slot_at(t, i);
		if (!s->last_seen)
			return NULL;
		if (live(t, s, now) && !memcmp(&s->key, k, sizeof(*k)))
			return s + 1;
	}
	return NULL;
}

size_t mb_flows_count(const struct mb_flows *t, uint64_t now)
{
	size_t n = 0;
	for (size_t i = 0; i < t->cap; i++)
		n += live(t, slot_at(t, i), now);
	return n;
}

/* --- address lists --- */

static int hexval(int c)
{
	return c >= '0' && c <= '9'   ? c - '0'
	       : c >= 'a' && c <= 'f' ? c - 'a' + 10
	       : c >= 'A' && c <= 'F' ? c - 'A' + 10
				      : -1;
}

static int cmp128(const void *a, const void *b)
{
	embark_u128 x = *(const embark_u128 *)a, y = *(const embark_u128 *)b;
	return x < y ? -1 : x > y;
}

/* The first word of the first non-comment line says which kind of file this is. */
/* Whether an address file is in embark's plain pool format (`pool NAME ADDRS` lines),
 * from its first line that is not blank or a comment: its first word is `pool` and it is
 * not `NAME HEX` of an encrypted pool that happens to be named "pool". */
static bool plain_pool_file(const char *text, size_t len)
{
	size_t i = 0;
	while (i < len) {
		while (i < len && (text[i] == ' ' || text[i] == '\t' || text[i] == '\n' || text[i] == '\r'))
			i++;
		if (i < len && text[i] == '#') {
			while (i < len && text[i] != '\n')
				i++;
			continue;
		}
		break;
	}
	if (len - i < 5 || memcmp(text + i, "pool", 4) != 0 || (text[i + 4] != ' ' && text[i + 4] != '\t'))
		return false;
	size_t j = i + 4, end = i;
	while (end < len && text[end] != '\n')
		end++;
	while (end > j && (text[end - 1] == '\r' || text[end - 1] == ' ' || text[end - 1] == '\t'))
		end--;
	while (j < end && (text[j] == ' ' || text[j] == '\t'))
		j++;
	if (end - j != 32)
		return true;
	for (size_t k = j; k < end; k++)
		if (!isxdigit((unsigned char)text[k]))
			return true;
	return false; /* `pool HEX`: a value of the pool named "pool" */
}

int mb_addrs_parse(const char *text, size_t len, const char *origin, const char *pool, struct mb_addrs *out,
		   struct e2_err *err)
{
	char msg[256];
	memset(out, 0, sizeof(*out));
	if (memchr(text, '\0', len)) {
		e2_seterr(err, "%s: contains a NUL byte (not a text file)", origin);
		return -1;
	}
	if (plain_pool_file(text, len)) {
		embark_poolset ps;
		if (embark_pools_parse(text, len, origin, &ps, msg, sizeof(msg)) != 0) {
			e2_seterr(err, "%s", msg);
			return -1;
		}
		size_t total = 0, kept = 0;
		for (size_t i = 0; i < ps.n; i++)
			if (!pool || !strcmp(ps.v[i].name, pool)) {
				ps.v[kept++] = ps.v[i];
				total += (size_t)(ps.v[i].r.hi - ps.v[i].r.lo) + 1; /* the parser caps the sum */
			}
		ps.n = kept;
		out->v = calloc(total ? total : 1, sizeof(*out->v));
		if (!out->v) {
			embark_poolset_free(&ps);
			e2_seterr(err, "%s: no memory", origin);
			return -1;
		}
		for (size_t i = 0; i < ps.n; i++)
			for (embark_u128 a = ps.v[i].r.lo;; a++) {
				out->v[out->n++] = a;
				if (a == ps.v[i].r.hi)
					break;
			}
		embark_poolset_free(&ps);
		if (!out->n) {
			if (pool)
				e2_seterr(err, "%s: no pool named '%s'", origin, pool);
			else
				e2_seterr(err, "%s: no addresses", origin);
			mb_addrs_free(out);
			return -1;
		}
		return 0;
	}
	out->encrypted = true;
	size_t cap = 0;
	unsigned lineno = 0;
	for (size_t pos = 0; pos < len;) {
		const char *nl = memchr(text + pos, '\n', len - pos);
		size_t ll = nl ? (size_t)(nl - (text + pos)) : len - pos;
		const char *l = text + pos;
		pos += ll + 1;
		lineno++;
		while (ll && (l[ll - 1] == '\r' || l[ll - 1] == ' ' || l[ll - 1] == '\t'))
			ll--;
		while (ll && (*l == ' ' || *l == '\t'))
			l++, ll--;
		if (!ll || *l == '#')
			continue;
		/* `NAME HEX` (the pool's name first) or `HEX` */
		const char *name = NULL;
		size_t nl_len = 0;
		if (ll > 32 && (l[ll - 33] == ' ' || l[ll - 33] == '\t')) {
			name = l;
			nl_len = ll - 33;
			while (nl_len && (name[nl_len - 1] == ' ' || name[nl_len - 1] == '\t'))
				nl_len--;
			l += ll - 32;
			ll = 32;
		}
		if (pool && !name) {
			e2_seterr(err, "%s:%u: a value without its pool's name (a pool name needs `NAME HEX` lines)",
				  origin, lineno);
			mb_addrs_free(out);
			return -1;
		}
		if (pool && (nl_len != strlen(pool) || memcmp(name, pool, nl_len) != 0))
			continue;
		embark_u128 v = 0;
		bool ok = ll == 32;
		for (size_t i = 0; ok && i < 32; i++) {
			int h = hexval((unsigned char)l[i]);
			ok = h >= 0;
			v = v << 4 | (embark_u128)(h & 15);
		}
		if (!ok || !embark_is_pool_value(v)) {
			e2_seterr(err, "%s:%u: %s", origin, lineno,
				  ok ? "not an encrypted pool value (no pool suffix)"
				     : "expected 32 hex digits (an encrypted pool value) or `pool NAME ADDRS` lines");
			mb_addrs_free(out);
			return -1;
		}
		if (out->n == EMBARK_POOL_MAX_ADDRS) {
			e2_seterr(err, "%s:%u: more than %d addresses", origin, lineno, EMBARK_POOL_MAX_ADDRS);
			mb_addrs_free(out);
			return -1;
		}
		if (out->n == cap) {
			cap = cap ? cap * 2 : 64;
			embark_u128 *nv = realloc(out->v, cap * sizeof(*nv));
			if (!nv) {
				e2_seterr(err, "%s: no memory", origin);
				mb_addrs_free(out);
				return -1;
			}
			out->v = nv;
		}
		out->v[out->n++] = v;
	}
	if (!out->n) {
		if (pool)
			e2_seterr(err, "%s: no pool named '%s'", origin, pool);
		else
			e2_seterr(err, "%s: no addresses", origin);
		mb_addrs_free(out);
		return -1;
	}
	qsort(out->v, out->n, sizeof(*out->v), cmp128);
	for (size_t i = 1; i < out->n; i++)
		if (out->v[i] == out->v[i - 1]) {
			e2_seterr(err, "%s: a value is listed twice", origin);
			mb_addrs_free(out);
			return -1;
		}
	return 0;
}

int mb_addrs_load(const char *path, const char *pool, struct mb_addrs *out, struct e2_err *err)
{
	size_t len;
	char *text = e2_read_file(path, MB_FILE_MAX, &len, err);
	if (!text)
		return -1;
	int rc = mb_addrs_parse(text, len, path, pool, out, err);
	free(text);
	return rc;
}

void mb_addrs_free(struct mb_addrs *a)
{
	free(a->v);
	memset(a, 0, sizeof(*a));
}

/* --- URI lists --- */

static int cmp_uri(const void *a, const void *b)
{
	const struct mb_uri *x = a, *y = b;
	size_t n = x->len < y->len ? x->len : y->len;
	int c = memcmp(x->b, y->b, n);
	return c ? c : x->len < y->len ? -1 : x->len > y->len;
}

#define MB_URI_MAX 8192

int mb_uris_parse(const char *text, size_t len, const char *origin, struct mb_uris *out, struct e2_err *err)
{
	memset(out, 0, sizeof(*out));
	if (memchr(text, '\0', len)) {
		e2_seterr(err, "%s: contains a NUL byte (not a text file)", origin);
		return -1;
	}
	size_t cap = 0;
	unsigned lineno = 0;
	for (size_t pos = 0; pos < len;) {
		const char *nl = memchr(text + pos, '\n', len - pos);
		size_t ll = nl ? (size_t)(nl - (text + pos)) : len - pos;
		const char *l = text + pos;
		pos += ll + 1;
		lineno++;
		while (ll && (l[ll - 1] == '\r' || l[ll - 1] == ' ' || l[ll - 1] == '\t'))
			ll--;
		while (ll && (*l == ' ' || *l == '\t'))
			l++, ll--;
		if (!ll || *l == '#')
			continue;
		const char *bad = NULL;
		uint8_t *b = NULL;
		size_t bl = 0;
		if (ll > 4 && !memcmp(l, "enc ", 4)) {
			const char *h = l + 4;
			size_t hl = ll - 4;
			if (hl % 2 || hl / 2 <= 16 || hl / 2 > MB_URI_MAX + 16)
				bad = "an encrypted URI is an even number of hex digits, more than 32";
			else if ((b = malloc(hl / 2))) {
				for (size_t i = 0; i < hl / 2 && !bad; i++) {
					int hi = hexval((unsigned char)h[2 * i]),
					    lo = hexval((unsigned char)h[2 * i + 1]);
					if (hi < 0 || lo < 0)
						bad = "not a hex digit in an encrypted URI";
					else
						b[i] = (uint8_t)(hi << 4 | lo);
				}
				bl = hl / 2;
			}
		} else {
			for (size_t i = 0; i < ll && !bad; i++)
				if ((unsigned char)l[i] <= ' ' || (unsigned char)l[i] >= 127)
					bad = "a URI has no spaces or control characters";
			if (ll > MB_URI_MAX)
				bad = "URI longer than 8192 bytes";
			if (!bad && (b = malloc(ll))) {
				memcpy(b, l, ll);
				bl = ll;
			}
		}
		if (!bad && !b)
			bad = "no memory";
		if (!bad && out->n == cap) {
			cap = cap ? cap * 2 : 64;
			struct mb_uri *nv = realloc(out->v, cap * sizeof(*nv));
			if (!nv)
				bad = "no memory";
			else
				out->v = nv;
		}
		if (bad) {
			free(b);
			e2_seterr(err, "%s:%u: %s", origin, lineno, bad);
			mb_uris_free(out);
			return -1;
		}
		out->v[out->n++] = (struct mb_uri){b, bl};
	}
	if (out->n)
		qsort(out->v, out->n, sizeof(*out->v), cmp_uri);
	return 0;
}

int mb_uris_load(const char *path, struct mb_uris *out, struct e2_err *err)
{
	size_t len;
	char *text = e2_read_file(path, MB_FILE_MAX, &len, err);
	if (!text)
		return -1;
	int rc = mb_uris_parse(text, len, path, out, err);
	free(text);
	return rc;
}

bool mb_uris_has(const struct mb_uris *u, const uint8_t *b, size_t len)
{
	struct mb_uri k = {(uint8_t *)b, len};
	return u->n && bsearch(&k, u->v, u->n, sizeof(k), cmp_uri);
}

void mb_uris_free(struct mb_uris *u)
{
	for (size_t i = 0; i < u->n; i++)
		free(u->v[i].b);
	free(u->v);
	memset(u, 0, sizeof(*u));
}

/* --- extension records --- */

void mb_flow_id(const embark_key5 *k, uint8_t out[EXT_FLOW_ID_LEN])
{
	store128(out, k->sip);
	store128(out + 16, k->dip);
	e2_put_be16(out + 32, k->sport);
	e2_put_be16(out + 34, k->dport);
	out[36] = k->proto;
}

int mb_ext_decode(struct ext_codec *c, const uint8_t *b, size_t len, struct mb_ext *x, struct e2_err *err)
{
	struct ext_record r;
	memset(x, 0, sizeof(*x));
	if (ext_record_decode(c, b, len, &r, err) != 0)
		return -1;
	x->epoch = r.epoch;
	x->salt0 = r.salt0;
	x->packet_nonce = r.packet_nonce;
	x->packet_last = r.packet_last;
	x->key.sip = load128(r.flow);
	x->key.dip = load128(r.flow + 16);
	x->key.sport = e2_get_be16(r.flow + 32);
	x->key.dport = e2_get_be16(r.flow + 34);
	x->key.proto = r.flow[36];
	x->key.has_ports = x->key.proto == 6 || x->key.proto == 17;
	x->ntokens = r.ntokens;
	x->tokens = r.tokens;
	x->offsets = r.offsets;
	x->token_wire = r.token_wire;
	x->token_wire_len = r.token_wire_len;
	x->runs = r.runs;
	x->runs_len = r.runs_len;
	x->uri = r.uri;
	x->uri_len = r.uri_len;
	return 0;
}
