/* SPDX-License-Identifier: GPL-2.0 */
/*
 * The data plane as lbd sees it: the loaded program, its pinned maps, the
 * interfaces it is attached to, and the sync that makes the maps say what
 * the configuration says.
 */
#ifndef LBD_DATAPLANE_H
#define LBD_DATAPLANE_H

#include "config.h"
#include "netlink.h"
#include "xlb_maps.h"

enum lbd_be_state { BE_UNKNOWN, BE_RESOLVED, BE_PENDING, BE_UNREACHABLE };

struct lbd_backend_rt {
	struct lbd_addr addr;	/* family 0: id free */
	bool referenced;	/* by some VIP in the current config */
	uint8_t mac[6];
	bool have_mac;		/* mac was right once: keep using it while re-resolving */
	enum lbd_be_state state;
	char why[160];
};

struct lbd_vip_rt {
	struct lbd_vip_cfg key;	/* addr, port, proto only */
	bool used, referenced;
	uint32_t ring_id, ring_size;
	uint32_t *slots;	/* the ring as the data plane has it: ids and moved marks */
	uint32_t *moved_at;	/* per slot: when it was first marked moved, in xlb_conn.seen units */
	uint32_t n_moved;	/* slots marked moved */
	bool forget_if_idle;	/* marked by this sync, and no packet had reached the VIP */
	uint64_t udp_keep_until_ns;	/* xlb_vip_meta's */
	bool fail_open;		/* every backend failed its check: all of them are in */
};

struct lbd_iface_rt {
	char name[IF_NAMESIZE];
	int ifindex;
	uint32_t prog_id;
	uint8_t mode;
	bool generic_fallback;
};

struct hc;

struct lbd_dp {
	struct xlb *skel;
	struct xlb_map_fds fds;
	struct nl_ctx *nl;
	struct lbd_backend_rt backends[XLB_MAX_BACKENDS];	/* index = backend id; 0 unused */
	struct lbd_vip_rt vips[XLB_MAX_VIPS];			/* index = vip id */
	struct lbd_iface_rt ifaces[LBD_MAX_IFACES];
	size_t n_ifaces;
	uint32_t conn_table_size;
	bool vip_index_stale;	/* vip_map changed since the program's index was built */
	const struct hc *hc;	/* health verdicts; NULL: every backend counts as healthy */
};

/* Loads the program, reusing maps pinned in pin_dir (and pinning new ones there). */
int lbd_dp_open(struct lbd_dp *dp, const char *pin_dir, uint32_t conn_table_size, char *err,
		size_t len);
void lbd_dp_close(struct lbd_dp *dp);

/* Makes the maps and attachments match cfg. Idempotent. */
int lbd_dp_sync(struct lbd_dp *dp, const struct lbd_config *cfg, char *err, size_t len);
/* Only the Maglev tables: what a health verdict or slow start changes. */
int lbd_dp_sync_rings(struct lbd_dp *dp, const struct lbd_config *cfg, char *err, size_t len);
/*
 * Forgets flows idle for conn_timeout seconds, and unmarks moved slots
 * that no remembered flow and no flow from before the move can need.
 */
int lbd_dp_sweep(struct lbd_dp *dp, uint32_t conn_timeout, char *err, size_t len);
/* Detaches from an interface that is no longer configured. */
int lbd_dp_detach(struct lbd_dp *dp, const char *dev, char *err, size_t len);

uint32_t lbd_dp_backend_id(const struct lbd_dp *dp, const struct lbd_addr *addr);
const struct lbd_vip_rt *lbd_dp_vip(const struct lbd_dp *dp, const struct lbd_vip_cfg *key,
				    uint32_t *vip_id);
/* Slots of the VIP's ring that hold backend id. */
uint32_t lbd_dp_ring_share(const struct lbd_vip_rt *vip, uint32_t id);

#endif
