// SPDX-License-Identifier: GPL-2.0
/*
 * lbd: the xlb control daemon. It loads and attaches the XDP program, owns
 * the configuration, keeps the maps in step with it and with the network
 * (netlink), and answers lbctl on a Unix socket.
 */
#define _GNU_SOURCE
#include <arpa/inet.h>
#include <errno.h>
#include <netinet/in.h>
#include <fcntl.h>
#include <getopt.h>
#include <libgen.h>
#include <limits.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/epoll.h>
#include <sys/file.h>
#include <sys/resource.h>
#include <sys/signalfd.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/timerfd.h>
#include <sys/un.h>
#include <time.h>
#include <unistd.h>

#include <bpf/bpf.h>
#include <bpf/libbpf.h>
#include <systemd/sd-daemon.h>

#include "bgp.h"
#include "clock.h"
#include "config.h"
#include "ctl.h"
#include "ctlsrv.h"
#include "dataplane.h"
#include "health.h"
#include "source.h"
#include "trace.h"
#include "vrrp.h"
#include "log.h"
#include "metrics.h"
#include "out.h"

#define DEFAULT_CONFIG	"/etc/xlb/lbd.conf"
#define DEFAULT_PIN_DIR	"/sys/fs/bpf/xlb"
#define TICK_SECONDS	1
/* How often a sweep pass begins (forgetting idle flows, unmarking moved slots), if none runs. */
#define SWEEP_TICKS	5
/* Work per HC_TICK_MS tick while a pass runs: at most a tenth of the loop's time. */
#define SWEEP_STEP_US	2000
/* Table rebuilds per tick, when the pass has that much left. */
#define RINGS_STEP_US	3000
/*
 * A pass's bounded work (probe replies, probe starts, the sweep, table
 * rebuilds, commands) shares this budget, counted from the pass's start, so
 * that with one command's own cost a pass stays under the loop's 10 ms.
 */
#define PASS_WORK_US	7000
/* Backends looked up again after a network change, per tick. */
#define RESOLVE_STEP_US	2000
/* What a pass must have left for the metrics snapshot (thousands of backends take a few ms). */
#define METRICS_STEP_US	4000
/* Ticks in a row table rebuilds (and the metrics snapshot) may find no time left before they get their step anyway. */
#define RINGS_MAX_STARVED	3
#define HC_TICK_MS	20
/* Announcements follow health and tables every this many HC_TICK_MS ticks (and at once after a command). */
#define BGP_TICKS	5
/* On stop, how long BIRD may take to drop the routes before lbd exits anyway. */
#define STOP_WITHDRAW_MAX_MS	15000

struct rate {
	uint64_t last, pps;
	uint32_t born;		/* of the id's VIP or backend: another's counters are no base */
};

/*
 * Packets a second since the last sample. The first sample of an id (at
 * start, adopted counters hold all traffic since the program was loaded;
 * a reused id's are another's) is a base, not a rate. Births start at 1.
 */
static void rate_sample(struct rate *r, uint32_t born, uint64_t packets)
{
	r->pps = r->born == born && packets >= r->last ? (packets - r->last) / TICK_SECONDS : 0;
	r->last = packets;
	r->born = born;
}

/* Of pieces of work, the one that took longest. */
struct slowest {
	const char *what;
	uint64_t us;
};

/* Notes the piece of work begun at since_us, done now; returns now, where the next begins. */
static uint64_t slowest_note(struct slowest *s, const char *what, uint64_t since_us)
{
	uint64_t now = lbd_mono_us();

	if (now - since_us > s->us) {
		s->us = now - since_us;
		s->what = what;
	}
	return now;
}

/*
 * A pass's wall time, and what of it was lbd's: its CPU time, the times it
 * waited in the kernel (an RCU grace period, a full socket) and the times
 * the scheduler gave its CPU to another task. A long pass with little CPU
 * and many preemptions is the machine's doing, not lbd's.
 */
struct loop_pass {
	uint64_t us, cpu_us;
	long waits, preempted;
	const char *by;
};

struct lbd {
	const char *config_path, *socket_path, *pin_dir;
	struct lbd_config cfg;
	struct lbd_dp dp;
	int epfd, listen_fd, timer_fd, signal_fd, lock_fd, hc_timer_fd;
	struct hc hc;
	struct vrrp vrrp;
	struct ctlsrv ctl;
	struct bgp bgp;
	struct metrics metrics;
	bool attached;			/* the program is where attach says: checked each second */
	bool keep_routes;		/* SIGQUIT: stop without withdrawing (a restart, an upgrade) */
	uint64_t stop_began_ms, withdrawn_ms;
	bool ramping;			/* slow start was running at the last tick */
	int rings_starved;		/* health ticks in a row that left table rebuilds no time */
	unsigned bgp_ticks;
	/* lbd's own fds in the epoll set, and what their events ask of this pass */
	struct lbd_source src_listen, src_signal, src_timer, src_hc_timer, src_vrrp_timer, src_netlink;
	bool pass_signal, pass_tick;
	int timer_ticks, sweep_ticks;
	bool metrics_due;		/* the second's metrics snapshot, taken on a health tick with time left */
	int metrics_deferred;		/* health ticks in a row that had no time for it */
	struct slowest command_part;	/* of this pass's commands, what took longest */
	uint64_t cfg_gen;		/* counts commits: a reply written a piece a pass began on one */
	/* How long one pass of the loop held it, from epoll_wait's return to the next call. */
	struct loop_pass loop_longest, loop_recent[2];	/* ever; this and the last sweep period */
	uint64_t loop_over_10ms, loop_over_10ms_cpu;
	struct slowest pass_slowest;	/* what held the current pass longest */
	char rings_why[32];		/* what asked for the round of table rebuilds under way */
	bool stop;
	bool pending;			/* some backend waits for its MAC */
	struct rate vip_rate[XLB_MAX_VIPS], be_rate[XLB_MAX_BACKENDS];
	struct xlb_traffic vip_traffic[XLB_MAX_VIPS], be_traffic[XLB_MAX_BACKENDS];	/* the last read */
};

