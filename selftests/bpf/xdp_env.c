// SPDX-License-Identifier: GPL-2.0
#include "xdp_env.h"

#include <arpa/inet.h>
#include <bpf/bpf.h>
#include <bpf/libbpf.h>
#include <errno.h>
#include <net/if.h>
#include <netinet/in.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "hash.h"
#include "maglev.h"
#include "plan.h"
#include "xlb.skel.h"

static struct xlb *skel;
static struct xlb *trace_skel;	/* the trace instance: skel's maps, xlb_trace set */
static struct xlb_map_fds trace_fds;	/* its maps: its own counters */
struct xlb_map_fds env_fds;
struct xlb_config env_cfg;

#define MAC(x) { 0x02, 0x00, 0x00, 0x00, 0x02, (x) }
static const struct env_backend backends[] = {
	{ 1, 4, "198.18.2.1", MAC(0x01) },
	{ 2, 4, "198.18.2.2", MAC(0x02) },
	{ 3, 4, "198.18.2.3", MAC(0x03) },
	{ 11, 6, "2001:db8:2::1", MAC(0x11) },
	{ 12, 6, "2001:db8:2::2", MAC(0x12) },
	{ 13, 6, "2001:db8:2::3", MAC(0x13) },
	{ 21, 4, "198.18.2.21", MAC(0x21) },
	{ 22, 4, "198.18.2.22", MAC(0x22) },
	{ 23, 4, "198.18.2.23", MAC(0x23) },
	{ 24, 4, "198.18.2.24", MAC(0x24) },
};

struct env_vip env_vips[ENV_NUM_VIPS] = {
	[VIP4_TCP_DSR] = { 4, "198.18.1.1", 80, IPPROTO_TCP, XLB_FWD_DSR, 0, 65537, { 1, 2, 3 } },
	[VIP4_UDP_DSR] = { 4, "198.18.1.1", 53, IPPROTO_UDP, XLB_FWD_DSR, 0, 251, { 1, 2, 3 } },
	[VIP4_TCP_IPIP] = { 4, "198.18.1.2", 80, IPPROTO_TCP, XLB_FWD_IPIP, 0, 65537, { 1, 2, 3 } },
	[VIP4_UDP_IPIP] = { 4, "198.18.1.2", 53, IPPROTO_UDP, XLB_FWD_IPIP, 0, 251, { 1, 2, 3 } },
	[VIP6_TCP_DSR] = { 6, "2001:db8:1::1", 80, IPPROTO_TCP, XLB_FWD_DSR, 0, 65537, { 11, 12, 13 } },
	[VIP6_UDP_DSR] = { 6, "2001:db8:1::1", 53, IPPROTO_UDP, XLB_FWD_DSR, 0, 251, { 11, 12, 13 } },
	[VIP6_TCP_IPIP] = { 6, "2001:db8:1::2", 80, IPPROTO_TCP, XLB_FWD_IPIP, 0, 65537, { 11, 12, 13 } },
	[VIP6_UDP_IPIP] = { 6, "2001:db8:1::2", 53, IPPROTO_UDP, XLB_FWD_IPIP, 0, 251, { 11, 12, 13 } },
	[VIP4_TCP_IPIP6] = { 4, "198.18.1.3", 80, IPPROTO_TCP, XLB_FWD_IPIP, 0, 1021, { 11, 12, 13 } },
	[VIP4_ANY_SRC] = { 4, "198.18.1.4", 0, IPPROTO_TCP, XLB_FWD_DSR, XLB_VIP_F_HASH_SRC, 1021, { 1, 2, 3 } },
	[VIP4_CHURN] = { 4, "198.18.1.5", 80, IPPROTO_TCP, XLB_FWD_DSR, 0, 65537, { 21, 22, 23 } },
};

const struct env_backend *env_backend(uint32_t id)
{
	for (size_t i = 0; i < sizeof(backends) / sizeof(backends[0]); i++)
		if (backends[i].id == id)
			return &backends[i];
	return NULL;
}

int env_prog_fd(void)
{
	return bpf_program__fd(skel->progs.xlb_xdp);
}

int env_share_ring_fd(void)
{
	return bpf_map__fd(skel->maps.share_ring);
}

static void to_key_addr(int family, const char *text, __be32 out[4])
{
	pkt_addr(family, text, out);
}

