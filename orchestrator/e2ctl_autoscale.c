/* SPDX-License-Identifier: BSD-3-Clause */
/* `e2ctl autoscale`: the controller's scaling rule (autoscale.c) over a load trace, one
 * verdict per line. An operator replays recorded loads to see what given thresholds would
 * have done; bench/scaling runs it as a co-process, so the benchmark decides with the
 * rule the controller runs instead of a copy of it. */
#include "e2/err.h"
#include "e2/lines.h"
#include "e2/num.h"
#include "e2/opts.h"
#include "e2/orch.h"
#include "e2ctl.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

static void autoscale_usage(FILE *out)
{
	fprintf(out,
		"usage: e2ctl autoscale [--out-above X] [--in-below X] [--sustain S] [--cooldown S]\n"
		"                       [--min N] [--max N] [--trace FILE]\n"
		"\n"
		"Runs the controller's scaling rule over loads, one line of the trace (standard input\n"
		"by default) at a time:\n"
		"    TIME LOAD [LOAD...]     TIME in seconds (not decreasing), one LOAD (what the instance\n"
		"                            is sent over its capacity, or - for unknown) per running\n"
		"                            instance, at most 31; # starts a comment\n"
		"and writes one line for each, at once (it can run as a co-process):\n"
		"    hold - 0 WHY            nothing to do\n"
		"    out PICK 1 WHY          one more instance, split off instance PICK (0-based)\n"
		"    in PICK COUNT WHY       COUNT fewer instances, the least busy (PICK) first\n"
		"The knobs are an NF description's (scaling: scale_out_above, scale_in_below,\n"
		"sustain_s, cooldown_s; vdu_profile: min/max_number_of_instances), with its defaults\n"
		"(0.8, 0.6, 2 s, 30 s, 1, %u) and its refusals.\n",
		E2_NF_INSTANCES_MAX);
}

/* One trace line: its time and loads, or -1 with err set (naming the line). */
static int parse_loads(const struct e2_line_iter *it, double last, double *now, double *loads, unsigned *n,
		       struct e2_err *err)
{
	if (e2_num_double("TIME", it->w[0], 0, 1e12, now, err)) {
		e2_err_context(err, "%s:%u", it->origin, it->lineno);
		return -1;
	}
	if (*now < last) {
		e2_seterr(err, "%s:%u: TIME %s is before the line above's %g", it->origin, it->lineno, it->w[0], last);
		return -1;
	}
	if (it->n < 2) {
		e2_seterr(err, "%s:%u: no load after the time", it->origin, it->lineno);
		return -1;
	}
	*n = (unsigned)it->n - 1;
	for (unsigned i = 0; i < *n; i++) {
		if (!strcmp(it->w[i + 1], "-")) {
			loads[i] = -1;
		} else if (e2_num_double("LOAD", it->w[i + 1], 0, 1e6, &loads[i], err)) {
			e2_err_context(err, "%s:%u", it->origin, it->lineno);
			return -1;
		}
	}
	return 0;
}

/* Reads the trace a line at a time (the stream form, so that a co-process gets each
 * answer before it writes the next line) and answers each. */
static int run_trace(FILE *in, const char *origin, const struct e2_autoscale_knobs *k)
{
	struct e2_autoscale st = {0};
	struct e2_line_iter it;
	struct e2_err err = {""};
	double last = 0;
	int rc = 0, more;

	e2_line_iter_stream(&it, in, origin);
	while ((more = e2_line_iter_next(&it, E2_NF_INSTANCES_MAX + 1, &err)) != 0) {
		double now, loads[E2_NF_INSTANCES_MAX];
		unsigned n, pick = 0, count = 0;
		char why[256];

		if (more < 0) {
			rc = 1;
			break;
		}
		if (parse_loads(&it, last, &now, loads, &n, &err)) {
			rc = 1;
			break;
		}
		last = now;
		enum e2_autoscale_verdict v = e2_autoscale_step(k, &st, now, loads, n, &pick, &count, why, sizeof why);
		if (v == E2_AUTOSCALE_HOLD)
			printf("hold - 0 %s\n", why);
		else
			printf("%s %u %u %s\n", v == E2_AUTOSCALE_OUT ? "out" : "in", pick, count, why);
		fflush(stdout);
	}
	e2_line_iter_fini(&it);
	if (rc)
		fprintf(stderr, "e2ctl autoscale: %s\n", err.msg);
	return rc;
}

