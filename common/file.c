/* SPDX-License-Identifier: BSD-3-Clause */
#include "e2/file.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

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

char *e2_read_file_tail(const char *path, size_t max, size_t *len, struct e2_err *err)
{
	FILE *f = fopen(path, "rb");
	if (!f) {
		e2_seterr(err, "%s: cannot open: %s", path, strerror(errno));
		return NULL;
	}
	char *buf = malloc(max + 1);
	if (!buf) {
		e2_seterr(err, "%s: out of memory", path);
		fclose(f);
		return NULL;
	}
	if (fseek(f, 0, SEEK_END) == 0) {
		long size = ftell(f);
		fseek(f, size > (long)max ? size - (long)max : 0, SEEK_SET);
	}
	*len = fread(buf, 1, max, f);
	int bad = ferror(f);
	fclose(f);
	if (bad) {
		e2_seterr(err, "%s: read error", path);
		free(buf);
		return NULL;
	}
	buf[*len] = '\0';
	return buf;
}

int e2_same_file(const char *a, const char *b)
{
	struct stat sa, sb;
	return stat(a, &sa) == 0 && stat(b, &sb) == 0 && sa.st_dev == sb.st_dev && sa.st_ino == sb.st_ino;
}

int e2_out_open(struct e2_out *o, const char *path, const char *const *inputs, size_t n, struct e2_err *err)
{
	memset(o, 0, sizeof(*o));
	if (strcmp(path, "-") == 0) {
		o->f = stdout;
		snprintf(o->path, sizeof(o->path), "(standard output)");
		return 0;
	}
	for (size_t i = 0; i < n; i++)
		if (inputs[i] && e2_same_file(path, inputs[i])) {
			e2_seterr(err, "%s: is the input %s; refusing to overwrite it", path, inputs[i]);
			return -1;
		}
	struct stat st;
	if (stat(path, &st) == 0 && !S_ISREG(st.st_mode)) {
		/* a FIFO or a device: nothing to rename over, write it directly */
		if (S_ISDIR(st.st_mode)) {
			e2_seterr(err, "%s: is a directory", path);
			return -1;
		}
		o->f = fopen(path, "wb");
		if (!o->f) {
			e2_seterr(err, "%s: cannot open: %s", path, strerror(errno));
			return -1;
		}
		snprintf(o->path, sizeof(o->path), "%s", path);
		return 0;
	}
	if (strlen(path) + 16 >= sizeof(o->tmp)) {
		e2_seterr(err, "%s: path too long", path);
		return -1;
	}
	snprintf(o->path, sizeof(o->path), "%s", path);
	snprintf(o->tmp, sizeof(o->tmp), "%s.tmpXXXXXX", path);
	int fd = mkstemp(o->tmp);
	if (fd < 0) {
		e2_seterr(err, "%s: cannot create: %s", path, strerror(errno));
		o->tmp[0] = '\0';
		return -1;
	}
	/* what a plain fopen would have made, under the usual umask */
	mode_t mask = umask(0);
	umask(mask);
	fchmod(fd, 0666 & ~mask);
	o->f = fdopen(fd, "wb");
	if (!o->f) {
		e2_seterr(err, "%s: cannot open: %s", path, strerror(errno));
		close(fd);
		unlink(o->tmp);
		o->tmp[0] = '\0';
		return -1;
	}
	return 0;
}

int e2_out_commit(struct e2_out *o, struct e2_err *err)
{
	int bad = 0, why = 0;

	if (!o->f)
		return 0;
	if (fflush(o->f) != 0 || ferror(o->f))
		bad = 1, why = errno;
	if (o->f == stdout) {
		o->f = NULL;
		if (bad)
			e2_seterr(err, "standard output: write failed: %s", strerror(why ? why : EIO));
		return bad ? -1 : 0;
	}
	if (!bad && o->tmp[0] && fsync(fileno(o->f)) != 0)
		bad = 1, why = errno;
	if (fclose(o->f) != 0 && !bad)
		bad = 1, why = errno;
	o->f = NULL;
	if (!bad && o->tmp[0] && rename(o->tmp, o->path) != 0)
		bad = 1, why = errno;
	if (bad) {
		e2_seterr(err, "%s: write failed: %s", o->path, strerror(why ? why : EIO));
		if (o->tmp[0])
			unlink(o->tmp);
		o->tmp[0] = '\0';
		return -1;
	}
	o->tmp[0] = '\0';
	return 0;
}

void e2_out_abort(struct e2_out *o)
{
	if (o->f && o->f != stdout)
		fclose(o->f);
	o->f = NULL;
	if (o->tmp[0])
		unlink(o->tmp);
	o->tmp[0] = '\0';
}

bool e2_path_ok(const char *path, size_t max, const char *extra)
{
	static const char plain[] = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789_.-/";
	size_t len = strlen(path);
	if (path[0] != '/' || len > max)
		return false;
	for (size_t i = 0; i < len; i++)
		if (!strchr(plain, path[i]) && !(extra && strchr(extra, path[i])))
			return false;
	for (const char *c = path; (c = strstr(c, "/..")) != NULL; c += 3)
		if (c[3] == '/' || c[3] == '\0')
			return false;
	return true;
}
