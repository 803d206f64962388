/* common/: flow-ID golden vectors (the values vswitch/README-modules.md documents), the
 * inline CRC against the portable one, the error type, the file reader, the log. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include <arpa/inet.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "e2/err.h"
#include "e2/file.h"
#include "e2/flowid.h"
#include "e2/log.h"

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

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(crc32c_check_value),
		cmocka_unit_test(flow_id_golden_vectors),
		cmocka_unit_test(flow_hash_matches_definition),
		cmocka_unit_test(err_context_rises),
		cmocka_unit_test(read_file_cases),
		cmocka_unit_test(log_levels_and_lines),
	};
	return cmocka_run_group_tests(tests, setup, teardown);
}
