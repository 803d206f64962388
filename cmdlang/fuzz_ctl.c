/* SPDX-License-Identifier: BSD-3-Clause */
/* libFuzzer target for the control-message decoder and the text command parser.
 * The same bytes are tried both ways:
 *   - as a wire message: refused cleanly, or decoded to a request that validates or is
 *     refused with a message; re-encoding it and decoding that gives a request that
 *     encodes to the same bytes again and gets the same verdict from the validator
 *     (protobuf-c keeps unknown fields verbatim, even with field number 0, which it
 *     then refuses to decode: only a request with unknown fields may fail to come back);
 *   - as a text line: a line that parses must encode, decode to the same bytes and get
 *     the same verdict before and after the wire trip; and it must print to a line that
 *     parses to an equal request (the same bytes encoded). */
#include "e2/fuzz.h"
#include <stdbool.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "e2/cmd.h"

struct packed {
	uint8_t *buf;
	size_t len;
};

static struct packed pack(const E2__Dp__Request *req)
{
	struct packed p = {.len = e2__dp__request__get_packed_size(req)};
	p.buf = malloc(p.len + 1);
	if (!p.buf || e2__dp__request__pack(req, p.buf) != p.len)
		abort();
	return p;
}

/* The validator's verdict and message, which must not depend on the encoding. */
static void same_verdict(const E2__Dp__Request *a, const E2__Dp__Request *b)
{
	char ea[512], eb[512];
	ea[0] = eb[0] = '\0';
	int ra = e2_cmd_check(a, ea, sizeof(ea)), rb = e2_cmd_check(b, eb, sizeof(eb));
	if (ra != rb || strcmp(ea, eb) != 0)
		abort();
	if (ra != 0 && ea[0] == '\0')
		abort(); /* a refusal must say why */
}

/* The message at field f of m, or NULL; for a repeated field, its element i. */
static const ProtobufCMessage *sub_message(const ProtobufCMessage *m, const ProtobufCFieldDescriptor *f, size_t i)
{
	const char *base = (const char *)m;
	if (f->label == PROTOBUF_C_LABEL_REPEATED) {
		size_t n = *(const size_t *)(base + f->quantifier_offset);
		ProtobufCMessage *const *v = *(ProtobufCMessage *const *const *)(base + f->offset);
		return i < n ? v[i] : NULL;
	}
	if (i > 0 ||
	    ((f->flags & PROTOBUF_C_FIELD_FLAG_ONEOF) && *(const uint32_t *)(base + f->quantifier_offset) != f->id))
		return NULL;
	return *(ProtobufCMessage *const *)(base + f->offset);
}

/* Whether m or a message inside it kept fields its schema does not know. */
static bool has_unknown_fields(const ProtobufCMessage *m)
{
	if (m->n_unknown_fields)
		return true;
	for (unsigned k = 0; k < m->descriptor->n_fields; k++) {
		const ProtobufCFieldDescriptor *f = &m->descriptor->fields[k];
		if (f->type != PROTOBUF_C_TYPE_MESSAGE)
			continue;
		const ProtobufCMessage *sub;
		for (size_t i = 0; (sub = sub_message(m, f, i)); i++)
			if (has_unknown_fields(sub))
				return true;
	}
	return false;
}

/* req -> bytes -> request -> bytes: the second decode must succeed (unless req kept
 * unknown fields), the two encodings be identical (protobuf-c writes fields in one
 * canonical order) and the verdicts agree. */
static void wire_round_trip(const E2__Dp__Request *req)
{
	struct packed first = pack(req);
	E2__Dp__Request *back = e2__dp__request__unpack(NULL, first.len, first.buf);
	if (!back) {
		if (!has_unknown_fields(&req->base))
			abort(); /* what we encode we must decode */
		free(first.buf);
		return;
	}
	struct packed second = pack(back);
	if (second.len != first.len || memcmp(second.buf, first.buf, first.len) != 0)
		abort();
	same_verdict(req, back);
	e2__dp__request__free_unpacked(back, NULL);
	free(second.buf);
	free(first.buf);
}

/* req -> its canonical line -> request: equal to req, byte for byte once encoded. */
static void text_round_trip(const E2__Dp__Request *req)
{
	char err[512];
	char *line = e2_cmd_line(req);
	if (!line)
		abort(); /* every request the parser makes has a text form */
	E2__Dp__Request *back = e2_cmd_parse(line, err, sizeof(err));
	if (!back)
		abort();
	struct packed a = pack(req), b = pack(back);
	if (a.len != b.len || memcmp(a.buf, b.buf, a.len) != 0)
		abort();
	free(a.buf);
	free(b.buf);
	e2__dp__request__free_unpacked(back, NULL);
	free(line);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	char err[512];
	E2__Dp__Request *req = e2__dp__request__unpack(NULL, size, data);
	if (req) {
		wire_round_trip(req);
		e2__dp__request__free_unpacked(req, NULL);
	}

	char *line = malloc(size + 1);
	if (!line)
		return 0;
	memcpy(line, data, size);
	line[size] = '\0';
	req = e2_cmd_parse(line, err, sizeof(err));
	if (req) {
		wire_round_trip(req);
		text_round_trip(req);
		e2__dp__request__free_unpacked(req, NULL);
	}
	free(line);
	return 0;
}
