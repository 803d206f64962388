/* SPDX-License-Identifier: BSD-3-Clause */
/* e2nf-httplog: the Logger of the seed's Fig. 3.7. Logs every HTTP/1.x request it sees
 * in TCP payloads to the configured ports (method, Host, target; one line each) and
 * tags the request's packet, and the later packets of its connection both ways, with
 * the `url` attribute (host + path), so that e2d can steer on it without a URL
 * classifier of its own. Per packet, no reassembly: a request line split across TCP
 * segments is counted (split_requests), not logged. A bump in the wire: port i -> i+1. */
#include <getopt.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include <arpa/inet.h>
#include <rte_mbuf.h>

#include "e2/nf.h"
#include "e2/num.h"
#include "http_req.h"
#include "url_flows.h"

struct httplog {
	struct e2nf_attr url_attr;
	bool tag, offline;
	struct http_ports ports;
	FILE *log;
	struct url_flows flows;
	uint64_t requests, tagged, untaggable, split_requests, malformed_requests, http_segments, malformed_frames,
		log_errors;
};

/* The Host header is the client's text: anything unprintable is logged as '?', so one
 * request is always one line. Returns the new length of the line. */
static size_t put_text(char *line, size_t n, size_t cap, const char *s, size_t len)
{
	for (size_t i = 0; i < len && n < cap; i++)
		line[n++] = s[i] > 0x20 && s[i] < 0x7f ? s[i] : '?';
	return n;
}

/* The line is built whole and written with one call: stdio's per-character calls take
 * the stream's lock each time, more than the rest of the request costs. */
static void log_request(struct httplog *h, struct e2nf *nf, const struct http_tcp *t, const struct http_req *r)
{
	char a[INET_ADDRSTRLEN], b[INET_ADDRSTRLEN];
	char line[HTTP_TARGET_MAX + 512];
	uint64_t ns;
	size_t n;

	if (h->offline) {
		ns = e2nf_now_ns(nf);
	} else {
		struct timespec ts;
		clock_gettime(CLOCK_REALTIME, &ts);
		ns = (uint64_t)ts.tv_sec * 1000000000ull + (uint64_t)ts.tv_nsec;
	}
	inet_ntop(AF_INET, &t->saddr, a, sizeof(a));
	inet_ntop(AF_INET, &t->daddr, b, sizeof(b));
	n = (size_t)snprintf(line, sizeof(line), "%llu.%06llu %s:%u > %s:%u %.*s ",
			     (unsigned long long)(ns / 1000000000ull), (unsigned long long)(ns % 1000000000ull / 1000),
			     a, t->sport, b, t->dport, (int)r->method_len, r->method);
	/* the host is cut at 256 bytes, the target (at most HTTP_TARGET_MAX) never */
	if (r->host && r->host_len)
		n = put_text(line, n, n + 256, r->host, r->host_len);
	else
		line[n++] = '-';
	line[n++] = ' ';
	n = put_text(line, n, sizeof(line) - 1, r->target, r->target_len);
	line[n++] = '\n';
	if (fwrite(line, 1, n, h->log) != n)
		h->log_errors++;
}

static void tag(struct httplog *h, struct rte_mbuf *m, const char *url, size_t len)
{
	if (!h->tag || len == 0)
		return;
	if (e2nf_meta_set(m, &h->url_attr, url, len) == 0)
		h->tagged++;
	else
		h->untaggable++;
}

