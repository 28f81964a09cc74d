/* SPDX-License-Identifier: GPL-2.0 */
/*
 * Trace mode (lbctl trace): a second instance of this program, loaded with
 * xlb_trace set and never attached, runs a frame through
 * BPF_PROG_TEST_RUN. It shares the attached instance's maps except the
 * counters and the refresh filter (xlb_obj_reuse_maps()), which it has
 * its own of: so counting needs no trace branch. It writes no remembered
 * flow and no `seen`, and records what it decided in xlb_trace_out. In
 * the attached instance xlb_trace is false at load, so the verifier
 * removes every trace branch; only the load of the flag stays.
 */
#ifndef XLB_TRACE_H
#define XLB_TRACE_H

#include "xlb_common.h"

const volatile __u32 xlb_trace = 0;
struct xlb_trace xlb_trace_out;

static __always_inline void xlb_trace_vip(const struct xlb_vip_meta *vip)
{
	if (!xlb_trace || !vip)
		return;
	xlb_trace_out.vip_id = vip->vip_id;
	xlb_trace_out.ring_id = vip->ring_id;
	xlb_trace_out.ring_size = vip->ring_size;
	xlb_trace_out.fwd_mode = vip->fwd_mode;
	xlb_trace_out.vip_flags = vip->flags;
}

static __always_inline void xlb_trace_slot(__u32 flow_hash, __u32 ring_hash, __u32 slot_index,
					   __u32 slot)
{
	if (!xlb_trace)
		return;
	xlb_trace_out.flow_hash = flow_hash;
	xlb_trace_out.ring_hash = ring_hash;
	xlb_trace_out.slot_index = slot_index;
	xlb_trace_out.slot = slot;
}

static __always_inline void xlb_trace_conn(__u8 table, const struct xlb_conn *conn)
{
	if (!xlb_trace || !conn)
		return;
	xlb_trace_out.conn_table = table;
	xlb_trace_out.conn_backend = XLB_CONN_ID(conn->backend_id);
}

static __always_inline void xlb_trace_conn_stale(void)
{
	if (xlb_trace)
		xlb_trace_out.conn_stale = 1;
}

static __always_inline void xlb_trace_backend(const void *be, __u32 backend_id)
{
	if (xlb_trace && be)
		xlb_trace_out.backend_id = backend_id;
}

#endif /* XLB_TRACE_H */
