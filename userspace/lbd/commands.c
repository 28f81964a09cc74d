// SPDX-License-Identifier: GPL-2.0
/*
 * lbctl's commands: what each prints (one out_field_* call a field, text
 * and JSON alike) and how a change reaches lbd_commit(). Long replies are
 * written a VIP at a time, a piece a pass of the loop (ctlsrv.h).
 */
#define _GNU_SOURCE
#include <arpa/inet.h>
#include <bpf/bpf.h>
#include <errno.h>
#include <netinet/in.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "acl.h"
#include "clock.h"
#include "lbd.h"
#include "log.h"
#include "trace.h"

static const char *state_name(enum lbd_be_state s, const struct lbd_backend_cfg *b,
			      const struct hc_target *t, bool fail_open)
{
	if (s != BE_RESOLVED)
		return lbd_shown_names[s == BE_UNREACHABLE ? SHOWN_UNREACHABLE : SHOWN_RESOLVING];
	bool agent = t && hc_agent_on(t);

	if (b->admin == LBD_ADMIN_DOWN || (agent && t->agent.view.state == AGENT_DOWN))
		return lbd_shown_names[SHOWN_ADMIN_DOWN];
	if (b->drain || (agent && t->agent.view.state == AGENT_DRAIN))
		return lbd_shown_names[SHOWN_DRAINING];
	if (!b->weight || (agent && !t->agent.view.percent))
		return lbd_shown_names[SHOWN_WEIGHT_0];
	if (b->admin == LBD_ADMIN_AUTO && t && !t->up)
		return lbd_shown_names[fail_open ? SHOWN_DOWN_OPEN : SHOWN_DOWN];
	if (b->admin == LBD_ADMIN_AUTO && t && t->ramp_start &&
	    lbd_mono_ms() < t->ramp_start + t->check.slow_start_ms)
		return lbd_shown_names[SHOWN_SLOW_START];
	return lbd_shown_names[SHOWN_ACTIVE];
}

/* The state lbctl show prints for backend b of v, and xlb_backend_state. */
const char *lbd_shown_state(void *ctx, const struct lbd_vip_cfg *v, const struct lbd_vip_rt *rt,
			       const struct lbd_backend_cfg *b, const struct hc_target *t)
{
	struct lbd *d = ctx;
	uint32_t id = lbd_dp_backend_id(&d->dp, &b->addr);
	const struct lbd_backend_rt *brt = id ? &d->dp.backends[id] : NULL;
	enum lbd_be_state st = brt ? brt->state : BE_UNKNOWN;

	if (brt && st == BE_RESOLVED && brt->via_gateway && v->fwd == XLB_FWD_DSR)
		return lbd_shown_names[SHOWN_UNREACHABLE];
	return state_name(st, b, t, rt && rt->fail_open);
}

/* A VIP's own fields; the text formats of the ones a view shows (NULL: JSON only). */
static void print_vip_fields(struct out *o, const struct lbd_vip_cfg *v, const char *vip_fmt, const char *fwd_fmt,
			     const char *sched_fmt, const char *ring_fmt)
{
	char vs[80], a[INET6_ADDRSTRLEN];

	lbd_vip_format(v, vs, sizeof(vs));
	lbd_addr_format(&v->addr, a, sizeof(a));
	out_field_str(o, "vip", vip_fmt, vs);
	out_str(o, "address", a);
	out_u64(o, "port", v->port);
	out_str(o, "protocol", v->proto == IPPROTO_TCP ? "tcp" : "udp");
	out_field_str(o, "forward", fwd_fmt, v->fwd == XLB_FWD_DSR ? "dsr" : "ipip");
	out_field_str(o, "sched", sched_fmt, lbd_sched_name(v->sched));
	out_field_u64(o, "ring_size", ring_fmt, v->ring_size);
}

/*
 * Where a reply that is written a piece a pass goes on (0: from its start),
 * or CTL_RESTART: the configuration it began on has changed since.
 */
static int reply_resume(struct lbd *d, struct ctl_cursor *cur, size_t *from)
{
	if (!cur->next) {
		cur->gen = d->cfg_gen;
		*from = 0;
		return 0;
	}
	if (cur->gen != d->cfg_gen)
		return CTL_RESTART;
	*from = cur->next;
	return 0;
}

/* The end of a reply whose rows are an array of the top object: after its last piece. */
static int reply_end(struct out *o)
{
	out_arr_end(o);
	out_obj_end(o);
	return 0;
}

