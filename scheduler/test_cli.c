/* SPDX-License-Identifier: BSD-3-Clause */
/* The alpine command line: plan/check/strawman on the examples, exit codes, and
 * clear errors on bad files. argv[1] = alpine binary, argv[2] = examples/alpine. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>

#include <cmocka.h>
#include <stdbool.h>
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
		snprintf(
			args, sizeof(args),
			"plan %s/%s.json --out %s/plan.conf --dot %s/plan.dot --graph-out %s/plan.json --time-limit 20",
			ex, names[i], dir, dir, dir);
		assert_int_equal(run(args, out, sizeof(out)), 0);
		assert_non_null(strstr(out, "status: optimal"));
		/* Alpine's plans add only queues: the plan's graph is not needed, and agrees */
		char first[65536];
		snprintf(args, sizeof(args), "check %s/%s.json %s/plan.conf", ex, names[i], dir);
		int rc = run(args, first, sizeof(first));
		if (rc != 0)
			fprintf(stderr, "%s\n", first);
		assert_int_equal(rc, 0);
		assert_non_null(strstr(first, "max_slo_error="));
		snprintf(args, sizeof(args), "check %s/%s.json %s/plan.conf --graph %s/plan.json", ex, names[i], dir,
			 dir);
		assert_int_equal(run(args, out, sizeof(out)), 0);
		assert_string_equal(out, first);
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
		snprintf(args, sizeof(args), "strawman %s %s/toy.json --out %s/s.conf --graph-out %s/s.json", kinds[i],
			 ex, dir, dir);
		assert_int_equal(run(args, out, sizeof(out)), 0);
		snprintf(args, sizeof(args), "check %s/toy.json %s/s.conf --graph %s/s.json", ex, dir, dir);
		/* rtc ignores the SLO: check reports it with exit status 4 */
		assert_int_equal(run(args, out, sizeof(out)), i == 2 ? 4 : 0);
	}
	/* the manual strawman's modules cost what its graph says: without it, no check */
	snprintf(args, sizeof(args), "strawman manual %s/firewall.json --out %s/s.conf --graph-out %s/s.json", ex, dir,
		 dir);
	assert_int_equal(run(args, out, sizeof(out)), 0);
	snprintf(args, sizeof(args), "%s/s.conf", dir);
	FILE *f = fopen(args, "r");
	assert_non_null(f);
	char line[4096];
	while (fgets(line, sizeof(line), f))
		assert_null(strstr(line, "#@"));
	fclose(f);
	snprintf(args, sizeof(args), "check %s/firewall.json %s/s.conf --graph %s/s.json", ex, dir, dir);
	assert_int_equal(run(args, out, sizeof(out)), 0);
	assert_non_null(strstr(out, "queues=2"));
	snprintf(args, sizeof(args), "check %s/firewall.json %s/s.conf", ex, dir);
	assert_int_equal(run(args, out, sizeof(out)), 1);
	assert_non_null(strstr(out, "unknown cost: give the plan's graph"));
	/* the plan's graph of another starting graph */
	snprintf(args, sizeof(args), "check %s/toy.json %s/s.conf --graph %s/s.json", ex, dir, dir);
	assert_int_equal(run(args, out, sizeof(out)), 1);
	assert_non_null(strstr(out, "the plan's graph starts at 'inc', not at the graph's input 'in'"));
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

static bool exists(const char *name)
{
	char p[128];
	snprintf(p, sizeof(p), "%s/%s", dir, name);
	return access(p, F_OK) == 0;
}

/* --graph-out and --graph: on the right commands, never over an input or another
 * output, and nothing written when one output is refused. */
static void graph_out_and_graph(void **state)
{
	(void)state;
	char args[4096], out[65536], path[128];
	snprintf(path, sizeof(path), "%s/toy.json", dir);
	FILE *f = fopen(path, "w");
	assert_non_null(f);
	fputs("{\"modules\":[{\"name\":\"in\",\"class\":\"port_in\",\"cycles\":20},{\"name\":\"A\",\"cycles\":60}],"
	      "\"edges\":[[\"in\",\"A\"]],\"classes\":[{\"name\":\"t\",\"path\":[\"in\",\"A\"]}]}\n",
	      f);
	fclose(f);
	snprintf(args, sizeof(args), "strawman manual %s --out %s/g.conf --graph-out %s", path, dir, path);
	assert_int_equal(run(args, out, sizeof(out)), 3);
	assert_non_null(strstr(out, "refusing to overwrite it"));
	assert_false(exists("g.conf"));
	snprintf(args, sizeof(args), "plan %s --out %s/g.conf --graph-out %s/g.conf", path, dir, dir);
	assert_int_equal(run(args, out, sizeof(out)), 1);
	assert_non_null(strstr(out, "--out and --graph-out are the same file"));
	assert_false(exists("g.conf"));
	snprintf(args, sizeof(args), "plan %s --graph-out -", path);
	assert_int_equal(run(args, out, sizeof(out)), 1);
	assert_non_null(strstr(out, "both go to standard output"));
	snprintf(args, sizeof(args), "plan %s --graph %s/g.json", path, dir);
	assert_int_equal(run(args, out, sizeof(out)), 1);
	assert_non_null(strstr(out, "plan and strawman write the plan's graph (--graph-out FILE)"));
	/* the written graph is a graph file alpine reads, plans included */
	snprintf(args, sizeof(args), "strawman manual %s --out %s/g.conf --graph-out %s/g.json", path, dir, dir);
	assert_int_equal(run(args, out, sizeof(out)), 0);
	snprintf(args, sizeof(args), "check %s %s/g.conf --graph-out %s/g.json", path, dir, dir);
	assert_int_equal(run(args, out, sizeof(out)), 1);
	assert_non_null(strstr(out, "check reads it (--graph FILE)"));
	snprintf(args, sizeof(args), "plan %s/g.json --out %s/again.conf", dir, dir);
	assert_int_equal(run(args, out, sizeof(out)), 0);
	snprintf(args, sizeof(args), "check %s %s/g.conf --graph %s/nonexistent.json", path, dir, dir);
	assert_int_equal(run(args, out, sizeof(out)), 1);
	assert_non_null(strstr(out, "nonexistent.json"));
	/* a plan that still carries the old comment annotations */
	snprintf(path, sizeof(path), "%s/old.conf", dir);
	f = fopen(path, "w");
	assert_non_null(f);
	fputs("#@module x cycles=40\nmodule add x bypass\n", f);
	fclose(f);
	snprintf(args, sizeof(args), "check %s/toy.json %s", dir, path);
	assert_int_equal(run(args, out, sizeof(out)), 1);
	assert_non_null(strstr(out, "plan line 1: '#@' annotations are no longer read"));
}

static int cleanup(void **state)
{
	(void)state;
	const char *files[] = {"plan.conf", "plan.dot", "plan.json", "s.conf", "s.json",     "bad.json",
			       "bad.conf",  "toy.json", "g.conf",    "g.json", "again.conf", "old.conf"};
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
		cmocka_unit_test(graph_out_and_graph),
	};
	return cmocka_run_group_tests(tests, NULL, cleanup);
}
