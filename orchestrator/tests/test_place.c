/* SPDX-License-Identifier: BSD-3-Clause */
/* Placement: hand-checked optimum, properties over random policies (capacity
 * respected, every edge routed), the heuristic against references computed here
 * (first-fit packing, random feasible placements, its own start), incremental
 * placement, the exact MIP against an exhaustive search, no-fit. */
#include "helpers.h"
#include "place_fixture.h"

static uint64_t rng = 12345;
static unsigned rnd(unsigned n)
{
	rng ^= rng << 13;
	rng ^= rng >> 7;
	rng ^= rng << 17;
	return (unsigned)(rng % n);
}

static const char *affs[] = {"[five_tuple]", "[src_ip]", "[src_ip, dst_ip]", "[]"};

static struct e2_nf_catalog *random_nfs(unsigned n)
{
	char *buf = NULL;
	size_t len = 0;
	FILE *f = open_memstream(&buf, &len);
	fprintf(f, "nfs:\n");
	for (unsigned i = 0; i < n; i++)
		fprintf(f,
			"  - { descriptor_id: nf%u, nf_type: native, sw_image_data: {name: x}, num_virtual_cpu: %u,\n"
			"      gbps_per_core_ghz: %.2f, affinity: %s, mangling: %s,\n"
			"      connection_points: [{name: in, role: input}, {name: out, role: output}] }\n",
			i, 1 + rnd(2), 0.3 + rnd(10) / 10.0, affs[rnd(4)], rnd(5) ? "false" : "true");
	fclose(f);
	struct e2_err err = {""};
	struct e2_nf_catalog *c = nfs_str(buf, &err);
	free(buf);
	if (!c)
		fail_msg("%s", err.msg);
	return c;
}

static struct e2_policy *random_policy(unsigned n, double rate)
{
	char *buf = NULL;
	size_t len = 0;
	FILE *f = open_memstream(&buf, &len);
	fprintf(f,
		"pipelines:\n  - name: r\n    traffic_class: {rate_gbps: %.2f, filter: 'ip'}\n    nodes:\n"
		"      - {name: in0, port: in0}\n      - {name: in1, port: in1}\n      - {name: out0, port: out0}\n",
		rate);
	for (unsigned i = 0; i < n; i++)
		fprintf(f, "      - {name: n%u, nf: nf%u}\n", i, i);
	fprintf(f, "    edges:\n      - {from: in0, to: n0}\n      - {from: in1, to: n0, filter: 'tcp'}\n");
	for (unsigned i = 1; i < n; i++) {
		unsigned a = rnd(i), b = rnd(i);
		fprintf(f, "      - {from: n%u, to: n%u}\n", a, i);
		if (b != a)
			fprintf(f, "      - {from: n%u, to: n%u, filter: 'udp'}\n", b, i);
	}
	fprintf(f, "      - {from: n%u, to: out0}\n", n - 1);
	fclose(f);
	struct e2_err err = {""};
	struct e2_policy *p = policy_str(buf, &err);
	free(buf);
	if (!p)
		fail_msg("%s", err.msg);
	return p;
}

/* A chain in -> A -> B -> out, two of each, two servers of two cores: the best
 * placement keeps each A with the B it feeds, so only external traffic crosses. */
