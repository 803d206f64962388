/* SPDX-License-Identifier: BSD-3-Clause */
/* port_in: the task that receives a burst from one rx queue of a port.
 *
 * When what follows it is a port_out, or a tree of modules that can classify a frame in
 * place (hmatch, hash_split: e2_module_class.classify) ending in port_outs, none of them
 * fed from outside the tree, and the ports' driver can forward between them (vhost-user:
 * guest to guest, one copy), the frames skip the mbufs: the port moves them, each to
 * the port_out its classifiers pick, and every module counts them as if they had passed
 * through (one batch each; the cycles are port_in's). Anything else on the way (a
 * capture, a module that needs an mbuf) takes the ordinary path, and so do frames
 * port_out would have to change (NSH metadata for a port that must not see it) and
 * frames a classifier cannot settle from their first bytes. */
#include <stdio.h>

#include <rte_byteorder.h>
#include <rte_common.h>

#include "../dp.h"
#include "nsh.h"
#include "port_out.h"

/* The single-copy path's route from a port_in: the modules after it, each able to
 * classify a frame in place, in a tree whose leaves are port_outs of ports that forward
 * directly. Made again after every change to the graph (all of which happen while the
 * workers are paused: e2_dp.graph_gen). */
#define ROUTE_NODES_MAX 8
#define ROUTE_GATES_MAX 8 /* the gates of a classifier the route follows */
struct route {
	uint16_t n_nodes, n_to;
	uint16_t stop;                           /* the EtherType a leaf's port_out would have to change (NSH), or 0 */
	struct e2_module *node[ROUTE_NODES_MAX]; /* node[0] follows the port_in */
	uint16_t refs[ROUTE_NODES_MAX];          /* edges into each from inside the route */
	int8_t dest[ROUTE_NODES_MAX];            /* a port_out's index in to[], or -1 */
	uint8_t n_gates[ROUTE_NODES_MAX];        /* a classifier's last connected gate + 1 */
	/* a classifier's gate -> the node it leads to, -1 for none */
	int8_t next[ROUTE_NODES_MAX][ROUTE_GATES_MAX];
	struct e2_port *to[E2_PORT_FWD_DESTS_MAX];
	/* this burst's frames, as route_pick saw them: each one's way through the route,
	 * counted into the modules once the port says how many it took */
	uint16_t n_picked;
	uint32_t len[E2_BATCH_MAX];
	uint8_t depth[E2_BATCH_MAX];
	uint8_t way_node[E2_BATCH_MAX][ROUTE_NODES_MAX], way_gate[E2_BATCH_MAX][ROUTE_NODES_MAX];
	uint16_t edge_packets[ROUTE_NODES_MAX][ROUTE_GATES_MAX]; /* of this burst, per classifier gate */
	uint64_t edge_bytes[ROUTE_NODES_MAX][ROUTE_GATES_MAX];
};

struct port_in {
	struct e2_port *port;
	uint16_t queue;
	uint64_t direct_packets; /* received and handed on by the port's forward, since create */
	/* the single-copy route, made when the graph changes (e2_dp.graph_gen) */
	uint64_t route_gen;
	bool route_ok;
	struct route route;
};

static const char *const known[] = {"port", "queue", NULL};

static int port_in_init(struct e2_module *m, const struct e2_args *args, char *err)
{
	struct port_in *s = e2_priv(m);
	const char *name = e2_args_get(args, "port");
	uint64_t q;

	if (!name) {
		snprintf(err, E2_ERR_MAX, "port_in needs port=NAME");
		return -1;
	}
	s->port = e2_dp_port_find(m->dp, name);
	if (!s->port) {
		snprintf(err, E2_ERR_MAX, "no port named '%s'", name);
		return -1;
	}
	if (e2_args_u64(args, "queue", 0, 0, s->port->n_queues - 1, &q, err) < 0)
		return -1;
	if (s->port->in_users[q]) {
		snprintf(err, E2_ERR_MAX, "rx queue %llu of port '%s' is already read by module '%s'",
			 (unsigned long long)q, name, s->port->in_users[q]->name);
		return -1;
	}
	s->queue = (uint16_t)q;
	s->port->in_users[q] = m;
	s->route_gen = UINT64_MAX; /* no route yet */
	return 0;
}

