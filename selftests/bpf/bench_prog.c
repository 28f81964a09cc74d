// SPDX-License-Identifier: GPL-2.0
/*
 * The program's cost per packet through BPF_PROG_TEST_RUN, next to the
 * trivial XDP_TX reflector measured the same way in the same run.
 *
 * With repeat > 1 the kernel reruns the program on its own output, which is
 * right for the reflector and for DSR (the MAC rewrite does not change the
 * path) but not for IPIP (an encapsulated frame is no longer for a VIP). So
 * every case is also measured one run per call with a fresh frame, where
 * the kernel's timer overhead is in both figures and cancels in the
 * difference.
 */
#include <arpa/inet.h>
#include <bpf/bpf.h>
#include <bpf/libbpf.h>
#include <netinet/in.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "flow_walk.skel.h"
#include "reflector.skel.h"
#include "xdp_env.h"

#define CALLS	200000
#define REPEAT	2000000

static int prog_reflector;
static struct flow_walk *walk;

/* Mean ns per packet over `calls` calls of one run each; vary() may rewrite the frame per call. */
static double per_call(int prog, uint8_t *frame, size_t len, void (*vary)(uint8_t *, size_t, uint32_t))
{
	uint8_t out[PKT_MAX];
	uint64_t total = 0;

	for (uint32_t i = 0; i < CALLS; i++) {
		LIBBPF_OPTS(bpf_test_run_opts, opts, .data_in = frame, .data_size_in = (uint32_t)len,
			    .data_out = out, .data_size_out = sizeof(out), .repeat = 1);
		if (vary)
			vary(frame, len, i);
		if (bpf_prog_test_run_opts(prog, &opts))
			return -1;
		total += opts.duration;
	}
	return (double)total / CALLS;
}

static double repeated(int prog, uint8_t *frame, size_t len)
{
	LIBBPF_OPTS(bpf_test_run_opts, opts, .data_in = frame, .data_size_in = (uint32_t)len,
		    .repeat = REPEAT);

	if (bpf_prog_test_run_opts(prog, &opts))
		return -1;
	return opts.duration;
}

static void row(const char *name, double ns, double base)
{
	printf("%-34s %8.1f ns/pkt   reflector %6.1f ns   added %+6.1f ns   ratio %.2f\n", name, ns,
	       base, ns - base, base / ns);
}

/*
 * ns per packet of prog, looped, the frame given the next of `flows` UDP
 * flows before each run (bpf/flow_walk.bpf.c): many flows with the caches
 * as a busy CPU has them, between no syscalls.
 */
static double walked(int prog, uint8_t *frame, size_t len, uint32_t flows)
{
	LIBBPF_OPTS(bpf_test_run_opts, opts, .data_in = frame, .data_size_in = (uint32_t)len,
		    .repeat = REPEAT);
	uint32_t zero = 0;

	walk->bss->turn = 0;
	walk->data->flows = flows;
	if (bpf_map_update_elem(bpf_map__fd(walk->maps.walk_target), &zero, &prog, BPF_ANY) ||
	    bpf_prog_test_run_opts(bpf_program__fd(walk->progs.xlb_flow_walk), &opts))
		return -1;
	/* The last run's verdict: a walk that lost the frame (an ABORTED tail call, a drop) measured nothing. */
	return opts.retval == XDP_TX ? (double)opts.duration : -1;
}

static int cmp_double(const void *a, const void *b)
{
	double x = *(const double *)a, y = *(const double *)b;

	return x < y ? -1 : x > y;
}

#define WALK_ROUNDS	7

/* xlb walked over flows and the reflector walked the same way, in turns: the medians of each. */
static void walked_row(const char *name, uint8_t *frame, size_t len, uint32_t flows)
{
	double base[WALK_ROUNDS], ns[WALK_ROUNDS];

	for (int k = 0; k < WALK_ROUNDS; k++) {
		base[k] = walked(prog_reflector, frame, len, flows);
		ns[k] = walked(env_prog_fd(), frame, len, flows);
		if (base[k] < 0 || ns[k] < 0) {
			printf("%-34s failed: the frame did not come back as XDP_TX\n", name);
			return;
		}
	}
	qsort(base, WALK_ROUNDS, sizeof(*base), cmp_double);
	qsort(ns, WALK_ROUNDS, sizeof(*ns), cmp_double);
	row(name, ns[WALK_ROUNDS / 2], base[WALK_ROUNDS / 2]);
}

/* A new client port and address every call: every packet is a new flow. */
static void new_flow(uint8_t *frame, size_t len, uint32_t i)
{
	size_t l3 = 14;

	(void)len;
	frame[l3 + 20] = (uint8_t)(i >> 8);
	frame[l3 + 21] = (uint8_t)i;
	frame[l3 + 14] = (uint8_t)(i >> 16);
	frame[l3 + 15] = (uint8_t)(i >> 24);
}

/* Every slot of the VIP's ring marked moved (to the backend it has): every packet consults the table. */
static int mark_all_moved(int v)
{
	struct env_vip *vip = &env_vips[v];

	for (uint32_t i = 0; i < vip->ring_size; i++)
		vip->slots[i] = XLB_SLOT_ID(vip->slots[i]) | XLB_SLOT_MOVED | XLB_SLOT_ID(vip->slots[i]) << 16;
	return xlb_ring_publish(&env_fds, (uint32_t)v, vip->slots, vip->ring_size);
}

static int remember(const struct pkt_spec *s)
{
	struct xlb_conn conn = { .created_ns = 1, .seen = 1 };
	struct xlb_flow_key flow;

	env_flow(s, &flow);
	conn.backend_id = env_ring_pick(VIP4_TCP_DSR, &flow);
	return bpf_map_update_elem(env_fds.conn, &flow, &conn, BPF_ANY);
}


