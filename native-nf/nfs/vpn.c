/* SPDX-License-Identifier: BSD-3-Clause */
/* e2nf-vpn: an IPsec ESP tunnel endpoint (RFC 4303 tunnel mode, AES-GCM of RFC 4106) as
 * a native NF. Port 0 is the plaintext side, port 1 the tunnel side. An IPv4 packet from
 * port 0 whose destination an outbound SA's selector covers (longest prefix first) leaves
 * port 1 as outer IPv4 + ESP header + IV + the encrypted inner packet and trailer + ICV,
 * keeping the frame's Ethernet header. An ESP packet from port 1 is matched to an
 * inbound SA by SPI and outer destination, checked against the anti-replay window,
 * authenticated and decrypted, and its inner packet leaves port 0. Anything that does
 * not authenticate, is cut short, replayed or malformed is dropped and counted, never
 * passed on. Keys come from files of mode 0600 and are never printed. */
#include <arpa/inet.h>
#include <getopt.h>
#include <libgen.h>
#include <netinet/in.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <rte_byteorder.h>
#include <rte_ether.h>
#include <rte_ip.h>
#include <rte_mbuf.h>

#include "e2/file.h"
#include "e2/nf.h"
#include "esp.h"
#include "replay.h"
#include "vpn_conf.h"

#define ESP_PROTO 50
#define NH_IPV4 4
#define NH_DUMMY 59 /* RFC 4303 §2.6: a dummy packet, to be dropped silently */
#define OUTER_LEN (20 + ESP_HDR_LEN + ESP_IV_LEN)

struct vpn_sa {
	const struct vpn_sa_conf *conf;
	struct esp_crypto crypto;
	uint32_t seq;                /* out: the last sequence number sent */
	struct replay_window window; /* in */
	uint64_t packets, bytes, auth_failures, replays;
};

struct vpn {
	struct vpn_conf conf;
	struct vpn_sa sa[VPN_SA_MAX];
	struct vpn_sa *out[VPN_SA_MAX], *in[VPN_SA_MAX]; /* out: longest prefix first */
	unsigned n_out, n_in;
	uint64_t encrypted, decrypted, unprotected_passed, unprotected_dropped, non_ip_passed, non_ip_dropped,
		malformed, truncated, no_room, no_sa, wrong_peer, auth_failures, replays, bad_trailer, dummy,
		policy_mismatch, seq_exhausted;
};

/* The IPv4 packet a frame carries: 1 found, 0 not IPv4, -1 malformed. */
static int ipv4_of(struct rte_mbuf *m, unsigned *l2_end, struct rte_ipv4_hdr **ip, unsigned *tot_len)
{
	int off = e2nf_inner_offset(m);
	if (off < 0 || m->nb_segs != 1 || (uint32_t)off + RTE_ETHER_HDR_LEN > m->data_len)
		return -1;
	uint8_t *d = rte_pktmbuf_mtod_offset(m, uint8_t *, off);
	if (((struct rte_ether_hdr *)d)->ether_type != rte_cpu_to_be_16(RTE_ETHER_TYPE_IPV4))
		return 0;
	*l2_end = (unsigned)off + RTE_ETHER_HDR_LEN;
	if (*l2_end + 20 > m->data_len)
		return -1;
	*ip = (struct rte_ipv4_hdr *)(d + RTE_ETHER_HDR_LEN);
	*tot_len = rte_be_to_cpu_16((*ip)->total_length);
	if (((*ip)->version_ihl >> 4) != 4 || ((*ip)->version_ihl & 0xf) < 5 ||
	    *tot_len < ((*ip)->version_ihl & 0xfu) * 4 || *l2_end + *tot_len > m->data_len)
		return -1;
	return 1;
}

static struct vpn_sa *sa_out_for(struct vpn *v, uint32_t dst)
{
	for (unsigned i = 0; i < v->n_out; i++)
		if ((dst & v->out[i]->conf->mask) == v->out[i]->conf->net)
			return v->out[i];
	return NULL;
}

