/* SPDX-License-Identifier: BSD-3-Clause */
/* Logging with levels and per-module names, settable while a daemon runs (OVS's vlog is
 * the model). A file names its module once, then logs through the level macros:
 *
 *   E2_LOG_MODULE(ctl);
 *   ...
 *   E2_WARN("refused '%s': %s", line, why);
 *
 * Each line goes to stderr (or the sink set with e2_log_set_sink) as
 *   2026-12-04T05:12:01.123Z|ctl|WARN|refused 'x': ...
 * Levels are changed with e2_log_set("ctl:dbg,worker:warn"), "dbg" for every module. A
 * message below its module's level costs one load and one compare. */
#ifndef E2_LOG_H
#define E2_LOG_H

#include <stdio.h>

#include "e2/err.h"

enum e2_log_level {
	E2_LOG_OFF,
	E2_LOG_ERR,
	E2_LOG_WARN,
	E2_LOG_INFO,
	E2_LOG_DBG,
};

struct e2_log_module {
	const char *name;
	int level; /* enum e2_log_level; read and written atomically */
	struct e2_log_module *next;
};

/* Adds a module to the list e2_log_set() and e2_log_describe() walk (done before main()
 * by E2_LOG_MODULE). */
void e2_log_register(struct e2_log_module *m);

#define E2_LOG_MODULE(NAME)                                                                     \
	static struct e2_log_module e2_log_this_module = {.name = #NAME, .level = E2_LOG_INFO}; \
	__attribute__((constructor)) static void e2_log_register_this_module(void)              \
	{                                                                                       \
		e2_log_register(&e2_log_this_module);                                           \
	}                                                                                       \
	extern int e2_log_module_semicolon_

void e2_log_emit(const struct e2_log_module *m, enum e2_log_level level, const char *fmt, ...)
	__attribute__((format(printf, 3, 4)));

static inline int e2_log_enabled(const struct e2_log_module *m, enum e2_log_level level)
{
	return (int)level <= __atomic_load_n(&m->level, __ATOMIC_RELAXED);
}

#define E2_LOG_AT(level, ...)                                                 \
	do {                                                                  \
		if (e2_log_enabled(&e2_log_this_module, level))               \
			e2_log_emit(&e2_log_this_module, level, __VA_ARGS__); \
	} while (0)
#define E2_ERR(...) E2_LOG_AT(E2_LOG_ERR, __VA_ARGS__)
#define E2_WARN(...) E2_LOG_AT(E2_LOG_WARN, __VA_ARGS__)
#define E2_INFO(...) E2_LOG_AT(E2_LOG_INFO, __VA_ARGS__)
#define E2_DBG(...) E2_LOG_AT(E2_LOG_DBG, __VA_ARGS__)

/* Sets levels from a spec: "LEVEL" (every module), or "MODULE:LEVEL" pairs separated by
 * commas, MODULE "all" for every module; LEVEL one of off err warn info dbg. Nothing
 * changes if any part is wrong; returns 0, or -1 with err naming the bad part. */
int e2_log_set(const char *spec, struct e2_err *err);

/* The registered modules, sorted by name, into out (when max covers them all); returns
 * how many there are. e2_log_modules(NULL, 0) counts them. */
size_t e2_log_modules(struct e2_log_module **out, size_t max);
enum e2_log_level e2_log_level_of(const struct e2_log_module *m);

/* "MODULE LEVEL" lines of every module, sorted by name, into buf; returns the length
 * the whole list needs (as snprintf). */
size_t e2_log_describe(char *buf, size_t n);

/* Where lines go (NULL: stderr). */
void e2_log_set_sink(FILE *f);

const char *e2_log_level_name(enum e2_log_level level);

#endif
