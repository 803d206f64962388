/* SPDX-License-Identifier: BSD-3-Clause */
/* libe2virt against libvirt's in-process test:///default driver: XML generation,
 * description checks, and the lifecycle with its failure paths. The guest's serial
 * output is played by a thread writing into the log file. */
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <stdint.h>
#include <cmocka.h>

#include <pthread.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include "e2virt.h"

/* set when a check could not run for want of a tool: main() then exits 77 */
static bool validator_missing;

struct fixture {
	char dir[64];
	char image[128], log[128], sock_in[128], sock_out[128];
	struct e2v_port ports[2];
	struct e2v_nf_spec spec;
};

static void write_file(const char *path, const char *text)
{
	FILE *f = fopen(path, "w");
	assert_non_null(f);
	fputs(text, f);
	fclose(f);
}

static int setup(void **state)
{
	struct fixture *fx = calloc(1, sizeof(*fx));
	strcpy(fx->dir, "/tmp/e2virt-test-XXXXXX");
	if (!mkdtemp(fx->dir))
		return -1;
	char p[160];
	snprintf(fx->image, sizeof(fx->image), "%s/nf", fx->dir);
	snprintf(p, sizeof(p), "%s.vmlinuz", fx->image);
	write_file(p, "kernel");
	snprintf(p, sizeof(p), "%s.initrd", fx->image);
	write_file(p, "initrd");
	snprintf(fx->log, sizeof(fx->log), "%s/console.log", fx->dir);
	snprintf(fx->sock_in, sizeof(fx->sock_in), "%s/in.sock", fx->dir);
	snprintf(fx->sock_out, sizeof(fx->sock_out), "%s/out.sock", fx->dir);
	fx->ports[0] = (struct e2v_port){"in", fx->sock_in, NULL};
	fx->ports[1] = (struct e2v_port){"out", fx->sock_out, "52:54:00:aa:bb:cc"};
	fx->spec = (struct e2v_nf_spec){.instance = "e2-test-fw",
					.image = fx->image,
					.nf = "e2-firewall",
					.nf_args = "--rules,/etc/e2/firewall.rules,eth0,eth1",
					.vcpus = 2,
					.memory_mib = 256,
					.ports = fx->ports,
					.n_ports = 2,
					.serial_log = fx->log};
	*state = fx;
	return 0;
}

static int teardown(void **state)
{
	struct fixture *fx = *state;
	char cmd[128];
	snprintf(cmd, sizeof(cmd), "rm -rf '%s'", fx->dir);
	int rc = system(cmd);
	free(fx);
	return rc;
}

static void contains(const char *xml, const char *what)
{
	if (!strstr(xml, what))
		fail_msg("domain XML lacks %s:\n%s", what, xml);
}

static void xml_for_tcg(void **state)
{
	struct fixture *fx = *state;
	struct e2_err err;
	char *xml = e2v_domain_xml(&fx->spec, E2V_ACCEL_TCG, &err);
	assert_non_null(xml);
	contains(xml, "<domain type=\"qemu\">");
	contains(xml, "<name>e2-test-fw</name>");
	contains(xml, "<memory unit=\"MiB\">256</memory>");
	contains(xml, "<vcpu>2</vcpu>");
	contains(xml, "<source type=\"memfd\"/>");
	contains(xml, "<access mode=\"shared\"/>");
	contains(xml, "<acpi/>");
	contains(xml, "pci=nomsi");
	contains(xml, "no_timer_check");
	contains(xml, "e2.nics=2 e2.nf=e2-firewall e2.args=--rules,/etc/e2/firewall.rules,eth0,eth1");
	contains(xml, "<interface type=\"vhostuser\">");
	char want[256];
	snprintf(want, sizeof(want), "<source type=\"unix\" path=\"%s\" mode=\"server\"/>", fx->sock_in);
	contains(xml, want);
	contains(xml, "<mac address=\"52:54:00:aa:bb:cc\"/>");
	contains(xml, "<e2:nf xmlns:e2=\"" E2V_METADATA_NS "\">");
	contains(xml, "<e2:port name=\"out\"");
	snprintf(want, sizeof(want), "<source path=\"%s\" append=\"off\"/>", fx->log);
	contains(xml, want);
	assert_null(strstr(xml, "host-passthrough"));
	/* libvirt's own schema agrees; without the validator (libvirt-clients) the test
     * reports itself skipped and main() exits 77, CTest's skip code */
	bool have_validator = access("/usr/bin/virt-xml-validate", X_OK) == 0;
	if (have_validator) {
		char path[160], cmd[256];
		snprintf(path, sizeof(path), "%s/domain.xml", fx->dir);
		write_file(path, xml);
		snprintf(cmd, sizeof(cmd), "virt-xml-validate '%s' domain >/dev/null 2>&1", path);
		assert_int_equal(system(cmd), 0);
	}
	free(xml);
	if (!have_validator) {
		print_message("virt-xml-validate not installed: schema check skipped\n");
		validator_missing = true;
		skip();
	}
}

