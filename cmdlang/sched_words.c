/* SPDX-License-Identifier: BSD-3-Clause */
/* The words and numbers of the scheduler commands: one place for their names and
 * ranges, so that a line and a wire message are refused with the same text. */
#include "sched_words.h"

#include <inttypes.h>
#include <stdio.h>
#include <string.h>

#include "e2/err.h"
#include "e2/num.h"

static const char *const policy_words[] = {
	[E2__DP__SCHED_POLICY__SCHED_PRIORITY] = "priority",
	[E2__DP__SCHED_POLICY__SCHED_WEIGHTED_FAIR] = "weighted_fair",
	[E2__DP__SCHED_POLICY__SCHED_ROUND_ROBIN] = "round_robin",
	[E2__DP__SCHED_POLICY__SCHED_RATE_LIMIT] = "rate_limit",
};

static const char *const resource_words[] = {
	[E2__DP__SCHED_RESOURCE__SCHED_CYCLES] = "cycles",
	[E2__DP__SCHED_RESOURCE__SCHED_PACKETS] = "packets",
	[E2__DP__SCHED_RESOURCE__SCHED_BITS] = "bits",
};

#define N_OF(a) (sizeof(a) / sizeof((a)[0]))

const char *e2_cmd_policy_word(E2__Dp__SchedPolicy policy)
{
	return (unsigned)policy < N_OF(policy_words) ? policy_words[policy] : NULL;
}

const char *e2_cmd_resource_word(E2__Dp__SchedResource resource)
{
	return (unsigned)resource < N_OF(resource_words) ? resource_words[resource] : NULL;
}

E2__Dp__SchedPolicy e2_cmd_policy_of(const char *word)
{
	for (unsigned i = 1; i < N_OF(policy_words); i++)
		if (strcmp(word, policy_words[i]) == 0)
			return (E2__Dp__SchedPolicy)i;
	return E2__DP__SCHED_POLICY__SCHED_POLICY_UNSPECIFIED;
}

E2__Dp__SchedResource e2_cmd_resource_of(const char *word)
{
	for (unsigned i = 1; i < N_OF(resource_words); i++)
		if (strcmp(word, resource_words[i]) == 0)
			return (E2__Dp__SchedResource)i;
	return E2__DP__SCHED_RESOURCE__SCHED_RESOURCE_UNSPECIFIED;
}

static const struct {
	const char *key;
	uint64_t min, max;
} ranges[] = {
	{"share", 1, 1000000},        {"priority", 0, 1000000}, {"limit", 1, UINT64_MAX / 2},
	{"burst", 1, UINT64_MAX / 2}, {"worker", 0, 1023},
};

int e2_cmd_sched_number(const char *key, const char *text, uint64_t *out, char *err, size_t errlen)
{
	struct e2_err e;
	for (size_t i = 0; i < N_OF(ranges); i++)
		if (strcmp(key, ranges[i].key) == 0) {
			if (e2_num_u64(key, text, ranges[i].min, ranges[i].max, out, &e) == 0)
				return 0;
			snprintf(err, errlen, "%s", e.msg);
			return -1;
		}
	snprintf(err, errlen, "'%s' is not a number setting", key);
	return -1;
}

int e2_cmd_sched_number_ok(const char *key, uint64_t value, char *err, size_t errlen)
{
	char text[24];
	uint64_t v;
	snprintf(text, sizeof(text), "%" PRIu64, value);
	return e2_cmd_sched_number(key, text, &v, err, errlen);
}