static bool program_attached(struct lbd *d);
static bool node_healthy(struct lbd *d);
static void bgp_refresh(struct lbd *d);
static void metrics_publish_now(struct lbd *d);
static uint64_t took(struct lbd *d, const char *what, uint64_t since_us);

/* ---- commands ---- */

static const char *state_name(enum lbd_be_state s, const struct lbd_backend_cfg *b,
			      const struct hc_target *t, bool fail_open)
{
	if (s != BE_RESOLVED)
		return s == BE_UNREACHABLE ? "unreachable" : "resolving";
	if (b->admin == LBD_ADMIN_DOWN)
		return "admin-down";
	if (b->drain)
		return "draining";
	if (!b->weight)
		return "weight-0";
	if (b->admin == LBD_ADMIN_AUTO && t && !t->up)
		return fail_open ? "down-open" : "down";
	if (b->admin == LBD_ADMIN_AUTO && t && t->ramp_start &&
	    lbd_mono_ms() < t->ramp_start + t->check.slow_start_ms)
		return "slow-start";
	return "active";
}

/* The state lbctl show prints for backend b of v, and xlb_backend_state. */
static const char *shown_state(void *ctx, const struct lbd_vip_cfg *v, const struct lbd_vip_rt *rt,
			       const struct lbd_backend_cfg *b, const struct hc_target *t)
{
	struct lbd *d = ctx;
	uint32_t id = lbd_dp_backend_id(&d->dp, &b->addr);
	const struct lbd_backend_rt *brt = id ? &d->dp.backends[id] : NULL;
	enum lbd_be_state st = brt ? brt->state : BE_UNKNOWN;

	if (brt && st == BE_RESOLVED && brt->via_gateway && v->fwd == XLB_FWD_DSR)
		return "unreachable";
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
	out_field_str(o, "sched", sched_fmt, v->sched == LBD_SCHED_MAGLEV ? "maglev" : "maglev-src");
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
	out_arr_end(o);
	out_obj_end(o);
	return 0;
}

