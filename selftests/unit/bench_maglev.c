// SPDX-License-Identifier: GPL-2.0
/* Time to build a 65537-slot Maglev table for 10, 100 and 1000 backends (median of 7). */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "maglev.h"

static double now_ms(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return ts.tv_sec * 1e3 + ts.tv_nsec / 1e6;
}

static int cmp(const void *a, const void *b)
{
	double x = *(const double *)a, y = *(const double *)b;

	return x < y ? -1 : x > y;
}

int main(void)
{
	static const size_t sizes[] = { 10, 100, 1000 };
	uint32_t *table = malloc(XLB_RING_DEFAULT * sizeof(uint32_t));

	for (size_t s = 0; s < 3; s++) {
		size_t n = sizes[s];
		struct maglev_backend *b = calloc(n, sizeof(*b));
		double runs[7];

		for (size_t i = 0; i < n; i++) {
			b[i].id = (uint32_t)i + 1;
			b[i].weight = 1;
			b[i].key[0] = 2;
			memcpy(&b[i].key[4], &i, sizeof(i));
		}
		for (int r = 0; r < 7; r++) {
			double t0 = now_ms();

			maglev_build(b, n, table, XLB_RING_DEFAULT);
			runs[r] = now_ms() - t0;
		}
		qsort(runs, 7, sizeof(double), cmp);
		printf("maglev_build m=%u n=%zu: %.2f ms\n", XLB_RING_DEFAULT, n, runs[3]);
		free(b);
	}
	free(table);
	return 0;
}
