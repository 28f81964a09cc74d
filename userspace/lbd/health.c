// SPDX-License-Identifier: GPL-2.0
#define _GNU_SOURCE
#include "health.h"

#include <arpa/inet.h>
#include <errno.h>
#include <fcntl.h>
#include <netinet/in.h>
#include <signal.h>
#include <spawn.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/epoll.h>
#include <sys/socket.h>
#include <sys/syscall.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include "clock.h"
#include "log.h"
#include "source.h"

/* lbd's loop hands a probe socket's events here (see source.h). */
static void probe_event(void *ctx, struct lbd_source *src, uint32_t events)
{
	hc_event(ctx, (struct hc_target *)src, events);
}

extern char **environ;

/* Probes of many backends must not fire in step: +-10% of the interval. */
static uint64_t jittered(uint32_t interval_ms)
{
	uint32_t spread = interval_ms / 5;

	return interval_ms - interval_ms / 10 + (spread ? (uint64_t)random() % spread : 0);
}

void hc_init(struct hc *hc, int epfd)
{
	memset(hc, 0, sizeof(*hc));
	hc->epfd = epfd;
	srandom((unsigned int)(lbd_mono_ms() ^ (uint64_t)getpid()));
}

static void probe_end(struct hc *hc, struct hc_target *t)
{
	if (t->fd >= 0) {
		epoll_ctl(hc->epfd, EPOLL_CTL_DEL, t->fd, NULL);
		close(t->fd);
		t->fd = -1;
	}
	if (t->pid > 0) {
		/* The command may have started children: end its whole process group. */
		kill(-t->pid, SIGKILL);
		waitpid(t->pid, NULL, 0);
		t->pid = 0;
	}
	t->phase = HC_IDLE;
	t->got = 0;
}

static void agent_end(struct hc *hc, struct hc_agent *a)
{
	if (a->fd >= 0) {
		epoll_ctl(hc->epfd, EPOLL_CTL_DEL, a->fd, NULL);
		close(a->fd);
		a->fd = -1;
	}
	a->got = 0;
}

void hc_free(struct hc *hc)
{
	for (size_t i = 0; i < hc->n; i++) {
		agent_end(hc, &hc->t[i]->agent);
		probe_end(hc, hc->t[i]);
		free(hc->t[i]);
	}
	free(hc->t);
	free(hc->index);
	memset(hc, 0, sizeof(*hc));
}

static bool same_vip(const struct lbd_vip_cfg *a, const struct lbd_vip_cfg *b)
{
	return lbd_addr_eq(&a->addr, &b->addr) && a->port == b->port && a->proto == b->proto;
}

static uint32_t fnv(uint32_t h, const void *p, size_t len)
{
	const uint8_t *b = p;

	for (size_t i = 0; i < len; i++)
		h = (h ^ b[i]) * 16777619u;
	return h;
}

static uint32_t pair_hash(const struct lbd_vip_cfg *vip, const struct lbd_addr *addr)
{
	uint32_t h = 2166136261u;

	h = fnv(h, &vip->addr, sizeof(vip->addr));
	h = fnv(h, &vip->port, sizeof(vip->port));
	h = fnv(h, &vip->proto, sizeof(vip->proto));
	return fnv(h, addr, sizeof(*addr));
}

static void index_add(struct hc *hc, size_t i)
{
	size_t k = pair_hash(&hc->t[i]->vip, &hc->t[i]->addr) & (hc->index_size - 1);

	while (hc->index[k])
		k = (k + 1) & (hc->index_size - 1);
	hc->index[k] = (uint32_t)i + 1;
}

/*
 * Table rebuilds and shows look every backend up, and so does a sync for
 * every backend of the config: with 5000 of them a scan each costs tens of
 * millions of compares. Room for capacity targets, half full at most.
 */
static int index_build(struct hc *hc, size_t capacity)
{
	size_t size = 16;

	while (size < 2 * capacity)
		size *= 2;
	free(hc->index);
	hc->index = calloc(size, sizeof(*hc->index));
	hc->index_size = hc->index ? size : 0;
	if (!hc->index)
		return -ENOMEM;
	for (size_t i = 0; i < hc->n; i++)
		index_add(hc, i);
	return 0;
}

