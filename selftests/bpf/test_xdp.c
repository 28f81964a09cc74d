// SPDX-License-Identifier: GPL-2.0
/*
 * Packet tests of xlb.bpf.o through BPF_PROG_TEST_RUN on the running
 * kernel's verifier. Each row of `cases` is one frame in, the verdict and
 * counter we expect, and how the frame must come out, byte for byte.
 */
#define _GNU_SOURCE
#include <arpa/inet.h>
#include <bpf/bpf.h>
#include <bpf/libbpf.h>
#include <errno.h>
#include <stdlib.h>
#include <linux/bpf.h>
#include <netinet/in.h>
#include <sched.h>
#include <pthread.h>
#include <stdio.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "hash.h"
#include "map_worker.h"
#include "maglev.h"
#include "xdp_env.h"
#include "xt.h"

XT_DEFINE_STATE;

#define CLIENT4 "198.18.0.10"
#define CLIENT6 "2001:db8::10"
#define ROUTER4 "198.18.0.1"
#define ROUTER6 "2001:db8::1"

enum out_kind {
	OUT_SAME,	/* untouched */
	OUT_FORWARD,	/* DSR or IPIP to the backend the ring picks */
	OUT_TOO_BIG,	/* ICMP "fragmentation needed" / "packet too big" to the client */
	OUT_ANY,	/* dropped: the bytes do not matter */
};

struct pkt_case {
	const char *name;
	struct pkt_spec in;
	int verdict;
	enum xlb_stat stat;		/* must rise by exactly one */
	enum out_kind out;
	int vip;			/* OUT_FORWARD: whose ring and mode */
	uint32_t mtu;			/* OUT_TOO_BIG: the MTU announced */
	size_t cut;			/* cut the frame to this many bytes */
	void (*mutate)(uint8_t *frame);
	/* An ICMP error about the flow `in` (quoting its reply), instead of `in` itself. */
	size_t icmp_quote;
	uint16_t link_mtu;		/* the config's mtu for this case; 0: the usual 1500 */
};

#define V4(s, d, p, sp, dp) .family = 4, .src = (s), .dst = (d), .proto = (p), .sport = (sp), .dport = (dp)
#define V6(s, d, p, sp, dp) .family = 6, .src = (s), .dst = (d), .proto = (p), .sport = (sp), .dport = (dp)
/* An IPv6 TCP packet of `len` bytes (header included, no extension headers) to the IPIP VIP. */
#define V6_TCP_IPIP_LEN(sp, len) V6(CLIENT6, "2001:db8:1::2", IPPROTO_TCP, (sp), 80), .payload = (len) - 60
#define V4_TCP_IPIP6_LEN(sp, len) V4(CLIENT4, "198.18.1.3", IPPROTO_TCP, (sp), 80), .payload = (len) - 40

static void set_ihl4(uint8_t *f) { f[14] = 0x44; }
static void set_version6_in_ipv4(uint8_t *f) { f[14] = 0x65; }
static void set_tot_len_long(uint8_t *f) { f[16] = 0x05; }
static void set_arp(uint8_t *f) { f[12] = 0x08; f[13] = 0x06; }
static void set_two_vlan_tags(uint8_t *f) { f[16] = 0x81; f[17] = 0x00; }
static void set_ipv6_version4(uint8_t *f) { f[14] = 0x45; }
static void set_dst(uint8_t *f, const uint8_t *mac) { memcpy(f, mac, 6); }
/* Another host's MAC, as a switch floods it; the virtual MAC of VRRP router 7; group addresses. */
static const uint8_t other_mac[6] = { 0x02, 0x00, 0x00, 0x00, 0x09, 0x09 };
static const uint8_t vmac7[6] = { 0x00, 0x00, 0x5e, 0x00, 0x01, 0x07 };
static void set_dst_other(uint8_t *f) { set_dst(f, other_mac); }
static void set_dst_vmac(uint8_t *f) { set_dst(f, vmac7); }
static void set_dst_broadcast(uint8_t *f) { set_dst(f, (const uint8_t[]){ 0xff, 0xff, 0xff, 0xff, 0xff, 0xff }); }
static void set_dst_multicast4(uint8_t *f) { set_dst(f, (const uint8_t[]){ 0x01, 0x00, 0x5e, 0x01, 0x01, 0x01 }); }
static void set_dst_multicast6(uint8_t *f) { set_dst(f, (const uint8_t[]){ 0x33, 0x33, 0x00, 0x00, 0x00, 0x01 }); }

static const struct pkt_case cases[] = {
	/* Forwarding: every mode and family. */
	{ "v4_tcp_dsr", { V4(CLIENT4, "198.18.1.1", IPPROTO_TCP, 40000, 80), .payload = 32 },
	  XDP_TX, XLB_STAT_TX_DSR, OUT_FORWARD, VIP4_TCP_DSR },
	{ "v4_udp_dsr", { V4(CLIENT4, "198.18.1.1", IPPROTO_UDP, 40001, 53), .payload = 20 },
	  XDP_TX, XLB_STAT_TX_DSR, OUT_FORWARD, VIP4_UDP_DSR },
	{ "v6_tcp_dsr", { V6(CLIENT6, "2001:db8:1::1", IPPROTO_TCP, 40002, 80), .payload = 32 },
	  XDP_TX, XLB_STAT_TX_DSR, OUT_FORWARD, VIP6_TCP_DSR },
	{ "v6_udp_dsr", { V6(CLIENT6, "2001:db8:1::1", IPPROTO_UDP, 40003, 53), .payload = 20 },
	  XDP_TX, XLB_STAT_TX_DSR, OUT_FORWARD, VIP6_UDP_DSR },
	{ "v4_tcp_ipip", { V4(CLIENT4, "198.18.1.2", IPPROTO_TCP, 40004, 80), .payload = 100, .tos = 0xb8 },
	  XDP_TX, XLB_STAT_TX_IPIP, OUT_FORWARD, VIP4_TCP_IPIP },
	{ "v4_udp_ipip", { V4(CLIENT4, "198.18.1.2", IPPROTO_UDP, 40005, 53), .payload = 100 },
	  XDP_TX, XLB_STAT_TX_IPIP, OUT_FORWARD, VIP4_UDP_IPIP },
	{ "v6_tcp_ipip", { V6(CLIENT6, "2001:db8:1::2", IPPROTO_TCP, 40006, 80), .payload = 100, .tos = 0x28 },
	  XDP_TX, XLB_STAT_TX_IPIP, OUT_FORWARD, VIP6_TCP_IPIP },
	{ "v6_udp_ipip", { V6(CLIENT6, "2001:db8:1::2", IPPROTO_UDP, 40007, 53), .payload = 100 },
	  XDP_TX, XLB_STAT_TX_IPIP, OUT_FORWARD, VIP6_UDP_IPIP },
	{ "v4_in_v6_ipip", { V4(CLIENT4, "198.18.1.3", IPPROTO_TCP, 40008, 80), .payload = 64 },
	  XDP_TX, XLB_STAT_TX_IPIP, OUT_FORWARD, VIP4_TCP_IPIP6 },
	{ "vlan_v4_ipip", { V4(CLIENT4, "198.18.1.2", IPPROTO_TCP, 40009, 80), .payload = 10, .vlan = 0x2064 },
	  XDP_TX, XLB_STAT_TX_IPIP, OUT_FORWARD, VIP4_TCP_IPIP },
	{ "vlan_v6_dsr", { V6(CLIENT6, "2001:db8:1::1", IPPROTO_TCP, 40010, 80), .vlan = 7 },
	  XDP_TX, XLB_STAT_TX_DSR, OUT_FORWARD, VIP6_TCP_DSR },
	{ "padded_v4_udp_ipip_drops_padding", { V4(CLIENT4, "198.18.1.2", IPPROTO_UDP, 40011, 53), .payload = 2, .min_frame = 60 },
	  XDP_TX, XLB_STAT_TX_IPIP, OUT_FORWARD, VIP4_UDP_IPIP },
	{ "port0_vip_takes_any_port", { V4(CLIENT4, "198.18.1.4", IPPROTO_TCP, 40012, 8443) },
	  XDP_TX, XLB_STAT_TX_DSR, OUT_FORWARD, VIP4_ANY_SRC },
	{ "v6_ext_headers_skipped", { V6(CLIENT6, "2001:db8:1::2", IPPROTO_TCP, 40013, 80),
	  .ext = { IPPROTO_HOPOPTS, IPPROTO_DSTOPTS, IPPROTO_ROUTING }, .n_ext = 3 },
	  XDP_TX, XLB_STAT_TX_IPIP, OUT_FORWARD, VIP6_TCP_IPIP },
	{ "v6_one_ext_header_skipped", { V6(CLIENT6, "2001:db8:1::1", IPPROTO_UDP, 40014, 53),
	  .ext = { IPPROTO_DSTOPTS }, .n_ext = 1 },
	  XDP_TX, XLB_STAT_TX_DSR, OUT_FORWARD, VIP6_UDP_DSR },
	{ "v6_two_ext_headers_skipped", { V6(CLIENT6, "2001:db8:1::2", IPPROTO_UDP, 40015, 53),
	  .ext = { IPPROTO_HOPOPTS, IPPROTO_ROUTING }, .n_ext = 2 },
	  XDP_TX, XLB_STAT_TX_IPIP, OUT_FORWARD, VIP6_UDP_IPIP },
	/* The longest chain the parser follows. */
	{ "v6_four_ext_headers_skipped", { V6(CLIENT6, "2001:db8:1::2", IPPROTO_TCP, 40016, 80),
	  .ext = { IPPROTO_HOPOPTS, IPPROTO_DSTOPTS, IPPROTO_ROUTING, IPPROTO_DSTOPTS }, .n_ext = 4 },
	  XDP_TX, XLB_STAT_TX_IPIP, OUT_FORWARD, VIP6_TCP_IPIP },

	/* Not ours: to the kernel, untouched. */
	{ "v4_not_vip", { V4(CLIENT4, "198.18.9.9", IPPROTO_TCP, 40100, 80) },
	  XDP_PASS, XLB_STAT_PASS_NOT_VIP, OUT_SAME },
	{ "v6_not_vip", { V6(CLIENT6, "2001:db8:9::9", IPPROTO_UDP, 40101, 53) },
	  XDP_PASS, XLB_STAT_PASS_NOT_VIP, OUT_SAME },
	{ "vip_addr_other_port", { V4(CLIENT4, "198.18.1.1", IPPROTO_TCP, 40102, 22) },
	  XDP_PASS, XLB_STAT_PASS_NOT_VIP, OUT_SAME },
	{ "vip_addr_other_proto", { V4(CLIENT4, "198.18.1.1", IPPROTO_UDP, 40103, 80) },
	  XDP_PASS, XLB_STAT_PASS_NOT_VIP, OUT_SAME },
	{ "vip_addr_gre", { V4(CLIENT4, "198.18.1.1", 47, 0, 0), .payload = 16 },
	  XDP_PASS, XLB_STAT_PASS_OTHER_L4, OUT_SAME },
	{ "vip_addr_echo_request", { V4(CLIENT4, "198.18.1.1", IPPROTO_ICMP, 0, 0), .payload = 16 },
	  XDP_PASS, XLB_STAT_PASS_ICMP, OUT_SAME },
	{ "vip6_addr_echo_request", { V6(CLIENT6, "2001:db8:1::1", IPPROTO_ICMPV6, 0, 0), .payload = 16 },
	  XDP_PASS, XLB_STAT_PASS_ICMP, OUT_SAME },
	{ "arp", { V4(CLIENT4, "198.18.1.1", IPPROTO_TCP, 1, 80) , .payload = 0 },
	  XDP_PASS, XLB_STAT_PASS_NON_IP, OUT_SAME, .mutate = set_arp },
	{ "two_vlan_tags", { V4(CLIENT4, "198.18.1.1", IPPROTO_TCP, 1, 80), .vlan = 5 },
	  XDP_PASS, XLB_STAT_PASS_NON_IP, OUT_SAME, .mutate = set_two_vlan_tags },
	{ "fragment_to_other_host", { V4(CLIENT4, "198.18.9.9", IPPROTO_UDP, 1, 53), .frag_off = 0x2000, .no_df = true },
	  XDP_PASS, XLB_STAT_PASS_NOT_VIP, OUT_SAME },
	{ "options_to_other_host", { V4(CLIENT4, "198.18.9.9", IPPROTO_TCP, 1, 80), .ihl = 6 },
	  XDP_PASS, XLB_STAT_PASS_NOT_VIP, OUT_SAME },
	{ "v6_five_ext_headers_to_other_host", { V6(CLIENT6, "2001:db8:9::9", IPPROTO_TCP, 1, 80),
	  .ext = { IPPROTO_HOPOPTS, IPPROTO_DSTOPTS, IPPROTO_ROUTING, IPPROTO_DSTOPTS, IPPROTO_DSTOPTS }, .n_ext = 5 },
	  XDP_PASS, XLB_STAT_PASS_NOT_VIP, OUT_SAME },
	{ "v6_fragment_after_four_ext_to_other_host", { V6(CLIENT6, "2001:db8:9::9", IPPROTO_UDP, 1, 53),
	  .ext = { IPPROTO_HOPOPTS, IPPROTO_DSTOPTS, IPPROTO_ROUTING, IPPROTO_DSTOPTS, IPPROTO_FRAGMENT }, .n_ext = 5 },
	  XDP_PASS, XLB_STAT_PASS_NOT_VIP, OUT_SAME },

	/*
	 * Group addresses are never balanced, even with own_mac_map empty: the
	 * frame is not to us alone, and DSR would send from the group address.
	 */
	{ "broadcast_to_vip", { V4(CLIENT4, "198.18.1.1", IPPROTO_TCP, 40110, 80) },
	  XDP_PASS, XLB_STAT_PASS_OTHER_MAC, OUT_SAME, .mutate = set_dst_broadcast },
	{ "multicast_to_vip", { V4(CLIENT4, "198.18.1.2", IPPROTO_UDP, 40111, 53) },
	  XDP_PASS, XLB_STAT_PASS_OTHER_MAC, OUT_SAME, .mutate = set_dst_multicast4 },
	{ "multicast6_to_vip", { V6(CLIENT6, "2001:db8:1::1", IPPROTO_TCP, 40112, 80) },
	  XDP_PASS, XLB_STAT_PASS_OTHER_MAC, OUT_SAME, .mutate = set_dst_multicast6 },
	{ "broadcast_fragment_to_vip", { V4(CLIENT4, "198.18.1.1", IPPROTO_UDP, 1, 53), .frag_off = 0x2000, .no_df = true },
	  XDP_PASS, XLB_STAT_PASS_OTHER_MAC, OUT_SAME, .mutate = set_dst_broadcast },
	{ "broadcast_not_vip", { V4(CLIENT4, "198.18.9.9", IPPROTO_TCP, 40113, 80) },
	  XDP_PASS, XLB_STAT_PASS_NOT_VIP, OUT_SAME, .mutate = set_dst_broadcast },
	/* With own_mac_map empty, the check is off: any unicast MAC is taken for ours. */
	{ "unlisted_unicast_with_empty_list", { V4(CLIENT4, "198.18.1.1", IPPROTO_TCP, 40114, 80) },
	  XDP_TX, XLB_STAT_TX_DSR, OUT_FORWARD, VIP4_TCP_DSR, .mutate = set_dst_other },

	/* Malformed, fragments, options: dropped, each with its counter. */
	/* test-run refuses frames under 14 bytes, as drivers never deliver them: no truncated_eth. */
	{ "truncated_vlan", { V4(CLIENT4, "198.18.1.1", IPPROTO_TCP, 1, 80), .vlan = 5 },
	  XDP_DROP, XLB_STAT_DROP_TRUNCATED, OUT_ANY, .cut = 17 },
	{ "truncated_ipv4_header", { V4(CLIENT4, "198.18.1.1", IPPROTO_TCP, 1, 80) },
	  XDP_DROP, XLB_STAT_DROP_TRUNCATED, OUT_ANY, .cut = 14 + 19 },
	{ "truncated_ipv4_payload", { V4(CLIENT4, "198.18.1.1", IPPROTO_TCP, 1, 80), .payload = 10 },
	  XDP_DROP, XLB_STAT_DROP_TRUNCATED, OUT_ANY, .cut = 14 + 20 + 25 },
	{ "truncated_tcp_header", { V4(CLIENT4, "198.18.1.1", IPPROTO_TCP, 1, 80) },
	  XDP_DROP, XLB_STAT_DROP_TRUNCATED, OUT_ANY, .mutate = set_tot_len_long, .cut = 14 + 20 + 19 },
	{ "tot_len_beyond_frame", { V4(CLIENT4, "198.18.1.1", IPPROTO_TCP, 1, 80) },
	  XDP_DROP, XLB_STAT_DROP_TRUNCATED, OUT_ANY, .mutate = set_tot_len_long },
	{ "truncated_udp_header", { V4(CLIENT4, "198.18.1.1", IPPROTO_UDP, 1, 53) },
	  XDP_DROP, XLB_STAT_DROP_TRUNCATED, OUT_ANY, .cut = 14 + 20 + 7 },
	{ "truncated_ipv6_header", { V6(CLIENT6, "2001:db8:1::1", IPPROTO_TCP, 1, 80) },
	  XDP_DROP, XLB_STAT_DROP_TRUNCATED, OUT_ANY, .cut = 14 + 39 },
	{ "truncated_ipv6_ext_header", { V6(CLIENT6, "2001:db8:1::1", IPPROTO_TCP, 1, 80),
	  .ext = { IPPROTO_HOPOPTS }, .n_ext = 1 },
	  XDP_DROP, XLB_STAT_DROP_TRUNCATED, OUT_ANY, .cut = 14 + 40 + 1 },
	{ "truncated_ipv6_tcp_header", { V6(CLIENT6, "2001:db8:1::1", IPPROTO_TCP, 1, 80) },
	  XDP_DROP, XLB_STAT_DROP_TRUNCATED, OUT_ANY, .cut = 14 + 40 + 19 },
	{ "truncated_icmp_header", { V4(CLIENT4, "198.18.1.1", IPPROTO_ICMP, 0, 0) },
	  XDP_DROP, XLB_STAT_DROP_TRUNCATED, OUT_ANY, .cut = 14 + 20 + 7 },
	{ "bad_ihl", { V4(CLIENT4, "198.18.1.1", IPPROTO_TCP, 1, 80) },
	  XDP_DROP, XLB_STAT_DROP_BAD_IP, OUT_ANY, .mutate = set_ihl4 },
	{ "ipv4_ethertype_version6", { V4(CLIENT4, "198.18.1.1", IPPROTO_TCP, 1, 80) },
	  XDP_DROP, XLB_STAT_DROP_BAD_IP, OUT_ANY, .mutate = set_version6_in_ipv4 },
	{ "ipv6_ethertype_version4", { V6(CLIENT6, "2001:db8:1::1", IPPROTO_TCP, 1, 80) },
	  XDP_DROP, XLB_STAT_DROP_BAD_IP, OUT_ANY, .mutate = set_ipv6_version4 },
	{ "first_fragment_to_vip", { V4(CLIENT4, "198.18.1.1", IPPROTO_UDP, 1, 53), .frag_off = 0x2000, .no_df = true },
	  XDP_DROP, XLB_STAT_DROP_FRAGMENT, OUT_ANY },
	{ "later_fragment_to_vip", { V4(CLIENT4, "198.18.1.1", IPPROTO_UDP, 1, 53), .frag_off = 0x00b9, .no_df = true },
	  XDP_DROP, XLB_STAT_DROP_FRAGMENT, OUT_ANY },
	{ "v6_fragment_to_vip", { V6(CLIENT6, "2001:db8:1::1", IPPROTO_UDP, 1, 53),
	  .ext = { IPPROTO_FRAGMENT }, .n_ext = 1 },
	  XDP_DROP, XLB_STAT_DROP_FRAGMENT, OUT_ANY },
	{ "options_to_vip", { V4(CLIENT4, "198.18.1.1", IPPROTO_TCP, 1, 80), .ihl = 6 },
	  XDP_DROP, XLB_STAT_DROP_IP_OPTIONS, OUT_ANY },
	/* A chain longer than the parser follows hides the ports (and maybe a fragment header). */
	{ "v6_five_ext_headers_to_vip", { V6(CLIENT6, "2001:db8:1::2", IPPROTO_TCP, 1, 80),
	  .ext = { IPPROTO_HOPOPTS, IPPROTO_DSTOPTS, IPPROTO_ROUTING, IPPROTO_DSTOPTS, IPPROTO_DSTOPTS }, .n_ext = 5 },
	  XDP_DROP, XLB_STAT_DROP_FRAGMENT, OUT_ANY },
	{ "v6_fragment_after_four_ext_to_vip", { V6(CLIENT6, "2001:db8:1::1", IPPROTO_UDP, 1, 53),
	  .ext = { IPPROTO_HOPOPTS, IPPROTO_DSTOPTS, IPPROTO_ROUTING, IPPROTO_DSTOPTS, IPPROTO_FRAGMENT }, .n_ext = 5 },
	  XDP_DROP, XLB_STAT_DROP_FRAGMENT, OUT_ANY },
	{ "v6_five_ext_headers_to_vip_address_other_port", { V6(CLIENT6, "2001:db8:1::1", IPPROTO_TCP, 1, 22),
	  .ext = { IPPROTO_DSTOPTS, IPPROTO_DSTOPTS, IPPROTO_DSTOPTS, IPPROTO_DSTOPTS, IPPROTO_DSTOPTS }, .n_ext = 5 },
	  XDP_DROP, XLB_STAT_DROP_FRAGMENT, OUT_ANY },

	/* Too big to encapsulate (1500 - 20 = 1480 for IPv4 outer, 1500 - 40 for IPv6). */
	{ "v4_too_big_df", { V4(CLIENT4, "198.18.1.2", IPPROTO_TCP, 40200, 80), .payload = 1460 - 19 },
	  XDP_TX, XLB_STAT_ICMP_TOO_BIG_SENT, OUT_TOO_BIG, .mtu = 1480 },
	{ "v4_fits_exactly", { V4(CLIENT4, "198.18.1.2", IPPROTO_TCP, 40201, 80), .payload = 1460 - 20 },
	  XDP_TX, XLB_STAT_TX_IPIP, OUT_FORWARD, VIP4_TCP_IPIP },
	{ "v4_too_big_no_df", { V4(CLIENT4, "198.18.1.2", IPPROTO_UDP, 40202, 53), .payload = 1480, .no_df = true },
	  XDP_DROP, XLB_STAT_DROP_TOO_BIG, OUT_ANY },
	{ "v6_too_big", { V6(CLIENT6, "2001:db8:1::2", IPPROTO_UDP, 40203, 53), .payload = 1500 - 40 - 40 - 8 + 1 },
	  XDP_TX, XLB_STAT_ICMP_TOO_BIG_SENT, OUT_TOO_BIG, .mtu = 1460 },
	{ "v4_in_v6_too_big", { V4(CLIENT4, "198.18.1.3", IPPROTO_TCP, 40204, 80), .payload = 1460 - 40 + 1 },
	  XDP_TX, XLB_STAT_ICMP_TOO_BIG_SENT, OUT_TOO_BIG, .mtu = 1460 },
	{ "vlan_v4_too_big", { V4(CLIENT4, "198.18.1.2", IPPROTO_TCP, 40205, 80), .payload = 1460, .vlan = 9 },
	  XDP_TX, XLB_STAT_ICMP_TOO_BIG_SENT, OUT_TOO_BIG, .mtu = 1480 },
	{ "v6_fits_exactly", { V6_TCP_IPIP_LEN(40206, 1460) },
	  XDP_TX, XLB_STAT_TX_IPIP, OUT_FORWARD, VIP6_TCP_IPIP },
	{ "v6_too_big_by_one", { V6_TCP_IPIP_LEN(40207, 1461) },
	  XDP_TX, XLB_STAT_ICMP_TOO_BIG_SENT, OUT_TOO_BIG, .mtu = 1460 },
	/*
	 * At mtu 1320 an IPv6 tunnel carries exactly the IPv6 minimum of 1280.
	 * Below, the tunnel is narrower than IPv6 allows any link to be: what
	 * is above 1280 learns 1280 (no sender goes lower, RFC 8201), and what
	 * is at most 1280 but does not fit cannot be sent in one frame, nor
	 * can any ICMP make its sender shrink it: dropped and counted as too
	 * big. (A kernel tunnel would fragment the outer packet; see icmp.h.)
	 */
	{ "v6_mtu1320_1280_fits", { V6_TCP_IPIP_LEN(40210, 1280) },
	  XDP_TX, XLB_STAT_TX_IPIP, OUT_FORWARD, VIP6_TCP_IPIP, .link_mtu = 1320 },
	{ "v6_mtu1320_1281_too_big", { V6_TCP_IPIP_LEN(40211, 1281) },
	  XDP_TX, XLB_STAT_ICMP_TOO_BIG_SENT, OUT_TOO_BIG, .mtu = 1280, .link_mtu = 1320 },
	{ "v6_mtu1300_fits_exactly", { V6_TCP_IPIP_LEN(40212, 1260) },
	  XDP_TX, XLB_STAT_TX_IPIP, OUT_FORWARD, VIP6_TCP_IPIP, .link_mtu = 1300 },
	{ "v6_mtu1300_over_by_one_dropped", { V6_TCP_IPIP_LEN(40213, 1261) },
	  XDP_DROP, XLB_STAT_DROP_TOO_BIG, OUT_ANY, .link_mtu = 1300 },
	{ "v6_mtu1300_1280_dropped", { V6_TCP_IPIP_LEN(40214, 1280) },
	  XDP_DROP, XLB_STAT_DROP_TOO_BIG, OUT_ANY, .link_mtu = 1300 },
	{ "v6_mtu1300_1281_told_1280", { V6_TCP_IPIP_LEN(40215, 1281) },
	  XDP_TX, XLB_STAT_ICMP_TOO_BIG_SENT, OUT_TOO_BIG, .mtu = 1280, .link_mtu = 1300 },
	{ "v6_mtu1280_1241_dropped", { V6_TCP_IPIP_LEN(40216, 1241) },
	  XDP_DROP, XLB_STAT_DROP_TOO_BIG, OUT_ANY, .link_mtu = 1280 },
	{ "v6_mtu1280_1240_fits", { V6_TCP_IPIP_LEN(40217, 1240) },
	  XDP_TX, XLB_STAT_TX_IPIP, OUT_FORWARD, VIP6_TCP_IPIP, .link_mtu = 1280 },
	/* IPv4 has no such floor: the tunnel's own limit is announced. */
	{ "v4_in_v6_mtu1300_fits_exactly", { V4_TCP_IPIP6_LEN(40218, 1260) },
	  XDP_TX, XLB_STAT_TX_IPIP, OUT_FORWARD, VIP4_TCP_IPIP6, .link_mtu = 1300 },
	{ "v4_in_v6_mtu1300_too_big", { V4_TCP_IPIP6_LEN(40219, 1261) },
	  XDP_TX, XLB_STAT_ICMP_TOO_BIG_SENT, OUT_TOO_BIG, .mtu = 1260, .link_mtu = 1300 },

	/* ICMP errors about a VIP's flow go to that flow's backend. */
	{ "icmp4_frag_needed_to_backend", { V4(CLIENT4, "198.18.1.2", IPPROTO_TCP, 40300, 80), .payload = 200 },
	  XDP_TX, XLB_STAT_ICMP_ERR_FORWARDED, OUT_FORWARD, VIP4_TCP_IPIP, .icmp_quote = 28 },
	{ "icmp4_frag_needed_dsr", { V4(CLIENT4, "198.18.1.1", IPPROTO_UDP, 40301, 53), .payload = 200 },
	  XDP_TX, XLB_STAT_ICMP_ERR_FORWARDED, OUT_FORWARD, VIP4_UDP_DSR, .icmp_quote = 100 },
	{ "icmp6_too_big_to_backend", { V6(CLIENT6, "2001:db8:1::2", IPPROTO_TCP, 40302, 80), .payload = 200 },
	  XDP_TX, XLB_STAT_ICMP_ERR_FORWARDED, OUT_FORWARD, VIP6_TCP_IPIP, .icmp_quote = 48 },
	{ "icmp4_about_other_flow", { V4(CLIENT4, "198.18.9.9", IPPROTO_TCP, 40303, 80) },
	  XDP_PASS, XLB_STAT_PASS_ICMP, OUT_SAME, .icmp_quote = 28 },
	{ "icmp4_quote_too_short", { V4(CLIENT4, "198.18.1.2", IPPROTO_TCP, 40304, 80) },
	  XDP_PASS, XLB_STAT_PASS_ICMP, OUT_SAME, .icmp_quote = 20 },
};

