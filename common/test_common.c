/* SPDX-License-Identifier: BSD-3-Clause */
/* common/: flow-ID golden vectors (the values vswitch/README-modules.md documents), the
 * inline CRC against the portable one, the error type, the file reader, the log. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include <arpa/inet.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include "e2/bytes.h"
#include "e2/csum.h"
#include "e2/err.h"
#include "e2/file.h"
#include "e2/flowid.h"
#include "e2/lines.h"
#include "e2/log.h"
#include "e2/num.h"
#include "e2/opts.h"

E2_LOG_MODULE(test_common);

static void crc32c_check_value(void **state)
{
	assert_int_equal(e2_crc32c("123456789", 9), 0xE3069283u);
	assert_int_equal(e2_crc32c("", 0), 0);
}

/* The worked examples of vswitch/README-modules.md, computed independently (bit by bit,
 * outside the project): a change to field order, byte order or the CRC shows here. */
static void flow_id_golden_vectors(void **state)
{
	struct e2_flow_key k = e2_flow_key4(0x0a000001, 0xc0a80001, 17, 1024, 80);
	assert_int_equal(e2_flow_hash(&k, E2_FLOW_ALL), 0xeb405e55u);
	assert_int_equal(e2_flow_hash(&k, E2_FLOW_ALL) & 0xffff, 24149);
	assert_int_equal(e2_flow_hash(&k, E2_FLOW_SRC | E2_FLOW_DPORT), 0x18c48cfbu);

	struct e2_flow_key k6 = {.addr6 = 1, .proto = 17};
	uint8_t a[16] = {0x20, 0x01, 0x0d, 0xb8};
	a[15] = 1;
	memcpy(k6.a6.src, a, 16);
	a[15] = 2;
	memcpy(k6.a6.dst, a, 16);
	k6.sport = htons(1024);
	k6.dport = htons(80);
	assert_int_equal(e2_flow_hash(&k6, E2_FLOW_ALL), 0xfe3c7b6cu);
	assert_int_equal(e2_flow_hash(&k6, E2_FLOW_ALL) & 0xffff, 31596);

	struct e2_flow_key p = {.proto = 6};
	assert_int_equal(e2_flow_hash(&p, E2_FLOW_PROTO), 0x74dcb4b9u);
	assert_int_equal(e2_flow_hash(&p, 0), 0); /* nothing selected: CRC of no bytes */
}

/* The inline hash (the CPU's CRC instruction where there is one) against the portable
 * CRC over the bytes the definition lists, for random keys and every selection. */
static void flow_hash_matches_definition(void **state)
{
	srand(7);
	for (int i = 0; i < 2000; i++) {
		struct e2_flow_key k = {0};
		uint8_t *raw = (uint8_t *)&k;
		for (size_t j = 0; j < sizeof(k); j++)
			raw[j] = (uint8_t)rand();
		k.addr6 = i & 1;
		unsigned sel = (unsigned)i % 32;
		uint8_t b[40];
		size_t n = 0, alen = k.addr6 ? 16 : 4;
		const void *src = k.addr6 ? (const void *)k.a6.src : (const void *)&k.a4.src;
		const void *dst = k.addr6 ? (const void *)k.a6.dst : (const void *)&k.a4.dst;
		if (sel & E2_FLOW_SRC)
			memcpy(b + n, src, alen), n += alen;
		if (sel & E2_FLOW_DST)
			memcpy(b + n, dst, alen), n += alen;
		if (sel & E2_FLOW_PROTO)
			b[n++] = k.proto;
		if (sel & E2_FLOW_SPORT)
			memcpy(b + n, &k.sport, 2), n += 2;
		if (sel & E2_FLOW_DPORT)
			memcpy(b + n, &k.dport, 2), n += 2;
		assert_int_equal(e2_flow_hash(&k, sel), e2_crc32c(b, n));
	}
}

