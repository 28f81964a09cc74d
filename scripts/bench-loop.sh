#!/usr/bin/env bash
# How long lbd's event loop is ever held (not a test: nothing is asserted).
# One lbd with a million flows in its connection table (so every sweep
# pass has a million entries to read), 500 VIPs of 10 backends each whose
# 5000 health targets all come back at once and ramp through a 30 s slow
# start (every VIP's 65537-slot table changes every second), while lbctl
# clients misbehave: one sends half a request and stalls, one asks for a
# large reply and never reads it. lbd reports the longest pass of its loop
# (`loop` in lbctl -j show); the figures go to BENCHMARKS.md. BENCH_LOOP_VIPS,
# BENCH_LOOP_FLOWS and BENCH_LOOP_RAMP_S scale it down; DEBUG_KEEP=FILE keeps
# lbd's log (it names what held each pass over 100 ms).
set -euo pipefail
build=$(cd "${1:-build}" && pwd)
VIPS=${BENCH_LOOP_VIPS:-500}
FLOWS=${BENCH_LOOP_FLOWS:-1048576}
RAMP_S=${BENCH_LOOP_RAMP_S:-30}
# BENCH_LOOP_RT=N runs lbd at real-time priority N (SCHED_RR, as keepalived's vrrp_rt_priority does):
# then the scheduler no longer gives lbd's CPU to the echo server mid-pass, and a pass's wall time is its work.
RT=()
[[ -n ${BENCH_LOOP_RT:-} ]] && RT=(chrt -r "$BENCH_LOOP_RT")
P=xb-loop
DIR=/tmp/xlb-bench-loop.$$
root=$(dirname "$0")
# shellcheck source=testbed.sh
source "$root/testbed.sh"	# tb_pair_up, tb_bpffs_up/down
pids=()
cleanup() {
	set +e
	for p in "${pids[@]}"; do kill "$p" 2>/dev/null; done
	[[ -e $DIR/echo.pid ]] && kill "$(cat "$DIR/echo.pid")" 2>/dev/null
	[[ -n ${DEBUG_KEEP:-} && -e $DIR/lbd.log ]] && cp "$DIR/lbd.log" "$DEBUG_KEEP"
	tb_bench_down $P "$DIR"
	set -e
}
tb_bpffs_up
trap 'cleanup; tb_bpffs_down' EXIT
cleanup 2>/dev/null || true
mkdir -p "$DIR"

# lb <-> gen over one veth pair; the 10 backends are addresses of gen, where
# one UDP echo on port 80 (a check probes the VIP's port) answers every probe.
tb_pair_up $P
for ((i = 1; i <= 10; i++)); do ip -n $P-gen addr add "198.18.0.$((100 + i))/32" dev g0; done
GMAC=$(ip -n $P-gen link show g0 | awk '/link\/ether/ { print $2 }')
for ((i = 1; i <= 10; i++)); do
	ip -n $P-lb neigh add "198.18.0.$((100 + i))" lladdr "$GMAC" dev l0 nud permanent
done

echo_start() {
	# One socket an address, so that each answer comes from the address probed.
	ip netns exec $P-gen python3 -c '
import select, socket
socks = []
for i in range(1, 11):
    s = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
    s.bind(("198.18.0.%d" % (100 + i), 80))
    socks.append(s)
while True:
    for s in select.select(socks, [], [])[0]:
        data, peer = s.recvfrom(2048)
        s.sendto(data, peer)' &
	echo $! >"$DIR/echo.pid"
}
echo_stop() { kill "$(cat "$DIR/echo.pid")"; wait "$(cat "$DIR/echo.pid")" 2>/dev/null || true; }

