// SPDX-License-Identifier: GPL-2.0
#include "map_worker.h"

#include <bpf/bpf.h>
#include <errno.h>
#include <stdlib.h>
#include <string.h>
#include <sys/eventfd.h>
#include <unistd.h>

#include "log.h"

#define NO_RING UINT32_MAX

static bool take_ring(struct map_worker *w, uint32_t *ring_id)
{
	for (uint32_t id = 0; id < XLB_MAX_VIPS; id++)
		for (uint32_t k = 0; k < 2; k++)
			if (w->pending[id] & (1u << k)) {
				w->pending[id] &= ~(1u << k);
				*ring_id = id * 2 + k;
				return true;
			}
	return false;
}

/* Called and returns with the lock held. */
static void install_failed(struct map_worker *w, uint32_t ring_id, int ret)
{
	if (ret != w->install_error)
		lbd_err("cannot put ring %u in ring_map: %s (its table is built again)", ring_id, strerror(-ret));
	w->install_error = ret;
	w->install_failed[ring_id / 2] |= 1u << (ring_id & 1);
}

/*
 * Every ring handed over so far goes in, in one batch update of ring_map:
 * the kernel waits for one RCU grace period for the batch, not one a ring
 * (a reload that adds 500 VIPs). Called and returns with the lock held.
 */
static void install_rings(struct map_worker *w)
{
	uint32_t n = 0, done;
	int ret;

	for (uint32_t id = 0; w->installs && id < XLB_MAX_RINGS; id++) {
		if (w->install_fd[id] < 0)
			continue;
		w->batch_ids[n] = id;
		w->batch_fds[n++] = w->install_fd[id];
		w->install_fd[id] = -1;
		w->installs--;
	}
	if (!n)
		return;
	pthread_mutex_unlock(&w->lock);
	done = n;
	ret = xlb_ring_install_batch(&w->fds, w->batch_ids, w->batch_fds, &done);
	pthread_mutex_lock(&w->lock);
	if (ret) {
		/* The ones the batch did not take, one by one: which of them the kernel refuses. */
		for (uint32_t i = done; i < n; i++) {
			pthread_mutex_unlock(&w->lock);
			ret = xlb_ring_install(&w->fds, w->batch_ids[i], w->batch_fds[i]);
			pthread_mutex_lock(&w->lock);
			if (ret)
				install_failed(w, w->batch_ids[i], ret);
		}
	} else {
		w->install_error = 0;
	}
	for (uint32_t i = 0; i < n; i++)
		close(w->batch_fds[i]);
}

static void acl_free(struct lbd_acl *acl)
{
	if (!acl)
		return;
	lbd_acl_free(acl);
	free(acl);
}

/* Called and returns with the lock held. */
static void acl_failed(struct map_worker *w, uint32_t scope, int ret, const char *why)
{
	if (ret != w->acl_error)
		lbd_err("cannot write the allow and deny lists of %s %u: %s (lbd writes them again at the next change)",
			scope ? "VIP id" : "the global scope", scope ? scope - 1 : 0, why);
	w->acl_error = ret;
	w->acl_failed[scope / 8] |= 1u << (scope % 8);
}

/*
 * Every list handed over so far goes in; each waits then for its sweep. A
 * list that failed leaves the scope as it is (the old prefixes and those
 * written): no sweep would make it what was asked. Called and returns
 * with the lock held.
 */
static void write_acls(struct map_worker *w)
{
	char why[LBD_ERR_LEN];

	for (uint32_t scope = 0; w->acl_handed && scope < LBD_ACL_SCOPES; scope++) {
		struct lbd_acl *acl = w->acl_new[scope];
		uint64_t at = w->acl_new_at[scope];
		int ret;

		if (!acl)
			continue;
		w->acl_new[scope] = NULL;
		w->acl_handed--;
		pthread_mutex_unlock(&w->lock);
		ret = lbd_acl_write(w->fds.acl, scope, acl, why, sizeof(why));
		pthread_mutex_lock(&w->lock);
		if (w->acl_sweep[scope]) {
			/* Superseded: the newer list's sweep takes out what this one would have. */
			acl_free(w->acl_sweep[scope]);
			w->acl_sweep[scope] = NULL;
			w->acl_sweeps--;
		}
		if (ret) {
			acl_failed(w, scope, ret, why);
			acl_free(acl);
			continue;
		}
		w->acl_error = 0;
		w->acl_sweep[scope] = acl;
		w->acl_sweep_at[scope] = at;
		w->acl_sweeps++;
	}
}

