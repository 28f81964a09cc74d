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

/* Each step is invertible, so distinct sums give distinct results. */
static __always_inline __u64 xlb_hash_mix(__u64 h)
{
	h ^= h >> 32;
	h *= XLB_HASH_MIX;
	h ^= h >> 29;
	return h;
}

static __always_inline __u32 xlb_hash_final(__u64 h)
{
	return (__u32)(xlb_hash_mix(h) >> 32);
}

/* The client's address only: for source-affinity VIPs. */
static __always_inline __u32 xlb_hash_src(const struct xlb_flow_key *k)
{
	return xlb_hash_final(xlb_hash_word(k->src[0], k->src[1]) * XLB_HASH_K0 +
			      xlb_hash_word(k->src[2], k->src[3]) * XLB_HASH_K1 +
			      (__u64)k->family * XLB_HASH_K4);
}

/* The whole 5-tuple, 64 bits: xlb_hash_flow() and 32 more for the refresh filter. */
static __always_inline __u64 xlb_hash_flow64(const struct xlb_flow_key *k)
{
	__u64 ports = ((__u32)k->sport << 16) | k->dport;
	__u64 kind = ((__u64)k->proto << 8) | k->family;

	return xlb_hash_mix(xlb_hash_word(k->src[0], k->src[1]) * XLB_HASH_K0 +
			    xlb_hash_word(k->src[2], k->src[3]) * XLB_HASH_K1 +
			    xlb_hash_word(k->dst[0], k->dst[1]) * XLB_HASH_K2 +
			    xlb_hash_word(k->dst[2], k->dst[3]) * XLB_HASH_K3 +
			    (ports | kind << 32) * XLB_HASH_K4);
}

/* The whole 5-tuple. */
static __always_inline __u32 xlb_hash_flow(const struct xlb_flow_key *k)
{
	return (__u32)(xlb_hash_flow64(k) >> 32);
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
 * The refresh filter (xlb_sched.h): a flow's place is the low bits of its
 * 64-bit hash and its tag the high 32, so two flows share a tag at one
 * place only when 48 bits of their hashes agree.
 */
#define XLB_REFRESH_SIZE	65536
/* Table lookups the filter lets through per CPU and period (see xlb_refresh_budget()). */
#define XLB_REFRESH_BUDGET	4096
/*
 * A flow refreshed less than this many periods ago needs no refresh, so
 * the budget of a period goes to the flows that have waited longest.
 */
#define XLB_REFRESH_EVERY	4

static __always_inline __u32 xlb_refresh_index(__u64 flow_hash)
{
	return (__u32)flow_hash & (XLB_REFRESH_SIZE - 1);
}

static __always_inline __u32 xlb_refresh_tag(__u64 flow_hash)
{
	return (__u32)(flow_hash >> 32);
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
