// SPDX-License-Identifier: GPL-2.0
/*
 * xdp_run DEV FLOWS: each flow of FLOWS (lines "SRC[:PORT] DST:PORT/PROTO
 * [--syn]", as lbctl trace --file reads them) as one frame to DEV's MAC,
 * through the XDP program attached to DEV, by BPF_PROG_TEST_RUN: the real
 * program, with its maps, changing what it changes. Prints a line a flow:
 * the action and the destination MAC of the frame it returned. The frames
 * are built by selftests/lib/pkt.c, not by lbd's trace.
 */
#include <arpa/inet.h>
#include <bpf/bpf.h>
#include <bpf/libbpf.h>
#include <errno.h>
#include <linux/if_link.h>
#include <net/if.h>
#include <netinet/in.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/ioctl.h>
#include <sys/socket.h>
#include <unistd.h>

#include "pkt.h"

static int dev_mac(const char *dev, uint8_t mac[6])
{
	struct ifreq ifr = { 0 };
	int fd = socket(AF_INET, SOCK_DGRAM, 0), ret;

	if (fd < 0)
		return -errno;
	snprintf(ifr.ifr_name, sizeof(ifr.ifr_name), "%s", dev);
	ret = ioctl(fd, SIOCGIFHWADDR, &ifr) ? -errno : 0;
	close(fd);
	if (!ret)
		memcpy(mac, ifr.ifr_hwaddr.sa_data, 6);
	return ret;
}

/* "ADDR[:PORT]" or "[ADDR]:PORT" into addr (text) and port; the family in *family. */
static int split_endpoint(char *text, char **addr, unsigned *port, int *family, unsigned def_port)
{
	char *colon;

	*port = def_port;
	if (text[0] == '[') {
		colon = strstr(text, "]:");
		if (!colon)
			return -1;
		*colon = 0;
		*addr = text + 1;
		*port = (unsigned)atoi(colon + 2);
		*family = 6;
		return 0;
	}
	colon = strchr(text, ':');
	if (colon && strchr(colon + 1, ':')) {
		*addr = text;
		*family = 6;
		return 0;
	}
	if (colon) {
		*colon = 0;
		*port = (unsigned)atoi(colon + 1);
	}
	*addr = text;
	*family = 4;
	return 0;
}

static const char *action_name(uint32_t action)
{
	static const char *const names[] = { "aborted", "drop", "pass", "tx", "redirect" };

	return action < 5 ? names[action] : "?";
}

int main(int argc, char **argv)
{
	char line[512], src[256], dst[256], syn[16], *saddr, *daddr, *proto;
	uint8_t mac[6], in[PKT_MAX], out[PKT_MAX];
	unsigned sport, dport, ifindex;
	__u32 prog_id = 0;
	int fd, family, dfamily, n;
	FILE *f;

	if (argc != 3) {
		fprintf(stderr, "usage: xdp_run DEV FLOWS\n");
		return 2;
	}
	ifindex = if_nametoindex(argv[1]);
	if (!ifindex || dev_mac(argv[1], mac)) {
		fprintf(stderr, "xdp_run: no interface %s here: run it in the balancer's namespace\n", argv[1]);
		return 1;
	}
	if (bpf_xdp_query_id((int)ifindex, 0, &prog_id) || !prog_id) {
		fprintf(stderr, "xdp_run: no XDP program attached to %s: lbctl attach %s first\n", argv[1], argv[1]);
		return 1;
	}
	fd = bpf_prog_get_fd_by_id(prog_id);
	f = fopen(argv[2], "r");
	if (fd < 0 || !f) {
		fprintf(stderr, "xdp_run: cannot open program %u or %s: %s\n", prog_id, argv[2], strerror(errno));
		return 1;
	}
	while (fgets(line, sizeof(line), f)) {
		struct pkt_spec s = { 0 };
		struct xdp_md md = { .ingress_ifindex = ifindex };
		size_t len;

		syn[0] = 0;
		n = sscanf(line, "%255s %255s %15s", src, dst, syn);
		if (n < 2 || src[0] == '#')
			continue;
		proto = strrchr(dst, '/');
		if (!proto || split_endpoint(src, &saddr, &sport, &family, 40000) ||
		    split_endpoint((*proto++ = 0, dst), &daddr, &dport, &dfamily, 0) || family != dfamily) {
			fprintf(stderr, "xdp_run: cannot read the flow '%s'\n", line);
			return 1;
		}
		s = (struct pkt_spec){ .family = family, .src = saddr, .dst = daddr, .sport = (uint16_t)sport,
				       .dport = (uint16_t)dport, .payload = 8,
				       .proto = strcmp(proto, "udp") ? IPPROTO_TCP : IPPROTO_UDP,
				       .tcp_flags = strcmp(syn, "--syn") ? 0 : 0x02 };
		len = pkt_build(&s, in);
		memcpy(in, mac, 6);
		md.data_end = (uint32_t)len;
		LIBBPF_OPTS(bpf_test_run_opts, opts, .data_in = in, .data_size_in = (uint32_t)len, .data_out = out,
			    .data_size_out = sizeof(out), .ctx_in = &md, .ctx_size_in = sizeof(md), .repeat = 1);
		if (bpf_prog_test_run_opts(fd, &opts)) {
			fprintf(stderr, "xdp_run: BPF_PROG_TEST_RUN failed: %s\n", strerror(errno));
			return 1;
		}
		printf("%s %02x:%02x:%02x:%02x:%02x:%02x\n", action_name(opts.retval), out[0], out[1], out[2],
		       out[3], out[4], out[5]);
	}
	fclose(f);
	return 0;
}
