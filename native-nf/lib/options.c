/* SPDX-License-Identifier: BSD-3-Clause */
/* The options every NF program shares. */
#include <getopt.h>

#include "e2/nf.h"
#include "e2/num.h"

const struct option e2nf_options[E2NF_OPTIONS_N + 1] = {
	{"port", required_argument, NULL, E2NF_OPT_BASE + 0},
	{"name", required_argument, NULL, E2NF_OPT_BASE + 1},
	{"cpu", required_argument, NULL, E2NF_OPT_BASE + 2},
	{"ctl", required_argument, NULL, E2NF_OPT_BASE + 3},
	{"idle-spin-us", required_argument, NULL, E2NF_OPT_BASE + 4},
	{"max-sleep-us", required_argument, NULL, E2NF_OPT_BASE + 5},
	{"offline", required_argument, NULL, E2NF_OPT_BASE + 6},
	{"ethdev", no_argument, NULL, E2NF_OPT_BASE + 7},
	{"ready-file", required_argument, NULL, E2NF_OPT_BASE + 8},
	{NULL, 0, NULL, 0},
};

int e2nf_option(int c, const char *arg, struct e2nf_config *cfg, struct e2_err *err)
{
	switch (c - E2NF_OPT_BASE) {
	case 0:
		if (cfg->n_ports == E2NF_PORTS_MAX) {
			e2_seterr(err, "--port: at most %d ports", E2NF_PORTS_MAX);
			return -1;
		}
		cfg->ports[cfg->n_ports++] = arg;
		return 1;
	case 1: cfg->name = arg; return 1;
	case 2: return e2_num_int("--cpu", arg, 0, 1023, &cfg->cpu, err) ? -1 : 1;
	case 3: cfg->ctl_path = arg; return 1;
	case 4: return e2_num_u32("--idle-spin-us", arg, 0, 10000000, &cfg->idle_spin_us, err) ? -1 : 1;
	case 5: return e2_num_u32("--max-sleep-us", arg, 1, 1000000, &cfg->max_sleep_us, err) ? -1 : 1;
	case 6: cfg->offline_dir = arg; return 1;
	case 7: cfg->ethdev = true; return 1;
	case 8: cfg->ready_file = arg; return 1;
	default: return 0;
	}
}
