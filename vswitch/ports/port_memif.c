/* SPDX-License-Identifier: BSD-3-Clause */
/* memif ports (shared-memory packet interface, as in VPP and DPDK): e2d is the
 * server by default; an NF process connects as client to the same socket and id. */
#include <stdio.h>
#include <string.h>

#include "../port.h"

static const char *const known[] = {"socket", "id", "role", NULL};

static int memif_devargs(const char *name, const struct e2_args *args, char *out, size_t len, char *err)
{
	const char *sock = e2_args_get(args, "socket");
	const char *role = e2_args_get(args, "role");
	uint64_t id;

	if (!sock || !*sock) {
		snprintf(err, E2_ERR_MAX, "memif port needs socket=PATH");
		return -1;
	}
	if (role && strcmp(role, "server") != 0 && strcmp(role, "client") != 0) {
		snprintf(err, E2_ERR_MAX, "memif role must be server or client, not '%s'", role);
		return -1;
	}
	if (e2_args_u64(args, "id", 0, 0, UINT32_MAX, &id, err) < 0)
		return -1;
	if ((size_t)snprintf(out, len, "net_memif_%s,socket=%s,socket-abstract=no,id=%llu,role=%s", name, sock,
			     (unsigned long long)id, role ? role : "server") >= len) {
		snprintf(err, E2_ERR_MAX, "memif port arguments too long");
		return -1;
	}
	return 0;
}

static const struct e2_port_driver port_memif = {
	.name = "memif",
	.help = "memif port: socket=PATH [id=N] [role=server|client]",
	.known_args = known,
	.devargs = memif_devargs,
};
E2_PORT_DRIVER_REGISTER(port_memif)
