// SPDX-License-Identifier: GPL-2.0
/*
 * conn_fill PIN COUNT VIP PORT [BACKEND_ID]: COUNT live TCP flows to
 * VIP:PORT on backend BACKEND_ID (default 1: the first backend lbd gave an
 * id) written straight into the pinned connection table PIN, for the benches of lbd's
 * sweep. Packets cannot fill it any more: a SYN waits in syn_map until its
 * ACK, and ACKs on unmoved slots are sent without the table. The flows
 * come from 198.18.0.0/15 and ports 1024-65535; their `seen` is now, so the
 * sweep keeps them for conn-timeout.
 */
#include <arpa/inet.h>
#include <bpf/bpf.h>
#include <errno.h>
#include <limits.h>
#include <netinet/in.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "xlb_common.h"

#define BATCH	8192
#define PORTS	(65536 - 1024)

static uint32_t seen_now(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (uint32_t)(((uint64_t)ts.tv_sec * 1000000000ull + (uint64_t)ts.tv_nsec) >> XLB_CONN_SEEN_SHIFT);
}

/*
 * lbd's sweep reads a table it found empty only once something was
 * written into it: written_map, beside the table's pin, counts our writes.
 */
static int tell_sweep(const char *conn_pin, unsigned long count)
{
	char path[PATH_MAX];
	const char *slash = strrchr(conn_pin, '/');
	struct xlb_written w;
	uint32_t zero = 0;
	int fd;

	snprintf(path, sizeof(path), "%.*swritten_map", slash ? (int)(slash - conn_pin + 1) : 0, conn_pin);
	fd = bpf_obj_get(path);
	if (fd < 0 || bpf_map_lookup_elem(fd, &zero, &w)) {
		fprintf(stderr, "conn_fill: cannot read %s: %s (lbd would not sweep the flows)\n", path,
			strerror(errno));
		return 1;
	}
	w.conn += count;
	if (bpf_map_update_elem(fd, &zero, &w, BPF_ANY)) {
		fprintf(stderr, "conn_fill: cannot write %s: %s\n", path, strerror(errno));
		return 1;
	}
	return 0;
}

int main(int argc, char **argv)
{
	static struct xlb_flow_key keys[BATCH];
	static struct xlb_conn vals[BATCH];
	unsigned long count;
	struct in_addr vip;
	uint32_t client0;
	char *end;
	unsigned long backend_id = 1;
	int fd, port;

	if (argc != 5 && argc != 6) {
		fprintf(stderr, "usage: conn_fill PIN COUNT VIP PORT [BACKEND_ID]\n");
		return 2;
	}
	if (argc == 6)
		backend_id = strtoul(argv[5], NULL, 10);
	if (backend_id >= XLB_MAX_BACKENDS) {
		fprintf(stderr, "conn_fill: BACKEND_ID must be below %u\n", XLB_MAX_BACKENDS);
		return 2;
	}
	count = strtoul(argv[2], &end, 10);
	port = atoi(argv[4]);
	if (*end || !count || inet_pton(AF_INET, argv[3], &vip) != 1 || port < 1 || port > 65535) {
		fprintf(stderr, "conn_fill: COUNT must be a number above 0, VIP an IPv4 address, PORT 1-65535\n");
		return 2;
	}
	if (count > 2ul * 65536 * PORTS) {
		fprintf(stderr, "conn_fill: at most %lu flows fit 198.18.0.0/15 and ports 1024-65535\n",
			2ul * 65536 * PORTS);
		return 2;
	}
	fd = bpf_obj_get(argv[1]);
	if (fd < 0) {
		fprintf(stderr, "conn_fill: cannot open %s: %s (is lbd running with that pin dir?)\n", argv[1],
			strerror(errno));
		return 1;
	}
	client0 = ntohl(inet_addr("198.18.0.0"));
	for (unsigned long done = 0; done < count;) {
		uint32_t n = count - done < BATCH ? (uint32_t)(count - done) : BATCH;
		LIBBPF_OPTS(bpf_map_batch_opts, opts);

		for (uint32_t i = 0; i < n; i++) {
			unsigned long f = done + i;

			memset(&keys[i], 0, sizeof(keys[i]));
			keys[i].src[0] = htonl(client0 + (uint32_t)(f / PORTS));
			keys[i].dst[0] = vip.s_addr;
			keys[i].sport = htons((uint16_t)(1024 + f % PORTS));
			keys[i].dport = htons((uint16_t)port);
			keys[i].proto = IPPROTO_TCP;
			keys[i].family = XLB_AF_INET;
			vals[i] = (struct xlb_conn){ .backend_id = (uint32_t)backend_id, .seen = seen_now() };
		}
		if (bpf_map_update_batch(fd, keys, vals, &n, &opts)) {
			fprintf(stderr, "conn_fill: writing flow %lu of %lu into %s: %s (is the table that large?)\n",
				done + n, count, argv[1], strerror(errno));
			return 1;
		}
		done += n;
	}
	return tell_sweep(argv[1], count);
}
