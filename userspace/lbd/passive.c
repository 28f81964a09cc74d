// SPDX-License-Identifier: GPL-2.0
#include "passive.h"

#include <string.h>

#define PASSIVE_RING (PASSIVE_SLICES + 1)

void passive_forget(struct passive_window *w)
{
	memset(w->count, 0, sizeof(w->count));
}

uint64_t passive_count(struct passive_window *w, uint64_t counter, uint32_t window_ms, uint64_t now_ms)
{
	uint32_t slice_ms = window_ms / PASSIVE_SLICES ? window_ms / PASSIVE_SLICES : 1;
	uint64_t slice = now_ms / slice_ms, gained, total = 0;
	uint32_t *now_slice;

	if (w->slice_ms != slice_ms || counter < w->last || slice < w->newest) {
		passive_forget(w);
		w->slice_ms = slice_ms;
		w->last = counter;
		w->newest = slice;
		return 0;
	}
	/* The slices time has passed since the last look start empty; past a whole ring, all of them do. */
	for (uint64_t s = w->newest + 1; s <= slice && s <= w->newest + PASSIVE_RING; s++)
		w->count[s % PASSIVE_RING] = 0;
	w->newest = slice;
	gained = counter - w->last;
	w->last = counter;
	now_slice = &w->count[slice % PASSIVE_RING];
	*now_slice = gained > UINT32_MAX - *now_slice ? UINT32_MAX : *now_slice + (uint32_t)gained;
	for (int i = 0; i < PASSIVE_RING; i++)
		total += w->count[i];
	return total;
}
