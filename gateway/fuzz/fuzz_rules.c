/* libFuzzer: the rule, pool and keyword parsers must reject or accept any bytes cleanly,
 * and what they accept must survive write -> parse unchanged in size. */
#include <stdlib.h>
#include <string.h>

#include "embark.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) {
  char err[512];
  embark_ruleset rs;
  if (embark_rules_parse((const char *)data, size, "fuzz", &rs, err, sizeof err) == 0) {
    char *buf;
    size_t len;
    FILE *f = open_memstream(&buf, &len);
    embark_rules_write(f, &rs, NULL);
    fclose(f);
    embark_ruleset back;
    if (embark_rules_parse(buf, len, "fuzz-rt", &back, err, sizeof err) != 0 || back.n != rs.n) abort();
    embark_ruleset_free(&back);
    free(buf);
    embark_ruleset_free(&rs);
  }
  embark_poolset ps;
  if (embark_pools_parse((const char *)data, size, "fuzz", &ps, err, sizeof err) == 0) embark_poolset_free(&ps);
  char **kw;
  size_t *kl, n;
  if (embark_keywords_parse((const char *)data, size, "fuzz", &kw, &kl, &n, err, sizeof err) == 0)
    embark_keywords_free(kw, kl, n);
  embark_kw_rules kr;
  if (embark_kw_rules_parse((const char *)data, size, "fuzz", &kr, err, sizeof err) == 0) embark_kw_rules_free(&kr);
  return 0;
}
