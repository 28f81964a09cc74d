// SPDX-License-Identifier: GPL-2.0
#include "dataplane.h"
#include "health.h"

#include <arpa/inet.h>
#include <bpf/bpf.h>
#include <bpf/libbpf.h>
#include <errno.h>
#include <limits.h>
#include <linux/if_link.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>
#include <xdp/libxdp.h>

#include "clock.h"
#include "hash.h"
#include "log.h"
#include "maglev.h"
#include "xlb.skel.h"

static int fail(char *err, size_t len, int ret, const char *fmt, ...) __attribute__((format(printf, 4, 5)));
static int fail(char *err, size_t len, int ret, const char *fmt, ...)
{
	va_list ap;

	va_start(ap, fmt);
	vsnprintf(err, len, fmt, ap);
	va_end(ap);
	return ret;
}

/* A map pinned by an earlier lbd keeps its size; sizing ours the same lets libbpf reuse it. */
static void match_pinned_size(struct bpf_map *map, const char *path)
{
	struct bpf_map_info info = { 0 };
	uint32_t info_len = sizeof(info);
	int fd = bpf_obj_get(path);

	if (fd < 0)
		return;
	if (!bpf_obj_get_info_by_fd(fd, &info, &info_len) && info.max_entries != bpf_map__max_entries(map)) {
		if (!strcmp(bpf_map__name(map), "conn_map"))
			lbd_warn("conn-table-size %u differs from the pinned connection table's %u: keeping "
				 "the pinned one (and its flows); remove %s to resize",
				 bpf_map__max_entries(map), info.max_entries, path);
		bpf_map__set_max_entries(map, info.max_entries);
	}
	close(fd);
}

static void adopt_maps(struct lbd_dp *dp)
{
	struct xlb_vip_key key, next, *prev = NULL;
	struct xlb_vip_meta meta;
	struct xlb_backend be;

	for (uint32_t id = 1; id < XLB_MAX_BACKENDS; id++) {
		if (bpf_map_lookup_elem(dp->fds.backend, &id, &be) || !be.family)
			continue;
		dp->backends[id].addr.family = be.family;
		memcpy(dp->backends[id].addr.a, be.addr, sizeof(be.addr));
		/* A restart must not stop traffic while neighbours are looked up again. */
		memcpy(dp->backends[id].mac, be.mac, 6);
		dp->backends[id].have_mac = be.flags & XLB_BACKEND_F_UP;
	}
	while (!bpf_map_get_next_key(dp->fds.vip, prev, &next)) {
		key = next;
		prev = &key;
		if (!key.proto || bpf_map_lookup_elem(dp->fds.vip, &key, &meta) || meta.vip_id >= XLB_MAX_VIPS)
			continue;
		struct lbd_vip_rt *v = &dp->vips[meta.vip_id];

		v->used = true;
		v->key.addr.family = key.family;
		memcpy(v->key.addr.a, key.addr, sizeof(key.addr));
		v->key.port = ntohs(key.port);
		v->key.proto = key.proto;
		v->ring_id = meta.ring_id;
		v->ring_size = meta.ring_size;
		v->udp_keep_until_ns = meta.udp_keep_until_ns;
	}
}

int lbd_dp_open(struct lbd_dp *dp, const char *pin_dir, uint32_t conn_table_size, char *err, size_t len)
{
	char path[PATH_MAX];
	struct bpf_map *map;
	int ret;

	memset(dp, 0, sizeof(*dp));
	if (mkdir(pin_dir, 0700) && errno != EEXIST)
		return fail(err, len, -errno, "cannot create pin dir %s: %s (is bpffs mounted? mount -t bpf bpf /sys/fs/bpf)",
			    pin_dir, strerror(errno));
	dp->skel = xlb__open();
	if (!dp->skel)
		return fail(err, len, -errno, "cannot open the BPF object: %s", strerror(errno));
	bpf_map__set_max_entries(dp->skel->maps.conn_map, conn_table_size);
	bpf_object__for_each_map(map, dp->skel->obj) {
		snprintf(path, sizeof(path), "%s/%s", pin_dir, bpf_map__name(map));
		match_pinned_size(map, path);
		bpf_map__set_pin_path(map, path);
	}
	ret = xlb__load(dp->skel);
	if (ret) {
		xlb__destroy(dp->skel);
		dp->skel = NULL;
		return fail(err, len, ret, "cannot load the XDP program: %s (maps pinned in %s from an "
			    "incompatible version? remove them to start afresh)", strerror(-ret), pin_dir);
	}
	dp->conn_table_size = bpf_map__max_entries(dp->skel->maps.conn_map);
	ret = xlb_map_fds_from_obj(dp->skel->obj, &dp->fds);
	if (!ret)
		ret = nl_open(&dp->nl);
	if (ret) {
		lbd_dp_close(dp);
		return fail(err, len, ret, "cannot set up maps or netlink: %s", strerror(-ret));
	}
	adopt_maps(dp);
	/* The first sync builds the index even if vip_map is as pinned: the index may be missing. */
	dp->vip_index_stale = true;
	return 0;
}

