/* SPDX-License-Identifier: BSD-3-Clause */
/* YAML inputs (policy, NF descriptions, hardware) loaded with libcyaml schemas.
 *
 * libcyaml checks structure and types; libyaml is run first on its own so that
 * syntax errors carry a line number. Meaning (references, filters, capacities) is
 * checked later, where the whole picture is known (pgraph.c). */
#include "e2/orch.h"

#include <cyaml/cyaml.h>
#include <errno.h>
#include <stdarg.h>
#include <stdbool.h>
#include <stdlib.h>
#include <string.h>
#include <yaml.h>

#include "e2/file.h"

/* ---------------------------------------------------------------- schemas */

static const cyaml_schema_value_t string_entry = {
	CYAML_VALUE_STRING(CYAML_FLAG_POINTER, char, 0, E2_WORD_LEN_MAX),
};

/* policy */
static const cyaml_schema_field_t tc_fields[] = {
	CYAML_FIELD_STRING_PTR("filter", CYAML_FLAG_OPTIONAL, struct e2_traffic_class, filter, 0, E2_FILTER_MAX),
	CYAML_FIELD_FLOAT("rate_gbps", CYAML_FLAG_OPTIONAL, struct e2_traffic_class, rate_gbps), CYAML_FIELD_END};
static const cyaml_schema_field_t node_fields[] = {
	CYAML_FIELD_STRING_PTR("name", CYAML_FLAG_DEFAULT, struct e2_node_spec, name, 1, 63),
	CYAML_FIELD_STRING_PTR("nf", CYAML_FLAG_OPTIONAL, struct e2_node_spec, nf, 1, 63),
	CYAML_FIELD_STRING_PTR("port", CYAML_FLAG_OPTIONAL, struct e2_node_spec, port, 1, 63), CYAML_FIELD_END};
static const cyaml_schema_value_t node_entry = {
	CYAML_VALUE_MAPPING(CYAML_FLAG_DEFAULT, struct e2_node_spec, node_fields),
};
static const cyaml_schema_field_t edge_fields[] = {
	CYAML_FIELD_STRING_PTR("from", CYAML_FLAG_DEFAULT, struct e2_edge_spec, from, 1, 63),
	CYAML_FIELD_STRING_PTR("to", CYAML_FLAG_DEFAULT, struct e2_edge_spec, to, 1, 63),
	CYAML_FIELD_STRING_PTR("filter", CYAML_FLAG_OPTIONAL, struct e2_edge_spec, filter, 0, E2_FILTER_MAX),
	CYAML_FIELD_SEQUENCE("attributes", CYAML_FLAG_POINTER | CYAML_FLAG_OPTIONAL, struct e2_edge_spec, attributes,
			     &string_entry, 0, E2_ATTRIBUTES_MAX),
	CYAML_FIELD_FLOAT_PTR("rate_gbps", CYAML_FLAG_POINTER | CYAML_FLAG_OPTIONAL, struct e2_edge_spec, rate_gbps),
	CYAML_FIELD_END};
static const cyaml_schema_value_t edge_entry = {
	CYAML_VALUE_MAPPING(CYAML_FLAG_DEFAULT, struct e2_edge_spec, edge_fields),
};
static const cyaml_schema_field_t pipeline_fields[] = {
	CYAML_FIELD_STRING_PTR("name", CYAML_FLAG_DEFAULT, struct e2_pipeline, name, 1, 63),
	CYAML_FIELD_MAPPING("traffic_class", CYAML_FLAG_OPTIONAL, struct e2_pipeline, traffic_class, tc_fields),
	CYAML_FIELD_SEQUENCE("nodes", CYAML_FLAG_POINTER, struct e2_pipeline, nodes, &node_entry, 1,
			     E2_PIPELINE_NODES_MAX),
	CYAML_FIELD_SEQUENCE("edges", CYAML_FLAG_POINTER, struct e2_pipeline, edges, &edge_entry, 1,
			     E2_PIPELINE_EDGES_MAX),
	CYAML_FIELD_END};
