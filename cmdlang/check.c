/* SPDX-License-Identifier: BSD-3-Clause */
/* Checks of control requests that need no dataplane state: version, operation,
 * names and argument shapes. Shared by e2d, the client and the fuzzer. */
#include <errno.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <string.h>

#include "e2/cmd.h"
#include "e2/cmd_ops.h"
#include "sched_words.h"

static int check_name(const char *what, const char *s, char *err, size_t errlen)
{
	if (!s || !*s) {
		snprintf(err, errlen, "%s name is missing", what);
		return EINVAL;
	}
	if (strlen(s) >= E2_CTL_NAME_MAX) {
		snprintf(err, errlen, "%s name is longer than %d characters", what, E2_CTL_NAME_MAX - 1);
		return EINVAL;
	}
	return 0;
}

static int check_args(size_t n, E2__Dp__Arg **v, char *err, size_t errlen)
{
	if (n > E2_CTL_ARGS_MAX) {
		snprintf(err, errlen, "too many arguments (%zu, at most %d)", n, E2_CTL_ARGS_MAX);
		return EINVAL;
	}
	for (size_t i = 0; i < n; i++) {
		if (!v[i] || !v[i]->key || !*v[i]->key) {
			snprintf(err, errlen, "argument %zu has no key", i + 1);
			return EINVAL;
		}
		if (strlen(v[i]->key) > 64 || (v[i]->value && strlen(v[i]->value) > 4096)) {
			snprintf(err, errlen, "argument '%.32s' is too long", v[i]->key);
			return EINVAL;
		}
	}
	return 0;
}

/* Each check_NAME checks its part of a request; 0 or an errno value with err. */

static int check_port_add(const E2__Dp__Request *req, char *err, size_t errlen)
{
	int rc;
	if (!(rc = check_name("port", req->port_create->name, err, errlen)) &&
	    !(rc = check_name("driver", req->port_create->driver, err, errlen)))
		rc = check_args(req->port_create->n_args, req->port_create->args, err, errlen);
	return rc;
}

static int check_port_del(const E2__Dp__Request *req, char *err, size_t errlen)
{
	return check_name("port", req->port_destroy->name, err, errlen);
}

static int check_module_add(const E2__Dp__Request *req, char *err, size_t errlen)
{
	int rc;
	if (!(rc = check_name("module", req->module_create->name, err, errlen)) &&
	    !(rc = check_name("class", req->module_create->mclass, err, errlen)))
		rc = check_args(req->module_create->n_args, req->module_create->args, err, errlen);
	return rc;
}

static int check_module_del(const E2__Dp__Request *req, char *err, size_t errlen)
{
	return check_name("module", req->module_destroy->name, err, errlen);
}

static int check_module_cmd(const E2__Dp__Request *req, char *err, size_t errlen)
{
	int rc;
	if (!(rc = check_name("module", req->module_command->module, err, errlen)) &&
	    !(rc = check_name("command", req->module_command->cmd, err, errlen)))
		rc = check_args(req->module_command->n_args, req->module_command->args, err, errlen);
	return rc;
}

static int check_connect(const E2__Dp__Request *req, char *err, size_t errlen)
{
	int rc;
	if (!req->connect->from || !req->connect->to) {
		snprintf(err, errlen, "connect needs both ends");
		return EINVAL;
	}
	if (!(rc = check_name("module", req->connect->from->module, err, errlen)))
		rc = check_name("module", req->connect->to->module, err, errlen);
	return rc;
}

static int check_disconnect(const E2__Dp__Request *req, char *err, size_t errlen)
{
	return check_name("module", req->disconnect->module, err, errlen);
}

static int check_insert(const E2__Dp__Request *req, char *err, size_t errlen)
{
	int rc;
	if (!req->insert->at) {
		snprintf(err, errlen, "insert needs the gate to insert at");
		return EINVAL;
	}
	if (!(rc = check_name("module", req->insert->at->module, err, errlen)))
		rc = check_name("module", req->insert->module, err, errlen);
	return rc;
}

static int check_capture(const E2__Dp__Request *req, char *err, size_t errlen)
{
	int rc;
	if (!req->capture->at) {
		snprintf(err, errlen, "capture needs a module gate or a port");
		return EINVAL;
	}
	if (!(rc = check_name("module or port", req->capture->at->module, err, errlen)))
		rc = check_args(req->capture->n_args, req->capture->args, err, errlen);
	return rc;
}

static int check_worker_add(const E2__Dp__Request *req, char *err, size_t errlen)
{
	if (req->worker_create->id >= 1024) {
		snprintf(err, errlen, "worker id %u is too large", req->worker_create->id);
		return EINVAL;
	}
	return 0;
}

static int check_task_attach(const E2__Dp__Request *req, char *err, size_t errlen)
{
	return check_name("module", req->task_attach->module, err, errlen);
}

/* The number settings a message has, each within its range. */
struct number {
	const char *key;
	bool given;
	uint64_t value;
};

