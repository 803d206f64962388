/* SPDX-License-Identifier: BSD-3-Clause */
/* The controller's SQLite store (ctl_store.h). */
#include "ctl_store.h"

#include <errno.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include <sqlite3.h>

#include "e2/mem.h"
#include "e2/num.h"

struct ctl_store {
	sqlite3 *db;
	char path[512];
};

static const char *const schema_sql =
	"CREATE TABLE meta(key TEXT PRIMARY KEY, value TEXT NOT NULL);"
	"CREATE TABLE policies(id INTEGER PRIMARY KEY AUTOINCREMENT, name TEXT NOT NULL, yaml TEXT NOT NULL);"
	"CREATE TABLE deleted(pipeline TEXT PRIMARY KEY);"
	"CREATE TABLE specs(server TEXT PRIMARY KEY, generation INTEGER NOT NULL, spec BLOB NOT NULL);"
	"CREATE TABLE rules(idx INTEGER PRIMARY KEY, rule TEXT NOT NULL);"
	"CREATE TABLE instances(name TEXT PRIMARY KEY, server TEXT NOT NULL, nf TEXT NOT NULL,"
	" flow_lo INTEGER NOT NULL, flow_hi INTEGER NOT NULL, state INTEGER NOT NULL, since_ns INTEGER NOT NULL,"
	" detail TEXT NOT NULL, stopped INTEGER NOT NULL);";

static int fail(struct ctl_store *s, struct e2_err *err, const char *what)
{
	e2_seterr(err, "%s: %s: %s", s->path, what, sqlite3_errmsg(s->db));
	return -1;
}

static int exec(struct ctl_store *s, const char *sql, struct e2_err *err)
{
	char *msg = NULL;
	if (sqlite3_exec(s->db, sql, NULL, NULL, &msg) != SQLITE_OK) {
		e2_seterr(err, "%s: %s", s->path, msg ? msg : sqlite3_errmsg(s->db));
		sqlite3_free(msg);
		return -1;
	}
	return 0;
}

static int check_schema(struct ctl_store *s, struct e2_err *err)
{
	sqlite3_stmt *st = NULL;
	/* a file that is not a database fails here, with SQLite's "file is not a database" */
	if (sqlite3_prepare_v2(s->db, "PRAGMA quick_check", -1, &st, NULL) != SQLITE_OK)
		return fail(s, err, "not a usable database");
	int rc = sqlite3_step(st);
	const char *res = rc == SQLITE_ROW ? (const char *)sqlite3_column_text(st, 0) : NULL;
	bool ok = res && strcmp(res, "ok") == 0;
	char first[200] = "";
	if (res)
		snprintf(first, sizeof first, "%s", res);
	sqlite3_finalize(st);
	if (rc != SQLITE_ROW)
		return fail(s, err, "not a usable database");
	if (!ok) {
		e2_seterr(err, "%s: the database is damaged (%s)", s->path, first);
		return -1;
	}
	struct e2_err e2 = {""};
	char *v = ctl_store_get(s, "schema_version", &e2);
	if (!v) {
		e2_seterr(err, "%s: not an E2 controller database (%s)", s->path,
			  e2.msg[0] ? e2.msg : "no schema version");
		return -1;
	}
	int ver = 0;
	struct e2_err e3 = {""};
	int bad = e2_num_int("schema_version", v, 0, 1000000, &ver, &e3);
	free(v);
	if (bad) {
		e2_seterr(err, "%s: not an E2 controller database (%s)", s->path, e3.msg);
		return -1;
	}
	if (ver != CTL_STORE_SCHEMA) {
		e2_seterr(err, "%s: schema version %d, this controller knows %d", s->path, ver, CTL_STORE_SCHEMA);
		return -1;
	}
	return 0;
}

struct ctl_store *ctl_store_open(const char *path, enum ctl_store_mode mode, struct e2_err *err)
{
	struct stat sb;
	bool exists = stat(path, &sb) == 0;
	if (mode == CTL_STORE_EXISTING && !exists) {
		e2_seterr(err, "%s: no such database", path);
		return NULL;
	}
	if (mode == CTL_STORE_CREATE && exists) {
		e2_seterr(err, "%s: already exists; not overwriting it", path);
		return NULL;
	}
	struct ctl_store *s = e2_xcalloc(1, sizeof *s);
	snprintf(s->path, sizeof s->path, "%s", path);
	int flags = SQLITE_OPEN_READWRITE | (mode == CTL_STORE_CREATE ? SQLITE_OPEN_CREATE : 0);
	if (sqlite3_open_v2(path, &s->db, flags, NULL) != SQLITE_OK) {
		fail(s, err, "cannot open");
		ctl_store_close(s);
		return NULL;
	}
	sqlite3_busy_timeout(s->db, 2000);
	if (mode == CTL_STORE_CREATE) {
		char sql[2048];
		snprintf(sql, sizeof sql,
			 "PRAGMA journal_mode=WAL; BEGIN; %s INSERT INTO meta VALUES('schema_version','%d');"
			 "INSERT INTO meta VALUES('generation','0'); COMMIT;",
			 schema_sql, CTL_STORE_SCHEMA);
		if (exec(s, sql, err) < 0) {
			ctl_store_close(s);
			unlink(path);
			return NULL;
		}
		chmod(path, 0600);
	} else if (check_schema(s, err) < 0 || exec(s, "PRAGMA journal_mode=WAL", err) < 0) {
		ctl_store_close(s);
		return NULL;
	}
	if (exec(s, "PRAGMA synchronous=NORMAL", err) < 0) {
		ctl_store_close(s);
		return NULL;
	}
	return s;
}

