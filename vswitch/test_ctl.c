/* SPDX-License-Identifier: BSD-3-Clause */
/* Control-API negative tests: every malformed or invalid request is refused
 * with a message, the running graph is unchanged, and traffic keeps flowing. */
#include <dirent.h>
#include <sched.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <cmocka.h>

#include "ctl.h"
#include "e2/file.h"
#include "test_util.h"

static struct e2_dp dp;

/* A text picture of the graph's structure (not its counters). */
static void snapshot(char *out, size_t len)
{
	size_t o = 0;
	for (size_t i = 0; i < E2_PORTS_MAX; i++)
		if (dp.ports[i])
			o += (size_t)snprintf(out + o, len - o, "port %s %s;", dp.ports[i]->name, dp.ports[i]->devargs);
	for (size_t i = 0; i < E2_MODULES_MAX; i++) {
		struct e2_module *m = dp.modules[i];
		if (!m)
			continue;
		o += (size_t)snprintf(out + o, len - o, "mod %s %s w%d", m->name, m->cls->name,
				      m->worker ? (int)m->worker->id : -1);
		for (uint16_t g = 0; g < m->n_ogates; g++)
			if (m->ogates[g].next)
				o += (size_t)snprintf(out + o, len - o, " %u>%s:%u", g, m->ogates[g].next->name,
						      m->ogates[g].next_igate);
		o += (size_t)snprintf(out + o, len - o, ";");
	}
}

static E2__Dp__Response *run_line(const char *line)
{
	char err[512];
	E2__Dp__Request *req = e2_cmd_parse(line, err, sizeof(err));
	assert_non_null(req);
	E2__Dp__Response *r = e2_ctl_handle(&dp, req, NULL);
	e2__dp__request__free_unpacked(req, NULL);
	return r;
}

static int setup(void **state)
{
	char err[E2_ERR_MAX];
	if (test_eal_init("e2-test-ctl") != 0 || e2_dp_init(&dp, 8191, err) != 0)
		return -1;
	/* a running graph: null port -> queue -> hmatch -> sink, on a worker */
	const char *cfg[] = {
		"port add n0 pmd devargs=net_null0",
		"module add in port_in port=n0",
		"module add q queue size=256",
		"module add hm hmatch fields=12:2",
		"module add s sink",
		"module add s1 sink",
		"connect in q",
		"connect q hm",
		"connect hm:0 s",
		"module cmd hm add values=0 gate=0",
	};
	for (size_t i = 0; i < sizeof(cfg) / sizeof(cfg[0]); i++) {
		E2__Dp__Response *r = run_line(cfg[i]);
		if (r->code) {
			fprintf(stderr, "setup: %s: %s\n", cfg[i], r->error);
			return -1;
		}
		e2__dp__response__free_unpacked(r, NULL);
	}
	return e2_dp_worker_create(&dp, 0, -1, err);
}

static int teardown(void **state)
{
	test_dp_stop(&dp);
	return 0;
}

static void test_bad_text_is_refused(void **state)
{
	const char *bad[] = {
		"frobnicate",
		"port add",
		"port add x",
		"port del",
		"module add m",
		"module cmd m",
		"connect a",
		"connect a b c",
		"connect a:x b",
		"connect a:-1 b",
		"connect a:99999 b",
		"disconnect",
		"worker add",
		"worker add x",
		"worker add 1 core=x",
		"worker add 1 cpu=1",
		"task attach q",
		"task attach q w=1",
		"stats a b c",
		"list extra",
		"module add m c novalue",
		"module add m c =v",
		"port add p vhost \"path=/x",
		"module",
	};
	char err[512];
	for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
		E2__Dp__Request *r = e2_cmd_parse(bad[i], err, sizeof(err));
		if (r)
			fail_msg("'%s' was accepted", bad[i]);
		assert_true(strlen(err) > 0);
	}
	assert_null(e2_cmd_parse("   # a comment", err, sizeof(err)));
	assert_int_equal(err[0], '\0');
}