static int cmd_vip_list(struct lbd *d, struct out *o, struct ctl_cursor *cur)
{
	size_t from;

	if (reply_resume(d, cur, &from))
		return CTL_RESTART;
	if (!from) {
		out_obj_begin(o, NULL);
		out_arr_begin(o, "vips");
		out_text(o, "%-30s %-7s %-11s %-8s %-8s %-8s %s\n", "VIP", "FORWARD", "SCHED", "RING", "MOVED",
			 "BACKENDS", "DIGEST");
	}
	for (size_t i = from; i < d->cfg.n_vips; i++) {
		const struct lbd_vip_cfg *v = &d->cfg.vips[i];
		const struct lbd_vip_rt *rt = lbd_dp_vip(&d->dp, v, NULL);
		uint32_t moved = rt ? rt->n_moved : 0;
		char digest[20];

		snprintf(digest, sizeof(digest), "%016llx",
			 rt ? (unsigned long long)lbd_dp_ring_digest(&d->dp, (struct lbd_vip_rt *)rt) : 0ull);
		out_obj_begin(o, NULL);
		print_vip_fields(o, v, "%-30s ", "%-7s ", "%-11s ", "%-8llu ");
		out_field_u64(o, "moved_slots", "%-8llu ", moved);
		out_u64(o, "table_builds", rt ? rt->builds : 0);
		out_field_u64(o, "backend_count", "%-8llu ", v->n_backends);
		out_field_str(o, "ring_digest", "%s\n", digest);
		out_obj_end(o);
		/* A digest reads the whole ring: 500 new ones are tens of ms. */
		if (i + 1 < d->cfg.n_vips && ctl_pause_at(cur, i + 1, lbd_mono_us()))
			return 0;
	}
	return reply_end(o);
}

/* The REASON of a backend its agent weighs: what the agent said, and whether that is still what counts. */
static void agent_reason(const struct lbd_backend_cfg *b, const struct hc_agent *a, char *buf, size_t len)
{
	if (a->stale)
		snprintf(buf, len, "agent %s, keeping %s %u%%", a->last, agent_state_name(a->view.state),
			 a->view.percent);
	else
		snprintf(buf, len, "agent '%s': weight %g", a->last, b->weight * a->view.percent / 100.0);
}

static void print_agent(struct out *o, const struct lbd_backend_cfg *b, const struct hc_agent *a)
{
	out_obj_begin(o, "agent");
	out_str(o, "last", a->last);
	out_u64(o, "percent", a->view.percent);
	out_str(o, "state", agent_state_name(a->view.state));
	out_bool(o, "stale", a->stale);
	out_double(o, "effective_weight", b->weight * a->view.percent / 100.0);
	out_obj_end(o);
}

static void print_backends(struct lbd *d, struct out *o, const struct lbd_vip_cfg *v, const uint64_t *flows)
{
	const struct lbd_vip_rt *rt = lbd_dp_vip(&d->dp, v, NULL);

	out_arr_begin(o, "backends");
	bool per_flow = lbd_sched_xlb(v->sched) != XLB_SCHED_RING;

	/* A per-flow scheduler's FLOWS are its active ones, which it places by. */
	out_text(o, "  %-28s %-6s %-11s %-8s %-7s %-10s %-20s %-6s %s\n", "BACKEND", "WEIGHT", "STATE", "SHARE",
		 flows || per_flow ? "FLOWS" : "", "CHECK", "LAST", "SINCE", "REASON");
	for (size_t j = 0; j < v->n_backends; j++) {
		const struct lbd_backend_cfg *b = &v->backends[j];
		uint32_t id = lbd_dp_backend_id(&d->dp, &b->addr);
		const struct lbd_backend_rt *brt = id ? &d->dp.backends[id] : NULL;
		const struct hc_target *t = hc_find(&d->hc, v, &b->addr);
		enum lbd_be_state st = brt ? brt->state : BE_UNKNOWN;
		uint32_t slots = rt && id ? lbd_dp_ring_share(rt, id) : 0;
		double share = rt && rt->ring_size ? 100.0 * slots / rt->ring_size : 0;
		const char *why = brt && st != BE_RESOLVED ? brt->why : t && t->passive[0] ? t->passive : "";
		const char *state = lbd_shown_state(d, v, rt, b, t);
		const char *admin = b->admin == LBD_ADMIN_UP ? "up" : b->admin == LBD_ADMIN_DOWN ? "down" : "auto";
		char a[INET6_ADDRSTRLEN], check[24] = "-", last[80] = "-", age[16] = "-";
		char hop[INET6_ADDRSTRLEN], gw_why[INET6_ADDRSTRLEN + 80], agent_why[160];

		lbd_addr_format(&b->addr, a, sizeof(a));
		if (brt && st == BE_RESOLVED && brt->via_gateway && v->fwd == XLB_FWD_DSR) {
			inet_ntop(b->addr.family == XLB_AF_INET ? AF_INET : AF_INET6, brt->hop, hop, sizeof(hop));
			snprintf(gw_why, sizeof(gw_why), "DSR cannot reach it through router %s: use forward ipip", hop);
			why = gw_why;
		}
		if (t && hc_agent_on(t) && !why[0]) {
			agent_reason(b, &t->agent, agent_why, sizeof(agent_why));
			why = agent_why;
		}
		if (t) {
			snprintf(check, sizeof(check), "%s %s", check_type_name(t->check.type),
				 t->check.type == CHECK_NONE ? "" : t->up ? "up" : "down");
			if (t->checked)
				snprintf(last, sizeof(last), "%.24s %.1fms", t->last, t->latency_us / 1000.0);
			else
				snprintf(last, sizeof(last), "%s", t->last);
			out_age(t->since_ms, age, sizeof(age));
		}
		out_obj_begin(o, NULL);
		out_field_str(o, "address", "  %-28s ", a);
		out_field_u64(o, "weight", "%-6llu ", b->weight);
		out_field_str(o, "state", "%-11s ", state);
		out_field_double(o, "share", "%6.2f%%  ", share);
		if (flows && !per_flow)
			out_field_u64(o, "flows", "%-7llu ", flows[id]);
		else if (per_flow)
			out_field_u64(o, "active_flows", "%-7llu ", lbd_dp_active_flows(&d->dp, id));
		else
			out_text(o, "%-7s ", "");
		/* The health object's fields in one column each of the text view. */
		out_text(o, "%-10s %-20s %-6s ", check, last, age);
		out_field_str(o, "reason", "%s\n", why);
		out_u64(o, "slots", slots);
		out_str(o, "admin", admin);
		if (t && (v->weights == LBD_WEIGHTS_LATENCY || v->weights == LBD_WEIGHTS_BANDWIDTH)) {
			out_obj_begin(o, "feedback");
			out_u64(o, "percent", fb_pct(&t->feedback));
			out_u64(o, "metric", t->feedback.have ? (uint64_t)t->feedback.smoothed : 0);
			out_obj_end(o);
		}
		if (t) {
			out_obj_begin(o, "health");
			out_str(o, "check", check_type_name(t->check.type));
			out_bool(o, "up", t->up);
			out_bool(o, "checked", t->checked);
			out_str(o, "last", t->last);
			out_u64(o, "latency_us", t->latency_us);
			out_u64(o, "since", t->since_ms / 1000);
			out_u64(o, "changes", t->changes);
			out_obj_end(o);
		}
		if (t && hc_agent_on(t))
			print_agent(o, b, &t->agent);
		out_obj_end(o);
	}
	out_arr_end(o);
}

