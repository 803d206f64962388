/* SPDX-License-Identifier: BSD-3-Clause */
/* e2nf-vpn's SA configuration and key files (vpn_conf.h). */
#include "vpn_conf.h"

#include <arpa/inet.h>
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "e2/lines.h"
#include "e2/num.h"

static int parse_addr(const char *s, uint32_t *out)
{
	struct in_addr a;
	if (inet_pton(AF_INET, s, &a) != 1)
		return -1;
	*out = a.s_addr;
	return 0;
}

static int parse_net(const char *s, uint32_t *net, uint32_t *mask, uint8_t *plen_out)
{
	char addr[32];
	const char *slash = strchr(s, '/');
	uint32_t plen = 32, a;

	if (!slash || (size_t)(slash - s) >= sizeof(addr))
		return -1;
	snprintf(addr, sizeof(addr), "%.*s", (int)(slash - s), s);
	if (parse_addr(addr, &a) || e2_num_u32("prefix length", slash + 1, 0, 32, &plen, NULL))
		return -1;
	*mask = htonl(plen ? ~0u << (32 - plen) : 0);
	*net = a & *mask;
	*plen_out = (uint8_t)plen;
	return 0;
}

/* one `sa` line's words after "sa" */
static int parse_sa(char **w, int n, const char *origin, unsigned lineno, const char *dir, struct vpn_sa_conf *sa,
		    struct e2_err *err)
{
	bool have_spi = false, have_peer = false, have_local = false, have_net = false, have_key = false,
	     have_window = false;

	if (n < 1 || (strcmp(w[0], "out") && strcmp(w[0], "in"))) {
		e2_seterr(err, "%s:%u: 'sa' is followed by 'out' or 'in'", origin, lineno);
		return -1;
	}
	*sa = (struct vpn_sa_conf){.dir = strcmp(w[0], "out") ? VPN_IN : VPN_OUT, .window = 64, .line = lineno};
	for (int i = 1; i < n; i++) {
		char *eq = strchr(w[i], '=');
		if (!eq) {
			e2_seterr(err, "%s:%u: expected KEY=VALUE, not '%.40s'", origin, lineno, w[i]);
			return -1;
		}
		*eq = '\0';
		const char *k = w[i], *v = eq + 1;
		bool *seen = NULL;
		int bad = 0;
		if (!strcmp(k, "spi")) {
			uint64_t spi;
			/* SPIs 1..255 are reserved by IANA (RFC 4303 §2.1) */
			bad = e2_num_u64("spi", v, 256, UINT32_MAX, &spi, err);
			sa->spi = (uint32_t)spi;
			seen = &have_spi;
		} else if (!strcmp(k, "peer") || !strcmp(k, "local")) {
			if (parse_addr(v, k[0] == 'p' ? &sa->peer : &sa->local)) {
				e2_seterr(err, "%s:%u: %s: '%.60s' is not an IPv4 address", origin, lineno, k, v);
				return -1;
			}
			seen = k[0] == 'p' ? &have_peer : &have_local;
		} else if ((!strcmp(k, "dst") && sa->dir == VPN_OUT) || (!strcmp(k, "src") && sa->dir == VPN_IN)) {
			if (parse_net(v, &sa->net, &sa->mask, &sa->prefix_len)) {
				e2_seterr(err, "%s:%u: %s: '%.60s' is not an IPv4 network (A.B.C.D/LEN)", origin,
					  lineno, k, v);
				return -1;
			}
			seen = &have_net;
		} else if (!strcmp(k, "window") && sa->dir == VPN_IN) {
			bad = e2_num_u32("window", v, 1, 1024, &sa->window, err);
			seen = &have_window;
		} else if (!strcmp(k, "key")) {
			if (v[0] != '@' || !v[1]) {
				/* keys stay out of configurations, which get copied, printed and logged */
				e2_seterr(err, "%s:%u: key takes @FILE (a file of mode 0600 holding the key in hex)",
					  origin, lineno);
				return -1;
			}
			int r = (v[1] == '/' || !dir)
					? snprintf(sa->key_path, sizeof(sa->key_path), "%s", v + 1)
					: snprintf(sa->key_path, sizeof(sa->key_path), "%s/%s", dir, v + 1);
			if (r < 0 || (size_t)r >= sizeof(sa->key_path)) {
				e2_seterr(err, "%s:%u: key file path too long", origin, lineno);
				return -1;
			}
			seen = &have_key;
		} else {
			e2_seterr(err, "%s:%u: sa %s takes spi=, peer=, local=, %s key=@FILE, not '%.40s='", origin,
				  lineno, w[0], sa->dir == VPN_OUT ? "dst=," : "[src=,] [window=,]", k);
			return -1;
		}
		if (bad) {
			e2_err_context(err, "%s:%u", origin, lineno);
			return -1;
		}
		if (*seen) {
			e2_seterr(err, "%s:%u: %s= given twice", origin, lineno, k);
			return -1;
		}
		*seen = true;
	}
	const char *missing = !have_spi                           ? "spi="
			      : !have_peer                        ? "peer="
			      : !have_local                       ? "local="
			      : !have_key                         ? "key=@FILE"
			      : (!have_net && sa->dir == VPN_OUT) ? "dst=NET/LEN"
								  : NULL;
	if (missing) {
		e2_seterr(err, "%s:%u: sa %s needs %s", origin, lineno, w[0], missing);
		return -1;
	}
	if (!have_net) { /* an inbound SA checks no inner source unless told */
		sa->net = sa->mask = 0;
		sa->prefix_len = 0;
	}
	return 0;
}

