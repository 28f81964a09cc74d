// SPDX-License-Identifier: GPL-2.0
#include "trace.h"

#include <arpa/inet.h>
#include <errno.h>
#include <linux/if_ether.h>
#include <linux/ip.h>
#include <linux/ipv6.h>
#include <linux/tcp.h>
#include <linux/udp.h>
#include <netinet/in.h>
#include <stdio.h>
#include <string.h>

#include <bpf/bpf.h>
#include <bpf/libbpf.h>

#include "xlb.skel.h"

/* The trace instance. */
static struct {
	struct xlb *skel;
	struct xlb_map_fds fds;	/* its maps: the counters are its own */
} tr;

void lbd_trace_close(void)
{
	if (tr.skel)
		xlb__destroy(tr.skel);
	memset(&tr, 0, sizeof(tr));
}

static int trace_load(struct lbd_dp *dp, char *err, size_t len)
{
	int ret;

	if (!dp->skel)
		return snprintf(err, len, "trace: the data plane is not loaded"), -ENODEV;
	/* A reloaded data plane may have new maps (a resized table, say): the trace must read those. */
	if (tr.skel && xlb_obj_shares_maps(tr.skel->obj, dp->skel->obj))
		return 0;
	lbd_trace_close();
	tr.skel = xlb__open();
	if (!tr.skel)
		return snprintf(err, len, "trace: cannot open the BPF object: %s", strerror(errno)), -errno;
	tr.skel->rodata->xlb_trace = 1;
	ret = xlb_obj_reuse_maps(tr.skel->obj, dp->skel->obj);
	if (!ret)
		ret = xlb__load(tr.skel);
	if (!ret)
		ret = xlb_map_fds_from_obj(tr.skel->obj, &tr.fds);
	if (ret) {
		lbd_trace_close();
		return snprintf(err, len, "trace: cannot load the trace instance of the program: %s",
				strerror(-ret)), ret;
	}
	return 0;
}

int lbd_trace_open(struct lbd_dp *dp, char *err, size_t len)
{
	return trace_load(dp, err, len);
}

/* Where the frame comes in: an interface of own_mac_map to its MAC, so the MAC check passes as for a client's. */
static void trace_ingress(const struct lbd_dp *dp, uint32_t *ifindex, uint8_t mac[ETH_ALEN])
{
	struct xlb_own_macs own = { 0 };
	uint32_t zero = 0;

	memcpy(mac, (uint8_t[ETH_ALEN]){ 0x02, 0, 0, 0, 0, 0x01 }, ETH_ALEN);
	*ifindex = dp->n_ifaces ? (uint32_t)dp->ifaces[0].ifindex : 1;
	if (bpf_map_lookup_elem(dp->fds.own_mac, &zero, &own) || !own.count)
		return;
	for (uint32_t i = 0; i < own.count && i < XLB_MAX_OWN_MACS; i++)
		if (own.e[i].origin == XLB_MAC_IFACE) {
			*ifindex = own.e[i].ifindex;
			memcpy(mac, own.e[i].mac, ETH_ALEN);
			return;
		}
}

/* A client's frame of the flow: a SYN or an ACK, or a UDP datagram, with a few bytes of payload. */
static size_t trace_frame(const struct lbd_trace_cmd *t, const struct lbd_vip_cfg *dst, const uint8_t *dmac,
			  uint8_t *f)
{
	struct ethhdr *eth = (struct ethhdr *)f;
	size_t l3 = sizeof(*eth), l4, l4_len = dst->proto == IPPROTO_TCP ? sizeof(struct tcphdr) + 8
									 : sizeof(struct udphdr) + 8;

	memcpy(eth->h_dest, dmac, ETH_ALEN);
	memcpy(eth->h_source, (uint8_t[ETH_ALEN]){ 0x02, 0, 0, 0, 0, 0x02 }, ETH_ALEN);
	if (dst->addr.family == XLB_AF_INET) {
		struct iphdr *ip = (struct iphdr *)(f + l3);

		eth->h_proto = htons(ETH_P_IP);
		*ip = (struct iphdr){ .version = 4, .ihl = 5, .ttl = 64, .protocol = dst->proto,
				      .tot_len = htons((uint16_t)(sizeof(*ip) + l4_len)),
				      .saddr = t->src.a[0], .daddr = dst->addr.a[0] };
		l4 = l3 + sizeof(*ip);
	} else {
		struct ipv6hdr *ip6 = (struct ipv6hdr *)(f + l3);

		eth->h_proto = htons(ETH_P_IPV6);
		*ip6 = (struct ipv6hdr){ .version = 6, .hop_limit = 64, .nexthdr = dst->proto,
					 .payload_len = htons((uint16_t)l4_len) };
		memcpy(&ip6->saddr, t->src.a, 16);
		memcpy(&ip6->daddr, dst->addr.a, 16);
		l4 = l3 + sizeof(*ip6);
	}
	memset(f + l4, 0, l4_len);
	if (dst->proto == IPPROTO_TCP) {
		struct tcphdr *tcp = (struct tcphdr *)(f + l4);

		tcp->source = htons(t->sport);
		tcp->dest = htons(dst->port);
		tcp->doff = 5;
		tcp->syn = t->syn;
		tcp->ack = !t->syn;
		tcp->window = htons(65535);
	} else {
		struct udphdr *udp = (struct udphdr *)(f + l4);

		udp->source = htons(t->sport);
		udp->dest = htons(dst->port);
		udp->len = htons((uint16_t)l4_len);
	}
	return l4 + l4_len;
}

