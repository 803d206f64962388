/* SPDX-License-Identifier: BSD-3-Clause */
/* libFuzzer target for the parsers of the NSH, flow and tunnel modules: NSH headers from the wire
 * (nsh_parse, and parse -> write -> parse gives the same header, which writes the same
 * bytes again), NSH attribute values from the control API (an encoded TLV put into a
 * header is found again, unchanged, after write -> parse), flowhash field lists, and
 * flow keys of frames from the wire (e2_flow_key_get on IPv4, IPv6 and other frames).
 * The first byte picks the parser. Seeds: vswitch/fuzz_corpus/nsh. */
#include "e2/fuzz.h"
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "modules/flowkey.h"
#include "modules/nsh.h"

static void fuzz_header(const uint8_t *data, size_t size)
{
	static struct nsh_info h, again;
	uint8_t out[NSH_MAX_LEN + 8], out2[NSH_MAX_LEN + 8];

	if (nsh_parse(data, size, &h) != 0 || h.md_type != NSH_MD_TYPE_2)
		return;
	uint16_t len = nsh_write(&h, out);
	if (len > NSH_MAX_LEN || nsh_parse(out, len, &again) != 0)
		__builtin_trap();
	if (again.n_tlvs != h.n_tlvs || again.spi != h.spi || again.si != h.si || again.ttl != h.ttl ||
	    again.next_proto != h.next_proto)
		__builtin_trap();
	for (uint8_t i = 0; i < h.n_tlvs; i++)
		if (again.tlvs[i].cls != h.tlvs[i].cls || again.tlvs[i].type != h.tlvs[i].type ||
		    again.tlvs[i].len != h.tlvs[i].len || memcmp(again.tlvs[i].val, h.tlvs[i].val, h.tlvs[i].len))
			__builtin_trap();
	if (nsh_write(&again, out2) != len || memcmp(out, out2, len) != 0)
		__builtin_trap(); /* the written form is canonical */
}

/* An encoded attribute put into a header must come back unchanged through the wire. */
static void attr_round_trip(const struct nsh_tlv *t)
{
	static struct nsh_info h, back;
	uint8_t out[NSH_MAX_LEN + 8];

	memset(&h, 0, sizeof(h));
	h.ttl = NSH_TTL_DEFAULT;
	h.next_proto = NSH_NP_ETHERNET;
	h.spi = 1;
	h.si = 255;
	if (nsh_set_tlv(&h, t) != 0 || nsh_parse(out, nsh_write(&h, out), &back) != 0)
		__builtin_trap();
	const struct nsh_tlv *found = nsh_find(&back, t->cls, t->type);
	if (!found || found->len != t->len || memcmp(found->val, t->val, t->len) != 0)
		__builtin_trap();
}

/* A frame as an mbuf of `n` segments (1 or 2, the first `at` bytes long), each in its
 * own exact-size allocation so that AddressSanitizer sees any read past a segment. No
 * EAL is needed: rte_pktmbuf_read only follows buf_addr, data_off, the lengths and next. */
struct fake_mbuf {
	struct rte_mbuf seg[2];
	uint8_t *mem[2];
};

static void fake_mbuf_make(struct fake_mbuf *fm, const uint8_t *frame, size_t size, size_t at, int n)
{
	memset(fm, 0, sizeof(*fm));
	for (int i = 0; i < n; i++) {
		size_t off = i ? at : 0, len = n == 1 ? size : i ? size - at : at;
		fm->mem[i] = malloc(len ? len : 1);
		memcpy(fm->mem[i], frame + off, len);
		fm->seg[i].buf_addr = fm->mem[i];
		fm->seg[i].data_len = (uint16_t)len;
		fm->seg[i].next = i + 1 < n ? &fm->seg[i + 1] : NULL;
	}
	fm->seg[0].pkt_len = (uint32_t)size;
	fm->seg[0].nb_segs = (uint16_t)n;
}

static void fake_mbuf_free(struct fake_mbuf *fm)
{
	free(fm->mem[0]);
	free(fm->mem[1]);
}

/* One frame's flow key, from one segment and from two split anywhere: the same key
 * and hash, unselected fields 0, ports only for TCP/UDP/SCTP. Bits of the options byte
 * force the EtherType to IPv4 or IPv6 (so IPv6 frames are common without a seed
 * corpus) and pick the fields= spec. */
static void fuzz_flow_key(const uint8_t *data, size_t size)
{
	static const char *const specs[] = {NULL, "src/24:64,dst/:100,proto,sport,dport", "proto,sport,dport",
					    "dst/0:0,sport"};
	struct e2_flow_fields f;
	struct e2_flow_key k1, k2;
	struct fake_mbuf one, two;
	char err[E2_ERR_MAX];
	uint8_t frame[2048];

	if (size < 2 || size - 2 > sizeof(frame))
		return;
	uint8_t opts = data[0];
	size_t n = size - 2, at = data[1] % (n + 1);
	memcpy(frame, data + 2, n);
	if (n >= 14 && (opts & 3) == 1)
		frame[12] = 0x08, frame[13] = 0x00;
	else if (n >= 14 && (opts & 3) >= 2)
		frame[12] = 0x86, frame[13] = 0xdd;
	if (e2_flow_fields_parse(specs[(opts >> 2) & 3], &f, err) != 0)
		__builtin_trap();
	fake_mbuf_make(&one, frame, n, 0, 1);
	fake_mbuf_make(&two, frame, n, at, 2);
	e2_flow_key_get(&one.seg[0], &f, &k1);
	e2_flow_key_get(&two.seg[0], &f, &k2);
	fake_mbuf_free(&one);
	fake_mbuf_free(&two);
	if (memcmp(&k1, &k2, sizeof(k1)) != 0 || e2_flow_hash(&k1, f.sel) != e2_flow_hash(&k2, f.sel))
		__builtin_trap();
	if ((!f.proto && k1.proto) || (!f.sport && k1.sport) || (!f.dport && k1.dport) ||
	    (k1.addr6 && !f.src && !f.dst) || (k1.addr6 && (k1.a6.src[0] & ~f.src_mask6[0])) ||
	    (f.proto && (k1.sport || k1.dport) && !e2_flow_has_ports(k1.proto)))
		__builtin_trap();
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	char text[512], err[E2_ERR_MAX];

	if (size < 1)
		return 0;
	if (data[0] % 4 == 3) {
		fuzz_flow_key(data + 1, size - 1);
		return 0;
	}
	if (data[0] % 4 == 0) {
		fuzz_header(data + 1, size - 1);
		return 0;
	}
	size_t n = size - 1 < sizeof(text) - 1 ? size - 1 : sizeof(text) - 1;
	memcpy(text, data + 1, n);
	text[n] = '\0';
	if (data[0] % 4 == 1) {
		/* "name=value" as nsh_push gets it */
		static struct nsh_tlv t;
		char *eq = strchr(text, '=');
		if (!eq)
			return 0;
		*eq = '\0';
		if (nsh_attr_encode(text, eq + 1, &t, err) == 0) {
			if (t.len > NSH_TLV_MAX_VALUE)
				__builtin_trap();
			attr_round_trip(&t);
		}
	} else {
		struct e2_flow_fields f;
		if (e2_flow_fields_parse(text, &f, err) == 0 && !(f.src || f.dst || f.proto || f.sport || f.dport))
			__builtin_trap();
	}
	return 0;
}
