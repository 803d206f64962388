/* SPDX-License-Identifier: BSD-3-Clause */
/* Numbers from text; see e2/num.h. Built on strtoull/strtod, with the checks
 * they leave to the caller done once here: whole string, sign, finiteness, range. */
#include "e2/num.h"

#include <ctype.h>
#include <errno.h>
#include <math.h>
#include <stdbool.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

/* The value as shown in messages: quoted only when it could be misread, cut when long. */
#define SHOW "%.40s%s"
#define SHOW_ARGS(s) (s), (strlen(s) > 40 ? "..." : "")

static int refuse(const char *name, const char *s, const char *why, struct e2_err *err)
{
	if (!s || !*s)
		e2_seterr(err, "%s: missing value (%s)", name, why);
	else
		e2_seterr(err, "%s=" SHOW ": %s", name, SHOW_ARGS(s), why);
	return -1;
}

static int out_of_range_u(const char *name, const char *s, uint64_t min, uint64_t max, struct e2_err *err)
{
	e2_seterr(err, "%s=" SHOW ": out of range (%llu to %llu)", name, SHOW_ARGS(s), (unsigned long long)min,
		  (unsigned long long)max);
	return -1;
}

static int out_of_range_d(const char *name, const char *s, double min, double max, struct e2_err *err)
{
	e2_seterr(err, "%s=" SHOW ": out of range (%g to %g)", name, SHOW_ARGS(s), min, max);
	return -1;
}

/* The magnitude of an unsigned whole number at s; *end after it. false if none. */
static bool whole(const char *s, const char **end, uint64_t *v, bool *overflow)
{
	int base = 10;
	char *e;

	if (s[0] == '0' && (s[1] == 'x' || s[1] == 'X')) {
		base = 16;
		s += 2;
		/* strtoull in base 16 would take a second "0x" */
		if (!isxdigit((unsigned char)*s) || strpbrk(s, "xX"))
			return false;
	} else if (!isdigit((unsigned char)*s)) {
		return false;
	}
	errno = 0;
	*v = strtoull(s, &e, base);
	*overflow = errno == ERANGE;
	*end = e;
	return true;
}

int e2_num_u64(const char *name, const char *s, uint64_t min, uint64_t max, uint64_t *out, struct e2_err *err)
{
	const char *end;
	uint64_t v;
	bool overflow;

	if (!s || !whole(s, &end, &v, &overflow) || *end)
		return refuse(name, s, s && *s == '-' ? "must not be negative" : "not a whole number", err);
	if (overflow || v < min || v > max)
		return out_of_range_u(name, s, min, max, err);
	*out = v;
	return 0;
}

int e2_num_i64(const char *name, const char *s, int64_t min, int64_t max, int64_t *out, struct e2_err *err)
{
	const char *end;
	uint64_t mag;
	bool overflow, neg = s && *s == '-';
	int64_t v;

	if (!s || !whole(s + neg, &end, &mag, &overflow) || *end)
		return refuse(name, s, "not a whole number", err);
	if (overflow || mag > (uint64_t)INT64_MAX + neg)
		goto range;
	v = neg ? (int64_t)(0 - mag) : (int64_t)mag;
	if (v < min || v > max)
		goto range;
	*out = v;
	return 0;
range:
	e2_seterr(err, "%s=" SHOW ": out of range (%lld to %lld)", name, SHOW_ARGS(s), (long long)min, (long long)max);
	return -1;
}

int e2_num_u32(const char *name, const char *s, uint32_t min, uint32_t max, uint32_t *out, struct e2_err *err)
{
	uint64_t v;
	if (e2_num_u64(name, s, min, max, &v, err))
		return -1;
	*out = (uint32_t)v;
	return 0;
}

int e2_num_int(const char *name, const char *s, int min, int max, int *out, struct e2_err *err)
{
	int64_t v;
	if (e2_num_i64(name, s, min, max, &v, err))
		return -1;
	*out = (int)v;
	return 0;
}

/* A finite decimal number at the start of s; *end after it. */
static int real(const char *name, const char *s, const char **end, double *v, const char *what, struct e2_err *err)
{
	const char *p = s;
	char *e;

	if (!s || !*s)
		return refuse(name, s, what, err);
	if (*p == '-' || *p == '+')
		p++;
	/* strtod would also take blanks, "inf", "nan" and hexadecimal: none is a number here */
	if (!(isdigit((unsigned char)*p) || (*p == '.' && isdigit((unsigned char)p[1]))) ||
	    (p[0] == '0' && (p[1] == 'x' || p[1] == 'X'))) {
		if (!strncasecmp(p, "nan", 3) || !strncasecmp(p, "inf", 3))
			return refuse(name, s, "not a finite number", err);
		return refuse(name, s, what, err);
	}
	errno = 0;
	*v = strtod(s, &e);
	if (errno == ERANGE && fabs(*v) > 1)
		return refuse(name, s, "not a finite number", err);
	if (errno == ERANGE)
		*v = 0; /* underflow: as near zero as makes no difference */
	*end = e;
	return 0;
}

