// SPDX-License-Identifier: GPL-2.0
#define _GNU_SOURCE
#include "cluster.h"

#include <errno.h>
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/epoll.h>
#include <sys/stat.h>

#include "ctlsrv.h"
#include "lbd.h"
#include "log.h"

/* The cache's first line: which revision of which key the lines under it are. */
#define CACHE_HEAD	"# xlb cluster cache: %127s revision %" SCNd64

static void cache_path(const struct lbd_config *cfg, char *buf, size_t len)
{
	if (cfg->cluster.cache[0])
		snprintf(buf, len, "%s", cfg->cluster.cache);
	else
		snprintf(buf, len, "%s/%s.cluster", LBD_CLUSTER_CACHE_DIR, cfg->cluster.name);
}

struct cache_text {
	const char *key, *text;
	size_t len;
	int64_t revision;
};

static void write_cache(FILE *f, const void *ctx)
{
	const struct cache_text *c = ctx;

	fprintf(f, "# xlb cluster cache: %s revision %" PRId64 "\n", c->key, c->revision);
	fprintf(f, "# lbd writes this file with each revision it applies; it reads it only to start while etcd "
		   "is away.\n");
	fwrite(c->text, 1, c->len, f);
}

/* The VIPs of vips (its other settings ignored) replace next's. */
static void take_vips(struct lbd_config *next, struct lbd_config *vips)
{
	struct lbd_config old = { .vips = next->vips, .n_vips = next->n_vips };

	next->vips = vips->vips;
	next->n_vips = vips->n_vips;
	vips->vips = NULL;
	vips->n_vips = 0;
	lbd_config_free(&old);
	lbd_config_free(vips);
}

int cluster_load_cache(struct lbd *d, char *err, size_t len)
{
	struct cluster *c = &d->cluster;
	char key[CLUSTER_KEY_LEN + 64], name[PATH_MAX + 32], *text = NULL;
	struct lbd_config vips;
	size_t size = 0;
	int64_t rev = 0;
	FILE *f;
	int ret;

	snprintf(c->key, sizeof(c->key), "/xlb/%s/config", d->cfg.cluster.name);
	cache_path(&d->cfg, c->cache, sizeof(c->cache));
	f = fopen(c->cache, "r");
	if (!f) {
		if (errno == ENOENT)
			return 0;
		return snprintf(err, len, "cannot read the cluster's cache %s: %s", c->cache, strerror(errno)),
		       -errno;
	}
	FILE *m = open_memstream(&text, &size);
	char buf[4096];
	size_t n;

	if (!m) {
		fclose(f);
		return snprintf(err, len, "out of memory"), -ENOMEM;
	}
	while ((n = fread(buf, 1, sizeof(buf), f)) > 0)
		fwrite(buf, 1, n, m);
	fclose(f);
	fclose(m);
	if (sscanf(text, CACHE_HEAD, key, &rev) != 2 || strcmp(key, c->key) || rev <= 0) {
		lbd_warn("the cluster's cache %s is not one of %s: not used (etcd's configuration will be)", c->cache,
			 c->key);
		free(text);
		return 0;
	}
	snprintf(name, sizeof(name), "%s", c->cache);
	ret = lbd_config_parse_vips(text, size, name, &vips, err, len);
	free(text);
	if (ret) {
		lbd_warn("the cluster's cache does not parse, not used: %s", err);
		return 0;
	}
	take_vips(&d->cfg, &vips);
	c->revision = rev;
	c->from_cache = true;
	lbd_info("cluster %s: %zu VIPs of revision %" PRId64 " from the cache %s, until etcd answers",
		 d->cfg.cluster.name, d->cfg.n_vips, rev, c->cache);
	return 0;
}

