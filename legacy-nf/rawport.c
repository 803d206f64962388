/* SPDX-License-Identifier: BSD-3-Clause */
#ifndef _GNU_SOURCE
#define _GNU_SOURCE
#endif
#include "rawport.h"

#include <arpa/inet.h>
#include <errno.h>
#include <linux/if_packet.h>
#include <linux/virtio_net.h>
#include <net/ethernet.h>
#include <poll.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/ioctl.h>
#include <sys/socket.h>
#include <time.h>
#include <unistd.h>

#ifndef PACKET_IGNORE_OUTGOING
#define PACKET_IGNORE_OUTGOING 23
#endif

#define BATCH 32
#define VNET_HDR_LEN sizeof(struct virtio_net_hdr)
#define FRAME_MAX (65536 + VNET_HDR_LEN)

uint64_t monotonic_ms(void)
{
	struct timespec ts;
	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (uint64_t)ts.tv_sec * 1000 + (uint64_t)ts.tv_nsec / 1000000;
}

int rawport_open(struct rawport *p, const char *ifname, char *err, size_t err_len)
{
	memset(p, 0, sizeof(*p));
	p->fd = -1;
	if (strlen(ifname) >= sizeof(p->name)) {
		snprintf(err, err_len, "interface name '%s' is too long", ifname);
		return -1;
	}
	strcpy(p->name, ifname);
	p->ifindex = (int)if_nametoindex(ifname);
	if (!p->ifindex) {
		snprintf(err, err_len, "interface '%s': %s", ifname, strerror(errno));
		return -1;
	}
	p->fd = socket(AF_PACKET, SOCK_RAW | SOCK_CLOEXEC, htons(ETH_P_ALL));
	if (p->fd < 0) {
		snprintf(err, err_len, "raw socket for '%s': %s (needs CAP_NET_RAW)", ifname, strerror(errno));
		return -1;
	}
	int one = 1;
	if (setsockopt(p->fd, SOL_PACKET, PACKET_VNET_HDR, &one, sizeof(one))) {
		snprintf(err, err_len, "PACKET_VNET_HDR on '%s': %s", ifname, strerror(errno));
		goto fail;
	}
	/* Not seeing our own transmissions is what keeps a bridge from looping. */
	setsockopt(p->fd, SOL_PACKET, PACKET_IGNORE_OUTGOING, &one, sizeof(one));
	setsockopt(p->fd, SOL_PACKET, PACKET_QDISC_BYPASS, &one, sizeof(one));
	int rcvbuf = 4 << 20;
	setsockopt(p->fd, SOL_SOCKET, SO_RCVBUF, &rcvbuf, sizeof(rcvbuf));
	struct sockaddr_ll sll = {.sll_family = AF_PACKET, .sll_protocol = htons(ETH_P_ALL), .sll_ifindex = p->ifindex};
	if (bind(p->fd, (struct sockaddr *)&sll, sizeof(sll))) {
		snprintf(err, err_len, "bind to '%s': %s", ifname, strerror(errno));
		goto fail;
	}
	struct packet_mreq mr = {.mr_ifindex = p->ifindex, .mr_type = PACKET_MR_PROMISC};
	if (setsockopt(p->fd, SOL_PACKET, PACKET_ADD_MEMBERSHIP, &mr, sizeof(mr))) {
		snprintf(err, err_len, "promiscuous mode on '%s': %s", ifname, strerror(errno));
		goto fail;
	}
	return 0;
fail:
	close(p->fd);
	p->fd = -1;
	return -1;
}

void rawport_close(struct rawport *p)
{
	if (p->fd >= 0)
		close(p->fd);
	p->fd = -1;
}

struct batch {
	struct mmsghdr msgs[BATCH];
	struct iovec iov[BATCH];
	struct sockaddr_ll from[BATCH];
	uint8_t *bufs;
};

/* Receives one batch from `in` and sends what the filter keeps out of `out`.
 * Returns the number received, or -1 if `in` failed for good. */