struct hc_target *hc_find(const struct hc *hc, const struct lbd_vip_cfg *vip, const struct lbd_addr *addr)
{
	if (!hc->index_size) {
		for (size_t i = 0; i < hc->n; i++)
			if (same_vip(&hc->t[i]->vip, vip) && lbd_addr_eq(&hc->t[i]->addr, addr))
				return hc->t[i];
		return NULL;
	}
	for (size_t k = pair_hash(vip, addr) & (hc->index_size - 1); hc->index[k];
	     k = (k + 1) & (hc->index_size - 1)) {
		struct hc_target *t = hc->t[hc->index[k] - 1];

		if (same_vip(&t->vip, vip) && lbd_addr_eq(&t->addr, addr))
			return t;
	}
	return NULL;
}

static void target_name(const struct hc_target *t, char *buf, size_t len)
{
	char a[INET6_ADDRSTRLEN], v[80];

	lbd_addr_format(&t->addr, a, sizeof(a));
	lbd_vip_format(&t->vip, v, sizeof(v));
	snprintf(buf, len, "backend %s of VIP %s", a, v);
}

static void agent_event(void *ctx, struct lbd_source *src, uint32_t events);

bool hc_agent_on(const struct hc_target *t)
{
	return t->vip.weights == LBD_WEIGHTS_AGENT && t->vip.agent_port;
}

static uint32_t agent_interval(const struct hc_target *t)
{
	return t->vip.agent_interval_ms ? t->vip.agent_interval_ms : LBD_AGENT_DEFAULT_INTERVAL_MS;
}

/* A first agent, or other agent settings: full weight until it answers. */
static void agent_reset(struct hc *hc, struct hc_target *t, const struct lbd_vip_cfg *v, uint64_t now)
{
	struct hc_agent *a = &t->agent;
	bool was_holding = a->view.state != AGENT_NONE || a->view.percent != 100;

	if (a->source.handle)
		agent_end(hc, a);
	*a = (struct hc_agent){ .source = { agent_event, hc, "agent answers" }, .fd = -1 };
	agent_view_init(&a->view);
	t->vip.weights = v->weights;
	t->vip.agent_port = v->agent_port;
	t->vip.agent_interval_ms = v->agent_interval_ms;
	if (hc_agent_on(t)) {
		a->next_due = now + (uint64_t)random() % (agent_interval(t) / 4 + 1);
		strcpy(a->last, "not asked yet");
	}
	hc->dirty |= was_holding;
}

static bool agent_settings_changed(const struct hc_target *t, const struct lbd_vip_cfg *v)
{
	return t->vip.weights != v->weights || t->vip.agent_port != v->agent_port ||
	       t->vip.agent_interval_ms != v->agent_interval_ms;
}