/* A whole revision of the key: in force, or refused with the node on the one before. */
static void apply_value(struct lbd *d, struct etcd_value *v)
{
	struct cluster *c = &d->cluster;
	char where[CLUSTER_KEY_LEN + 32], err[LBD_ERR_LEN];
	struct lbd_config vips, next;
	int ret;

	c->key_revision = v->text ? v->mod_revision : 0;
	c->key_unusable = !v->text;
	if (v->mod_revision > c->seen_revision)
		c->seen_revision = v->mod_revision;
	if (!v->text) {
		c->absent = true;
		if (!c->revision)
			return;	/* a new cluster: nothing configured yet, nothing in force */
		/* A deleted key is more likely a slip or a restored backup than "balance nothing". */
		c->refused_revision = v->mod_revision;
		snprintf(c->refused_error, sizeof(c->refused_error), "%s was %s: the node stays on revision %" PRId64
			 " (write an empty configuration to remove every VIP)", c->key,
			 v->deleted ? "deleted" : "not found", c->revision);
		c->refused++;
		lbd_err("cluster: %s", c->refused_error);
		return;
	}
	c->absent = false;
	if (v->mod_revision == c->revision) {
		if (c->from_cache)
			lbd_info("cluster: etcd holds revision %" PRId64 ", the one cached", c->revision);
		c->from_cache = false;
		return;
	}
	snprintf(where, sizeof(where), "etcd %s@%" PRId64, c->key, v->mod_revision);
	ret = lbd_config_parse_vips(v->text, v->len, where, &vips, err, sizeof(err));
	c->key_unusable = ret != 0;
	if (!ret) {
		ret = lbd_config_copy(&next, &d->cfg);
		if (ret) {
			snprintf(err, sizeof(err), "out of memory");
			lbd_config_free(&vips);
		}
	}
	if (!ret) {
		take_vips(&next, &vips);
		ret = lbd_commit(d, &next, false, err, sizeof(err));
	}
	if (ret) {
		c->refused_revision = v->mod_revision;
		snprintf(c->refused_error, sizeof(c->refused_error), "%s", err);
		c->refused++;
		lbd_err("cluster: revision %" PRId64 " refused, the node stays on %" PRId64 ": %s", v->mod_revision,
			c->revision, err);
		return;
	}
	c->revision = v->mod_revision;
	c->from_cache = false;
	c->applied++;
	lbd_info("cluster: revision %" PRId64 " applied: %zu VIPs", c->revision, d->cfg.n_vips);
	struct cache_text ct = { c->key, v->text, v->len, c->revision };

	if (lbd_file_replace(c->cache, write_cache, &ct, 0600, err, sizeof(err)))
		lbd_warn("cluster: cannot keep revision %" PRId64 " in the cache: %s (a restart without etcd "
			 "would come up on an older one)", c->revision, err);
}

/* Written, but the watch has not brought it (or anything after it) yet. */
static bool write_pending(const struct cluster *c, const struct etcd_put_done *done)
{
	return done->status == ETCD_PUT_OK && c->seen_revision < done->revision;
}

static void on_etcd(void *ctx, struct lbd_source *src, uint32_t events)
{
	struct lbd *d = ctx;
	struct cluster *c = &d->cluster;
	struct etcd_value v;
	struct etcd_put_done done;

	(void)src;
	(void)events;
	etcd_drain_event(c->etcd);
	while (etcd_take_put(c->etcd, &done)) {
		if (c->n_done == CLUSTER_MAX_DONE) {
			/* Its client waits no more than its deadline: the oldest has waited longest. */
			if (c->done[0].ticket == c->writing)
				c->writing = 0;
			memmove(c->done, c->done + 1, (CLUSTER_MAX_DONE - 1) * sizeof(c->done[0]));
			c->n_done--;
		}
		c->done[c->n_done++] = done;
	}
	if (etcd_take_value(c->etcd, &v)) {
		apply_value(d, &v);
		free(v.text);
	}
	for (size_t i = 0; c->writing && i < c->n_done; i++)
		if (c->done[i].ticket == c->writing && !write_pending(c, &c->done[i]))
			c->writing = 0;
	/* Its client gave up long ago (an etcd restored to older revisions never brings it): the next may go. */
	if (c->writing && lbd_mono_ms() - c->writing_since_ms > 2 * CTL_REPLY_MS)
		c->writing = 0;
	ctlsrv_wake(&d->ctl);
}