static void test_bad_requests_change_nothing(void **state)
{
	const char *bad[] = {
		"module add x nosuchclass",
		"module add hm sink", /* duplicate name */
		"module add bad.name/ sink",
		"module add q2 queue size=3",
		"module add q2 queue size=64 colour=red", /* unknown argument */
		"module add q2 queue size=64 size=128",
		"module add p port_in port=nosuch",
		"module add p port_in port=n0", /* queue already read */
		"module del nosuch",
		"connect hm:64 s1",  /* gate out of range */
		"connect hm:1 s1:1", /* input gate out of range */
		"connect hm:0 s1",   /* already connected */
		"connect nosuch s1",
		"connect hm:1 nosuch",
		"disconnect hm:5",
		"disconnect s",
		"module cmd hm nosuch",
		"module cmd hm add values=1,2 gate=1",
		"module cmd nosuch add",
		"task attach hm worker=0",
		"task attach q worker=5",
		"port add n0 pmd devargs=net_null1",
		"port add n1 pmd devargs=net_null0",
		"port add n1 pmd",
		"port add n1 memif",
		"port add n1 memif socket=/tmp/x role=boss",
		"port add n1 vhost path=/tmp/x client=2",
		"port add n1 vhost path=/nonexistent-dir/v.sock", /* cannot bind */
		"port add n1 vhost path=/tmp/aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa.sock",
		"port del n0",
		"port del nosuch",
		"stats nosuch",
		"module add s2 sink colour=red", /* a class that takes no arguments */
		"module add s2 hmatch fields=12:2 fields=14:1",
		"module cmd hm clear all=1",            /* a command that takes none */
		"module cmd hm delete values=1 gate=0", /* gate is for add only */
		"module cmd q stats verbose=1",
		"connect hm:1 hm", /* a loop of one */
		"connect hm:1 q",  /* q -> hm -> q, through a queue */
	};
	char before[8192], after[8192];
	struct e2_module *sink = e2_dp_module_find(&dp, "s");

	snapshot(before, sizeof(before));
	for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
		E2__Dp__Response *r = run_line(bad[i]);
		if (r->code == 0)
			fail_msg("'%s' was accepted", bad[i]);
		assert_true(strlen(r->error) > 0);
		print_message("  %-45s -> %s\n", bad[i], r->error);
		e2__dp__response__free_unpacked(r, NULL);
		snapshot(after, sizeof(after));
		assert_string_equal(before, after);
	}
	/* traffic still flows through the unchanged graph */
	uint64_t p0 = sink->packets;
	assert_true(WAIT_UNTIL(sink->packets > p0, 10));
}

static void test_malformed_bytes(void **state)
{
	char before[8192], after[8192];
	uint8_t junk[64];
	bool shut = false;

	snapshot(before, sizeof(before));
	for (size_t i = 0; i < sizeof(junk); i++)
		junk[i] = (uint8_t)(i * 37 + 11);
	E2__Dp__Response *r = e2_ctl_handle_bytes(&dp, junk, sizeof(junk), &shut);
	assert_int_equal(r->code, EBADMSG);
	e2__dp__response__free_unpacked(r, NULL);

	/* a valid request, truncated at every length */
	char err[256];
	E2__Dp__Request *req = e2_cmd_parse("module add zz queue size=64", err, sizeof(err));
	size_t len = e2__dp__request__get_packed_size(req);
	uint8_t buf[256];
	e2__dp__request__pack(req, buf);
	for (size_t cut = 1; cut < len; cut++) {
		r = e2_ctl_handle_bytes(&dp, buf, cut, &shut);
		assert_int_not_equal(r->code, 0);
		e2__dp__response__free_unpacked(r, NULL);
	}
	/* the wrong protocol version */
	req->version = 2;
	r = e2_ctl_handle(&dp, req, &shut);
	assert_int_equal(r->code, EPROTO);
	e2__dp__response__free_unpacked(r, NULL);
	/* no operation at all */
	req->version = E2_CTL_VERSION;
	E2__Dp__Request empty;
	e2__dp__request__init(&empty);
	empty.version = E2_CTL_VERSION;
	r = e2_ctl_handle(&dp, &empty, &shut);
	assert_int_equal(r->code, EINVAL);
	e2__dp__response__free_unpacked(r, NULL);
	e2__dp__request__free_unpacked(req, NULL);
	assert_false(shut);
	snapshot(after, sizeof(after));
	assert_string_equal(before, after);
}

