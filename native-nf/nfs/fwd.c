/* SPDX-License-Identifier: BSD-3-Clause */
/* e2nf-fwd: the smallest native NF. Every frame from port i goes out of port i+1
 * (the last port's to port 0; with one port, back where it came from), untouched or,
 * with --tag, carrying one metadata attribute. Used by the tests and bench/nf-path. */
#include <getopt.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <rte_mbuf.h>

#include "e2/nf.h"
#include "e2/num.h"

struct fwd {
	bool tag;
	struct e2nf_attr attr;
	char value[128];
	size_t value_len;
	uint64_t tagged, untaggable;
};

static void fwd_rx(struct e2nf *nf, void *state, unsigned port, struct rte_mbuf **pkts, unsigned n)
{
	struct fwd *f = state;
	unsigned out = (port + 1) % e2nf_n_ports(nf);

	for (unsigned i = 0; i < n; i++) {
		if (f->tag) {
			if (e2nf_meta_set(pkts[i], &f->attr, f->value, f->value_len) == 0)
				f->tagged++;
			else
				f->untaggable++;
		}
		e2nf_send(nf, out, pkts[i]);
	}
}

static void fwd_counters(struct e2nf *nf, void *state, char *buf, size_t len)
{
	const struct fwd *f = state;
	(void)nf;
	snprintf(buf, len, "tagged=%llu\nuntaggable=%llu\n", (unsigned long long)f->tagged,
		 (unsigned long long)f->untaggable);
}

static void usage(FILE *out)
{
	fprintf(out,
		"usage: e2nf-fwd --port SOCK [--port SOCK...] [--tag ATTR=VALUE] [options]\n"
		"Forwards every frame from port i out of port i+1 (the last to port 0), as a native NF\n"
		"on e2d's zero-copy nf ports. Prints its counters when it stops.\n"
		"  --tag ATTR=VALUE    set a metadata attribute on every frame (integers for safe, tclass,\n"
		"                      flow_id, verdict; bytes for url, app, t32..t127)\n"
		"  --report-load F     report this load (0..1) to e2d instead of the measured one\n" E2NF_OPTIONS_HELP
		"  --help              this text\n");
}

int main(int argc, char **argv)
{
	struct option opts[E2NF_OPTIONS_N + 4];
	double load = -1;
	struct e2nf_config cfg = E2NF_CONFIG_INIT("fwd");
	struct fwd f = {0};
	struct e2_err err;
	int c;

	memcpy(opts, e2nf_options, sizeof(e2nf_options));
	opts[E2NF_OPTIONS_N] = (struct option){"tag", required_argument, NULL, 't'};
	opts[E2NF_OPTIONS_N + 1] = (struct option){"help", no_argument, NULL, 'h'};
	opts[E2NF_OPTIONS_N + 2] = (struct option){"report-load", required_argument, NULL, 'l'};
	opts[E2NF_OPTIONS_N + 3] = (struct option){NULL, 0, NULL, 0};
	while ((c = getopt_long(argc, argv, "h", opts, NULL)) != -1) {
		int r = e2nf_option(c, optarg, &cfg, &err);
		if (r < 0) {
			fprintf(stderr, "e2nf-fwd: %s\n", err.msg);
			return 2;
		}
		if (r)
			continue;
		if (c == 'h') {
			usage(stdout);
			return 0;
		}
		if (c == 'l') {
			if (e2_num_double("--report-load", optarg, 0, 1, &load, &err)) {
				fprintf(stderr, "e2nf-fwd: %s\n", err.msg);
				return 2;
			}
			continue;
		}
		if (c != 't') {
			usage(stderr);
			return 2;
		}
		char name[32];
		const char *eq = strchr(optarg, '=');
		if (!eq || (size_t)(eq - optarg) >= sizeof(name)) {
			fprintf(stderr, "e2nf-fwd: --tag takes ATTR=VALUE, not '%s'\n", optarg);
			return 2;
		}
		snprintf(name, sizeof(name), "%.*s", (int)(eq - optarg), optarg);
		if (e2nf_attr(name, &f.attr, &err) != 0) {
			fprintf(stderr, "e2nf-fwd: --tag: %s\n", err.msg);
			return 2;
		}
		if (f.attr.width) {
			char *end;
			unsigned long long v = strtoull(eq + 1, &end, 0);
			if (!eq[1] || *end || eq[1] == '-' || (f.attr.width < 8 && v >> (8 * f.attr.width))) {
				fprintf(stderr, "e2nf-fwd: --tag %s: not an integer of %u byte(s)\n", optarg,
					f.attr.width);
				return 2;
			}
			for (int i = f.attr.width - 1; i >= 0; i--, v >>= 8)
				f.value[i] = (char)(v & 0xff);
			f.value_len = f.attr.width;
		} else {
			f.value_len = strlen(eq + 1);
			if (f.value_len == 0 || f.value_len > 127) {
				fprintf(stderr, "e2nf-fwd: --tag %s: the value must be 1..127 bytes\n", optarg);
				return 2;
			}
			memcpy(f.value, eq + 1, f.value_len);
		}
		f.tag = true;
	}
	if (optind != argc || cfg.n_ports == 0) {
		fprintf(stderr, "e2nf-fwd: %s\n", optind != argc ? "unexpected argument" : "needs --port SOCK");
		usage(stderr);
		return 2;
	}
	struct e2nf *nf = e2nf_open(&cfg, &err);
	if (!nf) {
		fprintf(stderr, "e2nf-fwd: %s\n", err.msg);
		return 1;
	}
	if (load >= 0)
		e2nf_report_load(nf, load);
	const struct e2nf_ops ops = {.rx = fwd_rx, .counters = fwd_counters};
	int rc = e2nf_run(nf, &ops, &f);
	char stats[2048];
	e2nf_format_counters(nf, stats, sizeof(stats));
	fputs(stats, stdout);
	fflush(stdout);
	e2nf_close(nf);
	return rc < 0 ? 1 : 0;
}
