// SPDX-License-Identifier: GPL-2.0
#define _GNU_SOURCE	/* sigabbrev_np */
#include "crash.h"

#include <execinfo.h>
#include <signal.h>
#include <string.h>
#include <unistd.h>

static const int fatal_signals[] = { SIGSEGV, SIGBUS, SIGFPE, SIGILL, SIGABRT };

static void say(const char *s)
{
	ssize_t ignored = write(STDERR_FILENO, s, strlen(s));

	(void)ignored;
}

/* Only async-signal-safe calls: the heap may be what broke. */
static void on_fatal(int sig)
{
	const char *name = sigabbrev_np(sig);
	void *frames[64];
	char num[12];
	int n = sizeof(num) - 1;
	int depth, v = sig;

	num[n] = '\0';
	do
		num[--n] = (char)('0' + v % 10);
	while (v /= 10);
	say("lbd: fatal signal ");
	say(num + n);
	say(" (");
	say(name ? name : "?");
	say("), its stack (addr2line -e lbd -f turns lbd(+0x...) into lines):\n");
	depth = backtrace(frames, 64);
	backtrace_symbols_fd(frames, depth, STDERR_FILENO);
	/* SA_RESETHAND restored the default: the signal kills now, with a core where cores are kept. */
	raise(sig);
}

void crash_report_install(void)
{
#ifdef __SANITIZE_ADDRESS__
	return;		/* AddressSanitizer's own report says more */
#endif
	struct sigaction sa = { .sa_handler = on_fatal, .sa_flags = SA_RESETHAND | SA_ONSTACK };
	static char alt_stack[64 * 1024];
	stack_t ss = { .ss_sp = alt_stack, .ss_size = sizeof(alt_stack) };
	void *warm;

	/* The first backtrace() loads libgcc: done now, not in the handler. */
	backtrace(&warm, 1);
	/* A stack overflow still gets its report. */
	sigaltstack(&ss, NULL);
	sigemptyset(&sa.sa_mask);
	for (size_t i = 0; i < sizeof(fatal_signals) / sizeof(fatal_signals[0]); i++)
		sigaction(fatal_signals[i], &sa, NULL);
}
