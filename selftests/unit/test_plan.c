// SPDX-License-Identifier: GPL-2.0
/*
 * The rules a VIP's ring is planned by (userspace/lbd/plan.c), without the
 * data plane: which backends go in, what a change marks moved, when the
 * UDP window opens, and what a later change must not reopen.
 */
#include <errno.h>
#include <netinet/in.h>

#include "health.h"
#include "plan.h"
#include "xlb_common.h"
#include "xt.h"

#define RING 251
#define WINDOW 100	/* seen units */
#define N_BE 3

XT_DEFINE_STATE;

static struct lbd_backend_cfg cfg_backends[N_BE];
static struct lbd_vip_cfg vip;
static struct plan_backend world[N_BE];

static void reset(uint8_t fwd)
{
	memset(cfg_backends, 0, sizeof(cfg_backends));
	for (int i = 0; i < N_BE; i++) {
		cfg_backends[i].addr.family = XLB_AF_INET;
		cfg_backends[i].addr.a[0] = 198;
		cfg_backends[i].addr.a[1] = 18;
		cfg_backends[i].addr.a[2] = 2;
		cfg_backends[i].addr.a[3] = (uint8_t)(i + 1);
		cfg_backends[i].weight = 1;
		world[i] = (struct plan_backend){ .id = (uint32_t)(i + 1), .known = true, .resolved = true,
						  .health_weight = HC_WEIGHT_SCALE };
	}
	vip = (struct lbd_vip_cfg){ .proto = IPPROTO_UDP, .fwd = fwd, .ring_size = RING,
				    .backends = cfg_backends, .n_backends = N_BE };
}

/* Plans the VIP as the world says now against prev; 0 or what plan_ring() returned. */
static int plan_now(const struct plan_ring *prev, uint32_t now, bool carried, struct plan_ring *out)
{
	struct maglev_backend mb[N_BE];
	bool fail_open;
	int n = plan_inputs(&vip, world, mb, &fail_open);

	if (n < 0)
		return n;
	return plan_ring(&(struct plan_ring_in){ .mb = mb, .n = (size_t)n, .size = RING, .carried = carried,
						 .udp = vip.proto == IPPROTO_UDP, .now = now,
						 .udp_window = WINDOW },
			 &(struct plan_prev){ prev ? prev->slots : NULL, prev ? prev->moved_at : NULL,
					      prev ? RING : 0 },
			 out);
}

static uint32_t slots_of(const struct plan_ring *p, uint32_t id)
{
	uint32_t n = 0;

	for (uint32_t i = 0; i < RING; i++)
		n += XLB_SLOT_ID(p->slots[i]) == id;
	return n;
}

static void first_ring_marks_nothing(void)
{
	struct plan_ring p;

	reset(XLB_FWD_DSR);
	if (!XT_EQ(plan_now(NULL, 1000, true, &p), 0))
		return;
	XT_EQ(p.n_moved, 0);
	XT_EQ(p.fresh, 0);
	XT_TRUE(!p.open_udp_window, "a first ring has no flows to keep");
	XT_TRUE(p.changed, "a first ring is new");
	XT_EQ(slots_of(&p, 1) + slots_of(&p, 2) + slots_of(&p, 3), RING);
	for (uint32_t i = 0; i < RING; i++)
		if (!XT_EQ(p.slots[i] & (XLB_SLOT_MOVED | XLB_SLOT_FRESH), 0))
			break;
	plan_ring_free(&p);
}

/* A drained backend's slots move, each marked with it as the previous backend, at the time of the change. */
static void drain_marks_its_slots(void)
{
	struct plan_ring a, b;
	uint32_t moved = 0;

	reset(XLB_FWD_DSR);
	if (!XT_EQ(plan_now(NULL, 1000, true, &a), 0))
		return;
	cfg_backends[1].drain = true;
	if (!XT_EQ(plan_now(&a, 2000, true, &b), 0))
		return;
	XT_EQ(slots_of(&b, 2), 0);
	for (uint32_t i = 0; i < RING; i++) {
		if (XLB_SLOT_ID(b.slots[i]) == XLB_SLOT_ID(a.slots[i])) {
			if (!XT_EQ(b.slots[i], a.slots[i]))
				break;	/* a slot that kept its backend keeps its word */
			continue;
		}
		moved++;
		XT_EQ(b.slots[i] & (XLB_SLOT_MOVED | XLB_SLOT_FRESH), XLB_SLOT_MOVED | XLB_SLOT_FRESH);
		XT_EQ(XLB_SLOT_PREV(b.slots[i]), XLB_SLOT_ID(a.slots[i]));
		XT_EQ(b.moved_at[i], 2000);
	}
	XT_TRUE(moved >= slots_of(&a, 2), "every slot of the drained backend moved");
	XT_TRUE(moved < RING / 2, "Maglev moves about the drained backend's share, not the ring");
	XT_EQ(b.n_moved, moved);
	XT_EQ(b.fresh, moved);
	XT_TRUE(b.open_udp_window, "UDP flows of the drained backend's slots get the window");
	XT_TRUE(b.changed, "slots changed");
	XT_TRUE(!b.forget_if_idle, "the VIP carried traffic: its marks are needed");
	plan_ring_free(&a);
	plan_ring_free(&b);
}