static void hand_checked_optimum(void **state)
{
	(void)state;
	struct e2_err err = {""};
	struct e2_nf_catalog *cat = nfs_str(
		"nfs:\n"
		"  - { descriptor_id: A, nf_type: native, sw_image_data: {name: a}, num_virtual_cpu: 1, gbps_per_core_ghz: 1,\n"
		"      affinity: [src_ip], connection_points: [{name: in, role: input}, {name: out, role: output}] }\n"
		"  - { descriptor_id: B, nf_type: native, sw_image_data: {name: b}, num_virtual_cpu: 1, gbps_per_core_ghz: 1,\n"
		"      affinity: [src_ip], connection_points: [{name: in, role: input}, {name: out, role: output}] }\n",
		&err);
	struct e2_hardware *hw = hw_str(rack_yaml(2, 2, 10), &err);
	struct e2_policy *p = policy_str("pipelines:\n  - name: p\n    traffic_class: {rate_gbps: 1.6}\n"
					 "    nodes: [{name: in, port: in0}, {name: a, nf: A}, {name: b, nf: B}, "
					 "{name: out, port: out0}]\n"
					 "    edges: [{from: in, to: a}, {from: a, to: b}, {from: b, to: out}]\n",
					 &err);
	const struct e2_plan_inputs in = {.pol = p, .nfs = cat, .hw = hw};
	const struct e2_plan_opts po = {.stop = E2_PLAN_IGRAPH};
	struct e2_plan *plan = e2_plan_build(&in, &po, &err);
	if (!plan)
		fail_msg("%s", err.msg);
	struct e2_igraph *ig = plan->ig;
	const struct e2_rack *rack = &plan->rack;
	for (int algo = 0; algo < 2; algo++) {
		for (unsigned i = 0; i < ig->insts_count; i++)
			ig->insts[i].server = -1;
		assert_int_equal(e2_place(ig, rack, E2_PLACE_E2, 0, &err), 0);
		if (algo == 1) {
			int proven = 0;
			double bound = 0;
			assert_int_equal(e2_place_mip(ig, rack, 10, &proven, &bound, &err), 0);
			assert_true(proven);
			assert_true(bound > 3.2 - 1e-6 && bound < 3.2 + 1e-6);
		}
		/* 1.6 in + 1.6 out, nothing between servers */
		assert_true(e2_cross_server_gbps(ig) > 3.2 - 1e-6 && e2_cross_server_gbps(ig) < 3.2 + 1e-6);
		assert_int_equal(ig->insts[1].server, ig->insts[3].server);
		assert_int_equal(ig->insts[2].server, ig->insts[4].server);
	}
	e2_plan_free(plan);
	e2_policy_free(p);
	e2_hardware_free(hw);
	e2_nfs_free(cat);
}

static int has_line(const struct e2_lines *l, const char *needle)
{
	for (unsigned i = 0; i < l->n; i++)
		if (strstr(l->v[i], needle))
			return 1;
	return 0;
}

/* Every instance-graph edge has its wiring: a local connect to the destination's
 * steering stage, or a tunnel out of the source server and a decap rule at the
 * destination (SPI = 1 + 32 * instance + port, as documented). */
static void check_routed(const struct e2_igraph *ig, const struct e2_hardware *hw, const struct e2_interconnect *ic)
{
	for (unsigned e = 0; e < ig->edges_count; e++) {
		const struct e2_iedge *ed = &ig->edges[e];
		const struct e2_inst *a = &ig->insts[ed->from], *b = &ig->insts[ed->to];
		const struct e2_pedge *pe = &ig->pg->edges[ed->pedge];
		unsigned spi = 1 + ed->to * 32 + pe->to_cp;
		char want[128], mac[24];
		e2_server_mac(b->server, mac, sizeof mac);
		if (a->server < 0) { /* from an external port: switch rule */
			snprintf(want, sizeof want, "encap:spi=%u,output:%s", spi, hw->servers[b->server].name);
			assert_true(has_line(&ic->sw, want));
		} else if (b->server < 0) { /* to an external port */
			snprintf(want, sizeof want, "module add encap.%u tunnel_encap dst=%s ", spi, mac);
			assert_true(has_line(&ic->e2d[a->server], want));
		} else if (a->server == b->server) {
			snprintf(want, sizeof want, " %s.in.steer", b->name);
			assert_true(has_line(&ic->e2d[a->server], want));
		} else {
			snprintf(want, sizeof want, "module add encap.%u tunnel_encap dst=%s ", spi, mac);
			assert_true(has_line(&ic->e2d[a->server], want));
			snprintf(want, sizeof want, "module cmd encap.%u edge igate=0 spi=%u", spi, spi);
			assert_true(has_line(&ic->e2d[a->server], want));
			snprintf(want, sizeof want, "decap edge spi=%u ", spi);
			assert_true(has_line(&ic->e2d[b->server], want));
		}
	}
}

