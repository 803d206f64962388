/* SPDX-License-Identifier: BSD-3-Clause */
/* The switch-driver layer (e2/fabric.h): the registry of drivers, the reader and
 * printer of abstract switch rules, the checks every driver relies on (names resolved
 * through the hardware description, actions the driver and the hardware both have,
 * a replace set that fits the table and holds no two rules the switch would merge),
 * and the "none" driver, which records rules instead of installing them. */
#include "e2/fabric.h"

#include <arpa/inet.h>
#include <ctype.h>
#include <errno.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "e2/file.h"
#include "e2/mem.h"
#include "e2/num.h"

/* ---------------------------------------------------------------- registry */

#define DRIVERS_MAX 16
static const struct e2_fabric_driver *drivers[DRIVERS_MAX];
static size_t n_drivers;

void e2_fabric_driver_register(const struct e2_fabric_driver *drv)
{
	if (n_drivers == DRIVERS_MAX || e2_fabric_driver_find(drv->name)) {
		fprintf(stderr, "e2fabric: cannot register switch driver '%s' (duplicate, or more than %d)\n",
			drv->name, DRIVERS_MAX);
		abort();
	}
	drivers[n_drivers++] = drv;
}

const struct e2_fabric_driver *e2_fabric_driver_find(const char *name)
{
	for (size_t i = 0; i < n_drivers; i++)
		if (strcmp(drivers[i]->name, name) == 0)
			return drivers[i];
	return NULL;
}

size_t e2_fabric_driver_count(void)
{
	return n_drivers;
}

const struct e2_fabric_driver *e2_fabric_driver_at(size_t i)
{
	return i < n_drivers ? drivers[i] : NULL;
}

/* ---------------------------------------------------------------- reading rules */

static int find_port(const struct e2_hardware *hw, const char *name, struct e2_fabric_port *p, struct e2_err *err)
{
	for (unsigned s = 0; s < hw->servers_count; s++)
		if (strcmp(hw->servers[s].name, name) == 0) {
			*p = (struct e2_fabric_port){hw->servers[s].name, e2_server_switch_port(&hw->servers[s]),
						     (int)s};
			return 0;
		}
	for (unsigned i = 0; i < hw->fabric.external_ports_count; i++)
		if (strcmp(hw->fabric.external_ports[i], name) == 0) {
			*p = (struct e2_fabric_port){hw->fabric.external_ports[i],
						     e2_external_switch_port(&hw->fabric, i), -1};
			return 0;
		}
	if (!err)
		return -1;
	/* the names it could have been, a few of each */
	size_t off = (size_t)snprintf(err->msg, sizeof err->msg, "unknown port '%s' (servers: ", name);
	for (unsigned s = 0; s < hw->servers_count && s < 8 && off < sizeof err->msg; s++)
		off += (size_t)snprintf(err->msg + off, sizeof err->msg - off, "%s%s", s ? ", " : "",
					hw->servers[s].name);
	if (hw->servers_count > 8 && off < sizeof err->msg)
		off += (size_t)snprintf(err->msg + off, sizeof err->msg - off, ", ... (%u in all)", hw->servers_count);
	if (off < sizeof err->msg)
		off += (size_t)snprintf(err->msg + off, sizeof err->msg - off, "; external ports: ");
	for (unsigned i = 0; i < hw->fabric.external_ports_count && i < 8 && off < sizeof err->msg; i++)
		off += (size_t)snprintf(err->msg + off, sizeof err->msg - off, "%s%s", i ? ", " : "",
					hw->fabric.external_ports[i]);
	if (hw->fabric.external_ports_count > 8 && off < sizeof err->msg)
		off += (size_t)snprintf(err->msg + off, sizeof err->msg - off, ", ... (%u in all)",
					hw->fabric.external_ports_count);
	if (off < sizeof err->msg)
		snprintf(err->msg + off, sizeof err->msg - off, ")");
	return -1;
}

/* The next word of a line: KEY=VALUE with VALUE possibly double-quoted (\" and \\
 * escapes), or a bare word. *key is NULL for a bare word. Returns 0 at the end of the
 * line, 1 for a word, -1 with err. Words are written into `buf` (as long as the line). */
