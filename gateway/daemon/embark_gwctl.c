/* SPDX-License-Identifier: BSD-3-Clause */
/* embark-gwctl: talks to embark-gw's control socket, or listens on its extension channel.
 *   embark-gwctl [--ctl URL] [--chan-key F] status
 *   embark-gwctl [--ctl URL] rules FILE [--pools F] [--key-id ID] [--prepare] [--out F] [--pools-out F]
 *   embark-gwctl [--ctl URL] key FILE [--prepare] [--out F]
 *   embark-gwctl [--ctl URL] activate EPOCH
 *   embark-gwctl --ext URL listen [--count N] [--seconds S] [--uri-key K] [--keywords ENC]
 * listen prints one line per record: "tokens EPOCH FLOWHEX SALT0 N", "uri EPOCH FLOWHEX
 * HEX" (and, with --uri-key, the URI in clear: a test's view, not a middlebox's) and, with
 * --keywords (an `embark-rules keywords` file), "match EPOCH FLOWHEX RULE" per match. */
#include <errno.h>
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "e2/chan.h"
#include "e2/file.h"
#include "e2/num.h"
#include "e2/opts.h"
#include "embark.h"
#include "embark_gw.pb-c.h"
#include "ext_record.h"

static void usage(FILE *f)
{
	fprintf(f,
		"usage: embark-gwctl [--ctl URL] [--chan-key F] status | rules FILE [--pools F] [--key-id ID]\n"
		"                    [--prepare] [--send] [--out F] | key FILE [--prepare] [--out F] | activate EPOCH\n"
		"       (rules --send: the files' contents go with the request, for a gateway that cannot\n"
		"        read them, e.g. the appliance VM; else the gateway reads FILE itself)\n"
		"       embark-gwctl --ext URL listen [--count N] [--seconds S] [--uri-key K] [--keywords F]\n");
}

static void hex(FILE *f, const uint8_t *p, size_t n)
{
	for (size_t i = 0; i < n; i++)
		fprintf(f, "%02x", p[i]);
}

static uint64_t mono_ms(void)
{
	struct timespec ts;
	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (uint64_t)ts.tv_sec * 1000 + (uint64_t)ts.tv_nsec / 1000000;
}

struct flowm {
	uint8_t flow[EXT_FLOW_ID_LEN];
	uint64_t salt0;
	embark_km_matcher *m;
};

