/* SPDX-License-Identifier: BSD-3-Clause */
/* sink: frees every packet (counted as the module's packets, not as drops). */
#include "../module.h"

static void sink_process(struct e2_ctx *ctx, struct e2_module *m, uint16_t igate, struct e2_batch *b)
{
	e2_free_batch(b);
}

static const struct e2_module_class sink = {
	.name = "sink",
	.help = "frees every packet it receives",
	.igates = 1,
	.ogates = 0,
	.args = E2_ARGS_NONE,
	.process_batch = sink_process,
};
E2_MODULE_REGISTER(sink)
