/* SPDX-License-Identifier: BSD-3-Clause */
/* libe2virt: NF instances as libvirt domains.
 *
 * Turns an NF instance description into domain XML (vhost-user NICs with QEMU as the
 * server so E2D can restart under running VMs, memfd shared memory, serial log, E2
 * metadata), and drives the lifecycle through the libvirt C API: define + start, wait
 * for the guest's "E2-READY" line on its serial log, shut down, remove, list the E2
 * domains, and report lifecycle events. Every failing call returns -1 (or NULL) with a
 * message in struct e2_err and leaves nothing half-created behind. */
#ifndef E2_VIRT_H
#define E2_VIRT_H

#include <stdbool.h>
#include <stddef.h>

#include "e2/err.h"

#define E2V_METADATA_NS "http://e2-nfv.org/xmlns/libvirt/nf/1"
#define E2V_METADATA_PREFIX "e2"
#define E2V_MAX_PORTS 8
#define E2V_MIN_MEMORY_MIB 128 /* less does not boot the Debian kernel under TCG */

enum e2v_accel {
	E2V_ACCEL_AUTO = 0, /* only for e2v_accel_from_env(): probe */
	E2V_ACCEL_KVM,
	E2V_ACCEL_TCG, /* also adds pci=nomsi (vhost-user under TCG) */
};

struct e2v_port {
	const char *name;        /* NF port name, e.g. "in" */
	const char *socket_path; /* vhost-user socket QEMU listens on (absolute) */
	const char *mac;         /* NULL: derived from instance and port index */
};

struct e2v_nf_spec {
	const char *instance; /* domain name: [A-Za-z0-9_.-], at most 64 chars */
	const char *image;    /* path prefix: IMAGE.vmlinuz and IMAGE.initrd */
	const char *nf;       /* NF binary in the image to run (NULL: default) */
	const char *nf_args;  /* its comma-separated arguments (NULL: default) */
	unsigned vcpus;       /* 0 means 1 */
	unsigned memory_mib;  /* 0 means E2V_MIN_MEMORY_MIB */
	const struct e2v_port *ports;
	unsigned n_ports;
	const char *serial_log;    /* file the guest console goes to (absolute) */
	const char *extra_cmdline; /* appended to the kernel command line, may be NULL */
	const char *server;        /* the E2 server (agent) that owns it, in the metadata; may be NULL */
	const char *initrd;        /* NULL: IMAGE.initrd; else the instance's own (e2v_instance_initrd) */
	/* NULL, or a unix socket QEMU listens on, joined to the guest's virtio-serial port
	 * E2V_CONTROL_PORT (the image's init relays it to the NF's control socket: e2.ctl=) */
	const char *control_socket;
};
#define E2V_CONTROL_PORT "e2.ctl"

/* Writes OUT = IMAGE.initrd followed by an archive of DIR's files under /etc/e2/instance/
 * in the guest (root, files 0600, directories 0700; links and special files refused; at
 * most 256 entries, 16 MiB a file): an instance's keys and rules without putting them in
 * the shared image. OUT is mode 0600, owned by `owner` if not NULL (the user QEMU runs
 * as), written aside and renamed: whole or untouched. */
int e2v_instance_initrd(const char *image, const char *dir, const char *out, const char *owner, struct e2_err *err);

/* Reads the E2 metadata out of a domain's XML (`virsh dumpxml`, or a libvirt hook's
 * stdin): 1 with instance and server copied (server "" when the metadata names none), 0
 * when the domain carries no E2 metadata, -1 when the text is not XML or a value does not
 * fit (err set). Needs no libvirt connection, so the hook can use it. */
int e2v_metadata_parse(const char *xml, size_t len, char *instance, size_t instance_len, char *server,
		       size_t server_len, struct e2_err *err);

/* Checks the description, including that the image files exist. */
int e2v_spec_check(const struct e2v_nf_spec *spec, struct e2_err *err);

/* Domain XML for the instance (malloc'd), or NULL. accel must be KVM or TCG. */
char *e2v_domain_xml(const struct e2v_nf_spec *spec, enum e2v_accel accel, struct e2_err *err);

struct e2v_conn;

/* uri: "qemu:///system", "test:///default", ... (NULL: libvirt's default). */
struct e2v_conn *e2v_connect(const char *uri, struct e2_err *err);
void e2v_disconnect(struct e2v_conn *c);

