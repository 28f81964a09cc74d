// SPDX-License-Identifier: GPL-2.0
#include "xlb_maps.h"
#include "hash.h"
#include "maglev.h"

#include <bpf/bpf.h>
#include <bpf/libbpf.h>
#include <errno.h>
#include <sys/mman.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#define XLB_STAT_NAME(name, text, kind, why) [XLB_STAT_##name] = text,
static const char *const stat_names[XLB_STAT_MAX] = { XLB_STATS(XLB_STAT_NAME) };
#undef XLB_STAT_NAME

#define XLB_STAT_KIND(name, text, kind, why) [XLB_STAT_##name] = XLB_KIND_##kind,
static const enum xlb_stat_kind stat_kinds[XLB_STAT_MAX] = { XLB_STATS(XLB_STAT_KIND) };
#undef XLB_STAT_KIND

const char *xlb_stat_name(enum xlb_stat stat)
{
	return stat < XLB_STAT_MAX && stat_names[stat] ? stat_names[stat] : "unknown";
}

enum xlb_stat_kind xlb_stat_kind(enum xlb_stat stat)
{
	return stat < XLB_STAT_MAX ? stat_kinds[stat] : XLB_KIND_NOTE;
}

static int map_fd(struct bpf_object *obj, const char *name)
{
	struct bpf_map *map = bpf_object__find_map_by_name(obj, name);
	int fd = map ? bpf_map__fd(map) : -1;

	return fd >= 0 ? fd : -ENOENT;
}

int xlb_map_fds_from_obj(struct bpf_object *obj, struct xlb_map_fds *fds)
{
	struct {
		const char *name;
		int *fd;
	} maps[] = {
		{ "vip_map", &fds->vip },	  { "ring_map", &fds->ring },
		{ "ring_default_map", &fds->ring_default },
		{ "backend_map", &fds->backend }, { "conn_map", &fds->conn },
		{ "config_map", &fds->config },	  { "stats_map", &fds->stats },
		{ "vip_stats", &fds->vip_stats }, { "backend_stats", &fds->backend_stats },
		{ "vip_index_map", &fds->vip_index }, { "moved_map", &fds->moved },
		{ "own_mac_map", &fds->own_mac }, { "sched_map", &fds->sched },
		{ "sched_turn_map", &fds->sched_turn }, { "active_map", &fds->active },
		{ "persist_map", &fds->persist }, { "syn_retry_map", &fds->syn_retry },
		{ "share_ring", &fds->share },	  { "syn_map", &fds->syn },
		{ "limit_map", &fds->limit },	  { "limited_map", &fds->limited },
		{ "vip_limit_stats", &fds->vip_limit_stats }, { "acl_map", &fds->acl },
		{ "written_map", &fds->written },
	};

	for (size_t i = 0; i < sizeof(maps) / sizeof(maps[0]); i++) {
		*maps[i].fd = map_fd(obj, maps[i].name);
		if (*maps[i].fd < 0)
			return *maps[i].fd;
	}
	return 0;
}

/* What only describes (counters) or only saves work (the refresh filter): a trace instance has its own. */
static bool map_is_per_instance(const struct bpf_map *map)
{
	static const char *const own[] = { "stats_map", "vip_stats", "backend_stats", "refresh_map", "syn_retry_map" };

	for (size_t i = 0; i < sizeof(own) / sizeof(own[0]); i++)
		if (!strcmp(bpf_map__name(map), own[i]))
			return true;
	return bpf_map__is_internal(map);
}

int xlb_obj_reuse_maps(struct bpf_object *into, struct bpf_object *from)
{
	struct bpf_map *map;
	int ret;

	bpf_object__for_each_map(map, into) {
		if (map_is_per_instance(map))
			continue;
		ret = map_fd(from, bpf_map__name(map));
		if (ret >= 0)
			ret = bpf_map__reuse_fd(map, ret);
		if (ret < 0)
			return ret;
	}
	return 0;
}

static uint32_t map_id(int fd)
{
	struct bpf_map_info info = { 0 };
	uint32_t len = sizeof(info);

	return fd >= 0 && !bpf_obj_get_info_by_fd(fd, &info, &len) ? info.id : 0;
}

bool xlb_obj_shares_maps(struct bpf_object *into, struct bpf_object *from)
{
	struct bpf_map *map;

	bpf_object__for_each_map(map, into) {
		uint32_t id;

		if (map_is_per_instance(map))
			continue;
		id = map_id(bpf_map__fd(map));
		if (!id || id != map_id(map_fd(from, bpf_map__name(map))))
			return false;
	}
	return true;
}