static void err_context_rises(void **state)
{
	struct e2_err err = {{0}};
	e2_seterr(&err, "rate %d out of range", 7);
	e2_err_context(&err, "pipeline '%s'", "p1");
	e2_err_context(&err, "policy.yaml");
	assert_string_equal(err.msg, "policy.yaml: pipeline 'p1': rate 7 out of range");
	e2_seterr(NULL, "ignored");
	e2_err_context(NULL, "ignored");
	char longer[2 * E2_ERR_MSG_MAX];
	memset(longer, 'x', sizeof(longer) - 1);
	longer[sizeof(longer) - 1] = '\0';
	e2_seterr(&err, "%s", longer);
	assert_int_equal(strlen(err.msg), E2_ERR_MSG_MAX - 1);
	e2_err_context(&err, "ctx");
	assert_int_equal(strlen(err.msg), E2_ERR_MSG_MAX - 1);
	assert_memory_equal(err.msg, "ctx: xxx", 8);
}

static char tmpdir[64];

static void write_bytes(const char *path, size_t n)
{
	FILE *f = fopen(path, "wb");
	assert_non_null(f);
	for (size_t i = 0; i < n; i++)
		fputc('a' + (int)(i % 26), f);
	fclose(f);
}

static void read_file_cases(void **state)
{
	char path[128];
	struct e2_err err;
	size_t len = 99;
	snprintf(path, sizeof(path), "%s/f", tmpdir);

	write_bytes(path, 0);
	char *s = e2_read_file(path, 0, &len, &err);
	assert_non_null(s);
	assert_int_equal(len, 0);
	assert_string_equal(s, "");
	free(s);

	/* sizes around the growth steps and the limit */
	const size_t sizes[] = {1, 4095, 4096, 4097, 100000};
	for (size_t i = 0; i < sizeof(sizes) / sizeof(sizes[0]); i++) {
		write_bytes(path, sizes[i]);
		s = e2_read_file(path, 0, &len, &err);
		assert_non_null(s);
		assert_int_equal(len, sizes[i]);
		assert_int_equal(strlen(s), sizes[i]);
		assert_int_equal(s[sizes[i] - 1], 'a' + (int)((sizes[i] - 1) % 26));
		free(s);
		s = e2_read_file(path, sizes[i], &len, &err); /* exactly at the limit */
		assert_non_null(s);
		free(s);
		if (sizes[i] > 1) /* one byte over the limit */
			assert_null(e2_read_file(path, sizes[i] - 1, &len, &err));
	}
	write_bytes(path, 5000);
	assert_null(e2_read_file(path, 4999, &len, &err));
	assert_non_null(strstr(err.msg, "larger than 4999 bytes"));
	assert_null(e2_read_file(path, 10, &len, &err));
	assert_non_null(strstr(err.msg, "larger than 10 bytes"));

	snprintf(path, sizeof(path), "%s/missing", tmpdir);
	assert_null(e2_read_file(path, 0, &len, &err));
	assert_non_null(strstr(err.msg, "No such file"));
	assert_null(e2_read_file(tmpdir, 0, &len, &err));
	assert_non_null(strstr(err.msg, "is a directory"));
	/* a file with no size up front */
	s = e2_read_file("/proc/self/status", 0, &len, &err);
	assert_non_null(s);
	assert_non_null(strstr(s, "Name:"));
	free(s);
}

/* The tail of a growing file: the last bytes, whatever its length. */
static void read_file_tail_cases(void **state)
{
	char path[128];
	struct e2_err err;
	size_t len;
	snprintf(path, sizeof(path), "%s/t", tmpdir);
	write_bytes(path, 100);
	char *s = e2_read_file_tail(path, 1000, &len, &err); /* shorter than the tail: all of it */
	assert_non_null(s);
	assert_int_equal(len, 100);
	assert_int_equal(s[0], 'a');
	free(s);
	s = e2_read_file_tail(path, 10, &len, &err); /* bytes 90..99 */
	assert_non_null(s);
	assert_int_equal(len, 10);
	assert_int_equal(strlen(s), 10);
	assert_int_equal(s[0], 'a' + 90 % 26);
	assert_int_equal(s[9], 'a' + 99 % 26);
	free(s);
	snprintf(path, sizeof(path), "%s/missing", tmpdir);
	assert_null(e2_read_file_tail(path, 10, &len, &err));
	assert_non_null(strstr(err.msg, "No such file"));
}

static char *slurp(const char *path)
{
	size_t len;
	char *s = e2_read_file(path, 0, &len, NULL);
	assert_non_null(s);
	return s;
}

/* Outputs: renamed into place on commit, untouched on abort, never over an input
 * (by any name), and pipes read like files. */
