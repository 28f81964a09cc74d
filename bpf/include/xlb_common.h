/* SPDX-License-Identifier: GPL-2.0 */
/*
 * Structures and constants shared by the XDP program and userspace.
 * Everything here is fixed-width and padded explicitly, so the two sides
 * agree byte for byte and hash keys carry no uninitialised padding.
 */
#ifndef XLB_COMMON_H
#define XLB_COMMON_H

#include <linux/types.h>

#define XLB_MAX_VIPS		512
/* Two ring slots per VIP: a ring of a new size is built beside the old one. */
#define XLB_MAX_RINGS		(2 * XLB_MAX_VIPS)
#define XLB_MAX_BACKENDS	4096
#define XLB_RING_MIN		251
#define XLB_RING_MAX		131071
#define XLB_RING_DEFAULT	65537
/*
 * A ring's array elements (8 bytes each: the kernel keeps array values 8
 * bytes apart whatever their size) hold its 16-bit slots four to an
 * element, then the previous backend of each slot, four to an element,
 * then one tag element (XLB_RING_TAG). A packet reads the first part
 * only, at a place its flow decides: 128 KB at the default size, a
 * quarter of what one 32-bit slot an element took. The previous backend
 * is read only on a moved slot, which is rare and short-lived. The last
 * element of each part pads with XLB_SLOT_NONE.
 */
struct xlb_ring_quad {
	__u16 lane[4];
};
_Static_assert(sizeof(struct xlb_ring_quad) == 8, "a ring element is the u64 maps.h declares");
#define XLB_RING_QUADS(size)	(((size) + 3) / 4)	/* of slots; as many of previous backends follow */
#define XLB_RING_ELEMS(size)	(2 * XLB_RING_QUADS(size) + 1)
/*
 * The last element: the ring's size under this tag, so userspace tells a
 * ring of this layout from an older lbd's (one 32-bit slot an element, or
 * two: their last element's upper half is XLB_SLOT_NONE's old 0x7fff) and
 * reads a ring's size back exactly (sizes 4 apart share a count of quads).
 */
#define XLB_RING_TAG		0x584c4234u	/* "XLB4" */
#define XLB_RING_TAG_ELEM(size)	((__u64)XLB_RING_TAG << 32 | (size))
#define XLB_CONN_DEFAULT	(1u << 20)
/*
 * syn_map's size for a connection table of conn entries: an eighth of it,
 * at least 256. Only SYNs not yet answered by their client's ACK live
 * there, for a round trip or a few SYN retransmissions.
 */
#define XLB_SYN_TABLE_SIZE(conn)	((conn) / 8 > 256 ? (conn) / 8 : 256)
#define XLB_NO_BACKEND		0xffffffffu

/* Address families as stored in keys (the kernel's AF_INET and AF_INET6). */
#define XLB_AF_INET		2
#define XLB_AF_INET6		10

/* An IPv4 address sits in addr[0]; addr[1..3] are zero. */
struct xlb_vip_key {
	__be32 addr[4];
	__be16 port;		/* 0: every port of the address */
	__u8 proto;		/* IPPROTO_TCP or IPPROTO_UDP; 0 marks "this address has VIPs" */
	__u8 family;
};
_Static_assert(sizeof(struct xlb_vip_key) == 20, "xlb_vip_key layout");

enum xlb_fwd_mode {
	XLB_FWD_DSR = 0,	/* rewrite MACs only: L2 direct server return */
	XLB_FWD_IPIP = 1,	/* encapsulate in IPv4 or IPv6 toward the backend */
};

/* Hash only the client's address: every connection of a client lands on one backend. */
#define XLB_VIP_F_HASH_SRC	(1u << 0)
/*
 * Persistence: a client keeps its backend for xlb_sched_set.persist_ns
 * after its last packet, across connections and ring changes (persist_map).
 * Every packet of such a VIP reads the connection table, as per flow.
 */
#define XLB_VIP_F_PERSIST	(1u << 1)
/* The node has peers: flows the ring alone cannot place are handed to lbd for them (share.h). */
#define XLB_VIP_F_SHARE		(1u << 2)
/* Per-source limits: limit_map[vip_id] holds them. */
#define XLB_VIP_F_LIMIT		(1u << 3)
/* Allow and deny lists: acl_map has prefixes for the VIP's own scope, or the global one (each a lookup). */
#define XLB_VIP_F_ACL		(1u << 4)
#define XLB_VIP_F_ACL_GLOBAL	(1u << 6)
/* An allow list applies: a source no prefix of either scope matches is dropped. */
#define XLB_VIP_F_ALLOW_ONLY	(1u << 5)

