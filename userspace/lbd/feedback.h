/* SPDX-License-Identifier: GPL-2.0 */
/*
 * Feedback-weighted Maglev (weights latency|bandwidth): each backend's
 * share follows a metric where lower is better (its checks' latency, the
 * bytes a second the data plane sent it), while the ring stays consistent
 * and stateless. A noisy metric must not thrash the ring, so the metric is
 * smoothed, the share it asks for is quantized, and the share in force
 * moves at most once an interval and by at most a bounded step: what one
 * change moves is bounded, and the moved-slot mechanism keeps the flows of
 * the slots it moves. Pure arithmetic: nodes fed the same metrics compute
 * the same weights.
 */
#ifndef LBD_FEEDBACK_H
#define LBD_FEEDBACK_H

#include <stdbool.h>
#include <stdint.h>

/* Shares are per cent of the configured weight, in steps of FB_STEP_PCT, never below FB_MIN_PCT. */
#define FB_STEP_PCT		5
#define FB_MIN_PCT		10
/* The most the share in force moves in one change. */
#define FB_MAX_MOVE_PCT		25
/* How often the share in force may change, at most. */
#define FB_INTERVAL_MS		5000
/* The weight of a new sample in the smoothed metric. */
#define FB_ALPHA		0.5

struct fb_state {
	double smoothed;	/* the metric, smoothed; valid once have */
	bool have;
	uint32_t pct;		/* the share in force; 0 until the first change sets it (100) */
	uint64_t changed_ms;	/* monotonic: when pct last changed */
};

/* A new sample of the backend's metric. */
void fb_sample(struct fb_state *s, double metric);
/*
 * The share the smoothed metric asks for against best (the lowest smoothed
 * metric of the VIP's backends that have one): best / smoothed, quantized
 * down to FB_STEP_PCT, at least FB_MIN_PCT; 100 without a metric. Below
 * floor metrics count as floor: 0.3 ms against 0.4 ms of latency is noise,
 * not a backend a quarter slower.
 */
uint32_t fb_wanted_pct(const struct fb_state *s, double best, double floor);
/*
 * Moves the share in force toward wanted, by at most FB_MAX_MOVE_PCT; true
 * when it changed. The caller allows it at most once per FB_INTERVAL_MS
 * for a VIP (fb_may_change()), so a VIP's table changes no oftener.
 */
bool fb_step(struct fb_state *s, uint32_t wanted, uint64_t now_ms);
/*
 * best folded with s's metric, for the VIP's best over its up backends:
 * the lower of the two, best < 0 standing for none yet. An idle backend's
 * 0 bytes a second is a metric, and the best one.
 */
double fb_lower(double best, const struct fb_state *s);
/* Has FB_INTERVAL_MS passed since last_change_ms (0: never changed)? */
bool fb_may_change(uint64_t last_change_ms, uint64_t now_ms);
/* The share in force (100 before any). */
uint32_t fb_pct(const struct fb_state *s);

#endif
