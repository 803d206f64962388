/* SPDX-License-Identifier: BSD-3-Clause */
/* libFuzzer target for e2d's live graph commands and its configuration loader, on a
 * real dataplane (DPDK in memory, no workers). An input is either
 *   - a program (first byte even): each 4-byte step adds, deletes, connects,
 *     disconnects, inserts or grows a chain of modules, as text commands through the
 *     parser and e2d's request handler; or
 *   - a configuration (first byte odd): the rest, split into lines as e2d's loader does.
 * After every command, whatever e2d answered: the graph has no loop, no call chain
 * between tasks is longer than E2_GRAPH_DEPTH_MAX, each module's igate_refs is the
 * number of output gates that point at it, and a refusal says why. Every input starts
 * from an empty graph. */
#include "e2/fuzz.h"
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <rte_eal.h>

#include "ctl.h"
#include "dp.h"

#define NAMES 200

static struct e2_dp dp;

int LLVMFuzzerInitialize(int *argc, char ***argv)
{
	char pfx[64], err[E2_ERR_MAX];
	snprintf(pfx, sizeof(pfx), "fuzz-graph-%d", (int)getpid());
	char *eal[] = {
		"fuzz",          "--no-huge", "-m",          "256",   "--no-pci", "--no-shconf", "--no-telemetry",
		"--file-prefix", pfx,         "--log-level", "error", "-l",       "0",           NULL};
	if (rte_eal_init((int)(sizeof(eal) / sizeof(eal[0])) - 1, eal) < 0 || e2_dp_init(&dp, 1023, err) != 0)
		abort();
	return 0;
}

/* Colours of a depth-first search: 0 unseen, 1 on the current path, 2 done. */
static void no_loop_from(const struct e2_module *m, uint8_t *colour)
{
	if (colour[m->slot] == 1)
		abort(); /* a loop, queues included */
	if (colour[m->slot] == 2)
		return;
	colour[m->slot] = 1;
	for (uint16_t g = 0; g < m->n_ogates; g++)
		if (m->ogates[g].next)
			no_loop_from(m->ogates[g].next, colour);
	colour[m->slot] = 2;
}

/* Frames on a worker's stack from m's own call onward (a task's input only
 * enqueues), memoized; computed here by recursion, apart from dp_graph.c's sweep. */
static unsigned run_frames(const struct e2_module *m, unsigned *memo)
{
	if (memo[m->slot])
		return memo[m->slot];
	unsigned best = 0;
	for (uint16_t g = 0; g < m->n_ogates; g++) {
		const struct e2_module *s = m->ogates[g].next;
		if (!s)
			continue;
		unsigned f = s->cls->run_task ? 1 : run_frames(s, memo);
		best = f > best ? f : best;
	}
	return memo[m->slot] = 1 + best;
}

static void check_graph(void)
{
	static uint8_t colour[E2_MODULES_MAX];
	static unsigned memo[E2_MODULES_MAX], refs[E2_MODULES_MAX];

	memset(colour, 0, sizeof(colour));
	memset(memo, 0, sizeof(memo));
	memset(refs, 0, sizeof(refs));
	for (size_t i = 0; i < E2_MODULES_MAX; i++) {
		const struct e2_module *m = dp.modules[i];
		for (uint16_t g = 0; m && g < m->n_ogates; g++)
			if (m->ogates[g].next)
				refs[m->ogates[g].next->slot]++;
	}
	for (size_t i = 0; i < E2_MODULES_MAX; i++)
		if (dp.modules[i])
			no_loop_from(dp.modules[i], colour);
	for (size_t i = 0; i < E2_MODULES_MAX; i++) {
		const struct e2_module *m = dp.modules[i];
		if (!m)
			continue;
		if (m->slot != i || m->igate_refs != refs[i])
			abort();
		/* chains start at tasks and at modules nothing feeds */
		if ((m->cls->run_task || refs[i] == 0) && run_frames(m, memo) > E2_GRAPH_DEPTH_MAX)
			abort();
	}
}

/* What a fuzz input may ask for: the graph and its modules, but no worker threads,
 * sockets, devices or files (port, worker, task, sched, capture and `file=`). */
