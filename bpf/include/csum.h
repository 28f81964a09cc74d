/* SPDX-License-Identifier: GPL-2.0 */
/* Internet checksums (RFC 1071) over headers we write ourselves. */
#ifndef XLB_CSUM_H
#define XLB_CSUM_H

#include <linux/types.h>

static __always_inline __u16 xlb_csum_fold(__u64 sum)
{
	sum = (sum & 0xffffffff) + (sum >> 32);
	sum = (sum & 0xffff) + (sum >> 16);
	sum = (sum & 0xffff) + (sum >> 16);
	sum = (sum & 0xffff) + (sum >> 16);
	return ~sum & 0xffff;
}

/* Sum of a fixed number of 16-bit words: the count is a constant, so clang unrolls it. */
static __always_inline __u64 xlb_csum_words(const void *p, int words, __u64 sum)
{
	const __u16 *w = p;

#pragma unroll
	for (int i = 0; i < words; i++)
		sum += w[i];
	return sum;
}

/* The IPv4 header checksum of a 20-byte header whose check field is zero. */
static __always_inline __u16 xlb_ipv4_csum(const void *iph)
{
	return xlb_csum_fold(xlb_csum_words(iph, 10, 0));
}

#endif /* XLB_CSUM_H */
