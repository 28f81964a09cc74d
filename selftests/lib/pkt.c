// SPDX-License-Identifier: GPL-2.0
#include "pkt.h"

#include <arpa/inet.h>
#include <netinet/in.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

const uint8_t pkt_client_mac[6] = { 0x02, 0x00, 0x00, 0x00, 0x00, 0x01 };
const uint8_t pkt_lb_mac[6] = { 0x02, 0x00, 0x00, 0x00, 0x00, 0xfe };

static void put16(uint8_t *p, uint16_t v)
{
	p[0] = v >> 8;
	p[1] = v;
}

static void put32(uint8_t *p, uint32_t v)
{
	put16(p, v >> 16);
	put16(p + 2, v);
}

static uint16_t get16(const uint8_t *p)
{
	return (uint16_t)(p[0] << 8 | p[1]);
}

uint32_t pkt_csum_add(const void *p, size_t len, uint32_t sum)
{
	const uint8_t *b = p;
	size_t i;

	for (i = 0; i + 1 < len; i += 2)
		sum += get16(b + i);
	if (len & 1)
		sum += b[len - 1] << 8;
	while (sum >> 16)
		sum = (sum & 0xffff) + (sum >> 16);
	return sum;
}

uint16_t pkt_csum_fold(uint32_t sum)
{
	while (sum >> 16)
		sum = (sum & 0xffff) + (sum >> 16);
	return (uint16_t)~sum;
}

void pkt_addr(int family, const char *text, uint32_t out[4])
{
	memset(out, 0, 16);
	if (inet_pton(family == 4 ? AF_INET : AF_INET6, text, out) != 1) {
		fprintf(stderr, "pkt: bad address %s\n", text);
		abort();
	}
}

size_t pkt_l3_off(const uint8_t *frame)
{
	return get16(frame + 12) == 0x8100 ? 18 : 14;
}

static size_t put_l2(const struct pkt_spec *s, uint8_t *buf)
{
	uint16_t type = s->family == 4 ? 0x0800 : 0x86dd;

	memcpy(buf, pkt_lb_mac, 6);
	memcpy(buf + 6, pkt_client_mac, 6);
	if (!s->vlan) {
		put16(buf + 12, type);
		return 14;
	}
	put16(buf + 12, 0x8100);
	put16(buf + 14, s->vlan);
	put16(buf + 16, type);
	return 18;
}

/* Pseudo-header sum for the L4 checksum. */
static uint32_t pseudo_sum(const uint8_t *l3, uint8_t proto, size_t l4_len)
{
	uint32_t sum = 0;

	if ((l3[0] >> 4) == 4)
		sum = pkt_csum_add(l3 + 12, 8, 0);
	else
		sum = pkt_csum_add(l3 + 8, 32, 0);
	sum += proto;
	sum += (uint32_t)(l4_len >> 16) + (uint32_t)(l4_len & 0xffff);
	return sum;
}

static void put_l4(const struct pkt_spec *s, uint8_t *l3, uint8_t *l4, size_t l4_len)
{
	size_t hdr = 0, csum_at = 0;

	memset(l4, 0, l4_len < 20 ? l4_len : 20);
	switch (s->proto) {
	case IPPROTO_TCP:
		hdr = 20;
		put16(l4, s->sport);
		put16(l4 + 2, s->dport);
		put32(l4 + 4, 0x01020304);	/* seq */
		l4[12] = 5 << 4;
		l4[13] = s->tcp_flags ? s->tcp_flags : 0x10;
		put16(l4 + 14, 65535);
		csum_at = 16;
		break;
	case IPPROTO_UDP:
		hdr = 8;
		put16(l4, s->sport);
		put16(l4 + 2, s->dport);
		put16(l4 + 4, (uint16_t)l4_len);
		csum_at = 6;
		break;
	case IPPROTO_ICMP:
	case IPPROTO_ICMPV6:
		hdr = 8;
		l4[0] = s->family == 4 ? 8 : 128;	/* echo request */
		csum_at = 2;
		break;
	default:
		hdr = 0;
		break;
	}
	for (size_t i = hdr; i < l4_len; i++)
		l4[i] = (uint8_t)(i * 7 + 1);
	if (!hdr)
		return;
	uint32_t sum = s->proto == IPPROTO_ICMP ? 0 : pseudo_sum(l3, s->proto, l4_len);
	uint16_t c = pkt_csum_fold(pkt_csum_add(l4, l4_len, sum));
	if (s->proto == IPPROTO_UDP && !c)
		c = 0xffff;
	put16(l4 + csum_at, c);
}

static size_t l4_hdr_len(uint8_t proto)
{
	return proto == IPPROTO_TCP ? 20 : proto == IPPROTO_UDP || proto == IPPROTO_ICMP ||
					   proto == IPPROTO_ICMPV6 ? 8 : 0;
}

