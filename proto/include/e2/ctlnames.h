/* SPDX-License-Identifier: BSD-3-Clause */
/* Words for the protocols' enums, as the controller, the agents, e2ctl and e2dctl print them. */
#ifndef E2_CTLNAMES_H
#define E2_CTLNAMES_H

/* "pending", "starting", "running", "stopped", "failed", "removed"; "unspecified" for 0
 * and "?" for a value this build does not know. */
const char *e2_instance_state_name(int state);

/* e2d.proto's Event.Kind: "link_up", "link_down", "overload", "underload", "load"; "?"
 * otherwise. */
const char *e2_dp_event_kind_name(int kind);

#endif
