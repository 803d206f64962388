/* SPDX-License-Identifier: BSD-3-Clause */
/* The "ovs" switch driver: E2's abstract switch rules as OpenFlow flows on an Open
 * vSwitch bridge (or any switch ovs-ofctl reaches and that has OVS's NSH actions),
 * installed by running ovs-ofctl -O OpenFlow15 (argv, never a shell; bounded time).
 * switch.driver_target is ovs-ofctl's target: unix:/path/BRIDGE.mgmt, tcp:HOST:PORT.
 *
 * Translation (checked against OVS 3.1's userspace datapath and e2d's tunnel modules):
 *   in_port=P, output:P    the switch's names for the ports (switch_port of a server,
 *                          external_switch_ports of an external port)
 *   tunnel_dst=SERVER      eth_dst = the server's fabric MAC (e2_server_mac)
 *   spi=S                  an NSH frame (dl_type 0x894f) with nsh_spi S
 *   encap:spi=S,output:SRV encap(nsh(md_type=2)) with SPI S and SI 255, encap(ethernet)
 *                          from 02:e2:00:00:ff:ff (the switch) to SRV's MAC: the frame
 *                          e2d's tunnel_encap (transport=eth) writes and tunnel_decap reads
 *   decap,output:P         decap() (the outer Ethernet) and decap() (NSH): the inner frame
 *   filter=PCAP            a conjunction of ip, tcp, udp, icmp, sctp,
 *                          [tcp|udp|sctp] [src|dst] port N, [src|dst] [host] A.B.C.D,
 *                          [src|dst] net A.B.C.D/N (and parentheses), with pcap's meaning:
 *                          "tcp" is TCP over IPv4 or IPv6, "port" any of TCP, UDP and
 *                          SCTP, "host" and "net" IPv4, ARP and RARP addresses, no
 *                          direction either one; each alternative is one flow
 *   src_ip, dst_ip, proto, src_port, dst_port   exact IPv4 5-tuple fields
 *   hash=, range=          refused: OVS cannot compute E2's flow IDs
 * Every flow carries cookie E2_FABRIC_COOKIE; count and show read those. replace is
 * `ovs-ofctl --bundle replace-flows` (one atomic transaction that changes only what
 * differs); it owns the switch's tables, so flows of other owners go too. add and del
 * are bundles of flow mods. */
#include <arpa/inet.h>
#include <ctype.h>
#include <errno.h>
#include <fcntl.h>
#include <poll.h>
#include <signal.h>
#include <spawn.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include "e2/fabric.h"
#include "e2/mem.h"

extern char **environ;

#define OFCTL_TIMEOUT_S 10  /* ovs-ofctl's own (--timeout) */
#define OFCTL_DEADLINE_S 20 /* then it is killed */
#define OFCTL_OUTPUT_MAX (64u << 20)
#define FLOWS_PER_RULE_MAX 16 /* alternatives a filter may expand to */
#define SWITCH_MAC "02:e2:00:00:ff:ff"
#define STR_(x) #x
#define STR(x) STR_(x)

struct ovs_state {
	const char *ofctl; /* the program */
};

/* ---------------------------------------------------------------- running ovs-ofctl */

struct run {
	int status; /* exit status; -1: killed by a signal */
	char *out, *errs;
	size_t out_len, errs_len;
};

static void run_free(struct run *r)
{
	free(r->out);
	free(r->errs);
	r->out = r->errs = NULL;
}

static double now_s(void)
{
	struct timespec ts;
	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (double)ts.tv_sec + ts.tv_nsec / 1e9;
}

static int append_fd(int fd, char **buf, size_t *len)
{
	char chunk[65536];
	ssize_t n = read(fd, chunk, sizeof chunk);
	if (n <= 0)
		return n == 0 || (errno != EINTR && errno != EAGAIN) ? 0 : 1;
	if (*len + (size_t)n > OFCTL_OUTPUT_MAX)
		return -1;
	*buf = e2_xrealloc(*buf, *len + (size_t)n + 1);
	memcpy(*buf + *len, chunk, (size_t)n);
	*len += (size_t)n;
	(*buf)[*len] = '\0';
	return 1;
}

/* Runs ovs-ofctl with `args` (NULL-terminated), `input` on its standard input, and
 * collects both outputs. 0 (see r->status), or -1 with err if it could not be run or
 * did not finish in time. */
static int ofctl(const struct ovs_state *s, const char *const *args, const char *input, struct run *r,
		 struct e2_err *err)
{
	const char *argv[16];
	size_t a = 0;
	argv[a++] = s->ofctl;
	argv[a++] = "-O";
	argv[a++] = "OpenFlow15";
	argv[a++] = "--timeout=" STR(OFCTL_TIMEOUT_S);
	for (size_t i = 0; args[i] && a < sizeof argv / sizeof argv[0] - 1; i++)
		argv[a++] = args[i];
	argv[a] = NULL;
	*r = (struct run){.out = e2_xstrdup(""), .errs = e2_xstrdup("")};