struct persist_print {
	struct lbd *d;
	struct out *o;
	uint64_t now_ns, persist_ns, n;
};

static void persist_row(void *ctx, const struct xlb_persist_key *key, const struct xlb_persist *val)
{
	struct persist_print *pp = ctx;
	struct lbd_addr client = { .family = key->family };
	const struct lbd_backend_rt *b = val->backend_id < XLB_MAX_BACKENDS ? &pp->d->dp.backends[val->backend_id]
									     : NULL;
	uint64_t idle_ms = pp->now_ns > val->seen_ns ? (pp->now_ns - val->seen_ns) / 1000000 : 0;
	uint64_t left_ms = pp->persist_ns / 1000000 > idle_ms ? pp->persist_ns / 1000000 - idle_ms : 0;
	char c[INET6_ADDRSTRLEN], be[INET6_ADDRSTRLEN] = "?";

	memcpy(client.a, key->addr, sizeof(client.a));
	lbd_addr_format(&client, c, sizeof(c));
	if (b && b->addr.family)
		lbd_addr_format(&b->addr, be, sizeof(be));
	pp->n++;
	out_obj_begin(pp->o, NULL);
	out_field_str(pp->o, "client", "  %-28s ", c);
	out_field_str(pp->o, "backend", "%-28s ", be);
	out_field_u64(pp->o, "idle_ms", "%-10llu ", idle_ms);
	out_field_u64(pp->o, "expires_in_ms", "%llu\n", left_ms);
	out_obj_end(pp->o);
}

/* persist show|flush VIP: the clients a persistent VIP keeps on a backend, or forgets them. */
static int cmd_persist(struct lbd *d, struct out *o, const struct lbd_cmd *cmd, char *err, size_t len)
{
	const struct lbd_vip_cfg *v = lbd_vip_find(&d->cfg, &cmd->vip);
	bool flush = cmd->kind == CMD_PERSIST_FLUSH;
	struct persist_print pp = { d, o, lbd_mono_us() * 1000, 0, 0 };
	char vs[80];
	uint32_t vip_id;
	int ret;

	lbd_vip_format(&cmd->vip, vs, sizeof(vs));
	if (!v)
		return snprintf(err, len, "VIP %s does not exist: see 'lbctl vip list'", vs), -ENOENT;
	if (!v->persist_ms)
		return snprintf(err, len, "VIP %s has no persistence: add it with --persist D", vs), -EINVAL;
	if (!lbd_dp_vip(&d->dp, v, &vip_id))
		return snprintf(err, len, "VIP %s is not in the data plane yet", vs), -EAGAIN;
	pp.persist_ns = (uint64_t)v->persist_ms * 1000000;
	out_obj_begin(o, NULL);
	out_arr_begin(o, "clients");
	out_text(o, "  %-28s %-28s %-10s %s\n", "CLIENT", "BACKEND", "IDLE_MS", "EXPIRES_IN_MS");
	ret = lbd_dp_persist_walk(&d->dp, vip_id, flush, persist_row, &pp);
	out_arr_end(o);
	if (flush)
		out_field_u64(o, "flushed", "flushed %llu\n", pp.n);
	out_obj_end(o);
	if (ret)
		return snprintf(err, len, "cannot read the persistence table: %s", strerror(-ret)), ret;
	if (flush)
		lbd_info("VIP %s: %llu persistent clients flushed", vs, (unsigned long long)pp.n);
	return 0;
}

