/* SPDX-License-Identifier: BSD-3-Clause */
/* The E2 controller's planning library: policies, NF and hardware descriptions,
 * PGraph -> IGraph, placement, interconnection and split (migration avoidance) plans.
 *
 * Everything here is a pure computation over in-memory descriptions; nothing talks
 * to agents, E2D or the switch. Errors are reported through struct e2_err with a
 * message that names the culprit (file, pipeline, edge, NF, instance). */
#ifndef E2_ORCH_H
#define E2_ORCH_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>

#define E2_FLOW_BITS 16u /* flow IDs live in [0, 2^E2_FLOW_BITS) */
#define E2_FLOW_SPACE (1u << E2_FLOW_BITS)
/* Concurrent flows each E2D range-split stage tracks (its `flows=`): what migration
 * avoidance can keep in place; more are routed by range, untracked (and counted). */
#define E2_STAGE_FLOWS 16384u
#define E2_FLOW_TIMEOUT_S 300 /* an NF's flow state, unless its description says */
/* The most instances one NF may have (its max_number_of_instances): beyond this a
 * description is refused when read, before anything is sized or allocated. */
#define E2_NF_INSTANCES_MAX 1024u
/* Sizes of the three descriptions, refused past these when read (each parse then
 * takes milliseconds; see the negative corpus in tests/negative/). */
#define E2_PIPELINES_MAX 1024
#define E2_PIPELINE_NODES_MAX 256
#define E2_PIPELINE_EDGES_MAX 1024
#define E2_NFS_MAX 1024
#define E2_SERVERS_MAX 1024
#define E2_EXTERNAL_PORTS_MAX 256
#define E2_ATTRIBUTES_MAX 64
#define E2_FILTER_MAX 4096  /* characters of a pcap-filter expression */
#define E2_WORD_LEN_MAX 255 /* an attribute term, an external port or an action name */

/* struct e2_err, e2_seterr(), e2_err_context(): common/'s error type */
#include "e2/cmd.h" /* e2d commands as typed requests (cmdlang/) */
#include "e2/err.h"
#include "e2/file.h" /* e2_read_file() */
#include "e2/mem.h"  /* e2_xcalloc() and the rest: allocation that cannot fail quietly */

/* ---------------------------------------------------------------- descriptions */

/* Affinity fields (5-tuple with wildcards: a field that is absent is a wildcard). */
enum {
	E2_AFF_SRC_IP = 1,
	E2_AFF_DST_IP = 2,
	E2_AFF_PROTO = 4,
	E2_AFF_SRC_PORT = 8,
	E2_AFF_DST_PORT = 16,
	E2_AFF_FIVE_TUPLE = 31,
};
enum e2_nf_type { E2_NF_NATIVE, E2_NF_LEGACY };
enum e2_cp_role { E2_CP_INPUT, E2_CP_OUTPUT };
enum e2_attr_method { E2_METHOD_PORT, E2_METHOD_METADATA };

