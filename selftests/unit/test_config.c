// SPDX-License-Identifier: GPL-2.0
/* lbd's configuration grammar: the file, lbctl's words, errors that name the line and the fix. */
#define _GNU_SOURCE	/* nftw */
#include <errno.h>
#include <fcntl.h>
#include <ftw.h>
#include <netinet/in.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/syscall.h>
#include <unistd.h>

#include "config.h"
#include "grammar.h"
#include "xt.h"

XT_DEFINE_STATE;

static const char good[] =
	"# a comment\n"
	"conn-table-size 65536\n"
	"conn-timeout 120\n"
	"ipip-source 198.18.0.2 entropy-bits 8\n"
	"attach veth0 xdp-mode native\n"
	"vrrp veth0 vrid 51 priority 150 advert 100ms fault-drop 20 no-preempt preempt-delay 5s vmac "
	"vip 198.18.1.1 198.18.1.2\n"
	"\n"
	"vip 198.18.1.1:80/tcp forward dsr sched maglev ring-size 65537\n"
	"  backend 198.18.0.101 weight 1\n"
	"  backend 198.18.0.102 weight 3 drain\n"
	"vip [2001:db8:1::1]:0/udp forward ipip sched maglev-src ring-size 251   # all ports\n"
	"  backend 2001:db8::101\n"
	"vip 198.18.1.2:80/tcp all-down drop check http:/health expect 200-299 host www.example "
	"interval 2s timeout 750ms rise 3 fall 4 slow-start 30s\n"
	"  backend 198.18.0.103 admin down check \"exec:/usr/local/bin/probe --deep\" timeout 1s\n"
	"  backend 198.18.0.104 check none slow-start 0s\n";

static int parse_text(const char *text, struct lbd_config *cfg, char *err)
{
	FILE *f = fmemopen((void *)text, strlen(text), "r");
	int ret = lbd_config_parse(f, "t.conf", cfg, err, LBD_ERR_LEN);

	fclose(f);
	return ret;
}

static void parses_a_full_file(void)
{
	struct lbd_check c;
	struct lbd_config cfg;
	char err[LBD_ERR_LEN] = "";

	if (!XT_EQ(parse_text(good, &cfg, err), 0)) {
		fprintf(stderr, "  %s\n", err);
		return;
	}
	XT_EQ(cfg.conn_table_size, 65536);
	XT_EQ(cfg.conn_timeout, 120);
	XT_EQ(cfg.entropy4, 8);
	XT_EQ(cfg.n_ifaces, 1);
	XT_TRUE(!strcmp(cfg.ifaces[0].name, "veth0"), "interface name");
	XT_EQ(cfg.n_vips, 3);
	XT_EQ(cfg.n_vrrp, 1);
	XT_TRUE(cfg.vrrp[0].vrid == 51 && cfg.vrrp[0].priority == 150 && cfg.vrrp[0].advert_cs == 10 &&
		cfg.vrrp[0].fault_drop == 20 && cfg.vrrp[0].no_preempt && cfg.vrrp[0].vmac &&
		cfg.vrrp[0].preempt_delay_ms == 5000 && cfg.vrrp[0].n_addrs == 2 &&
		cfg.vrrp[0].family == XLB_AF_INET, "vrrp line");
	XT_EQ(cfg.vips[0].port, 80);
	XT_EQ(cfg.vips[0].n_backends, 2);
	XT_EQ(cfg.vips[0].backends[1].weight, 3);
	XT_TRUE(cfg.vips[0].backends[1].drain, "drain flag");
	XT_EQ(cfg.vips[1].addr.family, XLB_AF_INET6);
	XT_EQ(cfg.vips[1].proto, IPPROTO_UDP);
	XT_EQ(cfg.vips[1].fwd, XLB_FWD_IPIP);
	XT_EQ(cfg.vips[1].sched, LBD_SCHED_MAGLEV_SRC);
	XT_EQ(cfg.vips[1].ring_size, 251);
	XT_EQ(cfg.vips[1].backends[0].weight, 1);
	check_merge(&cfg.vips[2].check, &cfg.vips[2].backends[0].check, IPPROTO_TCP, 80, &c);
	XT_TRUE(c.type == CHECK_EXEC && !strcmp(c.arg, "/usr/local/bin/probe --deep"), "exec command: '%s'", c.arg);
	XT_TRUE(c.interval_ms == 2000 && c.timeout_ms == 1000 && c.rise == 3 && c.fall == 4 &&
		c.slow_start_ms == 30000, "backend inherits the VIP's settings it does not override");
	XT_EQ(cfg.vips[2].backends[0].admin, LBD_ADMIN_DOWN);
	XT_TRUE(cfg.vips[2].all_down_drop, "all-down drop");
	check_merge(&cfg.vips[2].check, &cfg.vips[2].backends[1].check, IPPROTO_TCP, 80, &c);
	XT_TRUE(c.type == CHECK_NONE && c.slow_start_ms == 0, "slow-start 0s overrides the VIP's 30s");
	check_merge(&cfg.vips[2].check, &(struct lbd_check_cfg){ 0 }, IPPROTO_TCP, 80, &c);
	XT_TRUE(c.type == CHECK_HTTP && !strcmp(c.arg, "/health") && c.expect_lo == 200 && c.expect_hi == 299 &&
		!strcmp(c.host, "www.example"), "http settings");
	check_merge(&cfg.vips[0].check, &cfg.vips[0].backends[0].check, IPPROTO_TCP, 80, &c);
	XT_TRUE(c.type == CHECK_TCP && c.interval_ms == 1000 && c.timeout_ms == 500 && c.rise == 2 &&
		c.fall == 3 && c.slow_start_ms == 0, "defaults for a TCP VIP");
	check_merge(&cfg.vips[1].check, &cfg.vips[1].backends[0].check, IPPROTO_UDP, 0, &c);
	XT_EQ(c.type, CHECK_NONE);
	lbd_config_free(&cfg);
}

/*
 * Model equality, field by field: a field the writer drops or the reader
 * invents shows up as a difference, named by its path. A new field changes
 * the struct's size and stops the build here until it is compared too.
 */
_Static_assert(sizeof(struct lbd_check_cfg) == 248, "struct lbd_check_cfg changed: compare the new field in check_eq()");
_Static_assert(sizeof(struct lbd_backend_cfg) == 276, "struct lbd_backend_cfg changed: compare it in backend_eq()");
_Static_assert(sizeof(struct lbd_vip_cfg) == 856, "struct lbd_vip_cfg changed: compare it in vip_eq()");
_Static_assert(sizeof(struct lbd_iface_cfg) == 17, "struct lbd_iface_cfg changed: compare it in cfg_eq()");
_Static_assert(sizeof(struct lbd_vrrp_cfg) == 360, "struct lbd_vrrp_cfg changed: compare it in vrrp_eq()");
_Static_assert(sizeof(struct lbd_bgp_cfg) == 372, "struct lbd_bgp_cfg changed: compare it in bgp_eq()");
_Static_assert(sizeof(struct lbd_acl_cfg) == 520, "struct lbd_acl_cfg changed: compare it in acl_eq()");
_Static_assert(sizeof(struct lbd_metrics_cfg) == 24, "struct lbd_metrics_cfg changed: compare it in cfg_eq()");
_Static_assert(sizeof(struct lbd_cluster_cfg) == 832, "struct lbd_cluster_cfg changed: compare it in cfg_eq()");
_Static_assert(sizeof(struct lbd_sync_cfg) == 480, "struct lbd_sync_cfg changed: compare it in cfg_eq()");
_Static_assert(sizeof(struct lbd_config) == 5336, "struct lbd_config changed: compare it in cfg_eq()");

static char diff[512];

static bool differ(const char *fmt, ...) __attribute__((format(printf, 1, 2)));
static bool differ(const char *fmt, ...)
{
	va_list ap;

	va_start(ap, fmt);
	vsnprintf(diff, sizeof(diff), fmt, ap);
	va_end(ap);
	return false;
}

/* A field's path for diff, as "cfg.vips[1].backends[0].check". */
static const char *sub(char *buf, size_t len, const char *fmt, ...) __attribute__((format(printf, 3, 4)));
static const char *sub(char *buf, size_t len, const char *fmt, ...)
{
	va_list ap;

	va_start(ap, fmt);
	vsnprintf(buf, len, fmt, ap);
	va_end(ap);
	return buf;
}

#define SAME_NUM(path, a, b, f)                                                            \
	((a)->f == (b)->f || differ("%s." #f ": %lld vs %lld", path, (long long)(a)->f,   \
				    (long long)(b)->f))
