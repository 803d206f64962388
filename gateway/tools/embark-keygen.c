/* SPDX-License-Identifier: BSD-3-Clause */
/* embark-keygen OUT: writes a fresh 256-bit Embark master key (hex) with mode 0600. */
#include "embark.h"

#include <stdio.h>
#include <string.h>

static void usage(FILE *f)
{
	fprintf(f, "usage: embark-keygen OUT\n"
		   "  Writes a new random Embark key to OUT (mode 0600). Refuses to overwrite.\n");
}

int main(int argc, char **argv)
{
	if (argc == 2 && (!strcmp(argv[1], "--help") || !strcmp(argv[1], "-h"))) {
		usage(stdout);
		return 0;
	}
	if (argc != 2 || argv[1][0] == '-') {
		usage(stderr);
		return 2;
	}
	char err[512];
	if (embark_keygen_file(argv[1], err, sizeof err)) {
		fprintf(stderr, "embark-keygen: %s\n", err);
		return 1;
	}
	return 0;
}
