// SPDX-License-Identifier: GPL-2.0
#include "xlb_maps.h"
#include "hash.h"

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
		{ "backend_map", &fds->backend }, { "conn_map", &fds->conn },
		{ "config_map", &fds->config },	  { "stats_map", &fds->stats },
		{ "vip_stats", &fds->vip_stats }, { "backend_stats", &fds->backend_stats },
		{ "vip_index_map", &fds->vip_index }, { "moved_map", &fds->moved },
		{ "own_mac_map", &fds->own_mac },
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
	static const char *const own[] = { "stats_map", "vip_stats", "backend_stats", "refresh_map" };

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
	uint64_t *zeros;
	int ret = 0;

	if (ncpu <= 0)
		return ncpu ? ncpu : -EINVAL;
	zeros = calloc(ncpu, sizeof(*zeros));
	if (!zeros)
		return -ENOMEM;
	for (uint32_t s = 0; s < XLB_STAT_MAX && !ret; s++)
		ret = bpf_map_update_elem(fds->stats, &s, zeros, BPF_ANY) ? -errno : 0;
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
int xlb_vip_index_sync(const struct xlb_map_fds *fds)
{
	struct xlb_vip_entry *index = calloc(XLB_VIP_INDEX_SIZE, sizeof(*index));
	struct xlb_vip_key key, next, *prev = NULL;
	uint32_t zero = 0;
	int fd, ret = 0;

	if (!index)
		return -ENOMEM;
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
		for (p = 0; p < XLB_VIP_INDEX_PROBES; p++) {
			struct xlb_vip_entry *e = &index[(start + p) & (XLB_VIP_INDEX_SIZE - 1)];

			if (!e->key.family) {
				e->key = key;
				e->meta = meta;
				break;
			}
		}
		if (p == XLB_VIP_INDEX_PROBES)
			ret = -ENOSPC;
	}
	if (!ret) {
		fd = bpf_map_create(BPF_MAP_TYPE_ARRAY, "xlb_vip_index", sizeof(__u32), sizeof(*index),
				    XLB_VIP_INDEX_SIZE, NULL);
		ret = fd < 0 ? -errno : array_fill(fd, index, sizeof(*index), XLB_VIP_INDEX_SIZE);
		if (!ret)
			ret = errno_of(bpf_map_update_elem(fds->vip_index, &zero, &fd, BPF_ANY));
		if (fd >= 0)
			close(fd);
	}
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

/*
 * A new inner ring holding table. A mappable array is filled by plain
 * stores: a batch update of a 65537-slot ring took 22 ms here, held in
 * lbd's loop for every table it builds.
 */
static int ring_create(const uint32_t *table, uint32_t size, uint32_t flags)
{
	LIBBPF_OPTS(bpf_map_create_opts, opts, .map_flags = flags);
	/* The kernel keeps array values 8 bytes apart, whatever their size: that is the mapping too. */
	size_t len = ((size_t)size * 8 + (size_t)getpagesize() - 1) & ~((size_t)getpagesize() - 1);
	int fd = bpf_map_create(BPF_MAP_TYPE_ARRAY, "xlb_ring", sizeof(__u32), sizeof(__u32), size, &opts);
	void *slots;
	int ret;

	if (fd < 0)
		return -errno;
	if (!(flags & BPF_F_MMAPABLE)) {
		ret = array_fill(fd, table, sizeof(*table), size);
	} else {
		slots = mmap(NULL, len, PROT_READ | PROT_WRITE, MAP_SHARED, fd, 0);
		ret = slots == MAP_FAILED ? -errno : 0;
		if (!ret) {
			for (uint32_t i = 0; i < size; i++)
				((uint32_t *)slots)[(size_t)i * 2] = table[i];
			munmap(slots, len);
		}
	}
	if (ret) {
		close(fd);
		return ret;
	}
	return fd;
}

static size_t ring_map_len(uint32_t size)
{
	return ((size_t)size * 8 + (size_t)getpagesize() - 1) & ~((size_t)getpagesize() - 1);
}

int xlb_ring_publish_mapped(const struct xlb_map_fds *fds, uint32_t ring_id, const uint32_t *table,
			    uint32_t size, struct xlb_ring_map *mapped)
{
	/* ring_map pinned by an lbd from before mappable rings takes the old kind only. */
	static uint32_t flags = BPF_F_INNER_MAP | BPF_F_MMAPABLE;
	int fd, ret;

	if (mapped)
		memset(mapped, 0, sizeof(*mapped));
	if (ring_id >= XLB_MAX_RINGS || size < XLB_RING_MIN || size > XLB_RING_MAX)
		return -EINVAL;
	for (;;) {
		fd = ring_create(table, size, flags);
		if (fd < 0)
			return fd;
		ret = errno_of(bpf_map_update_elem(fds->ring, &ring_id, &fd, BPF_ANY));
		if (!ret && mapped && (flags & BPF_F_MMAPABLE)) {
			void *slots = mmap(NULL, ring_map_len(size), PROT_READ | PROT_WRITE, MAP_SHARED, fd, 0);

			if (slots != MAP_FAILED) {
				mapped->slots = slots;
				mapped->size = size;
			}
		}
		/* The outer map holds its own reference, and a mapping its own. */
		close(fd);
		if (ret != -EINVAL || !(flags & BPF_F_MMAPABLE))
			return ret;
		flags = BPF_F_INNER_MAP;
	}
}

int xlb_ring_publish(const struct xlb_map_fds *fds, uint32_t ring_id, const uint32_t *table,
		     uint32_t size)
{
	return xlb_ring_publish_mapped(fds, ring_id, table, size, NULL);
}

void xlb_ring_write(const struct xlb_ring_map *mapped, const uint32_t *table)
{
	volatile uint32_t *slots = mapped->slots;

	for (uint32_t i = 0; i < mapped->size; i++)
		if (slots[(size_t)i * 2] != table[i])
			slots[(size_t)i * 2] = table[i];
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
	if (bpf_map_delete_elem(fds->ring, &ring_id))
		return errno == ENOENT ? 0 : -errno;
	return 0;
}

int xlb_ring_read(const struct xlb_map_fds *fds, uint32_t ring_id, uint32_t *slots, uint32_t size)
{
	struct bpf_map_info info = { 0 };
	uint32_t inner_id, info_len = sizeof(info);
	int fd, ret = 0;

	if (bpf_map_lookup_elem(fds->ring, &ring_id, &inner_id))
		return -errno;
	fd = bpf_map_get_fd_by_id(inner_id);
	if (fd < 0)
		return -errno;
	if (bpf_obj_get_info_by_fd(fd, &info, &info_len) || info.max_entries != size)
		ret = -EINVAL;
	if (!ret)
		ret = array_read(fd, slots, sizeof(*slots), size);
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

int xlb_stats_read_all(const struct xlb_map_fds *fds, uint64_t out[XLB_STAT_MAX])
{
	int ncpu = libbpf_num_possible_cpus();
	uint64_t *percpu;

	if (ncpu <= 0)
		return ncpu ? ncpu : -EINVAL;
	percpu = calloc(ncpu, sizeof(*percpu));
	if (!percpu)
		return -ENOMEM;
	for (uint32_t s = 0; s < XLB_STAT_MAX; s++) {
		out[s] = 0;
		if (bpf_map_lookup_elem(fds->stats, &s, percpu)) {
			free(percpu);
			return -errno;
		}
		for (int c = 0; c < ncpu; c++)
			out[s] += percpu[c];
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