/*
 * With own_mac_map listing the interface's MAC (pkt_lb_mac) and VRRP
 * router 7's virtual MAC on the interface test runs arrive on: a frame to
 * a VIP is balanced when it is to one of them, and passes untouched when
 * it is to another host's MAC (a switch flooding unknown unicast).
 */
static const struct pkt_case own_mac_cases[] = {
	{ "listed_iface_mac_v4_dsr", { V4(CLIENT4, "198.18.1.1", IPPROTO_TCP, 40500, 80) },
	  XDP_TX, XLB_STAT_TX_DSR, OUT_FORWARD, VIP4_TCP_DSR },
	{ "listed_iface_mac_v6_ipip", { V6(CLIENT6, "2001:db8:1::2", IPPROTO_UDP, 40501, 53) },
	  XDP_TX, XLB_STAT_TX_IPIP, OUT_FORWARD, VIP6_UDP_IPIP },
	{ "listed_vmac_v4_dsr_sends_from_vmac", { V4(CLIENT4, "198.18.1.1", IPPROTO_TCP, 40502, 80) },
	  XDP_TX, XLB_STAT_TX_DSR, OUT_FORWARD, VIP4_TCP_DSR, .mutate = set_dst_vmac },
	{ "listed_vmac_v4_ipip", { V4(CLIENT4, "198.18.1.2", IPPROTO_TCP, 40503, 80) },
	  XDP_TX, XLB_STAT_TX_IPIP, OUT_FORWARD, VIP4_TCP_IPIP, .mutate = set_dst_vmac },
	{ "other_mac_v4_dsr_passes", { V4(CLIENT4, "198.18.1.1", IPPROTO_TCP, 40504, 80) },
	  XDP_PASS, XLB_STAT_PASS_OTHER_MAC, OUT_SAME, .mutate = set_dst_other },
	{ "other_mac_v6_ipip_passes", { V6(CLIENT6, "2001:db8:1::2", IPPROTO_TCP, 40505, 80) },
	  XDP_PASS, XLB_STAT_PASS_OTHER_MAC, OUT_SAME, .mutate = set_dst_other },
	{ "other_mac_vlan_v4_ipip_passes", { V4(CLIENT4, "198.18.1.2", IPPROTO_UDP, 40506, 53), .vlan = 5 },
	  XDP_PASS, XLB_STAT_PASS_OTHER_MAC, OUT_SAME, .mutate = set_dst_other },
	{ "other_mac_fragment_to_vip_passes", { V4(CLIENT4, "198.18.1.1", IPPROTO_UDP, 1, 53), .frag_off = 0x2000, .no_df = true },
	  XDP_PASS, XLB_STAT_PASS_OTHER_MAC, OUT_SAME, .mutate = set_dst_other },
	{ "other_mac_icmp_error_passes", { V4(CLIENT4, "198.18.1.2", IPPROTO_TCP, 40507, 80), .payload = 200 },
	  XDP_PASS, XLB_STAT_PASS_OTHER_MAC, OUT_SAME, .icmp_quote = 28, .mutate = set_dst_other },
	{ "other_mac_not_vip_keeps_its_counter", { V4(CLIENT4, "198.18.9.9", IPPROTO_TCP, 40508, 80) },
	  XDP_PASS, XLB_STAT_PASS_NOT_VIP, OUT_SAME, .mutate = set_dst_other },
};

/* The reply a backend sends for the flow of spec: what an ICMP error quotes. */
static struct pkt_spec reply_of(const struct pkt_spec *s)
{
	struct pkt_spec r = *s;

	r.src = s->dst;
	r.dst = s->src;
	r.sport = s->dport;
	r.dport = s->sport;
	return r;
}

static void check_checksums(const uint8_t *frame, size_t len)
{
	size_t l3 = pkt_l3_off(frame);
	const uint8_t *ip = frame + l3;

	if ((ip[0] >> 4) == 4)
		XT_TRUE(pkt_ipv4_csum_ok(ip), "outer IPv4 header checksum is wrong");
	/* ICMP replies we build: their own checksum must hold. */
	if (((ip[0] >> 4) == 4 && ip[9] == IPPROTO_ICMP) ||
	    ((ip[0] >> 4) == 6 && ip[6] == IPPROTO_ICMPV6))
		XT_TRUE(pkt_l4_csum_ok(ip, len - l3), "ICMP checksum is wrong");
	/* Encapsulated: the inner packet's checksums are untouched and still right. */
	if (((ip[0] >> 4) == 4 && ip[9] == IPPROTO_IPIP) || ((ip[0] >> 4) == 6 && ip[6] == IPPROTO_IPIP))
		XT_TRUE(pkt_ipv4_csum_ok(ip + ((ip[0] >> 4) == 4 ? 20 : 40)), "inner IPv4 checksum");
}

static bool set_link_mtu(uint16_t mtu)
{
	if (env_cfg.mtu == mtu)
		return true;
	env_cfg.mtu = mtu;
	return XT_EQ(xlb_config_set(&env_fds, &env_cfg), 0);
}

static void run_case(const struct pkt_case *c)
{
	uint8_t in[PKT_MAX], exp[PKT_MAX];
	size_t len, exp_len = 0;
	struct xlb_flow_key flow;
	struct env_run r;
	int ret;

	if (c->icmp_quote) {
		struct pkt_spec quoted = reply_of(&c->in);

		len = c->in.family == 4 ?
			      pkt_build_icmp_err(4, ROUTER4, c->in.dst, &quoted, c->icmp_quote, 1400, in) :
			      pkt_build_icmp_err(6, ROUTER6, c->in.dst, &quoted, c->icmp_quote, 1400, in);
	} else {
		len = pkt_build(&c->in, in);
	}
	if (c->mutate)
		c->mutate(in);
	if (c->cut)
		len = c->cut;
	env_flow(&c->in, &flow);

	if (!set_link_mtu(c->link_mtu ? c->link_mtu : 1500))
		return;
	ret = env_run(in, len, &r);
	if (c->link_mtu && !set_link_mtu(1500))
		return;
	if (!XT_EQ(ret, 0) || !XT_EQ(r.verdict, c->verdict))
		return;
	XT_EQ(r.delta[c->stat], 1);
	XT_EQ(r.delta[XLB_STAT_RX], 1);

	switch (c->out) {
	case OUT_SAME:
		memcpy(exp, in, len);
		exp_len = len;
		break;
	case OUT_FORWARD:
		exp_len = env_expect_forward(c->vip, env_ring_pick(c->vip, &flow), &flow, in, len, exp);
		break;
	case OUT_TOO_BIG:
		exp_len = pkt_expect_too_big(in, len, c->mtu, exp);
		break;
	case OUT_ANY:
		return;
	}
	if (!XT_EQ(r.out_len, exp_len) || !XT_MEM(r.out, exp, exp_len)) {
		pkt_hexdump("got", r.out, r.out_len);
		pkt_hexdump("expected", exp, exp_len);
		return;
	}
	check_checksums(r.out, r.out_len);
}

/* Is the flow in the connection table? */
static bool remembered(const struct xlb_flow_key *flow)
{
	struct xlb_conn conn;

	return env_conn_find(flow, &conn) >= 0;
}

/* Publishes the VIP's ring afresh, as for a VIP that has carried no traffic: no moved slots. */
static int publish_fresh(int v)
{
	free(env_vips[v].slots);
	env_vips[v].slots = NULL;
	return env_publish(v);
}

/*
 * Flows keep their backends when the ring changes under them. Before the
 * change the ring alone decides and nothing is remembered; after it, a
 * moved slot sends a TCP packet that is not a SYN to the backend the slot
 * had, and remembers that. A SYN there follows the new ring.
 */
static void flow_keeps_backend_after_ring_change(void)
{
	struct pkt_spec s = { V4(CLIENT4, "198.18.1.5", IPPROTO_TCP, 0, 80) };
	uint32_t before[64], new_before[64];
	uint8_t in[PKT_MAX];
	struct xlb_flow_key flow;
	struct env_run r;
	int moved = 0, j;

	/* 64 flows under the ring {21,22,23}; 64 more source ports, not sent yet. */
	for (int i = 0; i < 64; i++) {
		s.sport = (uint16_t)(42000 + i);
		env_flow(&s, &flow);
		new_before[i] = env_ring_pick(VIP4_CHURN, &flow);
		s.sport = (uint16_t)(41000 + i);
		env_flow(&s, &flow);
		before[i] = env_ring_pick(VIP4_CHURN, &flow);
		if (!XT_EQ(env_run(in, pkt_build(&s, in), &r), 0) || !XT_EQ(r.verdict, XDP_TX))
			return;
		XT_EQ(r.delta[XLB_STAT_RING_STABLE], 1);
		XT_MEM(r.out, env_backend(before[i])->mac, 6);
		XT_TRUE(!remembered(&flow), "a flow on an unmoved slot was put in the table");
	}
	/* Add a fourth backend and drop the first from the ring. */
	memcpy(env_vips[VIP4_CHURN].backends, (uint32_t[]){ 22, 23, 24, 0 }, 4 * sizeof(uint32_t));
	if (!XT_EQ(env_publish(VIP4_CHURN), 0))
		return;
	for (int i = 0; i < 64; i++) {
		bool slot_moved;

		s.sport = (uint16_t)(41000 + i);
		env_flow(&s, &flow);
		slot_moved = env_ring_pick(VIP4_CHURN, &flow) != before[i];
		moved += slot_moved;
		for (int pass = 0; pass < 2; pass++) {
			if (!XT_EQ(env_run(in, pkt_build(&s, in), &r), 0) || !XT_EQ(r.verdict, XDP_TX))
				return;
			XT_MEM(r.out, env_backend(before[i])->mac, 6);
			if (!slot_moved)
				XT_EQ(r.delta[XLB_STAT_RING_STABLE], 1);
			else if (pass == 0)
				XT_EQ(r.delta[XLB_STAT_CONN_PREV], 1);
			else
				XT_EQ(r.delta[XLB_STAT_CONN_HIT], 1);
		}
	}
	/* The test means something only if the ring did move some of these flows. */
	XT_TRUE(moved > 0, "no flow's ring slot moved: the test proves nothing");
	/* A new connection on a moved slot follows the new ring, and so do its later packets. */
	for (j = 0; j < 64; j++) {
		s.sport = (uint16_t)(42000 + j);
		env_flow(&s, &flow);
		if (env_ring_pick(VIP4_CHURN, &flow) != new_before[j])
			break;
	}
	if (!XT_TRUE(j < 64, "no fresh source port on a moved slot"))
		return;
	s.tcp_flags = 0x02;
	if (XT_EQ(env_run(in, pkt_build(&s, in), &r), 0)) {
		XT_EQ(r.delta[XLB_STAT_CONN_MISS], 1);
		XT_EQ(r.delta[XLB_STAT_CONN_PREV], 0);
		XT_MEM(r.out, env_backend(env_ring_pick(VIP4_CHURN, &flow))->mac, 6);
	}
	s.tcp_flags = 0x10;
	if (XT_EQ(env_run(in, pkt_build(&s, in), &r), 0)) {
		XT_EQ(r.delta[XLB_STAT_CONN_HIT], 1);
		XT_MEM(r.out, env_backend(env_ring_pick(VIP4_CHURN, &flow))->mac, 6);
	}
}

