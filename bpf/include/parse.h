/* SPDX-License-Identifier: GPL-2.0 */
/*
 * Parsing: Ethernet (one 802.1Q tag at most), IPv4, IPv6 with its
 * extension headers, TCP, UDP, and the ICMP errors we route.
 *
 * Each parser returns an XDP action when the packet's fate is decided, or
 * XLB_CONTINUE to go on. Headers cut short or invalid are dropped (no host
 * stack would accept them); anything well formed that is not ours passes.
 */
#ifndef XLB_PARSE_H
#define XLB_PARSE_H

#include <linux/if_ether.h>
#include <linux/in.h>
#include <linux/ip.h>
#include <linux/ipv6.h>
#include <linux/icmpv6.h>
#include <linux/tcp.h>
#include <linux/udp.h>
#include <bpf/bpf_endian.h>
#include "xlb_pkt.h"
#include "stats.h"

#define XLB_CONTINUE		(-1)
/* Extension headers followed before the L4 header; a longer chain counts as a fragment. */
#define XLB_IPV6_MAX_EXT	4
#define XLB_ETH_P_8021Q		0x8100
#define XLB_IP_MF		0x2000
#define XLB_IP_DF		0x4000
#define XLB_IP_OFFSET		0x1fff

struct xlb_vlan_hdr {
	__be16 tci;
	__be16 proto;
};

/* linux/icmp.h pulls in libc's socket headers, which do not build for BPF. */
#define XLB_ICMP_DEST_UNREACH	3
#define XLB_ICMP_FRAG_NEEDED	4

struct xlb_icmphdr {
	__u8 type;
	__u8 code;
	__sum16 checksum;
	__be16 unused;
	__be16 mtu;		/* next-hop MTU of "fragmentation needed" */
};

struct xlb_ports {
	__be16 source;
	__be16 dest;
};

static __always_inline int xlb_parse_eth(void *data, void *data_end, struct xlb_pkt *pkt,
					 __be16 *ethertype)
{
	struct ethhdr *eth = data;
	struct xlb_vlan_hdr *vlan;

	if ((void *)(eth + 1) > data_end)
		return xlb_verdict(pkt, XDP_DROP, XLB_STAT_DROP_TRUNCATED);
	*ethertype = eth->h_proto;
	pkt->l3_off = sizeof(*eth);
	if (*ethertype == bpf_htons(XLB_ETH_P_8021Q)) {
		vlan = (void *)(eth + 1);
		if ((void *)(vlan + 1) > data_end)
			return xlb_verdict(pkt, XDP_DROP, XLB_STAT_DROP_TRUNCATED);
		*ethertype = vlan->proto;
		pkt->l3_off += sizeof(*vlan);
	}
	return XLB_CONTINUE;
}

static __always_inline int xlb_parse_ipv4(void *data, void *data_end, struct xlb_pkt *pkt)
{
	struct iphdr *iph = data + pkt->l3_off;
	__u32 tot_len;

	if ((void *)(iph + 1) > data_end)
		return xlb_verdict(pkt, XDP_DROP, XLB_STAT_DROP_TRUNCATED);
	if (iph->version != 4 || iph->ihl < 5)
		return xlb_verdict(pkt, XDP_DROP, XLB_STAT_DROP_BAD_IP);
	tot_len = bpf_ntohs(iph->tot_len);
	if (tot_len < iph->ihl * 4u)
		return xlb_verdict(pkt, XDP_DROP, XLB_STAT_DROP_BAD_IP);
	if (data + pkt->l3_off + tot_len > data_end)
		return xlb_verdict(pkt, XDP_DROP, XLB_STAT_DROP_TRUNCATED);

	pkt->l3_len = tot_len;
	pkt->l4_off = pkt->l3_off + sizeof(*iph);
	pkt->tos = iph->tos;
	pkt->df = !!(iph->frag_off & bpf_htons(XLB_IP_DF));
	pkt->fragment = !!(iph->frag_off & bpf_htons(XLB_IP_MF | XLB_IP_OFFSET));
	pkt->options = iph->ihl != 5;
	pkt->flow.family = XLB_AF_INET;
	pkt->flow.proto = iph->protocol;
	pkt->flow.src[0] = iph->saddr;
	pkt->flow.dst[0] = iph->daddr;
	return XLB_CONTINUE;
}

