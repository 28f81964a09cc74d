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
#include <sys/mman.h>
#include <sys/stat.h>
#include <unistd.h>

#include "acl.h"
#include "clock.h"
#include "hash.h"
#include "log.h"
#include "maglev.h"
#include "plan.h"
#include "xlb.skel.h"

#define fail lbd_fail

/* A map pinned by an earlier lbd keeps its size; sizing ours the same lets libbpf reuse it. */
static void match_pinned_size(struct bpf_map *map, const char *path)
{
	struct bpf_map_info info = { 0 };
	uint32_t info_len = sizeof(info);
	int fd = bpf_obj_get(path);

	if (fd < 0)
		return;
	if (bpf_obj_get_info_by_fd(fd, &info, &info_len)) {
		close(fd);
		return;
	}
	if (!strcmp(bpf_map__name(map), "stats_map")) {
		/* Another lbd's counters (a slot a counter, or a record of another size): no reuse. */
		if (info.max_entries != 1 || info.value_size != sizeof(struct xlb_stats)) {
			lbd_warn("the pinned counters are laid out for another program (%u x %u bytes, "
				 "this one counts in 1 x %zu): they start afresh",
				 info.max_entries, info.value_size, sizeof(struct xlb_stats));
			unlink(path);
		}
	} else if ((!strcmp(bpf_map__name(map), "ring_map") || !strcmp(bpf_map__name(map), "ring_default_map")) &&
		   !xlb_rings_fit(fd, !strcmp(bpf_map__name(map), "ring_default_map"))) {
		/*
		 * lbd builds every ring again from its configuration; from the
		 * attach until each is in, its VIP's packets find no ring
		 * (drop_no_backend). Only the first start over an older lbd's
		 * rings does this.
		 */
		lbd_warn("the pinned %s holds rings of an older lbd's layout (32-bit slots): it starts afresh, "
			 "and each VIP drops its packets until its ring is built again", bpf_map__name(map));
		unlink(path);
	} else if (info.max_entries != bpf_map__max_entries(map)) {
		if (!strcmp(bpf_map__name(map), "conn_map"))
			lbd_warn("conn-table-size %u differs from the pinned connection table's %u: keeping "
				 "the pinned one (and its flows); remove %s to resize",
				 bpf_map__max_entries(map), info.max_entries, path);
		bpf_map__set_max_entries(map, info.max_entries);
	}
	close(fd);
}

static void drop_ring_later(struct lbd_dp *dp, uint32_t ring_id);
static void be_index_rebuild(struct lbd_dp *dp);

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
		dp->backends[id].born = ++dp->births;
	}
	be_index_rebuild(dp);
	while (!bpf_map_get_next_key(dp->fds.vip, prev, &next)) {
		key = next;
		prev = &key;
		if (!key.proto || bpf_map_lookup_elem(dp->fds.vip, &key, &meta) || meta.vip_id >= XLB_MAX_VIPS)
			continue;
		struct lbd_vip_rt *v = &dp->vips[meta.vip_id];

		v->used = true;
		v->born = ++dp->births;
		v->key.addr.family = key.family;
		memcpy(v->key.addr.a, key.addr, sizeof(key.addr));
		v->key.port = ntohs(key.port);
		v->key.proto = key.proto;
		/* The hash the ring was built for: else the first sync takes it for a rehash and marks every slot. */
		v->key.sched = meta.flags & XLB_VIP_F_HASH_SRC ? LBD_SCHED_MAGLEV_SRC : LBD_SCHED_MAGLEV;
		for (uint8_t k = 0; meta.sched != XLB_SCHED_RING && k < LBD_SCHED_COUNT; k++)
			if (lbd_sched_xlb(k) == meta.sched)
				v->key.sched = k;
		v->key.fwd = meta.fwd_mode;
		v->ring_id = meta.ring_id;
		v->ring_size = meta.ring_size;
		v->udp_keep_until_ns = meta.udp_keep_until_ns;
	}
	/* Rings no VIP reads (a deleted VIP's, the other size's) go after the first sync's index. */
	for (uint32_t id = 0; id < XLB_MAX_VIPS; id++) {
		if (!dp->vips[id].used)
			drop_ring_later(dp, id * 2);
		drop_ring_later(dp, dp->vips[id].used ? dp->vips[id].ring_id ^ 1 : id * 2 + 1);
	}
}

/* Which scopes a pinned acl_map from before holds prefixes of, so that a scope with no list now is cleared once. */
static void acl_scopes_read(struct lbd_dp *dp)
{
	struct xlb_acl_key key;
	bool have = false;

	while (!bpf_map_get_next_key(dp->fds.acl, have ? &key : NULL, &key)) {
		uint32_t n = ntohl(key.scope) >> 1;

		have = true;
		if (n <= XLB_MAX_VIPS)
			dp->acl_scopes[n / 8] |= 1u << (n % 8);
	}
}

/*
 * Scope n's lists to the map worker, which takes acl's prefixes (acl->n
 * and acl->allows stay, for the flags), and an index after the VIP
 * entries: see map_worker.h. -ENOMEM, or 0.
 */
static int acl_scope_hand(struct lbd_dp *dp, uint32_t n, struct lbd_acl *acl)
{
	struct lbd_acl *taken = calloc(1, sizeof(*taken));

	if (!taken)
		return -ENOMEM;
	if (acl) {
		*taken = *acl;
		acl->e = NULL;
		acl->cap = 0;
	}
	map_worker_acl(&dp->worker, n, taken);
	dp->vip_index_stale = true;
	return 0;
}

/*
 * Writes scope n's lists (NULL: none), walking acl_map only where it may
 * hold some: by the map worker while it runs, else here.
 */
