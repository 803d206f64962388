/* SPDX-License-Identifier: BSD-3-Clause */
/* Splitting and migration avoidance: ranges partition, edges follow, and no flow
 * that started at the old instance is ever sent elsewhere. */
#include "helpers.h"

struct world {
	struct e2_nf_catalog *nfs;
	struct e2_hardware *hw;
	struct e2_policy *pol;
	struct e2_plan *plan; /* placed, no interconnection: the tests split it */
	struct e2_igraph *ig;
	const struct e2_rack *rack;
};

static int setup(void **state)
{
	struct world *w = calloc(1, sizeof *w);
	struct e2_err err = {""};
	w->nfs = load_nfs_file("nfs.yaml");
	w->hw = load_hw_file("hardware-4servers.yaml");
	w->pol = load_policy_file("policy-fig3.1.yaml");
	const struct e2_plan_inputs in = {.pol = w->pol, .nfs = w->nfs, .hw = w->hw};
	const struct e2_plan_opts po = {.stop = E2_PLAN_PLACED};
	if (!(w->plan = e2_plan_build(&in, &po, &err)))
		fail_msg("%s", err.msg);
	w->ig = w->plan->ig;
	w->rack = &w->plan->rack;
	*state = w;
	return 0;
}

static int teardown(void **state)
{
	struct world *w = *state;
	e2_plan_free(w->plan);
	e2_policy_free(w->pol);
	e2_hardware_free(w->hw);
	e2_nfs_free(w->nfs);
	free(w);
	return 0;
}

static struct e2_flow flow(unsigned i)
{
	uint32_t x = i * 2654435761u;
	return (struct e2_flow){0x0a000000 | (x & 0xffff), 0xc0a80000 | (x >> 16), (uint16_t)(1024 + i), 80, 6};
}

static void split_partitions_range_and_edges(void **state)
{
	struct world *w = *state;
	struct e2_err err = {""};
	int a = e2_igraph_find(w->ig, "ids.3");
	uint32_t lo = w->ig->insts[a].range_lo, hi = w->ig->insts[a].range_hi;
	double load = e2_igraph_inst_load(w->ig, (unsigned)a);
	unsigned edges_before = w->ig->edges_count, incident = 0;
	for (unsigned e = 0; e < edges_before; e++)
		incident += w->ig->edges[e].from == (unsigned)a || w->ig->edges[e].to == (unsigned)a;
	int b = e2_igraph_split(w->ig, (unsigned)a, &err);
	assert_true(b > 0);
	assert_string_equal(w->ig->insts[b].name, "ids.10");
	assert_int_equal(w->ig->insts[a].range_lo, lo);
	assert_int_equal(w->ig->insts[a].range_hi, w->ig->insts[b].range_lo);
	assert_int_equal(w->ig->insts[b].range_hi, hi);
	assert_int_equal(w->ig->edges_count, edges_before + incident);
	double la = e2_igraph_inst_load(w->ig, (unsigned)a), lb = e2_igraph_inst_load(w->ig, (unsigned)b);
	assert_true(la + lb > load - 1e-9 && la + lb < load + 1e-9);
	assert_true(la > load / 2 - 1e-9 && la < load / 2 + 1e-9);
	assert_int_equal(e2_place_incremental(w->ig, w->rack, (unsigned)b, &err), 0);
}

/* The property of migration avoidance: every flow active at A before the split
 * stays at A in phase 1, while exceptions drain, and after the move to the switch. */
static void affinity_never_violated(void **state)
{
	struct world *w = *state;
	struct e2_err err = {""};
	for (unsigned round = 0; round < 5; round++) {
		int a = e2_igraph_find(w->ig, round % 2 ? "monitor.2" : "ids.5");
		int b = e2_igraph_split(w->ig, (unsigned)a, &err);
		if (b < 0)
			fail_msg("%s", err.msg);
		assert_int_equal(e2_place_incremental(w->ig, w->rack, (unsigned)b, &err), 0);
		/* flows the old instance held: those whose ID was in its range before the split */
		unsigned aff = w->ig->insts[a].hash_fields;
		uint32_t lo = w->ig->insts[a].range_lo, hi = w->ig->insts[b].range_hi;
		struct e2_flow *active = calloc(5000, sizeof *active);
		unsigned n = 0;
		for (unsigned i = round * 100000; i < round * 100000 + 200000 && n < 5000; i++) {
			struct e2_flow f = flow(i);
			uint32_t id = e2_flow_id(&f, aff);
			if (id >= lo && id < hi)
				active[n++] = f;
		}
		assert_true(n > 100);
		struct e2_split_plan sp;
		assert_int_equal(e2_split_begin(w->ig, w->hw, (unsigned)a, (unsigned)b, active, n, 8, &sp, &err), 0);
		assert_true(sp.exceptions_count > 0 && sp.exceptions_count < n);
		assert_false(sp.on_switch);
		for (unsigned i = 0; i < n; i++)
			assert_int_equal(e2_split_route(w->ig, &sp, &active[i]), (unsigned)a);
		/* new flows split by range */
		unsigned to_new = 0, total = 0;
		for (unsigned i = 900000; i < 920000; i++) {
			struct e2_flow f = flow(i);
			uint32_t id = e2_flow_id(&f, aff);
			if (id < lo || id >= hi)
				continue;
			total++;
			unsigned r = e2_split_route(w->ig, &sp, &f);
			if (id < sp.mid)
				assert_int_equal(r, (unsigned)a);
			else if (aff == E2_AFF_FIVE_TUPLE) /* a coarser aggregate may already live at A */
				assert_int_equal(r, (unsigned)b);
			else
				assert_true(r == (unsigned)a || r == (unsigned)b);
			to_new += r == (unsigned)b;
		}
		assert_true(total > 0);
		if (aff == E2_AFF_FIVE_TUPLE)
			assert_true(to_new > total / 4 && to_new < 3 * total / 4);
		/* flows end in a random order; old ones never move */
		int moved = 0;
		for (unsigned i = 0; i < n; i++) {
			unsigned j = (i * 7919u) % n;
			if (e2_split_flow_ended(w->ig, &sp, &active[j]))
				moved++;
			if (i % 97 == 0)
				for (unsigned k = 0; k < n; k++) {
					int ended = 0;
					for (unsigned m = 0; m <= i && !ended; m++)
						ended = (m * 7919u) % n == k;
					if (!ended)
						assert_int_equal(e2_split_route(w->ig, &sp, &active[k]), (unsigned)a);
					if (k > 200)
						break;
				}
		}
		assert_int_equal(moved, 1);
		assert_true(sp.on_switch);
		assert_true(sp.sw.n > 0);
		e2_split_free(&sp);
		free(active);
	}
}

