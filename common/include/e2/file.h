/* SPDX-License-Identifier: BSD-3-Clause */
/* Reading a whole file, the one way every part of E2 does it. */
#ifndef E2_FILE_H
#define E2_FILE_H

#include <stdbool.h>
#include <stddef.h>
#include <stdio.h>

#include "e2/err.h"

/* Inputs E2 reads whole (policies, rule sets, graphs, plans) are small; anything larger
 * than this is refused rather than read into memory. */
#define E2_FILE_MAX_DEFAULT (64u << 20)

/* Reads the file at path into a NUL-terminated buffer (to be freed by the caller) and
 * stores its length (the NUL not counted) in *len. Refuses a file of more than `max`
 * bytes (0: E2_FILE_MAX_DEFAULT). Returns NULL with err set ("PATH: why") on failure. */
char *e2_read_file(const char *path, size_t max, size_t *len, struct e2_err *err);

/* The last `max` bytes (at most) of a file that may be growing, such as a log: read like
 * e2_read_file, but a longer file is not refused, its start is skipped. */
char *e2_read_file_tail(const char *path, size_t max, size_t *len, struct e2_err *err);

/* Output files, written so that a failure never leaves a half-written file and never
 * clobbers an input: e2_out_open creates a temporary file beside `path` (refusing a
 * `path` that is one of the n `inputs`, by device and inode, whatever the names or
 * links; NULL entries are skipped), the caller writes to o->f, and e2_out_commit
 * flushes, syncs and renames it into place; e2_out_abort removes it. "-" is standard
 * output; a FIFO or device is written directly. */
struct e2_out {
	FILE *f;
	char path[4096];
	char tmp[4096]; /* "" for standard output */
};
int e2_out_open(struct e2_out *o, const char *path, const char *const *inputs, size_t n, struct e2_err *err);
int e2_out_commit(struct e2_out *o, struct e2_err *err);
void e2_out_abort(struct e2_out *o);

/* Whether a and b name the same existing file (device and inode). */
int e2_same_file(const char *a, const char *b);

/* A path a config may name for a host or guest to use: absolute, at most `max` bytes, of
 * A-Z a-z 0-9 _ . - / and the characters of `extra` (NULL: none) only, and no `..`
 * component. Nothing a shell, a libvirt XML attribute or a kernel command line would read
 * differently. */
bool e2_path_ok(const char *path, size_t max, const char *extra);

#endif
