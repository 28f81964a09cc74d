/* SPDX-License-Identifier: GPL-2.0 */
/*
 * lbd's configuration: the model, the file format, and the commands that
 * change it. One grammar serves the file and lbctl: a file line and a
 * command take the same words, with or without "--" before option names.
 */
#ifndef LBD_CONFIG_H
#define LBD_CONFIG_H

#include <limits.h>
#include <net/if.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <sys/types.h>
#include "check.h"
#include "xlb_common.h"

#define LBD_MAX_IFACES		8
#define LBD_ERR_LEN		256
/* An allow or deny list as given: prefixes, or @FILE (see acl.h). */
#define LBD_ACL_TEXT		256

struct lbd_addr {
	uint8_t family;		/* XLB_AF_INET or XLB_AF_INET6; 0: unset */
	uint8_t pad[3];
	__be32 a[4];
};

/* maglev and maglev-src place by the ring; the others per flow (bpf/include/per_flow.h). */
enum lbd_sched {
	LBD_SCHED_MAGLEV, LBD_SCHED_MAGLEV_SRC,
	LBD_SCHED_RR, LBD_SCHED_WRR, LBD_SCHED_LC, LBD_SCHED_WLC, LBD_SCHED_RANDOM,
	LBD_SCHED_COUNT
};
/* When the node announces a VIP's prefix to BIRD: while a backend is up, always, never. */
enum lbd_announce { LBD_ANNOUNCE_HEALTHY, LBD_ANNOUNCE_ALWAYS, LBD_ANNOUNCE_NEVER };
enum lbd_xdp_mode { LBD_XDP_NATIVE, LBD_XDP_GENERIC };
/* Where a backend's Maglev weight comes from: the file, or the backend's agent (agent.h) scaling it. */
enum lbd_weights { LBD_WEIGHTS_STATIC, LBD_WEIGHTS_AGENT, LBD_WEIGHTS_LATENCY, LBD_WEIGHTS_BANDWIDTH,
		   LBD_WEIGHTS_COUNT };
const char *lbd_weights_name(uint8_t weights);	/* "static", "agent", "latency", "bandwidth" */
#define LBD_AGENT_DEFAULT_INTERVAL_MS	2000

/* An operator's word over the health check: lbctl backend set --up|--down|--auto. */
enum lbd_admin { LBD_ADMIN_AUTO, LBD_ADMIN_UP, LBD_ADMIN_DOWN };

struct lbd_backend_cfg {
	struct lbd_addr addr;
	uint32_t weight;
	bool drain;		/* weight 0 for new flows; existing flows stay */
	uint8_t admin;		/* enum lbd_admin */
	struct lbd_check_cfg check;	/* overrides the VIP's, field by field */
};

/* Allow and deny lists, as their text; sum is of the prefixes they held when last read (a file may change). */
struct lbd_acl_cfg {
	char allow[LBD_ACL_TEXT];
	char deny[LBD_ACL_TEXT];
	uint64_t sum;
};

struct lbd_vip_cfg {
	struct lbd_addr addr;
	uint16_t port;		/* host order; 0 = every port */
	uint8_t proto;		/* IPPROTO_TCP / IPPROTO_UDP */
	uint8_t fwd;		/* XLB_FWD_* */
	uint8_t sched;		/* enum lbd_sched */
	uint32_t persist_ms;	/* a client keeps its backend this long after its last packet; 0: off */
	uint32_t passive_n;	/* passive check: this many retransmitted SYNs... 0: off */
	uint32_t passive_window_ms;	/* ...within this take a backend out */
	uint32_t ring_size;
	bool all_down_drop;	/* every backend down: drop (true) or send to all (fail open) */
	uint8_t announce;	/* enum lbd_announce */
	uint8_t weights;	/* enum lbd_weights */
	uint16_t agent_port;	/* weights agent: the backends' agent port; 0: unset */
	uint32_t agent_interval_ms;	/* 0: LBD_AGENT_DEFAULT_INTERVAL_MS */
	/* Per-source limits, a second per client (0: none); a client is a /limit_prefix4 or /limit_prefix6. */
	uint32_t limit_new_flows, limit_burst, limit_pps;
	uint8_t limit_prefix4, limit_prefix6;	/* 0: 32, 64 */
	struct lbd_acl_cfg acl;
	struct lbd_check_cfg check;	/* the default for its backends */
	struct lbd_backend_cfg *backends;
	size_t n_backends;
};

struct lbd_iface_cfg {
	char name[IF_NAMESIZE];
	uint8_t mode;		/* enum lbd_xdp_mode */
};

#define LBD_MAX_VRRP		8
#define LBD_VRRP_MAX_ADDRS	16

