/* SPDX-License-Identifier: BSD-3-Clause */
/* The client side of the control protocol: one request per command line, and the
 * printing of responses for people. */
#include <errno.h>
#include <stdbool.h>
#include <nanomsg/nn.h>
#include <nanomsg/pubsub.h>
#include <nanomsg/reqrep.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>

#include "e2/cmd.h"
#include "e2/ctlnames.h"
#include "e2/file.h"
#include "e2/num.h"

static void usage(FILE *f, const char *prog)
{
	fprintf(f,
		"usage: %s [--ctl PATH] [--timeout MS] COMMAND...\n"
		"       %s [--ctl PATH] -f FILE|-      (one command per line)\n"
		"       %s [--ctl PATH] events [count=N] [seconds=S]   (follow link and load events)\n"
		"       %s [--ctl PATH] --raw FILE     (send FILE's bytes as an encoded e2.dp.Request)\n"
		"The socket defaults to $E2D_CTL or /run/e2/e2d.sock; --timeout is 1..600000 ms (5000).\n"
		"Commands:\n%s",
		prog, prog, prog, prog, e2_cmd_usage);
}

static void print_args(FILE *out, size_t n, E2__Dp__Arg **a)
{
	for (size_t i = 0; i < n; i++)
		fprintf(out, " %s=%s", a[i]->key, a[i]->value);
}

void e2_cmd_print_response(FILE *out, const E2__Dp__Request *req, const E2__Dp__Response *r)
{
	if (r->code) {
		fprintf(out, "error: %s\n", r->error);
		return;
	}
	if (r->n_ports) {
		fprintf(out, "%-14s %-11s %-4s %14s %14s %14s %14s %10s %10s\n", "PORT", "DRIVER", "LINK", "RX_PKTS",
			"RX_BYTES", "TX_PKTS", "TX_BYTES", "RX_DROPS", "TX_DROPS");
		for (size_t i = 0; i < r->n_ports; i++) {
			const E2__Dp__PortInfo *p = r->ports[i];
			fprintf(out, "%-14s %-11s %-4s %14llu %14llu %14llu %14llu %10llu %10llu\n", p->name, p->driver,
				p->link_up ? "up" : "down", (unsigned long long)p->rx_packets,
				(unsigned long long)p->rx_bytes, (unsigned long long)p->tx_packets,
				(unsigned long long)p->tx_bytes, (unsigned long long)p->rx_drops,
				(unsigned long long)p->tx_drops);
		}
	}
	if (r->n_modules) {
		fprintf(out, "%-14s %-11s %6s %14s %10s %12s  %s\n", "MODULE", "CLASS", "WORKER", "PACKETS", "DROPS",
			"CYCLES/PKT", "GATES (gate->peer:igate packets)");
		for (size_t i = 0; i < r->n_modules; i++) {
			const E2__Dp__ModuleInfo *m = r->modules[i];
			char w[16] = "-";
			if (m->worker >= 0)
				snprintf(w, sizeof(w), "%d", m->worker);
			fprintf(out, "%-14s %-11s %6s %14llu %10llu %12.1f ", m->name, m->mclass, w,
				(unsigned long long)m->packets, (unsigned long long)m->drops, m->cycles_per_packet);
			for (size_t g = 0; g < m->n_ogates; g++)
				fprintf(out, " %u->%s:%u %llu", m->ogates[g]->gate,
					*m->ogates[g]->peer ? m->ogates[g]->peer : "(none)", m->ogates[g]->peer_gate,
					(unsigned long long)m->ogates[g]->packets);
			if (req && req->op_case == E2__DP__REQUEST__OP_LIST)
				print_args(out, m->n_args, m->args);
			fputc('\n', out);
		}
	}
	if (r->n_workers) {
		fprintf(out, "%-8s %-5s %6s %10s %10s  %s\n", "WORKER", "CORE", "BUSY%", "CYCLES/PKT", "SLEEPS",
			"TASKS");
		for (size_t i = 0; i < r->n_workers; i++) {
			const E2__Dp__WorkerInfo *w = r->workers[i];
			double total = (double)(w->busy_cycles + w->idle_cycles);
			fprintf(out, "%-8u %-5d %6.1f %10.1f %10llu ", w->id, w->core,
				total > 0 ? 100.0 * (double)w->busy_cycles / total : 0.0,
				w->packets ? (double)w->busy_cycles / (double)w->packets : 0.0,
				(unsigned long long)w->sleeps);
			for (size_t t = 0; t < w->n_tasks; t++)
				fprintf(out, " %s", w->tasks[t]);
			fputc('\n', out);
		}
	}
	for (size_t i = 0; i < r->n_classes; i++) {
		const E2__Dp__ClassInfo *c = r->classes[i];
		fprintf(out, "%-18s %s\n", c->name, c->help);
		for (size_t k = 0; k < c->n_commands; k++)
			fprintf(out, "%-18s   cmd %s\n", "", c->commands[k]);
	}
	for (size_t i = 0; i < r->n_result; i++)
		fprintf(out, "%s %s\n", r->result[i]->key, r->result[i]->value);
	if (req && req->op_case == E2__DP__REQUEST__OP_PING)
		fprintf(out, "ok\n");
}

