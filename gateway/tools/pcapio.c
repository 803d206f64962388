/* SPDX-License-Identifier: BSD-3-Clause */
#include "pcapio.h"

#include <errno.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

pcap_t *pcapio_open_in(const char *path, char *err, size_t errlen)
{
	char perr[PCAP_ERRBUF_SIZE];
	/* Keep the file's own timestamp precision so outputs mirror inputs byte for byte. */
	int prec = PCAP_TSTAMP_PRECISION_MICRO;
	FILE *f = fopen(path, "rb");
	uint8_t m[4];
	if (f && fread(m, 1, 4, f) == 4 &&
	    ((m[0] == 0xa1 && m[1] == 0xb2 && m[2] == 0x3c && m[3] == 0x4d) ||
	     (m[0] == 0x4d && m[1] == 0x3c && m[2] == 0xb2 && m[3] == 0xa1)))
		prec = PCAP_TSTAMP_PRECISION_NANO;
	if (f)
		fclose(f);
	pcap_t *p = pcap_open_offline_with_tstamp_precision(path, prec, perr);
	if (!p) {
		snprintf(err, errlen, "%s: cannot read pcap: %s", path, perr);
		return NULL;
	}
	if (!pcapio_linktype_supported(pcap_datalink(p))) {
		snprintf(err, errlen, "%s: unsupported link type %s (Ethernet or raw IP only)", path,
			 pcap_datalink_val_to_name(pcap_datalink(p)) ? pcap_datalink_val_to_name(pcap_datalink(p))
								     : "?");
		pcap_close(p);
		return NULL;
	}
	return p;
}

bool pcapio_linktype_supported(int lt)
{
	return lt == DLT_EN10MB || lt == DLT_RAW || lt == DLT_IPV4 || lt == DLT_IPV6;
}

static int make_tmp(atomic_out *o, const char *path, const char *const *inputs, size_t n, char *err, size_t errlen)
{
	struct e2_err e;
	memset(o, 0, sizeof *o);
	if (e2_out_open(&o->out, path, inputs, n, &e)) {
		snprintf(err, errlen, "%s", e.msg);
		return -1;
	}
	return 0;
}

int atomic_open_pcap(atomic_out *o, const char *path, const char *const *inputs, size_t n, const pcap_t *like,
		     char *err, size_t errlen)
{
	if (make_tmp(o, path, inputs, n, err, errlen))
		return -1;
	pcap_t *l = (pcap_t *)like;
	int lt = pcap_datalink(l);
	if (lt == DLT_IPV4 || lt == DLT_IPV6)
		lt = DLT_RAW; /* the transform changes the IP version */
	o->dead = pcap_open_dead_with_tstamp_precision(lt, pcap_snapshot(l), pcap_get_tstamp_precision(l));
	/* the dumper gets a stream of its own on the same file, so closing it (which
   * pcap_dump_close does) and committing o->out stay separate steps */
	int fd = o->dead ? dup(fileno(o->out.f)) : -1;
	FILE *df = fd >= 0 ? fdopen(fd, "wb") : NULL;
	if (!df && fd >= 0)
		close(fd);
	if (df)
		o->dumper = pcap_dump_fopen(o->dead, df);
	if (df && !o->dumper)
		fclose(df);
	if (!o->dumper) {
		snprintf(err, errlen, "%s: cannot start pcap output", path);
		atomic_abort(o);
		return -1;
	}
	return 0;
}

FILE *atomic_open_text(atomic_out *o, const char *path, const char *const *inputs, size_t n, char *err, size_t errlen)
{
	return make_tmp(o, path, inputs, n, err, errlen) ? NULL : o->out.f;
}

int atomic_commit(atomic_out *o, char *err, size_t errlen)
{
	struct e2_err e;
	if (o->dumper) {
		int bad = pcap_dump_flush(o->dumper) != 0;
		pcap_dump_close(o->dumper);
		o->dumper = NULL;
		if (bad) {
			snprintf(err, errlen, "%s: write failed", o->out.path);
			atomic_abort(o);
			return -1;
		}
	}
	if (e2_out_commit(&o->out, &e)) {
		snprintf(err, errlen, "%s", e.msg);
		atomic_abort(o);
		return -1;
	}
	atomic_abort(o);
	return 0;
}

void atomic_abort(atomic_out *o)
{
	if (o->dumper)
		pcap_dump_close(o->dumper);
	e2_out_abort(&o->out);
	if (o->dead)
		pcap_close(o->dead);
	memset(o, 0, sizeof *o);
}

int pcapio_l3(int lt, const uint8_t *pkt, size_t len, size_t *l3off, int *ethertype_off)
{
	if (lt != DLT_EN10MB) {
		*l3off = 0;
		*ethertype_off = -1;
		return 0;
	}
	size_t off = 12;
	for (int tags = 0; tags < 2 && off + 2 <= len && (pkt[off] << 8 | pkt[off + 1]) == 0x8100; tags++)
		off += 4; /* up to two VLAN tags */
	if (off + 2 > len)
		return -1;
	int et = pkt[off] << 8 | pkt[off + 1];
	if (et != 0x0800 && et != 0x86DD)
		return -1;
	*ethertype_off = (int)off;
	*l3off = off + 2;
	return 0;
}
