// SPDX-License-Identifier: GPL-2.0
#include "config.h"

#include <arpa/inet.h>
#include <errno.h>
#include <fcntl.h>
#include <libgen.h>
#include <limits.h>
#include <netinet/in.h>
#include <stdarg.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "acl.h"
#include "grammar.h"
#include "maglev.h"

#define MAX_WORDS		40
#define MAX_WEIGHT		10000
#define CONN_MIN		1024
#define CONN_MAX		(1u << 26)
/* IPVS's timeout for an established TCP connection. */
#define CONN_TIMEOUT_DEFAULT	900
#define CONN_TIMEOUT_MAX	604800

static int fail(char *err, size_t len, const char *fmt, ...) __attribute__((format(printf, 3, 4)));
static int fail(char *err, size_t len, const char *fmt, ...)
{
	va_list ap;

	va_start(ap, fmt);
	vsnprintf(err, len, fmt, ap);
	va_end(ap);
	return -EINVAL;
}

int lbd_fail(char *err, size_t len, int ret, const char *fmt, ...)
{
	va_list ap;

	va_start(ap, fmt);
	vsnprintf(err, len, fmt, ap);
	va_end(ap);
	return ret;
}

void lbd_config_init(struct lbd_config *cfg)
{
	memset(cfg, 0, sizeof(*cfg));
	cfg->conn_table_size = XLB_CONN_DEFAULT;
	cfg->conn_timeout = CONN_TIMEOUT_DEFAULT;
}

void lbd_config_free(struct lbd_config *cfg)
{
	for (size_t i = 0; i < cfg->n_vips; i++)
		free(cfg->vips[i].backends);
	free(cfg->vips);
	lbd_config_init(cfg);
}

int lbd_config_copy(struct lbd_config *dst, const struct lbd_config *src)
{
	*dst = *src;
	dst->vips = calloc(src->n_vips + 1, sizeof(*dst->vips));
	if (!dst->vips)
		return -ENOMEM;
	for (size_t i = 0; i < src->n_vips; i++) {
		const struct lbd_vip_cfg *v = &src->vips[i];

		dst->vips[i] = *v;
		dst->vips[i].backends = calloc(v->n_backends + 1, sizeof(*v->backends));
		if (!dst->vips[i].backends) {
			dst->n_vips = i;
			lbd_config_free(dst);
			return -ENOMEM;
		}
		memcpy(dst->vips[i].backends, v->backends, v->n_backends * sizeof(*v->backends));
	}
	return 0;
}

/* ---- addresses ---- */

int lbd_addr_parse(const char *text, struct lbd_addr *addr)
{
	memset(addr, 0, sizeof(*addr));
	if (inet_pton(AF_INET, text, addr->a) == 1) {
		addr->family = XLB_AF_INET;
		return 0;
	}
	if (inet_pton(AF_INET6, text, addr->a) == 1) {
		addr->family = XLB_AF_INET6;
		return 0;
	}
	return -EINVAL;
}

void lbd_addr_format(const struct lbd_addr *addr, char *buf, size_t len)
{
	if (!inet_ntop(addr->family == XLB_AF_INET ? AF_INET : AF_INET6, addr->a, buf, (socklen_t)len))
		snprintf(buf, len, "?");
}

bool lbd_addr_eq(const struct lbd_addr *a, const struct lbd_addr *b)
{
	return a->family == b->family && !memcmp(a->a, b->a, sizeof(a->a));
}

static const char *proto_name(uint8_t proto)
{
	return proto == IPPROTO_TCP ? "tcp" : "udp";
}

int lbd_vip_parse(const char *text, struct lbd_vip_cfg *vip, char *err, size_t err_len)
{
	char buf[INET6_ADDRSTRLEN + 16], *host = buf, *port, *proto, *end;
	long p;

	if (strlen(text) >= sizeof(buf))
		return fail(err, err_len, "'%s' is too long for a VIP: write ADDR:PORT/tcp|udp", text);
	strcpy(buf, text);
	proto = strrchr(buf, '/');
	if (!proto)
		return fail(err, err_len, "VIP '%s' has no protocol: write ADDR:PORT/tcp or ADDR:PORT/udp", text);
	*proto++ = 0;
	if (buf[0] == '[') {
		host = buf + 1;
		end = strchr(host, ']');
		if (!end || end[1] != ':')
			return fail(err, err_len, "VIP '%s': write an IPv6 VIP as [ADDR]:PORT/PROTO", text);
		*end = 0;
		port = end + 2;
	} else {
		port = strrchr(buf, ':');
		if (port && strchr(buf, ':') != port)
			return fail(err, err_len, "VIP '%s': an IPv6 address needs brackets, as in [%.*s]:PORT/%s",
				    text, (int)(port - buf), buf, proto);
		if (!port)
			return fail(err, err_len,
				    "VIP '%s' has no port: write ADDR:PORT/PROTO (IPv6 in brackets, port 0 for all)",
				    text);
		*port++ = 0;
	}
	memset(vip, 0, sizeof(*vip));
	if (lbd_addr_parse(host, &vip->addr))
		return fail(err, err_len, "VIP '%s': '%s' is not an IPv4 or IPv6 address", text, host);
	if (vip->addr.family == XLB_AF_INET6 && buf[0] != '[')
		return fail(err, err_len, "VIP '%s': write an IPv6 VIP in brackets: [%s]:PORT/PROTO", text, host);
	errno = 0;
	p = strtol(port, &end, 10);
	if (!*port || *end || p < 0 || p > 65535 || errno)
		return fail(err, err_len, "VIP '%s': port '%s' is not a number from 0 to 65535", text, port);
	vip->port = (uint16_t)p;
	if (!strcmp(proto, "tcp"))
		vip->proto = IPPROTO_TCP;
	else if (!strcmp(proto, "udp"))
		vip->proto = IPPROTO_UDP;
	else
		return fail(err, err_len, "VIP '%s': protocol '%s' is not tcp or udp", text, proto);
	vip->fwd = XLB_FWD_DSR;
	vip->sched = LBD_SCHED_MAGLEV;
	vip->ring_size = XLB_RING_DEFAULT;
	return 0;
}

void lbd_vip_format(const struct lbd_vip_cfg *vip, char *buf, size_t len)
{
	char a[INET6_ADDRSTRLEN];

	lbd_addr_format(&vip->addr, a, sizeof(a));
	if (vip->addr.family == XLB_AF_INET6)
		snprintf(buf, len, "[%s]:%u/%s", a, vip->port, proto_name(vip->proto));
	else
		snprintf(buf, len, "%s:%u/%s", a, vip->port, proto_name(vip->proto));
}

static bool vip_same_key(const struct lbd_vip_cfg *a, const struct lbd_vip_cfg *b)
{
	return lbd_addr_eq(&a->addr, &b->addr) && a->port == b->port && a->proto == b->proto;
}

struct lbd_vip_cfg *lbd_vip_find(const struct lbd_config *cfg, const struct lbd_vip_cfg *key)
{
	for (size_t i = 0; i < cfg->n_vips; i++)
		if (vip_same_key(&cfg->vips[i], key))
			return &cfg->vips[i];
	return NULL;
}

struct lbd_backend_cfg *lbd_backend_find(const struct lbd_vip_cfg *vip, const struct lbd_addr *addr)
{
	for (size_t i = 0; i < vip->n_backends; i++)
		if (lbd_addr_eq(&vip->backends[i].addr, addr))
			return &vip->backends[i];
	return NULL;
}

/* ---- options: "--name value" on the command line, "name value" in the file ---- */

/* The option bits of grammar.h, as config.c names them. */
#define OPT(id)		GRAMMAR_BIT(GOPT_##id)
#define OPT_XDP_MODE	OPT(XDP_MODE)
#define OPT_FORWARD	OPT(FORWARD)
#define OPT_SCHED	OPT(SCHED)
#define OPT_PERSIST	OPT(PERSIST)
#define OPT_PASSIVE	OPT(PASSIVE)
#define OPT_RING_SIZE	OPT(RING_SIZE)
#define OPT_WEIGHT	OPT(WEIGHT)
#define OPT_DRAIN	OPT(DRAIN)
#define OPT_ENABLE	OPT(ENABLE)
#define OPT_ENTROPY	OPT(ENTROPY)
#define OPT_CHECK	OPT(CHECK)
#define OPT_INTERVAL	OPT(INTERVAL)
#define OPT_TIMEOUT	OPT(TIMEOUT)
#define OPT_RISE	OPT(RISE)
#define OPT_FALL	OPT(FALL)
#define OPT_SLOW_START	OPT(SLOW_START)
#define OPT_EXPECT	OPT(EXPECT)
#define OPT_HOST	OPT(HOST)
#define OPT_ALL_DOWN	OPT(ALL_DOWN)
#define OPT_ADMIN	OPT(ADMIN)
#define OPT_UP		OPT(UP)
#define OPT_DOWN	OPT(DOWN)
#define OPT_AUTO	OPT(AUTO)
#define OPT_ANNOUNCE	OPT(ANNOUNCE)
#define OPT_WEIGHTS	OPT(WEIGHTS)
#define OPT_AGENT_PORT	OPT(AGENT_PORT)
#define OPT_AGENT_INTERVAL OPT(AGENT_INTERVAL)
#define OPT_LIMIT_NEW_FLOWS OPT(LIMIT_NEW_FLOWS)
#define OPT_LIMIT_BURST	OPT(LIMIT_BURST)
#define OPT_LIMIT_PPS	OPT(LIMIT_PPS)
#define OPT_LIMIT_PREFIX OPT(LIMIT_PREFIX)
#define OPT_ALLOW	OPT(ALLOW)
#define OPT_DENY	OPT(DENY)
#define OPT_LIMITS	(OPT_LIMIT_NEW_FLOWS | OPT_LIMIT_BURST | OPT_LIMIT_PPS | OPT_LIMIT_PREFIX)
#define OPT_CHECKS	GRAMMAR_CHECKS

struct opt_values {
	uint64_t seen;
	uint8_t xdp_mode, fwd, sched, entropy, admin, announce, weights;
	uint32_t ring_size, weight, persist_ms, passive_n, passive_window_ms, agent_port, agent_interval_ms;
	uint32_t limit_new_flows, limit_burst, limit_pps, limit_prefix4, limit_prefix6;
	bool all_down_drop;
	struct lbd_check_cfg check;
	struct lbd_acl_cfg acl;
};

static const char *const announce_names[] = { "healthy", "always", "never" };

const char *lbd_announce_name(uint8_t announce)
{
	return announce < 3 ? announce_names[announce] : "?";
}

const char *lbd_weights_name(uint8_t weights)
{
	static const char *const names[LBD_WEIGHTS_COUNT] = { "static", "agent", "latency", "bandwidth" };

	return weights < LBD_WEIGHTS_COUNT ? names[weights] : "?";
}

static const char *const sched_names[LBD_SCHED_COUNT] = {
	"maglev", "maglev-src", "rr", "wrr", "lc", "wlc", "random",
};

const char *lbd_sched_name(uint8_t sched)
{
	return sched < LBD_SCHED_COUNT ? sched_names[sched] : "?";
}

uint8_t lbd_sched_xlb(uint8_t sched)
{
	static const uint8_t xlb[LBD_SCHED_COUNT] = {
		[LBD_SCHED_RR] = XLB_SCHED_RR, [LBD_SCHED_WRR] = XLB_SCHED_WRR,
		[LBD_SCHED_LC] = XLB_SCHED_LC, [LBD_SCHED_WLC] = XLB_SCHED_WLC,
		[LBD_SCHED_RANDOM] = XLB_SCHED_RANDOM,
	};

	return sched < LBD_SCHED_COUNT ? xlb[sched] : XLB_SCHED_RING;
}