/* Sends one encoded request and prints the reply (req, when known, shapes the
 * printing); returns 0, 1 (refused) or 2 (no answer). */
static int exchange(int sock, const void *buf, size_t len, const E2__Dp__Request *req, int timeout_ms)
{
	void *reply = NULL;
	int n, rc;

	n = nn_send(sock, buf, len, 0);
	if (n < 0) {
		if (nn_errno() == ETIMEDOUT || nn_errno() == EAGAIN)
			fprintf(stderr, "e2ctl: e2d does not take requests (none taken within %d ms): is it running?\n",
				timeout_ms);
		else
			fprintf(stderr, "e2ctl: cannot send to e2d: %s\n", nn_strerror(nn_errno()));
		return 2;
	}
	n = nn_recv(sock, &reply, NN_MSG, 0);
	if (n < 0) {
		if (nn_errno() == ETIMEDOUT || nn_errno() == EAGAIN)
			fprintf(stderr, "e2ctl: no answer from e2d within %d ms (see --timeout)\n", timeout_ms);
		else
			fprintf(stderr, "e2ctl: no answer from e2d: %s\n", nn_strerror(nn_errno()));
		return 2;
	}
	E2__Dp__Response *resp = e2__dp__response__unpack(NULL, (size_t)n, reply);
	nn_freemsg(reply);
	if (!resp) {
		fprintf(stderr, "e2ctl: e2d sent a malformed reply\n");
		return 2;
	}
	if (resp->code) {
		fprintf(stderr, "error: %s\n", resp->error);
		rc = 1;
	} else {
		e2_cmd_print_response(stdout, req, resp);
		rc = 0;
	}
	e2__dp__response__free_unpacked(resp, NULL);
	return rc;
}

static int roundtrip(int sock, const E2__Dp__Request *req, int timeout_ms)
{
	size_t len = e2__dp__request__get_packed_size(req);
	uint8_t *buf = malloc(len ? len : 1);
	int rc;

	if (!buf) {
		fprintf(stderr, "e2ctl: out of memory\n");
		return 2;
	}
	e2__dp__request__pack(req, buf);
	rc = exchange(sock, buf, len, req, timeout_ms);
	free(buf);
	return rc;
}

/* Prints events from e2d's PUB socket, one line each, until count or seconds run out. */
static int follow_events(const char *ctl, int argc, char **argv)
{
	int64_t count = -1;
	double seconds = -1;
	char url[256];
	struct e2_err e;

	for (int i = 0; i < argc; i++) {
		int bad;
		if (strncmp(argv[i], "count=", 6) == 0)
			bad = e2_num_i64("count", argv[i] + 6, 1, INT64_MAX, &count, &e);
		else if (strncmp(argv[i], "seconds=", 8) == 0)
			bad = e2_num_duration("seconds", argv[i] + 8, 0, 1e9, &seconds, &e);
		else
			bad = (e2_seterr(&e, "events takes count=N and seconds=S, not '%s'", argv[i]), -1);
		if (bad) {
			fprintf(stderr, "e2ctl: events: %s\n", e.msg);
			return 2;
		}
	}
	int sock = nn_socket(AF_SP, NN_SUB);
	int tmo = 100;
	nn_setsockopt(sock, NN_SUB, NN_SUB_SUBSCRIBE, "", 0);
	nn_setsockopt(sock, NN_SOL_SOCKET, NN_RCVTIMEO, &tmo, sizeof(tmo));
	snprintf(url, sizeof(url), "ipc://%s.events", ctl);
	if (nn_connect(sock, url) < 0) {
		fprintf(stderr, "e2ctl: cannot connect to %s: %s\n", url, nn_strerror(nn_errno()));
		nn_close(sock);
		return 2;
	}
	struct timespec start, now;
	clock_gettime(CLOCK_MONOTONIC, &start);
	int64_t seen = 0;
	while (count < 0 || seen < count) {
		clock_gettime(CLOCK_MONOTONIC, &now);
		if (seconds >= 0 &&
		    (double)(now.tv_sec - start.tv_sec) + (double)(now.tv_nsec - start.tv_nsec) / 1e9 >= seconds)
			break;
		void *buf = NULL;
		int n = nn_recv(sock, &buf, NN_MSG, 0);
		if (n < 0)
			continue;
		E2__Dp__Event *ev = e2__dp__event__unpack(NULL, (size_t)n, buf);
		nn_freemsg(buf);
		if (!ev)
			continue;
		printf("%llu.%09llu %s %s occupancy=%.3f rate_pps=%.0f delay_us=%.1f sent_pps=%.1f\n",
		       (unsigned long long)(ev->time_ns / 1000000000ull),
		       (unsigned long long)(ev->time_ns % 1000000000ull), e2_dp_event_kind_name(ev->kind), ev->name,
		       ev->occupancy, ev->rate_pps, ev->delay_us, ev->sent_pps);
		fflush(stdout);
		e2__dp__event__free_unpacked(ev, NULL);
		seen++;
	}
	nn_close(sock);
	return 0;
}