static int check_numbers(const struct number *v, size_t n, char *err, size_t errlen)
{
	for (size_t i = 0; i < n; i++)
		if (v[i].given && e2_cmd_sched_number_ok(v[i].key, v[i].value, err, errlen))
			return EINVAL;
	return 0;
}

static int check_resource(E2__Dp__SchedResource resource, char *err, size_t errlen)
{
	if (resource && !e2_cmd_resource_word(resource)) {
		snprintf(err, errlen, "resource=%d: use cycles, packets or bits", (int)resource);
		return EINVAL;
	}
	return 0;
}

static int check_sched_add(const E2__Dp__Request *req, char *err, size_t errlen)
{
	const E2__Dp__SchedAdd *c = req->sched_add;
	const struct number numbers[] = {
		{"share", c->has_share_case, c->share},    {"priority", c->has_priority_case, c->priority},
		{"limit", c->has_limit_case, c->limit},    {"burst", c->has_burst_case, c->burst},
		{"worker", c->has_worker_case, c->worker},
	};
	int rc;
	if ((rc = check_name("scheduler node", c->name, err, errlen)) ||
	    (rc = check_numbers(numbers, sizeof(numbers) / sizeof(numbers[0]), err, errlen)) ||
	    (rc = check_resource(c->resource, err, errlen)))
		return rc;
	if (!e2_cmd_policy_word(c->policy)) {
		snprintf(err, errlen, "sched add needs policy=priority|weighted_fair|round_robin|rate_limit");
		return EINVAL;
	}
	return 0;
}

static int check_sched_attach(const E2__Dp__Request *req, char *err, size_t errlen)
{
	const E2__Dp__SchedAttach *c = req->sched_attach;
	const struct number numbers[] = {
		{"share", c->has_share_case, c->share},
		{"priority", c->has_priority_case, c->priority},
	};
	int rc;
	if ((rc = check_name("scheduler node", c->name, err, errlen)))
		return rc;
	return check_numbers(numbers, sizeof(numbers) / sizeof(numbers[0]), err, errlen);
}

static int check_sched_set(const E2__Dp__Request *req, char *err, size_t errlen)
{
	const E2__Dp__SchedSet *c = req->sched_set;
	const struct number numbers[] = {
		{"share", c->has_share_case, c->share},
		{"priority", c->has_priority_case, c->priority},
		{"limit", c->has_limit_case, c->limit},
		{"burst", c->has_burst_case, c->burst},
	};
	int rc;
	if ((rc = check_name("scheduler node", c->name, err, errlen)) ||
	    (rc = check_numbers(numbers, sizeof(numbers) / sizeof(numbers[0]), err, errlen)))
		return rc;
	return check_resource(c->resource, err, errlen);
}

static int check_sched_del(const E2__Dp__Request *req, char *err, size_t errlen)
{
	return check_name("scheduler node", req->sched_del->name, err, errlen);
}

static int check_sched_show(const E2__Dp__Request *req, char *err, size_t errlen)
{
	const struct number worker = {"worker", req->sched_show->has_worker_case, req->sched_show->worker};
	return check_numbers(&worker, 1, err, errlen);
}

static int check_stats(const E2__Dp__Request *req, char *err, size_t errlen)
{
	if (req->stats->name && strlen(req->stats->name) >= E2_CTL_NAME_MAX) {
		snprintf(err, errlen, "name is too long");
		return EINVAL;
	}
	return 0;
}

static int check_log_set(const E2__Dp__Request *req, char *err, size_t errlen)
{
	if (!req->log_set->spec || !*req->log_set->spec || strlen(req->log_set->spec) > 1024) {
		snprintf(err, errlen, "log set needs a level spec of at most 1024 characters");
		return EINVAL;
	}
	return 0;
}

/* list, classes, ping, shutdown, log show: nothing to check */
static int check_nothing(const E2__Dp__Request *req, char *err, size_t errlen)
{
	return 0;
}

#define check_list check_nothing
#define check_classes check_nothing
#define check_ping check_nothing
#define check_shutdown check_nothing
#define check_log_show check_nothing

struct check_op {
	E2__Dp__Request__OpCase op;
	int (*check)(const E2__Dp__Request *req, char *err, size_t errlen);
};

#define CHECK_ROW(name, words, op, workers, usage) {E2__DP__REQUEST__OP_##op, check_##name},
static const struct check_op check_ops[] = {E2_CMD_OPS(CHECK_ROW)};

int e2_cmd_check(const E2__Dp__Request *req, char *err, size_t errlen)
{
	if (req->version != E2_CTL_VERSION) {
		snprintf(err, errlen, "protocol version %u is not supported (this e2d speaks version %d)", req->version,
			 E2_CTL_VERSION);
		return EPROTO;
	}
	for (size_t i = 0; i < sizeof(check_ops) / sizeof(check_ops[0]); i++)
		if (check_ops[i].op == req->op_case)
			return check_ops[i].check(req, err, errlen);
	snprintf(err, errlen, "request has no operation (or one this e2d does not know)");
	return EINVAL;
}
