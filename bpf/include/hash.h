/* SPDX-License-Identifier: GPL-2.0 */
/*
 * Flow hashing, shared by the XDP program and userspace (tests and tools
 * compute the very same backend choice).
 *
 * Multilinear: each 64-bit word of the key times its own odd constant,
 * summed, then one xorshift-multiply round to carry every input bit into
 * the top half, which is what we return. The products do not depend on
 * each other, so the CPU overlaps them; a Murmur-style chain of nine
 * dependent rounds cost 30 ns of a 70 ns packet here (see BENCHMARKS.md).
 * BPF has 64-bit multiplies but no rotate, so no 32-bit rotations either.
 */
#ifndef XLB_HASH_H
#define XLB_HASH_H

#include "xlb_common.h"

#ifndef __always_inline
#define __always_inline inline __attribute__((always_inline))
#endif

#define XLB_HASH_K0	0x9e3779b185ebca87ull
#define XLB_HASH_K1	0xc2b2ae3d27d4eb4full
#define XLB_HASH_K2	0x165667b19e3779f9ull
#define XLB_HASH_K3	0x85ebca77c2b2ae63ull
#define XLB_HASH_K4	0x27d4eb2f165667c5ull
#define XLB_HASH_MIX	0xff51afd7ed558ccdull

/* Two 32-bit words of a key; the first in the low half, so IPv4's only word mixes from bit 0. */
static __always_inline __u64 xlb_hash_word(__be32 lo, __be32 hi)
{
	return (__u64)lo | ((__u64)hi << 32);
}

static __always_inline __u32 xlb_hash_final(__u64 h)
{
	h ^= h >> 32;
	h *= XLB_HASH_MIX;
	h ^= h >> 29;
	return (__u32)(h >> 32);
}

/* The client's address only: for source-affinity VIPs. */
static __always_inline __u32 xlb_hash_src(const struct xlb_flow_key *k)
{
	return xlb_hash_final(xlb_hash_word(k->src[0], k->src[1]) * XLB_HASH_K0 +
			      xlb_hash_word(k->src[2], k->src[3]) * XLB_HASH_K1 +
			      (__u64)k->family * XLB_HASH_K4);
}

/* The whole 5-tuple. */
static __always_inline __u32 xlb_hash_flow(const struct xlb_flow_key *k)
{
	__u64 ports = ((__u32)k->sport << 16) | k->dport;
	__u64 kind = ((__u64)k->proto << 8) | k->family;

	return xlb_hash_final(xlb_hash_word(k->src[0], k->src[1]) * XLB_HASH_K0 +
			      xlb_hash_word(k->src[2], k->src[3]) * XLB_HASH_K1 +
			      xlb_hash_word(k->dst[0], k->dst[1]) * XLB_HASH_K2 +
			      xlb_hash_word(k->dst[2], k->dst[3]) * XLB_HASH_K3 +
			      (ports | kind << 32) * XLB_HASH_K4);
}

/* Where a VIP key starts its probe in the VIP index. */
static __always_inline __u32 xlb_hash_vip(const struct xlb_vip_key *k)
{
	__u64 rest = (__u64)k->port | (__u64)k->proto << 16 | (__u64)k->family << 24;

	return xlb_hash_final(xlb_hash_word(k->addr[0], k->addr[1]) * XLB_HASH_K0 +
			      xlb_hash_word(k->addr[2], k->addr[3]) * XLB_HASH_K1 +
			      rest * XLB_HASH_K4) & (XLB_VIP_INDEX_SIZE - 1);
}

/*
 * A hash's slot in a ring of size slots: the top of hash * size, which
 * spreads as evenly as hash % size without a 64-bit divide (about 40
 * cycles, 13 ns a packet here).
 */
static __always_inline __u32 xlb_ring_slot(__u32 hash, __u32 size)
{
	return (__u32)(((__u64)hash * size) >> 32);
}

#endif /* XLB_HASH_H */
