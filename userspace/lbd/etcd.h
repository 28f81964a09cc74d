/* SPDX-License-Identifier: GPL-2.0 */
/*
 * One etcd v3 key, followed and written without blocking lbd's loop. A
 * thread of its own talks to etcd's JSON gateway (libcurl's multi
 * interface, json-c): it reads the key, watches it from the revision it
 * read, and runs the compare-and-swap writes the loop hands it. The loop
 * sees an eventfd become readable and takes what arrived: the key's newest
 * value (older ones that came meanwhile are skipped: each value is whole),
 * the writes' outcomes, and whether etcd answers.
 */
#ifndef LBD_ETCD_H
#define LBD_ETCD_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#define ETCD_MAX_URLS		8
#define ETCD_MAX_VALUE		(1u << 20)	/* etcd's own default request limit is 1.5 MiB */
#define ETCD_REQUEST_MS		3000		/* a read or a write, connect to answer */
#define ETCD_RETRY_MS		1000		/* after a failure, before the next URL is tried */

enum etcd_state { ETCD_CONNECTING, ETCD_CONNECTED, ETCD_UNREACHABLE };

/* The key as a revision of etcd left it. */
struct etcd_value {
	char *text;		/* malloc'd, NUL-terminated; NULL when the key is absent or deleted */
	size_t len;
	int64_t mod_revision;	/* the revision that wrote it; 0: absent */
	bool deleted;		/* a watch event deleted it (absent at the first read: !deleted) */
};

enum etcd_put_status { ETCD_PUT_OK, ETCD_PUT_CONFLICT, ETCD_PUT_FAILED };

struct etcd_put_done {
	uint64_t ticket;
	enum etcd_put_status status;
	int64_t expected;	/* the mod_revision it compared */
	int64_t revision;	/* ETCD_PUT_OK: the revision the write made; else etcd's at the answer */
	char why[160];		/* ETCD_PUT_FAILED: what went wrong */
};

struct etcd;

/* urls: "http://198.18.0.1:2379,http://..."; NULL and err when they do not parse or the thread cannot start. */
struct etcd *etcd_start(const char *urls, const char *key, char *err, size_t len);
void etcd_stop(struct etcd *e);
/* Readable when something arrived; etcd_drain_event() reads it. */
int etcd_event_fd(const struct etcd *e);
void etcd_drain_event(struct etcd *e);

/* The newest value not taken yet: true and *v filled (the caller frees v->text). */
bool etcd_take_value(struct etcd *e, struct etcd_value *v);
/* A finished write not taken yet. */
bool etcd_take_put(struct etcd *e, struct etcd_put_done *done);
/* Whether etcd answers, since when (lbd_mono_ms), and the last failure. */
enum etcd_state etcd_state(struct etcd *e, uint64_t *since_ms, char *why, size_t len);
/* The URL in use now. */
void etcd_url(struct etcd *e, char *buf, size_t len);

/*
 * Writes value if the key's mod_revision is still expect (0: the key must
 * not exist); returns the ticket etcd_take_put() reports it with.
 */
uint64_t etcd_put(struct etcd *e, const char *value, size_t len, int64_t expect);

#endif
