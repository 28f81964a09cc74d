/* SPDX-License-Identifier: GPL-2.0 */
/*
 * "Fragmentation needed" (ICMPv4) and "packet too big" (ICMPv6) sent back to
 * a client whose packet would not fit the link once encapsulated. The reply
 * is built in place: grow the head for the new IP and ICMP headers, keep the
 * start of the client's packet as the quote, cut the rest.
 */
#ifndef XLB_ICMP_H
#define XLB_ICMP_H

#include "csum.h"
#include "l2.h"

/* RFC 792: the IP header and the first 8 bytes of the datagram. */
#define XLB_ICMP4_QUOTE		(sizeof(struct iphdr) + 8)
#define XLB_ICMP4_REPLY		(sizeof(struct iphdr) + sizeof(struct xlb_icmphdr) + XLB_ICMP4_QUOTE)
/* RFC 4443: as much as fits in the IPv6 minimum MTU of 1280. */
#define XLB_IPV6_MIN_MTU	1280
#define XLB_ICMP6_HDRS		(sizeof(struct ipv6hdr) + sizeof(struct icmp6hdr))
#define XLB_ICMP6_QUOTE		(XLB_IPV6_MIN_MTU - XLB_ICMP6_HDRS)
/* bpf_csum_diff() sums at most 512 bytes a call. */
#define XLB_CSUM_CHUNK		308
_Static_assert(XLB_ICMP6_QUOTE == 4 * XLB_CSUM_CHUNK, "quote is summed in four chunks");

/* Reserve room for the new headers and cut the frame to l3_off + l3_reply bytes. */
static __always_inline int xlb_reshape(struct xdp_md *ctx, int grow, __u32 l3_off, __u32 l3_reply)
{
	int len;

	if (bpf_xdp_adjust_head(ctx, -grow))
		return -1;
	len = (long)ctx->data_end - (long)ctx->data;
	if (len < (int)(l3_off + l3_reply))
		return -1;
	return bpf_xdp_adjust_tail(ctx, (int)(l3_off + l3_reply) - len) ? -1 : 0;
}

static __always_inline int xlb_icmp4_too_big(struct xdp_md *ctx, const struct xlb_pkt *pkt,
					     __u16 mtu, const __u32 l3_off)
{
	void *data = (void *)(long)ctx->data, *data_end = (void *)(long)ctx->data_end;
	struct ethhdr *eth = data;
	struct xlb_icmphdr *icmp;
	struct xlb_l2 l2;
	struct iphdr *iph;

	if ((void *)(eth + 1) > data_end)
		return xlb_verdict(pkt, XDP_DROP, XLB_STAT_DROP_NO_ROOM);
	__builtin_memcpy(l2.dst, eth->h_source, ETH_ALEN);
	__builtin_memcpy(l2.src, eth->h_dest, ETH_ALEN);
	l2.vlan_tci = xlb_vlan_tci(data, data_end, l3_off);

	if (xlb_reshape(ctx, sizeof(*iph) + sizeof(*icmp), l3_off, XLB_ICMP4_REPLY))
		return xlb_verdict(pkt, XDP_DROP, XLB_STAT_DROP_NO_ROOM);
	data = (void *)(long)ctx->data;
	data_end = (void *)(long)ctx->data_end;
	iph = data + l3_off;
	icmp = (void *)(iph + 1);
	if ((void *)icmp + sizeof(*icmp) + XLB_ICMP4_QUOTE > data_end ||
	    xlb_write_l2(data, data_end, &l2, l3_off, bpf_htons(ETH_P_IP)))
		return xlb_verdict(pkt, XDP_DROP, XLB_STAT_DROP_NO_ROOM);

	*(__u8 *)iph = 0x45;
	iph->tos = 0;
	iph->tot_len = bpf_htons(XLB_ICMP4_REPLY);
	iph->id = 0;
	iph->frag_off = 0;
	iph->ttl = XLB_DEFAULT_TTL;
	iph->protocol = IPPROTO_ICMP;
	iph->check = 0;
	iph->saddr = pkt->flow.dst[0];
	iph->daddr = pkt->flow.src[0];
	iph->check = xlb_ipv4_csum(iph);

	icmp->type = XLB_ICMP_DEST_UNREACH;
	icmp->code = XLB_ICMP_FRAG_NEEDED;
	icmp->checksum = 0;
	icmp->unused = 0;
	icmp->mtu = bpf_htons(mtu);
	icmp->checksum = xlb_csum_fold(xlb_csum_words(icmp, (sizeof(*icmp) + XLB_ICMP4_QUOTE) / 2, 0));
	return xlb_verdict(pkt, XDP_TX, XLB_STAT_ICMP_TOO_BIG_SENT);
}

