/* SPDX-License-Identifier: BSD-3-Clause */
/* The capture module with real mbufs: bounded by count and by time, traffic passes
 * throughout, the file reads back with libpcap (and tcpdump, when installed, which
 * must also decode the NSH frames nsh_push writes). */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <unistd.h>

#include <cmocka.h>
#include <pcap/pcap.h>

#include "ctl.h"
#include "test_util.h"

static struct e2_dp dp;
static char dir[64];

#define ctl(...) test_ctl(&dp, __VA_ARGS__)

static int setup(void **state)
{
	snprintf(dir, sizeof(dir), "/tmp/e2-test-capture-XXXXXX");
	if (!mkdtemp(dir))
		return -1;
	return test_dp_start(&dp, "e2-test-capture", 1023);
}

static int teardown(void **state)
{
	char cmd[128];
	test_dp_stop(&dp);
	snprintf(cmd, sizeof(cmd), "rm -rf %s", dir);
	return system(cmd) == 0 ? 0 : -1;
}

static void destroy_all(void)
{
	assert_int_equal(test_dp_clear(&dp), 0); /* no packet buffer leaked */
}

static void send_pkts(const char *into, unsigned n, uint16_t sport)
{
	struct e2_batch b = {0};
	for (unsigned i = 0; i < n; i++)
		b.pkts[b.cnt++] = make_udp(dp.pool, "02:00:00:00:00:01", 0x0a000001, 0x0a000002, sport, 80, 100);
	push(&dp, into, &b);
}

/* Packets in a pcap file, each checked to be a 100-byte frame with the given source port. */
static int count_pcap(const char *path, uint16_t sport)
{
	char errbuf[PCAP_ERRBUF_SIZE];
	struct pcap_pkthdr *h;
	const u_char *d;
	int n = 0;
	pcap_t *p = pcap_open_offline(path, errbuf);
	assert_non_null(p);
	assert_int_equal(pcap_datalink(p), DLT_EN10MB);
	while (pcap_next_ex(p, &h, &d) == 1) {
		assert_int_equal(h->len, 100);
		assert_int_equal(d[34] << 8 | d[35], sport);
		n++;
	}
	pcap_close(p);
	return n;
}

static void test_capture_count_and_time(void **state)
{
	char f1[128], f2[128];
	snprintf(f1, sizeof(f1), "%s/count.pcap", dir);
	snprintf(f2, sizeof(f2), "%s/time.pcap", dir);
	assert_int_equal(ctl("module add cap capture"), 0);
	assert_int_equal(ctl("module add c collect"), 0);
	assert_int_equal(ctl("connect cap c"), 0);
	send_pkts("cap", 4, 1); /* not capturing yet */
	assert_int_equal(ctl("module cmd cap start file=%s count=10", f1), 0);
	assert_int_not_equal(ctl("module cmd cap start file=%s count=10", f2), 0); /* busy */
	send_pkts("cap", 8, 7);
	send_pkts("cap", 8, 7);
	send_pkts("cap", 8, 9); /* after the bound */
	assert_int_equal(collected(&dp, "c")->n[0], 28);
	assert_int_equal(count_pcap(f1, 7), 10);

	/* time bound: what comes after it is not written. The bound is the capture's own
	 * clock (the TSC), so the test reads the same clock rather than trusting a sleep:
	 * a descheduled test thread may send its first packets after the bound. */
	uint64_t t0 = rte_rdtsc();
	assert_int_equal(ctl("module cmd cap start file=%s seconds=0.2", f2), 0);
	send_pkts("cap", 5, 3);
	bool in_time = test_secs_since(t0) < 0.2;
	while (test_secs_since(t0) < 0.25)
		usleep(1000);
	send_pkts("cap", 5, 4);
	/* count_pcap also asserts that every packet written has source port 3: none after the bound */
	if (in_time)
		assert_int_equal(count_pcap(f2, 3), 5);
	else
		print_message("test thread stalled past the bound (%d of 5 before it written)\n", count_pcap(f2, 3));
	assert_int_equal(collected(&dp, "c")->n[0], 38);

	/* stop closes early */
	assert_int_equal(ctl("module cmd cap start file=%s count=1000", f1), 0);
	send_pkts("cap", 3, 5);
	assert_int_equal(ctl("module cmd cap stop"), 0);
	send_pkts("cap", 3, 6);
	assert_int_equal(count_pcap(f1, 5), 3);

	/* refused */
	assert_int_not_equal(ctl("module cmd cap start file=%s", f1), 0);
	assert_int_not_equal(ctl("module cmd cap start count=3"), 0);
	assert_int_not_equal(ctl("module cmd cap start file=/nonexistent-dir/x.pcap count=3"), 0);
	assert_int_not_equal(ctl("module cmd cap start file=%s seconds=-1", f1), 0);
	assert_int_not_equal(ctl("module cmd cap start file=%s seconds=soon", f1), 0);
	assert_int_not_equal(ctl("module cmd cap start file=%s count=0", f1), 0);
	assert_int_not_equal(ctl("module cmd cap start file=%s count=3 snaplen=2", f1), 0);
	assert_int_not_equal(ctl("module add cap2 capture file=x"), 0);
	destroy_all();
}

