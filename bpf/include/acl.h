/* SPDX-License-Identifier: GPL-2.0 */
/*
 * Allow and deny lists: the most specific prefix of the VIP's own list
 * decides, else the most specific of the global list; a source neither
 * matches is dropped only where an allow list applies (the VIP's or the
 * global one: XLB_VIP_F_ALLOW_ONLY, which lbd sets). Checked before the
 * limits, so a denied source spends no bucket and makes no table entry.
 */
#ifndef XLB_ACL_H
#define XLB_ACL_H

#include <bpf/bpf_endian.h>

#include "limit.h"

/* The most specific prefix of scope n (0: global, vip_id + 1: the VIP's) that holds pkt's source. */
static __always_inline struct xlb_acl_entry *xlb_acl_match(const struct xlb_pkt *pkt, __u32 n)
{
	struct xlb_acl_key key = {
		.prefixlen = 32 + (pkt->flow.family == XLB_AF_INET ? 32 : 128),
		.scope = bpf_htonl(XLB_ACL_SCOPE(n, pkt->flow.family)),
	};

	__builtin_memcpy(key.addr, pkt->flow.src, sizeof(key.addr));
	return bpf_map_lookup_elem(&acl_map, &key);
}

/*
 * XLB_STAT_DROP_DENIED when the lists keep pkt's source out, else 0.
 * ICMP errors come from routers on the way, not from the client: an
 * allow list must not cut a client off from its path MTU. The trace
 * instance looks without counting.
 */
static __noinline int xlb_acl_check(const struct xlb_pkt *pkt, const struct xlb_vip_meta *vip)
{
	struct xlb_acl_entry *e;
	struct xlb_limit_key who;

	if (pkt->icmp_err)
		return 0;
	e = vip->flags & XLB_VIP_F_ACL ? xlb_acl_match(pkt, vip->vip_id + 1) : NULL;
	if (!e && (vip->flags & XLB_VIP_F_ACL_GLOBAL))
		e = xlb_acl_match(pkt, 0);
	if (e && !xlb_trace)
		__sync_fetch_and_add(&e->hits, 1);
	if (e ? !e->deny : !(vip->flags & XLB_VIP_F_ALLOW_ONLY))
		return 0;
	if (!xlb_trace) {
		__builtin_memset(&who, 0, sizeof(who));
		who.vip_id = vip->vip_id;
		who.family = pkt->flow.family;
		__builtin_memcpy(who.addr, pkt->flow.src, sizeof(who.addr));
		xlb_limit_note(&who, XLB_LIMITED_DENIED, bpf_ktime_get_ns());
	}
	return XLB_STAT_DROP_DENIED;
}

#endif /* XLB_ACL_H */