struct traced {
	struct xlb_trace rec;
	uint32_t action;		/* the XDP action */
	uint64_t counted[XLB_STAT_MAX];	/* what the attached program would count */
};

static int trace_run(struct lbd_dp *dp, const struct lbd_trace_cmd *t, const struct lbd_vip_cfg *dst,
		     struct traced *out, char *err, size_t len)
{
	/* Two bytes in, as a NIC's buffer: the IP and TCP headers after the 14-byte Ethernet header are aligned. */
	uint8_t buf[2 + 128] __attribute__((aligned(8))), *frame = buf + 2, result[256], dmac[ETH_ALEN];
	struct xdp_md md = { 0 };
	uint32_t ifindex;
	size_t n;
	int ret;

	trace_ingress(dp, &ifindex, dmac);
	n = trace_frame(t, dst, dmac, frame);
	md.data_end = (uint32_t)n;
	md.ingress_ifindex = ifindex;
	LIBBPF_OPTS(bpf_test_run_opts, opts, .data_in = frame, .data_size_in = (uint32_t)n, .data_out = result,
		    .data_size_out = sizeof(result), .ctx_in = &md, .ctx_size_in = sizeof(md), .repeat = 1);

	ret = xlb_stats_clear(&tr.fds);
	if (ret)
		return snprintf(err, len, "trace: cannot clear the trace counters: %s", strerror(-ret)), ret;
	xlb_trace_clear(&tr.skel->bss->xlb_trace_out);
	if (bpf_prog_test_run_opts(bpf_program__fd(tr.skel->progs.xlb_xdp), &opts))
		return snprintf(err, len, "trace: running the frame through the program failed: %s",
				strerror(errno)), -errno;
	ret = xlb_stats_read_all(&tr.fds, out->counted);
	if (ret)
		return snprintf(err, len, "trace: cannot read the trace counters: %s", strerror(-ret)), ret;
	out->rec = tr.skel->bss->xlb_trace_out;
	out->action = opts.retval;
	return 0;
}

/* ---- printing: each field once, as a JSON member and a text line ---- */

/* A line "  KEY VALUE" in text: the key is the label, as in JSON. */
static void field(struct out *o, const char *key, const char *value)
{
	out_text(o, "  %-17s ", key);
	out_field_str(o, key, "%s\n", value);
}

static void field_u64(struct out *o, const char *key, uint64_t value)
{
	out_text(o, "  %-17s ", key);
	out_field_u64(o, key, "%llu\n", value);
}

static void field_bool(struct out *o, const char *key, bool value)
{
	out_bool(o, key, value);
	out_text(o, "  %-17s %s\n", key, value ? "yes" : "no");
}

static const char *action_name(uint32_t action)
{
	static const char *const names[] = { "aborted", "drop", "pass", "tx", "redirect" };

	return action < sizeof(names) / sizeof(names[0]) ? names[action] : "?";
}

static void backend_name(const struct lbd_dp *dp, uint32_t id, char *buf, size_t len)
{
	if (id == XLB_NO_BACKEND || id == XLB_SLOT_NONE)
		snprintf(buf, len, "none");
	else if (id < XLB_MAX_BACKENDS && dp->backends[id].addr.family)
		lbd_addr_format(&dp->backends[id].addr, buf, len);
	else
		snprintf(buf, len, "id %u (not lbd's)", id);
}

