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
#include "map_worker.h"
#include "sweep_reader.h"
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

struct lbd_vip_rt;
struct hc_target;
/*
 * The state lbctl show prints for backend be of vip (rt: the VIP's, t: the
 * pair's health target or NULL), one of lbd_shown_names: lbd_shown_state()
 * (commands.c), which show, trace and the metrics all call through this.
 */
typedef const char *(*lbd_shown_state_fn)(void *ctx, const struct lbd_vip_cfg *vip, const struct lbd_vip_rt *rt,
					  const struct lbd_backend_cfg *be, const struct hc_target *t);

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
	uint64_t added_ms;	/* monotonic, when the id was given: its first look-up's grace runs from it */
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
	bool only_new;		/* only backends never looked up (a command's leftovers) */
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
	uint64_t forget_gen;	/* the VIP index that must be in first (lbd_dp.index_gen) */
	uint64_t udp_keep_until_ns;	/* xlb_vip_meta's */
	bool fail_open;		/* every backend failed its check: all of them are in */
	uint32_t gen;		/* changes whenever slots does (lbd_dp.gen) */
	uint32_t acl_gen;	/* the global lists' lbd_dp.acl_gen its flags were written for */
	/* Its lists as acl_map has them (the text and sum of key.acl): a rebuild for health reads no file. */
	bool acl_written;
	size_t acl_n, acl_allows;
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
	bool unwritten;		/* a sync left tables of cfg to build (its budget spent): this round builds them */
	bool left_unwritten;	/* this round left some, their backends not looked up yet */
	size_t cursor;		/* the next VIP of the config */
	uint64_t build_us;	/* what the last table built took: the next is not begun without it */
	int error;		/* the round's first failure */
	char err[LBD_ERR_LEN];
};

#define LBD_SWEEP_INDEX_SIZE	(2 * XLB_MAX_VIPS)

/* A sweep pass begins this often, if none runs (lbd.c's timer). */
#define LBD_SWEEP_PERIOD_MS	5000

/*
 * One pass over the connection table, a bounded piece at a time, so that
 * a table of millions of flows never holds up lbd's loop: idle flows are
 * forgotten as they are met, and once the whole table has been read the
 * moved slots no flow needs are unmarked, one VIP a step.
 */