size_t pkt_build(const struct pkt_spec *s, uint8_t *buf)
{
	size_t off = put_l2(s, buf), l4_len = l4_hdr_len(s->proto) + s->payload;
	uint8_t *l3 = buf + off, *l4;
	uint32_t a[4];

	if (s->family == 4) {
		size_t ihl = s->ihl ? s->ihl : 5, hl = ihl * 4;

		memset(l3, 0, hl);
		l3[0] = 0x40 | (uint8_t)ihl;
		l3[1] = s->tos;
		put16(l3 + 2, (uint16_t)(hl + l4_len));
		put16(l3 + 4, 0x1234);
		put16(l3 + 6, (s->no_df ? 0 : 0x4000) | s->frag_off);
		l3[8] = 64;
		l3[9] = s->proto;
		pkt_addr(4, s->src, a);
		memcpy(l3 + 12, a, 4);
		pkt_addr(4, s->dst, a);
		memcpy(l3 + 16, a, 4);
		l4 = l3 + hl;
		put_l4(s, l3, l4, l4_len);
		put16(l3 + 10, pkt_csum_fold(pkt_csum_add(l3, hl, 0)));
		off += hl + l4_len;
	} else {
		size_t ext_len = 8 * (size_t)s->n_ext;

		memset(l3, 0, 40 + ext_len);
		put32(l3, 6u << 28 | (uint32_t)s->tos << 20 | 0x12345);
		put16(l3 + 4, (uint16_t)(ext_len + l4_len));
		l3[6] = s->n_ext ? s->ext[0] : s->proto;
		l3[7] = 64;
		pkt_addr(6, s->src, a);
		memcpy(l3 + 8, a, 16);
		pkt_addr(6, s->dst, a);
		memcpy(l3 + 24, a, 16);
		for (int i = 0; i < s->n_ext; i++) {
			uint8_t *e = l3 + 40 + 8 * i;

			e[0] = i + 1 < s->n_ext ? s->ext[i + 1] : s->proto;
			e[1] = 0;	/* 8 bytes; for a fragment header: offset 0, MF set below */
			if (s->ext[i] == IPPROTO_FRAGMENT)
				e[3] = 1;
		}
		l4 = l3 + 40 + ext_len;
		/* The L4 checksum ignores extension headers, so sum as if there were none. */
		put_l4(s, l3, l4, l4_len);
		off += 40 + ext_len + l4_len;
	}
	if (off < s->min_frame) {
		memset(buf + off, 0, s->min_frame - off);
		off = s->min_frame;
	}
	return off;
}

size_t pkt_build_icmp_err(int family, const char *router, const char *dst,
			  const struct pkt_spec *quoted, size_t quote_len, uint32_t mtu,
			  uint8_t *buf)
{
	uint8_t inner[PKT_MAX];
	size_t inner_len = pkt_build(quoted, inner) - 14;
	struct pkt_spec outer = { .family = family, .src = router, .dst = dst };
	size_t off = put_l2(&outer, buf);
	uint8_t *l3 = buf + off, *icmp;
	size_t hl = family == 4 ? 20 : 40, icmp_len;
	uint32_t a[4];

	if (quote_len > inner_len)
		quote_len = inner_len;
	icmp_len = 8 + quote_len;
	memset(l3, 0, hl + 8);
	if (family == 4) {
		l3[0] = 0x45;
		put16(l3 + 2, (uint16_t)(hl + icmp_len));
		l3[8] = 64;
		l3[9] = IPPROTO_ICMP;
		pkt_addr(4, router, a);
		memcpy(l3 + 12, a, 4);
		pkt_addr(4, dst, a);
		memcpy(l3 + 16, a, 4);
		put16(l3 + 10, pkt_csum_fold(pkt_csum_add(l3, hl, 0)));
	} else {
		put32(l3, 6u << 28);
		put16(l3 + 4, (uint16_t)icmp_len);
		l3[6] = IPPROTO_ICMPV6;
		l3[7] = 255;
		pkt_addr(6, router, a);
		memcpy(l3 + 8, a, 16);
		pkt_addr(6, dst, a);
		memcpy(l3 + 24, a, 16);
	}
	icmp = l3 + hl;
	if (family == 4) {
		icmp[0] = 3;
		icmp[1] = 4;
		put16(icmp + 6, (uint16_t)mtu);
	} else {
		icmp[0] = 2;
		put32(icmp + 4, mtu);
	}
	memcpy(icmp + 8, inner + 14, quote_len);
	uint32_t sum = family == 4 ? 0 : pseudo_sum(l3, IPPROTO_ICMPV6, icmp_len);
	put16(icmp + 2, pkt_csum_fold(pkt_csum_add(icmp, icmp_len, sum)));
	return off + hl + icmp_len;
}

bool pkt_ipv4_csum_ok(const uint8_t *l3)
{
	return pkt_csum_fold(pkt_csum_add(l3, (l3[0] & 15) * 4, 0)) == 0;
}

