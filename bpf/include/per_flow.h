/* SPDX-License-Identifier: GPL-2.0 */
/*
 * The per-flow schedulers (rr, wrr, lc, wlc, random): a new flow's backend
 * is chosen once, at its first packet, and the connection table keeps it.
 * Unlike the ring, the choice depends on what came before (the turn, the
 * active flows), so every packet of such a VIP reads the table.
 */
#ifndef XLB_PER_FLOW_H
#define XLB_PER_FLOW_H

#include "maps.h"
#include "stats.h"
#include "trace.h"

/* Places of the order tried past backends that went down since userspace wrote it. */
#define XLB_SCHED_TRIES 4

static __always_inline __u64 *xlb_active_of(__u32 id)
{
	return bpf_map_lookup_elem(&active_map, &id);
}

/* rr, wrr: the next turn, shared by every CPU; random: any place, which seq[] holds by weight. */
static __always_inline struct xlb_backend *xlb_sched_draw(const struct xlb_vip_meta *vip,
							  const struct xlb_sched_set *set, __u32 *backend_id)
{
	__u32 vip_id = vip->vip_id, len = set->seq_len, place;
	__u64 *turn = bpf_map_lookup_elem(&sched_turn_map, &vip_id);
	struct xlb_backend *be;

	if (!turn || !len || len > XLB_SCHED_SEQ_MAX)
		return NULL;
	if (vip->sched == XLB_SCHED_RANDOM)
		place = bpf_get_prandom_u32() % len;
	else	/* a trace looks at the turn without taking it */
		place = (xlb_trace ? *turn : __sync_fetch_and_add(turn, 1)) % len;
#pragma unroll
	for (int i = 0; i < XLB_SCHED_TRIES; i++) {
		__u32 at = place + i < len ? place + i : place + i - len;

		if (at >= XLB_SCHED_SEQ_MAX)
			return NULL;
		*backend_id = set->seq[at];
		be = xlb_backend_if_up(*backend_id);
		if (be)
			return be;
	}
	return NULL;
}

/*
 * lc: the fewest active flows; wlc: the fewest per unit of weight
 * (a/w < b/v as a*v < b*w). Ties go to the first in the VIP's order.
 */
static __always_inline struct xlb_backend *xlb_sched_least(const struct xlb_vip_meta *vip,
							   const struct xlb_sched_set *set, __u32 *backend_id)
{
	struct xlb_backend *best = NULL;
	__u64 best_active = 0, best_weight = 1;
	__u32 n = set->n;

	for (__u32 i = 0; i < XLB_SCHED_MAX_BACKENDS && i < n; i++) {
		__u32 id = set->id[i];
		__u64 weight = vip->sched == XLB_SCHED_WLC ? set->weight[i] : 1, *active, now;
		struct xlb_backend *be = xlb_backend_if_up(id);

		if (!be || !weight)
			continue;
		active = xlb_active_of(id);
		if (!active)
			continue;
		/* Below zero: lbd reset a reused id while releases were still due. */
		now = (__s64)*active < 0 ? 0 : *active;
		if (!best || now * best_weight < best_active * weight) {
			best = be;
			best_active = now;
			best_weight = weight;
			*backend_id = id;
		}
	}
	return best;
}

static __always_inline struct xlb_backend *xlb_sched_choose(const struct xlb_vip_meta *vip,
							    const struct xlb_sched_set *set, __u32 *backend_id)
{
	if (!set || !set->n || vip->sched == XLB_SCHED_RING)
		return NULL;
	if (vip->sched == XLB_SCHED_LC || vip->sched == XLB_SCHED_WLC)
		return xlb_sched_least(vip, set, backend_id);
	return xlb_sched_draw(vip, set, backend_id);
}

static __always_inline void xlb_persist_key_of(const struct xlb_pkt *pkt, const struct xlb_vip_meta *vip,
						struct xlb_persist_key *key)
{
	__builtin_memset(key, 0, sizeof(*key));
	key->vip_id = vip->vip_id;
	key->family = pkt->flow.family;
	__builtin_memcpy(key->addr, pkt->flow.src, sizeof(key->addr));
}

/* The backend the client keeps, while it is up and the client spoke within persist_ns. */
static __always_inline struct xlb_backend *xlb_persist_find(const struct xlb_pkt *pkt,
							     const struct xlb_vip_meta *vip,
							     const struct xlb_sched_set *set, __u32 *backend_id)
{
	struct xlb_persist_key key;
	struct xlb_persist *p;
	struct xlb_backend *be;

	if (!set || !(vip->flags & XLB_VIP_F_PERSIST))
		return NULL;
	xlb_persist_key_of(pkt, vip, &key);
	p = bpf_map_lookup_elem(&persist_map, &key);
	if (!p || bpf_ktime_get_ns() - p->seen_ns > set->persist_ns)
		return NULL;
	be = xlb_backend_if_up(p->backend_id);
	if (be)
		*backend_id = p->backend_id;
	return be;
}

