/* SPDX-License-Identifier: BSD-3-Clause */
/* e2-agent's inside: one struct agent shared by three threads of its own.
 *
 *  - the main thread polls the sockets (AgentRequest REP, HookNotice REP, e2d's event
 *    SUB), e2d's pidfd and a 100 ms tick: it answers at once, owns the e2d process
 *    (start, adopt, restart with back-off) and turns libvirt lifecycle events and hook
 *    notices into instance states;
 *  - the worker thread reconciles: e2d lines, then instances one at a time (the slow
 *    part: VM boots), whenever it is kicked and every few seconds;
 *  - libvirt's event thread (libe2virt) only marks instances to check and wakes main.
 *
 * Everything below `lock` is guarded by it, the database included; nothing blocking
 * (libvirt, e2d's control socket) is called with it held. */
#ifndef E2_AGENT_H
#define E2_AGENT_H

#include <pthread.h>
#include <stdbool.h>
#include <stdint.h>
#include <sys/types.h>

#include "e2/chan.h"
#include "e2/ctlnames.h"
#include "e2/err.h"
#include "e2ctl.pb-c.h"
#include "e2virt.h"
#include "store.h"

#define AGENT_NAME_MAX 64
#define AGENT_MAX_INSTANCES 256
#define AGENT_READY_TIMEOUT_MS 180000u /* a TCG boot on a busy machine */

typedef E2__Ctl__InstanceState inst_state;

struct agent_inst {
	char name[AGENT_NAME_MAX + 1];
	inst_state state;
	uint64_t since_ns;
	char detail[512];
	bool desired;         /* in the spec */
	bool busy;            /* the worker acts on it: events about it are the worker's business */
	bool start_requested; /* AgentRequest.start: start it even if the spec says stopped */
	bool check;           /* main: look at its domain at the next tick */
	uint64_t check_at_ms; /* ... not before this (monotonic) */
	uint64_t retry_at_ms; /* a failed start is tried again from here */
	unsigned failures;
};

enum e2d_phase {
	E2D_DOWN,     /* none running, none planned (no spec yet, or the agent stops) */
	E2D_STARTING, /* spawned, waiting for its control socket to answer */
	E2D_UP,
	E2D_STOPPING, /* asked to stop (a restart with new lines), waiting for it to exit */
	E2D_BACKOFF,  /* died; restarted at restart_at_ms */
};

struct e2d_sup {
	enum e2d_phase phase;
	pid_t pid;
	int pidfd;
	bool child; /* forked by this agent (to be reaped), not adopted */
	uint64_t start_ticks;
	uint64_t phase_ms, started_ms, restart_at_ms;
	uint32_t restarts;
	unsigned backoff_ms;
	bool after_crash; /* the e2d being started replaces one that died */
	/* a restart with new lines, asked for by the worker */
	uint64_t req_seq, done_seq;
	bool req_active;
	struct strv req_lines;
	int req_rc;
	char req_err[1024];
};

struct agent {
	/* configuration (set before the threads start, then read only) */
	char server[AGENT_NAME_MAX + 1];
	char state_dir[2048];
	char db_path[2100], conf_path[2100], ctl_path[2100], log_path[2100], e2d_pidfile[2100];
	char listen_url[512], events_url[512], hook_url[512];
	char e2d_path[2048];
	struct strv e2d_args;
	char images[2048];
	char libvirt_uri[256];
	unsigned ready_timeout_ms; /* a VM's E2-READY, AGENT_READY_TIMEOUT_MS unless told */
	char nic_line[1024];       /* the agent's own e2d line: the fabric port `nic` */
	struct e2_chan_key key;
	bool have_key;
	uint64_t boot;
	char sender[E2_CHAN_SENDER_MAX + 1];