static int parse_uint(const char *s, unsigned long min, unsigned long max, uint32_t *out)
{
	char *end;
	unsigned long v;

	errno = 0;
	v = strtoul(s, &end, 10);
	if (!*s || *end || errno || v < min || v > max || *s == '-')
		return -EINVAL;
	*out = (uint32_t)v;
	return 0;
}

static uint32_t next_prime(uint32_t n)
{
	while (n < XLB_RING_MAX && !maglev_is_prime(n))
		n++;
	return n;
}

static int opt_value(uint64_t bit, const char *v, struct opt_values *o, char *err, size_t len)
{
	uint32_t n;

	switch (bit) {
	case OPT_XDP_MODE:
		if (!strcmp(v, "native") || !strcmp(v, "generic")) {
			o->xdp_mode = !strcmp(v, "native") ? LBD_XDP_NATIVE : LBD_XDP_GENERIC;
			return 0;
		}
		return fail(err, len, "xdp-mode '%s' is not native or generic", v);
	case OPT_FORWARD:
		if (!strcmp(v, "dsr") || !strcmp(v, "ipip")) {
			o->fwd = !strcmp(v, "dsr") ? XLB_FWD_DSR : XLB_FWD_IPIP;
			return 0;
		}
		return fail(err, len, "forward '%s' is not dsr or ipip", v);
	case OPT_SCHED:
		for (uint8_t k = 0; k < LBD_SCHED_COUNT; k++)
			if (!strcmp(v, sched_names[k])) {
				o->sched = k;
				return 0;
			}
		return fail(err, len, "sched '%s' is not maglev, maglev-src, rr, wrr, lc, wlc or random", v);
	case OPT_PERSIST:
		if (check_duration_parse(v, 0, 86400000, &o->persist_ms))
			return fail(err, len, "persist '%s' is not a duration up to 1d (e.g. 5m, 0s for none)", v);
		return 0;
	case OPT_PASSIVE: {
		const char *slash = strchr(v, '/');
		char n_text[16];

		if (!slash || (size_t)(slash - v) >= sizeof(n_text))
			return fail(err, len, "passive '%s' is not N/WINDOW (e.g. 3/10s)", v);
		memcpy(n_text, v, (size_t)(slash - v));
		n_text[slash - v] = 0;
		if (parse_uint(n_text, 1, 1000, &o->passive_n) ||
		    check_duration_parse(slash + 1, 1000, 3600000, &o->passive_window_ms))
			return fail(err, len, "passive '%s' is not N/WINDOW with N from 1 to 1000 and WINDOW "
				    "from 1s to 1h (e.g. 3/10s)", v);
		return 0;
	}
	case OPT_RING_SIZE:
		if (parse_uint(v, XLB_RING_MIN, XLB_RING_MAX, &n))
			return fail(err, len, "ring-size '%s' is not a number from %u to %u", v,
				    XLB_RING_MIN, XLB_RING_MAX);
		if (!maglev_is_prime(n))
			return fail(err, len, "ring-size %u is not prime: try %u", n, next_prime(n));
		o->ring_size = n;
		return 0;
	case OPT_WEIGHT:
		if (parse_uint(v, 0, MAX_WEIGHT, &o->weight))
			return fail(err, len, "weight '%s' is not a number from 0 to %u", v, MAX_WEIGHT);
		return 0;
	case OPT_ENTROPY:
		if (parse_uint(v, 0, 16, &n))
			return fail(err, len, "entropy-bits '%s' is not a number from 0 to 16", v);
		o->entropy = (uint8_t)n;
		return 0;
	case OPT_CHECK:
		return check_spec_parse(v, &o->check, err, len);
	case OPT_INTERVAL:
		if (check_duration_parse(v, 100, 3600000, &o->check.interval_ms))
			return fail(err, len, "interval '%s' is not a duration from 100ms to 1h (e.g. 1s, 500ms)", v);
		return 0;
	case OPT_TIMEOUT:
		if (check_duration_parse(v, 10, 3600000, &o->check.timeout_ms))
			return fail(err, len, "timeout '%s' is not a duration from 10ms to 1h (e.g. 500ms)", v);
		return 0;
	case OPT_RISE:
	case OPT_FALL:
		if (parse_uint(v, 1, 100, &n))
			return fail(err, len, "%s '%s' is not a number from 1 to 100",
				    bit == OPT_RISE ? "rise" : "fall", v);
		*(bit == OPT_RISE ? &o->check.rise : &o->check.fall) = (uint8_t)n;
		return 0;
	case OPT_SLOW_START:
		if (check_duration_parse(v, 0, 3600000, &o->check.slow_start_ms))
			return fail(err, len, "slow-start '%s' is not a duration up to 1h (e.g. 30s, 0s for none)", v);
		o->check.slow_start_set = true;
		return 0;
	case OPT_EXPECT:
		if (check_expect_parse(v, &o->check.expect_lo, &o->check.expect_hi))
			return fail(err, len, "expect '%s' is not an HTTP status or range from 100 to 599 (e.g. 200-399)", v);
		return 0;
	case OPT_HOST:
		if (strlen(v) >= CHECK_HOST_LEN || strpbrk(v, " \"#") || check_control_char(v, false) >= 0) {
			char shown[CHECK_HOST_LEN];

			check_printable(v, shown, sizeof(shown));
			return fail(err, len, "host '%s' is not a host name", shown);
		}
		strcpy(o->check.host, v);
		return 0;
	case OPT_ALL_DOWN:
		if (strcmp(v, "open") && strcmp(v, "drop"))
			return fail(err, len, "all-down '%s' is not open or drop", v);
		o->all_down_drop = !strcmp(v, "drop");
		return 0;
	case OPT_ADMIN:
		if (strcmp(v, "up") && strcmp(v, "down"))
			return fail(err, len, "admin '%s' is not up or down", v);
		o->admin = !strcmp(v, "up") ? LBD_ADMIN_UP : LBD_ADMIN_DOWN;
		return 0;
	case OPT_ANNOUNCE:
		for (uint8_t k = 0; k < 3; k++)
			if (!strcmp(v, announce_names[k])) {
				o->announce = k;
				return 0;
			}
		return fail(err, len, "announce '%s' is not healthy, always or never", v);
	case OPT_WEIGHTS:
		for (uint8_t k = 0; k < LBD_WEIGHTS_COUNT; k++)
			if (!strcmp(v, lbd_weights_name(k))) {
				o->weights = k;
				return 0;
			}
		return fail(err, len, "weights '%s' is not static, agent, latency or bandwidth", v);
	case OPT_AGENT_PORT:
		if (parse_uint(v, 1, 65535, &o->agent_port))
			return fail(err, len, "agent-port %s is not 1 to 65535: the TCP port backends' agents listen on", v);
		return 0;
	case OPT_AGENT_INTERVAL:
		if (check_duration_parse(v, 100, 3600000, &o->agent_interval_ms))
			return fail(err, len, "agent-interval '%s' is not a duration from 100ms to 1h (e.g. 2s)", v);
		return 0;
	case OPT_LIMIT_NEW_FLOWS:
	case OPT_LIMIT_PPS:
		if (parse_uint(v, 0, XLB_LIMIT_MAX_RATE, bit == OPT_LIMIT_PPS ? &o->limit_pps : &o->limit_new_flows))
			return fail(err, len, "%s '%s' is not a rate from 0 (no limit) to %u a second",
				    bit == OPT_LIMIT_PPS ? "limit-pps" : "limit-new-flows", v, XLB_LIMIT_MAX_RATE);
		return 0;
	case OPT_LIMIT_BURST:
		if (parse_uint(v, 1, XLB_LIMIT_MAX_RATE, &o->limit_burst))
			return fail(err, len, "limit-burst '%s' is not a number of connections from 1 to %u", v,
				    XLB_LIMIT_MAX_RATE);
		return 0;
	case OPT_ALLOW:
	case OPT_DENY:
		if (strlen(v) >= LBD_ACL_TEXT - 1)
			return fail(err, len, "%s: a list given inline holds %d characters at most: put a longer one "
				    "in a file, a prefix a line, and give @FILE", bit == OPT_ALLOW ? "allow" : "deny",
				    LBD_ACL_TEXT - 2);
		snprintf(bit == OPT_ALLOW ? o->acl.allow : o->acl.deny, LBD_ACL_TEXT, "%s", strcmp(v, "none") ? v : "");
		return 0;
	case OPT_LIMIT_PREFIX: {
		const char *slash = strchr(v, '/');
		char v4[8];

		if (!slash || (size_t)(slash - v) >= sizeof(v4))
			return fail(err, len, "limit-prefix '%s' is not V4LEN/V6LEN (e.g. 32/64)", v);
		memcpy(v4, v, (size_t)(slash - v));
		v4[slash - v] = 0;
		if (parse_uint(v4, 1, 32, &o->limit_prefix4) || parse_uint(slash + 1, 1, 128, &o->limit_prefix6))
			return fail(err, len, "limit-prefix '%s' is not V4LEN/V6LEN with V4LEN from 1 to 32 and "
				    "V6LEN from 1 to 128 (e.g. 24/56)", v);
		return 0;
	}
	}
	return 0;
}

/* Copies the check settings given in o over c, field by field. */
static void check_apply_opts(struct lbd_check_cfg *c, const struct opt_values *o)
{
	if (o->seen & OPT_CHECK) {
		c->type = o->check.type;
		strcpy(c->arg, o->check.arg);
	}
	if (o->seen & OPT_INTERVAL)
		c->interval_ms = o->check.interval_ms;
	if (o->seen & OPT_TIMEOUT)
		c->timeout_ms = o->check.timeout_ms;
	if (o->seen & OPT_RISE)
		c->rise = o->check.rise;
	if (o->seen & OPT_FALL)
		c->fall = o->check.fall;
	if (o->seen & OPT_SLOW_START) {
		c->slow_start_ms = o->check.slow_start_ms;
		c->slow_start_set = true;
	}
	if (o->seen & OPT_EXPECT) {
		c->expect_lo = o->check.expect_lo;
		c->expect_hi = o->check.expect_hi;
	}
	if (o->seen & OPT_HOST)
		strcpy(c->host, o->check.host);
}

/*
 * The option that word names for the command gc, from the grammar's table;
 * cli: the name must start with "--". Refused with the options gc takes.
 */
static int opt_lookup(const char *word, const struct grammar_cmd *gc, bool cli, char *err, size_t len)
{
	const char *name = !strncmp(word, "--", 2) ? word + 2 : word;
	char cmd[48], takes[160];
	int id;

	if (cli && name == word)
		return fail(err, len, "unexpected '%s': options start with --", word);
	id = grammar_opt_find(name);
	if (id >= 0 && (gc->opts & GRAMMAR_BIT(id)) && !grammar_opts[id].lbctl_only)
		return id;
	grammar_cmd_name(gc, cmd, sizeof(cmd));
	grammar_opts_list(gc, cli, takes, sizeof(takes));
	if (id >= 0)
		return fail(err, len, "'%.64s' is not an option here: %s takes %s; see %s", word, cmd, takes,
			    cli ? "'lbctl help'" : "lbd.conf(5)");
	return fail(err, len, "'%.64s' is not %s %s option: %s takes %s; see %s", word,
		    grammar_article(gc->object), gc->object, cmd, takes, cli ? "'lbctl help'" : "lbd.conf(5)");
}

/* Options after the positional words of the command gc. */
static int parse_opts(int argc, char **argv, const struct grammar_cmd *gc, bool cli, struct opt_values *o,
		      char *err, size_t len)
{
	memset(o, 0, sizeof(*o));
	for (int i = 0; i < argc; i++) {
		int id = opt_lookup(argv[i], gc, cli, err, len);
		uint64_t bit;

		if (id < 0)
			return -EINVAL;
		bit = GRAMMAR_BIT(id);
		if (o->seen & bit)
			return fail(err, len, "'%s' is given twice", argv[i]);
		o->seen |= bit;
		if (grammar_opts[id].value == GV_FLAG)
			continue;
		if (i + 1 >= argc)
			return fail(err, len, "'%s' needs a value: %s", argv[i], grammar_opts[id].hint);
		if (opt_value(bit, argv[++i], o, err, len))
			return -EINVAL;
	}
	return 0;
}