static __always_inline void xlb_persist_remember(const struct xlb_pkt *pkt, const struct xlb_vip_meta *vip,
						 __u32 backend_id)
{
	struct xlb_persist value = { .backend_id = backend_id, .seen_ns = bpf_ktime_get_ns() };
	struct xlb_persist_key key;

	if (xlb_trace || !(vip->flags & XLB_VIP_F_PERSIST))
		return;
	xlb_persist_key_of(pkt, vip, &key);
	bpf_map_update_elem(&persist_map, &key, &value, BPF_ANY);
}

/* A counted flow ends (the client's FIN or RST, or its backend went down): once only. */
static __always_inline void xlb_flow_release(struct xlb_conn *conn)
{
	__u64 *active;

	if (xlb_trace || !(conn->backend_id & XLB_CONN_COUNTED))
		return;
	conn->backend_id &= ~XLB_CONN_COUNTED;
	active = xlb_active_of(conn->backend_id);
	if (active)
		__sync_fetch_and_add(active, -1);
}

/*
 * The backend of a packet to a per-flow VIP: the remembered one while it
 * is up; else (a new flow, a SYN on a reused tuple, a backend gone down)
 * the scheduler's choice, or the ring's when the scheduler has none (its
 * set not written yet, every backend in it down). A flow the table lost
 * (evicted, or from before the VIP's scheduler changed) is placed as a
 * new one: nothing better is known of it.
 */
static __always_inline struct xlb_backend *xlb_pick_per_flow(const struct xlb_pkt *pkt,
							      const struct xlb_vip_meta *vip, __u32 hash,
							      __u32 *backend_id, int *new_flow)
{
	struct xlb_conn *conn = bpf_map_lookup_elem(&conn_map, &pkt->flow), fresh;
	__u32 vip_id = vip->vip_id, seen;
	struct xlb_sched_set *set;
	struct xlb_backend *be;
	__u64 *active;

	xlb_trace_conn(XLB_TRACE_CONN_TABLE, conn);
	if (conn && pkt->syn && bpf_ktime_get_ns() - conn->created_ns > XLB_SYN_REUSE_NS) {
		xlb_trace_conn_stale();
		xlb_flow_release(conn);
		conn = NULL;
	}
	if (conn) {
		xlb_note_syn_retry(pkt, conn);
		*backend_id = XLB_CONN_ID(conn->backend_id);
		be = xlb_backend_if_up(*backend_id);
		if (be) {
			seen = conn->seen;
			xlb_conn_seen(conn);
			/* The client's persistence runs from its last packet: refreshed as often as seen is. */
			if (conn->seen != seen)
				xlb_persist_remember(pkt, vip, *backend_id);
			if (pkt->ends)
				xlb_flow_release(conn);
			xlb_count(pkt, XLB_STAT_CONN_HIT);
			return be;
		}
		xlb_flow_release(conn);
		xlb_count(pkt, XLB_STAT_CONN_REPICK);
	} else {
		xlb_count(pkt, XLB_STAT_CONN_MISS);
	}
	/* Only a flow to place needs the scheduler's set: a hit never reads it. */
	set = bpf_map_lookup_elem(&sched_map, &vip_id);
	/* An ICMP error about a flow not known is no new flow: it must not take a turn. */
	be = pkt->icmp_err ? NULL : xlb_persist_find(pkt, vip, set, backend_id);
	if (!be && !pkt->icmp_err)
		be = xlb_sched_choose(vip, set, backend_id);
	if (!be)
		be = xlb_ring_pick(vip, hash, backend_id);
	if (!be || pkt->icmp_err)
		return be;
	xlb_persist_remember(pkt, vip, *backend_id);
	fresh.backend_id = *backend_id | XLB_CONN_COUNTED;
	fresh.created_ns = bpf_ktime_get_ns();
	fresh.seen = fresh.created_ns >> XLB_CONN_SEEN_SHIFT;
	active = xlb_active_of(*backend_id);
	/* A FIN or RST of a flow not known ends at once: nothing to count. A trace counts the write only. */
	if (!pkt->ends && active && !xlb_conn_write(pkt, &fresh, BPF_ANY) && !xlb_trace) {
		__sync_fetch_and_add(active, 1);
		xlb_share(pkt, vip, *backend_id);
	}
	if (xlb_trace)
		return be;
	*new_flow = 1;
	return be;
}

#endif /* XLB_PER_FLOW_H */
