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
#include "crash.h"
#include "ctl.h"
#include "ctlsrv.h"
#include "dataplane.h"
#include "health.h"
#include "lbd.h"
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
#define SWEEP_TICKS	(LBD_SWEEP_PERIOD_MS / 1000 / TICK_SECONDS)
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

static bool program_attached(struct lbd *d);
static bool node_healthy(struct lbd *d);
static void bgp_refresh(struct lbd *d);
static void metrics_publish_now(struct lbd *d);
static uint64_t took(struct lbd *d, const char *what, uint64_t since_us);

/* ---- the configuration and the counters, for the commands (commands.c) ---- */

/* Both maps in two syscalls: stats is asked for often, of thousands of backends. */
void lbd_read_traffic(struct lbd *d)
{
	if (xlb_traffic_read_all(d->dp.fds.vip_stats, XLB_MAX_VIPS, d->vip_traffic))
		memset(d->vip_traffic, 0, sizeof(d->vip_traffic));
	if (xlb_traffic_read_all(d->dp.fds.backend_stats, XLB_MAX_BACKENDS, d->be_traffic))
		memset(d->be_traffic, 0, sizeof(d->be_traffic));
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
int lbd_commit(struct lbd *d, struct lbd_config *next, bool save, char *err, size_t len)
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

/* ---- the control socket (served by ctlsrv.c) ---- */

static uint64_t ctl_wanted(void *ctx, uint64_t *done)
{
	struct lbd *d = ctx;

	*done = d->dp.index_done;
	/* A change whose tables a round still builds is not in yet, whatever index is. */
	return d->dp.rings.unwritten ? CTL_HOLD_UNTIL_WRITTEN : d->dp.index_gen;
}

static int ctl_run(void *ctx, int argc, char **argv, struct out *o, struct ctl_cursor *cur, char *err,
		   size_t len)
{
	return lbd_run_command(ctx, argc, argv, o, cur, err, len);
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
	lbd_read_traffic(d);
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
	bool unwritten = d->dp.rings.unwritten;
	char err[LBD_ERR_LEN];

	/* A pass full of probe replies must not stop a ramp or a verdict from reaching the tables. */
	if (!budget_us && ++d->rings_starved < RINGS_MAX_STARVED)
		return;
	d->rings_starved = 0;
	if (lbd_dp_rings_step(&d->dp, &d->cfg, budget_us ? budget_us : RINGS_STEP_US, err, sizeof(err)) < 0)
		lbd_warn("table rebuild after %s: %s", d->rings_why, err);
	/*
	 * A round that wrote what a change left: the metrics list its VIPs
	 * before its replies (which then wait for the index only) are sent.
	 */
	if (unwritten && !d->dp.rings.unwritten)
		metrics_publish_now(d);
	if (d->ctl.wanted)
		ctlsrv_applied(&d->ctl, d->dp.index_done);
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
	bool was_ready = sync_ready(&d->sync);

	sync_tick(&d->sync);
	vrrp_hold_preempt(&d->vrrp, !sync_ready(&d->sync));
	/* Joined: the VIPs held back go out now, not at the next BGP tick. */
	if (!was_ready && sync_ready(&d->sync))
		bgp_refresh(d);
	t = took(d, "flow sharing", t);
	sweep_step(d, pass_left(end_us, SWEEP_STEP_US));
	t = took(d, "the sweep", t);
	/* Verdicts that arrived since the last tick share one rebuild, begun now: a dead backend is out within a tick. */
	if (d->hc.dirty) {
		d->hc.dirty = false;
		rebuild_rings(d, "a health change");
	}
	/* Tables a change left unwritten (its reply waits) may take the rest of the pass. */
	rings_step(d, pass_left(end_us, d->dp.rings.unwritten ? PASS_WORK_US : RINGS_STEP_US));
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
	struct metrics_sources src = { .cfg = &d->cfg, .dp = &d->dp, .hc = &d->hc, .vrrp = &d->vrrp, .bgp = &d->bgp,
				       .state = lbd_shown_state, .state_ctx = d, .gen = d->cfg_gen };
	struct metrics_cluster *c = &src.cluster;
	const struct sync *s = &d->sync;

	if (cluster_on(&d->cfg) && d->cluster.etcd) {
		c->on = true;
		c->etcd_up = etcd_state(d->cluster.etcd, NULL, NULL, 0) == ETCD_CONNECTED;
		c->stale = !c->etcd_up;
		c->revision = d->cluster.revision;
		c->refused = d->cluster.refused;
	}
	if (s->fd >= 0) {
		c->sync_on = true;
		c->joined = s->joined;
		for (size_t i = 0; i < s->n_peers; i++) {
			c->sent_flows += s->peers[i].sent_flows;
			c->installed += s->peers[i].installed;
		}
		uint64_t rejected[] = { s->rx_bad_auth, s->rx_malformed, s->rx_oversized, s->rx_replayed, s->rx_stale,
					s->rx_unknown_peer, s->rx_unplaced };
		uint64_t dropped[] = { s->queue_drops, s->rate_drops, s->send_errors };

		memcpy(c->rejected, rejected, sizeof(rejected));
		memcpy(c->dropped, dropped, sizeof(dropped));
	}
	metrics_publish(&d->metrics, &src);
}

static int epoll_add(int epfd, int fd, struct lbd_source *src)
{
	struct epoll_event ev = { .events = EPOLLIN, .data.ptr = src };

	return epoll_ctl(epfd, EPOLL_CTL_ADD, fd, &ev) ? -errno : 0;
}

/* ---- lbd's own event sources ---- */

/* The map worker swapped a VIP index in: replies held for it can go. */
static void on_map_worker(void *ctx, struct lbd_source *src, uint32_t events)
{
	struct lbd *d = ctx;

	(void)src, (void)events;
	ctlsrv_applied(&d->ctl, lbd_dp_index_event(&d->dp));
}

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

/* The passive checks: what the data plane counted of each passive VIP's backends this second. */
static void passive_checks(struct lbd *d)
{
	uint64_t now = lbd_mono_ms();

	for (size_t i = 0; i < d->cfg.n_vips; i++) {
		const struct lbd_vip_cfg *v = &d->cfg.vips[i];

		for (size_t j = 0; v->passive_n && j < v->n_backends; j++) {
			struct hc_target *t = hc_find(&d->hc, v, &v->backends[j].addr);
			uint32_t id = lbd_dp_backend_id(&d->dp, &v->backends[j].addr);

			if (t && id)
				hc_passive(&d->hc, t, v->passive_n, v->passive_window_ms,
					   xlb_syn_retries(&d->dp.fds, id), now);
		}
	}
}

/* weights latency|bandwidth: each backend's new sample, then the shares (hc_feedback()). */
static double feedback_sample(struct lbd *d, const struct lbd_vip_cfg *v, const struct lbd_backend_cfg *b)
{
	struct hc_target *t = hc_find(&d->hc, v, &b->addr);
	uint32_t id = lbd_dp_backend_id(&d->dp, &b->addr);
	uint64_t now = 0, before;

	if (!t)
		return -1;
	if (v->weights == LBD_WEIGHTS_BANDWIDTH) {
		now = id ? d->be_traffic[id].bytes : 0;
	} else {
		for (size_t k = 0; k <= HC_LATENCY_BUCKETS; k++)
			now += t->latency_count[k];
	}
	before = t->feedback_seen;
	t->feedback_seen = now;
	if (!t->feedback_primed) {
		t->feedback_primed = true;
		return -1;
	}
	/* An idle backend's 0 bytes a second is a sample too: the best there is. */
	if (v->weights == LBD_WEIGHTS_BANDWIDTH)
		return now >= before ? (double)(now - before) : -1;
	/* Only a probe that finished since and passed (ok_run): a timeout's time says nothing of the service. */
	return now > before && t->up && t->ok_run ? (double)t->latency_us : -1.0;
}

static void feedback_weights(struct lbd *d)
{
	uint64_t now = lbd_mono_ms();

	for (size_t i = 0; i < d->cfg.n_vips; i++) {
		const struct lbd_vip_cfg *v = &d->cfg.vips[i];
		double *metric;

		if (v->weights != LBD_WEIGHTS_LATENCY && v->weights != LBD_WEIGHTS_BANDWIDTH)
			continue;
		metric = calloc(v->n_backends + 1, sizeof(*metric));
		if (!metric)
			return;
		for (size_t j = 0; j < v->n_backends; j++)
			metric[j] = feedback_sample(d, v, &v->backends[j]);
		hc_feedback(&d->hc, v, metric, now);
		free(metric);
	}
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
	passive_checks(d);
	feedback_weights(d);
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
 * program is attached and the VIP's table is in and whole (no backend's
 * first look-up still under way), and with "healthy" only
 * while its table has a backend that passes its check (failing open counts
 * as none). The node-wide half of VRRP's test is the attachment; the
 * per-VIP half is this VIP's own backends, so one dead VIP does not take
 * the others' routes away.
 */
static void bgp_refresh(struct lbd *d)
{
	struct bgp_verdict *v;
	const struct lbd_backend_cfg *first;
	uint64_t now = lbd_mono_ms();

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
			first = lbd_dp_first_lookup(&d->dp, c, now);
			if (!sync_ready(&d->sync)) {
				/* Announced before the peers' flows are in, flows moved here would break. */
				v[i].settling = true;
				snprintf(v[i].settling_why, sizeof(v[i].settling_why),
					 "the peers' flows are still coming in (at most %d s)", (SYNC_JOIN_MS + 999) / 1000);
			} else if (first) {
				char a[INET6_ADDRSTRLEN];

				lbd_addr_format(&first->addr, a, sizeof(a));
				v[i].settling = true;
				snprintf(v[i].settling_why, sizeof(v[i].settling_why),
					 "backend %s is still being looked up (at most %d s)", a,
					 (LBD_FIRST_LOOKUP_MS + 999) / 1000);
			}
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
			if (lbd_run_command(d, 2, argv, &o, &whole, err, sizeof(err))) {
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
	/* The map worker (lbd_dp_start_worker()) swaps the index: a reply waits until it is in. */
	d->ctl.wanted = d->dp.worker.running ? ctl_wanted : NULL;
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

int lbd_cli_cluster(struct lbd *d, struct lbd_config *cfg, char *err, size_t len)
{
	struct lbd_cluster_cfg *c = &cfg->cluster;

	if (!d->cli_cluster && !d->cli_etcd)
		return 0;
	if (!d->cli_cluster || !d->cli_etcd) {
		lbd_config_free(cfg);
		return snprintf(err, len, "--cluster NAME and --etcd URL[,URL...] go together"), -EINVAL;
	}
	if (cfg->n_vips) {
		lbd_config_free(cfg);
		return snprintf(err, len, "%s has vip lines, but with --cluster the VIPs come from etcd: put them "
				"there (lbctl or etcdctl) and out of the file", d->config_path), -EINVAL;
	}
	if (strlen(d->cli_cluster) >= sizeof(c->name) || strlen(d->cli_etcd) >= sizeof(c->etcd)) {
		lbd_config_free(cfg);
		return snprintf(err, len, "--cluster or --etcd is too long"), -EINVAL;
	}
	/* The file's cache stays, if it is the same cluster's. */
	if (strcmp(c->name, d->cli_cluster))
		c->cache[0] = 0;
	strcpy(c->name, d->cli_cluster);
	strcpy(c->etcd, d->cli_etcd);
	if (lbd_cluster_cfg_check(c, err, len)) {
		lbd_config_free(cfg);
		return -EINVAL;
	}
	return 0;
}

static void usage(FILE *f)
{
	fprintf(f, "usage: lbd [--config FILE] [--socket PATH] [--pin-dir DIR] [--foreground] "
		   "[--log-level error|warn|info|debug] [--cluster NAME --etcd URL[,URL...]]\n"
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
		{ "cluster", required_argument, NULL, 'C' },
		{ "etcd", required_argument, NULL, 'E' },
		{ "help", no_argument, NULL, 'h' },
		{ 0 },
	};
	static struct lbd d = { .config_path = DEFAULT_CONFIG, .socket_path = CTL_DEFAULT_SOCKET,
				.pin_dir = DEFAULT_PIN_DIR, .listen_fd = -1 };
	char err[LBD_ERR_LEN];
	bool foreground = false;
	int opt;

	crash_report_install();
	while ((opt = getopt_long(argc, argv, "c:s:p:fl:hC:E:", longopts, NULL)) != -1) {
		switch (opt) {
		case 'c': d.config_path = optarg; break;
		case 's': d.socket_path = optarg; break;
		case 'p': d.pin_dir = optarg; break;
		case 'f': foreground = true; break;
		case 'C': d.cli_cluster = optarg; break;
		case 'E': d.cli_etcd = optarg; break;
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

	if (lbd_config_load(d.config_path, &d.cfg, err, sizeof(err)) ||
	    lbd_cli_cluster(&d, &d.cfg, err, sizeof(err)) ||
	    (cluster_on(&d.cfg) && cluster_load_cache(&d, err, sizeof(err)))) {
		lbd_err("%s", err);
		return 1;
	}
	if (lock_pin_dir(&d))
		return 1;
	d.sync.fd = -1;
	if (lbd_dp_open(&d.dp, d.pin_dir, d.cfg.conn_table_size, err, sizeof(err))) {
		lbd_err("%s", err);
		return 1;
	}
	/* Before the first sync: every VIP is written with it. */
	d.dp.share = sync_on(&d.cfg);
	d.dp.clustered = sync_on(&d.cfg) || cluster_on(&d.cfg);
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
	if (cluster_on(&d.cfg) && cluster_start(&d, err, sizeof(err))) {
		lbd_err("cluster %s: %s", d.cfg.cluster.name, err);
		return 1;
	}
	if (sync_start(&d, err, sizeof(err))) {
		lbd_err("%s", err);
		return 1;
	}
	/* From the first advert heard: the health tick keeps it up to date from then on. */
	vrrp_hold_preempt(&d.vrrp, !sync_ready(&d.sync));
	d.src_map_worker = (struct lbd_source){ on_map_worker, &d, "the map worker's index swaps" };
	int worker = lbd_dp_start_worker(&d.dp);

	if (!worker)
		worker = epoll_add(d.epfd, d.dp.worker.event_fd, &d.src_map_worker);
	if (worker) {
		lbd_warn("cannot start the map worker thread: %s; lbd swaps the VIP index and drops rings "
			 "on its loop", strerror(-worker));
		map_worker_stop(&d.dp.worker);
	}
	int reader = lbd_dp_sweep_start_reader(&d.dp);

	if (reader)
		lbd_warn("cannot start the sweep's reader thread: %s; lbd reads the connection table on its loop, "
			 "which a large table holds up to tens of ms a batch", strerror(-reader));
	lbd_info("ready: config %s, socket %s, pins %s", d.config_path, d.socket_path, d.pin_dir);
	/* Type=notify: lbctl works from the moment systemctl start returns. */
	sd_notifyf(0, "READY=1\nSTATUS=balancing %zu VIPs\nMAINPID=%d", d.cfg.n_vips, (int)getpid());
	loop(&d);
	/* Priority 0 first: a backup takes the VIPs after Skew_Time instead of Master_Down_Interval. */
	vrrp_shutdown(&d.vrrp);
	sync_stop(&d.sync);
	cluster_stop(&d);
	unlink(d.socket_path);
	bgp_free(&d.bgp);
	metrics_free(&d.metrics);
	hc_free(&d.hc);
	lbd_trace_close();
	lbd_dp_close(&d.dp);
	lbd_config_free(&d.cfg);
	return 0;
}
