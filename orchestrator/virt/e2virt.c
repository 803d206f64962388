/* SPDX-License-Identifier: BSD-3-Clause */
#include "e2virt.h"
#include "e2/file.h"

#include <ctype.h>
#include <errno.h>
#include <fcntl.h>
#include <libvirt/libvirt.h>
#include <libvirt/virterror.h>
#include <libxml/parser.h>
#include <libxml/tree.h>
#include <libxml/xmlwriter.h>
#include <pthread.h>
#include <stdarg.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#define READY_MARK "E2-READY"
#define FAILED_MARK "E2-FAILED"
#define FIRST_LINE_MARK "e2-init:" /* the image's /init prints this first */

struct e2v_conn {
	virConnectPtr conn;
	/* event watcher */
	pthread_t thread;
	bool events_running;
	_Atomic int events_quit;
	int callback_id;
	int wake_timer;
	e2v_event_fn fn;
	void *opaque;
	/* E2 domains seen by the event thread (only it touches this): a domain may be
     * undefined before its "stopped" event is delivered, and then its metadata is gone. */
	char known_e2[64][65];
	unsigned n_known_e2;
};

static const char *virt_msg(void)
{
	const char *m = virGetLastErrorMessage();
	return m ? m : "unknown libvirt error";
}

static void quiet_libvirt(void *opaque, virErrorPtr e)
{
	(void)opaque;
	(void)e;
}

static void libvirt_init_once(void)
{
	virInitialize();
	virSetErrorFunc(NULL, quiet_libvirt); /* errors go into struct e2_err instead */
	virEventRegisterDefaultImpl();        /* must precede virConnectOpen for events */
}

static pthread_once_t init_once = PTHREAD_ONCE_INIT;

static uint64_t now_ms(void)
{
	struct timespec ts;
	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (uint64_t)ts.tv_sec * 1000 + (uint64_t)ts.tv_nsec / 1000000;
}

static void sleep_ms(unsigned ms)
{
	struct timespec ts = {ms / 1000, (long)(ms % 1000) * 1000000};
	nanosleep(&ts, NULL);
}

/* ---------- description checks ---------- */

static bool all_chars(const char *s, const char *extra)
{
	for (; *s; s++) {
		char ch = *s;
		if (!((ch >= 'a' && ch <= 'z') || (ch >= 'A' && ch <= 'Z') || (ch >= '0' && ch <= '9') ||
		      strchr(extra, ch)))
			return false;
	}
	return true;
}

static bool readable_file(const char *path)
{
	struct stat st;
	return stat(path, &st) == 0 && S_ISREG(st.st_mode) && access(path, R_OK) == 0;
}

/* "52:54:00:12:34:56": six pairs of hex digits, the group bit of the first clear. */
static bool is_unicast_mac(const char *s)
{
	if (strlen(s) != 17)
		return false;
	for (int i = 0; i < 17; i++)
		if (i % 3 == 2 ? s[i] != ':' : !isxdigit((unsigned char)s[i]))
			return false;
	unsigned first = (unsigned)strtoul(s, NULL, 16); /* stops at the first ':' */
	return (first & 1) == 0;
}

static int check_abs_path(const char *what, const char *p, size_t max, struct e2_err *err)
{
	if (!p || p[0] != '/') {
		e2_seterr(err, "%s '%s' must be an absolute path", what, p ? p : "(none)");
		return -1;
	}
	if (strlen(p) >= max) {
		e2_seterr(err, "%s '%s' is too long (at most %zu characters)", what, p, max - 1);
		return -1;
	}
	if (strpbrk(p, "\n\r")) {
		e2_seterr(err, "%s contains a line break", what);
		return -1;
	}
	char dir[4096];
	snprintf(dir, sizeof(dir), "%s", p);
	char *slash = strrchr(dir, '/');
	if (slash == dir)
		slash[1] = '\0';
	else
		*slash = '\0';
	struct stat st;
	if (stat(dir, &st) || !S_ISDIR(st.st_mode)) {
		e2_seterr(err, "%s '%s': directory '%s' does not exist", what, p, dir);
		return -1;
	}
	return 0;
}

