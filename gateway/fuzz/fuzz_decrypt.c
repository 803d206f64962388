/* libFuzzer: the decrypt path (and encrypt, to reach deep into decrypt past the tag).
 * First byte selects: even = decrypt the rest as received from the cloud; odd = encrypt
 * the rest as an IPv4 packet, require a byte-exact round trip, then corrupt one byte
 * (position and mask from the input) and decrypt again.  Any crash or mismatch aborts. */
#include <stdlib.h>
#include <string.h>

#include "embark.h"

static embark_gw *gw;

static void setup(void) {
  uint8_t m[EMBARK_MASTER_KEY_LEN] = {1, 2, 3};
  embark_keys *k = embark_keys_from_master(m);
  char err[256];
  embark_ruleset rs;
  embark_poolset ps;
  const char *r = "deny src=10.0.0.0/8 dport=22\naccept dst=192.168.1.0/24 sport=1000-2000\n";
  const char *p = "pool nat 198.51.100.0/30\n";
  if (!k || embark_rules_parse(r, strlen(r), "r", &rs, err, sizeof err) ||
      embark_pools_parse(p, strlen(p), "p", &ps, err, sizeof err))
    abort();
  gw = embark_gw_new(k, &rs, &ps, NULL, err, sizeof err);
  if (!gw) abort();
  embark_keys_free(k);
  embark_ruleset_free(&rs);
  embark_poolset_free(&ps);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) {
  if (!gw) setup();
  if (size < 1 || size > 4096) return 0;
  static uint8_t e[4096 + EMBARK_MAX_OVERHEAD], d[4096 + 2 * EMBARK_MAX_OVERHEAD];
  size_t en, dn;
  embark_key5 k;
  if ((data[0] & 1) == 0) {
    embark_decrypt_packet(gw, data + 1, size - 1, d, sizeof d, &dn);
    embark_packet_key(data + 1, size - 1, &k);
    return 0;
  }
  if (size < 4) return 0;
  size_t pos = data[1] | (size_t)data[2] << 8;
  uint8_t mask = data[3];
  const uint8_t *pkt = data + 4;
  size_t n = size - 4;
  if (embark_encrypt_packet(gw, pkt, n, e, sizeof e, &en) != EMBARK_OK) return 0;
  embark_packet_key(e, en, &k);
  if (embark_decrypt_packet(gw, e, en, d, sizeof d, &dn) != EMBARK_OK || dn != n || memcmp(d, pkt, n)) abort();
  if (mask && en) {
    e[pos % en] ^= mask;
    embark_decrypt_packet(gw, e, en, d, sizeof d, &dn);
  }
  return 0;
}
