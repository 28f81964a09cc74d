// SPDX-License-Identifier: GPL-2.0
#define _GNU_SOURCE
#include "sync.h"

#include <arpa/inet.h>
#include <bpf/bpf.h>
#include <bpf/libbpf.h>
#include <endian.h>
#include <errno.h>
#include <fcntl.h>
#include <openssl/crypto.h>
#include <openssl/evp.h>
#include <openssl/hmac.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/epoll.h>
#include <sys/stat.h>
#include <unistd.h>

#include "lbd.h"
#include "log.h"
#include "out.h"

static void sockaddr_of(const struct lbd_addr *a, uint16_t port, struct sockaddr_storage *ss, socklen_t *len)
{
	memset(ss, 0, sizeof(*ss));
	if (a->family == XLB_AF_INET) {
		struct sockaddr_in *sin = (struct sockaddr_in *)ss;

		sin->sin_family = AF_INET;
		sin->sin_port = htons(port);
		memcpy(&sin->sin_addr, a->a, 4);
		*len = sizeof(*sin);
	} else {
		struct sockaddr_in6 *sin6 = (struct sockaddr_in6 *)ss;

		sin6->sin6_family = AF_INET6;
		sin6->sin6_port = htons(port);
		memcpy(&sin6->sin6_addr, a->a, 16);
		*len = sizeof(*sin6);
	}
}

size_t sync_build(const uint8_t *key, size_t key_len, enum sync_type type, uint64_t seq, uint64_t time_ms,
		  const struct sync_entry *entries, size_t n, uint8_t *buf)
{
	struct sync_hdr h = { .version = SYNC_VERSION, .type = (uint8_t)type, .count = htons((uint16_t)n),
			      .seq = htobe64(seq), .time_ms = htobe64(time_ms) };
	size_t len = sizeof(h) + n * sizeof(*entries);
	unsigned int mac_len = SYNC_MAC_LEN;

	memcpy(h.magic, SYNC_MAGIC, 4);
	memcpy(buf, &h, sizeof(h));
	memcpy(buf + sizeof(h), entries, n * sizeof(*entries));
	HMAC(EVP_sha256(), key, (int)key_len, buf, len, buf + len, &mac_len);
	return len + SYNC_MAC_LEN;
}

/* Rate limit: true and the peer's budget taken when a message may go to it now. */
static bool may_send(struct sync_peer *p, uint64_t now_us)
{
	/* A message a 1/SYNC_RATE s; up to a second's worth saved for a burst. */
	uint64_t step_us = 1000000 / SYNC_RATE;

	if (p->next_send_us + 1000000 < now_us)
		p->next_send_us = now_us - 1000000;
	if (p->next_send_us > now_us)
		return false;
	p->next_send_us += step_us;
	return true;
}

static bool send_to(struct sync *s, struct sync_peer *p, enum sync_type type, const struct sync_entry *e, size_t n)
{
	uint8_t buf[SYNC_MAX_MSG];
	size_t len;

	if (!may_send(p, lbd_mono_us())) {
		s->rate_drops += n ? n : 1;
		return false;
	}
	/* Wall-clock µs, one up at least: a restarted node starts above all it sent before. */
	uint64_t now_us = lbd_clock_us(CLOCK_REALTIME);

	s->seq = s->seq + 1 > now_us ? s->seq + 1 : now_us;
	len = sync_build(s->key, s->key_len, type, s->seq, now_us / 1000, e, n, buf);
	if (sendto(s->fd, buf, len, MSG_DONTWAIT, (struct sockaddr *)&p->sa, p->sa_len) != (ssize_t)len) {
		if (!s->send_errors++)
			lbd_warn("sync: cannot send to %s: %s (counted from now on)", p->name, strerror(errno));
		return false;
	}
	p->sent_msgs++;
	p->sent_flows += n;
	p->last_tx_ms = lbd_wall_ms();
	return true;
}

