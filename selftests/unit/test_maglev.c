// SPDX-License-Identifier: GPL-2.0
/*
 * The Maglev table builder: balance, weights, disruption on removal and
 * addition, independence from input order and ids, agreement with the
 * paper's round loop, bad input.
 */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "maglev.h"
#include "xt.h"

XT_DEFINE_STATE;

#define M XLB_RING_DEFAULT

/* A fixed generator, so every libc draws the same shuffles. */
static uint64_t rng_state = 0x9e3779b97f4a7c15ull;

static uint32_t rng(uint32_t bound)
{
	rng_state ^= rng_state << 13;
	rng_state ^= rng_state >> 7;
	rng_state ^= rng_state << 17;
	return (uint32_t)(rng_state % bound);
}

static uint32_t *new_table(uint32_t m)
{
	uint32_t *t = malloc(m * sizeof(*t));

	if (!t) {
		perror("malloc");
		exit(1);
	}
	return t;
}

/* Backend i is 198.18.x.y as lbd keys it (family, then the address); ids first_id + i. */
static void make_backends(struct maglev_backend *b, size_t n, uint32_t first_id)
{
	memset(b, 0, n * sizeof(*b));
	for (size_t i = 0; i < n; i++) {
		b[i].id = first_id + (uint32_t)i;
		b[i].weight = 1;
		b[i].key[0] = XLB_AF_INET;
		b[i].key[4] = 198;
		b[i].key[5] = 18;
		b[i].key[6] = (uint8_t)(2 + i / 256);
		b[i].key[7] = (uint8_t)(i % 256);
	}
}

/* 2001:db8::i: keys that differ only in the last bytes. */
static void make_backends6(struct maglev_backend *b, size_t n, uint32_t first_id)
{
	static const uint8_t pfx[] = { 0x20, 0x01, 0x0d, 0xb8 };

	memset(b, 0, n * sizeof(*b));
	for (size_t i = 0; i < n; i++) {
		b[i].id = first_id + (uint32_t)i;
		b[i].weight = 1;
		b[i].key[0] = XLB_AF_INET6;
		memcpy(&b[i].key[4], pfx, sizeof(pfx));
		b[i].key[18] = (uint8_t)(i / 256);
		b[i].key[19] = (uint8_t)(i % 256);
	}
}

/* counts[id] for ids 0..max_id; returns the slots holding anything else. */
static uint32_t slot_counts(const uint32_t *table, uint32_t m, uint32_t *counts, uint32_t max_id)
{
	uint32_t stray = 0;

	memset(counts, 0, (max_id + 1) * sizeof(*counts));
	for (uint32_t i = 0; i < m; i++) {
		if (table[i] <= max_id)
			counts[table[i]]++;
		else
			stray++;
	}
	return stray;
}

static double min_max_ratio(const uint32_t *counts, uint32_t first, uint32_t last)
{
	uint32_t lo = UINT32_MAX, hi = 0;

	for (uint32_t id = first; id <= last; id++) {
		lo = counts[id] < lo ? counts[id] : lo;
		hi = counts[id] > hi ? counts[id] : hi;
	}
	return lo ? (double)hi / lo : 1e9;
}

static void balance_equal_weights(void)
{
	struct maglev_backend b[100];
	uint32_t *t = new_table(M), counts[101];
	double r4, r6;

	make_backends(b, 100, 1);
	if (!XT_EQ(maglev_build(b, 100, t, M), 0))
		goto out;
	XT_EQ(slot_counts(t, M, counts, 100), 0);
	XT_EQ(counts[0], 0);
	r4 = min_max_ratio(counts, 1, 100);

	/* Keys that differ only in their last bytes must spread as well. */
	make_backends6(b, 100, 1);
	if (!XT_EQ(maglev_build(b, 100, t, M), 0))
		goto out;
	XT_EQ(slot_counts(t, M, counts, 100), 0);
	r6 = min_max_ratio(counts, 1, 100);

	printf("  balance n=100 m=%u: max/min slots %.4f (IPv4 keys), %.4f (IPv6 keys)\n", M, r4, r6);
	XT_LE(r4, 1.02);
	XT_LE(r6, 1.02);
out:
	free(t);
}

