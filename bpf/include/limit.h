/* SPDX-License-Identifier: GPL-2.0 */
/*
 * Per-source limits: a token bucket per client of a limited VIP for its
 * new flows (TCP SYNs) and one for its packets, refilled from the time
 * since the last packet. The buckets are per CPU, so the fast path takes
 * no lock and shares no cache line: a client whose flows the NIC spreads
 * over several CPUs gets each CPU's allowance (see README "Per-source
 * limits"). Checked before a packet can touch the connection tables.
 */
#ifndef XLB_LIMIT_H
#define XLB_LIMIT_H

#include <bpf/bpf_endian.h>

#include "maps.h"
#include "stats.h"
#include "trace.h"

#define XLB_TOKEN		1000000000ull	/* one flow or packet, in bucket units */
/* A refill past this is a full bucket anyway, and elapsed * rate stays far from overflowing. */
#define XLB_REFILL_MAX_NS	(10ull * 1000000000ull)

/* The client of pkt as the VIP's limits see it: its address's first prefix bits. */
static __always_inline void xlb_limit_key_of(const struct xlb_pkt *pkt, const struct xlb_vip_meta *vip,
					     const struct xlb_limit *limit, struct xlb_limit_key *key)
{
	__u32 bits = pkt->flow.family == XLB_AF_INET ? limit->prefix4 : limit->prefix6;

	__builtin_memset(key, 0, sizeof(*key));
	key->vip_id = vip->vip_id;
	key->family = pkt->flow.family;
#pragma unroll
	for (int i = 0; i < 4; i++) {
		__u32 word_bits = bits > 32u * i ? bits - 32u * i : 0;

		if (word_bits >= 32)
			key->addr[i] = pkt->flow.src[i];
		else if (word_bits)
			key->addr[i] = pkt->flow.src[i] & bpf_htonl(~0u << (32 - word_bits));
	}
}

/* Refills *tokens at rate a second for elapsed_ns, up to burst (full: a bucket not used before). */
static __always_inline void xlb_bucket_refill(__u64 *tokens, __u64 elapsed_ns, int full, __u32 rate, __u32 burst)
{
	__u64 depth = (__u64)burst * XLB_TOKEN, now = *tokens + elapsed_ns * rate;

	*tokens = full || now > depth ? depth : now;
}

/* Takes one token: 0 when there is none. */
static __always_inline int xlb_bucket_take(__u64 *tokens)
{
	if (*tokens < XLB_TOKEN)
		return 0;
	*tokens -= XLB_TOKEN;
	return 1;
}

/* What a drop of a client is counted as, in struct xlb_limited. */
enum xlb_limited_why { XLB_LIMITED_PPS, XLB_LIMITED_NEW_FLOW, XLB_LIMITED_DENIED };

static __always_inline __u64 *xlb_limited_counter(struct xlb_limited *l, enum xlb_limited_why why)
{
	return why == XLB_LIMITED_PPS ? &l->pps_dropped : why == XLB_LIMITED_NEW_FLOW ? &l->new_flows_dropped
										      : &l->denied;
}

/* Counts a drop for the VIP and for the client in limited_map, which lbctl top reads. */
static __always_inline void xlb_limit_note(const struct xlb_limit_key *key, enum xlb_limited_why why, __u64 now)
{
	struct xlb_limited *seen, fresh = { .last_ns = now };
	__u32 vip_id = key->vip_id;

	seen = bpf_map_lookup_elem(&vip_limit_stats, &vip_id);
	if (seen)
		*xlb_limited_counter(seen, why) += 1;
	seen = bpf_map_lookup_elem(&limited_map, key);
	if (!seen) {
		*xlb_limited_counter(&fresh, why) = 1;
		bpf_map_update_elem(&limited_map, key, &fresh, BPF_NOEXIST);
		return;
	}
	__sync_fetch_and_add(xlb_limited_counter(seen, why), 1);
	seen->last_ns = now;
}

/*
 * The verdict's counter when the client of pkt is over one of the VIP's
 * limits, else 0. ICMP errors come from routers, not the client: not
 * limited. The trace instance looks without taking tokens.
 *
 * A function of its own, not inlined: its branches and stack (the key,
 * a fresh bucket) end at its return, so the verifier walks the rest of
 * the program once after it, not once for each way through it (inlined,
 * that passed the verifier's million instructions).
 */
static __noinline int xlb_limit_check(const struct xlb_pkt *pkt, const struct xlb_vip_meta *vip)
{
	__u32 vip_id = vip->vip_id;
	struct xlb_limit *limit = bpf_map_lookup_elem(&limit_map, &vip_id);
	struct xlb_bucket *b, fresh = {};
	struct xlb_limit_key key;
	__u64 now, elapsed;
	int full;

	if (!limit || pkt->icmp_err || xlb_trace)
		return 0;
	xlb_limit_key_of(pkt, vip, limit, &key);
	now = bpf_ktime_get_ns();
	b = bpf_map_lookup_elem(&bucket_map, &key);
	if (!b) {
		bpf_map_update_elem(&bucket_map, &key, &fresh, BPF_NOEXIST);
		b = bpf_map_lookup_elem(&bucket_map, &key);
		if (!b)
			return 0;
	}
	/* A bucket this CPU never used (a new client, or one another CPU made) starts full. */
	full = !b->last_ns;
	elapsed = now - b->last_ns;
	if (elapsed > XLB_REFILL_MAX_NS)
		elapsed = XLB_REFILL_MAX_NS;
	b->last_ns = now;
	/* Both buckets refill at every packet: the time since is spent for both. */
	xlb_bucket_refill(&b->pkt_tokens, elapsed, full, limit->pps, limit->pps_burst);
	xlb_bucket_refill(&b->flow_tokens, elapsed, full, limit->new_flows, limit->new_flows_burst);
	if (limit->pps && !xlb_bucket_take(&b->pkt_tokens)) {
		xlb_limit_note(&key, XLB_LIMITED_PPS, now);
		return XLB_STAT_DROP_LIMIT_PPS;
	}
	if (limit->new_flows && pkt->syn && !xlb_bucket_take(&b->flow_tokens)) {
		xlb_limit_note(&key, XLB_LIMITED_NEW_FLOW, now);
		return XLB_STAT_DROP_LIMIT_NEW_FLOWS;
	}
	return 0;
}

#endif /* XLB_LIMIT_H */
