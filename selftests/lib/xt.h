/* SPDX-License-Identifier: GPL-2.0 */
/*
 * xt: the smallest test harness that does what we need.
 *
 * A test binary declares named subtests with XT_TEST(), runs them with
 * xt_main(), and prints one "ok"/"FAIL" line per subtest plus a final
 * "RESULT passed=N failed=N skipped=N" line that selftests/run.sh adds up.
 * Assertions return a bool so callers can bail out: if (!XT_EQ(a, b)) return;
 */
#ifndef XT_H
#define XT_H

#include <inttypes.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

struct xt_state {
	const char *name;
	int failed;
	int skipped;
};

extern struct xt_state xt_cur;

static inline bool xt_check(bool ok, const char *file, int line, const char *fmt, ...)
	__attribute__((format(printf, 4, 5)));

#include <stdarg.h>
static inline bool xt_check(bool ok, const char *file, int line, const char *fmt, ...)
{
	va_list ap;

	if (ok)
		return true;
	xt_cur.failed++;
	fprintf(stderr, "  %s:%d: [%s] ", file, line, xt_cur.name);
	va_start(ap, fmt);
	vfprintf(stderr, fmt, ap);
	va_end(ap);
	fputc('\n', stderr);
	return false;
}

#define XT_TRUE(c, ...) xt_check(!!(c), __FILE__, __LINE__, __VA_ARGS__)
#define XT_EQ(a, b)                                                                \
	({                                                                         \
		long long _a = (long long)(a), _b = (long long)(b);                \
		xt_check(_a == _b, __FILE__, __LINE__, "%s == %s: got %lld, expected %lld", \
			 #a, #b, _a, _b);                                          \
	})
#define XT_NE(a, b)                                                                \
	({                                                                         \
		long long _a = (long long)(a), _b = (long long)(b);                \
		xt_check(_a != _b, __FILE__, __LINE__, "%s != %s: both are %lld", #a, #b, _a); \
	})
#define XT_LE(a, b)                                                                \
	({                                                                         \
		double _a = (double)(a), _b = (double)(b);                         \
		xt_check(_a <= _b, __FILE__, __LINE__, "%s <= %s: got %g > %g", #a, #b, _a, _b); \
	})
#define XT_GE(a, b)                                                                \
	({                                                                         \
		double _a = (double)(a), _b = (double)(b);                         \
		xt_check(_a >= _b, __FILE__, __LINE__, "%s >= %s: got %g < %g", #a, #b, _a, _b); \
	})
/* Compare two byte buffers and show the first difference. */
#define XT_MEM(got, exp, len) xt_mem((got), (exp), (len), __FILE__, __LINE__, #got)
static inline bool xt_mem(const void *got, const void *exp, size_t len, const char *file,
			  int line, const char *what)
{
	const uint8_t *g = got, *e = exp;

	for (size_t i = 0; i < len; i++)
		if (g[i] != e[i])
			return xt_check(false, file, line,
					"%s differs at byte %zu of %zu: got 0x%02x, expected 0x%02x",
					what, i, len, g[i], e[i]);
	return true;
}
/* A subtest that cannot run here says why, and counts as skipped, not passed. */
#define XT_SKIP(...)                                                               \
	do {                                                                       \
		xt_cur.skipped = 1;                                                \
		fprintf(stderr, "  skip [%s]: ", xt_cur.name);                     \
		fprintf(stderr, __VA_ARGS__);                                      \
		fputc('\n', stderr);                                               \
		return;                                                            \
	} while (0)

struct xt_case {
	const char *name;
	void (*fn)(void);
};

struct xt_totals {
	int passed, failed, skipped;
};
extern struct xt_totals xt_totals;

static inline void xt_begin(const char *name)
{
	xt_cur = (struct xt_state){ .name = name };
}

/* Prints the subtest's line and adds it to the totals. */
static inline void xt_end(const char *suite)
{
	const char *word = "ok  ";

	if (xt_cur.failed) {
		xt_totals.failed++;
		word = "FAIL";
	} else if (xt_cur.skipped) {
		xt_totals.skipped++;
		word = "skip";
	} else {
		xt_totals.passed++;
	}
	printf("%s %s/%s\n", word, suite, xt_cur.name);
	fflush(stdout);
}

/* The RESULT line run.sh adds up; the exit status is 1 on any failure. */
static inline int xt_report(void)
{
	printf("RESULT passed=%d failed=%d skipped=%d\n", xt_totals.passed, xt_totals.failed,
	       xt_totals.skipped);
	return xt_totals.failed ? 1 : 0;
}

/* Runs every case without reporting. */
static inline void xt_run_cases(const char *suite, const struct xt_case *cases, size_t n)
{
	for (size_t i = 0; i < n; i++) {
		xt_begin(cases[i].name);
		cases[i].fn();
		xt_end(suite);
	}
}

/* Runs every case, then reports. */
static inline int xt_run(const char *suite, const struct xt_case *cases, size_t n)
{
	xt_run_cases(suite, cases, n);
	return xt_report();
}

#define XT_DEFINE_STATE struct xt_state xt_cur; struct xt_totals xt_totals
#define XT_CASE(fn) { #fn, fn }

#endif /* XT_H */