static void test_good_requests_apply_live(void **state)
{
	E2__Dp__Response *r = run_line("stats");
	assert_int_equal(r->code, 0);
	assert_true(r->n_ports == 1 && r->n_modules >= 5 && r->n_workers == 1);
	e2__dp__response__free_unpacked(r, NULL);
	r = run_line("module cmd q stats");
	assert_int_equal(r->code, 0);
	assert_true(r->n_result == 3);
	e2__dp__response__free_unpacked(r, NULL);
	r = run_line("classes");
	assert_true(r->n_classes >= 8);
	e2__dp__response__free_unpacked(r, NULL);
	r = run_line("stats s reset");
	assert_int_equal(r->code, 0);
	e2__dp__response__free_unpacked(r, NULL);

	/* log levels change while e2d runs; a bad spec changes none of them */
	r = run_line("log set vhost:dbg,worker:warn");
	assert_int_equal(r->code, 0);
	e2__dp__response__free_unpacked(r, NULL);
	r = run_line("log set port:err,vhost:loud");
	assert_int_equal(r->code, EINVAL);
	assert_non_null(strstr(r->error, "unknown log level 'loud'"));
	e2__dp__response__free_unpacked(r, NULL);
	r = run_line("log show");
	assert_int_equal(r->code, 0);
	int seen = 0;
	for (size_t i = 0; i < r->n_result; i++) {
		const char *k = r->result[i]->key, *v = r->result[i]->value;
		seen += !strcmp(k, "vhost") && !strcmp(v, "dbg");
		seen += !strcmp(k, "worker") && !strcmp(v, "warn");
		seen += !strcmp(k, "port") && !strcmp(v, "info");
	}
	assert_int_equal(seen, 3);
	e2__dp__response__free_unpacked(r, NULL);
	r = run_line("log set info");
	assert_int_equal(r->code, 0);
	e2__dp__response__free_unpacked(r, NULL);
}

static void expect_refused(const char *line, int code, const char *text)
{
	E2__Dp__Response *r = run_line(line);
	if (r->code != code || !strstr(r->error, text))
		fail_msg("'%s': code %d '%s', wanted %d '%s'", line, r->code, r->code ? r->error : "", code, text);
	e2__dp__response__free_unpacked(r, NULL);
}

static void expect_ok(const char *line)
{
	E2__Dp__Response *r = run_line(line);
	if (r->code)
		fail_msg("'%s': %s", line, r->error);
	e2__dp__response__free_unpacked(r, NULL);
}

/* The graph stays acyclic (a queue does not excuse a loop) and no chain of modules
 * calling one another grows past E2_GRAPH_DEPTH_MAX; a queue starts a new chain. */
