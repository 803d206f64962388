/* Placement: hand-checked optimum, properties over random policies (capacity
 * respected, every edge routed), incremental placement, the exact MIP, no-fit. */
#include "helpers.h"

static uint64_t rng = 12345;
static unsigned rnd(unsigned n)
{
    rng ^= rng << 13;
    rng ^= rng >> 7;
    rng ^= rng << 17;
    return (unsigned)(rng % n);
}

static const char *affs[] = { "[five_tuple]", "[src_ip]", "[src_ip, dst_ip]", "[]" };

static struct e2_nf_catalog *random_nfs(unsigned n)
{
    char *buf = NULL;
    size_t len = 0;
    FILE *f = open_memstream(&buf, &len);
    fprintf(f, "nfs:\n");
    for (unsigned i = 0; i < n; i++)
        fprintf(f, "  - { descriptor_id: nf%u, nf_type: native, sw_image_data: {name: x}, num_virtual_cpu: %u,\n"
                   "      gbps_per_core_ghz: %.2f, affinity: %s, mangling: %s,\n"
                   "      connection_points: [{name: in, role: input}, {name: out, role: output}] }\n",
                i, 1 + rnd(2), 0.3 + rnd(10) / 10.0, affs[rnd(4)], rnd(5) ? "false" : "true");
    fclose(f);
    struct e2_err err = { "" };
    struct e2_nf_catalog *c = nfs_str(buf, &err);
    free(buf);
    if (!c)
        fail_msg("%s", err.msg);
    return c;
}

static struct e2_policy *random_policy(unsigned n, double rate)
{
    char *buf = NULL;
    size_t len = 0;
    FILE *f = open_memstream(&buf, &len);
    fprintf(f, "pipelines:\n  - name: r\n    traffic_class: {rate_gbps: %.2f, filter: 'ip'}\n    nodes:\n"
               "      - {name: in0, port: in0}\n      - {name: in1, port: in1}\n      - {name: out0, port: out0}\n",
            rate);
    for (unsigned i = 0; i < n; i++)
        fprintf(f, "      - {name: n%u, nf: nf%u}\n", i, i);
    fprintf(f, "    edges:\n      - {from: in0, to: n0}\n      - {from: in1, to: n0, filter: 'tcp'}\n");
    for (unsigned i = 1; i < n; i++) {
        unsigned a = rnd(i), b = rnd(i);
        fprintf(f, "      - {from: n%u, to: n%u}\n", a, i);
        if (b != a)
            fprintf(f, "      - {from: n%u, to: n%u, filter: 'udp'}\n", b, i);
    }
    fprintf(f, "      - {from: n%u, to: out0}\n", n - 1);
    fclose(f);
    struct e2_err err = { "" };
    struct e2_policy *p = policy_str(buf, &err);
    free(buf);
    if (!p)
        fail_msg("%s", err.msg);
    return p;
}

/* A chain in -> A -> B -> out, two of each, two servers of two cores: the best
 * placement keeps each A with the B it feeds, so only external traffic crosses. */