static int next_word(const char **pos, char *buf, char **key, char **value, struct e2_err *err)
{
	const char *p = *pos;
	while (*p == ' ' || *p == '\t' || *p == '\r' || *p == '\n')
		p++;
	if (!*p)
		return 0;
	char *o = buf;
	*key = NULL;
	*value = o;
	while (*p && *p != ' ' && *p != '\t' && *p != '\r' && *p != '\n') {
		if (*p == '=' && !*key) {
			*o++ = '\0';
			*key = buf;
			*value = o;
			p++;
			if (*p == '"') {
				for (p++; *p != '"'; p++) {
					if (!*p) {
						e2_seterr(err, "%s=: the quoted value has no closing '\"'", *key);
						return -1;
					}
					if (*p == '\\' && (p[1] == '"' || p[1] == '\\'))
						p++;
					*o++ = *p;
				}
				p++;
				if (*p && *p != ' ' && *p != '\t' && *p != '\r' && *p != '\n') {
					e2_seterr(err, "%s=: text right after the closing '\"'", *key);
					return -1;
				}
				break;
			}
			continue;
		}
		*o++ = *p++;
	}
	*o = '\0';
	*pos = p;
	return 1;
}

static int parse_ipv4(const char *key, const char *v, uint32_t *out, struct e2_err *err)
{
	struct in_addr a;
	if (inet_pton(AF_INET, v, &a) != 1) {
		e2_seterr(err, "%s=%s is not an IPv4 address A.B.C.D", key, v);
		return -1;
	}
	*out = ntohl(a.s_addr);
	return 0;
}

static int parse_hash(const char *v, char *out, size_t len, struct e2_err *err)
{
	static const char *const fields[] = {"src_ip", "dst_ip", "proto", "src_port", "dst_port", "none"};
	if (strlen(v) >= len) {
		e2_seterr(err, "hash=%s is too long", v);
		return -1;
	}
	for (const char *f = v; *f;) {
		size_t n = strcspn(f, ",");
		size_t k = 0;
		while (k < sizeof fields / sizeof fields[0] && !(strlen(fields[k]) == n && !strncmp(f, fields[k], n)))
			k++;
		if (k == sizeof fields / sizeof fields[0]) {
			e2_seterr(err, "hash=%s: '%.*s' is not one of src_ip, dst_ip, proto, src_port, dst_port, none",
				  v, (int)n, f);
			return -1;
		}
		f += n + (f[n] == ',');
	}
	snprintf(out, len, "%s", v);
	return 0;
}

static int parse_range(const char *v, uint32_t *lo, uint32_t *hi, struct e2_err *err)
{
	const char *dash = strchr(v, '-');
	char a[16];
	uint32_t l, h;
	if (!dash || (size_t)(dash - v) >= sizeof a) {
		e2_seterr(err, "range=%s is not LO-HI", v);
		return -1;
	}
	snprintf(a, sizeof a, "%.*s", (int)(dash - v), v);
	if (e2_num_u32("range", a, 0, E2_FLOW_SPACE - 1, &l, err) < 0 ||
	    e2_num_u32("range", dash + 1, 1, E2_FLOW_SPACE, &h, err) < 0)
		return -1;
	if (l >= h) {
		e2_seterr(err, "range=%s is empty (LO must be below HI)", v);
		return -1;
	}
	*lo = l;
	*hi = h;
	return 0;
}

