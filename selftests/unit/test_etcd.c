// SPDX-License-Identifier: GPL-2.0
/*
 * lbd's etcd client (userspace/lbd/etcd.c) against a real etcd on loopback,
 * started and ended by this test: the first read, a watch that sees another
 * writer, compare-and-swap writes that win and lose, etcd stopped (the
 * client says so and keeps what it had) and started again (it reads the
 * key afresh and catches up with a change made meanwhile).
 */
#define _GNU_SOURCE
#include <errno.h>
#include <fcntl.h>
#include <poll.h>
#include <signal.h>
#include <spawn.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <unistd.h>

#include "clock.h"
#include "etcd.h"
#include "xt.h"

XT_DEFINE_STATE;

extern char **environ;

static char dir[] = "/tmp/xlb-test-etcd.XXXXXX";
static char url[64], peer[64];
static pid_t etcd_pid;
static struct etcd *client;

static bool run_quiet(char *const argv[])
{
	posix_spawn_file_actions_t fa;
	pid_t pid;
	int status;

	posix_spawn_file_actions_init(&fa);
	posix_spawn_file_actions_addopen(&fa, 1, "/dev/null", O_WRONLY, 0);
	posix_spawn_file_actions_addopen(&fa, 2, "/dev/null", O_WRONLY, 0);
	if (posix_spawnp(&pid, argv[0], &fa, NULL, argv, environ))
		return false;
	posix_spawn_file_actions_destroy(&fa);
	return waitpid(pid, &status, 0) == pid && WIFEXITED(status) && !WEXITSTATUS(status);
}

static bool etcdctl(const char *verb, const char *key, const char *value)
{
	char ep[80];

	snprintf(ep, sizeof(ep), "--endpoints=%s", url);
	char *argv[] = { "etcdctl", ep, (char *)verb, (char *)key, (char *)value, NULL };

	return run_quiet(argv);
}

static bool etcd_up(void)
{
	char data[128], log[128], listen[128], lpeer[128], cluster[128];
	posix_spawn_file_actions_t fa;

	snprintf(data, sizeof(data), "%s/data", dir);
	snprintf(log, sizeof(log), "%s/etcd.log", dir);
	snprintf(listen, sizeof(listen), "--listen-client-urls=%s", url);
	snprintf(lpeer, sizeof(lpeer), "--listen-peer-urls=%s", peer);
	snprintf(cluster, sizeof(cluster), "--initial-cluster=t=%s", peer);
	char adv[128], advp[128];

	snprintf(adv, sizeof(adv), "--advertise-client-urls=%s", url);
	snprintf(advp, sizeof(advp), "--initial-advertise-peer-urls=%s", peer);
	char *argv[] = { "etcd", "--name=t", "--data-dir", data, listen, adv, lpeer, advp, cluster, NULL };

	posix_spawn_file_actions_init(&fa);
	posix_spawn_file_actions_addopen(&fa, 1, log, O_WRONLY | O_CREAT | O_APPEND, 0600);
	posix_spawn_file_actions_adddup2(&fa, 1, 2);
	if (posix_spawnp(&etcd_pid, "etcd", &fa, NULL, argv, environ))
		return false;
	posix_spawn_file_actions_destroy(&fa);
	for (int i = 0; i < 100; i++) {
		char ep[80];

		snprintf(ep, sizeof(ep), "--endpoints=%s", url);
		char *health[] = { "etcdctl", ep, "endpoint", "health", NULL };

		if (run_quiet(health))
			return true;
		usleep(100000);
	}
	return false;
}

static void etcd_down(void)
{
	if (etcd_pid > 0) {
		kill(etcd_pid, SIGTERM);
		waitpid(etcd_pid, NULL, 0);
		etcd_pid = 0;
	}
}

/* Waits up to ms for the client's fd, then for cond over what it took. */
#define WAIT_FOR(ms, cond)                                                                 \
	({                                                                                 \
		uint64_t end_ = lbd_mono_ms() + (ms);                                     \
		bool ok_ = false;                                                          \
		while (!(ok_ = (cond)) && lbd_mono_ms() < end_) {                          \
			struct pollfd p_ = { etcd_event_fd(client), POLLIN, 0 };           \
			poll(&p_, 1, 50);                                                  \
			etcd_drain_event(client);                                          \
		}                                                                          \
		ok_;                                                                       \
	})

static struct etcd_value last;
static bool have_value;

static bool took_value(void)
{
	struct etcd_value v;

	if (!etcd_take_value(client, &v))
		return false;
	free(last.text);
	last = v;
	have_value = true;
	return true;
}

static struct etcd_put_done put;

static bool took_put(void)
{
	return etcd_take_put(client, &put);
}

static bool in_state(enum etcd_state s)
{
	return etcd_state(client, NULL, NULL, 0) == s;
}

