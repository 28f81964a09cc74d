// SPDX-License-Identifier: GPL-2.0
#include "grammar.h"

#include <string.h>

#define B(id)	GRAMMAR_BIT(GOPT_##id)
#define VIP_ADD_OPTS	(B(FORWARD) | B(SCHED) | B(PERSIST) | B(RING_SIZE) | B(ALL_DOWN) | B(ANNOUNCE) | B(PASSIVE) | \
			 GRAMMAR_CHECKS | B(WEIGHTS) | B(AGENT_PORT) | B(AGENT_INTERVAL) | LIMIT_OPTS)
#define LIMIT_OPTS	(B(LIMIT_NEW_FLOWS) | B(LIMIT_BURST) | B(LIMIT_PPS) | B(LIMIT_PREFIX) | ACL_OPTS)
#define ACL_OPTS	(B(ALLOW) | B(DENY))
#define VRRP_OPTS	(B(VRID) | B(PRIORITY) | B(ADVERT) | B(NO_PREEMPT) | B(PREEMPT_DELAY) | B(FAULT_DROP) | \
			 B(VMAC) | B(VRRP_VIP))
#define BGP_OPTS	(B(BIRD_SOCKET) | B(INCLUDE) | B(HOLD_DOWN) | B(WITHDRAW_DELAY))

/* The check's meta is its whole syntax: help and a missing value say the same. */
#define CHECK_SPEC	"tcp|http:/PATH|udp[:PAYLOAD]|exec:CMD|none"