static void vip_apply_opts(struct lbd_vip_cfg *vip, const struct opt_values *o)
{
	if (o->seen & OPT_FORWARD)
		vip->fwd = o->fwd;
	if (o->seen & OPT_SCHED)
		vip->sched = o->sched;
	if (o->seen & OPT_PERSIST)
		vip->persist_ms = o->persist_ms;
	if (o->seen & OPT_PASSIVE) {
		vip->passive_n = o->passive_n;
		vip->passive_window_ms = o->passive_window_ms;
	}
	if (o->seen & OPT_RING_SIZE)
		vip->ring_size = o->ring_size;
	if (o->seen & OPT_ALL_DOWN)
		vip->all_down_drop = o->all_down_drop;
	if (o->seen & OPT_ANNOUNCE)
		vip->announce = o->announce;
	if (o->seen & OPT_WEIGHTS)
		vip->weights = o->weights;
	if (o->seen & OPT_AGENT_PORT)
		vip->agent_port = (uint16_t)o->agent_port;
	if (o->seen & OPT_AGENT_INTERVAL)
		vip->agent_interval_ms = o->agent_interval_ms;
	if (o->seen & OPT_LIMIT_NEW_FLOWS)
		vip->limit_new_flows = o->limit_new_flows;
	if (o->seen & OPT_LIMIT_BURST)
		vip->limit_burst = o->limit_burst;
	if (o->seen & OPT_LIMIT_PPS)
		vip->limit_pps = o->limit_pps;
	if (o->seen & OPT_LIMIT_PREFIX) {
		vip->limit_prefix4 = (uint8_t)o->limit_prefix4;
		vip->limit_prefix6 = (uint8_t)o->limit_prefix6;
	}
	if (o->seen & OPT_ALLOW)
		memcpy(vip->acl.allow, o->acl.allow, sizeof(vip->acl.allow));
	if (o->seen & OPT_DENY)
		memcpy(vip->acl.deny, o->acl.deny, sizeof(vip->acl.deny));
	check_apply_opts(&vip->check, o);
}

/* vip set: the settings whose OPT_* bits are in set, from src (a command's VIP with them applied). */
static void vip_set_fields(struct lbd_vip_cfg *vip, const struct lbd_vip_cfg *src, uint64_t set)
{
	if (set & OPT_ANNOUNCE)
		vip->announce = src->announce;
	if (set & OPT_SCHED)
		vip->sched = src->sched;
	if (set & OPT_PERSIST)
		vip->persist_ms = src->persist_ms;
	if (set & OPT_PASSIVE) {
		vip->passive_n = src->passive_n;
		vip->passive_window_ms = src->passive_window_ms;
	}
	if (set & OPT_WEIGHTS)
		vip->weights = src->weights;
	if (set & OPT_AGENT_PORT)
		vip->agent_port = src->agent_port;
	if (set & OPT_AGENT_INTERVAL)
		vip->agent_interval_ms = src->agent_interval_ms;
	if (set & OPT_LIMIT_NEW_FLOWS)
		vip->limit_new_flows = src->limit_new_flows;
	if (set & OPT_LIMIT_BURST)
		vip->limit_burst = src->limit_burst;
	if (set & OPT_LIMIT_PPS)
		vip->limit_pps = src->limit_pps;
	if (set & OPT_LIMIT_PREFIX) {
		vip->limit_prefix4 = src->limit_prefix4;
		vip->limit_prefix6 = src->limit_prefix6;
	}
	if (set & OPT_ALLOW)
		memcpy(vip->acl.allow, src->acl.allow, sizeof(vip->acl.allow));
	if (set & OPT_DENY)
		memcpy(vip->acl.deny, src->acl.deny, sizeof(vip->acl.deny));
	/* A limit turned off takes its own settings along, unless given again. */
	if (!vip->limit_new_flows && !(set & OPT_LIMIT_BURST))
		vip->limit_burst = 0;
	if (!vip->limit_new_flows && !vip->limit_pps && !(set & OPT_LIMIT_PREFIX))
		vip->limit_prefix4 = vip->limit_prefix6 = 0;
}

/*
 * The per-source limits make sense together: a new-flow limit counts TCP
 * SYNs, so a UDP VIP has none; a burst or a prefix limit nothing alone.
 */
/* The lists read whole (their files too): refused as one, with what is wrong; sum says what they hold now. */
static int acl_check(struct lbd_acl_cfg *c, const char *whose, char *err, size_t len)
{
	struct lbd_acl acl;
	char why[LBD_ERR_LEN];
	uint64_t sum = 1469598103934665603ull;

	if (lbd_acl_build(c->allow, c->deny, &acl, why, sizeof(why)))
		return fail(err, len, "%s: %s", whose, why);
	for (size_t i = 0; i < acl.n; i++) {
		const unsigned char *b = (const unsigned char *)&acl.e[i];

		for (size_t j = 0; j < sizeof(acl.e[i]); j++)
			sum = (sum ^ b[j]) * 1099511628211ull;
	}
	c->sum = sum;
	lbd_acl_free(&acl);
	return 0;
}

static int vip_limits_check(struct lbd_vip_cfg *v, const char *vs, char *err, size_t len)
{
	char whose[96];

	snprintf(whose, sizeof(whose), "VIP %s", vs);
	if (acl_check(&v->acl, whose, err, len))
		return -EINVAL;
	if (v->limit_new_flows && v->proto != IPPROTO_TCP)
		return fail(err, len, "VIP %s: limit-new-flows counts TCP connections (SYNs), and this VIP is UDP: "
			    "use limit-pps", vs);
	if (v->limit_burst && !v->limit_new_flows)
		return fail(err, len, "VIP %s: limit-burst is the depth of the new-flow limit: give limit-new-flows "
			    "too", vs);
	if (v->limit_prefix4 && !v->limit_new_flows && !v->limit_pps)
		return fail(err, len, "VIP %s: limit-prefix says what one client of a limit is: give "
			    "limit-new-flows or limit-pps too", vs);
	return 0;
}

static void backend_apply_opts(struct lbd_backend_cfg *be, const struct opt_values *o)
{
	if (o->seen & OPT_WEIGHT)
		be->weight = o->weight;
	be->drain = o->seen & OPT_DRAIN;
	if (o->seen & OPT_ADMIN)
		be->admin = o->admin;
	check_apply_opts(&be->check, o);
}

static int parse_backend_addr(const char *text, struct lbd_backend_cfg *be, char *err, size_t len)
{
	memset(be, 0, sizeof(*be));
	be->weight = 1;
	if (lbd_addr_parse(text, &be->addr))
		return fail(err, len, "backend '%s' is not an IPv4 or IPv6 address", text);
	return 0;
}

/*
 * What the kernel takes as a name (dev_valid_name) and lbd.conf can hold:
 * the kernel allows '#' and '"', but in the file one starts a comment and
 * the other a quote, so the name would not read back.
 */
static int parse_ifname(const char *text, struct lbd_iface_cfg *iface, char *err, size_t len)
{
	char shown[IF_NAMESIZE];
	int ctl;

	if (!*text || strlen(text) >= IF_NAMESIZE || !strcmp(text, ".") || !strcmp(text, ".."))
		return fail(err, len, "'%.*s' is not an interface name (1 to %d characters, not . or ..)",
			    IF_NAMESIZE * 2, text, IF_NAMESIZE - 1);
	ctl = check_control_char(text, false);
	if (ctl >= 0) {
		check_printable(text, shown, sizeof(shown));
		return fail(err, len, "'%s' is not an interface name: it holds control character 0x%02x", shown, ctl);
	}
	for (const char *p = text; *p; p++) {
		if (*p == '/' || *p == ':' || *p == ' ')
			return fail(err, len, "'%s' is not an interface name: '%c' cannot be in one", text, *p);
		if (*p == '#' || *p == '"')
			return fail(err, len, "interface name '%s': lbd.conf cannot hold '%c' (it starts a %s there); "
				    "rename the interface: ip link set %s name NEW", text, *p,
				    *p == '#' ? "comment" : "quoted word", text);
	}
	memset(iface, 0, sizeof(*iface));
	strcpy(iface->name, text);
	return 0;
}

/* ---- VRRP ---- */

#define VRRP_DEFAULT_PRIORITY	100
#define VRRP_DEFAULT_ADVERT_CS	100
#define VRRP_DEFAULT_FAULT_DROP	50

/*
 * "vrid N priority P [advert D] [no-preempt] [preempt-delay D] [fault-drop N]
 * [vip ADDR...]" after the device, as the command gc takes them (vrrp add,
 * a vrrp line); cli: every name starts with "--". vrrp del: the VRID, and
 * addresses that name the family as they do for add (an IPv4 and an IPv6
 * router may share a VRID).
 */
static int parse_vrrp(int argc, char **argv, const struct grammar_cmd *gc, bool cli, struct lbd_vrrp_cfg *v,
		      char *err, size_t len)
{
	bool have_vrid = false;
	uint32_t n, ms;

	v->priority = VRRP_DEFAULT_PRIORITY;
	v->advert_cs = VRRP_DEFAULT_ADVERT_CS;
	v->fault_drop = VRRP_DEFAULT_FAULT_DROP;
	for (int i = 0; i < argc; i++) {
		int id = opt_lookup(argv[i], gc, cli, err, len);
		const char *val = i + 1 < argc ? argv[i + 1] : NULL;

		if (id < 0)
			return -EINVAL;
		if (id == GOPT_NO_PREEMPT) {
			v->no_preempt = true;
			continue;
		}
		if (id == GOPT_VMAC) {
			v->vmac = true;
			continue;
		}
		if (id == GOPT_VRRP_VIP) {
			int k = i + 1;
			struct lbd_addr a;

			/* Addresses up to the next option: "--" on the command line, a non-address in the file. */
			for (; k < argc && strncmp(argv[k], "--", 2) && (cli || !lbd_addr_parse(argv[k], &a)); k++) {
				if (lbd_addr_parse(argv[k], &a))
					return fail(err, len, "vrrp vip '%s' is not an IPv4 or IPv6 address", argv[k]);
				if (v->n_addrs && a.family != v->addrs[0].family)
					return fail(err, len, "vrrp vip %s: one virtual router holds IPv4 or IPv6 "
						    "addresses, not both (use two VRIDs)", argv[k]);
				if (v->n_addrs == LBD_VRRP_MAX_ADDRS)
					return fail(err, len, "vrrp takes at most %d vip addresses", LBD_VRRP_MAX_ADDRS);
				v->addrs[v->n_addrs++] = a;
			}
			if (k == i + 1)
				return fail(err, len, "'%s' needs one or more addresses", argv[i]);
			i = k - 1;
			continue;
		}
		if (!val)
			return fail(err, len, "'%s' needs a value: %s", argv[i], grammar_opts[id].hint);
		i++;
		switch (id) {
		case GOPT_VRID:
			if (parse_uint(val, 1, 255, &n))
				return fail(err, len, "vrid '%s' is not a number from 1 to 255", val);
			v->vrid = (uint8_t)n;
			have_vrid = true;
			break;
		case GOPT_PRIORITY:
			if (parse_uint(val, 1, 255, &n))
				return fail(err, len, "priority '%s' is not a number from 1 to 255 (255: address owner)", val);
			v->priority = (uint8_t)n;
			break;
		case GOPT_ADVERT:
			if (check_duration_parse(val, 10, 40950, &ms) || ms % 10)
				return fail(err, len, "advert '%s' is not a duration from 10ms to 40.95s in steps of 10ms", val);
			v->advert_cs = (uint16_t)(ms / 10);
			break;
		case GOPT_PREEMPT_DELAY:
			if (check_duration_parse(val, 0, 3600000, &ms))
				return fail(err, len, "preempt-delay '%s' is not a duration up to 1h (e.g. 5s)", val);
			v->preempt_delay_ms = ms;
			break;
		case GOPT_FAULT_DROP:
			if (parse_uint(val, 0, 254, &n))
				return fail(err, len, "fault-drop '%s' is not a number from 0 to 254", val);
			v->fault_drop = (uint8_t)n;
			break;
		}
	}
	if (!have_vrid)
		return fail(err, len, "vrrp needs a VRID: --vrid N (1-255)");
	if ((gc->required & GRAMMAR_BIT(GOPT_VRRP_VIP)) && !v->n_addrs)
		return fail(err, len, "vrrp needs the addresses it owns: --vip ADDR ...");
	if (v->n_addrs)
		v->family = v->addrs[0].family;
	if (v->vmac && v->family == XLB_AF_INET6)
		return fail(err, len, "vmac is supported for IPv4 virtual routers only: drop --vmac for this one");
	return 0;
}

