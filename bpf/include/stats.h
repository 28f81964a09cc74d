/* SPDX-License-Identifier: GPL-2.0 */
/*
 * Per-CPU counters: one named slot per verdict in one record per CPU
 * (stats_map), and traffic per VIP and backend. The record is looked up
 * once a frame (xlb_stats_of_cpu(), kept in xlb_pkt), so a count is an
 * add at a constant offset, not a map lookup. rx is not counted here:
 * every frame counts exactly one verdict, so userspace sums them
 * (xlb_stats_read_all()).
 */
#ifndef XLB_STATS_H
#define XLB_STATS_H

#include "maps.h"
#include "xlb_pkt.h"

static __always_inline struct xlb_stats *xlb_stats_of_cpu(void)
{
	__u32 zero = 0;

	return bpf_map_lookup_elem(&stats_map, &zero);
}

static __always_inline void xlb_count(const struct xlb_pkt *pkt, enum xlb_stat stat)
{
	pkt->stats->count[stat] += 1;
}

/* Count the reason and return the verdict, so callers read: return xlb_verdict(pkt, ...). */
static __always_inline int xlb_verdict(const struct xlb_pkt *pkt, int action, enum xlb_stat stat)
{
	xlb_count(pkt, stat);
	return action;
}

static __always_inline void xlb_account(void *map, __u32 id, __u64 bytes, int new_flow)
{
	struct xlb_traffic *t = bpf_map_lookup_elem(map, &id);

	if (!t)
		return;
	t->packets += 1;
	t->bytes += bytes;
	t->new_flows += new_flow;
}

#endif /* XLB_STATS_H */
