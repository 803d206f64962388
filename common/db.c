/* SPDX-License-Identifier: BSD-3-Clause */
#include "e2/db.h"

#include <stdarg.h>
#include <stdint.h>
#include <stdio.h>
#include <string.h>

#include "e2/mem.h"

int e2_db_fail(const struct e2_db *db, struct e2_err *err, const char *what)
{
	e2_seterr(err, "%s: %s: %s", db->path, what, sqlite3_errmsg(db->handle));
	return -1;
}

int e2_db_exec(const struct e2_db *db, const char *sql, struct e2_err *err)
{
	char *msg = NULL;
	if (sqlite3_exec(db->handle, sql, NULL, NULL, &msg) != SQLITE_OK) {
		e2_seterr(err, "%s: %s", db->path, msg ? msg : sqlite3_errmsg(db->handle));
		sqlite3_free(msg);
		return -1;
	}
	return 0;
}

int e2_db_run(const struct e2_db *db, struct e2_err *err, const char *sql, const char *types, ...)
{
	sqlite3_stmt *st;
	if (sqlite3_prepare_v2(db->handle, sql, -1, &st, NULL) != SQLITE_OK)
		return e2_db_fail(db, err, "cannot prepare a statement");
	va_list ap;
	va_start(ap, types);
	for (int i = 0; types[i]; i++) {
		int rc;
		if (types[i] == 't') {
			rc = sqlite3_bind_text(st, i + 1, va_arg(ap, const char *), -1, SQLITE_TRANSIENT);
		} else if (types[i] == 'i') {
			rc = sqlite3_bind_int64(st, i + 1, va_arg(ap, int64_t));
		} else {
			const void *p = va_arg(ap, const void *);
			size_t n = va_arg(ap, size_t);
			/* an empty blob is not NULL */
			rc = sqlite3_bind_blob(st, i + 1, n ? p : "", (int)n, SQLITE_TRANSIENT);
		}
		if (rc != SQLITE_OK) {
			va_end(ap);
			sqlite3_finalize(st);
			return e2_db_fail(db, err, "bind");
		}
	}
	va_end(ap);
	int rc = sqlite3_step(st);
	sqlite3_finalize(st);
	if (rc != SQLITE_DONE)
		return e2_db_fail(db, err, "write failed");
	return 0;
}

int e2_db_each(const struct e2_db *db, struct e2_err *err, const char *sql, int (*row)(sqlite3_stmt *, void *),
	       void *opaque)
{
	sqlite3_stmt *st;
	if (sqlite3_prepare_v2(db->handle, sql, -1, &st, NULL) != SQLITE_OK)
		return e2_db_fail(db, err, "read failed");
	int rc;
	while ((rc = sqlite3_step(st)) == SQLITE_ROW)
		if (row(st, opaque)) {
			sqlite3_finalize(st);
			return 0;
		}
	sqlite3_finalize(st);
	if (rc != SQLITE_DONE)
		return e2_db_fail(db, err, "read failed");
	return 0;
}

char *e2_db_meta(const struct e2_db *db, const char *key, struct e2_err *err)
{
	sqlite3_stmt *st;
	if (sqlite3_prepare_v2(db->handle, "SELECT value FROM meta WHERE key=?", -1, &st, NULL) != SQLITE_OK) {
		e2_db_fail(db, err, "read failed");
		return NULL;
	}
	sqlite3_bind_text(st, 1, key, -1, SQLITE_TRANSIENT);
	char *v = NULL;
	int rc = sqlite3_step(st);
	if (rc == SQLITE_ROW)
		v = e2_xstrdup((const char *)sqlite3_column_text(st, 0));
	else if (rc != SQLITE_DONE)
		e2_db_fail(db, err, "read failed");
	sqlite3_finalize(st);
	return v;
}

int e2_db_quick_check(const struct e2_db *db, char *why, size_t len)
{
	sqlite3_stmt *st = NULL;
	/* a file that is not a database fails at the prepare, with "file is not a database" */
	if (sqlite3_prepare_v2(db->handle, "PRAGMA quick_check", -1, &st, NULL) != SQLITE_OK) {
		snprintf(why, len, "%s", sqlite3_errmsg(db->handle));
		return -1;
	}
	int rc = sqlite3_step(st);
	const char *res = rc == SQLITE_ROW ? (const char *)sqlite3_column_text(st, 0) : NULL;
	int verdict = !res ? -1 : strcmp(res, "ok") == 0 ? 0 : 1;
	snprintf(why, len, "%s", res ? res : sqlite3_errmsg(db->handle));
	sqlite3_finalize(st);
	return verdict;
}
