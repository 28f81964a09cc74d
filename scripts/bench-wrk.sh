#!/usr/bin/env bash
# Requests per second with wrk (for BENCHMARKS.md; nothing is asserted):
# through the VIP with xlb (DSR) to three nginx backends, next to wrk
# straight to one backend (what the balancer costs), next to the balancer
# a user of this kernel would otherwise build: nftables DNAT (numgen round
# robin) with masquerade, in the same balancer namespace.
set -euo pipefail
build=${1:-build}
SECS=${BENCH_WRK_SECONDS:-5}
root=$(cd "$(dirname "$0")/.." && pwd)
export TB_BUILD TB_DIR=/tmp/xlb-bench-wrk.$$ TB_QUIET=1
TB_BUILD=$(cd "$build" && pwd)
source "$root/scripts/testbed.sh"
P=xb-wrk
for tool in nginx wrk nft; do
	command -v $tool >/dev/null || { echo "skip wrk comparison: $tool missing (make deps installs it)"; exit 0; }
done
DIR=$(tb_dir $P)
cleanup() {
	local f
	set +e	# a trap must get through every step
	for f in "$DIR"/nginx*.pid; do
		if [[ -e $f ]]; then kill "$(cat "$f")" 2>/dev/null; fi
	done
	ip netns exec $P-lb nft delete table ip xlb_bench 2>/dev/null || true
	tb_down $P >/dev/null 2>&1
	rm -rf "$TB_DIR"
	tb_bpffs_down
}
tb_bpffs_up
trap cleanup EXIT
tb_down $P >/dev/null 2>&1 || true
tb_up $P 3
mkdir -p "$DIR"
# nginx instead of the python servers: a small static page on port 80.
for i in 1 2 3; do
	tb_server_stop $P $i
	mkdir -p "$DIR/nginx$i"
	echo "be$i" >"$DIR/nginx$i/index.html"
	cat >"$DIR/nginx$i.conf" <<NG
worker_processes 1;
pid $DIR/nginx$i.pid;
error_log $DIR/nginx$i.err;
events { worker_connections 4096; }
http {
    access_log off;
    client_body_temp_path $DIR/nginx$i;
    proxy_temp_path $DIR/nginx$i;
    fastcgi_temp_path $DIR/nginx$i;
    uwsgi_temp_path $DIR/nginx$i;
    scgi_temp_path $DIR/nginx$i;
    server { listen 80; listen [::]:80; root $DIR/nginx$i; keepalive_requests 100000; }
}
NG
	ip netns exec $P-be$i nginx -c "$DIR/nginx$i.conf" -p "$DIR" -e "$DIR/nginx$i.err"
done
sleep 0.5

run_wrk() {	# URL: requests/s
	ip netns exec $P-cli wrk -t2 -c64 -d"${SECS}s" "$1" 2>&1 | awk '/Requests\/sec/ { print $2 }'
}

echo "== wrk -t2 -c64 -d${SECS}s, 3 nginx backends (1 worker each), same machine"
direct=$(run_wrk "http://198.18.0.101/")

tb_lbd_start $P
tb_lbctl $P attach eth0 >/dev/null
tb_lbctl $P vip add 198.18.1.1:80/tcp >/dev/null
for i in 1 2 3; do tb_lbctl $P backend add 198.18.1.1:80/tcp "198.18.0.10$i" >/dev/null; done
sleep 1
xlb=$(run_wrk "http://198.18.1.1/")
tb_lbctl $P detach eth0 >/dev/null
tb_lbd_stop $P

# nftables: DNAT round robin, masquerade so replies come back through the balancer.
ip netns exec $P-lb sysctl -qw net.ipv4.ip_forward=1
ip netns exec $P-lb nft -f - <<NFT
table ip xlb_bench {
    chain pre {
        type nat hook prerouting priority dstnat;
        ip daddr 198.18.1.1 tcp dport 80 dnat to numgen inc mod 3 map { 0 : 198.18.0.101, 1 : 198.18.0.102, 2 : 198.18.0.103 }
    }
    chain post {
        type nat hook postrouting priority srcnat;
        ip daddr 198.18.0.0/24 tcp dport 80 masquerade
    }
}
NFT
nft=$(run_wrk "http://198.18.1.1/")

printf '%-34s %12s\n' setup "requests/s"
printf '%-34s %12s\n' "wrk -> one nginx backend, direct" "$direct"
printf '%-34s %12s\n' "wrk -> VIP, xlb DSR, 3 backends" "$xlb"
printf '%-34s %12s\n' "wrk -> VIP, nftables DNAT+masq" "$nft"
