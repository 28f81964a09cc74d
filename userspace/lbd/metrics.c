// SPDX-License-Identifier: GPL-2.0
#define _GNU_SOURCE
#include "metrics.h"

#include <arpa/inet.h>
#include <errno.h>
#include <fcntl.h>
#include <microhttpd.h>
#include <netinet/in.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

#include "bgp.h"
#include "clock.h"
#include "dataplane.h"
#include "health.h"
#include "log.h"
#include "vrrp.h"

#ifndef XLB_VERSION
#define XLB_VERSION "unknown"
#endif

/* A scrape is small and quick: a few at once are plenty, and a stuck client is dropped. */
#define METRICS_MAX_CONNECTIONS	16
#define METRICS_CONN_TIMEOUT_S	10

/* A counter that is one of the program's verdicts (README "Verdicts"): one of them per frame. */
static bool is_verdict(enum xlb_stat stat)
{
	enum xlb_stat_kind kind = xlb_stat_kind(stat);

	return kind == XLB_KIND_PASS || kind == XLB_KIND_DROP || kind == XLB_KIND_TX;
}

struct metrics_vip {
	char label[80];
	uint32_t id;
	int8_t announced;	/* -1: no bgp */
};

/* A backend of a VIP: what lbd decides of it there. */
struct metrics_pair {
	uint32_t vip;		/* index into vips */
	char backend[INET6_ADDRSTRLEN];
	uint32_t weight;
	uint8_t state;		/* enum lbd_shown_state */
	bool checked;		/* it has a health check (not "none") */
	bool up;
	uint64_t latency_count[HC_LATENCY_BUCKETS + 1];
	uint64_t latency_sum_us;
};

/* A backend address: its traffic counters are per address, across VIPs. */
struct metrics_backend {
	uint32_t id;
	char address[INET6_ADDRSTRLEN];
};

struct metrics_router {
	char dev[IF_NAMESIZE];
	uint8_t vrid, priority;
	bool v6;
	enum vrrp_state state;
};

struct metrics_snapshot {
	int refs;
	uint64_t gen;			/* metrics_sources.gen it was taken at */
	uint64_t taken_ms;		/* monotonic */
	struct metrics_vip *vips;
	size_t n_vips;
	struct metrics_pair *pairs;
	size_t n_pairs;
	struct metrics_backend *backends;
	size_t n_backends;
	struct metrics_router routers[LBD_MAX_VRRP];
	size_t n_routers;
	bool flows_counted;		/* a sweep pass has counted the connection table */
	uint64_t conn_entries;
	uint32_t conn_capacity;
	struct metrics_cluster cluster;
};

static void snapshot_free(struct metrics_snapshot *s)
{
	if (!s)
		return;
	free(s->vips);
	free(s->pairs);
	free(s->backends);
	free(s);
}

static struct metrics_snapshot *snapshot_get(struct metrics *m)
{
	struct metrics_snapshot *s;

	pthread_mutex_lock(&m->lock);
	s = m->snap;
	if (s)
		s->refs++;
	m->scrapes++;
	pthread_mutex_unlock(&m->lock);
	return s;
}

static void snapshot_put(struct metrics *m, struct metrics_snapshot *s)
{
	bool last;

	if (!s)
		return;
	pthread_mutex_lock(&m->lock);
	last = --s->refs == 0;
	pthread_mutex_unlock(&m->lock);
	if (last)
		snapshot_free(s);
}

/* ---- the snapshot, on lbd's loop ---- */

/* The state function names one of lbd_shown_names. */
static uint8_t state_index(const char *name)
{
	for (int i = 0; i < SHOWN_STATES; i++)
		if (name == lbd_shown_names[i])
			return (uint8_t)i;
	return SHOWN_ACTIVE;
}

static int8_t announced(const struct bgp *b, const struct lbd_vip_cfg *v)
{
	if (!b->cfg.bird_socket[0])
		return -1;
	for (size_t i = 0; i < b->n_vips; i++)
		if (b->vips[i].port == v->port && b->vips[i].proto == v->proto && lbd_addr_eq(&b->vips[i].addr, &v->addr))
			return b->vips[i].announced;
	return 0;
}

/*
 * prev: the last snapshot, whose labels are still right while the config
 * is the same and every VIP was in both (formatting them is half the cost).
 */
