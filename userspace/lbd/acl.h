/* SPDX-License-Identifier: GPL-2.0 */
#ifndef LBD_ACL_H
#define LBD_ACL_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "config.h"

struct lbd_acl_entry {
	uint8_t family;		/* XLB_AF_INET or XLB_AF_INET6 */
	uint8_t len;		/* prefix length */
	uint8_t deny;
	uint8_t pad;
	__be32 a[4];		/* host bits zero */
};

/* A scope's lists, sorted, each prefix once. */
struct lbd_acl {
	struct lbd_acl_entry *e;
	size_t n, cap;
	size_t allows;		/* how many are allow prefixes: any makes it an allow list */
};

/*
 * The allow and deny lists from their text: prefixes separated by commas
 * ("none" or empty: no list), or @FILE, a prefix a line. A prefix with
 * host bits set, one in both lists, or more than XLB_ACL_MAX in all is an
 * error, said in err; nothing is kept then.
 */
int lbd_acl_build(const char *allow, const char *deny, struct lbd_acl *acl, char *err, size_t len);
void lbd_acl_free(struct lbd_acl *acl);
/* Writes scope_n's prefixes (0: global, vip_id + 1: a VIP's) to acl_map, then takes out the stale ones. */
int lbd_acl_publish(int fd, uint32_t scope_n, const struct lbd_acl *acl, char *err, size_t len);
/* The two halves: acl's prefixes in (an entry that stays keeps its hits); scope_n's others out. */
int lbd_acl_write(int fd, uint32_t scope_n, const struct lbd_acl *acl, char *err, size_t len);
int lbd_acl_sweep(int fd, uint32_t scope_n, const struct lbd_acl *acl, char *err, size_t len);
void lbd_acl_clear(int fd, uint32_t scope_n);
/* The packets an entry of scope_n decided; *found false when acl_map does not hold it. */
uint64_t lbd_acl_hits(int fd, uint32_t scope_n, const struct lbd_acl_entry *e, bool *found);
void lbd_acl_format(const struct lbd_acl_entry *e, char *buf, size_t len);

#endif /* LBD_ACL_H */