struct e2_checksum {
	char *algorithm;
	char *hash;
};
struct e2_sw_image { /* SOL001 SwImageData */
	char *name, *version, *container_format, *disk_format;
	struct e2_checksum *checksum; /* optional */
};
struct e2_cp { /* SOL001 VduCp, plus the attribute value it carries */
	char *name;
	unsigned order;
	enum e2_cp_role role;
	char *attribute, *value; /* optional: this port carries attribute=value */
};
struct e2_attr_decl {
	char *name;
	enum e2_attr_method method;
};
struct e2_vdu_profile {
	unsigned min_number_of_instances, max_number_of_instances;
};
struct e2_scaling {
	int scalable;
	int *across_servers; /* NULL: true */
	/* when the controller scales it (e2_autoscale; NULL: the defaults there) */
	double *scale_out_above; /* an instance's load (0..1] held this long: one more */
	double *scale_in_below;  /* every instance's load under this: one fewer */
	double *sustain_s;       /* how long a load must hold before anything is done */
	double *cooldown_s;      /* after a scaling action, none for this long */
	double *drain_s;         /* scale-in: how long a drained instance's flows may take */
	unsigned warm_pool;      /* instances kept booted and idle, so a scale-out need not boot */
};
/* How a native NF (native-nf/) runs and what it needs around it. */
enum e2_native_runs { E2_NATIVE_PROCESS, E2_NATIVE_VM };
struct e2_native {
	enum e2_native_runs runs_as; /* a libe2nf process on e2d's nf ports, or the same NF in a VM */
	int needs_streams;           /* reads e2nf-reasm's ordered bytes: one must be in front of it */
	char **emits_metadata;       /* NSH attributes it sets on the frames it passes */
	unsigned emits_metadata_count;
	char **reads_metadata; /* NSH attributes it acts on */
	unsigned reads_metadata_count;
};
/* What an NF VM image runs (images/README.md: e2.nf=, e2.args=). */
struct e2_launch {
	char *command; /* the NF binary in the image */
	char *args;    /* its comma-separated arguments */
	/* a directory on each server whose files the instance gets as /etc/e2/instance/
	 * (its own initrd); "{instance}" in it stands for the instance's name */
	char *instance_files;
	/* the NF's control socket in the guest (e.g. /run/embark-gw.ctl): reachable from its
	 * server as /var/run/e2/INSTANCE.ctl.sock (images/README.md: e2.ctl=) */
	char *control;
};
struct e2_nf {
	char *descriptor_id;                              /* the name policies use */
	char *provider, *product_name, *software_version; /* optional */
	enum e2_nf_type nf_type;
	struct e2_sw_image sw_image_data;
	unsigned num_virtual_cpu;
	unsigned virtual_mem_size_mb;
	struct e2_vdu_profile *vdu_profile; /* optional: default 1..64 */
	struct e2_scaling *scaling;         /* optional: default scalable across servers */
	unsigned affinity;                  /* E2_AFF_* bits; 0 = no affinity */
	int mangling;                       /* rewrites header fields (e.g. NAT) */
	double gbps_per_core_ghz;           /* per-core, per-GHz capacity estimate */
	/* how long the NF keeps the state of a silent flow (a firewall's established TCP
	 * timeout): E2's stages keep such a flow on its instance that long, so a scale-out
	 * never hands one it knows to an instance that does not; 0: E2_FLOW_TIMEOUT_S */
	double flow_timeout_s;
	struct e2_cp *cps;
	unsigned cps_count;
	struct e2_attr_decl *attributes;
	unsigned attributes_count;
	struct e2_launch *launch; /* optional: how the image starts the NF */
	struct e2_native *native; /* optional, native NFs only */
};
struct e2_nf_catalog {
	struct e2_nf *nfs;
	unsigned nfs_count;
};
/* False when the NF's instances must share one server (scaling.across_servers: false). */
int e2_nf_across_servers(const struct e2_nf *nf);

struct e2_server {
	char *name;
	unsigned count; /* >1: expands to name0..name(count-1) */
	unsigned cores;
	unsigned reserved_cores; /* for E2D itself; default 1 */
	double ghz;
	double nic_gbps;
	unsigned memory_mb; /* optional */
	/* the running system (e2-controller), all optional: */
	char *agent;        /* the server's e2-agent requests: tcp://ADDR:PORT or ipc://PATH */
	char *agent_events; /* and its events (PUB) */
	char *switch_port;  /* the fabric switch's name for the server's port (default: name) */
};
struct e2_switch {
	unsigned ports;
	char **external_ports;
	unsigned external_ports_count;
	double port_gbps;
	double capacity_gbps; /* total switching capacity (0: ports * port_gbps) */
	unsigned flow_table_entries;
	char **actions;
	unsigned actions_count;
	double rule_update_ms;
	/* the switch's own names of the external ports, in the order of external_ports
	 * (none given: the same names) */
	char **external_switch_ports;
	unsigned external_switch_ports_count;
	char *driver;        /* the switch driver (e2/fabric.h): "ovs", "none" (default) */
	char *driver_target; /* where the driver reaches the switch, e.g. unix:/run/.../br.mgmt */
};
/* The switch's name for a server's port, and for external port #i. */
const char *e2_server_switch_port(const struct e2_server *s);
const char *e2_external_switch_port(const struct e2_switch *sw, unsigned i);