static int acl_scope_write(struct lbd_dp *dp, uint32_t n, struct lbd_acl *acl, char *err, size_t len)
{
	bool held = dp->acl_scopes[n / 8] & (1u << (n % 8));
	int ret;

	if (!held && (!acl || !acl->n))
		return 0;
	if (dp->worker.running) {
		ret = acl_scope_hand(dp, n, acl);
		if (ret)
			fail(err, len, ret, "out of memory");
	} else {
		ret = lbd_acl_publish(dp->fds.acl, n, acl, err, len);
	}
	if (!ret && (!acl || !acl->n))
		dp->acl_scopes[n / 8] &= ~(1u << (n % 8));
	else
		dp->acl_scopes[n / 8] |= 1u << (n % 8);
	return ret;
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
	bpf_map__set_max_entries(dp->skel->maps.moved_map, conn_table_size);
	bpf_map__set_max_entries(dp->skel->maps.syn_map, XLB_SYN_TABLE_SIZE(conn_table_size));
	bpf_object__for_each_map(map, dp->skel->obj) {
		if (bpf_map__is_internal(map))	/* .bss, .rodata: this instance's own (see trace.h) */
			continue;
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
	dp->active = mmap(NULL, XLB_MAX_BACKENDS * sizeof(*dp->active), PROT_READ | PROT_WRITE, MAP_SHARED,
			  dp->fds.active, 0);
	if (dp->active == MAP_FAILED) {
		ret = -errno;
		dp->active = NULL;
		lbd_dp_close(dp);
		return fail(err, len, ret, "cannot map active_map: %s", strerror(-ret));
	}
	adopt_maps(dp);
	acl_scopes_read(dp);
	/* The first sync builds the index even if vip_map is as pinned: the index may be missing. */
	dp->vip_index_stale = true;
	return 0;
}

void lbd_dp_close(struct lbd_dp *dp)
{
	map_worker_stop(&dp->worker);
	for (int i = 0; i < XLB_MAX_VIPS; i++) {
		free(dp->vips[i].slots);
		free(dp->vips[i].moved_at);
		free(dp->vips[i].inputs);
		free(dp->vips[i].shares);
		xlb_ring_unmap(&dp->vips[i].ring);
	}
	lbd_dp_sweep_free(dp);
	if (dp->active)
		munmap(dp->active, XLB_MAX_BACKENDS * sizeof(*dp->active));
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

/* Is the map behind fd among the ids (a program's maps)? */
static bool map_among(int fd, const uint32_t *ids, uint32_t n)
{
	struct bpf_map_info info = { 0 };
	uint32_t len = sizeof(info);

	if (bpf_obj_get_info_by_fd(fd, &info, &len))
		return false;
	for (uint32_t i = 0; i < n; i++)
		if (ids[i] == info.id)
			return true;
	return false;
}

/*
 * True when old_fd is the very program we would attach, working on our
 * pinned maps: same instructions (the tag ignores map fds) and our
 * connection table and rings among its maps (a pinned ring map lbd
 * replaced at start, see xlb_rings_fit(), is not the old program's).
 * A restarted lbd then keeps it as is.
 */
static bool is_our_program(int old_fd, const struct bpf_prog_info *old, int new_fd, const struct xlb_map_fds *fds)
{
	struct bpf_prog_info mine = { 0 }, maps = { 0 };
	uint32_t len = sizeof(mine), ids[64], n;

	if (bpf_obj_get_info_by_fd(new_fd, &mine, &len) || memcmp(mine.tag, old->tag, sizeof(mine.tag)))
		return false;
	maps.nr_map_ids = old->nr_map_ids < 64 ? old->nr_map_ids : 64;
	maps.map_ids = (uint64_t)(uintptr_t)ids;
	len = sizeof(maps);
	if (bpf_obj_get_info_by_fd(old_fd, &maps, &len))
		return false;
	n = maps.nr_map_ids < 64 ? maps.nr_map_ids : 64;
	return map_among(fds->conn, ids, n) && map_among(fds->ring, ids, n) && map_among(fds->ring_default, ids, n);
}

static int attach_iface(struct lbd_dp *dp, const struct lbd_iface_cfg *cfg, struct lbd_iface_rt *rt,
			char *err, size_t len)
{
	int prog_fd = bpf_program__fd(dp->skel->progs.xlb_xdp), old_fd, ret;
	LIBBPF_OPTS(bpf_xdp_query_opts, q);
	struct bpf_prog_info info = { 0 };
	uint32_t info_len = sizeof(info);
	struct nl_link link;
	bool generic;

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
		if (is_our_program(old_fd, &info, prog_fd, &dp->fds)) {
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

	/*
	 * libbpf attaches, as it replaces and detaches: one path. libxdp's
	 * dispatcher cannot load on kernels that refuse its freplace programs,
	 * and where it cannot read the program's BTF (no CAP_SYS_ADMIN) it
	 * crashed inside libbpf. NOEXIST: another program that appeared since
	 * the query is not replaced.
	 */
	generic = cfg->mode == LBD_XDP_GENERIC;
	ret = bpf_xdp_attach(link.ifindex, prog_fd, XDP_FLAGS_UPDATE_IF_NOEXIST |
			     (generic ? XDP_FLAGS_SKB_MODE : XDP_FLAGS_DRV_MODE), NULL);
	if (ret && !generic && ret != -EBUSY && ret != -EEXIST) {
		lbd_warn("%s: native XDP failed (%s); falling back to generic mode, which is much slower",
			 cfg->name, strerror(-ret));
		ret = bpf_xdp_attach(link.ifindex, prog_fd, XDP_FLAGS_UPDATE_IF_NOEXIST | XDP_FLAGS_SKB_MODE,
				     NULL);
		rt->generic_fallback = !ret;
	}
	if (ret)
		return fail(err, len, ret, "cannot attach to %s: %s", cfg->name, strerror(-ret));
	rt->prog_id = prog_id_of_fd(prog_fd);
	lbd_info("%s: attached in %s mode", cfg->name, generic || rt->generic_fallback ? "generic" : "native");
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

static int sync_ifaces(struct lbd_dp *dp, const struct lbd_config *cfg, bool *changed, char *err, size_t len)
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
		*changed = true;
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
		*changed = true;
	}
	return 0;
}

/*
 * Each attached interface's MAC in own_mac_map, read afresh each sync:
 * a changed address is a link event, which brings a re-sync.
 */
static int sync_own_macs(struct lbd_dp *dp)
{
	struct xlb_own_mac macs[LBD_MAX_IFACES] = { 0 };
	size_t n = 0;

	for (size_t i = 0; i < dp->n_ifaces; i++) {
		struct nl_link link;

		if (nl_link_get(dp->nl, dp->ifaces[i].name, &link))
			continue;
		macs[n].ifindex = (uint32_t)link.ifindex;
		memcpy(macs[n++].mac, link.mac, 6);
	}
	return xlb_own_macs_set(&dp->fds, XLB_MAC_IFACE, macs, n);
}

const char *const lbd_shown_names[SHOWN_STATES] = {
	[SHOWN_ACTIVE] = "active", [SHOWN_SLOW_START] = "slow-start", [SHOWN_DRAINING] = "draining",
	[SHOWN_WEIGHT_0] = "weight-0", [SHOWN_DOWN] = "down", [SHOWN_DOWN_OPEN] = "down-open",
	[SHOWN_ADMIN_DOWN] = "admin-down", [SHOWN_UNREACHABLE] = "unreachable", [SHOWN_RESOLVING] = "resolving",
};

/* ---- backends ---- */

static uint32_t be_index_hash(const struct lbd_addr *a)
{
	uint32_t h = 2166136261u ^ a->family;

	for (int i = 0; i < 4; i++)
		h = (h ^ a->a[i]) * 16777619u;
	return h ^ h >> 15;
}

static void be_index_add(struct lbd_dp *dp, uint32_t id)
{
	uint32_t place = be_index_hash(&dp->backends[id].addr);

	while (dp->be_index[place & (LBD_BE_INDEX_SIZE - 1)])
		place++;
	dp->be_index[place & (LBD_BE_INDEX_SIZE - 1)] = (uint16_t)id;
}

/* Open addressing has no cheap delete: the index is rebuilt when an id is freed (config changes only). */
static void be_index_rebuild(struct lbd_dp *dp)
{
	memset(dp->be_index, 0, sizeof(dp->be_index));
	for (uint32_t id = 1; id < XLB_MAX_BACKENDS; id++)
		if (dp->backends[id].addr.family)
			be_index_add(dp, id);
}

/* A hash lookup: every ring build asks this once per backend of every VIP. */
uint32_t lbd_dp_backend_id(const struct lbd_dp *dp, const struct lbd_addr *addr)
{
	for (uint32_t place = be_index_hash(addr);; place++) {
		uint16_t id = dp->be_index[place & (LBD_BE_INDEX_SIZE - 1)];

		if (!id || lbd_addr_eq(&dp->backends[id].addr, addr))
			return id;
	}
}

uint64_t lbd_dp_active_flows(const struct lbd_dp *dp, uint32_t id)
{
	int64_t n = dp->active && id < XLB_MAX_BACKENDS ? (int64_t)__atomic_load_n(&dp->active[id], __ATOMIC_RELAXED)
							 : 0;

	return n > 0 ? (uint64_t)n : 0;
}

void lbd_dp_flow_forgotten(struct lbd_dp *dp, const struct xlb_conn *c)
{
	uint32_t id = XLB_CONN_ID(c->backend_id);

	if ((c->backend_id & XLB_CONN_COUNTED) && dp->active && id < XLB_MAX_BACKENDS)
		__atomic_fetch_sub(&dp->active[id], 1, __ATOMIC_RELAXED);
}

int lbd_dp_persist_walk(struct lbd_dp *dp, uint32_t vip_id, bool flush, lbd_persist_fn fn, void *ctx)
{
	enum { BATCH = 1024 };
	struct xlb_persist_key *keys = calloc(BATCH, sizeof(*keys));
	struct xlb_persist *vals = calloc(BATCH, sizeof(*vals));
	int fd = dp->fds.persist, ret = 0;
	LIBBPF_OPTS(bpf_map_batch_opts, opts);
	uint32_t in = 0, out = 0;
	bool first = true;

	while (keys && vals && !ret) {
		uint32_t count = BATCH;

		if (bpf_map_lookup_batch(fd, first ? NULL : &in, &out, keys, vals, &count, &opts))
			ret = errno == ENOENT ? 1 : -errno;
		first = false;
		in = out;
		for (uint32_t i = 0; ret >= 0 && i < count; i++) {
			if (keys[i].vip_id != vip_id)
				continue;
			fn(ctx, &keys[i], &vals[i]);
			if (flush)
				bpf_map_delete_elem(fd, &keys[i]);
		}
	}
	if (!keys || !vals)
		ret = -ENOMEM;
	free(keys);
	free(vals);
	return ret < 0 ? ret : 0;
}

const struct lbd_backend_cfg *lbd_dp_first_lookup(const struct lbd_dp *dp, const struct lbd_vip_cfg *v,
						  uint64_t now_ms)
{
	for (size_t j = 0; j < v->n_backends; j++) {
		const struct lbd_backend_cfg *be = &v->backends[j];
		uint32_t id = lbd_dp_backend_id(dp, &be->addr);
		const struct lbd_backend_rt *b = &dp->backends[id];

		if (be->drain || !be->weight || be->admin == LBD_ADMIN_DOWN)
			continue;
		/* No id yet: a command left it to the look-up round, which gives it one soon. */
		if (!id || b->state == BE_UNKNOWN)
			return be;
		if (b->state == BE_PENDING && !b->have_mac && now_ms - b->added_ms < LBD_FIRST_LOOKUP_MS)
			return be;
	}
	return NULL;
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
			dp->backends[id].born = ++dp->births;
			dp->backends[id].added_ms = lbd_mono_ms();
			xlb_traffic_clear(dp->fds.backend_stats, id);
			be_index_add(dp, id);
			cursor = id;
			return id;
		}
	}
	return 0;
}

