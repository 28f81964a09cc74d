// SPDX-License-Identifier: GPL-2.0
/*
 * The announcements file and BIRD's control socket. BIRD's replies are
 * lines "NNNN-text" (more follow), "NNNN text" (the last) or " text" (more
 * of the one before); codes below 8000 are success, 8xxx and 9xxx errors.
 * Every step is non-blocking and bounded by a deadline: a BIRD that hangs
 * costs a retry, never lbd's loop.
 */
#define _GNU_SOURCE
#include "bgp.h"

#include <arpa/inet.h>
#include <errno.h>
#include <fcntl.h>
#include <netinet/in.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/epoll.h>
#include <sys/socket.h>
#include <sys/un.h>
#include <unistd.h>

#include "clock.h"
#include "log.h"
#include "source.h"

/* lbd's loop hands the control socket's events here (see source.h). */
static void bird_event(void *ctx, struct lbd_source *src, uint32_t events)
{
	bgp_event(ctx, (struct bgp_bird *)src, events);
}

#define BIRD_TIMEOUT_MS		10000
#define BIRD_RETRY_FIRST_MS	1000
#define BIRD_RETRY_MAX_MS	30000

enum { BIRD_CONNECTING, BIRD_GREETING, BIRD_REPLY };

void bgp_init(struct bgp *b, int epfd)
{
	memset(b, 0, sizeof(*b));
	b->epfd = epfd;
}

static void conv_end(struct bgp *b)
{
	if (!b->conv)
		return;
	if (b->conv->fd >= 0) {
		epoll_ctl(b->epfd, EPOLL_CTL_DEL, b->conv->fd, NULL);
		close(b->conv->fd);
	}
	free(b->conv);
	b->conv = NULL;
}

void bgp_free(struct bgp *b)
{
	conv_end(b);
	free(b->vips);
	free(b->text);
	bgp_init(b, b->epfd);
}

static bool active(const struct bgp *b)
{
	return b->cfg.bird_socket[0] != 0;
}

/* What the file holds now, to tell a restart's unchanged set from a change. */
static char *read_file(const char *path)
{
	FILE *f = fopen(path, "r");
	char *text = NULL;
	size_t len = 0;

	if (!f)
		return NULL;
	if (getdelim(&text, &len, 0, f) < 0) {
		free(text);
		text = strdup("");
	}
	fclose(f);
	return text;
}

void bgp_set(struct bgp *b, const struct lbd_bgp_cfg *cfg)
{
	bool same_paths = !strcmp(b->cfg.bird_socket, cfg->bird_socket) && !strcmp(b->cfg.include, cfg->include);

	if (!cfg->bird_socket[0]) {
		/* bgp del: one last file without routes, then off (see bgp_update). */
		if (active(b) && !b->retiring) {
			b->retiring = true;
			b->need_configure = true;
			b->backoff_ms = 0;
			b->next_try_ms = 0;
		}
		return;
	}
	b->retiring = false;
	if (same_paths && active(b)) {
		b->cfg = *cfg;	/* only the timers changed */
		return;
	}
	conv_end(b);
	b->cfg = *cfg;
	free(b->text);
	/*
	 * A file left by an lbd before this one holds what BIRD announces now:
	 * kept until the first update says otherwise, so a restart does not
	 * withdraw. No file yet: an empty one at once, so BIRD can start.
	 * Either way BIRD is told: the last lbd may have failed to, and
	 * BIRD's reconfiguration leaves routes that did not change alone.
	 */
	b->text = read_file(cfg->include);
	b->need_configure = true;
	b->backoff_ms = 0;
	b->next_try_ms = 0;
	b->last_error[0] = 0;
}

/* ---- the file ---- */

static int prefix_cmp(const void *x, const void *y)
{
	const struct bgp_vip *a = *(const struct bgp_vip *const *)x, *c = *(const struct bgp_vip *const *)y;

	if (a->addr.family != c->addr.family)
		return a->addr.family - c->addr.family;
	return memcmp(a->addr.a, c->addr.a, sizeof(a->addr.a));
}

static void prefix_format(const struct lbd_addr *a, char *buf, size_t len)
{
	char s[INET6_ADDRSTRLEN];

	lbd_addr_format(a, s, sizeof(s));
	snprintf(buf, len, "%s/%d", s, a->family == XLB_AF_INET ? 32 : 128);
}

