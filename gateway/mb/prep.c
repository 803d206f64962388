/* SPDX-License-Identifier: BSD-3-Clause */
/* embark-mb-prep: inputs for the Embark middleboxes' offline runs and benchmarks.
 *
 *   gw     the gateway's outbound path (embark-gw's core: flows, epochs, reassembly,
 *          KeywordMatch tokens, encrypted URIs) over an Ethernet capture: every frame
 *          encrypted, and each extension record it emits written as a frame of its own
 *          (EtherType 0x88b5) just before the packet that made it, as it travels ahead
 *          of that packet on the channel;
 *   plain  the same records for a plaintext capture: URIs in the clear, the plaintext
 *          flow, the packets unchanged (what a middlebox on plaintext would be told);
 *   uris   a URI list -> its deterministic encryption (`enc HEX` lines) for a blocklist. */
#include <pcap/pcap.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "e2/err.h"
#include "e2/file.h"
#include "e2/num.h"
#include "e2/opts.h"
#include "gwcore.h"
#include "mb.h"
#include "pcapio.h"

static void usage(FILE *f)
{
	fprintf(f, "usage: embark-mb-prep gw --key K [--rules R] [--pools P] [--epoch N] [--header-only] [--no-dpi]\n"
		   "                         [--no-uri] [--tokens window|delimiter] IN.pcap OUT.pcap\n"
		   "       embark-mb-prep plain [--no-uri] IN.pcap OUT.pcap\n"
		   "       embark-mb-prep uris --key K LIST OUT\n"
		   "gw     encrypt IN as embark-gw does (enterprise -> cloud), with its extension records\n"
		   "       (KeywordMatch tokens, encrypted URIs) as EtherType 0x88b5 frames before their packet\n"
		   "plain  IN unchanged with the same records in the clear (URIs only)\n"
		   "uris   one URI (host + path) per line -> `enc HEX` lines, for embark-parental --blocklist\n");
}

struct pending {
	uint8_t *rec[64];
	size_t len[64];
	size_t n;
	bool plain;
	const embark_keys *keys; /* plain: to read the URIs back */
	const uint8_t *plain_flow;
	struct ext_codec *codec;
	uint64_t lost;
};

static void collect(void *ctx, const struct ext_record *x)
{
	struct pending *p = ctx;
	if (p->n == 64) {
		p->lost++;
		return;
	}
	struct ext_record rec = *x;
	uint8_t uri[9000];
	if (p->plain) {
		/* the same record in the clear: the URI only, under the plaintext flow */
		if (!x->uri)
			return;
		if (x->uri_len < 16 || x->uri_len - 16 > sizeof(uri) ||
		    embark_uri_decrypt(p->keys, x->uri, x->uri_len, uri) != 0)
			return;
		rec = (struct ext_record){.uri = uri,
					  .uri_len = x->uri_len - 16,
					  .packet_nonce = x->packet_nonce,
					  .packet_last = x->packet_last};
		memcpy(rec.flow, p->plain_flow, EXT_FLOW_ID_LEN);
	}
	size_t len;
	struct e2_err err;
	const uint8_t *enc = ext_record_encode(p->codec, &rec, &len, &err);
	uint8_t *b = enc ? malloc(len) : NULL;
	if (!b) {
		p->lost++;
		return;
	}
	memcpy(b, enc, len);
	p->rec[p->n] = b;
	p->len[p->n++] = len;
}

static int do_uris(const char *keyf, const char *in, const char *out)
{
	char err[512];
	struct e2_err e;
	size_t len;
	embark_keys *k = embark_keys_load(keyf, err, sizeof(err));
	if (!k) {
		fprintf(stderr, "embark-mb-prep: %s\n", err);
		return 2;
	}
	char *text = e2_read_file(in, 64u << 20, &len, &e);
	struct mb_uris u;
	if (!text || mb_uris_parse(text, len, in, &u, &e) != 0) {
		fprintf(stderr, "embark-mb-prep: %s\n", e.msg);
		free(text);
		embark_keys_free(k);
		return 2;
	}
	free(text);
	FILE *f = fopen(out, "wx");
	if (!f) {
		fprintf(stderr, "embark-mb-prep: %s: cannot create (exists?)\n", out);
		mb_uris_free(&u);
		embark_keys_free(k);
		return 2;
	}
	fprintf(f, "# %zu URIs, deterministically encrypted (AES-SIV, the gateway's uri subkey)\n", u.n);
	for (size_t i = 0; i < u.n; i++) {
		uint8_t *enc = malloc(u.v[i].len + 16);
		if (!enc || embark_uri_encrypt(k, u.v[i].b, u.v[i].len, enc) != 0) {
			free(enc);
			continue;
		}
		fputs("enc ", f);
		for (size_t j = 0; j < u.v[i].len + 16; j++)
			fprintf(f, "%02x", enc[j]);
		fputc('\n', f);
		free(enc);
	}
	int rc = fclose(f) ? 1 : 0;
	mb_uris_free(&u);
	embark_keys_free(k);
	return rc;
}