static void xml_for_kvm_and_defaults(void **state)
{
	struct fixture *fx = *state;
	struct e2_err err;
	fx->spec.vcpus = 0;
	fx->spec.memory_mib = 0;
	fx->spec.nf = NULL;
	fx->spec.nf_args = NULL;
	char *xml = e2v_domain_xml(&fx->spec, E2V_ACCEL_KVM, &err);
	assert_non_null(xml);
	contains(xml, "<domain type=\"kvm\">");
	contains(xml, "host-passthrough");
	contains(xml, "<memory unit=\"MiB\">128</memory>");
	contains(xml, "<vcpu>1</vcpu>");
	assert_null(strstr(xml, "pci=nomsi"));
	assert_null(strstr(xml, "e2.nf="));
	free(xml);
	assert_null(e2v_domain_xml(&fx->spec, E2V_ACCEL_AUTO, &err));
	assert_non_null(strstr(err.msg, "KVM or TCG"));
}

static void xml_escapes_paths(void **state)
{
	struct fixture *fx = *state;
	char dir[160], sock[200];
	snprintf(dir, sizeof(dir), "%s/a&b<c>", fx->dir);
	assert_int_equal(mkdir(dir, 0755), 0);
	snprintf(sock, sizeof(sock), "%s/s.sock", dir);
	fx->ports[0].socket_path = sock;
	struct e2_err err;
	char *xml = e2v_domain_xml(&fx->spec, E2V_ACCEL_TCG, &err);
	assert_non_null(xml);
	contains(xml, "a&amp;b&lt;c&gt;/s.sock");
	free(xml);
}

static void expect_bad(struct e2v_nf_spec *spec, const char *fragment)
{
	struct e2_err err = {""};
	char *xml = e2v_domain_xml(spec, E2V_ACCEL_TCG, &err);
	if (xml)
		fail_msg("accepted a bad description (wanted '%s')", fragment);
	if (!strstr(err.msg, fragment))
		fail_msg("error '%s' lacks '%s'", err.msg, fragment);
}

