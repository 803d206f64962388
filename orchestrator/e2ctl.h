/* SPDX-License-Identifier: BSD-3-Clause */
/* e2ctl subcommands. Each family lives in its own file (e2ctl_<name>.c) and is
 * listed in the dispatch table in e2ctl.c. */
#ifndef E2CTL_H
#define E2CTL_H

/* argv[0] is the subcommand name; returns the process exit status. */
typedef int e2ctl_cmd_fn(int argc, char **argv);

e2ctl_cmd_fn e2ctl_plan;
e2ctl_cmd_fn e2ctl_autoscale;
e2ctl_cmd_fn e2ctl_dp;
e2ctl_cmd_fn e2ctl_fabric;
e2ctl_cmd_fn e2ctl_apply;
e2ctl_cmd_fn e2ctl_delete;
e2ctl_cmd_fn e2ctl_status;
e2ctl_cmd_fn e2ctl_graph;
e2ctl_cmd_fn e2ctl_events;

#endif
