#!/usr/bin/env python3
"""UDP flows through a VIP for scripts/bench-bgp.sh: one socket a source
port, a numbered datagram every INTERVAL on each, which the backend
(scripts/xlb-backend.py) answers straight back.

Once every flow has had an answer within the last 100 ms it writes the
--ready file; from then on it times each flow's longest silence: the
longest time between two answers, or from the last answer to the end.
It ends when the --stop file appears (or after --max seconds) and prints
one line a flow:
    SPORT silence_ms MS from_ms T answered N sent M
T is when that silence began (Unix time in ms). Exit status 2 when the
flows never were all answered within --ready-timeout (then nothing was
measured; the lines say what came back).

With --timeline FILE it also writes every answer from ready on, one line
each, for the charts (a silence alone does not show how the flow came
back):
    SPORT T GAP_MS
T is the answer's Unix time in ms, GAP_MS the silence before it on that
flow. The lines are kept in memory and written at the end, so that no
file write delays the flows' sends.
"""
import argparse
import os
import select
import socket
import time


def main():
    p = argparse.ArgumentParser()
    p.add_argument("--dst", required=True)
    p.add_argument("--port", type=int, default=7000)
    p.add_argument("--src", required=True, help="the client's address to send from")
    p.add_argument("--sports", required=True, help="source ports, comma-separated: one flow each")
    p.add_argument("--interval", type=float, default=0.01)
    p.add_argument("--ready", required=True)
    p.add_argument("--stop", required=True)
    p.add_argument("--ready-timeout", type=float, default=10.0)
    p.add_argument("--max", type=float, default=30.0)
    p.add_argument("--timeline", help="write every answer's time and the silence before it here")
    a = p.parse_args()

    family = socket.AF_INET6 if ":" in a.dst else socket.AF_INET
    ports = [int(x) for x in a.sports.split(",") if x]
    socks = []
    for sp in ports:
        s = socket.socket(family, socket.SOCK_DGRAM)
        s.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        s.bind((a.src, sp))
        s.connect((a.dst, a.port))
        s.setblocking(False)
        socks.append(s)
    index = {s.fileno(): i for i, s in enumerate(socks)}
    n = len(socks)
    last = [None] * n        # monotonic time of the last answer
    answered = [0] * n
    sent = [0] * n
    worst = [0.0] * n        # longest silence since ready, seconds
    worst_from = [0.0] * n   # when it began, monotonic
    # Wall clock = monotonic + offset, for the "from" times.
    offset = time.time() - time.monotonic()
    answers = []             # (flow, monotonic time, silence before it), from ready on

    poller = select.poll()
    for s in socks:
        poller.register(s, select.POLLIN)
    start = time.monotonic()
    ready_at = None
    seq = 0
    next_send = start
    while True:
        now = time.monotonic()
        if now >= next_send:
            for i, s in enumerate(socks):
                try:
                    s.send(f"{seq} bench".encode())
                    sent[i] += 1
                except OSError:
                    pass  # an ICMP error reported on the socket, or no route: keep sending
            seq += 1
            next_send += a.interval
            if next_send < now:  # we fell behind (a stall of this process): do not burst
                next_send = now + a.interval
        timeout_ms = max(0, int((next_send - time.monotonic()) * 1000) + 1)
        for fd, _ in poller.poll(timeout_ms):
            i = index[fd]
            while True:
                try:
                    socks[i].recv(2048)
                except BlockingIOError:
                    break
                except OSError:
                    continue  # ECONNREFUSED and the like: read on
                t = time.monotonic()
                if ready_at is not None and last[i] is not None:
                    if t - last[i] > worst[i]:
                        worst[i] = t - last[i]
                        worst_from[i] = last[i]
                    if a.timeline:
                        answers.append((i, t, t - last[i]))
                last[i] = t
                answered[i] += 1
        now = time.monotonic()
        if ready_at is None:
            if all(x is not None and now - x < 0.1 for x in last):
                ready_at = now
                worst_from = [now] * n
                answered = [0] * n
                sent = [0] * n
                with open(a.ready, "w") as f:
                    f.write(f"{int((now + offset) * 1000)}\n")
            elif now - start > a.ready_timeout:
                for i in range(n):
                    print(f"{ports[i]} silence_ms - from_ms - answered {answered[i]} sent {sent[i]}")
                return 2
            continue
        if os.path.exists(a.stop) or now - ready_at > a.max:
            break
    end = time.monotonic()
    for i in range(n):
        if end - last[i] > worst[i]:
            worst[i] = end - last[i]
            worst_from[i] = last[i]
        print(f"{ports[i]} silence_ms {worst[i] * 1000:.0f} from_ms {int((worst_from[i] + offset) * 1000)} "
              f"answered {answered[i]} sent {sent[i]}")
    if a.timeline:
        with open(a.timeline, "w") as f:
            for i, t, gap in answers:
                f.write(f"{ports[i]} {(t + offset) * 1000:.1f} {gap * 1000:.1f}\n")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
