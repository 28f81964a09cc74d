// SPDX-License-Identifier: GPL-2.0
/*
 * Bounded fuzzing of xlb.bpf.o through BPF_PROG_TEST_RUN: random frames and
 * mutations of valid ones. For every frame the program must
 *   - return XDP_PASS, XDP_DROP or XDP_TX, nothing else;
 *   - count exactly one verdict counter (and rx), of the verdict's kind;
 *   - on XDP_PASS leave the frame untouched, and never pass a packet an
 *     independent parser says is for a VIP;
 *   - on XDP_TX send to a backend's MAC or back to the sender, and only
 *     frames to this node's MAC.
 * Every case runs twice: with own_mac_map empty (only group addresses are
 * not this node's) and with it listing two MACs on the test-run interface.
 * XLB_FUZZ_SEED and XLB_FUZZ_COUNT override the seed and the frame count.
 */
#include <arpa/inet.h>
#include <linux/bpf.h>
#include <netinet/in.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "xdp_env.h"
#include "xt.h"

XT_DEFINE_STATE;

#define FUZZ_SECONDS 60

static uint64_t rng_state;
static uint32_t rnd(void)
{
	/* xorshift64*: reproducible from the seed printed at start. */
	rng_state ^= rng_state >> 12;
	rng_state ^= rng_state << 25;
	rng_state ^= rng_state >> 27;
	return (uint32_t)((rng_state * 0x2545f4914f6cdd1dull) >> 32);
}

static uint16_t get16(const uint8_t *p)
{
	return (uint16_t)(p[0] << 8 | p[1]);
}

/* Does any VIP have this address? Does one match (address, port, protocol)? */
static bool vip_match(int family, const uint8_t *addr, int port, int proto)
{
	for (int v = 0; v < ENV_NUM_VIPS; v++) {
		uint32_t a[4];

		if (env_vips[v].family != family)
			continue;
		pkt_addr(family, env_vips[v].addr, a);
		if (memcmp(a, addr, family == 4 ? 4 : 16))
			continue;
		if (port < 0)
			return true;
		if (env_vips[v].proto == proto && (!env_vips[v].port || env_vips[v].port == port))
			return true;
	}
	return false;
}

static bool ipv6_ext_skips(uint8_t next)
{
	return next == 0 || next == 43 || next == 60;
}

/* The virtual MAC of VRRP router 7, listed beside the interface's own in the second pass. */
static const uint8_t vmac7[6] = { 0x00, 0x00, 0x5e, 0x00, 0x01, 0x07 };
static bool own_macs_listed;

/* Is the frame to this node: unicast, and (once listed) to one of its MACs? */
static bool oracle_to_us(const uint8_t *f)
{
	if (f[0] & 1)
		return false;
	return !own_macs_listed || !memcmp(f, pkt_lb_mac, 6) || !memcmp(f, vmac7, 6);
}

/*
 * The reference verdict, written without looking at the BPF parser: true
 * when the frame is a well-formed IP packet to a VIP that xlb must handle
 * (forward, or drop as a fragment or for options), so passing it is a bug.
 */
static bool oracle_is_for_vip(const uint8_t *f, size_t len)
{
	size_t l3 = 14;
	uint16_t type = get16(f + 12);

	if (!oracle_to_us(f))
		return false;
	if (type == 0x8100) {
		if (len < 18)
			return false;
		type = get16(f + 16);
		l3 = 18;
	}
	const uint8_t *ip = f + l3;
	size_t room = len - l3;

	if (type == 0x0800) {
		if (room < 20 || ip[0] >> 4 != 4 || (ip[0] & 15) < 5)
			return false;
		size_t hl = (ip[0] & 15) * 4u, tot = get16(ip + 2);

		if (tot < hl || tot > room)
			return false;
		bool frag = get16(ip + 6) & 0x3fff, opts = hl > 20;

		if (frag || opts)
			return vip_match(4, ip + 16, -1, 0);
		if ((ip[9] == IPPROTO_TCP && tot >= hl + 20) || (ip[9] == IPPROTO_UDP && tot >= hl + 8))
			return vip_match(4, ip + 16, get16(ip + hl + 2), ip[9]);
		return false;
	}
	if (type == 0x86dd) {
		if (room < 40 || ip[0] >> 4 != 6)
			return false;
		size_t tot = 40u + get16(ip + 4);

		if (tot > room)
			return false;
		size_t off = 40;
		uint8_t next = ip[6];

		/*
		 * Hop-by-hop, routing and destination options chain on (RFC 8200
		 * 4.1); xlb follows four. A fragment header, or a fifth, hides the
		 * ports: such a packet to a VIP address is the VIP's all the same.
		 */
		for (int n = 0; ipv6_ext_skips(next); n++) {
			if (n == 4)
				return vip_match(6, ip + 24, -1, 0);
			if (off + 8 > tot)
				return false;
			next = ip[off];
			off += 8u * (ip[off + 1] + 1u);
		}
		if (next == IPPROTO_FRAGMENT)
			return vip_match(6, ip + 24, -1, 0);
		if ((next == IPPROTO_TCP && tot >= off + 20) || (next == IPPROTO_UDP && tot >= off + 8))
			return vip_match(6, ip + 24, get16(ip + off + 2), next);
	}
	return false;
}

