// SPDX-License-Identifier: GPL-2.0
/*
 * xlb: the packet flow. Parse, find the VIP, find the flow's backend,
 * forward. Every decision is counted; see README.md "Verdicts".
 */
#include <linux/bpf.h>
#include <bpf/bpf_helpers.h>

#include "xlb_common.h"
#include "maps.h"
#include "stats.h"
#include "parse.h"
#include "xlb_sched.h"
#include "encap.h"
#include "limit.h"
#include "acl.h"

/* The outer header's entropy is per flow (flow_hash), also where the ring hashes the client only. */
static __always_inline int xlb_forward(struct xdp_md *ctx, const struct xlb_pkt *pkt,
				       const struct xlb_vip_meta *vip, const struct xlb_backend *be,
				       __u32 flow_hash, const __u32 l3_off)
{
	void *data = (void *)(long)ctx->data, *data_end = (void *)(long)ctx->data_end;

	if (vip->fwd_mode == XLB_FWD_DSR)
		return xlb_forward_dsr(pkt, data, data_end, be);
	return xlb_forward_ipip(ctx, pkt, be, flow_hash, l3_off);
}

SEC("xdp")
int xlb_xdp(struct xdp_md *ctx)
{
	void *data = (void *)(long)ctx->data, *data_end = (void *)(long)ctx->data_end;
	__u64 bytes = data_end - data;
	struct xlb_pkt pkt = {};
	struct xlb_vip_meta *vip;
	struct xlb_backend *be;
	__u32 backend_id = 0, flow_hash = 0;
	int act, new_flow = 0, over;

	/* One per-CPU record holds every counter; rx is the sum of the verdicts (see stats.h). */
	pkt.stats = xlb_stats_of_cpu();
	if (!pkt.stats)
		return XDP_PASS;
	act = xlb_parse_l3(data, data_end, &pkt);
	if (act != XLB_CONTINUE)
		return act;
	/* Without ports we cannot tell a VIP; a VIP's address is enough to keep these away from the kernel. */
	if (pkt.fragment || pkt.options) {
		if (!xlb_is_vip_address(&pkt.flow))
			return xlb_verdict(&pkt, XDP_PASS, XLB_STAT_PASS_NOT_VIP);
		if (!xlb_to_own_mac(ctx))
			return xlb_verdict(&pkt, XDP_PASS, XLB_STAT_PASS_OTHER_MAC);
		return xlb_verdict(&pkt, XDP_DROP, pkt.fragment ? XLB_STAT_DROP_FRAGMENT
							  : XLB_STAT_DROP_IP_OPTIONS);
	}
	act = xlb_parse_l4(data, data_end, &pkt);
	if (act != XLB_CONTINUE)
		return act;

	vip = xlb_vip_lookup(&pkt.flow);
	xlb_trace_vip(vip);
	if (!vip)
		return xlb_verdict(&pkt, XDP_PASS, pkt.icmp_err ? XLB_STAT_PASS_ICMP : XLB_STAT_PASS_NOT_VIP);
	/* Another host's frame flooded to us (a promiscuous port): its owner balances it, the kernel drops it. */
	if (!xlb_to_own_mac(ctx))
		return xlb_verdict(&pkt, XDP_PASS, XLB_STAT_PASS_OTHER_MAC);
	/* Before the pick: a denied client, or one over its limits, must not reach a table either. */
	over = vip->flags & (XLB_VIP_F_ACL | XLB_VIP_F_ACL_GLOBAL | XLB_VIP_F_ALLOW_ONLY) ? xlb_acl_check(&pkt, vip) : 0;
	if (!over && (vip->flags & XLB_VIP_F_LIMIT))
		over = xlb_limit_check(&pkt, vip);
	if (over)
		return xlb_verdict(&pkt, XDP_DROP, over);
	be = xlb_pick_backend(&pkt, vip, &backend_id, &new_flow, &flow_hash);
	xlb_trace_backend(be, backend_id);
	if (!be)
		return xlb_verdict(&pkt, XDP_DROP, XLB_STAT_DROP_NO_BACKEND);
	if (pkt.icmp_err)
		xlb_count(&pkt, XLB_STAT_ICMP_ERR_FORWARDED);
	xlb_account(&vip_stats, vip->vip_id, bytes, new_flow);
	xlb_account(&backend_stats, backend_id, bytes, new_flow);

	/* A constant L2 length on each branch keeps offsets simple for the verifier. */
	if (pkt.l3_off == sizeof(struct ethhdr))
		return xlb_forward(ctx, &pkt, vip, be, flow_hash, sizeof(struct ethhdr));
	return xlb_forward(ctx, &pkt, vip, be, flow_hash,
			   sizeof(struct ethhdr) + sizeof(struct xlb_vlan_hdr));
}

char LICENSE[] SEC("license") = "GPL";