/*
 * UDP has no SYN: for ENV_UDP_KEEP_NS after a change, a UDP flow the table
 * does not know on a moved slot stays on the slot's previous backend; after
 * that it is a new flow and follows the new ring. Remembered flows stay.
 */
static void udp_flow_keeps_backend_after_ring_change(void)
{
	struct pkt_spec s = { V4(CLIENT4, "198.18.1.1", IPPROTO_UDP, 0, 53) };
	uint32_t before[32];
	uint8_t in[PKT_MAX];
	struct xlb_flow_key flow;
	struct env_run r;
	int moved = 0, late = 0;

	for (int i = 0; i < 32; i++) {
		s.sport = (uint16_t)(47000 + i);
		env_flow(&s, &flow);
		before[i] = env_ring_pick(VIP4_UDP_DSR, &flow);
		if (!XT_EQ(env_run(in, pkt_build(&s, in), &r), 0))
			return;
		XT_MEM(r.out, env_backend(before[i])->mac, 6);
	}
	memcpy(env_vips[VIP4_UDP_DSR].backends, (uint32_t[]){ 1, 2, 0 }, 3 * sizeof(uint32_t));
	if (!XT_EQ(env_publish(VIP4_UDP_DSR), 0))
		goto restore;
	/* Within the window: every flow, even one whose slot moved, stays. */
	for (int i = 0; i < 32; i++) {
		s.sport = (uint16_t)(47000 + i);
		env_flow(&s, &flow);
		moved += env_ring_pick(VIP4_UDP_DSR, &flow) != before[i];
		if (!XT_EQ(env_run(in, pkt_build(&s, in), &r), 0))
			goto restore;
		XT_MEM(r.out, env_backend(before[i])->mac, 6);
	}
	XT_TRUE(moved > 0, "no flow's ring slot moved: the test proves nothing");
	/* After the window: the flows seen stay; a flow never seen follows the new ring. */
	env_vips[VIP4_UDP_DSR].udp_keep_until_ns = 0;
	if (!XT_EQ(env_write_vip(VIP4_UDP_DSR), 0))
		goto restore;
	for (int i = 0; i < 32; i++) {
		s.sport = (uint16_t)(47000 + i);
		if (XT_EQ(env_run(in, pkt_build(&s, in), &r), 0))
			XT_MEM(r.out, env_backend(before[i])->mac, 6);
	}
	for (int i = 0; i < 64; i++) {
		s.sport = (uint16_t)(48000 + i);
		env_flow(&s, &flow);
		if (!XT_EQ(env_run(in, pkt_build(&s, in), &r), 0))
			goto restore;
		XT_MEM(r.out, env_backend(env_ring_pick(VIP4_UDP_DSR, &flow))->mac, 6);
		late += r.delta[XLB_STAT_CONN_MISS] == 1;
	}
	XT_TRUE(late > 0, "no new flow landed on a moved slot: the test proves nothing");
restore:
	memcpy(env_vips[VIP4_UDP_DSR].backends, (uint32_t[]){ 1, 2, 3 }, 3 * sizeof(uint32_t));
	publish_fresh(VIP4_UDP_DSR);
}

/* A restarted lbd reads the rings back, moved marks and all. */
static void ring_reads_back(void)
{
	const struct env_vip *vip = &env_vips[VIP4_CHURN];
	uint32_t *got = calloc(vip->ring_size, sizeof(uint32_t)), moved = 0;

	if (!got)
		return;
	if (XT_EQ(xlb_ring_read(&env_fds, VIP4_CHURN, got, vip->ring_size), 0))
		XT_MEM(got, vip->slots, vip->ring_size * sizeof(uint32_t));
	for (uint32_t i = 0; i < vip->ring_size; i++)
		moved += !!(got[i] & XLB_SLOT_MOVED);
	XT_TRUE(moved > 0, "no moved slot to read back: the test proves less");
	XT_EQ(xlb_ring_read(&env_fds, VIP4_CHURN, got, vip->ring_size - 1), -EINVAL);
	free(got);
}

/*
 * A ring holds four 16-bit slots an element, then the slots' previous
 * backends, then its tag: the kernel keeps array values 8 bytes apart, so
 * one 4-byte slot an element made every ring four times the size a packet
 * reads it through (512 KB at 65537 slots, now 128 KB).
 */
static void ring_packs_four_slots_an_element(void)
{
	const struct env_vip *vip = &env_vips[VIP4_CHURN];
	struct bpf_map_info info = { 0 };
	uint32_t ring_id = VIP4_CHURN, inner_id, info_len = sizeof(info), lanes, bad = 0;
	uint16_t *elems;
	uint64_t tag;
	int fd;

	if (!XT_EQ(vip->ring_size, XLB_RING_DEFAULT) ||
	    !XT_EQ(bpf_map_lookup_elem(env_fds.ring_default, &ring_id, &inner_id), 0))
		return;
	fd = bpf_map_get_fd_by_id(inner_id);
	if (!XT_TRUE(fd >= 0, "the ring's fd: %s", strerror(errno)))
		return;
	lanes = 4 * XLB_RING_QUADS(XLB_RING_DEFAULT);
	elems = calloc(2 * lanes + 4, sizeof(*elems));
	if (XT_EQ(bpf_obj_get_info_by_fd(fd, &info, &info_len), 0) && elems) {
		XT_EQ(info.value_size, 8);
		/* What a packet reads: 128 KB, then as much read on moved slots only, then the tag. */
		XT_EQ(XLB_RING_QUADS(XLB_RING_DEFAULT) * 8, 131080);
		XT_EQ(info.max_entries, 2 * 16385 + 1);
		for (uint32_t k = 0; k < info.max_entries && k < 2 * lanes / 4 + 1; k++)
			bpf_map_lookup_elem(fd, &k, &elems[4 * k]);
		for (uint32_t i = 0; i < XLB_RING_DEFAULT; i++) {
			uint32_t s = vip->slots[i];

			bad += elems[i] != (s & 0xffff) ||
			       elems[lanes + i] != (s & XLB_SLOT_MOVED ? XLB_SLOT_PREV(s) : XLB_SLOT_ID(s));
		}
		XT_EQ(bad, 0);
		XT_EQ(elems[XLB_RING_DEFAULT], XLB_SLOT_NONE);	/* the first part's pad */
		memcpy(&tag, &elems[2 * lanes], sizeof(tag));
		XT_EQ(tag, XLB_RING_TAG_ELEM(XLB_RING_DEFAULT));
	}
	free(elems);
	close(fd);
}

/*
 * Written in place, a slot keeps its previous backend in the ring's second
 * part while it is moved, and its own there once it is not: marking it
 * moved again is then its one 16-bit store.
 */
static void ring_slot_written_in_place(void)
{
	uint32_t table[XLB_RING_MIN], got[XLB_RING_MIN], lanes = 4 * XLB_RING_QUADS(XLB_RING_MIN);
	struct xlb_ring_map mapped;
	int fd;

	for (uint32_t i = 0; i < XLB_RING_MIN; i++)
		table[i] = i % 5;
	fd = xlb_ring_create_mapped(table, XLB_RING_MIN, &mapped);
	if (!XT_TRUE(fd >= 0 && mapped.slots, "xlb_ring_create_mapped: %d", fd))
		return;
	if (!XT_EQ(xlb_ring_install(&env_fds, 203, fd), 0))
		goto out;
	xlb_ring_write_slot(&mapped, 7, 4 | XLB_SLOT_MOVED | XLB_SLOT_FRESH | 2u << 16);
	if (XT_EQ(xlb_ring_read(&env_fds, 203, got, XLB_RING_MIN), 0))
		XT_EQ(got[7], 4 | XLB_SLOT_MOVED | XLB_SLOT_FRESH | 2u << 16);
	XT_EQ(mapped.slots[lanes + 7], 2);
	table[7] = 4;
	table[8] = 1 | XLB_SLOT_MOVED | 3u << 16;
	xlb_ring_write(&mapped, table);
	if (XT_EQ(xlb_ring_read(&env_fds, 203, got, XLB_RING_MIN), 0)) {
		XT_EQ(got[7], 4);
		XT_EQ(got[8], 1 | XLB_SLOT_MOVED | 3u << 16);
		XT_EQ(got[9], 4);
	}
	XT_EQ(mapped.slots[lanes + 7], 4);
	XT_EQ(mapped.slots[lanes + 8], 3);
	xlb_ring_del(&env_fds, 203);
out:
	xlb_ring_unmap(&mapped);
	close(fd);
}

/*
 * lbd's map worker puts a ring it is handed into ring_map before the index
 * asked for after it (the mapping made before stays the ring's), drops the
 * rings it is given, and leaves a ring id that was taken back and
 * published again (the reuse of a VIP id at the limit, in the same sync
 * that freed it); an index it is asked for is swapped in, and the loop
 * learns so through its event fd.
 */
static void map_worker_spares_claimed_rings(void)
{
	uint32_t table[XLB_RING_MIN] = { 0 }, got[XLB_RING_MIN];
	uint8_t drop[XLB_MAX_VIPS] = { 0 };
	struct xlb_ring_map mapped = { 0 };
	struct map_worker r;
	uint64_t gen, count;
	int t, fd, error = -1;

	if (!XT_EQ(xlb_ring_publish(&env_fds, 200, table, XLB_RING_MIN), 0) ||
	    !XT_EQ(xlb_ring_publish(&env_fds, 201, table, XLB_RING_MIN), 0) ||
	    !XT_EQ(map_worker_start(&r, &env_fds), 0))
		return;
	drop[100] = 3;	/* ring ids 200 and 201 */
	/* A ring handed over before an index is asked for is in ring_map once that index is. */
	table[0] = 5;
	fd = xlb_ring_create_mapped(table, XLB_RING_MIN, &mapped);
	if (XT_TRUE(fd >= 0, "xlb_ring_create_mapped: %d", fd))
		map_worker_install(&r, 202, fd);
	gen = map_worker_index(&r);
	map_worker_give(&r, drop);
	XT_EQ(drop[100], 0);
	map_worker_claim(&r, 201);
	table[0] = 7;
	XT_EQ(xlb_ring_publish(&env_fds, 201, table, XLB_RING_MIN), 0);
	XT_EQ(map_worker_index_wait(&r, gen), 0);
	if (XT_EQ(xlb_ring_read(&env_fds, 202, got, XLB_RING_MIN), 0))
		XT_EQ(got[0], 5);
	/* Written in place through the mapping made before the install: the ring the program reads. */
	if (mapped.slots) {
		mapped.slots[0] = 9;
		if (XT_EQ(xlb_ring_read(&env_fds, 202, got, XLB_RING_MIN), 0))
			XT_EQ(got[0], 9);
	}
	xlb_ring_unmap(&mapped);
	xlb_ring_del(&env_fds, 202);
	XT_EQ(read(r.event_fd, &count, sizeof(count)), sizeof(count));
	XT_EQ(map_worker_index_done(&r, &error), gen);
	XT_EQ(error, 0);
	for (t = 0; t < 200 && map_worker_pending(&r); t++)
		usleep(10000);
	XT_EQ(map_worker_pending(&r), 0);
	XT_NE(xlb_ring_read(&env_fds, 200, got, XLB_RING_MIN), 0);
	if (XT_EQ(xlb_ring_read(&env_fds, 201, got, XLB_RING_MIN), 0))
		XT_EQ(got[0], 7);
	map_worker_stop(&r);
	XT_EQ(r.deleted, 1);
	xlb_ring_del(&env_fds, 201);
}

static bool acl_holds(uint32_t scope, const char *prefix)
{
	struct lbd_acl acl = { 0 };
	char why[256];
	bool found = false;

	if (!lbd_acl_build("", prefix, &acl, why, sizeof(why)) && acl.n == 1)
		lbd_acl_hits(env_fds.acl, scope, &acl.e[0], &found);
	lbd_acl_free(&acl);
	return found;
}

/*
 * The map worker writes a list it is handed before the next index goes in,
 * and takes the scope's other prefixes out only once an index asked for
 * after the hand-over is in: the index in until then may still send
 * packets to them (an allow list going away would drop every client).
 */
static void map_worker_writes_lists_around_index(void)
{
	struct lbd_acl *first = calloc(1, sizeof(*first)), *second = calloc(1, sizeof(*second));
	const uint32_t scope = 7;
	struct map_worker r;
	char why[256];
	int t;

	if (!XT_TRUE(first && second, "calloc") ||
	    !XT_EQ(lbd_acl_build("198.18.7.0/24", "", first, why, sizeof(why)), 0) ||
	    !XT_EQ(lbd_acl_build("", "198.18.8.0/24", second, why, sizeof(why)), 0) ||
	    !XT_EQ(map_worker_start(&r, &env_fds), 0)) {
		free(first);
		free(second);
		return;
	}
	map_worker_acl(&r, scope, first);
	XT_EQ(map_worker_index_wait(&r, map_worker_index(&r)), 0);
	XT_TRUE(acl_holds(scope, "198.18.7.0/24"), "the first list is not in after its index");
	map_worker_acl(&r, scope, second);
	for (t = 0; t < 200 && !acl_holds(scope, "198.18.8.0/24"); t++)
		usleep(10000);
	XT_TRUE(acl_holds(scope, "198.18.8.0/24"), "a list handed over is not written");
	XT_TRUE(acl_holds(scope, "198.18.7.0/24"), "the old list went before an index was asked for");
	XT_EQ(map_worker_pending(&r), 1);	/* its sweep */
	XT_EQ(map_worker_index_wait(&r, map_worker_index(&r)), 0);
	XT_TRUE(!acl_holds(scope, "198.18.7.0/24"), "the old list is still in after the index");
	XT_TRUE(acl_holds(scope, "198.18.8.0/24"), "the new list went with the old");
	/* No prefixes: the scope is cleared, at the next index too. */
	map_worker_acl(&r, scope, calloc(1, sizeof(struct lbd_acl)));
	XT_EQ(map_worker_index_wait(&r, map_worker_index(&r)), 0);
	XT_TRUE(!acl_holds(scope, "198.18.8.0/24"), "an empty list left the scope's prefixes");
	XT_EQ(map_worker_pending(&r), 0);
	map_worker_stop(&r);
}

/*
 * The SYN of a flow that lands on backend 21 (which the next ring drops),
 * from the first source port from `port` on whose flow does; 0 once it
 * reached 21.
 */
static int syn_to_backend_21(struct pkt_spec *s, uint16_t port, struct xlb_flow_key *flow,
			     uint8_t *in, struct env_run *r)
{
	for (s->sport = port; s->sport < port + 200; s->sport++) {
		env_flow(s, flow);
		if (env_ring_pick(VIP4_CHURN, flow) == 21)
			break;
	}
	if (!XT_EQ(env_ring_pick(VIP4_CHURN, flow), 21) || !XT_EQ(env_run(in, pkt_build(s, in), r), 0))
		return -1;
	return XT_MEM(r->out, env_backend(21)->mac, 6) ? 0 : -1;
}

/*
 * A SYN on a remembered 5-tuple: within XLB_SYN_REUSE_NS it is the client
 * retransmitting, and must reach the backend that may have answered; later
 * it is a new connection on a reused source port and follows the current
 * ring (here the ring has dropped the old backend, as a drain or a failed
 * check does), while the old connection's ACKs would have stayed.
 */
static void syn_on_known_tuple(void)
{
	struct pkt_spec s = { V4(CLIENT4, "198.18.1.5", IPPROTO_TCP, 0, 80), .tcp_flags = 0x02 };
	uint8_t in[PKT_MAX];
	struct xlb_flow_key flow;
	struct xlb_conn conn;
	struct env_run r;

	memcpy(env_vips[VIP4_CHURN].backends, (uint32_t[]){ 21, 22, 23, 0 }, 4 * sizeof(uint32_t));
	if (!XT_EQ(env_publish(VIP4_CHURN), 0))
		return;
	if (syn_to_backend_21(&s, 45000, &flow, in, &r))
		return;
	memcpy(env_vips[VIP4_CHURN].backends, (uint32_t[]){ 22, 23, 0, 0 }, 4 * sizeof(uint32_t));
	if (!XT_EQ(env_publish(VIP4_CHURN), 0))
		return;
	/* The retransmitted SYN stays with 21. */
	if (XT_EQ(env_run(in, pkt_build(&s, in), &r), 0)) {
		XT_EQ(r.delta[XLB_STAT_CONN_HIT], 1);
		XT_MEM(r.out, env_backend(21)->mac, 6);
	}
	/* Age the remembered flow past XLB_SYN_REUSE_NS: a SYN now is a new connection. */
	int fd = env_conn_find(&flow, &conn);

	if (!XT_TRUE(fd >= 0, "the SYN's flow is remembered"))
		return;
	conn.created_ns -= XLB_SYN_REUSE_NS + 1000000000ull;
	if (!XT_EQ(bpf_map_update_elem(fd, &flow, &conn, BPF_EXIST), 0))
		return;
	s.tcp_flags = 0x10;
	if (XT_EQ(env_run(in, pkt_build(&s, in), &r), 0))
		XT_MEM(r.out, env_backend(21)->mac, 6);	/* an old connection's ACK: still 21 */
	s.tcp_flags = 0x02;
	if (XT_EQ(env_run(in, pkt_build(&s, in), &r), 0)) {
		XT_EQ(r.delta[XLB_STAT_CONN_MISS], 1);
		XT_MEM(r.out, env_backend(env_ring_pick(VIP4_CHURN, &flow))->mac, 6);
	}
	s.tcp_flags = 0x10;
	if (XT_EQ(env_run(in, pkt_build(&s, in), &r), 0))
		XT_MEM(r.out, env_backend(env_ring_pick(VIP4_CHURN, &flow))->mac, 6);
	XT_TRUE(env_ring_pick(VIP4_CHURN, &flow) != 21, "the new ring still picks 21");
}

/*
 * A SYN on the tuple of a connection whose client got past its SYN is a
 * new connection, however soon: a client never sends the SYN of a
 * connection it has answered again. A client looping short connections
 * reuses source ports within seconds; the SYN went to the old backend
 * while the ring had dropped it, and a backend down is a refusal. The new
 * connection follows the ring, waits in syn_map like any SYN, and counts
 * as no retransmission for the passive check.
 */
