/* SPDX-License-Identifier: BSD-3-Clause */
/* Helpers shared by the Alpine tests. */
#ifndef E2_ALPINE_TEST_UTIL_H
#define E2_ALPINE_TEST_UTIL_H

#include "alpine.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

static inline char *plan_text(const alp_plan *p, size_t *len)
{
	char *buf = NULL;
	FILE *f = open_memstream(&buf, len);
	if (!f)
		return NULL;
	alp_plan_write_e2d(p, f);
	fclose(f);
	return buf;
}

/* Runs the model checker on a plan; returns the max SLO error (or 99 on a
 * checker error, with the message printed). */
static inline double check_plan(const alp_graph *g, const alp_plan *p, alp_check *out)
{
	size_t len;
	char *text = plan_text(p, &len);
	char err[ALP_ERRLEN];
	if (!text)
		return 99;
	int rc = alp_check_plan(g, text, len, out, err);
	if (rc < 0) {
		fprintf(stderr, "checker: %s\n--- plan ---\n%s\n", err, text);
		free(text);
		return 99;
	}
	free(text);
	return out->max_error;
}

static inline alp_graph *load_example(const char *name)
{
	const char *src = getenv("E2_SOURCE_DIR");
	char path[4096], err[ALP_ERRLEN];
	snprintf(path, sizeof(path), "%s/examples/alpine/%s", src ? src : "..", name);
	alp_graph *g = alp_graph_load(path, err);
	if (!g)
		fprintf(stderr, "%s: %s\n", path, err);
	return g;
}

static inline alp_graph *parse_str(const char *json, char *err)
{
	return alp_graph_parse(json, strlen(json), NULL, err);
}

#endif
