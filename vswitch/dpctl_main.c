/* SPDX-License-Identifier: BSD-3-Clause */
/* e2ctl-dp: the dataplane client on its own (`e2ctl dp` is the same code). */
#include "e2/cmd.h"

int main(int argc, char **argv)
{
	return e2_cmd_client_main(argc, argv);
}
