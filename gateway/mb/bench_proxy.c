/* SPDX-License-Identifier: BSD-3-Clause */
/* embark-proxy-bench: the work of a cache hit in embark-proxy, alone, beside the same work
 * of a plaintext cache in one process (bench/embark-proxy prints it as Table 4.3's Web
 * Proxy row). A page of --size bytes, sealed as gateway B seals content (AES-128-SIV
 * segments of --mss bytes), is stored in mb_cache and served again and again with
 * mb_serve, the client acknowledging each batch and closing: each thing to send built as
 * embark-proxy builds it (mb_serve_header with timestamps, embark_frame_build: the frame
 * MAC, the content block, the payload copied, the TCP checksum, an Ethernet header) —
 * against a plaintext cache's packet of the same segment (Ethernet, IPv4 with its
 * checksum, the same TCP header, the payload copied, the TCP checksum; libembark's checksum
 * routines on both sides). No I/O: what the
 * serving costs a core. Thread CPU time; plain and Embark runs alternate; medians.
 * Prints proxy_serve_<enc|plain>_ns_per_page, _gbps, proxy_serve_enc_vs_plain. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "e2/bytes.h"
#include "e2/num.h"
#include "e2/opts.h"
#include "embark.h"
#include "gw_internal.h" /* the checksums the frames use, for the plaintext packets too */
#include "mb_cache.h"
#include "mb_serve.h"

#define OUT_BATCH 32
#define FRAME_CAP 2048

static uint64_t thread_ns(void)
{
	struct timespec ts;
	clock_gettime(CLOCK_THREAD_CPUTIME_ID, &ts);
	return (uint64_t)ts.tv_sec * 1000000000u + (uint64_t)ts.tv_nsec;
}

/* A plaintext cache's packet: Ethernet, IPv4, the TCP header, the stored payload. */
static size_t plain_packet(const uint8_t *tcp, size_t tl, const struct mb_cache_seg *g, uint8_t *out)
{
	static const uint8_t src[4] = {10, 9, 0, 2}, dst[4] = {10, 9, 0, 1};
	size_t pay = g ? g->len : 0, l4 = tl + pay;
	memset(out, 0x02, 12);
	out[12] = 0x08;
	out[13] = 0;
	uint8_t *ip = out + 14;
	memset(ip, 0, 20);
	ip[0] = 0x45;
	e2_put_be16(ip + 2, (uint16_t)(20 + l4));
	ip[6] = 0x40;
	ip[8] = 64;
	ip[9] = 6;
	memcpy(ip + 12, src, 4);
	memcpy(ip + 16, dst, 4);
	embark_ipv4_csum(ip, 20);
	uint8_t *th = ip + 20;
	memcpy(th, tcp, tl);
	if (pay)
		memcpy(th + tl, g->data, pay);
	th[16] = th[17] = 0;
	e2_put_be16(th + 16, embark_l4_csum(6, ip + 12, ip + 16, false, th, l4)); /* as the frame's */
	return 14 + 20 + l4;
}

struct served {
	uint64_t frames, bytes;
	uint8_t sink; /* a byte of every frame, so that no build is optimised away */
};