{
	echo "conn-table-size $((FLOWS * 2))"
	echo "attach l0"
	for ((v = 0; v < VIPS; v++)); do
		echo "vip 198.18.$((1 + v / 250)).$((1 + v % 250)):80/tcp check udp:ping interval 1s timeout 400ms rise 1 fall 1 slow-start ${RAMP_S}s"
		for ((i = 1; i <= 10; i++)); do echo "  backend 198.18.0.$((100 + i))"; done
	done
} >"$DIR/lbd.conf"
echo_start
lbctl() { "$build/lbctl" -s "$DIR/lbd.sock" "$@"; }
# lbd_up CONF: lbd in the lb namespace on CONF, once it answers.
lbd_up() {
	nsenter --net=/run/netns/$P-lb ${RT[@]+"${RT[@]}"} "$build/lbd" --foreground --config "$1" --socket "$DIR/lbd.sock" \
		--pin-dir "/sys/fs/bpf/$P" --log-level info >>"$DIR/lbd.log" 2>&1 &
	echo $! >"$DIR/lbd.pid"
	for ((t = 0; t < 300; t++)); do
		lbctl vip list >/dev/null 2>&1 && break
		sleep 0.1
	done
}
lbd_up "$DIR/lbd.conf"
# From stats, not show: a show of 5000 backends is itself a long pass (measured once, at the end).
loop_field() { lbctl -j stats | python3 -c "import json,sys; print(json.load(sys.stdin)['loop']['$1'])"; }
# The recent longest pass: wall ms, of it lbd's CPU ms, kernel waits, preemptions, and the work that held it.
recent_pass() {
	lbctl -j stats | python3 -c "import json,sys; p = json.load(sys.stdin)['loop']['recent_longest']
print('%.2f ms (cpu %.2f ms, %d waits, %d preempted; %s)' % (p['us'] / 1e3, p['cpu_us'] / 1e3, p['waits'], p['preempted'], p['by']))"
}
table_size() { bpftool -j map show pinned "/sys/fs/bpf/$P/conn_map" | python3 -c 'import json,sys; print(json.load(sys.stdin)["max_entries"])'; }

echo "== lbd's event loop: $VIPS VIPs x 10 backends, $FLOWS flows, slow start ${RAMP_S}s${RT:+, lbd under ${RT[*]}}"
echo "machine: $(grep -m1 'model name' /proc/cpuinfo | cut -d: -f2- | sed 's/^ *//'), $(nproc) cores, kernel $(uname -r)"
echo "after start (the first sync, before the loop, is not a pass): longest pass $(($(loop_field longest_us) / 1000)) ms"

# A million remembered flows, written into the table: SYNs would stay in syn_map until their ACKs.
"$build/conn_fill" "/sys/fs/bpf/$P/conn_map" "$FLOWS" 198.18.1.1 80
entries=$(bpftool -j map dump pinned "/sys/fs/bpf/$P/conn_map" 2>/dev/null | python3 -c 'import json,sys; print(len(json.load(sys.stdin)))')
echo "connection table: $entries entries of $(table_size)"

# Every target fails (echo stopped), then all come back together: 5000 slow starts.
echo_stop
sleep 3
echo_start
sleep 2
# The misbehaving clients: half a request; a large reply never read.
python3 -c '
import socket, sys, time
s = socket.socket(socket.AF_UNIX); s.connect(sys.argv[1]); s.send(b"j\x1fsho"); time.sleep(60)' "$DIR/lbd.sock" &
pids+=($!)
python3 -c '
import socket, sys, time
s = socket.socket(socket.AF_UNIX); s.connect(sys.argv[1]); s.send(b"j\x1fshow\n"); time.sleep(60)' "$DIR/lbd.sock" &
pids+=($!)
over_before=$(loop_field passes_over_10ms) over_cpu_before=$(loop_field passes_over_10ms_cpu)
worst=0
for ((t = 0; t < RAMP_S; t += 5)); do
	sleep 5
	recent=$(loop_field recent_longest_us)
	((recent > worst)) && worst=$recent
	printf '  t=%2ds: longest pass in the last 5-10 s %s\n' $((t + 5)) "$(recent_pass)"
	if ((t == 0)); then
		echo "  targets in slow start at t=5s: $(lbctl show | grep -c ' slow-start ' || true)"
	fi
done
echo "during the ramp with a million flows and stuck clients: longest pass $(awk -v u="$worst" 'BEGIN { print u / 1000 }') ms," \
	"$(($(loop_field passes_over_10ms) - over_before)) passes over 10 ms," \
	"$(($(loop_field passes_over_10ms_cpu) - over_cpu_before)) of them over 10 ms of lbd's CPU"
grep -c 'control client dropped' "$DIR/lbd.log" | sed 's/^/control clients dropped: /'
sleep 10	# the recent window forgets the ramp
lbctl show >/dev/null
echo "one lbctl show of $((VIPS * 10)) backends: longest pass $(recent_pass)"

