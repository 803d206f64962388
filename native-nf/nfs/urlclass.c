/* SPDX-License-Identifier: BSD-3-Clause */
/* e2nf-urlclass: the URL classifier of the seed's Fig. 3.7 strawman (Logger -> E2D ->
 * URL-Classifier -> E2D -> CDN). Each packet from port 0 gets its URL's category from a
 * category file and leaves by that category's output port, carrying the category as
 * the tclass attribute (1 + the category's index in the file); the URL is the packet's
 * url attribute when an NF before it (e2nf-httplog) set one, otherwise the request it
 * parses itself (the same parser), remembered per connection for the later packets.
 * Packets from any other port go back to port 0. */
#include <getopt.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <rte_mbuf.h>

#include "e2/file.h"
#include "e2/nf.h"
#include "e2/num.h"
#include "http_req.h"
#include "url_categories.h"
#include "url_flows.h"

struct urlclass {
	struct urlcat_set cats;
	struct e2nf_attr url_attr, tclass_attr;
	unsigned out[URLCAT_MAX + 1]; /* by category; [URLCAT_MAX]: uncategorized */
	struct http_ports ports;
	struct url_flows flows;
	uint64_t cat_packets[URLCAT_MAX + 1];
	uint64_t tag_used, parsed, from_flow, no_url, split_requests, malformed_requests, malformed_frames, untaggable,
		returned;
};

/* The packet's category, -1 for none. */
static int classify(struct urlclass *u, struct e2nf *nf, struct rte_mbuf *m)
{
	char url[HTTP_URL_MAX + 1];
	int n = e2nf_meta_get(m, &u->url_attr, url, HTTP_URL_MAX);

	if (n > 0) {
		u->tag_used++;
		return urlcat_match(&u->cats, url, n < HTTP_URL_MAX ? (size_t)n : HTTP_URL_MAX);
	}
	int off = e2nf_inner_offset(m);
	struct http_tcp t;
	if (n < 0 || off < 0) {
		u->malformed_frames++;
		return -1;
	}
	if (!http_tcp_parse(rte_pktmbuf_mtod_offset(m, const uint8_t *, off), m->data_len - (unsigned)off, &t) ||
	    (!http_ports_has(&u->ports, t.dport) && !http_ports_has(&u->ports, t.sport))) {
		u->no_url++;
		return -1;
	}
	struct url_flow_key k = url_flow_key(&t);
	uint64_t now = e2nf_now_ns(nf);
	if (http_ports_has(&u->ports, t.dport) && t.payload_len) {
		struct http_req r;
		switch (http_req_parse(t.payload, t.payload_len, &r)) {
		case HTTP_REQ_OK: {
			size_t len = http_req_url(&r, url);
			if (!len)
				break;
			u->parsed++;
			struct url_flow *f = url_flows_put(&u->flows, &k, url, len, now);
			f->cat = (int16_t)urlcat_match(&u->cats, url, len);
			return f->cat;
		}
		case HTTP_REQ_PARTIAL: u->split_requests++; break;
		case HTTP_REQ_BAD: u->malformed_requests++; break;
		case HTTP_REQ_NOT: break;
		}
	}
	const struct url_flow *f = url_flows_find(&u->flows, &k, now);
	int cat = f ? f->cat : -1;
	if (f)
		u->from_flow++;
	else
		u->no_url++;
	if (t.flags & HTTP_TCP_RST)
		url_flows_del(&u->flows, &k);
	return cat;
}

static void urlclass_rx(struct e2nf *nf, void *state, unsigned port, struct rte_mbuf **pkts, unsigned n)
{
	struct urlclass *u = state;

	if (port != 0) {
		for (unsigned i = 0; i < n; i++)
			e2nf_send(nf, 0, pkts[i]);
		u->returned += n;
		return;
	}
	for (unsigned i = 0; i < n; i++) {
		int cat = classify(u, nf, pkts[i]);
		unsigned slot = cat < 0 ? URLCAT_MAX : (unsigned)cat;
		u->cat_packets[slot]++;
		if (cat >= 0 && e2nf_meta_set_u64(pkts[i], &u->tclass_attr, (uint64_t)cat + 1) != 0)
			u->untaggable++;
		e2nf_send(nf, u->out[slot], pkts[i]);
	}
}

