/* SPDX-License-Identifier: BSD-3-Clause */
/* The command language both ways: every line the parser takes prints to a line that
 * parses to the same request (the configurations in the tree, and a line for every
 * operation), and bad lines are refused with their messages. */
#include <ftw.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include "e2/cmd.h"

/* Encodes both requests and compares the bytes: equal requests, field by field. */
static void assert_same_request(const E2__Dp__Request *a, const E2__Dp__Request *b)
{
	size_t la = e2__dp__request__get_packed_size(a), lb = e2__dp__request__get_packed_size(b);
	uint8_t *ba = malloc(la + 1), *bb = malloc(lb + 1);
	assert_non_null(ba);
	assert_non_null(bb);
	e2__dp__request__pack(a, ba);
	e2__dp__request__pack(b, bb);
	assert_int_equal(la, lb);
	assert_memory_equal(ba, bb, la);
	free(ba);
	free(bb);
}

/* Parses line; if it is a request, its printed line must parse to an equal one.
 * Returns the printed line (or NULL when line is not a request). */
static char *round_trip(const char *line)
{
	char err[1024];
	E2__Dp__Request *req = e2_cmd_parse(line, err, sizeof(err));
	if (!req)
		return NULL;
	char *printed = e2_cmd_line(req);
	if (!printed)
		fail_msg("'%s' parses but does not print", line);
	E2__Dp__Request *back = e2_cmd_parse(printed, err, sizeof(err));
	if (!back)
		fail_msg("'%s' prints as '%s', which does not parse: %s", line, printed, err);
	assert_same_request(req, back);
	e2__dp__request__free_unpacked(back, NULL);
	e2__dp__request__free_unpacked(req, NULL);
	return printed;
}

static unsigned conf_files, conf_requests;

static int round_trip_file(const char *path, const struct stat *st, int type, struct FTW *ftw)
{
	size_t l = strlen(path);
	if (type != FTW_F || l < 5 || strcmp(path + l - 5, ".conf") != 0)
		return 0;
	FILE *f = fopen(path, "r");
	assert_non_null(f);
	char *line = NULL;
	size_t cap = 0;
	while (getline(&line, &cap, f) >= 0) {
		/* e2d reads its configuration a line at a time */
		line[strcspn(line, "\n")] = '\0';
		char *printed = round_trip(line);
		conf_requests += printed != NULL;
		free(printed);
	}
	free(line);
	fclose(f);
	conf_files++;
	return 0;
}

static void test_configurations_round_trip(void **state)
{
	const char *src = getenv("E2_SOURCE_DIR");
	char dir[1024];
	assert_non_null(src);
	for (const char *const *d = (const char *const[]){"examples", "vswitch", NULL}; *d; d++) {
		snprintf(dir, sizeof(dir), "%s/%s", src, *d);
		assert_int_equal(nftw(dir, round_trip_file, 16, FTW_PHYS), 0);
	}
	print_message("  %u configuration files, %u requests round-tripped\n", conf_files, conf_requests);
	assert_true(conf_files >= 10 && conf_requests >= 50);
}

