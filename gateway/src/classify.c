/* SPDX-License-Identifier: BSD-3-Clause */
/* A plain first-match classifier using only <= and >= — the point of PrefixMatch is that
 * the very same code classifies plaintext IPv4 and encrypted IPv6 packets. */
#include "internal.h"

#include <stdlib.h>
#include <string.h>

struct embark_classifier {
	size_t n;
	const embark_rule **order;
};

static int cmp_rule(const void *a, const void *b)
{
	const embark_rule *x = *(const embark_rule *const *)a, *y = *(const embark_rule *const *)b;
	if (x->prio != y->prio)
		return x->prio < y->prio ? -1 : 1;
	return x < y ? -1 : x > y;
}

embark_classifier *embark_classifier_new(const embark_ruleset *rs)
{
	embark_classifier *c = calloc(1, sizeof *c);
	if (!c)
		return NULL;
	c->order = malloc((rs->n ? rs->n : 1) * sizeof *c->order);
	if (!c->order) {
		free(c);
		return NULL;
	}
	for (size_t i = 0; i < rs->n; i++)
		c->order[i] = &rs->v[i];
	qsort(c->order, rs->n, sizeof *c->order, cmp_rule);
	c->n = rs->n;
	return c;
}

void embark_classifier_free(embark_classifier *c)
{
	if (!c)
		return;
	free(c->order);
	free(c);
}

const embark_rule *embark_classify(const embark_classifier *c, const embark_key5 *k)
{
	for (size_t i = 0; i < c->n; i++) {
		const embark_rule *r = c->order[i];
		if (r->proto != EMBARK_PROTO_ANY && r->proto != k->proto)
			continue;
		if (k->sip < r->src.lo || k->sip > r->src.hi)
			continue;
		if (k->dip < r->dst.lo || k->dip > r->dst.hi)
			continue;
		if (!(r->sport_any && r->dport_any)) {
			if (!k->has_ports)
				continue;
			if (k->sport < r->sport.lo || k->sport > r->sport.hi)
				continue;
			if (k->dport < r->dport.lo || k->dport > r->dport.hi)
				continue;
		}
		return r;
	}
	return NULL;
}

static void l4_ports(const uint8_t *l4, size_t len, uint8_t proto, embark_key5 *k)
{
	if ((proto == 6 || proto == 17) && len >= 4) {
		k->sport = e2_get_be16(l4);
		k->dport = e2_get_be16(l4 + 2);
		k->has_ports = true;
	}
}

int embark_packet_key(const uint8_t *p, size_t len, embark_key5 *k)
{
	memset(k, 0, sizeof *k);
	if (len < 1)
		return EMBARK_E_MALFORMED;
	int v = p[0] >> 4;
	if (v == 4) {
		if (len < 20)
			return EMBARK_E_TRUNCATED;
		size_t hl = (size_t)(p[0] & 15) * 4, tl = e2_get_be16(p + 2);
		if (hl < 20 || tl < hl)
			return EMBARK_E_MALFORMED;
		if (tl > len || hl > len)
			return EMBARK_E_TRUNCATED;
		k->sip = embark_v4mapped(e2_get_be32(p + 12));
		k->dip = embark_v4mapped(e2_get_be32(p + 16));
		k->proto = p[9];
		if ((e2_get_be16(p + 6) & 0x1fff) == 0)
			l4_ports(p + hl, tl - hl, k->proto, k);
		return EMBARK_OK;
	}
	if (v == 6) {
		if (len < 40)
			return EMBARK_E_TRUNCATED;
		size_t pl = e2_get_be16(p + 4);
		if (40 + pl > len)
			return EMBARK_E_TRUNCATED;
		k->sip = embark_load_u128(p + 8);
		k->dip = embark_load_u128(p + 24);
		uint8_t nh = p[6];
		size_t off = 40, end = 40 + pl;
		while (nh == 0 || nh == 43 || nh == 60) { /* hop-by-hop, routing, destination options */
			if (off + 8 > end)
				return EMBARK_E_TRUNCATED;
			size_t el = ((size_t)p[off + 1] + 1) * 8;
			if (off + el > end)
				return EMBARK_E_TRUNCATED;
			nh = p[off];
			off += el;
		}
		k->proto = nh;
		l4_ports(p + off, end - off, nh, k);
		return EMBARK_OK;
	}
	return EMBARK_E_MALFORMED;
}