static void random_policies_respect_capacity(void **state)
{
	(void)state;
	struct e2_err err = {""};
	unsigned feasible = 0;
	for (unsigned trial = 0; trial < 40; trial++) {
		unsigned n = 2 + rnd(6);
		struct e2_nf_catalog *cat = random_nfs(n);
		struct e2_hardware *hw = hw_str(rack_yaml(2 + rnd(6), 4 + rnd(12), 10 + rnd(30)), &err);
		struct e2_policy *p = random_policy(n, 0.5 + rnd(40) / 4.0);
		const struct e2_plan_inputs in = {.pol = p, .nfs = cat, .hw = hw};
		const struct e2_plan_opts po = {.stop = E2_PLAN_IGRAPH};
		struct e2_plan *plan = e2_plan_build(&in, &po, &err);
		if (!plan) {
			assert_contains(err.msg, "demand cannot fit");
			goto next;
		}
		const struct e2_pgraph *pg = plan->pg;
		struct e2_igraph *ig = plan->ig;
		const struct e2_rack *rack = &plan->rack;
		int violations[3] = {-1, -1, -1};
		for (int algo = 0; algo < 3; algo++) {
			for (unsigned i = 0; i < ig->insts_count; i++)
				ig->insts[i].server = -1;
			if (e2_place(ig, rack, (enum e2_place_algo)algo, trial, &err) < 0) {
				assert_contains(err.msg, "demand cannot fit");
				break;
			}
			struct e2_load loads[64];
			violations[algo] = e2_rack_loads(ig, rack, loads);
			for (unsigned s = 0; s < rack->servers; s++)
				assert_true(loads[s].cores_used <= rack->cores[s]);
			for (unsigned i = 0; i < ig->insts_count; i++)
				assert_true(!pg->nodes[ig->insts[i].pnode].nf || ig->insts[i].server >= 0);
			if (algo == E2_PLACE_E2) {
				feasible++;
				struct e2_interconnect ic;
				if (e2_interconnect_plan(ig, hw, &ic, &err) < 0)
					fail_msg("%s", err.msg);
				check_routed(ig, hw, &ic);
				e2_interconnect_free(&ic);
			}
		}
		/* links too: whenever a strawman finds a plan within every capacity, so does E2 */
		if (violations[E2_PLACE_PACKING] == 0 || violations[E2_PLACE_RANDOM] == 0)
			assert_int_equal(violations[E2_PLACE_E2], 0);
		e2_plan_free(plan);
next:
		e2_policy_free(p);
		e2_hardware_free(hw);
		e2_nfs_free(cat);
	}
	assert_true(feasible >= 10);
}

/* ---------------------------------------------------------------- references
 * Written here from the model's definitions, sharing no code with place.c or
 * place_mip.c: what the heuristic is measured against must not inherit its mistakes.
 * The cost is the planner's own, e2_cross_server_gbps. */

#define COST_EPS 1e-6

/* Instances of an NF that cannot scale across servers must share a server. */
/* The capacities the planner promises: cores, and each server link under link_target
 * x nic_gbps in both directions (the switch is never near its capacity here). */
static int fits(const struct e2_igraph *ig, const struct e2_rack *rack)
{
	return placement_fits(ig, rack, 0, COST_EPS);
}

static void save_servers(const struct e2_igraph *ig, int *to)
{
	for (unsigned i = 0; i < ig->insts_count; i++)
		to[i] = ig->insts[i].server;
}

static void load_servers(struct e2_igraph *ig, const int *from)
{
	for (unsigned i = 0; i < ig->insts_count; i++)
		ig->insts[i].server = from[i];
}

/* Cores instance i needs where it lands: its own, or its whole group's if it is the
 * first of a group to be placed; 0 if its group already sits somewhere. Sets *at to
 * that server then. */
static unsigned cores_needed(const struct e2_igraph *ig, unsigned i, int *at)
{
	*at = -1;
	if (!must_group(ig, i))
		return ig->insts[i].cores;
	unsigned c = 0;
	for (unsigned j = 0; j < ig->insts_count; j++)
		if (ig->insts[j].pnode == ig->insts[i].pnode) {
			if (ig->insts[j].server >= 0)
				*at = ig->insts[j].server;
			c += ig->insts[j].cores;
		}
	return *at >= 0 ? 0 : c;
}

/* Places NF instances in index order, each on the lowest-numbered server with enough
 * free cores (links ignored, like the seed's strawman): first-fit. With rs: a random
 * server among those with the cores instead, drawn from the state *rs. Returns 0, or
 * -1 if an instance found no server. */