static int parse_actions(const struct e2_hardware *hw, char *v, struct e2_fabric_rule *r, struct e2_err *err)
{
	char *save = NULL;
	for (char *a = strtok_r(v, ",", &save); a; a = strtok_r(NULL, ",", &save)) {
		if (r->n_actions == E2_FABRIC_ACTIONS_MAX) {
			e2_seterr(err, "action: more than %d actions", E2_FABRIC_ACTIONS_MAX);
			return -1;
		}
		struct e2_fabric_action *x = &r->actions[r->n_actions];
		if (strncmp(a, "output:", 7) == 0) {
			x->kind = E2_FABRIC_OUTPUT;
			if (find_port(hw, a + 7, &x->port, err) < 0) {
				e2_err_context(err, "action output");
				return -1;
			}
		} else if (strncmp(a, "encap:spi=", 10) == 0) {
			x->kind = E2_FABRIC_ENCAP;
			if (e2_num_u32("encap:spi", a + 10, 0, 0xffffff, &x->spi, err) < 0)
				return -1;
		} else if (strcmp(a, "decap") == 0) {
			x->kind = E2_FABRIC_DECAP;
		} else {
			e2_seterr(err, "action '%s' is not output:PORT, encap:spi=S or decap", a);
			return -1;
		}
		r->n_actions++;
	}
	/* the shapes the planner writes, and that a switch can do in one pass */
	unsigned outputs = 0;
	for (unsigned i = 0; i < r->n_actions; i++) {
		const struct e2_fabric_action *x = &r->actions[i];
		if (x->kind == E2_FABRIC_OUTPUT) {
			outputs++;
			if (i && r->actions[0].kind == E2_FABRIC_ENCAP && x->port.server < 0) {
				e2_seterr(err,
					  "action: encap then output:%s: a tunnel ends at a server, not an "
					  "external port",
					  x->port.name);
				return -1;
			}
		} else if (i) {
			e2_seterr(err, "action: %s must come first, before the outputs",
				  x->kind == E2_FABRIC_ENCAP ? "encap" : "decap");
			return -1;
		}
	}
	if (!outputs) {
		e2_seterr(err, "action: no output (a rule sends its packets somewhere: output:PORT)");
		return -1;
	}
	if (r->actions[0].kind == E2_FABRIC_DECAP && !(r->has & E2_FABRIC_M_SPI)) {
		e2_seterr(err, "action decap needs the rule to match a tunnel (spi=S)");
		return -1;
	}
	return 0;
}