int e2v_spec_check(const struct e2v_nf_spec *s, struct e2_err *err)
{
	if (!s->instance || !*s->instance || strlen(s->instance) > 64 || !all_chars(s->instance, "_.-") ||
	    s->instance[0] == '-' || s->instance[0] == '.') {
		e2_seterr(err, "instance name '%s' must be 1-64 of A-Z a-z 0-9 _ . - (not starting with . or -)",
			  s->instance ? s->instance : "(none)");
		return -1;
	}
	if (!s->image || !*s->image) {
		e2_seterr(err, "instance %s: no image given", s->instance);
		return -1;
	}
	char path[4096];
	const char *suffixes[] = {".vmlinuz", ".initrd"};
	for (int i = 0; i < 2; i++) {
		snprintf(path, sizeof(path), "%s%s", s->image, suffixes[i]);
		if (!readable_file(path)) {
			e2_seterr(err,
				  "instance %s: image '%s' is missing: cannot read %s (build it with "
				  "images/build-nf-image)",
				  s->instance, s->image, path);
			return -1;
		}
	}
	if (s->control_socket && (s->control_socket[0] != '/' || strlen(s->control_socket) > 107)) {
		e2_seterr(err, "instance %s: control socket '%s' must be an absolute path of at most 107 bytes",
			  s->instance, s->control_socket);
		return -1;
	}
	if (s->initrd && (s->initrd[0] != '/' || !readable_file(s->initrd))) {
		e2_seterr(err, "instance %s: initrd '%s' must be a readable file by absolute path", s->instance,
			  s->initrd);
		return -1;
	}
	if (s->image[0] != '/') {
		e2_seterr(err, "instance %s: image '%s' must be an absolute path", s->instance, s->image);
		return -1;
	}
	const char *cmd_chars = "_.,/=:+-@%";
	if ((s->nf && (!*s->nf || !all_chars(s->nf, "_.-"))) || (s->nf_args && !all_chars(s->nf_args, cmd_chars))) {
		e2_seterr(err,
			  "instance %s: NF name or arguments contain characters that cannot go on "
			  "a kernel command line",
			  s->instance);
		return -1;
	}
	if (s->extra_cmdline && strpbrk(s->extra_cmdline, "\n\r<>&'\"")) {
		e2_seterr(err, "instance %s: extra kernel command line has forbidden characters", s->instance);
		return -1;
	}
	if (s->vcpus > 64) {
		e2_seterr(err, "instance %s: %u vCPUs is more than 64", s->instance, s->vcpus);
		return -1;
	}
	if (s->memory_mib && s->memory_mib < E2V_MIN_MEMORY_MIB) {
		e2_seterr(err, "instance %s: %u MiB of memory is too little (at least %d MiB)", s->instance,
			  s->memory_mib, E2V_MIN_MEMORY_MIB);
		return -1;
	}
	if (s->memory_mib > 1024 * 1024) {
		e2_seterr(err, "instance %s: %u MiB of memory is more than 1 TiB", s->instance, s->memory_mib);
		return -1;
	}
	if (s->n_ports > E2V_MAX_PORTS || (s->n_ports && !s->ports)) {
		e2_seterr(err, "instance %s: %u ports (at most %d)", s->instance, s->n_ports, E2V_MAX_PORTS);
		return -1;
	}
	for (unsigned i = 0; i < s->n_ports; i++) {
		const struct e2v_port *p = &s->ports[i];
		if (!p->name || !*p->name || strlen(p->name) > 32 || !all_chars(p->name, "_-")) {
			e2_seterr(err, "instance %s: port %u needs a name of 1-32 of A-Z a-z 0-9 _ -", s->instance, i);
			return -1;
		}
		char what[96];
		snprintf(what, sizeof(what), "instance %s port %s: socket", s->instance, p->name);
		if (check_abs_path(what, p->socket_path, 108, err)) /* sun_path */
			return -1;
		if (p->mac) {
			if (!is_unicast_mac(p->mac)) {
				e2_seterr(err, "instance %s port %s: bad unicast MAC '%s'", s->instance, p->name,
					  p->mac);
				return -1;
			}
		}
		for (unsigned j = 0; j < i; j++) {
			if (!strcmp(s->ports[j].name, p->name) || !strcmp(s->ports[j].socket_path, p->socket_path)) {
				e2_seterr(err, "instance %s: ports %s and %s share a name or socket", s->instance,
					  s->ports[j].name, p->name);
				return -1;
			}
		}
	}
	if (s->server && (!*s->server || strlen(s->server) > 64 || !all_chars(s->server, "_.-"))) {
		e2_seterr(err, "instance %s: server name '%s' must be 1-64 of A-Z a-z 0-9 _ . -", s->instance,
			  s->server);
		return -1;
	}
	char what[96];
	snprintf(what, sizeof(what), "instance %s: serial log", s->instance);
	return check_abs_path(what, s->serial_log, 4096, err);
}

/* ---------- domain XML ---------- */

static void derived_mac(const char *instance, unsigned port, char out[18])
{
	uint32_t h = 2166136261u; /* FNV-1a: stable across runs and builds */
	for (const char *p = instance; *p; p++)
		h = (h ^ (uint8_t)*p) * 16777619u;
	snprintf(out, 18, "52:54:00:%02x:%02x:%02x", (h >> 16) & 0xff, (h >> 8) & 0xff,
		 (unsigned)((h & 0xf0) | (port & 0x0f)));
}

#define W(call)                    \
	do {                       \
		if ((call) < 0)    \
			goto fail; \
	} while (0)

static int write_el(xmlTextWriterPtr w, const char *name, const char *text)
{
	return xmlTextWriterWriteElement(w, BAD_CAST name, BAD_CAST text);
}

static int write_attr(xmlTextWriterPtr w, const char *name, const char *value)
{
	return xmlTextWriterWriteAttribute(w, BAD_CAST name, BAD_CAST value);
}

static int start_el(xmlTextWriterPtr w, const char *name)
{
	return xmlTextWriterStartElement(w, BAD_CAST name);
}

static int end_el(xmlTextWriterPtr w)
{
	return xmlTextWriterEndElement(w);
}

/* <el a1=v1 .../> with NULL-terminated attribute pairs */
static int empty_el(xmlTextWriterPtr w, const char *name, ...)
{
	if (start_el(w, name) < 0)
		return -1;
	va_list ap;
	va_start(ap, name);
	for (const char *a; (a = va_arg(ap, const char *));) {
		const char *v = va_arg(ap, const char *);
		if (write_attr(w, a, v) < 0) {
			va_end(ap);
			return -1;
		}
	}
	va_end(ap);
	return end_el(w);
}

