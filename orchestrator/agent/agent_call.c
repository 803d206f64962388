/* SPDX-License-Identifier: BSD-3-Clause */
/* e2-agent-call: talks to an e2-agent over its sealed channels, as the controller and
 * the hook do. For tests and for an operator's look at one server:
 *
 *   e2-agent-call --url URL [--key FILE] report
 *   e2-agent-call --url URL [--key FILE] apply SPEC.bin     (an encoded e2.ctl.ServerSpec;
 *                                                            protoc-c --encode writes one)
 *   e2-agent-call --url URL [--key FILE] start INSTANCE
 *   e2-agent-call --url URL hook DOMAIN OP SUBOP EXTRA [INSTANCE [SERVER]]
 *   e2-agent-call --url URL [--key FILE] events [--count N] [--seconds S]
 *   e2-agent-call --url URL --key FILE probe
 *
 * `probe` tries what a stranger on the management network could: a request sealed
 * under another key, one sealed request sent twice, a sealed request cut short. Each
 * must go unanswered, and the agent's report must count each refusal; exit 0 if so.
 *
 * Prints the report (or the events) one fact per line for scripts to read. Exit status:
 * 0, 1 when the agent answered with an error, 2 when it did not answer or on bad use. */
#include <errno.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include <nanomsg/nn.h>
#include <nanomsg/reqrep.h>

#include "e2/chan.h"
#include "e2/opts.h"
#include "e2/ctlnames.h"
#include "e2/file.h"
#include "e2/num.h"
#include "e2ctl.pb-c.h"

static void print_status(const char *prefix, const E2__Ctl__InstanceStatus *s)
{
	printf("%s %s %s since=%llu detail=%s\n", prefix, s->name, e2_instance_state_name(s->state),
	       (unsigned long long)s->since_ns, s->detail);
}

static void print_report(const E2__Ctl__AgentReport *r)
{
	printf("server %s\n", r->server);
	printf("generation %llu\n", (unsigned long long)r->generation);
	printf("e2d_running %d\n", r->e2d_running ? 1 : 0);
	printf("e2d_pid %llu\n", (unsigned long long)r->e2d_pid);
	printf("e2d_restarts %u\n", r->e2d_restarts);
	printf("boot %llu\n", (unsigned long long)r->boot);
	for (size_t k = 0; k < r->n_instances; k++)
		print_status("instance", r->instances[k]);
	for (size_t k = 0; k < r->n_refused; k++)
		printf("refused %s %llu\n", r->refused[k]->reason, (unsigned long long)r->refused[k]->count);
}

static int usage_to(FILE *f)
{
	fprintf(f, "usage: e2-agent-call --url URL [--key FILE] [--sender NAME] [--timeout MS]\n"
		   "         report | apply SPEC.bin | start INSTANCE |\n"
		   "         hook DOMAIN OP SUBOP EXTRA [INSTANCE [SERVER]] |\n"
		   "         events [--count N] [--seconds S] | probe\n");
	return 2;
}

static int usage(void)
{
	return usage_to(stderr);
}

