/* SPDX-License-Identifier: BSD-3-Clause */
/* The alpine command line: plan/check/strawman on the examples, exit codes, and
 * clear errors on bad files. argv[1] = alpine binary, argv[2] = examples/alpine. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>

#include <cmocka.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <unistd.h>

static const char *bin, *ex;
static char dir[64];

static int run(const char *args, char *out, size_t outlen)
{
	char cmd[4096];
	snprintf(cmd, sizeof(cmd), "%s %s 2>&1", bin, args);
	FILE *p = popen(cmd, "r");
	if (!p)
		return -1;
	size_t n = fread(out, 1, outlen - 1, p);
	out[n] = '\0';
	int st = pclose(p);
	return WIFEXITED(st) ? WEXITSTATUS(st) : -1;
}

static void plan_then_check(void **state)
{
	(void)state;
	char args[4096], out[65536];
	const char *names[] = {"toy", "iprouter", "firewall", "tproxy", "firewall_priority"};
	for (size_t i = 0; i < sizeof(names) / sizeof(names[0]); i++) {
		snprintf(args, sizeof(args), "plan %s/%s.json --out %s/plan.conf --dot %s/plan.dot --time-limit 20", ex,
			 names[i], dir, dir);
		assert_int_equal(run(args, out, sizeof(out)), 0);
		assert_non_null(strstr(out, "status: optimal"));
		snprintf(args, sizeof(args), "check %s/%s.json %s/plan.conf", ex, names[i], dir);
		int rc = run(args, out, sizeof(out));
		if (rc != 0)
			fprintf(stderr, "%s\n", out);
		assert_int_equal(rc, 0);
		assert_non_null(strstr(out, "max_slo_error="));
	}
	snprintf(args, sizeof(args), "%s/plan.dot", dir);
	FILE *f = fopen(args, "r");
	assert_non_null(f);
	fclose(f);
}

static void strawmen_and_workers(void **state)
{
	(void)state;
	char args[4096], out[65536];
	const char *kinds[] = {"manual", "semi", "rtc"};
	for (int i = 0; i < 3; i++) {
		snprintf(args, sizeof(args), "strawman %s %s/toy.json --out %s/s.conf", kinds[i], ex, dir);
		assert_int_equal(run(args, out, sizeof(out)), 0);
		snprintf(args, sizeof(args), "check %s/toy.json %s/s.conf", ex, dir);
		/* rtc ignores the SLO: check reports it with exit status 4 */
		assert_int_equal(run(args, out, sizeof(out)), i == 2 ? 4 : 0);
	}
	snprintf(args, sizeof(args), "plan %s/tproxy.json --workers 2", ex);
	assert_int_equal(run(args, out, sizeof(out)), 0);
	assert_non_null(strstr(out, "worker add 1\n"));
}

static void bad_input(void **state)
{
	(void)state;
	char args[4096], out[65536], path[128];
	snprintf(path, sizeof(path), "%s/bad.json", dir);
	FILE *f = fopen(path, "w");
	fputs("{\"modules\": [{\"name\": \"in\", \"cycles\": 10}],\n \"classes\": [{\"name\": \"t\", \"path\": [\"in\", \"x\"]}]}\n",
	      f);
	fclose(f);
	snprintf(args, sizeof(args), "plan %s", path);
	assert_int_equal(run(args, out, sizeof(out)), 1);
	assert_non_null(strstr(out, "path[1]"));
	f = fopen(path, "w");
	fputs("{\"modules\": [\n  {\"name\": \"in\" \"cycles\": 10}]}\n", f);
	fclose(f);
	assert_int_equal(run(args, out, sizeof(out)), 1);
	assert_non_null(strstr(out, "line 2"));
	snprintf(args, sizeof(args), "plan %s/nonexistent.json", dir);
	assert_int_equal(run(args, out, sizeof(out)), 1);
	assert_int_equal(run("frobnicate x", out, sizeof(out)), 1);
	snprintf(args, sizeof(args), "plan %s/toy.json --time-limit -1", ex);
	assert_int_equal(run(args, out, sizeof(out)), 1);
	snprintf(args, sizeof(args), "plan %s/toy.json --time-limit nan", ex);
	assert_int_equal(run(args, out, sizeof(out)), 1);
	assert_non_null(strstr(out, "--time-limit=nan: not a finite number"));
	snprintf(args, sizeof(args), "plan %s/toy.json --workers 0", ex);
	assert_int_equal(run(args, out, sizeof(out)), 1);
	assert_non_null(strstr(out, "--workers=0: out of range (1 to 64)"));
	/* infeasible SLO: exit status 2 and the SLO named */
	f = fopen(path, "w");
	fputs("{\"modules\":[{\"name\":\"in\",\"class\":\"port_in\",\"cycles\":20},{\"name\":\"A\",\"cycles\":60},"
	      "{\"name\":\"B\",\"cycles\":250},{\"name\":\"C\",\"cycles\":250}],"
	      "\"edges\":[[\"in\",\"A\"],[\"A:0\",\"B\"],[\"A:1\",\"C\"]],"
	      "\"classes\":[{\"name\":\"tc1\",\"path\":[\"in\",\"A\",\"B\"]},{\"name\":\"tc2\",\"path\":[\"in\",\"A\",\"C\"]}],"
	      "\"slos\":[{\"name\":\"too_much\",\"kind\":\"cpu\",\"classes\":[\"tc1\",\"tc2\"],\"ratio\":[20,1]}]}",
	      f);
	fclose(f);
	snprintf(args, sizeof(args), "plan %s", path);
	assert_int_equal(run(args, out, sizeof(out)), 2);
	assert_non_null(strstr(out, "'too_much'"));
	/* a plan that does not fit the graph */
	snprintf(path, sizeof(path), "%s/bad.conf", dir);
	f = fopen(path, "w");
	fputs("worker add 0 core=0\ntask attach nosuch worker=0\n", f);
	fclose(f);
	snprintf(args, sizeof(args), "check %s/toy.json %s", ex, path);
	assert_int_equal(run(args, out, sizeof(out)), 1);
	assert_non_null(strstr(out, "line 2"));
}

static int cleanup(void **state)
{
	(void)state;
	const char *files[] = {"plan.conf", "plan.dot", "s.conf", "bad.json", "bad.conf"};
	char p[128];
	for (size_t i = 0; i < sizeof(files) / sizeof(files[0]); i++) {
		snprintf(p, sizeof(p), "%s/%s", dir, files[i]);
		unlink(p);
	}
	rmdir(dir);
	return 0;
}

int main(int argc, char **argv)
{
	if (argc < 3) {
		fprintf(stderr, "usage: test_alpine_cli ALPINE EXAMPLES_DIR\n");
		return 2;
	}
	bin = argv[1];
	ex = argv[2];
	snprintf(dir, sizeof(dir), "/tmp/alpine-cli-XXXXXX");
	if (!mkdtemp(dir))
		return 2;
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(plan_then_check),
		cmocka_unit_test(strawmen_and_workers),
		cmocka_unit_test(bad_input),
	};
	return cmocka_run_group_tests(tests, NULL, cleanup);
}
