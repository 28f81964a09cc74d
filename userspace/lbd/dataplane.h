/* SPDX-License-Identifier: GPL-2.0 */
/*
 * The data plane as lbd sees it: the loaded program, its pinned maps, the
 * interfaces it is attached to, and the sync that makes the maps say what
 * the configuration says.
 */
#ifndef LBD_DATAPLANE_H
#define LBD_DATAPLANE_H

#include "clock.h"
#include "config.h"
#include "netlink.h"
#include "maglev.h"
#include "xlb_maps.h"

enum lbd_be_state { BE_UNKNOWN, BE_RESOLVED, BE_PENDING, BE_UNREACHABLE };

/*
 * What lbctl show calls a backend, from its look-up, its admin setting,
 * weight and health: one list for show, trace and the metrics' series.
 */
enum lbd_shown_state {
	SHOWN_ACTIVE, SHOWN_SLOW_START, SHOWN_DRAINING, SHOWN_WEIGHT_0, SHOWN_DOWN, SHOWN_DOWN_OPEN,
	SHOWN_ADMIN_DOWN, SHOWN_UNREACHABLE, SHOWN_RESOLVING, SHOWN_STATES
};
extern const char *const lbd_shown_names[SHOWN_STATES];

struct lbd_backend_rt {
	struct lbd_addr addr;	/* family 0: id free */
	bool referenced;	/* by some VIP in the current config */
	uint8_t mac[6];
	bool have_mac;		/* mac was right once: keep using it while re-resolving */
	uint8_t hop[16];	/* the next hop toward it (itself when on-link), zeros if not known */
	bool via_gateway;	/* reached through a router: fine for IPIP, a loop for DSR */
	enum lbd_be_state state;
	char why[160];
	uint32_t born;		/* lbd_dp.births when the id was given to addr: a reused id is a new backend */
	bool resolved;		/* looked up since the id was given: else its state is not known */
	bool written_ok;	/* written is what backend_map holds for the id */
	struct xlb_backend written;
};

/*
 * A network change looks every backend up again (a route and a neighbour
 * request each): thousands of them are tens of ms, so it is a round done a
 * bounded piece a tick (lbd_dp_resolve_step()), like the table rebuilds.
 */
struct lbd_resolve_round {
	bool due;		/* a round runs */
	bool again;		/* asked for while it ran: one more follows */
	uint32_t cursor;	/* the next backend id */
};

struct lbd_share {
	uint32_t id;
	uint32_t slots;
};

struct lbd_vip_rt {
	struct lbd_vip_cfg key;	/* addr, port, proto only */
	bool used, referenced;
	uint32_t ring_id, ring_size;
	uint32_t *slots;	/* the ring as the data plane has it: ids and moved marks */
	uint32_t *moved_at;	/* per slot: when it was first marked moved, in xlb_conn.seen units */
	uint32_t n_moved;	/* slots marked moved */
	bool forget_if_idle;	/* marked by this sync, and no packet had reached the VIP */
	uint64_t forget_after_us;	/* monotonic: when the counters say whether a packet saw the marks */
	uint64_t udp_keep_until_ns;	/* xlb_vip_meta's */
	bool fail_open;		/* every backend failed its check: all of them are in */
	uint32_t gen;		/* changes whenever slots does (lbd_dp.gen) */
	uint32_t born;		/* lbd_dp.births when the id was given to this VIP */
	uint64_t builds;	/* Maglev tables built for it: a sync whose inputs did not change builds none */
	struct xlb_ring_map ring;	/* ring_map[ring_id] mapped here, to be written in place */
	struct lbd_share *shares;	/* slots per backend of the published ring */
	size_t n_shares;
	struct maglev_backend *inputs;	/* what the published ring was built from */
	size_t n_inputs;
	uint64_t digest;	/* lbd_dp_ring_digest() of slots at digest_gen */
	uint32_t digest_gen;
	bool digest_valid;
};

struct lbd_iface_rt {
	char name[IF_NAMESIZE];
	int ifindex;
	uint32_t prog_id;
	uint8_t mode;
	bool generic_fallback;
};

struct hc;

