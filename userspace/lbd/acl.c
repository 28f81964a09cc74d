// SPDX-License-Identifier: GPL-2.0
/*
 * Allow and deny lists: their text (prefixes, or @FILE of them), checked
 * whole before anything is applied, and their entries in acl_map, written
 * before the stale ones of the same scope go, so that a change never
 * lets through, even for a moment, a source both the old and the new
 * lists keep out.
 */
#include "acl.h"

#include <arpa/inet.h>
#include <bpf/bpf.h>
#include <errno.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define fail lbd_fail

void lbd_acl_free(struct lbd_acl *acl)
{
	free(acl->e);
	memset(acl, 0, sizeof(*acl));
}

static void mask(struct lbd_acl_entry *e)
{
	for (int i = 0; i < 4; i++) {
		int bits = e->len - 32 * i;

		if (bits <= 0)
			e->a[i] = 0;
		else if (bits < 32)
			e->a[i] &= htonl(~0u << (32 - bits));
	}
}

/* One prefix: ADDR/LEN, or ADDR alone for the host. */
static int parse_prefix(const char *text, struct lbd_acl_entry *e, char *err, size_t len)
{
	char buf[INET6_ADDRSTRLEN + 8], *slash, *end;
	struct lbd_acl_entry exact;
	struct lbd_addr addr;
	unsigned long n;
	int max;

	if (strlen(text) >= sizeof(buf))
		return fail(err, len, -EINVAL, "'%.60s...' is not a prefix (ADDR/LEN)", text);
	strcpy(buf, text);
	slash = strchr(buf, '/');
	if (slash)
		*slash = 0;
	if (lbd_addr_parse(buf, &addr))
		return fail(err, len, -EINVAL, "'%s' is not a prefix: want ADDR/LEN, e.g. 198.18.0.0/24 or 2001:db8::/48",
			    text);
	max = addr.family == XLB_AF_INET ? 32 : 128;
	n = max;
	if (slash) {
		errno = 0;
		n = strtoul(slash + 1, &end, 10);
		if (errno || end == slash + 1 || *end || n > (unsigned long)max)
			return fail(err, len, -EINVAL, "'%s': the prefix length must be 0 to %d", text, max);
	}
	memset(e, 0, sizeof(*e));
	e->family = addr.family;
	e->len = (uint8_t)n;
	memcpy(e->a, addr.a, sizeof(e->a));
	exact = *e;
	mask(e);
	if (memcmp(exact.a, e->a, sizeof(e->a))) {
		char want[INET6_ADDRSTRLEN];

		inet_ntop(e->family == XLB_AF_INET ? AF_INET : AF_INET6, e->a, want, sizeof(want));
		return fail(err, len, -EINVAL, "'%s' has host bits set: did you mean %s/%u?", text, want, e->len);
	}
	return 0;
}

static int add(struct lbd_acl *acl, const struct lbd_acl_entry *e, char *err, size_t len)
{
	if (acl->n == acl->cap) {
		size_t cap = acl->cap ? acl->cap * 2 : 16;
		struct lbd_acl_entry *grown;

		if (acl->n >= XLB_ACL_MAX)
			return fail(err, len, -E2BIG, "more than %u prefixes: xlb's lists hold %u in all", XLB_ACL_MAX,
				    XLB_ACL_MAX);
		grown = realloc(acl->e, cap * sizeof(*grown));
		if (!grown)
			return fail(err, len, -ENOMEM, "out of memory for the list");
		acl->e = grown;
		acl->cap = cap;
	}
	acl->e[acl->n++] = *e;
	return 0;
}

