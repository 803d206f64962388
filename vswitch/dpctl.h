/* SPDX-License-Identifier: BSD-3-Clause */
/* `e2ctl dp`: the command-line client of e2d's control socket. */
#ifndef E2D_DPCTL_H
#define E2D_DPCTL_H

/* argv[0] is the program name as the user typed it ("e2ctl dp"). */
int e2_dpctl_main(int argc, char **argv);

#endif