int e2_fabric_rule_parse(const struct e2_hardware *hw, const char *line, struct e2_fabric_rule *r, struct e2_err *err)
{
	memset(r, 0, sizeof *r);
	size_t len = strlen(line);
	const char *p = line;
	while (*p == ' ' || *p == '\t')
		p++;
	if (!*p || *p == '#' || *p == '\n' || *p == '\r')
		return 1;
	if (len > E2_FABRIC_LINE_MAX) {
		e2_seterr(err, "a rule has at most %d characters, this one %zu", E2_FABRIC_LINE_MAX, len);
		return -1;
	}
	if (strncmp(p, "switch:", 7) == 0)
		p += 7;
	char *buf = e2_xmalloc(len + 1), *key, *value, *action = NULL;
	unsigned seen = 0;
	int rc = -1, w;
	if (next_word(&p, buf, &key, &value, err) != 1 || key || strcmp(value, "rule") != 0) {
		e2_seterr(err, "not a switch rule: '%s' (rule add|del KEY=VALUE...)", line);
		goto out;
	}
	if (next_word(&p, buf, &key, &value, err) != 1 || key || (strcmp(value, "add") && strcmp(value, "del"))) {
		e2_seterr(err, "a rule is 'rule add ...' or 'rule del ...'");
		goto out;
	}
	r->del = value[0] == 'd';
	while ((w = next_word(&p, buf, &key, &value, err)) == 1) {
		static const char *const keys[] = {"priority", "in_port",    "filter", "hash",   "range",
						   "spi",      "tunnel_dst", "src_ip", "dst_ip", "proto",
						   "src_port", "dst_port",   "action"};
		unsigned k = 0;
		if (!key) {
			e2_seterr(err, "'%s' is not KEY=VALUE", value);
			goto out;
		}
		while (k < sizeof keys / sizeof keys[0] && strcmp(keys[k], key))
			k++;
		if (k == sizeof keys / sizeof keys[0]) {
			e2_seterr(err,
				  "unknown key '%s' (priority, in_port, filter, hash, range, spi, tunnel_dst, src_ip, "
				  "dst_ip, proto, src_port, dst_port, action)",
				  key);
			goto out;
		}
		if (seen & (1u << k)) {
			e2_seterr(err, "%s= is given twice", key);
			goto out;
		}
		seen |= 1u << k;
		int bad = 0;
		uint32_t u;
		switch (k) {
		case 0: bad = e2_num_u32("priority", value, 0, 65535, &r->priority, err); break;
		case 1:
			r->has |= E2_FABRIC_M_IN_PORT;
			if ((bad = find_port(hw, value, &r->in_port, err)) < 0)
				e2_err_context(err, "in_port");
			break;
		case 2:
			r->has |= E2_FABRIC_M_FILTER;
			if (strlen(value) > E2_FILTER_MAX) {
				e2_seterr(err, "filter: at most %d characters", E2_FILTER_MAX);
				bad = -1;
			} else if (*value && (bad = e2_filter_check(value, err)) < 0) {
				e2_err_context(err, "filter '%s'", value);
			}
			r->filter = e2_xstrdup(value);
			break;
		case 3:
			r->has |= E2_FABRIC_M_HASH;
			bad = parse_hash(value, r->hash, sizeof r->hash, err);
			break;
		case 4:
			r->has |= E2_FABRIC_M_HASH;
			bad = parse_range(value, &r->range_lo, &r->range_hi, err);
			break;
		case 5:
			r->has |= E2_FABRIC_M_SPI;
			bad = e2_num_u32("spi", value, 0, 0xffffff, &r->spi, err);
			break;
		case 6:
			r->has |= E2_FABRIC_M_TUNNEL_DST;
			if ((bad = find_port(hw, value, &r->tunnel_dst, err)) < 0) {
				e2_err_context(err, "tunnel_dst");
			} else if (r->tunnel_dst.server < 0) {
				e2_seterr(err, "tunnel_dst=%s: tunnels end at servers, '%s' is an external port", value,
					  value);
				bad = -1;
			}
			break;
		case 7:
			r->has |= E2_FABRIC_M_SRC_IP;
			bad = parse_ipv4(key, value, &r->src_ip, err);
			break;
		case 8:
			r->has |= E2_FABRIC_M_DST_IP;
			bad = parse_ipv4(key, value, &r->dst_ip, err);
			break;
		case 9:
			r->has |= E2_FABRIC_M_PROTO;
			bad = e2_num_u32("proto", value, 0, 255, &u, err);
			r->proto = u;
			break;
		case 10:
			r->has |= E2_FABRIC_M_SRC_PORT;
			bad = e2_num_u32("src_port", value, 0, 65535, &u, err);
			r->src_port = u;
			break;
		case 11:
			r->has |= E2_FABRIC_M_DST_PORT;
			bad = e2_num_u32("dst_port", value, 0, 65535, &u, err);
			r->dst_port = u;
			break;
		case 12:
			/* read once the match is known: decap depends on it (spi=) */
			action = e2_xstrdup(value);
			break;
		}
		if (bad)
			goto out;
	}
	if (w < 0)
		goto out;
	if (!(seen & 1)) {
		e2_seterr(err, "a rule needs priority=P (0..65535)");
		goto out;
	}
	if ((seen >> 3 & 3) == 1 || (seen >> 3 & 3) == 2) {
		e2_seterr(err, "hash= and range= go together");
		goto out;
	}
	if (action) {
		if (parse_actions(hw, action, r, err) < 0)
			goto out;
	} else if (!r->del) {
		e2_seterr(err, "rule add needs action=A[,A...]");
		goto out;
	}
	rc = 0;
out:
	free(action);
	free(buf);
	if (rc < 0)
		e2_fabric_rule_free(r);
	return rc;
}

void e2_fabric_rule_free(struct e2_fabric_rule *r)
{
	free(r->filter);
	r->filter = NULL;
}

