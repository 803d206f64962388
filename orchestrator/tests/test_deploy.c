/* SPDX-License-Identifier: BSD-3-Clause */
/* A plan becomes one ServerSpec per server: the running system's example (four NF VMs
 * on a three-server rack with two NF cores a server) gives each server its instances,
 * with the image, the command its VM runs, one vhost-user socket per connection point
 * (the path the e2d lines use), and e2d lines that are all commands cmdlang parses;
 * re-steering around a stopped monitor adds lines to the firewall's server. */
#include "helpers.h"

#include <stdbool.h>

#include "e2/cmd.h"
#include "e2ctl.pb-c.h"

static struct e2_plan *live_plan_with(const struct e2_resteer_event *ev, size_t n)
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
	const struct e2_plan_opts o = {.resteer = ev, .resteer_count = n};
	struct e2_plan *p = e2_plan_build(&in, &o, &err);
	if (!p)
		fail_msg("%s", err.msg);
	return p;
}

static struct e2_plan *live_plan(void)
{
	return live_plan_with(NULL, 0);
}

/* Every line is an e2d command; returns how many contain `needle`. */
static unsigned lines_with(const E2__Ctl__ServerSpec *sp, const char *needle)
{
	unsigned n = 0;
	for (size_t l = 0; l < sp->n_e2d_lines; l++) {
		char e[256];
		E2__Dp__Request *q = e2_cmd_parse(sp->e2d_lines[l], e, sizeof e);
		if (!q)
			fail_msg("line '%s': %s", sp->e2d_lines[l], e);
		e2__dp__request__free_unpacked(q, NULL);
		n += strstr(sp->e2d_lines[l], needle) != NULL;
	}
	return n;
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
		assert_true(sp->n_instances <= 2); /* two NF cores per server */
		assert_true(sp->n_e2d_lines > 0);
		for (size_t k = 0; k < sp->n_instances; k++) {
			const E2__Ctl__Instance *in = sp->instances[k];
			total++;
			/* the return path's forwarder is the native NF in a VM */
			bool ret = strcmp(in->name, "ret.0") == 0;
			assert_string_equal(in->image, ret ? "native-nf" : "legacy-nf");
			assert_true(ret ? strcmp(in->command, "e2nf-fwd") == 0
					: strcmp(in->command, "e2-firewall") == 0 ||
						    strcmp(in->command, "e2-fwd") == 0);
			assert_int_equal(in->n_ports, 2);
			char want[128];
			snprintf(want, sizeof want, "/var/run/e2/%s.in.sock", in->name);
			assert_string_equal(in->ports[0]->socket, want);
			assert_string_equal(in->ports[1]->name, "out");
			/* the two monitors share the flow-ID space; the others have all of it */
			assert_int_equal(in->flow_lo, strcmp(in->name, "mon.1") == 0 ? 32768 : 0);
			assert_int_equal(in->flow_hi, strcmp(in->name, "mon.0") == 0 ? 32768 : 65536);
			/* the vhost ports use the instance's sockets */
			assert_true(lines_with(sp, want) > 0);
		}
		e2__ctl__server_spec__free_unpacked(sp, NULL);
	}
	assert_int_equal(total, 4);
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
		bool here = false;
		for (size_t k = 0; k < sp->n_instances; k++)
			here |= strcmp(sp->instances[k]->name, "mon.0") == 0;
		if (here) {
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

/* The server whose spec runs instance `name`. */
static unsigned server_of(const struct e2_plan *p, const char *name)
{
	int x = e2_igraph_find(p->ig, name);
	assert_true(x >= 0);
	return (unsigned)p->ig->insts[x].server;
}

/* mon.1 stopped: the firewall's distributing stage sends its range to mon.0's gate and
 * forgets its flows, mon.0 accepts the range; started again: the range goes back. The
 * base lines stay a prefix (the agent applies the rest without restarting e2d). */
static void stopped_monitor_resteered(void **state)
{
	(void)state;
	struct e2_plan *base = live_plan();
	const struct e2_resteer_event ev[] = {{.inst = "mon.1", .op = E2_RESTEER_WITHDRAW},
					      {.inst = "mon.1", .op = E2_RESTEER_RESTORE}};
	struct e2_plan *p1 = live_plan_with(ev, 1), *p2 = live_plan_with(ev, 2);
	unsigned fw = server_of(base, "fw.0"), mon0 = server_of(base, "mon.0");
	for (unsigned s = 0; s < base->hw->servers_count; s++) {
		E2__Ctl__ServerSpec *b = spec_of(base, s, NULL, 0), *w = spec_of(p1, s, NULL, 0),
				    *r = spec_of(p2, s, NULL, 0);
		assert_true(w->n_e2d_lines >= b->n_e2d_lines && r->n_e2d_lines >= w->n_e2d_lines);
		for (size_t l = 0; l < b->n_e2d_lines; l++)
			assert_string_equal(w->e2d_lines[l], b->e2d_lines[l]);
		for (size_t l = 0; l < w->n_e2d_lines; l++)
			assert_string_equal(r->e2d_lines[l], w->e2d_lines[l]);
		assert_int_equal(lines_with(w, "fw.0.out.e0.split move range=32768-65536 gate=0"), s == fw);
		assert_int_equal(lines_with(w, "fw.0.out.e0.split forget gate=1"), s == fw);
		assert_int_equal(lines_with(w, "mon.0.in.steer.rs add range=32768-65536 gate=0"), s == mon0);
		assert_int_equal(lines_with(r, "fw.0.out.e0.split move range=32768-65536 gate=1"), s == fw);
		if (s != fw && s != mon0)
			assert_int_equal(r->n_e2d_lines, b->n_e2d_lines);
		e2__ctl__server_spec__free_unpacked(b, NULL);
		e2__ctl__server_spec__free_unpacked(w, NULL);
		e2__ctl__server_spec__free_unpacked(r, NULL);
	}
	e2_plan_free(base);
	e2_plan_free(p1);
	e2_plan_free(p2);
}

/* A scale-out: the launched monitor is in its server's spec (its VM, its sockets, its
 * half of mon.0's range) before any flow is sent to it; the activation adds the split at
 * the firewall's stage only. */
static void launched_monitor_in_its_spec(void **state)
{
	(void)state;
	const struct e2_resteer_event ev[] = {{.inst = "mon.0", .op = E2_RESTEER_LAUNCH},
					      {.inst = "mon.2", .op = E2_RESTEER_ACTIVATE}};
	struct e2_plan *l = live_plan_with(ev, 1), *a = live_plan_with(ev, 2);
	unsigned where = server_of(l, "mon.2"), fw = server_of(l, "fw.0");
	assert_int_equal(server_of(a, "mon.2"), where);
	E2__Ctl__ServerSpec *sp = spec_of(l, where, NULL, 0);
	bool found = false;
	for (size_t k = 0; k < sp->n_instances; k++)
		if (strcmp(sp->instances[k]->name, "mon.2") == 0) {
			found = true;
			assert_int_equal(sp->instances[k]->flow_lo, 16384);
			assert_int_equal(sp->instances[k]->flow_hi, 32768);
			assert_string_equal(sp->instances[k]->ports[0]->socket, "/var/run/e2/mon.2.in.sock");
		}
	assert_true(found);
	assert_true(lines_with(sp, "port add mon.2.in vhost") == 1);
	e2__ctl__server_spec__free_unpacked(sp, NULL);
	E2__Ctl__ServerSpec *f1 = spec_of(l, fw, NULL, 0), *f2 = spec_of(a, fw, NULL, 0);
	assert_int_equal(lines_with(f1, "split range=0-32768 at=16384"), 0);
	assert_int_equal(lines_with(f2, "fw.0.out.e0.split split range=0-32768 at=16384 new_gate=2"), 1);
	e2__ctl__server_spec__free_unpacked(f1, NULL);
	e2__ctl__server_spec__free_unpacked(f2, NULL);
	e2_plan_free(l);
	e2_plan_free(a);
}

/* Out, in, out again at the firewall's own steering stage: the drained instance's range
 * moves back to fw.0 (its tracked flows stay), the removed one leaves every spec and its
 * leftover flows are forgotten, its cores take the next one, which gets the next gate by
 * a move of the range already cut. */
static void firewall_scaled_out_in_out(void **state)
{
	(void)state;
	const struct e2_resteer_event ev[] = {
		{.inst = "fw.0", .op = E2_RESTEER_LAUNCH, .made = "fw.1"},
		{.inst = "fw.1", .op = E2_RESTEER_ACTIVATE},
		{.inst = "fw.1", .op = E2_RESTEER_DRAIN},
		{.inst = "fw.1", .op = E2_RESTEER_REMOVE},
		{.inst = "fw.0", .op = E2_RESTEER_LAUNCH, .made = "fw.2"},
		{.inst = "fw.2", .op = E2_RESTEER_ACTIVATE},
	};
	struct e2_plan *act = live_plan_with(ev, 2), *dr = live_plan_with(ev, 3), *rm = live_plan_with(ev, 4),
		       *again = live_plan_with(ev, 6);
	unsigned fw = server_of(act, "fw.0");
	E2__Ctl__ServerSpec *a = spec_of(act, fw, NULL, 0), *d = spec_of(dr, fw, NULL, 0),
			    *r = spec_of(rm, fw, NULL, 0), *g = spec_of(again, fw, NULL, 0);
	assert_int_equal(lines_with(a, "fw.0.in.steer.rs split range=0-65536 at=32768 new_gate=1"), 1);
	assert_int_equal(lines_with(d, "fw.0.in.steer.rs move range=32768-65536 gate=0"), 1);
	assert_int_equal(lines_with(d, "forget"), 0);
	assert_int_equal(lines_with(r, "fw.0.in.steer.rs forget gate=1"), 1);
	assert_int_equal(lines_with(g, "connect fw.0.in.steer.rs:2 "), 1);
	assert_int_equal(lines_with(g, "fw.0.in.steer.rs move range=32768-65536 gate=2"), 1);
	for (unsigned s = 0; s < rm->hw->servers_count; s++) {
		E2__Ctl__ServerSpec *sp = spec_of(rm, s, NULL, 0);
		for (size_t k = 0; k < sp->n_instances; k++)
			assert_string_not_equal(sp->instances[k]->name, "fw.1");
		e2__ctl__server_spec__free_unpacked(sp, NULL);
	}
	(void)server_of(again, "fw.2");
	e2__ctl__server_spec__free_unpacked(a, NULL);
	e2__ctl__server_spec__free_unpacked(d, NULL);
	e2__ctl__server_spec__free_unpacked(r, NULL);
	e2__ctl__server_spec__free_unpacked(g, NULL);
	e2_plan_free(act);
	e2_plan_free(dr);
	e2_plan_free(rm);
	e2_plan_free(again);
}

/* Two instances split in a chain (fw.1 off fw.0, fw.2 off fw.1) taken away in one
 * scale-in, as the controller orders it: the youngest drains first (into fw.1, still
 * taking flows), then fw.1 with what it got (into fw.0), then both go, the youngest
 * first. The other order is refused: fw.2 cannot drain into a draining fw.1. */
static void firewall_two_scaled_in_at_once(void **state)
{
	(void)state;
	const struct e2_resteer_event ev[] = {
		{.inst = "fw.0", .op = E2_RESTEER_LAUNCH, .made = "fw.1"},
		{.inst = "fw.1", .op = E2_RESTEER_ACTIVATE},
		{.inst = "fw.1", .op = E2_RESTEER_LAUNCH, .made = "fw.2"},
		{.inst = "fw.2", .op = E2_RESTEER_ACTIVATE},
		{.inst = "fw.2", .op = E2_RESTEER_DRAIN},
		{.inst = "fw.1", .op = E2_RESTEER_DRAIN},
		{.inst = "fw.2", .op = E2_RESTEER_REMOVE},
		{.inst = "fw.1", .op = E2_RESTEER_REMOVE},
	};
	struct e2_plan *dr = live_plan_with(ev, 6), *rm = live_plan_with(ev, 8);
	unsigned fw = server_of(dr, "fw.0");
	E2__Ctl__ServerSpec *d = spec_of(dr, fw, NULL, 0);
	assert_int_equal(lines_with(d, "fw.0.in.steer.rs move range=32768-65536 gate=0"), 1);
	e2__ctl__server_spec__free_unpacked(d, NULL);
	for (unsigned s = 0; s < rm->hw->servers_count; s++) {
		E2__Ctl__ServerSpec *sp = spec_of(rm, s, NULL, 0);
		for (size_t k = 0; k < sp->n_instances; k++) {
			assert_string_not_equal(sp->instances[k]->name, "fw.1");
			assert_string_not_equal(sp->instances[k]->name, "fw.2");
		}
		e2__ctl__server_spec__free_unpacked(sp, NULL);
	}
	e2_plan_free(dr);
	e2_plan_free(rm);

	struct e2_err err = {""};
	struct e2_nf_catalog *nfs = load_nfs_file("live/nfs.yaml");
	struct e2_hardware *hw = load_hw_file("live/hardware-rack3.yaml");
	struct e2_policy *pol = load_policy_file("live/web.yaml");
	const struct e2_plan_inputs in = {.pol = pol, .nfs = nfs, .hw = hw};
	const struct e2_resteer_event wrong[] = {ev[0], ev[1], ev[2], ev[3], ev[5], ev[4]};
	const struct e2_plan_opts o = {.resteer = wrong, .resteer_count = 6};
	assert_null(e2_plan_build(&in, &o, &err));
	assert_non_null(strstr(err.msg, "cannot drain 'fw.2' into 'fw.1'"));
	e2_policy_free(pol);
	e2_hardware_free(hw);
	e2_nfs_free(nfs);
}

/* Events that do not fit the instances refuse the plan, naming the instance. */
static void bad_resteer_events_refused(void **state)
{
	(void)state;
	struct e2_err err = {""};
	struct e2_nf_catalog *nfs = load_nfs_file("live/nfs.yaml");
	struct e2_hardware *hw = load_hw_file("live/hardware-rack3.yaml");
	struct e2_policy *pol = load_policy_file("live/web.yaml");
	const struct e2_plan_inputs in = {.pol = pol, .nfs = nfs, .hw = hw};
	const struct {
		struct e2_resteer_event ev[3];
		size_t n;
		const char *msg;
	} bad[] = {
		{{{.inst = "mon.1", .op = E2_RESTEER_RESTORE}}, 1, "cannot restore 'mon.1': it is running"},
		{{{.inst = "mon.1", .op = E2_RESTEER_WITHDRAW}, {.inst = "mon.1", .op = E2_RESTEER_WITHDRAW}},
		 2,
		 "cannot withdraw 'mon.1': it is withdrawn"},
		{{{.inst = "mon.0", .op = E2_RESTEER_ACTIVATE}}, 1, "cannot activate 'mon.0': it is running"},
		{{{.inst = "mon.0", .op = E2_RESTEER_LAUNCH},
		  {.inst = "mon.1", .op = E2_RESTEER_LAUNCH},
		  {.inst = "fw.0", .op = E2_RESTEER_LAUNCH}},
		 3,
		 "scale-out of 'fw.0': demand cannot fit"},
		{{{.inst = "mon.0", .op = E2_RESTEER_LAUNCH},
		  {.inst = "mon.0", .op = E2_RESTEER_LAUNCH},
		  {.inst = "mon.1", .op = E2_RESTEER_LAUNCH}},
		 3,
		 "max_number_of_instances 4"},
		{{{.inst = "mon.7", .op = E2_RESTEER_WITHDRAW}}, 1, "no NF instance 'mon.7'"},
		{{{.inst = "fw.0", .op = E2_RESTEER_REMOVE}}, 1, "cannot remove 'fw.0': it is running"},
		{{{.inst = "fw.0", .op = E2_RESTEER_LAUNCH, .made = "fw.9"}},
		 1,
		 "made 'fw.1', where the log says 'fw.9'"},
		{{{.inst = "client", .op = E2_RESTEER_WITHDRAW}}, 1, "no NF instance 'client'"},
	};
	for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++) {
		const struct e2_plan_opts o = {.resteer = bad[i].ev, .resteer_count = bad[i].n};
		struct e2_plan *p = e2_plan_build(&in, &o, &err);
		assert_null(p);
		if (!strstr(err.msg, bad[i].msg))
			fail_msg("case %zu: '%s' does not say '%s'", i, err.msg, bad[i].msg);
	}
	e2_policy_free(pol);
	e2_hardware_free(hw);
	e2_nfs_free(nfs);
}