/* A VRRPv3 virtual router this node takes part in (RFC 5798). */
struct lbd_vrrp_cfg {
	char dev[IF_NAMESIZE];
	uint8_t vrid;			/* 1-255 */
	uint8_t priority;		/* 1-254; 255: the address owner */
	uint8_t family;			/* of the addresses: XLB_AF_INET or XLB_AF_INET6 */
	bool no_preempt;
	bool vmac;			/* own the VIPs on a macvlan with the virtual MAC 00-00-5e-00-0{1,2}-VRID */
	uint16_t advert_cs;		/* advertisement interval, centiseconds */
	uint32_t preempt_delay_ms;	/* after start, how long a backup waits before preempting */
	uint8_t fault_drop;		/* taken off the priority while this node cannot balance */
	struct lbd_addr addrs[LBD_VRRP_MAX_ADDRS];
	size_t n_addrs;
};

#define LBD_BGP_PATH_LEN	108	/* a Unix socket's sun_path */
#define LBD_BGP_HOLD_DOWN_MS	5000
#define LBD_BGP_WITHDRAW_DELAY_MS 2000

/* Announcements through BIRD: lbd owns the file BIRD's config includes. */
struct lbd_bgp_cfg {
	char bird_socket[LBD_BGP_PATH_LEN];	/* empty: no announcements */
	char include[256];
	uint32_t hold_down_ms;		/* healthy this long before a VIP withdrawn for health returns */
	uint32_t withdraw_delay_ms;	/* on stop, after the withdrawal, before exiting */
};

/* Where lbd serves Prometheus metrics over HTTP; port 0: it does not. */
struct lbd_metrics_cfg {
	struct lbd_addr addr;
	uint16_t port;
};

#define LBD_CLUSTER_NAME_LEN	64
#define LBD_CLUSTER_CACHE_DIR	"/var/lib/xlb"

/* The cluster whose VIPs and backends this node takes from etcd (cluster.h); name "": none. */
struct lbd_cluster_cfg {
	char name[LBD_CLUSTER_NAME_LEN];
	char etcd[512];		/* client URLs, comma-separated */
	char cache[256];	/* the last configuration applied; "": LBD_CLUSTER_CACHE_DIR/NAME.cluster */
};

#define LBD_SYNC_MAX_PEERS	8

/* Flow sharing with the cluster's other nodes (sync.h): UDP, authenticated with a shared key. */
struct lbd_sync_cfg {
	struct lbd_addr addr;	/* listen here; port 0: no sharing */
	uint16_t port;
	char key_file[256];
	struct {
		struct lbd_addr addr;
		uint16_t port;
	} peers[LBD_SYNC_MAX_PEERS];
	size_t n_peers;
};

struct lbd_config {
	struct lbd_iface_cfg ifaces[LBD_MAX_IFACES];
	size_t n_ifaces;
	struct lbd_vip_cfg *vips;
	size_t n_vips;
	struct lbd_addr ipip_src4, ipip_src6;	/* unset: the interface's own address */
	uint8_t entropy4, entropy6;		/* low bits of the outer source set per flow */
	uint32_t conn_table_size;
	uint32_t conn_timeout;			/* seconds a remembered flow may be idle */
	uint16_t mtu;				/* 0: the interface's MTU */
	struct lbd_vrrp_cfg vrrp[LBD_MAX_VRRP];
	size_t n_vrrp;
	struct lbd_bgp_cfg bgp;
	struct lbd_metrics_cfg metrics;
	struct lbd_acl_cfg acl;		/* the global lists: every VIP's, after its own */
	struct lbd_cluster_cfg cluster;
	struct lbd_sync_cfg sync;
};

enum lbd_cmd_kind {
	CMD_ATTACH, CMD_DETACH,
	CMD_VIP_ADD, CMD_VIP_DEL, CMD_VIP_LIST,
	CMD_BACKEND_ADD, CMD_BACKEND_SET, CMD_BACKEND_DEL, CMD_BACKEND_LIST,
	CMD_SHOW, CMD_STATS, CMD_CONFIG_SHOW, CMD_CONFIG_RELOAD,
	CMD_VRRP_ADD, CMD_VRRP_DEL, CMD_VRRP_SHOW,
	CMD_BGP_SET, CMD_BGP_DEL, CMD_BGP_SHOW, CMD_VIP_SET,
	CMD_TRACE,
	CMD_METRICS_SET, CMD_METRICS_DEL, CMD_METRICS_SHOW,
	CMD_PERSIST_SHOW, CMD_PERSIST_FLUSH,
	CMD_SYNC_SHOW, CMD_TOP,
	CMD_ACL_SET, CMD_ACL_DEL, CMD_ACL_SHOW,
};

/* Where a traced frame comes from when SRC names no port. */
#define LBD_TRACE_SPORT	40000

/* lbctl trace: one flow (src, the VIP fields of vip for its destination), or a file of them. */
struct lbd_trace_cmd {
	struct lbd_addr src;
	uint16_t sport;
	bool syn;		/* a TCP SYN; else an ACK (or a UDP datagram) */
	char file[PATH_MAX];	/* --file: "" for the one flow */
};