char *e2_fabric_rule_text(const struct e2_fabric_rule *r, int match_only)
{
	char *s = NULL;
	size_t len = 0;
	FILE *f = open_memstream(&s, &len);
	if (!f)
		abort();
	if (!match_only)
		fprintf(f, "rule %s ", r->del ? "del" : "add");
	fprintf(f, "priority=%u", r->priority);
	if (r->has & E2_FABRIC_M_IN_PORT)
		fprintf(f, " in_port=%s", r->in_port.name);
	if (r->has & E2_FABRIC_M_FILTER) {
		size_t n = 2 * strlen(r->filter) + 3;
		char *q = e2_xmalloc(n);
		e2_quote(q, n, r->filter);
		fprintf(f, " filter=%s", *r->filter ? q : "\"\"");
		free(q);
	}
	if (r->has & E2_FABRIC_M_HASH)
		fprintf(f, " hash=%s range=%u-%u", r->hash, r->range_lo, r->range_hi);
	if (r->has & E2_FABRIC_M_SPI)
		fprintf(f, " spi=%u", r->spi);
	if (r->has & E2_FABRIC_M_TUNNEL_DST)
		fprintf(f, " tunnel_dst=%s", r->tunnel_dst.name);
	if (r->has & E2_FABRIC_M_SRC_IP)
		fprintf(f, " src_ip=%u.%u.%u.%u", r->src_ip >> 24, r->src_ip >> 16 & 255, r->src_ip >> 8 & 255,
			r->src_ip & 255);
	if (r->has & E2_FABRIC_M_DST_IP)
		fprintf(f, " dst_ip=%u.%u.%u.%u", r->dst_ip >> 24, r->dst_ip >> 16 & 255, r->dst_ip >> 8 & 255,
			r->dst_ip & 255);
	if (r->has & E2_FABRIC_M_PROTO)
		fprintf(f, " proto=%u", r->proto);
	if (r->has & E2_FABRIC_M_SRC_PORT)
		fprintf(f, " src_port=%u", r->src_port);
	if (r->has & E2_FABRIC_M_DST_PORT)
		fprintf(f, " dst_port=%u", r->dst_port);
	if (!match_only && r->n_actions) {
		fprintf(f, " action=");
		for (unsigned i = 0; i < r->n_actions; i++) {
			const struct e2_fabric_action *a = &r->actions[i];
			if (i)
				fputc(',', f);
			if (a->kind == E2_FABRIC_OUTPUT)
				fprintf(f, "output:%s", a->port.name);
			else if (a->kind == E2_FABRIC_ENCAP)
				fprintf(f, "encap:spi=%u", a->spi);
			else
				fprintf(f, "decap");
		}
	}
	if (fclose(f) != 0)
		abort();
	return s;
}

/* ---------------------------------------------------------------- checks */

static const struct {
	unsigned bit;
	const char *name; /* as switch.actions lists it */
} action_words[] = {
	{E2_FABRIC_CAN_OUTPUT, "output"},
	{E2_FABRIC_CAN_ENCAP, "encap"},
	{E2_FABRIC_CAN_DECAP, "decap"},
	{E2_FABRIC_CAN_HASH_RANGE, "hash_range"},
};

/* The driver and the hardware description must both have every action the rule uses. */
static int rule_allowed(const struct e2_fabric *f, const struct e2_fabric_rule *r, struct e2_err *err)
{
	unsigned need = r->has & E2_FABRIC_M_HASH ? E2_FABRIC_CAN_HASH_RANGE : 0;
	for (unsigned i = 0; i < r->n_actions; i++)
		need |= r->actions[i].kind == E2_FABRIC_OUTPUT  ? E2_FABRIC_CAN_OUTPUT
			: r->actions[i].kind == E2_FABRIC_ENCAP ? E2_FABRIC_CAN_ENCAP
								: E2_FABRIC_CAN_DECAP;
	const struct e2_switch *sw = &f->hw->fabric;
	for (size_t w = 0; w < sizeof action_words / sizeof action_words[0]; w++) {
		if (!(need & action_words[w].bit))
			continue;
		if (!(f->drv->can & action_words[w].bit)) {
			e2_seterr(err, "the %s driver has no %s", f->drv->name, action_words[w].name);
			return -1;
		}
		unsigned k = 0;
		while (k < sw->actions_count && strcmp(sw->actions[k], action_words[w].name))
			k++;
		if (sw->actions_count && k == sw->actions_count) {
			e2_seterr(err, "the hardware description's switch.actions does not list %s",
				  action_words[w].name);
			return -1;
		}
	}
	return 0;
}

struct keyed {
	char *key;
	size_t line;
};

static int keyed_cmp(const void *a, const void *b)
{
	const struct keyed *x = a, *y = b;
	int c = strcmp(x->key, y->key);
	return c ? c : (x->line > y->line) - (x->line < y->line);
}

/* ---------------------------------------------------------------- the API */

