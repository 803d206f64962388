/* SPDX-License-Identifier: BSD-3-Clause */
/* embark-classify: first-match firewall classification of every packet in a pcap, on
 * plaintext IPv4 (with plaintext rules) or Embark IPv6 (with encrypted rules) alike. */
#include "embark.h"
#include "pcapio.h"

#include <stdlib.h>
#include <string.h>

static void usage(FILE *f)
{
	fprintf(f, "usage: embark-classify --rules RULES IN.pcap\n"
		   "Prints one line per packet: <index> <rule-id> <action>, or '<index> - none' when no\n"
		   "rule matches and '<index> ! <reason>' when the packet cannot be classified.\n"
		   "RULES is a plaintext rule file or one written by 'embark-rules encrypt'.\n");
}

int main(int argc, char **argv)
{
	if (argc >= 2 && (!strcmp(argv[1], "--help") || !strcmp(argv[1], "-h"))) {
		usage(stdout);
		return 0;
	}
	if (argc != 4 || strcmp(argv[1], "--rules")) {
		usage(stderr);
		return 2;
	}
	char err[1024];
	embark_ruleset rs = {0};
	if (embark_rules_load(argv[2], &rs, err, sizeof err)) {
		fprintf(stderr, "embark-classify: %s\n", err);
		return 1;
	}
	embark_classifier *cl = embark_classifier_new(&rs);
	pcap_t *in = cl ? pcapio_open_in(argv[3], err, sizeof err) : NULL;
	if (!in) {
		fprintf(stderr, "embark-classify: %s\n", cl ? err : "out of memory");
		embark_classifier_free(cl);
		embark_ruleset_free(&rs);
		return 1;
	}
	int lt = pcap_datalink(in), r, rc = 0;
	struct pcap_pkthdr *h;
	const u_char *data;
	unsigned long long n = 0;
	while ((r = pcap_next_ex(in, &h, &data)) == 1) {
		n++;
		size_t l3;
		int eto;
		embark_key5 k;
		int e;
		if (pcapio_l3(lt, data, h->caplen, &l3, &eto)) {
			printf("%llu ! not IP\n", n);
			continue;
		}
		if ((e = embark_packet_key(data + l3, h->caplen - l3, &k))) {
			printf("%llu ! %s\n", n, embark_strerror(e));
			continue;
		}
		const embark_rule *m = embark_classify(cl, &k);
		if (m)
			printf("%llu %s %s\n", n, m->id, m->action == EMBARK_DENY ? "deny" : "accept");
		else
			printf("%llu - none\n", n);
	}
	if (r == -1) {
		fprintf(stderr, "embark-classify: %s: packet %llu: %s\n", argv[3], n + 1, pcap_geterr(in));
		rc = 1;
	}
	pcap_close(in);
	embark_classifier_free(cl);
	embark_ruleset_free(&rs);
	return rc;
}
