/* SPDX-License-Identifier: BSD-3-Clause */
/* The middleboxes' parsers on any bytes: address lists, URI lists (every URI parsed is
 * then found), extension records (a decoded record encodes and decodes to the same). */
#include <stdlib.h>
#include <string.h>

#include "e2/fuzz.h"
#include "mb.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	struct e2_err err;
	struct mb_addrs a;
	if (mb_addrs_parse((const char *)data, size, "fuzz", size % 2 ? "nat" : NULL, &a, &err) == 0) {
		if (!a.n)
			abort();
		for (size_t i = 1; a.encrypted && i < a.n; i++)
			if (a.v[i] <= a.v[i - 1])
				abort();
		mb_addrs_free(&a);
	}
	struct mb_uris u;
	if (mb_uris_parse((const char *)data, size, "fuzz", &u, &err) == 0) {
		for (size_t i = 0; i < u.n; i++)
			if (!mb_uris_has(&u, u.v[i].b, u.v[i].len))
				abort();
		mb_uris_free(&u);
	}
	/* decoded, encoded again and decoded by another codec: the same record */
	static struct ext_codec *dx, *enc, *dy;
	if (!dx && (!(dx = ext_codec_new()) || !(enc = ext_codec_new()) || !(dy = ext_codec_new())))
		abort();
	struct mb_ext x;
	if (mb_ext_decode(dx, data, size, &x, &err) == 0) {
		struct ext_record rec = {.epoch = x.epoch,
					 .salt0 = x.salt0,
					 .tokens = x.tokens,
					 .offsets = x.offsets,
					 .ntokens = x.ntokens,
					 .uri = x.uri,
					 .uri_len = x.uri_len,
					 .packet_nonce = x.packet_nonce,
					 .packet_last = x.packet_last};
		mb_flow_id(&x.key, rec.flow);
		size_t len;
		const uint8_t *b = ext_record_encode(enc, &rec, &len, &err);
		struct mb_ext y;
		if (!b || mb_ext_decode(dy, b, len, &y, &err) != 0)
			abort();
		if (y.epoch != x.epoch || y.salt0 != x.salt0 || y.packet_nonce != x.packet_nonce ||
		    y.packet_last != x.packet_last || y.ntokens != x.ntokens || y.uri_len != x.uri_len ||
		    y.key.sip != x.key.sip || y.key.dport != x.key.dport ||
		    (x.ntokens &&
		     (memcmp(x.tokens, y.tokens, x.ntokens * 8) || memcmp(x.offsets, y.offsets, x.ntokens * 8))) ||
		    (x.uri_len && memcmp(x.uri, y.uri, x.uri_len)))
			abort();
	}
	return 0;
}