static void syn_after_handshake_is_new_connection(void)
{
	struct pkt_spec s = { V4(CLIENT4, "198.18.1.5", IPPROTO_TCP, 0, 80), .tcp_flags = 0x02 };
	uint8_t in[PKT_MAX];
	struct xlb_flow_key flow;
	struct xlb_conn conn;
	struct env_run r;
	uint32_t now_pick;

	memcpy(env_vips[VIP4_CHURN].backends, (uint32_t[]){ 21, 22, 23, 0 }, 4 * sizeof(uint32_t));
	if (!XT_EQ(publish_fresh(VIP4_CHURN), 0))
		return;
	if (syn_to_backend_21(&s, 46000, &flow, in, &r))
		return;
	s.tcp_flags = 0x10;
	if (!XT_EQ(env_run(in, pkt_build(&s, in), &r), 0) || !XT_EQ(r.delta[XLB_STAT_SYN_CONFIRMED], 1))
		return;
	XT_EQ(env_conn_find(&flow, &conn), env_fds.conn);
	/* The old connection ends; 21 fails its check and leaves the ring. */
	memcpy(env_vips[VIP4_CHURN].backends, (uint32_t[]){ 22, 23, 0, 0 }, 4 * sizeof(uint32_t));
	if (!XT_EQ(env_publish(VIP4_CHURN), 0))
		return;
	now_pick = env_ring_pick(VIP4_CHURN, &flow);
	XT_TRUE(now_pick != 21, "the new ring still picks 21");
	s.tcp_flags = 0x02;
	if (XT_EQ(env_run(in, pkt_build(&s, in), &r), 0)) {
		XT_EQ(r.delta[XLB_STAT_CONN_MISS], 1);
		XT_EQ(r.delta[XLB_STAT_CONN_HIT], 0);
		XT_MEM(r.out, env_backend(now_pick)->mac, 6);
	}
	/* In syn_map alone: the old entry would shadow it, and its ACK would go to 21. */
	if (XT_EQ(env_conn_find(&flow, &conn), env_fds.syn))
		XT_EQ(conn.backend_id, now_pick);
	/* Its retransmission is one, and stays. */
	if (XT_EQ(env_run(in, pkt_build(&s, in), &r), 0)) {
		XT_EQ(r.delta[XLB_STAT_CONN_HIT], 1);
		XT_MEM(r.out, env_backend(now_pick)->mac, 6);
	}
	s.tcp_flags = 0x10;
	if (XT_EQ(env_run(in, pkt_build(&s, in), &r), 0)) {
		XT_EQ(r.delta[XLB_STAT_SYN_CONFIRMED], 1);
		XT_MEM(r.out, env_backend(now_pick)->mac, 6);
	}
	env_conn_forget(&flow);
}

/*
 * A flow whose backend goes down moves, never to a down backend: at once,
 * while the ring still names it (the probe steps past it), and after the
 * ring is published without it. When the backend comes back, the flow
 * stays where it moved: its connection lives there now.
 */
static void flow_on_down_backend_moves(void)
{
	struct pkt_spec s = { V4(CLIENT4, "198.18.1.5", IPPROTO_TCP, 43000, 80) };
	uint32_t *backends = env_vips[VIP4_CHURN].backends;
	uint8_t in[PKT_MAX], mac_after[6];
	struct xlb_flow_key flow;
	uint32_t first;
	struct env_run r;
	size_t len = pkt_build(&s, in);

	memcpy(backends, (uint32_t[]){ 21, 22, 23, 0 }, 4 * sizeof(uint32_t));
	if (!XT_EQ(publish_fresh(VIP4_CHURN), 0))
		return;
	env_flow(&s, &flow);
	first = env_ring_pick(VIP4_CHURN, &flow);
	if (!XT_EQ(env_run(in, len, &r), 0) || !XT_MEM(r.out, env_backend(first)->mac, 6))
		return;
	/* Down in the backend map only: the ring still names it. */
	if (!XT_EQ(env_backend_up(first, false), 0))
		return;
	if (XT_EQ(env_run(in, len, &r), 0)) {
		XT_EQ(r.verdict, XDP_TX);
		XT_EQ(r.delta[XLB_STAT_CONN_MISS], 1);
		XT_TRUE(memcmp(r.out, env_backend(first)->mac, 6) != 0,
			"the flow still goes to down backend %u", first);
		memcpy(mac_after, r.out, 6);
	}
	/* The ring without it, then with it again: the flow stays where it moved. */
	for (uint32_t id = 21, k = 0; id <= 23; id++)
		if (id != first)
			backends[k++] = id;
	backends[2] = 0;
	if (XT_EQ(env_publish(VIP4_CHURN), 0) && XT_EQ(env_run(in, len, &r), 0)) {
		XT_EQ(r.delta[XLB_STAT_CONN_HIT], 1);
		XT_MEM(r.out, mac_after, 6);
	}
	env_backend_up(first, true);
	memcpy(backends, (uint32_t[]){ 21, 22, 23, 0 }, 4 * sizeof(uint32_t));
	if (XT_EQ(env_publish(VIP4_CHURN), 0) && XT_EQ(env_run(in, len, &r), 0)) {
		XT_EQ(r.delta[XLB_STAT_CONN_HIT], 1);
		XT_MEM(r.out, mac_after, 6);
	}
}

/* Every backend down: drop and count, never send to a down one. */
static void all_backends_down_drops(void)
{
	struct pkt_spec s = { V4(CLIENT4, "198.18.1.1", IPPROTO_UDP, 43100, 53) };
	uint8_t in[PKT_MAX];
	struct env_run r;

	for (uint32_t id = 1; id <= 3; id++)
		env_backend_up(id, false);
	if (XT_EQ(env_run(in, pkt_build(&s, in), &r), 0)) {
		XT_EQ(r.verdict, XDP_DROP);
		XT_EQ(r.delta[XLB_STAT_DROP_NO_BACKEND], 1);
	}
	for (uint32_t id = 1; id <= 3; id++)
		env_backend_up(id, true);
}

/* Source hashing: all of a client's connections on one backend, as the ring says. */
static void source_hash_sticks_client(void)
{
	struct pkt_spec s = { V4("198.18.0.77", "198.18.1.4", IPPROTO_TCP, 0, 443) };
	const char *clients[] = { "198.18.0.77", "198.18.0.78", "198.18.0.79", "198.18.0.80",
				  "198.18.0.81", "198.18.0.82", "198.18.0.83", "198.18.0.84" };
	uint8_t in[PKT_MAX];
	struct xlb_flow_key flow;
	struct env_run r;
	int distinct = 0;
	uint32_t seen = 0;

	for (size_t c = 0; c < sizeof(clients) / sizeof(clients[0]); c++) {
		s.src = clients[c];
		env_flow(&s, &flow);
		uint32_t want = env_ring_pick(VIP4_ANY_SRC, &flow);

		if (!(seen & (1u << want)))
			distinct++;
		seen |= 1u << want;
		for (int p = 0; p < 16; p++) {
			s.sport = (uint16_t)(44000 + p * 17);
			s.dport = (uint16_t)(443 + p);
			if (!XT_EQ(env_run(in, pkt_build(&s, in), &r), 0))
				return;
			if (!XT_MEM(r.out, env_backend(want)->mac, 6))
				return;
		}
	}
	XT_TRUE(distinct > 1, "8 clients all hashed to one backend: source hashing is not spreading");
}

/* ICMP errors look the flow up but never create one. */
static void icmp_error_creates_no_flow(void)
{
	struct pkt_spec s = { V4(CLIENT4, "198.18.1.2", IPPROTO_TCP, 45000, 80) };
	struct pkt_spec quoted = reply_of(&s);
	struct xlb_flow_key flow;
	struct xlb_conn conn;
	uint8_t in[PKT_MAX];
	struct env_run r;
	size_t len = pkt_build_icmp_err(4, ROUTER4, s.dst, &quoted, 28, 1400, in);

	env_flow(&s, &flow);
	if (!XT_EQ(env_run(in, len, &r), 0))
		return;
	XT_EQ(r.verdict, XDP_TX);
	XT_EQ(r.delta[XLB_STAT_RING_STABLE], 1);
	XT_TRUE(env_conn_find(&flow, &conn) < 0, "no entry");
}

/* Counters per VIP and per backend move with the traffic. */
static void vip_and_backend_counters(void)
{
	struct pkt_spec s = { V6(CLIENT6, "2001:db8:1::2", IPPROTO_UDP, 46000, 53), .payload = 50 };
	struct xlb_traffic vb, va, bb, ba;
	struct xlb_flow_key flow;
	uint8_t in[PKT_MAX];
	struct env_run r;
	size_t len = pkt_build(&s, in);
	uint32_t be;

	env_flow(&s, &flow);
	be = env_ring_pick(VIP6_UDP_IPIP, &flow);
	xlb_traffic_read(env_fds.vip_stats, VIP6_UDP_IPIP, &vb);
	xlb_traffic_read(env_fds.backend_stats, be, &bb);
	for (int i = 0; i < 3; i++)
		if (!XT_EQ(env_run(in, len, &r), 0))
			return;
	xlb_traffic_read(env_fds.vip_stats, VIP6_UDP_IPIP, &va);
	xlb_traffic_read(env_fds.backend_stats, be, &ba);
	XT_EQ(va.packets - vb.packets, 3);
	XT_EQ(va.bytes - vb.bytes, 3 * len);
	XT_EQ(ba.packets - bb.packets, 3);
	/* A UDP flow on an unmoved slot is never looked up, so it is not counted as new. */
	XT_EQ(va.new_flows - vb.new_flows, 0);
	/* A TCP SYN is: one new flow for the VIP and its backend. */
	s = (struct pkt_spec){ V6(CLIENT6, "2001:db8:1::2", IPPROTO_TCP, 46000, 80), .tcp_flags = 0x02 };
	env_flow(&s, &flow);
	be = env_ring_pick(VIP6_TCP_IPIP, &flow);
	xlb_traffic_read(env_fds.vip_stats, VIP6_TCP_IPIP, &vb);
	xlb_traffic_read(env_fds.backend_stats, be, &bb);
	if (!XT_EQ(env_run(in, pkt_build(&s, in), &r), 0))
		return;
	xlb_traffic_read(env_fds.vip_stats, VIP6_TCP_IPIP, &va);
	xlb_traffic_read(env_fds.backend_stats, be, &ba);
	XT_EQ(va.new_flows - vb.new_flows, 1);
	XT_EQ(ba.new_flows - bb.new_flows, 1);
}

/*
 * The program finds VIPs through an index that userspace rebuilds whole
 * after changes: 600 more VIPs (some start their probes at one place) all
 * forward once indexed, a port that is not one of them passes, and once
 * deleted they all pass again.
 */
static void many_vips_in_the_index(void)
{
	struct pkt_spec s = { V4(CLIENT4, "198.18.3.1", IPPROTO_UDP, 43300, 0) };
	struct xlb_vip_key key = { .proto = IPPROTO_UDP, .family = XLB_AF_INET }, base = key;
	struct xlb_vip_meta meta;
	uint8_t in[PKT_MAX], taken[XLB_VIP_INDEX_SIZE] = { 0 };
	struct env_run r;
	int tx = 0, passed = 0, shared = 0;

	pkt_addr(4, env_vips[VIP4_UDP_DSR].addr, base.addr);
	base.port = htons(env_vips[VIP4_UDP_DSR].port);
	pkt_addr(4, s.dst, key.addr);
	if (!XT_EQ(bpf_map_lookup_elem(env_fds.vip, &base, &meta), 0) ||
	    !XT_EQ(xlb_vip_address_mark(&env_fds, XLB_AF_INET, key.addr, true), 1) ||
	    !XT_EQ(xlb_vip_address_mark(&env_fds, XLB_AF_INET, key.addr, true), 0))
		return;
	for (int i = 0; i < 600; i++) {
		key.port = htons((uint16_t)(1000 + i));
		shared += taken[xlb_hash_vip(&key)]++ > 0;
		if (!XT_EQ(xlb_vip_set(&env_fds, &key, &meta), 1))
			return;
	}
	XT_TRUE(shared > 0, "no two of 600 VIPs start their probes at one place: the test proves less");
	/* Written but not yet indexed: the program does not see them. */
	s.dport = 1000;
	if (XT_EQ(env_run(in, pkt_build(&s, in), &r), 0))
		XT_EQ(r.verdict, XDP_PASS);
	if (!XT_EQ(xlb_vip_index_sync(&env_fds), 0))
		return;
	for (int i = 0; i < 600; i++) {
		s.dport = (uint16_t)(1000 + i);
		if (XT_EQ(env_run(in, pkt_build(&s, in), &r), 0))
			tx += r.verdict == XDP_TX;
	}
	XT_EQ(tx, 600);
	s.dport = 999;
	if (XT_EQ(env_run(in, pkt_build(&s, in), &r), 0)) {
		XT_EQ(r.verdict, XDP_PASS);
		XT_EQ(r.delta[XLB_STAT_PASS_NOT_VIP], 1);
	}
	for (int i = 0; i < 600; i++) {
		key.port = htons((uint16_t)(1000 + i));
		XT_EQ(xlb_vip_del(&env_fds, &key), 1);
	}
	XT_EQ(xlb_vip_address_mark(&env_fds, XLB_AF_INET, key.addr, false), 1);
	XT_EQ(xlb_vip_index_sync(&env_fds), 0);
	for (int i = 0; i < 600; i += 7) {
		s.dport = (uint16_t)(1000 + i);
		if (XT_EQ(env_run(in, pkt_build(&s, in), &r), 0))
			passed += r.verdict == XDP_PASS;
	}
	XT_EQ(passed, (600 + 6) / 7);
}

/*
 * Deleting the key a vip_map walk stands on sends the walk back to the
 * first key: a build that placed every key it met placed those it had
 * met twice, the first copy with what the key held then. The map worker
 * builds while lbd's loop deletes VIPs, so a build must not repeat a key.
 */
struct churn {
	struct xlb_vip_key key;
	struct xlb_vip_meta meta;
	volatile bool stop;
	unsigned long deletes;
};

static void *churn_vips(void *arg)
{
	struct churn *c = arg;
	struct xlb_vip_key key = c->key;

	for (uint16_t i = 0; !c->stop; i = (uint16_t)((i + 1) % 300)) {
		key.port = htons((uint16_t)(2000 + i));
		c->deletes += xlb_vip_del(&env_fds, &key) == 1;
		xlb_vip_set(&env_fds, &key, &c->meta);
	}
	return NULL;
}

static void index_build_under_deletes(void)
{
	struct xlb_vip_entry *index = calloc(XLB_VIP_INDEX_SIZE, sizeof(*index));
	struct churn c = { .key = { .proto = IPPROTO_UDP, .family = XLB_AF_INET } };
	struct xlb_vip_key base = c.key;
	unsigned twice = 0, builds = 0;
	pthread_t t;

	pkt_addr(4, env_vips[VIP4_UDP_DSR].addr, base.addr);
	base.port = htons(env_vips[VIP4_UDP_DSR].port);
	pkt_addr(4, "198.18.3.2", c.key.addr);
	if (!index || !XT_EQ(bpf_map_lookup_elem(env_fds.vip, &base, &c.meta), 0))
		goto out;
	for (uint16_t i = 0; i < 300; i++) {
		struct xlb_vip_key key = c.key;

		key.port = htons((uint16_t)(2000 + i));
		xlb_vip_set(&env_fds, &key, &c.meta);
	}
	if (!XT_EQ(pthread_create(&t, NULL, churn_vips, &c), 0))
		goto out;
	for (; builds < 300; builds++) {
		if (xlb_vip_index_build(&env_fds, index))
			continue;
		for (uint32_t i = 0; i < XLB_VIP_INDEX_SIZE; i++) {
			uint32_t start = xlb_hash_vip(&index[i].key);

			if (!index[i].key.family)
				continue;
			for (uint32_t p = start; (p & (XLB_VIP_INDEX_SIZE - 1)) != i; p++)
				twice += !memcmp(&index[p & (XLB_VIP_INDEX_SIZE - 1)].key, &index[i].key,
						 sizeof(index[i].key));
		}
	}
	c.stop = true;
	pthread_join(t, NULL);
	XT_TRUE(c.deletes > 1000, "the other thread deleted %lu VIPs: the test proves less", c.deletes);
	XT_EQ(twice, 0);
	for (uint16_t i = 0; i < 300; i++) {
		struct xlb_vip_key key = c.key;

		key.port = htons((uint16_t)(2000 + i));
		xlb_vip_del(&env_fds, &key);
	}
	xlb_vip_index_sync(&env_fds);
out:
	free(index);
}

/*
 * A per-flow VIP of the tests' own: 198.18.3.9:80/tcp on VIP id
 * PF_VIP_ID, whose ring (the fallback) is VIP4_CHURN's, with the
 * scheduler's backends and weights as given.
 */
#define PF_VIP_ID (XLB_MAX_VIPS - 3)
#define PF_VIP "198.18.3.9"

static int per_flow_vip_persist(uint8_t sched, const uint32_t *ids, const uint32_t *weights, size_t n,
				uint64_t persist_ns);

static int per_flow_vip(uint8_t sched, const uint32_t *ids, const uint32_t *weights, size_t n)
{
	return per_flow_vip_persist(sched, ids, weights, n, 0);
}

static int per_flow_vip_persist(uint8_t sched, const uint32_t *ids, const uint32_t *weights, size_t n,
				uint64_t persist_ns)
{
	struct xlb_vip_key key = { .port = htons(80), .proto = IPPROTO_TCP, .family = XLB_AF_INET };
	struct xlb_vip_key churn = key;
	struct maglev_backend mb[8] = { 0 };
	struct xlb_sched_set set;
	struct xlb_vip_meta meta;
	uint32_t id = PF_VIP_ID;
	uint64_t zero = 0;

	pkt_addr(4, PF_VIP, key.addr);
	pkt_addr(4, env_vips[VIP4_CHURN].addr, churn.addr);
	if (bpf_map_lookup_elem(env_fds.vip, &churn, &meta))
		return -errno;
	for (size_t i = 0; i < n; i++) {
		mb[i].id = ids[i];
		mb[i].weight = weights ? weights[i] : 1;
		env_backend_up(ids[i], true);
		bpf_map_update_elem(env_fds.active, &ids[i], &zero, BPF_ANY);
	}
	xlb_sched_set_build(sched, mb, n, &set);
	set.persist_ns = persist_ns;
	meta.vip_id = PF_VIP_ID;
	meta.sched = sched;
	meta.flags = persist_ns ? XLB_VIP_F_PERSIST : 0;
	if (xlb_sched_set_write(&env_fds, PF_VIP_ID, &set) ||
	    bpf_map_update_elem(env_fds.sched_turn, &id, &zero, BPF_ANY) ||
	    xlb_vip_set(&env_fds, &key, &meta) < 0)
		return -EIO;
	return xlb_vip_index_sync(&env_fds);
}

static void per_flow_vip_del(void)
{
	struct xlb_vip_key key = { .port = htons(80), .proto = IPPROTO_TCP, .family = XLB_AF_INET };

	pkt_addr(4, PF_VIP, key.addr);
	xlb_vip_del(&env_fds, &key);
	xlb_vip_index_sync(&env_fds);
}

/* Which of the tests' backends 21..23 a forwarded frame went to; 0: none. */
static uint32_t pf_sent_to(const struct env_run *r)
{
	for (uint32_t id = 21; id <= 23; id++)
		if (r->verdict == XDP_TX && !memcmp(r->out, env_backend(id)->mac, 6))
			return id;
	return 0;
}

/* One packet of client src, port sport, with flags: where it went. */
static uint32_t pf_send_from(const char *src, uint16_t sport, uint8_t flags)
{
	struct pkt_spec s = { V4(src, PF_VIP, IPPROTO_TCP, sport, 80), .tcp_flags = flags };
	uint8_t in[PKT_MAX];
	struct env_run r;

	if (env_run(in, pkt_build(&s, in), &r))
		return 0;
	return pf_sent_to(&r);
}

static uint32_t pf_send(uint16_t sport, uint8_t flags)
{
	return pf_send_from("198.18.0.90", sport, flags);
}

static uint64_t active_of(uint32_t id)
{
	uint64_t n = 0;

	bpf_map_lookup_elem(env_fds.active, &id, &n);
	return n;
}

#define TH_FIN 0x01
#define TH_SYN 0x02
#define TH_RST 0x04
#define TH_ACK 0x10

static void pf_forget(uint16_t from, uint16_t to)
{
	for (uint16_t p = from; p < to; p++) {
		struct pkt_spec s = { V4("198.18.0.90", PF_VIP, IPPROTO_TCP, p, 80) };
		struct xlb_flow_key flow;

		env_flow(&s, &flow);
		env_conn_forget(&flow);
	}
}

/* SYNs from client ports from, from + 1, ...: where each went, as "21 22 ...". */
static void pf_syns(uint16_t from, int n, char *got, size_t len)
{
	got[0] = 0;
	for (int i = 0; i < n; i++)
		snprintf(got + strlen(got), len - strlen(got), "%u ", pf_send((uint16_t)(from + i), TH_SYN));
}

