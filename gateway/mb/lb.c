/* SPDX-License-Identifier: BSD-3-Clause */
/* embark-lb: an L4 load balancer by consistent hashing of the 5-tuple, over Embark traffic
 * or plaintext. Port 0 faces the clients, port 1 the backends. A flow's backend is the one
 * with the highest hash of (flow, backend) (rendezvous hashing: removing a backend moves
 * only its own flows); its packets get the backend's address as destination, and the
 * backend's answers get the address the client spoke to back as source. Embark encrypts
 * a flow's 5-tuple deterministically and alike in both directions, so hashing the
 * ciphertext keeps a flow on one backend; the backends are encrypted pool values (the
 * gateway restores them to their plain addresses).
 *
 * The backends' values are per epoch (they depend on the key and the rules' interval
 * map): a new flow picks from the backends of the epoch in its label (`backends EPOCH
 * FILE` loads one); a flow keeps the backend it got. */
#include <arpa/inet.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "e2/num.h"
#include "mb_nf.h"

#define LB_BACKENDS_MAX 4096

/* The way out (fwd) and the way back (rev) keep what each needs, 32 bytes apiece: the
 * flow table's slots stay at 96 bytes, which the lookups' cache misses are measured in. */
struct lb_fwd {
	embark_u128 backend_addr;
	uint32_t backend; /* its place in the list: the same plain backend in every epoch */
};
struct lb_rev {
	embark_u128 vip, backend_addr;
};

/* One epoch's backends. */
struct lb_backends {
	struct mb_addrs be;
	uint64_t *be_hash;
};

struct lb {
	const char *backends_path, *pool_name;
	uint32_t first_epoch, flows_max;
	double idle_s;
	struct mb_epochs epochs;
	struct mb_flows *fwd, *rev;
	uint64_t to_backend, to_client, new_flows, unknown_reply, table_full, unknown_epoch;
	uint64_t per_backend[LB_BACKENDS_MAX];
};

static uint64_t mix(uint64_t h, uint64_t v)
{
	h ^= v + 0x9e3779b97f4a7c15ull + (h << 6) + (h >> 2);
	h *= 0xff51afd7ed558ccdull;
	return h ^ (h >> 33);
}

static uint64_t key_hash(const struct mb_flow_key *k)
{
	uint64_t h = mix(0, (uint64_t)k->a);
	h = mix(h, (uint64_t)(k->a >> 64));
	h = mix(h, (uint64_t)k->b);
	h = mix(h, (uint64_t)(k->b >> 64));
	return mix(h, (uint64_t)k->pa << 24 | (uint64_t)k->pb << 8 | k->proto);
}

static int lb_opt(void *st, int c, const char *arg, struct e2_err *err)
{
	struct lb *lb = st;
	switch (c) {
	case 'b': lb->backends_path = arg; return 0;
	case 'n': lb->pool_name = arg; return 0;
	case 'e': return e2_num_u32("--epoch", arg, 1, UINT32_MAX, &lb->first_epoch, err);
	case 'f': return e2_num_u32("--flows", arg, 64, 1u << 24, &lb->flows_max, err);
	case 'i': return e2_num_duration("--idle-timeout", arg, 1, 86400, &lb->idle_s, err);
	}
	e2_seterr(err, "unknown option");
	return -1;
}

static void backends_clear(void *data)
{
	struct lb_backends *b = data;
	free(b->be_hash);
	mb_addrs_free(&b->be);
}

static int backends_load(void *ctx, void *data, const char *path, struct e2_err *err)
{
	const struct lb *lb = ctx;
	struct lb_backends *b = data;
	if (mb_addrs_load(path, lb->pool_name, &b->be, err) != 0)
		return -1;
	if (b->be.n > LB_BACKENDS_MAX) {
		e2_seterr(err, "%s: more than %d backends", path, LB_BACKENDS_MAX);
		return -1;
	}
	b->be_hash = calloc(b->be.n, sizeof(*b->be_hash));
	if (!b->be_hash) {
		e2_seterr(err, "no memory for the backends");
		return -1;
	}
	for (size_t i = 0; i < b->be.n; i++)
		b->be_hash[i] = mix(mix(0x5eed, (uint64_t)b->be.v[i]), (uint64_t)(b->be.v[i] >> 64));
	return 0;
}

