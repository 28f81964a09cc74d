// SPDX-License-Identifier: GPL-2.0
/*
 * The sweep: forgets idle flows (in conn_map and moved_map), counts live
 * ones, and unmarks moved slots that nothing can need, in steps of bounded time so that lbd's loop
 * goes on sending adverts and probing backends whatever the table holds.
 * A table is read only when a pass needs it: not while a pass found it
 * empty and nothing was written since, and a full conn_map that nothing
 * changes only every conn_every_ms (see struct lbd_sweep).
 */
#include "dataplane.h"

#include <arpa/inet.h>
#include <bpf/bpf.h>
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "hash.h"
#include "xlb_maps.h"

static uint32_t sweep_key_hash(uint8_t family, const __be32 addr[4], uint16_t port, uint8_t proto)
{
	uint32_t h = 2166136261u ^ family ^ (uint32_t)proto << 8 ^ (uint32_t)port << 16;

	for (int i = 0; i < 4; i++)
		h = (h ^ addr[i]) * 16777619u;
	return h ^ h >> 13;
}

static void index_add(struct lbd_sweep *sw, const struct lbd_vip_cfg *v, uint16_t pos)
{
	uint32_t place = sweep_key_hash(v->addr.family, v->addr.a, v->port, v->proto);

	while (sw->index[place % LBD_SWEEP_INDEX_SIZE])
		place++;
	sw->index[place % LBD_SWEEP_INDEX_SIZE] = pos + 1;
}

static struct lbd_sweep_vip *index_find(struct lbd_dp *dp, const struct xlb_flow_key *k, uint16_t port)
{
	struct lbd_sweep *sw = &dp->sweep;

	for (uint32_t place = sweep_key_hash(k->family, k->dst, port, k->proto);; place++) {
		uint16_t pos = sw->index[place % LBD_SWEEP_INDEX_SIZE];
		const struct lbd_vip_cfg *v;

		if (!pos)
			return NULL;
		v = &dp->vips[sw->vips[pos - 1].vip_id].key;
		if (v->addr.family == k->family && v->proto == k->proto && v->port == port &&
		    !memcmp(v->addr.a, k->dst, sizeof(k->dst)))
			return &sw->vips[pos - 1];
	}
}

/* The moved VIP a remembered flow belongs to, if any: as the program looks, the exact port first. */
static struct lbd_sweep_vip *sweep_vip_of(struct lbd_dp *dp, const struct xlb_flow_key *k)
{
	struct lbd_sweep_vip *sv;

	if (!dp->sweep.n_vips)
		return NULL;
	sv = index_find(dp, k, ntohs(k->dport));
	return sv ? sv : index_find(dp, k, 0);
}

static void sweep_note(struct lbd_dp *dp, struct lbd_sweep_vip *sv, const struct xlb_flow_key *k,
		       const struct xlb_conn *c)
{
	const struct lbd_vip_rt *rt = &dp->vips[sv->vip_id];
	uint32_t hash, slot;

	if (rt->gen != sv->gen)
		return;		/* new slots since the pass began: this pass will not unmark them */
	hash = rt->key.sched == LBD_SCHED_MAGLEV_SRC ? xlb_hash_src(k) : xlb_hash_flow(k);
	slot = xlb_ring_slot(hash, rt->ring_size);
	if ((rt->slots[slot] & XLB_SLOT_MOVED) && XLB_SLOT_ID(rt->slots[slot]) != XLB_CONN_ID(c->backend_id))
		sv->pinned[slot] = true;
}

static void pass_reset(struct lbd_sweep *sw)
{
	if (sw->phase == SWEEP_SCAN && sw->reader.running)
		sweep_reader_cancel(&sw->reader);
	for (size_t i = 0; i < sw->n_vips; i++)
		free(sw->vips[i].pinned);
	free(sw->vips);
	sw->vips = NULL;
	sw->n_vips = sw->next_unmark = 0;
	memset(sw->index, 0, sizeof(sw->index));
	sw->phase = SWEEP_IDLE;
}

int lbd_dp_sweep_start_reader(struct lbd_dp *dp)
{
	return sweep_reader_start(&dp->sweep.reader, dp->fds.conn, dp->fds.moved);
}

void lbd_dp_sweep_free(struct lbd_dp *dp)
{
	pass_reset(&dp->sweep);
	sweep_reader_stop(&dp->sweep.reader);
	free(dp->sweep.own);
	dp->sweep.own = NULL;
	free(dp->sweep.counting);
	free(dp->sweep.flows);
	free(dp->sweep.conn_counting);
	free(dp->sweep.conn_counts);
	dp->sweep.counting = dp->sweep.flows = dp->sweep.conn_counting = dp->sweep.conn_counts = NULL;
}

