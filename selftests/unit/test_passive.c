// SPDX-License-Identifier: GPL-2.0
/* The passive check's sliding window (passive.c), looked at once a second as lbd does. */
#include "passive.h"
#include "xt.h"

XT_DEFINE_STATE;

#define WINDOW_MS 10000

/*
 * Four retries two seconds apart count four wherever the window began. With
 * fixed 10 s windows from the first look (the old hc_passive()), a first look
 * at 1 s and retries at 9 s and 11 s counted two in each window, and 3/10s
 * never pulled the backend; CI lost passive/passive_pulls_dropping_backend so.
 */
static void retries_across_a_boundary_add_up(void)
{
	for (uint64_t first = 0; first < WINDOW_MS; first += 500) {
		struct passive_window w = { 0 };
		uint64_t counter = 7, most = 0;

		XT_EQ(passive_count(&w, counter, WINDOW_MS, first), 0);
		for (uint64_t now = first + 1000; now <= first + 30000; now += 1000) {
			uint64_t seen;

			if (now == first + 8000 || now == first + 10000)
				counter += 2;
			seen = passive_count(&w, counter, WINDOW_MS, now);
			most = seen > most ? seen : most;
		}
		XT_TRUE(most == 4, "first look at %llu ms: at most %llu of 4 retries seen at once",
			(unsigned long long)first, (unsigned long long)most);
	}
}

/* Retries further apart than the window never add up: two now and two 12 s later count two each. */
static void retries_older_than_the_window_drop_out(void)
{
	struct passive_window w = { 0 };
	uint64_t counter = 0;

	passive_count(&w, counter, WINDOW_MS, 1000);
	counter += 2;
	XT_EQ(passive_count(&w, counter, WINDOW_MS, 2000), 2);
	for (uint64_t now = 3000; now < 14000; now += 1000)
		passive_count(&w, counter, WINDOW_MS, now);
	counter += 2;
	XT_EQ(passive_count(&w, counter, WINDOW_MS, 14000), 2);
	/* A long silence (lbd stopped, a VIP without traffic) empties the whole ring. */
	XT_EQ(passive_count(&w, counter, WINDOW_MS, 3600000), 0);
}

/* What the counter held before the first look, or before it went back (a reused backend id), is not now. */
static void starts_from_the_first_look(void)
{
	struct passive_window w = { 0 };

	XT_EQ(passive_count(&w, 500, WINDOW_MS, 1000), 0);
	XT_EQ(passive_count(&w, 501, WINDOW_MS, 2000), 1);
	XT_EQ(passive_count(&w, 3, WINDOW_MS, 3000), 0);
	XT_EQ(passive_count(&w, 5, WINDOW_MS, 4000), 2);
	/* A new window length (vip set --passive) starts over too. */
	XT_EQ(passive_count(&w, 9, 60000, 5000), 0);
	XT_EQ(passive_count(&w, 10, 60000, 6000), 1);
}

/* Spent retries (the backend was pulled, or was out) do not count again; new ones do. */
static void forgotten_retries_stay_spent(void)
{
	struct passive_window w = { 0 };

	passive_count(&w, 0, WINDOW_MS, 0);
	XT_EQ(passive_count(&w, 3, WINDOW_MS, 1000), 3);
	passive_forget(&w);
	XT_EQ(passive_count(&w, 3, WINDOW_MS, 2000), 0);
	XT_EQ(passive_count(&w, 4, WINDOW_MS, 3000), 1);
}

/* A counter past 2^32 within a slice saturates the slice, not wraps it to a small count. */
static void huge_gains_saturate(void)
{
	struct passive_window w = { 0 };

	passive_count(&w, 0, WINDOW_MS, 0);
	XT_EQ(passive_count(&w, 1ULL << 33, WINDOW_MS, 1000), UINT32_MAX);
	XT_EQ(passive_count(&w, (1ULL << 33) + 1, WINDOW_MS, 1000), UINT32_MAX);
}

int main(void)
{
	static const struct xt_case cases[] = {
		XT_CASE(retries_across_a_boundary_add_up),
		XT_CASE(retries_older_than_the_window_drop_out),
		XT_CASE(starts_from_the_first_look),
		XT_CASE(forgotten_retries_stay_spent),
		XT_CASE(huge_gains_saturate),
	};

	return xt_run("passive_window", cases, sizeof(cases) / sizeof(cases[0]));
}
