#!/usr/bin/env bash
# Cluster figures for BENCHMARKS.md (not a test: nothing is asserted). The
# cluster bed (scripts/cluster.sh) with three xlb nodes in one etcd cluster
# (etcd in the router's namespace), sharing flows (sync lines); no BGP: the
# router's cl_pin sends the client's connections to lb.
#   apply      an etcdctl put of a new backend weight, and when each node
#              logged the revision applied (lbd's log, ms), REPS writes
#   sync       sync traffic per new flow: N short connections with nothing
#              changed (steady state), then N more after a drain moved a
#              third of the slots; bytes are lbd's datagrams with their
#              UDP and IPv4 headers, to each peer
#   join       lb3 started after that: flows its peers sent it, and how
#              long until it joined
set -euo pipefail
build=${1:-build}
REPS=${BENCH_REPS:-10}
N=${BENCH_CLUSTER_FLOWS:-300}
root=$(cd "$(dirname "$0")/.." && pwd)
export TB_BUILD
TB_BUILD=$(cd "$build" && pwd)
# shellcheck source=cluster.sh
source "$root/scripts/cluster.sh"
P=xb-cl
DIR=$(tb_dir $P)
KEY="$TB_VIP4:80/tcp"
CKEY=/xlb/xb/config
PORT=7946
tb_bpffs_up
trap 'cl_etcd_stop $P >/dev/null 2>&1; cl_down $P >/dev/null 2>&1' EXIT
cl_down $P >/dev/null 2>&1
cl_up $P 3 3 >/dev/null
for i in 1 2 3; do tb_wait_http $P $i; done
cl_etcd_start $P
head -c 32 /dev/urandom | base64 >"$DIR/sync.key"
chmod 600 "$DIR/sync.key"
on() { local n=$1; shift; cl_lbctl $P "$n" "$@"; }
jq1() { python3 -c 'import json, sys; d = json.load(sys.stdin); print(eval(sys.argv[1]))' "$1"; }
sync_addr() { echo "$(cl_node_addr "$1" 4):$PORT"; }
for n in lb lb2 lb3; do
	peers=""
	for m in lb lb2 lb3; do [[ $m == "$n" ]] || peers+="${peers:+,}$(sync_addr "$m")"; done
	printf 'attach eth0\ncluster xb etcd %s cache %s/%s.cluster\nsync listen %s peers %s key-file %s/sync.key\n' \
		"$CL_ETCD" "$DIR" "$n" "$(sync_addr "$n")" "$peers" "$DIR" >"$DIR/$(TB_LB=$n tb_lbd_base).conf"
done
cl_etcdctl $P put $CKEY "$(printf 'vip %s forward dsr\n' "$KEY"; for i in 1 2 3; do
	printf '  backend %s\n' "$(tb_backend_addr $i 4)"; done)" >/dev/null
for n in lb lb2; do TB_LB=$n tb_lbd_start $P; done
sleep 4	# joined: lb3 is not up, each waits its 3 s for it
echo "== machine"
grep -m1 'model name' /proc/cpuinfo || true
echo "cores: $(nproc), kernel: $(uname -r)"

echo "== apply: from an etcdctl put to each node's log of the revision applied, $REPS writes"
log_ms() {	# LOG REV: the ms timestamp of "revision REV applied" in LOG
	local line
	line=$(grep -m1 "cluster: revision $2 applied" "$1") || return 1
	date -d "$(cut -d' ' -f1 <<<"$line")" +%s%3N
}
declare -a d_lb d_lb2
for ((r = 0; r < REPS; r++)); do
	t0=$(date +%s%3N)
	rev=$(cl_etcdctl $P put $CKEY "$(printf 'vip %s forward dsr\n' "$KEY"; for i in 1 2 3; do
		printf '  backend %s weight %d\n' "$(tb_backend_addr $i 4)" $((r % 5 + 1)); done)" -w json |
		jq1 "d['header']['revision']")
	for ((t = 0; t < 100; t++)); do
		log_ms "$DIR/lbd.log" "$rev" >/dev/null && log_ms "$DIR/lbd-lb2.log" "$rev" >/dev/null && break
		sleep 0.02
	done
	d_lb+=($(($(log_ms "$DIR/lbd.log" "$rev") - t0)))
	d_lb2+=($(($(log_ms "$DIR/lbd-lb2.log" "$rev") - t0)))
done
med() { printf '%s\n' "$@" | sort -n | awk '{ v[NR] = $1 } END { printf "%d ms (%d-%d)", v[int((NR + 1) / 2)], v[1], v[NR] }'; }
echo "lb: $(med "${d_lb[@]}"), lb2: $(med "${d_lb2[@]}") (the put's own time included: etcdctl starts, connects, writes)"

echo "== sync: datagram bytes per new flow, $N short connections pinned to lb"
peer_sum() {	# NODE FIELD: FIELD summed over NODE's peers
	on "$1" -j sync show | jq1 "sum(p['$2'] for p in d['peers'])"
}
# run_flows: N connections from the pinned ports, one request each; prints how many were answered.
run_flows() {
	local urls=() i
	for ((i = 0; i < N; i++)); do urls+=("http://$TB_VIP4/"); done
	ip netns exec $P-cli curl -s --max-time 60 -H 'Connection: close' --local-port $CL_PIN_PORTS "${urls[@]}" |
		grep -c '^be[1-3]$' || true
}
measure() {	# WHAT
	local m0 f0 m1 f1 n bytes
	m0=$(peer_sum lb sent_msgs) f0=$(peer_sum lb sent_flows)
	n=$(run_flows)
	sleep 0.5
	m1=$(peer_sum lb sent_msgs) f1=$(peer_sum lb sent_flows)
	# A datagram: IPv4 20 + UDP 8 + header 24 + HMAC 32, and 60 a flow.
	bytes=$(((m1 - m0) * 84 + (f1 - f0) * 60))
	awk -v w="$1" -v n="$n" -v f=$((f1 - f0)) -v m=$((m1 - m0)) -v b=$bytes 'BEGIN {
		printf "%s: %d connections, %d flows sent in %d datagrams (to 2 peers), %d bytes: %.1f bytes per new connection\n",
			w, n, f, m, b, n ? b / n : 0 }'
}
cl_pin $P lb
measure "steady state"
on lb backend set "$KEY" "$(tb_backend_addr 1 4)" --drain >/dev/null
sleep 1
measure "after a drain (a third of the slots moved)"

echo "== join: lb3 started now"
t0=$(date +%s%3N)
TB_LB=lb3 tb_lbd_start $P
for ((t = 0; t < 100; t++)); do
	[[ $(on lb3 -j sync show | jq1 "str(d['joined']).lower()") == true ]] && break
	sleep 0.05
done
joined=$(($(date +%s%3N) - t0))
echo "lb3: $(peer_sum lb3 received_flows) flows received ($(peer_sum lb3 installed) installed, the others known from the other peer), joined $joined ms after its start began (lbd's own start included)"
cl_unpin $P
