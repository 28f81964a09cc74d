// SPDX-License-Identifier: GPL-2.0
#include "netlink.h"

#include <arpa/inet.h>
#include <errno.h>
#include <fcntl.h>
#include <libmnl/libmnl.h>
#include <linux/if_addr.h>
#include <linux/if_link.h>
#include <linux/neighbour.h>
#include <linux/rtnetlink.h>
#include <net/if.h>
#include <netinet/in.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <time.h>
#include <unistd.h>

/* Large enough for a dump message on any page size. */
#define NL_BUF 32768

struct nl_ctx {
	struct mnl_socket *req, *ev;
	unsigned int portid, seq;
	char buf[NL_BUF];
	struct nl_neigh neigh[NL_EV_NEIGH_MAX];
	size_t n_neigh;
	bool neigh_overflow;
	int mask;		/* the drain under way */
};

#define NUD_USABLE (NUD_REACHABLE | NUD_STALE | NUD_DELAY | NUD_PROBE | NUD_PERMANENT | NUD_NOARP)

int nl_open(struct nl_ctx **out)
{
	struct nl_ctx *nl = calloc(1, sizeof(*nl));
	unsigned int groups = RTMGRP_NEIGH | RTMGRP_LINK | RTMGRP_IPV4_IFADDR | RTMGRP_IPV6_IFADDR |
			      RTMGRP_IPV4_ROUTE | RTMGRP_IPV6_ROUTE;
	int ret = -ENOMEM;

	if (!nl)
		return ret;
	nl->req = mnl_socket_open2(NETLINK_ROUTE, SOCK_CLOEXEC);
	nl->ev = mnl_socket_open2(NETLINK_ROUTE, SOCK_CLOEXEC | SOCK_NONBLOCK);
	if (!nl->req || !nl->ev || mnl_socket_bind(nl->req, 0, MNL_SOCKET_AUTOPID) ||
	    mnl_socket_bind(nl->ev, groups, MNL_SOCKET_AUTOPID)) {
		ret = -errno;
		nl_close(nl);
		return ret;
	}
	nl->portid = mnl_socket_get_portid(nl->req);
	nl->seq = (unsigned int)time(NULL);
	*out = nl;
	return 0;
}

void nl_close(struct nl_ctx *nl)
{
	if (!nl)
		return;
	if (nl->req)
		mnl_socket_close(nl->req);
	if (nl->ev)
		mnl_socket_close(nl->ev);
	free(nl);
}

int nl_event_fd(const struct nl_ctx *nl)
{
	return mnl_socket_get_fd(nl->ev);
}

static void note_neighbour(struct nl_ctx *nl, const struct nlmsghdr *nlh, const struct ndmsg *ndm)
{
	size_t alen = ndm->ndm_family == AF_INET ? 4 : 16;
	const struct nlattr *attr;

	mnl_attr_for_each(attr, nlh, sizeof(*ndm)) {
		if (mnl_attr_get_type(attr) != NDA_DST || mnl_attr_get_payload_len(attr) != alen)
			continue;
		if (nl->n_neigh == NL_EV_NEIGH_MAX) {
			nl->neigh_overflow = true;
			return;
		}
		memset(&nl->neigh[nl->n_neigh], 0, sizeof(nl->neigh[0]));
		nl->neigh[nl->n_neigh].family = ndm->ndm_family;
		memcpy(nl->neigh[nl->n_neigh++].addr, mnl_attr_get_payload(attr), alen);
		return;
	}
	nl->neigh_overflow = true;	/* no address: cannot tell whose it is */
}

static int event_cb(const struct nlmsghdr *nlh, void *data)
{
	struct nl_ctx *nl = data;
	const struct ndmsg *ndm;

	switch (nlh->nlmsg_type) {
	case RTM_NEWNEIGH:
	case RTM_DELNEIGH:
		ndm = mnl_nlmsg_get_payload(nlh);
		/* Resolution in progress (INCOMPLETE, FAILED) changes nothing we use. */
		if (nlh->nlmsg_type == RTM_NEWNEIGH && !(ndm->ndm_state & NUD_USABLE))
			break;
		nl->mask |= NL_EV_NEIGH;
		note_neighbour(nl, nlh, ndm);
		break;
	case RTM_NEWLINK: case RTM_DELLINK: nl->mask |= NL_EV_LINK; break;
	case RTM_NEWADDR: case RTM_DELADDR: nl->mask |= NL_EV_ADDR; break;
	case RTM_NEWROUTE: case RTM_DELROUTE: nl->mask |= NL_EV_ROUTE; break;
	}
	return MNL_CB_OK;
}