struct e2_fabric *e2_fabric_open(const struct e2_hardware *hw, struct e2_err *err)
{
	const char *name = hw->fabric.driver ? hw->fabric.driver : E2_FABRIC_DEFAULT_DRIVER;
	const struct e2_fabric_driver *drv = e2_fabric_driver_find(name);
	if (!drv) {
		e2_seterr(err, "switch driver '%s' is unknown (known:", name);
		size_t off = strlen(err ? err->msg : "");
		for (size_t i = 0; err && i < n_drivers && off < sizeof err->msg; i++)
			off += (size_t)snprintf(err->msg + off, sizeof err->msg - off, " %s", drivers[i]->name);
		if (err && off < sizeof err->msg)
			snprintf(err->msg + off, sizeof err->msg - off, ")");
		return NULL;
	}
	struct e2_fabric *f = e2_xcalloc(1, sizeof *f);
	f->drv = drv;
	f->hw = hw;
	f->target = hw->fabric.driver_target;
	if (drv->open && drv->open(f, err) < 0) {
		free(f);
		return NULL;
	}
	return f;
}

int e2_fabric_replace(struct e2_fabric *f, const char *const *rules, size_t n, struct e2_err *err)
{
	if (n > E2_FABRIC_RULES_MAX) {
		e2_seterr(err, "a rule set has at most %d lines, this one %zu", E2_FABRIC_RULES_MAX, n);
		return -1;
	}
	struct e2_fabric_rule *v = e2_xcalloc(n + 1, sizeof *v);
	struct keyed *keys = e2_xcalloc(n + 1, sizeof *keys);
	size_t m = 0;
	int rc = -1;
	for (size_t i = 0; i < n; i++) {
		int p = e2_fabric_rule_parse(f->hw, rules[i], &v[m], err);
		if (p == 1)
			continue;
		if (p < 0) {
			e2_err_context(err, "rule %zu", i + 1);
			goto out;
		}
		keys[m].line = i + 1;
		keys[m].key = e2_fabric_rule_text(&v[m], 1);
		m++;
		if (v[m - 1].del) {
			e2_seterr(err, "rule %zu: a rule set holds 'rule add' lines only", i + 1);
			goto out;
		}
		if (rule_allowed(f, &v[m - 1], err) < 0) {
			e2_err_context(err, "rule %zu", i + 1);
			goto out;
		}
	}
	/* the switch keeps one entry per priority and match: a second would silently win */
	qsort(keys, m, sizeof *keys, keyed_cmp);
	for (size_t i = 1; i < m; i++)
		if (strcmp(keys[i - 1].key, keys[i].key) == 0) {
			e2_seterr(err,
				  "rules %zu and %zu have the same priority and match (%s): the switch would keep one",
				  keys[i - 1].line, keys[i].line, keys[i].key);
			goto out;
		}
	rc = f->drv->replace(f, v, m, err);
out:
	for (size_t i = 0; i < m; i++) {
		e2_fabric_rule_free(&v[i]);
		free(keys[i].key);
	}
	free(v);
	free(keys);
	return rc;
}

/* Parses and checks one rule for add, del or explain. */
static int one_rule(struct e2_fabric *f, const char *line, int want_add, struct e2_fabric_rule *r, struct e2_err *err)
{
	int p = e2_fabric_rule_parse(f->hw, line, r, err);
	if (p == 1)
		e2_seterr(err, "no rule: the line is empty or a comment");
	if (p)
		return -1;
	if (want_add && r->del) {
		e2_seterr(err, "'%s' deletes a rule; this wants 'rule add ...'", line);
	} else if (rule_allowed(f, r, err) == 0) {
		return 0;
	}
	e2_fabric_rule_free(r);
	return -1;
}

int e2_fabric_add(struct e2_fabric *f, const char *rule, struct e2_err *err)
{
	struct e2_fabric_rule r;
	if (one_rule(f, rule, 1, &r, err) < 0)
		return -1;
	int rc = f->drv->add(f, &r, err);
	e2_fabric_rule_free(&r);
	return rc;
}

int e2_fabric_del(struct e2_fabric *f, const char *rule, struct e2_err *err)
{
	struct e2_fabric_rule r;
	if (one_rule(f, rule, 0, &r, err) < 0)
		return -1;
	int rc = f->drv->del(f, &r, err);
	e2_fabric_rule_free(&r);
	return rc;
}