static struct lbd_vrrp_cfg *vrrp_find(struct lbd_config *cfg, const char *dev, uint8_t vrid, uint8_t family)
{
	for (size_t i = 0; i < cfg->n_vrrp; i++)
		if (!strcmp(cfg->vrrp[i].dev, dev) && cfg->vrrp[i].vrid == vrid &&
		    (!family || cfg->vrrp[i].family == family))
			return &cfg->vrrp[i];
	return NULL;
}

static const char *family_name(uint8_t family)
{
	return family == XLB_AF_INET ? "IPv4" : "IPv6";
}

/* want: the device, the VRID, and any addresses given, which pick the family. */
static int vrrp_del(struct lbd_config *cfg, const struct lbd_vrrp_cfg *want, char *err, size_t len)
{
	struct lbd_vrrp_cfg *v4 = vrrp_find(cfg, want->dev, want->vrid, XLB_AF_INET);
	struct lbd_vrrp_cfg *v6 = vrrp_find(cfg, want->dev, want->vrid, XLB_AF_INET6), *v;
	char a[INET6_ADDRSTRLEN];

	if (!v4 && !v6)
		return fail(err, len, "no VRID %u on %s: see 'lbctl vrrp show'", want->vrid, want->dev);
	if (!want->family && v4 && v6) {
		lbd_addr_format(&v4->addrs[0], a, sizeof(a));
		return fail(err, len, "VRID %u on %s has an IPv4 and an IPv6 router: name one by an address it "
			    "holds, as in lbctl vrrp del %s --vrid %u --vip %s", want->vrid, want->dev, want->dev,
			    want->vrid, a);
	}
	v = !want->family ? (v4 ? v4 : v6) : want->family == XLB_AF_INET ? v4 : v6;
	if (!v)
		return fail(err, len, "no %s router with VRID %u on %s: see 'lbctl vrrp show'",
			    family_name(want->family), want->vrid, want->dev);
	for (size_t i = 0; i < want->n_addrs; i++) {
		size_t k = 0;

		while (k < v->n_addrs && !lbd_addr_eq(&v->addrs[k], &want->addrs[i]))
			k++;
		if (k == v->n_addrs) {
			lbd_addr_format(&want->addrs[i], a, sizeof(a));
			return fail(err, len, "the %s router of VRID %u on %s does not hold %s: see 'lbctl vrrp show'",
				    family_name(v->family), want->vrid, want->dev, a);
		}
	}
	*v = cfg->vrrp[--cfg->n_vrrp];
	return 0;
}

static void vrrp_write(FILE *f, const struct lbd_vrrp_cfg *v)
{
	char d[16], a[INET6_ADDRSTRLEN];

	check_duration_format(v->advert_cs * 10u, d, sizeof(d));
	fprintf(f, "vrrp %s vrid %u priority %u advert %s fault-drop %u", v->dev, v->vrid, v->priority, d,
		v->fault_drop);
	if (v->no_preempt)
		fprintf(f, " no-preempt");
	if (v->vmac)
		fprintf(f, " vmac");
	if (v->preempt_delay_ms) {
		check_duration_format(v->preempt_delay_ms, d, sizeof(d));
		fprintf(f, " preempt-delay %s", d);
	}
	fprintf(f, " vip");
	for (size_t i = 0; i < v->n_addrs; i++) {
		lbd_addr_format(&v->addrs[i], a, sizeof(a));
		fprintf(f, " %s", a);
	}
	fputc('\n', f);
}

/*
 * bgp bird-socket PATH include FILE [hold-down D] [withdraw-delay D]: both
 * paths absolute, since lbd runs from / and BIRD from wherever it was started.
 */
static int parse_bgp(int argc, char **argv, const struct grammar_cmd *gc, bool cli, struct lbd_bgp_cfg *b,
		     char *err, size_t len)
{
	uint32_t ms;

	memset(b, 0, sizeof(*b));
	b->hold_down_ms = LBD_BGP_HOLD_DOWN_MS;
	b->withdraw_delay_ms = LBD_BGP_WITHDRAW_DELAY_MS;
	for (int i = 0; i < argc; i += 2) {
		int id = opt_lookup(argv[i], gc, cli, err, len);
		const char *name, *val = i + 1 < argc ? argv[i + 1] : NULL;
		char *path = NULL;
		size_t size = 0;

		if (id < 0)
			return -EINVAL;
		name = grammar_opts[id].name;
		if (!val)
			return fail(err, len, "'%s' needs a value: %s", argv[i], grammar_opts[id].hint);
		if (id == GOPT_HOLD_DOWN || id == GOPT_WITHDRAW_DELAY) {
			bool hold = id == GOPT_HOLD_DOWN;

			if (check_duration_parse(val, 0, hold ? 3600000 : 300000, &ms))
				return fail(err, len, "%s '%s' is not a duration up to %s (e.g. %s)", name, val,
					    hold ? "1h" : "5m", hold ? "5s" : "2s");
			*(hold ? &b->hold_down_ms : &b->withdraw_delay_ms) = ms;
			continue;
		}
		path = id == GOPT_BIRD_SOCKET ? b->bird_socket : b->include;
		size = id == GOPT_BIRD_SOCKET ? sizeof(b->bird_socket) : sizeof(b->include);
		if (val[0] != '/')
			return fail(err, len, "%s '%s' is not an absolute path", name, val);
		if (strlen(val) >= size)
			return fail(err, len, "%s '%.40s...' is longer than %zu characters", name, val, size - 1);
		if (strpbrk(val, " \t\"#") || check_control_char(val, false) >= 0)
			return fail(err, len, "%s '%s' has a blank, a quote, a # or a control character: "
				    "choose a plainer path", name, val);
		strcpy(path, val);
	}
	if (!b->bird_socket[0] || !b->include[0])
		return fail(err, len, "bgp needs BIRD's control socket and the file its configuration "
			    "includes: %sbird-socket PATH %sinclude FILE", cli ? "--" : "", cli ? "--" : "");
	return 0;
}

static void bgp_write(FILE *f, const struct lbd_bgp_cfg *b)
{
	char hold[16], delay[16];

	check_duration_format(b->hold_down_ms, hold, sizeof(hold));
	check_duration_format(b->withdraw_delay_ms, delay, sizeof(delay));
	fprintf(f, "bgp bird-socket %s include %s hold-down %s withdraw-delay %s\n", b->bird_socket,
		b->include, hold, delay);
}

/* metrics listen ADDR:PORT: an IPv6 address in brackets, as in a URL. */
/* ADDR:PORT, an IPv6 address in brackets: "198.18.0.1:9100", "[2001:db8::1]:9100". */
static int parse_host_port(const char *what, const char *val, struct lbd_addr *addr, uint16_t *port_out, char *err,
			   size_t len)
{
	char host[INET6_ADDRSTRLEN + 2], *end;
	const char *colon;
	unsigned long port;

	colon = strrchr(val, ':');
	if (!colon || colon == val || strlen(val) > sizeof(host) + 6)
		return fail(err, len, "%s '%.60s' is not ADDR:PORT (e.g. 198.18.0.1:9100 or [2001:db8::1]:9100)",
			    what, val);
	errno = 0;
	port = strtoul(colon + 1, &end, 10);
	if (!colon[1] || *end || errno || port < 1 || port > 65535)
		return fail(err, len, "%s '%s': the port must be 1 to 65535", what, val);
	if (val[0] == '[' && colon[-1] == ']')
		snprintf(host, sizeof(host), "%.*s", (int)(colon - val - 2), val + 1);
	else
		snprintf(host, sizeof(host), "%.*s", (int)(colon - val), val);
	if (lbd_addr_parse(host, addr) || (addr->family == XLB_AF_INET6) != (val[0] == '['))
		return fail(err, len, "%s '%s': '%s' is not an IPv4 address or an IPv6 address in brackets",
			    what, val, host);
	*port_out = (uint16_t)port;
	return 0;
}

/* sync listen ADDR:PORT peers ADDR:PORT[,...] key-file FILE: flow sharing with the cluster's other nodes. */
static int parse_sync(int argc, char **argv, const struct grammar_cmd *gc, struct lbd_sync_cfg *sc, char *err,
		      size_t len)
{
	memset(sc, 0, sizeof(*sc));
	for (int i = 0; i < argc; i += 2) {
		int id = opt_lookup(argv[i], gc, false, err, len);
		const char *val = i + 1 < argc ? argv[i + 1] : NULL;

		if (id < 0)
			return -EINVAL;
		if (!val)
			return fail(err, len, "'%s' needs a value: %s", argv[i], grammar_opts[id].hint);
		if (id == GOPT_LISTEN) {
			if (parse_host_port("listen", val, &sc->addr, &sc->port, err, len))
				return -EINVAL;
		} else if (id == GOPT_KEY_FILE) {
			if (val[0] != '/' || strlen(val) >= sizeof(sc->key_file) || strpbrk(val, " \t\"#") ||
			    check_control_char(val, false) >= 0)
				return fail(err, len, "key-file '%.60s' is not an absolute path without blanks or quotes",
					    val);
			strcpy(sc->key_file, val);
		} else {
			char copy[512], *save = NULL;

			if (strlen(val) >= sizeof(copy))
				return fail(err, len, "peers '%.40s...' is too long", val);
			strcpy(copy, val);
			for (char *p = strtok_r(copy, ",", &save); p; p = strtok_r(NULL, ",", &save)) {
				if (sc->n_peers == LBD_SYNC_MAX_PEERS)
					return fail(err, len, "more than %d peers", LBD_SYNC_MAX_PEERS);
				if (parse_host_port("peer", p, &sc->peers[sc->n_peers].addr,
						    &sc->peers[sc->n_peers].port, err, len))
					return -EINVAL;
				sc->n_peers++;
			}
		}
	}
	if (!sc->port || !sc->n_peers || !sc->key_file[0])
		return fail(err, len, "sync needs where to listen, its peers and the shared key: sync listen ADDR:PORT "
			    "peers ADDR:PORT[,ADDR:PORT...] key-file FILE");
	for (size_t i = 0; i < sc->n_peers; i++)
		if (sc->peers[i].addr.family != sc->addr.family)
			return fail(err, len, "sync: peer %zu is of another family than the listen address", i + 1);
	return 0;
}

static int parse_metrics(int argc, char **argv, const struct grammar_cmd *gc, bool cli, struct lbd_metrics_cfg *m,
			 char *err, size_t len)
{
	const char *val = NULL;

	memset(m, 0, sizeof(*m));
	for (int i = 0; i < argc; i += 2) {
		if (opt_lookup(argv[i], gc, cli, err, len) < 0)
			return -EINVAL;
		if (val)
			return fail(err, len, "'%s' is given twice: metrics listens on one address", argv[i]);
		if (i + 1 >= argc)
			return fail(err, len, "'%s' needs a value: %s", argv[i], grammar_opts[GOPT_LISTEN].hint);
		val = argv[i + 1];
	}
	if (!val)
		return fail(err, len, "metrics needs the address to listen on: %slisten ADDR:PORT", cli ? "--" : "");
	return parse_host_port("listen", val, &m->addr, &m->port, err, len);
}