int cluster_start(struct lbd *d, char *err, size_t len)
{
	struct cluster *c = &d->cluster;
	struct epoll_event ev = { .events = EPOLLIN, .data.ptr = &c->src };

	c->src = (struct lbd_source){ on_etcd, d, "etcd's answers (the cluster's configuration)" };
	c->etcd = etcd_start(d->cfg.cluster.etcd, c->key, err, len);
	if (!c->etcd)
		return -EINVAL;
	if (epoll_ctl(d->epfd, EPOLL_CTL_ADD, etcd_event_fd(c->etcd), &ev)) {
		snprintf(err, len, "epoll: %s", strerror(errno));
		etcd_stop(c->etcd);
		c->etcd = NULL;
		return -errno;
	}
	lbd_info("cluster %s: following %s at %s", d->cfg.cluster.name, c->key, d->cfg.cluster.etcd);
	return 0;
}

void cluster_stop(struct lbd *d)
{
	etcd_stop(d->cluster.etcd);
	d->cluster.etcd = NULL;
}

int cluster_keep_vips(struct lbd *d, struct lbd_config *next, char *err, size_t len)
{
	struct lbd_config vips;

	if (strcmp(next->cluster.name, d->cfg.cluster.name) || strcmp(next->cluster.etcd, d->cfg.cluster.etcd) ||
	    strcmp(next->cluster.cache, d->cfg.cluster.cache)) {
		lbd_config_free(next);
		return snprintf(err, len, "the cluster line changed: restart lbd to follow another cluster or etcd; "
				"the running configuration stays"), -EINVAL;
	}
	if (!cluster_on(next))
		return 0;
	lbd_config_init(&vips);
	if (lbd_config_copy(&vips, &d->cfg)) {
		lbd_config_free(next);
		return snprintf(err, len, "out of memory"), -ENOMEM;
	}
	take_vips(next, &vips);
	return 0;
}

bool cluster_owns(const struct lbd *d, const struct lbd_cmd *cmd)
{
	switch (cmd->kind) {
	case CMD_VIP_ADD: case CMD_VIP_SET: case CMD_VIP_DEL:
	case CMD_BACKEND_ADD: case CMD_BACKEND_SET: case CMD_BACKEND_DEL:
		return cluster_on(&d->cfg);
	default:
		return false;
	}
}

static const char *state_name(enum etcd_state s)
{
	return s == ETCD_CONNECTED ? "connected" : s == ETCD_UNREACHABLE ? "unreachable" : "connecting";
}