int vpn_conf_parse(const char *text, size_t len, const char *origin, const char *dir, struct vpn_conf *c,
		   struct e2_err *err)
{

	memset(c, 0, sizeof(*c));
	c->non_ip_pass = true;
	struct e2_line_iter it;
	if (e2_line_iter_init(&it, text, len, origin, err))
		return -1;
	for (int more; (more = e2_line_iter_next(&it, 16, err)) != 0;) {
		if (more < 0)
			return -1;
		char **w = it.w;
		int n = it.n;
		unsigned lineno = it.lineno;

		if (!strcmp(w[0], "sa")) {
			if (c->n_sa == VPN_SA_MAX) {
				e2_seterr(err, "%s:%u: more than %u SAs", origin, lineno, VPN_SA_MAX);
				return -1;
			}
			struct vpn_sa_conf *sa = &c->sa[c->n_sa];
			if (parse_sa(w + 1, n - 1, origin, lineno, dir, sa, err))
				return -1;
			for (unsigned i = 0; i < c->n_sa; i++) {
				const struct vpn_sa_conf *o = &c->sa[i];
				if (o->dir == sa->dir && o->spi == sa->spi &&
				    (sa->dir == VPN_OUT || o->local == sa->local)) {
					e2_seterr(err, "%s:%u: SPI %u is already used by the SA of line %u", origin,
						  lineno, sa->spi, o->line);
					return -1;
				}
				if (sa->dir == VPN_OUT && o->dir == VPN_OUT && o->net == sa->net &&
				    o->prefix_len == sa->prefix_len) {
					e2_seterr(err, "%s:%u: dst %s/%u is already the selector of line %u", origin,
						  lineno, inet_ntoa((struct in_addr){sa->net}), sa->prefix_len,
						  o->line);
					return -1;
				}
			}
			c->n_sa++;
		} else if ((!strcmp(w[0], "unprotected") || !strcmp(w[0], "non-ip")) && n == 2 &&
			   (!strcmp(w[1], "pass") || !strcmp(w[1], "drop"))) {
			*(w[0][0] == 'u' ? &c->unprotected_pass : &c->non_ip_pass) = !strcmp(w[1], "pass");
		} else {
			e2_seterr(err,
				  "%s:%u: expected 'sa out|in KEY=VALUE...', 'unprotected drop|pass' or "
				  "'non-ip pass|drop', not '%.40s'%s",
				  origin, lineno, w[0], n > 1 ? " ..." : "");
			return -1;
		}
	}
	if (c->n_sa == 0) {
		e2_seterr(err, "%s: no 'sa' line (nothing to protect)", origin);
		return -1;
	}
	return 0;
}

