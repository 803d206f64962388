/* SPDX-License-Identifier: BSD-3-Clause */
/* e2ctl: the operator's tool. A static dispatch table maps the first argument to a
 * subcommand family; adding one (e.g. `dp`) is one row here plus its own file. */
#include "e2ctl.h"

#include <stdio.h>
#include <string.h>

struct e2ctl_command {
	const char *name;
	e2ctl_cmd_fn *run;
	const char *help;
};

static const struct e2ctl_command commands[] = {
	{"plan", e2ctl_plan, "compute PGraph, IGraph, placement and interconnection from descriptions"},
	{"autoscale", e2ctl_autoscale,
	 "run the controller's scaling rule over a load trace (what-if, one verdict a line)"},
	{"fabric", e2ctl_fabric, "program the fabric switch through its driver (replace, add, del, show, explain)"},
	{"apply", e2ctl_apply, "add a policy's pipelines to the running system (e2-controller)"},
	{"delete", e2ctl_delete, "remove a pipeline from the running system"},
	{"status", e2ctl_status, "servers, agents, instances and pipelines of the running system"},
	{"graph", e2ctl_graph, "the live IGraph as Graphviz DOT or PNG, servers as clusters"},
	{"events", e2ctl_events, "follow the running system's events"},
#ifdef E2CTL_HAVE_DP
	{"dp", e2ctl_dp, "configure and inspect the local dataplane (e2d) over its control socket"},
#endif
};

static void usage(FILE *out)
{
	fprintf(out, "usage: e2ctl COMMAND [ARGS...]\n\ncommands:\n");
	for (size_t i = 0; i < sizeof commands / sizeof commands[0]; i++)
		fprintf(out, "  %-9s %s\n", commands[i].name, commands[i].help);
	fprintf(out, "\n'e2ctl COMMAND --help' describes a command.\n");
}

int main(int argc, char **argv)
{
	if (argc < 2) {
		usage(stderr);
		return 2;
	}
	if (!strcmp(argv[1], "-h") || !strcmp(argv[1], "--help") || !strcmp(argv[1], "help")) {
		usage(stdout);
		return 0;
	}
	for (size_t i = 0; i < sizeof commands / sizeof commands[0]; i++)
		if (!strcmp(argv[1], commands[i].name))
			return commands[i].run(argc - 1, argv + 1);
	fprintf(stderr, "e2ctl: unknown command '%s'\n", argv[1]);
	usage(stderr);
	return 2;
}
