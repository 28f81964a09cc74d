// SPDX-License-Identifier: GPL-2.0
/*
 * The control socket, served from lbd's epoll loop. A client's request is
 * gathered in its own buffer until the newline, its command runs once the
 * batch's other events are done, and the whole reply is queued and written
 * as the client reads it. Nothing here waits on a client: one that stalls
 * mid-request or never reads its reply holds a buffer and a deadline, and
 * the loop keeps sending VRRP adverts and probing backends meanwhile.
 */
#define _GNU_SOURCE
#include <errno.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/epoll.h>
#include <sys/socket.h>
#include <unistd.h>

#include "clock.h"
#include "config.h"
#include "ctlsrv.h"
#include "log.h"
#include "out.h"
#include "source.h"

/* lbd's loop hands a client's events here (see source.h). */
static void client_event(void *ctx, struct lbd_source *src, uint32_t events)
{
	ctlsrv_event(ctx, src, events);
}

/* At most this many accepts per batch, so a flood of connects cannot hold the loop either. */
#define ACCEPT_BATCH	32

enum ctl_phase {
	CL_READING,		/* gathering the request */
	CL_REQUEST,		/* request complete: its command runs after the batch */
	CL_RENDERING,		/* its command wrote part of the reply and goes on at the next pass */
	CL_PARKED,		/* its command waits for another party (etcd): run again at ctlsrv_wake() */
	CL_HELD,		/* reply queued, sent once the maps hold what it says (ctlsrv_applied()) */
	CL_WRITING,		/* reply queued, being sent as the client reads */
	CL_DROPPED,		/* closed; freed after the batch, events still queued for it are ignored */
};

struct ctl_client {
	struct lbd_source source;	/* first: lbd's epoll dispatch */
	enum ctl_phase phase;
	int fd;
	bool want_out;			/* EPOLLOUT is watched */
	bool unwatched;			/* hung up while its command ran: out of epoll */
	uint64_t deadline;		/* monotonic ms */
	uint64_t hold;			/* CL_HELD: the generation of the data plane it waits for */
	struct ctl_client *next;
	char *out;
	size_t out_len, out_sent;
	/* CL_RENDERING: the command's words, the reply so far and where it goes on. */
	int argc;
	char *argv[CTL_MAX_ARGS + 1];
	FILE *mem;
	char *body;
	size_t body_len;
	struct out o;
	struct ctl_cursor cur;
	size_t in_len;
	char in[CTL_MAX_REQUEST];
};

static bool peer_is_root(int fd)
{
	struct ucred cred;
	socklen_t len = sizeof(cred);

	return !getsockopt(fd, SOL_SOCKET, SO_PEERCRED, &cred, &len) && cred.uid == 0;
}

/* For clients lbd keeps no state for: one line into an empty send buffer, never waiting. */
static void refuse(int fd, const char *line)
{
	if (send(fd, line, strlen(line), MSG_DONTWAIT | MSG_NOSIGNAL) < 0)
		lbd_debug("control client refused, and the refusal could not be sent: %s", strerror(errno));
	close(fd);
}

static void reply_discard(struct ctl_client *c)
{
	if (c->mem)
		fclose(c->mem);
	c->mem = NULL;
	free(c->body);
	c->body = NULL;
	c->body_len = 0;
}

/* A reply begun anew: the command runs from its start into an empty buffer. */
static int reply_begin(struct ctl_client *c)
{
	reply_discard(c);
	c->mem = open_memstream(&c->body, &c->body_len);
	if (!c->mem)
		return -ENOMEM;
	out_init(&c->o, c->mem, !strcmp(c->argv[0], "j"));
	c->cur.next = 0;
	c->cur.gen = 0;
	return 0;
}

static void drop(struct ctlsrv *s, struct ctl_client *c)
{
	if (c->phase == CL_DROPPED)
		return;
	reply_discard(c);
	close(c->fd);
	c->fd = -1;
	c->phase = CL_DROPPED;
	s->buffered -= c->out_len - c->out_sent;
	free(c->out);
	c->out = NULL;
	c->out_len = c->out_sent = 0;
	s->n--;
	s->fd_freed = true;
	if (s->n < CTL_MAX_CLIENTS)
		s->busy_logged = false;
}