static void take_pairs(struct metrics_snapshot *s, const struct metrics_snapshot *prev,
		       const struct metrics_sources *src)
{
	const struct lbd_config *cfg = src->cfg;
	bool reuse = prev && prev->gen == src->gen && prev->n_vips == cfg->n_vips;

	for (size_t i = 0; i < cfg->n_vips; i++) {
		const struct lbd_vip_cfg *v = &cfg->vips[i];
		struct metrics_vip *mv = &s->vips[s->n_vips];
		const struct lbd_vip_rt *rt = lbd_dp_vip(src->dp, v, &mv->id);

		reuse &= s->n_vips == i;
		if (!rt)
			continue;
		if (reuse)
			memcpy(mv->label, prev->vips[i].label, sizeof(mv->label));
		else
			lbd_vip_format(v, mv->label, sizeof(mv->label));
		mv->announced = announced(src->bgp, v);
		for (size_t j = 0; j < v->n_backends; j++) {
			const struct lbd_backend_cfg *b = &v->backends[j];
			const struct hc_target *t = hc_find(src->hc, v, &b->addr);
			struct metrics_pair *p = &s->pairs[s->n_pairs];

			p->vip = (uint32_t)s->n_vips;
			if (reuse)
				memcpy(p->backend, prev->pairs[s->n_pairs].backend, sizeof(p->backend));
			else
				lbd_addr_format(&b->addr, p->backend, sizeof(p->backend));
			s->n_pairs++;
			p->weight = b->weight;
			p->state = state_index(src->state(src->state_ctx, v, rt, b, t));
			p->checked = t && t->check.type != CHECK_NONE;
			if (p->checked) {
				p->up = t->up;
				memcpy(p->latency_count, t->latency_count, sizeof(p->latency_count));
				p->latency_sum_us = t->latency_sum_us;
			}
		}
		s->n_vips++;
	}
}

static struct metrics_snapshot *snapshot_take(const struct metrics_snapshot *prev, const struct metrics_sources *src)
{
	const struct lbd_config *cfg = src->cfg;
	struct metrics_snapshot *s = calloc(1, sizeof(*s));
	uint64_t age_ms;
	const uint64_t *flows = lbd_dp_flows(src->dp, &age_ms);
	size_t n_pairs = 0;

	if (!s)
		return NULL;
	for (size_t i = 0; i < cfg->n_vips; i++)
		n_pairs += cfg->vips[i].n_backends;
	s->refs = 1;
	s->gen = src->gen;
	s->taken_ms = lbd_mono_ms();
	s->vips = calloc(cfg->n_vips + 1, sizeof(*s->vips));
	s->pairs = calloc(n_pairs + 1, sizeof(*s->pairs));
	s->backends = calloc(XLB_MAX_BACKENDS, sizeof(*s->backends));
	if (!s->vips || !s->pairs || !s->backends) {
		snapshot_free(s);
		return NULL;
	}
	take_pairs(s, prev, src);
	for (uint32_t id = 1; id < XLB_MAX_BACKENDS; id++) {
		const struct lbd_backend_rt *b = &src->dp->backends[id];

		if (!b->referenced)
			continue;
		s->backends[s->n_backends].id = id;
		lbd_addr_format(&b->addr, s->backends[s->n_backends].address, sizeof(s->backends[0].address));
		s->n_backends++;
		if (flows)
			s->conn_entries += flows[id];
	}
	s->flows_counted = flows != NULL;
	s->conn_capacity = src->dp->conn_table_size;
	s->cluster = src->cluster;
	for (size_t i = 0; i < src->vrrp->n; i++) {
		const struct vrrp_router *r = src->vrrp->r[i];
		struct metrics_router *mr = &s->routers[s->n_routers++];

		snprintf(mr->dev, sizeof(mr->dev), "%s", r->cfg.dev);
		mr->vrid = r->cfg.vrid;
		mr->v6 = r->cfg.family == XLB_AF_INET6;
		mr->priority = r->priority;
		mr->state = r->state;
	}
	return s;
}

void metrics_publish(struct metrics *m, const struct metrics_sources *src)
{
	struct metrics_snapshot *s, *old;

	/* Nobody scrapes a server that does not run: no snapshot to take either. */
	if (!m->mhd)
		return;
	/* Only this thread replaces m->snap: reading it needs no lock. */
	s = snapshot_take(m->snap, src);
	if (!s) {
		lbd_warn("metrics: out of memory for a snapshot: scrapes see the last one");
		return;
	}
	pthread_mutex_lock(&m->lock);
	old = m->snap;
	m->snap = s;
	pthread_mutex_unlock(&m->lock);
	snapshot_put(m, old);
}