/* A line of every operation (and the shapes each takes), with its canonical form. */
static void test_every_operation_round_trips(void **state)
{
	static const char *const lines[][2] = {
		{"port add vm0 vhost path=/run/s client=1", "port add vm0 vhost path=/run/s client=1"},
		{"port add  n0\tpmd devargs=net_null0,x=1  # a comment", "port add n0 pmd devargs=net_null0,x=1"},
		{"port add \"a b\" memif \"socket=/tmp/x y\" role=\"\"",
		 "port add \"a b\" memif socket=\"/tmp/x y\" role="},
		{"port del vm0", "port del vm0"},
		{"module add q queue size=1024", "module add q queue size=1024"},
		{"module add s sink", "module add s sink"},
		{"module add \"#h\" hmatch \"fields=12:2\" k=a=b", "module add \"#h\" hmatch fields=12:2 k=a=b"},
		{"module del q", "module del q"},
		{"module cmd hm add values=0 gate=0", "module cmd hm add values=0 gate=0"},
		{"module cmd hm clear", "module cmd hm clear"},
		{"connect a:1 b", "connect a:1 b"},
		{"connect a:0 b:00", "connect a b"},
		{"connect x:y:0 b:2", "connect x:y:0 b:2"},
		{"connect :3 \"\"", "connect :3 \"\""},
		{"disconnect a:3", "disconnect a:3"},
		{"disconnect a", "disconnect a"},
		{"insert a:1 q", "insert a:1 q"},
		{"capture q:1 file=/tmp/c.pcap count=10 seconds=2 snaplen=64",
		 "capture q:1 file=/tmp/c.pcap count=10 seconds=2 snaplen=64"},
		{"capture n0 file=/tmp/p.pcap", "capture n0 file=/tmp/p.pcap"},
		{"capture stop q:1", "capture stop q:1"},
		{"capture stop stop", "capture stop stop"},
		{"capture stop:2 file=x", "capture stop:2 file=x"},
		{"worker add 1", "worker add 1"},
		{"worker add 007 core=+3", "worker add 7 core=3"},
		{"task attach q worker=1", "task attach q worker=1"},
		{"sched add wfq policy=weighted_fair worker=0 resource=bits",
		 "sched add wfq policy=weighted_fair worker=0 resource=bits"},
		{"sched add rl policy=rate_limit parent=wfq share=2 limit=1000 burst=10",
		 "sched add rl policy=rate_limit parent=wfq share=2 limit=1000 burst=10"},
		{"sched attach q parent=rl share=3 priority=1", "sched attach q parent=rl share=3 priority=1"},
		{"sched set rl limit=2000", "sched set rl limit=2000"},
		{"sched del rl", "sched del rl"},
		{"sched show", "sched show"},
		{"sched show worker=1", "sched show worker=1"},
		{"sched add n policy=round_robin parent= priority=0",
		 "sched add n policy=round_robin parent= priority=0"},
		{"sched add n policy=priority burst=5 limit=7 share=1000000 parent=\"a b\"",
		 "sched add n policy=priority parent=\"a b\" share=1000000 limit=7 burst=5"},
		{"sched attach src0", "sched attach src0"},
		{"sched attach src0 parent=", "sched attach src0"},
		{"sched set n resource=packets priority=3", "sched set n priority=3 resource=packets"},
		{"stats", "stats"},
		{"stats q", "stats q"},
		{"stats reset q", "stats q reset"},
		{"stats q reset", "stats q reset"},
		{"list", "list"},
		{"classes", "classes"},
		{"ping", "ping"},
		{"log set info", "log set info"},
		{"log set   vhost:dbg,worker:warn", "log set vhost:dbg,worker:warn"},
		{"log show", "log show"},
		{"shutdown", "shutdown"},
		{"module add a\\b\"  \\\\  \"c sink", "module add a\\b\"  \\\\  \"c sink"},
		{"module add x\\y\\z\" \"w sink", "module add x\\y\\z\" \"w sink"},
		{"port add p vhost \"p=a\\\"b\"", "port add p vhost p=\"a\\\"b\""},
		/* the quotes of a KEY=VALUE word go around the value alone */
		{"module cmd c add \"filter=tcp dst port 80\" k=#x \"#k=v\" \"a b=c\"",
		 "module cmd c add filter=\"tcp dst port 80\" k=#x \"#k=v\" \"a b=c\""},
	};
	for (size_t i = 0; i < sizeof(lines) / sizeof(lines[0]); i++) {
		char *printed = round_trip(lines[i][0]);
		if (!printed)
			fail_msg("'%s' does not parse", lines[i][0]);
		if (strcmp(printed, lines[i][1]) != 0)
			fail_msg("'%s' prints as '%s', wanted '%s'", lines[i][0], printed, lines[i][1]);
		free(printed);
	}
}

/* Requests with no text form are said to have none (the parser never makes them). */
static void test_no_text_form(void **state)
{
	E2__Dp__Request r;
	E2__Dp__Connect c;
	e2__dp__request__init(&r);
	assert_null(e2_cmd_line(&r));
	e2__dp__connect__init(&c);
	r.op_case = E2__DP__REQUEST__OP_CONNECT;
	r.connect = &c;
	assert_null(e2_cmd_line(&r));
}

