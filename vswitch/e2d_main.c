/* SPDX-License-Identifier: BSD-3-Clause */
/* e2d: the E2 dataplane daemon. Parses its options, starts DPDK, applies the
 * start-up configuration, then serves the control socket until SIGTERM/SIGINT
 * or a `shutdown` request, and cleans up (sockets, devices, memory). */
#include <errno.h>
#include <limits.h>
#include <nanomsg/nn.h>
#include <nanomsg/reqrep.h>
#include <sched.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/un.h>
#include <sys/wait.h>
#include <dirent.h>
#include <unistd.h>

#include <rte_eal.h>
#include <rte_errno.h>

#include "ctl.h"
#include "dp.h"
#include "e2/file.h"
#include "e2/num.h"
#include "monitor.h"
#include "e2/log.h"
#include "e2/opts.h"

E2_LOG_MODULE(e2d);

static volatile sig_atomic_t stop_requested;

static void on_signal(int sig)
{
	stop_requested = 1;
}

struct options {
	const char *ctl_path;
	const char *config;
	const char *pidfile;
	const char *file_prefix;
	const char *eal_extra;
	int worker_core; /* -2: last allowed CPU; -1: no worker at start */
	bool no_huge;
	bool native_nfs; /* memory shared with native NF processes (DPDK multi-process) */
	unsigned mbufs;
	unsigned table_mb; /* memory for tables and rings beyond the mbufs */
	struct e2_idle_conf idle;
	bool idle_spin_given, max_sleep_given;
	const char *log_level;
	double overload_high, overload_low;
	unsigned monitor_ms;
};

static void usage(FILE *f)
{
	fprintf(f,
		"usage: e2d [options]\n"
		"  --ctl PATH          control socket (default /run/e2/e2d.sock; mode 0600)\n"
		"  --config FILE       start-up configuration: one control command per line\n"
		"  --worker-core N     core of worker 0 (default: the last CPU e2d may use; 'none': no worker)\n"
		"  --no-huge           use ordinary memory (default: hugepages when free ones exist)\n"
		"  --native-nfs        share the packet buffers with native NF processes (`nf` ports):\n"
		"                      hugepages as files under --file-prefix, removed again at exit\n"
		"  --mbufs N           packet buffers (default 16383)\n"
		"  --table-mb N        memory for flow tables, rings and queues beyond the buffers (default 128)\n"
		"  --idle MODE         how an idle worker waits: adaptive (default: naps no longer than the\n"
		"                      rings allow at the recent rate), poll (never sleeps: lowest latency,\n"
		"                      a whole core), eager (naps at once: least CPU, may overflow rings)\n"
		"  --idle-spin-us N    how long a worker polls on without a packet before it naps\n"
		"                      (default: adaptive %u, eager %u)\n"
		"  --max-sleep-us N    longest nap of an idle worker (default: adaptive %u, eager %u)\n"
		"  --idle-ring N       adaptive: the smallest receive ring of any port, in packets, that a\n"
		"                      nap must not overflow (default %u, virtio's default queue size)\n"
		"  --file-prefix P     DPDK file prefix (default e2d-PID)\n"
		"  --pidfile FILE      write the process id here\n"
		"  --log-level L       DPDK log level (default notice)\n"
		"  --log SPEC          e2d's own log: LEVEL, or MODULE:LEVEL,... (modules e2d, worker,\n"
		"                      port, vhost, nf; levels off err warn info dbg; default info)\n"
		"  --eal 'ARGS'        extra DPDK EAL arguments\n"
		"  --overload H,L      publish overload when a queue or rx ring is over H full, underload\n"
		"                      when it is back under L (default 0.8,0.2); events go to PUB socket\n"
		"                      ipc://CTL.events (see `e2ctl dp events`)\n"
		"  --monitor-ms N      how often the load monitor samples (default 100)\n"
		"Commands (config file and `e2ctl dp`):\n%s",
		E2_IDLE_ADAPTIVE_QUIET_US, E2_IDLE_EAGER_QUIET_US, E2_IDLE_ADAPTIVE_MAX_SLEEP_US,
		E2_IDLE_EAGER_MAX_SLEEP_US, E2_IDLE_RING_DEFAULT, e2_cmd_usage);
}