static void port_in_deinit(struct e2_module *m)
{
	struct port_in *s = e2_priv(m);
	s->port->in_users[s->queue] = NULL;
}

static int route_find(const struct route *r, const struct e2_module *x)
{
	for (int i = 0; i < r->n_nodes; i++)
		if (r->node[i] == x)
			return i;
	return -1;
}

/* false when frames of this task cannot go directly: a module that cannot classify in
 * place, a port of another driver, two port_outs of one port, an input from outside the
 * route (another task could be using the same module or ring), or too large a tree. */
static bool route_build(struct e2_module *m, const struct port_in *s, struct route *r)
{
	if (!s->port->ops->forward || m->n_ogates == 0 || !m->ogates[0].next)
		return false;
	r->n_nodes = 1;
	r->n_to = 0;
	r->stop = 0;
	r->node[0] = m->ogates[0].next;
	r->refs[0] = 1;
	for (uint16_t i = 0; i < r->n_nodes; i++) {
		struct e2_module *x = r->node[i];
		struct e2_port *to = e2_port_out_port(x);
		if (to) {
			if (to->ops != s->port->ops || r->n_to == E2_PORT_FWD_DESTS_MAX)
				return false;
			for (uint16_t j = 0; j < r->n_to; j++)
				if (r->to[j] == to)
					return false;
			/* port_out strips NSH metadata for a port that must not see it: such
			 * frames take the ordinary path */
			if (!to->native)
				r->stop = rte_cpu_to_be_16(NSH_ETHERTYPE);
			r->dest[i] = (int8_t)r->n_to;
			r->to[r->n_to++] = to;
			continue;
		}
		if (!x->cls->classify)
			return false;
		r->dest[i] = -1;
		r->n_gates[i] = 0;
		/* gates past the first ROUTE_GATES_MAX are not looked at (a class may have 64):
		 * a frame a classifier sends there takes the ordinary path */
		uint16_t n_look = RTE_MIN(x->n_ogates, (uint16_t)ROUTE_GATES_MAX);
		for (uint16_t g = 0; g < n_look; g++) {
			struct e2_module *y = x->ogates[g].next;
			if (!y)
				continue;
			while (r->n_gates[i] < g)
				r->next[i][r->n_gates[i]++] = -1;
			r->n_gates[i] = (uint8_t)(g + 1);
			int k = route_find(r, y);
			if (k < 0) {
				if (r->n_nodes == ROUTE_NODES_MAX)
					return false;
				k = r->n_nodes++;
				r->node[k] = y;
				r->refs[k] = 0;
			}
			r->refs[k]++;
			r->next[i][g] = (int8_t)k;
		}
	}
	for (uint16_t i = 0; i < r->n_nodes; i++)
		if (r->node[i]->igate_refs != r->refs[i])
			return false;
	return r->n_to > 0;
}

/* e2_port_pick_fn over a route: the burst goes down the classifiers a module at a time
 * (each module's classify called once for the frames at it), until every frame is at a
 * port_out. A frame a classifier cannot settle, one headed for a gate that leads nowhere
 * or one that went round ROUTE_NODES_MAX times is left for the ordinary path. Each
 * classifier keeps the list of frames waiting at it, so a round touches only the frames
 * that are there; the edges' counts are kept as the frames pass (route_count takes back
 * those of frames the port did not take). */
