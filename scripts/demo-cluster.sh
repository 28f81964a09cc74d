#!/usr/bin/env bash
# The cluster demo: two xlb nodes announce the VIPs by BGP through their own
# BIRD to a router (scripts/cluster.sh), which spreads the client's flows
# over both by ECMP; then one node's lbd stops, withdraws its routes first,
# and the traffic moves to the other. Everything is shown with ip, birdc and
# lbctl, and torn down at the end, also on failure or Ctrl-C.
set -euo pipefail
build=${1:-build}
if ((EUID != 0)); then
	echo "demo-cluster: namespaces and XDP need root: sudo make demo-cluster" >&2
	exit 1
fi
if ! command -v bird >/dev/null; then
	echo "demo-cluster: BIRD 2 is missing: scripts/install-deps.sh (Debian bird2)" >&2
	exit 1
fi
root=$(cd "$(dirname "$0")/.." && pwd)
export TB_BUILD TB_DIR=/tmp/xlb-demo-cluster.$$
TB_BUILD=$(cd "$build" && pwd)
# shellcheck source=testbed.sh
source "$root/scripts/testbed.sh"
# shellcheck source=cluster.sh
source "$root/scripts/cluster.sh"
P=xlb-dc
VIP4=198.18.1.1 VIP6=2001:db8:1::1
KEY4="$VIP4:80/tcp" KEY6="[$VIP6]:80/tcp"
tb_bpffs_up
trap 'cl_down $P; rm -rf "$TB_DIR"; tb_bpffs_down' EXIT
trap 'exit 130' INT TERM

say() { printf '\n\033[1m$ %s\033[0m\n' "$*"; }
lbctl() { local n=$1; shift; say "lbctl $*    # on $n"; cl_lbctl $P "$n" "$@"; }
birdc_on() { local n=$1; shift; say "birdc $*    # on ${n/rt/the router}"; cl_birdc $P "$n" "$@" | tail -n +2; }
ip_rt() { say "ip $*    # on the router"; ip -n $P-rt "$@"; }
# traffic N: N new connections to each VIP from the client; who answered, and
# which node carried them (the VIP's NEW_FLOWS in each node's lbctl stats).
traffic() {
	local n=$1 host key node before=() i urls after
	for host in $VIP4 "[$VIP6]"; do
		key=$KEY4
		[[ $host == \[* ]] && key=$KEY6
		before=()
		for node in lb lb2; do before+=("$(new_flows "$node" "$key")"); done
		urls=()
		for ((i = 0; i < n; i++)); do urls+=("http://$host/"); done
		say "curl $n requests, each a new connection, to http://$host/ (from the client, behind the router)"
		ip netns exec $P-cli curl -sS -g --fail --max-time 5 -H 'Connection: close' "${urls[@]}" |
			sort | uniq -c | awk -v n="$n" '{ printf "  %-4s answered %3d requests (%.1f%%)\n", $2, $1, 100 * $1 / n }'
		i=0
		for node in lb lb2; do
			after=$(new_flows "$node" "$key")
			if [[ -n $after && -n ${before[i]} ]]; then
				printf '  node %-4s carried %3d of them (lbctl -j stats: the VIP'"'"'s new_flows)\n' \
					"$node" $((after - before[i]))
			else
				printf '  node %-4s: lbd is not running there\n' "$node"
			fi
			i=$((i + 1))
		done
	done
}
new_flows() {
	cl_lbctl $P "$1" -j stats 2>/dev/null | python3 -c 'import json, sys
print(sum(v["new_flows"] for v in json.load(sys.stdin)["vips"] if v["vip"] == sys.argv[1]))' "$2" 2>/dev/null || true
}
wait_nodes() {
	local want=$1 t
	for ((t = 0; t < 100; t++)); do
		[[ $(cl_router_nodes $P $VIP4)/$(cl_router_nodes $P $VIP6) == "$want/$want" ]] && return 0
		sleep 0.1
	done
	echo "demo-cluster: the router's next hops are '$(cl_router_nodes $P $VIP4)', not '$want'" >&2
	return 1
}

cl_down $P 2>/dev/null || true
cl_up $P 2 3
cl_sessions_up $P 20
for i in 1 2 3; do tb_wait_http $P "$i"; done
for n in lb lb2; do TB_LB=$n tb_lbd_start $P; done

for n in lb lb2; do
	lbctl $n attach eth0
	lbctl $n vip add $KEY4 --forward dsr --announce healthy
	lbctl $n vip add "$KEY6" --forward dsr
	for i in 1 2 3; do
		lbctl $n backend add $KEY4 "198.18.0.10$i"
		lbctl $n backend add "$KEY6" "2001:db8::10$i"
	done
	lbctl $n bgp set --bird-socket "$(cl_bird_sock $P $n)" --include "$(cl_node_include $P $n)" \
		--hold-down 2s --withdraw-delay 2s
done
wait_nodes "lb lb2"
say "cat $(cl_node_include $P lb)    # the file lbd wrote for its BIRD"
cat "$(cl_node_include $P lb)"
lbctl lb bgp show
birdc_on rt show protocols
birdc_on rt show route
ip_rt route show $VIP4
ip_rt -6 route show $VIP6
lbctl lb vip list
lbctl lb2 vip list

traffic 200

echo
echo "demo-cluster: stopping lbd on lb2 (SIGTERM): it withdraws its routes, waits 2 s, then exits"
pid=$(cat "$TB_DIR/$P/lbd-lb2.pid")
kill -TERM "$pid"
for ((t = 0; t < 50; t++)); do
	[[ $(cl_router_nodes $P $VIP4) == lb ]] && break
	sleep 0.1
done
ip_rt route show $VIP4
if kill -0 "$pid" 2>/dev/null; then
	echo "  (lbd on lb2 is still running: it gives the routers its withdraw-delay to move the flows)"
	lbctl lb2 bgp show || true
fi
TB_LB=lb2 tb_lbd_stop $P
say "cat $(cl_node_include $P lb2)    # what lbd on lb2 left for its BIRD"
cat "$(cl_node_include $P lb2)"
birdc_on lb2 show route protocol xlb4
birdc_on rt show route
wait_nodes lb
traffic 200

echo
echo "demo-cluster: lbd on lb2 starts again and announces again"
TB_LB=lb2 tb_lbd_start $P
wait_nodes "lb lb2"
ip_rt route show $VIP4
traffic 200
echo
echo "demo-cluster: done; tearing the cluster down"
