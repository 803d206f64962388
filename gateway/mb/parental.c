/* SPDX-License-Identifier: BSD-3-Clause */
/* embark-parental: a URL blocklist over the gateway's encrypted URIs. The gateway sends
 * each HTTP request's host + path, deterministically encrypted (AES-SIV), on the extension
 * channel before the packet that completes the request; a URI on the blocklist (the same
 * encryption of each listed URI, embark-mb-prep uris) blocks its flow: that packet and
 * every later one of the flow, both ways, are dropped. Given plain URIs (a plaintext
 * extension channel, embark-mb-prep plain) and a plain list it decides the same.
 *
 * The URIs' encryption is per key, so the blocklist is per epoch (`blocklist EPOCH
 * FILE`): a request is looked up in the list of the epoch its record names (a plain
 * record, epoch 0: the list loaded last). */
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
	uint32_t first_epoch, flows_max;
	double idle_s;
	struct mb_epochs epochs;
	struct mb_flows *flows;
	uint64_t requests, blocked_requests, blocked_frames, passed, table_full, unknown_epoch;
};

static void list_clear(void *data)
{
	mb_uris_free(data);
}

static int list_load(void *ctx, void *data, const char *path, struct e2_err *err)
{
	(void)ctx;
	return mb_uris_load(path, data, err);
}

static int list_describe(const void *data, char *buf, size_t len)
{
	const struct mb_uris *u = data;
	return snprintf(buf, len, "%zu URIs", u->n);
}

static int par_opt(void *st, int c, const char *arg, struct e2_err *err)
{
	struct par *p = st;
	switch (c) {
	case 'b': p->list_path = arg; return 0;
	case 'e': return e2_num_u32("--epoch", arg, 1, UINT32_MAX, &p->first_epoch, err);
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
	p->epochs = (struct mb_epochs){.verb = "blocklist",
				       .size = sizeof(struct mb_uris),
				       .load = list_load,
				       .clear = list_clear,
				       .describe = list_describe};
	if (mb_epochs_load(&p->epochs, p->first_epoch, p->list_path, err) != 0)
		return -1;
	if (check) {
		char what[128];
		list_describe(mb_epochs_newest(&p->epochs), what, sizeof what);
		printf("%s: %s\n", p->list_path, what);
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
	const struct mb_uris *list = x->epoch ? mb_epochs_get(&p->epochs, x->epoch) : mb_epochs_newest(&p->epochs);
	if (!list) {
		p->unknown_epoch++; /* a URI under a key we hold no list for: passes, counted */
		return;
	}
	if (!mb_uris_has(list, x->uri, x->uri_len))
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
	bool full = false;
	if ((f && f->blocked) || mb_flows_carry(p->flows, pk, now, offsetof(struct par_flow, blocked), &full)) {
		p->table_full += full;
		p->blocked_frames++;
		return MB_DROP;
	}
	p->passed++;
	return (int)(port ^ 1);
}

/* A blocked URI blocks the packet that completes its request: it waits for its record. */
static bool par_waits(void *st)
{
	(void)st;
	return true;
}

static int par_counters(void *st, char *buf, size_t len)
{
	struct par *p = st;
	snprintf(buf, len,
		 "requests=%llu\nblocked_requests=%llu\nblocked_frames=%llu\npassed=%llu\nflow_table_full=%llu\n"
		 "unknown_epoch=%llu\n",
		 (unsigned long long)p->requests, (unsigned long long)p->blocked_requests,
		 (unsigned long long)p->blocked_frames, (unsigned long long)p->passed,
		 (unsigned long long)p->table_full, (unsigned long long)p->unknown_epoch);
	return 0;
}

static void par_fini(void *st)
{
	struct par *p = st;
	mb_flows_free(p->flows);
	mb_epochs_fini(&p->epochs);
}

static const struct option par_opts[] = {{"blocklist", required_argument, NULL, 'b'},
					 {"flows", required_argument, NULL, 'f'},
					 {"idle-timeout", required_argument, NULL, 'i'},
					 {"epoch", required_argument, NULL, 'e'},
					 {NULL, 0, NULL, 0}};

int main(int argc, char **argv)
{
	static struct par p = {.first_epoch = 1, .flows_max = 65536, .idle_s = 300};
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
			 "    --epoch N     the epoch --blocklist belongs to (1): a request is looked up in\n"
			 "                  the list of the epoch its record names (URIs are per key)\n"
			 "CONTROL (--ctl, or offline DIR/control)\n"
			 "    blocklist EPOCH FILE  load (or replace) an epoch's list; refused: nothing changes\n"
			 "    retire EPOCH          drop an epoch's list     epochs   list them\n"
			 "COUNTERS\n"
			 "    requests blocked_requests blocked_frames passed flow_table_full unknown_epoch,\n"
			 "    ext_records ext_refused ip_frames non_ip malformed, and libe2nf's\n",
		.opts = par_opts,
		.opt = par_opt,
		.setup = par_setup,
		.pkt = par_pkt,
		.ext = par_ext,
		.waits_for_records = par_waits,
		.counters = par_counters,
		.epochs = &p.epochs,
		.fini = par_fini,
		.ports = 2,
		.st = &p,
	};
	return mb_nf_main(&m, argc, argv);
}