static void cmd_backend_list(struct lbd *d, struct out *o, const struct lbd_vip_cfg *key)
{
	const struct lbd_vip_cfg *v = lbd_vip_find(&d->cfg, key);

	out_obj_begin(o, NULL);
	print_backends(d, o, v, NULL);
	out_obj_end(o);
}

static void print_pass(struct out *o, const char *key, const struct loop_pass *p)
{
	out_obj_begin(o, key);
	out_u64(o, "us", p->us);
	out_u64(o, "cpu_us", p->cpu_us);
	out_u64(o, "waits", (uint64_t)p->waits);
	out_u64(o, "preempted", (uint64_t)p->preempted);
	out_str(o, "by", p->by ? p->by : "");
	out_obj_end(o);
}

/* How long lbd's loop was held: in show, and in stats, which is cheap to ask often. */
static void print_loop(struct lbd *d, struct out *o)
{
	const struct loop_pass *recent = &d->loop_recent[d->loop_recent[0].us > d->loop_recent[1].us ? 0 : 1];

	out_obj_begin(o, "loop");
	out_u64(o, "longest_us", d->loop_longest.us);
	out_u64(o, "recent_longest_us", recent->us);
	out_u64(o, "passes_over_10ms", d->loop_over_10ms);
	out_u64(o, "passes_over_10ms_cpu", d->loop_over_10ms_cpu);
	out_u64(o, "replies_resumed", d->ctl.resumed);
	print_pass(o, "longest", &d->loop_longest);
	print_pass(o, "recent_longest", recent);
	out_obj_end(o);
}

static void show_head(struct lbd *d, struct out *o, const uint64_t *flows, uint64_t flows_age_ms)
{
	out_obj_begin(o, NULL);
	out_arr_begin(o, "interfaces");
	for (size_t i = 0; i < d->dp.n_ifaces; i++) {
		const struct lbd_iface_rt *rt = &d->dp.ifaces[i];
		const char *mode = rt->mode == LBD_XDP_GENERIC || rt->generic_fallback ? "generic" : "native";

		out_obj_begin(o, NULL);
		out_field_str(o, "name", "interface %s: ", rt->name);
		out_u64(o, "ifindex", (uint64_t)rt->ifindex);
		out_field_str(o, "xdp_mode", "xdp %s, ", mode);
		out_field_u64(o, "prog_id", "program id %llu", rt->prog_id);
		out_text(o, "%s\n", rt->generic_fallback ? " (native refused: fell back to generic)" : "");
		out_obj_end(o);
	}
	if (!d->dp.n_ifaces)
		out_text(o, "not attached to any interface: lbctl attach DEV\n");
	for (uint8_t bit = LBD_IPIP_NO_SRC4; bit <= LBD_IPIP_NO_SRC6; bit <<= 1)
		if (d->dp.ipip_missing & bit)
			out_text(o, "warning: ipip VIPs have %s backends but no %s outer source: set ipip-source ADDR\n",
				 bit == LBD_IPIP_NO_SRC4 ? "IPv4" : "IPv6", bit == LBD_IPIP_NO_SRC4 ? "IPv4" : "IPv6");
	out_arr_end(o);
	out_field_u64(o, "conn_table_size", "connection table: %llu entries", d->dp.conn_table_size);
	out_field_u64(o, "conn_timeout", ", a flow idle for %llu s is forgotten\n", d->cfg.conn_timeout);
	if (flows && d->dp.sweep.flows_waiting)
		out_text(o, "FLOWS counted %llu s ago: conn_map is read every %llu s while no slot is moved and no VIP schedules per flow\n",
			 (unsigned long long)(flows_age_ms / 1000),
			 (unsigned long long)(d->dp.sweep.conn_every_ms / 1000));
	cluster_show(d, o);
	out_u64(o, "syncs", d->dp.syncs);
	out_u64(o, "sweep_passes", d->dp.sweep.passes);
	out_u64(o, "sweep_last_pass_ms", d->dp.sweep.last_pass_ms);
	out_u64(o, "sweep_tables_left", d->dp.sweep.tables_left);
	out_u64(o, "sweep_conn_every_ms", d->dp.sweep.conn_every_ms);
	out_u64(o, "sweep_conn_waits", d->dp.sweep.conn_waits);
	out_bool(o, "ipip_source4_missing", d->dp.ipip_missing & LBD_IPIP_NO_SRC4);
	out_bool(o, "ipip_source6_missing", d->dp.ipip_missing & LBD_IPIP_NO_SRC6);
	print_loop(d, o);
	if (flows)
		out_u64(o, "flows_age_ms", flows_age_ms);
	out_arr_begin(o, "vips");
}