static const cyaml_schema_value_t pipeline_entry = {
	CYAML_VALUE_MAPPING(CYAML_FLAG_DEFAULT, struct e2_pipeline, pipeline_fields),
};
static const cyaml_schema_field_t policy_fields[] = {CYAML_FIELD_SEQUENCE("pipelines", CYAML_FLAG_POINTER,
									  struct e2_policy, pipelines, &pipeline_entry,
									  1, E2_PIPELINES_MAX),
						     CYAML_FIELD_END};
static const cyaml_schema_value_t policy_schema = {
	CYAML_VALUE_MAPPING(CYAML_FLAG_POINTER, struct e2_policy, policy_fields),
};

/* NF descriptions */
static const cyaml_strval_t nf_type_strings[] = {
	{"native", E2_NF_NATIVE},
	{"legacy", E2_NF_LEGACY},
};
static const cyaml_strval_t role_strings[] = {
	{"input", E2_CP_INPUT},
	{"output", E2_CP_OUTPUT},
};
static const cyaml_strval_t method_strings[] = {
	{"port", E2_METHOD_PORT},
	{"metadata", E2_METHOD_METADATA},
};
static const cyaml_strval_t affinity_strings[] = {
	{"src_ip", E2_AFF_SRC_IP},     {"dst_ip", E2_AFF_DST_IP},     {"proto", E2_AFF_PROTO},
	{"src_port", E2_AFF_SRC_PORT}, {"dst_port", E2_AFF_DST_PORT}, {"five_tuple", E2_AFF_FIVE_TUPLE},
};
static const cyaml_schema_field_t checksum_fields[] = {
	CYAML_FIELD_STRING_PTR("algorithm", CYAML_FLAG_DEFAULT, struct e2_checksum, algorithm, 1, 31),
	CYAML_FIELD_STRING_PTR("hash", CYAML_FLAG_DEFAULT, struct e2_checksum, hash, 1, 255), CYAML_FIELD_END};
static const cyaml_schema_field_t image_fields[] = {
	CYAML_FIELD_STRING_PTR("name", CYAML_FLAG_DEFAULT, struct e2_sw_image, name, 1, 255),
	CYAML_FIELD_STRING_PTR("version", CYAML_FLAG_OPTIONAL, struct e2_sw_image, version, 0, 63),
	CYAML_FIELD_STRING_PTR("container_format", CYAML_FLAG_OPTIONAL, struct e2_sw_image, container_format, 0, 31),
	CYAML_FIELD_STRING_PTR("disk_format", CYAML_FLAG_OPTIONAL, struct e2_sw_image, disk_format, 0, 31),
	CYAML_FIELD_MAPPING_PTR("checksum", CYAML_FLAG_POINTER | CYAML_FLAG_OPTIONAL, struct e2_sw_image, checksum,
				checksum_fields),
	CYAML_FIELD_END};
static const cyaml_schema_field_t launch_fields[] = {
	CYAML_FIELD_STRING_PTR("command", CYAML_FLAG_DEFAULT, struct e2_launch, command, 1, 63),
	CYAML_FIELD_STRING_PTR("args", CYAML_FLAG_OPTIONAL, struct e2_launch, args, 0, 1023),
	CYAML_FIELD_STRING_PTR("instance_files", CYAML_FLAG_OPTIONAL, struct e2_launch, instance_files, 1, 200),
	CYAML_FIELD_STRING_PTR("control", CYAML_FLAG_OPTIONAL, struct e2_launch, control, 1, 100), CYAML_FIELD_END};
static const cyaml_strval_t runs_as_strings[] = {
	{"process", E2_NATIVE_PROCESS},
	{"vm", E2_NATIVE_VM},
};
static const cyaml_schema_field_t native_fields[] = {
	CYAML_FIELD_ENUM("runs_as", CYAML_FLAG_DEFAULT, struct e2_native, runs_as, runs_as_strings, 2),
	CYAML_FIELD_BOOL("needs_streams", CYAML_FLAG_OPTIONAL, struct e2_native, needs_streams),
	CYAML_FIELD_SEQUENCE("emits_metadata", CYAML_FLAG_POINTER | CYAML_FLAG_OPTIONAL, struct e2_native,
			     emits_metadata, &string_entry, 0, E2_ATTRIBUTES_MAX),
	CYAML_FIELD_SEQUENCE("reads_metadata", CYAML_FLAG_POINTER | CYAML_FLAG_OPTIONAL, struct e2_native,
			     reads_metadata, &string_entry, 0, E2_ATTRIBUTES_MAX),
	CYAML_FIELD_END};
