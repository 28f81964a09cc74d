/* SPDX-License-Identifier: GPL-2.0 */
/*
 * The weighted Maglev lookup table (Eisenbud et al., NSDI 2016, section 3.4).
 * Pure C, no BPF: lbd builds tables here and the XDP program only indexes them.
 */
#ifndef XLB_MAGLEV_H
#define XLB_MAGLEV_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include "xlb_common.h"

#define MAGLEV_KEY_LEN 20

struct maglev_backend {
	uint32_t id;			/* value written into the table (a backend-map index) */
	uint32_t weight;		/* 0: owns no slot */
	uint8_t key[MAGLEV_KEY_LEN];	/* identity: the caller fills e.g. family + address; the table depends on keys and weights only */
};

bool maglev_is_prime(uint32_t m);

/*
 * Fills table[0..m-1] with backend ids. m must be prime and within
 * [XLB_RING_MIN, XLB_RING_MAX]. Returns 0, or -EINVAL (bad m, table NULL,
 * two backends with the same key, n > 0 with backends == NULL, a backend of
 * weight > 0 whose id is XLB_NO_BACKEND), -ENOMEM. With no backend of
 * weight > 0 (or n == 0) every slot is XLB_NO_BACKEND.
 * The input array is not modified.
 */
int maglev_build(const struct maglev_backend *backends, size_t n, uint32_t *table, uint32_t m);

/*
 * The preference list of a key in a table of m slots: its j-th choice is
 * (offset + j * skip) % m, with offset in [0, m) and skip in [1, m). For a
 * prime m that visits every slot once. Exposed so tests and tools can
 * recompute what maglev_build does. Returns 0, or -EINVAL when m < 2.
 */
/*
 * The ring slots to publish for table (maglev_build's ids), given the slots
 * published before: old, NULL when no flow can be on the VIP yet. A slot
 * whose backend changes is marked XLB_SLOT_MOVED | XLB_SLOT_FRESH with the
 * backend it had (xlb_common.h), and a moved slot keeps its mark, its
 * FRESH bit as old has it, and its first backend. With old_m != m (a new
 * ring size) flows land on other slots, so every slot is marked moved,
 * with no previous backend. Returns how many slots changed their backend
 * just now.
 */
uint32_t maglev_slots(const uint32_t *table, uint32_t m, const uint32_t *old, uint32_t old_m,
		      uint32_t *slots);

/*
 * Clears XLB_SLOT_FRESH on the slots of a published ring whose first move
 * (moved_at, in the same units as now) is more than window ago: the UDP
 * window of that move is over, so a later change must not reopen it for
 * them. With moved_at NULL (not known, after a restart) FRESH stays.
 * Returns how many slots are still FRESH.
 */
uint32_t maglev_fresh_expire(uint32_t *slots, const uint32_t *moved_at, uint32_t m, uint32_t now,
			     uint32_t window);

int maglev_permutation(const uint8_t key[MAGLEV_KEY_LEN], uint32_t m, uint32_t *offset,
		       uint32_t *skip);

#endif /* XLB_MAGLEV_H */