int e2_fabric_explain(struct e2_fabric *f, const char *rule, FILE *out, struct e2_err *err)
{
	struct e2_fabric_rule r;
	if (one_rule(f, rule, 0, &r, err) < 0)
		return -1;
	int rc = f->drv->explain(f, &r, out, err);
	e2_fabric_rule_free(&r);
	return rc;
}

long e2_fabric_count(struct e2_fabric *f, struct e2_err *err)
{
	return f->drv->count(f, err);
}

int e2_fabric_show(struct e2_fabric *f, FILE *out, struct e2_err *err)
{
	return f->drv->show(f, out, err);
}

const char *e2_fabric_driver_name(const struct e2_fabric *f)
{
	return f->drv->name;
}

void e2_fabric_close(struct e2_fabric *f)
{
	if (!f)
		return;
	if (f->drv->close)
		f->drv->close(f);
	free(f);
}

/* ---------------------------------------------------------------- the "none" driver */

/* Rules as a switch would hold them, one per priority and match, in the order they
 * came; kept in memory, and in the file driver_target names when there is one (so
 * that one e2ctl call sees what the previous one recorded). */
struct none_state {
	char **keys, **lines;
	unsigned *entries;
	size_t n, cap;
};

/* What a TCAM spends on a rule: a flow-ID range costs its prefix expansion. */
static unsigned none_entries(const struct e2_fabric_rule *r)
{
	return r->has & E2_FABRIC_M_HASH ? e2_range_prefixes(r->range_lo, r->range_hi) : 1;
}

static unsigned long none_total(const struct none_state *s)
{
	unsigned long t = 0;
	for (size_t i = 0; i < s->n; i++)
		t += s->entries[i];
	return t;
}

static void none_clear(struct none_state *s)
{
	for (size_t i = 0; i < s->n; i++) {
		free(s->keys[i]);
		free(s->lines[i]);
	}
	free(s->keys);
	free(s->lines);
	free(s->entries);
	*s = (struct none_state){0};
}

static void none_put(struct none_state *s, const struct e2_fabric_rule *r)
{
	char *key = e2_fabric_rule_text(r, 1);
	size_t i = 0;
	while (i < s->n && strcmp(s->keys[i], key))
		i++;
	if (i == s->n) {
		if (s->n == s->cap) {
			s->cap = s->cap ? 2 * s->cap : 16;
			s->keys = e2_xrealloc(s->keys, s->cap * sizeof *s->keys);
			s->lines = e2_xrealloc(s->lines, s->cap * sizeof *s->lines);
			s->entries = e2_xrealloc(s->entries, s->cap * sizeof *s->entries);
		}
		s->n++;
	} else {
		free(s->keys[i]);
		free(s->lines[i]);
	}
	s->keys[i] = key;
	s->lines[i] = e2_fabric_rule_text(r, 0);
	s->entries[i] = none_entries(r);
}

static int none_check_limit(const struct e2_fabric *f, unsigned long total, struct e2_err *err)
{
	unsigned limit = f->hw->fabric.flow_table_entries;
	if (limit && total > limit) {
		e2_seterr(err, "switch flow table full: the rules need %lu entries, flow_table_entries is %u", total,
			  limit);
		return -1;
	}
	return 0;
}

static int none_save(struct e2_fabric *f, struct e2_err *err)
{
	const struct none_state *s = f->priv;
	struct e2_out o;
	if (!f->target)
		return 0;
	if (e2_out_open(&o, f->target, NULL, 0, err) < 0)
		return -1;
	for (size_t i = 0; i < s->n; i++)
		fprintf(o.f, "%s\n", s->lines[i]);
	return e2_out_commit(&o, err);
}

