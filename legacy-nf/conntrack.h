/* SPDX-License-Identifier: BSD-3-Clause */
/* Connection tracking for the stateful firewall: a fixed-size open-addressing table of
 * bidirectional flows with per-protocol idle timeouts. The caller passes the clock, so
 * tests are deterministic and the packet path never reads time itself. Deletion shifts
 * entries back (no tombstones), so a long-running table never degrades. */
#ifndef E2_LEGACY_CONNTRACK_H
#define E2_LEGACY_CONNTRACK_H

#include <stdbool.h>
#include <stdint.h>
#include "fw_rules.h"

enum ct_state {
	CT_FREE = 0,
	CT_TCP_SYN_SENT,    /* SYN seen from the originator */
	CT_TCP_ESTABLISHED, /* reply seen */
	CT_TCP_CLOSING,     /* FIN seen */
	CT_OTHER,           /* UDP, ICMP, other protocols: idle timeout only */
};

struct ct_timeouts { /* idle timeouts in milliseconds */
	uint64_t tcp_syn, tcp_established, tcp_closing, other;
};

struct ct_entry {
	struct fw_tuple orig; /* as first seen (the originator's direction) */
	enum ct_state state;
	uint64_t last_seen_ms;
};

struct conntrack {
	struct ct_entry *slots;
	uint32_t mask; /* capacity - 1 (capacity is a power of two) */
	uint32_t used; /* live entries */
	struct ct_timeouts timeouts;
	uint64_t next_reclaim_ms; /* a full table is scanned at most once a second */
};

/* What a packet means to the tracker. */
enum ct_verdict {
	CT_PASS_ESTABLISHED, /* belongs to a tracked flow */
	CT_NEW,              /* unknown flow that may start a connection: ask the rules */
	CT_INVALID,          /* unknown TCP flow that is not a SYN: drop */
};

/* TCP flag bits as in the header */
#define CT_TCP_FIN 0x01
#define CT_TCP_SYN 0x02
#define CT_TCP_RST 0x04
#define CT_TCP_ACK 0x10

int ct_init(struct conntrack *ct, uint32_t capacity, const struct ct_timeouts *timeouts);
void ct_free(struct conntrack *ct);

/* Looks the packet up; a tracked flow's state and timestamp are updated. */
enum ct_verdict ct_lookup(struct conntrack *ct, const struct fw_tuple *t, uint8_t tcp_flags, uint64_t now_ms);

/* Starts tracking a flow the rules allowed. Returns false if the table is full even
 * after reclaiming expired entries (tried at most once a second, so a flood of new
 * flows against a full table costs no table scans per packet). */
bool ct_insert(struct conntrack *ct, const struct fw_tuple *t, uint64_t now_ms);

/* Frees expired entries; returns how many. */
uint32_t ct_expire(struct conntrack *ct, uint64_t now_ms);

static inline struct ct_timeouts ct_default_timeouts(void)
{
	return (struct ct_timeouts){.tcp_syn = 30000, .tcp_established = 3600000, .tcp_closing = 30000, .other = 60000};
}

#endif