/* What is queued, in batches, to every peer. */
static void flush(struct sync *s)
{
	for (size_t at = 0; at < s->queued; at += SYNC_BATCH) {
		size_t n = s->queued - at < SYNC_BATCH ? s->queued - at : SYNC_BATCH;

		for (size_t i = 0; i < s->n_peers; i++)
			send_to(s, &s->peers[i], SYNC_FLOWS, s->queue + at, n);
	}
	s->queued = 0;
}

static bool entry_of(const struct lbd_dp *dp, const struct xlb_flow_key *flow, uint32_t backend_id,
		     struct sync_entry *e)
{
	const struct lbd_backend_rt *be;

	if (!backend_id || backend_id >= XLB_MAX_BACKENDS)
		return false;
	be = &dp->backends[backend_id];
	if (!be->addr.family)
		return false;
	memset(e, 0, sizeof(*e));
	e->flow = *flow;
	memcpy(e->backend, be->addr.a, sizeof(e->backend));
	e->family = be->addr.family;
	return true;
}

static int on_shared(void *ctx, void *data, size_t size)
{
	struct sync *s = ctx;
	const struct xlb_shared *r = data;

	if (size < sizeof(*r))
		return 0;
	if (s->queued == SYNC_QUEUE) {
		s->queue_drops++;
		return 0;
	}
	if (entry_of(&s->d->dp, &r->flow, XLB_CONN_ID(r->backend_id), &s->queue[s->queued]))
		s->queued++;
	return 0;
}

static void on_ring(void *ctx, struct lbd_source *src, uint32_t events)
{
	struct sync *s = ctx;

	(void)src;
	(void)events;
	ring_buffer__consume(s->ring);
	/* At once: ECMP may move the flow to a peer at its next packet. */
	flush(s);
}

static struct sync_peer *peer_of(struct sync *s, const struct sockaddr_storage *from, socklen_t len)
{
	for (size_t i = 0; i < s->n_peers; i++) {
		struct sync_peer *p = &s->peers[i];

		if (p->sa_len == len && !memcmp(&p->sa, from, len))
			return p;
	}
	return NULL;
}

/* The VIP a flow is to: its port's, else the address's every-port VIP. */
static const struct lbd_vip_cfg *vip_of(const struct lbd_config *cfg, const struct xlb_flow_key *flow)
{
	struct lbd_vip_cfg key = { .addr = { .family = flow->family }, .port = ntohs(flow->dport),
				   .proto = flow->proto };
	const struct lbd_vip_cfg *v;

	memcpy(key.addr.a, flow->dst, sizeof(key.addr.a));
	v = lbd_vip_find(cfg, &key);
	if (!v) {
		key.port = 0;
		v = lbd_vip_find(cfg, &key);
	}
	return v;
}

