/* SPDX-License-Identifier: BSD-3-Clause */
/* embark-gw: the Embark gateway as a DPDK process. Two ports: the enterprise side
 * (plain IPv4 in and out) and the cloud side (Embark IPv6). One packet worker (the main
 * lcore) runs both directions through gwcore; a control thread serves the control socket
 * (e2chan REP) and builds new epochs; the extension channel (e2chan PUB) carries
 * KeywordMatch tokens and encrypted URIs. See README.md "embark-gw". */
#include <errno.h>
#include <inttypes.h>
#include <pthread.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/prctl.h>
#include <sys/resource.h>
#include <time.h>
#include <unistd.h>

#include <rte_dev.h>
#include <rte_eal.h>
#include <rte_errno.h>
#include <rte_ethdev.h>
#include <rte_mbuf.h>
#include <rte_pci.h>

#include <openssl/crypto.h>

#include "e2/bytes.h"
#include "e2/chan.h"
#include "e2/log.h"
#include "e2/num.h"
#include "e2/opts.h"
#include "gwctl.h"

E2_LOG_MODULE(embarkgw);

#define BURST 32
#define MBUFS 4096
#define DATA_ROOM 4096

struct options {
	const char *key, *rules, *pools, *ent, *cloud, *ctl, *ext, *chan_key, *file_prefix, *eal, *ready_file, *name;
	const char *frame_key;
	embark_config cfg;
	struct gwc_config core;
	uint32_t first_epoch;
	uint16_t cloud_mtu;
};

static volatile sig_atomic_t stopping;

static void on_signal(int sig)
{
	(void)sig;
	stopping = 1;
}

static void usage(FILE *f)
{
	fprintf(f, "usage: embark-gw --key KEY --enterprise DEVARGS --cloud DEVARGS [options]\n"
		   "  --key FILE          the gateway's master key (mode 0600; embark-keygen)\n"
		   "  --rules FILE        rules (text format of gateway/README.md); default none\n"
		   "  --pools FILE        NAT / load-balancer pools\n"
		   "  --enterprise DEV    DPDK vdev of the enterprise side, e.g. net_tap0,iface=ent0\n"
		   "  --cloud DEV         DPDK vdev of the cloud side\n"
		   "  --ctl URL           control socket (default ipc:///run/e2/embark-gw.sock)\n"
		   "  --ext URL           extension channel (PUB) for tokens and URIs; none by default\n"
		   "  --chan-key FILE     key of the sealed channels (needed for tcp:// URLs)\n"
		   "  --name NAME         this gateway's name on its channels (default embark-gw): the\n"
		   "                      sender of its records and replies, which a middlebox's replay\n"
		   "                      check keys on, so gateways that publish to one middlebox need\n"
		   "                      distinct names (up to 63 of A-Z a-z 0-9 _ . : -)\n"
		   "  --cloud-mtu N       set the cloud port's MTU (it must carry the enterprise MTU + 68;\n"
		   "                      an answer segment that would not fit as content (+ 116)\n"
		   "                      goes as an ordinary one)\n"
		   "  --header-only       do not encrypt payloads (headers and option only)\n"
		   "  --no-dpi            no KeywordMatch tokens\n"
		   "  --tokens MODE       window (8 bytes at every offset: keywords anywhere; default) or\n"
		   "                      delimiter (only windows at a word's edge: ~40 %% fewer tokens\n"
		   "                      on text, keywords only where they start or end at a delimiter)\n"
		   "  --no-uri            no encrypted URIs\n"
		   "  --content           web-cache content (both gateways of a pair): answers to GETs\n"
		   "                      from servers here leave as content segments, content\n"
		   "                      segments from the cloud are opened\n"
		   "  --cache-lifetime S  lifetime of cacheable answers that do not say (default 0:\n"
		   "                      only answers with max-age or s-maxage are cacheable)\n"
		   "  --web-flows N       connections to servers here followed at once (default 128)\n"
		   "  --frame-key FILE    take the frames of a cloud proxy holding this key (a key of its\n"
		   "                      own, 0600, embark-keygen; never the enterprise's --key)\n"
		   "  --flows N           flow table size (default 65536)\n"
		   "  --dpi-flows N       streams reassembled at once (default 128)\n"
		   "  --idle S            a silent flow is forgotten after S seconds (default 120)\n"
		   "  --drain S           a replaced epoch is retired after S seconds at most (default 30)\n"
		   "  --epoch N           number of the first epoch (default 1)\n"
		   "  --file-prefix P     DPDK file prefix (default embark-gw-PID)\n"
		   "  --eal 'ARGS'        extra DPDK EAL arguments\n"
		   "  --ready-file FILE   created once both ports are up, removed at exit\n"
		   "  --log SPEC          log levels, e.g. info or embarkgw=dbg\n");
}