#define SAME_STR(path, a, b, f) \
	(!strcmp((a)->f, (b)->f) || differ("%s." #f ": '%s' vs '%s'", path, (a)->f, (b)->f))

static bool addr_eq(const char *path, const struct lbd_addr *a, const struct lbd_addr *b)
{
	char x[INET6_ADDRSTRLEN], y[INET6_ADDRSTRLEN];

	if (lbd_addr_eq(a, b))
		return true;
	lbd_addr_format(a, x, sizeof(x));
	lbd_addr_format(b, y, sizeof(y));
	return differ("%s: %s (family %u) vs %s (family %u)", path, x, a->family, y, b->family);
}

static bool check_eq(const char *path, const struct lbd_check_cfg *a, const struct lbd_check_cfg *b)
{
	return SAME_NUM(path, a, b, type) && SAME_NUM(path, a, b, rise) && SAME_NUM(path, a, b, fall) &&
	       SAME_STR(path, a, b, arg) && SAME_STR(path, a, b, host) &&
	       SAME_NUM(path, a, b, expect_lo) && SAME_NUM(path, a, b, expect_hi) &&
	       SAME_NUM(path, a, b, interval_ms) && SAME_NUM(path, a, b, timeout_ms) &&
	       SAME_NUM(path, a, b, slow_start_ms) && SAME_NUM(path, a, b, slow_start_set);
}

static bool acl_eq(const char *path, const struct lbd_acl_cfg *a, const struct lbd_acl_cfg *b)
{
	return SAME_STR(path, a, b, allow) && SAME_STR(path, a, b, deny) && SAME_NUM(path, a, b, sum);
}

static bool backend_eq(const char *path, const struct lbd_backend_cfg *a, const struct lbd_backend_cfg *b)
{
	char p[128];

	sub(p, sizeof(p), "%s.addr", path);
	if (!addr_eq(p, &a->addr, &b->addr))
		return false;
	sub(p, sizeof(p), "%s.check", path);
	return SAME_NUM(path, a, b, weight) && SAME_NUM(path, a, b, drain) && SAME_NUM(path, a, b, admin) &&
	       check_eq(p, &a->check, &b->check);
}

static bool vip_eq(const char *path, const struct lbd_vip_cfg *a, const struct lbd_vip_cfg *b)
{
	char p[128];

	sub(p, sizeof(p), "%s.addr", path);
	if (!addr_eq(p, &a->addr, &b->addr))
		return false;
	sub(p, sizeof(p), "%s.check", path);
	if (!SAME_NUM(path, a, b, port) || !SAME_NUM(path, a, b, proto) || !SAME_NUM(path, a, b, fwd) ||
	    !SAME_NUM(path, a, b, sched) || !SAME_NUM(path, a, b, ring_size) || !SAME_NUM(path, a, b, persist_ms) ||
	    !SAME_NUM(path, a, b, passive_n) || !SAME_NUM(path, a, b, passive_window_ms) ||
	    !SAME_NUM(path, a, b, all_down_drop) || !SAME_NUM(path, a, b, announce) ||
	    !SAME_NUM(path, a, b, weights) || !SAME_NUM(path, a, b, agent_port) ||
	    !SAME_NUM(path, a, b, agent_interval_ms) || !SAME_NUM(path, a, b, limit_new_flows) ||
	    !SAME_NUM(path, a, b, limit_burst) || !SAME_NUM(path, a, b, limit_pps) ||
	    !SAME_NUM(path, a, b, limit_prefix4) || !SAME_NUM(path, a, b, limit_prefix6) ||
	    !check_eq(p, &a->check, &b->check) || !acl_eq(path, &a->acl, &b->acl) ||
	    !SAME_NUM(path, a, b, n_backends))
		return false;
	for (size_t i = 0; i < a->n_backends; i++) {
		sub(p, sizeof(p), "%s.backends[%zu]", path, i);
		if (!backend_eq(p, &a->backends[i], &b->backends[i]))
			return false;
	}
	return true;
}

static bool vrrp_eq(const char *path, const struct lbd_vrrp_cfg *a, const struct lbd_vrrp_cfg *b)
{
	char p[128];

	if (!SAME_STR(path, a, b, dev) || !SAME_NUM(path, a, b, vrid) || !SAME_NUM(path, a, b, priority) ||
	    !SAME_NUM(path, a, b, family) || !SAME_NUM(path, a, b, no_preempt) || !SAME_NUM(path, a, b, vmac) ||
	    !SAME_NUM(path, a, b, advert_cs) || !SAME_NUM(path, a, b, preempt_delay_ms) ||
	    !SAME_NUM(path, a, b, fault_drop) || !SAME_NUM(path, a, b, n_addrs))
		return false;
	for (size_t i = 0; i < a->n_addrs; i++) {
		sub(p, sizeof(p), "%s.addrs[%zu]", path, i);
		if (!addr_eq(p, &a->addrs[i], &b->addrs[i]))
			return false;
	}
	return true;
}

static bool bgp_eq(const char *path, const struct lbd_bgp_cfg *a, const struct lbd_bgp_cfg *b)
{
	return SAME_STR(path, a, b, bird_socket) && SAME_STR(path, a, b, include) &&
	       SAME_NUM(path, a, b, hold_down_ms) && SAME_NUM(path, a, b, withdraw_delay_ms);
}

/* True when a and b are the same model; else diff names the first difference. */
static bool cfg_eq(const struct lbd_config *a, const struct lbd_config *b)
{
	char p[128];

	if (!SAME_NUM("cfg", a, b, conn_table_size) || !SAME_NUM("cfg", a, b, conn_timeout) ||
	    !SAME_NUM("cfg", a, b, mtu) || !addr_eq("cfg.ipip_src4", &a->ipip_src4, &b->ipip_src4) ||
	    !addr_eq("cfg.ipip_src6", &a->ipip_src6, &b->ipip_src6) || !SAME_NUM("cfg", a, b, entropy4) ||
	    !SAME_NUM("cfg", a, b, entropy6) || !SAME_NUM("cfg", a, b, n_ifaces) ||
	    !SAME_NUM("cfg", a, b, n_vips) || !SAME_NUM("cfg", a, b, n_vrrp) ||
	    !bgp_eq("cfg.bgp", &a->bgp, &b->bgp) || !addr_eq("cfg.metrics.addr", &a->metrics.addr, &b->metrics.addr) ||
	    !SAME_NUM("cfg.metrics", &a->metrics, &b->metrics, port) || !acl_eq("cfg.acl", &a->acl, &b->acl) ||
	    !SAME_STR("cfg.cluster", &a->cluster, &b->cluster, name) ||
	    !SAME_STR("cfg.cluster", &a->cluster, &b->cluster, etcd) ||
	    !SAME_STR("cfg.cluster", &a->cluster, &b->cluster, cache) ||
	    !addr_eq("cfg.sync.addr", &a->sync.addr, &b->sync.addr) || !SAME_NUM("cfg.sync", &a->sync, &b->sync, port) ||
	    !SAME_STR("cfg.sync", &a->sync, &b->sync, key_file) || !SAME_NUM("cfg.sync", &a->sync, &b->sync, n_peers))
		return false;
	for (size_t i = 0; i < a->sync.n_peers; i++) {
		sub(p, sizeof(p), "cfg.sync.peers[%zu]", i);
		if (!addr_eq(p, &a->sync.peers[i].addr, &b->sync.peers[i].addr) ||
		    !SAME_NUM(p, &a->sync.peers[i], &b->sync.peers[i], port))
			return false;
	}
	for (size_t i = 0; i < a->n_ifaces; i++) {
		sub(p, sizeof(p), "cfg.ifaces[%zu]", i);
		if (!SAME_STR(p, &a->ifaces[i], &b->ifaces[i], name) || !SAME_NUM(p, &a->ifaces[i], &b->ifaces[i], mode))
			return false;
	}
	for (size_t i = 0; i < a->n_vrrp; i++) {
		sub(p, sizeof(p), "cfg.vrrp[%zu]", i);
		if (!vrrp_eq(p, &a->vrrp[i], &b->vrrp[i]))
			return false;
	}
	for (size_t i = 0; i < a->n_vips; i++) {
		sub(p, sizeof(p), "cfg.vips[%zu]", i);
		if (!vip_eq(p, &a->vips[i], &b->vips[i]))
			return false;
	}
	return true;
}

/* Every statement and option of the grammar, IPv4 and IPv6, defaults and extremes. */
static const char rich[] =
	"conn-table-size 131072\n"
	"conn-timeout 300\n"
	"mtu 1500\n"
	"ipip-source 198.18.0.2 entropy-bits 8\n"
	"ipip-source 2001:db8::2 entropy-bits 16\n"
	"attach veth0 xdp-mode native\n"
	"attach veth1 xdp-mode generic\n"
	"vrrp veth0 vrid 51 priority 150 advert 100ms fault-drop 20 no-preempt preempt-delay 1500ms vmac "
	"vip 198.18.1.1 198.18.1.2\n"
	"vrrp veth0 vrid 51 priority 255 advert 2s vip 2001:db8:1::1 2001:db8:1::2\n"
	"vrrp veth1 vrid 7 priority 1 advert 40950ms fault-drop 0 vip 198.18.1.3\n"
	"bgp bird-socket /run/bird/bird.ctl include /etc/bird/xlb.conf hold-down 1500ms withdraw-delay 0s\n"
	"metrics listen [2001:db8::5]:9100\n"
	"vip 198.18.1.1:80/tcp forward dsr sched maglev ring-size 65537 all-down drop announce always check http:/health "
	"expect 200-299 host www.example interval 2s timeout 750ms rise 3 fall 4 slow-start 30s\n"
	"  backend 198.18.0.101 weight 1\n"
	"  backend 198.18.0.102 weight 3 drain admin up\n"
	"  backend 198.18.0.103 weight 0 admin down check \"exec:/usr/local/bin/probe --deep\tx\" timeout 1s\n"
	"  backend 198.18.0.104 check none slow-start 0s\n"
	"  backend 198.18.0.105 check http:/other expect 204 host b.example interval 1m rise 1 fall 100\n"
	"vip [2001:db8:1::1]:0/udp forward ipip sched maglev-src ring-size 251 check exec:/bin/true\n"
	"  backend 2001:db8::101 weight 10000\n"
	"vip [2001:db8:1::2]:53/udp all-down open announce never check udp interval 1h timeout 1h\n"
	"  backend 2001:db8::102 check \"udp:ping pong\" interval 100ms timeout 10ms\n"
	"  backend 2001:db8::103 check udp:payload:with:colons slow-start 1h\n"
	"vip 198.18.1.2:443/tcp forward ipip check tcp\n"
	"  backend 198.18.0.106 check tcp rise 100\n"
	"  backend 2001:db8::104\n"
	"vip 198.18.1.3:443/tcp sched wlc persist 10m passive 3/10s\n"
	"  backend 198.18.0.107 weight 2\n"
	"vip 198.18.1.6:80/tcp weights agent agent-port 8888 agent-interval 1500ms\n"
	"  backend 198.18.0.107 weight 4\n"
	"vip 198.18.1.4:80/tcp weights static agent-port 65535\n"
	"vip 198.18.1.5:80/tcp weights agent agent-port 1\n"
	"vip 198.18.1.7:80/tcp limit-new-flows 20 limit-burst 40 limit-pps 5000 limit-prefix 24/56\n"
	"vip 198.18.1.7:53/udp limit-pps 100\n";

/* Writes cfg and parses the text back into out; false (with err) when it does not parse. */
static bool reread(const struct lbd_config *cfg, struct lbd_config *out, char *err)
{
	char *text = NULL;
	size_t len = 0;
	FILE *f = open_memstream(&text, &len);
	bool ok;

	lbd_config_write(f, cfg);
	fclose(f);
	ok = parse_text(text, out, err) == 0;
	if (!ok)
		fprintf(stderr, "  the written text:\n%s", text);
	free(text);
	return ok;
}

/* What lbd writes, it reads back as the same model: parse(write(parse(text))) == parse(text). */
static void write_then_read_is_identity(void)
{
	const char *texts[] = { good, rich };

	for (size_t i = 0; i < sizeof(texts) / sizeof(texts[0]); i++) {
		struct lbd_config a, b;
		char err[LBD_ERR_LEN] = "";

		if (!XT_TRUE(parse_text(texts[i], &a, err) == 0, "text %zu does not parse: %s", i, err))
			continue;
		if (XT_TRUE(reread(&a, &b, err), "text %zu: what lbd wrote does not parse: %s", i, err)) {
			XT_TRUE(cfg_eq(&b, &a), "text %zu: the model read back differs: %s", i, diff);
			lbd_config_free(&b);
		}
		lbd_config_free(&a);
	}
}

/*
 * A cluster node's file: the cluster line reads back as written, and the
 * file lbd saves holds it without the VIPs (those are etcd's, and a file
 * holding them would disagree with it).
 */
static void cluster_line_round_trip(void)
{
	const char *text = "attach eth0\ncluster xe etcd http://198.18.0.1:2379,http://198.18.0.9:2379 "
			   "cache /var/lib/xlb/xe.cluster\n"
			   "sync listen 198.18.0.2:7946 peers 198.18.0.3:7946,198.18.0.4:7947 key-file /etc/xlb/sync.key\n";
	struct lbd_config a, b;
	char err[LBD_ERR_LEN] = "", *out = NULL;
	size_t len = 0;
	FILE *f;

	if (!XT_TRUE(parse_text(text, &a, err) == 0, "cluster line refused: %s", err))
		return;
	XT_TRUE(a.sync.port == 7946 && a.sync.n_peers == 2 && a.sync.peers[1].port == 7947 &&
		!strcmp(a.sync.key_file, "/etc/xlb/sync.key"), "sync line read as port %u, %zu peers", a.sync.port,
		a.sync.n_peers);
	XT_TRUE(!strcmp(a.cluster.name, "xe") && !strcmp(a.cluster.etcd, "http://198.18.0.1:2379,http://198.18.0.9:2379") &&
		!strcmp(a.cluster.cache, "/var/lib/xlb/xe.cluster"), "cluster line read as '%s' '%s' '%s'",
		a.cluster.name, a.cluster.etcd, a.cluster.cache);
	if (XT_TRUE(reread(&a, &b, err), "what lbd wrote does not parse: %s", err)) {
		XT_TRUE(cfg_eq(&b, &a), "the model read back differs: %s", diff);
		lbd_config_free(&b);
	}
	/* VIPs in force on a cluster node (from etcd) stay out of its file. */
	struct lbd_config vips;

	const char *one = "vip 198.18.1.1:80/tcp\n backend 198.18.0.101\n";

	XT_EQ(lbd_config_parse_vips(one, strlen(one), "etcd", &vips, err, sizeof(err)), 0);
	a.vips = vips.vips;
	a.n_vips = vips.n_vips;
	f = open_memstream(&out, &len);
	lbd_config_write(f, &a);
	fclose(f);
	XT_TRUE(out && strstr(out, "cluster xe etcd") && !strstr(out, "vip "), "a cluster node's file: %s", out);
	free(out);
	lbd_config_free(&a);
}

/* The cluster's text from etcd takes vip and backend lines only; a node's file in a cluster takes none. */
static void cluster_text_holds_only_vips(void)
{
	static const struct {
		const char *text, *why;
	} bad[] = {
		{ "vip 198.18.1.1:80/tcp\nattach eth9\n", "etcd:2: 'attach' is a node's own setting" },
		{ "metrics listen 198.18.0.1:9100\n", "etcd:1: 'metrics' is a node's own setting" },
		{ "vip nonsense\n", "etcd:1: VIP 'nonsense'" },
		{ "backend 198.18.0.1\n", "etcd:1: backend before any vip" },
		{ "vip 198.18.1.1:80/tcp\0\n", "NUL" },
	};
	struct lbd_config cfg;
	char err[LBD_ERR_LEN];

	for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
		size_t len = strlen(bad[i].text) + (strstr(bad[i].why, "NUL") ? 2 : 0);

		err[0] = 0;
		XT_TRUE(lbd_config_parse_vips(bad[i].text, len, "etcd", &cfg, err, sizeof(err)) &&
			strstr(err, bad[i].why) && !cfg.n_vips, "'%s': error '%s'", bad[i].text, err);
	}
	XT_EQ(lbd_config_parse_vips("", 0, "etcd", &cfg, err, sizeof(err)), 0);
	XT_EQ(cfg.n_vips, 0);
	lbd_config_free(&cfg);
	const char *one = "vip 198.18.1.1:80/tcp\n  backend 198.18.0.101 weight 3\n";

	XT_EQ(lbd_config_parse_vips(one, strlen(one), "etcd", &cfg, err, sizeof(err)), 0);
	XT_TRUE(cfg.n_vips == 1 && cfg.vips[0].n_backends == 1 && cfg.vips[0].backends[0].weight == 3,
		"the cluster's VIP read as %zu VIPs", cfg.n_vips);
	lbd_config_free(&cfg);
	XT_TRUE(parse_text("cluster xe etcd http://198.18.0.1:2379\nvip 198.18.1.1:80/tcp\n", &cfg, err) &&
		strstr(err, "t.conf:2:") && strstr(err, "come from etcd"), "a vip line in a cluster node's file: '%s'",
		err);
	XT_TRUE(parse_text("cluster xe\n", &cfg, err) && strstr(err, "etcd"), "no etcd: '%s'", err);
	XT_TRUE(parse_text("cluster x/y etcd http://198.18.0.1:2379\n", &cfg, err) && strstr(err, "cluster name"),
		"a name with a slash: '%s'", err);
	XT_TRUE(parse_text("cluster xe etcd 198.18.0.1:2379\n", &cfg, err) && strstr(err, "is not http://"),
		"a URL without its scheme: '%s'", err);
	XT_TRUE(parse_text("cluster xe etcd http://198.18.0.1:2379 cache relative\n", &cfg, err) &&
		strstr(err, "absolute"), "a relative cache: '%s'", err);
	XT_TRUE(parse_text("cluster a etcd http://198.18.0.1:2379\ncluster b etcd http://198.18.0.1:2379\n", &cfg,
			   err) && strstr(err, "second cluster"), "two cluster lines: '%s'", err);
}

/* The equality above is what the round trip rests on: it must see each kind of field. */
static void model_equality_sees_every_kind_of_field(void)
{
	struct lbd_config a, b;
	char err[LBD_ERR_LEN] = "";

	if (!XT_EQ(parse_text(rich, &a, err), 0))
		return;
	XT_TRUE(cfg_eq(&a, &a), "a model differs from itself: %s", diff);
	lbd_config_copy(&b, &a);
	b.vrrp[0].vmac = false;
	XT_TRUE(!cfg_eq(&a, &b) && strstr(diff, "cfg.vrrp[0].vmac"), "vmac difference: '%s'", diff);
	b.vrrp[0].vmac = true;
	b.vips[0].backends[4].check.host[0] = 0;
	XT_TRUE(!cfg_eq(&a, &b) && strstr(diff, "cfg.vips[0].backends[4].check.host"), "host difference: '%s'", diff);
	strcpy(b.vips[0].backends[4].check.host, a.vips[0].backends[4].check.host);
	b.ipip_src6.a[3] ^= 1;
	XT_TRUE(!cfg_eq(&a, &b) && strstr(diff, "cfg.ipip_src6"), "address difference: '%s'", diff);
	b.ipip_src6 = a.ipip_src6;
	b.vips[1].backends[0].check.slow_start_set = true;
	XT_TRUE(!cfg_eq(&a, &b) && strstr(diff, "slow_start_set"), "slow-start-set difference: '%s'", diff);
	b.vips[1].backends[0].check.slow_start_set = false;
	b.bgp.include[1] ^= 1;
	XT_TRUE(!cfg_eq(&a, &b) && strstr(diff, "cfg.bgp.include"), "bgp include difference: '%s'", diff);
	b.bgp.include[1] ^= 1;
	b.metrics.port++;
	XT_TRUE(!cfg_eq(&a, &b) && strstr(diff, "cfg.metrics.port"), "metrics port difference: '%s'", diff);
	b.metrics.port--;
	b.vips[0].announce = LBD_ANNOUNCE_NEVER;
	XT_TRUE(!cfg_eq(&a, &b) && strstr(diff, "cfg.vips[0].announce"), "announce difference: '%s'", diff);
	b.vips[0].announce = a.vips[0].announce;
	b.vips[4].agent_interval_ms++;
	XT_TRUE(!cfg_eq(&a, &b) && strstr(diff, "cfg.vips[4].agent_interval_ms"), "agent-interval difference: '%s'",
		diff);
	b.vips[4].agent_interval_ms--;
	b.vips[5].weights = LBD_WEIGHTS_STATIC;
	XT_TRUE(!cfg_eq(&a, &b) && strstr(diff, "cfg.vips[5].weights"), "weights difference: '%s'", diff);
	b.vips[5].weights = a.vips[5].weights;
	XT_TRUE(cfg_eq(&a, &b), "the copy, restored, differs: %s", diff);
	lbd_config_free(&b);
	lbd_config_free(&a);
}

static int cmd_argv(struct lbd_config *cfg, int argc, char **argv, char *err)
{
	struct lbd_cmd c;
	int ret = lbd_cmd_parse(argc, argv, &c, err, LBD_ERR_LEN);

	return ret ? ret : lbd_cmd_apply(cfg, &c, err, LBD_ERR_LEN);
}

/*
 * Each byte in each free-text place (an interface name, a check's argument,
 * a Host header), given through lbctl's words: lbd refuses it, or the file
 * it writes reads back as the same model. Never a file that does not.
 */
static void odd_characters_are_refused_or_read_back(void)
{
	static const struct {
		const char *what, *words[8];	/* "%c" in a word: the byte under test */
	} places[] = {
		{ "attach DEV", { "attach", "e%c0" } },
		{ "vrrp DEV", { "vrrp", "add", "e%c0", "--vrid", "9", "--vip", "198.18.1.9" } },
		{ "exec check", { "vip", "add", "198.18.1.4:80/tcp", "--check", "exec:/bin/a%cb" } },
		{ "udp payload", { "vip", "add", "198.18.1.5:80/udp", "--check", "udp:a%cb" } },
		{ "http path", { "vip", "add", "198.18.1.6:80/tcp", "--check", "http:/a%cb" } },
		{ "host", { "vip", "add", "198.18.1.7:80/tcp", "--check", "http:/", "--host", "a%cb" } },
	};

	for (size_t k = 0; k < sizeof(places) / sizeof(places[0]); k++) {
		int refused = 0, kept = 0;

		for (int ch = 1; ch < 256; ch++) {
			char words[8][64], *argv[8], err[LBD_ERR_LEN] = "";
			struct lbd_config cfg, back;
			int argc = 0;

			for (; argc < 8 && places[k].words[argc]; argc++) {
				snprintf(words[argc], sizeof(words[argc]), places[k].words[argc], ch);
				argv[argc] = words[argc];
			}
			lbd_config_init(&cfg);
			if (cmd_argv(&cfg, argc, argv, err)) {
				refused++;
				continue;
			}
			kept++;
			if (!XT_TRUE(reread(&cfg, &back, err), "%s with byte 0x%02x: the file does not read back: %s",
				     places[k].what, ch, err)) {
				lbd_config_free(&cfg);
				continue;
			}
			XT_TRUE(cfg_eq(&back, &cfg), "%s with byte 0x%02x reads back differently: %s", places[k].what,
				ch, diff);
			lbd_config_free(&back);
			lbd_config_free(&cfg);
		}
		/* Both outcomes happen: the place is really exercised, not refused whole. */
		XT_TRUE(refused && kept, "%s: %d bytes refused, %d kept", places[k].what, refused, kept);
	}
}

static void bad_file_names_the_line(void)
{
	static const struct {
		const char *text, *want;
	} bad[] = {
		{ "vip 198.18.1.1:80/tcp\nbackend 198.18.0.1 weight x\n", "t.conf:2: weight 'x' is not a number" },
		{ "backend 198.18.0.1\n", "t.conf:1: backend before any vip" },
		{ "vip 198.18.1.1:80/sctp\n", "t.conf:1: VIP '198.18.1.1:80/sctp': protocol 'sctp' is not tcp or udp" },
		{ "\n\nvip 198.18.1.1:80/tcp ring-size 1000\n", "t.conf:3: ring-size 1000 is not prime: try 1009" },
		{ "vip 2001:db8::1:80/tcp\n", "t.conf:1: VIP '2001:db8::1:80/tcp': an IPv6 address needs brackets, as in [2001:db8::1]:PORT/tcp" },
		{ "vip 198.18.1.1:80/tcp\nvip 198.18.1.1:80/tcp\n", "t.conf:2: VIP 198.18.1.1:80/tcp exists already" },
		{ "vip 198.18.1.1:80/tcp\n backend 198.18.0.1\n backend 198.18.0.1\n", "t.conf:3: backend 198.18.0.1 is already in VIP" },
		{ "frobnicate 1\n", "t.conf:1: unknown keyword 'frobnicate'" },
		{ "vip 198.18.1.1:80/tcp forward\n", "t.conf:1: 'forward' needs a value: dsr|ipip" },
		{ "conn-table-size 12\n", "t.conf:1: conn-table-size takes one number from 1024" },
		{ "conn-timeout 0\n", "t.conf:1: conn-timeout takes seconds from 1 to 604800" },
		{ "conn-timeout 5 6\n", "t.conf:1: conn-timeout takes seconds from 1 to 604800" },
		{ "vip 198.18.1.1:70000/tcp\n", "t.conf:1: VIP '198.18.1.1:70000/tcp': port '70000' is not a number" },
		{ "bgp include /etc/bird/xlb.conf\n", "t.conf:1: bgp needs BIRD's control socket" },
		{ "bgp bird-socket /b.ctl include /x.conf hold-down\n", "t.conf:1: 'hold-down' needs a value" },
		{ "metrics listen 198.18.0.1:http\n", "t.conf:1: listen '198.18.0.1:http': the port must be 1 to 65535" },
		{ "metrics 198.18.0.1:9100\n", "t.conf:1: '198.18.0.1:9100' is not a metrics option" },
		{ "vip 198.18.1.1:80/tcp weights agent\n",
		  "t.conf:1: VIP 198.18.1.1:80/tcp: agent-port is required with weights agent" },
		{ "vip 198.18.1.1:80/tcp weights agent agent-port 0\n", "t.conf:1: agent-port 0 is not 1 to 65535" },
		{ "vip 198.18.1.1:80/tcp agent-port 65536\n", "t.conf:1: agent-port 65536 is not 1 to 65535" },
		{ "vip 198.18.1.1:80/tcp weights dynamic\n", "t.conf:1: weights 'dynamic' is not static, agent, latency or bandwidth" },
		{ "vip 198.18.1.1:80/tcp weights agent agent-port 80 agent-interval 50ms\n",
		  "t.conf:1: agent-interval '50ms' is not a duration from 100ms to 1h" },
		{ "vip 198.18.1.1:53/udp limit-new-flows 10\n",
		  "t.conf:1: VIP 198.18.1.1:53/udp: limit-new-flows counts TCP connections (SYNs), and this VIP is UDP" },
		{ "vip 198.18.1.1:80/tcp limit-burst 10\n",
		  "t.conf:1: VIP 198.18.1.1:80/tcp: limit-burst is the depth of the new-flow limit" },
		{ "vip 198.18.1.1:80/tcp limit-prefix 24/56\n",
		  "t.conf:1: VIP 198.18.1.1:80/tcp: limit-prefix says what one client of a limit is" },
		{ "vip 198.18.1.1:80/tcp limit-pps 10000001\n",
		  "t.conf:1: limit-pps '10000001' is not a rate from 0 (no limit) to 10000000" },
		{ "vip 198.18.1.1:80/tcp limit-pps 100 limit-prefix 33/64\n",
		  "t.conf:1: limit-prefix '33/64' is not V4LEN/V6LEN" },
		{ "vip 198.18.1.1:80/tcp limit-pps 100 limit-prefix 24\n",
		  "t.conf:1: limit-prefix '24' is not V4LEN/V6LEN (e.g. 32/64)" },
		{ "vip 198.18.1.1:80/tcp limit-burst 0 limit-new-flows 5\n",
		  "t.conf:1: limit-burst '0' is not a number of connections from 1" },
	};

	for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
		struct lbd_config cfg;
		char err[LBD_ERR_LEN] = "";

		XT_EQ(parse_text(bad[i].text, &cfg, err), -EINVAL);
		XT_TRUE(!strncmp(err, bad[i].want, strlen(bad[i].want)), "error '%s', expected it to start '%s'",
			err, bad[i].want);
		XT_EQ(cfg.n_vips, 0);
	}
}

