/* SPDX-License-Identifier: BSD-3-Clause */
/* The few SQLite calls E2's daemons make for their durable state (the controller's and
 * each agent's database), with errors that name the file. Each daemon opens its own
 * database (its schema, its checks, its messages); statements go through here. */
#ifndef E2_DB_H
#define E2_DB_H

#include <sqlite3.h>

#include "e2/err.h"

struct e2_db {
	sqlite3 *handle;
	char path[512]; /* for messages */
};

/* "PATH: WHAT: SQLite's message"; returns -1. */
int e2_db_fail(const struct e2_db *db, struct e2_err *err, const char *what);
/* Statements without parameters or rows ("BEGIN", a schema, pragmas). 0 or -1. */
int e2_db_exec(const struct e2_db *db, const char *sql, struct e2_err *err);
/* One statement with parameters given by `types`, one letter each: t (const char *),
 * i (int64_t), b (const void *, size_t). It must return no rows. 0 or -1. */
int e2_db_run(const struct e2_db *db, struct e2_err *err, const char *sql, const char *types, ...);
/* Steps a query without parameters, calling row() for each row; a non-zero return from
 * row() stops early (and is not an error). 0 or -1. */
int e2_db_each(const struct e2_db *db, struct e2_err *err, const char *sql, int (*row)(sqlite3_stmt *, void *),
	       void *opaque);
/* The value of `key` in table meta(key, value), malloc'd; NULL when absent (err left
 * alone) or on an error (err set). */
char *e2_db_meta(const struct e2_db *db, const char *key, struct e2_err *err);
/* SQLite's own integrity check: 0 when the file is a sound database, -1 when it is not
 * a usable database at all, 1 when it is damaged; why: SQLite's words ("file is not a
 * database", or the first damage found). */
int e2_db_quick_check(const struct e2_db *db, char *why, size_t len);

#endif
