/* SPDX-License-Identifier: GPL-2.0 */
/* Which VIP a packet is for, and which backend serves its flow. */
#ifndef XLB_SCHED_H
#define XLB_SCHED_H

#include "hash.h"
#include "maps.h"
#include "stats.h"
#include "parse.h"
#include "trace.h"
#include "share.h"

/* Probes past a down backend in the ring before giving up on the packet. */
#define XLB_RING_TRIES		4
#define XLB_RING_STRIDE		0x9e3779b1u

static __always_inline int xlb_vip_key_eq(const struct xlb_vip_key *a, const struct xlb_vip_key *b)
{
	const __u32 *x = (const __u32 *)a, *y = (const __u32 *)b;

	return x[0] == y[0] && x[1] == y[1] && x[2] == y[2] && x[3] == y[3] && x[4] == y[4];
}

/* The VIP index's entry for key: probes from its hash until the key or an empty place. */
static __always_inline struct xlb_vip_meta *xlb_vip_find(void *index, const struct xlb_vip_key *key)
{
	__u32 start = xlb_hash_vip(key), place;
	struct xlb_vip_entry *e;

#pragma unroll
	for (int i = 0; i < XLB_VIP_INDEX_PROBES; i++) {
		place = (start + i) & (XLB_VIP_INDEX_SIZE - 1);
		e = bpf_map_lookup_elem(index, &place);
		if (!e || !e->key.family)
			return NULL;
		if (xlb_vip_key_eq(&e->key, key))
			return &e->meta;
	}
	return NULL;
}

static __always_inline void *xlb_vip_index(void)
{
	__u32 zero = 0;

	return bpf_map_lookup_elem(&vip_index_map, &zero);
}

static __always_inline struct xlb_vip_meta *xlb_vip_lookup(const struct xlb_flow_key *flow)
{
	struct xlb_vip_key key = {
		.port = flow->dport,
		.proto = flow->proto,
		.family = flow->family,
	};
	void *index = xlb_vip_index();
	struct xlb_vip_meta *vip;

	if (!index)
		return NULL;
	__builtin_memcpy(key.addr, flow->dst, sizeof(key.addr));
	vip = xlb_vip_find(index, &key);
	if (vip)
		return vip;
	key.port = 0;
	return xlb_vip_find(index, &key);
}

/* Is the destination an address that has VIPs? (the marker entry: port 0, protocol 0) */
static __always_inline int xlb_is_vip_address(const struct xlb_flow_key *flow)
{
	struct xlb_vip_key key = { .family = flow->family };
	void *index = xlb_vip_index();

	__builtin_memcpy(key.addr, flow->dst, sizeof(key.addr));
	return index && xlb_vip_find(index, &key) != NULL;
}

static __always_inline struct xlb_backend *xlb_backend_if_up(__u32 id)
{
	struct xlb_backend *be = bpf_map_lookup_elem(&backend_map, &id);

	return be && (be->flags & XLB_BACKEND_F_UP) ? be : NULL;
}

/*
 * The VIP's ring slot at index (see XLB_SLOT_MOVED) as the ring holds it,
 * without the previous backend: from ring_default_map for a ring of the
 * default size (inlined), else from ring_map (a call). Each map has its
 * own lookup here, so the verifier knows at each which kind of ring it
 * reads. Four slots an element (struct xlb_ring_quad). NULL: no ring, or
 * index past its last element (a ring's pad reads XLB_SLOT_NONE).
 */
static __always_inline __u16 *xlb_ring_lane_at(const struct xlb_vip_meta *vip, __u32 index)
{
	__u32 ring_id = vip->ring_id, elem = index >> 2;
	__u16 *quad;
	void *ring;

	if (vip->ring_size == XLB_RING_DEFAULT) {
		ring = bpf_map_lookup_elem(&ring_default_map, &ring_id);
		if (ring) {
			quad = bpf_map_lookup_elem(ring, &elem);
			/*
			 * Keeps clang from merging this lookup with ring_map's
			 * below: at one instruction the verifier would see two
			 * kinds of ring and call the generic helper for both.
			 */
			asm volatile("" : "+r"(quad));
			return quad ? quad + (index & 3) : NULL;
		}
	}
	ring = bpf_map_lookup_elem(&ring_map, &ring_id);
	quad = ring ? bpf_map_lookup_elem(ring, &elem) : NULL;
	return quad ? quad + (index & 3) : NULL;
}

/*
 * A moved slot's previous backend, from the ring's second part, or
 * XLB_SLOT_NONE. Only packets on moved slots pay for it (its lookups are
 * calls: the verifier sees both kinds of ring here, and needs no more).
 */
