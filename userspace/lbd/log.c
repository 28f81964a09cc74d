// SPDX-License-Identifier: GPL-2.0
#include "log.h"

#include <stdarg.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <syslog.h>
#include <time.h>
#include <unistd.h>

enum lbd_log_level lbd_log_level = LBD_LOG_INFO;

static enum { TO_STDERR, TO_JOURNAL, TO_SYSLOG } sink = TO_STDERR;

static const char *const level_names[] = { "error", "warning", "info", "debug" };
static const int level_priorities[] = { LOG_ERR, LOG_WARNING, LOG_INFO, LOG_DEBUG };

/*
 * systemd sets JOURNAL_STREAM to the device and inode of the journal's
 * stream; when stderr is that stream, journald stamps each line itself and
 * reads the level from a "<N>" prefix.
 */
static bool stderr_is_journal(void)
{
	const char *env = getenv("JOURNAL_STREAM");
	unsigned long long dev, ino;
	struct stat st;

	return env && sscanf(env, "%llu:%llu", &dev, &ino) == 2 && !fstat(STDERR_FILENO, &st) &&
	       st.st_dev == dev && st.st_ino == ino;
}

void lbd_log_open(bool daemonized)
{
	if (daemonized) {
		openlog("lbd", LOG_PID, LOG_DAEMON);
		sink = TO_SYSLOG;
	} else {
		sink = stderr_is_journal() ? TO_JOURNAL : TO_STDERR;
	}
}

/* "2026-12-02T03:04:05.678+01:00": ISO 8601, local time, milliseconds, the offset. */
static void iso8601_now(char *buf, size_t len)
{
	struct timespec ts;
	struct tm tm;
	char zone[8];
	size_t n;

	clock_gettime(CLOCK_REALTIME, &ts);
	localtime_r(&ts.tv_sec, &tm);
	n = strftime(buf, len, "%Y-%m-%dT%H:%M:%S", &tm);
	if (!strftime(zone, sizeof(zone), "%z", &tm) || strlen(zone) != 5)
		strcpy(zone, "+0000");
	snprintf(buf + n, len - n, ".%03ld%.3s:%s", ts.tv_nsec / 1000000, zone, zone + 3);
}

void lbd_log(enum lbd_log_level level, const char *fmt, ...)
{
	char stamp[40];
	va_list ap;

	if (level > lbd_log_level)
		return;
	va_start(ap, fmt);
	if (sink == TO_SYSLOG) {
		vsyslog(level_priorities[level], fmt, ap);
		va_end(ap);
		return;
	}
	if (sink == TO_JOURNAL) {
		fprintf(stderr, "<%d>%s: ", level_priorities[level], level_names[level]);
	} else {
		iso8601_now(stamp, sizeof(stamp));
		fprintf(stderr, "%s lbd %s: ", stamp, level_names[level]);
	}
	vfprintf(stderr, fmt, ap);
	va_end(ap);
	fputc('\n', stderr);
}