/* @FILE: a prefix a line; blank lines and what follows # are left out. */
static int parse_file(const char *path, bool deny, struct lbd_acl *acl, char *err, size_t len)
{
	FILE *f = fopen(path, "r");
	char line[256], one[LBD_ERR_LEN];
	unsigned int n = 0;
	int ret = 0;

	if (!f)
		return fail(err, len, -errno, "cannot read the list %s: %s", path, strerror(errno));
	while (!ret && fgets(line, sizeof(line), f)) {
		char *p = line, *q;
		struct lbd_acl_entry e;

		n++;
		q = strchr(p, '#');
		if (q)
			*q = 0;
		p += strspn(p, " \t\r\n");
		for (q = p; *q && !strchr(" \t\r\n", *q); q++)
			;
		if (*q && q[strspn(q, " \t\r\n")])
			ret = fail(err, len, -EINVAL, "%s:%u: one prefix a line", path, n);
		*q = 0;
		if (ret || !*p)
			continue;
		ret = parse_prefix(p, &e, one, sizeof(one));
		if (ret) {
			fail(err, len, ret, "%s:%u: %s", path, n, one);
			break;
		}
		e.deny = deny;
		ret = add(acl, &e, err, len);
	}
	if (!ret && ferror(f))
		ret = fail(err, len, -EIO, "cannot read the list %s", path);
	fclose(f);
	return ret;
}

static int parse_list(const char *text, bool deny, struct lbd_acl *acl, char *err, size_t len)
{
	char buf[LBD_ACL_TEXT], *save = NULL;
	int ret = 0;

	if (!*text || !strcmp(text, "none"))
		return 0;
	if (text[0] == '@')
		return parse_file(text + 1, deny, acl, err, len);
	snprintf(buf, sizeof(buf), "%s", text);
	for (char *w = strtok_r(buf, ",", &save); w && !ret; w = strtok_r(NULL, ",", &save)) {
		struct lbd_acl_entry e;

		ret = parse_prefix(w, &e, err, len);
		e.deny = deny;
		if (!ret)
			ret = add(acl, &e, err, len);
	}
	return ret;
}

static int entry_cmp(const void *x, const void *y)
{
	const struct lbd_acl_entry *a = x, *b = y;

	if (a->family != b->family)
		return a->family - b->family;
	if (a->len != b->len)
		return a->len - b->len;
	return memcmp(a->a, b->a, sizeof(a->a));
}

static void format(const struct lbd_acl_entry *e, char *buf, size_t len)
{
	char a[INET6_ADDRSTRLEN];

	inet_ntop(e->family == XLB_AF_INET ? AF_INET : AF_INET6, e->a, a, sizeof(a));
	snprintf(buf, len, "%s/%u", a, e->len);
}

int lbd_acl_build(const char *allow, const char *deny, struct lbd_acl *acl, char *err, size_t len)
{
	size_t kept = 0;
	int ret;

	memset(acl, 0, sizeof(*acl));
	if (strlen(allow) >= LBD_ACL_TEXT - 1 || strlen(deny) >= LBD_ACL_TEXT - 1)
		return fail(err, len, -E2BIG, "a list given inline holds %d characters at most: put a longer one "
			    "in a file, one prefix a line, and give @FILE", LBD_ACL_TEXT - 2);
	ret = parse_list(allow, false, acl, err, len);
	if (!ret)
		ret = parse_list(deny, true, acl, err, len);
	if (ret) {
		lbd_acl_free(acl);
		return ret;
	}
	if (acl->n)
		qsort(acl->e, acl->n, sizeof(*acl->e), entry_cmp);
	/* The same prefix twice in a list is one; in both lists, nobody could say which is meant. */
	for (size_t i = 0; i < acl->n; i++) {
		if (kept && !entry_cmp(&acl->e[kept - 1], &acl->e[i])) {
			if (acl->e[kept - 1].deny != acl->e[i].deny) {
				char p[64];

				format(&acl->e[i], p, sizeof(p));
				lbd_acl_free(acl);
				return fail(err, len, -EINVAL, "%s is in both the allow and the deny list: keep it "
					    "in one", p);
			}
			continue;
		}
		acl->e[kept++] = acl->e[i];
		acl->allows += !acl->e[i].deny;
	}
	acl->n = kept;
	return 0;
}

static void key_of(const struct lbd_acl_entry *e, uint32_t scope_n, struct xlb_acl_key *k)
{
	memset(k, 0, sizeof(*k));
	k->prefixlen = 32 + e->len;
	k->scope = htonl(XLB_ACL_SCOPE(scope_n, e->family));
	memcpy(k->addr, e->a, sizeof(k->addr));
}