static void hand_checked_optimum(void **state)
{
    (void)state;
    struct e2_err err = { "" };
    struct e2_nf_catalog *cat = nfs_str(
        "nfs:\n"
        "  - { descriptor_id: A, nf_type: native, sw_image_data: {name: a}, num_virtual_cpu: 1, gbps_per_core_ghz: 1,\n"
        "      affinity: [src_ip], connection_points: [{name: in, role: input}, {name: out, role: output}] }\n"
        "  - { descriptor_id: B, nf_type: native, sw_image_data: {name: b}, num_virtual_cpu: 1, gbps_per_core_ghz: 1,\n"
        "      affinity: [src_ip], connection_points: [{name: in, role: input}, {name: out, role: output}] }\n", &err);
    struct e2_hardware *hw = hw_str(rack_yaml(2, 2, 10), &err);
    struct e2_policy *p = policy_str("pipelines:\n  - name: p\n    traffic_class: {rate_gbps: 1.6}\n"
                                     "    nodes: [{name: in, port: in0}, {name: a, nf: A}, {name: b, nf: B}, "
                                     "{name: out, port: out0}]\n"
                                     "    edges: [{from: in, to: a}, {from: a, to: b}, {from: b, to: out}]\n", &err);
    struct e2_pgraph *pg = e2_pgraph_build(p, cat, hw, NULL, &err);
    if (!pg)
        fail_msg("%s", err.msg);
    struct e2_igraph *ig = e2_igraph_build(pg, &err);
    struct e2_rack rack;
    e2_rack_from_hardware(&rack, hw, &err);
    for (int algo = 0; algo < 2; algo++) {
        for (unsigned i = 0; i < ig->insts_count; i++)
            ig->insts[i].server = -1;
        assert_int_equal(e2_place(ig, &rack, E2_PLACE_E2, 0, &err), 0);
        if (algo == 1) {
            int proven = 0;
            double bound = 0;
            assert_int_equal(e2_place_mip(ig, &rack, 10, &proven, &bound, &err), 0);
            assert_true(proven);
            assert_true(bound > 3.2 - 1e-6 && bound < 3.2 + 1e-6);
        }
        /* 1.6 in + 1.6 out, nothing between servers */
        assert_true(e2_cross_server_gbps(ig) > 3.2 - 1e-6 && e2_cross_server_gbps(ig) < 3.2 + 1e-6);
        assert_int_equal(ig->insts[1].server, ig->insts[3].server);
        assert_int_equal(ig->insts[2].server, ig->insts[4].server);
    }
    e2_rack_free(&rack);
    e2_igraph_free(ig);
    e2_pgraph_free(pg);
    e2_policy_free(p);
    e2_hardware_free(hw);
    e2_nfs_free(cat);
}

static int has_line(const struct e2_lines *l, const char *needle)
{
    for (unsigned i = 0; i < l->n; i++)
        if (strstr(l->v[i], needle))
            return 1;
    return 0;
}

/* Every instance-graph edge has its wiring: a local connect to the destination's
 * steering stage, or a tunnel out of the source server and a decap rule at the
 * destination (SPI = 1 + 32 * instance + port, as documented). */
static void check_routed(const struct e2_igraph *ig, const struct e2_hardware *hw, const struct e2_interconnect *ic)
{
    for (unsigned e = 0; e < ig->edges_count; e++) {
        const struct e2_iedge *ed = &ig->edges[e];
        const struct e2_inst *a = &ig->insts[ed->from], *b = &ig->insts[ed->to];
        const struct e2_pedge *pe = &ig->pg->edges[ed->pedge];
        unsigned spi = 1 + ed->to * 32 + pe->to_cp;
        char want[128], mac[24];
        e2_server_mac(b->server, mac, sizeof mac);
        if (a->server < 0) {                                   /* from an external port: switch rule */
            snprintf(want, sizeof want, "encap:spi=%u,output:%s", spi, hw->servers[b->server].name);
            assert_true(has_line(&ic->sw, want));
        } else if (b->server < 0) {                            /* to an external port */
            snprintf(want, sizeof want, "module add encap.%u tunnel_encap dst=%s ", spi, mac);
            assert_true(has_line(&ic->e2d[a->server], want));
        } else if (a->server == b->server) {
            snprintf(want, sizeof want, " %s.in.steer", b->name);
            assert_true(has_line(&ic->e2d[a->server], want));
        } else {
            snprintf(want, sizeof want, "module add encap.%u tunnel_encap dst=%s ", spi, mac);
            assert_true(has_line(&ic->e2d[a->server], want));
            snprintf(want, sizeof want, "module cmd encap.%u edge igate=0 spi=%u", spi, spi);
            assert_true(has_line(&ic->e2d[a->server], want));
            snprintf(want, sizeof want, "decap edge spi=%u ", spi);
            assert_true(has_line(&ic->e2d[b->server], want));
        }
    }
}

static int cmp_double(const void *a, const void *b)
{
    double x = *(const double *)a, y = *(const double *)b;
    return (x > y) - (x < y);
}