static const cyaml_schema_field_t cp_fields[] = {
	CYAML_FIELD_STRING_PTR("name", CYAML_FLAG_DEFAULT, struct e2_cp, name, 1, 31),
	CYAML_FIELD_UINT("order", CYAML_FLAG_OPTIONAL, struct e2_cp, order),
	CYAML_FIELD_ENUM("role", CYAML_FLAG_DEFAULT, struct e2_cp, role, role_strings, 2),
	CYAML_FIELD_STRING_PTR("attribute", CYAML_FLAG_OPTIONAL, struct e2_cp, attribute, 1, 63),
	CYAML_FIELD_STRING_PTR("value", CYAML_FLAG_OPTIONAL, struct e2_cp, value, 0, 255),
	CYAML_FIELD_END};
static const cyaml_schema_value_t cp_entry = {
	CYAML_VALUE_MAPPING(CYAML_FLAG_DEFAULT, struct e2_cp, cp_fields),
};
static const cyaml_schema_field_t attr_fields[] = {
	CYAML_FIELD_STRING_PTR("name", CYAML_FLAG_DEFAULT, struct e2_attr_decl, name, 1, 63),
	CYAML_FIELD_ENUM("method", CYAML_FLAG_DEFAULT, struct e2_attr_decl, method, method_strings, 2),
	CYAML_FIELD_END};
static const cyaml_schema_value_t attr_entry = {
	CYAML_VALUE_MAPPING(CYAML_FLAG_DEFAULT, struct e2_attr_decl, attr_fields),
};
static const cyaml_schema_field_t profile_fields[] = {
	CYAML_FIELD_UINT("min_number_of_instances", CYAML_FLAG_DEFAULT, struct e2_vdu_profile, min_number_of_instances),
	CYAML_FIELD_UINT("max_number_of_instances", CYAML_FLAG_DEFAULT, struct e2_vdu_profile, max_number_of_instances),
	CYAML_FIELD_END};
static const cyaml_schema_field_t scaling_fields[] = {
	CYAML_FIELD_BOOL("scalable", CYAML_FLAG_DEFAULT, struct e2_scaling, scalable),
	CYAML_FIELD_BOOL_PTR("across_servers", CYAML_FLAG_POINTER | CYAML_FLAG_OPTIONAL, struct e2_scaling,
			     across_servers),
	CYAML_FIELD_FLOAT_PTR("scale_out_above", CYAML_FLAG_POINTER | CYAML_FLAG_OPTIONAL, struct e2_scaling,
			      scale_out_above),
	CYAML_FIELD_FLOAT_PTR("scale_in_below", CYAML_FLAG_POINTER | CYAML_FLAG_OPTIONAL, struct e2_scaling,
			      scale_in_below),
	CYAML_FIELD_FLOAT_PTR("sustain_s", CYAML_FLAG_POINTER | CYAML_FLAG_OPTIONAL, struct e2_scaling, sustain_s),
	CYAML_FIELD_FLOAT_PTR("cooldown_s", CYAML_FLAG_POINTER | CYAML_FLAG_OPTIONAL, struct e2_scaling, cooldown_s),
	CYAML_FIELD_FLOAT_PTR("drain_s", CYAML_FLAG_POINTER | CYAML_FLAG_OPTIONAL, struct e2_scaling, drain_s),
	CYAML_FIELD_UINT("warm_pool", CYAML_FLAG_OPTIONAL, struct e2_scaling, warm_pool),
	CYAML_FIELD_END};