static void test_graph_stays_acyclic_and_shallow(void **state)
{
	char line[128], before[65536], after[65536];
	const int n = E2_GRAPH_DEPTH_MAX + 2;

	expect_refused("connect hm:1 hm", ELOOP, "would close a loop (hm -> hm)");
	expect_refused("connect hm:1 q", ELOOP, "would close a loop (hm -> q -> hm)");

	for (int i = 0; i < n; i++) {
		snprintf(line, sizeof(line), "module add c%d flowhash", i);
		expect_ok(line);
	}
	/* c0 -> ... -> c127: E2_GRAPH_DEPTH_MAX modules, the longest chain allowed */
	for (int i = 0; i + 1 < E2_GRAPH_DEPTH_MAX; i++) {
		snprintf(line, sizeof(line), "connect c%d c%d", i, i + 1);
		expect_ok(line);
	}
	expect_ok("module add cx flowhash");
	snapshot(before, sizeof(before));
	snprintf(line, sizeof(line), "connect c%d c%d", E2_GRAPH_DEPTH_MAX - 1, E2_GRAPH_DEPTH_MAX);
	expect_refused(line, E2BIG, "chain of 129 modules");
	expect_refused("connect c127 c0", ELOOP,
		       "would close a loop (c127 -> c0 -> c1 -> c2 -> ... (121 more) -> c124 -> c125 -> c126 -> c127)");
	expect_refused("connect c127 c100", ELOOP,
		       "(c127 -> c100 -> c101 -> c102 -> ... (21 more) -> c124 -> c125 -> c126 -> c127)");
	/* a chain of one more through an inserted module is refused the same way */
	expect_refused("insert c60 cx", E2BIG, "chain of 129 modules");
	snapshot(after, sizeof(after));
	assert_string_equal(before, after);

	/* a queue in the middle: two chains of 65, and room for more */
	expect_ok("module add cq queue size=64");
	expect_ok("insert c63 cq");
	snprintf(line, sizeof(line), "connect c%d c%d", E2_GRAPH_DEPTH_MAX - 1, E2_GRAPH_DEPTH_MAX);
	expect_ok(line);
	expect_ok("insert c60 cx");
	/* ... but a loop through the queue is still a loop */
	expect_refused("connect c128 c0", ELOOP, "would close a loop (c128 -> c0 -> ");

	for (int i = 0; i < n; i++) {
		snprintf(line, sizeof(line), "module del c%d", i);
		expect_ok(line);
	}
	expect_ok("module del cx");
	expect_ok("module del cq");

	/* a chain whose modules' slots are not in chain order (fuzz_graph found the depth
	 * miscounted there): b1..b100 -> a0 -> d1..d27, a0 made first */
	expect_ok("module add a0 flowhash");
	for (int i = 1; i <= 100; i++) {
		snprintf(line, sizeof(line), "module add b%d flowhash", i);
		expect_ok(line);
		snprintf(line, sizeof(line), i < 100 ? "connect b%d b%d" : "connect b%d a0", i, i + 1);
		if (i > 1)
			snprintf(line, sizeof(line), "connect b%d b%d", i - 1, i);
		if (i > 1)
			expect_ok(line);
	}
	expect_ok("connect b100 a0");
	for (int i = 1; i <= 28; i++) {
		snprintf(line, sizeof(line), "module add d%d flowhash", i);
		expect_ok(line);
		if (i == 1)
			snprintf(line, sizeof(line), "connect a0 d1");
		else
			snprintf(line, sizeof(line), "connect d%d d%d", i - 1, i);
		if (i < 28)
			expect_ok(line);
		else
			expect_refused(line, E2BIG, "chain of 129 modules");
	}
	expect_ok("module del a0");
	for (int i = 1; i <= 100; i++) {
		snprintf(line, sizeof(line), "module del b%d", i);
		expect_ok(line);
	}
	for (int i = 1; i <= 28; i++) {
		snprintf(line, sizeof(line), "module del d%d", i);
		expect_ok(line);
	}
}

/* A core runs one pinned worker: a second one on it is refused, naming the first. */
static void test_worker_core_conflict(void **state)
{
	cpu_set_t allowed;
	char line[64];
	int core = 0;

	assert_int_equal(sched_getaffinity(0, sizeof(allowed), &allowed), 0);
	while (!CPU_ISSET(core, &allowed))
		core++;
	snprintf(line, sizeof(line), "worker add 5 core=%d", core);
	expect_ok(line);
	snprintf(line, sizeof(line), "worker add 6 core=%d", core);
	char want[64];
	snprintf(want, sizeof(want), "core %d is already used by worker 5", core);
	expect_refused(line, EBUSY, want);
	assert_null(e2_dp_worker_find(&dp, 6));
}

/* The negative corpus of control messages (vswitch/negative/ctl/NAME.bin, each with
 * the text its refusal must contain in NAME.expect): every one refused within a
 * second, the graph unchanged. */
