/* SPDX-License-Identifier: GPL-2.0 */
/*
 * lbd's two clocks: monotonic for timers and deadlines, wall clock for the
 * "since" that lbctl shows.
 */
#ifndef LBD_CLOCK_H
#define LBD_CLOCK_H

#include <stdint.h>
#include <time.h>

static inline uint64_t lbd_clock_us(clockid_t id)
{
	struct timespec ts;

	clock_gettime(id, &ts);
	return (uint64_t)ts.tv_sec * 1000000 + (uint64_t)ts.tv_nsec / 1000;
}

static inline uint64_t lbd_mono_us(void) { return lbd_clock_us(CLOCK_MONOTONIC); }
static inline uint64_t lbd_mono_ms(void) { return lbd_clock_us(CLOCK_MONOTONIC) / 1000; }
static inline uint64_t lbd_wall_ms(void) { return lbd_clock_us(CLOCK_REALTIME) / 1000; }

#endif
