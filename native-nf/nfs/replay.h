/* SPDX-License-Identifier: BSD-3-Clause */
/* The inbound anti-replay window of an ESP SA (RFC 4303 §3.4.3, 32-bit sequence numbers,
 * no ESN). The bitmap is a ring of 64-bit words indexed by sequence number, one word more
 * than the window spans, so moving the window forward clears whole words instead of
 * shifting the map; a window of up to 1024 packets costs 17 words. A packet is checked
 * before its ICV and recorded only after it authenticated: a forged sequence number
 * must never move the window. */
#ifndef E2NF_REPLAY_H
#define E2NF_REPLAY_H

#include <stdbool.h>
#include <stdint.h>
#include <string.h>

#define REPLAY_WINDOW_MAX 1024u
#define REPLAY_WORDS 32u /* a power of two >= REPLAY_WINDOW_MAX / 64 + 1 */

struct replay_window {
	uint32_t size; /* packets the window spans, 1..REPLAY_WINDOW_MAX */
	uint32_t top;  /* the highest authenticated sequence number; 0: none yet */
	uint32_t words_mask;
	uint64_t map[REPLAY_WORDS];
};

enum replay_verdict { REPLAY_NEW, REPLAY_SEEN, REPLAY_TOO_OLD, REPLAY_ZERO };

static inline void replay_init(struct replay_window *w, uint32_t size)
{
	uint32_t words = 1;
	memset(w, 0, sizeof(*w));
	w->size = size;
	while (words < size / 64 + 2)
		words <<= 1;
	w->words_mask = words - 1;
}

static inline uint64_t *replay_word(struct replay_window *w, uint32_t seq)
{
	return &w->map[(seq >> 6) & w->words_mask];
}

static inline enum replay_verdict replay_check(struct replay_window *w, uint32_t seq)
{
	if (seq == 0)
		return REPLAY_ZERO; /* a sender starts at 1 and never sends 0 */
	if (seq > w->top)
		return REPLAY_NEW;
	if (w->top - seq >= w->size)
		return REPLAY_TOO_OLD;
	return (*replay_word(w, seq) >> (seq & 63) & 1) ? REPLAY_SEEN : REPLAY_NEW;
}

/* Records an authenticated sequence number that replay_check called new. */
static inline void replay_update(struct replay_window *w, uint32_t seq)
{
	if (seq > w->top) {
		uint32_t top_word = w->top >> 6, new_word = seq >> 6;
		uint32_t n = new_word - top_word;
		if (n > w->words_mask)
			n = w->words_mask + 1;
		for (uint32_t i = 1; i <= n; i++)
			w->map[(top_word + i) & w->words_mask] = 0;
		w->top = seq;
	}
	*replay_word(w, seq) |= 1ull << (seq & 63);
}

#endif