static int write_metadata(xmlTextWriterPtr w, const struct e2v_nf_spec *s, enum e2v_accel accel)
{
	W(start_el(w, "metadata"));
	W(xmlTextWriterStartElementNS(w, BAD_CAST E2V_METADATA_PREFIX, BAD_CAST "nf", BAD_CAST E2V_METADATA_NS));
	W(xmlTextWriterWriteElementNS(w, BAD_CAST E2V_METADATA_PREFIX, BAD_CAST "instance", NULL,
				      BAD_CAST s->instance));
	/* the owner, so that an agent (and the hook) tell its own domains from other servers' */
	if (s->server && *s->server)
		W(xmlTextWriterWriteElementNS(w, BAD_CAST E2V_METADATA_PREFIX, BAD_CAST "server", NULL,
					      BAD_CAST s->server));
	W(xmlTextWriterWriteElementNS(w, BAD_CAST E2V_METADATA_PREFIX, BAD_CAST "nf-type", NULL,
				      BAD_CAST(s->nf ? s->nf : "default")));
	W(xmlTextWriterWriteElementNS(w, BAD_CAST E2V_METADATA_PREFIX, BAD_CAST "image", NULL, BAD_CAST s->image));
	W(xmlTextWriterWriteElementNS(w, BAD_CAST E2V_METADATA_PREFIX, BAD_CAST "accel", NULL,
				      BAD_CAST(accel == E2V_ACCEL_KVM ? "kvm" : "tcg")));
	for (unsigned i = 0; i < s->n_ports; i++) {
		W(xmlTextWriterStartElementNS(w, BAD_CAST E2V_METADATA_PREFIX, BAD_CAST "port", NULL));
		W(write_attr(w, "name", s->ports[i].name));
		W(write_attr(w, "socket", s->ports[i].socket_path));
		W(end_el(w));
	}
	W(end_el(w));
	W(end_el(w));
	return 0;
fail:
	return -1;
}

static void build_cmdline(const struct e2v_nf_spec *s, enum e2v_accel accel, char *out, size_t len)
{
	int n = snprintf(out, len, "console=ttyS0 quiet panic=-1 e2.nics=%u", s->n_ports);
	if (s->nf)
		n += snprintf(out + n, len - (size_t)n, " e2.nf=%s", s->nf);
	if (s->nf_args)
		n += snprintf(out + n, len - (size_t)n, " e2.args=%s", s->nf_args);
	if (accel == E2V_ACCEL_TCG) /* QEMU 7.2 TCG crashes setting up vhost-user MSI-X */
		n += snprintf(out + n, len - (size_t)n, " pci=nomsi");
	/* On a loaded host an emulated CPU may not see the timer tick during the kernel's
     * IO-APIC timer check, which then panics at boot (seen under TCG with both cores
     * busy); the check proves nothing about a virtual timer. */
	n += snprintf(out + n, len - (size_t)n, " no_timer_check");
	if (s->extra_cmdline && *s->extra_cmdline)
		snprintf(out + n, len - (size_t)n, " %s", s->extra_cmdline);
}