static const cyaml_schema_field_t nf_fields[] = {
	CYAML_FIELD_STRING_PTR("descriptor_id", CYAML_FLAG_DEFAULT, struct e2_nf, descriptor_id, 1, 63),
	CYAML_FIELD_STRING_PTR("provider", CYAML_FLAG_OPTIONAL, struct e2_nf, provider, 0, 255),
	CYAML_FIELD_STRING_PTR("product_name", CYAML_FLAG_OPTIONAL, struct e2_nf, product_name, 0, 255),
	CYAML_FIELD_STRING_PTR("software_version", CYAML_FLAG_OPTIONAL, struct e2_nf, software_version, 0, 63),
	CYAML_FIELD_ENUM("nf_type", CYAML_FLAG_DEFAULT, struct e2_nf, nf_type, nf_type_strings, 2),
	CYAML_FIELD_MAPPING("sw_image_data", CYAML_FLAG_DEFAULT, struct e2_nf, sw_image_data, image_fields),
	CYAML_FIELD_UINT("num_virtual_cpu", CYAML_FLAG_DEFAULT, struct e2_nf, num_virtual_cpu),
	CYAML_FIELD_UINT("virtual_mem_size_mb", CYAML_FLAG_OPTIONAL, struct e2_nf, virtual_mem_size_mb),
	CYAML_FIELD_MAPPING_PTR("vdu_profile", CYAML_FLAG_POINTER | CYAML_FLAG_OPTIONAL, struct e2_nf, vdu_profile,
				profile_fields),
	CYAML_FIELD_MAPPING_PTR("scaling", CYAML_FLAG_POINTER | CYAML_FLAG_OPTIONAL, struct e2_nf, scaling,
				scaling_fields),
	CYAML_FIELD_FLAGS("affinity", CYAML_FLAG_OPTIONAL, struct e2_nf, affinity, affinity_strings, 6),
	CYAML_FIELD_BOOL("mangling", CYAML_FLAG_OPTIONAL, struct e2_nf, mangling),
	CYAML_FIELD_FLOAT("gbps_per_core_ghz", CYAML_FLAG_DEFAULT, struct e2_nf, gbps_per_core_ghz),
	CYAML_FIELD_FLOAT("flow_timeout_s", CYAML_FLAG_OPTIONAL, struct e2_nf, flow_timeout_s),
	CYAML_FIELD_SEQUENCE("connection_points", CYAML_FLAG_POINTER, struct e2_nf, cps, &cp_entry, 1, 32),
	CYAML_FIELD_SEQUENCE("attributes", CYAML_FLAG_POINTER | CYAML_FLAG_OPTIONAL, struct e2_nf, attributes,
			     &attr_entry, 0, E2_ATTRIBUTES_MAX),
	CYAML_FIELD_MAPPING_PTR("launch", CYAML_FLAG_POINTER | CYAML_FLAG_OPTIONAL, struct e2_nf, launch,
				launch_fields),
	CYAML_FIELD_MAPPING_PTR("native_nf", CYAML_FLAG_POINTER | CYAML_FLAG_OPTIONAL, struct e2_nf, native,
				native_fields),
	CYAML_FIELD_END};
static const cyaml_schema_value_t nf_entry = {
	CYAML_VALUE_MAPPING(CYAML_FLAG_DEFAULT, struct e2_nf, nf_fields),
};
static const cyaml_schema_field_t catalog_fields[] = {
	CYAML_FIELD_SEQUENCE("nfs", CYAML_FLAG_POINTER, struct e2_nf_catalog, nfs, &nf_entry, 1, E2_NFS_MAX),
	CYAML_FIELD_END};
static const cyaml_schema_value_t catalog_schema = {
	CYAML_VALUE_MAPPING(CYAML_FLAG_POINTER, struct e2_nf_catalog, catalog_fields),
};

/* hardware */
static const cyaml_schema_field_t server_fields[] = {
	CYAML_FIELD_STRING_PTR("name", CYAML_FLAG_DEFAULT, struct e2_server, name, 1, 47),
	CYAML_FIELD_UINT("count", CYAML_FLAG_OPTIONAL, struct e2_server, count),
	CYAML_FIELD_UINT("cores", CYAML_FLAG_DEFAULT, struct e2_server, cores),
	CYAML_FIELD_UINT("reserved_cores", CYAML_FLAG_OPTIONAL, struct e2_server, reserved_cores),
	CYAML_FIELD_FLOAT("ghz", CYAML_FLAG_DEFAULT, struct e2_server, ghz),
	CYAML_FIELD_FLOAT("nic_gbps", CYAML_FLAG_DEFAULT, struct e2_server, nic_gbps),
	CYAML_FIELD_UINT("memory_mb", CYAML_FLAG_OPTIONAL, struct e2_server, memory_mb),
	CYAML_FIELD_STRING_PTR("agent", CYAML_FLAG_OPTIONAL, struct e2_server, agent, 7, 255),
	CYAML_FIELD_STRING_PTR("agent_events", CYAML_FLAG_OPTIONAL, struct e2_server, agent_events, 7, 255),
	CYAML_FIELD_STRING_PTR("switch_port", CYAML_FLAG_OPTIONAL, struct e2_server, switch_port, 1, 63),
	CYAML_FIELD_END};