static __always_inline __u32 xlb_ring_prev(const struct xlb_vip_meta *vip, __u32 index)
{
	__u32 ring_id = vip->ring_id, elem = XLB_RING_QUADS(vip->ring_size) + (index >> 2);
	__u16 *quad;
	void *ring;

	ring = bpf_map_lookup_elem(vip->ring_size == XLB_RING_DEFAULT ? (void *)&ring_default_map : (void *)&ring_map,
				   &ring_id);
	if (!ring && vip->ring_size == XLB_RING_DEFAULT)
		ring = bpf_map_lookup_elem(&ring_map, &ring_id);	/* as xlb_ring_lane_at looks */
	quad = ring ? bpf_map_lookup_elem(ring, &elem) : NULL;
	return quad ? quad[index & 3] : XLB_SLOT_NONE;
}

/*
 * The backend of the slot the hash lands on after `probe` steps past down
 * backends (with the slot's marks); XLB_SLOT_NONE past the end.
 */
static __always_inline __u32 xlb_ring_get(const struct xlb_vip_meta *vip, __u32 hash, __u32 probe)
{
	__u16 *lane = xlb_ring_lane_at(vip, xlb_ring_slot(hash + probe * XLB_RING_STRIDE, vip->ring_size));

	return lane ? *lane : XLB_SLOT_NONE;
}

/*
 * The ring holds only backends that were up when userspace built it; the
 * extra probes cover the moment between a backend going down and the new
 * ring being swapped in.
 */
static __always_inline struct xlb_backend *xlb_ring_pick(const struct xlb_vip_meta *vip, __u32 hash,
							  __u32 *backend_id)
{
	struct xlb_backend *be;

#pragma unroll
	for (int i = 0; i < XLB_RING_TRIES; i++) {
		*backend_id = XLB_SLOT_ID(xlb_ring_get(vip, hash, i));
		be = xlb_backend_if_up(*backend_id);
		if (be)
			return be;
	}
	return NULL;
}

/* lbd forgets flows idle for conn-timeout; see lbd_dp_sweep(). */
static __always_inline void xlb_conn_seen(struct xlb_conn *conn)
{
	__u32 now = bpf_ktime_get_coarse_ns() >> XLB_CONN_SEEN_SHIFT;

	if (!xlb_trace && conn->seen != now)
		conn->seen = now;
}

/*
 * Every write of a flow into conn_map or moved_map, counted: lbd's sweep
 * reads a table again only if it was written since a pass found it empty,
 * for a batch read walks every bucket of a hash map, empty ones too (26 ms
 * for an empty moved_map of 8M entries, each pass).
 */
static __always_inline int xlb_table_write(const struct xlb_pkt *pkt, void *table, enum xlb_stat stat,
					   const struct xlb_conn *value, __u64 flags)
{
	int ret = 0;

	/* A trace counts the write, and makes none. */
	if (!xlb_trace)
		ret = bpf_map_update_elem(table, &pkt->flow, value, flags);
	if (!ret)
		xlb_count(pkt, stat);
	return ret;
}

#define xlb_conn_write(pkt, value, flags) xlb_table_write(pkt, &conn_map, XLB_STAT_CONN_WRITTEN, value, flags)
#define xlb_moved_write(pkt, value, flags) xlb_table_write(pkt, &moved_map, XLB_STAT_MOVED_WRITTEN, value, flags)

/* Where a flow picked just now is remembered: see moved_map. */
static __always_inline void xlb_conn_remember(const struct xlb_pkt *pkt, __u32 slot,
					      const struct xlb_conn *fresh)
{
	if (slot & XLB_SLOT_MOVED) {
		if (!xlb_moved_write(pkt, fresh, BPF_ANY))
			return;
		xlb_count(pkt, XLB_STAT_MOVED_FULL);	/* no worse than before moved_map: LRU may evict it */
	}
	xlb_conn_write(pkt, fresh, BPF_ANY);
}

/*
 * The first packet past a SYN that syn_map holds: its client answered the
 * SYN-ACK, so the flow is real. It goes into the table (moved_map on a
 * moved slot) and, where the ring alone cannot place it, to the peers.
 */
static __always_inline void xlb_syn_confirm(const struct xlb_pkt *pkt, const struct xlb_vip_meta *vip,
					    __u32 slot, const struct xlb_conn *conn)
{
	struct xlb_conn confirmed;

	if (pkt->syn || pkt->icmp_err)
		return;
	xlb_count(pkt, XLB_STAT_SYN_CONFIRMED);
	confirmed = *conn;
	confirmed.seen = bpf_ktime_get_coarse_ns() >> XLB_CONN_SEEN_SHIFT;
	xlb_conn_remember(pkt, slot, &confirmed);
	/* A trace counts what the program would do, and does none of it. */
	if (xlb_trace)
		return;
	bpf_map_delete_elem(&syn_map, &pkt->flow);
	if (slot & XLB_SLOT_MOVED)
		xlb_share(pkt, vip, XLB_CONN_ID(confirmed.backend_id));
}

