/* SPDX-License-Identifier: BSD-3-Clause */
/* Edge filters: pcap-filter header terms (checked by libpcap) and derived-attribute
 * terms; affinity field names; the flow ID hash. */
#include "e2/orch.h"
#include "e2/flowid.h"

#include <pcap/pcap.h>
#include <stdlib.h>
#include <string.h>

int e2_filter_check(const char *filter, struct e2_err *err)
{
	if (!filter || !*filter)
		return 0;
	pcap_t *p = pcap_open_dead(DLT_EN10MB, 65535);
	if (!p) {
		if (err)
			snprintf(err->msg, sizeof err->msg, "libpcap: cannot open a dead handle");
		return -1;
	}
	struct bpf_program prog;
	int rc = pcap_compile(p, &prog, filter, 1, PCAP_NETMASK_UNKNOWN);
	if (rc == 0)
		pcap_freecode(&prog);
	else if (err)
		snprintf(err->msg, sizeof err->msg, "%s", pcap_geterr(p));
	pcap_close(p);
	return rc == 0 ? 0 : -1;
}

static int valid_name(const char *s, size_t n)
{
	if (n == 0)
		return 0;
	for (size_t i = 0; i < n; i++) {
		char c = s[i];
		if (!((c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') || c == '_' ||
		      c == '-' || c == '.'))
			return 0;
	}
	return 1;
}

int e2_attr_term_parse(const char *term, char *name, size_t name_len, char *value, size_t value_len)
{
	if (!term)
		return -1;
	const char *eq = strchr(term, '=');
	const char *val;
	size_t n;
	if (term[0] == '!') {
		if (eq)
			return -1;
		term++;
		n = strlen(term);
		val = "false";
	} else if (eq) {
		n = (size_t)(eq - term);
		val = eq + 1;
		if (!*val)
			return -1;
	} else {
		n = strlen(term);
		val = "true";
	}
	if (!valid_name(term, n) || n >= name_len || strlen(val) >= value_len)
		return -1;
	memcpy(name, term, n);
	name[n] = '\0';
	snprintf(value, value_len, "%s", val);
	return 0;
}

/* The affinity fields named from `names`, comma-separated, in 5-tuple order. */
static void join_fields(unsigned aff, const char *const names[5], char *buf, size_t len)
{
	size_t used = 0;
	buf[0] = '\0';
	for (unsigned i = 0; i < 5; i++)
		if (aff & (1u << i)) {
			int w = snprintf(buf + used, len - used, "%s%s", used ? "," : "", names[i]);
			if (w < 0 || (size_t)w >= len - used)
				return;
			used += (size_t)w;
		}
}

void e2_affinity_str(unsigned aff, char *buf, size_t len)
{
	static const char *const names[] = {"src_ip", "dst_ip", "proto", "src_port", "dst_port"};
	join_fields(aff, names, buf, len);
	if (!buf[0])
		snprintf(buf, len, "none");
}

void e2_affinity_e2d(unsigned aff, char *buf, size_t len)
{
	static const char *const names[] = {"src", "dst", "proto", "sport", "dport"};
	/* no affinity: any split will do, so hash everything */
	join_fields(aff ? aff : E2_AFF_FIVE_TUPLE, names, buf, len);
}

/* The flow ID e2d's flowhash computes (common/'s e2/flowid.h: one definition), over
 * the fields of the affinity; the affinity bits are e2/flowid.h's field bits. */
_Static_assert(E2_AFF_SRC_IP == E2_FLOW_SRC && E2_AFF_DST_IP == E2_FLOW_DST && E2_AFF_PROTO == E2_FLOW_PROTO &&
		       E2_AFF_SRC_PORT == E2_FLOW_SPORT && E2_AFF_DST_PORT == E2_FLOW_DPORT,
	       "affinity bits are flow-ID field bits");
uint32_t e2_flow_id(const struct e2_flow *f, unsigned affinity)
{
	struct e2_flow_key k = e2_flow_key4(f->src_ip, f->dst_ip, f->proto, f->src_port, f->dst_port);
	return e2_flow_hash(&k, affinity ? affinity : E2_AFF_FIVE_TUPLE) & (E2_FLOW_SPACE - 1);
}

void e2_server_mac(int server, char *buf, size_t len)
{
	if (server < 0)
		snprintf(buf, len, "02:e2:00:00:ff:ff");
	else
		snprintf(buf, len, "02:e2:00:00:%02x:%02x", ((unsigned)server + 1) >> 8 & 0xff,
			 ((unsigned)server + 1) & 0xff);
}

unsigned e2_range_prefixes(uint32_t lo, uint32_t hi)
{
	/* Greedy largest aligned blocks: the classic range-to-prefix expansion. */
	unsigned n = 0;
	while (lo < hi) {
		uint32_t size = 1;
		while ((lo & (size * 2 - 1)) == 0 && lo + size * 2 <= hi && size * 2 <= E2_FLOW_SPACE)
			size *= 2;
		lo += size;
		n++;
	}
	return n;
}

void e2_quote(char *buf, size_t len, const char *value)
{
	int plain = *value != '\0';
	for (const char *c = value; *c; c++)
		if (*c == ' ' || *c == '"' || *c == '\\' || *c == '=' || *c == '\t' || *c == '\n')
			plain = 0;
	if (plain) {
		snprintf(buf, len, "%s", value);
		return;
	}
	size_t k = 0;
	if (len < 3) {
		if (len)
			buf[0] = '\0';
		return;
	}
	buf[k++] = '"';
	for (const char *c = value; *c && k + 3 < len; c++) {
		if (*c == '"' || *c == '\\')
			buf[k++] = '\\';
		buf[k++] = *c == '\n' || *c == '\t' ? ' ' : *c;
	}
	buf[k++] = '"';
	buf[k] = '\0';
}