void lbd_dp_close(struct lbd_dp *dp)
{
	for (int i = 0; i < XLB_MAX_VIPS; i++) {
		free(dp->vips[i].slots);
		free(dp->vips[i].moved_at);
	}
	if (dp->nl)
		nl_close(dp->nl);
	/* Maps stay pinned and the program attached: forwarding outlives lbd. */
	if (dp->skel)
		xlb__destroy(dp->skel);
	memset(dp, 0, sizeof(*dp));
}

/* ---- attachment ---- */

static uint32_t prog_id_of_fd(int fd)
{
	struct bpf_prog_info info = { 0 };
	uint32_t len = sizeof(info);

	return bpf_obj_get_info_by_fd(fd, &info, &len) ? 0 : info.id;
}

/*
 * True when old_fd is the very program we would attach, working on our
 * pinned maps: same instructions (the tag ignores map fds) and our
 * connection table among its maps. A restarted lbd then keeps it as is.
 */
static bool is_our_program(int old_fd, const struct bpf_prog_info *old, int new_fd, int conn_fd)
{
	struct bpf_prog_info mine = { 0 }, maps = { 0 };
	struct bpf_map_info conn = { 0 };
	uint32_t len = sizeof(mine), mlen = sizeof(conn), ids[64];

	if (bpf_obj_get_info_by_fd(new_fd, &mine, &len) || memcmp(mine.tag, old->tag, sizeof(mine.tag)))
		return false;
	if (bpf_obj_get_info_by_fd(conn_fd, &conn, &mlen))
		return false;
	maps.nr_map_ids = old->nr_map_ids < 64 ? old->nr_map_ids : 64;
	maps.map_ids = (uint64_t)(uintptr_t)ids;
	len = sizeof(maps);
	if (bpf_obj_get_info_by_fd(old_fd, &maps, &len))
		return false;
	for (uint32_t i = 0; i < maps.nr_map_ids && i < 64; i++)
		if (ids[i] == conn.id)
			return true;
	return false;
}

static int attach_iface(struct lbd_dp *dp, const struct lbd_iface_cfg *cfg, struct lbd_iface_rt *rt,
			char *err, size_t len)
{
	int prog_fd = bpf_program__fd(dp->skel->progs.xlb_xdp), old_fd, ret;
	LIBBPF_OPTS(bpf_xdp_query_opts, q);
	struct bpf_prog_info info = { 0 };
	uint32_t info_len = sizeof(info);
	struct xdp_program *xp;
	struct nl_link link;
	enum xdp_attach_mode mode;

	ret = nl_link_get(dp->nl, cfg->name, &link);
	if (ret)
		return fail(err, len, ret, "no interface %s here: check 'ip link'", cfg->name);
	memset(rt, 0, sizeof(*rt));
	strcpy(rt->name, cfg->name);
	rt->ifindex = link.ifindex;
	rt->mode = cfg->mode;

	ret = bpf_xdp_query(link.ifindex, 0, &q);
	if (ret)
		return fail(err, len, ret, "cannot query XDP on %s: %s", cfg->name, strerror(-ret));
	if (q.prog_id) {
		old_fd = bpf_prog_get_fd_by_id(q.prog_id);
		if (old_fd < 0 || bpf_obj_get_info_by_fd(old_fd, &info, &info_len)) {
			if (old_fd >= 0)
				close(old_fd);
			return fail(err, len, -EBUSY, "%s runs XDP program id %u that lbd cannot inspect",
				    cfg->name, q.prog_id);
		}
		if (strcmp(info.name, "xlb_xdp")) {
			close(old_fd);
			return fail(err, len, -EBUSY, "%s already runs XDP program '%s' (id %u): remove it "
				    "first (ip link set dev %s xdp off)", cfg->name, info.name, q.prog_id, cfg->name);
		}
		if (is_our_program(old_fd, &info, prog_fd, dp->fds.conn)) {
			close(old_fd);
			rt->generic_fallback = q.attach_mode == XDP_ATTACHED_SKB && cfg->mode == LBD_XDP_NATIVE;
			rt->prog_id = q.prog_id;
			lbd_info("%s: adopted the attached XDP program id %u", cfg->name, q.prog_id);
			return 0;
		}
		/* An earlier lbd's program (an upgrade): replace it in one step, so no packet goes unhandled. */
		LIBBPF_OPTS(bpf_xdp_attach_opts, opts, .old_prog_fd = old_fd);
		__u32 flags = XDP_FLAGS_REPLACE |
			      (q.attach_mode == XDP_ATTACHED_SKB ? XDP_FLAGS_SKB_MODE : XDP_FLAGS_DRV_MODE);

		ret = bpf_xdp_attach(link.ifindex, prog_fd, flags, &opts);
		close(old_fd);
		if (ret)
			return fail(err, len, ret, "cannot replace the XDP program on %s: %s", cfg->name,
				    strerror(-ret));
		rt->generic_fallback = q.attach_mode == XDP_ATTACHED_SKB && cfg->mode == LBD_XDP_NATIVE;
		rt->prog_id = prog_id_of_fd(prog_fd);
		lbd_info("%s: took over from XDP program id %u", cfg->name, q.prog_id);
		return 0;
	}

	mode = cfg->mode == LBD_XDP_GENERIC ? XDP_MODE_SKB : XDP_MODE_NATIVE;
	xp = xdp_program__from_fd(dup(prog_fd));
	if (libxdp_get_error(xp))
		return fail(err, len, -EINVAL, "libxdp cannot use the program");
	ret = xdp_program__attach(xp, link.ifindex, mode, 0);
	if (ret && mode == XDP_MODE_NATIVE) {
		lbd_warn("%s: native XDP failed (%s); falling back to generic mode, which is much slower",
			 cfg->name, strerror(-ret));
		ret = xdp_program__attach(xp, link.ifindex, XDP_MODE_SKB, 0);
		rt->generic_fallback = !ret;
	}
	xdp_program__close(xp);
	if (ret)
		return fail(err, len, ret, "cannot attach to %s: %s", cfg->name, strerror(-ret));
	rt->prog_id = prog_id_of_fd(prog_fd);
	lbd_info("%s: attached in %s mode", cfg->name,
		 mode == XDP_MODE_SKB || rt->generic_fallback ? "generic" : "native");
	return 0;
}

