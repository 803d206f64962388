/* SPDX-License-Identifier: BSD-3-Clause */
#include "store.h"

#include <errno.h>
#include <fcntl.h>
#include <sqlite3.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

struct agent_store {
	sqlite3 *db;
	char path[4096];
};

void strv_free(struct strv *s)
{
	for (size_t i = 0; i < s->n; i++)
		free(s->v[i]);
	free(s->v);
	s->v = NULL;
	s->n = 0;
}

int strv_push(struct strv *s, const char *str)
{
	char **v = realloc(s->v, (s->n + 1) * sizeof(*v));
	if (!v)
		return -1;
	s->v = v;
	if (!(v[s->n] = strdup(str)))
		return -1;
	s->n++;
	return 0;
}

int strv_find(const struct strv *s, const char *str)
{
	for (size_t i = 0; i < s->n; i++)
		if (!strcmp(s->v[i], str))
			return (int)i;
	return -1;
}

void strv_remove(struct strv *s, size_t i)
{
	free(s->v[i]);
	memmove(&s->v[i], &s->v[i + 1], (s->n - i - 1) * sizeof(*s->v));
	s->n--;
}

static const char schema[] = "CREATE TABLE meta(key TEXT PRIMARY KEY, value TEXT NOT NULL);"
			     "CREATE TABLE spec(id INTEGER PRIMARY KEY CHECK(id = 1), encoded BLOB NOT NULL,"
			     " applied_generation INTEGER NOT NULL);"
			     "CREATE TABLE e2d(id INTEGER PRIMARY KEY CHECK(id = 1), pid INTEGER NOT NULL,"
			     " start_ticks INTEGER NOT NULL, restarts INTEGER NOT NULL);"
			     "CREATE TABLE e2d_lines(seq INTEGER PRIMARY KEY, line TEXT NOT NULL);"
			     "CREATE TABLE instances(name TEXT PRIMARY KEY, state INTEGER NOT NULL,"
			     " since_ns INTEGER NOT NULL, detail TEXT NOT NULL);"
			     "CREATE TABLE stopped(name TEXT PRIMARY KEY);";

static int fail_db(struct agent_store *s, struct e2_err *err, const char *what)
{
	e2_seterr(err, "%s: %s: %s", s->path, what, sqlite3_errmsg(s->db));
	return -1;
}

static int exec(struct agent_store *s, const char *sql, struct e2_err *err)
{
	char *msg = NULL;
	if (sqlite3_exec(s->db, sql, NULL, NULL, &msg) != SQLITE_OK) {
		e2_seterr(err, "%s: %s", s->path, msg ? msg : sqlite3_errmsg(s->db));
		sqlite3_free(msg);
		return -1;
	}
	return 0;
}

static sqlite3_stmt *prep(struct agent_store *s, const char *sql, struct e2_err *err)
{
	sqlite3_stmt *st = NULL;
	if (sqlite3_prepare_v2(s->db, sql, -1, &st, NULL) != SQLITE_OK) {
		fail_db(s, err, "cannot prepare a statement");
		return NULL;
	}
	return st;
}

/* Runs a statement that returns no rows. */
static int step_done(struct agent_store *s, sqlite3_stmt *st, struct e2_err *err)
{
	int rc = sqlite3_step(st);
	sqlite3_finalize(st);
	if (rc != SQLITE_DONE) {
		fail_db(s, err, "write failed");
		return -1;
	}
	return 0;
}

/* One meta value, or NULL when the key is absent (or on an error, with err set). */
static char *meta_get(struct agent_store *s, const char *key, struct e2_err *err)
{
	sqlite3_stmt *st = prep(s, "SELECT value FROM meta WHERE key = ?", err);
	if (!st)
		return NULL;
	sqlite3_bind_text(st, 1, key, -1, SQLITE_STATIC);
	char *v = NULL;
	if (sqlite3_step(st) == SQLITE_ROW)
		v = strdup((const char *)sqlite3_column_text(st, 0));
	else
		e2_seterr(err, "%s: no %s recorded", s->path, key);
	sqlite3_finalize(st);
	return v;
}

