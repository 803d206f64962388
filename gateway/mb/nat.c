/* SPDX-License-Identifier: BSD-3-Clause */
/* embark-nat: source NAT drawing from an address pool, over Embark-encrypted traffic (the
 * pool is the encrypted pool values embark-rules --pools-out writes) or plaintext (the
 * pool file itself). Port 0 is the inside, port 1 the outside. A flow from the inside gets
 * the pool's next address (round robin over flows) and a port of that address's own; the
 * answer coming back to that address and port is translated back. The gateway recognises
 * an encrypted pool value on the way in and restores the pool's plain address (and takes
 * the port as the NAT set it). Flows are endpoint-dependent (the 5-tuple), so the same
 * inside endpoint may get different mappings towards different peers.
 *
 * Pool values are per epoch (an encrypted pool value depends on the key and on the rules'
 * interval map): a new flow takes its address from the pool of the epoch in its label
 * (`pools EPOCH FILE` loads one, as embark-gwctl's prepare step writes it), so the gateway
 * finds the value in that epoch's pool table; mappings keep the value they got. */
#include <arpa/inet.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "e2/num.h"
#include "mb_nf.h"

struct nat_map {
	embark_u128 in_addr, out_addr;
	uint16_t in_port, out_port;
	bool valid;         /* false: the flow is known but got no port yet */
	uint64_t back_hash; /* the way back's flow key hash, to prefetch its slot */
};

/* One epoch's pool. */
struct nat_pool {
	struct mb_addrs a;
	uint16_t *next_port; /* per pool address */
	size_t next_addr;
};

struct nat {
	const char *pool_path, *pool_name;
	uint32_t first_epoch, flows_max, port_lo, port_hi;
	double idle_s;
	struct mb_epochs epochs;
	struct mb_flows *out, *in;
	uint64_t translated_out, translated_in, new_mappings, no_mapping, untranslatable, table_full, ports_exhausted,
		unknown_epoch;
};

static void pool_clear(void *data)
{
	struct nat_pool *pl = data;
	mb_addrs_free(&pl->a);
	free(pl->next_port);
}

static int pool_load(void *ctx, void *data, const char *path, struct e2_err *err)
{
	const struct nat *n = ctx;
	struct nat_pool *pl = data;
	if (mb_addrs_load(path, n->pool_name, &pl->a, err) != 0)
		return -1;
	pl->next_port = calloc(pl->a.n, sizeof(*pl->next_port));
	if (!pl->next_port) {
		e2_seterr(err, "no memory for the pool");
		return -1;
	}
	return 0;
}

static int pool_describe(const void *data, char *buf, size_t len)
{
	const struct nat_pool *pl = data;
	return snprintf(buf, len, "%zu %s addresses", pl->a.n, pl->a.encrypted ? "encrypted" : "plain");
}

static int nat_opt(void *st, int c, const char *arg, struct e2_err *err)
{
	struct nat *n = st;
	switch (c) {
	case 'p': n->pool_path = arg; return 0;
	case 'n': n->pool_name = arg; return 0;
	case 'e': return e2_num_u32("--epoch", arg, 1, UINT32_MAX, &n->first_epoch, err);
	case 'f': return e2_num_u32("--flows", arg, 64, 1u << 24, &n->flows_max, err);
	case 'i': return e2_num_duration("--idle-timeout", arg, 1, 86400, &n->idle_s, err);
	case 'l': return e2_num_u32("--port-lo", arg, 1, 65535, &n->port_lo, err);
	case 'L': return e2_num_u32("--port-hi", arg, 1, 65535, &n->port_hi, err);
	}
	e2_seterr(err, "unknown option");
	return -1;
}

