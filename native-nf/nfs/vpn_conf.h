/* SPDX-License-Identifier: BSD-3-Clause */
/* e2nf-vpn's configuration: security associations, one a line.
 *
 *   sa out spi=N peer=ADDR local=ADDR dst=NET/LEN key=@FILE
 *   sa in  spi=N peer=ADDR local=ADDR [src=NET/LEN] [window=N] key=@FILE
 *   unprotected drop|pass       IPv4 that no SA covers (default drop)
 *   non-ip pass|drop            frames other than IPv4, e.g. ARP (default pass)
 *
 * The parser never opens a key file: it keeps the path (relative to the configuration's
 * directory), and vpn_load_key reads it later, so that parsing can be fuzzed and no key
 * ever sits in a structure that is printed. */
#ifndef E2NF_VPN_CONF_H
#define E2NF_VPN_CONF_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "e2/err.h"

#define VPN_SA_MAX 256
#define VPN_KEY_MAX 32 /* AES-256 */
#define VPN_SALT_LEN 4 /* RFC 4106: the nonce's first four bytes, from the key material */

enum vpn_dir { VPN_OUT, VPN_IN };

struct vpn_sa_conf {
	enum vpn_dir dir;
	uint32_t spi;
	uint32_t peer, local; /* network order: the outer addresses (remote, this end) */
	uint32_t net, mask;   /* network order: dst selector (out) or inner src check (in) */
	uint8_t prefix_len;   /* of net/mask */
	uint32_t window;      /* in: anti-replay window in packets */
	char key_path[4096];  /* as written after '@', resolved against the config's directory */
	unsigned line;
};

struct vpn_conf {
	struct vpn_sa_conf sa[VPN_SA_MAX];
	unsigned n_sa;
	bool unprotected_pass, non_ip_pass;
};

/* Parses len bytes of text (need not end in NUL); errors say "origin:LINE: what". `dir`
 * is the directory relative key paths are taken from (NULL: the current one). */
int vpn_conf_parse(const char *text, size_t len, const char *origin, const char *dir, struct vpn_conf *c,
		   struct e2_err *err);

/* Prints a configuration back in the canonical form parse accepts (no key material:
 * only the key files' paths). */
void vpn_conf_print(const struct vpn_conf *c, char *buf, size_t len);

/* Reads the key material of an SA: a file of mode 0600 or stricter (no group or other
 * bits), a regular file holding 40 or 72 hex digits (AES-128 or AES-256 key followed by
 * the 4-byte salt, RFC 4106), optionally followed by a newline. The bytes are never put
 * in an error message. Returns the key length (16 or 32) with the salt in salt[], or -1. */
int vpn_load_key(const char *path, uint8_t key[VPN_KEY_MAX], uint8_t salt[VPN_SALT_LEN], struct e2_err *err);

/* The same on text already read (the file's content), for tests and the fuzzer. */
int vpn_parse_key(const char *text, size_t len, uint8_t key[VPN_KEY_MAX], uint8_t salt[VPN_SALT_LEN]);

#endif