const struct grammar_opt grammar_opts[GOPT_COUNT] = {
	[GOPT_XDP_MODE] = { "xdp-mode", GV_KEYWORD, "native|generic", "native|generic", "native generic" },
	[GOPT_FORWARD] = { "forward", GV_KEYWORD, "dsr|ipip", "dsr|ipip", "dsr ipip" },
	[GOPT_SCHED] = { "sched", GV_KEYWORD, "maglev|maglev-src|rr|wrr|lc|wlc|random",
			 "maglev|maglev-src|rr|wrr|lc|wlc|random", "maglev maglev-src rr wrr lc wlc random" },
	[GOPT_PERSIST] = { "persist", GV_DURATION, "5m", "a duration up to 1d, e.g. 5m (0s: none)" },
	[GOPT_PASSIVE] = { "passive", GV_TEXT, "3/10s", "N/WINDOW: N retransmitted SYNs within WINDOW take a backend out" },
	[GOPT_RING_SIZE] = { "ring-size", GV_NUMBER, "M", "a prime from 251 to 131071" },
	[GOPT_ALL_DOWN] = { "all-down", GV_KEYWORD, "open|drop", "open|drop", "open drop" },
	[GOPT_ANNOUNCE] = { "announce", GV_KEYWORD, "healthy|always|never", "healthy|always|never",
			    "healthy always never" },
	[GOPT_WEIGHTS] = { "weights", GV_KEYWORD, "static|agent|latency|bandwidth", "static|agent|latency|bandwidth",
			   "static agent latency bandwidth" },
	[GOPT_AGENT_PORT] = { "agent-port", GV_NUMBER, "N", "the agent's TCP port, 1 to 65535" },
	[GOPT_AGENT_INTERVAL] = { "agent-interval", GV_DURATION, "2s", "a duration from 100ms to 1h, e.g. 2s" },
	[GOPT_LIMIT_NEW_FLOWS] = { "limit-new-flows", GV_NUMBER, "N",
				   "new TCP connections a second per client, up to 10000000 (0: no limit)" },
	[GOPT_LIMIT_BURST] = { "limit-burst", GV_NUMBER, "N",
			       "new connections a client may open at once, 1 to 10000000 (default: the rate)" },
	[GOPT_LIMIT_PPS] = { "limit-pps", GV_NUMBER, "N", "packets a second per client, up to 10000000 (0: no limit)" },
	[GOPT_LIMIT_PREFIX] = { "limit-prefix", GV_TEXT, "32/64",
				"V4LEN/V6LEN: the prefix that is one client, e.g. 24/56" },
	[GOPT_ALLOW] = { "allow", GV_TEXT, "LIST",
			 "prefixes separated by commas, or @FILE (a prefix a line); none: no list" },
	[GOPT_DENY] = { "deny", GV_TEXT, "LIST",
			"prefixes separated by commas, or @FILE (a prefix a line); none: no list" },
	[GOPT_WEIGHT] = { "weight", GV_NUMBER, "W", "0 to 10000" },
	[GOPT_DRAIN] = { "drain", GV_FLAG, .group = 1 },
	[GOPT_ENABLE] = { "enable", GV_FLAG, .group = 1 },
	[GOPT_UP] = { "up", GV_FLAG, .group = 2 },
	[GOPT_DOWN] = { "down", GV_FLAG, .group = 2 },
	[GOPT_AUTO] = { "auto", GV_FLAG, .group = 2 },
	[GOPT_ADMIN] = { "admin", GV_KEYWORD, "up|down", "up|down", "up down" },
	[GOPT_ENTROPY] = { "entropy-bits", GV_NUMBER, "N", "0 to 16" },
	[GOPT_CHECK] = { "check", GV_CHECK, CHECK_SPEC, CHECK_SPEC, "tcp http http:/ udp udp: exec: none" },
	[GOPT_INTERVAL] = { "interval", GV_DURATION, "1s", "a duration from 100ms to 1h, e.g. 1s" },
	[GOPT_TIMEOUT] = { "timeout", GV_DURATION, "500ms", "a duration from 10ms to 1h, e.g. 500ms" },
	[GOPT_RISE] = { "rise", GV_NUMBER, "2", "1 to 100" },
	[GOPT_FALL] = { "fall", GV_NUMBER, "3", "1 to 100" },
	[GOPT_SLOW_START] = { "slow-start", GV_DURATION, "30s", "a duration up to 1h, 0s for none" },
	[GOPT_EXPECT] = { "expect", GV_TEXT, "200-399", "an HTTP status or range, e.g. 200 or 200-399" },
	[GOPT_HOST] = { "host", GV_TEXT, "NAME", "the HTTP Host header" },
	[GOPT_VRID] = { "vrid", GV_NUMBER, "N", "1 to 255" },
	[GOPT_PRIORITY] = { "priority", GV_NUMBER, "100", "1 to 255 (255: the address owner)" },
	[GOPT_ADVERT] = { "advert", GV_DURATION, "1s", "a duration from 10ms to 40.95s in steps of 10ms" },
	[GOPT_NO_PREEMPT] = { "no-preempt", GV_FLAG },
	[GOPT_PREEMPT_DELAY] = { "preempt-delay", GV_DURATION, "5s", "a duration up to 1h, e.g. 5s" },
	[GOPT_FAULT_DROP] = { "fault-drop", GV_NUMBER, "50", "0 to 254" },
	[GOPT_VMAC] = { "vmac", GV_FLAG },
	[GOPT_VRRP_VIP] = { "vip", GV_ADDRS, "ADDR...", "one or more addresses" },
	[GOPT_BIRD_SOCKET] = { "bird-socket", GV_PATH, "PATH", "the absolute path of BIRD's control socket" },
	[GOPT_INCLUDE] = { "include", GV_PATH, "FILE", "the absolute path of the file BIRD includes" },
	[GOPT_HOLD_DOWN] = { "hold-down", GV_DURATION, "5s", "a duration up to 1h, e.g. 5s" },
	[GOPT_WITHDRAW_DELAY] = { "withdraw-delay", GV_DURATION, "2s", "a duration up to 5m, e.g. 2s" },
	[GOPT_LISTEN] = { "listen", GV_TEXT, "ADDR:PORT", "an address and a TCP port, e.g. 198.18.0.1:9100 or [2001:db8::1]:9100" },
	[GOPT_ETCD] = { "etcd", GV_TEXT, "URL[,URL...]", "etcd's client URLs, e.g. http://198.18.0.1:2379" },
	[GOPT_CACHE] = { "cache", GV_PATH, "FILE", "an absolute path, e.g. /var/lib/xlb/NAME.cluster" },
	[GOPT_PEERS] = { "peers", GV_TEXT, "ADDR:PORT[,ADDR:PORT...]", "the other nodes' sync addresses, e.g. 198.18.0.3:7946" },
	[GOPT_KEY_FILE] = { "key-file", GV_PATH, "FILE", "the absolute path of the shared key (16 bytes or more)" },
	[GOPT_WATCH] = { "watch", GV_NUMBER, "SECS", "seconds, at least 1", .lbctl_only = true },
	[GOPT_SYN] = { "syn", GV_FLAG },
	[GOPT_FLOWS] = { "file", GV_PATH, "FLOWS", "the absolute path of a file of flows, one a line",
			 .instead_of_args = true },
};

