/* SPDX-License-Identifier: GPL-2.0 */
/*
 * What an epoll event in lbd's loop belongs to. lbd's own fds are
 * registered by number; health probes, VRRP routers and control clients
 * by a pointer to a struct whose first byte is one of these.
 */
#ifndef LBD_SOURCE_H
#define LBD_SOURCE_H

enum lbd_source_kind { LBD_SRC_PROBE = 1, LBD_SRC_VRRP = 2, LBD_SRC_CLIENT = 3, LBD_SRC_BIRD = 4 };

#endif
