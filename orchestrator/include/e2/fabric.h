/* SPDX-License-Identifier: BSD-3-Clause */
/* The fabric switch, as E2 programs it: the planner's abstract switch rules (README,
 * "Switch rules") installed on a real switch through a driver.
 *
 *   rule add priority=P [in_port=PORT] [filter=PCAP] [hash=FIELDS range=LO-HI] [spi=S]
 *            [tunnel_dst=SERVER] [src_ip=A] [dst_ip=A] [proto=N] [src_port=N] [dst_port=N]
 *            action=A[,A...]                (A: output:SERVER|PORT, encap:spi=S, decap)
 *   rule del priority=P ...the same match...   (the action, if given, is ignored)
 *
 * Values with spaces are double-quoted with \" and \\ escapes (e2_quote); a line may
 * start with "switch:" as split plans write it. Ports are the hardware description's
 * names (servers, external ports); a driver reaches them by the switch's own names
 * (e2_server_switch_port, e2_external_switch_port).
 *
 * Drivers are static descriptors that register themselves (E2_FABRIC_DRIVER_REGISTER);
 * the hardware description's switch.driver picks one: "ovs" (Open vSwitch over
 * OpenFlow, fabric_ovs.c) or "none" (the default: checks and records the rules, in
 * memory or in the file switch.driver_target names, for tests without a switch). */
#ifndef E2_FABRIC_H
#define E2_FABRIC_H

#include <stddef.h>
#include <stdint.h>
#include <stdio.h>

#include "e2/err.h"
#include "e2/orch.h"

/* Every flow E2 installs carries this OpenFlow cookie: E2's flows are the ones with it. */
#define E2_FABRIC_COOKIE 0xe2fabULL
#define E2_FABRIC_LINE_MAX 8192   /* characters of one rule */
#define E2_FABRIC_RULES_MAX 65536 /* rules of one replace */
#define E2_FABRIC_ACTIONS_MAX 8   /* actions of one rule */
#define E2_FABRIC_DEFAULT_DRIVER "none"

struct e2_fabric;

/* ---------------------------------------------------------------- using a switch */

/* Opens the driver the hardware description names (hw must outlive the handle).
 * Opening does not reach the switch: the first operation does, and says so if it
 * cannot. NULL with err set for an unknown driver or a bad target. */
struct e2_fabric *e2_fabric_open(const struct e2_hardware *hw, struct e2_err *err);
/* Makes E2's rules on the switch exactly `rules` (lines; blank and '#' lines are
 * skipped), atomically: all of them or, on any error, none and the old set intact.
 * Idempotent. Every line is checked before the switch is touched. */
int e2_fabric_replace(struct e2_fabric *f, const char *const *rules, size_t n, struct e2_err *err);
/* One rule ("rule add ..."); a rule with the same priority and match replaces it. */
int e2_fabric_add(struct e2_fabric *f, const char *rule, struct e2_err *err);
/* Removes the rule with this priority and match ("rule del ..." or "rule add ...");
 * removing a rule that is not there is not an error (OpenFlow's delete). */
int e2_fabric_del(struct e2_fabric *f, const char *rule, struct e2_err *err);
/* Switch entries E2's rules occupy (as the switch reports them), or -1 if it cannot
 * tell (err set). */
long e2_fabric_count(struct e2_fabric *f, struct e2_err *err);
/* E2's rules as the switch holds them, one per line, for a person to read. */
int e2_fabric_show(struct e2_fabric *f, FILE *out, struct e2_err *err);
/* What the driver would install for one rule, without touching the switch. */
int e2_fabric_explain(struct e2_fabric *f, const char *rule, FILE *out, struct e2_err *err);
const char *e2_fabric_driver_name(const struct e2_fabric *f);
void e2_fabric_close(struct e2_fabric *f);

/* ---------------------------------------------------------------- rules */

enum e2_fabric_action_kind { E2_FABRIC_OUTPUT, E2_FABRIC_ENCAP, E2_FABRIC_DECAP };

/* A switch port as a rule names it. */
struct e2_fabric_port {
	const char *name;        /* the hardware description's: a server or an external port */
	const char *switch_port; /* the switch's own name for it */
	int server;              /* index in hw->servers, or -1 for an external port */
};

struct e2_fabric_action {
	enum e2_fabric_action_kind kind;
	uint32_t spi;               /* encap */
	struct e2_fabric_port port; /* output */
};