int nl_drain_events(struct nl_ctx *nl)
{
	nl->mask = 0;
	nl->n_neigh = 0;
	nl->neigh_overflow = false;
	for (;;) {
		ssize_t n = mnl_socket_recvfrom(nl->ev, nl->buf, sizeof(nl->buf));

		if (n < 0) {
			if (errno == EAGAIN || errno == EWOULDBLOCK)
				return nl->mask;
			if (errno == ENOBUFS) {
				nl->neigh_overflow = true;
				return NL_EV_NEIGH | NL_EV_LINK | NL_EV_ADDR | NL_EV_ROUTE;
			}
			return -errno;
		}
		mnl_cb_run(nl->buf, (size_t)n, 0, 0, event_cb, nl);
	}
}

const struct nl_neigh *nl_event_neighbours(const struct nl_ctx *nl, size_t *n)
{
	*n = nl->n_neigh;
	return nl->neigh_overflow ? NULL : nl->neigh;
}

/* Sends one request and runs cb over every reply message; the kernel's error code if any. */
static int talk(struct nl_ctx *nl, struct nlmsghdr *nlh, mnl_cb_t cb, void *data)
{
	ssize_t n;
	int ret;

	nlh->nlmsg_seq = ++nl->seq;
	/* A dump ends with NLMSG_DONE; a single get only with an ack, so ask for one. */
	if ((nlh->nlmsg_flags & NLM_F_DUMP) != NLM_F_DUMP)
		nlh->nlmsg_flags |= NLM_F_ACK;
	if (mnl_socket_sendto(nl->req, nlh, nlh->nlmsg_len) < 0)
		return -errno;
	do {
		n = mnl_socket_recvfrom(nl->req, nl->buf, sizeof(nl->buf));
		if (n < 0)
			return -errno;
		ret = mnl_cb_run(nl->buf, (size_t)n, nl->seq, nl->portid, cb, data);
	} while (ret == MNL_CB_OK);
	return ret == MNL_CB_ERROR ? -errno : 0;
}

/* ---- links and addresses ---- */

static int link_cb(const struct nlmsghdr *nlh, void *data)
{
	const struct ifinfomsg *ifi = mnl_nlmsg_get_payload(nlh);
	struct nl_link *link = data;
	const struct nlattr *attr;

	if (nlh->nlmsg_type != RTM_NEWLINK)
		return MNL_CB_OK;
	link->ifindex = ifi->ifi_index;
	link->up = ifi->ifi_flags & IFF_UP;
	mnl_attr_for_each(attr, nlh, sizeof(*ifi)) {
		if (mnl_attr_get_type(attr) == IFLA_MTU && !mnl_attr_validate(attr, MNL_TYPE_U32))
			link->mtu = mnl_attr_get_u32(attr);
		if (mnl_attr_get_type(attr) == IFLA_ADDRESS && mnl_attr_get_payload_len(attr) == 6)
			memcpy(link->mac, mnl_attr_get_payload(attr), 6);
	}
	return MNL_CB_OK;
}

int nl_link_get(struct nl_ctx *nl, const char *dev, struct nl_link *out)
{
	char buf[NL_BUF];
	struct nlmsghdr *nlh = mnl_nlmsg_put_header(buf);
	struct ifinfomsg *ifi;
	int ret;

	if (strlen(dev) >= IFNAMSIZ)
		return -ENODEV;
	nlh->nlmsg_type = RTM_GETLINK;
	nlh->nlmsg_flags = NLM_F_REQUEST;
	ifi = mnl_nlmsg_put_extra_header(nlh, sizeof(*ifi));
	ifi->ifi_family = AF_UNSPEC;
	mnl_attr_put_strz(nlh, IFLA_IFNAME, dev);
	memset(out, 0, sizeof(*out));
	ret = talk(nl, nlh, link_cb, out);
	return ret ? ret : out->ifindex ? 0 : -ENODEV;
}

struct addr_query {
	int ifindex, family;
	void *addr;
	bool found;
};

