/* SPDX-License-Identifier: BSD-3-Clause */
/* e2/cmd.h: e2d's command language, the contract between E2's parts.
 *
 * A command is one line of text ("port add vm0 vhost path=/run/s client=1") or, on
 * the wire, one e2.dp.Request (proto/e2d.proto). This library turns one into the
 * other in both directions, checks a request's shape, and is the client of e2d's
 * control socket. It needs no DPDK: e2d, `e2ctl dp` and the orchestrator share it. */
#ifndef E2_CMD_H
#define E2_CMD_H

#include <stddef.h>
#include <stdio.h>

#include "e2d.pb-c.h"

#define E2_CTL_VERSION 1         /* every request carries it; e2d refuses any other */
#define E2_CTL_MAX_MSG (1 << 20) /* the largest request e2d executes */
#define E2_CTL_NAME_MAX 64       /* names are shorter than this (e2d's E2_NAME_MAX) */
#define E2_CTL_ARGS_MAX 64       /* KEY=VALUE arguments of one request */

/* Parses one line. Returns NULL with err filled for a bad line; an empty or comment
 * line gives NULL with err[0] == '\0'. Free with e2__dp__request__free_unpacked(r, NULL). */
E2__Dp__Request *e2_cmd_parse(const char *line, char *err, size_t errlen);

/* The canonical line of a request (no newline), malloc'd: for every request the
 * parser returns, parsing this line gives an equal request. NULL when the request
 * has no text form (no operation, or a part missing). */
char *e2_cmd_line(const E2__Dp__Request *req);

/* Checks what needs no dataplane state: version, operation present, names and
 * argument shapes. 0, or an errno value with err filled. */
int e2_cmd_check(const E2__Dp__Request *req, char *err, size_t errlen);

/* The usage text of the language, one command (or a few) per line. */
extern const char e2_cmd_usage[];

/* Prints a response for a person to read; req (may be NULL) shapes the printing. */
void e2_cmd_print_response(FILE *out, const E2__Dp__Request *req, const E2__Dp__Response *resp);

/* `e2ctl dp`: the command-line client of e2d's control socket (nanomsg REQ with a
 * timeout). argv[0] is the program name as the user typed it ("e2ctl dp"). */
int e2_cmd_client_main(int argc, char **argv);

#endif
