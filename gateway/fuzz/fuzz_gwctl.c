/* SPDX-License-Identifier: BSD-3-Clause */
/* libFuzzer: embark-gw's control requests. Any bytes get a response that decodes, of the
 * current version; a refused request leaves the current epoch where it was. The requests
 * name files in a scratch directory made at start (rules, bad rules, keys of mode 0600 and
 * 0644); inputs naming paths with a '/' are skipped, so that no other file is read. */
#include "e2/fuzz.h"
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "e2/log.h"
#include "embark_gw.pb-c.h"
#include "gwctl.h"

static struct gwc *core;
static struct gwctl *ctl;
static uint64_t now = 1;

static char dir[] = "/tmp/fuzz_gwctl.XXXXXX";
static const char *const names[] = {"r1", "r2", "bad", "p1", "k", "k644"};

static void remove_dir(void)
{
	for (size_t i = 0; i < sizeof names / sizeof *names; i++)
		unlink(names[i]);
	rmdir(dir);
}

static void put(const char *name, const char *text, mode_t mode)
{
	FILE *f = fopen(name, "w");
	if (!f)
		abort();
	fputs(text, f);
	fclose(f);
	chmod(name, mode);
}

int LLVMFuzzerInitialize(int *argc, char ***argv)
{
	(void)argc;
	(void)argv;
	if (!mkdtemp(dir) || chdir(dir) != 0)
		abort();
	atexit(remove_dir);
	put("r1", "deny id=a proto=tcp dst=10.0.0.0/8 dport=22\naccept id=b dst=10.1.0.0/16\n", 0600);
	put("r2", "deny id=c sport=100-200\n", 0600);
	put("bad", "accept src=1.2.3.4/24\n", 0600);
	put("p1", "pool nat 198.51.100.0/30\n", 0600);
	put("k", "00112233445566778899aabbccddeeff00112233445566778899aabbccddeeff\n", 0600);
	put("k644", "00112233445566778899aabbccddeeff00112233445566778899aabbccddeeff\n", 0644);
	e2_log_set("off", NULL);
	uint8_t m[EMBARK_MASTER_KEY_LEN] = {1, 2, 3};
	embark_keys *keys = embark_keys_from_master(m);
	embark_config cfg;
	struct gwc_config gcfg;
	struct e2_err err;
	embark_config_default(&cfg);
	gwc_config_default(&gcfg);
	gcfg.flows = 64;
	core = gwc_new(&gcfg, gwc_epoch_new(1, embark_keys_from_master(m), NULL, NULL, &cfg, &err), NULL, NULL, &err);
	ctl = core ? gwctl_new(core, keys, NULL, NULL, &cfg, 1, 0) : NULL;
	embark_keys_free(keys);
	if (!ctl)
		abort();
	return 0;
}

static bool local(const char *path)
{
	return !path || !strchr(path, '/');
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	E2__Embark__Request *rq = e2__embark__request__unpack(NULL, size, data);
	bool skip = rq && ((rq->op_case == E2__EMBARK__REQUEST__OP_RULES &&
			    (!local(rq->rules->rules_path) || !local(rq->rules->pools_path))) ||
			   (rq->op_case == E2__EMBARK__REQUEST__OP_KEY && !local(rq->key->key_path)));
	e2__embark__request__free_unpacked(rq, NULL);
	if (skip)
		return 0;
	uint32_t before = gwc_current(core);
	uint8_t *out;
	size_t len;
	gwctl_handle(ctl, data, size, &out, &len);
	E2__Embark__Response *r = e2__embark__response__unpack(NULL, len, out);
	if (!r || r->version != E2__EMBARK__VERSION__VERSION_CURRENT)
		abort();
	gwc_poll(core, now++);
	if (r->code && gwc_current(core) != before)
		abort(); /* refused, yet switched */
	e2__embark__response__free_unpacked(r, NULL);
	free(out);
	return 0;
}