/* Thousands of backends are tens of ms of rows: written a piece a pass, a VIP at a time. */
static int cmd_show(struct lbd *d, struct out *o, struct ctl_cursor *cur)
{
	/* Counted by the sweep as it reads the table anyway: a show costs no pass of its own. */
	uint64_t flows_age_ms = 0;
	const uint64_t *flows = lbd_dp_flows(&d->dp, &flows_age_ms);
	size_t from;

	if (reply_resume(d, cur, &from))
		return CTL_RESTART;
	if (!from)
		show_head(d, o, flows, flows_age_ms);
	for (size_t i = from; i < d->cfg.n_vips; i++) {
		const struct lbd_vip_cfg *v = &d->cfg.vips[i];

		out_obj_begin(o, NULL);
		out_text(o, "\n");
		print_vip_fields(o, v, "vip %s ", "forward %s ", "sched %s ", "ring-size %llu\n");
		print_backends(d, o, v, flows);
		out_obj_end(o);
		if (i + 1 < d->cfg.n_vips && ctl_pause_at(cur, i + 1, lbd_mono_us()))
			return 0;
	}
	return reply_end(o);
}


/* One line of `lbctl stats`: a VIP or a backend and its traffic; a VIP's with what its limits dropped. */
static void traffic_row(struct out *o, const char *key, const char *name,
			const struct xlb_traffic *t, uint64_t pps, const struct xlb_limited *limited)
{
	out_obj_begin(o, NULL);
	out_field_str(o, key, "%-30s ", name);
	out_field_u64(o, "packets", "%-12llu ", t->packets);
	out_field_u64(o, "bytes", "%-14llu ", t->bytes);
	out_field_u64(o, "pps", "%-10llu ", pps);
	if (!limited) {
		out_field_u64(o, "new_flows", "%llu\n", t->new_flows);
	} else {
		out_field_u64(o, "new_flows", "%-10llu ", t->new_flows);
		out_field_u64(o, "limit_new_flows_dropped", "%-12llu ", limited->new_flows_dropped);
		out_field_u64(o, "limit_pps_dropped", "%-12llu ", limited->pps_dropped);
		out_field_u64(o, "denied", "%llu\n", limited->denied);
	}
	out_obj_end(o);
}


/* A client over a limit lately, as limited_map has it. */
struct top_row {
	struct xlb_limit_key key;
	struct xlb_limited seen;
};

static int top_cmp(const void *a, const void *b)
{
	const struct top_row *x = a, *y = b;
	uint64_t nx = x->seen.new_flows_dropped + x->seen.pps_dropped + x->seen.denied;
	uint64_t ny = y->seen.new_flows_dropped + y->seen.pps_dropped + y->seen.denied;

	return nx < ny ? 1 : nx > ny ? -1 : 0;
}

/* How long ago a client was last over a limit for it to be "now" in lbctl top. */
#define TOP_RECENT_MS	10000

/*
 * lbctl top: the clients over a VIP's limits in the last TOP_RECENT_MS,
 * most drops first. limited_map holds XLB_LIMITED_MAX at most: one read
 * of it is bounded, and a flood from spoofed sources shows its latest.
 */
static int cmd_top(struct lbd *d, struct out *o)
{
	static struct top_row rows[XLB_LIMITED_MAX];
	const struct lbd_vip_cfg *by_id[XLB_MAX_VIPS] = { 0 };
	struct xlb_limit_key key, *prev = NULL;
	uint64_t now = lbd_mono_us() * 1000;
	size_t n = 0;

	for (size_t i = 0; i < d->cfg.n_vips; i++) {
		uint32_t id;

		if (lbd_dp_vip(&d->dp, &d->cfg.vips[i], &id) && id < XLB_MAX_VIPS)
			by_id[id] = &d->cfg.vips[i];
	}
	while (n < XLB_LIMITED_MAX && !bpf_map_get_next_key(d->dp.fds.limited, prev, &key)) {
		prev = &rows[n].key;
		rows[n].key = key;
		if (bpf_map_lookup_elem(d->dp.fds.limited, &key, &rows[n].seen))
			continue;
		if (key.vip_id < XLB_MAX_VIPS && by_id[key.vip_id] && now - rows[n].seen.last_ns <= TOP_RECENT_MS * 1000000ull)
			n++;
	}
	qsort(rows, n, sizeof(rows[0]), top_cmp);
	out_obj_begin(o, NULL);
	out_arr_begin(o, "clients");
	out_text(o, "%-30s %-28s %-12s %-12s %-12s %s\n", "VIP", "CLIENT", "NEW_FLOWS", "PACKETS", "DENIED", "LAST");
	for (size_t i = 0; i < n; i++) {
		const struct lbd_vip_cfg *v = by_id[rows[i].key.vip_id];
		struct lbd_addr a = { .family = rows[i].key.family };
		char vs[80], as[INET6_ADDRSTRLEN], client[INET6_ADDRSTRLEN + 8];
		/* A denied source is its whole address; a limited one, its client prefix. */
		bool whole = rows[i].seen.denied && !rows[i].seen.new_flows_dropped && !rows[i].seen.pps_dropped;
		uint8_t bits = a.family == XLB_AF_INET ? (v->limit_prefix4 && !whole ? v->limit_prefix4 : 32)
						       : whole ? 128 : v->limit_prefix6 ? v->limit_prefix6 : 64;

		memcpy(a.a, rows[i].key.addr, sizeof(a.a));
		lbd_vip_format(v, vs, sizeof(vs));
		lbd_addr_format(&a, as, sizeof(as));
		snprintf(client, sizeof(client), "%s/%u", as, bits);
		out_obj_begin(o, NULL);
		out_field_str(o, "vip", "%-30s ", vs);
		out_field_str(o, "client", "%-28s ", client);
		out_field_u64(o, "new_flows_dropped", "%-12llu ", rows[i].seen.new_flows_dropped);
		out_field_u64(o, "packets_dropped", "%-12llu ", rows[i].seen.pps_dropped);
		out_field_u64(o, "denied", "%-12llu ", rows[i].seen.denied);
		out_field_u64(o, "last_ms_ago", "%llums ago\n", (now - rows[i].seen.last_ns) / 1000000);
		out_obj_end(o);
	}
	out_arr_end(o);
	out_obj_end(o);
	return 0;
}

