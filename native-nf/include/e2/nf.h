/* SPDX-License-Identifier: BSD-3-Clause */
/* libe2nf: E2's native NF API.
 *
 * A native NF is a process attached to e2d's `nf` ports. Packets move between e2d and
 * the NF as mbuf pointers on shared rings (DPDK multi-process: the NF maps e2d's packet
 * buffers), never as copies. The NF gives a table of callbacks; libe2nf runs them to
 * completion on one thread: a burst in, the NF sends each packet to an output (or drops
 * or keeps it), the outputs are flushed as bursts. An idle NF spins briefly, then sleeps
 * (doubling up to max_sleep_us), so it never holds a core it does not use.
 *
 *   struct e2nf_config cfg = E2NF_CONFIG_INIT("myfw");
 *   cfg.ports[cfg.n_ports++] = "/run/e2/fw-in.sock";   ...
 *   struct e2nf *nf = e2nf_open(&cfg, &err);
 *   e2nf_run(nf, &ops, state);      returns on SIGINT/SIGTERM or when e2d lets go
 *   e2nf_close(nf);
 *
 * Metadata: attributes (url, safe, flow_id, t32..t127, ...) travel in the frame as NSH
 * MD type 2 TLVs, as e2d's nsh_push/nsh_match speak them; e2nf_meta_* read and write
 * them in place. Native-nf/README.md has the handshake, the attribute table and what
 * happens when an NF dies. */
#ifndef E2_NF_H
#define E2_NF_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include <getopt.h>
#include <stdio.h>

#include "e2/err.h"

#define E2NF_API_VERSION 1 /* said in the handshake; e2d refuses any other */
#define E2NF_PORTS_MAX 8
#define E2NF_BURST 32

struct e2nf;
struct rte_mbuf;
struct rte_mempool;

struct e2nf_config {
	const char *name;                  /* the NF's name in e2d's log */
	const char *ports[E2NF_PORTS_MAX]; /* sockets of e2d's nf ports; port i is ports[i] */
	unsigned n_ports;
	int cpu;               /* the CPU to run on; -1: any CPU the process may use */
	unsigned idle_spin_us; /* polling without packets this long, then sleeping */
	unsigned max_sleep_us; /* the longest sleep of an idle NF */
	unsigned timer_ms;     /* period of ops->timer; 0: never */
	const char *ctl_path;  /* a control socket (SOCK_SEQPACKET, a line in, a reply out); NULL: none */
	const char *dpdk_log_level;
	/* Offline, for tests: no e2d; ports[i] is a pcap file whose frames arrive on port i
	 * (in timestamp order across ports, timers on the capture's clock), and what the NF
	 * sends to port i is written to OFFLINE_DIR/out<i>.pcap; the lines "SECONDS COMMAND"
	 * of OFFLINE_DIR/control, if there, go to ops->control at those capture times (the
	 * replies to OFFLINE_DIR/control.out). e2nf_run returns 0 at the end of the input. */
	const char *offline_dir;
	/* ethdev mode (NF VMs): ports[i] are DPDK devices, not e2d's sockets: a PCI address
	 * (0000:00:03.0: in a VM, a virtio-net NIC bound to uio_pci_generic, its other end
	 * one of e2d's vhost-user ports) or a virtual device's devargs (net_virtio_user0,...).
	 * The NF is then the DPDK primary (in memory, hugepages) with a pool of its own;
	 * callbacks, metadata and counters are the same, there is no handshake and no load
	 * report (e2d sees its vhost rings fill instead). */
	bool ethdev;
	/* Written (the NF's pid) once every port is up; removed when the NF closes. For
	 * whoever starts the NF and must know when it passes packets (an NF VM's init). */
	const char *ready_file;
};

#define E2NF_CONFIG_INIT(nf_name)                                                                                 \
	{                                                                                                         \
		.name = (nf_name), .cpu = -1, .idle_spin_us = 100, .max_sleep_us = 200, .dpdk_log_level = "error" \
	}

