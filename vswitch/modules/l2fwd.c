/* SPDX-License-Identifier: BSD-3-Clause */
/* l2fwd: forwards by destination MAC through a static table (rte_hash);
 * misses go to the default gate (or are dropped when it is unconnected). */
#include <stdio.h>
#include <string.h>

#include <rte_errno.h>
#include <rte_ether.h>
#include <rte_hash.h>
#include <rte_hash_crc.h>

#include "../module.h"

struct l2fwd {
	struct rte_hash *table;
	uint16_t default_gate;
	uint32_t n_entries;
};

static const char *const known[] = {"size", "default", NULL};

static int parse_mac(const char *s, uint64_t *key, char *err)
{
	struct rte_ether_addr a;
	if (!s || rte_ether_unformat_addr(s, &a) != 0) {
		snprintf(err, E2_ERR_MAX, "'%s' is not a MAC address (aa:bb:cc:dd:ee:ff)", s ? s : "");
		return -1;
	}
	*key = 0;
	memcpy(key, a.addr_bytes, RTE_ETHER_ADDR_LEN);
	return 0;
}

static int l2fwd_init(struct e2_module *m, const struct e2_args *args, char *err)
{
	struct l2fwd *s = e2_priv(m);
	uint64_t size, def;
	char name[RTE_HASH_NAMESIZE];

	if (e2_args_u64(args, "size", 4096, 16, 1 << 22, &size, err) < 0 ||
	    e2_args_u64(args, "default", E2_GATES_MAX - 1, 0, E2_GATES_MAX - 1, &def, err) < 0)
		return -1;
	snprintf(name, sizeof(name), "l2_%p", (void *)m);
	struct rte_hash_parameters p = {
		.name = name,
		.entries = (uint32_t)size,
		.key_len = sizeof(uint64_t),
		.hash_func = rte_hash_crc,
		.socket_id = SOCKET_ID_ANY,
	};
	s->table = rte_hash_create(&p);
	if (!s->table) {
		snprintf(err, E2_ERR_MAX, "cannot create a MAC table of %llu entries", (unsigned long long)size);
		return -1;
	}
	s->default_gate = (uint16_t)def;
	return 0;
}

static void l2fwd_deinit(struct e2_module *m)
{
	rte_hash_free(((struct l2fwd *)e2_priv(m))->table);
}

static void l2fwd_process(struct e2_ctx *ctx, struct e2_module *m, uint16_t igate, struct e2_batch *b)
{
	struct l2fwd *s = e2_priv(m);
	uint64_t keys[E2_BATCH_MAX];
	const void *kp[E2_BATCH_MAX];
	void *data[E2_BATCH_MAX];
	uint64_t hits = 0;
	uint16_t gates[E2_BATCH_MAX];

	for (uint16_t i = 0; i < b->cnt; i++) {
		const struct rte_ether_hdr *eth = rte_pktmbuf_mtod(b->pkts[i], const struct rte_ether_hdr *);
		keys[i] = 0;
		memcpy(&keys[i], eth->dst_addr.addr_bytes, RTE_ETHER_ADDR_LEN);
		kp[i] = &keys[i];
	}
	rte_hash_lookup_bulk_data(s->table, kp, b->cnt, &hits, data);
	for (uint16_t i = 0; i < b->cnt; i++)
		gates[i] = (hits >> i) & 1 ? (uint16_t)(uintptr_t)data[i] : s->default_gate;
	e2_emit_split(ctx, m, b, gates);
}

static int cmd_add(struct e2_module *m, const struct e2_args *a, struct e2_result *out, char *err)
{
	struct l2fwd *s = e2_priv(m);
	uint64_t key, gate;

	if (parse_mac(e2_args_get(a, "mac"), &key, err) ||
	    e2_args_u64(a, "gate", 0, 0, E2_GATES_MAX - 1, &gate, err) < 0)
		return -1;
	if (!e2_args_get(a, "gate")) {
		snprintf(err, E2_ERR_MAX, "add needs gate=N");
		return -1;
	}
	bool existed = rte_hash_lookup(s->table, &key) >= 0;
	if (rte_hash_add_key_data(s->table, &key, (void *)(uintptr_t)gate) != 0) {
		snprintf(err, E2_ERR_MAX, "MAC table is full");
		return -1;
	}
	if (!existed)
		s->n_entries++;
	return 0;
}

static int cmd_delete(struct e2_module *m, const struct e2_args *a, struct e2_result *out, char *err)
{
	struct l2fwd *s = e2_priv(m);
	uint64_t key;

	if (parse_mac(e2_args_get(a, "mac"), &key, err))
		return -1;
	if (rte_hash_del_key(s->table, &key) < 0) {
		snprintf(err, E2_ERR_MAX, "MAC %s is not in the table", e2_args_get(a, "mac"));
		return -1;
	}
	s->n_entries--;
	return 0;
}

static int cmd_list(struct e2_module *m, const struct e2_args *a, struct e2_result *out, char *err)
{
	struct l2fwd *s = e2_priv(m);
	const void *key;
	void *data;
	uint32_t it = 0;

	while (rte_hash_iterate(s->table, &key, &data, &it) >= 0) {
		const uint8_t *b = key;
		char mac[32];
		snprintf(mac, sizeof(mac), "%02x:%02x:%02x:%02x:%02x:%02x", b[0], b[1], b[2], b[3], b[4], b[5]);
		e2_result_add(out, mac, "%u", (unsigned)(uintptr_t)data);
	}
	return 0;
}

static const struct e2_cmd l2fwd_cmds[] = {
	{.name = "add", .help = "mac=MAC gate=N", .args = E2_ARGS("mac", "gate"), .fn = cmd_add},
	{.name = "delete", .help = "mac=MAC", .args = E2_ARGS("mac"), .fn = cmd_delete},
	{.name = "list", .help = "the table", .args = E2_ARGS_NONE, .fn = cmd_list},
	{0},
};

static void l2fwd_stats(struct e2_module *m, struct e2_result *out)
{
	e2_result_add(out, "entries", "%u", ((struct l2fwd *)e2_priv(m))->n_entries);
}

static const struct e2_module_class l2fwd = {
	.name = "l2fwd",
	.help = "forwards by destination MAC: [size=N] [default=GATE]; commands add/delete/list",
	.igates = 1,
	.ogates = E2_GATES_MAX,
	.priv_size = sizeof(struct l2fwd),
	.args = known,
	.init = l2fwd_init,
	.deinit = l2fwd_deinit,
	.process_batch = l2fwd_process,
	.stats = l2fwd_stats,
	.cmds = l2fwd_cmds,
};
E2_MODULE_REGISTER(l2fwd)