/* A list most operators read whole; a longer one (a file) is shown in part, and whole in JSON. */
#define ACL_SHOW_MAX	256

static void acl_show_scope(struct lbd *d, struct out *o, const char *scope, uint32_t scope_n,
			   const struct lbd_acl_cfg *c)
{
	struct lbd_acl acl;
	char why[LBD_ERR_LEN];
	int err = lbd_acl_build(c->allow, c->deny, &acl, why, sizeof(why));

	out_obj_begin(o, NULL);
	out_field_str(o, "scope", "%s:", scope);
	out_field_str(o, "allow", " allow %s", c->allow[0] ? c->allow : "none");
	out_field_str(o, "deny", ", deny %s", c->deny[0] ? c->deny : "none");
	out_field_u64(o, "prefixes", " (%llu prefixes)\n", err ? 0 : acl.n);
	if (err)
		out_field_str(o, "error", "  cannot read it now: %s\n", why);
	out_arr_begin(o, "entries");
	for (size_t i = 0; !err && i < acl.n; i++) {
		char p[64];
		bool found;
		uint64_t hits = lbd_acl_hits(d->dp.fds.acl, scope_n, &acl.e[i], &found);

		if (!o->json && i == ACL_SHOW_MAX) {
			out_text(o, "  ... %zu more (lbctl -j acl show lists them all)\n", acl.n - i);
			break;
		}
		lbd_acl_format(&acl.e[i], p, sizeof(p));
		out_obj_begin(o, NULL);
		out_field_str(o, "prefix", "  %-44s ", p);
		out_field_str(o, "action", "%-6s ", acl.e[i].deny ? "deny" : "allow");
		out_field_u64(o, "hits", "%llu", hits);
		out_text(o, "%s\n", found ? "" : " (not in the data plane yet)");
		out_obj_end(o);
	}
	out_arr_end(o);
	out_obj_end(o);
	if (!err)
		lbd_acl_free(&acl);
}

/* lbctl acl show: the global lists, then each VIP's that has any. */
static int cmd_acl_show(struct lbd *d, struct out *o)
{
	out_obj_begin(o, NULL);
	out_arr_begin(o, "lists");
	out_text(o, "%-8s %s\n", "", "PREFIX                                       ACTION HITS");
	acl_show_scope(d, o, "global", 0, &d->cfg.acl);
	for (size_t i = 0; i < d->cfg.n_vips; i++) {
		const struct lbd_vip_cfg *v = &d->cfg.vips[i];
		uint32_t id;
		char vs[80];

		if (!v->acl.allow[0] && !v->acl.deny[0])
			continue;
		lbd_vip_format(v, vs, sizeof(vs));
		if (lbd_dp_vip(&d->dp, v, &id))
			acl_show_scope(d, o, vs, id + 1, &v->acl);
	}
	out_arr_end(o);
	out_obj_end(o);
	return 0;
}