static int cmd(struct lbd_config *cfg, const char *line, char *err)
{
	char buf[256], *argv[16];
	int argc = 0;
	struct lbd_cmd c;

	snprintf(buf, sizeof(buf), "%s", line);
	for (char *t = strtok(buf, " "); t; t = strtok(NULL, " "))
		argv[argc++] = t;
	int ret = lbd_cmd_parse(argc, argv, &c, err, LBD_ERR_LEN);

	return ret ? ret : lbd_cmd_apply(cfg, &c, err, LBD_ERR_LEN);
}

static void commands_change_the_model(void)
{
	struct lbd_config cfg;
	char err[LBD_ERR_LEN] = "";

	lbd_config_init(&cfg);
	XT_EQ(cmd(&cfg, "vip add [2001:db8:1::1]:443/tcp --forward ipip --ring-size 251", err), 0);
	XT_EQ(cmd(&cfg, "backend add [2001:db8:1::1]:443/tcp 2001:db8::7 --weight 5", err), 0);
	XT_EQ(cmd(&cfg, "backend set [2001:db8:1::1]:443/tcp 2001:db8::7 --drain", err), 0);
	XT_TRUE(cfg.n_vips == 1 && cfg.vips[0].n_backends == 1 && cfg.vips[0].backends[0].drain &&
		cfg.vips[0].backends[0].weight == 5, "model after three commands");
	XT_EQ(cmd(&cfg, "backend set [2001:db8:1::1]:443/tcp 2001:db8::7 --enable", err), 0);
	XT_TRUE(!cfg.vips[0].backends[0].drain, "enable clears drain");
	XT_EQ(cmd(&cfg, "backend set [2001:db8:1::1]:443/tcp 2001:db8::7 --down", err), 0);
	XT_EQ(cfg.vips[0].backends[0].admin, LBD_ADMIN_DOWN);
	XT_EQ(cmd(&cfg, "backend set [2001:db8:1::1]:443/tcp 2001:db8::7 --check udp:hello --rise 5", err), 0);
	XT_TRUE(cfg.vips[0].backends[0].check.type == CHECK_UDP && cfg.vips[0].backends[0].check.rise == 5 &&
		!strcmp(cfg.vips[0].backends[0].check.arg, "hello"), "check override set");
	XT_EQ(cmd(&cfg, "backend set [2001:db8:1::1]:443/tcp 2001:db8::7 --auto", err), 0);
	XT_EQ(cfg.vips[0].backends[0].admin, LBD_ADMIN_AUTO);
	XT_EQ(cmd(&cfg, "backend del [2001:db8:1::1]:443/tcp 2001:db8::7", err), 0);
	XT_EQ(cfg.vips[0].n_backends, 0);
	XT_EQ(cmd(&cfg, "vip set [2001:db8:1::1]:443/tcp --announce never", err), 0);
	XT_EQ(cfg.vips[0].announce, LBD_ANNOUNCE_NEVER);
	XT_EQ(cmd(&cfg, "vip del [2001:db8:1::1]:443/tcp", err), 0);
	XT_EQ(cfg.n_vips, 0);
	XT_EQ(cmd(&cfg, "bgp set --bird-socket /run/bird/bird.ctl --include /etc/bird/xlb.conf", err), 0);
	XT_TRUE(!strcmp(cfg.bgp.bird_socket, "/run/bird/bird.ctl") && !strcmp(cfg.bgp.include, "/etc/bird/xlb.conf") &&
		cfg.bgp.hold_down_ms == 5000 && cfg.bgp.withdraw_delay_ms == 2000, "bgp set with defaults");
	XT_EQ(cmd(&cfg, "bgp set --bird-socket /b.ctl --include /x.conf --hold-down 1s --withdraw-delay 500ms", err), 0);
	XT_TRUE(cfg.bgp.hold_down_ms == 1000 && cfg.bgp.withdraw_delay_ms == 500 && !strcmp(cfg.bgp.bird_socket, "/b.ctl"),
		"bgp set again replaces");
	XT_EQ(cmd(&cfg, "bgp del", err), 0);
	XT_EQ(cfg.bgp.bird_socket[0], 0);
	XT_EQ(cmd(&cfg, "metrics set --listen 198.18.0.1:9100", err), 0);
	lbd_metrics_format(&cfg.metrics, err, sizeof(err));
	XT_TRUE(cfg.metrics.port == 9100 && !strcmp(err, "198.18.0.1:9100"), "metrics set: '%s'", err);
	XT_EQ(cmd(&cfg, "metrics set --listen [2001:db8::1]:80", err), 0);
	lbd_metrics_format(&cfg.metrics, err, sizeof(err));
	XT_TRUE(!strcmp(err, "[2001:db8::1]:80"), "metrics set again replaces: '%s'", err);
	XT_EQ(cmd(&cfg, "metrics del", err), 0);
	XT_EQ(cfg.metrics.port, 0);
	lbd_config_free(&cfg);
}

