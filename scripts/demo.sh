#!/usr/bin/env bash
# The demo: a namespaced test bed (a client, a balancer running lbd, three
# backends answering with their names), a VIP configured through lbctl,
# real curl traffic through it, and what lbctl shows about it. It tears
# everything down at the end, also on failure or Ctrl-C.
set -euo pipefail
build=${1:-build}
if ((EUID != 0)); then
	echo "demo: namespaces and XDP need root: sudo make demo" >&2
	exit 1
fi
root=$(cd "$(dirname "$0")/.." && pwd)
export TB_BUILD TB_DIR=/tmp/xlb-demo.$$
TB_BUILD=$(cd "$build" && pwd)
# shellcheck source=testbed.sh
source "$root/scripts/testbed.sh"
P=xlb-demo
tb_bpffs_up
trap 'tb_down $P; rm -rf "$TB_DIR"; tb_bpffs_down' EXIT
trap 'exit 130' INT TERM

say() { printf '\n\033[1m$ %s\033[0m\n' "$*"; }
lbctl() { say "lbctl $*"; tb_lbctl $P "$@"; }

tb_down $P 2>/dev/null || true
tb_up $P 3
tb_lbd_start $P
for i in 1 2 3; do tb_wait_http $P "$i"; done

lbctl attach eth0
lbctl vip add 198.18.1.1:80/tcp --forward dsr
for i in 1 2 3; do lbctl backend add 198.18.1.1:80/tcp "198.18.0.10$i"; done
lbctl vip add "[2001:db8:1::1]:80/tcp" --forward ipip
for i in 1 2 3; do lbctl backend add "[2001:db8:1::1]:80/tcp" "2001:db8::10$i"; done
sleep 1

N=300
for host in 198.18.1.1 "[2001:db8:1::1]"; do
	urls=()
	for ((i = 0; i < N; i++)); do urls+=("http://$host/"); done
	say "curl $N requests, each a new connection, to http://$host/ (from the client namespace)"
	ip netns exec $P-cli curl -sS -g --fail --max-time 5 -H 'Connection: close' "${urls[@]}" |
		sort | uniq -c | awk -v n=$N '{ printf "  %-4s answered %3d requests (%.1f%%)\n", $2, $1, 100 * $1 / n }'
done

lbctl show
lbctl stats
echo
echo "demo: done; tearing the test bed down"