/* The first call writes to etcd and parks; the ones after look for the outcome (cur->next: the ticket). */
int cluster_command(struct lbd *d, const struct lbd_cmd *cmd, struct ctl_cursor *cur, char *err, size_t len)
{
	struct cluster *c = &d->cluster;
	char why[320], url[256];

	if (!cur->next && c->writing) {
		cur->park = true;
		return 0;
	}
	if (!cur->next) {
		struct lbd_config next;
		char *text = NULL;
		size_t size = 0;
		FILE *f;
		int ret;

		enum etcd_state s = etcd_state(c->etcd, NULL, why, sizeof(why));

		/* Just started: the first answer (or the first failure) is a few ms away. */
		if (s == ETCD_CONNECTING) {
			cur->park = true;
			return 0;
		}
		etcd_url(c->etcd, url, sizeof(url));
		if (s == ETCD_CONNECTED && c->key_revision != c->revision && !c->key_unusable)
			return snprintf(err, len, "this node runs revision %" PRId64 " of the cluster's configuration, "
					"but etcd holds revision %" PRId64 ", which it could not apply (%s): a change "
					"from here would undo what the other nodes run; make it on a node that runs "
					"revision %" PRId64 ", or fix the cause here", c->revision, c->key_revision,
					c->refused_error, c->key_revision), -EAGAIN;
		if (s != ETCD_CONNECTED)
			return snprintf(err, len, "etcd is unreachable (%s): changes to the cluster's VIPs and "
					"backends need it; nothing was changed", why[0] ? why : url),
			       -EAGAIN;
		if (lbd_config_copy(&next, &d->cfg))
			return snprintf(err, len, "out of memory"), -ENOMEM;
		ret = lbd_cmd_apply(&next, cmd, err, len);
		if (ret) {
			lbd_config_free(&next);
			return ret;
		}
		f = open_memstream(&text, &size);
		if (!f) {
			lbd_config_free(&next);
			return snprintf(err, len, "out of memory"), -ENOMEM;
		}
		lbd_config_write_vips(f, &next);
		fclose(f);
		lbd_config_free(&next);
		if (size > ETCD_MAX_VALUE) {
			free(text);
			return snprintf(err, len, "the cluster's configuration would be %zu KiB, more than the %u KiB "
					"lbd writes to etcd", size >> 10, ETCD_MAX_VALUE >> 10), -E2BIG;
		}
		cur->next = etcd_put(c->etcd, text, size, c->key_revision);
		c->writing = cur->next;
		c->writing_since_ms = lbd_mono_ms();
		free(text);
		cur->park = true;
		return 0;
	}
	for (size_t i = 0; i < c->n_done; i++) {
		struct etcd_put_done done = c->done[i];

		if (done.ticket != cur->next)
			continue;
		/* Written: the reply waits until this node runs it, as a local change's does. */
		if (write_pending(c, &done)) {
			cur->park = true;
			return 0;
		}
		memmove(c->done + i, c->done + i + 1, (c->n_done - i - 1) * sizeof(c->done[0]));
		c->n_done--;
		if (done.status == ETCD_PUT_OK && c->refused_revision == done.revision)
			return snprintf(err, len, "etcd took the change as revision %" PRId64 ", but this node could not "
					"apply it: %s; the cluster's configuration now holds it: undo it (or fix the "
					"cause) with another change", done.revision, c->refused_error), -EIO;
		if (done.status == ETCD_PUT_OK)
			return 0;
		if (done.status == ETCD_PUT_CONFLICT)
			return snprintf(err, len, "the cluster's configuration changed while this change was made "
					"(it was made on revision %" PRId64 ", etcd is at %" PRId64 "): nothing was "
					"changed; run the command again", done.expected, done.revision), -EAGAIN;
		return snprintf(err, len, "the write to etcd failed (%s): if etcd got it before the failure, it is "
				"in; lbctl config show and lbctl show tell", done.why), -EIO;
	}
	cur->park = true;
	return 0;
}

void cluster_show(struct lbd *d, struct out *o)
{
	struct cluster *c = &d->cluster;
	char why[320] = "", url[256] = "", age[32];
	uint64_t since = 0;
	enum etcd_state s;

	if (!cluster_on(&d->cfg) || !c->etcd)
		return;
	s = etcd_state(c->etcd, &since, why, sizeof(why));
	etcd_url(c->etcd, url, sizeof(url));
	out_age(lbd_wall_ms() - (lbd_mono_ms() - since), age, sizeof(age));
	out_obj_begin(o, "cluster");
	out_field_str(o, "name", "cluster %s ", d->cfg.cluster.name);
	out_field_str(o, "etcd", "etcd %s", state_name(s));
	out_field_str(o, "url", " (%s", url);
	out_text(o, " since %s)", age);
	out_u64(o, "etcd_since_ms", lbd_mono_ms() - since);
	out_field_str(o, "etcd_error", s == ETCD_UNREACHABLE ? ": %s" : NULL, why);
	out_field_u64(o, "revision", ", revision %llu", (unsigned long long)c->revision);
	out_bool(o, "stale", s != ETCD_CONNECTED);
	out_bool(o, "from_cache", c->from_cache);
	out_bool(o, "absent", c->absent);
	if (s != ETCD_CONNECTED)
		out_text(o, c->from_cache ? " (stale: from the cache)" : " (stale)");
	if (c->absent && s == ETCD_CONNECTED)
		out_text(o, c->revision ? ", but etcd holds no configuration: the node stays on it" :
			 ", etcd holds no configuration yet");
	out_field_u64(o, "applied", NULL, c->applied);
	out_field_u64(o, "refused", NULL, c->refused);
	out_field_u64(o, "refused_revision", c->refused_revision > c->revision ? ", refused revision %llu" : NULL,
		      (unsigned long long)c->refused_revision);
	out_field_str(o, "refused_error", c->refused_revision > c->revision ? ": %s" : NULL, c->refused_error);
	out_text(o, "\n");
	out_obj_end(o);
}