	int in = -1, po[2] = {-1, -1}, pe[2] = {-1, -1}, rc = -1;
	if (input) {
		in = memfd_create("e2-fabric-flows", MFD_CLOEXEC);
		size_t len = strlen(input), off = 0;
		while (in >= 0 && off < len) {
			ssize_t w = write(in, input + off, len - off);
			if (w < 0 && errno == EINTR)
				continue;
			if (w <= 0) {
				close(in);
				in = -1;
				break;
			}
			off += (size_t)w;
		}
		if (in >= 0 && lseek(in, 0, SEEK_SET) != 0) {
			close(in);
			in = -1;
		}
	} else {
		in = open("/dev/null", O_RDONLY | O_CLOEXEC);
	}
	if (in < 0 || pipe2(po, O_CLOEXEC) < 0 || pipe2(pe, O_CLOEXEC) < 0) {
		e2_seterr(err, "cannot prepare to run %s: %s", s->ofctl, strerror(errno));
		goto out;
	}
	posix_spawn_file_actions_t fa;
	posix_spawn_file_actions_init(&fa);
	posix_spawn_file_actions_adddup2(&fa, in, 0);
	posix_spawn_file_actions_adddup2(&fa, po[1], 1);
	posix_spawn_file_actions_adddup2(&fa, pe[1], 2);
	pid_t pid;
	int e = posix_spawnp(&pid, s->ofctl, &fa, NULL, (char *const *)argv, environ);
	posix_spawn_file_actions_destroy(&fa);
	close(po[1]);
	close(pe[1]);
	po[1] = pe[1] = -1;
	if (e) {
		e2_seterr(err, "cannot run %s: %s (Open vSwitch's openvswitch-common package has it)", s->ofctl,
			  strerror(e));
		goto out;
	}
	double deadline = now_s() + OFCTL_DEADLINE_S;
	int open_fds = 2, too_much = 0;
	while (open_fds && !too_much) {
		struct pollfd p[2] = {{po[0], POLLIN, 0}, {pe[0], POLLIN, 0}};
		double left = deadline - now_s();
		if (left <= 0)
			break;
		int n = poll(p, 2, (int)(left * 1000) + 1);
		if (n < 0 && errno != EINTR)
			break;
		for (int i = 0; i < 2 && n > 0; i++) {
			if (!(p[i].revents & (POLLIN | POLLHUP | POLLERR)))
				continue;
			int got = i ? append_fd(pe[0], &r->errs, &r->errs_len) : append_fd(po[0], &r->out, &r->out_len);
			if (got < 0)
				too_much = 1;
			if (got == 0) {
				close(i ? pe[0] : po[0]);
				(i ? pe : po)[0] = -1;
				open_fds--;
			}
		}
	}
	if (open_fds) {
		kill(pid, SIGKILL);
		waitpid(pid, NULL, 0);
		if (too_much)
			e2_seterr(err, "%s %s wrote more than %u bytes", s->ofctl, args[0], OFCTL_OUTPUT_MAX);
		else
			e2_seterr(err, "%s %s did not finish within %d s (switch at %s)", s->ofctl, args[0],
				  OFCTL_DEADLINE_S, args[1] ? args[1] : "?");
		goto out;
	}
	int st;
	while (waitpid(pid, &st, 0) < 0 && errno == EINTR)
		;
	r->status = WIFEXITED(st) ? WEXITSTATUS(st) : -1;
	rc = 0;
out:
	for (int i = 0; i < 2; i++) {
		if (po[i] >= 0)
			close(po[i]);
		if (pe[i] >= 0)
			close(pe[i]);
	}
	if (in >= 0)
		close(in);
	if (rc < 0)
		run_free(r);
	return rc;
}

/* ---------------------------------------------------------------- matches */

/* One OpenFlow match (an alternative of a rule's match). */
struct ofm {
	uint16_t dl_type; /* 0: any */
	int nw_proto;     /* -1: any */
	/* IPv4 addresses (of IP, or of ARP/RARP, by dl_type), host order; length 0: any */
	uint32_t src, dst;
	int src_len, dst_len;
	int tp_src, tp_dst; /* -1: any */
	int64_t nsh_spi;    /* -1: any */
};

static const struct ofm any_match = {0, -1, 0, 0, 0, 0, -1, -1, -1};

struct alts {
	struct ofm *v;
	size_t n;
};