static void random_policies_respect_capacity(void **state)
{
    (void)state;
    struct e2_err err = { "" };
    unsigned feasible = 0;
    for (unsigned trial = 0; trial < 40; trial++) {
        unsigned n = 2 + rnd(6);
        struct e2_nf_catalog *cat = random_nfs(n);
        struct e2_hardware *hw = hw_str(rack_yaml(2 + rnd(6), 4 + rnd(12), 10 + rnd(30)), &err);
        struct e2_policy *p = random_policy(n, 0.5 + rnd(40) / 4.0);
        struct e2_pgraph *pg = e2_pgraph_build(p, cat, hw, NULL, &err);
        if (!pg) {
            assert_contains(err.msg, "demand cannot fit");
            goto next;
        }
        struct e2_igraph *ig = e2_igraph_build(pg, &err);
        struct e2_rack rack;
        e2_rack_from_hardware(&rack, hw, &err);
        int violations[3] = { -1, -1, -1 };
        for (int algo = 0; algo < 3; algo++) {
            for (unsigned i = 0; i < ig->insts_count; i++)
                ig->insts[i].server = -1;
            if (e2_place(ig, &rack, (enum e2_place_algo)algo, trial, &err) < 0) {
                assert_contains(err.msg, "demand cannot fit");
                break;
            }
            struct e2_load loads[64];
            violations[algo] = e2_rack_loads(ig, &rack, loads);
            for (unsigned s = 0; s < rack.servers; s++)
                assert_true(loads[s].cores_used <= rack.cores[s]);
            for (unsigned i = 0; i < ig->insts_count; i++)
                assert_true(!pg->nodes[ig->insts[i].pnode].nf || ig->insts[i].server >= 0);
            if (algo == E2_PLACE_E2) {
                feasible++;
                struct e2_interconnect ic;
                if (e2_interconnect_plan(ig, hw, &ic, &err) < 0)
                    fail_msg("%s", err.msg);
                check_routed(ig, hw, &ic);
                e2_interconnect_free(&ic);
                /* E2 is never worse than first-fit packing, nor than the median of
                 * random feasible placements, on cross-server traffic */
                double e2 = e2_cross_server_gbps(ig);
                int *kept = malloc(ig->insts_count * sizeof *kept);
                for (unsigned i = 0; i < ig->insts_count; i++)
                    kept[i] = ig->insts[i].server;
                double costs[9];
                unsigned n_costs = 0;
                for (unsigned i = 0; i < ig->insts_count; i++)
                    ig->insts[i].server = -1;
                struct e2_load cmp_loads[64];
                /* only placements within every link's capacity compare: E2 keeps to them */
                if (e2_place(ig, &rack, E2_PLACE_PACKING, 0, &err) == 0 && e2_rack_loads(ig, &rack, cmp_loads) == 0) {
                    double packing = e2_cross_server_gbps(ig);
                    if (e2 > packing + 1e-9)
                        fail_msg("trial %u: E2 %.3f Gbps across servers, packing %.3f", trial, e2, packing);
                }
                for (uint64_t seed = 1; seed <= 9; seed++) {
                    for (unsigned i = 0; i < ig->insts_count; i++)
                        ig->insts[i].server = -1;
                    if (e2_place(ig, &rack, E2_PLACE_RANDOM, seed * 7919 + trial, &err) == 0 &&
                        e2_rack_loads(ig, &rack, cmp_loads) == 0)
                        costs[n_costs++] = e2_cross_server_gbps(ig);
                }
                if (n_costs) {
                    qsort(costs, n_costs, sizeof *costs, cmp_double);
                    if (e2 > costs[n_costs / 2] + 1e-9)
                        fail_msg("trial %u: E2 %.3f Gbps across servers, median random %.3f", trial, e2,
                                 costs[n_costs / 2]);
                }
                for (unsigned i = 0; i < ig->insts_count; i++)
                    ig->insts[i].server = kept[i];
                free(kept);
            }
        }
        /* links too: whenever a strawman finds a plan within every capacity, so does E2 */
        if (violations[E2_PLACE_PACKING] == 0 || violations[E2_PLACE_RANDOM] == 0)
            assert_int_equal(violations[E2_PLACE_E2], 0);
        e2_rack_free(&rack);
        e2_igraph_free(ig);
        e2_pgraph_free(pg);
    next:
        e2_policy_free(p);
        e2_hardware_free(hw);
        e2_nfs_free(cat);
    }
    assert_true(feasible >= 10);
}