static void route_pick(void *arg, const struct e2_frame_head *frames, uint16_t n, uint16_t *dst)
{
	struct route *r = arg;
	const struct e2_frame_head *sub[E2_BATCH_MAX];
	uint8_t sub_of[E2_BATCH_MAX];
	uint8_t waiting[ROUTE_NODES_MAX][E2_BATCH_MAX];
	uint8_t n_waiting[ROUTE_NODES_MAX] = {0};
	int16_t gates[E2_BATCH_MAX];

	r->n_picked = n;
	for (uint16_t i = 0; i < r->n_nodes; i++)
		for (uint16_t g = 0; g < r->n_gates[i]; g++) {
			r->edge_packets[i][g] = 0;
			r->edge_bytes[i][g] = 0;
		}
	for (uint16_t f = 0; f < n; f++) {
		r->depth[f] = 0;
		r->len[f] = frames[f].len;
		dst[f] = UINT16_MAX; /* until a port_out is reached */
		waiting[0][f] = (uint8_t)f;
	}
	n_waiting[0] = (uint8_t)n;
	/* in node order; a frame sent back to an earlier node waits for the next round */
	for (int round = 0; round < ROUTE_NODES_MAX; round++) {
		bool moved = false;
		for (uint16_t i = 0; i < r->n_nodes; i++) {
			uint16_t k = n_waiting[i];
			if (!k)
				continue;
			for (uint16_t j = 0; j < k; j++) {
				sub_of[j] = waiting[i][j];
				sub[j] = &frames[sub_of[j]];
			}
			n_waiting[i] = 0; /* frames sent back here from now on wait for the next round */
			struct e2_module *x = r->node[i];
			x->cls->classify(x, sub, k, gates);
			for (uint16_t j = 0; j < k; j++) {
				uint8_t f = sub_of[j];
				int g = gates[j];
				if (unlikely((unsigned)g >= r->n_gates[i] || r->next[i][g] < 0 ||
					     r->depth[f] == ROUTE_NODES_MAX))
					continue;
				r->way_node[f][r->depth[f]] = (uint8_t)i;
				r->way_gate[f][r->depth[f]++] = (uint8_t)g;
				r->edge_packets[i][g]++;
				r->edge_bytes[i][g] += r->len[f];
				uint8_t nx = (uint8_t)r->next[i][g];
				if (r->dest[nx] >= 0) {
					dst[f] = (uint16_t)r->dest[nx];
				} else {
					waiting[nx][n_waiting[nx]++] = f;
					moved = true;
				}
			}
		}
		if (!moved)
			break;
	}
}

/* Counts the first `taken` frames route_pick saw into the modules, as the ordinary path
 * would have counted them: each gate its frames and bytes, each module what its gates sent
 * it (node 0 what the port_in sent), and one batch for each module reached. */
static void route_count(struct route *r, uint16_t taken)
{
	uint16_t in[ROUTE_NODES_MAX] = {0};

	/* the frames the port left (a stop, a frame no port_out was found for) are not
	 * counted: take back what they added on the way */
	for (uint16_t f = taken; f < r->n_picked; f++)
		for (uint8_t d = 0; d < r->depth[f]; d++) {
			r->edge_packets[r->way_node[f][d]][r->way_gate[f][d]]--;
			r->edge_bytes[r->way_node[f][d]][r->way_gate[f][d]] -= r->len[f];
		}
	in[0] = taken;
	for (uint16_t i = 0; i < r->n_nodes && r->n_picked; i++) {
		struct e2_module *x = r->node[i];
		if (r->dest[i] >= 0)
			continue;
		for (uint16_t g = 0; g < r->n_gates[i]; g++) {
			uint16_t cnt = r->edge_packets[i][g];
			if (!cnt)
				continue;
			x->ogates[g].packets += cnt;
			x->ogates[g].bytes += r->edge_bytes[i][g];
			in[r->next[i][g]] += cnt;
		}
	}
	for (uint16_t i = 0; i < r->n_nodes; i++) {
		if (!in[i])
			continue;
		r->node[i]->packets += in[i];
		r->node[i]->batches++;
	}
}

