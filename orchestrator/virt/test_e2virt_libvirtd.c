/* SPDX-License-Identifier: BSD-3-Clause */
/* libe2virt against a real libvirtd (started and stopped here with ci/libvirt-up and
 * ci/libvirt-down) booting real QEMU guests from the legacy-nf image, one at a time.
 * A do-nothing vhost-user back end stands in for E2D. Needs root; skipped otherwise.
 *
 * The image comes from $E2_IMAGE, else $E2_BINARY_DIR/images/legacy-nf; E2_ACCEL=kvm|tcg
 * skips the KVM probe. */
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <stdint.h>
#include <cmocka.h>

#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "e2virt.h"
#include "vhost_stub.h"

struct live {
	char ci[512];
	char image[512];
	char dir[64];
	char log[128], sock[2][128];
	struct e2v_port ports[2];
	struct e2v_nf_spec spec;
	struct e2v_conn *conn;
	enum e2v_accel accel;
};

static struct live L;

/* Runs a ci/ script with plain-word arguments (domain names). */
static int run(const char *script, const char *args)
{
	char cmd[900];
	/* the lease is this process's: system()'s shell is gone by the time of the other call */
	snprintf(cmd, sizeof(cmd), "E2_LIBVIRT_USER=pid-%d '%s/%s' %s", (int)getpid(), L.ci, script, args);
	return system(cmd);
}

/* A run killed before its teardown, or a test that failed half-way, leaves domains
 * defined and running (holding the shared console log); these names are this test's
 * own, so each test starts without them (an absent one is not an error here). */
static int remove_mine(void **state)
{
	(void)state;
	static const char *const mine[] = {"e2-live-fwd", "e2-live-broken", "e2-live-alone", "e2-live-slow",
					   "e2-live-nonf"};
	struct e2_err err;
	for (size_t i = 0; i < sizeof(mine) / sizeof(mine[0]); i++)
		e2v_remove(L.conn, mine[i], &err);
	return 0;
}

static int group_setup(void **state)
{
	(void)state;
	const char *bin = getenv("E2_BINARY_DIR");
	snprintf(L.ci, sizeof(L.ci), "%s", E2_CI_DIR);
	if (getenv("E2_IMAGE"))
		snprintf(L.image, sizeof(L.image), "%s", getenv("E2_IMAGE"));
	else
		snprintf(L.image, sizeof(L.image), "%s/images/legacy-nf", bin ? bin : ".");
	if (run("libvirt-up", "") != 0)
		return -1;
	strcpy(L.dir, "/tmp/e2virt-live-XXXXXX");
	if (!mkdtemp(L.dir))
		return -1;
	chmod(L.dir, 01777); /* QEMU runs as libvirt-qemu and writes the console log here */
	/* QEMU must be able to read the image: the build tree may sit below a directory
     * libvirt-qemu cannot enter (/root), so boot a copy from here. */
	char cmd[1600];
	snprintf(cmd, sizeof(cmd), "cp '%s.vmlinuz' '%s/nf.vmlinuz' && cp '%s.initrd' '%s/nf.initrd'", L.image, L.dir,
		 L.image, L.dir);
	if (system(cmd) != 0)
		return -1;
	snprintf(L.image, sizeof(L.image), "%s/nf", L.dir);
	snprintf(L.log, sizeof(L.log), "%s/console.log", L.dir);
	for (int i = 0; i < 2; i++)
		snprintf(L.sock[i], sizeof(L.sock[i]), "%s/port%d.sock", L.dir, i);
	L.ports[0] = (struct e2v_port){"in", L.sock[0], NULL};
	L.ports[1] = (struct e2v_port){"out", L.sock[1], NULL};
	L.spec = (struct e2v_nf_spec){.instance = "e2-live-fwd",
				      .image = L.image,
				      .nf = "e2-fwd",
				      .nf_args = "--stats,5,eth0,eth1",
				      .ports = L.ports,
				      .n_ports = 2,
				      .serial_log = L.log};
	struct e2_err err;
	L.conn = e2v_connect("qemu:///system", &err);
	if (!L.conn) {
		fprintf(stderr, "%s\n", err.msg);
		return -1;
	}
	L.accel = e2v_accel_from_env();
	remove_mine(NULL);
	return 0;
}