static void output_files(void **state)
{
	char in[128], out[128], link_[128], sym[128], fifo[128];
	const char *inputs[2];
	struct e2_out o;
	struct e2_err err;

	snprintf(in, sizeof(in), "%s/in.txt", tmpdir);
	snprintf(out, sizeof(out), "%s/out.txt", tmpdir);
	snprintf(link_, sizeof(link_), "%s/hard.txt", tmpdir);
	snprintf(sym, sizeof(sym), "%s/sym.txt", tmpdir);
	write_bytes(in, 10);
	inputs[0] = NULL; /* an absent optional input */
	inputs[1] = in;

	assert_int_equal(e2_out_open(&o, out, inputs, 2, &err), 0);
	fputs("first", o.f);
	assert_int_equal(e2_out_commit(&o, &err), 0);
	char *s = slurp(out);
	assert_string_equal(s, "first");
	free(s);

	/* a failed run leaves the old output, and no temporary file, behind */
	assert_int_equal(e2_out_open(&o, out, inputs, 2, &err), 0);
	fputs("half-writ", o.f);
	e2_out_abort(&o);
	s = slurp(out);
	assert_string_equal(s, "first");
	free(s);
	char cmd[256];
	snprintf(cmd, sizeof(cmd), "ls %s | grep -c tmp >/dev/null", tmpdir);
	assert_int_not_equal(system(cmd), 0);

	/* the input, by its own name, a hard link and a symbolic link: refused, unchanged */
	assert_int_equal(link(in, link_), 0);
	assert_int_equal(symlink(in, sym), 0);
	const char *as[] = {in, link_, sym};
	for (size_t i = 0; i < 3; i++) {
		assert_int_equal(e2_out_open(&o, as[i], inputs, 2, &err), -1);
		assert_non_null(strstr(err.msg, "refusing to overwrite it"));
		assert_null(o.f);
	}
	s = slurp(in);
	assert_int_equal(strlen(s), 10);
	free(s);
	assert_int_equal(e2_out_open(&o, tmpdir, NULL, 0, &err), -1);
	assert_non_null(strstr(err.msg, "is a directory"));

	/* a FIFO is written directly (nothing to rename over), and read back as a file */
	snprintf(fifo, sizeof(fifo), "%s/fifo", tmpdir);
	assert_int_equal(mkfifo(fifo, 0600), 0);
	pid_t pid = fork();
	assert_true(pid >= 0);
	if (pid == 0) {
		struct e2_out w;
		if (e2_out_open(&w, fifo, NULL, 0, NULL) || fputs("through a pipe", w.f) < 0 || e2_out_commit(&w, NULL))
			_exit(1);
		_exit(0);
	}
	s = slurp(fifo);
	assert_string_equal(s, "through a pipe");
	free(s);
	int status;
	assert_int_equal(waitpid(pid, &status, 0), pid);
	assert_true(WIFEXITED(status) && WEXITSTATUS(status) == 0);
	unlink(fifo);
	unlink(link_);
	unlink(sym);
	unlink(out);
	unlink(in);
}

static void log_levels_and_lines(void **state)
{
	struct e2_err err;
	char list[4096], line[512];
	e2_log_describe(list, sizeof(list));
	assert_non_null(strstr(list, "test_common info\n"));

	FILE *sink = tmpfile();
	assert_non_null(sink);
	e2_log_set_sink(sink);
	E2_DBG("hidden %d", 1);
	E2_WARN("shown %d", 2);
	assert_int_equal(e2_log_set("test_common:dbg", &err), 0);
	E2_DBG("now shown %d", 3);
	assert_int_equal(e2_log_set("off", &err), 0);
	E2_ERR("not even errors %d", 4);
	assert_int_equal(e2_log_set("all:info", &err), 0);
	e2_log_set_sink(NULL);
	rewind(sink);
	assert_non_null(fgets(line, sizeof(line), sink));
	/* 2026-12-04T05:12:01.123Z|test_common|WARN|shown 2 */
	assert_int_equal(strlen(line), 24 + strlen("|test_common|WARN|shown 2\n"));
	assert_string_equal(line + 24, "|test_common|WARN|shown 2\n");
	assert_true(line[4] == '-' && line[10] == 'T' && line[23] == 'Z');
	assert_non_null(fgets(line, sizeof(line), sink));
	assert_string_equal(line + 24, "|test_common|DBG|now shown 3\n");
	assert_null(fgets(line, sizeof(line), sink));
	fclose(sink);

	/* a wrong spec changes nothing, and says which part is wrong */
	assert_int_equal(e2_log_set("test_common:dbg,nosuch:warn", &err), -1);
	assert_string_equal(err.msg, "no log module 'nosuch'");
	assert_int_equal(e2_log_set("test_common:loud", &err), -1);
	assert_string_equal(err.msg, "unknown log level 'loud' (off, err, warn, info, dbg)");
	assert_int_equal(e2_log_set("", &err), -1);
	assert_int_equal(e2_log_set("dbg,", &err), -1);
	e2_log_describe(list, sizeof(list));
	assert_non_null(strstr(list, "test_common info\n"));
	/* a short buffer: the length it would need, as snprintf */
	size_t need = e2_log_describe(list, 4);
	assert_true(need > 4);
	assert_int_equal(strlen(list), 3);
}

