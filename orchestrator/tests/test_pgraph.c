/* SPDX-License-Identifier: BSD-3-Clause */
/* PGraph merging, sizing, IGraph expansion (Figs. 3.1, 3.3, 3.12), interconnection
 * (Fig. 3.4) and the negative cases: cycles, unknown NFs, bad filters, no fit. */
#include "helpers.h"

static struct e2_nf_catalog *nfs;
static struct e2_hardware *hw4;

static int setup(void **state)
{
	(void)state;
	nfs = load_nfs_file("nfs.yaml");
	hw4 = load_hw_file("hardware-4servers.yaml");
	return 0;
}

static int teardown(void **state)
{
	(void)state;
	e2_nfs_free(nfs);
	e2_hardware_free(hw4);
	return 0;
}

static int pnode(const struct e2_pgraph *pg, const char *name)
{
	for (unsigned i = 0; i < pg->nodes_count; i++)
		if (!strcmp(pg->nodes[i].name, name))
			return (int)i;
	fail_msg("no node %s", name);
	return -1;
}

static const struct e2_pedge *pedge(const struct e2_pgraph *pg, const char *a, const char *b)
{
	int x = pnode(pg, a), y = pnode(pg, b);
	for (unsigned e = 0; e < pg->edges_count; e++)
		if (pg->edges[e].from == (unsigned)x && pg->edges[e].to == (unsigned)y)
			return &pg->edges[e];
	fail_msg("no edge %s -> %s", a, b);
	return NULL;
}

static void fig31_pgraph(void **state)
{
	(void)state;
	struct e2_err err = {""};
	struct e2_policy *p = load_policy_file("policy-fig3.1.yaml");
	struct e2_plan_opts po = {.target_utilization = 0.8};
	struct e2_pgraph *pg = e2_pgraph_build(p, nfs, hw4, &po, &err);
	assert_non_null(pg);
	assert_int_equal(pg->nodes_count, 6);
	assert_int_equal(pg->edges_count, 7);
	/* rates: 8 in; ids splits 4 / 3 / 1; the monitor gets everything back */
	assert_true(pg->nodes[pnode(pg, "ids")].in_gbps == 8);
	assert_true(pg->nodes[pnode(pg, "cache")].in_gbps == 4);
	assert_true(pg->nodes[pnode(pg, "normalizer")].in_gbps == 1);
	assert_true(pg->nodes[pnode(pg, "monitor")].in_gbps == 8);
	/* sizing: ids 0.4 Gbps/core/GHz * 2.6 GHz = 1.04 per core at 80% -> 8 / 0.832 -> 10 */
	assert_int_equal(pg->nodes[pnode(pg, "ids")].instances, 10);
	assert_int_equal(pg->nodes[pnode(pg, "normalizer")].instances, 1);
	/* the port method picks the IDS's output ports: cps 1 = safe, 2 = unsafe */
	assert_int_equal(pedge(pg, "ids", "cache")->from_cps, 1u << 1);
	assert_int_equal(pedge(pg, "ids", "monitor")->from_cps, 1u << 1);
	assert_int_equal(pedge(pg, "ids", "normalizer")->from_cps, 1u << 2);
	assert_string_equal(pedge(pg, "ids", "cache")->filter, "tcp dst port 80");
	assert_string_equal(pedge(pg, "in", "ids")->filter, "ip");   /* traffic class at ingress */
	assert_int_equal(pedge(pg, "ids", "cache")->attrs_count, 0); /* resolved by port, not metadata */
	e2_pgraph_free(pg);
	e2_policy_free(p);
}

static void merge_two_pipelines(void **state)
{
	(void)state;
	struct e2_err err = {""};
	struct e2_policy *p = policy_str(
		"pipelines:\n"
		"  - name: web\n    traffic_class: { filter: 'tcp port 80', rate_gbps: 2 }\n"
		"    nodes: [{name: in, port: ext0}, {name: fw, nf: firewall}, {name: out, port: ext1}]\n"
		"    edges: [{from: in, to: fw}, {from: fw, to: out}]\n"
		"  - name: dns\n    traffic_class: { filter: 'udp port 53', rate_gbps: 1 }\n"
		"    nodes: [{name: in2, port: ext2}, {name: fw, nf: firewall}, {name: mon, nf: monitor},"
		" {name: out, port: ext1}]\n"
		"    edges: [{from: in2, to: fw}, {from: fw, to: mon, attributes: ['url=x.com']}, {from: mon, to: out}]\n",
		&err);
	assert_non_null(p);
	struct e2_pgraph *pg = e2_pgraph_build(p, nfs, hw4, NULL, &err);
	if (!pg)
		fail_msg("%s", err.msg);
	assert_int_equal(pg->nodes_count, 5); /* fw and out are shared */
	assert_true(pg->nodes[pnode(pg, "fw")].in_gbps == 3);
	/* the shared firewall re-checks each class on its way out */
	assert_string_equal(pedge(pg, "fw", "mon")->filter, "udp port 53");
	assert_int_equal(pedge(pg, "fw", "mon")->attrs_count, 1); /* url is a metadata attribute */
	assert_string_equal(pedge(pg, "fw", "mon")->attrs[0], "url=x.com");
	e2_pgraph_free(pg);
	e2_policy_free(p);
}