static void incremental_moves_nothing_else(void **state)
{
    (void)state;
    struct e2_err err = { "" };
    struct e2_nf_catalog *nfs = load_nfs_file("nfs.yaml");
    struct e2_hardware *hw = load_hw_file("hardware-4servers.yaml");
    struct e2_policy *p = load_policy_file("policy-fig3.1.yaml");
    struct e2_pgraph *pg = e2_pgraph_build(p, nfs, hw, NULL, &err);
    struct e2_igraph *ig = e2_igraph_build(pg, &err);
    struct e2_rack rack;
    e2_rack_from_hardware(&rack, hw, &err);
    assert_int_equal(e2_place(ig, &rack, E2_PLACE_E2, 0, &err), 0);
    unsigned before = ig->insts_count;
    int *was = calloc(before, sizeof *was);
    for (unsigned i = 0; i < before; i++)
        was[i] = ig->insts[i].server;
    int victim = e2_igraph_find(ig, "monitor.1");
    assert_true(victim >= 0);
    int added = e2_igraph_split(ig, (unsigned)victim, &err);
    assert_true(added >= 0);
    assert_int_equal(e2_place_incremental(ig, &rack, (unsigned)added, &err), 0);
    for (unsigned i = 0; i < before; i++)
        assert_int_equal(ig->insts[i].server, was[i]);
    assert_true(ig->insts[added].server >= 0);
    struct e2_load loads[8];
    e2_rack_loads(ig, &rack, loads);
    for (unsigned s = 0; s < rack.servers; s++)
        assert_true(loads[s].cores_used <= rack.cores[s]);
    free(was);
    e2_rack_free(&rack);
    e2_igraph_free(ig);
    e2_pgraph_free(pg);
    e2_policy_free(p);
    e2_hardware_free(hw);
    e2_nfs_free(nfs);
}

static void mip_never_worse_than_heuristic(void **state)
{
    (void)state;
    struct e2_err err = { "" };
    unsigned solved = 0;
    for (unsigned trial = 0; trial < 6; trial++) {
        struct e2_nf_catalog *cat = random_nfs(3);
        struct e2_hardware *hw = hw_str(rack_yaml(3, 6, 20), &err);
        struct e2_policy *p = random_policy(3, 0.5 + rnd(4) / 2.0);
        struct e2_pgraph *pg = e2_pgraph_build(p, cat, hw, NULL, &err);
        struct e2_igraph *ig = pg ? e2_igraph_build(pg, &err) : NULL;
        struct e2_rack rack = { 0 };
        e2_rack_from_hardware(&rack, hw, &err);
        if (ig && e2_place(ig, &rack, E2_PLACE_E2, 0, &err) == 0) {
            double heur = e2_cross_server_gbps(ig);
            int proven = 0;
            double bound = 0;
            if (e2_place_mip(ig, &rack, 5, &proven, &bound, &err) == 0) {
                double exact = e2_cross_server_gbps(ig);
                assert_true(exact <= heur + 1e-6);
                assert_true(bound <= exact + 1e-6);
                struct e2_load loads[8];
                e2_rack_loads(ig, &rack, loads);
                for (unsigned s = 0; s < rack.servers; s++)
                    assert_true(loads[s].cores_used <= rack.cores[s]);
                solved++;
            } else {
                print_message("mip: %s\n", err.msg);
            }
        } else {
            print_message("setup: %s\n", err.msg);
        }
        e2_rack_free(&rack);
        e2_igraph_free(ig);
        e2_pgraph_free(pg);
        e2_policy_free(p);
        e2_hardware_free(hw);
        e2_nfs_free(cat);
    }
    assert_true(solved >= 3);
}

static void no_fit_is_an_error(void **state)
{
    (void)state;
    struct e2_err err = { "" };
    struct e2_nf_catalog *nfs = load_nfs_file("nfs.yaml");
    struct e2_hardware *hw = hw_str(rack_yaml(2, 3, 10), &err);   /* 6 cores for 18 instances */
    struct e2_policy *p = policy_str("pipelines:\n  - name: p\n    traffic_class: {rate_gbps: 4}\n"
                                     "    nodes: [{name: in, port: in0}, {name: ids, nf: ids}]\n"
                                     "    edges: [{from: in, to: ids}]\n", &err);
    struct e2_plan_opts po = { .target_utilization = 0.8, .ghz = 1.0 };
    struct e2_pgraph *pg = e2_pgraph_build(p, nfs, hw, &po, &err);
    if (!pg)
        fail_msg("%s", err.msg);
    struct e2_igraph *ig = e2_igraph_build(pg, &err);
    struct e2_rack rack;
    e2_rack_from_hardware(&rack, hw, &err);
    assert_int_equal(e2_place(ig, &rack, E2_PLACE_E2, 0, &err), -1);
    assert_contains(err.msg, "demand cannot fit");
    assert_contains(err.msg, "ids.");
    e2_rack_free(&rack);
    e2_igraph_free(ig);
    e2_pgraph_free(pg);
    e2_policy_free(p);
    e2_hardware_free(hw);
    e2_nfs_free(nfs);
}

