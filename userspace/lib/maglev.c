// SPDX-License-Identifier: GPL-2.0
/*
 * Weighted Maglev table builder.
 *
 * The paper fills the table in rounds: each backend in turn takes its next
 * preferred slot that is still free. For weights we give every backend
 * "weight" credit per round and let it take a slot whenever its credit
 * reaches the largest weight, so a backend of weight w takes a slot in a
 * fraction w / max_weight of the rounds.
 *
 * Walking every backend in every round costs O(rounds * n). With weights
 * of one size that is O(m): every visit claims a slot. When one weight
 * dwarfs the others nearly every visit is a no-op, so there we compute the
 * round of each backend's next claim and take claims from a min-heap in
 * (round, position in key order) order instead: the same sequence of
 * claims, for O(m log n). Both give the same table; only the cost differs.
 */
#include "maglev.h"

#include <errno.h>
#include <stdlib.h>
#include <string.h>

#ifndef MG_ROUNDS_MAX_SKEW
#define MG_ROUNDS_MAX_SKEW 64
#endif
#define FNV64_OFFSET	0xcbf29ce484222325ull
#define FNV64_PRIME	0x100000001b3ull
/* Two unrelated seeds, so offset and skip are independent functions of the key. */
#define SEED_OFFSET	0x6f66667365743a31ull
#define SEED_SKIP	0x736b69703a32a5c3ull

bool maglev_is_prime(uint32_t m)
{
	if (m < 2)
		return false;
	if (m < 4)
		return true;
	if (m % 2 == 0 || m % 3 == 0)
		return false;
	for (uint32_t d = 5; (uint64_t)d * d <= m; d += 6)
		if (m % d == 0 || m % (d + 2) == 0)
			return false;
	return true;
}

/* splitmix64's finaliser: FNV alone leaves the high bits of similar keys correlated. */
static uint64_t mix64(uint64_t h)
{
	h ^= h >> 30;
	h *= 0xbf58476d1ce4e5b9ull;
	h ^= h >> 27;
	h *= 0x94d049bb133111ebull;
	return h ^ (h >> 31);
}

/* Byte by byte, so the result is the same on every host whatever its endianness. */
static uint64_t key_hash(const uint8_t *key, uint64_t seed)
{
	uint64_t h = FNV64_OFFSET ^ seed;

	for (size_t i = 0; i < MAGLEV_KEY_LEN; i++) {
		h ^= key[i];
		h *= FNV64_PRIME;
	}
	return mix64(h);
}

int maglev_permutation(const uint8_t key[MAGLEV_KEY_LEN], uint32_t m, uint32_t *offset,
		       uint32_t *skip)
{
	if (m < 2 || !key || !offset || !skip)
		return -EINVAL;
	*offset = (uint32_t)(key_hash(key, SEED_OFFSET) % m);
	*skip = (uint32_t)(key_hash(key, SEED_SKIP) % (m - 1) + 1);
	return 0;
}

static int by_key(const void *a, const void *b)
{
	const struct maglev_backend *x = *(const struct maglev_backend *const *)a;
	const struct maglev_backend *y = *(const struct maglev_backend *const *)b;

	return memcmp(x->key, y->key, MAGLEV_KEY_LEN);
}

struct mg_perm {
	uint64_t due;		/* heap: round in which the next claim falls */
	uint64_t credit;	/* rounds: weight earned, not yet spent on a slot */
	uint32_t pos;		/* (offset + next * skip) % m, kept incrementally */
	uint32_t skip;
	uint32_t claims;
	uint32_t weight;
	uint32_t id;
};

/*
 * The k-th claim (k >= 1) falls in the first round r with r * w >= k * max:
 * after r rounds the credit earned is r * w and each claim spends max.
 * k <= m < 2^17 and max < 2^32, so the product fits in 64 bits.
 */
static uint64_t claim_round(uint32_t k, uint32_t weight, uint32_t max_weight)
{
	return ((uint64_t)k * max_weight + weight - 1) / weight;
}

