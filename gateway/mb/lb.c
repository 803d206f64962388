/* SPDX-License-Identifier: BSD-3-Clause */
/* embark-lb: an L4 load balancer by consistent hashing of the 5-tuple, over Embark traffic
 * or plaintext. Port 0 faces the clients, port 1 the backends. A flow's backend is the one
 * with the highest hash of (flow, backend) (rendezvous hashing: removing a backend moves
 * only its own flows); its packets get the backend's address as destination, and the
 * backend's answers get the address the client spoke to back as source. Embark encrypts
 * a flow's 5-tuple deterministically and alike in both directions, so hashing the
 * ciphertext keeps a flow on one backend; the backends are encrypted pool values (the
 * gateway restores them to their plain addresses). */
#include <arpa/inet.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "e2/num.h"
#include "mb_nf.h"

struct lb_flow {
	embark_u128 vip;
	uint32_t backend;
};

struct lb {
	const char *backends_path;
	uint32_t flows_max;
	double idle_s;
	struct mb_addrs be;
	uint64_t *be_hash;
	uint64_t *per_backend;
	struct mb_flows *fwd, *rev;
	uint64_t to_backend, to_client, new_flows, unknown_reply, table_full;
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
	case 'f': return e2_num_u32("--flows", arg, 64, 1u << 24, &lb->flows_max, err);
	case 'i': return e2_num_duration("--idle-timeout", arg, 1, 86400, &lb->idle_s, err);
	}
	e2_seterr(err, "unknown option");
	return -1;
}

static int lb_setup(void *st, bool check, struct e2_err *err)
{
	struct lb *lb = st;
	if (!lb->backends_path) {
		e2_seterr(err, "needs --backends FILE");
		return -1;
	}
	if (mb_addrs_load(lb->backends_path, &lb->be, err) != 0)
		return -1;
	if (lb->be.n > 4096) {
		e2_seterr(err, "%s: more than 4096 backends", lb->backends_path);
		return -1;
	}
	if (check) {
		printf("%s: %zu %s backends\n", lb->backends_path, lb->be.n, lb->be.encrypted ? "encrypted" : "plain");
		return 0;
	}
	lb->be_hash = calloc(lb->be.n, sizeof(*lb->be_hash));
	lb->per_backend = calloc(lb->be.n, sizeof(*lb->per_backend));
	lb->fwd = mb_flows_new(lb->flows_max, sizeof(struct lb_flow), (uint64_t)(lb->idle_s * 1e9));
	lb->rev = mb_flows_new(lb->flows_max, sizeof(struct lb_flow), (uint64_t)(lb->idle_s * 1e9));
	if (!lb->be_hash || !lb->per_backend || !lb->fwd || !lb->rev) {
		e2_seterr(err, "no memory for the flow tables");
		return -1;
	}
	for (size_t i = 0; i < lb->be.n; i++)
		lb->be_hash[i] = mix(mix(0x5eed, (uint64_t)lb->be.v[i]), (uint64_t)(lb->be.v[i] >> 64));
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
		bool fresh;
		struct lb_flow *f = mb_flows_add(lb->fwd, k, now, &fresh);
		struct lb_flow tmp;
		if (!f) {
			lb->table_full++;
			f = &tmp;
			fresh = true;
		}
		if (fresh) {
			uint64_t h = key_hash(k), best = 0;
			uint32_t bi = 0;
			for (uint32_t i = 0; i < lb->be.n; i++) {
				uint64_t s = mix(h, lb->be_hash[i]);
				if (i == 0 || s > best)
					best = s, bi = i;
			}
			f->vip = p->key.dip;
			f->backend = bi;
			lb->new_flows++;
			embark_key5 t = p->key;
			t.dip = lb->be.v[bi];
			struct mb_flow_key tk;
			mb_flow_key(&t, &tk, NULL);
			bool f2;
			struct lb_flow *r = mb_flows_add(lb->rev, &tk, now, &f2);
			if (r)
				*r = *f;
		}
		lb->per_backend[f->backend]++;
		mb_addr_bytes(p->v6, lb->be.v[f->backend], ab);
		mb_set_addr(p, true, ab);
		lb->to_backend++;
		return 1;
	}
	struct lb_flow *r = mb_flows_find(lb->rev, k, now);
	if (!r || p->key.sip != lb->be.v[r->backend]) {
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
			 "to_backend=%llu\nto_client=%llu\nnew_flows=%llu\nunknown_reply=%llu\nflow_table_full=%llu\n",
			 (unsigned long long)lb->to_backend, (unsigned long long)lb->to_client,
			 (unsigned long long)lb->new_flows, (unsigned long long)lb->unknown_reply,
			 (unsigned long long)lb->table_full);
	for (size_t i = 0; i < lb->be.n && o > 0 && (size_t)o < len; i++)
		o += snprintf(buf + o, len - (size_t)o, "backend%zu_packets=%llu\n", i,
			      (unsigned long long)lb->per_backend[i]);
	return 0;
}

static void lb_fini(void *st)
{
	struct lb *lb = st;
	mb_flows_free(lb->fwd);
	mb_flows_free(lb->rev);
	free(lb->be_hash);
	free(lb->per_backend);
	mb_addrs_free(&lb->be);
}

static const struct option lb_opts[] = {{"backends", required_argument, NULL, 'b'},
					{"flows", required_argument, NULL, 'f'},
					{"idle-timeout", required_argument, NULL, 'i'},
					{NULL, 0, NULL, 0}};

int main(int argc, char **argv)
{
	static struct lb lb = {.flows_max = 65536, .idle_s = 300};
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
			 "COUNTERS\n"
			 "    to_backend to_client new_flows unknown_reply flow_table_full backendN_packets,\n"
			 "    ip_frames non_ip malformed, and libe2nf's\n",
		.opts = lb_opts,
		.opt = lb_opt,
		.setup = lb_setup,
		.pkt = lb_pkt,
		.prefetch = lb_prefetch,
		.counters = lb_counters,
		.fini = lb_fini,
		.ports = 2,
		.st = &lb,
	};
	return mb_nf_main(&m, argc, argv);
}