/* What vip set changes in place: none of them is part of the VIP's identity or its ring's size. */
#define VIP_SET_OPTS	(B(ANNOUNCE) | B(SCHED) | B(PERSIST) | B(PASSIVE) | B(WEIGHTS) | B(AGENT_PORT) | \
			 B(AGENT_INTERVAL) | LIMIT_OPTS)

#define VIP		"ADDR:PORT/PROTO"
#define VIP_BACKEND	VIP " BACKEND_ADDR"

const struct grammar_cmd grammar_cmds[] = {
	{ "attach", NULL, GW_LBD, "DEV", { GA_DEV }, B(XDP_MODE) },
	{ "detach", NULL, GW_LBD, "DEV", { GA_DEV } },
	{ "vip", "add", GW_LBD, "ADDR:PORT/tcp|udp", { GA_NEW_VIP }, VIP_ADD_OPTS },
	{ "vip", "set", GW_LBD, VIP, { GA_VIP }, VIP_SET_OPTS },
	{ "vip", "del", GW_LBD, VIP, { GA_VIP } },
	{ "vip", "list", GW_LBD },
	{ "backend", "add", GW_LBD, VIP_BACKEND, { GA_VIP, GA_NEW_BACKEND }, B(WEIGHT) | GRAMMAR_CHECKS },
	{ "backend", "set", GW_LBD, VIP_BACKEND, { GA_VIP, GA_BACKEND },
	  B(WEIGHT) | B(DRAIN) | B(ENABLE) | B(UP) | B(DOWN) | B(AUTO) | GRAMMAR_CHECKS },
	{ "backend", "del", GW_LBD, VIP_BACKEND, { GA_VIP, GA_BACKEND } },
	{ "backend", "list", GW_LBD, VIP, { GA_VIP } },
	{ "persist", "show", GW_LBD, VIP, { GA_VIP } },
	{ "persist", "flush", GW_LBD, VIP, { GA_VIP } },
	{ "show", NULL, GW_LBD },
	{ "stats", NULL, GW_LBD, .opts = B(WATCH) },
	{ "top", NULL, GW_LBD },
	{ "trace", NULL, GW_LBD, "SRC[:PORT] DST:PORT/PROTO", { GA_ADDR, GA_VIP }, B(SYN) | B(FLOWS) },
	{ "config", "show", GW_LBD },
	{ "config", "reload", GW_LBD },
	{ "vrrp", "add", GW_LBD, "DEV", { GA_DEV }, VRRP_OPTS, B(VRID) | B(VRRP_VIP) },
	{ "vrrp", "del", GW_LBD, "DEV", { GA_DEV }, B(VRID) | B(VRRP_VIP), B(VRID),
	  "(an address it holds picks the IPv4 or IPv6 router)" },
	{ "vrrp", "show", GW_LBD },
	{ "bgp", "set", GW_LBD, NULL, { GA_NONE }, BGP_OPTS, B(BIRD_SOCKET) | B(INCLUDE) },
	{ "bgp", "del", GW_LBD },
	{ "bgp", "show", GW_LBD },
	{ "metrics", "set", GW_LBD, NULL, { GA_NONE }, B(LISTEN), B(LISTEN) },
	{ "metrics", "del", GW_LBD },
	{ "metrics", "show", GW_LBD },
	{ "acl", "set", GW_LBD, NULL, { GA_NONE }, ACL_OPTS, 0, "the global lists, for every VIP" },
	{ "acl", "del", GW_LBD },
	{ "acl", "show", GW_LBD },
	{ "sync", "show", GW_LBD },
	{ "help", NULL, GW_LBCTL },
	{ "completion", "bash", GW_LBCTL },

	{ "conn-table-size", NULL, GW_FILE, "N", { GA_NUMBER } },
	{ "conn-timeout", NULL, GW_FILE, "SECS", { GA_NUMBER } },
	{ "mtu", NULL, GW_FILE, "N", { GA_NUMBER } },
	{ "ipip-source", NULL, GW_FILE, "ADDR", { GA_ADDR }, B(ENTROPY) },
	{ "attach", NULL, GW_FILE, "DEV", { GA_DEV }, B(XDP_MODE) },
	{ "vrrp", NULL, GW_FILE, "DEV", { GA_DEV }, VRRP_OPTS, B(VRID) | B(VRRP_VIP) },
	{ "bgp", NULL, GW_FILE, NULL, { GA_NONE }, BGP_OPTS, B(BIRD_SOCKET) | B(INCLUDE) },
	{ "metrics", NULL, GW_FILE, NULL, { GA_NONE }, B(LISTEN), B(LISTEN) },
	{ "acl", NULL, GW_FILE, NULL, { GA_NONE }, ACL_OPTS },
	{ "cluster", NULL, GW_FILE, "NAME", { GA_NAME }, B(ETCD) | B(CACHE), B(ETCD) },
	{ "sync", NULL, GW_FILE, NULL, { GA_NONE }, B(LISTEN) | B(PEERS) | B(KEY_FILE),
	  B(LISTEN) | B(PEERS) | B(KEY_FILE) },
	{ "vip", NULL, GW_FILE, "ADDR:PORT/tcp|udp", { GA_NEW_VIP }, VIP_ADD_OPTS },
	{ "backend", NULL, GW_FILE, "ADDR", { GA_NEW_BACKEND }, B(WEIGHT) | B(DRAIN) | B(ADMIN) | GRAMMAR_CHECKS },
};

