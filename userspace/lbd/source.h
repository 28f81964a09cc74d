/* SPDX-License-Identifier: GPL-2.0 */
/*
 * What an epoll event in lbd's loop belongs to: every fd in the set is
 * registered with a pointer to a struct whose first member is a
 * struct lbd_source, which says who handles its events. The loop calls
 * the handler and knows nothing of the module behind it.
 */
#ifndef LBD_SOURCE_H
#define LBD_SOURCE_H

#include <stdint.h>

struct lbd_source {
	/* ctx: the module's state; src: this source, the first member of the module's own struct */
	void (*handle)(void *ctx, struct lbd_source *src, uint32_t events);
	void *ctx;
	const char *work;	/* what handling its events is, in the loop's account of a long pass */
};

#endif