char *e2v_domain_xml(const struct e2v_nf_spec *s, enum e2v_accel accel, struct e2_err *err)
{
	if (accel != E2V_ACCEL_KVM && accel != E2V_ACCEL_TCG) {
		e2_seterr(err, "instance %s: accelerator must be KVM or TCG (probe first)",
			  s->instance ? s->instance : "?");
		return NULL;
	}
	if (e2v_spec_check(s, err))
		return NULL;
	xmlBufferPtr buf = xmlBufferCreate();
	xmlTextWriterPtr w = buf ? xmlNewTextWriterMemory(buf, 0) : NULL;
	if (!w) {
		if (buf)
			xmlBufferFree(buf);
		e2_seterr(err, "out of memory");
		return NULL;
	}
	char num[32], path[4200], cmdline[2048], mac[18];
	xmlTextWriterSetIndent(w, 1);
	xmlTextWriterSetIndentString(w, BAD_CAST "  ");
	W(start_el(w, "domain"));
	W(write_attr(w, "type", accel == E2V_ACCEL_KVM ? "kvm" : "qemu"));
	W(write_el(w, "name", s->instance));
	W(write_el(w, "title", "E2 NF instance"));
	W(write_metadata(w, s, accel));
	snprintf(num, sizeof(num), "%u", s->memory_mib ? s->memory_mib : E2V_MIN_MEMORY_MIB);
	W(start_el(w, "memory"));
	W(write_attr(w, "unit", "MiB"));
	W(xmlTextWriterWriteString(w, BAD_CAST num));
	W(end_el(w));
	/* vhost-user needs guest memory the switch can map: memfd, shared. */
	W(start_el(w, "memoryBacking"));
	W(empty_el(w, "source", "type", "memfd", NULL));
	W(empty_el(w, "access", "mode", "shared", NULL));
	W(end_el(w));
	snprintf(num, sizeof(num), "%u", s->vcpus ? s->vcpus : 1);
	W(write_el(w, "vcpu", num));
	W(start_el(w, "os"));
	W(start_el(w, "type"));
	W(write_attr(w, "arch", "x86_64"));
	W(write_attr(w, "machine", "q35"));
	W(xmlTextWriterWriteString(w, BAD_CAST "hvm"));
	W(end_el(w));
	snprintf(path, sizeof(path), "%s.vmlinuz", s->image);
	W(write_el(w, "kernel", path));
	if (s->initrd)
		snprintf(path, sizeof(path), "%s", s->initrd);
	else
		snprintf(path, sizeof(path), "%s.initrd", s->image);
	W(write_el(w, "initrd", path));
	build_cmdline(s, accel, cmdline, sizeof(cmdline));
	W(write_el(w, "cmdline", cmdline));
	W(end_el(w));
	/* Without ACPI a guest poweroff only halts and the domain stays "running". */
	W(start_el(w, "features"));
	W(empty_el(w, "acpi", NULL));
	W(end_el(w));
	if (accel == E2V_ACCEL_KVM) {
		W(empty_el(w, "cpu", "mode", "host-passthrough", NULL));
	} else {
		/* TCG's default vCPU (qemu64) lacks SSE4.2, which Debian's DPDK needs (built
		 * for corei7): native NFs in VMs (the native-nf image) die with SIGILL on it */
		W(start_el(w, "cpu"));
		W(write_attr(w, "mode", "custom"));
		W(write_attr(w, "match", "exact"));
		W(write_attr(w, "check", "none"));
		W(start_el(w, "model"));
		W(write_attr(w, "fallback", "forbid"));
		W(xmlTextWriterWriteString(w, BAD_CAST "Nehalem"));
		W(end_el(w));
		W(end_el(w));
	}
	W(empty_el(w, "clock", "offset", "utc", NULL));
	W(write_el(w, "on_poweroff", "destroy"));
	W(write_el(w, "on_reboot", "destroy"));
	W(write_el(w, "on_crash", "destroy"));
	W(start_el(w, "devices"));
	for (unsigned i = 0; i < s->n_ports; i++) {
		const struct e2v_port *p = &s->ports[i];
		W(start_el(w, "interface"));
		W(write_attr(w, "type", "vhostuser"));
		if (!p->mac)
			derived_mac(s->instance, i, mac);
		W(empty_el(w, "mac", "address", p->mac ? p->mac : mac, NULL));
		/* QEMU listens, E2D connects: E2D can restart and reconnect under the VM. */
		W(empty_el(w, "source", "type", "unix", "path", p->socket_path, "mode", "server", NULL));
		W(empty_el(w, "model", "type", "virtio", NULL));
		W(empty_el(w, "rom", "enabled", "no", NULL)); /* no iPXE: faster boot */
		W(end_el(w));
	}
	if (s->control_socket) {
		W(start_el(w, "channel"));
		W(write_attr(w, "type", "unix"));
		W(empty_el(w, "source", "mode", "bind", "path", s->control_socket, NULL));
		W(empty_el(w, "target", "type", "virtio", "name", E2V_CONTROL_PORT, NULL));
		W(end_el(w));
	}
	W(start_el(w, "serial"));
	W(write_attr(w, "type", "file"));
	W(empty_el(w, "source", "path", s->serial_log, "append", "off", NULL));
	W(empty_el(w, "target", "port", "0", NULL));
	W(end_el(w));
	W(empty_el(w, "memballoon", "model", "none", NULL));
	W(end_el(w)); /* devices */
	W(end_el(w)); /* domain */
	W(xmlTextWriterEndDocument(w));
	xmlFreeTextWriter(w);
	char *xml = strdup((const char *)xmlBufferContent(buf));
	xmlBufferFree(buf);
	if (!xml)
		e2_seterr(err, "out of memory");
	return xml;
fail:
	xmlFreeTextWriter(w);
	xmlBufferFree(buf);
	e2_seterr(err, "instance %s: writing domain XML failed", s->instance);
	return NULL;
}

/* ---------- connection ---------- */

struct e2v_conn *e2v_connect(const char *uri, struct e2_err *err)
{
	pthread_once(&init_once, libvirt_init_once);
	struct e2v_conn *c = calloc(1, sizeof(*c));
	if (!c) {
		e2_seterr(err, "out of memory");
		return NULL;
	}
	c->callback_id = -1;
	c->wake_timer = -1;
	c->conn = virConnectOpen(uri);
	if (!c->conn) {
		e2_seterr(err,
			  "cannot connect to libvirt at %s: %s (is libvirtd running? ci/libvirt-up "
			  "starts one)",
			  uri ? uri : "(default)", virt_msg());
		free(c);
		return NULL;
	}
	return c;
}

void e2v_disconnect(struct e2v_conn *c)
{
	if (!c)
		return;
	e2v_events_stop(c);
	virConnectClose(c->conn);
	free(c);
}

enum e2v_accel e2v_accel_from_env(void)
{
	const char *v = getenv("E2_ACCEL");
	if (v && !strcmp(v, "kvm"))
		return E2V_ACCEL_KVM;
	if (v && !strcmp(v, "tcg"))
		return E2V_ACCEL_TCG;
	return E2V_ACCEL_AUTO;
}

/* ---------- serial log ---------- */

/* Reads the whole log (bounded); NULL if absent. */
static char *read_log(const char *path, size_t *len)
{
	/* Keep only the last MiB: the marker lines come late, after kernel messages. */
	char *buf = e2_read_file_tail(path, 1 << 20, len, NULL);
	if (!buf)
		return NULL;
	for (size_t i = 0; i < *len; i++) /* NULs from the console must not cut the search */
		if (!buf[i])
			buf[i] = ' ';
	return buf;
}

/* The last `lines` lines of the log, flattened onto one line, for error messages. */
static void log_tail(const char *path, int lines, char *out, size_t len)
{
	size_t n = 0;
	char *buf = read_log(path, &n);
	if (!buf) {
		snprintf(out, len, "(no serial output at %s)", path);
		return;
	}
	while (n && (buf[n - 1] == '\n' || buf[n - 1] == '\r'))
		buf[--n] = '\0';
	char *start = buf + n;
	for (int seen = 0; start > buf; start--) {
		if (start[-1] == '\n' && ++seen == lines)
			break;
	}
	size_t o = 0;
	for (char *p = start; *p && o + 2 < len; p++) {
		if (*p == '\r' || (*p < ' ' && *p != '\n'))
			continue;
		out[o++] = *p == '\n' ? '|' : *p;
	}
	out[o] = '\0';
	if (!o)
		snprintf(out, len, "(empty serial log %s)", path);
	free(buf);
}