static void encapsulate(struct vpn *v, struct e2nf *nf, struct rte_mbuf *m, struct vpn_sa *sa, unsigned l2_end,
			unsigned inner_len, uint8_t tos)
{
	unsigned pad = (4 - (inner_len + 2) % 4) % 4;
	unsigned ct_len = inner_len + pad + 2;

	if (sa->seq == UINT32_MAX) {
		/* without ESN the counter must not cycle (RFC 4303 §3.3.3): the SA is spent */
		v->seq_exhausted++;
		e2nf_drop(nf, m);
		return;
	}
	/* Ethernet padding of short frames is not part of the inner packet */
	rte_pktmbuf_trim(m, (uint16_t)(m->data_len - (l2_end + inner_len)));
	if (rte_pktmbuf_headroom(m) < OUTER_LEN || rte_pktmbuf_tailroom(m) < pad + 2 + ESP_ICV_LEN) {
		v->no_room++;
		e2nf_drop(nf, m);
		return;
	}
	uint8_t *tail = (uint8_t *)rte_pktmbuf_append(m, (uint16_t)(pad + 2 + ESP_ICV_LEN));
	uint8_t *front = (uint8_t *)rte_pktmbuf_prepend(m, OUTER_LEN);
	memmove(front, front + OUTER_LEN, l2_end);
	for (unsigned i = 0; i < pad; i++)
		tail[i] = (uint8_t)(i + 1); /* RFC 4303 §2.4's default padding */
	tail[pad] = (uint8_t)pad;
	tail[pad + 1] = NH_IPV4;

	uint32_t seq = ++sa->seq;
	struct rte_ipv4_hdr *outer = (struct rte_ipv4_hdr *)(front + l2_end);
	*outer = (struct rte_ipv4_hdr){
		.version_ihl = 0x45,
		.type_of_service = tos, /* the DSCP and ECN travel outside (RFC 4301 §5.1.2.1) */
		.total_length = rte_cpu_to_be_16((uint16_t)(OUTER_LEN + ct_len + ESP_ICV_LEN)),
		.packet_id = rte_cpu_to_be_16((uint16_t)seq),
		.time_to_live = 64,
		.next_proto_id = ESP_PROTO,
		.src_addr = sa->conf->local,
		.dst_addr = sa->conf->peer,
	};
	outer->hdr_checksum = rte_ipv4_cksum(outer);
	uint8_t *esp = (uint8_t *)(outer + 1);
	uint32_t spi_be = rte_cpu_to_be_32(sa->conf->spi), seq_be = rte_cpu_to_be_32(seq);
	uint64_t iv_be = rte_cpu_to_be_64(seq); /* unique per key, as RFC 4106 §3.1 asks */
	memcpy(esp, &spi_be, 4);
	memcpy(esp + 4, &seq_be, 4);
	memcpy(esp + ESP_HDR_LEN, &iv_be, ESP_IV_LEN);
	uint8_t *ct = esp + ESP_HDR_LEN + ESP_IV_LEN;
	if (esp_seal(&sa->crypto, esp, esp + ESP_HDR_LEN, ct, ct_len, ct + ct_len)) {
		v->malformed++;
		e2nf_drop(nf, m);
		return;
	}
	sa->packets++;
	sa->bytes += inner_len;
	v->encrypted++;
	e2nf_send(nf, 1, m);
}

static void outbound(struct vpn *v, struct e2nf *nf, struct rte_mbuf *m)
{
	unsigned l2_end, tot_len;
	struct rte_ipv4_hdr *ip;
	int r = ipv4_of(m, &l2_end, &ip, &tot_len);

	if (r < 0) {
		v->malformed++;
		e2nf_drop(nf, m);
		return;
	}
	if (r == 0) {
		if (v->conf.non_ip_pass) {
			v->non_ip_passed++;
			e2nf_send(nf, 1, m);
		} else {
			v->non_ip_dropped++;
			e2nf_drop(nf, m);
		}
		return;
	}
	struct vpn_sa *sa = sa_out_for(v, ip->dst_addr);
	if (!sa) {
		if (v->conf.unprotected_pass) {
			v->unprotected_passed++;
			e2nf_send(nf, 1, m);
		} else {
			v->unprotected_dropped++;
			e2nf_drop(nf, m);
		}
		return;
	}
	encapsulate(v, nf, m, sa, l2_end, tot_len, ip->type_of_service);
}

static struct vpn_sa *sa_in_for(struct vpn *v, uint32_t spi, uint32_t dst)
{
	for (unsigned i = 0; i < v->n_in; i++)
		if (v->in[i]->conf->spi == spi && v->in[i]->conf->local == dst)
			return v->in[i];
	return NULL;
}

