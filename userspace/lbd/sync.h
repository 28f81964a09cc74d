/* SPDX-License-Identifier: GPL-2.0 */
/*
 * Flow sharing between the nodes of a cluster. A flow whose backend the
 * ring alone does not give (picked on a moved slot, or by a per-flow
 * scheduler) is handed over by the data plane (share_ring) and sent to
 * every peer in batches over UDP; each peer installs it in its own table,
 * so the flow keeps its backend when ECMP or VRRP moves it to that peer.
 * Flows on unmoved slots are never sent: every node's ring places them.
 *
 * A message is authenticated with HMAC-SHA256 under a key all nodes share,
 * carries its sender's sequence number and wall-clock time: one that fails
 * the HMAC, does not parse, comes again (a sequence number not above the
 * last from that peer) or is older than SYNC_MAX_AGE_MS is counted and
 * dropped, so nobody without the key can place flows. A node that starts
 * asks each peer for the flows in its moved_map and holds its BGP
 * announcements and VRRP preemption until they are in (or SYNC_JOIN_MS).
 */
#ifndef LBD_SYNC_H
#define LBD_SYNC_H

#include <netinet/in.h>
#include <stdbool.h>
#include <stdint.h>
#include <sys/socket.h>

#include "config.h"
#include "source.h"
#include "sweep_reader.h"
#include "xlb_common.h"

struct lbd;
struct out;
struct ring_buffer;

#define SYNC_MAGIC		"XLBS"
#define SYNC_VERSION		1
#define SYNC_MAC_LEN		32		/* HMAC-SHA256 */
#define SYNC_BATCH		20		/* flows a message: 1256 bytes, within IPv6's minimum MTU */
#define SYNC_QUEUE		4096		/* flows waiting to be sent; beyond: dropped, counted */
#define SYNC_RATE		2000		/* messages a second to each peer, at most (40000 flows) */
#define SYNC_MAX_AGE_MS		30000		/* a message's time may differ from ours by this much */
#define SYNC_JOIN_MS		3000		/* at start, how long the peers' flows are waited for */
#define SYNC_DUMP_BUDGET	2048		/* table entries a peer's dump handles a tick */
#define SYNC_MIN_KEY		16
#define SYNC_REFRESH_WINDOW_S	10		/* a live shared flow is sent again in this window of each half conn-timeout */

enum sync_type { SYNC_FLOWS = 1, SYNC_DUMP_REQUEST = 2, SYNC_DUMP_END = 3 };

/* On the wire, in network order; the HMAC of all before it follows the entries. */
struct sync_hdr {
	char magic[4];
	uint8_t version;
	uint8_t type;		/* enum sync_type */
	uint16_t count;		/* entries */
	uint64_t seq;		/* the sender's, rising by one a message */
	uint64_t time_ms;	/* the sender's wall clock */
};
_Static_assert(sizeof(struct sync_hdr) == 24, "sync_hdr is the wire's");

struct sync_entry {
	struct xlb_flow_key flow;	/* as the connection table keys it */
	__be32 backend[4];		/* the backend's address: ids are each node's own */
	uint8_t family;
	uint8_t pad[3];
};
_Static_assert(sizeof(struct sync_entry) == 60, "sync_entry is the wire's");

#define SYNC_MAX_MSG	(sizeof(struct sync_hdr) + SYNC_BATCH * sizeof(struct sync_entry) + SYNC_MAC_LEN)

struct sync_peer {
	struct sockaddr_storage sa;
	socklen_t sa_len;
	char name[64];
	uint64_t sent_msgs, sent_flows, received_flows, installed, rejected;
	uint64_t last_rx_ms, last_tx_ms;	/* wall clock; 0: never */
	uint64_t highest_seq;
	bool answered;		/* its dump came whole (SYNC_DUMP_END) */
	/* A dump of our tables it asked for, under way or waiting for the one before (struct sync's walk). */
	bool dumping;
	struct sync_entry dump_batch[SYNC_BATCH];	/* read, not sent yet (the rate) */
	size_t dump_n;
	uint64_t next_send_us;	/* the rate limit: when its next message may go, in 1/SYNC_RATE s steps */
};

struct sync {
	struct lbd_source src, src_ring;
	int fd;
	struct ring_buffer *ring;
	struct lbd *d;
	uint8_t key[256];
	size_t key_len;
	struct sync_peer peers[LBD_SYNC_MAX_PEERS];
	size_t n_peers;
	uint64_t seq;
	struct sync_entry queue[SYNC_QUEUE];
	size_t queued;
	bool asked;			/* the peers were asked for their flows (join_ask()) */
	bool joined;
	uint64_t join_deadline_ms;	/* monotonic: of the wait for the VIPs, then of the peers' answers */
	uint64_t joined_ms;		/* monotonic, 0: not yet */
	/* Counted and dropped. */
	uint64_t queue_drops, rate_drops, send_errors;
	uint64_t rx_oversized, rx_malformed, rx_bad_auth, rx_unknown_peer, rx_replayed, rx_stale;
	/* Entries that name no VIP or backend of ours (a peer ahead of or behind the cluster's configuration). */
	uint64_t rx_unplaced;
	uint64_t rx_known;	/* a flow we knew already: ours is kept (refreshed, if the same pick) */
	uint64_t refreshed;	/* live shared flows sent again, so their peers' copies do not expire */
	uint64_t marked;	/* slots of ours marked moved for a peer's flow (lbd_dp_mark_for_peer()) */
	/*
	 * The dumps' walk of moved_map then conn_map, one peer's at a time. A
	 * thread reads it: a batch read of a sparse hash walks every empty
	 * bucket (moved_map is as large as conn_map and nearly always almost
	 * empty: 26 ms a read at conn-table-size 8M, ~200 ms at 64M), which the
	 * loop, sending VRRP adverts every 100 ms, must not wait for.
	 */
	struct sweep_reader dump_reader;	/* not running: the loop reads (dump_walk, dump_own) */
	struct sweep_walk dump_walk;
	struct sweep_batch *dump_own;
	int dump_fds[2];			/* moved_map, conn_map */
	struct sync_peer *walk_peer;		/* whose dump the walk is; NULL: none */
	struct sweep_batch *dump_in;		/* the batch in hand, handled up to dump_at */
	uint32_t dump_at;
	bool walk_ended;			/* the walk's last batch is handled: the END goes next */
};

static inline bool sync_on(const struct lbd_config *cfg)
{
	return cfg->sync.port != 0;
}

/* After the maps are open: the socket, the key, share_ring; and the peers are asked for their flows. */
int sync_start(struct lbd *d, char *err, size_t len);
void sync_stop(struct sync *s);
/* Every health tick: what is queued goes out, dumps go on, the join's deadline. */
void sync_tick(struct sync *s);
/*
 * The sweep met a live flow the ring cannot place (moved_map, or a
 * per-flow scheduler's in conn_map): sent again now and then, so that the
 * peers' copies, which no packet refreshes there, live as long as it does.
 */
void sync_flow_live(void *ctx, const struct xlb_flow_key *flow, const struct xlb_conn *conn);
/* The node may announce and preempt: its peers' flows are in, or it waited long enough. */
bool sync_ready(const struct sync *s);
void sync_show(struct sync *s, struct out *o);

/* Exposed for tests: builds a message of n entries (n <= SYNC_BATCH) into buf; its length. */
size_t sync_build(const uint8_t *key, size_t key_len, enum sync_type type, uint64_t seq, uint64_t time_ms,
		  const struct sync_entry *entries, size_t n, uint8_t *buf);

#endif
