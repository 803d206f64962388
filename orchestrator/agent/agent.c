/* SPDX-License-Identifier: BSD-3-Clause */
/* Helpers every thread of the agent uses: instances, states, the report, events. */
#include "agent.h"

#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "e2/file.h"
#include "e2/log.h"

E2_LOG_MODULE(agent);

uint64_t agent_now_ns(void)
{
	struct timespec ts;
	clock_gettime(CLOCK_REALTIME, &ts);
	return (uint64_t)ts.tv_sec * 1000000000ull + (uint64_t)ts.tv_nsec;
}

uint64_t agent_mono_ms(void)
{
	struct timespec ts;
	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (uint64_t)ts.tv_sec * 1000ull + (uint64_t)ts.tv_nsec / 1000000ull;
}

void agent_wake(struct agent *a)
{
	uint64_t one = 1;
	if (write(a->wake_fd, &one, sizeof(one)) < 0) {
		/* the counter is full: main is awake already */
	}
}

void agent_kick(struct agent *a)
{
	a->work = true;
	pthread_cond_broadcast(&a->cond);
}

struct agent_inst *agent_inst_find(struct agent *a, const char *name)
{
	for (size_t i = 0; i < a->n_inst; i++)
		if (!strcmp(a->inst[i].name, name))
			return &a->inst[i];
	return NULL;
}

struct agent_inst *agent_inst_add(struct agent *a, const char *name)
{
	struct agent_inst *i = agent_inst_find(a, name);
	if (i)
		return i;
	if (a->n_inst >= AGENT_MAX_INSTANCES || strlen(name) > AGENT_NAME_MAX)
		return NULL;
	i = &a->inst[a->n_inst++];
	*i = (struct agent_inst){.state = E2__CTL__INSTANCE_STATE__INSTANCE_PENDING, .since_ns = agent_now_ns()};
	snprintf(i->name, sizeof(i->name), "%s", name);
	return i;
}

void agent_inst_remove(struct agent *a, struct agent_inst *i)
{
	struct e2_err err;
	if (store_del_instance(a->db, i->name, &err))
		E2_ERR("%s", err.msg);
	size_t k = (size_t)(i - a->inst);
	memmove(&a->inst[k], &a->inst[k + 1], (a->n_inst - k - 1) * sizeof(*i));
	a->n_inst--;
}

const E2__Ctl__Instance *agent_spec_instance(const struct agent *a, const char *name)
{
	if (!a->spec)
		return NULL;
	for (size_t k = 0; k < a->spec->n_instances; k++)
		if (!strcmp(a->spec->instances[k]->name, name))
			return a->spec->instances[k];
	return NULL;
}

bool agent_is_stopped(const struct agent *a, const char *name)
{
	if (strv_find(&a->stopped, name) >= 0)
		return true;
	if (a->spec)
		for (size_t k = 0; k < a->spec->n_stopped; k++)
			if (!strcmp(a->spec->stopped[k], name))
				return true;
	return false;
}

void agent_stopped_set(struct agent *a, const char *name, bool on)
{
	int k = strv_find(&a->stopped, name);
	if (on == (k >= 0))
		return;
	if (on)
		strv_push(&a->stopped, name);
	else
		strv_remove(&a->stopped, (size_t)k);
	struct e2_err err;
	if (store_put_stopped(a->db, name, on, &err))
		E2_ERR("%s", err.msg);
}

static E2__Ctl__InstanceStatus *status_of(struct agent *a, const struct agent_inst *i)
{
	E2__Ctl__InstanceStatus *s = malloc(sizeof(*s));
	if (!s)
		return NULL;
	e2__ctl__instance_status__init(s);
	s->name = strdup(i->name);
	s->server = strdup(a->server);
	s->state = i->state;
	s->since_ns = i->since_ns;
	s->detail = strdup(i->detail);
	const E2__Ctl__Instance *spec = agent_spec_instance(a, i->name);
	s->nf = strdup(spec ? spec->nf : "");
	if (spec) {
		s->flow_lo = spec->flow_lo;
		s->flow_hi = spec->flow_hi;
	}
	return s;
}