bool pkt_l4_csum_ok(const uint8_t *l3, size_t len)
{
	size_t hl = (l3[0] >> 4) == 4 ? (l3[0] & 15) * 4u : 40;
	uint8_t proto = (l3[0] >> 4) == 4 ? l3[9] : l3[6];
	uint32_t sum = proto == IPPROTO_ICMP ? 0 : pseudo_sum(l3, proto, len - hl);

	return pkt_csum_fold(pkt_csum_add(l3 + hl, len - hl, sum)) == 0;
}

size_t pkt_expect_dsr(const uint8_t *in, size_t len, const uint8_t be_mac[6], uint8_t *out)
{
	memcpy(out, in, len);
	memcpy(out + 6, in, 6);
	memcpy(out, be_mac, 6);
	return len;
}

/* The IP packet inside a frame, without Ethernet padding. */
static size_t l3_len(const uint8_t *l3)
{
	return (l3[0] >> 4) == 4 ? get16(l3 + 2) : 40u + get16(l3 + 4);
}

size_t pkt_expect_ipip(const uint8_t *in, size_t len, const struct pkt_outer *o, uint8_t *out)
{
	size_t l2 = pkt_l3_off(in), inner_len = l3_len(in + l2);
	const uint8_t *inner = in + l2;
	int inner_family = inner[0] >> 4;
	uint8_t tos = inner_family == 4 ? inner[1] : (uint8_t)((inner[0] << 4) | (inner[1] >> 4));
	uint8_t *ip = out + l2;
	size_t hl = o->family == 4 ? 20 : 40;

	(void)len;
	memcpy(out, in, l2);
	memcpy(out, o->mac, 6);
	memcpy(out + 6, in, 6);
	put16(out + l2 - 2, o->family == 4 ? 0x0800 : 0x86dd);
	memset(ip, 0, hl);
	if (o->family == 4) {
		ip[0] = 0x45;
		ip[1] = tos;
		put16(ip + 2, (uint16_t)(hl + inner_len));
		put16(ip + 6, 0x4000);
		ip[8] = o->ttl;
		ip[9] = inner_family == 4 ? IPPROTO_IPIP : IPPROTO_IPV6;
		memcpy(ip + 12, o->src, 4);
		memcpy(ip + 16, o->dst, 4);
		put16(ip + 10, pkt_csum_fold(pkt_csum_add(ip, 20, 0)));
	} else {
		put32(ip, 6u << 28 | (uint32_t)tos << 20 | (o->flow_label & 0xfffff));
		put16(ip + 4, (uint16_t)inner_len);
		ip[6] = inner_family == 4 ? IPPROTO_IPIP : IPPROTO_IPV6;
		ip[7] = o->ttl;
		memcpy(ip + 8, o->src, 16);
		memcpy(ip + 24, o->dst, 16);
	}
	memcpy(ip + hl, inner, inner_len);
	return l2 + hl + inner_len;
}

size_t pkt_expect_too_big(const uint8_t *in, size_t len, uint32_t mtu, uint8_t *out)
{
	size_t l2 = pkt_l3_off(in);
	const uint8_t *orig = in + l2;
	uint8_t *ip = out + l2, *icmp;
	int family = orig[0] >> 4;
	size_t hl = family == 4 ? 20 : 40;
	size_t quote = family == 4 ? 28 : 1280 - 48;

	(void)len;
	memcpy(out, in, l2);
	memcpy(out, in + 6, 6);
	memcpy(out + 6, in, 6);
	memset(ip, 0, hl + 8);
	icmp = ip + hl;
	if (family == 4) {
		ip[0] = 0x45;
		put16(ip + 2, (uint16_t)(hl + 8 + quote));
		ip[8] = 64;
		ip[9] = IPPROTO_ICMP;
		memcpy(ip + 12, orig + 16, 4);
		memcpy(ip + 16, orig + 12, 4);
		put16(ip + 10, pkt_csum_fold(pkt_csum_add(ip, 20, 0)));
		icmp[0] = 3;
		icmp[1] = 4;
		put16(icmp + 6, (uint16_t)mtu);
	} else {
		put32(ip, 6u << 28);
		put16(ip + 4, (uint16_t)(8 + quote));
		ip[6] = IPPROTO_ICMPV6;
		ip[7] = 64;
		memcpy(ip + 8, orig + 24, 16);
		memcpy(ip + 24, orig + 8, 16);
		icmp[0] = 2;
		put32(icmp + 4, mtu);
	}
	memcpy(icmp + 8, orig, quote);
	uint32_t sum = family == 4 ? 0 : pseudo_sum(ip, IPPROTO_ICMPV6, 8 + quote);
	put16(icmp + 2, pkt_csum_fold(pkt_csum_add(icmp, 8 + quote, sum)));
	return l2 + hl + 8 + quote;
}

void pkt_hexdump(const char *what, const uint8_t *p, size_t len)
{
	fprintf(stderr, "  %s (%zu bytes):", what, len);
	for (size_t i = 0; i < len && i < 128; i++)
		fprintf(stderr, "%s%02x", i % 16 ? " " : "\n    ", p[i]);
	fputc('\n', stderr);
}