int lbd_dp_detach(struct lbd_dp *dp, const char *dev, char *err, size_t len)
{
	for (size_t i = 0; i < dp->n_ifaces; i++) {
		struct lbd_iface_rt *rt = &dp->ifaces[i];
		LIBBPF_OPTS(bpf_xdp_query_opts, q);

		if (strcmp(rt->name, dev))
			continue;
		if (!bpf_xdp_query(rt->ifindex, 0, &q) && q.prog_id) {
			__u32 flags = q.attach_mode == XDP_ATTACHED_SKB ? XDP_FLAGS_SKB_MODE : XDP_FLAGS_DRV_MODE;
			int ret = bpf_xdp_detach(rt->ifindex, flags, NULL);

			if (ret)
				return fail(err, len, ret, "cannot detach from %s: %s", dev, strerror(-ret));
		}
		lbd_info("%s: detached", dev);
		dp->ifaces[i] = dp->ifaces[--dp->n_ifaces];
		return 0;
	}
	return 0;
}

static int sync_ifaces(struct lbd_dp *dp, const struct lbd_config *cfg, char *err, size_t len)
{
	int ret;

	for (size_t i = 0; i < dp->n_ifaces;) {
		bool wanted = false;

		for (size_t j = 0; j < cfg->n_ifaces; j++)
			wanted |= !strcmp(cfg->ifaces[j].name, dp->ifaces[i].name);
		if (wanted) {
			i++;
			continue;
		}
		ret = lbd_dp_detach(dp, dp->ifaces[i].name, err, len);
		if (ret)
			return ret;
	}
	for (size_t j = 0; j < cfg->n_ifaces; j++) {
		bool have = false;

		for (size_t i = 0; i < dp->n_ifaces; i++)
			have |= !strcmp(cfg->ifaces[j].name, dp->ifaces[i].name);
		if (have)
			continue;
		ret = attach_iface(dp, &cfg->ifaces[j], &dp->ifaces[dp->n_ifaces], err, len);
		if (ret)
			return ret;
		dp->n_ifaces++;
	}
	return 0;
}

/* ---- backends ---- */

uint32_t lbd_dp_backend_id(const struct lbd_dp *dp, const struct lbd_addr *addr)
{
	for (uint32_t id = 1; id < XLB_MAX_BACKENDS; id++)
		if (lbd_addr_eq(&dp->backends[id].addr, addr))
			return id;
	return 0;
}

/* New ids go round the table, so an id freed now is not given to another address soon. */
static uint32_t alloc_backend_id(struct lbd_dp *dp, const struct lbd_addr *addr)
{
	static uint32_t cursor;

	for (uint32_t n = 0; n < XLB_MAX_BACKENDS - 1; n++) {
		uint32_t id = 1 + (cursor + n) % (XLB_MAX_BACKENDS - 1);

		if (!dp->backends[id].addr.family) {
			memset(&dp->backends[id], 0, sizeof(dp->backends[id]));
			dp->backends[id].addr = *addr;
			xlb_traffic_clear(dp->fds.backend_stats, id);
			cursor = id;
			return id;
		}
	}
	return 0;
}

static void resolve_backend(struct lbd_dp *dp, struct lbd_backend_rt *b)
{
	char a[INET6_ADDRSTRLEN];
	uint8_t mac[6];
	int ret;

	if (!dp->n_ifaces) {
		b->state = BE_PENDING;
		snprintf(b->why, sizeof(b->why), "not attached to any interface: lbctl attach DEV");
		return;
	}
	ret = nl_resolve(dp->nl, b->addr.family == XLB_AF_INET ? AF_INET : AF_INET6, b->addr.a,
			 dp->ifaces[0].ifindex, mac, b->why, sizeof(b->why));
	if (ret < 0) {
		lbd_addr_format(&b->addr, a, sizeof(a));
		b->state = BE_PENDING;
		snprintf(b->why, sizeof(b->why), "netlink error resolving %s: %s", a, strerror(-ret));
		return;
	}
	b->state = ret == NL_RESOLVED ? BE_RESOLVED : ret == NL_PENDING ? BE_PENDING : BE_UNREACHABLE;
	if (b->state == BE_RESOLVED) {
		memcpy(b->mac, mac, 6);
		b->have_mac = true;
		b->why[0] = 0;
	} else if (b->state == BE_PENDING && b->have_mac) {
		/* XDP traffic does not refresh the kernel's neighbour entry: an expired
		 * entry says nothing about the backend, so keep the MAC that worked. */
		b->state = BE_RESOLVED;
	}
}

