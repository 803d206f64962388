/* Reading a whole file, the one way every part of E2 does it. */
#ifndef E2_FILE_H
#define E2_FILE_H

#include <stddef.h>

#include "e2/err.h"

/* Inputs E2 reads whole (policies, rule sets, graphs, plans) are small; anything larger
 * than this is refused rather than read into memory. */
#define E2_FILE_MAX_DEFAULT (64u << 20)

/* Reads the file at path into a NUL-terminated buffer (to be freed by the caller) and
 * stores its length (the NUL not counted) in *len. Refuses a file of more than `max`
 * bytes (0: E2_FILE_MAX_DEFAULT). Returns NULL with err set ("PATH: why") on failure. */
char *e2_read_file(const char *path, size_t max, size_t *len, struct e2_err *err);

#endif