static void print_backends(struct lbd *d, struct out *o, const struct lbd_vip_cfg *v, const uint64_t *flows)
{
	const struct lbd_vip_rt *rt = lbd_dp_vip(&d->dp, v, NULL);

	out_arr_begin(o, "backends");
	out_text(o, "  %-28s %-6s %-11s %-8s %-7s %-10s %-20s %-6s %s\n", "BACKEND", "WEIGHT", "STATE", "SHARE",
		 flows ? "FLOWS" : "", "CHECK", "LAST", "SINCE", "REASON");
	for (size_t j = 0; j < v->n_backends; j++) {
		const struct lbd_backend_cfg *b = &v->backends[j];
		uint32_t id = lbd_dp_backend_id(&d->dp, &b->addr);
		const struct lbd_backend_rt *brt = id ? &d->dp.backends[id] : NULL;
		const struct hc_target *t = hc_find(&d->hc, v, &b->addr);
		enum lbd_be_state st = brt ? brt->state : BE_UNKNOWN;
		uint32_t slots = rt && id ? lbd_dp_ring_share(rt, id) : 0;
		double share = rt && rt->ring_size ? 100.0 * slots / rt->ring_size : 0;
		const char *why = brt && st != BE_RESOLVED ? brt->why : "";
		const char *state = shown_state(d, v, rt, b, t);
		const char *admin = b->admin == LBD_ADMIN_UP ? "up" : b->admin == LBD_ADMIN_DOWN ? "down" : "auto";
		char a[INET6_ADDRSTRLEN], check[24] = "-", last[80] = "-", age[16] = "-";
		char hop[INET6_ADDRSTRLEN], gw_why[INET6_ADDRSTRLEN + 80];

		lbd_addr_format(&b->addr, a, sizeof(a));
		if (brt && st == BE_RESOLVED && brt->via_gateway && v->fwd == XLB_FWD_DSR) {
			inet_ntop(b->addr.family == XLB_AF_INET ? AF_INET : AF_INET6, brt->hop, hop, sizeof(hop));
			snprintf(gw_why, sizeof(gw_why), "DSR cannot reach it through router %s: use forward ipip", hop);
			why = gw_why;
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
		if (flows)
			out_field_u64(o, "flows", "%-7llu ", flows[id]);
		else
			out_text(o, "%-7s ", "");
		/* The health object's fields in one column each of the text view. */
		out_text(o, "%-10s %-20s %-6s ", check, last, age);
		out_field_str(o, "reason", "%s\n", why);
		out_u64(o, "slots", slots);
		out_str(o, "admin", admin);
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
		out_obj_end(o);
	}
	out_arr_end(o);
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
	out_u64(o, "syncs", d->dp.syncs);
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
	out_arr_end(o);
	out_obj_end(o);
	return 0;
}


/* One line of `lbctl stats`: a VIP or a backend and its traffic. */
static void traffic_row(struct out *o, const char *key, const char *name,
			const struct xlb_traffic *t, uint64_t pps)
{
	out_obj_begin(o, NULL);
	out_field_str(o, key, "%-30s ", name);
	out_field_u64(o, "packets", "%-12llu ", t->packets);
	out_field_u64(o, "bytes", "%-14llu ", t->bytes);
	out_field_u64(o, "pps", "%-10llu ", pps);
	out_field_u64(o, "new_flows", "%llu\n", t->new_flows);
	out_obj_end(o);
}

/* Both maps in two syscalls: stats is asked for often, of thousands of backends. */
static void read_traffic(struct lbd *d)
{
	if (xlb_traffic_read_all(d->dp.fds.vip_stats, XLB_MAX_VIPS, d->vip_traffic))
		memset(d->vip_traffic, 0, sizeof(d->vip_traffic));
	if (xlb_traffic_read_all(d->dp.fds.backend_stats, XLB_MAX_BACKENDS, d->be_traffic))
		memset(d->be_traffic, 0, sizeof(d->be_traffic));
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
	read_traffic(d);
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
	out_text(o, "\n%-30s %-12s %-14s %-10s %s\n", "VIP", "PACKETS", "BYTES", "PPS", "NEW_FLOWS");
rows:
	for (size_t i = from; i < n_vips; i++) {
		uint32_t id;
		char vs[80];

		if (lbd_dp_vip(&d->dp, &d->cfg.vips[i], &id)) {
			lbd_vip_format(&d->cfg.vips[i], vs, sizeof(vs));
			traffic_row(o, "vip", vs, &d->vip_traffic[id], d->vip_rate[id].pps);
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
		traffic_row(o, "address", a, &d->be_traffic[id], d->be_rate[id].pps);
		if (id + 1 < XLB_MAX_BACKENDS && ctl_pause_at(cur, n_vips + id + 1, lbd_mono_us()))
			return 0;
	}
	out_arr_end(o);
	out_obj_end(o);
	return 0;
}

static void update_pending(struct lbd *d)
{
	d->pending = false;
	for (uint32_t id = 1; id < XLB_MAX_BACKENDS; id++)
		d->pending |= d->dp.backends[id].referenced && d->dp.backends[id].state != BE_RESOLVED;
}

/* The part of the commands of a pass that took longest names the pass's time in lbctl commands. */
static uint64_t command_part(struct lbd *d, const char *what, uint64_t since_us)
{
	return slowest_note(&d->command_part, what, since_us);
}

/* Makes next the running configuration, or leaves the running one in force. */
static int commit(struct lbd *d, struct lbd_config *next, bool save, char *err, size_t len)
{
	char ignored[LBD_ERR_LEN];
	int ret = 0;

	/* A virtual router that cannot run is refused up front, not saved to fail at every start. */
	for (size_t i = 0; i < next->n_vrrp && !ret && d->vrrp.nl; i++)
		ret = vrrp_validate(&d->vrrp, &next->vrrp[i], err, len);
	if (!ret)
		ret = metrics_check(&d->metrics, &d->cfg.metrics, &next->metrics, err, len);
	if (ret) {
		lbd_config_free(next);
		return ret;
	}
	uint64_t t = lbd_mono_us();

	ret = lbd_dp_sync(&d->dp, next, err, len);
	t = command_part(d, "lbctl commands: syncs of the maps", t);
	if (!ret && save)
		ret = lbd_config_save(d->config_path, next, err, len);
	t = command_part(d, "lbctl commands: saves of the file", t);
	if (ret) {
		/* Put the maps back as the running configuration says. */
		lbd_dp_sync(&d->dp, &d->cfg, ignored, sizeof(ignored));
		lbd_config_free(next);
		return ret;
	}
	lbd_config_free(&d->cfg);
	d->cfg = *next;
	d->cfg_gen++;
	if (hc_sync(&d->hc, &d->cfg))
		lbd_warn("out of memory for health checks: some backends go unchecked");
	vrrp_sync(&d->vrrp, &d->cfg);
	update_pending(d);
	d->attached = program_attached(d);
	bgp_set(&d->bgp, &d->cfg.bgp);
	bgp_refresh(d);
	metrics_apply(&d->metrics, &d->cfg.metrics);
	metrics_publish_now(d);
	command_part(d, "lbctl commands: health checks, routers, routes and metrics", t);
	return 0;
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

static int run_command(struct lbd *d, int argc, char **argv, struct out *o, struct ctl_cursor *cur,
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
		return 0;
	case CMD_CONFIG_RELOAD:
		/* A missing file on reload is a mistake, not "configure nothing": keep what runs. */
		if (access(d->config_path, R_OK))
			return snprintf(err, len, "cannot read %s: %s; the running configuration stays",
					d->config_path, strerror(errno)), -errno;
		ret = lbd_config_load(d->config_path, &next, err, len);
		if (!ret)
			ret = commit(d, &next, false, err, len);
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
		return lbd_trace(&(struct lbd_trace_ctx){ &d->dp, &d->cfg, &d->hc, state_name }, &cmd, o, cur,
				 err, len);
	case CMD_METRICS_SHOW:
		metrics_show(&d->metrics, &d->cfg.metrics, o);
		return 0;
	case CMD_BACKEND_LIST:
		ret = lbd_cmd_apply(&d->cfg, &cmd, err, len);	/* only checks the VIP exists */
		if (!ret)
			cmd_backend_list(d, o, &cmd.vip);
		return ret;
	default:
		break;
	}
	ret = lbd_config_copy(&next, &d->cfg);
	if (ret)
		return snprintf(err, len, "out of memory"), ret;
	ret = lbd_cmd_apply(&next, &cmd, err, len);
	if (ret) {
		lbd_config_free(&next);
		return ret;
	}
	ret = commit(d, &next, true, err, len);
	if (!ret) {
		char line[512] = "";

		for (int i = 0; i < argc; i++)
			snprintf(line + strlen(line), sizeof(line) - strlen(line), " %s", argv[i]);
		lbd_info("applied:%s", line);
	}
	return ret;
}

/* ---- the control socket (served by ctlsrv.c) ---- */

static int ctl_run(void *ctx, int argc, char **argv, struct out *o, struct ctl_cursor *cur, char *err,
		   size_t len)
{
	return run_command(ctx, argc, argv, o, cur, err, len);
}

static int open_socket(const char *path)
{
	struct sockaddr_un sa = { .sun_family = AF_UNIX };
	char dir[PATH_MAX];
	int fd;

	if (strlen(path) >= sizeof(sa.sun_path)) {
		lbd_err("socket path %s is too long (at most %zu characters)", path, sizeof(sa.sun_path) - 1);
		return -ENAMETOOLONG;
	}
	strcpy(sa.sun_path, path);
	snprintf(dir, sizeof(dir), "%s", path);
	mkdir(dirname(dir), 0755);
	fd = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0);
	if (fd < 0)
		return -errno;
	/* A socket file nobody answers on is left from a dead lbd: replace it. */
	if (!connect(fd, (struct sockaddr *)&sa, sizeof(sa))) {
		lbd_err("another lbd answers on %s: stop it, or give this one --socket PATH", path);
		close(fd);
		return -EADDRINUSE;
	}
	unlink(path);
	close(fd);
	fd = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC | SOCK_NONBLOCK, 0);
	if (fd < 0)
		return -errno;
	mode_t old = umask(0177);	/* mode 0600: only root talks to lbd */
	int ret = bind(fd, (struct sockaddr *)&sa, sizeof(sa));

	umask(old);
	/* Room for a burst of lbctl calls from scripts: the loop accepts them a batch at a time. */
	if (ret || listen(fd, SOMAXCONN)) {
		ret = -errno;
		lbd_err("cannot listen on %s: %s", path, strerror(-ret));
		close(fd);
		return ret;
	}
	return fd;
}

