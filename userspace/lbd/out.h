/* SPDX-License-Identifier: GPL-2.0 */
/*
 * One printing API for people and scripts: the same calls give an aligned
 * text view or JSON (lbctl -j), so the two can never disagree.
 */
#ifndef LBD_OUT_H
#define LBD_OUT_H

#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>

#define OUT_MAX_DEPTH 8

struct out {
	FILE *f;
	bool json;
	int depth;
	bool first[OUT_MAX_DEPTH];
};

void out_init(struct out *o, FILE *f, bool json);
/* JSON structure; no output in text mode. key is NULL inside arrays and at top level. */
void out_obj_begin(struct out *o, const char *key);
void out_obj_end(struct out *o);
void out_arr_begin(struct out *o, const char *key);
void out_arr_end(struct out *o);
void out_str(struct out *o, const char *key, const char *value);
void out_u64(struct out *o, const char *key, uint64_t value);
void out_bool(struct out *o, const char *key, bool value);
void out_double(struct out *o, const char *key, double value);
/*
 * One field for both views, as iproute2's print_*(PRINT_ANY, ...): its key
 * and value in JSON, the value through fmt (one conversion of the value's
 * type: %s, %llu, %f) in text. The field is described once, so the views
 * cannot drift apart. A NULL fmt: the field is for JSON only.
 */
void out_field_str(struct out *o, const char *key, const char *fmt, const char *value);
void out_field_u64(struct out *o, const char *key, const char *fmt, unsigned long long value);
void out_field_double(struct out *o, const char *key, const char *fmt, double value);
/* Text only; nothing in JSON mode. */
void out_text(struct out *o, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
/* "12s", "5m", "3h", "2d": how long ago since_ms (wall clock) was, for the text view. */
void out_age(uint64_t since_ms, char *buf, size_t len);

#endif