static void reads_then_watches(void)
{
	char err[256];

	XT_TRUE(etcdctl("put", "/xlb/t/config", "vip 198.18.1.1:80/tcp\n"), "etcdctl put");
	client = etcd_start(url, "/xlb/t/config", err, sizeof(err));
	if (!XT_TRUE(client, "etcd_start: %s", err))
		return;
	XT_TRUE(WAIT_FOR(3000, took_value()), "no first value");
	XT_TRUE(last.text && !strcmp(last.text, "vip 198.18.1.1:80/tcp\n") && last.mod_revision > 0,
		"first value '%s' at %lld", last.text, (long long)last.mod_revision);
	XT_TRUE(in_state(ETCD_CONNECTED), "not connected after the first read");
	int64_t first = last.mod_revision;

	XT_TRUE(etcdctl("put", "/xlb/t/config", "vip 198.18.1.2:80/tcp\n"), "etcdctl put");
	XT_TRUE(WAIT_FOR(3000, took_value() && last.mod_revision > first), "the watch missed another writer");
	XT_TRUE(last.text && !strcmp(last.text, "vip 198.18.1.2:80/tcp\n"), "watched value '%s'", last.text);
	XT_TRUE(etcdctl("del", "/xlb/t/config", NULL), "etcdctl del");
	XT_TRUE(WAIT_FOR(3000, took_value() && last.deleted), "the watch missed a delete");
	XT_TRUE(!last.text, "a deleted key has a value");
}

static void compare_and_swap(void)
{
	uint64_t t;

	if (!client)
		return;
	/* The key is absent: a write expecting 0 creates it, a second expecting 0 loses. */
	t = etcd_put(client, "vip 198.18.1.3:80/tcp\n", 22, 0);
	XT_TRUE(WAIT_FOR(3000, took_put()), "no outcome for the first write");
	XT_TRUE(put.ticket == t && put.status == ETCD_PUT_OK && put.revision > 0, "first write: %d %s",
		put.status, put.why);
	int64_t made = put.revision;

	XT_TRUE(WAIT_FOR(3000, took_value() && last.mod_revision == made), "the write did not come back by the watch");
	t = etcd_put(client, "vip 198.18.1.4:80/tcp\n", 22, 0);
	XT_TRUE(WAIT_FOR(3000, took_put()), "no outcome for the second write");
	XT_TRUE(put.ticket == t && put.status == ETCD_PUT_CONFLICT && put.expected == 0, "second write on 0: %d",
		put.status);
	t = etcd_put(client, "vip 198.18.1.5:80/tcp\n", 22, made);
	XT_TRUE(WAIT_FOR(3000, took_put()), "no outcome for the third write");
	XT_TRUE(put.ticket == t && put.status == ETCD_PUT_OK && put.revision > made, "third write on %lld: %d %s",
		(long long)made, put.status, put.why);
	XT_TRUE(WAIT_FOR(3000, took_value() && last.text && !strcmp(last.text, "vip 198.18.1.5:80/tcp\n")),
		"the third write's value did not come back");
}

static void etcd_away_and_back(void)
{
	if (!client)
		return;
	int64_t before = last.mod_revision;

	etcd_down();
	XT_TRUE(WAIT_FOR(5000, in_state(ETCD_UNREACHABLE)), "etcd stopped, the client still says it answers");
	XT_TRUE(!took_value(), "a value came while etcd was away");
	uint64_t t = etcd_put(client, "vip 198.18.1.6:80/tcp\n", 22, before);

	XT_TRUE(WAIT_FOR(5000, took_put()), "no outcome for a write while etcd is away");
	XT_TRUE(put.ticket == t && put.status == ETCD_PUT_FAILED && put.why[0], "a write to no etcd: %d", put.status);
	if (!XT_TRUE(etcd_up(), "etcd does not start again"))
		return;
	XT_TRUE(etcdctl("put", "/xlb/t/config", "vip 198.18.1.7:80/tcp\n"), "etcdctl put");
	XT_TRUE(WAIT_FOR(5000, in_state(ETCD_CONNECTED)), "etcd back, the client does not say so");
	XT_TRUE(WAIT_FOR(5000, took_value() && last.text && !strcmp(last.text, "vip 198.18.1.7:80/tcp\n")),
		"the change made while the client was away did not come: '%s'", last.text);
}

static void bad_urls_are_refused(void)
{
	char err[256] = "";

	XT_TRUE(!etcd_start("198.18.0.1:2379", "/k", err, sizeof(err)) && strstr(err, "is not http://"),
		"a URL without scheme: '%s'", err);
	XT_TRUE(!etcd_start("", "/k", err, sizeof(err)) && strstr(err, "no etcd URL"), "no URL: '%s'", err);
}

int main(void)
{
	static const struct xt_case cases[] = {
		XT_CASE(reads_then_watches), XT_CASE(compare_and_swap), XT_CASE(etcd_away_and_back),
		XT_CASE(bad_urls_are_refused),
	};
	int port = 20000 + getpid() % 20000, ret;

	if (!mkdtemp(dir)) {
		perror("mkdtemp");
		return 1;
	}
	snprintf(url, sizeof(url), "http://127.0.0.1:%d", port);
	snprintf(peer, sizeof(peer), "http://127.0.0.1:%d", port + 1);
	if (!etcd_up()) {
		fprintf(stderr, "etcd does not start on %s (Debian etcd-server; its log: %s/etcd.log)\n", url, dir);
		printf("FAIL etcd/setup: etcd does not start\nRESULT passed=0 failed=1 skipped=0\n");
		etcd_down();
		return 1;
	}
	ret = xt_run("etcd", cases, sizeof(cases) / sizeof(cases[0]));
	etcd_stop(client);
	free(last.text);
	etcd_down();
	char *rm[] = { "rm", "-rf", dir, NULL };

	run_quiet(rm);
	return ret;
}
