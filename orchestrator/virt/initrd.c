/* SPDX-License-Identifier: BSD-3-Clause */
/* An instance's own initrd: the image's initrd followed by a second archive (newc cpio,
 * uncompressed) holding a directory's files under /etc/e2/instance/, root-owned, files
 * 0600 and directories 0700. The kernel unpacks the archives in order into the guest's
 * root file system; NUL bytes between them are skipped, and an uncompressed archive must
 * start 4-byte aligned. Keys stay out of the image (shared, 0644) and off shares (a live
 * path into the host): they exist in this file (0600, owned by QEMU's user) and in the
 * guest's memory. */
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <pwd.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "e2virt.h"

#define MAX_FILES 256
#define MAX_FILE_BYTES (16u << 20)
#define MAX_DEPTH 8
#define GUEST_DIR "etc/e2/instance"

struct writer {
	int fd;
	uint64_t off;
	unsigned ino, files;
	struct e2_err *err;
};

static int put(struct writer *w, const void *b, size_t len)
{
	const char *p = b;
	while (len) {
		ssize_t n = write(w->fd, p, len);
		if (n < 0 && errno == EINTR)
			continue;
		if (n <= 0) {
			e2_seterr(w->err, "cannot write the instance initrd: %s", strerror(n < 0 ? errno : EIO));
			return -1;
		}
		p += n;
		len -= (size_t)n;
		w->off += (uint64_t)n;
	}
	return 0;
}

static int pad4(struct writer *w)
{
	static const char zeros[4];
	return put(w, zeros, (4 - (w->off & 3)) & 3);
}

/* One newc entry: header, name, then data (NULL for directories and the trailer). */
static int entry(struct writer *w, const char *name, unsigned mode, const void *data, size_t size)
{
	char hdr[111];
	bool trailer = !strcmp(name, "TRAILER!!!");
	snprintf(hdr, sizeof(hdr), "070701%08X%08X%08X%08X%08X%08X%08X%08X%08X%08X%08X%08X%08X", trailer ? 0 : ++w->ino,
		 mode, 0u, 0u,
		 trailer            ? 1u
		 : (mode & S_IFDIR) ? 2u
				    : 1u,
		 0u, (unsigned)size, 0u, 0u, 0u, 0u, (unsigned)strlen(name) + 1, 0u);
	if (put(w, hdr, 110) || put(w, name, strlen(name) + 1) || pad4(w))
		return -1;
	if (size && (put(w, data, size) || pad4(w)))
		return -1;
	return 0;
}

static int add_file(struct writer *w, const char *path, const char *name)
{
	int fd = open(path, O_RDONLY | O_NOFOLLOW | O_CLOEXEC);
	struct stat st;
	if (fd < 0 || fstat(fd, &st) < 0) {
		e2_seterr(w->err, "instance files: cannot read %s: %s", path, strerror(errno));
		if (fd >= 0)
			close(fd);
		return -1;
	}
	if (st.st_size > MAX_FILE_BYTES) {
		e2_seterr(w->err, "instance files: %s is larger than %u MiB", path, MAX_FILE_BYTES >> 20);
		close(fd);
		return -1;
	}
	char *buf = malloc((size_t)st.st_size + 1);
	size_t got = 0;
	while (buf && got < (size_t)st.st_size) {
		ssize_t n = read(fd, buf + got, (size_t)st.st_size - got);
		if (n < 0 && errno == EINTR)
			continue;
		if (n <= 0)
			break;
		got += (size_t)n;
	}
	close(fd);
	int rc = -1;
	if (!buf)
		e2_seterr(w->err, "instance files: no memory for %s", path);
	else if (got != (size_t)st.st_size)
		e2_seterr(w->err, "instance files: %s changed while read", path);
	else
		rc = entry(w, name, S_IFREG | 0600, buf, got);
	if (buf)
		explicit_bzero(buf, got); /* keys: no copy left in freed memory */
	free(buf);
	return rc;
}