void xlb_trace_clear(struct xlb_trace *t)
{
	*t = (struct xlb_trace){
		.vip_id = XLB_NO_BACKEND, .ring_id = XLB_NO_BACKEND, .slot_index = XLB_NO_BACKEND,
		.slot = XLB_NO_BACKEND, .conn_backend = XLB_NO_BACKEND, .backend_id = XLB_NO_BACKEND,
	};
}

int xlb_stats_clear(const struct xlb_map_fds *fds)
{
	int ncpu = libbpf_num_possible_cpus();
	struct xlb_stats *zeros;
	uint32_t key = 0;
	int ret;

	if (ncpu <= 0)
		return ncpu ? ncpu : -EINVAL;
	zeros = calloc(ncpu, sizeof(*zeros));
	if (!zeros)
		return -ENOMEM;
	ret = bpf_map_update_elem(fds->stats, &key, zeros, BPF_ANY) ? -errno : 0;
	free(zeros);
	return ret;
}

static int errno_of(int ret)
{
	return ret < 0 ? -errno : 0;
}

/* Writes values[0..n-1] into array fd, value_size bytes each. */
static int array_fill(int fd, const void *values, size_t value_size, uint32_t n)
{
	uint32_t *keys = malloc(sizeof(*keys) * n), count = n;
	LIBBPF_OPTS(bpf_map_batch_opts, opts);
	int ret;

	if (!keys)
		return -ENOMEM;
	for (uint32_t i = 0; i < n; i++)
		keys[i] = i;
	ret = errno_of(bpf_map_update_batch(fd, keys, values, &count, &opts));
	if (ret == -EINVAL || ret == -EOPNOTSUPP) {
		/* A kernel without batch updates on arrays: one slot at a time. */
		ret = 0;
		for (uint32_t i = 0; i < n && !ret; i++)
			ret = errno_of(bpf_map_update_elem(fd, &keys[i], (const char *)values + i * value_size,
							   BPF_ANY));
	}
	free(keys);
	return ret;
}

/* Reads values[0..n-1] of array fd, value_size bytes each. */
static int array_read(int fd, void *values, size_t value_size, uint32_t n)
{
	uint32_t *keys = malloc(sizeof(*keys) * n), count = n, out = 0;
	LIBBPF_OPTS(bpf_map_batch_opts, opts);
	int ret;

	if (!keys)
		return -ENOMEM;
	ret = errno_of(bpf_map_lookup_batch(fd, NULL, &out, keys, values, &count, &opts));
	/* The whole array in one batch ends with ENOENT: there is no next one. */
	if (ret == -ENOENT && count == n)
		ret = 0;
	if (ret == -EINVAL || ret == -EOPNOTSUPP) {
		ret = 0;
		for (uint32_t i = 0; i < n && !ret; i++)
			ret = errno_of(bpf_map_lookup_elem(fd, &i, (char *)values + i * value_size));
	}
	free(keys);
	return ret;
}

/* Places every vip_map entry in a new index array and swaps it in. */
int xlb_vip_index_build(const struct xlb_map_fds *fds, struct xlb_vip_entry *index)
{
	struct xlb_vip_key key, next, *prev = NULL;
	int ret = 0;

	memset(index, 0, XLB_VIP_INDEX_SIZE * sizeof(*index));
	while (!ret) {
		struct xlb_vip_meta meta;
		uint32_t start, p;

		if (bpf_map_get_next_key(fds->vip, prev, &next)) {
			ret = errno == ENOENT ? 0 : -errno;
			break;
		}
		start = xlb_hash_vip(&next);
		key = next;
		prev = &key;
		if (bpf_map_lookup_elem(fds->vip, &key, &meta))
			continue;	/* deleted meanwhile */
		/*
		 * Deleting the key the walk stands on (lbd's loop does, while the
		 * map worker builds) sends it back to the first key: one met
		 * again takes its place on its chain, with what it holds now.
		 */
		for (p = 0; p < XLB_VIP_INDEX_PROBES; p++) {
			struct xlb_vip_entry *e = &index[(start + p) & (XLB_VIP_INDEX_SIZE - 1)];

			if (!e->key.family || !memcmp(&e->key, &key, sizeof(key))) {
				e->key = key;
				e->meta = meta;
				break;
			}
		}
		if (p == XLB_VIP_INDEX_PROBES)
			ret = -ENOSPC;
	}
	return ret;
}

