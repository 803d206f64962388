/* SPDX-License-Identifier: BSD-3-Clause */
/* Numbers read from text (command-line options, e2d command arguments, config
 * values), one way everywhere: the whole string must be the number (no leading
 * blanks, no trailing junk), it must be finite, and it must lie in [min, max].
 * Every refusal names the option and what it accepts:
 *     --rate=-5: out of range (1 to 1e+08)
 *     size=3: out of range (64 to 1048576)
 *     --duration=nan: not a finite number
 * `name` is printed as given ("--rate", "size"). Each returns 0, or -1 with err
 * (which may be NULL) filled and *out untouched. */
#ifndef E2_NUM_H
#define E2_NUM_H

#include <stdint.h>

#include "e2/err.h"

/* Decimal, or hexadecimal with 0x (leading zeros are decimal, never octal). */
int e2_num_u64(const char *name, const char *s, uint64_t min, uint64_t max, uint64_t *out, struct e2_err *err);
int e2_num_i64(const char *name, const char *s, int64_t min, int64_t max, int64_t *out, struct e2_err *err);
/* Convenience forms of the above for the common int-sized options. */
int e2_num_u32(const char *name, const char *s, uint32_t min, uint32_t max, uint32_t *out, struct e2_err *err);
int e2_num_int(const char *name, const char *s, int min, int max, int *out, struct e2_err *err);

/* A decimal number ("1.5", "2e6"); NaN and infinities are refused. */
int e2_num_double(const char *name, const char *s, double min, double max, double *out, struct e2_err *err);

/* Bytes: a whole number with an optional binary suffix, k/K, M, G or T (KiB, MiB ...;
 * "4k", "4K", "4KiB" and "4KB" all mean 4096). */
int e2_num_size(const char *name, const char *s, uint64_t min, uint64_t max, uint64_t *out, struct e2_err *err);

/* Per second (packets, bits, flows): a number with an optional decimal suffix,
 * k, M or G ("1.5M" is 1500000). */
int e2_num_rate(const char *name, const char *s, double min, double max, double *out, struct e2_err *err);

/* Seconds: a number with an optional unit, ns, us, ms, s, m (minutes) or h ("250ms"). */
int e2_num_duration(const char *name, const char *s, double min_s, double max_s, double *out_s, struct e2_err *err);

/* Yes or no: 1/0, true/false, yes/no, on/off. */
int e2_num_bool(const char *name, const char *s, int *out, struct e2_err *err);

#endif
