/* SPDX-License-Identifier: GPL-2.0 */
/* Per-CPU counters: one named slot per verdict, and traffic per VIP and backend. */
#ifndef XLB_STATS_H
#define XLB_STATS_H

#include "maps.h"

static __always_inline void xlb_count(enum xlb_stat stat)
{
	__u32 key = stat;
	__u64 *value = bpf_map_lookup_elem(&stats_map, &key);

	if (value)
		*value += 1;
}

/* Count the reason and return the verdict, so callers read: return xlb_verdict(...). */
static __always_inline int xlb_verdict(int action, enum xlb_stat stat)
{
	xlb_count(stat);
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
