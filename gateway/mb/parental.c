/* SPDX-License-Identifier: BSD-3-Clause */
/* embark-parental: a URL blocklist over the gateway's encrypted URIs. The gateway sends
 * each HTTP request's host + path, deterministically encrypted (AES-SIV), on the extension
 * channel before the packet that completes the request; a URI on the blocklist (the same
 * encryption of each listed URI, embark-mb-prep uris) blocks its flow: that packet and
 * every later one of the flow, both ways, are dropped. Given plain URIs (a plaintext
 * extension channel, embark-mb-prep plain) and a plain list it decides the same. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "e2/num.h"
#include "mb_nf.h"

struct par_flow {
	bool blocked;
};

struct par {
	const char *list_path;
	uint32_t flows_max;
	double idle_s;
	struct mb_uris list;
	struct mb_flows *flows;
	uint64_t requests, blocked_requests, blocked_frames, passed, table_full;
};

static int par_opt(void *st, int c, const char *arg, struct e2_err *err)
{
	struct par *p = st;
	switch (c) {
	case 'b': p->list_path = arg; return 0;
	case 'f': return e2_num_u32("--flows", arg, 64, 1u << 24, &p->flows_max, err);
	case 'i': return e2_num_duration("--idle-timeout", arg, 1, 86400, &p->idle_s, err);
	}
	e2_seterr(err, "unknown option");
	return -1;
}

static int par_setup(void *st, bool check, struct e2_err *err)
{
	struct par *p = st;
	if (!p->list_path) {
		e2_seterr(err, "needs --blocklist FILE");
		return -1;
	}
	if (mb_uris_load(p->list_path, &p->list, err) != 0)
		return -1;
	if (check) {
		printf("%s: %zu URIs\n", p->list_path, p->list.n);
		return 0;
	}
	p->flows = mb_flows_new(p->flows_max, sizeof(struct par_flow), (uint64_t)(p->idle_s * 1e9));
	if (!p->flows) {
		e2_seterr(err, "no memory for the flow table");
		return -1;
	}
	return 0;
}

static void par_ext(void *st, struct e2nf *nf, struct mb_ext *x, uint64_t now)
{
	struct par *p = st;
	(void)nf;
	if (!x->uri)
		return;
	p->requests++;
	if (!mb_uris_has(&p->list, x->uri, x->uri_len))
		return;
	p->blocked_requests++;
	struct mb_flow_key k;
	bool fresh;
	mb_flow_key(&x->key, &k, NULL);
	struct par_flow *f = mb_flows_add(p->flows, &k, now, &fresh);
	if (f)
		f->blocked = true;
	else
		p->table_full++;
}

static int par_pkt(void *st, struct e2nf *nf, unsigned port, struct mb_pkt *pk, uint64_t now)
{
	struct par *p = st;
	(void)nf;
	struct par_flow *f = mb_flows_find(p->flows, &pk->flow, now);
	if (f && f->blocked) {
		p->blocked_frames++;
		return MB_DROP;
	}
	p->passed++;
	return (int)(port ^ 1);
}

static int par_counters(void *st, char *buf, size_t len)
{
	struct par *p = st;
	snprintf(buf, len,
		 "requests=%llu\nblocked_requests=%llu\nblocked_frames=%llu\npassed=%llu\nflow_table_full=%llu\n",
		 (unsigned long long)p->requests, (unsigned long long)p->blocked_requests,
		 (unsigned long long)p->blocked_frames, (unsigned long long)p->passed,
		 (unsigned long long)p->table_full);
	return 0;
}

static void par_fini(void *st)
{
	struct par *p = st;
	mb_flows_free(p->flows);
	mb_uris_free(&p->list);
}

static const struct option par_opts[] = {{"blocklist", required_argument, NULL, 'b'},
					 {"flows", required_argument, NULL, 'f'},
					 {"idle-timeout", required_argument, NULL, 'i'},
					 {NULL, 0, NULL, 0}};

int main(int argc, char **argv)
{
	static struct par p = {.flows_max = 65536, .idle_s = 300};
	struct mb_nf m = {
		.name = "embark-parental",
		.usage = "NAME\n"
			 "    embark-parental - URL blocklist over encrypted URIs\n"
			 "SYNOPSIS\n"
			 "    embark-parental --blocklist FILE --port P0 --port P1 [options]\n"
			 "DESCRIPTION\n"
			 "    Extension-channel frames (EtherType 0x88b5, one ExtRecord each) carrying a URI\n"
			 "    on FILE block their flow from then on, both ways; other frames go port 0 <-> 1.\n"
			 "    FILE: a URI (host + path) per line, or `enc HEX` lines (embark-mb-prep uris).\n"
			 "OPTIONS\n"
			 "    --blocklist FILE  --flows N (65536)  --idle-timeout S (300)  --check\n"
			 "COUNTERS\n"
			 "    requests blocked_requests blocked_frames passed flow_table_full, ext_records\n"
			 "    ext_refused ip_frames non_ip malformed, and libe2nf's\n",
		.opts = par_opts,
		.opt = par_opt,
		.setup = par_setup,
		.pkt = par_pkt,
		.ext = par_ext,
		.counters = par_counters,
		.fini = par_fini,
		.ports = 2,
		.st = &p,
	};
	return mb_nf_main(&m, argc, argv);
}
