/* SPDX-License-Identifier: GPL-2.0 */
/*
 * Writing the data plane's maps from userspace: VIPs, backends, Maglev rings
 * (swapped in atomically), settings, and reading the per-CPU counters.
 * Functions return 0 or -errno and never exit.
 */
#ifndef XLB_MAPS_USER_H
#define XLB_MAPS_USER_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include "xlb_common.h"

struct xlb_map_fds {
	int vip;
	int ring;
	int ring_default;	/* the rings of XLB_RING_DEFAULT slots, by the same ring_id (see maps.h) */
	int backend;
	int conn;
	int moved;	/* flows remembered on moved slots (see maps.h) */
	int syn;	/* syn_map: TCP flows seen only as a SYN so far */
	int limit;	/* limit_map: per-source limits, by vip_id */
	int limited;	/* limited_map: the clients over a limit lately */
	int vip_limit_stats;	/* what each VIP's limits dropped */
	int acl;	/* acl_map: the allow and deny lists */
	int config;
	int stats;
	int vip_stats;
	int backend_stats;
	int vip_index;
	int own_mac;	/* own_mac_map: the MACs a frame to a VIP must be addressed to */
	int sched;	/* sched_map: the per-flow schedulers' backends, per VIP */
	int sched_turn;	/* rr's and wrr's next turn, per VIP */
	int active;	/* active flows of the per-flow schedulers, per backend */
	int persist;	/* persist_map: persistent VIPs' clients */
	int syn_retry;	/* syn_retry_map: retransmitted SYNs per backend */
	int share;	/* share_ring: flows for the cluster's peers (bpf/include/share.h) */
	int written;	/* written_map: flows written into the tables by tools outside lbd */
};

struct bpf_object;
/* Fills fds from a loaded object (the skeleton's obj). */
int xlb_map_fds_from_obj(struct bpf_object *obj, struct xlb_map_fds *fds);
/*
 * Before into is loaded: each of its maps is from's (loaded) map of that
 * name, except its own .bss/.rodata, counters and refresh filter. A trace
 * instance (bpf/include/trace.h) shares the attached program's state so.
 */
int xlb_obj_reuse_maps(struct bpf_object *into, struct bpf_object *from);
/* Are into's maps (those xlb_obj_reuse_maps() shares) still from's? */
bool xlb_obj_shares_maps(struct bpf_object *into, struct bpf_object *from);
/* Every field "not reached", as a trace instance's record must be before a run. */
void xlb_trace_clear(struct xlb_trace *t);
/* Zeroes the global counters (a trace instance's own, before a run). */
int xlb_stats_clear(const struct xlb_map_fds *fds);

/*
 * VIP writes go to vip_map, userspace's record. They return 1 when they
 * changed it, 0 when it held that already, or -errno. The program reads
 * an index of vip_map, which xlb_vip_index_sync() rebuilds whole and swaps
 * in: call it after a batch of writes that changed something.
 */
int xlb_vip_set(const struct xlb_map_fds *fds, const struct xlb_vip_key *key,
		const struct xlb_vip_meta *meta);
int xlb_vip_index_sync(const struct xlb_map_fds *fds);
/* The two halves of it: index (XLB_VIP_INDEX_SIZE entries) from vip_map, then that index swapped in. */
int xlb_vip_index_build(const struct xlb_map_fds *fds, struct xlb_vip_entry *index);
int xlb_vip_index_swap(const struct xlb_map_fds *fds, const struct xlb_vip_entry *index);
int xlb_vip_del(const struct xlb_map_fds *fds, const struct xlb_vip_key *key);
/* A per-flow VIP's backends and order (bpf/include/per_flow.h), built from its table's inputs. */
struct maglev_backend;
void xlb_sched_set_build(uint8_t sched, const struct maglev_backend *mb, size_t n, struct xlb_sched_set *set);
/* The SYNs clients sent again on flows given to backend_id, over every CPU (syn_retry_map). */
uint64_t xlb_syn_retries(const struct xlb_map_fds *fds, uint32_t backend_id);
int xlb_sched_set_write(const struct xlb_map_fds *fds, uint32_t vip_id, const struct xlb_sched_set *set);
/* The "this address has VIPs" marker that keeps fragments and IP options away from the kernel. */
int xlb_vip_address_mark(const struct xlb_map_fds *fds, uint8_t family, const __be32 addr[4],
			 bool present);

int xlb_backend_set(const struct xlb_map_fds *fds, uint32_t id, const struct xlb_backend *be);

/*
 * Builds a new inner array of `size` slots from table and swaps it into
 * ring_map[ring_id] with a single update: packets see the old ring or the
 * new one, never a mix. A ring of XLB_RING_DEFAULT slots goes into
 * ring_default_map[ring_id] instead (whose lookups the program inlines),
 * and here and below "ring_map" means whichever of the two the ring's
 * size takes: an install takes the id out of the other one.
 */
int xlb_ring_publish(const struct xlb_map_fds *fds, uint32_t ring_id, const uint32_t *table,
		     uint32_t size);