static void urlclass_counters(struct e2nf *nf, void *state, char *buf, size_t len)
{
	const struct urlclass *u = state;
	size_t o;
	(void)nf;
	o = (size_t)snprintf(buf, len,
			     "tag_used=%llu\nparsed=%llu\nfrom_flow=%llu\nno_url=%llu\nsplit_requests=%llu\n"
			     "malformed_requests=%llu\nmalformed_frames=%llu\nuntaggable=%llu\nreturned=%llu\n"
			     "flows_evicted=%llu\n",
			     (unsigned long long)u->tag_used, (unsigned long long)u->parsed,
			     (unsigned long long)u->from_flow, (unsigned long long)u->no_url,
			     (unsigned long long)u->split_requests, (unsigned long long)u->malformed_requests,
			     (unsigned long long)u->malformed_frames, (unsigned long long)u->untaggable,
			     (unsigned long long)u->returned, (unsigned long long)u->flows.evicted);
	for (unsigned i = 0; i < u->cats.n_cats && o < len; i++)
		o += (size_t)snprintf(buf + o, len - o, "cat_%s_packets=%llu\n", u->cats.names[i],
				      (unsigned long long)u->cat_packets[i]);
	if (o < len)
		snprintf(buf + o, len - o, "cat_%s_packets=%llu\n", URLCAT_UNCATEGORIZED,
			 (unsigned long long)u->cat_packets[URLCAT_MAX]);
}

static void usage(FILE *out)
{
	fprintf(out,
		"usage: e2nf-urlclass --categories FILE --port SOCK --port SOCK... [--out CATEGORY=PORT...]\n"
		"                     [--http-port P...] [--flows N] [--check] [options]\n"
		"NAME\n"
		"  e2nf-urlclass - steer HTTP traffic by the category of its URL\n"
		"DESCRIPTION\n"
		"  A native NF: packets from port 0 leave by their category's output port (--out;\n"
		"  default port 1), carrying the attribute tclass = 1 + the category's index in the\n"
		"  file (uncategorized packets carry none); packets from other ports go to port 0.\n"
		"  A packet's URL is its url attribute (set by e2nf-httplog before it) or, without\n"
		"  one, the HTTP/1.x request it carries (same parser as e2nf-httplog; host lower case\n"
		"  without port, then the path, at most %d bytes); later packets of a connection\n"
		"  whose request was parsed here take its category from a flow table (--flows).\n"
		"CATEGORY FILE\n"
		"  One rule a line, `CATEGORY PATTERN`, '#' to the end of a line is a comment; the\n"
		"  first matching rule wins. PATTERN is a host suffix (.example.com: example.com and\n"
		"  every name under it), an exact host (www.example.com) or a host + path prefix\n"
		"  (example.com/video/). Up to %d categories; '%s' names URLs no rule matches.\n"
		"  Errors say FILE:LINE: problem.\n"
		"OPTIONS\n"
		"  --categories FILE   the category file (required)\n"
		"  --out CAT=PORT      send category CAT (or %s) out of port PORT (repeatable)\n"
		"  --http-port P       a server port carrying HTTP (repeatable; default 80 and 8080)\n"
		"  --flows N           flow table size, 64..16777216 (4096)\n"
		"  --check             check the category file and --out, print a summary, exit\n" E2NF_OPTIONS_HELP
		"  --help              this text\n"
		"COUNTERS (with libe2nf's, on `stats` and at exit)\n"
		"  tag_used (URL from the url attribute) parsed (from the packet's own request)\n"
		"  from_flow no_url split_requests malformed_requests malformed_frames untaggable\n"
		"  returned flows_evicted cat_CATEGORY_packets cat_%s_packets\n",
		HTTP_URL_MAX, URLCAT_MAX, URLCAT_UNCATEGORIZED, URLCAT_UNCATEGORIZED, URLCAT_UNCATEGORIZED);
}

#define OUTS_MAX (URLCAT_MAX + 1)

struct urlclass_args {
	struct urlclass *u;
	const char *cat_path, *outs[OUTS_MAX];
	unsigned n_outs;
	bool check;
	uint32_t n_flows;
};

static int urlclass_option(int c, const char *arg, void *ctx, struct e2_err *err)
{
	struct urlclass_args *a = ctx;
	switch (c) {
	case 'C': a->cat_path = arg; return 1;
	case 'c': a->check = true; return 1;
	case 'n': return e2_num_u32("--flows", arg, 64, 1u << 24, &a->n_flows, err) ? -1 : 1;
	case 'o':
		if (a->n_outs == OUTS_MAX) {
			e2_seterr(err, "--out: at most %d", OUTS_MAX);
			return -1;
		}
		a->outs[a->n_outs++] = arg;
		return 1;
	case 'P': return http_ports_add(&a->u->ports, arg, err) ? -1 : 1;
	default: return 0;
	}
}

