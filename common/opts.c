/* SPDX-License-Identifier: BSD-3-Clause */
#include "e2/opts.h"

#include <stdbool.h>
#include <stdio.h>
#include <string.h>

int e2_opt_next(int argc, char *const argv[], const char *shorts, const struct option *longs, struct e2_err *err)
{
	char spec[64];
	/* A leading ':' makes getopt tell a missing value (':') from an unknown option ('?');
	 * it goes after a leading '+' or '-' (stop at the first operand, or return operands),
	 * which glibc reads only as the very first character. */
	const char *s = shorts ? shorts : "";
	const char *mode = *s == '+' ? "+" : *s == '-' ? "-" : "";
	if (snprintf(spec, sizeof spec, "%s:%s", mode, s + strlen(mode)) >= (int)sizeof spec) {
		e2_seterr(err, "too many short options (a bug)");
		return E2_OPT_BAD;
	}
	int saved = opterr;
	opterr = 0;
	int c = getopt_long(argc, argv, spec, longs, NULL);
	opterr = saved;
	if (c != '?' && c != ':')
		return c;
	/* A long option is the word getopt just passed (for "--x=v" up to the '='); a short
	 * one is optopt, as its word may hold several ("-vk"). */
	const char *w = optind >= 1 && optind <= argc ? argv[optind - 1] : "";
	size_t wlen = strcspn(w, "=");
	char name[64];
	if (!strncmp(w, "--", 2) || !optopt)
		snprintf(name, sizeof name, "%.*s", (int)wlen, w);
	else
		snprintf(name, sizeof name, "-%c", optopt);
	bool takes_none = false;
	if (c == '?' && w[wlen] == '=' && !strncmp(w, "--", 2))
		for (const struct option *o = longs; o && o->name; o++)
			if (o->has_arg == no_argument && strlen(o->name) == wlen - 2 &&
			    !strncmp(o->name, w + 2, wlen - 2))
				takes_none = true;
	if (c == ':')
		e2_seterr(err, "%s needs a value (--help lists the options)", name);
	else if (takes_none)
		e2_seterr(err, "%s takes no value (--help lists the options)", name);
	else
		e2_seterr(err, "unknown option %s (--help lists the options)", name);
	return E2_OPT_BAD;
}

bool e2_opt_asks_help(int argc, char *const argv[])
{
	return argc > 1 && (!strcmp(argv[1], "--help") || !strcmp(argv[1], "-h"));
}
