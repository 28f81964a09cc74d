// SPDX-License-Identifier: GPL-2.0
#define _GNU_SOURCE
#include "vrrp.h"

#include <arpa/inet.h>
#include <errno.h>
#include <ifaddrs.h>
#include <linux/if_packet.h>
#include <net/ethernet.h>
#include <net/if.h>
#include <netinet/icmp6.h>
#include <netinet/in.h>
#include <netinet/ip.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/epoll.h>
#include <sys/ioctl.h>
#include <sys/socket.h>
#include <sys/timerfd.h>
#include <time.h>
#include <unistd.h>

#include "clock.h"
#include "log.h"
#include "netlink.h"
#include "source.h"
#include "xlb_maps.h"

/* lbd's loop hands a router socket's events here (see source.h). */
static void router_event(void *ctx, struct lbd_source *src, uint32_t events)
{
	(void)events;
	vrrp_receive(ctx, (struct vrrp_router *)src);
}

#define IPPROTO_VRRP		112
#define VRRP_VERSION		3
#define VRRP_TYPE_ADVERT	1
#define VRRP_HDR_LEN		8
#define VRRP_GARP_COUNT		3

static const uint8_t group4[4] = { 224, 0, 0, 18 };
static const uint8_t group6[16] = { 0xff, 0x02, [15] = 0x12 };
static const uint8_t all_nodes6[16] = { 0xff, 0x02, [15] = 0x01 };

const char *vrrp_state_name(enum vrrp_state s)
{
	return s == VRRP_MASTER ? "master" : s == VRRP_BACKUP ? "backup" : "init";
}

const char *vrrp_reject_name(enum vrrp_reject r)
{
	static const char *const names[VRRP_REJ_MAX] = {
		"bad_ttl", "bad_version", "bad_type", "bad_length", "bad_checksum", "bad_addresses",
		"bad_interval",
	};
	return r < VRRP_REJ_MAX ? names[r] : "?";
}

static size_t addr_len(const struct vrrp_router *r)
{
	return r->cfg.family == XLB_AF_INET ? 4 : 16;
}

static int sys_family(const struct vrrp_router *r)
{
	return r->cfg.family == XLB_AF_INET ? AF_INET : AF_INET6;
}

static void router_name(const struct vrrp_router *r, char *buf, size_t len)
{
	snprintf(buf, len, "vrrp %s vrid %u (IPv%c)", r->cfg.dev, r->cfg.vrid,
		 r->cfg.family == XLB_AF_INET ? '4' : '6');
}

/* Where the VIPs live and adverts leave: the virtual-MAC macvlan, or the interface itself. */
static int tx_fd(const struct vrrp_router *r)
{
	return r->cfg.vmac ? r->vmac_fd : r->fd;
}

static int vip_ifindex(const struct vrrp_router *r)
{
	return r->cfg.vmac ? r->vmac_ifindex : r->ifindex;
}

static const uint8_t *vip_mac(const struct vrrp_router *r)
{
	return r->cfg.vmac ? r->vmac : r->mac;
}

/* ---- timers (RFC 5798 section 6.1) ---- */

static uint64_t skew_us(const struct vrrp_router *r)
{
	return (uint64_t)(256 - r->priority) * r->master_adver_cs * 10000 / 256;
}

static uint64_t master_down_us(const struct vrrp_router *r)
{
	return 3ull * r->master_adver_cs * 10000 + skew_us(r);
}

/* ---- the wire ---- */

static uint32_t sum16(uint32_t sum, const void *p, size_t len)
{
	const uint8_t *b = p;

	for (size_t i = 0; i + 1 < len; i += 2)
		sum += (uint32_t)b[i] << 8 | b[i + 1];
	if (len & 1)
		sum += (uint32_t)b[len - 1] << 8;
	return sum;
}

uint16_t vrrp_checksum(int family, const void *src, const void *dst, const void *msg, size_t len)
{
	size_t alen = family == AF_INET ? 4 : 16;
	uint32_t sum = 0;

	/* Version 3 sums the pseudo-header for IPv4 too (RFC 5798 section 5.2.8). */
	sum = sum16(sum, src, alen);
	sum = sum16(sum, dst, alen);
	sum += (uint32_t)len + IPPROTO_VRRP;
	sum = sum16(sum, msg, len);
	while (sum >> 16)
		sum = (sum & 0xffff) + (sum >> 16);
	return (uint16_t)~sum;
}