static void bad_descriptions_are_named(void **state)
{
	struct fixture *fx = *state;
	struct e2v_nf_spec s = fx->spec;
	s.image = "/nonexistent/nf";
	expect_bad(&s, "image '/nonexistent/nf' is missing: cannot read /nonexistent/nf.vmlinuz");
	s = fx->spec, s.memory_mib = 64;
	expect_bad(&s, "64 MiB of memory is too little (at least 128 MiB)");
	s = fx->spec, s.instance = "bad name";
	expect_bad(&s, "instance name 'bad name'");
	s = fx->spec, s.instance = NULL;
	expect_bad(&s, "instance name '(none)'");
	s = fx->spec, s.vcpus = 65;
	expect_bad(&s, "65 vCPUs");
	s = fx->spec, s.n_ports = 9;
	expect_bad(&s, "9 ports (at most 8)");
	s = fx->spec, s.nf_args = "a b";
	expect_bad(&s, "kernel command line");
	s = fx->spec, s.serial_log = "console.log";
	expect_bad(&s, "serial log 'console.log' must be an absolute path");
	s = fx->spec, s.serial_log = "/nonexistent/dir/console.log";
	expect_bad(&s, "directory '/nonexistent/dir' does not exist");

	struct e2v_port ports[2] = {fx->ports[0], fx->ports[1]};
	s = fx->spec, s.ports = ports;
	ports[1].socket_path = fx->sock_in;
	expect_bad(&s, "ports in and out share a name or socket");
	ports[1] = fx->ports[1], ports[1].mac = "01:00:00:00:00:01";
	expect_bad(&s, "bad unicast MAC '01:00:00:00:00:01'");
	ports[1] = fx->ports[1], ports[1].mac = "52:54:00:00:00";
	expect_bad(&s, "bad unicast MAC");
	ports[1] = fx->ports[1], ports[1].name = "";
	expect_bad(&s, "port 1 needs a name");
	char longpath[200];
	memset(longpath, 'x', sizeof(longpath));
	longpath[0] = '/';
	longpath[sizeof(longpath) - 1] = '\0';
	ports[1] = fx->ports[1], ports[1].socket_path = longpath;
	expect_bad(&s, "is too long (at most 107 characters)");
}

/* ---- lifecycle on test:///default ---- */

struct console_player {
	const char *log;
	const char *text;
	unsigned delay_ms;
};

static void *play_console(void *arg)
{
	struct console_player *p = arg;
	struct timespec ts = {p->delay_ms / 1000, (long)(p->delay_ms % 1000) * 1000000};
	nanosleep(&ts, NULL);
	FILE *f = fopen(p->log, "a");
	if (f) {
		fputs(p->text, f);
		fclose(f);
	}
	return NULL;
}

struct event_log {
	pthread_mutex_t lock;
	char text[2048];
};

static void record_event(void *opaque, const char *instance, enum e2v_event ev, bool is_e2)
{
	struct event_log *l = opaque;
	pthread_mutex_lock(&l->lock);
	size_t n = strlen(l->text);
	snprintf(l->text + n, sizeof(l->text) - n, "%s:%s%s ", instance, e2v_event_name(ev), is_e2 ? ":e2" : "");
	pthread_mutex_unlock(&l->lock);
}

static bool gone(struct e2v_conn *c, const char *instance)
{
	struct e2_err err;
	char **names;
	assert_true(e2v_list(c, &names, &err) >= 0);
	bool listed = false;
	for (char **p = names; *p; p++)
		listed |= !strcmp(*p, instance);
	e2v_names_free(names);
	return !listed && e2v_is_running(c, instance, &err) < 0;
}

static void lifecycle_ready_stop_remove(void **state)
{
	struct fixture *fx = *state;
	struct e2_err err = {""};
	struct e2v_conn *c = e2v_connect("test:///default", &err);
	assert_non_null(c);
	struct event_log events = {.lock = PTHREAD_MUTEX_INITIALIZER};
	assert_int_equal(e2v_events_start(c, record_event, &events, &err), 0);

	/* Stale output from an earlier life must not count as ready. */
	write_file(fx->log, "E2-READY from last time\n");
	struct console_player player = {fx->log, "e2-init: booting\nE2-READY nf=e2-firewall\n", 300};
	pthread_t t;
	pthread_create(&t, NULL, play_console, &player);
	int rc = e2v_start(c, &fx->spec, E2V_ACCEL_TCG, 5000, &err);
	pthread_join(t, NULL);
	if (rc)
		fail_msg("start: %s", err.msg);
	assert_int_equal(e2v_is_running(c, "e2-test-fw", &err), 1);

	char **names;
	assert_int_equal(e2v_list(c, &names, &err), 1); /* the driver's own "test" is no E2 VM */
	assert_string_equal(names[0], "e2-test-fw");
	e2v_names_free(names);

	assert_int_equal(e2v_start(c, &fx->spec, E2V_ACCEL_TCG, 1000, &err), -1);
	assert_non_null(strstr(err.msg, "instance e2-test-fw already exists (running)"));

	assert_int_equal(e2v_stop(c, "e2-test-fw", 500, &err), 0);
	assert_int_equal(e2v_is_running(c, "e2-test-fw", &err), 0); /* still defined */
	assert_int_equal(e2v_remove(c, "e2-test-fw", &err), 0);
	assert_true(gone(c, "e2-test-fw"));
	assert_int_equal(e2v_remove(c, "e2-test-fw", &err), -1);
	assert_non_null(strstr(err.msg, "no instance named e2-test-fw"));

	for (int i = 0; i < 250; i++) {
		pthread_mutex_lock(&events.lock);
		bool seen = strstr(events.text, "undefined") != NULL;
		pthread_mutex_unlock(&events.lock);
		if (seen)
			break;
		usleep(20000);
	}
	e2v_events_stop(c);
	assert_non_null(strstr(events.text, "e2-test-fw:defined:e2"));
	assert_non_null(strstr(events.text, "e2-test-fw:started:e2"));
	assert_non_null(strstr(events.text, "e2-test-fw:stopped:e2"));
	assert_non_null(strstr(events.text, "e2-test-fw:undefined:e2"));
	e2v_disconnect(c);
}