int main(int argc, char **argv)
{
	const char *key = NULL, *rules = NULL, *pools = NULL;
	bool header_only = false, dpi = true, uri = true;
	uint32_t epoch = 1;
	char err[512];
	struct e2_err e;

	if (argc < 2 || !strcmp(argv[1], "--help") || !strcmp(argv[1], "-h")) {
		usage(argc < 2 ? stderr : stdout);
		return argc < 2 ? 2 : 0;
	}
	const char *mode = argv[1];
	const char *pos[2];
	int npos = 0, km_mode = EMBARK_TOKENS_WINDOW;
	static const struct option longs[] = {{"key", required_argument, NULL, 'k'},
					      {"rules", required_argument, NULL, 'r'},
					      {"pools", required_argument, NULL, 'p'},
					      {"epoch", required_argument, NULL, 'e'},
					      {"tokens", required_argument, NULL, 't'},
					      {"header-only", no_argument, NULL, 'H'},
					      {"no-dpi", no_argument, NULL, 'D'},
					      {"no-uri", no_argument, NULL, 'U'},
					      {NULL, 0, NULL, 0}};
	int opt;
	optind = 2;
	while ((opt = e2_opt_next(argc, argv, "", longs, &e)) != -1) {
		switch (opt) {
		case 'k': key = optarg; break;
		case 'r': rules = optarg; break;
		case 'p': pools = optarg; break;
		case 'e':
			if (e2_num_u32("--epoch", optarg, 1, UINT32_MAX, &epoch, &e) != 0)
				goto bad;
			break;
		case 't':
			if ((km_mode = embark_tokens_mode(optarg)) < 0) {
				e2_seterr(&e, "--tokens=%s: neither window nor delimiter", optarg);
				goto bad;
			}
			break;
		case 'H': header_only = true; break;
		case 'D': dpi = false; break;
		case 'U': uri = false; break;
		case E2_OPT_BAD: goto bad;
		default: e2_seterr(&e, "option %d is not handled (a bug)", opt); goto bad;
		}
	}
	for (; optind < argc; optind++) {
		if (npos == 2) {
			e2_seterr(&e, "unexpected argument '%s' (IN and OUT are given)", argv[optind]);
			goto bad;
		}
		pos[npos++] = argv[optind];
	}
	bool plain = !strcmp(mode, "plain");
	if (strcmp(mode, "gw") && !plain && strcmp(mode, "uris")) {
		e2_seterr(&e, "unknown mode '%s' (gw, plain or uris)", mode);
		goto bad;
	}
	if (npos != 2) {
		e2_seterr(&e, "%s needs %s", mode, !strcmp(mode, "uris") ? "LIST and OUT" : "IN.pcap and OUT.pcap");
		goto bad;
	}
	if (!plain && !key) {
		e2_seterr(&e, "%s needs --key FILE", mode);
		goto bad;
	}
	if (!strcmp(mode, "uris"))
		return do_uris(key, pos[0], pos[1]);

	embark_keys *k = plain ? NULL : embark_keys_load(key, err, sizeof(err));
	if (plain) {
		uint8_t master[EMBARK_MASTER_KEY_LEN];
		FILE *r = fopen("/dev/urandom", "rb");
		if (!r || fread(master, 1, sizeof(master), r) != sizeof(master)) {
			fprintf(stderr, "embark-mb-prep: no random bytes\n");
			return 1;
		}
		fclose(r);
		k = embark_keys_from_master(master);
		memset(master, 0, sizeof(master));
	}
	embark_ruleset rs = {0};
	embark_poolset ps = {0};
	if (!k || (rules && embark_rules_load(rules, &rs, err, sizeof(err))) ||
	    (pools && embark_pools_load(pools, &ps, err, sizeof(err)))) {
		fprintf(stderr, "embark-mb-prep: %s\n", err);
		return 2;
	}
	struct pending pend = {.plain = plain, .keys = gwc_keys_copy(k), .codec = ext_codec_new()};
	embark_config ecfg;
	embark_config_default(&ecfg);
	ecfg.encrypt_payload = !header_only;
	struct gwc_config gcfg;
	gwc_config_default(&gcfg);
	gcfg.dpi = dpi && !plain;
	gcfg.uri = uri;
	gcfg.dpi_flows = 4096;
	gcfg.km_mode = km_mode;
	struct gwc_epoch *ep = gwc_epoch_new(epoch, k, rules ? &rs : NULL, pools ? &ps : NULL, &ecfg, &e);
	struct gwc *c = ep ? gwc_new(&gcfg, ep, collect, &pend, &e) : NULL;
	if (!c || !pend.keys || !pend.codec) {
		fprintf(stderr, "embark-mb-prep: %s\n", e.msg);
		return 2;
	}
	pcap_t *in = pcapio_open_in(pos[0], err, sizeof(err));
	if (!in || pcap_datalink(in) != DLT_EN10MB) {
		fprintf(stderr, "embark-mb-prep: %s\n", in ? "only Ethernet captures" : err);
		return 2;
	}
	atomic_out o;
	const char *const inputs[] = {pos[0], key, rules, pools};
	if (atomic_open_pcap(&o, pos[1], inputs, 4, in, err, sizeof(err))) {
		fprintf(stderr, "embark-mb-prep: %s\n", err);
		return 2;
	}
	static uint8_t buf[65536 + EMBARK_MAX_OVERHEAD + 64];
	struct pcap_pkthdr *h;
	const u_char *data;
	uint64_t npk = 0, nout = 0, nrec = 0, refused = 0;
	int r;
	while ((r = pcap_next_ex(in, &h, &data)) == 1) {
		npk++;
		if (h->caplen < h->len || h->caplen < 14 || data[12] != 0x08 || data[13] != 0x00) {
			refused++;
			continue;
		}
		uint64_t now = (uint64_t)h->ts.tv_sec * 1000000000ull + (uint64_t)h->ts.tv_usec * 1000ull;
		embark_key5 k5;
		uint8_t pflow[EXT_FLOW_ID_LEN];
		if (embark_packet_key(data + 14, h->caplen - 14, &k5) == EMBARK_OK)
			mb_flow_id(&k5, pflow);
		else
			memset(pflow, 0, sizeof(pflow));
		pend.plain_flow = pflow;
		struct gwc_pkt p = {.in = data + 14, .len = h->caplen - 14, .out = buf + 14, .cap = sizeof(buf) - 14};
		gwc_poll(c, now);
		gwc_outbound(c, &p, 1, now);
		for (size_t i = 0; i < pend.n; i++) {
			static uint8_t fr[65536];
			if (pend.len[i] + 14 <= sizeof(fr)) {
				memcpy(fr, data, 12);
				fr[12] = MB_EXT_ETHERTYPE >> 8;
				fr[13] = MB_EXT_ETHERTYPE & 0xff;
				memcpy(fr + 14, pend.rec[i], pend.len[i]);
				struct pcap_pkthdr oh = *h;
				oh.caplen = oh.len = (bpf_u_int32)(pend.len[i] + 14);
				pcap_dump((u_char *)o.dumper, &oh, fr);
				nrec++;
			}
			free(pend.rec[i]);
		}
		pend.n = 0;
		if (p.rc != EMBARK_OK) {
			refused++;
			continue;
		}
		struct pcap_pkthdr oh = *h;
		if (plain) {
			pcap_dump((u_char *)o.dumper, h, data);
		} else {
			memcpy(buf, data, 12);
			buf[12] = 0x86;
			buf[13] = 0xdd;
			oh.caplen = oh.len = (bpf_u_int32)(p.out_len + 14);
			pcap_dump((u_char *)o.dumper, &oh, buf);
		}
		nout++;
	}
	if (r == -1 || atomic_commit(&o, err, sizeof(err))) {
		fprintf(stderr, "embark-mb-prep: %s\n", r == -1 ? pcap_geterr(in) : err);
		return 1;
	}
	fprintf(stderr, "embark-mb-prep: %s %llu packets, wrote %llu and %llu extension records, refused %llu\n", mode,
		(unsigned long long)npk, (unsigned long long)nout, (unsigned long long)nrec,
		(unsigned long long)refused);
	pcap_close(in);
	gwc_free(c);
	embark_keys_free((embark_keys *)pend.keys);
	ext_codec_free(pend.codec);
	embark_ruleset_free(&rs);
	embark_poolset_free(&ps);
	return refused || pend.lost ? 3 : 0;
bad:
	fprintf(stderr, "embark-mb-prep: %s\n", e.msg);
	return 2;
}