static int move_batch(struct batch *b, struct rawport *in, struct rawport *out, int in_idx, const struct bridge_opts *o,
		      uint64_t now_ms)
{
	for (int i = 0; i < BATCH; i++) {
		b->iov[i] = (struct iovec){b->bufs + (size_t)i * FRAME_MAX, FRAME_MAX};
		b->msgs[i].msg_hdr = (struct msghdr){.msg_name = &b->from[i],
						     .msg_namelen = sizeof(b->from[i]),
						     .msg_iov = &b->iov[i],
						     .msg_iovlen = 1};
	}
	int n = recvmmsg(in->fd, b->msgs, BATCH, MSG_DONTWAIT, NULL);
	if (n < 0)
		return errno == EAGAIN || errno == EINTR || errno == ENETDOWN ? 0 : -1;
	int keep = 0;
	for (int i = 0; i < n; i++) {
		size_t len = b->msgs[i].msg_len;
		if (b->from[i].sll_pkttype == PACKET_OUTGOING || len < VNET_HDR_LEN)
			continue;
		in->rx++;
		const uint8_t *frame = b->iov[i].iov_base;
		if (o->filter && !o->filter(o->ctx, in_idx, frame + VNET_HDR_LEN, len - VNET_HDR_LEN, now_ms)) {
			in->filtered++;
			continue;
		}
		b->iov[keep] = (struct iovec){b->iov[i].iov_base, len};
		b->msgs[keep].msg_hdr = (struct msghdr){.msg_iov = &b->iov[keep], .msg_iovlen = 1};
		keep++;
	}
	for (int sent = 0; sent < keep;) {
		int m = sendmmsg(out->fd, b->msgs + sent, (unsigned)(keep - sent), 0);
		if (m <= 0) {
			/* Link down, queue full or a frame the device refuses: drop, carry on. */
			out->tx_dropped++;
			sent++;
			continue;
		}
		out->tx += (uint64_t)m;
		sent += m;
	}
	return n;
}

int bridge_run(struct rawport ports[2], const struct bridge_opts *o, char *err, size_t err_len)
{
	struct batch *b = calloc(1, sizeof(*b));
	if (b)
		b->bufs = malloc((size_t)BATCH * FRAME_MAX);
	if (!b || !b->bufs) {
		snprintf(err, err_len, "out of memory for packet buffers");
		if (b)
			free(b);
		return -1;
	}
	int rc = 0;
	uint64_t next_report = o->stats_interval_ms ? monotonic_ms() + o->stats_interval_ms : 0;
	while (!*o->stop) {
		struct pollfd pfd[2] = {{ports[0].fd, POLLIN, 0}, {ports[1].fd, POLLIN, 0}};
		int pr = poll(pfd, 2, 500);
		if (pr < 0 && errno != EINTR) {
			snprintf(err, err_len, "poll: %s", strerror(errno));
			rc = -1;
			break;
		}
		uint64_t now = monotonic_ms();
		for (int i = 0; pr > 0 && i < 2; i++) {
			if (pfd[i].revents & (POLLERR | POLLNVAL | POLLHUP)) {
				int soerr = 0;
				socklen_t sl = sizeof(soerr);
				getsockopt(ports[i].fd, SOL_SOCKET, SO_ERROR, &soerr, &sl);
				if (soerr == ENETDOWN)
					continue; /* link flapped; the socket stays usable */
				snprintf(err, err_len, "interface '%s' failed: %s", ports[i].name,
					 strerror(soerr ? soerr : EIO));
				rc = -1;
				goto out;
			}
			if (!(pfd[i].revents & POLLIN))
				continue;
			/* A few batches per wake-up, so one busy side cannot starve the other. */
			for (int rounds = 0; rounds < 4; rounds++) {
				int n = move_batch(b, &ports[i], &ports[1 - i], i, o, now);
				if (n < 0) {
					snprintf(err, err_len, "receive on '%s': %s", ports[i].name, strerror(errno));
					rc = -1;
					goto out;
				}
				if (n < BATCH)
					break;
			}
		}
		if (next_report && now >= next_report && o->report) {
			o->report(o->ctx, ports);
			next_report = now + o->stats_interval_ms;
		}
	}
out:
	if (o->report)
		o->report(o->ctx, ports);
	free(b->bufs);
	free(b);
	return rc;
}