/* A peer's flow into our tables, unless we know it already (our own pick stays). */
static void install(struct sync *s, struct sync_peer *p, const struct sync_entry *e)
{
	struct lbd *d = s->d;
	const struct lbd_vip_cfg *v;
	struct lbd_addr addr = { .family = e->family };
	struct xlb_conn conn = { 0 };
	uint32_t id;
	int fd, ret;

	p->received_flows++;
	if (e->family != XLB_AF_INET && e->family != XLB_AF_INET6) {
		s->rx_malformed++;
		p->rejected++;
		return;
	}
	memcpy(addr.a, e->backend, sizeof(addr.a));
	v = vip_of(&d->cfg, &e->flow);
	id = v && lbd_backend_find(v, &addr) ? lbd_dp_backend_id(&d->dp, &addr) : 0;
	if (!id) {
		s->rx_unplaced++;
		p->rejected++;
		return;
	}
	conn.backend_id = id;
	conn.created_ns = lbd_mono_us() * 1000;
	conn.seen = lbd_dp_seen_now();
	/* Where this node's program looks: per-flow VIPs in conn_map, moved slots in moved_map first. */
	bool per_flow = v->sched != LBD_SCHED_MAGLEV && v->sched != LBD_SCHED_MAGLEV_SRC;

	fd = per_flow || v->persist_ms ? d->dp.fds.conn : d->dp.fds.moved;
	ret = bpf_map_update_elem(fd, &e->flow, &conn, BPF_NOEXIST);
	if (ret && errno == E2BIG && fd == d->dp.fds.moved) {
		fd = d->dp.fds.conn;
		ret = bpf_map_update_elem(fd, &e->flow, &conn, BPF_NOEXIST);
	}
	if (!ret) {
		p->installed++;
		lbd_dp_table_written(&d->dp, fd);
		if (fd == d->dp.fds.moved && lbd_dp_mark_for_peer(&d->dp, v, &e->flow, id))
			s->marked++;
	} else if (errno == EEXIST) {
		struct xlb_conn have;

		s->rx_known++;
		/* The peer still sees its packets (sync_flow_live()): alive here too, if it is the same pick. */
		if (!bpf_map_lookup_elem(fd, &e->flow, &have) && XLB_CONN_ID(have.backend_id) == id &&
		    have.seen != conn.seen) {
			have.seen = conn.seen;
			bpf_map_update_elem(fd, &e->flow, &have, BPF_EXIST);
		}
	} else {
		p->rejected++;
	}
}

void sync_flow_live(void *ctx, const struct xlb_flow_key *flow, const struct xlb_conn *conn)
{
	struct sync *s = ctx;
	uint64_t now_ns = lbd_mono_us() * 1000, half_ns = (uint64_t)s->d->cfg.conn_timeout * 500000000ull;
	uint32_t now = lbd_dp_seen_now();

	/*
	 * A peer's copy is never refreshed by packets (they come here): sent
	 * again while it lives, once in each half conn-timeout of its age
	 * (a window of SYNC_REFRESH_WINDOW_S, longer than a sweep pass).
	 */
	if (s->fd < 0 || now - conn->seen > 2 || now_ns < conn->created_ns + half_ns ||
	    (now_ns - conn->created_ns) % half_ns >= SYNC_REFRESH_WINDOW_S * 1000000000ull)
		return;
	if (s->queued == SYNC_QUEUE) {
		s->queue_drops++;
		return;
	}
	if (entry_of(&s->d->dp, flow, XLB_CONN_ID(conn->backend_id), &s->queue[s->queued])) {
		s->queued++;
		s->refreshed++;
	}
}

/* The walk from moved_map's start, for walk_peer; a batch in hand is dropped. */
static void walk_begin(struct sync *s)
{
	if (s->dump_in && s->dump_reader.running)
		sweep_reader_done(&s->dump_reader);
	s->dump_in = NULL;
	s->dump_at = 0;
	s->walk_ended = false;
	if (s->dump_reader.running)
		sweep_reader_begin(&s->dump_reader, SWEEP_BOTH);
	else
		sweep_walk_begin(&s->dump_walk, SWEEP_BOTH);
}

/* A peer asking again while its dump is under way (it restarted) gets it from the start. */
static void dump_begin(struct sync *s, struct sync_peer *p)
{
	p->dumping = true;
	p->dump_n = 0;
	if (s->walk_peer == p)
		walk_begin(s);
}

