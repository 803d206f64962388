/* SPDX-License-Identifier: BSD-3-Clause */
/* libFuzzer target: e2nf-firewall's rule text of any shape parses or is refused with
 * "origin:LINE: what", and a parsed rule set compiled into rte_acl decides like a plain
 * first-match loop here: for each rule's own tuple, the same with one address bit
 * flipped at the prefix's edge or a port just outside its range, and tuples taken from
 * the input's bytes. */
#include "e2/fuzz.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <rte_acl.h>
#include <rte_byteorder.h>
#include <rte_eal.h>

#include "../nfs/acl_rules.h"

static char runtime_dir[4096];

static void remove_runtime_dir(void)
{
	rmdir(runtime_dir);
}

int LLVMFuzzerInitialize(int *argc, char ***argv)
{
	static char prefix[64];
	snprintf(prefix, sizeof(prefix), "--file-prefix=fuzzacl%d", (int)getpid());
	char *eal[] = {"fuzz_acl_rules", "--no-huge",         "-m",   "256", "--no-pci", "--no-shconf",
		       "--no-telemetry", "--log-level=error", prefix, NULL};
	(void)argc, (void)argv;
	if (rte_eal_init(9, eal) < 0)
		abort();
	snprintf(runtime_dir, sizeof(runtime_dir), "%s", rte_eal_get_runtime_dir());
	atexit(remove_runtime_dir);
	return 0;
}

static bool in_prefix(uint32_t a, uint32_t net, uint8_t len)
{
	return len == 0 || (a >> (32 - len)) == (net >> (32 - len));
}

/* host-order tuple -> the rule index (1-based) a first-match loop picks, or 0 */
static unsigned first_match(const struct fw_ruleset *rs, uint8_t proto, uint32_t src, uint32_t dst, uint16_t sport,
			    uint16_t dport)
{
	for (unsigned i = 0; i < rs->n; i++) {
		const struct fw_rule *r = &rs->rules[i];
		if ((r->proto < 0 || r->proto == proto) && in_prefix(src, r->src, r->src_len) &&
		    in_prefix(dst, r->dst, r->dst_len) && sport >= r->sport_lo && sport <= r->sport_hi &&
		    dport >= r->dport_lo && dport <= r->dport_hi)
			return i + 1;
	}
	return 0;
}

static void check(struct rte_acl_ctx *acl, const struct fw_ruleset *rs, uint8_t proto, uint32_t src, uint32_t dst,
		  uint16_t sport, uint16_t dport)
{
	struct fw_acl_key k = {.proto = proto,
			       .src = rte_cpu_to_be_32(src),
			       .dst = rte_cpu_to_be_32(dst),
			       .sport = rte_cpu_to_be_16(sport),
			       .dport = rte_cpu_to_be_16(dport)};
	const uint8_t *data[1] = {(const uint8_t *)&k};
	uint32_t got = 0;
	if (rs->n)
		rte_acl_classify(acl, data, &got, 1, 1);
	unsigned want = first_match(rs, proto, src, dst, sport, dport);
	if (got != want) {
		fprintf(stderr, "proto %u %08x:%u -> %08x:%u: rte_acl says rule %u, first match is rule %u\n", proto,
			src, sport, dst, dport, got, want);
		abort();
	}
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	struct fw_ruleset rs;
	struct e2_err err;

	if (fw_rules_parse((const char *)data, size, "fuzz", &rs, &err) != 0) {
		/* "fuzz: what" (the whole file) or "fuzz:LINE: what" */
		char *end = NULL;
		unsigned long line = strncmp(err.msg, "fuzz:", 5) == 0 ? strtoul(err.msg + 5, &end, 10) : 0;
		if (strncmp(err.msg, "fuzz: ", 6) != 0 && !(end && end != err.msg + 5 && *end == ':' && line > 0)) {
			fprintf(stderr, "error without origin and line: %s\n", err.msg);
			abort();
		}
		return 0;
	}
	struct rte_acl_ctx *acl = fw_acl_build(&rs, "fuzz", &err);
	if (!acl) {
		fprintf(stderr, "a parsed rule set did not compile: %s\n", err.msg);
		abort();
	}
	for (unsigned i = 0; i < rs.n && i < 64; i++) {
		const struct fw_rule *r = &rs.rules[i];
		uint8_t proto = r->proto < 0 ? 6 : (uint8_t)r->proto;
		check(acl, &rs, proto, r->src, r->dst, r->sport_lo, r->dport_hi);
		check(acl, &rs, proto, r->src, r->dst, r->sport_hi, r->dport_lo);
		if (r->src_len)
			check(acl, &rs, proto, r->src ^ (1u << (32 - r->src_len)), r->dst, r->sport_lo, r->dport_lo);
		if (r->dst_len)
			check(acl, &rs, proto, r->src, r->dst ^ (1u << (32 - r->dst_len)), r->sport_lo, r->dport_lo);
		if (r->dport_hi < 65535)
			check(acl, &rs, proto, r->src, r->dst, r->sport_lo, (uint16_t)(r->dport_hi + 1));
		if (r->sport_lo > 0)
			check(acl, &rs, proto, r->src, r->dst, (uint16_t)(r->sport_lo - 1), r->dport_lo);
		check(acl, &rs, (uint8_t)(proto + 1), r->src, r->dst, r->sport_lo, r->dport_lo);
	}
	/* and tuples from the input's own bytes */
	for (size_t off = 0; off + 13 <= size && off < 13 * 16; off += 13) {
		uint32_t s, d;
		uint16_t sp, dp;
		memcpy(&s, data + off + 1, 4);
		memcpy(&d, data + off + 5, 4);
		memcpy(&sp, data + off + 9, 2);
		memcpy(&dp, data + off + 11, 2);
		check(acl, &rs, data[off], s, d, sp, dp);
	}
	rte_acl_free(acl);
	free(rs.rules);
	return 0;
}