/* Every per-flow scheduler by name, written back as read; one takes at most XLB_SCHED_MAX_BACKENDS backends. */
static void per_flow_schedulers(void)
{
	static const char *const names[] = { "rr", "wrr", "lc", "wlc", "random" };
	struct lbd_config cfg;
	char err[LBD_ERR_LEN] = "", line[160];
	int i;

	lbd_config_init(&cfg);
	for (i = 0; i < 5; i++) {
		snprintf(line, sizeof(line), "vip add 198.18.1.%d:80/tcp --sched %s", i + 1, names[i]);
		XT_EQ(cmd(&cfg, line, err), 0);
		XT_TRUE(!strcmp(lbd_sched_name(cfg.vips[i].sched), names[i]) &&
			lbd_sched_xlb(cfg.vips[i].sched) != XLB_SCHED_RING, "sched %s", names[i]);
	}
	XT_EQ(lbd_sched_xlb(LBD_SCHED_MAGLEV_SRC), XLB_SCHED_RING);
	for (i = 0; i < XLB_SCHED_MAX_BACKENDS; i++) {
		snprintf(line, sizeof(line), "backend add 198.18.1.3:80/tcp 198.18.2.%d", i + 1);
		if (!XT_EQ(cmd(&cfg, line, err), 0))
			break;
	}
	XT_TRUE(cmd(&cfg, "backend add 198.18.1.3:80/tcp 198.18.3.1", err) != 0 &&
		strstr(err, "sched lc takes at most 64 backends"), "65th backend of an lc VIP: '%s'", err);
	XT_EQ(cfg.vips[2].n_backends, XLB_SCHED_MAX_BACKENDS);
	/* vip set changes the scheduler, persistence and the passive check in place; a refusal changes nothing. */
	XT_EQ(cmd(&cfg, "vip set 198.18.1.1:80/tcp --sched wlc --persist 30s --passive 4/20s", err), 0);
	XT_TRUE(cfg.vips[0].sched == LBD_SCHED_WLC && cfg.vips[0].persist_ms == 30000 && cfg.vips[0].passive_n == 4 &&
		cfg.vips[0].passive_window_ms == 20000 && cfg.vips[0].announce == LBD_ANNOUNCE_HEALTHY,
		"vip set --sched wlc --persist 30s --passive 4/20s");
	XT_EQ(cmd(&cfg, "vip set 198.18.1.1:80/tcp --weights agent", err), -EINVAL);
	XT_TRUE(strstr(err, "agent-port is required") && cfg.vips[0].weights == LBD_WEIGHTS_STATIC,
		"weights agent without a port: '%s'", err);
	for (i = 0; i <= XLB_SCHED_MAX_BACKENDS; i++) {
		snprintf(line, sizeof(line), "backend add 198.18.1.4:80/tcp 198.18.2.%d", i + 1);
		cmd(&cfg, line, err);
	}
	XT_EQ(cfg.vips[3].n_backends, XLB_SCHED_MAX_BACKENDS);
	XT_EQ(cmd(&cfg, "vip set 198.18.1.4:80/tcp --sched maglev", err), 0);
	XT_EQ(cmd(&cfg, "backend add 198.18.1.4:80/tcp 198.18.3.1", err), 0);
	XT_TRUE(cmd(&cfg, "vip set 198.18.1.4:80/tcp --sched lc", err) != 0 && strstr(err, "takes at most 64") &&
		cfg.vips[3].sched == LBD_SCHED_MAGLEV, "sched lc on 65 backends: '%s'", err);
	XT_EQ(cmd(&cfg, "vip add 198.18.1.9:80/tcp --persist 5m", err), 0);
	XT_EQ(cfg.vips[5].persist_ms, 300000);
	XT_EQ(cmd(&cfg, "vip add 198.18.1.11:80/tcp --passive 5/30s", err), 0);
	XT_TRUE(cfg.vips[6].passive_n == 5 && cfg.vips[6].passive_window_ms == 30000, "passive 5/30s");
	XT_TRUE(cmd(&cfg, "vip add 198.18.1.12:80/tcp --passive 5", err) != 0 &&
		strstr(err, "passive '5' is not N/WINDOW"), "passive 5: '%s'", err);
	XT_TRUE(cmd(&cfg, "vip add 198.18.1.12:80/tcp --passive 0/10s", err) != 0 &&
		strstr(err, "N from 1 to 1000"), "passive 0/10s: '%s'", err);
	XT_TRUE(cmd(&cfg, "vip add 198.18.1.10:80/tcp --persist 2d", err) != 0 &&
		strstr(err, "persist '2d' is not a duration up to 1d"), "persist 2d: '%s'", err);
	lbd_config_free(&cfg);
}