static size_t build_advert(const struct vrrp_router *r, uint8_t priority, uint8_t *msg)
{
	size_t alen = addr_len(r), len = VRRP_HDR_LEN + r->cfg.n_addrs * alen;
	uint16_t csum;

	msg[0] = VRRP_VERSION << 4 | VRRP_TYPE_ADVERT;
	msg[1] = r->cfg.vrid;
	msg[2] = priority;
	msg[3] = (uint8_t)r->cfg.n_addrs;
	msg[4] = (uint8_t)(r->cfg.advert_cs >> 8 & 0x0f);
	msg[5] = (uint8_t)r->cfg.advert_cs;
	msg[6] = msg[7] = 0;
	for (size_t i = 0; i < r->cfg.n_addrs; i++)
		memcpy(msg + VRRP_HDR_LEN + i * alen, r->cfg.addrs[i].a, alen);
	csum = vrrp_checksum(sys_family(r), r->primary, r->cfg.family == XLB_AF_INET ? group4 : group6, msg, len);
	msg[6] = (uint8_t)(csum >> 8);
	msg[7] = (uint8_t)csum;
	return len;
}

static void send_advert(struct vrrp_router *r, uint8_t priority)
{
	uint8_t pkt[20 + VRRP_HDR_LEN + LBD_VRRP_MAX_ADDRS * 16];
	ssize_t n;

	if (r->cfg.family == XLB_AF_INET) {
		struct iphdr *ip = (struct iphdr *)pkt;
		size_t len = build_advert(r, priority, pkt + sizeof(*ip));
		struct sockaddr_in to = { .sin_family = AF_INET };

		memset(ip, 0, sizeof(*ip));
		ip->version = 4;
		ip->ihl = 5;
		ip->tos = 0xc0;		/* network control, as routers send their protocols */
		ip->tot_len = htons((uint16_t)(sizeof(*ip) + len));
		ip->ttl = 255;
		ip->protocol = IPPROTO_VRRP;
		memcpy(&ip->saddr, r->primary, 4);
		memcpy(&ip->daddr, group4, 4);
		memcpy(&to.sin_addr, group4, 4);
		n = sendto(tx_fd(r), pkt, sizeof(*ip) + len, 0, (struct sockaddr *)&to, sizeof(to));
	} else {
		size_t len = build_advert(r, priority, pkt);
		struct sockaddr_in6 to = { .sin6_family = AF_INET6, .sin6_scope_id = (uint32_t)r->ifindex };
		char cbuf[CMSG_SPACE(sizeof(struct in6_pktinfo))] = { 0 };
		struct iovec iov = { .iov_base = pkt, .iov_len = len };
		struct msghdr mh = { .msg_name = &to, .msg_namelen = sizeof(to), .msg_iov = &iov,
				     .msg_iovlen = 1, .msg_control = cbuf, .msg_controllen = sizeof(cbuf) };
		struct cmsghdr *c = CMSG_FIRSTHDR(&mh);
		struct in6_pktinfo pi = { .ipi6_ifindex = (unsigned int)r->ifindex };

		memcpy(&to.sin6_addr, group6, 16);
		memcpy(&pi.ipi6_addr, r->primary, 16);
		c->cmsg_level = IPPROTO_IPV6;
		c->cmsg_type = IPV6_PKTINFO;
		c->cmsg_len = CMSG_LEN(sizeof(pi));
		memcpy(CMSG_DATA(c), &pi, sizeof(pi));
		n = sendmsg(r->fd, &mh, 0);
	}
	if (n < 0) {
		char name[64];

		router_name(r, name, sizeof(name));
		lbd_warn("%s: cannot send an advertisement: %s", name, strerror(errno));
		return;
	}
	r->st.tx++;
	if (!priority)
		r->st.tx_priority0++;
}