static void write_family(FILE *f, const struct bgp_vip **set, size_t n, uint8_t family)
{
	char p[INET6_ADDRSTRLEN + 8];

	fprintf(f, "protocol static xlb%d {\n\t%s;\n", family == XLB_AF_INET ? 4 : 6,
		family == XLB_AF_INET ? "ipv4" : "ipv6");
	for (size_t i = 0; i < n; i++) {
		/* VIPs on one address, other ports: one route. */
		if (set[i]->addr.family != family || (i && !prefix_cmp(&set[i - 1], &set[i])))
			continue;
		prefix_format(&set[i]->addr, p, sizeof(p));
		fprintf(f, "\troute %s blackhole;\n", p);
	}
	fprintf(f, "}\n");
}

/* The file's text for the VIPs announced now, sorted: the same set gives the same bytes. */
static char *render(const struct bgp *b)
{
	const struct bgp_vip **set = calloc(b->n_vips + 1, sizeof(*set));
	char *text = NULL;
	size_t len = 0, n = 0;
	FILE *f;

	if (!set)
		return NULL;
	for (size_t i = 0; i < b->n_vips; i++)
		if (b->vips[i].announced)
			set[n++] = &b->vips[i];
	qsort(set, n, sizeof(*set), prefix_cmp);
	f = open_memstream(&text, &len);
	if (f) {
		fprintf(f, "# Written by lbd (xlb): the VIPs this node announces now. Do not edit;\n"
			   "# see 'lbctl bgp show'. BIRD's configuration includes this file.\n");
		write_family(f, set, n, XLB_AF_INET);
		write_family(f, set, n, XLB_AF_INET6);
		fclose(f);
	}
	free(set);
	return text;
}

static void text_writer(FILE *f, const void *text)
{
	fputs(text, f);
}

/* bgp del: BIRD was asked once to drop the routes; whatever it said, lbd is done with it. */
static void retire(struct bgp *b)
{
	lbd_info("bgp: off; %s is left without routes", b->cfg.include);
	conv_end(b);
	memset(&b->cfg, 0, sizeof(b->cfg));
	b->retiring = false;
	b->need_configure = false;
	free(b->text);
	b->text = NULL;
	free(b->vips);
	b->vips = NULL;
	b->n_vips = 0;
}