int xlb_vip_index_swap(const struct xlb_map_fds *fds, const struct xlb_vip_entry *index)
{
	uint32_t zero = 0;
	int fd, ret;

	fd = bpf_map_create(BPF_MAP_TYPE_ARRAY, "xlb_vip_index", sizeof(__u32), sizeof(*index),
			    XLB_VIP_INDEX_SIZE, NULL);
	ret = fd < 0 ? -errno : array_fill(fd, index, sizeof(*index), XLB_VIP_INDEX_SIZE);
	if (!ret)
		ret = errno_of(bpf_map_update_elem(fds->vip_index, &zero, &fd, BPF_ANY));
	if (fd >= 0)
		close(fd);
	return ret;
}

int xlb_vip_index_sync(const struct xlb_map_fds *fds)
{
	struct xlb_vip_entry *index = calloc(XLB_VIP_INDEX_SIZE, sizeof(*index));
	int ret;

	if (!index)
		return -ENOMEM;
	ret = xlb_vip_index_build(fds, index);
	if (!ret)
		ret = xlb_vip_index_swap(fds, index);
	free(index);
	return ret;
}

/* vip_map[key] = value (NULL: deleted): 1 when that changed it, 0 when it held that already. */
static int vip_write(const struct xlb_map_fds *fds, const struct xlb_vip_key *key,
		     const struct xlb_vip_meta *value)
{
	struct xlb_vip_meta old;
	bool had = !bpf_map_lookup_elem(fds->vip, key, &old);
	int ret;

	if (value ? had && !memcmp(&old, value, sizeof(old)) : !had)
		return 0;
	ret = value ? errno_of(bpf_map_update_elem(fds->vip, key, value, BPF_ANY))
		    : errno_of(bpf_map_delete_elem(fds->vip, key));
	return ret ? ret : 1;
}

int xlb_vip_set(const struct xlb_map_fds *fds, const struct xlb_vip_key *key,
		const struct xlb_vip_meta *meta)
{
	return vip_write(fds, key, meta);
}

int xlb_vip_del(const struct xlb_map_fds *fds, const struct xlb_vip_key *key)
{
	struct xlb_vip_meta old;

	if (bpf_map_lookup_elem(fds->vip, key, &old))
		return -ENOENT;
	return vip_write(fds, key, NULL);
}

int xlb_vip_address_mark(const struct xlb_map_fds *fds, uint8_t family, const __be32 addr[4],
			 bool present)
{
	struct xlb_vip_key key = { .family = family };
	struct xlb_vip_meta none = { 0 };

	memcpy(key.addr, addr, sizeof(key.addr));
	return vip_write(fds, &key, present ? &none : NULL);
}

int xlb_backend_set(const struct xlb_map_fds *fds, uint32_t id, const struct xlb_backend *be)
{
	if (id >= XLB_MAX_BACKENDS)
		return -EINVAL;
	return errno_of(bpf_map_update_elem(fds->backend, &id, be, BPF_ANY));
}

/* The mapping of a ring: its elements, whole pages. */
static size_t ring_map_len(uint32_t size)
{
	size_t bytes = (size_t)XLB_RING_ELEMS(size) * sizeof(struct xlb_ring_quad);

	return (bytes + (size_t)getpagesize() - 1) & ~((size_t)getpagesize() - 1);
}

/* What a slot's place in the ring's second part holds: its previous backend if moved, else its own. */
static uint16_t ring_prev_lane(uint32_t slot)
{
	return (uint16_t)(slot & XLB_SLOT_MOVED ? XLB_SLOT_PREV(slot) : XLB_SLOT_ID(slot));
}

/*
 * A ring's elements from table's size slots (NULL: only the tag, the
 * rest as the kernel made it): see struct xlb_ring_quad.
 */
static void ring_pack(const uint32_t *table, uint32_t size, void *into)
{
	uint32_t lanes = 4 * XLB_RING_QUADS(size);
	uint16_t *lane = into, *prev = lane + lanes;
	uint64_t tag = XLB_RING_TAG_ELEM(size);

	for (uint32_t i = 0; table && i < lanes; i++) {
		uint32_t slot = i < size ? table[i] : XLB_SLOT_NONE;

		lane[i] = (uint16_t)XLB_SLOT_LANE(slot);
		prev[i] = ring_prev_lane(slot);
	}
	memcpy(prev + lanes, &tag, sizeof(tag));
}

/*
 * A new inner ring holding table (NULL: empty). A mappable array is
 * filled by plain stores: a batch update of a 65537-slot ring took 22 ms
 * here, held in lbd's loop for every table it builds.
 */
