/* SPDX-License-Identifier: BSD-3-Clause */
/* e2nf-meter: a traffic meter and rate limiter as a native NF, on DPDK's rte_meter
 * (srTCM, RFC 2697; trTCM, RFC 2698, colour-blind). Frames go port 0 -> 1 and 1 -> 0;
 * each IPv4 frame is put in the first class whose 5-tuple prefixes and port ranges it
 * matches, metered by the class's meter (one for the class, or one per flow found by
 * rte_hash), coloured, and treated as the class says for that colour: passed, dropped,
 * its DSCP rewritten, or tagged with a metadata attribute. The meters run on the NF's
 * clock (e2nf_now_ns), so offline runs meter on the capture's time. */
#include <getopt.h>
#include <netinet/in.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <rte_cycles.h>
#include <rte_ether.h>
#include <rte_hash.h>
#include <rte_ip.h>
#include <rte_jhash.h>
#include <rte_mbuf.h>
#include <rte_meter.h>

#include "e2/csum.h"
#include "e2/file.h"
#include "e2/nf.h"
#include "meter_conf.h"

static const char *const color_names[N_COLORS] = {"green", "yellow", "red"};

struct flow_key {
	uint32_t src, dst;
	uint16_t sport, dport;
	uint8_t proto;
	uint8_t pad[3];
};

union meter_state {
	struct rte_meter_srtcm sr;
	struct rte_meter_trtcm tr;
};

struct flow_slot {
	union meter_state meter;
	struct flow_key key;
	uint64_t last_ns; /* 0: free */
};

struct class_state {
	const struct meter_class *conf;
	union {
		struct rte_meter_srtcm_profile sr;
		struct rte_meter_trtcm_profile tr;
	} profile;
	union meter_state shared; /* the class's meter; per flow, the meter of flows the table cannot hold */
	struct rte_hash *flows;
	struct flow_slot *slots; /* by the flow's position in the hash */
	uint32_t n_slots;
	uint64_t packets[N_COLORS], bytes[N_COLORS], dropped, untaggable, flow_table_full, flows_expired;
};

struct meter {
	struct meter_conf conf;
	struct class_state cls[METER_CLASSES_MAX];
	double tsc_per_ns;
	bool started;
	uint64_t unclassified_passed, unclassified_dropped, malformed;
};

static void meter_start(union meter_state *m, const struct class_state *k, uint64_t now)
{
	/* rte_meter's own start time is the TSC; the meters here run on the NF's clock */
	if (k->conf->kind == METER_SRTCM) {
		rte_meter_srtcm_config(&m->sr, (struct rte_meter_srtcm_profile *)&k->profile.sr);
		m->sr.time = now;
	} else {
		rte_meter_trtcm_config(&m->tr, (struct rte_meter_trtcm_profile *)&k->profile.tr);
		m->tr.time_tc = m->tr.time_tp = now;
	}
}

static int color_of(union meter_state *m, const struct class_state *k, uint64_t now, uint32_t len)
{
	if (k->conf->kind == METER_SRTCM)
		return (int)rte_meter_srtcm_color_blind_check(&m->sr, (struct rte_meter_srtcm_profile *)&k->profile.sr,
							      now, len);
	return (int)rte_meter_trtcm_color_blind_check(&m->tr, (struct rte_meter_trtcm_profile *)&k->profile.tr, now,
						      len);
}

/* The class of a frame, or -1; fills the flow key. 0 not IPv4, -2 malformed. */
static int classify(const struct meter *mt, struct rte_mbuf *m, struct rte_ipv4_hdr **ipp, struct flow_key *fk)
{
	int off = e2nf_inner_offset(m);
	if (off < 0 || m->nb_segs != 1 || (uint32_t)off + RTE_ETHER_HDR_LEN > m->data_len)
		return -2;
	uint8_t *d = rte_pktmbuf_mtod_offset(m, uint8_t *, off);
	if (((struct rte_ether_hdr *)d)->ether_type != rte_cpu_to_be_16(RTE_ETHER_TYPE_IPV4))
		return -1;
	if ((uint32_t)off + RTE_ETHER_HDR_LEN + 20 > m->data_len)
		return -2;
	struct rte_ipv4_hdr *ip = (struct rte_ipv4_hdr *)(d + RTE_ETHER_HDR_LEN);
	unsigned ihl = (ip->version_ihl & 0xfu) * 4;
	if (ihl < 20 || (uint32_t)off + RTE_ETHER_HDR_LEN + ihl > m->data_len)
		return -2;
	*ipp = ip;
	*fk = (struct flow_key){.src = ip->src_addr, .dst = ip->dst_addr, .proto = ip->next_proto_id};
	bool first_fragment = !(rte_be_to_cpu_16(ip->fragment_offset) & RTE_IPV4_HDR_OFFSET_MASK);
	if (first_fragment && (ip->next_proto_id == IPPROTO_TCP || ip->next_proto_id == IPPROTO_UDP) &&
	    (uint32_t)off + RTE_ETHER_HDR_LEN + ihl + 4 <= m->data_len) {
		const uint8_t *l4 = (const uint8_t *)ip + ihl;
		fk->sport = (uint16_t)(l4[0] << 8 | l4[1]);
		fk->dport = (uint16_t)(l4[2] << 8 | l4[3]);
	}
	for (unsigned i = 0; i < mt->conf.n; i++)
		if (meter_class_matches(&mt->conf.cls[i], fk->proto, fk->src, fk->dst, fk->sport, fk->dport))
			return (int)i;
	return -1;
}