/* ---- rendering, on the HTTP thread ---- */

/* A label value as the text format wants it: backslash, quote and newline escaped. */
static void label(FILE *f, const char *name, const char *value)
{
	fprintf(f, "%s=\"", name);
	for (const char *c = value; *c; c++) {
		if (*c == '\\' || *c == '"')
			fputc('\\', f);
		if (*c == '\n')
			fputs("\\n", f);
		else
			fputc(*c, f);
	}
	fputc('"', f);
}

static void family(FILE *f, const char *name, const char *type, const char *help)
{
	fprintf(f, "# HELP %s %s\n# TYPE %s %s\n", name, help, name, type);
}

static void render_verdicts(FILE *f, const uint64_t *all)
{
	family(f, "xlb_received_packets_total", "counter", "Frames the XDP program saw.");
	fprintf(f, "xlb_received_packets_total %llu\n", (unsigned long long)all[XLB_STAT_RX]);
	family(f, "xlb_packets_total", "counter", "Frames by the XDP program's verdict; each frame has exactly one.");
	for (int s = XLB_STAT_RX + 1; s < XLB_STAT_MAX; s++) {
		if (!is_verdict(s))
			continue;
		fputs("xlb_packets_total{", f);
		label(f, "verdict", xlb_stat_name(s));
		fprintf(f, "} %llu\n", (unsigned long long)all[s]);
	}
	family(f, "xlb_datapath_events_total", "counter",
	       "What the XDP program noted beside its verdicts: connection table hits and misses, ...");
	for (int s = XLB_STAT_RX + 1; s < XLB_STAT_MAX; s++) {
		if (is_verdict(s))
			continue;
		fputs("xlb_datapath_events_total{", f);
		label(f, "event", xlb_stat_name(s));
		fprintf(f, "} %llu\n", (unsigned long long)all[s]);
	}
}

/* Packets, bytes and new flows of each VIP or backend: three families of one kind of row. */
static void render_traffic(FILE *f, const char *who, const char *key, size_t n, const char *(*row)(const void *, size_t, uint32_t *),
			   const void *rows, const struct xlb_traffic *traffic)
{
	static const char *const what[] = { "packets", "bytes", "new_flows" };
	static const char *const help[] = { "Packets the XDP program sent to", "Bytes of the packets sent to",
					    "Flows the XDP program placed anew (no connection table entry) on" };

	for (int k = 0; k < 3; k++) {
		char name[64], h[128];

		snprintf(name, sizeof(name), "xlb_%s_%s_total", who, what[k]);
		snprintf(h, sizeof(h), "%s this %s.", help[k], who);
		family(f, name, "counter", h);
		for (size_t i = 0; i < n; i++) {
			uint32_t id;
			const char *l = row(rows, i, &id);
			const struct xlb_traffic *t = &traffic[id];

			fprintf(f, "%s{", name);
			label(f, key, l);
			fprintf(f, "} %llu\n", (unsigned long long)(k == 0 ? t->packets : k == 1 ? t->bytes : t->new_flows));
		}
	}
}

/* What each VIP's per-source limits dropped, by limit (a VIP without limits: 0). */
static void render_limits(FILE *f, int fd, const struct metrics_snapshot *s)
{
	static const char *const limit[] = { "new_flows", "packets", "denied" };

	family(f, "xlb_vip_limit_dropped_total", "counter",
	       "Packets the VIP's per-source limits and lists dropped: SYNs over the new-flow limit, packets over the "
	       "packet rate, sources the allow and deny lists keep out.");
	for (size_t i = 0; i < s->n_vips; i++) {
		struct xlb_limited d;

		xlb_limit_drops_read(fd, s->vips[i].id, &d);
		for (int k = 0; k < 3; k++) {
			fputs("xlb_vip_limit_dropped_total{", f);
			label(f, "vip", s->vips[i].label);
			fputc(',', f);
			label(f, "limit", limit[k]);
			fprintf(f, "} %llu\n", (unsigned long long)(k == 2 ? d.denied : k ? d.pps_dropped
										 : d.new_flows_dropped));
		}
	}
}

static const char *vip_row(const void *rows, size_t i, uint32_t *id)
{
	const struct metrics_vip *v = &((const struct metrics_vip *)rows)[i];

	*id = v->id;
	return v->label;
}