static int ring_create(const uint32_t *table, uint32_t size, uint32_t flags)
{
	LIBBPF_OPTS(bpf_map_create_opts, opts, .map_flags = flags);
	uint32_t elems = XLB_RING_ELEMS(size);
	size_t len = ring_map_len(size);
	int fd = bpf_map_create(BPF_MAP_TYPE_ARRAY, "xlb_ring", sizeof(__u32), sizeof(struct xlb_ring_quad),
				elems, &opts);
	void *slots;
	int ret;

	if (fd < 0)
		return -errno;
	if (!(flags & BPF_F_MMAPABLE)) {
		slots = calloc(elems, sizeof(struct xlb_ring_quad));
		ret = slots ? 0 : -ENOMEM;
		if (!ret) {
			ring_pack(table, size, slots);
			ret = array_fill(fd, slots, sizeof(struct xlb_ring_quad), elems);
		}
		free(slots);
	} else {
		slots = mmap(NULL, len, PROT_READ | PROT_WRITE, MAP_SHARED, fd, 0);
		ret = slots == MAP_FAILED ? -errno : 0;
		if (!ret) {
			ring_pack(table, size, slots);
			munmap(slots, len);
		}
	}
	if (ret) {
		close(fd);
		return ret;
	}
	return fd;
}

/* The size of the ring behind fd, from its tag; 0 if it is none, or of an older lbd's layout. */
static uint32_t ring_fd_size(int fd)
{
	struct bpf_map_info info = { 0 };
	uint32_t info_len = sizeof(info), last;
	uint64_t tag;

	if (bpf_obj_get_info_by_fd(fd, &info, &info_len) || info.value_size != sizeof(tag) || !info.max_entries)
		return 0;
	last = info.max_entries - 1;
	if (bpf_map_lookup_elem(fd, &last, &tag) || tag >> 32 != XLB_RING_TAG ||
	    (uint32_t)tag < XLB_RING_MIN || (uint32_t)tag > XLB_RING_MAX ||
	    XLB_RING_ELEMS((uint32_t)tag) != info.max_entries)
		return 0;
	return (uint32_t)tag;
}

/*
 * An empty outer map of rings tells the kind of inner map it takes only
 * by taking one: a ring put in at ring_id 0 and taken out at once (two
 * RCU waits). No VIP reads a ring there: the map holds none.
 */
static bool empty_rings_fit(int outer_fd, bool dflt)
{
	uint32_t ring_id = 0;
	int fd = ring_create(NULL, dflt ? XLB_RING_DEFAULT : XLB_RING_MIN,
			     dflt ? BPF_F_MMAPABLE : BPF_F_INNER_MAP | BPF_F_MMAPABLE);
	bool fit;

	if (fd < 0)
		return false;
	fit = !bpf_map_update_elem(outer_fd, &ring_id, &fd, BPF_ANY);
	if (fit)
		bpf_map_delete_elem(outer_fd, &ring_id);
	close(fd);
	return fit;
}

bool xlb_rings_fit(int outer_fd, bool dflt)
{
	for (uint32_t ring_id = 0; ring_id < XLB_MAX_RINGS; ring_id++) {
		uint32_t inner_id;
		int fd;
		bool fit;

		if (bpf_map_lookup_elem(outer_fd, &ring_id, &inner_id))
			continue;
		fd = bpf_map_get_fd_by_id(inner_id);
		if (fd < 0)
			continue;
		fit = ring_fd_size(fd) != 0;
		close(fd);
		return fit;
	}
	return empty_rings_fit(outer_fd, dflt);
}

/* ring_map pinned by an lbd from before mappable rings takes the old kind only: learnt at the first install. */
static uint32_t ring_flags = BPF_F_INNER_MAP | BPF_F_MMAPABLE;
static bool ring_flags_known;

bool xlb_ring_kind_known(uint32_t size)
{
	return size == XLB_RING_DEFAULT || ring_flags_known;
}

/* ring_default_map is newer than mappable rings: its rings are always of that kind. */
static uint32_t ring_flags_for(uint32_t size)
{
	return size == XLB_RING_DEFAULT ? BPF_F_MMAPABLE : ring_flags;
}

/* The outer map a ring of this size goes into, and the other one. */
static int ring_outer(const struct xlb_map_fds *fds, uint32_t size)
{
	return size == XLB_RING_DEFAULT ? fds->ring_default : fds->ring;
}

static int ring_other(const struct xlb_map_fds *fds, uint32_t size)
{
	return size == XLB_RING_DEFAULT ? fds->ring : fds->ring_default;
}

/* After an install: the id no longer names a ring in the other map (a lookup first: a delete waits for RCU). */
static void ring_forget_other(const struct xlb_map_fds *fds, uint32_t ring_id, uint32_t size)
{
	uint32_t inner_id;
	int other = ring_other(fds, size);

	if (!bpf_map_lookup_elem(other, &ring_id, &inner_id))
		bpf_map_delete_elem(other, &ring_id);
}