/* Bad lines are refused with the messages they always had. */
static void test_bad_lines_keep_their_messages(void **state)
{
	static const char *const bad[][2] = {
		{"frobnicate", "unknown command 'frobnicate'; commands are:\n"},
		{"port", "unknown command 'port'; commands are:\n"},
		{"list extra", "unknown command 'list'; commands are:\n"},
		{"port add x", "usage: port add NAME DRIVER [KEY=VALUE...]"},
		{"port del", "usage: port del NAME"},
		{"module add m", "usage: module add NAME CLASS [KEY=VALUE...]"},
		{"module del", "usage: module del NAME"},
		{"module cmd m", "usage: module cmd NAME COMMAND [KEY=VALUE...]"},
		{"connect a", "usage: connect FROM[:OGATE] TO[:IGATE]"},
		{"connect a:x b", "'a:x': gate must be a number (MODULE:GATE)"},
		{"connect a:-1 b", "'a:-1': gate must be a number (MODULE:GATE)"},
		{"connect a:99999 b", "'a:99999': gate must be a number (MODULE:GATE)"},
		{"disconnect", "usage: disconnect FROM[:OGATE]"},
		{"insert a", "usage: insert FROM[:OGATE] MODULE"},
		{"capture", "usage: capture MODULE[:OGATE]|PORT file=PATH [count=N] [seconds=S] | capture stop "
			    "MODULE[:OGATE]|PORT"},
		{"capture stop a b",
		 "usage: capture MODULE[:OGATE]|PORT file=PATH [count=N] [seconds=S] | capture stop "
		 "MODULE[:OGATE]|PORT"},
		{"worker add", "usage: worker add ID [core=N]"},
		{"worker add x", "worker id 'x' is not a number below 1024"},
		{"worker add 1024", "worker id '1024' is not a number below 1024"},
		{"worker add 1 core=x", "'core=x' is not core=N"},
		{"worker add 1 cpu=1", "'cpu=1' is not core=N"},
		{"task attach q", "usage: task attach MODULE worker=ID"},
		{"log set", "usage: log set LEVEL|MODULE:LEVEL,..."},
		{"log set a b", "usage: log set LEVEL|MODULE:LEVEL,..."},
		{"log show all", "usage: log show"},
		{"task attach q w=1", "'w=1' is not worker=ID"},
		{"sched", "usage: sched add|attach|set|del NAME [KEY=VALUE...] | sched show [worker=ID]"},
		{"sched add", "usage: sched add|attach|set|del NAME [KEY=VALUE...] | sched show [worker=ID]"},
		{"sched frob", "usage: sched add|attach|set|del NAME [KEY=VALUE...] | sched show [worker=ID]"},
		{"sched frob x", "unknown sched operation 'frob' (add, attach, set, del, show)"},
		{"sched add x", "sched add needs policy=priority|weighted_fair|round_robin|rate_limit"},
		{"sched add x policy=fifo", "sched add needs policy=priority|weighted_fair|round_robin|rate_limit"},
		{"sched add x policy=priority colour=red",
		 "unknown argument 'colour' (known: policy parent worker share priority resource limit burst)"},
		{"sched add x policy=priority worker=1024", "worker=1024: out of range (0 to 1023)"},
		{"sched attach x share=0", "share=0: out of range (1 to 1000000)"},
		{"sched attach x share=nan", "share=nan: not a whole number"},
		{"sched attach x share=1 share=2", "argument 'share' given twice"},
		{"sched attach x limit=5", "unknown argument 'limit' (known: parent share priority)"},
		{"sched set x resource=watts", "resource=watts: use cycles, packets or bits"},
		{"sched set x priority=-1", "priority=-1: must not be negative"},
		{"sched del x a=1", "takes no arguments ('a' given)"},
		{"sched show x", "'x' is not KEY=VALUE"},
		{"stats a b c", "usage: stats [NAME] [reset]"},
		{"stats a b", "usage: stats [NAME] [reset]"},
		{"module add m c novalue", "'novalue' is not KEY=VALUE"},
		{"module add m c =v", "'=v' is not KEY=VALUE"},
		{"port add p vhost \"path=/x", "unterminated quote"},
	};
	char err[2048];
	for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
		E2__Dp__Request *r = e2_cmd_parse(bad[i][0], err, sizeof(err));
		if (r)
			fail_msg("'%s' was accepted", bad[i][0]);
		if (strncmp(err, bad[i][1], strlen(bad[i][1])) != 0)
			fail_msg("'%s': '%s', wanted '%s'", bad[i][0], err, bad[i][1]);
	}
	/* the unknown command lists them all */
	assert_null(e2_cmd_parse("frobnicate", err, sizeof(err)));
	assert_string_equal(strchr(err, '\n') + 1, e2_cmd_usage);
	/* too long, too many words */
	char line[9000];
	memset(line, 'a', sizeof(line) - 1);
	line[sizeof(line) - 1] = '\0';
	assert_null(e2_cmd_parse(line, err, sizeof(err)));
	assert_string_equal(err, "line too long (at most 8191 characters)");
	strcpy(line, "stats");
	for (int i = 0; i < 80; i++)
		strcat(line, " x");
	assert_null(e2_cmd_parse(line, err, sizeof(err)));
	assert_string_equal(err, "too many words (at most 72)");
	/* nothing to do is not an error */
	assert_null(e2_cmd_parse("   # a comment", err, sizeof(err)));
	assert_int_equal(err[0], '\0');
}

/* The checker refuses what the wire can carry and the text cannot. */
static void test_check(void **state)
{
	char err[256];
	E2__Dp__Request *r = e2_cmd_parse("module add q queue size=64", err, sizeof(err));
	assert_int_equal(e2_cmd_check(r, err, sizeof(err)), 0);
	r->version = 2;
	assert_int_not_equal(e2_cmd_check(r, err, sizeof(err)), 0);
	assert_string_equal(err, "protocol version 2 is not supported (this e2d speaks version 1)");
	r->version = E2_CTL_VERSION;
	r->module_create->name[0] = '\0';
	assert_int_not_equal(e2_cmd_check(r, err, sizeof(err)), 0);
	assert_string_equal(err, "module name is missing");
	e2__dp__request__free_unpacked(r, NULL);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_configurations_round_trip),
		cmocka_unit_test(test_every_operation_round_trips),
		cmocka_unit_test(test_no_text_form),
		cmocka_unit_test(test_bad_lines_keep_their_messages),
		cmocka_unit_test(test_check),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