static int nat_setup(void *st, bool check, struct e2_err *err)
{
	struct nat *n = st;
	if (!n->pool_path) {
		e2_seterr(err, "needs --pool FILE");
		return -1;
	}
	if (n->port_lo > n->port_hi) {
		e2_seterr(err, "--port-lo %u is above --port-hi %u", n->port_lo, n->port_hi);
		return -1;
	}
	n->epochs = (struct mb_epochs){.verb = "pools",
				       .size = sizeof(struct nat_pool),
				       .load = pool_load,
				       .clear = pool_clear,
				       .describe = pool_describe,
				       .ctx = n};
	if (mb_epochs_load(&n->epochs, n->first_epoch, n->pool_path, err) != 0)
		return -1;
	if (check) {
		char what[128];
		pool_describe(mb_epochs_newest(&n->epochs), what, sizeof what);
		printf("%s: %s\n", n->pool_path, what);
		return 0;
	}
	n->out = mb_flows_new(n->flows_max, sizeof(struct nat_map), (uint64_t)(n->idle_s * 1e9));
	n->in = mb_flows_new(n->flows_max, sizeof(struct nat_map), (uint64_t)(n->idle_s * 1e9));
	if (!n->out || !n->in) {
		e2_seterr(err, "no memory for the flow tables");
		return -1;
	}
	return 0;
}

/* The slot nat_pkt looks up first, and the checksum it rewrites (on Embark frames in
 * the frame's second cache line). */
static void nat_prefetch(void *st, unsigned port, const struct mb_pkt *p)
{
	struct nat *n = st;
	if (!p->ports)
		return;
	mb_flows_prefetch(port == 0 ? n->out : n->in, &p->flow);
	mb_pkt_prefetch_rewrite(p);
}

/* An outgoing frame of a known flow refreshes the way back too: fetch that slot, found
 * from the way out's entry (which the first pass is fetching). */
static void nat_prefetch2(void *st, unsigned port, const struct mb_pkt *p, uint64_t now)
{
	struct nat *n = st;
	if (port != 0 || !p->ports)
		return;
	const struct nat_map *m = mb_flows_peek(n->out, &p->flow, now);
	if (m && m->valid)
		mb_flows_prefetch_hash(n->in, m->back_hash);
}

static int nat_pkt(void *st, struct e2nf *nf, unsigned port, struct mb_pkt *p, uint64_t now)
{
	struct nat *n = st;
	uint8_t ab[16];
	(void)nf;
	if (!p->ports) {
		n->untranslatable++;
		return MB_DROP;
	}
	const struct mb_flow_key *k = &p->flow;
	if (port == 0) {
		bool fresh;
		struct nat_map *m = mb_flows_add(n->out, k, now, &fresh);
		if (!m) {
			n->table_full++;
			return MB_DROP;
		}
		if (fresh || !m->valid) {
			struct nat_pool *pl = mb_epochs_of(&n->epochs, p);
			if (!pl) {
				m->valid = false;
				n->unknown_epoch++;
				return MB_DROP;
			}
			size_t a = pl->next_addr++ % pl->a.n;
			uint32_t span = n->port_hi - n->port_lo + 1;
			struct nat_map *back = NULL;
			/* the next port of that address that no live mapping holds */
			for (uint32_t tries = 0; tries < span && !back; tries++) {
				*m = (struct nat_map){.in_addr = p->key.sip,
						      .in_port = p->key.sport,
						      .out_addr = pl->a.v[a],
						      .out_port = (uint16_t)(n->port_lo + pl->next_port[a]++ % span)};
				embark_key5 t = p->key;
				t.sip = m->out_addr;
				t.sport = m->out_port;
				struct mb_flow_key tk;
				mb_flow_key(&t, &tk, NULL);
				bool f2;
				back = mb_flows_add(n->in, &tk, now, &f2);
				if (!back)
					break;
				m->back_hash = tk.hash;
				if (!f2)
					back = NULL; /* taken by a live mapping */
			}
			if (!back) {
				m->valid = false;
				n->ports_exhausted++;
				return MB_DROP;
			}
			m->valid = true;
			*back = *m;
			n->new_mappings++;
		} else {
			/* keep the way back alive as long as the way out */
			embark_key5 t = p->key;
			t.sip = m->out_addr;
			t.sport = m->out_port;
			struct mb_flow_key tk;
			mb_flow_key(&t, &tk, NULL);
			mb_flows_find(n->in, &tk, now);
		}
		mb_addr_bytes(p->v6, m->out_addr, ab);
		mb_set_addr(p, false, ab);
		mb_set_port(p, false, htons(m->out_port));
		n->translated_out++;
		return 1;
	}
	struct nat_map *m = mb_flows_find(n->in, k, now);
	if (!m || p->key.dip != m->out_addr || p->key.dport != m->out_port) {
		n->no_mapping++;
		return MB_DROP;
	}
	mb_addr_bytes(p->v6, m->in_addr, ab);
	mb_set_addr(p, true, ab);
	mb_set_port(p, true, htons(m->in_port));
	n->translated_in++;
	return 0;
}