/*
 * Per-flow schedulers: the backend of a new flow (a TCP SYN, an unknown
 * UDP flow) is chosen at its first packet from sched_map[vip_id] and kept
 * in conn_map, which every packet of such a VIP reads. XLB_SCHED_RING:
 * the Maglev ring decides (maglev, maglev-src).
 */
enum xlb_sched {
	XLB_SCHED_RING = 0,
	XLB_SCHED_RR,		/* the backends in turn */
	XLB_SCHED_WRR,		/* in turn by weight, interleaved (smooth weighted round robin) */
	XLB_SCHED_LC,		/* fewest active flows */
	XLB_SCHED_WLC,		/* fewest active flows per unit of weight */
	XLB_SCHED_RANDOM,	/* at random, by weight */
};

#define XLB_SCHED_MAX_BACKENDS	64
#define XLB_SCHED_SEQ_MAX	1024

/*
 * sched_map[vip_id], written by userspace whenever the VIP's backends or
 * weights change: the backends that may take new flows, and for rr, wrr
 * and random the order (or weighted multiset) to draw from. n == 0: the
 * program falls back to the ring.
 */
struct xlb_sched_set {
	__u32 n;			/* backends in id[] and weight[] */
	__u32 seq_len;			/* places in seq[] */
	__u64 persist_ns;		/* XLB_VIP_F_PERSIST's time */
	__u32 weight[XLB_SCHED_MAX_BACKENDS];
	__u16 id[XLB_SCHED_MAX_BACKENDS];
	__u16 seq[XLB_SCHED_SEQ_MAX];	/* backend ids */
};
_Static_assert(sizeof(struct xlb_sched_set) == 16 + 4 * 64 + 2 * 64 + 2 * 1024, "xlb_sched_set layout");

/* persist_map: a client of a persistent VIP and the backend it keeps. */
struct xlb_persist_key {
	__u32 vip_id;
	__u8 family;
	__u8 pad[3];
	__be32 addr[4];		/* the client's; IPv4 in addr[0] */
};
_Static_assert(sizeof(struct xlb_persist_key) == 24, "xlb_persist_key layout");

struct xlb_persist {
	__u32 backend_id;
	__u32 pad;
	__u64 seen_ns;		/* bpf_ktime_get_ns() of its last new flow, or of a packet (at most once a second) */
};
_Static_assert(sizeof(struct xlb_persist) == 16, "xlb_persist layout");
#define XLB_PERSIST_MAX		65536

/*
 * Per-source limits of a VIP (limit_map[vip_id], read when the VIP has
 * XLB_VIP_F_LIMIT): token buckets per client, a client being the first
 * prefix4 / prefix6 bits of its address. A rate of 0 is no limit. Bursts
 * are bucket depths, in flows and packets.
 */
struct xlb_limit {
	__u32 new_flows;	/* TCP SYNs a second */
	__u32 new_flows_burst;
	__u32 pps;		/* packets a second */
	__u32 pps_burst;
	__u8 prefix4;		/* 1 to 32 */
	__u8 prefix6;		/* 1 to 128 */
	__u8 pad[6];
};
_Static_assert(sizeof(struct xlb_limit) == 24, "xlb_limit layout");

/* A client of a limited VIP: its address masked to the VIP's prefix. */
struct xlb_limit_key {
	__u32 vip_id;
	__u8 family;		/* XLB_AF_INET / XLB_AF_INET6 */
	__u8 pad[3];
	__be32 addr[4];
};
_Static_assert(sizeof(struct xlb_limit_key) == 24, "xlb_limit_key layout");

/* A client's buckets on one CPU (bucket_map is per CPU: no lock, no shared line on the fast path). */
struct xlb_bucket {
	__u64 last_ns;		/* bpf_ktime_get_ns() of the last refill; 0: a bucket never used, full */
	__u64 flow_tokens;	/* in units of 1e-9 of a flow, so a refill is elapsed_ns * rate */
	__u64 pkt_tokens;	/* the same, of a packet */
};
_Static_assert(sizeof(struct xlb_bucket) == 24, "xlb_bucket layout");
#define XLB_LIMIT_CLIENTS	65536
#define XLB_LIMIT_MAX_RATE	10000000u
/*
 * The clients over a limit lately (limited_map, for lbctl top): LRU, so a
 * flood from spoofed sources keeps only its latest, and a real client
 * that keeps hitting a limit stays in it.
 */
