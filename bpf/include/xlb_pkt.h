/* SPDX-License-Identifier: GPL-2.0 */
/* What the program knows of one frame as it goes: the parse, and where it counts. */
#ifndef XLB_PKT_H
#define XLB_PKT_H

#include "xlb_common.h"

struct xlb_pkt {
	struct xlb_flow_key flow;	/* the client's flow (for ICMP errors: the flow it is about) */
	/* This CPU's counters (stats_map's one record), looked up once a frame: see stats.h. */
	struct xlb_stats *stats;
	__u32 l3_off;			/* bytes of L2 header: 14, or 18 with a VLAN tag */
	__u32 l3_len;			/* IP packet length from its header, without L2 padding */
	__u32 l4_off;
	__u8 tos;			/* IPv4 TOS or IPv6 traffic class, copied to the outer header */
	__u8 df;			/* IPv4 don't-fragment; always set for IPv6 */
	__u8 fragment;			/* or an IPv6 header chain longer than we follow */
	__u8 options;
	__u8 icmp_err;			/* an ICMP error about flow, not a packet of it */
	__u8 syn;			/* a TCP SYN without ACK: a connection's first packet */
	__u8 ends;			/* a TCP FIN or RST: the client ends its connection */
};

#endif /* XLB_PKT_H */
