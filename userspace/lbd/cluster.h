/* SPDX-License-Identifier: GPL-2.0 */
/*
 * A node of a cluster: its VIPs and backends are the cluster's, held in one
 * etcd key (/xlb/NAME/config, lbd.conf's vip and backend lines), watched
 * and applied a whole revision at a time; a revision that does not parse
 * is refused and the node stays on the last good one. The last applied is
 * kept in a cache file, so a node restarted while etcd is away comes up on
 * it. lbctl's changes to VIPs and backends become compare-and-swap writes
 * of the whole key on the revision the node holds: of two writers at once
 * one wins and the other is told to try again, and nothing is lost.
 */
#ifndef LBD_CLUSTER_H
#define LBD_CLUSTER_H

#include <stdbool.h>
#include <stdint.h>

#include "config.h"
#include "etcd.h"
#include "source.h"

struct lbd;
struct out;
struct ctl_cursor;

#define CLUSTER_KEY_LEN		(LBD_CLUSTER_NAME_LEN + 16)
#define CLUSTER_MAX_DONE	64	/* write outcomes waiting for their lbctl to come back */

struct cluster {
	struct lbd_source src;
	struct etcd *etcd;
	char key[CLUSTER_KEY_LEN];
	char cache[PATH_MAX];
	int64_t revision;		/* etcd's mod_revision of the VIPs in force; 0: none yet */
	bool from_cache;		/* in force from the cache file, not yet confirmed by etcd */
	bool absent;			/* etcd holds no configuration for the cluster */
	/*
	 * The key's mod_revision as etcd holds it now (0: absent), whether
	 * applied or refused: what a change compares. A change may replace a
	 * revision no node can run (it did not parse, the key was deleted),
	 * built on the configuration in force; one that parsed but this node
	 * alone could not apply holds changes the others run, and is not
	 * written over from here.
	 */
	int64_t key_revision;
	bool key_unusable;		/* key_revision did not parse, or the key is gone */
	int64_t seen_revision;		/* the newest revision the watch brought, of any kind */
	int64_t refused_revision;	/* the newest revision refused; 0: none */
	char refused_error[LBD_ERR_LEN];
	uint64_t refused, applied;	/* revisions, since start */
	struct etcd_put_done done[CLUSTER_MAX_DONE];
	size_t n_done;
	/* The write under way: this node's next one waits for it, so that its own never collide. */
	uint64_t writing;
	uint64_t writing_since_ms;
};

static inline bool cluster_on(const struct lbd_config *cfg)
{
	return cfg->cluster.name[0] != 0;
}

/* At start, before the first sync: the cached VIPs into d->cfg (none cached: none). */
int cluster_load_cache(struct lbd *d, char *err, size_t len);
/* After daemon(): the etcd thread, its fd in the loop. */
int cluster_start(struct lbd *d, char *err, size_t len);
void cluster_stop(struct lbd *d);
/* The VIPs in force into next: a reload of the local file keeps the cluster's. */
int cluster_keep_vips(struct lbd *d, struct lbd_config *next, char *err, size_t len);
/* True when the command changes what the cluster owns (VIPs and backends) and the node is in one. */
bool cluster_owns(const struct lbd *d, const struct lbd_cmd *cmd);
/* Such a command, through etcd: it parks its client until etcd answered and the node applied it. */
int cluster_command(struct lbd *d, const struct lbd_cmd *cmd, struct ctl_cursor *cur, char *err, size_t len);
void cluster_show(struct lbd *d, struct out *o);

#endif