/* The sweeps an index of generation gen, now in, allows. Called and returns with the lock held. */
static void sweep_acls(struct map_worker *w, uint64_t gen)
{
	char why[LBD_ERR_LEN];

	for (uint32_t scope = 0; w->acl_sweeps && scope < LBD_ACL_SCOPES; scope++) {
		struct lbd_acl *acl = w->acl_sweep[scope];
		int ret;

		if (!acl || w->acl_sweep_at[scope] >= gen)
			continue;
		w->acl_sweep[scope] = NULL;
		w->acl_sweeps--;
		pthread_mutex_unlock(&w->lock);
		ret = lbd_acl_sweep(w->fds.acl, scope, acl, why, sizeof(why));
		pthread_mutex_lock(&w->lock);
		if (ret)
			acl_failed(w, scope, ret, why);
		acl_free(acl);
	}
}

/* Called and returns with the lock held. */
static void swap_index(struct map_worker *w)
{
	uint64_t gen = w->index_wanted;
	uint64_t one = 1;
	int ret;

	install_rings(w);
	write_acls(w);
	pthread_mutex_unlock(&w->lock);
	/* Read from vip_map now: it holds every change made before the request. */
	ret = xlb_vip_index_build(&w->fds, w->index);
	pthread_mutex_lock(&w->lock);
	/*
	 * A VIP read above names a ring or uses a list handed over before its
	 * vip_map entry was written: in they go first.
	 */
	install_rings(w);
	write_acls(w);
	pthread_mutex_unlock(&w->lock);
	if (!ret)
		ret = xlb_vip_index_swap(&w->fds, w->index);
	if (ret)
		lbd_err("cannot write the VIP index: %s (lbd tries again at the next change)", strerror(-ret));
	pthread_mutex_lock(&w->lock);
	/* Before the generation is done: an lbctl reply that waits for it finds the old prefixes gone. */
	if (!ret)
		sweep_acls(w, gen);
	w->index_done = gen;
	w->index_error = ret;
	pthread_cond_broadcast(&w->done);
	if (write(w->event_fd, &one, sizeof(one)) < 0 && errno != EAGAIN)
		lbd_warn("map worker: eventfd: %s", strerror(errno));
}

/* Called and returns with the lock held. False: it failed, and stays pending. */
static bool delete_ring(struct map_worker *w, uint32_t ring_id)
{
	int ret;

	w->deleting = ring_id;
	pthread_mutex_unlock(&w->lock);
	ret = xlb_ring_del(&w->fds, ring_id);
	pthread_mutex_lock(&w->lock);
	w->deleting = NO_RING;
	pthread_cond_broadcast(&w->done);
	if (ret) {
		/* A ring left in the map costs memory, not correctness: tried again at the next hand-over. */
		if (ret != w->ring_error)
			lbd_warn("cannot drop ring %u from ring_map: %s (tried again later)", ring_id,
				 strerror(-ret));
		w->ring_error = ret;
		w->pending[ring_id / 2] |= 1u << (ring_id & 1);
		return false;
	}
	w->ring_error = 0;
	w->deleted++;
	return true;
}

static void *work(void *arg)
{
	struct map_worker *w = arg;
	uint32_t ring_id;

	pthread_mutex_lock(&w->lock);
	for (;;) {
		/* The index first, always: a ring given after a request is still in the index before it. */
		if (w->index_done < w->index_wanted) {
			swap_index(w);
			continue;
		}
		if (w->installs) {
			uint64_t one = 1;

			install_rings(w);
			/* The loop looks at failed installs when told of work done. */
			if (write(w->event_fd, &one, sizeof(one)) < 0 && errno != EAGAIN)
				lbd_warn("map worker: eventfd: %s", strerror(errno));
			continue;
		}
		if (take_ring(w, &ring_id) && delete_ring(w, ring_id))
			continue;
		/* Their index is asked for once the loop has written the VIPs that use them. */
		if (w->acl_handed) {
			write_acls(w);
			continue;
		}
		if (w->stopping)
			break;
		pthread_cond_wait(&w->work, &w->lock);
	}
	pthread_mutex_unlock(&w->lock);
	return NULL;
}

int map_worker_start(struct map_worker *w, const struct xlb_map_fds *fds)
{
	int ret;

	memset(w, 0, sizeof(*w));
	w->deleting = NO_RING;
	w->fds = *fds;
	for (uint32_t id = 0; id < XLB_MAX_RINGS; id++)
		w->install_fd[id] = -1;
	w->index = calloc(XLB_VIP_INDEX_SIZE, sizeof(*w->index));
	if (!w->index)
		return -ENOMEM;
	w->event_fd = eventfd(0, EFD_NONBLOCK | EFD_CLOEXEC);
	if (w->event_fd < 0) {
		free(w->index);
		return -errno;
	}
	pthread_mutex_init(&w->lock, NULL);
	pthread_cond_init(&w->work, NULL);
	pthread_cond_init(&w->done, NULL);
	ret = pthread_create(&w->thread, NULL, work, w);
	if (ret) {
		close(w->event_fd);
		w->event_fd = -1;
		free(w->index);
		return -ret;
	}
	w->running = true;
	return 0;
}