/* acl [allow LIST] [deny LIST]: the global lists; what is not given is no list. */
static int parse_acl(int argc, char **argv, const struct grammar_cmd *gc, bool cli, struct lbd_acl_cfg *acl,
		     char *err, size_t len)
{
	struct opt_values o;

	if (parse_opts(argc, argv, gc, cli, &o, err, len))
		return -EINVAL;
	if (!(o.seen & (OPT_ALLOW | OPT_DENY)))
		return fail(err, len, "acl needs a list: acl %sallow LIST and/or %sdeny LIST", cli ? "--" : "",
			    cli ? "--" : "");
	*acl = o.acl;
	return acl_check(acl, "the global lists", err, len);
}

void lbd_sync_format_listen(const struct lbd_sync_cfg *s, char *buf, size_t len)
{
	struct lbd_metrics_cfg m = { s->addr, s->port };

	lbd_metrics_format(&m, buf, len);
}

void lbd_metrics_format(const struct lbd_metrics_cfg *m, char *buf, size_t len)
{
	char a[INET6_ADDRSTRLEN];

	lbd_addr_format(&m->addr, a, sizeof(a));
	snprintf(buf, len, m->addr.family == XLB_AF_INET6 ? "[%s]:%u" : "%s:%u", a, m->port);
}

/* ---- lbctl commands ---- */

#define USAGE_VIP "ADDR:PORT/tcp|udp"

/* SRC of lbctl trace: ADDR or ADDR:PORT, IPv6 as [ADDR]:PORT; read as a VIP's words. */
static int parse_trace_src(const char *text, struct lbd_trace_cmd *t, char *err, size_t len)
{
	char buf[INET6_ADDRSTRLEN + 24], ignored[LBD_ERR_LEN];
	const char *colon = strchr(text, ':');
	bool v6 = colon && colon != strrchr(text, ':');
	struct lbd_vip_cfg v;

	if (text[0] != '[' && (!colon || v6))
		snprintf(buf, sizeof(buf), "%s%.*s%s:%u/tcp", v6 ? "[" : "", INET6_ADDRSTRLEN, text, v6 ? "]" : "",
			 LBD_TRACE_SPORT);
	else
		snprintf(buf, sizeof(buf), "%.*s/tcp", INET6_ADDRSTRLEN + 8, text);
	if (lbd_vip_parse(buf, &v, ignored, sizeof(ignored)))
		return fail(err, len, "trace: source '%s' is not ADDR or ADDR:PORT (IPv6 as [ADDR]:PORT)", text);
	t->src = v.addr;
	t->sport = v.port;
	return 0;
}

/* trace SRC[:PORT] DST:PORT/PROTO [--syn], or trace --file FLOWS */
static int parse_trace(int argc, char **argv, const struct grammar_cmd *gc, struct lbd_cmd *cmd, char *err,
		       size_t len)
{
	struct lbd_trace_cmd *t = &cmd->trace;
	const char *words[2];
	int n = 0;

	cmd->kind = CMD_TRACE;
	for (int i = 0; i < argc; i++) {
		int id;

		if (strncmp(argv[i], "--", 2)) {
			if (n == 2)
				return fail(err, len, "trace: unexpected '%s': lbctl trace SRC[:PORT] DST:PORT/PROTO "
					    "[--syn]", argv[i]);
			words[n++] = argv[i];
			continue;
		}
		id = opt_lookup(argv[i], gc, true, err, len);
		if (id < 0)
			return -EINVAL;
		if (id == GOPT_SYN) {
			t->syn = true;
			continue;
		}
		if (i + 1 >= argc || argv[i + 1][0] != '/' || strlen(argv[i + 1]) >= sizeof(t->file))
			return fail(err, len, "'%s' needs a value: %s", argv[i], grammar_opts[id].hint);
		strcpy(t->file, argv[++i]);
	}
	/* grammar_opts[GOPT_FLOWS].instead_of_args */
	if (t->file[0])
		return n || t->syn ? fail(err, len, "trace --file takes no flow on the command line: each line of "
					  "%s is one, as 'SRC[:PORT] DST:PORT/PROTO [--syn]'", t->file) : 0;
	if (n < 2)
		return fail(err, len, "trace needs a flow: lbctl trace SRC[:PORT] DST:PORT/PROTO [--syn]");
	if (parse_trace_src(words[0], t, err, len) || lbd_vip_parse(words[1], &cmd->vip, err, len))
		return -EINVAL;
	if (t->src.family != cmd->vip.addr.family)
		return fail(err, len, "trace: source %s and destination %s are of different address families",
			    words[0], words[1]);
	if (t->syn && cmd->vip.proto != IPPROTO_TCP)
		return fail(err, len, "trace: --syn is for TCP; %s is UDP", words[1]);
	return 0;
}

/* A setting with set, del and show (bgp, metrics): 1 when it is set and its options follow. */
static int set_del_show(int argc, const char *obj, const char *verb, enum lbd_cmd_kind set, enum lbd_cmd_kind del,
			enum lbd_cmd_kind show, struct lbd_cmd *cmd, char *err, size_t len)
{
	if (!strcmp(verb, "show") || !strcmp(verb, "del")) {
		cmd->kind = verb[0] == 's' ? show : del;
		return argc == 2 ? 0 : fail(err, len, "%s %s takes no arguments; see 'lbctl help'", obj, verb);
	}
	if (strcmp(verb, "set"))
		return fail(err, len, "unknown '%s %s': use %s set|del|show", obj, verb, obj);
	cmd->kind = set;
	return 1;
}

int lbd_cmd_parse(int argc, char **argv, struct lbd_cmd *cmd, char *err, size_t len)
{
	const char *obj = argc > 0 ? argv[0] : "", *verb = argc > 1 ? argv[1] : "";
	/* The command's row of the grammar: which options it takes. */
	const struct grammar_cmd *gc = grammar_cmd_find(obj, verb, GW_LBD);
	struct opt_values o;
	int ret;

	memset(cmd, 0, sizeof(*cmd));
	if (!argc)
		return fail(err, len, "no command: try 'lbctl help'");
	if (!strcmp(obj, "attach") || !strcmp(obj, "detach")) {
		cmd->kind = !strcmp(obj, "attach") ? CMD_ATTACH : CMD_DETACH;
		if (argc < 2)
			return fail(err, len, "%s needs an interface: lbctl %s DEV", obj, obj);
		if (parse_ifname(argv[1], &cmd->iface, err, len) ||
		    parse_opts(argc - 2, argv + 2, gc, true, &o, err, len))
			return -EINVAL;
		cmd->iface.mode = o.xdp_mode;
		return 0;
	}
	if (!strcmp(obj, "vip")) {
		if (!strcmp(verb, "list")) {
			cmd->kind = CMD_VIP_LIST;
			return argc == 2 ? 0 : fail(err, len, "vip list takes no arguments; see 'lbctl help'");
		}
		if (strcmp(verb, "add") && strcmp(verb, "del") && strcmp(verb, "set"))
			return fail(err, len, "unknown 'vip %s': use vip add|set|del|list", verb);
		cmd->kind = !strcmp(verb, "add") ? CMD_VIP_ADD : !strcmp(verb, "set") ? CMD_VIP_SET : CMD_VIP_DEL;
		if (argc < 3)
			return fail(err, len, "vip %s needs a VIP: lbctl vip %s " USAGE_VIP, verb, verb);
		if (lbd_vip_parse(argv[2], &cmd->vip, err, len) ||
		    parse_opts(argc - 3, argv + 3, gc, true, &o, err, len))
			return -EINVAL;
		if (cmd->kind == CMD_VIP_SET && !o.seen)
			return fail(err, len, "vip set needs a change: --announce, --sched, --persist, --passive, "
				    "--weights, --agent-port, --agent-interval or a --limit-*");
		vip_apply_opts(&cmd->vip, &o);
		cmd->set_vip = o.seen;
		return 0;
	}
	if (!strcmp(obj, "persist")) {
		if (strcmp(verb, "show") && strcmp(verb, "flush"))
			return fail(err, len, "unknown 'persist %s': use persist show|flush VIP", verb);
		cmd->kind = !strcmp(verb, "show") ? CMD_PERSIST_SHOW : CMD_PERSIST_FLUSH;
		if (argc < 3)
			return fail(err, len, "persist %s needs a VIP: lbctl persist %s " USAGE_VIP, verb, verb);
		if (argc > 3)
			return fail(err, len, "persist %s takes only a VIP; see 'lbctl help'", verb);
		return lbd_vip_parse(argv[2], &cmd->vip, err, len) ? -EINVAL : 0;
	}
	if (!strcmp(obj, "backend")) {
		static const char *const verbs[] = { "add", "set", "del", "list" };
		static const enum lbd_cmd_kind kinds[] = { CMD_BACKEND_ADD, CMD_BACKEND_SET,
							   CMD_BACKEND_DEL, CMD_BACKEND_LIST };
		size_t k;

		for (k = 0; k < 4 && strcmp(verb, verbs[k]); k++)
			;
		if (k == 4)
			return fail(err, len, "unknown 'backend %s': use backend add|set|del|list", verb);
		cmd->kind = kinds[k];
		if (argc < 3 || (cmd->kind != CMD_BACKEND_LIST && argc < 4))
			return fail(err, len, "backend %s needs %s: lbctl backend %s " USAGE_VIP "%s", verb,
				    cmd->kind == CMD_BACKEND_LIST ? "a VIP" : "a VIP and a backend address",
				    verb, cmd->kind == CMD_BACKEND_LIST ? "" : " BACKEND_ADDR");
		if (lbd_vip_parse(argv[2], &cmd->vip, err, len))
			return -EINVAL;
		if (cmd->kind == CMD_BACKEND_LIST)
			return argc == 3 ? 0 : fail(err, len, "backend list takes only a VIP; see 'lbctl help'");
		if (parse_backend_addr(argv[3], &cmd->backend, err, len) ||
		    parse_opts(argc - 4, argv + 4, gc, true, &o, err, len))
			return -EINVAL;
		if (o.seen & OPT_WEIGHT)
			cmd->backend.weight = o.weight;
		check_apply_opts(&cmd->backend.check, &o);
		cmd->set_weight = o.seen & OPT_WEIGHT;
		cmd->set_drain = o.seen & OPT_DRAIN;
		cmd->set_enable = o.seen & OPT_ENABLE;
		cmd->set_check = o.seen & OPT_CHECKS;
		cmd->set_admin = o.seen & (OPT_UP | OPT_DOWN | OPT_AUTO);
		cmd->backend.admin = o.seen & OPT_UP ? LBD_ADMIN_UP : o.seen & OPT_DOWN ? LBD_ADMIN_DOWN
							: LBD_ADMIN_AUTO;
		if (cmd->kind == CMD_BACKEND_SET) {
			int n = !!cmd->set_weight + !!cmd->set_drain + !!cmd->set_enable + !!cmd->set_check +
				__builtin_popcountll(o.seen & (OPT_UP | OPT_DOWN | OPT_AUTO));

			if (!n)
				return fail(err, len, "backend set needs a change: --weight W, --drain, --enable, "
					    "--up, --down, --auto or check options (--check, --interval, ...)");
			if (!!cmd->set_drain + !!cmd->set_enable > 1 ||
			    __builtin_popcountll(o.seen & (OPT_UP | OPT_DOWN | OPT_AUTO)) > 1)
				return fail(err, len, "backend set: --drain and --enable, or --up, --down and "
					    "--auto, exclude each other");
		}
		return 0;
	}
	if (!strcmp(obj, "vrrp")) {
		if (!strcmp(verb, "show")) {
			cmd->kind = CMD_VRRP_SHOW;
			return argc == 2 ? 0 : fail(err, len, "vrrp show takes no arguments; see 'lbctl help'");
		}
		if (strcmp(verb, "add") && strcmp(verb, "del"))
			return fail(err, len, "unknown 'vrrp %s': use vrrp add|del|show", verb);
		cmd->kind = !strcmp(verb, "add") ? CMD_VRRP_ADD : CMD_VRRP_DEL;
		if (argc < 3 || !strncmp(argv[2], "--", 2))
			return fail(err, len, "vrrp %s needs an interface: lbctl vrrp %s DEV --vrid N ...", verb, verb);
		if (parse_ifname(argv[2], &cmd->iface, err, len))
			return -EINVAL;
		strcpy(cmd->vrrp.dev, cmd->iface.name);
		return parse_vrrp(argc - 3, argv + 3, gc, true, &cmd->vrrp, err, len);
	}
	if (!strcmp(obj, "bgp")) {
		ret = set_del_show(argc, obj, verb, CMD_BGP_SET, CMD_BGP_DEL, CMD_BGP_SHOW, cmd, err, len);
		return ret > 0 ? parse_bgp(argc - 2, argv + 2, gc, true, &cmd->bgp, err, len) : ret;
	}
	if (!strcmp(obj, "metrics")) {
		ret = set_del_show(argc, obj, verb, CMD_METRICS_SET, CMD_METRICS_DEL, CMD_METRICS_SHOW, cmd, err, len);
		return ret > 0 ? parse_metrics(argc - 2, argv + 2, gc, true, &cmd->metrics, err, len) : ret;
	}
	if (!strcmp(obj, "acl")) {
		ret = set_del_show(argc, obj, verb, CMD_ACL_SET, CMD_ACL_DEL, CMD_ACL_SHOW, cmd, err, len);
		return ret > 0 ? parse_acl(argc - 2, argv + 2, gc, true, &cmd->acl, err, len) : ret;
	}
	if (!strcmp(obj, "sync")) {
		if (strcmp(verb, "show"))
			return fail(err, len, "unknown 'sync %s': use sync show (the sync line of lbd.conf sets it up)",
				    verb);
		cmd->kind = CMD_SYNC_SHOW;
		return argc == 2 ? 0 : fail(err, len, "sync show takes no arguments; see 'lbctl help'");
	}
	if (!strcmp(obj, "show") || !strcmp(obj, "stats") || !strcmp(obj, "top")) {
		cmd->kind = !strcmp(obj, "show") ? CMD_SHOW : !strcmp(obj, "stats") ? CMD_STATS : CMD_TOP;
		return argc == 1 ? 0 : fail(err, len, "%s takes no arguments; see 'lbctl help'", obj);
	}
	if (!strcmp(obj, "trace"))
		return parse_trace(argc - 1, argv + 1, gc, cmd, err, len);
	if (!strcmp(obj, "config")) {
		if (!strcmp(verb, "show"))
			cmd->kind = CMD_CONFIG_SHOW;
		else if (!strcmp(verb, "reload"))
			cmd->kind = CMD_CONFIG_RELOAD;
		else
			return fail(err, len, "use: lbctl config show|reload");
		return argc == 2 ? 0 : fail(err, len, "config %s takes no arguments; see 'lbctl help'", verb);
	}
	return fail(err, len, "unknown command '%s': try 'lbctl help'", obj);
}