static void weights_respected(void)
{
	struct maglev_backend b[10];
	uint32_t *t = new_table(M), counts[11];
	double others = 0, ratio;

	make_backends(b, 10, 1);
	b[3].weight = 2;
	if (!XT_EQ(maglev_build(b, 10, t, M), 0))
		goto out;
	XT_EQ(slot_counts(t, M, counts, 10), 0);
	for (uint32_t id = 1; id <= 10; id++)
		if (id != 4)
			others += counts[id];
	others /= 9;
	ratio = counts[4] / others;
	printf("  weights: weight-2 backend %u slots, weight-1 average %.1f, ratio %.4f\n", counts[4],
	       others, ratio);
	XT_GE(ratio, 2 * 0.98);
	XT_LE(ratio, 2 * 1.02);
out:
	free(t);
}

/*
 * Weights 1..5 and 1..60: every backend's share within 2% of weight / total
 * weight, give or take the one slot that rounding costs a small share.
 */
static void weights_proportional(void)
{
	static const uint32_t spans[] = { 5, 60 };
	struct maglev_backend b[60];
	uint32_t *t = new_table(M), counts[61];

	for (size_t s = 0; s < 2; s++) {
		double total = 0, worst = 0;

		make_backends(b, 60, 1);
		for (int i = 0; i < 60; i++) {
			b[i].weight = 1 + (uint32_t)i % spans[s];
			total += b[i].weight;
		}
		if (!XT_EQ(maglev_build(b, 60, t, M), 0))
			break;
		XT_EQ(slot_counts(t, M, counts, 60), 0);
		for (int i = 0; i < 60; i++) {
			double want = M * b[i].weight / total, err = counts[b[i].id] - want;

			err = err < 0 ? -err : err;
			worst = err / want > worst ? err / want : worst;
			XT_LE(err, 0.02 * want + 1);
		}
		printf("  weights 1..%u over 60 backends: worst share off by %.3f%%\n", spans[s],
		       100 * worst);
	}
	free(t);
}

/* Slots that change owner between two tables, leaving out those before[] gave to skip_id. */
static uint32_t moved(const uint32_t *before, const uint32_t *after, uint32_t m, uint32_t skip_id)
{
	uint32_t n = 0;

	for (uint32_t i = 0; i < m; i++)
		n += before[i] != after[i] && before[i] != skip_id;
	return n;
}

/*
 * Removing one of N backends must move its own slots (about 1/N), and
 * should leave the survivors' slots alone. Maglev does not promise the
 * latter: refilling shifts which slot each survivor reaches first, so a
 * few of their slots change hands too (the paper's section 5.3 trades
 * this for balance). With m = 65537, N = 100 we measure about 0.6% of
 * the table, and assert below 1/N: the collateral churn must stay smaller
 * than the unavoidable part, or the table is not "minimally disruptive".
 * The connection table keeps established flows in place regardless.
 */
static void removal_moves_about_one_nth(void)
{
	struct maglev_backend b[100], r[99];
	uint32_t *before = new_table(M), *after = new_table(M);
	double worst_other = 0, sum_other = 0, sum_lost = 0;
	int tries = 0;

	make_backends(b, 100, 1);
	if (!XT_EQ(maglev_build(b, 100, before, M), 0))
		goto out;
	for (size_t gone = 0; gone < 100; gone += 9, tries++) {
		uint32_t gone_id = b[gone].id, lost = 0, other;

		memcpy(r, b, gone * sizeof(*b));
		memcpy(&r[gone], &b[gone + 1], (99 - gone) * sizeof(*b));
		if (!XT_EQ(maglev_build(r, 99, after, M), 0))
			goto out;
		for (uint32_t i = 0; i < M; i++) {
			if (before[i] != gone_id)
				continue;
			lost++;
			if (!XT_TRUE(after[i] >= 1 && after[i] <= 100 && after[i] != gone_id,
				     "slot %u of the removed backend %u now holds %u", i, gone_id,
				     after[i]))
				goto out;
		}
		other = moved(before, after, M, gone_id);
		XT_GE((double)lost / M, 0.98 / 100);
		XT_LE((double)lost / M, 1.02 / 100);
		XT_LE((double)other / M, 1.0 / 100);
		sum_lost += (double)lost / M;
		sum_other += (double)other / M;
		worst_other = (double)other / M > worst_other ? (double)other / M : worst_other;
	}
	printf("  removal of 1 of 100 (%d tries): its own slots %.3f%% of the table; survivors' slots"
	       " moved: mean %.3f%%, worst %.3f%%; total moved mean %.3f%%\n",
	       tries, 100 * sum_lost / tries, 100 * sum_other / tries, 100 * worst_other,
	       100 * (sum_lost + sum_other) / tries);
out:
	free(before);
	free(after);
}