static int parse_options(int argc, char **argv, struct options *o)
{
	static const struct option longopts[] = {
		{"ctl", required_argument, NULL, 'c'},
		{"config", required_argument, NULL, 'f'},
		{"worker-core", required_argument, NULL, 'w'},
		{"no-huge", no_argument, NULL, 'n'},
		{"native-nfs", no_argument, NULL, 'N'},
		{"mbufs", required_argument, NULL, 'm'},
		{"table-mb", required_argument, NULL, 'T'},
		{"idle-spin-us", required_argument, NULL, 's'},
		{"max-sleep-us", required_argument, NULL, 'S'},
		{"idle", required_argument, NULL, 'i'},
		{"idle-ring", required_argument, NULL, 'r'},
		{"file-prefix", required_argument, NULL, 'p'},
		{"pidfile", required_argument, NULL, 'P'},
		{"log-level", required_argument, NULL, 'l'},
		{"log", required_argument, NULL, 'g'},
		{"eal", required_argument, NULL, 'e'},
		{"help", no_argument, NULL, 'h'},
		{"overload", required_argument, NULL, 'o'},
		{"monitor-ms", required_argument, NULL, 'M'},
		{NULL, 0, NULL, 0},
	};
	int c, bad;
	struct e2_err e;

	*o = (struct options){.ctl_path = "/run/e2/e2d.sock",
			      .worker_core = -2,
			      .mbufs = 16383,
			      .table_mb = 128,
			      .idle = e2_idle_defaults(E2_IDLE_ADAPTIVE),
			      .log_level = "notice",
			      .overload_high = 0.8,
			      .overload_low = 0.2,
			      .monitor_ms = 100};
	while ((c = e2_opt_next(argc, argv, "h", longopts, &e)) != -1) {
		bad = 0;
		switch (c) {
		case 'c': o->ctl_path = optarg; break;
		case 'f': o->config = optarg; break;
		case 'n': o->no_huge = true; break;
		case 'N': o->native_nfs = true; break;
		case 'p': o->file_prefix = optarg; break;
		case 'P': o->pidfile = optarg; break;
		case 'l': o->log_level = optarg; break;
		case 'e': o->eal_extra = optarg; break;
		case 'w':
			if (strcmp(optarg, "none") == 0)
				o->worker_core = -1;
			else
				bad = e2_num_int("--worker-core", optarg, 0, CPU_SETSIZE - 1, &o->worker_core, &e);
			break;
		case 'm': bad = e2_num_u32("--mbufs", optarg, 1023, 10000000, &o->mbufs, &e); break;
		case 'T': bad = e2_num_u32("--table-mb", optarg, 16, 1 << 20, &o->table_mb, &e); break;
		case 's':
			bad = e2_num_u32("--idle-spin-us", optarg, 0, 10000000, &o->idle.quiet_us, &e);
			o->idle_spin_given = true;
			break;
		case 'S':
			bad = e2_num_u32("--max-sleep-us", optarg, 1, 10000000, &o->idle.max_sleep_us, &e);
			o->max_sleep_given = true;
			break;
		case 'i':
			if (e2_idle_parse_mode(optarg, &o->idle.mode))
				bad = (e2_seterr(&e, "--idle=%.40s: takes adaptive, poll or eager", optarg), -1);
			break;
		case 'r': bad = e2_num_u32("--idle-ring", optarg, 16, 32768, &o->idle.ring, &e); break;
		case 'o': {
			/* HIGH,LOW: two fractions, HIGH above LOW */
			char high[64];
			const char *comma = strchr(optarg, ',');
			if (!comma || (size_t)(comma - optarg) >= sizeof(high)) {
				bad = (e2_seterr(&e, "--overload=%.40s: takes HIGH,LOW (e.g. 0.8,0.2)", optarg), -1);
				break;
			}
			snprintf(high, sizeof(high), "%.*s", (int)(comma - optarg), optarg);
			bad = e2_num_double("--overload HIGH", high, 0.01, 1, &o->overload_high, &e) ||
			      e2_num_double("--overload LOW", comma + 1, 0, 0.99, &o->overload_low, &e);
			if (!bad && o->overload_low >= o->overload_high)
				bad = (e2_seterr(&e, "--overload=%s: LOW must be below HIGH", optarg), -1);
			break;
		}
		case 'M': bad = e2_num_u32("--monitor-ms", optarg, 1, 60000, &o->monitor_ms, &e); break;
		case 'g':
			if (e2_log_set(optarg, &e))
				bad = (e2_err_context(&e, "--log=%.200s", optarg), -1);
			break;
		case 'h': usage(stdout); exit(0);
		case E2_OPT_BAD: bad = -1; break;
		default: fprintf(stderr, "e2d: option %d is not handled (a bug)\n", c); return -1;
		}
		if (bad) {
			fprintf(stderr, "e2d: %s\n", e.msg);
			return -1;
		}
	}
	if (optind != argc) {
		fprintf(stderr, "e2d: unexpected argument '%s'\n", argv[optind]);
		return -1;
	}
	/* what was not given is the mode's default, whatever the order of the flags */
	struct e2_idle_conf d = e2_idle_defaults(o->idle.mode);
	if (!o->idle_spin_given)
		o->idle.quiet_us = d.quiet_us;
	if (!o->max_sleep_given)
		o->idle.max_sleep_us = d.max_sleep_us;
	if (o->native_nfs && o->no_huge) {
		fprintf(stderr, "e2d: --native-nfs needs hugepages (NF processes map them); drop --no-huge\n");
		return -1;
	}
	return 0;
}