int hc_sync(struct hc *hc, const struct lbd_config *cfg)
{
	uint64_t now = lbd_mono_ms();
	size_t wanted = 0;

	/* New targets join the index as they are made; the ones that go leave it at the end. */
	for (size_t i = 0; i < cfg->n_vips; i++)
		wanted += cfg->vips[i].n_backends;
	if (index_build(hc, hc->n + wanted)) {
		hc->index = NULL;	/* looked up by scan, then */
		hc->index_size = 0;
	}
	for (size_t i = 0; i < hc->n; i++)
		hc->t[i]->seen = false;
	for (size_t i = 0; i < cfg->n_vips; i++) {
		const struct lbd_vip_cfg *v = &cfg->vips[i];

		for (size_t j = 0; j < v->n_backends; j++) {
			const struct lbd_backend_cfg *b = &v->backends[j];
			struct hc_target *t = hc_find(hc, v, &b->addr);
			struct lbd_check c;

			check_merge(&v->check, &b->check, v->proto, v->port, &c);
			if (!t) {
				struct hc_target **grown = realloc(hc->t, (hc->n + 1) * sizeof(*grown));

				t = calloc(1, sizeof(*t));
				if (t)
					t->source = (struct lbd_source){ probe_event, hc, "probe replies and verdicts" };
				if (!grown || !t) {
					free(t);
					if (grown)
						hc->t = grown;
					return -ENOMEM;
				}
				hc->t = grown;
				hc->t[hc->n++] = t;
				t->vip = *v;
				t->vip.backends = NULL;
				t->vip.n_backends = 0;
				t->addr = b->addr;
				if (hc->index_size)
					index_add(hc, hc->n - 1);
				t->fd = -1;
				/* Like keepalived and HAProxy: a new backend is in until checks say otherwise. */
				t->up = true;
				t->since_ms = lbd_wall_ms();
				strcpy(t->last, c.type == CHECK_NONE ? "no check" : "not checked yet");
				t->next_due = now + (uint64_t)random() % (c.interval_ms / 4 + 1);
				agent_reset(hc, t, v, now);
			} else if (memcmp(&t->check, &c, sizeof(c))) {
				/* New settings: start over with them, keeping the verdict. */
				probe_end(hc, t);
				t->ok_run = t->fail_run = 0;
				t->next_due = now + (uint64_t)random() % (c.interval_ms / 4 + 1);
				if (c.type == CHECK_NONE)
					strcpy(t->last, "no check");
			}
			if (agent_settings_changed(t, v))
				agent_reset(hc, t, v, now);
			t->check = c;
			t->seen = true;
			if (c.type == CHECK_NONE && !t->up) {
				t->up = true;
				t->since_ms = lbd_wall_ms();
				t->changes++;
				hc->dirty = true;
			}
		}
	}
	for (size_t i = 0; i < hc->n;) {
		if (hc->t[i]->seen) {
			i++;
			continue;
		}
		agent_end(hc, &hc->t[i]->agent);
		probe_end(hc, hc->t[i]);
		free(hc->t[i]);
		hc->t[i] = hc->t[--hc->n];
	}
	return index_build(hc, hc->n);
}

/* ---- results ---- */

const uint32_t hc_latency_bounds_us[HC_LATENCY_BUCKETS] = {
	500, 1000, 2500, 5000, 10000, 25000, 50000, 100000, 250000, 500000, 1000000,
};

static void latency_note(struct hc_target *t)
{
	int b = 0;

	while (b < HC_LATENCY_BUCKETS && t->latency_us > hc_latency_bounds_us[b])
		b++;
	t->latency_count[b]++;
	t->latency_sum_us += t->latency_us;
}

static void verdict(struct hc *hc, struct hc_target *t, bool ok, const char *why)
{
	uint64_t now = lbd_mono_ms();
	char name[200];

	t->latency_us = (uint32_t)(lbd_mono_us() - t->started_us);
	latency_note(t);
	snprintf(t->last, sizeof(t->last), "%s", why);
	probe_end(hc, t);
	t->next_due = t->started + jittered(t->check.interval_ms);
	if (t->next_due <= now)
		t->next_due = now + 1;
	if (!t->checked) {
		t->checked = true;
		if (t->changes == 0)
			t->since_ms = lbd_wall_ms();
	}
	if (ok) {
		t->fail_run = 0;
		if (t->ok_run < 255)
			t->ok_run++;
		if (t->up || t->ok_run < t->check.rise || now < t->passive_until_ms)
			return;
		t->up = true;
		t->ramp_start = t->check.slow_start_ms ? now : 0;
		t->passive[0] = 0;
	} else {
		t->ok_run = 0;
		if (t->fail_run < 255)
			t->fail_run++;
		if (!t->up || t->fail_run < t->check.fall)
			return;
		t->up = false;
		t->ramp_start = 0;
	}
	t->changes++;
	t->since_ms = lbd_wall_ms();
	hc->dirty = true;
	target_name(t, name, sizeof(name));
	if (ok)
		lbd_info("%s is up: %u checks in a row passed%s", name, t->check.rise,
			 t->ramp_start ? ", slow start begins" : "");
	else
		lbd_warn("%s is down: %u checks in a row failed, the last: %s", name, t->check.fall, why);
}

