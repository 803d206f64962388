/* SPDX-License-Identifier: BSD-3-Clause */
/* A plan as the running system deploys it: per server, the ServerSpec its agent
 * reconciles to (proto/e2ctl.proto) — the NF instances placed there, as libvirt domains
 * with one vhost-user port per connection point, and the server's e2d lines.
 *
 * The vhost-user socket of instance I's connection point C is /var/run/e2/I.C.sock, the
 * path interconnect.c gives e2d's `port add ... client=1`: QEMU listens there, e2d
 * connects, so e2d can restart under running VMs. */
#include "e2/orch.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "e2/mem.h"
#include "e2ctl.pb-c.h"

#define SOCKET_DIR "/var/run/e2"

static char *socket_path(const char *instance, const char *port)
{
	size_t n = (size_t)snprintf(NULL, 0, SOCKET_DIR "/%s.%s.sock", instance, port) + 1;
	char *s = e2_xmalloc(n);
	snprintf(s, n, SOCKET_DIR "/%s.%s.sock", instance, port);
	return s;
}

/* TEMPLATE with every "{instance}" replaced by the instance's name (malloc'd). */
static char *instance_path(const char *template, const char *name)
{
	static const char var[] = "{instance}";
	size_t n = 1;
	for (const char *s = template; *s;)
		if (!strncmp(s, var, sizeof(var) - 1))
			n += strlen(name), s += sizeof(var) - 1;
		else
			n++, s++;
	char *out = e2_xmalloc(n), *o = out;
	for (const char *s = template; *s;)
		if (!strncmp(s, var, sizeof(var) - 1))
			o = stpcpy(o, name), s += sizeof(var) - 1;
		else
			*o++ = *s++;
	*o = '\0';
	return out;
}

/* Fills one Instance from IGraph instance x; strings point into the plan or are
 * malloc'd (ports' sockets), freed by free_instance. */
static void fill_instance(const struct e2_plan *p, unsigned x, E2__Ctl__Instance *in)
{
	const struct e2_inst *i = &p->ig->insts[x];
	const struct e2_nf *nf = p->ig->pg->nodes[i->pnode].nf;
	e2__ctl__instance__init(in);
	in->name = (char *)i->name;
	in->nf = nf->descriptor_id;
	in->image = nf->sw_image_data.name;
	in->command = nf->launch ? nf->launch->command : (char *)"";
	in->args = nf->launch && nf->launch->args ? nf->launch->args : (char *)"";
	in->instance_files = nf->launch && nf->launch->instance_files
				     ? instance_path(nf->launch->instance_files, i->name)
				     : (char *)protobuf_c_empty_string;
	if (nf->launch && nf->launch->control) {
		in->control = nf->launch->control;
		in->control_socket = socket_path(i->name, "ctl");
	}
	in->vcpus = nf->num_virtual_cpu;
	in->memory_mib = nf->virtual_mem_size_mb;
	in->flow_lo = i->range_lo;
	in->flow_hi = i->range_hi;
	in->n_ports = nf->cps_count;
	in->ports = e2_xcalloc(nf->cps_count, sizeof *in->ports);
	for (unsigned c = 0; c < nf->cps_count; c++) {
		E2__Ctl__Port *port = e2_xmalloc(sizeof *port);
		e2__ctl__port__init(port);
		port->name = nf->cps[c].name;
		port->socket = socket_path(i->name, nf->cps[c].name);
		in->ports[c] = port;
	}
}

static void free_instance(E2__Ctl__Instance *in)
{
	for (size_t c = 0; c < in->n_ports; c++) {
		free(in->ports[c]->socket);
		free(in->ports[c]);
	}
	free(in->ports);
	if (in->instance_files != protobuf_c_empty_string)
		free(in->instance_files);
	if (in->control_socket != protobuf_c_empty_string)
		free(in->control_socket);
}

static bool lives_on(const struct e2_plan *p, unsigned x, unsigned server)
{
	const struct e2_inst *in = &p->ig->insts[x];
	return p->ig->pg->nodes[in->pnode].nf && in->server == (int)server && !in->removed;
}

int e2_deploy_spec(const struct e2_plan *p, unsigned server, uint64_t generation, char *const *stopped,
		   size_t n_stopped, void **out, size_t *out_len, struct e2_err *err)
{
	if (!p->has_ic || server >= p->hw->servers_count) {
		e2_seterr(err, "deploy: the plan has no interconnection for server #%u", server);
		return -1;
	}
	E2__Ctl__ServerSpec spec;
	e2__ctl__server_spec__init(&spec);
	spec.server = p->hw->servers[server].name;
	spec.generation = generation;

	/* the NF instances that live here (a scaled-in one no longer does) */
	unsigned n = 0;
	for (unsigned x = 0; x < p->ig->insts_count; x++)
		n += lives_on(p, x, server);
	E2__Ctl__Instance *insts = e2_xcalloc(n ? n : 1, sizeof *insts);
	E2__Ctl__Instance **ptrs = e2_xcalloc(n ? n : 1, sizeof *ptrs);
	unsigned k = 0;
	for (unsigned x = 0; x < p->ig->insts_count; x++)
		if (lives_on(p, x, server)) {
			fill_instance(p, x, &insts[k]);
			ptrs[k] = &insts[k];
			k++;
		}
	spec.n_instances = n;
	spec.instances = ptrs;

	/* e2d commands only: comments are for people reading `e2ctl plan` */
	const struct e2_lines *l = &p->ic.e2d[server];
	char **lines = e2_xcalloc(l->n ? l->n : 1, sizeof *lines);
	size_t m = 0;
	for (unsigned j = 0; j < l->n; j++)
		if (l->req[j])
			lines[m++] = l->v[j];
	spec.n_e2d_lines = m;
	spec.e2d_lines = lines;
	/* the operator's stopped instances that live here stay stopped */
	char **st = e2_xcalloc(n_stopped ? n_stopped : 1, sizeof *st);
	size_t ns = 0;
	for (size_t j = 0; j < n_stopped; j++)
		for (unsigned q = 0; q < n; q++)
			if (strcmp(stopped[j], insts[q].name) == 0)
				st[ns++] = stopped[j];
	spec.n_stopped = ns;
	spec.stopped = st;

	size_t len = e2__ctl__server_spec__get_packed_size(&spec);
	uint8_t *buf = e2_xmalloc(len ? len : 1);
	e2__ctl__server_spec__pack(&spec, buf);
	*out = buf;
	*out_len = len;

	for (unsigned j = 0; j < n; j++)
		free_instance(&insts[j]);
	free(insts);
	free(ptrs);
	free(lines);
	free(st);
	return 0;
}