/* rr: the backends in turn over new flows, and each flow's packets stay where its SYN went. */
static void rr_takes_turns(void)
{
	const uint32_t ids[] = { 21, 22, 23 };
	char got[64] = "", want[64] = "";

	if (!XT_EQ(per_flow_vip(XLB_SCHED_RR, ids, NULL, 3), 0))
		return;
	pf_syns(50000, 9, got, sizeof(got));
	for (uint16_t i = 0; i < 9; i++)
		snprintf(want + strlen(want), sizeof(want) - strlen(want), "%u ", ids[i % 3]);
	XT_TRUE(!strcmp(got, want), "rr over 9 SYNs went %s, not %s", got, want);
	for (uint16_t i = 0; i < 9; i++)
		XT_EQ(pf_send(50000 + i, TH_ACK), ids[i % 3]);
	XT_EQ(active_of(21) + active_of(22) + active_of(23), 9);
	for (uint16_t i = 0; i < 9; i++)
		pf_send(50000 + i, TH_FIN | TH_ACK);
	XT_EQ(active_of(21) + active_of(22) + active_of(23), 0);
	/* A FIN again (retransmitted) takes nothing more off. */
	pf_send(50000, TH_FIN | TH_ACK);
	XT_EQ(active_of(21), 0);
	pf_forget(50000, 50009);
	per_flow_vip_del();
}

/* wrr: by weight, interleaved: 5, 1, 1 is a a b a c a a, not a a a a a b c. */
static void wrr_interleaves_by_weight(void)
{
	const uint32_t ids[] = { 21, 22, 23 }, weights[] = { 5, 1, 1 };
	char got[64] = "";

	if (!XT_EQ(per_flow_vip(XLB_SCHED_WRR, ids, weights, 3), 0))
		return;
	pf_syns(51000, 14, got, sizeof(got));
	XT_TRUE(!strcmp(got, "21 21 22 21 23 21 21 21 21 22 21 23 21 21 "), "wrr 5:1:1 went %s", got);
	for (uint16_t i = 0; i < 14; i++)
		pf_send(51000 + i, TH_RST);
	XT_EQ(active_of(21) + active_of(22) + active_of(23), 0);
	pf_forget(51000, 51014);
	per_flow_vip_del();
}

/* lc: a new flow goes where the fewest flows are active; an ended flow frees its place. */
static void lc_fewest_active(void)
{
	const uint32_t ids[] = { 21, 22, 23 };

	if (!XT_EQ(per_flow_vip(XLB_SCHED_LC, ids, NULL, 3), 0))
		return;
	uint32_t b21 = 21;
	uint64_t five = 5, zero = 0;
	int on21 = 0;

	/* 21 holds 5 long flows: the next 10 new ones go to 22 and 23 until they hold 5 each. */
	bpf_map_update_elem(env_fds.active, &b21, &five, BPF_ANY);
	for (uint16_t i = 0; i < 10; i++)
		on21 += pf_send(52000 + i, TH_SYN) == 21;
	XT_TRUE(!on21 && active_of(22) == 5 && active_of(23) == 5,
		"10 new flows: %d to 21; active 22 %llu, 23 %llu", on21, (unsigned long long)active_of(22),
		(unsigned long long)active_of(23));
	/* All at 5: ties go to the first, 21. */
	XT_EQ(pf_send(52010, TH_SYN), 21);
	pf_send(52010, TH_RST);
	/* Two of 22's flows end: the next two new flows go to 22. */
	for (uint16_t i = 0, ended = 0; i < 10 && ended < 2; i++)
		if (pf_send(52000 + i, TH_ACK) == 22) {
			pf_send(52000 + i, TH_FIN | TH_ACK);
			ended++;
		}
	XT_EQ(active_of(22), 3);
	XT_EQ(pf_send(52100, TH_SYN), 22);
	XT_EQ(pf_send(52101, TH_SYN), 22);
	/* A backend gone down: its flows go elsewhere and its count with them. */
	env_backend_up(23, false);
	for (uint16_t i = 0; i < 10; i++)
		XT_TRUE(pf_send(52000 + i, TH_ACK) != 23, "a packet went to the down backend 23");
	XT_EQ(active_of(23), 0);
	env_backend_up(23, true);
	for (uint16_t i = 0; i < 10; i++)
		pf_send(52000 + i, TH_RST);
	pf_send(52100, TH_RST);
	pf_send(52101, TH_RST);
	/* Every flow ended: what is left is 21's five of before. */
	XT_TRUE(active_of(21) == 5 && active_of(22) == 0 && active_of(23) == 0, "active after the ends: %llu %llu %llu",
		(unsigned long long)active_of(21), (unsigned long long)active_of(22),
		(unsigned long long)active_of(23));
	bpf_map_update_elem(env_fds.active, &b21, &zero, BPF_ANY);
	pf_forget(52000, 52102);
	per_flow_vip_del();
}

/* wlc: active flows per unit of weight: 2:1 weights hold flows 2:1, in the order a b a a b a. */
static void wlc_by_weight(void)
{
	const uint32_t ids[] = { 21, 22 }, weights[] = { 2, 1 };
	char got[64] = "";

	if (!XT_EQ(per_flow_vip(XLB_SCHED_WLC, ids, weights, 2), 0))
		return;
	pf_syns(53000, 6, got, sizeof(got));
	XT_TRUE(!strcmp(got, "21 22 21 21 22 21 "), "wlc 2:1 went %s", got);
	XT_EQ(active_of(21), 4);
	XT_EQ(active_of(22), 2);
	for (uint16_t i = 0; i < 6; i++)
		pf_send(53000 + i, TH_RST);
	pf_forget(53000, 53006);
	per_flow_vip_del();
}

/* random: by weight; 3:1 over 400 new flows gives 21 between 260 and 340 (4.5 deviations). */
static void random_by_weight(void)
{
	const uint32_t ids[] = { 21, 22 }, weights[] = { 3, 1 };
	int on21 = 0, on22 = 0;

	if (!XT_EQ(per_flow_vip(XLB_SCHED_RANDOM, ids, weights, 2), 0))
		return;
	for (uint16_t i = 0; i < 400; i++) {
		uint32_t id = pf_send(54000 + i, TH_SYN);

		on21 += id == 21;
		on22 += id == 22;
		XT_EQ(pf_send(54000 + i, TH_ACK), id);
	}
	XT_TRUE(on21 + on22 == 400 && on21 >= 260 && on21 <= 340, "random 3:1 over 400: %d on 21, %d on 22", on21,
		on22);
	for (uint16_t i = 0; i < 400; i++)
		pf_send(54000 + i, TH_RST);
	XT_EQ(active_of(21) + active_of(22), 0);
	pf_forget(54000, 54400);
	per_flow_vip_del();
}

/*
 * Persistence: a client's new connections all go to its backend, whatever
 * the scheduler would say, until its backend goes down or the client has
 * been quiet for the persistence time; another client is placed as usual.
 */
static void persist_keeps_client(void)
{
	const uint32_t ids[] = { 21, 22, 23 };
	struct xlb_persist_key key = { .vip_id = PF_VIP_ID, .family = XLB_AF_INET };
	struct xlb_persist p;
	int kept = 0;

	if (!XT_EQ(per_flow_vip_persist(XLB_SCHED_RR, ids, NULL, 3, 200 * 1000000ull), 0))
		return;
	for (uint16_t i = 0; i < 5; i++)
		kept += pf_send_from("198.18.0.91", 55000 + i, TH_SYN) == 21;
	XT_EQ(kept, 5);
	pkt_addr(4, "198.18.0.91", key.addr);
	if (XT_EQ(bpf_map_lookup_elem(env_fds.persist, &key, &p), 0))
		XT_EQ(p.backend_id, 21);
	XT_EQ(pf_send_from("198.18.0.92", 55000, TH_SYN), 22);
	/* Its backend down: placed afresh (the turn's 23), and kept there once 21 is back. */
	env_backend_up(21, false);
	XT_EQ(pf_send_from("198.18.0.91", 55010, TH_SYN), 23);
	env_backend_up(21, true);
	XT_EQ(pf_send_from("198.18.0.91", 55011, TH_SYN), 23);
	/* Quiet for longer than the persistence: the next turn, 21. */
	usleep(250 * 1000);
	XT_EQ(pf_send_from("198.18.0.91", 55012, TH_SYN), 21);
	for (uint16_t i = 0; i < 13; i++)
		pf_send_from("198.18.0.91", 55000 + i, TH_RST);
	pf_send_from("198.18.0.92", 55000, TH_RST);
	bpf_map_delete_elem(env_fds.persist, &key);
	pkt_addr(4, "198.18.0.92", key.addr);
	bpf_map_delete_elem(env_fds.persist, &key);
	per_flow_vip_del();
}

/*
 * The passive check's signal: a SYN again on a flow the table gave a
 * backend (the client heard no SYN-ACK) counts for that backend; a first
 * SYN and the packets after it do not.
 */
static void syn_retry_counted(void)
{
	const uint32_t ids[] = { 21, 22 };
	uint64_t before, after;
	uint32_t id;

	if (!XT_EQ(per_flow_vip(XLB_SCHED_RR, ids, NULL, 2), 0))
		return;
	id = pf_send(56000, TH_SYN);
	before = xlb_syn_retries(&env_fds, id);
	XT_EQ(pf_send(56000, TH_ACK), id);
	XT_EQ(xlb_syn_retries(&env_fds, id), before);
	XT_EQ(pf_send(56000, TH_SYN), id);
	XT_EQ(pf_send(56000, TH_SYN), id);
	after = xlb_syn_retries(&env_fds, id);
	XT_EQ(after - before, 2);
	pf_send(56000, TH_RST);
	pf_forget(56000, 56001);
	per_flow_vip_del();
}

/* Weights past the order's room: the order fits, every backend is in it, the ratio stays. */
static void sched_order_fits_big_weights(void)
{
	struct maglev_backend mb[3] = { { .id = 21, .weight = 9000 }, { .id = 22, .weight = 1 },
					{ .id = 23, .weight = 3000 } };
	struct xlb_sched_set set;
	uint32_t on[3] = { 0 };

	xlb_sched_set_build(XLB_SCHED_WRR, mb, 3, &set);
	XT_TRUE(set.seq_len <= XLB_SCHED_SEQ_MAX && set.seq_len > 1000, "order of %u places", set.seq_len);
	for (uint32_t i = 0; i < set.seq_len && i < XLB_SCHED_SEQ_MAX; i++)
		on[set.seq[i] - 21]++;
	XT_TRUE(on[1] >= 1 && on[0] > 2 * on[2] && on[0] < 4 * on[2], "places: %u %u %u", on[0], on[1], on[2]);
}

/* A ring swap is one map update: the program reads the new ring at once. */
static void ring_swap_is_atomic_update(void)
{
	struct pkt_spec s = { V4(CLIENT4, "198.18.1.5", IPPROTO_UDP, 47000, 80) };
	uint32_t *table = calloc(XLB_RING_MIN, sizeof(uint32_t));
	struct xlb_vip_key key = { .port = htons(80), .proto = IPPROTO_UDP, .family = XLB_AF_INET };
	struct xlb_vip_meta meta = { .vip_id = VIP4_CHURN, .ring_id = XLB_MAX_RINGS - 1,
				     .ring_size = XLB_RING_MIN, .fwd_mode = XLB_FWD_DSR };
	uint8_t in[PKT_MAX];
	struct env_run r;
	size_t len = pkt_build(&s, in);

	pkt_addr(4, "198.18.1.5", key.addr);
	for (uint32_t i = 0; i < XLB_RING_MIN; i++)
		table[i] = 22;
	XT_EQ(xlb_ring_publish(&env_fds, meta.ring_id, table, XLB_RING_MIN), 0);
	XT_EQ(xlb_vip_set(&env_fds, &key, &meta), 1);
	XT_EQ(xlb_vip_index_sync(&env_fds), 0);
	if (XT_EQ(env_run(in, len, &r), 0))
		XT_MEM(r.out, env_backend(22)->mac, 6);
	/* Swap every slot to 23; drop the remembered flow so the ring decides. */
	for (uint32_t i = 0; i < XLB_RING_MIN; i++)
		table[i] = 23;
	XT_EQ(xlb_ring_publish(&env_fds, meta.ring_id, table, XLB_RING_MIN), 0);
	s.sport++;
	len = pkt_build(&s, in);
	if (XT_EQ(env_run(in, len, &r), 0))
		XT_MEM(r.out, env_backend(23)->mac, 6);
	XT_EQ(xlb_ring_publish(&env_fds, meta.ring_id, table, 250), -EINVAL);
	xlb_vip_del(&env_fds, &key);
	xlb_vip_index_sync(&env_fds);
	free(table);
}

/* The program's clock for `seen`: bpf_ktime_get_coarse_ns() is CLOCK_MONOTONIC_COARSE. */
static uint32_t seen_now(void)
{
	struct timespec t;

	clock_gettime(CLOCK_MONOTONIC_COARSE, &t);
	return (uint32_t)(((uint64_t)t.tv_sec * 1000000000ull + (uint64_t)t.tv_nsec) >> XLB_CONN_SEEN_SHIFT);
}

/* Runs one frame of s and checks it went by the unmoved slot to the ring's backend. */
static bool send_stable(const struct pkt_spec *s, int vip)
{
	struct xlb_flow_key flow;
	uint8_t in[PKT_MAX];
	struct env_run r;

	env_flow(s, &flow);
	return XT_EQ(env_run(in, pkt_build(s, in), &r), 0) && XT_EQ(r.verdict, XDP_TX) &&
	       XT_EQ(r.delta[XLB_STAT_RING_STABLE], 1) &&
	       XT_MEM(r.out, env_backend(env_ring_pick(vip, &flow))->mac, 6);
}

static uint32_t conn_seen(const struct xlb_flow_key *flow)
{
	struct xlb_conn conn = { 0 };

	XT_EQ(bpf_map_lookup_elem(env_fds.conn, flow, &conn), 0);
	return conn.seen;
}

static bool set_conn_seen(const struct xlb_flow_key *flow, uint32_t backend, uint32_t seen)
{
	struct xlb_conn conn = { .backend_id = backend, .created_ns = 1, .seen = seen };

	return XT_EQ(bpf_map_update_elem(env_fds.conn, flow, &conn, BPF_ANY), 0);
}

/*
 * Per-CPU state (the refresh filter, the limit buckets) is only seen again
 * from the CPU that wrote it: the caller stays on the one it runs on, and
 * gives *was back to sched_setaffinity() at its end.
 */
static int pin_to_this_cpu(cpu_set_t *was)
{
	cpu_set_t pinned;

	if (sched_getaffinity(0, sizeof(*was), was))
		return -1;
	CPU_ZERO(&pinned);
	CPU_SET(sched_getcpu(), &pinned);
	return sched_setaffinity(0, sizeof(pinned), &pinned);
}

/*
 * A TCP connection sending on an unmoved slot stays in the table (lbd
 * forgets entries whose `seen` is older than conn-timeout): its ACKs
 * refresh `seen`, though once a refresh period per flow only, so the second
 * ACK of a period does not reach the table. A flow the table does not know
 * gains no entry there. The refresh filter is per CPU: stay on one.
 */
static void tcp_conn_refreshed_on_unmoved_slot(void)
{
	struct pkt_spec s = { V4(CLIENT4, "198.18.1.1", IPPROTO_TCP, 49000, 80) };
	const struct env_vip *vip = &env_vips[VIP4_TCP_DSR];
	struct xlb_flow_key flow;
	cpu_set_t cpus;
	uint32_t id, now, old;
	bool skipped = false;

	if (!XT_EQ(pin_to_this_cpu(&cpus), 0))
		return;
	/*
	 * A period may end between the two ACKs, and then the second rightly
	 * looks again: a new flow for each try, as the filter knows the last.
	 */
	for (int try = 0; try < 4 && !skipped; try++) {
		s.sport = (uint16_t)(49000 + try);
		env_flow(&s, &flow);
		id = env_ring_pick(VIP4_TCP_DSR, &flow);
		if (!XT_TRUE(!(vip->slots[xlb_ring_slot(xlb_hash_flow(&flow), vip->ring_size)] & XLB_SLOT_MOVED),
			     "the flow's slot has moved: the test needs an unmoved one"))
			goto out;
		now = seen_now();
		old = now - 10;
		if (!set_conn_seen(&flow, id, old) || !send_stable(&s, VIP4_TCP_DSR))
			goto out;
		if (!XT_TRUE(conn_seen(&flow) - now <= seen_now() - now,
			     "an ACK on an unmoved slot left seen %u (now %u)", conn_seen(&flow), now))
			goto out;
		if (!set_conn_seen(&flow, id, old) || !send_stable(&s, VIP4_TCP_DSR))
			goto out;
		skipped = conn_seen(&flow) == old;
		env_conn_forget(&flow);
	}
	XT_TRUE(skipped, "in 4 tries, every second ACK looked its flow up again");
	/* Unknown to the table: stays unknown. */
	s.sport = 49008;
	env_flow(&s, &flow);
	if (send_stable(&s, VIP4_TCP_DSR))
		XT_TRUE(!remembered(&flow), "an ACK on an unmoved slot put its flow in the table");
out:
	env_conn_forget(&flow);
	sched_setaffinity(0, sizeof(cpus), &cpus);
}

/*
 * An ACK flood from random tuples misses the filter at every packet: each
 * CPU looks the table up at most XLB_REFRESH_BUDGET times a period, and a
 * connection left out then is refreshed in the next period.
 */
static void refresh_budget_caps_lookups(void)
{
	struct pkt_spec s = { V4(CLIENT4, "198.18.1.1", IPPROTO_TCP, 0, 80) }, flood = s;
	uint8_t in[PKT_MAX];
	struct xlb_flow_key flow;
	cpu_set_t cpus;
	struct env_run r;
	uint32_t id, old;
	bool capped = false;

	if (!XT_EQ(publish_fresh(VIP4_TCP_DSR), 0) || !XT_EQ(pin_to_this_cpu(&cpus), 0))
		return;
	char flood_src[32];

	flood.src = flood_src;
	for (int try = 0; try < 6 && !capped; try++) {
		/* New tuples each try: the filter remembers the last try's for a few periods. */
		snprintf(flood_src, sizeof(flood_src), "198.18.0.%d", 70 + try);
		s.sport = (uint16_t)(48000 + try);
		env_flow(&s, &flow);
		id = env_ring_pick(VIP4_TCP_DSR, &flow);
		old = seen_now() - 10;
		/* The flood spends this period's budget, and one more in case a period began during it. */
		for (uint32_t i = 0; i <= XLB_REFRESH_BUDGET; i++) {
			flood.sport = (uint16_t)(1 + i % 60000);
			if (env_run(in, pkt_build(&flood, in), &r))
				break;
		}
		if (!set_conn_seen(&flow, id, old) || !send_stable(&s, VIP4_TCP_DSR))
			goto out;
		capped = conn_seen(&flow) == old;
		if (!capped)
			env_conn_forget(&flow);
	}
	if (!XT_TRUE(capped, "in 6 tries, an ACK after %u flood packets still looked its flow up",
		     XLB_REFRESH_BUDGET + 1))
		goto out;
	/* The next period has a budget again: the same connection's next ACK refreshes it. */
	usleep(1100000);
	if (send_stable(&s, VIP4_TCP_DSR))
		XT_TRUE(conn_seen(&flow) != old, "no refresh in the period after the flood");
out:
	env_conn_forget(&flow);
	sched_setaffinity(0, sizeof(cpus), &cpus);
}

/*
 * Two flows at one place of the refresh filter (each the other's collision)
 * never skip each other's refresh: whichever comes, its entry is refreshed,
 * at the price of a lookup each.
 */