/* 1 when `mark` is in the log, -1 when FAILED_MARK is, 0 when neither (yet). */
static int log_state(const char *path, const char *mark)
{
	size_t n = 0;
	char *buf = read_log(path, &n);
	if (!buf)
		return 0;
	int r = strstr(buf, mark) ? 1 : strstr(buf, FAILED_MARK) ? -1 : 0;
	free(buf);
	return r;
}

/* Waits until `deadline` (monotonic ms); timeout_ms is the whole budget, for the message. */
static int wait_mark(virDomainPtr dom, const char *instance, const char *log, const char *mark, uint64_t deadline,
		     unsigned timeout_ms, struct e2_err *err)
{
	char tail[700];
	for (;;) {
		int st = log_state(log, mark);
		if (st > 0)
			return 0;
		if (st < 0) {
			log_tail(log, 3, tail, sizeof(tail));
			e2_seterr(err, "instance %s: the NF failed to start in the VM: %s", instance, tail);
			return -1;
		}
		int active = virDomainIsActive(dom);
		if (active <= 0) {
			log_tail(log, 4, tail, sizeof(tail));
			e2_seterr(err,
				  "instance %s: the VM stopped before it was ready; last console "
				  "lines: %s",
				  instance, tail);
			return -1;
		}
		if (now_ms() >= deadline) {
			log_tail(log, 4, tail, sizeof(tail));
			e2_seterr(err,
				  "instance %s: the VM did not report ready (%s) within %u ms; last "
				  "console lines: %s",
				  instance, mark, timeout_ms, tail);
			return -1;
		}
		sleep_ms(100);
	}
}

/* ---------- lifecycle ---------- */

static void unlink_sockets(const struct e2v_nf_spec *s)
{
	for (unsigned i = 0; i < s->n_ports; i++) {
		struct stat st;
		if (lstat(s->ports[i].socket_path, &st) == 0 && S_ISSOCK(st.st_mode))
			unlink(s->ports[i].socket_path);
	}
}

/* libvirt gives up on a QEMU that does not die within about 15 s (EBUSY), which a
 * guest spinning in a broken KVM or a loaded host can take: ask again until the
 * domain is inactive or the time is up. 0 once inactive. */
static int destroy_within(virDomainPtr dom, unsigned timeout_ms)
{
	uint64_t deadline = now_ms() + timeout_ms;
	for (;;) {
		int active = virDomainIsActive(dom);
		if (active != 1)
			return active == 0 || virGetLastErrorCode() == VIR_ERR_NO_DOMAIN ? 0 : -1;
		if (virDomainDestroy(dom) == 0)
			return 0;
		if (virGetLastErrorCode() == VIR_ERR_NO_DOMAIN)
			return 0; /* a transient domain that is gone */
		if (now_ms() >= deadline)
			return -1;
		sleep_ms(500);
	}
}

#define DESTROY_TIMEOUT_MS 60000

/* Hard stop and undefine, ignoring what is already gone (the caller has already
 * recorded the error that made it tear down). */
static void tear_down(virDomainPtr dom)
{
	destroy_within(dom, DESTROY_TIMEOUT_MS);
	if (virDomainIsPersistent(dom) == 1)
		virDomainUndefine(dom);
}

/* virDomainCreate on a thread of its own: QEMU does not finish starting until every
 * vhost-user peer has connected, so without E2D the call would block for good. */
struct create_job {
	virDomainPtr dom;
	pthread_mutex_t lock;
	pthread_cond_t done_cv;
	bool done;
	int rc;
	char msg[512];
};

static void *create_thread(void *arg)
{
	struct create_job *j = arg;
	int rc = virDomainCreate(j->dom);
	pthread_mutex_lock(&j->lock);
	j->rc = rc;
	if (rc < 0)
		snprintf(j->msg, sizeof(j->msg), "%s", virt_msg());
	j->done = true;
	pthread_cond_signal(&j->done_cv);
	pthread_mutex_unlock(&j->lock);
	return NULL;
}

static void ports_list(const struct e2v_nf_spec *s, char *out, size_t len)
{
	size_t o = 0;
	out[0] = '\0';
	for (unsigned i = 0; i < s->n_ports && o < len; i++)
		o += (size_t)snprintf(out + o, len - o, "%s%s", i ? ", " : "", s->ports[i].socket_path);
}

