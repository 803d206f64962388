/* libFuzzer targets for the three input parsers (one per build: FUZZ_POLICY,
 * FUZZ_NFS, FUZZ_HARDWARE). The policy target also runs what follows parsing —
 * reference checks, pcap-filter compilation, merging, sizing and the IGraph —
 * against fixed NF and hardware descriptions. */
#include "e2/orch.h"

#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#ifdef FUZZ_POLICY
static const char nfs_yaml[] =
    "nfs:\n"
    "  - { descriptor_id: ids, nf_type: native, sw_image_data: {name: i}, num_virtual_cpu: 1, gbps_per_core_ghz: 1,\n"
    "      affinity: [five_tuple], attributes: [{name: safe, method: port}, {name: url, method: metadata}],\n"
    "      connection_points: [{name: in, role: input}, {name: safe, role: output, attribute: safe, value: 'true'},\n"
    "                          {name: unsafe, role: output, attribute: safe, value: 'false'}] }\n"
    "  - { descriptor_id: fw, nf_type: legacy, sw_image_data: {name: f}, num_virtual_cpu: 2, gbps_per_core_ghz: 2,\n"
    "      affinity: [src_ip], vdu_profile: {min_number_of_instances: 1, max_number_of_instances: 8},\n"
    "      connection_points: [{name: in, role: input}, {name: out, role: output}] }\n";
static const char hw_yaml[] =
    "servers:\n  - { name: s, count: 4, cores: 16, ghz: 2.6, nic_gbps: 10 }\n"
    "switch: { ports: 16, external_ports: [ext0, ext1], port_gbps: 10, flow_table_entries: 2048 }\n";
#endif

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    struct e2_err err;
    if (size > 1 << 16)
        return 0;
#if defined(FUZZ_POLICY)
    static struct e2_nf_catalog *nfs;
    static struct e2_hardware *hw;
    if (!nfs) {
        nfs = e2_nfs_load(nfs_yaml, strlen(nfs_yaml), "nfs", &err);
        hw = e2_hardware_load(hw_yaml, strlen(hw_yaml), "hw", &err);
        if (!nfs || !hw)
            abort();
    }
    struct e2_policy *p = e2_policy_load((const char *)data, size, "fuzz", &err);
    if (p) {
        struct e2_pgraph *pg = e2_pgraph_build(p, nfs, hw, NULL, &err);
        if (pg) {
            struct e2_igraph *ig = e2_igraph_build(pg, &err);
            e2_igraph_free(ig);
            e2_pgraph_free(pg);
        }
        e2_policy_free(p);
    }
#elif defined(FUZZ_NFS)
    e2_nfs_free(e2_nfs_load((const char *)data, size, "fuzz", &err));
#elif defined(FUZZ_HARDWARE)
    e2_hardware_free(e2_hardware_load((const char *)data, size, "fuzz", &err));
#endif
    return 0;
}