/* The map entry goes too: a zeroed one has no UP flag, so no ring probe can pick it. */
static void backend_id_free(struct lbd_dp *dp, uint32_t id)
{
	struct xlb_backend none = { 0 };

	memset(&dp->backends[id], 0, sizeof(dp->backends[id]));
	xlb_backend_set(&dp->fds, id, &none);
	/* Its flows' releases may still come: lbd_dp_active_flows() reads below zero as zero. */
	if (dp->active)
		__atomic_store_n(&dp->active[id], 0, __ATOMIC_RELAXED);
	be_index_rebuild(dp);
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
			 dp->ifaces[0].ifindex, mac, b->hop, b->why, sizeof(b->why));
	b->via_gateway = ret >= 0 && ret != NL_UNREACHABLE &&
			 memcmp(b->hop, b->addr.a, b->addr.family == XLB_AF_INET ? 4 : 16);
	if (ret < 0) {
		lbd_addr_format(&b->addr, a, sizeof(a));
		b->state = BE_PENDING;
		snprintf(b->why, sizeof(b->why), "netlink error resolving %s: %s", a, strerror(-ret));
		return;
	}
	b->resolved = true;
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

bool lbd_dp_neighbours_matter(const struct lbd_dp *dp)
{
	size_t n;
	const struct nl_neigh *ev = nl_event_neighbours(dp->nl, &n);

	if (!ev)
		return true;
	for (size_t i = 0; i < n; i++) {
		uint8_t family = ev[i].family == AF_INET ? XLB_AF_INET : XLB_AF_INET6;
		size_t alen = family == XLB_AF_INET ? 4 : 16;

		for (uint32_t id = 1; id < XLB_MAX_BACKENDS; id++) {
			const struct lbd_backend_rt *b = &dp->backends[id];

			if (b->referenced && b->addr.family == family &&
			    (!memcmp(b->hop, ev[i].addr, alen) || !memcmp(b->addr.a, ev[i].addr, alen)))
				return true;
		}
	}
	return false;
}

/*
 * Looks b up and writes what changed into backend_map. True when its state
 * changed, or whether a router is on the way (a DSR VIP's table leaves it
 * out then), which the tables follow; a new MAC alone is only the map's.
 */
static int refresh_backend(struct lbd_dp *dp, uint32_t id, bool *state_changed, char *err, size_t len)
{
	struct lbd_backend_rt *b = &dp->backends[id];
	struct xlb_backend be = { 0 };
	enum lbd_be_state before = b->state;
	bool was_resolved = b->resolved, was_via_gateway = b->via_gateway;
	char a[INET6_ADDRSTRLEN];
	int ret;

	resolve_backend(dp, b);
	memcpy(be.addr, b->addr.a, sizeof(be.addr));
	be.family = b->addr.family;
	memcpy(be.mac, b->mac, 6);
	be.flags = b->state == BE_RESOLVED ? XLB_BACKEND_F_UP : 0;
	*state_changed = b->state != before || !was_resolved || b->via_gateway != was_via_gateway;
	if (b->state != before) {
		lbd_addr_format(&b->addr, a, sizeof(a));
		if (b->state == BE_RESOLVED)
			lbd_info("backend %s: next hop %02x:%02x:%02x:%02x:%02x:%02x", a, b->mac[0],
				 b->mac[1], b->mac[2], b->mac[3], b->mac[4], b->mac[5]);
		else
			lbd_info("backend %s: out of the tables: %s", a, b->why);
	}
	if (b->written_ok && !memcmp(&b->written, &be, sizeof(be)))
		return 0;
	ret = xlb_backend_set(&dp->fds, id, &be);
	b->written_ok = !ret;
	b->written = be;
	if (ret)
		return fail(err, len, ret, "cannot write backend %u: %s", id, strerror(-ret));
	return 0;
}

/*
 * Ids for the config's backends. A backend new to lbd (or every one, all:
 * the interfaces changed) is looked up now, so that no table is built from
 * a state not known; the others keep theirs until a resolve round.
 */
/* Look-ups of new backends a command's sync does on lbd's loop before it leaves the rest to a round. */
#define LBD_SYNC_LOOKUP_US	3000

static int sync_backends(struct lbd_dp *dp, const struct lbd_config *cfg, bool all, char *err, size_t len)
{
	uint64_t until = dp->worker.running ? lbd_mono_us() + LBD_SYNC_LOOKUP_US : UINT64_MAX;
	bool changed;

	for (uint32_t id = 1; id < XLB_MAX_BACKENDS; id++)
		dp->backends[id].referenced = false;
	for (size_t i = 0; i < cfg->n_vips; i++)
		for (size_t j = 0; j < cfg->vips[i].n_backends; j++) {
			uint32_t id = lbd_dp_backend_id(dp, &cfg->vips[i].backends[j].addr);

			if (id)
				dp->backends[id].referenced = true;
		}
	/* Free what the config no longer has before taking new ids: a config at the limit may swap one. */
	for (uint32_t id = 1; id < XLB_MAX_BACKENDS; id++)
		if (dp->backends[id].addr.family && !dp->backends[id].referenced)
			backend_id_free(dp, id);
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
		const struct lbd_backend_rt *b = &dp->backends[id];
		int ret;

		if (!b->addr.family || (!all && b->resolved))
			continue;
		/*
		 * Thousands of new backends are a route and a neighbour request
		 * each (100 ms for 4000): past the budget they are looked up in a
		 * round, and their VIPs written once they are (rings.unwritten).
		 */
		if (!all && until != UINT64_MAX && lbd_mono_us() >= until) {
			dp->resolve.only_new = !dp->resolve.due || dp->resolve.only_new;
			lbd_dp_resolve_due(dp);
			return 0;
		}
		ret = refresh_backend(dp, id, &changed, err, len);
		if (ret)
			return ret;
	}
	return 0;
}

void lbd_dp_resolve_due(struct lbd_dp *dp)
{
	if (dp->resolve.due) {
		dp->resolve.again = true;
		return;
	}
	dp->resolve.due = true;
	dp->resolve.cursor = 1;
}

