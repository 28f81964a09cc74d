// SPDX-License-Identifier: GPL-2.0
/*
 * xlbgen: a live-frames traffic generator and checking sink for this
 * kernel, which has no pktgen (see BENCHMARKS.md). It builds one frame,
 * has the kernel send it `--packets` times out of DEV through
 * BPF_PROG_TEST_RUN with BPF_F_TEST_XDP_LIVE_FRAMES, a small XDP program
 * giving each copy the next of `--flows` source ports/addresses, and
 * counts what comes back on DEV with a sink XDP program that checks every
 * frame went to a backend it was told about.
 */
#define _GNU_SOURCE
#include <arpa/inet.h>
#include <errno.h>
#include <getopt.h>
#include <linux/if_link.h>
#include <net/if.h>
#include <sched.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/ioctl.h>
#include <sys/socket.h>
#include <time.h>
#include <unistd.h>

#include <bpf/bpf.h>
#include <bpf/libbpf.h>

#include "gen.skel.h"
#include "pkt.h"
#include "sink.skel.h"

#define MAX_TARGETS 64

struct opts {
	const char *dev, *src, *dst, *vip;
	uint8_t dst_mac[6];
	int family, cpu;
	uint8_t proto, tcp_flags;
	uint16_t dport, size;
	uint32_t flows;
	uint64_t packets;
	bool ipip;
	char *targets[MAX_TARGETS];
	int n_targets;
};

static void usage(FILE *f)
{
	fprintf(f,
		"usage: xlbgen --dev DEV --dst-mac MAC --src ADDR --dst ADDR --dport N\n"
		"              [--proto udp|syn|ack] [--size BYTES] [--flows F] [--packets N] [--cpu C]\n"
		"              (--expect-mac MAC,... | --expect-ipip ADDR,... --vip ADDR)\n"
		"Sends N frames out of DEV over F flows and counts what comes back on DEV.\n"
		"Prints: sent N good G wrong W lost L elapsed_ms T mpps M targets a,b,...\n"
		"(good: frames that reached a target; wrong: anywhere else; lost: never came back)\n"
		"Exits 77 if the kernel refuses to send frames from BPF_PROG_TEST_RUN (EPERM).\n");
}

static int parse_mac(const char *s, uint8_t mac[6])
{
	unsigned int b[6];

	if (sscanf(s, "%x:%x:%x:%x:%x:%x", &b[0], &b[1], &b[2], &b[3], &b[4], &b[5]) != 6)
		return -1;
	for (int i = 0; i < 6; i++)
		mac[i] = (uint8_t)b[i];
	return 0;
}

static int split_targets(char *list, struct opts *o)
{
	for (char *t = strtok(list, ","); t; t = strtok(NULL, ",")) {
		if (o->n_targets == MAX_TARGETS)
			return -1;
		o->targets[o->n_targets++] = t;
	}
	return 0;
}