static void never_ready_leaves_nothing(void **state)
{
	struct fixture *fx = *state;
	struct e2_err err;
	struct e2v_conn *c = e2v_connect("test:///default", &err);
	assert_non_null(c);
	struct console_player player = {fx->log, "e2-init: booting\nstill booting\n", 50};
	pthread_t t;
	pthread_create(&t, NULL, play_console, &player);
	assert_int_equal(e2v_start(c, &fx->spec, E2V_ACCEL_TCG, 600, &err), -1);
	pthread_join(t, NULL);
	assert_non_null(strstr(err.msg, "instance e2-test-fw: the VM did not report ready "
					"(E2-READY) within 600 ms"));
	assert_non_null(strstr(err.msg, "still booting"));
	assert_true(gone(c, "e2-test-fw"));
	e2v_disconnect(c);
}

static void nf_failure_in_guest_leaves_nothing(void **state)
{
	struct fixture *fx = *state;
	struct e2_err err;
	struct e2v_conn *c = e2v_connect("test:///default", &err);
	assert_non_null(c);
	struct console_player player = {fx->log, "E2-FAILED no NF named 'x' in this image\n", 100};
	pthread_t t;
	pthread_create(&t, NULL, play_console, &player);
	assert_int_equal(e2v_start(c, &fx->spec, E2V_ACCEL_TCG, 5000, &err), -1);
	pthread_join(t, NULL);
	assert_non_null(strstr(err.msg, "the NF failed to start in the VM: E2-FAILED no NF named"));
	assert_true(gone(c, "e2-test-fw"));
	e2v_disconnect(c);
}

static void missing_image_creates_nothing(void **state)
{
	struct fixture *fx = *state;
	struct e2_err err;
	struct e2v_conn *c = e2v_connect("test:///default", &err);
	assert_non_null(c);
	fx->spec.image = "/nonexistent/legacy-nf";
	assert_int_equal(e2v_start(c, &fx->spec, E2V_ACCEL_TCG, 1000, &err), -1);
	assert_non_null(strstr(err.msg, "image '/nonexistent/legacy-nf' is missing"));
	assert_true(gone(c, "e2-test-fw"));
	e2v_disconnect(c);
}