static int parse_options(int argc, char **argv, struct options *o)
{
	static const struct option longs[] = {
		{"key", required_argument, NULL, 'k'},
		{"rules", required_argument, NULL, 'r'},
		{"pools", required_argument, NULL, 'p'},
		{"enterprise", required_argument, NULL, 'E'},
		{"cloud", required_argument, NULL, 'C'},
		{"ctl", required_argument, NULL, 'c'},
		{"ext", required_argument, NULL, 'x'},
		{"chan-key", required_argument, NULL, 'K'},
		{"header-only", no_argument, NULL, 'H'},
		{"no-dpi", no_argument, NULL, 'D'},
		{"tokens", required_argument, NULL, 'T'},
		{"no-uri", no_argument, NULL, 'U'},
		{"content", no_argument, NULL, 'W'},
		{"cache-lifetime", required_argument, NULL, 'Y'},
		{"web-flows", required_argument, NULL, 'w'},
		{"frame-key", required_argument, NULL, 'G'},
		{"flows", required_argument, NULL, 'f'},
		{"dpi-flows", required_argument, NULL, 'F'},
		{"idle", required_argument, NULL, 'i'},
		{"drain", required_argument, NULL, 'd'},
		{"epoch", required_argument, NULL, 'e'},
		{"file-prefix", required_argument, NULL, 'P'},
		{"eal", required_argument, NULL, 'L'},
		{"ready-file", required_argument, NULL, 'R'},
		{"log", required_argument, NULL, 'l'},
		{"cloud-mtu", required_argument, NULL, 'M'},
		{"name", required_argument, NULL, 'N'},
		{"help", no_argument, NULL, 'h'},
		{NULL, 0, NULL, 0},
	};
	struct e2_err err = {0};
	uint64_t v;
	double s;
	int ch;
	embark_config_default(&o->cfg);
	gwc_config_default(&o->core);
	o->ctl = "ipc:///run/e2/embark-gw.sock";
	o->name = "embark-gw";
	o->first_epoch = 1;
	while ((ch = e2_opt_next(argc, argv, "", longs, &err)) != -1) {
		switch (ch) {
		case 'k': o->key = optarg; break;
		case 'r': o->rules = optarg; break;
		case 'p': o->pools = optarg; break;
		case 'E': o->ent = optarg; break;
		case 'C': o->cloud = optarg; break;
		case 'c': o->ctl = optarg; break;
		case 'x': o->ext = optarg; break;
		case 'K': o->chan_key = optarg; break;
		case 'N':
			if (e2_chan_sender_check(optarg, &err) != 0) {
				e2_err_context(&err, "--name");
				goto bad;
			}
			o->name = optarg;
			break;
		case 'H': o->cfg.encrypt_payload = false; break;
		case 'D': o->core.dpi = false; break;
		case 'U': o->core.uri = false; break;
		case 'W': o->core.content = true; break;
		case 'G': o->frame_key = optarg; break;
		case 'Y':
			if (e2_num_u64("--cache-lifetime", optarg, 0, UINT32_MAX, &v, &err))
				goto bad;
			o->core.content_lifetime_s = (uint32_t)v;
			break;
		case 'w':
			if (e2_num_u64("--web-flows", optarg, 0, 1u << 20, &v, &err))
				goto bad;
			o->core.web_flows = (size_t)v;
			break;
		case 'T':
			if ((o->core.km_mode = embark_tokens_mode(optarg)) < 0) {
				e2_seterr(&err, "--tokens=%s: neither window nor delimiter", optarg);
				goto bad;
			}
			break;
		case 'f':
			if (e2_num_u64("--flows", optarg, 64, 1u << 26, &v, &err))
				goto bad;
			o->core.flows = (size_t)v;
			break;
		case 'F':
			if (e2_num_u64("--dpi-flows", optarg, 0, 1u << 20, &v, &err))
				goto bad;
			o->core.dpi_flows = (size_t)v;
			break;
		case 'i':
			if (e2_num_double("--idle", optarg, 0.1, 86400, &s, &err))
				goto bad;
			o->core.idle_ns = (uint64_t)(s * 1e9);
			break;
		case 'd':
			if (e2_num_double("--drain", optarg, 0.01, 86400, &s, &err))
				goto bad;
			o->core.drain_ns = (uint64_t)(s * 1e9);
			break;
		case 'e':
			if (e2_num_u64("--epoch", optarg, 1, UINT32_MAX / 2, &v, &err))
				goto bad;
			o->first_epoch = (uint32_t)v;
			break;
		case 'M':
			if (e2_num_u64("--cloud-mtu", optarg, 576, DATA_ROOM - 18, &v, &err))
				goto bad;
			o->cloud_mtu = (uint16_t)v;
			break;
		case 'P': o->file_prefix = optarg; break;
		case 'L': o->eal = optarg; break;
		case 'R': o->ready_file = optarg; break;
		case 'l':
			if (e2_log_set(optarg, &err))
				goto bad;
			break;
		case 'h': usage(stdout); exit(0);
		case E2_OPT_BAD: goto bad;
		default: e2_seterr(&err, "option %d is not handled (a bug)", ch); goto bad;
		}
	}
	if (optind != argc)
		e2_seterr(&err, "unexpected argument '%s': everything is given by an option", argv[optind]);
	else if (!o->key)
		e2_seterr(&err, "--key FILE is required (embark-keygen makes one)");
	else if (!o->ent || !o->cloud)
		e2_seterr(&err, "--%s DEVARGS is required (a DPDK vdev or a PCI address)",
			  o->ent ? "cloud" : "enterprise");
	else
		return 0;
bad:
	fprintf(stderr, "embark-gw: %s\n", err.msg);
	return -1;
}