static const char *backend_row(const void *rows, size_t i, uint32_t *id)
{
	const struct metrics_backend *b = &((const struct metrics_backend *)rows)[i];

	*id = b->id;
	return b->address;
}

static void pair_labels(FILE *f, const struct metrics_snapshot *s, const struct metrics_pair *p)
{
	label(f, "vip", s->vips[p->vip].label);
	fputc(',', f);
	label(f, "backend", p->backend);
}

static void render_health(FILE *f, const struct metrics_snapshot *s)
{
	family(f, "xlb_backend_health_up", "gauge", "1 while the backend passes its health check at this VIP (rise/fall applied).");
	for (size_t i = 0; i < s->n_pairs; i++) {
		if (!s->pairs[i].checked)
			continue;
		fputs("xlb_backend_health_up{", f);
		pair_labels(f, s, &s->pairs[i]);
		fprintf(f, "} %d\n", s->pairs[i].up);
	}
	family(f, "xlb_backend_health_check_duration_seconds", "histogram",
	       "How long the backend's health probes took, to the result or the timeout.");
	for (size_t i = 0; i < s->n_pairs; i++) {
		const struct metrics_pair *p = &s->pairs[i];
		uint64_t below = 0;

		if (!p->checked)
			continue;
		for (int b = 0; b <= HC_LATENCY_BUCKETS; b++) {
			below += p->latency_count[b];
			fputs("xlb_backend_health_check_duration_seconds_bucket{", f);
			pair_labels(f, s, p);
			if (b < HC_LATENCY_BUCKETS)
				fprintf(f, ",le=\"%g\"} %llu\n", hc_latency_bounds_us[b] / 1e6, (unsigned long long)below);
			else
				fprintf(f, ",le=\"+Inf\"} %llu\n", (unsigned long long)below);
		}
		fputs("xlb_backend_health_check_duration_seconds_sum{", f);
		pair_labels(f, s, p);
		fprintf(f, "} %.6f\n", p->latency_sum_us / 1e6);
		fputs("xlb_backend_health_check_duration_seconds_count{", f);
		pair_labels(f, s, p);
		fprintf(f, "} %llu\n", (unsigned long long)below);
	}
}

static void render_backends(FILE *f, const struct metrics_snapshot *s)
{
	family(f, "xlb_backend_weight", "gauge", "The backend's configured weight at this VIP.");
	for (size_t i = 0; i < s->n_pairs; i++) {
		fputs("xlb_backend_weight{", f);
		pair_labels(f, s, &s->pairs[i]);
		fprintf(f, "} %u\n", s->pairs[i].weight);
	}
	family(f, "xlb_backend_state", "gauge", "1 for the backend's state at this VIP (as lbctl show says), 0 for the others.");
	for (size_t i = 0; i < s->n_pairs; i++)
		for (size_t k = 0; k < SHOWN_STATES; k++) {
			fputs("xlb_backend_state{", f);
			pair_labels(f, s, &s->pairs[i]);
			fputc(',', f);
			label(f, "state", lbd_shown_names[k]);
			fprintf(f, "} %d\n", s->pairs[i].state == k);
		}
	render_health(f, s);
}