/* The mirror image: the newcomer takes about 1/(N+1), the others keep nearly all of theirs. */
static void addition_moves_about_one_nth(void)
{
	struct maglev_backend b[101];
	uint32_t *before = new_table(M), *after = new_table(M);
	double sum_gained = 0, sum_other = 0, worst_other = 0;
	int tries = 0;

	make_backends(b, 100, 1);
	if (!XT_EQ(maglev_build(b, 100, before, M), 0))
		goto out;
	for (int k = 0; k < 10; k++, tries++) {
		uint32_t gained = 0, other = 0;

		/* 198.18.9.k: a key none of the hundred has. */
		make_backends(&b[100], 1, 101);
		b[100].key[6] = 9;
		b[100].key[7] = (uint8_t)k;
		if (!XT_EQ(maglev_build(b, 101, after, M), 0))
			goto out;
		for (uint32_t i = 0; i < M; i++) {
			gained += after[i] == 101;
			other += before[i] != after[i] && after[i] != 101;
		}
		XT_GE((double)gained / M, 0.98 / 101);
		XT_LE((double)gained / M, 1.02 / 101);
		XT_LE((double)other / M, 1.0 / 101);
		sum_gained += (double)gained / M;
		sum_other += (double)other / M;
		worst_other = (double)other / M > worst_other ? (double)other / M : worst_other;
	}
	printf("  addition of 1 to 100 (%d tries): newcomer's slots %.3f%% of the table; moved between"
	       " the others: mean %.3f%%, worst %.3f%%; total moved mean %.3f%%\n",
	       tries, 100 * sum_gained / tries, 100 * sum_other / tries, 100 * worst_other,
	       100 * (sum_gained + sum_other) / tries);
out:
	free(before);
	free(after);
}

/*
 * Two balancers list the same backends in different orders and number
 * them differently: for every slot they must still name the same backend
 * (the same key), or a flow would land on different servers depending on
 * which balancer ECMP hands it to.
 */
static void order_and_ids_do_not_matter(void)
{
	enum { N = 40, ID_BASE = 500 };
	struct maglev_backend b[N], s[N], copy[N];
	uint32_t *ref = new_table(M), *t = new_table(M), ids[N];
	/* key_of[id - ID_BASE]: index into b[] of the backend that id names now */
	size_t key_of[N];

	make_backends(b, N, 1);
	for (int i = 0; i < N; i++)
		b[i].weight = 1 + (uint32_t)i % 4;
	if (!XT_EQ(maglev_build(b, N, ref, M), 0))
		goto out;
	for (int round = 0; round < 6; round++) {
		memcpy(s, b, sizeof(b));
		for (int i = N - 1; i > 0; i--) {
			uint32_t j = rng((uint32_t)i + 1);
			struct maglev_backend tmp = s[i];

			s[i] = s[j];
			s[j] = tmp;
		}
		/* Fresh ids in a random order, so id order and key order disagree. */
		for (int i = 0; i < N; i++)
			ids[i] = ID_BASE + (uint32_t)i;
		for (int i = N - 1; i > 0; i--) {
			uint32_t j = rng((uint32_t)i + 1), tmp = ids[i];

			ids[i] = ids[j];
			ids[j] = tmp;
		}
		for (int i = 0; i < N; i++) {
			/* s[i] came from b[s[i].id - 1]: remember that before renaming it. */
			key_of[ids[i] - ID_BASE] = s[i].id - 1;
			s[i].id = ids[i];
		}
		memcpy(copy, s, sizeof(s));
		if (!XT_EQ(maglev_build(s, N, t, M), 0))
			goto out;
		XT_MEM(s, copy, sizeof(s));
		for (uint32_t i = 0; i < M; i++) {
			if (!XT_TRUE(t[i] >= ID_BASE && t[i] < ID_BASE + N, "slot %u holds %u", i, t[i]))
				goto out;
			if (!XT_EQ(b[key_of[t[i] - ID_BASE]].id, ref[i]))
				goto out;
		}
	}
out:
	free(ref);
	free(t);
}

