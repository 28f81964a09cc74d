// SPDX-License-Identifier: GPL-2.0
#include "feedback.h"

void fb_sample(struct fb_state *s, double metric)
{
	if (metric < 0)
		return;
	s->smoothed = s->have ? FB_ALPHA * metric + (1 - FB_ALPHA) * s->smoothed : metric;
	s->have = true;
}

uint32_t fb_wanted_pct(const struct fb_state *s, double best, double floor)
{
	double ratio;
	uint32_t pct;

	if (best < floor)
		best = floor;
	if (!s->have || s->smoothed <= 0 || best <= 0 || best >= s->smoothed)
		return 100;
	ratio = best / s->smoothed;
	pct = (uint32_t)(ratio * 100) / FB_STEP_PCT * FB_STEP_PCT;
	return pct < FB_MIN_PCT ? FB_MIN_PCT : pct;
}

double fb_lower(double best, const struct fb_state *s)
{
	if (!s->have)
		return best;
	return best < 0 || s->smoothed < best ? s->smoothed : best;
}

uint32_t fb_pct(const struct fb_state *s)
{
	return s->pct ? s->pct : 100;
}

bool fb_may_change(uint64_t last_change_ms, uint64_t now_ms)
{
	return !last_change_ms || now_ms - last_change_ms >= FB_INTERVAL_MS;
}

bool fb_step(struct fb_state *s, uint32_t wanted, uint64_t now_ms)
{
	uint32_t now = fb_pct(s), next = wanted;

	if (wanted == now)
		return false;
	if (next > now + FB_MAX_MOVE_PCT)
		next = now + FB_MAX_MOVE_PCT;
	if (next + FB_MAX_MOVE_PCT < now)
		next = now - FB_MAX_MOVE_PCT;
	s->pct = next;
	s->changed_ms = now_ms;
	return true;
}
