// SPDX-License-Identifier: GPL-2.0
/*
 * Time to build a 65537-slot Maglev table for 10, 100 and 1000 backends of
 * equal weight, median of RUNS builds; then 1000 backends with one weight
 * far above the rest, the case a naive round loop is slowest on.
 */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "maglev.h"

#define RUNS 7

static double now_ms(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return ts.tv_sec * 1e3 + ts.tv_nsec / 1e6;
}

static int cmp_double(const void *a, const void *b)
{
	double x = *(const double *)a, y = *(const double *)b;

	return x < y ? -1 : x > y;
}

/* Median build time in ms, or a negative errno. */
static double bench(const struct maglev_backend *b, size_t n, uint32_t *table, uint32_t m)
{
	double runs[RUNS];

	for (int r = 0; r < RUNS; r++) {
		double t0 = now_ms();
		int ret = maglev_build(b, n, table, m);

		if (ret)
			return ret;
		runs[r] = now_ms() - t0;
	}
	qsort(runs, RUNS, sizeof(runs[0]), cmp_double);
	return runs[RUNS / 2];
}

/* Backend i is 10.x.y.z, keyed as lbd keys it: family, then the address. */
static struct maglev_backend *make_backends(size_t n)
{
	struct maglev_backend *b = calloc(n, sizeof(*b));

	for (size_t i = 0; b && i < n; i++) {
		b[i].id = (uint32_t)i + 1;
		b[i].weight = 1;
		b[i].key[0] = XLB_AF_INET;
		b[i].key[4] = 10;
		b[i].key[5] = (uint8_t)(i >> 16);
		b[i].key[6] = (uint8_t)(i >> 8);
		b[i].key[7] = (uint8_t)i;
	}
	return b;
}

int main(void)
{
	static const size_t sizes[] = { 10, 100, 1000 };
	const uint32_t m = XLB_RING_DEFAULT;
	uint32_t *table = malloc(m * sizeof(*table));
	struct maglev_backend *b = make_backends(1000);
	double ms;

	if (!table || !b) {
		fprintf(stderr, "bench_maglev: out of memory\n");
		return 1;
	}
	for (size_t s = 0; s < sizeof(sizes) / sizeof(sizes[0]); s++) {
		ms = bench(b, sizes[s], table, m);
		if (ms < 0) {
			fprintf(stderr, "maglev_build: %s\n", strerror((int)-ms));
			return 1;
		}
		printf("maglev_build m=%u n=%zu: %.2f ms\n", m, sizes[s], ms);
	}
	b[0].weight = 1000000;
	ms = bench(b, 1000, table, m);
	if (ms < 0) {
		fprintf(stderr, "maglev_build: %s\n", strerror((int)-ms));
		return 1;
	}
	printf("maglev_build m=%u n=1000 (one weight 1000000, others 1): %.2f ms\n", m, ms);
	free(b);
	free(table);
	return 0;
}
