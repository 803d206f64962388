/* SPDX-License-Identifier: BSD-3-Clause */
/* `e2ctl fabric`: the fabric switch's driver (e2/fabric.h) from the command line, for
 * operators, tests and benchmarks. The hardware description says which driver and
 * which switch. */
#include <stdlib.h>
#include <string.h>

#include "e2/fabric.h"
#include "e2/file.h"
#include "e2/opts.h"
#include "e2ctl.h"

static void fabric_usage(FILE *out)
{
	fprintf(out, "usage: e2ctl fabric --hardware FILE COMMAND\n"
		     "  replace FILE    make E2's rules on the switch exactly the rules in FILE (one per line,\n"
		     "                  '-' = standard input; blank and '#' lines skipped), atomically\n"
		     "  add 'RULE'      add one rule ('rule add priority=P ... action=...', or without 'rule add')\n"
		     "  del 'RULE'      remove the rule with that priority and match\n"
		     "  show            E2's rules as the switch holds them, and their number\n"
		     "  explain 'RULE'  what the driver would install for RULE (the switch is not touched)\n"
		     "The switch is the hardware description's switch.driver at switch.driver_target; drivers:\n");
	for (size_t i = 0; i < e2_fabric_driver_count(); i++)
		fprintf(out, "  %-6s %s\n", e2_fabric_driver_at(i)->name, e2_fabric_driver_at(i)->help);
}

/* "priority=..." alone becomes "rule VERB priority=...". */
static char *rule_line(const char *verb, const char *arg)
{
	const char *p = arg;
	while (*p == ' ' || *p == '\t')
		p++;
	if (strncmp(p, "rule ", 5) == 0 || strncmp(p, "switch:", 7) == 0)
		return e2_xstrdup(arg);
	char *s = NULL;
	if (asprintf(&s, "rule %s %s", verb, arg) < 0)
		abort();
	return s;
}

static int do_replace(struct e2_fabric *f, const char *path, struct e2_err *err)
{
	size_t len;
	char *text = e2_read_file(strcmp(path, "-") ? path : "/dev/stdin", 0, &len, err);
	if (!text)
		return -1;
	size_t n = 0, cap = 64;
	const char **lines = e2_xmalloc(cap * sizeof *lines);
	for (char *p = text; *p;) {
		char *nl = strchr(p, '\n');
		if (nl)
			*nl = '\0';
		if (n == cap)
			lines = e2_xrealloc(lines, (cap *= 2) * sizeof *lines);
		lines[n++] = p;
		if (!nl)
			break;
		p = nl + 1;
	}
	int rc = e2_fabric_replace(f, lines, n, err);
	if (rc < 0)
		e2_err_context(err, "%s", path);
	free(lines);
	free(text);
	return rc;
}

int e2ctl_fabric(int argc, char **argv)
{
	static const struct option opts[] = {
		{"hardware", required_argument, 0, 'w'},
		{"help", no_argument, 0, 'h'},
		{0, 0, 0, 0},
	};
	const char *hp = NULL;
	int c;
	struct e2_err oerr;
	optind = 1;
	while ((c = e2_opt_next(argc, argv, "+", opts, &oerr)) != -1) {
		switch (c) {
		case 'w': hp = optarg; break;
		case 'h': fabric_usage(stdout); return 0;
		case E2_OPT_BAD: fprintf(stderr, "e2ctl fabric: %s\n", oerr.msg); return 2;
		default: fprintf(stderr, "e2ctl fabric: option %d is not handled (a bug)\n", c); return 2;
		}
	}
	const char *cmd = optind < argc ? argv[optind] : NULL;
	int args = argc - optind - 1;
	if (!hp || !cmd ||
	    !((!strcmp(cmd, "show") && args == 0) ||
	      ((!strcmp(cmd, "replace") || !strcmp(cmd, "add") || !strcmp(cmd, "del") || !strcmp(cmd, "explain")) &&
	       args == 1))) {
		fabric_usage(stderr);
		return 2;
	}
	const char *arg = args ? argv[optind + 1] : NULL;
	struct e2_err err = {""};
	struct e2_fabric *f = NULL;
	size_t len;
	int rc = 1;
	char *yaml = e2_read_file(hp, 0, &len, &err);
	struct e2_hardware *hw = yaml ? e2_hardware_load(yaml, len, hp, &err) : NULL;
	free(yaml);
	if (!hw || !(f = e2_fabric_open(hw, &err)))
		goto out;
	if (!strcmp(cmd, "replace")) {
		if (do_replace(f, arg, &err) < 0)
			goto out;
		long n = e2_fabric_count(f, &err);
		if (n < 0)
			goto out;
		printf("%ld switch entries\n", n);
	} else if (!strcmp(cmd, "add") || !strcmp(cmd, "del") || !strcmp(cmd, "explain")) {
		char *line = rule_line(!strcmp(cmd, "del") ? "del" : "add", arg);
		int r = !strcmp(cmd, "add")   ? e2_fabric_add(f, line, &err)
			: !strcmp(cmd, "del") ? e2_fabric_del(f, line, &err)
					      : e2_fabric_explain(f, line, stdout, &err);
		free(line);
		if (r < 0)
			goto out;
	} else {
		if (e2_fabric_show(f, stdout, &err) < 0)
			goto out;
		long n = e2_fabric_count(f, &err);
		if (n < 0)
			goto out;
		printf("# %s driver: %ld switch entries\n", e2_fabric_driver_name(f), n);
	}
	rc = 0;
out:
	if (rc)
		fprintf(stderr, "e2ctl fabric: %s\n", err.msg);
	e2_fabric_close(f);
	e2_hardware_free(hw);
	return rc;
}