static const cyaml_schema_value_t server_entry = {
	CYAML_VALUE_MAPPING(CYAML_FLAG_DEFAULT, struct e2_server, server_fields),
};
static const cyaml_schema_field_t switch_fields[] = {
	CYAML_FIELD_UINT("ports", CYAML_FLAG_DEFAULT, struct e2_switch, ports),
	CYAML_FIELD_SEQUENCE("external_ports", CYAML_FLAG_POINTER, struct e2_switch, external_ports, &string_entry, 1,
			     E2_EXTERNAL_PORTS_MAX),
	CYAML_FIELD_FLOAT("port_gbps", CYAML_FLAG_DEFAULT, struct e2_switch, port_gbps),
	CYAML_FIELD_FLOAT("capacity_gbps", CYAML_FLAG_OPTIONAL, struct e2_switch, capacity_gbps),
	CYAML_FIELD_UINT("flow_table_entries", CYAML_FLAG_DEFAULT, struct e2_switch, flow_table_entries),
	CYAML_FIELD_SEQUENCE("actions", CYAML_FLAG_POINTER | CYAML_FLAG_OPTIONAL, struct e2_switch, actions,
			     &string_entry, 0, E2_ATTRIBUTES_MAX),
	CYAML_FIELD_FLOAT("rule_update_ms", CYAML_FLAG_OPTIONAL, struct e2_switch, rule_update_ms),
	CYAML_FIELD_SEQUENCE("external_switch_ports", CYAML_FLAG_POINTER | CYAML_FLAG_OPTIONAL, struct e2_switch,
			     external_switch_ports, &string_entry, 0, E2_EXTERNAL_PORTS_MAX),
	CYAML_FIELD_STRING_PTR("driver", CYAML_FLAG_OPTIONAL, struct e2_switch, driver, 1, 31),
	CYAML_FIELD_STRING_PTR("driver_target", CYAML_FLAG_OPTIONAL, struct e2_switch, driver_target, 1, 255),
	CYAML_FIELD_END};
static const cyaml_schema_field_t hardware_fields[] = {
	CYAML_FIELD_SEQUENCE("servers", CYAML_FLAG_POINTER, struct e2_hardware, servers, &server_entry, 1,
			     E2_SERVERS_MAX),
	CYAML_FIELD_MAPPING("switch", CYAML_FLAG_DEFAULT, struct e2_hardware, fabric, switch_fields), CYAML_FIELD_END};
static const cyaml_schema_value_t hardware_schema = {
	CYAML_VALUE_MAPPING(CYAML_FLAG_POINTER, struct e2_hardware, hardware_fields),
};

/* ---------------------------------------------------------------- loading */

struct log_ctx {
	char buf[400];
	size_t len;
};

/* Collects libcyaml's error lines (the message and its backtrace) into one line. */
static void collect_log(cyaml_log_t level, void *ctx, const char *fmt, va_list args)
	__attribute__((format(printf, 3, 0)));
static void collect_log(cyaml_log_t level, void *ctx, const char *fmt, va_list args)
{
	struct log_ctx *lc = ctx;
	if (level < CYAML_LOG_ERROR || lc->len >= sizeof lc->buf - 1)
		return;
	char line[256];
	vsnprintf(line, sizeof line, fmt, args);
	size_t n = strcspn(line, "\n");
	line[n] = '\0';
	const char *text = line;
	if (strncmp(text, "Load: ", 6) == 0)
		text += 6;
	while (*text == ' ')
		text++;
	if (!*text || strcmp(text, "Backtrace:") == 0)
		return;
	int w = snprintf(lc->buf + lc->len, sizeof lc->buf - lc->len, "%s%s", lc->len ? "; " : "", text);
	if (w > 0)
		lc->len += (size_t)w;
	if (lc->len >= sizeof lc->buf)
		lc->len = sizeof lc->buf - 1;
}