static int sync_backends(struct lbd_dp *dp, const struct lbd_config *cfg, char *err, size_t len)
{
	char a[INET6_ADDRSTRLEN];

	for (uint32_t id = 1; id < XLB_MAX_BACKENDS; id++)
		dp->backends[id].referenced = false;
	for (size_t i = 0; i < cfg->n_vips; i++)
		for (size_t j = 0; j < cfg->vips[i].n_backends; j++) {
			const struct lbd_addr *addr = &cfg->vips[i].backends[j].addr;
			uint32_t id = lbd_dp_backend_id(dp, addr);

			if (!id)
				id = alloc_backend_id(dp, addr);
			if (!id)
				return fail(err, len, -ENOSPC, "no free backend id: xlb handles %d backends",
					    XLB_MAX_BACKENDS - 1);
			dp->backends[id].referenced = true;
		}
	for (uint32_t id = 1; id < XLB_MAX_BACKENDS; id++) {
		struct lbd_backend_rt *b = &dp->backends[id];
		struct xlb_backend be = { 0 };
		enum lbd_be_state before = b->state;

		if (!b->addr.family)
			continue;
		if (b->referenced) {
			resolve_backend(dp, b);
			memcpy(be.addr, b->addr.a, sizeof(be.addr));
			be.family = b->addr.family;
			memcpy(be.mac, b->mac, 6);
			be.flags = b->state == BE_RESOLVED ? XLB_BACKEND_F_UP : 0;
			if (b->state != before) {
				lbd_addr_format(&b->addr, a, sizeof(a));
				if (b->state == BE_RESOLVED)
					lbd_info("backend %s: next hop %02x:%02x:%02x:%02x:%02x:%02x", a, b->mac[0],
						 b->mac[1], b->mac[2], b->mac[3], b->mac[4], b->mac[5]);
				else
					lbd_info("backend %s: out of the tables: %s", a, b->why);
			}
		} else {
			memset(b, 0, sizeof(*b));	/* frees the id */
		}
		int ret = xlb_backend_set(&dp->fds, id, &be);

		if (ret)
			return fail(err, len, ret, "cannot write backend %u: %s", id, strerror(-ret));
	}
	return 0;
}

/* ---- VIPs and rings ---- */

static bool vip_key_eq(const struct lbd_vip_cfg *a, const struct lbd_vip_cfg *b)
{
	return lbd_addr_eq(&a->addr, &b->addr) && a->port == b->port && a->proto == b->proto;
}

const struct lbd_vip_rt *lbd_dp_vip(const struct lbd_dp *dp, const struct lbd_vip_cfg *key, uint32_t *vip_id)
{
	for (uint32_t i = 0; i < XLB_MAX_VIPS; i++)
		if (dp->vips[i].used && vip_key_eq(&dp->vips[i].key, key)) {
			if (vip_id)
				*vip_id = i;
			return &dp->vips[i];
		}
	return NULL;
}

uint32_t lbd_dp_ring_share(const struct lbd_vip_rt *vip, uint32_t id)
{
	uint32_t n = 0;

	for (uint32_t i = 0; vip->slots && i < vip->ring_size; i++)
		n += XLB_SLOT_ID(vip->slots[i]) == id;
	return n;
}

static struct xlb_vip_key map_key(const struct lbd_vip_cfg *v)
{
	struct xlb_vip_key key = { .port = htons(v->port), .proto = v->proto, .family = v->addr.family };

	memcpy(key.addr, v->addr.a, sizeof(key.addr));
	return key;
}

/*
 * Backends that may take new flows: resolved, not drained, and passing
 * their health check. When every one fails its check the VIP fails open
 * (all of them, the default) or keeps an empty ring (all-down drop).
 */
static int build_ring(struct lbd_dp *dp, const struct lbd_vip_cfg *v, struct lbd_vip_rt *rt, uint32_t *table)
{
	struct maglev_backend *mb = calloc(v->n_backends + 1, sizeof(*mb));
	bool fail_open = false;
	size_t n = 0;
	int ret;

	if (!mb)
		return -ENOMEM;
	for (int pass = 0; pass < 2 && !n; pass++) {
		fail_open = pass == 1;
		for (size_t j = 0; j < v->n_backends; j++) {
			const struct lbd_backend_cfg *b = &v->backends[j];
			uint32_t id = lbd_dp_backend_id(dp, &b->addr), w;
			bool healthy;

			if (!id || b->drain || !b->weight || dp->backends[id].state != BE_RESOLVED)
				continue;
			w = hc_weight(dp->hc, v, b, &healthy);
			if (fail_open)
				w = b->admin == LBD_ADMIN_DOWN ? 0 : b->weight * HC_WEIGHT_SCALE;
			if (!w)
				continue;
			mb[n].id = id;
			mb[n].weight = w;
			mb[n].key[0] = b->addr.family;
			memcpy(&mb[n].key[4], b->addr.a, 16);
			n++;
		}
		if (v->all_down_drop)
			break;
	}
	fail_open = fail_open && n;
	if (fail_open != rt->fail_open) {
		char vs[80];

		lbd_vip_format(v, vs, sizeof(vs));
		if (fail_open)
			lbd_warn("VIP %s: every backend fails its check; failing open: new flows go to all of them", vs);
		else
			lbd_info("VIP %s: a backend passes its check again; no longer failing open", vs);
		rt->fail_open = fail_open;
	}
	ret = maglev_build(mb, n, table, v->ring_size);
	free(mb);
	return ret;
}

