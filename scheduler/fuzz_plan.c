/* libFuzzer target: the model checker's plan reader, against the seed's toy graph. */
#include "alpine.h"

#include <stdint.h>
#include <stdlib.h>
#include <string.h>

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static const char toy[] =
    "{\"modules\":[{\"name\":\"A\",\"class\":\"port_in\",\"cycles\":100},"
    "{\"name\":\"B\",\"cycles\":233},{\"name\":\"C\",\"cycles\":233}],"
    "\"edges\":[[\"A:0\",\"B\"],[\"A:1\",\"C\"]],"
    "\"classes\":[{\"name\":\"tc1\",\"path\":[\"A\",\"B\"]},{\"name\":\"tc2\",\"path\":[\"A\",\"C\"]}],"
    "\"slos\":[{\"kind\":\"cpu\",\"classes\":[\"tc1\",\"tc2\"],\"ratio\":[3,1]},"
    "{\"kind\":\"priority\",\"classes\":[\"tc1\",\"tc2\"]}],\"input_mpps\":5}";

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    static alp_graph *g;
    char err[ALP_ERRLEN];
    if (!g && !(g = alp_graph_parse(toy, strlen(toy), NULL, err)))
        abort();
    alp_check c;
    if (alp_check_plan(g, (const char *)data, size, &c, err) == 0)
        alp_check_free(&c);
    return 0;
}