/* ---- the loop ---- */

static void sample_rates(struct lbd *d)
{
	read_traffic(d);
	for (uint32_t id = 0; id < XLB_MAX_VIPS; id++) {
		if (!d->dp.vips[id].used)
			continue;
		rate_sample(&d->vip_rate[id], d->dp.vips[id].born, d->vip_traffic[id].packets);
	}
	for (uint32_t id = 1; id < XLB_MAX_BACKENDS; id++) {
		if (!d->dp.backends[id].referenced)
			continue;
		rate_sample(&d->be_rate[id], d->dp.backends[id].born, d->be_traffic[id].packets);
	}
}

static void resync(struct lbd *d, const char *why)
{
	char err[LBD_ERR_LEN];

	snprintf(d->rings_why, sizeof(d->rings_why), "%s", why);
	if (lbd_dp_resync(&d->dp, &d->cfg, err, sizeof(err)))
		lbd_warn("re-sync after %s: %s", why, err);
	update_pending(d);
}

/* A piece of the round of look-ups a network change began; pending is known once it ends. */
static void resolve_step(struct lbd *d, uint64_t budget_us)
{
	char err[LBD_ERR_LEN];
	int ret = lbd_dp_resolve_step(&d->dp, budget_us, err, sizeof(err));

	if (ret < 0)
		lbd_warn("looking backends up after %s: %s", d->rings_why, err);
	if (ret)
		update_pending(d);
}

/* A piece of the sweep pass at a time: the loop never waits for a whole table. */
static void sweep_step(struct lbd *d, uint64_t budget_us)
{
	char err[LBD_ERR_LEN];

	if (lbd_dp_sweep_step(&d->dp, budget_us, err, sizeof(err)) < 0)
		lbd_warn("%s", err);
}

/* A round of table rebuilds, done a piece a tick from the next tick on (rings_step). */
static void rebuild_rings(struct lbd *d, const char *why)
{
	snprintf(d->rings_why, sizeof(d->rings_why), "%s", why);
	lbd_dp_rings_due(&d->dp);
}

static void rings_step(struct lbd *d, uint64_t budget_us)
{
	char err[LBD_ERR_LEN];

	/* A pass full of probe replies must not stop a ramp or a verdict from reaching the tables. */
	if (!budget_us && ++d->rings_starved < RINGS_MAX_STARVED)
		return;
	d->rings_starved = 0;
	if (lbd_dp_rings_step(&d->dp, &d->cfg, budget_us ? budget_us : RINGS_STEP_US, err, sizeof(err)) < 0)
		lbd_warn("table rebuild after %s: %s", d->rings_why, err);
}

/* What is left of the pass's budget, at most most_us. */
static uint64_t pass_left(uint64_t end_us, uint64_t most_us)
{
	uint64_t now = lbd_mono_us();

	return now >= end_us ? 0 : end_us - now < most_us ? end_us - now : most_us;
}

/* The health tick's work, after the batch's other events, in what is left of the pass. */
static void hc_tick_work(struct lbd *d, uint64_t end_us)
{
	uint64_t t = lbd_mono_us();

	hc_tick(&d->hc);
	t = took(d, "health probes", t);
	sweep_step(d, pass_left(end_us, SWEEP_STEP_US));
	t = took(d, "the sweep", t);
	/* Verdicts that arrived since the last tick share one rebuild, begun now: a dead backend is out within a tick. */
	if (d->hc.dirty) {
		d->hc.dirty = false;
		rebuild_rings(d, "a health change");
	}
	rings_step(d, pass_left(end_us, RINGS_STEP_US));
	t = took(d, "table rebuilds", t);
	/* After the rebuilds: what a piece of the round changes is taken up by the next tick's. */
	resolve_step(d, pass_left(end_us, RESOLVE_STEP_US));
	t = took(d, "backend look-ups after a network change", t);
	/*
	 * After the rebuilds: a route follows the table it announces.
	 * Every BGP_TICKS: each VIP's look-up is a scan of the VIPs.
	 */
	if (++d->bgp_ticks % BGP_TICKS == 0 || d->bgp.stopping)
		bgp_refresh(d);
	t = took(d, "bgp", t);
	/* Not on the 1 s timer's own pass: a snapshot of thousands of backends is a few ms. */
	if (d->metrics_due && (pass_left(end_us, METRICS_STEP_US) == METRICS_STEP_US ||
			       ++d->metrics_deferred >= RINGS_MAX_STARVED)) {
		metrics_publish_now(d);
		d->metrics_due = false;
		d->metrics_deferred = 0;
	}
	took(d, "the metrics snapshot", t);
}

static void metrics_publish_now(struct lbd *d)
{
	metrics_publish(&d->metrics, &(struct metrics_sources){ .cfg = &d->cfg, .dp = &d->dp, .hc = &d->hc,
								.vrrp = &d->vrrp, .bgp = &d->bgp,
								.state = shown_state, .state_ctx = d,
								.gen = d->cfg_gen });
}

static int epoll_add(int epfd, int fd, struct lbd_source *src)
{
	struct epoll_event ev = { .events = EPOLLIN, .data.ptr = src };

	return epoll_ctl(epfd, EPOLL_CTL_ADD, fd, &ev) ? -errno : 0;
}

