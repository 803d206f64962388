/* SPDX-License-Identifier: BSD-3-Clause */
/* embark-rules: encrypts firewall rules, NAT/LB pools and keyword lists for the cloud. */
#include "embark.h"
#include "pcapio.h"
#include "e2/file.h"
#include "e2/num.h"
#include "e2/opts.h"

#include <stdlib.h>
#include <string.h>

static void usage(FILE *f)
{
	fprintf(f, "usage: embark-rules encrypt  --key K --in rules.txt --out rules.enc\n"
		   "                             [--pools pools.txt --pools-out pools.enc] [--prefix-len N]\n"
		   "       embark-rules keywords --key K --in keywords.txt --out keywords.enc\n"
		   "                             [--tokens window|delimiter]\n"
		   "\n"
		   "encrypt   firewall rules -> PrefixMatch-encrypted rules any <=/>= classifier can use;\n"
		   "          with --pools, also the encrypted NAT/LB pool values (reserved suffix).\n"
		   "keywords  keyword list -> AES_k(piece) per 8-byte piece (BlindBox rules), for the\n"
		   "          gateway's token mode (embark-gw --tokens; window by default).\n"
		   "Formats: gateway/README.md. Outputs appear only when complete.\n");
}

static int do_encrypt(const char *keyf, const char *in, const char *out, const char *pools, const char *pools_out,
		      int prefix_len)
{
	char err[1024];
	embark_ruleset rs = {0}, enc = {0};
	embark_poolset ps = {0};
	embark_keys *k = NULL;
	embark_gw *gw = NULL;
	atomic_out o1 = {0}, o2 = {0};
	embark_u128 *pv = NULL;
	size_t *pool_of = NULL;
	const char **names = NULL;
	int rc = 1;
	if (embark_rules_load(in, &rs, err, sizeof err))
		goto fail;
	if (pools && embark_pools_load(pools, &ps, err, sizeof err))
		goto fail;
	if (!(k = embark_keys_load(keyf, err, sizeof err)))
		goto fail;
	embark_config cfg;
	embark_config_default(&cfg);
	if (prefix_len)
		cfg.addr_prefix_len = prefix_len;
	if (!(gw = embark_gw_new(k, &rs, &ps, &cfg, err, sizeof err)))
		goto fail;
	if (embark_rules_encrypt(gw, &rs, &enc, err, sizeof err))
		goto fail;
	const char *const inputs[] = {in, keyf, pools};
	FILE *f = atomic_open_text(&o1, out, inputs, 3, err, sizeof err);
	if (!f)
		goto fail;
	char hdr[256];
	snprintf(hdr, sizeof hdr, "embark encrypted rules: %zu rules from %zu; addr prefix_len %d, port prefix_len %d",
		 enc.n, rs.n, embark_pm_prefix_len(embark_gw_addr_pm(gw)), embark_pm_prefix_len(embark_gw_port_pm(gw)));
	embark_rules_write(f, &enc, hdr);
	if (pools) {
		FILE *g = atomic_open_text(&o2, pools_out, inputs, 3, err, sizeof err);
		if (!g)
			goto fail;
		size_t n;
		if (embark_pools_encrypt_named(gw, &ps, &pv, &pool_of, &n) ||
		    !(names = malloc((n ? n : 1) * sizeof(*names)))) {
			snprintf(err, sizeof err, "out of memory");
			goto fail;
		}
		for (size_t i = 0; i < n; i++)
			names[i] = ps.v[pool_of[i]].name;
		char phdr[128];
		snprintf(phdr, sizeof phdr, "embark encrypted pool values (suffix %04x reserved), %zu addresses",
			 0xE2E2u, n);
		/* each pool's values sorted by ciphertext, which hides the addresses' order */
		embark_pool_values_write(g, names, pv, n, phdr);
		if (atomic_commit(&o2, err, sizeof err))
			goto fail;
	}
	if (atomic_commit(&o1, err, sizeof err))
		goto fail;
	fprintf(stderr, "embark-rules: %zu rules -> %zu encrypted rules\n", rs.n, enc.n);
	rc = 0;
	goto done;
fail:
	fprintf(stderr, "embark-rules: %s\n", err);
	atomic_abort(&o1);
	atomic_abort(&o2);
done:
	free(pv);
	free(pool_of);
	free(names);
	embark_ruleset_free(&rs);
	embark_ruleset_free(&enc);
	embark_poolset_free(&ps);
	embark_gw_free(gw);
	embark_keys_free(k);
	return rc;
}