const size_t grammar_n_cmds = sizeof(grammar_cmds) / sizeof(grammar_cmds[0]);

const struct grammar_cmd *grammar_cmd_find(const char *object, const char *verb, enum grammar_where where)
{
	for (size_t i = 0; i < grammar_n_cmds; i++) {
		const struct grammar_cmd *c = &grammar_cmds[i];

		if (c->where == where && !strcmp(c->object, object) && (!c->verb || (verb && !strcmp(c->verb, verb))))
			return c;
	}
	return NULL;
}

int grammar_opt_find(const char *name)
{
	for (int i = 0; i < GOPT_COUNT; i++)
		if (!strcmp(grammar_opts[i].name, name))
			return i;
	return -1;
}

const char *grammar_article(const char *word)
{
	return strchr("aeiou", word[0]) ? "an" : "a";
}

void grammar_cmd_name(const struct grammar_cmd *c, char *buf, size_t len)
{
	if (c->where == GW_FILE)
		snprintf(buf, len, "%s %s line", grammar_article(c->object), c->object);
	else
		snprintf(buf, len, "%s%s%s", c->object, c->verb ? " " : "", c->verb ? c->verb : "");
}

/* Appends to buf, which always ends in a NUL within len. */
static void add(char *buf, size_t len, const char *text)
{
	size_t used = strlen(buf);

	if (used + 1 < len)
		snprintf(buf + used, len - used, "%s", text);
}

#define FEW_OPTS 3

void grammar_opts_list(const struct grammar_cmd *c, bool cli, char *buf, size_t len)
{
	uint64_t opts = c->opts;
	int n = 0, total;

	for (int i = 0; i < GOPT_COUNT; i++)
		if (grammar_opts[i].lbctl_only)
			opts &= ~GRAMMAR_BIT(i);
	total = __builtin_popcountll(opts);
	buf[0] = 0;
	add(buf, len, total ? "only " : "no options");
	for (int i = 0; i < GOPT_COUNT; i++) {
		const struct grammar_opt *o = &grammar_opts[i];

		if (!(opts & GRAMMAR_BIT(i)))
			continue;
		n++;
		add(buf, len, n == 1 ? "" : n == total ? " and " : ", ");
		add(buf, len, cli ? "--" : "");
		add(buf, len, o->name);
		if (total <= FEW_OPTS && o->value != GV_FLAG) {
			add(buf, len, " ");
			add(buf, len, o->meta);
		}
	}
}

