/* SPDX-License-Identifier: BSD-3-Clause */
/* The run loop shared by the Embark middleboxes (mb_nf.h). */
#include "mb_nf.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <rte_ether.h>
#include <rte_mbuf.h>

struct runner {
	struct mb_nf *m;
	uint64_t ip, non_ip, malformed, ext_records, ext_refused, ext_ignored;
};

static void run_rx(struct e2nf *nf, void *state, unsigned port, struct rte_mbuf **pkts, unsigned n)
{
	struct runner *r = state;
	uint64_t now = e2nf_now_ns(nf);
	unsigned nports = e2nf_n_ports(nf);

	for (unsigned i = 0; i < n; i++) {
		struct rte_mbuf *mb = pkts[i];
		int off = e2nf_inner_offset(mb);
		int out = MB_DROP;
		if (off < 0 || !rte_pktmbuf_is_contiguous(mb) || mb->data_len < (unsigned)off + RTE_ETHER_HDR_LEN) {
			r->malformed++;
			e2nf_drop(nf, mb);
			continue;
		}
		uint8_t *frame = rte_pktmbuf_mtod_offset(mb, uint8_t *, off);
		size_t flen = mb->data_len - (unsigned)off;
		int et = frame[12] << 8 | frame[13];
		if (et == MB_EXT_ETHERTYPE) {
			struct mb_ext x;
			struct e2_err err;
			if (!r->m->ext) {
				r->ext_ignored++;
			} else if (mb_ext_decode(frame + 14, flen - 14, &x, &err) != 0) {
				r->ext_refused++;
			} else {
				r->ext_records++;
				r->m->ext(r->m->st, nf, &x, now);
				mb_ext_free(&x);
			}
			e2nf_drop(nf, mb); /* the channel ends here */
			continue;
		}
		struct mb_pkt p;
		int rc = mb_parse_l3(frame + 14, flen - 14, et, &p);
		if (rc < 0) {
			r->malformed++;
		} else if (rc > 0) {
			r->non_ip++;
			out = (int)(port ^ 1);
		} else {
			r->ip++;
			out = r->m->pkt(r->m->st, nf, port, &p, now);
		}
		if (out >= 0 && (unsigned)out < nports)
			e2nf_send(nf, (unsigned)out, mb);
		else
			e2nf_drop(nf, mb);
	}
}

static void run_counters(struct e2nf *nf, void *state, char *buf, size_t len)
{
	struct runner *r = state;
	(void)nf;
	int o = snprintf(buf, len,
			 "ip_frames=%llu\nnon_ip=%llu\nmalformed=%llu\next_records=%llu\next_refused=%llu\n"
			 "ext_ignored=%llu\n",
			 (unsigned long long)r->ip, (unsigned long long)r->non_ip, (unsigned long long)r->malformed,
			 (unsigned long long)r->ext_records, (unsigned long long)r->ext_refused,
			 (unsigned long long)r->ext_ignored);
	if (o > 0 && (size_t)o < len && r->m->counters)
		r->m->counters(r->m->st, buf + o, len - (size_t)o);
}

int mb_nf_main(struct mb_nf *m, int argc, char **argv)
{
	struct option opts[E2NF_OPTIONS_N + 40];
	struct e2nf_config cfg = E2NF_CONFIG_INIT(m->name);
	struct e2_err err;
	bool check = false;
	size_t n_own = 0;
	int c;

	cfg.name = m->name + (strncmp(m->name, "embark-", 7) ? 0 : 7);
	memcpy(opts, e2nf_options, sizeof(e2nf_options));
	while (m->opts[n_own].name && n_own < 36)
		n_own++;
	memcpy(opts + E2NF_OPTIONS_N, m->opts, n_own * sizeof(*opts));
	opts[E2NF_OPTIONS_N + n_own] = (struct option){"check", no_argument, NULL, 0x4d01};
	opts[E2NF_OPTIONS_N + n_own + 1] = (struct option){"help", no_argument, NULL, 'h'};
	opts[E2NF_OPTIONS_N + n_own + 2] = (struct option){NULL, 0, NULL, 0};
	while ((c = getopt_long(argc, argv, "h", opts, NULL)) != -1) {
		int r = e2nf_option(c, optarg, &cfg, &err);
		if (r == 0) {
			if (c == 'h') {
				fputs(m->usage, stdout);
				fputs("LIBE2NF OPTIONS\n" E2NF_OPTIONS_HELP, stdout);
				return 0;
			}
			if (c == 0x4d01) {
				check = true;
				continue;
			}
			if (c == '?') {
				fprintf(stderr, "%s: see --help\n", m->name);
				return 2;
			}
			r = m->opt(m->st, c, optarg, &err) ? -1 : 1;
		}
		if (r < 0) {
			fprintf(stderr, "%s: %s\n", m->name, err.msg);
			return 2;
		}
	}
	if (optind != argc) {
		fprintf(stderr, "%s: unexpected argument '%s' (see --help)\n", m->name, argv[optind]);
		return 2;
	}
	if (m->setup(m->st, check, &err) != 0) {
		fprintf(stderr, "%s: %s\n", m->name, err.msg);
		return 2;
	}
	if (check) {
		if (m->fini)
			m->fini(m->st);
		return 0;
	}
	if (cfg.n_ports != m->ports) {
		fprintf(stderr, "%s: needs %u --port (see --help)\n", m->name, m->ports);
		return 2;
	}
	struct e2nf *nf = e2nf_open(&cfg, &err);
	if (!nf) {
		fprintf(stderr, "%s: %s\n", m->name, err.msg);
		return 1;
	}
	struct runner r = {.m = m};
	const struct e2nf_ops ops = {.rx = run_rx, .counters = run_counters};
	int rc = e2nf_run(nf, &ops, &r);
	static char stats[65536];
	e2nf_format_counters(nf, stats, sizeof(stats));
	fputs(stats, stdout);
	fflush(stdout);
	e2nf_close(nf);
	if (m->fini)
		m->fini(m->st);
	return rc < 0 ? 1 : 0;
}
