/* SPDX-License-Identifier: GPL-2.0 */
/*
 * The control protocol between lbctl and lbd, over a Unix stream socket.
 *
 * Request: one line, fields separated by CTL_SEP: first the flags ("j" for
 * JSON, "-" for text), then lbctl's words. Reply: lines that each start
 * with a status word: "row " and a line of output, then exactly one final
 * "done" or "error " and a one-line reason. Scripts never parse prose.
 */
#ifndef LBD_CTL_H
#define LBD_CTL_H

#define CTL_SEP		'\x1f'
/*
 * What lbd accepts; a request past either is refused whole, never cut (a
 * cut command would run, and be saved, as another one). lbctl checks both
 * before sending.
 */
#define CTL_MAX_REQUEST	16384	/* bytes, the newline included */
#define CTL_MAX_ARGS	256	/* lbctl's words: a vrrp add with 16 --vip takes 37 */
#define CTL_DEFAULT_SOCKET "/run/xlb/lbd.sock"

#endif