static void expect_error(const char *yaml, const char *needle1, const char *needle2)
{
	struct e2_err err = {""};
	struct e2_policy *p = policy_str(yaml, &err);
	if (!p)
		fail_msg("did not load: %s", err.msg);
	struct e2_pgraph *pg = e2_pgraph_build(p, nfs, hw4, NULL, &err);
	assert_null(pg);
	assert_contains(err.msg, needle1);
	if (needle2)
		assert_contains(err.msg, needle2);
	e2_policy_free(p);
}

#define NODES2 "    nodes: [{name: in, port: ext0}, {name: a, nf: firewall}]\n"
#define NODES \
	"    nodes: [{name: in, port: ext0}, {name: a, nf: firewall}, {name: b, nf: monitor}, {name: out, port: ext1}]\n"

static void negative_cases(void **state)
{
	(void)state;
	expect_error("pipelines:\n  - name: loop\n" NODES
		     "    edges: [{from: in, to: a}, {from: a, to: b}, {from: b, to: a}]\n",
		     "cycle", "a -> b -> a");
	expect_error("pipelines:\n  - name: p\n    nodes: [{name: in, port: ext0}, {name: x, nf: teleporter}]\n"
		     "    edges: [{from: in, to: x}]\n",
		     "unknown NF 'teleporter'", "node 'x'");
	expect_error("pipelines:\n  - name: p\n" NODES
		     "    edges: [{from: in, to: a, filter: 'tcp dst prot 80'}, {from: a, to: out}]\n",
		     "edge in -> a", "tcp dst prot 80");
	expect_error("pipelines:\n  - name: p\n    traffic_class: {filter: 'ip and and'}\n" NODES2
		     "    edges: [{from: in, to: a}]\n",
		     "traffic_class filter", "does not parse");
	expect_error("pipelines:\n  - name: p\n    traffic_class: {rate_gbps: 5000}\n" NODES2
		     "    edges: [{from: in, to: a}]\n",
		     "demand cannot fit", "firewall");
	expect_error("pipelines:\n  - name: p\n" NODES
		     "    edges: [{from: in, to: a}, {from: a, to: b, attributes: [safe]}]\n",
		     "attribute 'safe'", "firewall");
	expect_error("pipelines:\n  - name: p\n" NODES "    edges: [{from: in, to: a}, {from: b, to: out}]\n",
		     "'b' has no incoming edge", NULL);
	expect_error("pipelines:\n  - name: p\n" NODES "    edges: [{from: in, to: zz}]\n", "unknown node 'zz'", NULL);
	expect_error("pipelines:\n  - name: p\n    nodes: [{name: in, port: nowhere}, {name: a, nf: ids}]\n"
		     "    edges: [{from: in, to: a}]\n",
		     "unknown external port 'nowhere'", NULL);
	expect_error("pipelines:\n  - name: p\n    nodes: [{name: in, port: ext0}, {name: a, nf: ids, port: ext1}]\n"
		     "    edges: [{from: in, to: a}]\n",
		     "exactly one of", NULL);
	expect_error(
		"pipelines:\n  - name: p\n" NODES2 "    edges: [{from: in, to: a}]\n"
		"  - name: q\n    nodes: [{name: in, port: ext0}, {name: a, nf: ids}]\n    edges: [{from: in, to: a}]\n",
		"node 'a' disagrees", NULL);
	expect_error("pipelines:\n  - name: p\n" NODES
		     "    edges: [{from: in, to: a}, {from: a, to: b, attributes: ['!!x']}]\n",
		     "bad attribute term", NULL);
}

static double in_rate(const struct e2_pgraph *pg, const char *node)
{
	return pg->nodes[pnode(pg, node)].in_gbps;
}
#define NEAR(x, y) ((x) > (y)-1e-9 && (x) < (y) + 1e-9)

