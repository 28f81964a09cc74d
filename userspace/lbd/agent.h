/* SPDX-License-Identifier: GPL-2.0 */
/*
 * HAProxy's agent-check protocol, the reading of it: a backend's agent
 * answers one line of words ("75%", "up", "drain", "down"...) separated by
 * spaces or commas. Pure functions here; the probing is in health.c.
 */
#ifndef LBD_AGENT_H
#define LBD_AGENT_H

#include <stdbool.h>
#include <stdint.h>

/* What the agent asks of its backend's new flows. */
enum agent_state {
	AGENT_NONE,	/* no agent, or none has answered yet */
	AGENT_UP,	/* "up", "ready" */
	AGENT_DRAIN,	/* "drain": existing flows stay, no new ones */
	AGENT_DOWN,	/* "down", "maint", "stopped", "fail": as admin down */
};

/* Weights move in steps of this many per cent, so an agent's noise does not rebuild the ring. */
#define AGENT_PERCENT_STEP	5

struct agent_reply {
	int percent;		/* 0-100, quantized to AGENT_PERCENT_STEP; -1: the line names none */
	uint8_t state;		/* enum agent_state; AGENT_NONE: the line names none */
};

/*
 * Reads one line (without or with its "\r\n"). Words it does not know
 * ("#comment", "maxconn:30") are passed over, as HAProxy does; a line
 * with neither a weight nor a state is garbage. Returns 0 or -EINVAL.
 */
int agent_parse(const char *line, struct agent_reply *out);

/* What is in force for a backend, and the last good answer waiting for its turn. */
struct agent_view {
	uint8_t state, percent;			/* in force; AGENT_NONE and 100 until an answer */
	uint8_t want_state, want_percent;	/* the last good answer */
	uint64_t changed_at;			/* ms when what is in force last changed; 0: never */
};

void agent_view_init(struct agent_view *v);
/* A good answer: a weight alone leaves a drain or a down as it is; a first answer means up. */
void agent_want(struct agent_view *v, const struct agent_reply *r);
/*
 * Puts the last good answer in force, at most once an interval, so an
 * agent that flips between two weights rebuilds the ring once an interval,
 * not once an answer. True when what is in force changed.
 */
bool agent_take(struct agent_view *v, uint64_t now_ms, uint32_t interval_ms);
const char *agent_state_name(uint8_t state);	/* "none", "up", "drain", "down" */

#endif
