// SPDX-License-Identifier: GPL-2.0
/* Feedback weights (feedback.c): smoothing, quantizing, and the bounds on how the share in force moves. */
#include <stdio.h>

#include "feedback.h"
#include "xt.h"

XT_DEFINE_STATE;

/* A backend twice as slow as the best asks for half its share; one as fast, all of it; none below the floor. */
static void share_follows_the_metric(void)
{
	struct fb_state s = { 0 };

	XT_EQ(fb_wanted_pct(&s, 1000, 0), 100);
	fb_sample(&s, 2000);
	XT_EQ(fb_wanted_pct(&s, 1000, 0), 50);
	XT_EQ(fb_wanted_pct(&s, 2000, 0), 100);
	XT_EQ(fb_wanted_pct(&s, 1, 0), FB_MIN_PCT);
	/* 1000 / 1400 = 71.4%: quantized down to 70. */
	s.smoothed = 1400;
	XT_EQ(fb_wanted_pct(&s, 1000, 0), 70);
	/* Under the floor differences are noise: 300 against 400 with a floor of 2000 is no difference. */
	s.smoothed = 400;
	XT_EQ(fb_wanted_pct(&s, 300, 2000), 100);
	s.smoothed = 4000;
	XT_EQ(fb_wanted_pct(&s, 300, 2000), 50);
}

/* One sample moves the smoothed metric by FB_ALPHA of the way: a spike does not swing the share. */
static void samples_are_smoothed(void)
{
	struct fb_state s = { 0 };

	fb_sample(&s, 1000);
	fb_sample(&s, 11000);
	XT_TRUE(s.smoothed > 5999 && s.smoothed < 6001, "smoothed %f after 1000 and 11000", s.smoothed);
}

/*
 * The VIP's best is the lowest metric, whatever the order of its backends:
 * two idle ones (0 bytes a second) before a busy one left the busy one as
 * the best once, because a best of 0 read as none yet, and nothing moved.
 */
static void best_is_lowest_in_any_order(void)
{
	static const double orders[3][3] = { { 4e6, 0, 0 }, { 0, 4e6, 0 }, { 0, 0, 4e6 } };

	for (int o = 0; o < 3; o++) {
		struct fb_state s[3] = { 0 };
		double best = -1;

		for (int j = 0; j < 3; j++) {
			fb_sample(&s[j], orders[o][j]);
			best = fb_lower(best, &s[j]);
		}
		XT_TRUE(best == 0, "order %d: best %f, not the idle backends' 0", o, best);
		for (int j = 0; j < 3; j++)
			XT_EQ(fb_wanted_pct(&s[j], best, 1e6), orders[o][j] > 0 ? 25 : 100);
	}
	/* One without a metric is not a best: nothing yet, then the first metric. */
	struct fb_state none = { 0 }, one = { 0 };

	XT_TRUE(fb_lower(-1, &none) < 0, "none yet stays none");
	fb_sample(&one, 7);
	XT_TRUE(fb_lower(fb_lower(-1, &none), &one) == 7, "the first metric is the best");
}

/* The share in force moves at most FB_MAX_MOVE_PCT a change, and a VIP's shares once per FB_INTERVAL_MS. */
static void share_moves_bounded(void)
{
	struct fb_state s = { 0 };
	uint64_t t = 100000, last = 0;
	int changes = 0;

	XT_TRUE(fb_may_change(0, t), "a VIP that never changed may");
	XT_TRUE(fb_step(&s, 10, t), "the first change");
	XT_EQ(fb_pct(&s), 75);
	XT_TRUE(!fb_may_change(t, t + FB_INTERVAL_MS - 1), "a second change within the interval");
	XT_TRUE(fb_may_change(t, t + FB_INTERVAL_MS), "a change after the interval");
	XT_TRUE(fb_step(&s, 60, t + FB_INTERVAL_MS), "to 60");
	XT_EQ(fb_pct(&s), 60);
	XT_TRUE(!fb_step(&s, 60, t + 3 * FB_INTERVAL_MS), "no change when it is where it is wanted");
	XT_TRUE(fb_step(&s, 100, t + 4 * FB_INTERVAL_MS), "up again");
	XT_EQ(fb_pct(&s), 85);
	/* A metric flapping every 100 ms between two shares, stepped as lbd does: one change an interval at most. */
	for (uint64_t ms = 0; ms < 20000; ms += 100) {
		uint64_t now = t + 5 * FB_INTERVAL_MS + ms;

		if (fb_may_change(last, now) && fb_step(&s, (ms / 100) % 2 ? 100 : 50, now)) {
			changes++;
			last = now;
		}
	}
	XT_TRUE(changes >= 1 && changes <= 20000 / FB_INTERVAL_MS, "%d changes in 20 s of flapping", changes);
}

int main(void)
{
	static const struct xt_case cases[] = {
		XT_CASE(share_follows_the_metric),
		XT_CASE(samples_are_smoothed),
		XT_CASE(share_moves_bounded),
		XT_CASE(best_is_lowest_in_any_order),
	};

	return xt_run("feedback", cases, sizeof(cases) / sizeof(cases[0]));
}
