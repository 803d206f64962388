/* SPDX-License-Identifier: BSD-3-Clause */
#include "e2/ctlnames.h"

#include "e2ctl.pb-c.h"
#include "e2d.pb-c.h"

const char *e2_instance_state_name(int state)
{
	switch (state) {
	case E2__CTL__INSTANCE_STATE__INSTANCE_STATE_UNSPECIFIED: return "unspecified";
	case E2__CTL__INSTANCE_STATE__INSTANCE_PENDING: return "pending";
	case E2__CTL__INSTANCE_STATE__INSTANCE_STARTING: return "starting";
	case E2__CTL__INSTANCE_STATE__INSTANCE_RUNNING: return "running";
	case E2__CTL__INSTANCE_STATE__INSTANCE_STOPPED: return "stopped";
	case E2__CTL__INSTANCE_STATE__INSTANCE_FAILED: return "failed";
	case E2__CTL__INSTANCE_STATE__INSTANCE_REMOVED: return "removed";
	default: return "?";
	}
}

const char *e2_dp_event_kind_name(int kind)
{
	switch (kind) {
	case E2__DP__EVENT__KIND__LINK_UP: return "link_up";
	case E2__DP__EVENT__KIND__LINK_DOWN: return "link_down";
	case E2__DP__EVENT__KIND__OVERLOAD: return "overload";
	case E2__DP__EVENT__KIND__UNDERLOAD: return "underload";
	case E2__DP__EVENT__KIND__LOAD: return "load";
	default: return "?";
	}
}