/* One hit: the object served to a client that acknowledges each batch, then closes. */
static int serve_page(embark_framer *fr, const struct mb_cache_obj *o, bool enc, struct served *sv)
{
	static uint8_t buf[FRAME_CAP];
	static const uint8_t sport[2] = {0x1f, 0x90}, dport[2] = {0xc3, 0x50};
	static const uint8_t saddr[16] = {0xfd, 1}, daddr[16] = {0xfd, 2};
	const uint32_t iss = 1000, rcv = 5000, ts[2] = {123456, 654321};
	struct mb_serve s;
	struct mb_serve_out out[OUT_BATCH];
	mb_serve_start(&s, o, iss, rcv, 1u << 20, 0);
	bool fin_sent = false, client_fin = false;
	for (int rounds = 0; !mb_serve_done(&s); rounds++) {
		if (rounds > 100000)
			return -1;
		size_t n = mb_serve_next(&s, 0, out, OUT_BATCH);
		for (size_t i = 0; i < n; i++) {
			uint8_t tcp[MB_SERVE_HDR_MAX];
			size_t tl = mb_serve_header(&out[i], sport, dport, ts, tcp), len;
			const struct mb_cache_seg *g = out[i].kind == MB_SERVE_SEG ? &o->segs[out[i].seg] : NULL;
			if (enc) {
				embark_frame f = {.label = 1, .nonce = (uint32_t)sv->frames, .tcp = tcp, .tcp_len = tl};
				memcpy(f.src, saddr, 16);
				memcpy(f.dst, daddr, 16);
				if (g) {
					f.content = &g->ci;
					f.payload = g->data;
					f.payload_len = g->len;
				}
				memset(buf, 0x02, 12);
				buf[12] = 0x86;
				buf[13] = 0xdd;
				if (embark_frame_build(fr, &f, buf + 14, sizeof buf - 14, &len) != EMBARK_OK)
					return -1;
				len += 14;
			} else {
				len = plain_packet(tcp, tl, g, buf);
			}
			sv->frames++;
			sv->bytes += len;
			sv->sink ^= buf[len - 1];
			fin_sent |= out[i].kind == MB_SERVE_FIN;
		}
		/* the client: everything so far acknowledged; once the FIN is in, its own FIN */
		bool fin_now = fin_sent && !client_fin;
		mb_serve_client(&s, rcv, 0, iss + (uint32_t)s.nxt, 1u << 20, fin_now ? 0x11 : 0x10, 0);
		client_fin |= fin_now;
	}
	return 0;
}

static int cmp_u64(const void *a, const void *b)
{
	uint64_t x = *(const uint64_t *)a, y = *(const uint64_t *)b;
	return x < y ? -1 : x > y;
}

