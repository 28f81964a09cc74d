// SPDX-License-Identifier: GPL-2.0
#include "plan.h"

#include <errno.h>
#include <stdlib.h>
#include <string.h>

#include "health.h"
#include "xlb_common.h"

static bool may_take_flows(const struct lbd_vip_cfg *v, const struct lbd_backend_cfg *b,
			   const struct plan_backend *w)
{
	if (b->drain || w->held || !b->weight || !w->resolved)
		return false;
	/* DSR rewrites only the MAC: a router would send the packet, still to the VIP, back to us. */
	return !(v->fwd == XLB_FWD_DSR && w->via_gateway);
}

int plan_inputs(const struct lbd_vip_cfg *v, const struct plan_backend *world, struct maglev_backend *mb,
		bool *fail_open)
{
	size_t n = 0;

	*fail_open = false;
	for (size_t j = 0; j < v->n_backends; j++)
		if (!world[j].id || !world[j].known)
			return -EAGAIN;
	for (int pass = 0; pass < 2 && !n; pass++) {
		bool open = pass == 1;

		for (size_t j = 0; j < v->n_backends; j++) {
			const struct lbd_backend_cfg *b = &v->backends[j];
			uint32_t weight;

			if (!may_take_flows(v, b, &world[j]))
				continue;
			weight = world[j].health_weight;
			if (open)
				weight = b->admin == LBD_ADMIN_DOWN ? 0 : b->weight * HC_WEIGHT_SCALE;
			if (!weight)
				continue;
			memset(&mb[n], 0, sizeof(mb[n]));
			mb[n].id = world[j].id;
			mb[n].weight = weight;
			mb[n].key[0] = b->addr.family;
			memcpy(&mb[n].key[4], b->addr.a, 16);
			n++;
		}
		*fail_open = open && n;
		if (v->all_down_drop)
			break;
	}
	return (int)n;
}

/* For maglev_slots(): a previous ring of size 0, so every slot is marked moved, with no previous backend. */
static const uint32_t unknown_ring[1] = { XLB_SLOT_NONE };

/*
 * The previous slots as the next change starts from: a FRESH bit whose
 * window is over is dropped, so a later change (a slow-start step, say)
 * does not send new UDP flows to a backend the slot left long ago.
 */
static uint32_t *previous_slots(const struct plan_prev *prev, uint32_t now, uint32_t window)
{
	uint32_t *old = malloc(prev->size * sizeof(*old));

	if (!old)
		return NULL;
	memcpy(old, prev->slots, prev->size * sizeof(*old));
	maglev_fresh_expire(old, prev->moved_at, prev->size, now, window);
	return old;
}

/* Slots that this change marked FRESH: those whose flows the UDP window is for. */
static uint32_t newly_fresh(const uint32_t *slots, const uint32_t *old, uint32_t old_size, uint32_t size)
{
	uint32_t n = 0;

	for (uint32_t i = 0; i < size; i++)
		n += (slots[i] & XLB_SLOT_FRESH) && !(old_size == size && (old[i] & XLB_SLOT_FRESH));
	return n;
}

/* When each moved slot first moved: the clock of "flows from before the move" starts there. */
static void moves_since(const struct plan_prev *prev, uint32_t now, struct plan_ring *out, uint32_t size)
{
	bool same_ring = prev->moved_at && prev->size == size;

	out->n_moved = 0;
	for (uint32_t i = 0; i < size; i++) {
		if (!(out->slots[i] & XLB_SLOT_MOVED))
			continue;
		out->moved_at[i] = same_ring && prev->moved_at[i] ? prev->moved_at[i] : now;
		out->n_moved++;
	}
}

int plan_ring(const struct plan_ring_in *in, const struct plan_prev *prev, struct plan_ring *out)
{
	uint32_t *table = calloc(in->size, sizeof(*table)), *copy = NULL, old_size = prev->size;
	const uint32_t *old = NULL;
	int ret = -ENOMEM;

	memset(out, 0, sizeof(*out));
	out->slots = calloc(in->size, sizeof(*out->slots));
	out->moved_at = calloc(in->size, sizeof(*out->moved_at));
	if (!table || !out->slots || !out->moved_at)
		goto fail;
	ret = maglev_build(in->mb, in->n, table, in->size);
	if (ret)
		goto fail;
	ret = -ENOMEM;
	if (prev->slots && !in->rehash) {
		old = copy = previous_slots(prev, in->now, in->udp_window);
		if (!old)
			goto fail;
	}
	if (prev->size && !old) {
		/* Flows may be anywhere, and which slots they had is lost: only the table knows them. */
		old = unknown_ring;
		old_size = 0;
	}
	maglev_slots(table, in->size, old, old_size, out->slots);
	out->fresh = old ? newly_fresh(out->slots, old, old_size, in->size) : 0;
	/*
	 * The window keeps flows that exist: none before the first packet,
	 * none on slots moved before, and none of TCP (a TCP flow from before
	 * the move shows it by not being a SYN).
	 */
	out->open_udp_window = out->fresh && in->carried && in->udp;
	moves_since(prev, in->now, out, in->size);
	out->changed = prev->size != in->size || !prev->slots ||
		       memcmp(out->slots, prev->slots, in->size * sizeof(*out->slots));
	out->forget_if_idle = out->n_moved && !in->carried;
	free(table);
	free(copy);
	return 0;
fail:
	free(table);
	free(copy);
	plan_ring_free(out);
	return ret;
}

void plan_ring_free(struct plan_ring *p)
{
	free(p->slots);
	free(p->moved_at);
	p->slots = p->moved_at = NULL;
}