/* Starts the domain within timeout_ms or destroys it. */
static int create_within(virDomainPtr dom, const struct e2v_nf_spec *s, unsigned timeout_ms, struct e2_err *err)
{
	struct create_job *j = calloc(1, sizeof(*j));
	if (!j) {
		e2_seterr(err, "out of memory");
		return -1;
	}
	j->dom = dom;
	pthread_mutex_init(&j->lock, NULL);
	pthread_condattr_t ca;
	pthread_condattr_init(&ca);
	pthread_condattr_setclock(&ca, CLOCK_MONOTONIC);
	pthread_cond_init(&j->done_cv, &ca);
	pthread_condattr_destroy(&ca);
	pthread_t t;
	if (pthread_create(&t, NULL, create_thread, j)) {
		e2_seterr(err, "instance %s: cannot start a thread: %s", s->instance, strerror(errno));
		free(j);
		return -1;
	}
	struct timespec deadline;
	clock_gettime(CLOCK_MONOTONIC, &deadline);
	deadline.tv_sec += timeout_ms / 1000;
	deadline.tv_nsec += (long)(timeout_ms % 1000) * 1000000;
	if (deadline.tv_nsec >= 1000000000) {
		deadline.tv_sec++;
		deadline.tv_nsec -= 1000000000;
	}
	pthread_mutex_lock(&j->lock);
	while (!j->done && pthread_cond_timedwait(&j->done_cv, &j->lock, &deadline) == 0)
		;
	bool timed_out = !j->done;
	pthread_mutex_unlock(&j->lock);
	if (timed_out)
		destroy_within(dom, DESTROY_TIMEOUT_MS); /* kills QEMU; the pending create then fails */
	pthread_join(t, NULL);
	int rc = 0;
	if (timed_out) {
		char socks[600];
		ports_list(s, socks, sizeof(socks));
		e2_seterr(err,
			  "instance %s: the domain did not start within %u ms; QEMU waits until "
			  "every vhost-user peer connects: is e2d running with client=1 ports on %s?",
			  s->instance, timeout_ms, socks[0] ? socks : "(none)");
		rc = -1;
	} else if (j->rc < 0) {
		e2_seterr(err, "instance %s: the domain failed to start: %s", s->instance, j->msg);
		rc = -1;
	}
	pthread_cond_destroy(&j->done_cv);
	pthread_mutex_destroy(&j->lock);
	free(j);
	return rc;
}

int e2v_start(struct e2v_conn *c, const struct e2v_nf_spec *s, enum e2v_accel accel, unsigned ready_timeout_ms,
	      struct e2_err *err)
{
	char *xml = e2v_domain_xml(s, accel, err);
	if (!xml)
		return -1;
	virDomainPtr existing = virDomainLookupByName(c->conn, s->instance);
	if (existing) {
		e2_seterr(err, "instance %s already exists (%s); remove it first", s->instance,
			  virDomainIsActive(existing) == 1 ? "running" : "defined");
		virDomainFree(existing);
		free(xml);
		return -1;
	}
	virResetLastError();
	unlink(s->serial_log); /* stale output must not look like a fresh "ready" */
	virDomainPtr dom = virDomainDefineXML(c->conn, xml);
	free(xml);
	if (!dom) {
		e2_seterr(err, "instance %s: libvirt rejected the domain: %s", s->instance, virt_msg());
		return -1;
	}
	uint64_t started = now_ms();
	if (create_within(dom, s, ready_timeout_ms, err)) {
		tear_down(dom);
		virDomainFree(dom);
		unlink_sockets(s);
		return -1;
	}
	if (wait_mark(dom, s->instance, s->serial_log, READY_MARK, started + ready_timeout_ms, ready_timeout_ms, err)) {
		tear_down(dom);
		virDomainFree(dom);
		unlink_sockets(s);
		return -1;
	}
	virDomainFree(dom);
	return 0;
}

static virDomainPtr lookup(struct e2v_conn *c, const char *instance, struct e2_err *err)
{
	virDomainPtr dom = virDomainLookupByName(c->conn, instance);
	if (!dom)
		e2_seterr(err, "no instance named %s: %s", instance, virt_msg());
	return dom;
}

int e2v_wait_ready(struct e2v_conn *c, const char *instance, const char *serial_log, unsigned timeout_ms,
		   struct e2_err *err)
{
	virDomainPtr dom = lookup(c, instance, err);
	if (!dom)
		return -1;
	int rc = wait_mark(dom, instance, serial_log, READY_MARK, now_ms() + timeout_ms, timeout_ms, err);
	virDomainFree(dom);
	return rc;
}

int e2v_stop(struct e2v_conn *c, const char *instance, unsigned timeout_ms, struct e2_err *err)
{
	virDomainPtr dom = lookup(c, instance, err);
	if (!dom)
		return -1;
	int rc = 0;
	if (virDomainIsActive(dom) == 1) {
		virDomainShutdown(dom); /* ACPI power button; the image's init powers off */
		uint64_t deadline = now_ms() + timeout_ms;
		while (virDomainIsActive(dom) == 1 && now_ms() < deadline)
			sleep_ms(100);
		if (destroy_within(dom, DESTROY_TIMEOUT_MS) < 0) {
			e2_seterr(err, "instance %s: cannot stop it: %s", instance, virt_msg());
			rc = -1;
		}
	}
	virDomainFree(dom);
	return rc;
}

int e2v_remove(struct e2v_conn *c, const char *instance, struct e2_err *err)
{
	virDomainPtr dom = lookup(c, instance, err);
	if (!dom)
		return -1;
	int rc = 0;
	if (destroy_within(dom, DESTROY_TIMEOUT_MS) < 0) {
		e2_seterr(err, "instance %s: cannot stop it: %s", instance, virt_msg());
		rc = -1;
	} else if (virDomainIsPersistent(dom) == 1 && virDomainUndefine(dom) < 0) {
		e2_seterr(err, "instance %s: cannot undefine it: %s", instance, virt_msg());
		rc = -1;
	}
	virDomainFree(dom);
	return rc;
}

