// SPDX-License-Identifier: GPL-2.0
#include "check.h"

#include <ctype.h>
#include <errno.h>
#include <math.h>
#include <netinet/in.h>
#include <stdlib.h>
#include <string.h>

static int fail(char *err, size_t len, const char *msg, const char *text)
{
	snprintf(err, len, msg, text);
	return -EINVAL;
}

int check_control_char(const char *s, bool tab_ok)
{
	for (const unsigned char *p = (const unsigned char *)s; *p; p++)
		if ((*p < 0x20 && !(tab_ok && *p == '\t')) || *p == 0x7f)
			return *p;
	return -1;
}

void check_printable(const char *s, char *buf, size_t len)
{
	size_t i = 0;

	for (; len && s[i] && i < len - 1; i++)
		buf[i] = (unsigned char)s[i] < 0x20 || s[i] == 0x7f ? '?' : s[i];
	if (len)
		buf[i] = 0;
}

int check_spec_parse(const char *text, struct lbd_check_cfg *c, char *err, size_t len)
{
	static const struct { const char *name; uint8_t type; } types[] = {
		{ "none", CHECK_NONE }, { "tcp", CHECK_TCP }, { "http", CHECK_HTTP },
		{ "udp", CHECK_UDP }, { "exec", CHECK_EXEC },
	};
	const char *colon = strchr(text, ':'), *arg = colon ? colon + 1 : "";
	size_t name_len = colon ? (size_t)(colon - text) : strlen(text);
	size_t k;
	int ctl;

	for (k = 0; k < sizeof(types) / sizeof(types[0]); k++)
		if (strlen(types[k].name) == name_len && !strncmp(text, types[k].name, name_len))
			break;
	if (k == sizeof(types) / sizeof(types[0]))
		return fail(err, len, "check '%s' is not tcp, http:/PATH, udp[:PAYLOAD], exec:CMD or none", text);
	if (strlen(arg) >= CHECK_ARG_LEN)
		return fail(err, len, "check '%.40s...' is too long", text);
	/* A tab reads back inside the quotes check_write puts around it; in a path it breaks the request. */
	ctl = check_control_char(arg, types[k].type != CHECK_HTTP);
	if (ctl >= 0) {
		char shown[64];

		check_printable(text, shown, sizeof(shown));
		snprintf(err, len, "check '%s' holds control character 0x%02x: lbd.conf holds printable text only%s",
			 shown, ctl, types[k].type == CHECK_HTTP ? " (write %09 for a tab in a path)" : "");
		return -EINVAL;
	}
	if (strchr(arg, '"') || strchr(arg, '#'))
		return fail(err, len, "check '%s' may not hold '\"' or '#'", text);
	switch (types[k].type) {
	case CHECK_NONE:
	case CHECK_TCP:
		if (colon)
			return fail(err, len, "check '%s' takes no argument after ':'", text);
		break;
	case CHECK_HTTP:
		if (colon && arg[0] != '/')
			return fail(err, len, "check '%s': the path must start with /, as in http:/health", text);
		if (strchr(arg, ' '))
			return fail(err, len, "check '%s': a path has no spaces (write %%20)", text);
		break;
	case CHECK_EXEC:
		if (!*arg)
			return fail(err, len, "check '%s' needs a command, as in exec:/usr/local/bin/check", text);
		break;
	}
	c->type = types[k].type;
	strcpy(c->arg, arg);
	return 0;
}

/*
 * Decimal digits with an optional fraction, then the unit. strtod alone
 * would also take "nan", "inf", hex and exponents, and a NaN passes every
 * range check below (an advert of 0: adverts in a tight loop).
 */
int check_duration_parse(const char *text, uint32_t min_ms, uint32_t max_ms, uint32_t *ms)
{
	const char *p = text;
	char *end;
	double v;
	unsigned long long scale;

	if (!isdigit((unsigned char)*p))
		return -EINVAL;
	while (isdigit((unsigned char)*p))
		p++;
	if (*p == '.') {
		if (!isdigit((unsigned char)*++p))
			return -EINVAL;
		while (isdigit((unsigned char)*p))
			p++;
	}
	errno = 0;
	v = strtod(text, &end);
	if (end != p || errno || !isfinite(v))
		return -EINVAL;
	if (!strcmp(end, "ms"))
		scale = 1;
	else if (!strcmp(end, "s"))
		scale = 1000;
	else if (!strcmp(end, "m"))
		scale = 60000;
	else if (!strcmp(end, "h"))
		scale = 3600000;
	else
		return -EINVAL;
	v *= (double)scale;
	if (!(v >= min_ms && v <= max_ms))
		return -ERANGE;
	*ms = (uint32_t)(v + 0.5);
	return 0;
}

