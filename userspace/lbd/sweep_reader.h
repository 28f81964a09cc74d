/* SPDX-License-Identifier: GPL-2.0 */
/*
 * Walks of the two flow tables, off lbd's loop. One batch read of a hash
 * map walks buckets until it has its entries or reaches the end, however
 * many buckets are empty: with conn-table-size 8M a batch of a sparse
 * table (moved_map nearly always, conn_map at a quiet hour) took 26 ms in
 * one syscall, ~200 ms at 64M, and held the loop that long. A reader's
 * thread walks its two tables, fds[0] then fds[1], a few batches ahead of
 * the loop, which takes each batch when it is there and handles it in its
 * bounded steps. The sweep's reader walks conn_map then moved_map
 * (deleting idle flows, counting, unmarking stay on the loop); flow
 * sharing's walks moved_map then conn_map for a peer's dump (sync.c).
 */
#ifndef LBD_SWEEP_READER_H
#define LBD_SWEEP_READER_H

#include <pthread.h>
#include <stdbool.h>
#include <stdint.h>

#include "xlb_common.h"

/* Entries a batch read: small enough that handling one overshoots a step's budget by little. */
#define SWEEP_BATCH	1024
/*
 * Batches read ahead of the loop, which takes what is ready each 20 ms
 * tick: 8 a tick is 400k entries a second (a 1M table in under 3 s) at
 * about a fifth of a core (the kernel's read: 400 to 650 ns an entry).
 */
#define SWEEP_AHEAD	8

struct sweep_batch {
	struct xlb_flow_key keys[SWEEP_BATCH];
	struct xlb_conn vals[SWEEP_BATCH];
	uint32_t count;
	int table;	/* which of the walk's tables: 0, fds[0]; 1, fds[1] */
	bool last;	/* the walk's last batch: fds[1] ended */
	int error;	/* -errno of the read; the pass ends with it */
};

/* Both tables, for sweep_walk_begin() and sweep_reader_begin(): bit k is fds[k]. */
#define SWEEP_BOTH	3u

/* Where a walk of the two tables is: fds[0], then fds[1], each if its bit is in tables. */
struct sweep_walk {
	unsigned int tables;	/* the walk's: a table not in it is never read */
	int table;		/* 0: fds[0], 1: fds[1] */
	bool first;		/* no batch of this table yet: its walk starts afresh */
	uint64_t cursor;	/* bpf_map_lookup_batch's place */
};

struct sweep_reader {
	pthread_t thread;
	bool running, stopping;
	pthread_mutex_t lock;
	pthread_cond_t work;	/* a pass begun, a place freed, or stopping */
	int fds[2];		/* the tables, in the walk's order: lbd's, they outlive the thread */
	struct sweep_batch *batches;	/* SWEEP_AHEAD of them, a ring */
	uint64_t read, taken;	/* batches read and taken this pass: read - taken are ready */
	uint64_t pass;		/* the walk asked for; the thread starts afresh when it changes */
	unsigned int tables;	/* that walk's tables (sweep_walk.tables) */
	bool walking;		/* the pass's walk has not ended */
};

/* Starts the thread over two tables, walked first_fd then second_fd. -errno when it cannot: the loop then reads them itself. */
int sweep_reader_start(struct sweep_reader *r, int first_fd, int second_fd);
void sweep_reader_stop(struct sweep_reader *r);
/*
 * A new walk of the tables in the mask, from their starts (not 0); what
 * the last one left unread or untaken is dropped.
 */
void sweep_reader_begin(struct sweep_reader *r, unsigned int tables);
/* Ends the walk early (a failed pass). */
void sweep_reader_cancel(struct sweep_reader *r);
/* The next batch read, or NULL while the thread has none ready; never waits. */
struct sweep_batch *sweep_reader_take(struct sweep_reader *r);
/*
 * The walk's next batch: the thread's (sweep_reader_take()), or, where it
 * could not start, one read here with w over fds into *own (allocated at
 * the first). NULL while the thread has none ready.
 */
struct sweep_batch *sweep_reader_next(struct sweep_reader *r, struct sweep_walk *w, const int fds[2],
				      struct sweep_batch **own);
/* The batch take() gave is handled: its place may be read into again. */
void sweep_reader_done(struct sweep_reader *r);
/* A walk of the tables in the mask (not 0), from the first's start. */
void sweep_walk_begin(struct sweep_walk *w, unsigned int tables);
/* The walk's next batch into *b (the thread's reads, and the loop's where there is no thread). */
void sweep_walk_next(struct sweep_walk *w, const int fds[2], struct sweep_batch *b);

#endif /* LBD_SWEEP_READER_H */