/*
 * A published ring mapped into userspace, so that later tables of the
 * same size are written into it in place: each slot is one aligned 16-bit
 * store, which a packet sees whole, old or new (a moved slot's previous
 * backend is written before it), and no update of ring_map
 * (which waits for an RCU grace period, 5-20 ms here) is needed. slots is
 * NULL when the kernel's ring_map takes no mappable rings (pinned by an
 * older lbd): then every table is a new ring swapped in.
 */
struct xlb_ring_map {
	uint16_t *slots;	/* the kernel's values as lanes (struct xlb_ring_quad): slot i at slots[i] */
	uint32_t size;
};
int xlb_ring_publish_mapped(const struct xlb_map_fds *fds, uint32_t ring_id, const uint32_t *table,
			    uint32_t size, struct xlb_ring_map *mapped);
/*
 * The two halves of it, for a caller that puts the ring in ring_map later
 * (lbd's map worker): a new ring filled with table and mapped (mapped->slots
 * NULL when the kind is not mappable), its fd or -errno; and the update of
 * ring_map[ring_id] with it. Until xlb_ring_kind_known() says an install has
 * gone through, only xlb_ring_publish_mapped() learns which kind ring_map takes.
 */
int xlb_ring_create_mapped(const uint32_t *table, uint32_t size, struct xlb_ring_map *mapped);
int xlb_ring_install(const struct xlb_map_fds *fds, uint32_t ring_id, int fd);
/* *n rings at once (one RCU wait for all); on failure *n says how many went in, in order. */
int xlb_ring_install_batch(const struct xlb_map_fds *fds, const uint32_t *ring_ids, const int *ring_fds,
			   uint32_t *n);
/* Always for the default size (ring_default_map takes mappable rings only). */
bool xlb_ring_kind_known(uint32_t size);
/* Writes the slots of table that differ from what the ring holds (mapped->size of them). */
void xlb_ring_write(const struct xlb_ring_map *mapped, const uint32_t *table);
/*
 * One slot, i below mapped->size: the slot's 16-bit store and its
 * previous backend's, in the order that has a packet reading a moved slot
 * find its previous backend (xlb_ring_write writes each slot so).
 */
void xlb_ring_write_slot(const struct xlb_ring_map *mapped, uint32_t i, uint32_t slot);
void xlb_ring_unmap(struct xlb_ring_map *mapped);

/*
 * Does a pinned ring_map (dflt: ring_default_map) hold rings of this
 * layout (struct xlb_ring_quad, tagged), as this program reads them? An
 * older lbd's held one or two 32-bit slots an element, and an outer map
 * without BPF_F_INNER_MAP takes inner maps of its first size only: the
 * verifier would refuse this program on it. An empty one is asked (see
 * xlb_maps.c).
 */
bool xlb_rings_fit(int outer_fd, bool dflt);

/* Drops ring_map[ring_id] (in both maps) and so the kernel's last reference to that inner ring. */
int xlb_ring_del(const struct xlb_map_fds *fds, uint32_t ring_id);

/* Reads back the slots of a published ring of size slots (after a restart). */
int xlb_ring_read(const struct xlb_map_fds *fds, uint32_t ring_id, uint32_t *slots, uint32_t size);

int xlb_config_set(const struct xlb_map_fds *fds, const struct xlb_config *cfg);

/*
 * Makes entries[0..n-1] the entries of own_mac_map that origin owns (each
 * is given that origin), keeping every other origin's: the interfaces'
 * first, then VRRP's, each in the order given. An unchanged list is not
 * written. A write replaces the value in place, so a packet reading it at
 * that moment may see part of each list and misjudge a frame to a MAC
 * whose place changed, for that packet only. 0, or -ENOSPC past
 * XLB_MAX_OWN_MACS entries (nothing written then).
 */
int xlb_own_macs_set(const struct xlb_map_fds *fds, enum xlb_mac_origin origin,
		     const struct xlb_own_mac *entries, size_t n);

/* Per-CPU counters summed over the possible CPUs. */
int xlb_stat_read(const struct xlb_map_fds *fds, enum xlb_stat stat, uint64_t *value);
int xlb_stats_read_all(const struct xlb_map_fds *fds, uint64_t out[XLB_STAT_MAX]);
int xlb_traffic_read(int fd, uint32_t id, struct xlb_traffic *out);
/* What VIP id's limits dropped (vip_limit_stats), summed over the CPUs. */
int xlb_limit_drops_read(int fd, uint32_t id, struct xlb_limited *out);
/* Ids 0..n-1 of a VIP or backend counter map at once, into out[id]. */
int xlb_traffic_read_all(int fd, uint32_t n, struct xlb_traffic *out);
/* Zeroes a VIP's or backend's counters, so a reused id starts from nothing. */
int xlb_traffic_clear(int fd, uint32_t id);

/* Names of the global counters, as printed and in JSON. */
const char *xlb_stat_name(enum xlb_stat stat);

/* What a counter counts (the KIND of XLB_STATS): a verdict is PASS, DROP or TX. */
enum xlb_stat_kind { XLB_KIND_RX, XLB_KIND_PASS, XLB_KIND_DROP, XLB_KIND_TX, XLB_KIND_NOTE };
enum xlb_stat_kind xlb_stat_kind(enum xlb_stat stat);

#endif