struct e2_hardware {
	struct e2_server *servers;
	unsigned servers_count; /* expanded after load */
	struct e2_switch fabric;
};

struct e2_edge_spec {
	char *from, *to;
	char *filter; /* pcap-filter header terms, optional */
	char **attributes;
	unsigned attributes_count; /* derived: "safe", "!safe", "url=x" */
	double *rate_gbps;         /* optional estimate */
};
struct e2_node_spec {
	char *name;
	char *nf;
	char *port;
};
struct e2_traffic_class {
	char *filter; /* pcap-filter, optional */
	double rate_gbps;
};
struct e2_pipeline {
	char *name;
	struct e2_traffic_class traffic_class;
	struct e2_node_spec *nodes;
	unsigned nodes_count;
	struct e2_edge_spec *edges;
	unsigned edges_count;
};
struct e2_policy {
	struct e2_pipeline *pipelines;
	unsigned pipelines_count;
};

/* Loading. `origin` names the input in error messages (a file name). The loaded
 * objects are owned by the caller and released with the matching free. */
struct e2_policy *e2_policy_load(const char *yaml, size_t len, const char *origin, struct e2_err *err);
struct e2_nf_catalog *e2_nfs_load(const char *yaml, size_t len, const char *origin, struct e2_err *err);
struct e2_hardware *e2_hardware_load(const char *yaml, size_t len, const char *origin, struct e2_err *err);
void e2_policy_free(struct e2_policy *p);
void e2_nfs_free(struct e2_nf_catalog *c);
void e2_hardware_free(struct e2_hardware *h);

/* Checks pcap-filter syntax with libpcap (DLT_EN10MB); 0 or -1 with libpcap's message. */
int e2_filter_check(const char *filter, struct e2_err *err);
/* Parses a derived-attribute term: "safe" (safe=true), "!safe" (safe=false), "k=v". */
int e2_attr_term_parse(const char *term, char *name, size_t name_len, char *value, size_t value_len);
/* Affinity bits <-> comma-separated field names ("src_ip,dst_ip"). */
void e2_affinity_str(unsigned aff, char *buf, size_t len);

/* ---------------------------------------------------------------- PGraph */

struct e2_pnode {
	char *name;
	const struct e2_nf *nf; /* NULL: an external switch port */
	char *port;             /* external port name (nf == NULL) */
	double in_gbps;         /* estimated load (sum over pipelines) */
	unsigned instances;     /* sizing result */
};
struct e2_pedge {
	unsigned from, to; /* PGraph node indices */
	char *filter;      /* header filter incl. traffic class; NULL = all */
	char **attrs;
	unsigned attrs_count; /* metadata-method terms left for E2D */
	uint32_t from_cps;    /* bitmask of the source NF's output cps used */
	unsigned to_cp;       /* destination NF's input cp */
	double rate_gbps;
	const char *pipeline;
};
struct e2_pgraph {
	struct e2_pnode *nodes;
	unsigned nodes_count;
	struct e2_pedge *edges;
	unsigned edges_count;
	double ghz; /* per-core clock the sizing used */
};
/* The options of a plan (struct e2_plan_opts, below with e2_plan_build); e2_pgraph_build
 * reads only its sizing fields, target_utilization and ghz. */
struct e2_plan_opts;
/* Step 1 + sizing: validates every reference and filter, merges pipelines, estimates
 * rates and sizes each NF. */
