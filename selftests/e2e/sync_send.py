#!/usr/bin/env python3
"""Sends lbd sync messages (userspace/lbd/sync.h's wire format) from a given
source address, for the tests: good ones, and each kind a node must refuse.

  sync_send.py --from ADDR:PORT --to ADDR:PORT --key-file F [--kind KIND]
               [--flow SRC:SPORT,DST:DPORT,tcp|udp,BACKEND]... [--seq N]

KIND: good (default), bad-key, truncated, oversized, replay (the same
message twice: the first is taken, the second refused), stale (its time 60 s
ago), bad-count (a count that does not match its length, HMAC right).
Prints what it sent, one line per datagram.
"""
import argparse
import hashlib
import hmac
import ipaddress
import socket
import struct
import time

MAGIC, VERSION, FLOWS, MAC_LEN = b"XLBS", 1, 1, 32
AF_INET, AF_INET6 = 2, 10   # XLB_AF_*: the kernel's values


def host_port(text):
    host, _, port = text.rpartition(":")
    return host.strip("[]"), int(port)


def flow_entry(spec):
    """SRC:SPORT,DST:DPORT,PROTO,BACKEND -> the 60 bytes of a sync_entry."""
    src, dst, proto, backend = spec.split(",")
    (sa, sp), (da, dp) = host_port(src), host_port(dst)
    s, d, b = (ipaddress.ip_address(x) for x in (sa, da, backend))
    fam = AF_INET if s.version == 4 else AF_INET6
    pad16 = lambda a: a.packed + bytes(16 - len(a.packed))
    key = pad16(s) + pad16(d) + struct.pack("!HH", sp, dp) + bytes([6 if proto == "tcp" else 17, fam, 0, 0])
    return key + pad16(b) + bytes([AF_INET if b.version == 4 else AF_INET6, 0, 0, 0])


def message(key, seq, when_ms, entries, count=None):
    hdr = MAGIC + struct.pack("!BBHQQ", VERSION, FLOWS, len(entries) if count is None else count, seq, when_ms)
    body = hdr + b"".join(entries)
    return body + hmac.new(key, body, hashlib.sha256).digest()


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--from", dest="src", required=True)
    ap.add_argument("--to", required=True)
    ap.add_argument("--key-file", required=True)
    ap.add_argument("--kind", default="good")
    ap.add_argument("--flow", action="append", default=[])
    ap.add_argument("--seq", type=int, default=0)
    a = ap.parse_args()
    key = open(a.key_file, "rb").read().rstrip(b"\r\n")
    entries = [flow_entry(f) for f in a.flow]
    # As lbd numbers its own (wall-clock ms x 1000, then one a message): a real peer started later goes above.
    seq = a.seq or int(time.time() * 1000) * 1000
    now = int(time.time() * 1000)
    msgs = []
    if a.kind == "good":
        msgs = [message(key, seq, now, entries)]
    elif a.kind == "bad-key":
        msgs = [message(b"not-the-key-" + key, seq, now, entries)]
    elif a.kind == "truncated":
        msgs = [message(key, seq, now, entries)[:-40]]
    elif a.kind == "oversized":
        msgs = [message(key, seq, now, entries * 30)]
    elif a.kind == "replay":
        m = message(key, seq, now, entries)
        msgs = [m, m]
    elif a.kind == "stale":
        msgs = [message(key, seq, now - 60000, entries)]
    elif a.kind == "bad-count":
        msgs = [message(key, seq, now, entries, count=len(entries) + 1)]
    else:
        raise SystemExit(f"sync_send.py: unknown kind {a.kind}")
    shost, sport = host_port(a.src)
    dhost, dport = host_port(a.to)
    fam = socket.AF_INET6 if ":" in shost else socket.AF_INET
    with socket.socket(fam, socket.SOCK_DGRAM) as s:
        s.bind((shost, sport))
        for m in msgs:
            s.sendto(m, (dhost, dport))
            print(f"sent {a.kind}: {len(m)} bytes, {len(entries)} flows, seq {seq}")


if __name__ == "__main__":
    main()