/* libyaml alone, for syntax errors with a line and column. */
static int yaml_syntax_check(const char *data, size_t len, const char *origin, struct e2_err *err)
{
	yaml_parser_t parser;
	if (!yaml_parser_initialize(&parser)) {
		e2_seterr(err, "%s: out of memory", origin);
		return -1;
	}
	yaml_parser_set_input_string(&parser, (const unsigned char *)data, len);
	int rc = 0;
	for (;;) {
		yaml_event_t ev;
		if (!yaml_parser_parse(&parser, &ev)) {
			e2_seterr(err, "%s:%zu:%zu: YAML syntax error: %s%s%s", origin, parser.problem_mark.line + 1,
				  parser.problem_mark.column + 1, parser.problem ? parser.problem : "unknown",
				  parser.context ? " " : "", parser.context ? parser.context : "");
			rc = -1;
			break;
		}
		int end = ev.type == YAML_STREAM_END_EVENT;
		yaml_event_delete(&ev);
		if (end)
			break;
	}
	yaml_parser_delete(&parser);
	return rc;
}

static void *load(const char *data, size_t len, const char *origin, const cyaml_schema_value_t *schema,
		  struct e2_err *err)
{
	if (!data || len == 0) {
		e2_seterr(err, "%s: empty input", origin);
		return NULL;
	}
	if (yaml_syntax_check(data, len, origin, err) < 0)
		return NULL;
	struct log_ctx lc = {.len = 0};
	lc.buf[0] = '\0';
	cyaml_config_t cfg = {
		.log_fn = collect_log,
		.log_ctx = &lc,
		.mem_fn = cyaml_mem,
		.log_level = CYAML_LOG_ERROR,
		.flags = CYAML_CFG_DEFAULT,
	};
	cyaml_data_t *out = NULL;
	cyaml_err_t rc = cyaml_load_data((const uint8_t *)data, len, &cfg, schema, &out, NULL);
	if (rc != CYAML_OK) {
		e2_seterr(err, "%s: %s%s%s", origin, cyaml_strerror(rc), lc.len ? ": " : "", lc.buf);
		return NULL;
	}
	return out;
}

static void unload(const cyaml_schema_value_t *schema, void *data)
{
	if (!data)
		return;
	cyaml_config_t cfg = {.log_fn = NULL, .mem_fn = cyaml_mem, .log_level = CYAML_LOG_ERROR};
	cyaml_free(&cfg, schema, data, 0);
}

struct e2_policy *e2_policy_load(const char *yaml, size_t len, const char *origin, struct e2_err *err)
{
	return load(yaml, len, origin, &policy_schema, err);
}

void e2_policy_free(struct e2_policy *p)
{
	unload(&policy_schema, p);
}