struct e2_pgraph *e2_pgraph_build(const struct e2_policy *pol, const struct e2_nf_catalog *nfs,
				  const struct e2_hardware *hw, const struct e2_plan_opts *opts, struct e2_err *err);
void e2_pgraph_free(struct e2_pgraph *pg);

/* ---------------------------------------------------------------- IGraph */

/* Instances are named after their policy node, "NAME.N" for NFs: node names have no
 * '.' and leave room in e2_inst.name for the dot and any unsigned N. */
#define E2_NODE_NAME_MAX 52

struct e2_inst {
	char name[64];
	unsigned pnode;
	unsigned cores;              /* 0 for external ports */
	double capacity_gbps;        /* per-instance capacity (cores * per-core rate) */
	uint32_t range_lo, range_hi; /* flow-ID range [lo, hi) this instance serves */
	unsigned hash_fields;        /* E2_AFF_* fields the flow ID of that range hashes */
	int server;                  /* placement: -1 unplaced or external (switch) */
	bool removed;                /* scaled in: no VM, no cores; kept so names and lines stay */
};
struct e2_iedge {
	unsigned from, to; /* instance indices */
	unsigned pedge;
	double rate_gbps;
	int distributed; /* destination chosen by a flow-hash range split */
};
struct e2_igraph {
	const struct e2_pgraph *pg;
	struct e2_inst *insts;
	unsigned insts_count, insts_cap;
	struct e2_iedge *edges;
	unsigned edges_count, edges_cap;
	unsigned *next_index; /* per pnode: next instance number for names */
};
struct e2_igraph *e2_igraph_build(const struct e2_pgraph *pg, struct e2_err *err);
void e2_igraph_free(struct e2_igraph *ig);
int e2_igraph_find(const struct e2_igraph *ig, const char *name);
/* True if traffic from `up` needs no re-distribution before `down` (Fig 3.3(d)). */
int e2_affinity_implies(const struct e2_pgraph *pg, unsigned up, unsigned down);
/* Splits instance `inst` at the middle of its flow range: the new instance takes
 * [M, hi) and half of every incident edge. Returns its index or -1. */
int e2_igraph_split(struct e2_igraph *ig, unsigned inst, struct e2_err *err);
double e2_igraph_inst_load(const struct e2_igraph *ig, unsigned inst);

/* ---------------------------------------------------------------- placement */

struct e2_load { /* per-server resource use under a placement */
	unsigned cores_used;
	double nic_in_gbps, nic_out_gbps;
};
struct e2_rack { /* the capacity side, flattened from the hardware */
	unsigned servers;
	unsigned *cores; /* usable cores per server */
	double *nic_gbps;
	double switch_gbps;
	double link_target;    /* placement keeps links under nic * this (default 0.8),
                                     like sizing keeps cores under target utilisation */
	double mip_fallback_s; /* time limit of the MIP the heuristic falls back on when
                                     its packing strands an instance or a link stays over
                                     its target (0: 2 s; < 0: never) */
};
int e2_rack_from_hardware(struct e2_rack *rack, const struct e2_hardware *hw, struct e2_err *err);
void e2_rack_free(struct e2_rack *rack);

enum e2_place_algo { E2_PLACE_E2, E2_PLACE_PACKING, E2_PLACE_RANDOM, E2_PLACE_E2_START };
/* Places every unplaced instance. E2: its start, then e2_place_improve; PACKING: the DFS
 * bin-packing alone; RANDOM: uniformly among servers with free cores (seed drives it);
 * E2_START: E2's own start alone, the link-aware DFS bin-packing (E2 is exactly E2_START
 * followed by e2_place_improve; tests compare the two). Whichever the algorithm, when its
 * packing strands an instance although the cores suffice, a packing that does not depend
 * on the input order takes over (best-fit decreasing, an exhaustive packing search, the
 * MIP on cores): -1 ("demand cannot fit: ...", saying why) only when nothing fits. */