static void wrong_commands_change_nothing(void)
{
	static const struct {
		const char *line, *want;
	} bad[] = {
		{ "backend del 198.18.1.1:80/tcp 198.18.2.7", "backend 198.18.2.7 is not in VIP 198.18.1.1:80/tcp" },
		{ "backend add 198.18.1.9:80/tcp 198.18.2.7", "VIP 198.18.1.9:80/tcp does not exist: lbctl vip add" },
		{ "vip add 198.18.1.1:80/tcp --forward gre", "forward 'gre' is not dsr or ipip" },
		{ "vip add 198.18.1.1:80/tcp --sched sh", "sched 'sh' is not maglev, maglev-src, rr, wrr, lc, wlc or random" },
		{ "vip add 198.18.1.1:80/tcp forward dsr", "unexpected 'forward': options start with --" },
		{ "vip add 198.18.1.2:80", "VIP '198.18.1.2:80' has no protocol" },
		{ "backend set 198.18.1.1:80/tcp 198.18.0.1", "backend set needs a change" },
		{ "backend set 198.18.1.1:80/tcp 198.18.0.1 --drain --enable", "exclude each other" },
		{ "backend add 198.18.1.1:80/tcp not-an-address", "backend 'not-an-address' is not an IPv4 or IPv6" },
		{ "vip frob", "unknown 'vip frob'" },
		{ "attach", "attach needs an interface" },
		{ "attach veth0 --xdp-mode turbo", "xdp-mode 'turbo' is not native or generic" },
		{ "detach veth9", "veth9 is not attached" },
		{ "vip add 198.18.1.1:80/tcp --ring-size 65536", "ring-size 65536 is not prime: try 65537" },
		{ "vip add 198.18.1.1:80/tcp", "VIP 198.18.1.1:80/tcp exists already" },
		{ "launch", "unknown command 'launch'" },
		{ "vip add 198.18.1.3:80/tcp --check ping", "check 'ping' is not tcp, http:/PATH" },
		{ "vip add 198.18.1.3:80/tcp --check http:health", "the path must start with /" },
		{ "vip add 198.18.1.3:80/tcp --interval 1", "interval '1' is not a duration" },
		{ "vip add 198.18.1.3:80/tcp --interval 1s --timeout 2s", "timeout 2s is longer than interval 1s" },
		{ "vip add 198.18.1.3:80/tcp --rise 0", "rise '0' is not a number from 1 to 100" },
		{ "vip add 198.18.1.3:80/tcp --check http --expect 99", "expect '99' is not an HTTP status" },
		{ "vip add 198.18.1.3:0/tcp --check tcp", "port 0" },
		{ "vip add 198.18.1.3:80/tcp --all-down maybe", "all-down 'maybe' is not open or drop" },
		{ "backend set 198.18.1.1:80/tcp 198.18.0.1 --up --down", "exclude each other" },
		{ "backend set 198.18.1.1:80/tcp 198.18.0.1 --timeout 5s", "timeout 5s is longer than interval 1s" },
		{ "backend add 198.18.1.1:80/tcp 198.18.0.9 --drain", "'--drain' is not an option here" },
		{ "vip add 198.18.1.3:80/tcp --announce sometimes", "announce 'sometimes' is not healthy, always or never" },
		{ "vip set 198.18.1.1:80/tcp", "vip set needs a change: --announce" },
		{ "vip set 198.18.1.1:80/tcp --ring-size 251", "'--ring-size' is not an option here" },
		{ "vip set 198.18.1.9:80/tcp --announce never", "VIP 198.18.1.9:80/tcp does not exist" },
		{ "bgp set --bird-socket /run/bird/bird.ctl", "bgp needs BIRD's control socket and the file" },
		{ "bgp set --include /etc/bird/xlb.conf", "bgp needs BIRD's control socket and the file" },
		{ "bgp set --bird-socket bird.ctl --include /x.conf", "bird-socket 'bird.ctl' is not an absolute path" },
		{ "bgp set --bird-socket /b.ctl --include /x.conf --hold-down soon", "hold-down 'soon' is not a duration" },
		{ "bgp set --bird-socket /b.ctl --include /x.conf --withdraw-delay 1h", "withdraw-delay '1h' is not a duration up to 5m" },
		{ "bgp set --bird-socket /b.ctl --include /x.conf --graceful", "'--graceful' is not a bgp option" },
		{ "bgp set --bird-socket /b.ctl --include /x\"y.conf", "has a blank, a quote" },
		{ "bgp set --bird-socket /b.ctl --include", "'--include' needs a value" },
		{ "bgp del", "no bgp is set" },
		{ "bgp show now", "bgp show takes no arguments" },
		{ "bgp frob", "unknown 'bgp frob'" },
		{ "metrics set", "metrics needs the address to listen on: --listen ADDR:PORT" },
		{ "metrics set --listen", "'--listen' needs a value: an address and a TCP port" },
		{ "metrics set --port 9100", "'--port' is not a metrics option" },
		{ "metrics set --listen 198.18.0.1", "listen '198.18.0.1' is not ADDR:PORT" },
		{ "metrics set --listen 198.18.0.1:0", "the port must be 1 to 65535" },
		{ "metrics set --listen 198.18.0.1:65536", "the port must be 1 to 65535" },
		{ "metrics set --listen 2001:db8::1:9100", "not an IPv4 address or an IPv6 address in brackets" },
		{ "metrics set --listen [198.18.0.1]:9100", "not an IPv4 address or an IPv6 address in brackets" },
		{ "metrics set --listen host.example:9100", "'host.example' is not an IPv4 address" },
		{ "metrics set --listen 198.18.0.1:9100 --listen 198.18.0.1:9101", "'--listen' is given twice" },
		{ "metrics del", "no metrics listen address is set" },
		{ "metrics show all", "metrics show takes no arguments" },
		{ "metrics frob", "unknown 'metrics frob'" },
	};
	struct lbd_config cfg, before;
	char err[LBD_ERR_LEN], a[4096], b[4096];
	FILE *f;

	lbd_config_init(&cfg);
	cmd(&cfg, "vip add 198.18.1.1:80/tcp", err);
	cmd(&cfg, "backend add 198.18.1.1:80/tcp 198.18.0.1", err);
	lbd_config_copy(&before, &cfg);
	for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
		err[0] = 0;
		XT_NE(cmd(&cfg, bad[i].line, err), 0);
		XT_TRUE(strstr(err, bad[i].want) != NULL, "'%s': error '%s' lacks '%s'", bad[i].line, err,
			bad[i].want);
	}
	f = fmemopen(a, sizeof(a), "w");
	lbd_config_write(f, &cfg);
	fclose(f);
	f = fmemopen(b, sizeof(b), "w");
	lbd_config_write(f, &before);
	fclose(f);
	XT_TRUE(!strcmp(a, b), "a failed command changed the configuration");
	lbd_config_free(&cfg);
	lbd_config_free(&before);
}