struct xlb_limited {
	__u64 new_flows_dropped;
	__u64 pps_dropped;
	__u64 last_ns;		/* bpf_ktime_get_ns() of its last drop */
	__u64 denied;		/* dropped by the allow and deny lists */
};
_Static_assert(sizeof(struct xlb_limited) == 32, "xlb_limited layout");
#define XLB_LIMITED_MAX		1024

/*
 * Allow and deny lists (acl_map, an LPM trie): the key's data is the
 * scope word, then the address, so one longest-prefix lookup per scope
 * finds the most specific prefix of that scope. The scope word is
 * XLB_ACL_SCOPE(vip_id + 1, family) for a VIP's list, XLB_ACL_SCOPE(0,
 * family) for the global one: the family is in it so that an IPv4
 * prefix never matches an IPv6 address. prefixlen counts the scope's 32
 * bits too. An IPv4 address is addr[0], the rest zero.
 */
struct xlb_acl_key {
	__u32 prefixlen;
	__be32 scope;
	__be32 addr[4];
};
_Static_assert(sizeof(struct xlb_acl_key) == 24, "xlb_acl_key layout");
#define XLB_ACL_SCOPE(n, family)	(((n) << 1) | ((family) == XLB_AF_INET6))
#define XLB_ACL_MAX		(1u << 20)	/* prefixes in all lists together */

struct xlb_acl_entry {
	__u32 deny;		/* 1: a deny prefix; 0: an allow prefix */
	__u32 pad;
	__u64 hits;		/* packets it decided, atomically counted */
};
_Static_assert(sizeof(struct xlb_acl_entry) == 16, "xlb_acl_entry layout");

struct xlb_vip_meta {
	__u32 vip_id;		/* index into vip_stats */
	__u32 ring_id;		/* index into ring_map */
	__u32 ring_size;	/* prime size of that ring */
	__u8 fwd_mode;		/* enum xlb_fwd_mode */
	__u8 flags;		/* XLB_VIP_F_* */
	__u8 sched;		/* enum xlb_sched: a per-flow scheduler, or the ring's */
	__u8 pad;
	/*
	 * Until then (bpf_ktime_get_ns(), CLOCK_MONOTONIC) a UDP packet the
	 * connection table does not know, on a moved slot marked
	 * XLB_SLOT_FRESH, is taken for a flow that was there before the move:
	 * see XLB_SLOT_MOVED.
	 */
	__u64 udp_keep_until_ns;
};
_Static_assert(sizeof(struct xlb_vip_meta) == 24, "xlb_vip_meta layout");

/*
 * What the program reads instead of vip_map: vip_map's entries in an
 * array of XLB_VIP_INDEX_SIZE, each at xlb_hash_vip() or one of the next
 * XLB_VIP_INDEX_PROBES - 1 places. An array lookup is inlined; a hash
 * map's is a call and a jhash. 8x vip_map's 1024 entries keeps probes
 * short: at 4x and 8 probes, about 5% of full configurations failed to
 * place every entry; at 8x and 16 none of 2000 did (test_xdp checks one).
 */
/* The TTL of what the program sends itself: IPIP outer headers (unless set) and its ICMP errors. */
#define XLB_DEFAULT_TTL	64

#define XLB_VIP_INDEX_SIZE	8192
#define XLB_VIP_INDEX_PROBES	16

struct xlb_vip_entry {
	struct xlb_vip_key key;		/* family 0: an empty place */
	__u32 pad;
	struct xlb_vip_meta meta;
};
_Static_assert(sizeof(struct xlb_vip_entry) == 48, "xlb_vip_entry layout");