/* Rows: the VIPs of the config, then the backend ids; written a piece a pass like show. */
static int cmd_stats(struct lbd *d, struct out *o, struct ctl_cursor *cur)
{
	uint64_t all[XLB_STAT_MAX] = { 0 };
	size_t from, n_vips = d->cfg.n_vips;

	if (reply_resume(d, cur, &from))
		return CTL_RESTART;
	if (from)
		goto rows;
	xlb_stats_read_all(&d->dp.fds, all);
	lbd_read_traffic(d);
	out_obj_begin(o, NULL);
	print_loop(d, o);
	out_obj_begin(o, "counters");
	out_text(o, "%-22s %s\n", "COUNTER", "VALUE");
	for (int s = 0; s < XLB_STAT_MAX; s++) {
		out_text(o, "%-22s ", xlb_stat_name(s));
		out_field_u64(o, xlb_stat_name(s), "%llu\n", all[s]);
	}
	out_obj_end(o);
	out_arr_begin(o, "vips");
	out_text(o, "\n%-30s %-12s %-14s %-10s %-10s %-12s %-12s %s\n", "VIP", "PACKETS", "BYTES", "PPS", "NEW_FLOWS",
		 "LIMIT_FLOWS", "LIMIT_PKTS", "DENIED");
rows:
	for (size_t i = from; i < n_vips; i++) {
		uint32_t id;
		char vs[80];

		if (lbd_dp_vip(&d->dp, &d->cfg.vips[i], &id)) {
			struct xlb_limited limited;

			xlb_limit_drops_read(d->dp.fds.vip_limit_stats, id, &limited);
			lbd_vip_format(&d->cfg.vips[i], vs, sizeof(vs));
			traffic_row(o, "vip", vs, &d->vip_traffic[id], d->vip_rate[id].pps, &limited);
		}
		if (ctl_pause_at(cur, i + 1, lbd_mono_us()))
			return 0;
	}
	if (from <= n_vips) {
		out_arr_end(o);
		out_arr_begin(o, "backends");
		out_text(o, "\n%-30s %-12s %-14s %-10s %s\n", "BACKEND", "PACKETS", "BYTES", "PPS", "NEW_FLOWS");
	}
	for (uint32_t id = from > n_vips ? (uint32_t)(from - n_vips) : 1; id < XLB_MAX_BACKENDS; id++) {
		const struct lbd_backend_rt *b = &d->dp.backends[id];
		char a[INET6_ADDRSTRLEN];

		if (!b->referenced)
			continue;
		lbd_addr_format(&b->addr, a, sizeof(a));
		traffic_row(o, "address", a, &d->be_traffic[id], d->be_rate[id].pps, NULL);
		if (id + 1 < XLB_MAX_BACKENDS && ctl_pause_at(cur, n_vips + id + 1, lbd_mono_us()))
			return 0;
	}
	return reply_end(o);
}




static void cmd_vrrp_show(struct lbd *d, struct out *o)
{
	out_obj_begin(o, NULL);
	out_arr_begin(o, "routers");
	if (!d->vrrp.n)
		out_text(o, "no VRRP virtual router: lbctl vrrp add DEV --vrid N --priority P --vip ADDR\n");
	for (size_t i = 0; i < d->vrrp.n; i++) {
		const struct vrrp_router *r = d->vrrp.r[i];
		int fam = r->cfg.family == XLB_AF_INET ? AF_INET : AF_INET6;
		uint16_t mai = r->master_adver_cs;
		uint64_t skew_cs = (uint64_t)(256 - r->priority) * mai / 256;
		char master[INET6_ADDRSTRLEN] = "-", age[16], a[INET6_ADDRSTRLEN];

		if (r->master_priority)
			inet_ntop(fam, r->master_addr, master, sizeof(master));
		out_age(r->since_ms, age, sizeof(age));
		out_obj_begin(o, NULL);
		out_field_str(o, "dev", "%s ", r->cfg.dev);
		out_field_u64(o, "vrid", "vrid %llu ", r->cfg.vrid);
		out_field_str(o, "family", "%s: ", fam == AF_INET ? "ipv4" : "ipv6");
		out_field_str(o, "state", "%s ", vrrp_state_name(r->state));
		out_text(o, "for %s ", age);
		out_u64(o, "since", r->since_ms / 1000);
		out_field_str(o, "reason", "(%s)\n", r->why);
		out_field_u64(o, "priority", "  priority %llu ", r->priority);
		out_field_u64(o, "configured_priority", "(configured %llu), ", r->cfg.priority);
		out_bool(o, "preempt", !r->cfg.no_preempt);
		out_text(o, "%s", r->cfg.no_preempt ? "no preempt" : "preempt");
		out_u64(o, "preempt_delay_ms", r->cfg.preempt_delay_ms);
		if (r->cfg.preempt_delay_ms)
			out_text(o, " after %u ms", r->cfg.preempt_delay_ms);
		out_field_str(o, "master", "; master %s ", master);
		out_field_u64(o, "master_priority", "priority %llu\n", r->master_priority);
		out_field_u64(o, "advert_ms", "  advert %llu ms, ", r->cfg.advert_cs * 10u);
		out_field_u64(o, "master_advert_ms", "master advert %llu ms, ", mai * 10u);
		out_field_u64(o, "skew_ms", "skew %llu ms, ", skew_cs * 10);
		out_field_u64(o, "master_down_ms", "master down %llu ms\n", (3ull * mai + skew_cs) * 10);
		out_arr_begin(o, "vips");
		out_text(o, "  vips");
		for (size_t k = 0; k < r->cfg.n_addrs; k++) {
			lbd_addr_format(&r->cfg.addrs[k], a, sizeof(a));
			out_field_str(o, NULL, " %s", a);
		}
		out_text(o, "\n");
		out_arr_end(o);
		out_obj_begin(o, "counters");
		out_field_u64(o, "rx", "  rx %llu ", r->st.rx);
		out_field_u64(o, "tx", "tx %llu ", r->st.tx);
		out_field_u64(o, "rx_other_vrid", "other-vrid %llu ", r->st.rx_other_vrid);
		out_field_u64(o, "rx_priority0", "rx-priority0 %llu ", r->st.rx_priority0);
		out_field_u64(o, "tx_priority0", "tx-priority0 %llu ", r->st.tx_priority0);
		out_field_u64(o, "became_master", "master %llu ", r->st.became_master);
		out_field_u64(o, "became_backup", "backup %llu\n", r->st.became_backup);
		out_text(o, "  rejected:");
		for (int k = 0; k < VRRP_REJ_MAX; k++) {
			out_text(o, " %s ", vrrp_reject_name(k));
			out_field_u64(o, vrrp_reject_name(k), "%llu", r->st.reject[k]);
		}
		out_obj_end(o);
		out_obj_end(o);
		out_text(o, "\n");
	}
	out_arr_end(o);
	out_obj_end(o);
}

