/* SPDX-License-Identifier: GPL-2.0 */
/*
 * Flows another node of the cluster could not place by its own ring: picked
 * on a moved slot (a new flow after a change, or one kept on the slot's
 * previous backend), or by a per-flow scheduler. The program hands each to
 * lbd as it remembers it, and lbd sends it to its peers (userspace/lbd/
 * sync.c), so a flow that ECMP or VRRP moves to another node finds its
 * backend there too. Flows on unmoved slots are never handed over: every
 * node's ring places them alike. Only VIPs lbd marks XLB_VIP_F_SHARE (it
 * has peers) pay for it, and only at a flow's first packet.
 */
#ifndef XLB_SHARE_H
#define XLB_SHARE_H

#include "maps.h"
#include "stats.h"
#include "trace.h"

struct {
	__uint(type, BPF_MAP_TYPE_RINGBUF);
	__uint(max_entries, XLB_SHARE_RING_BYTES);
} share_ring SEC(".maps");

static __always_inline void xlb_share(const struct xlb_pkt *pkt, const struct xlb_vip_meta *vip, __u32 backend_id)
{
	struct xlb_shared s;

	if (xlb_trace || !(vip->flags & XLB_VIP_F_SHARE))
		return;
	s.flow = pkt->flow;
	s.backend_id = backend_id;
	s.pad = 0;
	/* Full while lbd is behind: the flow is still placed, only its peers will not know it. */
	if (bpf_ringbuf_output(&share_ring, &s, sizeof(s), 0))
		xlb_count(pkt, XLB_STAT_SHARE_LOST);
	else
		xlb_count(pkt, XLB_STAT_SHARED);
}

#endif /* XLB_SHARE_H */
