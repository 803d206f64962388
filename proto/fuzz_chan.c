/* SPDX-License-Identifier: BSD-3-Clause */
/* The envelope on arbitrary bytes, with and without a key: never a crash, a refusal is
 * the same with or without a key up to the MAC, an accepted message is refused as a
 * replay the second time; and whatever bytes are sealed open again unchanged. */
#include <stdlib.h>
#include <string.h>

#include "e2/chan.h"
#include "e2/fuzz.h"

/* The seeds (fuzz_corpus/chan) were sealed at this time under this key, so that the
 * fuzzer starts past the MAC and the stale check. */
#define FUZZ_NOW_NS 1700000000000000000ull
static const char fuzz_key[] = "e2 fuzz key, 32 bytes at least..";

static uint64_t fuzz_now(void)
{
	return FUZZ_NOW_NS;
}

static struct e2_chan_key key;
static struct e2_chan_sealer sealer;

int LLVMFuzzerInitialize(int *argc, char ***argv)
{
	struct e2_err err;
	memcpy(key.bytes, fuzz_key, 32);
	key.len = 32;
	if (e2_chan_sealer_init(&sealer, "fuzz", &key, &err) != 0)
		abort();
	return 0;
}

static enum e2_chan_refusal open_twice(const struct e2_chan_key *k, const uint8_t *data, size_t size)
{
	struct e2_chan_opener *o = e2_chan_opener_new(k, fuzz_now);
	char sender[E2_CHAN_SENDER_MAX + 1];
	struct e2_err err;
	void *body = NULL;
	size_t len = 0;
	enum e2_chan_refusal r = e2_chan_open(o, data, size, &body, &len, sender, &err);

	if (r == E2_CHAN_OK) {
		if (strlen(sender) == 0 || strlen(sender) > E2_CHAN_SENDER_MAX)
			abort();
		free(body);
		if (e2_chan_open(o, data, size, &body, &len, sender, &err) != E2_CHAN_REPLAYED)
			abort();
	} else if (body || (unsigned)r >= E2_CHAN_REFUSALS || !err.msg[0]) {
		abort();
	}
	e2_chan_opener_free(o);
	return r;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	enum e2_chan_refusal keyed = open_twice(&key, data, size);
	enum e2_chan_refusal open = open_twice(NULL, data, size);

	/* a key only adds the MAC's checks */
	if (keyed == E2_CHAN_OK && open != E2_CHAN_OK)
		abort();
	if (keyed != E2_CHAN_OK && keyed != E2_CHAN_NO_MAC && keyed != E2_CHAN_BAD_MAC && keyed != open)
		abort();

	/* sealed fuzz bytes open as they were */
	struct e2_chan_opener *o = e2_chan_opener_new(&key, NULL);
	struct e2_err err;
	void *sealed, *body;
	size_t sealed_len, len;
	if (e2_chan_seal(&sealer, data, size, &sealed, &sealed_len, &err) != 0)
		abort();
	if (e2_chan_open(o, sealed, sealed_len, &body, &len, NULL, &err) != E2_CHAN_OK)
		abort();
	if (len != size || (size && memcmp(body, data, size) != 0))
		abort();
	free(body);
	free(sealed);
	e2_chan_opener_free(o);
	return 0;
}