static int backends_describe(const void *data, char *buf, size_t len)
{
	const struct lb_backends *b = data;
	return snprintf(buf, len, "%zu %s backends", b->be.n, b->be.encrypted ? "encrypted" : "plain");
}

static int lb_setup(void *st, bool check, struct e2_err *err)
{
	struct lb *lb = st;
	if (!lb->backends_path) {
		e2_seterr(err, "needs --backends FILE");
		return -1;
	}
	lb->epochs = (struct mb_epochs){.verb = "backends",
					.size = sizeof(struct lb_backends),
					.load = backends_load,
					.clear = backends_clear,
					.describe = backends_describe,
					.ctx = lb};
	if (mb_epochs_load(&lb->epochs, lb->first_epoch, lb->backends_path, err) != 0)
		return -1;
	if (check) {
		char what[128];
		backends_describe(mb_epochs_newest(&lb->epochs), what, sizeof what);
		printf("%s: %s\n", lb->backends_path, what);
		return 0;
	}
	lb->fwd = mb_flows_new(lb->flows_max, sizeof(struct lb_fwd), (uint64_t)(lb->idle_s * 1e9));
	lb->rev = mb_flows_new(lb->flows_max, sizeof(struct lb_rev), (uint64_t)(lb->idle_s * 1e9));
	if (!lb->fwd || !lb->rev) {
		e2_seterr(err, "no memory for the flow tables");
		return -1;
	}
	return 0;
}

/* The slot lb_pkt looks up first, and the checksum it rewrites. */
static void lb_prefetch(void *st, unsigned port, const struct mb_pkt *p)
{
	struct lb *lb = st;
	mb_flows_prefetch(port == 0 ? lb->fwd : lb->rev, &p->flow);
	mb_pkt_prefetch_rewrite(p);
}

static int lb_pkt(void *st, struct e2nf *nf, unsigned port, struct mb_pkt *p, uint64_t now)
{
	struct lb *lb = st;
	uint8_t ab[16];
	(void)nf;
	const struct mb_flow_key *k = &p->flow;
	if (port == 0) {
		bool fresh = false;
		struct lb_backends *b = NULL;
		struct lb_fwd *f = mb_flows_find(lb->fwd, k, now), tmp;
		if (!f) {
			/* a new flow: placed among its epoch's backends */
			b = mb_epochs_of(&lb->epochs, p);
			if (!b) {
				lb->unknown_epoch++;
				return MB_DROP; /* not remembered */
			}
			f = mb_flows_add(lb->fwd, k, now, &fresh);
			if (!f) {
				lb->table_full++;
				f = &tmp;
				fresh = true;
			}
		}
		if (fresh) {
			uint64_t h = key_hash(k), best = 0;
			uint32_t bi = 0;
			for (uint32_t i = 0; i < b->be.n; i++) {
				uint64_t s = mix(h, b->be_hash[i]);
				if (i == 0 || s > best)
					best = s, bi = i;
			}
			f->backend = bi;
			f->backend_addr = b->be.v[bi];
			lb->new_flows++;
			embark_key5 t = p->key;
			t.dip = f->backend_addr;
			struct mb_flow_key tk;
			mb_flow_key(&t, &tk, NULL);
			bool f2;
			struct lb_rev *r = mb_flows_add(lb->rev, &tk, now, &f2);
			if (r)
				*r = (struct lb_rev){.vip = p->key.dip, .backend_addr = f->backend_addr};
		}
		lb->per_backend[f->backend]++;
		mb_addr_bytes(p->v6, f->backend_addr, ab);
		mb_set_addr(p, true, ab);
		lb->to_backend++;
		return 1;
	}
	struct lb_rev *r = mb_flows_find(lb->rev, k, now);
	if (!r || p->key.sip != r->backend_addr) {
		lb->unknown_reply++;
		return MB_DROP;
	}
	mb_addr_bytes(p->v6, r->vip, ab);
	mb_set_addr(p, false, ab);
	lb->to_client++;
	return 0;
}

