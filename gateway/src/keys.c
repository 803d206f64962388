/* SPDX-License-Identifier: BSD-3-Clause */
/* Key files: 64 hex digits + newline, mode 0600.  Subkeys come from HKDF-SHA256 so one
 * file serves every primitive and no two primitives share a key. */
#include "internal.h"

#include <errno.h>
#include <fcntl.h>
#include <openssl/core_names.h>
#include <openssl/crypto.h>
#include <openssl/kdf.h>
#include <openssl/rand.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

static int derive(const uint8_t *master, const char *label, uint8_t *out, size_t outlen)
{
	EVP_KDF *kdf = EVP_KDF_fetch(NULL, "HKDF", NULL);
	if (!kdf)
		return -1;
	EVP_KDF_CTX *kctx = EVP_KDF_CTX_new(kdf);
	EVP_KDF_free(kdf);
	if (!kctx)
		return -1;
	OSSL_PARAM params[] = {
		OSSL_PARAM_construct_utf8_string(OSSL_KDF_PARAM_DIGEST, "SHA256", 0),
		OSSL_PARAM_construct_octet_string(OSSL_KDF_PARAM_KEY, (void *)master, EMBARK_MASTER_KEY_LEN),
		OSSL_PARAM_construct_octet_string(OSSL_KDF_PARAM_INFO, (void *)label, strlen(label)),
		OSSL_PARAM_construct_octet_string(OSSL_KDF_PARAM_SALT, "embark-v1", 9),
		OSSL_PARAM_construct_end(),
	};
	int rc = EVP_KDF_derive(kctx, out, outlen, params) == 1 ? 0 : -1;
	EVP_KDF_CTX_free(kctx);
	return rc;
}

embark_keys *embark_keys_from_master(const uint8_t master[EMBARK_MASTER_KEY_LEN])
{
	embark_keys *k = OPENSSL_secure_zalloc(sizeof *k);
	if (!k)
		k = OPENSSL_zalloc(sizeof *k);
	if (!k)
		return NULL;
	memcpy(k->master, master, EMBARK_MASTER_KEY_LEN);
	if (derive(master, "prefix", k->prefix, 16) || derive(master, "seed", k->seed, 16) ||
	    derive(master, "suffix", k->suffix, 16) || derive(master, "option-siv", k->opt, 32) ||
	    derive(master, "pool", k->pool, 16) || derive(master, "keyword", k->kw, 16) ||
	    derive(master, "uri", k->uri, 32) || derive(master, "content", k->content, 32) ||
	    derive(master, "frame", k->frame, 16)) {
		embark_keys_free(k);
		return NULL;
	}
	return k;
}

void embark_keys_free(embark_keys *k)
{
	if (!k)
		return;
	OPENSSL_cleanse(k, sizeof *k);
	if (CRYPTO_secure_allocated(k))
		OPENSSL_secure_free(k);
	else
		OPENSSL_free(k);
}

static int hexval(int c)
{
	if (c >= '0' && c <= '9')
		return c - '0';
	if (c >= 'a' && c <= 'f')
		return c - 'a' + 10;
	if (c >= 'A' && c <= 'F')
		return c - 'A' + 10;
	return -1;
}

embark_keys *embark_keys_load(const char *path, char *err, size_t errlen)
{
	int fd = open(path, O_RDONLY | O_NOFOLLOW | O_CLOEXEC);
	if (fd < 0) {
		snprintf(err, errlen, "%s: cannot open key file: %s", path, strerror(errno));
		return NULL;
	}
	struct stat st;
	if (fstat(fd, &st) != 0 || !S_ISREG(st.st_mode)) {
		snprintf(err, errlen, "%s: not a regular file", path);
		close(fd);
		return NULL;
	}
	if (st.st_mode & (S_IRWXG | S_IRWXO)) {
		snprintf(err, errlen, "%s: key file has mode %04o; it must be 0600 (chmod 600 %s)", path,
			 (unsigned)(st.st_mode & 07777), path);
		close(fd);
		return NULL;
	}
	char buf[2 * EMBARK_MASTER_KEY_LEN + 8];
	ssize_t got = read(fd, buf, sizeof buf);
	close(fd);
	uint8_t master[EMBARK_MASTER_KEY_LEN];
	embark_keys *k = NULL;
	size_t n = got > 0 ? (size_t)got : 0;
	while (n > 0 && (buf[n - 1] == '\n' || buf[n - 1] == '\r'))
		n--;
	if (n != 2 * EMBARK_MASTER_KEY_LEN) {
		snprintf(err, errlen, "%s: not an Embark key file (expected 64 hex digits)", path);
		goto out;
	}
	for (size_t i = 0; i < EMBARK_MASTER_KEY_LEN; i++) {
		int hi = hexval(buf[2 * i]), lo = hexval(buf[2 * i + 1]);
		if (hi < 0 || lo < 0) {
			snprintf(err, errlen, "%s: not an Embark key file (non-hex character)", path);
			goto out;
		}
		master[i] = (uint8_t)(hi << 4 | lo);
	}
	k = embark_keys_from_master(master);
	if (!k)
		snprintf(err, errlen, "%s: key derivation failed", path);
out:
	OPENSSL_cleanse(buf, sizeof buf);
	OPENSSL_cleanse(master, sizeof master);
	return k;
}

int embark_keygen_file(const char *path, char *err, size_t errlen)
{
	uint8_t master[EMBARK_MASTER_KEY_LEN];
	char hex[2 * EMBARK_MASTER_KEY_LEN + 1];
	if (RAND_priv_bytes(master, sizeof master) != 1) {
		snprintf(err, errlen, "random number generator failed");
		return -1;
	}
	static const char digits[] = "0123456789abcdef";
	for (size_t i = 0; i < sizeof master; i++) {
		hex[2 * i] = digits[master[i] >> 4];
		hex[2 * i + 1] = digits[master[i] & 15];
	}
	hex[sizeof hex - 1] = '\n';
	int rc = -1;
	/* O_EXCL: never overwrite a key (it would orphan everything encrypted with it). */
	int fd = open(path, O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC, 0600);
	if (fd < 0) {
		snprintf(err, errlen, "%s: cannot create key file: %s", path, strerror(errno));
		goto out;
	}
	if (fchmod(fd, 0600) != 0 || write(fd, hex, sizeof hex) != (ssize_t)sizeof hex || fsync(fd) != 0) {
		snprintf(err, errlen, "%s: cannot write key file: %s", path, strerror(errno));
		close(fd);
		unlink(path);
		goto out;
	}
	close(fd);
	rc = 0;
out:
	OPENSSL_cleanse(master, sizeof master);
	OPENSSL_cleanse(hex, sizeof hex);
	return rc;
}
