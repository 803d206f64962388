#include "e2/file.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

char *e2_read_file(const char *path, size_t max, size_t *len, struct e2_err *err)
{
	if (!max)
		max = E2_FILE_MAX_DEFAULT;
	FILE *f = fopen(path, "rb");
	if (!f) {
		e2_seterr(err, "%s: cannot open: %s", path, strerror(errno));
		return NULL;
	}
	/* a directory opens but does not read: say so instead of "empty" */
	struct stat st;
	if (fstat(fileno(f), &st) == 0 && S_ISDIR(st.st_mode)) {
		e2_seterr(err, "%s: is a directory", path);
		fclose(f);
		return NULL;
	}
	/* grown as it reads: pipes and /proc files have no size up front */
	size_t cap = 4096, n = 0;
	char *buf = malloc(cap + 1);
	while (buf) {
		n += fread(buf + n, 1, cap - n, f);
		if (n < cap)
			break;
		if (cap >= max + 1) /* read more than max bytes */
			break;
		size_t ncap = cap * 2 > max + 1 ? max + 1 : cap * 2;
		char *nb = realloc(buf, ncap + 1);
		if (!nb) {
			free(buf);
			buf = NULL;
			break;
		}
		buf = nb;
		cap = ncap;
	}
	int bad = ferror(f);
	fclose(f);
	if (!buf) {
		e2_seterr(err, "%s: out of memory", path);
		return NULL;
	}
	if (bad) {
		e2_seterr(err, "%s: read error", path);
		free(buf);
		return NULL;
	}
	if (n > max) {
		e2_seterr(err, "%s: larger than %zu bytes", path, max);
		free(buf);
		return NULL;
	}
	buf[n] = '\0';
	*len = n;
	return buf;
}
