/* SPDX-License-Identifier: BSD-3-Clause */
/* embark-gw's control requests: decode, act on the epochs, encode the answer. */
#include "gwctl.h"

#include <errno.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "e2/log.h"
#include "embark_gw.pb-c.h"
#include "internal.h" /* embark_store_u128 */

E2_LOG_MODULE(embarkctl);

struct gwctl {
	struct gwc *core;
	embark_config cfg;
	int wait_ms;
	uint32_t next_epoch;
	/* what the current epoch was built from */
	embark_keys *keys;
	embark_ruleset rules;
	embark_poolset pools;
	/* a prepared epoch waiting for Activate, and what it was built from */
	uint32_t prepared; /* its id, 0 = none; the epoch itself is the core's */
	embark_keys *p_keys;
	embark_ruleset p_rules;
	embark_poolset p_pools;
};

static int copy_rules(embark_ruleset *dst, const embark_ruleset *src)
{
	*dst = (embark_ruleset){0};
	if (!src || !src->n)
		return 0;
	dst->v = malloc(src->n * sizeof *src->v);
	if (!dst->v)
		return -1;
	memcpy(dst->v, src->v, src->n * sizeof *src->v);
	dst->n = src->n;
	return 0;
}

static int copy_pools(embark_poolset *dst, const embark_poolset *src)
{
	*dst = (embark_poolset){0};
	if (!src || !src->n)
		return 0;
	dst->v = malloc(src->n * sizeof *src->v);
	if (!dst->v)
		return -1;
	memcpy(dst->v, src->v, src->n * sizeof *src->v);
	dst->n = src->n;
	return 0;
}

static embark_keys *copy_keys(const embark_keys *k)
{
	return gwc_keys_copy(k);
}

struct gwctl *gwctl_new(struct gwc *core, const embark_keys *keys, const embark_ruleset *rules,
			const embark_poolset *pools, const embark_config *cfg, uint32_t first_epoch, int wait_ms)
{
	struct gwctl *ctl = calloc(1, sizeof *ctl);
	if (!ctl)
		return NULL;
	ctl->core = core;
	ctl->cfg = *cfg;
	ctl->wait_ms = wait_ms;
	ctl->next_epoch = first_epoch + 1;
	ctl->keys = copy_keys(keys);
	if (!ctl->keys || copy_rules(&ctl->rules, rules) || copy_pools(&ctl->pools, pools)) {
		gwctl_free(ctl);
		return NULL;
	}
	return ctl;
}

static void drop_prepared(struct gwctl *ctl)
{
	ctl->prepared = 0;
	embark_keys_free(ctl->p_keys);
	ctl->p_keys = NULL;
	embark_ruleset_free(&ctl->p_rules);
	embark_poolset_free(&ctl->p_pools);
}

void gwctl_free(struct gwctl *ctl)
{
	if (!ctl)
		return;
	drop_prepared(ctl);
	embark_keys_free(ctl->keys);
	embark_ruleset_free(&ctl->rules);
	embark_poolset_free(&ctl->pools);
	free(ctl);
}

struct answer {
	E2__Embark__Response r;
	char error[E2_ERR_MSG_MAX];
	char *enc_rules;
	embark_u128 *pools;
	size_t *pool_of;
	char **pool_names; /* into the epoch's pool set, which outlives the answer */
	size_t npools;
	ProtobufCBinaryData *pool_bins;
	uint8_t (*pool_bytes)[16];
	E2__Embark__EpochInfo ep[GWC_EPOCH_SLOTS], *epp[GWC_EPOCH_SLOTS];
	E2__Embark__Counter cnt[GWC_COUNTERS + 2 * EMBARK_E_COUNT + 1], *cntp[GWC_COUNTERS + 2 * EMBARK_E_COUNT + 1];
	char names[2 * EMBARK_E_COUNT][48];
};

static void refuse(struct answer *a, int code, const struct e2_err *err)
{
	a->r.code = code;
	snprintf(a->error, sizeof a->error, "%s", err->msg);
	a->r.error = a->error;
}