/*
 * A TCP connection on an unmoved slot is sent without the table, yet its
 * entry (its first ACK makes one) must outlive lbd's sweep of entries whose
 * `seen` is older than conn-timeout: the slot may move under it some day.
 * So its packets refresh `seen`, but at most once every XLB_REFRESH_EVERY
 * periods of XLB_REFRESH_JIFFIES (about 4 s): a per-CPU filter of the
 * flows that did so lately decides without the table. Its clock is jiffies, which the
 * verifier inlines; a time helper call cost 20 ns a packet here. Flows
 * that share a place cost each other lookups only; unless 48 bits of
 * their hashes agree, they never skip a refresh that is due.
 */
/*
 * A flood of ACKs from random tuples misses the filter at every packet,
 * and each miss is a table lookup (about 1 us with cold caches): so each
 * CPU makes at most XLB_REFRESH_BUDGET of them a period. A flow refreshed
 * within XLB_REFRESH_EVERY periods does not ask, so without a flood every
 * flow gets its turn (4096 x 4 flows a CPU every 4 s); what a flood leaves
 * out is refreshed once it ends, long before conn-timeout unless it lasts
 * that long.
 */
static __always_inline int xlb_refresh_budget(__u32 period)
{
	__u32 index = XLB_REFRESH_SIZE;
	struct xlb_refresh *budget = bpf_map_lookup_elem(&refresh_map, &index);

	if (!budget)
		return 0;
	if (budget->period != period) {
		budget->period = period;
		budget->tag = 0;
	}
	if (budget->tag >= XLB_REFRESH_BUDGET)
		return 0;
	budget->tag++;
	return 1;
}

static __always_inline void xlb_conn_refresh(const struct xlb_pkt *pkt, const struct xlb_vip_meta *vip,
					     __u64 flow_hash)
{
	__u32 index = xlb_refresh_index(flow_hash), tag = xlb_refresh_tag(flow_hash);
	__u32 period = bpf_jiffies64() / XLB_REFRESH_JIFFIES;
	struct xlb_refresh *last = bpf_map_lookup_elem(&refresh_map, &index);
	struct xlb_conn *conn;

	if (!last || (last->tag == tag && period - last->period < XLB_REFRESH_EVERY) ||
	    !xlb_refresh_budget(period))
		return;
	conn = bpf_map_lookup_elem(&conn_map, &pkt->flow);
	if (conn) {
		xlb_conn_seen(conn);
	} else {
		/* Most often the handshake's ACK: the flow's first packet here. */
		conn = bpf_map_lookup_elem(&syn_map, &pkt->flow);
		if (conn)
			xlb_syn_confirm(pkt, vip, 0, conn);
	}
	last->tag = tag;
	last->period = period;
}

/*
 * A flow the table does not know, on a moved slot, began before the move
 * if it is TCP past its SYN, however long ago the slot moved. UDP has no
 * such mark, so for a few seconds after a change (udp_keep_until_ns) an
 * unknown UDP flow counts as old on the slots that change moved, which
 * userspace marks XLB_SLOT_FRESH: that catches each live flow at its next
 * packet. On slots that moved before, every live flow is in the table by
 * now (each packet on a moved slot goes through it), so an unknown one is
 * new, even while a later change has the window open.
 */
static __always_inline int xlb_flow_predates_move(const struct xlb_pkt *pkt,
						  const struct xlb_vip_meta *vip, __u32 slot)
{
	if (pkt->flow.proto == IPPROTO_TCP)
		return !pkt->syn;
	return (slot & XLB_SLOT_FRESH) && bpf_ktime_get_ns() < vip->udp_keep_until_ns;
}

/*
 * The backend of a flow on a moved slot: the remembered one while it is
 * up; else the slot's previous backend for a flow from before the move;
 * else a Maglev pick. What is picked is remembered from then on. ICMP
 * errors only look: they must not create flows. A TCP SYN that is not
 * its client retransmitting (see xlb_syn_is_retry) opens a new connection
 * on a reused source port, so it is picked afresh: it must not go to the
 * backend an old connection had (drained, removed or failing since).
 */
/* Where xlb_conn_find() found a flow. */
enum xlb_conn_where { XLB_IN_CONN, XLB_IN_MOVED, XLB_IN_SYN };

