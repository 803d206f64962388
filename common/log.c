/* SPDX-License-Identifier: BSD-3-Clause */
#include "e2/log.h"

#include <stdarg.h>
#include <stdlib.h>
#include <string.h>
#include <sys/time.h>
#include <time.h>
#include <unistd.h>

/* The registry is written only by constructors, before main(); levels are changed with
 * atomic stores, so the list itself needs no lock. */
static struct e2_log_module *modules;
static FILE *sink;

static const char *const level_names[] = {"off", "err", "warn", "info", "dbg"};

const char *e2_log_level_name(enum e2_log_level level)
{
	return (unsigned)level < sizeof(level_names) / sizeof(level_names[0]) ? level_names[level] : "?";
}

void e2_log_register(struct e2_log_module *m)
{
	m->next = modules;
	modules = m;
}

void e2_log_set_sink(FILE *f)
{
	__atomic_store_n(&sink, f, __ATOMIC_RELEASE);
}

void e2_log_emit(const struct e2_log_module *m, enum e2_log_level level, const char *fmt, ...)
{
	char line[1024];
	struct timeval tv;
	struct tm tm;
	gettimeofday(&tv, NULL);
	gmtime_r(&tv.tv_sec, &tm);
	int n = snprintf(line, sizeof(line), "%04d-%02d-%02dT%02d:%02d:%02d.%03ldZ|%s|", tm.tm_year + 1900,
			 tm.tm_mon + 1, tm.tm_mday, tm.tm_hour, tm.tm_min, tm.tm_sec, (long)tv.tv_usec / 1000, m->name);
	for (const char *l = e2_log_level_name(level); *l && n < (int)sizeof(line) - 1; l++)
		line[n++] = (char)(*l >= 'a' && *l <= 'z' ? *l - 'a' + 'A' : *l);
	if (n < (int)sizeof(line) - 1)
		line[n++] = '|';
	va_list ap;
	va_start(ap, fmt);
	int k = vsnprintf(line + n, sizeof(line) - (size_t)n - 1, fmt, ap);
	va_end(ap);
	n = k < 0 ? n : n + k > (int)sizeof(line) - 2 ? (int)sizeof(line) - 2 : n + k;
	line[n++] = '\n';
	/* one write per line, so lines of several threads do not interleave */
	FILE *f = __atomic_load_n(&sink, __ATOMIC_ACQUIRE);
	ssize_t w = write(fileno(f ? f : stderr), line, (size_t)n);
	(void)w;
}

static int parse_level(const char *s, size_t len)
{
	for (size_t i = 0; i < sizeof(level_names) / sizeof(level_names[0]); i++)
		if (strlen(level_names[i]) == len && strncmp(level_names[i], s, len) == 0)
			return (int)i;
	return -1;
}

static struct e2_log_module *find(const char *s, size_t len)
{
	for (struct e2_log_module *m = modules; m; m = m->next)
		if (strlen(m->name) == len && strncmp(m->name, s, len) == 0)
			return m;
	return NULL;
}

/* One pass that only checks (apply = 0), then one that applies: all or nothing. */
static int walk(const char *spec, int apply, struct e2_err *err)
{
	const char *p = spec;
	if (!*p) {
		e2_seterr(err, "empty log level spec (want LEVEL or MODULE:LEVEL,...)");
		return -1;
	}
	while (*p) {
		size_t len = strcspn(p, ",");
		const char *colon = memchr(p, ':', len);
		const char *lv = colon ? colon + 1 : p;
		size_t lvlen = len - (size_t)(lv - p);
		int level = parse_level(lv, lvlen);
		if (level < 0) {
			e2_seterr(err, "unknown log level '%.*s' (off, err, warn, info, dbg)", (int)lvlen, lv);
			return -1;
		}
		if (colon && !(colon - p == 3 && strncmp(p, "all", 3) == 0)) {
			size_t nlen = (size_t)(colon - p);
			if (!find(p, nlen)) {
				e2_seterr(err, "no log module '%.*s'", (int)nlen, p);
				return -1;
			}
			/* several files may log as one module */
			for (struct e2_log_module *m = modules; apply && m; m = m->next)
				if (strlen(m->name) == nlen && strncmp(m->name, p, nlen) == 0)
					__atomic_store_n(&m->level, level, __ATOMIC_RELAXED);
		} else if (apply) {
			for (struct e2_log_module *m = modules; m; m = m->next)
				__atomic_store_n(&m->level, level, __ATOMIC_RELAXED);
		}
		p += len;
		if (*p == ',') {
			p++;
			if (!*p) {
				e2_seterr(err, "log level spec ends with ','");
				return -1;
			}
		}
	}
	return 0;
}

int e2_log_set(const char *spec, struct e2_err *err)
{
	if (walk(spec, 0, err) < 0)
		return -1;
	return walk(spec, 1, err);
}

static int by_name(const void *a, const void *b)
{
	return strcmp((*(struct e2_log_module *const *)a)->name, (*(struct e2_log_module *const *)b)->name);
}

size_t e2_log_modules(struct e2_log_module **out, size_t max)
{
	size_t count = 0;
	for (struct e2_log_module *m = modules; m; m = m->next) {
		if (count < max)
			out[count] = m;
		count++;
	}
	if (out && count <= max)
		qsort(out, count, sizeof(*out), by_name);
	return count;
}

enum e2_log_level e2_log_level_of(const struct e2_log_module *m)
{
	return (enum e2_log_level)__atomic_load_n(&m->level, __ATOMIC_RELAXED);
}

size_t e2_log_describe(char *buf, size_t n)
{
	size_t count = e2_log_modules(NULL, 0), len = 0;
	struct e2_log_module **sorted = calloc(count ? count : 1, sizeof(*sorted));
	if (!sorted)
		return 0;
	count = e2_log_modules(sorted, count);
	if (n)
		buf[0] = '\0';
	for (size_t i = 0; i < count; i++) {
		int k = snprintf(len < n ? buf + len : NULL, len < n ? n - len : 0, "%s %s\n", sorted[i]->name,
				 e2_log_level_name(e2_log_level_of(sorted[i])));
		if (k > 0)
			len += (size_t)k;
	}
	free(sorted);
	return len;
}