static int ref_by_key(const void *a, const void *b)
{
	return memcmp(((const struct maglev_backend *)a)->key, ((const struct maglev_backend *)b)->key,
		      MAGLEV_KEY_LEN);
}

/*
 * The scheme as the design states it, slow and literal: rounds over the
 * backends in key order, credit += weight, claim while credit >= max.
 */
static void ref_build(const struct maglev_backend *in, size_t n, uint32_t *table, uint32_t m)
{
	struct maglev_backend *b = calloc(n, sizeof(*b));
	uint64_t *credit = calloc(n, sizeof(*credit)), *next = calloc(n, sizeof(*next));
	uint32_t *off = calloc(n, sizeof(*off)), *skip = calloc(n, sizeof(*skip));
	uint32_t max = 0, filled = 0;

	if (!b || !credit || !next || !off || !skip) {
		perror("calloc");
		exit(1);
	}
	memcpy(b, in, n * sizeof(*b));
	qsort(b, n, sizeof(*b), ref_by_key);
	for (size_t i = 0; i < n; i++) {
		maglev_permutation(b[i].key, m, &off[i], &skip[i]);
		max = b[i].weight > max ? b[i].weight : max;
	}
	for (uint32_t i = 0; i < m; i++)
		table[i] = XLB_NO_BACKEND;
	while (max && filled < m) {
		for (size_t i = 0; i < n && filled < m; i++) {
			credit[i] += b[i].weight;
			while (credit[i] >= max && filled < m) {
				uint64_t slot;

				do
					slot = (off[i] + next[i]++ * (uint64_t)skip[i]) % m;
				while (table[slot] != XLB_NO_BACKEND);
				table[slot] = b[i].id;
				filled++;
				credit[i] -= max;
			}
		}
	}
	free(b);
	free(credit);
	free(next);
	free(off);
	free(skip);
}

static void matches_round_scheme(void)
{
	/*
	 * maglev_build walks rounds when weights are close and a heap when one
	 * dwarfs the rest (heavy): both must make the round loop's claims.
	 */
	static const struct {
		uint32_t m, n;
		uint32_t wmod;		/* weights cycle through 0..wmod-1; 0: all 1 */
		uint32_t heavy;		/* then backend 0 gets this weight, if not 0 */
	} cfgs[] = {
		{ 251, 7, 0, 0 },	{ 251, 300, 0, 0 },	{ 251, 300, 4, 0 },
		{ 4099, 50, 7, 0 },	{ 65537, 100, 0, 0 },	{ 65537, 100, 3, 0 },
		{ 65537, 37, 1000, 0 },	{ 131071, 20, 5, 0 },	{ 251, 300, 0, 100000 },
		{ 4099, 50, 3, 5000 },	{ 65537, 100, 0, 1000 }, { 65537, 1000, 0, 1000000 },
		{ 65537, 3, 0, UINT32_MAX }, { 65537, 1000, 8, 500 }, { 4099, 300, 5, 333 },
	};
	struct maglev_backend b[1000];
	uint32_t *t = new_table(XLB_RING_MAX), *r = new_table(XLB_RING_MAX);

	for (size_t c = 0; c < sizeof(cfgs) / sizeof(cfgs[0]); c++) {
		uint32_t m = cfgs[c].m, n = cfgs[c].n;

		make_backends(b, n, 1);
		for (uint32_t i = 0; cfgs[c].wmod && i < n; i++)
			b[i].weight = (i * 7919) % cfgs[c].wmod;
		if (cfgs[c].heavy)
			b[0].weight = cfgs[c].heavy;
		if (!XT_EQ(maglev_build(b, n, t, m), 0))
			continue;
		ref_build(b, n, r, m);
		for (uint32_t i = 0; i < m; i++)
			if (!XT_TRUE(t[i] == r[i],
				     "config %zu (m=%u n=%u): slot %u is %u, the round loop says %u",
				     c, m, n, i, t[i], r[i]))
				break;
	}
	free(t);
	free(r);
}