static int lb_counters(void *st, char *buf, size_t len)
{
	struct lb *lb = st;
	int o = snprintf(buf, len,
			 "to_backend=%llu\nto_client=%llu\nnew_flows=%llu\nunknown_reply=%llu\nflow_table_full=%llu\n"
			 "unknown_epoch=%llu\n",
			 (unsigned long long)lb->to_backend, (unsigned long long)lb->to_client,
			 (unsigned long long)lb->new_flows, (unsigned long long)lb->unknown_reply,
			 (unsigned long long)lb->table_full, (unsigned long long)lb->unknown_epoch);
	/* backend I: the I-th of the list, whichever epoch's encryption of it a flow got */
	size_t n = 0;
	for (int ei = 0; ei < MB_EPOCHS; ei++) {
		const struct lb_backends *b = lb->epochs.e[ei].data;
		if (b && b->be.n > n)
			n = b->be.n;
	}
	for (size_t i = 0; i < n && o > 0 && (size_t)o < len; i++)
		o += snprintf(buf + o, len - (size_t)o, "backend%zu_packets=%llu\n", i,
			      (unsigned long long)lb->per_backend[i]);
	return 0;
}

static void lb_fini(void *st)
{
	struct lb *lb = st;
	mb_flows_free(lb->fwd);
	mb_flows_free(lb->rev);
	mb_epochs_fini(&lb->epochs);
}

static const struct option lb_opts[] = {
	{"backends", required_argument, NULL, 'b'},     {"epoch", required_argument, NULL, 'e'},
	{"pool-name", required_argument, NULL, 'n'},    {"flows", required_argument, NULL, 'f'},
	{"idle-timeout", required_argument, NULL, 'i'}, {NULL, 0, NULL, 0}};

int main(int argc, char **argv)
{
	static struct lb lb = {.first_epoch = 1, .flows_max = 65536, .idle_s = 300};
	struct mb_nf m = {
		.name = "embark-lb",
		.usage = "NAME\n"
			 "    embark-lb - L4 load balancer, consistent hashing on (encrypted) 5-tuples\n"
			 "SYNOPSIS\n"
			 "    embark-lb --backends FILE --port CLIENTS --port BACKENDS [options]\n"
			 "DESCRIPTION\n"
			 "    A flow from port 0 goes to the backend of highest rendezvous hash of its 5-tuple\n"
			 "    (destination rewritten); the backend's replies on port 1 get the original\n"
			 "    destination back as source; replies of unknown flows are dropped. FILE: `pool\n"
			 "    NAME ADDRS` lines (plaintext) or encrypted pool values (Embark traffic).\n"
			 "OPTIONS\n"
			 "    --backends FILE  --flows N (65536)  --idle-timeout S (300)  --check\n"
			 "    --pool-name NAME  only that pool of FILE (`pool NAME ..` lines, or the `NAME HEX`\n"
			 "                  lines of embark-rules / embark-gwctl --pools-out)\n"
			 "    --epoch N     the epoch --backends belong to (1): a new Embark flow picks from\n"
			 "                  the backends of the epoch in its flow label, none loaded: dropped\n"
			 "CONTROL (--ctl, or offline DIR/control)\n"
			 "    backends EPOCH FILE  load (or replace) an epoch's backends; refused: nothing changes\n"
			 "    retire EPOCH         drop an epoch's backends  epochs   list them\n"
			 "COUNTERS\n"
			 "    to_backend to_client new_flows unknown_reply flow_table_full unknown_epoch\n"
			 "    backendI_packets (the I-th backend of the list, in any epoch), ip_frames non_ip\n"
			 "    malformed, and libe2nf's\n",
		.opts = lb_opts,
		.opt = lb_opt,
		.setup = lb_setup,
		.pkt = lb_pkt,
		.prefetch = lb_prefetch,
		.counters = lb_counters,
		.epochs = &lb.epochs,
		.fini = lb_fini,
		.ports = 2,
		.st = &lb,
	};
	return mb_nf_main(&m, argc, argv);
}
