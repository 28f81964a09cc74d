/* SPDX-License-Identifier: GPL-2.0 */
/*
 * lbctl trace: what the data plane does with a flow now, and why. The
 * answer is the program's own: a trace instance of it (bpf/include/trace.h),
 * sharing the attached program's maps, runs a frame of the flow through
 * BPF_PROG_TEST_RUN and records its decisions; this file builds the frame
 * and puts names to what the record says.
 */
#ifndef LBD_TRACE_H
#define LBD_TRACE_H

#include "config.h"
#include "ctlsrv.h"
#include "dataplane.h"
#include "health.h"
#include "out.h"

struct lbd_trace_ctx {
	struct lbd_dp *dp;
	const struct lbd_config *cfg;
	const struct hc *hc;
	lbd_shown_state_fn state;	/* lbd_shown_state: backend_state is what show says */
	void *state_ctx;
};

/* Runs a CMD_TRACE; a --file a piece a pass (cur). */
int lbd_trace(const struct lbd_trace_ctx *ctx, const struct lbd_cmd *cmd, struct out *o,
	      struct ctl_cursor *cur, char *err, size_t len);
/*
 * Loads the trace instance: at start, before the loop, because the
 * verifier's pass over the program takes longer than a pass of the loop
 * may (a first trace would load it there otherwise).
 */
int lbd_trace_open(struct lbd_dp *dp, char *err, size_t len);
/* Unloads the trace instance. */
void lbd_trace_close(void);

#endif
