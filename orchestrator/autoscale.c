/* SPDX-License-Identifier: BSD-3-Clause */
/* When to scale an NF (seed §3.5): a load that holds, not a spike — out when one
 * instance stays above scale_out_above, in when the NF's whole load would stay below
 * scale_in_below on one instance fewer — with a cooldown after every action and the
 * description's instance bounds. The loads are e2d's (what an instance is sent over
 * what it was sized for, or a ring's fill) or the NF's own.
 *
 * Scaling in on the whole load rather than on every instance being idle: with n
 * instances sharing a falling load, each sits at load/n, so "every one below 0.2" keeps
 * 4 instances at 0.25 each where 2 would do (bench/scaling's dynamic run: 95 % more
 * cores than the optimum). After a scale-in each instance carries at most
 * scale_in_below, which must stay below scale_out_above, so it does not bounce back.
 *
 * A scale-in takes away at once as many instances as the load allows (the fewest that
 * still leave "the load on one fewer" at or above scale_in_below), as Kubernetes' HPA
 * goes straight to its desired count: one instance per cooldown let a falling load keep
 * idle instances for several cooldowns (bench/scaling: 62 % -> see its README). A
 * scale-out adds one: the new instance takes new flows only, so the load it relieves
 * shows over a flow's lifetime, and the next decision sees it. */
#include "e2/orch.h"

#include <stdbool.h>
#include <stdio.h>

#define DEFAULT_OUT_ABOVE 0.8
#define DEFAULT_IN_BELOW 0.6
#define DEFAULT_SUSTAIN_S 2.0
#define DEFAULT_COOLDOWN_S 30.0
#define DEFAULT_DRAIN_S 60.0

static double knob(const double *v, double dflt)
{
	return v ? *v : dflt;
}

int e2_autoscale_knobs(const struct e2_nf *nf, struct e2_autoscale_knobs *k, char *why, size_t len)
{
	const struct e2_scaling *s = nf->scaling;
	k->out_above = knob(s ? s->scale_out_above : NULL, DEFAULT_OUT_ABOVE);
	k->in_below = knob(s ? s->scale_in_below : NULL, DEFAULT_IN_BELOW);
	k->sustain_s = knob(s ? s->sustain_s : NULL, DEFAULT_SUSTAIN_S);
	k->cooldown_s = knob(s ? s->cooldown_s : NULL, DEFAULT_COOLDOWN_S);
	k->drain_s = knob(s ? s->drain_s : NULL, DEFAULT_DRAIN_S);
	k->min = nf->vdu_profile ? nf->vdu_profile->min_number_of_instances : 1;
	k->max = nf->vdu_profile ? nf->vdu_profile->max_number_of_instances : E2_NF_INSTANCES_MAX;
	if (s && !s->scalable)
		k->max = k->min;
	k->warm_pool = s ? s->warm_pool : 0;
	/* the comparisons are written so that NaN fails them */
	if (!(k->out_above > 0 && k->out_above <= 1))
		snprintf(why, len, "scale_out_above %g is not in (0, 1]", k->out_above);
	else if (!(k->in_below >= 0 && k->in_below < 1))
		snprintf(why, len, "scale_in_below %g is not in [0, 1)", k->in_below);
	else if (!(k->in_below < k->out_above))
		snprintf(why, len,
			 "scale_in_below %g is not below scale_out_above %g: every load would scale both ways",
			 k->in_below, k->out_above);
	else if (!(k->sustain_s >= 0 && k->sustain_s <= 3600))
		snprintf(why, len, "sustain_s %g is not in [0, 3600]", k->sustain_s);
	else if (!(k->cooldown_s >= 0 && k->cooldown_s <= 86400))
		snprintf(why, len, "cooldown_s %g is not in [0, 86400]", k->cooldown_s);
	else if (!(k->drain_s >= 0 && k->drain_s <= 3600))
		snprintf(why, len, "drain_s %g is not in [0, 3600]", k->drain_s);
	else if (k->warm_pool > k->max - k->min)
		snprintf(why, len,
			 "warm_pool %u does not fit: the spares count as instances, and only %u may come on top of "
			 "min_number_of_instances",
			 k->warm_pool, k->max - k->min);
	else
		return 0;
	return -1;
}

enum e2_autoscale_verdict e2_autoscale_step(const struct e2_autoscale_knobs *k, struct e2_autoscale *st, double now,
					    const double *loads, unsigned n, unsigned *pick, unsigned *count, char *why,
					    size_t len)
{
	*count = 0;
	if (!st->started) {
		*st = (struct e2_autoscale){.over_since = -1, .under_since = -1, .last_action = -1, .started = 1};
	}
	snprintf(why, len, "within its thresholds");
	unsigned hi = 0, lo = 0, known = 0;
	bool all_known = n > 0;
	double total = 0;
	for (unsigned i = 0; i < n; i++) {
		if (!(loads[i] >= 0)) {
			all_known = false; /* an unknown load is no reason to scale in */
			continue;
		}
		total += loads[i];
		if (!known || loads[i] > loads[hi])
			hi = i;
		if (!known || loads[i] < loads[lo])
			lo = i;
		known++;
	}
	/* the whole load on one instance fewer */
	double fewer = n > 1 ? total / (n - 1) : total; /* (one: said to be at its least) */
	bool all_under = all_known && fewer < k->in_below;
	bool over = known && loads[hi] >= k->out_above;
	st->over_since = over ? (st->over_since < 0 ? now : st->over_since) : -1;
	st->under_since = all_under ? (st->under_since < 0 ? now : st->under_since) : -1;
	if (!over && !all_under)
		return E2_AUTOSCALE_HOLD;
	double held = now - (over ? st->over_since : st->under_since);
	const char *dir = over ? "above" : "below";
	double limit = over ? k->out_above : k->in_below;
	/* what is compared: the busiest instance's load, or the whole load on one fewer */
	double seen = over ? loads[hi] : fewer;
	const char *what = over ? "load" : "load on one instance fewer";
	if (held < k->sustain_s) {
		snprintf(why, len, "%s %.2f %s %.2f for %.1f s of %.1f s", what, seen, dir, limit, held, k->sustain_s);
		return E2_AUTOSCALE_HOLD;
	}
	if (over && n >= k->max) {
		snprintf(why, len, "load %.2f above %.2f, but at max_number_of_instances (%u)", loads[hi], limit,
			 k->max);
		return E2_AUTOSCALE_HOLD;
	}
	if (!over && n <= k->min) {
		snprintf(why, len, "load below %.2f, but at its least number of instances (%u)", limit, k->min);
		return E2_AUTOSCALE_HOLD;
	}
	if (st->last_action >= 0 && now - st->last_action < k->cooldown_s) {
		snprintf(why, len, "%s %s %.2f for %.1f s, cooling down (%.1f s left)", what, dir, limit, held,
			 k->cooldown_s - (now - st->last_action));
		return E2_AUTOSCALE_HOLD;
	}
	*pick = over ? hi : lo;
	*count = 1;
	if (!over) {
		/* the fewest instances m that keep total / (m - 1) >= in_below */
		double fit = k->in_below > 0 ? total / k->in_below : 0;
		unsigned keep = fit >= n ? n : (unsigned)fit + 1;
		if (keep < k->min)
			keep = k->min;
		*count = keep < n ? n - keep : 1;
	}
	snprintf(why, len, "%s %.2f %s %.2f for %.1f s (at least %.1f s)", what, seen, dir, limit, held, k->sustain_s);
	st->last_action = now;
	st->over_since = st->under_since = -1;
	return over ? E2_AUTOSCALE_OUT : E2_AUTOSCALE_IN;
}
