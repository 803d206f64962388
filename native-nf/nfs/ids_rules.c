/* SPDX-License-Identifier: BSD-3-Clause */
/* The parser of e2nf-ids's rules (ids_rules.h). A line at a time: the header in
 * whitespace-separated words, then the options between parentheses, each `name[:value]`
 * up to a `;` outside quotes. */
#include <ctype.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "ids_rules.h"

#define LINE_MAX_LEN 8192

struct cursor {
	const char *p;
	const char *origin;
	unsigned line;
	struct e2_err *err;
};

static int fail(struct cursor *c, const char *fmt, ...) __attribute__((format(printf, 2, 3)));

static int fail(struct cursor *c, const char *fmt, ...)
{
	char msg[512];
	va_list ap;
	va_start(ap, fmt);
	vsnprintf(msg, sizeof(msg), fmt, ap);
	va_end(ap);
	e2_seterr(c->err, "%s:%u: %s", c->origin, c->line, msg);
	return -1;
}

static void skip_space(struct cursor *c)
{
	while (*c->p == ' ' || *c->p == '\t')
		c->p++;
}

/* the next whitespace-separated word of the header, into w */
static int word(struct cursor *c, char *w, size_t len, const char *what)
{
	skip_space(c);
	size_t n = 0;
	while (*c->p && *c->p != ' ' && *c->p != '\t' && *c->p != '(') {
		if (n + 1 >= len)
			return fail(c, "%s is too long", what);
		w[n++] = *c->p++;
	}
	w[n] = '\0';
	if (n == 0)
		return fail(c, "missing %s", what);
	return 0;
}

static int parse_u32(const char *s, uint64_t max, uint32_t *v)
{
	if (!isdigit((unsigned char)*s))
		return -1;
	char *end;
	unsigned long long x = strtoull(s, &end, 10);
	if (*end || x > max)
		return -1;
	*v = (uint32_t)x;
	return 0;
}

static int parse_addr(struct cursor *c, const char *w, uint32_t *addr, uint32_t *mask)
{
	if (strcmp(w, "any") == 0) {
		*addr = *mask = 0;
		return 0;
	}
	char buf[32];
	snprintf(buf, sizeof(buf), "%s", w);
	uint32_t len = 32;
	char *slash = strchr(buf, '/');
	if (slash) {
		*slash = '\0';
		if (parse_u32(slash + 1, 32, &len))
			return fail(c, "bad prefix length in '%s'", w);
	}
	uint32_t b[4], a = 0;
	char *p = buf;
	for (int i = 0; i < 4; i++) {
		char *dot = i < 3 ? strchr(p, '.') : NULL;
		if (i < 3 && !dot)
			return fail(
				c,
				"'%s' is not an IPv4 address (any, A.B.C.D or A.B.C.D/LEN; no variables, lists or !)",
				w);
		if (dot)
			*dot = '\0';
		if (parse_u32(p, 255, &b[i]))
			return fail(
				c,
				"'%s' is not an IPv4 address (any, A.B.C.D or A.B.C.D/LEN; no variables, lists or !)",
				w);
		a = a << 8 | b[i];
		p = dot ? dot + 1 : p;
	}
	*mask = len ? ~0u << (32 - len) : 0;
	*addr = a & *mask;
	return 0;
}

static int parse_port(struct cursor *c, const char *w, uint16_t *lo, uint16_t *hi)
{
	uint32_t a = 0, b = 65535;
	if (strcmp(w, "any") == 0) {
		*lo = 0, *hi = 65535;
		return 0;
	}
	char buf[16];
	snprintf(buf, sizeof(buf), "%s", w);
	char *colon = strchr(buf, ':');
	if (colon) {
		*colon = '\0';
		if ((buf[0] && parse_u32(buf, 65535, &a)) || (colon[1] && parse_u32(colon + 1, 65535, &b)) ||
		    (!buf[0] && !colon[1]))
			return fail(c, "'%s' is not a port (any, N, N:M, :M or N:)", w);
	} else {
		if (parse_u32(buf, 65535, &a))
			return fail(c, "'%s' is not a port (any, N, N:M, :M or N:)", w);
		b = a;
	}
	if (a > b)
		return fail(c, "port range '%s' is empty", w);
	*lo = (uint16_t)a, *hi = (uint16_t)b;
	return 0;
}