static bool mac_is_backend(const uint8_t *mac)
{
	for (uint32_t id = 1; id < 64; id++) {
		const struct env_backend *b = env_backend(id);

		if (b && !memcmp(b->mac, mac, 6))
			return true;
	}
	return false;
}

static int reported;

/* The KIND of the counter a frame with this XDP action must have counted. */
static enum xlb_stat_kind action_kind(int verdict)
{
	return verdict == XDP_PASS ? XLB_KIND_PASS : verdict == XDP_DROP ? XLB_KIND_DROP : XLB_KIND_TX;
}

static void check_frame(const uint8_t *in, size_t len)
{
	struct env_run r;
	uint64_t verdicts = 0;
	bool ok = true;

	if (!XT_EQ(env_run(in, len, &r), 0))
		return;
	for (int s = 0; s < XLB_STAT_MAX; s++) {
		enum xlb_stat_kind kind = xlb_stat_kind(s);

		if (kind != XLB_KIND_PASS && kind != XLB_KIND_DROP && kind != XLB_KIND_TX)
			continue;
		verdicts += r.delta[s];
		if (r.delta[s])
			ok &= XT_TRUE(kind == action_kind(r.verdict), "%s counted for verdict %d",
				      xlb_stat_name(s), r.verdict);
	}
	ok &= XT_TRUE(r.verdict == XDP_PASS || r.verdict == XDP_DROP || r.verdict == XDP_TX,
		      "undocumented verdict %d", r.verdict);
	ok &= XT_EQ(r.delta[XLB_STAT_RX], 1);
	ok &= XT_TRUE(verdicts == 1, "%llu verdict counters moved, expected one",
		      (unsigned long long)verdicts);
	if (r.verdict == XDP_PASS) {
		ok &= XT_TRUE(r.out_len == len && !memcmp(r.out, in, len), "passed frame was modified");
		ok &= XT_TRUE(!oracle_is_for_vip(in, len), "a VIP packet was passed to the kernel");
	}
	if (r.verdict == XDP_TX) {
		ok &= XT_TRUE(mac_is_backend(r.out) || !memcmp(r.out, in + 6, 6),
			      "sent to a MAC that is neither a backend nor the sender");
		ok &= XT_TRUE(oracle_to_us(in), "sent a frame that was to another MAC than this node's");
	}
	if (!ok && reported++ < 3)
		pkt_hexdump("frame", in, len);
}

/* Valid frames of every kind, the seeds of mutation; then two ICMP errors. */
static const struct pkt_spec specs[] = {
	{ 4, "198.18.0.10", "198.18.1.1", IPPROTO_TCP, 1000, 80, 20 },
	{ 4, "198.18.0.10", "198.18.1.2", IPPROTO_UDP, 1000, 53, 30 },
	{ 4, "198.18.0.10", "198.18.1.2", IPPROTO_TCP, 1000, 80, 1460, .vlan = 3 },
	{ 4, "198.18.0.10", "198.18.1.3", IPPROTO_TCP, 1000, 80, 8 },
	{ 4, "198.18.0.10", "198.18.1.4", IPPROTO_TCP, 1000, 9999, 0 },
	{ 4, "198.18.0.10", "198.18.9.9", IPPROTO_UDP, 1000, 53, 8 },
	{ 4, "198.18.0.10", "198.18.1.1", IPPROTO_ICMP, 0, 0, 8 },
	{ 6, "2001:db8::10", "2001:db8:1::1", IPPROTO_TCP, 1000, 80, 20 },
	{ 6, "2001:db8::10", "2001:db8:1::2", IPPROTO_UDP, 1000, 53, 1500 },
	{ 6, "2001:db8::10", "2001:db8:1::2", IPPROTO_TCP, 1000, 80, 4,
	  .ext = { IPPROTO_HOPOPTS, IPPROTO_ROUTING }, .n_ext = 2 },
	{ 6, "2001:db8::10", "2001:db8:9::9", IPPROTO_ICMPV6, 0, 0, 8 },
	{ 6, "2001:db8::10", "2001:db8:1::1", IPPROTO_UDP, 1000, 53, 8,
	  .ext = { IPPROTO_HOPOPTS, IPPROTO_DSTOPTS, IPPROTO_ROUTING, IPPROTO_DSTOPTS }, .n_ext = 4 },
	{ 6, "2001:db8::10", "2001:db8:1::2", IPPROTO_TCP, 1000, 80, 8,
	  .ext = { IPPROTO_HOPOPTS, IPPROTO_DSTOPTS, IPPROTO_ROUTING, IPPROTO_DSTOPTS, IPPROTO_DSTOPTS },
	  .n_ext = 5 },
	{ 6, "2001:db8::10", "2001:db8:1::1", IPPROTO_UDP, 1000, 53, 8,
	  .ext = { IPPROTO_DSTOPTS, IPPROTO_DSTOPTS, IPPROTO_DSTOPTS, IPPROTO_DSTOPTS, IPPROTO_FRAGMENT },
	  .n_ext = 5 },
};
#define CORPUS_SIZE (sizeof(specs) / sizeof(specs[0]) + 2)

