/* libFuzzer target: the Alpine JSON graph file and the E2D configuration importer. */
#include "alpine.h"

#include <stdint.h>
#include <stdlib.h>

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    char err[ALP_ERRLEN];
    alp_graph *g = alp_graph_parse((const char *)data, size, NULL, err);
    alp_graph_free(g);
    /* the same bytes as an E2D configuration */
    alp_graph *h = alp_graph_new();
    if (h) {
        if (alp_e2d_import(h, (const char *)data, size, err) == 0)
            (void)alp_graph_finish(h, err);
        alp_graph_free(h);
    }
    return 0;
}
