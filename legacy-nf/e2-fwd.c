/* SPDX-License-Identifier: BSD-3-Clause */
/* e2-fwd: a two-port forwarder (a bridge between exactly two kernel NICs) that sees
 * its interfaces only through raw sockets, as an unmodified legacy NF would. */
#include <inttypes.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "e2/num.h"
#include "e2/opts.h"
#include "rawport.h"

static volatile sig_atomic_t stop_requested;

static void on_signal(int sig)
{
	stop_requested = sig;
}

static void report(void *ctx, const struct rawport p[2])
{
	(void)ctx;
	printf("e2-fwd: %s rx=%" PRIu64 " tx=%" PRIu64 " tx_dropped=%" PRIu64 " | %s rx=%" PRIu64 " tx=%" PRIu64
	       " tx_dropped=%" PRIu64 "\n",
	       p[0].name, p[0].rx, p[0].tx, p[0].tx_dropped, p[1].name, p[1].rx, p[1].tx, p[1].tx_dropped);
	fflush(stdout);
}

static void usage(FILE *f)
{
	fprintf(f, "usage: e2-fwd [--stats SECONDS] IFACE_A IFACE_B\n"
		   "Forwards every frame from IFACE_A to IFACE_B and back (raw sockets).\n"
		   "Prints counters every SECONDS (if given) and on exit (SIGINT/SIGTERM).\n");
}

int main(int argc, char **argv)
{
	static const struct option opts[] = {
		{"stats", required_argument, NULL, 's'}, {"help", no_argument, NULL, 'h'}, {0}};
	unsigned stats_s = 0;
	struct e2_err oerr;
	for (int c; (c = e2_opt_next(argc, argv, "s:h", opts, &oerr)) != -1;) {
		switch (c) {
		case 's': {
			struct e2_err e;
			if (e2_num_u32("--stats", optarg, 0, 86400, &stats_s, &e)) {
				fprintf(stderr, "e2-fwd: %s (seconds)\n", e.msg);
				return 2;
			}
			break;
		}
		case 'h': usage(stdout); return 0;
		case E2_OPT_BAD: fprintf(stderr, "e2-fwd: %s\n", oerr.msg); return 2;
		default: fprintf(stderr, "e2-fwd: option %d is not handled (a bug)\n", c); return 2;
		}
	}
	if (argc - optind != 2) {
		usage(stderr);
		return 2;
	}
	char err[256];
	struct rawport ports[2];
	if (rawport_open(&ports[0], argv[optind], err, sizeof(err))) {
		fprintf(stderr, "e2-fwd: %s\n", err);
		return 1;
	}
	if (rawport_open(&ports[1], argv[optind + 1], err, sizeof(err))) {
		fprintf(stderr, "e2-fwd: %s\n", err);
		rawport_close(&ports[0]);
		return 1;
	}
	struct sigaction sa = {.sa_handler = on_signal};
	sigaction(SIGINT, &sa, NULL);
	sigaction(SIGTERM, &sa, NULL);
	printf("e2-fwd: forwarding %s <-> %s\n", ports[0].name, ports[1].name);
	fflush(stdout);
	struct bridge_opts bo = {.report = report, .stats_interval_ms = stats_s * 1000, .stop = &stop_requested};
	int rc = bridge_run(ports, &bo, err, sizeof(err));
	if (rc)
		fprintf(stderr, "e2-fwd: %s\n", err);
	rawport_close(&ports[0]);
	rawport_close(&ports[1]);
	return rc ? 1 : 0;
}
