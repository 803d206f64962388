/* SPDX-License-Identifier: BSD-3-Clause */
#include "e2/flowid.h"

uint32_t e2_crc32c_sw(uint32_t crc, const void *p, size_t n)
{
	const unsigned char *b = p;
	for (size_t i = 0; i < n; i++) {
		crc ^= b[i];
		for (int k = 0; k < 8; k++)
			crc = (crc >> 1) ^ (0x82F63B78u & (0u - (crc & 1u)));
	}
	return crc;
}

uint32_t e2_crc32c(const void *p, size_t n)
{
	return e2_crc32c_sw(0xFFFFFFFFu, p, n) ^ 0xFFFFFFFFu;
}