static int follow(const char *url, const struct e2_chan_key *key, int argc, char **argv)
{
	int64_t count = -1;
	double seconds = -1;
	struct e2_err err;
	for (int i = 0; i < argc; i++) {
		int bad;
		if (!strcmp(argv[i], "--count") && i + 1 < argc)
			bad = e2_num_i64("--count", argv[++i], 1, INT64_MAX, &count, &err);
		else if (!strcmp(argv[i], "--seconds") && i + 1 < argc)
			bad = e2_num_duration("--seconds", argv[++i], 0, 1e6, &seconds, &err);
		else
			return usage();
		if (bad) {
			fprintf(stderr, "e2-agent-call: %s\n", err.msg);
			return 2;
		}
	}
	struct e2_chan *sub = e2_chan_new(E2_CHAN_SUB, "e2-agent-call", key, &err);
	if (!sub || e2_chan_connect(sub, url, &err)) {
		fprintf(stderr, "e2-agent-call: %s: %s\n", url, err.msg);
		return 2;
	}
	struct timespec t0, now;
	clock_gettime(CLOCK_MONOTONIC, &t0);
	for (int64_t seen = 0; count < 0 || seen < count;) {
		clock_gettime(CLOCK_MONOTONIC, &now);
		double spent = (double)(now.tv_sec - t0.tv_sec) + (double)(now.tv_nsec - t0.tv_nsec) / 1e9;
		if (seconds >= 0 && spent >= seconds)
			break;
		void *body;
		size_t len;
		char sender[E2_CHAN_SENDER_MAX + 1];
		if (e2_chan_recv(sub, &body, &len, sender, 200, &err))
			continue;
		E2__Ctl__AgentEvent *ev = e2__ctl__agent_event__unpack(NULL, len, body);
		free(body);
		if (!ev)
			continue;
		switch (ev->kind) {
		case E2__CTL__AGENT_EVENT_KIND__AGENT_HEARTBEAT:
			if (ev->report)
				printf("heartbeat server=%s generation=%llu e2d_running=%d e2d_pid=%llu e2d_restarts=%u "
				       "instances=%zu\n",
				       ev->server, (unsigned long long)ev->report->generation,
				       ev->report->e2d_running ? 1 : 0, (unsigned long long)ev->report->e2d_pid,
				       ev->report->e2d_restarts, ev->report->n_instances);
			break;
		case E2__CTL__AGENT_EVENT_KIND__AGENT_INSTANCE_STATE:
			if (ev->instance)
				print_status("instance_state", ev->instance);
			break;
		case E2__CTL__AGENT_EVENT_KIND__AGENT_E2D_EVENT:
			printf("e2d_event %s %s occupancy=%.3f rate_pps=%.0f delay_us=%.1f sent_pps=%.1f\n",
			       ev->e2d_kind, ev->e2d_name, ev->occupancy, ev->rate_pps, ev->delay_us, ev->sent_pps);
			break;
		case E2__CTL__AGENT_EVENT_KIND__AGENT_E2D_RESTARTED:
			printf("e2d_restarted server=%s e2d_pid=%llu e2d_restarts=%u\n", ev->server,
			       ev->report ? (unsigned long long)ev->report->e2d_pid : 0ull,
			       ev->report ? ev->report->e2d_restarts : 0u);
			break;
		default: printf("event kind=%d\n", ev->kind);
		}
		fflush(stdout);
		e2__ctl__agent_event__free_unpacked(ev, NULL);
		seen++;
	}
	e2_chan_close(sub);
	return 0;
}

/* Sends one request (an encoded AgentRequest or HookNotice) and prints the answer. */
static int call(const char *url, const struct e2_chan_key *key, const char *sender, int timeout_ms, const void *req,
		size_t len)
{
	struct e2_err err;
	struct e2_chan *c = e2_chan_new(E2_CHAN_REQ, sender, key, &err);
	if (!c || e2_chan_connect(c, url, &err)) {
		fprintf(stderr, "e2-agent-call: %s: %s\n", url, err.msg);
		return 2;
	}
	void *answer;
	size_t alen;
	if (e2_chan_call(c, req, len, &answer, &alen, timeout_ms, &err)) {
		fprintf(stderr, "e2-agent-call: no answer from %s: %s\n", url, err.msg);
		e2_chan_close(c);
		return 2;
	}
	e2_chan_close(c);
	E2__Ctl__AgentResponse *resp = e2__ctl__agent_response__unpack(NULL, alen, answer);
	free(answer);
	if (!resp) {
		fprintf(stderr, "e2-agent-call: the answer is not an AgentResponse\n");
		return 2;
	}
	int rc = 0;
	if (resp->code) {
		fprintf(stderr, "error: %s (code %d)\n", resp->error, resp->code);
		rc = 1;
	}
	if (resp->report)
		print_report(resp->report);
	e2__ctl__agent_response__free_unpacked(resp, NULL);
	return rc;
}

/* The agent's refusal counts, from a good report. */
static int refusals(const char *url, const struct e2_chan_key *key, uint64_t out[E2_CHAN_REFUSALS])
{
	E2__Ctl__AgentRequest req = E2__CTL__AGENT_REQUEST__INIT;
	E2__Ctl__Empty empty = E2__CTL__EMPTY__INIT;
	req.version = E2__CTL__VERSION__VERSION_CURRENT;
	req.op_case = E2__CTL__AGENT_REQUEST__OP_REPORT;
	req.report = &empty;
	uint8_t buf[64];
	size_t len = e2__ctl__agent_request__pack(&req, buf);
	struct e2_err err;
	char sender[E2_CHAN_SENDER_MAX + 1];
	snprintf(sender, sizeof(sender), "probe:%ld", (long)getpid());
	struct e2_chan *c = e2_chan_new(E2_CHAN_REQ, sender, key, &err);
	void *answer = NULL;
	size_t alen = 0;
	if (!c || e2_chan_connect(c, url, &err) || e2_chan_call(c, buf, len, &answer, &alen, 5000, &err)) {
		fprintf(stderr, "e2-agent-call: probe: no report from %s: %s\n", url, err.msg);
		e2_chan_close(c);
		return -1;
	}
	e2_chan_close(c);
	E2__Ctl__AgentResponse *resp = e2__ctl__agent_response__unpack(NULL, alen, answer);
	free(answer);
	if (!resp || !resp->report) {
		fprintf(stderr, "e2-agent-call: probe: the answer is not a report\n");
		e2__ctl__agent_response__free_unpacked(resp, NULL);
		return -1;
	}
	memset(out, 0, E2_CHAN_REFUSALS * sizeof(*out));
	for (size_t k = 0; k < resp->report->n_refused; k++)
		for (int r = 1; r < E2_CHAN_REFUSALS; r++)
			if (!strcmp(resp->report->refused[k]->reason, e2_chan_refusal_name((enum e2_chan_refusal)r)))
				out[r] = resp->report->refused[k]->count;
	e2__ctl__agent_response__free_unpacked(resp, NULL);
	return 0;
}