static int listen_ext(const char *url, const struct e2_chan_key *key, uint64_t count, double seconds,
		      const char *uri_key, const char *keywords)
{
	struct e2_err err = {0};
	char msg[512];
	embark_keys *uk = NULL;
	embark_kw_rules kw = {0};
	struct flowm flows[256];
	size_t nflows = 0;
	if (uri_key && !(uk = embark_keys_load(uri_key, msg, sizeof msg))) {
		fprintf(stderr, "embark-gwctl: %s\n", msg);
		return 1;
	}
	if (keywords) {
		size_t len;
		char *text = e2_read_file(keywords, E2_FILE_MAX_DEFAULT, &len, &err);
		if (!text || embark_kw_rules_parse(text, len, keywords, &kw, msg, sizeof msg) != 0) {
			fprintf(stderr, "embark-gwctl: %s\n", text ? msg : err.msg);
			free(text);
			return 1;
		}
		free(text);
	}
	struct e2_chan *sub = e2_chan_new(E2_CHAN_SUB, "embark-gwctl", key, &err);
	if (!sub || e2_chan_connect(sub, url, &err) != 0) {
		fprintf(stderr, "embark-gwctl: %s: %s\n", url, err.msg);
		return 1;
	}
	struct ext_codec *codec = ext_codec_new();
	if (!codec) {
		fprintf(stderr, "embark-gwctl: out of memory\n");
		e2_chan_close(sub);
		return 1;
	}
	ext_codec_wire_only(codec); /* tokens are counted, or matched where they lie */
	uint64_t end = mono_ms() + (uint64_t)(seconds * 1000), got = 0;
	while (got < count && mono_ms() < end) {
		void *body;
		size_t len;
		char sender[E2_CHAN_SENDER_MAX + 1];
		if (e2_chan_recv(sub, &body, &len, sender, 100, &err) != 0)
			continue;
		struct ext_record r;
		int rc = ext_record_decode(codec, body, len, &r, &err);
		free(body);
		if (rc != 0) {
			fprintf(stderr, "embark-gwctl: %s\n", err.msg);
			continue;
		}
		got++;
		if (r.uri_len) {
			printf("uri %u ", r.epoch);
			hex(stdout, r.flow, EXT_FLOW_ID_LEN);
			printf(" ");
			hex(stdout, r.uri, r.uri_len);
			if (uk && r.uri_len > 16) {
				uint8_t *plain = malloc(r.uri_len);
				if (plain && embark_uri_decrypt(uk, r.uri, r.uri_len, plain) == 0)
					printf(" %.*s", (int)(r.uri_len - 16), plain);
				free(plain);
			}
			printf("\n");
		}
		if (r.ntokens) {
			printf("tokens %u ", r.epoch);
			hex(stdout, r.flow, EXT_FLOW_ID_LEN);
			printf(" %" PRIu64 " %zu\n", r.salt0, r.ntokens);
		}
		if (kw.n && r.ntokens) {
			struct flowm *fm = NULL;
			for (size_t i = 0; i < nflows && !fm; i++)
				if (!memcmp(flows[i].flow, r.flow, EXT_FLOW_ID_LEN))
					fm = &flows[i];
			if (!fm && nflows < 256) {
				fm = &flows[nflows++];
				memcpy(fm->flow, r.flow, EXT_FLOW_ID_LEN);
				fm->salt0 = r.salt0;
				fm->m = embark_km_matcher_new(&kw, r.salt0);
			}
			if (fm && fm->m) {
				if (fm->salt0 != r.salt0) {
					embark_km_matcher_reset(fm->m, r.salt0);
					fm->salt0 = r.salt0;
				}
				embark_km_hit hits[64];
				embark_tokens_wire w;
				embark_tokens_wire_init(&w, r.token_wire, r.token_wire_len, r.runs, r.runs_len);
				while (w.next < w.n) {
					size_t k = embark_km_match_wire(fm->m, &w, hits, 64);
					for (size_t j = 0; j < k; j++) {
						printf("match %u ", r.epoch);
						hex(stdout, r.flow, EXT_FLOW_ID_LEN);
						printf(" %u\n", hits[j].rule);
					}
				}
			}
		}
		fflush(stdout);
	}
	for (size_t i = 0; i < nflows; i++)
		embark_km_matcher_free(flows[i].m);
	embark_kw_rules_free(&kw);
	embark_keys_free(uk);
	e2_chan_close(sub);
	ext_codec_free(codec);
	return 0;
}

/* The gateway reads the files itself: it gets absolute names. */
static char *abs_path(const char *p, char buf[4096])
{
	return realpath(p, buf) ? buf : (char *)p;
}

static int write_file(const char *path, const void *data, size_t len)
{
	struct e2_err err = {0};
	struct e2_out out;
	if (e2_out_open(&out, path, NULL, 0, &err) != 0 || fwrite(data, 1, len, out.f) != len ||
	    e2_out_commit(&out, &err) != 0) {
		fprintf(stderr, "embark-gwctl: %s: %s\n", path, err.msg[0] ? err.msg : strerror(errno));
		return -1;
	}
	return 0;
}

/* The pool values as `NAME HEX` lines (embark-rules --pools-out's format). */
static bool write_pools(const char *path, const E2__Embark__Response *r)
{
	char *text = NULL;
	size_t len = 0;
	FILE *f = open_memstream(&text, &len);
	if (!f)
		return false;
	embark_u128 *v = calloc(r->n_enc_pools ? r->n_enc_pools : 1, sizeof(*v));
	bool ok = v != NULL;
	for (size_t i = 0; ok && i < r->n_enc_pools; i++) {
		ok = r->enc_pools[i].len == 16 && r->enc_pool_names[i][0] && !strpbrk(r->enc_pool_names[i], " \t\r\n#");
		for (size_t j = 0; ok && j < 16; j++)
			v[i] = v[i] << 8 | r->enc_pools[i].data[j];
	}
	if (ok) {
		char hdr[96];
		snprintf(hdr, sizeof hdr, "embark-gw epoch %u: encrypted pool values, %zu addresses", r->epoch,
			 r->n_enc_pools);
		embark_pool_values_write(f, (const char *const *)r->enc_pool_names, v, r->n_enc_pools, hdr);
	}
	free(v);
	ok = fclose(f) == 0 && ok && write_file(path, text, len) == 0;
	free(text);
	return ok;
}