int e2_cmd_client_main(int argc, char **argv)
{
	const char *ctl = getenv("E2D_CTL");
	const char *file = NULL, *raw = NULL;
	int timeout = 5000, i = 1;
	char url[256], err[1024];
	struct e2_err e;

	if (!ctl)
		ctl = "/run/e2/e2d.sock";
	for (; i < argc && argv[i][0] == '-' && argv[i][1]; i++) {
		if (strcmp(argv[i], "--ctl") == 0 && i + 1 < argc)
			ctl = argv[++i];
		else if (strcmp(argv[i], "--timeout") == 0 && i + 1 < argc) {
			if (e2_num_int("--timeout", argv[++i], 1, 600000, &timeout, &e)) {
				fprintf(stderr, "e2ctl: %s\n", e.msg);
				return 2;
			}
		} else if (strcmp(argv[i], "--raw") == 0 && i + 1 < argc)
			raw = argv[++i];
		else if (strcmp(argv[i], "-f") == 0 && i + 1 < argc)
			file = argv[++i];
		else if (strcmp(argv[i], "-h") == 0 || strcmp(argv[i], "--help") == 0) {
			usage(stdout, argv[0]);
			return 0;
		} else {
			usage(stderr, argv[0]);
			return 2;
		}
	}
	if ((file || raw) && i < argc) {
		fprintf(stderr, "e2ctl: -f and --raw take no command words ('%s')\n", argv[i]);
		return 2;
	}
	if (!file && !raw && i == argc) {
		usage(stderr, argv[0]);
		return 2;
	}
	if (!file && !raw && strcmp(argv[i], "events") == 0)
		return follow_events(ctl, argc - i - 1, argv + i + 1);
	/* nanomsg would quietly wait for the socket to appear: say it is not there. */
	struct stat st;
	if (stat(ctl, &st) != 0 || !S_ISSOCK(st.st_mode)) {
		fprintf(stderr, "e2ctl: no e2d control socket at %s (is e2d running? see --ctl or $E2D_CTL)\n", ctl);
		return 2;
	}
	int sock = nn_socket(AF_SP, NN_REQ);
	if (sock < 0)
		return 2;
	nn_setsockopt(sock, NN_SOL_SOCKET, NN_SNDTIMEO, &timeout, sizeof(timeout));
	nn_setsockopt(sock, NN_SOL_SOCKET, NN_RCVTIMEO, &timeout, sizeof(timeout));
	snprintf(url, sizeof(url), "ipc://%s", ctl);
	if (nn_connect(sock, url) < 0) {
		fprintf(stderr, "e2ctl: cannot connect to %s: %s\n", url, nn_strerror(nn_errno()));
		nn_close(sock);
		return 2;
	}

	int rc = 0;
	if (raw) {
		size_t len;
		char *bytes = e2_read_file(raw, 0, &len, &e);
		if (!bytes) {
			fprintf(stderr, "e2ctl: %s\n", e.msg);
			rc = 2;
		} else {
			rc = exchange(sock, bytes, len, NULL, timeout);
			free(bytes);
		}
	} else if (file) {
		FILE *f = strcmp(file, "-") == 0 ? stdin : fopen(file, "r");
		char *line = NULL;
		size_t cap = 0;
		unsigned lineno = 0;
		if (!f) {
			fprintf(stderr, "e2ctl: cannot open %s: %s\n", file, strerror(errno));
			nn_close(sock);
			return 2;
		}
		while (rc == 0 && getline(&line, &cap, f) >= 0) {
			lineno++;
			E2__Dp__Request *req = e2_cmd_parse(line, err, sizeof(err));
			if (!req) {
				if (err[0]) {
					fprintf(stderr, "e2ctl: %s:%u: %s\n", file, lineno, err);
					rc = 1;
				}
				continue;
			}
			rc = roundtrip(sock, req, timeout);
			if (rc)
				fprintf(stderr, "e2ctl: stopped at %s:%u\n", file, lineno);
			e2__dp__request__free_unpacked(req, NULL);
		}
		free(line);
		if (f != stdin)
			fclose(f);
	} else {
		/* Re-join the words, quoting those with spaces, and parse them as one line. */
		char line[8192];
		size_t o = 0;
		for (; i < argc; i++) {
			bool q = strpbrk(argv[i], " \t") != NULL;
			int w = snprintf(line + o, sizeof(line) - o, q ? "\"%s\" " : "%s ", argv[i]);
			if (w < 0 || (size_t)w >= sizeof(line) - o) {
				fprintf(stderr, "e2ctl: command too long (at most %zu characters)\n", sizeof(line) - 1);
				nn_close(sock);
				return 2;
			}
			o += (size_t)w;
		}
		E2__Dp__Request *req = e2_cmd_parse(line, err, sizeof(err));
		if (!req) {
			fprintf(stderr, "e2ctl: %s\n", err[0] ? err : "empty command");
			rc = 2;
		} else {
			rc = roundtrip(sock, req, timeout);
			e2__dp__request__free_unpacked(req, NULL);
		}
	}
	nn_close(sock);
	return rc;
}