static void receive_one(struct sync *s, const uint8_t *buf, size_t len, const struct sockaddr_storage *from,
			socklen_t from_len)
{
	struct sync_peer *p = peer_of(s, from, from_len);
	uint8_t mac[SYNC_MAC_LEN];
	unsigned int mac_len = sizeof(mac);
	struct sync_hdr h;
	size_t n, body;
	uint64_t seq, t, now = lbd_wall_ms();

	if (!p) {
		s->rx_unknown_peer++;
		return;
	}
	if (len > SYNC_MAX_MSG) {
		s->rx_oversized++;
		p->rejected++;
		return;
	}
	if (len < sizeof(h) + SYNC_MAC_LEN) {
		s->rx_malformed++;
		p->rejected++;
		return;
	}
	body = len - SYNC_MAC_LEN;
	HMAC(EVP_sha256(), s->key, (int)s->key_len, buf, body, mac, &mac_len);
	if (CRYPTO_memcmp(mac, buf + body, SYNC_MAC_LEN)) {
		s->rx_bad_auth++;
		p->rejected++;
		return;
	}
	memcpy(&h, buf, sizeof(h));
	n = ntohs(h.count);
	if (memcmp(h.magic, SYNC_MAGIC, 4) || h.version != SYNC_VERSION || n > SYNC_BATCH ||
	    body != sizeof(h) + n * sizeof(struct sync_entry) || h.type < SYNC_FLOWS || h.type > SYNC_DUMP_END) {
		s->rx_malformed++;
		p->rejected++;
		return;
	}
	seq = be64toh(h.seq);
	t = be64toh(h.time_ms);
	if (t + SYNC_MAX_AGE_MS < now || t > now + SYNC_MAX_AGE_MS) {
		s->rx_stale++;
		p->rejected++;
		return;
	}
	if (seq <= p->highest_seq) {
		s->rx_replayed++;
		p->rejected++;
		return;
	}
	p->highest_seq = seq;
	p->last_rx_ms = now;
	switch (h.type) {
	case SYNC_FLOWS:
		for (size_t i = 0; i < n; i++) {
			struct sync_entry e;

			memcpy(&e, buf + sizeof(h) + i * sizeof(e), sizeof(e));
			install(s, p, &e);
		}
		break;
	case SYNC_DUMP_REQUEST:
		dump_begin(s, p);
		break;
	case SYNC_DUMP_END:
		p->answered = true;
		break;
	}
}

static void on_socket(void *ctx, struct lbd_source *src, uint32_t events)
{
	struct sync *s = ctx;

	(void)src;
	(void)events;
	/* A bounded batch a pass: a flood of messages must not hold the loop. */
	for (int i = 0; i < 256; i++) {
		uint8_t buf[SYNC_MAX_MSG + 1];
		struct sockaddr_storage from;
		socklen_t from_len = sizeof(from);
		ssize_t r = recvfrom(s->fd, buf, sizeof(buf), MSG_DONTWAIT | MSG_TRUNC, (struct sockaddr *)&from,
				     &from_len);

		if (r < 0)
			break;
		receive_one(s, buf, (size_t)r, &from, from_len);
	}
}

/* The dump's batch in hand goes when the peer's rate allows; true once it went (or there was none). */
static bool dump_flush(struct sync *s, struct sync_peer *p)
{
	if (!p->dump_n)
		return true;
	if (p->next_send_us > lbd_mono_us())
		return false;
	send_to(s, p, SYNC_FLOWS, p->dump_batch, p->dump_n);
	p->dump_n = 0;
	return true;
}

/*
 * A piece of a peer's dump, SYNC_DUMP_BUDGET entries a tick at most,
 * paced by its rate, then the end: moved_map's flows, then conn_map's.
 * conn_map's too, though the ring places most of them: the joiner's own
 * marks may differ from this node's (each node unmarks a slot once none
 * of the flows it knows needs the mark), and a slot it still has marked
 * with another previous backend would send this node's flows there
 * (CI's vrrp_failover_downloads_intact); flows of per-flow VIPs live
 * there only. The entries are the batch read's: a flow that changed since
 * is sent as it was, as one read a moment earlier would have been.
 */