int e2_place(struct e2_igraph *ig, const struct e2_rack *rack, enum e2_place_algo algo, uint64_t seed,
	     struct e2_err *err);
/* E2's second and third steps from the current placement, which must place every NF
 * instance: Kernighan-Lin passes (tentative sequences of moves and swaps, the best prefix
 * kept), moves of connected groups, restarts from other packings, the best kept (least
 * link excess over the targets, then least cross traffic; never worse than the given
 * placement); the MIP when a link stays over its target; then link balancing. */
int e2_place_improve(struct e2_igraph *ig, const struct e2_rack *rack, struct e2_err *err);
/* Incremental placement of one new instance: no existing instance moves. */
int e2_place_incremental(struct e2_igraph *ig, const struct e2_rack *rack, unsigned inst, struct e2_err *err);
/* Exact reference: the placement MIP solved by CBC within time_limit_s. Returns 0,
 * sets *proven_optimal and *bound_gbps (a lower bound on cross_server_gbps), or -1. */
int e2_place_mip(struct e2_igraph *ig, const struct e2_rack *rack, double time_limit_s, int *proven_optimal,
		 double *bound_gbps, struct e2_err *err);

/* Traffic that crosses the switch (server<->server and external<->server), Gbps. */
double e2_cross_server_gbps(const struct e2_igraph *ig);
/* Fills loads[servers]; returns the number of violated capacities (0 = feasible). */
int e2_rack_loads(const struct e2_igraph *ig, const struct e2_rack *rack, struct e2_load *loads);
/* Largest factor by which every input rate can grow before a core, server link or
 * the switch saturates. */
double e2_max_scale(const struct e2_igraph *ig, const struct e2_rack *rack);

/* ---------------------------------------------------------------- interconnection */

/* A growing list of lines: switch rules and comments as plain text, e2d commands as
 * typed requests. v[i] is what is shown; req[i] is line i's request when it is an e2d
 * command (v[i] then its canonical text, e2_cmd_line), NULL for any other line. */