/*
 * A flow's entry: on a moved slot first in moved_map (flows that began on
 * the slot while it was marked), then in conn_map (flows remembered before
 * the slot moved), then, for TCP, in syn_map (a SYN not confirmed yet).
 */
static __always_inline struct xlb_conn *xlb_conn_find(const struct xlb_pkt *pkt, __u32 slot, int *where)
{
	struct xlb_conn *conn;

	*where = XLB_IN_CONN;
	if (slot & XLB_SLOT_MOVED) {
		conn = bpf_map_lookup_elem(&moved_map, &pkt->flow);
		xlb_trace_conn(XLB_TRACE_CONN_MOVED, conn);
		if (conn) {
			*where = XLB_IN_MOVED;
			return conn;
		}
	}
	conn = bpf_map_lookup_elem(&conn_map, &pkt->flow);
	xlb_trace_conn(XLB_TRACE_CONN_TABLE, conn);
	if (conn || pkt->flow.proto != IPPROTO_TCP)
		return conn;
	conn = bpf_map_lookup_elem(&syn_map, &pkt->flow);
	xlb_trace_conn(XLB_TRACE_CONN_SYN, conn);
	if (conn)
		*where = XLB_IN_SYN;
	return conn;
}

/*
 * A flow remembered before its slot moved, met on the moved
 * slot for the first time, on a node with peers: into moved_map and to the
 * peers, once. A peer that was up during the change would keep it on the
 * slot's previous backend anyway; one started since has no moved slot to
 * tell it, and learns it only so.
 */
static __always_inline void xlb_share_remembered(const struct xlb_pkt *pkt, const struct xlb_vip_meta *vip,
						 __u32 slot, int in_moved, const struct xlb_conn *conn, __u32 id)
{
	struct xlb_conn copy;

	if (in_moved || !(slot & XLB_SLOT_MOVED) || !(vip->flags & XLB_VIP_F_SHARE) || pkt->icmp_err)
		return;
	copy = *conn;
	if (!xlb_moved_write(pkt, &copy, BPF_NOEXIST))
		xlb_share(pkt, vip, id);
}

/*
 * A SYN on a known tuple is its client retransmitting only while syn_map
 * holds the flow, for XLB_SYN_REUSE_NS. The table proper holds connections
 * whose client got past its SYN, and a client never sends that SYN again:
 * a SYN on their tuple, however soon, is a new connection on a reused
 * source port (a client looping short connections reuses ports within
 * seconds; sent to the old backend, gone down since, it was refused).
 */
static __always_inline int xlb_syn_is_retry(const struct xlb_conn *conn, int where)
{
	return where == XLB_IN_SYN && bpf_ktime_get_ns() - conn->created_ns <= XLB_SYN_REUSE_NS;
}

/* A new connection on the tuple of one the table holds: the old entry must not shadow syn_map's. */
static __always_inline void xlb_conn_forget(const struct xlb_pkt *pkt)
{
	bpf_map_delete_elem(&moved_map, &pkt->flow);
	bpf_map_delete_elem(&conn_map, &pkt->flow);
}

/* A SYN retransmitted (xlb_syn_is_retry): see syn_retry_map. */
static __always_inline void xlb_note_syn_retry(const struct xlb_pkt *pkt, const struct xlb_conn *conn)
{
	__u32 id = XLB_CONN_ID(conn->backend_id);
	__u64 *n;

	if (!pkt->syn)
		return;
	n = bpf_map_lookup_elem(&syn_retry_map, &id);
	if (n)
		(*n)++;
}

