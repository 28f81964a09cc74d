// SPDX-License-Identifier: GPL-2.0
/*
 * The benchmark floor for IPIP (scripts/bench-traffic.sh): what any
 * balancer that sends IPv4 in IPv4 must do for a packet, and nothing more.
 * Check the frame is IPv4, trim Ethernet padding, grow the head by an outer
 * IPv4 header, write the backend's MAC and the outer header (as xlb's
 * xlb_outer_ipv4 does, checksum included), XDP_TX. One fixed backend: no
 * map lookup, no flow hash, no counter. xlb's in-program time per packet
 * less this program's is what xlb's own logic costs on its IPIP path.
 *
 * Only csum.h is shared with xlb: encap.h and l2.h bring in maps.h, and
 * every map there (a 1M-entry LRU table among them) would be created with
 * this program.
 */
#include <linux/bpf.h>
#include <linux/if_ether.h>
#include <linux/in.h>
#include <linux/ip.h>
#include <bpf/bpf_endian.h>
#include <bpf/bpf_helpers.h>
#include "csum.h"

/* bench-traffic.sh's address plan: the balancer's address on l0, its first backend and that one's MAC. */
#define FLOOR_SRC4	0xc6120002	/* 198.18.0.2 */
#define FLOOR_DST4	0xc6120065	/* 198.18.0.101 */
#define FLOOR_MTU	1500
#define FLOOR_TTL	64
#define FLOOR_IP_DF	0x4000

SEC("xdp")
int xlb_floor(struct xdp_md *ctx)
{
	void *data = (void *)(long)ctx->data, *data_end = (void *)(long)ctx->data_end;
	struct ethhdr *eth = data;
	struct iphdr *inner = (void *)(eth + 1), *outer;
	__u8 src[ETH_ALEN];
	__u32 l3_len, padding;
	__u8 tos;

	if ((void *)(inner + 1) > data_end || eth->h_proto != bpf_htons(ETH_P_IP))
		return XDP_PASS;
	l3_len = bpf_ntohs(inner->tot_len);
	if (l3_len < sizeof(*inner) || (void *)inner + l3_len > data_end ||
	    l3_len + sizeof(*outer) > FLOOR_MTU)
		return XDP_DROP;
	tos = inner->tos;
	/* The frame came to our MAC, so that is the source of what we send. */
	__builtin_memcpy(src, eth->h_dest, ETH_ALEN);

	/* Ethernet pads short frames; the padding must not end up inside the tunnel. */
	padding = (__u32)(data_end - (void *)inner) - l3_len;
	if (padding && bpf_xdp_adjust_tail(ctx, -(int)padding))
		return XDP_DROP;
	if (bpf_xdp_adjust_head(ctx, -(int)sizeof(*outer)))
		return XDP_DROP;
	data = (void *)(long)ctx->data;
	data_end = (void *)(long)ctx->data_end;
	eth = data;
	outer = (void *)(eth + 1);
	if ((void *)(outer + 1) > data_end)
		return XDP_DROP;

	eth->h_dest[0] = 0x02;	/* 02:00:00:00:01:01 */
	eth->h_dest[1] = 0x00;
	eth->h_dest[2] = 0x00;
	eth->h_dest[3] = 0x00;
	eth->h_dest[4] = 0x01;
	eth->h_dest[5] = 0x01;
	__builtin_memcpy(eth->h_source, src, ETH_ALEN);
	eth->h_proto = bpf_htons(ETH_P_IP);

	*(__u8 *)outer = 0x45;
	outer->tos = tos;
	outer->tot_len = bpf_htons((__u16)(l3_len + sizeof(*outer)));
	outer->id = 0;
	outer->frag_off = bpf_htons(FLOOR_IP_DF);
	outer->ttl = FLOOR_TTL;
	outer->protocol = IPPROTO_IPIP;
	outer->check = 0;
	outer->saddr = bpf_htonl(FLOOR_SRC4);
	outer->daddr = bpf_htonl(FLOOR_DST4);
	outer->check = xlb_ipv4_csum(outer);
	return XDP_TX;
}

char LICENSE[] SEC("license") = "GPL";