/* ---- help ---- */

#define HELP_WIDTH	100
/* Continuation lines start under the first option, unless that is further in than this. */
#define HELP_MAX_INDENT	44

struct help_line {
	FILE *f;
	int col, indent;
};

static void help_word(struct help_line *l, const char *word)
{
	int n = (int)strlen(word);

	if (l->col + 1 + n > HELP_WIDTH && l->col > l->indent) {
		fprintf(l->f, "\n%*s", l->indent, "");
		l->col = l->indent;
	} else if (l->col > 0) {
		fputc(' ', l->f);
		l->col++;
	}
	fputs(word, l->f);
	l->col += n;
}

static void opt_usage(const struct grammar_opt *o, char *buf, size_t len)
{
	snprintf(buf, len, "--%s%s%s", o->name, o->value == GV_FLAG ? "" : " ", o->value == GV_FLAG ? "" : o->meta);
}

/* The options of cmd as help writes them: required bare, the rest in brackets, a group as one. */
static void help_opts(struct help_line *l, uint64_t opts, uint64_t required)
{
	bool checks = (opts & GRAMMAR_CHECKS) == GRAMMAR_CHECKS;
	char word[160], one[80];

	if (checks)
		opts &= ~GRAMMAR_CHECKS;
	for (int i = 0; i < GOPT_COUNT; i++) {
		const struct grammar_opt *o = &grammar_opts[i];

		if (!(opts & GRAMMAR_BIT(i)))
			continue;
		opt_usage(o, one, sizeof(one));
		if (required & GRAMMAR_BIT(i)) {
			help_word(l, one);
			continue;
		}
		snprintf(word, sizeof(word), "[%s", one);
		for (int k = i + 1; o->group && k < GOPT_COUNT; k++) {
			if (grammar_opts[k].group != o->group || !(opts & GRAMMAR_BIT(k)))
				continue;
			opt_usage(&grammar_opts[k], one, sizeof(one));
			add(word, sizeof(word), "|");
			add(word, sizeof(word), one);
			opts &= ~GRAMMAR_BIT(k);
		}
		add(word, sizeof(word), "]");
		help_word(l, word);
	}
	if (checks)
		help_word(l, "[CHECK...]");
}

static bool bare(const struct grammar_cmd *c)
{
	return c->verb && !c->args && !c->opts;
}

void grammar_help(FILE *f)
{
	fputs("usage: lbctl [-j] [-s SOCKET] COMMAND\n", f);
	for (size_t i = 0; i < grammar_n_cmds; i++) {
		const struct grammar_cmd *c = &grammar_cmds[i];
		struct help_line l = { f, 0, 0 };
		char head[128];

		if (c->where == GW_FILE)
			continue;
		/* Verbs that take nothing share a line: "config show | reload". */
		if (bare(c)) {
			fprintf(f, "  %s %s", c->object, c->verb);
			while (i + 1 < grammar_n_cmds && bare(&c[1]) && !strcmp(c[1].object, c->object)) {
				fprintf(f, " | %s", c[1].verb);
				c++, i++;
			}
			fputc('\n', f);
			continue;
		}
		grammar_cmd_name(c, head, sizeof(head));
		if (c->args) {
			add(head, sizeof(head), " ");
			add(head, sizeof(head), c->args);
		}
		fprintf(f, "  %s", head);
		l.col = 2 + (int)strlen(head);
		l.indent = l.col + 1 <= HELP_MAX_INDENT ? l.col + 1 : 2 + (int)strlen(c->object) + 1 +
			   (c->verb ? (int)strlen(c->verb) + 1 : 0);
		help_opts(&l, c->opts, c->required);
		if (c->note) {
			fputs(" ", f);
			l.col++;
			help_word(&l, c->note);
		}
		fputc('\n', f);
	}
	{
		struct help_line l = { f, 0, 7 };
		char one[80];

		fputs("CHECK:", f);
		l.col = 6;
		for (int i = 0; i < GOPT_COUNT; i++)
			if (GRAMMAR_CHECKS & GRAMMAR_BIT(i)) {
				opt_usage(&grammar_opts[i], one, sizeof(one));
				help_word(&l, one);
			}
		fputc('\n', f);
	}
	fputs("IPv6 addresses go in brackets: [2001:db8::1]:80/tcp. -j prints JSON.\n", f);
}