static int group_teardown(void **state)
{
	(void)state;
	if (L.conn)
		e2v_disconnect(L.conn); /* stops events a failed test left running */
	/* only the domains this test creates: anything else on the host is not ours */
	run("libvirt-down", "e2-live-fwd e2-live-broken e2-live-alone e2-live-slow e2-live-nonf");
	char cmd[128];
	snprintf(cmd, sizeof(cmd), "rm -rf '%s'", L.dir);
	return system(cmd) == 0 ? 0 : -1;
}

static bool defined(const char *name)
{
	struct e2_err err;
	return e2v_is_running(L.conn, name, &err) >= 0;
}

static void probe_picks_an_accelerator(void **state)
{
	(void)state;
	if (L.accel != E2V_ACCEL_AUTO) {
		print_message("E2_ACCEL forces %s; probe skipped\n", L.accel == E2V_ACCEL_KVM ? "kvm" : "tcg");
		return;
	}
	L.accel = e2v_probe_accel(L.conn, L.image, L.dir, 8000);
	print_message("KVM probe: %s\n", L.accel == E2V_ACCEL_KVM ? "KVM works" : "using TCG");
	char **names;
	struct e2_err err;
	int n = e2v_list(L.conn, &names, &err);
	assert_true(n >= 0);
	for (int i = 0; i < n; i++)                             /* other E2 domains on the host are not ours to judge */
		assert_null(strstr(names[i], "e2-kvm-probe-")); /* the probe domain is gone */
	e2v_names_free(names);
}

struct event_log {
	pthread_mutex_t lock;
	char text[4096];
};

static void record_event(void *opaque, const char *instance, enum e2v_event ev, bool is_e2)
{
	struct event_log *l = opaque;
	pthread_mutex_lock(&l->lock);
	size_t n = strlen(l->text);
	snprintf(l->text + n, sizeof(l->text) - n, "%s:%s%s ", instance, e2v_event_name(ev), is_e2 ? ":e2" : "");
	pthread_mutex_unlock(&l->lock);
}

static void wait_for_event(struct event_log *l, const char *what)
{
	for (int i = 0; i < 100; i++) {
		pthread_mutex_lock(&l->lock);
		bool seen = strstr(l->text, what) != NULL;
		pthread_mutex_unlock(&l->lock);
		if (seen)
			return;
		usleep(50000);
	}
	fail_msg("no event %s; saw: %s", what, l->text);
}

static void boot_shutdown_restart_remove(void **state)
{
	(void)state;
	if (L.accel == E2V_ACCEL_AUTO)
		L.accel = E2V_ACCEL_TCG;
	const char *paths[2] = {L.sock[0], L.sock[1]};
	struct vhost_stub *stub = vhost_stub_start(paths, 2);
	assert_non_null(stub);
	/* static: if an assert below fails, the event thread may still write here until
	 * the group teardown disconnects */
	static struct event_log events = {.lock = PTHREAD_MUTEX_INITIALIZER};
	struct e2_err err = {""};
	assert_int_equal(e2v_events_start(L.conn, record_event, &events, &err), 0);

	if (e2v_start(L.conn, &L.spec, L.accel, 90000, &err))
		fail_msg("start: %s", err.msg);
	assert_true(vhost_stub_sessions(stub) >= 2); /* both NICs talked vhost-user */
	char **names;
	int n = e2v_list(L.conn, &names, &err);
	bool listed = false;
	for (int i = 0; i < n; i++)
		listed |= !strcmp(names[i], "e2-live-fwd");
	assert_true(listed);
	e2v_names_free(names);
	wait_for_event(&events, "e2-live-fwd:started:e2");

	/* ACPI shutdown reaches the guest's init, which powers off: no hard stop needed. */
	assert_int_equal(e2v_stop(L.conn, "e2-live-fwd", 30000, &err), 0);
	assert_int_equal(e2v_is_running(L.conn, "e2-live-fwd", &err), 0);
	wait_for_event(&events, "e2-live-fwd:stopped:e2");
	FILE *f = fopen(L.log, "r");
	assert_non_null(f);
	char line[512];
	bool pressed = false;
	while (fgets(line, sizeof(line), f))
		pressed |= strstr(line, "power button pressed") != NULL;
	fclose(f);
	assert_true(pressed);

	/* What an operator does: virsh start, and the NF comes back. */
	assert_int_equal(system("virsh -c qemu:///system start e2-live-fwd >/dev/null"), 0);
	if (e2v_wait_ready(L.conn, "e2-live-fwd", L.log, 90000, &err))
		fail_msg("after virsh start: %s", err.msg);

	assert_int_equal(e2v_remove(L.conn, "e2-live-fwd", &err), 0);
	assert_false(defined("e2-live-fwd"));
	e2v_events_stop(L.conn);
	vhost_stub_stop(stub);
}