/* 0: m now holds the inner packet; otherwise the counter to blame */
static uint64_t *decapsulate(struct vpn *v, struct rte_mbuf *m, unsigned l2_end, struct rte_ipv4_hdr *ip,
			     unsigned tot_len)
{
	unsigned ihl = (ip->version_ihl & 0xfu) * 4;
	uint8_t *esp = (uint8_t *)ip + ihl;
	uint32_t spi_be, seq_be;

	if (rte_be_to_cpu_16(ip->fragment_offset) & (RTE_IPV4_HDR_OFFSET_MASK | RTE_IPV4_HDR_MF_FLAG))
		return &v->malformed; /* outer fragments are not reassembled here */
	/* the ciphertext holds at least the trailer and is 4-byte aligned (RFC 4303 §2.4) */
	if (tot_len < ihl + ESP_HDR_LEN + ESP_IV_LEN + 4 + ESP_ICV_LEN ||
	    (tot_len - ihl - ESP_HDR_LEN - ESP_IV_LEN - ESP_ICV_LEN) % 4)
		return &v->truncated;
	memcpy(&spi_be, esp, 4);
	memcpy(&seq_be, esp + 4, 4);
	struct vpn_sa *sa = sa_in_for(v, rte_be_to_cpu_32(spi_be), ip->dst_addr);
	if (!sa)
		return &v->no_sa;
	if (ip->src_addr != sa->conf->peer)
		return &v->wrong_peer;
	uint32_t seq = rte_be_to_cpu_32(seq_be);
	if (replay_check(&sa->window, seq) != REPLAY_NEW) {
		sa->replays++;
		return &v->replays;
	}
	unsigned ct_len = tot_len - ihl - ESP_HDR_LEN - ESP_IV_LEN - ESP_ICV_LEN;
	uint8_t *ct = esp + ESP_HDR_LEN + ESP_IV_LEN;
	if (esp_open(&sa->crypto, esp, esp + ESP_HDR_LEN, ct, ct_len, ct + ct_len)) {
		sa->auth_failures++;
		return &v->auth_failures;
	}
	replay_update(&sa->window, seq);
	unsigned nh = ct[ct_len - 1], pad = ct[ct_len - 2];
	if (nh == NH_DUMMY)
		return &v->dummy;
	if (nh != NH_IPV4 || pad + 2 > ct_len)
		return &v->bad_trailer;
	for (unsigned i = 0; i < pad; i++)
		if (ct[ct_len - 2 - pad + i] != i + 1)
			return &v->bad_trailer;
	unsigned inner_len = ct_len - 2 - pad;
	const struct rte_ipv4_hdr *inner = (const struct rte_ipv4_hdr *)ct;
	if (inner_len < 20 || (inner->version_ihl >> 4) != 4 || rte_be_to_cpu_16(inner->total_length) != inner_len)
		return &v->bad_trailer;
	if ((inner->src_addr & sa->conf->mask) != sa->conf->net)
		return &v->policy_mismatch; /* RFC 4301 §5.2: the SA's selector must cover it */
	sa->packets++;
	sa->bytes += inner_len;
	uint8_t *front = rte_pktmbuf_mtod(m, uint8_t *);
	memmove(front + ihl + ESP_HDR_LEN + ESP_IV_LEN, front, l2_end);
	rte_pktmbuf_adj(m, (uint16_t)(ihl + ESP_HDR_LEN + ESP_IV_LEN));
	rte_pktmbuf_trim(m, (uint16_t)(m->data_len - (l2_end + inner_len)));
	return NULL;
}

static void inbound(struct vpn *v, struct e2nf *nf, struct rte_mbuf *m)
{
	unsigned l2_end, tot_len;
	struct rte_ipv4_hdr *ip;
	int r = ipv4_of(m, &l2_end, &ip, &tot_len);
	uint64_t *why;

	if (r < 0) {
		why = &v->malformed;
	} else if (r == 0) {
		if (v->conf.non_ip_pass) {
			v->non_ip_passed++;
			e2nf_send(nf, 0, m);
			return;
		}
		why = &v->non_ip_dropped;
	} else if (ip->next_proto_id != ESP_PROTO) {
		if (v->conf.unprotected_pass) {
			v->unprotected_passed++;
			e2nf_send(nf, 0, m);
			return;
		}
		why = &v->unprotected_dropped;
	} else {
		why = decapsulate(v, m, l2_end, ip, tot_len);
		if (!why) {
			v->decrypted++;
			e2nf_send(nf, 0, m);
			return;
		}
	}
	(*why)++;
	e2nf_drop(nf, m);
}

static void vpn_rx(struct e2nf *nf, void *state, unsigned port, struct rte_mbuf **pkts, unsigned n)
{
	struct vpn *v = state;
	for (unsigned i = 0; i < n; i++) {
		if (port == 0)
			outbound(v, nf, pkts[i]);
		else
			inbound(v, nf, pkts[i]);
	}
}