/* Tells the segment that the VIPs now live at our MAC: gratuitous ARP, unsolicited NA. */
static void announce(struct vrrp_router *r)
{
	int fd;

	if (r->cfg.family == XLB_AF_INET) {
		struct sockaddr_ll to = { .sll_family = AF_PACKET, .sll_protocol = htons(ETH_P_ARP),
					  .sll_ifindex = vip_ifindex(r), .sll_halen = 6,
					  .sll_addr = { 0xff, 0xff, 0xff, 0xff, 0xff, 0xff } };

		fd = socket(AF_PACKET, SOCK_DGRAM | SOCK_CLOEXEC, htons(ETH_P_ARP));
		if (fd < 0)
			return;
		for (size_t i = 0; i < r->cfg.n_addrs; i++) {
			uint8_t arp[28] = { 0, 1, 8, 0, 6, 4, 0, 1 };	/* Ethernet, IPv4, request */

			memcpy(arp + 8, vip_mac(r), 6);
			memcpy(arp + 14, r->cfg.addrs[i].a, 4);
			memcpy(arp + 24, r->cfg.addrs[i].a, 4);
			sendto(fd, arp, sizeof(arp), 0, (struct sockaddr *)&to, sizeof(to));
		}
	} else {
		struct sockaddr_in6 to = { .sin6_family = AF_INET6, .sin6_scope_id = (uint32_t)r->ifindex };
		int hops = 255;

		fd = socket(AF_INET6, SOCK_RAW | SOCK_CLOEXEC, IPPROTO_ICMPV6);
		if (fd < 0)
			return;
		setsockopt(fd, IPPROTO_IPV6, IPV6_MULTICAST_HOPS, &hops, sizeof(hops));
		setsockopt(fd, IPPROTO_IPV6, IPV6_MULTICAST_IF, &r->ifindex, sizeof(r->ifindex));
		memcpy(&to.sin6_addr, all_nodes6, 16);
		for (size_t i = 0; i < r->cfg.n_addrs; i++) {
			uint8_t na[32] = { ND_NEIGHBOR_ADVERT, 0, 0, 0, 0x20 };	/* Override */

			memcpy(na + 8, r->cfg.addrs[i].a, 16);
			na[24] = ND_OPT_TARGET_LINKADDR;
			na[25] = 1;
			memcpy(na + 26, r->mac, 6);
			sendto(fd, na, sizeof(na), 0, (struct sockaddr *)&to, sizeof(to));
		}
	}
	close(fd);
}

static void set_addresses(struct vrrp *v, struct vrrp_router *r, bool add)
{
	for (size_t i = 0; i < r->cfg.n_addrs; i++) {
		int ret = nl_addr_set(v->nl, vip_ifindex(r), sys_family(r), r->cfg.addrs[i].a, add);

		if (ret) {
			char name[64], a[INET6_ADDRSTRLEN];

			router_name(r, name, sizeof(name));
			lbd_addr_format(&r->cfg.addrs[i], a, sizeof(a));
			lbd_warn("%s: cannot %s %s on %s: %s", name, add ? "add" : "remove", a, r->cfg.dev,
				 strerror(-ret));
		}
	}
}

_Static_assert(LBD_MAX_IFACES + LBD_MAX_VRRP <= XLB_MAX_OWN_MACS, "own_mac_map holds every MAC lbd owns");

/*
 * The virtual MACs of the routers that are master here, in own_mac_map:
 * frames to one are this node's to balance. A backup's macvlan is down,
 * so the kernel would drop a frame to its virtual MAC, and so does the
 * program: a switch that floods it reaches the master too.
 */
static void publish_vmacs(struct vrrp *v)
{
	struct xlb_own_mac macs[LBD_MAX_VRRP] = { 0 };
	size_t n = 0;
	int ret;

	if (!v->fds)
		return;
	for (size_t i = 0; i < v->n; i++) {
		const struct vrrp_router *r = v->r[i];

		if (!r->cfg.vmac || r->state != VRRP_MASTER)
			continue;
		macs[n].ifindex = (uint32_t)r->ifindex;
		memcpy(macs[n++].mac, r->vmac, 6);
	}
	ret = xlb_own_macs_set(v->fds, XLB_MAC_VRRP, macs, n);
	if (ret)
		lbd_warn("vrrp: cannot list the virtual MACs in own_mac_map: %s; frames to them are not "
			 "balanced", strerror(-ret));
}

/* ---- the state machine (RFC 5798 section 6.4) ---- */

static void become_master(struct vrrp *v, struct vrrp_router *r, const char *why)
{
	char name[64];
	uint64_t now = lbd_mono_us();

	r->state = VRRP_MASTER;
	if (r->cfg.vmac) {
		nl_link_set_up(v->nl, r->vmac_ifindex, true);
		/* Before the advert and the ARPs bring traffic to the virtual MAC. */
		publish_vmacs(v);
	}
	send_advert(r, r->priority);
	set_addresses(v, r, true);
	announce(r);
	r->garp_left = VRRP_GARP_COUNT - 1;
	r->adver_due = now + r->cfg.advert_cs * 10000ull;
	r->master_down_due = 0;
	r->master_adver_cs = r->cfg.advert_cs;
	memcpy(r->master_addr, r->primary, sizeof(r->master_addr));
	r->master_priority = r->priority;
	r->since_ms = lbd_wall_ms();
	r->st.became_master++;
	snprintf(r->why, sizeof(r->why), "%s", why);
	router_name(r, name, sizeof(name));
	lbd_info("%s: master (%s)", name, why);
}