static unsigned free_hugepages(void)
{
	FILE *f = fopen("/sys/kernel/mm/hugepages/hugepages-2048kB/free_hugepages", "r");
	char line[32];
	unsigned n = 0;
	if (f) {
		if (fgets(line, sizeof(line), f)) {
			line[strcspn(line, "\n")] = '\0';
			if (e2_num_u32("free_hugepages", line, 0, UINT32_MAX, &n, NULL))
				n = 0;
		}
		fclose(f);
	}
	return n;
}

static int start_eal(const struct options *o, const char *argv0)
{
	char *args[64];
	int n = 0;
	static char lcores[64], prefix[64], loglevel[80], mem[32], extra[1024];
	cpu_set_t allowed;
	int lo = -1, hi = -1;

	/* The control thread (EAL main lcore) floats over every CPU e2d may use:
	 * it mostly sleeps in the control socket, and workers are pinned. */
	sched_getaffinity(0, sizeof(allowed), &allowed);
	for (int c = 0; c < CPU_SETSIZE; c++)
		if (CPU_ISSET(c, &allowed)) {
			if (lo < 0)
				lo = c;
			hi = c;
		}
	snprintf(lcores, sizeof(lcores), "0@(%d-%d)", lo, hi);
	snprintf(prefix, sizeof(prefix), "%s", o->file_prefix ? o->file_prefix : "");
	if (!o->file_prefix)
		snprintf(prefix, sizeof(prefix), "e2d-%d", (int)getpid());
	snprintf(loglevel, sizeof(loglevel), "%s", o->log_level);

	args[n++] = (char *)argv0;
	args[n++] = "--no-pci";
	args[n++] = "--no-telemetry";
	args[n++] = "--lcores";
	args[n++] = lcores;
	args[n++] = "--file-prefix";
	args[n++] = prefix;
	args[n++] = "--log-level";
	args[n++] = loglevel;
	/* Enough hugepages for the mbufs and rings: use them in-memory (no files left
	 * behind); otherwise ordinary pages. vhost-user only needs the NF's memory shared. */
	unsigned need_mb = (unsigned)(((uint64_t)o->mbufs * 2560u) >> 20) + o->table_mb;
	if (o->native_nfs) {
		/* NF processes attach as DPDK secondaries: they need the hugepage files and
		 * the runtime directory of this prefix, which --in-memory would not create */
		if (free_hugepages() * 2 < need_mb) {
			fprintf(stderr, "e2d: --native-nfs needs %u MiB of free 2 MiB hugepages, %u MiB are free\n",
				need_mb, free_hugepages() * 2);
			return -1;
		}
		args[n++] = "--single-file-segments";
		/* well above the low 16 TiB that AddressSanitizer's shadow takes, so that NFs built
		 * with it can map e2d's memory at the same addresses */
		args[n++] = "--base-virtaddr";
		args[n++] = "0x200000000000";
	} else if (!o->no_huge && free_hugepages() * 2 >= need_mb) {
		args[n++] = "--in-memory";
	} else {
		args[n++] = "--no-huge";
		args[n++] = "-m";
		snprintf(mem, sizeof(mem), "%u", need_mb);
		args[n++] = mem;
	}
	if (o->eal_extra) {
		snprintf(extra, sizeof(extra), "%s", o->eal_extra);
		for (char *s = NULL, *t = strtok_r(extra, " ", &s); t && n < 62; t = strtok_r(NULL, " ", &s))
			args[n++] = t;
	}
	args[n] = NULL;
	if (rte_eal_init(n, args) < 0) {
		fprintf(stderr, "e2d: cannot start DPDK: %s\n", rte_strerror(rte_errno));
		return -1;
	}
	return 0;
}