int xlb_ring_create_mapped(const uint32_t *table, uint32_t size, struct xlb_ring_map *mapped)
{
	uint32_t flags = ring_flags_for(size);
	int fd;

	memset(mapped, 0, sizeof(*mapped));
	if (size < XLB_RING_MIN || size > XLB_RING_MAX)
		return -EINVAL;
	fd = ring_create(table, size, flags);
	if (fd >= 0 && (flags & BPF_F_MMAPABLE)) {
		void *slots = mmap(NULL, ring_map_len(size), PROT_READ | PROT_WRITE, MAP_SHARED, fd, 0);

		if (slots != MAP_FAILED) {
			mapped->slots = slots;
			mapped->size = size;
		}
	}
	return fd;
}

int xlb_ring_install(const struct xlb_map_fds *fds, uint32_t ring_id, int fd)
{
	uint32_t size = ring_fd_size(fd);
	int ret;

	if (ring_id >= XLB_MAX_RINGS || !size)
		return -EINVAL;
	ret = errno_of(bpf_map_update_elem(ring_outer(fds, size), &ring_id, &fd, BPF_ANY));
	if (!ret)
		ring_forget_other(fds, ring_id, size);
	return ret;
}

/* The rings of one map's kind (default size or not) among ids/fds, in one batch update. */
static int ring_install_kind(const struct xlb_map_fds *fds, const uint32_t *ring_ids, const int *ring_fds,
			     const uint32_t *sizes, uint32_t n, bool dflt, uint32_t *ids, int *kind_fds)
{
	uint32_t k = 0, done;
	int ret;

	for (uint32_t i = 0; i < n; i++)
		if ((sizes[i] == XLB_RING_DEFAULT) == dflt) {
			ids[k] = ring_ids[i];
			kind_fds[k++] = ring_fds[i];
		}
	if (!k)
		return 0;
	done = k;
	ret = errno_of(bpf_map_update_batch(dflt ? fds->ring_default : fds->ring, ids, kind_fds, &done, NULL));
	for (uint32_t i = 0; !ret && i < k; i++)
		ring_forget_other(fds, ids[i], dflt ? XLB_RING_DEFAULT : 0);
	return ret;
}

/*
 * One batch per map. A failure reports none in (*n = 0), so the caller
 * installs each ring again one by one: an install done twice is harmless.
 */
int xlb_ring_install_batch(const struct xlb_map_fds *fds, const uint32_t *ring_ids, const int *ring_fds,
			   uint32_t *n)
{
	uint32_t want = *n, *sizes = calloc(want ? want : 1, sizeof(*sizes));
	uint32_t *ids = calloc(want ? want : 1, sizeof(*ids));
	int *kind_fds = calloc(want ? want : 1, sizeof(*kind_fds));
	int ret = 0;

	if (!sizes || !ids || !kind_fds) {
		ret = -ENOMEM;
		goto out;
	}
	for (uint32_t i = 0; i < want && !ret; i++) {
		sizes[i] = ring_fd_size(ring_fds[i]);
		if (ring_ids[i] >= XLB_MAX_RINGS || !sizes[i])
			ret = -EINVAL;
	}
	if (!ret)
		ret = ring_install_kind(fds, ring_ids, ring_fds, sizes, want, true, ids, kind_fds);
	if (!ret)
		ret = ring_install_kind(fds, ring_ids, ring_fds, sizes, want, false, ids, kind_fds);
out:
	if (ret)
		*n = 0;
	free(sizes);
	free(ids);
	free(kind_fds);
	return ret;
}

int xlb_ring_publish_mapped(const struct xlb_map_fds *fds, uint32_t ring_id, const uint32_t *table,
			    uint32_t size, struct xlb_ring_map *mapped)
{
	struct xlb_ring_map here;
	int fd, ret;

	if (mapped)
		memset(mapped, 0, sizeof(*mapped));
	if (ring_id >= XLB_MAX_RINGS)
		return -EINVAL;
	for (;;) {
		fd = xlb_ring_create_mapped(table, size, &here);
		if (fd < 0)
			return fd;
		ret = xlb_ring_install(fds, ring_id, fd);
		/* The outer map holds its own reference, and a mapping its own. */
		close(fd);
		if (!ret) {
			ring_flags_known |= size != XLB_RING_DEFAULT;
			if (mapped)
				*mapped = here;
			else
				xlb_ring_unmap(&here);
			return 0;
		}
		xlb_ring_unmap(&here);
		if (ret != -EINVAL || !(ring_flags_for(size) & BPF_F_MMAPABLE) || size == XLB_RING_DEFAULT)
			return ret;
		ring_flags = BPF_F_INNER_MAP;
	}
}