static size_t corpus(int i, uint8_t *buf)
{
	size_t n = sizeof(specs) / sizeof(specs[0]);

	if ((size_t)i < n)
		return pkt_build(&specs[i], buf);
	/* ICMP errors quoting a VIP's reply. */
	struct pkt_spec q4 = { 4, "198.18.1.2", "198.18.0.10", IPPROTO_TCP, 80, 1000, 0 };
	struct pkt_spec q6 = { 6, "2001:db8:1::2", "2001:db8::10", IPPROTO_TCP, 80, 1000, 0 };

	if (i & 1)
		return pkt_build_icmp_err(4, "198.18.0.1", "198.18.1.2", &q4, 28, 1400, buf);
	return pkt_build_icmp_err(6, "2001:db8::1", "2001:db8:1::2", &q6, 48, 1400, buf);
}

static unsigned long budget;
static time_t deadline;

static void random_frames(void)
{
	uint8_t f[PKT_MAX];

	for (unsigned long n = 0; n < budget / 4 && time(NULL) < deadline && !xt_cur.failed; n++) {
		size_t len = 14 + rnd() % 200;

		for (size_t i = 0; i < len; i++)
			f[i] = (uint8_t)rnd();
		/* Half of them to this node's MAC, or with the list filled nothing gets far. */
		if (rnd() & 1)
			memcpy(f, rnd() & 1 ? pkt_lb_mac : vmac7, 6);
		/* Bias toward frames that get past Ethernet, or nothing deep is reached. */
		switch (rnd() % 4) {
		case 0: f[12] = 0x08; f[13] = 0x00; f[14] = 0x45; break;
		case 1: f[12] = 0x86; f[13] = 0xdd; f[14] = 0x60; break;
		case 2: f[12] = 0x81; f[13] = 0x00; f[16] = 0x08; f[17] = 0x00; break;
		}
		check_frame(f, len);
	}
}

static void mutated_frames(void)
{
	uint8_t f[PKT_MAX];

	for (unsigned long n = 0; n < budget - budget / 4 && time(NULL) < deadline && !xt_cur.failed; n++) {
		size_t len = corpus((int)(rnd() % CORPUS_SIZE), f);
		int edits = 1 + (int)(rnd() % 4);

		for (int e = 0; e < edits; e++) {
			size_t at = 12 + rnd() % (len > 80 ? 80 : len - 12);

			switch (rnd() % 6) {
			case 5: f[rnd() % 6] ^= (uint8_t)(1u << (rnd() % 8)); break;	/* the destination MAC */
			case 0: f[at] ^= (uint8_t)(1u << (rnd() % 8)); break;
			case 1: f[at] = (uint8_t)rnd(); break;
			case 2: f[at] = (uint8_t[]){ 0, 0xff, 0x40, 0x45, 0x06, 0x11, 0x2c, 0x3a }[rnd() % 8]; break;
			case 3: if (len > 15) len = 14 + rnd() % (len - 14); break;
			case 4: break;	/* an unmodified seed now and then */
			}
		}
		check_frame(f, len);
	}
}

/*
 * The second pass: the interface's MAC and a virtual MAC listed on the
 * interface test runs arrive on (lo), as lbd lists them.
 */
static int list_own_macs(void)
{
	int ret = env_own_macs(env_ifindex(), pkt_lb_mac, vmac7);

	own_macs_listed = !ret;
	return ret;
}

static void random_frames_own_macs_listed(void)
{
	/* The second pass has its own half of the time, however long the first took. */
	deadline = time(NULL) + FUZZ_SECONDS / 2;
	if (XT_EQ(list_own_macs(), 0))
		random_frames();
}

static void mutated_frames_own_macs_listed(void)
{
	if (XT_EQ(list_own_macs(), 0))
		mutated_frames();
}

int main(void)
{
	const char *seed_env = getenv("XLB_FUZZ_SEED"), *count_env = getenv("XLB_FUZZ_COUNT");
	static const struct xt_case cases[] = {
		XT_CASE(random_frames), XT_CASE(mutated_frames),
		XT_CASE(random_frames_own_macs_listed), XT_CASE(mutated_frames_own_macs_listed),
	};

	rng_state = seed_env ? strtoull(seed_env, NULL, 0) : 0x786c62u;
	budget = count_env ? strtoul(count_env, NULL, 0) : 200000;
	if (!rng_state)
		rng_state = 1;
	printf("fuzz: seed 0x%llx, %lu frames, at most %d s\n", (unsigned long long)rng_state, budget,
	       FUZZ_SECONDS);
	if (env_setup(65536)) {
		printf("RESULT passed=0 failed=1 skipped=0\n");
		return 1;
	}
	deadline = time(NULL) + FUZZ_SECONDS / 2;
	budget /= 2;	/* for each of the two passes */
	xt_run_cases("fuzz", cases, sizeof(cases) / sizeof(cases[0]));
	env_teardown();
	return xt_report();
}