static void flow_name(const struct lbd_trace_cmd *t, const struct lbd_vip_cfg *dst, char *buf, size_t len)
{
	char src[INET6_ADDRSTRLEN], vip[80];

	lbd_addr_format(&t->src, src, sizeof(src));
	lbd_vip_format(dst, vip, sizeof(vip));
	snprintf(buf, len, "%s%s%s:%u %s %s", t->src.family == XLB_AF_INET6 ? "[" : "", src,
		 t->src.family == XLB_AF_INET6 ? "]" : "", t->sport, vip,
		 dst->proto != IPPROTO_TCP ? "udp" : t->syn ? "syn" : "ack");
}

static void print_backend(const struct lbd_trace_ctx *ctx, struct out *o, const struct xlb_trace *r)
{
	const struct lbd_vip_rt *rt = r->vip_id < XLB_MAX_VIPS ? &ctx->dp->vips[r->vip_id] : NULL;
	const struct lbd_vip_cfg *v = rt ? lbd_vip_find(ctx->cfg, &rt->key) : NULL;
	const struct lbd_backend_rt *brt = r->backend_id < XLB_MAX_BACKENDS ? &ctx->dp->backends[r->backend_id]
									 : NULL;
	const struct lbd_backend_cfg *b = v && brt ? lbd_backend_find(v, &brt->addr) : NULL;
	char name[INET6_ADDRSTRLEN + 24];

	backend_name(ctx->dp, r->backend_id, name, sizeof(name));
	field(o, "backend", name);
	if (r->backend_id == XLB_NO_BACKEND)
		return;
	field_u64(o, "backend_id", r->backend_id);
	field(o, "backend_state", b ? ctx->state(ctx->state_ctx, v, rt, b, hc_find(ctx->hc, v, &b->addr))
				     : "not configured");
}

static void print_traced(const struct lbd_trace_ctx *ctx, struct out *o, const struct lbd_trace_cmd *t,
			 const struct lbd_vip_cfg *dst, const struct traced *tr_)
{
	const struct xlb_trace *r = &tr_->rec;
	char buf[256] = "", name[INET6_ADDRSTRLEN + 120];
	const char *verdict = "none";

	for (int s = XLB_STAT_RX + 1; s < XLB_STAT_MAX; s++) {
		if (!tr_->counted[s])
			continue;
		if (xlb_stat_kind(s) == XLB_KIND_NOTE)
			snprintf(buf + strlen(buf), sizeof(buf) - strlen(buf), "%s%s", buf[0] ? " " : "",
				 xlb_stat_name(s));
		else
			verdict = xlb_stat_name(s);
	}
	flow_name(t, dst, name, sizeof(name));
	out_obj_begin(o, NULL);
	out_str(o, "flow", name);
	out_text(o, "flow %s\n", name);
	field(o, "action", action_name(tr_->action));
	field(o, "verdict", verdict);
	field(o, "notes", buf);
	if (r->vip_id == XLB_NO_BACKEND) {
		field(o, "why", "not a VIP: it goes to the kernel");
		out_obj_end(o);
		return;
	}
	if (r->vip_id < XLB_MAX_VIPS && ctx->dp->vips[r->vip_id].used)
		lbd_vip_format(&ctx->dp->vips[r->vip_id].key, buf, sizeof(buf));
	else
		snprintf(buf, sizeof(buf), "id %u (not lbd's)", r->vip_id);
	field(o, "vip", buf);
	field_u64(o, "vip_id", r->vip_id);
	field(o, "forward", r->fwd_mode == XLB_FWD_DSR ? "dsr" : "ipip");
	field(o, "sched", r->vip_id < XLB_MAX_VIPS && ctx->dp->vips[r->vip_id].used
				  ? lbd_sched_name(ctx->dp->vips[r->vip_id].key.sched)
				  : r->vip_flags & XLB_VIP_F_HASH_SRC ? "maglev-src" : "maglev");
	field_u64(o, "ring_size", r->ring_size);
	if (r->slot_index != XLB_NO_BACKEND) {
		field_u64(o, "flow_hash", r->flow_hash);
		field_u64(o, "ring_hash", r->ring_hash);
		field_u64(o, "slot", r->slot_index);
		backend_name(ctx->dp, XLB_SLOT_ID(r->slot), name, sizeof(name));
		field(o, "slot_backend", name);
		field_bool(o, "slot_moved", r->slot & XLB_SLOT_MOVED);
		field_bool(o, "slot_fresh", (r->slot & XLB_SLOT_MOVED) && (r->slot & XLB_SLOT_FRESH));
		backend_name(ctx->dp, r->slot & XLB_SLOT_MOVED ? XLB_SLOT_PREV(r->slot) : XLB_NO_BACKEND, name,
			     sizeof(name));
		field(o, "previous_backend", name);
	}
	field(o, "conn", r->conn_table == XLB_TRACE_CONN_MOVED ? "moved_map"
			 : r->conn_table == XLB_TRACE_CONN_TABLE ? "conn_map"
			 : r->conn_table == XLB_TRACE_CONN_SYN ? "syn_map" : "none");
	if (r->conn_table != XLB_TRACE_CONN_NONE) {
		backend_name(ctx->dp, r->conn_backend, name, sizeof(name));
		field(o, "conn_backend", name);
		field_bool(o, "conn_ignored", r->conn_stale);
	}
	print_backend(ctx, o, r);
	out_obj_end(o);
}