static void fail_errno(struct hc *hc, struct hc_target *t, int err)
{
	switch (err) {
	case ECONNREFUSED: verdict(hc, t, false, "refused"); break;
	case EHOSTUNREACH: verdict(hc, t, false, "host unreachable"); break;
	case ENETUNREACH: verdict(hc, t, false, "network unreachable"); break;
	case ECONNRESET: verdict(hc, t, false, "reset"); break;
	default: verdict(hc, t, false, strerror(err)); break;
	}
}

/* ---- starting probes ---- */

static int watch(struct hc *hc, struct hc_target *t, uint32_t events)
{
	struct epoll_event ev = { .events = events, .data.ptr = t };

	return epoll_ctl(hc->epfd, t->phase == HC_IDLE ? EPOLL_CTL_ADD : EPOLL_CTL_MOD, t->fd, &ev) ? -errno : 0;
}

static socklen_t sockaddr_of(const struct hc_target *t, uint16_t port, struct sockaddr_storage *ss)
{
	memset(ss, 0, sizeof(*ss));
	if (t->addr.family == XLB_AF_INET) {
		struct sockaddr_in *sin = (struct sockaddr_in *)ss;

		sin->sin_family = AF_INET;
		sin->sin_port = htons(port);
		memcpy(&sin->sin_addr, t->addr.a, 4);
		return sizeof(*sin);
	}
	struct sockaddr_in6 *sin6 = (struct sockaddr_in6 *)ss;

	sin6->sin6_family = AF_INET6;
	sin6->sin6_port = htons(port);
	memcpy(&sin6->sin6_addr, t->addr.a, 16);
	return sizeof(*sin6);
}