int env_backend_up(uint32_t id, bool up)
{
	const struct env_backend *b = env_backend(id);
	struct xlb_backend be = { 0 };

	if (!b)
		return -ENOENT;
	to_key_addr(b->family, b->addr, be.addr);
	memcpy(be.mac, b->mac, 6);
	be.family = b->family == 4 ? XLB_AF_INET : XLB_AF_INET6;
	be.flags = up ? XLB_BACKEND_F_UP : 0;
	return xlb_backend_set(&env_fds, id, &be);
}

int env_write_vip(int v)
{
	const struct env_vip *vip = &env_vips[v];
	struct xlb_vip_key key = {
		.port = htons(vip->port),
		.proto = vip->proto,
		.family = vip->family == 4 ? XLB_AF_INET : XLB_AF_INET6,
	};
	struct xlb_vip_meta meta = {
		.vip_id = (uint32_t)v,
		.ring_id = (uint32_t)v,
		.ring_size = vip->ring_size,
		.fwd_mode = vip->fwd,
		.flags = vip->flags,
		.udp_keep_until_ns = vip->udp_keep_until_ns,
	};
	int ret;

	to_key_addr(vip->family, vip->addr, key.addr);
	ret = xlb_vip_set(&env_fds, &key, &meta);
	if (ret >= 0)
		ret = xlb_vip_address_mark(&env_fds, key.family, key.addr, true);
	return ret < 0 ? ret : xlb_vip_index_sync(&env_fds);
}

/*
 * As lbd does, with lbd's own plan (userspace/lbd/plan.c): the first ring
 * has no moved slots, later ones mark what moved, and a UDP VIP whose
 * slots moved gets the window before the ring that needs it is in. Every
 * VIP here counts as having carried traffic.
 */
int env_publish(int v)
{
	struct env_vip *vip = &env_vips[v];
	struct maglev_backend mb[ENV_MAX_VIP_BACKENDS] = { 0 };
	struct plan_ring plan;
	struct timespec now;
	uint64_t now_ns;
	size_t n = 0;
	int ret;

	for (; n < ENV_MAX_VIP_BACKENDS && vip->backends[n]; n++) {
		const struct env_backend *b = env_backend(vip->backends[n]);

		mb[n].id = b->id;
		mb[n].weight = 1;
		mb[n].key[0] = (uint8_t)b->family;
		to_key_addr(b->family, b->addr, (__be32 *)&mb[n].key[4]);
	}
	if (!vip->table)
		vip->table = calloc(vip->ring_size, sizeof(uint32_t));
	if (!vip->table)
		return -ENOMEM;
	ret = maglev_build(mb, n, vip->table, vip->ring_size);
	if (ret)
		return ret;
	clock_gettime(CLOCK_MONOTONIC, &now);
	now_ns = (uint64_t)now.tv_sec * 1000000000ull + (uint64_t)now.tv_nsec;
	ret = plan_ring(&(struct plan_ring_in){
				.mb = mb, .n = n, .size = vip->ring_size, .carried = true,
				.udp = vip->proto == IPPROTO_UDP, .now = (uint32_t)(now_ns >> XLB_CONN_SEEN_SHIFT),
				.udp_window = (uint32_t)(ENV_UDP_KEEP_NS >> XLB_CONN_SEEN_SHIFT) + 1,
			}, &(struct plan_prev){ vip->slots, vip->moved_at, vip->slots ? vip->ring_size : 0 }, &plan);
	if (ret)
		return ret;
	if (plan.open_udp_window) {
		vip->udp_keep_until_ns = now_ns + ENV_UDP_KEEP_NS;
		ret = env_write_vip(v);
	}
	free(vip->slots);
	free(vip->moved_at);
	vip->slots = plan.slots;
	vip->moved_at = plan.moved_at;
	if (!ret)
		ret = xlb_ring_publish(&env_fds, (uint32_t)v, vip->slots, vip->ring_size);
	return ret ? ret : env_write_vip(v);
}

int env_fresh_expire(int v)
{
	struct env_vip *vip = &env_vips[v];

	for (uint32_t i = 0; i < vip->ring_size; i++)
		vip->slots[i] &= ~XLB_SLOT_FRESH;
	return xlb_ring_publish(&env_fds, (uint32_t)v, vip->slots, vip->ring_size);
}

