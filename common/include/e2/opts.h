/* SPDX-License-Identifier: BSD-3-Clause */
/* Command-line options, refused one way everywhere: getopt_long's parsing, our messages.
 * getopt prints its own refusals with the binary's path ("./build/x/y: unrecognized
 * option"); a daemon's or tool's refusal should name its program once and say what is
 * wrong, as the rest of its errors do:
 *     --tokens needs a value (--help lists the options)
 *     unknown option --bogus (--help lists the options)
 * Usage:
 *     while ((c = e2_opt_next(argc, argv, "h", longs, &err)) != -1)
 *         switch (c) { case 'k': ...; case E2_OPT_BAD: fprintf(stderr, "prog: %s\n", err.msg); ... }
 * Reset optind before a second parse, as with getopt (to 0 if its shorts start with a
 * different '+' or '-': glibc reads that only when it starts afresh). */
#ifndef E2_OPTS_H
#define E2_OPTS_H

#include <getopt.h>
#include <stdbool.h>

#include "e2/err.h"

#define E2_OPT_BAD (-2) /* a refusal, written to err */

/* The next option's value (its `val` or short letter), -1 after the last one (optind is
 * then the first operand), or E2_OPT_BAD with err naming the option that lacks its
 * value, is unknown or is ambiguous. `shorts` as for getopt_long, without a leading ':'. */
int e2_opt_next(int argc, char *const argv[], const char *shorts, const struct option *longs, struct e2_err *err);

/* For programs that read their arguments by position: is the first one --help or -h?
 * (They then print their usage on stdout and exit 0, as the option parsers' programs do.) */
bool e2_opt_asks_help(int argc, char *const argv[]);

#endif
