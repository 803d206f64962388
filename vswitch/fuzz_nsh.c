/* libFuzzer target for the parsers of the issue-3 modules: NSH headers from the wire
 * (nsh_parse, and parse -> write -> parse gives the same header), NSH attribute values
 * and flowhash field lists from the control API. The first byte picks the parser. */
#include <stddef.h>
#include <stdint.h>
#include <string.h>

#include "modules/flowkey.h"
#include "modules/nsh.h"

static void fuzz_header(const uint8_t *data, size_t size)
{
	static struct nsh_info h, again;
	uint8_t out[NSH_MAX_LEN + 8];

	if (nsh_parse(data, size, &h) != 0 || h.md_type != NSH_MD_TYPE_2)
		return;
	uint16_t len = nsh_write(&h, out);
	if (len > NSH_MAX_LEN || nsh_parse(out, len, &again) != 0)
		__builtin_trap();
	if (again.n_tlvs != h.n_tlvs || again.spi != h.spi || again.si != h.si || again.ttl != h.ttl ||
	    again.next_proto != h.next_proto)
		__builtin_trap();
	for (uint8_t i = 0; i < h.n_tlvs; i++)
		if (again.tlvs[i].cls != h.tlvs[i].cls || again.tlvs[i].type != h.tlvs[i].type ||
		    again.tlvs[i].len != h.tlvs[i].len || memcmp(again.tlvs[i].val, h.tlvs[i].val, h.tlvs[i].len))
			__builtin_trap();
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	char text[512], err[E2_ERR_MAX];

	if (size < 1)
		return 0;
	if (data[0] % 3 == 0) {
		fuzz_header(data + 1, size - 1);
		return 0;
	}
	size_t n = size - 1 < sizeof(text) - 1 ? size - 1 : sizeof(text) - 1;
	memcpy(text, data + 1, n);
	text[n] = '\0';
	if (data[0] % 3 == 1) {
		/* "name=value" as nsh_push gets it */
		static struct nsh_tlv t;
		char *eq = strchr(text, '=');
		if (!eq)
			return 0;
		*eq = '\0';
		if (nsh_attr_encode(text, eq + 1, &t, err) == 0 && t.len > NSH_TLV_MAX_VALUE)
			__builtin_trap();
	} else {
		struct e2_flow_fields f;
		if (e2_flow_fields_parse(text, &f, err) == 0 && !(f.src || f.dst || f.proto || f.sport || f.dport))
			__builtin_trap();
	}
	return 0;
}
