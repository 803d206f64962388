/* SPDX-License-Identifier: BSD-3-Clause */
/* `e2ctl dp ...`: talk to the local e2d over its control socket (cmdlang/client.c). */
#include "e2ctl.h"

#include "e2/cmd.h"

int e2ctl_dp(int argc, char **argv)
{
	argv[0] = "e2ctl dp";
	return e2_cmd_client_main(argc, argv);
}
