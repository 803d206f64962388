/* SPDX-License-Identifier: BSD-3-Clause */
/* The agent's database on real files: what is written comes back after a reopen, and
 * a file that is damaged, not SQLite, of a newer schema or of another server is refused
 * with a message that names it. */
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <stdint.h>
#include <cmocka.h>

#include <sqlite3.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "store.h"

struct fx {
	char dir[64];
	char db[128];
};

static int setup(void **state)
{
	struct fx *f = calloc(1, sizeof(*f));
	strcpy(f->dir, "/tmp/e2-agent-store-XXXXXX");
	if (!mkdtemp(f->dir))
		return -1;
	snprintf(f->db, sizeof(f->db), "%s/agent.db", f->dir);
	*state = f;
	return 0;
}

static int teardown(void **state)
{
	struct fx *f = *state;
	char cmd[128];
	snprintf(cmd, sizeof(cmd), "rm -rf '%s'", f->dir);
	int rc = system(cmd);
	free(f);
	return rc;
}

static int count_instance(void *opaque, const struct store_instance *i)
{
	struct store_instance *last = opaque;
	*last = *i;
	return 0;
}

static void roundtrip_survives_reopen(void **state)
{
	struct fx *f = *state;
	struct e2_err err = {""};
	struct agent_store *s = store_open(f->db, "srv1", &err);
	if (!s)
		fail_msg("%s", err.msg);
	struct stat st;
	assert_int_equal(stat(f->db, &st), 0);
	assert_int_equal(st.st_mode & 0777, 0600);

	uint8_t *bytes;
	size_t len;
	uint64_t gen;
	assert_int_equal(store_get_spec(s, &bytes, &len, &gen, &err), 0);
	assert_null(bytes);
	assert_int_equal(store_put_spec(s, (const uint8_t *)"\x10\x07", 2, &err), 0);
	assert_int_equal(store_put_applied_generation(s, 7, &err), 0);
	struct store_e2d e = {.pid = 1234, .start_ticks = 99, .restarts = 2};
	assert_int_equal(store_put_e2d(s, &e, &err), 0);
	struct strv lines = {0};
	strv_push(&lines, "port add nic pmd devargs=net_null0");
	strv_push(&lines, "module add drop sink");
	assert_int_equal(store_put_lines(s, &lines, &err), 0);
	strv_free(&lines);
	struct store_instance i = {.name = "fw.0", .state = 3, .since_ns = 42, .detail = "started in 6.1 s"};
	assert_int_equal(store_put_instance(s, &i, &err), 0);
	assert_int_equal(store_put_stopped(s, "fw.1", 1, &err), 0);
	assert_int_equal(store_put_stopped(s, "fw.1", 1, &err), 0); /* a set: no duplicate */
	assert_int_equal(store_put_refused(s, 8, "e2d refused 'connect a b'", &err), 0);
	store_close(s);

	s = store_open(f->db, "srv1", &err);
	assert_non_null(s);
	assert_int_equal(store_get_spec(s, &bytes, &len, &gen, &err), 0);
	assert_int_equal(len, 2);
	assert_memory_equal(bytes, "\x10\x07", 2);
	assert_int_equal(gen, 7);
	free(bytes);
	/* a new spec keeps the applied generation until it is applied */
	assert_int_equal(store_put_spec(s, (const uint8_t *)"\x10\x08", 2, &err), 0);
	assert_int_equal(store_get_spec(s, &bytes, &len, &gen, &err), 0);
	assert_int_equal(gen, 7);
	free(bytes);
	uint64_t refused_gen;
	char why[128];
	assert_int_equal(store_get_refused(s, &refused_gen, why, sizeof(why), &err), 0);
	assert_int_equal(refused_gen, 8);
	assert_string_equal(why, "e2d refused 'connect a b'");
	struct store_e2d e2 = {0};
	assert_int_equal(store_get_e2d(s, &e2, &err), 0);
	assert_int_equal(e2.pid, 1234);
	assert_int_equal(e2.start_ticks, 99);
	assert_int_equal(e2.restarts, 2);
	assert_int_equal(store_get_lines(s, &lines, &err), 0);
	assert_int_equal(lines.n, 2);
	assert_string_equal(lines.v[1], "module add drop sink");
	strv_free(&lines);
	struct store_instance got = {0};
	assert_int_equal(store_each_instance(s, count_instance, &got, &err), 0);
	assert_string_equal(got.name, "fw.0");
	assert_int_equal(got.state, 3);
	assert_string_equal(got.detail, "started in 6.1 s");
	struct strv stopped;
	assert_int_equal(store_get_stopped(s, &stopped, &err), 0);
	assert_int_equal(stopped.n, 1);
	strv_free(&stopped);
	assert_int_equal(store_put_stopped(s, "fw.1", 0, &err), 0);
	assert_int_equal(store_del_instance(s, "fw.0", &err), 0);
	assert_int_equal(store_get_stopped(s, &stopped, &err), 0);
	assert_int_equal(stopped.n, 0);
	strv_free(&stopped);
	store_close(s);
}

