/* SPDX-License-Identifier: BSD-3-Clause */
#include "store.h"

#include <errno.h>
#include <fcntl.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "e2/db.h"
#include "e2/mem.h"

struct agent_store {
	struct e2_db db;
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

/* One meta value, or NULL when the key is absent (err then says so) or on an error. */
static char *meta_get(struct agent_store *s, const char *key, struct e2_err *err)
{
	struct e2_err e = {""};
	char *v = e2_db_meta(&s->db, key, &e);
	if (!v && e.msg[0])
		*err = e;
	else if (!v)
		e2_seterr(err, "%s: no %s recorded", s->db.path, key);
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
			  s->db.path, version, AGENT_SCHEMA_VERSION);
		return -1;
	}
	if (version < 1) {
		e2_seterr(err, "%s: bad schema version '%ld'", s->db.path, version);
		return -1;
	}
	/* version == AGENT_SCHEMA_VERSION: the first one, nothing to migrate yet */
	char *owner = meta_get(s, "server", err);
	if (!owner)
		return -1;
	int rc = 0;
	if (strcmp(owner, server)) {
		e2_seterr(err, "%s: belongs to server '%s', not '%s'", s->db.path, owner, server);
		rc = -1;
	}
	free(owner);
	return rc;
}

static int count_row(sqlite3_stmt *st, void *o)
{
	*(int64_t *)o = sqlite3_column_int64(st, 0);
	return 1;
}

struct agent_store *store_open(const char *path, const char *server, struct e2_err *err)
{
	struct agent_store *s = calloc(1, sizeof(*s));
	if (!s) {
		e2_seterr(err, "out of memory");
		return NULL;
	}
	if ((size_t)snprintf(s->db.path, sizeof(s->db.path), "%s", path) >= sizeof(s->db.path)) {
		e2_seterr(err, "%s: too long a path", path);
		free(s);
		return NULL;
	}
	/* sqlite would create it with the umask's mode: the state is the agent's alone */
	int fd = open(path, O_RDWR | O_CREAT | O_CLOEXEC, 0600);
	if (fd < 0) {
		e2_seterr(err, "%s: %s", path, strerror(errno));
		free(s);
		return NULL;
	}
	close(fd);
	if (sqlite3_open_v2(path, &s->db.handle, SQLITE_OPEN_READWRITE | SQLITE_OPEN_FULLMUTEX, NULL) != SQLITE_OK) {
		e2_seterr(err, "%s: cannot open: %s", path,
			  s->db.handle ? sqlite3_errmsg(s->db.handle) : "out of memory");
		goto fail;
	}
	sqlite3_busy_timeout(s->db.handle, 5000);
	char why[200];
	if (e2_db_quick_check(&s->db, why, sizeof(why))) {
		e2_seterr(err, "%s: damaged or not an e2-agent database (%s); move it away to start afresh", path, why);
		goto fail;
	}
	if (e2_db_exec(&s->db, "PRAGMA journal_mode=WAL; PRAGMA synchronous=NORMAL;", err))
		goto fail;
	int64_t tables = 0;
	if (e2_db_each(&s->db, err, "SELECT count(*) FROM sqlite_master", count_row, &tables))
		goto fail;
	if (tables == 0) {
		if (e2_db_exec(&s->db, "BEGIN", err) || e2_db_exec(&s->db, schema, err) ||
		    e2_db_run(&s->db, err, "INSERT INTO meta(key, value) VALUES ('schema_version', ?), ('server', ?)",
			      "it", (int64_t)AGENT_SCHEMA_VERSION, server) ||
		    e2_db_exec(&s->db, "COMMIT", err))
			goto fail;
	} else if (check_existing(s, server, err))
		goto fail;
	return s;
fail:
	sqlite3_close(s->db.handle);
	free(s);
	return NULL;
}

void store_close(struct agent_store *s)
{
	if (!s)
		return;
	sqlite3_close(s->db.handle);
	free(s);
}

struct spec_out {
	uint8_t **bytes;
	size_t *len;
	uint64_t *applied_generation;
};

static int spec_row(sqlite3_stmt *st, void *o)
{
	struct spec_out *out = o;
	int n = sqlite3_column_bytes(st, 0);
	*out->bytes = e2_xmalloc(n > 0 ? (size_t)n : 1);
	if (n > 0)
		memcpy(*out->bytes, sqlite3_column_blob(st, 0), (size_t)n);
	*out->len = (size_t)n;
	*out->applied_generation = (uint64_t)sqlite3_column_int64(st, 1);
	return 1;
}

int store_get_spec(struct agent_store *s, uint8_t **bytes, size_t *len, uint64_t *applied_generation,
		   struct e2_err *err)
{
	*bytes = NULL;
	*len = 0;
	*applied_generation = 0;
	struct spec_out out = {bytes, len, applied_generation};
	return e2_db_each(&s->db, err, "SELECT encoded, applied_generation FROM spec WHERE id = 1", spec_row, &out);
}

int store_put_spec(struct agent_store *s, const uint8_t *bytes, size_t len, struct e2_err *err)
{
	return e2_db_run(&s->db, err,
			 "INSERT INTO spec(id, encoded, applied_generation) VALUES (1, ?, 0) "
			 "ON CONFLICT(id) DO UPDATE SET encoded = excluded.encoded",
			 "b", (const void *)bytes, len);
}