struct e2_nf_catalog *e2_nfs_load(const char *yaml, size_t len, const char *origin, struct e2_err *err)
{
	struct e2_nf_catalog *c = load(yaml, len, origin, &catalog_schema, err);
	if (!c)
		return NULL;
	for (unsigned i = 0; i < c->nfs_count; i++) {
		struct e2_nf *nf = &c->nfs[i];
		const char *bad = NULL;
		if (nf->num_virtual_cpu == 0)
			bad = "num_virtual_cpu must be at least 1";
		else if (!(nf->gbps_per_core_ghz > 0))
			bad = "gbps_per_core_ghz must be positive";
		else if (!(nf->flow_timeout_s >= 0 && nf->flow_timeout_s <= 3600))
			bad = "flow_timeout_s must be in [0, 3600] (e2d tracks a flow at most an hour)";
		else if (nf->native && nf->nf_type != E2_NF_NATIVE)
			bad = "native_nf describes a native NF: nf_type must be native";
		else if (nf->vdu_profile &&
			 (nf->vdu_profile->min_number_of_instances < 1 ||
			  nf->vdu_profile->max_number_of_instances < nf->vdu_profile->min_number_of_instances))
			bad = "vdu_profile needs 1 <= min_number_of_instances <= max_number_of_instances";
		else if (nf->vdu_profile && nf->vdu_profile->max_number_of_instances > E2_NF_INSTANCES_MAX) {
			e2_seterr(err,
				  "%s: nfs[%u] (%s): max_number_of_instances %u is more than E2 runs of one NF (%u)",
				  origin, i, nf->descriptor_id, nf->vdu_profile->max_number_of_instances,
				  E2_NF_INSTANCES_MAX);
			e2_nfs_free(c);
			return NULL;
		}
		struct e2_autoscale_knobs knobs;
		char why[160];
		if (!bad && e2_autoscale_knobs(nf, &knobs, why, sizeof why) < 0) {
			e2_seterr(err, "%s: nfs[%u] (%s): scaling: %s", origin, i, nf->descriptor_id, why);
			e2_nfs_free(c);
			return NULL;
		}
		for (unsigned j = 0; j < i && !bad; j++)
			if (strcmp(c->nfs[j].descriptor_id, nf->descriptor_id) == 0)
				bad = "duplicate descriptor_id";
		unsigned inputs = 0;
		for (unsigned k = 0; k < nf->cps_count && !bad; k++) {
			struct e2_cp *cp = &nf->cps[k];
			inputs += cp->role == E2_CP_INPUT;
			for (unsigned m = 0; m < k; m++)
				if (strcmp(nf->cps[m].name, cp->name) == 0)
					bad = "duplicate connection point name";
			if (cp->attribute) {
				int declared = 0;
				for (unsigned a = 0; a < nf->attributes_count; a++)
					declared |= strcmp(nf->attributes[a].name, cp->attribute) == 0 &&
						    nf->attributes[a].method == E2_METHOD_PORT;
				if (!declared) {
					e2_seterr(
						err,
						"%s: nfs[%u] (%s): connection point '%s' carries attribute '%s', which is not "
						"declared with method 'port'",
						origin, i, nf->descriptor_id, cp->name, cp->attribute);
					e2_nfs_free(c);
					return NULL;
				}
			}
		}
		if (!bad && inputs == 0)
			bad = "needs at least one connection point with role 'input'";
		const char *files = nf->launch ? nf->launch->instance_files : NULL;
		if (!bad && files && !e2_path_ok(files, 255, "{}"))
			bad = "launch.instance_files must be an absolute path of at most 255 of A-Z a-z 0-9 _ . - / (and "
			      "{instance}), without ..";
		const char *ctl = nf->launch ? nf->launch->control : NULL;
		if (!bad && ctl && !e2_path_ok(ctl, 100, NULL))
			bad = "launch.control must be an absolute path of at most 100 of A-Z a-z 0-9 _ . - / without .. "
			      "(the NF's control socket in its VM)";
		if (bad) {
			e2_seterr(err, "%s: nfs[%u] (%s): %s", origin, i, nf->descriptor_id, bad);
			e2_nfs_free(c);
			return NULL;
		}
	}
	return c;
}

void e2_nfs_free(struct e2_nf_catalog *c)
{
	unload(&catalog_schema, c);
}

int e2_nf_across_servers(const struct e2_nf *nf)
{
	return !nf->scaling || !nf->scaling->across_servers || *nf->scaling->across_servers;
}

static bool url_ok(const char *u)
{
	return !u || ((strncmp(u, "tcp://", 6) == 0 || strncmp(u, "ipc://", 6) == 0) && u[6]);
}

/* Replaces `count: N` server groups by N servers named name0..name(N-1). */
static int expand_servers(struct e2_hardware *hw, const char *origin, struct e2_err *err)
{
	unsigned total = 0;
	for (unsigned i = 0; i < hw->servers_count; i++) {
		const struct e2_server *s = &hw->servers[i];
		/* an address or a switch port belongs to one machine: a group cannot share it */
		if (s->count && (s->agent || s->agent_events || s->switch_port)) {
			e2_seterr(
				err,
				"%s: servers[%u] (%s): agent, agent_events and switch_port need one entry per server, not count",
				origin, i, s->name);
			return -1;
		}
		unsigned c = hw->servers[i].count ? hw->servers[i].count : 1;
		if (c > E2_SERVERS_MAX - total) {
			e2_seterr(err, "%s: servers[%u] (%s): count %u makes more than %d servers in all", origin, i,
				  hw->servers[i].name, c, E2_SERVERS_MAX);
			return -1;
		}
		total += c;
	}
	struct e2_server *out = e2_xcalloc(total, sizeof *out);
	if (!out) {
		e2_seterr(err, "%s: out of memory", origin);
		return -1;
	}
	unsigned k = 0;
	for (unsigned i = 0; i < hw->servers_count; i++) {
		struct e2_server *s = &hw->servers[i];
		unsigned c = s->count ? s->count : 1;
		for (unsigned j = 0; j < c; j++, k++) {
			out[k] = *s;
			out[k].count = 1;
			char name[64];
			if (s->count)
				snprintf(name, sizeof name, "%s%u", s->name, j);
			else
				snprintf(name, sizeof name, "%s", s->name);
			out[k].name = e2_xstrdup(name);
		}
		free(s->name);
	}
	free(hw->servers);
	hw->servers = out;
	hw->servers_count = total;
	return 0;
}

