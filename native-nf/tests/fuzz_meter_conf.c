/* SPDX-License-Identifier: BSD-3-Clause */
/* libFuzzer target: e2nf-meter's class configuration of any shape parses or is refused
 * with "origin:LINE: what" (or "origin: what"); a parsed one keeps RFC 2698's PIR >= CIR
 * and sane port ranges, and printed and parsed again prints the same. */
#include "e2/fuzz.h"

#include <stdlib.h>
#include <string.h>

#include "../nfs/meter_conf.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	static struct meter_conf c, again;
	static char printed[METER_CLASSES_MAX * 1024], printed2[METER_CLASSES_MAX * 1024];
	struct e2_err err;

	if (meter_conf_parse((const char *)data, size, "f.conf", &c, &err)) {
		if (strncmp(err.msg, "f.conf:", 7))
			abort();
		return 0;
	}
	for (unsigned i = 0; i < c.n; i++) {
		const struct meter_class *k = &c.cls[i];
		if (k->cir == 0 || k->cbs == 0 || k->ebs_pbs == 0 || (k->kind == METER_TRTCM && k->pir < k->cir) ||
		    k->sport_lo > k->sport_hi || k->dport_lo > k->dport_hi)
			abort();
	}
	meter_conf_print(&c, printed, sizeof(printed));
	if (meter_conf_parse(printed, strlen(printed), "p", &again, &err))
		abort();
	meter_conf_print(&again, printed2, sizeof(printed2));
	if (strcmp(printed, printed2))
		abort();
	return 0;
}