int main(int argc, char **argv)
{
	uint64_t size = 65536, mss = 1328, runs = 9, pages = 2000;
	struct e2_err err;
	static const char usage[] = "usage: embark-proxy-bench [--size BYTES] [--mss N] [--runs N] [--pages N]\n"
				    "  the work of an embark-proxy cache hit alone, beside a plaintext cache's;\n"
				    "  prints key=value lines (bench/embark-proxy runs it)\n";
	static const struct option longs[] = {
		{"size", required_argument, NULL, 's'}, {"mss", required_argument, NULL, 'm'},
		{"runs", required_argument, NULL, 'r'}, {"pages", required_argument, NULL, 'p'},
		{"help", no_argument, NULL, 'h'},       {NULL, 0, NULL, 0}};
	int c, rc = 0;
	while ((c = e2_opt_next(argc, argv, "h", longs, &err)) != -1 && rc == 0) {
		switch (c) {
		case 's': rc = e2_num_size("--size", optarg, 1, 64 << 20, &size, &err); break;
		case 'm': rc = e2_num_u64("--mss", optarg, 64, 1460, &mss, &err); break;
		case 'r': rc = e2_num_u64("--runs", optarg, 1, 1000, &runs, &err); break;
		case 'p': rc = e2_num_u64("--pages", optarg, 1, 1000000, &pages, &err); break;
		case 'h': fputs(usage, stdout); return 0;
		default: rc = -1; break;
		}
	}
	if (rc == 0 && optind < argc) {
		e2_seterr(&err, "unexpected argument %s (--help lists the options)", argv[optind]);
		rc = -1;
	}
	if (rc) {
		fprintf(stderr, "embark-proxy-bench: %s\n", err.msg);
		return 2;
	}
	uint8_t master[EMBARK_MASTER_KEY_LEN], frame_master[EMBARK_MASTER_KEY_LEN];
	for (size_t i = 0; i < sizeof master; i++) {
		master[i] = (uint8_t)(i * 7 + 1);
		frame_master[i] = (uint8_t)(i * 13 + 5);
	}
	embark_keys *keys = embark_keys_from_master(master), *fkeys = embark_keys_from_master(frame_master);
	embark_framer *fr = fkeys ? embark_framer_new(fkeys) : NULL;
	struct mb_cache *cache = mb_cache_new(4, size * 2 + (1 << 20));
	uint8_t uri_id[EMBARK_URI_ID_LEN];
	static const char uri[] = "origin.example/c/page.bin";
	if (!keys || !fr || !cache || embark_uri_id(keys, (const uint8_t *)uri, sizeof uri - 1, uri_id) != 0) {
		fprintf(stderr, "embark-proxy-bench: cannot set up keys or the cache\n");
		return 1;
	}
	embark_content *ck = embark_content_new(keys, uri_id);
	uint8_t *page = malloc(size);
	if (!ck || !page)
		return 1;
	for (uint64_t i = 0; i < size; i++)
		page[i] = (uint8_t)(i * 31 + 7);
	/* the page sealed as gateway B seals it, and stored as embark-proxy stores it */
	for (uint64_t off = 0; off < size; off += mss) {
		size_t len = size - off < mss ? size - off : mss;
		embark_content_info ci = {.seg = {.offset = off, .last = off + len == size},
					  .cacheable = true,
					  .lifetime_s = 300,
					  .present = true};
		memset(ci.seg.tag, 0x5a, sizeof ci.seg.tag);
		memcpy(ci.uri_id, uri_id, sizeof uri_id);
		if (embark_content_seal(ck, &ci.seg, page + off, len, ci.siv) != 0 ||
		    mb_cache_put(cache, &ci, page + off, len, 0) == MB_CACHE_DROPPED) {
			fprintf(stderr, "embark-proxy-bench: cannot seal or store the page\n");
			return 1;
		}
	}
	struct mb_cache_obj *o = mb_cache_get(cache, uri_id, 0);
	if (!o) {
		fprintf(stderr, "embark-proxy-bench: the page is not complete in the cache\n");
		return 1;
	}
	uint64_t *ns[2];
	ns[0] = calloc(runs, sizeof(uint64_t));
	ns[1] = calloc(runs, sizeof(uint64_t));
	struct served sv[2] = {{0}};
	for (uint64_t r = 0; r < runs; r++)
		for (int enc = 0; enc < 2; enc++) {
			uint64_t t0 = thread_ns();
			for (uint64_t p = 0; p < pages; p++)
				if (serve_page(fr, o, enc, &sv[enc]) != 0) {
					fprintf(stderr, "embark-proxy-bench: a serve did not finish\n");
					return 1;
				}
			ns[enc][r] = (thread_ns() - t0) / pages;
		}
	qsort(ns[0], runs, sizeof(uint64_t), cmp_u64);
	qsort(ns[1], runs, sizeof(uint64_t), cmp_u64);
	uint64_t plain = ns[0][runs / 2], enc = ns[1][runs / 2];
	uint64_t per_page = pages * runs;
	printf("proxy_serve_page_bytes=%llu\nproxy_serve_frames_per_page=%llu\n", (unsigned long long)size,
	       (unsigned long long)(sv[1].frames / per_page));
	printf("proxy_serve_enc_bytes_per_page=%llu\nproxy_serve_plain_bytes_per_page=%llu\n",
	       (unsigned long long)(sv[1].bytes / per_page), (unsigned long long)(sv[0].bytes / per_page));
	printf("proxy_serve_enc_ns_per_page=%llu\nproxy_serve_plain_ns_per_page=%llu\n", (unsigned long long)enc,
	       (unsigned long long)plain);
	printf("proxy_serve_enc_ns_per_page_min=%llu\nproxy_serve_enc_ns_per_page_max=%llu\n",
	       (unsigned long long)ns[1][0], (unsigned long long)ns[1][runs - 1]);
	printf("proxy_serve_enc_gbps=%.2f\nproxy_serve_plain_gbps=%.2f\nproxy_serve_enc_vs_plain=%.3f\n",
	       (double)size * 8 / (double)enc, (double)size * 8 / (double)plain, (double)plain / (double)enc);
	printf("proxy_serve_runs=%llu\nproxy_serve_pages_per_run=%llu\nproxy_serve_sink=%u\n", (unsigned long long)runs,
	       (unsigned long long)pages, (unsigned)(sv[0].sink ^ sv[1].sink));
	mb_cache_unpin(cache, o);
	mb_cache_free(cache);
	embark_content_free(ck);
	embark_framer_free(fr);
	embark_keys_free(keys);
	embark_keys_free(fkeys);
	free(page);
	free(ns[0]);
	free(ns[1]);
	return 0;
}
