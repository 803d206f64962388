/* SPDX-License-Identifier: BSD-3-Clause */
/* A plan becomes one ServerSpec per server: the running system's example (three NF VMs
 * on a three-server rack) gives each server its instance, with the image, the command
 * its VM runs, one vhost-user socket per connection point (the path the e2d lines use),
 * and e2d lines that are all commands cmdlang parses. */
#include "helpers.h"

#include <stdbool.h>

#include "e2/cmd.h"
#include "e2ctl.pb-c.h"

static struct e2_plan *live_plan(void)
{
	struct e2_err err = {""};
	static struct e2_nf_catalog *nfs;
	static struct e2_hardware *hw;
	static struct e2_policy *pol;
	if (!nfs) {
		nfs = load_nfs_file("live/nfs.yaml");
		hw = load_hw_file("live/hardware-rack3.yaml");
		pol = load_policy_file("live/web.yaml");
	}
	const struct e2_plan_inputs in = {.pol = pol, .nfs = nfs, .hw = hw};
	struct e2_plan *p = e2_plan_build(&in, NULL, &err);
	if (!p)
		fail_msg("%s", err.msg);
	return p;
}

static E2__Ctl__ServerSpec *spec_of(const struct e2_plan *p, unsigned server, char *const *stopped, size_t n)
{
	struct e2_err err = {""};
	void *buf;
	size_t len;
	if (e2_deploy_spec(p, server, 7, stopped, n, &buf, &len, &err) < 0)
		fail_msg("%s", err.msg);
	E2__Ctl__ServerSpec *s = e2__ctl__server_spec__unpack(NULL, len, buf);
	free(buf);
	assert_non_null(s);
	return s;
}

static void one_vm_per_server(void **state)
{
	(void)state;
	struct e2_plan *p = live_plan();
	unsigned total = 0;
	for (unsigned s = 0; s < p->hw->servers_count; s++) {
		E2__Ctl__ServerSpec *sp = spec_of(p, s, NULL, 0);
		assert_string_equal(sp->server, p->hw->servers[s].name);
		assert_int_equal(sp->generation, 7);
		assert_int_equal(sp->n_instances, 1); /* one NF core per server */
		const E2__Ctl__Instance *in = sp->instances[0];
		total++;
		assert_string_equal(in->image, "legacy-nf");
		assert_true(strcmp(in->command, "e2-firewall") == 0 || strcmp(in->command, "e2-fwd") == 0);
		assert_int_equal(in->n_ports, 2);
		char want[128];
		snprintf(want, sizeof want, "/var/run/e2/%s.in.sock", in->name);
		assert_string_equal(in->ports[0]->socket, want);
		assert_string_equal(in->ports[1]->name, "out");
		assert_int_equal(in->flow_lo, 0);
		assert_int_equal(in->flow_hi, 65536);
		/* every line is an e2d command, and the vhost ports use the instance's sockets */
		assert_true(sp->n_e2d_lines > 0);
		bool port_line = false;
		for (size_t l = 0; l < sp->n_e2d_lines; l++) {
			char e[256];
			E2__Dp__Request *q = e2_cmd_parse(sp->e2d_lines[l], e, sizeof e);
			if (!q)
				fail_msg("line '%s': %s", sp->e2d_lines[l], e);
			e2__dp__request__free_unpacked(q, NULL);
			port_line |= strstr(sp->e2d_lines[l], want) != NULL;
		}
		assert_true(port_line);
		e2__ctl__server_spec__free_unpacked(sp, NULL);
	}
	assert_int_equal(total, 3);
	e2_plan_free(p);
}

static void stopped_instances_stay_on_their_server(void **state)
{
	(void)state;
	struct e2_plan *p = live_plan();
	char *stopped[] = {(char *)"mon.0", (char *)"nosuch.0"};
	unsigned seen = 0;
	for (unsigned s = 0; s < p->hw->servers_count; s++) {
		E2__Ctl__ServerSpec *sp = spec_of(p, s, stopped, 2);
		if (strcmp(sp->instances[0]->name, "mon.0") == 0) {
			assert_int_equal(sp->n_stopped, 1);
			assert_string_equal(sp->stopped[0], "mon.0");
			seen++;
		} else
			assert_int_equal(sp->n_stopped, 0);
		e2__ctl__server_spec__free_unpacked(sp, NULL);
	}
	assert_int_equal(seen, 1);
	e2_plan_free(p);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(one_vm_per_server),
		cmocka_unit_test(stopped_instances_stay_on_their_server),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