static void become_backup(struct vrrp *v, struct vrrp_router *r, uint16_t master_adver_cs, const char *why)
{
	char name[64];
	bool was_master = r->state == VRRP_MASTER;

	if (was_master || r->state == VRRP_INIT) {
		set_addresses(v, r, false);
		/* A backup's macvlan stays down, so the virtual MAC is heard from one node only. */
		if (r->cfg.vmac)
			nl_link_set_up(v->nl, r->vmac_ifindex, false);
	}
	r->master_adver_cs = master_adver_cs;
	r->adver_due = 0;
	r->master_down_due = lbd_mono_us() + master_down_us(r);
	if (r->state != VRRP_BACKUP) {
		r->state = VRRP_BACKUP;
		r->since_ms = lbd_wall_ms();
		r->st.became_backup++;
		snprintf(r->why, sizeof(r->why), "%s", why);
		router_name(r, name, sizeof(name));
		lbd_info("%s: backup (%s)", name, why);
	}
	if (was_master && r->cfg.vmac)
		publish_vmacs(v);
}

static void startup(struct vrrp *v, struct vrrp_router *r)
{
	r->started_us = lbd_mono_us();
	if (r->priority == 255)
		become_master(v, r, "address owner");
	else
		become_backup(v, r, r->cfg.advert_cs, "started; waiting to hear a master");
}

static void arm(struct vrrp *v);

/* ---- receiving ---- */

static int addr_cmp(const struct vrrp_router *r, const uint8_t *a, const uint8_t *b)
{
	return memcmp(a, b, addr_len(r));
}

static void reject(struct vrrp_router *r, enum vrrp_reject why)
{
	char name[64];

	r->st.reject[why]++;
	router_name(r, name, sizeof(name));
	lbd_debug("%s: advertisement ignored: %s", name, vrrp_reject_name(why));
}

/* One advertisement, validated as section 7.1 says; src is the sender's address. */
static void on_advert(struct vrrp *v, struct vrrp_router *r, const uint8_t *src, int ttl, const uint8_t *msg,
		      size_t len)
{
	size_t alen = addr_len(r);
	uint16_t interval;
	uint8_t prio;
	char name[64], why[96], sa[INET6_ADDRSTRLEN];

	if (!addr_cmp(r, src, r->primary))
		return;		/* our own, looped back */
	r->st.rx++;
	if (ttl != 255)
		return reject(r, VRRP_REJ_TTL);
	if (len < VRRP_HDR_LEN)
		return reject(r, VRRP_REJ_LENGTH);
	if (msg[0] >> 4 != VRRP_VERSION)
		return reject(r, VRRP_REJ_VERSION);
	if ((msg[0] & 0x0f) != VRRP_TYPE_ADVERT)
		return reject(r, VRRP_REJ_TYPE);
	if (len < VRRP_HDR_LEN + (size_t)msg[3] * alen)
		return reject(r, VRRP_REJ_LENGTH);
	if (vrrp_checksum(sys_family(r), src, r->cfg.family == XLB_AF_INET ? group4 : group6, msg,
			  VRRP_HDR_LEN + (size_t)msg[3] * alen))
		return reject(r, VRRP_REJ_CHECKSUM);
	if (msg[1] != r->cfg.vrid) {
		r->st.rx_other_vrid++;
		return;
	}
	if (msg[3] != r->cfg.n_addrs)
		return reject(r, VRRP_REJ_ADDRS);
	for (size_t i = 0; i < r->cfg.n_addrs; i++) {
		bool found = false;

		for (size_t k = 0; k < r->cfg.n_addrs && !found; k++)
			found = !memcmp(msg + VRRP_HDR_LEN + i * alen, r->cfg.addrs[k].a, alen);
		if (!found)
			return reject(r, VRRP_REJ_ADDRS);
	}
	interval = (uint16_t)((msg[4] & 0x0f) << 8 | msg[5]);
	if (!interval)
		return reject(r, VRRP_REJ_INTERVAL);
	prio = msg[2];
	inet_ntop(sys_family(r), src, sa, sizeof(sa));
	if (!prio)
		r->st.rx_priority0++;

	uint64_t now = lbd_mono_us();

	if (r->state == VRRP_BACKUP) {
		bool delaying = now < r->started_us + r->cfg.preempt_delay_ms * 1000ull || r->hold_preempt;

		if (!prio) {
			/* The master is leaving: take over after Skew_Time, so the best backup goes first. */
			r->master_down_due = now + skew_us(r);
		} else if (r->cfg.no_preempt || delaying || prio >= r->priority) {
			r->master_adver_cs = interval;
			r->master_down_due = now + master_down_us(r);
			memcpy(r->master_addr, src, alen);
			r->master_priority = prio;
		} else {
			/* Preempting: the master is alive but below us. */
			memcpy(r->master_addr, src, alen);
			r->master_priority = prio;
		}
		/* else: a lower priority master and we preempt: let Master_Down_Timer run out. */
		return;
	}
	if (r->state != VRRP_MASTER)
		return;
	if (!prio) {
		send_advert(r, r->priority);
		r->adver_due = now + r->cfg.advert_cs * 10000ull;
		return;
	}
	if (prio > r->priority || (prio == r->priority && addr_cmp(r, src, r->primary) > 0)) {
		snprintf(why, sizeof(why), "%s advertises priority %u over our %u", sa, prio, r->priority);
		memcpy(r->master_addr, src, alen);
		r->master_priority = prio;
		become_backup(v, r, interval, why);
		return;
	}
	router_name(r, name, sizeof(name));
	lbd_debug("%s: ignoring %s at priority %u: ours is %u", name, sa, prio, r->priority);
}

