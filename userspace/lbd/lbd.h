/* SPDX-License-Identifier: GPL-2.0 */
/*
 * lbd's state, shared by its loop (lbd.c) and its commands (commands.c).
 */
#ifndef LBD_LBD_H
#define LBD_LBD_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "bgp.h"
#include "cluster.h"
#include "config.h"
#include "ctlsrv.h"
#include "dataplane.h"
#include "health.h"
#include "metrics.h"
#include "out.h"
#include "source.h"
#include "sync.h"
#include "vrrp.h"

struct rate {
	uint64_t last, pps;
	uint32_t born;		/* of the id's VIP or backend: another's counters are no base */
};


/* Of pieces of work, the one that took longest. */
struct slowest {
	const char *what;
	uint64_t us;
};


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
	struct cluster cluster;
	struct sync sync;
	/* --cluster and --etcd: over the file's cluster line, at start and at each reload */
	const char *cli_cluster, *cli_etcd;
	bool attached;			/* the program is where attach says: checked each second */
	bool keep_routes;		/* SIGQUIT: stop without withdrawing (a restart, an upgrade) */
	uint64_t stop_began_ms, withdrawn_ms;
	bool ramping;			/* slow start was running at the last tick */
	int rings_starved;		/* health ticks in a row that left table rebuilds no time */
	unsigned bgp_ticks;
	/* lbd's own fds in the epoll set, and what their events ask of this pass */
	struct lbd_source src_listen, src_signal, src_timer, src_hc_timer, src_vrrp_timer, src_netlink;
	struct lbd_source src_map_worker;
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

/* commands.c: one lbctl command (its words), printed to o; a long reply a piece a pass (cur). */
int lbd_run_command(struct lbd *d, int argc, char **argv, struct out *o, struct ctl_cursor *cur, char *err,
		    size_t len);
/* commands.c: the state lbctl show prints for backend b of v (and the metrics' state). */
const char *lbd_shown_state(void *ctx, const struct lbd_vip_cfg *v, const struct lbd_vip_rt *rt,
			    const struct lbd_backend_cfg *b, const struct hc_target *t);

/* lbd.c: --cluster and --etcd into a configuration read from the file; -EINVAL and err if they do not fit. */
int lbd_cli_cluster(struct lbd *d, struct lbd_config *cfg, char *err, size_t len);
/* lbd.c: makes next the running configuration, or leaves the running one in force. */
int lbd_commit(struct lbd *d, struct lbd_config *next, bool save, char *err, size_t len);
/* lbd.c: every VIP's and backend's counters into vip_traffic and be_traffic. */
void lbd_read_traffic(struct lbd *d);

#endif