static void status(struct gwctl *ctl, struct answer *a)
{
	struct gwc_stats *s = gwc_stats(ctl->core);
	a->r.epoch = __atomic_load_n(&s->current_epoch, __ATOMIC_RELAXED);
	static const char *const states[] = {"free", "prepared", "current", "draining", "retired"};
	size_t n = 0;
	for (size_t i = 0; i < GWC_EPOCH_SLOTS; i++) {
		struct gwc_epoch_stats *es = &s->ep[i];
		uint32_t id = __atomic_load_n(&es->id, __ATOMIC_RELAXED);
		int st = __atomic_load_n(&es->state, __ATOMIC_RELAXED);
		if (!id || st == GWC_EP_FREE || st > GWC_EP_RETIRED)
			continue;
		E2__Embark__EpochInfo *e = &a->ep[n];
		e2__embark__epoch_info__init(e);
		e->epoch = id;
		e->state = (char *)states[st];
		e->key_id = es->key_id;
		e->rules = __atomic_load_n(&es->rules, __ATOMIC_RELAXED);
		e->encrypted = __atomic_load_n(&es->encrypted, __ATOMIC_RELAXED);
		e->decrypted = __atomic_load_n(&es->decrypted, __ATOMIC_RELAXED);
		e->flows = __atomic_load_n(&es->flows, __ATOMIC_RELAXED);
		a->epp[n] = e;
		n++;
	}
	a->r.n_epochs = n;
	a->r.epochs = a->epp;
	size_t k = 0;
	for (int i = 0; i < GWC_COUNTERS; i++) {
		e2__embark__counter__init(&a->cnt[k]);
		a->cnt[k].name = (char *)gwc_counter_name((enum gwc_counter)i);
		a->cnt[k].value = __atomic_load_n(&s->c[i], __ATOMIC_RELAXED);
		a->cntp[k] = &a->cnt[k];
		k++;
	}
	static const char *const errs[EMBARK_E_COUNT] = {
		[EMBARK_E_MALFORMED] = "malformed", [EMBARK_E_TRUNCATED] = "truncated",
		[EMBARK_E_FRAGMENT] = "fragment",   [EMBARK_E_UNSUPPORTED] = "unsupported",
		[EMBARK_E_TOO_BIG] = "too_big",     [EMBARK_E_NO_OPTION] = "no_option",
		[EMBARK_E_TAMPERED] = "tampered",   [EMBARK_E_REWRITTEN] = "rewritten",
		[EMBARK_E_CRYPTO] = "crypto",       [EMBARK_E_CONTENT] = "content",
	};
	for (int i = 1; i < EMBARK_E_COUNT; i++)
		for (int dir = 0; dir < 2; dir++) {
			char *nm = a->names[2 * i + dir];
			snprintf(nm, sizeof a->names[0], "%s_%s", dir ? "decrypt" : "encrypt",
				 errs[i] ? errs[i] : "other");
			e2__embark__counter__init(&a->cnt[k]);
			a->cnt[k].name = nm;
			a->cnt[k].value = __atomic_load_n(dir ? &s->dec_err[i] : &s->enc_err[i], __ATOMIC_RELAXED);
			a->cntp[k] = &a->cnt[k];
			k++;
		}
	e2__embark__counter__init(&a->cnt[k]);
	a->cnt[k].name = "flows_active";
	a->cnt[k].value = __atomic_load_n(&s->flows_active, __ATOMIC_RELAXED);
	a->cntp[k] = &a->cnt[k];
	k++;
	a->r.n_counters = k;
	a->r.counters = a->cntp;
}

static void sleep_ms(int ms)
{
	struct timespec ts = {.tv_sec = ms / 1000, .tv_nsec = (long)(ms % 1000) * 1000000L};
	nanosleep(&ts, NULL);
}

/* Waits up to wait_ms for done(c) (not at all when wait_ms is 0). */
static bool wait_for(struct gwctl *ctl, bool (*done)(struct gwctl *ctl, uint32_t id), uint32_t id)
{
	for (int waited = 0; ctl->wait_ms > 0 && !done(ctl, id); waited++) {
		if (waited >= ctl->wait_ms)
			return false;
		sleep_ms(1);
	}
	return true;
}

static bool offer_taken(struct gwctl *ctl, uint32_t id)
{
	(void)id;
	return gwc_offer_taken(ctl->core);
}

static bool is_current(struct gwctl *ctl, uint32_t id)
{
	return gwc_current(ctl->core) == id;
}

/* Makes the prepared epoch current; what it was built from becomes the base of the next
 * update. */
static int activate(struct gwctl *ctl, struct e2_err *err)
{
	uint32_t id = ctl->prepared;
	if (!gwc_promote(ctl->core, id)) {
		e2_seterr(err, "another switch is still pending; try again");
		return EBUSY;
	}
	if (!wait_for(ctl, is_current, id)) {
		e2_seterr(err, "the packet worker has not switched to epoch %u within %d ms", id, ctl->wait_ms);
		return ETIMEDOUT;
	}
	E2_INFO("epoch %u: current", id);
	ctl->prepared = 0;
	embark_keys_free(ctl->keys);
	embark_ruleset_free(&ctl->rules);
	embark_poolset_free(&ctl->pools);
	ctl->keys = ctl->p_keys;
	ctl->rules = ctl->p_rules;
	ctl->pools = ctl->p_pools;
	ctl->p_keys = NULL;
	ctl->p_rules = (embark_ruleset){0};
	ctl->p_pools = (embark_poolset){0};
	return 0;
}