static void start_failure_leaves_nothing(void **state)
{
	(void)state;
	/* QEMU cannot listen in /proc: libvirt reports the failed start. */
	struct e2v_port ports[2] = {{"in", "/proc/e2-cannot-bind.sock", NULL}, L.ports[1]};
	struct e2v_nf_spec s = L.spec;
	s.instance = "e2-live-broken";
	s.ports = ports;
	struct e2_err err = {""};
	assert_int_equal(e2v_start(L.conn, &s, L.accel, 30000, &err), -1);
	print_message("expected error: %s\n", err.msg);
	assert_non_null(strstr(err.msg, "instance e2-live-broken: the domain failed to start"));
	assert_false(defined("e2-live-broken"));
}

static void no_switch_is_explained(void **state)
{
	(void)state;
	/* Nobody connects to the vhost-user sockets: QEMU never finishes starting. */
	struct e2v_nf_spec s = L.spec;
	s.instance = "e2-live-alone";
	struct e2_err err = {""};
	assert_int_equal(e2v_start(L.conn, &s, L.accel, 4000, &err), -1);
	print_message("expected error: %s\n", err.msg);
	assert_non_null(strstr(err.msg, "instance e2-live-alone: the domain did not start within "
					"4000 ms; QEMU waits until every vhost-user peer connects"));
	assert_false(defined("e2-live-alone"));
	struct stat st;
	assert_int_not_equal(stat(L.sock[0], &st), 0); /* no stale socket either */
}

static void never_ready_leaves_nothing(void **state)
{
	(void)state;
	const char *paths[2] = {L.sock[0], L.sock[1]};
	struct vhost_stub *stub = vhost_stub_start(paths, 2);
	struct e2v_nf_spec s = L.spec;
	s.instance = "e2-live-slow";
	struct e2_err err = {""};
	/* A TCG guest needs ~6 s to reach /init: 1.5 s is never enough. On a busy machine the
	 * budget can run out one phase earlier, before QEMU has its vhost-user peers; either
	 * way the start is refused by name and nothing is left behind. */
	assert_int_equal(e2v_start(L.conn, &s, L.accel, 1500, &err), -1);
	print_message("expected error: %s\n", err.msg);
	assert_true(strstr(err.msg, "did not report ready (E2-READY) within 1500 ms") ||
		    strstr(err.msg, "did not start within 1500 ms"));
	assert_false(defined("e2-live-slow"));
	vhost_stub_stop(stub);
}

static void guest_side_failure_is_reported(void **state)
{
	(void)state;
	const char *paths[2] = {L.sock[0], L.sock[1]};
	struct vhost_stub *stub = vhost_stub_start(paths, 2);
	struct e2v_nf_spec s = L.spec;
	s.instance = "e2-live-nonf";
	s.nf = "no-such-nf";
	struct e2_err err = {""};
	assert_int_equal(e2v_start(L.conn, &s, L.accel, 90000, &err), -1);
	print_message("expected error: %s\n", err.msg);
	assert_non_null(strstr(err.msg, "no NF named 'no-such-nf' in this image"));
	assert_false(defined("e2-live-nonf"));
	vhost_stub_stop(stub);
}

int main(void)
{
	if (getuid() != 0) {
		printf("SKIP: needs root to run libvirtd\n");
		return 77;
	}
	const char *img = getenv("E2_IMAGE");
	char path[600];
	snprintf(path, sizeof(path), "%s/images/legacy-nf.initrd",
		 getenv("E2_BINARY_DIR") ? getenv("E2_BINARY_DIR") : ".");
	if (!img && access(path, R_OK)) {
		printf("SKIP: no NF image at %s (build the images part)\n", path);
		return 77;
	}
	const struct CMUnitTest tests[] = {
		cmocka_unit_test_teardown(probe_picks_an_accelerator, remove_mine),
		cmocka_unit_test_teardown(boot_shutdown_restart_remove, remove_mine),
		cmocka_unit_test_teardown(start_failure_leaves_nothing, remove_mine),
		cmocka_unit_test_teardown(no_switch_is_explained, remove_mine),
		cmocka_unit_test_teardown(never_ready_leaves_nothing, remove_mine),
		cmocka_unit_test_teardown(guest_side_failure_is_reported, remove_mine),
	};
	return cmocka_run_group_tests(tests, group_setup, group_teardown);
}