void map_worker_stop(struct map_worker *w)
{
	if (!w->running)
		return;
	pthread_mutex_lock(&w->lock);
	w->stopping = true;
	pthread_cond_signal(&w->work);
	pthread_mutex_unlock(&w->lock);
	pthread_join(w->thread, NULL);
	close(w->event_fd);
	free(w->index);
	for (uint32_t scope = 0; scope < LBD_ACL_SCOPES; scope++) {
		acl_free(w->acl_new[scope]);
		acl_free(w->acl_sweep[scope]);
	}
	pthread_mutex_destroy(&w->lock);
	pthread_cond_destroy(&w->work);
	pthread_cond_destroy(&w->done);
	w->running = false;
}

uint64_t map_worker_index(struct map_worker *w)
{
	uint64_t gen;

	pthread_mutex_lock(&w->lock);
	gen = ++w->index_wanted;
	pthread_cond_signal(&w->work);
	pthread_mutex_unlock(&w->lock);
	return gen;
}

int map_worker_index_wait(struct map_worker *w, uint64_t gen)
{
	int ret;

	pthread_mutex_lock(&w->lock);
	while (w->index_done < gen)
		pthread_cond_wait(&w->done, &w->lock);
	ret = w->index_error;
	pthread_mutex_unlock(&w->lock);
	return ret;
}

uint64_t map_worker_index_done(struct map_worker *w, int *error)
{
	uint64_t gen, count;

	if (read(w->event_fd, &count, sizeof(count)) < 0 && errno != EAGAIN)
		lbd_warn("map worker: eventfd: %s", strerror(errno));
	pthread_mutex_lock(&w->lock);
	gen = w->index_done;
	if (error)
		*error = w->index_error;
	pthread_mutex_unlock(&w->lock);
	return gen;
}

void map_worker_give(struct map_worker *w, uint8_t drop[XLB_MAX_VIPS])
{
	bool any = false;

	pthread_mutex_lock(&w->lock);
	for (uint32_t id = 0; id < XLB_MAX_VIPS; id++) {
		any |= drop[id] != 0;
		w->pending[id] |= drop[id];
		drop[id] = 0;
	}
	if (any)
		pthread_cond_signal(&w->work);
	pthread_mutex_unlock(&w->lock);
}

void map_worker_install(struct map_worker *w, uint32_t ring_id, int fd)
{
	pthread_mutex_lock(&w->lock);
	if (w->install_fd[ring_id] >= 0)
		close(w->install_fd[ring_id]);
	else
		w->installs++;
	w->install_fd[ring_id] = fd;
	pthread_cond_signal(&w->work);
	pthread_mutex_unlock(&w->lock);
}

void map_worker_acl(struct map_worker *w, uint32_t scope, struct lbd_acl *acl)
{
	pthread_mutex_lock(&w->lock);
	if (w->acl_new[scope])
		acl_free(w->acl_new[scope]);
	else
		w->acl_handed++;
	w->acl_new[scope] = acl;
	w->acl_new_at[scope] = w->index_wanted;
	pthread_cond_signal(&w->work);
	pthread_mutex_unlock(&w->lock);
}

bool map_worker_failed_acls(struct map_worker *w, uint8_t failed[(LBD_ACL_SCOPES + 7) / 8])
{
	bool any = false;

	pthread_mutex_lock(&w->lock);
	for (uint32_t i = 0; i < (LBD_ACL_SCOPES + 7) / 8; i++) {
		failed[i] = w->acl_failed[i];
		any |= failed[i] != 0;
		w->acl_failed[i] = 0;
	}
	pthread_mutex_unlock(&w->lock);
	return any;
}

bool map_worker_failed_installs(struct map_worker *w, uint8_t failed[XLB_MAX_VIPS])
{
	bool any = false;

	pthread_mutex_lock(&w->lock);
	for (uint32_t id = 0; id < XLB_MAX_VIPS; id++) {
		failed[id] = w->install_failed[id];
		any |= failed[id] != 0;
		w->install_failed[id] = 0;
	}
	pthread_mutex_unlock(&w->lock);
	return any;
}

void map_worker_claim(struct map_worker *w, uint32_t ring_id)
{
	pthread_mutex_lock(&w->lock);
	w->pending[ring_id / 2] &= ~(1u << (ring_id & 1));
	while (w->deleting == ring_id)
		pthread_cond_wait(&w->done, &w->lock);
	pthread_mutex_unlock(&w->lock);
}

uint32_t map_worker_pending(struct map_worker *w)
{
	uint32_t n = 0;

	pthread_mutex_lock(&w->lock);
	for (uint32_t id = 0; id < XLB_MAX_VIPS; id++)
		n += (uint32_t)__builtin_popcount(w->pending[id]);
	n += w->deleting != NO_RING;
	n += w->index_done < w->index_wanted;
	n += w->installs + w->acl_handed + w->acl_sweeps;
	pthread_mutex_unlock(&w->lock);
	return n;
}