/* Builds the next epoch from keys/rules/pools (all taken over, freed on failure), exports
 * its encrypted rules into the answer and hands it to the worker as prepared; activated at
 * once if asked. */
static int build(struct gwctl *ctl, embark_keys *keys, embark_ruleset *rules, embark_poolset *pools, bool now,
		 struct answer *a, struct e2_err *err)
{
	embark_keys *for_epoch = copy_keys(keys);
	int code = EINVAL;
	char *text = NULL;
	size_t tlen = 0;
	uint32_t id = ctl->next_epoch;
	char key_id[GWC_KEY_ID_LEN + 1];
	gwc_key_id(keys, key_id);
	struct gwc_epoch *ep = for_epoch ? gwc_epoch_new(id, for_epoch, rules, pools, &ctl->cfg, err) : NULL;
	if (!for_epoch)
		e2_seterr(err, "out of memory");
	if (!ep || gwc_epoch_export(ep, pools, &text, &tlen, &a->pools, &a->pool_of, &a->npools, err) != 0)
		goto fail;
	a->pool_bins = calloc(a->npools ? a->npools : 1, sizeof *a->pool_bins);
	a->pool_bytes = calloc(a->npools ? a->npools : 1, 16);
	a->pool_names = calloc(a->npools ? a->npools : 1, sizeof *a->pool_names);
	if (!a->pool_bins || !a->pool_bytes || !a->pool_names) {
		e2_seterr(err, "out of memory");
		code = ENOMEM;
		goto fail;
	}
	if (!gwc_offer(ctl->core, ep)) {
		e2_seterr(err, "another switch is still pending; try again");
		code = EBUSY;
		goto fail;
	}
	if (!wait_for(ctl, offer_taken, id)) {
		struct gwc_epoch *back = gwc_withdraw(ctl->core);
		if (back) {
			ep = back;
			e2_seterr(err, "the packet worker did not take epoch %u within %d ms", id, ctl->wait_ms);
			code = ETIMEDOUT;
			goto fail;
		}
	}
	ep = NULL; /* the core's now */
	ctl->next_epoch++;
	drop_prepared(ctl);
	ctl->prepared = id;
	ctl->p_keys = keys;
	ctl->p_rules = *rules;
	ctl->p_pools = *pools;
	a->enc_rules = text;
	a->r.enc_rules = text;
	a->r.epoch = id;
	for (size_t i = 0; i < a->npools; i++) {
		embark_store_u128(a->pool_bytes[i], a->pools[i]);
		a->pool_bins[i] = (ProtobufCBinaryData){.len = 16, .data = a->pool_bytes[i]};
		a->pool_names[i] = ctl->p_pools.v[a->pool_of[i]].name;
	}
	a->r.n_enc_pools = a->npools;
	a->r.enc_pools = a->pool_bins;
	a->r.n_enc_pool_names = a->npools;
	a->r.enc_pool_names = a->pool_names;
	E2_INFO("epoch %u: key %s, %zu rules, %zu pools: prepared", id, key_id, rules->n, pools->n);
	return now ? activate(ctl, err) : 0;
fail:
	free(text);
	gwc_epoch_free(ep);
	embark_keys_free(keys);
	embark_ruleset_free(rules);
	embark_poolset_free(pools);
	return code;
}