static int hexval(int ch)
{
	if (ch >= '0' && ch <= '9')
		return ch - '0';
	ch = tolower(ch);
	return ch >= 'a' && ch <= 'f' ? ch - 'a' + 10 : -1;
}

/* A quoted value: "..." with \" \; \\ and, for content, |hex| runs. */
static int parse_quoted(struct cursor *c, const char *v, bool hex, uint8_t *out, size_t cap, uint32_t *len,
			const char *what)
{
	size_t n = 0;
	if (*v != '"')
		return fail(c, "%s must be in double quotes", what);
	v++;
	bool in_hex = false;
	int nibble = -1;
	for (;; v++) {
		if (!*v)
			return fail(c, "%s: missing closing quote", what);
		if (in_hex) {
			if (*v == '|') {
				if (nibble >= 0)
					return fail(c, "%s: odd number of hex digits between | |", what);
				in_hex = false;
			} else if (*v == ' ') {
				if (nibble >= 0)
					return fail(c, "%s: a hex byte is two digits", what);
			} else if (hexval(*v) >= 0) {
				if (nibble < 0) {
					nibble = hexval(*v);
				} else {
					if (n >= cap)
						return fail(c, "%s is too long", what);
					out[n++] = (uint8_t)(nibble << 4 | hexval(*v));
					nibble = -1;
				}
			} else {
				return fail(c, "%s: only hex digits and spaces between | |", what);
			}
			continue;
		}
		if (*v == '"')
			break;
		if (hex && *v == '|') {
			in_hex = true;
			continue;
		}
		if (*v == '\\') {
			v++;
			if (*v != '"' && *v != ';' && *v != '\\' && !(hex && *v == '|'))
				return fail(c, "%s: unknown escape (only \\\" \\; \\\\ and \\|)", what);
		} else if (*v == ';' || (*v == '"')) {
			return fail(c, "%s: unescaped ; or \" inside quotes", what);
		}
		if (n >= cap)
			return fail(c, "%s is too long", what);
		out[n++] = (uint8_t)*v;
	}
	if (v[1])
		return fail(c, "%s: text after the closing quote", what);
	*len = (uint32_t)n;
	return 0;
}