static int write_world(void)
{
	int ret;

	for (size_t i = 0; i < sizeof(backends) / sizeof(backends[0]); i++) {
		ret = env_backend_up(backends[i].id, true);
		if (ret)
			return ret;
	}
	for (int v = 0; v < ENV_NUM_VIPS; v++) {
		ret = env_publish(v);
		if (ret)
			return ret;
	}
	__be32 src4[4];

	to_key_addr(4, "198.18.100.0", src4);
	env_cfg.ipip_src4 = src4[0];
	env_cfg.ipip_src4_entropy = htonl(0xff);
	to_key_addr(6, "2001:db8:ff::", env_cfg.ipip_src6);
	env_cfg.ipip_src6_entropy = htonl(0xffff);
	env_cfg.mtu = 1500;
	env_cfg.ttl = 64;
	return xlb_config_set(&env_fds, &env_cfg);
}

int env_setup(uint32_t conn_size)
{
	int ret;

	skel = xlb__open();
	if (!skel)
		return -errno;
	bpf_map__set_max_entries(skel->maps.conn_map, conn_size);
	bpf_map__set_max_entries(skel->maps.moved_map, conn_size);
	bpf_map__set_max_entries(skel->maps.syn_map, XLB_SYN_TABLE_SIZE(conn_size));
	ret = xlb__load(skel);
	if (ret) {
		fprintf(stderr, "env: loading xlb.bpf.o failed: %d (is this run as root?)\n", ret);
		goto fail;
	}
	ret = xlb_map_fds_from_obj(skel->obj, &env_fds);
	if (!ret)
		ret = write_world();
	if (!ret)
		return 0;
	fprintf(stderr, "env: writing the maps failed: %s\n", strerror(-ret));
fail:
	xlb__destroy(skel);
	skel = NULL;
	return ret;
}

void env_teardown(void)
{
	for (int v = 0; v < ENV_NUM_VIPS; v++) {
		free(env_vips[v].table);
		free(env_vips[v].slots);
		free(env_vips[v].moved_at);
		env_vips[v].table = NULL;
		env_vips[v].slots = NULL;
		env_vips[v].moved_at = NULL;
		env_vips[v].udp_keep_until_ns = 0;
	}
	xlb__destroy(trace_skel);
	trace_skel = NULL;
	xlb__destroy(skel);
	skel = NULL;
}

static int run_prog(int prog_fd, const uint8_t *in, size_t len, struct env_run *r)
{
	uint64_t before[XLB_STAT_MAX], after[XLB_STAT_MAX];
	LIBBPF_OPTS(bpf_test_run_opts, opts, .data_in = in, .data_size_in = (uint32_t)len,
		    .data_out = r->out, .data_size_out = sizeof(r->out), .repeat = 1);
	int ret;

	ret = xlb_stats_read_all(&env_fds, before);
	if (!ret)
		ret = bpf_prog_test_run_opts(prog_fd, &opts) ? -errno : 0;
	if (!ret)
		ret = xlb_stats_read_all(&env_fds, after);
	if (ret)
		return ret;
	r->verdict = (int)opts.retval;
	r->out_len = opts.data_size_out;
	for (int s = 0; s < XLB_STAT_MAX; s++)
		r->delta[s] = after[s] - before[s];
	return 0;
}

int env_run(const uint8_t *in, size_t len, struct env_run *r)
{
	return run_prog(env_prog_fd(), in, len, r);
}

static int trace_load(void)
{
	int ret;

	trace_skel = xlb__open();
	if (!trace_skel)
		return -errno;
	trace_skel->rodata->xlb_trace = 1;
	ret = xlb_obj_reuse_maps(trace_skel->obj, skel->obj);
	if (!ret)
		ret = xlb__load(trace_skel);
	if (!ret)
		ret = xlb_map_fds_from_obj(trace_skel->obj, &trace_fds);
	if (ret) {
		fprintf(stderr, "env: loading the trace instance failed: %d\n", ret);
		xlb__destroy(trace_skel);
		trace_skel = NULL;
	}
	return ret;
}