/* ---- lbd's own event sources ---- */

static void on_listen(void *ctx, struct lbd_source *src, uint32_t events)
{
	struct lbd *d = ctx;

	(void)src, (void)events;
	ctlsrv_listen_event(&d->ctl);
}

/* Signals are taken after the batch's commands: a reload must not free what events point to. */
static void on_signal_fd(void *ctx, struct lbd_source *src, uint32_t events)
{
	struct lbd *d = ctx;

	(void)src, (void)events;
	d->pass_signal = true;
}

/* The health tick's work runs after the batch's other events, in what is left of the pass. */
static void on_hc_timer(void *ctx, struct lbd_source *src, uint32_t events)
{
	struct lbd *d = ctx;
	uint64_t expirations;

	(void)src, (void)events;
	d->pass_tick |= read(d->hc_timer_fd, &expirations, sizeof(expirations)) > 0;
}

static void on_vrrp_timer(void *ctx, struct lbd_source *src, uint32_t events)
{
	struct lbd *d = ctx;

	(void)src, (void)events;
	vrrp_timer(&d->vrrp);
}

static void on_timer(void *ctx, struct lbd_source *src, uint32_t events)
{
	struct lbd *d = ctx;
	uint64_t expirations;
	bool ramping;

	(void)src, (void)events;
	if (read(d->timer_fd, &expirations, sizeof(expirations)) < 0)
		return;
	sample_rates(d);
	d->attached = program_attached(d);
	if (d->vrrp.n)
		vrrp_set_healthy(&d->vrrp, node_healthy(d));
	/* Slow start moves weights with time; one more rebuild once it ends. */
	ramping = hc_ramping(&d->hc);
	if (ramping || d->ramping)
		rebuild_rings(d, "slow start");
	d->ramping = ramping;
	/* Backends waiting for a MAC: ask again now and then, events may be missed. */
	if (d->pending && ++d->timer_ticks % 2 == 0)
		resync(d, "timer");
	if (++d->sweep_ticks % SWEEP_TICKS == 0) {
		lbd_dp_sweep_begin(&d->dp, d->cfg.conn_timeout);
		d->loop_recent[1] = d->loop_recent[0];
		d->loop_recent[0] = (struct loop_pass){ 0 };
	}
	/* Taken on a health tick with time left, not on this pass. */
	d->metrics_due = true;
}

static void on_netlink(void *ctx, struct lbd_source *src, uint32_t events)
{
	struct lbd *d = ctx;
	int changed = nl_drain_events(d->dp.nl);

	(void)src, (void)events;
	/* ARP and NDP for clients and peers come all the time: only a backend's neighbour counts. */
	if (changed > 0 && ((changed & ~NL_EV_NEIGH) || lbd_dp_neighbours_matter(&d->dp)))
		resync(d, "a network change");
}

static int setup_loop(struct lbd *d)
{
	struct itimerspec its = { .it_interval = { TICK_SECONDS, 0 }, .it_value = { TICK_SECONDS, 0 } };
	sigset_t mask;

	sigemptyset(&mask);
	sigaddset(&mask, SIGINT);
	sigaddset(&mask, SIGTERM);
	sigaddset(&mask, SIGHUP);
	sigaddset(&mask, SIGQUIT);
	sigprocmask(SIG_BLOCK, &mask, NULL);
	signal(SIGPIPE, SIG_IGN);
	d->signal_fd = signalfd(-1, &mask, SFD_CLOEXEC | SFD_NONBLOCK);
	d->timer_fd = timerfd_create(CLOCK_MONOTONIC, TFD_CLOEXEC | TFD_NONBLOCK);
	d->epfd = epoll_create1(EPOLL_CLOEXEC);
	if (d->signal_fd < 0 || d->timer_fd < 0 || d->epfd < 0 || timerfd_settime(d->timer_fd, 0, &its, NULL))
		return -errno;
	d->src_listen = (struct lbd_source){ on_listen, d, "accepting lbctl clients" };
	d->src_signal = (struct lbd_source){ on_signal_fd, d, "a signal" };
	d->src_timer = (struct lbd_source){ on_timer, d, "the 1 s timer (rates, slow start, VRRP health)" };
	d->src_hc_timer = (struct lbd_source){ on_hc_timer, d, "the health tick's timer" };
	d->src_vrrp_timer = (struct lbd_source){ on_vrrp_timer, d, "VRRP timers" };
	d->src_netlink = (struct lbd_source){ on_netlink, d, "a netlink batch" };
	if (epoll_add(d->epfd, d->listen_fd, &d->src_listen) || epoll_add(d->epfd, d->signal_fd, &d->src_signal) ||
	    epoll_add(d->epfd, d->timer_fd, &d->src_timer) ||
	    epoll_add(d->epfd, nl_event_fd(d->dp.nl), &d->src_netlink))
		return -errno;
	/* Probes start and time out on this finer tick; their sockets join the same epoll set. */
	struct itimerspec hc_its = { .it_interval = { 0, HC_TICK_MS * 1000000L },
				     .it_value = { 0, HC_TICK_MS * 1000000L } };

	d->hc_timer_fd = timerfd_create(CLOCK_MONOTONIC, TFD_CLOEXEC | TFD_NONBLOCK);
	if (d->hc_timer_fd < 0 || timerfd_settime(d->hc_timer_fd, 0, &hc_its, NULL) ||
	    epoll_add(d->epfd, d->hc_timer_fd, &d->src_hc_timer))
		return -errno;
	hc_init(&d->hc, d->epfd);
	if (hc_sync(&d->hc, &d->cfg))
		return -ENOMEM;
	d->dp.hc = &d->hc;
	if (vrrp_init(&d->vrrp, d->epfd, d->dp.nl, &d->dp.fds) ||
	    epoll_add(d->epfd, d->vrrp.timer_fd, &d->src_vrrp_timer))
		return -errno;
	vrrp_sync(&d->vrrp, &d->cfg);
	bgp_init(&d->bgp, d->epfd);
	bgp_set(&d->bgp, &d->cfg.bgp);
	d->attached = program_attached(d);
	bgp_refresh(d);
	return 0;
}

