/* SPDX-License-Identifier: GPL-2.0 */
/* The Ethernet header we send: kept aside before the frame moves, written back after. */
#ifndef XLB_L2_H
#define XLB_L2_H

#include <linux/if_ether.h>
#include <bpf/bpf_endian.h>
#include "parse.h"

struct xlb_l2 {
	__u8 dst[ETH_ALEN];
	__u8 src[ETH_ALEN];
	__be16 vlan_tci;
};

/* l3_off is a constant at each call site (14 or 18), which keeps the verifier's job simple. */
static __always_inline int xlb_write_l2(void *data, void *data_end, const struct xlb_l2 *l2,
					__u32 l3_off, __be16 ethertype)
{
	struct ethhdr *eth = data;
	struct xlb_vlan_hdr *vlan = (void *)(eth + 1);

	if (data + l3_off > data_end || (void *)(eth + 1) > data_end)
		return -1;
	__builtin_memcpy(eth->h_dest, l2->dst, ETH_ALEN);
	__builtin_memcpy(eth->h_source, l2->src, ETH_ALEN);
	if (l3_off == sizeof(*eth)) {
		eth->h_proto = ethertype;
		return 0;
	}
	if ((void *)(vlan + 1) > data_end)
		return -1;
	eth->h_proto = bpf_htons(XLB_ETH_P_8021Q);
	vlan->tci = l2->vlan_tci;
	vlan->proto = ethertype;
	return 0;
}

/*
 * Is the frame to a MAC this node owns on the interface it came in on
 * (own_mac_map)? A group address (broadcast, multicast) never is: such a
 * frame is not to this node alone, and what we sent would carry the group
 * address as its source.
 */
static __always_inline int xlb_to_own_mac(struct xdp_md *ctx)
{
	void *data = (void *)(long)ctx->data, *data_end = (void *)(long)ctx->data_end;
	struct ethhdr *eth = data;
	struct xlb_own_macs *own;
	__u32 key = 0, n, ifindex, dst_hi;
	__u16 dst_lo;

	if ((void *)(eth + 1) > data_end || (eth->h_dest[0] & 1))
		return 0;
	own = bpf_map_lookup_elem(&own_mac_map, &key);
	if (!own || !own->count)
		return 1;
	n = own->count;
	ifindex = ctx->ingress_ifindex;
	/* Through data, not the packed ethhdr: one load each, not one a byte. */
	dst_hi = *(__u32 *)data;
	dst_lo = *(__u16 *)(data + 4);
	for (__u32 i = 0; i < XLB_MAX_OWN_MACS && i < n; i++) {
		const struct xlb_own_mac *e = &own->e[i];

		if (e->ifindex == ifindex && *(__u32 *)e->mac == dst_hi && *(__u16 *)(e->mac + 4) == dst_lo)
			return 1;
	}
	return 0;
}

static __always_inline __be16 xlb_vlan_tci(void *data, void *data_end, __u32 l3_off)
{
	struct xlb_vlan_hdr *vlan = data + sizeof(struct ethhdr);

	if (l3_off == sizeof(struct ethhdr) || (void *)(vlan + 1) > data_end)
		return 0;
	return vlan->tci;
}

#endif /* XLB_L2_H */