/*
 * A UDP flow has no SYN to tell it from a new one, so for this long after
 * a change every UDP flow the table does not know, on a moved slot, is
 * taken for an old one and stays where it was. Every flow that sends
 * within it is kept; new flows in that window go the old way too.
 */
#define LBD_UDP_KEEP_NS (3ull * 1000000000ull)

/* Has the VIP carried a packet? If not, no flow can be on a slot that moves. */
static bool vip_carried_traffic(const struct lbd_dp *dp, uint32_t vip_id)
{
	struct xlb_traffic t;

	return xlb_traffic_read(dp->fds.vip_stats, vip_id, &t) || t.packets;
}

static uint32_t seen_now(void)
{
	return (uint32_t)((lbd_mono_us() * 1000) >> XLB_CONN_SEEN_SHIFT);
}

/*
 * When each moved slot of a new ring first moved: the clock of "flows from
 * before the move" starts there. A new array, for the caller to keep once
 * the ring is published.
 */
static uint32_t *moves_since(const struct lbd_vip_rt *rt, const uint32_t *slots, uint32_t size,
			     uint32_t *n_moved)
{
	uint32_t *at = calloc(size, sizeof(*at)), now = seen_now();
	bool same_ring = rt->moved_at && rt->ring_size == size;

	*n_moved = 0;
	for (uint32_t i = 0; at && i < size; i++) {
		if (!(slots[i] & XLB_SLOT_MOVED))
			continue;
		at[i] = same_ring && rt->moved_at[i] ? rt->moved_at[i] : now;
		(*n_moved)++;
	}
	return at;
}

/* The slots the data plane has, after a restart: a new lbd must not forget what moved. */
static void adopt_slots(struct lbd_dp *dp, struct lbd_vip_rt *rt)
{
	if (rt->slots || !rt->ring_size)
		return;
	rt->slots = calloc(rt->ring_size, sizeof(*rt->slots));
	if (rt->slots && xlb_ring_read(&dp->fds, rt->ring_id, rt->slots, rt->ring_size)) {
		free(rt->slots);
		rt->slots = NULL;
	}
}

/*
 * The UDP window must be open before a packet can see the slots that
 * moved, or a datagram in between would be taken for a new flow and sent
 * the new way: so the VIP's entry, still with its current ring, gets the
 * window first, and the program's index with it.
 */
static int open_udp_window(struct lbd_dp *dp, const struct lbd_vip_rt *rt,
			   const struct xlb_vip_key *key, const struct xlb_vip_meta *meta)
{
	struct xlb_vip_meta now = *meta;
	int ret;

	now.ring_id = rt->ring_id;
	now.ring_size = rt->ring_size;
	now.udp_keep_until_ns = rt->udp_keep_until_ns;
	ret = xlb_vip_set(&dp->fds, key, &now);
	if (ret <= 0)
		return ret;
	ret = xlb_vip_index_sync(&dp->fds);
	dp->vip_index_stale = ret != 0;
	return ret;
}

/*
 * A VIP that no packet has reached has no flow to keep, so its moved
 * marks can go. The counters are read only after the marked tables are
 * in, and after a millisecond, far longer than a packet takes from reading
 * an old table to counting itself: a packet that saw an old table has been
 * counted by then. One that arrives later sees the marked table, where,
 * with no UDP window open, it is placed as the plain one would. One wait
 * serves every VIP of a sync. tables_in: the VIP index that points packets
 * at the marked tables is in.
 */
static void forget_moves_if_idle(struct lbd_dp *dp, bool tables_in)
{
	bool waited = false;

	for (uint32_t id = 0; id < XLB_MAX_VIPS; id++) {
		struct lbd_vip_rt *rt = &dp->vips[id];
		uint32_t *plain;

		if (!rt->forget_if_idle)
			continue;
		rt->forget_if_idle = false;
		if (!tables_in)
			continue;	/* the marks stay; the sweep takes them off later */
		if (!waited)
			usleep(1000);
		waited = true;
		if (vip_carried_traffic(dp, id))
			continue;
		plain = malloc(rt->ring_size * sizeof(*plain));
		if (!plain)
			continue;
		for (uint32_t i = 0; i < rt->ring_size; i++)
			plain[i] = XLB_SLOT_ID(rt->slots[i]);
		if (xlb_ring_publish(&dp->fds, rt->ring_id, plain, rt->ring_size)) {
			free(plain);
			continue;	/* the marks stay; the sweep takes them off later */
		}
		free(rt->slots);
		rt->slots = plain;
		memset(rt->moved_at, 0, rt->ring_size * sizeof(*rt->moved_at));
		rt->n_moved = 0;
	}
}

/* For maglev_slots(): a previous ring of size 0, so every slot is marked moved, with no previous backend. */
static const uint32_t unknown_ring[1] = { XLB_SLOT_NONE };