static int has_line(const struct e2_lines *l, const char *needle)
{
	for (unsigned i = 0; i < l->n; i++)
		if (strstr(l->v[i], needle))
			return 1;
	return 0;
}

static void phase_lines(void **state)
{
	struct world *w = *state;
	struct e2_err err = {""};
	int a = e2_igraph_find(w->ig, "ids.0");
	int b = e2_igraph_split(w->ig, (unsigned)a, &err);
	assert_int_equal(e2_place_incremental(w->ig, w->rack, (unsigned)b, &err), 0);
	struct e2_split_plan sp;
	assert_int_equal(e2_split_begin(w->ig, w->hw, (unsigned)a, (unsigned)b, NULL, 0, 16, &sp, &err), 0);
	char want[128];
	snprintf(want, sizeof want, "module cmd ids.0.in.steer.rs split range=%u-%u at=%u new_gate=1", sp.lo, sp.hi,
		 sp.mid);
	assert_true(has_line(&sp.e2d, want));
	assert_true(has_line(&sp.e2d, "connect ids.0.in.steer.rs:1 "));
	/* ids.0 is fed by the switch: phase 2 rewrites its range rule there */
	snprintf(want, sizeof want, "in_port=ext0 hash=src_ip,dst_ip,proto,src_port,dst_port range=%u-%u", sp.mid,
		 sp.hi);
	assert_true(has_line(&sp.sw, want));
	assert_true(has_line(&sp.sw, "rule del"));
	e2_split_free(&sp);
}

static void split_errors(void **state)
{
	struct world *w = *state;
	struct e2_err err = {""};
	int port = e2_igraph_find(w->ig, "in");
	assert_int_equal(e2_igraph_split(w->ig, (unsigned)port, &err), -1);
	assert_contains(err.msg, "external port");
	/* halving [0, 2^16) sixteen times leaves a single flow ID */
	int n = e2_igraph_find(w->ig, "normalizer.0");
	for (unsigned i = 0; i < 16; i++)
		assert_true(e2_igraph_split(w->ig, (unsigned)n, &err) >= 0);
	assert_int_equal(e2_igraph_split(w->ig, (unsigned)n, &err), -1); /* range of one flow ID */
	assert_contains(err.msg, "single flow ID");
	assert_int_equal(e2_igraph_split(w->ig, 99999, &err), -1);
}

static void not_scalable(void **state)
{
	(void)state;
	struct e2_err err = {""};
	struct e2_nf_catalog *cat = nfs_str(
		"nfs:\n  - { descriptor_id: solo, nf_type: legacy, sw_image_data: {name: s}, num_virtual_cpu: 1,\n"
		"      gbps_per_core_ghz: 1, scaling: {scalable: false},\n"
		"      connection_points: [{name: in, role: input}] }\n",
		&err);
	struct e2_hardware *hw = hw_str(rack_yaml(2, 4, 10), &err);
	struct e2_policy *p = policy_str("pipelines:\n  - name: p\n    traffic_class: {rate_gbps: 0.1}\n"
					 "    nodes: [{name: in, port: in0}, {name: x, nf: solo}]\n"
					 "    edges: [{from: in, to: x}]\n",
					 &err);
	const struct e2_plan_inputs in = {.pol = p, .nfs = cat, .hw = hw};
	const struct e2_plan_opts po = {.stop = E2_PLAN_IGRAPH};
	struct e2_plan *plan = e2_plan_build(&in, &po, &err);
	if (!plan)
		fail_msg("%s", err.msg);
	assert_int_equal(e2_igraph_split(plan->ig, 1, &err), -1);
	assert_contains(err.msg, "not scalable");
	assert_contains(err.msg, "x.0");
	e2_plan_free(plan);
	e2_policy_free(p);
	e2_hardware_free(hw);
	e2_nfs_free(cat);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test_setup_teardown(split_partitions_range_and_edges, setup, teardown),
		cmocka_unit_test_setup_teardown(affinity_never_violated, setup, teardown),
		cmocka_unit_test_setup_teardown(phase_lines, setup, teardown),
		cmocka_unit_test_setup_teardown(split_errors, setup, teardown),
		cmocka_unit_test(not_scalable),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
