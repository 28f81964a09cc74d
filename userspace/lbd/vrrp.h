/* SPDX-License-Identifier: GPL-2.0 */
/*
 * VRRP version 3 (RFC 5798, as revised by RFC 9568) for IPv4 and IPv6:
 * the virtual routers lbd takes part in, so that one balancer of several
 * owns the VIPs and another takes over when it dies.
 */
#ifndef LBD_VRRP_H
#define LBD_VRRP_H

#include <stdbool.h>
#include <stdint.h>
#include "config.h"
#include "source.h"

struct nl_ctx;
struct xlb_map_fds;

enum vrrp_state { VRRP_INIT, VRRP_BACKUP, VRRP_MASTER };

/* Why a received advertisement was thrown away; each is counted. */
enum vrrp_reject {
	VRRP_REJ_TTL,		/* IP TTL / hop limit not 255: it crossed a router */
	VRRP_REJ_VERSION,	/* not version 3 */
	VRRP_REJ_TYPE,		/* not an advertisement */
	VRRP_REJ_LENGTH,	/* shorter than its header and addresses */
	VRRP_REJ_CHECKSUM,
	VRRP_REJ_ADDRS,		/* address count or list differs from ours */
	VRRP_REJ_INTERVAL,	/* a zero advertisement interval */
	VRRP_REJ_MAX,
};

struct vrrp_stats {
	uint64_t rx, tx, rx_other_vrid, rx_priority0, tx_priority0;
	uint64_t became_master, became_backup;
	uint64_t reject[VRRP_REJ_MAX];
};

struct vrrp_router {
	struct lbd_source source;	/* first: lbd's epoll dispatch */
	struct lbd_vrrp_cfg cfg;
	int ifindex, fd;
	uint8_t mac[6];
	/* With cfg.vmac: the macvlan that holds the VIPs and sends as 00-00-5e-00-01-VRID. */
	char vmac_dev[16];
	int vmac_ifindex, vmac_fd;
	uint8_t vmac[6];
	uint8_t primary[16];		/* the interface's address adverts come from */
	enum vrrp_state state;
	bool hold_preempt;		/* vrrp_hold_preempt() */
	uint8_t priority;		/* what we advertise now: cfg.priority, or less while unhealthy */
	uint16_t master_adver_cs;	/* the master's interval, learned from its adverts */
	uint64_t adver_due, master_down_due;	/* monotonic us; 0: not running */
	uint64_t started_us;		/* for the preempt delay */
	uint64_t since_ms;		/* wall clock of the last state change */
	uint8_t master_addr[16];	/* the current master's address and priority, as last heard */
	uint8_t master_priority;
	int garp_left;			/* gratuitous ARPs / NAs still to send after becoming master */
	char why[96];			/* the last state change's reason */
	struct vrrp_stats st;
};

struct vrrp {
	struct vrrp_router *r[LBD_MAX_VRRP];
	size_t n;
	int epfd, timer_fd;
	struct nl_ctx *nl;
	const struct xlb_map_fds *fds;	/* the data plane's: own_mac_map lists the masters' virtual MACs */
};

int vrrp_init(struct vrrp *v, int epfd, struct nl_ctx *nl, const struct xlb_map_fds *fds);
/* Can this router run here (its interface and an address to advertise from)? */
int vrrp_validate(struct vrrp *v, const struct lbd_vrrp_cfg *cfg, char *why, size_t len);
/* Routers for every entry of cfg; ones already running keep their state. */
void vrrp_sync(struct vrrp *v, const struct lbd_config *cfg);
/* The routers' timer and sockets: lbd calls these from its epoll loop. */
void vrrp_timer(struct vrrp *v);
void vrrp_receive(struct vrrp *v, struct vrrp_router *r);
/* healthy: this node can balance (attached, and every VIP has a backend that passes its check). */
void vrrp_set_healthy(struct vrrp *v, bool healthy);
/* hold: a backup does not preempt a lower-priority master (the node's flows are not in yet). */
void vrrp_hold_preempt(struct vrrp *v, bool hold);
/* Graceful stop: a master sends priority 0 so a backup takes over after Skew_Time. */
void vrrp_shutdown(struct vrrp *v);
const char *vrrp_state_name(enum vrrp_state s);
const char *vrrp_reject_name(enum vrrp_reject r);
/* Checksum of an advertisement with its pseudo-header (exposed for tests). */
uint16_t vrrp_checksum(int family, const void *src, const void *dst, const void *msg, size_t len);

#endif