static __always_inline struct xlb_backend *xlb_pick_remembered(const struct xlb_pkt *pkt,
								const struct xlb_vip_meta *vip,
								__u32 hash, __u32 slot,
								__u32 *backend_id, int *new_flow)
{
	struct xlb_backend *be = NULL;
	struct xlb_conn *conn, fresh;
	int where, known;

	conn = xlb_conn_find(pkt, slot, &where);
	known = conn != NULL;
	if (conn && pkt->syn && !xlb_syn_is_retry(conn, where)) {
		xlb_trace_conn_stale();
		conn = NULL;
	}
	if (conn)
		xlb_note_syn_retry(pkt, conn);
	if (conn) {
		/* Masked: an entry a per-flow scheduler made before the VIP's sched changed. */
		be = xlb_backend_if_up(XLB_CONN_ID(conn->backend_id));
		if (be) {
			xlb_conn_seen(conn);
			xlb_count(pkt, XLB_STAT_CONN_HIT);
			*backend_id = XLB_CONN_ID(conn->backend_id);
			if (where == XLB_IN_SYN)
				xlb_syn_confirm(pkt, vip, slot, conn);
			else
				xlb_share_remembered(pkt, vip, slot, where == XLB_IN_MOVED, conn, *backend_id);
			return be;
		}
		xlb_count(pkt, XLB_STAT_CONN_REPICK);
	} else {
		xlb_count(pkt, XLB_STAT_CONN_MISS);
		if ((slot & XLB_SLOT_MOVED) && xlb_flow_predates_move(pkt, vip, slot)) {
			*backend_id = XLB_SLOT_PREV(slot);
			be = xlb_backend_if_up(*backend_id);
			if (be)
				xlb_count(pkt, XLB_STAT_CONN_PREV);
		}
	}
	if (!be)
		be = xlb_ring_pick(vip, hash, backend_id);
	if (!be || pkt->icmp_err)
		return be;
	fresh.backend_id = *backend_id;
	fresh.created_ns = bpf_ktime_get_ns();
	fresh.seen = fresh.created_ns >> XLB_CONN_SEEN_SHIFT;
	/*
	 * A new SYN waits in syn_map for its client's ACK (its retransmissions
	 * find it there). The table's entry for a reused tuple goes, or it
	 * would shadow the pick.
	 */
	if (pkt->syn) {
		if (!xlb_trace) {
			if (known && where != XLB_IN_SYN)
				xlb_conn_forget(pkt);
			bpf_map_update_elem(&syn_map, &pkt->flow, &fresh, BPF_ANY);
		}
	} else {
		xlb_conn_remember(pkt, slot, &fresh);
		/* Any node's ring places a flow on an unmoved slot. */
		if (slot & XLB_SLOT_MOVED)
			xlb_share(pkt, vip, *backend_id);
	}
	*new_flow = 1;
	return be;
}

#include "per_flow.h"

/*
 * The backend of a flow. On a slot that has not moved, the ring alone
 * decides, without the connection table: most packets stop here (TCP
 * ones glance at it once a second). The table is for moved slots, for a
 * slot whose backend has just gone down (until userspace publishes the
 * ring without it), and for every TCP SYN: a client retransmits its SYN
 * after 1 and 3 s, and if the slot moved meanwhile the retransmission
 * must still reach the backend that may have answered the first. A SYN
 * is remembered in syn_map, the table proper only once its client's ACK
 * shows the flow is real (see syn_map).
 * flow_hash is the 5-tuple's hash, also for VIPs whose ring hashes the
 * client only.
 */
static __always_inline struct xlb_backend *xlb_pick_backend(const struct xlb_pkt *pkt,
							     const struct xlb_vip_meta *vip,
							     __u32 *backend_id, int *new_flow,
							     __u32 *flow_hash)
{
	struct xlb_backend *be;
	__u32 hash, slot, index;
	__u16 *first;
	__u64 flow64;

	if (!vip->ring_size)
		return NULL;
	flow64 = xlb_hash_flow64(&pkt->flow);
	*flow_hash = flow64 >> 32;
	hash = vip->flags & XLB_VIP_F_HASH_SRC ? xlb_hash_src(&pkt->flow) : *flow_hash;
	if (vip->sched != XLB_SCHED_RING || (vip->flags & XLB_VIP_F_PERSIST))
		return xlb_pick_per_flow(pkt, vip, hash, backend_id, new_flow);
	/* A VIP without its ring has no backend. */
	index = xlb_ring_slot(hash, vip->ring_size);
	first = xlb_ring_lane_at(vip, index);
	if (!first)
		return NULL;
	slot = *first;
	if (!(slot & XLB_SLOT_MOVED) && !pkt->syn) {
		xlb_trace_slot(*flow_hash, hash, index, slot);
		*backend_id = XLB_SLOT_ID(slot);
		be = xlb_backend_if_up(*backend_id);
		if (be) {
			/* UDP on unmoved slots is not remembered; ICMP errors are no traffic. */
			if (pkt->flow.proto == IPPROTO_TCP && !pkt->icmp_err)
				xlb_conn_refresh(pkt, vip, flow64);
			xlb_count(pkt, XLB_STAT_RING_STABLE);
			return be;
		}
	}
	/* Off the fast path: a moved slot's previous backend is in the ring's second part. */
	if (slot & XLB_SLOT_MOVED)
		slot |= xlb_ring_prev(vip, index) << 16;
	xlb_trace_slot(*flow_hash, hash, index, slot);
	return xlb_pick_remembered(pkt, vip, hash, slot, backend_id, new_flow);
}

#endif /* XLB_SCHED_H */