static void set_dscp(struct rte_ipv4_hdr *ip, uint8_t dscp)
{
	uint16_t old = rte_cpu_to_be_16((uint16_t)(ip->version_ihl << 8 | ip->type_of_service));
	uint8_t tos = (uint8_t)(dscp << 2 | (ip->type_of_service & 3)); /* ECN bits stay */
	uint16_t new = rte_cpu_to_be_16((uint16_t)(ip->version_ihl << 8 | tos));
	uint16_t sum = ip->hdr_checksum;
	e2_csum_replace16(&sum, old, new);
	ip->hdr_checksum = sum;
	ip->type_of_service = tos;
}

static void meter_rx(struct e2nf *nf, void *state, unsigned port, struct rte_mbuf **pkts, unsigned n)
{
	struct meter *mt = state;
	uint64_t now_ns = e2nf_now_ns(nf);
	uint64_t now = (uint64_t)((double)now_ns * mt->tsc_per_ns);
	unsigned out = (port + 1) % e2nf_n_ports(nf);

	if (!mt->started) {
		for (unsigned i = 0; i < mt->conf.n; i++)
			meter_start(&mt->cls[i].shared, &mt->cls[i], now);
		mt->started = true;
	}
	for (unsigned i = 0; i < n; i++) {
		struct rte_mbuf *m = pkts[i];
		struct rte_ipv4_hdr *ip = NULL;
		struct flow_key fk;
		int c = classify(mt, m, &ip, &fk);
		if (c < 0) {
			if (c == -2) {
				mt->malformed++;
				e2nf_drop(nf, m);
			} else if (mt->conf.default_pass) {
				mt->unclassified_passed++;
				e2nf_send(nf, out, m);
			} else {
				mt->unclassified_dropped++;
				e2nf_drop(nf, m);
			}
			continue;
		}
		struct class_state *k = &mt->cls[c];
		union meter_state *ms = &k->shared;
		if (k->flows) {
			int pos = rte_hash_lookup(k->flows, &fk);
			if (pos < 0) {
				pos = rte_hash_add_key(k->flows, &fk);
				if (pos >= (int)k->n_slots) {
					rte_hash_del_key(k->flows, &fk);
					pos = -1;
				}
				if (pos >= 0) {
					meter_start(&k->slots[pos].meter, k, now);
					k->slots[pos].key = fk;
				} else {
					k->flow_table_full++;
				}
			}
			if (pos >= 0 && pos < (int)k->n_slots) {
				ms = &k->slots[pos].meter;
				k->slots[pos].last_ns = now_ns | 1; /* never 0, which means free */
			}
		}
		uint32_t len = (uint32_t)(m->pkt_len - (uint32_t)e2nf_inner_offset(m));
		int col = color_of(ms, k, now, len);
		const struct meter_action *a = &k->conf->act[col];
		k->packets[col]++;
		k->bytes[col] += len;
		switch (a->kind) {
		case ACT_DROP:
			k->dropped++;
			e2nf_drop(nf, m);
			continue;
		case ACT_DSCP: set_dscp(ip, a->dscp); break;
		case ACT_TAG:
			if (e2nf_meta_set(m, &a->attr, a->value, a->value_len))
				k->untaggable++;
			break;
		case ACT_PASS: break;
		}
		e2nf_send(nf, out, m);
	}
}

/* Frees the meters of flows idle longer than their class's idle=. */
static void meter_timer(struct e2nf *nf, void *state, uint64_t now_ns)
{
	struct meter *mt = state;
	(void)nf;
	for (unsigned i = 0; i < mt->conf.n; i++) {
		struct class_state *k = &mt->cls[i];
		uint64_t idle = (uint64_t)(k->conf->idle_s * 1e9);
		for (uint32_t pos = 0; k->flows && pos < k->n_slots; pos++) {
			struct flow_slot *f = &k->slots[pos];
			if (!f->last_ns || now_ns - f->last_ns <= idle)
				continue;
			rte_hash_del_key(k->flows, &f->key);
			f->last_ns = 0;
			k->flows_expired++;
		}
	}
}