/* DIR's entries in name order (the archive is the same for the same files). */
static int add_dir(struct writer *w, const char *dir, const char *name, int depth)
{
	if (depth > MAX_DEPTH) {
		e2_seterr(w->err, "instance files: %s is nested deeper than %d directories", dir, MAX_DEPTH);
		return -1;
	}
	if (entry(w, name, S_IFDIR | 0700, NULL, 0))
		return -1;
	struct dirent **list;
	int n = scandir(dir, &list, NULL, alphasort);
	if (n < 0) {
		e2_seterr(w->err, "instance files: cannot list %s: %s", dir, strerror(errno));
		return -1;
	}
	int rc = 0;
	for (int i = 0; i < n; i++) {
		const char *d = list[i]->d_name;
		if (rc || !strcmp(d, ".") || !strcmp(d, ".."))
			continue;
		char path[PATH_MAX], sub[PATH_MAX];
		struct stat st;
		if ((size_t)snprintf(path, sizeof(path), "%s/%s", dir, d) >= sizeof(path) ||
		    (size_t)snprintf(sub, sizeof(sub), "%s/%s", name, d) >= sizeof(sub)) {
			e2_seterr(w->err, "instance files: a path under %s is too long", dir);
			rc = -1;
		} else if (lstat(path, &st) < 0) {
			e2_seterr(w->err, "instance files: cannot read %s: %s", path, strerror(errno));
			rc = -1;
		} else if (++w->files > MAX_FILES) {
			e2_seterr(w->err, "instance files: more than %d entries under the directory", MAX_FILES);
			rc = -1;
		} else if (S_ISDIR(st.st_mode)) {
			rc = add_dir(w, path, sub, depth + 1);
		} else if (S_ISREG(st.st_mode)) {
			rc = add_file(w, path, sub);
		} else {
			e2_seterr(w->err, "instance files: %s is not a regular file or directory (links are refused)",
				  path);
			rc = -1;
		}
	}
	for (int i = 0; i < n; i++)
		free(list[i]);
	free(list);
	return rc;
}

static int copy_image(struct writer *w, const char *path)
{
	int fd = open(path, O_RDONLY | O_CLOEXEC);
	if (fd < 0) {
		e2_seterr(w->err, "cannot read the image initrd %s: %s", path, strerror(errno));
		return -1;
	}
	char buf[65536];
	int rc = 0;
	for (;;) {
		ssize_t n = read(fd, buf, sizeof(buf));
		if (n < 0 && errno == EINTR)
			continue;
		if (n < 0) {
			e2_seterr(w->err, "cannot read the image initrd %s: %s", path, strerror(errno));
			rc = -1;
		}
		if (n <= 0 || put(w, buf, (size_t)n)) {
			rc = n == 0 ? 0 : -1;
			break;
		}
	}
	close(fd);
	return rc;
}

int e2v_instance_initrd(const char *image, const char *dir, const char *out, const char *owner, struct e2_err *err)
{
	struct stat st;
	if (!dir || stat(dir, &st) < 0 || !S_ISDIR(st.st_mode)) {
		e2_seterr(err, "instance files: '%s' is not a directory", dir ? dir : "(none)");
		return -1;
	}
	uid_t uid = (uid_t)-1;
	gid_t gid = (gid_t)-1;
	if (owner && *owner) {
		struct passwd *pw = getpwnam(owner);
		if (!pw) {
			e2_seterr(err, "instance initrd: no user '%s' to own it", owner);
			return -1;
		}
		uid = pw->pw_uid;
		gid = pw->pw_gid;
	}
	char image_initrd[PATH_MAX], tmp[PATH_MAX];
	if ((size_t)snprintf(image_initrd, sizeof(image_initrd), "%s.initrd", image) >= sizeof(image_initrd) ||
	    (size_t)snprintf(tmp, sizeof(tmp), "%s.XXXXXX", out) >= sizeof(tmp)) {
		e2_seterr(err, "instance initrd: path too long");
		return -1;
	}
	struct writer w = {.fd = mkstemp(tmp), .err = err}; /* mode 0600 */
	if (w.fd < 0) {
		e2_seterr(err, "cannot create %s: %s", tmp, strerror(errno));
		return -1;
	}
	int rc = copy_image(&w, image_initrd);
	/* the image's archive may end anywhere; ours must start 4-byte aligned */
	if (!rc)
		rc = pad4(&w);
	if (!rc)
		rc = entry(&w, "etc", S_IFDIR | 0755, NULL, 0) || entry(&w, "etc/e2", S_IFDIR | 0755, NULL, 0) ||
				     add_dir(&w, dir, GUEST_DIR, 0) || entry(&w, "TRAILER!!!", 0, NULL, 0)
			     ? -1
			     : 0;
	if (!rc && uid != (uid_t)-1 && fchown(w.fd, uid, gid) < 0) {
		e2_seterr(err, "cannot give %s to %s: %s", out, owner, strerror(errno));
		rc = -1;
	}
	if (!rc && fsync(w.fd) < 0) {
		e2_seterr(err, "cannot write %s: %s", out, strerror(errno));
		rc = -1;
	}
	close(w.fd);
	if (!rc && rename(tmp, out) < 0) {
		e2_seterr(err, "cannot rename %s to %s: %s", tmp, out, strerror(errno));
		rc = -1;
	}
	if (rc)
		unlink(tmp);
	return rc;
}