static int publish_vip(struct lbd_dp *dp, uint32_t vip_id, const struct lbd_vip_cfg *v, char *err, size_t len)
{
	struct lbd_vip_rt *rt = &dp->vips[vip_id];
	uint32_t *table = calloc(v->ring_size, sizeof(*table));
	uint32_t *slots = calloc(v->ring_size, sizeof(*slots));
	uint32_t *moved_at = NULL, old_size = rt->ring_size, n_moved = 0, changed;
	struct xlb_vip_key key = map_key(v);
	struct xlb_vip_meta meta = {
		.vip_id = vip_id,
		.fwd_mode = v->fwd,
		.flags = v->sched == LBD_SCHED_MAGLEV_SRC ? XLB_VIP_F_HASH_SRC : 0,
	};
	bool resize = rt->ring_size != v->ring_size;
	/* A new size or another hash puts every flow on another slot. */
	bool rehash = resize || (rt->used && rt->key.sched != v->sched);
	bool carried = vip_carried_traffic(dp, vip_id);
	const uint32_t *old = NULL;
	int ret = -ENOMEM;

	if (!table || !slots)
		goto out;
	ret = build_ring(dp, v, rt, table);
	if (ret) {
		fail(err, len, ret, "cannot build the Maglev table: %s", strerror(-ret));
		goto out;
	}
	/*
	 * Marks as if the VIP carried traffic, always: whether it did can only
	 * be known after the new table is in (see forget_moves_if_idle()).
	 */
	adopt_slots(dp, rt);
	old = rt->slots;
	if (rt->ring_size && (rehash || !old)) {
		/* Flows may be anywhere, and which slots they had is lost: only the table knows them. */
		old = unknown_ring;
		old_size = 0;
	}
	changed = maglev_slots(table, v->ring_size, old, old_size, slots);
	/* The UDP window keeps flows that exist: none before the first packet. */
	if (changed && carried) {
		rt->udp_keep_until_ns = lbd_mono_us() * 1000 + LBD_UDP_KEEP_NS;
		ret = open_udp_window(dp, rt, &key, &meta);
		if (ret) {
			fail(err, len, ret, "cannot write the VIP: %s", strerror(-ret));
			goto out;
		}
	}
	moved_at = moves_since(rt, slots, v->ring_size, &n_moved);
	ret = -ENOMEM;
	if (!moved_at)
		goto out;
	if (resize || !rt->slots || memcmp(slots, rt->slots, v->ring_size * sizeof(*slots))) {
		/* A new size goes to the VIP's other ring slot; the vip_map update below switches both. */
		uint32_t ring_id = resize ? vip_id * 2 + ((rt->ring_id & 1) ^ (rt->ring_size != 0))
					  : rt->ring_id;

		ret = xlb_ring_publish(&dp->fds, ring_id, slots, v->ring_size);
		if (ret) {
			fail(err, len, ret, "cannot publish the Maglev table: %s", strerror(-ret));
			goto out;
		}
		lbd_debug("VIP %u: new table, %u slots changed, %u marked moved%s", vip_id, changed,
			  n_moved, carried ? "" : " (no traffic yet)");
		free(rt->slots);
		rt->slots = slots;
		slots = NULL;
		rt->ring_id = ring_id;
	}
	free(rt->moved_at);
	rt->moved_at = moved_at;
	rt->n_moved = n_moved;
	moved_at = NULL;
	rt->forget_if_idle = rt->n_moved && !carried;
	rt->ring_size = v->ring_size;
	rt->key = *v;
	rt->key.backends = NULL;
	rt->key.n_backends = 0;
	rt->used = rt->referenced = true;
	meta.ring_id = rt->ring_id;
	meta.ring_size = rt->ring_size;
	meta.udp_keep_until_ns = rt->udp_keep_until_ns;
	ret = xlb_vip_set(&dp->fds, &key, &meta);
	if (ret >= 0) {
		dp->vip_index_stale |= ret > 0;
		ret = xlb_vip_address_mark(&dp->fds, key.family, key.addr, true);
		dp->vip_index_stale |= ret > 0;
	}
	ret = ret < 0 ? fail(err, len, ret, "cannot write the VIP: %s", strerror(-ret)) : 0;
out:
	free(table);
	free(slots);
	free(moved_at);
	return ret;
}

/* ---- Forgetting idle flows, unmarking moved slots ---- */

#define SWEEP_BATCH 4096

struct sweep_vip {
	struct lbd_vip_rt *rt;
	bool *pinned;	/* per slot: a live remembered flow there has another backend */
};

/* The moved VIP a remembered flow belongs to, if any: as the program looks, the exact port first. */
static struct sweep_vip *sweep_vip_of(struct sweep_vip *vips, size_t n, const struct xlb_flow_key *k)
{
	for (int any_port = 0; any_port < 2; any_port++)
		for (size_t i = 0; i < n; i++) {
			const struct lbd_vip_cfg *v = &vips[i].rt->key;

			if (v->addr.family == k->family && v->proto == k->proto &&
			    v->port == (any_port ? 0 : ntohs(k->dport)) &&
			    !memcmp(v->addr.a, k->dst, sizeof(k->dst)))
				return &vips[i];
		}
	return NULL;
}