static void meter_counters(struct e2nf *nf, void *state, char *buf, size_t len)
{
	const struct meter *mt = state;
	size_t off = 0;
	(void)nf;
#define PUT(...)                                                                    \
	do {                                                                        \
		if (off < len)                                                      \
			off += (size_t)snprintf(buf + off, len - off, __VA_ARGS__); \
	} while (0)
	PUT("unclassified_passed=%llu\nunclassified_dropped=%llu\nmalformed=%llu\n",
	    (unsigned long long)mt->unclassified_passed, (unsigned long long)mt->unclassified_dropped,
	    (unsigned long long)mt->malformed);
	for (unsigned i = 0; i < mt->conf.n; i++) {
		const struct class_state *k = &mt->cls[i];
		const char *name = k->conf->name;
		for (int col = 0; col < N_COLORS; col++)
			PUT("class_%s_%s_packets=%llu\nclass_%s_%s_bytes=%llu\n", name, color_names[col],
			    (unsigned long long)k->packets[col], name, color_names[col],
			    (unsigned long long)k->bytes[col]);
		PUT("class_%s_dropped=%llu\nclass_%s_untaggable=%llu\n", name, (unsigned long long)k->dropped, name,
		    (unsigned long long)k->untaggable);
		if (k->flows)
			PUT("class_%s_flows=%d\nclass_%s_flow_table_full=%llu\nclass_%s_flows_expired=%llu\n", name,
			    rte_hash_count(k->flows), name, (unsigned long long)k->flow_table_full, name,
			    (unsigned long long)k->flows_expired);
	}
#undef PUT
}

/* Profiles and flow tables, once DPDK runs (the profiles need its TSC rate). */
static int meter_setup(struct meter *mt, struct e2nf *nf, struct e2_err *err)
{
	uint64_t hz = rte_get_tsc_hz();
	mt->tsc_per_ns = (double)hz / 1e9;
	for (unsigned i = 0; i < mt->conf.n; i++) {
		struct class_state *k = &mt->cls[i];
		const struct meter_class *c = &mt->conf.cls[i];
		int r;
		k->conf = c;
		if (c->kind == METER_SRTCM) {
			struct rte_meter_srtcm_params p = {.cir = c->cir / 8, .cbs = c->cbs, .ebs = c->ebs_pbs};
			r = rte_meter_srtcm_profile_config(&k->profile.sr, &p);
		} else {
			struct rte_meter_trtcm_params p = {
				.cir = c->cir / 8, .pir = c->pir / 8, .cbs = c->cbs, .pbs = c->ebs_pbs};
			r = rte_meter_trtcm_profile_config(&k->profile.tr, &p);
		}
		if (r) {
			e2_seterr(err, "class %s (line %u): rte_meter refused its rates and sizes (%d)", c->name,
				  c->line, r);
			return -1;
		}
		if (!c->per_flow)
			continue;
		/* in e2d's shared memory under the NF's name: a crashed instance's table is freed
		 * by the next one of the same name */
		char hname[RTE_HASH_NAMESIZE];
		snprintf(hname, sizeof(hname), "mt%u:%s", i, e2nf_name(nf));
		struct rte_hash *old = rte_hash_find_existing(hname);
		if (old)
			rte_hash_free(old);
		struct rte_hash_parameters hp = {.name = hname,
						 .entries = c->flows,
						 .key_len = sizeof(struct flow_key),
						 .hash_func = rte_jhash,
						 .socket_id = SOCKET_ID_ANY};
		k->flows = rte_hash_create(&hp);
		k->n_slots = c->flows;
		k->slots = calloc(c->flows, sizeof(*k->slots));
		if (!k->flows || !k->slots) {
			e2_seterr(err, "class %s: no memory for a table of %u flows", c->name, c->flows);
			return -1;
		}
	}
	return 0;
}

static void meter_teardown(struct meter *mt)
{
	for (unsigned i = 0; i < mt->conf.n; i++) {
		if (mt->cls[i].flows)
			rte_hash_free(mt->cls[i].flows);
		free(mt->cls[i].slots);
	}
}