static int parse(int argc, char **argv, struct opts *o)
{
	static const struct option lo[] = {
		{ "dev", required_argument, NULL, 'd' },     { "dst-mac", required_argument, NULL, 'm' },
		{ "src", required_argument, NULL, 's' },     { "dst", required_argument, NULL, 't' },
		{ "dport", required_argument, NULL, 'p' },   { "proto", required_argument, NULL, 'P' },
		{ "size", required_argument, NULL, 'S' },    { "flows", required_argument, NULL, 'f' },
		{ "packets", required_argument, NULL, 'n' }, { "cpu", required_argument, NULL, 'c' },
		{ "expect-mac", required_argument, NULL, 'M' }, { "expect-ipip", required_argument, NULL, 'I' },
		{ "vip", required_argument, NULL, 'v' },     { "help", no_argument, NULL, 'h' },
		{ 0 },
	};
	int c;

	*o = (struct opts){ .proto = IPPROTO_UDP, .size = 64, .flows = 1, .packets = 1000000, .cpu = -1 };
	while ((c = getopt_long(argc, argv, "", lo, NULL)) != -1) {
		switch (c) {
		case 'd': o->dev = optarg; break;
		case 'm':
			if (parse_mac(optarg, o->dst_mac))
				return fprintf(stderr, "xlbgen: --dst-mac '%s' is not a MAC like 02:00:00:00:00:01\n", optarg), -1;
			break;
		case 's': o->src = optarg; break;
		case 't': o->dst = optarg; break;
		case 'p': o->dport = (uint16_t)atoi(optarg); break;
		case 'P':
			if (!strcmp(optarg, "udp")) {
				o->proto = IPPROTO_UDP;
			} else if (!strcmp(optarg, "syn") || !strcmp(optarg, "ack")) {
				o->proto = IPPROTO_TCP;
				o->tcp_flags = optarg[0] == 's' ? 0x02 : 0x10;
			} else {
				return fprintf(stderr, "xlbgen: --proto '%s' is not udp, syn or ack\n", optarg), -1;
			}
			break;
		case 'S': o->size = (uint16_t)strtoul(optarg, NULL, 10); break;
		case 'f': o->flows = (uint32_t)strtoul(optarg, NULL, 10); break;
		case 'n': o->packets = strtoull(optarg, NULL, 10); break;
		case 'c': o->cpu = atoi(optarg); break;
		case 'M': split_targets(optarg, o); break;
		case 'I': o->ipip = true; split_targets(optarg, o); break;
		case 'v': o->vip = optarg; break;
		case 'h': usage(stdout); exit(0);
		default: usage(stderr); return -1;
		}
	}
	if (!o->dev || !o->src || !o->dst || !o->dport || !o->n_targets || !o->flows || !o->packets ||
	    (o->ipip && !o->vip)) {
		usage(stderr);
		return -1;
	}
	o->family = strchr(o->dst, ':') ? 6 : 4;
	/* The generator program rewrites the Ethernet header, the IP header and 8 bytes of L4 in place. */
	if (o->size < 64 || o->size > 1500)
		return fprintf(stderr, "xlbgen: --size %u is out of range: 64 to 1500 bytes\n", o->size), -1;
	return 0;
}

static int dev_mac(const char *dev, uint8_t mac[6])
{
	struct ifreq ifr = { 0 };
	int fd = socket(AF_INET, SOCK_DGRAM, 0), ret;

	snprintf(ifr.ifr_name, sizeof(ifr.ifr_name), "%s", dev);
	ret = fd < 0 ? -1 : ioctl(fd, SIOCGIFHWADDR, &ifr);
	if (fd >= 0)
		close(fd);
	if (!ret)
		memcpy(mac, ifr.ifr_hwaddr.sa_data, 6);
	return ret;
}

static double now_s(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (double)ts.tv_sec + (double)ts.tv_nsec / 1e9;
}

static uint64_t percpu_sum(int fd, uint32_t key)
{
	int ncpu = libbpf_num_possible_cpus();
	uint64_t v[256] = { 0 }, sum = 0;

	if (ncpu > 256 || bpf_map_lookup_elem(fd, &key, v))
		return 0;
	for (int i = 0; i < ncpu; i++)
		sum += v[i];
	return sum;
}

#define XLBGEN_REFUSED 77