/* A NIC of its own (in a VM: a virtio-net function bound to uio_pci_generic) is named by
 * its full PCI address, DDDD:BB:DD.F; anything else is a virtual device. */
/* A port named by a PCI address (with or without devargs after a comma) is a NIC the
 * gateway drives as the DPDK primary; anything else is a vdev. DPDK's own parser decides,
 * so the gateway accepts exactly the addresses `-a` does. */
static bool is_pci_address(const char *devargs)
{
	char name[RTE_DEV_NAME_MAX_LEN];
	struct rte_pci_addr addr;
	size_t len = strcspn(devargs, ",");
	if (len >= sizeof name)
		return false;
	memcpy(name, devargs, len);
	name[len] = '\0';
	return rte_pci_addr_parse(name, &addr) == 0;
}

static int start_eal(const struct options *o, const char *argv0)
{
	static char prefix[64], mem[16], extra[1024], allow[2][128];
	char *args[64];
	int n = 0;
	bool pci = is_pci_address(o->ent) || is_pci_address(o->cloud);
	snprintf(prefix, sizeof prefix, "%s", o->file_prefix ? o->file_prefix : "");
	if (!o->file_prefix)
		snprintf(prefix, sizeof prefix, "embark-gw-%d", (int)getpid());
	snprintf(mem, sizeof mem, "%d", 64);
	args[n++] = (char *)argv0;
	args[n++] = "--no-telemetry";
	if (pci) {
		/* uio gives the NIC physical addresses: DMA memory must be hugepages. Only the
		 * gateway's own NICs are probed. */
		const char *devs[2] = {o->ent, o->cloud};
		for (int i = 0; i < 2; i++) {
			if (!is_pci_address(devs[i]))
				continue;
			snprintf(allow[i], sizeof allow[i], "%s", devs[i]);
			args[n++] = "-a";
			args[n++] = allow[i];
		}
	} else {
		args[n++] = "--no-pci";
		args[n++] = "--no-huge";
		args[n++] = "-m";
		args[n++] = mem;
	}
	args[n++] = "--file-prefix";
	args[n++] = prefix;
	args[n++] = "--log-level";
	args[n++] = "error";
	if (o->eal) {
		snprintf(extra, sizeof extra, "%s", o->eal);
		for (char *s = NULL, *t = strtok_r(extra, " ", &s); t && n < 62; t = strtok_r(NULL, " ", &s))
			args[n++] = t;
	}
	args[n] = NULL;
	if (rte_eal_init(n, args) < 0) {
		fprintf(stderr, "embark-gw: cannot start DPDK: %s\n", rte_strerror(rte_errno));
		return -1;
	}
	return 0;
}