static int addr_cb(const struct nlmsghdr *nlh, void *data)
{
	const struct ifaddrmsg *ifa = mnl_nlmsg_get_payload(nlh);
	struct addr_query *q = data;
	const struct nlattr *attr;

	if (q->found || nlh->nlmsg_type != RTM_NEWADDR || (int)ifa->ifa_index != q->ifindex ||
	    ifa->ifa_family != q->family || ifa->ifa_scope != RT_SCOPE_UNIVERSE)
		return MNL_CB_OK;
	mnl_attr_for_each(attr, nlh, sizeof(*ifa)) {
		int type = mnl_attr_get_type(attr);
		size_t len = q->family == AF_INET ? 4 : 16;

		/* IFA_LOCAL is ours on point-to-point links; IFA_ADDRESS everywhere else. */
		if ((type == IFA_LOCAL || (type == IFA_ADDRESS && !q->found)) &&
		    mnl_attr_get_payload_len(attr) == len) {
			memcpy(q->addr, mnl_attr_get_payload(attr), len);
			q->found = true;
		}
	}
	return MNL_CB_OK;
}

int nl_link_addr(struct nl_ctx *nl, int ifindex, int family, void *addr)
{
	char buf[NL_BUF];
	struct nlmsghdr *nlh = mnl_nlmsg_put_header(buf);
	struct addr_query q = { .ifindex = ifindex, .family = family, .addr = addr };
	struct ifaddrmsg *ifa;
	int ret;

	nlh->nlmsg_type = RTM_GETADDR;
	nlh->nlmsg_flags = NLM_F_REQUEST | NLM_F_DUMP;
	ifa = mnl_nlmsg_put_extra_header(nlh, sizeof(*ifa));
	ifa->ifa_family = (unsigned char)family;
	ret = talk(nl, nlh, addr_cb, &q);
	return ret ? ret : q.found ? 0 : -ENOENT;
}

/* ---- next hops ---- */

struct route_answer {
	int oif, type;
	uint8_t gateway[16];
	bool has_gateway;
};

static int route_cb(const struct nlmsghdr *nlh, void *data)
{
	const struct rtmsg *rtm = mnl_nlmsg_get_payload(nlh);
	struct route_answer *r = data;
	const struct nlattr *attr;

	if (nlh->nlmsg_type != RTM_NEWROUTE)
		return MNL_CB_OK;
	r->type = rtm->rtm_type;
	mnl_attr_for_each(attr, nlh, sizeof(*rtm)) {
		int type = mnl_attr_get_type(attr);
		size_t len = mnl_attr_get_payload_len(attr);

		if (type == RTA_OIF && len == 4)
			r->oif = (int)mnl_attr_get_u32(attr);
		if (type == RTA_GATEWAY && (len == 4 || len == 16)) {
			memcpy(r->gateway, mnl_attr_get_payload(attr), len);
			r->has_gateway = true;
		}
	}
	return MNL_CB_OK;
}

struct neigh_answer {
	uint16_t state;
	uint8_t mac[6];
	bool has_mac;
};

static int neigh_cb(const struct nlmsghdr *nlh, void *data)
{
	const struct ndmsg *ndm = mnl_nlmsg_get_payload(nlh);
	struct neigh_answer *n = data;
	const struct nlattr *attr;

	if (nlh->nlmsg_type != RTM_NEWNEIGH)
		return MNL_CB_OK;
	n->state = ndm->ndm_state;
	mnl_attr_for_each(attr, nlh, sizeof(*ndm)) {
		if (mnl_attr_get_type(attr) == NDA_LLADDR && mnl_attr_get_payload_len(attr) == 6) {
			memcpy(n->mac, mnl_attr_get_payload(attr), 6);
			n->has_mac = true;
		}
	}
	return MNL_CB_OK;
}

/*
 * Nothing in the kernel resolves a neighbour on request; sending it a packet
 * does. An empty UDP datagram to the discard port, sent out of the device,
 * makes the kernel send ARP or a neighbour solicitation.
 */