int xlb_ring_publish(const struct xlb_map_fds *fds, uint32_t ring_id, const uint32_t *table,
		     uint32_t size)
{
	return xlb_ring_publish_mapped(fds, ring_id, table, size, NULL);
}

/* A slot's two places, each one aligned 16-bit store the program sees whole. */
static void ring_store(volatile uint16_t *lane, uint16_t v)
{
	if (*lane != v)
		__atomic_store_n(lane, v, __ATOMIC_RELEASE);
}

/*
 * A moved slot's previous backend goes in before the slot says moved, and
 * an unmoved slot's own backend after the slot: a packet that reads a
 * moved slot finds the backend it had before its first move.
 */
void xlb_ring_write_slot(const struct xlb_ring_map *mapped, uint32_t i, uint32_t slot)
{
	uint16_t *prev = mapped->slots + 4 * XLB_RING_QUADS(mapped->size);

	if (slot & XLB_SLOT_MOVED)
		ring_store(&prev[i], ring_prev_lane(slot));
	ring_store(&mapped->slots[i], (uint16_t)XLB_SLOT_LANE(slot));
	if (!(slot & XLB_SLOT_MOVED))
		ring_store(&prev[i], ring_prev_lane(slot));
}

/* A packet reads one slot: each slot's own order is all a table's writes need. */
void xlb_ring_write(const struct xlb_ring_map *mapped, const uint32_t *table)
{
	for (uint32_t i = 0; i < mapped->size; i++)
		xlb_ring_write_slot(mapped, i, table[i]);
}

void xlb_ring_unmap(struct xlb_ring_map *mapped)
{
	if (mapped->slots)
		munmap(mapped->slots, ring_map_len(mapped->size));
	memset(mapped, 0, sizeof(*mapped));
}

int xlb_ring_del(const struct xlb_map_fds *fds, uint32_t ring_id)
{
	if (ring_id >= XLB_MAX_RINGS)
		return -EINVAL;
	if (bpf_map_delete_elem(fds->ring_default, &ring_id) && errno != ENOENT)
		return -errno;
	if (bpf_map_delete_elem(fds->ring, &ring_id))
		return errno == ENOENT ? 0 : -errno;
	return 0;
}

int xlb_ring_read(const struct xlb_map_fds *fds, uint32_t ring_id, uint32_t *slots, uint32_t size)
{
	uint32_t inner_id, lanes = 4 * XLB_RING_QUADS(size);
	uint16_t *packed = NULL;
	int fd, ret = 0;

	/* The other map too: a default-size ring an older lbd left in ring_map, or a ring of another size. */
	if (bpf_map_lookup_elem(ring_outer(fds, size), &ring_id, &inner_id) &&
	    bpf_map_lookup_elem(ring_other(fds, size), &ring_id, &inner_id))
		return -errno;
	fd = bpf_map_get_fd_by_id(inner_id);
	if (fd < 0)
		return -errno;
	if (ring_fd_size(fd) != size)
		ret = -EINVAL;
	packed = ret ? NULL : malloc((size_t)XLB_RING_ELEMS(size) * sizeof(struct xlb_ring_quad));
	if (!ret && !packed)
		ret = -ENOMEM;
	if (!ret)
		ret = array_read(fd, packed, sizeof(struct xlb_ring_quad), XLB_RING_ELEMS(size));
	for (uint32_t i = 0; !ret && i < size; i++)
		slots[i] = packed[i] & XLB_SLOT_MOVED ? packed[i] | (uint32_t)packed[lanes + i] << 16 : packed[i];
	free(packed);
	close(fd);
	return ret;
}

int xlb_config_set(const struct xlb_map_fds *fds, const struct xlb_config *cfg)
{
	uint32_t key = 0;

	return errno_of(bpf_map_update_elem(fds->config, &key, cfg, BPF_ANY));
}

/* Appends e to list as origin's; -ENOSPC when full. */
static int own_mac_add(struct xlb_own_macs *list, const struct xlb_own_mac *e, uint8_t origin)
{
	if (list->count == XLB_MAX_OWN_MACS)
		return -ENOSPC;
	list->e[list->count] = *e;
	list->e[list->count].origin = origin;
	list->e[list->count++].pad = 0;
	return 0;
}