/* scaling.across_servers: false keeps every instance of the NF on one server,
 * through packing, swaps, random placement, splits and the MIP. */
static void not_across_servers(void **state)
{
    (void)state;
    struct e2_err err = { "" };
    struct e2_nf_catalog *cat = nfs_str(
        "nfs:\n"
        "  - { descriptor_id: A, nf_type: native, sw_image_data: {name: a}, num_virtual_cpu: 1, gbps_per_core_ghz: 1,\n"
        "      affinity: [src_ip], connection_points: [{name: in, role: input}, {name: out, role: output}] }\n"
        "  - { descriptor_id: T, nf_type: legacy, sw_image_data: {name: t}, num_virtual_cpu: 1, gbps_per_core_ghz: 1,\n"
        "      scaling: {scalable: true, across_servers: false},\n"
        "      affinity: [five_tuple], connection_points: [{name: in, role: input}, {name: out, role: output}] }\n", &err);
    assert_non_null(cat);
    assert_true(e2_nf_across_servers(&cat->nfs[0]));
    assert_false(e2_nf_across_servers(&cat->nfs[1]));
    struct e2_hardware *hw = hw_str(rack_yaml(4, 4, 10), &err);
    struct e2_policy *p = policy_str("pipelines:\n  - name: p\n    traffic_class: {rate_gbps: 2.2}\n"
                                     "    nodes: [{name: in, port: in0}, {name: a, nf: A}, {name: t, nf: T}]\n"
                                     "    edges: [{from: in, to: a}, {from: a, to: t}]\n", &err);
    struct e2_pgraph *pg = e2_pgraph_build(p, cat, hw, NULL, &err);
    if (!pg)
        fail_msg("%s", err.msg);
    assert_int_equal(pg->nodes[2].instances, 3);
    struct e2_igraph *ig = e2_igraph_build(pg, &err);
    struct e2_rack rack;
    e2_rack_from_hardware(&rack, hw, &err);
    for (int algo = 0; algo < 4; algo++) {
        for (unsigned i = 0; i < ig->insts_count; i++)
            ig->insts[i].server = -1;
        if (e2_place(ig, &rack, algo == 3 ? E2_PLACE_E2 : (enum e2_place_algo)algo, 7, &err) < 0)
            fail_msg("%s", err.msg);
        if (algo == 3)
            assert_int_equal(e2_place_mip(ig, &rack, 5, NULL, NULL, &err), 0);
        int s = -2;
        for (unsigned i = 0; i < ig->insts_count; i++)
            if (ig->insts[i].pnode == 2) {
                if (s == -2)
                    s = ig->insts[i].server;
                assert_int_equal(ig->insts[i].server, s);
            }
    }
    /* splits join the group's server until it is full, then fail clearly */
    int t0 = e2_igraph_find(ig, "t.0"), failed = 0;
    for (unsigned k = 0; k < 8 && !failed; k++) {
        int added = e2_igraph_split(ig, (unsigned)t0, &err);
        assert_true(added > 0);
        if (e2_place_incremental(ig, &rack, (unsigned)added, &err) < 0) {
            assert_contains(err.msg, "must join");
            failed = 1;
        } else {
            assert_int_equal(ig->insts[added].server, ig->insts[t0].server);
        }
    }
    assert_true(failed);
    e2_rack_free(&rack);
    e2_igraph_free(ig);
    e2_pgraph_free(pg);
    e2_policy_free(p);
    /* more than a server's worth is refused at sizing */
    p = policy_str("pipelines:\n  - name: p\n    traffic_class: {rate_gbps: 6}\n"
                   "    nodes: [{name: in, port: in0}, {name: t, nf: T}]\n    edges: [{from: in, to: t}]\n", &err);
    assert_null(e2_pgraph_build(p, cat, hw, NULL, &err));
    assert_contains(err.msg, "cannot scale across servers");
    e2_policy_free(p);
    e2_hardware_free(hw);
    e2_nfs_free(cat);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(hand_checked_optimum),
        cmocka_unit_test(random_policies_respect_capacity),
        cmocka_unit_test(incremental_moves_nothing_else),
        cmocka_unit_test(mip_never_worse_than_heuristic),
        cmocka_unit_test(no_fit_is_an_error),
        cmocka_unit_test(not_across_servers),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