int main(int argc, char **argv)
{
	struct opts o;
	struct gen *gen = NULL;
	struct sink *sink = NULL;
	uint8_t frame[PKT_MAX], my_mac[6];
	int ifindex, ret = 1, counts_fd;

	if (parse(argc, argv, &o))
		return 2;
	ifindex = (int)if_nametoindex(o.dev);
	if (!ifindex || dev_mac(o.dev, my_mac)) {
		fprintf(stderr, "xlbgen: no interface %s here\n", o.dev);
		return 1;
	}
	if (o.cpu >= 0) {
		cpu_set_t set;

		CPU_ZERO(&set);
		CPU_SET(o.cpu, &set);
		sched_setaffinity(0, sizeof(set), &set);
	}

	struct pkt_spec spec = {
		.family = o.family, .src = o.src, .dst = o.dst, .proto = o.proto, .sport = 1024,
		.dport = o.dport, .tcp_flags = o.tcp_flags,
	};
	size_t hdr = 14 + (o.family == 4 ? 20 : 40) + (o.proto == IPPROTO_TCP ? 20 : 8);

	spec.payload = o.size > hdr ? (uint16_t)(o.size - hdr) : 0;
	size_t len = pkt_build(&spec, frame);

	memcpy(frame, o.dst_mac, 6);
	memcpy(frame + 6, my_mac, 6);

	gen = gen__open();
	sink = sink__open();
	if (!gen || !sink) {
		fprintf(stderr, "xlbgen: cannot open the BPF objects\n");
		goto out;
	}
	gen->rodata->gen_flows = o.flows;
	memcpy((void *)gen->rodata->gen_dst_mac, o.dst_mac, 6);
	memcpy((void *)gen->rodata->gen_src_mac, my_mac, 6);
	gen->rodata->gen_ethertype = htons(o.family == 4 ? 0x0800 : 0x86dd);
	gen->rodata->gen_hdr_len = (o.family == 4 ? 20 : 40) + 8;
	memcpy((void *)gen->rodata->gen_hdr, frame + 14, gen->rodata->gen_hdr_len);
	sink->rodata->sink_mode = o.ipip ? 1 : 0;
	if (o.ipip) {
		sink->rodata->sink_vip_family = strchr(o.vip, ':') ? 6 : 4;
		inet_pton(sink->rodata->sink_vip_family == 6 ? AF_INET6 : AF_INET, o.vip, (void *)sink->rodata->sink_vip);
	}
	if (gen__load(gen) || sink__load(sink)) {
		fprintf(stderr, "xlbgen: the verifier refused the generator or the sink\n");
		goto out;
	}
	for (int i = 0; i < o.n_targets; i++) {
		uint8_t key[16] = { 0 };
		uint32_t idx = (uint32_t)i + 1;

		if (o.ipip ? inet_pton(strchr(o.targets[i], ':') ? AF_INET6 : AF_INET, o.targets[i], key) != 1
			   : parse_mac(o.targets[i], key) != 0) {
			fprintf(stderr, "xlbgen: target '%s' is not a %s\n", o.targets[i], o.ipip ? "address" : "MAC");
			goto out;
		}
		bpf_map_update_elem(bpf_map__fd(sink->maps.sink_targets), key, &idx, BPF_ANY);
	}
	if (bpf_xdp_attach(ifindex, bpf_program__fd(sink->progs.xlb_sink), XDP_FLAGS_DRV_MODE, NULL)) {
		fprintf(stderr, "xlbgen: cannot attach the sink to %s: %s (is another XDP program there?)\n",
			o.dev, strerror(errno));
		goto out;
	}

	struct xdp_md ctx = { .data_end = (uint32_t)len, .ingress_ifindex = (uint32_t)ifindex };
	LIBBPF_OPTS(bpf_test_run_opts, run, .data_in = frame, .data_size_in = (uint32_t)len, .ctx_in = &ctx,
		    .ctx_size_in = sizeof(ctx), .flags = BPF_F_TEST_XDP_LIVE_FRAMES, .batch_size = 64);
	uint64_t left = o.packets;
	double t0 = now_s(), elapsed;

	/* repeat is 32 bits: send in chunks. */
	while (left) {
		run.repeat = left > 100000000 ? 100000000 : (uint32_t)left;
		if (bpf_prog_test_run_opts(bpf_program__fd(gen->progs.xlb_gen), &run)) {
			int err = errno;

			fprintf(stderr, "xlbgen: live frames refused: %s%s\n", strerror(err),
				err == EPERM ? " (this kernel does not let BPF_PROG_TEST_RUN send frames)" : "");
			/* 77, as automake's tests say "skipped": a machine that cannot send, not a fault. */
			ret = err == EPERM ? XLBGEN_REFUSED : 1;
			bpf_xdp_detach(ifindex, XDP_FLAGS_DRV_MODE, NULL);
			goto out;
		}
		left -= run.repeat;
	}
	elapsed = now_s() - t0;
	usleep(200000);		/* the last frames on their way back */
	bpf_xdp_detach(ifindex, XDP_FLAGS_DRV_MODE, NULL);

	counts_fd = bpf_map__fd(sink->maps.sink_counts);
	uint64_t good = percpu_sum(counts_fd, 0), wrong = percpu_sum(counts_fd, 1);
	uint64_t lost = o.packets > good + wrong ? o.packets - good - wrong : 0;

	printf("sent %llu good %llu wrong %llu lost %llu elapsed_ms %.1f mpps %.3f targets ",
	       (unsigned long long)o.packets, (unsigned long long)good, (unsigned long long)wrong,
	       (unsigned long long)lost, elapsed * 1000, (double)good / elapsed / 1e6);
	for (int i = 0; i < o.n_targets; i++)
		printf("%s%llu", i ? "," : "", (unsigned long long)percpu_sum(counts_fd, 3 + (uint32_t)i));
	printf("\n");
	ret = 0;
out:
	gen__destroy(gen);
	sink__destroy(sink);
	return ret;
}