struct lbd_sweep {
	enum { SWEEP_IDLE, SWEEP_SCAN, SWEEP_UNMARK } phase;
	struct sweep_reader reader;	/* reads the tables off the loop; not running: the loop reads */
	struct sweep_walk walk;		/* the loop's own reads, without the reader */
	struct sweep_batch *own;	/* the batch those go into */
	uint32_t timeout;		/* in seen units */
	struct lbd_sweep_vip *vips;
	size_t n_vips, next_unmark;
	uint16_t index[LBD_SWEEP_INDEX_SIZE];	/* vips by key: position + 1, 0 empty */
	uint64_t *counting;		/* live flows per backend id, this pass: moved_map's */
	uint64_t *conn_counting;	/* conn_map's, this pass (when it reads conn_map) */
	uint64_t *conn_counts;		/* conn_map's, from the last pass that read it */
	uint64_t *flows;		/* both, as the last whole pass has them */
	uint64_t flows_at_ms;		/* monotonic ms conn_map's share of them was counted; 0: none yet */
	uint64_t begun_ms;		/* monotonic ms this pass began */
	uint64_t last_pass_ms;		/* how long the last whole pass took */
	uint64_t passes;
	int error;			/* the pass's first failure */
	/*
	 * A table (0 conn_map, 1 moved_map) a whole pass found empty is not
	 * read again until a flow is written into it: nothing else puts one
	 * there, and reading an empty hash map walks all its buckets.
	 */
	uint64_t written[2];		/* flows written into each when this pass began */
	uint64_t empty_at[2];		/* what written was when a pass that found it empty began */
	bool empty[2];			/* the last whole pass read nothing from it */
	uint64_t read[2];		/* entries this pass read from each */
	uint64_t own_written[2];	/* lbd's own writes: flow sharing's (lbd_dp_table_written()) */
	unsigned int tables;		/* the tables this pass reads (SWEEP_BOTH's bits) */
	uint64_t tables_left;		/* table reads passes left out, since start */
	/*
	 * A full conn_map (every live TCP connection is there) is read only
	 * every conn_every_ms while no change needs it each pass: a read
	 * costs about 0.5 us an entry, and only moved slots (to unmark) and
	 * the per-flow schedulers' counted flows (to release) need one every
	 * pass. The wait keeps the reads near 1% of a core, at most an eighth
	 * of conn-timeout: how late an idle flow may be forgotten.
	 */
	uint32_t conn_timeout_s;
	bool counted_seen;		/* the last read of conn_map found a counted flow */
	bool counted_now;		/* this pass's read has found one */
	uint64_t conn_live;		/* the flows this pass's read of conn_map kept */
	bool conn_not_due;		/* this pass leaves conn_map unread: its read is not due */
	bool flows_waiting;		/* the last whole pass did so: flows has an older read's counts */
	uint64_t conn_read_at_ms;	/* when the last pass that read conn_map began; 0: none */
	uint64_t conn_every_ms;		/* the wait in force */
	uint64_t conn_waits;		/* passes that left conn_map unread for it, since start */
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
	struct map_worker worker;				/* swaps the index, drops rings: off the loop */
	uint64_t *active;	/* active_map mapped: the per-flow schedulers' active flows per backend */
	uint64_t index_gen;	/* the index asked of the worker last: what lbctl replies wait for */
	uint64_t index_done;	/* the last one the loop knows is in */
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
	bool share;		/* the node has sync peers: VIPs carry XLB_VIP_F_SHARE (fixed at start) */
	bool clustered;		/* a cluster or sync line: moved slots are kept even where no packet came yet */
	/* The global lists as written to acl_map, and a count of their changes (VIPs' flags follow them). */
	struct lbd_acl_cfg acl;
	bool acl_synced;
	uint32_t acl_gen;
	size_t acl_global_n, acl_global_allows;
	/* Scopes (0: global, vip id + 1) acl_map may hold prefixes of: only those are walked to clear. */
	uint8_t acl_scopes[(XLB_MAX_VIPS + 1 + 7) / 8];
	/* The sweep's live flows the ring cannot place, for flow sharing (sync_flow_live()); NULL: none. */
	void (*flow_live)(void *ctx, const struct xlb_flow_key *flow, const struct xlb_conn *conn);
	void *flow_live_ctx;
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
/* The thread that reads the tables for the sweep; -errno: the loop reads them itself. */
int lbd_dp_sweep_start_reader(struct lbd_dp *dp);
/* Live flows per backend id as the last whole pass counted them, and how long ago; NULL before one. */
const uint64_t *lbd_dp_flows(const struct lbd_dp *dp, uint64_t *age_ms);
/* Publishes slots as the VIP's ring ring_id: in place when it can (see xlb_ring_map). */
int lbd_dp_ring_publish(struct lbd_dp *dp, struct lbd_vip_rt *rt, uint32_t ring_id, const uint32_t *slots,
			uint32_t size);
/* Did the last netlink drain change a neighbour that a backend uses (itself, or its next hop)? */
bool lbd_dp_neighbours_matter(const struct lbd_dp *dp);
/*
 * The map worker (map_worker.h), started once lbd runs its loop (after
 * daemon(): a fork keeps no thread). Before it, and without it, syncs swap
 * the index and drop rings themselves.
 */
int lbd_dp_start_worker(struct lbd_dp *dp);
/* After the worker's event fd was readable: the generation of the index in now (see index_gen). */
uint64_t lbd_dp_index_event(struct lbd_dp *dp);
/* Detaches from an interface that is no longer configured. */
int lbd_dp_detach(struct lbd_dp *dp, const char *dev, char *err, size_t len);

uint32_t lbd_dp_backend_id(const struct lbd_dp *dp, const struct lbd_addr *addr);
/* Flows a per-flow scheduler counts on backend id: placed, and not ended or forgotten since. */
uint64_t lbd_dp_active_flows(const struct lbd_dp *dp, uint32_t id);
/*
 * Each client persist_map holds for the VIP (a few syscalls per thousand
 * entries: the map holds at most XLB_PERSIST_MAX), then deleted if flush.
 */
typedef void (*lbd_persist_fn)(void *ctx, const struct xlb_persist_key *key, const struct xlb_persist *val);
int lbd_dp_persist_walk(struct lbd_dp *dp, uint32_t vip_id, bool flush, lbd_persist_fn fn, void *ctx);
/* lbd wrote a flow into table fd (conn_map or moved_map): the next sweep pass reads it. */
void lbd_dp_table_written(struct lbd_dp *dp, int fd);
/* The sweep forgets a flow: one that was counted is counted no more. */
void lbd_dp_flow_forgotten(struct lbd_dp *dp, const struct xlb_conn *c);
/*
 * How long a new backend's first look-up may hold its VIP's route back:
 * the kernel gives a neighbour up after three probes a second apart.
 */
#define LBD_FIRST_LOOKUP_MS 3500
/*
 * A backend of v that could take flows and is still being looked up for
 * the first time, within LBD_FIRST_LOOKUP_MS; NULL if none. The table
 * leaves it out until it is found, so a route announced now would bring
 * flows to a table about to change under them.
 */
const struct lbd_backend_cfg *lbd_dp_first_lookup(const struct lbd_dp *dp, const struct lbd_vip_cfg *v,
						  uint64_t now_ms);
/*
 * Which backend address each slot sends to, hashed: nodes with the same
 * configuration have the same digest whatever their backend ids and moved
 * marks. 0: no table yet.
 */
uint64_t lbd_dp_ring_digest(const struct lbd_dp *dp, struct lbd_vip_rt *rt);
/*
 * A peer's flow of ring VIP v, given backend_id, on a slot this node's
 * ring gives another backend and has not marked: the slot is marked moved
 * (its previous backend itself), so its packets read the table as on the
 * peer whose change moved it. A node started after the change has no such
 * mark. True when it marked one.
 */
bool lbd_dp_mark_for_peer(struct lbd_dp *dp, const struct lbd_vip_cfg *v, const struct xlb_flow_key *flow,
			  uint32_t backend_id);
const struct lbd_vip_rt *lbd_dp_vip(const struct lbd_dp *dp, const struct lbd_vip_cfg *key,
				    uint32_t *vip_id);
/* Slots of the VIP's ring that hold backend id. */
uint32_t lbd_dp_ring_share(const struct lbd_vip_rt *vip, uint32_t id);

#endif