/* Rates through every shape a port node can take in a pipeline: one input, two inputs
 * (the class's rate split between them), one or two outputs, a port traffic leaves and
 * re-enters through, a port shared by two pipelines; and a port node no edge uses,
 * refused by name (counted as an input, it took half the rate from the real one and
 * the firewall was sized for 2 Gbps: one instance where 4 Gbps need two). Firewall:
 * 1 Gbps/core/GHz x 2.6 GHz x 0.8 = 2.08 Gbps per instance. */
static void port_shapes_and_rates(void **state)
{
	(void)state;
	static const struct {
		const char *yaml;
		const char *node[3];
		double rate[3];
		unsigned fw_instances;
	} shapes[] = {
		{"pipelines:\n  - name: p\n    traffic_class: {rate_gbps: 4}\n" NODES
		 "    edges: [{from: in, to: a}, {from: a, to: b}, {from: b, to: out}]\n",
		 {"a", "b", "out"},
		 {4, 4, 4},
		 2},
		{"pipelines:\n  - name: p\n    traffic_class: {rate_gbps: 4}\n"
		 "    nodes: [{name: in, port: ext0}, {name: in2, port: ext2}, {name: a, nf: firewall}, {name: out, port: ext1}]\n"
		 "    edges: [{from: in, to: a}, {from: in2, to: a}, {from: a, to: out}]\n",
		 {"a", "out", NULL},
		 {4, 4, 0},
		 2},
		{"pipelines:\n  - name: p\n    traffic_class: {rate_gbps: 4}\n"
		 "    nodes: [{name: in, port: ext0}, {name: a, nf: firewall}, {name: out, port: ext1}, {name: out2, port: ext2}]\n"
		 "    edges: [{from: in, to: a}, {from: a, to: out}, {from: a, to: out2}]\n",
		 {"a", "out", "out2"},
		 {4, 2, 2},
		 2},
		{"pipelines:\n  - name: p\n    traffic_class: {rate_gbps: 4}\n"
		 "    nodes: [{name: in, port: ext0}, {name: a, nf: firewall}, {name: loop, port: ext2}, {name: b, nf: monitor},\n"
		 "            {name: out, port: ext1}]\n"
		 "    edges: [{from: in, to: a}, {from: a, to: loop}, {from: loop, to: b}, {from: b, to: out}]\n",
		 {"a", "loop", "b"},
		 {4, 4, 4},
		 2},
		{"pipelines:\n  - name: p\n    traffic_class: {rate_gbps: 3}\n" NODES2
		 "    edges: [{from: in, to: a}]\n"
		 "  - name: q\n    traffic_class: {rate_gbps: 1}\n"
		 "    nodes: [{name: in, port: ext0}, {name: b, nf: monitor}]\n    edges: [{from: in, to: b}]\n",
		 {"a", "b", NULL},
		 {3, 1, 0},
		 2},
	};
	for (unsigned i = 0; i < sizeof shapes / sizeof *shapes; i++) {
		struct e2_err err = {""};
		struct e2_policy *p = policy_str(shapes[i].yaml, &err);
		if (!p)
			fail_msg("shape %u: %s", i, err.msg);
		struct e2_pgraph *pg = e2_pgraph_build(p, nfs, hw4, NULL, &err);
		if (!pg)
			fail_msg("shape %u: %s", i, err.msg);
		for (unsigned k = 0; k < 3 && shapes[i].node[k]; k++)
			if (!NEAR(in_rate(pg, shapes[i].node[k]), shapes[i].rate[k]))
				fail_msg("shape %u: %s gets %.6f Gbps, want %.6f", i, shapes[i].node[k],
					 in_rate(pg, shapes[i].node[k]), shapes[i].rate[k]);
		assert_int_equal(pg->nodes[pnode(pg, "a")].instances, shapes[i].fw_instances);
		e2_pgraph_free(pg);
		e2_policy_free(p);
	}
	expect_error(
		"pipelines:\n  - name: p\n    traffic_class: {rate_gbps: 4}\n"
		"    nodes: [{name: in, port: ext0}, {name: stray, port: ext2}, {name: a, nf: firewall}, {name: out, port: ext1}]\n"
		"    edges: [{from: in, to: a}, {from: a, to: out}]\n",
		"port node 'stray' (external port 'ext2') is not connected", "pipeline 'p'");
}