void vpn_conf_print(const struct vpn_conf *c, char *buf, size_t len)
{
	size_t off = 0;
#define PUT(...)                                                                    \
	do {                                                                        \
		if (off < len)                                                      \
			off += (size_t)snprintf(buf + off, len - off, __VA_ARGS__); \
	} while (0)
	if (len)
		buf[0] = '\0';
	for (unsigned i = 0; i < c->n_sa; i++) {
		const struct vpn_sa_conf *sa = &c->sa[i];
		char peer[16], local[16], net[16];
		inet_ntop(AF_INET, &sa->peer, peer, sizeof(peer));
		inet_ntop(AF_INET, &sa->local, local, sizeof(local));
		inet_ntop(AF_INET, &sa->net, net, sizeof(net));
		if (sa->dir == VPN_OUT)
			PUT("sa out spi=%u peer=%s local=%s dst=%s/%u key=@%s\n", sa->spi, peer, local, net,
			    sa->prefix_len, sa->key_path);
		else
			PUT("sa in spi=%u peer=%s local=%s src=%s/%u window=%u key=@%s\n", sa->spi, peer, local, net,
			    sa->prefix_len, sa->window, sa->key_path);
	}
	PUT("unprotected %s\nnon-ip %s\n", c->unprotected_pass ? "pass" : "drop", c->non_ip_pass ? "pass" : "drop");
#undef PUT
}

static int hexval(char ch)
{
	if (ch >= '0' && ch <= '9')
		return ch - '0';
	if (ch >= 'a' && ch <= 'f')
		return ch - 'a' + 10;
	if (ch >= 'A' && ch <= 'F')
		return ch - 'A' + 10;
	return -1;
}

int vpn_parse_key(const char *text, size_t len, uint8_t key[VPN_KEY_MAX], uint8_t salt[VPN_SALT_LEN])
{
	uint8_t bytes[VPN_KEY_MAX + VPN_SALT_LEN];
	size_t n;

	if (len && text[len - 1] == '\n')
		len--;
	if (len && text[len - 1] == '\r')
		len--;
	if (len != 2 * (16 + VPN_SALT_LEN) && len != 2 * (32 + VPN_SALT_LEN))
		return -1;
	n = len / 2;
	for (size_t i = 0; i < n; i++) {
		int hi = hexval(text[2 * i]), lo = hexval(text[2 * i + 1]);
		if (hi < 0 || lo < 0) {
			memset(bytes, 0, sizeof(bytes));
			return -1;
		}
		bytes[i] = (uint8_t)(hi << 4 | lo);
	}
	memcpy(key, bytes, n - VPN_SALT_LEN);
	memcpy(salt, bytes + n - VPN_SALT_LEN, VPN_SALT_LEN);
	memset(bytes, 0, sizeof(bytes));
	__asm__ __volatile__("" : : "r"(bytes) : "memory"); /* the wipe above is not optimised away */
	return (int)(n - VPN_SALT_LEN);
}

int vpn_load_key(const char *path, uint8_t key[VPN_KEY_MAX], uint8_t salt[VPN_SALT_LEN], struct e2_err *err)
{
	char text[2 * (VPN_KEY_MAX + VPN_SALT_LEN) + 4];
	struct stat st;
	ssize_t got;
	int fd = open(path, O_RDONLY | O_NOFOLLOW | O_CLOEXEC);

	if (fd < 0) {
		e2_seterr(err, "key file %s: %s", path, strerror(errno));
		return -1;
	}
	if (fstat(fd, &st) || !S_ISREG(st.st_mode)) {
		e2_seterr(err, "key file %s: not a regular file", path);
		close(fd);
		return -1;
	}
	if (st.st_mode & 077) {
		e2_seterr(err, "key file %s: mode %04o lets others read it; chmod 600 it", path,
			  (unsigned)(st.st_mode & 07777));
		close(fd);
		return -1;
	}
	got = read(fd, text, sizeof(text));
	close(fd);
	int r = got < 0 ? -1 : vpn_parse_key(text, (size_t)got, key, salt);
	memset(text, 0, sizeof(text));
	__asm__ __volatile__("" : : "r"(text) : "memory");
	if (r < 0) {
		e2_seterr(err,
			  "key file %s: expected 40 or 72 hex digits (an AES-128 or AES-256 key, then a 4-byte salt)",
			  path);
		return -1;
	}
	return r;
}