static void vpn_counters(struct e2nf *nf, void *state, char *buf, size_t len)
{
	const struct vpn *v = state;
	size_t off = 0;
	(void)nf;
#define PUT(...)                                                                    \
	do {                                                                        \
		if (off < len)                                                      \
			off += (size_t)snprintf(buf + off, len - off, __VA_ARGS__); \
	} while (0)
#define C(name) PUT(#name "=%llu\n", (unsigned long long)v->name)
	C(encrypted);
	C(decrypted);
	C(unprotected_passed);
	C(unprotected_dropped);
	C(non_ip_passed);
	C(non_ip_dropped);
	C(malformed);
	C(truncated);
	C(no_room);
	C(no_sa);
	C(wrong_peer);
	C(auth_failures);
	C(replays);
	C(bad_trailer);
	C(dummy);
	C(policy_mismatch);
	C(seq_exhausted);
#undef C
	for (unsigned i = 0; i < v->conf.n_sa; i++) {
		const struct vpn_sa *sa = &v->sa[i];
		const char *d = sa->conf->dir == VPN_OUT ? "out" : "in";
		unsigned long long seq = sa->conf->dir == VPN_OUT ? sa->seq : sa->window.top;
		PUT("sa_%s_%u_packets=%llu\nsa_%s_%u_bytes=%llu\nsa_%s_%u_auth_failures=%llu\n"
		    "sa_%s_%u_replays=%llu\nsa_%s_%u_seq=%llu\n",
		    d, sa->conf->spi, (unsigned long long)sa->packets, d, sa->conf->spi, (unsigned long long)sa->bytes,
		    d, sa->conf->spi, (unsigned long long)sa->auth_failures, d, sa->conf->spi,
		    (unsigned long long)sa->replays, d, sa->conf->spi, seq);
	}
#undef PUT
}

static int by_prefix_desc(const void *a, const void *b)
{
	const struct vpn_sa *x = *(struct vpn_sa *const *)a, *y = *(struct vpn_sa *const *)b;
	return (int)y->conf->prefix_len - (int)x->conf->prefix_len;
}

/* Reads the configuration and every key; fills v (crypto contexts keyed). */
static int vpn_setup(struct vpn *v, const char *path, struct e2_err *err)
{
	size_t len;
	char *text = e2_read_file(path, 1u << 20, &len, err);
	char dirbuf[4096];

	if (!text)
		return -1;
	snprintf(dirbuf, sizeof(dirbuf), "%s", path);
	int r = vpn_conf_parse(text, len, path, dirname(dirbuf), &v->conf, err);
	free(text);
	if (r)
		return -1;
	for (unsigned i = 0; i < v->conf.n_sa; i++) {
		const struct vpn_sa_conf *c = &v->conf.sa[i];
		struct vpn_sa *sa = &v->sa[i];
		uint8_t key[VPN_KEY_MAX], salt[VPN_SALT_LEN];
		int key_len = vpn_load_key(c->key_path, key, salt, err);
		if (key_len > 0 && esp_crypto_init(&sa->crypto, c->dir == VPN_OUT, key, key_len, salt, err))
			key_len = -1;
		memset(key, 0, sizeof(key));
		__asm__ __volatile__("" : : "r"(key) : "memory");
		if (key_len < 0) {
			e2_err_context(err, "%s:%u", path, c->line);
			return -1;
		}
		sa->conf = c;
		replay_init(&sa->window, c->window);
		if (c->dir == VPN_OUT)
			v->out[v->n_out++] = sa;
		else
			v->in[v->n_in++] = sa;
	}
	qsort(v->out, v->n_out, sizeof(v->out[0]), by_prefix_desc);
	return 0;
}

static void vpn_teardown(struct vpn *v)
{
	for (unsigned i = 0; i < v->conf.n_sa; i++)
		esp_crypto_fini(&v->sa[i].crypto);
}

