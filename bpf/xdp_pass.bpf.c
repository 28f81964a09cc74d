// SPDX-License-Identifier: GPL-2.0
/*
 * Attached to the bridge-side peer of a veth whose other end sends with
 * XDP_TX: a veth drops XDP-transmitted frames unless its peer has an XDP
 * program of its own (a veth quirk; see the README, "Test bed").
 */
#include <linux/bpf.h>
#include <bpf/bpf_helpers.h>

SEC("xdp")
int xlb_xdp_pass(struct xdp_md *ctx)
{
	return XDP_PASS;
}

char LICENSE[] SEC("license") = "GPL";
