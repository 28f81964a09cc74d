/* SPDX-License-Identifier: GPL-2.0 */
/*
 * lbd's log, with a level chosen by --log-level: stderr with ISO 8601
 * local-time stamps; under systemd the journal's own stamps and levels;
 * syslog (daemon facility) once lbd has put itself in the background.
 */
#ifndef LBD_LOG_H
#define LBD_LOG_H

enum lbd_log_level { LBD_LOG_ERROR, LBD_LOG_WARN, LBD_LOG_INFO, LBD_LOG_DEBUG };

#include <stdbool.h>

extern enum lbd_log_level lbd_log_level;
/* Where the lines go from now on; stderr with stamps until it is called. */
void lbd_log_open(bool daemonized);
void lbd_log(enum lbd_log_level level, const char *fmt, ...) __attribute__((format(printf, 2, 3)));

#define lbd_err(...) lbd_log(LBD_LOG_ERROR, __VA_ARGS__)
#define lbd_warn(...) lbd_log(LBD_LOG_WARN, __VA_ARGS__)
#define lbd_info(...) lbd_log(LBD_LOG_INFO, __VA_ARGS__)
#define lbd_debug(...) lbd_log(LBD_LOG_DEBUG, __VA_ARGS__)

#endif
