/* SPDX-License-Identifier: BSD-3-Clause */
/* e2/db.h on real files: statements with text, integer and blob parameters (an empty
 * blob included), rows back, meta values, and the integrity check telling a sound
 * database from a file that is not one. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <cmocka.h>

#include "e2/db.h"

static int sum_row(sqlite3_stmt *st, void *o)
{
	int64_t *sum = o;
	*sum += sqlite3_column_int64(st, 0) + sqlite3_column_bytes(st, 1);
	return 0;
}

static int first_row(sqlite3_stmt *st, void *o)
{
	*(int64_t *)o = sqlite3_column_int64(st, 0);
	return 1; /* stops: not an error */
}

static void statements_and_rows(void **state)
{
	(void)state;
	char path[] = "/tmp/e2-test-db.XXXXXX";
	int fd = mkstemp(path);
	assert_true(fd >= 0);
	close(fd);
	struct e2_db db = {0};
	snprintf(db.path, sizeof db.path, "%s", path);
	assert_int_equal(sqlite3_open(path, &db.handle), SQLITE_OK);
	struct e2_err err = {""};
	assert_int_equal(e2_db_exec(&db,
				    "CREATE TABLE meta(key TEXT PRIMARY KEY, value TEXT NOT NULL);"
				    "CREATE TABLE t(n INTEGER, b BLOB NOT NULL);",
				    &err),
			 0);
	char why[128];
	assert_int_equal(e2_db_quick_check(&db, why, sizeof why), 0);
	assert_int_equal(e2_db_run(&db, &err, "INSERT INTO t VALUES(?,?)", "ib", (int64_t)40, "ab", (size_t)2), 0);
	assert_int_equal(e2_db_run(&db, &err, "INSERT INTO t VALUES(?,?)", "ib", (int64_t)-2, "", (size_t)0), 0);
	int64_t sum = 0;
	assert_int_equal(e2_db_each(&db, &err, "SELECT n, b FROM t", sum_row, &sum), 0);
	assert_int_equal(sum, 40);
	int64_t first = 0;
	assert_int_equal(e2_db_each(&db, &err, "SELECT n FROM t ORDER BY n", first_row, &first), 0);
	assert_int_equal(first, -2);
	assert_int_equal(e2_db_run(&db, &err, "INSERT INTO meta VALUES(?,?)", "tt", "k", "v"), 0);
	char *v = e2_db_meta(&db, "k", &err);
	assert_string_equal(v, "v");
	free(v);
	struct e2_err none = {""};
	assert_null(e2_db_meta(&db, "absent", &none));
	assert_string_equal(none.msg, "");
	/* errors name the file */
	assert_int_equal(e2_db_run(&db, &err, "INSERT INTO nosuch VALUES(?)", "i", (int64_t)1), -1);
	assert_non_null(strstr(err.msg, path));
	assert_int_equal(e2_db_exec(&db, "NOT SQL", &err), -1);
	assert_non_null(strstr(err.msg, path));
	assert_int_equal(e2_db_each(&db, &err, "SELECT x FROM nosuch", sum_row, &sum), -1);
	sqlite3_close(db.handle);

	/* a file that is not a database */
	FILE *f = fopen(path, "w");
	assert_non_null(f);
	for (int i = 0; i < 4096; i++)
		fputc(i * 7 + 3, f);
	fclose(f);
	char wal[600];
	snprintf(wal, sizeof wal, "%s-wal", path);
	unlink(wal);
	assert_int_equal(sqlite3_open(path, &db.handle), SQLITE_OK);
	assert_int_equal(e2_db_quick_check(&db, why, sizeof why), -1);
	assert_non_null(strstr(why, "not a database"));
	sqlite3_close(db.handle);
	unlink(path);
}

int main(void)
{
	const struct CMUnitTest tests[] = {cmocka_unit_test(statements_and_rows)};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
