/* SPDX-License-Identifier: BSD-3-Clause */
/* Shared by the embark-* tools: pcap input, atomic pcap/text output, link-layer framing. */
#ifndef EMBARK_PCAPIO_H
#define EMBARK_PCAPIO_H
#include <pcap/pcap.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>

#include "e2/file.h"

pcap_t *pcapio_open_in(const char *path, char *err, size_t errlen);

/* Output written to a temporary file beside `path` and renamed only on commit, so a failed
 * run never leaves a half-written file. */
typedef struct {
	pcap_t *dead;
	pcap_dumper_t *dumper;
	struct e2_out out;
} atomic_out;
/* `inputs` are the n files the tool reads (NULL entries skipped): an output that is one
 * of them is refused, whatever name or link it is given by. */
int atomic_open_pcap(atomic_out *o, const char *path, const char *const *inputs, size_t n, const pcap_t *like,
		     char *err, size_t errlen);
FILE *atomic_open_text(atomic_out *o, const char *path, const char *const *inputs, size_t n, char *err, size_t errlen);
int atomic_commit(atomic_out *o, char *err, size_t errlen);
void atomic_abort(atomic_out *o);

/* Where the L3 packet starts for this link type; sets *ethertype_off (or -1 for raw IP).
 * Returns -1 if the frame is not IP over a supported link. */
int pcapio_l3(int linktype, const uint8_t *pkt, size_t len, size_t *l3off, int *ethertype_off);
bool pcapio_linktype_supported(int linktype);

/* Reads a whole file with a size cap; prints nothing. */
#endif