static int reference_place(struct e2_igraph *ig, const struct e2_rack *rack, uint64_t *rs)
{
	long free_cores[16];
	for (unsigned s = 0; s < rack->servers; s++)
		free_cores[s] = rack->cores[s];
	unplace(ig);
	for (unsigned i = 0; i < ig->insts_count; i++) {
		if (!ig->pg->nodes[ig->insts[i].pnode].nf)
			continue;
		int at;
		unsigned need = cores_needed(ig, i, &at);
		if (at < 0) {
			unsigned cand[16], n = 0;
			for (unsigned s = 0; s < rack->servers; s++)
				if (free_cores[s] >= (long)need)
					cand[n++] = s;
			if (!n)
				return -1;
			if (rs) {
				*rs ^= *rs << 13;
				*rs ^= *rs >> 7;
				*rs ^= *rs << 17;
			}
			at = (int)cand[rs ? *rs % n : 0];
			free_cores[at] -= (long)need;
		}
		ig->insts[i].server = at;
	}
	return 0;
}

static int cmp_double(const void *a, const void *b)
{
	double x = *(const double *)a, y = *(const double *)b;
	return (x > y) - (x < y);
}

/* A small random instance: 2..max_nfs NFs, 2..max_servers servers of 2-6 cores and
 * min_nic..max_nic Gbps links. */
struct instance {
	struct place_fixture f;
	unsigned trial;
	char desc[160];
};

/* The instance is a function of `trial` alone (the generator is reseeded), so a trial
 * number names an instance whatever ran before. */
static int instance_make(struct instance *in, unsigned trial, unsigned max_nfs, unsigned max_servers, unsigned min_nic,
			 unsigned max_nic)
{
	struct e2_err err = {""};
	memset(in, 0, sizeof *in);
	rng = 0x2545F4914F6CDD1Dull ^ ((uint64_t)trial + 1) * 0x9E3779B97F4A7C15ull;
	in->trial = trial;
	unsigned n = 2 + rnd(max_nfs - 1), servers = 2 + rnd(max_servers - 1), cores = 2 + rnd(5);
	double nic = min_nic + rnd(max_nic - min_nic + 1), rate = 0.5 + rnd(16) / 4.0;
	in->f.cat = random_nfs(n);
	in->f.hw = hw_str(rack_yaml(servers, cores, nic), &err);
	in->f.pol = random_policy(n, rate);
	snprintf(in->desc, sizeof in->desc, "trial %u: %u NFs, %u servers x %u cores, nic %g Gbps, rate %.2f Gbps",
		 trial, n, servers, cores, nic, rate);
	return place_fixture_plan(&in->f, 0, &err);
}

static void instance_free(struct instance *in)
{
	place_fixture_free(&in->f);
}

#define RANDOM_REFS 15
#define PROPERTY_TRIALS 2000

enum outcome { OK, REFUSED, WORSE_THAN_PACKING, WORSE_THAN_RANDOM };
static const char *outcome_name[] = {"ok", "refused", "worse than first-fit", "worse than random"};

/* Median of the first n costs (sorted in place). */
static double median_of(double *v, unsigned n)
{
	qsort(v, n, sizeof *v, cmp_double);
	return n % 2 ? v[n / 2] : (v[n / 2 - 1] + v[n / 2]) / 2;
}

/* Kernighan-Lin from a placement that fits never ends worse, nor beyond a capacity. */
static void check_improve_from(struct instance *in, const int *start, const char *what)
{
	struct e2_err err = {""};
	load_servers(in->f.ig, start);
	double c0 = e2_cross_server_gbps(in->f.ig);
	if (e2_place_improve(in->f.ig, in->f.rack, &err) < 0)
		fail_msg("%s: improve from a %s start: %s", in->desc, what, err.msg);
	double c1 = e2_cross_server_gbps(in->f.ig);
	if (c1 > c0 + COST_EPS || !fits(in->f.ig, in->f.rack))
		fail_msg("%s: Kernighan-Lin from a %s start of %.4f Gbps ends at %.4f%s", in->desc, what, c0, c1,
			 fits(in->f.ig, in->f.rack) ? "" : " beyond a capacity");
}

