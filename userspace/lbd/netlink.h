/* SPDX-License-Identifier: GPL-2.0 */
/*
 * What lbd asks the kernel over rtnetlink (libmnl): interface facts, the
 * MAC of the next hop toward a backend, and change events to react to.
 */
#ifndef LBD_NETLINK_H
#define LBD_NETLINK_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

struct nl_ctx;

enum nl_event {
	NL_EV_NEIGH = 1 << 0,	/* a neighbour became usable, or went away */
	NL_EV_LINK = 1 << 1,	/* a link changed (up/down, MTU, deleted) */
	NL_EV_ADDR = 1 << 2,	/* an address was added or removed */
	NL_EV_ROUTE = 1 << 3,	/* a route changed */
};

int nl_open(struct nl_ctx **out);
void nl_close(struct nl_ctx *nl);
int nl_event_fd(const struct nl_ctx *nl);
/* Reads pending events without blocking: a mask of enum nl_event, all bits when events were lost. */
int nl_drain_events(struct nl_ctx *nl);

/* Neighbours that one drain saw change, so a daemon can ignore those it does not use. */
#define NL_EV_NEIGH_MAX 64
struct nl_neigh {
	uint8_t family;		/* AF_INET, AF_INET6 */
	uint8_t addr[16];
};
/* The last drain's neighbours; NULL when there were more than NL_EV_NEIGH_MAX, or events were lost. */
const struct nl_neigh *nl_event_neighbours(const struct nl_ctx *nl, size_t *n);

struct nl_link {
	int ifindex;
	unsigned int mtu;
	uint8_t mac[6];
	bool up;
};
int nl_link_get(struct nl_ctx *nl, const char *dev, struct nl_link *out);
/* First global address of family (AF_INET: 4 bytes, AF_INET6: 16) on ifindex; -ENOENT if none. */
int nl_link_addr(struct nl_ctx *nl, int ifindex, int family, void *addr);

/* Adds or removes a host address (/32 or /128) on ifindex. */
int nl_addr_set(struct nl_ctx *nl, int ifindex, int family, const void *addr, bool add);

/* The VRRP virtual MAC's device: a private-mode macvlan on parent. */
int nl_macvlan_add(struct nl_ctx *nl, int parent, const char *name, const uint8_t mac[6]);
int nl_link_set_up(struct nl_ctx *nl, int ifindex, bool up);
int nl_link_del(struct nl_ctx *nl, int ifindex);

enum nl_resolve {
	NL_RESOLVED = 0,	/* mac filled */
	NL_PENDING,		/* resolution triggered; an NL_EV_NEIGH event follows when it completes */
	NL_UNREACHABLE,		/* no route, or the route leaves through another interface */
};
/*
 * The MAC of the next hop toward dst through ifindex; why says what is
 * missing. hop (16 bytes, may be NULL) gets the next hop's address once
 * the route is known, else zeros.
 */
int nl_resolve(struct nl_ctx *nl, int family, const void *dst, int ifindex, uint8_t mac[6],
	       uint8_t *hop, char *why, size_t why_len);

#endif