static void refresh_filter_shared_place(void)
{
	struct pkt_spec a = { V4(CLIENT4, "198.18.1.1", IPPROTO_TCP, 49010, 80) }, b = a;
	const struct env_vip *vip = &env_vips[VIP4_TCP_DSR];
	struct xlb_flow_key fa, fb;
	cpu_set_t cpus;
	char client[32];
	uint32_t now, old;
	uint64_t ha, hb;
	bool found = false;

	env_flow(&a, &fa);
	ha = xlb_hash_flow64(&fa);
	b.src = client;
	/* About one flow in 65536 shares a's place: search clients and ports. */
	for (int c = 11; c < 60 && !found; c++) {
		snprintf(client, sizeof(client), "198.18.0.%d", c);
		for (b.sport = 1024; b.sport < 65535 && !found; b.sport++) {
			env_flow(&b, &fb);
			hb = xlb_hash_flow64(&fb);
			found = xlb_refresh_index(hb) == xlb_refresh_index(ha) &&
				xlb_refresh_tag(hb) != xlb_refresh_tag(ha) &&
				!(vip->slots[xlb_ring_slot(xlb_hash_flow(&fb), vip->ring_size)] & XLB_SLOT_MOVED);
		}
	}
	b.sport--;
	if (!XT_TRUE(found, "no flow shares flow a's place: the test needs one"))
		return;
	if (!XT_EQ(pin_to_this_cpu(&cpus), 0))
		return;
	now = seen_now();
	old = now - 10;
	if (!set_conn_seen(&fa, env_ring_pick(VIP4_TCP_DSR, &fa), old) ||
	    !set_conn_seen(&fb, env_ring_pick(VIP4_TCP_DSR, &fb), old))
		goto out;
	/* a, then b at a's place, then a again: each refreshed. */
	if (!send_stable(&a, VIP4_TCP_DSR) || !send_stable(&b, VIP4_TCP_DSR))
		goto out;
	XT_TRUE(conn_seen(&fa) - now <= seen_now() - now, "flow a: seen %u, now %u", conn_seen(&fa), now);
	XT_TRUE(conn_seen(&fb) - now <= seen_now() - now, "flow b, at a's place: seen %u, now %u",
		conn_seen(&fb), now);
	if (!set_conn_seen(&fa, env_ring_pick(VIP4_TCP_DSR, &fa), old) || !send_stable(&a, VIP4_TCP_DSR))
		goto out;
	XT_TRUE(conn_seen(&fa) - now <= seen_now() - now, "flow a after b: seen %u, now %u",
		conn_seen(&fa), now);
out:
	env_conn_forget(&fa);
	env_conn_forget(&fb);
	sched_setaffinity(0, sizeof(cpus), &cpus);
}

/* Publishes one slot of the VIP's ring as given. */
static bool publish_slot(int v, const struct xlb_flow_key *flow, uint32_t slot)
{
	struct env_vip *vip = &env_vips[v];

	vip->slots[xlb_ring_slot(xlb_hash_flow(flow), vip->ring_size)] = slot;
	return XT_EQ(xlb_ring_publish(&env_fds, (uint32_t)v, vip->slots, vip->ring_size), 0);
}

/* One frame of s: which backend's MAC it went to, 0 for none; r holds the run. */
static uint32_t sent_to(const struct pkt_spec *s, struct env_run *r)
{
	uint8_t in[PKT_MAX];

	if (!XT_EQ(env_run(in, pkt_build(s, in), r), 0) || !XT_EQ(r->verdict, XDP_TX))
		return 0;
	for (uint32_t id = 1; id < 64; id++)
		if (env_backend(id) && !memcmp(r->out, env_backend(id)->mac, 6))
			return id;
	return 0;
}

/*
 * A connection opened on a moved slot after the move is remembered where
 * LRU pressure cannot reach it (moved_map): when conn_map evicts what it
 * holds (a SYN flood does), the connection's next packet still reaches the
 * backend its SYN went to, not the slot's previous one. A flow from before
 * the move, known to no table, still goes to the previous backend.
 */
static void post_move_connection_survives_eviction(void)
{
	struct pkt_spec s = { V4(CLIENT4, "198.18.1.5", IPPROTO_TCP, 49200, 80), .tcp_flags = 0x02 };
	struct xlb_flow_key flow;
	struct xlb_conn conn;
	struct env_run r;
	uint32_t id, prev;

	if (!XT_EQ(publish_fresh(VIP4_CHURN), 0))
		return;
	env_flow(&s, &flow);
	id = env_ring_pick(VIP4_CHURN, &flow);
	prev = id == 21 ? 22 : 21;
	if (!publish_slot(VIP4_CHURN, &flow, id | XLB_SLOT_MOVED | prev << 16))
		goto out;
	XT_EQ(sent_to(&s, &r), id);	/* a SYN after the move follows the ring */
	XT_EQ(r.delta[XLB_STAT_CONN_MISS], 1);
	/* It waits in syn_map for its ACK, which moves it to moved_map. */
	XT_TRUE(bpf_map_lookup_elem(env_fds.moved, &flow, &conn) != 0, "a SYN alone is in moved_map");
	XT_EQ(bpf_map_lookup_elem(env_fds.syn, &flow, &conn), 0);
	s.tcp_flags = 0x10;
	XT_EQ(sent_to(&s, &r), id);
	XT_EQ(r.delta[XLB_STAT_SYN_CONFIRMED], 1);
	XT_EQ(bpf_map_lookup_elem(env_fds.moved, &flow, &conn), 0);
	XT_EQ(conn.backend_id, id);
	XT_TRUE(bpf_map_lookup_elem(env_fds.syn, &flow, &conn) != 0, "syn_map still holds a confirmed flow");
	/* What an LRU eviction does to conn_map and syn_map: */
	bpf_map_delete_elem(env_fds.conn, &flow);
	bpf_map_delete_elem(env_fds.syn, &flow);
	XT_EQ(sent_to(&s, &r), id);
	XT_EQ(r.delta[XLB_STAT_CONN_HIT], 1);
	XT_EQ(r.delta[XLB_STAT_CONN_PREV], 0);
	/* Another flow on the same slot, from before the move (no SYN seen): the previous backend. */
	env_conn_forget(&flow);
	XT_EQ(sent_to(&s, &r), prev);
	XT_EQ(r.delta[XLB_STAT_CONN_PREV], 1);
	XT_EQ(bpf_map_lookup_elem(env_fds.moved, &flow, &conn), 0);
	XT_EQ(conn.backend_id, prev);
	env_conn_forget(&flow);
out:
	publish_fresh(VIP4_CHURN);
}

/*
 * The UDP window holds unknown UDP flows on the slot's previous backend
 * only on slots that moved in the latest change (XLB_SLOT_FRESH): a slot
 * that moved earlier has its live flows in the table already, so an
 * unknown flow there is new even while a later change (a slow-start step)
 * has the window open. TCP past its SYN needs no window and no bit.
 */
static void udp_window_only_on_fresh_slots(void)
{
	struct pkt_spec s = { V4(CLIENT4, "198.18.1.1", IPPROTO_UDP, 49100, 53) };
	struct xlb_flow_key flow;
	struct env_run r;
	uint32_t id, prev, slot;
	struct timespec now;

	if (!XT_EQ(publish_fresh(VIP4_UDP_DSR), 0))
		return;
	env_flow(&s, &flow);
	id = env_ring_pick(VIP4_UDP_DSR, &flow);
	prev = id % 3 + 1;
	slot = id | XLB_SLOT_MOVED | prev << 16;
	clock_gettime(CLOCK_MONOTONIC, &now);
	env_vips[VIP4_UDP_DSR].udp_keep_until_ns = (uint64_t)now.tv_sec * 1000000000ull +
						   (uint64_t)now.tv_nsec + ENV_UDP_KEEP_NS;
	if (!XT_EQ(env_write_vip(VIP4_UDP_DSR), 0) || !publish_slot(VIP4_UDP_DSR, &flow, slot))
		goto out;
	XT_EQ(sent_to(&s, &r), id);
	XT_EQ(r.delta[XLB_STAT_CONN_MISS], 1);
	XT_EQ(r.delta[XLB_STAT_CONN_PREV], 0);
	/* The same slot, moved in this change: the flow may have been there before. */
	env_conn_forget(&flow);
	if (!publish_slot(VIP4_UDP_DSR, &flow, slot | XLB_SLOT_FRESH))
		goto out;
	XT_EQ(sent_to(&s, &r), prev);
	XT_EQ(r.delta[XLB_STAT_CONN_PREV], 1);
	env_conn_forget(&flow);
	/* An ACK of a connection the table lost, on a slot that moved long ago: still before the move. */
	s = (struct pkt_spec){ V4(CLIENT4, "198.18.1.5", IPPROTO_TCP, 49101, 80) };
	env_flow(&s, &flow);
	id = env_ring_pick(VIP4_CHURN, &flow);
	prev = id == 21 ? 22 : 21;
	if (!publish_slot(VIP4_CHURN, &flow, id | XLB_SLOT_MOVED | prev << 16))
		goto out;
	XT_EQ(sent_to(&s, &r), prev);
	XT_EQ(r.delta[XLB_STAT_CONN_PREV], 1);
	env_conn_forget(&flow);
out:
	env_vips[VIP4_UDP_DSR].udp_keep_until_ns = 0;
	publish_fresh(VIP4_UDP_DSR);
	publish_fresh(VIP4_CHURN);
}

/*
 * The case behind XLB_SLOT_FRESH: a backend is drained (its slots move),
 * its window passes, then another backend's slow start changes the ring
 * again and reopens the window. New UDP flows on the slots the drain moved
 * must not go to the drained backend; those on slots this change moved
 * stay where they were.
 */
static void udp_window_after_second_change(void)
{
	struct pkt_spec s = { V4(CLIENT4, "198.18.1.1", IPPROTO_UDP, 0, 53) };
	struct env_vip *vip = &env_vips[VIP4_UDP_DSR];
	struct xlb_flow_key flow;
	struct env_run r;
	int earlier = 0, latest = 0;

	memcpy(vip->backends, (uint32_t[]){ 1, 2, 3, 0 }, 4 * sizeof(uint32_t));
	if (!XT_EQ(publish_fresh(VIP4_UDP_DSR), 0))
		return;
	memcpy(vip->backends, (uint32_t[]){ 1, 2, 0, 0 }, 4 * sizeof(uint32_t));
	if (!XT_EQ(env_publish(VIP4_UDP_DSR), 0) || !XT_EQ(env_fresh_expire(VIP4_UDP_DSR), 0))
		goto out;
	memcpy(vip->backends, (uint32_t[]){ 1, 2, 21, 0 }, 4 * sizeof(uint32_t));
	if (!XT_EQ(env_publish(VIP4_UDP_DSR), 0))
		goto out;
	for (int i = 0; i < 256; i++) {
		uint32_t slot, got;

		s.sport = (uint16_t)(49200 + i);
		env_flow(&s, &flow);
		slot = vip->slots[xlb_ring_slot(xlb_hash_flow(&flow), vip->ring_size)];
		got = sent_to(&s, &r);
		if ((slot & XLB_SLOT_MOVED) && !(slot & XLB_SLOT_FRESH)) {
			earlier++;
			XT_EQ(got, env_ring_pick(VIP4_UDP_DSR, &flow));
		} else if (slot & XLB_SLOT_MOVED) {
			latest++;
			XT_EQ(got, XLB_SLOT_PREV(slot));
		} else {
			XT_EQ(got, env_ring_pick(VIP4_UDP_DSR, &flow));
		}
		if (xt_cur.failed)
			break;
	}
	if (!xt_cur.failed)
		XT_TRUE(earlier > 0 && latest > 0, "flows on slots moved earlier %d, in the latest change "
			"%d: the test needs both", earlier, latest);
out:
	memcpy(vip->backends, (uint32_t[]){ 1, 2, 3, 0 }, 4 * sizeof(uint32_t));
	vip->udp_keep_until_ns = 0;
	publish_fresh(VIP4_UDP_DSR);
}

static int own_macs_read(struct xlb_own_macs *out)
{
	uint32_t key = 0;

	return bpf_map_lookup_elem(env_fds.own_mac, &key, out) ? -errno : 0;
}

/* A MAC of ours on another interface is not ours on this one. */
static void own_mac_of_other_interface(void)
{
	struct pkt_spec s = { V4(CLIENT4, "198.18.1.1", IPPROTO_TCP, 40600, 80) };
	uint8_t in[PKT_MAX];
	size_t len = pkt_build(&s, in);
	struct env_run r;

	if (!XT_EQ(env_own_macs(env_ifindex() + 1000, pkt_lb_mac, NULL), 0))
		goto out;
	if (XT_EQ(env_run(in, len, &r), 0) && XT_EQ(r.verdict, XDP_PASS))
		XT_EQ(r.delta[XLB_STAT_PASS_OTHER_MAC], 1);
	/* And on this one it is. */
	if (!XT_EQ(env_own_macs(env_ifindex(), pkt_lb_mac, NULL), 0))
		goto out;
	if (XT_EQ(env_run(in, len, &r), 0) && XT_EQ(r.verdict, XDP_TX))
		XT_EQ(r.delta[XLB_STAT_TX_DSR], 1);
out:
	env_own_macs(0, NULL, NULL);
}

/* Only the virtual MAC listed (no interface MAC): the check is on, and the vmac is still ours. */
static void own_macs_vmac_alone(void)
{
	struct pkt_spec s = { V4(CLIENT4, "198.18.1.1", IPPROTO_TCP, 40601, 80) };
	uint8_t in[PKT_MAX];
	size_t len = pkt_build(&s, in);
	struct env_run r;

	if (!XT_EQ(env_own_macs(env_ifindex(), NULL, vmac7), 0))
		goto out;
	if (XT_EQ(env_run(in, len, &r), 0) && XT_EQ(r.verdict, XDP_PASS))
		XT_EQ(r.delta[XLB_STAT_PASS_OTHER_MAC], 1);
	set_dst_vmac(in);
	if (XT_EQ(env_run(in, len, &r), 0) && XT_EQ(r.verdict, XDP_TX))
		XT_MEM(r.out + 6, vmac7, 6);
out:
	env_own_macs(0, NULL, NULL);
}

/* Each writer replaces its own entries and keeps the other's; the list is bounded. */
static void own_macs_writers_keep_each_other(void)
{
	struct xlb_own_mac many[XLB_MAX_OWN_MACS + 1] = { 0 }, two[2] = { 0 };
	struct xlb_own_macs got;

	two[0].ifindex = 5;
	two[0].mac[5] = 0x0a;
	two[1].ifindex = 6;
	two[1].mac[5] = 0x0b;
	if (!XT_EQ(xlb_own_macs_set(&env_fds, XLB_MAC_VRRP, &two[1], 1), 0) ||
	    !XT_EQ(xlb_own_macs_set(&env_fds, XLB_MAC_IFACE, two, 2), 0) || !XT_EQ(own_macs_read(&got), 0))
		goto out;
	/* The interfaces' first, in the order given, then VRRP's: each with its origin. */
	if (XT_EQ(got.count, 3)) {
		XT_EQ(got.e[0].ifindex, 5);
		XT_EQ(got.e[0].origin, XLB_MAC_IFACE);
		XT_EQ(got.e[1].ifindex, 6);
		XT_EQ(got.e[1].origin, XLB_MAC_IFACE);
		XT_EQ(got.e[2].ifindex, 6);
		XT_EQ(got.e[2].origin, XLB_MAC_VRRP);
		XT_EQ(got.e[2].mac[5], 0x0b);
	}
	if (!XT_EQ(xlb_own_macs_set(&env_fds, XLB_MAC_IFACE, &two[1], 1), 0) || !XT_EQ(own_macs_read(&got), 0))
		goto out;
	if (XT_EQ(got.count, 2))
		XT_TRUE(got.e[0].origin == XLB_MAC_IFACE && got.e[0].ifindex == 6 &&
			got.e[1].origin == XLB_MAC_VRRP, "the interfaces' entry replaced, VRRP's kept");
	XT_EQ(xlb_own_macs_set(&env_fds, XLB_MAC_IFACE, many, XLB_MAX_OWN_MACS), -ENOSPC);
	XT_EQ(xlb_own_macs_set(&env_fds, XLB_MAC_VRRP, NULL, 0), 0);
	XT_EQ(xlb_own_macs_set(&env_fds, XLB_MAC_IFACE, many, XLB_MAX_OWN_MACS), 0);
	XT_EQ(xlb_own_macs_set(&env_fds, XLB_MAC_VRRP, many, 1), -ENOSPC);
out:
	env_own_macs(0, NULL, NULL);
	if (XT_EQ(own_macs_read(&got), 0))
		XT_EQ(got.count, 0);
}

/*
 * Runs s through the trace instance, then the attached one. The trace must
 * change nothing (no counter; a remembered flow's entry byte for byte, its
 * `seen` set to 0 first so that a refresh would show), return the same
 * verdict and frame, record exactly the counters the real run counts, and
 * name the backend whose MAC the frame went to.
 */
static bool trace_agrees(const struct pkt_spec *s, struct xlb_trace *rec, uint64_t *traced)
{
	struct xlb_conn before, after;
	struct xlb_flow_key flow;
	uint8_t in[PKT_MAX];
	size_t len = pkt_build(s, in);
	struct env_run t, r;
	uint64_t counted = 0;
	int fd, had;
	bool ok = true;

	env_flow(s, &flow);
	fd = env_conn_find(&flow, &before);
	had = fd >= 0;
	if (had) {
		before.seen = 0;
		if (!XT_EQ(bpf_map_update_elem(fd, &flow, &before, BPF_EXIST), 0))
			return false;
	}
	if (!XT_EQ(env_trace_run(in, len, &t, rec, traced), 0))
		return false;
	for (int i = 0; i < XLB_STAT_MAX; i++)
		ok &= XT_EQ(t.delta[i], 0);
	fd = env_conn_find(&flow, &after);
	ok &= XT_EQ(fd >= 0, had);
	if (had && fd >= 0)
		ok &= XT_MEM(&after, &before, sizeof(before));
	if (!XT_EQ(env_run(in, len, &r), 0))
		return false;
	for (int i = 0; i < XLB_STAT_MAX; i++)
		counted |= r.delta[i] ? 1ull << i : 0;
	ok &= XT_EQ(*traced, counted);
	ok &= XT_EQ(t.verdict, r.verdict) && XT_EQ(t.out_len, r.out_len) && XT_MEM(t.out, r.out, r.out_len);
	if (r.verdict != XDP_TX)
		return ok && XT_EQ(rec->backend_id, XLB_NO_BACKEND);
	if (!XT_TRUE(env_backend(rec->backend_id) != NULL, "trace names a configured backend"))
		return false;
	if (rec->fwd_mode == XLB_FWD_DSR)
		ok &= XT_MEM(r.out, env_backend(rec->backend_id)->mac, 6);
	return ok;
}

/*
 * The trace instance agrees with the attached program on flows through
 * unmoved slots, moved slots (remembered flows, flows from before the
 * move, new ones), a remembered backend that is down, an IPIP VIP and a
 * frame to no VIP; each of those paths is taken at least once.
 */