static uint32_t prefix_mask(int len)
{
	return len ? ~0u << (32 - len) : 0;
}

static int merge_prefix(uint32_t *a, int *alen, uint32_t b, int blen)
{
	int shorter = *alen < blen ? *alen : blen;
	if ((*a & prefix_mask(shorter)) != (b & prefix_mask(shorter)))
		return -1;
	if (blen > *alen) {
		*a = b;
		*alen = blen;
	}
	return 0;
}

/* x AND y into out; -1 when nothing matches both. */
static int merge(const struct ofm *x, const struct ofm *y, struct ofm *out)
{
	*out = *x;
	if (y->dl_type && out->dl_type && y->dl_type != out->dl_type)
		return -1;
	if (y->dl_type)
		out->dl_type = y->dl_type;
	if (y->nw_proto >= 0 && out->nw_proto >= 0 && y->nw_proto != out->nw_proto)
		return -1;
	if (y->nw_proto >= 0)
		out->nw_proto = y->nw_proto;
	if (merge_prefix(&out->src, &out->src_len, y->src, y->src_len) < 0 ||
	    merge_prefix(&out->dst, &out->dst_len, y->dst, y->dst_len) < 0)
		return -1;
	if ((y->tp_src >= 0 && out->tp_src >= 0 && y->tp_src != out->tp_src) ||
	    (y->tp_dst >= 0 && out->tp_dst >= 0 && y->tp_dst != out->tp_dst) ||
	    (y->nsh_spi >= 0 && out->nsh_spi >= 0 && y->nsh_spi != out->nsh_spi))
		return -1;
	if (y->tp_src >= 0)
		out->tp_src = y->tp_src;
	if (y->tp_dst >= 0)
		out->tp_dst = y->tp_dst;
	if (y->nsh_spi >= 0)
		out->nsh_spi = y->nsh_spi;
	return 0;
}

static int ofm_equal(const struct ofm *a, const struct ofm *b)
{
	return a->dl_type == b->dl_type && a->nw_proto == b->nw_proto && a->src == b->src && a->src_len == b->src_len &&
	       a->dst == b->dst && a->dst_len == b->dst_len && a->tp_src == b->tp_src && a->tp_dst == b->tp_dst &&
	       a->nsh_spi == b->nsh_spi;
}

/* acc := acc AND (any of t), alternatives that cannot match dropped. */
static int conjoin(struct alts *acc, const struct ofm *t, size_t nt, const char *what, struct e2_err *err)
{
	struct ofm *v = e2_xcalloc(acc->n * nt + 1, sizeof *v);
	size_t n = 0;
	for (size_t i = 0; i < acc->n; i++)
		for (size_t j = 0; j < nt; j++) {
			struct ofm m;
			if (merge(&acc->v[i], &t[j], &m) < 0)
				continue;
			size_t k = 0;
			while (k < n && !ofm_equal(&v[k], &m))
				k++;
			if (k == n)
				v[n++] = m;
		}
	free(acc->v);
	acc->v = v;
	acc->n = n;
	if (n > FLOWS_PER_RULE_MAX) {
		e2_seterr(err, "%s needs more than %d OpenFlow flows", what, FLOWS_PER_RULE_MAX);
		return -1;
	}
	return 0;
}

/* ---------------------------------------------------------------- pcap filters */

#define TOKENS_MAX 512

struct filter_parse {
	const char *filter;
	char *tok[TOKENS_MAX];
	size_t n, i;
	struct e2_err *err;
};

static int unsupported(struct filter_parse *fp, const char *near)
{
	e2_seterr(fp->err,
		  "filter '%s': the ovs driver cannot translate it (at '%s'); it takes ip, tcp, udp, icmp, sctp, "
		  "[tcp|udp|sctp] [src|dst] port N, [src|dst] [host] A.B.C.D and [src|dst] net A.B.C.D/N, joined "
		  "by 'and'",
		  fp->filter, near ? near : "the end");
	return -1;
}

static int tokenize(struct filter_parse *fp, char *buf)
{
	for (char *p = buf; *p;) {
		if (*p == ' ' || *p == '\t' || *p == '\n') {
			*p++ = '\0';
			continue;
		}
		if (fp->n == TOKENS_MAX) {
			e2_seterr(fp->err, "filter '%s': more than %d words", fp->filter, TOKENS_MAX);
			return -1;
		}
		if (*p == '(' || *p == ')') {
			/* a one-character token needs its own storage: buf is cut in place */
			fp->tok[fp->n++] = *p == '(' ? "(" : ")";
			*p++ = '\0';
			continue;
		}
		fp->tok[fp->n++] = p;
		while (*p && *p != ' ' && *p != '\t' && *p != '\n' && *p != '(' && *p != ')')
			p++;
		if (*p == '(' || *p == ')') {
			char c = *p;
			*p = '\0';
			if (fp->n == TOKENS_MAX)
				return unsupported(fp, "(");
			fp->tok[fp->n++] = c == '(' ? "(" : ")";
			p++;
		}
	}
	return 0;
}

