/* SPDX-License-Identifier: GPL-2.0 */
/*
 * Announcing VIPs through BIRD: lbd owns one file that BIRD's configuration
 * includes, with a static protocol per family listing the VIPs this node
 * announces now, and asks BIRD to reread it over BIRD's control socket.
 * BIRD owns the BGP sessions; lbd never talks BGP.
 */
#ifndef LBD_BGP_H
#define LBD_BGP_H

#include <stdbool.h>
#include <stdint.h>

#include "config.h"
#include "out.h"
#include "source.h"

/* What lbd's data plane says of one configured VIP, in config order. */
struct bgp_verdict {
	bool can;		/* the data path is ready and the VIP's rule allows it */
	bool health;		/* when not: because no backend is up (hold-down applies) */
	char why[96];
	/*
	 * can, but a backend is still being looked up for the first time: a VIP
	 * not announced yet waits (its table is about to change), one announced
	 * stays so.
	 */
	bool settling;
	char settling_why[96];
};

struct bgp_vip {
	struct lbd_addr addr;
	uint16_t port;
	uint8_t proto;
	uint8_t announce;	/* enum lbd_announce */
	bool announced;
	bool held;		/* withdrawn for health: back only after hold-down */
	uint64_t can_since_ms;	/* monotonic; 0 while it cannot */
	uint64_t since_ms;	/* wall clock of the last change of announced */
	char why[96];
};

/* One conversation with BIRD: connect, its greeting, "configure", the reply. */
struct bgp_bird {
	struct lbd_source source;	/* first: lbd's epoll dispatch */
	int fd;
	int phase;
	uint64_t deadline_ms;
	size_t len;
	char buf[4096];
	char first_error[160];	/* BIRD's first error line of this reply */
};

struct bgp {
	int epfd;
	struct lbd_bgp_cfg cfg;		/* the paths in use; bird_socket empty: off */
	bool retiring;			/* bgp del: withdraw everything once, then off */
	bool stopping, stop_rendered, stop_failed, had_routes;
	struct bgp_vip *vips;
	size_t n_vips;
	char *text;			/* the file as written last (or found at start) */
	bool need_configure;
	struct bgp_bird *conv;		/* the conversation under way, if any */
	uint64_t next_try_ms, backoff_ms;
	uint64_t configures, failures, last_ok_ms, last_fail_ms;
	char last_error[256];
	char last_reply[128];
};

void bgp_init(struct bgp *b, int epfd);
void bgp_free(struct bgp *b);
/* The configuration's bgp settings, after every commit: new paths, or off. */
void bgp_set(struct bgp *b, const struct lbd_bgp_cfg *cfg);
/* Which VIPs to announce now; v has one entry per cfg->vips. */
void bgp_update(struct bgp *b, const struct lbd_config *cfg, const struct bgp_verdict *v);
/* Retries and timeouts; called on lbd's fine tick. */
void bgp_tick(struct bgp *b);
void bgp_event(struct bgp *b, struct bgp_bird *c, uint32_t events);
/* lbd stops: everything withdrawn. Done once BIRD took it or refused it. */
void bgp_stop(struct bgp *b);
bool bgp_stop_done(const struct bgp *b);
/* Was anything announced when the stop began, and BIRD told of the withdrawal (then the routers need withdraw-delay)? */
bool bgp_had_routes(const struct bgp *b);
void bgp_show(const struct bgp *b, const struct lbd_config *cfg, struct out *o);

#endif