static void dump_step(struct sync *s, struct sync_peer *p)
{
	int handled = 0;

	while (handled < SYNC_DUMP_BUDGET) {
		struct sweep_batch *b;

		if (p->dump_n == SYNC_BATCH && !dump_flush(s, p))
			return;	/* the rest at the next tick: a dump must not lose to the rate limit */
		if (s->walk_ended) {
			if (!dump_flush(s, p) || p->next_send_us > lbd_mono_us())
				return;
			send_to(s, p, SYNC_DUMP_END, NULL, 0);
			p->dumping = false;
			s->walk_peer = NULL;
			return;
		}
		if (!s->dump_in) {
			s->dump_in = sweep_reader_next(&s->dump_reader, &s->dump_walk, s->dump_fds, &s->dump_own);
			s->dump_at = 0;
			if (!s->dump_in)
				return;
		}
		b = s->dump_in;
		if (s->dump_at < b->count) {
			uint32_t i = s->dump_at++;

			handled++;
			if (entry_of(&s->d->dp, &b->keys[i], XLB_CONN_ID(b->vals[i].backend_id),
				     &p->dump_batch[p->dump_n]))
				p->dump_n++;
			continue;
		}
		if (b->error)
			lbd_warn("sync: the dump for %s ends early, at a read of %s: %s; it has what was read before",
				 p->name, b->table ? "conn_map" : "moved_map", strerror(-b->error));
		s->walk_ended = b->last;
		if (s->dump_reader.running)
			sweep_reader_done(&s->dump_reader);
		s->dump_in = NULL;
	}
}

/*
 * The peers are asked for their flows once this node has its VIPs: a flow
 * of a VIP not known yet would be refused (rx_unplaced) and lost. A
 * cluster node waits for etcd's revision or its cache, for the join's
 * time at most; the join's time runs from the asking.
 */
static void join_ask(struct sync *s)
{
	const struct lbd *d = s->d;

	if (s->asked)
		return;
	if (cluster_on(&d->cfg) && !d->cluster.revision && !d->cluster.absent &&
	    lbd_mono_ms() < s->join_deadline_ms)
		return;
	s->asked = true;
	s->join_deadline_ms = lbd_mono_ms() + SYNC_JOIN_MS;
	for (size_t i = 0; i < s->n_peers; i++)
		send_to(s, &s->peers[i], SYNC_DUMP_REQUEST, NULL, 0);
}

static void join_check(struct sync *s)
{
	size_t answered = 0;

	if (s->joined)
		return;
	join_ask(s);
	if (!s->asked)
		return;
	for (size_t i = 0; i < s->n_peers; i++)
		answered += s->peers[i].answered;
	if (answered < s->n_peers && lbd_mono_ms() < s->join_deadline_ms)
		return;
	s->joined = true;
	s->joined_ms = lbd_mono_ms();
	if (answered == s->n_peers)
		lbd_info("sync: the flows of every peer are in (%zu): announcing and preempting from now on", answered);
	else
		lbd_warn("sync: %zu of %zu peers sent their flows within %d ms: going on without the others'",
			 answered, s->n_peers, SYNC_JOIN_MS);
}

void sync_tick(struct sync *s)
{
	if (s->fd < 0)
		return;
	ring_buffer__consume(s->ring);
	flush(s);
	/* One dump at a time, in the peers' order: each walk reads both tables whole. */
	for (size_t i = 0; !s->walk_peer && i < s->n_peers; i++)
		if (s->peers[i].dumping) {
			s->walk_peer = &s->peers[i];
			walk_begin(s);
		}
	if (s->walk_peer)
		dump_step(s, s->walk_peer);
	join_check(s);
}

bool sync_ready(const struct sync *s)
{
	return s->fd < 0 || s->joined;
}

static int read_key(struct sync *s, const char *path, char *err, size_t len)
{
	struct stat st;
	int fd = open(path, O_RDONLY | O_CLOEXEC);
	ssize_t r;

	if (fd < 0)
		return snprintf(err, len, "sync key-file %s: %s", path, strerror(errno)), -errno;
	if (!fstat(fd, &st) && (st.st_mode & 0077))
		lbd_warn("sync key-file %s can be read by others than its owner: chmod 600 it", path);
	r = read(fd, s->key, sizeof(s->key));
	close(fd);
	/* A trailing newline of `echo KEY > FILE` is not part of the key. */
	while (r > 0 && (s->key[r - 1] == '\n' || s->key[r - 1] == '\r'))
		r--;
	if (r < SYNC_MIN_KEY)
		return snprintf(err, len, "sync key-file %s holds %zd bytes, fewer than the %d a key needs "
				"(e.g. head -c 32 /dev/urandom | base64 > %s)", path, r < 0 ? 0 : r, SYNC_MIN_KEY,
				path), -EINVAL;
	s->key_len = (size_t)r;
	return 0;
}

