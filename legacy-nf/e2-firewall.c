/* SPDX-License-Identifier: BSD-3-Clause */
/* e2-firewall: a stateful firewall between two kernel NICs (raw sockets). New flows are
 * checked against a first-match 5-tuple rule file; packets of tracked connections pass
 * in both directions. */
#include <inttypes.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "e2/num.h"
#include "e2/opts.h"
#include "firewall.h"
#include "rawport.h"

static volatile sig_atomic_t stop_requested;

static void on_signal(int sig)
{
	stop_requested = sig;
}

static bool filter(void *ctx, int in_port, const uint8_t *frame, size_t len, uint64_t now_ms)
{
	(void)in_port;
	return firewall_check(ctx, frame, len, now_ms) == FW_ALLOW;
}

static void report(void *ctx, const struct rawport p[2])
{
	const struct firewall *fw = ctx;
	const struct firewall_stats *s = &fw->stats;
	printf("e2-firewall: %s rx=%" PRIu64 " tx=%" PRIu64 " | %s rx=%" PRIu64 " tx=%" PRIu64 " | established=%" PRIu64
	       " new_allowed=%" PRIu64 " dropped_rule=%" PRIu64 " dropped_invalid=%" PRIu64
	       " dropped_malformed=%" PRIu64 " dropped_full=%" PRIu64 " non_ip_passed=%" PRIu64
	       " non_ip_dropped=%" PRIu64 " tracked=%" PRIu32 "\n",
	       p[0].name, p[0].rx, p[0].tx, p[1].name, p[1].rx, p[1].tx, s->passed_established, s->allowed_new,
	       s->dropped_rule, s->dropped_invalid, s->dropped_malformed, s->dropped_table_full, s->passed_non_ip,
	       s->dropped_non_ip, fw->ct.used);
	fflush(stdout);
}

static void usage(FILE *f)
{
	fprintf(f, "usage: e2-firewall --rules FILE [--conntrack-size N] [--stats SECONDS] IFACE_A IFACE_B\n"
		   "       e2-firewall --rules FILE --check\n"
		   "Forwards frames between IFACE_A and IFACE_B; new flows must be allowed by FILE\n"
		   "(format: legacy-nf/README.md). --check only validates FILE.\n");
}

static int parse_num(const char *what, const char *s, unsigned long max, unsigned long *out)
{
	struct e2_err e;
	uint64_t v;
	if (e2_num_u64(what, s, 0, max, &v, &e)) {
		fprintf(stderr, "e2-firewall: %s\n", e.msg);
		return -1;
	}
	*out = (unsigned long)v;
	return 0;
}

int main(int argc, char **argv)
{
	static const struct option opts[] = {{"rules", required_argument, NULL, 'r'},
					     {"check", no_argument, NULL, 'c'},
					     {"conntrack-size", required_argument, NULL, 'n'},
					     {"stats", required_argument, NULL, 's'},
					     {"help", no_argument, NULL, 'h'},
					     {0}};
	const char *rules_path = NULL;
	bool check_only = false;
	unsigned long ct_size = 65536, stats_s = 0;
	struct e2_err oerr;
	for (int c; (c = e2_opt_next(argc, argv, "r:cn:s:h", opts, &oerr)) != -1;) {
		switch (c) {
		case 'r': rules_path = optarg; break;
		case 'c': check_only = true; break;
		case 'n':
			if (parse_num("--conntrack-size", optarg, 1u << 24, &ct_size))
				return 2;
			break;
		case 's':
			if (parse_num("--stats", optarg, 86400, &stats_s))
				return 2;
			break;
		case 'h': usage(stdout); return 0;
		case E2_OPT_BAD: fprintf(stderr, "e2-firewall: %s\n", oerr.msg); return 2;
		default: fprintf(stderr, "e2-firewall: option %d is not handled (a bug)\n", c); return 2;
		}
	}
	if (!rules_path || (!check_only && argc - optind != 2) || (check_only && argc != optind)) {
		usage(stderr);
		return 2;
	}
	char err[512];
	struct fw_ruleset rules;
	if (fw_rules_load(rules_path, &rules, err, sizeof(err))) {
		fprintf(stderr, "e2-firewall: %s\n", err);
		return 1;
	}
	if (check_only) {
		printf("%s: %zu rules, default %s, non-IP %s\n", rules_path, rules.n_rules,
		       rules.default_action == FW_ALLOW ? "allow" : "drop",
		       rules.non_ip_action == FW_ALLOW ? "allow" : "drop");
		fw_rules_free(&rules);
		return 0;
	}
	struct firewall fw;
	if (firewall_init(&fw, &rules, (uint32_t)ct_size, NULL)) {
		fprintf(stderr, "e2-firewall: out of memory for %lu conntrack entries\n", ct_size);
		fw_rules_free(&rules);
		return 1;
	}
	struct rawport ports[2];
	int rc = 1;
	if (rawport_open(&ports[0], argv[optind], err, sizeof(err))) {
		fprintf(stderr, "e2-firewall: %s\n", err);
		goto out_fw;
	}
	if (rawport_open(&ports[1], argv[optind + 1], err, sizeof(err))) {
		fprintf(stderr, "e2-firewall: %s\n", err);
		goto out_p0;
	}
	struct sigaction sa = {.sa_handler = on_signal};
	sigaction(SIGINT, &sa, NULL);
	sigaction(SIGTERM, &sa, NULL);
	printf("e2-firewall: %s <-> %s, %zu rules from %s\n", ports[0].name, ports[1].name, fw.rules.n_rules,
	       rules_path);
	fflush(stdout);
	struct bridge_opts bo = {.filter = filter,
				 .report = report,
				 .ctx = &fw,
				 .stats_interval_ms = (unsigned)stats_s * 1000,
				 .stop = &stop_requested};
	rc = bridge_run(ports, &bo, err, sizeof(err)) ? 1 : 0;
	if (rc)
		fprintf(stderr, "e2-firewall: %s\n", err);
	rawport_close(&ports[1]);
out_p0:
	rawport_close(&ports[0]);
out_fw:
	firewall_free(&fw);
	return rc;
}
