/* SPDX-License-Identifier: BSD-3-Clause */
/* The controller's durable state: one SQLite file (WAL, synchronous=NORMAL, so a kill -9
 * keeps every committed transaction), schema version in `meta`. Desired state (policy
 * documents, deleted pipelines, the NF and hardware descriptions, each server's encoded
 * ServerSpec, the fabric rules, the live IGraph's picture) is written before it is acted
 * on; observed state (instances as agents report them) as it arrives. */
#ifndef E2_CTL_STORE_H
#define E2_CTL_STORE_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "e2/err.h"

#define CTL_STORE_SCHEMA 1

struct ctl_store;

enum ctl_store_mode {
	CTL_STORE_EXISTING, /* the file must exist and be a database of this schema */
	CTL_STORE_CREATE,   /* the file must not exist: a new, empty database */
};

struct ctl_store *ctl_store_open(const char *path, enum ctl_store_mode mode, struct e2_err *err);
void ctl_store_close(struct ctl_store *s);

int ctl_store_begin(struct ctl_store *s, struct e2_err *err);
int ctl_store_commit(struct ctl_store *s, struct e2_err *err);
void ctl_store_rollback(struct ctl_store *s);

/* meta: small named values ("generation", "nfs", "hardware", "dot") */
int ctl_store_set(struct ctl_store *s, const char *key, const char *value, struct e2_err *err);
/* malloc'd value, or NULL when absent (err empty) or on error (err set) */
char *ctl_store_get(struct ctl_store *s, const char *key, struct e2_err *err);

/* Policy documents in the order they were applied; a later one's pipeline replaces an
 * earlier one's of the same name. */
int ctl_store_add_policy(struct ctl_store *s, const char *name, const char *yaml, struct e2_err *err);
int ctl_store_drop_policy(struct ctl_store *s, int64_t id, struct e2_err *err);
typedef int (*ctl_store_policy_fn)(void *opaque, int64_t id, const char *name, const char *yaml);
int ctl_store_policies(struct ctl_store *s, ctl_store_policy_fn fn, void *opaque, struct e2_err *err);

int ctl_store_set_deleted(struct ctl_store *s, const char *pipeline, bool deleted, struct e2_err *err);
typedef int (*ctl_store_name_fn)(void *opaque, const char *name);
int ctl_store_deleted(struct ctl_store *s, ctl_store_name_fn fn, void *opaque, struct e2_err *err);

/* Each server's desired ServerSpec (encoded). */
int ctl_store_put_spec(struct ctl_store *s, const char *server, uint64_t generation, const void *spec, size_t len,
		       struct e2_err *err);
typedef int (*ctl_store_spec_fn)(void *opaque, const char *server, uint64_t generation, const void *spec, size_t len);
int ctl_store_specs(struct ctl_store *s, ctl_store_spec_fn fn, void *opaque, struct e2_err *err);

/* The fabric rules, replaced as a whole. */
int ctl_store_set_rules(struct ctl_store *s, char *const *rules, size_t n, struct e2_err *err);
int ctl_store_rules(struct ctl_store *s, ctl_store_name_fn fn, void *opaque, struct e2_err *err);

/* Observed instances. */
struct ctl_store_instance {
	const char *name, *server, *nf, *detail;
	uint32_t flow_lo, flow_hi;
	int state; /* E2__Ctl__InstanceState */
	uint64_t since_ns;
	bool stopped_by_operator;
};
int ctl_store_put_instance(struct ctl_store *s, const struct ctl_store_instance *in, struct e2_err *err);
int ctl_store_drop_instance(struct ctl_store *s, const char *name, struct e2_err *err);
typedef int (*ctl_store_instance_fn)(void *opaque, const struct ctl_store_instance *in);
int ctl_store_instances(struct ctl_store *s, ctl_store_instance_fn fn, void *opaque, struct e2_err *err);

#endif