/* Fields a rule matches on (bits of e2_fabric_rule.has). */
enum {
	E2_FABRIC_M_IN_PORT = 1 << 0,
	E2_FABRIC_M_FILTER = 1 << 1,
	E2_FABRIC_M_HASH = 1 << 2, /* hash= and range= */
	E2_FABRIC_M_SPI = 1 << 3,
	E2_FABRIC_M_TUNNEL_DST = 1 << 4,
	E2_FABRIC_M_SRC_IP = 1 << 5,
	E2_FABRIC_M_DST_IP = 1 << 6,
	E2_FABRIC_M_PROTO = 1 << 7,
	E2_FABRIC_M_SRC_PORT = 1 << 8,
	E2_FABRIC_M_DST_PORT = 1 << 9,
};

/* Actions a driver can install (bits of e2_fabric_driver.can), as the hardware
 * description's switch.actions names them. */
enum {
	E2_FABRIC_CAN_OUTPUT = 1 << 0,
	E2_FABRIC_CAN_ENCAP = 1 << 1,
	E2_FABRIC_CAN_DECAP = 1 << 2,
	E2_FABRIC_CAN_HASH_RANGE = 1 << 3,
};

struct e2_fabric_rule {
	int del; /* "rule del" */
	unsigned has;
	unsigned priority; /* 0..65535 */
	struct e2_fabric_port in_port;
	char *filter;  /* pcap-filter expression, "" for all traffic */
	char hash[96]; /* affinity fields, e2_affinity_str's form */
	uint32_t range_lo, range_hi;
	uint32_t spi;
	struct e2_fabric_port tunnel_dst; /* a server */
	uint32_t src_ip, dst_ip;          /* host byte order */
	unsigned proto, src_port, dst_port;
	struct e2_fabric_action actions[E2_FABRIC_ACTIONS_MAX];
	unsigned n_actions;
};

/* Reads one line against the hardware description: 0 (a rule), 1 (a blank or comment
 * line, nothing filled) or -1 with err. Free a rule with e2_fabric_rule_free. */
int e2_fabric_rule_parse(const struct e2_hardware *hw, const char *line, struct e2_fabric_rule *r, struct e2_err *err);
void e2_fabric_rule_free(struct e2_fabric_rule *r);
/* The rule's canonical line (malloc'd); with match_only, "priority=... MATCH" alone,
 * which two rules share exactly when the switch would hold them as one entry. */
char *e2_fabric_rule_text(const struct e2_fabric_rule *r, int match_only);

/* ---------------------------------------------------------------- drivers */

struct e2_fabric_driver {
	const char *name;
	const char *help;
	unsigned can; /* E2_FABRIC_CAN_* */
	/* Rules reach a driver parsed and checked against the hardware description and
	 * against `can`; each operation returns 0 or -1 with err. */
	int (*open)(struct e2_fabric *f, struct e2_err *err);
	int (*replace)(struct e2_fabric *f, const struct e2_fabric_rule *rules, size_t n, struct e2_err *err);
	int (*add)(struct e2_fabric *f, const struct e2_fabric_rule *r, struct e2_err *err);
	int (*del)(struct e2_fabric *f, const struct e2_fabric_rule *r, struct e2_err *err);
	long (*count)(struct e2_fabric *f, struct e2_err *err);
	int (*show)(struct e2_fabric *f, FILE *out, struct e2_err *err);
	int (*explain)(struct e2_fabric *f, const struct e2_fabric_rule *r, FILE *out, struct e2_err *err);
	void (*close)(struct e2_fabric *f);
};

/* A driver's view of an open switch. */
struct e2_fabric {
	const struct e2_fabric_driver *drv;
	const struct e2_hardware *hw;
	const char *target; /* switch.driver_target, or NULL */
	void *priv;         /* the driver's own */
};

void e2_fabric_driver_register(const struct e2_fabric_driver *drv);
const struct e2_fabric_driver *e2_fabric_driver_find(const char *name);
size_t e2_fabric_driver_count(void);
const struct e2_fabric_driver *e2_fabric_driver_at(size_t i);

/* Drivers register from a constructor, so the library holding them must keep every
 * object file (an OBJECT library, as e2fabric is). */
#define E2_FABRIC_DRIVER_REGISTER(desc)                                          \
	__attribute__((constructor)) static void e2_register_fabric_##desc(void) \
	{                                                                        \
		e2_fabric_driver_register(&desc);                                \
	}

#endif
