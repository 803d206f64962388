/* SPDX-License-Identifier: BSD-3-Clause */
/* flowhash: writes each packet's flow ID, a CRC32C of the chosen 5-tuple fields cut
 * to `bits` bits (flowkey.h), into its metadata (e2_meta(m)->flow_id) and passes it
 * on. Downstream, rangesplit maps flow-ID ranges to gates; a hardware switch can
 * compute the same ID, so ranges can move between e2d and the switch. */
#include <stdio.h>

#include "../module.h"
#include "flowkey.h"

struct flowhash {
	struct e2_flow_fields fields;
	uint32_t mask;
	uint32_t bits;
};

static const char *const known[] = {"fields", "bits", NULL};

static int flowhash_init(struct e2_module *m, const struct e2_args *args, char *err)
{
	struct flowhash *s = e2_priv(m);
	uint64_t bits;

	if (e2_flow_fields_parse(e2_args_get(args, "fields"), &s->fields, err) ||
	    e2_args_u64(args, "bits", 16, 1, 32, &bits, err) < 0)
		return -1;
	s->bits = (uint32_t)bits;
	s->mask = bits == 32 ? UINT32_MAX : (1u << bits) - 1;
	return 0;
}

static void flowhash_process(struct e2_ctx *ctx, struct e2_module *m, uint16_t igate, struct e2_batch *b)
{
	struct flowhash *s = e2_priv(m);

	for (uint16_t i = 0; i < b->cnt; i++) {
		struct e2_flow_key k;
		e2_flow_key_get(b->pkts[i], &s->fields, &k);
		e2_meta(b->pkts[i])->flow_id = e2_flow_hash(&k, s->fields.sel) & s->mask;
	}
	e2_emit(ctx, m, 0, b);
}

static void flowhash_stats(struct e2_module *m, struct e2_result *out)
{
	struct flowhash *s = e2_priv(m);
	e2_result_add(out, "bits", "%u", s->bits);
}

static const struct e2_module_class flowhash = {
	.name = "flowhash",
	.help = "sets metadata flow_id = CRC32C(fields) mod 2^bits: [" E2_FLOW_FIELDS_HELP "] [bits=1..32 (16)]",
	.igates = 1,
	.ogates = 1,
	.priv_size = sizeof(struct flowhash),
	.args = known,
	.init = flowhash_init,
	.process_batch = flowhash_process,
	.stats = flowhash_stats,
};
E2_MODULE_REGISTER(flowhash)