/* Returns the frames taken, or -1 if the port could not forward now. */
static int run_direct(struct e2_module *m, struct port_in *s, struct route *r)
{
	struct e2_port_fwd f;
	/* one port_out straight after the port_in: nothing to classify */
	bool plain = r->n_nodes == 1;

	r->n_picked = 0;
	if (!s->port->ops->forward(s->port, s->queue, r->to, r->n_to, E2_BATCH_MAX, r->stop, plain ? NULL : route_pick,
				   r, &f) ||
	    (f.taken == 0 && f.stopped))
		return -1;
	if (f.taken == 0)
		return 0;
	/* a malformed frame is received and dropped here (librte_vhost's dequeue would have
	 * skipped it uncounted); its length is unknown */
	uint16_t received = f.taken - f.malformed;
	s->port->rx_packets += f.taken;
	s->port->rx_bytes += f.bytes_taken;
	m->drops += f.malformed;
	m->packets += f.taken;
	m->batches++;
	s->direct_packets += received;
	if (!received)
		return f.taken;
	m->ogates[0].packets += received;
	m->ogates[0].bytes += f.bytes_taken;
	if (plain) {
		r->node[0]->packets += received;
		r->node[0]->batches++;
	} else {
		route_count(r, received); /* the frames it picked: all but the malformed ones */
	}
	for (uint16_t i = 0; i < r->n_nodes; i++) {
		if (r->dest[i] < 0)
			continue;
		uint16_t j = (uint16_t)r->dest[i];
		struct e2_port *to = r->to[j];
		r->node[i]->drops += f.to_no_room[j];
		to->tx_packets += f.to_placed[j];
		to->tx_bytes += f.to_bytes_placed[j];
		to->tx_drops += f.to_no_room[j];
	}
	return f.taken;
}

static uint32_t port_in_run(struct e2_ctx *ctx, struct e2_module *m)
{
	struct port_in *s = e2_priv(m);
	struct e2_batch b;
	uint64_t bytes = 0;
	uint64_t gen = __atomic_load_n(&m->dp->graph_gen, __ATOMIC_ACQUIRE);

	if (unlikely(gen != s->route_gen)) {
		s->route_ok = route_build(m, s, &s->route);
		s->route_gen = gen;
	}
	if (s->route_ok) {
		int n = run_direct(m, s, &s->route);
		if (n >= 0)
			return (uint32_t)n;
	}

	b.cnt = e2_port_rx(s->port, s->queue, b.pkts, E2_BATCH_MAX);
	if (b.cnt == 0)
		return 0;
	/* Metadata is not cleared here: it sits in the mbuf's second cache line, and
	 * every module that reads a field is placed after the module that sets it. */
	for (uint16_t i = 0; i < b.cnt; i++)
		bytes += b.pkts[i]->pkt_len;
	s->port->rx_packets += b.cnt;
	s->port->rx_bytes += bytes;
	m->packets += b.cnt;
	m->batches++;
	uint32_t n = b.cnt;
	e2_emit_sized(ctx, m, 0, &b, bytes);
	return n;
}

static void port_in_stats(struct e2_module *m, struct e2_result *out)
{
	const struct port_in *s = e2_priv(m);
	e2_result_add(out, "direct_packets", "%llu", (unsigned long long)s->direct_packets);
	/* bursts that received something, since the last reset: packets / bursts is the mean
	 * burst, which sets how far a burst's fixed cost spreads */
	e2_result_add(out, "bursts", "%llu", (unsigned long long)m->batches);
}

static const struct e2_module_class port_in = {
	.name = "port_in",
	.help = "receives from a port: port=NAME [queue=N]; a task",
	.igates = 0,
	.ogates = 1,
	.priv_size = sizeof(struct port_in),
	.args = known,
	.init = port_in_init,
	.deinit = port_in_deinit,
	.run_task = port_in_run,
	.stats = port_in_stats,
};
E2_MODULE_REGISTER(port_in)