static int do_keywords(const char *keyf, const char *in, const char *out, int mode)
{
	char err[1024];
	char *text = NULL, **kw = NULL;
	size_t len, *kl = NULL, n = 0;
	embark_keys *k = NULL;
	embark_kw_rules r = {0};
	atomic_out o = {0};
	int rc = 1;
	struct e2_err rerr;
	if (!(text = e2_read_file(in, 0, &len, &rerr))) {
		snprintf(err, sizeof err, "%s", rerr.msg);
		goto fail;
	}
	if (embark_keywords_parse(text, len, in, &kw, &kl, &n, err, sizeof err))
		goto fail;
	if (!(k = embark_keys_load(keyf, err, sizeof err)))
		goto fail;
	if (embark_kw_rules_encrypt_mode(k, kw, kl, n, mode, &r)) {
		snprintf(err, sizeof err, "encryption failed");
		goto fail;
	}
	const char *const inputs[] = {in, keyf};
	FILE *g = atomic_open_text(&o, out, inputs, 2, err, sizeof err);
	if (!g)
		goto fail;
	embark_kw_rules_write(g, &r);
	if (atomic_commit(&o, err, sizeof err))
		goto fail;
	fprintf(stderr, "embark-rules: %zu keywords -> %zu encrypted pieces\n", n, r.n);
	rc = 0;
	goto done;
fail:
	fprintf(stderr, "embark-rules: %s\n", err);
	atomic_abort(&o);
done:
	embark_kw_rules_free(&r);
	embark_keywords_free(kw, kl, n);
	free(text);
	embark_keys_free(k);
	return rc;
}

int main(int argc, char **argv)
{
	if (argc >= 2 && (!strcmp(argv[1], "--help") || !strcmp(argv[1], "-h"))) {
		usage(stdout);
		return 0;
	}
	if (argc < 2) {
		usage(stderr);
		return 2;
	}
	if (strcmp(argv[1], "encrypt") && strcmp(argv[1], "keywords")) {
		fprintf(stderr, "embark-rules: unknown command '%s' (encrypt or keywords; --help)\n", argv[1]);
		return 2;
	}
	const char *key = NULL, *in = NULL, *out = NULL, *pools = NULL, *pools_out = NULL;
	int prefix_len = 0, mode = EMBARK_TOKENS_WINDOW;
	bool mode_set = false;
	static const struct option opts[] = {{"key", 1, 0, 'k'},    {"in", 1, 0, 'i'},        {"out", 1, 0, 'o'},
					     {"pools", 1, 0, 'p'},  {"pools-out", 1, 0, 'P'}, {"prefix-len", 1, 0, 'l'},
					     {"tokens", 1, 0, 't'}, {"help", 0, 0, 'h'},      {0, 0, 0, 0}};
	struct e2_err e = {""};
	int c;
	optind = 2;
	while ((c = e2_opt_next(argc, argv, "", opts, &e)) != -1) {
		switch (c) {
		case 'k': key = optarg; break;
		case 'i': in = optarg; break;
		case 'o': out = optarg; break;
		case 'p': pools = optarg; break;
		case 'P': pools_out = optarg; break;
		case 'l':
			if (e2_num_int("--prefix-len", optarg, 1, 64, &prefix_len, &e)) {
				fprintf(stderr, "embark-rules: %s\n", e.msg);
				return 2;
			}
			break;
		case 't':
			mode_set = true;
			if ((mode = embark_tokens_mode(optarg)) < 0) {
				fprintf(stderr, "embark-rules: --tokens=%s: neither window nor delimiter\n", optarg);
				return 2;
			}
			break;
		case 'h': usage(stdout); return 0;
		default: fprintf(stderr, "embark-rules: %s\n", e.msg); return 2;
		}
	}
	if (optind != argc) {
		fprintf(stderr, "embark-rules: unexpected argument '%s': everything is given by an option\n",
			argv[optind]);
		return 2;
	}
	if (!key || !in || !out || (!!pools != !!pools_out)) {
		fprintf(stderr, "embark-rules: %s needs --key, --in and --out (and --pools with --pools-out; --help)\n",
			argv[1]);
		return 2;
	}
	if (!strcmp(argv[1], "encrypt") && mode_set) {
		fprintf(stderr, "embark-rules: --tokens only applies to 'keywords'\n");
		return 2;
	}
	if (!strcmp(argv[1], "encrypt"))
		return do_encrypt(key, in, out, pools, pools_out, prefix_len);
	if (pools) {
		fprintf(stderr, "embark-rules: --pools only applies to 'encrypt'\n");
		return 2;
	}
	return do_keywords(key, in, out, mode);
}