int main(int argc, char **argv)
{
	static const struct option longs[] = {
		{"ctl", required_argument, NULL, 'c'},
		{"ext", required_argument, NULL, 'x'},
		{"chan-key", required_argument, NULL, 'K'},
		{"pools", required_argument, NULL, 'p'},
		{"key-id", required_argument, NULL, 'i'},
		{"prepare", no_argument, NULL, 'P'},
		{"out", required_argument, NULL, 'o'},
		{"pools-out", required_argument, NULL, 'O'},
		{"count", required_argument, NULL, 'n'},
		{"seconds", required_argument, NULL, 's'},
		{"uri-key", required_argument, NULL, 'u'},
		{"keywords", required_argument, NULL, 'w'},
		{"send", no_argument, NULL, 'S'},
		{"help", no_argument, NULL, 'h'},
		{NULL, 0, NULL, 0},
	};
	const char *ctl_url = "ipc:///run/e2/embark-gw.sock", *ext_url = NULL, *chan_key = NULL, *pools = NULL,
		   *key_id = NULL, *out = NULL, *pools_out = NULL, *uri_key = NULL, *keywords = NULL;
	bool prepare = false, send = false;
	uint64_t count = UINT64_MAX;
	double seconds = 10;
	struct e2_err err = {0};
	int ch;
	while ((ch = e2_opt_next(argc, argv, "", longs, &err)) != -1) {
		switch (ch) {
		case 'c': ctl_url = optarg; break;
		case 'x': ext_url = optarg; break;
		case 'K': chan_key = optarg; break;
		case 'p': pools = optarg; break;
		case 'i': key_id = optarg; break;
		case 'P': prepare = true; break;
		case 'S': send = true; break;
		case 'o': out = optarg; break;
		case 'O': pools_out = optarg; break;
		case 'n':
			if (e2_num_u64("--count", optarg, 1, UINT64_MAX, &count, &err))
				goto bad;
			break;
		case 's':
			if (e2_num_double("--seconds", optarg, 0.1, 86400, &seconds, &err))
				goto bad;
			break;
		case 'u': uri_key = optarg; break;
		case 'w': keywords = optarg; break;
		case 'h': usage(stdout); return 0;
		case E2_OPT_BAD: goto bad;
		default: fprintf(stderr, "embark-gwctl: option %d is not handled (a bug)\n", ch); return 2;
		}
	}
	if (optind >= argc) {
		usage(stderr);
		return 2;
	}
	struct e2_chan_key key, *kp = NULL;
	if (chan_key) {
		if (e2_chan_key_load(chan_key, &key, &err) != 0)
			goto bad;
		kp = &key;
	}
	const char *verb = argv[optind];
	if (!strcmp(verb, "listen")) {
		if (!ext_url || optind + 1 != argc) {
			usage(stderr);
			return 2;
		}
		return listen_ext(ext_url, kp, count, seconds, uri_key, keywords);
	}
	E2__Embark__Request rq = E2__EMBARK__REQUEST__INIT;
	E2__Embark__Empty empty = E2__EMBARK__EMPTY__INIT;
	E2__Embark__RuleUpdate ru = E2__EMBARK__RULE_UPDATE__INIT;
	E2__Embark__KeyUpdate ku = E2__EMBARK__KEY_UPDATE__INIT;
	E2__Embark__Activate ac = E2__EMBARK__ACTIVATE__INIT;
	rq.version = E2__EMBARK__VERSION__VERSION_CURRENT;
	char abs[4096], abs_pools[4096];
	if (!strcmp(verb, "status") && optind + 1 == argc) {
		rq.op_case = E2__EMBARK__REQUEST__OP_STATUS;
		rq.status = &empty;
	} else if (!strcmp(verb, "rules") && optind + 2 == argc) {
		ru.rules_path = abs_path(argv[optind + 1], abs);
		ru.pools_path = pools ? abs_path(pools, abs_pools) : NULL;
		ru.key_id = (char *)key_id;
		ru.activate = !prepare;
		if (send) {
			size_t n;
			ru.inline_ = true;
			ru.rules_text.data = (uint8_t *)e2_read_file(argv[optind + 1], E2_FILE_MAX_DEFAULT, &n, &err);
			ru.rules_text.len = n;
			if (!ru.rules_text.data)
				goto unreadable;
			if (pools) {
				ru.pools_text.data = (uint8_t *)e2_read_file(pools, E2_FILE_MAX_DEFAULT, &n, &err);
				ru.pools_text.len = n;
				if (!ru.pools_text.data)
					goto unreadable;
			}
		}
		rq.op_case = E2__EMBARK__REQUEST__OP_RULES;
		rq.rules = &ru;
	} else if (!strcmp(verb, "key") && optind + 2 == argc) {
		ku.key_path = abs_path(argv[optind + 1], abs);
		ku.activate = !prepare;
		rq.op_case = E2__EMBARK__REQUEST__OP_KEY;
		rq.key = &ku;
	} else if (!strcmp(verb, "activate") && optind + 2 == argc) {
		uint32_t e;
		if (e2_num_u32("EPOCH", argv[optind + 1], 1, UINT32_MAX, &e, &err))
			goto bad;
		ac.epoch = e;
		rq.op_case = E2__EMBARK__REQUEST__OP_ACTIVATE;
		rq.activate = &ac;
	} else {
		usage(stderr);
		return 2;
	}
	size_t len = e2__embark__request__get_packed_size(&rq);
	uint8_t *buf = malloc(len ? len : 1);
	if (!buf)
		return 1;
	e2__embark__request__pack(&rq, buf);
	free(ru.rules_text.data);
	free(ru.pools_text.data);
	char sender[64];
	snprintf(sender, sizeof sender, "embark-gwctl:%d", (int)getpid());
	struct e2_chan *c = e2_chan_new(E2_CHAN_REQ, sender, kp, &err);
	void *reply = NULL;
	size_t rlen = 0;
	if (!c || e2_chan_connect(c, ctl_url, &err) != 0 ||
	    e2_chan_call(c, buf, len, &reply, &rlen, 20000, &err) != 0) {
		free(buf);
		e2_chan_close(c);
		fprintf(stderr, "embark-gwctl: %s: %s\n", ctl_url, err.msg);
		return 1;
	}
	free(buf);
	e2_chan_close(c);
	E2__Embark__Response *r = e2__embark__response__unpack(NULL, rlen, reply);
	free(reply);
	if (!r) {
		fprintf(stderr, "embark-gwctl: the reply does not decode\n");
		return 1;
	}
	int rc = 0;
	if (r->code) {
		fprintf(stderr, "embark-gwctl: refused (%s): %s\n", strerror(r->code), r->error);
		rc = 1;
	} else if (rq.op_case == E2__EMBARK__REQUEST__OP_STATUS) {
		printf("epoch %u\n", r->epoch);
		for (size_t i = 0; i < r->n_epochs; i++) {
			E2__Embark__EpochInfo *e = r->epochs[i];
			printf("epoch_%u state=%s key=%s rules=%u encrypted=%" PRIu64 " decrypted=%" PRIu64
			       " flows=%" PRIu64 "\n",
			       e->epoch, e->state, e->key_id, e->rules, e->encrypted, e->decrypted, e->flows);
		}
		for (size_t i = 0; i < r->n_counters; i++)
			printf("%s %" PRIu64 "\n", r->counters[i]->name, r->counters[i]->value);
	} else {
		printf("epoch %u %s\n", r->epoch,
		       rq.op_case == E2__EMBARK__REQUEST__OP_ACTIVATE ? "current"
		       : prepare                                      ? "prepared"
								      : "current");
		if (out && r->enc_rules && write_file(out, r->enc_rules, strlen(r->enc_rules)) != 0)
			rc = 1;
		if (pools_out && (r->n_enc_pool_names != r->n_enc_pools || !write_pools(pools_out, r))) {
			fprintf(stderr, "embark-gwctl: %s: not written\n", pools_out);
			rc = 1;
		}
	}
	e2__embark__response__free_unpacked(r, NULL);
	return rc;
bad:
	fprintf(stderr, "embark-gwctl: %s\n", err.msg);
	return 2;
unreadable:
	free(ru.rules_text.data);
	fprintf(stderr, "embark-gwctl: %s\n", err.msg);
	return 1;
}