struct e2_hardware *e2_hardware_load(const char *yaml, size_t len, const char *origin, struct e2_err *err)
{
	struct e2_hardware *hw = load(yaml, len, origin, &hardware_schema, err);
	if (!hw)
		return NULL;
	for (unsigned i = 0; i < hw->servers_count; i++)
		if (!hw->servers[i].reserved_cores)
			hw->servers[i].reserved_cores = 1; /* E2D always needs a core */
	if (expand_servers(hw, origin, err) < 0) {
		e2_hardware_free(hw);
		return NULL;
	}
	for (unsigned i = 0; i < hw->servers_count; i++) {
		struct e2_server *s = &hw->servers[i];
		const char *bad = NULL;
		if (s->cores <= s->reserved_cores)
			bad = "cores must exceed reserved_cores (E2D needs its own)";
		else if (!url_ok(s->agent) || !url_ok(s->agent_events))
			bad = "agent and agent_events are tcp://HOST:PORT or ipc://PATH";
		else if ((s->agent == NULL) != (s->agent_events == NULL))
			bad = "agent and agent_events go together";
		else if (!(s->ghz > 0) || !(s->nic_gbps > 0))
			bad = "ghz and nic_gbps must be positive";
		for (unsigned j = 0; j < i && !bad; j++)
			if (strcmp(hw->servers[j].name, s->name) == 0)
				bad = "duplicate server name";
		if (bad) {
			e2_seterr(err, "%s: server %s: %s", origin, s->name, bad);
			e2_hardware_free(hw);
			return NULL;
		}
	}
	struct e2_switch *sw = &hw->fabric;
	if (!(sw->port_gbps > 0)) {
		e2_seterr(err, "%s: switch: port_gbps must be positive", origin);
		e2_hardware_free(hw);
		return NULL;
	}
	for (unsigned i = 0; i < sw->external_ports_count; i++)
		for (unsigned j = 0; j < i; j++)
			if (strcmp(sw->external_ports[i], sw->external_ports[j]) == 0) {
				e2_seterr(err, "%s: switch: external port '%s' is listed twice", origin,
					  sw->external_ports[i]);
				e2_hardware_free(hw);
				return NULL;
			}
	if (sw->ports < hw->servers_count + sw->external_ports_count) {
		e2_seterr(err, "%s: switch: %u ports cannot connect %u servers and %u external ports", origin,
			  sw->ports, hw->servers_count, sw->external_ports_count);
		e2_hardware_free(hw);
		return NULL;
	}
	if (sw->external_switch_ports_count && sw->external_switch_ports_count != sw->external_ports_count) {
		e2_seterr(err, "%s: switch: external_switch_ports names %u ports but external_ports has %u", origin,
			  sw->external_switch_ports_count, sw->external_ports_count);
		e2_hardware_free(hw);
		return NULL;
	}
	if (sw->capacity_gbps <= 0)
		sw->capacity_gbps = sw->ports * sw->port_gbps;
	return hw;
}

const char *e2_server_switch_port(const struct e2_server *s)
{
	return s->switch_port ? s->switch_port : s->name;
}

const char *e2_external_switch_port(const struct e2_switch *sw, unsigned i)
{
	return i < sw->external_switch_ports_count ? sw->external_switch_ports[i] : sw->external_ports[i];
}

void e2_hardware_free(struct e2_hardware *h)
{
	unload(&hardware_schema, h);
}