/* For a packet of more than 1280 bytes (the quote is 1280 less our headers); mtu at least 1280. */
static __always_inline int xlb_icmp6_too_big(struct xdp_md *ctx, const struct xlb_pkt *pkt,
					     __u32 mtu, const __u32 l3_off)
{
	void *data = (void *)(long)ctx->data, *data_end = (void *)(long)ctx->data_end;
	struct ethhdr *eth = data;
	struct icmp6hdr *icmp6;
	struct ipv6hdr *ip6;
	struct xlb_l2 l2;
	__u8 *quote;
	__u64 sum;

	if ((void *)(eth + 1) > data_end || pkt->l3_len < XLB_ICMP6_QUOTE)
		return xlb_verdict(pkt, XDP_DROP, XLB_STAT_DROP_TOO_BIG);
	__builtin_memcpy(l2.dst, eth->h_source, ETH_ALEN);
	__builtin_memcpy(l2.src, eth->h_dest, ETH_ALEN);
	l2.vlan_tci = xlb_vlan_tci(data, data_end, l3_off);

	if (xlb_reshape(ctx, XLB_ICMP6_HDRS, l3_off, XLB_IPV6_MIN_MTU))
		return xlb_verdict(pkt, XDP_DROP, XLB_STAT_DROP_NO_ROOM);
	data = (void *)(long)ctx->data;
	data_end = (void *)(long)ctx->data_end;
	ip6 = data + l3_off;
	icmp6 = (void *)(ip6 + 1);
	quote = (void *)(icmp6 + 1);
	if ((void *)quote + XLB_ICMP6_QUOTE > data_end ||
	    xlb_write_l2(data, data_end, &l2, l3_off, bpf_htons(ETH_P_IPV6)))
		return xlb_verdict(pkt, XDP_DROP, XLB_STAT_DROP_NO_ROOM);

	*(__be32 *)ip6 = bpf_htonl(6u << 28);
	ip6->payload_len = bpf_htons(XLB_IPV6_MIN_MTU - sizeof(*ip6));
	ip6->nexthdr = IPPROTO_ICMPV6;
	ip6->hop_limit = 64;
	__builtin_memcpy(&ip6->saddr, pkt->flow.dst, 16);
	__builtin_memcpy(&ip6->daddr, pkt->flow.src, 16);

	icmp6->icmp6_type = ICMPV6_PKT_TOOBIG;
	icmp6->icmp6_code = 0;
	icmp6->icmp6_cksum = 0;
	icmp6->icmp6_mtu = bpf_htonl(mtu);

	/* Pseudo-header: addresses, upper-layer length, next header. */
	sum = xlb_csum_words(&ip6->saddr, 16, 0);
	sum += bpf_htons(XLB_IPV6_MIN_MTU - sizeof(*ip6)) + bpf_htons(IPPROTO_ICMPV6);
	sum = xlb_csum_words(icmp6, sizeof(*icmp6) / 2, sum);
#pragma unroll
	for (int i = 0; i < 4; i++)
		sum += (__u32)bpf_csum_diff(NULL, 0, (void *)(quote + i * XLB_CSUM_CHUNK),
					    XLB_CSUM_CHUNK, 0);
	icmp6->icmp6_cksum = xlb_csum_fold(sum);
	return xlb_verdict(pkt, XDP_TX, XLB_STAT_ICMP_TOO_BIG_SENT);
}

#endif /* XLB_ICMP_H */