int env_trace_run(const uint8_t *in, size_t len, struct env_run *r, struct xlb_trace *rec,
		  uint64_t *counted)
{
	uint64_t would[XLB_STAT_MAX];
	int ret = trace_skel ? 0 : trace_load();

	if (!ret)
		ret = xlb_stats_clear(&trace_fds);
	if (ret)
		return ret;
	xlb_trace_clear(&trace_skel->bss->xlb_trace_out);
	ret = run_prog(bpf_program__fd(trace_skel->progs.xlb_xdp), in, len, r);
	if (!ret)
		ret = xlb_stats_read_all(&trace_fds, would);
	if (ret)
		return ret;
	*rec = trace_skel->bss->xlb_trace_out;
	*counted = 0;
	for (int i = 0; i < XLB_STAT_MAX; i++)
		*counted |= would[i] ? 1ull << i : 0;
	return 0;
}

bool env_trace_shares_maps(bool with_fresh_instance)
{
	struct xlb *other;
	bool shares;

	if (!trace_skel)
		return false;
	if (!with_fresh_instance)
		return xlb_obj_shares_maps(trace_skel->obj, skel->obj);
	other = xlb__open_and_load();
	shares = other && xlb_obj_shares_maps(trace_skel->obj, other->obj);
	xlb__destroy(other);
	return shares;
}

uint32_t env_ifindex(void)
{
	return if_nametoindex("lo");
}

int env_own_macs(uint32_t ifindex, const uint8_t *iface_mac, const uint8_t *vmac)
{
	struct xlb_own_mac iface = { .ifindex = ifindex }, vrrp = iface;
	int ret;

	if (iface_mac)
		memcpy(iface.mac, iface_mac, 6);
	if (vmac)
		memcpy(vrrp.mac, vmac, 6);
	ret = xlb_own_macs_set(&env_fds, XLB_MAC_IFACE, &iface, iface_mac ? 1 : 0);
	return ret ? ret : xlb_own_macs_set(&env_fds, XLB_MAC_VRRP, &vrrp, vmac ? 1 : 0);
}

void env_flow(const struct pkt_spec *s, struct xlb_flow_key *flow)
{
	memset(flow, 0, sizeof(*flow));
	flow->family = s->family == 4 ? XLB_AF_INET : XLB_AF_INET6;
	pkt_addr(s->family, s->src, flow->src);
	pkt_addr(s->family, s->dst, flow->dst);
	flow->sport = htons(s->sport);
	flow->dport = htons(s->dport);
	flow->proto = s->proto;
}

uint32_t env_ring_pick(int v, const struct xlb_flow_key *flow)
{
	const struct env_vip *vip = &env_vips[v];
	uint32_t hash = vip->flags & XLB_VIP_F_HASH_SRC ? xlb_hash_src(flow) : xlb_hash_flow(flow);

	return vip->table[xlb_ring_slot(hash, vip->ring_size)];
}

size_t env_expect_forward(int v, uint32_t id, const struct xlb_flow_key *flow,
			  const uint8_t *in, size_t len, uint8_t *out)
{
	const struct env_backend *b = env_backend(id);
	uint32_t hash = xlb_hash_flow(flow);
	struct pkt_outer o = { .family = b->family, .ttl = 64, .mac = b->mac };

	if (env_vips[v].fwd == XLB_FWD_DSR)
		return pkt_expect_dsr(in, len, b->mac, out);
	pkt_addr(b->family, b->addr, o.dst);
	if (b->family == 4) {
		o.src[0] = (env_cfg.ipip_src4 & ~env_cfg.ipip_src4_entropy) |
			   (htonl(hash) & env_cfg.ipip_src4_entropy);
	} else {
		memcpy(o.src, env_cfg.ipip_src6, 16);
		o.src[3] = (env_cfg.ipip_src6[3] & ~env_cfg.ipip_src6_entropy) |
			   (htonl(hash) & env_cfg.ipip_src6_entropy);
		o.flow_label = hash & 0xfffff;
	}
	return pkt_expect_ipip(in, len, &o, out);
}

int env_conn_find(const struct xlb_flow_key *flow, struct xlb_conn *out)
{
	if (!bpf_map_lookup_elem(env_fds.moved, flow, out))
		return env_fds.moved;
	if (!bpf_map_lookup_elem(env_fds.conn, flow, out))
		return env_fds.conn;
	if (!bpf_map_lookup_elem(env_fds.syn, flow, out))
		return env_fds.syn;
	return -ENOENT;
}

void env_conn_forget(const struct xlb_flow_key *flow)
{
	bpf_map_delete_elem(env_fds.moved, flow);
	bpf_map_delete_elem(env_fds.conn, flow);
	bpf_map_delete_elem(env_fds.syn, flow);
}
