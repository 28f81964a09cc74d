#!/usr/bin/env python3
"""A UDP flow through the VIP: numbered datagrams at a steady rate from one
source port, each answered by the backend (DSR, straight back). Prints
"sent N answered M backends NAME,..." so a test can see every loss.
"""
import argparse
import socket
import threading
import time


def main():
    p = argparse.ArgumentParser()
    p.add_argument("--dst", required=True)
    p.add_argument("--port", type=int, default=7000)
    p.add_argument("--count", type=int, default=1000)
    p.add_argument("--rate", type=float, default=200.0)
    p.add_argument("--ready", help="write the first answer's backend name here once it came back")
    a = p.parse_args()

    family = socket.AF_INET6 if ":" in a.dst else socket.AF_INET
    s = socket.socket(family, socket.SOCK_DGRAM)
    s.connect((a.dst, a.port))
    s.settimeout(0.2)
    answered = set()
    backends = set()
    done = threading.Event()

    def receive():
        while not done.is_set() or len(answered) < a.count:
            try:
                data = s.recv(2048)
            except socket.timeout:
                if done.is_set():
                    return
                continue
            except ConnectionRefusedError:
                continue
            name, _, seq = data.decode().partition(" ")
            backends.add(name)
            if a.ready and not answered:
                with open(a.ready, "w") as f:
                    f.write(name + "\n")
            answered.add(int(seq))

    t = threading.Thread(target=receive)
    t.start()
    start = time.monotonic()
    for seq in range(a.count):
        delay = start + seq / a.rate - time.monotonic()
        if delay > 0:
            time.sleep(delay)
        s.send(f"{seq} xlb".encode())
    time.sleep(1.0)
    done.set()
    t.join()
    print(f"sent {a.count} answered {len(answered)} backends {','.join(sorted(backends))}")


if __name__ == "__main__":
    main()
