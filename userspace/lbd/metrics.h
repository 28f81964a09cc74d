/* SPDX-License-Identifier: GPL-2.0 */
/*
 * Prometheus metrics over HTTP (libmicrohttpd, its own thread). lbd's loop
 * never renders a scrape: once a second and after every commit it publishes
 * an immutable snapshot of what only it knows (labels, ids, weights, states,
 * health, routers, announcements), swapped in under a mutex; the HTTP thread
 * renders a scrape from the snapshot it holds a reference to, and reads the
 * data plane's per-CPU counters itself, so they are as fresh as the scrape.
 */
#ifndef LBD_METRICS_H
#define LBD_METRICS_H

#include <pthread.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>

#include "config.h"
#include "dataplane.h"
#include "out.h"
#include "xlb_maps.h"

struct hc;
struct vrrp;
struct bgp;
struct metrics_snapshot;
struct MHD_Daemon;

/* The cluster's configuration (cluster.h) and flow sharing (sync.h), as lbd's loop last saw them. */
struct metrics_cluster {
	bool on;			/* a cluster line */
	bool etcd_up, stale;
	int64_t revision;
	uint64_t refused;
	bool sync_on, joined;
	uint64_t sent_flows, installed;
	uint64_t rejected[7];		/* bad_auth, malformed, oversized, replayed, stale, unknown_peer, unplaced */
	uint64_t dropped[3];		/* queue, rate, send_error */
};

/* What a snapshot is taken from: lbd's running state, read on its loop. */
struct metrics_sources {
	const struct lbd_config *cfg;
	const struct lbd_dp *dp;
	const struct hc *hc;
	const struct vrrp *vrrp;
	const struct bgp *bgp;
	lbd_shown_state_fn state;
	void *state_ctx;
	uint64_t gen;		/* counts changes of cfg: the same, and the labels of the last snapshot hold */
	struct metrics_cluster cluster;
};

struct metrics_retired;

struct metrics {
	pthread_mutex_t lock;			/* over snap, scrapes, retired and closing */
	struct metrics_snapshot *snap;		/* the latest; a scrape holds a reference of its own */
	uint64_t scrapes;
	struct MHD_Daemon *mhd;			/* NULL: not serving */
	/*
	 * Stopping a server waits for the scrape it renders: the loop only
	 * quiesces it and queues it here, and the reaper thread stops it.
	 */
	struct metrics_retired *retired;
	pthread_cond_t retire;			/* a server queued, or closing */
	pthread_t reaper;
	bool closing;				/* metrics_free: the reaper ends once the queue is empty */
	struct lbd_metrics_cfg serving;		/* where mhd listens */
	struct xlb_map_fds fds;			/* lbd's counter maps, dup'ed: the HTTP thread's own */
	char error[LBD_ERR_LEN];		/* why the configured address is not served */
};

int metrics_init(struct metrics *m, const struct xlb_map_fds *fds);
void metrics_free(struct metrics *m);
/*
 * Can the server listen at next? Only a new address is checked: one that
 * could not be bound at start must not refuse every later command.
 */
int metrics_check(const struct metrics *m, const struct lbd_metrics_cfg *running, const struct lbd_metrics_cfg *next,
		  char *err, size_t len);
/*
 * Serves at cfg (stopping a server elsewhere), or stops (port 0); a failure
 * is logged once and kept for show, and the next call tries again.
 */
void metrics_apply(struct metrics *m, const struct lbd_metrics_cfg *cfg);
/* A new snapshot for the scrapes from now on. */
void metrics_publish(struct metrics *m, const struct metrics_sources *src);
void metrics_show(struct metrics *m, const struct lbd_metrics_cfg *cfg, struct out *o);

/* The exposition text of the current snapshot and the maps' counters now, as a scrape gets it. */
void metrics_render(struct metrics *m, FILE *f);

#endif
