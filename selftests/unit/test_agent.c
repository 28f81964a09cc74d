// SPDX-License-Identifier: GPL-2.0
/*
 * The reading of agent-check answers (userspace/lbd/agent.c): each row a
 * line an agent may send and what lbd must take from it; how answers merge
 * and how often one may change the weight in force.
 */
#include <errno.h>

#include "agent.h"
#include "xt.h"

XT_DEFINE_STATE;

static const struct {
	const char *line;
	int ret;
	int percent;
	uint8_t state;
} rows[] = {
	{ "75%\n", 0, 75, AGENT_NONE },
	{ "25%", 0, 25, AGENT_NONE },		/* at the connection's close, no newline */
	{ "100%\r\n", 0, 100, AGENT_NONE },
	{ "0%\n", 0, 0, AGENT_NONE },
	{ "73%\n", 0, 75, AGENT_NONE },		/* steps of 5 */
	{ "72%\n", 0, 70, AGENT_NONE },
	{ "2%\n", 0, 0, AGENT_NONE },
	{ "99%\n", 0, 100, AGENT_NONE },
	{ "up\n", 0, -1, AGENT_UP },
	{ "ready\n", 0, -1, AGENT_UP },
	{ "drain\n", 0, -1, AGENT_DRAIN },
	{ "down\n", 0, -1, AGENT_DOWN },
	{ "maint\n", 0, -1, AGENT_DOWN },
	{ "UP\n", 0, -1, AGENT_UP },
	{ "up 50%\n", 0, 50, AGENT_UP },
	{ "50%,drain\n", 0, 50, AGENT_DRAIN },
	{ " ready , 10% \n", 0, 10, AGENT_UP },
	{ "drain up\n", 0, -1, AGENT_UP },		/* the later word wins */
	{ "maxconn:30 80%\n", 0, 80, AGENT_NONE },	/* words lbd does not use are passed over */
	{ "up\nmaint\n", 0, -1, AGENT_UP },		/* one line only */
	{ "", -EINVAL, -1, AGENT_NONE },
	{ "\n", -EINVAL, -1, AGENT_NONE },
	{ "hello\n", -EINVAL, -1, AGENT_NONE },
	{ "101%\n", -EINVAL, -1, AGENT_NONE },
	{ "-5%\n", -EINVAL, -1, AGENT_NONE },
	{ "%\n", -EINVAL, -1, AGENT_NONE },
	{ "50 %\n", -EINVAL, -1, AGENT_NONE },
	{ "upp\n", -EINVAL, -1, AGENT_NONE },
	{ "HTTP/1.1 200 OK\r\n", -EINVAL, -1, AGENT_NONE },
};

static void answers(void)
{
	for (size_t i = 0; i < sizeof(rows) / sizeof(rows[0]); i++) {
		struct agent_reply r;
		int ret = agent_parse(rows[i].line, &r);

		XT_TRUE(ret == rows[i].ret && r.percent == rows[i].percent && r.state == rows[i].state,
			"'%s': got ret %d percent %d state %s, expected ret %d percent %d state %s",
			rows[i].line, ret, r.percent, agent_state_name(r.state), rows[i].ret,
			rows[i].percent, agent_state_name(rows[i].state));
	}
}

/* A weight alone keeps a drain; a first answer without a state word means up. */
static void answers_merge(void)
{
	struct agent_view v;
	struct agent_reply r;

	agent_view_init(&v);
	XT_EQ(v.percent, 100);
	XT_EQ(v.state, AGENT_NONE);
	agent_parse("25%", &r);
	agent_want(&v, &r);
	XT_EQ(v.want_state, AGENT_UP);
	XT_EQ(v.want_percent, 25);
	agent_parse("drain", &r);
	agent_want(&v, &r);
	agent_parse("50%", &r);
	agent_want(&v, &r);
	XT_EQ(v.want_state, AGENT_DRAIN);
	XT_EQ(v.want_percent, 50);
	agent_parse("ready", &r);
	agent_want(&v, &r);
	XT_EQ(v.want_state, AGENT_UP);
	XT_EQ(v.want_percent, 50);
}

/* An agent flipping 50%/100% every 100 ms for 4 s, interval 1 s: at most one change a second. */
static void changes_once_an_interval(void)
{
	struct agent_view v;
	struct agent_reply r;
	int changes = 0;
	uint64_t last = 0;

	agent_view_init(&v);
	for (uint64_t now = 1000; now < 5000; now += 100) {
		agent_parse((now / 100) % 2 ? "50%" : "100%", &r);
		agent_want(&v, &r);
		if (agent_take(&v, now, 1000)) {
			XT_TRUE(!last || now - last >= 1000, "changed at %llu ms, %llu ms after the last",
				(unsigned long long)now, (unsigned long long)(now - last));
			last = now;
			changes++;
		}
	}
	XT_TRUE(changes >= 2 && changes <= 4, "%d changes in 4 s", changes);
	/* The answer that waited is taken once its interval is over. */
	agent_parse("drain", &r);
	agent_want(&v, &r);
	XT_TRUE(!agent_take(&v, last + 999, 1000), "taken before its interval");
	XT_TRUE(agent_take(&v, last + 1000, 1000), "not taken after its interval");
	XT_EQ(v.state, AGENT_DRAIN);
	XT_TRUE(!agent_take(&v, last + 5000, 1000), "a change with nothing new");
}

static void state_names(void)
{
	XT_TRUE(!strcmp(agent_state_name(AGENT_NONE), "none"), "none");
	XT_TRUE(!strcmp(agent_state_name(AGENT_UP), "up"), "up");
	XT_TRUE(!strcmp(agent_state_name(AGENT_DRAIN), "drain"), "drain");
	XT_TRUE(!strcmp(agent_state_name(AGENT_DOWN), "down"), "down");
}

int main(void)
{
	static const struct xt_case cases[] = {
		XT_CASE(answers),
		XT_CASE(answers_merge),
		XT_CASE(changes_once_an_interval),
		XT_CASE(state_names),
	};

	return xt_run("agent", cases, sizeof(cases) / sizeof(cases[0]));
}