/* Ties in a round go in key order, as the round loop visits backends. */
static bool before(const struct mg_perm *p, size_t a, size_t b)
{
	return p[a].due < p[b].due || (p[a].due == p[b].due && a < b);
}

static void sift_down(const struct mg_perm *p, size_t *heap, size_t len, size_t i)
{
	for (;;) {
		size_t l = 2 * i + 1, r = l + 1, min = i, tmp;

		if (l < len && before(p, heap[l], heap[min]))
			min = l;
		if (r < len && before(p, heap[r], heap[min]))
			min = r;
		if (min == i)
			return;
		tmp = heap[i];
		heap[i] = heap[min];
		heap[min] = tmp;
		i = min;
	}
}

static bool slot_taken(const uint64_t *used, uint32_t slot)
{
	return used[slot / 64] >> (slot % 64) & 1;
}

/* Takes the backend's next free preferred slot; one exists while filled < m. */
static void claim(struct mg_perm *p, uint64_t *used, uint32_t *table, uint32_t m)
{
	/*
	 * skip and m are coprime, so the walk reaches every slot within m
	 * steps, and slots it passed stay taken: it never walks past m in total.
	 */
	while (slot_taken(used, p->pos)) {
		p->pos += p->skip;
		if (p->pos >= m)
			p->pos -= m;
	}
	used[p->pos / 64] |= 1ull << (p->pos % 64);
	table[p->pos] = p->id;
}

/* The paper's loop, one visit per backend per round. */
static void fill_rounds(struct mg_perm *perm, size_t live, uint64_t *used, uint32_t *table,
			uint32_t m, uint32_t max_weight)
{
	uint32_t filled = 0;

	while (filled < m) {
		for (size_t i = 0; i < live && filled < m; i++) {
			struct mg_perm *p = &perm[i];

			/* weight <= max_weight: credit never reaches 2 * max_weight. */
			p->credit += p->weight;
			if (p->credit >= max_weight) {
				p->credit -= max_weight;
				claim(p, used, table, m);
				filled++;
			}
		}
	}
}

/* The same claims, but only visiting the backend whose claim comes next. */
static void fill_heap(struct mg_perm *perm, size_t *heap, size_t live, uint64_t *used,
		      uint32_t *table, uint32_t m, uint32_t max_weight)
{
	for (size_t i = 0; i < live; i++) {
		perm[i].due = claim_round(1, perm[i].weight, max_weight);
		heap[i] = i;
	}
	for (size_t i = live / 2; i-- > 0;)
		sift_down(perm, heap, live, i);

	/* Every claim fills one slot, so exactly m claims fill the table. */
	for (uint32_t filled = 0; filled < m; filled++) {
		struct mg_perm *p = &perm[heap[0]];

		claim(p, used, table, m);
		p->claims++;
		p->due = claim_round(p->claims + 1, p->weight, max_weight);
		sift_down(perm, heap, live, 0);
	}
}