	pthread_mutex_t lock;
	pthread_cond_t cond; /* worker kicks, restart requests done */
	struct agent_store *db;
	E2__Ctl__ServerSpec *spec; /* desired; NULL until one was applied */
	uint8_t *spec_bytes;
	size_t spec_len;
	uint64_t applied_generation;
	struct strv lines;   /* what the running e2d has (== e2d.conf) */
	struct strv stopped; /* the operator-stopped set */
	struct agent_inst *inst;
	size_t n_inst;
	struct e2d_sup sup;
	struct e2_chan *pub;
	bool work, quit, worker_busy;
	/* e2d refused this generation's lines: not tried again until a new spec comes (a
	 * retry would only restart e2d again and again) */
	uint64_t lines_refused_gen;
	char lines_refused[1024];
	char last_error[1024];
	int wake_fd; /* eventfd: wakes the main loop */
	struct e2v_conn *virt;
	enum e2v_accel accel;
	bool events_on;
};

/* ---- agent.c: shared helpers (caller holds lock unless said otherwise) ---- */
uint64_t agent_now_ns(void); /* CLOCK_REALTIME */
uint64_t agent_mono_ms(void);
void agent_wake(struct agent *a); /* any thread, lock or not */
void agent_kick(struct agent *a); /* wakes the worker */
/* Makes an instance's own initrd (STATE/NAME.initrd) from its spec's instance_files, as
 * they are now; 0 with nothing to do if it has none. Before every start the agent makes,
 * and when libvirt prepares one (the hook), so that `virsh start` boots today's files. */
int agent_instance_initrd(struct agent *a, const char *name, struct e2_err *err);
struct agent_inst *agent_inst_find(struct agent *a, const char *name);
struct agent_inst *agent_inst_add(struct agent *a, const char *name);
void agent_inst_remove(struct agent *a, struct agent_inst *i);
/* Moves an instance to a state (if it changes, or the detail does), stores it and
 * publishes AGENT_INSTANCE_STATE. */
void agent_set_state(struct agent *a, struct agent_inst *i, inst_state st, const char *fmt, ...)
	__attribute__((format(printf, 4, 5)));
const E2__Ctl__Instance *agent_spec_instance(const struct agent *a, const char *name);
bool agent_is_stopped(const struct agent *a, const char *name); /* operator set or spec */
void agent_stopped_set(struct agent *a, const char *name, bool on);
/* The report (free with e2__ctl__agent_report__free_unpacked(r, NULL)). */
E2__Ctl__AgentReport *agent_report(struct agent *a);
void agent_publish(struct agent *a, E2__Ctl__AgentEvent *ev);
void agent_publish_report(struct agent *a, E2__Ctl__AgentEventKind kind);
/* Every e2d line the spec wants: the agent's own, then the spec's. */
void agent_desired_lines(const struct agent *a, struct strv *out);
/* Writes e2d.conf (atomically). */
int agent_write_conf(const struct agent *a, const struct strv *lines, struct e2_err *err);

/* ---- e2d.c: the e2d process ---- */
/* At start: adopts the recorded e2d if it still runs (same pid and start time, the e2d
 * binary, its control socket answers), else starts one with the stored lines. */
void e2d_init(struct agent *a);
/* main thread: pidfd readable, tick, wake (restart requests). */
void e2d_on_exit(struct agent *a);
void e2d_tick(struct agent *a);
/* worker, without lock: restarts e2d with these lines, waiting until it is up (0) or
 * refused them (-1, err; e2d is back on the lines it had). */
int e2d_restart_with(struct agent *a, const struct strv *lines, struct e2_err *err);
/* Any thread, without lock: one command line to e2d's control socket. 0, -1 when e2d
 * did not answer, E2D_REFUSED when it refused the line (err says why). */
#define E2D_REFUSED (-2)
int e2d_command(const char *ctl_path, const char *line, int timeout_ms, struct e2_err *err);
int e2d_ping(const char *ctl_path, int timeout_ms);
bool e2d_is_up(const struct agent *a);

/* ---- worker.c ---- */
void *worker_main(void *arg);
/* main thread, without lock: looks at an instance's domain and moves its state */
void instance_check(struct agent *a, const char *name);
/* libvirt event thread */
void instance_event(void *opaque, const char *instance, enum e2v_event ev, bool is_e2);
/* Connects to libvirt (and starts watching events) if not connected; any thread, no lock. */
struct e2v_conn *agent_virt(struct agent *a, struct e2_err *err);

#endif
