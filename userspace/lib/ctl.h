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
#define CTL_MAX_REQUEST	4096
#define CTL_MAX_ARGS	32
#define CTL_DEFAULT_SOCKET "/run/xlb/lbd.sock"

#endif