int e2v_is_running(struct e2v_conn *c, const char *instance, struct e2_err *err)
{
	virDomainPtr dom = lookup(c, instance, err);
	if (!dom)
		return -1;
	int active = virDomainIsActive(dom);
	virDomainFree(dom);
	if (active < 0)
		e2_seterr(err, "instance %s: %s", instance, virt_msg());
	return active;
}

static bool has_e2_metadata(virDomainPtr dom)
{
	char *md = virDomainGetMetadata(dom, VIR_DOMAIN_METADATA_ELEMENT, E2V_METADATA_NS, VIR_DOMAIN_AFFECT_CURRENT);
	if (!md)
		virResetLastError(); /* "no metadata" is an answer, not an error */
	free(md);
	return md != NULL;
}

/* The first child of el named `name`. virDomainGetMetadata hands the element back
 * without its namespace (<nf><server>..), a domain's XML has it (<e2:nf><e2:server>..):
 * either will do. */
static xmlNodePtr e2_child(xmlNodePtr el, const char *name)
{
	for (xmlNodePtr n = el ? el->children : NULL; n; n = n->next)
		if (n->type == XML_ELEMENT_NODE && (!n->ns || !xmlStrcmp(n->ns->href, BAD_CAST E2V_METADATA_NS)) &&
		    !xmlStrcmp(n->name, BAD_CAST name))
			return n;
	return NULL;
}

int e2v_server_of(struct e2v_conn *c, const char *instance, char *server, size_t len, struct e2_err *err)
{
	virDomainPtr dom = lookup(c, instance, err);
	if (!dom)
		return -1;
	char *md = virDomainGetMetadata(dom, VIR_DOMAIN_METADATA_ELEMENT, E2V_METADATA_NS, VIR_DOMAIN_AFFECT_CURRENT);
	virDomainFree(dom);
	if (!md) {
		virResetLastError(); /* no E2 metadata: not an E2 domain */
		return 0;
	}
	xmlDocPtr doc = xmlReadMemory(md, (int)strlen(md), "metadata.xml", NULL,
				      XML_PARSE_NONET | XML_PARSE_NOERROR | XML_PARSE_NOWARNING);
	free(md);
	if (!doc) {
		e2_seterr(err, "instance %s: its E2 metadata is not XML", instance);
		return -1;
	}
	xmlNodePtr el = e2_child(xmlDocGetRootElement(doc), "server");
	xmlChar *text = el ? xmlNodeGetContent(el) : NULL;
	int rc = 1;
	if (text && strlen((const char *)text) >= len) {
		e2_seterr(err, "instance %s: server name in its E2 metadata is too long", instance);
		rc = -1;
	} else
		snprintf(server, len, "%s", text ? (const char *)text : "");
	xmlFree(text);
	xmlFreeDoc(doc);
	return rc;
}

int e2v_state(struct e2v_conn *c, const char *instance, enum e2v_off *why, struct e2_err *err)
{
	virDomainPtr dom = lookup(c, instance, err);
	if (!dom)
		return -1;
	int state, reason;
	int rc = virDomainGetState(dom, &state, &reason, 0);
	virDomainFree(dom);
	if (rc < 0) {
		e2_seterr(err, "instance %s: %s", instance, virt_msg());
		return -1;
	}
	*why = E2V_OFF_NOT;
	if (state != VIR_DOMAIN_SHUTOFF && state != VIR_DOMAIN_CRASHED)
		return 1;
	if (state == VIR_DOMAIN_CRASHED)
		*why = E2V_OFF_CRASHED;
	else if (reason == VIR_DOMAIN_SHUTOFF_SHUTDOWN)
		*why = E2V_OFF_SHUTDOWN;
	else if (reason == VIR_DOMAIN_SHUTOFF_DESTROYED)
		*why = E2V_OFF_DESTROYED;
	else if (reason == VIR_DOMAIN_SHUTOFF_CRASHED || reason == VIR_DOMAIN_SHUTOFF_FAILED)
		*why = E2V_OFF_CRASHED;
	else
		*why = E2V_OFF_OTHER;
	return 0;
}

const char *e2v_off_name(enum e2v_off why)
{
	switch (why) {
	case E2V_OFF_NOT: return "running";
	case E2V_OFF_SHUTDOWN: return "shut down";
	case E2V_OFF_DESTROYED: return "destroyed";
	case E2V_OFF_CRASHED: return "crashed";
	default: return "shut off";
	}
}

int e2v_list(struct e2v_conn *c, char ***names, struct e2_err *err)
{
	virDomainPtr *doms = NULL;
	int n = virConnectListAllDomains(c->conn, &doms, 0);
	if (n < 0) {
		e2_seterr(err, "cannot list domains: %s", virt_msg());
		return -1;
	}
	char **out = calloc((size_t)n + 1, sizeof(*out));
	int k = 0;
	for (int i = 0; i < n; i++) {
		if (out && has_e2_metadata(doms[i])) {
			out[k] = strdup(virDomainGetName(doms[i]));
			if (out[k])
				k++;
		}
		virDomainFree(doms[i]);
	}
	free(doms);
	if (!out) {
		e2_seterr(err, "out of memory");
		return -1;
	}
	*names = out;
	return k;
}

void e2v_names_free(char **names)
{
	if (!names)
		return;
	for (char **p = names; *p; p++)
		free(*p);
	free(names);
}

/* ---------- KVM probe ---------- */