/* One instance: the references, the heuristic, its own start. Fails the test on what
 * can never be excused (KL worse than a start, E2 != start + improve); returns how the
 * heuristic compares otherwise. */
static enum outcome compare_one(struct instance *in, unsigned *with_pack, unsigned *with_random)
{
	struct e2_err err = {""};
	struct e2_igraph *ig = in->f.ig;
	unsigned n = ig->insts_count;
	int *pack_at = calloc(n, sizeof *pack_at), *rand_at = calloc((size_t)RANDOM_REFS * n, sizeof *rand_at);
	int *heur_at = calloc(n, sizeof *heur_at);
	int pack_fits = reference_place(ig, in->f.rack, NULL) == 0 && fits(ig, in->f.rack);
	double pack_cost = pack_fits ? e2_cross_server_gbps(ig) : 0;
	save_servers(ig, pack_at);
	double rcost[RANDOM_REFS];
	unsigned nr = 0;
	uint64_t rs = 0x5eed0000u + (uint64_t)(in->trial);
	for (unsigned a = 0; a < 40 * RANDOM_REFS && nr < RANDOM_REFS; a++)
		if (reference_place(ig, in->f.rack, &rs) == 0 && fits(ig, in->f.rack)) {
			save_servers(ig, rand_at + (size_t)nr * n);
			rcost[nr++] = e2_cross_server_gbps(ig);
		}
	enum outcome how = OK;
	unplace(ig);
	if (e2_place(ig, in->f.rack, E2_PLACE_E2, 0, &err) < 0 || !fits(ig, in->f.rack)) {
		print_message("%s: the heuristic %s, though %s fits\n", in->desc,
			      err.msg[0] ? err.msg : "exceeds a capacity",
			      pack_fits ? "first-fit packing" : "a random placement");
		how = REFUSED;
		goto out;
	}
	double heur = e2_cross_server_gbps(ig);
	save_servers(ig, heur_at);
	/* E2 is its own start followed by the improvement, and never ends above that start */
	unplace(ig);
	assert_int_equal(e2_place(ig, in->f.rack, E2_PLACE_E2_START, 0, &err), 0);
	double start = e2_cross_server_gbps(ig);
	assert_int_equal(e2_place_improve(ig, in->f.rack, &err), 0);
	for (unsigned i = 0; i < n; i++)
		assert_int_equal(ig->insts[i].server, heur_at[i]);
	if (heur > start + COST_EPS)
		fail_msg("%s: Kernighan-Lin ends at %.4f Gbps, worse than its start %.4f", in->desc, heur, start);
	if (pack_fits)
		check_improve_from(in, pack_at, "first-fit");
	for (unsigned r = 0; r < nr; r++)
		check_improve_from(in, rand_at + (size_t)r * n, "random");
	/* against the references */
	if (pack_fits) {
		(*with_pack)++;
		if (heur > pack_cost + COST_EPS) {
			print_message("%s: heuristic %.4f Gbps > first-fit packing %.4f\n", in->desc, heur, pack_cost);
			how = WORSE_THAN_PACKING;
		}
	}
	if (nr) {
		(*with_random)++;
		double med = median_of(rcost, nr);
		if (heur > med + COST_EPS) {
			print_message("%s: heuristic %.4f Gbps > median of %u random placements %.4f\n", in->desc, heur,
				      nr, med);
			if (how == OK)
				how = WORSE_THAN_RANDOM;
		}
	}
out:
	free(pack_at);
	free(rand_at);
	free(heur_at);
	return how;
}

/* On every random instance where a reference placement fits every capacity, the
 * heuristic places it within capacity, with no more cross traffic than first-fit
 * packing and than the median of random feasible placements (there were 26
 * instances where it did not: refusals and local optima; none is left); Kernighan-Lin
 * never ends worse than its own start (the link-aware packing) nor than any fitting
 * start we give it, on every instance. */