/*
 * A ring slot: the backend id in bits 0..12 (XLB_SLOT_ID). Most slots say
 * only that, and a flow whose slot says only that goes to that backend
 * without the connection table: the slot has not changed since the flow
 * began, so the table would say the same. XLB_SLOT_MOVED marks a slot
 * whose backend changed while the VIP carried traffic. There the table
 * decides, and a flow it does not know yet is a flow from before the move
 * when it is a TCP packet other than a SYN (or, for a short while after a
 * change that moved the slot, any UDP packet: XLB_SLOT_FRESH): it goes to
 * the backend the slot had before its first move, XLB_SLOT_PREV, and is
 * remembered from then on.
 * The ring holds bits 0..15; the previous backend (bits 16..28 here) has
 * a place of its own (struct xlb_ring_quad), which holds the slot's own
 * backend while the slot is not moved, so marking a slot moved is one
 * 16-bit store.
 */
#define XLB_SLOT_MOVED		(1u << 15)
/*
 * On a moved slot: it moved in the latest change, so the VIP's UDP window
 * (xlb_vip_meta.udp_keep_until_ns) applies to it. Slots that moved in an
 * earlier change carry no such bit: every live UDP flow there is in the
 * connection table already, so an unknown one is new and must not go to
 * the previous backend (a drained one, say) each time a later change,
 * such as a slow-start step, reopens the window.
 */
#define XLB_SLOT_FRESH		(1u << 13)
#define XLB_SLOT_NONE		0x1fffu		/* no backend in the slot (or before it) */
#define XLB_SLOT_ID(s)		((s) & 0x1fffu)
#define XLB_SLOT_PREV(s)	(((s) >> 16) & 0x1fffu)
#define XLB_SLOT_LANE(s)	((s) & 0xffffu)	/* what the ring itself holds of a slot */
_Static_assert(XLB_MAX_BACKENDS <= XLB_SLOT_NONE, "backend ids fit a ring slot");

/* A zeroed slot has no UP flag, so an unconfigured id is never chosen. */
#define XLB_BACKEND_F_UP	(1u << 0)

struct xlb_backend {
	__be32 addr[4];		/* IPv4 in addr[0] */
	__u8 mac[6];		/* next-hop MAC toward the backend (its own when on-link) */
	__u8 family;		/* XLB_AF_INET or XLB_AF_INET6 */
	__u8 flags;		/* XLB_BACKEND_F_* */
};
_Static_assert(sizeof(struct xlb_backend) == 24, "xlb_backend layout");

/* share_ring's size: 256 KiB, over 5000 flows handed over between two reads by lbd. */
#define XLB_SHARE_RING_BYTES	(256u << 10)
/* Key of the connection table: the client's view of the flow. */
struct xlb_flow_key {
	__be32 src[4];
	__be32 dst[4];
	__be16 sport;
	__be16 dport;
	__u8 proto;
	__u8 family;
	__u8 pad[2];
};
_Static_assert(sizeof(struct xlb_flow_key) == 40, "xlb_flow_key layout");

/*
 * In xlb_conn.backend_id: the flow is counted in active_map (a per-flow
 * scheduler's flow, not yet ended by a FIN or RST from the client, nor
 * forgotten by lbd's sweep). XLB_CONN_ID() is the backend.
 */
#define XLB_CONN_COUNTED	(1u << 31)
#define XLB_CONN_ID(b)		((b) & ~XLB_CONN_COUNTED)

struct xlb_conn {
	__u32 backend_id;	/* and XLB_CONN_COUNTED */
	__u32 seen;		/* last packet, in XLB_CONN_SEEN_SHIFT units of CLOCK_MONOTONIC */
	__u64 created_ns;	/* bpf_ktime_get_ns() when the flow was picked */
};

/* One flow in share_ring: the connection table's key and the backend it was given. */
struct xlb_shared {
	struct xlb_flow_key flow;
	__u32 backend_id;
	__u32 pad;
};
_Static_assert(sizeof(struct xlb_shared) == 48, "xlb_shared layout");

/* Units of about a second, so that a packet writes `seen` at most once a second. */
#define XLB_CONN_SEEN_SHIFT	30

/*
 * A TCP SYN on a flow remembered at its SYN (syn_map; conn_map on per-flow
 * VIPs) younger than this is the client retransmitting its SYN (after 1,
 * 3, 7 s), which must reach the backend that may have answered it; an
 * older one is a new connection on a reused source port and is picked
 * afresh. On ring VIPs a SYN on a confirmed flow is always a new one.
 */
#define XLB_SYN_REUSE_NS	(10ull * 1000000000ull)