static int none_open(struct e2_fabric *f, struct e2_err *err)
{
	struct none_state *s = e2_xcalloc(1, sizeof *s);
	f->priv = s;
	if (!f->target)
		return 0;
	if (access(f->target, F_OK) != 0 && errno == ENOENT)
		return 0; /* nothing recorded yet */
	size_t len;
	char *text = e2_read_file(f->target, 0, &len, err);
	if (!text) {
		e2_err_context(err, "none driver");
		goto fail;
	}
	size_t line = 0;
	for (char *p = text, *nl; *p; p = nl ? nl + 1 : p + strlen(p)) {
		nl = strchr(p, '\n');
		if (nl)
			*nl = '\0';
		line++;
		struct e2_fabric_rule r;
		int rc = e2_fabric_rule_parse(f->hw, p, &r, err);
		if (rc < 0) {
			e2_err_context(err, "none driver: %s:%zu", f->target, line);
			free(text);
			goto fail;
		}
		if (rc == 0) {
			none_put(s, &r);
			e2_fabric_rule_free(&r);
		}
		if (!nl)
			break;
	}
	free(text);
	return 0;
fail:
	none_clear(s);
	free(s);
	f->priv = NULL;
	return -1;
}

static int none_replace(struct e2_fabric *f, const struct e2_fabric_rule *rules, size_t n, struct e2_err *err)
{
	struct none_state *s = f->priv, next = {0};
	for (size_t i = 0; i < n; i++)
		none_put(&next, &rules[i]);
	if (none_check_limit(f, none_total(&next), err) < 0) {
		none_clear(&next);
		return -1;
	}
	struct none_state old = *s;
	*s = next;
	if (none_save(f, err) < 0) {
		none_clear(s);
		*s = old;
		return -1;
	}
	none_clear(&old);
	return 0;
}

static int none_add(struct e2_fabric *f, const struct e2_fabric_rule *r, struct e2_err *err)
{
	struct none_state *s = f->priv;
	char *key = e2_fabric_rule_text(r, 1);
	unsigned long total = none_total(s) + none_entries(r);
	for (size_t i = 0; i < s->n; i++)
		if (strcmp(s->keys[i], key) == 0)
			total -= s->entries[i];
	free(key);
	if (none_check_limit(f, total, err) < 0)
		return -1;
	none_put(s, r);
	return none_save(f, err);
}

static int none_del(struct e2_fabric *f, const struct e2_fabric_rule *r, struct e2_err *err)
{
	struct none_state *s = f->priv;
	char *key = e2_fabric_rule_text(r, 1);
	for (size_t i = 0; i < s->n; i++)
		if (strcmp(s->keys[i], key) == 0) {
			free(s->keys[i]);
			free(s->lines[i]);
			memmove(s->keys + i, s->keys + i + 1, (s->n - i - 1) * sizeof *s->keys);
			memmove(s->lines + i, s->lines + i + 1, (s->n - i - 1) * sizeof *s->lines);
			memmove(s->entries + i, s->entries + i + 1, (s->n - i - 1) * sizeof *s->entries);
			s->n--;
			break;
		}
	free(key);
	return none_save(f, err);
}

static long none_count(struct e2_fabric *f, struct e2_err *err)
{
	(void)err;
	return (long)none_total(f->priv);
}

static int none_show(struct e2_fabric *f, FILE *out, struct e2_err *err)
{
	const struct none_state *s = f->priv;
	(void)err;
	for (size_t i = 0; i < s->n; i++)
		fprintf(out, "%s\n", s->lines[i]);
	return 0;
}

static int none_explain(struct e2_fabric *f, const struct e2_fabric_rule *r, FILE *out, struct e2_err *err)
{
	(void)f;
	(void)err;
	char *t = e2_fabric_rule_text(r, 0);
	fprintf(out, "%s\n", t);
	free(t);
	return 0;
}

static void none_close(struct e2_fabric *f)
{
	struct none_state *s = f->priv;
	if (!s)
		return;
	none_clear(s);
	free(s);
}

static const struct e2_fabric_driver none_driver = {
	.name = "none",
	.help = "records the rules (in memory, or in the file driver_target names) and installs nothing",
	.can = E2_FABRIC_CAN_OUTPUT | E2_FABRIC_CAN_ENCAP | E2_FABRIC_CAN_DECAP | E2_FABRIC_CAN_HASH_RANGE,
	.open = none_open,
	.replace = none_replace,
	.add = none_add,
	.del = none_del,
	.count = none_count,
	.show = none_show,
	.explain = none_explain,
	.close = none_close,
};
E2_FABRIC_DRIVER_REGISTER(none_driver)