static void watch(struct ctlsrv *s, struct ctl_client *c, uint32_t events)
{
	struct epoll_event ev = { .events = events, .data.ptr = c };

	if (epoll_ctl(s->epfd, c->unwatched ? EPOLL_CTL_ADD : EPOLL_CTL_MOD, c->fd, &ev)) {
		lbd_warn("control client dropped: epoll: %s", strerror(errno));
		drop(s, c);
	}
	c->want_out = events & EPOLLOUT;
	c->unwatched = false;
}

/* Sends what the socket takes now; the rest on EPOLLOUT. Done: the client is closed. */
static void flush(struct ctlsrv *s, struct ctl_client *c)
{
	while (c->out_sent < c->out_len) {
		ssize_t w = send(c->fd, c->out + c->out_sent, c->out_len - c->out_sent,
				 MSG_DONTWAIT | MSG_NOSIGNAL);

		if (w < 0 && errno == EINTR)
			continue;
		if (w < 0 && (errno == EAGAIN || errno == EWOULDBLOCK)) {
			if (!c->want_out)
				watch(s, c, EPOLLOUT);
			return;
		}
		if (w <= 0) {
			lbd_debug("control client hung up after %zu of %zu reply bytes", c->out_sent, c->out_len);
			drop(s, c);
			return;
		}
		c->out_sent += (size_t)w;
		s->buffered -= (size_t)w;
	}
	drop(s, c);
}

/* Takes buf (malloc'd, len bytes of reply lines) and starts sending it. */
static void queue(struct ctlsrv *s, struct ctl_client *c, char *buf, size_t len)
{
	c->out = buf;
	c->out_len = len;
	c->out_sent = 0;
	s->buffered += len;
	c->phase = CL_WRITING;
	c->deadline = lbd_mono_ms() + CTL_REPLY_MS;
	if (s->wanted) {
		uint64_t done, wanted = s->wanted(s->ctx, &done);

		/* A reply read before its change reached packets would tell a script to go on too soon. */
		if (wanted > done) {
			c->phase = CL_HELD;
			c->hold = wanted;
			/* lbd's own work, not the client's slowness: the reply's time starts when it is sent. */
			c->deadline = lbd_mono_ms() + CTL_HELD_MS;
			return;
		}
	}
	flush(s, c);
}

void ctlsrv_applied(struct ctlsrv *s, uint64_t done)
{
	for (struct ctl_client *c = s->clients; c; c = c->next) {
		uint64_t ignored;

		if (c->phase != CL_HELD)
			continue;
		/* Held until the tables were all written: now that they are, for the index that follows. */
		if (c->hold == CTL_HOLD_UNTIL_WRITTEN)
			c->hold = s->wanted(s->ctx, &ignored);
		if (c->hold <= done) {
			c->phase = CL_WRITING;
			c->deadline = lbd_mono_ms() + CTL_REPLY_MS;
			flush(s, c);
		}
	}
}

static void queue_line(struct ctlsrv *s, struct ctl_client *c, const char *status, const char *text)
{
	char *buf;
	int n = asprintf(&buf, "%s%s%s\n", status, *text ? " " : "", text);

	if (n < 0) {
		drop(s, c);
		return;
	}
	/* Nothing more is read: a request cut off here must not run later. */
	if (c->phase == CL_READING)
		watch(s, c, 0);
	if (c->phase != CL_DROPPED)
		queue(s, c, buf, (size_t)n);
	else
		free(buf);
}

static void queue_error(struct ctlsrv *s, struct ctl_client *c, const char *fmt, ...)
	__attribute__((format(printf, 3, 4)));

static void queue_error(struct ctlsrv *s, struct ctl_client *c, const char *fmt, ...)
{
	char text[LBD_ERR_LEN + 64];
	va_list ap;

	va_start(ap, fmt);
	vsnprintf(text, sizeof(text), fmt, ap);
	va_end(ap);
	queue_line(s, c, "error", text);
}

/*
 * The command's output as the line protocol: "row " before each line
 * (empty lines, which separate tables, too), then "done".
 */
