/* SPDX-License-Identifier: GPL-2.0 */
/*
 * The grammar of lbctl's commands and of lbd.conf's lines, declared once:
 * lbd's parser takes the options each command accepts from it, lbctl's help
 * and its bash completion are written from it, and the tests hold the man
 * page's synopsis against it. Adding an option is a row here, then its value
 * in lbd's parser (config.c).
 */
#ifndef XLB_GRAMMAR_H
#define XLB_GRAMMAR_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>

/* The order is the order in which help and the completion list them. */
enum grammar_opt_id {
	GOPT_XDP_MODE, GOPT_FORWARD, GOPT_SCHED, GOPT_PERSIST, GOPT_RING_SIZE, GOPT_ALL_DOWN, GOPT_ANNOUNCE,
	GOPT_PASSIVE, GOPT_WEIGHTS, GOPT_AGENT_PORT, GOPT_AGENT_INTERVAL,
	GOPT_LIMIT_NEW_FLOWS, GOPT_LIMIT_BURST, GOPT_LIMIT_PPS, GOPT_LIMIT_PREFIX, GOPT_ALLOW, GOPT_DENY,
	GOPT_WEIGHT, GOPT_DRAIN, GOPT_ENABLE, GOPT_UP, GOPT_DOWN, GOPT_AUTO, GOPT_ADMIN, GOPT_ENTROPY,
	GOPT_CHECK, GOPT_INTERVAL, GOPT_TIMEOUT, GOPT_RISE, GOPT_FALL, GOPT_SLOW_START, GOPT_EXPECT,
	GOPT_HOST,
	GOPT_VRID, GOPT_PRIORITY, GOPT_ADVERT, GOPT_NO_PREEMPT, GOPT_PREEMPT_DELAY, GOPT_FAULT_DROP,
	GOPT_VMAC, GOPT_VRRP_VIP,
	GOPT_BIRD_SOCKET, GOPT_INCLUDE, GOPT_HOLD_DOWN, GOPT_WITHDRAW_DELAY,
	GOPT_LISTEN,
	GOPT_ETCD, GOPT_CACHE, GOPT_PEERS, GOPT_KEY_FILE,
	GOPT_WATCH,
	GOPT_SYN, GOPT_FLOWS,
	GOPT_COUNT
};

#define GRAMMAR_BIT(id)	(1ull << (id))
/* The health check's options: help writes them once, as CHECK. */
#define GRAMMAR_CHECKS	(GRAMMAR_BIT(GOPT_CHECK) | GRAMMAR_BIT(GOPT_INTERVAL) | GRAMMAR_BIT(GOPT_TIMEOUT) | \
			 GRAMMAR_BIT(GOPT_RISE) | GRAMMAR_BIT(GOPT_FALL) | GRAMMAR_BIT(GOPT_SLOW_START) | \
			 GRAMMAR_BIT(GOPT_EXPECT) | GRAMMAR_BIT(GOPT_HOST))

/* What follows an option's name; the completion offers values by it. */
enum grammar_value {
	GV_FLAG,	/* nothing */
	GV_KEYWORD,	/* one of .keywords */
	GV_NUMBER,
	GV_DURATION,	/* 500ms, 1s, 2m, 1h */
	GV_TEXT,
	GV_PATH,	/* an absolute path */
	GV_CHECK,	/* a check spec: tcp, http:/PATH, ... */
	GV_ADDRS,	/* one or more addresses, up to the next option */
};

struct grammar_opt {
	const char *name;	/* without the "--" of the command line */
	enum grammar_value value;
	const char *meta;	/* the value as help writes it: "dsr|ipip", "M", "1s" */
	const char *hint;	/* what the value must be, for the error when it is missing */
	const char *keywords;	/* GV_KEYWORD, GV_CHECK: what the completion offers, blank-separated */
	uint8_t group;		/* options of one group >0 exclude each other */
	bool lbctl_only;	/* lbctl acts on it and never sends it to lbd */
	bool instead_of_args;	/* it stands for the command's positional words, which it excludes */
};

/* What a positional word is, for the completion. */
enum grammar_arg {
	GA_NONE,
	GA_DEV,		/* an interface */
	GA_NEW_VIP,	/* ADDR:PORT/tcp|udp not configured yet */
	GA_VIP,		/* a configured VIP */
	GA_NEW_BACKEND,	/* an address not a backend yet */
	GA_BACKEND,	/* a backend of the VIP before it */
	GA_ADDR,
	GA_NUMBER,
	GA_NAME,	/* a name of the operator's choosing */
};

enum grammar_where {
	GW_LBD,		/* an lbctl command that lbd parses and runs */
	GW_LBCTL,	/* an lbctl command that lbctl answers itself */
	GW_FILE,	/* a line of lbd.conf: object is its first word */
};

#define GRAMMAR_MAX_ARGS 2

struct grammar_cmd {
	const char *object;
	const char *verb;		/* NULL: the object is the whole command */
	enum grammar_where where;
	const char *args;		/* the positional words, as help writes them */
	enum grammar_arg arg[GRAMMAR_MAX_ARGS];
	uint64_t opts;			/* GRAMMAR_BIT()s of the options it takes */
	uint64_t required;		/* ... of those it cannot do without */
	const char *note;		/* help's remark after the command */
};

extern const struct grammar_opt grammar_opts[GOPT_COUNT];
extern const struct grammar_cmd grammar_cmds[];
extern const size_t grammar_n_cmds;

/* The row of "object verb" (verb ignored for a command of one word) at where; NULL if none. */
const struct grammar_cmd *grammar_cmd_find(const char *object, const char *verb, enum grammar_where where);
/* The option of that name (without "--"); -1 if none. */
int grammar_opt_find(const char *name);
/* "a" or "an", as word asks. */
const char *grammar_article(const char *word);
/* "vip add", or "a vip line" for a line of lbd.conf. */
void grammar_cmd_name(const struct grammar_cmd *c, char *buf, size_t len);
/*
 * The options cmd takes, for an error: "only --vrid N and --vip ADDR..."
 * when they are few, names alone when many, "no options"; cli: with "--".
 */
void grammar_opts_list(const struct grammar_cmd *c, bool cli, char *buf, size_t len);

/* lbctl's usage, every command of the table. */
void grammar_help(FILE *f);
/* A bash completion script for lbctl. */
void grammar_bash_completion(FILE *f);

#endif
