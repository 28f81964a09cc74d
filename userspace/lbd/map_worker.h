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
 */
#ifndef LBD_MAP_WORKER_H
#define LBD_MAP_WORKER_H

#include <pthread.h>
#include <stdbool.h>
#include <stdint.h>

#include "xlb_maps.h"

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
/* Rings handed over and not yet deleted, and indexes asked for and not yet in. */
uint32_t map_worker_pending(struct map_worker *w);

#endif