E2__Ctl__AgentReport *agent_report(struct agent *a)
{
	E2__Ctl__AgentReport *r = malloc(sizeof(*r));
	if (!r)
		return NULL;
	e2__ctl__agent_report__init(r);
	r->server = strdup(a->server);
	r->generation = a->applied_generation;
	r->e2d_running = a->sup.phase == E2D_UP;
	r->e2d_restarts = a->sup.restarts;
	r->e2d_pid = a->sup.phase == E2D_UP ? (uint64_t)a->sup.pid : 0;
	r->boot = a->boot;
	r->instances = calloc(a->n_inst ? a->n_inst : 1, sizeof(*r->instances));
	for (size_t k = 0; r->instances && k < a->n_inst; k++)
		if ((r->instances[r->n_instances] = status_of(a, &a->inst[k])))
			r->n_instances++;
	return r;
}

void agent_publish(struct agent *a, E2__Ctl__AgentEvent *ev)
{
	ev->version = E2__CTL__VERSION__VERSION_CURRENT;
	ev->server = a->server;
	ev->time_ns = agent_now_ns();
	size_t len = e2__ctl__agent_event__get_packed_size(ev);
	uint8_t *buf = malloc(len ? len : 1);
	if (!buf)
		return;
	e2__ctl__agent_event__pack(ev, buf);
	struct e2_err err;
	/* PUB never waits for subscribers; a full queue drops the event for that one */
	if (a->pub && e2_chan_send(a->pub, buf, len, 100, &err))
		E2_DBG("event not published: %s", err.msg);
	free(buf);
}

void agent_publish_report(struct agent *a, E2__Ctl__AgentEventKind kind)
{
	E2__Ctl__AgentEvent ev = E2__CTL__AGENT_EVENT__INIT;
	ev.kind = kind;
	ev.report = agent_report(a);
	agent_publish(a, &ev);
	if (ev.report)
		e2__ctl__agent_report__free_unpacked(ev.report, NULL);
}

void agent_set_state(struct agent *a, struct agent_inst *i, inst_state st, const char *fmt, ...)
{
	char detail[sizeof(i->detail)];
	va_list ap;
	va_start(ap, fmt);
	vsnprintf(detail, sizeof(detail), fmt, ap);
	va_end(ap);
	if (i->state == st && !strcmp(i->detail, detail))
		return;
	if (i->state != st)
		i->since_ns = agent_now_ns();
	i->state = st;
	snprintf(i->detail, sizeof(i->detail), "%s", detail);
	E2_INFO("instance %s: %s%s%s", i->name, e2_instance_state_name((int)st), *detail ? ": " : "", detail);
	struct store_instance row = {.state = (int)st, .since_ns = i->since_ns};
	snprintf(row.name, sizeof(row.name), "%s", i->name);
	snprintf(row.detail, sizeof(row.detail), "%s", detail);
	struct e2_err err;
	if (st == E2__CTL__INSTANCE_STATE__INSTANCE_REMOVED ? store_del_instance(a->db, i->name, &err)
							    : store_put_instance(a->db, &row, &err))
		E2_ERR("%s", err.msg);
	E2__Ctl__AgentEvent ev = E2__CTL__AGENT_EVENT__INIT;
	ev.kind = E2__CTL__AGENT_EVENT_KIND__AGENT_INSTANCE_STATE;
	ev.instance = status_of(a, i);
	agent_publish(a, &ev);
	if (ev.instance)
		e2__ctl__instance_status__free_unpacked(ev.instance, NULL);
}

void agent_desired_lines(const struct agent *a, struct strv *out)
{
	*out = (struct strv){0};
	strv_push(out, a->nic_line);
	if (a->spec)
		for (size_t k = 0; k < a->spec->n_e2d_lines; k++)
			strv_push(out, a->spec->e2d_lines[k]);
}

int agent_write_conf(const struct agent *a, const struct strv *lines, struct e2_err *err)
{
	struct e2_out o;
	if (e2_out_open(&o, a->conf_path, NULL, 0, err))
		return -1;
	fprintf(o.f, "# written by e2-agent for server %s: the lines this e2d has, in order\n", a->server);
	for (size_t k = 0; k < lines->n; k++)
		fprintf(o.f, "%s\n", lines->v[k]);
	return e2_out_commit(&o, err);
}
