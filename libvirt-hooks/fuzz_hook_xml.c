/* SPDX-License-Identifier: BSD-3-Clause */
/* libvirt hands the hook any domain's XML: the metadata reader must answer 1, 0 or -1
 * for all of it, never crash, and fill what it fills with terminated strings. */
#include <stdint.h>
#include <string.h>

#include "e2/fuzz.h"
#include "e2virt.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	char instance[65], server[65];
	memset(instance, 'x', sizeof instance);
	memset(server, 'x', sizeof server);
	struct e2_err err = {""};
	int rc = e2v_metadata_parse((const char *)data, size, instance, sizeof instance, server, sizeof server, &err);
	if (rc < -1 || rc > 1)
		__builtin_trap();
	if (rc == 1 && (!memchr(instance, 0, sizeof instance) || !memchr(server, 0, sizeof server)))
		__builtin_trap();
	if (rc == -1 && !err.msg[0])
		__builtin_trap();
	return 0;
}
