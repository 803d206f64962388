/* SPDX-License-Identifier: BSD-3-Clause */
/* embark-pcap encrypt|decrypt: the Embark packet transform over pcap files. */
#include "embark.h"
#include "pcapio.h"
#include "e2/num.h"
#include "e2/opts.h"

#include <stdlib.h>
#include <string.h>

static void usage(FILE *f)
{
	fprintf(f, "usage: embark-pcap encrypt|decrypt --key K [--rules rules.txt] [--pools pools.txt]\n"
		   "                   [--header-only] [--prefix-len N] IN.pcap OUT.pcap\n"
		   "\n"
		   "encrypt  IPv4 packets -> Embark-encrypted IPv6 packets (addresses/ports PrefixMatch-\n"
		   "         encrypted, originals sealed in a destination option, payload encrypted).\n"
		   "decrypt  the reverse; restores NAT-rewritten addresses from --pools.\n"
		   "Use the same --rules/--pools/--prefix-len on both sides (they define the encryption).\n"
		   "Packets that cannot be transformed are dropped and counted; exit status 3 if any were.\n"
		   "Link types: Ethernet (VLAN ok) and raw IP. OUT appears only when complete.\n");
}

enum { E_NOT_IP = EMBARK_E_COUNT, E_CAPTURE_TRUNC, NCOUNT };

int main(int argc, char **argv)
{
	if (argc >= 2 && (!strcmp(argv[1], "--help") || !strcmp(argv[1], "-h"))) {
		usage(stdout);
		return 0;
	}
	if (argc < 2 || (strcmp(argv[1], "encrypt") && strcmp(argv[1], "decrypt"))) {
		usage(stderr);
		return 2;
	}
	bool enc = !strcmp(argv[1], "encrypt");
	const char *key = NULL, *rules = NULL, *pools = NULL;
	embark_config cfg;
	embark_config_default(&cfg);
	static const struct option opts[] = {
		{"key", 1, 0, 'k'},        {"rules", 1, 0, 'r'}, {"pools", 1, 0, 'p'}, {"header-only", 0, 0, 'H'},
		{"prefix-len", 1, 0, 'l'}, {"help", 0, 0, 'h'},  {0, 0, 0, 0}};
	int c;
	struct e2_err oerr;
	optind = 2;
	while ((c = e2_opt_next(argc, argv, "", opts, &oerr)) != -1) {
		switch (c) {
		case 'k': key = optarg; break;
		case 'r': rules = optarg; break;
		case 'p': pools = optarg; break;
		case 'H': cfg.encrypt_payload = false; break;
		case 'l': {
			struct e2_err e;
			if (e2_num_int("--prefix-len", optarg, 1, 64, &cfg.addr_prefix_len, &e)) {
				fprintf(stderr, "embark-pcap: %s\n", e.msg);
				return 2;
			}
			break;
		}
		case 'h': usage(stdout); return 0;
		case E2_OPT_BAD: fprintf(stderr, "embark-pcap: %s\n", oerr.msg); return 2;
		default: fprintf(stderr, "embark-pcap: option %d is not handled (a bug)\n", c); return 2;
		}
	}
	if (!key || argc - optind != 2) {
		fprintf(stderr, "embark-pcap: need --key K, IN.pcap and OUT.pcap\n");
		usage(stderr);
		return 2;
	}
	const char *inp = argv[optind], *outp = argv[optind + 1];
	char err[1024];
	embark_ruleset rs = {0};
	embark_poolset ps = {0};
	embark_keys *k = NULL;
	embark_gw *gw = NULL;
	pcap_t *in = NULL;
	atomic_out o = {0};
	uint8_t *buf = malloc(65536 + EMBARK_MAX_OVERHEAD + 64);
	uint64_t counts[NCOUNT] = {0}, npk = 0, nout = 0;
	int rc = 1;
	if (!buf) {
		snprintf(err, sizeof err, "out of memory");
		goto fail;
	}
	if (rules && embark_rules_load(rules, &rs, err, sizeof err))
		goto fail;
	if (pools && embark_pools_load(pools, &ps, err, sizeof err))
		goto fail;
	if (!(k = embark_keys_load(key, err, sizeof err)))
		goto fail;
	if (!(gw = embark_gw_new(k, &rs, &ps, &cfg, err, sizeof err)))
		goto fail;
	embark_keys_free(k);
	k = NULL;
	if (!(in = pcapio_open_in(inp, err, sizeof err)))
		goto fail;
	const char *const inputs[] = {inp, key, rules, pools};
	if (atomic_open_pcap(&o, outp, inputs, 4, in, err, sizeof err))
		goto fail;
	int lt = pcap_datalink(in);
	struct pcap_pkthdr *h;
	const u_char *data;
	int r;
	while ((r = pcap_next_ex(in, &h, &data)) == 1) {
		npk++;
		if (h->caplen < h->len) {
			counts[E_CAPTURE_TRUNC]++;
			continue;
		}
		size_t l3, len = h->caplen;
		int eto;
		if (pcapio_l3(lt, data, len, &l3, &eto)) {
			counts[E_NOT_IP]++;
			continue;
		}
		memcpy(buf, data, l3);
		size_t outl;
		int e = enc ? embark_encrypt_packet(gw, data + l3, len - l3, buf + l3, 65536 + EMBARK_MAX_OVERHEAD,
						    &outl)
			    : embark_decrypt_packet(gw, data + l3, len - l3, buf + l3, 65536 + EMBARK_MAX_OVERHEAD,
						    &outl);
		if (e) {
			counts[e]++;
			continue;
		}
		if (eto >= 0) {
			buf[eto] = enc ? 0x86 : 0x08;
			buf[eto + 1] = enc ? 0xDD : 0x00;
		}
		struct pcap_pkthdr oh = *h;
		oh.caplen = oh.len = (bpf_u_int32)(l3 + outl);
		pcap_dump((u_char *)o.dumper, &oh, buf);
		nout++;
	}
	if (r == -1) {
		snprintf(err, sizeof err, "%s: packet %llu: %s", inp, (unsigned long long)npk + 1, pcap_geterr(in));
		goto fail;
	}
	if (atomic_commit(&o, err, sizeof err))
		goto fail;
	uint64_t dropped = npk - nout;
	fprintf(stderr, "embark-pcap: %s %llu packets, wrote %llu, dropped %llu", argv[1], (unsigned long long)npk,
		(unsigned long long)nout, (unsigned long long)dropped);
	for (int i = 1; i < NCOUNT; i++)
		if (counts[i])
			fprintf(stderr, "; %s: %llu",
				i == E_NOT_IP          ? "not IPv4/IPv6 over a supported link"
				: i == E_CAPTURE_TRUNC ? "truncated capture"
						       : embark_strerror(i),
				(unsigned long long)counts[i]);
	fputc('\n', stderr);
	rc = dropped ? 3 : 0;
	goto done;
fail:
	fprintf(stderr, "embark-pcap: %s\n", err);
	atomic_abort(&o);
done:
	if (in)
		pcap_close(in);
	embark_gw_free(gw);
	embark_keys_free(k);
	embark_ruleset_free(&rs);
	embark_poolset_free(&ps);
	free(buf);
	return rc;
}
