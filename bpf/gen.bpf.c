// SPDX-License-Identifier: GPL-2.0
/*
 * The traffic generator's frame rewriter, run by BPF_PROG_TEST_RUN with
 * BPF_F_TEST_XDP_LIVE_FRAMES: every frame gets the next flow's source
 * port (and, past 60000 flows, source address) and leaves with XDP_TX.
 * L4 checksums are left as they are: nothing on the path checks them.
 */
#include <linux/bpf.h>
#include <linux/if_ether.h>
#include <linux/in.h>
#include <linux/ip.h>
#include <linux/ipv6.h>
#include <linux/udp.h>
#include <bpf/bpf_endian.h>
#include <bpf/bpf_helpers.h>
#include "csum.h"

#define GEN_PORTS	60000

const volatile __u32 gen_flows = 1;
/*
 * Live frames recycle their pages with whatever the path wrote into them
 * (a reflector swaps the MACs in place), so every frame gets its MACs anew.
 */
const volatile __u8 gen_dst_mac[ETH_ALEN];
const volatile __u8 gen_src_mac[ETH_ALEN];
/* An encapsulating balancer writes its outer header over the old Ethernet header: restore all of it. */
const volatile __be16 gen_ethertype = 0;
/*
 * The template's IP header and the first 8 bytes of its L4 header, put
 * back in every frame: a routing balancer (nftables) decrements the TTL
 * and rewrites the destination in place, and the page comes round again.
 */
#define GEN_HDR_MAX	48
const volatile __u8 gen_hdr[GEN_HDR_MAX];
const volatile __u32 gen_hdr_len = 0;

struct {
	__uint(type, BPF_MAP_TYPE_PERCPU_ARRAY);
	__uint(max_entries, 1);
	__type(key, __u32);
	__type(value, __u64);
} gen_seq SEC(".maps");

SEC("xdp")
int xlb_gen(struct xdp_md *ctx)
{
	void *data = (void *)(long)ctx->data, *data_end = (void *)(long)ctx->data_end;
	struct ethhdr *eth = data;
	__u32 key = 0, flow, hi;
	__u64 *seq = bpf_map_lookup_elem(&gen_seq, &key);
	struct udphdr *l4;

	if (!seq || (void *)(eth + 1) > data_end)
		return XDP_ABORTED;
#pragma unroll
	for (int i = 0; i < ETH_ALEN; i++) {
		eth->h_dest[i] = gen_dst_mac[i];
		eth->h_source[i] = gen_src_mac[i];
	}
	eth->h_proto = gen_ethertype;
	if (data + sizeof(*eth) + GEN_HDR_MAX > data_end)
		return XDP_ABORTED;
#pragma unroll
	for (int i = 0; i < GEN_HDR_MAX; i++)
		if (i < gen_hdr_len)
			((__u8 *)(eth + 1))[i] = gen_hdr[i];
	flow = (__u32)(*seq % gen_flows);
	*seq += 1;
	hi = flow / GEN_PORTS;
	if (eth->h_proto == bpf_htons(ETH_P_IP)) {
		struct iphdr *ip = (void *)(eth + 1);

		l4 = (void *)(ip + 1);
		if ((void *)(l4 + 1) > data_end)
			return XDP_ABORTED;
		/* The low 16 bits of the source address carry the flows past the ports. */
		ip->saddr = (ip->saddr & bpf_htonl(0xffff0000)) | bpf_htonl(10 + hi);
		ip->check = 0;
		ip->check = xlb_ipv4_csum(ip);
	} else {
		struct ipv6hdr *ip6 = (void *)(eth + 1);

		l4 = (void *)(ip6 + 1);
		if ((void *)(l4 + 1) > data_end)
			return XDP_ABORTED;
		ip6->saddr.in6_u.u6_addr32[3] = bpf_htonl(0x10 + hi);
	}
	l4->source = bpf_htons((__u16)(1024 + flow % GEN_PORTS));
	return XDP_TX;
}

char LICENSE[] SEC("license") = "GPL";
