/* SPDX-License-Identifier: BSD-3-Clause */
/* The words and numbers of the scheduler commands (sched add|attach|set|del|show),
 * shared by the parser, the printer and the checks of cmdlang. */
#ifndef E2_CMD_SCHED_WORDS_H
#define E2_CMD_SCHED_WORDS_H

#include <stddef.h>
#include <stdint.h>

#include "e2d.pb-c.h"

/* "priority" ... "rate_limit", "cycles" ... "bits"; NULL for a value with no word */
const char *e2_cmd_policy_word(E2__Dp__SchedPolicy policy);
const char *e2_cmd_resource_word(E2__Dp__SchedResource resource);
/* the value of a word, or UNSPECIFIED (0) */
E2__Dp__SchedPolicy e2_cmd_policy_of(const char *word);
E2__Dp__SchedResource e2_cmd_resource_of(const char *word);

/* KEY=TEXT read as the number setting KEY (share, priority, limit, burst, worker)
 * within its range; 0, or -1 with err ("share=0: ..."). */
int e2_cmd_sched_number(const char *key, const char *text, uint64_t *out, char *err, size_t errlen);
/* The same check of a number that came on the wire, with the same message. */
int e2_cmd_sched_number_ok(const char *key, uint64_t value, char *err, size_t errlen);

#endif
