// SPDX-License-Identifier: GPL-2.0
/*
 * bench_prog's driver for many flows in one looped BPF_PROG_TEST_RUN
 * (repeat > 1 reruns on the frame's last output, and live frames are not
 * on every kernel): each run puts the frame back as the client sent it,
 * gives it the next flow of a walk over `flows` flows, and tail-calls the
 * program measured. So a packet reads the ring at a new place each time,
 * as live traffic does, and the walk's own cost is the same beside the
 * reflector.
 */
#include <linux/bpf.h>
#include <linux/if_ether.h>
#include <linux/in.h>
#include <linux/ip.h>
#include <linux/udp.h>
#include <bpf/bpf_endian.h>
#include <bpf/bpf_helpers.h>

struct {
	__uint(type, BPF_MAP_TYPE_PROG_ARRAY);
	__uint(max_entries, 1);
	__type(key, __u32);
	__type(value, __u32);
} walk_target SEC(".maps");

/* Set by bench_prog between runs: the flows to walk, and the frame's own MACs (what the client sends). */
__u32 flows = 1;
__u8 client_mac[ETH_ALEN] = { 0 };
__u8 lb_mac[ETH_ALEN] = { 0 };

__u32 turn;

/* An IPIP output (outer IPv4 header first) loses its outer header: the client's frame again. */
static __always_inline int strip_outer(struct xdp_md *ctx)
{
	void *data = (void *)(long)ctx->data, *data_end = (void *)(long)ctx->data_end;
	struct iphdr *ip = data + sizeof(struct ethhdr);

	if ((void *)(ip + 1) > data_end)
		return -1;
	if (ip->protocol != IPPROTO_IPIP)
		return 0;
	return bpf_xdp_adjust_head(ctx, (int)sizeof(struct iphdr));
}

SEC("xdp")
int xlb_flow_walk(struct xdp_md *ctx)
{
	struct ethhdr *eth;
	struct udphdr *udp;
	struct iphdr *ip;
	void *data, *data_end;
	__u32 f;

	if (strip_outer(ctx))
		return XDP_ABORTED;
	data = (void *)(long)ctx->data;
	data_end = (void *)(long)ctx->data_end;
	eth = data;
	ip = (void *)(eth + 1);
	udp = (void *)(ip + 1);
	if ((void *)(udp + 1) > data_end || ip->ihl != 5)
		return XDP_ABORTED;
	for (int i = 0; i < ETH_ALEN; i++) {
		eth->h_dest[i] = lb_mac[i];
		eth->h_source[i] = client_mac[i];
	}
	eth->h_proto = bpf_htons(ETH_P_IP);
	/* An odd multiplier walks every flow once per `flows` runs, far apart from one run to the next. */
	f = (turn++ * 2654435761u) % flows;
	udp->source = bpf_htons((__u16)(1024 + (f & 0x7fff)));
	((__u8 *)&ip->saddr)[3] = (__u8)(f >> 15);
	bpf_tail_call(ctx, &walk_target, 0);
	return XDP_ABORTED;
}

char LICENSE[] SEC("license") = "GPL";