void lbd_dp_table_written(struct lbd_dp *dp, int fd)
{
	dp->sweep.own_written[fd == dp->fds.moved]++;
}

/*
 * Flows written into each table so far: the program's counts, the tools'
 * (written_map) and lbd's own. false if they cannot be read: then both
 * tables are read.
 */
static bool tables_written(struct lbd_dp *dp, uint64_t out[2])
{
	uint64_t counts[XLB_STAT_MAX];
	struct xlb_written tools = { 0 };
	uint32_t zero = 0;

	if (xlb_stats_read_all(&dp->fds, counts) || bpf_map_lookup_elem(dp->fds.written, &zero, &tools))
		return false;
	out[0] = counts[XLB_STAT_CONN_WRITTEN] + tools.conn + dp->sweep.own_written[0];
	out[1] = counts[XLB_STAT_MOVED_WRITTEN] + tools.moved + dp->sweep.own_written[1];
	return true;
}

/*
 * How long conn_map waits between reads no change needs, after a read
 * that kept entries live (what the next read finds, not what this one
 * forgot): at about 0.5 us an entry, a fiftieth of it keeps the reads near
 * 1% of a core; never below a pass's period, nor above an eighth of
 * conn-timeout (how late an idle flow may be forgotten, and a pass more).
 */
static uint64_t conn_every_ms(uint64_t entries, uint32_t conn_timeout_s)
{
	uint64_t ms = entries / 20, most = (uint64_t)conn_timeout_s * 1000 / 8;

	if (ms > most)
		ms = most;
	return ms < LBD_SWEEP_PERIOD_MS ? LBD_SWEEP_PERIOD_MS : ms;
}

/* Moved slots to unmark, or counted flows to release: conn_map is read every pass. */
static bool conn_needed_each_pass(struct lbd_dp *dp)
{
	if (dp->sweep.n_vips || dp->sweep.counted_seen)
		return true;
	for (uint32_t id = 0; id < XLB_MAX_VIPS; id++) {
		const struct lbd_vip_rt *rt = &dp->vips[id];

		if (rt->used && (rt->key.sched > LBD_SCHED_MAGLEV_SRC || rt->key.persist_ms))
			return true;
	}
	return false;
}

/*
 * The tables this pass reads: all but those a pass found empty, with no
 * write since that pass began, and conn_map only when a change needs it
 * or its wait (conn_every_ms) is over.
 */
static unsigned int tables_to_read(struct lbd_dp *dp)
{
	struct lbd_sweep *sw = &dp->sweep;
	unsigned int tables = 0;

	if (!tables_written(dp, sw->written)) {
		sw->empty[0] = sw->empty[1] = false;
		tables = SWEEP_BOTH;
	} else {
		for (int t = 0; t < 2; t++)
			if (!sw->empty[t] || sw->written[t] != sw->empty_at[t])
				tables |= 1u << t;
			else
				sw->tables_left++;
	}
	/* Half a period's slack: the timer that begins passes may run a little late or early. */
	sw->conn_not_due = (tables & 1u) && sw->conn_read_at_ms && !conn_needed_each_pass(dp) &&
			   sw->begun_ms + LBD_SWEEP_PERIOD_MS / 2 < sw->conn_read_at_ms + sw->conn_every_ms;
	if (sw->conn_not_due) {
		tables &= ~1u;
		sw->conn_waits++;
	}
	return tables;
}

void lbd_dp_sweep_begin(struct lbd_dp *dp, uint32_t conn_timeout)
{
	struct lbd_sweep *sw = &dp->sweep;

	if (sw->phase != SWEEP_IDLE)
		return;
	if (!sw->counting)
		sw->counting = calloc(XLB_MAX_BACKENDS, sizeof(*sw->counting));
	if (!sw->conn_counting)
		sw->conn_counting = calloc(XLB_MAX_BACKENDS, sizeof(*sw->conn_counting));
	if (!sw->conn_counts)
		sw->conn_counts = calloc(XLB_MAX_BACKENDS, sizeof(*sw->conn_counts));
	sw->vips = calloc(XLB_MAX_VIPS, sizeof(*sw->vips));
	if (!sw->counting || !sw->conn_counting || !sw->conn_counts || !sw->vips) {
		pass_reset(sw);
		sw->error = -ENOMEM;
		return;
	}
	memset(sw->counting, 0, XLB_MAX_BACKENDS * sizeof(*sw->counting));
	memset(sw->conn_counting, 0, XLB_MAX_BACKENDS * sizeof(*sw->conn_counting));
	sw->counted_now = false;
	sw->conn_live = 0;
	for (uint32_t id = 0; id < XLB_MAX_VIPS; id++) {
		struct lbd_vip_rt *rt = &dp->vips[id];
		struct lbd_sweep_vip *sv = &sw->vips[sw->n_vips];

		if (!rt->used || !rt->n_moved || !rt->slots || !rt->moved_at)
			continue;
		sv->pinned = calloc(rt->ring_size, sizeof(bool));
		if (!sv->pinned) {
			pass_reset(sw);
			sw->error = -ENOMEM;
			return;
		}
		sv->vip_id = id;
		sv->gen = rt->gen;
		index_add(sw, &rt->key, (uint16_t)sw->n_vips++);
	}
	/* In seen units (2^30 ns), rounded up: never forget a flow early. */
	sw->timeout = (uint32_t)(((uint64_t)conn_timeout * 1000000000ull >> XLB_CONN_SEEN_SHIFT) + 1);
	sw->error = 0;
	sw->begun_ms = lbd_mono_ms();
	sw->conn_timeout_s = conn_timeout;
	sw->read[0] = sw->read[1] = 0;
	sw->tables = tables_to_read(dp);
	if (!sw->tables) {
		sw->phase = SWEEP_UNMARK;	/* both empty: no flow pins a slot */
		return;
	}
	sw->phase = SWEEP_SCAN;
	if (sw->reader.running)
		sweep_reader_begin(&sw->reader, sw->tables);
	else
		sweep_walk_begin(&sw->walk, sw->tables);
}