static unsigned count_edges(const struct e2_igraph *ig, unsigned from, const char *to_node)
{
	unsigned n = 0;
	for (unsigned e = 0; e < ig->edges_count; e++)
		if (ig->edges[e].from == from && !strcmp(ig->pg->nodes[ig->insts[ig->edges[e].to].pnode].name, to_node))
			n++;
	return n;
}

/* Fig. 3.3: A -> B with 2 and 4 instances. (b/c) B's affinity is not implied:
 * every A instance distributes to every B instance. (d) A groups by src_ip and B by
 * the 5-tuple: each A instance feeds only its own B instances. */
static void fig33_distribution(void **state)
{
	(void)state;
	const char *nf_yaml =
		"nfs:\n"
		"  - { descriptor_id: A, nf_type: native, sw_image_data: {name: a}, num_virtual_cpu: 1, gbps_per_core_ghz: 1,\n"
		"      affinity: [src_ip], connection_points: [{name: in, role: input}, {name: out, role: output}] }\n"
		"  - { descriptor_id: B, nf_type: native, sw_image_data: {name: b}, num_virtual_cpu: 1, gbps_per_core_ghz: 0.5,\n"
		"      affinity: [five_tuple], connection_points: [{name: in, role: input}, {name: out, role: output}] }\n"
		"  - { descriptor_id: C, nf_type: native, sw_image_data: {name: c}, num_virtual_cpu: 1, gbps_per_core_ghz: 0.5,\n"
		"      affinity: [dst_ip], connection_points: [{name: in, role: input}, {name: out, role: output}] }\n";
	struct e2_err err = {""};
	struct e2_nf_catalog *cat = nfs_str(nf_yaml, &err);
	assert_non_null(cat);
	struct e2_hardware *hw = hw_str(rack_yaml(4, 8, 10), &err);
	assert_non_null(hw);
	for (int implied = 0; implied < 2; implied++) {
		char pol[512];
		snprintf(pol, sizeof pol,
			 "pipelines:\n  - name: p\n    traffic_class: {rate_gbps: 1.6}\n"
			 "    nodes: [{name: in, port: in0}, {name: a, nf: A}, {name: b, nf: %s}]\n"
			 "    edges: [{from: in, to: a}, {from: a, to: b}]\n",
			 implied ? "B" : "C");
		struct e2_policy *p = policy_str(pol, &err);
		const struct e2_plan_inputs in = {.pol = p, .nfs = cat, .hw = hw};
		const struct e2_plan_opts po = {.target_utilization = 0.8, .stop = E2_PLAN_IGRAPH};
		struct e2_plan *plan = e2_plan_build(&in, &po, &err);
		if (!plan)
			fail_msg("%s", err.msg);
		const struct e2_pgraph *pg = plan->pg;
		const struct e2_igraph *ig = plan->ig;
		assert_int_equal(pg->nodes[1].instances, 2);
		assert_int_equal(pg->nodes[2].instances, 4);
		assert_int_equal(e2_affinity_implies(pg, 1, 2), implied);
		assert_int_equal(ig->insts_count, 7);
		for (unsigned i = 1; i <= 2; i++)
			assert_int_equal(count_edges(ig, i, "b"), implied ? 2 : 4);
		/* every B instance gets the same share either way */
		for (unsigned j = 3; j < 7; j++)
			assert_true(e2_igraph_inst_load(ig, j) > 0.399 && e2_igraph_inst_load(ig, j) < 0.401);
		/* implied: B's ranges live in A's flow-ID space */
		assert_int_equal(ig->insts[3].hash_fields, implied ? E2_AFF_SRC_IP : E2_AFF_DST_IP);
		e2_plan_free(plan);
		e2_policy_free(p);
	}
	e2_hardware_free(hw);
	e2_nfs_free(cat);
}

/* Fig. 3.12: the NAT rewrites addresses, so the firewall re-distributes. */
static void fig312_mangling(void **state)
{
	(void)state;
	struct e2_err err = {""};
	struct e2_policy *p = load_policy_file("policy-fig3.12.yaml");
	const struct e2_plan_inputs in = {.pol = p, .nfs = nfs, .hw = hw4};
	const struct e2_plan_opts po = {.stop = E2_PLAN_IGRAPH};
	struct e2_plan *plan = e2_plan_build(&in, &po, &err);
	if (!plan)
		fail_msg("%s", err.msg);
	const struct e2_pgraph *pg = plan->pg;
	const struct e2_igraph *ig = plan->ig;
	assert_false(e2_affinity_implies(pg, (unsigned)pnode(pg, "nat"), (unsigned)pnode(pg, "fw")));
	assert_true(pg->nodes[pnode(pg, "vpn")].in_gbps > 9.4); /* 3.5 direct + 6 via the IDS */
	unsigned nfw = pg->nodes[pnode(pg, "fw")].instances;
	for (unsigned i = 0; i < ig->insts_count; i++)
		if (ig->insts[i].pnode == (unsigned)pnode(pg, "nat"))
			assert_int_equal(count_edges(ig, i, "fw"), nfw);
	/* conservation: the instances of every PGraph edge carry exactly its rate */
	for (unsigned pe = 0; pe < pg->edges_count; pe++) {
		double sum = 0;
		for (unsigned e = 0; e < ig->edges_count; e++)
			if (ig->edges[e].pedge == pe)
				sum += ig->edges[e].rate_gbps;
		assert_true(sum > pg->edges[pe].rate_gbps - 1e-6 && sum < pg->edges[pe].rate_gbps + 1e-6);
	}
	e2_plan_free(plan);
	e2_policy_free(p);
}