static bool all_empty(const uint32_t *t, uint32_t m)
{
	for (uint32_t i = 0; i < m; i++)
		if (t[i] != XLB_NO_BACKEND)
			return false;
	return true;
}

static void bad_input(void)
{
	struct maglev_backend b[3];
	uint32_t *t = new_table(XLB_RING_MAX);

	make_backends(b, 3, 1);
	XT_EQ(maglev_build(b, 3, t, 65536), -EINVAL);		/* not prime */
	XT_EQ(maglev_build(b, 3, t, 65535), -EINVAL);
	XT_EQ(maglev_build(b, 3, t, 241), -EINVAL);		/* prime, but under 251 */
	XT_EQ(maglev_build(b, 3, t, 2), -EINVAL);
	XT_EQ(maglev_build(b, 3, t, 0), -EINVAL);
	XT_EQ(maglev_build(b, 3, t, 131101), -EINVAL);		/* prime, but over 131071 */
	XT_EQ(maglev_build(b, 3, t, UINT32_MAX), -EINVAL);
	XT_EQ(maglev_build(NULL, 3, t, 251), -EINVAL);
	XT_EQ(maglev_build(b, 3, NULL, 251), -EINVAL);
	XT_EQ(maglev_build(b, 3, t, XLB_RING_MIN), 0);		/* both bounds are fine */
	XT_EQ(maglev_build(b, 3, t, XLB_RING_MAX), 0);

	/* Two backends, one identity; a failed build leaves the table alone. */
	t[0] = 12345;
	b[2] = b[1];
	b[2].id = 9;
	XT_EQ(maglev_build(b, 3, t, 251), -EINVAL);
	b[2].weight = 0;
	XT_EQ(maglev_build(b, 3, t, 251), -EINVAL);		/* even when one is weight 0 */
	XT_EQ(t[0], 12345);

	/* The sentinel cannot be an id: its slots would read as empty. */
	make_backends(b, 3, 1);
	b[1].id = XLB_NO_BACKEND;
	XT_EQ(maglev_build(b, 3, t, 251), -EINVAL);
	b[1].weight = 0;
	XT_EQ(maglev_build(b, 3, t, 251), 0);

	XT_EQ(maglev_build(b, 0, t, 251), 0);
	XT_TRUE(all_empty(t, 251), "n = 0 left a slot filled");
	t[0] = 1;
	XT_EQ(maglev_build(NULL, 0, t, 251), 0);
	XT_TRUE(all_empty(t, 251), "n = 0, backends NULL left a slot filled");
	make_backends(b, 3, 1);
	b[0].weight = b[1].weight = b[2].weight = 0;
	t[0] = 1;
	XT_EQ(maglev_build(b, 3, t, 251), 0);
	XT_TRUE(all_empty(t, 251), "weights all 0 left a slot filled");

	XT_EQ(maglev_permutation(b[0].key, 1, &t[0], &t[1]), -EINVAL);
	free(t);
}

