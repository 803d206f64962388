/* SPDX-License-Identifier: BSD-3-Clause */
/* libFuzzer target: the model checker's plan reader, against a small fixed graph.
 *
 * The checker reads plans as E2D commands and has no printer of its own, but the planner
 * has one (alp_plan_write_e2d), so bit 0 of the first byte selects:
 *   0: the rest is plan text for alp_check_plan; bit 1 gives it a plan's graph, the
 *      fixed graph with a module the plan may add in front of one exit;
 *   1: the rest describes a plan (which modules head a task, their worker, priority
 *      level and share) that alp_plan_write_e2d prints; the checker must accept what
 *      the planner prints and find the same tasks and queues in it, with the graph
 *      itself as the plan's graph or none.
 * Whatever the checker accepts must give a sane prediction: finite, non-negative
 * figures, no class above its offered load, all classes together within the workers'
 * cycles, SLO errors within their ranges; and checking again gives the same figures. */
#include "e2/fuzz.h"
#include "alpine.h"

#include <jansson.h>
#include <math.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#define EPS 1e-9

/* A port_in root, a plain module with two exits and a third exit on the root: tasks can
 * sit at every depth. Two workers, a CPU-share SLO and a priority SLO. */
static const char graph_json[] =
	"{\"workers\":2,\"cpu_ghz\":2.6,\"input_mpps\":20,"
	"\"modules\":[{\"name\":\"A\",\"class\":\"port_in\",\"cycles\":100},{\"name\":\"B\",\"cycles\":150},"
	"{\"name\":\"C\",\"class\":\"port_out\",\"cycles\":233},{\"name\":\"D\",\"class\":\"port_out\",\"cycles\":233},"
	"{\"name\":\"E\",\"class\":\"port_out\",\"cycles\":120}],"
	"\"edges\":[[\"A:0\",\"B\"],[\"B:0\",\"C\"],[\"B:1\",\"D\"],[\"A:1\",\"E\"]],"
	"\"classes\":[{\"name\":\"tc1\",\"path\":[\"A\",\"B\",\"C\"]},{\"name\":\"tc2\",\"path\":[\"A\",\"B\",\"D\"]},"
	"{\"name\":\"tc3\",\"path\":[\"A\",\"E\"]}],"
	"\"slos\":[{\"kind\":\"cpu\",\"classes\":[\"tc1\",\"tc2\"],\"ratio\":[3,1]},"
	"{\"kind\":\"priority\",\"classes\":[\"tc3\",\"tc1\"]}]}";

/* The graph a plan executes that puts "cls" (class bypass, 60 cycles) on the edge A:1 -> E */
static const char plan_graph_json[] =
	"{\"workers\":2,\"cpu_ghz\":2.6,\"input_mpps\":20,"
	"\"modules\":[{\"name\":\"A\",\"class\":\"port_in\",\"cycles\":100},{\"name\":\"B\",\"cycles\":150},"
	"{\"name\":\"C\",\"class\":\"port_out\",\"cycles\":233},{\"name\":\"D\",\"class\":\"port_out\",\"cycles\":233},"
	"{\"name\":\"E\",\"class\":\"port_out\",\"cycles\":120},{\"name\":\"cls\",\"class\":\"bypass\",\"cycles\":60}],"
	"\"edges\":[[\"A:0\",\"B\"],[\"B:0\",\"C\"],[\"B:1\",\"D\"],[\"A:1\",\"cls\"],[\"cls\",\"E\"]],"
	"\"classes\":[{\"name\":\"tc1\",\"path\":[\"A\",\"B\",\"C\"]},{\"name\":\"tc2\",\"path\":[\"A\",\"B\",\"D\"]},"
	"{\"name\":\"tc3\",\"path\":[\"A\",\"cls\",\"E\"]}],"
	"\"slos\":[{\"kind\":\"cpu\",\"classes\":[\"tc1\",\"tc2\"],\"ratio\":[3,1]},"
	"{\"kind\":\"priority\",\"classes\":[\"tc3\",\"tc1\"]}]}";

static alp_graph *g, *plan_graph;

static bool finite_nonneg(double v)
{
	return isfinite(v) && v >= -EPS;
}

