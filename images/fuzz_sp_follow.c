/* SPDX-License-Identifier: BSD-3-Clause */
/* Any host bytes, cut anywhere: the follower never passes a byte without a connection a
 * greeting opened, and passes exactly the bytes it was given (in order, none twice). */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include <e2/fuzz.h>

#include "sp_follow.h"

struct check {
	const uint8_t *in;
	size_t in_len;
	size_t pos; /* bytes passed so far must be a subsequence at increasing offsets */
	int open;
};

static void check_event(void *ctx, enum sp_event ev, const uint8_t *data, size_t n)
{
	struct check *c = ctx;
	switch (ev) {
	case SP_NEW_CLIENT: c->open = 1; break;
	case SP_BAD:
		if (!data)
			abort();
		c->open = 0;
		break;
	case SP_PASS:
		if (!c->open || n == 0)
			abort();
		/* the greeting is passed from the follower's own copy: find it in the input */
		for (; c->pos + n <= c->in_len; c->pos++)
			if (!memcmp(c->in + c->pos, data, n))
				break;
		if (c->pos + n > c->in_len)
			abort();
		c->pos += n;
		break;
	}
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	if (size < 1)
		return 0;
	size_t cut = data[0] % size;
	data++;
	size--;
	if (cut > size)
		cut = size;
	struct check c = {.in = data, .in_len = size};
	struct sp_follow f;
	sp_follow_init(&f);
	sp_follow_feed(&f, data, cut, check_event, &c);
	sp_follow_feed(&f, data + cut, size - cut, check_event, &c);
	return 0;
}