/* The owner goes into the metadata and comes back out of it; a stopped domain says why. */
static void server_and_shutoff_reason(void **state)
{
	struct fixture *fx = *state;
	struct e2_err err = {""};
	fx->spec.server = "srv-a";
	char *xml = e2v_domain_xml(&fx->spec, E2V_ACCEL_TCG, &err);
	assert_non_null(xml);
	contains(xml, "<e2:server>srv-a</e2:server>");
	free(xml);
	struct e2v_nf_spec bad = fx->spec;
	bad.server = "srv a";
	assert_int_equal(e2v_spec_check(&bad, &err), -1);
	assert_non_null(strstr(err.msg, "server name 'srv a' must be"));

	struct e2v_conn *c = e2v_connect("test:///default", &err);
	assert_non_null(c);
	struct console_player player = {fx->log, "E2-READY nf=e2-firewall\n", 100};
	pthread_t t;
	pthread_create(&t, NULL, play_console, &player);
	int rc = e2v_start(c, &fx->spec, E2V_ACCEL_TCG, 5000, &err);
	pthread_join(t, NULL);
	if (rc)
		fail_msg("start: %s", err.msg);
	char server[65] = "x";
	assert_int_equal(e2v_server_of(c, "e2-test-fw", server, sizeof(server), &err), 1);
	assert_string_equal(server, "srv-a");
	assert_int_equal(e2v_server_of(c, "test", server, sizeof(server), &err), 0); /* the driver's own */
	assert_int_equal(e2v_server_of(c, "no-such-domain", server, sizeof(server), &err), -1);
	enum e2v_off why = E2V_OFF_OTHER;
	assert_int_equal(e2v_state(c, "e2-test-fw", &why, &err), 1);
	assert_int_equal(why, E2V_OFF_NOT);
	assert_int_equal(e2v_stop(c, "e2-test-fw", 500, &err), 0);
	assert_int_equal(e2v_state(c, "e2-test-fw", &why, &err), 0);
	assert_string_equal(e2v_off_name(why), "shut down");
	assert_int_equal(e2v_remove(c, "e2-test-fw", &err), 0);
	assert_int_equal(e2v_state(c, "e2-test-fw", &why, &err), -1);
	e2v_disconnect(c);
}

static void bad_uri_is_explained(void **state)
{
	(void)state;
	struct e2_err err;
	assert_null(e2v_connect("bogus:///nowhere", &err));
	assert_non_null(strstr(err.msg, "cannot connect to libvirt at bogus:///nowhere"));
}

/* One newc entry read back: its name, mode and data; the offset past it, or 0. */
static size_t newc_next(const char *b, size_t len, size_t off, char *name, unsigned *mode, const char **data,
			unsigned *size)
{
	if (off + 110 > len || memcmp(b + off, "070701", 6))
		return 0;
	char f[9] = {0};
	memcpy(f, b + off + 14, 8);
	*mode = (unsigned)strtoul(f, NULL, 16);
	memcpy(f, b + off + 54, 8);
	*size = (unsigned)strtoul(f, NULL, 16);
	memcpy(f, b + off + 94, 8);
	unsigned nlen = (unsigned)strtoul(f, NULL, 16);
	memcpy(name, b + off + 110, nlen);
	size_t p = (off + 110 + nlen + 3) & ~(size_t)3;
	*data = b + p;
	return (p + *size + 3) & ~(size_t)3;
}

/* An instance's own initrd: the image's bytes, then (4-byte aligned) an archive of the
 * directory under etc/e2/instance, files 0600 and directories 0700, in name order; links
 * and special files refused; --initrd goes into the XML and must exist. */
