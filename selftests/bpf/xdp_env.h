/* SPDX-License-Identifier: GPL-2.0 */
/*
 * The world of the packet tests: the real program loaded on the real
 * verifier, a fixed set of VIPs and backends written through the same map
 * helpers lbd uses, and a way to run one frame through BPF_PROG_TEST_RUN.
 */
#ifndef XLB_XDP_ENV_H
#define XLB_XDP_ENV_H

#include <stdbool.h>
#include <stdint.h>
#include "pkt.h"
#include "xlb_common.h"
#include "xlb_maps.h"

#define ENV_MAX_VIP_BACKENDS 8

struct env_backend {
	uint32_t id;
	int family;
	const char *addr;
	uint8_t mac[6];
};

struct env_vip {
	int family;
	const char *addr;
	uint16_t port;
	uint8_t proto;
	uint8_t fwd;		/* XLB_FWD_* */
	uint8_t flags;		/* XLB_VIP_F_* */
	uint32_t ring_size;
	uint32_t backends[ENV_MAX_VIP_BACKENDS];	/* ids, 0-terminated */
	uint32_t *table;	/* the ring as built in userspace: backend ids */
	uint32_t *slots;	/* the ring as published, with moved marks */
	uint32_t *moved_at;	/* when each marked slot first moved (plan_ring()) */
	uint64_t udp_keep_until_ns;
};

/* Index into env_vips[] */
enum {
	VIP4_TCP_DSR, VIP4_UDP_DSR, VIP4_TCP_IPIP, VIP4_UDP_IPIP,
	VIP6_TCP_DSR, VIP6_UDP_DSR, VIP6_TCP_IPIP, VIP6_UDP_IPIP,
	VIP4_TCP_IPIP6,		/* IPv4 VIP, IPv6 backends: IPv4-in-IPv6 */
	VIP4_ANY_SRC,		/* port 0, source-address hashing */
	VIP4_CHURN,		/* its backends change during tests */
	ENV_NUM_VIPS,
};

extern struct env_vip env_vips[ENV_NUM_VIPS];
extern struct xlb_map_fds env_fds;
extern struct xlb_config env_cfg;

struct env_run {
	int verdict;
	uint8_t out[PKT_MAX];
	uint32_t out_len;
	uint64_t delta[XLB_STAT_MAX];	/* how each global counter moved */
};

/* How long after a change unknown UDP flows on moved slots stay put, as in lbd. */
#define ENV_UDP_KEEP_NS (3ull * 1000000000ull)

/* A flow's entry wherever the program remembers it (moved_map, conn_map, then syn_map): the fd, or -ENOENT. */
int env_conn_find(const struct xlb_flow_key *flow, struct xlb_conn *out);
/* Forgets a flow in every table, as an eviction or the sweep would. */
void env_conn_forget(const struct xlb_flow_key *flow);

/* Loads the program (conn table of conn_size entries) and writes the world. */
int env_setup(uint32_t conn_size);
void env_teardown(void);
int env_prog_fd(void);
/* share_ring (not in xlb_map_fds): what the program hands to lbd for the peers. */
int env_share_ring_fd(void);

int env_run(const uint8_t *in, size_t len, struct env_run *r);
/*
 * The same frame through the trace instance (loaded at the first call,
 * sharing the maps that decide): r as env_run's (its deltas are the
 * attached program's counters), rec what the program recorded, counted a
 * bit 1 << enum xlb_stat for each counter it counted in its own.
 */
int env_trace_run(const uint8_t *in, size_t len, struct env_run *r, struct xlb_trace *rec,
		  uint64_t *counted);
/* Does the trace instance share the maps of the program (or of a fresh instance with maps of its own)? */
bool env_trace_shares_maps(bool with_fresh_instance);
/* The interface test runs arrive on (lo). */
uint32_t env_ifindex(void);
/*
 * own_mac_map as lbd writes it: iface_mac as the interface's MAC and vmac
 * as a VRRP router's virtual MAC, both on ifindex; NULL lists none.
 */
int env_own_macs(uint32_t ifindex, const uint8_t *iface_mac, const uint8_t *vmac);
const struct env_backend *env_backend(uint32_t id);
/* Rebuilds and publishes a VIP's ring from its backends list (those with weight 1). */
int env_publish(int vip);
/*
 * Clears XLB_SLOT_FRESH on every slot and publishes the ring, as lbd does
 * once the UDP window of the change that moved them is over.
 */
int env_fresh_expire(int vip);
/* Rewrites the VIP's map entry (after a test changed udp_keep_until_ns). */
int env_write_vip(int vip);
int env_backend_up(uint32_t id, bool up);

/* The flow of a spec, as the program keys it. */
void env_flow(const struct pkt_spec *s, struct xlb_flow_key *flow);
/* The backend the ring picks for a flow of vip (all backends up). */
uint32_t env_ring_pick(int vip, const struct xlb_flow_key *flow);
/* Expected frame for sending in to backend id as vip says. */
size_t env_expect_forward(int vip, uint32_t backend, const struct xlb_flow_key *flow,
			  const uint8_t *in, size_t len, uint8_t *out);

#endif