static void note_failure(struct bgp *b, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
static void note_failure(struct bgp *b, const char *fmt, ...)
{
	char was[sizeof(b->last_error)];
	va_list ap;

	snprintf(was, sizeof(was), "%s", b->last_error);
	va_start(ap, fmt);
	vsnprintf(b->last_error, sizeof(b->last_error), fmt, ap);
	va_end(ap);
	b->failures++;
	b->last_fail_ms = lbd_wall_ms();
	b->need_configure = true;
	b->backoff_ms = b->backoff_ms ? b->backoff_ms * 2 : BIRD_RETRY_FIRST_MS;
	if (b->backoff_ms > BIRD_RETRY_MAX_MS)
		b->backoff_ms = BIRD_RETRY_MAX_MS;
	b->next_try_ms = lbd_mono_ms() + b->backoff_ms;
	/* The same failure again and again is one line, not one every retry. */
	if (strcmp(was, b->last_error))
		lbd_warn("bgp: %s; retrying every %llu s at most, balancing goes on", b->last_error,
			 (unsigned long long)BIRD_RETRY_MAX_MS / 1000);
	if (b->stopping)
		b->stop_failed = true;	/* no waiting for a BIRD that is not there */
	if (b->retiring)
		retire(b);
}

static void write_text(struct bgp *b, char *text)
{
	char err[LBD_ERR_LEN];

	if (b->text && !strcmp(b->text, text)) {
		free(text);
		return;
	}
	if (lbd_file_replace(b->cfg.include, text_writer, text, 0644, err, sizeof(err))) {
		free(text);
		note_failure(b, "%s", err);
		return;
	}
	free(b->text);
	b->text = text;
	b->need_configure = true;
	/* A new set goes to BIRD now, whatever back-off an old failure left. */
	if (!b->conv)
		b->next_try_ms = 0;
}

/* ---- which VIPs ---- */

static struct bgp_vip *find_vip(struct bgp_vip *vips, size_t n, const struct lbd_vip_cfg *v)
{
	for (size_t i = 0; i < n; i++)
		if (vips[i].port == v->port && vips[i].proto == v->proto && lbd_addr_eq(&vips[i].addr, &v->addr))
			return &vips[i];
	return NULL;
}

/* Returns whether the VIP's announcement changed. */
static bool decide(struct bgp *b, struct bgp_vip *s, const struct bgp_verdict *v, uint64_t now)
{
	bool want = v->can;

	snprintf(s->why, sizeof(s->why), "%s", v->why);
	if (want && v->settling && !s->announced) {
		want = false;
		snprintf(s->why, sizeof(s->why), "%s", v->settling_why);
	}
	if (!v->can) {
		s->can_since_ms = 0;
		if (s->announced && v->health)
			s->held = true;
	} else if (!s->can_since_ms) {
		s->can_since_ms = now;
	}
	if (want && s->held && now - s->can_since_ms < b->cfg.hold_down_ms) {
		want = false;
		snprintf(s->why, sizeof(s->why), "hold-down after a withdrawal for health: %llu ms left",
			 (unsigned long long)(b->cfg.hold_down_ms - (now - s->can_since_ms)));
	}
	if (want)
		s->held = false;
	if (b->stopping || b->retiring) {
		want = false;
		snprintf(s->why, sizeof(s->why), "%s", b->stopping ? "lbd is stopping" : "bgp is being removed");
	}
	if (want != s->announced) {
		char vs[80];
		struct lbd_vip_cfg key = { .addr = s->addr, .port = s->port, .proto = s->proto };

		lbd_vip_format(&key, vs, sizeof(vs));
		s->announced = want;
		s->since_ms = lbd_wall_ms();
		lbd_info("bgp: VIP %s %s (%s)", vs, want ? "announced" : "withdrawn", s->why);
		return true;
	}
	return false;
}

void bgp_update(struct bgp *b, const struct lbd_config *cfg, const struct bgp_verdict *v)
{
	struct bgp_vip *next;
	uint64_t now = lbd_mono_ms();
	/* A configure due (new paths, a failure to retry) checks the file too: it may hold another set. */
	bool changed = cfg->n_vips != b->n_vips || !b->text || b->need_configure;
	char *text;

	if (!active(b))
		return;
	next = calloc(cfg->n_vips + 1, sizeof(*next));
	if (!next)
		return;
	for (size_t i = 0; i < cfg->n_vips; i++) {
		const struct lbd_vip_cfg *c = &cfg->vips[i];
		/* The order rarely changes: the same place first, a search only when it did. */
		struct bgp_vip *old = i < b->n_vips ? find_vip(&b->vips[i], 1, c) : NULL;

		if (!old)
			old = find_vip(b->vips, b->n_vips, c);

		if (old) {
			next[i] = *old;
		} else {
			changed = true;
			next[i].addr = c->addr;
			next[i].port = c->port;
			next[i].proto = c->proto;
			next[i].since_ms = lbd_wall_ms();
		}
		next[i].announce = c->announce;
		changed |= decide(b, &next[i], &v[i], now);
	}
	free(b->vips);
	b->vips = next;
	b->n_vips = cfg->n_vips;
	/* A VIP deleted leaves the set with its entry: nothing else to do for it. */
	if (changed && (text = render(b)))
		write_text(b, text);
	if (b->stopping)
		b->stop_rendered = true;
	bgp_tick(b);
}

/* ---- BIRD's control socket ---- */

static void conv_fail(struct bgp *b, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
static void conv_fail(struct bgp *b, const char *fmt, ...)
{
	char why[200];
	va_list ap;

	va_start(ap, fmt);
	vsnprintf(why, sizeof(why), fmt, ap);
	va_end(ap);
	conv_end(b);
	note_failure(b, "BIRD at %s: %s", b->cfg.bird_socket, why);
}

static void conv_done(struct bgp *b, const char *reply)
{
	conv_end(b);
	b->configures++;
	b->last_ok_ms = lbd_wall_ms();
	b->backoff_ms = 0;
	if (b->last_error[0])
		lbd_info("bgp: BIRD at %s took the announcements again (%s)", b->cfg.bird_socket, reply);
	b->last_error[0] = 0;
	snprintf(b->last_reply, sizeof(b->last_reply), "%.120s", reply);
	if (b->retiring && !b->need_configure)
		retire(b);
}

static void conv_start(struct bgp *b)
{
	struct sockaddr_un sa = { .sun_family = AF_UNIX };
	struct epoll_event ev = { .events = EPOLLIN | EPOLLOUT };
	struct bgp_bird *c = calloc(1, sizeof(*c));

	if (!c)
		return;
	c->source = (struct lbd_source){ bird_event, b, "BIRD's replies" };
	c->phase = BIRD_CONNECTING;
	c->deadline_ms = lbd_mono_ms() + BIRD_TIMEOUT_MS;
	b->conv = c;
	b->need_configure = false;
	strcpy(sa.sun_path, b->cfg.bird_socket);
	c->fd = socket(AF_UNIX, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
	if (c->fd < 0) {
		conv_fail(b, "socket: %s", strerror(errno));
		return;
	}
	if (connect(c->fd, (struct sockaddr *)&sa, sizeof(sa)) && errno != EINPROGRESS && errno != EAGAIN) {
		int e = errno;

		conv_fail(b, "cannot connect: %s (%s)", strerror(e),
			  e == ENOENT || e == ECONNREFUSED ? "is BIRD running, and is bird-socket its -s path?"
							   : "check the path and its permissions");
		return;
	}
	ev.data.ptr = c;
	if (epoll_ctl(b->epfd, EPOLL_CTL_ADD, c->fd, &ev))
		conv_fail(b, "epoll: %s", strerror(errno));
}

/*
 * The reply's last line, if it has come: its code, and its text in line.
 * Whole lines are consumed; a partial one stays at the buffer's start.
 */
static int reply_end(struct bgp_bird *c, char *line, size_t len, char *first_error, size_t elen)
{
	char *p = c->buf, *nl, *end = c->buf + c->len;
	int code = -1;

	while (code < 0 && (nl = memchr(p, '\n', end - p))) {
		*nl = 0;
		if (strlen(p) >= 5 && p[0] >= '0' && p[0] <= '9') {
			int n = atoi(p);

			if (n >= 8000 && !first_error[0])
				snprintf(first_error, elen, "%.150s", p + 5);
			if (p[4] == ' ') {
				snprintf(line, len, "%.150s", p + 5);
				code = n;
			}
		}
		p = nl + 1;
	}
	c->len = (size_t)(end - p);
	memmove(c->buf, p, c->len);
	return code;
}

static void conv_read(struct bgp *b, struct bgp_bird *c)
{
	char line[200];
	ssize_t n = read(c->fd, c->buf + c->len, sizeof(c->buf) - 1 - c->len);
	int code;

	if (n < 0 && (errno == EAGAIN || errno == EINTR))
		return;
	if (n <= 0) {
		conv_fail(b, n ? "read: %s" : "closed the connection before it answered", strerror(errno));
		return;
	}
	c->len += (size_t)n;
	code = reply_end(c, line, sizeof(line), c->first_error, sizeof(c->first_error));
	if (code < 0) {
		/* A line this long is no answer to "configure": drop it. */
		if (c->len == sizeof(c->buf) - 1)
			c->len = 0;
		return;
	}
	if (c->phase == BIRD_GREETING) {
		static const char cmd[] = "configure\n";

		if (code != 1) {
			conv_fail(b, "unexpected greeting %04d %s", code, line);
			return;
		}
		if (write(c->fd, cmd, sizeof(cmd) - 1) != (ssize_t)sizeof(cmd) - 1) {
			conv_fail(b, "cannot send configure: %s", strerror(errno));
			return;
		}
		c->phase = BIRD_REPLY;
		c->first_error[0] = 0;
		return;
	}
	/* 0006: "Reconfiguration ignored, shutting down" is no success. */
	if (code >= 8000 || code == 6) {
		conv_fail(b, "configure refused: %s", c->first_error[0] ? c->first_error : line);
		return;
	}
	conv_done(b, line);
}

void bgp_event(struct bgp *b, struct bgp_bird *c, uint32_t events)
{
	if (c != b->conv)
		return;
	if (c->phase == BIRD_CONNECTING) {
		int e = 0;
		socklen_t l = sizeof(e);
		struct epoll_event ev = { .events = EPOLLIN, .data.ptr = c };

		if (getsockopt(c->fd, SOL_SOCKET, SO_ERROR, &e, &l) == 0 && e) {
			conv_fail(b, "cannot connect: %s", strerror(e));
			return;
		}
		c->phase = BIRD_GREETING;
		epoll_ctl(b->epfd, EPOLL_CTL_MOD, c->fd, &ev);
		if (!(events & EPOLLIN))
			return;
	}
	if (events & (EPOLLIN | EPOLLHUP | EPOLLERR))
		conv_read(b, c);
}

void bgp_tick(struct bgp *b)
{
	uint64_t now = lbd_mono_ms();

	if (b->conv && now >= b->conv->deadline_ms)
		conv_fail(b, "no answer within %d s", BIRD_TIMEOUT_MS / 1000);
	if (!active(b) || b->conv || !b->need_configure || now < b->next_try_ms)
		return;
	if (!b->text) {
		char *text = render(b);

		if (text)
			write_text(b, text);
		if (!b->text)
			return;
	}
	conv_start(b);
}

void bgp_stop(struct bgp *b)
{
	if (!active(b))
		return;
	b->stopping = true;
	for (size_t i = 0; i < b->n_vips; i++)
		if (b->vips[i].announced)
			b->had_routes = true;
	b->backoff_ms = 0;
	b->next_try_ms = 0;
}

bool bgp_stop_done(const struct bgp *b)
{
	return !active(b) || b->stop_failed || (b->stop_rendered && !b->need_configure && !b->conv);
}

bool bgp_had_routes(const struct bgp *b)
{
	/* BIRD could not be told: waiting would move no flow. */
	return b->had_routes && !b->stop_failed;
}

/* ---- bgp show ---- */

static void format_ago(uint64_t wall_ms, char *buf, size_t len)
{
	char age[16];

	out_age(wall_ms, age, sizeof(age));
	snprintf(buf, len, "%s", wall_ms ? strcat(age, " ago") : "never");
}

static const char *bird_state(const struct bgp *b)
{
	if (!active(b))
		return "off";
	if (b->last_error[0])
		return "failing";
	return b->need_configure || b->conv ? "pending" : "ok";
}

void bgp_show(const struct bgp *b, const struct lbd_config *cfg, struct out *o)
{
	char ok[32], bad[32], p[INET6_ADDRSTRLEN + 8], vs[80], since[32];

	out_obj_begin(o, NULL);
	if (!active(b)) {
		out_text(o, "no bgp: lbctl bgp set --bird-socket PATH --include FILE\n");
		out_str(o, "bird_socket", NULL);
		out_str(o, "include", NULL);
	} else {
		out_str(o, "bird_socket", b->cfg.bird_socket);
		out_str(o, "include", b->cfg.include);
	}
	out_u64(o, "hold_down_ms", b->cfg.hold_down_ms);
	out_u64(o, "withdraw_delay_ms", b->cfg.withdraw_delay_ms);
	out_obj_begin(o, "bird");
	out_str(o, "state", bird_state(b));
	out_str(o, "last_error", b->last_error);
	out_str(o, "last_reply", b->last_reply);
	out_u64(o, "configures", b->configures);
	out_u64(o, "failures", b->failures);
	out_u64(o, "last_ok", b->last_ok_ms / 1000);
	out_u64(o, "last_failure", b->last_fail_ms / 1000);
	out_obj_end(o);
	format_ago(b->last_ok_ms, ok, sizeof(ok));
	format_ago(b->last_fail_ms, bad, sizeof(bad));
	if (active(b)) {
		out_text(o, "BIRD %s: %s; last configure %s, last failure %s (%llu configures, %llu failures)\n",
			 b->cfg.bird_socket, bird_state(b), ok, bad, (unsigned long long)b->configures,
			 (unsigned long long)b->failures);
		if (b->last_error[0])
			out_text(o, "  error: %s\n", b->last_error);
		out_text(o, "include %s, hold-down %u ms, withdraw-delay %u ms\n", b->cfg.include,
			 b->cfg.hold_down_ms, b->cfg.withdraw_delay_ms);
		out_text(o, "%-30s %-22s %-8s %-10s %-8s %s\n", "VIP", "PREFIX", "ANNOUNCE", "STATE", "SINCE", "WHY");
	}
	out_arr_begin(o, "vips");
	for (size_t i = 0; i < cfg->n_vips && active(b); i++) {
		const struct bgp_vip *s = find_vip(b->vips, b->n_vips, &cfg->vips[i]);

		if (!s)
			continue;
		lbd_vip_format(&cfg->vips[i], vs, sizeof(vs));
		prefix_format(&s->addr, p, sizeof(p));
		format_ago(s->since_ms, since, sizeof(since));
		out_obj_begin(o, NULL);
		out_str(o, "vip", vs);
		out_str(o, "prefix", p);
		out_str(o, "announce", lbd_announce_name(s->announce));
		out_bool(o, "announced", s->announced);
		out_str(o, "why", s->why);
		out_u64(o, "since_ms", s->since_ms);
		out_obj_end(o);
		out_text(o, "%-30s %-22s %-8s %-10s %-8s %s\n", vs, p, lbd_announce_name(s->announce),
			 s->announced ? "announced" : "withdrawn", since, s->why);
	}
	out_arr_end(o);
	out_obj_end(o);
}