static int open_port(const char *devargs, struct rte_mempool *pool, uint16_t *port, uint16_t mtu)
{
	char name[128];
	snprintf(name, sizeof name, "%.*s", (int)strcspn(devargs, ","), devargs);
	/* the EAL probed the allow-listed PCI NICs at start */
	int rc = is_pci_address(devargs) ? 0 : rte_dev_probe(devargs);
	if (rc != 0 || rte_eth_dev_get_port_by_name(name, port) != 0) {
		E2_ERR("cannot create device '%s': %s", devargs, rte_strerror(rc ? -rc : ENODEV));
		return -1;
	}
	struct rte_eth_conf conf = {0};
	uint16_t nrx = 512, ntx = 512;
	if ((rc = rte_eth_dev_configure(*port, 1, 1, &conf)) != 0 ||
	    (rc = rte_eth_dev_adjust_nb_rx_tx_desc(*port, &nrx, &ntx)) != 0 ||
	    (rc = rte_eth_rx_queue_setup(*port, 0, nrx, rte_eth_dev_socket_id(*port), NULL, pool)) != 0 ||
	    (rc = rte_eth_tx_queue_setup(*port, 0, ntx, rte_eth_dev_socket_id(*port), NULL)) != 0 ||
	    (rc = rte_eth_dev_start(*port)) != 0) {
		E2_ERR("port %s: set-up failed: %s", name, rte_strerror(-rc));
		return -1;
	}
	rte_eth_promiscuous_enable(*port);
	/* encryption makes packets longer: the cloud side must carry them */
	if (mtu && (rc = rte_eth_dev_set_mtu(*port, mtu)) != 0)
		E2_WARN("port %s: cannot set MTU %u: %s", name, mtu, rte_strerror(-rc));
	return 0;
}

static uint64_t now_ns(void)
{
	struct timespec ts;
	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (uint64_t)ts.tv_sec * 1000000000ull + (uint64_t)ts.tv_nsec;
}

/* ---------------- extension channel ---------------- */

/* records are encoded on the packet worker's thread, one at a time */
struct ext {
	struct e2_chan *pub;
	struct gwc *core;
	struct ext_codec *codec;
};

static void ext_emit(void *ctx, const struct ext_record *rec)
{
	struct ext *x = ctx;
	if (!x->pub)
		return;
	size_t len;
	struct e2_err err = {0};
	const uint8_t *b = ext_record_encode(x->codec, rec, &len, &err);
	if (!b || e2_chan_send(x->pub, b, len, 0, &err) != 0)
		gwc_count(x->core, GWC_EXT_UNSENT, 1);
}

/* ---------------- control thread ---------------- */

struct control {
	struct e2_chan *rep;
	struct gwctl *ctl;
};