/* the options "name[:value]; ..." up to the closing parenthesis, the end of the line */
static int parse_options(struct cursor *c, struct ids_rule *r)
{
	bool have_sid = false, have_content = false, have_msg = false, have_offset = false, have_depth = false;
	bool have_flow = false, have_nocase = false;
	char opt[LINE_MAX_LEN];
	for (;;) {
		skip_space(c);
		if (*c->p == ')') {
			c->p++;
			skip_space(c);
			if (*c->p)
				return fail(c, "text after the closing parenthesis: '%.40s'", c->p);
			break;
		}
		if (!*c->p)
			return fail(c, "%s", "missing closing parenthesis");
		/* one option: up to a ; outside quotes */
		size_t n = 0;
		bool quoted = false;
		while (*c->p && (quoted || *c->p != ';')) {
			if (*c->p == '\\' && quoted && c->p[1]) {
				opt[n++] = *c->p++;
			} else if (*c->p == '"') {
				quoted = !quoted;
			}
			opt[n++] = *c->p++;
		}
		opt[n] = '\0';
		if (*c->p != ';')
			return fail(c, "option '%.40s' does not end with ;", opt);
		c->p++;
		while (n && (opt[n - 1] == ' ' || opt[n - 1] == '\t'))
			opt[--n] = '\0';
		char *colon = strchr(opt, ':');
		char *val = NULL;
		if (colon) {
			*colon = '\0';
			val = colon + 1;
			while (*val == ' ' || *val == '\t')
				val++;
		}
		const char *name = opt;
		if (strcmp(name, "msg") == 0) {
			uint32_t len;
			if (have_msg)
				return fail(c, "%s", "two msg options");
			if (!val || parse_quoted(c, val, false, (uint8_t *)r->msg, IDS_MSG_MAX - 1, &len, "msg"))
				return val ? -1 : fail(c, "%s", "msg needs a value");
			r->msg[len] = '\0';
			have_msg = true;
		} else if (strcmp(name, "content") == 0) {
			if (have_content)
				return fail(c, "%s", "one content per rule (several contents are not supported)");
			if (!val)
				return fail(c, "%s", "content needs a value");
			if (*val == '!')
				return fail(c, "%s", "negated content (!) is not supported");
			if (parse_quoted(c, val, true, r->content, IDS_CONTENT_MAX, &r->content_len, "content"))
				return -1;
			if (r->content_len == 0)
				return fail(c, "%s", "empty content");
			have_content = true;
		} else if (strcmp(name, "nocase") == 0) {
			if (val || !have_content || have_nocase)
				return fail(c, "%s", "nocase takes no value, follows content and comes once");
			r->nocase = have_nocase = true;
		} else if (strcmp(name, "offset") == 0 || strcmp(name, "depth") == 0) {
			bool depth = name[0] == 'd';
			uint32_t x;
			if (!have_content)
				return fail(c, "%s must follow content", name);
			if ((depth && have_depth) || (!depth && have_offset))
				return fail(c, "two %s options", name);
			if (!val || parse_u32(val, 1u << 30, &x))
				return fail(c, "%s takes a number 0..1073741824", name);
			if (depth) {
				if (x < r->content_len)
					return fail(c, "%s", "depth is shorter than the content");
				r->depth = x, have_depth = true;
			} else {
				r->offset = x, have_offset = true;
			}
		} else if (strcmp(name, "flow") == 0) {
			if (have_flow || !val)
				return fail(c, "%s", "flow needs a value, once");
			r->flow_dir = IDS_FLOW_ANY;
			for (char *tok = strtok(val, ","); tok; tok = strtok(NULL, ",")) {
				while (*tok == ' ')
					tok++;
				size_t tl = strlen(tok);
				while (tl && tok[tl - 1] == ' ')
					tok[--tl] = '\0';
				if (strcmp(tok, "to_server") == 0 || strcmp(tok, "from_client") == 0)
					r->flow_dir = IDS_TO_SERVER;
				else if (strcmp(tok, "to_client") == 0 || strcmp(tok, "from_server") == 0)
					r->flow_dir = IDS_TO_CLIENT;
				else if (strcmp(tok, "established") != 0 && strcmp(tok, "stateless") != 0)
					return fail(c, "flow '%s' is not supported (to_server, to_client, established)",
						    tok);
			}
			have_flow = true;
		} else if (strcmp(name, "sid") == 0) {
			if (have_sid || !val || parse_u32(val, UINT32_MAX, &r->sid) || r->sid == 0)
				return fail(c, "%s", "sid takes a number above 0, once");
			have_sid = true;
		} else if (strcmp(name, "rev") == 0 || strcmp(name, "classtype") == 0 ||
			   strcmp(name, "priority") == 0) {
			if (!val)
				return fail(c, "%s needs a value", name);
		} else {
			return fail(c,
				    "unknown option '%.40s' (known: msg content nocase offset depth flow sid rev "
				    "classtype priority)",
				    name);
		}
	}
	if (!have_content)
		return fail(c, "%s", "a rule needs a content");
	if (!have_sid)
		return fail(c, "%s", "a rule needs a sid");
	return 0;
}

