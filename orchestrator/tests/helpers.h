/* SPDX-License-Identifier: BSD-3-Clause */
/* Shared by the orchestrator tests: load the shipped examples and inline YAML. */
#ifndef E2_ORCH_TEST_HELPERS_H
#define E2_ORCH_TEST_HELPERS_H

#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <cmocka.h>

#include "e2/orch.h"

static inline char *example_path(const char *name)
{
	static char buf[1024];
	const char *src = getenv("E2_SOURCE_DIR");
	snprintf(buf, sizeof buf, "%s/examples/%s", src ? src : "../..", name);
	return buf;
}

static inline struct e2_nf_catalog *load_nfs_file(const char *name)
{
	struct e2_err err = {""};
	size_t len;
	char *buf = e2_read_file(example_path(name), 0, &len, &err);
	if (!buf)
		fail_msg("%s", err.msg);
	struct e2_nf_catalog *c = e2_nfs_load(buf, len, name, &err);
	free(buf);
	if (!c)
		fail_msg("%s", err.msg);
	return c;
}

static inline struct e2_hardware *load_hw_file(const char *name)
{
	struct e2_err err = {""};
	size_t len;
	char *buf = e2_read_file(example_path(name), 0, &len, &err);
	if (!buf)
		fail_msg("%s", err.msg);
	struct e2_hardware *h = e2_hardware_load(buf, len, name, &err);
	free(buf);
	if (!h)
		fail_msg("%s", err.msg);
	return h;
}

static inline struct e2_policy *load_policy_file(const char *name)
{
	struct e2_err err = {""};
	size_t len;
	char *buf = e2_read_file(example_path(name), 0, &len, &err);
	if (!buf)
		fail_msg("%s", err.msg);
	struct e2_policy *p = e2_policy_load(buf, len, name, &err);
	free(buf);
	if (!p)
		fail_msg("%s", err.msg);
	return p;
}

static inline struct e2_policy *policy_str(const char *yaml, struct e2_err *err)
{
	return e2_policy_load(yaml, strlen(yaml), "test.yaml", err);
}

static inline struct e2_nf_catalog *nfs_str(const char *yaml, struct e2_err *err)
{
	return e2_nfs_load(yaml, strlen(yaml), "nfs.yaml", err);
}

static inline struct e2_hardware *hw_str(const char *yaml, struct e2_err *err)
{
	return e2_hardware_load(yaml, strlen(yaml), "hw.yaml", err);
}

#define assert_contains(hay, needle)                                             \
	do {                                                                     \
		if (!strstr((hay), (needle)))                                    \
			fail_msg("'%s' does not contain '%s'", (hay), (needle)); \
	} while (0)

/* A small rack used by many tests: `servers` identical servers. */
static inline char *rack_yaml(unsigned servers, unsigned cores, double nic)
{
	static char buf[1024];
	snprintf(buf, sizeof buf,
		 "servers:\n  - { name: s, count: %u, cores: %u, reserved_cores: 1, ghz: 1.0, nic_gbps: %g }\n"
		 "switch:\n  ports: 64\n  external_ports: [in0, in1, out0, out1]\n  port_gbps: 10\n"
		 "  flow_table_entries: 4096\n",
		 servers, cores + 1, nic);
	return buf;
}

#endif