static void heuristic_beats_references(void **state)
{
	(void)state;
	unsigned compared = 0, with_pack = 0, with_random = 0, failed = 0;
	for (unsigned trial = 0; trial < PROPERTY_TRIALS; trial++) {
		struct instance in;
		enum outcome how = OK;
		if (instance_make(&in, trial, 7, 5, 4, 20) == 0) {
			/* comparable only if some reference fits: first-fit or one of 600 random draws */
			uint64_t rs = 0x5eed0000u + trial;
			int any = reference_place(in.f.ig, in.f.rack, NULL) == 0 && fits(in.f.ig, in.f.rack);
			for (unsigned a = 0; a < 40 * RANDOM_REFS && !any; a++)
				any = reference_place(in.f.ig, in.f.rack, &rs) == 0 && fits(in.f.ig, in.f.rack);
			if (any) {
				compared++;
				how = compare_one(&in, &with_pack, &with_random);
			}
		}
		if (how != OK) {
			print_message("trial %u: %s\n", trial, outcome_name[how]);
			failed++;
		}
		instance_free(&in);
	}
	print_message("compared %u of %u instances (%u with first-fit, %u with random placements); %u failures\n",
		      compared, PROPERTY_TRIALS, with_pack, with_random, failed);
	assert_int_equal(failed, 0);
	assert_true(with_pack >= 500 && with_random >= 500);
}

static void incremental_moves_nothing_else(void **state)
{
	(void)state;
	struct e2_err err = {""};
	struct e2_nf_catalog *nfs = load_nfs_file("nfs.yaml");
	struct e2_hardware *hw = load_hw_file("hardware-4servers.yaml");
	struct e2_policy *p = load_policy_file("policy-fig3.1.yaml");
	const struct e2_plan_inputs in = {.pol = p, .nfs = nfs, .hw = hw};
	const struct e2_plan_opts po = {.stop = E2_PLAN_PLACED};
	struct e2_plan *plan = e2_plan_build(&in, &po, &err);
	if (!plan)
		fail_msg("%s", err.msg);
	struct e2_igraph *ig = plan->ig;
	const struct e2_rack *rack = &plan->rack;
	unsigned before = ig->insts_count;
	int *was = calloc(before, sizeof *was);
	for (unsigned i = 0; i < before; i++)
		was[i] = ig->insts[i].server;
	int victim = e2_igraph_find(ig, "monitor.1");
	assert_true(victim >= 0);
	int added = e2_igraph_split(ig, (unsigned)victim, &err);
	assert_true(added >= 0);
	assert_int_equal(e2_place_incremental(ig, rack, (unsigned)added, &err), 0);
	for (unsigned i = 0; i < before; i++)
		assert_int_equal(ig->insts[i].server, was[i]);
	assert_true(ig->insts[added].server >= 0);
	struct e2_load loads[8];
	e2_rack_loads(ig, rack, loads);
	for (unsigned s = 0; s < rack->servers; s++)
		assert_true(loads[s].cores_used <= rack->cores[s]);
	free(was);
	e2_plan_free(plan);
	e2_policy_free(p);
	e2_hardware_free(hw);
	e2_nfs_free(nfs);
}

/* The MIP is exact to 1e-9 relative (CBC's default tolerances returned a
 * placement 8.5e-6 Gbps above the optimum once). */
#define MIP_EPS (1e-9 * (opt > 1 ? opt : 1))

/* Every assignment of NF instances i.. to servers, depth first: the least cross traffic
 * among the complete assignments that fit, or -1 if none does. */
static double exhaustive_optimum(struct e2_igraph *ig, const struct e2_rack *rack, unsigned i)
{
	if (i == ig->insts_count)
		return fits(ig, rack) ? e2_cross_server_gbps(ig) : -1;
	if (!ig->pg->nodes[ig->insts[i].pnode].nf) {
		ig->insts[i].server = -1;
		return exhaustive_optimum(ig, rack, i + 1);
	}
	double best = -1;
	for (unsigned s = 0; s < rack->servers; s++) {
		ig->insts[i].server = (int)s;
		double c = exhaustive_optimum(ig, rack, i + 1);
		if (c >= 0 && (best < 0 || c < best))
			best = c;
	}
	ig->insts[i].server = -1;
	return best;
}