static void sweep_note(struct sweep_vip *sv, const struct xlb_flow_key *k, const struct xlb_conn *c)
{
	const struct lbd_vip_rt *rt = sv->rt;
	uint32_t hash = rt->key.sched == LBD_SCHED_MAGLEV_SRC ? xlb_hash_src(k) : xlb_hash_flow(k);
	uint32_t slot = xlb_ring_slot(hash, rt->ring_size);

	if ((rt->slots[slot] & XLB_SLOT_MOVED) && XLB_SLOT_ID(rt->slots[slot]) != c->backend_id)
		sv->pinned[slot] = true;
}

/*
 * One pass over the connection table: deletes idle flows, and notes the
 * moved slots where a live flow is remembered with another backend than
 * the slot's.
 */
static int sweep_table(struct lbd_dp *dp, struct sweep_vip *vips, size_t n, uint32_t timeout)
{
	struct xlb_flow_key *keys = calloc(SWEEP_BATCH, sizeof(*keys));
	struct xlb_conn *vals = calloc(SWEEP_BATCH, sizeof(*vals));
	LIBBPF_OPTS(bpf_map_batch_opts, opts);
	uint64_t in = 0, out = 0;
	uint32_t now = seen_now();
	bool first = true, last = false;
	int ret = 0;

	if (!keys || !vals) {
		ret = -ENOMEM;
		goto out;
	}
	while (!last) {
		uint32_t count = SWEEP_BATCH;

		if (bpf_map_lookup_batch(dp->fds.conn, first ? NULL : &in, &out, keys, vals, &count, &opts)) {
			if (errno != ENOENT) {
				ret = -errno;
				break;
			}
			last = true;
		}
		first = false;
		in = out;
		for (uint32_t i = 0; i < count; i++) {
			struct sweep_vip *sv;

			if (now - vals[i].seen > timeout) {
				struct xlb_conn again;

				/* Read again: a packet since the batch makes it live. */
				if (!bpf_map_lookup_elem(dp->fds.conn, &keys[i], &again) &&
				    now - again.seen > timeout)
					bpf_map_delete_elem(dp->fds.conn, &keys[i]);
				continue;
			}
			sv = sweep_vip_of(vips, n, &keys[i]);
			if (sv)
				sweep_note(sv, &keys[i], &vals[i]);
		}
	}
out:
	free(keys);
	free(vals);
	return ret;
}

/*
 * A moved slot goes back to plain once no live remembered flow there has
 * another backend, and no flow from before the move can still turn up:
 * conn-timeout has passed since the move (a TCP flow that spoke since was
 * remembered; one that did not is dead by the same rule that forgets idle
 * flows), the UDP window is shut, or the slot is back on its first
 * backend. A flow remembered between the pass and the publish can only be
 * one of those, so nothing is lost in between.
 */
static int unmark_slots(struct lbd_dp *dp, struct sweep_vip *sv, uint32_t timeout, uint64_t now_ns)
{
	struct lbd_vip_rt *rt = sv->rt;
	uint32_t now = seen_now(), cleared = 0, *slots;
	int ret;

	if (now_ns < rt->udp_keep_until_ns)
		return 0;
	slots = malloc(rt->ring_size * sizeof(*slots));
	if (!slots)
		return -ENOMEM;
	memcpy(slots, rt->slots, rt->ring_size * sizeof(*slots));
	for (uint32_t i = 0; i < rt->ring_size; i++) {
		uint32_t s = slots[i];

		if (!(s & XLB_SLOT_MOVED) || sv->pinned[i])
			continue;
		/* The same "more than timeout" as for forgetting an idle flow. */
		if (XLB_SLOT_PREV(s) != XLB_SLOT_ID(s) && XLB_SLOT_PREV(s) != XLB_SLOT_NONE &&
		    now - rt->moved_at[i] <= timeout)
			continue;
		slots[i] = XLB_SLOT_ID(s);
		cleared++;
	}
	ret = cleared ? xlb_ring_publish(&dp->fds, rt->ring_id, slots, rt->ring_size) : 0;
	if (cleared && !ret) {
		for (uint32_t i = 0; i < rt->ring_size; i++)
			if (!(slots[i] & XLB_SLOT_MOVED))
				rt->moved_at[i] = 0;
		free(rt->slots);
		rt->slots = slots;
		rt->n_moved -= cleared;
		slots = NULL;
	}
	free(slots);
	return ret;
}

int lbd_dp_sweep(struct lbd_dp *dp, uint32_t conn_timeout, char *err, size_t len)
{
	/* In seen units (2^30 ns), rounded up: never forget a flow early. */
	uint32_t timeout = (uint32_t)(((uint64_t)conn_timeout * 1000000000ull >> XLB_CONN_SEEN_SHIFT) + 1);
	struct sweep_vip *vips = calloc(XLB_MAX_VIPS, sizeof(*vips));
	uint64_t now_ns = lbd_mono_us() * 1000;
	size_t n = 0;
	int ret = 0, failed = 0;

	if (!vips)
		return fail(err, len, -ENOMEM, "sweep: out of memory");
	for (uint32_t id = 0; id < XLB_MAX_VIPS && !ret; id++) {
		struct lbd_vip_rt *rt = &dp->vips[id];

		if (!rt->used || !rt->n_moved || !rt->slots || !rt->moved_at)
			continue;
		vips[n].rt = rt;
		vips[n].pinned = calloc(rt->ring_size, sizeof(bool));
		if (!vips[n++].pinned)
			ret = -ENOMEM;
	}
	if (!ret)
		ret = sweep_table(dp, vips, n, timeout);
	/* Only after a whole pass: a slot may be unmarked only if no flow holds it. */
	for (size_t i = 0; i < n && !ret; i++) {
		int one = unmark_slots(dp, &vips[i], timeout, now_ns);

		if (one && !failed)
			failed = one;
	}
	ret = ret ? ret : failed;
	for (size_t i = 0; i < n; i++)
		free(vips[i].pinned);
	free(vips);
	return ret ? fail(err, len, ret, "sweeping the connection table: %s", strerror(-ret)) : 0;
}