/* Every family is named, as the others are; samples only where the node has a cluster or sync line. */
static void render_cluster(FILE *f, const struct metrics_cluster *c)
{
	static const char *const rejected[] = { "bad_auth", "malformed", "oversized", "replayed", "stale",
						"unknown_peer", "unplaced" };
	static const char *const dropped[] = { "queue", "rate", "send_error" };

	family(f, "xlb_cluster_etcd_up", "gauge", "1 while etcd answers this node (only with a cluster line).");
	if (c->on)
		fprintf(f, "xlb_cluster_etcd_up %d\n", c->etcd_up);
	family(f, "xlb_cluster_config_stale", "gauge",
	       "1 while the cluster's configuration in force may be behind etcd's (etcd does not answer).");
	if (c->on)
		fprintf(f, "xlb_cluster_config_stale %d\n", c->stale);
	family(f, "xlb_cluster_config_revision", "gauge", "etcd's revision of the cluster's configuration in force.");
	if (c->on)
		fprintf(f, "xlb_cluster_config_revision %lld\n", (long long)c->revision);
	family(f, "xlb_cluster_refused_revisions_total", "counter",
	       "Revisions of the cluster's configuration refused (they did not parse or apply).");
	if (c->on)
		fprintf(f, "xlb_cluster_refused_revisions_total %llu\n", (unsigned long long)c->refused);
	family(f, "xlb_sync_joined", "gauge", "1 once the peers' flows are in or the wait ended (only with a sync line).");
	if (c->sync_on)
		fprintf(f, "xlb_sync_joined %d\n", c->joined);
	family(f, "xlb_sync_flows_sent_total", "counter", "Flows sent to peers, each peer counted.");
	if (c->sync_on)
		fprintf(f, "xlb_sync_flows_sent_total %llu\n", (unsigned long long)c->sent_flows);
	family(f, "xlb_sync_flows_installed_total", "counter", "Peers' flows installed in this node's tables.");
	if (c->sync_on)
		fprintf(f, "xlb_sync_flows_installed_total %llu\n", (unsigned long long)c->installed);
	family(f, "xlb_sync_rejected_total", "counter", "Sync messages or flows refused, by reason.");
	for (size_t i = 0; c->sync_on && i < sizeof(rejected) / sizeof(rejected[0]); i++)
		fprintf(f, "xlb_sync_rejected_total{reason=\"%s\"} %llu\n", rejected[i],
			(unsigned long long)c->rejected[i]);
	family(f, "xlb_sync_dropped_total", "counter", "Flows or messages not sent to peers, by reason.");
	for (size_t i = 0; c->sync_on && i < sizeof(dropped) / sizeof(dropped[0]); i++)
		fprintf(f, "xlb_sync_dropped_total{reason=\"%s\"} %llu\n", dropped[i],
			(unsigned long long)c->dropped[i]);
}

static void render_routers(FILE *f, const struct metrics_snapshot *s)
{
	static const enum vrrp_state states[] = { VRRP_INIT, VRRP_BACKUP, VRRP_MASTER };

	family(f, "xlb_vrrp_state", "gauge", "1 for the VRRP router's state, 0 for the others.");
	for (size_t i = 0; i < s->n_routers; i++)
		for (size_t k = 0; k < sizeof(states) / sizeof(states[0]); k++) {
			const struct metrics_router *r = &s->routers[i];

			fputs("xlb_vrrp_state{", f);
			label(f, "dev", r->dev);
			fprintf(f, ",vrid=\"%u\",family=\"%s\",", r->vrid, r->v6 ? "ipv6" : "ipv4");
			label(f, "state", vrrp_state_name(states[k]));
			fprintf(f, "} %d\n", r->state == states[k]);
		}
	family(f, "xlb_vrrp_priority", "gauge", "The priority the VRRP router advertises now (lower while this node cannot balance).");
	for (size_t i = 0; i < s->n_routers; i++) {
		const struct metrics_router *r = &s->routers[i];

		fputs("xlb_vrrp_priority{", f);
		label(f, "dev", r->dev);
		fprintf(f, ",vrid=\"%u\",family=\"%s\"} %u\n", r->vrid, r->v6 ? "ipv6" : "ipv4", r->priority);
	}
	family(f, "xlb_bgp_announced", "gauge", "1 while this node announces the VIP to BIRD (only with bgp configured).");
	for (size_t i = 0; i < s->n_vips; i++) {
		if (s->vips[i].announced < 0)
			continue;
		fputs("xlb_bgp_announced{", f);
		label(f, "vip", s->vips[i].label);
		fprintf(f, "} %d\n", s->vips[i].announced);
	}
}