static void usage(FILE *f)
{
	fprintf(f,
		"NAME\n"
		"    e2nf-meter - a traffic meter and rate limiter (srTCM, trTCM), a native E2 NF\n"
		"SYNOPSIS\n"
		"    e2nf-meter --config FILE --port SOCK --port SOCK [options]\n"
		"    e2nf-meter --config FILE --check\n"
		"DESCRIPTION\n"
		"    Frames go from port 0 to port 1 and back. An IPv4 frame is put in the first class\n"
		"    that matches it, metered (DPDK rte_meter, colour-blind: RFC 2697's single rate or\n"
		"    RFC 2698's two rate three colour marker, on the frame's length from its Ethernet\n"
		"    header), and treated as the class says for its colour. A per-flow class meters each\n"
		"    5-tuple on its own (a table of flows=N; flows it cannot hold share the class's\n"
		"    meter; a flow idle for idle= seconds is forgotten). Other frames follow 'default'.\n"
		"CONFIGURATION (one item per line, # comments; errors say FILE:LINE)\n"
		"    class NAME [proto=tcp|udp|icmp|N] [from=NET/LEN] [to=NET/LEN] [sport=P[-P]]\n"
		"          [dport=P[-P]] meter=srtcm cir=BITS/S cbs=BYTES ebs=BYTES\n"
		"                      | meter=trtcm cir=BITS/S pir=BITS/S cbs=BYTES pbs=BYTES\n"
		"          [per-flow=yes [flows=N (65536)] [idle=SECONDS (60)]] [green=ACTION]\n"
		"          [yellow=ACTION] [red=ACTION]\n"
		"        rates in bits per second (10M, 1.5G), sizes in bytes (16k, 1M)\n"
		"        ACTION: pass, drop, dscp:N (0..63), tag:ATTR:VALUE; defaults green=pass\n"
		"        yellow=pass red=drop\n"
		"    default pass|drop         frames no class matches, and not IPv4 (default pass)\n"
		"OPTIONS\n"
		"    --config FILE       the classes (required)\n"
		"    --check             check the configuration, print it in canonical form, exit\n" E2NF_OPTIONS_HELP
		"    --help              this text\n"
		"COUNTERS (`stats` on --ctl, and at exit)\n"
		"    unclassified_passed unclassified_dropped malformed, and per class\n"
		"    class_NAME_{green,yellow,red}_{packets,bytes} class_NAME_dropped\n"
		"    class_NAME_untaggable (per flow: class_NAME_flows, class_NAME_flow_table_full,\n"
		"    class_NAME_flows_expired), and\n"
		"    libe2nf's (rx_packets, cycles_per_packet, ...)\n");
}

int main(int argc, char **argv)
{
	struct e2nf_config cfg = E2NF_CONFIG_INIT("meter");
	static const struct option own[] = {E2NF_CONF_OPTIONS, {NULL, 0, NULL, 0}};
	struct e2nf_conf_args args = {0};
	struct e2_err err;
	int exit_now = e2nf_args(argc, argv, "e2nf-meter", &cfg, own, e2nf_conf_option, &args, usage);
	if (exit_now >= 0)
		return exit_now;
	if (!args.path) {
		fprintf(stderr, "e2nf-meter: needs --config FILE (see --help)\n");
		return 2;
	}
	const char *conf_path = args.path;
	bool check = args.check;
	static struct meter mt;
	size_t len;
	char *text = e2nf_read_text("e2nf-meter", "configuration", conf_path, 1u << 20, &len);
	if (!text)
		return 2;
	int rc = meter_conf_parse(text, len, conf_path, &mt.conf, &err);
	free(text);
	if (rc != 0) {
		fprintf(stderr, "e2nf-meter: %s\n", err.msg);
		return 2;
	}
	if (check) {
		static char canon[METER_CLASSES_MAX * 512];
		meter_conf_print(&mt.conf, canon, sizeof(canon));
		fputs(canon, stdout);
		return 0;
	}
	if (cfg.n_ports != 2) {
		fprintf(stderr, "e2nf-meter: needs two --port\n");
		return 2;
	}
	cfg.timer_ms = 1000;
	struct e2nf *nf = e2nf_open(&cfg, &err);
	if (!nf) {
		fprintf(stderr, "e2nf-meter: %s\n", err.msg);
		return 1;
	}
	if (meter_setup(&mt, nf, &err)) {
		fprintf(stderr, "e2nf-meter: %s\n", err.msg);
		meter_teardown(&mt);
		e2nf_close(nf);
		return 1;
	}
	const struct e2nf_ops ops = {.rx = meter_rx, .timer = meter_timer, .counters = meter_counters};
	rc = e2nf_run(nf, &ops, &mt);
	static char stats[METER_CLASSES_MAX * 1024];
	e2nf_format_counters(nf, stats, sizeof(stats));
	fputs(stats, stdout);
	fflush(stdout);
	meter_teardown(&mt);
	e2nf_close(nf);
	return rc < 0 ? 1 : 0;
}
