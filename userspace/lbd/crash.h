/* SPDX-License-Identifier: GPL-2.0 */
/*
 * A fatal signal leaves its stack in lbd's log: a daemon that dies under
 * systemd or in a test bed nobody keeps is otherwise a mystery.
 */
#ifndef LBD_CRASH_H
#define LBD_CRASH_H

/* SIGSEGV, SIGBUS, SIGFPE, SIGILL and SIGABRT write their stack to stderr, then kill as before. */
void crash_report_install(void);

#endif /* LBD_CRASH_H */