/* launch.instance_files reaches the agent with "{instance}" made the instance's name, and
 * launch.control with the server's socket for it; NFs without them send "". */
static void instance_files_per_instance(void **state)
{
	(void)state;
	struct e2_err err = {""};
	struct e2_nf_catalog *nfs = load_nfs_file("live/nfs.yaml");
	struct e2_hardware *hw = load_hw_file("live/hardware-rack3.yaml");
	struct e2_policy *pol = load_policy_file("live/web.yaml");
	for (unsigned k = 0; k < nfs->nfs_count; k++)
		if (!strcmp(nfs->nfs[k].descriptor_id, "forwarder")) { /* the policy node ret */
			assert_non_null(nfs->nfs[k].launch);
			nfs->nfs[k].launch->instance_files = strdup("/srv/e2/{instance}/files");
			nfs->nfs[k].launch->control = strdup("/run/nf.ctl");
		}
	const struct e2_plan_inputs in = {.pol = pol, .nfs = nfs, .hw = hw};
	const struct e2_plan_opts o = {0};
	struct e2_plan *p = e2_plan_build(&in, &o, &err);
	if (!p)
		fail_msg("%s", err.msg);
	unsigned seen = 0;
	for (unsigned s = 0; s < p->hw->servers_count; s++) {
		E2__Ctl__ServerSpec *sp = spec_of(p, s, NULL, 0);
		for (size_t k = 0; k < sp->n_instances; k++) {
			const E2__Ctl__Instance *i = sp->instances[k];
			bool ret = !strcmp(i->name, "ret.0");
			seen += ret;
			assert_string_equal(i->instance_files, ret ? "/srv/e2/ret.0/files" : "");
			assert_string_equal(i->control, ret ? "/run/nf.ctl" : "");
			assert_string_equal(i->control_socket, ret ? "/var/run/e2/ret.0.ctl.sock" : "");
		}
		e2__ctl__server_spec__free_unpacked(sp, NULL);
	}
	assert_int_equal(seen, 1);
	e2_plan_free(p);
	e2_policy_free(pol);
	e2_hardware_free(hw);
	e2_nfs_free(nfs);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(one_vm_per_server),          cmocka_unit_test(stopped_instances_stay_on_their_server),
		cmocka_unit_test(stopped_monitor_resteered),  cmocka_unit_test(launched_monitor_in_its_spec),
		cmocka_unit_test(firewall_scaled_out_in_out), cmocka_unit_test(firewall_two_scaled_in_at_once),
		cmocka_unit_test(bad_resteer_events_refused), cmocka_unit_test(instance_files_per_instance),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