static int setup(void **state)
{
	snprintf(tmpdir, sizeof(tmpdir), "/tmp/e2-common.XXXXXX");
	return mkdtemp(tmpdir) ? 0 : -1;
}

static int teardown(void **state)
{
	char cmd[128];
	snprintf(cmd, sizeof(cmd), "rm -rf '%s'", tmpdir);
	return system(cmd) == 0 ? 0 : -1;
}

/* Every number parser: what it takes, and that each refusal names the option and
 * the range (the messages are part of the interface: the negative corpus greps them). */
/* The line walker: comments, blank lines, a last line without a newline, CR, and every
 * refusal naming origin and line. */
static void lines_walk_and_refuse(void **state)
{
	struct e2_line_iter it;
	struct e2_err err = {0};
	const char text[] = "# head\n\n a b\t c # tail\r\n   \nlast";

	assert_int_equal(e2_line_iter_init(&it, text, strlen(text), "f", &err), 0);
	assert_int_equal(e2_line_iter_next(&it, 4, &err), 1);
	assert_int_equal(it.lineno, 3);
	assert_int_equal(it.n, 3);
	assert_string_equal(it.w[0], "a");
	assert_string_equal(it.w[2], "c");
	assert_int_equal(e2_line_iter_next(&it, 4, &err), 1);
	assert_int_equal(it.lineno, 5);
	assert_int_equal(it.n, 1);
	assert_string_equal(it.w[0], "last");
	assert_int_equal(e2_line_iter_next(&it, 4, &err), 0);
	assert_int_equal(e2_line_iter_next(&it, 4, &err), 0);

	assert_int_equal(e2_line_iter_init(&it, "", 0, "f", &err), 0);
	assert_int_equal(e2_line_iter_next(&it, 4, &err), 0);

	assert_int_equal(e2_line_iter_init(&it, "a\0b\n", 4, "nul.conf", &err), -1);
	assert_string_equal(err.msg, "nul.conf: contains a NUL byte (not a text file)");

	assert_int_equal(e2_line_iter_init(&it, "ok\na b c\n", 9, "w.conf", &err), 0);
	assert_int_equal(e2_line_iter_next(&it, 2, &err), 1);
	assert_int_equal(e2_line_iter_next(&it, 2, &err), -1);
	assert_string_equal(err.msg, "w.conf:2: too many words (at most 2)");

	char *big = malloc(E2_LINE_MAX + 3);
	assert_non_null(big);
	memset(big, 'x', E2_LINE_MAX + 2);
	big[0] = '\n';
	big[E2_LINE_MAX + 2] = '\n';
	assert_int_equal(e2_line_iter_init(&it, big, E2_LINE_MAX + 2, "long.conf", &err), 0);
	assert_int_equal(e2_line_iter_next(&it, 2, &err), -1);
	assert_string_equal(err.msg, "long.conf:2: line longer than 1024 characters");
	/* exactly E2_LINE_MAX characters is a line */
	assert_int_equal(e2_line_iter_init(&it, big, E2_LINE_MAX + 1, "long.conf", &err), 0);
	assert_int_equal(e2_line_iter_next(&it, 2, &err), 1);
	assert_int_equal(strlen(it.w[0]), E2_LINE_MAX);
	free(big);

	/* the stream form walks the same lines the same way, and refuses a NUL by line */
	FILE *f = fmemopen((void *)text, strlen(text), "r");
	assert_non_null(f);
	e2_line_iter_stream(&it, f, "s");
	assert_int_equal(e2_line_iter_next(&it, 4, &err), 1);
	assert_int_equal(it.lineno, 3);
	assert_int_equal(it.n, 3);
	assert_string_equal(it.w[2], "c");
	assert_int_equal(e2_line_iter_next(&it, 4, &err), 1);
	assert_int_equal(it.lineno, 5);
	assert_string_equal(it.w[0], "last");
	assert_int_equal(e2_line_iter_next(&it, 4, &err), 0);
	e2_line_iter_fini(&it);
	fclose(f);
	static const char nul[] = "ok\nx\0y\n";
	f = fmemopen((void *)nul, sizeof nul - 1, "r");
	assert_non_null(f);
	e2_line_iter_stream(&it, f, "<stdin>");
	assert_int_equal(e2_line_iter_next(&it, 4, &err), 1);
	assert_int_equal(e2_line_iter_next(&it, 4, &err), -1);
	assert_string_equal(err.msg, "<stdin>:2: contains a NUL byte (not a text line)");
	e2_line_iter_fini(&it);
	fclose(f);
}

