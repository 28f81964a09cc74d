// SPDX-License-Identifier: GPL-2.0
#include "maglev.h"

#include <errno.h>
#include <stdlib.h>
#include <string.h>

bool maglev_is_prime(uint32_t m)
{
	if (m < 2)
		return false;
	for (uint32_t d = 2; (uint64_t)d * d <= m; d++)
		if (m % d == 0)
			return false;
	return true;
}

/* FNV-1a over the key, then a splitmix64 finaliser: stable on every host and well mixed. */
static uint64_t key_hash(const uint8_t *key, uint64_t seed)
{
	uint64_t h = 0xcbf29ce484222325ull ^ seed;

	for (int i = 0; i < MAGLEV_KEY_LEN; i++) {
		h ^= key[i];
		h *= 0x100000001b3ull;
	}
	h ^= h >> 30;
	h *= 0xbf58476d1ce4e5b9ull;
	h ^= h >> 27;
	h *= 0x94d049bb133111ebull;
	return h ^ (h >> 31);
}

static int by_key(const void *a, const void *b)
{
	return memcmp(((const struct maglev_backend *)a)->key, ((const struct maglev_backend *)b)->key,
		      MAGLEV_KEY_LEN);
}

struct perm {
	uint64_t offset, skip, next;	/* the j-th choice is (offset + j * skip) % m */
	uint64_t credit;
	uint32_t id, weight;
};

int maglev_build(const struct maglev_backend *backends, size_t n, uint32_t *table, uint32_t m)
{
	struct maglev_backend *sorted;
	struct perm *p;
	uint32_t filled = 0, max_weight = 0;
	size_t live = 0;

	if (m < XLB_RING_MIN || m > XLB_RING_MAX || !maglev_is_prime(m) || (n && !backends) || !table)
		return -EINVAL;
	for (uint32_t i = 0; i < m; i++)
		table[i] = XLB_NO_BACKEND;
	if (!n)
		return 0;

	/* Sorting by key is what makes the table independent of the input order. */
	sorted = malloc(n * sizeof(*sorted));
	p = calloc(n, sizeof(*p));
	if (!sorted || !p) {
		free(sorted);
		free(p);
		return -ENOMEM;
	}
	memcpy(sorted, backends, n * sizeof(*sorted));
	qsort(sorted, n, sizeof(*sorted), by_key);
	for (size_t i = 0; i < n; i++) {
		if (i && !by_key(&sorted[i - 1], &sorted[i])) {
			free(sorted);
			free(p);
			return -EINVAL;
		}
		if (!sorted[i].weight)
			continue;
		p[live].offset = key_hash(sorted[i].key, 0x6d61676c) % m;
		p[live].skip = key_hash(sorted[i].key, 0x65763121) % (m - 1) + 1;
		p[live].id = sorted[i].id;
		p[live].weight = sorted[i].weight;
		if (sorted[i].weight > max_weight)
			max_weight = sorted[i].weight;
		live++;
	}
	free(sorted);

	/*
	 * Rounds: each backend earns its weight in credit, and claims its next
	 * free preferred slot whenever its credit reaches the largest weight.
	 * Equal weights reduce to the paper's one slot per backend per round.
	 */
	while (live && filled < m) {
		for (size_t i = 0; i < live && filled < m; i++) {
			p[i].credit += p[i].weight;
			while (p[i].credit >= max_weight && filled < m) {
				uint64_t slot;

				do {
					slot = (p[i].offset + p[i].next * p[i].skip) % m;
					p[i].next++;
				} while (table[slot] != XLB_NO_BACKEND);
				table[slot] = p[i].id;
				filled++;
				p[i].credit -= max_weight;
			}
		}
	}
	free(p);
	return 0;
}