/* ---- bash completion ---- */

static const char *const value_kinds[] = {
	[GV_FLAG] = "flag", [GV_KEYWORD] = "keyword", [GV_NUMBER] = "number", [GV_DURATION] = "duration",
	[GV_TEXT] = "text", [GV_PATH] = "path", [GV_CHECK] = "keyword", [GV_ADDRS] = "addrs",
};

static const char *const arg_kinds[] = {
	[GA_NONE] = "", [GA_DEV] = "dev", [GA_NEW_VIP] = "new-vip", [GA_VIP] = "vip",
	[GA_NEW_BACKEND] = "new-backend", [GA_BACKEND] = "backend", [GA_ADDR] = "addr",
	[GA_NUMBER] = "number", [GA_NAME] = "name",
};

/* The part of the script that is the table; the function below it only reads these. */
static void bash_tables(FILE *f)
{
	fputs("_lbctl_objects='", f);
	for (size_t i = 0; i < grammar_n_cmds; i++) {
		const struct grammar_cmd *c = &grammar_cmds[i];

		if (c->where != GW_FILE && (i == 0 || strcmp(c[-1].object, c->object)))
			fprintf(f, "%s%s", i ? " " : "", c->object);
	}
	fputs("'\ndeclare -gA _lbctl_verbs=(", f);
	for (size_t i = 0; i < grammar_n_cmds; i++) {
		const struct grammar_cmd *c = &grammar_cmds[i];

		if (c->where == GW_FILE || !c->verb)
			continue;
		if (i == 0 || strcmp(c[-1].object, c->object))
			fprintf(f, "\n\t[%s]='%s", c->object, c->verb);
		else
			fprintf(f, " %s", c->verb);
		if (i + 1 == grammar_n_cmds || strcmp(c[1].object, c->object))
			fputc('\'', f);
	}
	/* Per command: what its positional words are, and its options. */
	fputs("\n)\ndeclare -gA _lbctl_args=(", f);
	for (size_t i = 0; i < grammar_n_cmds; i++) {
		const struct grammar_cmd *c = &grammar_cmds[i];
		char name[64];

		if (c->where == GW_FILE)
			continue;
		grammar_cmd_name(c, name, sizeof(name));
		fprintf(f, "\n\t['%s']='", name);
		for (int k = 0; k < GRAMMAR_MAX_ARGS && c->arg[k]; k++)
			fprintf(f, "%s%s", k ? " " : "", arg_kinds[c->arg[k]]);
		fputc('\'', f);
	}
	fputs("\n)\ndeclare -gA _lbctl_opts=(", f);
	for (size_t i = 0; i < grammar_n_cmds; i++) {
		const struct grammar_cmd *c = &grammar_cmds[i];
		char name[64];
		int n = 0;

		if (c->where == GW_FILE)
			continue;
		grammar_cmd_name(c, name, sizeof(name));
		fprintf(f, "\n\t['%s']='", name);
		for (int k = 0; k < GOPT_COUNT; k++)
			if (c->opts & GRAMMAR_BIT(k))
				fprintf(f, "%s--%s", n++ ? " " : "", grammar_opts[k].name);
		fputc('\'', f);
	}
	fputs("\n)\ndeclare -gA _lbctl_kinds=(", f);
	for (int k = 0; k < GOPT_COUNT; k++)
		fprintf(f, "\n\t[--%s]=%s", grammar_opts[k].name, value_kinds[grammar_opts[k].value]);
	fputs("\n)\ndeclare -gA _lbctl_keywords=(", f);
	for (int k = 0; k < GOPT_COUNT; k++)
		if (grammar_opts[k].keywords)
			fprintf(f, "\n\t[--%s]='%s'", grammar_opts[k].name, grammar_opts[k].keywords);
	/* The options each one excludes: --drain takes --enable off the list. */
	fputs("\n)\ndeclare -gA _lbctl_excludes=(", f);
	for (int k = 0; k < GOPT_COUNT; k++) {
		int n = 0;

		if (!grammar_opts[k].group)
			continue;
		fprintf(f, "\n\t[--%s]='", grammar_opts[k].name);
		for (int j = 0; j < GOPT_COUNT; j++)
			if (j != k && grammar_opts[j].group == grammar_opts[k].group)
				fprintf(f, "%s--%s", n++ ? " " : "", grammar_opts[j].name);
		fputc('\'', f);
	}
	fputs("\n)\n", f);
}