static int vip_append(struct lbd_config *cfg, const struct lbd_vip_cfg *vip)
{
	struct lbd_vip_cfg *v = realloc(cfg->vips, (cfg->n_vips + 1) * sizeof(*v));

	if (!v)
		return -ENOMEM;
	cfg->vips = v;
	v[cfg->n_vips] = *vip;
	v[cfg->n_vips].backends = NULL;
	v[cfg->n_vips].n_backends = 0;
	cfg->n_vips++;
	return 0;
}

static int backend_append(struct lbd_vip_cfg *vip, const struct lbd_backend_cfg *be)
{
	struct lbd_backend_cfg *b = realloc(vip->backends, (vip->n_backends + 1) * sizeof(*b));

	if (!b)
		return -ENOMEM;
	vip->backends = b;
	b[vip->n_backends++] = *be;
	return 0;
}

/* The check this backend would run under this VIP must make sense. */
static int validate_backend(const struct lbd_vip_cfg *vip, const struct lbd_backend_cfg *be, char *err,
			    size_t len)
{
	struct lbd_check c;

	check_merge(&vip->check, &be->check, vip->proto, vip->port, &c);
	return check_validate(&c, vip->port, err, len);
}

int lbd_cmd_apply(struct lbd_config *cfg, const struct lbd_cmd *cmd, char *err, size_t len)
{
	char vs[80], bs[INET6_ADDRSTRLEN];
	struct lbd_vip_cfg *vip = NULL;
	struct lbd_backend_cfg *be = NULL;

	lbd_vip_format(&cmd->vip, vs, sizeof(vs));
	lbd_addr_format(&cmd->backend.addr, bs, sizeof(bs));
	if ((cmd->kind >= CMD_VIP_ADD && cmd->kind <= CMD_BACKEND_LIST && cmd->kind != CMD_VIP_LIST) ||
	    cmd->kind == CMD_VIP_SET)
		vip = lbd_vip_find(cfg, &cmd->vip);
	if (vip && cmd->kind >= CMD_BACKEND_ADD && cmd->kind <= CMD_BACKEND_DEL)
		be = lbd_backend_find(vip, &cmd->backend.addr);

	switch (cmd->kind) {
	case CMD_ATTACH:
		for (size_t i = 0; i < cfg->n_ifaces; i++)
			if (!strcmp(cfg->ifaces[i].name, cmd->iface.name))
				return fail(err, len, "%s is already attached: lbctl detach %s first to change it",
					    cmd->iface.name, cmd->iface.name);
		if (cfg->n_ifaces == LBD_MAX_IFACES)
			return fail(err, len, "already attached to %d interfaces, the most lbd handles",
				    LBD_MAX_IFACES);
		cfg->ifaces[cfg->n_ifaces++] = cmd->iface;
		return 0;
	case CMD_DETACH:
		for (size_t i = 0; i < cfg->n_ifaces; i++)
			if (!strcmp(cfg->ifaces[i].name, cmd->iface.name)) {
				cfg->ifaces[i] = cfg->ifaces[--cfg->n_ifaces];
				return 0;
			}
		return fail(err, len, "%s is not attached: see 'lbctl show'", cmd->iface.name);
	case CMD_VIP_ADD: {
		if (vip)
			return fail(err, len, "VIP %s exists already: lbctl vip del %s first to change it", vs, vs);
		if (cfg->n_vips == XLB_MAX_VIPS)
			return fail(err, len, "already %d VIPs, the most xlb handles", XLB_MAX_VIPS);
		if (validate_backend(&cmd->vip, &(struct lbd_backend_cfg){ 0 }, err, len))
			return -EINVAL;
		if (cmd->vip.weights == LBD_WEIGHTS_AGENT && !cmd->vip.agent_port)
			return fail(err, len, "VIP %s: agent-port is required with weights agent: add agent-port N", vs);
		struct lbd_vip_cfg added = cmd->vip;

		if (vip_limits_check(&added, vs, err, len))
			return -EINVAL;
		return vip_append(cfg, &added);
	}
	case CMD_VIP_SET: {
		struct lbd_vip_cfg trial;

		if (!vip)
			return fail(err, len, "VIP %s does not exist: see 'lbctl vip list'", vs);
		/* On a copy first: a change refused leaves the VIP as it was. */
		trial = *vip;
		vip_set_fields(&trial, &cmd->vip, cmd->set_vip);
		if (lbd_sched_xlb(trial.sched) != XLB_SCHED_RING && trial.n_backends > XLB_SCHED_MAX_BACKENDS)
			return fail(err, len, "VIP %s has %zu backends: sched %s takes at most %d", vs,
				    trial.n_backends, lbd_sched_name(trial.sched), XLB_SCHED_MAX_BACKENDS);
		if (trial.weights == LBD_WEIGHTS_AGENT && !trial.agent_port)
			return fail(err, len, "VIP %s: agent-port is required with weights agent: add --agent-port N",
				    vs);
		if (vip_limits_check(&trial, vs, err, len))
			return -EINVAL;
		*vip = trial;
		return 0;
	}
	case CMD_BGP_SET:
		cfg->bgp = cmd->bgp;
		return 0;
	case CMD_BGP_DEL:
		if (!cfg->bgp.bird_socket[0])
			return fail(err, len, "no bgp is set: see 'lbctl bgp show'");
		memset(&cfg->bgp, 0, sizeof(cfg->bgp));
		return 0;
	case CMD_METRICS_SET:
		cfg->metrics = cmd->metrics;
		return 0;
	case CMD_ACL_SET:
		cfg->acl = cmd->acl;
		return 0;
	case CMD_ACL_DEL:
		if (!cfg->acl.allow[0] && !cfg->acl.deny[0])
			return fail(err, len, "no global allow or deny list is set: see 'lbctl acl show'");
		memset(&cfg->acl, 0, sizeof(cfg->acl));
		return 0;
	case CMD_METRICS_DEL:
		if (!cfg->metrics.port)
			return fail(err, len, "no metrics listen address is set: see 'lbctl metrics show'");
		memset(&cfg->metrics, 0, sizeof(cfg->metrics));
		return 0;
	case CMD_VIP_DEL:
		if (!vip)
			return fail(err, len, "VIP %s does not exist: see 'lbctl vip list'", vs);
		free(vip->backends);
		*vip = cfg->vips[--cfg->n_vips];
		return 0;
	case CMD_BACKEND_ADD:
		if (!vip)
			return fail(err, len, "VIP %s does not exist: lbctl vip add %s first", vs, vs);
		if (be)
			return fail(err, len, "backend %s is already in VIP %s: use lbctl backend set", bs, vs);
		if (lbd_sched_xlb(vip->sched) != XLB_SCHED_RING && vip->n_backends >= XLB_SCHED_MAX_BACKENDS)
			return fail(err, len, "VIP %s: sched %s takes at most %d backends; sched maglev takes more",
				    vs, lbd_sched_name(vip->sched), XLB_SCHED_MAX_BACKENDS);
		if (validate_backend(vip, &cmd->backend, err, len))
			return -EINVAL;
		return backend_append(vip, &cmd->backend);
	case CMD_BACKEND_SET:
	case CMD_BACKEND_DEL:
		if (!vip)
			return fail(err, len, "VIP %s does not exist: see 'lbctl vip list'", vs);
		if (!be)
			return fail(err, len, "backend %s is not in VIP %s: see 'lbctl backend list %s'", bs, vs, vs);
		if (cmd->kind == CMD_BACKEND_DEL) {
			*be = vip->backends[--vip->n_backends];
			return 0;
		}
		if (cmd->set_check) {
			struct opt_values o = { .seen = cmd->set_check, .check = cmd->backend.check };
			struct lbd_backend_cfg trial = *be;

			check_apply_opts(&trial.check, &o);
			if (validate_backend(vip, &trial, err, len))
				return -EINVAL;
			be->check = trial.check;
		}
		if (cmd->set_weight)
			be->weight = cmd->backend.weight;
		if (cmd->set_drain || cmd->set_enable)
			be->drain = cmd->set_drain;
		if (cmd->set_admin)
			be->admin = cmd->backend.admin;
		return 0;
	case CMD_BACKEND_LIST:
		return vip ? 0 : fail(err, len, "VIP %s does not exist: see 'lbctl vip list'", vs);
	case CMD_VRRP_ADD: {
		const struct lbd_vrrp_cfg *v = vrrp_find(cfg, cmd->vrrp.dev, cmd->vrrp.vrid, cmd->vrrp.family);

		if (v) {
			lbd_addr_format(&v->addrs[0], bs, sizeof(bs));
			return fail(err, len, "VRID %u on %s exists already: lbctl vrrp del %s --vrid %u --vip %s first",
				    v->vrid, v->dev, v->dev, v->vrid, bs);
		}
		if (cfg->n_vrrp == LBD_MAX_VRRP)
			return fail(err, len, "already %d virtual routers, the most lbd runs", LBD_MAX_VRRP);
		cfg->vrrp[cfg->n_vrrp++] = cmd->vrrp;
		return 0;
	}
	case CMD_VRRP_DEL:
		return vrrp_del(cfg, &cmd->vrrp, err, len);
	default:
		return 0;
	}
}

