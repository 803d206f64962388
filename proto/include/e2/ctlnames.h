/* SPDX-License-Identifier: BSD-3-Clause */
/* Words for e2ctl.proto's enums, as the controller, the agents and e2ctl print them. */
#ifndef E2_CTLNAMES_H
#define E2_CTLNAMES_H

/* "pending", "starting", "running", "stopped", "failed", "removed"; "unspecified" for 0
 * and "?" for a value this build does not know. */
const char *e2_instance_state_name(int state);

#endif