static void *control_main(void *arg)
{
	struct control *k = arg;
	while (!stopping) {
		void *body = NULL;
		size_t len = 0;
		char sender[E2_CHAN_SENDER_MAX + 1];
		struct e2_err err = {0};
		if (e2_chan_recv(k->rep, &body, &len, sender, 200, &err) != 0)
			continue;
		uint8_t *out;
		size_t out_len;
		gwctl_handle(k->ctl, body, len, &out, &out_len);
		free(body);
		if (e2_chan_send(k->rep, out, out_len, 1000, &err) != 0)
			E2_WARN("control reply to %s not sent: %s", sender, err.msg);
		free(out);
	}
	return NULL;
}

/* ---------------- packet worker ---------------- */

struct worker {
	struct gwc *core;
	struct rte_mempool *pool;
	uint16_t ent, cloud;
};

/* Receives a burst on `from`, transforms it (outbound or inbound) and sends it on `to`. */
static unsigned pass(struct worker *w, uint16_t from, uint16_t to, bool outbound, uint64_t now)
{
	struct rte_mbuf *in[BURST], *out[BURST], *tx[BURST];
	struct gwc_pkt p[BURST];
	size_t map[BURST];
	uint16_t n = rte_eth_rx_burst(from, 0, in, BURST);
	if (!n)
		return 0;
	size_t k = 0;
	uint16_t want = outbound ? 0x0800 : 0x86dd;
	if (rte_pktmbuf_alloc_bulk(w->pool, out, n) != 0) {
		rte_pktmbuf_free_bulk(in, n);
		gwc_count(w->core, GWC_TX_DROPPED, n);
		return n;
	}
	for (uint16_t i = 0; i < n; i++) {
		struct rte_mbuf *m = in[i];
		const uint8_t *eth = rte_pktmbuf_mtod(m, const uint8_t *);
		if (!rte_pktmbuf_is_contiguous(m) || m->pkt_len < 14 || e2_get_be16(eth + 12) != want) {
			/* never forwarded: e.g. ARP on the enterprise side would carry its addresses */
			gwc_count(w->core, outbound ? GWC_ENT_NOT_IPV4 : GWC_CLOUD_NOT_EMBARK, 1);
			gwc_count(w->core, outbound ? GWC_ENT_RX : GWC_CLOUD_RX, 1);
			continue;
		}
		uint8_t *o = rte_pktmbuf_mtod(out[i], uint8_t *);
		memcpy(o, eth, 12);
		e2_put_be16(o + 12, outbound ? 0x86dd : 0x0800);
		p[k] = (struct gwc_pkt){.in = eth + 14,
					.len = m->pkt_len - 14,
					.out = o + 14,
					.cap = rte_pktmbuf_tailroom(out[i]) - 14};
		map[k++] = i;
	}
	if (outbound)
		gwc_outbound(w->core, p, k, now);
	else
		gwc_inbound(w->core, p, k, now);
	size_t ntx = 0;
	bool sent[BURST] = {0};
	for (size_t j = 0; j < k; j++) {
		if (p[j].rc != EMBARK_OK)
			continue;
		struct rte_mbuf *o = out[map[j]];
		o->data_len = (uint16_t)(p[j].out_len + 14);
		o->pkt_len = o->data_len;
		tx[ntx++] = o;
		sent[map[j]] = true;
	}
	for (uint16_t i = 0; i < n; i++)
		if (!sent[i])
			rte_pktmbuf_free(out[i]);
	rte_pktmbuf_free_bulk(in, n);
	uint16_t done = rte_eth_tx_burst(to, 0, tx, (uint16_t)ntx);
	if (done < ntx) {
		rte_pktmbuf_free_bulk(tx + done, (unsigned)(ntx - done));
		gwc_count(w->core, GWC_TX_DROPPED, ntx - done);
	}
	return n;
}