static bool in_scope(const struct xlb_acl_key *k, uint32_t scope_n)
{
	return ntohl(k->scope) >> 1 == scope_n;
}

static bool wanted(const struct lbd_acl *acl, const struct xlb_acl_key *k)
{
	struct lbd_acl_entry e = {
		.family = ntohl(k->scope) & 1 ? XLB_AF_INET6 : XLB_AF_INET,
		.len = (uint8_t)(k->prefixlen - 32),
	};

	memcpy(e.a, k->addr, sizeof(e.a));
	return acl && acl->n && bsearch(&e, acl->e, acl->n, sizeof(*acl->e), entry_cmp);
}

/* Deletes scope_n's keys that acl does not hold (all of them for NULL): found first, deleted after, as a delete under the walk's cursor sends it back to the start. */
static int drop_stale(int fd, uint32_t scope_n, const struct lbd_acl *acl)
{
	struct xlb_acl_key key, *stale = NULL;
	size_t n = 0, cap = 0;
	bool have = false;
	int ret = 0;

	while (!bpf_map_get_next_key(fd, have ? &key : NULL, &key)) {
		have = true;
		if (!in_scope(&key, scope_n) || wanted(acl, &key))
			continue;
		if (n == cap) {
			struct xlb_acl_key *grown = realloc(stale, (cap = cap ? cap * 2 : 64) * sizeof(*stale));

			if (!grown) {
				free(stale);
				return -ENOMEM;
			}
			stale = grown;
		}
		stale[n++] = key;
	}
	for (size_t i = 0; i < n; i++)
		if (bpf_map_delete_elem(fd, &stale[i]) && errno != ENOENT)
			ret = -errno;
	free(stale);
	return ret;
}

int lbd_acl_write(int fd, uint32_t scope_n, const struct lbd_acl *acl, char *err, size_t len)
{
	for (size_t i = 0; acl && i < acl->n; i++) {
		struct xlb_acl_key k;
		struct xlb_acl_entry have, v = { .deny = acl->e[i].deny };

		key_of(&acl->e[i], scope_n, &k);
		/* An entry that stays keeps its hits. */
		if (!bpf_map_lookup_elem(fd, &k, &have) && have.deny == v.deny)
			continue;
		if (bpf_map_update_elem(fd, &k, &v, BPF_ANY)) {
			char p[64];
			int ret = -errno;

			format(&acl->e[i], p, sizeof(p));
			return fail(err, len, ret, "cannot write %s to the lists: %s%s", p, strerror(-ret),
				    ret == -E2BIG || ret == -ENOSPC ? " (xlb's lists are full)" : "");
		}
	}
	return 0;
}

int lbd_acl_sweep(int fd, uint32_t scope_n, const struct lbd_acl *acl, char *err, size_t len)
{
	int ret = drop_stale(fd, scope_n, acl);

	if (ret)
		return fail(err, len, ret, "cannot take a prefix out of the lists: %s", strerror(-ret));
	return 0;
}

int lbd_acl_publish(int fd, uint32_t scope_n, const struct lbd_acl *acl, char *err, size_t len)
{
	int ret = lbd_acl_write(fd, scope_n, acl, err, len);

	return ret ? ret : lbd_acl_sweep(fd, scope_n, acl, err, len);
}

void lbd_acl_clear(int fd, uint32_t scope_n)
{
	drop_stale(fd, scope_n, NULL);
}

uint64_t lbd_acl_hits(int fd, uint32_t scope_n, const struct lbd_acl_entry *e, bool *found)
{
	struct xlb_acl_key k;
	struct xlb_acl_entry v;

	key_of(e, scope_n, &k);
	*found = !bpf_map_lookup_elem(fd, &k, &v);
	return *found ? v.hits : 0;
}

void lbd_acl_format(const struct lbd_acl_entry *e, char *buf, size_t len)
{
	format(e, buf, len);
}