static void numbers_from_text(void **state)
{
	struct e2_err err;
	uint64_t u = 7;
	int64_t i = 7;
	double d = 7;
	int b = 7;

	assert_int_equal(e2_num_u64("n", "42", 0, 100, &u, &err), 0);
	assert_int_equal(u, 42);
	assert_int_equal(e2_num_u64("n", "0x800", 0, 1 << 20, &u, &err), 0);
	assert_int_equal(u, 0x800);
	assert_int_equal(e2_num_u64("n", "010", 0, 100, &u, &err), 0);
	assert_int_equal(u, 10); /* never octal */
	assert_int_equal(e2_num_u64("n", "18446744073709551615", 0, UINT64_MAX, &u, &err), 0);
	assert_true(u == UINT64_MAX);
	const struct {
		const char *s, *msg;
	} bad_u[] = {
		{"", "--count: missing value (not a whole number)"},
		{"-1", "--count=-1: must not be negative"},
		{"101", "--count=101: out of range (1 to 100)"},
		{"0", "--count=0: out of range (1 to 100)"},
		{"18446744073709551616", "--count=18446744073709551616: out of range (1 to 100)"},
		{" 5", "--count= 5: not a whole number"},
		{"5 ", "--count=5 : not a whole number"},
		{"+5", "--count=+5: not a whole number"},
		{"5x", "--count=5x: not a whole number"},
		{"0x", "--count=0x: not a whole number"},
		{"0x0x5", "--count=0x0x5: not a whole number"},
		{"1.5", "--count=1.5: not a whole number"},
		{"nan", "--count=nan: not a whole number"},
	};
	for (size_t k = 0; k < sizeof(bad_u) / sizeof(bad_u[0]); k++) {
		u = 7;
		assert_int_equal(e2_num_u64("--count", bad_u[k].s, 1, 100, &u, &err), -1);
		assert_string_equal(err.msg, bad_u[k].msg);
		assert_int_equal(u, 7);
	}
	assert_int_equal(e2_num_u64("--count", NULL, 1, 100, &u, NULL), -1);

	assert_int_equal(e2_num_i64("core", "-1", -1, 4095, &i, &err), 0);
	assert_int_equal(i, -1);
	assert_int_equal(e2_num_i64("x", "-9223372036854775808", INT64_MIN, INT64_MAX, &i, &err), 0);
	assert_true(i == INT64_MIN);
	assert_int_equal(e2_num_i64("x", "9223372036854775808", INT64_MIN, INT64_MAX, &i, &err), -1);
	assert_int_equal(e2_num_i64("core", "-2", -1, 4095, &i, &err), -1);
	assert_string_equal(err.msg, "core=-2: out of range (-1 to 4095)");
	assert_int_equal(e2_num_i64("core", "--1", -1, 4095, &i, &err), -1);
	assert_string_equal(err.msg, "core=--1: not a whole number");
	int n32;
	uint32_t u32;
	assert_int_equal(e2_num_int("w", "3000000000", 0, INT32_MAX, &n32, &err), -1);
	assert_int_equal(e2_num_u32("w", "4294967295", 0, UINT32_MAX, &u32, &err), 0);
	assert_true(u32 == UINT32_MAX);

	assert_int_equal(e2_num_double("--load", "0.5", 0, 1, &d, &err), 0);
	assert_true(d == 0.5);
	assert_int_equal(e2_num_double("--load", ".5e0", 0, 1, &d, &err), 0);
	const struct {
		const char *s, *msg;
	} bad_d[] = {
		{"nan", "--load=nan: not a finite number"},
		{"-NaN", "--load=-NaN: not a finite number"},
		{"inf", "--load=inf: not a finite number"},
		{"-infinity", "--load=-infinity: not a finite number"},
		{"1e999", "--load=1e999: not a finite number"},
		{"-0.1", "--load=-0.1: out of range (0 to 1)"},
		{"1.0001", "--load=1.0001: out of range (0 to 1)"},
		{"0x1p-1", "--load=0x1p-1: not a number"},
		{" 0.5", "--load= 0.5: not a number"},
		{"0.5s", "--load=0.5s: not a number"},
		{"", "--load: missing value (not a number)"},
	};
	for (size_t k = 0; k < sizeof(bad_d) / sizeof(bad_d[0]); k++) {
		assert_int_equal(e2_num_double("--load", bad_d[k].s, 0, 1, &d, &err), -1);
		assert_string_equal(err.msg, bad_d[k].msg);
	}

	assert_int_equal(e2_num_size("size", "4k", 0, UINT64_MAX, &u, &err), 0);
	assert_int_equal(u, 4096);
	assert_int_equal(e2_num_size("size", "2MiB", 0, UINT64_MAX, &u, &err), 0);
	assert_int_equal(u, 2 << 20);
	assert_int_equal(e2_num_size("size", "64", 0, UINT64_MAX, &u, &err), 0);
	assert_int_equal(u, 64);
	assert_int_equal(e2_num_size("size", "16777216T", 0, UINT64_MAX, &u, &err), -1);
	assert_string_equal(err.msg, "size=16777216T: out of range (0 to 18446744073709551615)");
	assert_int_equal(e2_num_size("size", "4q", 0, UINT64_MAX, &u, &err), -1);
	assert_string_equal(err.msg,
			    "size=4q: not a size (a whole number of bytes with an optional k, M, G or T suffix)");
	assert_int_equal(e2_num_size("size", "-4k", 0, UINT64_MAX, &u, &err), -1);
	assert_string_equal(err.msg, "size=-4k: must not be negative");

	assert_int_equal(e2_num_rate("--rate", "1.5M", 1, 1e8, &d, &err), 0);
	assert_true(d == 1.5e6);
	assert_int_equal(e2_num_rate("--rate", "-5", 1, 1e8, &d, &err), -1);
	assert_string_equal(err.msg, "--rate=-5: out of range (1 to 1e+08)");
	assert_int_equal(e2_num_rate("--rate", "5 pps", 1, 1e8, &d, &err), -1);
	assert_string_equal(err.msg,
			    "--rate=5 pps: not a rate (a number per second with an optional k, M or G suffix)");

	assert_int_equal(e2_num_duration("--duration", "250ms", 0, 3600, &d, &err), 0);
	assert_true(d > 0.2499 && d < 0.2501);
	assert_int_equal(e2_num_duration("--duration", "2m", 0, 3600, &d, &err), 0);
	assert_true(d == 120);
	assert_int_equal(e2_num_duration("--duration", "3", 0, 3600, &d, &err), 0);
	assert_true(d == 3);
	assert_int_equal(e2_num_duration("--duration", "2h", 0, 3600, &d, &err), -1);
	assert_string_equal(err.msg, "--duration=2h: out of range (0 to 3600)");
	assert_int_equal(e2_num_duration("--duration", "nan", 0, 3600, &d, &err), -1);
	assert_string_equal(err.msg, "--duration=nan: not a finite number");

	assert_int_equal(e2_num_bool("client", "1", &b, &err), 0);
	assert_int_equal(b, 1);
	assert_int_equal(e2_num_bool("client", "Off", &b, &err), 0);
	assert_int_equal(b, 0);
	assert_int_equal(e2_num_bool("client", "2", &b, &err), -1);
	assert_string_equal(err.msg, "client=2: not yes or no (1/0, true/false, yes/no, on/off)");

	/* a long value is cut in the message, never overflowing it */
	char long_value[2000];
	memset(long_value, '9', sizeof(long_value) - 1);
	long_value[sizeof(long_value) - 1] = '\0';
	assert_int_equal(e2_num_u64("n", long_value, 0, 10, &u, &err), -1);
	assert_string_equal(err.msg, "n=9999999999999999999999999999999999999999...: out of range (0 to 10)");
}