int lbd_dp_resolve_step(struct lbd_dp *dp, uint64_t budget_us, char *err, size_t len)
{
	struct lbd_resolve_round *r = &dp->resolve;
	uint64_t until = lbd_mono_us() + budget_us;
	bool any_changed = false;
	int ret = 0, done = 0;

	if (!r->due)
		return 0;
	for (; r->cursor < XLB_MAX_BACKENDS; r->cursor++) {
		bool changed;
		int one;

		if (!dp->backends[r->cursor].referenced || (r->only_new && dp->backends[r->cursor].resolved))
			continue;
		/* One at least a step: a pass with no time left still moves the round on. */
		if (done++ && lbd_mono_us() >= until)
			break;
		one = refresh_backend(dp, r->cursor, &changed, err, len);
		if (one && !ret)
			ret = one;
		any_changed |= changed;
	}
	/* The tables follow each piece's changes, not the round's end: a backend gone is out a tick later. */
	if (any_changed)
		lbd_dp_rings_due(dp);
	if (r->cursor == XLB_MAX_BACKENDS) {
		r->due = r->again;
		r->again = false;
		r->only_new = false;
		r->cursor = 1;
		if (!ret)
			ret = LBD_RESOLVE_DONE;
	}
	return ret;
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

bool lbd_dp_mark_for_peer(struct lbd_dp *dp, const struct lbd_vip_cfg *v, const struct xlb_flow_key *flow,
			  uint32_t backend_id)
{
	uint32_t vip_id, i, s, id;
	struct lbd_vip_rt *rt;
	uint32_t hash;

	if (!lbd_dp_vip(dp, v, &vip_id))
		return false;
	rt = &dp->vips[vip_id];
	/* Written in place only: a ring that is not mapped here keeps its slots (the flow goes by the ring). */
	if (!rt->slots || !rt->moved_at || !rt->ring.slots || rt->ring.size != rt->ring_size)
		return false;
	hash = v->sched == LBD_SCHED_MAGLEV_SRC ? xlb_hash_src(flow) : (uint32_t)(xlb_hash_flow64(flow) >> 32);
	i = xlb_ring_slot(hash, rt->ring_size);
	s = rt->slots[i];
	id = XLB_SLOT_ID(s);
	if ((s & XLB_SLOT_MOVED) || id == backend_id)
		return false;
	/* Its own previous backend: the slot's other flows, known or not, stay where the ring puts them. */
	rt->slots[i] = XLB_SLOT_MOVED | id << 16 | id;
	rt->moved_at[i] = lbd_dp_seen_now();
	rt->n_moved++;
	rt->gen = ++dp->gen;
	xlb_ring_write_slot(&rt->ring, i, rt->slots[i]);
	return true;
}

uint32_t lbd_dp_ring_share(const struct lbd_vip_rt *vip, uint32_t id)
{
	for (size_t i = 0; i < vip->n_shares; i++)
		if (vip->shares[i].id == id)
			return vip->shares[i].slots;
	return 0;
}

/*
 * Slots per backend, counted once when a ring's ids change: lbctl show
 * asks for every backend of every VIP, and a scan of a 65537-slot ring per
 * backend held the loop for a third of a second with 5000 backends.
 */
static void count_shares(struct lbd_vip_rt *rt)
{
	static uint32_t count[XLB_MAX_BACKENDS];
	size_t n = 0;

	free(rt->shares);
	rt->shares = NULL;
	rt->n_shares = 0;
	if (!rt->slots)
		return;
	memset(count, 0, sizeof(count));
	for (uint32_t i = 0; i < rt->ring_size; i++)
		if (XLB_SLOT_ID(rt->slots[i]) < XLB_MAX_BACKENDS)
			count[XLB_SLOT_ID(rt->slots[i])]++;
	for (uint32_t id = 0; id < XLB_MAX_BACKENDS; id++)
		n += count[id] != 0;
	rt->shares = calloc(n ? n : 1, sizeof(*rt->shares));
	if (!rt->shares)
		return;
	for (uint32_t id = 0; id < XLB_MAX_BACKENDS; id++)
		if (count[id])
			rt->shares[rt->n_shares++] = (struct lbd_share){ .id = id, .slots = count[id] };
}

static struct xlb_vip_key map_key(const struct lbd_vip_cfg *v)
{
	struct xlb_vip_key key = { .port = htons(v->port), .proto = v->proto, .family = v->addr.family };

	memcpy(key.addr, v->addr.a, sizeof(key.addr));
	return key;
}

/* ring_map[ring_id] is to be dropped once the VIP index no longer points there. */
static void drop_ring_later(struct lbd_dp *dp, uint32_t ring_id)
{
	dp->drop_rings[ring_id / 2] |= 1u << (ring_id & 1);
}

static void keep_ring(struct lbd_dp *dp, uint32_t ring_id)
{
	dp->drop_rings[ring_id / 2] &= ~(1u << (ring_id & 1));
}

/* Called once the VIP index no longer points at them: the map worker's thread waits for their RCU grace periods. */
static void drop_rings(struct lbd_dp *dp)
{
	if (dp->worker.running) {
		map_worker_give(&dp->worker, dp->drop_rings);
		return;
	}
	for (uint32_t id = 0; id < XLB_MAX_VIPS; id++)
		for (uint32_t k = 0; k < 2; k++)
			if (dp->drop_rings[id] & (1u << k) && !xlb_ring_del(&dp->fds, id * 2 + k))
				dp->drop_rings[id] &= ~(1u << k);
}

/*
 * What a VIP's ring is built from (plan_inputs()), from the backends'
 * look-ups and health verdicts now; a change of failing open is logged.
 */
static int collect_inputs(struct lbd_dp *dp, const struct lbd_vip_cfg *v, struct lbd_vip_rt *rt,
			  struct maglev_backend *mb, size_t *n_out)
{
	struct plan_backend *world = calloc(v->n_backends + 1, sizeof(*world));
	bool fail_open;
	int n;

	if (!world)
		return -ENOMEM;
	for (size_t j = 0; j < v->n_backends; j++) {
		uint32_t id = lbd_dp_backend_id(dp, &v->backends[j].addr);
		const struct lbd_backend_rt *b = &dp->backends[id];
		bool healthy;

		world[j] = (struct plan_backend){
			.id = id,
			.known = id && b->state != BE_UNKNOWN,
			.resolved = id && b->state == BE_RESOLVED,
			.via_gateway = id && b->via_gateway,
			.health_weight = hc_weight(dp->hc, v, &v->backends[j], &healthy),
			.held = hc_agent_holds(dp->hc, v, &v->backends[j]),
		};
	}
	n = plan_inputs(v, world, mb, &fail_open);
	free(world);
	if (n < 0)
		return n;
	if (fail_open != rt->fail_open) {
		char vs[80];

		lbd_vip_format(v, vs, sizeof(vs));
		if (fail_open)
			lbd_warn("VIP %s: every backend fails its check; failing open: new flows go to all of them", vs);
		else
			lbd_info("VIP %s: a backend passes its check again; no longer failing open", vs);
		rt->fail_open = fail_open;
	}
	*n_out = (size_t)n;
	return 0;
}

/* Has anything the published ring was built from changed? If not, the build can be skipped. */
static bool inputs_unchanged(const struct lbd_vip_rt *rt, const struct lbd_vip_cfg *v,
			     const struct maglev_backend *mb, size_t n, uint32_t dp_acl_gen)
{
	return rt->used && rt->slots && rt->inputs && rt->acl_written && rt->n_inputs == n &&
	       rt->ring_size == v->ring_size &&
	       rt->key.sched == v->sched && rt->key.fwd == v->fwd && rt->key.persist_ms == v->persist_ms &&
	       rt->key.limit_new_flows == v->limit_new_flows && rt->key.limit_burst == v->limit_burst &&
	       rt->key.limit_pps == v->limit_pps && rt->key.limit_prefix4 == v->limit_prefix4 &&
	       rt->key.limit_prefix6 == v->limit_prefix6 && !memcmp(&rt->key.acl, &v->acl, sizeof(v->acl)) &&
	       rt->acl_gen == dp_acl_gen && !memcmp(rt->inputs, mb, n * sizeof(*mb));
}

static void keep_inputs(struct lbd_vip_rt *rt, struct maglev_backend **mb, size_t n)
{
	free(rt->inputs);
	rt->inputs = *mb;
	rt->n_inputs = n;
	*mb = NULL;
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

/*
 * A ring of the same size as the one in force is written in place, slot by
 * slot (each slot is one 16-bit store a packet sees whole, its previous
 * backend written before it moves: see xlb_ring_write; no rule here needs
 * two slots to change together); a new size,
 * a first ring, or a kernel that maps no rings gets a new ring swapped in.
 */
int lbd_dp_ring_publish(struct lbd_dp *dp, struct lbd_vip_rt *rt, uint32_t ring_id, const uint32_t *slots,
			uint32_t size)
{
	struct xlb_ring_map fresh;
	int ret;

	if (ring_id == rt->ring_id && rt->ring.slots && rt->ring.size == size) {
		xlb_ring_write(&rt->ring, slots);
		return 0;
	}
	if (dp->worker.running)
		map_worker_claim(&dp->worker, ring_id);
	if (dp->worker.running && xlb_ring_kind_known(size)) {
		/* Into ring_map by the worker, before the index that may name it: its RCU wait off the loop. */
		int fd = xlb_ring_create_mapped(slots, size, &fresh);

		if (fd < 0)
			return fd;
		map_worker_install(&dp->worker, ring_id, fd);
	} else {
		ret = xlb_ring_publish_mapped(&dp->fds, ring_id, slots, size, &fresh);
		if (ret)
			return ret;
	}
	xlb_ring_unmap(&rt->ring);
	rt->ring = fresh;
	return 0;
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
	rt->gen = ++dp->gen;
	count_shares(rt);
}

/*
 * The VIP index rebuilt from vip_map and swapped in. With the map worker
 * running (lbd's loop) the swap is its thread's, and only a caller that
 * needs the index in before it goes on waits for it; dp->index_gen is
 * what lbctl replies wait for. The one writer of vip_index either way.
 */
static int swap_index(struct lbd_dp *dp, bool wait)
{
	int ret;

	if (!dp->worker.running)
		return xlb_vip_index_sync(&dp->fds);
	dp->index_gen = map_worker_index(&dp->worker);
	if (!wait)
		return 0;
	ret = map_worker_index_wait(&dp->worker, dp->index_gen);
	lbd_dp_index_event(dp);
	return ret;
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
	ret = swap_index(dp, true);
	dp->vip_index_stale = ret != 0;
	dp->index_swaps++;
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
static void forget_moves_of(struct lbd_dp *dp, uint32_t id)
{
	struct lbd_vip_rt *rt = &dp->vips[id];
	uint32_t *plain;

	rt->forget_if_idle = false;
	if (vip_carried_traffic(dp, id))
		return;
	plain = malloc(rt->ring_size * sizeof(*plain));
	if (!plain)
		return;
	for (uint32_t i = 0; i < rt->ring_size; i++)
		plain[i] = XLB_SLOT_ID(rt->slots[i]);
	if (lbd_dp_ring_publish(dp, rt, rt->ring_id, plain, rt->ring_size)) {
		free(plain);
		return;	/* the marks stay; the sweep takes them off later */
	}
	free(rt->slots);
	rt->slots = plain;
	rt->gen = ++dp->gen;
	memset(rt->moved_at, 0, rt->ring_size * sizeof(*rt->moved_at));
	rt->n_moved = 0;
}

static void forget_moves_if_idle(struct lbd_dp *dp, bool tables_in)
{
	bool waited = false;

	for (uint32_t id = 0; id < XLB_MAX_VIPS; id++) {
		if (!dp->vips[id].forget_if_idle)
			continue;
		if (!tables_in) {
			dp->vips[id].forget_if_idle = false;
			continue;	/* the marks stay; the sweep takes them off later */
		}
		if (!waited)
			usleep(1000);
		waited = true;
		forget_moves_of(dp, id);
	}
}

/*
 * With the index swapped by the map worker, a VIP marked by this sync is
 * looked at once the index asked for now is in (lbd_dp_index_event(),
 * before the replies that wait for that index are sent).
 */
static void forget_moves_after_index(struct lbd_dp *dp)
{
	for (uint32_t id = 0; id < XLB_MAX_VIPS; id++)
		if (dp->vips[id].forget_if_idle && dp->vips[id].forget_gen < dp->index_gen)
			dp->vips[id].forget_gen = dp->index_gen;
}

/* A ring the worker could not put in: its VIP's table is built and published again (a new ring). */
static void rebuild_failed_rings(struct lbd_dp *dp, const uint8_t failed[XLB_MAX_VIPS])
{
	for (uint32_t id = 0; id < XLB_MAX_VIPS; id++) {
		struct lbd_vip_rt *rt = &dp->vips[id];

		if (!rt->used || !(failed[id] & (1u << (rt->ring_id & 1))))
			continue;
		free(rt->inputs);
		rt->inputs = NULL;
		rt->n_inputs = 0;
		xlb_ring_unmap(&rt->ring);
		lbd_dp_rings_due(dp);
	}
}

/* Lists the map worker could not write (it said why) are written again at the next sync. */
static void acls_failed(struct lbd_dp *dp)
{
	uint8_t failed[(LBD_ACL_SCOPES + 7) / 8];

	if (!map_worker_failed_acls(&dp->worker, failed))
		return;
	for (uint32_t n = 0; n < LBD_ACL_SCOPES; n++) {
		if (!(failed[n / 8] & (1u << (n % 8))))
			continue;
		if (n == 0)
			dp->acl_synced = false;
		else
			dp->vips[n - 1].acl_written = false;
	}
}

uint64_t lbd_dp_index_event(struct lbd_dp *dp)
{
	uint8_t failed[XLB_MAX_VIPS];
	bool waited = false;
	uint64_t done;
	int error;

	if (!dp->worker.running)
		return dp->index_done;
	if (map_worker_failed_installs(&dp->worker, failed))
		rebuild_failed_rings(dp, failed);
	acls_failed(dp);
	done = map_worker_index_done(&dp->worker, &error);
	if (done == dp->index_done)
		return done;
	for (uint32_t id = 0; id < XLB_MAX_VIPS; id++) {
		struct lbd_vip_rt *rt = &dp->vips[id];

		if (!rt->forget_if_idle || rt->forget_gen <= dp->index_done || rt->forget_gen > done)
			continue;
		/* The index that points packets at its marked table is in: the wait of forget_moves_of(). */
		if (!waited)
			usleep(1000);
		waited = true;
		forget_moves_of(dp, id);
	}
	dp->index_done = done;
	/* The worker said why; the next sync builds it again. */
	if (error)
		dp->vip_index_stale = true;
	return done;
}

int lbd_dp_start_worker(struct lbd_dp *dp)
{
	return map_worker_start(&dp->worker, &dp->fds);
}

/*
 * The same for a round of rebuilds, without the wait: a VIP's marks are
 * looked at from the next step on, 20 ms after its table went in, within
 * the step's budget.
 */
static void forget_moves_due(struct lbd_dp *dp, uint64_t until)
{
	uint64_t now = lbd_mono_us();

	for (uint32_t id = 0; id < XLB_MAX_VIPS && now < until; id++) {
		if (!dp->vips[id].forget_if_idle || now < dp->vips[id].forget_after_us ||
		    dp->vips[id].forget_gen > dp->index_done)
			continue;
		forget_moves_of(dp, id);
		now = lbd_mono_us();
	}
}

/* LBD_UDP_KEEP_NS in seen units, rounded up. */
#define LBD_UDP_KEEP_SEEN ((uint32_t)((LBD_UDP_KEEP_NS >> XLB_CONN_SEEN_SHIFT) + 1))

/* Plans the VIP's ring (plan.c) and applies the plan: window, ring, VIP entry, in that order. */
/* publish_vip() did nothing: the table needs a build and the caller's budget is spent. */
#define LBD_DEFERRED	1

static int publish_vip(struct lbd_dp *dp, uint32_t vip_id, const struct lbd_vip_cfg *v, bool may_build,
		       char *err, size_t len)
{
	struct lbd_vip_rt *rt = &dp->vips[vip_id];
	struct maglev_backend *mb = calloc(v->n_backends + 1, sizeof(*mb));
	uint32_t old_ring = UINT32_MAX;
	struct xlb_vip_key key = map_key(v);
	struct xlb_vip_meta meta = {
		.vip_id = vip_id,
		.fwd_mode = v->fwd,
		.flags = v->sched == LBD_SCHED_MAGLEV_SRC ? XLB_VIP_F_HASH_SRC : 0,
		.sched = lbd_sched_xlb(v->sched),
	};
	if (v->persist_ms)
		meta.flags |= XLB_VIP_F_PERSIST;
	if (dp->share)
		meta.flags |= XLB_VIP_F_SHARE;
	if (v->limit_new_flows || v->limit_pps)
		meta.flags |= XLB_VIP_F_LIMIT;
	struct lbd_acl acl = { 0 };
	bool resize = rt->ring_size != v->ring_size;
	struct plan_ring plan = { 0 };
	size_t n_mb = 0;
	char vs[80];
	int ret = -ENOMEM;

	lbd_vip_format(v, vs, sizeof(vs));
	if (!mb)
		goto out;
	adopt_slots(dp, rt);
	ret = collect_inputs(dp, v, rt, mb, &n_mb);
	if (ret == -EAGAIN) {
		/* Keep what the data plane has: never a ring built from unknown state. */
		fail(err, len, ret, "VIP %s: its table stays as it is until every backend has been looked "
		     "up (is every interface named by attach there?)", vs);
		goto out;
	}
	if (ret)
		goto out;
	if (inputs_unchanged(rt, v, mb, n_mb, dp->acl_gen)) {
		rt->referenced = true;
		ret = 0;
		goto out;
	}
	if (!may_build) {
		ret = LBD_DEFERRED;
		goto out;
	}
	/* Until this publish has gone through whole: a failure half-way must be retried, not skipped. */
	free(rt->inputs);
	rt->inputs = NULL;
	rt->n_inputs = 0;
	ret = plan_ring(&(struct plan_ring_in){
				.mb = mb, .n = n_mb, .size = v->ring_size,
				/* A new size or another hash puts every flow on another slot. */
				.rehash = resize || (rt->used && rt->key.sched != v->sched),
				.carried = vip_carried_traffic(dp, vip_id),
				.udp = v->proto == IPPROTO_UDP,
				.now = lbd_dp_seen_now(), .udp_window = LBD_UDP_KEEP_SEEN,
			}, &(struct plan_prev){ rt->slots, rt->moved_at, rt->slots ? rt->ring_size : 0 }, &plan);
	if (ret) {
		fail(err, len, ret, "VIP %s: cannot build the Maglev table: %s", vs, strerror(-ret));
		goto out;
	}
	rt->builds++;
	/* Before the VIP entry names the scheduler: until then the program has the ring. */
	if (meta.sched != XLB_SCHED_RING || v->persist_ms) {
		struct xlb_sched_set set;

		xlb_sched_set_build(meta.sched, mb, n_mb, &set);
		set.persist_ns = (uint64_t)v->persist_ms * 1000000;
		ret = xlb_sched_set_write(&dp->fds, vip_id, &set);
		if (ret) {
			fail(err, len, ret, "VIP %s: cannot write its scheduler's backends: %s", vs, strerror(-ret));
			goto out;
		}
	}
	/* Before the VIP entry asks for them. */
	if (meta.flags & XLB_VIP_F_LIMIT) {
		struct xlb_limit limit = {
			.new_flows = v->limit_new_flows,
			.new_flows_burst = v->limit_burst ? v->limit_burst : v->limit_new_flows,
			.pps = v->limit_pps,
			.pps_burst = v->limit_pps,	/* a second's packets */
			.prefix4 = v->limit_prefix4 ? v->limit_prefix4 : 32,
			.prefix6 = v->limit_prefix6 ? v->limit_prefix6 : 64,
		};

		if (bpf_map_update_elem(dp->fds.limit, &vip_id, &limit, BPF_ANY)) {
			ret = -errno;
			fail(err, len, ret, "VIP %s: cannot write its limits: %s", vs, strerror(-ret));
			goto out;
		}
	}
	/*
	 * Its prefixes before the flags that send packets to them, when its
	 * lists changed (acl.sum: a file read at the command or reload that
	 * changed): a rebuild for a health change must not read a file of
	 * 100,000 prefixes again.
	 */
	if (!rt->acl_written || memcmp(&rt->key.acl, &v->acl, sizeof(v->acl))) {
		char why[LBD_ERR_LEN];

		rt->acl_written = false;
		ret = lbd_acl_build(v->acl.allow, v->acl.deny, &acl, why, sizeof(why));
		if (!ret)
			ret = acl_scope_write(dp, vip_id + 1, &acl, why, sizeof(why));
		if (ret) {
			fail(err, len, ret, "VIP %s: cannot write its allow and deny lists: %s", vs, why);
			goto out;
		}
		rt->acl_written = true;
		rt->acl_n = acl.n;
		rt->acl_allows = acl.allows;
		rt->key.acl = v->acl;
	}
	if (rt->acl_n)
		meta.flags |= XLB_VIP_F_ACL;
	if (dp->acl_global_n)
		meta.flags |= XLB_VIP_F_ACL_GLOBAL;
	if (rt->acl_allows || dp->acl_global_allows)
		meta.flags |= XLB_VIP_F_ALLOW_ONLY;
	rt->acl_gen = dp->acl_gen;
	/* Opening the window rewrites the VIP index, which waits for an RCU grace period in the kernel. */
	if (plan.open_udp_window) {
		rt->udp_keep_until_ns = lbd_mono_us() * 1000 + LBD_UDP_KEEP_NS;
		ret = open_udp_window(dp, rt, &key, &meta);
		if (ret) {
			fail(err, len, ret, "VIP %s: cannot write the VIP: %s", vs, strerror(-ret));
			goto out;
		}
	}
	if (plan.changed) {
		/* A new size goes to the VIP's other ring slot; the vip_map update below switches both. */
		uint32_t ring_id = resize ? vip_id * 2 + ((rt->ring_id & 1) ^ (rt->ring_size != 0))
					  : rt->ring_id;

		ret = lbd_dp_ring_publish(dp, rt, ring_id, plan.slots, v->ring_size);
		if (ret) {
			fail(err, len, ret, "VIP %s: cannot publish the Maglev table: %s", vs, strerror(-ret));
			goto out;
		}
		keep_ring(dp, ring_id);
		/* The ring of the old size: dropped once the VIP index points at the new one (below). */
		if (ring_id != rt->ring_id && rt->ring_size)
			old_ring = rt->ring_id;
		lbd_debug("VIP %u: new table, %u slots newly moved, %u marked moved%s", vip_id, plan.fresh,
			  plan.n_moved, plan.forget_if_idle ? " (no traffic yet)" : "");
		free(rt->slots);
		rt->slots = plan.slots;
		plan.slots = NULL;
		rt->ring_id = ring_id;
		rt->gen = ++dp->gen;
		count_shares(rt);
	}
	free(rt->moved_at);
	rt->moved_at = plan.moved_at;
	plan.moved_at = NULL;
	rt->n_moved = plan.n_moved;
	/* A peer's flows may come here after a move even if none came yet: ECMP or VRRP moves them. */
	rt->forget_if_idle = plan.forget_if_idle && !dp->clustered;
	rt->forget_after_us = lbd_mono_us() + 1000;
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
	if (ret >= 0) {
		keep_inputs(rt, &mb, n_mb);
		if (old_ring != UINT32_MAX)
			drop_ring_later(dp, old_ring);
	}
	ret = ret < 0 ? fail(err, len, ret, "VIP %s: cannot write the VIP: %s", vs, strerror(-ret)) : 0;
out:
	if (ret == -ENOMEM)
		fail(err, len, ret, "VIP %s: out of memory", vs);
	free(mb);
	lbd_acl_free(&acl);
	plan_ring_free(&plan);
	return ret;
}

/* Forgetting idle flows and unmarking moved slots: sweep.c. */

static bool address_in_config(const struct lbd_config *cfg, const struct lbd_addr *a)
{
	for (size_t i = 0; i < cfg->n_vips; i++)
		if (lbd_addr_eq(&cfg->vips[i].addr, a))
			return true;
	return false;
}

static void forget_vip(struct lbd_dp *dp, const struct lbd_config *cfg, uint32_t id)
{
	struct lbd_vip_rt *rt = &dp->vips[id];
	struct xlb_vip_key key = map_key(&rt->key);

	dp->vip_index_stale |= xlb_vip_del(&dp->fds, &key) > 0;
	if (!address_in_config(cfg, &rt->key.addr))
		dp->vip_index_stale |= xlb_vip_address_mark(&dp->fds, key.family, key.addr, false) > 0;
	drop_ring_later(dp, id * 2);
	drop_ring_later(dp, id * 2 + 1);
	xlb_sched_set_write(&dp->fds, id, &(struct xlb_sched_set){ 0 });
	/* Its id may go to another VIP, which must not inherit its lists. */
	acl_scope_write(dp, id + 1, NULL, (char[LBD_ERR_LEN]){ 0 }, LBD_ERR_LEN);
	free(rt->slots);
	free(rt->moved_at);
	free(rt->inputs);
	free(rt->shares);
	xlb_ring_unmap(&rt->ring);
	memset(rt, 0, sizeof(*rt));
}

/* New ids go round the table, like backend ids: a freed id is taken again only when no other is free. */
static int alloc_vip_id(struct lbd_dp *dp, uint32_t *id)
{
	for (uint32_t n = 1; n <= XLB_MAX_VIPS; n++) {
		uint32_t i = (dp->vip_cursor + n) % XLB_MAX_VIPS;

		if (!dp->vips[i].used) {
			dp->vip_cursor = i;
			*id = i;
			return 0;
		}
	}
	return -ENOSPC;
}

/* A fresh id for a new VIP, whose counters start at 0; false when none is free. */
static bool take_vip_id(struct lbd_dp *dp, uint32_t *id)
{
	if (alloc_vip_id(dp, id))
		return false;
	memset(&dp->vips[*id], 0, sizeof(dp->vips[*id]));
	dp->vips[*id].born = ++dp->births;
	xlb_traffic_clear(dp->fds.vip_stats, *id);
	return true;
}

/*
 * VIPs the new config no longer has go first, so that a config at the
 * limit can still replace one VIP with another (a new port, say). With a
 * budget, tables are built until it is spent (one at least): the VIPs
 * whose table would be built next, new ones included, are left to a round
 * of rebuilds (rings.unwritten), a bounded step a tick, so that a reload
 * that adds 400 VIPs (2 ms a 65537-slot table) does not hold the loop for
 * most of a second. A new VIP is counted against the free ids at once:
 * one the limit leaves out is an error now, not later.
 */
static int write_vips(struct lbd_dp *dp, const struct lbd_config *cfg, uint64_t budget_us, char *err,
		      size_t len)
{
	uint32_t *ids = calloc(cfg->n_vips + 1, sizeof(*ids)), free_ids = 0;
	uint64_t until = budget_us ? lbd_mono_us() + budget_us : UINT64_MAX;
	bool built = false;
	int ret = 0;

	if (!ids)
		return fail(err, len, -ENOMEM, "out of memory");
	for (uint32_t i = 0; i < XLB_MAX_VIPS; i++)
		dp->vips[i].referenced = false;
	for (size_t i = 0; i < cfg->n_vips; i++) {
		ids[i] = XLB_MAX_VIPS;
		if (lbd_dp_vip(dp, &cfg->vips[i], &ids[i]))
			dp->vips[ids[i]].referenced = true;
	}
	for (uint32_t id = 0; id < XLB_MAX_VIPS; id++)
		if (dp->vips[id].used && !dp->vips[id].referenced)
			forget_vip(dp, cfg, id);
	for (uint32_t id = 0; id < XLB_MAX_VIPS; id++)
		free_ids += !dp->vips[id].used;
	dp->rings.unwritten = false;
	/* One VIP that cannot be written does not keep the others from their tables: the first error is told. */
	for (size_t i = 0; i < cfg->n_vips; i++) {
		char one_err[LBD_ERR_LEN];
		uint32_t id = ids[i];
		bool may_build = !built || lbd_mono_us() < until;
		uint64_t builds;
		int one;

		if (id == XLB_MAX_VIPS) {
			if (!free_ids) {
				if (!ret)
					ret = fail(err, len, -ENOSPC, "no free VIP id: xlb handles %d VIPs",
						   XLB_MAX_VIPS);
				continue;
			}
			free_ids--;
			if (!may_build) {
				dp->rings.unwritten = true;	/* its id is kept for it: the round takes one */
				continue;
			}
			take_vip_id(dp, &id);
		}
		builds = dp->vips[id].builds;
		one = publish_vip(dp, id, &cfg->vips[i], may_build, one_err, sizeof(one_err));
		/* A backend the round of look-ups has not reached yet: written once it has. */
		if (one == -EAGAIN && dp->resolve.due && budget_us)
			one = LBD_DEFERRED;
		if (one == LBD_DEFERRED) {
			dp->rings.unwritten = true;
			continue;
		}
		built |= dp->vips[id].builds != builds;
		if (one && !ret)
			ret = fail(err, len, one, "%s", one_err);
	}
	free(ids);
	return ret;
}

/* The VIPs and their rings, then the program's VIP index once for all of them. */
static int finish_vips(struct lbd_dp *dp, int ret, bool wait_for_idle, char *err, size_t len)
{
	int sync = 0;

	bool index_later = false;

	if (dp->vip_index_stale) {
		sync = swap_index(dp, !dp->worker.running);
		dp->vip_index_stale = sync != 0;
		index_later = dp->worker.running && !sync;
		if (sync && !ret)
			ret = fail(err, len, sync, "cannot write the VIP index: %s", strerror(-sync));
	}
	/* After the index: a table of a new size is what packets read only from then on. */
	if (index_later)
		forget_moves_after_index(dp);
	else if (wait_for_idle || sync)
		forget_moves_if_idle(dp, !sync);
	if (!dp->vip_index_stale)
		drop_rings(dp);
	return ret;
}

/* Table builds a sync does on lbd's loop before it leaves the rest to a round. */
#define LBD_SYNC_BUILD_US	4000

/* The global lists; when they change, every VIP is written again for its flags (rt->acl_gen). */
static int sync_global_acl(struct lbd_dp *dp, const struct lbd_config *cfg, char *err, size_t len)
{
	struct lbd_acl acl;
	char why[LBD_ERR_LEN];
	int ret;

	if (dp->acl_synced && !memcmp(&dp->acl, &cfg->acl, sizeof(cfg->acl)))
		return 0;
	ret = lbd_acl_build(cfg->acl.allow, cfg->acl.deny, &acl, why, sizeof(why));
	if (!ret)
		ret = acl_scope_write(dp, 0, &acl, why, sizeof(why));
	if (ret) {
		lbd_acl_free(&acl);
		return fail(err, len, ret, "cannot write the global allow and deny lists: %s", why);
	}
	dp->acl = cfg->acl;
	dp->acl_synced = true;
	dp->acl_gen++;
	dp->acl_global_n = acl.n;
	dp->acl_global_allows = acl.allows;
	lbd_acl_free(&acl);
	return 0;
}

static int sync_vips(struct lbd_dp *dp, const struct lbd_config *cfg, char *err, size_t len)
{
	/* Before the loop runs (lbd's start) every VIP is written at once: nothing else waits yet. */
	int ret = write_vips(dp, cfg, dp->worker.running ? LBD_SYNC_BUILD_US : 0, err, len);

	/* Every table is as cfg says now, but those left unwritten: what a round under way did is redone. */
	dp->rings.due = dp->rings.unwritten;
	dp->rings.again = dp->rings.needs_full = false;
	dp->rings.cursor = 0;
	dp->rings.error = 0;
	return finish_vips(dp, ret, true, err, len);
}

static __be32 entropy_mask(uint8_t bits)
{
	return htonl(bits ? (1u << bits) - 1 : 0);
}

/*
 * IPIP toward a family needs an outer source of that family: without
 * ipip-source or a global address on the interface the program would send
 * from 0.0.0.0 or ::, which no backend answers. Said once each time it
 * starts, and shown by lbctl show until it is fixed.
 */
static void note_ipip_sources(struct lbd_dp *dp, const struct lbd_config *cfg, const struct xlb_config *xc)
{
	static const uint32_t zero[4];
	uint8_t need = 0, missing;

	for (size_t i = 0; i < cfg->n_vips; i++) {
		if (cfg->vips[i].fwd != XLB_FWD_IPIP)
			continue;
		for (size_t j = 0; j < cfg->vips[i].n_backends; j++)
			need |= cfg->vips[i].backends[j].addr.family == XLB_AF_INET ? LBD_IPIP_NO_SRC4 : LBD_IPIP_NO_SRC6;
	}
	missing = need & ((!xc->ipip_src4 ? LBD_IPIP_NO_SRC4 : 0) |
			  (!memcmp(xc->ipip_src6, zero, 16) ? LBD_IPIP_NO_SRC6 : 0));
	for (uint8_t bit = LBD_IPIP_NO_SRC4; bit <= LBD_IPIP_NO_SRC6; bit <<= 1)
		if ((missing & bit) && !(dp->ipip_missing & bit))
			lbd_warn("ipip: VIPs send to %s backends but there is no %s outer source: set ipip-source "
				 "ADDR or add a global %s address to %s", bit == LBD_IPIP_NO_SRC4 ? "IPv4" : "IPv6",
				 bit == LBD_IPIP_NO_SRC4 ? "IPv4" : "IPv6", bit == LBD_IPIP_NO_SRC4 ? "IPv4" : "IPv6",
				 dp->n_ifaces ? dp->ifaces[0].name : "the interface");
	dp->ipip_missing = missing;
}

static int sync_settings(struct lbd_dp *dp, const struct lbd_config *cfg, char *err, size_t len)
{
	struct xlb_config xc = { .ttl = XLB_DEFAULT_TTL };
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
	note_ipip_sources(dp, cfg, &xc);
	xc.ipip_src4_entropy = entropy_mask(cfg->entropy4);
	xc.ipip_src6_entropy = entropy_mask(cfg->entropy6);
	xc.mtu = (uint16_t)(cfg->mtu ? cfg->mtu : link.mtu);
	int ret = xlb_config_set(&dp->fds, &xc);

	return ret ? fail(err, len, ret, "cannot write settings: %s", strerror(-ret)) : 0;
}

static bool every_vip_written(const struct lbd_dp *dp, const struct lbd_config *cfg)
{
	for (size_t i = 0; i < cfg->n_vips; i++)
		if (!lbd_dp_vip(dp, &cfg->vips[i], NULL))
			return false;
	return true;
}

/*
 * network: after a network change, so every backend is looked up again, in
 * a resolve round unless the interfaces changed; the tables then follow in
 * a round of rebuilds, unless a VIP of cfg has not been written yet.
 */
static int sync_all(struct lbd_dp *dp, const struct lbd_config *cfg, bool network, char *err, size_t len)
{
	bool ifaces_changed = false;
	int ret = sync_ifaces(dp, cfg, &ifaces_changed, err, len), macs = sync_own_macs(dp);

	dp->syncs++;
	if (macs && !ret)
		ret = fail(err, len, macs, "cannot list the interfaces' MACs in own_mac_map: %s", strerror(-macs));
	if (!ret)
		ret = sync_settings(dp, cfg, err, len);
	if (!ret)
		ret = sync_global_acl(dp, cfg, err, len);
	/* The next hop of each backend is asked of the first interface: another one, all again. */
	if (!ret)
		ret = sync_backends(dp, cfg, ifaces_changed, err, len);
	if (ret)
		return ret;
	if (network && !ifaces_changed)
		lbd_dp_resolve_due(dp);
	if (network && every_vip_written(dp, cfg)) {
		if (ifaces_changed)
			lbd_dp_rings_due(dp);
		return 0;
	}
	return sync_vips(dp, cfg, err, len);
}

int lbd_dp_sync(struct lbd_dp *dp, const struct lbd_config *cfg, char *err, size_t len)
{
	return sync_all(dp, cfg, false, err, len);
}

int lbd_dp_resync(struct lbd_dp *dp, const struct lbd_config *cfg, char *err, size_t len)
{
	return sync_all(dp, cfg, true, err, len);
}

void lbd_dp_rings_due(struct lbd_dp *dp)
{
	/* A round under way goes on (restarting it would starve the VIPs at its end): another follows. */
	if (dp->rings.due)
		dp->rings.again = true;
	dp->rings.due = true;
}

int lbd_dp_rings_step(struct lbd_dp *dp, const struct lbd_config *cfg, uint64_t budget_us, char *err,
		      size_t len)
{
	struct lbd_rings_round *r = &dp->rings;
	uint64_t until = lbd_mono_us() + budget_us;
	char one_err[LBD_ERR_LEN];

	bool built = false;

	forget_moves_due(dp, until);
	if (!r->due)
		return 0;
	while (r->cursor < cfg->n_vips) {
		uint64_t start = lbd_mono_us(), builds, swaps;
		uint32_t id;
		int one;

		/* A table is not begun that would end past the budget: at least one a step, though. */
		if (start >= until || (built && start + r->build_us > until))
			return 1;
		if (!lbd_dp_vip(dp, &cfg->vips[r->cursor], &id)) {
			/* Not written yet: a sync's leftovers are written here, the others by the next sync. */
			if (!r->unwritten || !take_vip_id(dp, &id)) {
				r->cursor++;
				continue;
			}
		} else if (dp->vips[id].ring_size != cfg->vips[r->cursor].ring_size ||
			   dp->vips[id].key.sched != cfg->vips[r->cursor].sched) {
			/*
			 * A new size or hash switches rings through the VIP index, which a
			 * round rebuilds only at its end: that is a full sync's work.
			 */
			r->needs_full = true;
			r->cursor++;
			continue;
		}
		builds = dp->vips[id].builds;
		swaps = dp->index_swaps;
		one = publish_vip(dp, id, &cfg->vips[r->cursor++], true, one_err, sizeof(one_err));
		if (one == -EAGAIN && r->unwritten && dp->resolve.due) {
			r->left_unwritten = true;	/* the next round, once the look-ups have changed something */
			one = 0;
		}
		if (dp->vips[id].builds != builds) {
			r->build_us = lbd_mono_us() - start;
			built = true;
		}
		/* An index swap (a UDP window) waits for the kernel's RCU: the step has had its share. */
		if (dp->index_swaps != swaps && r->cursor < cfg->n_vips) {
			if (one && !r->error) {
				r->error = one;
				snprintf(r->err, sizeof(r->err), "%s", one_err);
			}
			return 1;
		}
		if (one && !r->error) {
			r->error = one;
			snprintf(r->err, sizeof(r->err), "%s", one_err);
		}
	}
	if (r->needs_full) {
		int full = sync_vips(dp, cfg, err, len);	/* resets the round */

		return full < 0 ? full : 0;
	}
	int ret = finish_vips(dp, r->error, false, r->err, sizeof(r->err));

	if (ret)
		snprintf(err, len, "%s", r->err);
	/* What was left is written (or told as failed): replies held for it wait for this index only. */
	r->unwritten = r->left_unwritten;
	r->left_unwritten = false;
	r->error = 0;
	r->cursor = 0;
	r->due = r->again;
	r->again = false;
	return ret < 0 ? ret : r->due;
}

static uint64_t digest_mix(uint64_t h)
{
	h ^= h >> 33;
	h *= 0xff51afd7ed558ccdull;
	h ^= h >> 33;
	return h;
}

uint64_t lbd_dp_ring_digest(const struct lbd_dp *dp, struct lbd_vip_rt *rt)
{
	uint64_t *of_id, h;

	if (!rt->slots || !rt->ring_size)
		return 0;
	if (rt->digest_valid && rt->digest_gen == rt->gen)
		return rt->digest;
	of_id = calloc(XLB_MAX_BACKENDS, sizeof(*of_id));
	if (!of_id)
		return 0;
	/* Per backend once: its address; per slot then only a multiply. */
	for (uint32_t id = 1; id < XLB_MAX_BACKENDS; id++) {
		const struct lbd_addr *a = &dp->backends[id].addr;

		if (!a->family)
			continue;
		of_id[id] = digest_mix(((uint64_t)a->a[0] << 32 | a->a[1]) ^ a->family) ^
			    digest_mix((uint64_t)a->a[2] << 32 | a->a[3]) * 3;
	}
	h = digest_mix(rt->ring_size);
	for (uint32_t i = 0; i < rt->ring_size; i++) {
		uint32_t id = XLB_SLOT_ID(rt->slots[i]);

		h = (h ^ (id < XLB_MAX_BACKENDS ? of_id[id] : 0x9e3779b97f4a7c15ull)) * 0x100000001b3ull;
		h ^= h >> 29;
	}
	free(of_id);
	rt->digest = digest_mix(h);
	rt->digest_gen = rt->gen;
	rt->digest_valid = true;
	return rt->digest;
}
