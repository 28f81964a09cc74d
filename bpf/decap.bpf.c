// SPDX-License-Identifier: GPL-2.0
/*
 * Backend-side IPIP decapsulation for hosts without a kernel ipip/ip6tnl
 * device (this test bed's kernel has none). It strips the outer IPv4 or
 * IPv6 header of IPv4-in-IPv4, IPv6-in-IPv6, IPv4-in-IPv6 and IPv6-in-IPv4
 * packets and hands the inner packet to the stack, which delivers it to the
 * VIP configured on lo. On a real host use `ip link add ... type ipip
 * external` (or ip6tnl) instead; see the README.
 */
#include <linux/bpf.h>
#include <linux/if_ether.h>
#include <linux/in.h>
#include <linux/ip.h>
#include <linux/ipv6.h>
#include <bpf/bpf_endian.h>
#include <bpf/bpf_helpers.h>

enum decap_stat {
	DECAP_PASS,		/* not IPIP: left to the stack */
	DECAP_IPIP4,		/* outer IPv4 removed */
	DECAP_IPIP6,		/* outer IPv6 removed */
	DECAP_DROP_TRUNCATED,	/* an IPIP packet too short for its headers */
	DECAP_STAT_MAX,
};

struct {
	__uint(type, BPF_MAP_TYPE_PERCPU_ARRAY);
	__uint(max_entries, DECAP_STAT_MAX);
	__type(key, __u32);
	__type(value, __u64);
} decap_stats SEC(".maps");

static __always_inline int count(int action, __u32 stat)
{
	__u64 *n = bpf_map_lookup_elem(&decap_stats, &stat);

	if (n)
		*n += 1;
	return action;
}

static __always_inline __be16 inner_ethertype(__u8 proto)
{
	return proto == IPPROTO_IPIP ? bpf_htons(ETH_P_IP) : bpf_htons(ETH_P_IPV6);
}

/* Drops outer_len bytes after the Ethernet header, keeping the MACs. */
static __always_inline int strip(struct xdp_md *ctx, __u32 outer_len, __be16 ethertype, __u32 stat)
{
	void *data = (void *)(long)ctx->data, *data_end = (void *)(long)ctx->data_end;
	struct ethhdr eth, *neth;

	if (data + sizeof(eth) > data_end)
		return count(XDP_DROP, DECAP_DROP_TRUNCATED);
	__builtin_memcpy(&eth, data, sizeof(eth));
	if (bpf_xdp_adjust_head(ctx, (int)outer_len))
		return count(XDP_DROP, DECAP_DROP_TRUNCATED);
	data = (void *)(long)ctx->data;
	data_end = (void *)(long)ctx->data_end;
	neth = data;
	if ((void *)(neth + 1) > data_end)
		return count(XDP_DROP, DECAP_DROP_TRUNCATED);
	__builtin_memcpy(neth->h_dest, eth.h_dest, ETH_ALEN);
	__builtin_memcpy(neth->h_source, eth.h_source, ETH_ALEN);
	neth->h_proto = ethertype;
	return count(XDP_PASS, stat);
}

SEC("xdp")
int xlb_decap(struct xdp_md *ctx)
{
	void *data = (void *)(long)ctx->data, *data_end = (void *)(long)ctx->data_end;
	struct ethhdr *eth = data;
	struct ipv6hdr *ip6;
	struct iphdr *ip4;
	__u32 ihl_bytes;

	if ((void *)(eth + 1) > data_end)
		return count(XDP_PASS, DECAP_PASS);
	if (eth->h_proto == bpf_htons(ETH_P_IP)) {
		ip4 = (void *)(eth + 1);
		if ((void *)(ip4 + 1) > data_end)
			return count(XDP_PASS, DECAP_PASS);
		if (ip4->protocol != IPPROTO_IPIP && ip4->protocol != IPPROTO_IPV6)
			return count(XDP_PASS, DECAP_PASS);
		/* An outer fragment needs reassembly first: the stack's job. */
		if (ip4->frag_off & bpf_htons(0x3fff))
			return count(XDP_PASS, DECAP_PASS);
		ihl_bytes = ip4->ihl * 4;
		if (ihl_bytes < sizeof(*ip4) || ihl_bytes > 60)
			return count(XDP_DROP, DECAP_DROP_TRUNCATED);
		if ((void *)eth + sizeof(*eth) + ihl_bytes > data_end)
			return count(XDP_DROP, DECAP_DROP_TRUNCATED);
		return strip(ctx, ihl_bytes, inner_ethertype(ip4->protocol), DECAP_IPIP4);
	}
	if (eth->h_proto == bpf_htons(ETH_P_IPV6)) {
		ip6 = (void *)(eth + 1);
		if ((void *)(ip6 + 1) > data_end)
			return count(XDP_PASS, DECAP_PASS);
		if (ip6->nexthdr != IPPROTO_IPIP && ip6->nexthdr != IPPROTO_IPV6)
			return count(XDP_PASS, DECAP_PASS);
		return strip(ctx, sizeof(*ip6), inner_ethertype(ip6->nexthdr), DECAP_IPIP6);
	}
	return count(XDP_PASS, DECAP_PASS);
}

char LICENSE[] SEC("license") = "GPL";