static const char *peek(const struct filter_parse *fp)
{
	return fp->i < fp->n ? fp->tok[fp->i] : NULL;
}

static int is(const struct filter_parse *fp, const char *w)
{
	const char *t = peek(fp);
	return t && strcmp(t, w) == 0;
}

static int parse_u16(const char *s, int *out)
{
	char *end;
	if (!s || !*s || *s == '-' || *s == '+')
		return -1;
	errno = 0;
	unsigned long v = strtoul(s, &end, 10);
	if (*end || errno || v > 65535)
		return -1;
	*out = (int)v;
	return 0;
}

static int parse_addr(const char *s, int with_len, uint32_t *addr, int *len)
{
	char a[INET_ADDRSTRLEN + 4];
	const char *slash = strchr(s, '/');
	struct in_addr in;
	*len = 32;
	if (strlen(s) >= sizeof a)
		return -1;
	snprintf(a, sizeof a, "%.*s", (int)(slash ? (size_t)(slash - s) : strlen(s)), s);
	if (inet_pton(AF_INET, a, &in) != 1)
		return -1;
	if (slash) {
		int l;
		if (!with_len || parse_u16(slash + 1, &l) < 0 || l < 1 || l > 32)
			return -1;
		*len = l;
	} else if (with_len) {
		return -1;
	}
	*addr = ntohl(in.s_addr);
	return 0;
}

/* One primitive: its alternatives in t[], their number in *nt. */
static int parse_primitive(struct filter_parse *fp, struct ofm *t, size_t *nt)
{
	const char *start = peek(fp);
	int proto = -1; /* 6, 17, 132, 1, or 0 for ip */
	int dir = 0;    /* 1 src, 2 dst */
	enum { T_NONE, T_HOST, T_NET, T_PORT } type = T_NONE;
	static const struct {
		const char *w;
		int p;
	} protos[] = {{"ip", 0}, {"tcp", 6}, {"udp", 17}, {"icmp", 1}, {"sctp", 132}};
	for (size_t k = 0; k < sizeof protos / sizeof protos[0]; k++)
		if (is(fp, protos[k].w)) {
			proto = protos[k].p;
			fp->i++;
			break;
		}
	if (is(fp, "src") || is(fp, "dst")) {
		dir = is(fp, "src") ? 1 : 2;
		fp->i++;
	}
	if (is(fp, "host"))
		type = T_HOST;
	else if (is(fp, "net"))
		type = T_NET;
	else if (is(fp, "port"))
		type = T_PORT;
	if (type != T_NONE)
		fp->i++;
	*nt = 0;
	const char *next = peek(fp);
	int at_end = !next || strcmp(next, "and") == 0 || strcmp(next, "&&") == 0 || strcmp(next, ")") == 0;
	if (type == T_NONE && !dir && proto >= 0 && at_end) {
		/* a protocol: pcap's tcp, udp and sctp are IPv4 or IPv6, icmp and ip IPv4 */
		t[(*nt)++] = (struct ofm){0x0800, proto ? proto : -1, 0, 0, 0, 0, -1, -1, -1};
		if (proto == 6 || proto == 17 || proto == 132)
			t[(*nt)++] = (struct ofm){0x86dd, proto, 0, 0, 0, 0, -1, -1, -1};
		return 0;
	}
	if (type == T_PORT) {
		int port;
		if ((proto != -1 && proto != 6 && proto != 17 && proto != 132) || parse_u16(next, &port) < 0)
			return unsupported(fp, next ? next : start);
		fp->i++;
		const int all[] = {6, 17, 132};
		for (int d = 1; d <= 2; d++) {
			if (dir && dir != d)
				continue;
			for (size_t k = 0; k < 3; k++) {
				if (proto != -1 && proto != all[k])
					continue;
				for (int v6 = 0; v6 < 2; v6++) {
					struct ofm m = any_match;
					m.dl_type = v6 ? 0x86dd : 0x0800;
					m.nw_proto = all[k];
					if (d == 1)
						m.tp_src = port;
					else
						m.tp_dst = port;
					t[(*nt)++] = m;
				}
			}
		}
		return 0;
	}
	if (proto != -1 || (type == T_NONE && !next))
		return unsupported(fp, next ? next : start);
	/* host or net: pcap matches IPv4, ARP and RARP addresses */
	uint32_t addr;
	int len;
	if (!next || parse_addr(next, type == T_NET, &addr, &len) < 0)
		return unsupported(fp, next ? next : start);
	fp->i++;
	const uint16_t types[] = {0x0800, 0x0806, 0x8035};
	for (int d = 1; d <= 2; d++) {
		if (dir && dir != d)
			continue;
		for (size_t k = 0; k < 3; k++) {
			struct ofm m = any_match;
			m.dl_type = types[k];
			if (d == 1) {
				m.src = addr;
				m.src_len = len;
			} else {
				m.dst = addr;
				m.dst_len = len;
			}
			t[(*nt)++] = m;
		}
	}
	return 0;
}

