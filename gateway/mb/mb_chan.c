/* SPDX-License-Identifier: BSD-3-Clause */
/* The extension channel live (mb_chan.h). */
#include "mb_chan.h"

#include <errno.h>
#include <stdlib.h>
#include <string.h>

#include "e2/chan.h"

struct mb_chan {
	struct e2_chan *sub;
	struct ext_codec *codec;
};

struct mb_chan *mb_chan_open(const char *const *urls, size_t n, const char *key_path, struct e2_err *err)
{
	struct e2_chan_key key, *k = NULL;
	if (key_path) {
		if (e2_chan_key_load(key_path, &key, err) != 0)
			return NULL;
		k = &key;
	}
	struct mb_chan *c = calloc(1, sizeof(*c));
	if (c && (c->codec = ext_codec_new()))
		ext_codec_wire_only(c->codec); /* as the runner's: see mb_nf.c */
	if (!c || !c->codec) {
		if (k)
			memset(&key, 0, sizeof(key));
		mb_chan_close(c);
		e2_seterr(err, "no memory");
		return NULL;
	}
	c->sub = e2_chan_new(E2_CHAN_SUB, "embark-mb", k, err);
	if (k)
		memset(&key, 0, sizeof(key));
	for (size_t i = 0; c->sub && i < n; i++)
		if (e2_chan_connect(c->sub, urls[i], err) != 0) {
			e2_err_context(err, "%s", urls[i]);
			mb_chan_close(c);
			return NULL;
		}
	if (!c->sub) {
		mb_chan_close(c);
		return NULL;
	}
	return c;
}

size_t mb_chan_drain(struct mb_chan *c, void (*fn)(void *ctx, struct mb_ext *x), void *ctx, uint64_t *refused)
{
	size_t n = 0;
	/* bounded, so that a flood on the channel cannot starve the packets */
	for (int i = 0; i < 256; i++) {
		void *body;
		size_t len;
		char sender[E2_CHAN_SENDER_MAX + 1];
		struct e2_err err;
		if (e2_chan_recv(c->sub, &body, &len, sender, 0, &err) != 0)
			break;
		struct mb_ext x;
		if (mb_ext_decode(c->codec, body, len, &x, &err) != 0) {
			(*refused)++;
		} else {
			fn(ctx, &x);
			n++;
		}
		free(body);
	}
	return n;
}

void mb_chan_close(struct mb_chan *c)
{
	if (!c)
		return;
	e2_chan_close(c->sub);
	ext_codec_free(c->codec);
	free(c);
}