int main(int argc, char **argv)
{
	struct e2nf_config cfg = E2NF_CONFIG_INIT("urlclass");
	static struct urlclass u;
	struct e2_err err;
	static const struct option own[] = {{"categories", required_argument, NULL, 'C'},
					    {"out", required_argument, NULL, 'o'},
					    {"http-port", required_argument, NULL, 'P'},
					    {"flows", required_argument, NULL, 'n'},
					    {"check", no_argument, NULL, 'c'},
					    {NULL, 0, NULL, 0}};
	static struct urlclass_args args = {.u = &u, .n_flows = 4096};
	int exit_now = e2nf_args(argc, argv, "e2nf-urlclass", &cfg, own, urlclass_option, &args, usage);
	if (exit_now >= 0)
		return exit_now;
	const char *cat_path = args.cat_path;
	const char *const *outs = args.outs;
	unsigned n_outs = args.n_outs;
	bool check = args.check;
	uint32_t n_flows = args.n_flows;
	if (!cat_path) {
		fprintf(stderr, "e2nf-urlclass: needs --categories FILE (see --help)\n");
		return 2;
	}
	http_ports_default(&u.ports);
	size_t len;
	char *text = e2nf_read_text("e2nf-urlclass", "categories", cat_path, 16u << 20, &len);
	if (!text)
		return 2;
	int rc = urlcat_parse(text, len, cat_path, &u.cats, &err);
	free(text);
	if (rc != 0) {
		fprintf(stderr, "e2nf-urlclass: %s\n", err.msg);
		return 2;
	}
	for (unsigned i = 0; i <= URLCAT_MAX; i++)
		u.out[i] = 1;
	for (unsigned i = 0; i < n_outs; i++) {
		const char *eq = strchr(outs[i], '=');
		char name[URLCAT_NAME_MAX + 1];
		uint32_t p;
		if (!eq || (size_t)(eq - outs[i]) > URLCAT_NAME_MAX) {
			fprintf(stderr, "e2nf-urlclass: --out takes CATEGORY=PORT, not '%s'\n", outs[i]);
			return 2;
		}
		snprintf(name, sizeof(name), "%.*s", (int)(eq - outs[i]), outs[i]);
		int cat = strcmp(name, URLCAT_UNCATEGORIZED) == 0 ? URLCAT_MAX : urlcat_find(&u.cats, name);
		if (cat < 0) {
			fprintf(stderr, "e2nf-urlclass: --out %s: %s has no category '%s'\n", outs[i], cat_path, name);
			return 2;
		}
		if (e2_num_u32("--out PORT", eq + 1, 0, E2NF_PORTS_MAX - 1, &p, &err) != 0) {
			fprintf(stderr, "e2nf-urlclass: --out %s: %s\n", outs[i], err.msg);
			return 2;
		}
		if (!check && p >= cfg.n_ports) {
			fprintf(stderr, "e2nf-urlclass: --out %s: there are only %u --port\n", outs[i], cfg.n_ports);
			return 2;
		}
		u.out[cat] = p;
	}
	if (e2nf_attr("url", &u.url_attr, &err) != 0 || e2nf_attr("tclass", &u.tclass_attr, &err) != 0) {
		fprintf(stderr, "e2nf-urlclass: %s\n", err.msg);
		return 1;
	}
	if (check) {
		printf("%s: %u rules, %u categories\n", cat_path, u.cats.n, u.cats.n_cats);
		urlcat_free(&u.cats);
		return 0;
	}
	if (cfg.n_ports < 2) {
		fprintf(stderr, "e2nf-urlclass: needs at least two --port (input, then outputs)\n");
		urlcat_free(&u.cats);
		return 2;
	}
	if (url_flows_init(&u.flows, n_flows) != 0) {
		fprintf(stderr, "e2nf-urlclass: no memory for %u flows\n", n_flows);
		return 1;
	}
	struct e2nf *nf = e2nf_open(&cfg, &err);
	if (!nf) {
		fprintf(stderr, "e2nf-urlclass: %s\n", err.msg);
		return 1;
	}
	const struct e2nf_ops ops = {.rx = urlclass_rx, .counters = urlclass_counters};
	rc = e2nf_run(nf, &ops, &u);
	char stats[8192];
	e2nf_format_counters(nf, stats, sizeof(stats));
	fputs(stats, stdout);
	fflush(stdout);
	e2nf_close(nf);
	urlcat_free(&u.cats);
	url_flows_free(&u.flows);
	return rc < 0 ? 1 : 0;
}