static int parse_conjunction(struct filter_parse *fp, struct alts *acc, int depth);

static int parse_term(struct filter_parse *fp, struct alts *acc, int depth)
{
	if (is(fp, "(")) {
		fp->i++;
		if (depth > 64)
			return unsupported(fp, "(");
		if (parse_conjunction(fp, acc, depth + 1) < 0)
			return -1;
		if (!is(fp, ")"))
			return unsupported(fp, peek(fp));
		fp->i++;
		return 0;
	}
	struct ofm t[12];
	size_t nt;
	if (parse_primitive(fp, t, &nt) < 0)
		return -1;
	char what[64];
	snprintf(what, sizeof what, "filter '%.40s'", fp->filter);
	return conjoin(acc, t, nt, what, fp->err);
}

static int parse_conjunction(struct filter_parse *fp, struct alts *acc, int depth)
{
	for (;;) {
		if (parse_term(fp, acc, depth) < 0)
			return -1;
		if (!is(fp, "and") && !is(fp, "&&"))
			return 0;
		fp->i++;
	}
}

/* The alternatives of a whole rule's match: its filter and header fields. */
static int rule_alts(const struct e2_fabric_rule *r, struct alts *acc, struct e2_err *err)
{
	acc->v = e2_xcalloc(1, sizeof *acc->v);
	acc->v[0] = any_match;
	acc->n = 1;
	if (r->has & E2_FABRIC_M_HASH) {
		e2_seterr(err,
			  "the ovs driver has no hash_range (OVS cannot compute E2's flow IDs): hash=%s range=%u-%u",
			  r->hash, r->range_lo, r->range_hi);
		return -1;
	}
	if ((r->has & E2_FABRIC_M_FILTER) && *r->filter) {
		struct filter_parse fp = {.filter = r->filter, .err = err};
		char *buf = e2_xstrdup(r->filter);
		int rc = tokenize(&fp, buf);
		if (rc == 0)
			rc = parse_conjunction(&fp, acc, 0);
		if (rc == 0 && fp.i != fp.n)
			rc = unsupported(&fp, peek(&fp));
		free(buf);
		if (rc < 0)
			return -1;
	}
	struct ofm t[6];
	if (r->has & E2_FABRIC_M_SPI) {
		t[0] = any_match;
		t[0].dl_type = 0x894f;
		t[0].nsh_spi = r->spi;
		if (conjoin(acc, t, 1, "spi", err) < 0)
			return -1;
	}
	/* a flow's exact fields (split plans): IPv4 5-tuples */
	if (r->has & (E2_FABRIC_M_SRC_IP | E2_FABRIC_M_DST_IP | E2_FABRIC_M_PROTO)) {
		t[0] = any_match;
		t[0].dl_type = 0x0800;
		if (r->has & E2_FABRIC_M_SRC_IP) {
			t[0].src = r->src_ip;
			t[0].src_len = 32;
		}
		if (r->has & E2_FABRIC_M_DST_IP) {
			t[0].dst = r->dst_ip;
			t[0].dst_len = 32;
		}
		if (r->has & E2_FABRIC_M_PROTO)
			t[0].nw_proto = (int)r->proto;
		if (conjoin(acc, t, 1, "the rule's fields", err) < 0)
			return -1;
	}
	if (r->has & (E2_FABRIC_M_SRC_PORT | E2_FABRIC_M_DST_PORT)) {
		const int protos[] = {6, 17, 132};
		size_t nt = 0;
		for (size_t k = 0; k < 3; k++) {
			if ((r->has & E2_FABRIC_M_PROTO) && r->proto != (unsigned)protos[k])
				continue;
			t[nt] = any_match;
			t[nt].dl_type = 0x0800;
			t[nt].nw_proto = protos[k];
			if (r->has & E2_FABRIC_M_SRC_PORT)
				t[nt].tp_src = (int)r->src_port;
			if (r->has & E2_FABRIC_M_DST_PORT)
				t[nt].tp_dst = (int)r->dst_port;
			nt++;
		}
		if (!nt) {
			e2_seterr(err, "src_port/dst_port need proto 6, 17 or 132 (TCP, UDP, SCTP), not %u", r->proto);
			return -1;
		}
		if (conjoin(acc, t, nt, "the rule's fields", err) < 0)
			return -1;
	}
	if (!acc->n) {
		char *text = e2_fabric_rule_text(r, 1);
		e2_seterr(err, "%s matches no packet at all (its parts contradict each other)", text);
		free(text);
		return -1;
	}
	return 0;
}