static uint16_t csum_full(const uint8_t *b, size_t len)
{
	uint32_t s = 0;
	for (size_t i = 0; i + 1 < len; i += 2)
		s += (uint32_t)(b[i] << 8 | b[i + 1]);
	while (s >> 16)
		s = (s & 0xffff) + (s >> 16);
	return (uint16_t)~s;
}

/* 0x0000 and 0xffff are one value in one's complement */
static bool csum_same(uint16_t a, uint16_t b)
{
	return a == b || ((a == 0 || a == 0xffff) && (b == 0 || b == 0xffff));
}

/* The incremental updates against a full recomputation: random spans of 2, 4, 6 and 16
 * bytes (an Embark address) anywhere in a random buffer, the extremes included; the
 * 16- and 32-bit forms (on host-order values) agree with the byte form. */
static void csum_replace_matches_recomputation(void **state)
{
	uint8_t b[40], nw[16];
	uint64_t x = 88172645463325252ull; /* xorshift: the same buffers every run */
	(void)state;
	for (int round = 0; round < 20000; round++) {
		for (size_t i = 0; i < sizeof b; i++) {
			x ^= x << 13, x ^= x >> 7, x ^= x << 17;
			b[i] = (uint8_t)x;
		}
		static const size_t lens[] = {2, 4, 6, 16};
		size_t len = lens[round % 4], at = 2 + 2 * (size_t)(x % ((sizeof b - len - 2) / 2));
		for (size_t i = 0; i < len; i++)
			nw[i] = (uint8_t)(x >> (8 * (i % 8))) ^ (uint8_t)i;
		if (round % 50 == 0)
			memset(nw, round % 100 ? 0xff : 0, len);
		uint16_t c = csum_full(b + 2, sizeof b - 2);
		b[0] = (uint8_t)(c >> 8), b[1] = (uint8_t)c;
		uint16_t by_value = c;
		if (len == 2)
			e2_csum_replace16(&by_value, e2_get_be16(b + at), e2_get_be16(nw));
		else if (len == 4)
			e2_csum_replace32(&by_value, e2_get_be32(b + at), e2_get_be32(nw));
		e2_csum_replace(b, b + at, nw, len);
		memcpy(b + at, nw, len);
		uint16_t got = e2_get_be16(b), want = csum_full(b + 2, sizeof b - 2);
		if (!csum_same(got, want) || (len <= 4 && !csum_same(by_value, want)))
			fail_msg("round %d: len %zu at %zu: %04x (by value %04x), want %04x", round, len, at, got,
				 by_value, want);
	}
}