static void httplog_packet(struct httplog *h, struct e2nf *nf, struct rte_mbuf *m)
{
	int off = e2nf_inner_offset(m);
	struct http_tcp t;

	if (off < 0) {
		h->malformed_frames++;
		return;
	}
	if (!http_tcp_parse(rte_pktmbuf_mtod_offset(m, const uint8_t *, off), m->data_len - (unsigned)off, &t))
		return;
	bool to_server = http_ports_has(&h->ports, t.dport);
	if (!to_server && !http_ports_has(&h->ports, t.sport))
		return;
	struct url_flow_key k = url_flow_key(&t);
	uint64_t now = e2nf_now_ns(nf);
	if (to_server && t.payload_len) {
		struct http_req r;
		h->http_segments++;
		switch (http_req_parse(t.payload, t.payload_len, &r)) {
		case HTTP_REQ_OK: {
			char url[HTTP_URL_MAX + 1];
			size_t n = http_req_url(&r, url);
			h->requests++;
			log_request(h, nf, &t, &r);
			if (h->tag && n) {
				url_flows_put(&h->flows, &k, url, n, now);
				tag(h, m, url, n);
				return;
			}
			break;
		}
		case HTTP_REQ_PARTIAL: h->split_requests++; break;
		case HTTP_REQ_BAD: h->malformed_requests++; break;
		case HTTP_REQ_NOT: break;
		}
	}
	if (!h->tag)
		return;
	const struct url_flow *f = url_flows_find(&h->flows, &k, now);
	if (f) {
		/* the header is rewritten in place: copy the URL out of the table first */
		char url[HTTP_URL_MAX + 1];
		size_t n = f->len;
		memcpy(url, f->url, n);
		tag(h, m, url, n);
	}
	if (t.flags & HTTP_TCP_RST)
		url_flows_del(&h->flows, &k);
}

static void httplog_rx(struct e2nf *nf, void *state, unsigned port, struct rte_mbuf **pkts, unsigned n)
{
	struct httplog *h = state;
	unsigned out = (port + 1) % e2nf_n_ports(nf);

	for (unsigned i = 0; i < n; i++) {
		httplog_packet(h, nf, pkts[i]);
		e2nf_send(nf, out, pkts[i]);
	}
}

static void httplog_timer(struct e2nf *nf, void *state, uint64_t now_ns)
{
	struct httplog *h = state;
	(void)nf;
	(void)now_ns;
	if (fflush(h->log) != 0)
		h->log_errors++;
}

static void httplog_counters(struct e2nf *nf, void *state, char *buf, size_t len)
{
	const struct httplog *h = state;
	(void)nf;
	snprintf(buf, len,
		 "requests=%llu\nsplit_requests=%llu\nmalformed_requests=%llu\nhttp_segments=%llu\n"
		 "tagged_packets=%llu\nuntaggable=%llu\nmalformed_frames=%llu\nflows_evicted=%llu\nlog_errors=%llu\n",
		 (unsigned long long)h->requests, (unsigned long long)h->split_requests,
		 (unsigned long long)h->malformed_requests, (unsigned long long)h->http_segments,
		 (unsigned long long)h->tagged, (unsigned long long)h->untaggable,
		 (unsigned long long)h->malformed_frames, (unsigned long long)h->flows.evicted,
		 (unsigned long long)h->log_errors);
}

static void usage(FILE *out)
{
	fprintf(out,
		"usage: e2nf-httplog --port SOCK --port SOCK [--log FILE] [--http-port P...] [--no-tag]\n"
		"                    [--flows N] [--check] [options]\n"
		"NAME\n"
		"  e2nf-httplog - log HTTP requests and tag their packets with the url attribute\n"
		"DESCRIPTION\n"
		"  A native NF, a bump in the wire (port i -> port i+1, the last to port 0). Every TCP\n"
		"  segment to an HTTP port whose payload begins with an HTTP/1.x request line is a\n"
		"  request: one line is logged,\n"
		"      SECONDS.USEC SRC:SPORT > DST:DPORT METHOD HOST TARGET\n"
		"  (HOST '-' without a Host header; unprintable bytes as '?'), and the packet gets\n"
		"  the url attribute: the host (lower case, no port) and the path, at most %d bytes.\n"
		"  The later packets of the connection, both ways, get the same url (a flow table of\n"
		"  --flows connections, least recently used forgotten first, idle ones after 60 s),\n"
		"  so e2d can steer the whole connection on it (nsh_match attr=url value=...).\n"
		"  Each packet is parsed alone: a request line split across segments is counted as\n"
		"  split_requests and not logged.\n"
		"OPTIONS\n"
		"  --log FILE          append the request lines to FILE (default: standard output)\n"
		"  --http-port P       a server port carrying HTTP (repeatable; default 80 and 8080)\n"
		"  --no-tag            log only: no url attribute, no flow table\n"
		"  --flows N           flow table size, 64..16777216 (4096)\n"
		"  --check             check the options and exit\n" E2NF_OPTIONS_HELP
		"  --help              this text\n"
		"COUNTERS (with libe2nf's, on `stats` and at exit)\n"
		"  requests split_requests malformed_requests http_segments tagged_packets untaggable\n"
		"  malformed_frames flows_evicted log_errors\n",
		HTTP_URL_MAX);
}