static void provoke_resolution(int family, const void *addr, const char *dev)
{
	struct sockaddr_in6 s6 = { .sin6_family = AF_INET6, .sin6_port = htons(9) };
	struct sockaddr_in s4 = { .sin_family = AF_INET, .sin_port = htons(9) };
	int fd = socket(family, SOCK_DGRAM | SOCK_CLOEXEC | SOCK_NONBLOCK, 0);

	if (fd < 0)
		return;
	setsockopt(fd, SOL_SOCKET, SO_BINDTODEVICE, dev, (socklen_t)strlen(dev) + 1);
	if (family == AF_INET) {
		memcpy(&s4.sin_addr, addr, 4);
		sendto(fd, "", 0, 0, (struct sockaddr *)&s4, sizeof(s4));
	} else {
		memcpy(&s6.sin6_addr, addr, 16);
		sendto(fd, "", 0, 0, (struct sockaddr *)&s6, sizeof(s6));
	}
	close(fd);
}

int nl_resolve(struct nl_ctx *nl, int family, const void *dst, int ifindex, uint8_t mac[6],
	       uint8_t *hop_out, char *why, size_t why_len)
{
	char buf[NL_BUF], a[INET6_ADDRSTRLEN], hop[INET6_ADDRSTRLEN];
	char dev[IF_NAMESIZE] = "?", odev[IF_NAMESIZE] = "?";
	size_t alen = family == AF_INET ? 4 : 16;
	struct route_answer r = { 0 };
	struct neigh_answer n = { 0 };
	struct nlmsghdr *nlh;
	struct rtmsg *rtm;
	struct ndmsg *ndm;
	const void *next;
	char dummy[1];
	int ret;

	if (!why) {
		why = dummy;
		why_len = sizeof(dummy);
	}
	inet_ntop(family, dst, a, sizeof(a));
	if_indextoname((unsigned int)ifindex, dev);
	if (hop_out)
		memset(hop_out, 0, 16);

	nlh = mnl_nlmsg_put_header(buf);
	nlh->nlmsg_type = RTM_GETROUTE;
	nlh->nlmsg_flags = NLM_F_REQUEST;
	rtm = mnl_nlmsg_put_extra_header(nlh, sizeof(*rtm));
	rtm->rtm_family = (unsigned char)family;
	rtm->rtm_dst_len = (unsigned char)(alen * 8);
	mnl_attr_put(nlh, RTA_DST, alen, dst);
	ret = talk(nl, nlh, route_cb, &r);
	if (ret == -ENETUNREACH || ret == -EHOSTUNREACH || ret == -ENOENT) {
		snprintf(why, why_len, "no route to %s through %s", a, dev);
		return NL_UNREACHABLE;
	}
	if (ret)
		return ret;
	if (r.type == RTN_LOCAL) {
		snprintf(why, why_len, "%s is an address of this host", a);
		return NL_UNREACHABLE;
	}
	if (r.type != RTN_UNICAST || r.oif != ifindex) {
		if_indextoname((unsigned int)r.oif, odev);
		snprintf(why, why_len, "no route to %s through %s (the route leaves via %s)", a, dev, odev);
		return NL_UNREACHABLE;
	}
	next = r.has_gateway ? (const void *)r.gateway : dst;
	inet_ntop(family, next, hop, sizeof(hop));
	if (hop_out)
		memcpy(hop_out, next, alen);

	nlh = mnl_nlmsg_put_header(buf);
	nlh->nlmsg_type = RTM_GETNEIGH;
	nlh->nlmsg_flags = NLM_F_REQUEST;
	ndm = mnl_nlmsg_put_extra_header(nlh, sizeof(*ndm));
	ndm->ndm_family = (unsigned char)family;
	ndm->ndm_ifindex = ifindex;
	mnl_attr_put(nlh, NDA_DST, alen, next);
	ret = talk(nl, nlh, neigh_cb, &n);
	if (ret && ret != -ENOENT)
		return ret;
	if (!ret && (n.state & NUD_USABLE) && n.has_mac) {
		memcpy(mac, n.mac, 6);
		return NL_RESOLVED;
	}
	provoke_resolution(family, next, dev);
	if (r.has_gateway)
		snprintf(why, why_len, "resolving next hop %s for %s on %s", hop, a, dev);
	else
		snprintf(why, why_len, "resolving %s on %s", a, dev);
	return NL_PENDING;
}

/* ---- addresses that VRRP adds and removes ---- */