static void usage(FILE *out)
{
	fprintf(out, "NAME\n"
		     "    e2nf-vpn - an IPsec ESP tunnel endpoint (AES-GCM), a native E2 NF\n"
		     "SYNOPSIS\n"
		     "    e2nf-vpn --config FILE --port PLAIN_SOCK --port TUNNEL_SOCK [options]\n"
		     "    e2nf-vpn --config FILE --check\n"
		     "DESCRIPTION\n"
		     "    RFC 4303 tunnel mode with AES-GCM-128/256 (RFC 4106). Port 0 is the plaintext side,\n"
		     "    port 1 the tunnel side. IPv4 from port 0 that an outbound SA covers leaves port 1\n"
		     "    encrypted in a new outer IPv4 packet (local -> peer, ESP); ESP from port 1 is matched\n"
		     "    to an inbound SA by SPI and outer destination, checked against its anti-replay\n"
		     "    window, authenticated, decrypted, and its inner packet leaves port 0. Tampered, cut\n"
		     "    short, replayed or otherwise bad packets are dropped and counted, never passed.\n"
		     "CONFIGURATION (one item per line, # comments; errors say FILE:LINE)\n"
		     "    sa out spi=N peer=ADDR local=ADDR dst=NET/LEN key=@FILE\n"
		     "        IPv4 to an address in NET/LEN (the longest matching dst wins) is sent through\n"
		     "        this SA (SPI 256..2^32-1)\n"
		     "    sa in spi=N peer=ADDR local=ADDR [src=NET/LEN] [window=N] key=@FILE\n"
		     "        ESP from peer to local with this SPI; the inner source must be in src= (default\n"
		     "        any); anti-replay window of N packets, 1..1024 (default 64)\n"
		     "    unprotected drop|pass   IPv4 that no SA covers, either way (default drop)\n"
		     "    non-ip pass|drop        frames other than IPv4, such as ARP (default pass)\n"
		     "KEY FILES\n"
		     "    40 or 72 hex digits (an AES-128 or AES-256 key, then the 4-byte salt), relative to\n"
		     "    the configuration's directory; a regular file only its owner can read (0600 or\n"
		     "    0400), refused otherwise. Keys are never printed or logged.\n"
		     "OPTIONS\n"
		     "    --config FILE       the SAs (required)\n"
		     "    --check             read the configuration and its keys, say whether they are usable,\n"
		     "                        and exit\n" E2NF_OPTIONS_HELP "    --help              this text\n"
		     "COUNTERS (`stats` on --ctl, and at exit)\n"
		     "    encrypted decrypted unprotected_passed unprotected_dropped non_ip_passed\n"
		     "    non_ip_dropped malformed truncated no_room no_sa wrong_peer auth_failures replays\n"
		     "    bad_trailer dummy policy_mismatch seq_exhausted; per SA sa_DIR_SPI_packets, _bytes\n"
		     "    (inner), _auth_failures, _replays, _seq (out: last sent; in: highest accepted); and\n"
		     "    libe2nf's (rx_packets, cycles_per_packet, ...)\n");
}

int main(int argc, char **argv)
{
	struct e2nf_config cfg = E2NF_CONFIG_INIT("vpn");
	static const struct option own[] = {E2NF_CONF_OPTIONS, {NULL, 0, NULL, 0}};
	struct e2nf_conf_args args = {0};
	struct e2_err err;
	int exit_now = e2nf_args(argc, argv, "e2nf-vpn", &cfg, own, e2nf_conf_option, &args, usage);
	if (exit_now >= 0)
		return exit_now;
	const char *config = args.path;
	bool check = args.check;
	if (!config || (!check && cfg.n_ports != 2)) {
		fprintf(stderr, "e2nf-vpn: %s (see --help)\n",
			!config ? "needs --config FILE" : "needs two ports (--port SOCK twice: plaintext, tunnel)");
		return 2;
	}
	struct vpn *v = calloc(1, sizeof(*v));
	if (!v) {
		fprintf(stderr, "e2nf-vpn: out of memory\n");
		return 1;
	}
	if (vpn_setup(v, config, &err)) {
		fprintf(stderr, "e2nf-vpn: %s\n", err.msg);
		vpn_teardown(v);
		free(v);
		return 2;
	}
	if (check) {
		printf("%s: ok: %u outbound and %u inbound SAs\n", config, v->n_out, v->n_in);
		vpn_teardown(v);
		free(v);
		return 0;
	}
	struct e2nf *nf = e2nf_open(&cfg, &err);
	if (!nf) {
		fprintf(stderr, "e2nf-vpn: %s\n", err.msg);
		vpn_teardown(v);
		free(v);
		return 1;
	}
	const struct e2nf_ops ops = {.rx = vpn_rx, .counters = vpn_counters};
	int rc = e2nf_run(nf, &ops, v);
	char stats[16384];
	e2nf_format_counters(nf, stats, sizeof(stats));
	fputs(stats, stdout);
	fflush(stdout);
	e2nf_close(nf);
	vpn_teardown(v);
	free(v);
	return rc < 0 ? 1 : 0;
}
