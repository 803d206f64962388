/* SPDX-License-Identifier: BSD-3-Clause */
/* Per-epoch state of the Embark middleboxes, and the control words that load, retire and
 * list it (mb.h). Every middlebox with per-key or per-rule-set inputs keeps them here, so
 * an epoch switch reaches all of them the same way the gateway's prepare step hands the
 * new inputs out. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "e2/num.h"
#include "mb.h"

static void slot_free(struct mb_epochs *s, int i)
{
	if (s->e[i].data) {
		s->clear(s->e[i].data);
		free(s->e[i].data);
	}
	memset(&s->e[i], 0, sizeof(s->e[i]));
}

int mb_epochs_load(struct mb_epochs *s, uint32_t id, const char *path, struct e2_err *err)
{
	int slot = -1;
	for (int i = 0; i < MB_EPOCHS && slot < 0; i++)
		if (s->e[i].id == id)
			slot = i;
	for (int i = 0; i < MB_EPOCHS && slot < 0; i++)
		if (!s->e[i].id)
			slot = i;
	if (slot < 0) {
		e2_seterr(err, "%d epochs loaded already: retire one first", MB_EPOCHS);
		return -1;
	}
	void *data = calloc(1, s->size);
	if (!data) {
		e2_seterr(err, "no memory for epoch %u's %s", id, s->verb);
		return -1;
	}
	if (s->load(s->ctx, data, path, err) != 0) {
		s->clear(data);
		free(data);
		return -1;
	}
	slot_free(s, slot);
	s->e[slot].id = id;
	s->e[slot].loaded = ++s->loads;
	s->e[slot].data = data;
	return 0;
}

void *mb_epochs_get(const struct mb_epochs *s, uint32_t id)
{
	for (int i = 0; i < MB_EPOCHS; i++)
		if (s->e[i].id && (s->e[i].id & MB_LABEL_MASK) == (id & MB_LABEL_MASK))
			return s->e[i].data;
	return NULL;
}

void *mb_epochs_newest(const struct mb_epochs *s)
{
	int best = -1;
	for (int i = 0; i < MB_EPOCHS; i++)
		if (s->e[i].id && (best < 0 || s->e[i].loaded > s->e[best].loaded))
			best = i;
	return best < 0 ? NULL : s->e[best].data;
}

void *mb_epochs_of(const struct mb_epochs *s, const struct mb_pkt *p)
{
	return p->v6 ? mb_epochs_get(s, mb_pkt_label(p)) : mb_epochs_newest(s);
}

int mb_epochs_control(struct mb_epochs *s, const char *line, char *reply, size_t len)
{
	char buf[4200], *save = NULL;
	snprintf(buf, sizeof buf, "%s", line);
	const char *cmd = strtok_r(buf, " \t", &save), *a1 = strtok_r(NULL, " \t", &save),
		   *a2 = strtok_r(NULL, " \t", &save), *more = strtok_r(NULL, " \t", &save);
	uint32_t id = 0;
	struct e2_err err;
	if (!cmd)
		return 1;
	if (!strcmp(cmd, s->verb)) {
		if (!a1 || !a2 || more) {
			snprintf(reply, len, "usage: %s EPOCH FILE", s->verb);
			return -1;
		}
		if (e2_num_u32("EPOCH", a1, 1, UINT32_MAX, &id, &err) != 0 || mb_epochs_load(s, id, a2, &err) != 0) {
			snprintf(reply, len, "refused, nothing changed: %s", err.msg);
			return -1;
		}
		snprintf(reply, len, "epoch %u: %s from %s", id, s->verb, a2);
		return 0;
	}
	if (!strcmp(cmd, "retire")) {
		if (!a1 || a2) {
			snprintf(reply, len, "usage: retire EPOCH");
			return -1;
		}
		if (e2_num_u32("EPOCH", a1, 1, UINT32_MAX, &id, &err) != 0) {
			snprintf(reply, len, "%s", err.msg);
			return -1;
		}
		for (int i = 0; i < MB_EPOCHS; i++)
			if (s->e[i].id == id) {
				slot_free(s, i);
				snprintf(reply, len, "epoch %u retired", id);
				return 0;
			}
		snprintf(reply, len, "no epoch %u", id);
		return -1;
	}
	if (!strcmp(cmd, "epochs")) {
		if (a1) {
			snprintf(reply, len, "usage: epochs");
			return -1;
		}
		size_t o = 0;
		reply[0] = 0;
		for (int i = 0; i < MB_EPOCHS && o < len; i++) {
			if (!s->e[i].id)
				continue;
			char what[128];
			s->describe(s->e[i].data, what, sizeof what);
			int w = snprintf(reply + o, len - o, "%sepoch %u: %s", o ? "; " : "", s->e[i].id, what);
			if (w < 0)
				break;
			o += (size_t)w;
		}
		if (!o)
			snprintf(reply, len, "no epochs");
		return 0;
	}
	return 1;
}

void mb_epochs_fini(struct mb_epochs *s)
{
	for (int i = 0; i < MB_EPOCHS; i++)
		slot_free(s, i);
}
