/* SPDX-License-Identifier: BSD-3-Clause */
/* The client side of the control protocol: one request per command line. */
#include "dpctl.h"

#include <errno.h>
#include <nanomsg/nn.h>
#include <nanomsg/pubsub.h>
#include <nanomsg/reqrep.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>

#include "ctl.h"
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
		prog, prog, prog, prog, e2_ctl_usage);
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
		e2_ctl_print(stdout, req, resp);
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

static const char *const kind_names[] = {"?", "link_up", "link_down", "overload", "underload"};

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
		printf("%llu.%09llu %s %s occupancy=%.3f rate_pps=%.0f delay_us=%.1f\n",
		       (unsigned long long)(ev->time_ns / 1000000000ull),
		       (unsigned long long)(ev->time_ns % 1000000000ull), ev->kind < 5 ? kind_names[ev->kind] : "?",
		       ev->name, ev->occupancy, ev->rate_pps, ev->delay_us);
		fflush(stdout);
		e2__dp__event__free_unpacked(ev, NULL);
		seen++;
	}
	nn_close(sock);
	return 0;
}

int e2_dpctl_main(int argc, char **argv)
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
			E2__Dp__Request *req = e2_ctl_parse_line(line, err, sizeof(err));
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
		E2__Dp__Request *req = e2_ctl_parse_line(line, err, sizeof(err));
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