static char *format_rows(const char *body, size_t body_len, size_t *len)
{
	size_t lines = 0, n = 0;
	char *buf;

	for (size_t i = 0; i < body_len; i++)
		lines += body[i] == '\n';
	if (body_len && body[body_len - 1] != '\n')
		lines++;
	*len = body_len + lines * 5 + sizeof("done\n") - 1;
	if (*len > CTL_MAX_REPLY)
		return NULL;
	buf = malloc(*len + 1);
	if (!buf)
		return NULL;
	for (const char *line = body, *end = body + body_len; line < end;) {
		const char *nl = memchr(line, '\n', (size_t)(end - line));
		size_t l = nl ? (size_t)(nl - line) : (size_t)(end - line);

		memcpy(buf + n, l ? "row " : "row", l ? 4 : 3);
		n += l ? 4 : 3;
		memcpy(buf + n, line, l);
		n += l;
		buf[n++] = '\n';
		line += l + 1;
	}
	memcpy(buf + n, "done\n", 5);
	*len = n + 5;
	return buf;
}

/*
 * Runs the command, or the next piece of it, until until_us; the reply is
 * queued once the command has written all of it.
 */
static void render(struct ctlsrv *s, struct ctl_client *c, uint64_t until_us)
{
	char err[LBD_ERR_LEN] = "", *buf;
	size_t len;
	int ret;

	for (;;) {
		c->cur.until_us = until_us;
		c->cur.more = false;
		c->cur.park = false;
		ret = s->run(s->ctx, c->argc - 1, c->argv + 1, &c->o, &c->cur, err, sizeof(err));
		if (ret != CTL_RESTART)
			break;
		/* What it began on has changed (another client's command): begun again, whole. */
		c->cur.restarts++;
		if (reply_begin(c)) {
			queue_error(s, c, "out of memory");
			return;
		}
	}
	if (!ret && c->cur.park) {
		c->phase = CL_PARKED;
		return;
	}
	if (!ret && c->cur.more) {
		c->phase = CL_RENDERING;
		s->requests = true;
		s->resumed++;
		return;
	}
	fclose(c->mem);
	c->mem = NULL;
	if (ret) {
		reply_discard(c);
		queue_line(s, c, "error", err);
		return;
	}
	buf = format_rows(c->body, c->body_len, &len);
	reply_discard(c);
	if (!buf) {
		queue_error(s, c, "the reply is larger than the %u MiB lbd sends, or lbd is out of memory",
			    CTL_MAX_REPLY >> 20);
		return;
	}
	if (s->buffered + len > CTL_MAX_BUFFERED) {
		free(buf);
		queue_error(s, c, "lbd is busy: %zu MiB of replies wait for slow clients; try again",
			    s->buffered >> 20);
		return;
	}
	queue(s, c, buf, len);
}

/* The request is c->in up to its first newline: flags, then lbctl's words. */
static void serve(struct ctlsrv *s, struct ctl_client *c, uint64_t until_us)
{
	char *nl;
	size_t words = 0;
	int argc = 0;

	if (c->phase == CL_RENDERING || c->phase == CL_PARKED) {
		render(s, c, until_us);
		return;
	}

	nl = memchr(c->in, '\n', c->in_len);
	*nl = 0;
	for (char *p = c->in; (p = strchr(p, CTL_SEP)); p++)
		words++;
	/* Refused whole: a command cut to fit would run, and be saved, as something else. */
	if (words > CTL_MAX_ARGS) {
		queue_error(s, c, "the request has %zu words, more than the %d lbd accepts: "
			    "split it into several commands", words, CTL_MAX_ARGS);
		return;
	}
	for (char *p = c->in, *sep; p; p = sep ? sep + 1 : NULL) {
		sep = strchr(p, CTL_SEP);
		if (sep)
			*sep = 0;
		c->argv[argc++] = p;
	}
	c->argc = argc;
	if (argc < 2) {
		queue_error(s, c, "empty request");
		return;
	}
	c->cur = (struct ctl_cursor){ 0 };
	if (reply_begin(c)) {
		queue_error(s, c, "out of memory");
		return;
	}
	render(s, c, until_us);
}

