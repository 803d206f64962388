/* SPDX-License-Identifier: BSD-3-Clause */
/* e2nf-ctl: one command to a native NF's control socket (libe2nf's --ctl), its reply on
 * stdout. Tests and benchmarks read counters many times a run; a small C client answers
 * in about a millisecond where an interpreter started per query took tens. */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/time.h>
#include <sys/un.h>
#include <unistd.h>

#include "e2/err.h"
#include "e2/num.h"
#include "e2/opts.h"

#define REPLY_MAX 65536
#define LINE_MAX_BYTES 511 /* libe2nf reads a command of up to 511 bytes */
#define GETS_MAX 16

static const char usage[] = "usage: e2nf-ctl [--get KEY]... [--timeout SECONDS] SOCK COMMAND [WORD...]\n"
			    "  sends COMMAND (and its WORDs, joined by spaces) to the native NF listening on the\n"
			    "  control socket SOCK (its --ctl) and prints the reply; libe2nf answers `stats` and\n"
			    "  `version`, and each NF its own commands (its --help lists them)\n"
			    "  --get KEY       print only KEY's value from a key=value reply (one line per --get,\n"
			    "                  in order); exit 1 if the reply lacks KEY\n"
			    "  --timeout SECS  how long to wait for the reply (default 5)\n"
			    "  exit status: 0 answered, 1 the NF said error: or a KEY is missing, 2 bad usage or\n"
			    "  no answer\n";

/* The value of KEY in a reply of key=value words (separated by newlines or spaces), or
 * NULL; written to out, at most len bytes. */
static const char *reply_value(const char *reply, const char *key, char *out, size_t len)
{
	size_t klen = strlen(key);
	for (const char *p = reply; *p;) {
		size_t word = strcspn(p, " \n\t");
		if (word > klen && strncmp(p, key, klen) == 0 && p[klen] == '=') {
			size_t vlen = word - klen - 1;
			if (vlen >= len)
				vlen = len - 1;
			memcpy(out, p + klen + 1, vlen);
			out[vlen] = '\0';
			return out;
		}
		p += word;
		p += strspn(p, " \n\t");
	}
	return NULL;
}

/* Sends line to the socket at path and reads one reply into reply (NUL-terminated). */
static int ask(const char *path, const char *line, uint64_t timeout_s, char *reply, size_t len, struct e2_err *err)
{
	struct sockaddr_un a = {.sun_family = AF_UNIX};
	if (strlen(path) >= sizeof(a.sun_path)) {
		e2_seterr(err, "socket path %s is too long", path);
		return -1;
	}
	memcpy(a.sun_path, path, strlen(path) + 1);
	int fd = socket(AF_UNIX, SOCK_SEQPACKET | SOCK_CLOEXEC, 0);
	if (fd < 0) {
		e2_seterr(err, "socket: %s", strerror(errno));
		return -1;
	}
	struct timeval tv = {.tv_sec = (time_t)timeout_s};
	setsockopt(fd, SOL_SOCKET, SO_RCVTIMEO, &tv, sizeof(tv));
	setsockopt(fd, SOL_SOCKET, SO_SNDTIMEO, &tv, sizeof(tv));
	int rc = -1;
	ssize_t n;
	if (connect(fd, (struct sockaddr *)&a, sizeof(a)) != 0)
		e2_seterr(err, "cannot connect to %s: %s (is the NF running with --ctl %s?)", path, strerror(errno),
			  path);
	else if (send(fd, line, strlen(line), MSG_NOSIGNAL) < 0)
		e2_seterr(err, "cannot send to %s: %s", path, strerror(errno));
	else if ((n = recv(fd, reply, len - 1, 0)) < 0)
		e2_seterr(err, "no reply from %s: %s", path,
			  errno == EAGAIN || errno == EWOULDBLOCK ? "timed out" : strerror(errno));
	else if (n == 0)
		e2_seterr(err, "%s closed the connection without a reply", path);
	else {
		reply[n] = '\0';
		rc = 0;
	}
	close(fd);
	return rc;
}

int main(int argc, char **argv)
{
	static const struct option longs[] = {{"get", required_argument, NULL, 'g'},
					      {"timeout", required_argument, NULL, 't'},
					      {"help", no_argument, NULL, 'h'},
					      {NULL, 0, NULL, 0}};
	const char *gets[GETS_MAX];
	unsigned n_gets = 0;
	uint64_t timeout_s = 5;
	struct e2_err err;
	int c, rc = 0;
	while ((c = e2_opt_next(argc, argv, "+h", longs, &err)) != -1 && rc == 0) {
		switch (c) {
		case 'g':
			if (n_gets == GETS_MAX) {
				e2_seterr(&err, "at most %d --get options", GETS_MAX);
				rc = -1;
			} else {
				gets[n_gets++] = optarg;
			}
			break;
		case 't': rc = e2_num_u64("--timeout", optarg, 1, 3600, &timeout_s, &err); break;
		case 'h': fputs(usage, stdout); return 0;
		default: rc = -1; break;
		}
	}
	if (rc == 0 && argc - optind < 2) {
		e2_seterr(&err, "needs SOCK and COMMAND (--help for usage)");
		rc = -1;
	}
	char line[LINE_MAX_BYTES + 1] = "";
	size_t used = 0;
	for (int i = optind + 1; rc == 0 && i < argc; i++) {
		size_t w = strlen(argv[i]);
		if (used + (used > 0) + w > LINE_MAX_BYTES) {
			e2_seterr(&err, "the command is longer than %d bytes", LINE_MAX_BYTES);
			rc = -1;
			break;
		}
		if (used > 0)
			line[used++] = ' ';
		memcpy(line + used, argv[i], w + 1);
		used += w;
	}
	static char reply[REPLY_MAX];
	if (rc == 0)
		rc = ask(argv[optind], line, timeout_s, reply, sizeof(reply), &err);
	if (rc) {
		fprintf(stderr, "e2nf-ctl: %s\n", err.msg);
		return 2;
	}
	if (strncmp(reply, "error:", 6) == 0) {
		fputs(reply, stderr);
		return 1;
	}
	if (n_gets == 0) {
		fputs(reply, stdout);
		if (reply[0] && reply[strlen(reply) - 1] != '\n')
			putchar('\n');
		return 0;
	}
	for (unsigned i = 0; i < n_gets; i++) {
		char value[256];
		if (!reply_value(reply, gets[i], value, sizeof(value))) {
			fprintf(stderr, "e2nf-ctl: the reply to '%s' has no %s\n", line, gets[i]);
			return 1;
		}
		puts(value);
	}
	return 0;
}
