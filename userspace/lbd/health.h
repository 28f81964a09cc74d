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
#include "check.h"
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