static void trace_is_the_programs_answer(void)
{
	struct pkt_spec s = { V4(CLIENT4, "198.18.1.5", IPPROTO_TCP, 0, 80) };
	struct pkt_spec ipip = { V4(CLIENT4, "198.18.1.3", IPPROTO_TCP, 40000, 80), .tcp_flags = 0x02 };
	struct pkt_spec other = { V4(CLIENT4, "198.18.1.99", IPPROTO_TCP, 40000, 80), .tcp_flags = 0x02 };
	unsigned moved = 0, hit = 0, prev = 0, repick = 0, stable = 0;
	struct xlb_trace rec;
	uint64_t stats;
	const int flows = 64;

	memcpy(env_vips[VIP4_CHURN].backends, (uint32_t[]){ 21, 22, 23, 0 }, 4 * sizeof(uint32_t));
	if (!XT_EQ(env_publish(VIP4_CHURN), 0))
		return;
	for (int i = 0; i < flows; i++) {
		s.sport = (uint16_t)(46000 + i);
		s.tcp_flags = 0x02;
		if (!trace_agrees(&s, &rec, &stats))
			return;
		s.tcp_flags = 0x10;
		if (!trace_agrees(&s, &rec, &stats))
			return;
		stable += !!(stats & (1ull << XLB_STAT_RING_STABLE));
	}
	/* 21's slots move: remembered flows stay, unknown ACKs are from before the move. */
	memcpy(env_vips[VIP4_CHURN].backends, (uint32_t[]){ 22, 23, 24, 0 }, 4 * sizeof(uint32_t));
	if (!XT_EQ(env_publish(VIP4_CHURN), 0))
		return;
	for (int i = 0; i < 2 * flows; i++) {
		s.sport = (uint16_t)(46000 + i);
		if (!trace_agrees(&s, &rec, &stats))
			return;
		moved += !!(rec.slot & XLB_SLOT_MOVED);
		hit += !!(stats & (1ull << XLB_STAT_CONN_HIT));
		prev += !!(stats & (1ull << XLB_STAT_CONN_PREV));
		if (stats & (1ull << XLB_STAT_CONN_HIT))
			XT_EQ(rec.conn_backend, rec.backend_id);
	}
	/* The remembered backend goes down: its flows are picked again. */
	if (!XT_EQ(env_backend_up(21, false), 0))
		return;
	for (int i = 0; i < flows; i++) {
		s.sport = (uint16_t)(46000 + i);
		if (!trace_agrees(&s, &rec, &stats))
			break;
		repick += !!(stats & (1ull << XLB_STAT_CONN_REPICK));
		XT_TRUE(rec.backend_id != 21, "a frame traced to down backend 21");
	}
	env_backend_up(21, true);
	XT_TRUE(stable > 0 && moved > 0 && hit > 0 && prev > 0 && repick > 0,
		"every path taken: stable %u moved %u hit %u prev %u repick %u", stable, moved, hit, prev,
		repick);
	if (trace_agrees(&ipip, &rec, &stats))
		XT_EQ(rec.fwd_mode, XLB_FWD_IPIP);
	XT_TRUE(env_trace_shares_maps(false), "the trace instance does not share the program's maps");
	XT_TRUE(!env_trace_shares_maps(true), "the trace instance shares the maps of an instance with its own");
	if (trace_agrees(&other, &rec, &stats)) {
		XT_EQ(rec.vip_id, XLB_NO_BACKEND);
		XT_TRUE(stats & (1ull << XLB_STAT_PASS_NOT_VIP), "a frame to no VIP traced as pass_not_vip");
	}
}

/*
 * share_ring: the flows a peer's ring cannot place (share.h). Each case
 * reads what the program wrote there since the last read, and leaves the
 * ring empty for the next.
 */
struct share_seen {
	struct xlb_shared *out;
	int max, n;
	size_t bad_size;	/* a record that is no struct xlb_shared */
};

static int share_record(void *ctx, void *data, size_t size)
{
	struct share_seen *seen = ctx;

	if (size != sizeof(struct xlb_shared)) {
		seen->bad_size = size;
		return 0;
	}
	if (seen->n < seen->max)
		memcpy(&seen->out[seen->n], data, size);
	seen->n++;
	return 0;
}

/* Takes every record out of share_ring: how many there were (the first max in out), or -errno. */
static int share_take(struct xlb_shared *out, int max)
{
	struct share_seen seen = { .out = out, .max = max };
	struct ring_buffer *rb = ring_buffer__new(env_share_ring_fd(), share_record, &seen, NULL);
	int ret;

	if (!rb)
		return -errno;
	/* The consumer position lives in the map, so a reader made per call goes on where the last stopped. */
	ret = ring_buffer__consume(rb);
	ring_buffer__free(rb);
	if (ret < 0)
		return ret;
	XT_TRUE(!seen.bad_size, "a share_ring record of %zu bytes, not %zu", seen.bad_size,
		sizeof(struct xlb_shared));
	return seen.n;
}

/* Since the last take, exactly one record: flow's, given backend id. */
static bool shared_one(const struct xlb_flow_key *flow, uint32_t id)
{
	struct xlb_shared rec[4];
	int n = share_take(rec, 4);

	if (!XT_EQ(n, 1))
		return false;
	return XT_MEM(&rec[0].flow, flow, sizeof(*flow)) && XT_EQ(rec[0].backend_id, id) && XT_EQ(rec[0].pad, 0);
}

static bool shared_none(const char *after)
{
	int n = share_take(NULL, 0);

	return XT_TRUE(n == 0, "after %s, share_ring held %d records", after, n);
}

/* The run counted n flows handed over and none lost (r as sent_to() left it). */
static bool counted_shared(const struct env_run *r, int n)
{
	return XT_EQ(r->delta[XLB_STAT_SHARED], n) && XT_EQ(r->delta[XLB_STAT_SHARE_LOST], 0);
}

/* VIP4_CHURN's ring afresh over 21, 22, 23, with XLB_VIP_F_SHARE on or off. */
static bool share_churn_vip(bool share)
{
	struct env_vip *vip = &env_vips[VIP4_CHURN];

	memcpy(vip->backends, (uint32_t[]){ 21, 22, 23, 0 }, 4 * sizeof(uint32_t));
	vip->flags = (uint8_t)(share ? vip->flags | XLB_VIP_F_SHARE : vip->flags & ~XLB_VIP_F_SHARE);
	return XT_EQ(publish_fresh(VIP4_CHURN), 0);
}

/*
 * The same, with s's slot moved to the backend the ring picks (*id) from
 * another (*prev), as a change leaves it.
 */
static bool share_moved_slot(const struct pkt_spec *s, bool share, uint32_t *id, uint32_t *prev)
{
	struct xlb_flow_key flow;

	if (!share_churn_vip(share))
		return false;
	env_flow(s, &flow);
	*id = env_ring_pick(VIP4_CHURN, &flow);
	*prev = *id == 21 ? 22 : 21;
	return publish_slot(VIP4_CHURN, &flow, *id | XLB_SLOT_MOVED | *prev << 16);
}

/* Undoes share_moved_slot(): the flow forgotten, the flag off, the ring unmoved and share_ring empty. */
static void share_restore(const struct xlb_flow_key *flow)
{
	env_conn_forget(flow);
	share_churn_vip(false);
	share_take(NULL, 0);
}

/*
 * Sends s (an ACK to VIP4_CHURN) until the program moves its flow from
 * syn_map into conn_map: the refresh path on an unmoved slot looks only
 * when the period's budget allows, and a case before may have spent it.
 */
static bool ack_confirms(const struct pkt_spec *s, uint32_t id)
{
	struct xlb_flow_key flow;
	struct xlb_conn conn;
	struct env_run r;

	env_flow(s, &flow);
	for (int try = 0; try < 300; try++) {
		if (sent_to(s, &r) != id)
			return false;
		if (r.delta[XLB_STAT_SYN_CONFIRMED])
			return bpf_map_lookup_elem(env_fds.conn, &flow, &conn) == 0 && conn.backend_id == id &&
			       XT_EQ(r.delta[XLB_STAT_CONN_WRITTEN], 1);
		usleep(10000);
	}
	return false;
}

/*
 * A SYN on an unmoved slot waits in syn_map, not the connection table;
 * a retransmission after its slot moved still finds its backend there;
 * its first ACK moves it into conn_map (syn_confirmed), and from then on
 * it is a connection like any other.
 */
static void syn_waits_for_its_ack(void)
{
	struct pkt_spec s = { V4(CLIENT4, "198.18.1.5", IPPROTO_TCP, 49400, 80), .tcp_flags = TH_SYN };
	struct xlb_flow_key flow;
	struct xlb_conn conn;
	struct env_run r;
	uint32_t id, other;

	if (!XT_EQ(publish_fresh(VIP4_CHURN), 0))
		return;
	env_flow(&s, &flow);
	id = env_ring_pick(VIP4_CHURN, &flow);
	XT_EQ(sent_to(&s, &r), id);
	XT_EQ(r.delta[XLB_STAT_CONN_MISS], 1);
	XT_TRUE(bpf_map_lookup_elem(env_fds.conn, &flow, &conn) != 0, "a SYN alone is in conn_map");
	/* lbd's sweep reads a table it found empty only after a write counted so. */
	XT_EQ(r.delta[XLB_STAT_CONN_WRITTEN] + r.delta[XLB_STAT_MOVED_WRITTEN], 0);
	if (!XT_EQ(bpf_map_lookup_elem(env_fds.syn, &flow, &conn), 0) || !XT_EQ(conn.backend_id, id))
		goto out;
	s.tcp_flags = TH_ACK;
	if (!XT_TRUE(ack_confirms(&s, id), "the handshake's ACK moved the flow into conn_map"))
		goto out;
	XT_TRUE(bpf_map_lookup_elem(env_fds.syn, &flow, &conn) != 0, "syn_map still holds a confirmed flow");
	env_conn_forget(&flow);
	/* A SYN, its slot moves, the SYN again: to the backend that may have answered the first. */
	s.tcp_flags = TH_SYN;
	XT_EQ(sent_to(&s, &r), id);
	other = id == 21 ? 22 : 21;
	if (!publish_slot(VIP4_CHURN, &flow, other | XLB_SLOT_MOVED | id << 16))
		goto out;
	XT_EQ(sent_to(&s, &r), id);
	XT_EQ(r.delta[XLB_STAT_CONN_HIT], 1);
	XT_EQ(r.delta[XLB_STAT_SYN_CONFIRMED], 0);
	/* Its ACK on the moved slot: into moved_map, with that backend. */
	s.tcp_flags = TH_ACK;
	XT_EQ(sent_to(&s, &r), id);
	XT_EQ(r.delta[XLB_STAT_SYN_CONFIRMED], 1);
	XT_EQ(r.delta[XLB_STAT_MOVED_WRITTEN], 1);
	XT_EQ(r.delta[XLB_STAT_CONN_WRITTEN], 0);
	if (XT_EQ(bpf_map_lookup_elem(env_fds.moved, &flow, &conn), 0))
		XT_EQ(conn.backend_id, id);
out:
	env_conn_forget(&flow);
	publish_fresh(VIP4_CHURN);
}

/* Does a table hold none of the flows from src port base..base+n-1 of s? */
static int held_of(int fd, struct pkt_spec s, uint16_t base, int n)
{
	struct xlb_flow_key flow;
	struct xlb_conn conn;
	int held = 0;

	for (int i = 0; i < n; i++) {
		s.sport = (uint16_t)(base + i % 60000);
		s.src = i < 60000 ? "198.18.5.1" : "198.18.5.2";
		env_flow(&s, &flow);
		held += bpf_map_lookup_elem(fd, &flow, &conn) == 0;
	}
	return held;
}

/*
 * A flood of SYNs from sources that never answer, four times syn_map's
 * size, on unmoved and moved slots alike: none of them gets into conn_map
 * or moved_map, and a live connection's entry (in conn_map, and one in
 * moved_map) is still there, on its backend, afterwards. Every SYN was
 * balanced.
 */
static void syn_flood_spares_table(void)
{
	struct pkt_spec live = { V4(CLIENT4, "198.18.1.5", IPPROTO_TCP, 49500, 80), .tcp_flags = TH_SYN };
	struct pkt_spec moved = live, flood = { V4("198.18.5.1", "198.18.1.5", IPPROTO_TCP, 1024, 80),
						.tcp_flags = TH_SYN };
	int n = 4 * XLB_SYN_TABLE_SIZE(65536), tx = 0;
	struct xlb_flow_key live_flow, moved_flow;
	uint32_t live_id, moved_id, other;
	uint8_t in[PKT_MAX];
	struct xlb_conn conn;
	struct env_run r;

	if (!XT_EQ(publish_fresh(VIP4_CHURN), 0))
		return;
	env_flow(&live, &live_flow);
	live_id = env_ring_pick(VIP4_CHURN, &live_flow);
	XT_EQ(sent_to(&live, &r), live_id);
	live.tcp_flags = TH_ACK;
	if (!XT_TRUE(ack_confirms(&live, live_id), "the live connection is confirmed"))
		goto out;
	/* One opened on a moved slot, as after a drain. */
	moved.sport = 49501;
	env_flow(&moved, &moved_flow);
	moved_id = env_ring_pick(VIP4_CHURN, &moved_flow);
	other = moved_id == 21 ? 22 : 21;
	if (!publish_slot(VIP4_CHURN, &moved_flow, moved_id | XLB_SLOT_MOVED | other << 16))
		goto out;
	XT_EQ(sent_to(&moved, &r), moved_id);
	moved.tcp_flags = TH_ACK;
	XT_EQ(sent_to(&moved, &r), moved_id);
	if (!XT_EQ(bpf_map_lookup_elem(env_fds.moved, &moved_flow, &conn), 0))
		goto out;
	/* Every eighth flood flow on a moved slot too: the churn VIP's ring is 251 slots. */
	for (int i = 0; i < n; i++) {
		struct xlb_flow_key f;

		flood.sport = (uint16_t)(1024 + i % 60000);
		flood.src = i < 60000 ? "198.18.5.1" : "198.18.5.2";
		if (i % 8 == 0) {
			env_flow(&flood, &f);
			env_vips[VIP4_CHURN].slots[xlb_ring_slot(xlb_hash_flow(&f), env_vips[VIP4_CHURN].ring_size)] |=
				XLB_SLOT_MOVED;
		}
	}
	if (!XT_EQ(xlb_ring_publish(&env_fds, VIP4_CHURN, env_vips[VIP4_CHURN].slots,
				    env_vips[VIP4_CHURN].ring_size), 0))
		goto out;
	for (int i = 0; i < n; i++) {
		flood.sport = (uint16_t)(1024 + i % 60000);
		flood.src = i < 60000 ? "198.18.5.1" : "198.18.5.2";
		if (!XT_EQ(env_run(in, pkt_build(&flood, in), &r), 0))
			goto out;
		tx += r.verdict == XDP_TX;
	}
	XT_EQ(tx, n);
	XT_EQ(held_of(env_fds.conn, flood, 1024, n), 0);
	XT_EQ(held_of(env_fds.moved, flood, 1024, n), 0);
	XT_TRUE(held_of(env_fds.syn, flood, 1024, n) > 0, "syn_map holds none of the flood");
	if (XT_EQ(bpf_map_lookup_elem(env_fds.conn, &live_flow, &conn), 0))
		XT_EQ(conn.backend_id, live_id);
	if (XT_EQ(bpf_map_lookup_elem(env_fds.moved, &moved_flow, &conn), 0))
		XT_EQ(conn.backend_id, moved_id);
	XT_EQ(sent_to(&live, &r), live_id);
	XT_EQ(sent_to(&moved, &r), moved_id);
out:
	for (int i = 0; i < n; i++) {
		struct xlb_flow_key f;

		flood.sport = (uint16_t)(1024 + i % 60000);
		flood.src = i < 60000 ? "198.18.5.1" : "198.18.5.2";
		env_flow(&flood, &f);
		env_conn_forget(&f);
	}
	env_conn_forget(&live_flow);
	env_conn_forget(&moved_flow);
	publish_fresh(VIP4_CHURN);
}

/*
 * A flow remembered from its SYN on an unmoved slot, met again once the
 * slot moved: copied into moved_map and handed over once, as a peer
 * started since the change has no moved slot to keep it on its backend.
 * Without the flag, neither. Its next packet finds it in moved_map.
 */
static void share_syn_flow_after_its_slot_moved(void)
{
	for (int share = 0; share < 2; share++) {
		struct pkt_spec s = { V4(CLIENT4, "198.18.1.5", IPPROTO_TCP, 49320 + share, 80), .tcp_flags = TH_SYN };
		struct xlb_flow_key flow;
		struct xlb_conn conn;
		struct env_run r;
		uint32_t id, other;

		env_flow(&s, &flow);
		if (!share_churn_vip(share))
			goto next;
		id = env_ring_pick(VIP4_CHURN, &flow);
		XT_EQ(sent_to(&s, &r), id);
		counted_shared(&r, 0);
		shared_none("a SYN on an unmoved slot");
		s.tcp_flags = TH_ACK;
		if (!XT_TRUE(ack_confirms(&s, id), "the ACK on an unmoved slot confirmed the flow"))
			goto next;
		counted_shared(&r, 0);
		shared_none("a flow confirmed on an unmoved slot");
		other = id == 21 ? 22 : 21;
		if (!publish_slot(VIP4_CHURN, &flow, other | XLB_SLOT_MOVED | id << 16))
			goto next;
		XT_EQ(sent_to(&s, &r), id);
		XT_EQ(r.delta[XLB_STAT_CONN_HIT], 1);
		counted_shared(&r, share);
		if (share)
			shared_one(&flow, id);
		else
			shared_none("a remembered flow on its moved slot, without the flag");
		XT_TRUE((bpf_map_lookup_elem(env_fds.moved, &flow, &conn) == 0) == share,
			"moved_map %s the flow (flag %s)", share ? "lacks" : "holds", share ? "on" : "off");
		XT_EQ(sent_to(&s, &r), id);
		counted_shared(&r, 0);
		shared_none("the flow's next packet");
next:
		share_restore(&flow);
	}
}

/*
 * Run after every other case: none had a VIP with XLB_VIP_F_SHARE, and
 * among them are moved slots, SYNs, per-flow schedulers, ICMP errors and
 * the trace instance. Nothing was handed over.
 */
static void share_nothing_without_flag(void)
{
	uint64_t total[XLB_STAT_MAX];

	if (XT_EQ(xlb_stats_read_all(&env_fds, total), 0)) {
		XT_EQ(total[XLB_STAT_SHARED], 0);
		XT_EQ(total[XLB_STAT_SHARE_LOST], 0);
	}
	shared_none("every case without XLB_VIP_F_SHARE");
}

/*
 * A SYN on a moved slot of a sharing VIP: its flow is handed over once it
 * is confirmed (its ACK), with the backend the SYN went to, never for the
 * SYN alone (a flood of them would flood the peers); the next packet is a
 * hit on what the table remembers, nothing new.
 */
static void share_syn_on_moved_slot(void)
{
	struct pkt_spec s = { V4(CLIENT4, "198.18.1.5", IPPROTO_TCP, 49300, 80), .tcp_flags = TH_SYN };
	struct xlb_flow_key flow;
	struct env_run r;
	uint32_t id, prev, got;

	env_flow(&s, &flow);
	if (!share_moved_slot(&s, true, &id, &prev))
		goto out;
	got = sent_to(&s, &r);
	if (!XT_EQ(got, id) || !XT_EQ(r.delta[XLB_STAT_CONN_MISS], 1))
		goto out;
	counted_shared(&r, 0);
	shared_none("a SYN not confirmed");
	s.tcp_flags = TH_ACK;
	XT_EQ(sent_to(&s, &r), id);
	XT_EQ(r.delta[XLB_STAT_CONN_HIT], 1);
	XT_EQ(r.delta[XLB_STAT_SYN_CONFIRMED], 1);
	counted_shared(&r, 1);
	shared_one(&flow, got);
	XT_EQ(sent_to(&s, &r), id);
	XT_EQ(r.delta[XLB_STAT_CONN_HIT], 1);
	counted_shared(&r, 0);
	shared_none("an ACK of a flow handed over");
out:
	share_restore(&flow);
}