static int check_existing(struct agent_store *s, const char *server, struct e2_err *err)
{
	char *v = meta_get(s, "schema_version", err);
	if (!v) {
		e2_err_context(err, "not an e2-agent database");
		return -1;
	}
	long version = strtol(v, NULL, 10);
	free(v);
	if (version > AGENT_SCHEMA_VERSION) {
		e2_seterr(err,
			  "%s: schema version %ld is newer than this e2-agent's (%d): run the newer e2-agent, "
			  "or move the file away to start afresh",
			  s->path, version, AGENT_SCHEMA_VERSION);
		return -1;
	}
	if (version < 1) {
		e2_seterr(err, "%s: bad schema version '%ld'", s->path, version);
		return -1;
	}
	/* version == AGENT_SCHEMA_VERSION: the first one, nothing to migrate yet */
	char *owner = meta_get(s, "server", err);
	if (!owner)
		return -1;
	int rc = 0;
	if (strcmp(owner, server)) {
		e2_seterr(err, "%s: belongs to server '%s', not '%s'", s->path, owner, server);
		rc = -1;
	}
	free(owner);
	return rc;
}

struct agent_store *store_open(const char *path, const char *server, struct e2_err *err)
{
	struct agent_store *s = calloc(1, sizeof(*s));
	if (!s) {
		e2_seterr(err, "out of memory");
		return NULL;
	}
	snprintf(s->path, sizeof(s->path), "%s", path);
	/* sqlite would create it with the umask's mode: the state is the agent's alone */
	int fd = open(path, O_RDWR | O_CREAT | O_CLOEXEC, 0600);
	if (fd < 0) {
		e2_seterr(err, "%s: %s", path, strerror(errno));
		free(s);
		return NULL;
	}
	close(fd);
	if (sqlite3_open_v2(path, &s->db, SQLITE_OPEN_READWRITE | SQLITE_OPEN_FULLMUTEX, NULL) != SQLITE_OK) {
		e2_seterr(err, "%s: cannot open: %s", path, s->db ? sqlite3_errmsg(s->db) : "out of memory");
		goto fail;
	}
	sqlite3_busy_timeout(s->db, 5000);
	sqlite3_stmt *st = NULL;
	/* a file that is not SQLite fails here ("file is not a database") */
	if (sqlite3_prepare_v2(s->db, "PRAGMA quick_check", -1, &st, NULL) != SQLITE_OK ||
	    sqlite3_step(st) != SQLITE_ROW || strcmp((const char *)sqlite3_column_text(st, 0), "ok")) {
		e2_seterr(err, "%s: damaged or not an e2-agent database (%s); move it away to start afresh", path,
			  st && sqlite3_column_text(st, 0) ? (const char *)sqlite3_column_text(st, 0)
							   : sqlite3_errmsg(s->db));
		sqlite3_finalize(st);
		goto fail;
	}
	sqlite3_finalize(st);
	if (exec(s, "PRAGMA journal_mode=WAL; PRAGMA synchronous=NORMAL;", err))
		goto fail;
	int tables = 0;
	if (sqlite3_prepare_v2(s->db, "SELECT count(*) FROM sqlite_master", -1, &st, NULL) == SQLITE_OK &&
	    sqlite3_step(st) == SQLITE_ROW)
		tables = sqlite3_column_int(st, 0);
	sqlite3_finalize(st);
	if (tables == 0) {
		if (exec(s, "BEGIN", err) || exec(s, schema, err))
			goto fail;
		st = prep(s, "INSERT INTO meta(key, value) VALUES ('schema_version', ?), ('server', ?)", err);
		if (!st)
			goto fail;
		sqlite3_bind_int(st, 1, AGENT_SCHEMA_VERSION);
		sqlite3_bind_text(st, 2, server, -1, SQLITE_STATIC);
		if (step_done(s, st, err) || exec(s, "COMMIT", err))
			goto fail;
	} else if (check_existing(s, server, err))
		goto fail;
	return s;
fail:
	sqlite3_close(s->db);
	free(s);
	return NULL;
}

void store_close(struct agent_store *s)
{
	if (!s)
		return;
	sqlite3_close(s->db);
	free(s);
}