/*
 * Can this node balance? Its program is attached where configured, and
 * every VIP has a backend that passes its check. VRRP lowers the priority
 * of a node that cannot, so a healthy peer takes the VIPs.
 */
static bool program_attached(struct lbd *d)
{
	if (d->cfg.n_ifaces == 0 || d->dp.n_ifaces != d->cfg.n_ifaces)
		return false;
	for (size_t i = 0; i < d->dp.n_ifaces; i++) {
		LIBBPF_OPTS(bpf_xdp_query_opts, q);

		if (bpf_xdp_query(d->dp.ifaces[i].ifindex, 0, &q) || q.prog_id != d->dp.ifaces[i].prog_id)
			return false;
	}
	return true;
}

static bool node_healthy(struct lbd *d)
{
	if (!d->attached)
		return false;
	for (size_t i = 0; i < d->cfg.n_vips; i++) {
		const struct lbd_vip_rt *rt = lbd_dp_vip(&d->dp, &d->cfg.vips[i], NULL);

		if (!rt || !rt->slots || XLB_SLOT_ID(rt->slots[0]) == XLB_SLOT_NONE || rt->fail_open)
			return false;
	}
	return true;
}

/*
 * What the data path says of each VIP, for BGP: announced only once the
 * program is attached and the VIP's table is in, and with "healthy" only
 * while its table has a backend that passes its check (failing open counts
 * as none). The node-wide half of VRRP's test is the attachment; the
 * per-VIP half is this VIP's own backends, so one dead VIP does not take
 * the others' routes away.
 */
static void bgp_refresh(struct lbd *d)
{
	struct bgp_verdict *v;

	if (!d->bgp.cfg.bird_socket[0])
		return;
	v = calloc(d->cfg.n_vips + 1, sizeof(*v));
	if (!v)
		return;
	for (size_t i = 0; i < d->cfg.n_vips; i++) {
		const struct lbd_vip_cfg *c = &d->cfg.vips[i];
		const struct lbd_vip_rt *rt = lbd_dp_vip(&d->dp, c, NULL);
		size_t up = rt && !rt->fail_open ? rt->n_inputs : 0;

		if (c->announce == LBD_ANNOUNCE_NEVER) {
			snprintf(v[i].why, sizeof(v[i].why), "announce never");
		} else if (!d->attached) {
			snprintf(v[i].why, sizeof(v[i].why), "the program is not attached where attach says");
		} else if (!rt || !rt->slots || !rt->ring_size) {
			snprintf(v[i].why, sizeof(v[i].why), "its table is not in the data plane yet");
		} else if (c->announce == LBD_ANNOUNCE_ALWAYS) {
			v[i].can = true;
			snprintf(v[i].why, sizeof(v[i].why), "announce always");
		} else if (!up) {
			v[i].health = true;
			snprintf(v[i].why, sizeof(v[i].why), "no backend is up");
		} else {
			v[i].can = true;
			snprintf(v[i].why, sizeof(v[i].why), "%zu of %zu backends up", up, c->n_backends);
		}
	}
	bgp_update(&d->bgp, &d->cfg, v);
	free(v);
}

/*
 * SIGTERM and SIGINT: withdraw every route first, give the routers
 * withdraw-delay to move the flows, then exit. SIGQUIT (a restart) and a
 * second signal exit at once; what BIRD announces stays.
 */
static bool ready_to_exit(struct lbd *d)
{
	uint64_t now = lbd_mono_ms();

	if (!d->stop)
		return false;
	if (d->keep_routes || !d->bgp.cfg.bird_socket[0])
		return true;
	if (!d->bgp.stopping) {
		d->stop_began_ms = now;
		bgp_stop(&d->bgp);
		bgp_refresh(d);
	}
	if (!bgp_stop_done(&d->bgp)) {
		if (now - d->stop_began_ms < STOP_WITHDRAW_MAX_MS)
			return false;
		lbd_warn("bgp: BIRD did not take the withdrawal within %d s; exiting anyway",
			 STOP_WITHDRAW_MAX_MS / 1000);
		return true;
	}
	if (!bgp_had_routes(&d->bgp))
		return true;
	if (!d->withdrawn_ms) {
		d->withdrawn_ms = now;
		lbd_info("bgp: routes withdrawn; exiting in %u ms, once the routers have moved the flows",
			 d->bgp.cfg.withdraw_delay_ms);
	}
	return now - d->withdrawn_ms >= d->bgp.cfg.withdraw_delay_ms;
}

static void on_signal(struct lbd *d)
{
	struct signalfd_siginfo si;
	char err[LBD_ERR_LEN];

	while (read(d->signal_fd, &si, sizeof(si)) == sizeof(si)) {
		if (si.ssi_signo == SIGHUP) {
			char *argv[] = { "config", "reload" };
			struct ctl_cursor whole = { .restarts = CTL_MAX_RESTARTS };
			struct out o;

			/* systemctl reload waits for READY=1 again (a no-op outside systemd). */
			sd_notify(0, "RELOADING=1");
			out_init(&o, stderr, false);
			if (run_command(d, 2, argv, &o, &whole, err, sizeof(err))) {
				lbd_err("reload on SIGHUP: %s", err);
				sd_notifyf(0, "READY=1\nSTATUS=reload failed, the running configuration stays: %s", err);
			} else {
				sd_notifyf(0, "READY=1\nSTATUS=balancing %zu VIPs (reloaded)", d->cfg.n_vips);
			}
			continue;
		}
		if (d->stop || si.ssi_signo == SIGQUIT)
			d->keep_routes = true;
		lbd_info("signal %u: stopping%s; the program stays attached and the maps pinned", si.ssi_signo,
			 d->keep_routes || !d->bgp.cfg.bird_socket[0] ? "" : " once the routes are withdrawn");
		sd_notify(0, d->keep_routes || !d->bgp.cfg.bird_socket[0] ? "STOPPING=1"
					: "STOPPING=1\nSTATUS=withdrawing the BGP routes");
		d->stop = true;
	}
}

