/* SPDX-License-Identifier: GPL-2.0 */
/*
 * Flow hashing, shared by the XDP program and userspace (tests and tools
 * compute the very same backend choice). Murmur3's 32-bit mixing steps over
 * the words of the flow key: cheap in BPF, and well spread for Maglev.
 */
#ifndef XLB_HASH_H
#define XLB_HASH_H

#include "xlb_common.h"

#ifndef __always_inline
#define __always_inline inline __attribute__((always_inline))
#endif

#define XLB_HASH_SEED 0x5eed71b5u

static __always_inline __u32 xlb_rotl32(__u32 x, int r)
{
	return (x << r) | (x >> (32 - r));
}

static __always_inline __u32 xlb_hash_step(__u32 h, __u32 word)
{
	word *= 0xcc9e2d51u;
	word = xlb_rotl32(word, 15);
	word *= 0x1b873593u;
	h ^= word;
	h = xlb_rotl32(h, 13);
	return h * 5 + 0xe6546b64u;
}

static __always_inline __u32 xlb_hash_final(__u32 h)
{
	h ^= h >> 16;
	h *= 0x85ebca6bu;
	h ^= h >> 13;
	h *= 0xc2b2ae35u;
	h ^= h >> 16;
	return h;
}

/* The client's address only: for source-affinity VIPs. */
static __always_inline __u32 xlb_hash_src(const struct xlb_flow_key *k)
{
	__u32 h = XLB_HASH_SEED;

	h = xlb_hash_step(h, k->src[0]);
	h = xlb_hash_step(h, k->src[1]);
	h = xlb_hash_step(h, k->src[2]);
	h = xlb_hash_step(h, k->src[3]);
	return xlb_hash_final(h ^ k->family);
}

/* The whole 5-tuple. */
static __always_inline __u32 xlb_hash_flow(const struct xlb_flow_key *k)
{
	__u32 h = XLB_HASH_SEED;

	h = xlb_hash_step(h, k->src[0]);
	h = xlb_hash_step(h, k->src[1]);
	h = xlb_hash_step(h, k->src[2]);
	h = xlb_hash_step(h, k->src[3]);
	h = xlb_hash_step(h, k->dst[0]);
	h = xlb_hash_step(h, k->dst[1]);
	h = xlb_hash_step(h, k->dst[2]);
	h = xlb_hash_step(h, k->dst[3]);
	h = xlb_hash_step(h, ((__u32)k->sport << 16) | k->dport);
	return xlb_hash_final(h ^ ((__u32)k->proto << 8) ^ k->family);
}

#endif /* XLB_HASH_H */
