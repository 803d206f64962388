/* SPDX-License-Identifier: BSD-3-Clause */
/* e2-virt: the libvirt layer from the command line (for scripts, tests and operators). */
#include <libgen.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "e2/num.h"
#include "e2/opts.h"
#include "e2virt.h"

static void usage(FILE *f)
{
	fprintf(f, "usage: e2-virt [-c URI] COMMAND ...\n"
		   "  xml    SPEC [--accel kvm|tcg]          print the domain XML\n"
		   "  start  SPEC [--accel auto|kvm|tcg] [--timeout S]\n"
		   "                                         define, start, wait for E2-READY\n"
		   "  wait-ready --instance N --log FILE [--timeout S]\n"
		   "  stop   INSTANCE [--timeout S]          ACPI shutdown, then hard stop\n"
		   "  remove INSTANCE                        stop and undefine\n"
		   "  list                                   E2 instances (domains with E2 metadata)\n"
		   "  probe  --image PREFIX --scratch DIR [--timeout S]   print kvm or tcg\n"
		   "  events                                 print lifecycle events until interrupted\n"
		   "  instance-initrd --image PREFIX --config DIR --out FILE [--owner USER]\n"
		   "                                         FILE = the image's initrd + DIR's files\n"
		   "                                         under /etc/e2/instance/ (0600), for --initrd\n"
		   "SPEC: --instance N --image PREFIX --log FILE [--nf NAME] [--args A,B]\n"
		   "      [--port NAME=SOCKET[,MAC]]... [--vcpus N] [--memory MIB] [--cmdline TEXT]\n"
		   "      [--server NAME]  (the E2 server that owns it, in the metadata)\n"
		   "      [--initrd FILE]  (the instance's own, instead of PREFIX.initrd)\n"
		   "      [--control SOCKET]  (a unix socket to the guest's port e2.ctl; e2.ctl=PATH\n"
		   "                           in --cmdline joins it to the NF's control socket)\n"
		   "      --vcpus 1..64 (1), --memory 128..1048576 MiB (128), --timeout 1..86400 s\n"
		   "URI defaults to qemu:///system; E2_ACCEL=kvm|tcg skips the KVM probe.\n");
}

static volatile sig_atomic_t interrupted;
static void on_signal(int sig)
{
	interrupted = sig;
}

static void print_event(void *opaque, const char *instance, enum e2v_event ev, bool is_e2)
{
	(void)opaque;
	printf("%s %s%s\n", instance, e2v_event_name(ev), is_e2 ? " e2" : "");
	fflush(stdout);
}

static unsigned parse_uint(const char *what, const char *s, unsigned min, unsigned max)
{
	struct e2_err e;
	uint32_t v;
	if (e2_num_u32(what, s, min, max, &v, &e)) {
		fprintf(stderr, "e2-virt: %s\n", e.msg);
		exit(2);
	}
	return v;
}