/*
 * A pass that holds the loop delays VRRP adverts and probes: 10 ms is the
 * budget, and one of 100 ms is worth a line in the log.
 */
/* Which piece of work held this pass longest, for the log line a long pass gets. */
static uint64_t took(struct lbd *d, const char *what, uint64_t since_us)
{
	return slowest_note(&d->pass_slowest, what, since_us);
}

static void pass_usage(struct rusage *ru)
{
	if (getrusage(RUSAGE_THREAD, ru))
		memset(ru, 0, sizeof(*ru));
}

static uint64_t tv_us(const struct timeval *tv)
{
	return (uint64_t)tv->tv_sec * 1000000 + (uint64_t)tv->tv_usec;
}

static void note_loop_pass(struct lbd *d, uint64_t us, const struct rusage *began)
{
	struct rusage now;
	struct loop_pass p = { .us = us, .by = d->pass_slowest.what };

	pass_usage(&now);
	p.cpu_us = tv_us(&now.ru_utime) + tv_us(&now.ru_stime) - tv_us(&began->ru_utime) - tv_us(&began->ru_stime);
	p.waits = now.ru_nvcsw - began->ru_nvcsw;
	p.preempted = now.ru_nivcsw - began->ru_nivcsw;
	if (us > d->loop_longest.us)
		d->loop_longest = p;
	if (us > d->loop_recent[0].us)
		d->loop_recent[0] = p;
	if (us > 10000)
		d->loop_over_10ms++;
	if (p.cpu_us > 10000)
		d->loop_over_10ms_cpu++;
	if (us > 100000)
		lbd_warn("the event loop was held for %llu ms, %llu ms of it by %s", (unsigned long long)us / 1000,
			 (unsigned long long)d->pass_slowest.us / 1000,
			 d->pass_slowest.what ? d->pass_slowest.what : "?");
	d->pass_slowest = (struct slowest){ 0 };
}

/*
 * Per pass: the work each kind of source's events took, summed (many
 * small probe replies can hold a pass as one big thing does).
 */
struct pass_work {
	const char *work[8];
	uint64_t us[8];
	int n;
};

static void pass_work_add(struct pass_work *w, const char *work, uint64_t us)
{
	int i = 0;

	while (i < w->n && w->work[i] != work)
		i++;
	if (i == w->n) {
		if (w->n == 8)
			return;
		w->work[w->n++] = work;
	}
	w->us[i] += us;
}

static void loop(struct lbd *d)
{
	struct epoll_event evs[64];
	bool more_commands = false;

	ctlsrv_init(&d->ctl, d->epfd, d->listen_fd, &d->src_listen, ctl_run, d);
	while (!ready_to_exit(d)) {
		/* Commands still waiting for their turn: look at the events, then serve them. */
		int n = epoll_wait(d->epfd, evs, 64, more_commands ? 0 : -1);
		uint64_t woke_us = lbd_mono_us();
		struct pass_work w = { .n = 0 };
		struct rusage began;

		pass_usage(&began);
		d->pass_signal = d->pass_tick = false;
		for (int i = 0; i < n; i++) {
			struct lbd_source *src = evs[i].data.ptr;
			uint64_t t = lbd_mono_us();

			src->handle(src->ctx, src, evs[i].events);
			pass_work_add(&w, src->work, lbd_mono_us() - t);
		}
		for (int i = 0; i < w.n; i++)
			took(d, w.work[i], lbd_mono_us() - w.us[i]);
		if (d->pass_tick)
			hc_tick_work(d, woke_us + PASS_WORK_US);
		/*
		 * Commands and reloads last: they may free probes and routers that
		 * other events of this batch still point to. The hc timer wakes the
		 * loop every HC_TICK_MS, so clients' deadlines are checked as often.
		 */
		uint64_t t = lbd_mono_us();

		/* One command at least, whatever the pass has left: a client is never starved. */
		d->command_part = (struct slowest){ 0 };
		more_commands = ctlsrv_after_batch(&d->ctl, woke_us + PASS_WORK_US);
		t = took(d, d->command_part.what ? d->command_part.what : "lbctl commands", t);
		if (d->pass_signal)
			on_signal(d);
		took(d, "a signal (reload)", t);
		note_loop_pass(d, lbd_mono_us() - woke_us, &began);
	}
}

static void usage(FILE *f)
{
	fprintf(f, "usage: lbd [--config FILE] [--socket PATH] [--pin-dir DIR] [--foreground] "
		   "[--log-level error|warn|info|debug]\n"
		   "defaults: --config %s --socket %s --pin-dir %s\n",
		DEFAULT_CONFIG, CTL_DEFAULT_SOCKET, DEFAULT_PIN_DIR);
}

static int libbpf_print(enum libbpf_print_level level, const char *fmt, va_list ap)
{
	if (lbd_log_level < LBD_LOG_DEBUG && level != LIBBPF_WARN)
		return 0;
	return vfprintf(stderr, fmt, ap);
}