static void client_read(struct ctlsrv *s, struct ctl_client *c)
{
	while (c->in_len < sizeof(c->in)) {
		ssize_t r = recv(c->fd, c->in + c->in_len, sizeof(c->in) - c->in_len, MSG_DONTWAIT);

		if (r < 0 && errno == EINTR)
			continue;
		if (r < 0 && (errno == EAGAIN || errno == EWOULDBLOCK))
			return;
		if (r <= 0) {
			lbd_debug("control client hung up after %zu bytes of an unfinished request", c->in_len);
			drop(s, c);
			return;
		}
		bool done = memchr(c->in + c->in_len, '\n', (size_t)r);

		c->in_len += (size_t)r;
		if (done) {
			watch(s, c, 0);
			/* Waiting for its turn counts toward the reply's time, not the request's. */
			c->deadline = lbd_mono_ms() + CTL_REPLY_MS;
			if (c->phase == CL_READING)
				c->phase = CL_REQUEST;
			s->requests = true;
			return;
		}
	}
	queue_error(s, c, "the request is longer than the %d bytes lbd accepts", CTL_MAX_REQUEST);
}

void ctlsrv_init(struct ctlsrv *s, int epfd, int listen_fd, struct lbd_source *listen_source, ctl_run_fn run,
		 void *ctx)
{
	*s = (struct ctlsrv){ .epfd = epfd, .listen_fd = listen_fd, .listen_source = listen_source, .run = run,
			      .ctx = ctx };
}

void ctlsrv_listen_event(struct ctlsrv *s)
{
	s->listen_ready = true;
}

void ctlsrv_event(struct ctlsrv *s, void *client, uint32_t events)
{
	struct ctl_client *c = client;

	/* Hang-ups and errors show as a failed recv or send. */
	if (c->phase == CL_READING) {
		client_read(s, c);
	} else if (c->phase == CL_WRITING) {
		flush(s, c);
	} else if (c->phase != CL_DROPPED && (events & (EPOLLHUP | EPOLLERR))) {
		/*
		 * Gone while its command runs, waits (etcd) or is held: epoll
		 * reports a hang-up whatever is watched, at every wait, and would
		 * spin the loop until then. The reply's send finds it gone.
		 */
		if (!epoll_ctl(s->epfd, EPOLL_CTL_DEL, c->fd, NULL))
			c->unwatched = true;
	}
}

static void listen_watch(struct ctlsrv *s, uint32_t events)
{
	struct epoll_event ev = { .events = events, .data.ptr = s->listen_source };

	if (epoll_ctl(s->epfd, EPOLL_CTL_MOD, s->listen_fd, &ev))
		lbd_warn("control socket: epoll: %s", strerror(errno));
}

/*
 * The listen socket stays readable while a connection waits, and epoll is
 * level-triggered: after a failed accept4 it is unwatched for a while, or
 * the loop would spin.
 */
static void pause_accepting(struct ctlsrv *s, int err)
{
	listen_watch(s, 0);
	s->paused_until = lbd_mono_ms() + CTL_PAUSE_MS;
	s->fd_freed = false;
	if (!s->pause_logged)
		lbd_warn("control socket: cannot accept clients: %s; retrying every %d ms%s", strerror(err),
			 CTL_PAUSE_MS, err == EMFILE || err == ENFILE ?
			 " (raise the open files limit: LimitNOFILE= or ulimit -n)" : "");
	s->pause_logged = true;
}

static void accept_clients(struct ctlsrv *s)
{
	for (int i = 0; i < ACCEPT_BATCH; i++) {
		int fd = accept4(s->listen_fd, NULL, NULL, SOCK_CLOEXEC | SOCK_NONBLOCK);
		struct ctl_client *c;

		if (fd < 0) {
			if (errno == EINTR || errno == ECONNABORTED)
				continue;
			if (errno != EAGAIN && errno != EWOULDBLOCK)
				pause_accepting(s, errno);
			return;
		}
		if (s->pause_logged) {
			lbd_info("control socket: accepting clients again");
			s->pause_logged = false;
		}
		if (s->n >= CTL_MAX_CLIENTS) {
			if (!s->busy_logged)
				lbd_warn("control socket: %d clients connected, the most lbd serves at once: "
					 "refusing more until some finish", CTL_MAX_CLIENTS);
			s->busy_logged = true;
			refuse(fd, "error lbd is busy: too many lbctl clients at once; try again\n");
			continue;
		}
		c = malloc(sizeof(*c));
		if (!c) {
			refuse(fd, "error lbd is out of memory\n");
			continue;
		}
		*c = (struct ctl_client){ .source = { client_event, s, "lbctl clients' reads and writes" },
					  .phase = CL_READING, .fd = fd,
					  .deadline = lbd_mono_ms() + CTL_REQUEST_MS };
		struct epoll_event ev = { .events = EPOLLIN, .data.ptr = c };

		if (epoll_ctl(s->epfd, EPOLL_CTL_ADD, fd, &ev)) {
			lbd_warn("control client refused: epoll: %s", strerror(errno));
			close(fd);
			free(c);
			continue;
		}
		c->next = s->clients;
		s->clients = c;
		s->n++;
		if (!peer_is_root(fd))
			queue_line(s, c, "error", "permission denied: lbctl must run as root");
	}
}