static int has_line(const struct e2_lines *l, const char *needle)
{
	for (unsigned i = 0; i < l->n; i++)
		if (strstr(l->v[i], needle))
			return 1;
	return 0;
}

/* Fig. 3.4: the IDS gets one vport per output port; safe traffic is further
 * classified by destination port; unsafe traffic goes straight to the normalizer. */
static void fig34_interconnect(void **state)
{
	(void)state;
	struct e2_err err = {""};
	struct e2_policy *p = load_policy_file("policy-fig3.1.yaml");
	const struct e2_plan_inputs in = {.pol = p, .nfs = nfs, .hw = hw4};
	const struct e2_plan_opts po = {.seed = 1};
	struct e2_plan *plan = e2_plan_build(&in, &po, &err);
	if (!plan)
		fail_msg("%s", err.msg);
	const struct e2_interconnect ic = plan->ic;
	int s = plan->ig->insts[e2_igraph_find(plan->ig, "ids.0")].server;
	const struct e2_lines *l = &ic.e2d[s];
	assert_true(has_line(l, "port add ids.0.in vhost path=/var/run/e2/ids.0.in.sock client=1"));
	assert_true(has_line(l, "port add ids.0.safe vhost"));
	assert_true(has_line(l, "port add ids.0.unsafe vhost"));
	assert_true(has_line(l, "module add ids.0.safe.cls bpf"));
	assert_true(has_line(l, "module cmd ids.0.safe.cls add filter=\"tcp dst port 80\" gate=0"));
	assert_true(has_line(l, "module cmd ids.0.safe.cls add filter=\"not (tcp dst port 80)\" gate=1"));
	assert_false(has_line(l, "module add ids.0.unsafe.cls"));
	assert_true(has_line(l, "connect ids.0.unsafe.in "));
	assert_true(has_line(l, "flowhash fields=src bits=16")); /* to the monitor, by its affinity */
	assert_true(has_line(&ic.sw, "in_port=ext0 filter=ip hash=src_ip,dst_ip,proto,src_port,dst_port"));
	assert_true(ic.switch_entries <= hw4->fabric.flow_table_entries);
	e2_plan_free(plan);
	e2_policy_free(p);
}

static void switch_table_budget(void **state)
{
	(void)state;
	struct e2_err err = {""};
	char hwy[1024];
	snprintf(hwy, sizeof hwy,
		 "servers:\n  - { name: s, count: 4, cores: 20, ghz: 2.6, nic_gbps: 100 }\n"
		 "switch: { ports: 16, external_ports: [ext0, ext1], port_gbps: 100, flow_table_entries: 8 }\n");
	struct e2_hardware *hw = hw_str(hwy, &err);
	assert_non_null(hw);
	struct e2_policy *p = load_policy_file("policy-fig3.1.yaml");
	const struct e2_plan_inputs in = {.pol = p, .nfs = nfs, .hw = hw};
	const struct e2_plan_opts po = {.seed = 1};
	/* placed, then refused at the interconnection */
	assert_null(e2_plan_build(&in, &po, &err));
	assert_contains(err.msg, "switch flow table");
	e2_policy_free(p);
	e2_hardware_free(hw);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(fig31_pgraph),       cmocka_unit_test(merge_two_pipelines),
		cmocka_unit_test(negative_cases),     cmocka_unit_test(port_shapes_and_rates),
		cmocka_unit_test(fig33_distribution), cmocka_unit_test(fig312_mangling),
		cmocka_unit_test(fig34_interconnect), cmocka_unit_test(switch_table_budget),
	};
	return cmocka_run_group_tests(tests, setup, teardown);
}
