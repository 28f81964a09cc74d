/* SPDX-License-Identifier: GPL-2.0 */
/* Every map of the data plane. Userspace pins them all; their layout is in xlb_common.h. */
#ifndef XLB_MAPS_H
#define XLB_MAPS_H

#include <linux/bpf.h>
#include <bpf/bpf_helpers.h>
#include "xlb_common.h"
#include "hash.h"

/*
 * (address, port, protocol) -> VIP: userspace's record, kept for a
 * restarted lbd to read back. The program reads vip_index_map instead.
 */
struct {
	__uint(type, BPF_MAP_TYPE_HASH);
	__uint(max_entries, 2 * XLB_MAX_VIPS);	/* VIPs plus one address marker each */
	__type(key, struct xlb_vip_key);
	__type(value, struct xlb_vip_meta);
} vip_map SEC(".maps");

/*
 * The program's view of vip_map (see XLB_VIP_INDEX_SIZE). Userspace
 * rebuilds the whole array from vip_map after each change and swaps it in
 * with one update, so a packet sees one version or the other. All inner
 * arrays have one size, so the verifier can inline their lookups.
 */
struct xlb_vip_index {
	__uint(type, BPF_MAP_TYPE_ARRAY);
	__uint(max_entries, XLB_VIP_INDEX_SIZE);
	/* Sizes, not types: clang emits only a forward declaration of the struct here. */
	__uint(key_size, sizeof(__u32));
	__uint(value_size, sizeof(struct xlb_vip_entry));
};

struct {
	__uint(type, BPF_MAP_TYPE_ARRAY_OF_MAPS);
	__uint(max_entries, 1);
	__type(key, __u32);
	__array(values, struct xlb_vip_index);
} vip_index_map SEC(".maps");

/*
 * An outer map of Maglev rings by ring_id, each an inner array of slots
 * (backend ids), with its inner template `name`_inner. Userspace fills a
 * new inner map and swaps it in with one update, so a table change is
 * atomic for packets; BPF_F_MMAPABLE lets userspace fill it by plain
 * stores, not a syscall a slot.
 */
