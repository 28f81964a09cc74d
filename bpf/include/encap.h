/* SPDX-License-Identifier: GPL-2.0 */
/*
 * Sending toward the backend: L2 direct server return (new MACs only) or
 * IPIP (IPv4 or IPv6 outer header in front of the client's packet).
 */
#ifndef XLB_ENCAP_H
#define XLB_ENCAP_H

#include "csum.h"
#include "icmp.h"
#include "l2.h"

#define XLB_DEFAULT_MTU		1500

static __always_inline int xlb_forward_dsr(const struct xlb_pkt *pkt, void *data, void *data_end,
					   const struct xlb_backend *be)
{
	struct ethhdr *eth = data;

	if ((void *)(eth + 1) > data_end)
		return xlb_verdict(pkt, XDP_DROP, XLB_STAT_DROP_TRUNCATED);
	/* The frame came to our MAC, so that is the source of what we send. */
	__builtin_memcpy(eth->h_source, eth->h_dest, ETH_ALEN);
	__builtin_memcpy(eth->h_dest, be->mac, ETH_ALEN);
	return xlb_verdict(pkt, XDP_TX, XLB_STAT_TX_DSR);
}

static __always_inline void xlb_outer_ipv4(struct iphdr *outer, const struct xlb_pkt *pkt,
					   const struct xlb_backend *be,
					   const struct xlb_config *cfg, __u32 hash)
{
	__be32 entropy = cfg->ipip_src4_entropy;

	/* Per-flow source bits let the backend's RSS spread flows over its queues. */
	xlb_ipv4_write(outer, pkt->tos, pkt->l3_len + sizeof(*outer), bpf_htons(XLB_IP_DF),
		       cfg->ttl ?: XLB_DEFAULT_TTL, pkt->flow.family == XLB_AF_INET ? IPPROTO_IPIP : IPPROTO_IPV6,
		       (cfg->ipip_src4 & ~entropy) | (bpf_htonl(hash) & entropy), be->addr[0]);
}

static __always_inline void xlb_outer_ipv6(struct ipv6hdr *outer, const struct xlb_pkt *pkt,
					   const struct xlb_backend *be,
					   const struct xlb_config *cfg, __u32 hash)
{
	__be32 entropy = cfg->ipip_src6_entropy;

	/* Version, the inner traffic class, and the flow hash as flow label. */
	*(__be32 *)outer = bpf_htonl((6u << 28) | ((__u32)pkt->tos << 20) | (hash & 0xfffff));
	outer->payload_len = bpf_htons(pkt->l3_len);
	outer->nexthdr = pkt->flow.family == XLB_AF_INET ? IPPROTO_IPIP : IPPROTO_IPV6;
	outer->hop_limit = cfg->ttl ?: XLB_DEFAULT_TTL;
	__builtin_memcpy(&outer->saddr, cfg->ipip_src6, 12);
	outer->saddr.in6_u.u6_addr32[3] = (cfg->ipip_src6[3] & ~entropy) | (bpf_htonl(hash) & entropy);
	__builtin_memcpy(&outer->daddr, be->addr, 16);
}

/*
 * A packet longer than the tunnel carries (mtu: the link's MTU less the
 * outer header). IPv6 cannot be told to go below 1280 (RFC 8201), and a
 * tunnel narrower than that, as on a link under 1320 (1300 with an IPv4
 * outer header), breaks RFC 8200's promise that 1280 always gets through:
 * a kernel tunnel keeps it by fragmenting the outer packet, which one XDP
 * frame cannot. So above 1280 the client learns 1280; at most 1280, no
 * ICMP would make it send less, and the packet is dropped and counted as
 * too big. The remedy is a link of at least 1320 (1300) toward backends.
 */
static __always_inline int xlb_too_big(struct xdp_md *ctx, const struct xlb_pkt *pkt, __u32 mtu,
				       const __u32 l3_off)
{
	/* Never answer an ICMP error with one; without DF the client expects us to fragment. */
	if (pkt->icmp_err || !pkt->df)
		return xlb_verdict(pkt, XDP_DROP, XLB_STAT_DROP_TOO_BIG);
	if (pkt->flow.family == XLB_AF_INET)
		return xlb_icmp4_too_big(ctx, pkt, mtu, l3_off);
	if (pkt->l3_len <= XLB_IPV6_MIN_MTU)
		return xlb_verdict(pkt, XDP_DROP, XLB_STAT_DROP_TOO_BIG);
	return xlb_icmp6_too_big(ctx, pkt, mtu < XLB_IPV6_MIN_MTU ? XLB_IPV6_MIN_MTU : mtu, l3_off);
}

static __always_inline int xlb_forward_ipip(struct xdp_md *ctx, const struct xlb_pkt *pkt,
					    const struct xlb_backend *be, __u32 hash,
					    const __u32 l3_off)
{
	void *data = (void *)(long)ctx->data, *data_end = (void *)(long)ctx->data_end;
	__u32 outer_len = be->family == XLB_AF_INET ? sizeof(struct iphdr) : sizeof(struct ipv6hdr);
	__u32 key = 0, mtu, padding;
	struct ethhdr *eth = data;
	struct xlb_config *cfg;
	struct xlb_l2 l2;
	void *outer;

	cfg = bpf_map_lookup_elem(&config_map, &key);
	if (!cfg || (void *)(eth + 1) > data_end)
		return xlb_verdict(pkt, XDP_DROP, XLB_STAT_DROP_NO_ROOM);
	mtu = cfg->mtu ?: XLB_DEFAULT_MTU;
	if (pkt->l3_len + outer_len > mtu)
		return xlb_too_big(ctx, pkt, mtu - outer_len, l3_off);

	__builtin_memcpy(l2.dst, be->mac, ETH_ALEN);
	__builtin_memcpy(l2.src, eth->h_dest, ETH_ALEN);
	l2.vlan_tci = xlb_vlan_tci(data, data_end, l3_off);

	/* Ethernet pads short frames; the padding must not end up inside the tunnel. */
	padding = data_end - data - l3_off - pkt->l3_len;
	if (padding && bpf_xdp_adjust_tail(ctx, -(int)padding))
		return xlb_verdict(pkt, XDP_DROP, XLB_STAT_DROP_NO_ROOM);
	if (bpf_xdp_adjust_head(ctx, -(int)outer_len))
		return xlb_verdict(pkt, XDP_DROP, XLB_STAT_DROP_NO_ROOM);
	data = (void *)(long)ctx->data;
	data_end = (void *)(long)ctx->data_end;
	outer = data + l3_off;

	if (be->family == XLB_AF_INET) {
		if (outer + sizeof(struct iphdr) > data_end ||
		    xlb_write_l2(data, data_end, &l2, l3_off, bpf_htons(ETH_P_IP)))
			return xlb_verdict(pkt, XDP_DROP, XLB_STAT_DROP_NO_ROOM);
		xlb_outer_ipv4(outer, pkt, be, cfg, hash);
	} else {
		if (outer + sizeof(struct ipv6hdr) > data_end ||
		    xlb_write_l2(data, data_end, &l2, l3_off, bpf_htons(ETH_P_IPV6)))
			return xlb_verdict(pkt, XDP_DROP, XLB_STAT_DROP_NO_ROOM);
		xlb_outer_ipv6(outer, pkt, be, cfg, hash);
	}
	return xlb_verdict(pkt, XDP_TX, XLB_STAT_TX_IPIP);
}

#endif /* XLB_ENCAP_H */
