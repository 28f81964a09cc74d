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

_Static_assert(__BYTE_ORDER__ == __ORDER_LITTLE_ENDIAN__, "xlb_ipv4_write's words are little-endian");

/*
 * A 20-byte IPv4 header (id 0) written as its five 32-bit words, its
 * checksum summed from them in registers: RFC 1071's sum does not mind how
 * the 16-bit words are grouped, and reading back what was just written,
 * two bytes at a time over byte stores, costs more than the sum.
 * frag_off and the addresses in network order; each word as it lies in
 * memory on this little-endian target.
 */
static __always_inline void xlb_ipv4_write(void *iph, __u8 tos, __u16 tot_len, __be16 frag_off, __u8 ttl,
					   __u8 protocol, __be32 saddr, __be32 daddr)
{
	__u32 version_len = 0x45 | (__u32)tos << 8 | (__u32)__builtin_bswap16(tot_len) << 16;
	__u32 id_frag = (__u32)frag_off << 16, ttl_proto = ttl | (__u32)protocol << 8;
	__u64 sum = (__u64)version_len + id_frag + ttl_proto + saddr + daddr;
	__u32 *word = iph;

	word[0] = version_len;
	word[1] = id_frag;
	word[2] = ttl_proto | (__u32)xlb_csum_fold(sum) << 16;
	word[3] = saddr;
	word[4] = daddr;
}

#endif /* XLB_CSUM_H */