static void instance_initrd(void **state)
{
	struct fixture *fx = *state;
	char dir[160], p[224], out[160];
	struct e2_err err = {""};
	snprintf(dir, sizeof(dir), "%s/inst", fx->dir);
	snprintf(p, sizeof(p), "%s/sub", dir);
	assert_int_equal(mkdir(dir, 0700), 0);
	assert_int_equal(mkdir(p, 0755), 0);
	snprintf(p, sizeof(p), "%s/gw.key", dir);
	write_file(p, "00112233");
	snprintf(p, sizeof(p), "%s/sub/rules.txt", dir);
	write_file(p, "deny all\n");
	snprintf(out, sizeof(out), "%s/nf-0.initrd", fx->dir);
	assert_int_equal(e2v_instance_initrd(fx->image, dir, out, NULL, &err), 0);
	struct stat st;
	assert_int_equal(stat(out, &st), 0);
	assert_int_equal(st.st_mode & 0777, 0600);
	FILE *f = fopen(out, "rb");
	assert_non_null(f);
	static char b[8192];
	size_t len = fread(b, 1, sizeof(b), f);
	fclose(f);
	assert_memory_equal(b, "initrd", 6);   /* the image's archive first */
	assert_memory_equal(b + 6, "\0\0", 2); /* NULs up to a 4-byte boundary */
	const char *want[] = {"etc",
			      "etc/e2",
			      "etc/e2/instance",
			      "etc/e2/instance/gw.key",
			      "etc/e2/instance/sub",
			      "etc/e2/instance/sub/rules.txt",
			      "TRAILER!!!"};
	const unsigned modes[] = {040755, 040755, 040700, 0100600, 040700, 0100600, 0};
	size_t off = 8;
	for (size_t i = 0; i < sizeof(want) / sizeof(want[0]); i++) {
		char name[256] = "";
		unsigned mode, size;
		const char *data;
		off = newc_next(b, len, off, name, &mode, &data, &size);
		assert_true(off > 0);
		assert_string_equal(name, want[i]);
		assert_int_equal(mode, modes[i]);
		if (i == 3)
			assert_memory_equal(data, "00112233", size);
	}
	assert_int_equal(off, len);
	/* the XML takes it; a missing one is refused */
	fx->spec.initrd = out;
	char *xml = e2v_domain_xml(&fx->spec, E2V_ACCEL_TCG, &err);
	assert_non_null(xml);
	snprintf(p, sizeof(p), "<initrd>%s</initrd>", out);
	contains(xml, p);
	free(xml);
	fx->spec.initrd = "/nonexistent/x.initrd";
	assert_null(e2v_domain_xml(&fx->spec, E2V_ACCEL_TCG, &err));
	assert_non_null(strstr(err.msg, "initrd"));
	/* refusals leave OUT as it was */
	snprintf(p, sizeof(p), "%s/link", dir);
	assert_int_equal(symlink("/etc/passwd", p), 0);
	assert_int_equal(e2v_instance_initrd(fx->image, dir, out, NULL, &err), -1);
	assert_non_null(strstr(err.msg, "links are refused"));
	assert_int_equal(stat(out, &st), 0);
	assert_int_equal((size_t)st.st_size, len);
	unlink(p);
	snprintf(p, sizeof(p), "%s/fifo", dir);
	assert_int_equal(mkfifo(p, 0600), 0);
	assert_int_equal(e2v_instance_initrd(fx->image, dir, out, NULL, &err), -1);
	unlink(p);
	snprintf(p, sizeof(p), "%s/none", fx->dir);
	assert_int_equal(e2v_instance_initrd(fx->image, p, out, NULL, &err), -1);
	assert_non_null(strstr(err.msg, "is not a directory"));
	assert_int_equal(e2v_instance_initrd(fx->image, dir, out, "no-such-user-e2", &err), -1);
	assert_non_null(strstr(err.msg, "no-such-user-e2"));
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test_setup_teardown(xml_for_tcg, setup, teardown),
		cmocka_unit_test_setup_teardown(xml_for_kvm_and_defaults, setup, teardown),
		cmocka_unit_test_setup_teardown(xml_escapes_paths, setup, teardown),
		cmocka_unit_test_setup_teardown(bad_descriptions_are_named, setup, teardown),
		cmocka_unit_test_setup_teardown(instance_initrd, setup, teardown),
		cmocka_unit_test_setup_teardown(lifecycle_ready_stop_remove, setup, teardown),
		cmocka_unit_test_setup_teardown(never_ready_leaves_nothing, setup, teardown),
		cmocka_unit_test_setup_teardown(nf_failure_in_guest_leaves_nothing, setup, teardown),
		cmocka_unit_test_setup_teardown(missing_image_creates_nothing, setup, teardown),
		cmocka_unit_test_setup_teardown(server_and_shutoff_reason, setup, teardown),
		cmocka_unit_test(bad_uri_is_explained),
	};
	int failed = cmocka_run_group_tests(tests, NULL, NULL);
	return failed ? failed : validator_missing ? 77 : 0;
}
