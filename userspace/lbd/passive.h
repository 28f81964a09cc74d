/* SPDX-License-Identifier: GPL-2.0 */
/*
 * The passive check's count: how many SYNs clients sent again to a backend
 * within the last window, from a counter the data plane only ever raises
 * and lbd reads once a second. A sliding window, not fixed ones: four
 * retries in two seconds that straddle the end of a fixed window count two
 * and two, and N of them never pull the backend. The window is kept in
 * slices of an eighth, so what is counted is every retry of the last
 * window and at most a slice (or the second between looks) before it.
 */
#ifndef XLB_PASSIVE_H
#define XLB_PASSIVE_H

#include <stdint.h>

#define PASSIVE_SLICES 8

struct passive_window {
	uint64_t last;		/* the counter at the last look */
	uint64_t newest;	/* the slice (now_ms / slice_ms) of the last look */
	uint32_t slice_ms;	/* 0 before the first look */
	/* one more than PASSIVE_SLICES: the newest is only partly over */
	uint32_t count[PASSIVE_SLICES + 1];
};

/*
 * Takes what counter gained since the last look into the window and returns
 * the retries within it. The first look, a new window length or a counter
 * that went back (the backend's id was reused) start from nothing: what the
 * counter held before lbd looked is no sign of now.
 */
uint64_t passive_count(struct passive_window *w, uint64_t counter, uint32_t window_ms, uint64_t now_ms);
/* Once the retries have pulled the backend, or while it is out, they are spent: none count again. */
void passive_forget(struct passive_window *w);

#endif