static bool harmless(const E2__Dp__Request *req)
{
	switch (req->op_case) {
	case E2__DP__REQUEST__OP_MODULE_CREATE:
	case E2__DP__REQUEST__OP_MODULE_COMMAND: {
		size_t n = req->op_case == E2__DP__REQUEST__OP_MODULE_CREATE ? req->module_create->n_args
									     : req->module_command->n_args;
		E2__Dp__Arg **v = req->op_case == E2__DP__REQUEST__OP_MODULE_CREATE ? req->module_create->args
										    : req->module_command->args;
		for (size_t i = 0; i < n; i++)
			if (v[i]->key && strcmp(v[i]->key, "file") == 0)
				return false;
		return true;
	}
	case E2__DP__REQUEST__OP_MODULE_DESTROY:
	case E2__DP__REQUEST__OP_CONNECT:
	case E2__DP__REQUEST__OP_DISCONNECT:
	case E2__DP__REQUEST__OP_INSERT:
	case E2__DP__REQUEST__OP_STATS:
	case E2__DP__REQUEST__OP_LIST: return true;
	default: return false;
	}
}

static void run(const char *line)
{
	char err[512];
	E2__Dp__Request *req = e2_cmd_parse(line, err, sizeof(err));
	if (req && harmless(req)) {
		E2__Dp__Response *r = e2_ctl_handle(&dp, req, NULL);
		if (r->code && !(r->error && *r->error))
			abort();
		e2__dp__response__free_unpacked(r, NULL);
	}
	if (req)
		e2__dp__request__free_unpacked(req, NULL);
	check_graph();
}

static const char *const classes[] = {"flowhash", "bpf", "queue size=64", "sink", "rr_split gates=3"};

static void program(const uint8_t *d, size_t n)
{
	char line[256];
	for (size_t i = 0; i + 4 <= n; i += 4) {
		unsigned a = d[i + 1] % NAMES, b = d[i + 2] % NAMES, x = d[i + 3];
		switch (d[i] % 6) {
		case 0: snprintf(line, sizeof(line), "module add m%u %s", a, classes[x % 5]); break;
		case 1: snprintf(line, sizeof(line), "module del m%u", a); break;
		case 2: snprintf(line, sizeof(line), "connect m%u:%u m%u", a, x % 4, b); break;
		case 3: snprintf(line, sizeof(line), "disconnect m%u:%u", a, x % 4); break;
		case 4: snprintf(line, sizeof(line), "insert m%u:%u m%u", a, x % 4, b); break;
		default:
			/* a chain of x flowhash modules hung off gate 0 of m<a>, named from b on */
			for (unsigned k = 0; k < x; k++) {
				snprintf(line, sizeof(line), "module add m%u flowhash", (b + k) % NAMES);
				run(line);
				snprintf(line, sizeof(line), "connect m%u m%u", k ? (b + k - 1) % NAMES : a,
					 (b + k) % NAMES);
				run(line);
			}
			continue;
		}
		run(line);
	}
}

static void configuration(const uint8_t *d, size_t n)
{
	char *text = malloc(n + 1);
	if (!text)
		abort();
	memcpy(text, d, n);
	text[n] = '\0';
	for (char *line = text, *next; line; line = next) {
		char *nl = strchr(line, '\n');
		next = nl ? nl + 1 : NULL;
		if (nl)
			*nl = '\0';
		run(line);
	}
	free(text);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	char err[E2_ERR_MAX];

	if (size == 0 || size > 8192)
		return 0;
	if (data[0] % 2 == 0)
		program(data + 1, size - 1);
	else
		configuration(data + 1, size - 1);
	/* back to an empty graph for the next input */
	for (size_t i = 0; i < E2_MODULES_MAX; i++)
		if (dp.modules[i])
			e2_dp_module_destroy(&dp, dp.modules[i]->name, err);
	for (size_t i = 0; i < E2_PORTS_MAX; i++)
		if (dp.ports[i])
			e2_dp_port_destroy(&dp, dp.ports[i]->name, err);
	return 0;
}