/* The window is for UDP flows that exist: not TCP, not a VIP no packet has reached. */
static void window_only_for_udp_that_carried(void)
{
	struct plan_ring a, b;

	reset(XLB_FWD_DSR);
	vip.proto = IPPROTO_TCP;
	if (!XT_EQ(plan_now(NULL, 1000, true, &a), 0))
		return;
	cfg_backends[0].drain = true;
	if (XT_EQ(plan_now(&a, 2000, true, &b), 0)) {
		XT_TRUE(b.fresh > 0, "slots moved");
		XT_TRUE(!b.open_udp_window, "TCP: a flow from before the move is not a SYN");
		plan_ring_free(&b);
	}
	vip.proto = IPPROTO_UDP;
	if (XT_EQ(plan_now(&a, 2000, false, &b), 0)) {
		XT_TRUE(!b.open_udp_window, "no packet reached the VIP: no flow to keep");
		XT_TRUE(b.forget_if_idle, "marks of an idle VIP are to be forgotten once that is sure");
		XT_TRUE(b.n_moved > 0, "marked as if it carried traffic until then");
		plan_ring_free(&b);
	}
	plan_ring_free(&a);
}

/*
 * Issue 13, item 5: a slow-start or health rebuild after the window of an
 * earlier move must not reopen it for that move's slots (nor ever send new
 * UDP flows to a backend out of the ring): only slots this change moves
 * are FRESH.
 */
static void later_change_does_not_reopen_old_moves(void)
{
	struct plan_ring a, b, c;
	uint32_t t0 = 1000, t1 = t0 + WINDOW + 1;

	reset(XLB_FWD_DSR);
	if (!XT_EQ(plan_now(NULL, t0 - 10, true, &a), 0))
		return;
	cfg_backends[1].drain = true;
	if (!XT_EQ(plan_now(&a, t0, true, &b), 0))
		return;
	/* A slow-start step of backend 3, after the drain's window. */
	world[2].health_weight = HC_WEIGHT_SCALE / 2;
	if (!XT_EQ(plan_now(&b, t1, true, &c), 0))
		return;
	for (uint32_t i = 0; i < RING; i++) {
		bool moved_now = XLB_SLOT_ID(c.slots[i]) != XLB_SLOT_ID(b.slots[i]);

		if (c.slots[i] & XLB_SLOT_FRESH) {
			if (!XT_TRUE(moved_now, "slot %u FRESH but it did not move in this change", i))
				break;
			if (!XT_TRUE(XLB_SLOT_PREV(c.slots[i]) != 2, "slot %u: a FRESH slot sends to the drained backend", i))
				break;
		}
		if (XLB_SLOT_PREV(b.slots[i]) == 2 && (b.slots[i] & XLB_SLOT_MOVED))
			if (!XT_EQ(c.moved_at[i], t0))
				break;	/* still marked, and its clock runs from the first move */
	}
	uint32_t first_moves = 0;

	for (uint32_t i = 0; i < RING; i++)
		first_moves += XLB_SLOT_ID(c.slots[i]) != XLB_SLOT_ID(b.slots[i]) && !(b.slots[i] & XLB_SLOT_MOVED);
	XT_TRUE(first_moves > 0, "halving a weight moves slots");
	XT_EQ(c.fresh, first_moves);
	XT_TRUE(c.open_udp_window, "the step's own moves get a window");
	plan_ring_free(&c);

	/* The same build again, inside the window: nothing newly moved, nothing to reopen. */
	world[2].health_weight = HC_WEIGHT_SCALE;
	if (XT_EQ(plan_now(&b, t0 + 1, true, &c), 0)) {
		XT_EQ(c.fresh, 0);
		XT_TRUE(!c.open_udp_window, "an unchanged table reopens no window");
		XT_TRUE(!c.changed, "unchanged slots need no publish");
		plan_ring_free(&c);
	}
	plan_ring_free(&a);
	plan_ring_free(&b);
}