int maglev_build(const struct maglev_backend *backends, size_t n, uint32_t *table, uint32_t m)
{
	const struct maglev_backend **order = NULL;
	struct mg_perm *perm = NULL;
	uint64_t *used = NULL;
	size_t *heap = NULL, live = 0;
	uint64_t sum_weight = 0;
	uint32_t max_weight = 0;
	int ret = -EINVAL;

	if (m < XLB_RING_MIN || m > XLB_RING_MAX || !maglev_is_prime(m) || !table ||
	    (n && !backends))
		return -EINVAL;

	/*
	 * Everything that can fail happens before the table is touched, so a
	 * caller that gets an error still holds its previous table.
	 */
	if (n) {
		order = calloc(n, sizeof(*order));
		perm = calloc(n, sizeof(*perm));
		heap = calloc(n, sizeof(*heap));
		used = calloc((m + 63) / 64, sizeof(*used));
		if (!order || !perm || !heap || !used) {
			ret = -ENOMEM;
			goto out;
		}
		for (size_t i = 0; i < n; i++)
			order[i] = &backends[i];
		/* Key order, not input order, is what two balancers agree on. */
		qsort(order, n, sizeof(*order), by_key);
		for (size_t i = 0; i < n; i++) {
			if (i && !by_key(&order[i - 1], &order[i]))
				goto out;
			if (!order[i]->weight)
				continue;
			if (order[i]->id == XLB_NO_BACKEND)
				goto out;
			if (order[i]->weight > max_weight)
				max_weight = order[i]->weight;
		}
	}

	for (uint32_t i = 0; i < m; i++)
		table[i] = XLB_NO_BACKEND;

	for (size_t i = 0; i < n; i++) {
		struct mg_perm *p = &perm[live];
		uint32_t offset, skip;

		if (!order[i]->weight)
			continue;
		maglev_permutation(order[i]->key, m, &offset, &skip);
		p->pos = offset;
		p->skip = skip;
		p->weight = order[i]->weight;
		p->id = order[i]->id;
		live++;
		/* Saturates rather than wraps: only fill's choice below reads it. */
		sum_weight = sum_weight + p->weight < sum_weight ? UINT64_MAX : sum_weight + p->weight;
	}

	/*
	 * The round loop makes about m * max_weight / sum_weight rounds of
	 * "live" visits each: max_weight / average weight visits per claim.
	 * A visit costs about a nanosecond, a sift of the heap 30 (n = 10) to
	 * 100 ns (n = 1000) as its branches mispredict. So rounds win up to
	 * a skew of about 64 (m = 65537, n = 1000: 2.5 ms equal weights, 4.3
	 * ms at skew 32, against 8-10 ms for the heap at any skew), and past it
	 * the heap bounds the cost, which the round loop does not.
	 */
	if (live && max_weight <= MG_ROUNDS_MAX_SKEW * (sum_weight / live))
		fill_rounds(perm, live, used, table, m, max_weight);
	else if (live)
		fill_heap(perm, heap, live, used, table, m, max_weight);
	ret = 0;
out:
	free(order);
	free(perm);
	free(heap);
	free(used);
	return ret;
}

uint32_t maglev_slots(const uint32_t *table, uint32_t m, const uint32_t *old, uint32_t old_m,
		      uint32_t *slots)
{
	uint32_t moved = 0;

	for (uint32_t i = 0; i < m; i++) {
		uint32_t id = table[i] == XLB_NO_BACKEND ? XLB_SLOT_NONE : table[i];
		uint32_t was = old && old_m == m ? old[i] : XLB_SLOT_NONE;

		if (old && old_m != m)
			was = XLB_SLOT_MOVED | XLB_SLOT_NONE << 16 | XLB_SLOT_NONE;
		moved += XLB_SLOT_ID(was) != id && XLB_SLOT_ID(was) != XLB_SLOT_NONE;
		if (was & XLB_SLOT_MOVED)
			slots[i] = id | (was & ~XLB_SLOT_NONE);	/* the mark, FRESH and the first backend */
		else if (XLB_SLOT_ID(was) == id || XLB_SLOT_ID(was) == XLB_SLOT_NONE)
			slots[i] = id;	/* unchanged, or nothing could be on it */
		else
			slots[i] = id | XLB_SLOT_MOVED | XLB_SLOT_FRESH | XLB_SLOT_ID(was) << 16;
	}
	return moved;
}

uint32_t maglev_fresh_expire(uint32_t *slots, const uint32_t *moved_at, uint32_t m, uint32_t now,
			     uint32_t window)
{
	uint32_t fresh = 0;

	for (uint32_t i = 0; i < m; i++) {
		if (!(slots[i] & XLB_SLOT_FRESH))
			continue;
		if (moved_at && now - moved_at[i] > window)
			slots[i] &= ~XLB_SLOT_FRESH;
		else
			fresh++;
	}
	return fresh;
}