int store_get_spec(struct agent_store *s, uint8_t **bytes, size_t *len, uint64_t *applied_generation,
		   struct e2_err *err)
{
	*bytes = NULL;
	*len = 0;
	*applied_generation = 0;
	sqlite3_stmt *st = prep(s, "SELECT encoded, applied_generation FROM spec WHERE id = 1", err);
	if (!st)
		return -1;
	int rc = 0;
	if (sqlite3_step(st) == SQLITE_ROW) {
		int n = sqlite3_column_bytes(st, 0);
		*bytes = malloc(n > 0 ? (size_t)n : 1);
		if (!*bytes) {
			e2_seterr(err, "out of memory");
			rc = -1;
		} else {
			if (n > 0)
				memcpy(*bytes, sqlite3_column_blob(st, 0), (size_t)n);
			*len = (size_t)n;
			*applied_generation = (uint64_t)sqlite3_column_int64(st, 1);
		}
	}
	sqlite3_finalize(st);
	return rc;
}

int store_put_spec(struct agent_store *s, const uint8_t *bytes, size_t len, struct e2_err *err)
{
	sqlite3_stmt *st = prep(s,
				"INSERT INTO spec(id, encoded, applied_generation) VALUES (1, ?, 0) "
				"ON CONFLICT(id) DO UPDATE SET encoded = excluded.encoded",
				err);
	if (!st)
		return -1;
	sqlite3_bind_blob(st, 1, len ? bytes : (const void *)"", (int)len, SQLITE_STATIC);
	return step_done(s, st, err);
}

int store_put_applied_generation(struct agent_store *s, uint64_t generation, struct e2_err *err)
{
	sqlite3_stmt *st = prep(s, "UPDATE spec SET applied_generation = ? WHERE id = 1", err);
	if (!st)
		return -1;
	sqlite3_bind_int64(st, 1, (sqlite3_int64)generation);
	return step_done(s, st, err);
}

int store_get_refused(struct agent_store *s, uint64_t *generation, char *why, size_t len, struct e2_err *err)
{
	*generation = 0;
	why[0] = '\0';
	sqlite3_stmt *st =
		prep(s, "SELECT key, value FROM meta WHERE key IN ('refused_generation', 'refused_why')", err);
	if (!st)
		return -1;
	while (sqlite3_step(st) == SQLITE_ROW) {
		const char *v = (const char *)sqlite3_column_text(st, 1);
		if (!strcmp((const char *)sqlite3_column_text(st, 0), "refused_generation"))
			*generation = strtoull(v, NULL, 10);
		else
			snprintf(why, len, "%s", v);
	}
	sqlite3_finalize(st);
	return 0;
}

int store_put_refused(struct agent_store *s, uint64_t generation, const char *why, struct e2_err *err)
{
	sqlite3_stmt *st = prep(s,
				"INSERT OR REPLACE INTO meta(key, value) VALUES ('refused_generation', ?), "
				"('refused_why', ?)",
				err);
	if (!st)
		return -1;
	char gen[32];
	snprintf(gen, sizeof(gen), "%llu", (unsigned long long)generation);
	sqlite3_bind_text(st, 1, gen, -1, SQLITE_TRANSIENT);
	sqlite3_bind_text(st, 2, why, -1, SQLITE_STATIC);
	return step_done(s, st, err);
}

int store_get_e2d(struct agent_store *s, struct store_e2d *e, struct e2_err *err)
{
	*e = (struct store_e2d){0};
	sqlite3_stmt *st = prep(s, "SELECT pid, start_ticks, restarts FROM e2d WHERE id = 1", err);
	if (!st)
		return -1;
	if (sqlite3_step(st) == SQLITE_ROW) {
		e->pid = sqlite3_column_int64(st, 0);
		e->start_ticks = (uint64_t)sqlite3_column_int64(st, 1);
		e->restarts = (uint32_t)sqlite3_column_int64(st, 2);
	}
	sqlite3_finalize(st);
	return 0;
}

int store_put_e2d(struct agent_store *s, const struct store_e2d *e, struct e2_err *err)
{
	sqlite3_stmt *st =
		prep(s, "INSERT OR REPLACE INTO e2d(id, pid, start_ticks, restarts) VALUES (1, ?, ?, ?)", err);
	if (!st)
		return -1;
	sqlite3_bind_int64(st, 1, e->pid);
	sqlite3_bind_int64(st, 2, (sqlite3_int64)e->start_ticks);
	sqlite3_bind_int64(st, 3, e->restarts);
	return step_done(s, st, err);
}