struct e2nf_ops {
	/* A burst from port `port`. Each packet is then the NF's: it passes it to
	 * e2nf_send or e2nf_drop, or keeps it (and must do one of those later). */
	void (*rx)(struct e2nf *nf, void *state, unsigned port, struct rte_mbuf **pkts, unsigned n);
	/* Every timer_ms, between bursts; what it sends leaves right after it. */
	void (*timer)(struct e2nf *nf, void *state, uint64_t now_ns);
	/* A line from the control socket other than the library's own (`stats`, `version`);
	 * writes its reply; returns 0, or -1 with the error in reply. */
	int (*control)(struct e2nf *nf, void *state, const char *line, char *reply, size_t len);
	/* Appends the NF's own counters as `key=value` lines (stats and exit). */
	void (*counters)(struct e2nf *nf, void *state, char *buf, size_t len);
};

/* Connects to every port (the handshake), attaches to e2d's memory, takes the CPU. */
struct e2nf *e2nf_open(const struct e2nf_config *cfg, struct e2_err *err);
/* Runs until e2nf_stop, SIGINT/SIGTERM (handled from e2nf_open on), or e2d letting go
 * of a port or going away. Returns 0 after a stop or a signal, 1 when e2d ended it. */
int e2nf_run(struct e2nf *nf, const struct e2nf_ops *ops, void *state);
void e2nf_stop(struct e2nf *nf);
/* Frees what the NF still holds through the library, closes the ports. */
void e2nf_close(struct e2nf *nf);

/* Queues m to output `port` (flushed as a burst after the callback, or at 32). */
void e2nf_send(struct e2nf *nf, unsigned port, struct rte_mbuf *m);
/* Frees m and counts it as the NF's drop. */
void e2nf_drop(struct e2nf *nf, struct rte_mbuf *m);

/* The NF's clock (CLOCK_MONOTONIC; offline, the capture's time): for flow timeouts. */
uint64_t e2nf_now_ns(const struct e2nf *nf);

/* e2d's packet buffers, for an NF that makes packets of its own. */
struct rte_mempool *e2nf_pool(const struct e2nf *nf);
unsigned e2nf_n_ports(const struct e2nf *nf);
const char *e2nf_name(const struct e2nf *nf);

/* Load: the library reports the share of time spent in callbacks every 500 ms; an NF
 * that knows better (a backlog of its own) reports a fraction 0..1 of its capacity,
 * which replaces the measured one until the next report. e2d's monitor turns it into
 * overload/underload events of the port. */
void e2nf_report_load(struct e2nf *nf, double load);

struct e2nf_counters {
	uint64_t rx_packets, rx_bursts, tx_packets, tx_full, drops, polls, sleeps;
	uint64_t busy_cycles, cycles; /* in callbacks / since e2nf_run began */
};
void e2nf_get_counters(const struct e2nf *nf, struct e2nf_counters *c);
/* Offline: the cycles spent so far writing the output captures (which busy_cycles leaves
 * out), so an NF timing part of a callback can leave them out too; 0 on live ports. */
uint64_t e2nf_io_cycles(const struct e2nf *nf);
/* The library's and the NF's counters as `key=value` lines. */
void e2nf_format_counters(struct e2nf *nf, char *buf, size_t len);

/* --- the options every NF program takes ---
 *   --port SOCK (repeatable; port 0, 1, ...)  --name NAME  --cpu N  --ctl SOCK
 *   --idle-spin-us N  --max-sleep-us N  --offline DIR  --ethdev  --ready-file FILE
 * E2NF_OPTIONS is their getopt_long table (terminated by a zero entry, to be copied
 * in front of the NF's own), E2NF_OPTIONS_HELP their usage lines. */
#define E2NF_OPT_BASE 0x4e00
#define E2NF_OPTIONS_N 9
extern const struct option e2nf_options[E2NF_OPTIONS_N + 1];
#define E2NF_OPTIONS_HELP                                                                                     \
	"  --port SOCK         an nf port of e2d (repeat: port 0, 1, ...; e2d: port add NAME nf path=SOCK)\n" \
	"  --name NAME         the name e2d logs for this NF\n"                                               \
	"  --cpu N             run on CPU N (default: any allowed CPU)\n"                                     \
	"  --ctl SOCK          control socket: `stats`, `version` and the NF's own commands\n"                \
	"  --idle-spin-us N    poll this long without packets before sleeping (default 100)\n"                \
	"  --max-sleep-us N    longest sleep when idle (default 200)\n"                                       \
	"  --offline DIR       test mode without e2d: each --port is a pcap file read as that port's\n"       \
	"                      input; what goes out of port i is written to DIR/out<i>.pcap\n"                \
	"  --ethdev            ports are DPDK NICs, not e2d's sockets: --port PCI_ADDRESS (in an NF\n"        \
	"                      VM: a virtio-net NIC bound to uio_pci_generic) or --port VDEV_DEVARGS;\n"      \
	"                      the NF is the DPDK primary with its own memory (hugepages)\n"                  \
	"  --ready-file FILE   write the NF's pid to FILE once every port is up (removed at exit)\n"