int sync_start(struct lbd *d, char *err, size_t len)
{
	struct sync *s = &d->sync;
	const struct lbd_sync_cfg *c = &d->cfg.sync;
	struct sockaddr_storage ss;
	socklen_t ss_len;
	struct epoll_event ev = { .events = EPOLLIN };
	char a[INET6_ADDRSTRLEN];
	int ret;

	s->d = d;
	s->fd = -1;
	if (!sync_on(&d->cfg))
		return 0;
	ret = read_key(s, c->key_file, err, len);
	if (ret)
		return ret;
	for (size_t i = 0; i < c->n_peers; i++) {
		struct sync_peer *p = &s->peers[s->n_peers++];
		struct lbd_metrics_cfg m = { c->peers[i].addr, c->peers[i].port };

		sockaddr_of(&c->peers[i].addr, c->peers[i].port, &p->sa, &p->sa_len);
		lbd_metrics_format(&m, p->name, sizeof(p->name));
	}
	s->fd = socket(c->addr.family == XLB_AF_INET ? AF_INET : AF_INET6, SOCK_DGRAM | SOCK_NONBLOCK | SOCK_CLOEXEC,
		       0);
	sockaddr_of(&c->addr, c->port, &ss, &ss_len);
	if (s->fd < 0 || bind(s->fd, (struct sockaddr *)&ss, ss_len)) {
		lbd_addr_format(&c->addr, a, sizeof(a));
		snprintf(err, len, "sync listen %s:%u: %s", a, c->port, strerror(errno));
		ret = -errno;
		goto fail;
	}
	s->ring = ring_buffer__new(d->dp.fds.share, on_shared, s, NULL);
	if (!s->ring) {
		snprintf(err, len, "sync: cannot read share_ring: %s", strerror(errno));
		ret = -errno;
		goto fail;
	}
	s->src = (struct lbd_source){ on_socket, s, "flows from the cluster's peers" };
	s->src_ring = (struct lbd_source){ on_ring, s, "flows for the cluster's peers" };
	ev.data.ptr = &s->src;
	if (epoll_ctl(d->epfd, EPOLL_CTL_ADD, s->fd, &ev)) {
		ret = -errno;
		goto fail_epoll;
	}
	ev.data.ptr = &s->src_ring;
	if (epoll_ctl(d->epfd, EPOLL_CTL_ADD, ring_buffer__epoll_fd(s->ring), &ev)) {
		ret = -errno;
		goto fail_epoll;
	}
	s->dump_fds[0] = d->dp.fds.moved;
	s->dump_fds[1] = d->dp.fds.conn;
	ret = sweep_reader_start(&s->dump_reader, s->dump_fds[0], s->dump_fds[1]);
	if (ret)
		lbd_warn("sync: cannot start the dumps' reader thread: %s; lbd reads the tables for its peers' "
			 "dumps on its loop, which a large table holds up to tens of ms a batch", strerror(-ret));
	s->join_deadline_ms = lbd_mono_ms() + SYNC_JOIN_MS;
	d->dp.flow_live = sync_flow_live;
	d->dp.flow_live_ctx = s;
	return 0;
fail_epoll:
	snprintf(err, len, "sync: epoll: %s", strerror(-ret));
fail:
	sync_stop(s);
	return ret;
}

