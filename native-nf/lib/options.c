/* SPDX-License-Identifier: BSD-3-Clause */
/* The options every NF program shares, and the command line around them. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "e2/file.h"
#include "e2/nf.h"
#include "e2/nf_stream.h"
#include "e2/num.h"
#include "e2/opts.h"

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

int e2nf_args(int argc, char **argv, const char *prog, struct e2nf_config *cfg, const struct option *own,
	      e2nf_own_option *handle, void *ctx, void (*usage)(FILE *out))
{
	struct option opts[E2NF_OPTIONS_N + E2NF_OWN_OPTIONS_MAX + 2];
	size_t n_own = 0;
	while (own && own[n_own].name) {
		if (n_own == E2NF_OWN_OPTIONS_MAX) {
			fprintf(stderr, "%s: more than %d options of its own\n", prog, E2NF_OWN_OPTIONS_MAX);
			return 2;
		}
		n_own++;
	}
	memcpy(opts, e2nf_options, E2NF_OPTIONS_N * sizeof opts[0]);
	if (n_own)
		memcpy(opts + E2NF_OPTIONS_N, own, n_own * sizeof opts[0]);
	const int help = 'h'; /* --help and -h; no NF uses 'h' for an option of its own */
	opts[E2NF_OPTIONS_N + n_own] = (struct option){"help", no_argument, NULL, help};
	opts[E2NF_OPTIONS_N + n_own + 1] = (struct option){NULL, 0, NULL, 0};
	struct e2_err err = {""};
	int c;
	optind = 1;
	while ((c = e2_opt_next(argc, argv, "h", opts, &err)) != -1) {
		if (c == help) {
			usage(stdout);
			return 0;
		}
		if (c == E2_OPT_BAD) {
			fprintf(stderr, "%s: %s\n", prog, err.msg);
			return 2;
		}
		int r = e2nf_option(c, optarg, cfg, &err);
		if (r == 0)
			r = handle ? handle(c, optarg, ctx, &err) : 0;
		if (r == 0)
			e2_seterr(&err, "option %d is not handled (a bug)", c);
		if (r <= 0) {
			fprintf(stderr, "%s: %s\n", prog, err.msg);
			return 2;
		}
	}
	if (optind != argc) {
		fprintf(stderr, "%s: unexpected argument '%s' (see --help)\n", prog, argv[optind]);
		return 2;
	}
	return -1;
}

char *e2nf_read_text(const char *prog, const char *what, const char *path, size_t max, size_t *len)
{
	struct e2_err err = {""};
	char *text = e2_read_file(path, max, len, &err);
	if (!text)
		fprintf(stderr, "%s: %s %s\n", prog, what, err.msg);
	return text;
}

int e2nf_conf_option(int c, const char *arg, void *ctx, struct e2_err *err)
{
	struct e2nf_conf_args *a = ctx;
	(void)err;
	switch (c) {
	case 'f': a->path = arg; return 1;
	case 'c': a->check = true; return 1;
	default: return 0;
	}
}

int e2nf_stream_option(int c, const char *arg, struct e2_stream_cfg *cfg, struct e2_err *err)
{
	uint64_t v;
	switch (c) {
	case 'f':
		if (e2_num_u64("--flows", arg, 1, 1u << E2_STREAM_SLOT_BITS, &v, err))
			return -1;
		cfg->max_flows = (unsigned)v;
		return 1;
	case 'b':
		if (e2_num_u64("--flow-bytes", arg, 1, UINT32_MAX, &v, err))
			return -1;
		cfg->max_flow_bytes = (uint32_t)v;
		return 1;
	case 't':
		if (e2_num_u64("--total-bytes", arg, 1, UINT64_MAX / 2, &v, err))
			return -1;
		cfg->max_total_bytes = v;
		return 1;
	case 'H':
		if (e2_num_u64("--held-frames", arg, 1, 1u << 24, &v, err))
			return -1;
		cfg->max_held_frames = (unsigned)v;
		return 1;
	case 'i':
		if (e2_num_u64("--idle-timeout", arg, 1, 86400, &v, err))
			return -1;
		cfg->idle_ns = v * 1000000000ull;
		return 1;
	default: return 0;
	}
}