/* On tiny instances (at most 8 NF instances, 2-3 servers, 1-4 Gbps links) the MIP must find the optimum
 * an exhaustive search finds, prove it, and bound it exactly, with and without the
 * heuristic's placement as its start; and say so when nothing fits. On some instances
 * the links must decide (ignoring them, it would fit, or fit at a lower cost), or the
 * link constraints would go untested. */
static void mip_finds_the_exhaustive_optimum(void **state)
{
	(void)state;
	struct e2_err err = {""};
	unsigned solved = 0, none_fits = 0, links_bind = 0;
	for (unsigned trial = 0; trial < 300 && (solved < 12 || links_bind < 4); trial++) {
		struct instance in;
		if (instance_make(&in, 100000 + trial, 3, 3, 1, 4) < 0 || nf_instance_count(in.f.ig) > 8) {
			instance_free(&in);
			continue;
		}
		struct e2_igraph *ig = in.f.ig;
		unplace(ig);
		double opt = exhaustive_optimum(ig, in.f.rack, 0);
		struct e2_rack loose = *in.f.rack;
		loose.link_target = 1e9;
		double opt_cores_only = exhaustive_optimum(ig, &loose, 0);
		for (int with_start = 0; with_start < 2; with_start++) {
			unplace(ig);
			if (with_start && e2_place(ig, in.f.rack, E2_PLACE_E2, 0, &err) < 0)
				unplace(ig); /* no start then; the MIP must still decide */
			int proven = 0;
			double bound = -1;
			int rc = e2_place_mip(ig, in.f.rack, 20, &proven, &bound, &err);
			if (opt < 0) {
				if (rc == 0)
					fail_msg("%s: nothing fits, yet the MIP placed it at %.4f Gbps", in.desc,
						 e2_cross_server_gbps(ig));
				assert_contains(err.msg, "no placement satisfies");
				continue;
			}
			if (rc < 0)
				fail_msg("%s: the optimum is %.4f Gbps, the MIP says: %s", in.desc, opt, err.msg);
			double got = e2_cross_server_gbps(ig);
			if (!fits(ig, in.f.rack))
				fail_msg("%s: the MIP's placement (%.4f Gbps) exceeds a capacity", in.desc, got);
			assert_true(proven);
			if (got > opt + MIP_EPS || got < opt - MIP_EPS || bound > opt + MIP_EPS ||
			    bound < opt - MIP_EPS)
				fail_msg("%s (%s start): exhaustive optimum %.9f Gbps, MIP %.9f, bound %.9f", in.desc,
					 with_start ? "heuristic" : "no", opt, got, bound);
		}
		if (opt < 0)
			none_fits++;
		else
			solved++;
		/* the links decide: without them it would fit, or fit at a lower cost */
		links_bind += opt_cores_only >= 0 && (opt < 0 || opt_cores_only < opt - MIP_EPS);
		instance_free(&in);
	}
	print_message("%u tiny instances solved to the exhaustive optimum, %u where nothing fits, links decide %u\n",
		      solved, none_fits, links_bind);
	assert_true(solved >= 12 && links_bind >= 4);
}

static void no_fit_is_an_error(void **state)
{
	(void)state;
	struct e2_err err = {""};
	struct e2_nf_catalog *nfs = load_nfs_file("nfs.yaml");
	struct e2_hardware *hw = hw_str(rack_yaml(2, 3, 10), &err); /* 6 cores for 18 instances */
	struct e2_policy *p = policy_str("pipelines:\n  - name: p\n    traffic_class: {rate_gbps: 4}\n"
					 "    nodes: [{name: in, port: in0}, {name: ids, nf: ids}]\n"
					 "    edges: [{from: in, to: ids}]\n",
					 &err);
	const struct e2_plan_inputs in = {.pol = p, .nfs = nfs, .hw = hw};
	const struct e2_plan_opts po = {.target_utilization = 0.8, .ghz = 1.0};
	assert_null(e2_plan_build(&in, &po, &err));
	assert_contains(err.msg, "demand cannot fit");
	assert_contains(err.msg, "ids.");
	e2_policy_free(p);
	e2_hardware_free(hw);
	e2_nfs_free(nfs);
}

/* scaling.across_servers: false keeps every instance of the NF on one server,
 * through packing, swaps, random placement, splits and the MIP. */