/* Handles option c (from e2nf_options) into cfg: 1 handled, 0 not one of ours, -1 bad. */
int e2nf_option(int c, const char *arg, struct e2nf_config *cfg, struct e2_err *err);

/* An NF's own option c (the val of its entry in own[]): 1 handled, -1 bad (err says why). */
typedef int e2nf_own_option(int c, const char *arg, void *ctx, struct e2_err *err);
#define E2NF_OWN_OPTIONS_MAX 24
/* A whole NF command line: libe2nf's options into cfg, the NF's own (own[]: a
 * getopt_long table ending in a zero entry, at most E2NF_OWN_OPTIONS_MAX, none named
 * "help" or of val 'h') through handle(c, arg, ctx), --help (usage(stdout)), and no operands. Returns
 * -1 to go on, or the exit status to leave with: 0 after --help, 2 after a bad option or
 * operand, said on stderr as "PROG: ..." with a pointer to --help. */
int e2nf_args(int argc, char **argv, const char *prog, struct e2nf_config *cfg, const struct option *own,
	      e2nf_own_option *handle, void *ctx, void (*usage)(FILE *out));
/* The own options of an NF configured by one file: --config FILE and --check, for
 * e2nf_args (ctx: a struct e2nf_conf_args); an NF with more options calls
 * e2nf_conf_option from its own handler for these two. */
struct e2nf_conf_args {
	const char *path;
	bool check;
};
#define E2NF_CONF_OPTIONS                         \
	{"config", required_argument, NULL, 'f'}, \
	{                                         \
		"check", no_argument, NULL, 'c'   \
	}
int e2nf_conf_option(int c, const char *arg, void *ctx, struct e2_err *err);
/* A configuration file's text (NUL-terminated, at most max bytes; *len its length), or
 * NULL once "PROG: WHAT <why>" is said on stderr. free() it. */
char *e2nf_read_text(const char *prog, const char *what, const char *path, size_t max, size_t *len);

/* --- metadata (NSH MD type 2 TLVs of class 0xFFF6) --- */

struct e2nf_attr {
	uint8_t type;  /* TLV type */
	uint8_t width; /* bytes of an integer attribute; 0: bytes */
};

/* Looks up an attribute by name: safe, url, tclass, flow_id, app, verdict, or tN
 * (32 <= N <= 127). Returns 0, or -1 (err says which names exist). */
int e2nf_attr(const char *name, struct e2nf_attr *a, struct e2_err *err);
/* Copies the value (up to len bytes); returns its length, 0 if absent, -1 if the
 * frame's NSH header is malformed. */
int e2nf_meta_get(const struct rte_mbuf *m, const struct e2nf_attr *a, void *buf, size_t len);
/* The value where it lies in the frame, without copying it (for an NF that reads an
 * attribute on every packet): a pointer to *len bytes, valid until the frame's front
 * changes; NULL with *len 0 if absent, -1 if the NSH header is malformed. */
const uint8_t *e2nf_meta_find(const struct rte_mbuf *m, const struct e2nf_attr *a, int *len);
/* An integer attribute: 1 (found, *v set), 0 (absent), -1 (malformed or not an integer). */
int e2nf_meta_get_u64(const struct rte_mbuf *m, const struct e2nf_attr *a, uint64_t *v);
/* Sets the value, replacing an earlier one. A frame without NSH gets an NSH header
 * (service path 0, index 255, the frame's MACs outside) in its headroom. Returns 0, or
 * -1 (value too long, no headroom, malformed NSH, 16 TLVs already) leaving m as it was. */
int e2nf_meta_set(struct rte_mbuf *m, const struct e2nf_attr *a, const void *val, size_t len);
int e2nf_meta_set_u64(struct rte_mbuf *m, const struct e2nf_attr *a, uint64_t v);
/* Where the frame the NF should parse begins: 0, or past the outer Ethernet + NSH
 * header of an NSH frame; -1 if that header is malformed. */
int e2nf_inner_offset(const struct rte_mbuf *m);

#endif