static int get_column_list(struct agent_store *s, const char *sql, struct strv *out, struct e2_err *err)
{
	*out = (struct strv){0};
	sqlite3_stmt *st = prep(s, sql, err);
	if (!st)
		return -1;
	int rc;
	while ((rc = sqlite3_step(st)) == SQLITE_ROW)
		if (strv_push(out, (const char *)sqlite3_column_text(st, 0))) {
			e2_seterr(err, "out of memory");
			break;
		}
	sqlite3_finalize(st);
	if (rc != SQLITE_DONE) {
		strv_free(out);
		if (rc != SQLITE_ROW)
			fail_db(s, err, "read failed");
		return -1;
	}
	return 0;
}

int store_get_lines(struct agent_store *s, struct strv *lines, struct e2_err *err)
{
	return get_column_list(s, "SELECT line FROM e2d_lines ORDER BY seq", lines, err);
}

int store_put_lines(struct agent_store *s, const struct strv *lines, struct e2_err *err)
{
	if (exec(s, "BEGIN; DELETE FROM e2d_lines;", err))
		return -1;
	for (size_t i = 0; i < lines->n; i++) {
		sqlite3_stmt *st = prep(s, "INSERT INTO e2d_lines(seq, line) VALUES (?, ?)", err);
		if (!st)
			goto fail;
		sqlite3_bind_int64(st, 1, (sqlite3_int64)i);
		sqlite3_bind_text(st, 2, lines->v[i], -1, SQLITE_STATIC);
		if (step_done(s, st, err))
			goto fail;
	}
	return exec(s, "COMMIT", err);
fail:
	exec(s, "ROLLBACK", NULL);
	return -1;
}

int store_each_instance(struct agent_store *s, int (*fn)(void *opaque, const struct store_instance *i), void *opaque,
			struct e2_err *err)
{
	sqlite3_stmt *st = prep(s, "SELECT name, state, since_ns, detail FROM instances ORDER BY name", err);
	if (!st)
		return -1;
	int rc;
	while ((rc = sqlite3_step(st)) == SQLITE_ROW) {
		struct store_instance i = {.state = sqlite3_column_int(st, 1),
					   .since_ns = (uint64_t)sqlite3_column_int64(st, 2)};
		snprintf(i.name, sizeof(i.name), "%s", (const char *)sqlite3_column_text(st, 0));
		snprintf(i.detail, sizeof(i.detail), "%s", (const char *)sqlite3_column_text(st, 3));
		if (fn(opaque, &i)) {
			rc = SQLITE_DONE;
			break;
		}
	}
	sqlite3_finalize(st);
	if (rc != SQLITE_DONE)
		return fail_db(s, err, "read failed");
	return 0;
}

int store_put_instance(struct agent_store *s, const struct store_instance *i, struct e2_err *err)
{
	sqlite3_stmt *st =
		prep(s, "INSERT OR REPLACE INTO instances(name, state, since_ns, detail) VALUES (?, ?, ?, ?)", err);
	if (!st)
		return -1;
	sqlite3_bind_text(st, 1, i->name, -1, SQLITE_STATIC);
	sqlite3_bind_int(st, 2, i->state);
	sqlite3_bind_int64(st, 3, (sqlite3_int64)i->since_ns);
	sqlite3_bind_text(st, 4, i->detail, -1, SQLITE_STATIC);
	return step_done(s, st, err);
}

int store_del_instance(struct agent_store *s, const char *name, struct e2_err *err)
{
	sqlite3_stmt *st = prep(s, "DELETE FROM instances WHERE name = ?", err);
	if (!st)
		return -1;
	sqlite3_bind_text(st, 1, name, -1, SQLITE_STATIC);
	return step_done(s, st, err);
}

int store_get_stopped(struct agent_store *s, struct strv *names, struct e2_err *err)
{
	return get_column_list(s, "SELECT name FROM stopped ORDER BY name", names, err);
}

int store_put_stopped(struct agent_store *s, const char *name, int stopped, struct e2_err *err)
{
	sqlite3_stmt *st = prep(
		s, stopped ? "INSERT OR IGNORE INTO stopped(name) VALUES (?)" : "DELETE FROM stopped WHERE name = ?",
		err);
	if (!st)
		return -1;
	sqlite3_bind_text(st, 1, name, -1, SQLITE_STATIC);
	return step_done(s, st, err);
}