struct e2_lines {
	char **v;
	E2__Dp__Request **req;
	unsigned n, cap;
};
/* A line that is not an e2d command (a switch rule, a comment). */
void e2_lines_add(struct e2_lines *l, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
/* An e2d command, read by cmdlang: a line it refuses is a bug of the planner, which
 * aborts with the parser's message. */
void e2_lines_cmd(struct e2_lines *l, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
/* An e2d command for another server's e2d, shown as "e2d SERVER: COMMAND". */
void e2_lines_cmd_for(struct e2_lines *l, const char *server, const char *fmt, ...)
	__attribute__((format(printf, 3, 4)));
void e2_lines_free(struct e2_lines *l);

struct e2_interconnect {
	unsigned servers;
	struct e2_lines *e2d;    /* per server: E2D configuration lines */
	struct e2_lines sw;      /* fabric switch rules */
	unsigned switch_entries; /* flow-table entries the rules need */
	/* what the lines made (tunnels, decap gates), for instances added later */
	char *encap_made, *decap_made;
	unsigned *decap_gate;
	unsigned insts_room;
};
int e2_interconnect_plan(const struct e2_igraph *ig, const struct e2_hardware *hw, struct e2_interconnect *out,
			 struct e2_err *err);
void e2_interconnect_free(struct e2_interconnect *ic);
/* Appends the lines of IGraph instance `inst`, added after the plan (a split): its ports,
 * its steering stage with its range, what leaves its outputs (tunnels and decap rules
 * made as needed, reusing the plan's). */
void e2_interconnect_add(struct e2_interconnect *ic, const struct e2_igraph *ig, const struct e2_hardware *hw,
			 unsigned inst);
/* Where server `server` sends packets for instance `dest`'s connection point `cp`: its
 * steering stage there, or a tunnel (made, with the decap rule at dest's server, if it is
 * not yet). */
void e2_interconnect_target(struct e2_interconnect *ic, const struct e2_igraph *ig, const struct e2_hardware *hw,
			    int server, unsigned dest, unsigned cp, char *buf, size_t len);
/* TCAM entries to match [lo, hi) in a 2^E2_FLOW_BITS space (prefix expansion). */
unsigned e2_range_prefixes(uint32_t lo, uint32_t hi);
/* Name of the E2D stage that distributes edge `e` at its source's server, for a
 * source NF output port `cp`: "<inst>.<cp>.e<g>" (its rangesplit is "<...>.split"). */
void e2_edge_stage_name(const struct e2_igraph *ig, unsigned e, unsigned cp, char *buf, size_t len);
/* Quotes a value for an E2D line if it needs it. */
void e2_quote(char *buf, size_t len, const char *value);

/* ---------------------------------------------------------------- migration avoidance */

struct e2_flow {
	uint32_t src_ip, dst_ip;
	uint16_t src_port, dst_port;
	uint8_t proto;
};
/* The flow ID every E2D (flowhash) and the switch compute: CRC32C over the affinity
 * fields (network byte order, in 5-tuple order; no affinity = all five), low
 * E2_FLOW_BITS bits. See vswitch/README-modules.md, "Flow IDs". */
uint32_t e2_flow_id(const struct e2_flow *f, unsigned affinity);
/* The affinity fields as E2D's flowhash/rangesplit name them ("src,dst,proto,sport,dport";
 * no affinity = all five). */
void e2_affinity_e2d(unsigned aff, char *buf, size_t len);
/* The MAC of server #server's fabric port `nic` (the agent sets it): 02:e2:00:00:hh:ll
 * with hhll = server + 1; the switch's own (server < 0) is 02:e2:00:00:ff:ff. */
void e2_server_mac(int server, char *buf, size_t len);

struct e2_split_plan {
	unsigned old_inst, new_inst;
	uint32_t lo, mid, hi;
	struct e2_flow *exceptions;
	unsigned exceptions_count;
	int on_switch;      /* phase 2 reached: ranges live in the switch */
	unsigned threshold; /* move to the switch when exceptions <= threshold */
	unsigned affinity;
	const struct e2_hardware *hw;
	struct e2_lines e2d; /* phase 1: lines for the old instance's server */
	struct e2_lines sw;  /* phase 2: switch rules and upstream E2D updates */
};
/* Phase 1: split ranges + exceptions for every active flow of the old instance whose
 * ID falls in [mid, hi). `active` may be NULL (E2D pins its own flow table). */
int e2_split_begin(const struct e2_igraph *ig, const struct e2_hardware *hw, unsigned old_inst, unsigned new_inst,
		   const struct e2_flow *active, unsigned active_count, unsigned threshold, struct e2_split_plan *sp,
		   struct e2_err *err);
/* A flow ended: drops its exception. Returns 1 when the plan should now move to the
 * switch (exceptions under the threshold), filling sp->sw. */
int e2_split_flow_ended(const struct e2_igraph *ig, struct e2_split_plan *sp, const struct e2_flow *f);
/* Which instance a packet of flow f reaches under the current plan. */
unsigned e2_split_route(const struct e2_igraph *ig, const struct e2_split_plan *sp, const struct e2_flow *f);
void e2_split_free(struct e2_split_plan *sp);

/* ---------------------------------------------------------------- scaling decisions */

/* An NF's scaling policy: its description's `scaling` and `vdu_profile`, defaults filled
 * in (scale out above 0.8 held 2 s, in when the load on one fewer is below 0.6, cooldown
 * 30 s, drain 60 s). */
struct e2_autoscale_knobs {
	double out_above, in_below, sustain_s, cooldown_s, drain_s;
	unsigned min, max;
	unsigned warm_pool; /* spares kept launched, booted and idle */
};
/* -1 with why ("scale_in_below 0.9 is not below scale_out_above 0.8", ...) when they
 * contradict each other or are out of range. */
int e2_autoscale_knobs(const struct e2_nf *nf, struct e2_autoscale_knobs *k, char *why, size_t len);

/* One NF's recent past, for e2_autoscale_step (zero it to start). */
struct e2_autoscale {
	double over_since, under_since; /* < 0: not now */
	double last_action;             /* when the last action was decided; < 0 never */
	int started;
};
enum e2_autoscale_verdict { E2_AUTOSCALE_HOLD, E2_AUTOSCALE_OUT, E2_AUTOSCALE_IN };
/* The loads (0..1; < 0 unknown) of the NF's n running instances at time now (seconds):
 * OUT when one instance has been above out_above for sustain_s (pick: the most loaded:
 * the one to split; count 1), IN when the whole load on one instance fewer has been below
 * in_below for sustain_s (pick: the least loaded; count: how many instances to take
 * away, never below min); HOLD otherwise (count 0), also when max or min instances or
 * the cooldown stop an action. why says which, in words for an operator's event. */
enum e2_autoscale_verdict e2_autoscale_step(const struct e2_autoscale_knobs *k, struct e2_autoscale *st, double now,
					    const double *loads, unsigned n, unsigned *pick, unsigned *count, char *why,
					    size_t len);

/* ---------------------------------------------------------------- re-steering */

/* What happened to an instance since the plan's lines were applied, in order: the
 * operator stopped it (its flows go to running siblings) or started it again (it gets
 * them back); scaling in drains it (new flows to its siblings, its own stay until they
 * end); scaling out launches a new instance split off it (named as the IGraph names it:
 * the NF's next number), then activates that one (new flows of its half go to it). */
struct e2_plan;
enum e2_resteer_op {
	E2_RESTEER_WITHDRAW,
	E2_RESTEER_RESTORE,
	E2_RESTEER_DRAIN,
	E2_RESTEER_LAUNCH,
	E2_RESTEER_ACTIVATE,
	E2_RESTEER_REMOVE,
};
struct e2_resteer_event {
	const char *inst;
	enum e2_resteer_op op;
	const char *made; /* a launch as logged: the instance it made (checked when replayed) */
};
/* Appends to the plan's E2D lines the commands that carry out the events on top of
 * them (resteer.c says how); a launch also adds its instance to the IGraph (placed
 * without moving any other), so specs built from the plan run its VM. -1 on an unknown
 * instance, an event that does not fit the instance's state (a withdrawal of a
 * withdrawn one, ...), a launch with no room or past max_number_of_instances, or a
 * range only the fabric switch could move. */
int e2_resteer(struct e2_plan *p, const struct e2_resteer_event *ev, size_t n, struct e2_err *err);
/* "withdraw", "restore", "drain", "launch", "activate", "remove" (the words of e2ctl plan's
 * options). */
const char *e2_resteer_op_name(enum e2_resteer_op op);
int e2_resteer_op_parse(const char *word, enum e2_resteer_op *op);

/* ---------------------------------------------------------------- the plan */

/* The whole chain in one object: descriptions -> PGraph -> IGraph -> placement (the
 * algorithm's, then optionally the exact MIP's) -> optionally a split -> interconnection.
 * This is what `e2ctl plan` computes; tests and benchmarks that need the chain, or a
 * prefix of it, build it here rather than stage by stage. */

/* Where e2_plan_build stops: a prefix of the chain, for callers that go on by hand. */
enum e2_plan_stop {
	E2_PLAN_ALL,    /* through the interconnection */
	E2_PLAN_IGRAPH, /* PGraph, IGraph and rack; nothing placed */
	E2_PLAN_PLACED, /* and placed (and split, if asked); no interconnection */
};

/* Something the caller may want to tell a person; the plan goes on regardless. */
struct e2_plan_warning {
	enum {
		E2_PLAN_EXACT_KEPT,    /* the MIP gave no placement: the algorithm's is kept */
		E2_PLAN_OVER_CAPACITY, /* links or the switch exceeded at the estimated rates */
	} what;
	const char *why; /* EXACT_KEPT: the MIP's error message */
	int capacities;  /* OVER_CAPACITY: how many are exceeded */
};

struct e2_plan_opts {
	/* sizing (all e2_pgraph_build reads) */
	double target_utilization; /* sizing headroom, default 0.8 */
	double ghz;                /* per-core clock used for sizing; 0: slowest server */
	/* placement */
	enum e2_place_algo algo; /* default E2_PLACE_E2 */
	uint64_t seed;           /* drives E2_PLACE_RANDOM */
	double exact_s;          /* > 0: then the exact MIP within this time, starting from the
                                    algorithm's placement (or from none if that failed); if
                                    the MIP finds none, the algorithm's stands, with a warning */
	/* a split of one overloaded instance, planned before the interconnection */
	const char *split;  /* instance name, or NULL */
	unsigned threshold; /* exceptions left before the split moves to the switch */
	/* instances the operator stopped and started since, re-steered (e2_resteer) */
	const struct e2_resteer_event *resteer;
	size_t resteer_count;
	enum e2_plan_stop stop;
	/* called as each warning arises (so before any later error); NULL: none told */
	void (*warn)(void *arg, const struct e2_plan_warning *w);
	void *warn_arg;
};

/* The three descriptions: each one either parsed (borrowed; it must outlive the plan) or
 * a file to read (the plan owns what it reads). Files are read hardware first, then NFs,
 * then policy, and the first error stops. */
struct e2_plan_inputs {
	const struct e2_policy *pol;
	const struct e2_nf_catalog *nfs;
	const struct e2_hardware *hw;
	const char *policy_path, *nfs_path, *hardware_path;
};

struct e2_plan {
	const struct e2_policy *pol;
	const struct e2_nf_catalog *nfs;
	const struct e2_hardware *hw;
	struct e2_pgraph *pg;
	struct e2_igraph *ig;
	struct e2_rack rack;
	int has_split; /* opts->split was given: `split` holds its plan */
	struct e2_split_plan split;
	unsigned threshold; /* the split's, for the text output */
	int has_ic;         /* stop == E2_PLAN_ALL: `ic` holds the interconnection */
	struct e2_interconnect ic;
	/* what the plan read itself (struct e2_plan_inputs paths), freed with it */
	struct e2_policy *own_pol;
	struct e2_nf_catalog *own_nfs;
	struct e2_hardware *own_hw;
};

/* Builds the plan (opts may be NULL: defaults, whole chain). NULL with err set on the
 * first failure, having freed what it built. */
struct e2_plan *e2_plan_build(const struct e2_plan_inputs *in, const struct e2_plan_opts *opts, struct e2_err *err);
void e2_plan_free(struct e2_plan *p);

/* ---------------------------------------------------------------- deployment */

/* Server #server's part of a whole plan, as the encoded e2.ctl.ServerSpec its agent
 * reconciles to (proto/e2ctl.proto): the NF instances placed there (vhost-user sockets
 * at /var/run/e2/INSTANCE.PORT.sock, as the e2d lines expect), the e2d commands of its
 * lines (comments left out), and those of `stopped` (instance names) that live there.
 * *out is malloc'd. */
int e2_deploy_spec(const struct e2_plan *p, unsigned server, uint64_t generation, char *const *stopped,
		   size_t n_stopped, void **out, size_t *out_len, struct e2_err *err);

/* ---------------------------------------------------------------- output */

/* PGraph, IGraph, edges, servers, and (when planned) switch rules, E2D lines and the split. */
void e2_plan_print_text(FILE *out, const struct e2_plan *p);
/* JSON plan: instances, edges, cross_server_gbps, servers, switch rules, E2D lines, split. */
char *e2_plan_json(const struct e2_plan *p);
/* Graphviz picture with servers as clusters. */
int e2_plan_dot(FILE *out, const struct e2_plan *p, struct e2_err *err);

#endif