static void not_across_servers(void **state)
{
	(void)state;
	struct e2_err err = {""};
	struct e2_nf_catalog *cat = nfs_str(
		"nfs:\n"
		"  - { descriptor_id: A, nf_type: native, sw_image_data: {name: a}, num_virtual_cpu: 1, gbps_per_core_ghz: 1,\n"
		"      affinity: [src_ip], connection_points: [{name: in, role: input}, {name: out, role: output}] }\n"
		"  - { descriptor_id: T, nf_type: legacy, sw_image_data: {name: t}, num_virtual_cpu: 1, gbps_per_core_ghz: 1,\n"
		"      scaling: {scalable: true, across_servers: false},\n"
		"      affinity: [five_tuple], connection_points: [{name: in, role: input}, {name: out, role: output}] }\n",
		&err);
	assert_non_null(cat);
	assert_true(e2_nf_across_servers(&cat->nfs[0]));
	assert_false(e2_nf_across_servers(&cat->nfs[1]));
	struct e2_hardware *hw = hw_str(rack_yaml(4, 4, 10), &err);
	struct e2_policy *p = policy_str("pipelines:\n  - name: p\n    traffic_class: {rate_gbps: 2.2}\n"
					 "    nodes: [{name: in, port: in0}, {name: a, nf: A}, {name: t, nf: T}]\n"
					 "    edges: [{from: in, to: a}, {from: a, to: t}]\n",
					 &err);
	const struct e2_plan_inputs in = {.pol = p, .nfs = cat, .hw = hw};
	const struct e2_plan_opts po = {.stop = E2_PLAN_IGRAPH};
	struct e2_plan *plan = e2_plan_build(&in, &po, &err);
	if (!plan)
		fail_msg("%s", err.msg);
	assert_int_equal(plan->pg->nodes[2].instances, 3);
	struct e2_igraph *ig = plan->ig;
	const struct e2_rack *rack = &plan->rack;
	for (int algo = 0; algo < 4; algo++) {
		for (unsigned i = 0; i < ig->insts_count; i++)
			ig->insts[i].server = -1;
		if (e2_place(ig, rack, algo == 3 ? E2_PLACE_E2 : (enum e2_place_algo)algo, 7, &err) < 0)
			fail_msg("%s", err.msg);
		if (algo == 3)
			assert_int_equal(e2_place_mip(ig, rack, 5, NULL, NULL, &err), 0);
		int s = -2;
		for (unsigned i = 0; i < ig->insts_count; i++)
			if (ig->insts[i].pnode == 2) {
				if (s == -2)
					s = ig->insts[i].server;
				assert_int_equal(ig->insts[i].server, s);
			}
	}
	/* splits join the group's server until it is full, then fail clearly */
	int t0 = e2_igraph_find(ig, "t.0"), failed = 0;
	for (unsigned k = 0; k < 8 && !failed; k++) {
		int added = e2_igraph_split(ig, (unsigned)t0, &err);
		assert_true(added > 0);
		if (e2_place_incremental(ig, rack, (unsigned)added, &err) < 0) {
			assert_contains(err.msg, "must join");
			failed = 1;
		} else {
			assert_int_equal(ig->insts[added].server, ig->insts[t0].server);
		}
	}
	assert_true(failed);
	e2_plan_free(plan);
	e2_policy_free(p);
	/* more than a server's worth is refused at sizing */
	p = policy_str("pipelines:\n  - name: p\n    traffic_class: {rate_gbps: 6}\n"
		       "    nodes: [{name: in, port: in0}, {name: t, nf: T}]\n    edges: [{from: in, to: t}]\n",
		       &err);
	assert_null(e2_pgraph_build(p, cat, hw, NULL, &err));
	assert_contains(err.msg, "cannot scale across servers");
	e2_policy_free(p);
	e2_hardware_free(hw);
	e2_nfs_free(cat);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(hand_checked_optimum),
		cmocka_unit_test(random_policies_respect_capacity),
		cmocka_unit_test(incremental_moves_nothing_else),
		cmocka_unit_test(heuristic_beats_references),
		cmocka_unit_test(mip_finds_the_exhaustive_optimum),
		cmocka_unit_test(no_fit_is_an_error),
		cmocka_unit_test(not_across_servers),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
