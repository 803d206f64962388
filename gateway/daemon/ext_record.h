/* SPDX-License-Identifier: BSD-3-Clause */
/* The extension channel's record (ExtRecord in embark_gw.proto, version 3): the one encoder
 * and decoder that embark-gw, embark-gwctl, embark-mb-prep and the middleboxes share. */
#ifndef EMBARK_EXT_RECORD_H
#define EMBARK_EXT_RECORD_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "e2/err.h"
#include "embark.h"

#define EXT_FLOW_ID_LEN 37 /* encrypted sip, dip, sport, dport, proto */

struct ext_record {
	uint32_t epoch;
	uint8_t flow[EXT_FLOW_ID_LEN];
	uint64_t salt0;
	const embark_token_ct *tokens; /* NULL from a wire-only codec */
	const uint64_t *offsets;
	size_t ntokens;
	/* decode: the tokens' wire form (embark_tokens_pack's, checked by embark_tokens_count) */
	const uint8_t *token_wire;
	size_t token_wire_len;
	const uint8_t *runs;
	size_t runs_len;
	const uint8_t *uri; /* encrypted (plain in a plaintext run's records), NULL when none */
	size_t uri_len;
	uint32_t packet_nonce; /* the option nonce of the packet that made the record */
	bool packet_last;      /* the last record that packet made */
};

/* A codec's buffers are reused from record to record, so neither direction allocates once
 * they have grown to the largest record seen; one thread uses a codec. */
struct ext_codec;
struct ext_codec *ext_codec_new(void);
void ext_codec_free(struct ext_codec *c);
/* Decoding gives the tokens in their wire form only (tokens and offsets stay NULL): for a
 * reader that feeds them to a matcher straight from there (embark_km_match_wire). */
void ext_codec_wire_only(struct ext_codec *c);

/* The record's bytes, in the codec's buffer until its next call; NULL and err if the
 * record cannot be encoded (out of memory). */
const uint8_t *ext_record_encode(struct ext_codec *c, const struct ext_record *r, size_t *len, struct e2_err *err);
/* Decodes one record; its tokens, offsets and URI point into the codec's buffers until its
 * next call. A record of another version, a flow id not 37 bytes long, tokens and runs
 * that disagree, or bytes that are no ExtRecord are refused with err. */
int ext_record_decode(struct ext_codec *c, const uint8_t *b, size_t len, struct ext_record *r, struct e2_err *err);

#endif