void check_duration_format(uint32_t ms, char *buf, size_t len)
{
	if (ms % 60000 == 0 && ms)
		snprintf(buf, len, "%um", ms / 60000);
	else if (ms % 1000 == 0)
		snprintf(buf, len, "%us", ms / 1000);
	else
		snprintf(buf, len, "%ums", ms);
}

int check_expect_parse(const char *text, uint16_t *lo, uint16_t *hi)
{
	char *end;
	unsigned long a, b;

	a = strtoul(text, &end, 10);
	b = a;
	if (*end == '-')
		b = strtoul(end + 1, &end, 10);
	if (*end || *text < '1' || *text > '9' || a < 100 || b > 599 || a > b)
		return -EINVAL;
	*lo = (uint16_t)a;
	*hi = (uint16_t)b;
	return 0;
}

void check_merge(const struct lbd_check_cfg *vip, const struct lbd_check_cfg *be, uint8_t proto,
		 uint16_t port, struct lbd_check *out)
{
	const struct lbd_check_cfg *spec = be->type ? be : vip;

	memset(out, 0, sizeof(*out));
	out->type = spec->type ? spec->type : proto == IPPROTO_TCP && port ? CHECK_TCP : CHECK_NONE;
	strcpy(out->arg, spec->arg);
	strcpy(out->host, be->host[0] ? be->host : vip->host);
#define PICK(f, dflt) (be->f ? be->f : vip->f ? vip->f : (dflt))
	out->rise = PICK(rise, CHECK_DEFAULT_RISE);
	out->fall = PICK(fall, CHECK_DEFAULT_FALL);
	out->interval_ms = PICK(interval_ms, CHECK_DEFAULT_INTERVAL_MS);
	out->timeout_ms = PICK(timeout_ms, out->interval_ms < CHECK_DEFAULT_TIMEOUT_MS ?
				out->interval_ms : CHECK_DEFAULT_TIMEOUT_MS);
	out->expect_lo = PICK(expect_lo, 200);
	out->expect_hi = be->expect_lo ? be->expect_hi : vip->expect_lo ? vip->expect_hi : 399;
#undef PICK
	out->slow_start_ms = be->slow_start_set ? be->slow_start_ms : vip->slow_start_ms;
	if (out->type == CHECK_HTTP && !out->arg[0])
		strcpy(out->arg, "/");
	if (out->type == CHECK_UDP && !out->arg[0])
		strcpy(out->arg, "xlb-check");
}

int check_validate(const struct lbd_check *c, uint16_t port, char *err, size_t len)
{
	char t[16], i[16];

	if (c->timeout_ms > c->interval_ms) {
		check_duration_format(c->timeout_ms, t, sizeof(t));
		check_duration_format(c->interval_ms, i, sizeof(i));
		snprintf(err, len, "timeout %s is longer than interval %s: a probe must end before the next", t, i);
		return -EINVAL;
	}
	if (!port && c->type != CHECK_NONE && c->type != CHECK_EXEC) {
		snprintf(err, len, "a VIP on every port (port 0) has no port to %s: use --check exec:CMD or none",
			 check_type_name(c->type));
		return -EINVAL;
	}
	return 0;
}

const char *check_type_name(uint8_t type)
{
	static const char *const names[] = { "default", "none", "tcp", "http", "udp", "exec" };

	return type < sizeof(names) / sizeof(names[0]) ? names[type] : "?";
}

void check_write(FILE *f, const struct lbd_check_cfg *c)
{
	char d[16];

	if (c->type) {
		bool quote = strchr(c->arg, ' ') || strchr(c->arg, '\t');

		fprintf(f, " check %s%s%s%s%s", quote ? "\"" : "", check_type_name(c->type),
			c->arg[0] ? ":" : "", c->arg, quote ? "\"" : "");
	}
	if (c->interval_ms) {
		check_duration_format(c->interval_ms, d, sizeof(d));
		fprintf(f, " interval %s", d);
	}
	if (c->timeout_ms) {
		check_duration_format(c->timeout_ms, d, sizeof(d));
		fprintf(f, " timeout %s", d);
	}
	if (c->rise)
		fprintf(f, " rise %u", c->rise);
	if (c->fall)
		fprintf(f, " fall %u", c->fall);
	if (c->slow_start_set || c->slow_start_ms) {
		check_duration_format(c->slow_start_ms, d, sizeof(d));
		fprintf(f, " slow-start %s", d);
	}
	if (c->expect_lo) {
		if (c->expect_lo == c->expect_hi)
			fprintf(f, " expect %u", c->expect_lo);
		else
			fprintf(f, " expect %u-%u", c->expect_lo, c->expect_hi);
	}
	if (c->host[0])
		fprintf(f, " host %s", c->host);
}