int e2ctl_autoscale(int argc, char **argv)
{
	static const struct option opts[] = {
		{"out-above", required_argument, NULL, 'o'},
		{"in-below", required_argument, NULL, 'i'},
		{"sustain", required_argument, NULL, 's'},
		{"cooldown", required_argument, NULL, 'c'},
		{"min", required_argument, NULL, 'm'},
		{"max", required_argument, NULL, 'M'},
		{"trace", required_argument, NULL, 't'},
		{"help", no_argument, NULL, 'h'},
		{NULL, 0, NULL, 0},
	};
	double out_above, in_below, sustain, cooldown;
	struct e2_scaling sc = {.scalable = 1};
	struct e2_vdu_profile vdu = {.min_number_of_instances = 1, .max_number_of_instances = E2_NF_INSTANCES_MAX};
	struct e2_nf nf = {.descriptor_id = "e2ctl-autoscale", .scaling = &sc, .vdu_profile = &vdu};
	const char *trace = NULL;
	struct e2_err e = {""};
	int c, bad = 0;

	optind = 1;
	while (!bad && (c = e2_opt_next(argc, argv, "h", opts, &e)) != -1) {
		switch (c) {
		case 'o':
			sc.scale_out_above = &out_above;
			bad = e2_num_double("--out-above", optarg, 0, 1, &out_above, &e);
			break;
		case 'i':
			sc.scale_in_below = &in_below;
			bad = e2_num_double("--in-below", optarg, 0, 1, &in_below, &e);
			break;
		case 's':
			sc.sustain_s = &sustain;
			bad = e2_num_duration("--sustain", optarg, 0, 3600, &sustain, &e);
			break;
		case 'c':
			sc.cooldown_s = &cooldown;
			bad = e2_num_duration("--cooldown", optarg, 0, 86400, &cooldown, &e);
			break;
		case 'm':
			bad = e2_num_u32("--min", optarg, 1, E2_NF_INSTANCES_MAX, &vdu.min_number_of_instances, &e);
			break;
		case 'M':
			bad = e2_num_u32("--max", optarg, 1, E2_NF_INSTANCES_MAX, &vdu.max_number_of_instances, &e);
			break;
		case 't': trace = optarg; break;
		case 'h': autoscale_usage(stdout); return 0;
		case E2_OPT_BAD: bad = 1; break;
		default:
			bad = 1;
			e2_seterr(&e, "option %d is not handled (a bug)", c);
			break;
		}
	}
	if (bad) {
		fprintf(stderr, "e2ctl autoscale: %s\n", e.msg);
		return 2;
	}
	if (optind < argc) {
		fprintf(stderr, "e2ctl autoscale: unexpected argument '%s'\n", argv[optind]);
		return 2;
	}
	if (vdu.min_number_of_instances > vdu.max_number_of_instances) {
		fprintf(stderr, "e2ctl autoscale: --min %u is above --max %u\n", vdu.min_number_of_instances,
			vdu.max_number_of_instances);
		return 2;
	}
	struct e2_autoscale_knobs k;
	char why[256];
	if (e2_autoscale_knobs(&nf, &k, why, sizeof why)) {
		fprintf(stderr, "e2ctl autoscale: %s\n", why);
		return 2;
	}
	FILE *in = stdin;
	if (trace && strcmp(trace, "-") != 0 && !(in = fopen(trace, "r"))) {
		perror(trace);
		return 1;
	}
	int rc = run_trace(in, trace ? trace : "<stdin>", &k);
	if (in != stdin)
		fclose(in);
	return rc;
}