/* Sends raw bytes on a plain REQ socket; true if anything answered within ms. */
static bool answered(int sock, const void *bytes, size_t len, int ms)
{
	if (nn_send(sock, bytes, len, 0) < 0)
		return false;
	nn_setsockopt(sock, NN_SOL_SOCKET, NN_RCVTIMEO, &ms, sizeof(ms));
	void *msg = NULL;
	int n = nn_recv(sock, &msg, NN_MSG, 0);
	if (n >= 0)
		nn_freemsg(msg);
	return n >= 0;
}

static int probe(const char *url, const struct e2_chan_key *key)
{
	if (!key) {
		fprintf(stderr, "e2-agent-call: probe needs --key (the agent's own)\n");
		return 2;
	}
	uint64_t before[E2_CHAN_REFUSALS], after[E2_CHAN_REFUSALS];
	if (refusals(url, key, before))
		return 2;
	E2__Ctl__AgentRequest req = E2__CTL__AGENT_REQUEST__INIT;
	E2__Ctl__Empty empty = E2__CTL__EMPTY__INIT;
	req.version = E2__CTL__VERSION__VERSION_CURRENT;
	req.op_case = E2__CTL__AGENT_REQUEST__OP_REPORT;
	req.report = &empty;
	uint8_t body[64];
	size_t body_len = e2__ctl__agent_request__pack(&req, body);
	struct e2_err err;
	struct e2_chan_key other = *key;
	other.bytes[0] ^= 0x5a; /* a stranger's key */
	struct e2_chan_sealer good, forger;
	char sender[E2_CHAN_SENDER_MAX + 1];
	snprintf(sender, sizeof(sender), "probe:%ld:x", (long)getpid());
	if (e2_chan_sealer_init(&good, sender, key, &err) || e2_chan_sealer_init(&forger, sender, &other, &err)) {
		fprintf(stderr, "e2-agent-call: probe: %s\n", err.msg);
		return 2;
	}
	int sock = nn_socket(AF_SP, NN_REQ);
	int resend = 24 * 3600 * 1000;
	if (sock < 0 || nn_setsockopt(sock, NN_REQ, NN_REQ_RESEND_IVL, &resend, sizeof(resend)) < 0 ||
	    nn_connect(sock, url) < 0) {
		fprintf(stderr, "e2-agent-call: probe: %s: %s\n", url, nn_strerror(nn_errno()));
		return 2;
	}
	int bad = 0;
	void *m = NULL;
	size_t ml = 0;
	e2_chan_seal(&forger, body, body_len, &m, &ml, &err);
	bool a1 = answered(sock, m, ml, 1500);
	printf("probe forged (another key): %s\n", a1 ? "ANSWERED" : "no answer");
	free(m);
	e2_chan_seal(&good, body, body_len, &m, &ml, &err);
	bool first = answered(sock, m, ml, 5000);
	bool a2 = answered(sock, m, ml, 1500);
	printf("probe replayed (a good request sent again): first %s, again %s\n", first ? "answered" : "NO ANSWER",
	       a2 ? "ANSWERED" : "no answer");
	free(m);
	e2_chan_seal(&good, body, body_len, &m, &ml, &err);
	bool a3 = answered(sock, m, ml / 2, 1500);
	printf("probe truncated (half of a good request): %s\n", a3 ? "ANSWERED" : "no answer");
	free(m);
	nn_close(sock);
	bad = a1 || !first || a2 || a3;
	if (refusals(url, key, after))
		return 2;
	uint64_t total = 0;
	printf("refusals counted by the agent:");
	for (int r = 1; r < E2_CHAN_REFUSALS; r++) {
		uint64_t d = after[r] - before[r];
		total += d;
		if (d)
			printf(" %s=+%llu", e2_chan_refusal_name((enum e2_chan_refusal)r), (unsigned long long)d);
	}
	printf("\n");
	if (after[E2_CHAN_BAD_MAC] == before[E2_CHAN_BAD_MAC] || after[E2_CHAN_REPLAYED] == before[E2_CHAN_REPLAYED] ||
	    total < 3) {
		printf("probe: the agent did not count every refusal\n");
		bad = 1;
	}
	return bad ? 1 : 0;
}