void metrics_render(struct metrics *m, FILE *f)
{
	static const struct metrics_snapshot empty = { 0 };
	struct metrics_snapshot *held = snapshot_get(m);
	const struct metrics_snapshot *s = held ? held : &empty;
	struct xlb_traffic *vt = calloc(XLB_MAX_VIPS, sizeof(*vt));
	struct xlb_traffic *bt = calloc(XLB_MAX_BACKENDS, sizeof(*bt));
	uint64_t all[XLB_STAT_MAX] = { 0 };

	/* A counter that cannot be read is shown as 0: the scrape still says everything else. */
	if (vt && bt) {
		xlb_stats_read_all(&m->fds, all);
		if (xlb_traffic_read_all(m->fds.vip_stats, XLB_MAX_VIPS, vt))
			memset(vt, 0, XLB_MAX_VIPS * sizeof(*vt));
		if (xlb_traffic_read_all(m->fds.backend_stats, XLB_MAX_BACKENDS, bt))
			memset(bt, 0, XLB_MAX_BACKENDS * sizeof(*bt));
		family(f, "xlb_build_info", "gauge", "Always 1; the version of lbd in a label.");
		fputs("xlb_build_info{", f);
		label(f, "version", XLB_VERSION);
		fputs("} 1\n", f);
		render_verdicts(f, all);
		render_traffic(f, "vip", "vip", s->n_vips, vip_row, s->vips, vt);
		render_limits(f, m->fds.vip_limit_stats, s);
		render_traffic(f, "backend", "backend", s->n_backends, backend_row, s->backends, bt);
		render_backends(f, s);
		family(f, "xlb_conn_table_capacity", "gauge", "Flows the connection table holds at most.");
		fprintf(f, "xlb_conn_table_capacity %u\n", s->conn_capacity);
		family(f, "xlb_conn_table_entries", "gauge",
		       "Live flows in the connection table, as the last sweep pass counted them (every 5 s).");
		if (s->flows_counted)
			fprintf(f, "xlb_conn_table_entries %llu\n", (unsigned long long)s->conn_entries);
		render_routers(f, s);
		render_cluster(f, &s->cluster);
		family(f, "xlb_metrics_snapshot_age_seconds", "gauge",
		       "How old lbd's snapshot of labels and states is: lbd publishes one a second.");
		fprintf(f, "xlb_metrics_snapshot_age_seconds %.3f\n",
			held ? (lbd_mono_ms() - s->taken_ms) / 1000.0 : 0.0);
	}
	free(vt);
	free(bt);
	snapshot_put(m, held);
}

/* ---- the server ---- */

static enum MHD_Result answer(void *cls, struct MHD_Connection *c, const char *url, const char *method,
			      const char *version, const char *upload, size_t *upload_len, void **req)
{
	static const char not_found[] = "lbd serves Prometheus metrics at /metrics\n";
	static const char get_only[] = "lbd's metrics are read with GET /metrics\n";
	struct metrics *m = cls;
	struct MHD_Response *r;
	enum MHD_Result ret;
	unsigned status = MHD_HTTP_OK;
	char *text = NULL;
	size_t len = 0;
	FILE *f;

	(void)version, (void)upload, (void)upload_len, (void)req;
	if (strcmp(method, MHD_HTTP_METHOD_GET) && strcmp(method, MHD_HTTP_METHOD_HEAD)) {
		r = MHD_create_response_from_buffer(sizeof(get_only) - 1, (void *)get_only, MHD_RESPMEM_PERSISTENT);
		status = MHD_HTTP_METHOD_NOT_ALLOWED;
		if (r)
			MHD_add_response_header(r, MHD_HTTP_HEADER_ALLOW, "GET, HEAD");
	} else if (strcmp(url, "/metrics")) {
		r = MHD_create_response_from_buffer(sizeof(not_found) - 1, (void *)not_found, MHD_RESPMEM_PERSISTENT);
		status = MHD_HTTP_NOT_FOUND;
	} else {
		f = open_memstream(&text, &len);
		if (!f)
			return MHD_NO;
		metrics_render(m, f);
		if (fclose(f)) {
			free(text);
			return MHD_NO;
		}
		r = MHD_create_response_from_buffer(len, text, MHD_RESPMEM_MUST_FREE);
		if (r)
			MHD_add_response_header(r, MHD_HTTP_HEADER_CONTENT_TYPE, "text/plain; version=0.0.4; charset=utf-8");
		else
			free(text);
	}
	if (!r)
		return MHD_NO;
	ret = MHD_queue_response(c, status, r);
	MHD_destroy_response(r);
	return ret;
}