/* E2_ACCEL=kvm|tcg in the environment forces a choice; otherwise E2V_ACCEL_AUTO. */
enum e2v_accel e2v_accel_from_env(void);

/* Does KVM really run guests here? Boots `image` as a KVM domain (no NICs) and waits
 * up to timeout_ms for the guest's first console line; KVM if it appears, TCG if it
 * does not or a KVM domain cannot be created. The probe domain is always removed.
 * scratch_dir holds its serial log. */
enum e2v_accel e2v_probe_accel(struct e2v_conn *c, const char *image, const char *scratch_dir, unsigned timeout_ms);

/* Defines the domain, starts it, and waits for "E2-READY" on its serial log, all within
 * ready_timeout_ms. QEMU only finishes starting once every vhost-user peer (E2D) has
 * connected; if none does in time, that is the error. On any failure the domain is
 * destroyed and undefined, and the serial log's last lines are quoted in the error. */
int e2v_start(struct e2v_conn *c, const struct e2v_nf_spec *spec, enum e2v_accel accel, unsigned ready_timeout_ms,
	      struct e2_err *err);

/* Waits up to timeout_ms for "E2-READY" in the serial log of a running instance (after
 * `virsh start`, say). */
int e2v_wait_ready(struct e2v_conn *c, const char *instance, const char *serial_log, unsigned timeout_ms,
		   struct e2_err *err);

/* ACPI shutdown, waiting up to timeout_ms, then a hard stop. The domain stays defined. */
int e2v_stop(struct e2v_conn *c, const char *instance, unsigned timeout_ms, struct e2_err *err);

/* Stops (hard) if running and undefines. Removing an unknown instance is an error. */
int e2v_remove(struct e2v_conn *c, const char *instance, struct e2_err *err);

/* Names of the domains that carry E2 metadata; *names is a NULL-terminated array to
 * free with e2v_names_free. Returns the count or -1. */
int e2v_list(struct e2v_conn *c, char ***names, struct e2_err *err);
void e2v_names_free(char **names);

/* 1 if running, 0 if defined but not running, -1 if unknown (err set). */
int e2v_is_running(struct e2v_conn *c, const char *instance, struct e2_err *err);

/* The E2 server that owns an instance, from its metadata (<e2:server>): 1 with server
 * copied ("" when the metadata names none), 0 when the domain carries no E2 metadata, -1
 * when there is no such domain or libvirt fails (err set). */
int e2v_server_of(struct e2v_conn *c, const char *instance, char *server, size_t len, struct e2_err *err);

/* Why a domain is not running, from libvirt's shutoff reason. */
enum e2v_off {
	E2V_OFF_NOT,       /* it runs (or is paused) */
	E2V_OFF_SHUTDOWN,  /* the guest shut down: `virsh shutdown`, ACPI, a poweroff inside */
	E2V_OFF_DESTROYED, /* `virsh destroy` (or e2v_remove) */
	E2V_OFF_CRASHED,   /* QEMU died or the guest crashed */
	E2V_OFF_OTHER,     /* never started since defined, or another reason */
};
const char *e2v_off_name(enum e2v_off why);

/* 1 if running, 0 if defined but not running (*why says why), -1 if unknown (err set). */
int e2v_state(struct e2v_conn *c, const char *instance, enum e2v_off *why, struct e2_err *err);

enum e2v_event {
	E2V_EVENT_DEFINED,
	E2V_EVENT_UNDEFINED,
	E2V_EVENT_STARTED,
	E2V_EVENT_SUSPENDED,
	E2V_EVENT_RESUMED,
	E2V_EVENT_STOPPED,
	E2V_EVENT_SHUTDOWN,
	E2V_EVENT_OTHER,
};
const char *e2v_event_name(enum e2v_event ev);

/* Called from the event thread for lifecycle events of every domain; is_e2 tells
 * whether the domain carries E2 metadata (remembered for domains this watcher saw, so
 * "stopped" and "undefined" of an already removed E2 domain still say so). */
typedef void (*e2v_event_fn)(void *opaque, const char *instance, enum e2v_event ev, bool is_e2);

/* Starts delivering lifecycle events on a thread of the library's own. One watcher per
 * connection; it stops in e2v_events_stop or e2v_disconnect. */
int e2v_events_start(struct e2v_conn *c, e2v_event_fn fn, void *opaque, struct e2_err *err);
void e2v_events_stop(struct e2v_conn *c);

#endif