void vrrp_receive(struct vrrp *v, struct vrrp_router *r)
{
	uint8_t buf[2048], src[16] = { 0 };

	for (;;) {
		if (r->cfg.family == XLB_AF_INET) {
			ssize_t n = recv(r->fd, buf, sizeof(buf), 0);
			const struct iphdr *ip = (const struct iphdr *)buf;
			size_t ihl, tot;

			if (n < 0)
				return;
			if ((size_t)n < sizeof(*ip) || (ihl = ip->ihl * 4u) < sizeof(*ip) || ihl > (size_t)n ||
			    ip->protocol != IPPROTO_VRRP) {
				r->st.rx++;
				reject(r, VRRP_REJ_LENGTH);
				continue;
			}
			tot = ntohs(ip->tot_len);
			if (tot > (size_t)n || tot < ihl)
				tot = (size_t)n;
			memcpy(src, &ip->saddr, 4);
			on_advert(v, r, src, ip->ttl, buf + ihl, tot - ihl);
		} else {
			struct sockaddr_in6 from;
			char cbuf[256];
			struct iovec iov = { .iov_base = buf, .iov_len = sizeof(buf) };
			struct msghdr mh = { .msg_name = &from, .msg_namelen = sizeof(from), .msg_iov = &iov,
					     .msg_iovlen = 1, .msg_control = cbuf, .msg_controllen = sizeof(cbuf) };
			ssize_t n = recvmsg(r->fd, &mh, 0);
			int hops = -1;

			if (n < 0)
				return;
			for (struct cmsghdr *c = CMSG_FIRSTHDR(&mh); c; c = CMSG_NXTHDR(&mh, c))
				if (c->cmsg_level == IPPROTO_IPV6 && c->cmsg_type == IPV6_HOPLIMIT)
					memcpy(&hops, CMSG_DATA(c), sizeof(hops));
			memcpy(src, &from.sin6_addr, 16);
			on_advert(v, r, src, hops, buf, (size_t)n);
		}
		/* An advertisement may have moved a deadline (priority 0: Skew_Time from now). */
		arm(v);
	}
}

/* ---- setting up ---- */

static int primary_address(struct vrrp_router *r)
{
	struct ifaddrs *ifa, *i;
	int ret = -ENOENT;

	if (getifaddrs(&ifa))
		return -errno;
	for (i = ifa; i && ret; i = i->ifa_next) {
		if (!i->ifa_addr || strcmp(i->ifa_name, r->cfg.dev) || i->ifa_addr->sa_family != sys_family(r))
			continue;
		if (r->cfg.family == XLB_AF_INET) {
			const struct sockaddr_in *sin = (const struct sockaddr_in *)i->ifa_addr;
			bool vip = false;

			/* Not one of the addresses we move around. */
			for (size_t k = 0; k < r->cfg.n_addrs; k++)
				vip |= !memcmp(r->cfg.addrs[k].a, &sin->sin_addr, 4);
			if (!vip) {
				memcpy(r->primary, &sin->sin_addr, 4);
				ret = 0;
			}
		} else {
			const struct sockaddr_in6 *sin6 = (const struct sockaddr_in6 *)i->ifa_addr;

			/* IPv6 advertisements come from the link-local address (section 5.1.2.2). */
			if (IN6_IS_ADDR_LINKLOCAL(&sin6->sin6_addr)) {
				memcpy(r->primary, &sin6->sin6_addr, 16);
				ret = 0;
			}
		}
	}
	freeifaddrs(ifa);
	return ret;
}