int store_put_applied_generation(struct agent_store *s, uint64_t generation, struct e2_err *err)
{
	return e2_db_run(&s->db, err, "UPDATE spec SET applied_generation = ? WHERE id = 1", "i", (int64_t)generation);
}

struct refused_out {
	uint64_t *generation;
	char *why;
	size_t len;
};

static int refused_row(sqlite3_stmt *st, void *o)
{
	struct refused_out *out = o;
	const char *v = (const char *)sqlite3_column_text(st, 1);
	if (!strcmp((const char *)sqlite3_column_text(st, 0), "refused_generation"))
		*out->generation = strtoull(v, NULL, 10);
	else
		snprintf(out->why, out->len, "%s", v);
	return 0;
}

int store_get_refused(struct agent_store *s, uint64_t *generation, char *why, size_t len, struct e2_err *err)
{
	*generation = 0;
	why[0] = '\0';
	struct refused_out out = {generation, why, len};
	return e2_db_each(&s->db, err, "SELECT key, value FROM meta WHERE key IN ('refused_generation', 'refused_why')",
			  refused_row, &out);
}

int store_put_refused(struct agent_store *s, uint64_t generation, const char *why, struct e2_err *err)
{
	char gen[32];
	snprintf(gen, sizeof(gen), "%llu", (unsigned long long)generation);
	return e2_db_run(&s->db, err,
			 "INSERT OR REPLACE INTO meta(key, value) VALUES ('refused_generation', ?), ('refused_why', ?)",
			 "tt", gen, why);
}

static int e2d_row(sqlite3_stmt *st, void *o)
{
	struct store_e2d *e = o;
	e->pid = sqlite3_column_int64(st, 0);
	e->start_ticks = (uint64_t)sqlite3_column_int64(st, 1);
	e->restarts = (uint32_t)sqlite3_column_int64(st, 2);
	return 1;
}

int store_get_e2d(struct agent_store *s, struct store_e2d *e, struct e2_err *err)
{
	*e = (struct store_e2d){0};
	return e2_db_each(&s->db, err, "SELECT pid, start_ticks, restarts FROM e2d WHERE id = 1", e2d_row, e);
}

int store_put_e2d(struct agent_store *s, const struct store_e2d *e, struct e2_err *err)
{
	return e2_db_run(&s->db, err, "INSERT OR REPLACE INTO e2d(id, pid, start_ticks, restarts) VALUES (1, ?, ?, ?)",
			 "iii", (int64_t)e->pid, (int64_t)e->start_ticks, (int64_t)e->restarts);
}

static int text_row(sqlite3_stmt *st, void *o)
{
	strv_push(o, (const char *)sqlite3_column_text(st, 0));
	return 0;
}

static int get_column_list(struct agent_store *s, const char *sql, struct strv *out, struct e2_err *err)
{
	*out = (struct strv){0};
	if (e2_db_each(&s->db, err, sql, text_row, out)) {
		strv_free(out);
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
	if (e2_db_exec(&s->db, "BEGIN; DELETE FROM e2d_lines;", err))
		return -1;
	for (size_t i = 0; i < lines->n; i++)
		if (e2_db_run(&s->db, err, "INSERT INTO e2d_lines(seq, line) VALUES (?, ?)", "it", (int64_t)i,
			      lines->v[i])) {
			sqlite3_exec(s->db.handle, "ROLLBACK", NULL, NULL, NULL);
			return -1;
		}
	return e2_db_exec(&s->db, "COMMIT", err);
}

struct instance_cb {
	int (*fn)(void *opaque, const struct store_instance *i);
	void *opaque;
};

static int instance_row(sqlite3_stmt *st, void *o)
{
	struct instance_cb *c = o;
	struct store_instance i = {.state = sqlite3_column_int(st, 1),
				   .since_ns = (uint64_t)sqlite3_column_int64(st, 2)};
	snprintf(i.name, sizeof(i.name), "%s", (const char *)sqlite3_column_text(st, 0));
	snprintf(i.detail, sizeof(i.detail), "%s", (const char *)sqlite3_column_text(st, 3));
	return c->fn(c->opaque, &i);
}

int store_each_instance(struct agent_store *s, int (*fn)(void *opaque, const struct store_instance *i), void *opaque,
			struct e2_err *err)
{
	struct instance_cb c = {fn, opaque};
	return e2_db_each(&s->db, err, "SELECT name, state, since_ns, detail FROM instances ORDER BY name",
			  instance_row, &c);
}

int store_put_instance(struct agent_store *s, const struct store_instance *i, struct e2_err *err)
{
	return e2_db_run(&s->db, err,
			 "INSERT OR REPLACE INTO instances(name, state, since_ns, detail) VALUES (?, ?, ?, ?)", "tiit",
			 i->name, (int64_t)i->state, (int64_t)i->since_ns, i->detail);
}

int store_del_instance(struct agent_store *s, const char *name, struct e2_err *err)
{
	return e2_db_run(&s->db, err, "DELETE FROM instances WHERE name = ?", "t", name);
}

int store_get_stopped(struct agent_store *s, struct strv *names, struct e2_err *err)
{
	return get_column_list(s, "SELECT name FROM stopped ORDER BY name", names, err);
}

int store_put_stopped(struct agent_store *s, const char *name, int stopped, struct e2_err *err)
{
	return e2_db_run(&s->db, err,
			 stopped ? "INSERT OR IGNORE INTO stopped(name) VALUES (?)"
				 : "DELETE FROM stopped WHERE name = ?",
			 "t", name);
}