static int parse_line(struct cursor *c, struct ids_rule *r)
{
	char w[64];
	memset(r, 0, sizeof(*r));
	r->line = c->line;
	r->flow_dir = IDS_FLOW_ANY;
	if (word(c, w, sizeof(w), "action"))
		return -1;
	if (strcmp(w, "alert") == 0)
		r->action = IDS_ALERT;
	else if (strcmp(w, "drop") == 0)
		r->action = IDS_DROP;
	else
		return fail(c, "action '%s' is not alert or drop", w);
	if (word(c, w, sizeof(w), "protocol"))
		return -1;
	if (strcmp(w, "tcp") != 0)
		return fail(c, "protocol '%s': only tcp (rules match TCP streams)", w);
	if (word(c, w, sizeof(w), "source address") || parse_addr(c, w, &r->src, &r->src_mask))
		return -1;
	if (word(c, w, sizeof(w), "source port") || parse_port(c, w, &r->sport_lo, &r->sport_hi))
		return -1;
	if (word(c, w, sizeof(w), "direction"))
		return -1;
	if (strcmp(w, "<>") == 0)
		r->bidirectional = true;
	else if (strcmp(w, "->") != 0)
		return fail(c, "direction '%s' is not -> or <>", w);
	if (word(c, w, sizeof(w), "destination address") || parse_addr(c, w, &r->dst, &r->dst_mask))
		return -1;
	if (word(c, w, sizeof(w), "destination port") || parse_port(c, w, &r->dport_lo, &r->dport_hi))
		return -1;
	skip_space(c);
	if (*c->p != '(')
		return fail(c, "%s", "missing options in parentheses");
	c->p++;
	return parse_options(c, r);
}

int ids_rules_parse(const char *text, size_t len, const char *origin, struct ids_ruleset *rs, struct e2_err *err)
{
	struct cursor c = {.origin = origin, .err = err};
	char *line = malloc(LINE_MAX_LEN + 1);
	size_t cap = 0;
	memset(rs, 0, sizeof(*rs));
	if (!line) {
		e2_seterr(err, "%s: out of memory", origin);
		return -1;
	}
	for (size_t at = 0; at < len;) {
		const char *nl = memchr(text + at, '\n', len - at);
		size_t n = nl ? (size_t)(nl - (text + at)) : len - at;
		c.line++;
		if (n > LINE_MAX_LEN) {
			fail(&c, "%s", "line longer than 8192 bytes");
			goto bad;
		}
		if (memchr(text + at, '\0', n)) {
			fail(&c, "%s", "a NUL byte in the line");
			goto bad;
		}
		memcpy(line, text + at, n);
		line[n] = '\0';
		at += n + 1;
		if (n && line[n - 1] == '\r')
			line[--n] = '\0';
		c.p = line;
		skip_space(&c);
		if (!*c.p || *c.p == '#')
			continue;
		if (rs->n == IDS_RULES_MAX) {
			fail(&c, "%s", "more than 4096 rules");
			goto bad;
		}
		if (rs->n == cap) {
			cap = cap ? cap * 2 : 16;
			struct ids_rule *nr = realloc(rs->rules, cap * sizeof(*nr));
			if (!nr) {
				fail(&c, "%s", "out of memory");
				goto bad;
			}
			rs->rules = nr;
		}
		struct ids_rule *r = &rs->rules[rs->n];
		if (parse_line(&c, r))
			goto bad;
		for (unsigned i = 0; i < rs->n; i++)
			if (rs->rules[i].sid == r->sid) {
				char prev[32];
				snprintf(prev, sizeof(prev), "%u", rs->rules[i].line);
				fail(&c, "the same sid as line %s", prev);
				goto bad;
			}
		rs->n++;
	}
	free(line);
	return 0;
bad:
	free(line);
	ids_rules_free(rs);
	return -1;
}

void ids_rules_free(struct ids_ruleset *rs)
{
	free(rs->rules);
	rs->rules = NULL;
	rs->n = 0;
}

static bool one_way(const struct ids_rule *r, uint32_t sa, uint16_t sp, uint32_t da, uint16_t dp)
{
	return (sa & r->src_mask) == r->src && (da & r->dst_mask) == r->dst && sp >= r->sport_lo && sp <= r->sport_hi &&
	       dp >= r->dport_lo && dp <= r->dport_hi;
}

bool ids_rule_header_matches(const struct ids_rule *r, uint32_t saddr, uint16_t sport, uint32_t daddr, uint16_t dport)
{
	return one_way(r, saddr, sport, daddr, dport) || (r->bidirectional && one_way(r, daddr, dport, saddr, sport));
}