int e2_num_double(const char *name, const char *s, double min, double max, double *out, struct e2_err *err)
{
	const char *end;
	double v;

	if (real(name, s, &end, &v, "not a number", err))
		return -1;
	if (*end)
		return refuse(name, s, "not a number", err);
	if (!(v >= min && v <= max))
		return out_of_range_d(name, s, min, max, err);
	*out = v;
	return 0;
}

struct unit {
	const char *suffix;
	double scale;
};

/* The scale of the suffix at p among units; false if it is none of them. */
static bool unit_scale(const char *p, const struct unit *units, double *scale)
{
	for (const struct unit *u = units; u->suffix; u++)
		if (strcmp(p, u->suffix) == 0) {
			*scale = u->scale;
			return true;
		}
	return false;
}

int e2_num_size(const char *name, const char *s, uint64_t min, uint64_t max, uint64_t *out, struct e2_err *err)
{
	static const struct unit units[] = {
		{"", 1},           {"B", 1},           {"k", 1024},         {"K", 1024},
		{"KB", 1024},      {"KiB", 1024},      {"M", 1 << 20},      {"MB", 1 << 20},
		{"MiB", 1 << 20},  {"G", 1 << 30},     {"GB", 1 << 30},     {"GiB", 1 << 30},
		{"T", 1ull << 40}, {"TB", 1ull << 40}, {"TiB", 1ull << 40}, {NULL, 0},
	};
	static const char what[] = "not a size (a whole number of bytes with an optional k, M, G or T suffix)";
	const char *end;
	uint64_t v;
	bool overflow;
	double scale;

	if (!s || *s == '-' || !whole(s, &end, &v, &overflow) || !unit_scale(end, units, &scale))
		return refuse(name, s, s && *s == '-' ? "must not be negative" : what, err);
	if (overflow || (v && (uint64_t)scale > UINT64_MAX / v))
		return out_of_range_u(name, s, min, max, err);
	v *= (uint64_t)scale;
	if (v < min || v > max)
		return out_of_range_u(name, s, min, max, err);
	*out = v;
	return 0;
}

/* A number with one of `units` after it, scaled and range-checked. */
static int scaled(const char *name, const char *s, const struct unit *units, const char *what, double min, double max,
		  double *out, struct e2_err *err)
{
	const char *end;
	double v, scale;

	if (real(name, s, &end, &v, what, err))
		return -1;
	if (!unit_scale(end, units, &scale))
		return refuse(name, s, what, err);
	v *= scale;
	if (!(v >= min && v <= max))
		return out_of_range_d(name, s, min, max, err);
	*out = v;
	return 0;
}

int e2_num_rate(const char *name, const char *s, double min, double max, double *out, struct e2_err *err)
{
	static const struct unit units[] = {{"", 1}, {"k", 1e3}, {"K", 1e3}, {"M", 1e6}, {"G", 1e9}, {NULL, 0}};
	return scaled(name, s, units, "not a rate (a number per second with an optional k, M or G suffix)", min, max,
		      out, err);
}

int e2_num_duration(const char *name, const char *s, double min_s, double max_s, double *out_s, struct e2_err *err)
{
	static const struct unit units[] = {
		{"", 1},   {"s", 1},    {"ms", 1e-3}, {"us", 1e-6}, {"ns", 1e-9},
		{"m", 60}, {"min", 60}, {"h", 3600},  {NULL, 0},
	};
	return scaled(name, s, units, "not a duration (seconds, or a number with ns, us, ms, s, m or h)", min_s, max_s,
		      out_s, err);
}

int e2_num_bool(const char *name, const char *s, int *out, struct e2_err *err)
{
	static const char *const yes[] = {"1", "true", "yes", "on", NULL};
	static const char *const no[] = {"0", "false", "no", "off", NULL};

	for (int i = 0; s && yes[i]; i++) {
		if (strcasecmp(s, yes[i]) == 0) {
			*out = 1;
			return 0;
		}
		if (strcasecmp(s, no[i]) == 0) {
			*out = 0;
			return 0;
		}
	}
	return refuse(name, s, "not yes or no (1/0, true/false, yes/no, on/off)", err);
}