void ctl_store_close(struct ctl_store *s)
{
	if (!s)
		return;
	sqlite3_close(s->db);
	free(s);
}

int ctl_store_begin(struct ctl_store *s, struct e2_err *err)
{
	return exec(s, "BEGIN IMMEDIATE", err);
}

int ctl_store_commit(struct ctl_store *s, struct e2_err *err)
{
	return exec(s, "COMMIT", err);
}

void ctl_store_rollback(struct ctl_store *s)
{
	sqlite3_exec(s->db, "ROLLBACK", NULL, NULL, NULL);
}

/* Runs one statement with text/int/blob parameters given as a format: t (const char *),
 * i (int64_t), b (const void *, size_t). */
static int run(struct ctl_store *s, struct e2_err *err, const char *sql, const char *types, ...)
{
	sqlite3_stmt *st;
	if (sqlite3_prepare_v2(s->db, sql, -1, &st, NULL) != SQLITE_OK)
		return fail(s, err, "prepare");
	va_list ap;
	va_start(ap, types);
	for (int i = 0; types[i]; i++) {
		int rc;
		if (types[i] == 't')
			rc = sqlite3_bind_text(st, i + 1, va_arg(ap, const char *), -1, SQLITE_TRANSIENT);
		else if (types[i] == 'i')
			rc = sqlite3_bind_int64(st, i + 1, va_arg(ap, int64_t));
		else {
			const void *p = va_arg(ap, const void *);
			size_t n = va_arg(ap, size_t);
			rc = sqlite3_bind_blob(st, i + 1, p, (int)n, SQLITE_TRANSIENT);
		}
		if (rc != SQLITE_OK) {
			va_end(ap);
			sqlite3_finalize(st);
			return fail(s, err, "bind");
		}
	}
	va_end(ap);
	int rc = sqlite3_step(st);
	sqlite3_finalize(st);
	if (rc != SQLITE_DONE)
		return fail(s, err, "write");
	return 0;
}

int ctl_store_set(struct ctl_store *s, const char *key, const char *value, struct e2_err *err)
{
	return run(s, err, "INSERT OR REPLACE INTO meta VALUES(?,?)", "tt", key, value);
}

char *ctl_store_get(struct ctl_store *s, const char *key, struct e2_err *err)
{
	sqlite3_stmt *st;
	if (sqlite3_prepare_v2(s->db, "SELECT value FROM meta WHERE key=?", -1, &st, NULL) != SQLITE_OK) {
		fail(s, err, "read");
		return NULL;
	}
	sqlite3_bind_text(st, 1, key, -1, SQLITE_TRANSIENT);
	char *v = NULL;
	int rc = sqlite3_step(st);
	if (rc == SQLITE_ROW)
		v = e2_xstrdup((const char *)sqlite3_column_text(st, 0));
	else if (rc != SQLITE_DONE)
		fail(s, err, "read");
	sqlite3_finalize(st);
	return v;
}

int ctl_store_add_policy(struct ctl_store *s, const char *name, const char *yaml, struct e2_err *err)
{
	return run(s, err, "INSERT INTO policies(name, yaml) VALUES(?,?)", "tt", name, yaml);
}

int ctl_store_drop_policy(struct ctl_store *s, int64_t id, struct e2_err *err)
{
	return run(s, err, "DELETE FROM policies WHERE id=?", "i", id);
}

/* Steps a SELECT, calling row(st) for each row; row's non-zero return stops early. */
static int each(struct ctl_store *s, struct e2_err *err, const char *sql, int (*row)(sqlite3_stmt *, void *),
		void *opaque)
{
	sqlite3_stmt *st;
	if (sqlite3_prepare_v2(s->db, sql, -1, &st, NULL) != SQLITE_OK)
		return fail(s, err, "read");
	int rc;
	while ((rc = sqlite3_step(st)) == SQLITE_ROW)
		if (row(st, opaque)) {
			sqlite3_finalize(st);
			return 0;
		}
	sqlite3_finalize(st);
	if (rc != SQLITE_DONE)
		return fail(s, err, "read");
	return 0;
}

struct cb {
	void *fn;
	void *opaque;
};