static void print_addr(FILE *f, const char *field, uint32_t a, int len)
{
	fprintf(f, ",%s=%u.%u.%u.%u", field, a >> 24, a >> 16 & 255, a >> 8 & 255, a & 255);
	if (len < 32)
		fprintf(f, "/%d", len);
}

static void print_ofm(FILE *f, const struct ofm *m)
{
	int arp = m->dl_type == 0x0806 || m->dl_type == 0x8035;
	if (m->dl_type)
		fprintf(f, ",dl_type=0x%04x", m->dl_type);
	if (m->nw_proto >= 0)
		fprintf(f, ",nw_proto=%d", m->nw_proto);
	if (m->src_len)
		print_addr(f, arp ? "arp_spa" : "nw_src", m->src, m->src_len);
	if (m->dst_len)
		print_addr(f, arp ? "arp_tpa" : "nw_dst", m->dst, m->dst_len);
	if (m->tp_src >= 0)
		fprintf(f, ",tp_src=%d", m->tp_src);
	if (m->tp_dst >= 0)
		fprintf(f, ",tp_dst=%d", m->tp_dst);
	if (m->nsh_spi >= 0)
		fprintf(f, ",nsh_spi=%lld", (long long)m->nsh_spi);
}

/* ---------------------------------------------------------------- rules -> flows */

/* Port names go into ovs-ofctl's flow syntax as they are. */
static int check_port_name(const struct e2_fabric_port *p, struct e2_err *err)
{
	const char *n = p->switch_port;
	size_t i = 0;
	while (n[i] && (isalnum((unsigned char)n[i]) || n[i] == '_' || n[i] == '-' || n[i] == '.'))
		i++;
	if (!n[0] || n[i]) {
		e2_seterr(err, "switch port '%s' (of %s): the ovs driver takes letters, digits, '_', '-' and '.'", n,
			  p->name);
		return -1;
	}
	return 0;
}

static int print_actions(FILE *f, const struct e2_fabric_rule *r, struct e2_err *err)
{
	fputs(",actions=", f);
	unsigned i = 0;
	if (r->actions[0].kind == E2_FABRIC_ENCAP) {
		fprintf(f,
			"encap(nsh(md_type=2)),set_field:%u->nsh_spi,set_field:255->nsh_si,encap(ethernet),"
			"set_field:" SWITCH_MAC "->eth_src,",
			r->actions[0].spi);
		i = 1;
	} else if (r->actions[0].kind == E2_FABRIC_DECAP) {
		fputs("decap(),decap(),", f);
		i = 1;
	}
	for (unsigned first = i; i < r->n_actions; i++) {
		const struct e2_fabric_port *p = &r->actions[i].port;
		if (check_port_name(p, err) < 0)
			return -1;
		if (i > first)
			fputc(',', f);
		if (r->actions[0].kind == E2_FABRIC_ENCAP) {
			char mac[24];
			e2_server_mac(p->server, mac, sizeof mac);
			fprintf(f, "set_field:%s->eth_dst,", mac);
		}
		/* OpenFlow drops a packet sent back out of its own port unless asked so */
		if ((r->has & E2_FABRIC_M_IN_PORT) && strcmp(r->in_port.switch_port, p->switch_port) == 0)
			fputs("in_port", f);
		else
			fprintf(f, "output:%s", p->switch_port);
	}
	return 0;
}

enum flow_form { FLOW_ADD, FLOW_BARE, FLOW_DELETE };