struct httplog_args {
	struct httplog *h;
	const char *log_path;
	bool check;
	uint32_t n_flows;
};

static int httplog_option(int c, const char *arg, void *ctx, struct e2_err *err)
{
	struct httplog_args *a = ctx;
	switch (c) {
	case 'L': a->log_path = arg; return 1;
	case 'T': a->h->tag = false; return 1;
	case 'c': a->check = true; return 1;
	case 'n': return e2_num_u32("--flows", arg, 64, 1u << 24, &a->n_flows, err) ? -1 : 1;
	case 'P': return http_ports_add(&a->h->ports, arg, err) ? -1 : 1;
	default: return 0;
	}
}

int main(int argc, char **argv)
{
	struct e2nf_config cfg = E2NF_CONFIG_INIT("httplog");
	static struct httplog h = {.tag = true};
	struct e2_err err;
	static const struct option own[] = {
		{"log", required_argument, NULL, 'L'}, {"http-port", required_argument, NULL, 'P'},
		{"no-tag", no_argument, NULL, 'T'},    {"flows", required_argument, NULL, 'n'},
		{"check", no_argument, NULL, 'c'},     {NULL, 0, NULL, 0}};
	struct httplog_args args = {.h = &h, .n_flows = 4096};
	int exit_now = e2nf_args(argc, argv, "e2nf-httplog", &cfg, own, httplog_option, &args, usage);
	if (exit_now >= 0)
		return exit_now;
	const char *log_path = args.log_path;
	bool check = args.check;
	uint32_t n_flows = args.n_flows;
	http_ports_default(&h.ports);
	if (e2nf_attr("url", &h.url_attr, &err) != 0) {
		fprintf(stderr, "e2nf-httplog: %s\n", err.msg);
		return 1;
	}
	if (check) {
		printf("e2nf-httplog: %u HTTP port(s), %s\n", h.ports.n, h.tag ? "tagging url" : "not tagging");
		return 0;
	}
	if (cfg.n_ports == 0) {
		fprintf(stderr, "e2nf-httplog: needs --port SOCK (see --help)\n");
		return 2;
	}
	h.log = stdout;
	if (log_path) {
		h.log = fopen(log_path, "a");
		if (!h.log) {
			fprintf(stderr, "e2nf-httplog: --log %s: %m\n", log_path);
			return 2;
		}
	}
	if (h.tag && url_flows_init(&h.flows, n_flows) != 0) {
		fprintf(stderr, "e2nf-httplog: no memory for %u flows\n", n_flows);
		return 1;
	}
	h.offline = cfg.offline_dir != NULL;
	cfg.timer_ms = 1000;
	struct e2nf *nf = e2nf_open(&cfg, &err);
	if (!nf) {
		fprintf(stderr, "e2nf-httplog: %s\n", err.msg);
		return 1;
	}
	const struct e2nf_ops ops = {.rx = httplog_rx, .timer = httplog_timer, .counters = httplog_counters};
	int rc = e2nf_run(nf, &ops, &h);
	fflush(h.log);
	char stats[4096];
	e2nf_format_counters(nf, stats, sizeof(stats));
	fputs(stats, stdout);
	fflush(stdout);
	e2nf_close(nf);
	if (h.log != stdout)
		fclose(h.log);
	url_flows_free(&h.flows);
	return rc < 0 ? 1 : 0;
}