/* ---- the command ---- */

static int trace_one(const struct lbd_trace_ctx *ctx, struct out *o, const struct lbd_trace_cmd *t,
		     const struct lbd_vip_cfg *dst, char *err, size_t len)
{
	struct traced r;
	int ret = trace_run(ctx->dp, t, dst, &r, err, len);

	if (!ret)
		print_traced(ctx, o, t, dst, &r);
	return ret;
}

/* Words of a line, in place; the count, or -1 past max. */
static int split_words(char *line, char **words, int max)
{
	int n = 0;

	for (char *w = strtok(line, " \t\r\n"); w; w = strtok(NULL, " \t\r\n")) {
		if (n == max)
			return -1;
		words[n++] = w;
	}
	return n;
}

#define TRACE_MAX_WORDS 8

/* A file of flows, from line cur->next on; each line is the words after `lbctl trace`. */
static int trace_file(const struct lbd_trace_ctx *ctx, const struct lbd_cmd *cmd, struct out *o,
		      struct ctl_cursor *cur, char *err, size_t len)
{
	char line[512], *words[TRACE_MAX_WORDS + 1] = { "trace" }, why[LBD_ERR_LEN];
	size_t no = 0, from = cur->next;
	FILE *f = fopen(cmd->trace.file, "r");
	struct lbd_cmd one;
	int ret = 0, n;

	if (!f)
		return snprintf(err, len, "trace: cannot read %s: %s", cmd->trace.file, strerror(errno)), -errno;
	if (!from) {
		out_obj_begin(o, NULL);
		out_arr_begin(o, "flows");
	}
	while (fgets(line, sizeof(line), f)) {
		if (++no <= from)
			continue;
		n = split_words(line, words + 1, TRACE_MAX_WORDS);
		if (!n || (n > 0 && words[1][0] == '#'))
			continue;
		if (n < 0 || lbd_cmd_parse(n + 1, words, &one, why, sizeof(why)) || one.trace.file[0]) {
			snprintf(err, len, "%s:%zu: %s", cmd->trace.file, no,
				 n < 0 ? "too many words for a flow" : one.trace.file[0] ? "--file in a file of flows"
							  : why);
			ret = -EINVAL;
			break;
		}
		ret = trace_one(ctx, o, &one.trace, &one.vip, err, len);
		if (ret)
			break;
		out_text(o, "\n");
		if (ctl_pause_at(cur, no, lbd_mono_us()))
			break;
	}
	fclose(f);
	if (!ret && !cur->more) {
		out_arr_end(o);
		out_obj_end(o);
	}
	return ret;
}

int lbd_trace(const struct lbd_trace_ctx *ctx, const struct lbd_cmd *cmd, struct out *o,
	      struct ctl_cursor *cur, char *err, size_t len)
{
	struct traced r;
	char vip[80];
	int ret = trace_load(ctx->dp, err, len);

	if (ret)
		return ret;
	if (cmd->trace.file[0])
		return trace_file(ctx, cmd, o, cur, err, len);
	ret = trace_run(ctx->dp, &cmd->trace, &cmd->vip, &r, err, len);
	if (ret)
		return ret;
	if (r.rec.vip_id == XLB_NO_BACKEND) {
		lbd_vip_format(&cmd->vip, vip, sizeof(vip));
		return snprintf(err, len, "%s is not a VIP: it goes to the kernel (lbctl vip list shows the VIPs)",
				vip), -ENOENT;
	}
	print_traced(ctx, o, &cmd->trace, &cmd->vip, &r);
	return 0;
}