/* The rule's OpenFlow flows, one per line, appended to f; their number, or -1. */
static long rule_flows(const struct e2_fabric_rule *r, enum flow_form form, FILE *f, struct e2_err *err)
{
	struct alts acc = {0};
	long n = -1;
	if (rule_alts(r, &acc, err) < 0)
		goto out;
	if ((r->has & E2_FABRIC_M_IN_PORT) && check_port_name(&r->in_port, err) < 0)
		goto out;
	for (size_t k = 0; k < acc.n; k++) {
		if (form == FLOW_DELETE)
			fprintf(f, "delete_strict cookie=%#llx/-1", (unsigned long long)E2_FABRIC_COOKIE);
		else
			fprintf(f, "%scookie=%#llx", form == FLOW_ADD ? "add " : "",
				(unsigned long long)E2_FABRIC_COOKIE);
		fprintf(f, ",table=0,priority=%u", r->priority);
		if (r->has & E2_FABRIC_M_IN_PORT)
			fprintf(f, ",in_port=%s", r->in_port.switch_port);
		if (r->has & E2_FABRIC_M_TUNNEL_DST) {
			char mac[24];
			e2_server_mac(r->tunnel_dst.server, mac, sizeof mac);
			fprintf(f, ",dl_dst=%s", mac);
		}
		print_ofm(f, &acc.v[k]);
		if (form != FLOW_DELETE && print_actions(f, r, err) < 0)
			goto out;
		fputc('\n', f);
	}
	n = (long)acc.n;
out:
	free(acc.v);
	return n;
}

/* ---------------------------------------------------------------- the driver */

static int need_target(const struct e2_fabric *f, struct e2_err *err)
{
	if (f->target)
		return 0;
	e2_seterr(err, "the ovs driver needs switch.driver_target (e.g. unix:/run/e2/rack/ovs/e2fab.mgmt)");
	return -1;
}

/* The first lines of ovs-ofctl's complaint, without its name in front. */
static void complaint(const struct run *r, char *buf, size_t len)
{
	const char *e = r->errs_len ? r->errs : r->out;
	size_t o = 0;
	int lines = 0;
	buf[0] = '\0';
	for (const char *p = e; *p && lines < 3 && o + 1 < len; lines++) {
		size_t n = strcspn(p, "\n");
		if (strncmp(p, "ovs-ofctl: ", 11) == 0) {
			p += 11;
			n -= 11;
		}
		o += (size_t)snprintf(buf + o, len - o, "%s%.*s", o ? "; " : "", (int)n, p);
		p += n + (p[n] == '\n');
	}
	if (!buf[0])
		snprintf(buf, len, "exit status %d", r->status);
}

static long ovs_count(struct e2_fabric *f, struct e2_err *err);

/* The switch's own limit of table 0 (max_entries), or -1. */
static long table_limit(const struct e2_fabric *f)
{
	const struct ovs_state *s = f->priv;
	const char *args[] = {"dump-table-features", f->target, NULL};
	struct run r;
	long limit = -1;
	if (ofctl(s, args, NULL, &r, NULL) == 0 && r.status == 0) {
		const char *m = strstr(r.out, "max_entries=");
		if (m)
			limit = strtol(m + 12, NULL, 10);
	}
	run_free(&r);
	return limit;
}

static void failed(struct e2_fabric *f, const char *what, const struct run *r, struct e2_err *err)
{
	char why[600];
	const char *all = r->errs_len ? r->errs : r->out;
	complaint(r, why, sizeof why);
	if (strstr(all, "TABLE_FULL")) {
		long limit = table_limit(f), have = ovs_count(f, NULL);
		e2_seterr(err,
			  "switch flow table full: table 0 of the switch at %s holds at most %ld flows (E2 has %ld "
			  "there; the hardware description says flow_table_entries %u)",
			  f->target, limit, have, f->hw->fabric.flow_table_entries);
	} else if (strstr(all, "Connection refused") || strstr(all, "No such file or directory") ||
		   strstr(all, "Connection timed out")) {
		e2_seterr(err, "cannot reach the switch at %s: %s", f->target, why);
	} else if (strstr(all, "unknown port")) {
		e2_seterr(err,
			  "%s: a port is not on the switch at %s (the hardware description's switch_port and "
			  "external_switch_ports name them): %s",
			  what, f->target, why);
	} else {
		e2_seterr(err, "%s on the switch at %s failed: %s", what, f->target, why);
	}
}

/* Runs ovs-ofctl CMD TARGET - with `flows` on its standard input. */
static int apply(struct e2_fabric *f, const char *what, const char *const *args, const char *flows, struct e2_err *err)
{
	struct run r;
	if (ofctl(f->priv, args, flows, &r, err) < 0)
		return -1;
	int rc = 0;
	if (r.status != 0) {
		failed(f, what, &r, err);
		rc = -1;
	}
	run_free(&r);
	return rc;
}

static int ovs_open(struct e2_fabric *f, struct e2_err *err)
{
	struct ovs_state *s = e2_xcalloc(1, sizeof *s);
	const char *prog = getenv("E2_OVS_OFCTL");
	s->ofctl = prog && *prog ? prog : "ovs-ofctl";
	f->priv = s;
	(void)err;
	return 0;
}

static void ovs_close(struct e2_fabric *f)
{
	free(f->priv);
}

