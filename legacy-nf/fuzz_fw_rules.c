/* libFuzzer target: rule text of any shape must parse or fail cleanly, and a parsed
 * rule set must survive matching and frame parsing on the same bytes. */
#include <stddef.h>
#include <stdint.h>

#include "firewall.h"
#include "fw_rules.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    struct fw_ruleset rs;
    char err[256];
    if (fw_rules_parse((const char *)data, size, "fuzz", &rs, err, sizeof(err)) != 0)
        return 0;
    struct fw_tuple t;
    uint8_t flags;
    if (frame_parse(data, size, &t, &flags) == FRAME_IP)
        fw_rules_decide(&rs, &t, NULL);
    fw_rules_free(&rs);
    return 0;
}
