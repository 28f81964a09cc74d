// SPDX-License-Identifier: GPL-2.0
#include "agent.h"

#include <ctype.h>
#include <errno.h>
#include <string.h>

static const struct {
	const char *word;
	uint8_t state;
} agent_words[] = {
	{ "up", AGENT_UP }, { "ready", AGENT_UP },
	{ "drain", AGENT_DRAIN },
	{ "down", AGENT_DOWN }, { "maint", AGENT_DOWN }, { "stopped", AGENT_DOWN }, { "fail", AGENT_DOWN },
};

/* "75%": 0 to 100 per cent, rounded to the nearest step; -1 when word is no weight. */
static int percent_of(const char *word, size_t len)
{
	unsigned int v = 0;
	size_t i;

	if (len < 2 || len > 4 || word[len - 1] != '%')
		return -1;
	for (i = 0; i < len - 1; i++) {
		if (!isdigit((unsigned char)word[i]))
			return -1;
		v = v * 10 + (unsigned int)(word[i] - '0');
	}
	if (v > 100)
		return -1;
	return (int)((v + AGENT_PERCENT_STEP / 2) / AGENT_PERCENT_STEP * AGENT_PERCENT_STEP);
}

static uint8_t state_of(const char *word, size_t len)
{
	for (size_t k = 0; k < sizeof(agent_words) / sizeof(agent_words[0]); k++)
		if (strlen(agent_words[k].word) == len && !strncasecmp(word, agent_words[k].word, len))
			return agent_words[k].state;
	return AGENT_NONE;
}

int agent_parse(const char *line, struct agent_reply *out)
{
	const char *p = line;

	out->percent = -1;
	out->state = AGENT_NONE;
	while (*p && *p != '\n' && *p != '\r') {
		size_t len = strcspn(p, " \t,\r\n");

		if (len) {
			int pct = percent_of(p, len);
			uint8_t st = state_of(p, len);

			/* Later words win, as HAProxy reads them. */
			if (pct >= 0)
				out->percent = pct;
			if (st != AGENT_NONE)
				out->state = st;
			p += len;
		} else {
			p++;
		}
	}
	return out->percent >= 0 || out->state != AGENT_NONE ? 0 : -EINVAL;
}

void agent_view_init(struct agent_view *v)
{
	*v = (struct agent_view){ .percent = 100, .want_percent = 100 };
}

void agent_want(struct agent_view *v, const struct agent_reply *r)
{
	if (r->state != AGENT_NONE)
		v->want_state = r->state;
	else if (v->want_state == AGENT_NONE)
		v->want_state = AGENT_UP;
	if (r->percent >= 0)
		v->want_percent = (uint8_t)r->percent;
}

bool agent_take(struct agent_view *v, uint64_t now_ms, uint32_t interval_ms)
{
	if (v->want_state == v->state && v->want_percent == v->percent)
		return false;
	if (v->changed_at && now_ms - v->changed_at < interval_ms)
		return false;
	v->state = v->want_state;
	v->percent = v->want_percent;
	v->changed_at = now_ms ? now_ms : 1;
	return true;
}

const char *agent_state_name(uint8_t state)
{
	static const char *const names[] = { "none", "up", "drain", "down" };

	return state < sizeof(names) / sizeof(names[0]) ? names[state] : "?";
}