/* tcpdump reads the file and decodes NSH (RFC 8300) with its TLVs. */
static void test_capture_nsh_tcpdump(void **state)
{
	char f[128], cmd[512];
	if (!test_have_tool("tcpdump") || !test_have_tool("tshark")) {
		TEST_SKIP_WITHOUT("tcpdump");
		TEST_SKIP_WITHOUT("tshark");
	}
	snprintf(f, sizeof(f), "%s/nsh.pcap", dir);
	assert_int_equal(ctl("module add p nsh_push spi=77 si=200 safe=1 url=example.com"), 0);
	assert_int_equal(ctl("module add cap capture"), 0);
	assert_int_equal(ctl("module add c collect"), 0);
	assert_int_equal(ctl("connect p cap"), 0);
	assert_int_equal(ctl("connect cap c"), 0);
	assert_int_equal(ctl("module cmd cap start file=%s count=2", f), 0);
	struct e2_batch b = {.cnt = 2};
	b.pkts[0] = make_udp(dp.pool, "02:00:00:00:00:01", 0x0a000001, 0x0a000002, 1, 80, 100);
	b.pkts[1] = make_udp(dp.pool, "02:00:00:00:00:01", 0x0a000001, 0x0a000002, 2, 80, 100);
	push(&dp, "p", &b);
	snprintf(
		cmd, sizeof(cmd),
		"tcpdump -r %s -nn -vvv 2>/dev/null | grep -c 'NSH.*service-path-id 0x00004d, service-index 0xc8' | grep -qx 2",
		f);
	assert_int_equal(system(cmd), 0);
	snprintf(cmd, sizeof(cmd),
		 "tcpdump -r %s -nn -vvv 2>/dev/null | grep -c 'TLV Class 65526, Type 2, Len 11' | grep -qx 2", f);
	assert_int_equal(system(cmd), 0);
	/* Wireshark's dissector decodes the same */
	snprintf(cmd, sizeof(cmd),
		 "tshark -r %s -T fields -e nsh.spi -e nsh.si -e nsh.metadataclass -e nsh.metadatatype 2>/dev/null"
		 " | grep -cx '77.200.65526,65526.1,2' | grep -qx 2",
		 f);
	assert_int_equal(system(cmd), 0);
	if (getenv("E2_KEEP_PCAP")) {
		snprintf(cmd, sizeof(cmd), "cp %s %s", f, getenv("E2_KEEP_PCAP"));
		assert_int_equal(system(cmd), 0);
	}
	snprintf(cmd, sizeof(cmd),
		 "tcpdump -r %s -nn 2>/dev/null | grep -c 'NSH.* 10.0.0.1.[12] > 10.0.0.2.80: ' | grep -qx 2", f);
	assert_int_equal(system(cmd), 0);
	destroy_all();
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_capture_count_and_time),
		cmocka_unit_test(test_capture_nsh_tcpdump),
	};
	return test_exit_status(cmocka_run_group_tests(tests, setup, teardown));
}
