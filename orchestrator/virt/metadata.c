/* SPDX-License-Identifier: BSD-3-Clause */
/* E2's metadata in a whole domain XML, without libvirt: what the qemu hook gets on
 * stdin. Namespace-aware (the prefix is the writer's choice, the URI is not), no
 * network, no entities, bounded. */
#include <libxml/parser.h>
#include <libxml/tree.h>
#include <string.h>

#include "e2virt.h"

#define METADATA_XML_MAX (16u << 20) /* a domain XML is a few KiB; refuse absurd ones */

static bool is_e2(const xmlNode *n, const char *name)
{
	return n->type == XML_ELEMENT_NODE && n->ns && n->ns->href &&
	       strcmp((const char *)n->ns->href, E2V_METADATA_NS) == 0 && strcmp((const char *)n->name, name) == 0;
}

static const xmlNode *child(const xmlNode *parent, const char *name, bool e2)
{
	for (const xmlNode *n = parent ? parent->children : NULL; n; n = n->next)
		if (e2 ? is_e2(n, name)
		       : n->type == XML_ELEMENT_NODE && !n->ns && strcmp((const char *)n->name, name) == 0)
			return n;
	return NULL;
}

static int copy_text(const xmlNode *n, const char *what, char *out, size_t len, struct e2_err *err)
{
	xmlChar *t = n ? xmlNodeGetContent(n) : NULL;
	const char *s = t ? (const char *)t : "";
	int rc = 0;
	if (strlen(s) >= len) {
		e2_seterr(err, "E2 metadata: %s is longer than %zu characters", what, len - 1);
		rc = -1;
	} else
		snprintf(out, len, "%s", s);
	xmlFree(t);
	return rc;
}

int e2v_metadata_parse(const char *xml, size_t len, char *instance, size_t instance_len, char *server,
		       size_t server_len, struct e2_err *err)
{
	if (len > METADATA_XML_MAX) {
		e2_seterr(err, "domain XML of %zu bytes: more than %u", len, METADATA_XML_MAX);
		return -1;
	}
	/* libvirt never writes a DOCTYPE; one could only bring entities to expand */
	if (memmem(xml, len, "<!DOCTYPE", 9) || memmem(xml, len, "<!ENTITY", 8)) {
		e2_seterr(err, "domain XML with a DOCTYPE or entities: refused");
		return -1;
	}
	xmlDocPtr doc = xmlReadMemory(xml, (int)len, "domain.xml", NULL,
				      XML_PARSE_NONET | XML_PARSE_NOERROR | XML_PARSE_NOWARNING);
	if (!doc) {
		e2_seterr(err, "domain XML does not parse");
		return -1;
	}
	const xmlNode *root = xmlDocGetRootElement(doc);
	int rc = 0;
	if (root && strcmp((const char *)root->name, "domain") == 0) {
		const xmlNode *nf = child(child(root, "metadata", false), "nf", true);
		if (nf) {
			rc = copy_text(child(nf, "instance", true), "instance", instance, instance_len, err);
			if (rc == 0)
				rc = copy_text(child(nf, "server", true), "server", server, server_len, err);
			if (rc == 0 && !instance[0]) {
				/* the instance is the domain's name unless the metadata says otherwise */
				rc = copy_text(child(root, "name", false), "name", instance, instance_len, err);
			}
			if (rc == 0)
				rc = 1;
		}
	}
	xmlFreeDoc(doc);
	return rc;
}