static void expire(struct ctlsrv *s, struct ctl_client *c)
{
	if (c->phase == CL_READING) {
		lbd_info("control client dropped: its request was not complete within %d ms (%zu bytes came)",
			 CTL_REQUEST_MS, c->in_len);
		/* Best effort, for a client that stalled but still reads: why it was cut. */
		send(c->fd, "error the request was not complete in time: lbd closed the connection\n",
		     sizeof("error the request was not complete in time: lbd closed the connection\n") - 1,
		     MSG_DONTWAIT | MSG_NOSIGNAL);
	} else if (c->phase == CL_HELD) {
		lbd_warn("control client dropped: the VIP index its reply waits for was not in within %d ms",
			 CTL_HELD_MS);
	} else if (c->phase == CL_PARKED) {
		lbd_warn("control client dropped: what its command waited for did not come within %d ms",
			 CTL_REPLY_MS);
		send(c->fd, "error no answer in time (etcd?): the change may or may not have been made\n",
		     sizeof("error no answer in time (etcd?): the change may or may not have been made\n") - 1,
		     MSG_DONTWAIT | MSG_NOSIGNAL);
	} else {
		lbd_info("control client dropped: it did not read its reply within %d ms (%zu of %zu bytes sent)",
			 CTL_REPLY_MS, c->out_sent, c->out_len);
	}
	drop(s, c);
}

/*
 * A burst of changing commands, each a sync and a save of a few ms, would
 * hold the loop for all of them at once (120 took over a second, and a
 * VRRP backup took over): a budget a pass, and the rest at the next one.
 */
static void serve_some(struct ctlsrv *s, uint64_t until)
{
	struct ctl_client *waiting[CTL_MAX_CLIENTS], *c;
	size_t n = 0;

	s->requests = false;
	for (c = s->clients; c && n < CTL_MAX_CLIENTS; c = c->next)
		if (c->phase == CL_REQUEST || c->phase == CL_RENDERING)
			waiting[n++] = c;
	/* Clients are listed newest first: the oldest request is the last. */
	while (n) {
		serve(s, waiting[--n], until);
		if (n && lbd_mono_us() >= until) {
			s->requests = true;
			return;
		}
	}
}

bool ctlsrv_after_batch(struct ctlsrv *s, uint64_t until_us)
{
	struct ctl_client **pp, *c;
	uint64_t now;

	if (s->requests)
		serve_some(s, until_us);
	now = lbd_mono_ms();
	if (s->paused_until && (now >= s->paused_until || s->fd_freed)) {
		s->paused_until = 0;
		listen_watch(s, EPOLLIN);
	}
	if (s->listen_ready) {
		s->listen_ready = false;
		accept_clients(s);
	}
	for (c = s->clients; c; c = c->next)
		if (c->phase != CL_DROPPED && now >= c->deadline)
			expire(s, c);
	/* Freed only now: events of this batch may still have pointed at a dropped client. */
	for (pp = &s->clients; (c = *pp);) {
		if (c->phase == CL_DROPPED) {
			*pp = c->next;
			free(c);
		} else {
			pp = &c->next;
		}
	}
	return s->requests;
}

void ctlsrv_wake(struct ctlsrv *s)
{
	for (struct ctl_client *c = s->clients; c; c = c->next)
		if (c->phase == CL_PARKED) {
			c->phase = CL_RENDERING;
			s->requests = true;
		}
}

void ctlsrv_close(struct ctlsrv *s)
{
	while (s->clients) {
		struct ctl_client *c = s->clients;

		s->clients = c->next;
		drop(s, c);
		free(c);
	}
}
