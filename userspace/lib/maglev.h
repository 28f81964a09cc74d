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
	uint8_t key[MAGLEV_KEY_LEN];	/* identity, e.g. family + address: the table depends on keys and weights only */
};

bool maglev_is_prime(uint32_t m);

/*
 * Fills table[0..m-1] with backend ids. m must be prime, within
 * [XLB_RING_MIN, XLB_RING_MAX]. Returns 0, -EINVAL (bad m, two backends with
 * one key, NULL backends with n > 0) or -ENOMEM. With no backend of weight
 * > 0 every slot is XLB_NO_BACKEND.
 */
int maglev_build(const struct maglev_backend *backends, size_t n, uint32_t *table, uint32_t m);

#endif
