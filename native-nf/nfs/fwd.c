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

struct fwd_args {
	struct fwd *f;
	double load;
};

/* --tag ATTR=VALUE: an integer attribute's value in its width, or bytes */
static int fwd_tag(struct fwd *f, const char *arg, struct e2_err *err)
{
	char name[32];
	const char *eq = strchr(arg, '=');
	if (!eq || (size_t)(eq - arg) >= sizeof(name)) {
		e2_seterr(err, "--tag takes ATTR=VALUE, not '%s'", arg);
		return -1;
	}
	snprintf(name, sizeof(name), "%.*s", (int)(eq - arg), arg);
	if (e2nf_attr(name, &f->attr, err) != 0) {
		e2_err_context(err, "--tag");
		return -1;
	}
	if (f->attr.width) {
		char *end;
		unsigned long long v = strtoull(eq + 1, &end, 0);
		if (!eq[1] || *end || eq[1] == '-' || (f->attr.width < 8 && v >> (8 * f->attr.width))) {
			e2_seterr(err, "--tag %s: not an integer of %u byte(s)", arg, f->attr.width);
			return -1;
		}
		for (int i = f->attr.width - 1; i >= 0; i--, v >>= 8)
			f->value[i] = (char)(v & 0xff);
		f->value_len = f->attr.width;
	} else {
		f->value_len = strlen(eq + 1);
		if (f->value_len == 0 || f->value_len > 127) {
			e2_seterr(err, "--tag %s: the value must be 1..127 bytes", arg);
			return -1;
		}
		memcpy(f->value, eq + 1, f->value_len);
	}
	f->tag = true;
	return 0;
}

static int fwd_option(int c, const char *arg, void *ctx, struct e2_err *err)
{
	struct fwd_args *a = ctx;
	switch (c) {
	case 't': return fwd_tag(a->f, arg, err) ? -1 : 1;
	case 'l': return e2_num_double("--report-load", arg, 0, 1, &a->load, err) ? -1 : 1;
	default: return 0;
	}
}

int main(int argc, char **argv)
{
	struct e2nf_config cfg = E2NF_CONFIG_INIT("fwd");
	struct fwd f = {0};
	struct e2_err err;
	static const struct option own[] = {{"tag", required_argument, NULL, 't'},
					    {"report-load", required_argument, NULL, 'l'},
					    {NULL, 0, NULL, 0}};
	struct fwd_args args = {.f = &f, .load = -1};
	int exit_now = e2nf_args(argc, argv, "e2nf-fwd", &cfg, own, fwd_option, &args, usage);
	if (exit_now >= 0)
		return exit_now;
	double load = args.load;
	if (cfg.n_ports == 0) {
		fprintf(stderr, "e2nf-fwd: needs --port SOCK (see --help)\n");
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