/* Settings that userspace may change while the program runs: config_map[0]. */
struct xlb_config {
	__be32 ipip_src4;		/* outer IPv4 source for IPIP */
	__be32 ipip_src4_entropy;	/* bits of ipip_src4 replaced by the flow hash */
	__be32 ipip_src6[4];		/* outer IPv6 source */
	__be32 ipip_src6_entropy;	/* bits of ipip_src6[3] replaced by the flow hash */
	__u16 mtu;			/* L3 MTU of the egress link; 0 means 1500 */
	__u8 ttl;			/* outer TTL / hop limit; 0 means XLB_DEFAULT_TTL */
	__u8 pad;
};
_Static_assert(sizeof(struct xlb_config) == 32, "xlb_config layout");

/*
 * The MACs this node owns, per interface: each attached interface's own
 * and the VRRP virtual MACs of the routers that are master here. A frame
 * to a VIP whose destination is not among them (a switch flooding unknown
 * unicast to a promiscuous port) is another host's, which the kernel
 * would drop: the program passes it untouched instead of balancing it.
 * With count 0 (nothing filled the list: a test run, a program loaded
 * without lbd) only group addresses are refused.
 */
#define XLB_MAX_OWN_MACS	16

/* Who wrote an entry: each writer replaces its own entries only. The program ignores it. */
enum xlb_mac_origin {
	XLB_MAC_IFACE = 1,	/* an attached interface's own MAC */
	XLB_MAC_VRRP = 2,	/* the virtual MAC of a VRRP router that is master */
};

struct xlb_own_mac {
	__u32 ifindex;		/* the interface the frame arrives on */
	__u8 mac[6];
	__u8 origin;		/* enum xlb_mac_origin */
	__u8 pad;
};
_Static_assert(sizeof(struct xlb_own_mac) == 12, "xlb_own_mac layout");

struct xlb_own_macs {
	__u32 count;		/* entries in use, from the first; 0: the check is off */
	struct xlb_own_mac e[XLB_MAX_OWN_MACS];
};
_Static_assert(sizeof(struct xlb_own_macs) == 4 + 12 * XLB_MAX_OWN_MACS, "xlb_own_macs layout");

/* written_map's one record: flows written into each table from outside the program. */
struct xlb_written {
	__u64 conn;
	__u64 moved;
};

struct xlb_traffic {
	__u64 packets;
	__u64 bytes;
	__u64 new_flows;
};

/*
 * The global per-CPU counters, each once: X(NAME, "name", KIND, "when").
 * XLB_STAT_NAME is its slot in stats_map, "name" what lbctl stats prints.
 * KIND: RX counts every frame; each frame then counts exactly one PASS,
 * DROP or TX verdict (test_fuzz checks that), so the program does not
 * count RX: userspace sums the verdicts into it (xlb_stats_read_all()).
 * NOTE counters describe rather than decide. The order is the slot
 * order in struct xlb_stats: a new counter goes at the end.
 */