/* Another size, another hash, or slots lost: every slot is moved, with no previous backend to keep. */
static void rehash_marks_every_slot(void)
{
	struct maglev_backend mb[N_BE];
	struct plan_ring a, b;
	bool fail_open;
	int n;

	reset(XLB_FWD_DSR);
	if (!XT_EQ(plan_now(NULL, 1000, true, &a), 0))
		return;
	n = plan_inputs(&vip, world, mb, &fail_open);
	for (int lost = 0; lost < 2; lost++) {
		struct plan_prev prev = { lost ? NULL : a.slots, lost ? NULL : a.moved_at, RING };

		if (!XT_EQ(plan_ring(&(struct plan_ring_in){ .mb = mb, .n = (size_t)n, .size = RING,
							      .rehash = !lost, .carried = true, .udp = true,
							      .now = 2000, .udp_window = WINDOW },
				     &prev, &b), 0))
			break;
		XT_EQ(b.n_moved, RING);
		for (uint32_t i = 0; i < RING; i++)
			if (!XT_EQ(XLB_SLOT_PREV(b.slots[i]), XLB_SLOT_NONE))
				break;
		XT_TRUE(b.changed, "every slot is marked");
		plan_ring_free(&b);
	}
	plan_ring_free(&a);
}

static void inputs_follow_the_world(void)
{
	struct maglev_backend mb[N_BE];
	bool fail_open;

	reset(XLB_FWD_DSR);
	world[1].known = false;
	XT_EQ(plan_inputs(&vip, world, mb, &fail_open), -EAGAIN);
	reset(XLB_FWD_DSR);
	world[2].id = 0;
	XT_EQ(plan_inputs(&vip, world, mb, &fail_open), -EAGAIN);

	reset(XLB_FWD_DSR);
	cfg_backends[0].weight = 0;
	world[1].resolved = false;
	XT_EQ(plan_inputs(&vip, world, mb, &fail_open), 1);
	XT_EQ(mb[0].id, 3);
	XT_EQ(mb[0].weight, HC_WEIGHT_SCALE);

	/* Behind a router: a loop for DSR, fine for IPIP. */
	reset(XLB_FWD_DSR);
	world[0].via_gateway = true;
	XT_EQ(plan_inputs(&vip, world, mb, &fail_open), 2);
	reset(XLB_FWD_IPIP);
	world[0].via_gateway = true;
	XT_EQ(plan_inputs(&vip, world, mb, &fail_open), 3);

	reset(XLB_FWD_DSR);
	world[0].health_weight = 0;
	world[1].health_weight = HC_WEIGHT_SCALE / 4;
	XT_EQ(plan_inputs(&vip, world, mb, &fail_open), 2);
	XT_EQ(mb[0].weight, HC_WEIGHT_SCALE / 4);
	XT_TRUE(!fail_open, "some pass their check");

	/* Every check fails: all of them at their weight, but the one set down by hand. */
	for (int i = 0; i < N_BE; i++)
		world[i].health_weight = 0;
	cfg_backends[2].admin = LBD_ADMIN_DOWN;
	cfg_backends[1].weight = 3;
	XT_EQ(plan_inputs(&vip, world, mb, &fail_open), 2);
	XT_TRUE(fail_open, "fails open");
	XT_EQ(mb[1].weight, 3 * HC_WEIGHT_SCALE);
	vip.all_down_drop = true;
	XT_EQ(plan_inputs(&vip, world, mb, &fail_open), 0);
	XT_TRUE(!fail_open, "all-down drop keeps an empty ring");
}

/* A backend its agent drains or sets down stays out, even when the VIP fails open. */
static void agent_hold_outlasts_failing_open(void)
{
	struct maglev_backend mb[N_BE];
	bool fail_open;

	reset(XLB_FWD_DSR);
	world[0].held = true;
	world[0].health_weight = 0;
	XT_EQ(plan_inputs(&vip, world, mb, &fail_open), 2);
	XT_EQ(mb[0].id, 2);
	for (int i = 0; i < N_BE; i++)
		world[i].health_weight = 0;
	XT_EQ(plan_inputs(&vip, world, mb, &fail_open), 2);
	XT_TRUE(fail_open, "fails open");
	XT_TRUE(mb[0].id == 2 && mb[1].id == 3, "the held backend is out: ids %u, %u", mb[0].id, mb[1].id);
}

int main(void)
{
	static const struct xt_case cases[] = {
		XT_CASE(first_ring_marks_nothing),
		XT_CASE(drain_marks_its_slots),
		XT_CASE(window_only_for_udp_that_carried),
		XT_CASE(later_change_does_not_reopen_old_moves),
		XT_CASE(rehash_marks_every_slot),
		XT_CASE(inputs_follow_the_world),
		XT_CASE(agent_hold_outlasts_failing_open),
	};

	return xt_run("plan", cases, sizeof(cases) / sizeof(cases[0]));
}
