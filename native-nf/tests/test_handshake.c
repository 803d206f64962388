/* SPDX-License-Identifier: BSD-3-Clause */
/* libe2nf's side of the handshake against a stand-in for e2d (a thread on a real unix
 * socket) that answers as e2d would, or would not: every way an NF can fail to attach
 * must say why, before DPDK is started. */
#include <pthread.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/un.h>
#include <unistd.h>

#include <cmocka.h>

#include "e2/nf.h"

struct stand_in {
	int listen_fd;
	const char *answer; /* NULL: close without a word */
	char hello[512];
};

static void *serve_one(void *arg)
{
	struct stand_in *s = arg;
	int fd = accept(s->listen_fd, NULL, NULL);
	if (fd < 0)
		return NULL;
	ssize_t n = recv(fd, s->hello, sizeof(s->hello) - 1, 0);
	s->hello[n > 0 ? n : 0] = '\0';
	if (s->answer)
		send(fd, s->answer, strlen(s->answer), MSG_NOSIGNAL);
	close(fd);
	return NULL;
}

/* Runs e2nf_open against a stand-in answering `answer`; returns the error text. */
static const char *attach(const char *answer, char *hello_out)
{
	static struct e2_err err;
	char path[108];
	struct sockaddr_un a = {.sun_family = AF_UNIX};
	struct stand_in s = {.answer = answer};
	pthread_t t;

	snprintf(path, sizeof(path), "/tmp/e2nf-hs-%d.sock", (int)getpid());
	unlink(path);
	snprintf(a.sun_path, sizeof(a.sun_path), "%s", path);
	s.listen_fd = socket(AF_UNIX, SOCK_SEQPACKET, 0);
	assert_int_equal(bind(s.listen_fd, (struct sockaddr *)&a, sizeof(a)), 0);
	assert_int_equal(listen(s.listen_fd, 1), 0);
	assert_int_equal(pthread_create(&t, NULL, serve_one, &s), 0);

	struct e2nf_config cfg = E2NF_CONFIG_INIT("t");
	cfg.ports[cfg.n_ports++] = path;
	assert_null(e2nf_open(&cfg, &err));
	pthread_join(t, NULL);
	close(s.listen_fd);
	unlink(path);
	if (hello_out)
		snprintf(hello_out, 512, "%s", s.hello);
	return err.msg;
}

static void test_hello_says_version_name_pid(void **st)
{
	char hello[512], want[128];
	(void)st;
	attach(NULL, hello);
	snprintf(want, sizeof(want), "hello version=%d name=t pid=%d", E2NF_API_VERSION, (int)getpid());
	assert_string_equal(hello, want);
}

static void test_refusals_are_said(void **st)
{
	(void)st;
	assert_non_null(strstr(attach("refused version=1 reason=port p is in use by NF 'fw' (pid 7)", NULL),
			       "e2d refused: port p is in use by NF 'fw' (pid 7)"));
	assert_non_null(strstr(attach(NULL, NULL), "e2d did not answer the handshake"));
	assert_non_null(strstr(attach("welcome version=2 port=p prefix=x pool=y to_nf=a from_nf=b lcore=100", NULL),
			       "e2d answered with NF API version 2, this NF speaks 1"));
	assert_non_null(
		strstr(attach("welcome version=1 port=p pool=y to_nf=a from_nf=b", NULL), "lacks prefix= or lcore="));
	assert_non_null(strstr(attach("HTTP/1.0 200 OK", NULL), "e2d refused: HTTP/1.0 200 OK"));
}

static void test_no_e2d(void **st)
{
	struct e2_err err;
	struct e2nf_config cfg = E2NF_CONFIG_INIT("t");
	(void)st;
	cfg.ports[cfg.n_ports++] = "/nonexistent/e2d/port.sock";
	assert_null(e2nf_open(&cfg, &err));
	assert_non_null(strstr(err.msg, "cannot connect to e2d's nf port at /nonexistent/e2d/port.sock"));
	cfg.n_ports = 0;
	assert_null(e2nf_open(&cfg, &err));
	assert_non_null(strstr(err.msg, "an NF has 1..8 ports, not 0"));
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_hello_says_version_name_pid),
		cmocka_unit_test(test_refusals_are_said),
		cmocka_unit_test(test_no_e2d),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