/* DPDK lets a process either register non-EAL threads (e2d's workers do, for mempool
 * caches) or host secondary processes, whichever is asked first. With --native-nfs
 * the secondaries must win: before any worker starts, e2d runs itself once as a
 * secondary (`--claim-multiprocess PREFIX`, which attaches and exits), after which the
 * workers run without an lcore id and so without mempool caches. */
static int claim_multiprocess(const char *prefix)
{
	char self[PATH_MAX];
	ssize_t n = readlink("/proc/self/exe", self, sizeof(self) - 1);
	if (n <= 0)
		return -1;
	self[n] = '\0';
	pid_t pid = fork();
	if (pid == 0) {
		execl(self, self, "--claim-multiprocess", prefix, (char *)NULL);
		_exit(127);
	}
	int status;
	if (pid < 0 || waitpid(pid, &status, 0) != pid || !WIFEXITED(status) || WEXITSTATUS(status) != 0) {
		fprintf(stderr, "e2d: --native-nfs: a DPDK secondary could not attach to prefix %s\n", prefix);
		return -1;
	}
	return 0;
}

static int claimer_main(const char *prefix)
{
	/* any one CPU this process may use: it only attaches and leaves */
	char lcores[32] = "0@0";
	cpu_set_t allowed;
	if (sched_getaffinity(0, sizeof(allowed), &allowed) == 0)
		for (int c = CPU_SETSIZE - 1; c >= 0; c--)
			if (CPU_ISSET(c, &allowed))
				snprintf(lcores, sizeof(lcores), "0@%d", c);
	char *args[] = {"e2d-claim",
			"--proc-type=secondary",
			"--file-prefix",
			(char *)prefix,
			"--no-pci",
			"--no-telemetry",
			"--log-level",
			"error",
			"--lcores",
			lcores,
			NULL};
	if (rte_eal_init(10, args) < 0)
		return 1;
	rte_eal_cleanup();
	return 0;
}

/* --native-nfs keeps DPDK's memory in files so that NF processes can map it; the
 * kernel frees those hugepages only once the files are gone (NFs still attached keep
 * their mappings). Removes the prefix's hugepage files and its runtime directory. */
static void remove_shared_memory_files(const char *prefix, const char *runtime_dir)
{
	char mnt[256], type[64], path[PATH_MAX];
	size_t plen = strlen(prefix);
	FILE *mounts = fopen("/proc/mounts", "r");

	while (mounts && fscanf(mounts, "%*s %255s %63s %*[^\n]", mnt, type) == 2) {
		DIR *d = strcmp(type, "hugetlbfs") == 0 ? opendir(mnt) : NULL;
		for (struct dirent *de; d && (de = readdir(d));)
			if (strncmp(de->d_name, prefix, plen) == 0 && strncmp(de->d_name + plen, "map_", 4) == 0 &&
			    (size_t)snprintf(path, sizeof(path), "%s/%s", mnt, de->d_name) < sizeof(path))
				unlink(path);
		if (d)
			closedir(d);
	}
	if (mounts)
		fclose(mounts);
	DIR *d = opendir(runtime_dir);
	for (struct dirent *de; d && (de = readdir(d));)
		if (de->d_name[0] != '.' &&
		    (size_t)snprintf(path, sizeof(path), "%s/%s", runtime_dir, de->d_name) < sizeof(path))
			unlink(path);
	if (d) {
		closedir(d);
		rmdir(runtime_dir);
	}
}

/* The configuration is read whole before DPDK starts, so a file that cannot be
 * read (a directory, a missing file) is refused at once; NUL bytes are refused
 * rather than cutting a line short unseen. */
#define E2D_CONFIG_MAX (8u << 20)

static char *read_config(const char *path, size_t *len)
{
	struct e2_err e;
	char *text = e2_read_file(path, E2D_CONFIG_MAX, len, &e);

	if (!text) {
		fprintf(stderr, "e2d: configuration %s\n", e.msg);
		return NULL;
	}
	const char *nul = memchr(text, '\0', *len);
	if (nul) {
		unsigned lineno = 1;
		for (const char *p = text; p < nul; p++)
			lineno += *p == '\n';
		fprintf(stderr, "e2d: %s:%u: NUL byte in the configuration\n", path, lineno);
		free(text);
		return NULL;
	}
	return text;
}

