/* SPDX-License-Identifier: BSD-3-Clause */
/* e2nf-meter's configuration: traffic classes, one a line, matched in order.
 *
 *   class NAME [proto=tcp|udp|icmp|N] [from=NET/LEN] [to=NET/LEN] [sport=P[-P]] [dport=P[-P]]
 *         meter=srtcm cir=BITS/S cbs=BYTES ebs=BYTES
 *       | meter=trtcm cir=BITS/S pir=BITS/S cbs=BYTES pbs=BYTES
 *         [per-flow=yes [flows=N] [idle=SECONDS]] [green=ACTION] [yellow=ACTION] [red=ACTION]
 *   default pass|drop          frames no class matches (default pass)
 *
 * ACTION: pass, drop, dscp:N (0..63: rewrite the IPv4 DSCP) or tag:ATTR:VALUE (set a
 * metadata attribute). Defaults: green=pass yellow=pass red=drop. */
#ifndef E2NF_METER_CONF_H
#define E2NF_METER_CONF_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "e2/err.h"
#include "e2/nf.h"

#define METER_CLASSES_MAX 64
#define METER_FLOWS_MAX (1u << 22)

enum meter_kind { METER_SRTCM, METER_TRTCM };
enum meter_act { ACT_PASS, ACT_DROP, ACT_DSCP, ACT_TAG };
enum { COLOR_GREEN, COLOR_YELLOW, COLOR_RED, N_COLORS }; /* rte_color's order */

struct meter_action {
	enum meter_act kind;
	uint8_t dscp;
	char attr_name[16];
	struct e2nf_attr attr;
	char text[64];     /* the value as written */
	uint8_t value[64]; /* as the frame carries it */
	size_t value_len;
};

struct meter_class {
	char name[32];
	int proto;              /* -1: any */
	uint32_t src, src_mask; /* network order */
	uint32_t dst, dst_mask;
	uint8_t src_len, dst_len;
	uint16_t sport_lo, sport_hi, dport_lo, dport_hi;
	enum meter_kind kind;
	uint64_t cir, pir;     /* bits per second (pir: trtcm only) */
	uint64_t cbs, ebs_pbs; /* bytes: srtcm's cbs/ebs, trtcm's cbs/pbs */
	bool per_flow;
	uint32_t flows;
	double idle_s; /* a flow's meter is freed after this long without a packet */
	struct meter_action act[N_COLORS];
	unsigned line;
};

struct meter_conf {
	struct meter_class cls[METER_CLASSES_MAX];
	unsigned n;
	bool default_pass;
};

/* Errors say "origin:LINE: what". Returns 0 or -1. */
int meter_conf_parse(const char *text, size_t len, const char *origin, struct meter_conf *c, struct e2_err *err);
/* The canonical text of a configuration: parsing it gives the same configuration. */
void meter_conf_print(const struct meter_conf *c, char *buf, size_t len);

/* Whether a class matches a 5-tuple (addresses network order, ports host order). */
static inline bool meter_class_matches(const struct meter_class *k, int proto, uint32_t src, uint32_t dst,
				       uint16_t sport, uint16_t dport)
{
	return (k->proto < 0 || k->proto == proto) && (src & k->src_mask) == k->src && (dst & k->dst_mask) == k->dst &&
	       sport >= k->sport_lo && sport <= k->sport_hi && dport >= k->dport_lo && dport <= k->dport_hi;
}

#endif