static void expect_refusal(const char *path, const char *server, const char *want)
{
	struct e2_err err = {""};
	struct agent_store *s = store_open(path, server, &err);
	if (s)
		fail_msg("%s was accepted", path);
	if (!strstr(err.msg, want))
		fail_msg("'%s' lacks '%s'", err.msg, want);
	if (!strstr(err.msg, path))
		fail_msg("'%s' does not name the file", err.msg);
}

static void not_a_database(void **state)
{
	struct fx *f = *state;
	FILE *o = fopen(f->db, "w");
	for (int k = 0; k < 200; k++)
		fputs("this is no SQLite file, just text that happens to be here\n", o);
	fclose(o);
	expect_refusal(f->db, "srv1", "damaged or not an e2-agent database");
}

static void damaged_database(void **state)
{
	struct fx *f = *state;
	struct e2_err err;
	struct agent_store *s = store_open(f->db, "srv1", &err);
	assert_non_null(s);
	struct strv lines = {0};
	char line[200];
	for (int k = 0; k < 400; k++) {
		snprintf(line, sizeof(line), "module add m%d sink # padding padding padding padding padding", k);
		strv_push(&lines, line);
	}
	assert_int_equal(store_put_lines(s, &lines, &err), 0);
	strv_free(&lines);
	store_close(s);
	/* scribble over the middle pages (the header stays valid) */
	FILE *o = fopen(f->db, "r+");
	assert_non_null(o);
	fseek(o, 4096 + 100, SEEK_SET);
	for (int k = 0; k < 6000; k++)
		fputc(0xA5, o);
	fclose(o);
	expect_refusal(f->db, "srv1", "damaged or not an e2-agent database");
}

static void newer_schema_and_other_server(void **state)
{
	struct fx *f = *state;
	struct e2_err err;
	struct agent_store *s = store_open(f->db, "srv1", &err);
	assert_non_null(s);
	store_close(s);
	expect_refusal(f->db, "srv2", "belongs to server 'srv1', not 'srv2'");

	sqlite3 *db;
	assert_int_equal(sqlite3_open(f->db, &db), SQLITE_OK);
	assert_int_equal(sqlite3_exec(db, "UPDATE meta SET value = '9' WHERE key = 'schema_version'", NULL, NULL, NULL),
			 SQLITE_OK);
	sqlite3_close(db);
	expect_refusal(f->db, "srv1", "schema version 9 is newer than this e2-agent's (1)");
}

static void foreign_sqlite_file(void **state)
{
	struct fx *f = *state;
	sqlite3 *db;
	assert_int_equal(sqlite3_open(f->db, &db), SQLITE_OK);
	assert_int_equal(sqlite3_exec(db, "CREATE TABLE t(x)", NULL, NULL, NULL), SQLITE_OK);
	sqlite3_close(db);
	expect_refusal(f->db, "srv1", "not an e2-agent database");
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test_setup_teardown(roundtrip_survives_reopen, setup, teardown),
		cmocka_unit_test_setup_teardown(not_a_database, setup, teardown),
		cmocka_unit_test_setup_teardown(damaged_database, setup, teardown),
		cmocka_unit_test_setup_teardown(newer_schema_and_other_server, setup, teardown),
		cmocka_unit_test_setup_teardown(foreign_sqlite_file, setup, teardown),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
