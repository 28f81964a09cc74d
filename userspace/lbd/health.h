/* SPDX-License-Identifier: GPL-2.0 */
/*
 * Active health checks: one target per (VIP, backend) pair, probed from
 * lbd's epoll loop with non-blocking sockets and pidfds, never blocking it.
 * A target's verdict moves only after `rise` successes or `fall` failures
 * in a row; a target that comes back ramps its weight over slow-start.
 */
#ifndef LBD_HEALTH_H
#define LBD_HEALTH_H

#include <stdbool.h>
#include <stdint.h>
#include <sys/types.h>
#include "agent.h"
#include "check.h"
#include "feedback.h"
#include "passive.h"
#include "config.h"
#include "source.h"

/* Maglev weights are multiplied by this, so slow start can hand out fractions. */
#define HC_WEIGHT_SCALE		100
/* A returning backend starts at this share of its weight (per cent). */
#define HC_SLOW_START_FLOOR	10

/* Probe durations, for the metrics' histogram: upper bounds in microseconds, +Inf after. */
#define HC_LATENCY_BUCKETS	11
extern const uint32_t hc_latency_bounds_us[HC_LATENCY_BUCKETS];

enum hc_phase { HC_IDLE, HC_CONNECTING, HC_READING, HC_WAITING_CHILD };

/*
 * A VIP with weights agent asks each backend's agent for its weight, on a
 * socket of its own beside the health probe. Its word scales the weight
 * and can hold new flows back; it never says whether the backend is up.
 */
struct hc_agent {
	struct lbd_source source;	/* first: lbd's epoll dispatch */
	int fd;				/* the question in flight; -1: none */
	uint64_t started, deadline, next_due;	/* monotonic ms */
	struct agent_view view;		/* what is in force; changed_at in monotonic ms */
	bool stale;			/* the last question got no good answer: the values are older */
	char last[64];			/* the last answer, or why there was none */
	char buf[128];
	size_t got;
};

struct hc_target {
	struct lbd_source source;	/* first: lbd's epoll dispatch */
	struct lbd_vip_cfg vip;		/* addr, port, proto only */
	struct lbd_addr addr;
	struct lbd_check check;
	bool up;			/* the verdict after rise/fall */
	bool checked;			/* some probe has finished */
	bool seen;			/* in the config of the last sync */
	uint8_t ok_run, fail_run;
	uint32_t changes;		/* verdict changes since lbd started */
	uint64_t since_ms;		/* wall clock of the last verdict change (or of the first check) */
	uint64_t ramp_start;		/* monotonic ms when it came back; 0: no slow start running */
	char last[64];			/* the last probe's result: "ok", "timeout", "status 503"... */
	/* weights latency|bandwidth (hc_feedback()): the smoothed metric and the share in force. */
	struct fb_state feedback;
	uint64_t feedback_seen;		/* probes finished, or bytes sent, at the last sample */
	bool feedback_primed;		/* feedback_seen holds a reading */
	struct passive_window passive_window;	/* hc_passive(): the SYNs clients sent again, lately */
	uint64_t passive_until_ms;	/* monotonic: no rise before, or it would be back before the clients noticed */
	char passive[80];		/* why it took the pair down; "" once the active check brought it back */
	uint32_t latency_us;
	/* Every finished probe's duration: counts per bucket (the last is +Inf, not cumulative), sum. */
	uint64_t latency_count[HC_LATENCY_BUCKETS + 1];
	uint64_t latency_sum_us;
	/* the probe in flight */
	enum hc_phase phase;
	int fd;
	pid_t pid;
	uint64_t started, deadline, next_due;	/* monotonic ms */
	uint64_t started_us;			/* for the latency */
	char buf[128];
	size_t got;
	struct hc_agent agent;
};

struct hc {
	struct hc_target **t;
	size_t n;
	uint32_t *index;		/* open addressing over t: position + 1, 0 empty */
	size_t index_size;		/* a power of two, at least twice n */
	int epfd;
	bool dirty;			/* a verdict changed: the tables need a rebuild */
	size_t cursor;			/* where the last tick stopped starting probes */
};

void hc_init(struct hc *hc, int epfd);
void hc_free(struct hc *hc);
/* Targets for every (VIP, backend) in cfg; pairs already known keep their state. */
int hc_sync(struct hc *hc, const struct lbd_config *cfg);
/* Starts due probes and ends overdue ones; call often (every few tens of ms). */
void hc_tick(struct hc *hc);
/* An epoll event for a probe: ptr is the target registered with epoll. */
void hc_event(struct hc *hc, struct hc_target *t, uint32_t events);
struct hc_target *hc_find(const struct hc *hc, const struct lbd_vip_cfg *vip, const struct lbd_addr *addr);
/*
 * The passive check, once a second for a pair whose VIP has passive n/window:
 * retries is the backend's count of SYNs clients sent again (syn_retry_map,
 * over every VIP it serves). n more within any window take the pair down as
 * failed checks would; once that long has passed the active check's rise brings
 * it back, then slow start.
 */
void hc_passive(struct hc *hc, struct hc_target *t, uint32_t n, uint32_t window_ms, uint64_t retries,
		uint64_t now_ms);
/*
 * weights latency|bandwidth, once a second: metric[j] is backend j of vip's
 * new sample (latency in us of a probe that passed, bytes a second), < 0
 * for none. Each pair's share follows best / its smoothed metric within
 * feedback.h's bounds; a change of a share in force marks the tables dirty.
 */
void hc_feedback(struct hc *hc, const struct lbd_vip_cfg *vip, const double *metric, uint64_t now_ms);
/* The VIP of t asks its backends' agents. */
bool hc_agent_on(const struct hc_target *t);
/* The agent of be says drain or down: no new flows, not even when the VIP fails open. */
bool hc_agent_holds(const struct hc *hc, const struct lbd_vip_cfg *vip, const struct lbd_backend_cfg *be);
/* True while some backend is in slow start: its weight changes with time. */
bool hc_ramping(const struct hc *hc);
/*
 * The Maglev weight for a backend of vip now (scaled by HC_WEIGHT_SCALE),
 * 0 when it must get no new flows. *healthy says whether the check (and the
 * operator) let it in, for the all-down policy.
 */
uint32_t hc_weight(const struct hc *hc, const struct lbd_vip_cfg *vip, const struct lbd_backend_cfg *be,
		   bool *healthy);

#endif