static void sysctl_write(const char *path, const char *value)
{
	FILE *f = fopen(path, "w");

	if (f) {
		fputs(value, f);
		fclose(f);
	}
}

/*
 * The virtual MAC (section 7.3): a private macvlan "vrrp.VRID" on the
 * interface with MAC 00-00-5e-00-01-VRID holds the VIPs and sends the
 * adverts, so after a failover the clients' ARP entries stay right.
 */
static int open_vmac(struct vrrp *v, struct vrrp_router *r, char *why, size_t len)
{
	struct nl_link link;
	char path[128];
	int one = 1, ret;

	snprintf(r->vmac_dev, sizeof(r->vmac_dev), "vrrp.%u", r->cfg.vrid);
	memcpy(r->vmac, (uint8_t[]){ 0x00, 0x00, 0x5e, 0x00, 0x01, r->cfg.vrid }, 6);
	if (nl_link_get(v->nl, r->vmac_dev, &link)) {
		ret = nl_macvlan_add(v->nl, r->ifindex, r->vmac_dev, r->vmac);
		if (ret || nl_link_get(v->nl, r->vmac_dev, &link))
			return snprintf(why, len, "cannot create macvlan %s on %s: %s", r->vmac_dev, r->cfg.dev,
					strerror(ret ? -ret : ENODEV)), -1;
	}
	r->vmac_ifindex = link.ifindex;
	nl_link_set_up(v->nl, r->vmac_ifindex, false);
	/* No IPv6 on it: its link-local traffic would teach switches the virtual MAC on every node. */
	snprintf(path, sizeof(path), "/proc/sys/net/ipv6/conf/%s/disable_ipv6", r->vmac_dev);
	sysctl_write(path, "1");
	/* The interface must not answer ARP for the VIPs with its own MAC. */
	snprintf(path, sizeof(path), "/proc/sys/net/ipv4/conf/%s/arp_ignore", r->cfg.dev);
	sysctl_write(path, "1");
	r->vmac_fd = socket(AF_INET, SOCK_RAW | SOCK_CLOEXEC, IPPROTO_VRRP);
	if (r->vmac_fd < 0 ||
	    setsockopt(r->vmac_fd, SOL_SOCKET, SO_BINDTODEVICE, r->vmac_dev, (socklen_t)strlen(r->vmac_dev)) ||
	    setsockopt(r->vmac_fd, IPPROTO_IP, IP_HDRINCL, &one, sizeof(one)))
		return snprintf(why, len, "advert socket on %s: %s", r->vmac_dev, strerror(errno)), -1;
	return 0;
}

static int open_socket(struct vrrp *v, struct vrrp_router *r, char *why, size_t len)
{
	struct nl_link link;
	int one = 1, zero = 0, hops = 255;
	int ret = nl_link_get(v->nl, r->cfg.dev, &link);

	if (ret)
		return snprintf(why, len, "no interface %s", r->cfg.dev), ret;
	r->ifindex = link.ifindex;
	memcpy(r->mac, link.mac, 6);
	ret = primary_address(r);
	if (ret)
		return snprintf(why, len, "%s has no %s address to advertise from", r->cfg.dev,
				r->cfg.family == XLB_AF_INET ? "IPv4" : "IPv6 link-local"), ret;
	r->fd = socket(sys_family(r), SOCK_RAW | SOCK_NONBLOCK | SOCK_CLOEXEC, IPPROTO_VRRP);
	if (r->fd < 0)
		return snprintf(why, len, "raw socket: %s", strerror(errno)), -errno;
	if (setsockopt(r->fd, SOL_SOCKET, SO_BINDTODEVICE, r->cfg.dev, (socklen_t)strlen(r->cfg.dev)))
		return snprintf(why, len, "bind to %s: %s", r->cfg.dev, strerror(errno)), -errno;
	if (r->cfg.family == XLB_AF_INET) {
		struct ip_mreqn mr = { .imr_ifindex = r->ifindex };

		memcpy(&mr.imr_multiaddr, group4, 4);
		if (setsockopt(r->fd, IPPROTO_IP, IP_HDRINCL, &one, sizeof(one)) ||
		    setsockopt(r->fd, IPPROTO_IP, IP_MULTICAST_LOOP, &zero, sizeof(zero)) ||
		    setsockopt(r->fd, IPPROTO_IP, IP_ADD_MEMBERSHIP, &mr, sizeof(mr)))
			return snprintf(why, len, "join 224.0.0.18 on %s: %s", r->cfg.dev, strerror(errno)), -errno;
	} else {
		struct ipv6_mreq mr = { .ipv6mr_interface = (unsigned int)r->ifindex };

		memcpy(&mr.ipv6mr_multiaddr, group6, 16);
		if (setsockopt(r->fd, IPPROTO_IPV6, IPV6_MULTICAST_HOPS, &hops, sizeof(hops)) ||
		    setsockopt(r->fd, IPPROTO_IPV6, IPV6_MULTICAST_LOOP, &zero, sizeof(zero)) ||
		    setsockopt(r->fd, IPPROTO_IPV6, IPV6_MULTICAST_IF, &r->ifindex, sizeof(r->ifindex)) ||
		    setsockopt(r->fd, IPPROTO_IPV6, IPV6_RECVHOPLIMIT, &one, sizeof(one)) ||
		    setsockopt(r->fd, IPPROTO_IPV6, IPV6_ADD_MEMBERSHIP, &mr, sizeof(mr)))
			return snprintf(why, len, "join ff02::12 on %s: %s", r->cfg.dev, strerror(errno)), -errno;
	}
	if (r->cfg.vmac && open_vmac(v, r, why, len))
		return -EINVAL;
	struct epoll_event ev = { .events = EPOLLIN, .data.ptr = r };

	if (epoll_ctl(v->epfd, EPOLL_CTL_ADD, r->fd, &ev))
		return snprintf(why, len, "epoll: %s", strerror(errno)), -errno;
	return 0;
}