static void paths_for_configs(void **state)
{
	(void)state;
	assert_true(e2_path_ok("/srv/e2/gw-1/files", 255, NULL));
	assert_true(e2_path_ok("/srv/e2/{instance}", 255, "{}"));
	assert_true(e2_path_ok("/a/..b/c..", 255, NULL)); /* dots inside a name are fine */
	assert_true(e2_path_ok("/", 1, NULL));
	assert_false(e2_path_ok("/srv/{instance}", 255, NULL));
	assert_false(e2_path_ok("srv/e2", 255, NULL)); /* relative */
	assert_false(e2_path_ok("", 255, NULL));
	assert_false(e2_path_ok("/srv/../etc", 255, NULL));
	assert_false(e2_path_ok("/srv/..", 255, NULL));
	assert_false(e2_path_ok("/srv/a b", 255, NULL));  /* a space */
	assert_false(e2_path_ok("/srv/a'b", 255, NULL));  /* a quote */
	assert_false(e2_path_ok("/srv/a\nb", 255, NULL)); /* a newline */
	assert_false(e2_path_ok("/srv/e2", 6, NULL));     /* 7 bytes */
	assert_true(e2_path_ok("/srv/e2", 7, NULL));
}

/* parse ARGS (a NULL-terminated list after argv[0]) to the end or the first refusal;
 * returns the options' values as a string, "!" then the message on a refusal */