struct lbd_cmd {
	enum lbd_cmd_kind kind;
	struct lbd_iface_cfg iface;
	struct lbd_vip_cfg vip;		/* key fields, and settings for vip add */
	struct lbd_backend_cfg backend;
	struct lbd_vrrp_cfg vrrp;
	struct lbd_bgp_cfg bgp;
	struct lbd_metrics_cfg metrics;
	struct lbd_acl_cfg acl;
	bool set_weight, set_drain, set_enable;
	bool set_admin;
	uint64_t set_check;		/* OPT_* bits of check settings given to backend set */
	uint64_t set_vip;		/* OPT_* bits of the settings given to vip set */
	struct lbd_trace_cmd trace;
};

/* Writes the message to err and returns ret: "return lbd_fail(err, len, -EINVAL, ...)". */
int lbd_fail(char *err, size_t len, int ret, const char *fmt, ...) __attribute__((format(printf, 4, 5)));
void lbd_config_init(struct lbd_config *cfg);
void lbd_config_free(struct lbd_config *cfg);
int lbd_config_copy(struct lbd_config *dst, const struct lbd_config *src);

/* Parses a whole file; on error fills err with "FILE:LINE: reason" and leaves cfg empty. */
int lbd_config_load(const char *path, struct lbd_config *cfg, char *err, size_t err_len);
int lbd_config_parse(FILE *f, const char *name, struct lbd_config *cfg, char *err, size_t err_len);
/*
 * Writes the file atomically: a temporary file beside it (beside a symlink's
 * target: the link stays), with the old file's owner and mode (0600 for a
 * first file), fsync, rename, fsync of the directory. On an error before the
 * rename the file is unchanged; a failed directory sync is reported after it.
 */
int lbd_config_save(const char *path, const struct lbd_config *cfg, char *err, size_t err_len);
void lbd_config_write(FILE *f, const struct lbd_config *cfg);
/* The vip and backend lines alone: what a cluster keeps in etcd. */
void lbd_config_write_vips(FILE *f, const struct lbd_config *cfg);
/*
 * A cluster's configuration (name: where it came from, for errors): vip
 * and backend lines only, into cfg's VIPs; on error err and cfg empty.
 */
int lbd_config_parse_vips(const char *text, size_t len, const char *name, struct lbd_config *cfg, char *err,
			  size_t err_len);
/* The cluster line's words, checked: for the file and for lbd's --cluster and --etcd. */
int lbd_cluster_cfg_check(const struct lbd_cluster_cfg *c, char *err, size_t len);
/*
 * Replaces path with what write() puts out, the same atomic way; a first
 * file gets first_mode (a file another daemon reads must be readable).
 */
int lbd_file_replace(const char *path, void (*write)(FILE *f, const void *ctx), const void *ctx,
		     mode_t first_mode, char *err, size_t err_len);

/* lbctl's argv, without the program name and global options. */
int lbd_cmd_parse(int argc, char **argv, struct lbd_cmd *cmd, char *err, size_t err_len);
/* Applies a changing command to cfg; on error cfg is unchanged and err says why. */
int lbd_cmd_apply(struct lbd_config *cfg, const struct lbd_cmd *cmd, char *err, size_t err_len);

struct lbd_vip_cfg *lbd_vip_find(const struct lbd_config *cfg, const struct lbd_vip_cfg *key);
struct lbd_backend_cfg *lbd_backend_find(const struct lbd_vip_cfg *vip, const struct lbd_addr *addr);

/* "198.18.1.1:80/tcp", "[2001:db8::1]:80/udp" */
int lbd_vip_parse(const char *text, struct lbd_vip_cfg *vip, char *err, size_t err_len);
void lbd_vip_format(const struct lbd_vip_cfg *vip, char *buf, size_t len);
int lbd_addr_parse(const char *text, struct lbd_addr *addr);
void lbd_addr_format(const struct lbd_addr *addr, char *buf, size_t len);
/* "198.18.0.1:9100", "[2001:db8::1]:9100": the listen address of metrics. */
void lbd_metrics_format(const struct lbd_metrics_cfg *m, char *buf, size_t len);
/* The listen address of sync, the same way. */
void lbd_sync_format_listen(const struct lbd_sync_cfg *s, char *buf, size_t len);
bool lbd_addr_eq(const struct lbd_addr *a, const struct lbd_addr *b);
const char *lbd_announce_name(uint8_t announce);	/* enum lbd_announce: "healthy", ... */
const char *lbd_sched_name(uint8_t sched);		/* enum lbd_sched: "maglev", "rr", ... */
/* The data plane's enum xlb_sched for it: XLB_SCHED_RING for the ring's. */
uint8_t lbd_sched_xlb(uint8_t sched);

#endif
