// SPDX-License-Identifier: GPL-2.0
#include "log.h"

#include <stdarg.h>
#include <stdio.h>
#include <time.h>

enum lbd_log_level lbd_log_level = LBD_LOG_INFO;

void lbd_log(enum lbd_log_level level, const char *fmt, ...)
{
	static const char *const names[] = { "error", "warning", "info", "debug" };
	struct timespec ts;
	va_list ap;

	if (level > lbd_log_level)
		return;
	clock_gettime(CLOCK_REALTIME, &ts);
	fprintf(stderr, "lbd[%ld.%03ld] %s: ", (long)ts.tv_sec, ts.tv_nsec / 1000000, names[level]);
	va_start(ap, fmt);
	vfprintf(stderr, fmt, ap);
	va_end(ap);
	fputc('\n', stderr);
}
