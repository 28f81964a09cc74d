// SPDX-License-Identifier: GPL-2.0
/* lbd's configuration grammar: the file, lbctl's words, errors that name the line and the fix. */
#include <errno.h>
#include <netinet/in.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "config.h"
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

/* What lbd writes, it reads back as the same configuration. */
static void write_then_read_is_identity(void)
{
	struct lbd_config a, b;
	char err[LBD_ERR_LEN], *text = NULL, *text2 = NULL;
	size_t len = 0, len2 = 0;
	FILE *f;

	if (!XT_EQ(parse_text(good, &a, err), 0))
		return;
	f = open_memstream(&text, &len);
	lbd_config_write(f, &a);
	fclose(f);
	if (XT_EQ(parse_text(text, &b, err), 0)) {
		f = open_memstream(&text2, &len2);
		lbd_config_write(f, &b);
		fclose(f);
		XT_TRUE(len == len2 && !memcmp(text, text2, len), "second write differs:\n%s\n---\n%s", text, text2);
		XT_EQ(b.conn_timeout, 120);
		lbd_config_free(&b);
	}
	free(text);
	free(text2);
	lbd_config_free(&a);
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
	XT_EQ(cmd(&cfg, "vip del [2001:db8:1::1]:443/tcp", err), 0);
	XT_EQ(cfg.n_vips, 0);
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

int main(void)
{
	static const struct xt_case cases[] = {
		XT_CASE(parses_a_full_file),	   XT_CASE(write_then_read_is_identity),
		XT_CASE(bad_file_names_the_line), XT_CASE(commands_change_the_model),
		XT_CASE(wrong_commands_change_nothing),
	};

	return xt_run("config", cases, sizeof(cases) / sizeof(cases[0]));
}
