/* SPDX-License-Identifier: BSD-3-Clause */
/* ExtRecord's codec (ext_record.h). Decoding runs protobuf-c over an arena the codec owns:
 * the unpacked message never outgrows a bound fixed by the record's length, so the arena
 * is sized before each call and nothing is allocated per record. */
#include "ext_record.h"

#include <stdlib.h>
#include <string.h>

#include "embark_gw.pb-c.h"

struct ext_codec {
	uint8_t *out; /* encode: the packed record */
	size_t out_cap;
	uint8_t *wire; /* encode: the tokens' wire form, and their offset runs */
	size_t wire_cap;
	uint8_t *runs;
	size_t runs_cap;
	embark_token_ct *tokens; /* decode: the tokens and offsets */
	size_t tokens_cap;
	uint64_t *offsets;
	size_t offsets_cap;
	uint8_t *arena; /* decode: protobuf-c's allocations, valid until the next record */
	size_t arena_cap, arena_used;
	bool wire_only;
};

struct ext_codec *ext_codec_new(void)
{
	return calloc(1, sizeof(struct ext_codec));
}

void ext_codec_wire_only(struct ext_codec *c)
{
	c->wire_only = true;
}

void ext_codec_free(struct ext_codec *c)
{
	if (!c)
		return;
	free(c->out);
	free(c->wire);
	free(c->runs);
	free(c->tokens);
	free(c->offsets);
	free(c->arena);
	free(c);
}

/* Grows *p to hold n elements of size sz (contents not kept). */
static bool reserve(void **p, size_t *cap, size_t n, size_t sz)
{
	if (n <= *cap)
		return true;
	size_t want = n < 64 ? 64 : n + n / 2;
	if (want > SIZE_MAX / sz)
		return false;
	void *q = malloc(want * sz);
	if (!q)
		return false;
	free(*p);
	*p = q;
	*cap = want;
	return true;
}

const uint8_t *ext_record_encode(struct ext_codec *c, const struct ext_record *r, size_t *len, struct e2_err *err)
{
	E2__Embark__ExtRecord m = E2__EMBARK__EXT_RECORD__INIT;
	m.version = E2__EMBARK__EXT_VERSION__EXT_VERSION_CURRENT;
	m.epoch = r->epoch;
	m.flow = (ProtobufCBinaryData){.len = EXT_FLOW_ID_LEN, .data = (uint8_t *)r->flow};
	m.salt0 = r->salt0;
	if (r->ntokens) {
		if (!reserve((void **)&c->wire, &c->wire_cap, r->ntokens, EMBARK_TOKEN_WIRE_LEN) ||
		    !reserve((void **)&c->runs, &c->runs_cap, EMBARK_TOKEN_RUNS_MAX(r->ntokens), 1)) {
			e2_seterr(err, "extension record: no memory for %zu tokens", r->ntokens);
			return NULL;
		}
		size_t runs_len = embark_tokens_pack(r->tokens, r->offsets, r->ntokens, c->wire, c->runs);
		m.runs = (ProtobufCBinaryData){.len = runs_len, .data = c->runs};
		m.token_bytes = (ProtobufCBinaryData){.len = r->ntokens * EMBARK_TOKEN_WIRE_LEN, .data = c->wire};
	}
	if (r->uri)
		m.uri = (ProtobufCBinaryData){.len = r->uri_len, .data = (uint8_t *)r->uri};
	m.packet_nonce = r->packet_nonce;
	m.packet_last = r->packet_last;
	*len = e2__embark__ext_record__get_packed_size(&m);
	if (!reserve((void **)&c->out, &c->out_cap, *len, 1)) {
		e2_seterr(err, "extension record: no memory for %zu bytes", *len);
		return NULL;
	}
	e2__embark__ext_record__pack(&m, c->out);
	return c->out;
}

static void *arena_alloc(void *data, size_t size)
{
	struct ext_codec *c = data;
	size_t at = (c->arena_used + 15) & ~(size_t)15;
	if (at > c->arena_cap || size > c->arena_cap - at)
		return NULL; /* cannot happen within the bound; unpack then fails cleanly */
	c->arena_used = at + size;
	return c->arena + at;
}

static void arena_free(void *data, void *p)
{
	(void)data;
	(void)p; /* the arena is reset before the next record */
}

int ext_record_decode(struct ext_codec *c, const uint8_t *b, size_t len, struct ext_record *r, struct e2_err *err)
{
	memset(r, 0, sizeof(*r));
	/* protobuf-c allocates the message, a copy of each bytes field, each repeated field's
	 * array (at most 8 bytes per byte of the record), unknown fields (a 24-byte entry per
	 * 2 bytes or more, and a copy) and, while it scans, a 32-byte entry per field (2 bytes
	 * or more) in slabs that at most double: 64 bytes per byte of record bound them all */
	size_t bound = 64 * len + 4096;
	if (len > SIZE_MAX / 128 || !reserve((void **)&c->arena, &c->arena_cap, bound, 1)) {
		e2_seterr(err, "extension record: no memory to decode %zu bytes", len);
		return -1;
	}
	c->arena_used = 0;
	ProtobufCAllocator alloc = {.alloc = arena_alloc, .free = arena_free, .allocator_data = c};
	E2__Embark__ExtRecord *m = e2__embark__ext_record__unpack(&alloc, len, b);
	if (!m) {
		e2_seterr(err, "extension record: not a decodable ExtRecord");
		return -1;
	}
	long ntokens = embark_tokens_count(m->token_bytes.len, m->runs.data, m->runs.len);
	if (m->version != E2__EMBARK__EXT_VERSION__EXT_VERSION_CURRENT) {
		e2_seterr(err, "extension record: version %u, not %d", m->version,
			  E2__EMBARK__EXT_VERSION__EXT_VERSION_CURRENT);
		return -1;
	}
	if (m->flow.len != EXT_FLOW_ID_LEN) {
		e2_seterr(err, "extension record: flow is %zu bytes, not %d", m->flow.len, EXT_FLOW_ID_LEN);
		return -1;
	}
	if (ntokens < 0) {
		e2_seterr(err, "extension record: tokens and their offset runs do not agree");
		return -1;
	}
	r->ntokens = (size_t)ntokens;
	if (ntokens) { /* in the arena, like the URI */
		r->token_wire = m->token_bytes.data;
		r->token_wire_len = m->token_bytes.len;
		r->runs = m->runs.data;
		r->runs_len = m->runs.len;
	}
	if (ntokens && !c->wire_only) {
		if (!reserve((void **)&c->tokens, &c->tokens_cap, (size_t)ntokens, sizeof(embark_token_ct)) ||
		    !reserve((void **)&c->offsets, &c->offsets_cap, (size_t)ntokens, sizeof(uint64_t))) {
			e2_seterr(err, "extension record: no memory for %ld tokens", ntokens);
			return -1;
		}
		embark_tokens_unpack(m->token_bytes.data, m->token_bytes.len, m->runs.data, m->runs.len, c->tokens,
				     c->offsets);
		r->tokens = c->tokens;
		r->offsets = c->offsets;
	}
	if (m->uri.len) {
		r->uri = m->uri.data; /* in the arena */
		r->uri_len = m->uri.len;
	}
	r->epoch = m->epoch;
	memcpy(r->flow, m->flow.data, EXT_FLOW_ID_LEN);
	r->salt0 = m->salt0;
	r->packet_nonce = m->packet_nonce;
	r->packet_last = m->packet_last;
	return 0;
}