static bool address_in_config(const struct lbd_config *cfg, const struct lbd_addr *a)
{
	for (size_t i = 0; i < cfg->n_vips; i++)
		if (lbd_addr_eq(&cfg->vips[i].addr, a))
			return true;
	return false;
}

static int write_vips(struct lbd_dp *dp, const struct lbd_config *cfg, char *err, size_t len)
{
	int ret;

	for (uint32_t i = 0; i < XLB_MAX_VIPS; i++)
		dp->vips[i].referenced = false;
	for (size_t i = 0; i < cfg->n_vips; i++) {
		uint32_t id;

		if (!lbd_dp_vip(dp, &cfg->vips[i], &id)) {
			for (id = 0; id < XLB_MAX_VIPS && dp->vips[id].used; id++)
				;
			if (id == XLB_MAX_VIPS)
				return fail(err, len, -ENOSPC, "no free VIP id: xlb handles %d VIPs", XLB_MAX_VIPS);
			memset(&dp->vips[id], 0, sizeof(dp->vips[id]));
			xlb_traffic_clear(dp->fds.vip_stats, id);
		}
		ret = publish_vip(dp, id, &cfg->vips[i], err, len);
		if (ret)
			return ret;
	}
	for (uint32_t id = 0; id < XLB_MAX_VIPS; id++) {
		struct lbd_vip_rt *rt = &dp->vips[id];
		struct xlb_vip_key key;

		if (!rt->used || rt->referenced)
			continue;
		key = map_key(&rt->key);
		dp->vip_index_stale |= xlb_vip_del(&dp->fds, &key) > 0;
		if (!address_in_config(cfg, &rt->key.addr))
			dp->vip_index_stale |= xlb_vip_address_mark(&dp->fds, key.family, key.addr, false) > 0;
		free(rt->slots);
		free(rt->moved_at);
		memset(rt, 0, sizeof(*rt));
	}
	return 0;
}

/* The VIPs and their rings, then the program's VIP index once for all of them. */
static int sync_vips(struct lbd_dp *dp, const struct lbd_config *cfg, char *err, size_t len)
{
	int ret = write_vips(dp, cfg, err, len), sync = 0;

	if (dp->vip_index_stale) {
		sync = xlb_vip_index_sync(&dp->fds);
		dp->vip_index_stale = sync != 0;
		if (sync && !ret)
			ret = fail(err, len, sync, "cannot write the VIP index: %s", strerror(-sync));
	}
	/* After the index: a table of a new size is what packets read only from then on. */
	forget_moves_if_idle(dp, !sync);
	return ret;
}

static __be32 entropy_mask(uint8_t bits)
{
	return htonl(bits ? (1u << bits) - 1 : 0);
}

static int sync_settings(struct lbd_dp *dp, const struct lbd_config *cfg, char *err, size_t len)
{
	struct xlb_config xc = { .ttl = 64 };
	struct nl_link link = { .mtu = 1500 };

	if (dp->n_ifaces) {
		nl_link_get(dp->nl, dp->ifaces[0].name, &link);
		if (cfg->ipip_src4.family)
			xc.ipip_src4 = cfg->ipip_src4.a[0];
		else
			nl_link_addr(dp->nl, dp->ifaces[0].ifindex, AF_INET, &xc.ipip_src4);
		if (cfg->ipip_src6.family)
			memcpy(xc.ipip_src6, cfg->ipip_src6.a, 16);
		else
			nl_link_addr(dp->nl, dp->ifaces[0].ifindex, AF_INET6, xc.ipip_src6);
	}
	xc.ipip_src4_entropy = entropy_mask(cfg->entropy4);
	xc.ipip_src6_entropy = entropy_mask(cfg->entropy6);
	xc.mtu = (uint16_t)(cfg->mtu ? cfg->mtu : link.mtu);
	int ret = xlb_config_set(&dp->fds, &xc);

	return ret ? fail(err, len, ret, "cannot write settings: %s", strerror(-ret)) : 0;
}

int lbd_dp_sync(struct lbd_dp *dp, const struct lbd_config *cfg, char *err, size_t len)
{
	int ret = sync_ifaces(dp, cfg, err, len);

	if (!ret)
		ret = sync_settings(dp, cfg, err, len);
	if (!ret)
		ret = sync_backends(dp, cfg, err, len);
	if (!ret)
		ret = sync_vips(dp, cfg, err, len);
	return ret;
}

int lbd_dp_sync_rings(struct lbd_dp *dp, const struct lbd_config *cfg, char *err, size_t len)
{
	return sync_vips(dp, cfg, err, len);
}