static void test_negative_control_messages(void **state)
{
	const char *src = getenv("E2_SOURCE_DIR");
	char dir[512], path[1024], before[8192], after[8192];
	unsigned n = 0;
	double max_ms = 0;

	assert_non_null(src);
	snprintf(dir, sizeof(dir), "%s/vswitch/negative/ctl", src);
	DIR *d = opendir(dir);
	assert_non_null(d);
	snapshot(before, sizeof(before));
	for (struct dirent *e; (e = readdir(d));) {
		size_t l = strlen(e->d_name);
		if (l < 5 || strcmp(e->d_name + l - 4, ".bin") != 0)
			continue;
		size_t len, elen;
		struct e2_err err;
		snprintf(path, sizeof(path), "%s/%s", dir, e->d_name);
		char *msg = e2_read_file(path, 0, &len, &err);
		snprintf(path, sizeof(path), "%s/%.*s.expect", dir, (int)(l - 4), e->d_name);
		char *want = e2_read_file(path, 0, &elen, &err);
		if (!msg || !want)
			fail_msg("%s", err.msg);
		want[strcspn(want, "\n")] = '\0';
		bool shut = false;
		uint64_t t0 = rte_get_tsc_cycles();
		E2__Dp__Response *r = e2_ctl_handle_bytes(&dp, (const uint8_t *)msg, len, &shut);
		double ms = (double)(rte_get_tsc_cycles() - t0) * 1e3 / (double)rte_get_tsc_hz();
		if (r->code == 0 || !strstr(r->error, want) || ms > 1000 || shut)
			fail_msg("%s: code %d '%s' in %.1f ms, wanted '%s'", e->d_name, r->code, r->error, ms, want);
		print_message("  %-32s -> %s (%.2f ms)\n", e->d_name, r->error, ms);
		max_ms = ms > max_ms ? ms : max_ms;
		e2__dp__response__free_unpacked(r, NULL);
		free(msg);
		free(want);
		n++;
	}
	closedir(d);
	snapshot(after, sizeof(after));
	assert_string_equal(before, after);
	print_message("negative: ctl cases=%u failed=0 max_ms=%.2f\n", n, max_ms);
	assert_true(n >= 29);
}

/* A vhost-user socket belongs to one port; deleting the port frees it for reuse. */
static void test_vhost_socket_ownership(void **state)
{
	char dir[] = "/tmp/e2d-ctl-XXXXXX", line[256];
	assert_non_null(mkdtemp(dir));
	snprintf(line, sizeof(line), "port add vh0 vhost path=%s/v.sock", dir);
	E2__Dp__Response *r = run_line(line);
	assert_int_equal(r->code, 0);
	e2__dp__response__free_unpacked(r, NULL);

	snprintf(line, sizeof(line), "port add vh1 vhost path=%s/v.sock client=1", dir);
	r = run_line(line);
	assert_int_not_equal(r->code, 0);
	assert_non_null(strstr(r->error, "already used by port 'vh0'"));
	e2__dp__response__free_unpacked(r, NULL);

	r = run_line("port del vh0");
	assert_int_equal(r->code, 0);
	e2__dp__response__free_unpacked(r, NULL);
	snprintf(line, sizeof(line), "%s/v.sock", dir);
	assert_int_not_equal(access(line, F_OK), 0); /* the server socket went with the port */

	snprintf(line, sizeof(line), "port add vh1 vhost path=%s/v.sock", dir);
	r = run_line(line);
	assert_int_equal(r->code, 0);
	e2__dp__response__free_unpacked(r, NULL);
	r = run_line("port del vh1");
	assert_int_equal(r->code, 0);
	e2__dp__response__free_unpacked(r, NULL);
	rmdir(dir);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_bad_text_is_refused),    cmocka_unit_test(test_bad_requests_change_nothing),
		cmocka_unit_test(test_malformed_bytes),        cmocka_unit_test(test_good_requests_apply_live),
		cmocka_unit_test(test_vhost_socket_ownership), cmocka_unit_test(test_graph_stays_acyclic_and_shallow),
		cmocka_unit_test(test_worker_core_conflict),   cmocka_unit_test(test_negative_control_messages),
	};
	return cmocka_run_group_tests(tests, setup, teardown);
}