static __always_inline int xlb_ipv6_is_skippable(__u8 nexthdr)
{
	return nexthdr == IPPROTO_HOPOPTS || nexthdr == IPPROTO_ROUTING ||
	       nexthdr == IPPROTO_DSTOPTS;
}

static __always_inline int xlb_parse_ipv6(void *data, void *data_end, struct xlb_pkt *pkt)
{
	struct ipv6hdr *ip6 = data + pkt->l3_off;
	struct ipv6_opt_hdr *opt;
	__u32 off;
	__u8 nexthdr;

	if ((void *)(ip6 + 1) > data_end)
		return xlb_verdict(pkt, XDP_DROP, XLB_STAT_DROP_TRUNCATED);
	if (ip6->version != 6)
		return xlb_verdict(pkt, XDP_DROP, XLB_STAT_DROP_BAD_IP);
	pkt->l3_len = sizeof(*ip6) + bpf_ntohs(ip6->payload_len);
	if (data + pkt->l3_off + pkt->l3_len > data_end)
		return xlb_verdict(pkt, XDP_DROP, XLB_STAT_DROP_TRUNCATED);

	pkt->tos = (ip6->priority << 4) | (ip6->flow_lbl[0] >> 4);
	pkt->df = 1;
	pkt->flow.family = XLB_AF_INET6;
	__builtin_memcpy(pkt->flow.src, &ip6->saddr, 16);
	__builtin_memcpy(pkt->flow.dst, &ip6->daddr, 16);

	nexthdr = ip6->nexthdr;
	off = pkt->l3_off + sizeof(*ip6);
#pragma unroll
	for (int i = 0; i < XLB_IPV6_MAX_EXT; i++) {
		if (!xlb_ipv6_is_skippable(nexthdr))
			break;
		opt = data + off;
		if ((void *)(opt + 1) > data_end)
			return xlb_verdict(pkt, XDP_DROP, XLB_STAT_DROP_TRUNCATED);
		nexthdr = opt->nexthdr;
		off += (opt->hdrlen + 1) * 8;
	}
	/*
	 * A fragment header, or a chain longer than we follow: either hides
	 * the ports (the longer chain maybe a fragment header too). For a VIP
	 * address both are dropped, never passed to the kernel, which would
	 * hand them to a local service; for other addresses both pass.
	 */
	if (nexthdr == IPPROTO_FRAGMENT || xlb_ipv6_is_skippable(nexthdr))
		pkt->fragment = 1;
	pkt->flow.proto = nexthdr;
	pkt->l4_off = off;
	return XLB_CONTINUE;
}

/* The ports of a TCP or UDP header at l4_off, which must be complete. */
static __always_inline int xlb_parse_ports(void *data, void *data_end, struct xlb_pkt *pkt,
					   __u32 hdr_len)
{
	struct xlb_ports *ports = data + pkt->l4_off;

	if (pkt->l4_off + hdr_len > pkt->l3_off + pkt->l3_len ||
	    (void *)ports + hdr_len > data_end)
		return xlb_verdict(pkt, XDP_DROP, XLB_STAT_DROP_TRUNCATED);
	pkt->flow.sport = ports->source;
	pkt->flow.dport = ports->dest;
	return XLB_CONTINUE;
}

/*
 * The flow an ICMP error is about, from the header it quotes: that packet
 * went from the VIP to the client, so swap it into the client's direction.
 * A quote we cannot read means we cannot tell the flow: the kernel gets it.
 */
static __always_inline int xlb_parse_quoted_ipv4(void *data, void *data_end, struct xlb_pkt *pkt)
{
	__u32 off = pkt->l4_off + sizeof(struct xlb_icmphdr);
	struct iphdr *inner = data + off;
	struct xlb_ports *ports = (void *)(inner + 1);

	if ((void *)(ports + 1) > data_end ||
	    off + sizeof(*inner) + sizeof(*ports) > pkt->l3_off + pkt->l3_len)
		return xlb_verdict(pkt, XDP_PASS, XLB_STAT_PASS_ICMP);
	if (inner->version != 4 || inner->ihl != 5 ||
	    (inner->protocol != IPPROTO_TCP && inner->protocol != IPPROTO_UDP))
		return xlb_verdict(pkt, XDP_PASS, XLB_STAT_PASS_ICMP);
	pkt->flow.src[0] = inner->daddr;
	pkt->flow.dst[0] = inner->saddr;
	pkt->flow.sport = ports->dest;
	pkt->flow.dport = ports->source;
	pkt->flow.proto = inner->protocol;
	pkt->icmp_err = 1;
	return XLB_CONTINUE;
}