static void primes(void)
{
	enum { LIMIT = 140000 };
	uint8_t *composite = calloc(LIMIT, 1);

	XT_TRUE(maglev_is_prime(251), "251");
	XT_TRUE(maglev_is_prime(65537), "65537");
	XT_TRUE(maglev_is_prime(131071), "131071");
	XT_TRUE(maglev_is_prime(2) && maglev_is_prime(3), "2, 3");
	XT_TRUE(maglev_is_prime(4294967291u), "4294967291, the largest 32-bit prime");
	XT_TRUE(!maglev_is_prime(0), "0");
	XT_TRUE(!maglev_is_prime(1), "1");
	XT_TRUE(!maglev_is_prime(65536), "65536");
	XT_TRUE(!maglev_is_prime(131073), "131073 = 3 * 43691");
	XT_TRUE(!maglev_is_prime(65521u * 65537u), "65521 * 65537");	/* square root near 2^16 */
	XT_TRUE(!maglev_is_prime(4294967295u), "2^32 - 1");

	/* And every number up to past XLB_RING_MAX against a sieve. */
	if (!XT_TRUE(composite, "calloc"))
		return;
	composite[0] = composite[1] = 1;
	for (uint32_t i = 2; i * i < LIMIT; i++)
		if (!composite[i])
			for (uint32_t j = i * i; j < LIMIT; j += i)
				composite[j] = 1;
	for (uint32_t i = 0; i < LIMIT; i++)
		if (!XT_TRUE(maglev_is_prime(i) == !composite[i], "maglev_is_prime(%u) is wrong", i))
			break;
	free(composite);
}

static bool all_valid(const uint32_t *t, uint32_t m, uint32_t lo, uint32_t hi)
{
	for (uint32_t i = 0; i < m; i++)
		if (!XT_TRUE(t[i] >= lo && t[i] <= hi, "m=%u: slot %u holds %u", m, i, t[i]))
			return false;
	return true;
}

static void every_slot_filled(void)
{
	struct maglev_backend b[300];
	uint32_t *t = new_table(M), counts[301];

	make_backends(b, 300, 1);
	for (int i = 0; i < 300; i++)
		b[i].weight = i % 2 ? 1000 : 1;
	/* More backends than slots, weights three orders apart: it must end, and fill. */
	if (XT_EQ(maglev_build(b, 300, t, 251), 0))
		all_valid(t, 251, 1, 300);
	if (XT_EQ(maglev_build(b, 300, t, M), 0)) {
		all_valid(t, M, 1, 300);
		slot_counts(t, M, counts, 300);
		/* 150 * 1000 + 150 credit per round: weight 1 claims in no round under 1000. */
		XT_EQ(counts[1], 0);
	}

	/* The widest weights there are; then a single live backend among dead ones. */
	b[0].weight = UINT32_MAX;
	b[1].weight = 1;
	if (XT_EQ(maglev_build(b, 2, t, M), 0))
		all_valid(t, M, 1, 2);
	for (int i = 0; i < 300; i++)
		b[i].weight = i == 123;
	if (XT_EQ(maglev_build(b, 300, t, M), 0))
		all_valid(t, M, 124, 124);
	free(t);
}

/* What lbd publishes: moved marks with the backend a slot had before its first move. */
static void slots_mark_moves(void)
{
	uint32_t table[5] = { 1, 2, 3, 4, XLB_NO_BACKEND }, old[5], slots[5];

	/* No traffic yet: plain ids, and XLB_SLOT_NONE for an empty slot. */
	XT_EQ(maglev_slots(table, 5, NULL, 0, old), 0);
	XT_EQ(old[0], 1);
	XT_EQ(old[4], XLB_SLOT_NONE);
	/* Slot 1 changes backend, slot 4 gets its first: only slot 1 moved. */
	table[1] = 7;
	table[4] = 8;
	XT_EQ(maglev_slots(table, 5, old, 5, slots), 1);
	XT_EQ(slots[0], 1);
	XT_EQ(slots[1], 7 | XLB_SLOT_MOVED | XLB_SLOT_FRESH | 2u << 16);
	XT_EQ(slots[4], 8);
	/* Moving again keeps the first backend as the previous one; moving back stays marked. */
	memcpy(old, slots, sizeof(old));
	table[1] = 9;
	XT_EQ(maglev_slots(table, 5, old, 5, slots), 1);
	XT_EQ(XLB_SLOT_ID(slots[1]), 9);
	XT_EQ(XLB_SLOT_PREV(slots[1]), 2);
	memcpy(old, slots, sizeof(old));
	table[1] = 2;
	XT_EQ(maglev_slots(table, 5, old, 5, slots), 1);
	XT_EQ(slots[1], 2 | XLB_SLOT_MOVED | XLB_SLOT_FRESH | 2u << 16);
	/* A new size: every slot moved, none with a previous backend. */
	XT_EQ(maglev_slots(table, 5, old, 7, slots), 0);
	for (int i = 0; i < 5; i++)
		XT_EQ(XLB_SLOT_PREV(slots[i]) | (slots[i] & XLB_SLOT_MOVED), XLB_SLOT_NONE | XLB_SLOT_MOVED);
}