#define XLB_RINGS(name, flags)							\
	struct name##_inner {							\
		__uint(type, BPF_MAP_TYPE_ARRAY);				\
		__uint(map_flags, flags);					\
		__uint(max_entries, XLB_RING_ELEMS(XLB_RING_DEFAULT));		\
		__type(key, __u32);						\
		__type(value, __u64);	/* struct xlb_ring_quad: BTF would hold it only as a declaration */ \
	};									\
	struct {								\
		__uint(type, BPF_MAP_TYPE_ARRAY_OF_MAPS);			\
		__uint(max_entries, XLB_MAX_RINGS);				\
		__type(key, __u32);						\
		__array(values, struct name##_inner);				\
	} name SEC(".maps")

/* One ring per VIP: BPF_F_INNER_MAP lets each ring have its own size. */
XLB_RINGS(ring_map, BPF_F_INNER_MAP | BPF_F_MMAPABLE);

/*
 * The rings of the default size (XLB_RING_DEFAULT), by the same ring_id:
 * all one size and without BPF_F_INNER_MAP, so the verifier inlines the
 * slot lookup (an array index) where ring_map's is a helper call. A VIP
 * of that size reads its ring here, and in ring_map only while this has
 * none for its ring_id (a ring an older lbd put there).
 */
XLB_RINGS(ring_default_map, BPF_F_MMAPABLE);

struct {
	__uint(type, BPF_MAP_TYPE_ARRAY);
	__uint(max_entries, XLB_MAX_BACKENDS);
	__type(key, __u32);
	__type(value, struct xlb_backend);
} backend_map SEC(".maps");

/* Userspace sizes it before load (lbd: conn_table_size). */
struct {
	__uint(type, BPF_MAP_TYPE_LRU_HASH);
	__uint(max_entries, XLB_CONN_DEFAULT);
	__type(key, struct xlb_flow_key);
	__type(value, struct xlb_conn);
} conn_map SEC(".maps");

/*
 * The flows remembered on moved slots, apart from conn_map: a plain hash
 * evicts nothing, so a connection opened on a moved slot after the move
 * cannot lose its entry to LRU pressure (a SYN flood, say) and then be
 * taken for a flow from before the move. Only lbd's sweep deletes here
 * (idle for conn-timeout). Allocated as used; userspace sizes it like
 * conn_map. When it is full a flow goes to conn_map instead (counted).
 */
struct {
	__uint(type, BPF_MAP_TYPE_HASH);
	__uint(map_flags, BPF_F_NO_PREALLOC);
	__uint(max_entries, XLB_CONN_DEFAULT);
	__type(key, struct xlb_flow_key);
	__type(value, struct xlb_conn);
} moved_map SEC(".maps");

/*
 * Flows written into conn_map and moved_map by tools outside the program
 * and lbd (conn_fill, for the benches): lbd's sweep adds them to the
 * program's counts (conn_written, moved_written) to tell whether a table
 * it found empty may hold flows again. The program never reads it.
 */
struct {
	__uint(type, BPF_MAP_TYPE_ARRAY);
	__uint(max_entries, 1);
	__type(key, __u32);
	__type(value, struct xlb_written);
} written_map SEC(".maps");

/*
 * TCP flows seen only as a SYN so far, on ring VIPs: a flood of SYNs from
 * spoofed sources never gets past here, so it cannot push a live flow out
 * of conn_map or fill moved_map. A flow moves to the table at its first
 * packet past the SYN (the handshake's ACK), which only a client that
 * received the SYN-ACK sends. LRU: under a flood the oldest SYNs go, and
 * their clients' retransmissions come back. Userspace sizes it before
 * load (XLB_SYN_TABLE_SIZE of conn_map's size).
 */
struct {
	__uint(type, BPF_MAP_TYPE_LRU_HASH);
	__uint(max_entries, XLB_SYN_TABLE_SIZE(XLB_CONN_DEFAULT));
	__type(key, struct xlb_flow_key);
	__type(value, struct xlb_conn);
} syn_map SEC(".maps");

/*
 * A refresh period: 256 jiffies, about a second (1.02 s at HZ 250, 0.26 s
 * at HZ 1000, 2.56 s at HZ 100), far below any useful conn-timeout.
 */
#define XLB_REFRESH_JIFFIES	256

/* Which flow last refreshed its conn_map entry from a place here, and when. */
struct xlb_refresh {
	__u32 tag;	/* xlb_refresh_tag() of the flow */
	__u32 period;	/* jiffies / XLB_REFRESH_JIFFIES when it did */
};

/*
 * Per CPU, as a flow's packets mostly arrive on one; one that moves
 * between CPUs only costs extra lookups. Nothing but the program reads it.
 */
struct {
	__uint(type, BPF_MAP_TYPE_PERCPU_ARRAY);
	__uint(max_entries, XLB_REFRESH_SIZE + 1);	/* the last: this period's budget, tag = lookups made */
	__type(key, __u32);
	__type(value, struct xlb_refresh);
} refresh_map SEC(".maps");

struct {
	__uint(type, BPF_MAP_TYPE_ARRAY);
	__uint(max_entries, 1);
	__type(key, __u32);
	__type(value, struct xlb_config);
} config_map SEC(".maps");

/* The MACs a frame to a VIP must be addressed to (see xlb_own_macs); only userspace writes it. */
struct {
	__uint(type, BPF_MAP_TYPE_ARRAY);
	__uint(max_entries, 1);
	__type(key, __u32);
	__type(value, struct xlb_own_macs);
} own_mac_map SEC(".maps");

/* The per-flow schedulers' choices per VIP (struct xlb_sched_set); only userspace writes it. */
struct {
	__uint(type, BPF_MAP_TYPE_ARRAY);
	__uint(max_entries, XLB_MAX_VIPS);
	__type(key, __u32);
	__type(value, struct xlb_sched_set);
} sched_map SEC(".maps");

/*
 * Shared by every CPU, changed only by atomic adds, so rr and wrr follow
 * their order exactly and lc sees every CPU's flows: per VIP the next
 * turn of rr and wrr; per backend its active flows (lbd's sweep takes
 * off the flows it forgets, through the mapping: BPF_F_MMAPABLE).
 */
struct {
	__uint(type, BPF_MAP_TYPE_ARRAY);
	__uint(map_flags, BPF_F_MMAPABLE);
	__uint(max_entries, XLB_MAX_VIPS);
	__type(key, __u32);
	__type(value, __u64);
} sched_turn_map SEC(".maps");

struct {
	__uint(type, BPF_MAP_TYPE_ARRAY);
	__uint(map_flags, BPF_F_MMAPABLE);
	__uint(max_entries, XLB_MAX_BACKENDS);
	__type(key, __u32);
	__type(value, __u64);
} active_map SEC(".maps");

/* Persistent VIPs' clients (struct xlb_persist_key): LRU, so a flood of clients evicts the oldest. */
struct {
	__uint(type, BPF_MAP_TYPE_LRU_HASH);
	__uint(max_entries, XLB_PERSIST_MAX);
	__type(key, struct xlb_persist_key);
	__type(value, struct xlb_persist);
} persist_map SEC(".maps");

/*
 * Per backend: SYNs again on a flow it was given and whose client has not
 * answered yet, within XLB_SYN_REUSE_NS: no SYN-ACK reached the client. lbd's passive
 * check reads it: with DSR or IPIP xlb sees only the client's side.
 */
struct {
	__uint(type, BPF_MAP_TYPE_PERCPU_ARRAY);
	__uint(max_entries, XLB_MAX_BACKENDS);
	__type(key, __u32);
	__type(value, __u64);
} syn_retry_map SEC(".maps");

/* One record per CPU: every global counter (struct xlb_stats). */
struct {
	__uint(type, BPF_MAP_TYPE_PERCPU_ARRAY);
	__uint(max_entries, 1);
	__type(key, __u32);
	__type(value, struct xlb_stats);
} stats_map SEC(".maps");

struct {
	__uint(type, BPF_MAP_TYPE_PERCPU_ARRAY);
	__uint(max_entries, XLB_MAX_VIPS);
	__type(key, __u32);
	__type(value, struct xlb_traffic);
} vip_stats SEC(".maps");

struct {
	__uint(type, BPF_MAP_TYPE_PERCPU_ARRAY);
	__uint(max_entries, XLB_MAX_BACKENDS);
	__type(key, __u32);
	__type(value, struct xlb_traffic);
} backend_stats SEC(".maps");

/* Per-source limits, by vip_id: read only for VIPs with XLB_VIP_F_LIMIT. */
struct {
	__uint(type, BPF_MAP_TYPE_ARRAY);
	__uint(max_entries, XLB_MAX_VIPS);
	__type(key, __u32);
	__type(value, struct xlb_limit);
} limit_map SEC(".maps");

/* The limited VIPs' clients' token buckets, per CPU (see struct xlb_bucket). */
struct {
	__uint(type, BPF_MAP_TYPE_LRU_PERCPU_HASH);
	__uint(max_entries, XLB_LIMIT_CLIENTS);
	__type(key, struct xlb_limit_key);
	__type(value, struct xlb_bucket);
} bucket_map SEC(".maps");

/* Who was over a limit lately, and how often (lbctl top). */
struct {
	__uint(type, BPF_MAP_TYPE_LRU_HASH);
	__uint(max_entries, XLB_LIMITED_MAX);
	__type(key, struct xlb_limit_key);
	__type(value, struct xlb_limited);
} limited_map SEC(".maps");

/* What each VIP's limits dropped (last_ns unused). */
struct {
	__uint(type, BPF_MAP_TYPE_PERCPU_ARRAY);
	__uint(max_entries, XLB_MAX_VIPS);
	__type(key, __u32);
	__type(value, struct xlb_limited);
} vip_limit_stats SEC(".maps");

/* The allow and deny lists of every VIP and the global ones (struct xlb_acl_key). */
struct {
	__uint(type, BPF_MAP_TYPE_LPM_TRIE);
	__uint(max_entries, XLB_ACL_MAX);
	__uint(map_flags, BPF_F_NO_PREALLOC);
	__type(key, struct xlb_acl_key);
	__type(value, struct xlb_acl_entry);
} acl_map SEC(".maps");

#endif /* XLB_MAPS_H */
