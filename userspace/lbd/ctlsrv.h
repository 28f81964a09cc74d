/* SPDX-License-Identifier: GPL-2.0 */
/*
 * lbd's control socket server: lbctl clients served from lbd's epoll loop
 * without ever blocking it. Each client has its own input and output
 * buffer and a deadline; a client that is slow to send its request or to
 * read its reply is dropped, and costs the loop nothing meanwhile.
 */
#ifndef LBD_CTLSRV_H
#define LBD_CTLSRV_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "ctl.h"
#include "source.h"

#define CTL_MAX_CLIENTS		128		/* beyond it: "error lbd is busy" */
#define CTL_REQUEST_MS		5000		/* from accept to the request's newline */
#define CTL_REPLY_MS		10000		/* from the request's newline, for the whole reply to drain */
#define CTL_HELD_MS		120000		/* a reply held for the data plane (ctlsrv_applied()), at most */
#define CTL_MAX_REPLY		(64u << 20)	/* one reply, in bytes */
#define CTL_MAX_BUFFERED	(128u << 20)	/* all replies waiting for their readers */
#define CTL_PAUSE_MS		100		/* accept4 out of fds: retry after this */

struct out;

/*
 * Where a long reply goes on. A command whose reply grows with the
 * configuration (show of thousands of backends) writes a piece a pass:
 * after a row, once until_us has passed, it records next and sets more,
 * and is called again at the next pass with the same words and output.
 * If what it began on has changed by then it returns CTL_RESTART and is
 * run again from its start, into an empty reply.
 */
struct ctl_cursor {
	uint64_t until_us;	/* monotonic: stop at the next row after it */
	size_t next;		/* 0 at the start; the command's own place */
	uint64_t gen;		/* the command's: what it began on */
	bool more;		/* set by the command: not done, go on at the next pass */
	bool park;		/* set by the command: not done, go on after ctlsrv_wake() */
	unsigned restarts;
};

#define CTL_RESTART		1
/* Begun again this often, a reply is then written whole: a client is not starved by changes. */
#define CTL_MAX_RESTARTS	3

/* True (and the place noted) when the command is to stop after a row and go on at the next pass. */
static inline bool ctl_pause_at(struct ctl_cursor *cur, size_t next, uint64_t now_us)
{
	if (cur->restarts >= CTL_MAX_RESTARTS || now_us < cur->until_us)
		return false;
	cur->next = next;
	cur->more = true;
	return true;
}

/* Runs one command (lbctl's words), printing to o; 0, CTL_RESTART, or -errno and err. */
typedef int (*ctl_run_fn)(void *ctx, int argc, char **argv, struct out *o, struct ctl_cursor *cur,
			  char *err, size_t len);

struct ctl_client;

struct ctlsrv {
	int epfd, listen_fd;
	struct lbd_source *listen_source;	/* what listen_fd is registered with */
	ctl_run_fn run;
	void *ctx;
	struct ctl_client *clients;
	size_t n;			/* clients not yet dropped */
	size_t buffered;		/* reply bytes not yet sent, all clients */
	bool listen_ready;		/* the listen socket was readable in this batch */
	bool requests;			/* some client's request is complete */
	bool fd_freed;			/* a client closed since accepting was paused */
	uint64_t paused_until;		/* 0, or the listen socket is unwatched until then */
	bool pause_logged, busy_logged;
	uint64_t resumed;		/* replies paused to let the loop go on: each time */
	/*
	 * NULL, or the generation of the data plane that what was done so far
	 * needs, and (done) the one in now: a reply is held while they differ.
	 */
	uint64_t (*wanted)(void *ctx, uint64_t *done);
};
/* What wanted() says while tables of the change are still to be written: asked again at each ctlsrv_applied(). */
#define CTL_HOLD_UNTIL_WRITTEN	UINT64_MAX

/*
 * listen_fd must already be in epfd's set, registered with listen_source and
 * EPOLLIN. The loop must wake at least every few tens of ms (lbd's health
 * check tick): deadlines are checked in ctlsrv_after_batch.
 */
void ctlsrv_init(struct ctlsrv *s, int epfd, int listen_fd, struct lbd_source *listen_source, ctl_run_fn run,
		 void *ctx);
/* During a batch of epoll events: the listen socket, or a client (its pointer). */
void ctlsrv_listen_event(struct ctlsrv *s);
void ctlsrv_event(struct ctlsrv *s, void *client, uint32_t events);
/*
 * After all other events of the batch: runs the complete requests'
 * commands (they may free probes and routers other events point to),
 * oldest first, until until_us on the monotonic clock (one at least: each
 * may sync the maps and save the file), accepts new clients, drops late
 * ones and frees what was dropped. True when requests still wait: the loop
 * must come back at once, not sleep.
 */
bool ctlsrv_after_batch(struct ctlsrv *s, uint64_t until_us);
/*
 * The data plane reached generation done (or wrote what a change left
 * for later): held replies that wait for it or less are sent.
 */
void ctlsrv_applied(struct ctlsrv *s, uint64_t done);
/* What parked commands wait for may have come: they run again after the batch. */
void ctlsrv_wake(struct ctlsrv *s);
void ctlsrv_close(struct ctlsrv *s);

#endif