# Network changes with thousands of backends: every route event has each
# backend looked up again (a route and a neighbour request each). A second
# lbd, 400 VIPs of 10 backends of their own (4000 addresses, on-link,
# permanent neighbours), no checks; a route is added and removed every 200 ms.
NET_VIPS=${BENCH_LOOP_NET_VIPS:-400}
kill "$(cat "$DIR/lbd.pid")"
wait "$(cat "$DIR/lbd.pid")" 2>/dev/null || true
rm -f "$DIR/lbd.pid"
ip -n $P-lb route add 198.18.16.0/20 dev l0
{
	for ((b = 0; b < NET_VIPS * 10; b++)); do
		echo "neigh add 198.18.$((16 + b / 256)).$((b % 256)) lladdr $GMAC dev l0 nud permanent"
	done
} | ip -n $P-lb -batch -
{
	echo "attach l0"
	for ((v = 0; v < NET_VIPS; v++)); do
		echo "vip 198.18.$((1 + v / 250)).$((1 + v % 250)):80/tcp check none"
		for ((i = 0; i < 10; i++)); do
			b=$((v * 10 + i))
			echo "  backend 198.18.$((16 + b / 256)).$((b % 256))"
		done
	done
} >"$DIR/lbd-net.conf"
lbd_up "$DIR/lbd-net.conf"
sleep 6	# the recent window forgets the start
echo "== network changes: $NET_VIPS VIPs x 10 backends, $((NET_VIPS * 10)) backends, a route added or removed every 200 ms"
over_before=$(loop_field passes_over_10ms)
for ((k = 0; k < 25; k++)); do
	ip -n $P-lb route add 198.18.250.0/24 dev l0
	sleep 0.1
	ip -n $P-lb route del 198.18.250.0/24 dev l0
	sleep 0.1
done
# Read before the show below, which is a long reply of its own.
echo "during 50 route events: longest pass $(recent_pass), $(($(loop_field passes_over_10ms) - over_before)) passes over 10 ms"
echo "  backends up in the tables after them: $(lbctl -j show | python3 -c 'import json,sys
print(sum(b["state"] == "active" for v in json.load(sys.stdin)["vips"] for b in v["backends"]))')"

# Commands that change a large configuration: each is a sync of its own on
# the loop. The VIP index swap and the rings a delete drops each wait for
# an RCU grace period: lbd's map worker thread does them, off the loop; a
# new VIP's first ring is still put in ring_map on the loop (one wait).
sleep 11	# the recent window forgets the route events
for ((k = 0; k < 10; k++)); do
	args=()
	for ((i = 0; i < 10; i++)); do args+=(198.18.$((16 + i)).250); done
	lbctl vip add "198.18.200.$((1 + k)):80/tcp" --check none >/dev/null
	for b in "${args[@]}"; do lbctl backend add "198.18.200.$((1 + k)):80/tcp" "$b" >/dev/null; done
done
echo "== commands on $NET_VIPS VIPs: 10 vip add, each with 10 backend add: longest pass $(recent_pass)"
sleep 11
for ((k = 0; k < 10; k++)); do lbctl vip del "198.18.200.$((1 + k)):80/tcp" >/dev/null; done
echo "   10 vip del: longest pass $(recent_pass)"

# A reload that adds every VIP at once: from an empty configuration to the
# 400 VIPs and their 4000 backends (each new backend a route and a
# neighbour look-up, each VIP a table build and a ring), written a bounded
# piece a pass; the reply comes once all of it is in.
kill "$(cat "$DIR/lbd.pid")"
wait "$(cat "$DIR/lbd.pid")" 2>/dev/null || true
rm -rf "/sys/fs/bpf/$P"
echo "attach l0" >"$DIR/lbd-empty.conf"
lbd_up "$DIR/lbd-empty.conf"
sleep 11	# the recent window forgets the start
cp "$DIR/lbd-net.conf" "$DIR/lbd-empty.conf"
t0=$(date +%s%N)
lbctl config reload >/dev/null
took=$((($(date +%s%N) - t0) / 1000000))
echo "== a reload from no VIP to $NET_VIPS VIPs x 10 backends: answered in $took ms; longest pass $(recent_pass)"