static int policy_row(sqlite3_stmt *st, void *o)
{
	struct cb *c = o;
	return ((ctl_store_policy_fn)c->fn)(c->opaque, sqlite3_column_int64(st, 0),
					    (const char *)sqlite3_column_text(st, 1),
					    (const char *)sqlite3_column_text(st, 2));
}

int ctl_store_policies(struct ctl_store *s, ctl_store_policy_fn fn, void *opaque, struct e2_err *err)
{
	struct cb c = {(void *)fn, opaque};
	return each(s, err, "SELECT id, name, yaml FROM policies ORDER BY id", policy_row, &c);
}

int ctl_store_set_deleted(struct ctl_store *s, const char *pipeline, bool deleted, struct e2_err *err)
{
	return deleted ? run(s, err, "INSERT OR IGNORE INTO deleted VALUES(?)", "t", pipeline)
		       : run(s, err, "DELETE FROM deleted WHERE pipeline=?", "t", pipeline);
}

static int name_row(sqlite3_stmt *st, void *o)
{
	struct cb *c = o;
	return ((ctl_store_name_fn)c->fn)(c->opaque, (const char *)sqlite3_column_text(st, 0));
}

int ctl_store_deleted(struct ctl_store *s, ctl_store_name_fn fn, void *opaque, struct e2_err *err)
{
	struct cb c = {(void *)fn, opaque};
	return each(s, err, "SELECT pipeline FROM deleted", name_row, &c);
}

int ctl_store_put_spec(struct ctl_store *s, const char *server, uint64_t generation, const void *spec, size_t len,
		       struct e2_err *err)
{
	return run(s, err, "INSERT OR REPLACE INTO specs VALUES(?,?,?)", "tib", server, (int64_t)generation, spec, len);
}

static int spec_row(sqlite3_stmt *st, void *o)
{
	struct cb *c = o;
	return ((ctl_store_spec_fn)c->fn)(c->opaque, (const char *)sqlite3_column_text(st, 0),
					  (uint64_t)sqlite3_column_int64(st, 1), sqlite3_column_blob(st, 2),
					  (size_t)sqlite3_column_bytes(st, 2));
}

int ctl_store_specs(struct ctl_store *s, ctl_store_spec_fn fn, void *opaque, struct e2_err *err)
{
	struct cb c = {(void *)fn, opaque};
	return each(s, err, "SELECT server, generation, spec FROM specs ORDER BY server", spec_row, &c);
}

int ctl_store_set_rules(struct ctl_store *s, char *const *rules, size_t n, struct e2_err *err)
{
	if (run(s, err, "DELETE FROM rules", "") < 0)
		return -1;
	for (size_t i = 0; i < n; i++)
		if (run(s, err, "INSERT INTO rules VALUES(?,?)", "it", (int64_t)i, rules[i]) < 0)
			return -1;
	return 0;
}

int ctl_store_rules(struct ctl_store *s, ctl_store_name_fn fn, void *opaque, struct e2_err *err)
{
	struct cb c = {(void *)fn, opaque};
	return each(s, err, "SELECT rule FROM rules ORDER BY idx", name_row, &c);
}

int ctl_store_put_instance(struct ctl_store *s, const struct ctl_store_instance *in, struct e2_err *err)
{
	return run(s, err, "INSERT OR REPLACE INTO instances VALUES(?,?,?,?,?,?,?,?,?)", "tttiiiiti", in->name,
		   in->server, in->nf, (int64_t)in->flow_lo, (int64_t)in->flow_hi, (int64_t)in->state,
		   (int64_t)in->since_ns, in->detail ? in->detail : "", (int64_t)in->stopped_by_operator);
}

int ctl_store_drop_instance(struct ctl_store *s, const char *name, struct e2_err *err)
{
	return run(s, err, "DELETE FROM instances WHERE name=?", "t", name);
}

static int instance_row(sqlite3_stmt *st, void *o)
{
	struct cb *c = o;
	struct ctl_store_instance in = {
		.name = (const char *)sqlite3_column_text(st, 0),
		.server = (const char *)sqlite3_column_text(st, 1),
		.nf = (const char *)sqlite3_column_text(st, 2),
		.flow_lo = (uint32_t)sqlite3_column_int64(st, 3),
		.flow_hi = (uint32_t)sqlite3_column_int64(st, 4),
		.state = (int)sqlite3_column_int64(st, 5),
		.since_ns = (uint64_t)sqlite3_column_int64(st, 6),
		.detail = (const char *)sqlite3_column_text(st, 7),
		.stopped_by_operator = sqlite3_column_int64(st, 8) != 0,
	};
	return ((ctl_store_instance_fn)c->fn)(c->opaque, &in);
}

int ctl_store_instances(struct ctl_store *s, ctl_store_instance_fn fn, void *opaque, struct e2_err *err)
{
	struct cb c = {(void *)fn, opaque};
	return each(s, err,
		    "SELECT name, server, nf, flow_lo, flow_hi, state, since_ns, detail, stopped FROM instances "
		    "ORDER BY name",
		    instance_row, &c);
}
