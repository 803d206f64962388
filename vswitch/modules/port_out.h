/* SPDX-License-Identifier: BSD-3-Clause */
/* What port_in needs of port_out to hand frames to its port directly. */
#ifndef E2D_PORT_OUT_H
#define E2D_PORT_OUT_H

#include "../module.h"
#include "../port.h"

/* The port a port_out module transmits on; NULL if m is not a port_out. */
struct e2_port *e2_port_out_port(const struct e2_module *m);

#endif