/* A listening socket at cfg, or -errno with err saying why and what to do. */
static int listen_at(const struct lbd_metrics_cfg *cfg, char *err, size_t len)
{
	struct sockaddr_storage ss = { 0 };
	socklen_t sl;
	char where[INET6_ADDRSTRLEN + 8];
	int one = 1, fd, ret;

	lbd_metrics_format(cfg, where, sizeof(where));
	if (cfg->addr.family == XLB_AF_INET) {
		struct sockaddr_in *sin = (struct sockaddr_in *)&ss;

		sin->sin_family = AF_INET;
		sin->sin_port = htons(cfg->port);
		memcpy(&sin->sin_addr, cfg->addr.a, 4);
		sl = sizeof(*sin);
	} else {
		struct sockaddr_in6 *sin6 = (struct sockaddr_in6 *)&ss;

		sin6->sin6_family = AF_INET6;
		sin6->sin6_port = htons(cfg->port);
		memcpy(&sin6->sin6_addr, cfg->addr.a, 16);
		sl = sizeof(*sin6);
	}
	fd = socket(ss.ss_family, SOCK_STREAM | SOCK_CLOEXEC, 0);
	if (fd < 0)
		return -errno;
	setsockopt(fd, SOL_SOCKET, SO_REUSEADDR, &one, sizeof(one));
	if (ss.ss_family == AF_INET6)
		setsockopt(fd, IPPROTO_IPV6, IPV6_V6ONLY, &one, sizeof(one));
	if (bind(fd, (struct sockaddr *)&ss, sl) || listen(fd, 64)) {
		ret = -errno;
		close(fd);
		snprintf(err, len, "metrics cannot listen on %s: %s%s", where, strerror(-ret),
			 ret == -EADDRINUSE ? ": something listens there already; choose another port" :
			 ret == -EADDRNOTAVAIL ? ": no interface has that address" :
			 ret == -EACCES ? ": a port under 1024 needs CAP_NET_BIND_SERVICE" : "");
		return ret;
	}
	return fd;
}

/* A server the loop let go of: its listening socket is shut, the reaper stops it. */
struct metrics_retired {
	struct MHD_Daemon *mhd;
	int listen_fd;		/* MHD's no more; closed once mhd has stopped (-1: none) */
	struct metrics_retired *next;
};

static void retired_stop(struct metrics_retired *r)
{
	/* Waits for the scrape the server's thread renders and for that thread. */
	MHD_stop_daemon(r->mhd);
	if (r->listen_fd >= 0)
		close(r->listen_fd);
	free(r);
}

/*
 * The reaper: stops the servers the loop retired, one after the other,
 * until metrics_free says closing and none is left. A scrape a retired
 * server renders still reads m (its lock, snapshot and maps), which
 * outlives the reaper.
 */
static void *reap(void *arg)
{
	struct metrics *m = arg;
	struct metrics_retired *r;

	pthread_mutex_lock(&m->lock);
	for (;;) {
		r = m->retired;
		if (!r && m->closing)
			break;
		if (!r) {
			pthread_cond_wait(&m->retire, &m->lock);
			continue;
		}
		m->retired = r->next;
		pthread_mutex_unlock(&m->lock);
		retired_stop(r);
		pthread_mutex_lock(&m->lock);
	}
	pthread_mutex_unlock(&m->lock);
	return NULL;
}

int metrics_init(struct metrics *m, const struct xlb_map_fds *fds)
{
	int ret;

	memset(m, 0, sizeof(*m));
	pthread_mutex_init(&m->lock, NULL);
	pthread_cond_init(&m->retire, NULL);
	m->fds.stats = fcntl(fds->stats, F_DUPFD_CLOEXEC, 3);
	m->fds.vip_stats = fcntl(fds->vip_stats, F_DUPFD_CLOEXEC, 3);
	m->fds.backend_stats = fcntl(fds->backend_stats, F_DUPFD_CLOEXEC, 3);
	/* Each map the scrape thread reads is its own copy: fds not copied here are 0, stdin. */
	m->fds.vip_limit_stats = fcntl(fds->vip_limit_stats, F_DUPFD_CLOEXEC, 3);
	if (m->fds.stats < 0 || m->fds.vip_stats < 0 || m->fds.backend_stats < 0 || m->fds.vip_limit_stats < 0)
		return -errno;
	ret = pthread_create(&m->reaper, NULL, reap, m);
	if (ret) {
		errno = ret;
		return -ret;
	}
	return 0;
}

/*
 * Never waits: the server stops accepting at once (its socket is shut, so
 * the address is free for the next server and a new client is refused),
 * and the reaper stops it, however long the scrape it renders takes.
 */
