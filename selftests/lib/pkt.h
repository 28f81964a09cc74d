/* SPDX-License-Identifier: GPL-2.0 */
/*
 * Frames for packet tests, built field by field in userspace. This code
 * shares nothing with the BPF side but the structs: a test that compares
 * the program's output with these bytes checks the program, not itself.
 */
#ifndef XLB_TEST_PKT_H
#define XLB_TEST_PKT_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#define PKT_MAX 4096

extern const uint8_t pkt_client_mac[6];
extern const uint8_t pkt_lb_mac[6];

struct pkt_spec {
	int family;		/* 4 or 6 */
	const char *src, *dst;	/* addresses as text */
	uint8_t proto;		/* IPPROTO_* of the L4 header written */
	uint16_t sport, dport;
	uint16_t payload;	/* bytes of payload after the L4 header */
	uint16_t vlan;		/* 0: untagged, else the TCI */
	uint8_t tos;
	bool no_df;		/* IPv4: DF clear */
	uint16_t frag_off;	/* IPv4: MF and offset bits, host order */
	uint8_t ihl;		/* IPv4: 0 means 5; more adds zeroed option words */
	uint8_t ext[8];		/* IPv6: extension headers before L4, 8 bytes each */
	int n_ext;
	uint16_t min_frame;	/* pad the frame with zeros up to this length */
	uint8_t tcp_flags;	/* 0 means ACK: a packet of an established connection */
};

/* Builds the frame into buf (PKT_MAX bytes); returns its length. */
size_t pkt_build(const struct pkt_spec *s, uint8_t *buf);

/*
 * An ICMP error from router to dst about the packet `quoted` (which went
 * from a VIP to a client): IPv4 "fragmentation needed" or IPv6 "packet too
 * big" carrying mtu. The quote is cut to quote_len bytes of the packet.
 */
size_t pkt_build_icmp_err(int family, const char *router, const char *dst,
			  const struct pkt_spec *quoted, size_t quote_len, uint32_t mtu,
			  uint8_t *buf);

/* Offset of the L3 header: 14, or 18 with a VLAN tag. */
size_t pkt_l3_off(const uint8_t *frame);

/* RFC 1071 over a buffer, with an optional running sum. */
uint32_t pkt_csum_add(const void *p, size_t len, uint32_t sum);
uint16_t pkt_csum_fold(uint32_t sum);
/* Is the TCP/UDP/ICMP checksum of this IPv4/IPv6 packet (at l3) right? And the IPv4 header's? */
bool pkt_l4_csum_ok(const uint8_t *l3, size_t len);
bool pkt_ipv4_csum_ok(const uint8_t *l3);

void pkt_addr(int family, const char *text, uint32_t out[4]);

/* Expected frames. */
size_t pkt_expect_dsr(const uint8_t *in, size_t len, const uint8_t be_mac[6], uint8_t *out);
struct pkt_outer {
	int family;		/* outer: 4 or 6 */
	uint32_t src[4], dst[4];
	uint8_t ttl;
	uint32_t flow_label;	/* IPv6 */
	const uint8_t *mac;	/* next hop */
};
size_t pkt_expect_ipip(const uint8_t *in, size_t len, const struct pkt_outer *o, uint8_t *out);
size_t pkt_expect_too_big(const uint8_t *in, size_t len, uint32_t mtu, uint8_t *out);

void pkt_hexdump(const char *what, const uint8_t *p, size_t len);

#endif