/* ---- the file ---- */

/*
 * Words separated by blanks; "double quotes" keep blanks inside one word
 * (an exec check's command). # starts a comment outside quotes.
 * Returns the count, -1 for too many words, -2 for an unclosed quote.
 */
static int split(char *line, char **words)
{
	int n = 0;
	char *p = line;

	for (;;) {
		while (*p == ' ' || *p == '\t' || *p == '\r' || *p == '\n')
			p++;
		if (!*p || *p == '#')
			return n;
		if (n == MAX_WORDS)
			return -1;
		if (*p == '"') {
			char *end = strchr(++p, '"');

			if (!end)
				return -2;
			words[n++] = p;
			*end = 0;
			p = end + 1;
			continue;
		}
		words[n++] = p;
		while (*p && !strchr(" \t\r\n#", *p))
			p++;
		if (*p == '#') {
			*p = 0;
			return n;
		}
		if (*p)
			*p++ = 0;
	}
}

int lbd_cluster_cfg_check(const struct lbd_cluster_cfg *c, char *err, size_t len)
{
	size_t n = strlen(c->name);

	if (!n || n >= LBD_CLUSTER_NAME_LEN || strspn(c->name, "abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ"
							     "0123456789._-") != n)
		return fail(err, len, "cluster name '%.70s' must be 1 to %d letters, digits, '.', '_' or '-'", c->name,
			    LBD_CLUSTER_NAME_LEN - 1);
	if (!c->etcd[0])
		return fail(err, len, "cluster %s needs etcd's URLs: etcd http://HOST:2379[,http://...]", c->name);
	for (const char *u = c->etcd; u; u = strchr(u, ',') ? strchr(u, ',') + 1 : NULL)
		if (strncmp(u, "http://", 7) && strncmp(u, "https://", 8))
			return fail(err, len, "etcd URL '%.*s' is not http://HOST:PORT or https://HOST:PORT",
				    (int)(strchr(u, ',') ? (size_t)(strchr(u, ',') - u) : strlen(u)), u);
	if (strpbrk(c->etcd, " \t\"#") || check_control_char(c->etcd, false) >= 0)
		return fail(err, len, "etcd URLs '%.80s' hold a blank, a quote, a # or a control character", c->etcd);
	if (c->cache[0] && (c->cache[0] != '/' || strpbrk(c->cache, " \t\"#") ||
			    check_control_char(c->cache, false) >= 0))
		return fail(err, len, "cache '%.80s' is not an absolute path without blanks or quotes", c->cache);
	return 0;
}

static int parse_cluster(int argc, char **argv, const struct grammar_cmd *gc, struct lbd_cluster_cfg *c,
			 char *err, size_t len)
{
	memset(c, 0, sizeof(*c));
	if (argc < 1 || grammar_opt_find(argv[0]) >= 0)
		return fail(err, len, "cluster needs its name: cluster NAME etcd URL[,URL...] [cache FILE]");
	if (strlen(argv[0]) >= sizeof(c->name))
		return fail(err, len, "cluster name '%.40s...' is longer than %zu characters", argv[0],
			    sizeof(c->name) - 1);
	strcpy(c->name, argv[0]);
	for (int i = 1; i < argc; i += 2) {
		int id = opt_lookup(argv[i], gc, false, err, len);
		char *dst;
		size_t size;

		if (id < 0)
			return -EINVAL;
		if (i + 1 >= argc)
			return fail(err, len, "'%s' needs a value: %s", argv[i], grammar_opts[id].hint);
		dst = id == GOPT_ETCD ? c->etcd : c->cache;
		size = id == GOPT_ETCD ? sizeof(c->etcd) : sizeof(c->cache);
		if (strlen(argv[i + 1]) >= size)
			return fail(err, len, "%s '%.40s...' is longer than %zu characters", argv[i], argv[i + 1],
				    size - 1);
		strcpy(dst, argv[i + 1]);
	}
	return lbd_cluster_cfg_check(c, err, len);
}

static int parse_line(struct lbd_config *cfg, int n, char **w, char *err, size_t len)
{
	/* The line's row of the grammar: which options it takes. */
	const struct grammar_cmd *gc = grammar_cmd_find(w[0], NULL, GW_FILE);
	struct opt_values o;
	uint32_t v;

	if (!strcmp(w[0], "conn-table-size") || !strcmp(w[0], "mtu")) {
		bool conn = w[0][0] == 'c';

		if (n != 2 || parse_uint(w[1], conn ? CONN_MIN : 576, conn ? CONN_MAX : 9216, &v))
			return fail(err, len, "%s takes one number from %u to %u", w[0],
				    conn ? CONN_MIN : 576, conn ? CONN_MAX : 9216);
		if (conn)
			cfg->conn_table_size = v;
		else
			cfg->mtu = (uint16_t)v;
		return 0;
	}
	if (!strcmp(w[0], "conn-timeout")) {
		if (n != 2 || parse_uint(w[1], 1, CONN_TIMEOUT_MAX, &v))
			return fail(err, len, "conn-timeout takes seconds from 1 to %u", CONN_TIMEOUT_MAX);
		cfg->conn_timeout = v;
		return 0;
	}
	if (!strcmp(w[0], "ipip-source")) {
		struct lbd_addr a;

		if (n < 2 || lbd_addr_parse(w[1], &a))
			return fail(err, len, "ipip-source takes an address: ipip-source ADDR [entropy-bits N]");
		if (parse_opts(n - 2, w + 2, gc, false, &o, err, len))
			return -EINVAL;
		if (a.family == XLB_AF_INET) {
			cfg->ipip_src4 = a;
			cfg->entropy4 = o.entropy;
		} else {
			cfg->ipip_src6 = a;
			cfg->entropy6 = o.entropy;
		}
		return 0;
	}
	if (!strcmp(w[0], "attach")) {
		struct lbd_cmd cmd = { .kind = CMD_ATTACH };

		if (n < 2 || parse_ifname(w[1], &cmd.iface, err, len) ||
		    parse_opts(n - 2, w + 2, gc, false, &o, err, len))
			return n < 2 ? fail(err, len, "attach needs an interface: attach DEV") : -EINVAL;
		cmd.iface.mode = o.xdp_mode;
		return lbd_cmd_apply(cfg, &cmd, err, len);
	}
	if (!strcmp(w[0], "vip")) {
		struct lbd_cmd cmd = { .kind = CMD_VIP_ADD };

		if (n < 2)
			return fail(err, len, "vip needs an address: vip " USAGE_VIP " [forward dsr|ipip] ...");
		if (lbd_vip_parse(w[1], &cmd.vip, err, len) ||
		    parse_opts(n - 2, w + 2, gc, false, &o, err, len))
			return -EINVAL;
		vip_apply_opts(&cmd.vip, &o);
		return lbd_cmd_apply(cfg, &cmd, err, len);
	}
	if (!strcmp(w[0], "backend")) {
		struct lbd_cmd cmd = { .kind = CMD_BACKEND_ADD };

		if (!cfg->n_vips)
			return fail(err, len, "backend before any vip: put backends under their 'vip' line");
		if (n < 2 || parse_backend_addr(w[1], &cmd.backend, err, len) ||
		    parse_opts(n - 2, w + 2, gc, false, &o, err, len))
			return n < 2 ? fail(err, len, "backend needs an address: backend ADDR [weight W] [drain]") : -EINVAL;
		backend_apply_opts(&cmd.backend, &o);
		cmd.vip = cfg->vips[cfg->n_vips - 1];
		return lbd_cmd_apply(cfg, &cmd, err, len);
	}
	if (!strcmp(w[0], "vrrp")) {
		struct lbd_cmd cmd = { .kind = CMD_VRRP_ADD };

		if (n < 2 || parse_ifname(w[1], &cmd.iface, err, len))
			return n < 2 ? fail(err, len, "vrrp needs an interface: vrrp DEV vrid N ...") : -EINVAL;
		strcpy(cmd.vrrp.dev, w[1]);
		if (parse_vrrp(n - 2, w + 2, gc, false, &cmd.vrrp, err, len))
			return -EINVAL;
		return lbd_cmd_apply(cfg, &cmd, err, len);
	}
	if (!strcmp(w[0], "bgp"))
		return parse_bgp(n - 1, w + 1, gc, false, &cfg->bgp, err, len);
	if (!strcmp(w[0], "metrics"))
		return parse_metrics(n - 1, w + 1, gc, false, &cfg->metrics, err, len);
	if (!strcmp(w[0], "acl")) {
		if (cfg->acl.allow[0] || cfg->acl.deny[0])
			return fail(err, len, "acl is given twice: one line holds both global lists");
		return parse_acl(n - 1, w + 1, gc, false, &cfg->acl, err, len);
	}
	if (!strcmp(w[0], "sync")) {
		if (cfg->sync.port)
			return fail(err, len, "a second sync line: one listen address, all peers on one line");
		return parse_sync(n - 1, w + 1, gc, &cfg->sync, err, len);
	}
	if (!strcmp(w[0], "cluster")) {
		if (cfg->cluster.name[0])
			return fail(err, len, "a second cluster line: a node belongs to one cluster");
		return parse_cluster(n - 1, w + 1, gc, &cfg->cluster, err, len);
	}
	return fail(err, len, "unknown keyword '%s' (expected vip, backend, attach, vrrp, bgp, metrics, acl, cluster, sync, "
		    "ipip-source, mtu, conn-table-size or conn-timeout)", w[0]);
}

/* only_vips: a cluster's text from etcd, where a node's own lines do not belong. */
static int parse_file(FILE *f, const char *name, bool only_vips, struct lbd_config *cfg, char *err,
		      size_t err_len)
{
	char line[1024], *words[MAX_WORDS], why[LBD_ERR_LEN];
	int lineno = 0, n, vip_line = 0;

	lbd_config_init(cfg);
	while (fgets(line, sizeof(line), f)) {
		lineno++;
		if (!strchr(line, '\n') && !feof(f)) {
			snprintf(why, sizeof(why), "line longer than %zu characters", sizeof(line) - 2);
			goto bad;
		}
		n = split(line, words);
		if (n == -2) {
			snprintf(why, sizeof(why), "a quote \" is not closed");
			goto bad;
		}
		if (n < 0) {
			snprintf(why, sizeof(why), "more than %d words on one line", MAX_WORDS);
			goto bad;
		}
		if (n && only_vips && strcmp(words[0], "vip") && strcmp(words[0], "backend")) {
			snprintf(why, sizeof(why), "'%.40s' is a node's own setting: only vip and backend lines belong "
				 "in the cluster's configuration (put it in the node's lbd.conf)", words[0]);
			goto bad;
		}
		if (n && !vip_line && !strcmp(words[0], "vip"))
			vip_line = lineno;
		if (n && parse_line(cfg, n, words, why, sizeof(why)))
			goto bad;
	}
	if (cfg->cluster.name[0] && vip_line) {
		lineno = vip_line;
		snprintf(why, sizeof(why), "in cluster %s the VIPs come from etcd, not from this file: put the vip "
			 "and backend lines in etcd (lbctl or etcdctl), or drop the cluster line", cfg->cluster.name);
		goto bad;
	}
	return 0;
bad:
	snprintf(err, err_len, "%s:%d: %s", name, lineno, why);
	lbd_config_free(cfg);
	return -EINVAL;
}

