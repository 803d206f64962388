/* vhost-user ports: the NF side (a VM's virtio-net, or virtio-user in a process)
 * is the front-end. With client=1 e2d connects to a socket QEMU serves and
 * reconnects whenever it disappears, so either side can restart. */
#include <stdio.h>

#include "../port.h"

static const char *const known[] = {"path", "client", "queues", NULL};

static int vhost_devargs(const char *name, const struct e2_args *args, char *out, size_t len, char *err)
{
	const char *path = e2_args_get(args, "path");
	uint64_t client, queues;

	if (!path || !*path) {
		snprintf(err, E2_ERR_MAX, "vhost port needs path=SOCKET");
		return -1;
	}
	if (e2_args_u64(args, "client", 0, 0, 1, &client, err) < 0 ||
	    e2_args_u64(args, "queues", 1, 1, 8, &queues, err) < 0)
		return -1;
	if ((size_t)snprintf(out, len, "net_vhost_%s,iface=%s,queues=%llu,client=%llu", name, path,
			     (unsigned long long)queues, (unsigned long long)client) >= len) {
		snprintf(err, E2_ERR_MAX, "vhost port arguments too long");
		return -1;
	}
	return 0;
}

static const struct e2_port_driver port_vhost = {
	.name = "vhost",
	.help = "vhost-user port for a VM or virtio-user process: path=SOCK [client=0|1] [queues=N]",
	.known_args = known,
	.devargs = vhost_devargs,
};
E2_PORT_DRIVER_REGISTER(port_vhost)