static void arm(struct vrrp *v)
{
	uint64_t next = 0;
	struct itimerspec its = { 0 };

	for (size_t i = 0; i < v->n; i++) {
		struct vrrp_router *r = v->r[i];

		if (r->adver_due && (!next || r->adver_due < next))
			next = r->adver_due;
		if (r->master_down_due && (!next || r->master_down_due < next))
			next = r->master_down_due;
	}
	if (next) {
		its.it_value.tv_sec = (time_t)(next / 1000000);
		its.it_value.tv_nsec = (long)(next % 1000000) * 1000;
	}
	timerfd_settime(v->timer_fd, TFD_TIMER_ABSTIME, &its, NULL);
}

int vrrp_validate(struct vrrp *v, const struct lbd_vrrp_cfg *cfg, char *why, size_t len)
{
	struct vrrp_router r = { .cfg = *cfg };
	struct nl_link link;

	if (nl_link_get(v->nl, cfg->dev, &link))
		return snprintf(why, len, "vrrp: no interface %s here: check 'ip link'", cfg->dev), -ENODEV;
	if (primary_address(&r))
		return snprintf(why, len, "vrrp: %s has no %s address to advertise from: add one first", cfg->dev,
				cfg->family == XLB_AF_INET ? "IPv4" : "IPv6 link-local"), -EADDRNOTAVAIL;
	return 0;
}

int vrrp_init(struct vrrp *v, int epfd, struct nl_ctx *nl, const struct xlb_map_fds *fds)
{
	memset(v, 0, sizeof(*v));
	v->epfd = epfd;
	v->nl = nl;
	v->fds = fds;
	v->timer_fd = timerfd_create(CLOCK_MONOTONIC, TFD_NONBLOCK | TFD_CLOEXEC);
	return v->timer_fd < 0 ? -errno : 0;
}

static void router_free(struct vrrp *v, struct vrrp_router *r, bool graceful)
{
	if (graceful && r->state == VRRP_MASTER) {
		send_advert(r, 0);
		set_addresses(v, r, false);
	}
	if (r->fd >= 0) {
		epoll_ctl(v->epfd, EPOLL_CTL_DEL, r->fd, NULL);
		close(r->fd);
	}
	if (r->vmac_fd > 0)
		close(r->vmac_fd);
	if (r->vmac_ifindex)
		nl_link_del(v->nl, r->vmac_ifindex);
	free(r);
}

/*
 * The virtual MAC decides the router's devices and sockets (a macvlan and
 * its own socket, or none): a router whose vmac setting changes is
 * stopped as a graceful stop would and started afresh with the new ones.
 */
static bool same_router(const struct lbd_vrrp_cfg *a, const struct lbd_vrrp_cfg *b)
{
	return !strcmp(a->dev, b->dev) && a->vrid == b->vrid && a->family == b->family &&
	       a->vmac == b->vmac;
}