void sync_stop(struct sync *s)
{
	if (s->d && s->d->dp.flow_live_ctx == s)
		s->d->dp.flow_live = NULL;
	if (s->ring)
		ring_buffer__free(s->ring);
	s->ring = NULL;
	if (s->fd >= 0)
		close(s->fd);
	s->fd = -1;
	sweep_reader_stop(&s->dump_reader);
	free(s->dump_own);
	s->dump_own = NULL;
	s->dump_in = NULL;
	s->walk_peer = NULL;
}

void sync_show(struct sync *s, struct out *o)
{
	char a[80], age[32];

	out_obj_begin(o, NULL);
	if (s->fd < 0) {
		out_text(o, "flow sharing is off: a sync line in lbd.conf turns it on (see README \"Cluster\")\n");
		out_bool(o, "enabled", false);
		out_obj_end(o);
		return;
	}
	out_bool(o, "enabled", true);
	lbd_sync_format_listen(&s->d->cfg.sync, a, sizeof(a));
	out_field_str(o, "listen", "listening on %s", a);
	out_bool(o, "joined", s->joined);
	out_text(o, s->joined ? ", joined\n" : ", joining: waiting for the peers' flows\n");
	out_field_u64(o, "queue_drops", "dropped: %llu queue full", s->queue_drops);
	out_field_u64(o, "rate_drops", ", %llu over the rate", s->rate_drops);
	out_field_u64(o, "send_errors", ", %llu send errors\n", s->send_errors);
	out_field_u64(o, "rx_bad_auth", "refused: %llu bad HMAC", s->rx_bad_auth);
	out_field_u64(o, "rx_malformed", ", %llu malformed", s->rx_malformed);
	out_field_u64(o, "rx_oversized", ", %llu oversized", s->rx_oversized);
	out_field_u64(o, "rx_replayed", ", %llu replayed", s->rx_replayed);
	out_field_u64(o, "rx_stale", ", %llu stale", s->rx_stale);
	out_field_u64(o, "rx_unknown_peer", ", %llu from no peer", s->rx_unknown_peer);
	out_field_u64(o, "rx_unplaced", ", %llu flows of no VIP or backend here", s->rx_unplaced);
	out_field_u64(o, "rx_known", ", %llu flows known already\n", s->rx_known);
	out_field_u64(o, "refreshed", "live flows sent again (their peers' copies would expire): %llu", s->refreshed);
	out_field_u64(o, "marked", ", slots marked moved for peers' flows: %llu\n", s->marked);
	out_text(o, "\n  %-28s %-10s %-10s %-10s %-10s %-10s %-8s %s\n", "PEER", "SENT", "SENT_FLOWS", "RECEIVED",
		 "INSTALLED", "REJECTED", "LAST_RX", "DUMP");
	out_arr_begin(o, "peers");
	for (size_t i = 0; i < s->n_peers; i++) {
		struct sync_peer *p = &s->peers[i];

		out_obj_begin(o, NULL);
		out_field_str(o, "peer", "  %-28s ", p->name);
		out_field_u64(o, "sent_msgs", "%-10llu ", p->sent_msgs);
		out_field_u64(o, "sent_flows", "%-10llu ", p->sent_flows);
		out_field_u64(o, "received_flows", "%-10llu ", p->received_flows);
		out_field_u64(o, "installed", "%-10llu ", p->installed);
		out_field_u64(o, "rejected", "%-10llu ", p->rejected);
		if (p->last_rx_ms)
			out_age(p->last_rx_ms, age, sizeof(age));
		else
			snprintf(age, sizeof(age), "never");
		out_text(o, "%-8s ", age);
		out_u64(o, "last_rx_ms", p->last_rx_ms);
		out_u64(o, "last_tx_ms", p->last_tx_ms);
		out_bool(o, "answered", p->answered);
		out_text(o, "%s\n", p->answered ? "in" : p->dumping ? "sending" : "-");
		out_obj_end(o);
	}
	out_arr_end(o);
	out_obj_end(o);
}
