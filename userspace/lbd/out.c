// SPDX-License-Identifier: GPL-2.0
#include "out.h"

#include <stdarg.h>

#include "clock.h"

void out_init(struct out *o, FILE *f, bool json)
{
	o->f = f;
	o->json = json;
	o->depth = 0;
	o->first[0] = true;
}

static void key_prefix(struct out *o, const char *key)
{
	if (!o->first[o->depth])
		fputc(',', o->f);
	o->first[o->depth] = false;
	if (key)
		fprintf(o->f, "\"%s\":", key);
}

static void json_string(FILE *f, const char *s)
{
	if (!s) {
		fputs("null", f);	/* a setting that is not set */
		return;
	}
	fputc('"', f);
	for (; *s; s++) {
		if (*s == '"' || *s == '\\')
			fprintf(f, "\\%c", *s);
		else if ((unsigned char)*s < 0x20)
			fprintf(f, "\\u%04x", *s);
		else
			fputc(*s, f);
	}
	fputc('"', f);
}

static void open_scope(struct out *o, const char *key, char c)
{
	if (!o->json)
		return;
	key_prefix(o, key);
	fputc(c, o->f);
	if (o->depth + 1 < OUT_MAX_DEPTH)
		o->depth++;
	o->first[o->depth] = true;
}

static void close_scope(struct out *o, char c)
{
	if (!o->json)
		return;
	if (o->depth > 0)
		o->depth--;
	fputc(c, o->f);
}

void out_obj_begin(struct out *o, const char *key) { open_scope(o, key, '{'); }
void out_obj_end(struct out *o) { close_scope(o, '}'); }
void out_arr_begin(struct out *o, const char *key) { open_scope(o, key, '['); }
void out_arr_end(struct out *o) { close_scope(o, ']'); }

void out_str(struct out *o, const char *key, const char *value)
{
	if (!o->json)
		return;
	key_prefix(o, key);
	json_string(o->f, value);
}

void out_u64(struct out *o, const char *key, uint64_t value)
{
	if (!o->json)
		return;
	key_prefix(o, key);
	fprintf(o->f, "%llu", (unsigned long long)value);
}

void out_double(struct out *o, const char *key, double value)
{
	if (!o->json)
		return;
	key_prefix(o, key);
	fprintf(o->f, "%.1f", value);
}

/* The formats are lbd's own literals, each with one conversion of the field's type. */
#pragma GCC diagnostic push
#pragma GCC diagnostic ignored "-Wformat-nonliteral"
void out_field_str(struct out *o, const char *key, const char *fmt, const char *value)
{
	if (o->json)
		out_str(o, key, value);
	else if (fmt)
		fprintf(o->f, fmt, value ? value : "-");
}

void out_field_u64(struct out *o, const char *key, const char *fmt, unsigned long long value)
{
	if (o->json)
		out_u64(o, key, value);
	else if (fmt)
		fprintf(o->f, fmt, value);
}

void out_field_double(struct out *o, const char *key, const char *fmt, double value)
{
	if (o->json)
		out_double(o, key, value);
	else if (fmt)
		fprintf(o->f, fmt, value);
}
#pragma GCC diagnostic pop

void out_text(struct out *o, const char *fmt, ...)
{
	va_list ap;

	if (o->json)
		return;
	va_start(ap, fmt);
	vfprintf(o->f, fmt, ap);
	va_end(ap);
}

void out_bool(struct out *o, const char *key, bool value)
{
	if (!o->json)
		return;
	key_prefix(o, key);
	fputs(value ? "true" : "false", o->f);
}

void out_age(uint64_t since_ms, char *buf, size_t len)
{
	uint64_t now = lbd_wall_ms(), age = now > since_ms ? (now - since_ms) / 1000 : 0;

	if (age < 120)
		snprintf(buf, len, "%llus", (unsigned long long)age);
	else if (age < 7200)
		snprintf(buf, len, "%llum", (unsigned long long)age / 60);
	else if (age < 172800)
		snprintf(buf, len, "%lluh", (unsigned long long)age / 3600);
	else
		snprintf(buf, len, "%llud", (unsigned long long)age / 86400);
}