/*
 * The walk's next batch: the reader thread's, or, where it could not
 * start, one read here. NULL while the thread has none ready.
 */
static struct sweep_batch *next_batch(struct lbd_dp *dp)
{
	struct lbd_sweep *sw = &dp->sweep;
	int fds[2] = { dp->fds.conn, dp->fds.moved };

	return sweep_reader_next(&sw->reader, &sw->walk, fds, &sw->own);
}

static void batch_done(struct lbd_dp *dp)
{
	if (dp->sweep.reader.running)
		sweep_reader_done(&dp->sweep.reader);
}

/* A batch's flows: the idle ones forgotten, the live ones counted and noted against moved slots. */
static void handle_batch(struct lbd_dp *dp, const struct sweep_batch *b)
{
	struct lbd_sweep *sw = &dp->sweep;
	uint32_t now = lbd_dp_seen_now();
	int fd = b->table == 0 ? dp->fds.conn : dp->fds.moved;

	sw->read[b->table] += b->count;
	for (uint32_t i = 0; i < b->count; i++) {
		const struct xlb_flow_key *key = &b->keys[i];
		const struct xlb_conn *val = &b->vals[i];
		struct lbd_sweep_vip *sv;

		if (now - val->seen > sw->timeout) {
			struct xlb_conn again;

			/* Read again: a packet since the batch makes it live. */
			if (!bpf_map_lookup_elem(fd, key, &again) && now - again.seen > sw->timeout) {
				if (!bpf_map_delete_elem(fd, key))
					lbd_dp_flow_forgotten(dp, &again);
				continue;
			}
		}
		if (XLB_CONN_ID(val->backend_id) < XLB_MAX_BACKENDS)
			(b->table == 0 ? sw->conn_counting : sw->counting)[XLB_CONN_ID(val->backend_id)]++;
		if (b->table == 0) {
			sw->conn_live++;
			sw->counted_now |= !!(val->backend_id & XLB_CONN_COUNTED);
		}
		/* Flows the ring cannot place: moved_map's, and the per-flow schedulers' (counted) ones. */
		if (dp->flow_live && (b->table == 1 || (val->backend_id & XLB_CONN_COUNTED)))
			dp->flow_live(dp->flow_live_ctx, key, val);
		sv = sweep_vip_of(dp, key);
		if (sv)
			sweep_note(dp, sv, key, val);
	}
}

/*
 * A moved slot goes back to plain once no live remembered flow there has
 * another backend, and no flow from before the move can still turn up:
 * conn-timeout has passed since the move (a TCP flow that spoke since was
 * remembered; one that did not is dead by the same rule that forgets idle
 * flows), the UDP window is shut, or the slot is back on its first
 * backend. A flow remembered after the pass read its place can only be
 * one of those, so nothing is lost in between.
 */