int nl_addr_set(struct nl_ctx *nl, int ifindex, int family, const void *addr, bool add)
{
	char buf[NL_BUF];
	struct nlmsghdr *nlh = mnl_nlmsg_put_header(buf);
	size_t len = family == AF_INET ? 4 : 16;
	struct ifaddrmsg *ifa;
	int ret;

	nlh->nlmsg_type = add ? RTM_NEWADDR : RTM_DELADDR;
	nlh->nlmsg_flags = NLM_F_REQUEST | (add ? NLM_F_CREATE | NLM_F_REPLACE : 0);
	ifa = mnl_nlmsg_put_extra_header(nlh, sizeof(*ifa));
	ifa->ifa_family = (unsigned char)family;
	ifa->ifa_prefixlen = (unsigned char)(len * 8);
	ifa->ifa_scope = RT_SCOPE_UNIVERSE;
	ifa->ifa_index = (unsigned int)ifindex;
	/* A VIP moves between nodes: IPv6 duplicate address detection would only delay it. */
	if (family == AF_INET6)
		ifa->ifa_flags = IFA_F_NODAD;
	mnl_attr_put(nlh, IFA_LOCAL, len, addr);
	mnl_attr_put(nlh, IFA_ADDRESS, len, addr);
	ret = talk(nl, nlh, NULL, NULL);
	/* Adding what is there, or removing what is not, leaves the wanted state. */
	if ((add && ret == -EEXIST) || (!add && ret == -EADDRNOTAVAIL))
		ret = 0;
	return ret;
}

/* ---- the VRRP virtual MAC: a macvlan on the interface ---- */

int nl_macvlan_add(struct nl_ctx *nl, int parent, const char *name, const uint8_t mac[6])
{
	char buf[NL_BUF];
	struct nlmsghdr *nlh = mnl_nlmsg_put_header(buf);
	struct nlattr *info, *data;
	struct ifinfomsg *ifi;

	nlh->nlmsg_type = RTM_NEWLINK;
	nlh->nlmsg_flags = NLM_F_REQUEST | NLM_F_CREATE | NLM_F_EXCL;
	ifi = mnl_nlmsg_put_extra_header(nlh, sizeof(*ifi));
	ifi->ifi_family = AF_UNSPEC;
	mnl_attr_put_strz(nlh, IFLA_IFNAME, name);
	mnl_attr_put_u32(nlh, IFLA_LINK, (uint32_t)parent);
	mnl_attr_put(nlh, IFLA_ADDRESS, 6, mac);
	info = mnl_attr_nest_start(nlh, IFLA_LINKINFO);
	mnl_attr_put_strz(nlh, IFLA_INFO_KIND, "macvlan");
	data = mnl_attr_nest_start(nlh, IFLA_INFO_DATA);
	/* private: the macvlan talks to the wire only, never to its siblings. */
	mnl_attr_put_u32(nlh, IFLA_MACVLAN_MODE, MACVLAN_MODE_PRIVATE);
	mnl_attr_nest_end(nlh, data);
	mnl_attr_nest_end(nlh, info);
	return talk(nl, nlh, NULL, NULL);
}

int nl_link_set_up(struct nl_ctx *nl, int ifindex, bool up)
{
	char buf[NL_BUF];
	struct nlmsghdr *nlh = mnl_nlmsg_put_header(buf);
	struct ifinfomsg *ifi;

	nlh->nlmsg_type = RTM_NEWLINK;
	nlh->nlmsg_flags = NLM_F_REQUEST;
	ifi = mnl_nlmsg_put_extra_header(nlh, sizeof(*ifi));
	ifi->ifi_family = AF_UNSPEC;
	ifi->ifi_index = ifindex;
	ifi->ifi_change = IFF_UP;
	ifi->ifi_flags = up ? IFF_UP : 0;
	return talk(nl, nlh, NULL, NULL);
}

int nl_link_del(struct nl_ctx *nl, int ifindex)
{
	char buf[NL_BUF];
	struct nlmsghdr *nlh = mnl_nlmsg_put_header(buf);
	struct ifinfomsg *ifi;

	nlh->nlmsg_type = RTM_DELLINK;
	nlh->nlmsg_flags = NLM_F_REQUEST;
	ifi = mnl_nlmsg_put_extra_header(nlh, sizeof(*ifi));
	ifi->ifi_family = AF_UNSPEC;
	ifi->ifi_index = ifindex;
	return talk(nl, nlh, NULL, NULL);
}
