// SPDX-License-Identifier: GPL-2.0
#include "sweep_reader.h"

#include <bpf/bpf.h>
#include <errno.h>
#include <stdlib.h>
#include <string.h>

void sweep_walk_begin(struct sweep_walk *w, unsigned int tables)
{
	*w = (struct sweep_walk){ .tables = tables, .table = tables & 1u ? 0 : 1, .first = true };
}

void sweep_walk_next(struct sweep_walk *w, const int fds[2], struct sweep_batch *b)
{
	LIBBPF_OPTS(bpf_map_batch_opts, opts);
	uint64_t out = 0;
	bool ended = false;

	b->count = SWEEP_BATCH;
	b->table = w->table;
	b->error = 0;
	b->last = false;
	if (bpf_map_lookup_batch(fds[w->table], w->first ? NULL : &w->cursor, &out, b->keys, b->vals,
				 &b->count, &opts)) {
		if (errno != ENOENT) {
			b->error = -errno;
			b->count = 0;
			b->last = true;
			return;
		}
		ended = true;
	}
	w->first = false;
	w->cursor = out;
	if (!ended)
		return;
	if (w->table == 0 && (w->tables & 2u)) {
		w->table = 1;	/* on to the second table, from its start */
		w->first = true;
	} else {
		b->last = true;
	}
}

static void *walk(void *arg)
{
	struct sweep_reader *r = arg;
	struct sweep_walk w = { 0 };
	uint64_t pass = 0;

	pthread_mutex_lock(&r->lock);
	while (!r->stopping) {
		struct sweep_batch *b;

		if (!r->walking || r->read - r->taken >= SWEEP_AHEAD) {
			pthread_cond_wait(&r->work, &r->lock);
			continue;
		}
		if (pass != r->pass) {
			pass = r->pass;
			sweep_walk_begin(&w, r->tables);
		}
		/* Not among the batches ready, nor the one the loop holds: read - taken < SWEEP_AHEAD. */
		b = &r->batches[r->read % SWEEP_AHEAD];
		pthread_mutex_unlock(&r->lock);
		sweep_walk_next(&w, r->fds, b);
		pthread_mutex_lock(&r->lock);
		/* Begun afresh or cancelled while it read: the read is void, and the walk restarts above. */
		if (pass != r->pass || !r->walking) {
			pass = 0;
			continue;
		}
		r->read++;
		if (b->last)
			r->walking = false;
	}
	pthread_mutex_unlock(&r->lock);
	return NULL;
}

int sweep_reader_start(struct sweep_reader *r, int first_fd, int second_fd)
{
	int ret;

	memset(r, 0, sizeof(*r));
	r->fds[0] = first_fd;
	r->fds[1] = second_fd;
	r->batches = calloc(SWEEP_AHEAD, sizeof(*r->batches));
	if (!r->batches)
		return -ENOMEM;
	pthread_mutex_init(&r->lock, NULL);
	pthread_cond_init(&r->work, NULL);
	ret = pthread_create(&r->thread, NULL, walk, r);
	if (ret) {
		pthread_mutex_destroy(&r->lock);
		pthread_cond_destroy(&r->work);
		free(r->batches);
		r->batches = NULL;
		return -ret;
	}
	r->running = true;
	return 0;
}

void sweep_reader_stop(struct sweep_reader *r)
{
	if (!r->running)
		return;
	pthread_mutex_lock(&r->lock);
	r->stopping = true;
	pthread_cond_signal(&r->work);
	pthread_mutex_unlock(&r->lock);
	pthread_join(r->thread, NULL);
	pthread_mutex_destroy(&r->lock);
	pthread_cond_destroy(&r->work);
	free(r->batches);
	r->batches = NULL;
	r->running = false;
}

static void restart(struct sweep_reader *r, bool walking, unsigned int tables)
{
	pthread_mutex_lock(&r->lock);
	r->pass++;
	r->tables = tables;
	r->read = r->taken = 0;
	r->walking = walking;
	pthread_cond_signal(&r->work);
	pthread_mutex_unlock(&r->lock);
}

void sweep_reader_begin(struct sweep_reader *r, unsigned int tables)
{
	restart(r, true, tables);
}

void sweep_reader_cancel(struct sweep_reader *r)
{
	restart(r, false, 0);
}

struct sweep_batch *sweep_reader_take(struct sweep_reader *r)
{
	struct sweep_batch *b = NULL;

	pthread_mutex_lock(&r->lock);
	if (r->read > r->taken)
		b = &r->batches[r->taken % SWEEP_AHEAD];
	pthread_mutex_unlock(&r->lock);
	return b;
}

void sweep_reader_done(struct sweep_reader *r)
{
	pthread_mutex_lock(&r->lock);
	r->taken++;
	pthread_cond_signal(&r->work);
	pthread_mutex_unlock(&r->lock);
}

struct sweep_batch *sweep_reader_next(struct sweep_reader *r, struct sweep_walk *w, const int fds[2],
				      struct sweep_batch **own)
{
	if (r->running)
		return sweep_reader_take(r);
	if (!*own)
		*own = malloc(sizeof(**own));
	if (!*own)
		return NULL;
	sweep_walk_next(w, fds, *own);
	return *own;
}