int lbd_config_parse(FILE *f, const char *name, struct lbd_config *cfg, char *err, size_t err_len)
{
	return parse_file(f, name, false, cfg, err, err_len);
}

int lbd_config_parse_vips(const char *text, size_t len, const char *name, struct lbd_config *cfg, char *err,
			  size_t err_len)
{
	FILE *f;
	int ret;

	if (memchr(text, 0, len)) {
		lbd_config_init(cfg);
		return snprintf(err, err_len, "%s: holds a NUL byte: not a configuration", name), -EINVAL;
	}
	f = len ? fmemopen((void *)text, len, "r") : fopen("/dev/null", "r");
	if (!f) {
		lbd_config_init(cfg);
		return snprintf(err, err_len, "%s: %s", name, strerror(errno)), -errno;
	}
	ret = parse_file(f, name, true, cfg, err, err_len);
	fclose(f);
	return ret;
}

int lbd_config_load(const char *path, struct lbd_config *cfg, char *err, size_t err_len)
{
	FILE *f = fopen(path, "r");
	int ret;

	if (!f) {
		ret = -errno;
		if (ret == -ENOENT) {
			lbd_config_init(cfg);
			return 0;	/* a first start: nothing configured yet */
		}
		snprintf(err, err_len, "%s: %s", path, strerror(-ret));
		return ret;
	}
	ret = lbd_config_parse(f, path, cfg, err, err_len);
	fclose(f);
	return ret;
}

/* The agent's words of a VIP line, those that are set. */
static void agent_write(FILE *f, const struct lbd_vip_cfg *vip)
{
	char d[16];

	if (vip->weights != LBD_WEIGHTS_STATIC)
		fprintf(f, " weights %s", lbd_weights_name(vip->weights));
	if (vip->agent_port)
		fprintf(f, " agent-port %u", vip->agent_port);
	if (vip->agent_interval_ms) {
		check_duration_format(vip->agent_interval_ms, d, sizeof(d));
		fprintf(f, " agent-interval %s", d);
	}
}

static void acl_write(FILE *f, const struct lbd_acl_cfg *acl)
{
	if (acl->allow[0])
		fprintf(f, " allow %s", acl->allow);
	if (acl->deny[0])
		fprintf(f, " deny %s", acl->deny);
}

static void limits_write(FILE *f, const struct lbd_vip_cfg *vip)
{
	acl_write(f, &vip->acl);
	if (vip->limit_new_flows)
		fprintf(f, " limit-new-flows %u", vip->limit_new_flows);
	if (vip->limit_burst)
		fprintf(f, " limit-burst %u", vip->limit_burst);
	if (vip->limit_pps)
		fprintf(f, " limit-pps %u", vip->limit_pps);
	if (vip->limit_prefix4)
		fprintf(f, " limit-prefix %u/%u", vip->limit_prefix4, vip->limit_prefix6);
}

void lbd_config_write(FILE *f, const struct lbd_config *cfg)
{
	char a[INET6_ADDRSTRLEN], v[80];

	fprintf(f, "# xlb configuration. lbd writes this file after every lbctl change;\n"
		   "# edit it by hand and run 'lbctl config reload'. See lbd.conf(5).\n");
	if (cfg->conn_table_size != XLB_CONN_DEFAULT)
		fprintf(f, "conn-table-size %u\n", cfg->conn_table_size);
	if (cfg->conn_timeout != CONN_TIMEOUT_DEFAULT)
		fprintf(f, "conn-timeout %u\n", cfg->conn_timeout);
	if (cfg->mtu)
		fprintf(f, "mtu %u\n", cfg->mtu);
	if (cfg->ipip_src4.family) {
		lbd_addr_format(&cfg->ipip_src4, a, sizeof(a));
		fprintf(f, "ipip-source %s entropy-bits %u\n", a, cfg->entropy4);
	}
	if (cfg->ipip_src6.family) {
		lbd_addr_format(&cfg->ipip_src6, a, sizeof(a));
		fprintf(f, "ipip-source %s entropy-bits %u\n", a, cfg->entropy6);
	}
	for (size_t i = 0; i < cfg->n_ifaces; i++)
		fprintf(f, "attach %s xdp-mode %s\n", cfg->ifaces[i].name,
			cfg->ifaces[i].mode == LBD_XDP_GENERIC ? "generic" : "native");
	for (size_t i = 0; i < cfg->n_vrrp; i++)
		vrrp_write(f, &cfg->vrrp[i]);
	if (cfg->bgp.bird_socket[0])
		bgp_write(f, &cfg->bgp);
	if (cfg->metrics.port) {
		lbd_metrics_format(&cfg->metrics, v, sizeof(v));
		fprintf(f, "metrics listen %s\n", v);
	}
	if (cfg->acl.allow[0] || cfg->acl.deny[0]) {
		fputs("acl", f);
		acl_write(f, &cfg->acl);
		fputc('\n', f);
	}
	if (cfg->sync.port) {
		lbd_sync_format_listen(&cfg->sync, v, sizeof(v));
		fprintf(f, "sync listen %s peers ", v);
		for (size_t i = 0; i < cfg->sync.n_peers; i++) {
			struct lbd_metrics_cfg peer = { cfg->sync.peers[i].addr, cfg->sync.peers[i].port };

			lbd_metrics_format(&peer, v, sizeof(v));
			fprintf(f, "%s%s", i ? "," : "", v);
		}
		fprintf(f, " key-file %s\n", cfg->sync.key_file);
	}
	if (cfg->cluster.name[0]) {
		fprintf(f, "cluster %s etcd %s", cfg->cluster.name, cfg->cluster.etcd);
		if (cfg->cluster.cache[0])
			fprintf(f, " cache %s", cfg->cluster.cache);
		/* The VIPs are the cluster's, in etcd: a node's file holding them would disagree with it. */
		fputc('\n', f);
		return;
	}
	lbd_config_write_vips(f, cfg);
}

void lbd_config_write_vips(FILE *f, const struct lbd_config *cfg)
{
	char a[INET6_ADDRSTRLEN], v[80];

	for (size_t i = 0; i < cfg->n_vips; i++) {
		const struct lbd_vip_cfg *vip = &cfg->vips[i];

		lbd_vip_format(vip, v, sizeof(v));
		fprintf(f, "\nvip %s forward %s sched %s ring-size %u", v,
			vip->fwd == XLB_FWD_DSR ? "dsr" : "ipip",
			lbd_sched_name(vip->sched), vip->ring_size);
		if (vip->persist_ms)
			fprintf(f, " persist %ums", vip->persist_ms);
		if (vip->passive_n)
			fprintf(f, " passive %u/%ums", vip->passive_n, vip->passive_window_ms);
		if (vip->all_down_drop)
			fprintf(f, " all-down drop");
		if (vip->announce != LBD_ANNOUNCE_HEALTHY)
			fprintf(f, " announce %s", lbd_announce_name(vip->announce));
		agent_write(f, vip);
		limits_write(f, vip);
		check_write(f, &vip->check);
		fputc('\n', f);
		for (size_t j = 0; j < vip->n_backends; j++) {
			const struct lbd_backend_cfg *be = &vip->backends[j];

			lbd_addr_format(&be->addr, a, sizeof(a));
			fprintf(f, "  backend %s weight %u%s", a, be->weight, be->drain ? " drain" : "");
			if (be->admin != LBD_ADMIN_AUTO)
				fprintf(f, " admin %s", be->admin == LBD_ADMIN_UP ? "up" : "down");
			check_write(f, &be->check);
			fputc('\n', f);
		}
	}
}

/*
 * The file a save replaces: path, or what its chain of symlinks ends at (a
 * save must leave the link and write its target, which may not exist yet).
 */
static int save_target(const char *path, char *out, size_t len)
{
	char link[PATH_MAX], dir[PATH_MAX];
	ssize_t n;

	if (snprintf(out, len, "%s", path) >= (int)len)
		return -ENAMETOOLONG;
	for (int hops = 0; hops < 40; hops++) {
		n = readlink(out, link, sizeof(link) - 1);
		if (n < 0)
			return errno == EINVAL || errno == ENOENT ? 0 : -errno;
		link[n] = 0;
		strcpy(dir, out);
		if (link[0] != '/' && snprintf(out, len, "%s/%s", dirname(dir), link) >= (int)len)
			return -ENAMETOOLONG;
		if (link[0] == '/' && snprintf(out, len, "%s", link) >= (int)len)
			return -ENAMETOOLONG;
	}
	return -ELOOP;
}

/*
 * The new file gets the old one's owner and mode before it takes its place:
 * exec checks may hold secrets in a 0600 file. A first file is 0600.
 */
static int save_keep_owner(int fd, const char *target, mode_t first_mode)
{
	struct stat old, cur;

	if (stat(target, &old)) {
		if (errno != ENOENT)
			return -errno;
		return fchmod(fd, first_mode) ? -errno : 0;
	}
	if (fstat(fd, &cur))
		return -errno;
	if ((cur.st_uid != old.st_uid || cur.st_gid != old.st_gid) && fchown(fd, old.st_uid, old.st_gid))
		return -errno;
	return fchmod(fd, old.st_mode & 07777) ? -errno : 0;
}

/* After the rename: the directory entry itself must reach the disk too. */
static int sync_dir(const char *dir)
{
	int fd = open(dir, O_RDONLY | O_DIRECTORY | O_CLOEXEC), ret = 0;

	if (fd < 0)
		return -errno;
	if (fsync(fd))
		ret = -errno;
	close(fd);
	return ret;
}

int lbd_file_replace(const char *path, void (*write)(FILE *f, const void *ctx), const void *ctx,
		     mode_t first_mode, char *err, size_t err_len)
{
	char target[PATH_MAX], tmp[PATH_MAX + 32], buf[PATH_MAX];
	const char *step = "write", *dir;
	FILE *f;
	int fd, ret;

	ret = save_target(path, target, sizeof(target));
	if (ret) {
		snprintf(err, err_len, "cannot follow %s to the file to write: %s", path, strerror(-ret));
		return ret;
	}
	snprintf(tmp, sizeof(tmp), "%s.tmp.%d", target, (int)getpid());
	/* The first save on a fresh host: /etc/xlb may not exist yet. */
	strcpy(buf, target);
	dir = dirname(buf);
	if (mkdir(dir, 0755) && errno != EEXIST) {
		ret = -errno;
		snprintf(err, err_len, "cannot create the directory of %s: %s", target, strerror(-ret));
		return ret;
	}
	fd = open(tmp, O_WRONLY | O_CREAT | O_TRUNC | O_NOFOLLOW | O_CLOEXEC, 0600);
	if (fd < 0 || !(f = fdopen(fd, "w"))) {
		ret = -errno;
		if (fd >= 0) {
			close(fd);
			unlink(tmp);
		}
		snprintf(err, err_len, "cannot write %s: %s", tmp, strerror(-ret));
		return ret;
	}
	ret = save_keep_owner(fd, target, first_mode);
	if (ret)
		step = "keep the owner and mode of";
	write(f, ctx);
	if (!ret && (fflush(f) || fsync(fd)))
		ret = -errno;
	if (fclose(f) && !ret)
		ret = -errno;
	if (!ret && rename(tmp, target))
		ret = -errno;
	if (ret) {
		unlink(tmp);
		snprintf(err, err_len, "cannot %s %s: %s", step, target, strerror(-ret));
		return ret;
	}
	ret = sync_dir(dir);
	if (ret)
		snprintf(err, err_len, "wrote %s but cannot sync its directory %s: %s", target, dir, strerror(-ret));
	return ret;
}

static void config_writer(FILE *f, const void *cfg)
{
	lbd_config_write(f, cfg);
}

int lbd_config_save(const char *path, const struct lbd_config *cfg, char *err, size_t err_len)
{
	return lbd_file_replace(path, config_writer, cfg, 0600, err, err_len);
}
