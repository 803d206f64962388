/* SPDX-License-Identifier: BSD-3-Clause */
/* The agent's durable state: one SQLite file (STATE/agent.db, WAL, synchronous=NORMAL)
 * that survives kill -9 with the last committed transaction. It holds the desired state
 * (the last ServerSpec, encoded, and the operator-stopped set) and what the agent
 * observed or did (the applied generation, the e2d it runs and the lines that e2d has,
 * each instance's state). Every write is one transaction; every call takes err. */
#ifndef E2_AGENT_STORE_H
#define E2_AGENT_STORE_H

#include <stddef.h>
#include <stdint.h>

#include "e2/err.h"

#define AGENT_SCHEMA_VERSION 1

struct agent_store;

/* A growable list of strings, each malloc'd. */
struct strv {
	char **v;
	size_t n;
};
void strv_free(struct strv *s);
int strv_push(struct strv *s, const char *str);
int strv_find(const struct strv *s, const char *str); /* index, or -1 */
void strv_remove(struct strv *s, size_t i);

/* Opens (or creates, mode 0600) the database of `server`. Refuses, naming the file: one
 * that is not an SQLite database or fails its integrity check, one of a newer schema, one
 * of another server. */
struct agent_store *store_open(const char *path, const char *server, struct e2_err *err);
void store_close(struct agent_store *s);

/* The desired spec as the controller sent it (encoded ServerSpec); *bytes NULL, *len 0
 * when none was ever stored. */
int store_get_spec(struct agent_store *s, uint8_t **bytes, size_t *len, uint64_t *applied_generation,
		   struct e2_err *err);
int store_put_spec(struct agent_store *s, const uint8_t *bytes, size_t len, struct e2_err *err);
int store_put_applied_generation(struct agent_store *s, uint64_t generation, struct e2_err *err);

/* The generation whose e2d lines e2d refused (0: none), and why. */
int store_get_refused(struct agent_store *s, uint64_t *generation, char *why, size_t len, struct e2_err *err);
int store_put_refused(struct agent_store *s, uint64_t generation, const char *why, struct e2_err *err);

/* The e2d the agent runs: its pid (0: none), its start time (clock ticks after boot, from
 * /proc/PID/stat, so a reused pid is told apart) and how often it was restarted. */
struct store_e2d {
	int64_t pid;
	uint64_t start_ticks;
	uint32_t restarts;
};
int store_get_e2d(struct agent_store *s, struct store_e2d *e, struct e2_err *err);
int store_put_e2d(struct agent_store *s, const struct store_e2d *e, struct e2_err *err);

/* The lines the running e2d has, in order (also its --config file). */
int store_get_lines(struct agent_store *s, struct strv *lines, struct e2_err *err);
int store_put_lines(struct agent_store *s, const struct strv *lines, struct e2_err *err);

struct store_instance {
	char name[72];
	int state; /* E2__Ctl__InstanceState */
	uint64_t since_ns;
	char detail[512];
};
/* Calls fn for every stored instance; stops at the first non-zero return. */
int store_each_instance(struct agent_store *s, int (*fn)(void *opaque, const struct store_instance *i), void *opaque,
			struct e2_err *err);
int store_put_instance(struct agent_store *s, const struct store_instance *i, struct e2_err *err);
int store_del_instance(struct agent_store *s, const char *name, struct e2_err *err);

/* The instances the operator stopped (virsh shutdown), not to be started again. */
int store_get_stopped(struct agent_store *s, struct strv *names, struct e2_err *err);
int store_put_stopped(struct agent_store *s, const char *name, int stopped, struct e2_err *err);

#endif