static int nat_counters(void *st, char *buf, size_t len)
{
	struct nat *n = st;
	const struct nat_pool *pl = mb_epochs_newest(&n->epochs);
	snprintf(buf, len,
		 "translated_out=%llu\ntranslated_in=%llu\nnew_mappings=%llu\nno_mapping=%llu\nuntranslatable=%llu\n"
		 "flow_table_full=%llu\nports_exhausted=%llu\nunknown_epoch=%llu\npool_addresses=%zu\n",
		 (unsigned long long)n->translated_out, (unsigned long long)n->translated_in,
		 (unsigned long long)n->new_mappings, (unsigned long long)n->no_mapping,
		 (unsigned long long)n->untranslatable, (unsigned long long)n->table_full,
		 (unsigned long long)n->ports_exhausted, (unsigned long long)n->unknown_epoch, pl ? pl->a.n : 0);
	return 0;
}

static void nat_fini(void *st)
{
	struct nat *n = st;
	mb_flows_free(n->out);
	mb_flows_free(n->in);
	mb_epochs_fini(&n->epochs);
}

static const struct option nat_opts[] = {
	{"pool", required_argument, NULL, 'p'},         {"flows", required_argument, NULL, 'f'},
	{"idle-timeout", required_argument, NULL, 'i'}, {"port-lo", required_argument, NULL, 'l'},
	{"port-hi", required_argument, NULL, 'L'},      {"epoch", required_argument, NULL, 'e'},
	{"pool-name", required_argument, NULL, 'n'},    {NULL, 0, NULL, 0}};

int main(int argc, char **argv)
{
	static struct nat n = {.first_epoch = 1, .flows_max = 65536, .idle_s = 300, .port_lo = 20000, .port_hi = 29999};
	struct mb_nf m = {
		.name = "embark-nat",
		.usage = "NAME\n"
			 "    embark-nat - source NAT from an (encrypted) address pool\n"
			 "SYNOPSIS\n"
			 "    embark-nat --pool FILE --port INSIDE --port OUTSIDE [options]\n"
			 "DESCRIPTION\n"
			 "    TCP and UDP flows from port 0 get the pool's next address (round robin) and a\n"
			 "    port from --port-lo..--port-hi of that address; replies on port 1 to that\n"
			 "    address and port are translated back. Other IP packets are dropped\n"
			 "    (untranslatable). FILE: `pool NAME ADDRS` lines (plaintext traffic) or the\n"
			 "    encrypted pool values of embark-rules --pools-out (Embark traffic; the gateway\n"
			 "    restores them to the plain pool addresses).\n"
			 "OPTIONS\n"
			 "    --pool FILE  --port-lo N (20000)  --port-hi N (29999)  --flows N (65536)\n"
			 "    --idle-timeout S (300)  --check\n"
			 "    --epoch N     the epoch --pool belongs to (1): a new Embark flow takes its address\n"
			 "                  from the pool of the epoch in its flow label, none loaded: dropped\n"
			 "CONTROL (--ctl, or offline DIR/control)\n"
			 "    pools EPOCH FILE   load (or replace) an epoch's pool; refused: nothing changes\n"
			 "    retire EPOCH       drop an epoch's pool       epochs   list them\n"
			 "COUNTERS\n"
			 "    translated_out translated_in new_mappings no_mapping untranslatable\n"
			 "    flow_table_full ports_exhausted unknown_epoch pool_addresses (the newest epoch's),\n"
			 "    ip_frames non_ip malformed, and libe2nf's\n",
		.opts = nat_opts,
		.opt = nat_opt,
		.setup = nat_setup,
		.pkt = nat_pkt,
		.prefetch = nat_prefetch,
		.prefetch2 = nat_prefetch2,
		.counters = nat_counters,
		.epochs = &n.epochs,
		.fini = nat_fini,
		.ports = 2,
		.st = &n,
	};
	return mb_nf_main(&m, argc, argv);
}
