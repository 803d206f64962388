/* SPDX-License-Identifier: BSD-3-Clause */
/* embark-testgen OUT.pcap COUNT SEED [eth|raw] [frag]: random IPv4 traffic for the tool tests —
 * TCP, UDP, ICMP and GRE, with and without IP options, some with Ethernet padding, and
 * (with "frag") some IPv4 fragments.  Addresses cluster around examples/embark/rules.txt. */
#include <stdlib.h>
#include <string.h>

#include "../tests/common.h"
#include "pcapio.h"
#include "e2/num.h"
#include "e2/opts.h"

int main(int argc, char **argv)
{
	static const char usage[] = "usage: embark-testgen OUT.pcap COUNT SEED [eth|raw] [frag]\n";
	if (e2_opt_asks_help(argc, argv)) {
		fputs(usage, stdout);
		return 0;
	}
	if (argc < 4) {
		fputs(usage, stderr);
		return 2;
	}
	uint64_t count, s;
	struct e2_err e;
	if (e2_num_u64("COUNT", argv[2], 0, 100000000, &count, &e) ||
	    e2_num_u64("SEED", argv[3], 0, UINT64_MAX, &s, &e)) {
		fprintf(stderr, "embark-testgen: %s\n", e.msg);
		return 2;
	}
	s |= 1;
	bool raw = argc > 4 && !strcmp(argv[4], "raw"), frag = argc > 5 && !strcmp(argv[5], "frag");
	pcap_t *dead = pcap_open_dead(raw ? DLT_RAW : DLT_EN10MB, 65535);
	pcap_dumper_t *d = pcap_dump_open(dead, argv[1]);
	if (!d) {
		fprintf(stderr, "embark-testgen: %s\n", pcap_geterr(dead));
		return 1;
	}
	static const uint32_t nets[] = {0x0a000000, 0x0a010000, 0xc0a80000, 0xcb007100, 0x08080800, 0xc6336400};
	static const uint16_t ports[] = {22, 53, 80, 443, 8080, 40000};
	static const uint8_t protos[] = {6, 6, 17, 17, 1, 47};
	uint8_t pkt[2048];
	for (uint64_t i = 0; i < count; i++) {
		size_t l2 = raw ? 0 : 14;
		uint8_t proto = protos[rnd_below(&s, 6)];
		uint32_t sip = nets[rnd_below(&s, 6)] + rnd_below(&s, 512),
			 dip = nets[rnd_below(&s, 6)] + rnd_below(&s, 512);
		uint16_t sp = rnd_below(&s, 2) ? ports[rnd_below(&s, 6)] : (uint16_t)rnd(&s);
		uint16_t dp = rnd_below(&s, 2) ? ports[rnd_below(&s, 6)] : (uint16_t)rnd(&s);
		size_t opt = rnd_below(&s, 4) == 0 ? 4 * (1 + rnd_below(&s, 10)) : 0;
		size_t pay = rnd_below(&s, 3) == 0 ? 0 : rnd_below(&s, 1200);
		size_t n = build_ipv4(&s, pkt + l2, proto, sip, dip, sp, dp, opt, pay, -1);
		if (frag && rnd_below(&s, 10) == 0) {
			put16(pkt + l2 + 6, (uint16_t)(0x2000 | rnd_below(&s, 100)));
		}
		if (!raw) {
			for (int j = 0; j < 12; j++)
				pkt[j] = (uint8_t)rnd(&s);
			pkt[12] = 0x08;
			pkt[13] = 0x00;
			while (n + 14 < 60)
				pkt[14 + n++] = 0; /* Ethernet minimum frame: padding */
		}
		struct pcap_pkthdr h = {.ts = {1700000000 + i / 1000, (i % 1000) * 1000},
					.caplen = (bpf_u_int32)(n + l2),
					.len = (bpf_u_int32)(n + l2)};
		pcap_dump((u_char *)d, &h, pkt);
	}
	pcap_dump_close(d);
	pcap_close(dead);
	return 0;
}