/* A flow from before the move, kept on the slot's previous backend: handed over with that backend. */
static void share_old_flow_on_moved_slot(void)
{
	struct pkt_spec s = { V4(CLIENT4, "198.18.1.5", IPPROTO_TCP, 49301, 80), .tcp_flags = TH_ACK };
	struct xlb_flow_key flow;
	struct env_run r;
	uint32_t id, prev, got;

	env_flow(&s, &flow);
	if (!share_moved_slot(&s, true, &id, &prev))
		goto out;
	got = sent_to(&s, &r);
	if (!XT_EQ(got, prev) || !XT_EQ(r.delta[XLB_STAT_CONN_PREV], 1))
		goto out;
	counted_shared(&r, 1);
	shared_one(&flow, prev);
	XT_EQ(sent_to(&s, &r), prev);
	XT_EQ(r.delta[XLB_STAT_CONN_HIT], 1);
	counted_shared(&r, 0);
	shared_none("the second ACK of a flow kept on the previous backend");
out:
	share_restore(&flow);
}

/* The same two flows on a VIP without XLB_VIP_F_SHARE: placed alike, nothing handed over. */
static void share_off_on_moved_slot(void)
{
	struct pkt_spec s = { V4(CLIENT4, "198.18.1.5", IPPROTO_TCP, 49302, 80), .tcp_flags = TH_SYN };
	struct xlb_flow_key flow;
	struct env_run r;
	uint32_t id, prev;

	env_flow(&s, &flow);
	if (!share_moved_slot(&s, false, &id, &prev))
		goto out;
	XT_EQ(sent_to(&s, &r), id);
	XT_EQ(r.delta[XLB_STAT_CONN_MISS], 1);
	counted_shared(&r, 0);
	shared_none("a SYN on a moved slot of a VIP without the flag");
	/* Forgotten, its ACK is a flow from before the move. */
	env_conn_forget(&flow);
	s.tcp_flags = TH_ACK;
	XT_EQ(sent_to(&s, &r), prev);
	XT_EQ(r.delta[XLB_STAT_CONN_PREV], 1);
	counted_shared(&r, 0);
	shared_none("an old flow on a moved slot of a VIP without the flag");
out:
	share_restore(&flow);
}

/*
 * On an unmoved slot any node's ring places the flow: its SYN is
 * remembered (for its retransmissions) but not handed over, and neither
 * are its ACKs.
 */
static void share_not_on_unmoved_slot(void)
{
	struct pkt_spec s = { V4(CLIENT4, "198.18.1.5", IPPROTO_TCP, 49303, 80), .tcp_flags = TH_SYN };
	const struct env_vip *vip = &env_vips[VIP4_CHURN];
	struct xlb_flow_key flow;
	struct env_run r;
	uint32_t id;

	env_flow(&s, &flow);
	if (!share_churn_vip(true))
		goto out;
	id = env_ring_pick(VIP4_CHURN, &flow);
	if (!XT_TRUE(!(vip->slots[xlb_ring_slot(xlb_hash_flow(&flow), vip->ring_size)] & XLB_SLOT_MOVED),
		     "a fresh ring has a moved slot"))
		goto out;
	XT_EQ(sent_to(&s, &r), id);
	XT_EQ(r.delta[XLB_STAT_CONN_MISS], 1);
	XT_TRUE(remembered(&flow), "a SYN on an unmoved slot was not remembered");
	counted_shared(&r, 0);
	shared_none("a SYN on an unmoved slot");
	s.tcp_flags = TH_ACK;
	XT_EQ(sent_to(&s, &r), id);
	XT_EQ(r.delta[XLB_STAT_RING_STABLE], 1);
	counted_shared(&r, 0);
	shared_none("an ACK on an unmoved slot");
out:
	share_restore(&flow);
}

/*
 * On a moved slot of a sharing VIP, what creates no flow hands none over:
 * an ICMP error about a flow the table does not know, and the trace
 * instance (which shares share_ring) tracing a SYN. The same SYN through
 * the attached program is handed over: the two above would have been.
 */
static void share_not_for_icmp_error_or_trace(void)
{
	struct pkt_spec s = { V4(CLIENT4, "198.18.1.5", IPPROTO_TCP, 49304, 80), .tcp_flags = TH_SYN };
	struct pkt_spec quoted = reply_of(&s);
	struct xlb_flow_key flow;
	struct xlb_trace rec;
	uint8_t in[PKT_MAX];
	struct env_run r;
	uint64_t counted;
	uint32_t id, prev;
	size_t len;

	env_flow(&s, &flow);
	if (!share_moved_slot(&s, true, &id, &prev))
		goto out;
	len = pkt_build_icmp_err(4, ROUTER4, s.dst, &quoted, 28, 1400, in);
	if (XT_EQ(env_run(in, len, &r), 0)) {
		XT_EQ(r.delta[XLB_STAT_ICMP_ERR_FORWARDED], 1);
		counted_shared(&r, 0);
	}
	XT_TRUE(!remembered(&flow), "an ICMP error made a flow");
	shared_none("an ICMP error about an unknown flow on a moved slot");
	len = pkt_build(&s, in);
	if (XT_EQ(env_trace_run(in, len, &r, &rec, &counted), 0))
		XT_EQ(rec.backend_id, id);
	XT_TRUE(!(counted & (1ull << XLB_STAT_SHARED)), "the trace counted a flow handed over");
	shared_none("a traced SYN on a moved slot");
	XT_EQ(sent_to(&s, &r), id);
	counted_shared(&r, 0);
	/* Its ACK confirms it: handed over then. */
	s.tcp_flags = TH_ACK;
	XT_EQ(sent_to(&s, &r), id);
	counted_shared(&r, 1);
	shared_one(&flow, id);
out:
	share_restore(&flow);
}

/* XLB_VIP_F_SHARE on the tests' per-flow VIP, which per_flow_vip() writes without it. */
static int pf_vip_share(void)
{
	struct xlb_vip_key key = { .port = htons(80), .proto = IPPROTO_TCP, .family = XLB_AF_INET };
	struct xlb_vip_meta meta;

	pkt_addr(4, PF_VIP, key.addr);
	if (bpf_map_lookup_elem(env_fds.vip, &key, &meta))
		return -errno;
	meta.flags |= XLB_VIP_F_SHARE;
	if (xlb_vip_set(&env_fds, &key, &meta) < 0)
		return -EIO;
	return xlb_vip_index_sync(&env_fds);
}

/*
 * A per-flow scheduler's choice depends on what came before, so no peer
 * could make it again: each new flow is handed over with the backend rr
 * gave it (two flows, two backends). A hit is not, nor is a RST of a flow
 * not known (it ends at once: no entry).
 */
static void share_per_flow_new_flows(void)
{
	const uint32_t ids[] = { 21, 22, 23 };
	struct pkt_spec a = { V4("198.18.0.90", PF_VIP, IPPROTO_TCP, 57000, 80), .tcp_flags = TH_SYN };
	struct pkt_spec b = a, c = a;
	struct xlb_flow_key fa, fb;
	struct env_run r;
	uint32_t got_a, got_b;

	b.sport = 57001;
	c.sport = 57002;
	c.tcp_flags = TH_RST;
	env_flow(&a, &fa);
	env_flow(&b, &fb);
	if (!XT_EQ(per_flow_vip(XLB_SCHED_RR, ids, NULL, 3), 0) || !XT_EQ(pf_vip_share(), 0))
		goto out;
	got_a = sent_to(&a, &r);
	XT_EQ(r.delta[XLB_STAT_CONN_MISS], 1);
	counted_shared(&r, 1);
	shared_one(&fa, got_a);
	got_b = sent_to(&b, &r);
	counted_shared(&r, 1);
	shared_one(&fb, got_b);
	XT_TRUE(got_a && got_b && got_a != got_b, "rr sent two new flows to %u and %u", got_a, got_b);
	a.tcp_flags = TH_ACK;
	XT_EQ(sent_to(&a, &r), got_a);
	XT_EQ(r.delta[XLB_STAT_CONN_HIT], 1);
	counted_shared(&r, 0);
	shared_none("an ACK of a per-flow VIP's remembered flow");
	sent_to(&c, &r);
	counted_shared(&r, 0);
	shared_none("a RST of a flow not known");
out:
	pf_send(57000, TH_RST);
	pf_send(57001, TH_RST);
	pf_forget(57000, 57003);
	per_flow_vip_del();
	share_take(NULL, 0);
}

/*
 * While lbd does not read share_ring, it fills: a new flow past that is
 * still placed and remembered, only counted as lost to the peers. Once
 * read, the next new flow is handed over again. A per-flow VIP hands over
 * every new flow: about XLB_SHARE_RING_BYTES / 56 (a record and its
 * header) fill the ring; fewer than / 64 would be a ring full too soon.
 */
static void share_ring_full_counts_lost(void)
{
	const uint32_t ids[] = { 21, 22, 23 };
	struct pkt_spec s = { V4("198.18.0.90", PF_VIP, IPPROTO_TCP, 0, 80), .tcp_flags = TH_SYN };
	const int most = XLB_SHARE_RING_BYTES / 56 + 100;
	uint64_t shared = 0, lost = 0, zero = 0;
	struct xlb_flow_key flow;
	struct env_run r;
	uint32_t got;
	int i;

	if (!XT_EQ(per_flow_vip(XLB_SCHED_RR, ids, NULL, 3), 0) || !XT_EQ(pf_vip_share(), 0))
		goto out;
	for (i = 0; i < most && !lost; i++) {
		s.sport = (uint16_t)(58000 + i);
		if (!XT_TRUE(sent_to(&s, &r) != 0, "new flow %d was not placed", i))
			goto out;
		shared += r.delta[XLB_STAT_SHARED];
		lost += r.delta[XLB_STAT_SHARE_LOST];
	}
	if (!XT_EQ(lost, 1) || !XT_GE(shared, XLB_SHARE_RING_BYTES / 64))
		goto out;
	env_flow(&s, &flow);
	XT_TRUE(remembered(&flow), "the flow lost to the peers was not remembered");
	XT_EQ(share_take(NULL, 0), shared);
	s.sport = (uint16_t)(58000 + i);
	env_flow(&s, &flow);
	got = sent_to(&s, &r);
	counted_shared(&r, 1);
	shared_one(&flow, got);
out:
	/* Thousands of flows: forgotten at once, and their count with them. */
	pf_forget(58000, (uint16_t)(58000 + most + 1));
	for (size_t k = 0; k < 3; k++)
		bpf_map_update_elem(env_fds.active, &ids[k], &zero, BPF_ANY);
	per_flow_vip_del();
	share_take(NULL, 0);
}

/* One ACK from src to the IPv4 DSR VIP: the verdict, and *counted whether drop_denied moved. */
static int acl_send(const char *src, bool *denied)
{
	struct pkt_spec s = { V4(src, "198.18.1.1", IPPROTO_TCP, 40000, 80), .tcp_flags = TH_ACK };
	uint8_t in[PKT_MAX];
	struct env_run r;

	if (env_run(in, pkt_build(&s, in), &r))
		return -1;
	*denied = r.delta[XLB_STAT_DROP_DENIED] == 1;
	return r.verdict;
}

static int acl_put(uint32_t scope_n, const char *addr, uint8_t len, uint32_t deny)
{
	struct xlb_acl_key k = { .prefixlen = 32 + len, .scope = htonl(XLB_ACL_SCOPE(scope_n, XLB_AF_INET)) };
	struct xlb_acl_entry e = { .deny = deny };

	inet_pton(AF_INET, addr, k.addr);
	return bpf_map_update_elem(env_fds.acl, &k, &e, BPF_ANY);
}

/*
 * The VIP's most specific prefix decides, then the global list's; a
 * source no list holds passes unless an allow list applies; the prefix
 * that decided counts the packet.
 */
static void acl_most_specific_prefix_decides(void)
{
	uint32_t own = VIP4_TCP_DSR + 1;
	struct xlb_acl_key k = { .prefixlen = 32 + 24, .scope = htonl(XLB_ACL_SCOPE(own, XLB_AF_INET)) };
	struct xlb_acl_entry e;
	bool denied;

	if (!XT_EQ(acl_put(own, "198.18.0.0", 16, 0), 0) || !XT_EQ(acl_put(own, "198.18.5.0", 24, 1), 0) ||
	    !XT_EQ(acl_put(0, "198.18.6.0", 24, 1), 0) || !XT_EQ(acl_put(0, "198.19.9.0", 24, 1), 0))
		goto out;
	env_vips[VIP4_TCP_DSR].flags = XLB_VIP_F_ACL | XLB_VIP_F_ACL_GLOBAL;
	if (!XT_EQ(env_write_vip(VIP4_TCP_DSR), 0))
		goto out;
	XT_TRUE(acl_send("198.18.5.7", &denied) == XDP_DROP && denied, "a /24 denied inside the VIP's allowed /16");
	XT_TRUE(acl_send("198.18.7.7", &denied) == XDP_TX && !denied, "the VIP's allowed /16");
	XT_TRUE(acl_send("198.18.6.7", &denied) == XDP_TX, "the VIP's own allow before the global deny");
	XT_TRUE(acl_send("198.19.9.7", &denied) == XDP_DROP && denied, "the global deny where the VIP has no prefix");
	XT_TRUE(acl_send("198.19.1.7", &denied) == XDP_TX, "no prefix, no allow list: passes");
	env_vips[VIP4_TCP_DSR].flags |= XLB_VIP_F_ALLOW_ONLY;
	if (!XT_EQ(env_write_vip(VIP4_TCP_DSR), 0))
		goto out;
	XT_TRUE(acl_send("198.19.1.7", &denied) == XDP_DROP && denied, "no prefix under an allow list: dropped");
	inet_pton(AF_INET, "198.18.5.0", k.addr);
	if (XT_EQ(bpf_map_lookup_elem(env_fds.acl, &k, &e), 0))
		XT_EQ(e.hits, 1);
	/* Without the flags the lists are not read at all. */
	env_vips[VIP4_TCP_DSR].flags = 0;
	if (XT_EQ(env_write_vip(VIP4_TCP_DSR), 0))
		XT_TRUE(acl_send("198.18.5.7", &denied) == XDP_TX, "a VIP without lists");
out:
	env_vips[VIP4_TCP_DSR].flags = 0;
	env_write_vip(VIP4_TCP_DSR);
	/* The cases after this one run without lists. */
	while (!bpf_map_get_next_key(env_fds.acl, NULL, &k))
		bpf_map_delete_elem(env_fds.acl, &k);
}

/*
 * A packet a second with a burst of 4: a client's fifth packet at once is
 * dropped, another client's passes. The buckets are per CPU, so the runs
 * stay on one.
 */
static void limit_pps_per_client(void)
{
	uint32_t id = VIP4_TCP_DSR;
	struct xlb_limit limit = { .pps = 1, .pps_burst = 4, .prefix4 = 32, .prefix6 = 64 };
	cpu_set_t cpus;
	struct pkt_spec a = { V4("198.18.7.1", "198.18.1.1", IPPROTO_TCP, 40001, 80), .tcp_flags = TH_ACK };
	struct pkt_spec b = a;
	uint8_t in[PKT_MAX];
	struct env_run r;
	int tx = 0, dropped = 0;

	b.src = "198.18.7.2";
	if (!XT_EQ(pin_to_this_cpu(&cpus), 0))
		return;
	if (!XT_EQ(bpf_map_update_elem(env_fds.limit, &id, &limit, BPF_ANY), 0))
		goto out;
	env_vips[VIP4_TCP_DSR].flags = XLB_VIP_F_LIMIT;
	if (!XT_EQ(env_write_vip(VIP4_TCP_DSR), 0))
		goto out;
	for (int i = 0; i < 6; i++) {
		if (!XT_EQ(env_run(in, pkt_build(&a, in), &r), 0))
			goto out;
		tx += r.verdict == XDP_TX;
		dropped += r.verdict == XDP_DROP && r.delta[XLB_STAT_DROP_LIMIT_PPS] == 1;
	}
	/* Six within far less than the second a refilled packet takes: the bucket's 4. */
	XT_TRUE(tx == 4 && dropped == 2, "client a: %d sent, %d dropped by the limit", tx, dropped);
	if (XT_EQ(env_run(in, pkt_build(&b, in), &r), 0))
		XT_TRUE(r.verdict == XDP_TX, "client b has a bucket of its own");
out:
	env_vips[VIP4_TCP_DSR].flags = 0;
	env_write_vip(VIP4_TCP_DSR);
	bpf_map_delete_elem(env_fds.limit, &id);
	sched_setaffinity(0, sizeof(cpus), &cpus);
}

static const struct xt_case stateful[] = {
	XT_CASE(own_mac_of_other_interface),
	XT_CASE(own_macs_vmac_alone),
	XT_CASE(own_macs_writers_keep_each_other),
	XT_CASE(flow_keeps_backend_after_ring_change),
	XT_CASE(udp_flow_keeps_backend_after_ring_change),
	XT_CASE(ring_reads_back),
	XT_CASE(ring_packs_four_slots_an_element),
	XT_CASE(ring_slot_written_in_place),
	XT_CASE(map_worker_spares_claimed_rings),
	XT_CASE(map_worker_writes_lists_around_index),
	XT_CASE(syn_on_known_tuple),
	XT_CASE(syn_after_handshake_is_new_connection),
	XT_CASE(flow_on_down_backend_moves),
	XT_CASE(all_backends_down_drops),
	XT_CASE(source_hash_sticks_client),
	XT_CASE(icmp_error_creates_no_flow),
	XT_CASE(vip_and_backend_counters),
	XT_CASE(many_vips_in_the_index),
	XT_CASE(index_build_under_deletes),
	XT_CASE(rr_takes_turns),
	XT_CASE(wrr_interleaves_by_weight),
	XT_CASE(lc_fewest_active),
	XT_CASE(wlc_by_weight),
	XT_CASE(random_by_weight),
	XT_CASE(sched_order_fits_big_weights),
	XT_CASE(persist_keeps_client),
	XT_CASE(syn_retry_counted),
	XT_CASE(ring_swap_is_atomic_update),
	XT_CASE(tcp_conn_refreshed_on_unmoved_slot),
	XT_CASE(refresh_filter_shared_place),
	XT_CASE(refresh_budget_caps_lookups),
	XT_CASE(udp_window_only_on_fresh_slots),
	XT_CASE(post_move_connection_survives_eviction),
	XT_CASE(syn_waits_for_its_ack),
	XT_CASE(syn_flood_spares_table),
	XT_CASE(udp_window_after_second_change),
	XT_CASE(trace_is_the_programs_answer),
	/* Last: the first checks that nothing before handed a flow over. */
	XT_CASE(share_nothing_without_flag),
	XT_CASE(share_syn_on_moved_slot),
	XT_CASE(share_old_flow_on_moved_slot),
	XT_CASE(share_off_on_moved_slot),
	XT_CASE(share_not_on_unmoved_slot),
	XT_CASE(share_not_for_icmp_error_or_trace),
	XT_CASE(share_per_flow_new_flows),
	XT_CASE(share_ring_full_counts_lost),
	XT_CASE(share_syn_flow_after_its_slot_moved),
	XT_CASE(acl_most_specific_prefix_decides),
	XT_CASE(limit_pps_per_client),
};

int main(void)
{
	if (env_setup(65536)) {
		printf("RESULT passed=0 failed=1 skipped=0\n");
		return 1;
	}
	for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
		xt_begin(cases[i].name);
		run_case(&cases[i]);
		xt_end("xdp");
	}
	if (env_own_macs(env_ifindex(), pkt_lb_mac, vmac7)) {
		printf("RESULT passed=0 failed=1 skipped=0\n");
		return 1;
	}
	for (size_t i = 0; i < sizeof(own_mac_cases) / sizeof(own_mac_cases[0]); i++) {
		xt_begin(own_mac_cases[i].name);
		run_case(&own_mac_cases[i]);
		xt_end("xdp");
	}
	env_own_macs(0, NULL, NULL);
	xt_run_cases("xdp", stateful, sizeof(stateful) / sizeof(stateful[0]));
	env_teardown();
	return xt_report();
}