void vrrp_sync(struct vrrp *v, const struct lbd_config *cfg)
{
	/* Routers no longer configured step down as a graceful stop would. */
	for (size_t i = 0; i < v->n;) {
		bool keep = false;

		for (size_t k = 0; k < cfg->n_vrrp && !keep; k++)
			keep = same_router(&v->r[i]->cfg, &cfg->vrrp[k]);
		if (keep) {
			i++;
			continue;
		}
		router_free(v, v->r[i], true);
		v->r[i] = v->r[--v->n];
	}
	for (size_t k = 0; k < cfg->n_vrrp; k++) {
		struct vrrp_router *r = NULL;
		char name[64], why[128];

		for (size_t i = 0; i < v->n && !r; i++)
			if (same_router(&v->r[i]->cfg, &cfg->vrrp[k]))
				r = v->r[i];
		if (r) {
			if (memcmp(&r->cfg, &cfg->vrrp[k], sizeof(r->cfg))) {
				if (r->state == VRRP_MASTER)
					set_addresses(v, r, false);
				r->cfg = cfg->vrrp[k];
				r->priority = r->cfg.priority;	/* the next health tick lowers it if need be */
				if (r->state == VRRP_MASTER)
					set_addresses(v, r, true);
			}
			continue;
		}
		r = calloc(1, sizeof(*r));
		if (!r)
			return;
		r->source = (struct lbd_source){ router_event, v, "VRRP packets" };
		r->cfg = cfg->vrrp[k];
		r->fd = -1;
		r->vmac_fd = -1;
		r->priority = r->cfg.priority;
		r->master_adver_cs = r->cfg.advert_cs;
		router_name(r, name, sizeof(name));
		if (open_socket(v, r, why, sizeof(why))) {
			lbd_err("%s: %s; this virtual router does not run", name, why);
			router_free(v, r, false);
			continue;
		}
		v->r[v->n++] = r;
		startup(v, r);
	}
	/* Removed routers' virtual MACs go; and what an lbd before this one listed is corrected. */
	publish_vmacs(v);
	arm(v);
}

void vrrp_timer(struct vrrp *v)
{
	uint64_t expirations, now = lbd_mono_us();

	if (read(v->timer_fd, &expirations, sizeof(expirations)) < 0 && errno != EAGAIN)
		return;
	for (size_t i = 0; i < v->n; i++) {
		struct vrrp_router *r = v->r[i];

		if (r->state == VRRP_BACKUP && r->master_down_due && now >= r->master_down_due) {
			become_master(v, r, !r->master_priority ? "no master heard"
					    : r->master_priority < r->priority ? "preempting a lower-priority master"
									       : "the master went quiet");
		} else if (r->state == VRRP_MASTER && r->adver_due && now >= r->adver_due) {
			send_advert(r, r->priority);
			if (r->garp_left > 0) {
				announce(r);
				r->garp_left--;
			}
			r->adver_due += r->cfg.advert_cs * 10000ull;
			if (r->adver_due <= now)
				r->adver_due = now + r->cfg.advert_cs * 10000ull;
		}
	}
	arm(v);
}

void vrrp_hold_preempt(struct vrrp *v, bool hold)
{
	for (size_t i = 0; i < v->n; i++)
		v->r[i]->hold_preempt = hold;
}

void vrrp_set_healthy(struct vrrp *v, bool healthy)
{
	for (size_t i = 0; i < v->n; i++) {
		struct vrrp_router *r = v->r[i];
		uint8_t want = r->cfg.priority;

		/* The address owner (255) always owns; others step aside while they cannot balance. */
		if (!healthy && want != 255)
			want = want > r->cfg.fault_drop ? (uint8_t)(want - r->cfg.fault_drop) : 1;
		if (want == r->priority)
			continue;
		char name[64];

		router_name(r, name, sizeof(name));
		lbd_warn("%s: priority %u -> %u (%s)", name, r->priority, want,
			 healthy ? "balancing again" : "cannot balance: detached, or a VIP has no healthy backend");
		r->priority = want;
		/* Tell the peers at once rather than at the next interval. */
		if (r->state == VRRP_MASTER) {
			r->master_priority = want;
			send_advert(r, r->priority);
		}
	}
}

void vrrp_shutdown(struct vrrp *v)
{
	for (size_t i = 0; i < v->n; i++)
		router_free(v, v->r[i], true);
	v->n = 0;
	/* Their macvlans are gone: the program, which stays, must not take their MACs for ours. */
	publish_vmacs(v);
	if (v->timer_fd >= 0)
		close(v->timer_fd);
	v->timer_fd = -1;
}