static int apply_config(struct e2_dp *dp, const char *path, char *text)
{
	unsigned lineno = 0;

	/* strtok_r would skip empty lines and so miscount: split by hand */
	for (char *line = text, *next; line; line = next) {
		char err[512];
		char *nl = strchr(line, '\n');
		next = nl ? nl + 1 : NULL;
		if (nl)
			*nl = '\0';
		lineno++;
		E2__Dp__Request *req = e2_cmd_parse(line, err, sizeof(err));
		if (!req) {
			if (err[0]) {
				fprintf(stderr, "e2d: %s:%u: %s\n", path, lineno, err);
				return -1;
			}
			continue;
		}
		E2__Dp__Response *resp = e2_ctl_handle(dp, req, NULL);
		int refused = resp->code != 0;
		if (refused)
			fprintf(stderr, "e2d: %s:%u: %s\n", path, lineno, resp->error);
		e2__dp__response__free_unpacked(resp, NULL);
		e2__dp__request__free_unpacked(req, NULL);
		if (refused)
			return -1;
	}
	return 0;
}

static bool config_adds_workers(const char *text)
{
	for (const char *p = text; p && *p; p = strchr(p, '\n'), p = p ? p + 1 : NULL) {
		p += strspn(p, " \t");
		if (strncmp(p, "worker", 6) == 0 && (p[6] == ' ' || p[6] == '\t'))
			return true;
	}
	return false;
}

/* Refuses to take over the socket of a running e2d, removes a stale one. */
static int claim_socket_path(const char *path)
{
	struct sockaddr_un sa = {.sun_family = AF_UNIX};
	int fd;

	if (strlen(path) >= sizeof(sa.sun_path)) {
		fprintf(stderr, "e2d: control socket path %s is too long\n", path);
		return -1;
	}
	if (access(path, F_OK) != 0)
		return 0;
	strcpy(sa.sun_path, path);
	fd = socket(AF_UNIX, SOCK_STREAM, 0);
	if (fd >= 0 && connect(fd, (struct sockaddr *)&sa, sizeof(sa)) == 0) {
		close(fd);
		fprintf(stderr, "e2d: another process is serving %s\n", path);
		return -1;
	}
	if (fd >= 0)
		close(fd);
	unlink(path);
	return 0;
}

static int open_control(const char *path)
{
	char url[200];
	int s, timeout = 100;
	char dir[160];
	char *slash;

	snprintf(dir, sizeof(dir), "%s", path);
	slash = strrchr(dir, '/');
	if (slash && slash != dir) {
		*slash = '\0';
		mkdir(dir, 0700);
	}
	if (claim_socket_path(path) != 0)
		return -1;
	s = nn_socket(AF_SP, NN_REP);
	if (s < 0) {
		fprintf(stderr, "e2d: nn_socket: %s\n", nn_strerror(nn_errno()));
		return -1;
	}
	nn_setsockopt(s, NN_SOL_SOCKET, NN_RCVTIMEO, &timeout, sizeof(timeout));
	int maxsz = E2_CTL_RECV_MAX;
	nn_setsockopt(s, NN_SOL_SOCKET, NN_RCVMAXSIZE, &maxsz, sizeof(maxsz));
	snprintf(url, sizeof(url), "ipc://%s", path);
	mode_t old = umask(0077);
	int ep = nn_bind(s, url);
	umask(old);
	if (ep < 0) {
		fprintf(stderr, "e2d: cannot listen on %s: %s\n", url, nn_strerror(nn_errno()));
		nn_close(s);
		return -1;
	}
	chmod(path, 0600);
	return s;
}

static void serve(struct e2_dp *dp, int sock, struct e2_monitor *mon)
{
	bool shutdown = false;

	while (!stop_requested && !shutdown) {
		e2_monitor_poll(mon, dp);
		void *buf = NULL;
		int n = nn_recv(sock, &buf, NN_MSG, 0);
		if (n < 0) {
			if (nn_errno() != ETIMEDOUT && nn_errno() != EAGAIN && nn_errno() != EINTR)
				E2_ERR("control receive failed: %s", nn_strerror(nn_errno()));
			continue;
		}
		E2__Dp__Response *resp = e2_ctl_handle_bytes(dp, buf, (size_t)n, &shutdown);
		nn_freemsg(buf);
		size_t len = e2__dp__response__get_packed_size(resp);
		uint8_t *out = malloc(len ? len : 1);
		if (out) {
			e2__dp__response__pack(resp, out);
			if (nn_send(sock, out, len, 0) < 0)
				E2_ERR("control reply failed: %s", nn_strerror(nn_errno()));
			free(out);
		}
		e2__dp__response__free_unpacked(resp, NULL);
	}
}

