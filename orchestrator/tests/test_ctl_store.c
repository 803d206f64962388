/* SPDX-License-Identifier: BSD-3-Clause */
/* The controller's store: created only when asked, reopened with what was committed,
 * and a missing, foreign, damaged or newer database refused with a message that says so. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>
#include <cmocka.h>

#include <sqlite3.h>

#include "../ctl_store.h"

static char dir[] = "/tmp/e2-ctl-store.XXXXXX";
static char path[256];

static int setup(void **state)
{
	(void)state;
	strcpy(dir, "/tmp/e2-ctl-store.XXXXXX");
	if (!mkdtemp(dir))
		return -1;
	snprintf(path, sizeof path, "%s/controller.db", dir);
	return 0;
}

static int teardown(void **state)
{
	(void)state;
	char cmd[300];
	snprintf(cmd, sizeof cmd, "rm -rf %s", dir);
	return system(cmd) == 0 ? 0 : -1;
}

static int count_policy(void *o, int64_t id, const char *name, const char *yaml)
{
	(void)id;
	(void)yaml;
	int *n = o;
	(*n)++;
	return strcmp(name, "web.yaml") == 0 ? 0 : -1;
}

static int find_spec(void *o, const char *server, uint64_t gen, const void *spec, size_t len)
{
	int *n = o;
	assert_string_equal(server, "srv0");
	assert_int_equal(gen, 3);
	assert_int_equal(len, 4);
	assert_memory_equal(spec, "\x01\x00\x02\x03", 4);
	(*n)++;
	return 0;
}

static int find_instance(void *o, const struct ctl_store_instance *in)
{
	int *n = o;
	assert_string_equal(in->name, "fw.0");
	assert_true(in->stopped_by_operator);
	assert_int_equal(in->flow_hi, 65536);
	(*n)++;
	return 0;
}

static void created_then_reopened(void **state)
{
	(void)state;
	struct e2_err err = {""};
	assert_null(ctl_store_open(path, CTL_STORE_EXISTING, &err));
	assert_non_null(strstr(err.msg, "no such database"));

	struct ctl_store *s = ctl_store_open(path, CTL_STORE_CREATE, &err);
	assert_non_null(s);
	struct stat sb;
	assert_int_equal(stat(path, &sb), 0);
	assert_int_equal(sb.st_mode & 0777, 0600);
	assert_int_equal(ctl_store_begin(s, &err), 0);
	assert_int_equal(ctl_store_add_policy(s, "web.yaml", "pipelines: []", &err), 0);
	assert_int_equal(ctl_store_put_spec(s, "srv0", 3, "\x01\x00\x02\x03", 4, &err), 0);
	struct ctl_store_instance in = {.name = "fw.0",
					.server = "srv0",
					.nf = "firewall",
					.detail = "",
					.flow_lo = 0,
					.flow_hi = 65536,
					.state = 3,
					.since_ns = 1,
					.stopped_by_operator = true};
	assert_int_equal(ctl_store_put_instance(s, &in, &err), 0);
	assert_int_equal(ctl_store_set(s, "generation", "3", &err), 0);
	assert_int_equal(ctl_store_commit(s, &err), 0);
	/* an uncommitted change is not there after a reopen */
	assert_int_equal(ctl_store_begin(s, &err), 0);
	assert_int_equal(ctl_store_set(s, "generation", "4", &err), 0);
	ctl_store_rollback(s);
	ctl_store_close(s);

	assert_null(ctl_store_open(path, CTL_STORE_CREATE, &err));
	assert_non_null(strstr(err.msg, "already exists"));
	s = ctl_store_open(path, CTL_STORE_EXISTING, &err);
	assert_non_null(s);
	char *g = ctl_store_get(s, "generation", &err);
	assert_string_equal(g, "3");
	free(g);
	int n = 0;
	assert_int_equal(ctl_store_policies(s, count_policy, &n, &err), 0);
	assert_int_equal(n, 1);
	n = 0;
	assert_int_equal(ctl_store_specs(s, find_spec, &n, &err), 0);
	assert_int_equal(n, 1);
	n = 0;
	assert_int_equal(ctl_store_instances(s, find_instance, &n, &err), 0);
	assert_int_equal(n, 1);
	ctl_store_close(s);
}

static void write_file(const char *p, const void *data, size_t len)
{
	FILE *f = fopen(p, "w");
	assert_non_null(f);
	assert_int_equal(fwrite(data, 1, len, f), len);
	fclose(f);
}

static void refusals(void **state)
{
	(void)state;
	struct e2_err err = {""};
	/* not a database at all */
	write_file(path, "this is not SQLite\n", 19);
	assert_null(ctl_store_open(path, CTL_STORE_EXISTING, &err));
	assert_non_null(strstr(err.msg, "not a database"));
	unlink(path);

	/* a database, but not ours */
	sqlite3 *db;
	assert_int_equal(sqlite3_open(path, &db), SQLITE_OK);
	assert_int_equal(sqlite3_exec(db, "CREATE TABLE t(x)", NULL, NULL, NULL), SQLITE_OK);
	sqlite3_close(db);
	assert_null(ctl_store_open(path, CTL_STORE_EXISTING, &err));
	assert_non_null(strstr(err.msg, "not an E2 controller database"));
	unlink(path);

	/* ours, from a newer controller */
	struct ctl_store *s = ctl_store_open(path, CTL_STORE_CREATE, &err);
	assert_non_null(s);
	assert_int_equal(ctl_store_set(s, "schema_version", "99", &err), 0);
	ctl_store_close(s);
	assert_null(ctl_store_open(path, CTL_STORE_EXISTING, &err));
	assert_non_null(strstr(err.msg, "schema version 99"));
	unlink(path);

	/* ours, with its pages overwritten in the middle */
	s = ctl_store_open(path, CTL_STORE_CREATE, &err);
	assert_non_null(s);
	assert_int_equal(ctl_store_begin(s, &err), 0);
	char big[4096];
	memset(big, 'x', sizeof big - 1);
	big[sizeof big - 1] = 0;
	for (int i = 0; i < 64; i++)
		assert_int_equal(ctl_store_add_policy(s, "p", big, &err), 0);
	assert_int_equal(ctl_store_commit(s, &err), 0);
	ctl_store_close(s);
	/* fold the WAL into the file, then damage it */
	assert_int_equal(sqlite3_open(path, &db), SQLITE_OK);
	sqlite3_exec(db, "PRAGMA wal_checkpoint(TRUNCATE)", NULL, NULL, NULL);
	sqlite3_close(db);
	FILE *f = fopen(path, "r+");
	assert_non_null(f);
	fseek(f, 4096 * 3 + 100, SEEK_SET);
	char junk[8192];
	memset(junk, 0x5a, sizeof junk);
	fwrite(junk, 1, sizeof junk, f);
	fclose(f);
	assert_null(ctl_store_open(path, CTL_STORE_EXISTING, &err));
	assert_true(strstr(err.msg, "damaged") || strstr(err.msg, "malformed") || strstr(err.msg, "not a"));
	unlink(path);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test_setup_teardown(created_then_reopened, setup, teardown),
		cmocka_unit_test_setup_teardown(refusals, setup, teardown),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
