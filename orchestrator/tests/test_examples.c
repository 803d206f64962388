/* SPDX-License-Identifier: BSD-3-Clause */
/* The shipped examples plan end to end; the JSON has the documented fields and
 * the DOT picture parses back with servers as clusters. */
#include "helpers.h"

#include <graphviz/cgraph.h>
#include <jansson.h>

static void plan_example(const char *policy, const char *hardware)
{
	struct e2_err err = {""};
	struct e2_nf_catalog *nfs = load_nfs_file("nfs.yaml");
	struct e2_hardware *hw = load_hw_file(hardware);
	struct e2_policy *p = load_policy_file(policy);
	const struct e2_plan_inputs in = {.pol = p, .nfs = nfs, .hw = hw};
	struct e2_plan *plan = e2_plan_build(&in, NULL, &err);
	if (!plan)
		fail_msg("%s: %s", policy, err.msg);
	const struct e2_igraph *ig = plan->ig;
	struct e2_load loads[32];
	assert_int_equal(e2_rack_loads(ig, &plan->rack, loads), 0); /* feasible at the estimates */

	char *js = e2_plan_json(plan);
	json_error_t jerr;
	json_t *root = json_loads(js, 0, &jerr);
	assert_non_null(root);
	json_t *insts = json_object_get(root, "instances"), *edges = json_object_get(root, "edges");
	assert_true(json_array_size(insts) > 0);
	size_t i;
	json_t *v;
	json_array_foreach(insts, i, v)
	{
		assert_true(json_is_string(json_object_get(v, "id")));
		assert_true(json_is_string(json_object_get(v, "nf")));
		assert_true(json_is_string(json_object_get(v, "server")));
		assert_true(json_is_integer(json_object_get(v, "cores")));
	}
	assert_int_equal(json_array_size(edges), ig->edges_count);
	json_array_foreach(edges, i, v)
	{
		assert_true(json_is_string(json_object_get(v, "from")));
		assert_true(json_is_string(json_object_get(v, "to")));
		assert_true(json_is_real(json_object_get(v, "rate_gbps")));
		assert_non_null(json_object_get(v, "filter")); /* a string or null (all traffic) */
	}
	assert_true(json_is_real(json_object_get(root, "cross_server_gbps")));
	assert_true(json_array_size(json_object_get(root, "switch_rules")) > 0);
	json_decref(root);
	free(js);

	FILE *f = tmpfile();
	assert_int_equal(e2_plan_dot(f, plan, &err), 0);
	rewind(f);
	Agraph_t *g = agread(f, NULL);
	assert_non_null(g);
	assert_int_equal(agnnodes(g), (int)ig->insts_count);
	int clusters = 0;
	for (Agraph_t *sg = agfstsubg(g); sg; sg = agnxtsubg(sg))
		clusters += strncmp(agnameof(sg), "cluster_", 8) == 0;
	assert_true(clusters >= 1);
	agclose(g);
	fclose(f);

	e2_plan_free(plan);
	e2_policy_free(p);
	e2_hardware_free(hw);
	e2_nfs_free(nfs);
}

static void fig31_on_4_servers(void **state)
{
	(void)state;
	plan_example("policy-fig3.1.yaml", "hardware-4servers.yaml");
}
static void fig312_on_4_servers(void **state)
{
	(void)state;
	plan_example("policy-fig3.12.yaml", "hardware-4servers.yaml");
}
static void fig31_on_rack(void **state)
{
	(void)state;
	plan_example("policy-fig3.1.yaml", "hardware-rack24.yaml");
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(fig31_on_4_servers),
		cmocka_unit_test(fig312_on_4_servers),
		cmocka_unit_test(fig31_on_rack),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
