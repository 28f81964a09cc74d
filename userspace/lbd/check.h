/* SPDX-License-Identifier: GPL-2.0 */
/*
 * Health-check settings: what a VIP sets as the default for its backends,
 * what a backend overrides, and the merge of the two with the defaults.
 * The probing itself lives in health.c.
 */
#ifndef LBD_CHECK_H
#define LBD_CHECK_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>

#define CHECK_ARG_LEN		160
#define CHECK_HOST_LEN		64

enum lbd_check_type {
	CHECK_UNSET,		/* a backend: the VIP's check; a VIP: tcp for TCP with a port, else none */
	CHECK_NONE,
	CHECK_TCP,
	CHECK_HTTP,
	CHECK_UDP,
	CHECK_EXEC,
};

/* Each field 0 / empty: not set here, inherit. */
struct lbd_check_cfg {
	uint8_t type;				/* enum lbd_check_type */
	uint8_t rise, fall;
	char arg[CHECK_ARG_LEN];		/* http path, udp payload, exec command */
	char host[CHECK_HOST_LEN];		/* http Host header */
	uint16_t expect_lo, expect_hi;		/* http status range */
	uint32_t interval_ms, timeout_ms;
	uint32_t slow_start_ms;
	bool slow_start_set;			/* slow-start 0 is an explicit "off" */
};

/* The settings a probe runs with: every field decided. */
struct lbd_check {
	uint8_t type;
	uint8_t rise, fall;
	char arg[CHECK_ARG_LEN];
	char host[CHECK_HOST_LEN];
	uint16_t expect_lo, expect_hi;
	uint32_t interval_ms, timeout_ms, slow_start_ms;
};

#define CHECK_DEFAULT_INTERVAL_MS	1000
#define CHECK_DEFAULT_TIMEOUT_MS	500
#define CHECK_DEFAULT_RISE		2
#define CHECK_DEFAULT_FALL		3

/* "tcp", "http:/path", "udp:PAYLOAD", "exec:CMD", "none". */
int check_spec_parse(const char *text, struct lbd_check_cfg *c, char *err, size_t len);
/* The first control character of s (tab allowed when tab_ok), or -1: lbd.conf holds text. */
int check_control_char(const char *s, bool tab_ok);
/* s with each control character as '?', for an error message. */
void check_printable(const char *s, char *buf, size_t len);
/* "1s", "500ms", "1.5s", "2m", "1h": digits, an optional fraction, a unit; min..max in ms. */
int check_duration_parse(const char *text, uint32_t min_ms, uint32_t max_ms, uint32_t *ms);
void check_duration_format(uint32_t ms, char *buf, size_t len);
/* "200" or "200-399". */
int check_expect_parse(const char *text, uint16_t *lo, uint16_t *hi);

/* The backend's settings over the VIP's over the defaults; port/proto pick the default type. */
void check_merge(const struct lbd_check_cfg *vip, const struct lbd_check_cfg *backend,
		 uint8_t proto, uint16_t port, struct lbd_check *out);
/* Rejects settings that cannot work together (a timeout longer than the interval...). */
int check_validate(const struct lbd_check *c, uint16_t port, char *err, size_t len);
/* The words of c that are set, as in the file: " check tcp interval 1s ...". */
void check_write(FILE *f, const struct lbd_check_cfg *c);
const char *check_type_name(uint8_t type);

#endif