static int rule_update(struct gwctl *ctl, const E2__Embark__RuleUpdate *u, struct answer *a, struct e2_err *err)
{
	char msg[512] = "";
	if (!u->rules_path || !*u->rules_path) {
		e2_seterr(err, "rule update: no rules_path");
		return EINVAL;
	}
	if (u->key_id && *u->key_id) {
		char have[GWC_KEY_ID_LEN + 1];
		gwc_key_id(ctl->keys, have);
		if (strcmp(have, u->key_id) != 0) {
			e2_seterr(err, "rule update for key %.32s, but the gateway's key is %s; nothing changed",
				  u->key_id, have);
			return EKEYREJECTED;
		}
	}
	embark_ruleset rules = {0};
	embark_poolset pools = {0};
	int bad = u->inline_ ? embark_rules_parse((const char *)u->rules_text.data, u->rules_text.len, u->rules_path,
						  &rules, msg, sizeof msg)
			     : embark_rules_load(u->rules_path, &rules, msg, sizeof msg);
	if (bad) {
		e2_seterr(err, "%s; nothing changed", msg);
		return EINVAL;
	}
	if (u->pools_path && *u->pools_path) {
		bad = u->inline_ ? embark_pools_parse((const char *)u->pools_text.data, u->pools_text.len,
						      u->pools_path, &pools, msg, sizeof msg)
				 : embark_pools_load(u->pools_path, &pools, msg, sizeof msg);
		if (bad) {
			embark_ruleset_free(&rules);
			e2_seterr(err, "%s; nothing changed", msg);
			return EINVAL;
		}
	} else if (copy_pools(&pools, &ctl->pools) != 0) {
		embark_ruleset_free(&rules);
		e2_seterr(err, "out of memory");
		return ENOMEM;
	}
	embark_keys *keys = copy_keys(ctl->keys);
	if (!keys) {
		embark_ruleset_free(&rules);
		embark_poolset_free(&pools);
		e2_seterr(err, "out of memory");
		return ENOMEM;
	}
	return build(ctl, keys, &rules, &pools, u->activate, a, err);
}

static int key_update(struct gwctl *ctl, const E2__Embark__KeyUpdate *u, struct answer *a, struct e2_err *err)
{
	char msg[512] = "";
	if (!u->key_path || !*u->key_path) {
		e2_seterr(err, "key update: no key_path");
		return EINVAL;
	}
	embark_keys *keys = embark_keys_load(u->key_path, msg, sizeof msg);
	if (!keys) {
		e2_seterr(err, "%s; nothing changed", msg);
		return EINVAL;
	}
	embark_ruleset rules;
	embark_poolset pools;
	if (copy_rules(&rules, &ctl->rules) != 0 || copy_pools(&pools, &ctl->pools) != 0) {
		embark_keys_free(keys);
		e2_seterr(err, "out of memory");
		return ENOMEM;
	}
	return build(ctl, keys, &rules, &pools, u->activate, a, err);
}

void gwctl_handle(struct gwctl *ctl, const uint8_t *req, size_t len, uint8_t **out, size_t *out_len)
{
	struct answer *a = calloc(1, sizeof *a);
	struct e2_err err = {0};
	E2__Embark__Request *rq = e2__embark__request__unpack(NULL, len, req);
	*out = NULL;
	*out_len = 0;
	if (!a) {
		e2__embark__request__free_unpacked(rq, NULL);
		return;
	}
	e2__embark__response__init(&a->r);
	a->r.version = E2__EMBARK__VERSION__VERSION_CURRENT;
	int code = 0;
	if (!rq) {
		e2_seterr(&err, "request does not decode as e2.embark.Request");
		code = EPROTO;
	} else if (rq->version != E2__EMBARK__VERSION__VERSION_CURRENT) {
		e2_seterr(&err, "request version %u, this gateway speaks %u", rq->version,
			  E2__EMBARK__VERSION__VERSION_CURRENT);
		code = EPROTO;
	} else {
		switch (rq->op_case) {
		case E2__EMBARK__REQUEST__OP_STATUS: status(ctl, a); break;
		case E2__EMBARK__REQUEST__OP_RULES: code = rule_update(ctl, rq->rules, a, &err); break;
		case E2__EMBARK__REQUEST__OP_KEY: code = key_update(ctl, rq->key, a, &err); break;
		case E2__EMBARK__REQUEST__OP_ACTIVATE:
			if (!ctl->prepared || ctl->prepared != rq->activate->epoch) {
				e2_seterr(&err, "no prepared epoch %u (prepared: %u)", rq->activate->epoch,
					  ctl->prepared);
				code = ENOENT;
			} else {
				a->r.epoch = rq->activate->epoch;
				code = activate(ctl, &err);
			}
			break;
		default: e2_seterr(&err, "request has no operation (or one this gateway does not know)"); code = EINVAL;
		}
	}
	if (code) {
		refuse(a, code, &err);
		/* a refused update leaves no epoch and no encrypted rules behind in the answer */
		a->r.n_enc_pools = 0;
		a->r.n_enc_pool_names = 0;
		a->r.enc_rules = NULL;
		E2_WARN("refused: %s", err.msg);
	}
	*out_len = e2__embark__response__get_packed_size(&a->r);
	*out = malloc(*out_len ? *out_len : 1);
	if (*out)
		e2__embark__response__pack(&a->r, *out);
	else
		*out_len = 0;
	e2__embark__request__free_unpacked(rq, NULL);
	free(a->enc_rules);
	free(a->pools);
	free(a->pool_of);
	free(a->pool_names);
	free(a->pool_bins);
	free(a->pool_bytes);
	free(a);
}