/* strtod takes "nan", and a NaN passes every range check: advert 0, adverts in a tight loop. */
static void non_finite_numbers_are_refused(void)
{
	static const char *const durations[] = {
		"nan", "nanms", "NaNs", "-nanms", "+nanms", "nan(1)ms", "infs", "infinitym", "0x10s",
		"1e3ms", " 1s", "1.s", ".5s", "1" "000000000000000000000000000000000000000000000000000000000000"
		"000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000"
		"000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000"
		"000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000s",
	};
	static const struct {
		const char *line, *want;
	} words[] = {
		{ "vip add 198.18.1.3:80/tcp --interval nanms", "interval 'nanms' is not a duration" },
		{ "vip add 198.18.1.4:80/tcp --timeout nanms", "timeout 'nanms' is not a duration" },
		{ "vip add 198.18.1.5:80/tcp --slow-start nans", "slow-start 'nans' is not a duration" },
		{ "backend add 198.18.1.1:80/tcp 198.18.0.9 --timeout NaNms", "timeout 'NaNms' is not a duration" },
		{ "backend set 198.18.1.1:80/tcp 198.18.0.1 --slow-start nanm", "slow-start 'nanm' is not a duration" },
		{ "backend set 198.18.1.1:80/tcp 198.18.0.1 --interval infs", "interval 'infs' is not a duration" },
		{ "vrrp add eth0 --vrid 5 --advert nanms --vip 198.18.1.1", "advert 'nanms' is not a duration" },
		{ "vrrp add eth0 --vrid 6 --preempt-delay nans --vip 198.18.1.1", "preempt-delay 'nans' is not a duration" },
	};
	static const struct {
		const char *text, *want;
	} lines[] = {
		{ "vip 198.18.1.1:80/tcp interval nanms\n", "t.conf:1: interval 'nanms' is not a duration" },
		{ "vip 198.18.1.1:80/tcp\n backend 198.18.0.1 slow-start -nanms\n",
		  "t.conf:2: slow-start '-nanms' is not a duration" },
		{ "vrrp eth0 vrid 5 advert nanms vip 198.18.1.1\n", "t.conf:1: advert 'nanms' is not a duration" },
		{ "vrrp eth0 vrid 5 preempt-delay nan(0)s vip 198.18.1.1\n",
		  "t.conf:1: preempt-delay 'nan(0)s' is not a duration" },
	};
	static const struct {
		const char *text;
		uint32_t ms;
	} fine[] = { { "1.5s", 1500 }, { "100ms", 100 }, { "2m", 120000 }, { "1h", 3600000 }, { "0s", 0 },
		     { "0.25s", 250 } };
	struct lbd_config cfg;
	char err[LBD_ERR_LEN];
	uint32_t ms;

	for (size_t i = 0; i < sizeof(durations) / sizeof(durations[0]); i++) {
		ms = 12345;
		XT_TRUE(check_duration_parse(durations[i], 0, 3600000, &ms) < 0 && ms == 12345,
			"duration '%.20s' taken as %u ms", durations[i], ms);
	}
	for (size_t i = 0; i < sizeof(fine) / sizeof(fine[0]); i++)
		XT_TRUE(!check_duration_parse(fine[i].text, 0, 3600000, &ms) && ms == fine[i].ms,
			"duration '%s': expected %u ms", fine[i].text, fine[i].ms);
	lbd_config_init(&cfg);
	cmd(&cfg, "vip add 198.18.1.1:80/tcp", err);
	cmd(&cfg, "backend add 198.18.1.1:80/tcp 198.18.0.1", err);
	for (size_t i = 0; i < sizeof(words) / sizeof(words[0]); i++) {
		err[0] = 0;
		XT_NE(cmd(&cfg, words[i].line, err), 0);
		XT_TRUE(strstr(err, words[i].want) != NULL, "'%s': error '%s' lacks '%s'", words[i].line, err,
			words[i].want);
	}
	XT_EQ(cfg.n_vrrp, 0);
	lbd_config_free(&cfg);
	for (size_t i = 0; i < sizeof(lines) / sizeof(lines[0]); i++) {
		err[0] = 0;
		XT_EQ(parse_text(lines[i].text, &cfg, err), -EINVAL);
		XT_TRUE(!strncmp(err, lines[i].want, strlen(lines[i].want)), "error '%s', expected it to start '%s'",
			err, lines[i].want);
	}
}

/* What the writer cannot write back is refused when it comes in, with the reason. */
static void unwritable_words_are_refused(void)
{
	static const struct {
		const char *words[8], *want;
	} bad[] = {
		{ { "vip", "add", "198.18.1.3:80/tcp", "--check", "exec:/bin/probe\r--deep" }, "control character 0x0d" },
		{ { "vip", "add", "198.18.1.3:80/udp", "--check", "udp:a\rb" }, "control character 0x0d" },
		{ { "vip", "add", "198.18.1.3:80/tcp", "--check", "http:/\tx" }, "control character 0x09" },
		{ { "attach", "et#h0" }, "interface name 'et#h0': lbd.conf cannot hold '#'" },
		{ { "attach", "eth\"0" }, "interface name 'eth\"0': lbd.conf cannot hold '\"'" },
		{ { "attach", "eth\r0" }, "'eth?0' is not an interface name: it holds control character 0x0d" },
		{ { "attach", "eth:0" }, "'eth:0' is not an interface name: ':' cannot be in one" },
		{ { "attach", ".." }, "'..' is not an interface name" },
		{ { "vrrp", "add", "v#0", "--vrid", "9", "--vip", "198.18.1.9" }, "lbd.conf cannot hold '#'" },
	};

	for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
		struct lbd_config cfg;
		char err[LBD_ERR_LEN] = "", *argv[8];
		int argc = 0;

		for (; argc < 8 && bad[i].words[argc]; argc++)
			argv[argc] = (char *)bad[i].words[argc];
		lbd_config_init(&cfg);
		XT_NE(cmd_argv(&cfg, argc, argv, err), 0);
		XT_TRUE(strstr(err, bad[i].want) != NULL, "case %zu: error '%s' lacks '%s'", i, err, bad[i].want);
		XT_TRUE(cfg.n_vips + cfg.n_ifaces + cfg.n_vrrp == 0, "case %zu changed the model", i);
		lbd_config_free(&cfg);
	}
}

/* The IPv4 and the IPv6 router of one VRID: vrrp del names one by an address it holds. */
static int parse_line(const char *line, struct lbd_cmd *c, char *err)
{
	char buf[256], *argv[16];
	int argc = 0;

	snprintf(buf, sizeof(buf), "%s", line);
	for (char *w = strtok(buf, " "); w && argc < 16; w = strtok(NULL, " "))
		argv[argc++] = w;
	return lbd_cmd_parse(argc, argv, c, err, LBD_ERR_LEN);
}

/* lbctl trace's words: a source with or without a port, IPv4 or IPv6, and what is refused. */
static void trace_words(void)
{
	static const struct {
		const char *line, *error;	/* error: NULL when taken */
	} cases[] = {
		{ "trace 198.18.0.5 198.18.1.1:80/tcp" },
		{ "trace 198.18.0.5:1234 198.18.1.1:53/udp" },
		{ "trace [2001:db8::5]:99 [2001:db8:1::1]:80/tcp --syn" },
		{ "trace 2001:db8::5 [2001:db8:1::1]:80/tcp" },
		{ "trace --file /run/xlb/flows" },
		{ "trace 198.18.0.5 198.18.1.1:53/udp --syn", "--syn is for TCP" },
		{ "trace 198.18.0.5 [2001:db8:1::1]:80/tcp", "different address families" },
		{ "trace nowhere 198.18.1.1:80/tcp", "source 'nowhere' is not ADDR or ADDR:PORT" },
		{ "trace 198.18.0.5", "trace needs a flow: lbctl trace SRC[:PORT] DST:PORT/PROTO" },
		{ "trace --file /run/xlb/flows --syn", "takes no flow on the command line" },
		{ "trace --file flows", "the absolute path of a file of flows" },
		{ "trace 198.18.0.5 198.18.1.1:80/tcp --weight 3", "trace takes only --syn and --file FLOWS" },
	};
	struct lbd_cmd c;
	char err[LBD_ERR_LEN];

	for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
		int ret;

		err[0] = 0;
		ret = parse_line(cases[i].line, &c, err);
		if (!cases[i].error)
			XT_TRUE(!ret && c.kind == CMD_TRACE, "'%s' refused: %s", cases[i].line, err);
		else
			XT_TRUE(ret && strstr(err, cases[i].error), "'%s': error '%s', want '%s'", cases[i].line,
				err, cases[i].error);
	}
	if (XT_EQ(parse_line("trace 198.18.0.5 198.18.1.1:80/tcp", &c, err), 0))
		XT_TRUE(c.trace.sport == LBD_TRACE_SPORT && !c.trace.syn && c.vip.port == 80 &&
			c.trace.src.family == XLB_AF_INET, "the default source port, an ACK");
	if (XT_EQ(parse_line("trace [2001:db8::5]:99 [2001:db8:1::1]:80/tcp --syn", &c, err), 0))
		XT_TRUE(c.trace.sport == 99 && c.trace.syn && c.trace.src.family == XLB_AF_INET6, "IPv6 with a port");
}

static void vrrp_del_names_the_family(void)
{
	struct lbd_config cfg;
	char err[LBD_ERR_LEN] = "";

	lbd_config_init(&cfg);
	XT_EQ(cmd(&cfg, "vrrp add eth0 --vrid 51 --vip 198.18.1.1 198.18.1.2", err), 0);
	XT_EQ(cmd(&cfg, "vrrp add eth0 --vrid 51 --priority 50 --vip 2001:db8:1::1", err), 0);
	XT_EQ(cmd(&cfg, "vrrp add eth0 --vrid 51 --vip 198.18.1.3", err), -EINVAL);
	XT_TRUE(strstr(err, "lbctl vrrp del eth0 --vrid 51 --vip 198.18.1.1 first"), "error '%s'", err);
	XT_EQ(cmd(&cfg, "vrrp del eth0 --vrid 51", err), -EINVAL);
	XT_TRUE(strstr(err, "VRID 51 on eth0 has an IPv4 and an IPv6 router: name one by an address it holds, "
			    "as in lbctl vrrp del eth0 --vrid 51 --vip 198.18.1.1"), "error '%s'", err);
	XT_EQ(cfg.n_vrrp, 2);
	XT_EQ(cmd(&cfg, "vrrp del eth0 --vrid 51 --vip 198.18.1.9", err), -EINVAL);
	XT_TRUE(strstr(err, "the IPv4 router of VRID 51 on eth0 does not hold 198.18.1.9"), "error '%s'", err);
	XT_EQ(cmd(&cfg, "vrrp del eth0 --vrid 51 --vip 198.18.1.2 2001:db8:1::1", err), -EINVAL);
	XT_TRUE(strstr(err, "IPv4 or IPv6 addresses, not both"), "error '%s'", err);
	XT_EQ(cfg.n_vrrp, 2);
	XT_EQ(cmd(&cfg, "vrrp del eth0 --vrid 51 --vip 2001:db8:1::1", err), 0);
	XT_TRUE(cfg.n_vrrp == 1 && cfg.vrrp[0].family == XLB_AF_INET, "the IPv4 router is left");
	XT_EQ(cmd(&cfg, "vrrp del eth0 --vrid 51 --vip 2001:db8:1::1", err), -EINVAL);
	XT_TRUE(strstr(err, "no IPv6 router with VRID 51 on eth0"), "error '%s'", err);
	XT_EQ(cmd(&cfg, "vrrp del eth0 --vrid 51 --priority 5", err), -EINVAL);
	XT_TRUE(strstr(err, "vrrp del takes only --vrid N and --vip ADDR"), "error '%s'", err);
	XT_EQ(cmd(&cfg, "vrrp del eth0 --vrid 51", err), 0);
	XT_EQ(cfg.n_vrrp, 0);
	XT_EQ(cmd(&cfg, "vrrp del eth0 --vrid 51", err), -EINVAL);
	XT_TRUE(strstr(err, "no VRID 51 on eth0"), "error '%s'", err);
	lbd_config_free(&cfg);
}