int xlb_own_macs_set(const struct xlb_map_fds *fds, enum xlb_mac_origin origin,
		     const struct xlb_own_mac *entries, size_t n)
{
	struct xlb_own_macs old, next = { 0 };
	uint32_t key = 0;
	int ret = 0;

	if (bpf_map_lookup_elem(fds->own_mac, &key, &old))
		return -errno;
	if (old.count > XLB_MAX_OWN_MACS)
		old.count = XLB_MAX_OWN_MACS;
	for (uint8_t o = XLB_MAC_IFACE; o <= XLB_MAC_VRRP && !ret; o++) {
		for (size_t k = 0; o == origin && k < n && !ret; k++)
			ret = own_mac_add(&next, &entries[k], o);
		for (uint32_t i = 0; o != origin && i < old.count && !ret; i++)
			if (old.e[i].origin == o)
				ret = own_mac_add(&next, &old.e[i], o);
	}
	if (ret || !memcmp(&old, &next, sizeof(old)))
		return ret;
	return errno_of(bpf_map_update_elem(fds->own_mac, &key, &next, BPF_ANY));
}

/* The program does not count rx: each frame counts exactly one verdict, so rx is their sum. */
int xlb_stats_read_all(const struct xlb_map_fds *fds, uint64_t out[XLB_STAT_MAX])
{
	int ncpu = libbpf_num_possible_cpus();
	struct xlb_stats *percpu;
	uint32_t key = 0;

	if (ncpu <= 0)
		return ncpu ? ncpu : -EINVAL;
	percpu = calloc(ncpu, sizeof(*percpu));
	if (!percpu)
		return -ENOMEM;
	if (bpf_map_lookup_elem(fds->stats, &key, percpu)) {
		free(percpu);
		return -errno;
	}
	memset(out, 0, XLB_STAT_MAX * sizeof(*out));
	for (int c = 0; c < ncpu; c++)
		for (uint32_t s = 0; s < XLB_STAT_MAX; s++)
			out[s] += percpu[c].count[s];
	for (uint32_t s = 0; s < XLB_STAT_MAX; s++) {
		enum xlb_stat_kind kind = xlb_stat_kind(s);

		if (kind == XLB_KIND_PASS || kind == XLB_KIND_DROP || kind == XLB_KIND_TX)
			out[XLB_STAT_RX] += out[s];
	}
	free(percpu);
	return 0;
}

int xlb_stat_read(const struct xlb_map_fds *fds, enum xlb_stat stat, uint64_t *value)
{
	uint64_t all[XLB_STAT_MAX];
	int ret = xlb_stats_read_all(fds, all);

	if (!ret)
		*value = all[stat];
	return ret;
}

/* A zeroed value for every possible CPU of a per-CPU traffic map; *err when NULL. */
static struct xlb_traffic *percpu_traffic(int *ncpu, int *err)
{
	struct xlb_traffic *percpu;

	*ncpu = libbpf_num_possible_cpus();
	if (*ncpu <= 0) {
		*err = *ncpu ? *ncpu : -EINVAL;
		return NULL;
	}
	percpu = calloc(*ncpu, sizeof(*percpu));
	if (!percpu)
		*err = -ENOMEM;
	return percpu;
}

int xlb_traffic_clear(int fd, uint32_t id)
{
	int ncpu, ret;
	struct xlb_traffic *percpu = percpu_traffic(&ncpu, &ret);

	if (!percpu)
		return ret;
	ret = bpf_map_update_elem(fd, &id, percpu, BPF_ANY) ? -errno : 0;
	free(percpu);
	return ret;
}

int xlb_traffic_read(int fd, uint32_t id, struct xlb_traffic *out)
{
	int ncpu, ret;
	struct xlb_traffic *percpu = percpu_traffic(&ncpu, &ret);

	if (!percpu)
		return ret;
	memset(out, 0, sizeof(*out));
	if (bpf_map_lookup_elem(fd, &id, percpu)) {
		free(percpu);
		return -errno;
	}
	for (int c = 0; c < ncpu; c++) {
		out->packets += percpu[c].packets;
		out->bytes += percpu[c].bytes;
		out->new_flows += percpu[c].new_flows;
	}
	free(percpu);
	return 0;
}

int xlb_limit_drops_read(int fd, uint32_t id, struct xlb_limited *out)
{
	int ncpu = libbpf_num_possible_cpus(), ret = 0;
	struct xlb_limited *percpu;

	memset(out, 0, sizeof(*out));
	if (ncpu <= 0)
		return ncpu ? ncpu : -EINVAL;
	percpu = calloc(ncpu, sizeof(*percpu));
	if (!percpu)
		return -ENOMEM;
	if (bpf_map_lookup_elem(fd, &id, percpu))
		ret = -errno;
	for (int c = 0; !ret && c < ncpu; c++) {
		out->new_flows_dropped += percpu[c].new_flows_dropped;
		out->pps_dropped += percpu[c].pps_dropped;
		out->denied += percpu[c].denied;
	}
	free(percpu);
	return ret;
}

