/* SPDX-License-Identifier: BSD-3-Clause */
/* A vhost-user back end that does nothing: it connects to QEMU's vhost-user server
 * sockets (as E2D would), answers the protocol's questions and ignores the rings, so a
 * VM with vhost-user NICs can boot in tests that have no E2D. It reconnects when QEMU
 * goes away and comes back. */
#ifndef E2_VHOST_STUB_H
#define E2_VHOST_STUB_H

struct vhost_stub;

/* Starts one thread per socket path. */
struct vhost_stub *vhost_stub_start(const char *const *paths, unsigned n);
/* How many sessions (connections that completed GET_FEATURES) there have been. */
unsigned vhost_stub_sessions(struct vhost_stub *s);
void vhost_stub_stop(struct vhost_stub *s);

#endif
