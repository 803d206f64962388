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

/* The native NFs' descriptions: how each runs, what it needs and tags. */
static void native_nf_descriptions(void **state)
{
	(void)state;
	struct e2_nf_catalog *nfs = load_nfs_file("native-nfs.yaml");
	const struct e2_nf *ids = NULL, *reasm = NULL;
	for (unsigned i = 0; i < nfs->nfs_count; i++) {
		assert_non_null(nfs->nfs[i].native);
		if (strcmp(nfs->nfs[i].descriptor_id, "ids") == 0)
			ids = &nfs->nfs[i];
		if (strcmp(nfs->nfs[i].descriptor_id, "reasm") == 0)
			reasm = &nfs->nfs[i];
	}
	assert_non_null(ids);
	assert_non_null(reasm);
	assert_true(ids->native->needs_streams);
	assert_int_equal(ids->native->reads_metadata_count, 1);
	assert_string_equal(ids->native->reads_metadata[0], "t64");
	assert_false(reasm->native->needs_streams);
	assert_int_equal(reasm->native->emits_metadata_count, 2);
	assert_int_equal(reasm->native->runs_as, E2_NATIVE_PROCESS);
	e2_nfs_free(nfs);
	/* a legacy NF with a native block is refused */
	static const char bad[] = "nfs:\n  - descriptor_id: x\n    nf_type: legacy\n"
				  "    sw_image_data: { name: legacy-nf }\n    num_virtual_cpu: 1\n"
				  "    gbps_per_core_ghz: 1\n    connection_points: [{ name: in, role: input }]\n"
				  "    native_nf: { runs_as: vm }\n";
	struct e2_err err = {""};
	assert_null(e2_nfs_load(bad, sizeof bad - 1, "bad", &err));
	assert_non_null(strstr(err.msg, "nf_type must be native"));
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(fig31_on_4_servers),
		cmocka_unit_test(fig312_on_4_servers),
		cmocka_unit_test(fig31_on_rack),
		cmocka_unit_test(native_nf_descriptions),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