int xlb_traffic_read_all(int fd, uint32_t n, struct xlb_traffic *out)
{
	LIBBPF_OPTS(bpf_map_batch_opts, opts);
	int ncpu, ret = 0;
	struct xlb_traffic *percpu = percpu_traffic(&ncpu, &ret);
	struct xlb_traffic *values = NULL;
	uint32_t *keys = NULL, next = 0, done = 0;

	if (!percpu)
		return ret;
	free(percpu);
	keys = calloc(n, sizeof(*keys));
	values = calloc((size_t)n * ncpu, sizeof(*values));
	if (!keys || !values) {
		ret = -ENOMEM;
		goto out;
	}
	memset(out, 0, n * sizeof(*out));
	/* One syscall for the whole array, not one per id: lbd reads thousands a second. */
	while (done < n) {
		uint32_t count = n - done;
		int err = bpf_map_lookup_batch(fd, done ? &next : NULL, &next, keys, values, &count, &opts);

		if (err && errno != ENOENT) {
			ret = -errno;
			break;
		}
		for (uint32_t k = 0; k < count; k++) {
			uint32_t id = keys[k];

			if (id >= n)
				continue;
			for (int c = 0; c < ncpu; c++) {
				out[id].packets += values[(size_t)k * ncpu + c].packets;
				out[id].bytes += values[(size_t)k * ncpu + c].bytes;
				out[id].new_flows += values[(size_t)k * ncpu + c].new_flows;
			}
		}
		done += count;
		if (err || !count)
			break;
	}
out:
	free(keys);
	free(values);
	return ret;
}

static uint32_t gcd32(uint32_t a, uint32_t b)
{
	while (b) {
		uint32_t t = a % b;

		a = b;
		b = t;
	}
	return a;
}

void xlb_sched_set_build(uint8_t sched, const struct maglev_backend *mb, size_t n, struct xlb_sched_set *set)
{
	int64_t current[XLB_SCHED_MAX_BACKENDS] = { 0 };
	uint32_t w[XLB_SCHED_MAX_BACKENDS], g = 0;
	uint64_t total = 0;

	memset(set, 0, sizeof(*set));
	if (n > XLB_SCHED_MAX_BACKENDS)
		n = XLB_SCHED_MAX_BACKENDS;
	for (size_t i = 0; i < n; i++) {
		set->id[i] = (uint16_t)mb[i].id;
		set->weight[i] = mb[i].weight;
		g = gcd32(g, mb[i].weight);
	}
	set->n = (uint32_t)n;
	if (sched == XLB_SCHED_RR) {
		for (size_t i = 0; i < n; i++)
			set->seq[i] = set->id[i];
		set->seq_len = (uint32_t)n;
		return;
	}
	if ((sched != XLB_SCHED_WRR && sched != XLB_SCHED_RANDOM) || !n)
		return;
	for (size_t i = 0; i < n; i++)
		total += w[i] = mb[i].weight / g;
	/* Weights past the order's room keep their ratio as nearly as it allows, each at least 1. */
	if (total > XLB_SCHED_SEQ_MAX) {
		uint64_t room = XLB_SCHED_SEQ_MAX - n, sum = 0;

		for (size_t i = 0; i < n; i++)
			sum += w[i] = (uint32_t)(w[i] * room / total) + 1;
		total = sum;
	}
	/*
	 * Smooth weighted round robin, as nginx does it: each turn every
	 * backend gains its weight, the one ahead (the first on a tie) is
	 * taken and pays the total. Weights 5, 1, 1 give a a b a c a a, not
	 * five a in a row.
	 */
	for (uint32_t t = 0; t < total; t++) {
		size_t best = 0;

		for (size_t i = 0; i < n; i++) {
			current[i] += w[i];
			if (current[i] > current[best])
				best = i;
		}
		current[best] -= (int64_t)total;
		set->seq[t] = set->id[best];
	}
	set->seq_len = (uint32_t)total;
}

int xlb_sched_set_write(const struct xlb_map_fds *fds, uint32_t vip_id, const struct xlb_sched_set *set)
{
	return errno_of(bpf_map_update_elem(fds->sched, &vip_id, set, BPF_ANY));
}

uint64_t xlb_syn_retries(const struct xlb_map_fds *fds, uint32_t backend_id)
{
	int ncpu = libbpf_num_possible_cpus();
	uint64_t *v, sum = 0;

	if (ncpu <= 0 || !(v = calloc((size_t)ncpu, sizeof(*v))))
		return 0;
	if (!bpf_map_lookup_elem(fds->syn_retry, &backend_id, v))
		for (int i = 0; i < ncpu; i++)
			sum += v[i];
	free(v);
	return sum;
}
