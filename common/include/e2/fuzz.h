/* SPDX-License-Identifier: BSD-3-Clause */
/* The entry points libFuzzer calls; every fuzz target defines the first and may define
 * the second. Declared here so that they, like every other global function, have a
 * prototype (-Wmissing-prototypes). */
#ifndef E2_FUZZ_H
#define E2_FUZZ_H

#include <stddef.h>
#include <stdint.h>

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);
int LLVMFuzzerInitialize(int *argc, char ***argv);

#endif