int lbd_run_command(struct lbd *d, int argc, char **argv, struct out *o, struct ctl_cursor *cur,
		       char *err, size_t len)
{
	struct lbd_config next;
	struct lbd_cmd cmd;
	int ret;

	ret = lbd_cmd_parse(argc, argv, &cmd, err, len);
	if (ret)
		return ret;
	switch (cmd.kind) {
	case CMD_VIP_LIST:
		return cmd_vip_list(d, o, cur);
	case CMD_SHOW:
		return cmd_show(d, o, cur);
	case CMD_STATS:
		return cmd_stats(d, o, cur);
	case CMD_CONFIG_SHOW:
		if (o->json)
			return snprintf(err, len, "config show has no JSON form: it prints the file"), -EINVAL;
		lbd_config_write(o->f, &d->cfg);
		if (cluster_on(&d->cfg)) {
			fprintf(o->f, "\n# The cluster's VIPs and backends: etcd %s, revision %lld.\n", d->cluster.key,
				(long long)d->cluster.revision);
			lbd_config_write_vips(o->f, &d->cfg);
		}
		return 0;
	case CMD_CONFIG_RELOAD:
		/* A missing file on reload is a mistake, not "configure nothing": keep what runs. */
		if (access(d->config_path, R_OK))
			return snprintf(err, len, "cannot read %s: %s; the running configuration stays",
					d->config_path, strerror(errno)), -errno;
		ret = lbd_config_load(d->config_path, &next, err, len);
		if (!ret)
			ret = lbd_cli_cluster(d, &next, err, len);
		if (!ret && memcmp(&next.sync, &d->cfg.sync, sizeof(next.sync))) {
			lbd_config_free(&next);
			snprintf(err, len, "the sync line changed: restart lbd for it to take effect; the running "
				 "configuration stays");
			ret = -EINVAL;
		}
		if (!ret)
			ret = cluster_keep_vips(d, &next, err, len);
		if (!ret)
			ret = lbd_commit(d, &next, false, err, len);
		if (!ret)
			lbd_info("configuration reloaded from %s", d->config_path);
		return ret;
	case CMD_VRRP_SHOW:
		cmd_vrrp_show(d, o);
		return 0;
	case CMD_BGP_SHOW:
		bgp_show(&d->bgp, &d->cfg, o);
		return 0;
	case CMD_TRACE:
		return lbd_trace(&(struct lbd_trace_ctx){ &d->dp, &d->cfg, &d->hc, lbd_shown_state, d }, &cmd, o,
				 cur, err, len);
	case CMD_METRICS_SHOW:
		metrics_show(&d->metrics, &d->cfg.metrics, o);
		return 0;
	case CMD_SYNC_SHOW:
		sync_show(&d->sync, o);
		return 0;
	case CMD_TOP:
		return cmd_top(d, o);
	case CMD_ACL_SHOW:
		return cmd_acl_show(d, o);
	case CMD_PERSIST_SHOW:
	case CMD_PERSIST_FLUSH:
		return cmd_persist(d, o, &cmd, err, len);
	case CMD_BACKEND_LIST:
		ret = lbd_cmd_apply(&d->cfg, &cmd, err, len);	/* only checks the VIP exists */
		if (!ret)
			cmd_backend_list(d, o, &cmd.vip);
		return ret;
	default:
		break;
	}
	if (cluster_owns(d, &cmd))
		return cluster_command(d, &cmd, cur, err, len);
	ret = lbd_config_copy(&next, &d->cfg);
	if (ret)
		return snprintf(err, len, "out of memory"), ret;
	ret = lbd_cmd_apply(&next, &cmd, err, len);
	if (ret) {
		lbd_config_free(&next);
		return ret;
	}
	ret = lbd_commit(d, &next, true, err, len);
	if (!ret) {
		char line[512] = "";

		for (int i = 0; i < argc; i++)
			snprintf(line + strlen(line), sizeof(line) - strlen(line), " %s", argv[i]);
		lbd_info("applied:%s", line);
	}
	return ret;
}