enum e2v_accel e2v_probe_accel(struct e2v_conn *c, const char *image, const char *scratch_dir, unsigned timeout_ms)
{
	char name[64], log[4096];
	snprintf(name, sizeof(name), "e2-kvm-probe-%ld", (long)getpid());
	snprintf(log, sizeof(log), "%s/%s.log", scratch_dir, name);
	struct e2v_nf_spec spec = {.instance = name, .image = image, .serial_log = log};
	struct e2_err err;
	char *xml = e2v_domain_xml(&spec, E2V_ACCEL_KVM, &err);
	if (!xml)
		return E2V_ACCEL_TCG;
	unlink(log);
	/* Transient: once destroyed it is gone without an undefine. */
	virDomainPtr dom = virDomainCreateXML(c->conn, xml, VIR_DOMAIN_NONE);
	free(xml);
	if (!dom)
		return E2V_ACCEL_TCG;
	int rc = wait_mark(dom, name, log, FIRST_LINE_MARK, now_ms() + timeout_ms, timeout_ms, &err);
	destroy_within(dom, DESTROY_TIMEOUT_MS); /* a KVM guest that spins dies slowly */
	virDomainFree(dom);
	unlink(log);
	return rc == 0 ? E2V_ACCEL_KVM : E2V_ACCEL_TCG;
}

/* ---------- events ---------- */

const char *e2v_event_name(enum e2v_event ev)
{
	static const char *names[] = {"defined", "undefined", "started",  "suspended",
				      "resumed", "stopped",   "shutdown", "other"};
	return (unsigned)ev < sizeof(names) / sizeof(names[0]) ? names[ev] : "other";
}

static enum e2v_event map_event(int ev)
{
	switch (ev) {
	case VIR_DOMAIN_EVENT_DEFINED: return E2V_EVENT_DEFINED;
	case VIR_DOMAIN_EVENT_UNDEFINED: return E2V_EVENT_UNDEFINED;
	case VIR_DOMAIN_EVENT_STARTED: return E2V_EVENT_STARTED;
	case VIR_DOMAIN_EVENT_SUSPENDED: return E2V_EVENT_SUSPENDED;
	case VIR_DOMAIN_EVENT_RESUMED: return E2V_EVENT_RESUMED;
	case VIR_DOMAIN_EVENT_STOPPED: return E2V_EVENT_STOPPED;
	case VIR_DOMAIN_EVENT_SHUTDOWN: return E2V_EVENT_SHUTDOWN;
	default: return E2V_EVENT_OTHER;
	}
}

static int known_index(const struct e2v_conn *c, const char *name)
{
	for (unsigned i = 0; i < c->n_known_e2; i++)
		if (!strcmp(c->known_e2[i], name))
			return (int)i;
	return -1;
}

static int on_lifecycle(virConnectPtr conn, virDomainPtr dom, int event, int detail, void *opaque)
{
	(void)conn;
	(void)detail;
	struct e2v_conn *c = opaque;
	enum e2v_event ev = map_event(event);
	const char *name = virDomainGetName(dom);
	int idx = known_index(c, name);
	bool is_e2 = idx >= 0;
	if (ev != E2V_EVENT_UNDEFINED && has_e2_metadata(dom)) {
		is_e2 = true;
		if (idx < 0 && c->n_known_e2 < sizeof(c->known_e2) / sizeof(c->known_e2[0]) &&
		    strlen(name) < sizeof(c->known_e2[0]))
			strcpy(c->known_e2[c->n_known_e2++], name);
	}
	if (ev == E2V_EVENT_UNDEFINED && idx >= 0)
		memcpy(c->known_e2[idx], c->known_e2[--c->n_known_e2], sizeof(c->known_e2[0]));
	c->fn(c->opaque, name, ev, is_e2);
	return 0;
}

static void on_wake(int timer, void *opaque)
{
	(void)timer;
	(void)opaque;
}

static void *event_loop(void *arg)
{
	struct e2v_conn *c = arg;
	while (!c->events_quit)
		virEventRunDefaultImpl();
	return NULL;
}

int e2v_events_start(struct e2v_conn *c, e2v_event_fn fn, void *opaque, struct e2_err *err)
{
	if (c->events_running) {
		e2_seterr(err, "events are already being watched on this connection");
		return -1;
	}
	c->fn = fn;
	c->opaque = opaque;
	c->events_quit = 0;
	c->callback_id = virConnectDomainEventRegisterAny(c->conn, NULL, VIR_DOMAIN_EVENT_ID_LIFECYCLE,
							  VIR_DOMAIN_EVENT_CALLBACK(on_lifecycle), c, NULL);
	if (c->callback_id < 0) {
		e2_seterr(err, "cannot watch domain events: %s", virt_msg());
		return -1;
	}
	/* A periodic wake-up, so the loop notices events_quit. */
	c->wake_timer = virEventAddTimeout(100, on_wake, NULL, NULL);
	if (pthread_create(&c->thread, NULL, event_loop, c)) {
		e2_seterr(err, "cannot start the event thread: %s", strerror(errno));
		virConnectDomainEventDeregisterAny(c->conn, c->callback_id);
		if (c->wake_timer >= 0)
			virEventRemoveTimeout(c->wake_timer);
		c->callback_id = c->wake_timer = -1;
		return -1;
	}
	c->events_running = true;
	return 0;
}

void e2v_events_stop(struct e2v_conn *c)
{
	if (!c->events_running)
		return;
	virConnectDomainEventDeregisterAny(c->conn, c->callback_id);
	c->events_quit = 1;
	pthread_join(c->thread, NULL);
	if (c->wake_timer >= 0)
		virEventRemoveTimeout(c->wake_timer);
	c->callback_id = c->wake_timer = -1;
	c->events_running = false;
}