static __always_inline int xlb_parse_quoted_ipv6(void *data, void *data_end, struct xlb_pkt *pkt)
{
	__u32 off = pkt->l4_off + sizeof(struct icmp6hdr);
	struct ipv6hdr *inner = data + off;
	struct xlb_ports *ports = (void *)(inner + 1);

	if ((void *)(ports + 1) > data_end ||
	    off + sizeof(*inner) + sizeof(*ports) > pkt->l3_off + pkt->l3_len)
		return xlb_verdict(pkt, XDP_PASS, XLB_STAT_PASS_ICMP);
	if (inner->version != 6 ||
	    (inner->nexthdr != IPPROTO_TCP && inner->nexthdr != IPPROTO_UDP))
		return xlb_verdict(pkt, XDP_PASS, XLB_STAT_PASS_ICMP);
	__builtin_memcpy(pkt->flow.src, &inner->daddr, 16);
	__builtin_memcpy(pkt->flow.dst, &inner->saddr, 16);
	pkt->flow.sport = ports->dest;
	pkt->flow.dport = ports->source;
	pkt->flow.proto = inner->nexthdr;
	pkt->icmp_err = 1;
	return XLB_CONTINUE;
}

/* Only "fragmentation needed" and "packet too big" concern a flow's backend. */
static __always_inline int xlb_parse_icmp(void *data, void *data_end, struct xlb_pkt *pkt)
{
	struct xlb_icmphdr *icmp = data + pkt->l4_off;

	if (pkt->l4_off + sizeof(*icmp) > pkt->l3_off + pkt->l3_len ||
	    (void *)(icmp + 1) > data_end)
		return xlb_verdict(pkt, XDP_DROP, XLB_STAT_DROP_TRUNCATED);
	if (pkt->flow.family == XLB_AF_INET) {
		if (icmp->type != XLB_ICMP_DEST_UNREACH || icmp->code != XLB_ICMP_FRAG_NEEDED)
			return xlb_verdict(pkt, XDP_PASS, XLB_STAT_PASS_ICMP);
		return xlb_parse_quoted_ipv4(data, data_end, pkt);
	}
	if (icmp->type != ICMPV6_PKT_TOOBIG)
		return xlb_verdict(pkt, XDP_PASS, XLB_STAT_PASS_ICMP);
	return xlb_parse_quoted_ipv6(data, data_end, pkt);
}

static __always_inline int xlb_parse_l4(void *data, void *data_end, struct xlb_pkt *pkt)
{
	__u8 icmp_proto = pkt->flow.family == XLB_AF_INET ? IPPROTO_ICMP : IPPROTO_ICMPV6;

	if (pkt->flow.proto == IPPROTO_TCP) {
		int act = xlb_parse_ports(data, data_end, pkt, sizeof(struct tcphdr));
		struct tcphdr *tcp = data + pkt->l4_off;

		if (act == XLB_CONTINUE && (void *)(tcp + 1) <= data_end) {
			pkt->syn = tcp->syn && !tcp->ack;
			pkt->ends = tcp->fin || tcp->rst;
		}
		return act;
	}
	if (pkt->flow.proto == IPPROTO_UDP)
		return xlb_parse_ports(data, data_end, pkt, sizeof(struct udphdr));
	if (pkt->flow.proto == icmp_proto)
		return xlb_parse_icmp(data, data_end, pkt);
	return xlb_verdict(pkt, XDP_PASS, XLB_STAT_PASS_OTHER_L4);
}

/* Ethernet and IP: fills pkt up to, not including, the L4 header. */
static __always_inline int xlb_parse_l3(void *data, void *data_end, struct xlb_pkt *pkt)
{
	__be16 ethertype;
	int act;

	act = xlb_parse_eth(data, data_end, pkt, &ethertype);
	if (act != XLB_CONTINUE)
		return act;
	if (ethertype == bpf_htons(ETH_P_IP))
		return xlb_parse_ipv4(data, data_end, pkt);
	if (ethertype == bpf_htons(ETH_P_IPV6))
		return xlb_parse_ipv6(data, data_end, pkt);
	return xlb_verdict(pkt, XDP_PASS, XLB_STAT_PASS_NON_IP);
}

#endif /* XLB_PARSE_H */