int main(int argc, char **argv)
{
	const char *uri = "qemu:///system";
	if (argc >= 3 && !strcmp(argv[1], "-c")) {
		uri = argv[2];
		argv += 2;
		argc -= 2;
	}
	if (argc < 2 || !strcmp(argv[1], "-h") || !strcmp(argv[1], "--help")) {
		usage(argc < 2 ? stderr : stdout);
		return argc < 2 ? 2 : 0;
	}
	const char *cmd = argv[1];
	static const struct option opts[] = {{"instance", required_argument, NULL, 'i'},
					     {"image", required_argument, NULL, 'I'},
					     {"log", required_argument, NULL, 'l'},
					     {"nf", required_argument, NULL, 'n'},
					     {"args", required_argument, NULL, 'a'},
					     {"port", required_argument, NULL, 'p'},
					     {"vcpus", required_argument, NULL, 'v'},
					     {"memory", required_argument, NULL, 'm'},
					     {"cmdline", required_argument, NULL, 'k'},
					     {"server", required_argument, NULL, 'S'},
					     {"accel", required_argument, NULL, 'A'},
					     {"timeout", required_argument, NULL, 't'},
					     {"scratch", required_argument, NULL, 's'},
					     {"initrd", required_argument, NULL, 'r'},
					     {"config", required_argument, NULL, 'C'},
					     {"out", required_argument, NULL, 'o'},
					     {"owner", required_argument, NULL, 'O'},
					     {"control", required_argument, NULL, 'T'},
					     {0}};
	struct e2v_nf_spec spec = {0};
	struct e2v_port ports[E2V_MAX_PORTS];
	const char *accel_s = "auto", *scratch = NULL, *config = NULL, *out = NULL, *owner = NULL;
	unsigned timeout_s = 60;
	optind = 2;
	struct e2_err oerr;
	for (int c; (c = e2_opt_next(argc, argv, "", opts, &oerr)) != -1;) {
		switch (c) {
		case 'i': spec.instance = optarg; break;
		case 'I': spec.image = optarg; break;
		case 'l': spec.serial_log = optarg; break;
		case 'n': spec.nf = optarg; break;
		case 'a': spec.nf_args = optarg; break;
		case 'v': spec.vcpus = parse_uint("--vcpus", optarg, 1, 64); break;
		case 'm': spec.memory_mib = parse_uint("--memory", optarg, E2V_MIN_MEMORY_MIB, 1024 * 1024); break;
		case 'k': spec.extra_cmdline = optarg; break;
		case 'S': spec.server = optarg; break;
		case 'A': accel_s = optarg; break;
		case 't': timeout_s = parse_uint("--timeout", optarg, 1, 86400); break;
		case 's': scratch = optarg; break;
		case 'r': spec.initrd = optarg; break;
		case 'C': config = optarg; break;
		case 'o': out = optarg; break;
		case 'O': owner = optarg; break;
		case 'T': spec.control_socket = optarg; break;
		case 'p': {
			if (spec.n_ports == E2V_MAX_PORTS) {
				fprintf(stderr, "e2-virt: at most %d ports\n", E2V_MAX_PORTS);
				return 2;
			}
			char *eq = strchr(optarg, '=');
			if (!eq) {
				fprintf(stderr, "e2-virt: --port wants NAME=SOCKET[,MAC], not '%s'\n", optarg);
				return 2;
			}
			*eq = '\0';
			char *comma = strchr(eq + 1, ',');
			if (comma)
				*comma = '\0';
			ports[spec.n_ports++] = (struct e2v_port){optarg, eq + 1, comma ? comma + 1 : NULL};
			break;
		}
		case E2_OPT_BAD: fprintf(stderr, "e2-virt: %s\n", oerr.msg); return 2;
		default: fprintf(stderr, "e2-virt: option %d is not handled (a bug)\n", c); return 2;
		}
	}
	spec.ports = ports;
	enum e2v_accel accel = !strcmp(accel_s, "kvm")   ? E2V_ACCEL_KVM
			       : !strcmp(accel_s, "tcg") ? E2V_ACCEL_TCG
							 : e2v_accel_from_env();
	if (strcmp(accel_s, "auto") && strcmp(accel_s, "kvm") && strcmp(accel_s, "tcg")) {
		fprintf(stderr, "e2-virt: --accel is auto, kvm or tcg, not '%s'\n", accel_s);
		return 2;
	}
	const char *arg = optind < argc ? argv[optind] : NULL;
	struct e2_err err = {""};

	if (!strcmp(cmd, "instance-initrd")) {
		if (!spec.image || !config || !out) {
			fprintf(stderr, "e2-virt: instance-initrd needs --image, --config and --out\n");
			return 2;
		}
		if (e2v_instance_initrd(spec.image, config, out, owner, &err))
			goto fail;
		return 0;
	}
	if (!strcmp(cmd, "xml")) {
		char *xml = e2v_domain_xml(&spec, accel == E2V_ACCEL_KVM ? E2V_ACCEL_KVM : E2V_ACCEL_TCG, &err);
		if (!xml)
			goto fail;
		fputs(xml, stdout);
		free(xml);
		return 0;
	}
	struct e2v_conn *c = e2v_connect(uri, &err);
	if (!c)
		goto fail;
	int rc = 0;
	if (!strcmp(cmd, "start")) {
		if (accel == E2V_ACCEL_AUTO && spec.image && spec.serial_log) {
			char dir[4096];
			snprintf(dir, sizeof(dir), "%s", spec.serial_log);
			accel = e2v_probe_accel(c, spec.image, dirname(dir), 8000);
			fprintf(stderr, "e2-virt: KVM probe says %s\n", accel == E2V_ACCEL_KVM ? "kvm" : "tcg");
		}
		rc = e2v_start(c, &spec, accel == E2V_ACCEL_AUTO ? E2V_ACCEL_TCG : accel, timeout_s * 1000, &err);
		if (!rc)
			printf("%s ready (%s)\n", spec.instance, accel == E2V_ACCEL_KVM ? "kvm" : "tcg");
	} else if (!strcmp(cmd, "wait-ready")) {
		rc = e2v_wait_ready(c, spec.instance ? spec.instance : "", spec.serial_log ? spec.serial_log : "",
				    timeout_s * 1000, &err);
	} else if (!strcmp(cmd, "stop") && arg) {
		rc = e2v_stop(c, arg, timeout_s * 1000, &err);
	} else if (!strcmp(cmd, "remove") && arg) {
		rc = e2v_remove(c, arg, &err);
	} else if (!strcmp(cmd, "list")) {
		char **names;
		rc = e2v_list(c, &names, &err) < 0 ? -1 : 0;
		for (char **p = rc ? NULL : names; p && *p; p++)
			printf("%s\n", *p);
		if (!rc)
			e2v_names_free(names);
	} else if (!strcmp(cmd, "probe") && spec.image && scratch) {
		enum e2v_accel a = e2v_probe_accel(c, spec.image, scratch, timeout_s * 1000);
		printf("%s\n", a == E2V_ACCEL_KVM ? "kvm" : "tcg");
	} else if (!strcmp(cmd, "events")) {
		struct sigaction sa = {.sa_handler = on_signal};
		sigaction(SIGINT, &sa, NULL);
		sigaction(SIGTERM, &sa, NULL);
		rc = e2v_events_start(c, print_event, NULL, &err);
		while (!rc && !interrupted)
			pause();
	} else {
		usage(stderr);
		e2v_disconnect(c);
		return 2;
	}
	e2v_disconnect(c);
	if (!rc)
		return 0;
fail:
	fprintf(stderr, "e2-virt: %s\n", err.msg);
	return 1;
}