static const char *opts_parse_with(const char *shorts, char *buf, size_t len, char **args)
{
	static const struct option longs[] = {{"key", required_argument, NULL, 'k'},
					      {"keep", required_argument, NULL, 'K'},
					      {"verbose", no_argument, NULL, 'v'},
					      {NULL, 0, NULL, 0}};
	char *argv[16] = {"/some/dir/prog"};
	int argc = 1;
	while (args[argc - 1])
		argv[argc] = args[argc - 1], argc++;
	struct e2_err err = {""};
	size_t o = 0;
	int c;
	optind = 0; /* 0, not 1: glibc reads a '+' in shorts only when it starts afresh */
	buf[0] = 0;
	while ((c = e2_opt_next(argc, argv, shorts, longs, &err)) != -1) {
		if (c == E2_OPT_BAD) {
			snprintf(buf, len, "!%s", err.msg);
			return buf;
		}
		o += (size_t)snprintf(buf + o, len - o, "%c%s;", c, c == 'v' ? "" : optarg);
	}
	snprintf(buf + o, len - o, "@%d", optind);
	return buf;
}

static const char *opts_parse(char *buf, size_t len, char **args)
{
	return opts_parse_with("vk:", buf, len, args);
}

static void options_refused_by_name(void **state)
{
	(void)state;
	char b[256];
	assert_string_equal(opts_parse(b, sizeof b, (char *[]){"--key", "a", "-v", "--keep=b", "x", NULL}),
			    "ka;v;Kb;@5");
	assert_string_equal(opts_parse(b, sizeof b, (char *[]){"-vkz", NULL}), "v;kz;@2");
	assert_string_equal(opts_parse(b, sizeof b, (char *[]){"--bogus", NULL}),
			    "!unknown option --bogus (--help lists the options)");
	assert_string_equal(opts_parse(b, sizeof b, (char *[]){"--bogus=1", NULL}),
			    "!unknown option --bogus (--help lists the options)");
	assert_string_equal(opts_parse(b, sizeof b, (char *[]){"-vx", NULL}),
			    "!unknown option -x (--help lists the options)");
	assert_string_equal(opts_parse(b, sizeof b, (char *[]){"--ke", "v", NULL}),
			    "!unknown option --ke (--help lists the options)"); /* ambiguous */
	assert_string_equal(opts_parse(b, sizeof b, (char *[]){"-v", "--key", NULL}),
			    "!--key needs a value (--help lists the options)");
	assert_string_equal(opts_parse(b, sizeof b, (char *[]){"-k", NULL}),
			    "!-k needs a value (--help lists the options)");
	assert_string_equal(opts_parse(b, sizeof b, (char *[]){"--verbose=yes", NULL}),
			    "!--verbose takes no value (--help lists the options)");
	/* '+' (stop at the first operand: a subcommand's options follow it) still works */
	assert_string_equal(opts_parse_with("+vk:", b, sizeof b, (char *[]){"-v", "sub", "--bogus", NULL}), "v;@2");
	assert_string_equal(opts_parse_with("+vk:", b, sizeof b, (char *[]){"-k", NULL}),
			    "!-k needs a value (--help lists the options)");
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(crc32c_check_value),      cmocka_unit_test(csum_replace_matches_recomputation),
		cmocka_unit_test(flow_id_golden_vectors),  cmocka_unit_test(flow_hash_matches_definition),
		cmocka_unit_test(err_context_rises),       cmocka_unit_test(read_file_cases),
		cmocka_unit_test(read_file_tail_cases),    cmocka_unit_test(output_files),
		cmocka_unit_test(log_levels_and_lines),    cmocka_unit_test(numbers_from_text),
		cmocka_unit_test(lines_walk_and_refuse),   cmocka_unit_test(paths_for_configs),
		cmocka_unit_test(options_refused_by_name),
	};
	return cmocka_run_group_tests(tests, setup, teardown);
}
