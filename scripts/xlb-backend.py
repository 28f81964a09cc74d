#!/usr/bin/env python3
"""A test-bed backend: answers with its own name so clients can see who served them.

HTTP on TCP (dual stack, every address):
  GET /        -> "NAME\n"
  GET /stream?seconds=S&interval=I
               -> one line "NAME SEQ" every I seconds for S seconds (a long-lived flow)
  GET /health  -> 200, or what the --health-file says, so tests can make a
                  backend sick without stopping it: "503" (any status),
                  "hang" (never answer), "flap" (200 and 503 by turns),
                  "delay:MS" (200 after MS milliseconds)
UDP on the given VIP addresses: each datagram "SEQ ..." is answered with
"NAME SEQ" from the VIP (the socket is bound to it, as DSR needs), and the
highest and total sequence numbers seen are kept for the test to read with
a datagram "stats".
"""
import argparse
import http.server
import socket
import socketserver
import threading
import time
import urllib.parse


class DualStackServer(http.server.ThreadingHTTPServer):
    address_family = socket.AF_INET6
    daemon_threads = True
    request_queue_size = 1024  # health checks of many backends arrive together

    def server_bind(self):
        self.socket.setsockopt(socket.IPPROTO_IPV6, socket.IPV6_V6ONLY, 0)
        super().server_bind()


def make_handler(name, health_file):
    flap = {}  # per client address: each checker sees 200 and 503 by turns
    flap_lock = threading.Lock()

    def health_status(client):
        try:
            with open(health_file) as f:
                mode = f.read().strip()
        except (OSError, TypeError):
            return 200
        if mode == "hang":
            time.sleep(3600)
        if mode.startswith("delay:"):  # a slow server: answers 200 after MS milliseconds
            time.sleep(int(mode[6:]) / 1000)
            return 200
        if mode == "flap":
            with flap_lock:
                status = flap.get(client, 200)
                flap[client] = 503 if status == 200 else 200
            return status
        return int(mode) if mode.isdigit() else 200

    class Handler(http.server.BaseHTTPRequestHandler):
        protocol_version = "HTTP/1.1"

        def log_message(self, *args):
            pass

        def do_GET(self):
            url = urllib.parse.urlparse(self.path)
            if url.path == "/stream":
                q = urllib.parse.parse_qs(url.query)
                seconds = float(q.get("seconds", ["10"])[0])
                interval = float(q.get("interval", ["0.1"])[0])
                self.send_response(200)
                self.send_header("Content-Type", "text/plain")
                self.send_header("Connection", "close")
                self.end_headers()
                seq = 0
                end = time.monotonic() + seconds
                while time.monotonic() < end:
                    self.wfile.write(f"{name} {seq}\n".encode())
                    self.wfile.flush()
                    seq += 1
                    time.sleep(interval)
                return
            status = health_status(self.client_address[0]) if url.path == "/health" else 200
            body = f"{name}\n".encode()
            self.send_response(status)
            self.send_header("Content-Type", "text/plain")
            self.send_header("Content-Length", str(len(body)))
            # Say so when the client asked to close: else curl reuses the connection
            # for its next URL and races our close (a reset, seen as a failed request).
            if self.close_connection:
                self.send_header("Connection", "close")
            self.end_headers()
            self.wfile.write(body)

    return Handler


def serve_udp(name, addr, port):
    family = socket.AF_INET6 if ":" in addr else socket.AF_INET
    s = socket.socket(family, socket.SOCK_DGRAM)
    s.bind((addr, port))
    seen = 0
    while True:
        data, peer = s.recvfrom(2048)
        word = data.split(b" ", 1)[0]
        if word == b"stats":
            s.sendto(f"{name} seen {seen}".encode(), peer)
            continue
        seen += 1
        s.sendto(f"{name} ".encode() + word, peer)


def main():
    p = argparse.ArgumentParser()
    p.add_argument("--name", required=True)
    p.add_argument("--port", type=int, default=80)
    p.add_argument("--udp", action="append", default=[], metavar="ADDR",
                   help="answer UDP on this VIP address (repeatable)")
    p.add_argument("--udp-port", type=int, default=7000)
    p.add_argument("--health-file", help="what GET /health answers (see above)")
    a = p.parse_args()
    for addr in a.udp:
        threading.Thread(target=serve_udp, args=(a.name, addr, a.udp_port), daemon=True).start()
    DualStackServer(("::", a.port), make_handler(a.name, a.health_file)).serve_forever()


if __name__ == "__main__":
    main()