static void stop(struct metrics *m)
{
	struct metrics_retired *r, **tail;

	if (m->mhd) {
		r = malloc(sizeof(*r));
		if (r) {
			*r = (struct metrics_retired){ .mhd = m->mhd, .listen_fd = MHD_quiesce_daemon(m->mhd) };
			/* Closed only after MHD_stop_daemon: MHD's thread may still hold the number. */
			if (r->listen_fd >= 0)
				shutdown(r->listen_fd, SHUT_RDWR);
			pthread_mutex_lock(&m->lock);
			for (tail = &m->retired; *tail; tail = &(*tail)->next)
				;
			*tail = r;
			pthread_cond_signal(&m->retire);
			pthread_mutex_unlock(&m->lock);
		} else {
			lbd_warn("metrics: out of memory: the server is stopped on the loop");
			MHD_stop_daemon(m->mhd);
		}
		m->mhd = NULL;
	}
	memset(&m->serving, 0, sizeof(m->serving));
	snapshot_put(m, m->snap);
	m->snap = NULL;
}

void metrics_free(struct metrics *m)
{
	stop(m);
	pthread_mutex_lock(&m->lock);
	m->closing = true;
	pthread_cond_signal(&m->retire);
	pthread_mutex_unlock(&m->lock);
	pthread_join(m->reaper, NULL);
	close(m->fds.stats);
	close(m->fds.vip_stats);
	close(m->fds.backend_stats);
	close(m->fds.vip_limit_stats);
	pthread_cond_destroy(&m->retire);
	pthread_mutex_destroy(&m->lock);
}

static bool same_place(const struct lbd_metrics_cfg *a, const struct lbd_metrics_cfg *b)
{
	return a->port == b->port && (!a->port || lbd_addr_eq(&a->addr, &b->addr));
}

int metrics_check(const struct metrics *m, const struct lbd_metrics_cfg *running, const struct lbd_metrics_cfg *next,
		  char *err, size_t len)
{
	int fd;

	if (!next->port || same_place(running, next) || (m->mhd && same_place(&m->serving, next)))
		return 0;
	fd = listen_at(next, err, len);
	if (fd < 0)
		return fd;
	close(fd);
	return 0;
}

void metrics_apply(struct metrics *m, const struct lbd_metrics_cfg *cfg)
{
	char where[INET6_ADDRSTRLEN + 8], last[LBD_ERR_LEN];
	int fd;

	if ((m->mhd || !cfg->port) && same_place(&m->serving, cfg))
		return;
	stop(m);
	snprintf(last, sizeof(last), "%s", m->error);
	m->error[0] = 0;
	if (!cfg->port)
		return;
	lbd_metrics_format(cfg, where, sizeof(where));
	fd = listen_at(cfg, m->error, sizeof(m->error));
	if (fd < 0) {
		if (strcmp(last, m->error))
			lbd_err("%s; lbd runs on without serving metrics", m->error);
		return;
	}
	/* MHD_USE_ITC: stop() quiesces it. */
	m->mhd = MHD_start_daemon(MHD_USE_AUTO_INTERNAL_THREAD | MHD_USE_ITC, 0, NULL, NULL, answer, m,
				  MHD_OPTION_LISTEN_SOCKET, fd,
				  MHD_OPTION_CONNECTION_LIMIT, (unsigned)METRICS_MAX_CONNECTIONS,
				  MHD_OPTION_CONNECTION_TIMEOUT, (unsigned)METRICS_CONN_TIMEOUT_S,
				  MHD_OPTION_END);
	if (!m->mhd) {
		close(fd);
		snprintf(m->error, sizeof(m->error), "metrics cannot start its HTTP server on %s", where);
		lbd_err("%s; lbd runs on without serving metrics", m->error);
		return;
	}
	m->serving = *cfg;
	lbd_info("metrics: serving Prometheus metrics at http://%s/metrics", where);
}

void metrics_show(struct metrics *m, const struct lbd_metrics_cfg *cfg, struct out *o)
{
	char where[INET6_ADDRSTRLEN + 8] = "";
	uint64_t scrapes;

	pthread_mutex_lock(&m->lock);
	scrapes = m->scrapes;
	pthread_mutex_unlock(&m->lock);
	if (cfg->port)
		lbd_metrics_format(cfg, where, sizeof(where));
	out_obj_begin(o, NULL);
	out_str(o, "listen", where);
	out_bool(o, "serving", m->mhd != NULL);
	out_str(o, "error", m->error);
	out_u64(o, "scrapes", scrapes);
	out_obj_end(o);
	if (!cfg->port)
		out_text(o, "metrics: off: lbctl metrics set --listen ADDR:PORT\n");
	else if (m->mhd)
		out_text(o, "metrics: serving http://%s/metrics, %llu scrapes\n", where, (unsigned long long)scrapes);
	else
		out_text(o, "metrics: not serving %s: %s\n", where, m->error);
}