int main(void)
{
	struct pkt_spec dsr = { 4, "198.18.0.10", "198.18.1.1", IPPROTO_TCP, 40000, 80, 18 };
	struct pkt_spec ipip = { 4, "198.18.0.10", "198.18.1.2", IPPROTO_UDP, 40000, 53, 18 };
	struct pkt_spec dsr_udp = { 4, "198.18.0.10", "198.18.1.1", IPPROTO_UDP, 40000, 53, 18 };
	struct pkt_spec ipip6 = { 6, "2001:db8::10", "2001:db8:1::2", IPPROTO_UDP, 40000, 53, 18 };
	uint8_t frame[PKT_MAX];
	struct reflector *refl;
	size_t len;
	double base1, baseN;

	/* The UDP VIPs at the default ring size, as lbd makes them: the size that decides the ring's caching. */
	env_vips[VIP4_UDP_DSR].ring_size = XLB_RING_DEFAULT;
	env_vips[VIP4_UDP_IPIP].ring_size = XLB_RING_DEFAULT;
	refl = reflector__open_and_load();
	walk = flow_walk__open_and_load();
	if (!refl || !walk || env_setup(1u << 20)) {
		fprintf(stderr, "bench_prog: cannot load the programs (root needed)\n");
		return 1;
	}
	prog_reflector = bpf_program__fd(refl->progs.xlb_reflector);

	/* A TCP connection is in the table from its SYN on; its ACKs refresh that entry. */
	if (remember(&dsr)) {
		fprintf(stderr, "bench_prog: cannot write the connection table\n");
		return 1;
	}
	len = pkt_build(&dsr, frame);
	baseN = repeated(prog_reflector, frame, len);
	base1 = per_call(prog_reflector, frame, len, NULL);
	printf("64-byte frames; repeat=%d for the looped rows, %d calls of one run otherwise\n",
	       REPEAT, CALLS);
	row("dsr, unmoved slot (looped)", repeated(env_prog_fd(), frame, len), baseN);
	row("dsr, unmoved slot", per_call(env_prog_fd(), frame, len, NULL), base1);
	/* TCP ACKs of flows the table does not know: each one is looked up there. */
	row("dsr, unmoved slot, new flow", per_call(env_prog_fd(), frame, len, new_flow), base1);

	len = pkt_build(&ipip, frame);
	row("ipip4, unmoved slot", per_call(env_prog_fd(), frame, len, NULL), base1);
	/* Many flows, looped: each packet reads the ring at another place (64k of 65537 slots, or all). */
	memcpy(walk->bss->client_mac, pkt_client_mac, sizeof(pkt_client_mac));
	memcpy(walk->bss->lb_mac, pkt_lb_mac, sizeof(pkt_lb_mac));
	walked_row("ipip4, 1 flow (walked)", frame, len, 1);
	walked_row("ipip4, 64k flows (walked)", frame, len, 1u << 16);
	walked_row("ipip4, 1M flows (walked)", frame, len, 1u << 20);
	len = pkt_build(&dsr_udp, frame);
	walked_row("dsr4 udp, 1 flow (walked)", frame, len, 1);
	walked_row("dsr4 udp, 64k flows (walked)", frame, len, 1u << 16);
	len = pkt_build(&ipip6, frame);
	row("ipip6, unmoved slot", per_call(env_prog_fd(), frame, len, NULL), base1);

	/*
	 * The same with own_mac_map filled, each frame to its second MAC. Looped,
	 * the frame comes back to the program with the backend's MAC as its
	 * destination, so there that one is listed second.
	 */
	const uint8_t other[6] = { 0x02, 0x00, 0x00, 0x00, 0x09, 0x09 };
	struct xlb_flow_key flow;

	env_flow(&dsr, &flow);
	if (env_own_macs(env_ifindex(), pkt_lb_mac, env_backend(env_ring_pick(VIP4_TCP_DSR, &flow))->mac)) {
		fprintf(stderr, "bench_prog: cannot write own_mac_map\n");
		return 1;
	}
	len = pkt_build(&dsr, frame);
	row("dsr, unmoved, 2 own MACs (looped)", repeated(env_prog_fd(), frame, len), baseN);
	env_own_macs(env_ifindex(), other, pkt_lb_mac);
	row("dsr, unmoved, 2 own MACs", per_call(env_prog_fd(), frame, len, NULL), base1);
	len = pkt_build(&ipip, frame);
	row("ipip4, unmoved, 2 own MACs", per_call(env_prog_fd(), frame, len, NULL), base1);
	/* A frame flooded to us: passed after the VIP lookup and both compares. */
	len = pkt_build(&dsr, frame);
	memcpy(frame, other, 6);
	row("to a VIP, another host's MAC", per_call(env_prog_fd(), frame, len, NULL), base1);
	env_own_macs(0, NULL, NULL);

	/* What a packet on a moved slot pays: the connection table. */
	if (mark_all_moved(VIP4_TCP_DSR)) {
		fprintf(stderr, "bench_prog: cannot publish the moved ring\n");
		return 1;
	}
	len = pkt_build(&dsr, frame);
	row("dsr, moved slot, conn hit", per_call(env_prog_fd(), frame, len, NULL), base1);
	row("dsr, moved slot, conn miss (new)", per_call(env_prog_fd(), frame, len, new_flow), base1);

	env_teardown();
	flow_walk__destroy(walk);
	reflector__destroy(refl);
	return 0;
}
