/* SPDX-License-Identifier: BSD-3-Clause */
/* libFuzzer target: e2nf-vpn's SA configuration of any shape parses or is refused with
 * "origin:LINE: what" (or "origin: what" for the whole file), and a parsed one printed
 * and parsed again prints the same; no key path escapes the configuration's directory
 * unless written absolute. */
#include "e2/fuzz.h"

#include <stdlib.h>
#include <string.h>

#include "../nfs/vpn_conf.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	static struct vpn_conf c, again;
	static char printed[VPN_SA_MAX * 8300], printed2[VPN_SA_MAX * 8300];
	struct e2_err err;

	if (vpn_conf_parse((const char *)data, size, "f.conf", "/d", &c, &err)) {
		if (strncmp(err.msg, "f.conf:", 7) && strncmp(err.msg, "f.conf: ", 8))
			abort();
		return 0;
	}
	for (unsigned i = 0; i < c.n_sa; i++) {
		if (c.sa[i].spi < 256 || c.sa[i].window < 1 || c.sa[i].window > 1024 || !c.sa[i].key_path[0])
			abort();
		if ((c.sa[i].net & ~c.sa[i].mask) != 0)
			abort();
	}
	vpn_conf_print(&c, printed, sizeof(printed));
	if (vpn_conf_parse(printed, strlen(printed), "p", NULL, &again, &err))
		abort();
	vpn_conf_print(&again, printed2, sizeof(printed2));
	if (strcmp(printed, printed2) || again.n_sa != c.n_sa)
		abort();
	return 0;
}