/* ---- saving the file ---- */

/*
 * The fsyncs lbd_config_save makes, in order. This definition takes the
 * place of libc's for config.o, linked into this binary.
 */
static struct {
	bool dir;
	ino_t ino, watched_ino;	/* watched_ino: what the watched path named at the time */
} syncs[16];
static int n_syncs;
static const char *sync_watch;

int fsync(int fd)
{
	struct stat st, w;

	if (n_syncs < 16 && !fstat(fd, &st)) {
		syncs[n_syncs].dir = S_ISDIR(st.st_mode);
		syncs[n_syncs].ino = st.st_ino;
		syncs[n_syncs].watched_ino = sync_watch && !stat(sync_watch, &w) ? w.st_ino : 0;
		n_syncs++;
	}
	return (int)syscall(SYS_fsync, fd);
}

static char tmpdir[64];

static bool make_tmpdir(void)
{
	strcpy(tmpdir, "/tmp/xlb-test-config.XXXXXX");
	return XT_TRUE(mkdtemp(tmpdir) != NULL, "mkdtemp: %s", strerror(errno));
}

static int rm_one(const char *path, const struct stat *st, int type, struct FTW *ftw)
{
	(void)st, (void)type, (void)ftw;
	return remove(path);
}

static void rm_tmpdir(void)
{
	nftw(tmpdir, rm_one, 8, FTW_DEPTH | FTW_PHYS);
}

static const char *in_tmp(char *buf, size_t len, const char *name)
{
	return sub(buf, len, "%s/%s", tmpdir, name);
}

static bool write_file(const char *path, mode_t mode)
{
	int fd = open(path, O_WRONLY | O_CREAT | O_TRUNC, mode);

	if (!XT_TRUE(fd >= 0, "create %s: %s", path, strerror(errno)))
		return false;
	fchmod(fd, mode);	/* past the umask */
	close(fd);
	return true;
}

/* Saves a model from the good text at path; true when saved and the file at target reads back. */
static bool save_and_reread(const char *path, const char *target)
{
	struct lbd_config a, b;
	char err[LBD_ERR_LEN] = "";
	bool ok = false;

	if (!XT_EQ(parse_text(good, &a, err), 0))
		return false;
	if (XT_TRUE(lbd_config_save(path, &a, err, sizeof(err)) == 0, "save %s: %s", path, err) &&
	    XT_TRUE(lbd_config_load(target, &b, err, sizeof(err)) == 0, "load %s: %s", target, err)) {
		ok = XT_TRUE(cfg_eq(&b, &a), "%s holds another model: %s", target, diff);
		lbd_config_free(&b);
	}
	lbd_config_free(&a);
	return ok;
}

static mode_t mode_of(const char *path)
{
	struct stat st;

	return stat(path, &st) ? (mode_t)-1 : st.st_mode & 07777;
}

/* No temporary file stays behind in dir. */
static void no_leftovers(const char *dir)
{
	char cmdline[256];

	sub(cmdline, sizeof(cmdline), "ls -A '%s' | grep -q '\\.tmp\\.'", dir);
	XT_TRUE(system(cmdline) != 0, "a temporary file stayed in %s", dir);
}

/* A 0600 file whose exec checks hold a secret stays 0600; a new file is 0600 too. */
static void saving_keeps_the_mode(void)
{
	static const mode_t modes[] = { 0600, 0640, 0644 };
	char path[128];
	mode_t old = umask(022);
	int cwd;

	if (!make_tmpdir())
		goto out;
	for (size_t i = 0; i < sizeof(modes) / sizeof(modes[0]); i++) {
		sub(path, sizeof(path), "%s/lbd-%o.conf", tmpdir, modes[i]);
		if (write_file(path, modes[i]) && save_and_reread(path, path))
			XT_TRUE(mode_of(path) == modes[i], "%s: mode %o after the save, was %o", path, mode_of(path),
				modes[i]);
	}
	in_tmp(path, sizeof(path), "new/lbd.conf");
	if (save_and_reread(path, path))
		XT_TRUE(mode_of(path) == 0600, "a new file has mode %o, expected 0600", mode_of(path));
	/* A bare name: its directory is ".", and the file is not taken for one. */
	cwd = open(".", O_RDONLY | O_DIRECTORY);
	if (XT_TRUE(cwd >= 0 && !chdir(tmpdir), "cannot enter %s", tmpdir) && save_and_reread("bare.conf", "bare.conf"))
		XT_TRUE(mode_of("bare.conf") == 0600, "bare.conf has mode %o, expected 0600", mode_of("bare.conf"));
	if (cwd >= 0 && (fchdir(cwd) || close(cwd)))
		XT_TRUE(false, "cannot return to the first directory");
	no_leftovers(tmpdir);
	rm_tmpdir();
out:
	umask(old);
}

/* A symlinked config stays a link; its target gets the content (also a dangling link's). */
static void saving_follows_a_symlink(void)
{
	char link[128], link2[128], target[128], dangling[128], fresh[128], real[128], got[128];
	ssize_t n;
	struct stat st;

	if (!make_tmpdir())
		return;
	in_tmp(real, sizeof(real), "real");
	mkdir(real, 0755);
	in_tmp(target, sizeof(target), "real/lbd.conf");
	in_tmp(link, sizeof(link), "lbd.conf");
	in_tmp(link2, sizeof(link2), "lbd2.conf");
	if (write_file(target, 0640) && XT_EQ(symlink("real/lbd.conf", link), 0) &&
	    XT_EQ(symlink("lbd.conf", link2), 0) && save_and_reread(link2, target)) {
		n = readlink(link, got, sizeof(got) - 1);
		XT_TRUE(n > 0 && !lstat(link, &st) && S_ISLNK(st.st_mode) && !strncmp(got, "real/lbd.conf", (size_t)n),
			"%s is no longer the link to real/lbd.conf", link);
		XT_TRUE(!lstat(link2, &st) && S_ISLNK(st.st_mode), "%s is no longer a link", link2);
		XT_TRUE(mode_of(target) == 0640, "the target's mode is %o, was 0640", mode_of(target));
	}
	in_tmp(dangling, sizeof(dangling), "dangling.conf");
	in_tmp(fresh, sizeof(fresh), "real/fresh.conf");
	if (XT_EQ(symlink("real/fresh.conf", dangling), 0) && save_and_reread(dangling, fresh)) {
		XT_TRUE(!lstat(dangling, &st) && S_ISLNK(st.st_mode), "%s is no longer a link", dangling);
		XT_TRUE(mode_of(fresh) == 0600, "the new target has mode %o, expected 0600", mode_of(fresh));
	}
	no_leftovers(tmpdir);
	no_leftovers(real);
	rm_tmpdir();
}

static void saving_keeps_the_owner(void)
{
	char path[128];
	struct stat st;

	if (geteuid() != 0)
		XT_SKIP("giving a file to uid 65534 needs root");
	if (!make_tmpdir())
		return;
	in_tmp(path, sizeof(path), "lbd.conf");
	if (write_file(path, 0640) && XT_EQ(chown(path, 65534, 65534), 0) && save_and_reread(path, path) &&
	    XT_EQ(stat(path, &st), 0))
		XT_TRUE(st.st_uid == 65534 && st.st_gid == 65534 && (st.st_mode & 07777) == 0640,
			"owner %u:%u mode %o after the save, was 65534:65534 0640", st.st_uid, st.st_gid,
			st.st_mode & 07777);
	rm_tmpdir();
}

/* The data reaches the disk before the rename, the rename before the save returns. */
static void saving_syncs_the_file_and_the_directory(void)
{
	char path[128];
	struct stat file, dir;
	int data = -1, dirsync = -1;

	if (!make_tmpdir())
		return;
	in_tmp(path, sizeof(path), "lbd.conf");
	n_syncs = 0;
	sync_watch = path;
	if (write_file(path, 0600) && save_and_reread(path, path) && XT_EQ(stat(path, &file), 0) &&
	    XT_EQ(stat(tmpdir, &dir), 0)) {
		for (int i = 0; i < n_syncs; i++) {
			if (!syncs[i].dir && syncs[i].ino == file.st_ino && data < 0)
				data = i;
			if (syncs[i].dir && syncs[i].ino == dir.st_ino && syncs[i].watched_ino == file.st_ino)
				dirsync = i;
		}
		XT_TRUE(data >= 0, "the new file was not fsynced (%d fsyncs)", n_syncs);
		XT_TRUE(dirsync > data, "the directory was not fsynced after the rename (%d fsyncs)", n_syncs);
	}
	sync_watch = NULL;
	rm_tmpdir();
}


/* ---- the grammar's table against the parser ---- */