static void worker_loop(struct worker *w)
{
	unsigned idle = 0;
	uint64_t last_poll = 0;
	while (!stopping) {
		uint64_t now = now_ns();
		unsigned got = pass(w, w->ent, w->cloud, true, now) + pass(w, w->cloud, w->ent, false, now);
		if (now - last_poll > 1000000 || !got) {
			gwc_poll(w->core, now);
			last_poll = now;
		}
		/* on a shared machine an idle gateway must not hold a core: back off to 200 us naps */
		if (got) {
			idle = 0;
		} else if (++idle > 256) {
			struct timespec ts = {0, idle > 4096 ? 200000 : 20000};
			nanosleep(&ts, NULL);
		}
	}
}

int main(int argc, char **argv)
{
	struct options o = {0};
	struct e2_err err = {0};
	char msg[512] = "";
	int rc = 1;
	if (parse_options(argc, argv, &o) != 0)
		return 2;
	/* key material must not end up in a core file */
	struct rlimit no_core = {0, 0};
	if (setrlimit(RLIMIT_CORE, &no_core) != 0 || prctl(PR_SET_DUMPABLE, 0) != 0) {
		fprintf(stderr, "embark-gw: cannot turn core dumps off: %s\n", strerror(errno));
		return 1;
	}
	/* keys, rules and pools are checked before DPDK starts: a bad file costs nothing */
	embark_keys *keys = embark_keys_load(o.key, msg, sizeof msg);
	if (!keys) {
		fprintf(stderr, "embark-gw: %s\n", msg);
		return 1;
	}
	embark_framer *framer = NULL;
	if (o.frame_key) {
		embark_keys *fk = embark_keys_load(o.frame_key, msg, sizeof msg);
		char fid[GWC_KEY_ID_LEN + 1], kid[GWC_KEY_ID_LEN + 1];
		if (fk) {
			gwc_key_id(fk, fid);
			gwc_key_id(keys, kid);
			if (strcmp(fid, kid) == 0)
				snprintf(msg, sizeof msg,
					 "%s: the enterprise's own key (a cloud proxy must never hold it)",
					 o.frame_key);
			else if (!(framer = embark_framer_new(fk)))
				snprintf(msg, sizeof msg, "%s: cannot set up its MAC", o.frame_key);
			embark_keys_free(fk);
		}
		if (!framer) {
			fprintf(stderr, "embark-gw: --frame-key %s\n", msg);
			embark_keys_free(keys);
			return 1;
		}
	}
	embark_ruleset rules = {0};
	embark_poolset pools = {0};
	if ((o.rules && embark_rules_load(o.rules, &rules, msg, sizeof msg) != 0) ||
	    (o.pools && embark_pools_load(o.pools, &pools, msg, sizeof msg) != 0)) {
		fprintf(stderr, "embark-gw: %s\n", msg);
		embark_keys_free(keys);
		embark_framer_free(framer);
		return 1;
	}
	struct e2_chan_key chan_key, *ckey = NULL;
	if (o.chan_key) {
		if (e2_chan_key_load(o.chan_key, &chan_key, &err) != 0) {
			fprintf(stderr, "embark-gw: %s\n", err.msg);
			embark_framer_free(framer);
			return 1;
		}
		ckey = &chan_key;
	}
	if (start_eal(&o, argv[0]) != 0) {
		embark_framer_free(framer);
		return 1;
	}
	signal(SIGINT, on_signal);
	signal(SIGTERM, on_signal);
	signal(SIGPIPE, SIG_IGN);

	struct ext ext = {0};
	struct control ctlk = {0};
	struct worker w = {0};
	struct gwctl *ctl = NULL;
	pthread_t control_thread;
	bool control_started = false;
	struct gwc_epoch *first = gwc_epoch_new(o.first_epoch, gwc_keys_copy(keys), &rules, &pools, &o.cfg, &err);
	if (!first) {
		E2_ERR("%s", err.msg);
		goto out;
	}
	E2_INFO("epoch %u: key %s, %zu rules, %zu pools, payload %s", o.first_epoch, gwc_epoch_key_id(first), rules.n,
		pools.n, o.cfg.encrypt_payload ? "encrypted" : "in clear (header-only)");
	if (o.ext) {
		ext.pub = e2_chan_new(E2_CHAN_PUB, o.name, ckey, &err);
		ext.codec = ext_codec_new();
		if (!ext.codec)
			e2_seterr(&err, "no memory for its encoder");
		if (!ext.pub || !ext.codec || e2_chan_bind(ext.pub, o.ext, &err) != 0) {
			E2_ERR("extension channel %s: %s", o.ext, err.msg);
			gwc_epoch_free(first);
			goto out;
		}
	}
	/* without a channel no packet is marked as having records to wait for */
	w.core = gwc_new(&o.core, first, o.ext ? ext_emit : NULL, &ext, &err);
	if (!w.core) {
		E2_ERR("%s", err.msg);
		goto out;
	}
	ext.core = w.core;
	gwc_set_framer(w.core, framer);
	framer = NULL;
	ctl = gwctl_new(w.core, keys, &rules, &pools, &o.cfg, o.first_epoch, 5000);
	w.pool = rte_pktmbuf_pool_create("embark_gw", MBUFS, 256, 0, DATA_ROOM + RTE_PKTMBUF_HEADROOM,
					 (int)rte_socket_id());
	if (!ctl || !w.pool) {
		E2_ERR("out of memory (mbuf pool: %s)", w.pool ? "ok" : rte_strerror(rte_errno));
		goto out;
	}
	if (open_port(o.ent, w.pool, &w.ent, 0) != 0 || open_port(o.cloud, w.pool, &w.cloud, o.cloud_mtu) != 0)
		goto out;
	uint16_t mtu;
	if (rte_eth_dev_get_mtu(w.cloud, &mtu) == 0)
		gwc_set_cloud_mtu(w.core, mtu);
	ctlk.ctl = ctl;
	ctlk.rep = e2_chan_new(E2_CHAN_REP, o.name, ckey, &err);
	if (!ctlk.rep || e2_chan_bind(ctlk.rep, o.ctl, &err) != 0) {
		E2_ERR("control socket %s: %s", o.ctl, err.msg);
		goto out;
	}
	if (pthread_create(&control_thread, NULL, control_main, &ctlk) != 0) {
		E2_ERR("cannot start the control thread");
		goto out;
	}
	control_started = true;
	if (o.ready_file) {
		FILE *rf = fopen(o.ready_file, "w");
		if (!rf || fclose(rf) != 0)
			E2_WARN("cannot create the ready file %s: %s", o.ready_file, strerror(errno));
	}
	E2_INFO("ready: enterprise %s, cloud %s, control %s%s%s", o.ent, o.cloud, o.ctl, o.ext ? ", extension " : "",
		o.ext ? o.ext : "");
	worker_loop(&w);
	rc = 0;
	E2_INFO("stopping: %" PRIu64 " encrypted, %" PRIu64 " decrypted",
		__atomic_load_n(&gwc_stats(w.core)->c[GWC_CLOUD_TX_OK], __ATOMIC_RELAXED),
		__atomic_load_n(&gwc_stats(w.core)->c[GWC_ENT_TX_OK], __ATOMIC_RELAXED));
out:
	stopping = 1;
	embark_framer_free(framer); /* NULL once the core has it */
	if (o.ready_file)
		unlink(o.ready_file);
	if (control_started)
		pthread_join(control_thread, NULL);
	e2_chan_close(ctlk.rep);
	gwctl_free(ctl);
	gwc_free(w.core);
	e2_chan_close(ext.pub);
	ext_codec_free(ext.codec);
	if (ckey)
		OPENSSL_cleanse(&chan_key, sizeof chan_key);
	embark_ruleset_free(&rules);
	embark_poolset_free(&pools);
	embark_keys_free(keys);
	uint16_t pid;
	RTE_ETH_FOREACH_DEV (pid) {
		rte_eth_dev_stop(pid);
		rte_eth_dev_close(pid);
	}
	rte_eal_cleanup();
	return rc;
}
