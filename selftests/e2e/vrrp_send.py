#!/usr/bin/env python3
"""Sends one VRRPv3 advertisement for IPv4, well formed or broken on purpose,
from this namespace's interface to 224.0.0.18: the tests' fake peer.

  vrrp_send.py --dev eth0 --src 198.18.0.10 --vrid 51 --priority 250 \
      --vip 198.18.1.1 [--ttl 64] [--version 2] [--type 2] [--bad-checksum]
      [--truncate N] [--count N] [--interval-cs 100]
"""
import argparse
import socket
import struct
import time


def csum(data):
    if len(data) % 2:
        data += b"\0"
    s = sum(struct.unpack(f"!{len(data) // 2}H", data))
    while s >> 16:
        s = (s & 0xFFFF) + (s >> 16)
    return ~s & 0xFFFF


def main():
    p = argparse.ArgumentParser()
    p.add_argument("--dev", default="eth0")
    p.add_argument("--src", required=True)
    p.add_argument("--vrid", type=int, required=True)
    p.add_argument("--priority", type=int, default=250)
    p.add_argument("--vip", action="append", default=[])
    p.add_argument("--ttl", type=int, default=255)
    p.add_argument("--version", type=int, default=3)
    p.add_argument("--type", type=int, default=1)
    p.add_argument("--interval-cs", type=int, default=100)
    p.add_argument("--bad-checksum", action="store_true")
    p.add_argument("--truncate", type=int, default=0, help="cut the VRRP message to N bytes")
    p.add_argument("--count", type=int, default=1)
    p.add_argument("--every", type=float, default=0.1, help="seconds between copies")
    a = p.parse_args()

    src = socket.inet_aton(a.src)
    dst = socket.inet_aton("224.0.0.18")
    addrs = b"".join(socket.inet_aton(v) for v in a.vip)
    msg = struct.pack("!BBBBHH", a.version << 4 | a.type, a.vrid, a.priority, len(a.vip),
                      a.interval_cs & 0x0FFF, 0) + addrs
    pseudo = src + dst + struct.pack("!BBH", 0, 112, len(msg))
    c = csum(pseudo + msg)
    if a.bad_checksum:
        c ^= 0x5A5A
    msg = msg[:6] + struct.pack("!H", c) + msg[8:]
    if a.truncate:
        msg = msg[:a.truncate]
    ip = struct.pack("!BBHHHBBH4s4s", 0x45, 0xC0, 20 + len(msg), 0, 0, a.ttl, 112, 0, src, dst)

    s = socket.socket(socket.AF_INET, socket.SOCK_RAW, socket.IPPROTO_RAW)
    s.setsockopt(socket.SOL_SOCKET, socket.SO_BINDTODEVICE, a.dev.encode())
    for i in range(a.count):
        s.sendto(ip + msg, ("224.0.0.18", 0))
        if i + 1 < a.count:
            time.sleep(a.every)


if __name__ == "__main__":
    main()