static int lock_pin_dir(struct lbd *d)
{
	if (mkdir(d->pin_dir, 0700) && errno != EEXIST) {
		lbd_err("cannot create pin dir %s: %s (is bpffs mounted? mount -t bpf bpf /sys/fs/bpf)",
			d->pin_dir, strerror(errno));
		return -1;
	}
	d->lock_fd = open(d->pin_dir, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
	if (d->lock_fd < 0 || flock(d->lock_fd, LOCK_EX | LOCK_NB)) {
		lbd_err("another lbd is using pin dir %s: stop it first, or give this one --pin-dir DIR",
			d->pin_dir);
		return -1;
	}
	return 0;
}

static int absolute(const char **path)
{
	char cwd[PATH_MAX], *abs;

	if ((*path)[0] == '/')
		return 0;
	if (!getcwd(cwd, sizeof(cwd)) || asprintf(&abs, "%s/%s", cwd, *path) < 0)
		return -1;
	*path = abs;	/* lives as long as lbd */
	return 0;
}

/* Map and program fds, epoll, timers, netlink, VRRP sockets: all but probes and clients. */
#define OWN_FDS		256

/*
 * A probe holds a socket or a pidfd while it runs, and all of them may run
 * at once: the usual soft limit of 1024 is far too few.
 */
static void raise_nofile(void)
{
	rlim_t need = (XLB_MAX_BACKENDS - 1) + CTL_MAX_CLIENTS + OWN_FDS;
	struct rlimit rl;

	if (getrlimit(RLIMIT_NOFILE, &rl))
		return;
	if (rl.rlim_cur < rl.rlim_max) {
		rlim_t soft = rl.rlim_cur;

		rl.rlim_cur = rl.rlim_max;
		if (setrlimit(RLIMIT_NOFILE, &rl)) {
			lbd_warn("cannot raise the open files limit from %llu to %llu: %s",
				 (unsigned long long)soft, (unsigned long long)rl.rlim_max, strerror(errno));
			rl.rlim_cur = soft;
		}
	}
	if (rl.rlim_cur < need)
		lbd_warn("the open files limit is %llu, fewer than the %llu lbd needs for %d health probes "
			 "and %d lbctl clients at once: raise it (LimitNOFILE= in the unit, or ulimit -Hn)",
			 (unsigned long long)rl.rlim_cur, (unsigned long long)need, XLB_MAX_BACKENDS - 1,
			 CTL_MAX_CLIENTS);
}

int main(int argc, char **argv)
{
	static const struct option longopts[] = {
		{ "config", required_argument, NULL, 'c' },
		{ "socket", required_argument, NULL, 's' },
		{ "pin-dir", required_argument, NULL, 'p' },
		{ "foreground", no_argument, NULL, 'f' },
		{ "log-level", required_argument, NULL, 'l' },
		{ "help", no_argument, NULL, 'h' },
		{ 0 },
	};
	static struct lbd d = { .config_path = DEFAULT_CONFIG, .socket_path = CTL_DEFAULT_SOCKET,
				.pin_dir = DEFAULT_PIN_DIR, .listen_fd = -1 };
	char err[LBD_ERR_LEN];
	bool foreground = false;
	int opt;

	while ((opt = getopt_long(argc, argv, "c:s:p:fl:h", longopts, NULL)) != -1) {
		switch (opt) {
		case 'c': d.config_path = optarg; break;
		case 's': d.socket_path = optarg; break;
		case 'p': d.pin_dir = optarg; break;
		case 'f': foreground = true; break;
		case 'l':
			if (!strcmp(optarg, "error")) lbd_log_level = LBD_LOG_ERROR;
			else if (!strcmp(optarg, "warn")) lbd_log_level = LBD_LOG_WARN;
			else if (!strcmp(optarg, "info")) lbd_log_level = LBD_LOG_INFO;
			else if (!strcmp(optarg, "debug")) lbd_log_level = LBD_LOG_DEBUG;
			else {
				fprintf(stderr, "lbd: log level '%s' is not error, warn, info or debug\n", optarg);
				return 2;
			}
			break;
		case 'h': usage(stdout); return 0;
		default: usage(stderr); return 2;
		}
	}
	if (optind < argc) {
		fprintf(stderr, "lbd: unexpected argument '%s'\n", argv[optind]);
		usage(stderr);
		return 2;
	}
	/* daemon() moves to /: every path must stay valid after it. */
	if (absolute(&d.config_path) || absolute(&d.socket_path) || absolute(&d.pin_dir)) {
		fprintf(stderr, "lbd: cannot resolve relative paths: %s\n", strerror(errno));
		return 1;
	}
	lbd_log_open(false);
	libbpf_set_print(libbpf_print);
	raise_nofile();

	if (lbd_config_load(d.config_path, &d.cfg, err, sizeof(err))) {
		lbd_err("%s", err);
		return 1;
	}
	if (lock_pin_dir(&d))
		return 1;
	if (lbd_dp_open(&d.dp, d.pin_dir, d.cfg.conn_table_size, err, sizeof(err))) {
		lbd_err("%s", err);
		return 1;
	}
	d.listen_fd = open_socket(d.socket_path);
	if (d.listen_fd < 0)
		return 1;
	if (lbd_dp_sync(&d.dp, &d.cfg, err, sizeof(err)))
		lbd_err("%s (the configuration is kept; fix the cause and run lbctl config reload)", err);
	update_pending(&d);
	if (lbd_trace_open(&d.dp, err, sizeof(err)))
		lbd_warn("%s; lbctl trace will try again", err);
	if (setup_loop(&d)) {
		lbd_err("cannot set up the event loop: %s", strerror(errno));
		return 1;
	}
	if (!foreground && daemon(0, 1)) {
		lbd_err("cannot go to the background: %s", strerror(errno));
		return 1;
	}
	if (!foreground)
		lbd_log_open(true);
	/* After daemon(): a fork keeps no thread but its caller's. */
	if (metrics_init(&d.metrics, &d.dp.fds)) {
		lbd_err("cannot set up metrics: %s", strerror(errno));
		return 1;
	}
	metrics_apply(&d.metrics, &d.cfg.metrics);
	metrics_publish_now(&d);
	lbd_info("ready: config %s, socket %s, pins %s", d.config_path, d.socket_path, d.pin_dir);
	/* Type=notify: lbctl works from the moment systemctl start returns. */
	sd_notifyf(0, "READY=1\nSTATUS=balancing %zu VIPs\nMAINPID=%d", d.cfg.n_vips, (int)getpid());
	loop(&d);
	/* Priority 0 first: a backup takes the VIPs after Skew_Time instead of Master_Down_Interval. */
	vrrp_shutdown(&d.vrrp);
	unlink(d.socket_path);
	bgp_free(&d.bgp);
	metrics_free(&d.metrics);
	hc_free(&d.hc);
	lbd_trace_close();
	lbd_dp_close(&d.dp);
	lbd_config_free(&d.cfg);
	return 0;
}
