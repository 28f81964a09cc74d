/* SPDX-License-Identifier: GPL-2.0 */
/*
 * What a VIP's ring should be, decided without touching the data plane:
 * the configuration, each backend's look-up and health, and the ring
 * published before go in; the Maglev inputs, the slots with their moved
 * marks, when each slot first moved, and whether the UDP window opens come
 * out. dataplane.c applies a plan to the maps; the packet tests' world
 * (selftests/bpf/xdp_env.c) publishes with the same plans, and the
 * moved-slot and window rules are unit-tested here without root.
 */
#ifndef LBD_PLAN_H
#define LBD_PLAN_H

#include <stdbool.h>
#include <stdint.h>

#include "config.h"
#include "maglev.h"

/* What the world says of one backend of a VIP, in the VIP's order. */
struct plan_backend {
	uint32_t id;		/* backend id; 0: none given yet */
	bool known;		/* looked up since lbd started */
	bool resolved;		/* a MAC to send to */
	bool via_gateway;	/* reached through a router */
	uint32_t health_weight;	/* hc_weight(): 0 while it fails its check */
	bool held;		/* its agent says drain or down: out even when the VIP fails open */
};

/*
 * The backends that may take new flows, as maglev_build() wants them: a
 * resolved, undrained backend of weight > 0 that passes its check (DSR:
 * not behind a router, which would send the packet back to the VIP).
 * When none passes, the VIP fails open (all but those set down by hand)
 * unless it drops when all are down. mb holds v->n_backends entries.
 * Returns the count, or -EAGAIN while a backend is not known yet: a ring
 * built then would leave it out for nothing.
 */
int plan_inputs(const struct lbd_vip_cfg *v, const struct plan_backend *world, struct maglev_backend *mb,
		bool *fail_open);

/* The ring in force, as the next change starts from it. */
struct plan_prev {
	const uint32_t *slots;		/* NULL: no ring known (a first ring, or lost) */
	const uint32_t *moved_at;	/* per slot, seen units; NULL: not known */
	uint32_t size;			/* 0: the VIP had no ring */
};

struct plan_ring_in {
	const struct maglev_backend *mb;
	size_t n;
	uint32_t size;		/* the ring size to build */
	bool rehash;		/* another size or hash: every flow is on another slot */
	bool carried;		/* the VIP has carried a packet */
	bool udp;
	uint32_t now;		/* in xlb_conn.seen units */
	uint32_t udp_window;	/* the window's length, same units */
};

struct plan_ring {
	uint32_t *slots;	/* to publish: ids, MOVED, FRESH, PREV */
	uint32_t *moved_at;	/* when each marked slot first moved; 0 where none */
	uint32_t n_moved;	/* slots marked moved */
	uint32_t fresh;		/* slots this change moved: the UDP window is for their flows */
	bool open_udp_window;	/* a UDP VIP that carried traffic had slots move now */
	bool changed;		/* slots differ from prev's (or the size does) */
	bool forget_if_idle;	/* marks a VIP with no traffic yet does not need, once that is sure */
};

/*
 * Builds the table and marks what moved against prev. Marks are made as if
 * the VIP carried traffic, always: whether it did can only be known once
 * the new ring is in (forget_if_idle says to look then). Returns 0 or
 * -errno; out's arrays are the caller's (plan_ring_free()).
 */
int plan_ring(const struct plan_ring_in *in, const struct plan_prev *prev, struct plan_ring *out);
void plan_ring_free(struct plan_ring *p);

#endif