int main(int argc, char **argv)
{
	struct options o;
	static struct e2_dp dp;
	char err[E2_ERR_MAX];
	int sock, rc = 1;
	static struct e2_monitor mon;
	char events_path[200];

	if (argc == 3 && strcmp(argv[1], "--claim-multiprocess") == 0)
		return claimer_main(argv[2]);
	if (parse_options(argc, argv, &o) != 0)
		return 2;
	char *config = NULL;
	size_t config_len = 0;
	if (o.config && !(config = read_config(o.config, &config_len)))
		return 2;
	if (start_eal(&o, argv[0]) != 0)
		return 1;
	if (o.native_nfs && claim_multiprocess(strrchr(rte_eal_get_runtime_dir(), '/') + 1) != 0)
		goto out_eal;
	if (e2_dp_init(&dp, o.mbufs, err) != 0) {
		fprintf(stderr, "e2d: %s\n", err);
		goto out_eal;
	}
	dp.idle_spin_us = o.idle.quiet_us;
	dp.max_sleep_us = o.idle.max_sleep_us;
	e2_worker_set_idle(&o.idle);
	if (o.idle.mode == E2_IDLE_POLL)
		E2_INFO("idle policy poll: workers never nap");
	else
		E2_INFO("idle policy %s: polls %u us without a packet before a nap, naps %u us at most%s",
			e2_idle_mode_name(o.idle.mode), o.idle.quiet_us, o.idle.max_sleep_us,
			o.idle.mode == E2_IDLE_ADAPTIVE ? ", less as the rate rises" : "");
	signal(SIGPIPE, SIG_IGN);
	struct sigaction sa = {.sa_handler = on_signal};
	sigaction(SIGTERM, &sa, NULL);
	sigaction(SIGINT, &sa, NULL);

	/* The start-up graph is complete before any packet moves: the default worker
	 * exists (so the configuration can arrange its scheduler tree) but is held
	 * until the whole configuration has been applied. A configuration that adds
	 * its own workers gets no default one. */
	struct e2_worker *held = NULL;
	if (o.worker_core != -1 && !(config && config_adds_workers(config))) {
		int core = o.worker_core;
		if (core == -2) {
			cpu_set_t allowed;
			sched_getaffinity(0, sizeof(allowed), &allowed);
			for (int c = 0; c < CPU_SETSIZE; c++)
				if (CPU_ISSET(c, &allowed))
					core = c;
		}
		if (e2_dp_worker_create(&dp, 0, core, err) != 0) {
			fprintf(stderr, "e2d: %s\n", err);
			goto out_dp;
		}
		held = e2_dp_worker_find(&dp, 0);
		e2_worker_pause(held);
	}
	if (config && apply_config(&dp, o.config, config) != 0) {
		fprintf(stderr, "e2d: configuration refused; not starting\n");
		goto out_dp;
	}
	free(config);
	config = NULL;
	if (held)
		e2_worker_resume(held);
	sock = open_control(o.ctl_path);
	if (sock < 0)
		goto out_dp;
	snprintf(events_path, sizeof(events_path), "%s.events", o.ctl_path);
	if (e2_monitor_open(&mon, events_path, o.overload_high, o.overload_low, o.monitor_ms, err) != 0) {
		fprintf(stderr, "e2d: %s\n", err);
		nn_close(sock);
		unlink(o.ctl_path);
		goto out_dp;
	}
	if (o.pidfile) {
		FILE *f = fopen(o.pidfile, "w");
		if (f) {
			fprintf(f, "%d\n", (int)getpid());
			fclose(f);
		}
	}
	E2_INFO("ready, control socket %s", o.ctl_path);
	serve(&dp, sock, &mon);
	E2_INFO("stopping");
	e2_monitor_close(&mon, events_path);
	nn_close(sock);
	unlink(o.ctl_path);
	if (o.pidfile)
		unlink(o.pidfile);
	rc = 0;
out_dp:
	e2_dp_fini(&dp);
out_eal:;
	char runtime_dir[PATH_MAX];
	snprintf(runtime_dir, sizeof(runtime_dir), "%s", rte_eal_get_runtime_dir());
	rte_eal_cleanup();
	if (o.native_nfs)
		remove_shared_memory_files(strrchr(runtime_dir, '/') + 1, runtime_dir);
	free(config);
	return rc;
}
