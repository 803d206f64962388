/* SPDX-License-Identifier: BSD-3-Clause */
/* virtio-user ports: e2d is the virtio front-end of a vhost-user back-end that an
 * NF process or container serves (server=1: e2d serves the socket instead and the
 * back-end may restart). */
#include <stdio.h>

#include "../port.h"

static const char *const known[] = {"path", "server", "queues", "queue_size", NULL};

static int virtio_user_devargs(const char *name, const struct e2_args *args, char *out, size_t len, char *err)
{
	const char *path = e2_args_get(args, "path");
	uint64_t server, queues, qsize;

	if (!path || !*path) {
		snprintf(err, E2_ERR_MAX, "virtio_user port needs path=SOCKET");
		return -1;
	}
	if (e2_args_u64(args, "server", 0, 0, 1, &server, err) < 0 ||
	    e2_args_u64(args, "queues", 1, 1, 8, &queues, err) < 0 ||
	    e2_args_u64(args, "queue_size", 1024, 64, 4096, &qsize, err) < 0)
		return -1;
	if ((size_t)snprintf(out, len, "net_virtio_user_%s,path=%s,queues=%llu,server=%llu,queue_size=%llu", name, path,
			     (unsigned long long)queues, (unsigned long long)server,
			     (unsigned long long)qsize) >= len) {
		snprintf(err, E2_ERR_MAX, "virtio_user port arguments too long");
		return -1;
	}
	return 0;
}

static const struct e2_port_driver port_virtio_user = {
	.name = "virtio_user",
	.help = "virtio-user port towards a vhost-user back-end: path=SOCK [server=0|1] [queues=N]",
	.known_args = known,
	.devargs = virtio_user_devargs,
};
E2_PORT_DRIVER_REGISTER(port_virtio_user)
