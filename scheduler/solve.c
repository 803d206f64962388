/* SPDX-License-Identifier: BSD-3-Clause */
/* alp_solve: the model, and when it finds no plan in time, the semi-manual strawman.
 * The fallback lives here, above both, because the strawmen are themselves solved by
 * the model (alp_solve_fixed): the model must not call back into them. */
#include "alpine.h"

#include <math.h>
#include <stdlib.h>
#include <time.h>

static double now_s(void)
{
	struct timespec ts;
	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (double)ts.tv_sec + (double)ts.tv_nsec * 1e-9;
}

alp_plan *alp_solve(const alp_graph *g, const alp_opts *o)
{
	double t0 = now_s();
	alp_plan *p = alp_solve_model(g, o);
	/* No incumbent in time, or an "infeasible" that CBC may report when its clock
	 * stops the root LP: the semi-manual partition is an LP, solved fast, and a
	 * plan for it disproves the claim (it is one of the model's plans). */
	if (p && (p->status == ALP_TIMEOUT || p->status == ALP_INFEASIBLE)) {
		bool timed_out = p->status == ALP_TIMEOUT;
		alp_opts o2 = *o;
		o2.time_limit_s = fmax(1, 0.2 * o->time_limit_s);
		alp_plan *s = alp_strawman(g, "semi", &o2);
		if (s && (s->status == ALP_OPTIMAL || s->status == ALP_FEASIBLE)) {
			free(s->kind);
			s->kind = e2_xstrdup("alpine");
			s->status = ALP_FEASIBLE;
			s->gap = 1;
			snprintf(s->diag, sizeof(s->diag), "%s: this is the semi-manual partition with solved weights",
				 timed_out ? "time limit reached before the MIP found a plan"
					   : "the MIP, stopped by the time limit, claimed no plan exists");
			alp_plan_free(p);
			p = s;
		} else {
			alp_plan_free(s);
		}
	}
	if (p)
		p->solve_s = now_s() - t0; /* the whole solve, a fallback included */
	return p;
}