/* A moved VIP in a sweep pass: which of its slots a live remembered flow pins. */
struct lbd_sweep_vip {
	uint32_t vip_id;
	uint32_t gen;		/* its slots when the pass began: a pass says nothing of newer ones */
	bool *pinned;		/* per slot: a live remembered flow there has another backend */
};

/*
 * Ring rebuilds after a health verdict or a slow-start step: one VIP after
 * another, a bounded time at a time, so that 500 ramping VIPs (2 ms a
 * 65537-slot table) never hold up the loop.
 */
struct lbd_rings_round {
	bool due;		/* a round runs */
	bool again;		/* asked for while it ran: one more follows */
	bool needs_full;	/* a VIP's size or hash differs from what runs: a full sync at the end */
	size_t cursor;		/* the next VIP of the config */
	uint64_t build_us;	/* what the last table built took: the next is not begun without it */
	int error;		/* the round's first failure */
	char err[LBD_ERR_LEN];
};

#define LBD_SWEEP_INDEX_SIZE	(2 * XLB_MAX_VIPS)

/*
 * One pass over the connection table, a bounded piece at a time, so that
 * a table of millions of flows never holds up lbd's loop: idle flows are
 * forgotten as they are met, and once the whole table has been read the
 * moved slots no flow needs are unmarked, one VIP a step.
 */
struct lbd_sweep {
	enum { SWEEP_IDLE, SWEEP_SCAN, SWEEP_UNMARK } phase;
	int table;			/* 0: conn_map, 1: moved_map */
	bool first;			/* no batch read yet: the map's walk starts afresh */
	uint64_t cursor;		/* bpf_map_lookup_batch's place */
	uint32_t timeout;		/* in seen units */
	struct lbd_sweep_vip *vips;
	size_t n_vips, next_unmark;
	uint16_t index[LBD_SWEEP_INDEX_SIZE];	/* vips by key: position + 1, 0 empty */
	uint64_t *counting;		/* live flows per backend id, this pass */
	uint64_t *flows;		/* the same, from the last whole pass */
	uint64_t flows_at_ms;		/* monotonic ms that pass ended; 0: none yet */
	uint64_t passes;
	int error;			/* the pass's first failure */
};

#define LBD_IPIP_NO_SRC4	(1u << 0)
#define LBD_IPIP_NO_SRC6	(1u << 1)

/* Backend ids by address, open addressing: twice XLB_MAX_BACKENDS, so a probe always ends. */
#define LBD_BE_INDEX_SIZE	(2 * XLB_MAX_BACKENDS)

struct lbd_dp {
	struct xlb *skel;
	struct xlb_map_fds fds;
	struct nl_ctx *nl;
	struct lbd_backend_rt backends[XLB_MAX_BACKENDS];	/* index = backend id; 0 unused */
	uint16_t be_index[LBD_BE_INDEX_SIZE];			/* backend id, 0: empty place */
	struct lbd_vip_rt vips[XLB_MAX_VIPS];			/* index = vip id */
	uint32_t vip_cursor;					/* the last VIP id given out */
	uint8_t drop_rings[XLB_MAX_VIPS];			/* bit k: ring id*2+k to drop after the index */
	struct lbd_iface_rt ifaces[LBD_MAX_IFACES];
	size_t n_ifaces;
	uint32_t conn_table_size;
	bool vip_index_stale;	/* vip_map changed since the program's index was built */
	const struct hc *hc;	/* health verdicts; NULL: every backend counts as healthy */
	uint32_t gen;		/* the last lbd_vip_rt.gen handed out */
	uint32_t births;	/* ids given out, VIP and backend: their born */
	uint64_t index_swaps;	/* VIP index rebuilds for a UDP window: each waits for an RCU grace period */
	struct lbd_rings_round rings;
	struct lbd_resolve_round resolve;
	uint64_t syncs;		/* full syncs since start: netlink batches that mattered, commands, timers */
	uint8_t ipip_missing;	/* LBD_IPIP_NO_SRC*: IPIP VIPs need an outer source there is not */
	struct lbd_sweep sweep;
};

/* CLOCK_MONOTONIC in xlb_conn.seen's units. */
static inline uint32_t lbd_dp_seen_now(void)
{
	return (uint32_t)((lbd_mono_us() * 1000) >> XLB_CONN_SEEN_SHIFT);
}