static void check_prediction(const alp_check *c)
{
	if (c->nclasses != g->nclasses || c->tasks < 1 || c->queues < 0 || !finite_nonneg(c->total_mpps))
		abort();
	double mpps = 0, cpu = 0;
	for (int a = 0; a < g->nclasses; a++) {
		double offered = g->classes[a].fraction * g->input_mpps;
		if (!finite_nonneg(c->mpps[a]) || !finite_nonneg(c->cpu[a]) || c->mpps[a] > offered * (1 + EPS) + EPS)
			abort();
		mpps += c->mpps[a];
		cpu += c->cpu[a];
	}
	if (fabs(mpps - c->total_mpps) > EPS * fmax(1, mpps) || cpu > 1 + 1e-6)
		abort();
	double max_error = 0;
	for (int s = 0; s < g->nslos; s++) {
		double limit = g->slos[s].kind == ALP_SLO_PRIORITY ? 1 : 2; /* sum of |got - want| shares */
		if (!finite_nonneg(c->slo_error[s]) || c->slo_error[s] > limit + EPS)
			abort();
		max_error = fmax(max_error, c->slo_error[s]);
	}
	if (max_error != c->max_error)
		abort();
}

static bool same_prediction(const alp_check *a, const alp_check *b)
{
	size_t nc = (size_t)g->nclasses * sizeof(double);
	return a->tasks == b->tasks && a->queues == b->queues && a->total_mpps == b->total_mpps &&
	       a->max_error == b->max_error && !memcmp(a->mpps, b->mpps, nc) && !memcmp(a->cpu, b->cpu, nc) &&
	       !memcmp(a->slo_error, b->slo_error, (size_t)g->nslos * sizeof(double)) && !strcmp(a->msg, b->msg);
}

/* Checks a plan with the plan's graph pg (or none); returns 0 and fills c if the
 * checker accepts it. */
static int check_text(const alp_graph *pg, const char *text, size_t len, alp_check *c)
{
	char err[ALP_ERRLEN];
	if (alp_check_plan(g, pg, text, len, c, err) != 0) {
		if (!err[0])
			abort(); /* a refusal must say why */
		return -1;
	}
	check_prediction(c);
	alp_check again;
	if (alp_check_plan(g, pg, text, len, &again, err) != 0 || !same_prediction(c, &again))
		abort();
	alp_check_free(&again);
	return 0;
}

/* Bytes -> a plan for g: byte 0 bits pick task heads (the root always is one), byte 1
 * bits their workers, byte 2 their priority levels (2 bits each), bytes 3.. shares. */
static alp_plan *plan_from(const uint8_t *d, size_t n)
{
	uint8_t b[3 + 8] = {0};
	memcpy(b, d, n < sizeof(b) ? n : sizeof(b));
	alp_plan *p = alp_plan_new(g, g, "fuzz");
	if (!p)
		abort();
	p->status = ALP_OPTIMAL;
	for (int j = 0; j < g->n && j < 8; j++) {
		p->head[j] = j == g->root || (b[0] >> j & 1);
		if (!p->head[j])
			continue;
		p->worker[j] = (b[1] >> j & 1) % g->workers;
		p->level[j] = b[2] >> (2 * (j % 4)) & 3;
		p->share[j] = (b[3 + j] + 1) / 256.0;
		p->tasks++;
		if (p->level[j] + 1 > p->nlevels)
			p->nlevels = p->level[j] + 1;
	}
	return p;
}

static void fuzz_printed_plan(const uint8_t *d, size_t n)
{
	alp_plan *p = plan_from(d, n);
	char *text = NULL;
	size_t len;
	FILE *f = open_memstream(&text, &len);
	if (!f)
		abort();
	alp_plan_write_e2d(p, f);
	fclose(f);
	int queues = 0;
	for (int j = 0; j < g->n; j++)
		queues += p->head[j] && !g->mods[j].schedulable;
	alp_check c, with_graph;
	if (check_text(NULL, text, len, &c) != 0 || c.tasks != p->tasks || c.queues != queues)
		abort(); /* the checker must read what the planner writes */
	/* the plan's graph of a plan that adds only queues is the graph itself */
	if (check_text(g, text, len, &with_graph) != 0 || !same_prediction(&c, &with_graph))
		abort();
	alp_check_free(&with_graph);
	alp_check_free(&c);
	free(text);
	alp_plan_free(p);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	char err[ALP_ERRLEN];
	if (!g) {
		json_object_seed(1); /* jansson's hash seed is random otherwise: runs must repeat */
		if (!(g = alp_graph_parse(graph_json, strlen(graph_json), NULL, err)) ||
		    !(plan_graph = alp_graph_parse(plan_graph_json, strlen(plan_graph_json), NULL, err)))
			abort();
	}
	if (size < 1)
		return 0;
	if (data[0] & 1) {
		fuzz_printed_plan(data + 1, size - 1);
		return 0;
	}
	alp_check c;
	if (check_text(data[0] & 2 ? plan_graph : NULL, (const char *)data + 1, size - 1, &c) == 0)
		alp_check_free(&c);
	return 0;
}