static const char bash_function[] =
	"\n"
	"# The words of the line as the user sees them: COMP_WORDBREAKS splits\n"
	"# 198.18.1.1:80/tcp at its colons, so the pieces are put together again.\n"
	"_lbctl_words() {\n"
	"\tlocal i w glue=0\n"
	"\t_lbctl_w=() _lbctl_cword=0\n"
	"\tfor ((i = 0; i < ${#COMP_WORDS[@]}; i++)); do\n"
	"\t\tw=${COMP_WORDS[i]}\n"
	"\t\tif ((i > 0)) && { ((glue)) || [[ $w =~ ^:+$ ]]; }; then\n"
	"\t\t\t_lbctl_w[-1]+=$w\n"
	"\t\telse\n"
	"\t\t\t_lbctl_w+=(\"$w\")\n"
	"\t\tfi\n"
	"\t\tif [[ $w =~ ^:+$ ]]; then glue=1; else glue=0; fi\n"
	"\t\t((i == COMP_CWORD)) && _lbctl_cword=$((${#_lbctl_w[@]} - 1))\n"
	"\tdone\n"
	"}\n"
	"\n"
	"# _lbctl_vips LBCTL [-s SOCKET]: what a running lbd answers; nothing when none runs.\n"
	"_lbctl_vips() {\n"
	"\ttimeout 2 \"$@\" -j vip list 2>/dev/null | grep -o '\"vip\":\"[^\"]*\"' | sed 's/^\"vip\":\"//; s/\"$//'\n"
	"}\n"
	"_lbctl_backends() {\n"
	"\tlocal vip=$1\n"
	"\tshift\n"
	"\ttimeout 2 \"$@\" -j backend list \"$vip\" 2>/dev/null | sed 's/.*\"backends\":\\[//' |\n"
	"\t\tgrep -o '\"address\":\"[^\"]*\"' | sed 's/^\"address\":\"//; s/\"$//'\n"
	"}\n"
	"\n"
	"_lbctl() {\n"
	"\tlocal _lbctl_w _lbctl_cword\n"
	"\t_lbctl_words\n"
	"\tlocal -a words=(\"${_lbctl_w[@]}\") ask=(\"${_lbctl_w[0]}\") kinds=() vips=()\n"
	"\tlocal cword=$_lbctl_cword i=1 key w opt='' npos=0 seen=' ' list=''\n"
	"\tlocal cur=${words[cword]}\n"
	"\tCOMPREPLY=()\n"
	"\t# Global options, then the command.\n"
	"\tfor (( ; i < cword; i++)); do\n"
	"\t\tcase ${words[i]} in\n"
	"\t\t-s | --socket) ask+=(-s \"${words[i + 1]-}\"); ((i++)) ;;\n"
	"\t\t-*) ;;\n"
	"\t\t*) break ;;\n"
	"\t\tesac\n"
	"\tdone\n"
	"\tif ((i >= cword)); then\n"
	"\t\tcase ${words[cword - 1]} in\n"
	"\t\t-s | --socket) ((cword > 1)) && mapfile -t COMPREPLY < <(compgen -f -- \"$cur\") ;;\n"
	"\t\t*)\n"
	"\t\t\tif [[ $cur == -* ]]; then\n"
	"\t\t\t\tmapfile -t COMPREPLY < <(compgen -W '-j --json -s --socket -h --help' -- \"$cur\")\n"
	"\t\t\telse\n"
	"\t\t\t\tmapfile -t COMPREPLY < <(compgen -W \"$_lbctl_objects\" -- \"$cur\")\n"
	"\t\t\tfi\n"
	"\t\t\t;;\n"
	"\t\tesac\n"
	"\t\treturn 0\n"
	"\tfi\n"
	"\tkey=${words[i++]}\n"
	"\tif [[ -n ${_lbctl_verbs[$key]+set} ]]; then\n"
	"\t\tif ((i == cword)); then\n"
	"\t\t\tmapfile -t COMPREPLY < <(compgen -W \"${_lbctl_verbs[$key]}\" -- \"$cur\")\n"
	"\t\t\treturn 0\n"
	"\t\tfi\n"
	"\t\tkey+=\" ${words[i++]}\"\n"
	"\tfi\n"
	"\t[[ -n ${_lbctl_opts[$key]+set} ]] || return 0\n"
	"\tread -ra kinds <<<\"${_lbctl_args[$key]}\"\n"
	"\t# Positional words, then options and their values.\n"
	"\tfor (( ; i < cword; i++)); do\n"
	"\t\tw=${words[i]}\n"
	"\t\tif [[ $w == --* ]]; then\n"
	"\t\t\tseen+=\"$w ${_lbctl_excludes[$w]-} \"\n"
	"\t\t\topt=$w\n"
	"\t\t\t[[ ${_lbctl_kinds[$w]-} == flag ]] && opt=\n"
	"\t\telif [[ -n $opt ]]; then\n"
	"\t\t\t[[ ${_lbctl_kinds[$opt]-} == addrs ]] || opt=\n"
	"\t\telse\n"
	"\t\t\t[[ ${kinds[npos]-} == vip ]] && vips+=(\"$w\")\n"
	"\t\t\t((npos++))\n"
	"\t\tfi\n"
	"\tdone\n"
	"\tif [[ -n $opt && ( ${_lbctl_kinds[$opt]-} != addrs || $cur != -* ) ]]; then\n"
	"\t\tcase ${_lbctl_kinds[$opt]-} in\n"
	"\t\tkeyword) list=${_lbctl_keywords[$opt]-} ;;\n"
	"\t\tpath) mapfile -t COMPREPLY < <(compgen -f -- \"$cur\") ;;\n"
	"\t\tesac\n"
	"\telif ((npos < ${#kinds[@]})); then\n"
	"\t\t[[ $cur == -* ]] && return 0\n"
	"\t\tcase ${kinds[npos]} in\n"
	"\t\tdev) list=$(command ls /sys/class/net 2>/dev/null) ;;\n"
	"\t\tvip) list=$(_lbctl_vips \"${ask[@]}\") ;;\n"
	"\t\tbackend) list=$(_lbctl_backends \"${vips[0]-}\" \"${ask[@]}\") ;;\n"

	"\t\tesac\n"
	"\telse\n"
	"\t\tfor w in ${_lbctl_opts[$key]}; do\n"
	"\t\t\t[[ $seen == *\" $w \"* && ${_lbctl_kinds[$w]-} != addrs ]] || list+=\"$w \"\n"
	"\t\tdone\n"
	"\tfi\n"
	"\t[[ -n $list ]] && mapfile -t COMPREPLY < <(compgen -W \"$list\" -- \"$cur\")\n"
	"\t# A value still being written (http:/, udp:, exec:) gets no space after it.\n"
	"\tif ((${#COMPREPLY[@]} == 1)) && [[ ${COMPREPLY[0]} == *[:/] ]]; then\n"
	"\t\tcompopt -o nospace 2>/dev/null\n"
	"\tfi\n"
	"\t# Readline replaces only what follows the last colon of the word.\n"
	"\tif [[ $cur == *:* && $COMP_WORDBREAKS == *:* ]]; then\n"
	"\t\tlocal typed=${cur%\"${cur##*:}\"}\n"
	"\t\tfor i in \"${!COMPREPLY[@]}\"; do COMPREPLY[i]=${COMPREPLY[i]#\"$typed\"}; done\n"
	"\tfi\n"
	"\treturn 0\n"
	"}\n"
	"complete -F _lbctl lbctl\n";

void grammar_bash_completion(FILE *f)
{
	fputs("# bash completion for lbctl, written by 'lbctl completion bash' from the grammar\n"
	      "# lbd parses (userspace/lib/grammar.c): regenerate it, do not edit it.\n", f);
	bash_tables(f);
	fputs(bash_function, f);
}