/* Loads the program, reusing maps pinned in pin_dir (and pinning new ones there). */
int lbd_dp_open(struct lbd_dp *dp, const char *pin_dir, uint32_t conn_table_size, char *err,
		size_t len);
void lbd_dp_close(struct lbd_dp *dp);

/*
 * Makes the maps and attachments match cfg. Idempotent. Backends new to
 * lbd are looked up at once, the others keep what the last look-up said
 * (all again when the interfaces change).
 */
int lbd_dp_sync(struct lbd_dp *dp, const struct lbd_config *cfg, char *err, size_t len);
/*
 * The same after a network change, cfg unchanged: interfaces and settings
 * at once, every backend looked up again in a resolve round
 * (lbd_dp_resolve_step()), the tables in a round of rebuilds
 * (lbd_dp_rings_step()) for what that changed, unless a VIP of cfg has
 * not been written yet.
 */
int lbd_dp_resync(struct lbd_dp *dp, const struct lbd_config *cfg, char *err, size_t len);
/*
 * Only the Maglev tables, for what a health verdict or slow start changes:
 * lbd_dp_rings_due() asks for a round, lbd_dp_rings_step() does about
 * budget_us of it (VIPs whose inputs did not change cost a comparison).
 * The step returns 1 while a round goes on, 0 when none is due, -errno
 * with err set when a round ended with a failure.
 */
void lbd_dp_rings_due(struct lbd_dp *dp);
/* A resolve round: every backend looked up again, about budget_us at a time; asks for tables if states changed. */
void lbd_dp_resolve_due(struct lbd_dp *dp);
/* 0: nothing due or more to do; LBD_RESOLVE_DONE: the round ended; -errno (the round goes on). */
#define LBD_RESOLVE_DONE	1
int lbd_dp_resolve_step(struct lbd_dp *dp, uint64_t budget_us, char *err, size_t len);
int lbd_dp_rings_step(struct lbd_dp *dp, const struct lbd_config *cfg, uint64_t budget_us, char *err,
		      size_t len);
/*
 * Starts a sweep pass unless one runs: it forgets flows idle for
 * conn_timeout seconds, counts live flows per backend, and unmarks moved
 * slots that no remembered flow and no flow from before the move can
 * need. lbd_dp_sweep_step() does the work, about budget_us at a time;
 * it returns 1 while the pass goes on, 0 when it has ended (or none
 * runs), or -errno with err set when the pass ended on an error.
 */
void lbd_dp_sweep_begin(struct lbd_dp *dp, uint32_t conn_timeout);
int lbd_dp_sweep_step(struct lbd_dp *dp, uint64_t budget_us, char *err, size_t len);
void lbd_dp_sweep_free(struct lbd_dp *dp);
/* Live flows per backend id as the last whole pass counted them, and how long ago; NULL before one. */
const uint64_t *lbd_dp_flows(const struct lbd_dp *dp, uint64_t *age_ms);
/* Publishes slots as the VIP's ring ring_id: in place when it can (see xlb_ring_map). */
int lbd_dp_ring_publish(struct lbd_dp *dp, struct lbd_vip_rt *rt, uint32_t ring_id, const uint32_t *slots,
			uint32_t size);
/* Did the last netlink drain change a neighbour that a backend uses (itself, or its next hop)? */
bool lbd_dp_neighbours_matter(const struct lbd_dp *dp);
/* Detaches from an interface that is no longer configured. */
int lbd_dp_detach(struct lbd_dp *dp, const char *dev, char *err, size_t len);

uint32_t lbd_dp_backend_id(const struct lbd_dp *dp, const struct lbd_addr *addr);
/*
 * Which backend address each slot sends to, hashed: nodes with the same
 * configuration have the same digest whatever their backend ids and moved
 * marks. 0: no table yet.
 */
uint64_t lbd_dp_ring_digest(const struct lbd_dp *dp, struct lbd_vip_rt *rt);
const struct lbd_vip_rt *lbd_dp_vip(const struct lbd_dp *dp, const struct lbd_vip_cfg *key,
				    uint32_t *vip_id);
/* Slots of the VIP's ring that hold backend id. */
uint32_t lbd_dp_ring_share(const struct lbd_vip_rt *vip, uint32_t id);

#endif