static int unmark_slots(struct lbd_dp *dp, struct lbd_sweep_vip *sv)
{
	struct lbd_vip_rt *rt = &dp->vips[sv->vip_id];
	uint32_t now = lbd_dp_seen_now(), cleared = 0, *slots;
	int ret;

	if (!rt->used || rt->gen != sv->gen || lbd_mono_us() * 1000 < rt->udp_keep_until_ns)
		return 0;
	slots = malloc(rt->ring_size * sizeof(*slots));
	if (!slots)
		return -ENOMEM;
	memcpy(slots, rt->slots, rt->ring_size * sizeof(*slots));
	for (uint32_t i = 0; i < rt->ring_size; i++) {
		uint32_t s = slots[i];

		if (!(s & XLB_SLOT_MOVED) || sv->pinned[i])
			continue;
		/* The same "more than timeout" as for forgetting an idle flow. */
		if (XLB_SLOT_PREV(s) != XLB_SLOT_ID(s) && XLB_SLOT_PREV(s) != XLB_SLOT_NONE &&
		    now - rt->moved_at[i] <= dp->sweep.timeout)
			continue;
		slots[i] = XLB_SLOT_ID(s);
		cleared++;
	}
	ret = cleared ? lbd_dp_ring_publish(dp, rt, rt->ring_id, slots, rt->ring_size) : 0;
	if (cleared && !ret) {
		for (uint32_t i = 0; i < rt->ring_size; i++)
			if (!(slots[i] & XLB_SLOT_MOVED))
				rt->moved_at[i] = 0;
		free(rt->slots);
		rt->slots = slots;
		rt->n_moved -= cleared;
		rt->gen = ++dp->gen;
		slots = NULL;
	}
	free(slots);
	return ret;
}

/*
 * conn_map's counts go into the pass's: this pass's if it read conn_map
 * (they are kept for the passes that wait), else the last read's (all 0
 * if it was left unread as empty), counted at flows_at_ms.
 */
static void conn_counts_add(struct lbd_sweep *sw, uint64_t now_ms)
{
	uint64_t *fresh = sw->conn_counting;

	if (sw->tables & 1u) {
		sw->conn_counting = sw->conn_counts;
		sw->conn_counts = fresh;
		sw->conn_read_at_ms = sw->begun_ms;
		sw->conn_every_ms = conn_every_ms(sw->conn_live, sw->conn_timeout_s);
		sw->counted_seen = sw->counted_now;
		sw->flows_at_ms = now_ms;
	} else if (!sw->conn_not_due) {
		sw->flows_at_ms = now_ms;
	}
	sw->flows_waiting = sw->conn_not_due;
	for (uint32_t id = 0; id < XLB_MAX_BACKENDS; id++)
		sw->counting[id] += sw->conn_counts[id];
}

static void pass_end(struct lbd_dp *dp)
{
	struct lbd_sweep *sw = &dp->sweep;
	uint64_t *done = sw->counting, now_ms = lbd_mono_ms();

	if (!sw->error) {
		for (int t = 0; t < 2; t++) {
			if (!(sw->tables & (1u << t)))
				continue;	/* left unread: as empty as it was */
			sw->empty[t] = !sw->read[t];
			sw->empty_at[t] = sw->written[t];
		}
		conn_counts_add(sw, now_ms);
		sw->counting = sw->flows;
		sw->flows = done;
		sw->last_pass_ms = now_ms - sw->begun_ms;
		sw->passes++;
	}
	pass_reset(sw);
}

int lbd_dp_sweep_step(struct lbd_dp *dp, uint64_t budget_us, char *err, size_t len)
{
	struct lbd_sweep *sw = &dp->sweep;
	uint64_t until = lbd_mono_us() + budget_us;
	int ret = 0;

	if (sw->phase == SWEEP_IDLE) {
		ret = sw->error;
		sw->error = 0;
		goto out;
	}
	if (sw->phase == SWEEP_SCAN) {
		bool last = false;

		do {
			struct sweep_batch *b = next_batch(dp);

			if (!b) {
				ret = sw->reader.running ? 1 : -ENOMEM;	/* the thread reads on meanwhile */
				if (ret < 0) {
					sw->error = ret;
					pass_reset(sw);
				}
				goto out;
			}
			if (b->error) {
				ret = sw->error = b->error;
				batch_done(dp);
				pass_reset(sw);
				goto out;
			}
			handle_batch(dp, b);
			last = b->last;
			batch_done(dp);
		} while (!last && lbd_mono_us() < until);
		if (!last) {
			ret = 1;
			goto out;
		}
		sw->phase = SWEEP_UNMARK;
	}
	/* Only after a whole pass: a slot may be unmarked only if no flow holds it. */
	while (sw->next_unmark < sw->n_vips && lbd_mono_us() < until) {
		int one = unmark_slots(dp, &sw->vips[sw->next_unmark++]);

		if (one && !sw->error)
			sw->error = one;
	}
	if (sw->next_unmark < sw->n_vips) {
		ret = 1;
		goto out;
	}
	ret = sw->error;
	pass_end(dp);
	sw->error = 0;
out:
	if (ret < 0)
		return snprintf(err, len, "sweeping the connection table: %s", strerror(-ret)), ret;
	return ret;
}

const uint64_t *lbd_dp_flows(const struct lbd_dp *dp, uint64_t *age_ms)
{
	if (!dp->sweep.flows_at_ms)
		return NULL;
	*age_ms = lbd_mono_ms() - dp->sweep.flows_at_ms;
	return dp->sweep.flows;
}