static int ovs_replace(struct e2_fabric *f, const struct e2_fabric_rule *rules, size_t n, struct e2_err *err)
{
	if (need_target(f, err) < 0)
		return -1;
	char *text = NULL;
	size_t len = 0;
	FILE *m = open_memstream(&text, &len);
	if (!m)
		abort();
	unsigned long flows = 0;
	for (size_t i = 0; i < n; i++) {
		long k = rule_flows(&rules[i], FLOW_BARE, m, err);
		if (k < 0) {
			char *t = e2_fabric_rule_text(&rules[i], 0);
			e2_err_context(err, "%s", t);
			free(t);
			fclose(m);
			free(text);
			return -1;
		}
		flows += (unsigned long)k;
	}
	fclose(m);
	unsigned limit = f->hw->fabric.flow_table_entries;
	if (limit && flows > limit) {
		e2_seterr(err, "the rules need %lu OpenFlow flows but the switch has flow_table_entries %u", flows,
			  limit);
		free(text);
		return -1;
	}
	const char *args[] = {"--bundle", "replace-flows", f->target, "-", NULL};
	int rc = apply(f, "replace-flows", args, text, err);
	free(text);
	return rc;
}

static int one(struct e2_fabric *f, const struct e2_fabric_rule *r, enum flow_form form, struct e2_err *err)
{
	if (need_target(f, err) < 0)
		return -1;
	char *text = NULL;
	size_t len = 0;
	FILE *m = open_memstream(&text, &len);
	if (!m)
		abort();
	long k = rule_flows(r, form, m, err);
	fclose(m);
	int rc = -1;
	if (k >= 0) {
		const char *args[] = {"--bundle", "add-flows", f->target, "-", NULL};
		rc = apply(f, form == FLOW_DELETE ? "delete" : "add", args, text, err);
	}
	free(text);
	return rc;
}

static int ovs_add(struct e2_fabric *f, const struct e2_fabric_rule *r, struct e2_err *err)
{
	return one(f, r, FLOW_ADD, err);
}

static int ovs_del(struct e2_fabric *f, const struct e2_fabric_rule *r, struct e2_err *err)
{
	return one(f, r, FLOW_DELETE, err);
}

/* E2's flows, as ovs-ofctl dump-flows prints them (names if asked). */
static int dump(struct e2_fabric *f, int names, struct run *r, struct e2_err *err)
{
	char cookie[64];
	snprintf(cookie, sizeof cookie, "cookie=%#llx/-1", (unsigned long long)E2_FABRIC_COOKIE);
	const char *args[] = {names ? "--names" : "--no-names", "--no-stats", "dump-flows", f->target, cookie, NULL};
	if (need_target(f, err) < 0 || ofctl(f->priv, args, NULL, r, err) < 0)
		return -1;
	if (r->status != 0) {
		failed(f, "dump-flows", r, err);
		run_free(r);
		return -1;
	}
	return 0;
}

static long ovs_count(struct e2_fabric *f, struct e2_err *err)
{
	struct run r;
	if (dump(f, 0, &r, err) < 0)
		return -1;
	long n = 0;
	for (const char *p = r.out; (p = strstr(p, "actions=")); p += 8)
		n++;
	run_free(&r);
	return n;
}

static int ovs_show(struct e2_fabric *f, FILE *out, struct e2_err *err)
{
	struct run r;
	if (dump(f, 1, &r, err) < 0)
		return -1;
	for (const char *p = r.out; *p;) {
		size_t n = strcspn(p, "\n");
		const char *q = p;
		while (*q == ' ')
			q++;
		if (strstr(q, "actions=") && (size_t)(q - p) < n)
			fprintf(out, "%.*s\n", (int)(n - (size_t)(q - p)), q);
		p += n + (p[n] == '\n');
	}
	run_free(&r);
	return 0;
}

static int ovs_explain(struct e2_fabric *f, const struct e2_fabric_rule *r, FILE *out, struct e2_err *err)
{
	return rule_flows(r, r->del ? FLOW_DELETE : FLOW_BARE, out, err) < 0 ? -1 : 0;
}

static const struct e2_fabric_driver ovs_driver = {
	.name = "ovs",
	.help = "Open vSwitch (OpenFlow 1.5 and OVS's NSH actions) through ovs-ofctl; driver_target is its target",
	.can = E2_FABRIC_CAN_OUTPUT | E2_FABRIC_CAN_ENCAP | E2_FABRIC_CAN_DECAP,
	.open = ovs_open,
	.replace = ovs_replace,
	.add = ovs_add,
	.del = ovs_del,
	.count = ovs_count,
	.show = ovs_show,
	.explain = ovs_explain,
	.close = ovs_close,
};
E2_FABRIC_DRIVER_REGISTER(ovs_driver)
