/* SPDX-License-Identifier: BSD-3-Clause */
/* The frame of the Embark middlebox programs: options, libe2nf's run loop, frames parsed
 * into mb_pkt (plain IPv4 and Embark IPv6 alike), extension-channel frames decoded and
 * handed over (never forwarded), and the counters every one of them keeps. */
#ifndef EMBARK_MB_NF_H
#define EMBARK_MB_NF_H

#include <getopt.h>

#include "e2/nf.h"
#include "mb.h"

#define MB_DROP (-1)

struct mb_nf {
	const char *name; /* embark-fw, ... */
	const char *usage;
	const struct option *opts; /* the middlebox's own, zero-terminated */
	int (*opt)(void *st, int c, const char *arg, struct e2_err *err);
	/* after the options: loads files; `check` set: print what was loaded and return */
	int (*setup)(void *st, bool check, struct e2_err *err);
	/* optional: fetch what pkt() will need for this frame (its flow slot), called for
	 * every IP frame of a burst before the first is decided */
	void (*prefetch)(void *st, unsigned port, const struct mb_pkt *p);
	/* optional: a second pass, once every frame's prefetch was issued, to fetch what the
	 * state found there points at (the NAT's way back); a hint: it changes nothing */
	void (*prefetch2)(void *st, unsigned port, const struct mb_pkt *p, uint64_t now);
	/* a parsed IP frame from `port`: the output port or MB_DROP */
	int (*pkt)(void *st, struct e2nf *nf, unsigned port, struct mb_pkt *p, uint64_t now);
	/* an extension record (may be NULL: the middlebox takes none) */
	void (*ext)(void *st, struct e2nf *nf, struct mb_ext *x, uint64_t now);
	/* optional: true when packets are decided by their records (a blocklist, an IDS that
	 * drops): then, on a live channel, a packet the gateway marked waits for its records
	 * (mb.h, mb_hold) */
	bool (*waits_for_records)(void *st);
	/* optional: every millisecond, between bursts (a middlebox that sends frames of its
	 * own on a timer: embark-proxy's retransmissions); what it sends leaves right after */
	void (*tick)(void *st, struct e2nf *nf, uint64_t now);
	int (*counters)(void *st, char *buf, size_t len);
	/* optional: the middlebox's per-epoch inputs, whose control words (mb_epochs_control)
	 * the frame serves before `control` */
	struct mb_epochs *epochs;
	/* optional: other control lines (--ctl, or offline DIR/control): 0, or -1 with the
	 * error in reply */
	int (*control)(void *st, const char *line, char *reply, size_t len);
	void (*fini)(void *st);
	unsigned ports; /* how many --port it needs */
	void *st;
};

int mb_nf_main(struct mb_nf *m, int argc, char **argv);

#endif