/*
 * The UDP window is for the flows a change moved: a slot that moved in an
 * earlier change, once its window is over, is not FRESH when a later
 * change (a slow-start step) moves other slots and reopens the window.
 */
static void fresh_only_for_the_latest_move(void)
{
	uint32_t table[5] = { 1, 2, 3, 4, 5 }, old[5], slots[5], moved_at[5] = { 0 };

	maglev_slots(table, 5, NULL, 0, old);
	/* t=10: backend 2 drained, its slot goes to 3. */
	table[1] = 3;
	maglev_slots(table, 5, old, 5, slots);
	XT_TRUE(slots[1] & XLB_SLOT_FRESH, "a slot moved just now is FRESH");
	moved_at[1] = 10;
	/* Within the window (3 units) the mark stays, for a change in between too. */
	memcpy(old, slots, sizeof(old));
	XT_EQ(maglev_fresh_expire(old, moved_at, 5, 13, 3), 1);
	XT_TRUE(old[1] & XLB_SLOT_FRESH, "still FRESH within its window");
	/* t=20: a slow-start step moves slot 3 (4 -> 5): only slot 3 is FRESH. */
	memcpy(old, slots, sizeof(old));
	XT_EQ(maglev_fresh_expire(old, moved_at, 5, 20, 3), 0);
	table[3] = 5;
	XT_EQ(maglev_slots(table, 5, old, 5, slots), 1);
	XT_TRUE(slots[3] & XLB_SLOT_FRESH, "the slot this change moved is FRESH");
	XT_EQ(XLB_SLOT_PREV(slots[3]), 4);
	XT_TRUE(!(slots[1] & XLB_SLOT_FRESH), "the slot drained long ago is not");
	XT_TRUE(slots[1] & XLB_SLOT_MOVED, "but still moved, for TCP");
	XT_EQ(XLB_SLOT_PREV(slots[1]), 2);
	/* Moving a slot that moved before gives it no new window: its flows are in the table. */
	memcpy(old, slots, sizeof(old));
	maglev_fresh_expire(old, moved_at, 5, 30, 3);
	table[1] = 4;
	maglev_slots(table, 5, old, 5, slots);
	XT_TRUE(!(slots[1] & XLB_SLOT_FRESH), "a moved slot that moves again is not FRESH");
	/* Not known when it moved (a restart): the mark stays as the data plane had it. */
	old[0] = 1 | XLB_SLOT_MOVED | XLB_SLOT_FRESH | 9u << 16;
	XT_EQ(maglev_fresh_expire(old, NULL, 5, 1000, 3), 1);
}

int main(void)
{
	static const struct xt_case cases[] = {
		XT_CASE(balance_equal_weights),
		XT_CASE(weights_respected),
		XT_CASE(weights_proportional),
		XT_CASE(removal_moves_about_one_nth),
		XT_CASE(addition_moves_about_one_nth),
		XT_CASE(order_and_ids_do_not_matter),
		XT_CASE(matches_round_scheme),
		XT_CASE(bad_input),
		XT_CASE(primes),
		XT_CASE(every_slot_filled),
		XT_CASE(slots_mark_moves),
		XT_CASE(fresh_only_for_the_latest_move),
	};

	return xt_run("maglev", cases, sizeof(cases) / sizeof(cases[0]));
}
