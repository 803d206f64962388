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

#include "e2/db.h"
#include "e2/mem.h"
#include "e2/num.h"

struct ctl_store {
	struct e2_db db;
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

static int check_schema(struct ctl_store *s, struct e2_err *err)
{
	char why[200];
	int check = e2_db_quick_check(&s->db, why, sizeof why);
	if (check) {
		if (check < 0)
			e2_seterr(err, "%s: not a usable database: %s", s->db.path, why);
		else
			e2_seterr(err, "%s: the database is damaged (%s)", s->db.path, why);
		return -1;
	}
	struct e2_err e2 = {""};
	char *v = ctl_store_get(s, "schema_version", &e2);
	if (!v) {
		e2_seterr(err, "%s: not an E2 controller database (%s)", s->db.path,
			  e2.msg[0] ? e2.msg : "no schema version");
		return -1;
	}
	int ver = 0;
	struct e2_err e3 = {""};
	int bad = e2_num_int("schema_version", v, 0, 1000000, &ver, &e3);
	free(v);
	if (bad) {
		e2_seterr(err, "%s: not an E2 controller database (%s)", s->db.path, e3.msg);
		return -1;
	}
	if (ver != CTL_STORE_SCHEMA) {
		e2_seterr(err, "%s: schema version %d, this controller knows %d", s->db.path, ver, CTL_STORE_SCHEMA);
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
	snprintf(s->db.path, sizeof s->db.path, "%s", path);
	int flags = SQLITE_OPEN_READWRITE | (mode == CTL_STORE_CREATE ? SQLITE_OPEN_CREATE : 0);
	if (sqlite3_open_v2(path, &s->db.handle, flags, NULL) != SQLITE_OK) {
		e2_db_fail(&s->db, err, "cannot open");
		ctl_store_close(s);
		return NULL;
	}
	sqlite3_busy_timeout(s->db.handle, 2000);
	if (mode == CTL_STORE_CREATE) {
		char sql[2048];
		snprintf(sql, sizeof sql,
			 "PRAGMA journal_mode=WAL; BEGIN; %s INSERT INTO meta VALUES('schema_version','%d');"
			 "INSERT INTO meta VALUES('generation','0'); COMMIT;",
			 schema_sql, CTL_STORE_SCHEMA);
		if (e2_db_exec(&s->db, sql, err) < 0) {
			ctl_store_close(s);
			unlink(path);
			return NULL;
		}
		chmod(path, 0600);
	} else if (check_schema(s, err) < 0 || e2_db_exec(&s->db, "PRAGMA journal_mode=WAL", err) < 0) {
		ctl_store_close(s);
		return NULL;
	}
	if (e2_db_exec(&s->db, "PRAGMA synchronous=NORMAL", err) < 0) {
		ctl_store_close(s);
		return NULL;
	}
	return s;
}

void ctl_store_close(struct ctl_store *s)
{
	if (!s)
		return;
	sqlite3_close(s->db.handle);
	free(s);
}

int ctl_store_begin(struct ctl_store *s, struct e2_err *err)
{
	return e2_db_exec(&s->db, "BEGIN IMMEDIATE", err);
}

int ctl_store_commit(struct ctl_store *s, struct e2_err *err)
{
	return e2_db_exec(&s->db, "COMMIT", err);
}

void ctl_store_rollback(struct ctl_store *s)
{
	sqlite3_exec(s->db.handle, "ROLLBACK", NULL, NULL, NULL);
}

int ctl_store_set(struct ctl_store *s, const char *key, const char *value, struct e2_err *err)
{
	return e2_db_run(&s->db, err, "INSERT OR REPLACE INTO meta VALUES(?,?)", "tt", key, value);
}

char *ctl_store_get(struct ctl_store *s, const char *key, struct e2_err *err)
{
	return e2_db_meta(&s->db, key, err);
}

int ctl_store_add_policy(struct ctl_store *s, const char *name, const char *yaml, struct e2_err *err)
{
	return e2_db_run(&s->db, err, "INSERT INTO policies(name, yaml) VALUES(?,?)", "tt", name, yaml);
}

int ctl_store_drop_policy(struct ctl_store *s, int64_t id, struct e2_err *err)
{
	return e2_db_run(&s->db, err, "DELETE FROM policies WHERE id=?", "i", id);
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
	return e2_db_each(&s->db, err, "SELECT id, name, yaml FROM policies ORDER BY id", policy_row, &c);
}

int ctl_store_set_deleted(struct ctl_store *s, const char *pipeline, bool deleted, struct e2_err *err)
{
	return deleted ? e2_db_run(&s->db, err, "INSERT OR IGNORE INTO deleted VALUES(?)", "t", pipeline)
		       : e2_db_run(&s->db, err, "DELETE FROM deleted WHERE pipeline=?", "t", pipeline);
}

static int name_row(sqlite3_stmt *st, void *o)
{
	struct cb *c = o;
	return ((ctl_store_name_fn)c->fn)(c->opaque, (const char *)sqlite3_column_text(st, 0));
}

int ctl_store_deleted(struct ctl_store *s, ctl_store_name_fn fn, void *opaque, struct e2_err *err)
{
	struct cb c = {(void *)fn, opaque};
	return e2_db_each(&s->db, err, "SELECT pipeline FROM deleted", name_row, &c);
}

int ctl_store_put_spec(struct ctl_store *s, const char *server, uint64_t generation, const void *spec, size_t len,
		       struct e2_err *err)
{
	return e2_db_run(&s->db, err, "INSERT OR REPLACE INTO specs VALUES(?,?,?)", "tib", server, (int64_t)generation,
			 spec, len);
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
	return e2_db_each(&s->db, err, "SELECT server, generation, spec FROM specs ORDER BY server", spec_row, &c);
}

int ctl_store_set_rules(struct ctl_store *s, char *const *rules, size_t n, struct e2_err *err)
{
	if (e2_db_run(&s->db, err, "DELETE FROM rules", "") < 0)
		return -1;
	for (size_t i = 0; i < n; i++)
		if (e2_db_run(&s->db, err, "INSERT INTO rules VALUES(?,?)", "it", (int64_t)i, rules[i]) < 0)
			return -1;
	return 0;
}

int ctl_store_rules(struct ctl_store *s, ctl_store_name_fn fn, void *opaque, struct e2_err *err)
{
	struct cb c = {(void *)fn, opaque};
	return e2_db_each(&s->db, err, "SELECT rule FROM rules ORDER BY idx", name_row, &c);
}

int ctl_store_put_instance(struct ctl_store *s, const struct ctl_store_instance *in, struct e2_err *err)
{
	return e2_db_run(&s->db, err, "INSERT OR REPLACE INTO instances VALUES(?,?,?,?,?,?,?,?,?)", "tttiiiiti",
			 in->name, in->server, in->nf, (int64_t)in->flow_lo, (int64_t)in->flow_hi, (int64_t)in->state,
			 (int64_t)in->since_ns, in->detail ? in->detail : "", (int64_t)in->stopped_by_operator);
}

int ctl_store_drop_instance(struct ctl_store *s, const char *name, struct e2_err *err)
{
	return e2_db_run(&s->db, err, "DELETE FROM instances WHERE name=?", "t", name);
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
	return e2_db_each(&s->db, err,
			  "SELECT name, server, nf, flow_lo, flow_hi, state, since_ns, detail, stopped FROM instances "
			  "ORDER BY name",
			  instance_row, &c);
}
