/* SPDX-License-Identifier: BSD-3-Clause */
#include "sp_follow.h"

#include <string.h>

static const uint8_t magic[4] = {0, 'S', 'P', 0};

enum { SP_MSG_NORMAL = 1 };

void sp_follow_init(struct sp_follow *f)
{
	memset(f, 0, sizeof(*f));
	f->state = SP_GREETING;
}

static void start_junk(struct sp_follow *f, const char *why, sp_event_fn *fn, void *ctx)
{
	f->state = SP_JUNK;
	f->got = 0;
	fn(ctx, SP_BAD, (const uint8_t *)why, 0);
}

void sp_follow_feed(struct sp_follow *f, const uint8_t *buf, size_t n, sp_event_fn *fn, void *ctx)
{
	size_t i = 0;
	while (i < n) {
		uint8_t b = buf[i];
		switch (f->state) {
		case SP_GREETING:
			/* held back until whole: the NF connection opens only for a real greeting */
			if (f->got < sizeof(magic) && b != magic[f->got]) {
				start_junk(f, "not a nanomsg greeting", fn, ctx);
				break; /* the byte may start a greeting: look at it again */
			}
			f->part[f->got++] = b;
			i++;
			if (f->got == 8) {
				f->clients++;
				fn(ctx, SP_NEW_CLIENT, NULL, 0);
				fn(ctx, SP_PASS, f->part, 8);
				f->state = SP_TYPE;
			}
			break;
		case SP_TYPE:
			if (b == magic[0]) { /* a greeting: a new client */
				f->state = SP_GREETING;
				f->got = 0;
				break;
			}
			if (b != SP_MSG_NORMAL) {
				i++;
				start_junk(f, "unknown nanomsg message type", fn, ctx);
				break;
			}
			fn(ctx, SP_PASS, &buf[i++], 1);
			f->state = SP_LENGTH;
			f->got = 0;
			break;
		case SP_LENGTH: {
			size_t take = n - i < 8 - f->got ? n - i : 8 - f->got;
			fn(ctx, SP_PASS, &buf[i], take);
			memcpy(f->part + f->got, &buf[i], take);
			f->got += (unsigned)take;
			i += take;
			if (f->got == 8) {
				f->left = 0;
				for (int k = 0; k < 8; k++)
					f->left = f->left << 8 | f->part[k];
				f->state = f->left ? SP_BODY : SP_TYPE;
				f->messages += !f->left;
			}
			break;
		}
		case SP_BODY: {
			size_t take = (uint64_t)(n - i) < f->left ? n - i : (size_t)f->left;
			fn(ctx, SP_PASS, &buf[i], take);
			i += take;
			f->left -= take;
			if (!f->left) {
				f->state = SP_TYPE;
				f->messages++;
			}
			break;
		}
		case SP_JUNK:
			if (b == magic[f->got]) {
				f->got++;
			} else {
				f->got = b == magic[0] ? 1 : 0;
			}
			i++;
			if (f->got == sizeof(magic)) {
				memcpy(f->part, magic, sizeof(magic));
				f->state = SP_GREETING;
			}
			break;
		}
	}
}
