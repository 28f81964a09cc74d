// SPDX-License-Identifier: GPL-2.0
/*
 * The traffic generator's sink, attached to the generator's interface: it
 * counts what comes back from the balancer, checks each frame went where
 * it should (the MAC of a known backend for DSR, an outer IP header to a
 * known backend for IPIP, our own MAC back from the reflector) and drops it.
 */
#include <linux/bpf.h>
#include <linux/if_ether.h>
#include <linux/in.h>
#include <linux/ip.h>
#include <linux/ipv6.h>
#include <bpf/bpf_endian.h>
#include <bpf/bpf_helpers.h>

enum sink_mode { SINK_MAC, SINK_IPIP };
enum sink_stat { SINK_GOOD, SINK_WRONG, SINK_OTHER, SINK_STAT_MAX };

#define SINK_MAX_TARGETS 64

const volatile __u32 sink_mode = SINK_MAC;
/* SINK_IPIP: the inner destination every frame must still carry (the VIP). */
const volatile __u8 sink_vip[16];
const volatile __u8 sink_vip_family;	/* 4 or 6 */

/* Where frames may go: a MAC (6 bytes, zero padded) or an IP address (4 or 16) -> target index + 1. */
struct sink_key {
	__u8 b[16];
};

struct {
	__uint(type, BPF_MAP_TYPE_HASH);
	__uint(max_entries, SINK_MAX_TARGETS);
	__type(key, struct sink_key);
	__type(value, __u32);
} sink_targets SEC(".maps");

struct {
	__uint(type, BPF_MAP_TYPE_PERCPU_ARRAY);
	__uint(max_entries, SINK_MAX_TARGETS + SINK_STAT_MAX);
	__type(key, __u32);
	__type(value, __u64);
} sink_counts SEC(".maps");

static __always_inline int count(__u32 slot)
{
	__u64 *n = bpf_map_lookup_elem(&sink_counts, &slot);

	if (n)
		*n += 1;
	return XDP_DROP;
}

static __always_inline int target(struct sink_key *k)
{
	__u32 *idx = bpf_map_lookup_elem(&sink_targets, k);

	if (!idx || *idx == 0 || *idx > SINK_MAX_TARGETS)
		return count(SINK_WRONG);
	count(SINK_STAT_MAX + *idx - 1);
	return count(SINK_GOOD);
}

SEC("xdp")
int xlb_sink(struct xdp_md *ctx)
{
	void *data = (void *)(long)ctx->data, *data_end = (void *)(long)ctx->data_end;
	struct ethhdr *eth = data;
	struct sink_key k = {};

	if ((void *)(eth + 1) > data_end)
		return count(SINK_WRONG);
	/* The balancer host's own ARP and neighbour discovery are not the generator's frames. */
	if (eth->h_proto == bpf_htons(ETH_P_ARP))
		return count(SINK_OTHER);
	if (eth->h_proto == bpf_htons(ETH_P_IPV6)) {
		struct ipv6hdr *ip6 = (void *)(eth + 1);

		/* ICMPv6, and MLD reports behind a hop-by-hop header */
		if ((void *)(ip6 + 1) <= data_end && (ip6->nexthdr == IPPROTO_ICMPV6 || ip6->nexthdr == 0))
			return count(SINK_OTHER);
	}
	if (eth->h_proto == bpf_htons(ETH_P_IP)) {
		struct iphdr *ip = (void *)(eth + 1);

		if ((void *)(ip + 1) <= data_end && ip->protocol == IPPROTO_IGMP)
			return count(SINK_OTHER);
	}
	if (sink_mode == SINK_MAC) {
		__builtin_memcpy(k.b, eth->h_dest, ETH_ALEN);
		return target(&k);
	}
	if (eth->h_proto == bpf_htons(ETH_P_IP)) {
		struct iphdr *ip = (void *)(eth + 1);

		if ((void *)(ip + 1) > data_end || ip->ihl != 5)
			return count(SINK_WRONG);
		__builtin_memcpy(k.b, &ip->daddr, 4);
		if (ip->protocol == IPPROTO_IPIP && sink_vip_family == 4) {
			struct iphdr *in = (void *)(ip + 1);

			if ((void *)(in + 1) > data_end || in->daddr != *(const volatile __u32 *)sink_vip)
				return count(SINK_WRONG);
			return target(&k);
		}
		return count(SINK_WRONG);
	}
	if (eth->h_proto == bpf_htons(ETH_P_IPV6)) {
		struct ipv6hdr *ip6 = (void *)(eth + 1);

		if ((void *)(ip6 + 1) > data_end)
			return count(SINK_WRONG);
		__builtin_memcpy(k.b, &ip6->daddr, 16);
		if (ip6->nexthdr == IPPROTO_IPV6 && sink_vip_family == 6) {
			struct ipv6hdr *in = (void *)(ip6 + 1);

			if ((void *)(in + 1) > data_end)
				return count(SINK_WRONG);
#pragma unroll
			for (int i = 0; i < 4; i++)
				if (in->daddr.in6_u.u6_addr32[i] != ((const volatile __u32 *)sink_vip)[i])
					return count(SINK_WRONG);
			return target(&k);
		}
		return count(SINK_WRONG);
	}
	return count(SINK_WRONG);
}

char LICENSE[] SEC("license") = "GPL";