static void start_socket(struct hc *hc, struct hc_target *t, int type)
{
	struct sockaddr_storage ss;
	socklen_t sl = sockaddr_of(t, t->vip.port, &ss);
	int ret;

	t->fd = socket(ss.ss_family, type | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
	if (t->fd < 0) {
		fail_errno(hc, t, errno);
		return;
	}
	if (connect(t->fd, (struct sockaddr *)&ss, sl) && errno != EINPROGRESS) {
		fail_errno(hc, t, errno);
		return;
	}
	if (type == SOCK_DGRAM) {
		if (send(t->fd, t->check.arg, strlen(t->check.arg), 0) < 0) {
			fail_errno(hc, t, errno);
			return;
		}
		ret = watch(hc, t, EPOLLIN);
		t->phase = HC_READING;
	} else {
		ret = watch(hc, t, EPOLLOUT);
		t->phase = HC_CONNECTING;
	}
	if (ret)
		fail_errno(hc, t, -ret);
}

static void start_exec(struct hc *hc, struct hc_target *t)
{
	char addr[INET6_ADDRSTRLEN], port[8], vip[80], env_addr[80], env_port[24], env_vip[100];
	char *argv[] = { "sh", "-c", t->check.arg, "xlb-check", addr, port, NULL };
	char **envp;
	size_t n = 0;
	posix_spawnattr_t attr;
	posix_spawn_file_actions_t fa;
	int ret;

	lbd_addr_format(&t->addr, addr, sizeof(addr));
	snprintf(port, sizeof(port), "%u", t->vip.port);
	lbd_vip_format(&t->vip, vip, sizeof(vip));
	snprintf(env_addr, sizeof(env_addr), "XLB_BACKEND=%s", addr);
	snprintf(env_port, sizeof(env_port), "XLB_PORT=%s", port);
	snprintf(env_vip, sizeof(env_vip), "XLB_VIP=%s", vip);
	while (environ[n])
		n++;
	envp = calloc(n + 4, sizeof(*envp));
	if (!envp) {
		verdict(hc, t, false, "out of memory");
		return;
	}
	memcpy(envp, environ, n * sizeof(*envp));
	envp[n] = env_addr;
	envp[n + 1] = env_port;
	envp[n + 2] = env_vip;
	posix_spawnattr_init(&attr);
	/* Its own process group, so a timeout can end everything it started. */
	posix_spawnattr_setpgroup(&attr, 0);
	/* lbd blocks its signals for signalfd and ignores SIGPIPE: the command must not inherit that. */
	sigset_t none, defaults;

	sigemptyset(&none);
	sigemptyset(&defaults);
	sigaddset(&defaults, SIGPIPE);
	posix_spawnattr_setsigmask(&attr, &none);
	posix_spawnattr_setsigdefault(&attr, &defaults);
	posix_spawnattr_setflags(&attr, POSIX_SPAWN_SETPGROUP | POSIX_SPAWN_SETSIGMASK | POSIX_SPAWN_SETSIGDEF);
	posix_spawn_file_actions_init(&fa);
	posix_spawn_file_actions_addopen(&fa, 0, "/dev/null", O_RDONLY, 0);
	posix_spawn_file_actions_addopen(&fa, 1, "/dev/null", O_WRONLY, 0);
	ret = posix_spawn(&t->pid, "/bin/sh", &fa, &attr, argv, envp);
	posix_spawn_file_actions_destroy(&fa);
	posix_spawnattr_destroy(&attr);
	free(envp);
	if (ret) {
		t->pid = 0;
		verdict(hc, t, false, "cannot run /bin/sh");
		return;
	}
	t->fd = (int)syscall(SYS_pidfd_open, t->pid, 0);
	if (t->fd < 0 || watch(hc, t, EPOLLIN)) {
		verdict(hc, t, false, "cannot watch the check command");
		return;
	}
	t->phase = HC_WAITING_CHILD;
}

static void probe_start(struct hc *hc, struct hc_target *t, uint64_t now)
{
	t->started = now;
	t->started_us = lbd_mono_us();
	t->deadline = now + t->check.timeout_ms;
	t->got = 0;
	switch (t->check.type) {
	case CHECK_TCP:
	case CHECK_HTTP:
		start_socket(hc, t, SOCK_STREAM);
		break;
	case CHECK_UDP:
		start_socket(hc, t, SOCK_DGRAM);
		break;
	case CHECK_EXEC:
		start_exec(hc, t);
		break;
	}
}

/* ---- agents ---- */

static void agent_apply(struct hc *hc, struct hc_target *t, uint64_t now)
{
	struct agent_view *v = &t->agent.view;
	uint8_t state = v->state, percent = v->percent;
	char name[200];

	if (!agent_take(v, now, agent_interval(t)))
		return;
	target_name(t, name, sizeof(name));
	lbd_info("%s: its agent says %s %u%% (was %s %u%%)", name, agent_state_name(v->state), v->percent,
		 agent_state_name(state), percent);
	hc->dirty = true;
}

/* line: what the agent sent (NULL: nothing came), why: what went wrong when it is no answer. */
static void agent_result(struct hc *hc, struct hc_target *t, const char *line, const char *why)
{
	struct hc_agent *a = &t->agent;
	struct agent_reply r;
	uint64_t now = lbd_mono_ms();
	char shown[48];

	agent_end(hc, a);
	a->next_due = a->started + jittered(agent_interval(t));
	if (a->next_due <= now)
		a->next_due = now + 1;
	if (line && !agent_parse(line, &r)) {
		snprintf(shown, sizeof(shown), "%.*s", (int)strcspn(line, "\r\n"), line);
		check_printable(shown, a->last, sizeof(a->last));
		a->stale = false;
		agent_want(&a->view, &r);
	} else {
		if (line) {
			check_printable(line, shown, sizeof(shown));
			snprintf(a->last, sizeof(a->last), "not an answer: '%.30s'", shown);
		} else {
			snprintf(a->last, sizeof(a->last), "%s", why);
		}
		a->stale = true;
	}
	agent_apply(hc, t, now);
}

static void agent_failed(struct hc *hc, struct hc_target *t, int err)
{
	agent_result(hc, t, NULL, err == ECONNREFUSED ? "refused" : err == ECONNRESET ? "reset" : strerror(err));
}

/* Connects and waits for the line: EPOLLIN comes with it, or with the connection's error. */
static void agent_start(struct hc *hc, struct hc_target *t, uint64_t now)
{
	struct hc_agent *a = &t->agent;
	struct sockaddr_storage ss;
	socklen_t sl = sockaddr_of(t, t->vip.agent_port, &ss);
	struct epoll_event ev = { .events = EPOLLIN, .data.ptr = a };

	a->started = now;
	a->deadline = now + agent_interval(t) / 2;
	a->got = 0;
	a->fd = socket(ss.ss_family, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
	if (a->fd < 0) {
		agent_failed(hc, t, errno);
		return;
	}
	if ((connect(a->fd, (struct sockaddr *)&ss, sl) && errno != EINPROGRESS) ||
	    epoll_ctl(hc->epfd, EPOLL_CTL_ADD, a->fd, &ev)) {
		int err = errno;

		close(a->fd);
		a->fd = -1;
		agent_failed(hc, t, err);
	}
}

/* The line ends at its newline, at the connection's close, or when the buffer is full. */
static void agent_event(void *ctx, struct lbd_source *src, uint32_t events)
{
	struct hc_target *t = (struct hc_target *)((char *)src - offsetof(struct hc_target, agent));
	struct hc_agent *a = &t->agent;
	ssize_t n = recv(a->fd, a->buf + a->got, sizeof(a->buf) - 1 - a->got, 0);

	(void)events;
	if (n < 0) {
		if (errno != EAGAIN)
			agent_failed(ctx, t, errno);
		return;
	}
	a->got += (size_t)n;
	a->buf[a->got] = 0;
	if (n && !strchr(a->buf, '\n') && a->got < sizeof(a->buf) - 1)
		return;
	agent_result(ctx, t, a->got ? a->buf : NULL, "closed without an answer");
}

bool hc_agent_holds(const struct hc *hc, const struct lbd_vip_cfg *vip, const struct lbd_backend_cfg *be)
{
	const struct hc_target *t = hc ? hc_find(hc, vip, &be->addr) : NULL;

	return t && hc_agent_on(t) && (t->agent.view.state == AGENT_DRAIN || t->agent.view.state == AGENT_DOWN);
}

/*
 * Probe starts a tick may spend: with thousands of targets due at once (a
 * start, or every backend back together) the rest start at the next
 * tick, from where this one stopped, instead of holding lbd's loop.
 */
#define HC_TICK_BUDGET_US	2000

void hc_tick(struct hc *hc)
{
	uint64_t now = lbd_mono_ms(), until = lbd_mono_us() + HC_TICK_BUDGET_US;

	for (size_t i = 0; i < hc->n; i++) {
		struct hc_target *t = hc->t[i];

		if (t->check.type != CHECK_NONE && t->phase != HC_IDLE && now >= t->deadline)
			verdict(hc, t, false, "timeout");
		if (t->agent.fd >= 0 && now >= t->agent.deadline)
			agent_result(hc, t, NULL, "no answer in time");
	}
	for (size_t k = 0; k < hc->n; k++) {
		size_t i = (hc->cursor + k) % hc->n;
		struct hc_target *t = hc->t[i];
		bool probe_due = t->check.type != CHECK_NONE && t->phase == HC_IDLE && now >= t->next_due;
		bool agent_due = hc_agent_on(t) && t->agent.fd < 0 && now >= t->agent.next_due;

		if (!probe_due && !agent_due)
			continue;
		if (lbd_mono_us() >= until) {
			hc->cursor = i;
			return;
		}
		if (probe_due)
			probe_start(hc, t, now);
		if (agent_due)
			agent_start(hc, t, now);
	}
}

/* ---- progress ---- */

static void http_send(struct hc *hc, struct hc_target *t)
{
	char req[CHECK_ARG_LEN + CHECK_HOST_LEN + 128], a[CHECK_HOST_LEN + INET6_ADDRSTRLEN];
	int n;

	if (t->check.host[0]) {
		snprintf(a, sizeof(a), "%s", t->check.host);
	} else {
		char plain[INET6_ADDRSTRLEN];

		lbd_addr_format(&t->addr, plain, sizeof(plain));
		snprintf(a, sizeof(a), t->addr.family == XLB_AF_INET6 ? "[%s]" : "%s", plain);
	}
	n = snprintf(req, sizeof(req), "GET %s HTTP/1.0\r\nHost: %s\r\nUser-Agent: xlb-lbd\r\n"
		     "Connection: close\r\n\r\n", t->check.arg, a);
	/* A fresh connection's buffer takes a few hundred bytes in one go. */
	if (send(t->fd, req, (size_t)n, MSG_NOSIGNAL) != n) {
		fail_errno(hc, t, errno ? errno : EIO);
		return;
	}
	if (watch(hc, t, EPOLLIN))
		fail_errno(hc, t, errno);
	else
		t->phase = HC_READING;
}

static void http_read(struct hc *hc, struct hc_target *t)
{
	ssize_t n = recv(t->fd, t->buf + t->got, sizeof(t->buf) - 1 - t->got, 0);
	char *eol;
	int major, minor, status;

	if (n < 0) {
		if (errno != EAGAIN)
			fail_errno(hc, t, errno);
		return;
	}
	t->got += (size_t)n;
	t->buf[t->got] = 0;
	eol = strstr(t->buf, "\r\n");
	if (!eol && n > 0 && t->got < sizeof(t->buf) - 1)
		return;
	if (sscanf(t->buf, "HTTP/%d.%d %3d", &major, &minor, &status) != 3) {
		verdict(hc, t, false, n ? "not an HTTP reply" : "closed before a status line");
		return;
	}
	char why[32];

	snprintf(why, sizeof(why), "status %d", status);
	verdict(hc, t, status >= t->check.expect_lo && status <= t->check.expect_hi, why);
}

void hc_event(struct hc *hc, struct hc_target *t, uint32_t events)
{
	int err = 0;
	socklen_t len = sizeof(err);

	switch (t->phase) {
	case HC_CONNECTING:
		if (getsockopt(t->fd, SOL_SOCKET, SO_ERROR, &err, &len) || err) {
			fail_errno(hc, t, err ? err : errno);
		} else if (t->check.type == CHECK_TCP) {
			verdict(hc, t, true, "ok");
		} else {
			http_send(hc, t);
		}
		break;
	case HC_READING:
		if (t->check.type == CHECK_HTTP) {
			http_read(hc, t);
		} else {
			char buf[512];

			if (recv(t->fd, buf, sizeof(buf), 0) >= 0)
				verdict(hc, t, true, "ok");
			else if (errno != EAGAIN)
				fail_errno(hc, t, errno);
		}
		break;
	case HC_WAITING_CHILD: {
		int status;
		pid_t pid = waitpid(t->pid, &status, WNOHANG);
		char why[32];

		if (pid != t->pid)
			break;
		t->pid = 0;
		if (WIFEXITED(status))
			snprintf(why, sizeof(why), WEXITSTATUS(status) ? "exit %d" : "ok", WEXITSTATUS(status));
		else
			snprintf(why, sizeof(why), "signal %d", WTERMSIG(status));
		verdict(hc, t, WIFEXITED(status) && !WEXITSTATUS(status), why);
		break;
	}
	case HC_IDLE:
		break;
	}
	(void)events;
}

bool hc_ramping(const struct hc *hc)
{
	uint64_t now = lbd_mono_ms();

	for (size_t i = 0; i < hc->n; i++)
		if (hc->t[i]->ramp_start && hc->t[i]->up &&
		    now < hc->t[i]->ramp_start + hc->t[i]->check.slow_start_ms)
			return true;
	return false;
}

uint32_t hc_weight(const struct hc *hc, const struct lbd_vip_cfg *vip, const struct lbd_backend_cfg *be,
		   bool *healthy)
{
	const struct hc_target *t = hc ? hc_find(hc, vip, &be->addr) : NULL;
	uint64_t full = (uint64_t)be->weight * HC_WEIGHT_SCALE, now, elapsed;

	*healthy = be->admin == LBD_ADMIN_UP || (be->admin == LBD_ADMIN_AUTO && (!t || t->up));
	if (t && hc_agent_on(t)) {
		/* The agent's down is the operator's: the backend is out, even failing open. */
		*healthy &= t->agent.view.state != AGENT_DOWN;
		if (t->agent.view.state == AGENT_DRAIN || t->agent.view.state == AGENT_DOWN)
			return 0;
		full = full * t->agent.view.percent / 100;
		if (!full)
			return 0;
	}
	if (!*healthy)
		return 0;
	if (t && (vip->weights == LBD_WEIGHTS_LATENCY || vip->weights == LBD_WEIGHTS_BANDWIDTH))
		full = full * fb_pct(&t->feedback) / 100;
	if (be->admin == LBD_ADMIN_UP || !t || !t->ramp_start)
		return (uint32_t)full;
	now = lbd_mono_ms();
	elapsed = now - t->ramp_start;
	if (elapsed >= t->check.slow_start_ms)
		return (uint32_t)full;
	/* From HC_SLOW_START_FLOOR per cent up to all of it, in a straight line. */
	uint64_t pct = HC_SLOW_START_FLOOR + (100 - HC_SLOW_START_FLOOR) * elapsed / t->check.slow_start_ms;
	uint64_t w = full * pct / 100;

	return w ? (uint32_t)w : 1;
}

void hc_passive(struct hc *hc, struct hc_target *t, uint32_t n, uint32_t window_ms, uint64_t retries,
		uint64_t now_ms)
{
	uint64_t seen;
	char name[200];

	/* Without an active check nothing would bring it back. */
	if (t->check.type == CHECK_NONE)
		return;
	seen = passive_count(&t->passive_window, retries, window_ms, now_ms);
	/* Out already: the SYNs its old flows send again are no news, and must not pull it the moment it is back. */
	if (!t->up) {
		passive_forget(&t->passive_window);
		return;
	}
	if (seen < n)
		return;
	passive_forget(&t->passive_window);
	t->up = false;
	t->ok_run = t->fail_run = 0;
	t->ramp_start = 0;
	t->passive_until_ms = now_ms + window_ms;
	t->changes++;
	t->since_ms = lbd_wall_ms();
	snprintf(t->passive, sizeof(t->passive), "passive: %llu retransmitted SYNs within %u ms",
		 (unsigned long long)seen, window_ms);
	hc->dirty = true;
	target_name(t, name, sizeof(name));
	lbd_warn("%s is down: %s; back once the window is over and %u checks in a row pass", name, t->passive,
		 t->check.rise);
}

void hc_feedback(struct hc *hc, const struct lbd_vip_cfg *vip, const double *metric, uint64_t now_ms)
{
	/*
	 * Below these differences are noise: 5 ms of a check's latency (a busy
	 * node's probes take a few ms now and then), 1 MB a second of traffic.
	 */
	double floor = vip->weights == LBD_WEIGHTS_LATENCY ? 5000 : 1e6, best = -1;
	uint64_t last_change = 0;
	bool changed = false;
	char name[200];

	for (size_t j = 0; j < vip->n_backends; j++) {
		struct hc_target *t = hc_find(hc, vip, &vip->backends[j].addr);

		if (!t)
			continue;
		fb_sample(&t->feedback, metric[j]);
		if (t->up)
			best = fb_lower(best, &t->feedback);
		if (t->feedback.changed_ms > last_change)
			last_change = t->feedback.changed_ms;
	}
	/* The VIP's shares change together, at most once an interval: one table build for them all. */
	if (!fb_may_change(last_change, now_ms))
		return;
	for (size_t j = 0; j < vip->n_backends; j++) {
		struct hc_target *t = hc_find(hc, vip, &vip->backends[j].addr);
		uint32_t before;

		if (!t || !t->up)
			continue;
		before = fb_pct(&t->feedback);
		if (!fb_step(&t->feedback, fb_wanted_pct(&t->feedback, best, floor), now_ms))
			continue;
		changed = true;
		target_name(t, name, sizeof(name));
		lbd_info("%s: weight %u%% -> %u%% of its own (%s %.0f against the best %.0f)", name, before,
			 fb_pct(&t->feedback), lbd_weights_name(vip->weights), t->feedback.smoothed, best);
	}
	hc->dirty |= changed;
}