int main(int argc, char **argv)
{
	const char *url = NULL, *key_file = NULL, *sender = NULL;
	int timeout_ms = 5000, i = 1;
	struct e2_err err;
	if (e2_opt_asks_help(argc, argv)) {
		usage_to(stdout);
		return 0;
	}
	for (; i < argc && argv[i][0] == '-'; i++) {
		if (!strcmp(argv[i], "--url") && i + 1 < argc)
			url = argv[++i];
		else if (!strcmp(argv[i], "--key") && i + 1 < argc)
			key_file = argv[++i];
		else if (!strcmp(argv[i], "--sender") && i + 1 < argc)
			sender = argv[++i];
		else if (!strcmp(argv[i], "--timeout") && i + 1 < argc) {
			if (e2_num_int("--timeout", argv[++i], 1, 600000, &timeout_ms, &err)) {
				fprintf(stderr, "e2-agent-call: %s\n", err.msg);
				return 2;
			}
		} else
			return usage();
	}
	if (!url || i >= argc)
		return usage();
	static struct e2_chan_key key;
	if (key_file && e2_chan_key_load(key_file, &key, &err)) {
		fprintf(stderr, "e2-agent-call: --key: %s\n", err.msg);
		return 2;
	}
	const struct e2_chan_key *k = key_file ? &key : NULL;
	const char *cmd = argv[i++];
	if (!strcmp(cmd, "events"))
		return follow(url, k, argc - i, argv + i);
	if (!strcmp(cmd, "probe") && i == argc)
		return probe(url, k);

	uint8_t *buf = NULL;
	size_t len = 0;
	int rc;
	if (!strcmp(cmd, "hook")) {
		if (argc - i < 4 || argc - i > 6)
			return usage();
		E2__Ctl__HookNotice n = E2__CTL__HOOK_NOTICE__INIT;
		n.version = E2__CTL__VERSION__VERSION_CURRENT;
		n.domain = argv[i];
		n.op = argv[i + 1];
		n.subop = argv[i + 2];
		n.extra = argv[i + 3];
		n.instance = argc - i > 4 ? argv[i + 4] : argv[i];
		n.server = argc - i > 5 ? argv[i + 5] : "";
		char hook_sender[E2_CHAN_SENDER_MAX + 1];
		snprintf(hook_sender, sizeof(hook_sender), "hook:%s", n.server[0] ? n.server : "local");
		len = e2__ctl__hook_notice__get_packed_size(&n);
		buf = malloc(len ? len : 1);
		e2__ctl__hook_notice__pack(&n, buf);
		rc = call(url, k, sender ? sender : hook_sender, timeout_ms, buf, len);
		free(buf);
		return rc;
	}
	E2__Ctl__AgentRequest req = E2__CTL__AGENT_REQUEST__INIT;
	req.version = E2__CTL__VERSION__VERSION_CURRENT;
	E2__Ctl__Empty empty = E2__CTL__EMPTY__INIT;
	E2__Ctl__Name name = E2__CTL__NAME__INIT;
	E2__Ctl__ServerSpec *spec = NULL;
	if (!strcmp(cmd, "report") && i == argc) {
		req.op_case = E2__CTL__AGENT_REQUEST__OP_REPORT;
		req.report = &empty;
	} else if (!strcmp(cmd, "start") && i + 1 == argc) {
		req.op_case = E2__CTL__AGENT_REQUEST__OP_START;
		name.name = argv[i];
		req.start = &name;
	} else if (!strcmp(cmd, "apply") && i + 1 == argc) {
		size_t n;
		char *bytes = e2_read_file(argv[i], 0, &n, &err);
		if (!bytes) {
			fprintf(stderr, "e2-agent-call: %s\n", err.msg);
			return 2;
		}
		spec = e2__ctl__server_spec__unpack(NULL, n, (const uint8_t *)bytes);
		free(bytes);
		if (!spec) {
			fprintf(stderr, "e2-agent-call: %s is not an encoded e2.ctl.ServerSpec\n", argv[i]);
			return 2;
		}
		req.op_case = E2__CTL__AGENT_REQUEST__OP_APPLY;
		req.apply = spec;
	} else
		return usage();
	len = e2__ctl__agent_request__get_packed_size(&req);
	buf = malloc(len ? len : 1);
	e2__ctl__agent_request__pack(&req, buf);
	rc = call(url, k, sender ? sender : "controller", timeout_ms, buf, len);
	free(buf);
	if (spec)
		e2__ctl__server_spec__free_unpacked(spec, NULL);
	return rc;
}
