/* SPDX-License-Identifier: GPL-2.0 */
/*
 * The map writes that wait in the kernel for an RCU grace period (8 to 30
 * ms each on a 2-vCPU guest): putting a new ring into ring_map, swapping a
 * new VIP index into vip_index and deleting rings from ring_map. A command
 * on a large configuration did them on lbd's loop (a `vip del` at 400
 * VIPs: three waits, about 50 ms). This thread does them instead, in the
 * order that keeps packets right: rings handed over before an index is
 * built are in before it is swapped in, so no index points at a ring not
 * there yet; an index asked for before some rings were given to be
 * dropped is in before they go, so no index points at a deleted ring. The loop learns that an
 * index is in through event_fd; what must see it first (an lbctl reply,
 * the check that an idle VIP's marks can go) waits for its generation.
 * A publish that wants a ring id given away takes it back first
 * (map_worker_claim()).
 * The allow and deny lists go the same way: a write a prefix into the LPM
 * trie (about 5 us each: a list of a million held the loop for seconds,
 * its VRRP adverts with it). A scope's list handed over is written before
 * the next index is swapped in, so no index sets flags that send packets
 * to prefixes not there yet; the scope's prefixes the list no longer holds
 * go once an index asked for after the hand-over is in, so none is taken
 * out while the index in still relies on it (an allow list going away).
 */
#ifndef LBD_MAP_WORKER_H
#define LBD_MAP_WORKER_H

#include <pthread.h>
#include <stdbool.h>
#include <stdint.h>

#include "acl.h"
#include "xlb_maps.h"

/* acl_map's scopes: 0 the global lists, vip_id + 1 a VIP's. */
#define LBD_ACL_SCOPES		(XLB_MAX_VIPS + 1)

struct map_worker {
	pthread_t thread;
	bool running, stopping;
	pthread_mutex_t lock;
	pthread_cond_t work;		/* something to do, or stopping */
	pthread_cond_t done;		/* a deletion or an index ended */
	struct xlb_map_fds fds;		/* lbd's: the thread ends before they close */
	int event_fd;			/* an eventfd: counts indexes swapped in */
	/* The index: a generation per request; one swap serves every request made before it began. */
	uint64_t index_wanted, index_done;
	int index_error;		/* of the last swap, -errno (index_done moves on all the same) */
	struct xlb_vip_entry *index;	/* the thread's: the index being built */
	/* New rings: the fd of each to put at its id (-1: none), taken by the thread. */
	int install_fd[XLB_MAX_RINGS];
	uint32_t installs;		/* how many of install_fd are set */
	uint32_t batch_ids[XLB_MAX_RINGS];	/* the thread's: one batch update of ring_map */
	int batch_fds[XLB_MAX_RINGS];
	uint8_t install_failed[XLB_MAX_VIPS];	/* bits as pending: for the loop to build again */
	int install_error;
	/* Rings: bit k of pending[id] is ring id*2+k, deleted once the index asked before it is in. */
	uint8_t pending[XLB_MAX_VIPS];
	uint32_t deleting;		/* the ring id being deleted; UINT32_MAX: none */
	uint64_t deleted;		/* rings deleted since start */
	int ring_error;			/* the last deletion's failure, -errno (kept pending) */
	/* Lists, a scope each: handed and not written yet; the newest handed wins. */
	struct lbd_acl *acl_new[LBD_ACL_SCOPES];
	uint64_t acl_new_at[LBD_ACL_SCOPES];	/* index_wanted when it was handed */
	uint32_t acl_handed;			/* how many of acl_new are set */
	/* Written; the scope's other prefixes go once an index asked after acl_sweep_at is in. */
	struct lbd_acl *acl_sweep[LBD_ACL_SCOPES];
	uint64_t acl_sweep_at[LBD_ACL_SCOPES];
	uint32_t acl_sweeps;			/* how many of acl_sweep are set */
	uint8_t acl_failed[(LBD_ACL_SCOPES + 7) / 8];	/* for the loop to hand again */
	int acl_error;
};

/* Starts the thread over fds (copied; they must outlive it). -errno when it cannot. */
int map_worker_start(struct map_worker *w, const struct xlb_map_fds *fds);
/* Does what is still asked, then ends the thread. */
void map_worker_stop(struct map_worker *w);
/* Asks for the VIP index to be rebuilt from vip_map and swapped in; returns the request's generation. */
uint64_t map_worker_index(struct map_worker *w);
/* Blocks until the index of generation gen is in; its -errno, or 0. */
int map_worker_index_wait(struct map_worker *w, uint64_t gen);
/* The generation of the index in now, and its error; reads the event fd's count away. */
uint64_t map_worker_index_done(struct map_worker *w, int *error);
/* Hands the rings of drop (a bit per ring, as pending) to the thread, and clears drop. */
void map_worker_give(struct map_worker *w, uint8_t drop[XLB_MAX_VIPS]);
/*
 * Hands a new ring (fd, which the thread closes) to be put at ring_id in
 * ring_map before the next index is swapped in; one handed over earlier
 * for the same id and not yet in is replaced.
 */
void map_worker_install(struct map_worker *w, uint32_t ring_id, int fd);
/* Ring ids whose install failed since the last call (bits as pending), cleared. */
bool map_worker_failed_installs(struct map_worker *w, uint8_t failed[XLB_MAX_VIPS]);
/* Takes ring_id back before it is published again: once this returns, the thread leaves it alone. */
void map_worker_claim(struct map_worker *w, uint32_t ring_id);
/*
 * Hands scope's list (taken, freed by the thread; no prefixes: the scope is
 * cleared) to be written before the next index is swapped in. The caller
 * asks for an index after it has written the VIP entries that use it.
 */
void map_worker_acl(struct map_worker *w, uint32_t scope, struct lbd_acl *acl);
/* Scopes whose list could not be written since the last call (a bit each), cleared. */
bool map_worker_failed_acls(struct map_worker *w, uint8_t failed[(LBD_ACL_SCOPES + 7) / 8]);
/* Rings handed over and not yet deleted, lists not yet written or swept, and indexes asked for and not yet in. */
uint32_t map_worker_pending(struct map_worker *w);

#endif