#define XLB_STATS(X)								\
	X(RX, "rx", RX, "every frame the program saw")				\
	X(PASS_NON_IP, "pass_non_ip", PASS, "not IPv4/IPv6 (ARP, LLDP, two VLAN tags...)") \
	X(PASS_NOT_VIP, "pass_not_vip", PASS, "IP, but no VIP matches")		\
	X(PASS_OTHER_L4, "pass_other_l4", PASS, "protocol other than TCP, UDP, ICMP") \
	X(PASS_ICMP, "pass_icmp", PASS, "ICMP that is not an error about a VIP flow") \
	X(DROP_TRUNCATED, "drop_truncated", DROP, "a header runs past the end of the frame") \
	X(DROP_BAD_IP, "drop_bad_ip", DROP, "IPv4 IHL < 5, bad total length, wrong version") \
	X(DROP_IP_OPTIONS, "drop_ip_options", DROP, "IPv4 options on a packet to a VIP") \
	X(DROP_FRAGMENT, "drop_fragment", DROP, "fragment to a VIP address")	\
	X(DROP_NO_BACKEND, "drop_no_backend", DROP, "the VIP has no backend that is up") \
	X(DROP_TOO_BIG, "drop_too_big", DROP, "too big to encapsulate and DF clear") \
	X(DROP_NO_ROOM, "drop_no_room", DROP, "the driver refused to grow or shrink the frame") \
	X(CONN_HIT, "conn_hit", NOTE, "connection table hit (moved slots only)") \
	X(CONN_MISS, "conn_miss", NOTE, "not in the table: picked and remembered") \
	X(CONN_REPICK, "conn_repick", NOTE, "remembered backend is down: picked again") \
	X(TX_DSR, "tx_dsr", TX, "sent by MAC rewrite")				\
	X(TX_IPIP, "tx_ipip", TX, "sent encapsulated")				\
	X(ICMP_TOO_BIG_SENT, "icmp_too_big_sent", TX, "we answered \"fragmentation needed\" / \"packet too big\"") \
	X(ICMP_ERR_FORWARDED, "icmp_err_forwarded", NOTE, "ICMP error about a flow sent to the flow's backend") \
	X(RING_STABLE, "ring_stable", NOTE, "sent by an unmoved ring slot, without the connection table") \
	X(CONN_PREV, "conn_prev", NOTE, "a miss on a moved slot kept on the slot's previous backend") \
	X(MOVED_FULL, "moved_full", NOTE, "moved_map full: a flow on a moved slot remembered in conn_map") \
	X(PASS_OTHER_MAC, "pass_other_mac", PASS, "to a VIP, in a frame not to this node's MAC (own_mac_map)") \
	X(SHARED, "shared", NOTE, "a flow the ring alone cannot place, handed to lbd for the cluster's peers") \
	X(SHARE_LOST, "share_lost", NOTE, "share_ring full: a flow not handed to the peers") \
	X(SYN_CONFIRMED, "syn_confirmed", NOTE, "a TCP flow's first packet past its SYN: from syn_map into the connection table") \
	X(DROP_LIMIT_NEW_FLOWS, "drop_limit_new_flows", DROP, "a SYN over its client's new-flow limit (limit_map)") \
	X(DROP_LIMIT_PPS, "drop_limit_pps", DROP, "a packet over its client's packet-rate limit (limit_map)") \
	X(DROP_DENIED, "drop_denied", DROP, "a source on a deny list, or on no allow list of a VIP that has one (acl_map)") \
	X(CONN_WRITTEN, "conn_written", NOTE, "a flow written into conn_map (lbd's sweep reads a table it found empty only after one)") \
	X(MOVED_WRITTEN, "moved_written", NOTE, "a flow written into moved_map (the same)")

enum xlb_stat {
#define XLB_STAT_ENUM(name, text, kind, why) XLB_STAT_##name,
	XLB_STATS(XLB_STAT_ENUM)
#undef XLB_STAT_ENUM
	XLB_STAT_MAX,
};

/* stats_map's one record per CPU: a counter at each enum xlb_stat (count[XLB_STAT_RX] stays 0). */
struct xlb_stats {
	__u64 count[XLB_STAT_MAX];
};

/*
 * What the program did with one frame, as a trace instance (xlb_trace set
 * at load) writes it to its .bss for lbctl trace; the counters it would
 * count are in its own stats_map. XLB_NO_BACKEND in a field: the program
 * never got that far (no VIP, no ring read, no entry); xlb_trace_clear()
 * sets every field so before a run.
 */
#define XLB_TRACE_CONN_NONE	0
#define XLB_TRACE_CONN_TABLE	1	/* found in conn_map */
#define XLB_TRACE_CONN_MOVED	2	/* found in moved_map */
#define XLB_TRACE_CONN_SYN	3	/* found in syn_map */

struct xlb_trace {
	__u32 vip_id;
	__u32 ring_id;
	__u32 ring_size;
	__u32 flow_hash;	/* the 5-tuple's: the outer header's entropy */
	__u32 ring_hash;	/* what the ring is indexed by: flow_hash, or the client's hash */
	__u32 slot_index;	/* where ring_hash lands (the first probe) */
	__u32 slot;		/* that slot's word: XLB_SLOT_ID, _MOVED, _FRESH, _PREV */
	__u32 conn_backend;	/* the remembered backend */
	__u32 backend_id;	/* where the frame goes */
	__u8 fwd_mode;		/* the VIP's enum xlb_fwd_mode */
	__u8 vip_flags;		/* the VIP's XLB_VIP_F_* */
	__u8 conn_table;	/* XLB_TRACE_CONN_* */
	__u8 conn_stale;	/* 1: a SYN on an entry it ignored, a new connection on a reused tuple */
};
_Static_assert(sizeof(struct xlb_trace) == 40, "xlb_trace layout");

#endif /* XLB_COMMON_H */