/* A value the parser takes for an option; NULL: none known, the test says so. */
static const char *sample_value(int id)
{
	static const struct {
		const char *name, *value;
	} samples[] = {
		{ "ring-size", "251" }, { "weight", "3" }, { "vrid", "9" }, { "entropy-bits", "8" },
		{ "expect", "200" }, { "host", "www.example" }, { "check", "http:/health" },
		{ "vip", "198.18.1.9" }, { "bird-socket", "/run/bird/bird.ctl" }, { "include", "/etc/bird/xlb.conf" },
		{ "file", "/run/xlb/flows" },
		{ "listen", "198.18.0.1:9100" }, { "passive", "3/10s" }, { "agent-port", "8888" },
		{ "etcd", "http://198.18.0.1:2379" }, { "cache", "/var/lib/xlb/xe.cluster" },
		{ "peers", "198.18.0.3:7946,198.18.0.4:7946" }, { "key-file", "/etc/xlb/sync.key" },
		{ "limit-new-flows", "20" }, { "limit-burst", "40" }, { "limit-pps", "5000" },
		{ "limit-prefix", "24/56" }, { "allow", "198.18.0.0/16,2001:db8::/32" }, { "deny", "198.18.5.0/24" },
	};
	const struct grammar_opt *o = &grammar_opts[id];
	static char keyword[32];

	if (o->value == GV_KEYWORD) {
		snprintf(keyword, sizeof(keyword), "%.*s", (int)strcspn(o->keywords, " "), o->keywords);
		return keyword;
	}
	for (size_t i = 0; i < sizeof(samples) / sizeof(samples[0]); i++)
		if (!strcmp(samples[i].name, o->name))
			return samples[i].value;
	/* Durations and most numbers: help's example is a value. */
	if ((o->value == GV_DURATION || o->value == GV_NUMBER) && o->meta[0] >= '0' && o->meta[0] <= '9')
		return o->meta;
	return NULL;
}

static const char *sample_arg(enum grammar_arg a)
{
	switch (a) {
	case GA_DEV: return "eth0";
	case GA_NEW_VIP: case GA_VIP: return "198.18.1.1:80/tcp";
	case GA_NEW_BACKEND: case GA_BACKEND: return "198.18.0.1";
	case GA_ADDR: return "198.18.0.2";
	case GA_NUMBER: return "1024";
	case GA_NAME: return "xe";
	default: return "?";
	}
}

struct words {
	char *w[32];
	char text[32][64];
	int n;
};

static void word(struct words *ws, const char *w)
{
	snprintf(ws->text[ws->n], sizeof(ws->text[0]), "%s", w);
	ws->w[ws->n] = ws->text[ws->n];
	ws->n++;
}

/*
 * The words of c with sample positional words, its required options, then
 * option id with value (value NULL: its sample); cli: "--" before names.
 */
static void sample_words(const struct grammar_cmd *c, bool cli, int id, const char *value, struct words *ws)
{
	char name[48];

	bool no_args = id >= 0 && (c->opts & GRAMMAR_BIT(id)) && grammar_opts[id].instead_of_args;

	ws->n = 0;
	word(ws, c->object);
	if (c->verb)
		word(ws, c->verb);
	for (int k = 0; k < GRAMMAR_MAX_ARGS && c->arg[k] && !no_args; k++)
		word(ws, sample_arg(c->arg[k]));
	for (int k = 0; k < GOPT_COUNT; k++)
		if ((c->required & GRAMMAR_BIT(k)) && k != id) {
			snprintf(name, sizeof(name), "%s%s", cli ? "--" : "", grammar_opts[k].name);
			word(ws, name);
			word(ws, sample_value(k));
		}
	if (id < 0)
		return;
	snprintf(name, sizeof(name), "%s%s", cli ? "--" : "", grammar_opts[id].name);
	word(ws, name);
	if (grammar_opts[id].value != GV_FLAG)
		word(ws, value ? value : sample_value(id));
	/* The values that need another option: the agent's weights its port, a limit's burst or prefix a limit. */
	if (id == GOPT_WEIGHTS && value && !strcmp(value, "agent")) {
		word(ws, cli ? "--agent-port" : "agent-port");
		word(ws, sample_value(GOPT_AGENT_PORT));
	}
	if (id == GOPT_LIMIT_BURST || id == GOPT_LIMIT_PREFIX) {
		word(ws, cli ? "--limit-new-flows" : "limit-new-flows");
		word(ws, sample_value(GOPT_LIMIT_NEW_FLOWS));
	}
}

/* The values to try for option id: each keyword of a keyword option, else the sample. */
static int option_values(int id, char values[][32], int max)
{
	const struct grammar_opt *o = &grammar_opts[id];
	int n = 0;

	if (o->value != GV_KEYWORD) {
		snprintf(values[n++], 32, "%s", sample_value(id) ? sample_value(id) : "");
		return n;
	}
	for (const char *p = o->keywords; *p && n < max; n++) {
		size_t l = strcspn(p, " ");

		snprintf(values[n], 32, "%.*s", (int)l, p);
		p += l + (p[l] == ' ');
	}
	return n;
}

static void words_line(const struct words *ws, char *buf, size_t len)
{
	buf[0] = 0;
	for (int i = 0; i < ws->n; i++)
		snprintf(buf + strlen(buf), len - strlen(buf), "%s%s", i ? " " : "", ws->w[i]);
}

/* Every option the table gives an lbctl command is taken by lbd_cmd_parse, each keyword of it too. */
static void table_options_are_parsed(void)
{
	int tried = 0;

	for (size_t i = 0; i < grammar_n_cmds; i++) {
		const struct grammar_cmd *c = &grammar_cmds[i];

		if (c->where != GW_LBD)
			continue;
		for (int id = 0; id < GOPT_COUNT; id++) {
			char values[8][32], line[512], err[LBD_ERR_LEN] = "";
			int n;

			if (!(c->opts & GRAMMAR_BIT(id)) || grammar_opts[id].lbctl_only)
				continue;
			if (!XT_TRUE(sample_value(id) || grammar_opts[id].value == GV_FLAG,
				     "no sample value for --%s: add one to sample_value()", grammar_opts[id].name))
				continue;
			n = option_values(id, values, 8);
			for (int v = 0; v < n; v++) {
				struct words ws;
				struct lbd_cmd cmd;

				sample_words(c, true, id, values[v], &ws);
				words_line(&ws, line, sizeof(line));
				XT_TRUE(!lbd_cmd_parse(ws.n, ws.w, &cmd, err, LBD_ERR_LEN), "'%s' refused: %s", line, err);
				tried++;
			}
		}
	}
	XT_TRUE(tried > 40, "only %d option values tried", tried);
}

/*
 * An option the table does not give a command is refused, naming the
 * command, what it takes and lbctl help: each option of the table, and one
 * the table does not know.
 */
static void options_off_the_table_are_refused(void)
{
	int tried = 0;

	for (size_t i = 0; i < grammar_n_cmds; i++) {
		const struct grammar_cmd *c = &grammar_cmds[i];
		char name[48];

		if (c->where != GW_LBD)
			continue;
		grammar_cmd_name(c, name, sizeof(name));
		for (int id = -1; id < GOPT_COUNT; id++) {
			char line[512], err[LBD_ERR_LEN] = "";
			struct words ws;
			struct lbd_cmd cmd;
			bool bare = !(c->opts & ~GRAMMAR_BIT(GOPT_WATCH));

			if (id >= 0 && (c->opts & GRAMMAR_BIT(id)) && !grammar_opts[id].lbctl_only)
				continue;
			sample_words(c, true, -1, NULL, &ws);
			if (id < 0) {
				word(&ws, "--frobnicate");
			} else {
				char opt[48];

				snprintf(opt, sizeof(opt), "--%s", grammar_opts[id].name);
				word(&ws, opt);
				if (grammar_opts[id].value != GV_FLAG)
					word(&ws, sample_value(id) ? sample_value(id) : "x");
			}
			words_line(&ws, line, sizeof(line));
			if (!XT_TRUE(lbd_cmd_parse(ws.n, ws.w, &cmd, err, LBD_ERR_LEN), "'%s' was taken", line))
				continue;
			/* Commands that take nothing at all say so; the others list what they take. */
			XT_TRUE(strstr(err, name) && strstr(err, "lbctl help") &&
				(bare || strstr(err, id < 0 ? "'--frobnicate' is not a" : "is not an option here")),
				"'%s': error '%s' does not name %s, what it takes and lbctl help", line, err, name);
			tried++;
		}
	}
	XT_TRUE(tried > 200, "only %d refusals tried", tried);
}

/* The file's lines take the options the table gives them, and refuse the others with lbd.conf(5). */
static void file_lines_follow_the_table(void)
{
	for (size_t i = 0; i < grammar_n_cmds; i++) {
		const struct grammar_cmd *c = &grammar_cmds[i];

		if (c->where != GW_FILE)
			continue;
		for (int id = -1; id < GOPT_COUNT; id++) {
			bool listed = id >= 0 && (c->opts & GRAMMAR_BIT(id));
			char values[8][32], text[1024], line[512], err[LBD_ERR_LEN] = "";
			int n = 1;

			if (id >= 0 && !listed && grammar_opts[id].lbctl_only)
				continue;
			if (listed)
				n = option_values(id, values, 8);
			else
				snprintf(values[0], sizeof(values[0]), "%s",
					 id >= 0 && sample_value(id) ? sample_value(id) : "x");
			for (int v = 0; v < n; v++) {
				struct lbd_config cfg;
				struct words ws;

				sample_words(c, false, id < 0 ? -1 : id, values[v], &ws);
				if (id < 0)
					word(&ws, "frobnicate");
				words_line(&ws, line, sizeof(line));
				/* A backend line belongs to the vip line before it. */
				snprintf(text, sizeof(text), "%s%s\n", strcmp(c->object, "backend") ? "" :
					 "vip 198.18.1.1:80/tcp\n", line);
				if (listed) {
					XT_TRUE(!parse_text(text, &cfg, err), "line '%s' refused: %s", line, err);
					lbd_config_free(&cfg);
					continue;
				}
				if (!c->opts)	/* conn-timeout and the like: one number, no options */
					continue;
				XT_TRUE(parse_text(text, &cfg, err) && strstr(err, "lbd.conf(5)") &&
					strstr(err, id < 0 ? "is not a" : "is not an option here"),
					"line '%s': error '%s'", line, err);
			}
		}
	}
}

int main(void)
{
	static const struct xt_case cases[] = {
		XT_CASE(parses_a_full_file),	   XT_CASE(write_then_read_is_identity),
		XT_CASE(bad_file_names_the_line), XT_CASE(commands_change_the_model),
		XT_CASE(wrong_commands_change_nothing),
		XT_CASE(per_flow_schedulers),
		XT_CASE(model_equality_sees_every_kind_of_field),
		XT_CASE(odd_characters_are_refused_or_read_back),
		XT_CASE(non_finite_numbers_are_refused),
		XT_CASE(unwritable_words_are_refused),
		XT_CASE(vrrp_del_names_the_family),
		XT_CASE(trace_words),
		XT_CASE(saving_keeps_the_mode),
		XT_CASE(saving_follows_a_symlink),
		XT_CASE(saving_keeps_the_owner),
		XT_CASE(saving_syncs_the_file_and_the_directory),
		XT_CASE(table_options_are_parsed),
		XT_CASE(options_off_the_table_are_refused),
		XT_CASE(file_lines_follow_the_table),
		XT_CASE(cluster_line_round_trip),
		XT_CASE(cluster_text_holds_only_vips),
	};

	return xt_run("config", cases, sizeof(cases) / sizeof(cases[0]));
}
